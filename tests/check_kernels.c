/* check_kernels.c — the private kernels (src/kernels) on raw buffers: GEMM's
 * fast path against its reference, the axis reductions and softmax against
 * sums done here in double, the broadcast binary ops against a naive index
 * computation, and every unary derivative against a finite difference of its
 * own forward; im2col and col2im against their definition. */
#include "tg_test.h"

#include <dirent.h>
#include <stdatomic.h>
#include <stdint.h>

#include "kernels/kernels.h"
#include "graph/graph.h"

/* One float rounding: 2^-24 relative (round to nearest). */
#define FLT_U 0x1.0p-24
/* One double rounding. */
#define DBL_U 0x1.0p-53

/* A buffer of n floats from malloc, checked. */
static float *fbuf(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    return p;
}

/* n values uniform in [lo, hi). */
static void fill_uniform(float *x, size_t n, float lo, float hi, tg_rng *r)
{
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * tg_rng_uniform(r);
}

/* ======================================================================
 * GEMM
 * ====================================================================== */

typedef struct gemm_shape {
    int M, N, K;
    int pad; /* extra columns in every leading dimension */
} gemm_shape;

/* Awkward sizes around the blocking (KC = 256 along K, MC = 128 along M,
 * NC = 1024 along N; tiles of 8 x 32, 4 x 24 or 4 x 16): several blocks,
 * partial ones, 1 and 7 degenerate; pad > 0 makes ld larger than the width.
 * Most have enough work (M N K >= 2^17) to be split across threads; the
 * (300, 20, 300) one splits by rows, having one column of tiles, as does
 * (300, 5, 300) on the dot path (two columns of 4 x 4 tiles, fewer than 3
 * threads); (300, 100, 300) has columns enough but is taller than wide, so
 * packed it splits by rows too. */
static const gemm_shape gemm_shapes[] = {
    {1, 1, 1, 0},      {7, 17, 63, 0},    {17, 7, 64, 3},     {64, 65, 65, 0},    {63, 257, 17, 5},
    {65, 1, 513, 0},   {1, 513, 257, 2},  {257, 63, 7, 1},    {513, 17, 1, 0},    {17, 300, 130, 4},
    {129, 1025, 9, 1}, {300, 20, 300, 0}, {7, 40, 600, 2},    {64, 512, 784, 0},  {512, 784, 64, 0},
    {300, 5, 300, 1},  {300, 100, 300, 0},
};
enum { N_GEMM_SHAPES = sizeof gemm_shapes / sizeof gemm_shapes[0] };

/* A (rows, cols) matrix stored with leading dimension ld >= cols: the
 * logical part uniform in [-1, 1), the padding NaN so that a kernel reading
 * it poisons its result (and, in C, so that a write to it is seen). */
static float *padded_matrix(int rows, int cols, int ld, tg_rng *r)
{
    float *m = fbuf((size_t)rows * ld);
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < ld; j++) m[(size_t)i * ld + j] = j < cols ? 2.0f * tg_rng_uniform(r) - 1.0f : NAN;
    return m;
}

/* Element (r, c) of op(M), M stored row-major with leading dimension ld. */
static double op_at(const float *m, int ld, bool t, int r, int c)
{
    return t ? m[(size_t)c * ld + r] : m[(size_t)r * ld + c];
}

/* One GEMM problem: operands, the starting C and its leading dimensions. */
typedef struct gemm_case {
    const gemm_shape *s;
    bool ta, tb;
    float beta;
    const float *A, *B, *C0;
    int lda, ldb, ldc;
} gemm_case;

/* C0 copied, then the product by kernel k on threads threads (k NULL: the
 * reference); the caller frees it. */
static float *run_gemm(const gemm_case *g, const tg__gemm_kernel *k, int threads)
{
    size_t nc = (size_t)g->s->M * g->ldc;
    float *C = fbuf(nc);
    memcpy(C, g->C0, nc * sizeof *C);
    if (k)
        tg__gemm_with(k, threads, g->ta, g->tb, g->s->M, g->s->N, g->s->K, g->A, g->lda, g->B, g->ldb, g->beta, C,
                      g->ldc);
    else
        tg__gemm_ref(g->ta, g->tb, g->s->M, g->s->N, g->s->K, g->A, g->lda, g->B, g->ldb, g->beta, C, g->ldc);
    return C;
}

/* Every element of C within tol of want (the reference's result), and the
 * padding of C unchanged bit for bit. */
static void check_gemm(const char *name, int threads, const gemm_case *g, const float *C, const float *want,
                       const double *tol)
{
    const gemm_shape *s = g->s;
    for (int i = 0; i < s->M; i++)
        for (int j = 0; j < g->ldc; j++) {
            size_t at = (size_t)i * g->ldc + j;
            if (j >= s->N) {
                if (memcmp(&C[at], &g->C0[at], sizeof *C))
                    ck_abort_msg("%s (%d,%d,%d) ta %d tb %d: padding C[%d,%d] written", name, s->M, s->N, s->K, g->ta,
                                 g->tb, i, j);
                continue;
            }
            double err = fabs((double)C[at] - want[at]);
            if (!(err <= tol[at]))
                ck_abort_msg("%s on %d threads, (M,N,K) = (%d,%d,%d) ta %d tb %d beta %g: C[%d,%d] = %.9g, "
                             "reference %.9g, |diff| %.3g > tol %.3g", name, threads, s->M, s->N, s->K, g->ta, g->tb,
                             (double)g->beta, i, j, (double)C[at], (double)want[at], err, tol[at]);
        }
}

/* The reference against the exact sum, computed here in double; fills tol
 * with each element's bound for the fast kernels. */
static void check_reference(const gemm_case *g, const float *ref, double *tol)
{
    const gemm_shape *s = g->s;
    for (int i = 0; i < s->M; i++)
        for (int j = 0; j < s->N; j++) {
            size_t at = (size_t)i * g->ldc + j;
            bool acc = g->beta != 0.0f;
            double exact = acc ? g->C0[at] : 0.0, S = acc ? fabs(g->C0[at]) : 0.0;
            for (int k = 0; k < s->K; k++) {
                double p = op_at(g->A, g->lda, g->ta, i, k) * op_at(g->B, g->ldb, g->tb, k, j);
                exact += p;
                S += fabs(p);
            }
            double ref_tol = FLT_U * fabs(exact) + 4.0 * (s->K + 1) * DBL_U * S;
            if (!(fabs(ref[at] - exact) <= ref_tol))
                ck_abort_msg("tg__gemm_ref (%d,%d,%d) ta %d tb %d beta %g: C[%d,%d] = %.9g, exact %.9g", s->M, s->N,
                             s->K, g->ta, g->tb, (double)g->beta, i, j, (double)ref[at], exact);
            tol[at] = (s->K + 2) * 2.0 * FLT_U * S;
        }
}

/* Tolerance. C = C0 beta + sum_k a_ik b_kj is an inner product of K + 1
 * terms; summed in float in any order, its error is at most
 * gamma_{K+1} S, gamma_n = n u / (1 - n u), u = 2^-24, with
 * S = beta |C0_ij| + sum_k |a_ik b_kj| (Higham, Accuracy and Stability of
 * Numerical Algorithms, 3.1; an FMA only makes it smaller). The reference
 * sums in double and rounds once: within u |C| <= u S of the exact value.
 * So |fast - ref| <= (K + 2) u S to first order; we allow twice that,
 * (K + 2) 2^-23 S, for the 1/(1 - n u) factor and the double sums' own
 * rounding. A missing, doubled or misplaced term costs about S / K, far
 * above it (K u < 4.7e-5 for K <= 784). The reference itself must agree with
 * the exact sum within its final rounding, u |exact|, plus the double sums'
 * error, 2 (K + 1) 2^-53 S each.
 *
 * Every kernel this CPU runs is checked on 1, 2 and 3 threads, and the
 * three results must be the same bits: each element is computed by one
 * thread in the same order, whatever the split. */
