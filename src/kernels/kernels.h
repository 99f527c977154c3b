/* kernels.h — plain float loops on pointers. Every hot loop of tg lives
 * behind these functions; the rest of the library never loops over a whole
 * tensor in a hot path by itself. Each kernel that has a fast path also has a reference
 * version that is obviously right, and the tests compare the two.
 * Gradient buffers carry a d prefix (dx, dy) and are always accumulated (+=). */
#ifndef TG_KERNELS_H
#define TG_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg.h"

/* Loops that gain from wider vectors are compiled three times — for
 * AVX-512, AVX2 and plain x86-64 — and the dynamic loader picks the one the
 * CPU runs (GNU ifunc). Each copy does the same operations in the same
 * order (the kernels are built with -ffp-contract=off), so the results are
 * the same bits on every CPU. */
#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(TG_NO_CLONES)
#define TG__CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define TG__CLONES
#endif

/* A helper the compiler must inline: a loop's copies with a constant flag
 * (optim.c), a micro-kernel's steps whose registers must not be spilled
 * (gemm_avx512.c). */
#if defined(__GNUC__)
#define ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE static inline
#endif

/* ---- GEMM (gemm.c) ----
 * C = op(A) op(B) + beta C, where op(A) is A (M,K) or, with ta, A^T for A
 * stored (K,M); op(B) is B (K,N) or, with tb, B^T for B stored (N,K).
 * Row-major, leading dimensions lda, ldb, ldc. beta is 0 (overwrite) or 1
 * (accumulate, for gradients). The three cases Linear needs:
 *   y  = x W^T   gemm(false, true)
 *   dx = dy W    gemm(false, false)
 *   dW = dy^T x  gemm(true, false)                                        */
void tg__gemm(bool ta, bool tb, int M, int N, int K, const float *A, int lda, const float *B,
              int ldb, float beta, float *C, int ldc);
/* C = op(A) op(B) (beta 0), then C[i, j] += bias[j] (bias NULL: none)
 * and, with relu, C = C < 0 ? 0 : C, each tile as its sum completes,
 * while it is in cache: the bits of tg__gemm, tg__k_add_bias and tg_relu's
 * forward one after the other (Linear's bias and a ReLU after it). */
void tg__gemm_bias_act(bool ta, bool tb, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                       const float *bias, bool relu, float *C, int ldc);
/* Rows [i0, i1) and columns [j0, j1) of tg__gemm's C, on the calling
 * thread, the same bits as tg__gemm gives them: for callers that split
 * one product among their own tasks (each element of C then written by
 * one task). Only the part of op(B) (and op(A)) it needs is packed. */
void tg__gemm_part(int i0, int i1, int j0, int j1, bool ta, bool tb, int M, int N, int K, const float *A, int lda,
                   const float *B, int ldb, float beta, float *C, int ldc);
/* The depth of GEMM's blocks: a packer is never asked for more rows of
 * op(B) at once. */
enum { TG__GEMM_KC = 256 };
/* The same products with operands packed ahead, for a convolution, which
 * multiplies one set of weights by every sample's patches: op(A) packed
 * once for all of them (a transpose a sample saved), and op(B) packed by
 * the caller straight from the input (implicit GEMM: the patches never
 * written out). The same blocks and micro-kernel: tg__gemm's bits.
 * tg__gemm_a_panels_floats(M, K): the floats op(A)'s panels take, 0 when
 * tg__gemm packs nothing (the reference in use): then call tg__gemm. */
size_t tg__gemm_a_panels_floats(int M, int K);
/* panels = op(A) (M, K) packed for the kernel in use (tg__gemm_use, for
 * tests, must not switch kernels between packing and use). */
