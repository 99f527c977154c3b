/* gemm.c — C = op(A) op(B) + beta C, the one kernel every Linear layer and
 * matmul runs three times per step (forward, and the two gradients).
 *
 * The fast path is Goto's (Goto & van de Geijn, ACM TOMS 34(3), 2008): op(B)
 * is packed a KC x NC block at a time into NR-wide column panels, op(A) an
 * MC x KC block at a time into MR-tall row panels, and a micro-kernel keeps
 * an MR x NR tile of C in registers while it streams one panel of each.
 * The micro-kernel is chosen once from the CPU's features (AVX-512, AVX2 +
 * FMA, or portable C), so one binary runs on any x86-64.
 *
 * Threads split C into fixed column (or row) ranges of whole tiles. Every
 * element of C is then computed by one thread with the same sequence of
 * operations as on one thread — KC blocks in order, a fused multiply-add
 * chain within each — so results are bitwise the same for any number of
 * threads, not only for the same one. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

/* KC x NR floats of B (32 KiB at NR 32) stay in L1 while a tile sweeps
 * them; an MC x KC block of A (128 KiB) stays in L2. */
enum { KC = TG__GEMM_KC, MC = 128, NC = 1024, MR_MAX = 8, NR_MAX = 32 };
/* Row blocks start at whole tiles (every kernel's mr divides MR_MAX), so
 * op(A)'s panels packed ahead are found at ic kc within a K block. */
_Static_assert(MC % MR_MAX == 0, "a row block is whole tiles");

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

/* ---- the portable micro-kernel: plain C the compiler vectorises ---- */
enum { P_MR = 4, P_NR = 8 };

static void portable_tile(int kc, const float *restrict a, const float *restrict b, float *restrict c, size_t ldc,
                          bool accumulate)
{
    float acc[P_MR][P_NR] = {{0}};
    for (int p = 0; p < kc; p++, a += P_MR, b += P_NR)
        for (int r = 0; r < P_MR; r++)
            for (int j = 0; j < P_NR; j++) acc[r][j] += a[r] * b[j];
    for (int r = 0; r < P_MR; r++, c += ldc)
        for (int j = 0; j < P_NR; j++) c[j] = accumulate ? c[j] + acc[r][j] : acc[r][j];
}

const tg__gemm_kernel tg__gemm_portable = {"portable", P_MR, P_NR, portable_tile, NULL, 0, 0, NULL, NULL};

/* ---- packing ---- */

/* dst[p * width + r] = src[r * ld + p] for r < rows, p < kc: rows of a
 * row-major matrix laid out column by column, as a panel wants them; k
 * outer, so the writes are contiguous and the rows being read stay in L1. */
static void transpose_panel(const float *src, int ld, int rows, int kc, int width, float *restrict dst)
{
    enum { MAX_ROWS = 32 };
    const float *row[MAX_ROWS];
    for (int r = 0; r < rows; r++) row[r] = src + (size_t)r * ld;
    for (int p = 0; p < kc; p++, dst += width)
        for (int r = 0; r < rows; r++) dst[r] = row[r][p];
}

/* Packs an operand into panels of width: elements (i, k) of the operand
 * for i0 <= i < i0 + m, p0 <= k < p0 + kc, panel q holding for each k its
 * width consecutive i (zero past m). by_k: the operand is stored k-major,
 * X[k ld + i], so each k's run is one copy; else i-major, X[i ld + k], and
 * a panel is a transpose. A is (i = row of op(A)) with by_k = ta; B is
 * (i = column of op(B)) with by_k = !tb. */
static void pack(const tg__gemm_kernel *k, bool by_k, const float *X, int ld, int i0, int m, int p0, int kc, int width,
                 float *restrict dst)
{
    for (int q = 0; q < m; q += width, dst += (size_t)width * kc) {
        int n = m - q < width ? m - q : width;
        if (n < width) memset(dst, 0, (size_t)width * kc * sizeof *dst);
        if (by_k)
            for (int p = 0; p < kc; p++)
                memcpy(dst + (size_t)p * width, X + (size_t)(p0 + p) * ld + i0 + q, (size_t)n * sizeof *dst);
        else
            (k->transpose ? k->transpose : transpose_panel)(X + (size_t)(i0 + q) * ld + p0, ld, n, kc, width, dst);
    }
}

