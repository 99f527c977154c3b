/* check_loss.c — the losses' arguments, defaults and error messages, and
 * the properties PyTorch's fixtures do not cover (values against PyTorch are
 * in check_torch_ref.c). */
#include "tg_test.h"

typedef struct fixture {
    tg_graph *g;
    tg_tensor *logits;   /* (4,3) */
    tg_tensor *x, *y;    /* (2,3) */
} fixture;

static fixture setup(void)
{
    fixture f;
    f.g = tg_graph_new();
    f.logits = tg_from_data(f.g, (float[]){1, 2, 3, 0, 0, 0, -1, 5, 2, 3, 3, 1}, 2, (int[]){4, 3});
    f.x = tg_from_data(f.g, (float[]){0.1f, 0.5f, 0.9f, 0.2f, 0.4f, 0.6f}, 2, (int[]){2, 3});
    f.y = tg_from_data(f.g, (float[]){0, 1, 1, 0, 0, 1}, 2, (int[]){2, 3});
    tg_clear_error();
    return f;
}

/* ---- argument checks ---- */

START_TEST(test_loss_label_out_of_range)
{
    fixture f = setup();
    ck_assert_ptr_null(tg_cross_entropy(f.g, f.logits, (int[]){0, 1, 3, 2}, NULL));
    ck_assert_str_eq(tg_last_error(), "tg_cross_entropy: label 3 of row 2 is out of range [0, 3)");
    ck_assert_ptr_null(tg_nll_loss(f.g, f.logits, (int[]){0, -1, 0, 0}, NULL));
    ck_assert_str_eq(tg_last_error(), "tg_nll_loss: label -1 of row 1 is out of range [0, 3)");
    ck_assert_ptr_null(tg_multi_margin_loss(f.g, f.logits, (int[]){0, 1, 2, 9}, 1, 1.0f, NULL, TG_REDUCE_MEAN));
    ck_assert_ptr_null(tg_cross_entropy(f.g, f.logits, NULL, NULL));
    ck_assert_str_eq(tg_last_error(), "tg_cross_entropy: labels is NULL");
    tg_graph_free(f.g);
}
END_TEST

START_TEST(test_loss_default_ignores_minus_100_but_zeroed_options_do_not)
{
    /* NULL options are torch's defaults, ignore_index -100 included; a
     * zeroed struct ignores nothing, so -100 is then out of range. */
    fixture f = setup();
    const int labels[] = {0, -100, 2, 1};
    tg_tensor *l = tg_cross_entropy(f.g, f.logits, labels, NULL);
    ck_assert_ptr_nonnull(l);
    tg_tensor *rows = tg_cross_entropy(f.g, f.logits, labels, &(tg_class_loss_opts){.reduction = TG_REDUCE_NONE,
                                                                                      .ignore = true,
                                                                                      .ignore_index = -100});
    ck_assert_float_eq(rows->data[1], 0.0f);
    ck_assert_close(l->data[0], (rows->data[0] + rows->data[2] + rows->data[3]) / 3.0, 1e-6, 0);
    ck_assert_ptr_null(tg_cross_entropy(f.g, f.logits, labels, &(tg_class_loss_opts){0}));
    ck_assert_str_eq(tg_last_error(), "tg_cross_entropy: label -100 of row 1 is out of range [0, 3)");
    tg_graph_free(f.g);
}
END_TEST

START_TEST(test_loss_class_weight_shape)
{
    fixture f = setup();
    tg_tensor *w = tg_ones(f.g, 1, (int[]){4});
    ck_assert_ptr_null(tg_cross_entropy(f.g, f.logits, (int[]){0, 1, 2, 0}, &(tg_class_loss_opts){.weight = w}));
    ck_assert_str_eq(tg_last_error(), "tg_cross_entropy: weight (4): expected (3) for input (4,3)");
    ck_assert_ptr_null(tg_nll_loss(f.g, f.x, (int[]){0, 1}, &(tg_class_loss_opts){.weight = w}));
    tg_graph_free(f.g);
}
END_TEST

