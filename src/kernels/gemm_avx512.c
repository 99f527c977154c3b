/* gemm_avx512.c — the GEMM micro-kernel for AVX-512: an 8 x 32 tile of C
 * held in 16 zmm registers while kc rank-1 updates stream through it (the
 * Goto/BLIS scheme: Goto & van de Geijn, "Anatomy of High-Performance
 * Matrix Multiplication", ACM TOMS 34(3), 2008). Compiled with -mavx512f
 * -mfma on x86-64 only; gemm.c calls it only when the CPU has both. */
#include "kernels.h"

#if defined(__x86_64__) && defined(__AVX512F__) && defined(__FMA__)
#include <immintrin.h>

#include "avx512.h"

enum { MR = 8, NR = 32 };

/* The tile's sums into c, added to c's own values when accumulating. */
ALWAYS_INLINE void store(const __m512 c0[MR], const __m512 c1[MR], float *restrict c, size_t ldc, bool accumulate)
{
    for (int r = 0; r < MR; r++, c += ldc) {
        __m512 lo = c0[r], hi = c1[r];
        if (accumulate) {
            lo = _mm512_add_ps(lo, _mm512_loadu_ps(c));
            hi = _mm512_add_ps(hi, _mm512_loadu_ps(c + 16));
        }
        _mm512_storeu_ps(c, lo);
        _mm512_storeu_ps(c + 16, hi);
    }
}

/* c (MR x NR, row stride ldc) = [c +] a_panel (MR x kc) b_panel (kc x NR),
 * a packed column by column (MR floats per k), b row by row (NR per k). */
static void tile(int kc, const float *restrict a, const float *restrict b, float *restrict c, size_t ldc,
                 bool accumulate)
{
    __m512 c0[MR], c1[MR];
    for (int r = 0; r < MR; r++) c0[r] = c1[r] = _mm512_setzero_ps();
    for (int p = 0; p < kc; p++, a += MR, b += NR) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
        for (int r = 0; r < MR; r++) {
            __m512 ar = _mm512_set1_ps(a[r]);
            c0[r] = _mm512_fmadd_ps(ar, b0, c0[r]);
            c1[r] = _mm512_fmadd_ps(ar, b1, c1[r]);
        }
    }
    store(c0, c1, c, ldc, accumulate);
}

/* tile with B's rows read where they lie (a convolution's input: implicit
 * GEMM without packing), the same operations in the same order, so the
 * same bits as tile on pack's copy of them. The tile is named registers,
 * not arrays: with arrays GCC 12 stored them on every step here (its
 * loads of B's rows from unrestricted addresses defeat store motion),
 * though not in tile. */
static void tile_rows(int kc, const float *restrict a, const tg__b_rows *b, float *restrict c, size_t ldc,
                      bool accumulate)
{
#define TG__ROWS_OF(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define TG__ZERO(r) __m512 lo##r = _mm512_setzero_ps(), hi##r = lo##r;
#define TG__FMA(r)                                                                                                     \
    lo##r = _mm512_fmadd_ps(_mm512_set1_ps(a[r]), b0, lo##r);                                                        \
    hi##r = _mm512_fmadd_ps(_mm512_set1_ps(a[r]), b1, hi##r);
#define TG__OUT(r) c0[r] = lo##r, c1[r] = hi##r;
    _Static_assert(MR == 8, "TG__ROWS_OF names MR rows");
    TG__ROWS_OF(TG__ZERO)
    for (int p = 0; p < kc; p++, a += MR) {
        uintptr_t lo = (uintptr_t)b->origin + (uintptr_t)b->at[p]; /* lanes may lie outside: masked */
        uint32_t in = b->mask[b->which[p]];
        __m512 b0 = _mm512_maskz_loadu_ps((__mmask16)in, (const float *)lo);
        __m512 b1 = _mm512_maskz_loadu_ps((__mmask16)(in >> 16), (const float *)(lo + 16 * sizeof(float)));
        TG__ROWS_OF(TG__FMA)
    }
    __m512 c0[MR], c1[MR];
    TG__ROWS_OF(TG__OUT)
    store(c0, c1, c, ldc, accumulate);
#undef TG__OUT
#undef TG__FMA
#undef TG__ZERO
#undef TG__ROWS_OF
}

/* An 8 x 8 block in ymm registers, the same rounds as tg__transpose16's. */
static inline void transpose8(__m256 r[8])
{
    __m256 t[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4)
        for (int h = 0; h < 2; h++) {
            __m256d a = _mm256_castps_pd(t[i + h]), b = _mm256_castps_pd(t[i + h + 2]);
            r[i + 2 * h] = _mm256_castpd_ps(_mm256_unpacklo_pd(a, b));
            r[i + 2 * h + 1] = _mm256_castpd_ps(_mm256_unpackhi_pd(a, b));
        }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x20);
        t[i + 4] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x31);
    }
    for (int i = 0; i < 8; i++) r[i] = t[i];
}

