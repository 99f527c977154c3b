/* check_ops.c — the ops' descriptors, the gradient-check suite over every op, and
 * each op's shapes, arguments and error messages. Values against PyTorch are
 * in check_torch_ref.c. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>

#include "tg_test.h"

#include "kernels/kernels.h" /* im2col and GEMM: a convolution by hand */
#include "ops/ops.h"         /* tg__conv2d_relu, tg__linear_relu */

/* ---- the ops: no op ships without a name, a backward and a check ----
 * An op whose output is piecewise constant (a comparison) says so with
 * .no_grad = true: it must then have no backward, its output must never
 * require grad (test_ops_no_grad_ops_never_require_grad calls each), and
 * its gradcheck case checks that using it as a mask passes the gradient
 * finite differences see: none through the comparison itself.
 * Each op's descriptor sits beside its code in src/ops/ (there is no table
 * to forget), so the test reads the sources for them: every
 * "tg__op_desc NAME = {" with its .name and .backward. */

typedef struct found_op {
    char name[32], file[64];
    bool has_backward, no_grad;
} found_op;

/* The descriptors defined in the .c files of src/ops, into ops (at most max); their count. */
static int find_op_descriptors(found_op *ops, int max)
{
    DIR *d = opendir("src/ops");
    ck_assert_msg(d != NULL, "src/ops: %s (run from the repository)", strerror(errno));
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 3 || strcmp(e->d_name + len - 2, ".c")) continue;
        char path[300];
        snprintf(path, sizeof path, "src/ops/%s", e->d_name);
        FILE *f = fopen(path, "r");
        ck_assert_ptr_nonnull(f);
        char line[512];
        found_op *cur = NULL;
        while (fgets(line, sizeof line, f)) {
            char *def = strstr(line, "tg__op_desc ");
            if (def && strstr(def, " = {")) {
                ck_assert_int_lt(n, max);
                cur = &ops[n++];
                memset(cur, 0, sizeof *cur);
                snprintf(cur->file, sizeof cur->file, "%s", e->d_name);
            }
            char *name = cur ? strstr(line, ".name = \"") : NULL;
            if (name) sscanf(name + strlen(".name = \""), "%31[^\"]", cur->name);
            if (cur && strstr(line, ".backward = ")) cur->has_backward = true;
            if (cur && strstr(line, ".no_grad = true")) cur->no_grad = true;
            if (cur && strstr(line, "};")) cur = NULL;
        }
        fclose(f);
    }
    closedir(d);
    return n;
}

START_TEST(test_ops_every_op_is_complete)
{
    found_op ops[128];
    int n = find_op_descriptors(ops, 128);
    ck_assert_int_ge(n, 39); /* the ops of the first round */
    for (int i = 0; i < n; i++) {
        ck_assert_msg(ops[i].name[0], "a descriptor in src/ops/%s has no .name", ops[i].file);
        if (ops[i].no_grad)
            ck_assert_msg(!ops[i].has_backward, "op %s (src/ops/%s) is no_grad but has a backward", ops[i].name,
                          ops[i].file);
        else
            ck_assert_msg(ops[i].has_backward, "op %s (src/ops/%s) has no backward", ops[i].name, ops[i].file);
        for (int j = 0; j < i; j++) ck_assert_msg(strcmp(ops[i].name, ops[j].name), "two ops are named %s", ops[i].name);
        int cases = 0;
        for (int c = 0; c < tg_gradcheck_suite_size(); c++) cases += !strcmp(tg_gradcheck_suite_op(c), ops[i].name);
        ck_assert_msg(cases > 0, "op %s (src/ops/%s) has no case in the gradcheck suite (src/nn/gradcheck_suite.c)",
                      ops[i].name, ops[i].file);
    }
    /* and every case names an op that exists */
    for (int c = 0; c < tg_gradcheck_suite_size(); c++) {
        bool known = false;
        for (int i = 0; i < n && !known; i++) known = !strcmp(tg_gradcheck_suite_op(c), ops[i].name);
        ck_assert_msg(known, "gradcheck case %s names op %s, which no descriptor defines", tg_gradcheck_suite_name(c),
                      tg_gradcheck_suite_op(c));
    }
    ck_assert_str_eq(tg_gradcheck_suite_op(-1), "");
}
END_TEST

/* Every no_grad op, called on inputs that require grad. */
typedef tg_tensor *no_grad_fn(tg_graph *g, const tg_tensor *a, const tg_tensor *b);
static const struct {
    const char *name;
    no_grad_fn *fn;
} no_grad_ops[] = {{"eq", tg_eq}, {"ne", tg_ne}, {"lt", tg_lt}, {"le", tg_le}, {"gt", tg_gt}, {"ge", tg_ge}};

START_TEST(test_ops_no_grad_ops_never_require_grad)
{
    found_op ops[128];
    int n = find_op_descriptors(ops, 128), n_no_grad = 0;
    for (int i = 0; i < n; i++) {
        if (!ops[i].no_grad) continue;
        n_no_grad++;
        bool listed = false;
        for (size_t k = 0; k < sizeof no_grad_ops / sizeof no_grad_ops[0]; k++) listed |= !strcmp(no_grad_ops[k].name, ops[i].name);
        ck_assert_msg(listed, "no_grad op %s (src/ops/%s) is not in this test's list", ops[i].name, ops[i].file);
    }
    ck_assert_int_eq(n_no_grad, (int)(sizeof no_grad_ops / sizeof no_grad_ops[0]));
    tg_tensor *a = tg_from_data(NULL, (float[]){1, 2, 3, NAN}, TG_SHAPE(2, 2)), *b = tg_full(NULL, TG_SHAPE(2), 2.0f);
    tg_tensor_requires_grad(a, true);
    tg_tensor_requires_grad(b, true);
    /* a = [[1,2],[3,nan]] against b = [2,2] broadcast */
    static const float want[][4] = {{0, 1, 0, 0}, {1, 0, 1, 1}, {1, 0, 0, 0}, {1, 1, 0, 0}, {0, 0, 1, 0}, {0, 1, 1, 0}};
    tg_graph *g = tg_graph_new();
    for (size_t k = 0; k < sizeof no_grad_ops / sizeof no_grad_ops[0]; k++) {
        tg_tensor *y = no_grad_ops[k].fn(g, a, b);
        ck_assert_shape(y, 2, 2);
        ck_assert_str_eq(tg_tensor_op_name(y), no_grad_ops[k].name);
        ck_assert_msg(!y->requires_grad, "%s requires grad", no_grad_ops[k].name);
        for (int i = 0; i < 4; i++) ck_assert_float_eq(y->data[i], want[k][i]);
        ck_assert_int_eq(tg_backward(tg_sum(g, y)), TG_ERR_ARG); /* nothing to differentiate */
    }
    /* used as a mask, only the other factor's path carries a gradient */
    tg_tensor *m = tg_mul(g, tg_gt(g, a, b), a);
    ck_assert(m->requires_grad);
    ck_assert_int_eq(tg_backward(tg_sum(g, tg_narrow(g, m, 1, 0, 1))), TG_OK);
    ck_assert_float_eq(a->grad[0], 0.0f);
    ck_assert_float_eq(a->grad[2], 1.0f);
    ck_assert_float_eq(b->grad[0], 0.0f);
    ck_assert_float_eq(b->grad[1], 0.0f);
    ck_assert_ptr_null(tg_lt(g, a, tg_ones(g, TG_SHAPE(3))));
    ck_assert_str_eq(tg_last_error(), "tg_lt: (2,2) < (3): sizes 2 and 3 at dimension 1 do not broadcast");
    tg_graph_free(g);
    tg_tensor_free(a);
    tg_tensor_free(b);
}
END_TEST

START_TEST(test_ops_a_tensor_names_its_op)
{
    tg_graph *g = tg_graph_new();
    tg_tensor *a = tg_ones(g, TG_SHAPE(2, 3)), *b = tg_ones(g, TG_SHAPE(3, 2));
    ck_assert_str_eq(tg_tensor_op_name(a), "leaf");
    ck_assert_str_eq(tg_tensor_op_name(tg_matmul(g, a, b)), "matmul");
    ck_assert_str_eq(tg_tensor_op_name(tg_reshape(g, a, TG_SHAPE(6))), "view");
    ck_assert_str_eq(tg_tensor_op_name(tg_detach(g, tg_relu(g, a))), "leaf");
    ck_assert_str_eq(tg_tensor_op_name(NULL), "");
    tg_graph_free(g);
}
END_TEST

/* One check per suite case, with two seeds: different random inputs. */
START_TEST(test_ops_gradcheck_case)
{
    int i = _i % tg_gradcheck_suite_size();
    uint64_t seed = (uint64_t)(_i / tg_gradcheck_suite_size()) + 1;
    tg_gradcheck_result r;
    tg_status s = tg_gradcheck_suite_run(i, seed, &r);
    ck_assert_msg(s == TG_OK, "%s: %s", tg_gradcheck_suite_name(i), tg_last_error());
    ck_assert_msg(r.ok, "%s (seed %d): max abs error %.3g, max rel error %.3g", tg_gradcheck_suite_name(i),
                  (int)seed, r.max_abs_err, r.max_rel_err);
    ck_assert_int_gt(r.n_checked, 0);
}
END_TEST

/* ---- broadcasting ---- */

typedef struct bcase {
    int na, a[4], nb, b[4], ny, y[4];
} bcase;

static const bcase broadcasts[] = {
    {2, {2, 3}, 2, {2, 3}, 2, {2, 3}},
    {2, {2, 3}, 1, {3}, 2, {2, 3}},
    {2, {3, 1}, 2, {1, 4}, 2, {3, 4}},
    {3, {2, 1, 4}, 2, {3, 1}, 3, {2, 3, 4}},
    {4, {2, 1, 3, 1}, 3, {4, 1, 5}, 4, {2, 4, 3, 5}},
    {0, {0}, 2, {2, 2}, 2, {2, 2}},
    {1, {1}, 0, {0}, 1, {1}},
};

START_TEST(test_ops_broadcast_shapes)
{
    const bcase *c = &broadcasts[_i];
    tg_graph *g = tg_graph_new();
    tg_tensor *a = tg_full(g, c->na, c->a, 2.0f), *b = tg_full(g, c->nb, c->b, 3.0f);
    tg_tensor *ys[] = {tg_add(g, a, b), tg_sub(g, b, a), tg_mul(g, a, b), tg_div(g, a, b)};
    const float want[] = {5.0f, 1.0f, 6.0f, 2.0f / 3.0f};
    for (int k = 0; k < 4; k++) {
        tg_tensor *y = ys[k];
        ck_assert_ptr_nonnull(y);
        ck_assert_int_eq(y->ndim, c->ny);
        for (int d = 0; d < c->ny; d++) ck_assert_int_eq(y->shape[d], c->y[d]);
        for (size_t i = 0; i < y->size; i++) ck_assert_float_eq(y->data[i], want[k]);
    }
    tg_graph_free(g);
}
END_TEST

START_TEST(test_ops_broadcast_values_follow_indices)
{
    /* a (2,1,3) + b (4,1): y[i,j,k] = a[i,0,k] + b[j,0] */
    tg_graph *g = tg_graph_new();
    tg_tensor *a = tg_arange(g, 0, 6, 1), *b = tg_arange(g, 0, 400, 100);
    tg_tensor *y = tg_add(g, tg_reshape(g, a, 3, (int[]){2, 1, 3}), tg_reshape(g, b, 2, (int[]){4, 1}));
    ck_assert_shape(y, 2, 4, 3);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 3; k++) ck_assert_float_eq(y->data[(i * 4 + j) * 3 + k], (float)(i * 3 + k + 100 * j));
    tg_graph_free(g);
}
END_TEST

