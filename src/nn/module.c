/* module.c — tg_module: named parameters, buffers and child modules, a
 * mode, a forward (torch.nn.Module); its state in torch's state_dict order
 * and names, saved to and loaded from safetensors. */
#include <fnmatch.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../graph/graph.h"

enum { PARAM, BUFFER, CHILD };

struct tg__module_entry {
    char name[TG_MODULE_NAME_MAX];
    int kind;
    tg_tensor *t;            /* PARAM, BUFFER: owned */
    tg_dtype dtype;          /* BUFFER: how a file stores it */
    tg_module *child;        /* CHILD: owned */
};

tg_module *tg_module_new(const tg_module_ops *ops, void *impl)
{
    if (!ops || !ops->forward) {
        tg__error("tg_module_new: %s is NULL", ops ? "ops->forward" : "ops");
        if (ops && ops->free_impl) ops->free_impl(impl);
        return NULL;
    }
    tg_module *m = calloc(1, sizeof *m);
    if (!m) {
        if (ops->free_impl) ops->free_impl(impl);
        tg__error("tg_module_new: out of memory");
        return NULL;
    }
    m->ops = ops;
    m->impl = impl;
    m->training = true;
    return m;
}

void tg_module_free(tg_module *m)
{
    if (!m) return;
    for (int i = 0; i < m->n_entries; i++) {
        tg_tensor_free(m->entries[i].t);
        tg_module_free(m->entries[i].child);
    }
    free(m->entries);
    if (m->ops->free_impl) m->ops->free_impl(m->impl);
    free(m);
}

static struct tg__module_entry *own(const tg_module *m, const char *name)
{
    for (int i = 0; i < m->n_entries; i++)
        if (!strcmp(m->entries[i].name, name)) return &m->entries[i];
    return NULL;
}

/* Why name cannot join m, or NULL. Dots separate a child's names. */
static const char *bad_name(const tg_module *m, const char *name)
{
    if (!name || !*name) return "the name is empty";
    if (strlen(name) >= 48) return "the name is longer than 47 characters";
    if (strchr(name, '.')) return "the name has a '.' (it separates a child's names)";
    if (own(m, name)) return "the name is taken";
    return NULL;
}

static struct tg__module_entry *grow(tg_module *m)
{
    if (m->n_entries == m->cap_entries) {
        int cap = m->cap_entries ? 2 * m->cap_entries : 8;
        struct tg__module_entry *e = realloc(m->entries, (size_t)cap * sizeof *e);
        if (!e) return NULL;
        m->entries = e, m->cap_entries = cap;
    }
    struct tg__module_entry *e = &m->entries[m->n_entries];
    memset(e, 0, sizeof *e);
    return e;
}

static tg_status add_tensor(const char *fn, tg_module *m, const char *name, tg_tensor *t, int kind, tg_dtype dtype)
{
    const char *why = !m ? "module is NULL" : !t ? "tensor is NULL"
                      : t->graph ? "the tensor is on a graph (a parameter is standalone, g = NULL)"
                      : bad_name(m, name);
    if (why) {
        if (!t && tg_last_error()[0]) return TG_ERR_ARG; /* t's own failure says more */
        tg__error("%s: '%s': %s", fn, name ? name : "(null)", why);
        if (t && !t->graph) tg_tensor_free(t);
        return TG_ERR_ARG;
    }
    struct tg__module_entry *e = grow(m);
    tg_status s = e ? tg_tensor_requires_grad(t, kind == PARAM) : TG_ERR_NOMEM;
    if (s != TG_OK) {
        if (!e) tg__error("%s: out of memory", fn);
        tg_tensor_free(t);
        return s;
    }
    snprintf(e->name, sizeof e->name, "%s", name);
    e->kind = kind, e->t = t, e->dtype = dtype;
    m->n_entries++;
    return TG_OK;
}

tg_status tg_module_add_param(tg_module *m, const char *name, tg_tensor *t)
{
    return add_tensor("tg_module_add_param", m, name, t, PARAM, TG_F32);
}

