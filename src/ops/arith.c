/* arith.c — the broadcasting elementwise ops of two or three tensors: add,
 * sub, mul, div, maximum, minimum, the comparisons and where. Their loops
 * are the kernels' (tg__k_binary, tg__k_where). */
#include "../kernels/kernels.h"
#include "ops.h"

/* ---- broadcasting (torch's rules: align shapes on the right; each set of
 * sizes must match or be 1) ---- */

/* The broadcast shape of n tensors into ndim, shape; false at the first
 * dimension (*at, counted in the result) where sizes *s0 and *s1 clash. */
static bool broadcast_shapes(int n, const tg_tensor *const *ts, int *ndim, int *shape, int *at, int *s0, int *s1)
{
    *ndim = 0;
    for (int k = 0; k < n; k++)
        if (ts[k]->ndim > *ndim) *ndim = ts[k]->ndim;
    for (int d = *ndim - 1; d >= 0; d--) {
        shape[d] = 1;
        for (int k = 0; k < n; k++) {
            int dk = d - (*ndim - ts[k]->ndim), s = dk >= 0 ? ts[k]->shape[dk] : 1;
            if (s == shape[d] || s == 1) continue;
            if (shape[d] != 1) {
                *at = d, *s0 = shape[d], *s1 = s;
                return false;
            }
            shape[d] = s;
        }
    }
    return true;
}

/* Strides of x read as y's shape padded to 4 dimensions: 0 where x repeats. */
static void broadcast_strides(const tg_tensor *x, const tg_tensor *y, size_t *stride)
{
    size_t s = 1;
    for (int d = 3, dx = x->ndim - 1, dy = y->ndim - 1; d >= 0; d--, dx--, dy--) {
        size_t nx = dx >= 0 ? (size_t)x->shape[dx] : 1, ny = dy >= 0 ? (size_t)y->shape[dy] : 1;
        stride[d] = nx == ny ? s : 0;
        s *= nx;
    }
}

/* How a, b and c (NULL for two operands) are read as y. */
static void make_bcast(const tg_tensor *a, const tg_tensor *b, const tg_tensor *c, const tg_tensor *y, tg__bcast *bc)
{
    for (int d = 3, dy = y->ndim - 1; d >= 0; d--, dy--) bc->shape[d] = dy >= 0 ? (size_t)y->shape[dy] : 1;
    broadcast_strides(a, y, bc->sa);
    broadcast_strides(b, y, bc->sb);
    if (c) broadcast_strides(c, y, bc->sc);
    else for (int d = 0; d < 4; d++) bc->sc[d] = 0;
    bc->same = tg_same_shape(a, y) && tg_same_shape(b, y) && (!c || tg_same_shape(c, y));
}

/* ---- add, sub, mul, div, maximum, minimum: y = a op b; backward sums dy
 * over the elements an operand was repeated into. The comparisons share
 * the builder: 1 where a op b holds, else 0 (their descriptors are no_grad) ---- */

static tg_tensor *binary(const char *fn, const char *sym, tg_graph *g, const tg__op_desc *op, tg_tensor *a,
                         tg_tensor *b)
{
    int ndim, shape[TG_MAX_DIMS], at, s0, s1;
    if (!TG__INPUTS_OK(fn, g, a, b)) return NULL;
    if (!broadcast_shapes(2, (const tg_tensor *[]){a, b}, &ndim, shape, &at, &s0, &s1)) {
        char as[64], bs[64];
        tg__error("%s: %s %s %s: sizes %d and %d at dimension %d do not broadcast", fn, tg_shape_str(a, as), sym,
                  tg_shape_str(b, bs), s0, s1, at);
        return NULL;
    }
    tg_tensor *y = tg__op_new(fn, g, op, ndim, shape, a, b, NULL);
    if (!y) return NULL;
    tg__bcast bc;
    make_bcast(a, b, NULL, y, &bc);
    tg__k_binary((tg__binop)op->kind, &bc, a->data, b->data, y->data);
    return tg__op_done(g, y);
}

static void binary_backward(tg_tensor *y)
{
    tg_tensor *a = y->src[0], *b = y->src[1];
    tg__bcast bc;
    make_bcast(a, b, NULL, y, &bc);
    tg__k_binary_backward((tg__binop)y->op->kind, &bc, a->data, b->data, y->grad,
                          a->requires_grad ? a->grad : NULL, b->requires_grad ? b->grad : NULL);
}

static const tg__op_desc add_op = {
    .name = "add", .local = "dy/da = 1, dy/db = 1", .elementwise = true, .backward = binary_backward,
    .kind = TG__ADD};
static const tg__op_desc sub_op = {
    .name = "sub", .local = "dy/da = 1, dy/db = -1", .elementwise = true, .backward = binary_backward,
    .kind = TG__SUB};
static const tg__op_desc mul_op = {
    .name = "mul", .local = "dy/da = b, dy/db = a", .elementwise = true, .backward = binary_backward,
    .kind = TG__MUL};
static const tg__op_desc div_op = {
    .name = "div", .local = "dy/da = 1/b, dy/db = -a/b^2", .elementwise = true, .backward = binary_backward,
    .kind = TG__DIV};
/* derivatives.yaml: the gradient to the larger (smaller) operand, half each at a tie */
static const tg__op_desc maximum_op = {
    .name = "maximum", .local = "dy/da = 1 if a > b, 1/2 if a = b, else 0 (and dy/db the other way)",
    .elementwise = true, .backward = binary_backward, .kind = TG__MAX};
