/* check_torch_ref.c — every op and loss against PyTorch: the same inputs, the
 * forward values and the gradients of sum(upstream * output) that
 * tests/fixtures/gen_fixtures.py recorded from torch. */
#include <limits.h>

#include "tg_test.h"

#include "fixtures/torch_ref.h"
#include "ops/ops.h" /* tg__conv2d_relu and tg__linear_relu, the fused ops a Sequential runs */

/* float32 on both sides; the rest is summation order and libm's last bits. */
#define RTOL 1e-5
#define ATOL 1e-6

typedef tg_tensor *(*builder)(tg_graph *g, tg_tensor *const *in, const int *labels);

typedef struct named_builder {
    const char *name;
    builder build;
} named_builder;

#define B(name, expr)                                                                              \
    static tg_tensor *b_##name(tg_graph *g, tg_tensor *const *in, const int *labels)               \
    {                                                                                              \
        (void)labels;                                                                              \
        return expr;                                                                               \
    }

B(add, tg_add(g, in[0], in[1]))
B(sub, tg_sub(g, in[0], in[1]))
B(mul, tg_mul(g, in[0], in[1]))
B(mul_self, tg_mul(g, in[0], in[0]))
B(div, tg_div(g, in[0], in[1]))
B(neg, tg_neg(g, in[0]))
B(add_scalar, tg_add_scalar(g, in[0], 0.7f))
B(mul_scalar, tg_mul_scalar(g, in[0], -1.3f))
B(pow, tg_pow(g, in[0], 2.5f))
B(pow_integer, tg_pow(g, in[0], 3.0f))
B(pow_zero, tg_pow(g, in[0], 0.0f))
B(pow_negative, tg_pow(g, in[0], -1.5f))
B(exp, tg_exp(g, in[0]))
B(log, tg_log(g, in[0]))
B(sqrt, tg_sqrt(g, in[0]))
B(abs, tg_abs(g, in[0]))
B(square, tg_square(g, in[0]))
B(clamp, tg_clamp(g, in[0], -0.5f, 0.8f))
B(clamp_inverted, tg_clamp(g, in[0], 1.0f, 0.5f))
B(relu, tg_relu(g, in[0]))
B(leaky_relu, tg_leaky_relu(g, in[0], 0.1f))
B(sigmoid, tg_sigmoid(g, in[0]))
B(tanh, tg_tanh(g, in[0]))
B(gelu, tg_gelu(g, in[0]))
B(softplus, tg_softplus(g, in[0], 1.0f, 20.0f))
B(softplus_beta, tg_softplus(g, in[0], 2.0f, 1.0f))
B(matmul, tg_matmul(g, in[0], in[1]))
B(transpose, tg_transpose(g, in[0]))
B(linear, tg_linear(g, in[0], in[1], in[2]))
B(linear_no_bias, tg_linear(g, in[0], in[1], NULL))
B(reshape, tg_reshape(g, in[0], 2, (int[]){3, 4}))
B(flatten, tg_flatten(g, in[0], 1))
B(flatten_all, tg_flatten(g, in[0], 0))
B(sum, tg_sum(g, in[0]))
B(mean, tg_mean(g, in[0]))
B(sum_axis, tg_sum_axis(g, in[0], 1, false))
B(sum_axis_keepdim, tg_sum_axis(g, in[0], 0, true))
B(mean_axis, tg_mean_axis(g, in[0], -1, true))
B(max_axis, tg_max_axis(g, in[0], 1, false))
B(max_axis_keepdim, tg_max_axis(g, in[0], 0, true))
B(softmax, tg_softmax(g, in[0], -1))
B(softmax_axis0, tg_softmax(g, in[0], 0))
B(log_softmax, tg_log_softmax(g, in[0], 1))
B(log_softmax_last, tg_log_softmax(g, in[0], -1))
B(mse_mean, tg_mse_loss(g, in[0], in[1], TG_REDUCE_MEAN))
B(mse_sum, tg_mse_loss(g, in[0], in[1], TG_REDUCE_SUM))
B(mse_none, tg_mse_loss(g, in[0], in[1], TG_REDUCE_NONE))
B(l1_mean, tg_l1_loss(g, in[0], in[1], TG_REDUCE_MEAN))
B(l1_none, tg_l1_loss(g, in[0], in[1], TG_REDUCE_NONE))
B(smooth_l1_mean, tg_smooth_l1_loss(g, in[0], in[1], 1.0f, TG_REDUCE_MEAN))
B(smooth_l1_beta_sum, tg_smooth_l1_loss(g, in[0], in[1], 0.5f, TG_REDUCE_SUM))
B(smooth_l1_beta0, tg_smooth_l1_loss(g, in[0], in[1], 0.0f, TG_REDUCE_MEAN))
B(huber_mean, tg_huber_loss(g, in[0], in[1], 1.0f, TG_REDUCE_MEAN))
B(huber_delta_none, tg_huber_loss(g, in[0], in[1], 0.7f, TG_REDUCE_NONE))
B(nll_mean, tg_nll_loss(g, in[0], labels, NULL))
B(nll_weighted_ignore,
  tg_nll_loss(g, in[0], labels, &(tg_class_loss_opts){.weight = in[1], .ignore = true, .ignore_index = 3}))