tg_status tg_module_add_buffer(tg_module *m, const char *name, tg_tensor *t, tg_dtype dtype)
{
    if (dtype != TG_F32 && dtype != TG_I64) {
        tg_tensor_free(t);
        tg__error("tg_module_add_buffer: '%s': unknown dtype", name ? name : "(null)");
        return TG_ERR_ARG;
    }
    return add_tensor("tg_module_add_buffer", m, name, t, BUFFER, dtype);
}

tg_status tg_module_add_child(tg_module *m, const char *name, tg_module *child)
{
    const char *why = !m ? "module is NULL" : !child ? "child is NULL" : child == m ? "a module is not its own child"
                      : bad_name(m, name);
    if (why) {
        if (!child && tg_last_error()[0]) return TG_ERR_ARG;
        tg__error("tg_module_add_child: '%s': %s", name ? name : "(null)", why);
        if (child != m) tg_module_free(child);
        return TG_ERR_ARG;
    }
    struct tg__module_entry *e = grow(m);
    if (!e) {
        tg__error("tg_module_add_child: out of memory");
        tg_module_free(child);
        return TG_ERR_NOMEM;
    }
    snprintf(e->name, sizeof e->name, "%s", name);
    e->kind = CHILD, e->child = child;
    m->n_entries++;
    return TG_OK;
}

tg_module *tg_module_child(const tg_module *m, const char *name)
{
    const struct tg__module_entry *e = m && name ? own(m, name) : NULL;
    return e && e->kind == CHILD ? e->child : NULL;
}

/* The entry that dotted name ("1.weight") reaches from m, or NULL. */
static const struct tg__module_entry *reach(const tg_module *m, const char *name)
{
    const char *dot = strchr(name, '.');
    if (!dot) return own(m, name);
    char head[48];
    size_t n = (size_t)(dot - name);
    if (n >= sizeof head) return NULL;
    memcpy(head, name, n);
    head[n] = '\0';
    const struct tg__module_entry *e = own(m, head);
    return e && e->kind == CHILD ? reach(e->child, dot + 1) : NULL;
}

tg_tensor *tg_module_param(const tg_module *m, const char *name)
{
    const struct tg__module_entry *e = m && name ? reach(m, name) : NULL;
    if (!e || e->kind == CHILD) {
        tg__error("tg_module_param: %s has no parameter or buffer '%s'", m ? m->ops->name : "NULL module",
                  name ? name : "(null)");
        return NULL;
    }
    return e->t;
}

tg_tensor *tg_module_forward(tg_module *m, tg_graph *g, tg_tensor *x)
{
    if (!m) {
        tg__error("tg_module_forward: module is NULL");
        return NULL;
    }
    return m->ops->forward(m, g, x);
}

bool tg_module_train(tg_module *m, bool on)
{
    if (!m) return false;
    bool was = m->training;
    m->training = on;
    for (int i = 0; i < m->n_entries; i++)
        if (m->entries[i].kind == CHILD) tg_module_train(m->entries[i].child, on);
    return was;
}

void tg_module_set_rng(tg_module *m, tg_rng *rng)
{
    if (!m) return;
    m->rng = rng;
    for (int i = 0; i < m->n_entries; i++)
        if (m->entries[i].kind == CHILD) tg_module_set_rng(m->entries[i].child, rng);
}

/* ---- the state, in torch's order: a module's parameters, then its
 * buffers, each in the order added, then each child's state under
 * "child." (torch.nn.Module.state_dict, named_parameters) ---- */

/* One step of a walk: an entry (a parameter or buffer), its dotted name
 * ("" when it outgrew TG_MODULE_NAME_MAX: tg_module_state refuses it) and
 * the module that holds it. Returning false stops the walk. */
typedef bool (*entry_fn)(const struct tg__module_entry *e, const char *name, const tg_module *owner, void *ctx);

/* Calls fn on m's parameters, then (with_buffers) its buffers, each in the
 * order added, then on each child's under "child."; false when fn stopped it. */
