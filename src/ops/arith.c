/* arith.c — add, sub, mul and div, with broadcasting; their loops are the
 * kernels' (tg__k_binary), shared by the four. */
#include "../kernels/kernels.h"
#include "ops.h"

/* ---- broadcasting (torch's rules: align shapes on the right; each pair of
 * sizes must match or one of them be 1) ---- */

static bool broadcast_shape(const char *fn, const char *sym, const tg_tensor *a, const tg_tensor *b,
                            int *ndim, int *shape)
{
    *ndim = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int d = *ndim - 1, da = a->ndim - 1, db = b->ndim - 1; d >= 0; d--, da--, db--) {
        int sa = da >= 0 ? a->shape[da] : 1, sb = db >= 0 ? b->shape[db] : 1;
        if (sa != sb && sa != 1 && sb != 1) {
            char as[64], bs[64];
            tg__error("%s: %s %s %s: sizes %d and %d at dimension %d do not broadcast", fn,
                      tg_shape_str(a, as), sym, tg_shape_str(b, bs), sa, sb, d);
            return false;
        }
        shape[d] = sa > sb ? sa : sb;
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

static void make_bcast(const tg_tensor *a, const tg_tensor *b, const tg_tensor *y, tg__bcast *bc)
{
    for (int d = 3, dy = y->ndim - 1; d >= 0; d--, dy--) bc->shape[d] = dy >= 0 ? (size_t)y->shape[dy] : 1;
    broadcast_strides(a, y, bc->sa);
    broadcast_strides(b, y, bc->sb);
    bc->same = tg_same_shape(a, y) && tg_same_shape(b, y);
}

/* ---- add, sub, mul, div: y = a op b; backward sums dy over the elements
 * an operand was repeated into ---- */

static tg_tensor *binary(const char *fn, const char *sym, tg_graph *g, const tg__op_desc *op, tg_tensor *a,
                         tg_tensor *b)
{
    int ndim, shape[TG_MAX_DIMS];
    if (!TG__INPUTS_OK(fn, g, a, b) || !broadcast_shape(fn, sym, a, b, &ndim, shape)) return NULL;
    tg_tensor *y = tg__op_new(fn, g, op, ndim, shape, a, b, NULL);
    if (!y) return NULL;
    tg__bcast bc;
    make_bcast(a, b, y, &bc);
    tg__k_binary((tg__binop)op->kind, &bc, a->data, b->data, y->data);
    return tg__op_done(g, y);
}

static void binary_backward(tg_tensor *y)
{
    tg_tensor *a = y->src[0], *b = y->src[1];
    tg__bcast bc;
    make_bcast(a, b, y, &bc);
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

tg_tensor *tg_add(tg_graph *g, tg_tensor *a, tg_tensor *b) { return binary("tg_add", "+", g, &add_op, a, b); }
tg_tensor *tg_sub(tg_graph *g, tg_tensor *a, tg_tensor *b) { return binary("tg_sub", "-", g, &sub_op, a, b); }
tg_tensor *tg_mul(tg_graph *g, tg_tensor *a, tg_tensor *b) { return binary("tg_mul", "*", g, &mul_op, a, b); }
tg_tensor *tg_div(tg_graph *g, tg_tensor *a, tg_tensor *b) { return binary("tg_div", "/", g, &div_op, a, b); }
