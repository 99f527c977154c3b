/* gradcheck_suite.c — the cases behind `tg gradcheck`: every op and loss on
 * small random inputs, each compared with central finite differences by
 * tg_gradcheck. Inputs are drawn away from the points where an op has a
 * kink (relu at 0, clamp at its bounds, a hinge at its margin), so the
 * check needs no extra tolerance there. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "../kernels/kernels.h"
#include "../ops/ops.h"

typedef enum dist {
    NORMAL,     /* N(0,1), minus a band of 0.05 around each kink */
    POSITIVE,   /* U[0.5, 2): log, sqrt, pow */
    AWAY,       /* +-U[0.5, 2): divisors */
    PROB,       /* U[0.05, 0.95): probabilities */
    ROW_PROB,   /* positive rows summing to 1 along the last dimension */
    DISTINCT    /* distinct values 0.3 apart, shuffled: max has one winner */
} dist;

typedef struct input_spec {
    int ndim;
    int shape[TG_MAX_DIMS];
    dist dist;
    bool grad;
    int n_kinks;
    float kinks[2];
} input_spec;

enum { MAX_INPUTS = 5 }; /* cat of 5 tensors, batch_norm's x, running stats, weight, bias */

typedef struct suite_case {
    const char *name;
    const char *op;   /* the name of the op it exercises */
    tg_tensor *(*build)(tg_graph *g, tg_tensor *const *in);
    void (*prepare)(tg_tensor *const *in);   /* moves inputs off kinks that depend on two inputs */
    int n_inputs;
    input_spec in[MAX_INPUTS];
} suite_case;

#define T(...) {__VA_ARGS__}
#define IN(nd, sh, d, gr) {nd, sh, d, gr, 0, {0, 0}}
#define IN_KINK(nd, sh, k0) {nd, sh, NORMAL, true, 1, {k0, 0}}

/* ---- builders ---- */
static tg_tensor *b_add(tg_graph *g, tg_tensor *const *in) { return tg_add(g, in[0], in[1]); }
static tg_tensor *b_sub(tg_graph *g, tg_tensor *const *in) { return tg_sub(g, in[0], in[1]); }
static tg_tensor *b_mul(tg_graph *g, tg_tensor *const *in) { return tg_mul(g, in[0], in[1]); }
static tg_tensor *b_div(tg_graph *g, tg_tensor *const *in) { return tg_div(g, in[0], in[1]); }
static tg_tensor *b_neg(tg_graph *g, tg_tensor *const *in) { return tg_neg(g, in[0]); }
static tg_tensor *b_add_scalar(tg_graph *g, tg_tensor *const *in) { return tg_add_scalar(g, in[0], 0.7f); }
static tg_tensor *b_mul_scalar(tg_graph *g, tg_tensor *const *in) { return tg_mul_scalar(g, in[0], -1.3f); }
static tg_tensor *b_pow(tg_graph *g, tg_tensor *const *in) { return tg_pow(g, in[0], 2.5f); }
static tg_tensor *b_pow3(tg_graph *g, tg_tensor *const *in) { return tg_pow(g, in[0], 3.0f); }
static tg_tensor *b_exp(tg_graph *g, tg_tensor *const *in) { return tg_exp(g, in[0]); }
static tg_tensor *b_log(tg_graph *g, tg_tensor *const *in) { return tg_log(g, in[0]); }
static tg_tensor *b_sqrt(tg_graph *g, tg_tensor *const *in) { return tg_sqrt(g, in[0]); }
static tg_tensor *b_abs(tg_graph *g, tg_tensor *const *in) { return tg_abs(g, in[0]); }
static tg_tensor *b_square(tg_graph *g, tg_tensor *const *in) { return tg_square(g, in[0]); }
static tg_tensor *b_clamp(tg_graph *g, tg_tensor *const *in) { return tg_clamp(g, in[0], -0.5f, 0.8f); }
static tg_tensor *b_relu(tg_graph *g, tg_tensor *const *in) { return tg_relu(g, in[0]); }
static tg_tensor *b_leaky_relu(tg_graph *g, tg_tensor *const *in) { return tg_leaky_relu(g, in[0], 0.1f); }
static tg_tensor *b_sigmoid(tg_graph *g, tg_tensor *const *in) { return tg_sigmoid(g, in[0]); }
static tg_tensor *b_tanh(tg_graph *g, tg_tensor *const *in) { return tg_tanh(g, in[0]); }
static tg_tensor *b_gelu(tg_graph *g, tg_tensor *const *in) { return tg_gelu(g, in[0]); }
static tg_tensor *b_softplus(tg_graph *g, tg_tensor *const *in) { return tg_softplus(g, in[0], 1.0f, 20.0f); }
static tg_tensor *b_softplus_thr(tg_graph *g, tg_tensor *const *in) { return tg_softplus(g, in[0], 2.0f, 1.0f); }
static tg_tensor *b_matmul(tg_graph *g, tg_tensor *const *in) { return tg_matmul(g, in[0], in[1]); }
static tg_tensor *b_transpose(tg_graph *g, tg_tensor *const *in) { return tg_transpose(g, in[0]); }
static tg_tensor *b_linear(tg_graph *g, tg_tensor *const *in) { return tg_linear(g, in[0], in[1], in[2]); }
static tg_tensor *b_linear_nobias(tg_graph *g, tg_tensor *const *in) { return tg_linear(g, in[0], in[1], NULL); }
static tg_tensor *b_linear_relu(tg_graph *g, tg_tensor *const *in) { return tg__linear_relu(g, in[0], in[1], in[2]); }
static tg_tensor *b_reshape(tg_graph *g, tg_tensor *const *in) { return tg_reshape(g, in[0], 2, (int[]){3, -1}); }
static tg_tensor *b_flatten(tg_graph *g, tg_tensor *const *in) { return tg_flatten(g, in[0], 1); }
static tg_tensor *b_sum(tg_graph *g, tg_tensor *const *in) { return tg_sum(g, in[0]); }
static tg_tensor *b_mean(tg_graph *g, tg_tensor *const *in) { return tg_mean(g, in[0]); }
static tg_tensor *b_sum_axis(tg_graph *g, tg_tensor *const *in) { return tg_sum_axis(g, in[0], 1, false); }
static tg_tensor *b_mean_axis(tg_graph *g, tg_tensor *const *in) { return tg_mean_axis(g, in[0], -1, true); }
static tg_tensor *b_max_axis1(tg_graph *g, tg_tensor *const *in) { return tg_max_axis(g, in[0], 1, false); }
static tg_tensor *b_max_axis0(tg_graph *g, tg_tensor *const *in) { return tg_max_axis(g, in[0], 0, true); }
static tg_tensor *b_softmax(tg_graph *g, tg_tensor *const *in) { return tg_softmax(g, in[0], -1); }
static tg_tensor *b_softmax0(tg_graph *g, tg_tensor *const *in) { return tg_softmax(g, in[0], 0); }
static tg_tensor *b_log_softmax(tg_graph *g, tg_tensor *const *in) { return tg_log_softmax(g, in[0], 1); }

