/* linear_regression.c — the running example of 10-701 lecture 6,
 * "Optimization for ML" (the course material, lecture 001):
 * one linear regression, "same objective, different optimizers". It
 * reproduces the slides "Closed Form Solution", "Gradient Descent", "SGD for
 * linear regression", "Mini-batch SGD for linear regression", "SGD +
 * Momentum", "Adam: update rule", "Learning Rate Schedules" and "How does it
 * end? Three common endings".
 *
 *   linear_regression [DIR]     the table on stdout; with DIR, also the loss
 *                               curves in DIR/linear_regression.dat
 *                               (plot: examples/plots/linear_regression.gp)
 *
 * The objective is the slides' L(w) = 1/N ||X w - y||^2 with the bias folded
 * in (x~ = [x; 1], w~ = [w; b]). Its minimiser solves the normal equations
 * X^T X w = X^T y, computed here in double by Cholesky as the reference.
 * Then gradient descent, SGD (B = 1) with a constant and with a decaying
 * step, mini-batch SGD, SGD with momentum and Adam minimise the same L with
 * tg's autograd and optimizers, for the same number of epochs. The claims:
 * full-batch GD with a fixed step below 2/L converges to the closed form
 * (geometrically: the distance shrinks by a constant factor per step); the
 * stochastic methods get close too, but only because their step size decays
 * ("Decaying eta_t is key for stable convergence with stochastic
 * gradients"): with a constant step SGD hovers at a noise floor ("SGD +
 * constant eta: noisy hover"). And the closed form itself is within the
 * noise's standard error of the true weights, so optimising much further
 * than that buys nothing statistically.                                   */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <tg.h>

enum {
    N = 500,          /* examples */
    D = 4,            /* features */
    P = D + 1,        /* parameters: the weights and the bias, last */
    EPOCHS = 100,     /* passes over the data, for every method */
    N_METHODS = 6
};

static const double true_w[P] = {2.0, -1.0, 0.5, 3.0, 1.0};  /* bias 1 last */
static const double feature_scale[D] = {1.0, 0.6, 1.5, 1.0}; /* unequal curvature */
static const double noise_sigma = 0.5;

static float X[N * P], Y[N];    /* (N,P) with a column of ones, (N) */

/* y = w.x + noise, x_j ~ N(0, scale_j^2), noise ~ N(0, sigma^2). */
static void make_data(tg_rng *rng)
{
    for (int i = 0; i < N; i++) {
        double y = true_w[D];
        for (int j = 0; j < D; j++) {
            X[i * P + j] = (float)(feature_scale[j] * tg_rng_normal(rng));
            y += true_w[j] * X[i * P + j];
        }
        X[i * P + D] = 1.0f;
        Y[i] = (float)(y + noise_sigma * tg_rng_normal(rng));
    }
}

/* ---- the closed form: w = (X^T X)^{-1} X^T y, all in double ---- */

/* A = X^T X / N (P,P) and c = X^T y / N (P): the normal equations A w = c. */
static void normal_equations(double A[P][P], double c[P])
{
    memset(A, 0, sizeof(double[P][P]));
    memset(c, 0, sizeof(double[P]));
    for (int i = 0; i < N; i++)
        for (int j = 0; j < P; j++) {
            c[j] += (double)X[i * P + j] * Y[i] / N;
            for (int k = 0; k < P; k++) A[j][k] += (double)X[i * P + j] * X[i * P + k] / N;
        }
}

/* A = R R^T with R lower triangular; false if A is not positive definite
 * (a feature that is a combination of the others: no unique minimiser). */
static bool cholesky(double A[P][P], double R[P][P])
{
    memset(R, 0, sizeof(double[P][P]));
    for (int j = 0; j < P; j++)
        for (int i = j; i < P; i++) {
            double s = A[i][j];
            for (int k = 0; k < j; k++) s -= R[i][k] * R[j][k];
            if (i == j && s <= 0.0) return false;
            R[i][j] = i == j ? sqrt(s) : s / R[j][j];
        }
    return true;
}

/* Solves R R^T x = b: forward, then back substitution. */
static void cholesky_solve(double R[P][P], const double b[P], double x[P])
{
    double z[P];
    for (int i = 0; i < P; i++) {
        z[i] = b[i];
        for (int k = 0; k < i; k++) z[i] -= R[i][k] * z[k];
        z[i] /= R[i][i];
    }
    for (int i = P - 1; i >= 0; i--) {
        x[i] = z[i];
        for (int k = i + 1; k < P; k++) x[i] -= R[k][i] * x[k];
        x[i] /= R[i][i];
    }
}

