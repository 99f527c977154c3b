/* check_tensor.c — tensors (src/tensor/, graph/create.c) and initialisers (src/tensor/init.c)
 * through the public API: creation and its failures, ownership, the seeded
 * generator and its statistics, the small helpers, and torch.nn.init's bounds.
 *
 * Statistical checks use a fixed seed, so they are deterministic; their
 * tolerances are still derived from the sampling distribution (5 standard
 * errors, a chance of about 6e-7 per check for a correct generator under the
 * normal approximation), so another seed would almost surely pass too, and
 * a wrong mean, variance or range is caught. */
#include "tg_test.h"

#include <stdint.h>

/* Tolerances for the statistical checks, in standard errors. */
#define N_SIGMA 5.0
/* Samples per statistical check. */
#define N_SAMPLES 100000

/* One float rounding: 2^-24 relative (round to nearest). */
#define FLT_U 0x1.0p-24

/* tg_last_error() is set and names fn. */
static void assert_error_names(const char *fn)
{
    const char *msg = tg_last_error();
    ck_assert_msg(msg[0] != '\0', "%s failed without a message", fn);
    ck_assert_msg(strstr(msg, fn) != NULL, "message \"%s\" does not name %s", msg, fn);
}

/* Sample mean and (biased) variance of n floats, in double. */
static void moments(const float *x, size_t n, double *mean, double *var)
{
    double s = 0.0, ss = 0.0;
    for (size_t i = 0; i < n; i++) s += x[i];
    *mean = s / (double)n;
    for (size_t i = 0; i < n; i++) ss += (x[i] - *mean) * (x[i] - *mean);
    *var = ss / (double)n;
}

/* The sample mean of n draws from a distribution with variance var has
 * standard error sqrt(var / n); the sample variance has standard error
 * sqrt((mu4 - var^2) / n), mu4 the fourth central moment. Both within
 * N_SIGMA of the truth. */
static void assert_moments(const float *x, size_t n, double mu, double var, double mu4)
{
    double m, v;
    moments(x, n, &m, &v);
    double se_mean = sqrt(var / (double)n), se_var = sqrt((mu4 - var * var) / (double)n);
    ck_assert_msg(fabs(m - mu) <= N_SIGMA * se_mean, "mean %.6g, expected %.6g +- %.3g", m, mu,
                  N_SIGMA * se_mean);
    ck_assert_msg(fabs(v - var) <= N_SIGMA * se_var, "variance %.6g, expected %.6g +- %.3g", v, var,
                  N_SIGMA * se_var);
}

/* U(lo, hi): variance (hi-lo)^2/12, fourth central moment (hi-lo)^4/80. */
static void assert_uniform_moments(const float *x, size_t n, double lo, double hi)
{
    double w = hi - lo;
    assert_moments(x, n, (lo + hi) / 2, w * w / 12, w * w * w * w / 80);
}

/* N(mu, sd^2): fourth central moment 3 sd^4. */
static void assert_normal_moments(const float *x, size_t n, double mu, double sd)
{
    assert_moments(x, n, mu, sd * sd, 3 * sd * sd * sd * sd);
}

/* Index of the first of n values outside [lo, hi] (or [lo, hi) when
 * open_hi), or -1. One assertion per array, not per element: a passing Check
 * assertion costs a message to the parent process. */
static long first_outside(const float *x, size_t n, float lo, float hi, bool open_hi)
{
    for (size_t i = 0; i < n; i++)
        if (!(x[i] >= lo && (open_hi ? x[i] < hi : x[i] <= hi))) return (long)i;
    return -1;
}

#define ck_assert_all_within(x, n, lo, hi, open_hi)                                                \
    do {                                                                                           \
        long at_ = first_outside((x), (n), (lo), (hi), (open_hi));                                 \
        ck_assert_msg(at_ < 0, "%s[%ld] = %.9g outside [%g, %g%c", #x, at_,                        \
                      at_ < 0 ? 0.0 : (double)(x)[at_], (double)(lo), (double)(hi),                \
                      (open_hi) ? ')' : ']');                                                      \
    } while (0)

static float max_abs(const tg_tensor *t)
{
    float m = 0.0f;
    for (size_t i = 0; i < t->size; i++) m = fmaxf(m, fabsf(t->data[i]));
    return m;
}

/* ======================================================================
 * Creation
 * ====================================================================== */

START_TEST(test_tensor_zeros_ones_full)
{
    tg_tensor *z = tg_zeros(NULL, 2, (int[]){2, 3});
    tg_tensor *o = tg_ones(NULL, 3, (int[]){4, 1, 2});
    tg_tensor *f = tg_full(NULL, 4, (int[]){2, 1, 3, 2}, -2.5f);
    ck_assert_shape(z, 2, 3);
    ck_assert_shape(o, 4, 1, 2);
    ck_assert_shape(f, 2, 1, 3, 2);
    ck_assert_uint_eq(z->size, 6);
    ck_assert_uint_eq(o->size, 8);
    ck_assert_uint_eq(f->size, 12);
    /* unused dimensions are 1 */
    ck_assert_int_eq(z->shape[2], 1);
    ck_assert_int_eq(z->shape[3], 1);
    for (size_t i = 0; i < z->size; i++) ck_assert_float_eq(z->data[i], 0.0f);
    for (size_t i = 0; i < o->size; i++) ck_assert_float_eq(o->data[i], 1.0f);
    for (size_t i = 0; i < f->size; i++) ck_assert_float_eq(f->data[i], -2.5f);
    /* a standalone tensor has no graph, no grad and is a leaf */
    ck_assert_ptr_null(z->graph);
    ck_assert_ptr_null(z->grad);
    ck_assert(!z->requires_grad);
    ck_assert_str_eq(tg_tensor_op_name(z), "leaf");
    tg_tensor_free(z);
    tg_tensor_free(o);
    tg_tensor_free(f);
}
END_TEST

