/* shape.c — views (same data, new shape: reshape, flatten), detach, and
 * the axis helpers the reductions share. */
#include "../kernels/kernels.h"
#include "ops.h"

int tg__axis(const char *fn, const tg_tensor *x, int axis)
{
    int n = x->ndim ? x->ndim : 1; /* a scalar has axis 0 (and -1), as in torch */
    if (axis < -n || axis >= n) {
        char s[64];
        tg__error("%s: axis %d is out of range for shape %s", fn, axis, tg_shape_str(x, s));
        return -1;
    }
    return axis < 0 ? axis + n : axis;
}

void tg__split_axis(const tg_tensor *x, int axis, size_t *outer, size_t *n, size_t *inner)
{
    *outer = *inner = 1;
    for (int d = 0; d < axis; d++) *outer *= (size_t)x->shape[d];
    for (int d = axis + 1; d < x->ndim; d++) *inner *= (size_t)x->shape[d];
    *n = (size_t)x->shape[axis];
}

int tg__reduced_shape(const tg_tensor *x, int axis, bool keepdim, int *shape)
{
    int ndim = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (d != axis)
            shape[ndim++] = x->shape[d];
        else if (keepdim)
            shape[ndim++] = 1;
    }
    return ndim;
}

/* ---- view: y shares x's data, so its gradient passes straight through ---- */
static void view_backward(tg_tensor *y)
{
    tg_tensor *x = y->src[0];
    if (x->requires_grad) tg__k_acc(y->size, y->grad, x->grad);
}

static const tg__op_desc view_op = {
    .name = "view", .local = "dy/dx = 1 (the same values, reshaped)",
    .elementwise = true, .shares_data = true, .backward = view_backward};

tg_tensor *tg__view_new(const char *fn, tg_graph *g, tg_tensor *x, int ndim, const int *shape)
{
    tg_tensor *y = tg__node_new(fn, g, &view_op, ndim, shape, false);
    if (!y) return NULL;
    y->data = x->data;
    tg__record(g, y, x, NULL, NULL);
    return y;
}

/* ---- detach: a leaf sharing x's data ---- */
tg_tensor *tg_detach(tg_graph *g, tg_tensor *x)
{
    if (!TG__INPUTS_OK("tg_detach", g, x)) return NULL;
    /* A leaf, as torch's detach: made to require grad, it accumulates. */
    tg_tensor *y = tg__node_new("tg_detach", g, NULL, x->ndim, x->shape, false);
    if (y) y->data = x->data;
    return y;
}

/* ---- reshape: y = x viewed as shape; dx += dy (same layout) ---- */
tg_tensor *tg_reshape(tg_graph *g, tg_tensor *x, int ndim, const int *shape)
{
    static const char fn[] = "tg_reshape";
    if (!TG__INPUTS_OK(fn, g, x)) return NULL;
    if (ndim < 0 || ndim > TG_MAX_DIMS || (ndim > 0 && !shape)) {
        tg__error("%s: %d dimensions: tg tensors have 0 to %d", fn, ndim, TG_MAX_DIMS);
        return NULL;
    }
    int resolved[TG_MAX_DIMS], infer = -1;
    size_t known = 1;
    for (int d = 0; d < ndim; d++) {
        resolved[d] = shape[d];
        if (shape[d] == -1 && infer < 0) {
            infer = d;
        } else if (shape[d] <= 0) {
            tg__error("%s: size %d at dimension %d (only one -1 is allowed)", fn, shape[d], d);
            return NULL;
        } else {
            known *= (size_t)shape[d];
        }
    }
    if (infer >= 0 && known && x->size % known == 0) resolved[infer] = (int)(x->size / known);
    size_t size = 1;
    for (int d = 0; d < ndim; d++) size *= (size_t)resolved[d];
    if (size != x->size) {
        char s[64];
        tg__error("%s: cannot view %s (%zu elements) as a shape of %zu elements", fn,
                  tg_shape_str(x, s), x->size, infer >= 0 ? known : size);
        return NULL;
    }
    return tg__view_new(fn, g, x, ndim, resolved);
}

/* ---- flatten: dimensions start_dim..last merged into one ---- */
tg_tensor *tg_flatten(tg_graph *g, tg_tensor *x, int start_dim)
{
    if (!TG__INPUTS_OK("tg_flatten", g, x)) return NULL;
    if (x->ndim == 0) return tg_reshape(g, x, 1, (int[]){1});
    int start = tg__axis("tg_flatten", x, start_dim);
    if (start < 0) return NULL;
    int shape[TG_MAX_DIMS];
    for (int d = 0; d < start; d++) shape[d] = x->shape[d];
    shape[start] = -1;
    return tg_reshape(g, x, start + 1, shape);
}