static bool each_entry(const tg_module *m, const char *prefix, bool with_buffers, entry_fn fn, void *ctx)
{
    for (int pass = PARAM; pass <= CHILD; pass++) {
        if (pass == BUFFER && !with_buffers) continue;
        for (int i = 0; i < m->n_entries; i++) {
            const struct tg__module_entry *e = &m->entries[i];
            if (e->kind != pass) continue;
            char name[TG_MODULE_NAME_MAX];
            int len = snprintf(name, sizeof name, "%s%s%s", prefix, e->name, pass == CHILD ? "." : "");
            if (len < 0 || len >= (int)sizeof name) name[0] = '\0';
            if (pass == CHILD ? !each_entry(e->child, name, with_buffers, fn, ctx) : !fn(e, name, m, ctx))
                return false;
        }
    }
    return true;
}

typedef struct gather {
    tg_tensor **out;
    int n, max;
    const char *patterns;    /* NULL: every parameter */
    bool matching;
    size_t elements;
} gather;

/* Whether one of the space-separated globs matches the dotted name, or
 * "kind:own_name" ("layernorm:weight"). */
static bool matches(const char *patterns, const char *name, const tg_module *owner, const char *own_name)
{
    char typed[TG_MODULE_NAME_MAX + 32];
    snprintf(typed, sizeof typed, "%s:%s", owner->ops->name, own_name);
    for (const char *p = patterns; *p;) {
        while (*p == ' ') p++;
        size_t n = strcspn(p, " ");
        char glob[128];
        if (n && n < sizeof glob) {
            memcpy(glob, p, n);
            glob[n] = '\0';
            if (!fnmatch(glob, strchr(glob, ':') ? typed : name, 0)) return true;
        }
        p += n;
    }
    return false;
}

static bool gather_param(const struct tg__module_entry *e, const char *name, const tg_module *owner, void *ctx)
{
    gather *g = ctx;
    if (g->patterns && matches(g->patterns, name, owner, e->name) != g->matching) return true;
    if (g->out && g->n < g->max) g->out[g->n] = e->t;
    g->n++;
    g->elements += e->t->size;
    return true;
}

int tg_module_parameters(const tg_module *m, tg_tensor **params, int max)
{
    gather g = {.out = params, .max = max};
    if (m) each_entry(m, "", false, gather_param, &g);
    return g.n;
}

int tg_module_select(const tg_module *m, const char *patterns, bool matching, tg_tensor **params, int max)
{
    if (!patterns) {
        tg__error("tg_module_select: patterns is NULL");
        return 0;
    }
    gather g = {.out = params, .max = max, .patterns = patterns, .matching = matching};
    if (m) each_entry(m, "", false, gather_param, &g);
    return g.n;
}

size_t tg_module_count(const tg_module *m)
{
    gather g = {0};
    if (m) each_entry(m, "", false, gather_param, &g);
    return g.elements;
}

static bool zero_param(const struct tg__module_entry *e, const char *name, const tg_module *owner, void *ctx)
{
    (void)name, (void)owner, (void)ctx;
    tg_tensor_zero_grad(e->t);
    return true;
}

void tg_module_zero_grad(tg_module *m)
{
    if (m) each_entry(m, "", false, zero_param, NULL);
}

double tg_module_clip_grad_norm(tg_module *m, double max_norm)
{
    enum { ON_STACK = 64 };  /* a training loop's model: no allocation per step */
    tg_tensor *stack[ON_STACK];
    int n = tg_module_parameters(m, NULL, 0);
    tg_tensor **params = n <= ON_STACK ? stack : malloc((size_t)n * sizeof *params);
    if (!params) {
        tg__error("tg_module_clip_grad_norm: out of memory");
        return NAN;
    }
    tg_module_parameters(m, params, n);
    double norm = tg_clip_grad_norm(params, n, max_norm);
    if (params != stack) free(params);
    return norm;
}

/* Seeking state entry want (-1: counting them all). */
typedef struct seek {
    int want, at;
    const struct tg__module_entry *found;
    char name[TG_MODULE_NAME_MAX];
} seek;