/* Standard errors of the least-squares weights, sigma sqrt((X^T X)^{-1}_jj)
 * = sigma sqrt((A^{-1})_jj / N): how far noise alone moves them. */
static void standard_errors(double R[P][P], double se[P])
{
    for (int j = 0; j < P; j++) {
        double e[P] = {0}, col[P];
        e[j] = 1.0;
        cholesky_solve(R, e, col);
        se[j] = noise_sigma * sqrt(col[j] / N);
    }
}

/* The largest eigenvalue of A by power iteration: L(w) has Hessian 2A, so
 * GD's step must stay below 2 / (2 lambda_max) (the slides' "Large eta"). */
static double largest_eigenvalue(double A[P][P])
{
    double v[P] = {1, 1, 1, 1, 1}, lambda = 0.0;
    for (int it = 0; it < 500; it++) {
        double Av[P] = {0}, norm = 0.0;
        for (int j = 0; j < P; j++) {
            for (int k = 0; k < P; k++) Av[j] += A[j][k] * v[k];
            norm += Av[j] * Av[j];
        }
        lambda = sqrt(norm);
        for (int j = 0; j < P; j++) v[j] = Av[j] / lambda;
    }
    return lambda;
}

/* ---- how far a w is from the optimum ---- */

typedef struct reference {
    double A[P][P];      /* X^T X / N */
    double w[P];         /* the closed form */
    double loss;         /* L(w_closed) */
} reference;

/* L(w) = 1/N ||X w - y||^2, in double. */
static double train_mse(const float *w)
{
    double sum = 0.0;
    for (int i = 0; i < N; i++) {
        double e = -(double)Y[i];
        for (int j = 0; j < P; j++) e += (double)w[j] * X[i * P + j];
        sum += e * e;
    }
    return sum / N;
}

/* L(w) - L(w*) = (w - w*)^T A (w - w*) exactly, since L is quadratic with
 * zero gradient at w*: no cancellation between two nearly equal losses. */
static double loss_gap(const reference *ref, const float *w)
{
    double d[P], gap = 0.0;
    for (int j = 0; j < P; j++) d[j] = w[j] - ref->w[j];
    for (int j = 0; j < P; j++)
        for (int k = 0; k < P; k++) gap += d[j] * ref->A[j][k] * d[k];
    return gap;
}

static double max_abs_diff(const float *w, const double *v)
{
    double m = 0.0;
    for (int j = 0; j < P; j++) m = fmax(m, fabs(w[j] - v[j]));
    return m;
}

/* ---- the iterative methods, all through tg ---- */

typedef struct method {
    const char *name;     /* the table's first column, one word */
    tg_optim_kind kind;
    int batch;            /* N: full-batch GD */
    double lr;            /* eta_0; 0 means 1/L, L = 2 lambda_max(X^T X / N) the Hessian's top */
    double momentum;      /* SGD's beta: v = beta v + g, w -= eta v (torch's form too) */
    double decay_epochs;  /* eta_t = eta_0 / (1 + t / decay_epochs), t in epochs; 0: constant */
} method;

static const method methods[N_METHODS] = {
    {"GD", TG_OPTIM_SGD, N, 0.0, 0.0, 0},
    {"SGD-const", TG_OPTIM_SGD, 1, 0.02, 0.0, 0},
    {"SGD-decay", TG_OPTIM_SGD, 1, 0.02, 0.0, 2},
    {"minibatch", TG_OPTIM_SGD, 32, 0.1, 0.0, 4},
    {"momentum", TG_OPTIM_SGD, 32, 0.02, 0.9, 4},
    {"Adam", TG_OPTIM_ADAM, 32, 0.1, 0.0, 4},
};

/* 1 / (1 + t / tau): sum eta_t diverges and sum eta_t^2 converges as t
 * grows (Robbins-Monro), which is what stochastic steps need to converge. */
static double inverse_time_decay(uint64_t epoch, void *ctx)
{
    return 1.0 / (1.0 + (double)epoch / *(const double *)ctx);
}

typedef struct run {
    float w[P];
    double gap[EPOCHS + 1];    /* L(w) - L(w*) after each epoch, [0] at the start */
    double dist[EPOCHS + 1];   /* max_j |w_j - w*_j| likewise */
    long updates;
    double lr0;
} run;

