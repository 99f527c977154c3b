/* fashion_mnist.c — the PyTorch optimization tutorial's train_loop and
 * test_loop (pytorch.org/tutorials/beginner/basics/optimization_tutorial),
 * the lectures' "first training script", written with tg.
 *
 *   build/examples/fashion_mnist [epochs] [data dir]                        */
#include <stdio.h>
#include <stdlib.h>

#include <tg.h>

enum { BATCH = 64, PIXELS = 28 * 28 };
static float x[BATCH * PIXELS];
static int y[BATCH], pred[BATCH];

static void train_loop(const tg_dataset *d, int *order, tg_mlp *model, tg_optim *opt, tg_graph *g, tg_rng *rng)
{
    tg_rng_shuffle(rng, order, d->n);                          /* DataLoader(shuffle=True) */
    for (int batch = 0, start = 0; start < d->n; batch++, start += BATCH) {
        int n = d->n - start < BATCH ? d->n - start : BATCH;
        tg_dataset_batch(d, order + start, n, 0.0f, 1.0f, x, y);   /* ToTensor(): pixels / 255 */
        tg_tensor *pred_logits = tg_mlp_forward(g, model, tg_from_blob(g, x, TG_SHAPE(n, PIXELS)), true, rng);
        tg_tensor *loss = tg_cross_entropy(g, pred_logits, y, NULL);   /* nn.CrossEntropyLoss() */
        tg_backward(loss);                                       /* loss.backward() */
        tg_optim_step(opt);                                      /* optimizer.step() */
        tg_optim_zero_grad(opt);                                 /* optimizer.zero_grad() */
        if (batch % 100 == 0) printf("loss: %f  [%5d/%5d]\n", loss->data[0], start + n, d->n);
        tg_graph_reset(g);                                       /* this step's tensors are done */
    }
}

static void test_loop(const tg_dataset *d, const int *order, tg_mlp *model, tg_graph *g)
{
    double test_loss = 0;
    int correct = 0, batches = 0;
    bool was = tg_graph_set_grad(g, false);                      /* with torch.no_grad(): */
    for (int start = 0; start < d->n; start += BATCH, batches++) {
        int n = d->n - start < BATCH ? d->n - start : BATCH;
        tg_dataset_batch(d, order + start, n, 0.0f, 1.0f, x, y);
        tg_tensor *logits = tg_mlp_forward(g, model, tg_from_blob(g, x, TG_SHAPE(n, PIXELS)), false, NULL);
        test_loss += tg_cross_entropy(g, logits, y, NULL)->data[0];
        tg_argmax(logits, 1, pred);                              /* pred.argmax(1) */
        for (int i = 0; i < n; i++) correct += pred[i] == y[i];
        tg_graph_reset(g);
    }
    tg_graph_set_grad(g, was);
    printf("Test Error: \n Accuracy: %0.1f%%, Avg loss: %8f \n\n", 100.0 * correct / d->n, test_loss / batches);
}

int main(int argc, char **argv)
{
    int epochs = argc > 1 ? atoi(argv[1]) : 10;
    const char *dir = argc > 2 ? argv[2] : "/usr/share/datasets/fashion-mnist";
    tg_dataset train, test;
    if (epochs < 1 || tg_dataset_load(dir, true, &train) != TG_OK || tg_dataset_load(dir, false, &test) != TG_OK) {
        fprintf(stderr, "fashion_mnist: %s\n", epochs < 1 ? "epochs must be positive" : tg_last_error());
        return 1;
    }
    tg_rng rng;
    tg_rng_seed(&rng, 0);
    /* NeuralNetwork: Flatten, Linear(784, 512), ReLU, Linear(512, 512), ReLU, Linear(512, 10) */
    tg_mlp *model = tg_mlp_new(PIXELS, (int[]){512, 512}, 2, 10, TG_ACT_RELU, 0.0f, &rng);
    tg_tensor *params[6];
    tg_optim_opts opts = tg_optim_defaults(TG_OPTIM_SGD);
    opts.lr = 1e-3;                                              /* learning_rate = 1e-3 */
    tg_optim *opt = tg_optim_new(TG_OPTIM_SGD, params, tg_mlp_params(model, params, 6), &opts);
    tg_graph *g = tg_graph_new();
    int *order = malloc(sizeof(int) * (size_t)(train.n > test.n ? train.n : test.n));
    if (!model || !opt || !g || !order) {
        fprintf(stderr, "fashion_mnist: %s\n", tg_last_error());
        return 1;
    }
    for (int t = 0; t < epochs; t++) {
        printf("Epoch %d\n-------------------------------\n", t + 1);
        for (int i = 0; i < train.n; i++) order[i] = i;
        train_loop(&train, order, model, opt, g, &rng);
        for (int i = 0; i < test.n; i++) order[i] = i;
        test_loop(&test, order, model, g);
    }
    printf("Done!\n");
    free(order);
    tg_graph_free(g);
    tg_optim_free(opt);
    tg_mlp_free(model);
    tg_dataset_free(&train);
    tg_dataset_free(&test);
    return 0;
}