static bool seek_entry(const struct tg__module_entry *e, const char *name, const tg_module *owner, void *ctx)
{
    (void)owner;
    seek *k = ctx;
    if (k->at++ != k->want) return true;
    k->found = e;
    snprintf(k->name, sizeof k->name, "%s", name);
    return false;
}

int tg_module_state_size(const tg_module *m)
{
    seek k = {.want = -1};
    if (m) each_entry(m, "", true, seek_entry, &k);
    return k.at;
}

/* State entry i, or NULL (with a message when its name is too long). */
static const struct tg__module_entry *state_entry(const tg_module *m, int i, char name[TG_MODULE_NAME_MAX])
{
    seek k = {.want = i};
    if (!m || i < 0 || each_entry(m, "", true, seek_entry, &k)) return NULL;
    if (!k.name[0]) {
        tg__error("tg_module_state: a dotted name is longer than %d characters (children nested too deep)",
                  TG_MODULE_NAME_MAX - 1);
        return NULL;
    }
    if (name) snprintf(name, TG_MODULE_NAME_MAX, "%s", k.name);
    return k.found;
}

tg_tensor *tg_module_state(const tg_module *m, int i, char name[TG_MODULE_NAME_MAX], bool *is_buffer)
{
    const struct tg__module_entry *e = state_entry(m, i, name);
    if (e && is_buffer) *is_buffer = e->kind == BUFFER;
    return e ? e->t : NULL;
}

static tg_dtype dtype_of(const struct tg__module_entry *e) { return e->kind == BUFFER ? e->dtype : TG_F32; }

/* ---- state dicts in safetensors ---- */

tg_status tg_module_put_state(const tg_module *m, tg_safetensors *st)
{
    if (!m || !st) {
        tg__error("tg_module_put_state: %s is NULL", m ? "file" : "module");
        return TG_ERR_ARG;
    }
    tg_status s = TG_OK;
    for (int i = 0, n = tg_module_state_size(m); s == TG_OK && i < n; i++) {
        char name[TG_MODULE_NAME_MAX];
        const struct tg__module_entry *e = state_entry(m, i, name);
        s = e ? tg_safetensors_add(st, name, e->t, dtype_of(e)) : TG_ERR_ARG;
    }
    return s;
}

tg_status tg_module_save(const tg_module *m, const char *path, const char *spec)
{
    if (!m || !path) {
        tg__error("tg_module_save: %s is NULL", m ? "path" : "module");
        return TG_ERR_ARG;
    }
    tg_safetensors *st = tg_safetensors_new();
    tg_status s = st ? TG_OK : TG_ERR_NOMEM;
    if (s == TG_OK && spec) s = tg_safetensors_set_metadata(st, "spec", spec);
    if (s == TG_OK) s = tg_safetensors_set_metadata(st, "format", "pt");
    if (s == TG_OK) s = tg_module_put_state(m, st);
    if (s == TG_OK) s = tg_safetensors_write(st, path);
    tg_safetensors_free(st);
    return s;
}