B(nll_sum, tg_nll_loss(g, in[0], labels, &(tg_class_loss_opts){.reduction = TG_REDUCE_SUM}))
B(nll_none_default_ignore,
  tg_nll_loss(g, in[0], labels,
              &(tg_class_loss_opts){.reduction = TG_REDUCE_NONE, .ignore = true, .ignore_index = -100}))
B(cross_entropy, tg_cross_entropy(g, in[0], labels, NULL))
B(cross_entropy_options,
  tg_cross_entropy(g, in[0], labels,
                   &(tg_class_loss_opts){.weight = in[1], .ignore = true, .ignore_index = 3, .label_smoothing = 0.2f}))
B(cross_entropy_none_smooth,
  tg_cross_entropy(g, in[0], labels, &(tg_class_loss_opts){.reduction = TG_REDUCE_NONE, .label_smoothing = 0.1f}))
B(cross_entropy_sum_weighted,
  tg_cross_entropy(g, in[0], labels, &(tg_class_loss_opts){.reduction = TG_REDUCE_SUM, .weight = in[1]}))
B(cross_entropy_all_ignored,
  tg_cross_entropy(g, in[0], labels, &(tg_class_loss_opts){.ignore = true, .ignore_index = 3}))
B(cross_entropy_probs, tg_cross_entropy_probs(g, in[0], in[1], NULL))
B(cross_entropy_probs_options,
  tg_cross_entropy_probs(g, in[0], in[1], &(tg_class_loss_opts){.weight = in[2], .label_smoothing = 0.1f}))
B(bce_mean, tg_bce_loss(g, in[0], in[1], NULL, TG_REDUCE_MEAN))
B(bce_weighted_sum, tg_bce_loss(g, in[0], in[1], in[2], TG_REDUCE_SUM))
B(bce_none, tg_bce_loss(g, in[0], in[1], NULL, TG_REDUCE_NONE))
B(bce_logits_pos_weight, tg_bce_with_logits(g, in[0], in[1], NULL, in[2], TG_REDUCE_MEAN))
B(bce_logits_weight_none, tg_bce_with_logits(g, in[0], in[1], in[2], NULL, TG_REDUCE_NONE))
B(bce_logits_mean, tg_bce_with_logits(g, in[0], in[1], NULL, NULL, TG_REDUCE_MEAN))
B(kl_div_mean, tg_kl_div(g, in[0], in[1], false, TG_REDUCE_MEAN))
B(kl_div_sum, tg_kl_div(g, in[0], in[1], false, TG_REDUCE_SUM))
B(kl_div_log_target_batchmean, tg_kl_div(g, in[0], in[1], true, TG_REDUCE_BATCHMEAN))
B(multi_margin, tg_multi_margin_loss(g, in[0], labels, 1, 1.0f, NULL, TG_REDUCE_MEAN))
B(multi_margin_p2_weighted_sum, tg_multi_margin_loss(g, in[0], labels, 2, 0.5f, in[1], TG_REDUCE_SUM))
B(multi_margin_none, tg_multi_margin_loss(g, in[0], labels, 1, 1.0f, NULL, TG_REDUCE_NONE))
B(l1_penalty, tg_l1_penalty(g, in, 2, 0.3f))
B(l2_penalty, tg_l2_penalty(g, in, 2, 0.3f))
B(elastic_net_penalty, tg_elastic_net_penalty(g, in, 2, 0.2f, 0.4f))

