/* conv.c — the loops of the convolution and pooling ops (src/ops/conv.c):
 * im2col and its adjoint col2im, which turn a convolution into one GEMM
 * per sample and group (Chellapilla et al., "High Performance
 * Convolutional Neural Networks for Document Processing", 2006), and the
 * window loops of max, average and adaptive average pooling, written as
 * torch's CPU kernels walk them (aten/src/ATen/native/cpu/MaxPoolKernel.cpp,
 * AvgPoolKernel.cpp, AdaptiveAvgPoolKernel.cpp) so that ties and divisors
 * come out as torch's. Every loop is serial and in one fixed order: the
 * results are the same bits for any number of threads. */
#include <math.h>
#include <stdint.h>
#include <stdatomic.h>
#include <string.h>

#include "kernels.h"

/* AVX-512 loops, taken where the CPU has it (have_avx512), for what the
 * vectoriser cannot do alone: pooling's short rows, implicit GEMM's masks */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(TG_NO_CLONES)
#include <immintrin.h>

#include "avx512.h"
#define TG__CONV_AVX512 1

static bool have_avx512(void)
{
    static _Atomic int known; /* 0 not asked, 1 no, 2 yes: threads that ask at once all find the same */
    if (!known) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx512f") ? 2 : 1;
    }
    return known == 2;
}
#endif

/* ---- im2col / col2im ----
 * Row r = (c kh + i) kw + j of cols holds, for every output position
 * p = oh OW + ow, the input element under kernel tap (i, j) of channel c:
 * x[c, oh sh - pt + i dh, ow sw - pl + j dw], 0 in the padding. */

/* The outputs ow in [*lo, *hi) whose input column ow sw - pl + j dw
 * lies in [0, W) for kernel column j; the others read the padding. */
static void valid_range(int OW, int W, int sw, int pl, int offset, int *lo, int *hi)
{
    int first = pl - offset; /* ow sw >= first */
    *lo = first <= 0 ? 0 : (first + sw - 1) / sw;
    int end = W + pl - offset; /* ow sw < end */
    *hi = end <= 0 ? 0 : (end + sw - 1) / sw;
    if (*hi > OW) *hi = OW;
    if (*lo > *hi) *lo = *hi;
}

/* Runs row_body for every row segment of cols: r the OW entries of cols
 * for kernel tap (c, i, j) and output row oh, src the input row they read
 * (NULL when that row is padding), [lo, hi) the entries inside the input,
 * entry ow reading src[ow sw + off]. */
#define FOR_COL_ROWS(gm, r, src_row, lo, hi, off, body)                                             \
    do {                                                                                            \
        size_t row_ = 0;                                                                            \
        for (int c_ = 0; c_ < (gm)->C; c_++)                                                        \
            for (int i_ = 0; i_ < (gm)->kh; i_++)                                                   \
                for (int j_ = 0; j_ < (gm)->kw; j_++) {                                             \
                    int lo, hi, off = j_ * (gm)->dw - (gm)->pl;                                     \
                    valid_range((gm)->OW, (gm)->W, (gm)->sw, (gm)->pl, j_ * (gm)->dw, &lo, &hi);    \
                    for (int oh_ = 0; oh_ < (gm)->OH; oh_++, row_++) {                              \
                        int ih_ = oh_ * (gm)->sh - (gm)->pt + i_ * (gm)->dh;                        \
                        size_t r = row_ * (size_t)(gm)->OW;                                         \
                        long src_row = ih_ >= 0 && ih_ < (gm)->H                                    \
                                           ? ((long)c_ * (gm)->H + ih_) * (long)(gm)->W            \
                                           : -1;                                                    \
                        body;                                                                       \
                    }                                                                               \
                }                                                                                   \
    } while (0)

/* Stride 1 with the output as wide as the input (padding 'same', or 1 for
 * a 3x3 kernel): the rows of a tap that lie inside the input are one run
 * of x, shifted by the tap's offset, so im2col is one copy a tap and
 * col2im one add, instead of a loop a row. Within the run, the entries a
 * row reads from the padding land on the neighbouring row's elements:
 * im2col zeroes them after the copy, col2im before the add (dcols is
 * scratch). Runs over every tap in row order, with its rows [oh0, oh1)
 * inside the input and its columns [lo, hi). */
static bool same_width(const tg__conv_geom *gm)
{
    return gm->sh == 1 && gm->sw == 1 && gm->OW == gm->W;
}

