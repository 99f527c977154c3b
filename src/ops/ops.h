/* ops.h — what the files of src/ops share. */
#ifndef TG_OPS_H
#define TG_OPS_H

#include "../graph/graph.h"

/* ---- elementwise (ops/unary.c) ---- */
/* A unary op y = f(x) given by its descriptor's loops, with scalar
 * arguments p0, p1 (fparam). */
tg_tensor *tg__unary(const char *fn, tg_graph *g, const tg__op_desc *op, tg_tensor *x, float p0, float p1);
/* huber on a difference, for huber_loss and smooth_l1_loss (ops/unary.c). */
extern const tg__op_desc tg__huber_op;
/* A tensor sharing x's data (no copy), reshaped: reshape, flatten (ops/shape.c). */
tg_tensor *tg__view_new(const char *fn, tg_graph *g, tg_tensor *x, int ndim, const int *shape);

/* ---- shape helpers (ops/shape.c) ---- */
/* axis in [-ndim, ndim) made non-negative, or -1 with a message naming fn. */
int tg__axis(const char *fn, const tg_tensor *x, int axis);
/* x seen as (outer, n, inner) around axis: n = shape[axis]. */
void tg__split_axis(const tg_tensor *x, int axis, size_t *outer, size_t *n, size_t *inner);
/* x's shape without axis (keepdim false) or with it set to 1 (keepdim true). */
int tg__reduced_shape(const tg_tensor *x, int axis, bool keepdim, int *shape);

/* ---- fused (ops/conv.c, ops/linalg.c) ---- */
/* max(0, tg_conv2d(g, x, w, b, opts)) as one op, "conv2d_relu": the same
 * values and gradients to the bit, the ReLU applied to each sample's
 * output while it is in cache (a Sequential's Conv2d then ReLU). Memory:
 * tg_conv2d's, plus a y-sized dz when y needs a gradient. When g checks
 * numerics it is the two ops, so that a convolution's -inf is named. */
tg_tensor *tg__conv2d_relu(tg_graph *g, tg_tensor *x, tg_tensor *w, tg_tensor *b, const tg_conv2d_opts *opts);
/* max(0, tg_linear(g, x, W, b)) as one op, "linear_relu" (ops/linalg.c):
 * the bias and the ReLU in the product's epilogue (tg__gemm_bias_act),
 * the same values and gradients to the bit as the two ops. Memory: a
 * y-sized dz when y needs a gradient; two ops when g checks numerics. */
tg_tensor *tg__linear_relu(tg_graph *g, tg_tensor *x, tg_tensor *W, tg_tensor *b);

#endif /* TG_OPS_H */
