/* check_threads.c — tg from several threads of a program: two models
 * trained at the same time, in two threads, end with the same bits as when
 * trained one after the other (the kernels' thread pool is shared, one job
 * at a time), and each thread has its own tg_last_error(). */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>

#include "tg_test.h"

enum { BATCH = 32, IN = 784, HIDDEN = 64, CLASSES = 10, STEPS = 25, N_PARAMS = 4 };

typedef struct run {
    uint64_t seed;
    float *params[N_PARAMS]; /* copies of the trained parameters */
    size_t sizes[N_PARAMS];
    float last_loss;
    bool ok;
} run;

/* STEPS steps of Adam on random data drawn from seed: large enough that
 * the products are split over the pool's threads. */
static void *train(void *arg)
{
    run *r = arg;
    tg_rng rng;
    tg_rng_seed(&rng, r->seed);
    tg_mlp *m = tg_mlp_new(IN, (int[]){HIDDEN}, 1, CLASSES, TG_ACT_RELU, 0.1f, &rng);
    tg_tensor *params[N_PARAMS];
    int n = m ? tg_mlp_params(m, params, N_PARAMS) : 0;
    tg_optim_opts o = tg_optim_defaults(TG_OPTIM_ADAM);
    tg_optim *opt = n == N_PARAMS ? tg_optim_new(TG_OPTIM_ADAM, params, n, &o) : NULL;
    tg_graph *g = tg_graph_new();
    static _Thread_local float x[BATCH * IN];
    int y[BATCH];
    r->ok = opt && g;
    for (int step = 0; step < STEPS && r->ok; step++) {
        for (int i = 0; i < BATCH * IN; i++) x[i] = tg_rng_uniform(&rng);
        for (int i = 0; i < BATCH; i++) y[i] = (int)tg_rng_below(&rng, CLASSES);
        tg_tensor *loss = tg_cross_entropy(g, tg_mlp_forward(g, m, tg_from_blob(g, x, 2, (int[]){BATCH, IN}), true, &rng),
                                           y, NULL);
        tg_optim_zero_grad(opt);
        r->ok = loss && tg_backward(loss) == TG_OK && tg_optim_step(opt) == TG_OK;
        if (r->ok) r->last_loss = loss->data[0];
        tg_graph_reset(g);
    }
    for (int i = 0; r->ok && i < N_PARAMS; i++) {
        r->sizes[i] = params[i]->size;
        r->params[i] = malloc(params[i]->size * sizeof(float));
        r->ok = r->params[i] != NULL;
        if (r->ok) memcpy(r->params[i], params[i]->data, params[i]->size * sizeof(float));
    }
    tg_graph_free(g);
    tg_optim_free(opt);
    tg_mlp_free(m);
    return NULL;
}

static void assert_same(const run *a, const run *b)
{
    ck_assert(a->ok && b->ok);
    ck_assert_mem_eq(&a->last_loss, &b->last_loss, sizeof(float));
    for (int i = 0; i < N_PARAMS; i++) {
        ck_assert_uint_eq(a->sizes[i], b->sizes[i]);
        ck_assert_msg(!memcmp(a->params[i], b->params[i], a->sizes[i] * sizeof(float)), "parameter %d differs", i);
    }
}

static void free_run(run *r)
{
    for (int i = 0; i < N_PARAMS; i++) free(r->params[i]);
}

START_TEST(test_threads_two_models_at_once_same_bits)
{
    for (int threads = 1; threads <= 2; threads++) {
        tg_set_threads(threads);
        run alone[2] = {{.seed = 11}, {.seed = 12}}, together[2] = {{.seed = 11}, {.seed = 12}};
        train(&alone[0]);
        train(&alone[1]);
        pthread_t t[2];
        for (int i = 0; i < 2; i++) ck_assert_int_eq(pthread_create(&t[i], NULL, train, &together[i]), 0);
        for (int i = 0; i < 2; i++) ck_assert_int_eq(pthread_join(t[i], NULL), 0);
        for (int i = 0; i < 2; i++) {
            assert_same(&alone[i], &together[i]);
            free_run(&alone[i]), free_run(&together[i]);
        }
    }
}
END_TEST

/* ---- tg_last_error is per thread ---- */

static pthread_barrier_t other_failed, checked;

static void *fail_then_wait(void *arg)
{
    tg_graph *g = tg_graph_new();
    tg_tensor *a = tg_zeros(g, 2, (int[]){2, 3}), *b = tg_zeros(g, 2, (int[]){2, 3});
    bool refused = tg_matmul(g, a, b) == NULL;
    pthread_barrier_wait(&other_failed);  /* the other thread clears and succeeds now */
    pthread_barrier_wait(&checked);
    *(bool *)arg = refused && strstr(tg_last_error(), "tg_matmul: (2,3) @ (2,3)") != NULL;
    tg_graph_free(g);
    return NULL;
}

START_TEST(test_threads_last_error_is_per_thread)
{
    ck_assert_int_eq(pthread_barrier_init(&other_failed, NULL, 2), 0);
    ck_assert_int_eq(pthread_barrier_init(&checked, NULL, 2), 0);
    tg_set_error("this thread's own message");
    bool other_kept_its_message = false;
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, fail_then_wait, &other_kept_its_message), 0);
    pthread_barrier_wait(&other_failed);
    ck_assert_str_eq(tg_last_error(), "this thread's own message"); /* not the other's */
    tg_clear_error();
    tg_graph *g = tg_graph_new();
    ck_assert_ptr_nonnull(tg_add(g, tg_zeros(g, 1, (int[]){3}), tg_ones(g, 1, (int[]){3})));
    ck_assert_str_eq(tg_last_error(), "");
    pthread_barrier_wait(&checked); /* the other still has its own */
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert(other_kept_its_message);
    tg_graph_free(g);
    pthread_barrier_destroy(&other_failed);
    pthread_barrier_destroy(&checked);
}
END_TEST

static Suite *threads_suite(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_threads_two_models_at_once_same_bits);
    tcase_add_test(tc, test_threads_last_error_is_per_thread);
    suite_add_tcase(s, tc);
    return s;
}

TG_TEST_MAIN(threads_suite)