static int fail(const char *what)
{
    fprintf(stderr, "linear_regression: %s: %s\n", what, tg_last_error());
    return 1;
}

/* One update on rows order[start .. start+n): the slides' pseudocode,
 * pred = X_B w, loss = mean (pred - y_B)^2, w -= eta grad. */
static tg_status minibatch_step(tg_graph *g, tg_optim *opt, tg_tensor *w, const int *order, int n, float *xb,
                                float *yb)
{
    for (int i = 0; i < n; i++) {
        memcpy(xb + (size_t)i * P, X + (size_t)order[i] * P, P * sizeof *xb);
        yb[i] = Y[order[i]];
    }
    tg_tensor *x = tg_from_blob(g, xb, TG_SHAPE(n, P)), *y = tg_from_blob(g, yb, TG_SHAPE(n, 1));
    tg_tensor *loss = tg_mse_loss(g, tg_matmul(g, x, w), y, TG_REDUCE_MEAN);
    if (!loss) return TG_ERR_ARG;
    tg_optim_zero_grad(opt);
    tg_status st = tg_backward(loss);
    if (st == TG_OK) st = tg_optim_step(opt);
    tg_graph_reset(g);
    return st;
}

/* Trains m from w = 0 (the slides' initialisation) for EPOCHS epochs,
 * shuffling once per epoch, and records the curve in r. */
static int train(const method *m, const reference *ref, double gd_lr, run *r)
{
    static float xb[N * P], yb[N];
    int order[N];
    tg_rng rng;
    tg_rng_seed(&rng, 7);
    for (int i = 0; i < N; i++) order[i] = i;

    tg_tensor *w = tg_zeros(NULL, TG_SHAPE(P, 1));
    tg_graph *g = tg_graph_new();
    if (!w || !g || tg_tensor_requires_grad(w, true) != TG_OK) {
        tg_tensor_free(w), tg_graph_free(g);
        return fail("setup");
    }
    tg_optim_opts o = tg_optim_defaults(m->kind);
    o.lr = r->lr0 = m->lr > 0 ? m->lr : gd_lr;
    o.momentum = m->momentum;
    tg_optim *opt = tg_optim_new(m->kind, &w, 1, &o);
    tg_sched *sched = NULL;
    double tau = m->decay_epochs;   /* the schedule's ctx: lives as long as it */
    if (opt && tau > 0) {
        tg_sched_opts s = tg_sched_defaults(TG_SCHED_LAMBDA);
        s.fn = inverse_time_decay, s.ctx = &tau;
        sched = tg_sched_new(opt, TG_SCHED_LAMBDA, &s);
    }
    int status = !opt || (tau > 0 && !sched) ? fail(m->name) : 0;

    r->updates = 0;
    r->gap[0] = loss_gap(ref, w->data), r->dist[0] = max_abs_diff(w->data, ref->w);
    for (int epoch = 1; !status && epoch <= EPOCHS; epoch++) {
        if (m->batch < N) tg_rng_shuffle(&rng, order, N);
        for (int start = 0; !status && start < N; start += m->batch, r->updates++) {
            int n = N - start < m->batch ? N - start : m->batch;
            if (minibatch_step(g, opt, w, order + start, n, xb, yb) != TG_OK) status = fail(m->name);
        }
        if (!status && sched && tg_sched_step(sched) != TG_OK) status = fail(m->name);
        r->gap[epoch] = loss_gap(ref, w->data), r->dist[epoch] = max_abs_diff(w->data, ref->w);
    }
    memcpy(r->w, w->data, sizeof r->w);
    tg_sched_free(sched);
    tg_optim_free(opt);
    tg_graph_free(g);
    tg_tensor_free(w);
    return status;
}

/* ---- output ---- */

static void print_vector(const char *label, const double *v)
{
    printf("%-22s", label);
    for (int j = 0; j < P; j++) printf(" %9.5f", v[j]);
    printf("\n");
}

/* DIR/linear_regression.dat opened for writing before any work, so a bad DIR
 * fails at once; NULL with a message. */
static FILE *open_output(const char *dir, char *path, size_t size)
{
    snprintf(path, size, "%s/linear_regression.dat", dir);
    FILE *f = fopen(path, "w");
    if (!f) fprintf(stderr, "linear_regression: cannot write %s\n", path);
    return f;
}