static const tg__op_desc minimum_op = {
    .name = "minimum", .local = "dy/da = 1 if a < b, 1/2 if a = b, else 0 (and dy/db the other way)",
    .elementwise = true, .backward = binary_backward, .kind = TG__MIN};

tg_tensor *tg_add(tg_graph *g, tg_tensor *a, tg_tensor *b) { return binary("tg_add", "+", g, &add_op, a, b); }
tg_tensor *tg_sub(tg_graph *g, tg_tensor *a, tg_tensor *b) { return binary("tg_sub", "-", g, &sub_op, a, b); }
tg_tensor *tg_mul(tg_graph *g, tg_tensor *a, tg_tensor *b) { return binary("tg_mul", "*", g, &mul_op, a, b); }
tg_tensor *tg_div(tg_graph *g, tg_tensor *a, tg_tensor *b) { return binary("tg_div", "/", g, &div_op, a, b); }
tg_tensor *tg_maximum(tg_graph *g, tg_tensor *a, tg_tensor *b)
{
    return binary("tg_maximum", "vs", g, &maximum_op, a, b);
}
tg_tensor *tg_minimum(tg_graph *g, tg_tensor *a, tg_tensor *b)
{
    return binary("tg_minimum", "vs", g, &minimum_op, a, b);
}

/* ---- comparisons: y = 1 where a op b, else 0 (torch.eq ... as float).
 * Piecewise constant, so no gradient: y never requires grad (no_grad). The
 * inputs are only read; the builder takes them as any op's. ---- */
static const tg__op_desc eq_op = {.name = "eq", .local = "none (a comparison)", .elementwise = true,
                                  .no_grad = true, .kind = TG__EQ};
static const tg__op_desc ne_op = {.name = "ne", .local = "none (a comparison)", .elementwise = true,
                                  .no_grad = true, .kind = TG__NE};
static const tg__op_desc lt_op = {.name = "lt", .local = "none (a comparison)", .elementwise = true,
                                  .no_grad = true, .kind = TG__LT};
static const tg__op_desc le_op = {.name = "le", .local = "none (a comparison)", .elementwise = true,
                                  .no_grad = true, .kind = TG__LE};
static const tg__op_desc gt_op = {.name = "gt", .local = "none (a comparison)", .elementwise = true,
                                  .no_grad = true, .kind = TG__GT};
static const tg__op_desc ge_op = {.name = "ge", .local = "none (a comparison)", .elementwise = true,
                                  .no_grad = true, .kind = TG__GE};

#define COMPARISON(name, sym)                                                                      \
    tg_tensor *tg_##name(tg_graph *g, const tg_tensor *a, const tg_tensor *b)                     \
    {                                                                                              \
        return binary("tg_" #name, sym, g, &name##_op, (tg_tensor *)a, (tg_tensor *)b);           \
    }
COMPARISON(eq, "==")
COMPARISON(ne, "!=")
COMPARISON(lt, "<")
COMPARISON(le, "<=")
COMPARISON(gt, ">")
COMPARISON(ge, ">=")

/* ---- where: y = cond ? a : b (torch.where), all three broadcast; cond is
 * copied as a 0/1 mask into aux with how it broadcasts, and not
 * differentiated. da += dy where cond, db += dy elsewhere, summed over
 * the elements each was repeated into (derivatives.yaml:
 * self: where(condition, grad, 0), other: where(condition, 0, grad)). ---- */

typedef struct where_aux {
    tg__bcast bc;
    unsigned char *mask;    /* (cond's size) cond != 0 (NaN counts as true, as bool(nan)) */
} where_aux;

static void where_backward(tg_tensor *y)
{
    tg_tensor *a = y->src[0], *b = y->src[1];
    const where_aux *w = y->aux;
    tg__k_where_backward(&w->bc, w->mask, y->grad, a->requires_grad ? a->grad : NULL,
                         b->requires_grad ? b->grad : NULL);
}

static const tg__op_desc where_op = {
    .name = "where", .local = "dy/da = cond, dy/db = 1 - cond", .elementwise = true, .backward = where_backward};

tg_tensor *tg_where(tg_graph *g, const tg_tensor *cond, tg_tensor *a, tg_tensor *b)
{
    static const char fn[] = "tg_where";
    int ndim, shape[TG_MAX_DIMS], at, s0, s1;
    if (!TG__INPUTS_OK(fn, g, (tg_tensor *)cond, a, b)) return NULL;
    if (!broadcast_shapes(3, (const tg_tensor *[]){cond, a, b}, &ndim, shape, &at, &s0, &s1)) {
        char cs[64], as[64], bs[64];
        tg__error("%s: cond %s, a %s, b %s: sizes %d and %d at dimension %d do not broadcast", fn,
                  tg_shape_str(cond, cs), tg_shape_str(a, as), tg_shape_str(b, bs), s0, s1, at);
        return NULL;
    }
    tg_tensor *y = tg__op_new(fn, g, &where_op, ndim, shape, a, b, NULL);
    where_aux *w = y ? tg__graph_alloc(fn, g, sizeof *w) : NULL;
    if (!w || !(w->mask = tg__graph_alloc(fn, g, cond->size))) return NULL;
    for (size_t i = 0; i < cond->size; i++) w->mask[i] = cond->data[i] != 0.0f;
    /* a, b as y's operands a, b; cond as the third */
    make_bcast(a, b, cond, y, &w->bc);
    y->aux = w;
    tg__k_where(&w->bc, w->mask, a->data, b->data, y->data);
    return tg__op_done(g, y);
}
