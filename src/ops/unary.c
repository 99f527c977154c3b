/* unary.c — the elementwise ops of one tensor, one section each: the
 * forward loop y = f(x), the backward loop dx += dy f'(x) (given both x
 * and y = f(x), whichever makes the derivative cheaper and exact), the
 * descriptor, and the public function. Formulas are torch's
 * (aten/src/ATen/native, derivatives.yaml). Compiled with the kernels'
 * flags (Makefile), so the loops vectorise as the kernels do. */
#include <math.h>

#include "../kernels/kernels.h"
#include "ops.h"

#define UNUSED(x) (void)(x)

/* The loops over slices of the tensors: every element is computed alone,
 * so a CNN's megabyte feature maps split over the threads give the same
 * bits (bufs: x, y, and dy, dx in the backward; args: y, for the op and
 * its parameters). */
static void forward_slice(size_t n, float *const *bufs, const void *args)
{
    const tg_tensor *y = args;
    y->op->forward_loop(n, bufs[0], bufs[1], y->fparam);
}

static void backward_slice(size_t n, float *const *bufs, const void *args)
{
    const tg_tensor *y = args;
    y->op->backward_loop(n, bufs[0], bufs[1], bufs[2], bufs[3], y->fparam);
}

tg_tensor *tg__unary(const char *fn, tg_graph *g, const tg__op_desc *op, tg_tensor *x, float p0, float p1)
{
    if (!TG__INPUTS_OK(fn, g, x)) return NULL;
    tg_tensor *y = tg__op_new(fn, g, op, x->ndim, x->shape, x, NULL, NULL);
    if (!y) return NULL;
    y->fparam[0] = p0;
    y->fparam[1] = p1;
    tg__run_sliced(forward_slice, x->size, (float *[TG__MAX_SLICE_BUFS]){x->data, y->data}, y);
    return tg__op_done(g, y);
}

static void unary_backward(tg_tensor *y)
{
    tg_tensor *x = y->src[0];
    if (x->requires_grad)
        tg__run_sliced(backward_slice, y->size, (float *[TG__MAX_SLICE_BUFS]){x->data, y->data, y->grad, x->grad}, y);
}

/* ---- neg: y = -x ---- */
static void neg_fwd(size_t n, const float *x, float *y, const float *p)
{
    UNUSED(p);
    for (size_t i = 0; i < n; i++) y[i] = -x[i];
}
static void neg_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx, const float *p)
{
    UNUSED(x), UNUSED(y), UNUSED(p);
    for (size_t i = 0; i < n; i++) dx[i] -= dy[i];
}
static const tg__op_desc neg_op = {
    .name = "neg", .local = "dy/dx = -1", .elementwise = true,
    .backward = unary_backward, .forward_loop = neg_fwd, .backward_loop = neg_bwd};
tg_tensor *tg_neg(tg_graph *g, tg_tensor *x) { return tg__unary("tg_neg", g, &neg_op, x, 0, 0); }

/* ---- add_scalar: y = x + c ---- */
static void add_scalar_fwd(size_t n, const float *x, float *y, const float *p)
{
    for (size_t i = 0; i < n; i++) y[i] = x[i] + p[0];
}
static void add_scalar_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx,
                           const float *p)
{
    UNUSED(x), UNUSED(y), UNUSED(p);
    tg__k_acc(n, dy, dx);
}
static const tg__op_desc add_scalar_op = {
    .name = "add_scalar", .local = "dy/dx = 1", .elementwise = true,
    .backward = unary_backward, .forward_loop = add_scalar_fwd, .backward_loop = add_scalar_bwd};
tg_tensor *tg_add_scalar(tg_graph *g, tg_tensor *x, float c) { return tg__unary("tg_add_scalar", g, &add_scalar_op, x, c, 0); }

