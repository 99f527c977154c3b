/* check_ops.c — the ops' descriptors, the gradient-check suite over every op, and
 * each op's shapes, arguments and error messages. Values against PyTorch are
 * in check_torch_ref.c. */
#include <dirent.h>
#include <errno.h>

#include "tg_test.h"

#include "graph/graph.h"

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
    tc = tcase_create("dropout");
    tcase_add_test(tc, test_ops_dropout_statistics);
    tcase_add_test(tc, test_ops_dropout_modes);
    suite_add_tcase(s, tc);
    return s;
}

TG_TEST_MAIN(ops_suite)
