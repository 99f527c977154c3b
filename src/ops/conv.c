/* conv.c — the convolutional ops, with torch.nn.functional's semantics:
 * conv2d, max_pool2d, avg_pool2d, adaptive_avg_pool2d and dropout2d, on
 * x (N, C, H, W). The loops are in src/kernels/conv.c; a convolution is
 * im2col into graph scratch and one GEMM per sample and group. */
#include "../kernels/kernels.h"
#include "ops.h"

/* The ops of this file (each defined after its backward). */
static const tg__op_desc conv2d_op, max_pool2d_op, avg_pool2d_op, adaptive_avg_pool2d_op, dropout2d_op;

static bool is_nchw(const char *fn, const char *what, const tg_tensor *x, const char *layout)
{
    if (x->ndim == 4) return true;
    char s[64];
    tg__error("%s: %s %s: expected 4 dimensions %s", fn, what, tg_shape_str(x, s), layout);
    return false;
}

/* ---- conv2d (F.conv2d): x (N, C, H, W), w (O, C/G, kh, kw), b (O) or NULL
 * -> y (N, O, OH, OW), OH = (H + pt + pb - dh (kh - 1) - 1) / sh + 1 (floor),
 * likewise OW. For sample n and group g (input channels g C/G.., output
 * channels g O/G..), with cols = im2col(x[n, group g]) (C/G kh kw, OH OW):
 *      y[n, g] = w[g] cols + b,
 *      dw[g] += dy[n, g] cols^T,  dx[n, g] += col2im(w[g]^T dy[n, g]),
 *      db += dy summed over n and positions.
 * The backward recomputes cols rather than keeping N G of them. The
 * samples are cut into `tasks` fixed blocks, one per thread (task i on
 * worker i), each with its own cols and dcols in the graph's memory (aux):
 * every output and every dx element is computed by one task, and a GEMM in
 * a task runs serially with the same bits as a threaded one (tg__gemm is
 * deterministic for any thread count), so y and dx are the same bits on
 * any number of threads. dw sums over samples, so it stays one loop over
 * them in order, each product threaded inside tg__gemm. ---- */

typedef struct conv_plan {
    int N, C, O, G;           /* C and O in all groups */
    int pb, pr;               /* padding after the last row and column */
    tg__conv_geom gm;         /* one sample and group */
    int tasks;                /* blocks of samples, at most one per thread */
    /* 1x1, stride 1, no padding: cols is x's group itself (C/G, H W), so
     * no scratch and no copies; dx += w^T dy directly */
    bool pointwise;
    bool with_dx;             /* dx is needed: dcols exists (unless pointwise) */
    float *cols, *dcols;      /* (tasks, C/G kh kw, OH OW) each, or NULL */
} conv_plan;