START_TEST(test_loss_needs_rows_of_classes)
{
    fixture f = setup();
    tg_tensor *flat = tg_ones(f.g, 1, (int[]){3});
    ck_assert_ptr_null(tg_cross_entropy(f.g, flat, (int[]){0}, NULL));
    ck_assert_str_eq(tg_last_error(), "tg_cross_entropy: input (3): expected (N, C)");
    tg_graph_free(f.g);
}
END_TEST

START_TEST(test_loss_smoothing_range_and_place)
{
    fixture f = setup();
    const int labels[] = {0, 1, 2, 0};
    ck_assert_ptr_null(tg_cross_entropy(f.g, f.logits, labels, &(tg_class_loss_opts){.label_smoothing = 1.5f}));
    ck_assert_str_eq(tg_last_error(), "tg_cross_entropy: label_smoothing 1.5: must be in [0, 1]");
    ck_assert_ptr_null(tg_nll_loss(f.g, f.logits, labels, &(tg_class_loss_opts){.label_smoothing = 0.1f}));
    ck_assert_str_eq(tg_last_error(), "tg_nll_loss: label smoothing belongs to tg_cross_entropy");
    tg_graph_free(f.g);
}
END_TEST

START_TEST(test_loss_probs_targets)
{
    fixture f = setup();
    ck_assert_ptr_null(tg_cross_entropy_probs(f.g, f.logits, f.x, NULL));
    ck_assert_str_eq(tg_last_error(), "tg_cross_entropy_probs: input (4,3) and target (2,3) differ in shape");
    ck_assert_ptr_null(tg_cross_entropy_probs(f.g, f.x, f.y, &(tg_class_loss_opts){.ignore = true}));
    ck_assert_str_eq(tg_last_error(), "tg_cross_entropy_probs: ignore_index applies to class labels, not to probabilities");
    tg_graph_free(f.g);
}
END_TEST

START_TEST(test_loss_pairs_need_one_shape)
{
    fixture f = setup();
    tg_tensor *t = tg_ones(f.g, 2, (int[]){3, 2});
    ck_assert_ptr_null(tg_mse_loss(f.g, f.x, t, TG_REDUCE_MEAN));
    ck_assert_str_eq(tg_last_error(), "tg_mse_loss: input (2,3) and target (3,2) differ in shape");
    ck_assert_ptr_null(tg_kl_div(f.g, f.x, t, false, TG_REDUCE_SUM));
    ck_assert_ptr_null(tg_bce_loss(f.g, f.x, t, NULL, TG_REDUCE_SUM));
    tg_graph_free(f.g);
}
END_TEST

START_TEST(test_loss_reduction_names)
{
    fixture f = setup();
    ck_assert_ptr_null(tg_mse_loss(f.g, f.x, f.y, TG_REDUCE_BATCHMEAN));
    ck_assert_str_eq(tg_last_error(), "tg_mse_loss: reduction 3 is not one of mean, sum, none");
    ck_assert_ptr_null(tg_kl_div(f.g, f.x, f.y, false, (tg_reduction)9));
    ck_assert_str_eq(tg_last_error(), "tg_kl_div: reduction 9 is not one of mean, sum, none, batchmean");
    ck_assert_ptr_nonnull(tg_kl_div(f.g, f.x, f.y, false, TG_REDUCE_BATCHMEAN));
    tg_graph_free(f.g);
}
END_TEST

START_TEST(test_loss_parameter_ranges)
{
    fixture f = setup();
    ck_assert_ptr_null(tg_huber_loss(f.g, f.x, f.y, 0.0f, TG_REDUCE_MEAN));
    ck_assert_str_eq(tg_last_error(), "tg_huber_loss: delta 0: must be positive");
    ck_assert_ptr_null(tg_smooth_l1_loss(f.g, f.x, f.y, -1.0f, TG_REDUCE_MEAN));
    ck_assert_str_eq(tg_last_error(), "tg_smooth_l1_loss: beta -1: must be >= 0");
    ck_assert_ptr_null(tg_multi_margin_loss(f.g, f.logits, (int[]){0, 1, 2, 0}, 3, 1.0f, NULL, TG_REDUCE_MEAN));
    ck_assert_str_eq(tg_last_error(), "tg_multi_margin_loss: p = 3: only 1 and 2 are supported");
    tg_graph_free(f.g);
}
END_TEST

