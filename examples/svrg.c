/* svrg.c — variance reduction (lesson 63, "SGD and adaptive optimizers",
 * the course material, lecture 003, sections "SGD Convergence
 * Rate (Convex)" and "Variance Reduction"): SVRG against plain SGD on an
 * L2-regularised logistic regression, a strongly convex finite sum
 *
 *   f(w) = 1/n sum_i f_i(w),  f_i(w) = log(1 + e^{w.x_i}) - y_i w.x_i + lambda/2 |w|^2.
 *
 *   svrg [DIR]     the table on stdout; with DIR, also the curves in
 *                  DIR/svrg.dat (plot: examples/plots/svrg.gp)
 *
 * SVRG (Johnson & Zhang, "Accelerating Stochastic Gradient Descent using
 * Predictive Variance Reduction", NIPS 2013, option I) keeps a snapshot w~
 * and its full gradient mu = grad f(w~), and steps along the lecture's
 *
 *   g~_k = grad f_{i_k}(w_k) - grad f_{i_k}(w~) + grad f(w~),
 *
 * which is unbiased like SGD's grad f_{i_k}(w_k) but whose variance goes to
 * zero as w_k and w~ approach the optimum. tg has no SVRG optimizer: this
 * file is the implementation. tg's autograd gives every gradient (a one-row
 * batch per example), the estimate g~ is written into w's grad, and tg's
 * plain SGD takes the step.
 *
 * The claim: with a constant step, SGD converges only to a neighbourhood of
 * the optimum (the "noise floor" alpha sigma^2 / 2 of the SGD rate), and a
 * decaying step gets closer but slowly (O(1/k)), while SVRG with the same
 * constant step converges linearly: f - f* keeps falling by a constant
 * factor per pass, at an equal number of per-example gradient evaluations
 * (SVRG pays n for each full gradient and 2 per inner step). f* comes from
 * tg's L-BFGS run to convergence on the full objective.                   */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <tg.h>

enum {
    N = 1000,             /* examples */
    D = 10,               /* features */
    P = D + 1,            /* parameters: weights and the bias (a constant feature, last) */
    EPOCHS = 30,          /* the budget: EPOCHS * N per-example gradient evaluations */
    PER_EPOCH = 4,        /* curve points per epoch */
    POINTS = EPOCHS * PER_EPOCH + 1,
    INNER = 2 * N         /* SVRG's inner steps per snapshot: J&Z's m = 2n for convex problems */
};

static const double lambda = 1e-2;    /* L2 strength: f is lambda-strongly convex */

static float X[N * P], Y[N];          /* (N,P) with a column of ones, labels in {0, 1} */

/* x ~ N(0, I), P(y = 1 | x) = sigmoid(w_true . x): classes that overlap, so
 * the optimum is finite even without the penalty. */
static void make_data(tg_rng *rng)
{
    float w_true[P];
    for (int j = 0; j < P; j++) w_true[j] = tg_rng_normal(rng);
    for (int i = 0; i < N; i++) {
        double z = 0.0;
        for (int j = 0; j < P; j++) {
            X[i * P + j] = j < D ? tg_rng_normal(rng) : 1.0f;
            z += w_true[j] * X[i * P + j];
        }
        Y[i] = tg_rng_uniform(rng) < 1.0 / (1.0 + exp(-z)) ? 1.0f : 0.0f;
    }
}

/* ---- the objective in double, for measuring (never for training) ---- */

/* f(w), with log(1 + e^z) written stably as max(z, 0) + log1p(e^-|z|). */
static double objective(const float *w)
{
    double sum = 0.0, sq = 0.0;
    for (int i = 0; i < N; i++) {
        double z = 0.0;
        for (int j = 0; j < P; j++) z += (double)w[j] * X[i * P + j];
        sum += fmax(z, 0.0) + log1p(exp(-fabs(z))) - Y[i] * z;
    }
    for (int j = 0; j < P; j++) sq += (double)w[j] * w[j];
    return sum / N + 0.5 * lambda * sq;
}

/* |grad f(w)|_2 = |1/n sum_i (sigmoid(w.x_i) - y_i) x_i + lambda w|. By
 * strong convexity f(w) - min f <= |grad f(w)|^2 / (2 lambda). */