START_TEST(test_kernels_gemm_fast_matches_reference)
{
    const gemm_shape *s = &gemm_shapes[_i];
    const tg__gemm_kernel *kernels[4];
    int n_kernels = tg__gemm_kernels(kernels, 4);
    ck_assert_ptr_eq(kernels[n_kernels - 1], &tg__gemm_portable);
    tg_rng r;
    tg_rng_seed(&r, 1000 + (uint64_t)_i);
    for (int t = 0; t < 4; t++) {
        gemm_case g = {.s = s, .ta = t & 1, .tb = t & 2};
        int a_rows = g.ta ? s->K : s->M, a_cols = g.ta ? s->M : s->K;
        int b_rows = g.tb ? s->N : s->K, b_cols = g.tb ? s->K : s->N;
        g.lda = a_cols + s->pad, g.ldb = b_cols + s->pad, g.ldc = s->N + s->pad;
        float *A = padded_matrix(a_rows, a_cols, g.lda, &r), *B = padded_matrix(b_rows, b_cols, g.ldb, &r);
        size_t nc = (size_t)s->M * g.ldc;
        float *C0 = fbuf(nc);
        double *tol = malloc(nc * sizeof *tol);
        ck_assert_ptr_nonnull(tol);
        g.A = A, g.B = B, g.C0 = C0;
        for (int b = 0; b < 2; b++) {
            g.beta = (float)b;
            if (g.beta == 0.0f) /* overwrite: whatever C held must not matter, not even NaN */
                for (size_t k = 0; k < nc; k++) C0[k] = NAN;
            else {
                free(C0);
                g.C0 = C0 = padded_matrix(s->M, s->N, g.ldc, &r);
            }
            float *ref = run_gemm(&g, NULL, 1);
            check_reference(&g, ref, tol);
            check_gemm("tg__gemm_ref padding", 1, &g, ref, ref, tol);
            for (int k = 0; k < n_kernels; k++) {
                float *one = run_gemm(&g, kernels[k], 1);
                check_gemm(kernels[k]->name, 1, &g, one, ref, tol);
                for (int threads = 2; threads <= 3; threads++) {
                    float *more = run_gemm(&g, kernels[k], threads);
                    check_gemm(kernels[k]->name, threads, &g, more, ref, tol);
                    ck_assert_msg(!memcmp(more, one, nc * sizeof *one), "%s (%d,%d,%d): %d threads differ from 1",
                                  kernels[k]->name, s->M, s->N, s->K, threads);
                    free(more);
                }
                if (kernels[k] == tg__gemm_kernel_in_use()) { /* and tg__gemm, as the ops call it */
                    float *C = fbuf(nc);
                    memcpy(C, C0, nc * sizeof *C);
                    tg__gemm(g.ta, g.tb, s->M, s->N, s->K, A, g.lda, B, g.ldb, g.beta, C, g.ldc);
                    ck_assert_msg(!memcmp(C, one, nc * sizeof *C), "tg__gemm differs from %s", kernels[k]->name);
                    /* and in blocks of rows and columns of any size, as a caller's tasks split it */
                    memcpy(C, C0, nc * sizeof *C);
                    for (int i0 = 0, h = 1; i0 < s->M; i0 += h, h = 2 * h + 1)
                        for (int j0 = 0, w = 3; j0 < s->N; j0 += w, w = 2 * w - 1)
                            tg__gemm_part(i0, i0 + h < s->M ? i0 + h : s->M, j0, j0 + w < s->N ? j0 + w : s->N, g.ta,
                                          g.tb, s->M, s->N, s->K, A, g.lda, B, g.ldb, g.beta, C, g.ldc);
                    ck_assert_msg(!memcmp(C, one, nc * sizeof *C), "tg__gemm_part differs from %s", kernels[k]->name);
                    free(C);
                }
                free(one);
            }
            free(ref);
        }
        free(A), free(B), free(C0), free(tol);
    }
}
END_TEST

/* The documented contract of tg__gemm_b's pack, from a plain (K, N)
 * matrix: what a caller's packer (the convolution's) must write. */
typedef struct matrix_src {
    const float *B;
    int ldb;
} matrix_src;

static void pack_from_matrix(const void *ctx, int j0, int n, int p0, int kc, int width, float *dst)
{
    const matrix_src *m = ctx;
    for (int q = 0; q < n; q += width, dst += (size_t)width * kc)
        for (int p = 0; p < kc; p++)
            for (int r = 0; r < width; r++)
                dst[(size_t)p * width + r] = q + r < n ? m->B[(size_t)(p0 + p) * m->ldb + j0 + q + r] : 0.0f;
}

/* tg__gemm_b's at, which and masks for the same matrix (origin B): row p
 * at its place, every lane of the n read under mask p % 7 (seven alike,
 * the rest empty: a row read under the wrong one reads zeros); the lanes
 * past n are masked off (their addresses may lie past the matrix). */
static void masks_of_matrix(const void *ctx, int j0, int n, uint32_t *mask)
{
    (void)ctx, (void)j0;
    for (int k = 0; k < TG__GEMM_MASKS; k++) mask[k] = k < 7 ? (uint32_t)((1ull << n) - 1) : 0;
}

/* tg__gemm_panels, with op(A) packed ahead (transposed or not) and op(B)
 * read from B, packed by the caller's function, or read in place by a
 * kernel's tile_rows (AVX-512's; the others pack), gives tg__gemm's bits
 * for every kernel on 1, 2 and 3 threads, the shapes above included
 * (several KC blocks, partial tiles, N past NC, padded leading dims). */
START_TEST(test_kernels_gemm_panels_is_gemm_to_the_bit)
{
    const gemm_shape *s = &gemm_shapes[_i];
    const tg__gemm_kernel *kernels[4], *was = tg__gemm_kernel_in_use();
    int n_kernels = tg__gemm_kernels(kernels, 4), threads_before = tg_threads();
    tg_rng r;
    tg_rng_seed(&r, 2000 + (uint64_t)_i);
    for (int ta = 0; ta < 2; ta++) {
        int lda = (ta ? s->M : s->K) + s->pad, ldb = s->N + s->pad, ldc = s->N + s->pad;
        float *A = padded_matrix(ta ? s->K : s->M, ta ? s->M : s->K, lda, &r);
        float *B = padded_matrix(s->K, s->N, ldb, &r), *C0 = padded_matrix(s->M, s->N, ldc, &r);
        size_t nc = (size_t)s->M * ldc;
        float *want = fbuf(nc), *got = fbuf(nc);
        matrix_src src = {B, ldb};
        ptrdiff_t *at = malloc((size_t)s->K * sizeof *at);
        uint8_t *which = malloc((size_t)s->K);
        ck_assert(at && which);
        for (int p = 0; p < s->K; p++) at[p] = (ptrdiff_t)p * ldb * (ptrdiff_t)sizeof(float), which[p] = (uint8_t)(p % 7);
        for (int k = 0; k < n_kernels; k++) {
            tg__gemm_use(kernels[k]);
            float *panels = fbuf(tg__gemm_a_panels_floats(s->M, s->K));
            tg__gemm_pack_a(ta, s->M, s->K, A, lda, panels);
            for (int beta = 0; beta < 2; beta++)
                for (int packer = 0; packer < 3; packer++)
                    for (int threads = 1; threads <= 3; threads++) {
                        memcpy(want, C0, nc * sizeof *want);
                        tg__gemm_with(kernels[k], 1, ta, false, s->M, s->N, s->K, A, lda, B, ldb, (float)beta, want,
                                      ldc);
                        memcpy(got, C0, nc * sizeof *got);
                        tg_set_threads(threads);
                        tg__gemm_b b = {.B = B, .ldb = ldb};
                        if (packer) b = (tg__gemm_b){.pack = pack_from_matrix, .ctx = &src};
                        if (packer == 2) b.origin = B, b.at = at, b.which = which, b.masks = masks_of_matrix;
                        tg__gemm_panels(panels, &b, s->M, s->N, s->K, (float)beta, got, ldc);
                        ck_assert_msg(!memcmp(got, want, nc * sizeof *got),
                                      "%s (%d,%d,%d) ta %d beta %d, B %s, %d threads: not tg__gemm's bits",
                                      kernels[k]->name, s->M, s->N, s->K, ta, beta,
                                      (const char *[]){"read", "packed", "in place"}[packer], threads);
                    }
            free(panels);
        }
        free(A), free(B), free(C0), free(want), free(got), free(at), free(which);
    }
    tg_set_threads(threads_before);
    tg__gemm_use(was);
}
END_TEST

/* op(B) = B^T for B stored (N, K): the contract again, transposed */
static void pack_from_transposed(const void *ctx, int j0, int n, int p0, int kc, int width, float *dst)
{
    const matrix_src *m = ctx;
    for (int q = 0; q < n; q += width, dst += (size_t)width * kc)
        for (int p = 0; p < kc; p++)
            for (int r = 0; r < width; r++)
                dst[(size_t)p * width + r] = q + r < n ? m->B[(size_t)(j0 + q + r) * m->ldb + p0 + p] : 0.0f;
}

/* tg__gemm_bias_act is tg__gemm, then the bias, then the ReLU, to the bit
 * (both GEMM paths: the shapes include dot-product ones), and
 * tg__gemm_part_b with a packer is tg__gemm_part over blocks of rows and
 * columns of any size wherever tg__gemm_packs, for every kernel, every
 * transposition, on 1, 2 and 3 threads. */
