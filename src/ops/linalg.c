/* linalg.c — matmul (torch.matmul's 1-D, 2-D and batched cases), transpose
 * and the fused linear layer, all on GEMM. */
#include "../kernels/kernels.h"
#include "ops.h"

/* The ops of this file (each defined after its backward). */
static const tg__op_desc matmul_op, transpose_op, linear_op, linear_relu_op;

static bool is_matrix(const char *fn, const char *what, const tg_tensor *x)
{
    if (x->ndim == 2) return true;
    char s[64];
    tg__error("%s: %s has shape %s: expected 2 dimensions", fn, what, tg_shape_str(x, s));
    return false;
}

/* ---- matmul: torch.matmul's rules ----
 * a (..., n, k) @ b (..., k, m) -> (..., n, m), the batch dimensions "..."
 * broadcast; a 1-D a is (1, k) with that 1 removed from the result, a 1-D
 * b is (k, 1) likewise, so 1-D @ 1-D is the dot product, a scalar (). Each
 * batch is one GEMM: y_i = a_i b_i; da_i += dy_i b_i^T, db_i += a_i^T dy_i,
 * where a batch that a or b repeats accumulates into the same block, which
 * sums the gradient over the broadcast dimensions, in batch order. When b
 * has no batch dimensions, a's batches are folded into its rows (one GEMM,
 * as torch folds them); 2-D @ 2-D is then the single GEMM it always was. */

typedef struct matmul_plan {
    int n, k, m;          /* one product: (n, k) @ (k, m) */
    size_t batches;       /* products, over the batch shape bs */
    size_t bs[2];         /* the broadcast batch shape, padded to 2 dimensions */
    size_t sa[2], sb[2];  /* each operand's stride (in elements) per batch dimension, 0 where it repeats */
} matmul_plan;

/* A batch dimension d (of 2, counted from the right of the batch shape) of
 * x, whose last `mat` dimensions are the matrix: its size, or 1. */
static int batch_size(const tg_tensor *x, int mat, int d)
{
    int dx = x->ndim - mat - 2 + d;
    return dx >= 0 ? x->shape[dx] : 1;
}

/* The plan for a @ b and y's shape; false with a message naming the
 * shapes. */
static bool matmul_plan_make(const char *fn, const tg_tensor *a, const tg_tensor *b, matmul_plan *p, int *ndim,
                             int *shape)
{
    char as[64], bs[64];
    if (a->ndim == 0 || b->ndim == 0) {
        tg__error("%s: %s @ %s: both arguments need at least 1 dimension", fn, tg_shape_str(a, as),
                  tg_shape_str(b, bs));
        return false;
    }
    int ma = a->ndim >= 2 ? 2 : 1, mb = b->ndim >= 2 ? 2 : 1;   /* matrix dimensions of each */
    p->n = ma == 2 ? a->shape[a->ndim - 2] : 1;
    p->k = a->shape[a->ndim - 1];
    p->m = mb == 2 ? b->shape[b->ndim - 1] : 1;
    int kb = b->shape[b->ndim - mb];
    if (kb != p->k) {
        tg__error("%s: %s @ %s: inner dimensions %d and %d differ", fn, tg_shape_str(a, as), tg_shape_str(b, bs),
                  p->k, kb);
        return false;
    }
    int nba = a->ndim - ma, nbb = b->ndim - mb, nb = nba > nbb ? nba : nbb;
    size_t st_a = (size_t)p->n * (size_t)p->k, st_b = (size_t)p->k * (size_t)p->m;
    *ndim = 0;
    p->batches = 1;
    for (int d = 1; d >= 0; d--) { /* from the innermost batch dimension out */
        int sa = batch_size(a, ma, d), sb = batch_size(b, mb, d);
        if (sa != sb && sa != 1 && sb != 1) {
            tg__error("%s: %s @ %s: batch sizes %d and %d at dimension %d do not broadcast", fn,
                      tg_shape_str(a, as), tg_shape_str(b, bs), sa, sb, nb - 2 + d);
            return false;
        }
        p->bs[d] = (size_t)(sa > sb ? sa : sb);
        p->sa[d] = sa == 1 ? 0 : st_a;
        p->sb[d] = sb == 1 ? 0 : st_b;
        st_a *= (size_t)sa, st_b *= (size_t)sb;
        p->batches *= p->bs[d];
    }
    for (int d = 2 - nb; d < 2; d++) shape[(*ndim)++] = (int)p->bs[d];
    if (ma == 2) shape[(*ndim)++] = p->n;
    if (mb == 2) shape[(*ndim)++] = p->m;
    if (nbb == 0) { /* fold a's batches into its rows: one GEMM */
        p->n *= (int)p->batches;
        p->batches = 1;
        p->bs[0] = p->bs[1] = 1;
    }
    return true;
}

