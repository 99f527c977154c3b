/* graph_own.h — what the files of src/graph share and ops do not see: the
 * graph's own struct, and the hooks between its files. */
#ifndef TG_GRAPH_OWN_H
#define TG_GRAPH_OWN_H

#include "graph.h"

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

/* ---- numerics.c ---- */
/* With checking on: x's values, the first time an op takes it as an input. */
tg_status tg__check_input(const tg_graph *g, tg_tensor *x);
/* After t's backward step: the gradients it added to its inputs. */
tg_status tg__check_gradients(const tg_tensor *t);

/* ---- graph.c ---- */
/* Clears TG__MARK on nodes[0..top]. */
void tg__clear_marks(tg_graph *g, size_t top);
/* Called for every node t the sweep reaches, in reverse creation order,
 * instead of t's backward (root is where the sweep started); a status other
 * than TG_OK stops the sweep with it. */
typedef tg_status tg__backward_step(tg_graph *g, tg_tensor *t, const tg_tensor *root, void *ctx);
/* The backward sweep from y seeded with dy (NULL: ones), each node's step
 * done by step (NULL: its backward). */
tg_status tg__backward_sweep(tg_tensor *y, const float *dy, tg__backward_step *step, void *ctx);

#endif /* TG_GRAPH_OWN_H */
