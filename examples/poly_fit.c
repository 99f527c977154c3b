/* poly_fit.c — under- and overfitting, CS498 lecture 21, "The Learning
 * Problem" (the course material, lecture 000): the slides "A
 * Concrete Problem" (n = 100 noisy points of y = sin(x) + eps, polynomials
 * of degree 1, 4 and 20), "Which Model is Better?", "The Bias-Variance
 * Decomposition", "Train / Test Split" and "Regularization = Constrained
 * Optimization" (min 1/n sum (f(x_i) - y_i)^2 + lambda |theta|^2).
 *
 *   poly_fit [--seed N] [DIR]    the table on stdout; with DIR, also the
 *                                samples and the fitted curves in
 *                                DIR/poly_fit_samples.dat and
 *                                DIR/poly_fit_curves.dat
 *                                (plot: examples/plots/poly_fit.gp)
 *
 * The lecture fixes n = 100 and the degrees but gives no x range or noise
 * level, so: x ~ U[0, 2 pi] (one period of sin) and eps ~ N(0, 0.3^2); the
 * noise variance sigma^2 = 0.09 is the floor no model can beat. The 100
 * measured points are split as the slides split them, 80 % to train on and
 * 20 % held out, and every model is fitted on the first 80. The held-out 20
 * are the validation set that tunes lambda ("train on train, tune on
 * validation, report on test"); to steady it, the validation MSE is the
 * mean over the five ways of holding out 20 of the 100 (5-fold
 * cross-validation), because 20 points alone measure an MSE only to about
 * sigma^2 sqrt(2/20), +-30 % of the floor, and pick a poor lambda for about
 * one seed in ten. The test set is 1000 fresh points from the same
 * distribution rather than a split, for the same reason: 1000 points give
 * the test MSE to +-4.5 %, enough to tell the degrees apart.
 *
 * A polynomial of degree d is written in the Legendre basis of x scaled to
 * t = x / pi - 1 in [-1, 1]: f(x) = sum_k a_k P_k(t). It is the same model
 * class as a_0 + a_1 x + ... + a_d x^d (the P_k span the same polynomials),
 * but its features are nearly orthogonal, where the raw powers of x up to
 * (2 pi)^20 would span 16 orders of magnitude and make least squares
 * hopeless in float32. tg fits each model by autograd and L-BFGS on the
 * training MSE plus tg_l2_penalty's lambda |a|^2 (the lecture's |theta|^2,
 * on the Legendre coefficients); the normal equations, solved in double by
 * Cholesky, are the reference it must reproduce.
 *
 * The claims, in the lecture's words: degree 1 underfits ("high bias":
 * train and test error both high, near sigma^2 + 0.196, the part of sin no
 * line can follow); degree 4 fits (both near the floor sigma^2); degree 20
 * overfits (the lowest training error, "memorized the noise", and a test
 * error above degree 4's, "terrible on new data", most of all in the gaps
 * the samples leave near the ends); and L2 regularization with the lambda
 * validation picks brings degree 20 back down near degree 4, for a slightly
 * worse training loss. The column "error vs sin" is mean (f(x) - sin x)^2
 * over the test inputs: the bias^2 + variance part of the test error, the
 * test MSE without its noise. How much worse degree 20 does on new data
 * depends on the gaps the sample leaves near the ends: over seeds 0-299 its
 * test MSE is from 1.04 to thousands of times degree 4's, 3 times at the
 * median; the default seed 1 leaves no training point below x = 0.40, and
 * there degree 20 climbs to 200. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tg.h>

enum {
    N_DATA = 100,           /* the lecture's measured points */
    N_FOLDS = 5,            /* 80/20 splits of them */
    N_VAL = N_DATA / N_FOLDS,
    N_TRAIN = N_DATA - N_VAL,
    N_TEST = 1000,          /* fresh points for the test error */
    MAX_DEGREE = 20,
    MAX_P = MAX_DEGREE + 1, /* coefficients a_0 .. a_d */
    GRID = 401,             /* points of the plotted curves */
    N_DEGREES = 3,
    N_LAMBDAS = 5,
    N_ROWS = N_DEGREES + N_LAMBDAS
};