/* ---- mul_scalar: y = c x ---- */
static void mul_scalar_fwd(size_t n, const float *x, float *y, const float *p)
{
    for (size_t i = 0; i < n; i++) y[i] = p[0] * x[i];
}
static void mul_scalar_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx,
                           const float *p)
{
    UNUSED(x), UNUSED(y);
    for (size_t i = 0; i < n; i++) dx[i] += p[0] * dy[i];
}
static const tg__op_desc mul_scalar_op = {
    .name = "mul_scalar", .local = "dy/dx = c", .elementwise = true,
    .backward = unary_backward, .forward_loop = mul_scalar_fwd, .backward_loop = mul_scalar_bwd};
tg_tensor *tg_mul_scalar(tg_graph *g, tg_tensor *x, float c) { return tg__unary("tg_mul_scalar", g, &mul_scalar_op, x, c, 0); }

/* ---- pow: y = x^e, dy/dx = e x^(e-1); 0 for e = 0, as torch (no 0 * inf) ---- */
static void pow_fwd(size_t n, const float *x, float *y, const float *p)
{
    for (size_t i = 0; i < n; i++) y[i] = powf(x[i], p[0]);
}
static void pow_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx, const float *p)
{
    UNUSED(y);
    if (p[0] == 0.0f) return;
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] * p[0] * powf(x[i], p[0] - 1.0f);
}
static const tg__op_desc pow_op = {
    .name = "pow", .local = "dy/dx = p x^(p-1)", .elementwise = true,
    .backward = unary_backward, .forward_loop = pow_fwd, .backward_loop = pow_bwd};
tg_tensor *tg_pow(tg_graph *g, tg_tensor *x, float p) { return tg__unary("tg_pow", g, &pow_op, x, p, 0); }

/* ---- exp: y = e^x, dy/dx = y ---- */
static void exp_fwd(size_t n, const float *x, float *y, const float *p)
{
    UNUSED(p);
    for (size_t i = 0; i < n; i++) y[i] = expf(x[i]);
}
static void exp_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx, const float *p)
{
    UNUSED(x), UNUSED(p);
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] * y[i];
}
static const tg__op_desc exp_op = {
    .name = "exp", .local = "dy/dx = e^x = y", .elementwise = true,
    .backward = unary_backward, .forward_loop = exp_fwd, .backward_loop = exp_bwd};
tg_tensor *tg_exp(tg_graph *g, tg_tensor *x) { return tg__unary("tg_exp", g, &exp_op, x, 0, 0); }

/* ---- log: y = ln x, dy/dx = 1/x ---- */
static void log_fwd(size_t n, const float *x, float *y, const float *p)
{
    UNUSED(p);
    for (size_t i = 0; i < n; i++) y[i] = logf(x[i]);
}
static void log_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx, const float *p)
{
    UNUSED(y), UNUSED(p);
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] / x[i];
}
static const tg__op_desc log_op = {
    .name = "log", .local = "dy/dx = 1/x", .elementwise = true,
    .backward = unary_backward, .forward_loop = log_fwd, .backward_loop = log_bwd};
tg_tensor *tg_log(tg_graph *g, tg_tensor *x) { return tg__unary("tg_log", g, &log_op, x, 0, 0); }

/* ---- sqrt: y = sqrt(x), dy/dx = 1 / (2 y) ---- */
static void sqrt_fwd(size_t n, const float *x, float *y, const float *p)
{
    UNUSED(p);
    for (size_t i = 0; i < n; i++) y[i] = sqrtf(x[i]);
}
static void sqrt_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx, const float *p)
{
    UNUSED(x), UNUSED(p);
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] / (2.0f * y[i]);
}
static const tg__op_desc sqrt_op = {
    .name = "sqrt", .local = "dy/dx = 1/(2 y)", .elementwise = true,
    .backward = unary_backward, .forward_loop = sqrt_fwd, .backward_loop = sqrt_bwd};
tg_tensor *tg_sqrt(tg_graph *g, tg_tensor *x) { return tg__unary("tg_sqrt", g, &sqrt_op, x, 0, 0); }

