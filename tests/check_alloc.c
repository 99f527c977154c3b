/* check_alloc.c — allocations: a warmed-up training loop makes none, and
 * when any one of them fails — every k-th in turn, in a training step, a
 * checkpoint's save and load, loading a data set, and in the tg command's
 * train, eval and predict — the library returns an error with a message
 * (the command exits 1 saying so), nothing crashes, and under the
 * sanitizers (make check SANITIZE=1) nothing leaks.
 *
 * Linked with failalloc.h's wrappers (see the Makefile). Check's static
 * library is wrapped too (its assertions allocate), so counted or failing
 * code asserts nothing until it is done. */
#define _POSIX_C_SOURCE 200809L
#include <stb_image_write.h>

#include "tg_cli.h"
#include "tg_test.h"
#include "tg_tinydata.h"

#include "failalloc.h"

enum { BATCH = 64, IN = 784, CLASSES = 10, STEPS = 20 };

/* The lecture's MLP trained as tg train trains it, on random inputs: the
 * loss, backward, the optimizer with weight decay, gradient clipping and
 * a schedule; steps_counted steps after warm_up ones. Returns the number
 * of allocations in the counted steps. */
static long allocations_in_steps(tg_optim_kind kind, int threads, float dropout)
{
    tg_set_threads(threads);
    tg_rng rng;
    tg_rng_seed(&rng, 5);
    tg_mlp *m = tg_mlp_new(IN, (int[]){512, 512}, 2, CLASSES, TG_ACT_RELU, dropout, &rng);
    ck_assert_ptr_nonnull(m);
    tg_tensor *params[6];
    int n_params = tg_mlp_params(m, params, 6);
    tg_optim_opts o = tg_optim_defaults(kind);
    o.weight_decay = 0.01f;
    tg_optim *opt = tg_optim_new(kind, params, n_params, &o);
    ck_assert_ptr_nonnull(opt);
    tg_sched_opts so = tg_sched_defaults(TG_SCHED_COSINE);
    so.T_max = 100;
    tg_sched *sched = tg_sched_new(opt, TG_SCHED_COSINE, &so);
    ck_assert_ptr_nonnull(sched);
    tg_graph *g = tg_graph_new();
    static float x[BATCH * IN];
    int y[BATCH];
    long before = 0;
    bool ok = true;
    for (int step = 0; step < 3 + STEPS; step++) {
        if (step == 3) before = failalloc_allocations();
        for (int i = 0; i < BATCH * IN; i++) x[i] = tg_rng_normal(&rng);
        for (int i = 0; i < BATCH; i++) y[i] = (int)(tg_rng_uniform(&rng) * CLASSES);
        tg_tensor *logits = tg_mlp_forward(g, m, tg_from_blob(g, x, 2, (int[]){BATCH, IN}), true, &rng);
        tg_tensor *loss = tg_cross_entropy(g, logits, y, NULL);
        tg_optim_zero_grad(opt);
        ok = ok && tg_backward(loss) == TG_OK;
        ok = ok && tg_clip_grad_norm(params, n_params, 1.0) >= 0;
        ok = ok && tg_optim_step(opt) == TG_OK && tg_sched_step(sched) == TG_OK;
        tg_graph_reset(g);
    }
    long counted = failalloc_allocations() - before;
    ck_assert_msg(ok, "a training step failed: %s", tg_last_error());
    tg_graph_free(g);
    tg_sched_free(sched);
    tg_optim_free(opt);
    tg_mlp_free(m);
    return counted;
}

START_TEST(test_alloc_the_counter_counts)
{
    /* the wrap is in place: building a model allocates */
    long before = failalloc_allocations();
    tg_rng rng;
    tg_rng_seed(&rng, 1);
    tg_mlp *m = tg_mlp_new(4, (int[]){3}, 1, 2, TG_ACT_RELU, 0.0f, &rng);
    ck_assert_int_gt(failalloc_allocations() - before, 0);
    tg_mlp_free(m);
}
END_TEST

