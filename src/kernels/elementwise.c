/* elementwise.c — one loop per elementwise op and per derivative.
 * Each unary section gives y = f(x) and dx += dy f'(x); backward receives
 * both x and y = f(x), whichever makes the derivative cheaper and exact.
 * Formulas are torch's (aten/src/ATen/native, derivatives.yaml). */
#include <math.h>

#include "kernels.h"

#define UNUSED(x) (void)(x)

/* The multiversioned (TG__CLONES) loops are static, each behind a plain
 * function: clang 14 neither links calls to an extern multiversioned
 * function from other files nor accepts one declared before its clones. */
TG__CLONES static void acc_loop(size_t n, const float *dy, float *dx)
{
    for (size_t i = 0; i < n; i++) dx[i] += dy[i];
}
void tg__k_acc(size_t n, const float *dy, float *dx) { acc_loop(n, dy, dx); }

/* ---- neg: y = -x ---- */
static void neg_fwd(size_t n, const float *x, float *y, const float *p)
{
    UNUSED(p);
    for (size_t i = 0; i < n; i++) y[i] = -x[i];
}
static void neg_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx, const float *p)
{
    UNUSED(x), UNUSED(y), UNUSED(p);
    for (size_t i = 0; i < n; i++) dx[i] -= dy[i];
}

/* ---- add_scalar: y = x + c ---- */
static void add_scalar_fwd(size_t n, const float *x, float *y, const float *p)
{
    for (size_t i = 0; i < n; i++) y[i] = x[i] + p[0];
}
static void add_scalar_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx,
                           const float *p)
{
    UNUSED(x), UNUSED(y), UNUSED(p);
    tg__k_acc(n, dy, dx);
}

/* ---- mul_scalar: y = c x ---- */
static void mul_scalar_fwd(size_t n, const float *x, float *y, const float *p)
{
    for (size_t i = 0; i < n; i++) y[i] = p[0] * x[i];
}
static void mul_scalar_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx,
                           const float *p)
{
    UNUSED(x), UNUSED(y);
    for (size_t i = 0; i < n; i++) dx[i] += p[0] * dy[i];
}

/* ---- pow: y = x^e, dy/dx = e x^(e-1); 0 for e = 0, as torch (no 0 * inf) ---- */
static void pow_fwd(size_t n, const float *x, float *y, const float *p)
{
    for (size_t i = 0; i < n; i++) y[i] = powf(x[i], p[0]);
}
static void pow_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx, const float *p)
{
    UNUSED(y);
    if (p[0] == 0.0f) return;
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] * p[0] * powf(x[i], p[0] - 1.0f);
}

/* ---- exp: y = e^x, dy/dx = y ---- */
static void exp_fwd(size_t n, const float *x, float *y, const float *p)
{
    UNUSED(p);
    for (size_t i = 0; i < n; i++) y[i] = expf(x[i]);
}
static void exp_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx, const float *p)
{
    UNUSED(x), UNUSED(p);
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] * y[i];
}

/* ---- log: y = ln x, dy/dx = 1/x ---- */
static void log_fwd(size_t n, const float *x, float *y, const float *p)
{
    UNUSED(p);
    for (size_t i = 0; i < n; i++) y[i] = logf(x[i]);
}
static void log_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx, const float *p)
{
    UNUSED(y), UNUSED(p);
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] / x[i];
}

/* ---- sqrt: y = sqrt(x), dy/dx = 1 / (2 y) ---- */
static void sqrt_fwd(size_t n, const float *x, float *y, const float *p)
{
    UNUSED(p);
    for (size_t i = 0; i < n; i++) y[i] = sqrtf(x[i]);
}
static void sqrt_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx, const float *p)
{
    UNUSED(x), UNUSED(p);
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] / (2.0f * y[i]);
}

/* ---- abs: y = |x|, dy/dx = sign(x) with sign(0) = 0 ---- */
static float sign(float x) { return (float)((x > 0.0f) - (x < 0.0f)); }

static void abs_fwd(size_t n, const float *x, float *y, const float *p)
{
    UNUSED(p);
    for (size_t i = 0; i < n; i++) y[i] = fabsf(x[i]);
}
static void abs_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx, const float *p)
{
    UNUSED(y), UNUSED(p);
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] * sign(x[i]);
}

/* ---- square: y = x^2, dy/dx = 2x ---- */
static void square_fwd(size_t n, const float *x, float *y, const float *p)
{
    UNUSED(p);
    for (size_t i = 0; i < n; i++) y[i] = x[i] * x[i];
}
static void square_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx, const float *p)
{
    UNUSED(y), UNUSED(p);
    for (size_t i = 0; i < n; i++) dx[i] += 2.0f * x[i] * dy[i];
}