START_TEST(test_kernels_gemm_epilogue_and_part_b_are_gemm_to_the_bit)
{
    const gemm_shape *s = &gemm_shapes[_i];
    const tg__gemm_kernel *kernels[4], *was = tg__gemm_kernel_in_use();
    int n_kernels = tg__gemm_kernels(kernels, 4), threads_before = tg_threads();
    tg_rng r;
    tg_rng_seed(&r, 3000 + (uint64_t)_i);
    for (int t = 0; t < 4; t++) {
        bool ta = t & 1, tb = t & 2;
        int lda = (ta ? s->M : s->K) + s->pad, ldb = (tb ? s->K : s->N) + s->pad, ldc = s->N + s->pad;
        float *A = padded_matrix(ta ? s->K : s->M, ta ? s->M : s->K, lda, &r);
        float *B = padded_matrix(tb ? s->N : s->K, tb ? s->K : s->N, ldb, &r);
        float *bias = padded_matrix(1, s->N, s->N, &r), *C0 = padded_matrix(s->M, s->N, ldc, &r);
        size_t nc = (size_t)s->M * ldc;
        float *want = fbuf(nc), *got = fbuf(nc);
        matrix_src src = {B, ldb};
        for (int k = 0; k < n_kernels; k++) {
            tg__gemm_use(kernels[k]);
            for (int threads = 1; threads <= 3; threads++) {
                tg_set_threads(threads);
                for (int relu = 0; relu < 2; relu++) {
                    memcpy(want, C0, nc * sizeof *want);
                    tg__gemm(ta, tb, s->M, s->N, s->K, A, lda, B, ldb, 0.0f, want, ldc);
                    for (int i = 0; i < s->M; i++)
                        for (int j = 0; j < s->N; j++) {
                            float *c = &want[(size_t)i * ldc + j];
                            *c += bias[j]; /* tg__k_add_bias's operation, then tg_relu's */
                            if (relu) *c = *c < 0.0f ? 0.0f : *c;
                        }
                    memcpy(got, C0, nc * sizeof *got);
                    tg__gemm_bias_act(ta, tb, s->M, s->N, s->K, A, lda, B, ldb, bias, relu, got, ldc);
                    ck_assert_msg(!memcmp(got, want, nc * sizeof *got),
                                  "%s (%d,%d,%d) ta %d tb %d relu %d, %d threads: the epilogue's bits differ",
                                  kernels[k]->name, s->M, s->N, s->K, ta, tb, relu, threads);
                }
                if (!tg__gemm_packs(ta, tb, s->M, s->N, s->K)) continue;
                tg__gemm_b b = {.pack = tb ? pack_from_transposed : pack_from_matrix, .ctx = &src};
                memcpy(want, C0, nc * sizeof *want);
                memcpy(got, C0, nc * sizeof *got);
                for (int i0 = 0, h = 1; i0 < s->M; i0 += h, h = 2 * h + 1)
                    for (int j0 = 0, w = 3; j0 < s->N; j0 += w, w = 2 * w - 1) {
                        int i1 = i0 + h < s->M ? i0 + h : s->M, j1 = j0 + w < s->N ? j0 + w : s->N;
                        tg__gemm_part(i0, i1, j0, j1, ta, tb, s->M, s->N, s->K, A, lda, B, ldb, 1.0f, want, ldc);
                        tg__gemm_part_b(i0, i1, j0, j1, ta, tb, s->M, s->N, s->K, A, lda, &b, 1.0f, got, ldc);
                    }
                ck_assert_msg(!memcmp(got, want, nc * sizeof *got),
                              "%s (%d,%d,%d) ta %d tb %d: tg__gemm_part_b differs from tg__gemm_part", kernels[k]->name,
                              s->M, s->N, s->K, ta, tb);
            }
        }
        free(A), free(B), free(bias), free(C0), free(want), free(got);
    }
    tg_set_threads(threads_before);
    tg__gemm_use(was);
}
END_TEST

/* tg__gemm runs the fastest kernel the CPU has unless $TG_GEMM names
 * another; on this machine's x86-64 builds, the SIMD ones are there. */
START_TEST(test_kernels_gemm_dispatch)
{
    const tg__gemm_kernel *kernels[4];
    int n = tg__gemm_kernels(kernels, 4);
    const char *want = getenv("TG_GEMM");
    if (want)
        ck_assert_str_eq(tg__gemm_kernel_in_use()->name, want);
    else
        ck_assert_ptr_eq(tg__gemm_kernel_in_use(), kernels[0]);
#if defined(__x86_64__)
    __builtin_cpu_init();
    ck_assert_int_eq(n, 1 + !!__builtin_cpu_supports("avx2") + !!__builtin_cpu_supports("avx512f"));
#endif
    for (int i = 0; i < n; i++) ck_assert_int_le(kernels[i]->mr * kernels[i]->nr, 8 * 32);
}
END_TEST

/* ======================================================================
 * Reductions (seen as (outer, n, inner) around the axis)
 * ====================================================================== */

#define AT(o, k, i) (((o) * n + (k)) * inner + (i))

START_TEST(test_kernels_sum_axis_matches_double_sum)
{
    const size_t shapes[][3] = {{3, 5, 4}, {1, 1000, 1}, {4, 1, 6}, {2, 37, 1}, {1, 9, 11}};
    tg_rng r;
    tg_rng_seed(&r, 21);
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        size_t outer = shapes[c][0], n = shapes[c][1], inner = shapes[c][2];
        float *x = fbuf(outer * n * inner), *y = fbuf(outer * inner);
        fill_uniform(x, outer * n * inner, -10.0f, 10.0f, &r);
        tg__k_sum_axis(outer, n, inner, x, y);
        for (size_t o = 0; o < outer; o++)
            for (size_t i = 0; i < inner; i++) {
                double s = 0.0, abs_s = 0.0;
                for (size_t k = 0; k < n; k++) s += x[AT(o, k, i)], abs_s += fabs(x[AT(o, k, i)]);
                /* summed in double then rounded once to float */
                double tol = FLT_U * fabs(s) + 2.0 * n * DBL_U * abs_s;
                ck_assert_msg(fabs(y[o * inner + i] - s) <= tol, "(%zu,%zu,%zu) y[%zu,%zu] = %.9g, expected %.9g",
                              outer, n, inner, o, i, (double)y[o * inner + i], s);
            }
        if (c == 0) { /* the whole-tensor sums on the same data */
            size_t m = outer * n * inner;
            double s = 0.0, ss = 0.0;
            for (size_t k = 0; k < m; k++) s += x[k], ss += (double)x[k] * x[k];
            ck_assert_close(tg__k_sum(m, x), s, 4.0 * m * DBL_U, 0.0);
            ck_assert_close(tg__k_sum_sq(m, x), ss, 4.0 * m * DBL_U, 0.0);
        }
        free(x);
        free(y);
    }
}
END_TEST

START_TEST(test_kernels_max_axis_first_index_and_nan)
{
    /* (outer, n, inner) = (2, 4, 3): six lines of four values, each line
     * (o, i) with the expected maximum and index. */
    enum { OUTER = 2, NN = 4, INNER = 3 };
    const size_t n = NN, inner = INNER;
    const float lines[OUTER][INNER][NN] = {
        {{1, 3, 3, 2}, {1, NAN, 5, NAN}, {NAN, 3, NAN, 4}},
        {{-INFINITY, -INFINITY, -INFINITY, -INFINITY}, {-2, -1, -1.5f, -1}, {-1, 0, -0.0f, 0}},
    };
    /* the zeros tie: +0 and -0 compare equal, so the first one wins */
    const float want_y[OUTER][INNER] = {{3, NAN, NAN}, {-INFINITY, -1, 0}};
    const int want_idx[OUTER][INNER] = {{1, 1, 0}, {0, 1, 1}};
    float x[OUTER * NN * INNER], y[OUTER * INNER], y2[OUTER * INNER];
    int idx[OUTER * INNER], idx2[OUTER * INNER];
    for (size_t o = 0; o < OUTER; o++)
        for (size_t k = 0; k < n; k++)
            for (size_t i = 0; i < inner; i++) x[AT(o, k, i)] = lines[o][i][k];
    tg__k_max_axis(OUTER, n, inner, x, y, idx);
    tg__k_max_axis(OUTER, n, inner, x, NULL, idx2); /* either output may be NULL */
    tg__k_max_axis(OUTER, n, inner, x, y2, NULL);
    for (size_t o = 0; o < OUTER; o++)
        for (size_t i = 0; i < inner; i++) {
            size_t at = o * inner + i;
            ck_assert_msg(idx[at] == want_idx[o][i] && idx2[at] == want_idx[o][i],
                          "line (%zu,%zu): index %d, expected %d", o, i, idx[at], want_idx[o][i]);
            ck_assert_msg(tg_test_close(y[at], want_y[o][i], 0, 0) && tg_test_close(y2[at], want_y[o][i], 0, 0),
                          "line (%zu,%zu): max %g, expected %g", o, i, (double)y[at], (double)want_y[o][i]);
        }

    /* backward: dx[o, idx, i] += dy[o, i], nothing elsewhere */
    float dy[OUTER * INNER], dx[OUTER * NN * INNER];
    for (size_t k = 0; k < OUTER * INNER; k++) dy[k] = (float)k + 1.0f;
    for (size_t k = 0; k < OUTER * NN * INNER; k++) dx[k] = 0.5f;
    tg__k_max_axis_backward(OUTER, n, inner, idx, dy, dx);
    for (size_t o = 0; o < OUTER; o++)
        for (size_t k = 0; k < n; k++)
            for (size_t i = 0; i < inner; i++) {
                float want = 0.5f + ((int)k == want_idx[o][i] ? dy[o * inner + i] : 0.0f);
                ck_assert_float_eq(dx[AT(o, k, i)], want);
            }
}
END_TEST

/* softmax and log_softmax over n for (outer, n, inner) = (2, 7, 3), against
 * the definition in double. Each softmax value is a double quotient rounded
 * once (u relative), so a line sums to 1 within u plus the test's own double
 * sum. log_softmax is (x - m) - log_sum with three float roundings, each at
 * most u times the magnitude rounded; log of the float softmax is off by at
 * most u (relative error u of the softmax value). */
START_TEST(test_kernels_softmax_and_log_softmax)
{
    enum { OUTER = 2, NN = 7, INNER = 3 };
    const size_t n = NN, inner = INNER;
    float x[OUTER * NN * INNER], y[OUTER * NN * INNER], ly[OUTER * NN * INNER];
    tg_rng r;
    tg_rng_seed(&r, 22);
    fill_uniform(x, OUTER * NN * INNER, -8.0f, 8.0f, &r);
    tg__k_softmax(OUTER, n, inner, x, y, false);
    tg__k_softmax(OUTER, n, inner, x, ly, true);
    for (size_t o = 0; o < OUTER; o++)
        for (size_t i = 0; i < inner; i++) {
            double m = -INFINITY, sum = 0.0, ysum = 0.0;
            for (size_t k = 0; k < n; k++) m = fmax(m, x[AT(o, k, i)]);
            for (size_t k = 0; k < n; k++) sum += exp(x[AT(o, k, i)] - m);
            for (size_t k = 0; k < n; k++) {
                size_t at = AT(o, k, i);
                double p = exp(x[at] - m) / sum, logp = (x[at] - m) - log(sum);
                ysum += y[at];
                ck_assert_close(y[at], p, 2 * FLT_U, 0.0);
                double ltol = 2 * FLT_U * (fabs(x[at] - m) + log(sum) + fabs(logp));
                ck_assert_msg(fabs(ly[at] - logp) <= ltol, "log_softmax (%zu,%zu,%zu) = %.9g, expected %.9g", o, k, i,
                              (double)ly[at], logp);
                ck_assert_msg(fabs(ly[at] - log(y[at])) <= ltol + 2 * FLT_U,
                              "log_softmax %.9g but log(softmax) %.9g at (%zu,%zu,%zu)", (double)ly[at], log(y[at]), o,
                              k, i);
            }
            ck_assert_close(ysum, 1.0, 2 * FLT_U, 0.0);
        }
}
END_TEST