START_TEST(test_alloc_none_in_a_warm_training_step)
{
    static const tg_optim_kind kinds[] = {TG_OPTIM_ADAM, TG_OPTIM_SGD, TG_OPTIM_ADAMW};
    for (int threads = 1; threads <= 2; threads++)
        for (int k = 0; k < 3; k++) {
            long n = allocations_in_steps(kinds[k], threads, k == 2 ? 0.2f : 0.0f);
            ck_assert_msg(n == 0, "%ld allocations in %d warm steps (optimizer %d, %d threads)", n, STEPS, k, threads);
        }
}
END_TEST

/* A network of modules (convolution, batch norm, pooling, dropout2d,
 * layer norm, a residual block, dropout) trained with module calls:
 * zero_grad and clipping over the module, Adam. Allocations in the counted
 * steps. */
static long module_allocations_in_steps(int threads)
{
    enum { N = 16 };
    tg_set_threads(threads);
    tg_rng rng;
    tg_rng_seed(&rng, 6);
    tg_module *net = tg_model_parse("conv2d(8,3,padding=1) batchnorm2d relu maxpool2d(2) dropout2d(0.1) "
                                    "conv2d(8,1) avgpool2d(2) flatten linear(32) layernorm gelu "
                                    "residual(linear(32) gelu) dropout(0.1) linear(10)",
                                    (tg_sample_shape){1, 12, 12}, &rng);
    ck_assert_msg(net != NULL, "%s", tg_last_error());
    tg_module_set_rng(net, &rng);
    tg_tensor *params[32];
    tg_optim *opt = tg_optim_new(TG_OPTIM_ADAM, params, tg_module_parameters(net, params, 32), NULL);
    ck_assert_ptr_nonnull(opt);
    tg_graph *g = tg_graph_new();
    static float x[N * 144];
    int y[N];
    long before = 0;
    bool ok = true;
    for (int step = 0; step < 3 + STEPS; step++) {
        if (step == 3) before = failalloc_allocations();
        for (int i = 0; i < N * 144; i++) x[i] = tg_rng_normal(&rng);
        for (int i = 0; i < N; i++) y[i] = (int)(tg_rng_uniform(&rng) * 10);
        tg_tensor *logits = tg_module_forward(net, g, tg_from_blob(g, x, TG_SHAPE(N, 1, 12, 12)));
        tg_tensor *loss = tg_cross_entropy(g, logits, y, NULL);
        tg_module_zero_grad(net);
        ok = ok && tg_backward(loss) == TG_OK;
        ok = ok && tg_module_clip_grad_norm(net, 1.0) >= 0;
        ok = ok && tg_optim_step(opt) == TG_OK;
        tg_graph_reset(g);
    }
    long counted = failalloc_allocations() - before;
    ck_assert_msg(ok, "a training step failed: %s", tg_last_error());
    tg_graph_free(g);
    tg_optim_free(opt);
    tg_module_free(net);
    return counted;
}

START_TEST(test_alloc_none_in_a_warm_module_training_step)
{
    for (int threads = 1; threads <= 2; threads++) {
        long n = module_allocations_in_steps(threads);
        ck_assert_msg(n == 0, "%ld allocations in %d warm steps of a module network (%d threads)", n, STEPS, threads);
    }
}
END_TEST

/* ---- every allocation failing in turn ---- */

/* One piece of work from scratch to the end, freeing all it made; true on
 * success, with *digest summing up what it computed. */
typedef bool scenario(double *digest);

/* Runs work once to count its n allocations, then n times with the k-th
 * failing (k = 1..n). Each run must either fail with a message naming the
 * memory it lacked, or succeed with the same digest (tg does without some
 * allocations: merging a graph's chunks). Asserts only between runs. */
