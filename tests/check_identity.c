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
 * the table from the commit before it. */
#define _POSIX_C_SOURCE 200809L
#include "tg_cli.h"

static const struct {
    const char *file, *sha256;
} expected[] = {
    {"A.ckpt", "4e3970f0a2d70a207dfc9ef1d9f78e0c421fa2d56c1999fe96851a98b292d454"},
    {"A.csv", "8362c26ae8a4e797e54c43cb909d1966d0f320a14f2bfb2a75e65de53654778c"},
    {"B.ckpt", "82cd177882f45e1e907d79f80548d811468ec46f0db8e7ff52926683b830c194"},
    {"B.csv", "a142ec81e2c5c6c1a2731d56b0fdaea95b0b3bfdeb71f7d5dd44ca0d045c9354"},
    {"C.ckpt", "7f1b510ac7eafd639877ca9417ea4d2f426cedee6083f71d51cc1be780d33c83"},
    {"C.csv", "1c248afff257d5ef0ee28b08c506d073bae724cddd878ddca8d455db66e8c059"},
    {"D.ckpt", "fe37675aed4a8e773d538b08940f7c64c40d3abab797ded158637417861c2172"},
    {"D.csv", "309f5c6a96ee29cc768e87a483e7ef3878523136d8d83576d1992a9fc229c2b3"},
    {"R.ckpt", "7aca7b33834c7e848e80d0ef2ebf887160b0061ca24552a3b7fbdcaf6ccdf78d"},
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