/* The plan for x, w and opts, or false with a message naming the shapes. */
static bool conv_plan_make(const char *fn, const tg_tensor *x, const tg_tensor *w, const tg_conv2d_opts *opts,
                           conv_plan *p)
{
    char xs[64], ws[64];
    if (!is_nchw(fn, "x", x, "(N,C,H,W)") || !is_nchw(fn, "w", w, "(O,C/groups,kh,kw)")) return false;
    tg_conv2d_opts o = opts ? *opts : (tg_conv2d_opts){{0, 0}, {0, 0}, {0, 0}, 0, false};
    if (o.stride[0] < 0 || o.stride[1] < 0 || o.padding[0] < 0 || o.padding[1] < 0 || o.dilation[0] < 0 ||
        o.dilation[1] < 0 || o.groups < 0) {
        tg__error("%s: stride (%d,%d), padding (%d,%d), dilation (%d,%d), groups %d: none may be negative "
                  "(0 is torch's default)", fn, o.stride[0], o.stride[1], o.padding[0], o.padding[1], o.dilation[0],
                  o.dilation[1], o.groups);
        return false;
    }
    tg_shape_str(x, xs);
    tg_shape_str(w, ws);
    int G = o.groups ? o.groups : 1;
    p->N = x->shape[0], p->C = x->shape[1], p->O = w->shape[0], p->G = G;
    if (p->C % G) {
        tg__error("%s: x %s has %d channels, not divisible by groups %d", fn, xs, p->C, G);
        return false;
    }
    if (p->O % G) {
        tg__error("%s: w %s has %d output channels, not divisible by groups %d", fn, ws, p->O, G);
        return false;
    }
    if (w->shape[1] != p->C / G) {
        tg__error("%s: x %s, w %s, groups %d: w's dimension 1 must be C/groups = %d", fn, xs, ws, G, p->C / G);
        return false;
    }
    tg__conv_geom *gm = &p->gm;
    gm->C = p->C / G, gm->H = x->shape[2], gm->W = x->shape[3], gm->kh = w->shape[2], gm->kw = w->shape[3];
    gm->sh = o.stride[0] ? o.stride[0] : 1, gm->sw = o.stride[1] ? o.stride[1] : 1;
    gm->dh = o.dilation[0] ? o.dilation[0] : 1, gm->dw = o.dilation[1] ? o.dilation[1] : 1;
    int eh = gm->dh * (gm->kh - 1) + 1, ew = gm->dw * (gm->kw - 1) + 1; /* the dilated kernel */
    if (o.same) {
        if (gm->sh != 1 || gm->sw != 1) {
            tg__error("%s: padding 'same' needs stride 1, got stride (%d,%d) (x %s, w %s)", fn, gm->sh, gm->sw, xs, ws);
            return false;
        }
        if (o.padding[0] || o.padding[1]) {
            tg__error("%s: padding (%d,%d) and 'same' both given (x %s, w %s)", fn, o.padding[0], o.padding[1], xs,
                      ws);
            return false;
        }
        /* torch (aten/src/ATen/native/Convolution.cpp, _convolution_mode):
         * total padding d (k - 1), half of it before and the rest after,
         * so an even kernel pads one more on the bottom and right */
        gm->pt = (eh - 1) / 2, p->pb = eh - 1 - gm->pt;
        gm->pl = (ew - 1) / 2, p->pr = ew - 1 - gm->pl;
    } else {
        gm->pt = p->pb = o.padding[0];
        gm->pl = p->pr = o.padding[1];
    }
    int ph = gm->H + gm->pt + p->pb, pw = gm->W + gm->pl + p->pr;
    if (ph < eh || pw < ew) {
        tg__error("%s: x %s, w %s: the padded input (%d,%d) is smaller than the kernel (%d,%d) with dilation "
                  "(%d,%d)", fn, xs, ws, ph, pw, eh, ew, gm->dh, gm->dw);
        return false;
    }
    gm->OH = (ph - eh) / gm->sh + 1, gm->OW = (pw - ew) / gm->sw + 1;
    return true;
}

/* What one call's tasks share: the plan and the tensors. */
typedef struct conv_job {
    const conv_plan *p;
    const tg_tensor *x, *w, *b;
    tg_tensor *y;
    bool backward;            /* dx += col2im(w^T dy), else y = w cols + b */
} conv_job;

/* Task t of count: samples [t N / count, (t + 1) N / count), with its own
 * scratch. */