START_TEST(test_ops_broadcast_mismatch_message)
{
    tg_graph *g = tg_graph_new();
    tg_tensor *a = tg_ones(g, 2, (int[]){2, 3}), *b = tg_ones(g, 1, (int[]){4});
    ck_assert_ptr_null(tg_mul(g, a, b));
    ck_assert_str_eq(tg_last_error(), "tg_mul: (2,3) * (4): sizes 3 and 4 at dimension 1 do not broadcast");
    tg_graph_free(g);
}
END_TEST

/* ---- shapes ---- */

START_TEST(test_ops_matmul_and_linear_shapes)
{
    tg_graph *g = tg_graph_new();
    tg_tensor *x = tg_ones(g, 2, (int[]){4, 3}), *W = tg_ones(g, 2, (int[]){5, 3}), *b = tg_ones(g, 1, (int[]){5});
    ck_assert_shape(tg_matmul(g, x, tg_transpose(g, W)), 4, 5);
    ck_assert_shape(tg_linear(g, x, W, b), 4, 5);
    ck_assert_float_eq(tg_linear(g, x, W, b)->data[0], 4.0f);
    ck_assert_ptr_null(tg_linear(g, x, tg_transpose(g, W), NULL));
    ck_assert_str_eq(tg_last_error(), "tg_linear: x (4,3), W (3,5): W must be (out, 3)");
    ck_assert_ptr_null(tg_linear(g, x, W, tg_ones(g, 1, (int[]){4})));
    ck_assert_str_eq(tg_last_error(), "tg_linear: b (4): expected (5) for W (5,3)");
    ck_assert_ptr_null(tg_matmul(g, W, b));
    ck_assert_str_eq(tg_last_error(), "tg_matmul: (5,3) @ (5): inner dimensions 3 and 5 differ");
    tg_graph_free(g);
}
END_TEST

START_TEST(test_ops_reshape_and_flatten)
{
    tg_graph *g = tg_graph_new();
    tg_tensor *x = tg_arange(g, 0, 24, 1);
    tg_tensor *r = tg_reshape(g, x, 3, (int[]){2, -1, 4});
    ck_assert_shape(r, 2, 3, 4);
    ck_assert_ptr_eq(r->data, x->data);
    ck_assert_shape(tg_flatten(g, r, 1), 2, 12);
    ck_assert_shape(tg_flatten(g, r, 0), 24);
    ck_assert_shape(tg_flatten(g, r, -1), 2, 3, 4);
    ck_assert_ptr_null(tg_reshape(g, x, 0, NULL)); /* not a scalar: 24 elements */
    ck_assert_int_eq(tg_reshape(g, tg_ones(g, 2, (int[]){1, 1}), 0, NULL)->ndim, 0);
    tg_graph_free(g);
}
END_TEST

START_TEST(test_ops_reshape_errors)
{
    tg_graph *g = tg_graph_new();
    tg_tensor *x = tg_arange(g, 0, 24, 1);
    ck_assert_ptr_null(tg_reshape(g, x, 2, (int[]){5, 5}));
    ck_assert_str_eq(tg_last_error(), "tg_reshape: cannot view (24) (24 elements) as a shape of 25 elements");
    ck_assert_ptr_null(tg_reshape(g, x, 2, (int[]){5, -1}));
    ck_assert_ptr_null(tg_reshape(g, x, 2, (int[]){-1, -1}));
    ck_assert_str_eq(tg_last_error(), "tg_reshape: size -1 at dimension 1 (only one -1 is allowed)");
    ck_assert_ptr_null(tg_flatten(g, x, 3));
    ck_assert_str_eq(tg_last_error(), "tg_flatten: axis 3 is out of range for shape (24)");
    tg_graph_free(g);
}
END_TEST

/* ---- reductions ---- */

START_TEST(test_ops_reduction_shapes_and_axes)
{
    tg_graph *g = tg_graph_new();
    tg_tensor *x = tg_reshape(g, tg_arange(g, 0, 24, 1), 3, (int[]){2, 3, 4});
    ck_assert_int_eq(tg_sum(g, x)->ndim, 0);
    ck_assert_float_eq(tg_sum(g, x)->data[0], 276.0f);
    ck_assert_float_eq(tg_mean(g, x)->data[0], 11.5f);
    tg_tensor *s1 = tg_sum_axis(g, x, 1, false);
    ck_assert_shape(s1, 2, 4);
    ck_assert_float_eq(s1->data[0], 0.0f + 4 + 8);
    ck_assert_shape(tg_sum_axis(g, x, -1, true), 2, 3, 1);
    ck_assert_float_eq(tg_mean_axis(g, x, 0, false)->data[5], (5.0f + 17.0f) / 2);
    tg_tensor *m = tg_max_axis(g, x, 2, false);
    ck_assert_shape(m, 2, 3);
    ck_assert_float_eq(m->data[4], 19.0f);
    ck_assert_ptr_null(tg_sum_axis(g, x, 3, false));
    ck_assert_str_eq(tg_last_error(), "tg_sum_axis: axis 3 is out of range for shape (2,3,4)");
    ck_assert_ptr_null(tg_max_axis(g, x, -4, false));
    tg_graph_free(g);
}
END_TEST

START_TEST(test_ops_argmax_takes_the_first_maximum)
{
    tg_graph *g = tg_graph_new();
    tg_tensor *x = tg_from_data(g, (float[]){1, 3, 3, 0, 5, 5, 5, -1, NAN, 2, 9, 1}, 2, (int[]){3, 4});
    int rows[3], cols[4];
    ck_assert_int_eq(tg_argmax(x, 1, rows), TG_OK);
    ck_assert_int_eq(rows[0], 1);
    ck_assert_int_eq(rows[1], 0);
    ck_assert_int_eq(rows[2], 0); /* NaN is the maximum, as in torch */
    ck_assert_int_eq(tg_argmax(x, 0, cols), TG_OK);
    ck_assert_int_eq(cols[0], 2);
    ck_assert_int_eq(cols[1], 1);
    ck_assert_int_eq(cols[2], 2);
    ck_assert_int_eq(cols[3], 2);
    ck_assert_int_eq(tg_argmax(x, 2, cols), TG_ERR_ARG);
    ck_assert_int_eq(tg_argmax(NULL, 0, cols), TG_ERR_ARG);
    tg_graph_free(g);
}
END_TEST

START_TEST(test_ops_softmax_rows_sum_to_one)
{
    tg_rng rng;
    tg_rng_seed(&rng, 9);
    tg_graph *g = tg_graph_new();
    tg_tensor *x = tg_mul_scalar(g, tg_randn(g, &rng, 2, (int[]){5, 7}), 30.0f);
    tg_tensor *p = tg_softmax(g, x, 1), *lp = tg_log_softmax(g, x, -1);
    for (int r = 0; r < 5; r++) {
        double sum = 0;
        for (int c = 0; c < 7; c++) {
            sum += p->data[r * 7 + c];
            ck_assert(p->data[r * 7 + c] >= 0.0f);
            ck_assert(isfinite(lp->data[r * 7 + c]));
        }
        ck_assert_close(sum, 1.0, 1e-6, 0);
    }
    tg_graph_free(g);
}
END_TEST

START_TEST(test_ops_scalar_axis_ops)
{
    /* torch accepts dim 0 or -1 on a 0-dimensional tensor */
    tg_graph *g = tg_graph_new();
    tg_tensor *s = tg_full(g, 0, NULL, 3.0f);
    tg_tensor *m = tg_max_axis(g, s, 0, false), *p = tg_softmax(g, s, -1), *t = tg_sum_axis(g, s, -1, true);
    ck_assert_int_eq(m->ndim, 0);
    ck_assert_float_eq(m->data[0], 3.0f);
    ck_assert_float_eq(p->data[0], 1.0f);
    ck_assert_int_eq(t->ndim, 0);
    ck_assert_ptr_null(tg_max_axis(g, s, 1, false));
    tg_graph_free(g);
}
END_TEST

START_TEST(test_ops_broadcast_gradient_sums_in_double)
{
    /* d mean(x + b) / db = 1 exactly: each of the n rows adds 1/n. A float
     * accumulator drifts by about n 2^-24 relative (0.9% for n = 1e6). */
    const int n = 1000000;
    tg_tensor *b = tg_zeros(NULL, 0, NULL);
    tg_tensor_requires_grad(b, true);
    tg_graph *g = tg_graph_new();
    ck_assert_int_eq(tg_backward(tg_mean(g, tg_add(g, tg_zeros(g, 1, (int[]){n}), b))), TG_OK);
    ck_assert_close(b->grad[0], 1.0, 1e-6, 0);
    tg_graph_free(g);
    tg_tensor_free(b);
}
END_TEST

/* ---- elementwise arguments ---- */

START_TEST(test_ops_softplus_needs_positive_beta)
{
    tg_graph *g = tg_graph_new();
    ck_assert_ptr_null(tg_softplus(g, tg_ones(g, 1, (int[]){2}), 0.0f, 20.0f));
    ck_assert_str_eq(tg_last_error(), "tg_softplus: beta 0: must be positive");
    tg_graph_free(g);
}
END_TEST

START_TEST(test_ops_unary_ops_keep_shape)
{
    tg_graph *g = tg_graph_new();
    tg_tensor *x = tg_full(g, 3, (int[]){2, 1, 3}, 0.5f);
    tg_tensor *ys[] = {tg_neg(g, x), tg_exp(g, x), tg_log(g, x), tg_sqrt(g, x), tg_abs(g, x), tg_square(g, x),
                       tg_relu(g, x), tg_sigmoid(g, x), tg_tanh(g, x), tg_gelu(g, x), tg_pow(g, x, 2.0f),
                       tg_clamp(g, x, 0, 1), tg_leaky_relu(g, x, 0.01f), tg_softplus(g, x, 1, 20)};
    for (size_t k = 0; k < sizeof ys / sizeof ys[0]; k++) ck_assert_shape(ys[k], 2, 1, 3);
    ck_assert_float_eq(ys[5]->data[0], 0.25f);
    tg_graph_free(g);
}
END_TEST

/* ---- dropout ---- */

START_TEST(test_ops_dropout_statistics)
{
    /* Each element is kept with probability 1 - p = 0.7 and scaled by 1/0.7.
     * Over n = 100,000 elements the kept count's standard deviation is
     * sqrt(n p (1-p)) ~ 145; allow 5 of them. */
    const int n = 100000;
    const float p = 0.3f;
    tg_rng rng;
    tg_rng_seed(&rng, 5);
    tg_graph *g = tg_graph_new();
    tg_tensor *x = tg_ones(g, 1, (int[]){n});
    tg_tensor *y = tg_dropout(g, x, p, true, &rng);
    int kept = 0;
    for (int i = 0; i < n; i++) {
        if (y->data[i] != 0.0f) {
            kept++;
            ck_assert_float_eq_tol(y->data[i], 1.0f / 0.7f, 1e-6f);
        }
    }
    ck_assert_int_le(abs(kept - (int)(n * (1 - p))), (int)(5 * sqrt(n * p * (1 - p))));
    tg_graph_free(g);
}
END_TEST

