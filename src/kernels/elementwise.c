/* elementwise.c — the elementwise loops several ops share: accumulating a
 * gradient, add/sub/mul/div with broadcasting, transpose, the bias of a
 * linear layer, dropout. (Each unary op keeps its own loops beside it, in
 * ops/unary.c.) Formulas are torch's (aten/src/ATen/native,
 * derivatives.yaml). */
#include <math.h>

#include "kernels.h"

/* The multiversioned (TG__CLONES) loops are static, each behind a plain
 * function: clang 14 neither links calls to an extern multiversioned
 * function from other files nor accepts one declared before its clones. */
TG__CLONES static void acc_loop(size_t n, const float *dy, float *dx)
{
    for (size_t i = 0; i < n; i++) dx[i] += dy[i];
}
void tg__k_acc(size_t n, const float *dy, float *dx) { acc_loop(n, dy, dx); }

/* ---- binary ops with broadcasting ---- */

/* y = a op b and its two partial derivatives, for one element. maximum and
 * minimum propagate NaN (torch.maximum); a comparison is 1 or 0. */
static inline float binary(tg__binop op, float a, float b)
{
    switch (op) {
    case TG__ADD: return a + b;
    case TG__SUB: return a - b;
    case TG__MUL: return a * b;
    case TG__DIV: return a / b;
    case TG__MAX: return a > b || isnan(a) ? a : b;
    case TG__MIN: return a < b || isnan(a) ? a : b;
    case TG__EQ: return (float)(a == b);
    case TG__NE: return (float)(a != b);
    case TG__LT: return (float)(a < b);
    case TG__LE: return (float)(a <= b);
    case TG__GT: return (float)(a > b);
    default: return (float)(a >= b);
    }
}

/* maximum and minimum as derivatives.yaml gives them: the gradient goes to
 * the larger (smaller) operand, half to each at a tie, and to both where
 * one is NaN (neither comparison holds):
 *   maximum: self: where(self == other, grad / 2, grad).masked_fill_(self < other, 0)
 *            other: where(self == other, grad / 2, grad).masked_fill_(self > other, 0) */
static inline void binary_grads(tg__binop op, float a, float b, float dy, float *da, float *db)
{
    switch (op) {
    case TG__ADD: *da = dy, *db = dy; break;
    case TG__SUB: *da = dy, *db = -dy; break;
    case TG__MUL: *da = dy * b, *db = dy * a; break;
    case TG__DIV: *da = dy / b, *db = -dy * (a / b) / b; break; /* torch's order: no b*b to overflow */
    case TG__MAX:
    case TG__MIN: {
        float share = a == b ? 0.5f * dy : dy;
        bool a_loses = op == TG__MAX ? a < b : a > b, b_loses = op == TG__MAX ? a > b : a < b;
        *da = a_loses ? 0.0f : share, *db = b_loses ? 0.0f : share;
        break;
    }
    default: *da = 0.0f, *db = 0.0f; break; /* comparisons: piecewise constant */
    }
}

/* Where row r (of the output seen as (d0*d1*d2, d3)) starts in a, b and c. */
static void row_offsets(const tg__bcast *bc, size_t r, size_t *oa, size_t *ob, size_t *oc)
{
    size_t i2 = r % bc->shape[2], i1 = r / bc->shape[2] % bc->shape[1], i0 = r / bc->shape[2] / bc->shape[1];
    *oa = i0 * bc->sa[0] + i1 * bc->sa[1] + i2 * bc->sa[2];
    *ob = i0 * bc->sb[0] + i1 * bc->sb[1] + i2 * bc->sb[2];
    *oc = i0 * bc->sc[0] + i1 * bc->sc[1] + i2 * bc->sc[2];
}

void tg__k_binary(tg__binop op, const tg__bcast *bc, const float *a, const float *b, float *y)
{
    size_t rows = bc->shape[0] * bc->shape[1] * bc->shape[2], cols = bc->shape[3];
    if (bc->same) {
        size_t n = rows * cols;
        switch (op) { /* one loop per op so each vectorises */
        case TG__ADD: for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i]; break;
        case TG__SUB: for (size_t i = 0; i < n; i++) y[i] = a[i] - b[i]; break;
        case TG__MUL: for (size_t i = 0; i < n; i++) y[i] = a[i] * b[i]; break;
        case TG__DIV: for (size_t i = 0; i < n; i++) y[i] = a[i] / b[i]; break;
        default: for (size_t i = 0; i < n; i++) y[i] = binary(op, a[i], b[i]); break;
        }
        return;
    }
    for (size_t r = 0; r < rows; r++) {
        size_t oa, ob, oc;
        row_offsets(bc, r, &oa, &ob, &oc);
        for (size_t j = 0; j < cols; j++)
            y[r * cols + j] = binary(op, a[oa + j * bc->sa[3]], b[ob + j * bc->sb[3]]);
    }
}

