/* bench.c — the kernel half of `make bench` (bench/run.sh does the rest):
 *
 *   peak    the micro-kernel in use on data that sits in L1, on one thread
 *           and on all: the most this machine's GEMM can do, measured here
 *   gemm    every product of one training step of the lecture MLP (forward,
 *           dx, dW for 784-512-512-10) at a batch size, for every kernel
 *           this CPU runs, on 1 thread and on all; OpenBLAS's sgemm too if
 *           libopenblas.so.0 is installed (dlopen, never linked)
 *   eval    classifying the 10,000 FashionMNIST test images with the
 *           lecture MLP (batches of 1,000, as bench/torch_mlp.py; the
 *           calls of tg eval: the model as --model mlp builds it), best
 *           of five
 *   step    one epoch of training (Adam, batch 16, 64, 256) timed phase by
 *           phase: gathering the batch, forward, zeroing the gradients,
 *           backward, the optimizer step: where a step's time goes
 *   conv    the CNN's (--model cnn) products for one sample, and each of
 *           its convolution layers whole (im2col, products, bias, col2im)
 *           forward and backward at batch 64: GFLOP/s and share of the peak
 *
 *   bench [--batch N] [--seconds S]     prints a table; S per measurement
 *
 * Timing is wall clock (CLOCK_MONOTONIC); each number is the best of
 * several repetitions, as a benchmark of a quiet machine should be. */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tg.h>

#include "kernels/kernels.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double seconds_each = 0.3;

/* ---- peak: the micro-kernel alone ---- */

typedef struct peak_job {
    const tg__gemm_kernel *k;
    double flops[64];
} peak_job;

enum { PEAK_KC = 256 };

static void peak_task(void *ctx, int t, int count)
{
    (void)count;
    peak_job *j = ctx;
    const tg__gemm_kernel *k = j->k;
    float *a = aligned_alloc(64, sizeof(float) * k->mr * PEAK_KC), *b = aligned_alloc(64, sizeof(float) * k->nr * PEAK_KC);
    _Alignas(64) float c[8 * 32];
    if (!a || !b) {
        free(a), free(b);
        return;
    }
    for (int i = 0; i < k->mr * PEAK_KC; i++) a[i] = 1e-3f * (float)(i % 7);
    for (int i = 0; i < k->nr * PEAK_KC; i++) b[i] = 1e-3f * (float)(i % 5);
    long calls = 0;
    double start = now();
    while (now() - start < seconds_each) {
        for (int r = 0; r < 1000; r++) k->tile(PEAK_KC, a, b, c, (size_t)k->nr, r > 0);
        calls += 1000;
    }
    j->flops[t] = 2.0 * k->mr * k->nr * PEAK_KC * calls / (now() - start);
    free(a), free(b);
}

/* GFLOP/s of kernel k on threads threads (together). */
static double peak(const tg__gemm_kernel *k, int threads)
{
    peak_job j = {k, {0}};
    tg__parallel_run(threads, peak_task, &j);
    double sum = 0;
    for (int t = 0; t < threads; t++) sum += j.flops[t];
    return sum / 1e9;
}

/* ---- GEMM at the model's shapes ---- */

typedef struct shape {
    const char *what;
    bool ta, tb;
    int M, N, K;
} shape;

typedef void sgemm_fn(int order, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                      const float *B, int ldb, float beta, float *C, int ldc);
static sgemm_fn *openblas_sgemm;
static void (*openblas_set_threads)(int);

static void load_openblas(void)
{
    void *h = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!h) return;
    *(void **)&openblas_sgemm = dlsym(h, "cblas_sgemm");
    *(void **)&openblas_set_threads = dlsym(h, "openblas_set_num_threads");
}

/* Best GFLOP/s of one product: kernel k (NULL: OpenBLAS, or with ref the
 * reference) on threads. */
