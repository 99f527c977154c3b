/* graph.h — the graph layer's private interface: what ops need of the
 * graph (making and recording nodes, checking inputs, scratch memory), and
 * what the graph's files share. */
#ifndef TG_GRAPH_H
#define TG_GRAPH_H

#include "../tensor/tensor.h"

/* tensor->flags of the graph */
enum {
    TG__MARK = 2u,           /* reachable from the tensor being differentiated */
    TG__DIFFERENTIATED = 4u, /* a backward has run through it (unless the graph retains) */
    TG__CHECKED = 8u,        /* its values have been looked at (tg_graph_set_check_numerics) */
    /* During a backward: its gradient is not zeroed; its one user's op
     * (zeroes_src0_grad) zeroes each part just before adding into it */
    TG__ZERO_ON_WRITE = 16u,
    TG__USED = 32u           /* find_zero_on_write: a marked user has been seen */
};

/* ---- ops: what the graph knows of each ----
 * Each op defines one descriptor beside its code (src/ops/), and every
 * tensor it makes points at it (tensor->op; NULL for a leaf). */
typedef struct tg__op_desc {
    const char *name;       /* as messages, the trace and the picture name it */
    const char *local;      /* its local derivative, as tg_backward_trace prints it */
    bool elementwise;       /* y_i depends on x_i only: d y_i / d x_i is the whole story */
    bool shares_data;       /* y is a view of its input's data (computes nothing) */
    /* y is piecewise constant in its inputs (the comparisons): it never
     * requires grad, as torch's comparisons, and the op has no backward.
     * tests/check_ops.c holds such an op to both. */
    bool no_grad;
    /* adds y's contribution to its inputs' gradients (NULL only with no_grad) */
    void (*backward)(tg_tensor *y);
    /* When src[0] has TG__ZERO_ON_WRITE, backward zeroes every part of its
     * gradient just before adding into that part (the parts covering it
     * all), in cache, instead of the graph zeroing megabytes up front:
     * the same bits, one pass over memory fewer */
    bool zeroes_src0_grad;
    /* unary elementwise ops (tg__unary): y = f(x) and dx += dy f'(x) given
     * x and y, p = fparam */
    void (*forward_loop)(size_t n, const float *x, float *y, const float *p);
    void (*backward_loop)(size_t n, const float *x, const float *y, const float *dy, float *dx, const float *p);
    int kind;               /* which of the ops sharing one builder (a tg__binop, ...) */
} tg__op_desc;

/* ---- the graph (graph.c) ---- */
/* True when an op may run: g is set, none of the n inputs is NULL (a NULL
 * keeps the message of whatever failed first), and every input is standalone
 * or owned by g. Otherwise sets a message naming fn and returns false. */
bool tg__inputs_ok(const char *fn, tg_graph *g, int n, tg_tensor *const *inputs);
#define TG__INPUTS_OK(fn, g, ...) \
    tg__inputs_ok(fn, g, (int)(sizeof((tg_tensor *[]){__VA_ARGS__}) / sizeof(tg_tensor *)), \
                  (tg_tensor *[]){__VA_ARGS__})

/* True when t, if it lies in g's memory, is one of the tensors g owns now;
 * false with a message naming fn and what when a tg_graph_reset dropped
 * it. Reads nothing of t that the reset gave back. */
bool tg__tensor_current(const char *fn, tg_graph *g, const tg_tensor *t, const char *what);
/* What the trace, the picture and messages call t: its name, else #id on
 * its graph, else "parameter". */
const char *tg__node_label(const tg_tensor *t, char buf[32]);
/* An optional 1-D argument (a bias, class weights, pos_weight): NULL means
 * absent; otherwise it must be (len), standalone or on g. what names it,
 * of names the tensor whose shape decides len. False with a message. */
bool tg__vector_arg_ok(const char *fn, tg_graph *g, const char *what, const tg_tensor *t, int len,
                       const char *of_what, const tg_tensor *of);
/* A new tensor on g with no inputs recorded: data allocated (uninitialised)
 * when with_data, else NULL for the caller to point somewhere. NULL with a
 * message naming fn on a bad shape or when memory runs out. */
tg_tensor *tg__node_new(const char *fn, tg_graph *g, const tg__op_desc *op, int ndim, const int *shape,
                        bool with_data);
/* The result of op applied to a, b, c (unused ones NULL), with uninitialised
 * data. It requires grad, and records its inputs for backward, when
 * recording is on, an input requires grad and op is not no_grad. */
tg_tensor *tg__op_new(const char *fn, tg_graph *g, const tg__op_desc *op, int ndim, const int *shape,
                      tg_tensor *a, tg_tensor *b, tg_tensor *c);
/* Every op's last step: y, or NULL when checking numerics finds a NaN or an
 * infinity in what the op computed (the message names it). */
tg_tensor *tg__op_done(tg_graph *g, tg_tensor *y);
/* Whether g checks numerics (tg_graph_set_check_numerics): a fused op
 * then runs as its parts, so that the part that overflows is named. */
bool tg__graph_checks_numerics(const tg_graph *g);
/* Links y to its inputs a, b, c (unused ones NULL), as tg__op_new does, for
 * a node made by tg__node_new. */
void tg__record(tg_graph *g, tg_tensor *y, tg_tensor *a, tg_tensor *b, tg_tensor *c);
/* bytes of scratch that lives as long as the graph's tensors (saved masks,
 * indices, labels), or NULL with a message naming fn. */
void *tg__graph_alloc(const char *fn, tg_graph *g, size_t bytes);

#endif /* TG_GRAPH_H */