/* ---- the N-D ops ---- */
B(sin, tg_sin(g, in[0]))
B(cos, tg_cos(g, in[0]))
B(sum_axis_4d, tg_sum_axis(g, in[0], 2, true))
B(mean_axis_3d, tg_mean_axis(g, in[0], 0, false))
B(max_axis_4d, tg_max_axis(g, in[0], 3, false))
B(softmax_4d, tg_softmax(g, in[0], 1))
B(log_softmax_4d, tg_log_softmax(g, in[0], -1))
B(maximum, tg_maximum(g, in[0], in[1]))
B(minimum, tg_minimum(g, in[0], in[1]))
B(eq, tg_eq(g, in[0], in[1]))
B(ne, tg_ne(g, in[0], in[1]))
B(lt, tg_lt(g, in[0], in[1]))
B(le, tg_le(g, in[0], in[1]))
B(gt, tg_gt(g, in[0], in[1]))
B(ge, tg_ge(g, in[0], in[1]))
B(where, tg_where(g, in[0], in[1], in[2]))
B(permute, tg_permute(g, in[0], TG_SHAPE(2, 0, 1)))
B(permute_4d, tg_permute(g, in[0], TG_SHAPE(3, 1, 0, 2)))
B(cat, tg_cat(g, in, 2, 1))
B(cat_five, tg_cat(g, in, 5, 0))
B(stack, tg_stack(g, in, 4, 1))
B(stack_last, tg_stack(g, in, 2, -1))
B(narrow, tg_narrow(g, in[0], 1, -3, 2))
B(slice_step, tg_slice(g, in[0], 1, 1, INT_MAX, 3))
B(slice_negative, tg_slice(g, in[0], 0, -5, -1, 2))
B(slice_clamped, tg_slice(g, in[0], 2, -100, 100, 1))
B(index_select, tg_index_select(g, in[0], 0, in[1]))
B(index_select_dim1, tg_index_select(g, in[0], 1, in[1]))
B(gather, tg_gather(g, in[0], 1, in[1]))
B(gather_dim0, tg_gather(g, in[0], 0, in[1]))
B(embedding_padding, tg_embedding(g, in[0], in[1], 2))
B(embedding, tg_embedding(g, in[0], in[1], -1))
B(layer_norm, tg_layer_norm(g, in[0], 2, in[1], in[2], 1e-5f))
B(layer_norm_plain, tg_layer_norm(g, in[0], 1, NULL, NULL, 1e-5f))
B(layer_norm_weight, tg_layer_norm(g, in[0], 1, in[1], NULL, 1e-3f))
B(batch_norm_train, tg_batch_norm(g, in[0], in[1], in[2], in[3], in[4], true, 0.1f, 1e-5f))
B(batch_norm_train_4d, tg_batch_norm(g, in[0], in[1], in[2], NULL, NULL, true, 0.3f, 1e-3f))
B(batch_norm_train_plain, tg_batch_norm(g, in[0], NULL, NULL, NULL, NULL, true, 0.1f, 1e-5f))
B(batch_norm_eval, tg_batch_norm(g, in[0], in[1], in[2], in[3], in[4], false, 0.1f, 1e-5f))