START_TEST(test_tensor_shape_macro_counts_its_sizes)
{
    /* TG_SHAPE(...) is the count and the list: they cannot disagree. */
    tg_tensor *t = tg_zeros(NULL, TG_SHAPE(64, 784));
    ck_assert_shape(t, 64, 784);
    tg_tensor_free(t);
    t = tg_full(NULL, TG_SHAPE(2, 3, 4, 5), 1.5f);
    ck_assert_shape(t, 2, 3, 4, 5);
    ck_assert_int_eq(t->size, 120);
    tg_tensor_free(t);
    t = tg_ones(NULL, TG_SHAPE(7));
    ck_assert_shape(t, 7);
    tg_tensor_free(t);
    int n = 5;   /* sizes need not be constants */
    t = tg_zeros(NULL, TG_SHAPE(n, 2 * n));
    ck_assert_shape(t, 5, 10);
    tg_tensor_free(t);
}
END_TEST

START_TEST(test_tensor_scalar_has_no_dimensions)
{
    tg_tensor *s = tg_full(NULL, 0, NULL, 7.25f);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(s->ndim, 0);
    ck_assert_uint_eq(s->size, 1);
    ck_assert_float_eq(s->data[0], 7.25f);
    tg_tensor *z = tg_zeros(NULL, 0, (int[]){5}); /* shape is not read for ndim 0 */
    ck_assert_ptr_nonnull(z);
    ck_assert_int_eq(z->ndim, 0);
    ck_assert_uint_eq(z->size, 1);
    ck_assert_float_eq(z->data[0], 0.0f);
    char buf[64];
    ck_assert_str_eq(tg_shape_str(s, buf), "()");
    ck_assert(tg_same_shape(s, z));
    tg_tensor_free(s);
    tg_tensor_free(z);
}
END_TEST

/* torch.arange(start, stop, step) has ceil((stop - start) / step) elements,
 * start + i step. Counts worked out by hand below. */
typedef struct arange_case {
    float start, stop, step;
    int count;
} arange_case;

static const arange_case arange_cases[] = {
    {0.0f, 5.0f, 1.0f, 5},     /* 0 1 2 3 4 */
    {2.0f, 3.0f, 1.0f, 1},     /* 2 */
    {0.0f, 1.0f, 0.3f, 4},     /* 0 .3 .6 .9: 1/0.3 = 3.33 */
    {1.0f, 2.5f, 0.5f, 3},     /* 1 1.5 2: the stop is excluded */
    {0.0f, 1.0f, 0.1f, 10},    /* 0.1f is a little above 0.1: 9.99999985 -> 10 */
    {5.0f, 0.0f, -1.5f, 4},    /* 5 3.5 2 0.5 */
    {1.0f, -1.0f, -0.5f, 4},   /* 1 .5 0 -.5 */
    {-1.0f, 1.0f, 0.25f, 8},
};

START_TEST(test_tensor_arange_counts_and_values)
{
    for (size_t c = 0; c < sizeof arange_cases / sizeof arange_cases[0]; c++) {
        const arange_case *a = &arange_cases[c];
        tg_tensor *t = tg_arange(NULL, a->start, a->stop, a->step);
        ck_assert_msg(t != NULL, "arange(%g, %g, %g): %s", a->start, a->stop, a->step, tg_last_error());
        ck_assert_msg(t->ndim == 1 && t->shape[0] == a->count && t->size == (size_t)a->count,
                      "arange(%g, %g, %g) has shape (%d), expected (%d)", a->start, a->stop, a->step,
                      t->shape[0], a->count);
        for (int i = 0; i < a->count; i++) {
            /* The exact value start + i step (with step the float given),
             * rounded once to float. */
            double want = a->start + (double)i * a->step;
            ck_assert_msg(fabs(t->data[i] - want) <= FLT_U * fabs(want), "arange(%g, %g, %g)[%d] = %.9g, expected %.9g",
                          a->start, a->stop, a->step, i, (double)t->data[i], want);
        }
        tg_tensor_free(t);
    }
}
END_TEST

START_TEST(test_tensor_arange_rejects_empty_and_zero_step)
{
    const float bad[][3] = {
        {0.0f, 1.0f, 0.0f},   /* step 0 */
        {0.0f, 0.0f, 1.0f},   /* empty: start == stop */
        {0.0f, 5.0f, -1.0f},  /* empty: steps away from stop */
        {3.0f, 1.0f, 0.5f},
    };
    for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
        tg_clear_error();
        tg_tensor *t = tg_arange(NULL, bad[c][0], bad[c][1], bad[c][2]);
        ck_assert_msg(t == NULL, "arange(%g, %g, %g) did not fail", bad[c][0], bad[c][1], bad[c][2]);
        assert_error_names("tg_arange");
    }
}
END_TEST

