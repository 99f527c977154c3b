/* graph.c — the define-by-run graph: it owns every tensor ops create, runs
 * backward, draws itself as DOT and checks gradients numerically.
 *
 * Memory: tensors and their data come from an arena of chunks. Resetting the
 * graph rewinds the arena instead of freeing it, so a training loop that
 * builds the same graph every step stops allocating after its first step.
 * Chunks live as long as their graph, so a tensor kept across a reset
 * still points into one, which is how it is recognised as stale. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "tg_internal.h"

/* Under AddressSanitizer the memory a reset gives back is poisoned, so a
 * tensor kept across tg_graph_reset is a sanitizer report when used. */
#if defined(__SANITIZE_ADDRESS__)
#define TG__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TG__ASAN 1
#endif
#endif
#ifdef TG__ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

typedef struct chunk {
    struct chunk *next;     /* the graph's next chunk */
    size_t cap, used;
    unsigned char *mem;     /* (cap) bytes, TG_ALIGN-aligned */
    tg_graph *owner;
    struct chunk *all_prev, *all_next; /* every graph's chunks (all_chunks) */
} chunk;

struct tg_graph {
    chunk *first, *cur;     /* the arena; cur is where allocation resumes */
    tg_tensor **nodes;      /* (n_nodes) every tensor on the graph, in creation order */
    size_t n_nodes, cap_nodes;
    bool grad_enabled;
    bool check_numerics;    /* see tg_graph_set_check_numerics */
    bool retain;            /* see tg_graph_set_retain_graph */
    size_t checked;         /* computed nodes before nodes[checked] have been looked at */
};

enum { MIN_CHUNK = 1 << 16 };

/* ---- the arena ---- */

/* Every chunk of every live graph, so that the graph a tensor's address
 * lies in is known without reading the tensor (tg_backward of a tensor
 * kept across a reset). Changed only when a graph grows or is freed. */
static chunk *all_chunks;
static pthread_mutex_t all_chunks_lock = PTHREAD_MUTEX_INITIALIZER;

static chunk *chunk_new(tg_graph *owner, size_t cap)
{
    chunk *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->mem = tg__aligned_alloc(cap);
    if (!c->mem) {
        free(c);
        return NULL;
    }
    c->cap = cap;
    c->owner = owner;
    POISON(c->mem, cap);
    pthread_mutex_lock(&all_chunks_lock);
    c->all_next = all_chunks;
    if (all_chunks) all_chunks->all_prev = c;
    all_chunks = c;
    pthread_mutex_unlock(&all_chunks_lock);
    return c;
}

static void chunks_free(chunk *c)
{
    while (c) {
        chunk *next = c->next;
        pthread_mutex_lock(&all_chunks_lock);
        if (c->all_prev) c->all_prev->all_next = c->all_next;
        else all_chunks = c->all_next;
        if (c->all_next) c->all_next->all_prev = c->all_prev;
        pthread_mutex_unlock(&all_chunks_lock);
        UNPOISON(c->mem, c->cap);
        free(c->mem);
        free(c);
        c = next;
    }
}

/* The graph whose arena holds address p, or NULL (a standalone tensor). */
static tg_graph *arena_owner(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    tg_graph *owner = NULL;
    pthread_mutex_lock(&all_chunks_lock);
    for (const chunk *c = all_chunks; c && !owner; c = c->all_next)
        if (a >= (uintptr_t)c->mem && a < (uintptr_t)c->mem + c->cap) owner = c->owner;
    pthread_mutex_unlock(&all_chunks_lock);
    return owner;
}

