/* module.c — tg_module: named parameters and buffers, a mode, a forward
 * (torch.nn.Module's core, without children yet). */
#include <stdlib.h>
#include <string.h>

#include "../graph/graph.h"

enum { NAME_LEN = 48 };

struct tg__module_entry {
    char name[NAME_LEN];
    tg_tensor *t;            /* owned */
    bool buffer;
};

tg_module *tg_module_new(const tg_module_ops *ops, void *impl)
{
    if (!ops || !ops->forward) {
        tg__error("tg_module_new: %s is NULL", ops ? "ops->forward" : "ops");
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
    for (int i = 0; i < m->n_entries; i++) tg_tensor_free(m->entries[i].t);
    free(m->entries);
    if (m->ops->free_impl) m->ops->free_impl(m->impl);
    free(m);
}

static struct tg__module_entry *find(const tg_module *m, const char *name)
{
    for (int i = 0; i < m->n_entries; i++)
        if (!strcmp(m->entries[i].name, name)) return &m->entries[i];
    return NULL;
}

/* Why t cannot join m as name, or NULL. */
static const char *refusal(const tg_module *m, const char *name, const tg_tensor *t)
{
    if (!m) return "module is NULL";
    if (!name || !*name) return "the name is empty";
    if (strlen(name) >= NAME_LEN) return "the name is longer than 47 characters";
    if (!t) return "tensor is NULL";
    if (t->graph) return "the tensor is on a graph (a parameter is standalone, g = NULL)";
    if (find(m, name)) return "the name is taken";
    return NULL;
}

static tg_status add(tg_module *m, const char *name, tg_tensor *t, bool buffer)
{
    const char *fn = buffer ? "tg_module_add_buffer" : "tg_module_add_param";
    const char *why = refusal(m, name, t);
    if (why) {
        if (tg_last_error()[0] && !t) return TG_ERR_ARG; /* t's own failure says more */
        tg__error("%s: '%s': %s", fn, name ? name : "(null)", why);
        if (t && !t->graph) tg_tensor_free(t);
        return TG_ERR_ARG;
    }
    if (m->n_entries == m->cap_entries) {
        int cap = m->cap_entries ? 2 * m->cap_entries : 8;
        struct tg__module_entry *e = realloc(m->entries, (size_t)cap * sizeof *e);
        if (!e) {
            tg_tensor_free(t);
            tg__error("%s: out of memory", fn);
            return TG_ERR_NOMEM;
        }
        m->entries = e, m->cap_entries = cap;
    }
    tg_status s = tg_tensor_requires_grad(t, !buffer);
    if (s != TG_OK) {
        tg_tensor_free(t);
        return s;
    }
    struct tg__module_entry *e = &m->entries[m->n_entries++];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->t = t;
    e->buffer = buffer;
    return TG_OK;
}

tg_status tg_module_add_param(tg_module *m, const char *name, tg_tensor *t) { return add(m, name, t, false); }

tg_status tg_module_add_buffer(tg_module *m, const char *name, tg_tensor *t) { return add(m, name, t, true); }

tg_tensor *tg_module_param(const tg_module *m, const char *name)
{
    const struct tg__module_entry *e = m && name ? find(m, name) : NULL;
    if (!e) tg__error("tg_module_param: %s has no parameter or buffer '%s'", m ? m->ops->name : "NULL module",
                      name ? name : "(null)");
    return e ? e->t : NULL;
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
    return was;
}

void tg_module_set_rng(tg_module *m, tg_rng *rng)
{
    if (m) m->rng = rng;
}

int tg_module_parameters(const tg_module *m, tg_tensor **params, int max)
{
    int n = 0;
    for (int i = 0; m && i < m->n_entries; i++) {
        if (m->entries[i].buffer) continue;
        if (params && n < max) params[n] = m->entries[i].t;
        n++;
    }
    return n;
}

int tg_module_state_size(const tg_module *m) { return m ? m->n_entries : 0; }

tg_tensor *tg_module_state(const tg_module *m, int i, const char **name, bool *is_buffer)
{
    if (!m || i < 0 || i >= m->n_entries) return NULL;
    if (name) *name = m->entries[i].name;
    if (is_buffer) *is_buffer = m->entries[i].buffer;
    return m->entries[i].t;
}