static const double x_max = 6.283185307179586; /* 2 pi: x ~ U[0, x_max] */
static const double noise_sigma = 0.3;
static const int degrees[N_DEGREES] = {1, 4, 20};
/* From too weak to matter to too strong even for sin, a decade apart. */
static const double lambdas[N_LAMBDAS] = {1e-4, 1e-3, 1e-2, 1e-1, 1.0};

/* The measured points [0, N_DATA), then the test points. */
static double xs[N_DATA + N_TEST], ys[N_DATA + N_TEST];

/* Rows of xs: a training set and its validation set. */
typedef struct split {
    int train[N_TRAIN];
    int val[N_VAL];
} split;

static int fail(const char *what)
{
    fprintf(stderr, "poly_fit: %s: %s\n", what, tg_last_error());
    return 1;
}

static void make_data(uint64_t seed)
{
    tg_rng rng;
    tg_rng_seed(&rng, seed);
    for (int i = 0; i < N_DATA + N_TEST; i++) {
        xs[i] = x_max * tg_rng_uniform(&rng);
        ys[i] = sin(xs[i]) + noise_sigma * tg_rng_normal(&rng);
    }
}

/* Fold f validates on the measured rows [f N_VAL, (f+1) N_VAL) and trains
 * on the others; the last fold is the lecture's split, train on the first
 * 80. The points are i.i.d., so consecutive rows are a random split. */
static void make_split(int f, split *s)
{
    int nt = 0, nv = 0;
    for (int i = 0; i < N_DATA; i++) {
        if (i / N_VAL == f) s->val[nv++] = i;
        else s->train[nt++] = i;
    }
}

/* P_0(t) .. P_d(t) at t = 2 x / x_max - 1, by Bonnet's recursion
 * (k+1) P_{k+1} = (2k+1) t P_k - k P_{k-1}. */
static void legendre(double x, int d, double *p)
{
    double t = 2.0 * x / x_max - 1.0;
    p[0] = 1.0;
    if (d > 0) p[1] = t;
    for (int k = 1; k < d; k++) p[k + 1] = ((2 * k + 1) * t * p[k] - k * p[k - 1]) / (k + 1);
}

/* ---- a fitted polynomial and its errors ---- */

typedef struct model {
    int degree;
    double lambda;
    double a[MAX_P];     /* Legendre coefficients */
} model;

static double predict(const model *m, double x)
{
    double p[MAX_P], y = 0.0;
    legendre(x, m->degree, p);
    for (int k = 0; k <= m->degree; k++) y += m->a[k] * p[k];
    return y;
}

/* 1/n sum (f(x_i) - t_i)^2 over rows [from, from + n) if rows is NULL, else
 * over rows[0..n); the target t_i is y_i, or sin(x_i) when noiseless. */
static double mse(const model *m, const int *rows, int from, int n, bool noiseless)
{
    double sum = 0.0;
    for (int j = 0; j < n; j++) {
        int i = rows ? rows[j] : from + j;
        double e = predict(m, xs[i]) - (noiseless ? sin(xs[i]) : ys[i]);
        sum += e * e;
    }
    return sum / n;
}

/* ---- the reference: the normal equations in double ---- */

/* The minimiser of 1/n |F a - y|^2 + lambda |a|^2 over the training rows:
 * (F^T F / n + lambda I) a = F^T y / n, by Cholesky (L L^T, L lower).
 * False when the matrix is not positive definite (never here: 80 distinct
 * points determine a polynomial of degree 20). */