static void conv_task(void *ctx, int t, int count)
{
    const conv_job *j = ctx;
    const conv_plan *p = j->p;
    const tg__conv_geom *gm = &p->gm;
    int K = gm->C * gm->kh * gm->kw, P = gm->OH * gm->OW, Og = p->O / p->G;
    size_t ncols = (size_t)K * (size_t)P, x_group = (size_t)gm->C * (size_t)gm->H * (size_t)gm->W,
           y_group = (size_t)Og * (size_t)P;
    int n0 = (int)((long)t * p->N / count), n1 = (int)((long)(t + 1) * p->N / count);
    for (int n = n0; n < n1; n++)
        for (int gi = 0; gi < p->G; gi++) {
            size_t s = (size_t)n * (size_t)p->G + (size_t)gi, wo = (size_t)gi * (size_t)Og * (size_t)K;
            if (j->backward && p->pointwise) {
                tg__gemm(true, false, K, P, Og, j->w->data + wo, K, j->y->grad + s * y_group, P, 1.0f,
                         j->x->grad + s * x_group, P);
            } else if (j->backward) {
                float *dcols = p->dcols + (size_t)t * ncols;
                tg__gemm(true, false, K, P, Og, j->w->data + wo, K, j->y->grad + s * y_group, P, 0.0f, dcols, P);
                tg__k_col2im(gm, dcols, j->x->grad + s * x_group);
            }
            if (j->backward) continue;
            const float *cols = j->x->data + s * x_group;
            if (!p->pointwise) {
                tg__k_im2col(gm, cols, p->cols + (size_t)t * ncols);
                cols = p->cols + (size_t)t * ncols;
            }
            tg__gemm(false, false, Og, P, K, j->w->data + wo, K, cols, P, 0.0f, j->y->data + s * y_group, P);
        }
    if (j->backward || !j->b) return;
    for (int n = n0; n < n1; n++) /* the bias: b[o] on plane (n, o) */
        for (int oc = 0; oc < p->O; oc++) {
            float *row = j->y->data + ((size_t)n * (size_t)p->O + (size_t)oc) * (size_t)P;
            for (int q = 0; q < P; q++) row[q] += j->b->data[oc];
        }
}

tg_tensor *tg_conv2d(tg_graph *g, tg_tensor *x, tg_tensor *w, tg_tensor *b, const tg_conv2d_opts *opts)
{
    static const char fn[] = "tg_conv2d";
    conv_plan plan;
    if (!TG__INPUTS_OK(fn, g, x, w) || !conv_plan_make(fn, x, w, opts, &plan) ||
        !tg__vector_arg_ok(fn, g, "b", b, plan.O, "w", w))
        return NULL;
    const tg__conv_geom *gm = &plan.gm;
    tg_tensor *y = tg__op_new(fn, g, &conv2d_op, 4, (int[]){plan.N, plan.O, gm->OH, gm->OW}, x, w, b);
    if (!y) return NULL;
    plan.tasks = tg_threads() < plan.N ? tg_threads() : plan.N;
    if (plan.tasks < 1) plan.tasks = 1;
    size_t ncols = (size_t)gm->C * (size_t)gm->kh * (size_t)gm->kw * (size_t)gm->OH * (size_t)gm->OW;
    size_t scratch = (size_t)plan.tasks * ncols;
    plan.with_dx = y->requires_grad && x->requires_grad;
    plan.pointwise = gm->kh == 1 && gm->kw == 1 && gm->sh == 1 && gm->sw == 1 && gm->pt == 0 && gm->pl == 0 &&
                     plan.pb == 0 && plan.pr == 0;
    plan.cols = plan.dcols = NULL;
    conv_plan *aux = tg__graph_alloc(fn, g, sizeof *aux);
    if (!aux) return NULL;
    if (!plan.pointwise) {
        if (!(plan.cols = tg__graph_alloc(fn, g, (plan.with_dx ? 2 : 1) * scratch * sizeof(float)))) return NULL;
        plan.dcols = plan.with_dx ? plan.cols + scratch : NULL;
    }
    *aux = plan;
    y->aux = aux;
    conv_job job = {aux, x, w, b, y, false};
    tg__parallel_run(aux->tasks, conv_task, &job);
    return tg__op_done(g, y);
}

