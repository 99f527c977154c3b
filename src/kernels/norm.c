/* norm.c — batch norm and layer norm, one set of loops for both: x seen
 * as (A, G, B), statistics per group g over its A * B elements. Sums in
 * double; every loop in a fixed order (the same bits for any number of
 * threads). Formulas: torch.nn.functional.batch_norm / layer_norm, their
 * backward as in aten/src/ATen/native/Normalization.cpp and
 * layer_norm_kernel.cpp:
 *   xhat = (x - mean) rstd,  y = xhat w + b,
 *   dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)),  dxhat = dy w. */
#include <math.h>

#include "kernels.h"

#define AT(a, g, b) (((a) * G + (g)) * B + (b))

/* ---- sums over a group ----
 * Group g's elements are A runs of B contiguous floats. Every sum keeps
 * LANES running sums in double, lane l taking the elements b = l mod
 * LANES of each run in turn, added in a fixed tree at the end: a vector
 * of independent adds instead of one chain (a chain adds one element a
 * nanosecond; BatchNorm2d in the CNN sums 2.4 million per step). */
enum { LANES = 8 };

static double fold(const double acc[LANES])
{
    return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
}

/* The whole-vector part of a run of B: [0, B - B mod LANES). */
#define VEC_END(B) ((B) - (B) % LANES)

typedef struct norm_job {
    size_t A, G, B;
    bool per_group, batch_stats;
    const float *x, *dy, *w, *bias, *mean, *rstd;
    float *mean_out, *rstd_out;    /* the statistics, written by stats_task */
    float *y, *dx, *dw, *db, *running_mean, *running_var;
    double eps, momentum;
} norm_job;

/* Groups [g0, g1) of task t: each group's statistics, output and
 * gradient are one task's, so the bits do not depend on the split. */
static void group_range(const norm_job *j, int t, int count, size_t *g0, size_t *g1)
{
    *g0 = j->G * (size_t)t / (size_t)count, *g1 = j->G * (size_t)(t + 1) / (size_t)count;
}

/* Runs task over groups on up to every thread, when there is enough work. */
static void run_groups(tg__task *task, norm_job *j)
{
    size_t n = j->A * j->G * j->B;
    int tasks = n < TG__SLICE_MIN ? 1 : (size_t)tg_threads() < j->G ? tg_threads() : (int)j->G;
    tg__parallel_run(tasks, task, j);
}

/* The sum of group g's elements, in LANES lanes (inlined into each
 * caller's clones, where it vectorises). */
static inline double group_sum(size_t A, size_t G, size_t B, size_t g, const float *x)
{
    double acc[LANES] = {0};
    for (size_t a = 0; a < A; a++) {
        const float *row = x + AT(a, g, 0);
        size_t b = 0;
        for (; b < VEC_END(B); b += LANES)
            for (int l = 0; l < LANES; l++) acc[l] += row[b + l];
        for (; b < B; b++) acc[b % LANES] += row[b];
    }
    return fold(acc);
}

/* A convolution's bias gradient: channel c of (N, C, P) is group c. The
 * clones are static, the entry point plain: clang resolves an extern
 * target_clones function only within its own file. */
TG__CLONES static double channel_sum(size_t N, size_t C, size_t P, size_t c, const float *x)
{
    return group_sum(N, C, P, c, x);
}

double tg__k_channel_sum(size_t N, size_t C, size_t P, size_t c, const float *x)
{
    return channel_sum(N, C, P, c, x);
}

TG__CLONES static void stats_task(void *ctx, int t, int count)
{
    const norm_job *j = ctx;
    size_t A = j->A, G = j->G, B = j->B, g0, g1;
    double n = (double)(A * B);
    group_range(j, t, count, &g0, &g1);
    for (size_t g = g0; g < g1; g++) {
        double ss[LANES] = {0};
        double m = group_sum(A, G, B, g, j->x) / n;
        for (size_t a = 0; a < A; a++) {
            const float *row = j->x + AT(a, g, 0);
            size_t b = 0;
            for (; b < VEC_END(B); b += LANES)
                for (int l = 0; l < LANES; l++) ss[l] += (row[b + l] - m) * (row[b + l] - m);
            for (; b < B; b++) ss[b % LANES] += (row[b] - m) * (row[b] - m);
        }
        double var_n = fold(ss);
        j->mean_out[g] = (float)m;
        j->rstd_out[g] = (float)(1.0 / sqrt(var_n / n + j->eps));
        /* torch's batch_norm_cpu_update_stats_template, in double */
        if (j->running_mean) j->running_mean[g] = (float)(j->momentum * m + (1.0 - j->momentum) * j->running_mean[g]);
        if (j->running_var)
            j->running_var[g] = (float)(j->momentum * (var_n / (n - 1.0)) + (1.0 - j->momentum) * j->running_var[g]);
    }
}

void tg__k_norm_stats(size_t A, size_t G, size_t B, const float *x, double eps, float *mean, float *rstd,
                      double momentum, float *running_mean, float *running_var)
{
    norm_job j = {.A = A, .G = G, .B = B, .x = x, .mean_out = mean, .rstd_out = rstd, .running_mean = running_mean,
                  .running_var = running_var, .eps = eps, .momentum = momentum};
    run_groups(stats_task, &j);
}

