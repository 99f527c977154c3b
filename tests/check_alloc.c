/* check_alloc.c — a warmed-up training loop allocates nothing. This test is
 * linked with -Wl,--wrap for malloc, calloc, realloc and aligned_alloc (see
 * the Makefile), so every allocation libtg makes passes through the
 * counters below; glibc's own internal allocations do not, and need not.
 * Check's static library is wrapped too (its assertions allocate), so the
 * counted loop asserts nothing until it is done. */
#include "tg_test.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t align, size_t n);

static long allocations;

void *__wrap_malloc(size_t n)
{
    __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
    return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t size)
{
    __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
    return __real_calloc(n, size);
}
void *__wrap_realloc(void *p, size_t n)
{
    __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
    return __real_realloc(p, n);
}
void *__wrap_aligned_alloc(size_t align, size_t n)
{
    __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
    return __real_aligned_alloc(align, n);
}

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
        if (step == 3) before = __atomic_load_n(&allocations, __ATOMIC_RELAXED);
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
    long counted = __atomic_load_n(&allocations, __ATOMIC_RELAXED) - before;
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
    long before = allocations;
    tg_rng rng;
    tg_rng_seed(&rng, 1);
    tg_mlp *m = tg_mlp_new(4, (int[]){3}, 1, 2, TG_ACT_RELU, 0.0f, &rng);
    ck_assert_int_gt(allocations - before, 0);
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

static Suite *alloc_suite(void)
{
    Suite *s = suite_create("alloc");
    TCase *tc = tcase_create("training loop");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_alloc_the_counter_counts);
    tcase_add_test(tc, test_alloc_none_in_a_warm_training_step);
    suite_add_tcase(s, tc);
    return s;
}

TG_TEST_MAIN(alloc_suite)