static double gradient_norm(const float *w)
{
    double g[P] = {0}, norm = 0.0;
    for (int i = 0; i < N; i++) {
        double z = 0.0;
        for (int j = 0; j < P; j++) z += (double)w[j] * X[i * P + j];
        double r = 1.0 / (1.0 + exp(-z)) - Y[i];
        for (int j = 0; j < P; j++) g[j] += r * X[i * P + j] / N;
    }
    for (int j = 0; j < P; j++) norm += (g[j] + lambda * w[j]) * (g[j] + lambda * w[j]);
    return sqrt(norm);
}

/* Each f_i is L_i-smooth with L_i = |x_i|^2 / 4 + lambda (sigmoid' <= 1/4).
 * The step is eta = 1/(4 L), L the largest: the edge of J&Z's theorem 1
 * (eta < 1/(4L), m large enough), whose constants are loose. */
static double max_smoothness(void)
{
    double L = 0.0;
    for (int i = 0; i < N; i++) {
        double sq = 0.0;
        for (int j = 0; j < P; j++) sq += (double)X[i * P + j] * X[i * P + j];
        L = fmax(L, sq / 4 + lambda);
    }
    return L;
}

/* ---- gradients through tg ---- */

static int fail(const char *what)
{
    fprintf(stderr, "svrg: %s: %s\n", what, tg_last_error());
    return 1;
}

/* The mean of f_i over rows [first, first + n), on g: one row is f_i, all
 * rows are f. */
static tg_tensor *loss_on_rows(tg_graph *g, tg_tensor *w, int first, int n)
{
    tg_tensor *x = tg_from_blob(g, X + (size_t)first * P, TG_SHAPE(n, P));
    tg_tensor *y = tg_from_blob(g, Y + first, TG_SHAPE(n, 1));
    tg_tensor *data = tg_bce_with_logits(g, tg_matmul(g, x, w), y, NULL, NULL, TG_REDUCE_MEAN);
    return tg_add(g, data, tg_l2_penalty(g, &w, 1, (float)(lambda / 2)));
}

/* w->grad = grad of that mean at w (n per-example gradient evaluations). */
static tg_status gradient(tg_graph *g, tg_tensor *w, int first, int n)
{
    tg_tensor_zero_grad(w);
    tg_tensor *loss = loss_on_rows(g, w, first, n);
    tg_status st = loss ? tg_backward(loss) : TG_ERR_ARG;
    tg_graph_reset(g);
    return st;
}

/* ---- f - f* against gradient evaluations ---- */

typedef struct curve {
    double gap[POINTS];     /* f(w) - f* after k N / PER_EPOCH evaluations */
    long evals;             /* evaluations so far */
    int recorded;           /* points filled */
} curve;

/* Records f(w) - f* at every grid point the evaluation count has reached
 * (w does not move while SVRG computes a full gradient, so a jump of n
 * evaluations fills several points with the same value). */
static void advance(curve *c, long evals, const float *w, double f_star)
{
    c->evals += evals;
    while (c->recorded < POINTS && c->evals >= (long)c->recorded * N / PER_EPOCH)
        c->gap[c->recorded++] = objective(w) - f_star;
}

/* ---- the optimum: L-BFGS on the full objective ---- */

typedef struct full_batch {
    tg_graph *g;
    tg_tensor *w;
} full_batch;

static tg_status full_loss(void *ctx, float *loss)
{
    full_batch *fb = ctx;
    tg_tensor_zero_grad(fb->w);
    tg_tensor *l = loss_on_rows(fb->g, fb->w, 0, N);
    tg_status st = l ? tg_backward(l) : TG_ERR_ARG;
    if (st == TG_OK) *loss = l->data[0];
    tg_graph_reset(fb->g);
    return st;
}

/* w* by L-BFGS with unit steps (torch's line_search_fn=None). Not with the
 * strong-Wolfe search: it compares float32 losses, and near the optimum
 * f - f* drops below what a float resolves (eps f, about 3e-8 here), so
 * the search stops there; the gradients stay accurate far further. */