static bool fit_reference(model *m, const int *train)
{
    int np = m->degree + 1;
    double A[MAX_P][MAX_P] = {{0}}, b[MAX_P] = {0}, L[MAX_P][MAX_P] = {{0}}, z[MAX_P], p[MAX_P];
    for (int j = 0; j < N_TRAIN; j++) {
        legendre(xs[train[j]], m->degree, p);
        for (int r = 0; r < np; r++) {
            b[r] += p[r] * ys[train[j]] / N_TRAIN;
            for (int k = 0; k < np; k++) A[r][k] += p[r] * p[k] / N_TRAIN;
        }
    }
    for (int r = 0; r < np; r++) A[r][r] += m->lambda;
    for (int c = 0; c < np; c++)
        for (int r = c; r < np; r++) {
            double s = A[r][c];
            for (int k = 0; k < c; k++) s -= L[r][k] * L[c][k];
            if (r == c && s <= 0.0) return false;
            L[r][c] = r == c ? sqrt(s) : s / L[c][c];
        }
    for (int r = 0; r < np; r++) { /* L z = b */
        z[r] = b[r];
        for (int k = 0; k < r; k++) z[r] -= L[r][k] * z[k];
        z[r] /= L[r][r];
    }
    for (int r = np - 1; r >= 0; r--) { /* L^T a = z */
        m->a[r] = z[r];
        for (int k = r + 1; k < np; k++) m->a[r] -= L[k][r] * m->a[k];
        m->a[r] /= L[r][r];
    }
    return true;
}

/* ---- the fit with tg: autograd and L-BFGS ----
 *
 * float32 alone does not reach the least-squares solution of degree 20.
 * When the training x leave a gap at an end of [0, 2 pi], F^T F / n has a
 * condition number of 1e5 or more: along its weakest direction the loss
 * changes by less than float32 resolves, and L-BFGS's curvature pairs fall
 * under torch's absolute threshold (s^T y > 1e-10), so it stalls (seed 1:
 * train MSE 3e-5 above the minimum, test MSE 0.61 where the least-squares
 * fit has 247), far from the least-squares curve exactly in the gap, where
 * the lecture's variance lives. So the fit is refined as mixed-precision
 * solvers do (LAPACK's dsgesv): each round computes the residual
 * r = y - F a of the coefficients so far in double, and tg solves in
 * float32 for the correction d that minimises the objective at a + d,
 * scaled by c so that its gradient at d = 0 is of size 1 (e = c d fitted to
 * c r). Three rounds agree with the closed form to 1e-5 in train MSE and to
 * 0.5 % in test MSE over seeds 0-299; the float32 rounding of the features
 * themselves is what is left. */
enum { ROUNDS = 3 };

typedef struct problem {
    tg_graph *g;
    tg_tensor *F;        /* (N_TRAIN, d+1) Legendre features of the training x */
    tg_tensor *r;        /* (N_TRAIN, 1) c (y - F a): the scaled residual */
    tg_tensor *a;        /* (d+1, 1) c a, a constant */
    tg_tensor *e;        /* (d+1, 1) c d: this round's scaled correction, the parameter */
    float lambda;
} problem;

/* The closure L-BFGS re-evaluates: c^2 times the lecture's objective at a + d,
 *   mean (F e - c r)^2 + lambda |c a + e|^2 = c^2 [mean (F (a + d) - y)^2 + lambda |a + d|^2],
 * and its gradient in e by tg_backward. */
static tg_status objective(void *ctx, float *loss)
{
    problem *pr = ctx;
    tg_tensor_zero_grad(pr->e);
    tg_tensor *l = tg_mse_loss(pr->g, tg_matmul(pr->g, pr->F, pr->e), pr->r, TG_REDUCE_MEAN);
    if (pr->lambda > 0.0f) {
        tg_tensor *coef = tg_add(pr->g, pr->a, pr->e);
        l = tg_add(pr->g, l, tg_l2_penalty(pr->g, &coef, 1, pr->lambda));
    }
    tg_status st = l ? tg_backward(l) : TG_ERR_ARG;
    if (st == TG_OK) *loss = l->data[0];
    tg_graph_reset(pr->g);
    return st;
}

/* One round from m's coefficients: c = 1 / max_k |dL/da_k| (in double),
 * then L-BFGS from e = 0 with unit steps (torch's line_search_fn=None: a
 * line search compares float32 losses, the very thing that stalls). */