START_TEST(test_kernels_softmax_stable_for_huge_logits)
{
    /* One line of n = 5 (outer = inner = 1). Naively e^1e30 is inf and the
     * result NaN; with the maximum subtracted: two equal maxima share 1/2,
     * the rest is 0, and log_softmax is x - max - ln 2 exactly. */
    const float x[5] = {1e30f, -1e30f, 1e30f, 0.0f, -INFINITY};
    float y[5], ly[5];
    tg__k_softmax(1, 5, 1, x, y, false);
    tg__k_softmax(1, 5, 1, x, ly, true);
    const float want_y[5] = {0.5f, 0.0f, 0.5f, 0.0f, 0.0f};
    ck_assert_close_array(y, want_y, 5, FLT_U, 0.0);
    for (int k = 0; k < 5; k++) {
        double want = ((double)x[k] - 1e30f) - log(2.0);
        ck_assert_msg(tg_test_close(ly[k], want, 2 * FLT_U, 2 * FLT_U), "log_softmax[%d] = %.9g, expected %.9g", k,
                      (double)ly[k], want);
    }
    /* A line of one element: probability 1, log 0. */
    float one = 3e38f, p, lp;
    tg__k_softmax(1, 1, 1, &one, &p, false);
    tg__k_softmax(1, 1, 1, &one, &lp, true);
    ck_assert_float_eq(p, 1.0f);
    ck_assert_float_eq(lp, 0.0f);
}
END_TEST

/* For each row: max[r] = max_c x[r,c] exactly, and log_sum[r] =
 * log sum_c e^(x[r,c] - max[r]) rounded to float. Checked two ways:
 *  - max + log_sum against lse = log sum_c e^x computed directly in double
 *    (no shift; fine for |x| <= 20): log_sum is within u |log_sum| of its
 *    double value, and each side's double sum of n exponentials and its log
 *    are within about (n + 4) 2^-53 (1 + |lse|), so allow twice that;
 *  - rows whose exponentials overflow or underflow double, against values
 *    worked out by hand. */
START_TEST(test_kernels_logsumexp_rows)
{
    enum { ROWS = 6, COLS = 13 };
    float x[ROWS * COLS], mx[ROWS], ls[ROWS];
    tg_rng r;
    tg_rng_seed(&r, 23);
    fill_uniform(x, ROWS * COLS, -20.0f, 20.0f, &r);
    tg__k_logsumexp_rows(ROWS, COLS, x, mx, ls);
    for (int i = 0; i < ROWS; i++) {
        float m = x[i * COLS];
        double s = 0.0;
        for (int c = 0; c < COLS; c++) {
            m = x[i * COLS + c] > m ? x[i * COLS + c] : m;
            s += exp((double)x[i * COLS + c]);
        }
        ck_assert_float_eq(mx[i], m);
        double lse = log(s), got = (double)mx[i] + ls[i];
        double tol = FLT_U * fabs(ls[i]) + (2.0 * COLS + 8) * DBL_U * (1 + fabs(lse));
        ck_assert_msg(fabs(got - lse) <= tol, "row %d: max + log_sum = %.17g, log sum e^x = %.17g", i, got, lse);
    }

    const float huge[5 * 3] = {
        1000.0f, 1000.0f, -INFINITY,    /* 1000, ln 2 (e^1000 overflows double) */
        -1000.0f, -1000.0f, -1000.0f,   /* -1000, ln 3 (e^-1000 underflows to 0) */
        1e30f, 0.0f, -1e30f,            /* 1e30, 0: the others add e^-1e30 */
        5.0f, 5.0f, 5.0f,               /* 5, ln 3 */
        -INFINITY, 2.0f, -INFINITY,     /* 2, 0 */
    };
    const float want_max[5] = {1000.0f, -1000.0f, 1e30f, 5.0f, 2.0f};
    const double want_ls[5] = {log(2.0), log(3.0), 0.0, log(3.0), 0.0};
    float got_max[5], got_ls[5];
    tg__k_logsumexp_rows(5, 3, huge, got_max, got_ls);
    for (int i = 0; i < 5; i++) {
        ck_assert_float_eq(got_max[i], want_max[i]);
        ck_assert_close(got_ls[i], want_ls[i], FLT_U, 0.0);
    }
}
END_TEST

START_TEST(test_kernels_spread_axis_accumulates)
{
    /* dx (outer, n, inner) += scale dy (outer, inner) for every k. Small
     * integers and scale 0.5: every value is exact. */
    enum { OUTER = 3, NN = 4, INNER = 2 };
    const size_t n = NN, inner = INNER;
    float dy[OUTER * INNER], dx[OUTER * NN * INNER];
    for (int k = 0; k < OUTER * INNER; k++) dy[k] = (float)(k * k - 5);
    for (int k = 0; k < OUTER * NN * INNER; k++) dx[k] = (float)k;
    tg__k_spread_axis(OUTER, n, inner, dy, 0.5f, dx);
    for (size_t o = 0; o < OUTER; o++)
        for (size_t k = 0; k < n; k++)
            for (size_t i = 0; i < inner; i++)
                ck_assert_float_eq(dx[AT(o, k, i)], (float)AT(o, k, i) + 0.5f * dy[o * inner + i]);
}
END_TEST

START_TEST(test_kernels_transpose_and_accumulate)
{
    enum { ROWS = 3, COLS = 5 };
    float x[ROWS * COLS], y[COLS * ROWS];
    for (int k = 0; k < ROWS * COLS; k++) x[k] = (float)(10 * (k / COLS) + k % COLS); /* x[r,c] = 10 r + c */
    for (int k = 0; k < ROWS * COLS; k++) y[k] = -1.0f;
    tg__k_transpose(ROWS, COLS, x, y, false);
    for (int c = 0; c < COLS; c++)
        for (int r = 0; r < ROWS; r++) ck_assert_float_eq(y[c * ROWS + r], (float)(10 * r + c));
    tg__k_transpose(ROWS, COLS, x, y, true); /* y += x^T: twice x^T now */
    for (int c = 0; c < COLS; c++)
        for (int r = 0; r < ROWS; r++) ck_assert_float_eq(y[c * ROWS + r], (float)(2 * (10 * r + c)));
}
END_TEST

START_TEST(test_kernels_bias_and_its_gradient)
{
    enum { ROWS = 4, COLS = 3 };
    const float b[COLS] = {0.5f, -1.0f, 2.0f};
    float y[ROWS * COLS], dy[ROWS * COLS], db[COLS] = {1.0f, 1.0f, 1.0f};
    for (int k = 0; k < ROWS * COLS; k++) y[k] = (float)k, dy[k] = (float)(k % 5) - 2.0f;
    tg__k_add_bias(ROWS, COLS, b, y);
    for (int r = 0; r < ROWS; r++)
        for (int c = 0; c < COLS; c++) ck_assert_float_eq(y[r * COLS + c], (float)(r * COLS + c) + b[c]);
    tg__k_bias_backward(ROWS, COLS, dy, db); /* db[c] += sum over rows of dy[r,c] */
    for (int c = 0; c < COLS; c++) {
        float s = 1.0f;
        for (int r = 0; r < ROWS; r++) s += (float)((r * COLS + c) % 5) - 2.0f;
        ck_assert_float_eq(db[c], s);
    }
}
END_TEST

/* ---- broadcasting binary ops ---- */

typedef struct bcast_case {
    int a[4], b[4]; /* shapes padded to four dimensions */
} bcast_case;

static const bcast_case bcast_cases[] = {
    {{2, 3, 1, 4}, {1, 3, 5, 1}}, /* both operands repeat */
    {{1, 1, 1, 1}, {2, 3, 5, 4}}, /* a scalar */
    {{2, 1, 5, 4}, {2, 3, 5, 4}}, /* one dimension */
    {{2, 3, 5, 1}, {1, 1, 1, 4}}, /* the last (contiguous) dimension */
    {{2, 3, 5, 4}, {2, 3, 5, 4}}, /* no broadcasting: the flat loop */
};

/* The description a caller builds: contiguous strides, 0 where an operand
 * has size 1 (and the output does not). */
static tg__bcast make_bcast(const bcast_case *c)
{
    tg__bcast bc = {.same = true};
    size_t st_a = 1, st_b = 1;
    for (int d = 3; d >= 0; d--) {
        bc.shape[d] = (size_t)(c->a[d] > c->b[d] ? c->a[d] : c->b[d]);
        bc.sa[d] = c->a[d] == 1 && bc.shape[d] > 1 ? 0 : st_a;
        bc.sb[d] = c->b[d] == 1 && bc.shape[d] > 1 ? 0 : st_b;
        bc.same = bc.same && c->a[d] == c->b[d];
        st_a *= (size_t)c->a[d];
        st_b *= (size_t)c->b[d];
    }
    return bc;
}

/* Row-major position of output index i in an operand of shape s: an index
 * along a dimension of size 1 is 0 (i mod 1), else i itself. */
