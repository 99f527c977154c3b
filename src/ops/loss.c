/* loss.c — the losses of torch.nn.functional, with torch's formulas and
 * reductions (https://pytorch.org/docs/stable/nn.functional.html#loss-functions).
 * Losses on a difference (mse, l1, huber) are built from ops and need no
 * backward of their own; the rest are fused ops, each with forward and
 * backward side by side. */
#include <math.h>
#include <string.h>

#include "../kernels/kernels.h"
#include "ops.h"

/* The ops of this file (each defined after its backward). */
static const tg__op_desc nll_op, cross_entropy_op, bce_op, bce_logits_op, kl_div_op, multi_margin_op;

/* ---- reductions ---- */

static bool reduction_ok(const char *fn, tg_reduction r, bool batchmean_ok)
{
    if (r == TG_REDUCE_MEAN || r == TG_REDUCE_SUM || r == TG_REDUCE_NONE ||
        (batchmean_ok && r == TG_REDUCE_BATCHMEAN))
        return true;
    tg__error("%s: reduction %d is not one of mean, sum, none%s", fn, (int)r,
              batchmean_ok ? ", batchmean" : "");
    return false;
}

/* Elementwise losses l become the loss: itself, its sum, its mean, or its
 * sum over the batch size (batchmean). */
static tg_tensor *reduce(tg_graph *g, tg_tensor *l, tg_reduction r)
{
    switch (r) {
    case TG_REDUCE_NONE: return l;
    case TG_REDUCE_SUM: return tg_sum(g, l);
    case TG_REDUCE_BATCHMEAN: return tg_mul_scalar(g, tg_sum(g, l), l && l->ndim ? 1.0f / (float)l->shape[0] : 1.0f);
    default: return tg_mean(g, l);
    }
}

/* ---- mse, l1, huber, smooth_l1: a function of d = x - y ---- */

static tg_tensor *difference(const char *fn, tg_graph *g, tg_tensor *x, tg_tensor *y, tg_reduction r)
{
    if (!TG__INPUTS_OK(fn, g, x, y) || !reduction_ok(fn, r, false)) return NULL;
    if (!tg_same_shape(x, y)) {
        char xs[64], ys[64];
        tg__error("%s: input %s and target %s differ in shape", fn, tg_shape_str(x, xs), tg_shape_str(y, ys));
        return NULL;
    }
    return tg_sub(g, x, y);
}

tg_tensor *tg_mse_loss(tg_graph *g, tg_tensor *x, tg_tensor *y, tg_reduction r)
{
    return reduce(g, tg_square(g, difference("tg_mse_loss", g, x, y, r)), r);
}

tg_tensor *tg_l1_loss(tg_graph *g, tg_tensor *x, tg_tensor *y, tg_reduction r)
{
    return reduce(g, tg_abs(g, difference("tg_l1_loss", g, x, y, r)), r);
}

tg_tensor *tg_huber_loss(tg_graph *g, tg_tensor *x, tg_tensor *y, float delta, tg_reduction r)
{
    tg_tensor *d = difference("tg_huber_loss", g, x, y, r);
    if (d && !(delta > 0.0f)) {
        tg__error("tg_huber_loss: delta %g: must be positive", delta);
        return NULL;
    }
    return reduce(g, tg__unary("tg_huber_loss", g, &tg__huber_op, d, delta, 1.0f), r);
}

/* smooth_l1(beta) = huber(delta = beta) / beta; beta = 0 is l1 (torch). */
tg_tensor *tg_smooth_l1_loss(tg_graph *g, tg_tensor *x, tg_tensor *y, float beta, tg_reduction r)
{
    if (!TG__INPUTS_OK("tg_smooth_l1_loss", g, x, y)) return NULL;
    if (!(beta >= 0.0f)) {
        tg__error("tg_smooth_l1_loss: beta %g: must be >= 0", beta);
        return NULL;
    }
    if (beta == 0.0f) return tg_l1_loss(g, x, y, r);
    tg_tensor *d = difference("tg_smooth_l1_loss", g, x, y, r);
    return reduce(g, tg__unary("tg_smooth_l1_loss", g, &tg__huber_op, d, beta, beta), r);
}