START_TEST(test_loss_bce_needs_probabilities)
{
    fixture f = setup();
    tg_tensor *p = tg_from_data(f.g, (float[]){0.5f, 1.5f}, 1, (int[]){2});
    ck_assert_ptr_null(tg_bce_loss(f.g, p, tg_ones(f.g, 1, (int[]){2}), NULL, TG_REDUCE_MEAN));
    ck_assert_str_eq(tg_last_error(), "tg_bce_loss: input element 1 is 1.5: probabilities must be in [0, 1]");
    tg_graph_free(f.g);
}
END_TEST

START_TEST(test_loss_bce_logits_pos_weight_shape)
{
    fixture f = setup();
    ck_assert_ptr_null(tg_bce_with_logits(f.g, f.x, f.y, NULL, tg_ones(f.g, 1, (int[]){2}), TG_REDUCE_MEAN));
    ck_assert_str_eq(tg_last_error(), "tg_bce_with_logits: pos_weight (2): expected (3) for input (2,3)");
    tg_graph_free(f.g);
}
END_TEST

START_TEST(test_loss_bce_weight_must_not_grow_the_loss)
{
    fixture f = setup();
    tg_tensor *w = tg_ones(f.g, 2, (int[]){2, 2});
    ck_assert_ptr_null(tg_bce_loss(f.g, f.x, f.y, w, TG_REDUCE_SUM));
    ck_assert_str_eq(tg_last_error(), "tg_bce_loss: weight (2,2) does not broadcast to input (2,3)");
    tg_tensor *big = tg_ones(f.g, 3, (int[]){4, 2, 3});
    ck_assert_ptr_null(tg_bce_with_logits(f.g, f.x, f.y, big, NULL, TG_REDUCE_SUM));
    ck_assert_ptr_nonnull(tg_bce_loss(f.g, f.x, f.y, tg_ones(f.g, 2, (int[]){2, 1}), TG_REDUCE_SUM));
    tg_graph_free(f.g);
}
END_TEST

START_TEST(test_loss_failed_input_keeps_its_message)
{
    /* The first failure is reported, not a later complaint about an
     * argument of the loss it flowed into. */
    fixture f = setup();
    tg_tensor *bad = tg_matmul(f.g, f.x, f.x);
    const char *want = "tg_matmul: (2,3) @ (2,3): inner dimensions 3 and 2 differ";
    ck_assert_ptr_null(tg_huber_loss(f.g, bad, f.y, 0.0f, TG_REDUCE_MEAN));
    ck_assert_str_eq(tg_last_error(), want);
    ck_assert_ptr_null(tg_smooth_l1_loss(f.g, bad, f.y, -1.0f, TG_REDUCE_MEAN));
    ck_assert_str_eq(tg_last_error(), want);
    ck_assert_ptr_null(tg_softplus(f.g, bad, 0.0f, 20.0f));
    ck_assert_str_eq(tg_last_error(), want);
    tg_graph_free(f.g);
}
END_TEST

START_TEST(test_loss_class_weight_on_another_graph)
{
    fixture f = setup();
    tg_graph *other = tg_graph_new();
    tg_tensor *w = tg_ones(other, 1, (int[]){3});
    ck_assert_ptr_null(tg_cross_entropy(f.g, f.logits, (int[]){0, 1, 2, 0}, &(tg_class_loss_opts){.weight = w}));
    ck_assert_str_eq(tg_last_error(), "tg_cross_entropy: weight belongs to another graph");
    tg_graph_free(other);
    tg_graph_free(f.g);
}
END_TEST

/* ---- properties ---- */

START_TEST(test_loss_bce_target_gradient_is_finite_at_saturation)
{
    /* At p = 0 the clamped forward is -(t (-100) + (1-t) log 1): its slope in
     * t is 100 - 0 = 100 (torch reports inf there). */
    fixture f = setup();
    tg_tensor *t = tg_from_data(NULL, (float[]){0.3f, 0.6f}, 1, (int[]){2});
    tg_tensor_requires_grad(t, true);
    tg_tensor *p = tg_from_data(f.g, (float[]){0.0f, 1.0f}, 1, (int[]){2});
    ck_assert_int_eq(tg_backward(tg_bce_loss(f.g, p, t, NULL, TG_REDUCE_SUM)), TG_OK);
    ck_assert_close(t->grad[0], 100.0, 1e-6, 0);
    ck_assert_close(t->grad[1], -100.0, 1e-6, 0);
    tg_tensor_free(t);
    tg_graph_free(f.g);
}
END_TEST

