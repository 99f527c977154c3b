/* trace.c — backpropagation made visible: tg_backward_trace prints each
 * step of the sweep as one works it on a blackboard, and tg_graph_dot draws
 * the graph for Graphviz. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/kernels.h"
#include "graph_own.h"

/* ---- the traced sweep: backpropagation as one works it on a blackboard ---- */

enum { TRACE_VALUES = 8 };   /* values shown per dimension */


static void trace_values(FILE *f, const char *what, const tg_tensor *t, const float *v, const char *note)
{
    fprintf(f, "    %-6s ", what);
    tg__print_values(f, t, v, "%.4g", TRACE_VALUES);
    fprintf(f, "%s\n", note);
}

/* The inputs of t that receive a gradient, each once (x * x names x once). */
static int grad_inputs(const tg_tensor *t, tg_tensor **in)
{
    int n = 0;
    for (int k = 0; k < 3 && t->src[k]; k++) {
        tg_tensor *s = t->src[k];
        bool seen = false;
        for (int j = 0; j < n; j++) seen |= in[j] == s;
        if (s->requires_grad && !seen) in[n++] = s;
    }
    return n;
}

static bool shapes_match(const tg_tensor *t, tg_tensor *const *in, int n)
{
    for (int k = 0; k < n; k++)
        if (!tg_same_shape(t, in[k])) return false;
    return true;
}

/* Runs t's backward with each input's gradient redirected to a zeroed
 * buffer delta[k], so what t adds to each input can be shown. */
static void backward_into(tg_tensor *t, tg_tensor *const *in, float *const *delta, int n)
{
    float *saved[3];
    for (int k = 0; k < n; k++) {
        memset(delta[k], 0, in[k]->size * sizeof(float));
        saved[k] = in[k]->grad;
        in[k]->grad = delta[k];
    }
    t->op->backward(t);
    for (int k = 0; k < n; k++) in[k]->grad = saved[k];
}

/* One step of the sweep: t's value, its gradient (complete now: everything
 * that uses t came later and has passed its share down), its local
 * derivative, and what it adds to each input's gradient: the chain rule,
 * upstream gradient times local derivative. */
static tg_status trace_step(tg_graph *g, tg_tensor *t, const tg_tensor *root, void *file)
{
    FILE *f = file;
    tg_tensor *in[3];
    float *delta[3], *local[3];
    char a[64], b[32];
    int n = grad_inputs(t, in);
    bool elementwise = t->op->elementwise && shapes_match(t, in, n);
    for (int k = 0; k < n; k++) {
        delta[k] = tg__graph_alloc("tg_backward_trace", g, in[k]->size * sizeof(float));
        local[k] = elementwise ? tg__graph_alloc("tg_backward_trace", g, in[k]->size * sizeof(float)) : delta[k];
        if (!delta[k] || !local[k]) return TG_ERR_NOMEM;
    }
    fprintf(f, "%s = %s(", tg__node_label(t, a), tg_tensor_op_name(t));
    for (int k = 0; k < 3 && t->src[k]; k++) fprintf(f, "%s%s", k ? ", " : "", tg__node_label(t->src[k], b));
    fprintf(f, ")%s%s\n", t->ndim ? "  " : "", t->ndim ? tg_shape_str(t, a) : "");
    trace_values(f, "value", t, t->data, "");
    char root_buf[32], note[96];
    const char *out = tg__node_label(root, root_buf);
    if (t == root)
        snprintf(note, sizeof note, "  (the seed: d%s/d%s = 1)", out, out);
    else
        snprintf(note, sizeof note, "  (d%s/d%s)", out, tg__node_label(t, b));
    trace_values(f, "grad", t, t->grad, note);
    fprintf(f, "    local  %s\n", t->op->local);
    if (elementwise) {
        /* Seeded with ones, an elementwise backward yields d y_i / d x_i. */
        float *upstream = t->grad, *ones = tg__graph_alloc("tg_backward_trace", g, t->size * sizeof(float));
        if (!ones) return TG_ERR_NOMEM;
        for (size_t i = 0; i < t->size; i++) ones[i] = 1.0f;
        t->grad = ones;
        backward_into(t, in, local, n);
        t->grad = upstream;
    }
    backward_into(t, in, delta, n);
    for (int k = 0; k < n; k++) {
        tg__k_acc(in[k]->size, delta[k], in[k]->grad);
        fprintf(f, "    %s.grad += ", tg__node_label(in[k], a));
        if (elementwise) {
            tg__print_values(f, t, t->grad, "%.4g", TRACE_VALUES);
            fputs(" * ", f);
            tg__print_values(f, in[k], local[k], "%.4g", TRACE_VALUES);
            fputs(" = ", f);
        }
        tg__print_values(f, in[k], delta[k], "%.4g", TRACE_VALUES);
        fputc('\n', f);
    }
    return TG_OK;
}