void tg__gemm_pack_a(bool ta, int M, int K, const float *A, int lda, float *panels);
/* op(B) (K, N), not transposed: B with leading dimension ldb, or, when
 * pack is set, what pack(ctx, j0, n, p0, kc, width, dst) writes: columns
 * [j0, j0 + n) and rows [p0, p0 + kc) of op(B) as panels of width
 * columns, panel q at dst + q width kc holding for each row its width
 * consecutive columns (zero past n), as gemm.c packs B itself. */
typedef struct tg__gemm_b {
    const float *B;
    int ldb;
    void (*pack)(const void *ctx, int j0, int n, int p0, int kc, int width, float *dst);
    const void *ctx;
    /* Optional, for a kernel with tile_rows (the others pack): op(B)
     * read in place. For each of its K rows p, where its column 0 lies,
     * at[p] bytes from origin, and the mask it is read under, which[p] <
     * TG__GEMM_MASKS; masks, once a tile of columns [j0, j0 + n) (n at
     * most the kernel's nr): those masks, bit q for column j0 + q, clear
     * past n. The values read must be pack's. */
    const float *origin;
    const ptrdiff_t *at;
    const uint8_t *which;
    void (*masks)(const void *ctx, int j0, int n, uint32_t *mask);
} tg__gemm_b;
/* C = (A's panels) op(B) + beta C, on tg_threads() threads (serially
 * inside a task), the bits tg__gemm(ta, false, ...) gives. */
void tg__gemm_panels(const float *a_panels, const tg__gemm_b *b, int M, int N, int K, float beta, float *C, int ldc);
/* Whether tg__gemm packs both operands of this product (the kernel in
 * use, not the dot-product path): then op(B) may come from a packer. */
bool tg__gemm_packs(bool ta, bool tb, int M, int N, int K);
/* tg__gemm_part with op(B) from b, where tg__gemm_packs(ta, tb, ...):
 * tg__gemm_part's bits when b gives op(B)'s values. */
void tg__gemm_part_b(int i0, int i1, int j0, int j1, bool ta, bool tb, int M, int N, int K, const float *A, int lda,
                     const tg__gemm_b *b, float beta, float *C, int ldc);
/* Triple loop, double accumulator: the definition. */
void tg__gemm_ref(bool ta, bool tb, int M, int N, int K, const float *A, int lda, const float *B,
                  int ldb, float beta, float *C, int ldc);

/* A tile's op(B) read in place: row p of the tile's columns starts at
 * origin + at[p] bytes, and its lane q is read where bit q of
 * mask[which[p]] is set, 0 elsewhere (the address of a lane not read may
 * lie outside any object). */
enum { TG__GEMM_MASKS = 256 };
typedef struct tg__b_rows {
    const float *origin;
    const ptrdiff_t *at;
    const uint8_t *which;
    const uint32_t *mask;
} tg__b_rows;

/* A micro-kernel: c (mr x nr, row stride ldc) = [c +] a b, for a packed as
 * kc columns of mr floats and b as kc rows of nr floats (64-byte aligned). */
typedef struct tg__gemm_kernel {
    const char *name;
    int mr, nr;   /* 0 when not built for this target */
    void (*tile)(int kc, const float *restrict a, const float *restrict b, float *restrict c, size_t ldc,
                 bool accumulate);
    /* Packs a transposed operand: dst[p width + r] = src[r ld + p] for
     * r < rows <= width, p < kc. NULL: gemm.c's loop in plain C. */
    void (*transpose)(const float *src, int ld, int rows, int kc, int width, float *restrict dst);
    /* Optional, for C = A B^T with both read as stored (no packing): the
     * dot_mr x dot_nr tile (or its m x n corner) of C at c, rows of A at a,
     * rows of B at b, all K long. NULL: every product is packed. */
    int dot_mr, dot_nr;
    void (*dot)(int K, const float *a, int lda, const float *b, int ldb, float *c, int ldc, int m, int n,
                bool accumulate);
    /* Optional: tile's arithmetic with op(B)'s kc rows read in place, not
     * packed (tg__b_rows). NULL: B is always packed. */
    void (*tile_rows)(int kc, const float *restrict a, const struct tg__b_rows *b, float *restrict c, size_t ldc,
                      bool accumulate);
} tg__gemm_kernel;
extern const tg__gemm_kernel tg__gemm_avx512, tg__gemm_avx2, tg__gemm_portable;
/* The kernels this CPU runs, fastest first, into list; returns how many. */
int tg__gemm_kernels(const tg__gemm_kernel **list, int max);
/* What tg__gemm uses: the fastest, or the one $TG_GEMM names; NULL after
 * tg__gemm_use(NULL). */