#define FOR_TAPS(gm, out, in_off, oh0, oh1, lo, hi, ...)                                                   \
    do {                                                                                                   \
        size_t P_ = (size_t)(gm)->OH * (size_t)(gm)->W, tap_ = 0;                                          \
        for (int c_ = 0; c_ < (gm)->C; c_++)                                                               \
            for (int i_ = 0; i_ < (gm)->kh; i_++)                                                          \
                for (int j_ = 0; j_ < (gm)->kw; j_++, tap_++) {                                            \
                    int lo, hi, shift_ = i_ * (gm)->dh - (gm)->pt;                                         \
                    valid_range((gm)->W, (gm)->W, 1, (gm)->pl, j_ * (gm)->dw, &lo, &hi);                   \
                    int oh0 = shift_ < 0 ? -shift_ : 0, oh1 = (gm)->H - shift_;                            \
                    if (oh1 > (gm)->OH) oh1 = (gm)->OH;                                                    \
                    if (oh0 > oh1) oh0 = oh1;                                                              \
                    size_t out = tap_ * P_;                                                                \
                    long in_off = ((long)c_ * (gm)->H + oh0 + shift_) * (gm)->W + j_ * (gm)->dw - (gm)->pl; \
                    __VA_ARGS__;                                                                           \
                }                                                                                          \
    } while (0)

/* The entries of rows [oh0, oh1) outside columns [lo, hi), set to 0. */
static void zero_row_ends(float *rows, int oh0, int oh1, int W, int lo, int hi)
{
    for (int oh = oh0; oh < oh1; oh++) { /* a padding's width or two: loops, not calls */
        float *row = rows + (size_t)oh * W;
        for (int w = 0; w < lo; w++) row[w] = 0.0f;
        for (int w = hi; w < W; w++) row[w] = 0.0f;
    }
}

static void im2col_same_width(const tg__conv_geom *gm, const float *x, float *cols)
{
    int W = gm->W;
    FOR_TAPS(gm, out, in_off, oh0, oh1, lo, hi, {
        float *o = cols + out;
        memset(o, 0, (size_t)oh0 * W * sizeof *o);
        if (oh0 < oh1 && lo < hi) {
            size_t first = (size_t)oh0 * W + (size_t)lo, n = (size_t)(oh1 - 1 - oh0) * W + (size_t)(hi - lo);
            memcpy(o + first, x + in_off + lo, n * sizeof *o);
        }
        zero_row_ends(o, oh0, oh1, W, lo < hi ? lo : W, lo < hi ? hi : W);
        memset(o + (size_t)oh1 * W, 0, (size_t)(gm->OH - oh1) * W * sizeof *o);
    });
}

static void col2im_same_width(const tg__conv_geom *gm, float *dcols, float *dx)
{
    int W = gm->W;
    FOR_TAPS(gm, out, in_off, oh0, oh1, lo, hi, {
        if (oh0 >= oh1 || lo >= hi) continue;
        float *d = dcols + out;
        zero_row_ends(d, oh0, oh1, W, lo, hi);
        size_t first = (size_t)oh0 * W + (size_t)lo, n = (size_t)(oh1 - 1 - oh0) * W + (size_t)(hi - lo);
        tg__k_acc(n, d + first, dx + in_off + lo);
    });
}

void tg__k_im2col(const tg__conv_geom *gm, const float *x, float *cols)
{
    if (same_width(gm)) {
        im2col_same_width(gm, x, cols);
        return;
    }
    int sw = gm->sw, OW = gm->OW;
    FOR_COL_ROWS(gm, r, src, lo, hi, off, {
        float *out = cols + r;
        if (src < 0) {
            for (int ow = 0; ow < OW; ow++) out[ow] = 0.0f;
            continue;
        }
        const float *in = x + src + off;
        for (int ow = 0; ow < lo; ow++) out[ow] = 0.0f;
        if (sw == 1)
            for (int ow = lo; ow < hi; ow++) out[ow] = in[ow];
        else
            for (int ow = lo; ow < hi; ow++) out[ow] = in[(long)ow * sw];
        for (int ow = hi; ow < OW; ow++) out[ow] = 0.0f;
    });
}

void tg__k_col2im(const tg__conv_geom *gm, float *dcols, float *dx)
{
    if (same_width(gm)) {
        col2im_same_width(gm, dcols, dx);
        return;
    }
    int sw = gm->sw;
    FOR_COL_ROWS(gm, r, src, lo, hi, off, {
        if (src < 0) continue;
        const float *d = dcols + r;
        float *out = dx + src + off;
        for (int ow = lo; ow < hi; ow++) out[(long)ow * sw] += d[ow];
    });
}