/* n rounded up to whole tiles of t. */
static int padded(int n, int t) { return (n + t - 1) / t * t; }

/* ---- per-thread workspace: the thread's scratch (parallel.c), an A
 * block and a B block rounded up to whole tiles ---- */
enum { A_FLOATS = (MC + MR_MAX) * KC, B_FLOATS = KC * (NC + NR_MAX) };
_Static_assert(A_FLOATS + B_FLOATS <= TG__SCRATCH_FLOATS, "a worker's scratch holds GEMM's blocks");
_Static_assert(A_FLOATS % 16 == 0, "B's block starts 64-byte aligned");

/* ---- the blocked product over a sub-rectangle of C ---- */
typedef struct gemm_job {
    const tg__gemm_kernel *k;
    bool ta, tb;
    int M, N, K;
    const float *A, *B;
    int lda, ldb, ldc;
    float beta;
    float *C;
    bool dot;              /* C = A B^T by k->dot, unpacked (else packed tiles) */
    int mr, nr;            /* the tile of whichever it is */
    bool split_rows;       /* tasks take row ranges (else column ranges) */
    int tiles;             /* tiles along the split dimension */
    /* Operands packed ahead (tg__gemm_panels): op(A) already in panels
     * (NULL: packed here from A), op(B) packed by the caller's function
     * (NULL: packed here from B) */
    const float *a_panels;
    const tg__gemm_b *b_src;
    /* Applied to C as its sums complete (tg__gemm_bias_act): to each tile
     * on the packed path, to each task's sub-rectangle on the dot path */
    const float *bias;     /* by column, or NULL */
    bool relu;
} gemm_job;

/* The epilogue on the m x n block of C at c (its first column's bias at
 * bias): the operations, and so the bits, of tg__k_add_bias and then
 * tg_relu's forward. */
TG__CLONES static void epilogue(int m, int n, const float *bias, bool relu, float *c, int ldc)
{
    for (int r = 0; r < m; r++, c += ldc) {
        if (bias)
            for (int q = 0; q < n; q++) c[q] += bias[q];
        if (relu)
            for (int q = 0; q < n; q++) c[q] = c[q] < 0.0f ? 0.0f : c[q];
    }
}

static bool has_epilogue(const gemm_job *j) { return j->bias || j->relu; }

/* A tile's op(B): packed at b, or read in place (tile_rows) when rows is
 * not NULL. */
typedef struct b_tile {
    const float *b;
    const tg__b_rows *rows;
} b_tile;

static void run_tile(const tg__gemm_kernel *k, int kc, const float *a, b_tile b, float *c, size_t ldc,
                     bool accumulate)
{
    if (b.rows) k->tile_rows(kc, a, b.rows, c, ldc, accumulate);
    else k->tile(kc, a, b.b, c, ldc, accumulate);
}

/* One MR x NR tile (or the m x n corner of one) of C at c. */
static void tile_at(const tg__gemm_kernel *k, int kc, const float *a, b_tile b, float *c, int ldc, int m, int n,
                    bool accumulate)
{
    if (m == k->mr && n == k->nr) {
        run_tile(k, kc, a, b, c, (size_t)ldc, accumulate);
        return;
    }
    _Alignas(64) float part[MR_MAX * NR_MAX];
    if (accumulate) {
        memset(part, 0, sizeof part);
        for (int r = 0; r < m; r++) memcpy(part + r * k->nr, c + (size_t)r * ldc, (size_t)n * sizeof *c);
    }
    run_tile(k, kc, a, b, part, (size_t)k->nr, accumulate);
    for (int r = 0; r < m; r++) memcpy(c + (size_t)r * ldc, part + r * k->nr, (size_t)n * sizeof *c);
}