START_TEST(test_ops_dropout_modes)
{
    tg_rng r1, r2;
    tg_rng_seed(&r1, 8);
    tg_rng_seed(&r2, 8);
    tg_graph *g = tg_graph_new();
    tg_tensor *x = tg_ones(g, 1, (int[]){64});
    ck_assert_ptr_eq(tg_dropout(g, x, 0.5f, false, &r1), x); /* eval: identity */
    ck_assert_ptr_eq(tg_dropout(g, x, 0.0f, true, &r1), x);
    tg_tensor *a = tg_dropout(g, x, 0.5f, true, &r1), *b = tg_dropout(g, x, 0.5f, true, &r2);
    ck_assert_mem_eq(a->data, b->data, 64 * sizeof(float)); /* same seed, same mask */
    tg_tensor *all = tg_dropout(g, x, 1.0f, true, &r1);
    for (int i = 0; i < 64; i++) ck_assert_float_eq(all->data[i], 0.0f);
    ck_assert_ptr_null(tg_dropout(g, x, 1.5f, true, &r1));
    ck_assert_str_eq(tg_last_error(), "tg_dropout: p = 1.5: must be in [0, 1]");
    ck_assert_ptr_null(tg_dropout(g, x, 0.5f, true, NULL));
    tg_graph_free(g);
}
END_TEST

/* ---- the N-D ops: shapes and messages ---- */

/* The call returns NULL and leaves exactly this message. */
#define ck_assert_refused(call, msg)                                                               \
    do {                                                                                           \
        ck_assert_ptr_null(call);                                                                  \
        ck_assert_str_eq(tg_last_error(), msg);                                                    \
    } while (0)

START_TEST(test_ops_matmul_nd_shapes_and_messages)
{
    tg_graph *g = tg_graph_new();
    tg_tensor *v4 = tg_ones(g, TG_SHAPE(4)), *m34 = tg_ones(g, TG_SHAPE(3, 4)), *m45 = tg_ones(g, TG_SHAPE(4, 5));
    tg_tensor *b243 = tg_ones(g, TG_SHAPE(2, 4, 3)), *b2134 = tg_ones(g, TG_SHAPE(2, 1, 3, 4));
    tg_tensor *dot = tg_matmul(g, v4, v4);
    ck_assert_int_eq(dot->ndim, 0);
    ck_assert_float_eq(dot->data[0], 4.0f);
    ck_assert_shape(tg_matmul(g, v4, m45), 5);
    ck_assert_shape(tg_matmul(g, m34, v4), 3);
    ck_assert_shape(tg_matmul(g, v4, b243), 2, 3);
    ck_assert_shape(tg_matmul(g, b2134, v4), 2, 1, 3);
    ck_assert_shape(tg_matmul(g, b2134, tg_ones(g, TG_SHAPE(5, 4, 2))), 2, 5, 3, 2);
    ck_assert_shape(tg_matmul(g, tg_ones(g, TG_SHAPE(2, 3, 4)), m45), 2, 3, 5);
    ck_assert_shape(tg_matmul(g, m34, b243), 2, 3, 3);
    ck_assert_refused(tg_matmul(g, tg_ones(g, 0, NULL), v4), "tg_matmul: () @ (4): both arguments need at least 1 dimension");
    ck_assert_refused(tg_matmul(g, m34, m34), "tg_matmul: (3,4) @ (3,4): inner dimensions 4 and 3 differ");
    ck_assert_refused(tg_matmul(g, tg_ones(g, TG_SHAPE(2, 3, 4)), tg_ones(g, TG_SHAPE(3, 4, 2))),
                      "tg_matmul: (2,3,4) @ (3,4,2): batch sizes 2 and 3 at dimension 0 do not broadcast");
    ck_assert_refused(tg_matmul(g, tg_ones(g, TG_SHAPE(2, 2, 3, 4)), tg_ones(g, TG_SHAPE(2, 3, 4, 2))),
                      "tg_matmul: (2,2,3,4) @ (2,3,4,2): batch sizes 2 and 3 at dimension 1 do not broadcast");
    /* values: batch i of a (2,3,4) @ b (2,4,5) is a_i b_i */
    tg_tensor *a = tg_reshape(g, tg_arange(g, 0, 24, 1), TG_SHAPE(2, 3, 4)), *b = tg_reshape(g, tg_arange(g, 0, 40, 1), TG_SHAPE(2, 4, 5));
    tg_tensor *y = tg_matmul(g, a, b);
    for (int i = 0; i < 2; i++)
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 5; c++) {
                float want = 0;
                for (int k = 0; k < 4; k++) want += a->data[(i * 3 + r) * 4 + k] * b->data[(i * 4 + k) * 5 + c];
                ck_assert_float_eq(y->data[(i * 3 + r) * 5 + c], want);
            }
    tg_graph_free(g);
}
END_TEST

START_TEST(test_ops_linear_nd)
{
    tg_graph *g = tg_graph_new();
    tg_tensor *W = tg_ones(g, TG_SHAPE(5, 3)), *b = tg_ones(g, TG_SHAPE(5));
    ck_assert_shape(tg_linear(g, tg_ones(g, TG_SHAPE(2, 4, 3)), W, b), 2, 4, 5);
    ck_assert_shape(tg_linear(g, tg_ones(g, TG_SHAPE(3)), W, NULL), 5);
    ck_assert_shape(tg_linear(g, tg_ones(g, TG_SHAPE(2, 1, 2, 3)), W, b), 2, 1, 2, 5);
    ck_assert_refused(tg_linear(g, tg_ones(g, 0, NULL), W, b), "tg_linear: x has shape (): expected (..., in)");
    ck_assert_refused(tg_linear(g, tg_ones(g, TG_SHAPE(2, 4, 4)), W, b), "tg_linear: x (2,4,4), W (5,3): W must be (out, 4)");
    tg_graph_free(g);
}
END_TEST

START_TEST(test_ops_permute)
{
    tg_graph *g = tg_graph_new();
    tg_tensor *x = tg_reshape(g, tg_arange(g, 0, 24, 1), TG_SHAPE(2, 3, 4));
    tg_tensor *y = tg_permute(g, x, TG_SHAPE(-1, 0, 1));
    ck_assert_shape(y, 4, 2, 3);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < 3; k++) ck_assert_float_eq(y->data[(i * 2 + j) * 3 + k], (float)((j * 3 + k) * 4 + i));
    ck_assert_refused(tg_permute(g, x, TG_SHAPE(0, 1)), "tg_permute: 2 dims for x (2,3,4): expected one per dimension (3)");
    ck_assert_refused(tg_permute(g, x, TG_SHAPE(0, 3, 1)), "tg_permute: dims[1] = 3 is out of range for x (2,3,4)");
    ck_assert_refused(tg_permute(g, x, TG_SHAPE(0, 1, -3)), "tg_permute: dims[2] = -3 repeats a dimension of x (2,3,4)");
    tg_graph_free(g);
}
END_TEST

START_TEST(test_ops_cat_and_stack)
{
    tg_graph *g = tg_graph_new();
    tg_tensor *xs[10];
    for (int k = 0; k < 10; k++) xs[k] = tg_full(g, TG_SHAPE(2, 1 + k % 2), (float)k);
    /* ten inputs: a tree of nodes of at most 3 inputs */
    tg_tensor *y = tg_cat(g, xs, 10, 1);
    ck_assert_shape(y, 2, 15);
    ck_assert_str_eq(tg_tensor_op_name(y), "cat");
    for (int r = 0, k = 0, c = 0; k < 10; k++)
        for (int j = 0; j < 1 + k % 2; j++, c++)
            for (r = 0; r < 2; r++) ck_assert_float_eq(y->data[r * 15 + c], (float)k);
    ck_assert_shape(tg_cat(g, xs, 1, 0), 2, 1);
    tg_tensor *same[3] = {xs[0], xs[2], xs[4]};
    tg_tensor *s = tg_stack(g, same, 3, -1);
    ck_assert_shape(s, 2, 1, 3);
    ck_assert_float_eq(s->data[2], 4.0f);
    ck_assert_shape(tg_stack(g, same, 3, 0), 3, 2, 1);
    ck_assert_refused(tg_cat(g, xs, 0, 0), "tg_cat: 0 tensors: expected a non-empty list");
    ck_assert_refused(tg_cat(g, xs, 2, 0), "tg_cat: sizes must match except in dimension 0: tensor 0 is (2,1), tensor 1 is (2,2)");
    ck_assert_refused(tg_cat(g, xs, 2, 2), "tg_cat: axis 2 is out of range for shape (2,1)");
    tg_tensor *with_null[2] = {xs[0], NULL};
    ck_assert_refused(tg_cat(g, with_null, 2, 0), "tg_cat: axis 2 is out of range for shape (2,1)"); /* a NULL keeps the first cause */
    tg_clear_error();
    ck_assert_refused(tg_cat(g, with_null, 2, 0), "tg_cat: input 2 is NULL");
    ck_assert_refused(tg_cat(g, (tg_tensor *[]){tg_ones(g, 0, NULL)}, 1, 0),
                      "tg_cat: tensor 0 is a scalar (): cat needs at least 1 dimension (use tg_stack)");
    ck_assert_refused(tg_stack(g, xs, 2, 0), "tg_stack: expects tensors of one shape: tensor 0 is (2,1), tensor 1 is (2,2)");
    ck_assert_refused(tg_stack(g, same, 3, 3), "tg_stack: dim 3 is out of range for stacking tensors of shape (2,1) (expected [-3, 2])");
    tg_tensor *big = tg_ones(g, TG_SHAPE(1, 1, 1, 1));
    ck_assert_refused(tg_stack(g, &big, 1, 0), "tg_stack: tensors of shape (1,1,1,1): stacking them needs 5 dimensions, tg has at most 4");
    tg_graph_free(g);
}
END_TEST

START_TEST(test_ops_cat_of_many_differentiates_each_input)
{
    /* 7 inputs, one not requiring grad: each gets its own slice of dy once */
    tg_tensor *xs[7];
    for (int k = 0; k < 7; k++) {
        xs[k] = tg_full(NULL, TG_SHAPE(2), (float)k);
        tg_tensor_requires_grad(xs[k], k != 3);
    }
    tg_graph *g = tg_graph_new();
    tg_tensor *y = tg_cat(g, xs, 7, 0);
    float dy[14];
    for (int i = 0; i < 14; i++) dy[i] = (float)(i + 1);
    ck_assert_int_eq(tg_backward_grad(y, dy), TG_OK);
    for (int k = 0; k < 7; k++) {
        if (k == 3) {
            ck_assert_ptr_null(xs[k]->grad);
            continue;
        }
        ck_assert_float_eq(xs[k]->grad[0], (float)(2 * k + 1));
        ck_assert_float_eq(xs[k]->grad[1], (float)(2 * k + 2));
    }
    tg_graph_free(g);
    for (int k = 0; k < 7; k++) tg_tensor_free(xs[k]);
}
END_TEST