/* ---- class-index losses: what they share ---- */

static const tg_class_loss_opts class_defaults = {
    .reduction = TG_REDUCE_MEAN, .weight = NULL, .ignore = true, .ignore_index = -100, .label_smoothing = 0.0f};

/* What nll, cross_entropy and multi_margin save for backward. */
typedef struct class_loss {
    int *labels;          /* (N) copied, or NULL for probability targets */
    float *weight;        /* (C) copied, or NULL for all 1 */
    float *row_max;       /* (N) max_c x_nc (cross-entropy) */
    float *row_log_sum;   /* (N) log sum_c e^(x_nc - max) */
    float *rows;          /* (N) per-row losses before reduction */
    tg_reduction reduction;
    bool ignore;
    int ignore_index;
    float eps;            /* label smoothing */
    int p;                /* multi_margin: 1 or 2 */
    float margin;
    double denom;         /* what MEAN divides the summed rows by */
} class_loss;

static bool ignored(const class_loss *cl, size_t n)
{
    return cl->labels && cl->ignore && cl->labels[n] == cl->ignore_index;
}

static float class_weight(const class_loss *cl, int c) { return cl->weight ? cl->weight[c] : 1.0f; }

/* Checks x (N,C), the labels, the weight and the options; probs, when given,
 * must have x's shape. */
static bool class_args_ok(const char *fn, tg_graph *g, const tg_tensor *x, const int *labels,
                          const tg_tensor *probs, const tg_class_loss_opts *o)
{
    char xs[64], ws[64];
    if (x->ndim != 2) {
        tg__error("%s: input %s: expected (N, C)", fn, tg_shape_str(x, xs));
        return false;
    }
    int C = x->shape[1];
    if (!reduction_ok(fn, o->reduction, false)) return false;
    if (!tg__vector_arg_ok(fn, g, "weight", o->weight, C, "input", x)) return false;
    if (!(o->label_smoothing >= 0.0f && o->label_smoothing <= 1.0f)) {
        tg__error("%s: label_smoothing %g: must be in [0, 1]", fn, o->label_smoothing);
        return false;
    }
    if (probs && !tg_same_shape(x, probs)) {
        tg__error("%s: input %s and target %s differ in shape", fn, tg_shape_str(x, xs), tg_shape_str(probs, ws));
        return false;
    }
    if (!probs && !labels) {
        tg__error("%s: labels is NULL", fn);
        return false;
    }
    for (int n = 0; labels && n < x->shape[0]; n++) {
        if (o->ignore && labels[n] == o->ignore_index) continue;
        if (labels[n] < 0 || labels[n] >= C) {
            tg__error("%s: label %d of row %d is out of range [0, %d)", fn, labels[n], n, C);
            return false;
        }
    }
    return true;
}

/* The op's output, (N) for NONE and () otherwise, with a class_loss in aux
 * holding copies of the labels and weight. */