/* Blocks of at most mc_max x KC of op(A) packed into pa, KC x nc_max of
 * op(B) into pb. The block sizes decide only which tiles are computed
 * when: every element of C is still summed over the KC blocks in order,
 * each by the micro-kernel, so any sizes give the same bits. */
static void gemm_block(const gemm_job *j, int i0, int i1, int j0, int j1, float *pa, float *pb, int mc_max,
                       int nc_max)
{
    const tg__gemm_kernel *k = j->k;
    /* op(B) read in place: where its rows lie, and a tile's masks */
    bool in_place = j->b_src && j->b_src->at && j->b_src->which && j->b_src->masks && k->tile_rows;
    uint32_t mask[TG__GEMM_MASKS];
    for (int jc = j0; jc < j1; jc += nc_max) {
        int nc = j1 - jc < nc_max ? j1 - jc : nc_max;
        for (int pc = 0; pc < j->K; pc += KC) {
            int kc = j->K - pc < KC ? j->K - pc : KC;
            bool accumulate = pc > 0 || j->beta != 0.0f;
            if (!in_place) {
                if (j->b_src && j->b_src->pack) j->b_src->pack(j->b_src->ctx, jc, nc, pc, kc, k->nr, pb);
                else pack(k, !j->tb, j->B, j->ldb, jc, nc, pc, kc, k->nr, pb);
            }
            for (int ic = i0; ic < i1; ic += mc_max) {
                int mc = i1 - ic < mc_max ? i1 - ic : mc_max;
                const float *a = pa;
                if (j->a_panels) /* block pc of every row, then row ic's panel in it */
                    a = j->a_panels + (size_t)pc * (size_t)padded(j->M, k->mr) + (size_t)ic * (size_t)kc;
                else
                    pack(k, j->ta, j->A, j->lda, ic, mc, pc, kc, k->mr, pa);
                bool last = pc + kc == j->K;
                for (int jr = 0; jr < nc; jr += k->nr) {
                    int n = nc - jr < k->nr ? nc - jr : k->nr;
                    tg__b_rows rows;
                    b_tile b = {pb + (size_t)jr * kc, NULL};
                    if (in_place) {
                        j->b_src->masks(j->b_src->ctx, jc + jr, n, mask);
                        /* column jc + jr's address may lie past the source (its
                         * lanes read there are masked off): made as an integer */
                        uintptr_t column = (uintptr_t)j->b_src->origin + (uintptr_t)(jc + jr) * sizeof(float);
                        rows = (tg__b_rows){(const float *)column, j->b_src->at + pc, j->b_src->which + pc, mask};
                        b = (b_tile){NULL, &rows};
                    }
                    for (int ir = 0; ir < mc; ir += k->mr) {
                        float *c = j->C + (size_t)(ic + ir) * j->ldc + jc + jr;
                        int m = mc - ir < k->mr ? mc - ir : k->mr;
                        tile_at(k, kc, a + (size_t)ir * kc, b, c, j->ldc, m, n, accumulate);
                        if (last && has_epilogue(j))
                            epilogue(m, n, j->bias ? j->bias + jc + jr : NULL, j->relu, c, j->ldc);
                    }
                }
            }
        }
    }
}

/* The dot-product path over a sub-rectangle: each dot_nr rows of B (four
 * rows of W, in L1) against every row block of A. The epilogue runs once
 * over the whole sub-rectangle when its sums are complete: called on each
 * 4 x 4 tile, its calls cost more than its arithmetic (8.6% of an MLP
 * step). */
static void dot_block(const gemm_job *j, int i0, int i1, int j0, int j1)
{
    const tg__gemm_kernel *k = j->k;
    for (int jr = j0; jr < j1; jr += k->dot_nr)
        for (int ir = i0; ir < i1; ir += k->dot_mr) {
            float *c = j->C + (size_t)ir * j->ldc + jr;
            int m = i1 - ir < k->dot_mr ? i1 - ir : k->dot_mr, n = j1 - jr < k->dot_nr ? j1 - jr : k->dot_nr;
            k->dot(j->K, j->A + (size_t)ir * j->lda, j->lda, j->B + (size_t)jr * j->ldb, j->ldb, c, j->ldc, m, n,
                   j->beta != 0.0f);
        }
    if (has_epilogue(j))
        epilogue(i1 - i0, j1 - j0, j->bias ? j->bias + j0 : NULL, j->relu, j->C + (size_t)i0 * j->ldc + j0, j->ldc);
}