void tg__k_where(const tg__bcast *bc, const unsigned char *cond, const float *a, const float *b, float *y)
{
    size_t rows = bc->shape[0] * bc->shape[1] * bc->shape[2], cols = bc->shape[3];
    for (size_t r = 0; r < rows; r++) {
        size_t oa, ob, oc;
        row_offsets(bc, r, &oa, &ob, &oc);
        for (size_t j = 0; j < cols; j++)
            y[r * cols + j] = cond[oc + j * bc->sc[3]] ? a[oa + j * bc->sa[3]] : b[ob + j * bc->sb[3]];
    }
}

/* The offsets of one element in the output and the three operands. */
typedef struct offsets {
    size_t y, a, b, c;
} offsets;

/* Adds to o the offsets of index idx spread over dims (the last of them
 * fastest) of the output (strides ys) and the operands. */
static void add_offsets(const tg__bcast *bc, const size_t *ys, const int *dims, int nd, size_t idx, offsets *o)
{
    for (int k = nd - 1; k >= 0; k--) {
        int d = dims[k];
        size_t i = idx % bc->shape[d];
        idx /= bc->shape[d];
        o->y += i * ys[d], o->a += i * bc->sa[d], o->b += i * bc->sb[d], o->c += i * bc->sc[d];
    }
}

/* The gradient one output element passes to a (wrt_a) or b: of a op b, or,
 * given a mask (where), dy to a where it is set and to b elsewhere. */
static inline float element_grad(tg__binop op, const float *a, const float *b, const unsigned char *mask,
                                 const offsets *o, float dy, bool wrt_a)
{
    if (mask) return (mask[o->c] != 0) == wrt_a ? dy : 0.0f;
    float ga, gb;
    binary_grads(op, a[o->a], b[o->b], dy, &ga, &gb);
    return wrt_a ? ga : gb;
}

/* dx += the gradient of one operand (a when wrt_a, else b). Each of its
 * elements sums the contributions of every output element that read it,
 * in double: the dimensions it repeats along are looped innermost, so one
 * accumulator serves each element (a bias added to a million rows keeps
 * its digits). */
static void operand_backward(tg__binop op, const tg__bcast *bc, const float *a, const float *b,
                             const unsigned char *mask, const float *dy, float *dx, bool wrt_a)
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
        offsets o = {0, 0, 0, 0};
        add_offsets(bc, ys, kept, nk, k, &o);
        double acc = 0.0;
        for (size_t r = 0; r < n_summed; r++) {
            offsets e = o;
            add_offsets(bc, ys, summed, ns, r, &e);
            acc += element_grad(op, a, b, mask, &e, dy[e.y], wrt_a);
        }
        dx[wrt_a ? o.a : o.b] += (float)acc;
    }
}

void tg__k_binary_backward(tg__binop op, const tg__bcast *bc, const float *a, const float *b,
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
    if (da) operand_backward(op, bc, a, b, NULL, dy, da, true);
    if (db) operand_backward(op, bc, a, b, NULL, dy, db, false);
}

void tg__k_where_backward(const tg__bcast *bc, const unsigned char *cond, const float *dy, float *da, float *db)
{
    if (da) operand_backward(TG__ADD, bc, NULL, NULL, cond, dy, da, true);
    if (db) operand_backward(TG__ADD, bc, NULL, NULL, cond, dy, db, false);
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

/* ---- images: bytes to floats ---- */
TG__CLONES static void bytes_to_floats(size_t n, const unsigned char *restrict src, float scale, float shift,
                                       float *restrict dst)
{
    for (size_t k = 0; k < n; k++) dst[k] = (float)src[k] * scale + shift;
}

void tg__k_bytes_to_floats(size_t n, const unsigned char *src, float scale, float shift, float *dst)
{
    bytes_to_floats(n, src, scale, shift, dst);
}
