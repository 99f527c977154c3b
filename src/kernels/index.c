/* index.c — copies that move elements without computing: through strides
 * (permute, slice, the parts of a concatenation) and through indices
 * (gather, index_select, embedding), with their backward scatter-adds.
 * Every loop runs in one fixed order, so where indices repeat the sums are
 * the same bits on every run and any number of threads. */
#include "kernels.h"

/* Where contiguous element i of shape sits on the strided side; along
 * axis (>= 0) the position is idx[i] instead of the index itself. */
static size_t strided_at(const size_t shape[4], const size_t stride[4], int axis, const int *idx, size_t i)
{
    size_t at = 0, rest = i;
    for (int d = 3; d >= 0; d--) {
        size_t k = rest % shape[d];
        rest /= shape[d];
        at += (d == axis ? (size_t)idx[i] : k) * stride[d];
    }
    return at;
}

/* Runs body for every element i of shape, with at its strided position:
 * row by row, the last dimension as the inner loop. */
#define FOR_STRIDED(shape, stride, i, at, body)                                                    \
    do {                                                                                           \
        size_t cols_ = (shape)[3], rows_ = (shape)[0] * (shape)[1] * (shape)[2];                   \
        for (size_t r_ = 0; r_ < rows_; r_++) {                                                    \
            size_t base_ = strided_at(shape, stride, -1, NULL, r_ * cols_);                        \
            for (size_t c_ = 0; c_ < cols_; c_++) {                                                \
                size_t i = r_ * cols_ + c_, at = base_ + c_ * (stride)[3];                         \
                body;                                                                              \
            }                                                                                      \
        }                                                                                          \
    } while (0)

void tg__k_strided_gather(const size_t shape[4], const size_t stride[4], const float *x, float *y, bool accumulate)
{
    if (accumulate)
        FOR_STRIDED(shape, stride, i, at, y[i] += x[at]);
    else
        FOR_STRIDED(shape, stride, i, at, y[i] = x[at]);
}

void tg__k_strided_scatter(const size_t shape[4], const size_t stride[4], const float *y, float *x, bool accumulate)
{
    if (accumulate)
        FOR_STRIDED(shape, stride, i, at, x[at] += y[i]);
    else
        FOR_STRIDED(shape, stride, i, at, x[at] = y[i]);
}

void tg__k_gather(const size_t shape[4], const size_t stride[4], int axis, const int *idx, const float *x, float *y)
{
    size_t n = shape[0] * shape[1] * shape[2] * shape[3];
    for (size_t i = 0; i < n; i++) y[i] = x[strided_at(shape, stride, axis, idx, i)];
}

void tg__k_gather_backward(const size_t shape[4], const size_t stride[4], int axis, const int *idx,
                           const float *dy, float *dx)
{
    size_t n = shape[0] * shape[1] * shape[2] * shape[3];
    for (size_t i = 0; i < n; i++) dx[strided_at(shape, stride, axis, idx, i)] += dy[i];
}

void tg__k_index_select(size_t outer, size_t n, size_t inner, size_t m, const int *idx, const float *x, float *y)
{
    for (size_t o = 0; o < outer; o++)
        for (size_t j = 0; j < m; j++) {
            const float *src = x + (o * n + (size_t)idx[j]) * inner;
            float *dst = y + (o * m + j) * inner;
            for (size_t i = 0; i < inner; i++) dst[i] = src[i];
        }
}

void tg__k_index_add(size_t outer, size_t n, size_t inner, size_t m, const int *idx, int skip, const float *dy,
                     float *dx)
{
    for (size_t o = 0; o < outer; o++)
        for (size_t j = 0; j < m; j++) {
            if (idx[j] == skip) continue;
            const float *src = dy + (o * m + j) * inner;
            float *dst = dx + (o * n + (size_t)idx[j]) * inner;
            for (size_t i = 0; i < inner; i++) dst[i] += src[i];
        }
}