/* The sub-rectangle [i0, i1) x [j0, j1) of C, on the calling thread. */
static void gemm_rect(const gemm_job *j, int i0, int i1, int j0, int j1)
{
    if (j->dot) {
        dot_block(j, i0, i1, j0, j1);
        return;
    }
    float *w = tg__thread_scratch(A_FLOATS + B_FLOATS);
    if (w) {
        gemm_block(j, i0, i1, j0, j1, w, w + A_FLOATS, MC, NC);
    } else { /* out of memory: one tile at a time from the stack (40 KiB),
              * slower, the same bits (found by check_alloc's sweep) */
        _Alignas(64) float pa[MR_MAX * KC], pb[KC * NR_MAX];
        gemm_block(j, i0, i1, j0, j1, pa, pb, j->k->mr, j->k->nr);
    }
}

/* Task t of count: its fixed share of whole tiles along the split dimension. */
static void gemm_task(void *ctx, int t, int count)
{
    const gemm_job *j = ctx;
    int step = j->split_rows ? j->mr : j->nr, extent = j->split_rows ? j->M : j->N;
    int from = (int)((long)j->tiles * t / count) * step, to = (int)((long)j->tiles * (t + 1) / count) * step;
    if (to > extent) to = extent;
    if (from >= to) return;
    if (j->split_rows)
        gemm_rect(j, from, to, 0, j->N);
    else
        gemm_rect(j, 0, j->M, from, to);
}

/* Below this many multiply-adds a second thread costs more than it saves.
 * Up to DOT_MAX_M rows of at least DOT_MIN_K, DOT_MAX_A_BYTES in all,
 * C = A B^T takes the dot-product path. */
enum { PARALLEL_MIN = 1 << 17, DOT_MAX_M = 64, DOT_MIN_K = 256, DOT_MAX_A_BYTES = 256 << 10 };

/* C = beta C for an empty sum (K = 0), rows [i0, i1) and columns [j0, j1). */
static void scale_rect(int i0, int i1, int j0, int j1, float beta, float *C, int ldc)
{
    for (int i = i0; i < i1; i++)
        for (int j = j0; j < j1; j++) C[(size_t)i * ldc + j] = beta != 0.0f ? C[(size_t)i * ldc + j] : 0.0f;
}

/* The product's path and split, decided from the whole of it: which path
 * computes an element decides its bits, so a part of C must be computed
 * as the whole would be. */
static gemm_job plan_job(const tg__gemm_kernel *k, int threads, bool a_packed_ahead, bool ta, bool tb, int M, int N,
                         int K, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    /* x W^T at a small batch, or onto few outputs: dot products beat
     * packing W^T, or padding N to a whole tile (measured: bench/bench.c)
     * -- as long as A's rows stay in L2 while every tile of columns sweeps
     * them, and K is long enough to pay for each dot product's final fold.
     * A convolution's dw (K = positions, 196) and the CNN's first Linear
     * (A 800 KB) run 1.5x faster packed (docs/PERFORMANCE.md). */
    bool small_a = M <= DOT_MAX_M && K >= DOT_MIN_K && (size_t)M * (size_t)K * sizeof(float) <= DOT_MAX_A_BYTES;
    bool dot = k->dot && !ta && tb && (small_a || N < k->nr);
    int mr = dot ? k->dot_mr : k->mr, nr = dot ? k->dot_nr : k->nr;
    int row_tiles = (M + mr - 1) / mr, col_tiles = (N + nr - 1) / nr;
    /* A weight gradient, dW = dy^T x, is split by rows, as an optimizer
     * step splits the weights: each core then updates the rows it wrote,
     * still in its cache (moving them costs ~250 ns a line between the
     * cores measured in docs/PERFORMANCE.md). A packed product whose
     * op(A) is packed here and is taller than op(B) is wide, by rows too:
     * within one block of NC columns each task packs its part of one
     * operand and the whole of the other, so the smaller whole is the
     * cheaper (the MLP's evaluation at batches of 1,000 packs 19% less and
     * took 41 ms instead of 45). Otherwise columns, unless there are too
     * few. */
    bool rows_pack_less = !dot && !a_packed_ahead && M > N && N <= NC;
    bool split_rows = row_tiles >= threads &&
                      (ta && !tb ? true : rows_pack_less || (col_tiles < threads && row_tiles > col_tiles));
    gemm_job j = {k, ta, tb, M, N, K, A, B, lda, ldb, ldc, beta, C, dot, mr, nr, split_rows, 0, NULL, NULL, NULL,
                  false};
    j.tiles = j.split_rows ? row_tiles : col_tiles;
    return j;
}