START_TEST(test_tensor_from_data_copies)
{
    float src[6] = {1, 2, 3, 4, 5, 6};
    tg_tensor *t = tg_from_data(NULL, src, 2, (int[]){3, 2});
    ck_assert_shape(t, 3, 2);
    ck_assert_ptr_ne(t->data, src);
    ck_assert_close_array(t->data, ((float[]){1, 2, 3, 4, 5, 6}), 6, 0, 0);
    src[0] = 100.0f;
    src[5] = -100.0f;
    ck_assert_float_eq(t->data[0], 1.0f);
    ck_assert_float_eq(t->data[5], 6.0f);
    tg_tensor_free(t);
    tg_clear_error();
    ck_assert_ptr_null(tg_from_data(NULL, NULL, 1, (int[]){3}));
    assert_error_names("tg_from_data");
}
END_TEST

START_TEST(test_tensor_from_blob_shares_and_never_frees)
{
    /* A stack buffer: if tg_tensor_free freed it, glibc aborts and ASan
     * reports a bad free, so this test fails either way. */
    float buf[6] = {1, 2, 3, 4, 5, 6};
    tg_tensor *t = tg_from_blob(NULL, buf, 2, (int[]){2, 3});
    ck_assert_shape(t, 2, 3);
    ck_assert_ptr_eq(t->data, buf);
    buf[4] = 42.0f;
    ck_assert_float_eq(t->data[4], 42.0f);
    t->data[1] = -7.0f;
    ck_assert_float_eq(buf[1], -7.0f);
    ck_assert_int_eq(tg_tensor_requires_grad(t, true), TG_OK); /* grad is tg's, data is not */
    tg_tensor_free(t);
    ck_assert_float_eq(buf[0], 1.0f); /* still ours and readable */
    tg_clear_error();
    ck_assert_ptr_null(tg_from_blob(NULL, NULL, 1, (int[]){3}));
    assert_error_names("tg_from_blob");
}
END_TEST

/* ---- bad shapes: every creation function, every kind of bad shape ---- */

typedef tg_tensor *(*creator)(int ndim, const int *shape, float *buf, tg_rng *rng);

#define CREATOR(name, expr)                                                                        \
    static tg_tensor *c_##name(int nd, const int *s, float *b, tg_rng *r)                          \
    {                                                                                              \
        (void)b, (void)r;                                                                          \
        return expr;                                                                               \
    }

CREATOR(zeros, tg_zeros(NULL, nd, s))
CREATOR(ones, tg_ones(NULL, nd, s))
CREATOR(full, tg_full(NULL, nd, s, 2.0f))
CREATOR(from_data, tg_from_data(NULL, b, nd, s))
CREATOR(from_blob, tg_from_blob(NULL, b, nd, s))
CREATOR(rand, tg_rand(NULL, r, nd, s))
CREATOR(randn, tg_randn(NULL, r, nd, s))
CREATOR(uniform, tg_uniform(NULL, r, -1.0f, 1.0f, nd, s))

static const struct {
    const char *name;
    creator create;
} creators[] = {
    {"tg_zeros", c_zeros}, {"tg_ones", c_ones}, {"tg_full", c_full},
    {"tg_from_data", c_from_data}, {"tg_from_blob", c_from_blob},
    {"tg_rand", c_rand}, {"tg_randn", c_randn}, {"tg_uniform", c_uniform},
};
enum { N_CREATORS = sizeof creators / sizeof creators[0] };

START_TEST(test_tensor_bad_shape_fails_with_message)
{
    static const int five[5] = {1, 2, 1, 2, 1}, zero[2] = {3, 0}, negative[3] = {2, -4, 2};
    static const struct {
        const char *what;
        int ndim;
        const int *shape;
    } bad[] = {
        {"ndim 5", 5, five},
        {"ndim -1", -1, five},
        {"a zero size", 2, zero},
        {"a negative size", 3, negative},
        {"NULL shape", 2, NULL},
    };
    float buf[64] = {0};
    tg_rng rng;
    tg_rng_seed(&rng, 1);
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        tg_clear_error();
        tg_tensor *t = creators[_i].create(bad[k].ndim, bad[k].shape, buf, &rng);
        ck_assert_msg(t == NULL, "%s accepted %s", creators[_i].name, bad[k].what);
        const char *msg = tg_last_error();
        ck_assert_msg(msg[0] != '\0', "%s with %s: no message", creators[_i].name, bad[k].what);
        ck_assert_msg(strstr(msg, creators[_i].name) != NULL, "%s with %s: message \"%s\" does not name %s",
                      creators[_i].name, bad[k].what, msg, creators[_i].name);
    }
}
END_TEST

START_TEST(test_tensor_graph_owns_what_it_creates)
{
    tg_graph *g = tg_graph_new();
    ck_assert_ptr_nonnull(g);
    float buf[4] = {1, 2, 3, 4};
    tg_rng rng;
    tg_rng_seed(&rng, 3);
    tg_tensor *t[] = {
        tg_zeros(g, 2, (int[]){2, 2}), tg_ones(g, 1, (int[]){4}), tg_full(g, 0, NULL, 3.0f),
        tg_arange(g, 0.0f, 4.0f, 1.0f), tg_from_data(g, buf, 2, (int[]){2, 2}),
        tg_from_blob(g, buf, 1, (int[]){4}), tg_rand(g, &rng, 1, (int[]){4}),
        tg_randn(g, &rng, 1, (int[]){4}), tg_uniform(g, &rng, 0.0f, 2.0f, 1, (int[]){4}),
    };
    size_t n = sizeof t / sizeof t[0];
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(t[i] != NULL, "creation %zu on a graph failed: %s", i, tg_last_error());
        ck_assert_ptr_eq(t[i]->graph, g);
    }
    ck_assert_uint_eq(tg_graph_size(g), n);
    ck_assert_float_eq(t[4]->data[3], 4.0f);  /* from_data copied */
    ck_assert_ptr_ne(t[4]->data, buf);
    ck_assert_ptr_eq(t[5]->data, buf);        /* from_blob shares */
    /* tg_tensor_free ignores graph-owned tensors: freeing them here and then
     * the graph would be a double free under ASan. */
    for (size_t i = 0; i < n; i++) tg_tensor_free(t[i]);
    ck_assert_float_eq(t[1]->data[2], 1.0f);  /* still alive */
    tg_graph_free(g);
}
END_TEST