static tg_tensor *b_sum_axis_4d(tg_graph *g, tg_tensor *const *in) { return tg_sum_axis(g, in[0], 2, true); }
static tg_tensor *b_softmax_4d(tg_graph *g, tg_tensor *const *in) { return tg_softmax(g, in[0], 1); }
static tg_tensor *b_log_softmax_4d(tg_graph *g, tg_tensor *const *in) { return tg_log_softmax(g, in[0], -1); }
static tg_tensor *b_max_axis_4d(tg_graph *g, tg_tensor *const *in) { return tg_max_axis(g, in[0], 3, false); }

/* ---- the N-D ops ---- */
static tg_tensor *b_sin(tg_graph *g, tg_tensor *const *in) { return tg_sin(g, in[0]); }
static tg_tensor *b_cos(tg_graph *g, tg_tensor *const *in) { return tg_cos(g, in[0]); }
static tg_tensor *b_maximum(tg_graph *g, tg_tensor *const *in) { return tg_maximum(g, in[0], in[1]); }
static tg_tensor *b_minimum(tg_graph *g, tg_tensor *const *in) { return tg_minimum(g, in[0], in[1]); }
/* A comparison is piecewise constant: away from ties (off_diagonal), a mask
 * it makes times a passes a gradient to a through the mask, and none to b,
 * which is what the finite differences see too. */
static tg_tensor *b_eq(tg_graph *g, tg_tensor *const *in) { return tg_mul(g, tg_eq(g, in[0], in[0]), in[1]); }
static tg_tensor *b_ne(tg_graph *g, tg_tensor *const *in) { return tg_mul(g, tg_ne(g, in[0], in[1]), in[0]); }
static tg_tensor *b_lt(tg_graph *g, tg_tensor *const *in) { return tg_mul(g, tg_lt(g, in[0], in[1]), in[0]); }
static tg_tensor *b_le(tg_graph *g, tg_tensor *const *in) { return tg_mul(g, tg_le(g, in[0], in[1]), in[1]); }
static tg_tensor *b_gt(tg_graph *g, tg_tensor *const *in) { return tg_mul(g, tg_gt(g, in[0], in[1]), in[0]); }
static tg_tensor *b_ge(tg_graph *g, tg_tensor *const *in) { return tg_mul(g, tg_ge(g, in[1], in[0]), in[1]); }

static tg_tensor *b_where(tg_graph *g, tg_tensor *const *in)
{
    static const float cond[] = {1.0f, 0.0f, -2.5f}; /* (3,1): nonzero is true */
    return tg_where(g, tg_from_data(g, cond, TG_SHAPE(3, 1)), in[0], in[1]);
}

static tg_tensor *b_permute(tg_graph *g, tg_tensor *const *in) { return tg_permute(g, in[0], TG_SHAPE(2, 0, -2)); }
static tg_tensor *b_cat2(tg_graph *g, tg_tensor *const *in) { return tg_cat(g, in, 2, 1); }
static tg_tensor *b_cat5(tg_graph *g, tg_tensor *const *in) { return tg_cat(g, in, 5, -2); }
static tg_tensor *b_stack4(tg_graph *g, tg_tensor *const *in) { return tg_stack(g, in, 4, 1); }
static tg_tensor *b_narrow(tg_graph *g, tg_tensor *const *in) { return tg_narrow(g, in[0], 1, -3, 2); }
static tg_tensor *b_slice(tg_graph *g, tg_tensor *const *in) { return tg_slice(g, in[0], -1, 1, INT_MAX, 3); }

static tg_tensor *b_index_select(tg_graph *g, tg_tensor *const *in)
{
    static const float index[] = {3, 0, 3, 1}; /* 3 twice: its gradient sums */
    return tg_index_select(g, in[0], 0, tg_from_data(g, index, TG_SHAPE(4)));
}

static tg_tensor *b_gather(tg_graph *g, tg_tensor *const *in)
{
    static const float index[] = {0, 3, 2, 2, 1, 1, 3, 0, 3}; /* (3,3) along dim 1 of a (3,4) */
    return tg_gather(g, in[0], 1, tg_from_data(g, index, TG_SHAPE(3, 3)));
}

static tg_tensor *b_embedding(tg_graph *g, tg_tensor *const *in)
{
    /* (2,3), row 4 twice. padding_idx 3 is not looked up here: a padding
     * row that is looked up has a value but, as in torch, no gradient, which
     * finite differences would see (check_torch_ref compares that case). */
    static const float indices[] = {4, 2, 0, 2, 4, 1};
    return tg_embedding(g, in[0], tg_from_data(g, indices, TG_SHAPE(2, 3)), 3);
}