/* The job on up to threads threads. */
static void run_job(gemm_job *j, int threads)
{
    int tasks = (double)j->M * j->N * j->K < PARALLEL_MIN ? 1 : threads < j->tiles ? threads : j->tiles;
    if (tasks > 1)
        tg__parallel_run(tasks, gemm_task, j);
    else
        gemm_task(j, 0, 1);
}

void tg__gemm_with(const tg__gemm_kernel *k, int threads, bool ta, bool tb, int M, int N, int K, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        scale_rect(0, M, 0, N, beta, C, ldc);
        return;
    }
    gemm_job j = plan_job(k, threads, false, ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
    run_job(&j, threads);
}

void tg__gemm_bias_act(bool ta, bool tb, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                       const float *bias, bool relu, float *C, int ldc)
{
    const tg__gemm_kernel *k = tg__gemm_kernel_in_use();
    if (M <= 0 || N <= 0) return;
    if (!k || K <= 0) {
        if (k) scale_rect(0, M, 0, N, 0.0f, C, ldc);
        else tg__gemm_ref(ta, tb, M, N, K, A, lda, B, ldb, 0.0f, C, ldc);
        epilogue(M, N, bias, relu, C, ldc);
        return;
    }
    gemm_job j = plan_job(k, tg_threads(), false, ta, tb, M, N, K, A, lda, B, ldb, 0.0f, C, ldc);
    j.bias = bias, j.relu = relu;
    run_job(&j, tg_threads());
}

/* ---- operands packed ahead ---- */

size_t tg__gemm_a_panels_floats(int M, int K)
{
    const tg__gemm_kernel *k = tg__gemm_kernel_in_use();
    if (!k || M <= 0 || K <= 0) return 0;
    return (size_t)padded(M, k->mr) * (size_t)K;
}

/* Block pc (columns pc.. of op(A), kc of them) is padded(M) x kc floats
 * at pc padded(M): the blocks gemm_block packs, one after the other. */
void tg__gemm_pack_a(bool ta, int M, int K, const float *A, int lda, float *panels)
{
    const tg__gemm_kernel *k = tg__gemm_kernel_in_use();
    if (!k) return;
    for (int pc = 0; pc < K; pc += KC) {
        int kc = K - pc < KC ? K - pc : KC;
        pack(k, ta, A, lda, 0, M, pc, kc, k->mr, panels + (size_t)pc * (size_t)padded(M, k->mr));
    }
}

void tg__gemm_panels(const float *a_panels, const tg__gemm_b *b, int M, int N, int K, float beta, float *C, int ldc)
{
    const tg__gemm_kernel *k = tg__gemm_kernel_in_use();
    if (!k || M <= 0 || N <= 0) return;
    if (K <= 0) {
        scale_rect(0, M, 0, N, beta, C, ldc);
        return;
    }
    /* not transposed: never the dot path, whose bits differ */
    gemm_job j = plan_job(k, tg_threads(), true, false, false, M, N, K, NULL, 0, b->B, b->ldb, beta, C, ldc);
    j.a_panels = a_panels, j.b_src = b;
    run_job(&j, tg_threads());
}

