/* numerics.c — checking numerics (tg_graph_set_check_numerics): the first
 * NaN or infinity an op computes, a given value holds, or a backward step
 * makes, named where it appears. */
#include <math.h>
#include <stdio.h>

#include "graph_own.h"

/* ---- checking numerics (tg_graph_set_check_numerics) ----
 * An op computes its value when called and looks at it before returning
 * (tg__op_done), so the op that makes the first NaN or infinity is the one
 * that fails. Given values (leaves, and views of them) are looked at when
 * an op first takes them as an input. Every node is looked at once
 * (TG__CHECKED), so after a failure the graph goes on: only what depends on
 * the bad value is lost, and the failed op returned NULL for it. */

bool tg_graph_set_check_numerics(tg_graph *g, bool on)
{
    if (!g) return false;
    bool previous = g->check_numerics;
    g->check_numerics = on;
    if (on && !previous) { /* what came before was not recorded for it */
        for (size_t i = 0; i < g->n_nodes; i++) g->nodes[i]->flags |= TG__CHECKED;
        g->checked = g->n_nodes;
    }
    return previous;
}

bool tg__graph_checks_numerics(const tg_graph *g) { return g && g->check_numerics; }

/* The index of the first NaN or infinity of v[0..n), or n. */
static size_t first_non_finite(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return i;
    return n;
}

/* "(2,3) in [lo, hi]", with the count of NaNs and infinities if any. */
static void describe_values(const tg_tensor *t, const float *v, char *buf, size_t size)
{
    float lo = INFINITY, hi = -INFINITY;
    size_t nan = 0, inf = 0;
    for (size_t i = 0; i < t->size; i++) {
        if (isnan(v[i])) nan++;
        else if (isinf(v[i])) inf++;
        else lo = fminf(lo, v[i]), hi = fmaxf(hi, v[i]);
    }
    char shape[64];
    int n = snprintf(buf, size, "%s", tg_shape_str(t, shape));
    if (lo <= hi && n >= 0 && (size_t)n < size) n += snprintf(buf + n, size - (size_t)n, " in [%g, %g]", lo, hi);
    if ((nan || inf) && n >= 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, " with %zu NaN and %zu infinite", nan, inf);
}

/* "; its inputs: 1: (2,3) in [..], 2: ..." — of values, or of gradients. */
static void describe_inputs(const tg_tensor *t, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s", t->src[0] ? "; its inputs:" : "");
    for (int k = 0; k < 3 && t->src[k] && n >= 0 && (size_t)n < size; k++) {
        char values[160];
        describe_values(t->src[k], t->src[k]->data, values, sizeof values);
        n += snprintf(buf + n, size - (size_t)n, "%s %d: %s%s", k ? "," : "", k + 1, values,
                      t->src[k]->graph ? "" : " (not computed on this graph: a parameter or an input)");
    }
}

static tg_status check_value(const tg_tensor *t)
{
    size_t bad = first_non_finite(t->data, t->size);
    if (bad == t->size) return TG_OK;
    char shape[64], inputs[512];
    describe_inputs(t, inputs, sizeof inputs);
    const char *what = isnan(t->data[bad]) ? "NaN" : "an infinity";
    if (!t->op)
        tg__error("check-numerics: the data of node %zu, %s, holds %s at element %zu (given, not computed)", t->id,
                  tg_shape_str(t, shape), what, bad);
    else
        tg__error("check-numerics: %s (node %zu, %s) produced %s at element %zu%s", tg_tensor_op_name(t), t->id,
                  tg_shape_str(t, shape), what, bad, inputs);
    return TG_ERR_NUMERICS;
}

/* Looks at t once. */
static tg_status check_node(tg_tensor *t)
{
    if (t->flags & TG__CHECKED) return TG_OK;
    t->flags |= TG__CHECKED;
    return check_value(t);
}

/* Computed values: a new op's nodes are the computed ones not yet seen. */
tg_tensor *tg__op_done(tg_graph *g, tg_tensor *y)
{
    if (!y || !g->check_numerics) return y;
    for (; g->checked < g->n_nodes; g->checked++) {
        tg_tensor *t = g->nodes[g->checked];
        if (!t->op || t->op->shares_data) continue;
        if (check_node(t) != TG_OK) {
            g->checked = g->n_nodes;
            return NULL;
        }
    }
    return y;
}

/* Given values, when an op takes them. */
tg_status tg__check_input(const tg_graph *g, tg_tensor *x)
{
    return g->check_numerics && x->graph == g ? check_node(x) : TG_OK;
}

tg_status tg_graph_check_numerics(tg_graph *g)
{
    if (!g || !g->check_numerics) return TG_OK;
    for (size_t i = 0; i < g->n_nodes; i++)
        if (check_node(g->nodes[i]) != TG_OK) return TG_ERR_NUMERICS;
    return TG_OK;
}

/* After t's backward step: the gradients it added to its inputs. */
tg_status tg__check_gradients(const tg_tensor *t)
{
    for (int k = 0; k < 3 && t->src[k]; k++) {
        const tg_tensor *x = t->src[k];
        size_t bad = x->requires_grad && x->grad ? first_non_finite(x->grad, x->size) : x->size;
        if (bad == x->size) continue;
        char shape[64], received[160], inputs[512];
        describe_values(t, t->grad, received, sizeof received);
        describe_inputs(t, inputs, sizeof inputs);
        tg__error("check-numerics: the backward of %s (node %zu, %s) made the gradient of its input %d %s at "
                  "element %zu; the gradient it received: %s%s", tg_tensor_op_name(t), t->id, tg_shape_str(t, shape),
                  k + 1, isnan(x->grad[bad]) ? "NaN" : "infinite", bad, received, inputs);
        return TG_ERR_NUMERICS;
    }
    return TG_OK;
}
