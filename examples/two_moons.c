/* two_moons.c — the demo: an MLP learns to separate two interleaving half
 * circles, printing its loss as it falls. The whole training loop is here:
 * mini-batches, forward, cross-entropy, backward, an optimizer step.
 *
 *   build/examples/two_moons [epochs] [seed]                                */
#include <stdio.h>
#include <stdlib.h>

#include <tg.h>

enum { N_TRAIN = 1000, N_TEST = 500, BATCH = 50 };

/* The fraction of rows of x whose predicted class is its label. */
static double accuracy(tg_graph *g, const tg_mlp *m, float *x, const int *labels, int n)
{
    bool was = tg_graph_set_grad(g, false);
    tg_tensor *logits = tg_mlp_forward(g, m, tg_from_blob(g, x, TG_SHAPE(n, 2)), false, NULL);
    int *pred = malloc((size_t)n * sizeof *pred);
    int right = 0;
    if (logits && pred && tg_argmax(logits, 1, pred) == TG_OK)
        for (int i = 0; i < n; i++) right += pred[i] == labels[i];
    free(pred);
    tg_graph_set_grad(g, was);
    tg_graph_reset(g);
    return (double)right / n;
}

int main(int argc, char **argv)
{
    int epochs = argc > 1 ? atoi(argv[1]) : 60;
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 0;
    if (epochs <= 0) {
        fprintf(stderr, "usage: two_moons [epochs > 0] [seed]\n");
        return 2;
    }
    static float x_train[N_TRAIN * 2], x_test[N_TEST * 2];
    static int y_train[N_TRAIN], y_test[N_TEST];
    tg_rng rng;
    tg_rng_seed(&rng, seed);
    if (tg_make_moons(N_TRAIN, 0.1f, &rng, x_train, y_train) != TG_OK ||
        tg_make_moons(N_TEST, 0.1f, &rng, x_test, y_test) != TG_OK) {
        fprintf(stderr, "two_moons: %s\n", tg_last_error());
        return 1;
    }

    tg_mlp *model = tg_mlp_new(2, (int[]){32, 32}, 2, 2, TG_ACT_RELU, 0.0f, &rng);
    tg_graph *g = tg_graph_new();
    if (!model || !g) {
        fprintf(stderr, "two_moons: %s\n", tg_last_error());
        return 1;
    }
    tg_tensor *params[6];
    int n_params = tg_mlp_params(model, params, 6);
    const float lr = 0.1f;
    tg_optim_opts opts = tg_optim_defaults(TG_OPTIM_SGD);
    opts.lr = lr;
    tg_optim *opt = tg_optim_new(TG_OPTIM_SGD, params, n_params, &opts);
    if (!opt) {
        fprintf(stderr, "two_moons: %s\n", tg_last_error());
        return 1;
    }
    printf("two moons: %d training points, MLP 2-32-32-2 (relu), SGD lr %g, batch %d\n", N_TRAIN, lr, BATCH);
    for (int epoch = 1; epoch <= epochs; epoch++) {
        double total = 0.0;
        for (int start = 0; start < N_TRAIN; start += BATCH) {
            tg_tensor *x = tg_from_blob(g, x_train + 2 * start, TG_SHAPE(BATCH, 2));
            tg_tensor *loss = tg_cross_entropy(g, tg_mlp_forward(g, model, x, true, NULL), y_train + start, NULL);
            if (!loss) {
                fprintf(stderr, "two_moons: %s\n", tg_last_error());
                return 1;
            }
            tg_optim_zero_grad(opt);
            tg_backward(loss);
            tg_optim_step(opt); /* SGD: p -= lr dL/dp */
            total += loss->data[0];
            tg_graph_reset(g);
        }
        if (epoch == 1 || epoch % 10 == 0 || epoch == epochs)
            printf("epoch %3d  loss %.4f\n", epoch, total / (N_TRAIN / BATCH));
    }
    printf("train accuracy %.1f%%  test accuracy %.1f%%\n", 100 * accuracy(g, model, x_train, y_train, N_TRAIN),
           100 * accuracy(g, model, x_test, y_test, N_TEST));
    tg_graph_free(g);
    tg_optim_free(opt);
    tg_mlp_free(model);
    return 0;
}