START_TEST(test_ops_narrow_and_slice)
{
    tg_graph *g = tg_graph_new();
    tg_tensor *x = tg_reshape(g, tg_arange(g, 0, 10, 1), TG_SHAPE(2, 5));
    tg_tensor *n = tg_narrow(g, x, -1, -2, 2);
    ck_assert_shape(n, 2, 2);
    ck_assert_float_eq(n->data[0], 3.0f);
    ck_assert_float_eq(n->data[3], 9.0f);
    tg_tensor *s = tg_slice(g, x, 1, -4, INT_MAX, 2); /* x[:, -4::2] = columns 1, 3 */
    ck_assert_shape(s, 2, 2);
    ck_assert_float_eq(s->data[1], 3.0f);
    ck_assert_float_eq(s->data[2], 6.0f);
    ck_assert_shape(tg_slice(g, x, 0, -100, 100, 1), 2, 5);
    ck_assert_shape(tg_slice(g, x, 1, 0, 5, 7), 2, 1);
    ck_assert_refused(tg_narrow(g, x, 1, -6, 1), "tg_narrow: start -6 is out of range for dimension 1 of x (2,5) (size 5)");
    ck_assert_refused(tg_narrow(g, x, 1, 4, 2), "tg_narrow: start 4 + length 2 on dimension 1 of x (2,5) (size 5): exceeds the size");
    ck_assert_refused(tg_narrow(g, x, 0, 0, 0),
                      "tg_narrow: start 0 + length 0 on dimension 0 of x (2,5) (size 2): length must be positive (tg tensors are never empty)");
    ck_assert_refused(tg_narrow(g, x, 2, 0, 1), "tg_narrow: axis 2 is out of range for shape (2,5)");
    ck_assert_refused(tg_slice(g, x, 1, 3, 2, 1), "tg_slice: [3:2:1] on dimension 1 of x (2,5) (size 5) is empty (tg tensors are never empty)");
    ck_assert_refused(tg_slice(g, x, 1, 0, 5, 0), "tg_slice: step 0: must be at least 1 (as torch's slicing)");
    ck_assert_refused(tg_slice(g, tg_ones(g, 0, NULL), 0, 0, 1, 1), "tg_slice: x is a scalar (): nothing to slice");
    tg_graph_free(g);
}
END_TEST

START_TEST(test_ops_index_ops_refuse_bad_indices)
{
    tg_graph *g = tg_graph_new();
    tg_tensor *x = tg_reshape(g, tg_arange(g, 0, 10, 1), TG_SHAPE(2, 5));
    tg_tensor *sel = tg_index_select(g, x, 1, tg_from_data(g, (float[]){4, 0, 4}, TG_SHAPE(3)));
    ck_assert_shape(sel, 2, 3);
    ck_assert_float_eq(sel->data[3], 9.0f);
    ck_assert_shape(tg_index_select(g, x, 0, tg_full(g, 0, NULL, 1.0f)), 1, 5);
    ck_assert_refused(tg_index_select(g, x, 1, tg_from_data(g, (float[]){4, 1.5f}, TG_SHAPE(2))),
                      "tg_index_select: index[1] = 1.5 is not a whole number (an index tensor holds whole numbers as floats)");
    ck_assert_refused(tg_index_select(g, x, 1, tg_from_data(g, (float[]){5}, TG_SHAPE(1))),
                      "tg_index_select: index[0] = 5 is out of range [0, 5) for dimension 1 of x (2,5)");
    ck_assert_refused(tg_index_select(g, x, 0, tg_from_data(g, (float[]){-1}, TG_SHAPE(1))),
                      "tg_index_select: index[0] = -1 is out of range [0, 2) for dimension 0 of x (2,5)");
    ck_assert_refused(tg_index_select(g, x, 0, tg_from_data(g, (float[]){NAN}, TG_SHAPE(1))),
                      "tg_index_select: index[0] = nan is not a whole number (an index tensor holds whole numbers as floats)");
    ck_assert_refused(tg_index_select(g, x, 0, tg_zeros(g, TG_SHAPE(1, 1))),
                      "tg_index_select: index (1,1): expected a vector (1 dimension) or a scalar");
    ck_assert_refused(tg_index_select(g, x, 2, tg_zeros(g, TG_SHAPE(1))), "tg_index_select: axis 2 is out of range for shape (2,5)");

    tg_tensor *ga = tg_gather(g, x, 1, tg_from_data(g, (float[]){4, 4, 4, 0, 1, 2}, TG_SHAPE(2, 3)));
    ck_assert_shape(ga, 2, 3);
    ck_assert_float_eq(ga->data[1], 4.0f);
    ck_assert_float_eq(ga->data[5], 7.0f);
    ck_assert_refused(tg_gather(g, x, 1, tg_from_data(g, (float[]){0, 1, 2, 3, 4, 7}, TG_SHAPE(2, 3))),
                      "tg_gather: index[1,2] = 7 is out of range [0, 5) for dimension 1 of x (2,5)");
    ck_assert_refused(tg_gather(g, x, 0, tg_from_data(g, (float[]){0, 0.25f}, TG_SHAPE(1, 2))),
                      "tg_gather: index[0,1] = 0.25 is not a whole number (an index tensor holds whole numbers as floats)");
    ck_assert_refused(tg_gather(g, x, 1, tg_zeros(g, TG_SHAPE(6))), "tg_gather: index (6) and x (2,5): index must have x's number of dimensions");
    ck_assert_refused(tg_gather(g, x, 1, tg_zeros(g, TG_SHAPE(3, 1))),
                      "tg_gather: index (3,1) and x (2,5): index's size 3 at dimension 0 is larger than x's (2); only along dim 1 may it be");

    tg_tensor *W = tg_reshape(g, tg_arange(g, 0, 8, 1), TG_SHAPE(4, 2));
    tg_tensor *e = tg_embedding(g, W, tg_from_data(g, (float[]){3, 0, 3}, TG_SHAPE(1, 3)), -1);
    ck_assert_shape(e, 1, 3, 2);
    ck_assert_float_eq(e->data[1], 7.0f);
    ck_assert_shape(tg_embedding(g, W, tg_full(g, 0, NULL, 2.0f), 0), 2);
    ck_assert_refused(tg_embedding(g, W, tg_from_data(g, (float[]){1, 4}, TG_SHAPE(2)), -1),
                      "tg_embedding: indices[1] = 4 is out of range [0, 4) for weight (4,2) (num_embeddings 4)");
    ck_assert_refused(tg_embedding(g, W, tg_from_data(g, (float[]){1, 2.5f}, TG_SHAPE(1, 2)), -1),
                      "tg_embedding: indices[0,1] = 2.5 is not a whole number (an index tensor holds whole numbers as floats)");
    ck_assert_refused(tg_embedding(g, W, tg_zeros(g, TG_SHAPE(1)), 4),
                      "tg_embedding: padding_idx 4 must be within num_embeddings 4 of weight (4,2)");
    ck_assert_refused(tg_embedding(g, tg_ones(g, TG_SHAPE(4)), tg_zeros(g, TG_SHAPE(1)), -1),
                      "tg_embedding: weight (4): expected 2 dimensions (num_embeddings, embedding_dim)");
    ck_assert_refused(tg_embedding(g, W, tg_zeros(g, TG_SHAPE(1, 1, 1, 1)), -1),
                      "tg_embedding: indices (1,1,1,1): at most 3 dimensions (the result adds one)");
    tg_graph_free(g);
}
END_TEST

START_TEST(test_ops_index_gradients_accumulate_in_order)
{
    /* repeated indices add; the padding row gets nothing */
    tg_tensor *W = tg_zeros(NULL, TG_SHAPE(3, 2));
    tg_tensor_requires_grad(W, true);
    tg_graph *g = tg_graph_new();
    tg_tensor *y = tg_embedding(g, W, tg_from_data(g, (float[]){2, 0, 2, 1}, TG_SHAPE(4)), 1);
    ck_assert_int_eq(tg_backward_grad(y, (float[]){1, 2, 3, 4, 5, 6, 7, 8}), TG_OK);
    const float want[] = {3, 4, 0, 0, 6, 8};
    for (int i = 0; i < 6; i++) ck_assert_float_eq(W->grad[i], want[i]);
    tg_graph_free(g);
    tg_tensor_free(W);
}
END_TEST

START_TEST(test_ops_maximum_where_messages)
{
    tg_graph *g = tg_graph_new();
    tg_tensor *a = tg_ones(g, TG_SHAPE(2, 3)), *b = tg_ones(g, TG_SHAPE(4));
    ck_assert_refused(tg_maximum(g, a, b), "tg_maximum: (2,3) vs (4): sizes 3 and 4 at dimension 1 do not broadcast");
    ck_assert_refused(tg_minimum(g, a, b), "tg_minimum: (2,3) vs (4): sizes 3 and 4 at dimension 1 do not broadcast");
    ck_assert_refused(tg_where(g, tg_ones(g, TG_SHAPE(3, 1)), a, tg_ones(g, TG_SHAPE(3))),
                      "tg_where: cond (3,1), a (2,3), b (3): sizes 3 and 2 at dimension 0 do not broadcast");
    tg_tensor *w = tg_where(g, tg_from_data(g, (float[]){0, NAN}, TG_SHAPE(2, 1)), a, tg_zeros(g, TG_SHAPE(3)));
    ck_assert_shape(w, 2, 3);
    ck_assert_float_eq(w->data[0], 0.0f);
    ck_assert_float_eq(w->data[5], 1.0f); /* NaN is true */
    ck_assert_ptr_null(tg_where(g, NULL, a, a)); /* a NULL keeps the message of what failed first */
    ck_assert_str_eq(tg_last_error(), "tg_where: cond (3,1), a (2,3), b (3): sizes 3 and 2 at dimension 0 do not broadcast");
    tg_clear_error();
    ck_assert_refused(tg_where(g, NULL, a, a), "tg_where: input 1 is NULL");
    tg_graph_free(g);
}
END_TEST

START_TEST(test_ops_norm_messages)
{
    tg_graph *g = tg_graph_new();
    tg_tensor *x = tg_ones(g, TG_SHAPE(2, 3, 4)), *c3 = tg_ones(g, TG_SHAPE(3));
    ck_assert_shape(tg_layer_norm(g, x, 3, NULL, NULL, 1e-5f), 2, 3, 4);
    ck_assert_refused(tg_layer_norm(g, x, 0, NULL, NULL, 1e-5f),
                      "tg_layer_norm: norm_ndim 0 for x (2,3,4): expected 1 to 3 dimensions to normalise over");
    ck_assert_refused(tg_layer_norm(g, x, 2, tg_ones(g, TG_SHAPE(4)), NULL, 1e-5f),
                      "tg_layer_norm: weight (4): expected (3,4), the last 2 dimensions of x (2,3,4)");
    ck_assert_refused(tg_layer_norm(g, x, 1, NULL, c3, 1e-5f),
                      "tg_layer_norm: bias (3): expected (4), the last 1 dimension of x (2,3,4)");
    ck_assert_shape(tg_batch_norm(g, x, NULL, NULL, c3, c3, true, 0.1f, 1e-5f), 2, 3, 4);
    ck_assert_refused(tg_batch_norm(g, tg_ones(g, TG_SHAPE(1, 3)), NULL, NULL, NULL, NULL, true, 0.1f, 1e-5f),
                      "tg_batch_norm: expected more than 1 value per channel when training, got input size (1,3)");
    ck_assert_shape(tg_batch_norm(g, tg_ones(g, TG_SHAPE(1, 3)), c3, c3, NULL, NULL, false, 0.1f, 1e-5f), 1, 3);
    ck_assert_refused(tg_batch_norm(g, x, NULL, c3, NULL, NULL, false, 0.1f, 1e-5f),
                      "tg_batch_norm: running_mean and running_var are required when not training (x (2,3,4))");
    ck_assert_refused(tg_batch_norm(g, x, tg_ones(g, TG_SHAPE(4)), c3, NULL, NULL, true, 0.1f, 1e-5f),
                      "tg_batch_norm: running_mean (4): expected (3) for x (2,3,4)");
    ck_assert_refused(tg_batch_norm(g, tg_ones(g, TG_SHAPE(3)), NULL, NULL, NULL, NULL, true, 0.1f, 1e-5f),
                      "tg_batch_norm: x (3): expected (N,C), (N,C,L) or (N,C,H,W)");
    tg_graph_free(g);
}
END_TEST