/* ---- sin: dy/dx = cos x ---- */
static void sin_fwd(size_t n, const float *x, float *y, const float *p)
{
    UNUSED(p);
    for (size_t i = 0; i < n; i++) y[i] = sinf(x[i]);
}
static void sin_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx, const float *p)
{
    UNUSED(y), UNUSED(p);
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] * cosf(x[i]);
}
static const tg__op_desc sin_op = {
    .name = "sin", .local = "dy/dx = cos x", .elementwise = true,
    .backward = unary_backward, .forward_loop = sin_fwd, .backward_loop = sin_bwd};
tg_tensor *tg_sin(tg_graph *g, tg_tensor *x) { return tg__unary("tg_sin", g, &sin_op, x, 0, 0); }

/* ---- cos: dy/dx = -sin x ---- */
static void cos_fwd(size_t n, const float *x, float *y, const float *p)
{
    UNUSED(p);
    for (size_t i = 0; i < n; i++) y[i] = cosf(x[i]);
}
static void cos_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx, const float *p)
{
    UNUSED(y), UNUSED(p);
    for (size_t i = 0; i < n; i++) dx[i] -= dy[i] * sinf(x[i]);
}
static const tg__op_desc cos_op = {
    .name = "cos", .local = "dy/dx = -sin x", .elementwise = true,
    .backward = unary_backward, .forward_loop = cos_fwd, .backward_loop = cos_bwd};
tg_tensor *tg_cos(tg_graph *g, tg_tensor *x) { return tg__unary("tg_cos", g, &cos_op, x, 0, 0); }

/* ---- abs: y = |x|, dy/dx = sign(x) with sign(0) = 0 ---- */
static float sign(float x) { return (float)((x > 0.0f) - (x < 0.0f)); }

static void abs_fwd(size_t n, const float *x, float *y, const float *p)
{
    UNUSED(p);
    for (size_t i = 0; i < n; i++) y[i] = fabsf(x[i]);
}
static void abs_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx, const float *p)
{
    UNUSED(y), UNUSED(p);
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] * sign(x[i]);
}
static const tg__op_desc abs_op = {
    .name = "abs", .local = "dy/dx = sign(x)", .elementwise = true,
    .backward = unary_backward, .forward_loop = abs_fwd, .backward_loop = abs_bwd};
tg_tensor *tg_abs(tg_graph *g, tg_tensor *x) { return tg__unary("tg_abs", g, &abs_op, x, 0, 0); }

/* ---- square: y = x^2, dy/dx = 2x ---- */
static void square_fwd(size_t n, const float *x, float *y, const float *p)
{
    UNUSED(p);
    for (size_t i = 0; i < n; i++) y[i] = x[i] * x[i];
}
static void square_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx, const float *p)
{
    UNUSED(y), UNUSED(p);
    for (size_t i = 0; i < n; i++) dx[i] += 2.0f * x[i] * dy[i];
}
static const tg__op_desc square_op = {
    .name = "square", .local = "dy/dx = 2 x", .elementwise = true,
    .backward = unary_backward, .forward_loop = square_fwd, .backward_loop = square_bwd};
tg_tensor *tg_square(tg_graph *g, tg_tensor *x) { return tg__unary("tg_square", g, &square_op, x, 0, 0); }

/* ---- clamp: y = min(max(x, lo), hi) (so hi wins when lo > hi); gradient 1
 * on lo <= x <= hi. Comparisons, not fminf/fmaxf, keep NaN NaN as torch. ---- */
static void clamp_fwd(size_t n, const float *x, float *y, const float *p)
{
    for (size_t i = 0; i < n; i++) {
        float t = x[i] < p[0] ? p[0] : x[i];
        y[i] = t > p[1] ? p[1] : t;
    }
}
static void clamp_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx, const float *p)
{
    UNUSED(y);
    for (size_t i = 0; i < n; i++)
        if (x[i] >= p[0] && x[i] <= p[1]) dx[i] += dy[i];
}
static const tg__op_desc clamp_op = {
    .name = "clamp", .local = "dy/dx = 1 inside [lo, hi], else 0", .elementwise = true,
    .backward = unary_backward, .forward_loop = clamp_fwd, .backward_loop = clamp_bwd};