/* ======================================================================
 * Random numbers
 * ====================================================================== */

START_TEST(test_tensor_rng_seeds_with_splitmix64)
{
    /* The published splitmix64 outputs for seed 0 (Steele, Lea & Flood 2014;
     * Vigna's splitmix64.c) become xoshiro's four state words. */
    tg_rng r;
    tg_rng_seed(&r, 0);
    ck_assert_uint_eq(r.s[0], UINT64_C(0xe220a8397b1dcdaf));
    ck_assert_uint_eq(r.s[1], UINT64_C(0x6e789e6aa1b965f4));
    ck_assert_uint_eq(r.s[2], UINT64_C(0x06c45d188009454f));
    ck_assert_uint_eq(r.s[3], UINT64_C(0xf88bb8a8724c81ec));
    /* xoshiro256**'s output: rotl(s[1] * 5, 7) * 9 of the current state. */
    uint64_t x = r.s[1] * 5;
    uint64_t want = ((x << 7) | (x >> 57)) * 9;
    ck_assert_uint_eq(tg_rng_u64(&r), want);
}
END_TEST

START_TEST(test_tensor_rng_same_seed_same_sequence)
{
    tg_rng a, b, c;
    tg_rng_seed(&a, 12345);
    tg_rng_seed(&b, 12345);
    tg_rng_seed(&c, 12346);
    int differ = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t ua = tg_rng_u64(&a), ub = tg_rng_u64(&b), uc = tg_rng_u64(&c);
        ck_assert_uint_eq(ua, ub);
        differ += ua != uc;
        float fa = tg_rng_uniform(&a), fb = tg_rng_uniform(&b);
        ck_assert_float_eq(fa, fb);
        fa = tg_rng_normal(&a), fb = tg_rng_normal(&b);
        ck_assert_float_eq(fa, fb);
        (void)tg_rng_uniform(&c), (void)tg_rng_normal(&c);
    }
    /* Two 64-bit streams agree on a draw with probability 2^-64. */
    ck_assert_int_eq(differ, 1000);
}
END_TEST

START_TEST(test_tensor_rng_copy_continues_identically)
{
    tg_rng a;
    tg_rng_seed(&a, 99);
    (void)tg_rng_normal(&a); /* leaves a spare normal in the state */
    tg_rng b = a;
    ck_assert_float_eq(tg_rng_normal(&a), tg_rng_normal(&b)); /* the spare */
    for (int i = 0; i < 100; i++) {
        ck_assert_uint_eq(tg_rng_u64(&a), tg_rng_u64(&b));
        ck_assert_float_eq(tg_rng_normal(&a), tg_rng_normal(&b));
        ck_assert_uint_eq(tg_rng_below(&a, 1000), tg_rng_below(&b, 1000));
    }
}
END_TEST

START_TEST(test_tensor_rng_uniform_is_24_bits_in_unit_interval)
{
    tg_rng r;
    tg_rng_seed(&r, 7);
    float *u = malloc(N_SAMPLES * sizeof *u);
    ck_assert_ptr_nonnull(u);
    float lo = 1.0f, hi = 0.0f;
    long coarse = -1;
    for (int i = 0; i < N_SAMPLES; i++) {
        u[i] = tg_rng_uniform(&r);
        double scaled = (double)u[i] * 16777216.0; /* 2^24 */
        if (scaled != floor(scaled) && coarse < 0) coarse = i;
        lo = fminf(lo, u[i]), hi = fmaxf(hi, u[i]);
    }
    ck_assert_all_within(u, N_SAMPLES, 0.0f, 1.0f, true);
    ck_assert_msg(coarse < 0, "draw %ld = %a is not a multiple of 2^-24", coarse, coarse < 0 ? 0.0 : (double)u[coarse]);
    free(u);
    /* The extremes of N uniforms fall within 1/N * ln(1e6) ~ 1.4e-4 of the
     * ends except with probability 1e-6 each: the whole interval is used. */
    double reach = log(1e6) / N_SAMPLES;
    ck_assert_double_le(lo, reach);
    ck_assert_double_ge(hi, 1.0 - reach);
}
END_TEST