/* ---- clamp: y = min(max(x, lo), hi) (so hi wins when lo > hi); gradient 1
 * on lo <= x <= hi. Comparisons, not fminf/fmaxf, keep NaN NaN as torch. ---- */
static void clamp_fwd(size_t n, const float *x, float *y, const float *p)
{
    for (size_t i = 0; i < n; i++) {
        float t = x[i] < p[0] ? p[0] : x[i];
        y[i] = t > p[1] ? p[1] : t;
    }
}
static void clamp_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx, const float *p)
{
    UNUSED(y);
    for (size_t i = 0; i < n; i++)
        if (x[i] >= p[0] && x[i] <= p[1]) dx[i] += dy[i];
}

/* ---- relu: y = max(0, x); gradient where y > 0 (torch's threshold_backward) ---- */
TG__CLONES static void relu_fwd(size_t n, const float *x, float *y, const float *p)
{
    UNUSED(p);
    for (size_t i = 0; i < n; i++) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}
TG__CLONES static void relu_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx, const float *p)
{
    UNUSED(x), UNUSED(p);
    for (size_t i = 0; i < n; i++) {
        float g = dy[i]; /* loaded either way, so the select below vectorises */
        dx[i] += y[i] > 0.0f ? g : 0.0f;
    }
}

/* ---- leaky_relu: y = x > 0 ? x : s x ---- */
static void leaky_relu_fwd(size_t n, const float *x, float *y, const float *p)
{
    float slope = p[0]; /* read once: y might alias p as far as the compiler knows */
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : slope * x[i];
}
static void leaky_relu_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx,
                           const float *p)
{
    UNUSED(y);
    float slope = p[0];
    for (size_t i = 0; i < n; i++) dx[i] += x[i] > 0.0f ? dy[i] : slope * dy[i];
}

/* ---- sigmoid: y = 1 / (1 + e^-x), dy/dx = y (1 - y) ---- */
static void sigmoid_fwd(size_t n, const float *x, float *y, const float *p)
{
    UNUSED(p);
    for (size_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
}
static void sigmoid_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx, const float *p)
{
    UNUSED(x), UNUSED(p);
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] * y[i] * (1.0f - y[i]);
}

/* ---- tanh: dy/dx = 1 - y^2 ---- */
static void tanh_fwd(size_t n, const float *x, float *y, const float *p)
{
    UNUSED(p);
    for (size_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
}
static void tanh_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx, const float *p)
{
    UNUSED(x), UNUSED(p);
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] * (1.0f - y[i] * y[i]);
}

/* ---- gelu: y = x Phi(x) = x (1 + erf(x / sqrt 2)) / 2,
 *      dy/dx = Phi(x) + x phi(x), phi(x) = e^(-x^2/2) / sqrt(2 pi) ---- */
static void gelu_fwd(size_t n, const float *x, float *y, const float *p)
{
    UNUSED(p);
    for (size_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}
static void gelu_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx, const float *p)
{
    UNUSED(y), UNUSED(p);
    for (size_t i = 0; i < n; i++) {
        float cdf = 0.5f * (1.0f + erff(x[i] * 0.70710678118654752f));
        float pdf = 0.39894228040143268f * expf(-0.5f * x[i] * x[i]);
        dx[i] += dy[i] * (cdf + x[i] * pdf);
    }
}

/* ---- softplus: y = log(1 + e^(b x)) / b, or x where b x > threshold;
 *      dy/dx = sigmoid(b x), or 1 there. p = {b, threshold} ---- */
static void softplus_fwd(size_t n, const float *x, float *y, const float *p)
{
    for (size_t i = 0; i < n; i++) {
        float bx = p[0] * x[i];
        y[i] = bx > p[1] ? x[i] : log1pf(expf(bx)) / p[0];
    }
}
static void softplus_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx,
                         const float *p)
{
    UNUSED(y);
    for (size_t i = 0; i < n; i++) {
        float bx = p[0] * x[i];
        float z = expf(bx);
        dx[i] += bx > p[1] ? dy[i] : dy[i] * z / (z + 1.0f);
    }
}

/* ---- huber on a difference d, divided by s: p = {delta, s}
 *      y = (|d| < delta ? d^2 / 2 : delta (|d| - delta / 2)) / s,
 *      dy/dd = clamp(d, -delta, delta) / s.
 * s = 1 is huber_loss; delta = beta, s = beta is smooth_l1_loss. ---- */