static void conv2d_backward(tg_tensor *y)
{
    tg_tensor *x = y->src[0], *w = y->src[1], *b = y->src[2];
    const conv_plan *p = y->aux;
    const tg__conv_geom *gm = &p->gm;
    int K = gm->C * gm->kh * gm->kw, P = gm->OH * gm->OW, Og = p->O / p->G;
    size_t x_group = (size_t)gm->C * (size_t)gm->H * (size_t)gm->W, y_group = (size_t)Og * (size_t)P;
    if (x->requires_grad && p->with_dx) {
        conv_job job = {p, x, w, b, y, true};
        tg__parallel_run(p->tasks, conv_task, &job);
    }
    if (w->requires_grad)
        for (int n = 0; n < p->N; n++)
            for (int gi = 0; gi < p->G; gi++) {
                size_t s = (size_t)n * (size_t)p->G + (size_t)gi, wo = (size_t)gi * (size_t)Og * (size_t)K;
                const float *cols = x->data + s * x_group;
                if (!p->pointwise) {
                    tg__k_im2col(gm, cols, p->cols);
                    cols = p->cols;
                }
                tg__gemm(false, true, Og, K, P, y->grad + s * y_group, P, cols, P, 1.0f, w->grad + wo, K);
            }
    if (b && b->requires_grad) /* summed in double, over n then positions */
        for (int oc = 0; oc < p->O; oc++) {
            double sum = 0.0;
            for (int n = 0; n < p->N; n++)
                sum += tg__k_sum((size_t)P, y->grad + ((size_t)n * (size_t)p->O + (size_t)oc) * (size_t)P);
            b->grad[oc] += (float)sum;
        }
}

static const tg__op_desc conv2d_op = {
    .name = "conv2d", .local = "per sample and group: dw += dy cols^T, dx += col2im(w^T dy), db += sum dy",
    .elementwise = false, .backward = conv2d_backward};

/* ---- max_pool2d and avg_pool2d (F.max_pool2d, F.avg_pool2d): windows of
 * kernel (kh, kw) moved by stride over each plane of x padded by padding
 * on every side, output size torch's pooling_output_shape (kernels.h).
 *   max: y = max of the window (the padding never wins); dx[argmax] += dy,
 *        the argmax the first maximum, as torch's CPU kernel.
 *   avg: y = sum of the window / divisor, dx += dy / divisor over it; the
 *        divisor counts the padding inside the padded input with
 *        count_include_pad, only the input without. ---- */

typedef struct pool_plan {
    tg__pool_geom gm;
    bool count_include_pad;
    int *idx;                 /* max: (N C OH OW) argmax positions in the plane */
} pool_plan;

static bool pool_plan_make(const char *fn, const tg_tensor *x, const tg_pool2d_opts *o, pool_plan *p)
{
    char xs[64];
    if (!is_nchw(fn, "x", x, "(N,C,H,W)")) return false;
    tg_shape_str(x, xs);
    if (!o) {
        tg__error("%s: opts is NULL: the kernel size is required (x %s)", fn, xs);
        return false;
    }
    if (o->kernel[0] < 1 || o->kernel[1] < 1 || o->stride[0] < 0 || o->stride[1] < 0 || o->padding[0] < 0 ||
        o->padding[1] < 0) {
        tg__error("%s: kernel (%d,%d), stride (%d,%d), padding (%d,%d): the kernel must be positive, stride and "
                  "padding not negative (stride 0 is the kernel)", fn, o->kernel[0], o->kernel[1], o->stride[0],
                  o->stride[1], o->padding[0], o->padding[1]);
        return false;
    }
    tg__pool_geom *gm = &p->gm;
    gm->H = x->shape[2], gm->W = x->shape[3], gm->kh = o->kernel[0], gm->kw = o->kernel[1];
    gm->sh = o->stride[0] ? o->stride[0] : gm->kh, gm->sw = o->stride[1] ? o->stride[1] : gm->kw;
    gm->ph = o->padding[0], gm->pw = o->padding[1];
    if (gm->ph > gm->kh / 2 || gm->pw > gm->kw / 2) { /* torch's pool2d_shape_check */
        tg__error("%s: padding (%d,%d) must be at most half the kernel (%d,%d)", fn, gm->ph, gm->pw, gm->kh, gm->kw);
        return false;
    }
    gm->OH = tg__k_pool_out_size(gm->H, gm->kh, gm->ph, gm->sh, o->ceil_mode);
    gm->OW = tg__k_pool_out_size(gm->W, gm->kw, gm->pw, gm->sw, o->ceil_mode);
    if (gm->OH < 1 || gm->OW < 1) {
        tg__error("%s: x %s with kernel (%d,%d), stride (%d,%d), padding (%d,%d): output size (%d,%d) is too small",
                  fn, xs, gm->kh, gm->kw, gm->sh, gm->sw, gm->ph, gm->pw, gm->OH, gm->OW);
        return false;
    }
    p->count_include_pad = o->count_include_pad;
    p->idx = NULL;
    return true;
}