static tg_tensor *b_layer_norm(tg_graph *g, tg_tensor *const *in) { return tg_layer_norm(g, in[0], 2, in[1], in[2], 1e-5f); }
static tg_tensor *b_layer_norm_plain(tg_graph *g, tg_tensor *const *in) { return tg_layer_norm(g, in[0], 1, NULL, NULL, 1e-5f); }
static tg_tensor *b_batch_norm_train(tg_graph *g, tg_tensor *const *in)
{
    return tg_batch_norm(g, in[0], in[1], in[2], in[3], in[4], true, 0.1f, 1e-5f);
}
static tg_tensor *b_batch_norm_eval(tg_graph *g, tg_tensor *const *in)
{
    return tg_batch_norm(g, in[0], in[1], in[2], in[3], in[4], false, 0.1f, 1e-5f);
}
static tg_tensor *b_batch_norm_2d(tg_graph *g, tg_tensor *const *in)
{
    return tg_batch_norm(g, in[0], NULL, NULL, NULL, in[1], true, 0.1f, 1e-3f);
}

static tg_tensor *b_dropout(tg_graph *g, tg_tensor *const *in)
{
    tg_rng rng; /* re-seeded on every call: the same mask for every evaluation */
    tg_rng_seed(&rng, 7);
    return tg_dropout(g, in[0], 0.4f, true, &rng);
}

static tg_tensor *b_mse(tg_graph *g, tg_tensor *const *in) { return tg_mse_loss(g, in[0], in[1], TG_REDUCE_MEAN); }
static tg_tensor *b_mse_sum(tg_graph *g, tg_tensor *const *in) { return tg_mse_loss(g, in[0], in[1], TG_REDUCE_SUM); }
static tg_tensor *b_l1(tg_graph *g, tg_tensor *const *in) { return tg_l1_loss(g, in[0], in[1], TG_REDUCE_MEAN); }
static tg_tensor *b_smooth_l1(tg_graph *g, tg_tensor *const *in) { return tg_smooth_l1_loss(g, in[0], in[1], 1.0f, TG_REDUCE_MEAN); }
static tg_tensor *b_smooth_l1_half(tg_graph *g, tg_tensor *const *in) { return tg_smooth_l1_loss(g, in[0], in[1], 0.5f, TG_REDUCE_SUM); }
static tg_tensor *b_huber(tg_graph *g, tg_tensor *const *in) { return tg_huber_loss(g, in[0], in[1], 0.7f, TG_REDUCE_NONE); }

static const int labels4[] = {1, 0, 4, 2};
static const int labels4_ignored[] = {1, 3, 4, 2}; /* row 2 is ignored below */
static const float class_weight5[] = {0.5f, 1.0f, 2.0f, 1.5f, 0.8f};

static tg_tensor *weight5(tg_graph *g) { return tg_from_data(g, class_weight5, 1, (int[]){5}); }

static tg_tensor *b_nll(tg_graph *g, tg_tensor *const *in) { return tg_nll_loss(g, in[0], labels4, NULL); }

static tg_tensor *b_nll_weighted(tg_graph *g, tg_tensor *const *in)
{
    tg_class_loss_opts o = {.weight = weight5(g), .ignore = true, .ignore_index = 3, .reduction = TG_REDUCE_MEAN};
    return tg_nll_loss(g, in[0], labels4_ignored, &o);
}

static tg_tensor *b_ce(tg_graph *g, tg_tensor *const *in) { return tg_cross_entropy(g, in[0], labels4, NULL); }

static tg_tensor *b_ce_all_options(tg_graph *g, tg_tensor *const *in)
{
    tg_class_loss_opts o = {.weight = weight5(g), .ignore = true, .ignore_index = 3, .label_smoothing = 0.2f};
    return tg_cross_entropy(g, in[0], labels4_ignored, &o);
}

static tg_tensor *b_ce_none(tg_graph *g, tg_tensor *const *in)
{
    tg_class_loss_opts o = {.reduction = TG_REDUCE_NONE, .label_smoothing = 0.1f};
    return tg_cross_entropy(g, in[0], labels4, &o);
}

static tg_tensor *b_ce_probs(tg_graph *g, tg_tensor *const *in)
{
    tg_class_loss_opts o = {.weight = weight5(g), .label_smoothing = 0.1f};
    return tg_cross_entropy_probs(g, in[0], in[1], &o);
}

static tg_tensor *b_bce(tg_graph *g, tg_tensor *const *in) { return tg_bce_loss(g, in[0], in[1], NULL, TG_REDUCE_MEAN); }
static tg_tensor *b_bce_weighted(tg_graph *g, tg_tensor *const *in) { return tg_bce_loss(g, in[0], in[1], in[2], TG_REDUCE_SUM); }
static tg_tensor *b_bce_logits(tg_graph *g, tg_tensor *const *in) { return tg_bce_with_logits(g, in[0], in[1], NULL, in[2], TG_REDUCE_MEAN); }
static tg_tensor *b_bce_logits_weighted(tg_graph *g, tg_tensor *const *in) { return tg_bce_with_logits(g, in[0], in[1], in[2], NULL, TG_REDUCE_NONE); }
static tg_tensor *b_kl_div(tg_graph *g, tg_tensor *const *in) { return tg_kl_div(g, in[0], in[1], false, TG_REDUCE_MEAN); }
static tg_tensor *b_kl_div_log(tg_graph *g, tg_tensor *const *in) { return tg_kl_div(g, in[0], in[1], true, TG_REDUCE_BATCHMEAN); }
static tg_tensor *b_margin(tg_graph *g, tg_tensor *const *in) { return tg_multi_margin_loss(g, in[0], labels4, 1, 1.0f, NULL, TG_REDUCE_MEAN); }
static tg_tensor *b_margin2(tg_graph *g, tg_tensor *const *in) { return tg_multi_margin_loss(g, in[0], labels4, 2, 0.5f, weight5(g), TG_REDUCE_SUM); }
static tg_tensor *b_l1_penalty(tg_graph *g, tg_tensor *const *in) { return tg_l1_penalty(g, in, 2, 0.3f); }
static tg_tensor *b_l2_penalty(tg_graph *g, tg_tensor *const *in) { return tg_l2_penalty(g, in, 2, 0.3f); }
static tg_tensor *b_elastic(tg_graph *g, tg_tensor *const *in) { return tg_elastic_net_penalty(g, in, 2, 0.2f, 0.4f); }