static void *arena_alloc(tg_graph *g, size_t bytes)
{
    bytes = (bytes + TG_ALIGN - 1) / TG_ALIGN * TG_ALIGN;
    chunk *last = NULL;
    for (chunk *c = g->cur; c; c = c->next) {
        if (c->cap - c->used >= bytes) {
            g->cur = c;
            void *p = c->mem + c->used;
            c->used += bytes;
            UNPOISON(p, bytes);
            return p;
        }
        last = c;
    }
    /* Grow geometrically so a step needs few chunks. */
    size_t cap = bytes > MIN_CHUNK ? bytes : MIN_CHUNK;
    if (last && last->cap * 2 > cap) cap = last->cap * 2;
    chunk *c = chunk_new(g, cap);
    if (!c) return NULL;
    if (last)
        last->next = c;
    else
        g->first = c;
    g->cur = c;
    c->used = bytes;
    UNPOISON(c->mem, bytes);
    return c->mem;
}

tg_graph *tg_graph_new(void)
{
    tg_graph *g = calloc(1, sizeof *g);
    if (!g) {
        tg__error("tg_graph_new: out of memory");
        return NULL;
    }
    g->grad_enabled = true;
    const char *check = getenv("TG_CHECK_NUMERICS");
    g->check_numerics = check && *check && strcmp(check, "0");
    return g;
}

void tg_graph_free(tg_graph *g)
{
    if (!g) return;
    chunks_free(g->first);
    free(g->nodes);
    free(g);
}

void tg_graph_reset(tg_graph *g)
{
    if (!g) return;
    /* The chunks are kept, not merged into one: the next identical step
     * fits them the same way, and a stale tensor's address stays in one. */
    for (chunk *c = g->first; c; c = c->next) {
        POISON(c->mem, c->cap);
        c->used = 0;
    }
    g->cur = g->first;
    g->n_nodes = 0;
    g->checked = 0;
}

bool tg_graph_set_retain_graph(tg_graph *g, bool on)
{
    if (!g) return false;
    bool previous = g->retain;
    g->retain = on;
    return previous;
}

bool tg_graph_set_grad(tg_graph *g, bool enabled)
{
    if (!g) return false;
    bool previous = g->grad_enabled;
    g->grad_enabled = enabled;
    return previous;
}

size_t tg_graph_bytes(const tg_graph *g)
{
    if (!g) return 0;
    size_t bytes = sizeof *g + g->cap_nodes * sizeof *g->nodes;
    for (const chunk *c = g->first; c; c = c->next) bytes += sizeof *c + c->cap;
    return bytes;
}

size_t tg_graph_size(const tg_graph *g) { return g ? g->n_nodes : 0; }

/* ---- nodes ---- */

void *tg__graph_alloc(const char *fn, tg_graph *g, size_t bytes)
{
    void *p = arena_alloc(g, bytes);
    if (!p) tg__error("%s: out of memory (the graph needed %zu more bytes)", fn, bytes);
    return p;
}

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
static tg_status check_input(const tg_graph *g, tg_tensor *x)
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
static tg_status check_gradients(const tg_tensor *t)
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

/* ---- tensors kept across a reset ----
 * A reset rewinds the arena, so a tensor of an earlier step points into
 * memory that is free or already holds this step's tensors. Its address
 * tells, without reading it: it lies in the arena but is not one of the
 * nodes made since the reset. */

/* True when p..p+n lies in memory g has handed out since its last reset
 * (*in_arena: p lies in g's arena at all). */
static bool arena_live(const tg_graph *g, const void *p, size_t n, bool *in_arena)
{
    uintptr_t a = (uintptr_t)p;
    *in_arena = false;
    for (const chunk *c = g->first; c; c = c->next) {
        uintptr_t lo = (uintptr_t)c->mem;
        if (a < lo || a >= lo + c->cap) continue;
        *in_arena = true;
        return a + n <= lo + c->used;
    }
    return false;
}

/* t is one of the tensors g owns now. */
static bool is_node(const tg_graph *g, const tg_tensor *t) { return t->id < g->n_nodes && g->nodes[t->id] == t; }

/* Looks in g's arena first (any op's inputs mostly lie there), then in
 * every graph's; a tensor in none is standalone. */