START_TEST(test_tensor_rng_below_is_uniform)
{
    tg_rng r;
    tg_rng_seed(&r, 2024);
    ck_assert_uint_eq(tg_rng_below(&r, 0), 0);
    for (int i = 0; i < 100; i++) ck_assert_uint_eq(tg_rng_below(&r, 1), 0);

    /* n = 10 buckets: each count is Binomial(N, 1/10), standard deviation
     * sqrt(N p (1 - p)) = sqrt(1e5 * 0.1 * 0.9) = 94.9; allow N_SIGMA of it
     * (a miss in any of the 10 buckets has probability ~ 10 * 5.7e-7). */
    enum { NB = 10 };
    int count[NB] = {0}, out = 0;
    for (int i = 0; i < N_SAMPLES; i++) {
        uint32_t k = tg_rng_below(&r, NB);
        if (k < NB) count[k]++;
        else out++;
    }
    ck_assert_int_eq(out, 0);
    double p = 1.0 / NB, sd = sqrt(N_SAMPLES * p * (1 - p));
    for (int k = 0; k < NB; k++)
        ck_assert_msg(fabs(count[k] - N_SAMPLES * p) <= N_SIGMA * sd, "bucket %d has %d draws, expected %.0f +- %.0f",
                      k, count[k], N_SAMPLES * p, N_SIGMA * sd);

    /* Unbiased for a large n that does not divide 2^32: with n = 3 * 2^30,
     * 32 random bits mod n would land below n/3 half the time (2^32 - n =
     * n/3 values have two preimages). Uniform gives 1/3, standard error
     * sqrt(p (1 - p) / N) = 1.5e-3. */
    uint32_t n = UINT32_C(3) << 30;
    int below = 0;
    out = 0;
    for (int i = 0; i < N_SAMPLES; i++) {
        uint32_t k = tg_rng_below(&r, n);
        out += k >= n;
        below += k < n / 3;
    }
    ck_assert_int_eq(out, 0);
    p = 1.0 / 3;
    double frac = (double)below / N_SAMPLES, se = sqrt(p * (1 - p) / N_SAMPLES);
    ck_assert_msg(fabs(frac - p) <= N_SIGMA * se, "fraction below n/3 is %.5f, expected %.5f +- %.5f", frac, p,
                  N_SIGMA * se);
}
END_TEST

START_TEST(test_tensor_rand_randn_uniform_statistics)
{
    tg_rng r;
    tg_rng_seed(&r, 5);
    tg_tensor *u = tg_rand(NULL, &r, 2, (int[]){100, N_SAMPLES / 100});
    ck_assert_ptr_nonnull(u);
    ck_assert_uint_eq(u->size, N_SAMPLES);
    ck_assert_all_within(u->data, u->size, 0.0f, 1.0f, true);
    assert_uniform_moments(u->data, u->size, 0.0, 1.0);

    tg_tensor *n = tg_randn(NULL, &r, 3, (int[]){10, 10, N_SAMPLES / 100});
    ck_assert_ptr_nonnull(n);
    assert_normal_moments(n->data, n->size, 0.0, 1.0);

    tg_tensor *w = tg_uniform(NULL, &r, -3.0f, 5.0f, 1, (int[]){N_SAMPLES});
    ck_assert_ptr_nonnull(w);
    ck_assert_all_within(w->data, w->size, -3.0f, 5.0f, true);
    assert_uniform_moments(w->data, w->size, -3.0, 5.0);

    /* A scalar is a tensor too. */
    tg_tensor *s = tg_rand(NULL, &r, 0, NULL);
    ck_assert_ptr_nonnull(s);
    ck_assert(s->data[0] >= 0.0f && s->data[0] < 1.0f);
    tg_tensor_free(u);
    tg_tensor_free(n);
    tg_tensor_free(w);
    tg_tensor_free(s);
}
END_TEST

START_TEST(test_tensor_random_needs_rng_and_ordered_bounds)
{
    tg_clear_error();
    ck_assert_ptr_null(tg_rand(NULL, NULL, 1, (int[]){3}));
    assert_error_names("tg_rand");
    tg_clear_error();
    ck_assert_ptr_null(tg_randn(NULL, NULL, 1, (int[]){3}));
    assert_error_names("tg_randn");
    tg_rng r;
    tg_rng_seed(&r, 1);
    tg_clear_error();
    ck_assert_ptr_null(tg_uniform(NULL, &r, 1.0f, -1.0f, 1, (int[]){3}));
    assert_error_names("tg_uniform");
}
END_TEST

/* ======================================================================
 * Gradients, names, shapes, printing
 * ====================================================================== */

START_TEST(test_tensor_requires_grad_allocates_zeroed_grad)
{
    tg_tensor *t = tg_full(NULL, 2, (int[]){3, 5}, 1.0f);
    ck_assert_ptr_null(t->grad);
    ck_assert_int_eq(tg_tensor_requires_grad(t, true), TG_OK);
    ck_assert(t->requires_grad);
    ck_assert_ptr_nonnull(t->grad);
    for (size_t i = 0; i < t->size; i++) ck_assert_float_eq(t->grad[i], 0.0f);

    for (size_t i = 0; i < t->size; i++) t->grad[i] = (float)i + 1.0f;
    tg_tensor_zero_grad(t);
    for (size_t i = 0; i < t->size; i++) ck_assert_float_eq(t->grad[i], 0.0f);
    ck_assert_float_eq(t->data[0], 1.0f); /* data untouched */

    ck_assert_int_eq(tg_tensor_requires_grad(t, false), TG_OK);
    ck_assert(!t->requires_grad);
    ck_assert_int_eq(tg_tensor_requires_grad(NULL, true), TG_ERR_ARG);

    /* no grad: zero_grad is a no-op; NULL is ignored by both */
    tg_tensor *u = tg_zeros(NULL, 1, (int[]){4});
    tg_tensor_zero_grad(u);
    ck_assert_ptr_null(u->grad);
    tg_tensor_zero_grad(NULL);
    tg_tensor_free(NULL);
    tg_tensor_free(t); /* frees the grad too (LeakSanitizer) */
    tg_tensor_free(u);
}
END_TEST