/* ---- implicit GEMM: cols packed straight from x ----
 * Same width (stride 1, the output as wide as the input): entry (tap
 * (c, i, j), position q) of cols is x[c H W + q + (i dh - pt) W + j dw - pl]
 * when that tap of output row q / W and column q % W lies inside the
 * input, else 0. So a panel's row for one tap is one run of x under a mask
 * of the positions whose row and column are inside: two masked loads (the
 * lanes outside are never read) and two stores. The values are im2col's,
 * so the product gives the same bits; the patches are never written out
 * (im2col and packing its result were a sixth of the CNN's evaluation). */
enum { COLS_MAX_TAP = 16, COLS_MAX_WIDTH = 32 };
_Static_assert(COLS_MAX_TAP * COLS_MAX_TAP <= TG__GEMM_MASKS, "a mask for every kernel row and column");

bool tg__k_cols_packable(const tg__conv_geom *gm)
{
#ifdef TG__CONV_AVX512
    const tg__gemm_kernel *k = tg__gemm_kernel_in_use();
    return k && k->nr <= COLS_MAX_WIDTH && same_width(gm) && gm->kh <= COLS_MAX_TAP && gm->kw <= COLS_MAX_TAP &&
           have_avx512();
#else
    (void)gm;
    return false;
#endif
}

#ifdef TG__CONV_AVX512
/* Bit r of rows[i] (cols[j]): position q0 + r (r < m) sits on an output
 * row (column) whose tap i (j) lies inside the input. */
static void inside_masks(const tg__conv_geom *gm, int q0, int m, uint32_t *rows, uint32_t *cols)
{
    for (int i = 0; i < gm->kh; i++) { /* the rows inside are one run of positions */
        int first = gm->pt - i * gm->dh, end = gm->H + first; /* oh in [first, end) */
        long lo = (long)first * gm->W - q0, hi = (long)end * gm->W - q0;
        lo = lo < 0 ? 0 : lo > m ? m : lo;
        hi = hi < lo ? lo : hi > m ? m : hi;
        rows[i] = (uint32_t)(((1ull << (hi - lo)) - 1) << lo);
    }
    for (int j = 0; j < gm->kw; j++) {
        int first = gm->pl - j * gm->dw, end = gm->W + first; /* ow in [first, end) */
        uint64_t bits = 0;
        /* positions [r, r + len) are columns [ow, ow + len) of one output row */
        for (int r = 0, ow = q0 % gm->W, len; r < m; r += len, ow = 0) {
            len = gm->W - ow < m - r ? gm->W - ow : m - r;
            int lo = first > ow ? first : ow, hi = end < ow + len ? end : ow + len;
            if (lo < hi) bits |= ((1ull << (hi - lo)) - 1) << (r + lo - ow);
        }
        cols[j] = (uint32_t)bits;
    }
}

/* x + off as an address only: off may lie outside x where every lane
 * that would read there is masked off */
static inline const float *at_offset(const float *x, long off)
{
    return (const float *)((uintptr_t)x + (uintptr_t)(off * (long)sizeof *x));
}

/* Tap k of cols (a row): channel c, kernel row i and column j, walked in
 * cols' row order. */
typedef struct tap {
    int c, i, j;
} tap;

static tap tap_of(const tg__conv_geom *gm, int k)
{
    int taps = gm->kh * gm->kw;
    return (tap){k / taps, k % taps / gm->kw, k % gm->kw};
}

static void next_tap(const tg__conv_geom *gm, tap *t)
{
    if (++t->j == gm->kw) {
        t->j = 0;
        if (++t->i == gm->kh) t->i = 0, t->c++;
    }
}

/* Where in x the run of tap t starts: position q reads x at this + q. */
static long tap_offset(const tg__conv_geom *gm, tap t)
{
    return (long)t.c * gm->H * gm->W + (long)(t.i * gm->dh - gm->pt) * gm->W + t.j * gm->dw - gm->pl;
}