static tg_tensor *class_loss_new(const char *fn, tg_graph *g, const tg__op_desc *op, tg_tensor *x, tg_tensor *probs,
                                 const int *labels, const tg_class_loss_opts *o)
{
    int N = x->shape[0], C = x->shape[1];
    bool none = o->reduction == TG_REDUCE_NONE;
    tg_tensor *y = tg__op_new(fn, g, op, none ? 1 : 0, (int[]){N}, x, probs, NULL);
    class_loss *cl = y ? tg__graph_alloc(fn, g, sizeof *cl) : NULL;
    if (!cl) return NULL;
    *cl = (class_loss){.reduction = o->reduction, .ignore = o->ignore, .ignore_index = o->ignore_index,
                       .eps = o->label_smoothing};
    y->aux = cl;
    if (!(cl->row_max = tg__graph_alloc(fn, g, (size_t)N * sizeof *cl->row_max)) ||
        !(cl->row_log_sum = tg__graph_alloc(fn, g, (size_t)N * sizeof *cl->row_log_sum)))
        return NULL;
    if (!(cl->rows = none ? y->data : tg__graph_alloc(fn, g, (size_t)N * sizeof *cl->rows))) return NULL;
    if (labels) {
        if (!(cl->labels = tg__graph_alloc(fn, g, (size_t)N * sizeof *cl->labels))) return NULL;
        memcpy(cl->labels, labels, (size_t)N * sizeof *labels);
    }
    if (o->weight) {
        if (!(cl->weight = tg__graph_alloc(fn, g, (size_t)C * sizeof *cl->weight))) return NULL;
        memcpy(cl->weight, o->weight->data, (size_t)C * sizeof *cl->weight);
    }
    /* torch's MEAN: over the weights of the counted rows' labels, or over N. */
    cl->denom = 0.0;
    for (int n = 0; n < N; n++)
        if (!ignored(cl, (size_t)n)) cl->denom += labels ? class_weight(cl, labels[n]) : 1.0;
    return y;
}

/* The rows' losses become y: kept (NONE), summed, or summed / denom. */
static void finish_rows(tg_tensor *y, const class_loss *cl, size_t N)
{
    if (cl->reduction == TG_REDUCE_NONE) return;
    double total = tg__k_sum(N, cl->rows);
    y->data[0] = (float)(cl->reduction == TG_REDUCE_MEAN ? total / cl->denom : total);
}

/* d(loss)/d(row n's loss). */
static float row_grad(const tg_tensor *y, const class_loss *cl, size_t n)
{
    switch (cl->reduction) {
    case TG_REDUCE_NONE: return y->grad[n];
    case TG_REDUCE_MEAN: return (float)(y->grad[0] / cl->denom);
    default: return y->grad[0];
    }
}

/* ---- nll: l_n = -w[y_n] logp[n, y_n];  dlogp[n, y_n] -= w[y_n] g_n ---- */
tg_tensor *tg_nll_loss(tg_graph *g, tg_tensor *logp, const int *labels, const tg_class_loss_opts *opts)
{
    static const char fn[] = "tg_nll_loss";
    const tg_class_loss_opts *o = opts ? opts : &class_defaults;
    if (!TG__INPUTS_OK(fn, g, logp) || !class_args_ok(fn, g, logp, labels, NULL, o)) return NULL;
    if (o->label_smoothing != 0.0f) {
        tg__error("%s: label smoothing belongs to tg_cross_entropy", fn);
        return NULL;
    }
    tg_tensor *y = class_loss_new(fn, g, &nll_op, logp, NULL, labels, o);
    if (!y) return NULL;
    class_loss *cl = y->aux;
    size_t N = (size_t)logp->shape[0], C = (size_t)logp->shape[1];
    for (size_t n = 0; n < N; n++) {
        int c = cl->labels[n];
        cl->rows[n] = ignored(cl, n) ? 0.0f : -class_weight(cl, c) * logp->data[n * C + (size_t)c];
    }
    finish_rows(y, cl, N);
    return tg__op_done(g, y);
}

static void nll_backward(tg_tensor *y)
{
    tg_tensor *logp = y->src[0];
    const class_loss *cl = y->aux;
    size_t N = (size_t)logp->shape[0], C = (size_t)logp->shape[1];
    if (!logp->requires_grad) return;
    for (size_t n = 0; n < N; n++) {
        if (ignored(cl, n)) continue;
        int c = cl->labels[n];
        logp->grad[n * C + (size_t)c] -= class_weight(cl, c) * row_grad(y, cl, n);
    }
}

static const tg__op_desc nll_op = {
    .name = "nll_loss", .local = "dL/dlogp[n, y_n] = -w[y_n] / (sum of weights)",
    .elementwise = false, .backward = nll_backward};