START_TEST(test_ops_batch_norm_running_stats)
{
    /* x (4,1): mean 2.5, biased var 1.25, unbiased 5/3 */
    tg_tensor *rm = tg_zeros(NULL, TG_SHAPE(1)), *rv = tg_ones(NULL, TG_SHAPE(1));
    tg_graph *g = tg_graph_new();
    tg_tensor *x = tg_from_data(g, (float[]){1, 2, 3, 4}, TG_SHAPE(4, 1));
    tg_tensor *y = tg_batch_norm(g, x, rm, rv, NULL, NULL, true, 0.1f, 0.0f);
    ck_assert_close(y->data[0], -1.5 / sqrt(1.25), 1e-6, 0);
    ck_assert_close(rm->data[0], 0.25, 1e-7, 0);
    ck_assert_close(rv->data[0], 0.9 + 0.1 * 5.0 / 3.0, 1e-7, 0);
    /* eval uses them, and changes nothing */
    tg_tensor *e = tg_batch_norm(g, x, rm, rv, NULL, NULL, false, 0.1f, 0.0f);
    ck_assert_close(e->data[3], (4.0 - 0.25) / sqrt(0.9 + 0.5 / 3.0), 1e-6, 0);
    ck_assert_close(rm->data[0], 0.25, 1e-7, 0);
    tg_graph_free(g);
    tg_tensor_free(rm);
    tg_tensor_free(rv);
}
END_TEST

START_TEST(test_ops_nd_reductions_and_elementwise)
{
    /* the existing ops on 3-D and 4-D inputs: every axis of a (2,3,2,2) */
    tg_graph *g = tg_graph_new();
    tg_tensor *x = tg_reshape(g, tg_arange(g, 0, 24, 1), TG_SHAPE(2, 3, 2, 2));
    for (int axis = 0; axis < 4; axis++) {
        tg_tensor *s = tg_sum_axis(g, x, axis, false), *m = tg_max_axis(g, x, axis, true), *p = tg_softmax(g, x, axis);
        ck_assert_int_eq(s->ndim, 3);
        ck_assert_int_eq(m->shape[axis], 1);
        double total = 0;
        for (size_t i = 0; i < s->size; i++) total += s->data[i];
        ck_assert_close(total, 276.0, 0, 0);
        double psum = 0;
        for (size_t i = 0; i < p->size; i++) psum += p->data[i];
        ck_assert_close(psum, (double)(24 / x->shape[axis]), 1e-5, 0);
    }
    tg_tensor *m2 = tg_max_axis(g, x, 1, false); /* x[i,2,j,k] = 12 i + 8 + 2 j + k */
    ck_assert_shape(m2, 2, 2, 2);
    ck_assert_float_eq(m2->data[7], 23.0f);
    ck_assert_shape(tg_mul(g, tg_sigmoid(g, x), tg_ones(g, TG_SHAPE(3, 1, 1))), 2, 3, 2, 2);
    tg_graph_free(g);
}
END_TEST

/* One forward and backward through the N-D ops, its output and gradients
 * into out (out_n floats). The batched products are large enough to be
 * split over threads. */
static size_t nd_pass(float *out, size_t out_n)
{
    tg_rng rng;
    tg_rng_seed(&rng, 77);
    tg_tensor *a = tg_randn(NULL, &rng, TG_SHAPE(2, 3, 64, 96)), *w = tg_randn(NULL, &rng, TG_SHAPE(3, 96, 80));
    tg_tensor *gamma = tg_randn(NULL, &rng, TG_SHAPE(80)), *beta = tg_randn(NULL, &rng, TG_SHAPE(3));
    tg_tensor *params[] = {a, w, gamma, beta};
    for (int k = 0; k < 4; k++) tg_tensor_requires_grad(params[k], true);
    tg_graph *g = tg_graph_new();
    tg_tensor *h = tg_layer_norm(g, tg_matmul(g, a, w), 1, gamma, NULL, 1e-5f);            /* (2,3,64,80) */
    h = tg_batch_norm(g, h, NULL, NULL, NULL, beta, true, 0.1f, 1e-5f);
    tg_tensor *t = tg_permute(g, tg_permute(g, h, TG_SHAPE(0, 1, 3, 2)), TG_SHAPE(0, 1, 3, 2));
    tg_tensor *c = tg_cat(g, (tg_tensor *[]){tg_slice(g, h, 2, 0, 64, 1), tg_narrow(g, t, 2, 0, 64), h, h}, 4,
                          1);                                                             /* (2,12,64,80) */
    tg_tensor *idx = tg_from_data(g, (float[]){11, 0, 5, 5}, TG_SHAPE(4));
    tg_tensor *y = tg_maximum(g, tg_index_select(g, c, 1, idx), tg_sin(g, tg_index_select(g, c, 1, idx)));
    tg_tensor *loss = tg_sum(g, tg_where(g, tg_gt(g, y, tg_zeros(g, 0, NULL)), y, tg_cos(g, y)));
    ck_assert_msg(loss != NULL, "%s", tg_last_error());
    ck_assert_int_eq(tg_backward(loss), TG_OK);
    size_t n = 0;
    out[n++] = loss->data[0];
    for (int k = 0; k < 4; k++)
        for (size_t i = 0; i < params[k]->size && n < out_n; i++) out[n++] = params[k]->grad[i];
    tg_graph_free(g);
    for (int k = 0; k < 4; k++) tg_tensor_free(params[k]);
    return n;
}

START_TEST(test_ops_nd_same_bits_on_any_thread_count)
{
    enum { N = 2 * 3 * 64 * 96 + 3 * 96 * 80 + 80 + 3 + 1 };
    float *one = malloc(N * sizeof *one), *three = malloc(N * sizeof *three);
    ck_assert(one && three);
    int was = tg_threads();
    tg_set_threads(1);
    size_t n1 = nd_pass(one, N);
    tg_set_threads(3);
    size_t n3 = nd_pass(three, N);
    tg_set_threads(was);
    ck_assert_int_eq(n1, N);
    ck_assert_int_eq(n3, N);
    ck_assert_mem_eq(one, three, N * sizeof *one);
    free(one);
    free(three);
}
END_TEST

/* ---- convolution and pooling: shapes, messages, torch's edge rules ---- */

START_TEST(test_ops_conv2d_shapes_and_messages)
{
    tg_graph *g = tg_graph_new();
    tg_tensor *x = tg_ones(g, TG_SHAPE(2, 3, 8, 8)), *w = tg_ones(g, TG_SHAPE(4, 3, 3, 3));
    ck_assert_shape(tg_conv2d(g, x, w, NULL, NULL), 2, 4, 6, 6);
    ck_assert_shape(tg_conv2d(g, x, w, tg_ones(g, TG_SHAPE(4)), &(tg_conv2d_opts){.stride = {2, 2}, .padding = {1, 1}}),
                    2, 4, 4, 4);
    ck_assert_shape(tg_conv2d(g, x, w, NULL, &(tg_conv2d_opts){.dilation = {2, 3}}), 2, 4, 4, 2);
    ck_assert_shape(tg_conv2d(g, x, tg_ones(g, TG_SHAPE(4, 3, 4, 2)), NULL, &(tg_conv2d_opts){.same = true}), 2, 4, 8, 8);
    ck_assert_shape(tg_conv2d(g, x, tg_ones(g, TG_SHAPE(6, 1, 3, 3)), NULL, &(tg_conv2d_opts){.groups = 3}), 2, 6, 6, 6);
    ck_assert_refused(tg_conv2d(g, tg_ones(g, TG_SHAPE(3, 8, 8)), w, NULL, NULL),
                      "tg_conv2d: x (3,8,8): expected 4 dimensions (N,C,H,W)");
    ck_assert_refused(tg_conv2d(g, x, tg_ones(g, TG_SHAPE(4, 27)), NULL, NULL),
                      "tg_conv2d: w (4,27): expected 4 dimensions (O,C/groups,kh,kw)");
    ck_assert_refused(tg_conv2d(g, x, w, NULL, &(tg_conv2d_opts){.groups = 2}),
                      "tg_conv2d: x (2,3,8,8) has 3 channels, not divisible by groups 2");
    ck_assert_refused(tg_conv2d(g, tg_ones(g, TG_SHAPE(2, 4, 8, 8)), tg_ones(g, TG_SHAPE(3, 2, 3, 3)), NULL,
                                &(tg_conv2d_opts){.groups = 2}),
                      "tg_conv2d: w (3,2,3,3) has 3 output channels, not divisible by groups 2");
    ck_assert_refused(tg_conv2d(g, x, tg_ones(g, TG_SHAPE(4, 2, 3, 3)), NULL, NULL),
                      "tg_conv2d: x (2,3,8,8), w (4,2,3,3), groups 1: w's dimension 1 must be C/groups = 3");
    ck_assert_refused(tg_conv2d(g, tg_ones(g, TG_SHAPE(1, 3, 2, 9)), w, NULL, NULL),
                      "tg_conv2d: x (1,3,2,9), w (4,3,3,3): the padded input (2,9) is smaller than the kernel (3,3) "
                      "with dilation (1,1)");
    ck_assert_refused(tg_conv2d(g, tg_ones(g, TG_SHAPE(1, 3, 4, 4)), w, NULL, &(tg_conv2d_opts){.dilation = {2, 1}}),
                      "tg_conv2d: x (1,3,4,4), w (4,3,3,3): the padded input (4,4) is smaller than the kernel (5,3) "
                      "with dilation (2,1)");
    ck_assert_shape(tg_conv2d(g, tg_ones(g, TG_SHAPE(1, 3, 2, 2)), w, NULL, &(tg_conv2d_opts){.padding = {1, 1}}), 1, 4,
                    2, 2);
    ck_assert_refused(tg_conv2d(g, x, w, NULL, &(tg_conv2d_opts){.same = true, .stride = {2, 1}}),
                      "tg_conv2d: padding 'same' needs stride 1, got stride (2,1) (x (2,3,8,8), w (4,3,3,3))");
    ck_assert_refused(tg_conv2d(g, x, w, NULL, &(tg_conv2d_opts){.same = true, .padding = {1, 0}}),
                      "tg_conv2d: padding (1,0) and 'same' both given (x (2,3,8,8), w (4,3,3,3))");
    ck_assert_refused(tg_conv2d(g, x, w, NULL, &(tg_conv2d_opts){.stride = {1, -1}}),
                      "tg_conv2d: stride (1,-1), padding (0,0), dilation (0,0), groups 0: none may be negative (0 is "
                      "torch's default)");
    ck_assert_refused(tg_conv2d(g, x, w, tg_ones(g, TG_SHAPE(3)), NULL), "tg_conv2d: b (3): expected (4) for w (4,3,3,3)");
    tg_graph_free(g);
}
END_TEST

START_TEST(test_ops_conv2d_same_pads_more_after)
{
    /* torch: an even kernel's padding 'same' is 0 before and 1 after, so
     * the top-left output sees a full 2x2 window and the bottom-right one
     * only its own element */
    tg_graph *g = tg_graph_new();
    tg_tensor *y = tg_conv2d(g, tg_ones(g, TG_SHAPE(1, 1, 4, 4)), tg_ones(g, TG_SHAPE(1, 1, 2, 2)), NULL,
                             &(tg_conv2d_opts){.same = true});
    ck_assert_shape(y, 1, 1, 4, 4);
    ck_assert_float_eq(y->data[0], 4.0f);
    ck_assert_float_eq(y->data[3], 2.0f);
    ck_assert_float_eq(y->data[12], 2.0f);
    ck_assert_float_eq(y->data[15], 1.0f);
    tg_graph_free(g);
}
END_TEST