static size_t naive_index(const int *s, const size_t *i)
{
    size_t at = 0;
    for (int d = 0; d < 4; d++) at = at * (size_t)s[d] + i[d] % (size_t)s[d];
    return at;
}

static size_t prod4(const int *s) { return (size_t)s[0] * s[1] * s[2] * s[3]; }

static const tg__binop binary_ops[] = {TG__ADD, TG__SUB, TG__MUL, TG__DIV, TG__MAX, TG__MIN};
static const char *const binop_names[] = {"add", "sub", "mul", "div", "maximum", "minimum"};

/* Runs the statement that follows for each output index i, row-major. */
#define FOR_EACH_INDEX(shape, i)                                                                   \
    for (i[0] = 0; i[0] < (shape)[0]; i[0]++)                                                      \
        for (i[1] = 0; i[1] < (shape)[1]; i[1]++)                                                  \
            for (i[2] = 0; i[2] < (shape)[2]; i[2]++)                                              \
                for (i[3] = 0; i[3] < (shape)[3]; i[3]++)

/* y = a op b for ADD, SUB, MUL, DIV, MAX, MIN. +, -, *, / in double rounded to
 * float equal the float operation (double has more than 2 * 24 + 2 bits),
 * so the expected values are exact. */
static void check_binary_forward(const bcast_case *c, const tg__bcast *bc, const float *a, const float *b, float *y)
{
    for (size_t o = 0; o < sizeof binary_ops / sizeof binary_ops[0]; o++) {
        tg__binop op = binary_ops[o];
        tg__k_binary(op, bc, a, b, y);
        size_t i[4], at = 0;
        FOR_EACH_INDEX(bc->shape, i) {
            double va = a[naive_index(c->a, i)], vb = b[naive_index(c->b, i)];
            double w = op == TG__ADD ? va + vb : op == TG__SUB ? va - vb : op == TG__MUL ? va * vb
                     : op == TG__DIV ? va / vb : op == TG__MAX ? fmax(va, vb) : fmin(va, vb);
            if (y[at] != (float)w)
                ck_abort_msg("%s: y[%zu] = %.9g, expected %.9g", binop_names[op], at, (double)y[at], (double)(float)w);
            at++;
        }
    }
}


/* Forward as above; backward: da += dy d(a op b)/da summed over every
 * output element that read that a element (and the same for b). Expected
 * sums in double; the kernel adds R terms in float to an initial value,
 * within (R + 1) u times the sum of their magnitudes (each gradient term
 * itself within 2 u), so allow (R + 3) 2^-23 of it. */
START_TEST(test_kernels_binary_broadcast)
{
    const bcast_case *c = &bcast_cases[_i];
    tg__bcast bc = make_bcast(c);
    size_t na = prod4(c->a), nb = prod4(c->b), ny = bc.shape[0] * bc.shape[1] * bc.shape[2] * bc.shape[3];
    float *a = fbuf(na), *b = fbuf(nb), *y = fbuf(ny), *dy = fbuf(ny), *da = fbuf(na), *db = fbuf(nb);
    double *wa = malloc(na * sizeof *wa), *wb = malloc(nb * sizeof *wb), *ma = malloc(na * sizeof *ma),
           *mb = malloc(nb * sizeof *mb);
    ck_assert(wa && wb && ma && mb);
    tg_rng r;
    tg_rng_seed(&r, 40 + (uint64_t)_i);
    fill_uniform(a, na, -4.0f, 4.0f, &r);
    fill_uniform(b, nb, 0.5f, 3.0f, &r);
    fill_uniform(dy, ny, -1.0f, 1.0f, &r);
    check_binary_forward(c, &bc, a, b, y);
    size_t reps_a = ny / na, reps_b = ny / nb;
    for (size_t o = 0; o < sizeof binary_ops / sizeof binary_ops[0]; o++) {
        tg__binop op = binary_ops[o];
        for (size_t k = 0; k < na; k++) da[k] = 0.25f, wa[k] = 0.25, ma[k] = 0.25;
        for (size_t k = 0; k < nb; k++) db[k] = -0.25f, wb[k] = -0.25, mb[k] = 0.25;
        tg__k_binary_backward(op, &bc, a, b, dy, da, db);
        size_t i[4], at = 0;
        FOR_EACH_INDEX(bc.shape, i) {
            size_t ia = naive_index(c->a, i), ib = naive_index(c->b, i);
            double va = a[ia], vb = b[ib], g = dy[at++];
            double ga = op == TG__MUL ? g * vb : op == TG__DIV ? g / vb : g;
            double gb = op == TG__ADD ? g : op == TG__SUB ? -g : op == TG__MUL ? g * va : -g * va / (vb * vb);
            if (op == TG__MAX || op == TG__MIN) { /* the winner takes dy, a tie halves it */
                bool a_wins = op == TG__MAX ? va > vb : va < vb, b_wins = op == TG__MAX ? vb > va : vb < va;
                ga = a_wins ? g : b_wins ? 0.0 : g / 2;
                gb = b_wins ? g : a_wins ? 0.0 : g / 2;
            }
            wa[ia] += ga, ma[ia] += fabs(ga);
            wb[ib] += gb, mb[ib] += fabs(gb);
        }
        for (size_t k = 0; k < na; k++)
            ck_assert_msg(fabs(da[k] - wa[k]) <= (reps_a + 3) * 2 * FLT_U * ma[k], "%s: da[%zu] = %.9g, expected %.9g",
                          binop_names[op], k, (double)da[k], wa[k]);
        for (size_t k = 0; k < nb; k++)
            ck_assert_msg(fabs(db[k] - wb[k]) <= (reps_b + 3) * 2 * FLT_U * mb[k], "%s: db[%zu] = %.9g, expected %.9g",
                          binop_names[op], k, (double)db[k], wb[k]);
    }
    /* NULL skips an operand */
    for (size_t k = 0; k < na; k++) da[k] = 0.0f;
    tg__k_binary_backward(TG__ADD, &bc, a, b, dy, da, NULL);
    double s = 0.0;
    for (size_t k = 0; k < ny; k++) s += dy[k];
    double got = 0.0;
    for (size_t k = 0; k < na; k++) got += da[k];
    ck_assert_close(got, s, 0.0, (reps_a + 3) * 2 * FLT_U * ny); /* |dy| <= 1 */
    free(a), free(b), free(y), free(dy), free(da), free(db), free(wa), free(wb), free(ma), free(mb);
}
END_TEST

/* ======================================================================
 * Unary ops: backward against a central difference of forward
 * ====================================================================== */

/* Central difference D = (f(x+h) - f(x-h)) / 2h of the float forward, in
 * double, against dx from backward:
 *   truncation   |D - f'(x)| <= h^2 / 6 max|f'''|  (Taylor), m3 below is
 *                that maximum over the op's domain, worked out per op;
 *   rounding     each float forward is within a few ulp (we allow
 *                2^-21 = 8u) of max(1, |x|, |f|), the magnitude of its
 *                intermediates, so D is within 2 * 2^-21 * max / 2h;
 *   backward     dx = 1 + dy f'(x) in float: a few roundings, 2^-21 of
 *                max(1, |dy f'|).
 * Points closer than 2h to a kink (where f' jumps) are redrawn. */
#define FD_H 0x1.0p-6

/* Each case applies its op through the public function, to get the
 * descriptor whose loops it checks (huber through huber_loss of x - 0). */
typedef tg_tensor *apply_fn(tg_graph *g, tg_tensor *x, const float *p);
#define APPLY(op, call) \
    static tg_tensor *apply_##op(tg_graph *g, tg_tensor *x, const float *p) { (void)p; return call; }
APPLY(neg, tg_neg(g, x))
APPLY(add_scalar, tg_add_scalar(g, x, p[0]))
APPLY(mul_scalar, tg_mul_scalar(g, x, p[0]))
APPLY(pow, tg_pow(g, x, p[0]))
APPLY(exp, tg_exp(g, x))
APPLY(log, tg_log(g, x))
APPLY(sqrt, tg_sqrt(g, x))
APPLY(abs, tg_abs(g, x))
APPLY(square, tg_square(g, x))
APPLY(clamp, tg_clamp(g, x, p[0], p[1]))
APPLY(relu, tg_relu(g, x))
APPLY(leaky_relu, tg_leaky_relu(g, x, p[0]))
APPLY(sigmoid, tg_sigmoid(g, x))
APPLY(tanh, tg_tanh(g, x))
APPLY(sin, tg_sin(g, x))
APPLY(cos, tg_cos(g, x))
APPLY(gelu, tg_gelu(g, x))
APPLY(softplus, tg_softplus(g, x, p[0], p[1]))
APPLY(huber, tg_huber_loss(g, x, tg_zeros(g, x->ndim, x->shape), p[0], TG_REDUCE_NONE))

typedef struct unary_case {
    const char *op;
    apply_fn *apply;
    float p[4];         /* the op's fparam, as the header documents them */
    double lo, hi;      /* domain of x */
    double kinks[2];
    int n_kinks;
    double m3;          /* max |f'''| on the domain, away from kinks */
} unary_case;

