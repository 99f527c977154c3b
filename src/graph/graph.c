/* graph.c — the define-by-run graph: the arena it owns every tensor in,
 * making and recording nodes, checking an op's inputs, and the backward
 * sweep. (Numerics checking, the trace and DOT, and gradcheck are the other
 * files of src/graph.)
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

#include "../kernels/kernels.h"
#include "graph_own.h"

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
        if (tg__check_input(g, inputs[i]) != TG_OK) return false;
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
    if (y->op && y->op->no_grad) needed = false;
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

/* ---- backward ---- */

void tg__clear_marks(tg_graph *g, size_t top)
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
            tg__clear_marks(g, y->id);
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
                tg__clear_marks(g, y->id);
                tg__error("tg_backward: input %d of node #%zu (%s) was dropped by tg_graph_reset", k + 1, t->id,
                          tg_tensor_op_name(t));
                return TG_ERR_ARG;
            }
            s->flags |= TG__MARK;
        }
    }
    return TG_OK;
}

/* Which marked nodes the backward will add into once only, as input x of
 * an op that zeroes as it goes (TG__ZERO_ON_WRITE): a second marked user
 * takes the flag away. In creation order, so a node's own flags are
 * cleared before any user (made later) sets them. */
static void find_zero_on_write(tg_graph *g, tg_tensor *y)
{
    const unsigned counts = TG__USED | TG__ZERO_ON_WRITE;
    for (size_t i = 0; i <= y->id; i++) {
        tg_tensor *t = g->nodes[i];
        if (!(t->flags & TG__MARK)) continue;
        t->flags &= ~counts;
        for (int k = 0; k < 3; k++) {
            tg_tensor *s = t->src[k];
            if (!s || s->graph != g || !(s->flags & TG__MARK)) continue;
            bool again = s->flags & TG__USED;
            s->flags |= TG__USED;
            if (again) s->flags &= ~(unsigned)TG__ZERO_ON_WRITE;
            else if (k == 0 && t->op->zeroes_src0_grad && s->op) s->flags |= TG__ZERO_ON_WRITE;
        }
    }
}

/* Gives each marked tensor a zeroed gradient, or one its only user's op
 * zeroes as it writes (only when the graph's own backward runs: a step
 * function may not call it). Leaves keep theirs, so they accumulate across
 * calls; so does a standalone input whose requires_grad was set by hand. */
static tg_status prepare_grads(tg_graph *g, tg_tensor *y, bool zero_on_write)
{
    if (zero_on_write) find_zero_on_write(g, y);
    for (size_t i = 0; i <= y->id; i++) {
        tg_tensor *t = g->nodes[i];
        if (!(t->flags & TG__MARK)) continue;
        bool fresh = !t->grad;
        if (fresh && !(t->grad = arena_alloc(g, t->size * sizeof(float)))) return TG_ERR_NOMEM;
        if ((fresh || t->op) && !(t->flags & TG__ZERO_ON_WRITE))
            tg__k_zero(t->size, t->grad); /* over the threads: a CNN's are megabytes */
        for (int k = 0; k < 3; k++) {
            tg_tensor *s = t->src[k];
            if (s && s->requires_grad && !s->graph && !s->grad &&
                tg_tensor_requires_grad(s, true) != TG_OK)
                return TG_ERR_NOMEM;
        }
    }
    return TG_OK;
}

/* Ends a backward early (an error): gradients still waiting for their
 * user's zeroing are zeroed, as they would have been up front, and the
 * marks of nodes[0..top] cleared. */
static void stop_sweep(tg_graph *g, size_t top)
{
    for (size_t i = 0; i <= top; i++) {
        tg_tensor *t = g->nodes[i];
        if ((t->flags & TG__ZERO_ON_WRITE) && t->grad) tg__k_zero(t->size, t->grad);
        t->flags &= ~(unsigned)TG__ZERO_ON_WRITE;
    }
    tg__clear_marks(g, top);
}

tg_status tg__backward_sweep(tg_tensor *y, const float *dy, tg__backward_step *step, void *ctx)
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
        /* zeroing as they go: not under a step function, which need not
         * call the ops' backward, nor while numerics are checked */
        if (prepare_grads(g, y, !step && !g->check_numerics) != TG_OK) {
            stop_sweep(g, y->id);
            tg__error("tg_backward: out of memory for gradients");
            return TG_ERR_NOMEM;
        }
    } else if (!y->grad && tg_tensor_requires_grad(y, true) != TG_OK) {
        return TG_ERR_NOMEM;
    }
    if (dy)
        tg__k_acc(y->size, dy, y->grad);
    else
        for (size_t i = 0; i < y->size; i++) y->grad[i] += 1.0f;
    if (!g) return TG_OK;
    for (size_t i = y->id + 1; i-- > 0;) {
        tg_tensor *t = g->nodes[i];
        if (!(t->flags & TG__MARK)) continue;
        t->flags &= ~(unsigned)TG__MARK;
        if (!t->src[0]) continue;
        tg_status s = step ? step(g, t, y, ctx) : TG_OK;
        if (!step) t->op->backward(t);
        for (int k = 0; k < 3; k++) /* g's own nodes only: a standalone input may be shared with other threads */
            if (t->src[k] && t->src[k]->graph == g) t->src[k]->flags &= ~(unsigned)TG__ZERO_ON_WRITE;
        if (s != TG_OK) {
            stop_sweep(g, i);
            return s;
        }
        if (!g->retain) t->flags |= TG__DIFFERENTIATED;
        if (g->check_numerics && tg__check_gradients(t) != TG_OK) {
            stop_sweep(g, i);
            return TG_ERR_NUMERICS;
        }
    }
    return TG_OK;
}

tg_status tg_backward_grad(tg_tensor *y, const float *dy)
{
    return tg__backward_sweep(y, dy, NULL, NULL);
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