TG__CLONES static void forward_task(void *ctx, int t, int count)
{
    const norm_job *j = ctx;
    size_t A = j->A, G = j->G, B = j->B, g0, g1;
    group_range(j, t, count, &g0, &g1);
    for (size_t a = 0; a < A; a++)
        for (size_t g = g0; g < g1; g++) {
            float m = j->mean[g], r = j->rstd[g];
            const float *x = j->x + AT(a, g, 0);
            float *y = j->y + AT(a, g, 0);
            if (j->per_group) { /* batch norm: one scale and shift for the run */
                float w = j->w ? j->w[g] : 1.0f, c = j->bias ? j->bias[g] : 0.0f;
                for (size_t b = 0; b < B; b++) y[b] = (x[b] - m) * r * w + c;
            } else {
                for (size_t b = 0; b < B; b++) {
                    float v = (x[b] - m) * r;
                    if (j->w) v *= j->w[b];
                    if (j->bias) v += j->bias[b];
                    y[b] = v;
                }
            }
        }
}

void tg__k_norm_forward(size_t A, size_t G, size_t B, bool per_group, const float *x, const float *mean,
                        const float *rstd, const float *w, const float *bias, float *y)
{
    norm_job j = {.A = A, .G = G, .B = B, .per_group = per_group, .x = x, .mean = mean, .rstd = rstd,
                  .w = w, .bias = bias, .y = y};
    run_groups(forward_task, &j);
}

/* dw[b] += sum dy xhat, db[b] += sum dy over (a, g): the affine parameters
 * of layer norm, a block of columns at a time so rows are read in order. */
static void column_affine_backward(size_t A, size_t G, size_t B, const float *x, const float *mean,
                                   const float *rstd, const float *dy, float *dw, float *db)
{
    enum { BLOCK = 128 };
    double acc_w[BLOCK], acc_b[BLOCK];
    for (size_t b0 = 0; b0 < B; b0 += BLOCK) {
        size_t width = B - b0 < BLOCK ? B - b0 : BLOCK;
        for (size_t c = 0; c < width; c++) acc_w[c] = acc_b[c] = 0.0;
        for (size_t a = 0; a < A; a++)
            for (size_t g = 0; g < G; g++)
                for (size_t c = 0; c < width; c++) {
                    size_t i = AT(a, g, b0 + c);
                    acc_w[c] += (double)dy[i] * ((x[i] - mean[g]) * rstd[g]);
                    acc_b[c] += dy[i];
                }
        for (size_t c = 0; c < width; c++) {
            if (dw) dw[b0 + c] += (float)acc_w[c];
            if (db) db[b0 + c] += (float)acc_b[c];
        }
    }
}

TG__CLONES static void backward_task(void *ctx, int t, int count)
{
    const norm_job *j = ctx;
    size_t A = j->A, G = j->G, B = j->B, g0, g1;
    double n = (double)(A * B);
    group_range(j, t, count, &g0, &g1);
    for (size_t g = g0; g < g1; g++) {
        float m = j->mean[g], r = j->rstd[g];
        /* per group: sum dxhat, sum dxhat xhat (for dx), sum dy, sum dy xhat (for dw, db of batch norm) */
        double s_dxh[LANES] = {0}, s_dxh_xh[LANES] = {0}, s_dy[LANES] = {0}, s_dy_xh[LANES] = {0};
        for (size_t a = 0; a < A; a++) {
            const float *x = j->x + AT(a, g, 0), *dy = j->dy + AT(a, g, 0);
            for (size_t b = 0; b < B; b++) {
                float xh = (x[b] - m) * r, dxh = j->w ? dy[b] * j->w[j->per_group ? g : b] : dy[b];
                int l = (int)(b % LANES);
                s_dxh[l] += dxh, s_dxh_xh[l] += (double)dxh * xh;
                s_dy[l] += dy[b], s_dy_xh[l] += (double)dy[b] * xh;
            }
        }
        if (j->per_group && j->dw) j->dw[g] += (float)fold(s_dy_xh);
        if (j->per_group && j->db) j->db[g] += (float)fold(s_dy);
        if (!j->dx) continue;
        float m1 = (float)(fold(s_dxh) / n), m2 = (float)(fold(s_dxh_xh) / n);
        for (size_t a = 0; a < A; a++) {
            const float *x = j->x + AT(a, g, 0), *dy = j->dy + AT(a, g, 0);
            float *dx = j->dx + AT(a, g, 0);
            for (size_t b = 0; b < B; b++) {
                float xh = (x[b] - m) * r, dxh = j->w ? dy[b] * j->w[j->per_group ? g : b] : dy[b];
                dx[b] += j->batch_stats ? r * (dxh - m1 - xh * m2) : r * dxh;
            }
        }
    }
}

void tg__k_norm_backward(size_t A, size_t G, size_t B, bool per_group, bool batch_stats, const float *x,
                         const float *mean, const float *rstd, const float *w, const float *dy, float *dx,
                         float *dw, float *db)
{
    norm_job j = {.A = A, .G = G, .B = B, .per_group = per_group, .batch_stats = batch_stats, .x = x, .dy = dy,
                  .w = w, .mean = mean, .rstd = rstd, .dx = dx, .dw = dw, .db = db};
    run_groups(backward_task, &j);
    if (!per_group && (dw || db)) column_affine_backward(A, G, B, x, mean, rstd, dy, dw, db);
}
