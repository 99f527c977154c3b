/* own_network.c — a network of your own on FashionMNIST, as a new user
 * writes it with torch.nn (examples/own_network.py is the same program in
 * PyTorch, side by side in docs/MODULES.md): 784-256-128-10 with
 * LayerNorm, GELU, dropout and a residual block; AdamW without weight decay
 * on biases and norms; linear warmup then cosine; gradient clipping; saved
 * as a safetensors state dict (own_network.safetensors, here; PyTorch's
 * load_state_dict takes it), loaded into a fresh copy, which predicts.
 *
 *   build/examples/own_network [epochs] [data dir]                         */
#include <stdio.h>
#include <stdlib.h>

#include <tg.h>

enum { BATCH = 64 };
static float x[BATCH * 28 * 28];
static int y[BATCH], pred[BATCH];
static const char *spec = "flatten linear(256) layernorm gelu dropout(0.1) linear(128) "
                          "residual(linear(128) layernorm gelu) linear(10)";

static int fail(void) { return fprintf(stderr, "own_network: %s\n", tg_last_error()), 1; }

int main(int argc, char **argv)
{
    int epochs = argc > 1 ? atoi(argv[1]) : 1;
    const tg_dataset_info *fashion = tg_dataset_find("fashion-mnist");
    tg_dataset train, test;
    if (tg_dataset_open(fashion, argc > 2 ? argv[2] : NULL, true, &train) != TG_OK ||
        tg_dataset_open(fashion, argc > 2 ? argv[2] : NULL, false, &test) != TG_OK)
        return fail();
    tg_rng rng;
    tg_rng_seed(&rng, 0);
    tg_module *net = tg_model_parse(spec, fashion->shape, &rng);
    if (!net) return fail();
    tg_module_set_rng(net, &rng);

    /* AdamW, and a second group without weight decay for biases and norms */
    const char *no_decay = "*bias layernorm:*";
    tg_tensor *decayed[16], *plain[16];
    tg_optim_opts opts = tg_optim_defaults(TG_OPTIM_ADAMW);
    opts.lr = 1e-3, opts.weight_decay = 0.01;
    tg_optim *opt = tg_optim_new(TG_OPTIM_ADAMW, decayed, tg_module_select(net, no_decay, false, decayed, 16), &opts);
    opts.weight_decay = 0;
    if (!opt || tg_optim_add_group(opt, plain, tg_module_select(net, no_decay, true, plain, 16), &opts) != TG_OK)
        return fail();
    tg_sched_opts warmup_cosine = tg_sched_defaults(TG_SCHED_WARMUP_COSINE);
    warmup_cosine.total = epochs * ((train.n + BATCH - 1) / BATCH);
    warmup_cosine.warmup = warmup_cosine.total / 10;
    tg_sched *sched = tg_sched_new(opt, TG_SCHED_WARMUP_COSINE, &warmup_cosine);

    tg_graph *g = tg_graph_new();
    int *order = malloc(sizeof(int) * train.n);
    if (!sched || !g || !order) return fail();
    for (int epoch = 1; epoch <= epochs; epoch++) {
        tg_rng_permutation(&rng, order, train.n);
        double sum = 0;
        for (int start = 0; start < train.n; start += BATCH) {
            int n = train.n - start < BATCH ? train.n - start : BATCH;
            tg_dataset_batch(&train, order + start, n, 0.0f, 1.0f, x, y);
            tg_tensor *logits = tg_module_forward(net, g, tg_from_blob(g, x, TG_SHAPE(n, 1, 28, 28)));
            tg_tensor *loss = tg_cross_entropy(g, logits, y, NULL);
            tg_module_zero_grad(net);
            if (tg_backward(loss) != TG_OK) return fail();
            tg_module_clip_grad_norm(net, 1.0);
            tg_optim_step(opt);
            tg_sched_step(sched);
            sum += loss->data[0] * n;
            tg_graph_reset(g);
        }
        printf("epoch %d: train loss %.4f\n", epoch, sum / train.n);
    }

    /* the state dict, under torch's keys, into a fresh copy that predicts */
    if (tg_module_save(net, "own_network.safetensors", spec) != TG_OK) return fail();
    tg_module *copy = tg_model_parse(spec, fashion->shape, &rng);
    if (!copy || tg_module_load(copy, "own_network.safetensors") != TG_OK) return fail();
    tg_module_train(copy, false);
    tg_graph_set_grad(g, false);
    int correct = 0;
    for (int start = 0; start < test.n; start += BATCH) {
        int n = test.n - start < BATCH ? test.n - start : BATCH;
        tg_dataset_slice(&test, start, n, 0.0f, 1.0f, x, y);
        tg_argmax(tg_module_forward(copy, g, tg_from_blob(g, x, TG_SHAPE(n, 1, 28, 28))), 1, pred);
        for (int i = 0; i < n; i++) correct += pred[i] == y[i];
        tg_graph_reset(g);
    }
    printf("reloaded from own_network.safetensors: test accuracy %.2f%%\n", 100.0 * correct / test.n);
    tg_sched_free(sched), tg_optim_free(opt), tg_graph_free(g), free(order);
    tg_module_free(net), tg_module_free(copy);
    tg_dataset_free(&train), tg_dataset_free(&test);
    return 0;
}