static double time_gemm(const shape *s, const tg__gemm_kernel *k, bool ref, int threads)
{
    int a_rows = s->ta ? s->K : s->M, a_cols = s->ta ? s->M : s->K;
    int b_rows = s->tb ? s->N : s->K, b_cols = s->tb ? s->K : s->N;
    float *A = malloc(sizeof(float) * a_rows * a_cols), *B = malloc(sizeof(float) * b_rows * b_cols),
          *C = calloc((size_t)s->M * s->N, sizeof(float));
    if (!A || !B || !C) {
        free(A), free(B), free(C);
        return 0;
    }
    for (int i = 0; i < a_rows * a_cols; i++) A[i] = 1e-3f * (float)(i % 13);
    for (int i = 0; i < b_rows * b_cols; i++) B[i] = 1e-3f * (float)(i % 11);
    if (!k && !ref && openblas_set_threads) openblas_set_threads(threads);
    double best = 1e30, spent = 0;
    int reps = 0;
    while (spent < seconds_each || reps < 3) {
        double t0 = now();
        if (ref)
            tg__gemm_ref(s->ta, s->tb, s->M, s->N, s->K, A, a_cols, B, b_cols, 0.0f, C, s->N);
        else if (k)
            tg__gemm_with(k, threads, s->ta, s->tb, s->M, s->N, s->K, A, a_cols, B, b_cols, 0.0f, C, s->N);
        else /* CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112 */
            openblas_sgemm(101, s->ta ? 112 : 111, s->tb ? 112 : 111, s->M, s->N, s->K, 1.0f, A, a_cols, B, b_cols,
                           0.0f, C, s->N);
        double dt = now() - t0;
        best = dt < best ? dt : best;
        spent += dt;
        reps++;
        if (ref) break; /* one is slow enough */
    }
    free(A), free(B), free(C);
    return 2.0 * s->M * s->N * s->K / best / 1e9;
}

/* ---- evaluation of the test set ---- */

static double eval_ms(const tg_dataset *test, tg_module *m, float mean, float std)
{
    enum { BATCH = 1000 };
    static float x[BATCH * 784];
    static int y[BATCH], pred[BATCH];
    int *rows = malloc(sizeof(int) * test->n);
    tg_graph *g = tg_graph_new();
    if (!rows || !g) return -1;
    tg_graph_set_grad(g, false);
    for (int i = 0; i < test->n; i++) rows[i] = i;
    double best = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
        for (int start = 0; start < test->n; start += BATCH) {
            int n = test->n - start < BATCH ? test->n - start : BATCH;
            tg_dataset_batch(test, rows + start, n, mean, std, x, y);
            tg_tensor *logits = tg_module_forward(m, g, tg_from_blob(g, x, 2, (int[]){n, 784}));
            tg_tensor *loss = tg_cross_entropy(g, logits, y, &(tg_class_loss_opts){.reduction = TG_REDUCE_SUM});
            if (!loss || tg_argmax(logits, 1, pred) != TG_OK) return -1;
            tg_graph_reset(g);
        }
        double dt = now() - t0;
        best = dt < best ? dt : best;
    }
    tg_graph_free(g);
    free(rows);
    return 1000 * best;
}

/* ---- a training step, phase by phase ---- */

enum { PHASES = 5 };
static const char *const phase_names[PHASES] = {"batch", "forward", "zero_grad", "backward", "adam"};