/* ---- convolution and pooling ---- */
B(conv2d, tg_conv2d(g, in[0], in[1], in[2], NULL))
B(conv2d_stride_pad, tg_conv2d(g, in[0], in[1], in[2], &(tg_conv2d_opts){.stride = {2, 1}, .padding = {1, 2}}))
B(conv2d_dilation_groups,
  tg_conv2d(g, in[0], in[1], in[2],
            &(tg_conv2d_opts){.stride = {1, 2}, .padding = {1, 1}, .dilation = {2, 1}, .groups = 2}))
B(conv2d_same_even, tg_conv2d(g, in[0], in[1], NULL, &(tg_conv2d_opts){.same = true, .dilation = {1, 2}}))
B(conv2d_depthwise, tg_conv2d(g, in[0], in[1], NULL, &(tg_conv2d_opts){.stride = {2, 2}, .groups = 3}))
B(conv2d_pointwise, tg_conv2d(g, in[0], in[1], in[2], &(tg_conv2d_opts){.groups = 2}))
B(conv2d_pad1, tg_conv2d(g, in[0], in[1], NULL, &(tg_conv2d_opts){.padding = {1, 1}}))
B(conv2d_relu, tg__conv2d_relu(g, in[0], in[1], in[2], &(tg_conv2d_opts){.padding = {1, 1}}))
B(linear_relu, tg__linear_relu(g, in[0], in[1], in[2]))
B(max_pool2d, tg_max_pool2d(g, in[0], &(tg_pool2d_opts){.kernel = {2, 2}}))
B(max_pool2d_ties, tg_max_pool2d(g, in[0], &(tg_pool2d_opts){.kernel = {3, 3}, .stride = {1, 1}}))
B(max_pool2d_pad_ceil,
  tg_max_pool2d(g, in[0], &(tg_pool2d_opts){.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true}))
B(max_pool2d_ceil_drop,
  tg_max_pool2d(g, in[0], &(tg_pool2d_opts){.kernel = {2, 2}, .stride = {3, 3}, .padding = {1, 1}, .ceil_mode = true}))
B(max_pool2d_ceil_odd, tg_max_pool2d(g, in[0], &(tg_pool2d_opts){.kernel = {2, 2}, .ceil_mode = true}))
B(max_pool2d_rect, tg_max_pool2d(g, in[0], &(tg_pool2d_opts){.kernel = {2, 3}, .stride = {1, 2}, .padding = {1, 0}}))
B(avg_pool2d, tg_avg_pool2d(g, in[0], &(tg_pool2d_opts){.kernel = {2, 2}, .count_include_pad = true}))
B(avg_pool2d_pad_include,
  tg_avg_pool2d(g, in[0], &(tg_pool2d_opts){.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true,
                                            .count_include_pad = true}))
B(avg_pool2d_pad_exclude,
  tg_avg_pool2d(g, in[0], &(tg_pool2d_opts){.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true}))
B(avg_pool2d_ceil_edge,
  tg_avg_pool2d(g, in[0], &(tg_pool2d_opts){.kernel = {3, 2}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true,
                                            .count_include_pad = true}))
B(adaptive_avg_pool2d, tg_adaptive_avg_pool2d(g, in[0], 3, 2))
B(adaptive_avg_pool2d_larger, tg_adaptive_avg_pool2d(g, in[0], 5, 3))
B(adaptive_avg_pool2d_global, tg_adaptive_avg_pool2d(g, in[0], 1, 1))
static tg_tensor *b_dropout2d_all(tg_graph *g, tg_tensor *const *in, const int *labels)
{
    (void)labels;
    tg_rng rng;
    tg_rng_seed(&rng, 5);
    return tg_dropout2d(g, in[0], 1.0f, true, &rng);
}

/* Fixture name -> tg builder. A fixture without a builder, or a builder
 * without a fixture, fails the tests below. */