static tg_tensor *pool2d(const char *fn, tg_graph *g, const tg__op_desc *op, tg_tensor *x, const tg_pool2d_opts *opts)
{
    pool_plan plan;
    if (!TG__INPUTS_OK(fn, g, x) || !pool_plan_make(fn, x, opts, &plan)) return NULL;
    const tg__pool_geom *gm = &plan.gm;
    tg_tensor *y = tg__op_new(fn, g, op, 4, (int[]){x->shape[0], x->shape[1], gm->OH, gm->OW}, x, NULL, NULL);
    pool_plan *aux = y ? tg__graph_alloc(fn, g, sizeof *aux) : NULL;
    if (!aux) return NULL;
    size_t planes = (size_t)x->shape[0] * (size_t)x->shape[1];
    if (op == &max_pool2d_op && !(plan.idx = tg__graph_alloc(fn, g, y->size * sizeof *plan.idx))) return NULL;
    *aux = plan;
    y->aux = aux;
    if (op == &max_pool2d_op) tg__k_max_pool2d(gm, planes, x->data, y->data, plan.idx);
    else tg__k_avg_pool2d(gm, planes, plan.count_include_pad, x->data, y->data);
    return tg__op_done(g, y);
}

static void pool2d_backward(tg_tensor *y)
{
    tg_tensor *x = y->src[0];
    if (!x->requires_grad) return;
    const pool_plan *p = y->aux;
    size_t planes = (size_t)x->shape[0] * (size_t)x->shape[1];
    if (y->op == &max_pool2d_op) tg__k_max_pool2d_backward(&p->gm, planes, p->idx, y->grad, x->grad);
    else tg__k_avg_pool2d_backward(&p->gm, planes, p->count_include_pad, y->grad, x->grad);
}

tg_tensor *tg_max_pool2d(tg_graph *g, tg_tensor *x, const tg_pool2d_opts *opts)
{
    return pool2d("tg_max_pool2d", g, &max_pool2d_op, x, opts);
}

tg_tensor *tg_avg_pool2d(tg_graph *g, tg_tensor *x, const tg_pool2d_opts *opts)
{
    return pool2d("tg_avg_pool2d", g, &avg_pool2d_op, x, opts);
}

static const tg__op_desc max_pool2d_op = {
    .name = "max_pool2d", .local = "dx[argmax of each window] += dy (the first maximum)",
    .elementwise = false, .backward = pool2d_backward};

static const tg__op_desc avg_pool2d_op = {
    .name = "avg_pool2d", .local = "dx += dy / divisor over each window",
    .elementwise = false, .backward = pool2d_backward};

/* ---- adaptive_avg_pool2d (F.adaptive_avg_pool2d): output (i, j) is the
 * mean of rows [floor(i H / OH), ceil((i+1) H / OH)) and the columns
 * likewise; dx += dy / window size over the window.
 * iparam[0], iparam[1] = OH, OW ---- */
