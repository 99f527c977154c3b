/* index.c — ops that pick elements by index: index_select, gather and
 * embedding. tg tensors hold floats, so an index tensor holds whole
 * numbers as floats; each is checked and converted to an int once, in the
 * forward, into the graph's memory (aux), which the backward reads. The
 * index itself is not differentiated (torch: integer tensors have no
 * gradient). Backward scatter-adds in a fixed order (index_add, as
 * derivatives.yaml: index_select -> index_add, gather -> scatter_add,
 * embedding -> embedding_backward), so repeated indices sum the same way
 * on every run. */
#include <math.h>

#include "../kernels/kernels.h"
#include "ops.h"

/* The ops of this file (each defined after its backward). */
static const tg__op_desc index_select_op, gather_op, embedding_op;

/* "[1,2]": the position of flat element i of t (t's shape), in buf. */
static const char *position_str(const tg_tensor *t, size_t i, char *buf, size_t size)
{
    size_t idx[TG_MAX_DIMS];
    for (int d = t->ndim - 1; d >= 0; d--) {
        idx[d] = i % (size_t)t->shape[d];
        i /= (size_t)t->shape[d];
    }
    int n = snprintf(buf, size, "[");
    for (int d = 0; d < t->ndim && n > 0 && (size_t)n < size; d++)
        n += snprintf(buf + n, size - (size_t)n, "%s%zu", d ? "," : "", idx[d]);
    if (n > 0 && (size_t)n < size) snprintf(buf + n, size - (size_t)n, "]");
    return buf;
}

/* index's values as ints in [0, bound), in g's memory; NULL with a message
 * naming fn, the index (what), the position and the value, and what the
 * bound is (range_of, "dimension 1 of x (2,5)"). */
static int *index_values(const char *fn, tg_graph *g, const char *what, const tg_tensor *index, int bound,
                         const char *range_of)
{
    int *out = tg__graph_alloc(fn, g, index->size * sizeof *out);
    if (!out) return NULL;
    for (size_t i = 0; i < index->size; i++) {
        float v = index->data[i];
        char at[48];
        if (!(v == floorf(v))) { /* NaN and infinities too */
            tg__error("%s: %s%s = %g is not a whole number (an index tensor holds whole numbers as floats)", fn,
                      what, position_str(index, i, at, sizeof at), (double)v);
            return NULL;
        }
        if (!(v >= 0.0f && v < (float)bound)) {
            tg__error("%s: %s%s = %g is out of range [0, %d) for %s", fn, what,
                      position_str(index, i, at, sizeof at), (double)v, bound, range_of);
            return NULL;
        }
        out[i] = (int)v;
    }
    return out;
}

/* ---- index_select: y = x with dimension dim taken at index (1-D, or a
 * scalar as one entry): y[.., j, ..] = x[.., index[j], ..];
 *      dx[.., index[j], ..] += dy[.., j, ..]  (index_add). iparam[0] = dim ---- */
