/* norm.c — layer norm and batch norm, fused: one op each with its own
 * forward and backward (src/kernels/norm.c), not a chain of small ops. The
 * statistics (mean and rstd = 1 / sqrt(var + eps) per group) are computed
 * once in the forward and saved in aux for the backward. Both see x as
 * (A, G, B), statistics per group g over A * B elements (kernels.h).
 * Inputs are recorded packed, x then weight and bias if given (iparam[1],
 * iparam[2] say which), so the trace and check-numerics, which stop at the
 * first empty slot, see all of them. */
#include <math.h>

#include "../kernels/kernels.h"
#include "ops.h"

/* The ops of this file (each defined after its backward). */
static const tg__op_desc layer_norm_op, batch_norm_op;

typedef struct norm_aux {
    size_t A, G, B;
    float *mean, *rstd;   /* (G) each */
} norm_aux;

/* A new node for op over x with optional weight w and bias b, and its aux
 * with G groups; NULL with a message. */
static tg_tensor *norm_node(const char *fn, tg_graph *g, const tg__op_desc *op, tg_tensor *x, tg_tensor *w,
                            tg_tensor *b, size_t A, size_t G, size_t B)
{
    tg_tensor *packed[3] = {x, NULL, NULL};
    int n = 1;
    if (w) packed[n++] = w;
    if (b) packed[n++] = b;
    tg_tensor *y = tg__op_new(fn, g, op, x->ndim, x->shape, packed[0], packed[1], packed[2]);
    norm_aux *aux = y ? tg__graph_alloc(fn, g, sizeof *aux) : NULL;
    if (!aux || !(aux->mean = tg__graph_alloc(fn, g, 2 * G * sizeof(float)))) return NULL;
    aux->rstd = aux->mean + G;
    aux->A = A, aux->G = G, aux->B = B;
    y->aux = aux;
    y->iparam[1] = w != NULL;
    y->iparam[2] = b != NULL;
    return y;
}

/* The backward both share: iparam[0] is batch norm's training flag (1 for
 * layer norm, whose statistics are always the input's). */
static void norm_backward(tg_tensor *y)
{
    const norm_aux *a = y->aux;
    tg_tensor *x = y->src[0], *w = y->iparam[1] ? y->src[1] : NULL, *b = y->iparam[2] ? y->src[1 + y->iparam[1]] : NULL;
    tg__k_norm_backward(a->A, a->G, a->B, y->op == &batch_norm_op, y->iparam[0] != 0, x->data, a->mean, a->rstd,
                        w ? w->data : NULL, y->grad, x->requires_grad ? x->grad : NULL,
                        w && w->requires_grad ? w->grad : NULL, b && b->requires_grad ? b->grad : NULL);
}

/* An optional affine argument (weight, bias) of shape shape[0..ndim):
 * NULL is fine; otherwise that shape, standalone or on g. */
static bool affine_ok(const char *fn, tg_graph *g, const char *what, const tg_tensor *t, int ndim, const int *shape,
                      const char *of)
{
    if (!t) return true;
    if (!tg__tensor_current(fn, g, t, what)) return false;
    bool match = t->ndim == ndim;
    for (int d = 0; d < ndim && match; d++) match = t->shape[d] == shape[d];
    if (!match) {
        char ts[64], want[64];
        int n = snprintf(want, sizeof want, "(");
        for (int d = 0; d < ndim; d++) n += snprintf(want + n, sizeof want - (size_t)n, "%s%d", d ? "," : "", shape[d]);
        snprintf(want + n, sizeof want - (size_t)n, ")");
        tg__error("%s: %s %s: expected %s, %s", fn, what, tg_shape_str(t, ts), want, of);
        return false;
    }
    if (t->graph && t->graph != g) {
        tg__error("%s: %s belongs to another graph", fn, what);
        return false;
    }
    return true;
}

/* ---- layer_norm: over the last norm_ndim dimensions of x
 * (F.layer_norm(x, x.shape[-norm_ndim:], weight, bias, eps)):
 *   y = (x - mean) / sqrt(var + eps) w + b, var biased;
 *   dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)), dxhat = dy w,
 *   dw = sum over rows of dy xhat, db = sum over rows of dy ---- */