__attribute__((target("avx512f"))) static void pack_cols_avx512(const tg__cols_src *s, int j0, int n, int p0, int kc,
                                                                int width, float *dst)
{
    const tg__conv_geom *gm = s->gm;
    __mmask16 keep_lo = (__mmask16)(width >= 16 ? 0xffff : (1u << width) - 1);
    __mmask16 keep_hi = (__mmask16)(width >= 32 ? 0xffff : width > 16 ? (1u << (width - 16)) - 1 : 0);
    for (int q = 0; q < n; q += width, dst += (size_t)width * kc) {
        int m = n - q < width ? n - q : width;
        uint32_t rows[COLS_MAX_TAP], cols[COLS_MAX_TAP];
        inside_masks(gm, j0 + q, m, rows, cols);
        tap t = tap_of(gm, p0);
        for (int p = 0; p < kc; p++, next_tap(gm, &t)) {
            uint32_t in = rows[t.i] & cols[t.j];
            long off = tap_offset(gm, t) + j0 + q;
            float *d = dst + (size_t)p * width;
            _mm512_mask_storeu_ps(d, keep_lo, _mm512_maskz_loadu_ps((__mmask16)in, at_offset(s->x, off)));
            if (keep_hi)
                _mm512_mask_storeu_ps(d + 16, keep_hi,
                                      _mm512_maskz_loadu_ps((__mmask16)(in >> 16), at_offset(s->x, off + 16)));
        }
    }
}

/* cols' rows read in place (tg__gemm_b's at, which and masks): tap p's
 * row starts in x where pack_cols_avx512 reads it, under the mask of its
 * kernel row and column. */
static void cols_taps(const tg__conv_geom *gm, ptrdiff_t *at, uint8_t *which)
{
    tap t = tap_of(gm, 0);
    for (int p = 0; p < gm->C * gm->kh * gm->kw; p++, next_tap(gm, &t)) {
        at[p] = (ptrdiff_t)tap_offset(gm, t) * (ptrdiff_t)sizeof(float);
        which[p] = (uint8_t)(t.i * gm->kw + t.j);
    }
}

static void cols_masks(const tg__cols_src *s, int j0, int n, uint32_t *mask)
{
    const tg__conv_geom *gm = s->gm;
    uint32_t rows[COLS_MAX_TAP], cols[COLS_MAX_TAP];
    inside_masks(gm, j0, n, rows, cols);
    for (int i = 0; i < gm->kh; i++)
        for (int j = 0; j < gm->kw; j++) mask[i * gm->kw + j] = rows[i] & cols[j];
}

/* dw's op(B) = cols^T (positions, taps): a panel's width taps are rows of
 * cols, read from x over positions [p0, p0 + kc) under the same masks
 * (computed once, 16 positions at a time), 16 taps by 16 positions into
 * registers, transposed there and stored as 16 rows of the panel. */
__attribute__((target("avx512f"))) static void pack_cols_t_avx512(const tg__cols_src *s, int j0, int n, int p0,
                                                                  int kc, int width, float *dst)
{
    enum { CHUNKS = TG__GEMM_KC / 16 };
    uint32_t rows[CHUNKS][COLS_MAX_TAP], cols[CHUNKS][COLS_MAX_TAP];
    const tg__conv_geom *gm = s->gm;
    for (int t = 0; t < kc; t += 16) inside_masks(gm, p0 + t, kc - t < 16 ? kc - t : 16, rows[t / 16], cols[t / 16]);
    for (int q = 0; q < n; q += width, dst += (size_t)width * kc) {
        int m = n - q < width ? n - q : width;
        for (int h = 0; h < width; h += 16) { /* the panel's taps [h, h + 16) */
            int lanes = width - h < 16 ? width - h : 16, live = m - h < 0 ? 0 : m - h < lanes ? m - h : lanes;
            __mmask16 keep = (__mmask16)((1u << lanes) - 1);
            long off[16];
            tap k[16];
            if (live) k[0] = tap_of(gm, j0 + q + h);
            for (int r = 0; r < live; r++) {
                if (r) k[r] = k[r - 1], next_tap(gm, &k[r]);
                off[r] = tap_offset(gm, k[r]) + p0;
            }
            for (int t = 0; t < kc; t += 16) {
                __m512 v[16];
                for (int r = 0; r < 16; r++) /* taps past the panel's m: 0, as packing pads */
                    v[r] = r < live ? _mm512_maskz_loadu_ps((__mmask16)(rows[t / 16][k[r].i] & cols[t / 16][k[r].j]),
                                                            at_offset(s->x, off[r] + t))
                                    : _mm512_setzero_ps();
                tg__transpose16(v);
                for (int i = 0; i < 16 && t + i < kc; i++)
                    _mm512_mask_storeu_ps(dst + (size_t)(t + i) * width + h, keep, v[i]);
            }
        }
    }
}
#endif