START_TEST(test_ops_pool_shapes_and_messages)
{
    tg_graph *g = tg_graph_new();
    tg_tensor *x = tg_ones(g, TG_SHAPE(1, 1, 5, 5));
    /* ceil_mode: the formula gives 3 windows, but the third would start at
     * row 2 * 3 - 1 = 5, past the input: torch drops it */
    ck_assert_shape(tg_max_pool2d(g, x, &(tg_pool2d_opts){.kernel = {2, 2}, .stride = {3, 3}, .padding = {1, 1},
                                                          .ceil_mode = true}), 1, 1, 2, 2);
    ck_assert_shape(tg_avg_pool2d(g, x, &(tg_pool2d_opts){.kernel = {2, 2}, .ceil_mode = true}), 1, 1, 3, 3);
    ck_assert_shape(tg_avg_pool2d(g, x, &(tg_pool2d_opts){.kernel = {2, 2}}), 1, 1, 2, 2);
    ck_assert_refused(tg_avg_pool2d(g, x, NULL), "tg_avg_pool2d: opts is NULL: the kernel size is required (x (1,1,5,5))");
    ck_assert_refused(tg_max_pool2d(g, x, &(tg_pool2d_opts){.kernel = {3, 3}, .padding = {2, 0}}),
                      "tg_max_pool2d: padding (2,0) must be at most half the kernel (3,3)");
    ck_assert_refused(tg_max_pool2d(g, tg_ones(g, TG_SHAPE(1, 1, 2, 2)), &(tg_pool2d_opts){.kernel = {3, 3}}),
                      "tg_max_pool2d: x (1,1,2,2) with kernel (3,3), stride (3,3), padding (0,0): output size (0,0) is "
                      "too small");
    ck_assert_refused(tg_max_pool2d(g, x, &(tg_pool2d_opts){.kernel = {0, 2}}),
                      "tg_max_pool2d: kernel (0,2), stride (0,0), padding (0,0): the kernel must be positive, stride "
                      "and padding not negative (stride 0 is the kernel)");
    ck_assert_refused(tg_avg_pool2d(g, tg_ones(g, TG_SHAPE(5, 5)), &(tg_pool2d_opts){.kernel = {2, 2}}),
                      "tg_avg_pool2d: x (5,5): expected 4 dimensions (N,C,H,W)");
    ck_assert_shape(tg_adaptive_avg_pool2d(g, tg_ones(g, TG_SHAPE(1, 1, 5, 7)), 3, 4), 1, 1, 3, 4);
    ck_assert_refused(tg_adaptive_avg_pool2d(g, tg_ones(g, TG_SHAPE(1, 1, 5, 7)), 0, 2),
                      "tg_adaptive_avg_pool2d: output size (0,2) for x (1,1,5,7): both must be positive");
    ck_assert_refused(tg_adaptive_avg_pool2d(g, tg_ones(g, TG_SHAPE(5, 7)), 1, 1),
                      "tg_adaptive_avg_pool2d: x (5,7): expected 4 dimensions (N,C,H,W)");
    /* the divisor: a 3x3 window at a corner with padding 1 holds 4 ones */
    tg_tensor *o3 = tg_ones(g, TG_SHAPE(1, 1, 3, 3));
    tg_pool2d_opts pad = {.kernel = {3, 3}, .stride = {1, 1}, .padding = {1, 1}, .count_include_pad = true};
    ck_assert_float_eq_tol(tg_avg_pool2d(g, o3, &pad)->data[0], 4.0f / 9.0f, 1e-7f);
    pad.count_include_pad = false;
    ck_assert_float_eq(tg_avg_pool2d(g, o3, &pad)->data[0], 1.0f);
    tg_graph_free(g);
}
END_TEST

START_TEST(test_ops_max_pool2d_gradient_to_first_maximum)
{
    tg_tensor *x = tg_from_data(NULL, (float[]){1, 3, 3, 2, 3, 0, 1, 3, 3}, TG_SHAPE(1, 1, 3, 3));
    tg_tensor_requires_grad(x, true);
    tg_graph *g = tg_graph_new();
    tg_tensor *y = tg_max_pool2d(g, x, &(tg_pool2d_opts){.kernel = {2, 2}, .stride = {1, 1}});
    ck_assert_shape(y, 1, 1, 2, 2);
    ck_assert_int_eq(tg_backward(tg_sum(g, y)), TG_OK);
    /* the four windows' first maxima (row-major) are at (0,1), (0,1), (1,1), (1,1) */
    static const float want[] = {0, 2, 0, 0, 2, 0, 0, 0, 0};
    for (int i = 0; i < 9; i++) ck_assert_float_eq(x->grad[i], want[i]);
    tg_graph_free(g);
    tg_tensor_free(x);
}
END_TEST

START_TEST(test_ops_dropout2d_drops_whole_channels)
{
    /* 2,000 channels, each kept with probability 0.7: the kept count's
     * standard deviation is sqrt(n p (1-p)) ~ 20.5; allow 5 of them */
    const int N = 50, C = 40;
    const float p = 0.3f;
    tg_rng rng, r2;
    tg_rng_seed(&rng, 11);
    tg_rng_seed(&r2, 11);
    tg_graph *g = tg_graph_new();
    tg_tensor *x = tg_ones(g, TG_SHAPE(50, 40, 2, 3));
    tg_tensor *y = tg_dropout2d(g, x, p, true, &rng);
    ck_assert_shape(y, 50, 40, 2, 3);
    int kept = 0;
    for (int i = 0; i < N * C; i++) {
        float first = y->data[i * 6];
        ck_assert(first == 0.0f || fabsf(first - 1.0f / 0.7f) < 1e-6f);
        for (int k = 1; k < 6; k++) ck_assert_float_eq(y->data[i * 6 + k], first);
        kept += first != 0.0f;
    }
    ck_assert_int_le(abs(kept - (int)(N * C * (1 - p))), (int)(5 * sqrt(N * C * p * (1 - p))));
    ck_assert_mem_eq(tg_dropout2d(g, x, p, true, &r2)->data, y->data, x->size * sizeof(float)); /* same seed */
    ck_assert_ptr_eq(tg_dropout2d(g, x, 0.5f, false, &rng), x);
    ck_assert_ptr_eq(tg_dropout2d(g, x, 0.0f, true, &rng), x);
    ck_assert_refused(tg_dropout2d(g, x, -0.5f, true, &rng), "tg_dropout2d: p = -0.5: must be in [0, 1]");
    ck_assert_refused(tg_dropout2d(g, x, 0.5f, true, NULL), "tg_dropout2d: rng is NULL (training dropout2d draws a mask)");
    ck_assert_refused(tg_dropout2d(g, tg_ones(g, TG_SHAPE(2, 3, 4)), 0.5f, true, &rng),
                      "tg_dropout2d: x (2,3,4): expected 4 dimensions (N,C,H,W)");
    tg_graph_free(g);
}
END_TEST

/* A conv2d (GEMMs large enough to be split over threads), pooled, and a
 * pointwise (1x1) one, its output and gradients into out (out_n floats). */
static size_t conv_pass(float *out, size_t out_n)
{
    tg_rng rng;
    tg_rng_seed(&rng, 78);
    tg_tensor *x = tg_randn(NULL, &rng, TG_SHAPE(4, 16, 24, 24)), *w = tg_randn(NULL, &rng, TG_SHAPE(32, 8, 3, 3));
    tg_tensor *b = tg_randn(NULL, &rng, TG_SHAPE(32)), *w1 = tg_randn(NULL, &rng, TG_SHAPE(16, 32, 1, 1));
    tg_tensor *gamma = tg_randn(NULL, &rng, TG_SHAPE(32)), *ln = tg_randn(NULL, &rng, TG_SHAPE(24));
    tg_tensor *params[] = {x, w, b, w1, gamma, ln};
    for (int k = 0; k < 6; k++) tg_tensor_requires_grad(params[k], true);
    tg_graph *g = tg_graph_new();
    tg_tensor *y = tg_conv2d(g, x, w, b, &(tg_conv2d_opts){.padding = {1, 1}, .groups = 2}); /* (4,32,24,24) */
    /* batch norm and layer norm big enough to be split over threads */
    tg_tensor *bn = tg_batch_norm(g, y, NULL, NULL, gamma, NULL, true, 0.1f, 1e-5f);
    tg_tensor *h = tg_max_pool2d(g, tg_layer_norm(g, tg_conv2d(g, tg_relu(g, bn), w1, NULL, NULL), 1, ln, NULL, 1e-5f),
                                 &(tg_pool2d_opts){.kernel = {2, 2}});
    tg_tensor *loss = tg_sum(g, tg_square(g, tg_avg_pool2d(g, h, &(tg_pool2d_opts){.kernel = {3, 3}, .padding = {1, 1},
                                                                                     .ceil_mode = true})));
    ck_assert_msg(loss != NULL, "%s", tg_last_error());
    ck_assert_int_eq(tg_backward(loss), TG_OK);
    size_t n = 0;
    for (size_t i = 0; i < y->size && n < out_n; i++) out[n++] = y->data[i];
    for (int k = 0; k < 6; k++)
        for (size_t i = 0; i < params[k]->size && n < out_n; i++) out[n++] = params[k]->grad[i];
    tg_graph_free(g);
    for (int k = 0; k < 6; k++) tg_tensor_free(params[k]);
    return n;
}

START_TEST(test_ops_conv2d_same_bits_on_1_2_and_3_threads)
{
    enum { N = 4 * 32 * 24 * 24 + 4 * 16 * 24 * 24 + 32 * 8 * 3 * 3 + 32 + 16 * 32 + 32 + 24 };
    float *one = malloc(N * sizeof *one), *two = malloc(N * sizeof *two);
    ck_assert(one && two);
    int was = tg_threads();
    tg_set_threads(1);
    size_t n1 = conv_pass(one, N);
    ck_assert_int_eq(n1, N);
    for (int threads = 2; threads <= 3; threads++) { /* 3: splits that do not divide the sizes */
        tg_set_threads(threads);
        size_t n2 = conv_pass(two, N);
        ck_assert_int_eq(n2, N);
        ck_assert_msg(!memcmp(one, two, N * sizeof *one), "%d threads differ from 1", threads);
    }
    tg_set_threads(was);
    free(one);
    free(two);
}
END_TEST

/* One shape of conv2d_relu against tg_relu(tg_conv2d(...)): which inputs
 * need a gradient (x, w, b; x not: the backward masks dy in its own pass;
 * only b: neither dx nor dw runs), with or without a bias. */
typedef struct conv_relu_case {
    int C, O, k, pad, groups;
    bool bias, x_grad, w_grad;
} conv_relu_case;

/* y and the gradients of x, w and b, from one upstream gradient, compared
 * as bits between the fused op and the two ops, on threads threads. */
/* A fused op against its chain: y and the gradients of in (x, w, b; b may
 * be NULL), from one upstream gradient, compared as bits; build makes
 * either (fused or not) from in, with ctx. grad says which inputs need a
 * gradient; what names the case in a failure. */
typedef tg_tensor *fused_build(tg_graph *g, tg_tensor *const *in, bool fused, const void *ctx);