static const named_builder builders[] = {
    {"add", b_add}, {"add_broadcast", b_add}, {"add_scalar_tensor", b_add},
    {"sub_broadcast", b_sub}, {"sub_outer", b_sub},
    {"mul", b_mul}, {"mul_broadcast", b_mul}, {"mul_4d", b_mul}, {"mul_self", b_mul_self},
    {"div", b_div}, {"div_broadcast", b_div}, {"div_extreme", b_div},
    {"neg", b_neg}, {"add_scalar", b_add_scalar}, {"mul_scalar", b_mul_scalar},
    {"pow", b_pow}, {"pow_integer", b_pow_integer}, {"pow_zero", b_pow_zero}, {"pow_negative", b_pow_negative},
    {"exp", b_exp}, {"log", b_log}, {"sqrt", b_sqrt}, {"abs", b_abs}, {"square", b_square},
    {"clamp", b_clamp}, {"clamp_inverted", b_clamp_inverted},
    {"relu", b_relu}, {"leaky_relu", b_leaky_relu}, {"sigmoid", b_sigmoid}, {"tanh", b_tanh},
    {"gelu", b_gelu}, {"softplus", b_softplus}, {"softplus_beta", b_softplus_beta},
    {"matmul", b_matmul}, {"matmul_row_col", b_matmul}, {"transpose", b_transpose},
    {"linear", b_linear}, {"linear_no_bias", b_linear_no_bias}, {"linear_relu", b_linear_relu},
    {"reshape", b_reshape}, {"flatten", b_flatten}, {"flatten_all", b_flatten_all},
    {"sum", b_sum}, {"mean", b_mean}, {"sum_axis", b_sum_axis}, {"sum_axis_keepdim", b_sum_axis_keepdim},
    {"mean_axis", b_mean_axis}, {"max_axis_ties", b_max_axis}, {"max_axis_keepdim", b_max_axis_keepdim},
    {"softmax", b_softmax}, {"softmax_axis0", b_softmax_axis0}, {"log_softmax", b_log_softmax},
    {"softmax_huge", b_softmax}, {"log_softmax_huge", b_log_softmax_last},
    {"mse_mean", b_mse_mean}, {"mse_sum", b_mse_sum}, {"mse_none", b_mse_none},
    {"l1_mean", b_l1_mean}, {"l1_none", b_l1_none},
    {"smooth_l1_mean", b_smooth_l1_mean}, {"smooth_l1_beta_sum", b_smooth_l1_beta_sum},
    {"smooth_l1_beta0", b_smooth_l1_beta0}, {"huber_mean", b_huber_mean}, {"huber_delta_none", b_huber_delta_none},
    {"nll_mean", b_nll_mean}, {"nll_weighted_ignore", b_nll_weighted_ignore}, {"nll_sum", b_nll_sum},
    {"nll_none_default_ignore", b_nll_none_default_ignore},
    {"cross_entropy", b_cross_entropy}, {"cross_entropy_options", b_cross_entropy_options},
    {"cross_entropy_none_smooth", b_cross_entropy_none_smooth},
    {"cross_entropy_sum_weighted", b_cross_entropy_sum_weighted},
    {"cross_entropy_all_ignored", b_cross_entropy_all_ignored}, {"cross_entropy_huge", b_cross_entropy},
    {"cross_entropy_masked", b_cross_entropy},
    {"cross_entropy_probs", b_cross_entropy_probs}, {"cross_entropy_probs_options", b_cross_entropy_probs_options},
    {"bce_mean", b_bce_mean}, {"bce_weighted_sum", b_bce_weighted_sum}, {"bce_saturated", b_bce_none},
    {"bce_logits_pos_weight", b_bce_logits_pos_weight}, {"bce_logits_weight_none", b_bce_logits_weight_none},
    {"bce_logits_huge", b_bce_logits_mean},
    {"kl_div_mean", b_kl_div_mean}, {"kl_div_zero_target_sum", b_kl_div_sum},
    {"kl_div_log_target_batchmean", b_kl_div_log_target_batchmean},
    {"multi_margin", b_multi_margin}, {"multi_margin_p2_weighted_sum", b_multi_margin_p2_weighted_sum},
    {"multi_margin_none", b_multi_margin_none},
    {"l1_penalty", b_l1_penalty}, {"l2_penalty", b_l2_penalty}, {"elastic_net_penalty", b_elastic_net_penalty},
    {"sin", b_sin}, {"cos", b_cos}, {"sum_axis_4d", b_sum_axis_4d}, {"mean_axis_3d", b_mean_axis_3d},
    {"max_axis_4d", b_max_axis_4d}, {"softmax_4d", b_softmax_4d}, {"log_softmax_4d", b_log_softmax_4d},
    {"relu_4d", b_relu},
    {"maximum_ties_nan", b_maximum}, {"minimum_ties_nan", b_minimum}, {"maximum_broadcast", b_maximum},
    {"minimum_broadcast", b_minimum},
    {"eq", b_eq}, {"ne", b_ne}, {"lt", b_lt}, {"le", b_le}, {"gt", b_gt}, {"ge", b_ge},
    {"where", b_where}, {"where_cond_full", b_where},
    {"matmul_batched", b_matmul}, {"matmul_batch_broadcast", b_matmul}, {"matmul_batched_matrix", b_matmul},
    {"matmul_matrix_batched", b_matmul}, {"matmul_dot", b_matmul}, {"matmul_vector_matrix", b_matmul},
    {"matmul_matrix_vector", b_matmul}, {"matmul_vector_batched", b_matmul}, {"matmul_batched_vector", b_matmul},
    {"linear_3d", b_linear}, {"linear_1d", b_linear}, {"linear_4d_no_bias", b_linear_no_bias},
    {"permute", b_permute}, {"permute_4d", b_permute_4d}, {"cat", b_cat}, {"cat_five", b_cat_five},
    {"stack", b_stack}, {"stack_last", b_stack_last}, {"narrow", b_narrow}, {"slice_step", b_slice_step},
    {"slice_negative", b_slice_negative}, {"slice_clamped", b_slice_clamped},
    {"index_select", b_index_select}, {"index_select_dim1", b_index_select_dim1}, {"gather", b_gather},
    {"gather_dim0_3d", b_gather_dim0}, {"embedding_padding", b_embedding_padding}, {"embedding", b_embedding},
    {"embedding_3d", b_embedding},
    {"layer_norm", b_layer_norm}, {"layer_norm_plain", b_layer_norm_plain}, {"layer_norm_weight_4d", b_layer_norm_weight},
    {"batch_norm_train", b_batch_norm_train}, {"batch_norm_train_4d", b_batch_norm_train_4d},
    {"batch_norm_train_plain", b_batch_norm_train_plain}, {"batch_norm_eval", b_batch_norm_eval},
    {"batch_norm_train_4d_affine", b_batch_norm_train},
    {"conv2d", b_conv2d}, {"conv2d_stride_pad", b_conv2d_stride_pad}, {"conv2d_dilation_groups", b_conv2d_dilation_groups},
    {"conv2d_same_even", b_conv2d_same_even}, {"conv2d_depthwise", b_conv2d_depthwise},
    {"conv2d_input_only", b_conv2d_pad1}, {"conv2d_pointwise", b_conv2d_pointwise},
    {"conv2d_relu", b_conv2d_relu},
    {"max_pool2d", b_max_pool2d}, {"max_pool2d_ties", b_max_pool2d_ties}, {"max_pool2d_pad_ceil", b_max_pool2d_pad_ceil},
    {"max_pool2d_ceil_drop", b_max_pool2d_ceil_drop}, {"max_pool2d_ceil_odd", b_max_pool2d_ceil_odd},
    {"max_pool2d_rect", b_max_pool2d_rect},
    {"avg_pool2d", b_avg_pool2d}, {"avg_pool2d_pad_include", b_avg_pool2d_pad_include},
    {"avg_pool2d_pad_exclude", b_avg_pool2d_pad_exclude}, {"avg_pool2d_ceil_edge", b_avg_pool2d_ceil_edge},
    {"adaptive_avg_pool2d", b_adaptive_avg_pool2d}, {"adaptive_avg_pool2d_larger", b_adaptive_avg_pool2d_larger},
    {"adaptive_avg_pool2d_global", b_adaptive_avg_pool2d_global}, {"dropout2d_all", b_dropout2d_all},
};