#define OP(name) #name, apply_##name
static const unary_case unary_cases[] = {
    {OP(neg), {0}, -3, 3, {0}, 0, 0},
    {OP(add_scalar), {0.7f}, -3, 3, {0}, 0, 0},
    {OP(mul_scalar), {-1.3f}, -3, 3, {0}, 0, 0},
    {OP(pow), {2.5f}, 0.5, 2, {0}, 0, 2.7},          /* 2.5 1.5 0.5 x^-0.5 <= 2.66 */
    {OP(exp), {0}, -2, 2, {0}, 0, 7.4},               /* e^2 */
    {OP(log), {0}, 0.5, 3, {0}, 0, 16},               /* 2 / x^3 at 0.5 */
    {OP(sqrt), {0}, 0.5, 3, {0}, 0, 2.2},             /* 3/8 x^-2.5 at 0.5 = 2.12 */
    {OP(abs), {0}, -3, 3, {0}, 1, 0},
    {OP(square), {0}, -3, 3, {0}, 0, 0},
    {OP(clamp), {-0.5f, 0.8f}, -2, 2, {-0.5, 0.8}, 2, 0},
    {OP(relu), {0}, -3, 3, {0}, 1, 0},
    {OP(leaky_relu), {0.1f}, -3, 3, {0}, 1, 0},
    {OP(sigmoid), {0}, -4, 4, {0}, 0, 0.125},         /* q (1 - 6q), q = s(1-s) <= 1/4 */
    {OP(tanh), {0}, -3, 3, {0}, 0, 2.0},              /* 2 (1-t^2)(1-3t^2) at 0 */
    {OP(sin), {0}, -4, 4, {0}, 0, 1.0},               /* -cos x */
    {OP(cos), {0}, -4, 4, {0}, 0, 1.0},               /* sin x */
    {OP(gelu), {0}, -4, 4, {0}, 0, 0.8},              /* x phi(x) (x^2 - 4): 0.779 */
    {OP(softplus), {1.0f, 20.0f}, -5, 25, {20}, 1, 0.1}, /* s(1-s)(1-2s) <= 0.0962; linear past 20 */
    {OP(huber), {1.0f, 1.0f}, -3, 3, {-1, 1}, 2, 0},
};
enum { N_UNARY = sizeof unary_cases / sizeof unary_cases[0] };

/* The descriptor of c's op, from a node it made. */
static const tg__op_desc *unary_desc(const unary_case *c)
{
    tg_graph *g = tg_graph_new();
    tg_tensor *y = c->apply(g, tg_ones(g, TG_SHAPE(1)), c->p);
    ck_assert_msg(y != NULL, "%s: %s", c->op, tg_last_error());
    ck_assert_str_eq(tg_tensor_op_name(y), c->op);
    const tg__op_desc *d = y->op;
    tg_graph_free(g);
    return d;
}

static bool near_kink(const unary_case *c, double x)
{
    for (int k = 0; k < c->n_kinks; k++)
        if (fabs(x - c->kinks[k]) < 2 * FD_H) return true;
    return false;
}

START_TEST(test_kernels_unary_backward_matches_finite_difference)
{
    enum { NPTS = 64 };
    const unary_case *c = &unary_cases[_i];
    const tg__op_desc *k = unary_desc(c);
    ck_assert_msg(k->forward_loop && k->backward_loop, "%s has no loops", c->op);
    float x[NPTS], xp[NPTS], xm[NPTS], y[NPTS], yp[NPTS], ym[NPTS], dy[NPTS], dx[NPTS];
    tg_rng r;
    tg_rng_seed(&r, 50 + (uint64_t)_i);
    for (int i = 0; i < NPTS; i++) {
        do x[i] = (float)(c->lo + (c->hi - c->lo) * tg_rng_uniform(&r));
        while (near_kink(c, x[i]));
        xp[i] = (float)(x[i] + FD_H);
        xm[i] = (float)(x[i] - FD_H);
        dy[i] = 0.5f + tg_rng_uniform(&r);
        dx[i] = 1.0f; /* backward accumulates */
    }
    k->forward_loop(NPTS, x, y, c->p);
    k->forward_loop(NPTS, xp, yp, c->p);
    k->forward_loop(NPTS, xm, ym, c->p);
    k->backward_loop(NPTS, x, y, dy, dx, c->p);
    for (int i = 0; i < NPTS; i++) {
        double width = (double)xp[i] - xm[i], h = width / 2;
        double fd = ((double)yp[i] - ym[i]) / width;
        double mag = fmax(fmax(1.0, fabs(x[i]) + h), fmax(fabs(yp[i]), fabs(ym[i])));
        double trunc = h * h / 6 * c->m3, round = 2 * 0x1.0p-21 * mag / width;
        double want = 1.0 + dy[i] * fd;
        double tol = dy[i] * (trunc + round) + 0x1.0p-21 * fmax(1.0, fabs(dy[i] * fd));
        ck_assert_msg(fabs(dx[i] - want) <= tol,
                      "%s at x = %.9g (p = %g, %g): dx = 1 + %.9g * %.9g, finite difference %.9g, tol %.3g",
                      c->op, (double)x[i], (double)c->p[0], (double)c->p[1], (double)dy[i],
                      (dx[i] - 1.0) / dy[i], fd, tol);
    }
}
END_TEST

START_TEST(test_kernels_unary_table_is_covered)
{
    /* Every op in ops/unary.c has a row above, and its descriptor both
     * loops: no unary op ships without its derivative being checked. */
    FILE *f = fopen("src/ops/unary.c", "r");
    ck_assert_msg(f != NULL, "src/ops/unary.c (run from the repository)");
    char line[512];
    int ops = 0;
    while (fgets(line, sizeof line, f)) {
        char *at = strstr(line, ".name = \""), name[32];
        if (!at || sscanf(at + strlen(".name = \""), "%31[^\"]", name) != 1) continue;
        ops++;
        const unary_case *c = NULL;
        for (int i = 0; i < N_UNARY && !c; i++)
            if (!strcmp(unary_cases[i].op, name)) c = &unary_cases[i];
        ck_assert_msg(c != NULL, "unary op %s has no finite-difference case", name);
        const tg__op_desc *d = unary_desc(c);
        ck_assert_msg(d->forward_loop && d->backward_loop && d->elementwise, "%s has half a kernel", name);
    }
    fclose(f);
    ck_assert_int_eq(ops, N_UNARY);
}
END_TEST

/* ======================================================================
 * Optimizer updates on threads
 * ====================================================================== */

enum { BIG = 100003 }; /* above the size that is split across threads; odd, so slices are uneven */

/* One update kernel on parameter, gradient and three state buffers. */
typedef void update_fn(float *p, const float *g, float *s0, float *s1, float *s2);

static void run_sgd(float *p, const float *g, float *s0, float *s1, float *s2)
{
    (void)s1, (void)s2;
    tg__k_sgd(BIG, p, g, s0, &(tg__sgd_args){-0.1f, 0.01f, 0.9f, 0.9f, true, false, false});
}
static void run_adagrad(float *p, const float *g, float *s0, float *s1, float *s2)
{
    (void)s1, (void)s2;
    tg__k_adagrad(BIG, p, g, s0, &(tg__adagrad_args){-0.01f, 0.0f, 1e-10f, false});
}
static void run_rmsprop(float *p, const float *g, float *s0, float *s1, float *s2)
{
    tg__k_rmsprop(BIG, p, g, s0, s1, s2, &(tg__rmsprop_args){-0.01f, 0.0f, 0.99f, 0.01f, 1e-8f, 0.9f, false});
}
static void run_adam(float *p, const float *g, float *s0, float *s1, float *s2)
{
    tg__k_adam(BIG, p, g, s0, s1, s2,
               &(tg__adam_args){-1e-3f, 0.03f, 0.9f, 0.1f, 0.999f, 0.001f, 1e-8f, 0.0f, 0.99999f, false});
}
static void run_nadam(float *p, const float *g, float *s0, float *s1, float *s2)
{
    (void)s2;
    tg__k_nadam(BIG, p, g, s0, s1, &(tg__nadam_args){-1e-4f, -1e-3f, 0.002f, 0.9f, 0.1f, 0.999f, 0.001f, 1e-8f, 0.0f, true});
}
static void run_radam(float *p, const float *g, float *s0, float *s1, float *s2)
{
    (void)s2;
    tg__k_radam(BIG, p, g, s0, s1,
                &(tg__radam_args){1e-3f, 0.3f, 0.1f, 0.5f, 0.9f, 0.1f, 0.999f, 0.001f, 1e-8f, 0.0f, true, false});
}
static void run_lion(float *p, const float *g, float *s0, float *s1, float *s2)
{
    (void)s1, (void)s2;
    tg__k_lion(BIG, p, g, s0, &(tg__lion_args){-1e-4f, 0.999f, 0.9f, 0.1f, 0.99f, 0.01f, false});
}

static update_fn *const updates[] = {run_sgd, run_adagrad, run_rmsprop, run_adam, run_nadam, run_radam, run_lion};

/* The same update on 1, 2 and 3 threads: the same bits in the parameter
 * and in every state buffer (each element is one thread's, computed as on
 * one thread). */
START_TEST(test_kernels_updates_same_bits_on_any_threads)
{
    tg_rng r;
    tg_rng_seed(&r, 77);
    float *g = fbuf(BIG), *start[4];
    fill_uniform(g, BIG, -1, 1, &r);
    for (int k = 0; k < 4; k++) {
        start[k] = fbuf(BIG);
        fill_uniform(start[k], BIG, k ? 0.0f : -1.0f, 1, &r); /* state >= 0: square averages */
    }
    float *one[4], *more[4];
    for (int k = 0; k < 4; k++) one[k] = fbuf(BIG), more[k] = fbuf(BIG);
    int threads_before = tg_threads();
    for (int threads = 1; threads <= 3; threads++) {
        float **out = threads == 1 ? one : more;
        for (int k = 0; k < 4; k++) memcpy(out[k], start[k], BIG * sizeof(float));
        tg_set_threads(threads);
        updates[_i](out[0], g, out[1], out[2], out[3]);
        if (threads == 1) {
            ck_assert_msg(memcmp(one[0], start[0], BIG * sizeof(float)), "update %d changed nothing", _i);
            continue;
        }
        for (int k = 0; k < 4; k++)
            ck_assert_msg(!memcmp(more[k], one[k], BIG * sizeof(float)), "update %d, buffer %d: %d threads differ",
                          _i, k, threads);
    }
    tg_set_threads(threads_before);
    for (int k = 0; k < 4; k++) free(start[k]), free(one[k]), free(more[k]);
    free(g);
}
END_TEST

