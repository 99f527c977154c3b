/* optim.c — one parameter's update for each optimizer, as torch 1.13's
 * single-tensor algorithms compute it (torch/optim/<name>.py): float32
 * arithmetic with each Python scalar rounded to float once, in the same
 * order of operations, so that tg follows torch to float rounding. The
 * scalar factors (bias corrections, step sizes) arrive precomputed in
 * double by src/optim/builtin.c. */
#include <math.h>

#include "kernels.h"

/* The gradient the rule sees: -g when maximizing, plus an L2 term. */
static inline float rule_grad(float g, float p, bool maximize, float wd)
{
    float d = maximize ? -g : g;
    return wd != 0.0f ? d + wd * p : d;
}

/* ---- SGD: buf = momentum buf + (1 - dampening) d (buf = d the first
 * time); d = nesterov ? d + momentum buf : buf; p -= lr d ---- */
void tg__k_sgd(size_t n, float *p, const float *g, float *buf, const tg__sgd_args *a)
{
    for (size_t i = 0; i < n; i++) {
        float d = rule_grad(g[i], p[i], a->maximize, a->weight_decay);
        if (buf) {
            buf[i] = a->first ? d : buf[i] * a->momentum + a->one_minus_dampening * d;
            d = a->nesterov ? d + a->momentum * buf[i] : buf[i];
        }
        p[i] = p[i] + a->neg_lr * d;
    }
}

/* ---- Adagrad: sum += d^2; p -= clr d / (sqrt(sum) + eps) ---- */
void tg__k_adagrad(size_t n, float *p, const float *g, float *sum, const tg__adagrad_args *a)
{
    for (size_t i = 0; i < n; i++) {
        float d = rule_grad(g[i], p[i], a->maximize, a->weight_decay);
        sum[i] = sum[i] + d * d;
        p[i] = p[i] + a->neg_clr * (d / (sqrtf(sum[i]) + a->eps));
    }
}

/* ---- RMSprop: sq = alpha sq + (1-alpha) d^2; centered: ga = alpha ga +
 * (1-alpha) d, avg = sqrt(sq - ga^2), else sqrt(sq); avg += eps;
 * momentum: buf = momentum buf + d / avg, p -= lr buf; else p -= lr d / avg ---- */
void tg__k_rmsprop(size_t n, float *p, const float *g, float *square_avg, float *grad_avg, float *buf,
                   const tg__rmsprop_args *a)
{
    for (size_t i = 0; i < n; i++) {
        float d = rule_grad(g[i], p[i], a->maximize, a->weight_decay);
        square_avg[i] = square_avg[i] * a->alpha + a->one_minus_alpha * (d * d);
        float avg;
        if (grad_avg) {
            grad_avg[i] = grad_avg[i] * a->alpha + a->one_minus_alpha * d;
            avg = sqrtf(square_avg[i] + -1.0f * (grad_avg[i] * grad_avg[i]));
        } else {
            avg = sqrtf(square_avg[i]);
        }
        avg = avg + a->eps;
        if (buf) {
            buf[i] = buf[i] * a->momentum + d / avg;
            p[i] = p[i] + a->neg_lr * buf[i];
        } else {
            p[i] = p[i] + a->neg_lr * (d / avg);
        }
    }
}

/* ---- Adam / AdamW: (AdamW first: p *= 1 - lr wd) m = beta1 m + (1-beta1) d;
 * v = beta2 v + (1-beta2) d^2; amsgrad: vmax = max(vmax, v), use vmax;
 * p -= step_size m / (sqrt(v) / sqrt(bc2) + eps) ---- */
void tg__k_adam(size_t n, float *p, const float *g, float *m, float *v, float *vmax, const tg__adam_args *a)
{
    for (size_t i = 0; i < n; i++) {
        if (a->decay_factor != 1.0f) p[i] = p[i] * a->decay_factor;
        float d = rule_grad(g[i], p[i], a->maximize, a->weight_decay);
        m[i] = m[i] * a->beta1 + a->one_minus_beta1 * d;
        v[i] = v[i] * a->beta2 + a->one_minus_beta2 * (d * d);
        float second = v[i];
        if (vmax) second = vmax[i] = fmaxf(vmax[i], v[i]);
        float denom = sqrtf(second) / a->bc2_sqrt + a->eps;
        p[i] = p[i] + a->neg_step_size * (m[i] / denom);
    }
}

/* ---- NAdam (torch 2.0's rule, the documented one): m, v as Adam;
 * denom = sqrt(v / bc2) + eps; p += c_grad d / denom + c_avg m / denom,
 * c_grad = -lr (1 - mu) / (1 - mu_product), c_avg = -lr mu_next / (1 - mu_product mu_next) ---- */
void tg__k_nadam(size_t n, float *p, const float *g, float *m, float *v, const tg__nadam_args *a)
{
    for (size_t i = 0; i < n; i++) {
        float d = rule_grad(g[i], p[i], a->maximize, a->weight_decay);
        m[i] = m[i] * a->beta1 + a->one_minus_beta1 * d;
        v[i] = v[i] * a->beta2 + a->one_minus_beta2 * (d * d);
        float denom = sqrtf(v[i] / a->bc2) + a->eps;
        p[i] = p[i] + a->coef_grad * (d / denom);
        p[i] = p[i] + a->coef_avg * (m[i] / denom);
    }
}

/* ---- RAdam: m, v as Adam; mhat = m / bc1; once the variance is
 * tractable (rho_t > 5) p -= mhat lr (sqrt(bc2) / (sqrt(v) + eps)) rect,
 * before that p -= mhat lr ---- */
void tg__k_radam(size_t n, float *p, const float *g, float *m, float *v, const tg__radam_args *a)
{
    for (size_t i = 0; i < n; i++) {
        float d = rule_grad(g[i], p[i], a->maximize, a->weight_decay);
        m[i] = m[i] * a->beta1 + a->one_minus_beta1 * d;
        v[i] = v[i] * a->beta2 + a->one_minus_beta2 * (d * d);
        float mhat = m[i] / a->bc1;
        if (a->rectified) {
            float adaptive = a->bc2_sqrt / (sqrtf(v[i]) + a->eps);
            p[i] = p[i] + -1.0f * (mhat * a->lr * adaptive * a->rect);
        } else {
            p[i] = p[i] + -1.0f * (mhat * a->lr);
        }
    }
}

/* ---- Lion (Chen et al. 2023, "Symbolic Discovery of Optimization
 * Algorithms", Alg. 2): p *= 1 - lr wd; p -= lr sign(beta1 m + (1-beta1) d);
 * m = beta2 m + (1-beta2) d ---- */
void tg__k_lion(size_t n, float *p, const float *g, float *m, const tg__lion_args *a)
{
    for (size_t i = 0; i < n; i++) {
        float d = a->maximize ? -g[i] : g[i];
        p[i] = p[i] * a->decay_factor;
        float c = m[i] * a->beta1 + a->one_minus_beta1 * d;
        float sign = (float)((c > 0.0f) - (c < 0.0f));
        p[i] = p[i] + a->neg_lr * sign;
        m[i] = m[i] * a->beta2 + a->one_minus_beta2 * d;
    }
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