/* Where product i's operands start. */
static void matmul_offsets(const matmul_plan *p, size_t i, size_t *oa, size_t *ob)
{
    size_t i1 = i % p->bs[1], i0 = i / p->bs[1];
    *oa = i0 * p->sa[0] + i1 * p->sa[1];
    *ob = i0 * p->sb[0] + i1 * p->sb[1];
}

tg_tensor *tg_matmul(tg_graph *g, tg_tensor *a, tg_tensor *b)
{
    matmul_plan p;
    int ndim, shape[TG_MAX_DIMS];
    if (!TG__INPUTS_OK("tg_matmul", g, a, b) || !matmul_plan_make("tg_matmul", a, b, &p, &ndim, shape))
        return NULL;
    tg_tensor *y = tg__op_new("tg_matmul", g, &matmul_op, ndim, shape, a, b, NULL);
    if (!y) return NULL;
    size_t ys = (size_t)p.n * (size_t)p.m;
    for (size_t i = 0; i < p.batches; i++) {
        size_t oa, ob;
        matmul_offsets(&p, i, &oa, &ob);
        tg__gemm(false, false, p.n, p.m, p.k, a->data + oa, p.k, b->data + ob, p.m, 0.0f, y->data + i * ys, p.m);
    }
    return tg__op_done(g, y);
}

static void matmul_backward(tg_tensor *y)
{
    tg_tensor *a = y->src[0], *b = y->src[1];
    matmul_plan p;
    int ndim, shape[TG_MAX_DIMS];
    bool planned = matmul_plan_make("tg_matmul", a, b, &p, &ndim, shape); /* as in the forward */
    TG_ASSERT(planned);
    size_t ys = (size_t)p.n * (size_t)p.m;
    int n = p.n, k = p.k, m = p.m;
    for (size_t i = 0; i < p.batches; i++) {
        size_t oa, ob;
        matmul_offsets(&p, i, &oa, &ob);
        const float *dy = y->grad + i * ys;
        if (a->requires_grad) tg__gemm(false, true, n, k, m, dy, m, b->data + ob, m, 1.0f, a->grad + oa, k);
        if (b->requires_grad) tg__gemm(true, false, k, m, n, a->data + oa, k, dy, m, 1.0f, b->grad + ob, m);
    }
}

