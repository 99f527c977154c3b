/* tensor.c — standalone tensors: shape, data, grad, name, printing.
 * (Creation functions, which may put a tensor on a graph, are graph/create.c.) */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/kernels.h"
#include "tensor.h"

size_t tg__shape_size(const char *fn, int ndim, const int *shape)
{
    if (ndim < 0 || ndim > TG_MAX_DIMS) {
        tg__error("%s: %d dimensions: tg tensors have 0 to %d", fn, ndim, TG_MAX_DIMS);
        return 0;
    }
    if (ndim > 0 && !shape) {
        tg__error("%s: shape is NULL", fn);
        return 0;
    }
    /* Kernels index with int along one dimension and size_t overall; keep
     * the byte count representable too. */
    const size_t max_elems = (SIZE_MAX / sizeof(float)) / 2;
    size_t size = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] <= 0) {
            tg__error("%s: dimension %d has size %d: sizes must be positive", fn, d, shape[d]);
            return 0;
        }
        if (size > max_elems / (size_t)shape[d]) {
            tg__error("%s: shape too large", fn);
            return 0;
        }
        size *= (size_t)shape[d];
    }
    return size;
}

void tg__set_shape(tg_tensor *t, int ndim, const int *shape, size_t size)
{
    t->ndim = ndim;
    for (int d = 0; d < TG_MAX_DIMS; d++) t->shape[d] = d < ndim ? shape[d] : 1;
    t->size = size;
}

tg_tensor *tg__tensor_alloc(const char *fn, int ndim, const int *shape, bool with_data)
{
    size_t size = tg__shape_size(fn, ndim, shape);
    if (!size) return NULL;
    tg_tensor *t = calloc(1, sizeof *t);
    if (!t) goto nomem;
    tg__set_shape(t, ndim, shape, size);
    if (with_data) {
        t->data = tg__aligned_alloc(size * sizeof *t->data);
        if (!t->data) goto nomem;
        t->flags |= TG__OWNS_DATA;
    }
    return t;
nomem:
    free(t);
    tg__error("%s: out of memory for %zu floats", fn, size);
    return NULL;
}

void tg_tensor_free(tg_tensor *t)
{
    if (!t || t->graph) return;
    if (t->flags & TG__OWNS_DATA) free(t->data);
    free(t->grad);
    free(t);
}

/* ---- gradients and names ---- */

tg_status tg_tensor_requires_grad(tg_tensor *t, bool on)
{
    if (!t) {
        tg__error("tg_tensor_requires_grad: tensor is NULL");
        return TG_ERR_ARG;
    }
    /* A graph-owned tensor gets its grad when backward reaches it. */
    if (on && !t->graph && !t->grad) {
        t->grad = tg__aligned_alloc(t->size * sizeof *t->grad);
        if (!t->grad) {
            tg__error("tg_tensor_requires_grad: out of memory for %zu floats", t->size);
            return TG_ERR_NOMEM;
        }
        memset(t->grad, 0, t->size * sizeof *t->grad);
    }
    t->requires_grad = on;
    return TG_OK;
}

void tg_tensor_zero_grad(tg_tensor *t)
{
    if (t && t->grad) tg__k_zero(t->size, t->grad);
}

void tg_tensor_set_name(tg_tensor *t, const char *name)
{
    if (!t) return;
    snprintf(t->name, sizeof t->name, "%s", name ? name : "");
}

bool tg_same_shape(const tg_tensor *a, const tg_tensor *b)
{
    if (a->ndim != b->ndim) return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return false;
    return true;
}

const char *tg_shape_str(const tg_tensor *t, char *buf)
{
    int len = snprintf(buf, 64, "(");
    for (int d = 0; t && d < t->ndim; d++)
        len += snprintf(buf + len, (size_t)(64 - len), d ? ",%d" : "%d", t->shape[d]);
    snprintf(buf + len, (size_t)(64 - len), ")");
    return buf;
}

/* Prints dimension d of v (laid out as t) starting at element offset,
 * eliding the middle of long dimensions the way PyTorch does. */
static void print_dim(FILE *f, const tg_tensor *t, const float *v, const char *fmt, int max, int d,
                      size_t offset)
{
    if (d == t->ndim) {
        fprintf(f, fmt, v[offset]);
        return;
    }
    size_t stride = 1;
    for (int k = d + 1; k < t->ndim; k++) stride *= (size_t)t->shape[k];
    int n = t->shape[d];
    fputc('[', f);
    for (int i = 0; i < n; i++) {
        if (n > max && i == max / 2) {
            fputs("..., ", f);
            i = n - max / 2;
        }
        print_dim(f, t, v, fmt, max, d + 1, offset + (size_t)i * stride);
        if (i + 1 < n) fputs(", ", f);
    }
    fputc(']', f);
}

void tg__print_values(FILE *f, const tg_tensor *t, const float *v, const char *fmt, int max_per_dim)
{
    print_dim(f, t, v, fmt, max_per_dim < 2 ? 2 : max_per_dim, 0, 0);
}

void tg_tensor_print(const tg_tensor *t, FILE *f)
{
    char shape[64];
    if (!t) {
        fputs("(null tensor)\n", f);
        return;
    }
    fprintf(f, "tensor%s%s%s ", t->name[0] ? " " : "", t->name, tg_shape_str(t, shape));
    tg__print_values(f, t, t->data, "%.6g", 6);
    fputc('\n', f);
}