tg_tensor *tg_layer_norm(tg_graph *g, tg_tensor *x, int norm_ndim, tg_tensor *weight, tg_tensor *bias, float eps)
{
    static const char fn[] = "tg_layer_norm";
    if (!TG__INPUTS_OK(fn, g, x)) return NULL;
    char xs[64], of[128];
    if (norm_ndim < 1 || norm_ndim > x->ndim) {
        tg__error("%s: norm_ndim %d for x %s: expected 1 to %d dimensions to normalise over", fn, norm_ndim,
                  tg_shape_str(x, xs), x->ndim);
        return NULL;
    }
    const int *nshape = x->shape + x->ndim - norm_ndim;
    snprintf(of, sizeof of, "the last %d dimension%s of x %s", norm_ndim, norm_ndim > 1 ? "s" : "",
             tg_shape_str(x, xs));
    if (!affine_ok(fn, g, "weight", weight, norm_ndim, nshape, of) || !affine_ok(fn, g, "bias", bias, norm_ndim, nshape, of))
        return NULL;
    size_t B = 1;
    for (int d = 0; d < norm_ndim; d++) B *= (size_t)nshape[d];
    size_t G = x->size / B;
    tg_tensor *y = norm_node(fn, g, &layer_norm_op, x, weight, bias, 1, G, B);
    if (!y) return NULL;
    y->iparam[0] = 1;
    norm_aux *a = y->aux;
    tg__k_norm_stats(1, G, B, x->data, (double)eps, a->mean, a->rstd, 0.0, NULL, NULL);
    tg__k_norm_forward(1, G, B, false, x->data, a->mean, a->rstd, weight ? weight->data : NULL,
                       bias ? bias->data : NULL, y->data);
    return tg__op_done(g, y);
}

static const tg__op_desc layer_norm_op = {
    .name = "layer_norm", .local = "dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)), dxhat = dy w",
    .elementwise = false, .backward = norm_backward};

/* ---- batch_norm (F.batch_norm): x (N, C), (N, C, L) or (N, C, H, W),
 * statistics per channel c over every other dimension.
 * training: y = (x - mean_c) / sqrt(var_c + eps) w_c + b_c with the batch's
 *   mean and biased variance, and running stats, if given, updated in
 *   place: running = (1 - momentum) running + momentum stat, the unbiased
 *   variance for running_var; backward through the statistics as layer
 *   norm's (per channel).
 * eval: the same with running_mean and running_var, a per-channel affine
 *   map: dx = dy w_c rstd_c.
 * iparam[0] = training ---- */
tg_tensor *tg_batch_norm(tg_graph *g, tg_tensor *x, tg_tensor *running_mean, tg_tensor *running_var,
                         tg_tensor *weight, tg_tensor *bias, bool training, float momentum, float eps)
{
    static const char fn[] = "tg_batch_norm";
    if (!TG__INPUTS_OK(fn, g, x)) return NULL;
    char xs[64];
    if (x->ndim < 2) {
        tg__error("%s: x %s: expected (N,C), (N,C,L) or (N,C,H,W)", fn, tg_shape_str(x, xs));
        return NULL;
    }
    int C = x->shape[1];
    if (!tg__vector_arg_ok(fn, g, "running_mean", running_mean, C, "x", x) ||
        !tg__vector_arg_ok(fn, g, "running_var", running_var, C, "x", x) ||
        !tg__vector_arg_ok(fn, g, "weight", weight, C, "x", x) || !tg__vector_arg_ok(fn, g, "bias", bias, C, "x", x))
        return NULL;
    size_t A = (size_t)x->shape[0], B = x->size / A / (size_t)C;
    if (training && A * B == 1) {
        tg__error("%s: expected more than 1 value per channel when training, got input size %s", fn,
                  tg_shape_str(x, xs));
        return NULL;
    }
    if (!training && (!running_mean || !running_var)) {
        tg__error("%s: running_mean and running_var are required when not training (x %s)", fn,
                  tg_shape_str(x, xs));
        return NULL;
    }
    tg_tensor *y = norm_node(fn, g, &batch_norm_op, x, weight, bias, A, (size_t)C, B);
    if (!y) return NULL;
    y->iparam[0] = training;
    norm_aux *a = y->aux;
    if (training) {
        tg__k_norm_stats(A, (size_t)C, B, x->data, (double)eps, a->mean, a->rstd, (double)momentum,
                         running_mean ? running_mean->data : NULL, running_var ? running_var->data : NULL);
    } else {
        for (int c = 0; c < C; c++) {
            a->mean[c] = running_mean->data[c];
            a->rstd[c] = (float)(1.0 / sqrt((double)running_var->data[c] + (double)eps));
        }
    }
    tg__k_norm_forward(A, (size_t)C, B, true, x->data, a->mean, a->rstd, weight ? weight->data : NULL,
                       bias ? bias->data : NULL, y->data);
    return tg__op_done(g, y);
}

static const tg__op_desc batch_norm_op = {
    .name = "batch_norm",
    .local = "training: dx = rstd (dxhat - mean_c(dxhat) - xhat mean_c(dxhat xhat)); eval: dx = rstd dxhat; dxhat = dy w",
    .elementwise = false, .backward = norm_backward};
