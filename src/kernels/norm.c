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

void tg__k_norm_stats(size_t A, size_t G, size_t B, const float *x, double eps, float *mean, float *rstd,
                      double momentum, float *running_mean, float *running_var)
{
    double n = (double)(A * B);
    for (size_t g = 0; g < G; g++) {
        double sum = 0.0;
        for (size_t a = 0; a < A; a++)
            for (size_t b = 0; b < B; b++) sum += x[AT(a, g, b)];
        double m = sum / n, ss = 0.0;
        for (size_t a = 0; a < A; a++)
            for (size_t b = 0; b < B; b++) {
                double d = x[AT(a, g, b)] - m;
                ss += d * d;
            }
        mean[g] = (float)m;
        rstd[g] = (float)(1.0 / sqrt(ss / n + eps));
        /* torch's batch_norm_cpu_update_stats_template, in double */
        if (running_mean) running_mean[g] = (float)(momentum * m + (1.0 - momentum) * running_mean[g]);
        if (running_var) running_var[g] = (float)(momentum * (ss / (n - 1.0)) + (1.0 - momentum) * running_var[g]);
    }
}

void tg__k_norm_forward(size_t A, size_t G, size_t B, bool per_group, const float *x, const float *mean,
                        const float *rstd, const float *w, const float *bias, float *y)
{
    for (size_t a = 0; a < A; a++)
        for (size_t g = 0; g < G; g++) {
            float m = mean[g], r = rstd[g];
            for (size_t b = 0; b < B; b++) {
                size_t k = per_group ? g : b, i = AT(a, g, b);
                float v = (x[i] - m) * r;
                if (w) v *= w[k];
                if (bias) v += bias[k];
                y[i] = v;
            }
        }
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

void tg__k_norm_backward(size_t A, size_t G, size_t B, bool per_group, bool batch_stats, const float *x,
                         const float *mean, const float *rstd, const float *w, const float *dy, float *dx,
                         float *dw, float *db)
{
    double n = (double)(A * B);
    for (size_t g = 0; g < G; g++) {
        float m = mean[g], r = rstd[g];
        /* per group: sum dxhat, sum dxhat xhat (for dx), sum dy, sum dy xhat (for dw, db of batch norm) */
        double s_dxh = 0.0, s_dxh_xh = 0.0, s_dy = 0.0, s_dy_xh = 0.0;
        for (size_t a = 0; a < A; a++)
            for (size_t b = 0; b < B; b++) {
                size_t i = AT(a, g, b);
                float xh = (x[i] - m) * r, dxh = w ? dy[i] * w[per_group ? g : b] : dy[i];
                s_dxh += dxh, s_dxh_xh += (double)dxh * xh;
                s_dy += dy[i], s_dy_xh += (double)dy[i] * xh;
            }
        if (per_group && dw) dw[g] += (float)s_dy_xh;
        if (per_group && db) db[g] += (float)s_dy;
        if (!dx) continue;
        float m1 = (float)(s_dxh / n), m2 = (float)(s_dxh_xh / n);
        for (size_t a = 0; a < A; a++)
            for (size_t b = 0; b < B; b++) {
                size_t i = AT(a, g, b);
                float xh = (x[i] - m) * r, dxh = w ? dy[i] * w[per_group ? g : b] : dy[i];
                dx[i] += batch_stats ? r * (dxh - m1 - xh * m2) : r * dxh;
            }
    }
    if (!per_group && (dw || db)) column_affine_backward(A, G, B, x, mean, rstd, dy, dw, db);
}