static int optimum(tg_graph *g, float *w_star)
{
    tg_tensor *w = tg_zeros(NULL, TG_SHAPE(P, 1));
    if (!w || tg_tensor_requires_grad(w, true) != TG_OK) {
        tg_tensor_free(w);
        return fail("optimum");
    }
    tg_optim_opts o = tg_optim_defaults(TG_OPTIM_LBFGS);
    o.max_iter = 100;
    o.tolerance_grad = 1e-9;
    o.tolerance_change = 0.0;
    tg_optim *opt = tg_optim_new(TG_OPTIM_LBFGS, &w, 1, &o);
    full_batch fb = {g, w};
    int status = opt ? 0 : fail("optimum");
    for (int step = 0; !status && step < 3; step++)
        if (tg_optim_step_closure(opt, full_loss, &fb, NULL) != TG_OK) status = fail("optimum");
    memcpy(w_star, w->data, sizeof(float[P]));
    tg_optim_free(opt);
    tg_tensor_free(w);
    return status;
}

/* ---- the methods ---- */

typedef enum { SGD_CONSTANT, SGD_DECAY, SVRG, N_METHODS } method;
static const char *const method_names[N_METHODS] = {"SGD-const", "SGD-decay", "SVRG"};

/* The decaying step eta_k = eta / (1 + mu eta k), mu = lambda: the O(1/k)
 * schedule of SGD's strongly convex rate, k counting updates. */
static double inverse_time(uint64_t step, void *ctx)
{
    return 1.0 / (1.0 + *(const double *)ctx * (double)step);
}

/* SGD: w -= eta_k grad f_i(w), i uniform, for the whole budget. */
static int run_sgd(tg_graph *g, tg_optim *opt, tg_sched *sched, tg_tensor *w, tg_rng *rng, double f_star, curve *c)
{
    while (c->recorded < POINTS) {
        int i = (int)tg_rng_below(rng, N);
        if (gradient(g, w, i, 1) != TG_OK || tg_optim_step(opt) != TG_OK) return fail("sgd");
        if (sched && tg_sched_step(sched) != TG_OK) return fail("sgd");
        advance(c, 1, w->data, f_star);
    }
    return 0;
}

/* SVRG, option I (the next snapshot is the last iterate):
 *   w~ = w;  mu = grad f(w~)                               n evaluations
 *   INNER times: i uniform; w -= eta (grad f_i(w) - grad f_i(w~) + mu)   2 each */
static int run_svrg(tg_graph *g, tg_optim *opt, tg_tensor *w, tg_rng *rng, double f_star, curve *c)
{
    tg_tensor *snap = tg_zeros(NULL, TG_SHAPE(P, 1));
    if (!snap || tg_tensor_requires_grad(snap, true) != TG_OK) {
        tg_tensor_free(snap);
        return fail("svrg");
    }
    float mu[P];
    int status = 0;
    while (!status && c->recorded < POINTS) {
        memcpy(snap->data, w->data, sizeof mu);
        if (gradient(g, snap, 0, N) != TG_OK) status = fail("svrg");
        memcpy(mu, snap->grad, sizeof mu);
        advance(c, N, w->data, f_star);
        for (int k = 0; !status && k < INNER && c->recorded < POINTS; k++) {
            int i = (int)tg_rng_below(rng, N);
            if (gradient(g, w, i, 1) != TG_OK || gradient(g, snap, i, 1) != TG_OK) {
                status = fail("svrg");
                break;
            }
            for (int j = 0; j < P; j++) w->grad[j] += mu[j] - snap->grad[j];
            if (tg_optim_step(opt) != TG_OK) status = fail("svrg");
            advance(c, 2, w->data, f_star);
        }
    }
    tg_tensor_free(snap);
    return status;
}