/* ---- convolution and pooling ---- */
static tg_tensor *b_conv2d(tg_graph *g, tg_tensor *const *in)
{
    tg_conv2d_opts o = {.stride = {2, 1}, .padding = {1, 2}, .dilation = {1, 2}, .groups = 2};
    return tg_conv2d(g, in[0], in[1], in[2], &o);
}
static tg_tensor *b_conv2d_plain(tg_graph *g, tg_tensor *const *in) { return tg_conv2d(g, in[0], in[1], NULL, NULL); }
static tg_tensor *b_conv2d_same(tg_graph *g, tg_tensor *const *in)
{
    return tg_conv2d(g, in[0], in[1], in[2], &(tg_conv2d_opts){.same = true, .dilation = {1, 2}});
}
static tg_tensor *b_conv2d_pointwise(tg_graph *g, tg_tensor *const *in)
{
    return tg_conv2d(g, in[0], in[1], in[2], &(tg_conv2d_opts){.groups = 2});
}
static const tg_conv2d_opts conv_relu_opts = {.padding = {1, 1}};
static tg_tensor *b_conv2d_relu(tg_graph *g, tg_tensor *const *in)
{
    return tg__conv2d_relu(g, in[0], in[1], in[2], &conv_relu_opts);
}

/* A fused ReLU's kink is on the product's output z (N, O, ...): each
 * channel's bias moves by steps of 0.07 until every output of the channel
 * is 0.05 or more from 0. */
static void move_biases_off_kink(const tg_tensor *z, float *bias)
{
    int O = z ? z->shape[1] : 0;
    size_t P = z ? z->size / ((size_t)z->shape[0] * (size_t)O) : 0;
    for (int o = 0; o < O; o++) {
        float shift = 0.0f;
        for (bool near = true; near; shift += 0.07f) {
            near = false;
            for (int n = 0; n < z->shape[0] && !near; n++)
                for (size_t q = 0; q < P && !near; q++)
                    near = fabsf(z->data[((size_t)n * (size_t)O + (size_t)o) * P + q] + shift) < 0.05f;
            if (!near) bias[o] += shift;
        }
    }
}

/* x (N, C, H, W), w (O, ...), b (O) */
static void off_relu_kink(tg_tensor *const *in)
{
    tg_graph *g = tg_graph_new();
    tg_graph_set_grad(g, false);
    move_biases_off_kink(g ? tg_conv2d(g, in[0], in[1], in[2], &conv_relu_opts) : NULL, in[2]->data);
    tg_graph_free(g);
}

/* x (N, in), W (O, in), b (O) */
static void off_linear_relu_kink(tg_tensor *const *in)
{
    tg_graph *g = tg_graph_new();
    tg_graph_set_grad(g, false);
    move_biases_off_kink(g ? tg_linear(g, in[0], in[1], in[2]) : NULL, in[2]->data);
    tg_graph_free(g);
}
static tg_tensor *b_max_pool2d(tg_graph *g, tg_tensor *const *in)
{
    return tg_max_pool2d(g, in[0], &(tg_pool2d_opts){.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true});
}
static tg_tensor *b_avg_pool2d(tg_graph *g, tg_tensor *const *in)
{
    return tg_avg_pool2d(g, in[0], &(tg_pool2d_opts){.kernel = {3, 2}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true});
}
static tg_tensor *b_avg_pool2d_include_pad(tg_graph *g, tg_tensor *const *in)
{
    return tg_avg_pool2d(g, in[0], &(tg_pool2d_opts){.kernel = {3, 3}, .stride = {2, 1}, .padding = {1, 1},
                                                      .ceil_mode = true, .count_include_pad = true});
}
static tg_tensor *b_adaptive_avg_pool2d(tg_graph *g, tg_tensor *const *in) { return tg_adaptive_avg_pool2d(g, in[0], 3, 4); }
static tg_tensor *b_dropout2d(tg_graph *g, tg_tensor *const *in)
{
    tg_rng rng; /* re-seeded on every call: the same mask for every evaluation */
    tg_rng_seed(&rng, 7);
    return tg_dropout2d(g, in[0], 0.5f, true, &rng);
}

/* ---- kinks that depend on two inputs ---- */

/* l1: keep |x - y| >= 0.05. */
static void off_diagonal(tg_tensor *const *in)
{
    for (size_t i = 0; i < in[0]->size; i++)
        if (fabsf(in[0]->data[i] - in[1]->data[i]) < 0.05f) in[0]->data[i] = in[1]->data[i] + 0.1f;
}

/* multi_margin: keep every hinge |margin - x_y + x_i| >= 0.05, for the
 * margins the cases use (1 and 0.5). */
static void off_hinges(tg_tensor *const *in)
{
    tg_tensor *x = in[0];
    int C = x->shape[1];
    for (int n = 0; n < x->shape[0]; n++)
        for (int i = 0; i < C; i++) {
            float *xi = &x->data[n * C + i], xy = x->data[n * C + labels4[n]];
            if (i == labels4[n]) continue;
            while (fabsf(1.0f - xy + *xi) < 0.05f || fabsf(0.5f - xy + *xi) < 0.05f) *xi += 0.07f;
        }
}