tg_tensor *tg_clamp(tg_graph *g, tg_tensor *x, float lo, float hi) { return tg__unary("tg_clamp", g, &clamp_op, x, lo, hi); }

/* ---- relu: y = max(0, x); gradient where y > 0 (torch's threshold_backward) ---- */
TG__CLONES static void relu_fwd(size_t n, const float *x, float *y, const float *p)
{
    UNUSED(p);
    for (size_t i = 0; i < n; i++) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}
TG__CLONES static void relu_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx, const float *p)
{
    UNUSED(x), UNUSED(p);
    for (size_t i = 0; i < n; i++) {
        float g = dy[i]; /* loaded either way, so the select below vectorises */
        dx[i] += y[i] > 0.0f ? g : 0.0f;
    }
}
static const tg__op_desc relu_op = {
    .name = "relu", .local = "dy/dx = 1 if x > 0, else 0", .elementwise = true,
    .backward = unary_backward, .forward_loop = relu_fwd, .backward_loop = relu_bwd};
tg_tensor *tg_relu(tg_graph *g, tg_tensor *x) { return tg__unary("tg_relu", g, &relu_op, x, 0, 0); }

/* ---- leaky_relu: y = x > 0 ? x : s x ---- */
static void leaky_relu_fwd(size_t n, const float *x, float *y, const float *p)
{
    float slope = p[0]; /* read once: y might alias p as far as the compiler knows */
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : slope * x[i];
}
static void leaky_relu_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx,
                           const float *p)
{
    UNUSED(y);
    float slope = p[0];
    for (size_t i = 0; i < n; i++) dx[i] += x[i] > 0.0f ? dy[i] : slope * dy[i];
}
static const tg__op_desc leaky_relu_op = {
    .name = "leaky_relu", .local = "dy/dx = 1 if x > 0, else slope", .elementwise = true,
    .backward = unary_backward, .forward_loop = leaky_relu_fwd, .backward_loop = leaky_relu_bwd};
tg_tensor *tg_leaky_relu(tg_graph *g, tg_tensor *x, float slope) { return tg__unary("tg_leaky_relu", g, &leaky_relu_op, x, slope, 0); }

/* ---- sigmoid: y = 1 / (1 + e^-x), dy/dx = y (1 - y) ---- */
static void sigmoid_fwd(size_t n, const float *x, float *y, const float *p)
{
    UNUSED(p);
    for (size_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
}
static void sigmoid_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx, const float *p)
{
    UNUSED(x), UNUSED(p);
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] * y[i] * (1.0f - y[i]);
}
static const tg__op_desc sigmoid_op = {
    .name = "sigmoid", .local = "dy/dx = y (1 - y)", .elementwise = true,
    .backward = unary_backward, .forward_loop = sigmoid_fwd, .backward_loop = sigmoid_bwd};
tg_tensor *tg_sigmoid(tg_graph *g, tg_tensor *x) { return tg__unary("tg_sigmoid", g, &sigmoid_op, x, 0, 0); }

/* ---- tanh: dy/dx = 1 - y^2 ---- */
static void tanh_fwd(size_t n, const float *x, float *y, const float *p)
{
    UNUSED(p);
    for (size_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
}
static void tanh_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx, const float *p)
{
    UNUSED(x), UNUSED(p);
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] * (1.0f - y[i] * y[i]);
}
static const tg__op_desc tanh_op = {
    .name = "tanh", .local = "dy/dx = 1 - y^2", .elementwise = true,
    .backward = unary_backward, .forward_loop = tanh_fwd, .backward_loop = tanh_bwd};
tg_tensor *tg_tanh(tg_graph *g, tg_tensor *x) { return tg__unary("tg_tanh", g, &tanh_op, x, 0, 0); }