/* dst[p * width + r] = src[r * ld + p] for r < rows, p < kc (rows <= width):
 * packing a transposed operand (B's panels are 32 rows wide, A's 8), in
 * 16 x 16 or 8 x 8 blocks in registers (three times faster than element by
 * element), the ragged edges element by element. */
static void transpose(const float *src, int ld, int rows, int kc, int width, float *restrict dst)
{
    int r = 0, k16 = kc & ~15, k8 = kc & ~7;
    for (; r + 16 <= rows; r += 16)
        for (int p = 0; p < k16; p += 16) {
            __m512 v[16];
            for (int i = 0; i < 16; i++) v[i] = _mm512_loadu_ps(src + (size_t)(r + i) * ld + p);
            tg__transpose16(v);
            for (int i = 0; i < 16; i++) _mm512_storeu_ps(dst + (size_t)(p + i) * width + r, v[i]);
        }
    int done16 = r;
    for (; r + 8 <= rows; r += 8)
        for (int p = 0; p < k8; p += 8) {
            __m256 v[8];
            for (int i = 0; i < 8; i++) v[i] = _mm256_loadu_ps(src + (size_t)(r + i) * ld + p);
            transpose8(v);
            for (int i = 0; i < 8; i++) _mm256_storeu_ps(dst + (size_t)(p + i) * width + r, v[i]);
        }
    for (int i = 0; i < rows; i++) /* what the blocks left: the k tail, and rows past the last block */
        for (int p = i < done16 ? k16 : i < r ? k8 : 0; p < kc; p++) dst[(size_t)p * width + i] = src[(size_t)i * ld + p];
}

/* ---- C = A B^T without packing: dot products ----
 * Both operands are read as stored, rows contiguous in k, so nothing is
 * transposed; y = x W^T at a small batch spends more on packing W^T than on
 * multiplying. A 4 x 4 tile keeps 16 running sums of 16 lanes each; a row
 * past m (column past n) repeats row 0 and is not stored; the k tail is a
 * masked load. Each sum's 16 lanes are added in a fixed tree at the end. */
enum { DOT_MR = 4, DOT_NR = 4 };

/* 16 lanes folded to 4: lane l holds lanes l + l+8 + (l+4 + l+12). */
static inline __m128 fold(__m512 v)
{
    __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)); /* AVX-512F only */
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), hi);
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

static void dot_tile(int K, const float *a, int lda, const float *b, int ldb, float *c, int ldc, int m, int n,
                     bool accumulate)
{
    const float *ar[DOT_MR], *br[DOT_NR];
    for (int i = 0; i < DOT_MR; i++) ar[i] = a + (size_t)(i < m ? i : 0) * lda;
    for (int j = 0; j < DOT_NR; j++) br[j] = b + (size_t)(j < n ? j : 0) * ldb;
    __m512 acc[DOT_MR][DOT_NR];
    for (int i = 0; i < DOT_MR; i++)
        for (int j = 0; j < DOT_NR; j++) acc[i][j] = _mm512_setzero_ps();
    int k = 0;
    for (; k + 16 <= K; k += 16) {
        __m512 bv[DOT_NR];
        for (int j = 0; j < DOT_NR; j++) bv[j] = _mm512_loadu_ps(br[j] + k);
        for (int i = 0; i < DOT_MR; i++) {
            __m512 av = _mm512_loadu_ps(ar[i] + k);
            for (int j = 0; j < DOT_NR; j++) acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
        }
    }
    if (k < K) {
        __mmask16 tail = (__mmask16)((1u << (K - k)) - 1);
        __m512 bv[DOT_NR];
        for (int j = 0; j < DOT_NR; j++) bv[j] = _mm512_maskz_loadu_ps(tail, br[j] + k);
        for (int i = 0; i < DOT_MR; i++) {
            __m512 av = _mm512_maskz_loadu_ps(tail, ar[i] + k);
            for (int j = 0; j < DOT_NR; j++) acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
        }
    }
    for (int i = 0; i < m; i++) {
        /* row i's four sums: fold each to 4 lanes, then two pairwise adds */
        __m128 s01 = _mm_hadd_ps(fold(acc[i][0]), fold(acc[i][1]));
        __m128 s23 = _mm_hadd_ps(fold(acc[i][2]), fold(acc[i][3]));
        __m128 sums = _mm_hadd_ps(s01, s23);
        float out[4];
        _mm_storeu_ps(out, sums);
        float *row = c + (size_t)i * ldc;
        for (int j = 0; j < n; j++) row[j] = accumulate ? out[j] + row[j] : out[j];
    }
}

const tg__gemm_kernel tg__gemm_avx512 = {"avx512", MR, NR, tile, transpose, DOT_MR, DOT_NR, dot_tile, tile_rows};
#else
const tg__gemm_kernel tg__gemm_avx512 = {"avx512", 0, 0, NULL, NULL, 0, 0, NULL, NULL}; /* not built for this target */
#endif
