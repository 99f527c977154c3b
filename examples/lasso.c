/* lasso.c — the lectures' Lasso (CS498 lecture 21, "Putting It All
 * Together"): linear regression y = w.x + b with an L1 penalty lambda |w|_1,
 * mini-batches of 256, Adam at lr 0.01, 100 epochs. The data are synthetic
 * (fixed seed): 8 standardised features of which 3 carry no signal, so the
 * penalty should drive exactly those to ~0.
 *
 *   build/examples/lasso [epochs]     one CSV row per lambda on stdout       */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <tg.h>

enum { FEATURES = 8, N = 2000, N_TRAIN = 1600, BATCH = 256 };

/* Features 2, 5 and 7 carry no signal. */
static const float true_w[FEATURES] = {2.0f, -1.5f, 0.0f, 1.0f, 0.6f, 0.0f, -0.8f, 0.0f};
static const float true_b = 0.5f;
static float X[N * FEATURES], Y[N];

static void make_data(void)
{
    tg_rng rng;
    tg_rng_seed(&rng, 2024);
    for (int i = 0; i < N; i++) {
        double y = true_b;
        for (int j = 0; j < FEATURES; j++) {
            X[i * FEATURES + j] = tg_rng_normal(&rng);
            y += true_w[j] * X[i * FEATURES + j];
        }
        Y[i] = (float)(y + 0.5 * tg_rng_normal(&rng)); /* noise */
    }
}

/* Mean squared error of (w, b) on rows [from, to). */
static double mse(const tg_tensor *w, const tg_tensor *b, int from, int to)
{
    double sum = 0;
    for (int i = from; i < to; i++) {
        double e = b->data[0] - Y[i];
        for (int j = 0; j < FEATURES; j++) e += w->data[j] * X[i * FEATURES + j];
        sum += e * e;
    }
    return sum / (to - from);
}

/* Trains one Lasso at lam; prints lam, the weights, b, train and test MSE. */
static int fit(float lam, int epochs)
{
    tg_rng rng;
    tg_rng_seed(&rng, 7);
    tg_tensor *w = tg_randn(NULL, &rng, TG_SHAPE(FEATURES, 1)), *b = tg_zeros(NULL, TG_SHAPE(1));
    tg_tensor_requires_grad(w, true), tg_tensor_requires_grad(b, true);
    tg_optim_opts o = tg_optim_defaults(TG_OPTIM_ADAM);
    o.lr = 0.01;
    tg_optim *opt = tg_optim_new(TG_OPTIM_ADAM, (tg_tensor *[]){w, b}, 2, &o);
    tg_graph *g = tg_graph_new();
    int order[N_TRAIN];
    float xb[BATCH * FEATURES], yb[BATCH];
    for (int i = 0; i < N_TRAIN; i++) order[i] = i;
    for (int epoch = 0; opt && g && epoch < epochs; epoch++) {
        tg_rng_shuffle(&rng, order, N_TRAIN);
        for (int start = 0; start < N_TRAIN; start += BATCH) {
            int n = N_TRAIN - start < BATCH ? N_TRAIN - start : BATCH;
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < FEATURES; j++) xb[i * FEATURES + j] = X[order[start + i] * FEATURES + j];
                yb[i] = Y[order[start + i]];
            }
            tg_tensor *x = tg_from_blob(g, xb, TG_SHAPE(n, FEATURES)), *y = tg_from_blob(g, yb, TG_SHAPE(n, 1));
            tg_tensor *fit_loss = tg_mse_loss(g, tg_add(g, tg_matmul(g, x, w), b), y, TG_REDUCE_MEAN);
            tg_tensor *loss = tg_add(g, fit_loss, tg_l1_penalty(g, &w, 1, lam)); /* mse + lam |w|_1 */
            tg_optim_zero_grad(opt);
            if (tg_backward(loss) != TG_OK) {
                fprintf(stderr, "lasso: %s\n", tg_last_error());
                return 1;
            }
            tg_optim_step(opt);
            tg_graph_reset(g);
        }
    }
    printf("%g", lam);
    for (int j = 0; j < FEATURES; j++) printf(",%.6f", w->data[j]);
    printf(",%.6f,%.6f,%.6f\n", b->data[0], mse(w, b, 0, N_TRAIN), mse(w, b, N_TRAIN, N));
    tg_graph_free(g);
    tg_optim_free(opt);
    tg_tensor_free(w), tg_tensor_free(b);
    return 0;
}

int main(int argc, char **argv)
{
    int epochs = argc > 1 ? atoi(argv[1]) : 100;
    if (epochs < 1) {
        fprintf(stderr, "usage: lasso [epochs > 0]\n");
        return 2;
    }
    make_data();
    printf("# true weights:");
    for (int j = 0; j < FEATURES; j++) printf(" %g", true_w[j]);
    printf("\nlambda,w0,w1,w2,w3,w4,w5,w6,w7,b,train_mse,test_mse\n");
    const float lambdas[] = {0, 0.001f, 0.003f, 0.01f, 0.03f, 0.1f, 0.3f, 1.0f};
    for (size_t k = 0; k < sizeof lambdas / sizeof lambdas[0]; k++)
        if (fit(lambdas[k], epochs)) return 1;
    return 0;
}