/* ---- im2col and col2im against the definition ----
 * Geometries with strides, dilations and paddings larger than the kernel's
 * reach, so rows and columns fall wholly or partly in the padding. */
static const tg__conv_geom im2col_cases[] = {
    {2, 5, 6, 3, 3, 1, 1, 1, 1, 1, 1, 5, 6},
    {1, 7, 6, 3, 2, 2, 1, 1, 1, 1, 2, 4, 9},
    {3, 7, 7, 3, 3, 1, 2, 2, 1, 1, 1, 5, 4},
    {2, 6, 5, 4, 2, 1, 1, 1, 2, 1, 1, 6, 5},
    {1, 4, 9, 2, 3, 3, 3, 2, 3, 3, 4, 2, 4},
    /* stride 1, as wide as the input: the one-run-a-tap loops */
    {3, 7, 9, 5, 5, 1, 1, 1, 1, 2, 2, 7, 9},
    {2, 6, 7, 3, 5, 1, 1, 1, 1, 1, 2, 6, 7},
    {1, 3, 4, 5, 3, 1, 1, 1, 2, 3, 2, 5, 4},   /* rows wholly in the padding; a tap wholly outside */
    {2, 7, 9, 3, 3, 1, 1, 1, 1, 0, 1, 5, 9},   /* fewer output rows than input rows */
    {2, 6, 7, 3, 3, 1, 1, 2, 1, 2, 1, 6, 7},   /* dilated rows */
    {2, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1, 28, 28}, /* the lectures' CNN's, panels crossing rows */
    {3, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 14, 14},
    {30, 5, 6, 3, 3, 1, 1, 1, 1, 1, 1, 5, 6},  /* 270 taps: two blocks of the GEMM's K */
    {2, 6, 7, 3, 3, 1, 1, 1, 1, -1, 1, 3, 7},  /* negative padding, as an adjoint's rows may have */
    {1, 9, 10, 7, 7, 1, 1, 1, 1, 3, 3, 9, 10},
    {1, 17, 18, 16, 16, 1, 1, 1, 1, 7, 7, 17, 18}, /* the largest kernel packed from x: 256 masks */
};

/* tg__k_pack_cols (implicit GEMM) writes the panels that packing cols
 * would, and tg__k_pack_cols_t those of cols^T: for panel widths 8, 16, 24
 * (AVX2's tile: half the upper lanes) and 32 (the kernel in use transposes
 * for the second), from several first columns and rows, every entry cols'
 * bits and 0 past the panel's last column. */
static void check_pack_cols(const tg__conv_geom *gm, const float *x, const float *cols)
{
    int K = gm->C * gm->kh * gm->kw, P = gm->OH * gm->OW;
    tg__cols_src src = {gm, x};
    for (int transposed = 0; transposed < 2; transposed++) { /* cols: columns the positions; cols^T: the taps */
        int columns = transposed ? K : P, rows = transposed ? P : K;
        int column_step = transposed ? K / 2 + 1 : P / 3 + 1, row_step = transposed ? P / 3 + 1 : K / 2 + 1;
        for (int width = 8; width <= 32; width += 8)
            for (int j0 = 0; j0 < columns; j0 += column_step)
                for (int p0 = 0; p0 < rows; p0 += row_step) {
                    int n = columns - j0, kc = rows - p0 < TG__GEMM_KC ? rows - p0 : TG__GEMM_KC;
                    int panels = (n + width - 1) / width;
                    float *dst = fbuf((size_t)panels * width * kc);
                    (transposed ? tg__k_pack_cols_t : tg__k_pack_cols)(&src, j0, n, p0, kc, width, dst);
                    for (int q = 0; q < panels; q++)
                        for (int p = 0; p < kc; p++)
                            for (int r = 0; r < width; r++) {
                                int col = q * width + r;
                                size_t at = transposed ? (size_t)(j0 + col) * P + p0 + p
                                                       : (size_t)(p0 + p) * P + j0 + col;
                                float got = dst[((size_t)q * kc + p) * width + r], want = col < n ? cols[at] : 0.0f;
                                if (memcmp(&got, &want, sizeof got)) /* an assertion an entry is a syscall */
                                    ck_abort_msg("pack_cols%s width %d from (%d,%d): panel %d row %d entry %d is %g, "
                                                 "not %g",
                                                 transposed ? "_t" : "", width, p0, j0, q, p, r, (double)got,
                                                 (double)want);
                            }
                    free(dst);
                }
    }
}

/* tg__k_cols_taps and tg__k_cols_masks (implicit GEMM read in place)
 * place each tap's row at cols' values for a tile's positions: for tiles
 * of 1 to 32 positions from several first columns (for 32, every one of
 * two output rows': the rows' ends fall everywhere in a tile), a lane
 * whose bit is set reads cols' entry, bit for bit; a lane whose bit is
 * clear is a 0 of the padding or past the tile. */
static void check_cols_in_place(const tg__conv_geom *gm, const float *x, const float *cols)
{
    int K = gm->C * gm->kh * gm->kw, P = gm->OH * gm->OW;
    tg__cols_src src = {gm, x};
    ptrdiff_t *at = malloc((size_t)K * sizeof *at);
    uint8_t *which = malloc((size_t)K);
    uint32_t mask[TG__GEMM_MASKS];
    ck_assert(at && which);
    tg__k_cols_taps(gm, at, which);
    for (int n = 1; n <= 32; n += n < 8 ? 1 : 8)
        for (int j0 = 0; j0 < P; j0 += n == 32 && j0 < 2 * gm->OW ? 1 : P / 3 + 1) {
            int m = P - j0 < n ? P - j0 : n;
            tg__k_cols_masks(&src, j0, m, mask);
            for (int p = 0; p < K; p++) /* plain ifs: an assertion a lane is a syscall */
                for (int r = 0; r < 32; r++) {
                    bool read = mask[which[p]] >> r & 1;
                    float want = r < m ? cols[(size_t)p * P + j0 + r] : 0.0f;
                    if (r >= m && read) ck_abort_msg("cols in place: lane %d past the tile's %d is read", r, m);
                    if (!read && want != 0.0f)
                        ck_abort_msg("cols in place from %d: row %d lane %d masked, not 0", j0, p, r);
                    const float *got = read ? x + (at[p] / (ptrdiff_t)sizeof(float) + j0 + r) : &want;
                    if (memcmp(got, &want, sizeof want))
                        ck_abort_msg("cols in place from %d, %d wide: row %d lane %d reads %g, not cols' %g", j0, m,
                                     p, r, (double)*got, (double)want);
                }
        }
    /* through the GEMM, for a product as the convolutions make (op(A)
     * packed ahead, beta 0 for y, 1 for dx): reading cols in place gives
     * packing's bits, on 1 and 2 threads */
    enum { M = 11 };
    tg_rng r;
    tg_rng_seed(&r, 77);
    float *A = padded_matrix(M, K, K, &r), *panels = fbuf(tg__gemm_a_panels_floats(M, K));
    float *C0 = padded_matrix(M, P, P, &r), *want = fbuf((size_t)M * P), *got = fbuf((size_t)M * P);
    tg__gemm_pack_a(false, M, K, A, K, panels);
    tg__gemm_b packed = {.pack = tg__k_pack_cols, .ctx = &src};
    tg__gemm_b in_place = {.pack = tg__k_pack_cols, .ctx = &src, .origin = x, .at = at, .which = which,
                           .masks = tg__k_cols_masks};
    int threads_before = tg_threads();
    for (int beta = 0; beta < 2; beta++)
        for (int threads = 1; threads <= 2; threads++) {
            tg_set_threads(threads);
            memcpy(want, C0, (size_t)M * P * sizeof *want), memcpy(got, C0, (size_t)M * P * sizeof *got);
            tg__gemm_panels(panels, &packed, M, P, K, (float)beta, want, P);
            tg__gemm_panels(panels, &in_place, M, P, K, (float)beta, got, P);
            ck_assert_msg(!memcmp(got, want, (size_t)M * P * sizeof *got),
                          "cols in place, beta %d, %d threads: not the packed product's bits", beta, threads);
        }
    tg_set_threads(threads_before);
    free(A), free(panels), free(C0), free(want), free(got);
    free(at), free(which);
}

