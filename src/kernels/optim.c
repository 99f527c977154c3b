/* optim.c — one parameter's update for each optimizer, as torch 1.13's
 * single-tensor algorithms compute it (torch/optim/<name>.py): float32
 * arithmetic with each Python scalar rounded to float once, in the same
 * order of operations, so that tg follows torch to float rounding. The
 * scalar factors (bias corrections, step sizes) arrive precomputed in
 * double by src/optim/builtin.c. */
#include <math.h>
#include <string.h>

#include "kernels.h"

/* Written to vectorise without changing one operation: pointers are
 * restrict (parameter, gradient and state never overlap), options that are
 * the same for every element are selects the compiler turns into blends,
 * and an optional buffer gets its own copy of the loop (ALWAYS_INLINE with
 * a constant flag), so no element loads or stores conditionally. */

/* The gradient the rule sees: -g when maximizing, plus an L2 term. */
ALWAYS_INLINE float rule_grad(float g, float p, bool maximize, float wd)
{
    float d = maximize ? -g : g;
    return wd != 0.0f ? d + wd * p : d;
}

/* ---- SGD: buf = momentum buf + (1 - dampening) d (buf = d the first
 * time); d = nesterov ? d + momentum buf : buf; p -= lr d ---- */
ALWAYS_INLINE void sgd_loop(size_t n, float *restrict p, const float *restrict g, float *restrict buf,
                            tg__sgd_args a, bool has_buf)
{
    for (size_t i = 0; i < n; i++) {
        float d = rule_grad(g[i], p[i], a.maximize, a.weight_decay);
        if (has_buf) {
            float b = a.first ? d : buf[i] * a.momentum + a.one_minus_dampening * d;
            buf[i] = b;
            d = a.nesterov ? d + a.momentum * b : b;
        }
        p[i] = p[i] + a.neg_lr * d;
    }
}

/* Each update runs through tg__run_sliced: the same arithmetic on every
 * element, so a parameter is cut into one fixed slice per thread. */
TG__CLONES static void sgd_slice(size_t n, float *const *b, const void *args)
{
    const tg__sgd_args *a = args;
    if (b[2])
        sgd_loop(n, b[0], b[1], b[2], *a, true);
    else
        sgd_loop(n, b[0], b[1], NULL, *a, false);
}

void tg__k_sgd(size_t n, float *p, const float *g, float *buf, const tg__sgd_args *a)
{
    tg__run_sliced(sgd_slice, n, (float *[TG__MAX_SLICE_BUFS]){p, (float *)g, buf}, a);
}

/* ---- Adagrad: sum += d^2; p -= clr d / (sqrt(sum) + eps) ---- */
static void adagrad_loop(size_t n, float *restrict p, const float *restrict g, float *restrict sum,
                         tg__adagrad_args a)
{
    for (size_t i = 0; i < n; i++) {
        float d = rule_grad(g[i], p[i], a.maximize, a.weight_decay);
        float s = sum[i] + d * d;
        sum[i] = s;
        p[i] = p[i] + a.neg_clr * (d / (sqrtf(s) + a.eps));
    }
}

TG__CLONES static void adagrad_slice(size_t n, float *const *b, const void *args)
{
    adagrad_loop(n, b[0], b[1], b[2], *(const tg__adagrad_args *)args);
}

void tg__k_adagrad(size_t n, float *p, const float *g, float *sum, const tg__adagrad_args *a)
{
    tg__run_sliced(adagrad_slice, n, (float *[TG__MAX_SLICE_BUFS]){p, (float *)g, sum}, a);
}

/* ---- RMSprop: sq = alpha sq + (1-alpha) d^2; centered: ga = alpha ga +
 * (1-alpha) d, avg = sqrt(sq - ga^2), else sqrt(sq); avg += eps;
 * momentum: buf = momentum buf + d / avg, p -= lr buf; else p -= lr d / avg ---- */
ALWAYS_INLINE void rmsprop_loop(size_t n, float *restrict p, const float *restrict g, float *restrict square_avg,
                                float *restrict grad_avg, float *restrict buf, tg__rmsprop_args a, bool centered,
                                bool has_buf)
{
    for (size_t i = 0; i < n; i++) {
        float d = rule_grad(g[i], p[i], a.maximize, a.weight_decay);
        float sq = square_avg[i] * a.alpha + a.one_minus_alpha * (d * d), avg;
        square_avg[i] = sq;
        if (centered) {
            float ga = grad_avg[i] * a.alpha + a.one_minus_alpha * d;
            grad_avg[i] = ga;
            avg = sqrtf(sq + -1.0f * (ga * ga));
        } else {
            avg = sqrtf(sq);
        }
        avg = avg + a.eps;
        if (has_buf) {
            float b = buf[i] * a.momentum + d / avg;
            buf[i] = b;
            p[i] = p[i] + a.neg_lr * b;
        } else {
            p[i] = p[i] + a.neg_lr * (d / avg);
        }
    }
}