static void sweep(const char *name, scenario *work)
{
    double want = 0;
    tg_clear_error();
    bool ok = work(&want); /* a first run grows what tg keeps for later (packing buffers) */
    long before = failalloc_allocations();
    ok = ok && work(&want);
    long n = failalloc_allocations() - before;
    ck_assert_msg(ok, "%s fails with every allocation granted: %s", name, tg_last_error());
    ck_assert_int_gt(n, 0);
    long refused = 0;
    for (long k = 1; k <= n; k++) {
        tg_clear_error();
        double got = 0;
        failalloc_after(k);
        ok = work(&got);
        bool reached = failalloc_reached();
        failalloc_after(0);
        ck_assert_msg(reached, "%s: allocation %ld of %ld never came", name, k, n);
        if (ok) {
            ck_assert_msg(got == want, "%s: allocation %ld of %ld failed, and the result changed", name, k, n);
        } else {
            refused++;
            ck_assert_msg(strstr(tg_last_error(), "memory"), "%s: allocation %ld of %ld failed: message \"%s\"",
                          name, k, n, tg_last_error());
        }
    }
    ck_assert_int_gt(refused, 0);
}

static double params_sum(tg_tensor *const *params, int n)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        for (size_t j = 0; j < params[i]->size; j++) sum += params[i]->data[j];
    return sum;
}

/* Two training steps of a small MLP with dropout: loss, backward,
 * clipping, Adam with weight decay, a cosine schedule. */
static bool two_training_steps(double *digest)
{
    enum { N = 8, D = 20, OUT = 5 };
    tg_rng rng;
    tg_rng_seed(&rng, 3);
    tg_mlp *m = tg_mlp_new(D, (int[]){16, 16}, 2, OUT, TG_ACT_RELU, 0.1f, &rng);
    tg_tensor *params[6];
    int n_params = m ? tg_mlp_params(m, params, 6) : 0;
    tg_optim_opts o = tg_optim_defaults(TG_OPTIM_ADAM);
    o.weight_decay = 0.01f;
    tg_optim *opt = m ? tg_optim_new(TG_OPTIM_ADAM, params, n_params, &o) : NULL;
    tg_sched_opts so = tg_sched_defaults(TG_SCHED_COSINE);
    so.T_max = 10;
    tg_sched *sched = opt ? tg_sched_new(opt, TG_SCHED_COSINE, &so) : NULL;
    tg_graph *g = tg_graph_new();
    float x[N * D];
    int y[N];
    bool ok = sched && g;
    double loss_sum = 0;
    for (int step = 0; step < 2 && ok; step++) {
        for (int i = 0; i < N * D; i++) x[i] = tg_rng_normal(&rng);
        for (int i = 0; i < N; i++) y[i] = (int)tg_rng_below(&rng, OUT);
        tg_tensor *logits = tg_mlp_forward(g, m, tg_from_data(g, x, 2, (int[]){N, D}), true, &rng);
        tg_tensor *loss = tg_cross_entropy(g, logits, y, NULL);
        tg_optim_zero_grad(opt);
        ok = loss && tg_backward(loss) == TG_OK &&
             tg_clip_grad_norm(params, n_params, 1.0) >= 0 && tg_optim_step(opt) == TG_OK &&
             tg_sched_step(sched) == TG_OK;
        if (ok) loss_sum += loss->data[0];
        tg_graph_reset(g);
    }
    if (ok) *digest = loss_sum + params_sum(params, n_params);
    tg_graph_free(g);
    tg_sched_free(sched);
    tg_optim_free(opt);
    tg_mlp_free(m);
    return ok;
}

/* A model and its optimizer's state written to a checkpoint, then read
 * into a second model and optimizer. */