/* ---- cross_entropy, fused with log_softmax:
 *   l_n = -sum_c a_nc log p_nc,  a_nc = w_c ((1-eps) t_nc + eps/C),
 * t_n the one-hot label or the given probabilities; then
 *   dx_nc += g_n (p_nc sum_k a_nk - a_nc),
 *   dt_nc -= g_n (1-eps) w_c log p_nc   (probability targets).
 * For a label, w_c t_nc = w[y_n] [c = y_n]: torch's nll term, and the eps/C
 * term is torch's smoothing term. log p = (x - max) - log_sum, in that order,
 * as torch's log_softmax: it stays exact for logits like 1e30. ---- */

static float log_p(const class_loss *cl, const float *xr, size_t n, size_t c)
{
    return (xr[c] - cl->row_max[n]) - cl->row_log_sum[n];
}

static float ce_coef(const class_loss *cl, const float *t_row, int label, size_t c, size_t C)
{
    float t = t_row ? t_row[c] : (float)((size_t)label == c);
    return class_weight(cl, (int)c) * ((1.0f - cl->eps) * t + cl->eps / (float)C);
}

static tg_tensor *cross_entropy(const char *fn, tg_graph *g, tg_tensor *x, const int *labels,
                                tg_tensor *probs, const tg_class_loss_opts *opts)
{
    const tg_class_loss_opts *o = opts ? opts : &class_defaults;
    if (!class_args_ok(fn, g, x, labels, probs, o)) return NULL;
    tg_tensor *y = class_loss_new(fn, g, &cross_entropy_op, x, probs, labels, o);
    if (!y) return NULL;
    class_loss *cl = y->aux;
    size_t N = (size_t)x->shape[0], C = (size_t)x->shape[1];
    tg__k_logsumexp_rows(N, C, x->data, cl->row_max, cl->row_log_sum);
    for (size_t n = 0; n < N; n++) {
        double l = 0.0;
        const float *xr = x->data + n * C, *tr = probs ? probs->data + n * C : NULL;
        int label = labels ? labels[n] : -1;
        for (size_t c = 0; c < C && !ignored(cl, n); c++) {
            float a = ce_coef(cl, tr, label, c, C);
            if (a != 0.0f) l -= (double)a * log_p(cl, xr, n, c); /* a masked (-inf) logit counts only if targeted */
        }
        cl->rows[n] = (float)l;
    }
    finish_rows(y, cl, N);
    return tg__op_done(g, y);
}

tg_tensor *tg_cross_entropy(tg_graph *g, tg_tensor *logits, const int *labels, const tg_class_loss_opts *opts)
{
    if (!TG__INPUTS_OK("tg_cross_entropy", g, logits)) return NULL;
    return cross_entropy("tg_cross_entropy", g, logits, labels, NULL, opts);
}

tg_tensor *tg_cross_entropy_probs(tg_graph *g, tg_tensor *logits, tg_tensor *probs, const tg_class_loss_opts *opts)
{
    static const char fn[] = "tg_cross_entropy_probs";
    if (!TG__INPUTS_OK(fn, g, logits, probs)) return NULL;
    tg_class_loss_opts o = opts ? *opts : class_defaults;
    if (opts && opts->ignore) {
        tg__error("%s: ignore_index applies to class labels, not to probabilities", fn);
        return NULL;
    }
    o.ignore = false;
    return cross_entropy(fn, g, logits, NULL, probs, &o);
}

static void cross_entropy_backward(tg_tensor *y)
{
    tg_tensor *x = y->src[0], *probs = y->src[1];
    const class_loss *cl = y->aux;
    size_t N = (size_t)x->shape[0], C = (size_t)x->shape[1];
    for (size_t n = 0; n < N; n++) {
        if (ignored(cl, n)) continue;
        float gn = row_grad(y, cl, n);
        const float *xr = x->data + n * C, *tr = probs ? probs->data + n * C : NULL;
        int label = cl->labels ? cl->labels[n] : -1;
        if (x->requires_grad) {
            double total = 0.0;
            for (size_t c = 0; c < C; c++) total += ce_coef(cl, tr, label, c, C);
            for (size_t c = 0; c < C; c++) {
                float p = expf(log_p(cl, xr, n, c));
                x->grad[n * C + c] += gn * (p * (float)total - ce_coef(cl, tr, label, c, C));
            }
        }
        if (probs && probs->requires_grad)
            for (size_t c = 0; c < C; c++)
                probs->grad[n * C + c] -= gn * (1.0f - cl->eps) * class_weight(cl, (int)c) * log_p(cl, xr, n, c);
    }
}