static tg_status refine(problem *pr, model *m, const int *train)
{
    int np = m->degree + 1;
    double r[N_TRAIN], gmax = 0.0;
    for (int j = 0; j < N_TRAIN; j++) r[j] = ys[train[j]] - predict(m, xs[train[j]]);
    for (int k = 0; k < np; k++) { /* dL/da_k = -2/n sum_j F_jk r_j + 2 lambda a_k */
        double g = 2.0 * m->lambda * m->a[k];
        for (int j = 0; j < N_TRAIN; j++) g -= 2.0 * pr->F->data[j * np + k] * r[j] / N_TRAIN;
        gmax = fmax(gmax, fabs(g));
    }
    if (gmax == 0.0) return TG_OK; /* already exact */
    double c = 1.0 / gmax;
    for (int j = 0; j < N_TRAIN; j++) pr->r->data[j] = (float)(c * r[j]);
    for (int k = 0; k < np; k++) pr->a->data[k] = (float)(c * m->a[k]), pr->e->data[k] = 0.0f;
    tg_optim_opts o = tg_optim_defaults(TG_OPTIM_LBFGS);
    o.max_iter = 200;
    o.tolerance_grad = 1e-6;
    o.tolerance_change = 0.0; /* the float32 loss may not change at all */
    tg_optim *opt = tg_optim_new(TG_OPTIM_LBFGS, &pr->e, 1, &o);
    tg_status st = opt ? tg_optim_step_closure(opt, objective, pr, NULL) : TG_ERR_ARG;
    for (int k = 0; k < np; k++) m->a[k] += pr->e->data[k] / c;
    tg_optim_free(opt);
    return st;
}

static int fit_tg(model *m, const int *train)
{
    int np = m->degree + 1;
    float F[N_TRAIN * MAX_P];
    for (int j = 0; j < N_TRAIN; j++) {
        double p[MAX_P];
        legendre(xs[train[j]], m->degree, p);
        for (int k = 0; k < np; k++) F[j * np + k] = (float)p[k];
    }
    memset(m->a, 0, sizeof m->a);
    problem pr = {tg_graph_new(), tg_from_data(NULL, F, TG_SHAPE(N_TRAIN, np)),
                  tg_zeros(NULL, TG_SHAPE(N_TRAIN, 1)), tg_zeros(NULL, TG_SHAPE(np, 1)),
                  tg_zeros(NULL, TG_SHAPE(np, 1)), (float)m->lambda};
    int status = 0;
    if (!pr.g || !pr.F || !pr.r || !pr.a || !pr.e || tg_tensor_requires_grad(pr.e, true) != TG_OK)
        status = fail("setup");
    for (int round = 0; !status && round < ROUNDS; round++)
        if (refine(&pr, m, train) != TG_OK) status = fail("L-BFGS");
    tg_tensor_free(pr.e), tg_tensor_free(pr.a), tg_tensor_free(pr.r), tg_tensor_free(pr.F);
    tg_graph_free(pr.g);
    return status;
}

/* ---- the experiment ---- */

typedef struct row {
    model tg, ref;       /* fitted on the lecture's split: tg's and the closed form */
    double val;          /* validation MSE, the mean over the folds */
} row;

/* One model class: fitted by tg on every fold for the validation MSE; the
 * last fold's fit is the row's, and the closed form is fitted there too. */
static int fit_row(row *r, int degree, double lambda)
{
    r->val = 0.0;
    for (int f = 0; f < N_FOLDS; f++) {
        split s;
        make_split(f, &s);
        r->tg = (model){.degree = degree, .lambda = lambda};
        if (fit_tg(&r->tg, s.train)) return 1;
        r->val += mse(&r->tg, s.val, 0, N_VAL, false) / N_FOLDS;
        if (f < N_FOLDS - 1) continue;
        r->ref = (model){.degree = degree, .lambda = lambda};
        if (!fit_reference(&r->ref, s.train)) {
            fprintf(stderr, "poly_fit: the normal equations of degree %d are singular\n", degree);
            return 1;
        }
    }
    return 0;
}

static void print_row(const row *r, const char *note)
{
    printf("%6d %9.0e %11.6f %11.6f %11.6f %12.6f %11.6f %11.6f%s\n", r->tg.degree, r->tg.lambda,
           mse(&r->tg, NULL, 0, N_TRAIN, false), r->val, mse(&r->tg, NULL, N_DATA, N_TEST, false),
           mse(&r->tg, NULL, N_DATA, N_TEST, true), mse(&r->ref, NULL, 0, N_TRAIN, false),
           mse(&r->ref, NULL, N_DATA, N_TEST, false), note);
}