START_TEST(test_loss_cross_entropy_is_log_softmax_then_nll)
{
    /* torch: cross_entropy(x, y) = nll_loss(log_softmax(x), y), weights and
     * ignore_index included. */
    fixture f = setup();
    tg_tensor *w = tg_from_data(f.g, (float[]){0.2f, 1.0f, 3.0f}, 1, (int[]){3});
    tg_class_loss_opts o = {.weight = w, .ignore = true, .ignore_index = 1};
    const int labels[] = {2, 1, 0, 2};
    tg_tensor *ce = tg_cross_entropy(f.g, f.logits, labels, &o);
    tg_tensor *nll = tg_nll_loss(f.g, tg_log_softmax(f.g, f.logits, 1), labels, &o);
    ck_assert_close(ce->data[0], nll->data[0], 1e-6, 0);
    tg_graph_free(f.g);
}
END_TEST

START_TEST(test_loss_cross_entropy_probs_of_one_hot_equals_labels)
{
    fixture f = setup();
    const int labels[] = {2, 1, 0, 2};
    float onehot[12] = {0};
    for (int n = 0; n < 4; n++) onehot[n * 3 + labels[n]] = 1.0f;
    tg_class_loss_opts o = {.label_smoothing = 0.15f};
    tg_tensor *a = tg_cross_entropy(f.g, f.logits, labels, &o);
    tg_tensor *b = tg_cross_entropy_probs(f.g, f.logits, tg_from_data(f.g, onehot, 2, (int[]){4, 3}), &o);
    ck_assert_close(a->data[0], b->data[0], 1e-6, 0);
    tg_graph_free(f.g);
}
END_TEST

START_TEST(test_loss_cross_entropy_stays_finite_for_huge_logits)
{
    fixture f = setup();
    tg_tensor *x = tg_from_data(NULL, (float[]){1e30f, -1e30f, 0.0f, -1e30f, 1e30f, 1e30f}, 2, (int[]){2, 3});
    tg_tensor_requires_grad(x, true);
    tg_tensor *l = tg_cross_entropy(f.g, x, (int[]){0, 2}, NULL);
    ck_assert_int_eq(tg_backward(l), TG_OK);
    /* row 0 is confidently right (loss 0); row 1 splits between two equal
     * logits (loss log 2), averaged over 2 rows */
    ck_assert_close(l->data[0], log(2.0) / 2, 1e-6, 0);
    for (int i = 0; i < 6; i++) ck_assert(isfinite(x->grad[i]));
    tg_tensor_free(x);
    tg_graph_free(f.g);
}
END_TEST

START_TEST(test_loss_reductions_agree)
{
    /* sum = N * mean and none holds the rows, for every pair loss */
    fixture f = setup();
    tg_tensor *(*pair[])(tg_graph *, tg_tensor *, tg_tensor *, tg_reduction) = {tg_mse_loss, tg_l1_loss};
    for (int k = 0; k < 2; k++) {
        tg_tensor *none = pair[k](f.g, f.x, f.y, TG_REDUCE_NONE);
        tg_tensor *sum = pair[k](f.g, f.x, f.y, TG_REDUCE_SUM), *mean = pair[k](f.g, f.x, f.y, TG_REDUCE_MEAN);
        ck_assert_shape(none, 2, 3);
        double total = 0;
        for (int i = 0; i < 6; i++) total += none->data[i];
        ck_assert_close(sum->data[0], total, 1e-6, 0);
        ck_assert_close(mean->data[0], total / 6, 1e-6, 0);
    }
    tg_graph_free(f.g);
}
END_TEST

/* ---- penalties ---- */