static const tg__op_desc cross_entropy_op = {
    .name = "cross_entropy", .local = "dL/dlogits = (softmax(logits) - onehot(y)) / N",
    .elementwise = false, .backward = cross_entropy_backward};

/* ---- multi_margin: l_n = sum_{i != y} w[y] max(0, m - x_y + x_i)^p / C;
 *      for each active term z > 0, with h = g_n w[y] (p == 1 ? 1 : 2z) / C:
 *      dx_i += h, dx_y -= h ---- */
tg_tensor *tg_multi_margin_loss(tg_graph *g, tg_tensor *x, const int *labels, int p, float margin,
                                tg_tensor *weight, tg_reduction r)
{
    static const char fn[] = "tg_multi_margin_loss";
    tg_class_loss_opts o = {.reduction = r, .weight = weight};
    if (!TG__INPUTS_OK(fn, g, x) || !class_args_ok(fn, g, x, labels, NULL, &o)) return NULL;
    if (p != 1 && p != 2) {
        tg__error("%s: p = %d: only 1 and 2 are supported", fn, p);
        return NULL;
    }
    tg_tensor *y = class_loss_new(fn, g, &multi_margin_op, x, NULL, labels, &o);
    if (!y) return NULL;
    class_loss *cl = y->aux;
    size_t N = (size_t)x->shape[0], C = (size_t)x->shape[1];
    cl->p = p;
    cl->margin = margin;
    cl->denom = (double)N; /* torch's mean is over rows, whatever the weights */
    for (size_t n = 0; n < N; n++) {
        const float *xr = x->data + n * C;
        size_t t = (size_t)cl->labels[n];
        double l = 0.0;
        for (size_t i = 0; i < C; i++) {
            float z = margin - xr[t] + xr[i];
            if (i != t && z > 0.0f) l += (double)class_weight(cl, (int)t) * (p == 1 ? z : z * z);
        }
        cl->rows[n] = (float)(l / (double)C);
    }
    finish_rows(y, cl, N);
    return tg__op_done(g, y);
}

static void multi_margin_backward(tg_tensor *y)
{
    tg_tensor *x = y->src[0];
    const class_loss *cl = y->aux;
    size_t N = (size_t)x->shape[0], C = (size_t)x->shape[1];
    if (!x->requires_grad) return;
    for (size_t n = 0; n < N; n++) {
        const float *xr = x->data + n * C;
        float *dx = x->grad + n * C;
        size_t t = (size_t)cl->labels[n];
        float gw = row_grad(y, cl, n) * class_weight(cl, (int)t) / (float)C;
        for (size_t i = 0; i < C; i++) {
            float z = cl->margin - xr[t] + xr[i];
            if (i == t || z <= 0.0f) continue;
            float h = cl->p == 1 ? gw : 2.0f * z * gw;
            dx[i] += h;
            dx[t] -= h;
        }
    }
}

static const tg__op_desc multi_margin_op = {
    .name = "multi_margin_loss", .local = "dL/dx_j = (p (margin - x_y + x_j)^(p-1)) / C where the margin is violated, minus their sum at x_y",
    .elementwise = false, .backward = multi_margin_backward};

/* ---- elementwise losses of two tensors of one shape ---- */

static tg_tensor *pair_op(const char *fn, tg_graph *g, const tg__op_desc *op, tg_tensor *x, tg_tensor *t, tg_tensor *extra,
                          tg_reduction r, bool batchmean_ok)
{
    if (!TG__INPUTS_OK(fn, g, x, t) || !reduction_ok(fn, r, batchmean_ok)) return NULL;
    if (!tg_same_shape(x, t)) {
        char xs[64], ts[64];
        tg__error("%s: input %s and target %s differ in shape", fn, tg_shape_str(x, xs), tg_shape_str(t, ts));
        return NULL;
    }
    return tg__op_new(fn, g, op, x->ndim, x->shape, x, t, extra);
}

