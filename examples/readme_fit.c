#include <stdio.h>
#include <tg.h>

int main(void)
{
    float xs[] = {0, 1, 2, 3}, ys[] = {-1, 1, 3, 5};
    tg_tensor *w = tg_zeros(NULL, TG_SHAPE(1, 1));   /* parameters: ours to free */
    tg_tensor *b = tg_zeros(NULL, TG_SHAPE(1));
    tg_tensor_requires_grad(w, true);
    tg_tensor_requires_grad(b, true);

    tg_graph *g = tg_graph_new();                      /* owns every intermediate */
    for (int step = 0; step < 500; step++) {
        tg_tensor *x = tg_from_data(g, xs, TG_SHAPE(4, 1));
        tg_tensor *y = tg_from_data(g, ys, TG_SHAPE(4, 1));
        tg_tensor *loss = tg_mse_loss(g, tg_linear(g, x, w, b), y, TG_REDUCE_MEAN);
        if (!loss) { fprintf(stderr, "%s\n", tg_last_error()); return 1; }

        tg_tensor_zero_grad(w);
        tg_tensor_zero_grad(b);
        tg_backward(loss);                              /* fills w->grad, b->grad */
        w->data[0] -= 0.05f * w->grad[0];
        b->data[0] -= 0.05f * b->grad[0];
        tg_graph_reset(g);                              /* drop this step, keep the memory */
    }
    printf("w = %.3f, b = %.3f\n", w->data[0], b->data[0]);   /* w = 2.000, b = -1.000 */
    tg_graph_free(g);
    tg_tensor_free(w);
    tg_tensor_free(b);
    return 0;
}