static bool checkpoint_save_and_load(double *digest)
{
    static const char *names[] = {"w1", "b1", "w2", "b2"};
    tg_rng rng;
    tg_rng_seed(&rng, 4);
    tg_mlp *a = tg_mlp_new(6, (int[]){5}, 1, 3, TG_ACT_TANH, 0.0f, &rng);
    tg_mlp *b = tg_mlp_new(6, (int[]){5}, 1, 3, TG_ACT_TANH, 0.0f, &rng);
    tg_tensor *pa[4], *pb[4];
    bool ok = a && b && tg_mlp_params(a, pa, 4) == 4 && tg_mlp_params(b, pb, 4) == 4;
    tg_optim_opts o = tg_optim_defaults(TG_OPTIM_ADAM);
    tg_optim *oa = ok ? tg_optim_new(TG_OPTIM_ADAM, pa, 4, &o) : NULL;
    tg_optim *ob = ok ? tg_optim_new(TG_OPTIM_ADAM, pb, 4, &o) : NULL;
    ok = oa && ob;
    for (int i = 0; ok && i < 4; i++)
        for (size_t j = 0; j < pa[i]->size; j++) pa[i]->grad[j] = 0.01f * (float)j;
    ok = ok && tg_optim_step(oa) == TG_OK;
    tg_checkpoint *out = ok ? tg_checkpoint_new() : NULL, *in = NULL;
    tg_buf state = {0};
    ok = out && tg_optim_save(oa, &state) == TG_OK && tg_checkpoint_add_blob(out, "optim", state.data, state.len) == TG_OK;
    for (int i = 0; ok && i < 4; i++) ok = tg_checkpoint_add_tensor(out, names[i], pa[i]) == TG_OK;
    ok = ok && tg_checkpoint_write(out, in_dir("model.ckpt")) == TG_OK && tg_checkpoint_read(in_dir("model.ckpt"), &in) == TG_OK;
    for (int i = 0; ok && i < 4; i++) ok = tg_checkpoint_get_tensor(in, names[i], pb[i]) == TG_OK;
    const void *blob = NULL;
    size_t len = 0;
    ok = ok && tg_checkpoint_get_blob(in, "optim", &blob, &len) == TG_OK;
    tg_buf loaded = {.data = (unsigned char *)blob, .len = len}; /* read from, never freed */
    ok = ok && tg_optim_load(ob, &loaded) == TG_OK;
    if (ok) *digest = params_sum(pb, 4) + (double)len;
    tg_checkpoint_free(in);
    tg_checkpoint_free(out);
    tg_buf_free(&state);
    tg_optim_free(oa);
    tg_optim_free(ob);
    tg_mlp_free(a);
    tg_mlp_free(b);
    return ok;
}
static char data_dir[512];

/* The training and the test set of a tiny data set, the first gzipped. */
static bool load_datasets(double *digest)
{
    tg_dataset train, test;
    bool have_train = tg_dataset_load(data_dir, true, &train) == TG_OK;
    bool ok = have_train && tg_dataset_load(data_dir, false, &test) == TG_OK;
    if (ok) {
        double sum = 0;
        for (size_t i = 0; i < (size_t)train.n * 784; i++) sum += train.images[i] + test.images[i];
        for (int i = 0; i < train.n; i++) sum += train.labels[i] + 2 * test.labels[i];
        *digest = sum;
        tg_dataset_free(&test);
    }
    if (have_train) tg_dataset_free(&train);
    return ok;
}

START_TEST(test_alloc_failure_in_a_training_step) { sweep("two training steps", two_training_steps); }
END_TEST

START_TEST(test_alloc_failure_in_checkpoint_save_and_load)
{
    sweep("checkpoint save and load", checkpoint_save_and_load);
}
END_TEST

START_TEST(test_alloc_failure_in_dataset_loading)
{
    snprintf(data_dir, sizeof data_dir, "%s", dir);
    write_tiny_dataset(data_dir, 20, true);
    sweep("data set loading", load_datasets);
}
END_TEST

/* ---- the tg command, every allocation failing in turn ---- */

/* After a run of tg train whose k-th allocation failed: a run that
 * succeeded saved the same checkpoint as one that never failed; one that
 * failed left either no checkpoint or a whole one (an epoch's). */
static void check_train(long k, int status)
{
    if (status == 0) {
        ck_assert_msg(same_file(in_dir("k.ckpt"), in_dir("ref.ckpt")), "allocation %ld: another checkpoint", k);
    } else if (exists(in_dir("k.ckpt"))) {
        tg_checkpoint *ck;
        ck_assert_msg(tg_checkpoint_read(in_dir("k.ckpt"), &ck) == TG_OK, "allocation %ld: %s", k, tg_last_error());
        tg_checkpoint_free(ck);
    }
    ck_assert(!exists(in_dir("k.ckpt.tmp")));
    unlink(in_dir("k.ckpt"));
}