enum { N_BUILDERS = sizeof builders / sizeof builders[0] };

static builder find_builder(const char *name)
{
    for (int i = 0; i < N_BUILDERS; i++)
        if (!strcmp(builders[i].name, name)) return builders[i].build;
    return NULL;
}

static size_t ref_size(const ref_tensor *r)
{
    size_t n = 1;
    for (int d = 0; d < r->ndim; d++) n *= (size_t)r->shape[d];
    return n;
}

static void assert_shape_is(const tg_tensor *t, const ref_tensor *r, const char *what)
{
    ck_assert_msg(t->ndim == r->ndim, "%s has %d dimensions, torch %d", what, t->ndim, r->ndim);
    for (int d = 0; d < r->ndim; d++)
        ck_assert_msg(t->shape[d] == r->shape[d], "%s dimension %d is %d, torch %d", what, d, t->shape[d], r->shape[d]);
}

START_TEST(test_torch_ref_case)
{
    const ref_case *c = &torch_ref[_i];
    builder build = find_builder(c->name);
    ck_assert_msg(build != NULL, "fixture %s has no tg builder", c->name);
    tg_tensor *in[REF_MAX_INPUTS] = {NULL};
    for (int k = 0; k < c->n_inputs; k++) {
        in[k] = tg_from_data(NULL, c->input[k].data, c->input[k].ndim, c->input[k].shape);
        ck_assert_ptr_nonnull(in[k]);
        ck_assert_int_eq(tg_tensor_requires_grad(in[k], c->grad[k].ndim >= 0), TG_OK);
    }
    tg_graph *g = tg_graph_new();
    tg_tensor *y = build(g, in, c->labels);
    ck_assert_msg(y != NULL, "%s: %s", c->name, tg_last_error());
    assert_shape_is(y, &c->output, "output");
    ck_assert_close_array(y->data, c->output.data, ref_size(&c->output), RTOL, ATOL);
    /* inputs changed in place (batch_norm's running statistics) as torch
     * changed them; every other input untouched, to the bit */
    for (int k = 0; k < c->n_inputs; k++) {
        if (c->after[k].ndim >= 0)
            ck_assert_close_array(in[k]->data, c->after[k].data, in[k]->size, RTOL, ATOL);
        else
            ck_assert_msg(!memcmp(in[k]->data, c->input[k].data, in[k]->size * sizeof(float)),
                          "%s: input %d changed", c->name, k);
    }
    bool has_grad = false;
    for (int k = 0; k < c->n_inputs; k++) has_grad |= c->grad[k].ndim >= 0;
    ck_assert_msg(y->requires_grad == has_grad, "%s: output requires grad %d, torch %d", c->name, y->requires_grad,
                  has_grad);
    if (has_grad) {
        ck_assert_int_eq(tg_backward_grad(y, c->upstream.data), TG_OK);
        for (int k = 0; k < c->n_inputs; k++)
            if (c->grad[k].ndim >= 0) ck_assert_close_array(in[k]->grad, c->grad[k].data, in[k]->size, RTOL, ATOL);
    }
    tg_graph_free(g);
    for (int k = 0; k < REF_MAX_INPUTS; k++) tg_tensor_free(in[k]);
}
END_TEST

START_TEST(test_torch_ref_every_builder_has_a_fixture)
{
    for (int i = 0; i < N_BUILDERS; i++) {
        int found = 0;
        for (int k = 0; k < N_TORCH_REF && !found; k++) found = !strcmp(torch_ref[k].name, builders[i].name);
        ck_assert_msg(found, "builder %s has no fixture: regenerate with make fixtures", builders[i].name);
    }
}
END_TEST

static Suite *torch_ref_suite(void)
{
    Suite *s = suite_create("torch_ref");
    TCase *tc = tcase_create("vs_pytorch");
    tcase_add_loop_test(tc, test_torch_ref_case, 0, N_TORCH_REF);
    tcase_add_test(tc, test_torch_ref_every_builder_has_a_fixture);
    suite_add_tcase(s, tc);
    return s;
}

TG_TEST_MAIN(torch_ref_suite)