static int write_curves(FILE *f, const char *path, const run *runs)
{
    fprintf(f, "# epoch  training loss minus the optimum's, L(w) - L(w*), per method:");
    for (int k = 0; k < N_METHODS; k++) fprintf(f, " %s", methods[k].name);
    fprintf(f, "\n");
    for (int e = 0; e <= EPOCHS; e++) {
        fprintf(f, "%d", e);
        for (int k = 0; k < N_METHODS; k++) fprintf(f, " %.6e", runs[k].gap[e]);
        fprintf(f, "\n");
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "linear_regression: cannot write %s\n", path);
        return 1;
    }
    return 0;
}

/* The reference: A, the closed-form w and its loss, and the standard
 * errors; false if X^T X is singular. */
static bool closed_form(reference *ref, double se[P])
{
    double c[P], R[P][P];
    normal_equations(ref->A, c);
    if (!cholesky(ref->A, R)) return false;
    cholesky_solve(R, c, ref->w);
    standard_errors(R, se);
    float w[P];
    for (int j = 0; j < P; j++) w[j] = (float)ref->w[j];
    ref->loss = train_mse(w);
    return true;
}

static void print_reference(const reference *ref, const double se[P], double gd_lr)
{
    double z = 0.0;   /* the largest |w_closed - w_true| in standard errors */
    for (int j = 0; j < P; j++) z = fmax(z, fabs(ref->w[j] - true_w[j]) / se[j]);
    printf("linear regression: N=%d, %d features + bias, noise sigma %.2f, %d epochs per method\n", N, D,
           noise_sigma, EPOCHS);
    print_vector("true w (bias last):", true_w);
    print_vector("closed form w:", ref->w);
    print_vector("standard errors:", se);
    printf("closed form vs true: max |w_closed - w_true| / se = %.2f\n", z);
    printf("Hessian 2 X^T X / N: largest eigenvalue %.4f, GD step 1 / that = %.4f\n\n", 1.0 / gd_lr, gd_lr);
}

static void print_table(const reference *ref, const run *runs)
{
    printf("%-12s %5s %6s %7s %7s %12s %12s %18s\n", "method", "batch", "epochs", "updates", "lr0", "train MSE",
           "MSE - MSE*", "max|w - w_closed|");
    printf("%-12s %5s %6s %7s %7s %12.8f %12.3e %18.3e\n", "closed-form", "-", "-", "-", "-", ref->loss, 0.0, 0.0);
    for (int k = 0; k < N_METHODS; k++) {
        const run *r = &runs[k];
        printf("%-12s %5d %6d %7ld %7.4f %12.8f %12.3e %18.3e\n", methods[k].name, methods[k].batch, EPOCHS,
               r->updates, r->lr0, train_mse(r->w), r->gap[EPOCHS], r->dist[EPOCHS]);
    }
    const int checkpoints[] = {10, 20, 40, 80};
    enum { N_CHECKPOINTS = sizeof checkpoints / sizeof *checkpoints };
    printf("\nGD distance max|w - w_closed| after steps");
    for (int i = 0; i < N_CHECKPOINTS; i++) printf(" %d", checkpoints[i]);
    printf(":");
    for (int i = 0; i < N_CHECKPOINTS; i++) printf(" %.3e", runs[0].dist[checkpoints[i]]);
    printf("\n");
}

int main(int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: linear_regression [DIR]   (DIR: where to write linear_regression.dat)\n");
        return 1;
    }
    char path[4096];
    FILE *out = argc == 2 ? open_output(argv[1], path, sizeof path) : NULL;
    if (argc == 2 && !out) return 1;

    tg_rng rng;
    tg_rng_seed(&rng, 2026);
    make_data(&rng);
    reference ref;
    double se[P];
    static run runs[N_METHODS];
    int status = 0;
    if (!closed_form(&ref, se)) {
        fprintf(stderr, "linear_regression: X^T X is singular\n");
        status = 1;
    }
    double gd_lr = 1.0 / (2.0 * largest_eigenvalue(ref.A));
    if (!status) print_reference(&ref, se, gd_lr);
    for (int k = 0; !status && k < N_METHODS; k++) status = train(&methods[k], &ref, gd_lr, &runs[k]);
    if (!status) print_table(&ref, runs);
    if (out && !status) return write_curves(out, path, runs);
    if (out) fclose(out);
    return status;
}