tg_status tg_backward_trace(tg_tensor *loss, FILE *f)
{
    if (!f) {
        tg__error("tg_backward_trace: file is NULL");
        return TG_ERR_ARG;
    }
    if (loss && loss->size != 1) return tg_backward(loss);   /* its message */
    if (loss && loss->requires_grad && loss->graph)
        fprintf(f, "backward sweep from %s, node by node in reverse topological order\n\n",
                tg__node_label(loss, (char[32]){0}));
    tg_status s = tg__backward_sweep(loss, NULL, trace_step, f);
    if (s == TG_OK && (fflush(f) != 0 || ferror(f))) {
        tg__error("tg_backward_trace: write failed");
        return TG_ERR_IO;
    }
    return s;
}

/* ---- Graphviz DOT ---- */

/* Standalone tensors (parameters) have no id on the graph; they are named
 * p0, p1, ... in order of first appearance. */
typedef struct dot_names {
    const tg_tensor **params;
    size_t n, cap;
} dot_names;

static int dot_id(dot_names *names, const tg_tensor *t, char *buf, bool *is_new)
{
    *is_new = false;
    if (t->graph) return snprintf(buf, 32, "n%zu", t->id);
    size_t k = 0;
    while (k < names->n && names->params[k] != t) k++;
    if (k == names->n) {
        if (names->n == names->cap) {
            size_t cap = names->cap ? 2 * names->cap : 16;
            const tg_tensor **p = realloc(names->params, cap * sizeof *p);
            if (!p) return -1;
            names->params = p;
            names->cap = cap;
        }
        names->params[names->n++] = t;
        *is_new = true;
    }
    return snprintf(buf, 32, "p%zu", k);
}

/* A tensor's name inside a quoted DOT label: quotes and backslashes escaped. */
static void dot_name(FILE *f, const char *name)
{
    for (; *name; name++) {
        if (*name == '"' || *name == '\\') fputc('\\', f);
        fputc(*name, f);
    }
}

enum { DOT_VALUES = 4 };   /* tensors this small show their numbers */

static void dot_node(FILE *f, const char *id, const tg_tensor *t)
{
    char shape[64];
    const char *what = !t->op ? (t->graph ? "input" : "parameter") : tg_tensor_op_name(t);
    fprintf(f, "  %s [label=\"", id);
    dot_name(f, t->name);
    fprintf(f, "%s%s", t->name[0] ? ": " : "", what);
    if (t->ndim) fprintf(f, " %s", tg_shape_str(t, shape));
    if (t->size <= DOT_VALUES) {
        fputs("\\ndata ", f);
        tg__print_values(f, t, t->data, "%.4g", DOT_VALUES);
        if (t->grad) {
            fputs("\\ngrad ", f);
            tg__print_values(f, t, t->grad, "%.4g", DOT_VALUES);
        }
    } else if (t->grad) {
        fprintf(f, "\\n|grad| %.4g", sqrt(tg__k_sum_sq(t->size, t->grad)));
    }
    fprintf(f, "\", shape=%s%s];\n", !t->op ? "ellipse" : "box",
            t->graph ? "" : ", style=filled, fillcolor=lightblue");
}

tg_status tg_graph_dot(const tg_tensor *root, FILE *f)
{
    if (!root || !f) {
        tg__error("tg_graph_dot: %s is NULL", root ? "file" : "tensor");
        return TG_ERR_ARG;
    }
    dot_names names = {0};
    char id[32], sid[32];
    bool is_new;
    tg_status status = TG_OK;
    fprintf(f, "digraph tg {\n  rankdir=BT;\n  node [fontname=\"Helvetica\"];\n");
    if (!root->graph) {
        dot_node(f, "p0", root);
    } else {
        tg_graph *g = root->graph;
        tg_tensor *top = (tg_tensor *)root;
        top->flags |= TG__MARK;
        for (size_t i = root->id + 1; i-- > 0;) {
            tg_tensor *t = g->nodes[i];
            if (!(t->flags & TG__MARK)) continue;
            t->flags &= ~(unsigned)TG__MARK;
            dot_id(&names, t, id, &is_new);
            dot_node(f, id, t);
            for (int k = 0; k < 3 && t->src[k]; k++) {
                tg_tensor *s = t->src[k];
                if (dot_id(&names, s, sid, &is_new) < 0) {
                    status = TG_ERR_NOMEM;
                    break;
                }
                if (s->graph)
                    s->flags |= TG__MARK;
                else if (is_new)
                    dot_node(f, sid, s);
                fprintf(f, "  %s -> %s;\n", sid, id);
            }
        }
        tg__clear_marks(g, root->id);
    }
    fprintf(f, "}\n");
    free(names.params);
    if (status != TG_OK) {
        tg__error("tg_graph_dot: out of memory");
        return status;
    }
    if (ferror(f)) {
        tg__error("tg_graph_dot: write failed");
        return TG_ERR_IO;
    }
    return TG_OK;
}