static void huber_fwd(size_t n, const float *x, float *y, const float *p)
{
    for (size_t i = 0; i < n; i++) {
        float z = fabsf(x[i]);
        y[i] = (z < p[0] ? 0.5f * z * z : p[0] * (z - 0.5f * p[0])) / p[1];
    }
}
static void huber_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx, const float *p)
{
    UNUSED(y);
    for (size_t i = 0; i < n; i++) {
        float d = x[i] < -p[0] ? -p[0] : x[i] > p[0] ? p[0] : x[i];
        dx[i] += dy[i] * d / p[1];
    }
}

const tg__unary_kernel tg__unary_kernels[TG_OP_COUNT] = {
    [TG_OP_NEG] = {neg_fwd, neg_bwd},
    [TG_OP_ADD_SCALAR] = {add_scalar_fwd, add_scalar_bwd},
    [TG_OP_MUL_SCALAR] = {mul_scalar_fwd, mul_scalar_bwd},
    [TG_OP_POW] = {pow_fwd, pow_bwd},
    [TG_OP_EXP] = {exp_fwd, exp_bwd},
    [TG_OP_LOG] = {log_fwd, log_bwd},
    [TG_OP_SQRT] = {sqrt_fwd, sqrt_bwd},
    [TG_OP_ABS] = {abs_fwd, abs_bwd},
    [TG_OP_SQUARE] = {square_fwd, square_bwd},
    [TG_OP_CLAMP] = {clamp_fwd, clamp_bwd},
    [TG_OP_RELU] = {relu_fwd, relu_bwd},
    [TG_OP_LEAKY_RELU] = {leaky_relu_fwd, leaky_relu_bwd},
    [TG_OP_SIGMOID] = {sigmoid_fwd, sigmoid_bwd},
    [TG_OP_TANH] = {tanh_fwd, tanh_bwd},
    [TG_OP_GELU] = {gelu_fwd, gelu_bwd},
    [TG_OP_SOFTPLUS] = {softplus_fwd, softplus_bwd},
    [TG_OP_HUBER] = {huber_fwd, huber_bwd},
};

/* ---- binary ops with broadcasting ---- */

/* y = a op b and its two partial derivatives, for one element. */
static inline float binary(tg_op op, float a, float b)
{
    switch (op) {
    case TG_OP_ADD: return a + b;
    case TG_OP_SUB: return a - b;
    case TG_OP_MUL: return a * b;
    default: return a / b;
    }
}

static inline void binary_grads(tg_op op, float a, float b, float dy, float *da, float *db)
{
    switch (op) {
    case TG_OP_ADD: *da = dy, *db = dy; break;
    case TG_OP_SUB: *da = dy, *db = -dy; break;
    case TG_OP_MUL: *da = dy * b, *db = dy * a; break;
    default: *da = dy / b, *db = -dy * (a / b) / b; break; /* torch's order: no b*b to overflow */
    }
}

/* Where row r (of the output seen as (d0*d1*d2, d3)) starts in a and b. */
static void row_offsets(const tg__bcast *bc, size_t r, size_t *oa, size_t *ob)
{
    size_t i2 = r % bc->shape[2], i1 = r / bc->shape[2] % bc->shape[1], i0 = r / bc->shape[2] / bc->shape[1];
    *oa = i0 * bc->sa[0] + i1 * bc->sa[1] + i2 * bc->sa[2];
    *ob = i0 * bc->sb[0] + i1 * bc->sb[1] + i2 * bc->sb[2];
}

void tg__k_binary(tg_op op, const tg__bcast *bc, const float *a, const float *b, float *y)
{
    size_t rows = bc->shape[0] * bc->shape[1] * bc->shape[2], cols = bc->shape[3];
    if (bc->same) {
        size_t n = rows * cols;
        switch (op) { /* one loop per op so each vectorises */
        case TG_OP_ADD: for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i]; break;
        case TG_OP_SUB: for (size_t i = 0; i < n; i++) y[i] = a[i] - b[i]; break;
        case TG_OP_MUL: for (size_t i = 0; i < n; i++) y[i] = a[i] * b[i]; break;
        default: for (size_t i = 0; i < n; i++) y[i] = a[i] / b[i]; break;
        }
        return;
    }
    for (size_t r = 0; r < rows; r++) {
        size_t oa, ob;
        row_offsets(bc, r, &oa, &ob);
        for (size_t j = 0; j < cols; j++)
            y[r * cols + j] = binary(op, a[oa + j * bc->sa[3]], b[ob + j * bc->sb[3]]);
    }
}

/* Adds to *oy, *oa, *ob the offsets of index idx spread over dims (the last
 * of them fastest) of the output, a and b. */
static void add_offsets(const tg__bcast *bc, const size_t *ys, const int *dims, int nd, size_t idx, size_t *oy,
                        size_t *oa, size_t *ob)
{
    for (int k = nd - 1; k >= 0; k--) {
        int d = dims[k];
        size_t i = idx % bc->shape[d];
        idx /= bc->shape[d];
        *oy += i * ys[d], *oa += i * bc->sa[d], *ob += i * bc->sb[d];
    }
}