/* ---- gelu: y = x Phi(x) = x (1 + erf(x / sqrt 2)) / 2,
 *      dy/dx = Phi(x) + x phi(x), phi(x) = e^(-x^2/2) / sqrt(2 pi) ---- */
static void gelu_fwd(size_t n, const float *x, float *y, const float *p)
{
    UNUSED(p);
    for (size_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}
static void gelu_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx, const float *p)
{
    UNUSED(y), UNUSED(p);
    for (size_t i = 0; i < n; i++) {
        float cdf = 0.5f * (1.0f + erff(x[i] * 0.70710678118654752f));
        float pdf = 0.39894228040143268f * expf(-0.5f * x[i] * x[i]);
        dx[i] += dy[i] * (cdf + x[i] * pdf);
    }
}
static const tg__op_desc gelu_op = {
    .name = "gelu", .local = "dy/dx = Phi(x) + x phi(x)", .elementwise = true,
    .backward = unary_backward, .forward_loop = gelu_fwd, .backward_loop = gelu_bwd};
tg_tensor *tg_gelu(tg_graph *g, tg_tensor *x) { return tg__unary("tg_gelu", g, &gelu_op, x, 0, 0); }

/* ---- softplus: y = log(1 + e^(b x)) / b, or x where b x > threshold;
 *      dy/dx = sigmoid(b x), or 1 there. p = {b, threshold} ---- */
static void softplus_fwd(size_t n, const float *x, float *y, const float *p)
{
    for (size_t i = 0; i < n; i++) {
        float bx = p[0] * x[i];
        y[i] = bx > p[1] ? x[i] : log1pf(expf(bx)) / p[0];
    }
}
static void softplus_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx,
                         const float *p)
{
    UNUSED(y);
    for (size_t i = 0; i < n; i++) {
        float bx = p[0] * x[i];
        float z = expf(bx);
        dx[i] += bx > p[1] ? dy[i] : dy[i] * z / (z + 1.0f);
    }
}
static const tg__op_desc softplus_op = {
    .name = "softplus", .local = "dy/dx = sigmoid(beta x)", .elementwise = true,
    .backward = unary_backward, .forward_loop = softplus_fwd, .backward_loop = softplus_bwd};
tg_tensor *tg_softplus(tg_graph *g, tg_tensor *x, float beta, float threshold)
{
    if (!TG__INPUTS_OK("tg_softplus", g, x)) return NULL;
    if (!(beta > 0.0f)) {
        tg__error("tg_softplus: beta %g: must be positive", beta);
        return NULL;
    }
    return tg__unary("tg_softplus", g, &softplus_op, x, beta, threshold);
}

/* ---- huber on a difference d, divided by s: p = {delta, s}
 *      y = (|d| < delta ? d^2 / 2 : delta (|d| - delta / 2)) / s,
 *      dy/dd = clamp(d, -delta, delta) / s.
 * s = 1 is huber_loss; delta = beta, s = beta is smooth_l1_loss. ---- */
static void huber_fwd(size_t n, const float *x, float *y, const float *p)
{
    for (size_t i = 0; i < n; i++) {
        float z = fabsf(x[i]);
        y[i] = (z < p[0] ? 0.5f * z * z : p[0] * (z - 0.5f * p[0])) / p[1];
    }
}
static void huber_bwd(size_t n, const float *x, const float *y, const float *dy, float *dx, const float *p)
{
    UNUSED(y);
    for (size_t i = 0; i < n; i++) {
        float d = x[i] < -p[0] ? -p[0] : x[i] > p[0] ? p[0] : x[i];
        dx[i] += dy[i] * d / p[1];
    }
}
const tg__op_desc tg__huber_op = {
    .name = "huber", .local = "dy/dx = x/s if |x| < delta, else delta sign(x)/s", .elementwise = true,
    .backward = unary_backward, .forward_loop = huber_fwd, .backward_loop = huber_bwd};