TG__CLONES static void rmsprop_slice(size_t n, float *const *b, const void *args)
{
    const tg__rmsprop_args *a = args;
    if (b[3] && b[4])
        rmsprop_loop(n, b[0], b[1], b[2], b[3], b[4], *a, true, true);
    else if (b[3])
        rmsprop_loop(n, b[0], b[1], b[2], b[3], NULL, *a, true, false);
    else if (b[4])
        rmsprop_loop(n, b[0], b[1], b[2], NULL, b[4], *a, false, true);
    else
        rmsprop_loop(n, b[0], b[1], b[2], NULL, NULL, *a, false, false);
}

void tg__k_rmsprop(size_t n, float *p, const float *g, float *square_avg, float *grad_avg, float *buf,
                   const tg__rmsprop_args *a)
{
    tg__run_sliced(rmsprop_slice, n, (float *[TG__MAX_SLICE_BUFS]){p, (float *)g, square_avg, grad_avg, buf}, a);
}

/* ---- Adam / AdamW: (AdamW first: p *= 1 - lr wd) m = beta1 m + (1-beta1) d;
 * v = beta2 v + (1-beta2) d^2; amsgrad: vmax = max(vmax, v), use vmax;
 * p -= step_size m / (sqrt(v) / sqrt(bc2) + eps). decay_factor is exactly 1
 * for Adam, and x * 1 = x. ---- */
ALWAYS_INLINE void adam_loop(size_t n, float *restrict p, const float *restrict g, float *restrict m,
                             float *restrict v, float *restrict vmax, tg__adam_args a, bool amsgrad)
{
    for (size_t i = 0; i < n; i++) {
        float pi = p[i] * a.decay_factor;
        float d = rule_grad(g[i], pi, a.maximize, a.weight_decay);
        float mi = m[i] * a.beta1 + a.one_minus_beta1 * d;
        float vi = v[i] * a.beta2 + a.one_minus_beta2 * (d * d);
        m[i] = mi, v[i] = vi;
        float second = vi;
        if (amsgrad) second = vmax[i] = fmaxf(vmax[i], vi);
        float denom = sqrtf(second) / a.bc2_sqrt + a.eps;
        p[i] = pi + a.neg_step_size * (mi / denom);
    }
}

TG__CLONES static void adam_slice(size_t n, float *const *b, const void *args)
{
    const tg__adam_args *a = args;
    if (b[4])
        adam_loop(n, b[0], b[1], b[2], b[3], b[4], *a, true);
    else
        adam_loop(n, b[0], b[1], b[2], b[3], NULL, *a, false);
}

void tg__k_adam(size_t n, float *p, const float *g, float *m, float *v, float *vmax, const tg__adam_args *a)
{
    tg__run_sliced(adam_slice, n, (float *[TG__MAX_SLICE_BUFS]){p, (float *)g, m, v, vmax}, a);
}

/* ---- NAdam (torch 2.0's rule, the documented one): m, v as Adam;
 * denom = sqrt(v / bc2) + eps; p += c_grad d / denom + c_avg m / denom,
 * c_grad = -lr (1 - mu) / (1 - mu_product), c_avg = -lr mu_next / (1 - mu_product mu_next) ---- */
static void nadam_loop(size_t n, float *restrict p, const float *restrict g, float *restrict m, float *restrict v,
                       tg__nadam_args a)
{
    for (size_t i = 0; i < n; i++) {
        float d = rule_grad(g[i], p[i], a.maximize, a.weight_decay);
        float mi = m[i] * a.beta1 + a.one_minus_beta1 * d;
        float vi = v[i] * a.beta2 + a.one_minus_beta2 * (d * d);
        m[i] = mi, v[i] = vi;
        float denom = sqrtf(vi / a.bc2) + a.eps;
        float pi = p[i] + a.coef_grad * (d / denom);
        p[i] = pi + a.coef_avg * (mi / denom);
    }
}

TG__CLONES static void nadam_slice(size_t n, float *const *b, const void *args)
{
    nadam_loop(n, b[0], b[1], b[2], b[3], *(const tg__nadam_args *)args);
}