START_TEST(test_tensor_set_name_truncates_to_23)
{
    tg_tensor *t = tg_zeros(NULL, 1, (int[]){2});
    tg_tensor_set_name(t, "fc1.weight");
    ck_assert_str_eq(t->name, "fc1.weight");
    tg_tensor_set_name(t, "abcdefghijklmnopqrstuvwxyz0123456789");
    ck_assert_uint_eq(strlen(t->name), 23);
    ck_assert_str_eq(t->name, "abcdefghijklmnopqrstuvw");
    tg_tensor_set_name(t, NULL);
    ck_assert_str_eq(t->name, "");
    tg_tensor_set_name(NULL, "ignored");
    tg_tensor_free(t);
}
END_TEST

START_TEST(test_tensor_same_shape_and_shape_str)
{
    tg_tensor *a = tg_zeros(NULL, 2, (int[]){2, 3});
    tg_tensor *b = tg_ones(NULL, 2, (int[]){2, 3});
    tg_tensor *c = tg_zeros(NULL, 2, (int[]){3, 2});
    tg_tensor *d = tg_zeros(NULL, 3, (int[]){2, 3, 1}); /* same size, one more dimension */
    tg_tensor *e = tg_zeros(NULL, 4, (int[]){2, 3, 4, 5});
    ck_assert(tg_same_shape(a, b));
    ck_assert(!tg_same_shape(a, c));
    ck_assert(!tg_same_shape(a, d));
    char buf[64];
    ck_assert_str_eq(tg_shape_str(a, buf), "(2,3)");
    ck_assert_str_eq(tg_shape_str(d, buf), "(2,3,1)");
    ck_assert_str_eq(tg_shape_str(e, buf), "(2,3,4,5)");
    ck_assert_ptr_eq(tg_shape_str(e, buf), buf);
    tg_tensor_free(a);
    tg_tensor_free(b);
    tg_tensor_free(c);
    tg_tensor_free(d);
    tg_tensor_free(e);
}
END_TEST

/* What tg_tensor_print writes, read back from a temporary file. */
static char *print_to_string(const tg_tensor *t)
{
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    tg_tensor_print(t, f);
    long len = ftell(f);
    ck_assert_int_ge(len, 0);
    rewind(f);
    char *s = malloc((size_t)len + 1);
    ck_assert_ptr_nonnull(s);
    size_t got = fread(s, 1, (size_t)len, f);
    s[got] = '\0';
    fclose(f);
    return s;
}

START_TEST(test_tensor_print_shows_shape_and_values)
{
    tg_tensor *t = tg_from_data(NULL, (float[]){1.5f, -2.25f, 3.125f, 42.0f, 0.5f, 7.75f}, 2, (int[]){2, 3});
    tg_tensor_set_name(t, "weights");
    char *s = print_to_string(t);
    ck_assert_msg(strstr(s, "(2,3)") != NULL, "no shape in \"%s\"", s);
    ck_assert_msg(strstr(s, "weights") != NULL, "no name in \"%s\"", s);
    const char *values[] = {"1.5", "-2.25", "3.125", "42", "0.5", "7.75"};
    const char *at = s;
    for (int i = 0; i < 6; i++) { /* each value, in row-major order */
        const char *hit = strstr(at, values[i]);
        ck_assert_msg(hit != NULL, "value %s missing or out of order in \"%s\"", values[i], s);
        at = hit + strlen(values[i]);
    }
    free(s);

    tg_tensor *sc = tg_full(NULL, 0, NULL, -0.625f);
    s = print_to_string(sc);
    ck_assert_msg(strstr(s, "()") != NULL && strstr(s, "-0.625") != NULL, "scalar printed as \"%s\"", s);
    free(s);
    tg_tensor_free(t);
    tg_tensor_free(sc);
}
END_TEST

START_TEST(test_tensor_print_elides_long_dimensions)
{
    /* 100 .. 109: the first three and the last three are shown. */
    tg_tensor *t = tg_arange(NULL, 100.0f, 110.0f, 1.0f);
    char *s = print_to_string(t);
    ck_assert_msg(strstr(s, "(10)") != NULL, "no shape in \"%s\"", s);
    ck_assert_msg(strstr(s, "...") != NULL, "no ellipsis in \"%s\"", s);
    for (int v = 100; v < 110; v++) {
        char num[8];
        snprintf(num, sizeof num, "%d", v);
        bool shown = v < 103 || v >= 107;
        ck_assert_msg((strstr(s, num) != NULL) == shown, "%d %s in \"%s\"", v, shown ? "missing" : "not elided", s);
    }
    free(s);
    /* seven is more than six: the middle one goes */
    tg_tensor *m = tg_arange(NULL, 100.0f, 107.0f, 1.0f);
    s = print_to_string(m);
    ck_assert_msg(strstr(s, "...") != NULL && strstr(s, "103") == NULL && strstr(s, "106") != NULL, "\"%s\"", s);
    free(s);
    tg_tensor_free(m);
    /* six or fewer: no ellipsis */
    tg_tensor *u = tg_arange(NULL, 100.0f, 106.0f, 1.0f);
    s = print_to_string(u);
    ck_assert_msg(strstr(s, "...") == NULL && strstr(s, "105") != NULL, "\"%s\"", s);
    free(s);
    tg_tensor_free(t);
    tg_tensor_free(u);
}
END_TEST

/* ======================================================================
 * Initialisation (torch.nn.init)
 * ====================================================================== */

START_TEST(test_init_uniform_and_normal_statistics)
{
    tg_rng r;
    tg_rng_seed(&r, 11);
    tg_tensor *t = tg_zeros(NULL, 2, (int[]){250, N_SAMPLES / 250});
    ck_assert_int_eq(tg_init_uniform(t, -0.5f, 2.0f, &r), TG_OK);
    ck_assert_all_within(t->data, t->size, -0.5f, 2.0f, true); /* U[lo, hi) */
    assert_uniform_moments(t->data, t->size, -0.5, 2.0);

    ck_assert_int_eq(tg_init_normal(t, 3.0f, 0.25f, &r), TG_OK);
    assert_normal_moments(t->data, t->size, 3.0, 0.25);
    tg_tensor_free(t);
}
END_TEST

