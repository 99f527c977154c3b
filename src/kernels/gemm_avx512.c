/* gemm_avx512.c — the GEMM micro-kernel for AVX-512: an 8 x 32 tile of C
 * held in 16 zmm registers while kc rank-1 updates stream through it (the
 * Goto/BLIS scheme: Goto & van de Geijn, "Anatomy of High-Performance
 * Matrix Multiplication", ACM TOMS 34(3), 2008). Compiled with -mavx512f
 * -mfma on x86-64 only; gemm.c calls it only when the CPU has both. */
#include "kernels.h"

#if defined(__x86_64__) && defined(__AVX512F__) && defined(__FMA__)
#include <immintrin.h>

enum { MR = 8, NR = 32 };

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
    for (int r = 0; r < MR; r++, c += ldc) {
        if (accumulate) {
            c0[r] = _mm512_add_ps(c0[r], _mm512_loadu_ps(c));
            c1[r] = _mm512_add_ps(c1[r], _mm512_loadu_ps(c + 16));
        }
        _mm512_storeu_ps(c, c0[r]);
        _mm512_storeu_ps(c + 16, c1[r]);
    }
}

/* A 16 x 16 block transposed in registers: four rounds of shuffles, each
 * swapping sub-blocks of half the size before (1, 2, 4, then 8 floats). */
static inline void transpose16(__m512 r[16])
{
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4)
        for (int h = 0; h < 2; h++) {
            __m512d a = _mm512_castps_pd(t[i + h]), b = _mm512_castps_pd(t[i + h + 2]);
            r[i + 2 * h] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
            r[i + 2 * h + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
        }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
        t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
        r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
        r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xdd);
    }
}

/* dst[p * width + r] = src[r * ld + p] for r < rows, p < kc (rows <= width):
 * packing a transposed operand, 16 x 16 blocks in registers (three times
 * faster than element by element), the ragged edges element by element. */
static void transpose(const float *src, int ld, int rows, int kc, int width, float *restrict dst)
{
    int full_rows = rows & ~15, full_k = kc & ~15;
    for (int r = 0; r < full_rows; r += 16)
        for (int p = 0; p < full_k; p += 16) {
            __m512 v[16];
            for (int i = 0; i < 16; i++) v[i] = _mm512_loadu_ps(src + (size_t)(r + i) * ld + p);
            transpose16(v);
            for (int i = 0; i < 16; i++) _mm512_storeu_ps(dst + (size_t)(p + i) * width + r, v[i]);
        }
    for (int r = 0; r < rows; r++)
        for (int p = r < full_rows ? full_k : 0; p < kc; p++) dst[(size_t)p * width + r] = src[(size_t)r * ld + p];
}

const tg__gemm_kernel tg__gemm_avx512 = {"avx512", MR, NR, tile, transpose};
#else
const tg__gemm_kernel tg__gemm_avx512 = {"avx512", 0, 0, NULL, NULL}; /* not built for this target */
#endif
