/* modules.c — a network of torch.nn layers, defined in one line, trained
 * on two moons, saved as a safetensors state dict (what PyTorch's
 * load_state_dict takes) and loaded back into a fresh copy.
 *
 *   build/examples/modules [file.safetensors]                              */
#define _POSIX_C_SOURCE 200809L /* getpid */
#include <stdio.h>
#include <unistd.h>

#include <tg.h>

enum { N = 400, STEPS = 300 };

int main(int argc, char **argv)
{
    char tmp[64];
    snprintf(tmp, sizeof tmp, "/tmp/tg_modules_%ld.safetensors", (long)getpid());
    const char *path = argc > 1 ? argv[1] : tmp;
    static float x[N * 2];
    static int y[N];
    tg_rng rng;
    tg_rng_seed(&rng, 1);
    tg_make_moons(N, 0.1f, &rng, x, y);

    /* nn.Sequential(Flatten(), Linear(2, 16), Tanh(), Linear(16, 2)) */
    const char *spec = "flatten linear(16) tanh linear(2)";
    tg_sample_shape point = {1, 1, 2};
    tg_module *net = tg_model_parse(spec, point, &rng);
    tg_tensor *params[8];
    int n = tg_module_parameters(net, params, 8);
    tg_optim_opts opts = tg_optim_defaults(TG_OPTIM_ADAM);
    opts.lr = 0.05;
    tg_optim *opt = tg_optim_new(TG_OPTIM_ADAM, params, n, &opts);
    tg_graph *g = tg_graph_new();
    if (!net || !opt || !g) {
        fprintf(stderr, "modules: %s\n", tg_last_error());
        return 1;
    }
    tg_tensor *loss = NULL;
    for (int step = 0; step < STEPS; step++) {
        tg_graph_reset(g);
        tg_tensor *logits = tg_module_forward(net, g, tg_from_blob(g, x, TG_SHAPE(N, 1, 1, 2)));
        loss = tg_cross_entropy(g, logits, y, NULL);
        tg_optim_zero_grad(opt);
        if (tg_backward(loss) != TG_OK || tg_optim_step(opt) != TG_OK) {
            fprintf(stderr, "modules: %s\n", tg_last_error());
            return 1;
        }
    }
    size_t count = 0;
    for (int i = 0; i < n; i++) count += params[i]->size;
    printf("%s: %zu parameters in %d tensors, loss %.4f after %d steps\n", spec, count, n, loss->data[0], STEPS);

    /* the state dict under torch's keys: 1.weight, 1.bias, 3.weight, 3.bias */
    tg_module *copy = tg_model_parse(spec, point, &rng);
    if (tg_module_save(net, path, spec) != TG_OK || tg_module_load(copy, path) != TG_OK) {
        fprintf(stderr, "modules: %s\n", tg_last_error());
        return 1;
    }
    tg_graph_reset(g);
    tg_module_train(copy, false);
    tg_tensor *a = tg_module_forward(net, g, tg_from_blob(g, x, TG_SHAPE(N, 1, 1, 2)));
    tg_tensor *b = tg_module_forward(copy, g, tg_from_blob(g, x, TG_SHAPE(N, 1, 1, 2)));
    int same = 0;
    for (size_t i = 0; i < a->size; i++) same += a->data[i] == b->data[i];
    bool all_same = same == (int)a->size;
    printf("saved to %s and loaded into a fresh copy: %d of %zu logits the same\n", path, same, a->size);
    tg_graph_free(g);
    tg_optim_free(opt);
    tg_module_free(net);
    tg_module_free(copy);
    if (path == tmp) remove(tmp);
    return all_same ? 0 : 1;
}
