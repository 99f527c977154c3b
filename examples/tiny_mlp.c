/* tiny_mlp.c — the tutorial's network (docs/TUTORIAL.md) in tg's tensors:
 * two inputs, two sigmoid hidden units, one linear output, squared error.
 * It runs one forward pass, traces the backward sweep that the tutorial
 * works by hand, and prints the gradients an optimizer would use.
 *
 *   build/examples/tiny_mlp [graph.dot]     (render: dot -Tpng graph.dot)  */
#include <stdio.h>

#include <tg.h>

/* A named parameter holding the given values. */
static tg_tensor *parameter(const char *name, int ndim, const int *shape, const float *values)
{
    tg_tensor *t = tg_from_data(NULL, values, ndim, shape);
    if (t) {
        tg_tensor_requires_grad(t, true);
        tg_tensor_set_name(t, name);
    }
    return t;
}

static tg_tensor *named(tg_tensor *t, const char *name)
{
    if (t) tg_tensor_set_name(t, name);
    return t;
}

/* The gradient, laid out row by row like the parameter. */
static void print_grad(const tg_tensor *p)
{
    int cols = p->shape[p->ndim - 1];
    printf("  dL/d%-3s = [", p->name);
    for (size_t i = 0; i < p->size; i++)
        printf("%s%.4g", i == 0 ? "" : i % (size_t)cols ? ", " : "; ", p->grad[i]);
    printf("]\n");
}

static int write_dot(const tg_tensor *loss, const char *path)
{
    FILE *f = fopen(path, "w");
    int ok = f && tg_graph_dot(loss, f) == TG_OK;
    if (f && fclose(f) != 0) ok = 0;
    if (!ok) fprintf(stderr, "tiny_mlp: cannot write %s\n", path);
    return ok;
}

int main(int argc, char **argv)
{
    tg_tensor *W1 = parameter("W1", 2, (int[]){2, 2}, (float[]){0.2f, -0.4f, 0.6f, 0.1f});
    tg_tensor *b1 = parameter("b1", 1, (int[]){2}, (float[]){0.1f, -0.3f});
    tg_tensor *W2 = parameter("W2", 2, (int[]){1, 2}, (float[]){0.5f, -0.7f});
    tg_tensor *b2 = parameter("b2", 1, (int[]){1}, (float[]){0.2f});
    tg_graph *g = tg_graph_new();

    tg_tensor *x = named(tg_from_data(g, (float[]){0.5f, -1.0f}, 2, (int[]){1, 2}), "x");
    tg_tensor *y = named(tg_from_data(g, (float[]){1.0f}, 2, (int[]){1, 1}), "y");
    tg_tensor *z = named(tg_linear(g, x, W1, b1), "z");          /* z = x W1^T + b1 */
    tg_tensor *h = named(tg_sigmoid(g, z), "h");                 /* h = sigmoid(z) */
    tg_tensor *yhat = named(tg_linear(g, h, W2, b2), "yhat");    /* yhat = h W2^T + b2 */
    tg_tensor *L = named(tg_mse_loss(g, yhat, y, TG_REDUCE_MEAN), "L");   /* (yhat - y)^2 */

    int status = 1;
    if (L && tg_backward_trace(L, stdout) == TG_OK) {
        tg_tensor *params[] = {W1, b1, W2, b2};
        printf("\nthe gradients an optimizer steps along:\n");
        for (int i = 0; i < 4; i++) print_grad(params[i]);
        status = argc > 1 && !write_dot(L, argv[1]);
    } else {
        fprintf(stderr, "tiny_mlp: %s\n", tg_last_error());
    }
    tg_graph_free(g);
    tg_tensor_free(W1), tg_tensor_free(b1), tg_tensor_free(W2), tg_tensor_free(b2);
    return status;
}