/* DIR/poly_fit_samples.dat (rows NULL) or DIR/poly_fit_curves.dat. */
static int write_file(const char *dir, const row *rows, int chosen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rows ? "poly_fit_curves.dat" : "poly_fit_samples.dat");
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "poly_fit: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    if (!rows) {
        fprintf(f, "# x  y  held_out (0: one of the 80 training points, 1: one of the 20 held out)\n");
        for (int i = 0; i < N_DATA; i++) fprintf(f, "%.6f %.6f %d\n", xs[i], ys[i], i >= N_TRAIN);
    } else {
        const model *reg = &rows[chosen].tg;
        fprintf(f, "# x  sin(x)  degree_1  degree_4  degree_20  degree_20_lambda_%.0e\n", reg->lambda);
        for (int i = 0; i < GRID; i++) {
            double x = x_max * i / (GRID - 1);
            fprintf(f, "%.6f %.6f", x, sin(x));
            for (int k = 0; k < N_DEGREES; k++) fprintf(f, " %.6f", predict(&rows[k].tg, x));
            fprintf(f, " %.6f\n", predict(reg, x));
        }
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "poly_fit: cannot write %s\n", path);
        return 1;
    }
    return 0;
}

/* "--seed N" (N a decimal integer >= 0) and an optional DIR; false, with
 * the reason on stderr when there is more to say than the usage, on
 * anything else. */
static bool parse_args(int argc, char **argv, uint64_t *seed, const char **dir)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            const char *s = argv[++i];
            char *end;
            errno = 0;
            unsigned long long v = strtoull(s, &end, 10);
            if (*s < '0' || *s > '9' || *end || errno) {
                fprintf(stderr, "poly_fit: --seed needs an integer from 0 to 2^64 - 1, got '%s'\n", s);
                return false;
            }
            *seed = v;
        } else if (argv[i][0] != '-' && !*dir) {
            *dir = argv[i];
        } else {
            return false;
        }
    }
    return true;
}

int main(int argc, char **argv)
{
    uint64_t seed = 1;
    const char *dir = NULL;
    if (!parse_args(argc, argv, &seed, &dir)) {
        fprintf(stderr, "usage: poly_fit [--seed N] [DIR]   (N >= 0, default 1; DIR: where to write poly_fit_*.dat)\n");
        return 1;
    }
    make_data(seed);

    static row rows[N_ROWS];
    for (int k = 0; k < N_ROWS; k++) {
        bool reg = k >= N_DEGREES;
        if (fit_row(&rows[k], reg ? MAX_DEGREE : degrees[k], reg ? lambdas[k - N_DEGREES] : 0.0)) return 1;
    }
    int chosen = N_DEGREES; /* the lambda of least validation MSE */
    for (int k = N_DEGREES; k < N_ROWS; k++)
        if (rows[k].val < rows[chosen].val) chosen = k;

    printf("poly_fit: y = sin(x) + noise, x ~ U[0, 2 pi], noise sd %.2f (variance %.4f), seed %llu\n",
           noise_sigma, noise_sigma * noise_sigma, (unsigned long long)seed);
    printf("%d samples: fit on %d, validation MSE = %d-fold cross-validation; test: %d fresh samples\n",
           N_DATA, N_TRAIN, N_FOLDS, N_TEST);
    printf("fits: tg L-BFGS (columns 3-6); ref: the closed form in double (last two)\n\n");
    printf("%6s %9s %11s %11s %11s %12s %11s %11s\n", "degree", "lambda", "train MSE", "val MSE", "test MSE",
           "error vs sin", "ref train", "ref test");
    for (int k = 0; k < N_ROWS; k++) print_row(&rows[k], k == chosen ? "  <- validation's choice" : "");

    if (dir && (write_file(dir, NULL, 0) || write_file(dir, rows, chosen))) return 1;
    return 0;
}