static void fused_against_chain(fused_build *build, const void *ctx, tg_tensor *const *in, const bool *grad,
                                const tg_tensor *up, const char *fused_name, const char *what)
{
    float *got[2][4] = {{NULL}};
    size_t sizes[4] = {up->size, in[0]->size, in[1]->size, in[2] ? in[2]->size : 0};
    for (int fused = 0; fused < 2; fused++) {
        for (int k = 0; k < 3; k++) {
            if (!in[k]) continue;
            tg_tensor_requires_grad(in[k], grad[k]);
            if (grad[k]) memset(in[k]->grad, 0, in[k]->size * sizeof(float));
        }
        tg_graph *g = tg_graph_new();
        tg_tensor *y = build(g, in, fused, ctx);
        ck_assert_msg(y != NULL, "%s", tg_last_error());
        ck_assert_str_eq(tg_tensor_op_name(y), fused ? fused_name : "relu");
        ck_assert_int_eq(tg_backward_grad(y, up->data), TG_OK);
        const float *from[4] = {y->data, grad[0] ? in[0]->grad : NULL, grad[1] ? in[1]->grad : NULL,
                                in[2] && grad[2] ? in[2]->grad : NULL};
        for (int k = 0; k < 4; k++) {
            if (!from[k]) continue;
            got[fused][k] = malloc(sizes[k] * sizeof(float));
            memcpy(got[fused][k], from[k], sizes[k] * sizeof(float));
        }
        tg_graph_free(g);
    }
    static const char *const names[] = {"y", "dx", "dw", "db"};
    size_t zeros = 0;
    for (size_t i = 0; i < up->size; i++) zeros += got[1][0][i] == 0.0f;
    ck_assert_msg(zeros > up->size / 4 && zeros < up->size * 3 / 4, "%zu of %zu outputs are 0", zeros, up->size);
    for (int k = 0; k < 4; k++) {
        if (!got[0][k]) continue;
        ck_assert_msg(!memcmp(got[0][k], got[1][k], sizes[k] * sizeof(float)), "%s of %s differs from its chain (%s)",
                      names[k], fused_name, what);
        free(got[0][k]), free(got[1][k]);
    }
}

static tg_tensor *build_conv_relu(tg_graph *g, tg_tensor *const *in, bool fused, const void *ctx)
{
    const conv_relu_case *c = ctx;
    tg_conv2d_opts o = {.padding = {c->pad, c->pad}, .groups = c->groups};
    return fused ? tg__conv2d_relu(g, in[0], in[1], in[2], &o) : tg_relu(g, tg_conv2d(g, in[0], in[1], in[2], &o));
}

static void conv_relu_against_chain(const conv_relu_case *c, int threads)
{
    tg_rng rng;
    tg_rng_seed(&rng, 91);
    tg_tensor *x = tg_randn(NULL, &rng, TG_SHAPE(3, c->C, 9, 9));
    tg_tensor *w = tg_randn(NULL, &rng, TG_SHAPE(c->O, c->C / c->groups, c->k, c->k));
    tg_tensor *b = c->bias ? tg_randn(NULL, &rng, TG_SHAPE(c->O)) : NULL;
    int OH = 9 + 2 * c->pad - c->k + 1;
    tg_tensor *up = tg_randn(NULL, &rng, TG_SHAPE(3, c->O, OH, OH));
    tg_tensor *params[] = {x, w, b};
    bool grad[] = {c->x_grad, c->w_grad, c->bias};
    char what[128];
    snprintf(what, sizeof what, "C %d O %d k %d groups %d bias %d x %d w %d, %d threads", c->C, c->O, c->k,
             c->groups, c->bias, c->x_grad, c->w_grad, threads);
    tg_set_threads(threads);
    fused_against_chain(build_conv_relu, c, params, grad, up, "conv2d_relu", what);
    for (int k = 0; k < 3; k++) tg_tensor_free(params[k]);
    tg_tensor_free(up);
}

START_TEST(test_ops_conv2d_relu_is_relu_of_conv2d_to_the_bit)
{
    static const conv_relu_case cases[] = {
        {4, 6, 3, 1, 1, true, true, true},   /* the CNN's: 3x3, padding 1 */
        {4, 6, 3, 1, 1, true, false, true},  /* the first layer's: no dx, dz made by its own pass */
        {4, 6, 3, 0, 2, false, true, true},  /* groups, no bias */
        {4, 6, 1, 0, 2, true, true, true},   /* 1x1: dx straight from dz */
        {4, 6, 3, 1, 1, true, false, false}, /* only the bias */
    };
    int was = tg_threads();
    for (int threads = 1; threads <= 2; threads++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) conv_relu_against_chain(&cases[i], threads);
    tg_set_threads(was);
}
END_TEST

/* y of conv2d (and conv2d_relu) with gradients off, for x and w, and for
 * x alone, on 1 and 2 threads, is the bits of im2col, tg__gemm and the
 * bias (and the ReLU) computed here sample by sample: whether the op packs
 * cols straight from x (implicit GEMM, where stride 1 keeps the output as
 * wide as the input) or copies them, and whether w was packed once for all
 * samples. dx with x alone needing a gradient is the bits of dx with w
 * needing one too. */
typedef struct conv_mode_case {
    int C, O, H, k, stride, pad, dilation, groups;
    bool same, relu;
} conv_mode_case;

static const conv_mode_case conv_mode_cases[] = {
    {3, 8, 28, 3, 1, 1, 1, 1, false, true},  /* the CNN's first: panels cross rows */
    {8, 16, 14, 3, 1, 1, 1, 1, false, true}, /* its second */
    {4, 6, 11, 5, 1, 0, 2, 2, true, false},  /* 'same', dilated, in groups */
    {4, 6, 10, 4, 1, 0, 1, 1, true, false},  /* an even kernel: 'same' pads more after */
    {4, 6, 9, 3, 1, 0, 1, 1, false, false},  /* no padding: narrower output, im2col */
    {4, 6, 9, 3, 2, 1, 1, 1, false, false},  /* stride 2: im2col */
    {4, 6, 9, 1, 1, 0, 1, 2, false, true},   /* 1x1: x is cols */
};

/* y by hand: per sample and group, cols = tg__k_im2col, y = tg__gemm(w,
 * cols), then the bias (and the ReLU) as tg__k_channel_bias_relu and
 * tg__k_add_channel_bias do it. The geometry from a graph's conv2d. */
static float *reference_conv(const conv_mode_case *c, const tg_tensor *x, const tg_tensor *w, const tg_tensor *b,
                             const tg_conv2d_opts *o)
{
    tg_graph *g = tg_graph_new();
    tg_graph_set_grad(g, false);
    tg_tensor *probe = tg_conv2d(g, (tg_tensor *)x, (tg_tensor *)w, NULL, o);
    ck_assert_msg(probe != NULL, "%s", tg_last_error());
    int N = x->shape[0], G = c->groups, Cg = c->C / G, Og = c->O / G, OH = probe->shape[2], OW = probe->shape[3];
    int eh = c->dilation * (c->k - 1) + 1;
    tg__conv_geom gm = {Cg, c->H, c->H, c->k, c->k, c->stride, c->stride, c->dilation, c->dilation,
                        c->same ? (eh - 1) / 2 : c->pad, c->same ? (eh - 1) / 2 : c->pad, OH, OW};
    size_t K = (size_t)Cg * c->k * c->k, P = (size_t)OH * OW;
    float *cols = malloc(K * P * sizeof(float)), *y = malloc((size_t)N * c->O * P * sizeof(float));
    ck_assert(cols && y);
    for (int n = 0; n < N; n++) {
        for (int gi = 0; gi < G; gi++) {
            tg__k_im2col(&gm, x->data + ((size_t)n * G + gi) * Cg * c->H * c->H, cols);
            tg__gemm(false, false, Og, (int)P, (int)K, w->data + (size_t)gi * Og * K, (int)K, cols, (int)P, 0.0f,
                     y + ((size_t)n * G + gi) * Og * P, (int)P);
        }
        float *yn = y + (size_t)n * c->O * P;
        if (c->relu) tg__k_channel_bias_relu((size_t)c->O, P, b->data, yn);
        else tg__k_add_channel_bias(1, (size_t)c->O, P, b->data, yn);
    }
    free(cols);
    tg_graph_free(g);
    return y;
}

START_TEST(test_ops_conv2d_without_w_gradient_same_bits)
{
    const conv_mode_case *c = &conv_mode_cases[_i];
    int was = tg_threads();
    tg_rng rng;
    tg_rng_seed(&rng, 17 + (uint64_t)_i);
    tg_tensor *x = tg_randn(NULL, &rng, TG_SHAPE(3, c->C, c->H, c->H));
    tg_tensor *w = tg_randn(NULL, &rng, TG_SHAPE(c->O, c->C / c->groups, c->k, c->k));
    tg_tensor *b = tg_randn(NULL, &rng, TG_SHAPE(c->O));
    tg_conv2d_opts o = {.stride = {c->stride, c->stride}, .padding = {c->pad, c->pad},
                        .dilation = {c->dilation, c->dilation}, .groups = c->groups, .same = c->same};
    float *y[3] = {NULL}, *dx[3] = {NULL};
    size_t ny = 0;
    float *want = reference_conv(c, x, w, b, &o);
    for (int threads = 1; threads <= 2; threads++) {
        tg_set_threads(threads);
        for (int mode = 0; mode < 3; mode++) { /* no gradients; x and w; x alone */
            tg_tensor_requires_grad(x, mode > 0);
            tg_tensor_requires_grad(w, mode == 1);
            if (mode > 0) memset(x->grad, 0, x->size * sizeof(float));
            tg_graph *g = tg_graph_new();
            tg_graph_set_grad(g, mode > 0);
            tg_tensor *out = c->relu ? tg__conv2d_relu(g, x, w, b, &o) : tg_conv2d(g, x, w, b, &o);
            ck_assert_msg(out != NULL, "%s", tg_last_error());
            ny = out->size;
            y[mode] = malloc(ny * sizeof(float));
            memcpy(y[mode], out->data, ny * sizeof(float));
            if (mode > 0) {
                tg_tensor *up = tg_ones(NULL, out->ndim, out->shape);
                ck_assert_int_eq(tg_backward_grad(out, up->data), TG_OK);
                dx[mode] = malloc(x->size * sizeof(float));
                memcpy(dx[mode], x->grad, x->size * sizeof(float));
                tg_tensor_free(up);
            }
            tg_graph_free(g);
        }
        static const char *const modes[] = {"without gradients", "with x and w needing them", "with x alone"};
        for (int mode = 0; mode < 3; mode++)
            ck_assert_msg(!memcmp(y[mode], want, ny * sizeof(float)),
                          "case %d, %d threads: y %s differs from im2col and tg__gemm's", _i, threads, modes[mode]);
        ck_assert_msg(!memcmp(dx[2], dx[1], x->size * sizeof(float)), "case %d, %d threads: dx differs", _i, threads);
        for (int mode = 0; mode < 3; mode++) free(y[mode]), free(dx[mode]), y[mode] = dx[mode] = NULL;
    }
    tg_set_threads(was);
    free(want);
    tg_tensor_free(x), tg_tensor_free(w), tg_tensor_free(b);
}
END_TEST

/* linear_relu against tg_relu(tg_linear(...)): y and the gradients of x,
 * W and b as bits, on 1 and 2 threads, for the product's paths: packed
 * (64 x 784 -> 512, the MLP's), dot products (few rows, long K), fewer
 * outputs than a tile (10), a 3-D x, no bias, and x or W alone needing a
 * gradient. */
typedef struct linear_relu_case {
    int rows, in, out;
    bool three_d, bias, x_grad, w_grad;
} linear_relu_case;

static tg_tensor *build_linear_relu(tg_graph *g, tg_tensor *const *in, bool fused, const void *ctx)
{
    (void)ctx;
    return fused ? tg__linear_relu(g, in[0], in[1], in[2]) : tg_relu(g, tg_linear(g, in[0], in[1], in[2]));
}