void tg__k_pack_cols(const void *ctx, int j0, int n, int p0, int kc, int width, float *dst)
{
#ifdef TG__CONV_AVX512
    pack_cols_avx512(ctx, j0, n, p0, kc, width, dst);
#else
    (void)ctx, (void)j0, (void)n, (void)p0, (void)kc, (void)width, (void)dst; /* never: not packable */
#endif
}

void tg__k_cols_taps(const tg__conv_geom *gm, ptrdiff_t *at, uint8_t *which)
{
#ifdef TG__CONV_AVX512
    cols_taps(gm, at, which);
#else
    (void)gm, (void)at, (void)which; /* never: not packable */
#endif
}

void tg__k_cols_masks(const void *ctx, int j0, int n, uint32_t *mask)
{
#ifdef TG__CONV_AVX512
    cols_masks(ctx, j0, n, mask);
#else
    (void)ctx, (void)j0, (void)n, (void)mask; /* never: not packable */
#endif
}

void tg__k_pack_cols_t(const void *ctx, int j0, int n, int p0, int kc, int width, float *dst)
{
#ifdef TG__CONV_AVX512
    pack_cols_t_avx512(ctx, j0, n, p0, kc, width, dst);
#else
    (void)ctx, (void)j0, (void)n, (void)p0, (void)kc, (void)width, (void)dst; /* never: not packable */
#endif
}

/* ---- pooling windows ---- */

/* Output size along one dimension, torch's pooling_output_shape
 * (aten/src/ATen/native/Pool.h) with dilation 1: floor, or ceil with
 * ceil_mode, of (in + 2 pad - kernel) / stride, plus 1; in ceil mode the
 * last window must start inside the input or its left padding, else it is
 * dropped. */
int tg__k_pool_out_size(int in, int kernel, int pad, int stride, bool ceil_mode)
{
    long num = (long)in + 2L * pad - kernel + (ceil_mode ? stride - 1 : 0);
    long out = (num >= 0 ? num / stride : -((-num + stride - 1) / stride)) + 1; /* div_rtn: toward -inf */
    if (ceil_mode && (out - 1) * stride >= (long)in + pad) out--;
    return out < 0 ? 0 : (int)out;
}

/* Max pooling: y[o] = max of the window, idx[o] the position (h W + w in
 * the plane) of the first maximum in row-major order, or of the last NaN
 * (torch: `if ((val > maxval) || std::isnan(val))`); the padding is never
 * a candidate. The loops run over a whole output row at once, kernel tap
 * by kernel tap in the window's row-major order, so each output still sees
 * its candidates in torch's order, and the innermost loop (over the
 * outputs of the row, stride sw apart in x) is a vector compare and blend. */
/* m, at = v, pos when v wins over m, without a branch: the outcome of the
 * comparison is data, and mispredicting it cost more than the rest of the
 * loop (ties and NaNs make it random) */
static inline void max_pick(float v, int pos, float *m, int *at)
{
    uint32_t keep = (uint32_t)((v > *m) | (v != v)) - 1u, vb, mb; /* all ones: m stays */
    memcpy(&vb, &v, sizeof vb);
    memcpy(&mb, m, sizeof mb);
    mb = (mb & keep) | (vb & ~keep);
    memcpy(m, &mb, sizeof mb);
    *at = (int)(((uint32_t)*at & keep) | ((uint32_t)pos & ~keep));
}

static inline void max_pool_tap(int lo, int hi, int sw, const float *restrict src, int pos, float *restrict m,
                                int *restrict best)
{
    for (int ow = lo; ow < hi; ow++) max_pick(src[ow * sw], pos + ow * sw, &m[ow], &best[ow]);
}

TG__CLONES static void max_pool_plane(const tg__pool_geom *gm, const float *xp, float *y, int *idx)
{
    for (int oh = 0; oh < gm->OH; oh++) {
        float *m = y + (size_t)oh * (size_t)gm->OW;
        int *best = idx + (size_t)oh * (size_t)gm->OW;
        int h0 = oh * gm->sh - gm->ph, h1 = h0 + gm->kh < gm->H ? h0 + gm->kh : gm->H;
        if (h0 < 0) h0 = 0;
        for (int ow = 0; ow < gm->OW; ow++) {
            int w0 = ow * gm->sw - gm->pw;
            m[ow] = -INFINITY;
            best[ow] = h0 * gm->W + (w0 < 0 ? 0 : w0);
        }
        for (int h = h0; h < h1; h++)
            for (int j = 0; j < gm->kw; j++) {
                int lo, hi, pos = h * gm->W + j - gm->pw;
                valid_range(gm->OW, gm->W, gm->sw, gm->pw, j, &lo, &hi);
                /* the common strides as constants, for the vectoriser */
                if (gm->sw == 2) max_pool_tap(lo, hi, 2, xp + pos, pos, m, best);
                else if (gm->sw == 1) max_pool_tap(lo, hi, 1, xp + pos, pos, m, best);
                else max_pool_tap(lo, hi, gm->sw, xp + pos, pos, m, best);
            }
    }
}