/* Microseconds per step in each phase over one epoch at batch size b. */
static bool step_phases(const tg_dataset *train, float mean, float std, int b, double *us)
{
    tg_rng rng;
    tg_rng_seed(&rng, 0);
    tg_mlp *m = tg_mlp_new(784, (int[]){512, 512}, 2, 10, TG_ACT_RELU, 0.0f, &rng);
    tg_tensor *params[6];
    tg_optim_opts o = tg_optim_defaults(TG_OPTIM_ADAM);
    tg_optim *opt = m ? tg_optim_new(TG_OPTIM_ADAM, params, tg_mlp_params(m, params, 6), &o) : NULL;
    tg_graph *g = tg_graph_new();
    float *x = malloc(sizeof(float) * b * 784);
    int *y = malloc(sizeof(int) * b), *rows = malloc(sizeof(int) * train->n);
    bool ok = opt && g && x && y && rows;
    for (int i = 0; ok && i < train->n; i++) rows[i] = i;
    if (ok) tg_rng_shuffle(&rng, rows, train->n);
    for (int k = 0; k < PHASES; k++) us[k] = 0;
    int steps = train->n / b;
    for (int s = 0; ok && s < steps; s++) {
        double t[PHASES + 1];
        t[0] = now();
        tg_dataset_batch(train, rows + (size_t)s * b, b, mean, std, x, y);
        t[1] = now();
        tg_tensor *logits = tg_mlp_forward(g, m, tg_from_blob(g, x, 2, (int[]){b, 784}), true, &rng);
        tg_tensor *loss = tg_cross_entropy(g, logits, y, NULL);
        t[2] = now();
        tg_optim_zero_grad(opt);
        t[3] = now();
        ok = tg_backward(loss) == TG_OK;
        t[4] = now();
        ok = ok && tg_optim_step(opt) == TG_OK;
        t[5] = now();
        tg_graph_reset(g);
        for (int k = 0; k < PHASES; k++) us[k] += 1e6 * (t[k + 1] - t[k]) / steps;
    }
    tg_graph_free(g);
    tg_optim_free(opt);
    tg_mlp_free(m);
    free(x), free(y), free(rows);
    return ok;
}

/* ---- the CNN's convolution layers ---- */

typedef struct conv_layer {
    const char *what;
    int C, H, O;        /* in channels, input size (square), out channels; 3x3, padding 1 */
    bool dx;            /* the input needs its gradient (not the image) */
} conv_layer;

/* Best seconds of forward + backward of one conv2d layer (with its bias)
 * on a batch, through the public ops as a training step runs them. */
static double time_conv(const conv_layer *l, int batch)
{
    tg_rng rng;
    tg_rng_seed(&rng, 1);
    tg_tensor *x = tg_randn(NULL, &rng, TG_SHAPE(batch, l->C, l->H, l->H));
    tg_tensor *w = tg_randn(NULL, &rng, TG_SHAPE(l->O, l->C, 3, 3)), *b = tg_randn(NULL, &rng, TG_SHAPE(l->O));
    tg_tensor *dy = tg_randn(NULL, &rng, TG_SHAPE(batch, l->O, l->H, l->H)); /* the gradient coming down */
    tg_graph *g = tg_graph_new();
    if (!x || !w || !b || !dy || !g) return -1;
    tg_tensor_requires_grad(x, l->dx);
    tg_tensor_requires_grad(w, true);
    tg_tensor_requires_grad(b, true);
    double best = 1e30, spent = 0;
    for (int reps = 0; spent < seconds_each || reps < 3; reps++) {
        double t0 = now();
        tg_tensor *y = tg_conv2d(g, x, w, b, &(tg_conv2d_opts){.padding = {1, 1}});
        if (!y || tg_backward_grad(y, dy->data) != TG_OK) return -1;
        double dt = now() - t0;
        tg_graph_reset(g);
        best = dt < best ? dt : best;
        spent += dt;
    }
    tg_graph_free(g);
    tg_tensor_free(x), tg_tensor_free(w), tg_tensor_free(b), tg_tensor_free(dy);
    return best;
}