const tg__gemm_kernel *tg__gemm_kernel_in_use(void);
/* For tests: makes tg__gemm use k from now on, or tg__gemm_ref if NULL. */
void tg__gemm_use(const tg__gemm_kernel *k);
/* tg__gemm with a given kernel, on up to threads threads. */
void tg__gemm_with(const tg__gemm_kernel *k, int threads, bool ta, bool tb, int M, int N, int K, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* ---- threads (parallel.c) ----
 * Runs fn(ctx, i, count) for every i in [0, count) on the caller and a
 * persistent pool, each task once, whichever thread claims it (a task's
 * result must not depend on the thread: scratch is indexed by task), and
 * returns when all are done. count may exceed tg_threads(): at most
 * tg_threads() threads then claim the tasks in turn. Nested calls, and
 * calls while another thread's job runs, run serially on the caller. */
typedef void tg__task(void *ctx, int index, int count);
void tg__parallel_run(int count, tg__task *fn, void *ctx);
/* The calling thread's scratch of at least floats floats (64-byte
 * aligned), kept for the thread's life and freed when it ends; NULL when
 * memory is short. Workers allocate TG__SCRATCH_FLOATS before their first
 * task, and a caller when it first runs a job over them, so a warm
 * training step allocates nothing whichever thread happens to claim its
 * first GEMM task late (GEMM's packing buffers, 1.2 MB). */
enum { TG__SCRATCH_FLOATS = 305152 };
float *tg__thread_scratch(size_t floats);

/* run(n, bufs, args) over n elements, cut into one fixed slice per thread
 * when n >= TG__SLICE_MIN: each slice gets bufs[k] + its offset (NULL
 * stays NULL). For elementwise work, whose result is then the same bits
 * whatever the number of threads. bufs has TG__MAX_SLICE_BUFS entries. */
enum { TG__MAX_SLICE_BUFS = 5, TG__SLICE_MIN = 1 << 15 };
typedef void tg__slice_fn(size_t n, float *const *bufs, const void *args);
void tg__run_sliced(tg__slice_fn *run, size_t n, float *const *bufs, const void *args);

/* ---- elementwise (elementwise.c) ---- */
/* The binary ops tg__k_binary runs: arithmetic, torch.maximum/minimum (NaN
 * propagates), and comparisons giving 1 or 0 (which have no backward). */
typedef enum tg__binop {
    TG__ADD, TG__SUB, TG__MUL, TG__DIV, TG__MAX, TG__MIN,
    TG__EQ, TG__NE, TG__LT, TG__LE, TG__GT, TG__GE
} tg__binop;

/* How two (or three, for where) broadcast operands map onto a contiguous
 * output, padded to four dimensions: element (i0,i1,i2,i3) of y reads
 * a[sum i_k sa[k]], b[sum i_k sb[k]] and c[sum i_k sc[k]]; a stride is 0
 * along a dimension the operand repeats. */
typedef struct tg__bcast {
    size_t shape[4];
    size_t sa[4], sb[4], sc[4];
    bool same;      /* every operand and y have one shape: a flat loop */
} tg__bcast;

/* y = a op b. */
void tg__k_binary(tg__binop op, const tg__bcast *bc, const float *a, const float *b, float *y);
/* da += dy d(a op b)/da, db += dy d(a op b)/db, summed over repeated
 * elements; da or db NULL to skip. Not for the comparisons. */
void tg__k_binary_backward(tg__binop op, const tg__bcast *bc, const float *a, const float *b,
                           const float *dy, float *da, float *db);
/* torch.where: y = cond ? a : b, cond a 0/1 mask read through sc. */
void tg__k_where(const tg__bcast *bc, const unsigned char *cond, const float *a, const float *b, float *y);
/* da += dy where cond, db += dy elsewhere, summed over repeated elements;
 * da or db NULL to skip. */
void tg__k_where_backward(const tg__bcast *bc, const unsigned char *cond, const float *dy, float *da, float *db);

/* dx += dy */
void tg__k_acc(size_t n, const float *dy, float *dx);
/* y (cols,rows) = x (rows,cols)^T, or y += x^T when accumulate. */
void tg__k_transpose(size_t rows, size_t cols, const float *x, float *y, bool accumulate);
/* y[r,c] += b[c] for a (rows,cols) y, and its gradient db[c] += sum_r dy[r,c]. */
void tg__k_add_bias(size_t rows, size_t cols, const float *b, float *y);
void tg__k_bias_backward(size_t rows, size_t cols, const float *dy, float *db);
/* dst = src * scale + shift (two roundings), for 8-bit pixels. */
void tg__k_bytes_to_floats(size_t n, const unsigned char *src, float scale, float shift, float *dst);
/* y += a * b, elementwise. */
void tg__k_mul_acc(size_t n, const float *a, const float *b, float *y);
/* mask[i] = 0 with probability p, else 1/(1-p) (all 0 when p = 1);
 * y = x * mask. */
void tg__k_dropout(size_t n, const float *x, float p, tg_rng *rng, float *mask, float *y);

/* ---- copies through strides and indices (index.c) ----
 * shape is the contiguous side's, padded to 4 dimensions (leading 1s);
 * element (i0,i1,i2,i3) of it sits at sum i_k stride[k] on the strided
 * side. */
/* y[i] = x[at(i)], or y[i] += x[at(i)] when accumulate. */
void tg__k_strided_gather(const size_t shape[4], const size_t stride[4], const float *x, float *y, bool accumulate);
/* x[at(i)] = y[i], or x[at(i)] += y[i]: at must not repeat (a permutation,
 * a slice, a part of a concatenation). */
void tg__k_strided_scatter(const size_t shape[4], const size_t stride[4], const float *y, float *x, bool accumulate);
/* torch.gather: as tg__k_strided_gather, but along dimension axis the
 * position is idx[i] (idx holds one int per element of y). */
void tg__k_gather(const size_t shape[4], const size_t stride[4], int axis, const int *idx, const float *x, float *y);
/* Its backward: dx[at(i)] += dy[i], in the order of i (deterministic where
 * indices repeat). */
void tg__k_gather_backward(const size_t shape[4], const size_t stride[4], int axis, const int *idx,
                           const float *dy, float *dx);
/* torch.index_select along the middle of (outer, n, inner): y (outer, m,
 * inner)[o, j, i] = x[o, idx[j], i]. */
void tg__k_index_select(size_t outer, size_t n, size_t inner, size_t m, const int *idx, const float *x, float *y);
/* Its backward (index_add): dx[o, idx[j], i] += dy[o, j, i] for j in order,
 * skipping the j with idx[j] == skip (-1: none; embedding's padding_idx). */
void tg__k_index_add(size_t outer, size_t n, size_t inner, size_t m, const int *idx, int skip, const float *dy,
                     float *dx);

/* ---- normalisation (norm.c) ----
 * x seen as (A, G, B): group g is the A * B elements x[a, g, b], one
 * channel of batch norm (A = N, G = C, B = L or H W) or one row of layer
 * norm (A = 1, G = rows, B = the normalised size). The affine weight and
 * bias are indexed by g (per_group, batch norm) or by b (layer norm); NULL
 * weight is 1, NULL bias 0. */
/* mean[g] and rstd[g] = 1 / sqrt(var_g + eps), var the biased variance,
 * in double (two passes). With running_mean / running_var (NULL to skip)
 * also torch's update running = (1 - momentum) running + momentum stat,
 * with the unbiased variance var n / (n - 1) for running_var. */
void tg__k_norm_stats(size_t A, size_t G, size_t B, const float *x, double eps, float *mean, float *rstd,
                      double momentum, float *running_mean, float *running_var);
/* y = (x - mean[g]) rstd[g] w + bias. */
void tg__k_norm_forward(size_t A, size_t G, size_t B, bool per_group, const float *x, const float *mean,
                        const float *rstd, const float *w, const float *bias, float *y);
/* Gradients of tg__k_norm_forward given dy, xhat = (x - mean) rstd and
 * dxhat = dy w. With batch_stats (mean and rstd computed from x itself):
 *   dx += rstd (dxhat - mean_g(dxhat) - xhat mean_g(dxhat xhat)),
 * without (given statistics, batch norm's eval mode): dx += rstd dxhat.
 * dw += sum dy xhat, db += sum dy over everything but the affine index.
 * dx, dw, db NULL to skip; sums in double. */
void tg__k_norm_backward(size_t A, size_t G, size_t B, bool per_group, bool batch_stats, const float *x,
                         const float *mean, const float *rstd, const float *w, const float *dy, float *dx,
                         float *dw, float *db);

/* ---- convolution and pooling (conv.c) ----
 * One sample's planes: x (C, H, W) -> outputs (OH, OW), row-major. */
typedef struct tg__conv_geom {
    int C, H, W;              /* one group's input channels, and the input's size */
    int kh, kw, sh, sw, dh, dw;
    int pt, pl;               /* padding before the first row and column (top, left) */
    int OH, OW;
} tg__conv_geom;
/* cols (C kh kw, OH OW): row (c kh + i) kw + j, column oh OW + ow holds
 * x[c, oh sh - pt + i dh, ow sw - pl + j dw], 0 in the padding. */
void tg__k_im2col(const tg__conv_geom *gm, const float *x, float *cols);
/* Its adjoint: dx[the element under each entry of cols] += that entry.
 * cols is scratch: the entries that fall in the padding may be zeroed. */
void tg__k_col2im(const tg__conv_geom *gm, float *cols, float *dx);

/* Implicit GEMM: tg__gemm_b's pack for cols = im2col(x), packing a
 * panel's rows straight from x (ctx a tg__cols_src). Only where
 * tg__k_cols_packable(gm): stride 1 with the output as wide as the input,
 * on a CPU with AVX-512, for the GEMM kernel in use; gives im2col's
 * values, so the product's bits. */
typedef struct tg__cols_src {
    const tg__conv_geom *gm;
    const float *x;           /* one sample and group: (C, H, W) */
} tg__cols_src;
bool tg__k_cols_packable(const tg__conv_geom *gm);
void tg__k_pack_cols(const void *ctx, int j0, int n, int p0, int kc, int width, float *dst);
/* tg__gemm_b's at and which (C kh kw of each) and masks for the same
 * cols (origin x): the kernel reads them from x. at and which depend on
 * the geometry alone: a convolution fills them once for all its samples. */
typedef struct tg__cols_taps {
    ptrdiff_t *at;
    uint8_t *which;
} tg__cols_taps;
void tg__k_cols_taps(const tg__conv_geom *gm, ptrdiff_t *at, uint8_t *which);
void tg__k_cols_masks(const void *ctx, int j0, int n, uint32_t *mask);
/* The same for op(B) = cols^T (positions, taps), the weight gradient's
 * dw += dy cols^T: where tg__k_cols_packable and tg__gemm_packs. */
void tg__k_pack_cols_t(const void *ctx, int j0, int n, int p0, int kc, int width, float *dst);

/* y[n, c, q] += b[c] over (N, C, P). */
void tg__k_add_channel_bias(size_t N, size_t C, size_t P, const float *b, float *y);
/* The fused ReLU of a convolution (ops/conv.c), on one sample's (C, P)
 * while it is in cache: y = max(0, y + b[c]) (b NULL: no bias), as the
 * add and then tg_relu would give; and the gradient before the ReLU,
 * dz = 0 + (y > 0 ? dy : 0), as tg_relu's backward gives it into a zeroed
 * gradient (so -0 becomes +0 as there). */
void tg__k_channel_bias_relu(size_t C, size_t P, const float *b, float *y);
void tg__k_relu_mask(size_t n, const float *y, const float *dy, float *dz);
/* The sum, in double, of channel c of x (N, C, P) over n and q (the
 * convolution's bias gradient), in a fixed order: norm.c's group sum. */
double tg__k_channel_sum(size_t N, size_t C, size_t P, size_t c, const float *x);

/* A pooling window of kh x kw moved by sh, sw over a plane (H, W) padded
 * by ph, pw on each side, giving (OH, OW). */
typedef struct tg__pool_geom {
    int H, W, kh, kw, sh, sw, ph, pw, OH, OW;
} tg__pool_geom;
/* torch's output size along one dimension (floor or ceil_mode), 0 or less
 * when no window fits. */
int tg__k_pool_out_size(int in, int kernel, int pad, int stride, bool ceil_mode);
/* y = max over each window of each of the planes, idx its position in the
 * plane (the first maximum; NaN wins); backward dx[idx] += dy. Without
 * want_idx (no backward will run) idx is scratch, left unspecified. */
void tg__k_max_pool2d(const tg__pool_geom *gm, size_t planes, const float *x, float *y, int *idx, bool want_idx);
void tg__k_max_pool2d_backward(const tg__pool_geom *gm, size_t planes, const int *idx, const float *dy, float *dx);
/* y = window sum / divisor: the window's size clipped to the padded input
 * (count_include_pad) or to the input; and dx += dy / divisor over it. */
void tg__k_avg_pool2d(const tg__pool_geom *gm, size_t planes, bool count_include_pad, const float *x, float *y);
void tg__k_avg_pool2d_backward(const tg__pool_geom *gm, size_t planes, bool count_include_pad, const float *dy,
                               float *dx);
/* Adaptive average pooling of planes (H, W) to (OH, OW), and its backward. */
void tg__k_adaptive_avg_pool2d(size_t planes, int H, int W, int OH, int OW, const float *x, float *y);
void tg__k_adaptive_avg_pool2d_backward(size_t planes, int H, int W, int OH, int OW, const float *dy, float *dx);

/* ---- reductions (reduce.c) ----
 * Axis kernels see a tensor as (outer, n, inner) around the reduced axis. */
double tg__k_sum(size_t n, const float *x);
double tg__k_sum_sq(size_t n, const float *x);
/* y (outer,inner) = sum over n, accumulated in double. */
void tg__k_sum_axis(size_t outer, size_t n, size_t inner, const float *x, float *y);
/* dx (outer,n,inner) += scale dy (outer,inner), repeated along n. */
void tg__k_spread_axis(size_t outer, size_t n, size_t inner, const float *dy, float scale, float *dx);
/* y = max over n, idx = position of the first maximum (NaN wins, as torch);
 * y or idx may be NULL. */
void tg__k_max_axis(size_t outer, size_t n, size_t inner, const float *x, float *y, int *idx);
/* dx[o, idx[o,i], i] += dy[o,i]: the gradient of max goes to the maximum. */
void tg__k_max_axis_backward(size_t outer, size_t n, size_t inner, const int *idx, const float *dy,
                             float *dx);
/* y = softmax (or log_softmax with log) over n, with the max subtracted. */
void tg__k_softmax(size_t outer, size_t n, size_t inner, const float *x, float *y, bool log);
/* dx += softmax backward given its output y:
 *   softmax:     dx = y (dy - sum(dy y))
 *   log_softmax: dx = dy - e^y sum(dy)                                       */
void tg__k_softmax_backward(size_t outer, size_t n, size_t inner, const float *y, const float *dy,
                            float *dx, bool log);
/* For the rows of x (rows,cols): max[r] = max_c x[r,c] and
 * log_sum[r] = log sum_c e^(x[r,c] - max[r]), so that
 * log softmax = (x - max) - log_sum keeps its digits for huge logits. */
void tg__k_logsumexp_rows(size_t rows, size_t cols, const float *x, float *max, float *log_sum);

/* ---- optimizer updates (optim.c): one parameter of n elements, p updated
 * in place from its gradient g and state buffers. Scalars are torch's
 * Python scalars rounded to float, precomputed by src/optim/builtin.c. ---- */
typedef struct tg__sgd_args {
    float neg_lr, weight_decay, momentum, one_minus_dampening;
    bool nesterov, maximize, first;   /* first: the momentum buffer starts as d */
} tg__sgd_args;
/* buf NULL when momentum is 0. */
void tg__k_sgd(size_t n, float *p, const float *g, float *buf, const tg__sgd_args *a);

typedef struct tg__adagrad_args {
    float neg_clr, weight_decay, eps;
    bool maximize;
} tg__adagrad_args;
void tg__k_adagrad(size_t n, float *p, const float *g, float *sum, const tg__adagrad_args *a);

typedef struct tg__rmsprop_args {
    float neg_lr, weight_decay, alpha, one_minus_alpha, eps, momentum;
    bool maximize;
} tg__rmsprop_args;
/* grad_avg NULL unless centered, buf NULL unless momentum > 0. */
void tg__k_rmsprop(size_t n, float *p, const float *g, float *square_avg, float *grad_avg, float *buf,
                   const tg__rmsprop_args *a);

typedef struct tg__adam_args {
    float neg_step_size, bc2_sqrt, beta1, one_minus_beta1, beta2, one_minus_beta2, eps;
    float weight_decay;   /* coupled (Adam); 0 for AdamW */
    float decay_factor;   /* 1 - lr wd for AdamW, 1 for Adam */
    bool maximize;
} tg__adam_args;
/* vmax NULL unless amsgrad. */
void tg__k_adam(size_t n, float *p, const float *g, float *m, float *v, float *vmax, const tg__adam_args *a);

typedef struct tg__nadam_args {
    float coef_grad, coef_avg, bc2, beta1, one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay;
    bool maximize;
} tg__nadam_args;
void tg__k_nadam(size_t n, float *p, const float *g, float *m, float *v, const tg__nadam_args *a);

typedef struct tg__radam_args {
    float lr, bc1, bc2_sqrt, rect, beta1, one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay;
    bool rectified, maximize;
} tg__radam_args;
void tg__k_radam(size_t n, float *p, const float *g, float *m, float *v, const tg__radam_args *a);

typedef struct tg__lion_args {
    float neg_lr, decay_factor, beta1, one_minus_beta1, beta2, one_minus_beta2;
    bool maximize;
} tg__lion_args;
void tg__k_lion(size_t n, float *p, const float *g, float *m, const tg__lion_args *a);

/* x = 0, on every thread when x is large (zeroing gradients) */
void tg__k_zero(size_t n, float *x);
/* x *= s; x = clamp(x, lo, hi) */
void tg__k_scale(size_t n, float *x, float s);
void tg__k_clamp(size_t n, float *x, float lo, float hi);
/* Flat-vector helpers for LBFGS: dot product and sums in double. */
double tg__k_dot(size_t n, const float *a, const float *b);
void tg__k_axpy(size_t n, float alpha, const float *x, float *y);   /* y += alpha x */
double tg__k_abs_max(size_t n, const float *x);
double tg__k_abs_sum(size_t n, const float *x);

#endif /* TG_KERNELS_H */