/* The lectures' CNN's pooling, kernel 2, stride 2, no padding, with
 * AVX-512 where the CPU has it: an output row is 14 or 7 wide there, too
 * short for the vectoriser (it leaves such rows to scalar code), so a
 * masked vector of 16 outputs takes a whole row. Each output sees the
 * candidates in torch's order, (0,0) (0,1) (1,0) (1,1); the first is
 * taken unconditionally: against the initial -inf it wins unless it is
 * -inf itself, and then it is both the maximum and the position. Picking
 * is exact, so this gives the bits of the general loop. */
#ifdef TG__CONV_AVX512

__attribute__((target("avx512f"))) static inline void pick16(__m512 v, __m512i pos, __m512 *m, __m512i *at)
{
    __mmask16 take = _mm512_cmp_ps_mask(v, *m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    *m = _mm512_mask_mov_ps(*m, take, v);
    *at = _mm512_mask_mov_epi32(*at, take, pos);
}

/* 2n floats from p (n <= 16) as the n even and the n odd ones. */
__attribute__((target("avx512f"))) static inline void load_pairs(const float *p, int n, __m512 *even, __m512 *odd)
{
    const __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i od = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    __mmask16 lo = (__mmask16)(n >= 8 ? 0xffff : (1u << (2 * n)) - 1);
    __mmask16 hi = (__mmask16)(n > 8 ? (1u << (2 * (n - 8))) - 1 : 0);
    __m512 a = _mm512_maskz_loadu_ps(lo, p), b = _mm512_maskz_loadu_ps(hi, p + 16);
    *even = _mm512_permutex2var_ps(a, ev, b);
    *odd = _mm512_permutex2var_ps(a, od, b);
}

/* One output row; with_idx a constant in each caller below, so the
 * evaluation's copy (no gradient: no positions) does only the picking. */
__attribute__((target("avx512f"))) static inline void max_pool_2x2_row(int oh, int OW, int W, const float *xp,
                                                                       float *y, int *idx, bool with_idx)
{
    const __m512i twice = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    for (int ow = 0; ow < OW; ow += 16) {
        int n = OW - ow < 16 ? OW - ow : 16;
        __mmask16 out = (__mmask16)((1u << n) - 1);
        const float *r0 = xp + (size_t)(2 * oh) * (size_t)W + 2 * ow;
        __m512 a, b, c, d;
        load_pairs(r0, n, &a, &b);
        load_pairs(r0 + W, n, &c, &d);
        __m512i pa = _mm512_add_epi32(_mm512_set1_epi32(2 * oh * W + 2 * ow), twice), at = pa;
        __m512i one = _mm512_set1_epi32(1), row = _mm512_set1_epi32(W);
        __m512 m = a;
        pick16(b, _mm512_add_epi32(pa, one), &m, &at);
        pick16(c, _mm512_add_epi32(pa, row), &m, &at);
        pick16(d, _mm512_add_epi32(_mm512_add_epi32(pa, row), one), &m, &at);
        _mm512_mask_storeu_ps(y + ow, out, m);
        if (with_idx) _mm512_mask_storeu_epi32(idx + ow, out, at);
    }
}

__attribute__((target("avx512f"))) static void max_pool_2x2_avx512(int OH, int OW, int W, const float *xp, float *y,
                                                                   int *idx)
{
    for (int oh = 0; oh < OH; oh++, y += OW, idx += OW) max_pool_2x2_row(oh, OW, W, xp, y, idx, true);
}

__attribute__((target("avx512f"))) static void max_pool_2x2_values_avx512(int OH, int OW, int W, const float *xp,
                                                                          float *y)
{
    for (int oh = 0; oh < OH; oh++, y += OW) max_pool_2x2_row(oh, OW, W, xp, y, NULL, false);
}

/* 2 x 2 windows at stride 2 without padding, every one inside the input:
 * not ceil_mode's last ones, which the input's end cuts off (the 2 x 2
 * loops would read the next row's, or past the plane). */
static bool whole_2x2(const tg__pool_geom *gm)
{
    return gm->kh == 2 && gm->kw == 2 && gm->sh == 2 && gm->sw == 2 && gm->ph == 0 && gm->pw == 0 &&
           2 * gm->OH <= gm->H && 2 * gm->OW <= gm->W;
}
#endif

void tg__k_max_pool2d(const tg__pool_geom *gm, size_t planes, const float *x, float *y, int *idx, bool want_idx)
{
    size_t in_plane = (size_t)gm->H * (size_t)gm->W, out_plane = (size_t)gm->OH * (size_t)gm->OW;
#ifdef TG__CONV_AVX512
    if (whole_2x2(gm) && have_avx512()) {
        for (size_t pl = 0; pl < planes; pl++)
            if (want_idx)
                max_pool_2x2_avx512(gm->OH, gm->OW, gm->W, x + pl * in_plane, y + pl * out_plane,
                                    idx + pl * out_plane);
            else
                max_pool_2x2_values_avx512(gm->OH, gm->OW, gm->W, x + pl * in_plane, y + pl * out_plane);
        return;
    }
#endif
    (void)want_idx; /* the general loop records the positions anyway */
    for (size_t pl = 0; pl < planes; pl++)
        max_pool_plane(gm, x + pl * in_plane, y + pl * out_plane, idx + pl * out_plane);
}

void tg__k_max_pool2d_backward(const tg__pool_geom *gm, size_t planes, const int *idx, const float *dy, float *dx)
{
    size_t in_plane = (size_t)gm->H * (size_t)gm->W, out_plane = (size_t)gm->OH * (size_t)gm->OW;
    for (size_t pl = 0; pl < planes; pl++)
        for (size_t o = 0; o < out_plane; o++) dx[pl * in_plane + (size_t)idx[pl * out_plane + o]] += dy[pl * out_plane + o];
}

/* Average pooling's window of output (oh, ow), clipped to the input, and
 * its divisor, as torch's cpu_avg_pool: the window clipped to the padded
 * input counts with count_include_pad, the part inside the input without;
 * 0 when the window holds no input element (its output is 0). */
static int avg_window(const tg__pool_geom *gm, bool count_include_pad, int oh, int ow, int *h0, int *h1, int *w0,
                      int *w1)
{
    *h0 = oh * gm->sh - gm->ph, *w0 = ow * gm->sw - gm->pw;
    *h1 = *h0 + gm->kh < gm->H + gm->ph ? *h0 + gm->kh : gm->H + gm->ph;
    *w1 = *w0 + gm->kw < gm->W + gm->pw ? *w0 + gm->kw : gm->W + gm->pw;
    int padded = (*h1 - *h0) * (*w1 - *w0);
    if (*h0 < 0) *h0 = 0;
    if (*w0 < 0) *w0 = 0;
    if (*h1 > gm->H) *h1 = gm->H;
    if (*w1 > gm->W) *w1 = gm->W;
    if (*h0 >= *h1 || *w0 >= *w1) return 0;
    return count_include_pad ? padded : (*h1 - *h0) * (*w1 - *w0);
}

void tg__k_avg_pool2d(const tg__pool_geom *gm, size_t planes, bool count_include_pad, const float *x, float *y)
{
    size_t in_plane = (size_t)gm->H * (size_t)gm->W, out_plane = (size_t)gm->OH * (size_t)gm->OW;
    for (size_t pl = 0; pl < planes; pl++)
        for (int oh = 0; oh < gm->OH; oh++)
            for (int ow = 0; ow < gm->OW; ow++) {
                int h0, h1, w0, w1, div = avg_window(gm, count_include_pad, oh, ow, &h0, &h1, &w0, &w1);
                float sum = 0.0f; /* float, in torch's order */
                for (int h = h0; h < h1; h++)
                    for (int w = w0; w < w1; w++) sum += x[pl * in_plane + (size_t)(h * gm->W + w)];
                y[pl * out_plane + (size_t)(oh * gm->OW + ow)] = div ? sum / (float)div : 0.0f;
            }
}

void tg__k_avg_pool2d_backward(const tg__pool_geom *gm, size_t planes, bool count_include_pad, const float *dy,
                               float *dx)
{
    size_t in_plane = (size_t)gm->H * (size_t)gm->W, out_plane = (size_t)gm->OH * (size_t)gm->OW;
    for (size_t pl = 0; pl < planes; pl++)
        for (int oh = 0; oh < gm->OH; oh++)
            for (int ow = 0; ow < gm->OW; ow++) {
                int h0, h1, w0, w1, div = avg_window(gm, count_include_pad, oh, ow, &h0, &h1, &w0, &w1);
                if (!div) continue;
                float d = dy[pl * out_plane + (size_t)(oh * gm->OW + ow)] / (float)div;
                for (int h = h0; h < h1; h++)
                    for (int w = w0; w < w1; w++) dx[pl * in_plane + (size_t)(h * gm->W + w)] += d;
            }
}

/* Adaptive average pooling: output i of n along an input of size len
 * covers [floor(i len / n), ceil((i + 1) len / n)) (torch's start_index,
 * end_index); the sum is divided by the window's height, then its width,
 * as torch's kernel does (`sum / kh / kw`), in both passes. */
static void adaptive_window(int i, int n, int len, int *start, int *end)
{
    *start = (int)((long)i * len / n);
    *end = (int)(((long)(i + 1) * len + n - 1) / n);
}

/* Runs body for every output o of the planes, with its window [h0, h1) x
 * [w0, w1) in the plane that starts at base. */
#define FOR_ADAPTIVE(o, h0, h1, w0, w1, body)                                                      \
    for (size_t pl = 0; pl < planes; pl++)                                                         \
        for (int oh = 0; oh < OH; oh++)                                                            \
            for (int ow = 0; ow < OW; ow++) {                                                      \
                int h0, h1, w0, w1;                                                                \
                adaptive_window(oh, OH, H, &h0, &h1);                                              \
                adaptive_window(ow, OW, W, &w0, &w1);                                              \
                size_t o = pl * (size_t)OH * (size_t)OW + (size_t)(oh * OW + ow);                  \
                size_t base = pl * (size_t)H * (size_t)W;                                          \
                body;                                                                              \
            }

void tg__k_adaptive_avg_pool2d(size_t planes, int H, int W, int OH, int OW, const float *x, float *y)
{
    FOR_ADAPTIVE(o, h0, h1, w0, w1, {
        float sum = 0.0f;
        for (int h = h0; h < h1; h++)
            for (int w = w0; w < w1; w++) sum += x[base + (size_t)(h * W + w)];
        y[o] = sum / (float)(h1 - h0) / (float)(w1 - w0);
    });
}

void tg__k_adaptive_avg_pool2d_backward(size_t planes, int H, int W, int OH, int OW, const float *dy, float *dx)
{
    FOR_ADAPTIVE(o, h0, h1, w0, w1, {
        float d = dy[o] / (float)(h1 - h0) / (float)(w1 - w0);
        for (int h = h0; h < h1; h++)
            for (int w = w0; w < w1; w++) dx[base + (size_t)(h * W + w)] += d;
    });
}

/* ---- the convolution's bias ---- */

void tg__k_add_channel_bias(size_t N, size_t C, size_t P, const float *b, float *y)
{
    for (size_t n = 0; n < N; n++)
        for (size_t c = 0; c < C; c++, y += P)
            for (size_t q = 0; q < P; q++) y[q] += b[c];
}

/* relu(v) as tg_relu's forward writes it: v < 0 ? 0 : v keeps -0 and NaN */
/* (static clones behind plain entry points: clang 14 does not resolve an
 * extern clone set from another file) */
TG__CLONES static void bias_relu(size_t C, size_t P, const float *b, float *y)
{
    for (size_t c = 0; c < C; c++, y += P) {
        if (!b) {
            for (size_t q = 0; q < P; q++) y[q] = y[q] < 0.0f ? 0.0f : y[q];
            continue;
        }
        float bc = b[c];
        for (size_t q = 0; q < P; q++) {
            float v = y[q] + bc;
            y[q] = v < 0.0f ? 0.0f : v;
        }
    }
}

TG__CLONES static void relu_mask(size_t n, const float *y, const float *dy, float *dz)
{
    for (size_t i = 0; i < n; i++) {
        float g = dy[i]; /* loaded either way, so the select vectorises */
        dz[i] = 0.0f + (y[i] > 0.0f ? g : 0.0f);
    }
}

void tg__k_channel_bias_relu(size_t C, size_t P, const float *b, float *y) { bias_relu(C, P, b, y); }

void tg__k_relu_mask(size_t n, const float *y, const float *dy, float *dz) { relu_mask(n, y, dy, dz); }

