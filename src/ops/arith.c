/* arith.c — elementwise ops: + - * / with broadcasting, and the unary ops
 * whose loops are in kernels/elementwise.c. */
#include "../kernels/kernels.h"
#include "../tg_internal.h"

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

static tg_tensor *binary(const char *fn, const char *sym, tg_graph *g, tg_op op, tg_tensor *a, tg_tensor *b)
{
    int ndim, shape[TG_MAX_DIMS];
    if (!TG__INPUTS_OK(fn, g, a, b) || !broadcast_shape(fn, sym, a, b, &ndim, shape)) return NULL;
    tg_tensor *y = tg__op_new(fn, g, op, ndim, shape, a, b, NULL);
    if (!y) return NULL;
    tg__bcast bc;
    make_bcast(a, b, y, &bc);
    tg__k_binary(op, &bc, a->data, b->data, y->data);
    return tg__op_done(g, y);
}

void tg__binary_backward(tg_tensor *y)
{
    tg_tensor *a = y->src[0], *b = y->src[1];
    tg__bcast bc;
    make_bcast(a, b, y, &bc);
    tg__k_binary_backward(y->op, &bc, a->data, b->data, y->grad, a->requires_grad ? a->grad : NULL,
                          b->requires_grad ? b->grad : NULL);
}

tg_tensor *tg_add(tg_graph *g, tg_tensor *a, tg_tensor *b) { return binary("tg_add", "+", g, TG_OP_ADD, a, b); }
tg_tensor *tg_sub(tg_graph *g, tg_tensor *a, tg_tensor *b) { return binary("tg_sub", "-", g, TG_OP_SUB, a, b); }
tg_tensor *tg_mul(tg_graph *g, tg_tensor *a, tg_tensor *b) { return binary("tg_mul", "*", g, TG_OP_MUL, a, b); }
tg_tensor *tg_div(tg_graph *g, tg_tensor *a, tg_tensor *b) { return binary("tg_div", "/", g, TG_OP_DIV, a, b); }

/* ---- unary ops: the math of each is beside its loops in
 * kernels/elementwise.c ---- */

tg_tensor *tg__unary(const char *fn, tg_graph *g, tg_op op, tg_tensor *x, float p0, float p1)
{
    if (!TG__INPUTS_OK(fn, g, x)) return NULL;
    tg_tensor *y = tg__op_new(fn, g, op, x->ndim, x->shape, x, NULL, NULL);
    if (!y) return NULL;
    y->fparam[0] = p0;
    y->fparam[1] = p1;
    tg__unary_kernels[op].forward(x->size, x->data, y->data, y->fparam);
    return tg__op_done(g, y);
}

void tg__unary_backward(tg_tensor *y)
{
    tg_tensor *x = y->src[0];
    if (x->requires_grad)
        tg__unary_kernels[y->op].backward(y->size, x->data, y->data, y->grad, x->grad, y->fparam);
}

tg_tensor *tg_neg(tg_graph *g, tg_tensor *x) { return tg__unary("tg_neg", g, TG_OP_NEG, x, 0, 0); }
tg_tensor *tg_add_scalar(tg_graph *g, tg_tensor *x, float c) { return tg__unary("tg_add_scalar", g, TG_OP_ADD_SCALAR, x, c, 0); }
tg_tensor *tg_mul_scalar(tg_graph *g, tg_tensor *x, float c) { return tg__unary("tg_mul_scalar", g, TG_OP_MUL_SCALAR, x, c, 0); }
tg_tensor *tg_pow(tg_graph *g, tg_tensor *x, float p) { return tg__unary("tg_pow", g, TG_OP_POW, x, p, 0); }
tg_tensor *tg_exp(tg_graph *g, tg_tensor *x) { return tg__unary("tg_exp", g, TG_OP_EXP, x, 0, 0); }
tg_tensor *tg_log(tg_graph *g, tg_tensor *x) { return tg__unary("tg_log", g, TG_OP_LOG, x, 0, 0); }
tg_tensor *tg_sqrt(tg_graph *g, tg_tensor *x) { return tg__unary("tg_sqrt", g, TG_OP_SQRT, x, 0, 0); }
tg_tensor *tg_abs(tg_graph *g, tg_tensor *x) { return tg__unary("tg_abs", g, TG_OP_ABS, x, 0, 0); }
tg_tensor *tg_square(tg_graph *g, tg_tensor *x) { return tg__unary("tg_square", g, TG_OP_SQUARE, x, 0, 0); }
tg_tensor *tg_clamp(tg_graph *g, tg_tensor *x, float lo, float hi) { return tg__unary("tg_clamp", g, TG_OP_CLAMP, x, lo, hi); }
tg_tensor *tg_relu(tg_graph *g, tg_tensor *x) { return tg__unary("tg_relu", g, TG_OP_RELU, x, 0, 0); }
tg_tensor *tg_leaky_relu(tg_graph *g, tg_tensor *x, float slope) { return tg__unary("tg_leaky_relu", g, TG_OP_LEAKY_RELU, x, slope, 0); }
tg_tensor *tg_sigmoid(tg_graph *g, tg_tensor *x) { return tg__unary("tg_sigmoid", g, TG_OP_SIGMOID, x, 0, 0); }
tg_tensor *tg_tanh(tg_graph *g, tg_tensor *x) { return tg__unary("tg_tanh", g, TG_OP_TANH, x, 0, 0); }
tg_tensor *tg_gelu(tg_graph *g, tg_tensor *x) { return tg__unary("tg_gelu", g, TG_OP_GELU, x, 0, 0); }

tg_tensor *tg_softplus(tg_graph *g, tg_tensor *x, float beta, float threshold)
{
    if (!TG__INPUTS_OK("tg_softplus", g, x)) return NULL;
    if (!(beta > 0.0f)) {
        tg__error("tg_softplus: beta %g: must be positive", beta);
        return NULL;
    }
    return tg__unary("tg_softplus", g, TG_OP_SOFTPLUS, x, beta, threshold);
}