/* Runs `tg_failalloc ARGS` with TG_FAIL_ALLOC = 1, 2, ... until a run makes
 * fewer allocations than k. Each run exits 0 (tg did without) or 1 with a
 * message about memory: never a crash, and never a leak or any other
 * sanitizer report (make check SANITIZE=1). Returns the number of runs. */
static long sweep_command(const char *args, void (*check)(long k, int status))
{
    const char *bin = getenv("TG_FAILALLOC_BIN");
    ck_assert_msg(bin != NULL, "TG_FAILALLOC_BIN is not set (tests/run.sh sets it)");
    long k;
    for (k = 1; k < 20000; k++) {
        char with_failure[1024];
        snprintf(with_failure, sizeof with_failure, "TG_FAIL_ALLOC=%ld %s", k, bin);
        int status = run_program(with_failure, args);
        bool never_came = strstr(tg_output, "never came") != NULL;
        /* the report's head: Check's messages are short */
        ck_assert_msg(!strstr(tg_output, "Sanitizer"), "tg %s: allocation %ld failed:\n%.1500s", args, k, tg_output);
        ck_assert_msg(status == 0 || (status == 1 && strstr(tg_output, "memory") && !never_came),
                      "tg %s: allocation %ld failed: exit %d:\n%.1500s", args, k, status, tg_output);
        if (check) check(k, status);
        if (never_came) break;
    }
    ck_assert_int_gt(k, 10);
    return k;
}

START_TEST(test_alloc_failure_in_the_command)
{
    write_tiny_dataset(dir, 40, true);
    char train[1024], args[2048];
    snprintf(train, sizeof train, "train --data-dir %s --hidden 8 --epochs 2 --batch-size 16 --optimizer adam "
             "--schedule cosine --t-max 4 --log %s --metrics %s --save", dir, in_dir("k.csv"), in_dir("k.json"));
    snprintf(args, sizeof args, "%s %s", train, in_dir("ref.ckpt"));
    ck_assert_msg(run_tg(args) == 0, "%s", tg_output);
    snprintf(args, sizeof args, "%s %s", train, in_dir("k.ckpt"));
    sweep_command(args, check_train);
    snprintf(args, sizeof args, "eval %s --data-dir %s", in_dir("ref.ckpt"), dir);
    sweep_command(args, NULL);
    unsigned char px[28 * 28];
    for (int i = 0; i < 28 * 28; i++) px[i] = (unsigned char)(i % 28 > 8 && i % 28 < 20 ? 220 : 10);
    ck_assert(stbi_write_png(in_dir("shirt.png"), 28, 28, 1, px, 28));
    snprintf(args, sizeof args, "predict %s %s", in_dir("ref.ckpt"), in_dir("shirt.png"));
    sweep_command(args, NULL);
}
END_TEST

static Suite *alloc_suite(void)
{
    Suite *s = suite_create("alloc");
    TCase *tc = tcase_create("training loop");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_alloc_the_counter_counts);
    tcase_add_test(tc, test_alloc_none_in_a_warm_training_step);
    tcase_add_test(tc, test_alloc_none_in_a_warm_module_training_step);
    suite_add_tcase(s, tc);
    tc = tcase_create("failures");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, make_root, remove_root);
    tcase_add_checked_fixture(tc, make_dir, remove_dir);
    tcase_add_test(tc, test_alloc_failure_in_a_training_step);
    tcase_add_test(tc, test_alloc_failure_in_checkpoint_save_and_load);
    tcase_add_test(tc, test_alloc_failure_in_dataset_loading);
    tcase_add_test(tc, test_alloc_failure_in_the_command);
    suite_add_tcase(s, tc);
    return s;
}

TG_TEST_MAIN(alloc_suite)