static void conv_bench(int cores, const double peak_of[2])
{
    enum { BATCH = 64 };
    const shape shapes[] = {
        {"conv1 y=w cols", false, false, 32, 784, 9},     {"conv1 dw=dy cols^T", false, true, 32, 9, 784},
        {"conv2 y=w cols", false, false, 64, 196, 288},   {"conv2 dcols=w^T dy", true, false, 288, 196, 64},
        {"conv2 dw=dy cols^T", false, true, 64, 288, 196}, {"fc1 y=xW^T", false, true, BATCH, 128, 3136},
        {"fc1 dx=dyW", false, false, BATCH, 3136, 128},   {"fc1 dW=dy^Tx", true, false, 128, 3136, BATCH},
    };
    printf("\nconv: the CNN's products, per sample for the convolutions (im2col form), at batch %d for fc1 "
           "(GFLOP/s, kernel in use)\n  %-19s %16s %9s %9s\n", BATCH, "product", "(M,N,K)", "t1", "t");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        char dims[32];
        snprintf(dims, sizeof dims, "(%d,%d,%d)", shapes[i].M, shapes[i].N, shapes[i].K);
        printf("  %-19s %16s %9.1f %9.1f\n", shapes[i].what, dims,
               time_gemm(&shapes[i], tg__gemm_kernel_in_use(), false, 1),
               time_gemm(&shapes[i], tg__gemm_kernel_in_use(), false, cores));
    }
    const conv_layer layers[] = {{"conv2d(32,3,padding=1)", 1, 28, 32, false}, {"conv2d(64,3,padding=1)", 32, 14, 64, true}};
    printf("\nconv layers whole, forward + backward at batch %d (GFLOP/s of their products; share of the peak)\n",
           BATCH);
    double total_flops = 0, total_s[2] = {0};
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++) {
        const conv_layer *l = &layers[i];
        double flops = 2.0 * BATCH * l->O * l->H * l->H * l->C * 9 * (l->dx ? 3 : 2);
        total_flops += flops;
        printf("  %-24s", l->what);
        for (int t = 0; t < 2; t++) {
            tg_set_threads(t ? cores : 1);
            double s = time_conv(l, BATCH), g = flops / s / 1e9;
            total_s[t] += s;
            printf("  t%d %7.1f (%4.1f%%)", t ? cores : 1, g, 100 * g / peak_of[t]);
        }
        printf("\n");
    }
    printf("  %-24s", "both, as in a step");
    for (int t = 0; t < 2; t++) {
        double g = total_flops / total_s[t] / 1e9;
        printf("  t%d %7.1f (%4.1f%%)", t ? cores : 1, g, 100 * g / peak_of[t]);
    }
    printf("\nCONV_SHARE %.1f\n", 100 * total_flops / total_s[1] / 1e9 / peak_of[1]);
    tg_set_threads(cores);
}

