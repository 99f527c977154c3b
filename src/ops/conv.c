/* conv.c — the convolutional ops, with torch.nn.functional's semantics:
 * conv2d, max_pool2d, avg_pool2d, adaptive_avg_pool2d and dropout2d, on
 * x (N, C, H, W). The loops are in src/kernels/conv.c; a convolution is
 * one GEMM per sample and group on the input's patches (im2col), packed
 * straight from the input where the geometry allows. */
#include "../kernels/kernels.h"
#include "ops.h"

/* The ops of this file (each defined after its backward). */
static const tg__op_desc conv2d_op, conv2d_relu_op, max_pool2d_op, avg_pool2d_op, adaptive_avg_pool2d_op, dropout2d_op;

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
 * conv2d_relu (tg__conv2d_relu, ops.h) is max(0, that) in one op
 * (torch.ao.nn.intrinsic's ConvReLU2d; oneDNN calls it a post-op): the
 * ReLU runs on each sample's output while it is in cache, and the backward
 * first turns dy into the gradient before the ReLU, dz = dy where y > 0
 * (kept, as dw needs every sample's), and goes on with dz. A Sequential
 * runs a Conv2d and the ReLU after it this way: the separate relu op read
 * and wrote the feature maps twice more, and zeroed one more gradient of
 * their size.
 * Where stride 1 keeps the output as wide as the input, no cols are
 * written: the GEMM's micro-kernel reads cols' rows where they lie in x
 * (implicit GEMM, tg__k_cols_taps and tg__k_cols_masks; a kernel without
 * tile_rows packs them from x, tg__k_pack_cols), cols^T for dw is packed
 * straight from x (tg__k_pack_cols_t), and dx is the adjoint
 * convolution, dx[n, g] += w'[g] cols'(dy[n, g]) with w'[c, o, i, j] =
 * w[o, c, kh-1-i, kw-1-j] and padding d (k - 1) - p, read from dy the
 * same way (one sum over (o, i, j) per element, where col2im added a sum
 * over o a tap). Elsewhere dx goes through dcols and col2im, and training
 * keeps every sample's cols from the forward for dw (recomputing them cost
 * a tenth of a step); so does a dw that GEMM computes by dot products,
 * which read cols as stored (the first layer's: 9 taps). Packing from x
 * needs AVX-512 and a packing GEMM kernel (not the reference). w is packed
 * into GEMM panels once a call, not once a sample.
 *
 * Threads: the forward and dx cut the samples into `tasks` fixed blocks,
 * one per thread, each with its own scratch (by task, not thread) in the
 * graph's memory (aux); dw cuts its columns instead (the patches' rows:
 * each task packs only its own), db the channels, each task summing its
 * part over the samples in order. Every element is then computed by one
 * task in one order, and a GEMM in a task gives the bits tg__gemm would
 * (tg__gemm_part), so y, dx, dw and db are the same bits on any number of
 * threads. ---- */

typedef struct conv_plan {
    int N, C, O, G;           /* C and O in all groups */
    int pb, pr;               /* padding after the last row and column */
    tg__conv_geom gm;         /* one sample and group */
    int tasks;                /* blocks of samples, at most one per thread */
    /* 1x1, stride 1, no padding: cols is x's group itself (C/G, H W), so
     * no scratch and no copies; dx += w^T dy directly */
    bool pointwise;
    bool with_dx;             /* dx is needed (dcols exists unless pointwise or dx_direct) */
    bool keep_cols;           /* cols holds all N G samples' (for dw), else one per task */
    bool relu;                /* y = max(0, the convolution) */
    float *cols, *dcols;      /* (N G or tasks, C/G kh kw, OH OW), (tasks, ...) or NULL */
    float *dz;                /* with relu and a backward: the gradient before the ReLU, as y */
    /* Each group's w packed once for all the samples' products
     * (tg__gemm_panels), and w^T (or w', dx_direct) for dx; NULL with the
     * reference GEMM in use, which packs nothing: then tg__gemm */
    float *w_panels, *wt_panels;
    size_t panel_floats;      /* a group's, in each */
    /* cols read from x (tg__k_cols_taps, tg__k_pack_cols): no cols at all, when
     * dw does not need them kept; where each row lies and its mask, for
     * every sample (taps: gm's; taps_t: gt's, for dx_direct) */
    bool implicit;
    tg__cols_taps taps, taps_t;
    /* dw packs cols^T straight from x too (tg__k_pack_cols_t): training
     * keeps no cols (not where dw takes GEMM's dot-product path, which
     * reads cols as stored: the first layer's, 9 taps) */
    bool dw_from_x;
    /* Stride 1, as wide as the input: dx is itself a convolution, of dz
     * with w's channels swapped and its taps flipped, w'[c, o, i, j] =
     * w[o, c, kh-1-i, kw-1-j], padding d (k - 1) - p (the adjoint's
     * geometry gt), packed straight from dz: no dcols, no col2im. wflip:
     * one group's w' (C/G, O/G kh kw), packed into wt_panels */
    bool dx_direct;
    tg__conv_geom gt;
    float *wflip;
} conv_plan;

/* The plan for x, w and opts, or false with a message naming the shapes. */
static bool conv_plan_make(const char *fn, const tg_tensor *x, const tg_tensor *w, const tg_conv2d_opts *opts,
                           conv_plan *p)
{
    char xs[64], ws[64];
    if (!is_nchw(fn, "x", x, "(N,C,H,W)") || !is_nchw(fn, "w", w, "(O,C/groups,kh,kw)")) return false;
    tg_conv2d_opts o = opts ? *opts : (tg_conv2d_opts){0};
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
    bool dw, db;              /* the backward's: which gradients to sum */
    bool zero_dx;             /* dx's samples zeroed as they are reached (TG__ZERO_ON_WRITE) */
} conv_job;

/* The sizes of one sample and group: K rows of cols, P positions, Og
 * output channels, and the strides of a group in x and in y. */
typedef struct conv_dims {
    int K, P, Og;
    size_t ncols, x_group, y_group;
} conv_dims;

static conv_dims dims_of(const conv_plan *p)
{
    const tg__conv_geom *gm = &p->gm;
    conv_dims d = {gm->C * gm->kh * gm->kw, gm->OH * gm->OW, p->O / p->G, 0, 0, 0};
    d.ncols = (size_t)d.K * (size_t)d.P;
    d.x_group = (size_t)gm->C * (size_t)gm->H * (size_t)gm->W;
    d.y_group = (size_t)d.Og * (size_t)d.P;
    return d;
}

/* Samples [t N / count, (t + 1) N / count) of task t. */
static void sample_range(const conv_plan *p, int t, int count, int *n0, int *n1)
{
    *n0 = (int)((long)t * p->N / count), *n1 = (int)((long)(t + 1) * p->N / count);
}

/* The cols of sample and group s, from task t: x itself when pointwise. */
static float *cols_of(const conv_plan *p, const conv_dims *d, const float *x, size_t s, int t)
{
    if (p->pointwise) return (float *)x + s * d->x_group;
    return p->cols + (p->keep_cols ? s : (size_t)t) * d->ncols;
}

/* op(B) = cols of the input src, read where it lies (at its rows' taps)
 * or packed from it. */
static tg__gemm_b cols_in(const tg__cols_src *src, const tg__cols_taps *taps)
{
    return (tg__gemm_b){.pack = tg__k_pack_cols,
                        .ctx = src,
                        .origin = src->x,
                        .at = taps->at,
                        .which = taps->which,
                        .masks = tg__k_cols_masks};
}

/* The taps of geometry gm in the graph's memory, or false. */
static bool taps_make(const char *fn, tg_graph *g, const tg__conv_geom *gm, tg__cols_taps *t)
{
    size_t K = (size_t)gm->C * (size_t)gm->kh * (size_t)gm->kw;
    t->at = tg__graph_alloc(fn, g, K * sizeof *t->at);
    t->which = t->at ? tg__graph_alloc(fn, g, K * sizeof *t->which) : NULL;
    if (!t->which) return false;
    tg__k_cols_taps(gm, t->at, t->which);
    return true;
}

/* y[n, g] = w[g] cols for sample and group s, from task t. */
static void conv_product(const conv_job *j, const conv_dims *d, size_t s, int gi, int t)
{
    const conv_plan *p = j->p;
    const float *x = j->x->data + s * d->x_group;
    float *y = j->y->data + s * d->y_group;
    tg__cols_src src = {&p->gm, x};
    tg__gemm_b b = cols_in(&src, &p->taps);
    if (!p->implicit) {
        float *cols = cols_of(p, d, j->x->data, s, t);
        if (!p->pointwise) tg__k_im2col(&p->gm, x, cols);
        b = (tg__gemm_b){.B = cols, .ldb = d->P};
    }
    if (p->w_panels)
        tg__gemm_panels(p->w_panels + (size_t)gi * p->panel_floats, &b, d->Og, d->P, d->K, 0.0f, y, d->P);
    else
        tg__gemm(false, false, d->Og, d->P, d->K, j->w->data + (size_t)gi * (size_t)d->Og * (size_t)d->K, d->K, b.B,
                 d->P, 0.0f, y, d->P);
}

/* Forward, task t: y = w cols + b for its samples. */
static void conv_forward_task(void *ctx, int t, int count)
{
    const conv_job *j = ctx;
    const conv_plan *p = j->p;
    conv_dims d = dims_of(p);
    int n0, n1;
    sample_range(p, t, count, &n0, &n1);
    for (int n = n0; n < n1; n++) {
        for (int gi = 0; gi < p->G; gi++) conv_product(j, &d, (size_t)n * (size_t)p->G + (size_t)gi, gi, t);
        float *y = j->y->data + (size_t)n * (size_t)p->O * (size_t)d.P; /* while its planes are in cache */
        if (p->relu) tg__k_channel_bias_relu((size_t)p->O, (size_t)d.P, j->b ? j->b->data : NULL, y);
        else if (j->b) tg__k_add_channel_bias(1, (size_t)p->O, (size_t)d.P, j->b->data, y);
    }
}

/* The gradient of sample n's convolution (before the ReLU): y's own, or
 * dz, made here from it with make (once per sample: by the dx task when
 * there is one, else by mask_task). */
static const float *dy_of(const conv_job *j, int n, bool make)
{
    size_t per = (size_t)j->p->O * (size_t)j->p->gm.OH * (size_t)j->p->gm.OW, at = (size_t)n * per;
    if (!j->p->relu) return j->y->grad + at;
    if (make) tg__k_relu_mask(per, j->y->data + at, j->y->grad + at, j->p->dz + at);
    return j->p->dz + at;
}

static void mask_task(void *ctx, int t, int count)
{
    const conv_job *j = ctx;
    int n0, n1;
    sample_range(j->p, t, count, &n0, &n1);
    for (int n = n0; n < n1; n++) dy_of(j, n, true);
}

/* dx, task t: dx[n, g] += col2im(w[g]^T dy[n, g]) for its samples, or
 * directly as the adjoint convolution (dx_direct). */
static void conv_dx_task(void *ctx, int t, int count)
{
    const conv_job *j = ctx;
    const conv_plan *p = j->p;
    conv_dims d = dims_of(p);
    int n0, n1;
    sample_range(p, t, count, &n0, &n1);
    for (int n = n0; n < n1; n++) {
        const float *dy_n = dy_of(j, n, true);
        if (j->zero_dx) tg__k_zero((size_t)p->G * d.x_group, j->x->grad + (size_t)n * (size_t)p->G * d.x_group);
        for (int gi = 0; gi < p->G; gi++) {
            size_t s = (size_t)n * (size_t)p->G + (size_t)gi;
            const float *wg = j->w->data + (size_t)gi * (size_t)d.Og * (size_t)d.K, *dy = dy_n + gi * d.y_group;
            float *dx = j->x->grad + s * d.x_group;
            if (p->dx_direct) { /* dx += w' cols'(dz), of the adjoint's geometry */
                tg__cols_src src = {&p->gt, dy};
                int plane = p->gm.H * p->gm.W;
                tg__gemm_b b = cols_in(&src, &p->taps_t);
                tg__gemm_panels(p->wt_panels + (size_t)gi * p->panel_floats, &b, p->gm.C, plane,
                                d.Og * p->gm.kh * p->gm.kw, 1.0f, dx, plane);
                continue;
            }
            float *out = p->pointwise ? dx : p->dcols + (size_t)t * d.ncols, beta = p->pointwise ? 1.0f : 0.0f;
            if (p->wt_panels)
                tg__gemm_panels(p->wt_panels + (size_t)gi * p->panel_floats, &(tg__gemm_b){.B = dy, .ldb = d.P}, d.K,
                                d.P, d.Og, beta, out, d.P);
            else
                tg__gemm(true, false, d.K, d.P, d.Og, wg, d.K, dy, d.P, beta, out, d.P);
            if (!p->pointwise) tg__k_col2im(&p->gm, out, dx);
        }
    }
}

/* dw and db, task t: columns [t K / count, (t + 1) K / count) of every
 * group's dw (so each task packs only its own rows of the patches), and
 * the biases of channels [t O / count, (t + 1) O / count), each summed
 * over the samples in order. */
static void conv_dw_task(void *ctx, int t, int count)
{
    const conv_job *j = ctx;
    const conv_plan *p = j->p;
    conv_dims d = dims_of(p);
    int k0 = (int)((long)t * d.K / count), k1 = (int)((long)(t + 1) * d.K / count);
    for (int gi = 0; j->dw && gi < p->G; gi++) {
        float *dw = j->w->grad + (size_t)gi * (size_t)d.Og * (size_t)d.K;
        for (int n = 0; n < p->N; n++) {
            size_t s = (size_t)n * (size_t)p->G + (size_t)gi;
            const float *dy = dy_of(j, n, false) + gi * d.y_group;
            if (p->dw_from_x) {
                tg__cols_src src = {&p->gm, j->x->data + s * d.x_group};
                tg__gemm_part_b(0, d.Og, k0, k1, false, true, d.Og, d.K, d.P, dy, d.P,
                                &(tg__gemm_b){.pack = tg__k_pack_cols_t, .ctx = &src}, 1.0f, dw, d.K);
            } else {
                tg__gemm_part(0, d.Og, k0, k1, false, true, d.Og, d.K, d.P, dy, d.P, cols_of(p, &d, j->x->data, s, 0),
                              d.P, 1.0f, dw, d.K);
            }
        }
    }
    int c0 = (int)((long)t * p->O / count), c1 = (int)((long)(t + 1) * p->O / count);
    for (int oc = c0; j->db && oc < c1; oc++)
        j->b->grad[oc] +=
            (float)tg__k_channel_sum((size_t)p->N, (size_t)p->O, (size_t)d.P, (size_t)oc, dy_of(j, 0, false));
}

/* w'[c, (o kh + i) kw + j] = w[o, c, kh-1-i, kw-1-j] for group g's w. */
static void flip_weights(const conv_plan *p, const float *wg, float *wflip)
{
    const tg__conv_geom *gm = &p->gm;
    int Og = p->O / p->G, kh = gm->kh, kw = gm->kw;
    for (int c = 0; c < gm->C; c++)
        for (int o = 0; o < Og; o++)
            for (int i = 0; i < kh; i++)
                for (int j = 0; j < kw; j++)
                    wflip[(((size_t)c * Og + o) * kh + i) * kw + j] =
                        wg[(((size_t)o * gm->C + c) * kh + kh - 1 - i) * kw + kw - 1 - j];
}

/* Each group's w (the forward's A), or dx's A: w^T, or w' for the direct
 * dx, into its panels. */
static void pack_weights(const conv_plan *p, const tg_tensor *w, bool for_dx)
{
    conv_dims d = dims_of(p);
    for (int gi = 0; gi < p->G; gi++) {
        const float *wg = w->data + (size_t)gi * (size_t)d.Og * (size_t)d.K;
        float *panels = (for_dx ? p->wt_panels : p->w_panels) + (size_t)gi * p->panel_floats;
        if (!for_dx) {
            tg__gemm_pack_a(false, d.Og, d.K, wg, d.K, panels);
        } else if (p->dx_direct) {
            int K = d.Og * p->gm.kh * p->gm.kw;
            flip_weights(p, wg, p->wflip);
            tg__gemm_pack_a(false, p->gm.C, K, p->wflip, K, panels);
        } else {
            tg__gemm_pack_a(true, d.K, d.Og, wg, d.K, panels);
        }
    }
}

/* The adjoint's geometry: stride 1, the forward's output read with padding
 * d (k - 1) - p, giving the input's size. */
static tg__conv_geom adjoint_geom(const conv_plan *p)
{
    const tg__conv_geom *gm = &p->gm;
    return (tg__conv_geom){.C = p->O / p->G, .H = gm->OH, .W = gm->OW, .kh = gm->kh, .kw = gm->kw, .sh = 1, .sw = 1,
                           .dh = gm->dh, .dw = gm->dw, .pt = gm->dh * (gm->kh - 1) - gm->pt,
                           .pl = gm->dw * (gm->kw - 1) - gm->pl, .OH = gm->H, .OW = gm->W};
}

/* The weights' panels, and whether the forward packs cols itself; false
 * when memory is short. */
static bool plan_panels(const char *fn, tg_graph *g, conv_plan *p)
{
    conv_dims d = dims_of(p);
    /* padded to whole tiles along Og, K or C/G: room for any of them */
    size_t a = tg__gemm_a_panels_floats(d.Og, d.K), at = tg__gemm_a_panels_floats(d.K, d.Og);
    size_t af = tg__gemm_a_panels_floats(p->gm.C, d.K / p->gm.C * d.Og);
    p->panel_floats = a > at ? a : at;
    p->panel_floats = p->panel_floats > af ? p->panel_floats : af;
    p->w_panels = p->wt_panels = p->wflip = NULL;
    p->implicit = p->dx_direct = false;
    p->taps = p->taps_t = (tg__cols_taps){NULL, NULL};
    if (!p->panel_floats) return true;
    size_t group_sets = (size_t)p->G * p->panel_floats;
    if (!(p->w_panels = tg__graph_alloc(fn, g, group_sets * sizeof(float)))) return false;
    if (p->with_dx && !(p->wt_panels = tg__graph_alloc(fn, g, group_sets * sizeof(float)))) return false;
    p->implicit = !p->keep_cols && !p->pointwise && tg__k_cols_packable(&p->gm);
    p->gt = adjoint_geom(p);
    p->dx_direct = p->with_dx && !p->pointwise && p->gm.sh == 1 && p->gm.sw == 1 && tg__k_cols_packable(&p->gt);
    if (p->dx_direct && !(p->wflip = tg__graph_alloc(fn, g, (size_t)d.K * d.Og * sizeof(float)))) return false;
    if (p->implicit && !taps_make(fn, g, &p->gm, &p->taps)) return false;
    return !p->dx_direct || taps_make(fn, g, &p->gt, &p->taps_t);
}

static tg_tensor *conv2d(tg_graph *g, tg_tensor *x, tg_tensor *w, tg_tensor *b, const tg_conv2d_opts *opts,
                         bool relu)
{
    static const char fn[] = "tg_conv2d";
    conv_plan plan;
    if (!TG__INPUTS_OK(fn, g, x, w) || !conv_plan_make(fn, x, w, opts, &plan) ||
        !tg__vector_arg_ok(fn, g, "b", b, plan.O, "w", w))
        return NULL;
    const tg__conv_geom *gm = &plan.gm;
    plan.relu = relu;
    const tg__op_desc *op = plan.relu ? &conv2d_relu_op : &conv2d_op;
    tg_tensor *y = tg__op_new(fn, g, op, 4, (int[]){plan.N, plan.O, gm->OH, gm->OW}, x, w, b);
    if (!y) return NULL;
    plan.tasks = tg_threads() < plan.N ? tg_threads() : plan.N;
    if (plan.tasks < 1) plan.tasks = 1;
    conv_dims d = dims_of(&plan);
    plan.with_dx = y->requires_grad && x->requires_grad;
    plan.pointwise = gm->kh == 1 && gm->kw == 1 && gm->sh == 1 && gm->sw == 1 && gm->pt == 0 && gm->pl == 0 &&
                     plan.pb == 0 && plan.pr == 0;
    bool dw = y->requires_grad && w->requires_grad;
    plan.dw_from_x = dw && !plan.pointwise && tg__k_cols_packable(gm) && tg__gemm_packs(false, true, d.Og, d.K, d.P);
    plan.keep_cols = dw && !plan.dw_from_x;
    plan.cols = plan.dcols = plan.dz = NULL;
    conv_plan *aux = tg__graph_alloc(fn, g, sizeof *aux);
    if (!aux || !plan_panels(fn, g, &plan)) return NULL;
    if (!plan.pointwise) {
        size_t kept = (plan.keep_cols ? (size_t)plan.N * (size_t)plan.G : plan.implicit ? 0 : (size_t)plan.tasks) *
                      d.ncols;
        size_t scratch = plan.with_dx && !plan.dx_direct ? (size_t)plan.tasks * d.ncols : 0;
        if (kept + scratch && !(plan.cols = tg__graph_alloc(fn, g, (kept + scratch) * sizeof(float)))) return NULL;
        plan.dcols = scratch ? plan.cols + kept : NULL;
    }
    if (plan.w_panels) pack_weights(&plan, w, false);
    if (plan.relu && y->requires_grad && !(plan.dz = tg__graph_alloc(fn, g, y->size * sizeof(float)))) return NULL;
    *aux = plan;
    y->aux = aux;
    conv_job job = {aux, x, w, b, y, false, false, false};
    tg__parallel_run(aux->tasks, conv_forward_task, &job);
    return tg__op_done(g, y);
}

tg_tensor *tg_conv2d(tg_graph *g, tg_tensor *x, tg_tensor *w, tg_tensor *b, const tg_conv2d_opts *opts)
{
    return conv2d(g, x, w, b, opts, false);
}

tg_tensor *tg__conv2d_relu(tg_graph *g, tg_tensor *x, tg_tensor *w, tg_tensor *b, const tg_conv2d_opts *opts)
{
    /* checking numerics looks at each op's output: the convolution's own,
     * before a ReLU hides its -inf */
    if (tg__graph_checks_numerics(g)) return tg_relu(g, tg_conv2d(g, x, w, b, opts));
    return conv2d(g, x, w, b, opts, true);
}

static void conv2d_backward(tg_tensor *y)
{
    tg_tensor *x = y->src[0], *w = y->src[1], *b = y->src[2];
    const conv_plan *p = y->aux;
    /* w's gradient needs the kept cols, or x to pack them from: either
     * was set up when the forward ran with w requiring it */
    bool dx = x->requires_grad && p->with_dx, zero_dx = x->flags & TG__ZERO_ON_WRITE;
    conv_job job = {p, x, w, b, y, w->requires_grad && (p->keep_cols || p->pointwise || p->dw_from_x),
                    b && b->requires_grad, zero_dx};
    /* x made a gradient's way only after this op ran (its forward planned no dx) */
    if (zero_dx && !dx) tg__k_zero(x->size, x->grad);
    if (dx && p->wt_panels) pack_weights(p, w, true);
    if (dx) tg__parallel_run(p->tasks, conv_dx_task, &job); /* makes dz too */
    if (!job.dw && !job.db) return;
    if (p->relu && !p->dz) return; /* nothing needed a gradient when it ran: none can be made */
    if (p->relu && !dx) tg__parallel_run(p->tasks, mask_task, &job);
    int K = p->gm.C * p->gm.kh * p->gm.kw, tasks = tg_threads() < K ? tg_threads() : K;
    tg__parallel_run(tasks, conv_dw_task, &job);
}

static const tg__op_desc conv2d_op = {
    .name = "conv2d", .local = "per sample and group: dw += dy cols^T, dx += col2im(w^T dy), db += sum dy",
    .elementwise = false, .backward = conv2d_backward, .zeroes_src0_grad = true};
static const tg__op_desc conv2d_relu_op = {
    .name = "conv2d_relu",
    .local = "dz = dy where y > 0; per sample and group: dw += dz cols^T, dx += col2im(w^T dz), db += sum dz",
    .elementwise = false, .backward = conv2d_backward, .zeroes_src0_grad = true};

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

/* Planes [t P / count, (t + 1) P / count) of task t: pooling works plane
 * by plane, so each output and each dx element is one task's, and the
 * result is the same bits on any number of threads. */
typedef struct pool_job {
    const pool_plan *p;
    tg_tensor *x, *y;
    bool max, backward;
    bool zero_dx;             /* dx's planes zeroed as they are reached (TG__ZERO_ON_WRITE) */
} pool_job;

/* Planes [p0, p0 + n). */
static void pool_planes(const pool_job *j, size_t p0, size_t n)
{
    const tg__pool_geom *gm = &j->p->gm;
    size_t in = p0 * (size_t)gm->H * (size_t)gm->W, out = p0 * (size_t)gm->OH * (size_t)gm->OW;
    bool pad = j->p->count_include_pad;
    if (j->max && j->backward) tg__k_max_pool2d_backward(gm, n, j->p->idx + out, j->y->grad + out, j->x->grad + in);
    else if (j->max) tg__k_max_pool2d(gm, n, j->x->data + in, j->y->data + out, j->p->idx + out, j->y->requires_grad);
    else if (j->backward) tg__k_avg_pool2d_backward(gm, n, pad, j->y->grad + out, j->x->grad + in);
    else tg__k_avg_pool2d(gm, n, pad, j->x->data + in, j->y->data + out);
}

static void pool_task(void *ctx, int t, int count)
{
    const pool_job *j = ctx;
    size_t planes = (size_t)j->x->shape[0] * (size_t)j->x->shape[1];
    size_t p0 = planes * (size_t)t / (size_t)count, n = planes * (size_t)(t + 1) / (size_t)count - p0;
    if (!j->zero_dx) {
        pool_planes(j, p0, n);
        return;
    }
    size_t plane = (size_t)j->p->gm.H * (size_t)j->p->gm.W;
    for (size_t q = p0; q < p0 + n; q++) { /* each plane zeroed while it is about to be used */
        tg__k_zero(plane, j->x->grad + q * plane);
        pool_planes(j, q, 1);
    }
}

static void pool_run(const pool_plan *p, tg_tensor *x, tg_tensor *y, bool backward)
{
    pool_job j = {p, x, y, y->op == &max_pool2d_op, backward, backward && (x->flags & TG__ZERO_ON_WRITE)};
    size_t planes = (size_t)x->shape[0] * (size_t)x->shape[1];
    int tasks = x->size < TG__SLICE_MIN ? 1 : (size_t)tg_threads() < planes ? tg_threads() : (int)planes;
    tg__parallel_run(tasks, pool_task, &j);
}

static tg_tensor *pool2d(const char *fn, tg_graph *g, const tg__op_desc *op, tg_tensor *x, const tg_pool2d_opts *opts)
{
    pool_plan plan;
    if (!TG__INPUTS_OK(fn, g, x) || !pool_plan_make(fn, x, opts, &plan)) return NULL;
    const tg__pool_geom *gm = &plan.gm;
    tg_tensor *y = tg__op_new(fn, g, op, 4, (int[]){x->shape[0], x->shape[1], gm->OH, gm->OW}, x, NULL, NULL);
    pool_plan *aux = y ? tg__graph_alloc(fn, g, sizeof *aux) : NULL;
    if (!aux) return NULL;
    if (op == &max_pool2d_op && !(plan.idx = tg__graph_alloc(fn, g, y->size * sizeof *plan.idx))) return NULL;
    *aux = plan;
    y->aux = aux;
    pool_run(aux, x, y, false);
    return tg__op_done(g, y);
}

static void pool2d_backward(tg_tensor *y)
{
    tg_tensor *x = y->src[0];
    if (x->requires_grad) pool_run(y->aux, x, y, true);
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
    .elementwise = false, .backward = pool2d_backward, .zeroes_src0_grad = true};

static const tg__op_desc avg_pool2d_op = {
    .name = "avg_pool2d", .local = "dx += dy / divisor over each window",
    .elementwise = false, .backward = pool2d_backward, .zeroes_src0_grad = true};

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
