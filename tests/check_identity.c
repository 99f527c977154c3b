/* check_identity.c — the same command writes the same bytes as before the
 * restructuring of issue 13: checkpoints and logs of four training runs
 * (plain SGD; dropout, Adam with weight decay, a cosine schedule and
 * clipping; a tanh MLP with Nesterov, L1/L2, label smoothing, validation,
 * normalisation, value clipping and a per-epoch step schedule; GELU with
 * AdamW, one-cycle and early stopping), a resume of a checkpoint written by
 * the old version (old_v0.ckpt), and tg eval of it.
 *
 * The sha256 sums below are what tests/fixtures/identity/gen.sh printed
 * when run with the tg of commit 76d0d11; the test runs the same script
 * with this build's tg. A restructuring that changes one byte fails here;
 * a deliberate change of output must say so in its commit and regenerate
 * the table from the commit before it.
 *
 * One deliberate change (issue 14): the mlp became a preset of the layer
 * spec, so checkpoints name its parameters as torch's nn.Sequential does
 * ("model/1.weight" for "model/W0"). The .ckpt rows were regenerated then;
 * the logs and tg eval's output (the numbers) kept their old sums, and R
 * and E still read old_v0.ckpt, written under the old names. */
#define _POSIX_C_SOURCE 200809L
#include "tg_cli.h"

static const struct {
    const char *file, *sha256;
} expected[] = {
    {"A.ckpt", "ad1aefdb6d5b741ac3c3c409ed1e32b1f991b9013515712b8b9f3dffefb93591"},
    {"A.csv", "8362c26ae8a4e797e54c43cb909d1966d0f320a14f2bfb2a75e65de53654778c"},
    {"B.ckpt", "48edc7a124dcb691df28e1c96ff1e39f4087cec174f0c58dd44e8fce5e8a1bec"},
    {"B.csv", "a142ec81e2c5c6c1a2731d56b0fdaea95b0b3bfdeb71f7d5dd44ca0d045c9354"},
    {"C.ckpt", "a3a278dc4713228fdd5c11bf497ac006a3fd69cb05373a868f2096c0d73a90dd"},
    {"C.csv", "1c248afff257d5ef0ee28b08c506d073bae724cddd878ddca8d455db66e8c059"},
    {"D.ckpt", "f0a4da93adcb7268c79568b8dae4c4a286c8349825f495e5bb1735e2cb664672"},
    {"D.csv", "309f5c6a96ee29cc768e87a483e7ef3878523136d8d83576d1992a9fc229c2b3"},
    {"R.ckpt", "5cb6eb6617ca60278f8d5ea36c2a5863be8e83e52370533149916ee7889c6fd4"},
    {"R.csv", "9d657f5b05f533f0119eb42f6a40309feee7457ae1c5a27ca79c15c68e0bfd27"},
    {"E.out", "26cb486d82e8edd2698e5513714201f199611758f7106a24454e4309082471c8"},
};

START_TEST(test_identity_same_command_same_bytes)
{
    char args[512];
    snprintf(args, sizeof args, "%s %s", getenv("TG_BIN") ? getenv("TG_BIN") : "build/tg", dir);
    ck_assert_msg(run_program("tests/fixtures/identity/gen.sh", args) == 0, "gen.sh failed:\n%s", tg_output);
    size_t n = sizeof expected / sizeof expected[0];
    for (size_t i = 0; i < n; i++) {
        char row[160];
        snprintf(row, sizeof row, "{\"%s\", \"%s\"}", expected[i].file, expected[i].sha256);
        ck_assert_msg(strstr(tg_output, row), "%s differs from what the old version wrote (%s); this run:\n%s",
                      expected[i].file, in_dir(expected[i].file), tg_output);
    }
}
END_TEST

static Suite *identity_suite(void)
{
    Suite *s = suite_create("identity");
    TCase *tc = tcase_create("old_bytes");
    tcase_set_timeout(tc, 600);
    tcase_add_unchecked_fixture(tc, make_root, remove_root);
    tcase_add_checked_fixture(tc, make_dir, remove_dir);
    tcase_add_test(tc, test_identity_same_command_same_bytes);
    suite_add_tcase(s, tc);
    return s;
}

TG_TEST_MAIN(identity_suite)