bool tg__tensor_current(const char *fn, tg_graph *g, const tg_tensor *t, const char *what)
{
    bool in_arena = false, live = g && arena_live(g, t, sizeof *t, &in_arena);
    tg_graph *owner = in_arena ? g : arena_owner(t);
    if (owner && owner != g) live = arena_live(owner, t, sizeof *t, &in_arena);
    bool stale = owner && (!live || !is_node(owner, t));
    if (stale)
        tg__error("%s: %s was made before the graph's last tg_graph_reset, which dropped it (its memory now "
                  "serves the next step): make it again after the reset, or keep it standalone (g = NULL)",
                  fn, what);
    return !stale;
}

bool tg__inputs_ok(const char *fn, tg_graph *g, int n, tg_tensor *const *inputs)
{
    if (!g) {
        tg__error("%s: graph is NULL", fn);
        return false;
    }
    for (int i = 0; i < n; i++) {
        if (!inputs[i]) {
            if (!tg_last_error()[0]) tg__error("%s: input %d is NULL", fn, i + 1);
            return false;
        }
        char what[24];
        snprintf(what, sizeof what, "input %d", i + 1);
        if (!tg__tensor_current(fn, g, inputs[i], what)) return false;
        if (inputs[i]->graph && inputs[i]->graph != g) {
            tg__error("%s: input %d belongs to another graph", fn, i + 1);
            return false;
        }
        if (check_input(g, inputs[i]) != TG_OK) return false;
    }
    return true;
}

bool tg__vector_arg_ok(const char *fn, tg_graph *g, const char *what, const tg_tensor *t, int len,
                       const char *of_what, const tg_tensor *of)
{
    if (!t) return true;
    if (!tg__tensor_current(fn, g, t, what)) return false;
    char ts[64], os[64];
    if (t->ndim != 1 || t->shape[0] != len) {
        tg__error("%s: %s %s: expected (%d) for %s %s", fn, what, tg_shape_str(t, ts), len, of_what,
                  tg_shape_str(of, os));
        return false;
    }
    if (t->graph && t->graph != g) {
        tg__error("%s: %s belongs to another graph", fn, what);
        return false;
    }
    return true;
}

tg_tensor *tg__node_new(const char *fn, tg_graph *g, const tg__op_desc *op, int ndim, const int *shape,
                        bool with_data)
{
    size_t size = tg__shape_size(fn, ndim, shape);
    if (!size) return NULL;
    if (g->n_nodes == g->cap_nodes) {
        size_t cap = g->cap_nodes ? 2 * g->cap_nodes : 256;
        tg_tensor **nodes = realloc(g->nodes, cap * sizeof *nodes);
        if (!nodes) goto nomem;
        g->nodes = nodes;
        g->cap_nodes = cap;
    }
    tg_tensor *t = arena_alloc(g, sizeof *t);
    if (!t) goto nomem;
    memset(t, 0, sizeof *t);
    if (with_data && !(t->data = arena_alloc(g, size * sizeof(float)))) goto nomem;
    tg__set_shape(t, ndim, shape, size);
    t->op = op;
    t->graph = g;
    t->id = g->n_nodes;
    g->nodes[g->n_nodes++] = t;
    return t;
nomem:
    tg__error("%s: out of memory for a tensor of %zu floats", fn, size);
    return NULL;
}

/* Links y to its inputs when backward will need them (or a numerics
 * message may: then without requiring grad). */
void tg__record(tg_graph *g, tg_tensor *y, tg_tensor *a, tg_tensor *b, tg_tensor *c)
{
    bool needed = (a && a->requires_grad) || (b && b->requires_grad) || (c && c->requires_grad);
    if (!g->check_numerics && (!g->grad_enabled || !needed)) return;
    y->requires_grad = g->grad_enabled && needed;
    y->src[0] = a;
    y->src[1] = b;
    y->src[2] = c;
}

tg_tensor *tg__op_new(const char *fn, tg_graph *g, const tg__op_desc *op, int ndim, const int *shape,
                      tg_tensor *a, tg_tensor *b, tg_tensor *c)
{
    tg_tensor *y = tg__node_new(fn, g, op, ndim, shape, true);
    if (y) tg__record(g, y, a, b, c);
    return y;
}