/* Runs method m from w = 0 with constant step eta (decaying for SGD_DECAY). */
static int run(method m, tg_graph *g, double eta, double f_star, curve *c)
{
    tg_rng rng;
    tg_rng_seed(&rng, 11);   /* the same example sequence for every method */
    memset(c, 0, sizeof *c);
    tg_tensor *w = tg_zeros(NULL, TG_SHAPE(P, 1));
    if (!w || tg_tensor_requires_grad(w, true) != TG_OK) {
        tg_tensor_free(w);
        return fail(method_names[m]);
    }
    tg_optim_opts o = tg_optim_defaults(TG_OPTIM_SGD);
    o.lr = eta;
    tg_optim *opt = tg_optim_new(TG_OPTIM_SGD, &w, 1, &o);
    tg_sched *sched = NULL;
    double mu_eta = lambda * eta;
    if (opt && m == SGD_DECAY) {
        tg_sched_opts s = tg_sched_defaults(TG_SCHED_LAMBDA);
        s.fn = inverse_time, s.ctx = &mu_eta;
        sched = tg_sched_new(opt, TG_SCHED_LAMBDA, &s);
    }
    int status;
    advance(c, 0, w->data, f_star);
    if (!opt || (m == SGD_DECAY && !sched)) status = fail(method_names[m]);
    else if (m == SVRG) status = run_svrg(g, opt, w, &rng, f_star, c);
    else status = run_sgd(g, opt, sched, w, &rng, f_star, c);
    tg_sched_free(sched);
    tg_optim_free(opt);
    tg_tensor_free(w);
    return status;
}

/* ---- output ---- */

/* DIR/svrg.dat opened for writing before any work, so a bad DIR
 * fails at once; NULL with a message. */
static FILE *open_output(const char *dir, char *path, size_t size)
{
    snprintf(path, size, "%s/svrg.dat", dir);
    FILE *f = fopen(path, "w");
    if (!f) fprintf(stderr, "svrg: cannot write %s\n", path);
    return f;
}

static int write_curves(FILE *f, const char *path, const curve *curves)
{
    fprintf(f, "# epochs evaluations  f(w) - f* for: %s %s %s\n", method_names[0], method_names[1],
            method_names[2]);
    for (int k = 0; k < POINTS; k++)
        fprintf(f, "%.2f %ld %.6e %.6e %.6e\n", (double)k / PER_EPOCH, (long)k * N / PER_EPOCH,
                curves[0].gap[k], curves[1].gap[k], curves[2].gap[k]);
    if (fclose(f) != 0) {
        fprintf(stderr, "svrg: cannot write %s\n", path);
        return 1;
    }
    return 0;
}

static void print_setup(double f_star, double gnorm, double L, double eta)
{
    printf("L2-regularised logistic regression: n=%d, %d features + bias, lambda=%g\n", N, D, lambda);
    printf("f* = %.12f by L-BFGS; |grad f(w*)| = %.2e, so f(w*) - min f <= %.1e\n", f_star, gnorm,
           gnorm * gnorm / (2 * lambda));
    printf("max_i L_i = %.3f; every method steps with eta = 1/(4 L) = %.5f (SGD-decay: eta/(1 + lambda eta k))\n",
           L, eta);
    printf("SVRG: snapshot every %d inner steps (2 evaluations each) + %d for the full gradient\n\n", INNER, N);
}

static void print_table(const curve *curves)
{
    const int report[] = {1, 2, 5, 10, 15, 20, 25, 30};
    printf("f(w) - f* after equal numbers of per-example gradient evaluations\n");
    printf("%6s %11s %12s %12s %12s\n", "epochs", "evaluations", method_names[0], method_names[1], method_names[2]);
    for (size_t r = 0; r < sizeof report / sizeof *report; r++) {
        int k = report[r] * PER_EPOCH;
        printf("%6d %11ld %12.3e %12.3e %12.3e\n", report[r], (long)k * N / PER_EPOCH, curves[0].gap[k],
               curves[1].gap[k], curves[2].gap[k]);
    }
}

int main(int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: svrg [DIR]   (DIR: where to write svrg.dat)\n");
        return 1;
    }
    char path[4096];
    FILE *out = argc == 2 ? open_output(argv[1], path, sizeof path) : NULL;
    if (argc == 2 && !out) return 1;

    tg_rng rng;
    tg_rng_seed(&rng, 63);
    make_data(&rng);
    tg_graph *g = tg_graph_new();
    float w_star[P];
    static curve curves[N_METHODS];
    int status = g ? optimum(g, w_star) : fail("graph");
    if (!status) {
        double f_star = objective(w_star), L = max_smoothness(), eta = 1.0 / (4.0 * L);
        print_setup(f_star, gradient_norm(w_star), L, eta);
        for (int m = 0; !status && m < N_METHODS; m++) status = run((method)m, g, eta, f_star, &curves[m]);
    }
    tg_graph_free(g);
    if (!status) print_table(curves);
    if (out && !status) return write_curves(out, path, curves);
    if (out) fclose(out);
    return status;
}