static const tg__op_desc matmul_op = {
    .name = "matmul", .local = "dA = dY B^T, dB = A^T dY (per batch, summed where one repeats)",
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

/* ---- linear: y = x W^T + b  (torch.nn.functional.linear), x (..., in):
 * its leading dimensions are rows of one GEMM, N = x->size / in (a 2-D x
 * is the product it always was, bit for bit);
 *      dx += dy W,  dW += dy^T x,  db += sum over rows of dy ---- */
/* y = x W^T + b, and with relu max(0, that): the bias (and the ReLU) in
 * the product's epilogue, on each tile of y as its sum completes. The
 * fused op keeps dz = 0 + (dy where y > 0), the gradient before the ReLU,
 * for the three products of its backward, as tg_relu's backward would
 * leave it in a zeroed gradient: the same bits as the two ops. */
static tg_tensor *linear(tg_graph *g, tg_tensor *x, tg_tensor *W, tg_tensor *b, bool relu)
{
    static const char fn[] = "tg_linear";
    if (!TG__INPUTS_OK(fn, g, x, W) || !is_matrix(fn, "W", W)) return NULL;
    char xs[64], ws[64];
    if (x->ndim == 0) {
        tg__error("%s: x has shape (): expected (..., in)", fn);
        return NULL;
    }
    int in = x->shape[x->ndim - 1], out = W->shape[0];
    if (W->shape[1] != in) {
        tg__error("%s: x %s, W %s: W must be (out, %d)", fn, tg_shape_str(x, xs), tg_shape_str(W, ws), in);
        return NULL;
    }
    if (!tg__vector_arg_ok(fn, g, "b", b, out, "W", W)) return NULL;
    int shape[TG_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
    shape[x->ndim - 1] = out;
    tg_tensor *y = tg__op_new(fn, g, relu ? &linear_relu_op : &linear_op, x->ndim, shape, x, W, b);
    if (!y) return NULL;
    if (relu && y->requires_grad && !(y->aux = tg__graph_alloc(fn, g, y->size * sizeof(float)))) return NULL;
    int N = (int)(x->size / (size_t)in);
    tg__gemm_bias_act(false, true, N, out, in, x->data, in, W->data, in, b ? b->data : NULL, relu, y->data, out);
    return tg__op_done(g, y);
}

tg_tensor *tg_linear(tg_graph *g, tg_tensor *x, tg_tensor *W, tg_tensor *b) { return linear(g, x, W, b, false); }

tg_tensor *tg__linear_relu(tg_graph *g, tg_tensor *x, tg_tensor *W, tg_tensor *b)
{
    /* checking numerics looks at each op's output: the product's own,
     * before a ReLU hides its -inf */
    if (tg__graph_checks_numerics(g)) return tg_relu(g, tg_linear(g, x, W, b));
    return linear(g, x, W, b, true);
}

/* dx += dy W, dW += dy^T x, db += dy summed over rows, for dy the
 * gradient of the product (y's, or dz before the ReLU). */
static void linear_grads(tg_tensor *y, const float *dy)
{
    tg_tensor *x = y->src[0], *W = y->src[1], *b = y->src[2];
    int in = x->shape[x->ndim - 1], out = W->shape[0], N = (int)(x->size / (size_t)in);
    if (x->requires_grad) tg__gemm(false, false, N, in, out, dy, out, W->data, in, 1.0f, x->grad, in);
    if (W->requires_grad) tg__gemm(true, false, out, in, N, dy, out, x->data, in, 1.0f, W->grad, in);
    if (b && b->requires_grad) tg__k_bias_backward((size_t)N, (size_t)out, dy, b->grad);
}

static void linear_backward(tg_tensor *y) { linear_grads(y, y->grad); }

static void relu_mask_slice(size_t n, float *const *bufs, const void *args)
{
    (void)args;
    tg__k_relu_mask(n, bufs[0], bufs[1], bufs[2]);
}

static void linear_relu_backward(tg_tensor *y)
{
    float *dz = y->aux;
    if (!dz) return; /* nothing needed a gradient when it ran */
    tg__run_sliced(relu_mask_slice, y->size, (float *[TG__MAX_SLICE_BUFS]){y->data, y->grad, dz}, NULL);
    linear_grads(y, dz);
}

static const tg__op_desc linear_op = {
    .name = "linear", .local = "y = x W^T + b: dx = dy W, dW = dy^T x, db = dy summed over rows",
    .elementwise = false, .backward = linear_backward};
static const tg__op_desc linear_relu_op = {
    .name = "linear_relu",
    .local = "y = max(0, x W^T + b): dz = dy where y > 0; dx = dz W, dW = dz^T x, db = dz summed over rows",
    .elementwise = false, .backward = linear_relu_backward};