const char *tg_tensor_op_name(const tg_tensor *t)
{
    return !t ? "" : t->op ? t->op->name : "leaf";
}

/* ---- backward ---- */

static void clear_marks(tg_graph *g, size_t top)
{
    for (size_t i = 0; i <= top; i++) g->nodes[i]->flags &= ~(unsigned)TG__MARK;
}

/* Marks every tensor of g that needs a gradient on the way from y down to
 * the leaves. Creation order is a topological order, so one sweep down from
 * y's position visits each tensor after everything that uses it. Fails,
 * with nothing marked, where the way passes a node an earlier backward
 * went through (PyTorch frees such a node's saved tensors unless
 * retain_graph; tg keeps them but refuses all the same, since a second pass
 * silently doubles every parameter's gradient), or an input that a reset
 * dropped. */
static tg_status mark_reachable(tg_graph *g, tg_tensor *y)
{
    y->flags |= TG__MARK;
    for (size_t i = y->id + 1; i-- > 0;) {
        tg_tensor *t = g->nodes[i];
        if (!(t->flags & TG__MARK) || !t->requires_grad) continue;
        if (t->src[0] && (t->flags & TG__DIFFERENTIATED)) {
            char name[32], shape[64];
            clear_marks(g, y->id);
            tg__error("tg_backward: trying to backward through the graph a second time: %s (%s %s) was "
                      "differentiated by an earlier backward, and a second pass would add its share to every "
                      "gradient again. Build the graph anew (after tg_graph_reset), or call "
                      "tg_graph_set_retain_graph(g, true) before the first backward (PyTorch's retain_graph=True)",
                      tg__node_label(t, name), tg_tensor_op_name(t), tg_shape_str(t, shape));
            return TG_ERR_ARG;
        }
        for (int k = 0; k < 3; k++) {
            tg_tensor *s = t->src[k];
            if (!s || !s->requires_grad || s->graph != g) continue;
            if (!is_node(g, s)) { /* refused by every op: reaching one here is a broken invariant */
                clear_marks(g, y->id);
                tg__error("tg_backward: input %d of node #%zu (%s) was dropped by tg_graph_reset", k + 1, t->id,
                          tg_tensor_op_name(t));
                return TG_ERR_ARG;
            }
            s->flags |= TG__MARK;
        }
    }
    return TG_OK;
}

/* Gives each marked tensor a zeroed gradient. Leaves keep theirs, so they
 * accumulate across calls; so does a standalone input whose requires_grad
 * was set by hand. */
static tg_status prepare_grads(tg_graph *g, tg_tensor *y)
{
    for (size_t i = 0; i <= y->id; i++) {
        tg_tensor *t = g->nodes[i];
        if (!(t->flags & TG__MARK)) continue;
        if (!t->grad) {
            if (!(t->grad = arena_alloc(g, t->size * sizeof(float)))) return TG_ERR_NOMEM;
            memset(t->grad, 0, t->size * sizeof(float));
        } else if (t->op) {
            memset(t->grad, 0, t->size * sizeof(float));
        }
        for (int k = 0; k < 3; k++) {
            tg_tensor *s = t->src[k];
            if (s && s->requires_grad && !s->graph && !s->grad &&
                tg_tensor_requires_grad(s, true) != TG_OK)
                return TG_ERR_NOMEM;
        }
    }
    return TG_OK;
}

/* ---- the traced sweep: backpropagation as one works it on a blackboard ---- */

enum { TRACE_VALUES = 8 };   /* values shown per dimension */