START_TEST(test_loss_penalties)
{
    tg_graph *g = tg_graph_new();
    tg_tensor *a = tg_from_data(NULL, (float[]){1, -2, 3}, 1, (int[]){3});
    tg_tensor *b = tg_from_data(NULL, (float[]){-0.5f}, 1, (int[]){1});
    tg_tensor *params[] = {a, b};
    ck_assert_close(tg_l1_penalty(g, params, 2, 0.1f)->data[0], 0.1 * 6.5, 1e-6, 0);
    ck_assert_close(tg_l2_penalty(g, params, 2, 0.1f)->data[0], 0.1 * 14.25, 1e-6, 0);
    ck_assert_close(tg_elastic_net_penalty(g, params, 2, 0.1f, 0.2f)->data[0], 0.65 + 0.2 * 14.25, 1e-6, 0);
    tg_tensor *none = tg_l2_penalty(g, params, 0, 0.1f);
    ck_assert_int_eq(none->ndim, 0);
    ck_assert_float_eq(none->data[0], 0.0f);
    tg_tensor *off = tg_l1_penalty(g, params, 2, 0.0f); /* strength 0: a zero to add, not a failure */
    ck_assert_ptr_nonnull(off);
    ck_assert_float_eq(off->data[0], 0.0f);
    ck_assert_ptr_null(tg_l1_penalty(g, params, 2, -1.0f));
    ck_assert_str_eq(tg_last_error(), "tg_l1_penalty: strengths -1, 0: must be >= 0");
    ck_assert_ptr_null(tg_l2_penalty(g, NULL, 2, 1.0f));
    ck_assert_ptr_null(tg_l2_penalty(g, (tg_tensor *[]){a, NULL}, 2, 1.0f));
    tg_tensor_free(a);
    tg_tensor_free(b);
    tg_graph_free(g);
}
END_TEST

START_TEST(test_loss_l2_penalty_gradient_is_weight_decay)
{
    /* d/dp of (wd/2) sum p^2 is wd p: SGD's weight_decay (see tg.h). */
    tg_graph *g = tg_graph_new();
    tg_tensor *p = tg_from_data(NULL, (float[]){1, -2, 3}, 1, (int[]){3});
    tg_tensor_requires_grad(p, true);
    ck_assert_int_eq(tg_backward(tg_l2_penalty(g, &p, 1, 0.05f)), TG_OK);
    for (int i = 0; i < 3; i++) ck_assert_close(p->grad[i], 0.1 * p->data[i], 1e-6, 0);
    tg_tensor_free(p);
    tg_graph_free(g);
}
END_TEST

static Suite *loss_suite(void)
{
    Suite *s = suite_create("loss");
    TCase *tc = tcase_create("arguments");
    tcase_add_test(tc, test_loss_label_out_of_range);
    tcase_add_test(tc, test_loss_default_ignores_minus_100_but_zeroed_options_do_not);
    tcase_add_test(tc, test_loss_class_weight_shape);
    tcase_add_test(tc, test_loss_needs_rows_of_classes);
    tcase_add_test(tc, test_loss_smoothing_range_and_place);
    tcase_add_test(tc, test_loss_probs_targets);
    tcase_add_test(tc, test_loss_pairs_need_one_shape);
    tcase_add_test(tc, test_loss_reduction_names);
    tcase_add_test(tc, test_loss_parameter_ranges);
    tcase_add_test(tc, test_loss_bce_needs_probabilities);
    tcase_add_test(tc, test_loss_bce_logits_pos_weight_shape);
    tcase_add_test(tc, test_loss_bce_weight_must_not_grow_the_loss);
    tcase_add_test(tc, test_loss_failed_input_keeps_its_message);
    tcase_add_test(tc, test_loss_class_weight_on_another_graph);
    suite_add_tcase(s, tc);
    tc = tcase_create("properties");
    tcase_add_test(tc, test_loss_bce_target_gradient_is_finite_at_saturation);
    tcase_add_test(tc, test_loss_cross_entropy_is_log_softmax_then_nll);
    tcase_add_test(tc, test_loss_cross_entropy_probs_of_one_hot_equals_labels);
    tcase_add_test(tc, test_loss_cross_entropy_stays_finite_for_huge_logits);
    tcase_add_test(tc, test_loss_reductions_agree);
    suite_add_tcase(s, tc);
    tc = tcase_create("penalties");
    tcase_add_test(tc, test_loss_penalties);
    tcase_add_test(tc, test_loss_l2_penalty_gradient_is_weight_decay);
    suite_add_tcase(s, tc);
    return s;
}

TG_TEST_MAIN(loss_suite)