START_TEST(test_kernels_im2col_and_col2im_match_definition)
{
    const tg__conv_geom *gm = &im2col_cases[_i];
    size_t K = (size_t)gm->C * (size_t)gm->kh * (size_t)gm->kw, P = (size_t)gm->OH * (size_t)gm->OW;
    size_t nx = (size_t)gm->C * (size_t)gm->H * (size_t)gm->W;
    float *x = fbuf(nx), *cols = fbuf(K * P), *dx = fbuf(nx), *want = fbuf(nx);
    for (size_t i = 0; i < nx; i++) x[i] = (float)i + 1.0f, dx[i] = want[i] = 0.5f;
    tg__k_im2col(gm, x, cols);
    for (int c = 0; c < gm->C; c++)
        for (int i = 0; i < gm->kh; i++)
            for (int j = 0; j < gm->kw; j++)
                for (int oh = 0; oh < gm->OH; oh++)
                    for (int ow = 0; ow < gm->OW; ow++) {
                        int ih = oh * gm->sh - gm->pt + i * gm->dh, iw = ow * gm->sw - gm->pl + j * gm->dw;
                        size_t q = (((size_t)c * gm->kh + i) * gm->kw + j) * P + (size_t)oh * gm->OW + ow;
                        bool in = ih >= 0 && ih < gm->H && iw >= 0 && iw < gm->W;
                        size_t at = in ? ((size_t)c * gm->H + ih) * gm->W + iw : 0;
                        ck_assert_float_eq(cols[q], in ? x[at] : 0.0f);
                        if (in) want[at] += cols[q] * 0.25f;
                    }
    if (tg__k_cols_packable(gm)) check_pack_cols(gm, x, cols), check_cols_in_place(gm, x, cols);
#if defined(__x86_64__) && !defined(TG_NO_CLONES)
    /* where it should be: stride 1, as wide as the input, with AVX-512 */
    __builtin_cpu_init();
    if (gm->sh == 1 && gm->sw == 1 && gm->OW == gm->W && __builtin_cpu_supports("avx512f"))
        ck_assert(tg__k_cols_packable(gm));
#endif
    for (size_t q = 0; q < K * P; q++) cols[q] *= 0.25f; /* exact: a power of two */
    tg__k_col2im(gm, cols, dx);
    for (size_t i = 0; i < nx; i++) ck_assert_float_eq(dx[i], want[i]);
    free(x), free(cols), free(dx), free(want);
}
END_TEST

/* ---- max pooling against the definition ----
 * Small integers make ties common, and NaNs are sprinkled in: the first
 * maximum in the window's row-major order wins, a NaN over anything, the
 * last NaN over an earlier one (torch's `(val > maxval) || isnan(val)`).
 * The 2 x 2 stride 2 case has its own loop; the others the general one. */
static const tg__pool_geom max_pool_cases[] = {
    {6, 8, 2, 2, 2, 2, 0, 0, 3, 4},   /* the lectures' CNN's */
    {7, 9, 2, 2, 2, 2, 0, 0, 3, 4},   /* odd sizes: the last row and column unused */
    {7, 7, 3, 3, 2, 2, 1, 1, 4, 4},   /* padding, overlapping windows */
    {5, 6, 3, 2, 1, 3, 1, 1, 5, 3},
    {6, 6, 2, 2, 2, 2, 1, 1, 4, 4},   /* padding with the 2 x 2 window: the general loop */
    {7, 7, 2, 2, 2, 2, 0, 0, 4, 4},   /* ceil_mode: the last windows cut off by the input's end */
    {7, 9, 2, 2, 2, 2, 0, 0, 4, 5},
};

START_TEST(test_kernels_max_pool_matches_definition)
{
    const tg__pool_geom *gm = &max_pool_cases[_i];
    enum { PLANES = 3 };
    size_t in = (size_t)gm->H * gm->W, out = (size_t)gm->OH * gm->OW;
    float *x = fbuf(PLANES * in), *y = fbuf(PLANES * out);
    int *idx = malloc(PLANES * out * sizeof *idx);
    ck_assert_ptr_nonnull(idx);
    tg_rng r;
    tg_rng_seed(&r, 300 + (uint64_t)_i);
    for (size_t i = 0; i < PLANES * in; i++) {
        float u = tg_rng_uniform(&r);
        x[i] = u < 0.08f ? NAN : u < 0.12f ? -INFINITY : (float)(int)(4.0f * tg_rng_uniform(&r));
    }
    tg__k_max_pool2d(gm, PLANES, x, y, idx, true);
    /* the evaluation's call, without positions: the same maxima */
    float *values = fbuf(PLANES * out);
    int *scratch = malloc(PLANES * out * sizeof *scratch);
    ck_assert_ptr_nonnull(scratch);
    tg__k_max_pool2d(gm, PLANES, x, values, scratch, false);
    ck_assert_msg(!memcmp(values, y, PLANES * out * sizeof *y), "case %d: the maxima differ without positions", _i);
    free(values), free(scratch);
    for (int pl = 0; pl < PLANES; pl++)
        for (int oh = 0; oh < gm->OH; oh++)
            for (int ow = 0; ow < gm->OW; ow++) {
                int h0 = oh * gm->sh - gm->ph, w0 = ow * gm->sw - gm->pw, best = -1;
                float m = -INFINITY;
                for (int h = h0 < 0 ? 0 : h0; h < h0 + gm->kh && h < gm->H; h++)
                    for (int w = w0 < 0 ? 0 : w0; w < w0 + gm->kw && w < gm->W; w++) {
                        float v = x[pl * in + (size_t)(h * gm->W + w)];
                        if (best < 0 || v > m || isnan(v)) m = v, best = h * gm->W + w;
                    }
                size_t o = pl * out + (size_t)(oh * gm->OW + ow);
                ck_assert_msg(idx[o] == best && (isnan(m) ? isnan(y[o]) : y[o] == m),
                              "case %d plane %d output (%d,%d): %g at %d, want %g at %d", _i, pl, oh, ow,
                              (double)y[o], idx[o], (double)m, best);
            }
    free(x), free(y), free(idx);
}
END_TEST

/* The bias gradient's sum against a double sum (any order of float terms
 * summed in double is exact here: small integers). */
START_TEST(test_kernels_channel_sum)
{
    enum { N = 3, C = 4, P = 29 };
    float *x = fbuf(N * C * P);
    for (size_t i = 0; i < N * C * P; i++) x[i] = (float)((int)(i * 7919 % 41) - 20);
    for (size_t c = 0; c < C; c++) {
        double want = 0.0;
        for (size_t n = 0; n < N; n++)
            for (size_t q = 0; q < P; q++) want += x[(n * C + c) * P + q];
        ck_assert_double_eq(tg__k_channel_sum(N, C, P, c, x), want);
    }
    free(x);
}
END_TEST

/* ---- the thread pool ---- */

/* The threads of this process now (Linux: /proc/self/task). */
static int process_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void count_task(void *ctx, int t, int count)
{
    (void)count;
    atomic_fetch_add((_Atomic int *)ctx + t, 1);
}

START_TEST(test_kernels_more_tasks_than_threads)
{
    /* a job of more tasks than tg_threads(): every task once, claimed in
     * turn by tg_threads() threads, not one thread a task */
    enum { TASKS = 16 };
    _Atomic int ran[TASKS] = {0};
    int was = tg_threads(), before = process_threads(); /* check runs each test in a fresh child */
    tg_set_threads(2);
    tg__parallel_run(TASKS, count_task, ran);
    for (int t = 0; t < TASKS; t++) ck_assert_int_eq(ran[t], 1);
    ck_assert_int_le(process_threads(), before + 1);
    tg_set_threads(was);
}
END_TEST

static Suite *kernels_suite(void)
{
    Suite *s = suite_create("kernels");

    TCase *tc = tcase_create("gemm");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_kernels_gemm_fast_matches_reference, 0, N_GEMM_SHAPES);
    tcase_add_test(tc, test_kernels_gemm_dispatch);
    tcase_add_loop_test(tc, test_kernels_gemm_panels_is_gemm_to_the_bit, 0, N_GEMM_SHAPES);
    tcase_add_loop_test(tc, test_kernels_gemm_epilogue_and_part_b_are_gemm_to_the_bit, 0, N_GEMM_SHAPES);
    suite_add_tcase(s, tc);

    tc = tcase_create("updates");
    tcase_add_loop_test(tc, test_kernels_updates_same_bits_on_any_threads, 0,
                        (int)(sizeof updates / sizeof updates[0]));
    suite_add_tcase(s, tc);

    tc = tcase_create("reduce");
    tcase_add_test(tc, test_kernels_sum_axis_matches_double_sum);
    tcase_add_test(tc, test_kernels_max_axis_first_index_and_nan);
    tcase_add_test(tc, test_kernels_softmax_and_log_softmax);
    tcase_add_test(tc, test_kernels_softmax_stable_for_huge_logits);
    tcase_add_test(tc, test_kernels_logsumexp_rows);
    tcase_add_test(tc, test_kernels_spread_axis_accumulates);
    suite_add_tcase(s, tc);

    tc = tcase_create("conv");
    tcase_set_timeout(tc, 60); /* a few seconds a case under the sanitizers */
    tcase_add_loop_test(tc, test_kernels_max_pool_matches_definition, 0,
                        (int)(sizeof max_pool_cases / sizeof max_pool_cases[0]));
    tcase_add_test(tc, test_kernels_channel_sum);
    tcase_add_loop_test(tc, test_kernels_im2col_and_col2im_match_definition, 0,
                        (int)(sizeof im2col_cases / sizeof im2col_cases[0]));
    suite_add_tcase(s, tc);

    tc = tcase_create("pool");
    tcase_add_test(tc, test_kernels_more_tasks_than_threads);
    suite_add_tcase(s, tc);

    tc = tcase_create("elementwise");
    tcase_add_test(tc, test_kernels_transpose_and_accumulate);
    tcase_add_test(tc, test_kernels_bias_and_its_gradient);
    tcase_add_loop_test(tc, test_kernels_binary_broadcast, 0, (int)(sizeof bcast_cases / sizeof bcast_cases[0]));
    tcase_add_loop_test(tc, test_kernels_unary_backward_matches_finite_difference, 0, N_UNARY);
    tcase_add_test(tc, test_kernels_unary_table_is_covered);
    suite_add_tcase(s, tc);
    return s;
}

TG_TEST_MAIN(kernels_suite)