#define S2(a, b) T(a, b)
#define S3(a, b, c) T(a, b, c)
#define S4(a, b, c, d) T(a, b, c, d)

static const suite_case cases[] = {
    {"add", "add", b_add, NULL, 2, {IN(2, S2(2, 3), NORMAL, true), IN(2, S2(2, 3), NORMAL, true)}},
    {"add_broadcast", "add", b_add, NULL, 2, {IN(3, S3(2, 3, 4), NORMAL, true), IN(2, S2(3, 1), NORMAL, true)}},
    {"sub_broadcast", "sub", b_sub, NULL, 2, {IN(2, S2(4, 3), NORMAL, true), IN(1, T(3), NORMAL, true)}},
    {"mul", "mul", b_mul, NULL, 2, {IN(3, S3(2, 3, 2), NORMAL, true), IN(3, S3(2, 3, 2), NORMAL, true)}},
    {"mul_broadcast", "mul", b_mul, NULL, 2, {IN(2, S2(3, 1), NORMAL, true), IN(2, S2(1, 4), NORMAL, true)}},
    {"div", "div", b_div, NULL, 2, {IN(2, S2(3, 4), NORMAL, true), IN(2, S2(3, 4), AWAY, true)}},
    {"div_broadcast", "div", b_div, NULL, 2, {IN(2, S2(2, 3), NORMAL, true), IN(1, T(3), AWAY, true)}},
    {"neg", "neg", b_neg, NULL, 1, {IN(2, S2(2, 3), NORMAL, true)}},
    {"add_scalar", "add_scalar", b_add_scalar, NULL, 1, {IN(2, S2(2, 3), NORMAL, true)}},
    {"mul_scalar", "mul_scalar", b_mul_scalar, NULL, 1, {IN(2, S2(2, 3), NORMAL, true)}},
    {"pow", "pow", b_pow, NULL, 1, {IN(2, S2(2, 3), POSITIVE, true)}},
    {"pow_integer", "pow", b_pow3, NULL, 1, {IN(2, S2(2, 3), NORMAL, true)}},
    {"exp", "exp", b_exp, NULL, 1, {IN(2, S2(2, 3), NORMAL, true)}},
    {"log", "log", b_log, NULL, 1, {IN(2, S2(2, 3), POSITIVE, true)}},
    {"sqrt", "sqrt", b_sqrt, NULL, 1, {IN(2, S2(2, 3), POSITIVE, true)}},
    {"abs", "abs", b_abs, NULL, 1, {IN_KINK(2, S2(3, 4), 0.0f)}},
    {"square", "square", b_square, NULL, 1, {IN(2, S2(2, 3), NORMAL, true)}},
    {"clamp", "clamp", b_clamp, NULL, 1, {{2, S2(4, 4), NORMAL, true, 2, {-0.5f, 0.8f}}}},
    {"relu", "relu", b_relu, NULL, 1, {IN_KINK(2, S2(4, 4), 0.0f)}},
    {"leaky_relu", "leaky_relu", b_leaky_relu, NULL, 1, {IN_KINK(2, S2(4, 4), 0.0f)}},
    {"sigmoid", "sigmoid", b_sigmoid, NULL, 1, {IN(2, S2(3, 4), NORMAL, true)}},
    {"tanh", "tanh", b_tanh, NULL, 1, {IN(2, S2(3, 4), NORMAL, true)}},
    {"gelu", "gelu", b_gelu, NULL, 1, {IN(2, S2(3, 4), NORMAL, true)}},
    {"softplus", "softplus", b_softplus, NULL, 1, {IN(2, S2(3, 4), NORMAL, true)}},
    {"softplus_threshold", "softplus", b_softplus_thr, NULL, 1, {IN_KINK(2, S2(3, 4), 0.5f)}},
    {"matmul", "matmul", b_matmul, NULL, 2, {IN(2, S2(3, 4), NORMAL, true), IN(2, S2(4, 5), NORMAL, true)}},
    {"transpose", "transpose", b_transpose, NULL, 1, {IN(2, S2(3, 4), NORMAL, true)}},
    {"linear", "linear", b_linear, NULL, 3,
     {IN(2, S2(4, 3), NORMAL, true), IN(2, S2(5, 3), NORMAL, true), IN(1, T(5), NORMAL, true)}},
    {"linear_no_bias", "linear", b_linear_nobias, NULL, 2, {IN(2, S2(4, 3), NORMAL, true), IN(2, S2(5, 3), NORMAL, true)}},
    {"linear_relu", "linear_relu", b_linear_relu, off_linear_relu_kink, 3,
     {IN(2, S2(6, 4), NORMAL, true), IN(2, S2(5, 4), NORMAL, true), IN(1, T(5), NORMAL, true)}},
    {"reshape", "view", b_reshape, NULL, 1, {IN(2, S2(2, 6), NORMAL, true)}},
    {"flatten", "view", b_flatten, NULL, 1, {IN(3, S3(2, 3, 4), NORMAL, true)}},
    {"sum", "sum", b_sum, NULL, 1, {IN(2, S2(2, 3), NORMAL, true)}},
    {"mean", "mean", b_mean, NULL, 1, {IN(2, S2(3, 4), NORMAL, true)}},
    {"sum_axis", "sum_axis", b_sum_axis, NULL, 1, {IN(3, S3(2, 3, 4), NORMAL, true)}},
    {"mean_axis", "mean_axis", b_mean_axis, NULL, 1, {IN(3, S3(2, 3, 4), NORMAL, true)}},
    {"max_axis", "max_axis", b_max_axis1, NULL, 1, {IN(2, S2(3, 4), DISTINCT, true)}},
    {"max_axis_keepdim", "max_axis", b_max_axis0, NULL, 1, {IN(3, S3(3, 2, 2), DISTINCT, true)}},
    {"softmax", "softmax", b_softmax, NULL, 1, {IN(2, S2(3, 5), NORMAL, true)}},
    {"softmax_axis0", "softmax", b_softmax0, NULL, 1, {IN(2, S2(4, 3), NORMAL, true)}},
    {"log_softmax", "log_softmax", b_log_softmax, NULL, 1, {IN(3, S3(2, 3, 4), NORMAL, true)}},
    {"dropout", "dropout", b_dropout, NULL, 1, {IN(2, S2(4, 5), NORMAL, true)}},
    {"mse_loss", "square", b_mse, NULL, 2, {IN(2, S2(3, 4), NORMAL, true), IN(2, S2(3, 4), NORMAL, true)}},
    {"mse_loss_sum", "square", b_mse_sum, NULL, 2, {IN(1, T(5), NORMAL, true), IN(1, T(5), NORMAL, true)}},
    {"l1_loss", "abs", b_l1, off_diagonal, 2, {IN(2, S2(3, 4), NORMAL, true), IN(2, S2(3, 4), NORMAL, true)}},
    {"smooth_l1_loss", "huber", b_smooth_l1, NULL, 2, {IN(2, S2(3, 4), NORMAL, true), IN(2, S2(3, 4), NORMAL, true)}},
    {"smooth_l1_loss_beta", "huber", b_smooth_l1_half, NULL, 2, {IN(2, S2(3, 4), NORMAL, true), IN(2, S2(3, 4), NORMAL, true)}},
    {"huber_loss", "huber", b_huber, NULL, 2, {IN(2, S2(3, 4), NORMAL, true), IN(2, S2(3, 4), NORMAL, true)}},
    {"nll_loss", "nll_loss", b_nll, NULL, 1, {IN(2, S2(4, 5), NORMAL, true)}},
    {"nll_loss_weighted", "nll_loss", b_nll_weighted, NULL, 1, {IN(2, S2(4, 5), NORMAL, true)}},
    {"cross_entropy", "cross_entropy", b_ce, NULL, 1, {IN(2, S2(4, 5), NORMAL, true)}},
    {"cross_entropy_options", "cross_entropy", b_ce_all_options, NULL, 1, {IN(2, S2(4, 5), NORMAL, true)}},
    {"cross_entropy_none", "cross_entropy", b_ce_none, NULL, 1, {IN(2, S2(4, 5), NORMAL, true)}},
    {"cross_entropy_probs", "cross_entropy", b_ce_probs, NULL, 2,
     {IN(2, S2(3, 5), NORMAL, true), IN(2, S2(3, 5), ROW_PROB, true)}},
    {"bce_loss", "binary_cross_entropy", b_bce, NULL, 2, {IN(2, S2(3, 4), PROB, true), IN(2, S2(3, 4), PROB, true)}},
    {"bce_loss_weighted", "binary_cross_entropy", b_bce_weighted, NULL, 3,
     {IN(2, S2(3, 4), PROB, true), IN(2, S2(3, 4), PROB, true), IN(1, T(4), POSITIVE, true)}},
    {"bce_with_logits", "bce_with_logits", b_bce_logits, NULL, 3,
     {IN(2, S2(3, 4), NORMAL, true), IN(2, S2(3, 4), PROB, true), IN(1, T(4), POSITIVE, true)}},
    {"bce_with_logits_weighted", "bce_with_logits", b_bce_logits_weighted, NULL, 3,
     {IN(2, S2(3, 4), NORMAL, true), IN(2, S2(3, 4), PROB, true), IN(2, S2(3, 1), POSITIVE, true)}},
    {"kl_div", "kl_div", b_kl_div, NULL, 2, {IN(2, S2(3, 4), NORMAL, true), IN(2, S2(3, 4), ROW_PROB, true)}},
    {"kl_div_log_target", "kl_div", b_kl_div_log, NULL, 2, {IN(2, S2(3, 4), NORMAL, true), IN(2, S2(3, 4), NORMAL, true)}},
    {"multi_margin_loss", "multi_margin_loss", b_margin, off_hinges, 1, {IN(2, S2(4, 5), NORMAL, true)}},
    {"multi_margin_loss_p2", "multi_margin_loss", b_margin2, off_hinges, 1, {IN(2, S2(4, 5), NORMAL, true)}},
    {"l1_penalty", "abs", b_l1_penalty, NULL, 2, {IN_KINK(2, S2(3, 4), 0.0f), IN_KINK(1, T(4), 0.0f)}},
    {"l2_penalty", "square", b_l2_penalty, NULL, 2, {IN(2, S2(3, 4), NORMAL, true), IN(1, T(4), NORMAL, true)}},
    {"elastic_net_penalty", "abs", b_elastic, NULL, 2, {IN_KINK(2, S2(3, 4), 0.0f), IN_KINK(1, T(4), 0.0f)}},
    /* N-D ops: appended, since a case's inputs are seeded by its position */
    {"sum_axis_4d", "sum_axis", b_sum_axis_4d, NULL, 1, {IN(4, S4(2, 3, 2, 2), NORMAL, true)}},
    {"softmax_4d", "softmax", b_softmax_4d, NULL, 1, {IN(4, S4(2, 3, 2, 2), NORMAL, true)}},
    {"log_softmax_4d", "log_softmax", b_log_softmax_4d, NULL, 1, {IN(4, S4(2, 2, 2, 3), NORMAL, true)}},
    {"max_axis_4d", "max_axis", b_max_axis_4d, NULL, 1, {IN(4, S4(2, 2, 2, 3), DISTINCT, true)}},
    {"sin", "sin", b_sin, NULL, 1, {IN(3, S3(2, 3, 2), NORMAL, true)}},
    {"cos", "cos", b_cos, NULL, 1, {IN(3, S3(2, 3, 2), NORMAL, true)}},
    {"maximum", "maximum", b_maximum, off_diagonal, 2, {IN(2, S2(3, 4), NORMAL, true), IN(2, S2(3, 4), NORMAL, true)}},
    {"minimum", "minimum", b_minimum, off_diagonal, 2, {IN(3, S3(2, 2, 3), NORMAL, true), IN(3, S3(2, 2, 3), NORMAL, true)}},
    {"eq", "eq", b_eq, NULL, 2, {IN(2, S2(3, 4), NORMAL, true), IN(2, S2(3, 4), NORMAL, true)}},
    {"ne", "ne", b_ne, off_diagonal, 2, {IN(2, S2(3, 4), NORMAL, true), IN(2, S2(3, 4), NORMAL, true)}},
    {"lt", "lt", b_lt, off_diagonal, 2, {IN(2, S2(3, 4), NORMAL, true), IN(2, S2(3, 4), NORMAL, true)}},
    {"le", "le", b_le, off_diagonal, 2, {IN(2, S2(3, 4), NORMAL, true), IN(2, S2(3, 4), NORMAL, true)}},
    {"gt", "gt", b_gt, off_diagonal, 2, {IN(2, S2(3, 4), NORMAL, true), IN(2, S2(3, 4), NORMAL, true)}},
    {"ge", "ge", b_ge, off_diagonal, 2, {IN(2, S2(3, 4), NORMAL, true), IN(2, S2(3, 4), NORMAL, true)}},
    {"where", "where", b_where, NULL, 2, {IN(3, S3(2, 3, 4), NORMAL, true), IN(1, T(4), NORMAL, true)}},
    {"matmul_batched", "matmul", b_matmul, NULL, 2, {IN(3, S3(2, 3, 4), NORMAL, true), IN(3, S3(2, 4, 2), NORMAL, true)}},
    {"matmul_batch_broadcast", "matmul", b_matmul, NULL, 2,
     {IN(4, S4(2, 1, 3, 4), NORMAL, true), IN(3, S3(3, 4, 2), NORMAL, true)}},
    {"matmul_batched_matrix", "matmul", b_matmul, NULL, 2, {IN(3, S3(2, 3, 4), NORMAL, true), IN(2, S2(4, 5), NORMAL, true)}},
    {"matmul_dot", "matmul", b_matmul, NULL, 2, {IN(1, T(5), NORMAL, true), IN(1, T(5), NORMAL, true)}},
    {"matmul_vector_batched", "matmul", b_matmul, NULL, 2, {IN(1, T(4), NORMAL, true), IN(3, S3(2, 4, 3), NORMAL, true)}},
    {"matmul_batched_vector", "matmul", b_matmul, NULL, 2, {IN(3, S3(2, 3, 4), NORMAL, true), IN(1, T(4), NORMAL, true)}},
    {"linear_3d", "linear", b_linear, NULL, 3,
     {IN(3, S3(2, 3, 4), NORMAL, true), IN(2, S2(5, 4), NORMAL, true), IN(1, T(5), NORMAL, true)}},
    {"permute", "permute", b_permute, NULL, 1, {IN(3, S3(2, 3, 4), NORMAL, true)}},
    {"cat", "cat", b_cat2, NULL, 2, {IN(2, S2(2, 3), NORMAL, true), IN(2, S2(2, 4), NORMAL, true)}},
    {"cat_five", "cat", b_cat5, NULL, 5,
     {IN(3, S3(2, 1, 2), NORMAL, true), IN(3, S3(2, 3, 2), NORMAL, true), IN(3, S3(2, 2, 2), NORMAL, false),
      IN(3, S3(2, 1, 2), NORMAL, true), IN(3, S3(2, 2, 2), NORMAL, true)}},
    {"stack", "cat", b_stack4, NULL, 4,
     {IN(2, S2(3, 2), NORMAL, true), IN(2, S2(3, 2), NORMAL, true), IN(2, S2(3, 2), NORMAL, true),
      IN(2, S2(3, 2), NORMAL, true)}},
    {"narrow", "slice", b_narrow, NULL, 1, {IN(2, S2(4, 5), NORMAL, true)}},
    {"slice", "slice", b_slice, NULL, 1, {IN(2, S2(3, 7), NORMAL, true)}},
    {"index_select", "index_select", b_index_select, NULL, 1, {IN(2, S2(4, 3), NORMAL, true)}},
    {"gather", "gather", b_gather, NULL, 1, {IN(2, S2(3, 4), NORMAL, true)}},
    {"embedding", "embedding", b_embedding, NULL, 1, {IN(2, S2(5, 3), NORMAL, true)}},
    {"layer_norm", "layer_norm", b_layer_norm, NULL, 3,
     {IN(3, S3(2, 3, 4), NORMAL, true), IN(2, S2(3, 4), NORMAL, true), IN(2, S2(3, 4), NORMAL, true)}},
    {"layer_norm_plain", "layer_norm", b_layer_norm_plain, NULL, 1, {IN(2, S2(3, 5), NORMAL, true)}},
    {"batch_norm_train", "batch_norm", b_batch_norm_train, NULL, 5,
     {IN(3, S3(4, 3, 2), NORMAL, true), IN(1, T(3), NORMAL, false), IN(1, T(3), POSITIVE, false),
      IN(1, T(3), NORMAL, true), IN(1, T(3), NORMAL, true)}},
    {"batch_norm_eval", "batch_norm", b_batch_norm_eval, NULL, 5,
     {IN(4, S4(2, 3, 2, 2), NORMAL, true), IN(1, T(3), NORMAL, false), IN(1, T(3), POSITIVE, false),
      IN(1, T(3), NORMAL, true), IN(1, T(3), NORMAL, true)}},
    {"batch_norm_2d", "batch_norm", b_batch_norm_2d, NULL, 2, {IN(2, S2(5, 3), NORMAL, true), IN(1, T(3), NORMAL, true)}},
    /* convolution and pooling (DISTINCT: one maximum per window) */
    {"conv2d", "conv2d", b_conv2d, NULL, 3,
     {IN(4, S4(2, 4, 5, 6), NORMAL, true), IN(4, S4(6, 2, 3, 2), NORMAL, true), IN(1, T(6), NORMAL, true)}},
    {"conv2d_plain", "conv2d", b_conv2d_plain, NULL, 2, {IN(4, S4(2, 3, 4, 4), NORMAL, true), IN(4, S4(2, 3, 3, 3), NORMAL, true)}},
    {"conv2d_same_even", "conv2d", b_conv2d_same, NULL, 3,
     {IN(4, S4(1, 2, 5, 6), NORMAL, true), IN(4, S4(3, 2, 4, 2), NORMAL, true), IN(1, T(3), NORMAL, false)}},
    {"conv2d_relu", "conv2d_relu", b_conv2d_relu, off_relu_kink, 3,
     {IN(4, S4(2, 2, 4, 4), NORMAL, true), IN(4, S4(3, 2, 3, 3), NORMAL, true), IN(1, T(3), NORMAL, true)}},
    {"max_pool2d", "max_pool2d", b_max_pool2d, NULL, 1, {IN(4, S4(2, 2, 5, 5), DISTINCT, true)}},
    {"avg_pool2d", "avg_pool2d", b_avg_pool2d, NULL, 1, {IN(4, S4(1, 2, 6, 5), NORMAL, true)}},
    {"avg_pool2d_include_pad", "avg_pool2d", b_avg_pool2d_include_pad, NULL, 1, {IN(4, S4(2, 1, 5, 4), NORMAL, true)}},
    {"adaptive_avg_pool2d", "adaptive_avg_pool2d", b_adaptive_avg_pool2d, NULL, 1, {IN(4, S4(2, 2, 5, 7), NORMAL, true)}},
    {"dropout2d", "dropout2d", b_dropout2d, NULL, 1, {IN(4, S4(3, 4, 2, 2), NORMAL, true)}},
    {"conv2d_pointwise", "conv2d", b_conv2d_pointwise, NULL, 3,
     {IN(4, S4(2, 4, 3, 3), NORMAL, true), IN(4, S4(6, 2, 1, 1), NORMAL, true), IN(1, T(6), NORMAL, true)}},
};

