/* reduce.c — sums, maxima and softmax along an axis. A tensor is seen as
 * (outer, n, inner) around the axis, so element (o, k, i) sits at
 * (o n + k) inner + i and one loop nest serves every axis. */
#include <math.h>

#include "kernels.h"

#define AT(o, k, i) (((o) * n + (k)) * inner + (i))

double tg__k_sum(size_t n, const float *x)
{
    double acc = 0.0;
    for (size_t i = 0; i < n; i++) acc += x[i];
    return acc;
}

double tg__k_sum_sq(size_t n, const float *x)
{
    double acc = 0.0;
    for (size_t i = 0; i < n; i++) acc += (double)x[i] * x[i];
    return acc;
}

void tg__k_sum_axis(size_t outer, size_t n, size_t inner, const float *x, float *y)
{
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) {
            double acc = 0.0;
            for (size_t k = 0; k < n; k++) acc += x[AT(o, k, i)];
            y[o * inner + i] = (float)acc;
        }
}

void tg__k_spread_axis(size_t outer, size_t n, size_t inner, const float *dy, float scale, float *dx)
{
    for (size_t o = 0; o < outer; o++)
        for (size_t k = 0; k < n; k++)
            for (size_t i = 0; i < inner; i++) dx[AT(o, k, i)] += scale * dy[o * inner + i];
}

void tg__k_max_axis(size_t outer, size_t n, size_t inner, const float *x, float *y, int *idx)
{
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) {
            size_t best = 0;
            for (size_t k = 1; k < n; k++) {
                float v = x[AT(o, k, i)], b = x[AT(o, best, i)];
                if (v > b || (isnan(v) && !isnan(b))) best = k;
            }
            if (y) y[o * inner + i] = x[AT(o, best, i)];
            if (idx) idx[o * inner + i] = (int)best;
        }
}

void tg__k_max_axis_backward(size_t outer, size_t n, size_t inner, const int *idx, const float *dy,
                             float *dx)
{
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) dx[AT(o, (size_t)idx[o * inner + i], i)] += dy[o * inner + i];
}

void tg__k_softmax(size_t outer, size_t n, size_t inner, const float *x, float *y, bool take_log)
{
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) {
            float m = x[AT(o, 0, i)];
            for (size_t k = 1; k < n; k++) m = fmaxf(m, x[AT(o, k, i)]);
            double sum = 0.0;
            for (size_t k = 0; k < n; k++) sum += exp((double)x[AT(o, k, i)] - m);
            if (take_log) {
                /* (x - m) - log(sum), not x - (m + log(sum)): for huge logits
                 * m + log(sum) would round away log(sum)'s digits. */
                float log_sum = (float)log(sum);
                for (size_t k = 0; k < n; k++) y[AT(o, k, i)] = (x[AT(o, k, i)] - m) - log_sum;
            } else {
                for (size_t k = 0; k < n; k++) y[AT(o, k, i)] = (float)(exp((double)x[AT(o, k, i)] - m) / sum);
            }
        }
}

void tg__k_softmax_backward(size_t outer, size_t n, size_t inner, const float *y, const float *dy,
                            float *dx, bool take_log)
{
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) {
            double s = 0.0;
            for (size_t k = 0; k < n; k++) s += take_log ? dy[AT(o, k, i)] : (double)dy[AT(o, k, i)] * y[AT(o, k, i)];
            for (size_t k = 0; k < n; k++) {
                size_t at = AT(o, k, i);
                dx[at] += take_log ? dy[at] - expf(y[at]) * (float)s : y[at] * (dy[at] - (float)s);
            }
        }
}

void tg__k_logsumexp_rows(size_t rows, size_t cols, const float *x, float *max, float *log_sum)
{
    for (size_t r = 0; r < rows; r++) {
        const float *row = x + r * cols;
        float m = row[0];
        for (size_t c = 1; c < cols; c++) m = fmaxf(m, row[c]);
        double sum = 0.0;
        for (size_t c = 0; c < cols; c++) sum += exp((double)row[c] - m);
        max[r] = m;
        log_sum[r] = (float)log(sum);
    }
}