tg_status tg_module_load_state(tg_module *m, const tg_safetensors *st, const char *what)
{
    if (!m || !st) {
        tg__error("tg_module_load_state: %s is NULL", m ? "file" : "module");
        return TG_ERR_ARG;
    }
    int n = tg_module_state_size(m);
    /* torch's strict load: every key the module has, and no other */
    for (int i = 0; i < tg_safetensors_count(st); i++) {
        const char *key = tg_safetensors_name(st, i);
        const struct tg__module_entry *e = reach(m, key);
        if (!e || e->kind == CHILD) {
            tg__error("%s: unexpected key '%s' (the module has no such parameter or buffer)", what, key);
            return TG_ERR_FORMAT;
        }
    }
    tg_tensor **copies = calloc((size_t)(n ? n : 1), sizeof *copies);
    tg_status s = copies ? TG_OK : TG_ERR_NOMEM;
    for (int i = 0; s == TG_OK && i < n; i++) {
        char name[TG_MODULE_NAME_MAX];
        const struct tg__module_entry *e = state_entry(m, i, name);
        if (!e) {
            s = TG_ERR_ARG;
            break;
        }
        const tg_tensor *t = e->t;
        if (!tg_safetensors_info(st, name, NULL, NULL, NULL)) {
            tg__error("%s: missing key '%s'", what, name);
            s = TG_ERR_FORMAT;
            break;
        }
        copies[i] = tg_zeros(NULL, t->ndim, t->shape);
        if (!copies[i]) s = TG_ERR_NOMEM;
        else if (tg_safetensors_get(st, name, dtype_of(e), copies[i]) != TG_OK) s = TG_ERR_FORMAT;
        if (s == TG_ERR_FORMAT) { /* tg_safetensors_get's message, for this file */
            char why[512];
            snprintf(why, sizeof why, "%s", strstr(tg_last_error(), ": ") ? strstr(tg_last_error(), ": ") + 2 : "");
            tg__error("%s: %s", what, why);
        }
    }
    /* all or nothing: the module changes only when every key was good */
    for (int i = 0; s == TG_OK && i < n; i++) {
        tg_tensor *t = tg_module_state(m, i, NULL, NULL);
        memcpy(t->data, copies[i]->data, t->size * sizeof *t->data);
    }
    for (int i = 0; copies && i < n; i++) tg_tensor_free(copies[i]);
    free(copies);
    if (s == TG_ERR_NOMEM) tg__error("tg_module_load_state: out of memory");
    return s;
}

tg_status tg_module_load(tg_module *m, const char *path)
{
    tg_safetensors *st;
    tg_status s = tg_safetensors_read(path, &st);
    if (s == TG_OK) s = tg_module_load_state(m, st, path);
    tg_safetensors_free(st);
    return s;
}

/* ---- Sequential: children "0", "1", ... applied in turn ---- */

/* The index of the first child after entry i, or n_entries. */
static int next_child(const tg_module *m, int i)
{
    while (++i < m->n_entries && m->entries[i].kind != CHILD) {}
    return i;
}

/* The children in order; a child with a fused ReLU form and a ReLU after
 * it run as one op (fused_relu_forward: Conv2d's conv2d_relu, Linear's
 * linear_relu, whose values and gradients are the two ops' to the bit),
 * the ReLU's forward not called. */
static tg_tensor *sequential_forward(tg_module *m, tg_graph *g, tg_tensor *x)
{
    for (int i = next_child(m, -1); x && i < m->n_entries;) {
        tg_module *child = m->entries[i].child;
        int next = next_child(m, i);
        if (child->fused_relu_forward && next < m->n_entries && m->entries[next].child->is_relu) {
            x = child->fused_relu_forward(child, g, x);
            next = next_child(m, next);
        } else {
            x = tg_module_forward(child, g, x);
        }
        i = next;
    }
    return x;
}

static const tg_module_ops sequential_ops = {.name = "sequential", .forward = sequential_forward};

tg_module *tg_sequential_new(tg_module *const *layers, int n)
{
    tg_module *m = tg_module_new(&sequential_ops, NULL);
    tg_status s = m ? TG_OK : TG_ERR_NOMEM;
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "%d", i);
        if (s == TG_OK) s = tg_module_add_child(m, name, layers[i]);
        else tg_module_free(layers[i]); /* it owns them, also when it fails */
    }
    if (s != TG_OK) {
        tg_module_free(m);
        return NULL;
    }
    return m;
}

/* ---- a residual block: y = x + layers(x) (He et al. 2016, "Deep
 * Residual Learning"), its children named as a Sequential's ---- */

static tg_tensor *residual_forward(tg_module *m, tg_graph *g, tg_tensor *x)
{
    return tg_add(g, x, sequential_forward(m, g, x));
}

static const tg_module_ops residual_ops = {.name = "residual", .forward = residual_forward};

tg_module *tg_residual_new(tg_module *const *layers, int n)
{
    tg_module *m = tg_sequential_new(layers, n);
    if (m) m->ops = &residual_ops;
    return m;
}