static void linear_relu_against_chain(const linear_relu_case *c, int threads)
{
    tg_rng rng;
    tg_rng_seed(&rng, 23);
    tg_tensor *x = c->three_d ? tg_randn(NULL, &rng, TG_SHAPE(2, c->rows / 2, c->in))
                              : tg_randn(NULL, &rng, TG_SHAPE(c->rows, c->in));
    tg_tensor *W = tg_randn(NULL, &rng, TG_SHAPE(c->out, c->in));
    tg_tensor *b = c->bias ? tg_randn(NULL, &rng, TG_SHAPE(c->out)) : NULL;
    tg_tensor *up = c->three_d ? tg_randn(NULL, &rng, TG_SHAPE(2, c->rows / 2, c->out))
                               : tg_randn(NULL, &rng, TG_SHAPE(c->rows, c->out));
    tg_tensor *params[] = {x, W, b};
    bool grad[] = {c->x_grad, c->w_grad, c->bias};
    char what[128];
    snprintf(what, sizeof what, "%d x %d -> %d, 3-D %d, bias %d, x %d, W %d, %d threads", c->rows, c->in, c->out,
             c->three_d, c->bias, c->x_grad, c->w_grad, threads);
    tg_set_threads(threads);
    fused_against_chain(build_linear_relu, NULL, params, grad, up, "linear_relu", what);
    for (int k = 0; k < 3; k++) tg_tensor_free(params[k]);
    tg_tensor_free(up);
}

START_TEST(test_ops_linear_relu_is_relu_of_linear_to_the_bit)
{
    static const linear_relu_case cases[] = {
        {64, 784, 512, false, true, true, true}, /* the MLP's: packed tiles */
        {16, 300, 40, false, true, true, true},  /* dot products */
        {64, 512, 10, false, true, true, true},  /* fewer outputs than a tile: dot products */
        {12, 7, 33, true, true, true, true},     /* 3-D x */
        {64, 100, 70, false, false, true, true}, /* no bias */
        {64, 100, 70, false, true, true, false}, /* x alone */
        {64, 100, 70, false, true, false, true}, /* W alone */
    };
    int was = tg_threads();
    for (int threads = 1; threads <= 2; threads++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) linear_relu_against_chain(&cases[i], threads);
    tg_set_threads(was);
}
END_TEST

/* dx and dw of conv2d against the definition summed in double, for the
 * geometries the backward treats apart: the CNN's second layer (dw packs
 * cols^T from x; dx is the adjoint convolution packed from dz), positions
 * past one GEMM block (400, with 72 output channels: not the dot-product
 * path), a dilated 'same', an even kernel's 'same' (more padding after) in
 * groups, fewer output rows than input rows, and stride 2 (dx through
 * dcols and col2im); each also with the reference GEMM, where every
 * geometry goes through im2col and col2im. A term missing or doubled
 * moves a sum by about sum |terms| / terms, far above the float sum's
 * error bound. */
typedef struct conv_grad_case {
    int N, C, O, H, k, ph, pw, stride, dil, groups;
    bool same;
} conv_grad_case;

static const conv_grad_case conv_grad_cases[] = {
    {3, 32, 64, 14, 3, 1, 1, 1, 1, 1, false}, {2, 4, 72, 20, 3, 1, 1, 1, 1, 1, false},
    {2, 4, 72, 17, 3, 0, 0, 1, 2, 1, true},   {2, 6, 8, 10, 4, 0, 0, 1, 1, 2, true},
    {2, 4, 6, 9, 3, 0, 1, 1, 1, 1, false},    {2, 4, 6, 9, 3, 1, 1, 2, 1, 1, false},
};

/* |got - want| within the float sum's bound (Higham, doubled as
 * check_kernels' GEMM) for terms terms of magnitudes summing to mag */
static void check_sum(const char *what, int run, size_t at, float got, double want, double mag, double terms)
{
    ck_assert_msg(fabs(got - want) <= (terms + 2) * 0x1p-23 * mag,
                  "case %d%s: %s[%zu] = %.9g, the definition %.9g (sum |terms| %.3g)", run / 2,
                  run % 2 ? " (the reference GEMM)" : "", what, at, (double)got, want, mag);
}

START_TEST(test_ops_conv2d_gradients_match_direct_sums)
{
    /* odd _i: with the reference GEMM, which packs nothing, so the same
     * geometries take im2col, kept cols and col2im (as on a CPU without
     * AVX-512) */
    const conv_grad_case *c = &conv_grad_cases[_i / 2];
    const tg__gemm_kernel *kernel = tg__gemm_kernel_in_use();
    if (_i % 2) tg__gemm_use(NULL);
    int N = c->N, C = c->C, O = c->O, H = c->H, k = c->k, Cg = C / c->groups, Og = O / c->groups;
    tg_rng rng;
    tg_rng_seed(&rng, 41 + (uint64_t)_i);
    tg_tensor *x = tg_randn(NULL, &rng, TG_SHAPE(N, C, H, H)), *w = tg_randn(NULL, &rng, TG_SHAPE(O, Cg, k, k));
    tg_tensor *b = tg_randn(NULL, &rng, TG_SHAPE(O));
    tg_tensor *params[] = {x, w, b};
    for (int p = 0; p < 3; p++) {
        tg_tensor_requires_grad(params[p], true);
        memset(params[p]->grad, 0, params[p]->size * sizeof(float));
    }
    tg_graph *g = tg_graph_new();
    tg_conv2d_opts o = {.stride = {c->stride, c->stride}, .padding = {c->ph, c->pw},
                        .dilation = {c->dil, c->dil}, .groups = c->groups, .same = c->same};
    tg_tensor *y = tg_conv2d(g, x, w, b, &o);
    ck_assert_msg(y != NULL, "%s", tg_last_error());
    tg_tensor *up = tg_randn(NULL, &rng, y->ndim, y->shape);
    ck_assert_int_eq(tg_backward_grad(y, up->data), TG_OK);
    int OH = y->shape[2], OW = y->shape[3];
    int pt = c->same ? c->dil * (k - 1) / 2 : c->ph, pl = c->same ? c->dil * (k - 1) / 2 : c->pw;
    double *dx = calloc(x->size, sizeof *dx), *dx_mag = calloc(x->size, sizeof *dx);
    double *dw = calloc(w->size, sizeof *dw), *dw_mag = calloc(w->size, sizeof *dw);
    ck_assert(dx && dx_mag && dw && dw_mag);
    for (int n = 0; n < N; n++)
        for (int oc = 0; oc < O; oc++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    double u = up->data[((size_t)(n * O + oc) * OH + oh) * OW + ow];
                    for (int ci = 0; ci < Cg; ci++)
                        for (int i = 0; i < k; i++)
                            for (int j = 0; j < k; j++) {
                                int ih = oh * c->stride - pt + i * c->dil, iw = ow * c->stride - pl + j * c->dil;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= H) continue;
                                size_t xi = ((size_t)(n * C + oc / Og * Cg + ci) * H + ih) * H + iw;
                                size_t wi = ((size_t)(oc * Cg + ci) * k + i) * k + j;
                                dx[xi] += u * w->data[wi], dx_mag[xi] += fabs(u * w->data[wi]);
                                dw[wi] += u * x->data[xi], dw_mag[wi] += fabs(u * x->data[xi]);
                            }
                }
    tg__gemm_use(kernel);
    for (size_t i = 0; i < x->size; i++) check_sum("dx", _i, i, x->grad[i], dx[i], dx_mag[i], (double)Og * k * k);
    for (size_t i = 0; i < w->size; i++) check_sum("dw", _i, i, w->grad[i], dw[i], dw_mag[i], (double)N * OH * OW);
    free(dx), free(dx_mag), free(dw), free(dw_mag);
    tg_graph_free(g);
    tg_tensor_free(x), tg_tensor_free(w), tg_tensor_free(b), tg_tensor_free(up);
}
END_TEST

static Suite *ops_suite(void)
{
    Suite *s = suite_create("ops");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, test_ops_every_op_is_complete);
    tcase_add_test(tc, test_ops_a_tensor_names_its_op);
    tcase_add_test(tc, test_ops_no_grad_ops_never_require_grad);
    tcase_add_loop_test(tc, test_ops_gradcheck_case, 0, 2 * tg_gradcheck_suite_size());
    suite_add_tcase(s, tc);
    tc = tcase_create("broadcast");
    tcase_add_loop_test(tc, test_ops_broadcast_shapes, 0, sizeof broadcasts / sizeof broadcasts[0]);
    tcase_add_test(tc, test_ops_broadcast_values_follow_indices);
    tcase_add_test(tc, test_ops_broadcast_mismatch_message);
    tcase_add_test(tc, test_ops_broadcast_gradient_sums_in_double);
    suite_add_tcase(s, tc);
    tc = tcase_create("shapes");
    tcase_add_test(tc, test_ops_matmul_and_linear_shapes);
    tcase_add_test(tc, test_ops_reshape_and_flatten);
    tcase_add_test(tc, test_ops_reshape_errors);
    tcase_add_test(tc, test_ops_reduction_shapes_and_axes);
    tcase_add_test(tc, test_ops_argmax_takes_the_first_maximum);
    tcase_add_test(tc, test_ops_softmax_rows_sum_to_one);
    tcase_add_test(tc, test_ops_scalar_axis_ops);
    tcase_add_test(tc, test_ops_softplus_needs_positive_beta);
    tcase_add_test(tc, test_ops_unary_ops_keep_shape);
    suite_add_tcase(s, tc);
    tc = tcase_create("nd");
    tcase_add_test(tc, test_ops_matmul_nd_shapes_and_messages);
    tcase_add_test(tc, test_ops_linear_nd);
    tcase_add_test(tc, test_ops_permute);
    tcase_add_test(tc, test_ops_cat_and_stack);
    tcase_add_test(tc, test_ops_cat_of_many_differentiates_each_input);
    tcase_add_test(tc, test_ops_narrow_and_slice);
    tcase_add_test(tc, test_ops_index_ops_refuse_bad_indices);
    tcase_add_test(tc, test_ops_index_gradients_accumulate_in_order);
    tcase_add_test(tc, test_ops_maximum_where_messages);
    tcase_add_test(tc, test_ops_norm_messages);
    tcase_add_test(tc, test_ops_batch_norm_running_stats);
    tcase_add_test(tc, test_ops_nd_reductions_and_elementwise);
    tcase_add_test(tc, test_ops_nd_same_bits_on_any_thread_count);
    suite_add_tcase(s, tc);
    tc = tcase_create("conv");
    tcase_add_test(tc, test_ops_conv2d_shapes_and_messages);
    tcase_add_test(tc, test_ops_conv2d_same_pads_more_after);
    tcase_add_test(tc, test_ops_pool_shapes_and_messages);
    tcase_add_test(tc, test_ops_max_pool2d_gradient_to_first_maximum);
    tcase_add_test(tc, test_ops_dropout2d_drops_whole_channels);
    tcase_add_test(tc, test_ops_conv2d_same_bits_on_1_2_and_3_threads);
    tcase_add_test(tc, test_ops_conv2d_relu_is_relu_of_conv2d_to_the_bit);
    tcase_add_test(tc, test_ops_linear_relu_is_relu_of_linear_to_the_bit);
    tcase_add_loop_test(tc, test_ops_conv2d_gradients_match_direct_sums, 0,
                        2 * (int)(sizeof conv_grad_cases / sizeof conv_grad_cases[0]));
    tcase_add_loop_test(tc, test_ops_conv2d_without_w_gradient_same_bits, 0,
                        (int)(sizeof conv_mode_cases / sizeof conv_mode_cases[0]));
    suite_add_tcase(s, tc);
    tc = tcase_create("dropout");
    tcase_add_test(tc, test_ops_dropout_statistics);
    tcase_add_test(tc, test_ops_dropout_modes);
    suite_add_tcase(s, tc);
    return s;
}

TG_TEST_MAIN(ops_suite)
