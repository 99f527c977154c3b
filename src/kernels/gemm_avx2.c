/* gemm_avx2.c — the GEMM micro-kernel for AVX2 + FMA: a 4 x 24 tile of C in
 * 12 ymm registers (of 16), the same scheme as gemm_avx512.c. Four rows
 * divide every batch size a user picks in practice, so the tiles on the
 * batch axis are rarely padded. Compiled with -mavx2 -mfma on x86-64 only. */
#include "kernels.h"

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

enum { MR = 4, NR = 24 };

/* c (MR x NR, row stride ldc) = [c +] a_panel (MR x kc) b_panel (kc x NR). */
static void tile(int kc, const float *restrict a, const float *restrict b, float *restrict c, size_t ldc,
                 bool accumulate)
{
    __m256 acc[MR][3];
    for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = acc[r][2] = _mm256_setzero_ps();
    for (int p = 0; p < kc; p++, a += MR, b += NR) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8), b2 = _mm256_load_ps(b + 16);
        for (int r = 0; r < MR; r++) {
            __m256 ar = _mm256_broadcast_ss(a + r);
            acc[r][0] = _mm256_fmadd_ps(ar, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(ar, b1, acc[r][1]);
            acc[r][2] = _mm256_fmadd_ps(ar, b2, acc[r][2]);
        }
    }
    for (int r = 0; r < MR; r++, c += ldc)
        for (int v = 0; v < 3; v++) {
            if (accumulate) acc[r][v] = _mm256_add_ps(acc[r][v], _mm256_loadu_ps(c + 8 * v));
            _mm256_storeu_ps(c + 8 * v, acc[r][v]);
        }
}

const tg__gemm_kernel tg__gemm_avx2 = {"avx2", MR, NR, tile, NULL, 0, 0, NULL, NULL};
#else
const tg__gemm_kernel tg__gemm_avx2 = {"avx2", 0, 0, NULL, NULL, 0, 0, NULL, NULL}; /* not built for this target */
#endif
