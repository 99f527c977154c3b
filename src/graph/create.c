/* create.c — the creation functions: a standalone tensor (g == NULL) or a
 * leaf on a graph, filled, copied, borrowed or drawn at random. */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "graph.h"

/* A standalone tensor (g == NULL) or a leaf on g, data uninitialised unless
 * with_data is false (then data is NULL for the caller to set). */
static tg_tensor *tensor_new(const char *fn, tg_graph *g, int ndim, const int *shape, bool with_data)
{
    return g ? tg__node_new(fn, g, NULL, ndim, shape, with_data) : tg__tensor_alloc(fn, ndim, shape, with_data);
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