/* An elementwise weight must broadcast to the loss's shape without growing
 * it (torch: "output with shape ... doesn't match the broadcast shape"). */
static bool weight_fits(const char *fn, const tg_tensor *w, const tg_tensor *x)
{
    bool fits = w->ndim <= x->ndim;
    for (int d = 1; fits && d <= w->ndim; d++)
        fits = w->shape[w->ndim - d] == 1 || w->shape[w->ndim - d] == x->shape[x->ndim - d];
    if (!fits) {
        char ws[64], xs[64];
        tg__error("%s: weight %s does not broadcast to input %s", fn, tg_shape_str(w, ws), tg_shape_str(x, xs));
    }
    return fits;
}

/* Applies an optional elementwise weight (broadcast) and the reduction. */
static tg_tensor *weigh_and_reduce(const char *fn, tg_graph *g, tg_tensor *l, tg_tensor *weight, tg_reduction r)
{
    if (weight && !TG__INPUTS_OK(fn, g, weight)) return NULL;
    if (weight && !weight_fits(fn, weight, l)) return NULL;
    return reduce(g, weight ? tg_mul(g, l, weight) : l, r);
}

/* ---- binary_cross_entropy on probabilities p, targets t, logs clamped at
 * -100 (torch):  l = -(t log p + (1-t) log(1-p)),
 *      dp += g (p - t) / max(p (1-p), 1e-12),  dt += g (log(1-p) - log p) ---- */
static float clamped_log(float v) { return fmaxf(logf(v), -100.0f); }
static float clamped_log1m(float p) { return fmaxf(log1pf(-p), -100.0f); }

tg_tensor *tg_bce_loss(tg_graph *g, tg_tensor *p, tg_tensor *t, tg_tensor *weight, tg_reduction r)
{
    static const char fn[] = "tg_bce_loss";
    tg_tensor *l = pair_op(fn, g, &bce_op, p, t, NULL, r, false);
    if (!l) return NULL;
    for (size_t i = 0; i < p->size; i++) {
        if (!(p->data[i] >= 0.0f && p->data[i] <= 1.0f)) {
            tg__error("%s: input element %zu is %g: probabilities must be in [0, 1]", fn, i, p->data[i]);
            return NULL;
        }
        l->data[i] = -(t->data[i] * clamped_log(p->data[i]) + (1.0f - t->data[i]) * clamped_log1m(p->data[i]));
    }
    return tg__op_done(g, l) ? weigh_and_reduce(fn, g, l, weight, r) : NULL;
}

static void bce_backward(tg_tensor *l)
{
    tg_tensor *p = l->src[0], *t = l->src[1];
    for (size_t i = 0; i < l->size; i++) {
        float pi = p->data[i], ti = t->data[i], gi = l->grad[i];
        if (p->requires_grad) p->grad[i] += gi * (pi - ti) / fmaxf((1.0f - pi) * pi, 1e-12f);
        if (t->requires_grad) t->grad[i] += gi * (clamped_log1m(pi) - clamped_log(pi));
    }
}

static const tg__op_desc bce_op = {
    .name = "binary_cross_entropy", .local = "dL/dp = w (p - y) / (p (1 - p))",
    .elementwise = false, .backward = bce_backward};

/* ---- binary_cross_entropy_with_logits, with pos_weight pw (per class,
 * along the last dimension), in torch's stable form:
 *   l = (1-t) x + (1 + (pw-1) t) sp(-x),  sp(-x) = log1p(e^-|x|) + max(-x, 0)
 *   dx += g ((pw t + 1 - t) s(x) - pw t),  dt += g (pw sp(-x) - sp(x)),
 *   dpw += g t sp(-x) ---- */
static float softplus_neg(float x) { return log1pf(expf(-fabsf(x))) + fmaxf(-x, 0.0f); }