/* The header promises U[lo, hi): hi itself never comes out, also when lo is
 * large next to hi - lo. lo + (hi - lo) u in float rounds to hi once u >
 * 1 - ulp(lo) / 2 / (hi - lo): for [1000, 1001), ulp(1000) = 2^-14, so a
 * draw rounds up with probability about 2^-15 = 3.1e-5, some 30 times in
 * 1e6 draws (a correct generator: never). */
START_TEST(test_init_uniform_excludes_hi)
{
    tg_rng r;
    tg_rng_seed(&r, 16);
    tg_tensor *t = tg_zeros(NULL, 1, (int[]){1000000});
    ck_assert_ptr_nonnull(t);
    tg_status st = tg_init_uniform(t, 1000.0f, 1001.0f, &r);
    long outside = first_outside(t->data, t->size, 1000.0f, 1001.0f, true);
    size_t hits = 0, n = t->size;
    for (size_t i = 0; i < n; i++) hits += t->data[i] >= 1001.0f;
    tg_tensor_free(t); /* before asserting: a failure must not leak under CK_FORK=no */
    ck_assert_int_eq(st, TG_OK);
    ck_assert_msg(hits == 0, "%zu of %zu draws of U[1000, 1001) are 1001", hits, n);
    ck_assert_int_eq(outside, -1);
}
END_TEST

/* U(-b, b) fills a tensor of N values: all |v| <= b, and the largest |v|
 * reaches near b. |v|/b is U(0,1), so P(max < (1 - d) b) = (1 - d)^N <=
 * e^(-d N); d = 1e-3 with N = 1e5 makes that e^-100. The bound b is
 * computed in double and rounded to float once, so it may sit one float
 * rounding above the exact value. */
static void assert_fills_bound(const tg_tensor *t, double bound)
{
    double d = 1e-3;
    ck_assert_uint_ge(t->size, N_SAMPLES);
    float m = max_abs(t);
    ck_assert_msg(m <= bound * (1 + 2 * FLT_U), "max |v| = %.9g exceeds bound %.9g", (double)m, bound);
    ck_assert_msg(m >= (1 - d) * bound, "max |v| = %.9g, expected close to %.9g", (double)m, bound);
}

START_TEST(test_init_kaiming_uniform_bound)
{
    tg_rng r;
    tg_rng_seed(&r, 12);
    tg_tensor *w = tg_zeros(NULL, 2, (int[]){100, 1000}); /* fan_in 1000 */
    ck_assert_int_eq(tg_init_kaiming_uniform(w, 0.0f, &r), TG_OK);
    assert_fills_bound(w, sqrt(6.0 / 1000));
    assert_uniform_moments(w->data, w->size, -sqrt(6.0 / 1000), sqrt(6.0 / 1000));
    /* leaky_relu gain: a = 1 halves the variance: bound sqrt(6 / (2 fan_in)) */
    ck_assert_int_eq(tg_init_kaiming_uniform(w, 1.0f, &r), TG_OK);
    assert_fills_bound(w, sqrt(3.0 / 1000));
    /* 4-D (conv) weight: fan_in = 3 * 5 * 5 = 75 */
    tg_tensor *c = tg_zeros(NULL, 4, (int[]){1334, 3, 5, 5});
    ck_assert_int_eq(tg_init_kaiming_uniform(c, 0.0f, &r), TG_OK);
    assert_fills_bound(c, sqrt(6.0 / 75));
    tg_tensor_free(w);
    tg_tensor_free(c);
}
END_TEST

START_TEST(test_init_xavier_uniform_bound)
{
    tg_rng r;
    tg_rng_seed(&r, 13);
    tg_tensor *w = tg_zeros(NULL, 2, (int[]){200, 500}); /* fan_out 200, fan_in 500 */
    ck_assert_int_eq(tg_init_xavier_uniform(w, 1.0f, &r), TG_OK);
    assert_fills_bound(w, sqrt(6.0 / 700));
    ck_assert_int_eq(tg_init_xavier_uniform(w, 2.5f, &r), TG_OK);
    assert_fills_bound(w, 2.5 * sqrt(6.0 / 700));
    /* 3-D (conv1d) weight (out, in, k): torch's fans both include the
     * receptive field k: fan_in = in k = 2500, fan_out = out k = 2000. */
    tg_tensor *c = tg_zeros(NULL, 3, (int[]){40, 50, 50});
    ck_assert_int_eq(tg_init_xavier_uniform(c, 1.0f, &r), TG_OK);
    assert_fills_bound(c, sqrt(6.0 / (2500 + 2000)));
    tg_tensor_free(w);
    tg_tensor_free(c);
}
END_TEST