/* dx += the gradient of one operand (a when wrt_a, else b). Each of its
 * elements sums the contributions of every output element that read it,
 * in double: the dimensions it repeats along are looped innermost, so one
 * accumulator serves each element (a bias added to a million rows keeps
 * its digits). */
static void operand_backward(tg_op op, const tg__bcast *bc, const float *a, const float *b, const float *dy,
                             float *dx, bool wrt_a)
{
    const size_t *sx = wrt_a ? bc->sa : bc->sb;
    size_t ys[4] = {0, 0, 0, 1};
    for (int d = 2; d >= 0; d--) ys[d] = ys[d + 1] * bc->shape[d + 1];
    int kept[4], summed[4], nk = 0, ns = 0;
    size_t n_kept = 1, n_summed = 1;
    for (int d = 0; d < 4; d++) {
        if (sx[d] == 0 && bc->shape[d] > 1)
            summed[ns++] = d, n_summed *= bc->shape[d];
        else
            kept[nk++] = d, n_kept *= bc->shape[d];
    }
    for (size_t k = 0; k < n_kept; k++) {
        size_t oy = 0, oa = 0, ob = 0;
        add_offsets(bc, ys, kept, nk, k, &oy, &oa, &ob);
        double acc = 0.0;
        for (size_t r = 0; r < n_summed; r++) {
            size_t iy = oy, ia = oa, ib = ob;
            add_offsets(bc, ys, summed, ns, r, &iy, &ia, &ib);
            float ga, gb;
            binary_grads(op, a[ia], b[ib], dy[iy], &ga, &gb);
            acc += wrt_a ? ga : gb;
        }
        dx[wrt_a ? oa : ob] += (float)acc;
    }
}

void tg__k_binary_backward(tg_op op, const tg__bcast *bc, const float *a, const float *b,
                           const float *dy, float *da, float *db)
{
    if (bc->same) {
        size_t n = bc->shape[0] * bc->shape[1] * bc->shape[2] * bc->shape[3];
        for (size_t i = 0; i < n; i++) {
            float ga, gb;
            binary_grads(op, a[i], b[i], dy[i], &ga, &gb);
            if (da) da[i] += ga;
            if (db) db[i] += gb;
        }
        return;
    }
    if (da) operand_backward(op, bc, a, b, dy, da, true);
    if (db) operand_backward(op, bc, a, b, dy, db, false);
}

/* ---- copies and accumulation ---- */

void tg__k_transpose(size_t rows, size_t cols, const float *x, float *y, bool accumulate)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) {
            float v = x[r * cols + c];
            y[c * rows + r] = accumulate ? y[c * rows + r] + v : v;
        }
}

TG__CLONES static void add_bias_loop(size_t rows, size_t cols, const float *b, float *y)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) y[r * cols + c] += b[c];
}
void tg__k_add_bias(size_t rows, size_t cols, const float *b, float *y)
{
    add_bias_loop(rows, cols, b, y);
}

/* Each column's sum in double, rows in order; a block of columns at a time
 * so that the rows are read contiguously. */
TG__CLONES static void bias_backward_loop(size_t rows, size_t cols, const float *dy, float *db)
{
    enum { BLOCK = 256 };
    double acc[BLOCK];
    for (size_t c0 = 0; c0 < cols; c0 += BLOCK) {
        size_t w = cols - c0 < BLOCK ? cols - c0 : BLOCK;
        for (size_t c = 0; c < w; c++) acc[c] = 0.0;
        for (size_t r = 0; r < rows; r++) {
            const float *row = dy + r * cols + c0;
            for (size_t c = 0; c < w; c++) acc[c] += row[c];
        }
        for (size_t c = 0; c < w; c++) db[c0 + c] += (float)acc[c];
    }
}
void tg__k_bias_backward(size_t rows, size_t cols, const float *dy, float *db)
{
    bias_backward_loop(rows, cols, dy, db);
}

void tg__k_mul_acc(size_t n, const float *a, const float *b, float *y)
{
    for (size_t i = 0; i < n; i++) y[i] += a[i] * b[i];
}

/* ---- dropout: keep each element with probability 1 - p, scaled by
 * 1 / (1 - p) so the expectation is unchanged (torch's inverted dropout). ---- */
void tg__k_dropout(size_t n, const float *x, float p, tg_rng *rng, float *mask, float *y)
{
    float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    for (size_t i = 0; i < n; i++) {
        mask[i] = tg_rng_uniform(rng) < p ? 0.0f : scale;
        y[i] = x[i] * mask[i];
    }
}
