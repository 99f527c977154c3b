/* gemm.c — C = op(A) op(B) + beta C, the one kernel every Linear layer and
 * matmul runs three times per step (forward, and the two gradients). */
#include <string.h>

#include "kernels.h"

/* Element (r, c) of op(M), where M is stored row-major with leading
 * dimension ld and op transposes when t is set. */
static inline float op_at(const float *m, int ld, bool t, int r, int c)
{
    return t ? m[(size_t)c * ld + r] : m[(size_t)r * ld + c];
}

/* ---- reference: the definition, one dot product per element ---- */
void tg__gemm_ref(bool ta, bool tb, int M, int N, int K, const float *A, int lda, const float *B,
                  int ldb, float beta, float *C, int ldc)
{
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double acc = 0.0;
            for (int k = 0; k < K; k++) acc += (double)op_at(A, lda, ta, i, k) * op_at(B, ldb, tb, k, j);
            float *c = &C[(size_t)i * ldc + j];
            *c = (float)(beta != 0.0f ? acc + *c : acc);
        }
    }
}

/* ---- blocked: a KC x NC panel of op(B) is packed row-major once and then
 * swept by every row of A, so its loads hit cache and the inner loop is a
 * contiguous multiply-add the compiler vectorises. 64 x 256 floats = 64 KiB,
 * about half of a core's L2 on most x86-64 parts. ---- */
enum { KC = 64, NC = 256 };

static void pack_b(bool tb, const float *B, int ldb, int pc, int kc, int jc, int nc, float *restrict bp)
{
    for (int p = 0; p < kc; p++)
        for (int j = 0; j < nc; j++) bp[(size_t)p * nc + j] = op_at(B, ldb, tb, pc + p, jc + j);
}

static void panel(bool ta, int M, int kc, int nc, const float *A, int lda, int pc,
                  const float *restrict bp, float *C, int ldc, int jc)
{
    for (int i = 0; i < M; i++) {
        float *restrict c = C + (size_t)i * ldc + jc;
        for (int p = 0; p < kc; p++) {
            float a = op_at(A, lda, ta, i, pc + p);
            const float *restrict b = bp + (size_t)p * nc;
            for (int j = 0; j < nc; j++) c[j] += a * b[j];
        }
    }
}

void tg__gemm_blocked(bool ta, bool tb, int M, int N, int K, const float *A, int lda,
                      const float *B, int ldb, float beta, float *C, int ldc)
{
    _Alignas(64) float bp[KC * NC];
    if (beta == 0.0f)
        for (int i = 0; i < M; i++) memset(C + (size_t)i * ldc, 0, (size_t)N * sizeof *C);
    for (int jc = 0; jc < N; jc += NC) {
        int nc = N - jc < NC ? N - jc : NC;
        for (int pc = 0; pc < K; pc += KC) {
            int kc = K - pc < KC ? K - pc : KC;
            pack_b(tb, B, ldb, pc, kc, jc, nc, bp);
            panel(ta, M, kc, nc, A, lda, pc, bp, C, ldc, jc);
        }
    }
}

void tg__gemm(bool ta, bool tb, int M, int N, int K, const float *A, int lda, const float *B,
              int ldb, float beta, float *C, int ldc)
{
    tg__gemm_blocked(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
}