START_TEST(test_init_linear_bound_is_one_over_sqrt_in)
{
    tg_rng r;
    tg_rng_seed(&r, 14);
    /* kaiming_uniform with a = sqrt(5): sqrt(6 / ((1 + 5) in)) = 1/sqrt(in). */
    tg_tensor *W = tg_zeros(NULL, 2, (int[]){1000, 100});
    tg_tensor *b = tg_zeros(NULL, 1, (int[]){1000});
    ck_assert_int_eq(tg_init_linear(W, b, &r), TG_OK);
    assert_fills_bound(W, 0.1);
    /* The bias has only 1000 values: P(max|b| < 0.99 bound) = 0.99^1000 =
     * 4e-5, so check it reaches 0.99 of the bound. */
    float mb = max_abs(b);
    ck_assert_msg(mb <= 0.1 * (1 + 2 * FLT_U) && mb >= 0.099, "max |b| = %.9g, bound 0.1", (double)mb);
    /* b may be NULL */
    ck_assert_int_eq(tg_init_linear(W, NULL, &r), TG_OK);
    ck_assert_float_le(max_abs(W), 0.1f * (1 + 2 * (float)FLT_U));
    tg_tensor_free(W);
    tg_tensor_free(b);
}
END_TEST

START_TEST(test_init_rejects_bad_arguments)
{
    tg_rng r;
    tg_rng_seed(&r, 15);
    tg_tensor *v = tg_zeros(NULL, 1, (int[]){10});
    tg_tensor *w = tg_zeros(NULL, 2, (int[]){3, 4});
    /* fans need two dimensions */
    tg_clear_error();
    ck_assert_int_eq(tg_init_kaiming_uniform(v, 0.0f, &r), TG_ERR_ARG);
    assert_error_names("tg_init_kaiming_uniform");
    tg_clear_error();
    ck_assert_int_eq(tg_init_xavier_uniform(v, 1.0f, &r), TG_ERR_ARG);
    assert_error_names("tg_init_xavier_uniform");
    for (size_t i = 0; i < v->size; i++) ck_assert_float_eq(v->data[i], 0.0f); /* untouched */
    ck_assert_int_eq(tg_init_linear(v, NULL, &r), TG_ERR_ARG);
    /* NULL rng, NULL tensor */
    tg_clear_error();
    ck_assert_int_eq(tg_init_uniform(w, 0.0f, 1.0f, NULL), TG_ERR_ARG);
    assert_error_names("tg_init_uniform");
    tg_clear_error();
    ck_assert_int_eq(tg_init_normal(w, 0.0f, 1.0f, NULL), TG_ERR_ARG);
    assert_error_names("tg_init_normal");
    ck_assert_int_eq(tg_init_kaiming_uniform(w, 0.0f, NULL), TG_ERR_ARG);
    ck_assert_int_eq(tg_init_xavier_uniform(w, 1.0f, NULL), TG_ERR_ARG);
    ck_assert_int_eq(tg_init_linear(w, NULL, NULL), TG_ERR_ARG);
    ck_assert_int_eq(tg_init_uniform(NULL, 0.0f, 1.0f, &r), TG_ERR_ARG);
    ck_assert_int_eq(tg_init_kaiming_uniform(NULL, 0.0f, &r), TG_ERR_ARG);
    for (size_t i = 0; i < w->size; i++) ck_assert_float_eq(w->data[i], 0.0f);
    tg_tensor_free(v);
    tg_tensor_free(w);
}
END_TEST

static Suite *tensor_suite(void)
{
    Suite *s = suite_create("tensor");

    TCase *tc = tcase_create("create");
    tcase_add_test(tc, test_tensor_zeros_ones_full);
    tcase_add_test(tc, test_tensor_shape_macro_counts_its_sizes);
    tcase_add_test(tc, test_tensor_scalar_has_no_dimensions);
    tcase_add_test(tc, test_tensor_arange_counts_and_values);
    tcase_add_test(tc, test_tensor_arange_rejects_empty_and_zero_step);
    tcase_add_test(tc, test_tensor_from_data_copies);
    tcase_add_test(tc, test_tensor_from_blob_shares_and_never_frees);
    tcase_add_loop_test(tc, test_tensor_bad_shape_fails_with_message, 0, N_CREATORS);
    tcase_add_test(tc, test_tensor_graph_owns_what_it_creates);
    suite_add_tcase(s, tc);

    tc = tcase_create("rng");
    tcase_add_test(tc, test_tensor_rng_seeds_with_splitmix64);
    tcase_add_test(tc, test_tensor_rng_same_seed_same_sequence);
    tcase_add_test(tc, test_tensor_rng_copy_continues_identically);
    tcase_add_test(tc, test_tensor_rng_uniform_is_24_bits_in_unit_interval);
    tcase_add_test(tc, test_tensor_rng_below_is_uniform);
    tcase_add_test(tc, test_tensor_rand_randn_uniform_statistics);
    tcase_add_test(tc, test_tensor_random_needs_rng_and_ordered_bounds);
    suite_add_tcase(s, tc);

    tc = tcase_create("helpers");
    tcase_add_test(tc, test_tensor_requires_grad_allocates_zeroed_grad);
    tcase_add_test(tc, test_tensor_set_name_truncates_to_23);
    tcase_add_test(tc, test_tensor_same_shape_and_shape_str);
    tcase_add_test(tc, test_tensor_print_shows_shape_and_values);
    tcase_add_test(tc, test_tensor_print_elides_long_dimensions);
    suite_add_tcase(s, tc);

    tc = tcase_create("init");
    tcase_add_test(tc, test_init_uniform_and_normal_statistics);
    tcase_add_test(tc, test_init_uniform_excludes_hi);
    tcase_add_test(tc, test_init_kaiming_uniform_bound);
    tcase_add_test(tc, test_init_xavier_uniform_bound);
    tcase_add_test(tc, test_init_linear_bound_is_one_over_sqrt_in);
    tcase_add_test(tc, test_init_rejects_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}

TG_TEST_MAIN(tensor_suite)