tg_tensor *tg_adaptive_avg_pool2d(tg_graph *g, tg_tensor *x, int out_h, int out_w)
{
    static const char fn[] = "tg_adaptive_avg_pool2d";
    if (!TG__INPUTS_OK(fn, g, x) || !is_nchw(fn, "x", x, "(N,C,H,W)")) return NULL;
    if (out_h < 1 || out_w < 1) {
        char xs[64];
        tg__error("%s: output size (%d,%d) for x %s: both must be positive", fn, out_h, out_w, tg_shape_str(x, xs));
        return NULL;
    }
    tg_tensor *y = tg__op_new(fn, g, &adaptive_avg_pool2d_op, 4, (int[]){x->shape[0], x->shape[1], out_h, out_w},
                              x, NULL, NULL);
    if (!y) return NULL;
    y->iparam[0] = out_h, y->iparam[1] = out_w;
    tg__k_adaptive_avg_pool2d((size_t)x->shape[0] * (size_t)x->shape[1], x->shape[2], x->shape[3], out_h, out_w,
                              x->data, y->data);
    return tg__op_done(g, y);
}

static void adaptive_avg_pool2d_backward(tg_tensor *y)
{
    tg_tensor *x = y->src[0];
    if (x->requires_grad)
        tg__k_adaptive_avg_pool2d_backward((size_t)x->shape[0] * (size_t)x->shape[1], x->shape[2], x->shape[3],
                                           y->iparam[0], y->iparam[1], y->grad, x->grad);
}

static const tg__op_desc adaptive_avg_pool2d_op = {
    .name = "adaptive_avg_pool2d", .local = "dx += dy / window size over each window",
    .elementwise = false, .backward = adaptive_avg_pool2d_backward};

/* ---- dropout2d (F.dropout2d): whole channels: one draw per (n, c), in
 * that order, m = 0 with probability p else 1/(1-p) (0 when p = 1);
 *      y[n, c] = x[n, c] m[n, c],  dx[n, c] += dy[n, c] m[n, c].
 * aux: the (N C) factors ---- */
tg_tensor *tg_dropout2d(tg_graph *g, tg_tensor *x, float p, bool train, tg_rng *rng)
{
    static const char fn[] = "tg_dropout2d";
    if (!TG__INPUTS_OK(fn, g, x) || !is_nchw(fn, "x", x, "(N,C,H,W)")) return NULL;
    if (!(p >= 0.0f && p <= 1.0f)) {
        tg__error("%s: p = %g: must be in [0, 1]", fn, p);
        return NULL;
    }
    if (!train || p == 0.0f) return x;
    if (!rng) {
        tg__error("%s: rng is NULL (training dropout2d draws a mask)", fn);
        return NULL;
    }
    tg_tensor *y = tg__op_new(fn, g, &dropout2d_op, 4, x->shape, x, NULL, NULL);
    size_t planes = (size_t)x->shape[0] * (size_t)x->shape[1], plane = x->size / planes;
    float *m = y ? tg__graph_alloc(fn, g, planes * sizeof *m) : NULL;
    if (!m) return NULL;
    y->aux = m;
    y->fparam[0] = p;
    float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    for (size_t i = 0; i < planes; i++) {
        m[i] = tg_rng_uniform(rng) < p ? 0.0f : scale;
        for (size_t k = 0; k < plane; k++) y->data[i * plane + k] = x->data[i * plane + k] * m[i];
    }
    return tg__op_done(g, y);
}

static void dropout2d_backward(tg_tensor *y)
{
    tg_tensor *x = y->src[0];
    if (!x->requires_grad) return;
    const float *m = y->aux;
    size_t planes = (size_t)x->shape[0] * (size_t)x->shape[1], plane = x->size / planes;
    for (size_t i = 0; i < planes; i++)
        for (size_t k = 0; k < plane; k++) x->grad[i * plane + k] += y->grad[i * plane + k] * m[i];
}

static const tg__op_desc dropout2d_op = {
    .name = "dropout2d", .local = "dy/dx = the channel's mask / (1 - p)",
    .elementwise = true, .backward = dropout2d_backward};
