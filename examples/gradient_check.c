/* gradient_check.c — EECS 498 chapter 4 (the course material, lecture 002),
 * section 4.6.1 "Gradient Computation Methods": the numerical gradient by
 * finite differences, one element of W at a time,
 *     dL/dw_i ~ (L(W + h e_i) - L(W)) / h              the slide's formula
 *     dL/dw_i ~ (L(W + h e_i) - L(W - h e_i)) / 2h      the "W_i +- h" form
 * against the analytic gradient that backpropagation (tg_backward) computes,
 * for a linear softmax classifier with L2 regularisation,
 *     L(W, b) = 1/N sum_n -log softmax(W x_n + b)_{y_n} + lambda sum W^2,
 * on 64 FashionMNIST training images shrunk to 7x7 pixels (means of 4x4
 * blocks: W, b then hold 10 x 49 + 10 = 500 numbers, and the numerical
 * gradient takes milliseconds, not seconds).
 *
 * The claims: the two gradients agree (relative error ~1e-4 at a good h); the
 * numerical one costs 2n loss evaluations (n + 1 with the slide's formula)
 * where the analytic one costs one forward and one backward pass; and it is
 * only an approximation whose accuracy hinges on h: too large and the
 * truncation error, O(h) or O(h^2), wins; too small and rounding wins, since
 * float32 stores L only to eps |L| ~ 1e-7 and the difference is divided by h
 * (the slide's Delta = 0.00001 suits numpy's float64, not float32).
 * Hence the lecture's advice: train with the analytic gradient, use the
 * numerical one to check it (torch.autograd.gradcheck; here tg_gradcheck) —
 * and a check catches a hand-derived gradient with a classic slip, the 2 of
 * d(lambda w^2)/dw = 2 lambda w forgotten.
 *
 *   build/examples/gradient_check [--data-dir FASHION_DIR] [DIR]
 *       DIR: also write gradient_check.dat (h and both schemes' relative
 *       errors) there, for examples/plots/gradient_check.gp.
 *   --data-dir: where FashionMNIST is (default /usr/share/datasets/fashion-mnist).
 *   Timings go to stderr, so stdout is the same on every run.              */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tg.h>

enum { N = 64, SIDE = 7, POOL = 4, D = SIDE * SIDE, C = 10, PARAMS = C * D + C, FULL_PARAMS = C * 784 + C };
static const float LAMBDA = 0.1f;
static const float GOOD_H = 1e-2f;   /* central differences' best h in float32 (the table shows why) */
static const double AGREE = 1e-3;    /* float32's finite differences resolve ~1e-4 of the gradient */

typedef struct problem {
    float x[N * D];          /* (N, D) pooled pixels in [0, 1] */
    int y[N];
    tg_tensor *params[2];    /* W (C, D), b (C): standalone, requires grad */
    tg_graph *g;
    long evals;              /* loss evaluations so far */
} problem;

typedef enum fd_scheme { FD_FORWARD, FD_CENTRAL } fd_scheme;