const char *tg__node_label(const tg_tensor *t, char buf[32])
{
    if (t->name[0]) return t->name;
    if (!t->graph) return "parameter";
    snprintf(buf, 32, "#%zu", t->id);
    return buf;
}

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
static tg_status trace_step(tg_graph *g, tg_tensor *t, const tg_tensor *root, FILE *f)
{
    tg_tensor *in[3];
    float *delta[3], *local[3];
    char a[64], b[32];
    int n = grad_inputs(t, in);
    bool elementwise = t->op->elementwise && shapes_match(t, in, n);
    for (int k = 0; k < n; k++) {
        delta[k] = arena_alloc(g, in[k]->size * sizeof(float));
        local[k] = elementwise ? arena_alloc(g, in[k]->size * sizeof(float)) : delta[k];
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
        float *upstream = t->grad, *ones = arena_alloc(g, t->size * sizeof(float));
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

static tg_status backward_sweep(tg_tensor *y, const float *dy, FILE *trace)
{
    if (!y) {
        if (!tg_last_error()[0]) tg__error("tg_backward: tensor is NULL");
        return TG_ERR_ARG;
    }
    if (!tg__tensor_current("tg_backward", NULL, y, "the tensor")) return TG_ERR_ARG;
    if (!y->requires_grad) {
        tg__error("tg_backward: the tensor does not require grad (none of its inputs does, or "
                  "recording was off when it was made)");
        return TG_ERR_ARG;
    }
    tg_graph *g = y->graph;
    if (g && tg_graph_check_numerics(g) != TG_OK) return TG_ERR_NUMERICS;
    if (g) {
        if (mark_reachable(g, y) != TG_OK) return TG_ERR_ARG;
        if (prepare_grads(g, y) != TG_OK) {
            clear_marks(g, y->id);
            tg__error("tg_backward: out of memory for gradients");
            return TG_ERR_NOMEM;
        }
    } else if (!y->grad && tg_tensor_requires_grad(y, true) != TG_OK) {
        return TG_ERR_NOMEM;
    }
    for (size_t i = 0; i < y->size; i++) y->grad[i] += dy ? dy[i] : 1.0f;
    if (!g) return TG_OK;
    for (size_t i = y->id + 1; i-- > 0;) {
        tg_tensor *t = g->nodes[i];
        if (!(t->flags & TG__MARK)) continue;
        t->flags &= ~(unsigned)TG__MARK;
        if (!t->src[0]) continue;
        if (!trace) {
            t->op->backward(t);
        } else if (trace_step(g, t, y, trace) != TG_OK) {
            clear_marks(g, i);
            tg__error("tg_backward_trace: out of memory");
            return TG_ERR_NOMEM;
        }
        if (!g->retain) t->flags |= TG__DIFFERENTIATED;
        if (g->check_numerics && check_gradients(t) != TG_OK) {
            clear_marks(g, i);
            return TG_ERR_NUMERICS;
        }
    }
    return TG_OK;
}

tg_status tg_backward_grad(tg_tensor *y, const float *dy)
{
    return backward_sweep(y, dy, NULL);
}

tg_status tg_backward(tg_tensor *loss)
{
    if (loss && !tg__tensor_current("tg_backward", NULL, loss, "the tensor")) return TG_ERR_ARG;
    if (loss && loss->size != 1) {
        char shape[64];
        tg__error("tg_backward: loss has shape %s: backward needs a single element "
                  "(use tg_backward_grad for a seeded gradient)",
                  tg_shape_str(loss, shape));
        return TG_ERR_ARG;
    }
    return tg_backward_grad(loss, NULL);
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
    tg_status s = backward_sweep(loss, NULL, f);
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
        clear_marks(g, root->id);
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

/* ---- gradient checking ---- */

/* L = sum_i w_i y_i in double, on a fresh pass with recording off. */
static tg_status projected_loss(tg_graph *g, tg_gradcheck_fn f, void *ctx, tg_tensor *const *inputs,
                                const float *w, size_t n_out, double *loss)
{
    tg_graph_reset(g);
    bool was = tg_graph_set_grad(g, false);
    tg_tensor *y = f(g, inputs, ctx);
    tg_graph_set_grad(g, was);
    if (!y || y->size != n_out) return TG_ERR_ARG;
    double sum = 0.0;
    for (size_t i = 0; i < n_out; i++) sum += (double)w[i] * y->data[i];
    *loss = sum;
    return TG_OK;
}

/* Compares one element's analytic gradient with the central difference. */
static tg_status check_element(tg_graph *g, tg_gradcheck_fn f, void *ctx, tg_tensor *const *inputs,
                               const float *w, size_t n_out, tg_tensor *x, size_t i,
                               const tg_gradcheck_opts *o, tg_gradcheck_result *res)
{
    float orig = x->data[i];
    float h = o->eps * fmaxf(1.0f, fabsf(orig));
    float up = orig + h, down = orig - h;
    double l_up, l_down;
    x->data[i] = up;
    tg_status s = projected_loss(g, f, ctx, inputs, w, n_out, &l_up);
    x->data[i] = down;
    if (s == TG_OK) s = projected_loss(g, f, ctx, inputs, w, n_out, &l_down);
    x->data[i] = orig;
    if (s != TG_OK) return s;
    /* Divide by the step actually taken, after rounding to float. */
    double numeric = (l_up - l_down) / ((double)up - (double)down);
    double analytic = x->grad[i];
    double err = fabs(analytic - numeric);
    double rel = err / fmax(fabs(numeric), o->atol);
    if (!(err <= o->atol + o->rtol * fabs(numeric))) res->ok = false;
    if (err > res->max_abs_err || isnan(err)) res->max_abs_err = err;
    if (rel > res->max_rel_err || isnan(rel)) res->max_rel_err = rel;
    res->n_checked++;
    return TG_OK;
}

tg_status tg_gradcheck(tg_gradcheck_fn f, void *ctx, tg_tensor *const *inputs, int n_inputs,
                       const tg_gradcheck_opts *opts, tg_gradcheck_result *res)
{
    tg_gradcheck_opts o = {.eps = 1e-3f, .atol = 1e-3, .rtol = 1e-2, .seed = 0};
    if (opts) o = *opts;
    if (!f || !res || n_inputs < 0 || (n_inputs > 0 && !inputs)) {
        tg__error("tg_gradcheck: function, inputs or result is NULL");
        return TG_ERR_ARG;
    }
    for (int k = 0; k < n_inputs; k++) {
        if (!inputs[k] || inputs[k]->graph) {
            tg__error("tg_gradcheck: input %d is %s", k + 1,
                      inputs[k] ? "owned by a graph (inputs must be standalone)" : "NULL");
            return TG_ERR_ARG;
        }
        if (inputs[k]->requires_grad && tg_tensor_requires_grad(inputs[k], true) != TG_OK)
            return TG_ERR_NOMEM;
        tg_tensor_zero_grad(inputs[k]);
    }
    *res = (tg_gradcheck_result){.ok = true};
    tg_graph *g = tg_graph_new();
    if (!g) return TG_ERR_NOMEM;
    float *w = NULL;
    tg_status s = TG_ERR_ARG;
    tg_tensor *y = f(g, inputs, ctx);
    if (!y) goto done;
    s = TG_ERR_NOMEM;
    if (!(w = malloc(y->size * sizeof *w))) goto done;
    tg_rng rng;
    tg_rng_seed(&rng, o.seed);
    for (size_t i = 0; i < y->size; i++) w[i] = 0.5f + tg_rng_uniform(&rng);
    size_t n_out = y->size;
    if ((s = tg_backward_grad(y, w)) != TG_OK) goto done;
    for (int k = 0; k < n_inputs && s == TG_OK; k++) {
        if (!inputs[k]->requires_grad) continue;
        for (size_t i = 0; i < inputs[k]->size && s == TG_OK; i++)
            s = check_element(g, f, ctx, inputs, w, n_out, inputs[k], i, &o, res);
    }
    if (s != TG_OK && !tg_last_error()[0]) tg__error("tg_gradcheck: the function failed");
done:
    if (s == TG_ERR_NOMEM && !tg_last_error()[0]) tg__error("tg_gradcheck: out of memory");
    if (s != TG_OK) res->ok = false;
    free(w);
    tg_graph_free(g);
    return s;
}