enum { N_CASES = sizeof cases / sizeof cases[0] };

/* ---- inputs ---- */

static bool near_kink(const input_spec *s, float v)
{
    for (int k = 0; k < s->n_kinks; k++)
        if (fabsf(v - s->kinks[k]) < 0.05f) return true;
    return false;
}

static void fill(tg_tensor *t, const input_spec *s, tg_rng *rng)
{
    size_t n = t->size, row = (size_t)(t->ndim ? t->shape[t->ndim - 1] : 1);
    for (size_t i = 0; i < n; i++) {
        float u = tg_rng_uniform(rng), v;
        switch (s->dist) {
        case POSITIVE: v = 0.5f + 1.5f * u; break;
        case AWAY: v = (0.5f + 1.5f * u) * (tg_rng_uniform(rng) < 0.5f ? -1.0f : 1.0f); break;
        case PROB: v = 0.05f + 0.9f * u; break;
        case ROW_PROB: v = 0.2f + u; break;
        case DISTINCT: v = 0.3f * (float)i - 0.15f * (float)n + 0.05f * u; break;
        default:
            do v = tg_rng_normal(rng);
            while (near_kink(s, v));
            break;
        }
        t->data[i] = v;
    }
    if (s->dist == DISTINCT) /* shuffle the ladder so the maximum moves around */
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = tg_rng_below(rng, (uint32_t)i + 1);
            float tmp = t->data[i];
            t->data[i] = t->data[j];
            t->data[j] = tmp;
        }
    if (s->dist == ROW_PROB)
        for (size_t r = 0; r < n / row; r++) {
            double sum = tg__k_sum(row, t->data + r * row);
            for (size_t i = 0; i < row; i++) t->data[r * row + i] = (float)(t->data[r * row + i] / sum);
        }
}

