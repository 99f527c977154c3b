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

/* ---- copies through strides: permute, slice (and narrow), cat (and
 * stack). Each is a strided walk of its input or output (the kernels'
 * tg__k_strided_gather / _scatter); its backward walks the same positions
 * the other way, adding. ---- */

/* x's row-major strides, for its dimensions. */
static void strides_of(const tg_tensor *x, size_t *stride)
{
    size_t s = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
        stride[d] = s;
        s *= (size_t)x->shape[d];
    }
}

/* shape and stride of ndim dimensions padded on the left to 4 (size 1). */
static void pad4(int ndim, const int *shape, const size_t *stride, size_t *shape4, size_t *stride4)
{
    for (int d = 0; d < 4; d++) {
        int k = d - (4 - ndim);
        shape4[d] = k >= 0 ? (size_t)shape[k] : 1;
        stride4[d] = k >= 0 ? stride[k] : 0;
    }
}

/* ---- permute: y's dimension i is x's dimension dims[i] (torch.permute),
 * copied; dx += dy through the same positions ---- */

/* Where y's elements sit in x: x's strides taken in y's order. */
static void permute_walk(const tg_tensor *x, const tg_tensor *y, size_t *shape4, size_t *stride4)
{
    size_t xs[TG_MAX_DIMS], st[TG_MAX_DIMS];
    strides_of(x, xs);
    for (int d = 0; d < y->ndim; d++) st[d] = xs[y->iparam[d]];
    pad4(y->ndim, y->shape, st, shape4, stride4);
}

static void permute_backward(tg_tensor *y)
{
    tg_tensor *x = y->src[0];
    if (!x->requires_grad) return;
    size_t shape4[4], stride4[4];
    permute_walk(x, y, shape4, stride4);
    tg__k_strided_scatter(shape4, stride4, y->grad, x->grad, true);
}

static const tg__op_desc permute_op = {
    .name = "permute", .local = "dx = dy with its dimensions put back in place",
    .elementwise = false, .backward = permute_backward};

tg_tensor *tg_permute(tg_graph *g, tg_tensor *x, int ndim, const int *dims)
{
    static const char fn[] = "tg_permute";
    if (!TG__INPUTS_OK(fn, g, x)) return NULL;
    char s[64];
    if (ndim != x->ndim || (ndim > 0 && !dims)) {
        tg__error("%s: %d dims for x %s: expected one per dimension (%d)", fn, ndim, tg_shape_str(x, s), x->ndim);
        return NULL;
    }
    int perm[TG_MAX_DIMS], shape[TG_MAX_DIMS];
    bool seen[TG_MAX_DIMS] = {false};
    for (int d = 0; d < ndim; d++) {
        if (dims[d] < -ndim || dims[d] >= ndim) {
            tg__error("%s: dims[%d] = %d is out of range for x %s", fn, d, dims[d], tg_shape_str(x, s));
            return NULL;
        }
        perm[d] = dims[d] < 0 ? dims[d] + ndim : dims[d];
        if (seen[perm[d]]) {
            tg__error("%s: dims[%d] = %d repeats a dimension of x %s", fn, d, dims[d], tg_shape_str(x, s));
            return NULL;
        }
        seen[perm[d]] = true;
        shape[d] = x->shape[perm[d]];
    }
    tg_tensor *y = tg__op_new(fn, g, &permute_op, ndim, shape, x, NULL, NULL);
    if (!y) return NULL;
    for (int d = 0; d < ndim; d++) y->iparam[d] = perm[d];
    size_t shape4[4], stride4[4];
    permute_walk(x, y, shape4, stride4);
    tg__k_strided_gather(shape4, stride4, x->data, y->data, false);
    return tg__op_done(g, y);
}

/* ---- slice: y = x[..., start:end:step, ...] along dim (copied), length
 * elements; narrow is the slice with step 1. dx[positions] += dy.
 * iparam = {dim, start, step} ---- */

/* Where y's elements sit in x, relative to x->data + *base. */
static void slice_walk(const tg_tensor *x, const tg_tensor *y, size_t *base, size_t *shape4, size_t *stride4)
{
    size_t st[TG_MAX_DIMS];
    strides_of(x, st);
    int dim = y->iparam[0];
    *base = (size_t)y->iparam[1] * st[dim];
    st[dim] *= (size_t)y->iparam[2];
    pad4(y->ndim, y->shape, st, shape4, stride4);
}

static void slice_backward(tg_tensor *y)
{
    tg_tensor *x = y->src[0];
    if (!x->requires_grad) return;
    size_t base, shape4[4], stride4[4];
    slice_walk(x, y, &base, shape4, stride4);
    tg__k_strided_scatter(shape4, stride4, y->grad, x->grad + base, true);
}

static const tg__op_desc slice_op = {
    .name = "slice", .local = "dx = dy at the sliced positions, 0 elsewhere",
    .elementwise = false, .backward = slice_backward};

/* The slice of x along dim (valid) from start (in range), length > 0
 * elements step apart. */
