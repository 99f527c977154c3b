/* reduce.c — sum, mean and max, over everything or along one axis. */
#include "../kernels/kernels.h"
#include "ops.h"

/* The ops of this file (each defined after its backward). */
static const tg__op_desc sum_op, mean_op, sum_axis_op, mean_axis_op, max_axis_op;

/* ---- sum / mean of all elements: y = s sum_i x_i (s = 1 or 1/size);
 *      dx_i += s dy ---- */
static tg_tensor *sum_all(const char *fn, tg_graph *g, const tg__op_desc *op, tg_tensor *x)
{
    if (!TG__INPUTS_OK(fn, g, x)) return NULL;
    tg_tensor *y = tg__op_new(fn, g, op, 0, NULL, x, NULL, NULL);
    if (!y) return NULL;
    y->fparam[0] = op == &mean_op ? 1.0f / (float)x->size : 1.0f;
    double sum = tg__k_sum(x->size, x->data);
    y->data[0] = (float)(op == &mean_op ? sum / (double)x->size : sum);
    return tg__op_done(g, y);
}

static void sum_backward(tg_tensor *y)
{
    tg_tensor *x = y->src[0];
    if (x->requires_grad) tg__k_spread_axis(1, x->size, 1, y->grad, y->fparam[0], x->grad);
}

static const tg__op_desc sum_op = {
    .name = "sum", .local = "dy/dx_i = 1",
    .elementwise = false, .backward = sum_backward};
static const tg__op_desc mean_op = {
    .name = "mean", .local = "dy/dx_i = 1/n",
    .elementwise = false, .backward = sum_backward};

tg_tensor *tg_sum(tg_graph *g, tg_tensor *x) { return sum_all("tg_sum", g, &sum_op, x); }

tg_tensor *tg_mean(tg_graph *g, tg_tensor *x)
{
    return sum_all("tg_mean", g, &mean_op, x);
}

/* A new tensor for op reducing x along axis, shaped as torch's reductions
 * (keepdim or not), with x seen as (outer, n, inner) around the axis. */
static tg_tensor *axis_reduction(const char *fn, tg_graph *g, const tg__op_desc *op, tg_tensor *x, int axis, bool keepdim,
                                 size_t *outer, size_t *n, size_t *inner)
{
    if (!TG__INPUTS_OK(fn, g, x) || (axis = tg__axis(fn, x, axis)) < 0) return NULL;
    int shape[TG_MAX_DIMS];
    int ndim = tg__reduced_shape(x, axis, keepdim, shape);
    tg_tensor *y = tg__op_new(fn, g, op, ndim, shape, x, NULL, NULL);
    if (!y) return NULL;
    y->iparam[0] = axis;
    tg__split_axis(x, axis, outer, n, inner);
    return y;
}

/* ---- sum / mean along an axis: y[o,i] = s sum_k x[o,k,i];
 *      dx[o,k,i] += s dy[o,i] ---- */
static tg_tensor *sum_axis(const char *fn, tg_graph *g, const tg__op_desc *op, tg_tensor *x, int axis, bool keepdim)
{
    size_t outer, n, inner;
    tg_tensor *y = axis_reduction(fn, g, op, x, axis, keepdim, &outer, &n, &inner);
    if (!y) return NULL;
    y->fparam[0] = op == &mean_axis_op ? 1.0f / (float)n : 1.0f;
    tg__k_sum_axis(outer, n, inner, x->data, y->data);
    if (op == &mean_axis_op)
        for (size_t i = 0; i < y->size; i++) y->data[i] = (float)((double)y->data[i] / (double)n);
    return tg__op_done(g, y);
}

static void sum_axis_backward(tg_tensor *y)
{
    tg_tensor *x = y->src[0];
    if (!x->requires_grad) return;
    size_t outer, n, inner;
    tg__split_axis(x, y->iparam[0], &outer, &n, &inner);
    tg__k_spread_axis(outer, n, inner, y->grad, y->fparam[0], x->grad);
}

static const tg__op_desc sum_axis_op = {
    .name = "sum_axis", .local = "dy/dx_i = 1 along the axis",
    .elementwise = false, .backward = sum_axis_backward};
static const tg__op_desc mean_axis_op = {
    .name = "mean_axis", .local = "dy/dx_i = 1/n along the axis",
    .elementwise = false, .backward = sum_axis_backward};

tg_tensor *tg_sum_axis(tg_graph *g, tg_tensor *x, int axis, bool keepdim)
{
    return sum_axis("tg_sum_axis", g, &sum_axis_op, x, axis, keepdim);
}

tg_tensor *tg_mean_axis(tg_graph *g, tg_tensor *x, int axis, bool keepdim)
{
    return sum_axis("tg_mean_axis", g, &mean_axis_op, x, axis, keepdim);
}

/* ---- max along an axis: y[o,i] = max_k x[o,k,i]; the gradient goes to
 * the first maximal element, whose index is saved for backward ---- */
tg_tensor *tg_max_axis(tg_graph *g, tg_tensor *x, int axis, bool keepdim)
{
    static const char fn[] = "tg_max_axis";
    size_t outer, n, inner;
    tg_tensor *y = axis_reduction(fn, g, &max_axis_op, x, axis, keepdim, &outer, &n, &inner);
    if (!y || !(y->aux = tg__graph_alloc(fn, g, y->size * sizeof(int)))) return NULL;
    tg__k_max_axis(outer, n, inner, x->data, y->data, y->aux);
    return tg__op_done(g, y);
}

static void max_axis_backward(tg_tensor *y)
{
    tg_tensor *x = y->src[0];
    if (!x->requires_grad) return;
    size_t outer, n, inner;
    tg__split_axis(x, y->iparam[0], &outer, &n, &inner);
    tg__k_max_axis_backward(outer, n, inner, y->aux, y->grad, x->grad);
}

static const tg__op_desc max_axis_op = {
    .name = "max_axis", .local = "dy/dx_i = 1 at the maximum, else 0",
    .elementwise = false, .backward = max_axis_backward};

tg_status tg_argmax(const tg_tensor *x, int axis, int *out)
{
    if (!x || !out) {
        tg__error("tg_argmax: %s is NULL", x ? "out" : "tensor");
        return TG_ERR_ARG;
    }
    if ((axis = tg__axis("tg_argmax", x, axis)) < 0) return TG_ERR_ARG;
    size_t outer, n, inner;
    tg__split_axis(x, axis, &outer, &n, &inner);
    tg__k_max_axis(outer, n, inner, x->data, NULL, out);
    return TG_OK;
}
