/* linalg.c — matmul, transpose and the fused linear layer, all on GEMM. */
#include "../kernels/kernels.h"
#include "ops.h"

/* The ops of this file (each defined after its backward). */
static const tg__op_desc matmul_op, transpose_op, linear_op;

static bool is_matrix(const char *fn, const char *what, const tg_tensor *x)
{
    if (x->ndim == 2) return true;
    char s[64];
    tg__error("%s: %s has shape %s: expected 2 dimensions", fn, what, tg_shape_str(x, s));
    return false;
}

/* ---- matmul: y = a b;  da += dy b^T,  db += a^T dy ---- */
tg_tensor *tg_matmul(tg_graph *g, tg_tensor *a, tg_tensor *b)
{
    if (!TG__INPUTS_OK("tg_matmul", g, a, b) || !is_matrix("tg_matmul", "a", a) ||
        !is_matrix("tg_matmul", "b", b))
        return NULL;
    int n = a->shape[0], k = a->shape[1], m = b->shape[1];
    if (b->shape[0] != k) {
        char as[64], bs[64];
        tg__error("tg_matmul: %s @ %s: inner dimensions %d and %d differ", tg_shape_str(a, as),
                  tg_shape_str(b, bs), k, b->shape[0]);
        return NULL;
    }
    tg_tensor *y = tg__op_new("tg_matmul", g, &matmul_op, 2, (int[]){n, m}, a, b, NULL);
    if (y) tg__gemm(false, false, n, m, k, a->data, k, b->data, m, 0.0f, y->data, m);
    return tg__op_done(g, y);
}

static void matmul_backward(tg_tensor *y)
{
    tg_tensor *a = y->src[0], *b = y->src[1];
    int n = a->shape[0], k = a->shape[1], m = b->shape[1];
    if (a->requires_grad) tg__gemm(false, true, n, k, m, y->grad, m, b->data, m, 1.0f, a->grad, k);
    if (b->requires_grad) tg__gemm(true, false, k, m, n, a->data, k, y->grad, m, 1.0f, b->grad, m);
}

static const tg__op_desc matmul_op = {
    .name = "matmul", .local = "dA = dY B^T, dB = A^T dY",
    .elementwise = false, .backward = matmul_backward};

/* ---- transpose: y = x^T;  dx += dy^T ---- */
tg_tensor *tg_transpose(tg_graph *g, tg_tensor *x)
{
    if (!TG__INPUTS_OK("tg_transpose", g, x) || !is_matrix("tg_transpose", "x", x)) return NULL;
    int rows = x->shape[0], cols = x->shape[1];
    tg_tensor *y = tg__op_new("tg_transpose", g, &transpose_op, 2, (int[]){cols, rows}, x, NULL, NULL);
    if (y) tg__k_transpose((size_t)rows, (size_t)cols, x->data, y->data, false);
    return tg__op_done(g, y);
}

static void transpose_backward(tg_tensor *y)
{
    tg_tensor *x = y->src[0];
    if (x->requires_grad) tg__k_transpose((size_t)y->shape[0], (size_t)y->shape[1], y->grad, x->grad, true);
}

static const tg__op_desc transpose_op = {
    .name = "transpose", .local = "dX = dY^T",
    .elementwise = false, .backward = transpose_backward};

/* ---- linear: y = x W^T + b  (torch.nn.functional.linear);
 *      dx += dy W,  dW += dy^T x,  db += sum over rows of dy ---- */
tg_tensor *tg_linear(tg_graph *g, tg_tensor *x, tg_tensor *W, tg_tensor *b)
{
    static const char fn[] = "tg_linear";
    if (!TG__INPUTS_OK(fn, g, x, W) || !is_matrix(fn, "x", x) || !is_matrix(fn, "W", W))
        return NULL;
    int N = x->shape[0], in = x->shape[1], out = W->shape[0];
    char xs[64], ws[64];
    if (W->shape[1] != in) {
        tg__error("%s: x %s, W %s: W must be (out, %d)", fn, tg_shape_str(x, xs), tg_shape_str(W, ws), in);
        return NULL;
    }
    if (!tg__vector_arg_ok(fn, g, "b", b, out, "W", W)) return NULL;
    tg_tensor *y = tg__op_new(fn, g, &linear_op, 2, (int[]){N, out}, x, W, b);
    if (!y) return NULL;
    tg__gemm(false, true, N, out, in, x->data, in, W->data, in, 0.0f, y->data, out);
    if (b) tg__k_add_bias((size_t)N, (size_t)out, b->data, y->data);
    return tg__op_done(g, y);
}

static void linear_backward(tg_tensor *y)
{
    tg_tensor *x = y->src[0], *W = y->src[1], *b = y->src[2];
    int N = x->shape[0], in = x->shape[1], out = W->shape[0];
    if (x->requires_grad) tg__gemm(false, false, N, in, out, y->grad, out, W->data, in, 1.0f, x->grad, in);
    if (W->requires_grad) tg__gemm(true, false, out, in, N, y->grad, out, x->data, in, 1.0f, W->grad, in);
    if (b && b->requires_grad) tg__k_bias_backward((size_t)N, (size_t)out, y->grad, b->grad);
}

static const tg__op_desc linear_op = {
    .name = "linear", .local = "y = x W^T + b: dx = dy W, dW = dy^T x, db = dy summed over rows",
    .elementwise = false, .backward = linear_backward};
