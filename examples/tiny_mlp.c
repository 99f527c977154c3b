/* tiny_mlp.c — the tutorial's network (docs/TUTORIAL.md) in tg's tensors:
 * two inputs, two sigmoid hidden units, one linear output, squared error.
 * It runs one forward pass, traces the backward sweep that the tutorial
 * works by hand, prints the gradients, and takes one step down them.
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

/* The tutorial's forward pass on g: x = (0.5, -1), target 1, and
 * p = {W1 (2,2), b1 (2), W2 (1,2), b2 (1)}. */
static tg_tensor *forward(tg_graph *g, tg_tensor *const *p)
{
    tg_tensor *x = named(tg_from_data(g, (float[]){0.5f, -1.0f}, TG_SHAPE(1, 2)), "x");
    tg_tensor *y = named(tg_from_data(g, (float[]){1.0f}, TG_SHAPE(1, 1)), "y");
    tg_tensor *z = named(tg_linear(g, x, p[0], p[1]), "z");      /* z = x W1^T + b1 */
    tg_tensor *h = named(tg_sigmoid(g, z), "h");                 /* h = sigmoid(z) */
    tg_tensor *yhat = named(tg_linear(g, h, p[2], p[3]), "yhat");   /* yhat = h W2^T + b2 */
    return named(tg_mse_loss(g, yhat, y, TG_REDUCE_MEAN), "L");   /* L = (yhat - y)^2 */
}

int main(int argc, char **argv)
{
    tg_tensor *W1 = parameter("W1", TG_SHAPE(2, 2), (float[]){0.2f, -0.4f, 0.6f, 0.1f});
    tg_tensor *b1 = parameter("b1", TG_SHAPE(2), (float[]){0.1f, -0.3f});
    tg_tensor *W2 = parameter("W2", TG_SHAPE(1, 2), (float[]){0.5f, -0.7f});
    tg_tensor *b2 = parameter("b2", TG_SHAPE(1), (float[]){0.2f});
    tg_tensor *params[] = {W1, b1, W2, b2};
    tg_graph *g = tg_graph_new();

    int status = 1;
    tg_tensor *L = forward(g, params);
    if (L && tg_backward_trace(L, stdout) == TG_OK) {
        printf("\nthe gradients an optimizer steps along:\n");
        for (int i = 0; i < 4; i++) print_grad(params[i]);
        status = argc > 1 && !write_dot(L, argv[1]);
        float before = L->data[0], lr = 0.5f;
        for (int i = 0; i < 4; i++)                              /* w -= lr dL/dw */
            for (size_t k = 0; k < params[i]->size; k++) params[i]->data[k] -= lr * params[i]->grad[k];
        tg_graph_reset(g);
        if ((L = forward(g, params)))
            printf("\none step of gradient descent, lr %g: L %.4f -> %.4f\n", lr, before, L->data[0]);
    }
    if (!L) {
        fprintf(stderr, "tiny_mlp: %s\n", tg_last_error());
        status = 1;
    }
    tg_graph_free(g);
    for (int i = 0; i < 4; i++) tg_tensor_free(params[i]);
    return status;
}