tg_tensor *tg_index_select(tg_graph *g, tg_tensor *x, int dim, const tg_tensor *index)
{
    static const char fn[] = "tg_index_select";
    if (!TG__INPUTS_OK(fn, g, x, (tg_tensor *)index) || (dim = tg__axis(fn, x, dim)) < 0) return NULL;
    char xs[64], is[64], range[128];
    if (index->ndim > 1) {
        tg__error("%s: index %s: expected a vector (1 dimension) or a scalar", fn, tg_shape_str(index, is));
        return NULL;
    }
    snprintf(range, sizeof range, "dimension %d of x %s", dim, tg_shape_str(x, xs));
    int *idx = index_values(fn, g, "index", index, x->ndim ? x->shape[dim] : 1, range);
    if (!idx) return NULL;
    int shape[TG_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
    if (x->ndim) shape[dim] = (int)index->size;
    else if (index->size != 1) { /* a scalar x has one element to select */
        tg__error("%s: x is a scalar (): index %s must have one entry", fn, tg_shape_str(index, is));
        return NULL;
    }
    tg_tensor *y = tg__op_new(fn, g, &index_select_op, x->ndim, shape, x, NULL, NULL);
    if (!y) return NULL;
    y->iparam[0] = dim;
    y->aux = idx;
    size_t outer, n, inner;
    tg__split_axis(x, dim, &outer, &n, &inner);
    tg__k_index_select(outer, n, inner, index->size, idx, x->data, y->data);
    return tg__op_done(g, y);
}

static void index_select_backward(tg_tensor *y)
{
    tg_tensor *x = y->src[0];
    if (!x->requires_grad) return;
    size_t outer, n, inner;
    tg__split_axis(x, y->iparam[0], &outer, &n, &inner);
    size_t m = x->ndim ? (size_t)y->shape[y->iparam[0]] : 1;
    tg__k_index_add(outer, n, inner, m, y->aux, -1, y->grad, x->grad);
}

static const tg__op_desc index_select_op = {
    .name = "index_select", .local = "dx[index[j]] += dy[j] along dim",
    .elementwise = false, .backward = index_select_backward};

/* ---- gather: y has index's shape, y[i] = x[i with dimension dim replaced
 * by index[i]] (torch.gather); index has x's number of dimensions and,
 * except along dim, sizes no larger than x's.
 *      dx[i with dim replaced by index[i]] += dy[i]  (scatter_add).
 * iparam[0] = dim ---- */

/* index's shape padded to 4, x's strides for it, and dim's place there. */
static int gather_walk(const tg_tensor *x, const tg_tensor *y, int dim, size_t *shape4, size_t *stride4)
{
    size_t st = 1;
    int pad = 4 - y->ndim;
    for (int d = 3; d >= 0; d--) {
        int k = d - pad;
        shape4[d] = k >= 0 ? (size_t)y->shape[k] : 1;
        stride4[d] = k >= 0 ? st : 0;
        if (k >= 0) st *= (size_t)x->shape[k];
    }
    return dim + pad;
}

tg_tensor *tg_gather(tg_graph *g, tg_tensor *x, int dim, const tg_tensor *index)
{
    static const char fn[] = "tg_gather";
    if (!TG__INPUTS_OK(fn, g, x, (tg_tensor *)index) || (dim = tg__axis(fn, x, dim)) < 0) return NULL;
    char xs[64], is[64], range[128];
    if (index->ndim != x->ndim) {
        tg__error("%s: index %s and x %s: index must have x's number of dimensions", fn, tg_shape_str(index, is),
                  tg_shape_str(x, xs));
        return NULL;
    }
    for (int d = 0; d < x->ndim; d++)
        if (d != dim && index->shape[d] > x->shape[d]) {
            tg__error("%s: index %s and x %s: index's size %d at dimension %d is larger than x's (%d); only "
                      "along dim %d may it be", fn, tg_shape_str(index, is), tg_shape_str(x, xs), index->shape[d], d,
                      x->shape[d], dim);
            return NULL;
        }
    snprintf(range, sizeof range, "dimension %d of x %s", dim, tg_shape_str(x, xs));
    int *idx = index_values(fn, g, "index", index, x->ndim ? x->shape[dim] : 1, range);
    if (!idx) return NULL;
    tg_tensor *y = tg__op_new(fn, g, &gather_op, index->ndim, index->shape, x, NULL, NULL);
    if (!y) return NULL;
    y->iparam[0] = dim;
    y->aux = idx;
    size_t shape4[4], stride4[4];
    int axis = gather_walk(x, y, dim, shape4, stride4);
    tg__k_gather(shape4, stride4, axis, idx, x->data, y->data);
    return tg__op_done(g, y);
}

static void gather_backward(tg_tensor *y)
{
    tg_tensor *x = y->src[0];
    if (!x->requires_grad) return;
    size_t shape4[4], stride4[4];
    int axis = gather_walk(x, y, y->iparam[0], shape4, stride4);
    tg__k_gather_backward(shape4, stride4, axis, y->aux, y->grad, x->grad);
}

static const tg__op_desc gather_op = {
    .name = "gather", .local = "dx[index[i] along dim] += dy[i]",
    .elementwise = false, .backward = gather_backward};

/* ---- embedding: y[i, :] = weight[indices[i], :] (F.embedding), y of shape
 * indices.shape + (dim);  dweight[indices[i], :] += dy[i, :], except for
 * the row padding_idx, which gets no gradient (torch). iparam[0] =
 * padding_idx (-1: none) ---- */
tg_tensor *tg_embedding(tg_graph *g, tg_tensor *weight, const tg_tensor *indices, int padding_idx)
{
    static const char fn[] = "tg_embedding";
    if (!TG__INPUTS_OK(fn, g, weight, (tg_tensor *)indices)) return NULL;
    char ws[64], is[64], range[128];
    if (weight->ndim != 2) {
        tg__error("%s: weight %s: expected 2 dimensions (num_embeddings, embedding_dim)", fn,
                  tg_shape_str(weight, ws));
        return NULL;
    }
    if (indices->ndim > TG_MAX_DIMS - 1) {
        tg__error("%s: indices %s: at most %d dimensions (the result adds one)", fn, tg_shape_str(indices, is),
                  TG_MAX_DIMS - 1);
        return NULL;
    }
    int num = weight->shape[0];
    if (padding_idx >= num) {
        tg__error("%s: padding_idx %d must be within num_embeddings %d of weight %s", fn, padding_idx, num,
                  tg_shape_str(weight, ws));
        return NULL;
    }
    snprintf(range, sizeof range, "weight %s (num_embeddings %d)", tg_shape_str(weight, ws), num);
    int *idx = index_values(fn, g, "indices", indices, num, range);
    if (!idx) return NULL;
    int shape[TG_MAX_DIMS];
    for (int d = 0; d < indices->ndim; d++) shape[d] = indices->shape[d];
    shape[indices->ndim] = weight->shape[1];
    tg_tensor *y = tg__op_new(fn, g, &embedding_op, indices->ndim + 1, shape, weight, NULL, NULL);
    if (!y) return NULL;
    y->iparam[0] = padding_idx < 0 ? -1 : padding_idx;
    y->aux = idx;
    tg__k_index_select(1, (size_t)num, (size_t)weight->shape[1], indices->size, idx, weight->data, y->data);
    return tg__op_done(g, y);
}

static void embedding_backward(tg_tensor *y)
{
    tg_tensor *w = y->src[0];
    if (!w->requires_grad) return;
    size_t m = y->size / (size_t)w->shape[1];
    tg__k_index_add(1, (size_t)w->shape[0], (size_t)w->shape[1], m, y->aux, y->iparam[0], y->grad, w->grad);
}

static const tg__op_desc embedding_op = {
    .name = "embedding", .local = "dweight[indices[i]] += dy[i], none to padding_idx",
    .elementwise = false, .backward = embedding_backward};