static tg_tensor *run_case(tg_graph *g, tg_tensor *const *inputs, void *ctx)
{
    return ((const suite_case *)ctx)->build(g, inputs);
}

int tg_gradcheck_suite_size(void) { return N_CASES; }

const char *tg_gradcheck_suite_name(int i) { return i >= 0 && i < N_CASES ? cases[i].name : NULL; }

const char *tg_gradcheck_suite_op(int i) { return i >= 0 && i < N_CASES ? cases[i].op : ""; }

tg_status tg_gradcheck_suite_run(int i, uint64_t seed, tg_gradcheck_result *res)
{
    if (i < 0 || i >= N_CASES || !res) {
        tg__error("tg_gradcheck_suite_run: case %d of %d%s", i, N_CASES, res ? "" : ", result NULL");
        return TG_ERR_ARG;
    }
    const suite_case *c = &cases[i];
    tg_tensor *in[MAX_INPUTS] = {NULL};
    tg_rng rng;
    tg_rng_seed(&rng, seed * 1000003u + (uint64_t)i);
    tg_status s = TG_OK;
    for (int k = 0; k < c->n_inputs && s == TG_OK; k++) {
        in[k] = tg_zeros(NULL, c->in[k].ndim, c->in[k].shape);
        if (!in[k]) s = TG_ERR_NOMEM;
        else {
            fill(in[k], &c->in[k], &rng);
            s = tg_tensor_requires_grad(in[k], c->in[k].grad);
        }
    }
    if (s == TG_OK && c->prepare) c->prepare(in);
    if (s == TG_OK) s = tg_gradcheck(run_case, (void *)c, in, c->n_inputs, NULL, res);
    for (int k = 0; k < MAX_INPUTS; k++) tg_tensor_free(in[k]);
    return s;
}