void tg__k_nadam(size_t n, float *p, const float *g, float *m, float *v, const tg__nadam_args *a)
{
    tg__run_sliced(nadam_slice, n, (float *[TG__MAX_SLICE_BUFS]){p, (float *)g, m, v}, a);
}

/* ---- RAdam: m, v as Adam; mhat = m / bc1; once the variance is
 * tractable (rho_t > 5) p -= mhat lr (sqrt(bc2) / (sqrt(v) + eps)) rect,
 * before that p -= mhat lr ---- */
static void radam_loop(size_t n, float *restrict p, const float *restrict g, float *restrict m, float *restrict v,
                       tg__radam_args a)
{
    for (size_t i = 0; i < n; i++) {
        float d = rule_grad(g[i], p[i], a.maximize, a.weight_decay);
        float mi = m[i] * a.beta1 + a.one_minus_beta1 * d;
        float vi = v[i] * a.beta2 + a.one_minus_beta2 * (d * d);
        m[i] = mi, v[i] = vi;
        float mhat = mi / a.bc1;
        float adaptive = a.bc2_sqrt / (sqrtf(vi) + a.eps);
        float step = a.rectified ? mhat * a.lr * adaptive * a.rect : mhat * a.lr;
        p[i] = p[i] + -1.0f * step;
    }
}

TG__CLONES static void radam_slice(size_t n, float *const *b, const void *args)
{
    radam_loop(n, b[0], b[1], b[2], b[3], *(const tg__radam_args *)args);
}

void tg__k_radam(size_t n, float *p, const float *g, float *m, float *v, const tg__radam_args *a)
{
    tg__run_sliced(radam_slice, n, (float *[TG__MAX_SLICE_BUFS]){p, (float *)g, m, v}, a);
}

/* ---- Lion (Chen et al. 2023, "Symbolic Discovery of Optimization
 * Algorithms", Alg. 2): p *= 1 - lr wd; p -= lr sign(beta1 m + (1-beta1) d);
 * m = beta2 m + (1-beta2) d ---- */
static void lion_loop(size_t n, float *restrict p, const float *restrict g, float *restrict m, tg__lion_args a)
{
    for (size_t i = 0; i < n; i++) {
        float d = a.maximize ? -g[i] : g[i];
        float pi = p[i] * a.decay_factor;
        float c = m[i] * a.beta1 + a.one_minus_beta1 * d;
        float sign = (float)((c > 0.0f) - (c < 0.0f));
        p[i] = pi + a.neg_lr * sign;
        m[i] = m[i] * a.beta2 + a.one_minus_beta2 * d;
    }
}

TG__CLONES static void lion_slice(size_t n, float *const *b, const void *args)
{
    lion_loop(n, b[0], b[1], b[2], *(const tg__lion_args *)args);
}

void tg__k_lion(size_t n, float *p, const float *g, float *m, const tg__lion_args *a)
{
    tg__run_sliced(lion_slice, n, (float *[TG__MAX_SLICE_BUFS]){p, (float *)g, m}, a);
}

/* ---- zeroing gradients: each thread the slice it will update ---- */

static void zero_slice(size_t n, float *const *b, const void *args)
{
    (void)args;
    memset(b[0], 0, n * sizeof(float));
}

void tg__k_zero(size_t n, float *x)
{
    tg__run_sliced(zero_slice, n, (float *[TG__MAX_SLICE_BUFS]){x}, NULL);
}

/* ---- clipping ---- */

void tg__k_scale(size_t n, float *x, float s)
{
    for (size_t i = 0; i < n; i++) x[i] *= s;
}

void tg__k_clamp(size_t n, float *x, float lo, float hi)
{
    for (size_t i = 0; i < n; i++) x[i] = x[i] < lo ? lo : x[i] > hi ? hi : x[i];
}

/* ---- vectors (LBFGS works on all parameters as one flat vector) ---- */

double tg__k_dot(size_t n, const float *a, const float *b)
{
    double acc = 0.0;
    for (size_t i = 0; i < n; i++) acc += (double)a[i] * b[i];
    return acc;
}

void tg__k_axpy(size_t n, float alpha, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++) y[i] = y[i] + alpha * x[i];
}

double tg__k_abs_max(size_t n, const float *x)
{
    float m = 0.0f;
    for (size_t i = 0; i < n; i++) m = fmaxf(m, fabsf(x[i]));
    return m;
}

double tg__k_abs_sum(size_t n, const float *x)
{
    double acc = 0.0;
    for (size_t i = 0; i < n; i++) acc += fabsf(x[i]);
    return acc;
}