static double now(void)
{
    struct timespec t;
    timespec_get(&t, TIME_UTC);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int fail(const char *what)
{
    fprintf(stderr, "gradient_check: %s\n", what);
    return 1;
}

/* The first N training images, each 28x28 image averaged over 4x4 blocks. */
static tg_status load_data(problem *pr, const char *dir)
{
    tg_dataset train;
    tg_status s = tg_dataset_load(dir, true, &train);
    if (s != TG_OK) return s;
    static float full[N * 784];
    int rows[N];
    for (int i = 0; i < N; i++) rows[i] = i;
    tg_dataset_batch(&train, rows, N, 0.0f, 1.0f, full, pr->y);  /* pixels / 255 */
    tg_dataset_free(&train);
    for (int n = 0; n < N; n++)
        for (int r = 0; r < SIDE; r++)
            for (int c = 0; c < SIDE; c++) {
                float sum = 0;
                for (int i = 0; i < POOL; i++)
                    for (int j = 0; j < POOL; j++) sum += full[n * 784 + (r * POOL + i) * 28 + c * POOL + j];
                pr->x[n * D + r * SIDE + c] = sum / (POOL * POOL);
            }
    return TG_OK;
}

/* L(W, b) built on g: mean cross-entropy + lambda |W|^2. Also the function
 * tg_gradcheck differentiates (p = {W, b}, ctx = the problem). */
static tg_tensor *build_loss(tg_graph *g, tg_tensor *const *p, void *ctx)
{
    problem *pr = ctx;
    tg_tensor *x = tg_from_blob(g, pr->x, TG_SHAPE(N, D));
    tg_tensor *data_loss = tg_cross_entropy(g, tg_linear(g, x, p[0], p[1]), pr->y, NULL);
    return tg_add(g, data_loss, tg_l2_penalty(g, p, 1, LAMBDA));
}

/* One forward pass, recording nothing: what finite differences call. */
static tg_status eval_loss(problem *pr, double *loss)
{
    tg_graph_reset(pr->g);
    bool was = tg_graph_set_grad(pr->g, false);
    tg_tensor *l = build_loss(pr->g, pr->params, pr);
    tg_graph_set_grad(pr->g, was);
    if (!l) return TG_ERR_ARG;
    *loss = l->data[0];
    pr->evals++;
    return TG_OK;
}

/* Finite differences element by element, as the lecture's pseudo-code:
 * perturb w_i by h, evaluate L, put w_i back. out: PARAMS floats, W then b. */
static tg_status numerical_gradient(problem *pr, fd_scheme scheme, float h, double *out)
{
    double base = 0, plus, minus;
    tg_status s = scheme == FD_FORWARD ? eval_loss(pr, &base) : TG_OK;
    for (int k = 0, p = 0; p < 2; p++) {
        float *w = pr->params[p]->data;
        for (size_t i = 0; i < pr->params[p]->size && s == TG_OK; i++, k++) {
            float old = w[i];
            w[i] = old + h;
            s = eval_loss(pr, &plus);
            if (s == TG_OK && scheme == FD_CENTRAL) {
                w[i] = old - h;
                s = eval_loss(pr, &minus);
            }
            w[i] = old;
            out[k] = scheme == FD_FORWARD ? (plus - base) / h : (plus - minus) / (2.0 * h);
        }
    }
    return s;
}

/* Backpropagation: one forward pass that records the graph, one backward. */
static tg_status analytic_gradient(problem *pr, double *out)
{
    tg_graph_reset(pr->g);
    for (int p = 0; p < 2; p++) tg_tensor_zero_grad(pr->params[p]);
    tg_tensor *l = build_loss(pr->g, pr->params, pr);
    tg_status s = l ? tg_backward(l) : TG_ERR_ARG;
    for (int k = 0, p = 0; s == TG_OK && p < 2; p++)
        for (size_t i = 0; i < pr->params[p]->size; i++) out[k++] = pr->params[p]->grad[i];
    return s;
}

/* The gradient derived by hand, as one would before autograd:
 *     dL/ds_n = (softmax(s_n) - onehot(y_n)) / N,   s_n = W x_n + b,
 *     dL/dW = sum_n dL/ds_n x_n^T + reg_factor lambda W,   dL/db = sum_n dL/ds_n.
 * reg_factor 2 is right; 1 is the slip of forgetting the 2 of d(w^2)/dw. */
static void hand_gradient(const problem *pr, double reg_factor, double *out)
{
    const float *W = pr->params[0]->data, *b = pr->params[1]->data;
    double *dW = out, *db = out + C * D;
    for (int k = 0; k < C * D; k++) dW[k] = reg_factor * LAMBDA * W[k];
    for (int c = 0; c < C; c++) db[c] = 0;
    for (int n = 0; n < N; n++) {
        const float *x = pr->x + n * D;
        double s[C], max = -INFINITY, z = 0;
        for (int c = 0; c < C; c++) {
            s[c] = b[c];
            for (int j = 0; j < D; j++) s[c] += (double)W[c * D + j] * x[j];
            max = fmax(max, s[c]);
        }
        for (int c = 0; c < C; c++) z += s[c] = exp(s[c] - max);
        for (int c = 0; c < C; c++) {
            double ds = (s[c] / z - (c == pr->y[n])) / N;
            db[c] += ds;
            for (int j = 0; j < D; j++) dW[c * D + j] += ds * x[j];
        }
    }
}

/* max_i |a_i - n_i| / max_i |a_i|: the worst element's error relative to the
 * gradient's size. CS231n's per-element |a_i - n_i| / max(|a_i|, |n_i|) is
 * noise for the elements whose gradient is below what float32 finite
 * differences can resolve (eps |L| / h ~ 1e-5 at h = 1e-2), and among 500
 * some always are; torch.autograd.gradcheck's atol is there for the same
 * reason. */
static double rel_error(const double *a, const double *n, int count)
{
    double err = 0, scale = 0;
    for (int i = 0; i < count; i++) {
        err = fmax(err, fabs(a[i] - n[i]));
        scale = fmax(scale, fabs(a[i]));
    }
    return scale > 0 ? err / scale : err;
}

/* The relative error of both schemes for h = 1, 1e-1, ..., 1e-6 against the
 * analytic gradient, printed and written to f (when not NULL). */
static tg_status h_table(problem *pr, const double *analytic, FILE *f)
{
    static double num[PARAMS];
    printf("\nrelative error max|a - n| / max|a| of the numerical gradient n against h:\n");
    printf("  %-7s %-16s %s\n", "h", "(L(w+h)-L(w))/h", "(L(w+h)-L(w-h))/2h");
    if (f) fprintf(f, "# h forward_rel_err central_rel_err\n");
    double best[2] = {INFINITY, INFINITY};
    float best_h[2] = {0, 0}, h = 1.0f;
    for (int e = 0; e <= 6; e++, h /= 10) {
        double err[2];
        for (int scheme = FD_FORWARD; scheme <= FD_CENTRAL; scheme++) {
            tg_status s = numerical_gradient(pr, (fd_scheme)scheme, h, num);
            if (s != TG_OK) return s;
            err[scheme] = rel_error(analytic, num, PARAMS);
            if (err[scheme] < best[scheme]) best[scheme] = err[scheme], best_h[scheme] = h;
        }
        printf("  %-7.0e %-16.3e %.3e\n", h, err[FD_FORWARD], err[FD_CENTRAL]);
        if (f) fprintf(f, "%g %.6e %.6e\n", h, err[FD_FORWARD], err[FD_CENTRAL]);
    }
    printf("  large h: truncation error, O(h) and O(h^2); small h: rounding error, ~eps |L| / h\n");
    printf("best h: forward %.0e (%.3e), central %.0e (%.3e)\n", best_h[FD_FORWARD], best[FD_FORWARD],
           best_h[FD_CENTRAL], best[FD_CENTRAL]);
    return TG_OK;
}

/* Loss evaluations and time of the numerical gradient with scheme at h. */
static tg_status time_numerical(problem *pr, fd_scheme scheme, float h, double *out, long *evals, double *ms)
{
    long before = pr->evals;
    double t = now();
    tg_status s = numerical_gradient(pr, scheme, h, out);
    *ms = 1e3 * (now() - t);
    *evals = pr->evals - before;
    return s;
}

/* What one gradient costs each way. Leaves the analytic gradient in
 * analytic and the central-difference one at GOOD_H in num. */
static tg_status costs(problem *pr, double *analytic, double *num)
{
    static double scratch[PARAMS];
    long central_evals, forward_evals;
    double central_ms, forward_ms, t = now();
    tg_status s = analytic_gradient(pr, analytic);
    double analytic_ms = 1e3 * (now() - t);
    if (s == TG_OK) s = time_numerical(pr, FD_CENTRAL, GOOD_H, num, &central_evals, &central_ms);
    if (s == TG_OK) s = time_numerical(pr, FD_FORWARD, GOOD_H, scratch, &forward_evals, &forward_ms);
    if (s != TG_OK) return s;
    printf("\ncost of one gradient:\n");
    printf("  numerical, central:  %5ld loss evaluations\n", central_evals);
    printf("  numerical, forward:  %5ld loss evaluations\n", forward_evals);
    printf("  analytic (backprop):     1 forward + 1 backward pass\n");
    printf("  (at 28x28, %d parameters, central differences would take %d evaluations)\n", FULL_PARAMS,
           2 * FULL_PARAMS);
    fprintf(stderr, "time: numerical central %.2f ms, forward %.2f ms; analytic %.3f ms\n", central_ms, forward_ms,
            analytic_ms);
    return TG_OK;
}

/* The lecture's use of the numerical gradient: checking analytic ones,
 * tg_backward's and two derived by hand, one of them with the slip. */
static void gradient_check(const problem *pr, const double *analytic, const double *num)
{
    static double hand[PARAMS];
    printf("\ngradient check against the numerical gradient (central, h = %g); agree: error < %g\n", GOOD_H,
           AGREE);
    const char *names[3] = {"tg_backward", "by hand, 2 lambda W", "by hand, lambda W"};
    for (int k = 0; k < 3; k++) {
        if (k > 0) hand_gradient(pr, k == 1 ? 2.0 : 1.0, hand);
        double err = rel_error(k == 0 ? analytic : hand, num, PARAMS);
        printf("  %-20s relative error %.3e  %s\n", names[k], err, err < AGREE ? "agrees" : "WRONG");
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: gradient_check [--data-dir FASHION_DIR] [DIR]   (DIR: where to write gradient_check.dat)\n");
}

int main(int argc, char **argv)
{
    const char *out_dir = NULL, *data = "/usr/share/datasets/fashion-mnist";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data-dir") && i + 1 < argc) {
            data = argv[++i];
        } else if (argv[i][0] != '-' && !out_dir) {
            out_dir = argv[i];
        } else {
            usage();
            return 1;
        }
    }
    static problem pr;
    tg_rng rng;
    tg_rng_seed(&rng, 4);
    if (load_data(&pr, data) != TG_OK) return fail(tg_last_error());
    pr.params[0] = tg_randn(NULL, &rng, TG_SHAPE(C, D));
    pr.params[1] = tg_randn(NULL, &rng, TG_SHAPE(C));
    pr.g = tg_graph_new();
    FILE *f = NULL;
    int rc = 1;
    if (!pr.params[0] || !pr.params[1] || !pr.g || tg_tensor_requires_grad(pr.params[0], true) != TG_OK ||
        tg_tensor_requires_grad(pr.params[1], true) != TG_OK) {
        fail(tg_last_error());
        goto done;
    }
    if (out_dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/gradient_check.dat", out_dir);
        if (!(f = fopen(path, "w"))) {
            fprintf(stderr, "gradient_check: cannot write %s\n", path);
            goto done;
        }
    }
    for (size_t i = 0; i < pr.params[0]->size; i++) pr.params[0]->data[i] *= 0.1f; /* logits of order 1 */
    printf("linear softmax classifier, L = cross-entropy + %g |W|^2, on %d FashionMNIST images at %dx%d\n",
           LAMBDA, N, SIDE, SIDE);
    printf("parameters: W (%d,%d) and b (%d), %d in all\n", C, D, C, PARAMS);

    static double analytic[PARAMS], num[PARAMS];
    tg_gradcheck_result res;
    if (costs(&pr, analytic, num) != TG_OK || h_table(&pr, analytic, f) != TG_OK ||
        tg_gradcheck(build_loss, &pr, pr.params, 2, NULL, &res) != TG_OK) {
        fail(tg_last_error());
        goto done;
    }
    gradient_check(&pr, analytic, num);
    /* its defaults: eps 1e-3, and pass when |a - n| <= 1e-3 + 1e-2 |n| for every element */
    printf("\ntg_gradcheck on L(W, b): %zu elements, max |a - n| %.3e (pass: <= 1e-3 + 1e-2 |n|): %s\n",
           res.n_checked, res.max_abs_err, res.ok ? "ok" : "FAILED");
    rc = res.ok ? 0 : fail("tg_gradcheck found the gradients differ");
done:
    if (f && fclose(f) != 0 && rc == 0) rc = fail("cannot write gradient_check.dat");
    tg_graph_free(pr.g);
    tg_tensor_free(pr.params[0]);
    tg_tensor_free(pr.params[1]);
    return rc;
}
