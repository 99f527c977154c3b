/* softmax.c — softmax and log_softmax along an axis, and dropout. */
#include "../kernels/kernels.h"
#include "ops.h"

/* The ops of this file (each defined after its backward). */
static const tg__op_desc softmax_op, log_softmax_op, dropout_op;

/* ---- softmax: y_k = e^(x_k - m) / sum_j e^(x_j - m), m = max_j x_j;
 *      dx = y (dy - sum_j dy_j y_j)
 * ---- log_softmax: y_k = x_k - m - log sum_j e^(x_j - m);
 *      dx = dy - softmax(x) sum_j dy_j, with softmax(x) = e^y ---- */
static tg_tensor *softmax(const char *fn, tg_graph *g, const tg__op_desc *op, tg_tensor *x, int axis)
{
    if (!TG__INPUTS_OK(fn, g, x) || (axis = tg__axis(fn, x, axis)) < 0) return NULL;
    tg_tensor *y = tg__op_new(fn, g, op, x->ndim, x->shape, x, NULL, NULL);
    if (!y) return NULL;
    size_t outer, n, inner;
    tg__split_axis(x, axis, &outer, &n, &inner);
    y->iparam[0] = axis;
    tg__k_softmax(outer, n, inner, x->data, y->data, op == &log_softmax_op);
    return tg__op_done(g, y);
}

static void softmax_backward(tg_tensor *y)
{
    tg_tensor *x = y->src[0];
    if (!x->requires_grad) return;
    size_t outer, n, inner;
    tg__split_axis(x, y->iparam[0], &outer, &n, &inner);
    tg__k_softmax_backward(outer, n, inner, y->data, y->grad, x->grad, y->op == &log_softmax_op);
}

static const tg__op_desc softmax_op = {
    .name = "softmax", .local = "dy_i/dx_j = y_i (delta_ij - y_j)",
    .elementwise = false, .backward = softmax_backward};
static const tg__op_desc log_softmax_op = {
    .name = "log_softmax", .local = "dy_i/dx_j = delta_ij - softmax(x)_j",
    .elementwise = false, .backward = softmax_backward};

tg_tensor *tg_softmax(tg_graph *g, tg_tensor *x, int axis) { return softmax("tg_softmax", g, &softmax_op, x, axis); }

tg_tensor *tg_log_softmax(tg_graph *g, tg_tensor *x, int axis)
{
    return softmax("tg_log_softmax", g, &log_softmax_op, x, axis);
}

/* ---- dropout: y = x m, m_i = 0 with probability p else 1/(1-p);
 *      dx += dy m, with the mask saved for backward ---- */
tg_tensor *tg_dropout(tg_graph *g, tg_tensor *x, float p, bool train, tg_rng *rng)
{
    static const char fn[] = "tg_dropout";
    if (!TG__INPUTS_OK(fn, g, x)) return NULL;
    if (!(p >= 0.0f && p <= 1.0f)) {
        tg__error("%s: p = %g: must be in [0, 1]", fn, p);
        return NULL;
    }
    if (!train || p == 0.0f) return x;
    if (!rng) {
        tg__error("%s: rng is NULL (training dropout draws a mask)", fn);
        return NULL;
    }
    tg_tensor *y = tg__op_new(fn, g, &dropout_op, x->ndim, x->shape, x, NULL, NULL);
    if (!y || !(y->aux = tg__graph_alloc(fn, g, x->size * sizeof(float)))) return NULL;
    y->fparam[0] = p;
    tg__k_dropout(x->size, x->data, p, rng, y->aux, y->data);
    return tg__op_done(g, y);
}

static void dropout_backward(tg_tensor *y)
{
    tg_tensor *x = y->src[0];
    if (x->requires_grad) tg__k_mul_acc(y->size, y->grad, y->aux, x->grad);
}

static const tg__op_desc dropout_op = {
    .name = "dropout", .local = "dy/dx = mask / (1 - p)",
    .elementwise = true, .backward = dropout_backward};