bool tg__gemm_packs(bool ta, bool tb, int M, int N, int K)
{
    const tg__gemm_kernel *k = tg__gemm_kernel_in_use();
    return k && !plan_job(k, 1, false, ta, tb, M, N, K, NULL, 0, NULL, 0, 0.0f, NULL, 0).dot;
}

void tg__gemm_part_b(int i0, int i1, int j0, int j1, bool ta, bool tb, int M, int N, int K, const float *A, int lda,
                     const tg__gemm_b *b, float beta, float *C, int ldc)
{
    const tg__gemm_kernel *k = tg__gemm_kernel_in_use();
    if (!k || i0 >= i1 || j0 >= j1) return;
    if (K <= 0) {
        scale_rect(i0, i1, j0, j1, beta, C, ldc);
        return;
    }
    gemm_job j = plan_job(k, 1, false, ta, tb, M, N, K, A, lda, b->B, b->ldb, beta, C, ldc);
    if (j.dot) return; /* not a packed product: the caller asks tg__gemm_packs first */
    j.b_src = b;
    gemm_rect(&j, i0, i1, j0, j1);
}

/* ---- choosing the kernel ---- */

int tg__gemm_kernels(const tg__gemm_kernel **list, int max)
{
    int n = 0;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (n < max && tg__gemm_avx512.tile && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma"))
        list[n++] = &tg__gemm_avx512;
    if (n < max && tg__gemm_avx2.tile && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        list[n++] = &tg__gemm_avx2;
#endif
    if (n < max) list[n++] = &tg__gemm_portable;
    return n;
}

/* The fastest kernel the CPU runs, or the one $TG_GEMM names (for
 * benchmarks and tests: avx512, avx2, portable). */
static const tg__gemm_kernel *chosen;
static pthread_once_t choose_once = PTHREAD_ONCE_INIT;

static void choose(void)
{
    const tg__gemm_kernel *list[4];
    int n = tg__gemm_kernels(list, 4);
    const char *want = getenv("TG_GEMM");
    chosen = list[0];
    for (int i = 0; want && i < n; i++)
        if (!strcmp(want, list[i]->name)) chosen = list[i];
}

static bool use_reference; /* tests: every product by tg__gemm_ref */

const tg__gemm_kernel *tg__gemm_kernel_in_use(void)
{
    pthread_once(&choose_once, choose);
    return use_reference ? NULL : chosen;
}

void tg__gemm_use(const tg__gemm_kernel *k)
{
    pthread_once(&choose_once, choose);
    use_reference = !k;
    if (k) chosen = k;
}

void tg__gemm(bool ta, bool tb, int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta,
              float *C, int ldc)
{
    const tg__gemm_kernel *k = tg__gemm_kernel_in_use();
    if (k)
        tg__gemm_with(k, tg_threads(), ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
    else
        tg__gemm_ref(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
}

void tg__gemm_part(int i0, int i1, int j0, int j1, bool ta, bool tb, int M, int N, int K, const float *A, int lda,
                   const float *B, int ldb, float beta, float *C, int ldc)
{
    const tg__gemm_kernel *k = tg__gemm_kernel_in_use();
    if (i0 >= i1 || j0 >= j1) return;
    if (!k) { /* the reference on rows i0.. of op(A), columns j0.. of op(B) and C */
        tg__gemm_ref(ta, tb, i1 - i0, j1 - j0, K, A + (size_t)i0 * (ta ? 1 : (size_t)lda), lda,
                     B + (size_t)j0 * (tb ? (size_t)ldb : 1), ldb, beta, C + (size_t)i0 * ldc + j0, ldc);
        return;
    }
    if (K <= 0) {
        scale_rect(i0, i1, j0, j1, beta, C, ldc);
        return;
    }
    gemm_job j = plan_job(k, 1, false, ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
    gemm_rect(&j, i0, i1, j0, j1);
}