int main(int argc, char **argv)
{
    int batch = 64;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--batch")) batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds")) seconds_each = atof(argv[i + 1]);
    }
    if (batch < 1 || seconds_each <= 0) {
        fprintf(stderr, "usage: bench [--batch N] [--seconds S]\n");
        return 2;
    }
    int cores = tg_threads();
    const tg__gemm_kernel *kernels[4];
    int n_kernels = tg__gemm_kernels(kernels, 4);
    load_openblas();

    printf("peak: the micro-kernel on L1-resident panels (GFLOP/s)\n");
    printf("  %-10s %10s %10s\n", "kernel", "1 thread", "threads");
    double machine_peak = 0, peak_of[2] = {0}; /* the kernel in use on 1 thread, and on all */
    for (int k = 0; k < n_kernels; k++) {
        double one = peak(kernels[k], 1), all = peak(kernels[k], cores);
        if (k == 0) machine_peak = all;
        if (kernels[k] == tg__gemm_kernel_in_use()) peak_of[0] = one, peak_of[1] = all;
        printf("  %-10s %10.1f %10.1f   (%d threads, %dx%d tile)\n", kernels[k]->name, one, all, cores, kernels[k]->mr,
               kernels[k]->nr);
    }
    printf("PEAK %.1f\n\n", machine_peak);

    const shape shapes[] = {
        {"fc1 y=xW^T", false, true, batch, 512, 784}, {"fc2 y=xW^T", false, true, batch, 512, 512},
        {"fc3 y=xW^T", false, true, batch, 10, 512},  {"fc2 dx=dyW", false, false, batch, 512, 512},
        {"fc3 dx=dyW", false, false, batch, 512, 10}, {"fc1 dW=dy^Tx", true, false, 512, 784, batch},
        {"fc2 dW=dy^Tx", true, false, 512, 512, batch}, {"fc3 dW=dy^Tx", true, false, 10, 512, batch},
    };
    int n_shapes = (int)(sizeof shapes / sizeof shapes[0]);
    printf("gemm: one training step's products at batch %d (GFLOP/s; t = threads)\n  %-13s %16s", batch, "product",
           "(M,N,K)");
    for (int k = 0; k < n_kernels; k++) printf(" %9s t1 %9s t%d", kernels[k]->name, kernels[k]->name, cores);
    if (openblas_sgemm) printf("  openblas t1  openblas t%d", cores);
    printf("\n");
    double step_flops = 0, step_time[8][2] = {{0}};
    for (int i = 0; i < n_shapes; i++) {
        const shape *s = &shapes[i];
        char dims[32];
        snprintf(dims, sizeof dims, "(%d,%d,%d)", s->M, s->N, s->K);
        printf("  %-13s %16s", s->what, dims);
        double flops = 2.0 * s->M * s->N * s->K;
        step_flops += flops;
        for (int k = 0; k < n_kernels; k++)
            for (int t = 0; t < 2; t++) {
                double g = time_gemm(s, kernels[k], false, t ? cores : 1);
                step_time[k][t] += flops / (g * 1e9);
                printf(" %12.1f", g);
            }
        if (openblas_sgemm) printf(" %12.1f %12.1f", time_gemm(s, NULL, false, 1), time_gemm(s, NULL, false, cores));
        printf("\n");
    }
    printf("  %-30s", "all eight, as one step");
    for (int k = 0; k < n_kernels; k++) printf(" %12.1f %12.1f", step_flops / step_time[k][0] / 1e9, step_flops / step_time[k][1] / 1e9);
    printf("\n  reference (triple loop, double sums) at fc2 y=xW^T: %.2f GFLOP/s\n\n",
           time_gemm(&shapes[1], NULL, true, 1));

    tg_dataset test;
    if (tg_dataset_load("/usr/share/datasets/fashion-mnist", false, &test) != TG_OK) {
        fprintf(stderr, "bench: %s\n", tg_last_error());
        return 1;
    }
    float mean, std;
    tg_dataset_stats(&test, &mean, &std);
    tg_rng rng;
    tg_rng_seed(&rng, 0);
    /* --model mlp as tg train and tg eval build it (a Sequential: each
     * Linear + ReLU one op, the ReLU in the product's epilogue) */
    tg_module *m = tg_model_parse("flatten linear(512) relu linear(512) relu linear(10)", (tg_sample_shape){1, 28, 28},
                                  &rng);
    if (!m) {
        fprintf(stderr, "bench: %s\n", tg_last_error());
        return 1;
    }
    tg_module_train(m, false);
    printf("eval: the 10,000 test images, batches of 1,000 (ms, best of 5)\n");
    for (int t = 0; t < 2; t++) {
        tg_set_threads(t ? cores : 1);
        printf("  %d thread%s %8.1f ms\n", t ? cores : 1, t ? "s" : " ", eval_ms(&test, m, mean, std));
    }
    tg_set_threads(cores);
    printf("EVAL_MS %.1f\n", eval_ms(&test, m, mean, std));
    tg_module_free(m);
    tg_dataset_free(&test);

    tg_dataset train;
    if (tg_dataset_load("/usr/share/datasets/fashion-mnist", true, &train) != TG_OK) {
        fprintf(stderr, "bench: %s\n", tg_last_error());
        return 1;
    }
    tg_dataset_stats(&train, &mean, &std);
    printf("\nstep: one epoch of Adam, microseconds per step in each phase\n  %5s %7s", "batch", "threads");
    for (int k = 0; k < PHASES; k++) printf(" %10s", phase_names[k]);
    printf(" %10s %10s\n", "total", "samples/s");
    for (int b = 16; b <= 256; b *= 4)
        for (int t = 0; t < 2; t++) {
            double us[PHASES], total = 0;
            tg_set_threads(t ? cores : 1);
            if (!step_phases(&train, mean, std, b, us)) {
                fprintf(stderr, "bench: %s\n", tg_last_error());
                return 1;
            }
            printf("  %5d %7d", b, t ? cores : 1);
            for (int k = 0; k < PHASES; k++) printf(" %10.1f", us[k]), total += us[k];
            printf(" %10.1f %10.0f\n", total, b / total * 1e6);
        }
    tg_set_threads(cores);
    tg_dataset_free(&train);
    conv_bench(cores, peak_of);
    return 0;
}
