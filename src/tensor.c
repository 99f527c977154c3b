/* tensor.c — tensors: shape, data, grad, creation, and the seeded RNG. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "tg_internal.h"

/* ---- memory ---- */

void *tg__aligned_alloc(size_t size)
{
    size_t rounded = (size + TG_ALIGN - 1) / TG_ALIGN * TG_ALIGN;
    if (rounded < size) return NULL; /* overflow */
    return aligned_alloc(TG_ALIGN, rounded ? rounded : TG_ALIGN);
}

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

/* A standalone tensor (g == NULL) or a leaf on g, data uninitialised unless
 * with_data is false (then data is NULL for the caller to set). */
static tg_tensor *tensor_new(const char *fn, tg_graph *g, int ndim, const int *shape, bool with_data)
{
    if (g) return tg__node_new(fn, g, NULL, ndim, shape, with_data);
    size_t size = tg__shape_size(fn, ndim, shape);
    if (!size) return NULL;
    tg_tensor *t = calloc(1, sizeof *t);
    if (!t) goto nomem;
    tg__set_shape(t, ndim, shape, size);
    t->op = NULL;
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

/* ---- creation ---- */

static tg_tensor *filled(const char *fn, tg_graph *g, int ndim, const int *shape, float value)
{
    tg_tensor *t = tensor_new(fn, g, ndim, shape, true);
    if (t)
        for (size_t i = 0; i < t->size; i++) t->data[i] = value;
    return t;
}

tg_tensor *tg_full(tg_graph *g, int ndim, const int *shape, float value)
{
    return filled("tg_full", g, ndim, shape, value);
}

tg_tensor *tg_zeros(tg_graph *g, int ndim, const int *shape) { return filled("tg_zeros", g, ndim, shape, 0.0f); }

tg_tensor *tg_ones(tg_graph *g, int ndim, const int *shape) { return filled("tg_ones", g, ndim, shape, 1.0f); }

tg_tensor *tg_arange(tg_graph *g, float start, float stop, float step)
{
    double count = ceil(((double)stop - start) / step);
    if (step == 0.0f || !isfinite(count) || count < 1.0 || count > INT_MAX) {
        tg__error("tg_arange: start %g, stop %g, step %g: no elements (or too many)", start, stop, step);
        return NULL;
    }
    tg_tensor *t = tensor_new("tg_arange", g, 1, (int[]){(int)count}, true);
    if (t)
        for (size_t i = 0; i < t->size; i++) t->data[i] = (float)(start + (double)i * step);
    return t;
}

tg_tensor *tg_from_data(tg_graph *g, const float *data, int ndim, const int *shape)
{
    if (!data) {
        tg__error("tg_from_data: data is NULL");
        return NULL;
    }
    tg_tensor *t = tensor_new("tg_from_data", g, ndim, shape, true);
    if (t) memcpy(t->data, data, t->size * sizeof *data);
    return t;
}

tg_tensor *tg_from_blob(tg_graph *g, float *data, int ndim, const int *shape)
{
    if (!data) {
        tg__error("tg_from_blob: data is NULL");
        return NULL;
    }
    tg_tensor *t = tensor_new("tg_from_blob", g, ndim, shape, false);
    if (t) t->data = data;
    return t;
}

static tg_tensor *uniform(const char *fn, tg_graph *g, tg_rng *rng, float lo, float hi, int ndim, const int *shape)
{
    if (!rng || !(lo <= hi)) {
        tg__error("%s: %s", fn, rng ? "needs lo <= hi" : "rng is NULL");
        return NULL;
    }
    tg_tensor *t = tensor_new(fn, g, ndim, shape, true);
    if (t) tg_init_uniform(t, lo, hi, rng);
    return t;
}

tg_tensor *tg_uniform(tg_graph *g, tg_rng *rng, float lo, float hi, int ndim, const int *shape)
{
    return uniform("tg_uniform", g, rng, lo, hi, ndim, shape);
}

tg_tensor *tg_rand(tg_graph *g, tg_rng *rng, int ndim, const int *shape)
{
    return uniform("tg_rand", g, rng, 0.0f, 1.0f, ndim, shape);
}

tg_tensor *tg_randn(tg_graph *g, tg_rng *rng, int ndim, const int *shape)
{
    if (!rng) {
        tg__error("tg_randn: rng is NULL");
        return NULL;
    }
    tg_tensor *t = tensor_new("tg_randn", g, ndim, shape, true);
    if (t) tg_init_normal(t, 0.0f, 1.0f, rng);
    return t;
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

/* ---- random numbers: xoshiro256** (Blackman & Vigna, 2018) ---- */

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* splitmix64 spreads one seed over the four state words, as the xoshiro
 * authors recommend, so that nearby seeds give unrelated streams. */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

void tg_rng_seed(tg_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
    r->has_spare = 0;
    r->spare = 0.0f;
}

uint64_t tg_rng_u64(tg_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float tg_rng_uniform(tg_rng *r) { return (float)(tg_rng_u64(r) >> 40) * 0x1.0p-24f; }

float tg_rng_normal(tg_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    /* Box-Muller on u1 in (0, 1] so the log is finite. */
    double u1 = 1.0 - (double)(tg_rng_u64(r) >> 11) * 0x1.0p-53;
    double u2 = (double)(tg_rng_u64(r) >> 11) * 0x1.0p-53;
    double radius = sqrt(-2.0 * log(u1));
    double angle = 6.283185307179586 * u2;
    r->spare = (float)(radius * sin(angle));
    r->has_spare = 1;
    return (float)(radius * cos(angle));
}

/* Lemire's multiply-shift with rejection: unbiased for every n. */
uint32_t tg_rng_below(tg_rng *r, uint32_t n)
{
    if (n == 0) return 0;
    uint64_t m = (tg_rng_u64(r) >> 32) * n;
    if ((uint32_t)m < n) {
        uint32_t threshold = (uint32_t)(-n) % n;
        while ((uint32_t)m < threshold) m = (tg_rng_u64(r) >> 32) * n;
    }
    return (uint32_t)(m >> 32);
}

void tg_rng_shuffle(tg_rng *r, int *a, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)tg_rng_below(r, (uint32_t)i + 1);
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}