static float pos_weight_at(const tg_tensor *pw, size_t i) { return pw ? pw->data[i % pw->size] : 1.0f; }

tg_tensor *tg_bce_with_logits(tg_graph *g, tg_tensor *x, tg_tensor *t, tg_tensor *weight, tg_tensor *pos_weight,
                              tg_reduction r)
{
    static const char fn[] = "tg_bce_with_logits";
    if (!TG__INPUTS_OK(fn, g, x, t)) return NULL;
    if (!tg__vector_arg_ok(fn, g, "pos_weight", pos_weight, x->ndim ? x->shape[x->ndim - 1] : 1, "input", x))
        return NULL;
    tg_tensor *l = pair_op(fn, g, &bce_logits_op, x, t, pos_weight, r, false);
    if (!l) return NULL;
    for (size_t i = 0; i < x->size; i++) {
        float xi = x->data[i], ti = t->data[i];
        float log_weight = 1.0f + (pos_weight_at(pos_weight, i) - 1.0f) * ti;
        l->data[i] = (1.0f - ti) * xi + log_weight * softplus_neg(xi);
    }
    return tg__op_done(g, l) ? weigh_and_reduce(fn, g, l, weight, r) : NULL;
}

static void bce_logits_backward(tg_tensor *l)
{
    tg_tensor *x = l->src[0], *t = l->src[1], *pw = l->src[2];
    for (size_t i = 0; i < l->size; i++) {
        float xi = x->data[i], ti = t->data[i], gi = l->grad[i], w = pos_weight_at(pw, i);
        float s = 1.0f / (1.0f + expf(-xi));
        if (x->requires_grad) x->grad[i] += gi * ((w * ti + 1.0f - ti) * s - w * ti);
        if (t->requires_grad) t->grad[i] += gi * (w * softplus_neg(xi) - softplus_neg(-xi));
        if (pw && pw->requires_grad) pw->grad[i % pw->size] += gi * ti * softplus_neg(xi);
    }
}

static const tg__op_desc bce_logits_op = {
    .name = "bce_with_logits", .local = "dL/dx = w (sigmoid(x) - y)",
    .elementwise = false, .backward = bce_logits_backward};

/* ---- kl_div on log-probabilities x (torch, xlogy form):
 *   l = t log t - t x (0 log 0 = 0),      dx += -g t,   dt += g (log t + 1 - x) for t > 0
 *   log_target: l = e^t (t - x),           dx += -g e^t, dt += g e^t (t - x + 1) ---- */
static float xlogx(float v) { return v == 0.0f ? 0.0f : v * logf(v); }

tg_tensor *tg_kl_div(tg_graph *g, tg_tensor *x, tg_tensor *t, bool log_target, tg_reduction r)
{
    tg_tensor *l = pair_op("tg_kl_div", g, &kl_div_op, x, t, NULL, r, true);
    if (!l) return NULL;
    l->iparam[0] = log_target;
    for (size_t i = 0; i < x->size; i++) {
        float xi = x->data[i], ti = t->data[i];
        l->data[i] = log_target ? expf(ti) * (ti - xi) : xlogx(ti) - ti * xi;
    }
    return tg__op_done(g, l) ? reduce(g, l, r) : NULL;
}

static void kl_div_backward(tg_tensor *l)
{
    tg_tensor *x = l->src[0], *t = l->src[1];
    bool log_target = l->iparam[0];
    for (size_t i = 0; i < l->size; i++) {
        float xi = x->data[i], ti = t->data[i], gi = l->grad[i];
        float target = log_target ? expf(ti) : ti;
        if (x->requires_grad) x->grad[i] -= gi * target;
        if (!t->requires_grad) continue;
        if (log_target)
            t->grad[i] += gi * target * (ti - xi + 1.0f);
        else if (ti > 0.0f)
            t->grad[i] += gi * (logf(ti) + 1.0f - xi);
    }
}

static const tg__op_desc kl_div_op = {
    .name = "kl_div", .local = "dL/dinput = -target",
    .elementwise = false, .backward = kl_div_backward};