static tg_tensor *slice_new(const char *fn, tg_graph *g, tg_tensor *x, int dim, int start, int length, int step)
{
    int shape[TG_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
    shape[dim] = length;
    tg_tensor *y = tg__op_new(fn, g, &slice_op, x->ndim, shape, x, NULL, NULL);
    if (!y) return NULL;
    y->iparam[0] = dim, y->iparam[1] = start, y->iparam[2] = step;
    size_t base, shape4[4], stride4[4];
    slice_walk(x, y, &base, shape4, stride4);
    tg__k_strided_gather(shape4, stride4, x->data + base, y->data, false);
    return tg__op_done(g, y);
}

/* dim of x for a slicing op: x must have a dimension to slice. */
static int slice_dim(const char *fn, const tg_tensor *x, int dim)
{
    if (x->ndim == 0) {
        tg__error("%s: x is a scalar (): nothing to slice", fn);
        return -1;
    }
    return tg__axis(fn, x, dim);
}

tg_tensor *tg_narrow(tg_graph *g, tg_tensor *x, int dim, int start, int length)
{
    static const char fn[] = "tg_narrow";
    if (!TG__INPUTS_OK(fn, g, x) || (dim = slice_dim(fn, x, dim)) < 0) return NULL;
    int size = x->shape[dim];
    char s[64];
    /* torch.narrow: start in [-size, size], negative counting from the end */
    if (start < -size || start > size) {
        tg__error("%s: start %d is out of range for dimension %d of x %s (size %d)", fn, start, dim,
                  tg_shape_str(x, s), size);
        return NULL;
    }
    if (start < 0) start += size;
    if (length <= 0 || (long long)start + length > size) {
        tg__error("%s: start %d + length %d on dimension %d of x %s (size %d): %s", fn, start, length, dim,
                  tg_shape_str(x, s), size,
                  length <= 0 ? "length must be positive (tg tensors are never empty)" : "exceeds the size");
        return NULL;
    }
    return slice_new(fn, g, x, dim, start, length, 1);
}

/* A Python slice bound: negative counts from the end, then clamped to
 * [0, size] (as x[start:end] with step > 0). */
static int slice_bound(int i, int size)
{
    long long v = i < 0 ? (long long)i + size : i;
    return (int)(v < 0 ? 0 : v > size ? size : v);
}

tg_tensor *tg_slice(tg_graph *g, tg_tensor *x, int dim, int start, int end, int step)
{
    static const char fn[] = "tg_slice";
    if (!TG__INPUTS_OK(fn, g, x) || (dim = slice_dim(fn, x, dim)) < 0) return NULL;
    char s[64];
    if (step < 1) {
        tg__error("%s: step %d: must be at least 1 (as torch's slicing)", fn, step);
        return NULL;
    }
    int size = x->shape[dim], lo = slice_bound(start, size), hi = slice_bound(end, size);
    long long length = hi > lo ? ((long long)hi - lo + step - 1) / step : 0;
    if (length == 0) {
        tg__error("%s: [%d:%d:%d] on dimension %d of x %s (size %d) is empty (tg tensors are never empty)", fn,
                  start, end, step, dim, tg_shape_str(x, s), size);
        return NULL;
    }
    return slice_new(fn, g, x, dim, lo, (int)length, step);
}

/* ---- cat: the tensors joined along dim (torch.cat); stack: joined along
 * a new dimension dim (torch.stack), which is cat of views with a 1
 * inserted at dim. dx_k += its part of dy. iparam[0] = dim.
 *
 * More than 3 inputs: a node records at most 3 (src[3]), which the
 * backward sweep's marking, the trace, check-numerics and the picture all
 * walk. A variable list of inputs would have to be taught to each of
 * them; instead a longer cat is a balanced tree of cat nodes of at most 3
 * inputs each. Each node is an ordinary op, and every element is copied
 * ceil(log3 n) times (once for n <= 3, twice for n <= 9) forward and
 * backward, where a chain would copy the first inputs n / 2 times. ---- */

/* Where input x starts in y (dim, and y's offset of x along it in *base):
 * x's elements as a strided walk of y. */
static void cat_walk(const tg_tensor *x, const tg_tensor *y, int dim, size_t offset, size_t *base, size_t *shape4,
                     size_t *stride4)
{
    size_t st[TG_MAX_DIMS];
    strides_of(y, st);
    *base = offset * st[dim];
    pad4(x->ndim, x->shape, st, shape4, stride4);
}

static void cat_backward(tg_tensor *y)
{
    int dim = y->iparam[0];
    size_t offset = 0;
    for (int k = 0; k < 3 && y->src[k]; k++) {
        tg_tensor *x = y->src[k];
        size_t base, shape4[4], stride4[4];
        cat_walk(x, y, dim, offset, &base, shape4, stride4);
        if (x->requires_grad) tg__k_strided_gather(shape4, stride4, y->grad + base, x->grad, true);
        offset += (size_t)x->shape[dim];
    }
}

static const tg__op_desc cat_op = {
    .name = "cat", .local = "dx_k = the part of dy where x_k was put",
    .elementwise = false, .backward = cat_backward};

/* One cat node of n = 1..3 checked inputs. */
static tg_tensor *cat_node(const char *fn, tg_graph *g, tg_tensor *const *xs, int n, int dim)
{
    int shape[TG_MAX_DIMS];
    for (int d = 0; d < xs[0]->ndim; d++) shape[d] = xs[0]->shape[d];
    for (int k = 1; k < n; k++) shape[dim] += xs[k]->shape[dim];
    tg_tensor *y = tg__op_new(fn, g, &cat_op, xs[0]->ndim, shape, xs[0], n > 1 ? xs[1] : NULL,
                              n > 2 ? xs[2] : NULL);
    if (!y) return NULL;
    y->iparam[0] = dim;
    size_t offset = 0;
    for (int k = 0; k < n; k++) {
        size_t base, shape4[4], stride4[4];
        cat_walk(xs[k], y, dim, offset, &base, shape4, stride4);
        tg__k_strided_scatter(shape4, stride4, xs[k]->data, y->data + base, false);
        offset += (size_t)xs[k]->shape[dim];
    }
    return y;
}

/* The tree: up to 3 parts of near-equal length, each a tensor or a subtree. */
static tg_tensor *cat_tree(const char *fn, tg_graph *g, tg_tensor *const *xs, int n, int dim)
{
    if (n <= 3) return cat_node(fn, g, xs, n, dim);
    tg_tensor *parts[3];
    for (int p = 0, at = 0; p < 3; p++) {
        int len = n / 3 + (p < n % 3);
        parts[p] = len == 1 ? xs[at] : cat_tree(fn, g, xs + at, len, dim);
        if (!parts[p]) return NULL;
        at += len;
    }
    return cat_node(fn, g, parts, 3, dim);
}

/* xs[0..n) are usable inputs of g, n >= 1. */
static bool list_ok(const char *fn, tg_graph *g, tg_tensor *const *xs, int n)
{
    if (n < 1 || !xs) {
        tg__error("%s: %d tensors: expected a non-empty list", fn, n);
        return false;
    }
    return tg__inputs_ok(fn, g, n, xs);
}

tg_tensor *tg_cat(tg_graph *g, tg_tensor *const *xs, int n, int dim)
{
    static const char fn[] = "tg_cat";
    if (!list_ok(fn, g, xs, n)) return NULL;
    char s0[64], sk[64];
    if (xs[0]->ndim == 0) {
        tg__error("%s: tensor 0 is a scalar (): cat needs at least 1 dimension (use tg_stack)", fn);
        return NULL;
    }
    if ((dim = tg__axis(fn, xs[0], dim)) < 0) return NULL;
    long long total = 0;
    for (int k = 0; k < n; k++) {
        bool match = xs[k]->ndim == xs[0]->ndim;
        for (int d = 0; d < xs[0]->ndim && match; d++) match = d == dim || xs[k]->shape[d] == xs[0]->shape[d];
        if (!match) {
            tg__error("%s: sizes must match except in dimension %d: tensor 0 is %s, tensor %d is %s", fn, dim,
                      tg_shape_str(xs[0], s0), k, tg_shape_str(xs[k], sk));
            return NULL;
        }
        total += xs[k]->shape[dim];
    }
    if (total > 0x7fffffff) {
        tg__error("%s: %lld elements along dimension %d: more than an int holds", fn, total, dim);
        return NULL;
    }
    return tg__op_done(g, cat_tree(fn, g, xs, n, dim));
}

tg_tensor *tg_stack(tg_graph *g, tg_tensor *const *xs, int n, int dim)
{
    static const char fn[] = "tg_stack";
    if (!list_ok(fn, g, xs, n)) return NULL;
    char s0[64], sk[64];
    int ndim = xs[0]->ndim + 1;
    if (ndim > TG_MAX_DIMS) {
        tg__error("%s: tensors of shape %s: stacking them needs %d dimensions, tg has at most %d", fn,
                  tg_shape_str(xs[0], s0), ndim, TG_MAX_DIMS);
        return NULL;
    }
    if (dim < -ndim || dim >= ndim) {
        tg__error("%s: dim %d is out of range for stacking tensors of shape %s (expected [%d, %d])", fn, dim,
                  tg_shape_str(xs[0], s0), -ndim, ndim - 1);
        return NULL;
    }
    if (dim < 0) dim += ndim;
    for (int k = 1; k < n; k++)
        if (!tg_same_shape(xs[k], xs[0])) {
            tg__error("%s: expects tensors of one shape: tensor 0 is %s, tensor %d is %s", fn,
                      tg_shape_str(xs[0], s0), k, tg_shape_str(xs[k], sk));
            return NULL;
        }
    int shape[TG_MAX_DIMS];
    for (int d = 0, k = 0; d < ndim; d++) shape[d] = d == dim ? 1 : xs[0]->shape[k++];
    tg_tensor **views = tg__graph_alloc(fn, g, (size_t)n * sizeof *views);
    if (!views) return NULL;
    for (int k = 0; k < n; k++)
        if (!(views[k] = tg__view_new(fn, g, xs[k], ndim, shape))) return NULL;
    return tg_cat(g, views, n, dim);
}
