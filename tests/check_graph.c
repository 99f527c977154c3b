/* check_graph.c — the graph: backward's order and accumulation, recording
 * on and off, detach, errors and their messages, memory reuse, DOT, and the
 * gradient checker itself. Expected gradients come from the chain rule worked
 * out in each test. */
#define _POSIX_C_SOURCE 200809L /* setenv, fork, pipe */
#include <sys/wait.h>
#include <unistd.h>

#include "tg_test.h"

static tg_tensor *param(int n, const float *values)
{
    tg_tensor *t = tg_from_data(NULL, values, 1, (int[]){n});
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(tg_tensor_requires_grad(t, true), TG_OK);
    return t;
}

/* ---- backward ---- */

START_TEST(test_graph_chain_rule)
{
    /* L = sum((2x + 1)^2): dL/dx = 4 (2x + 1) */
    const float xs[] = {-1.5f, 0.0f, 0.25f, 2.0f};
    tg_tensor *x = param(4, xs);
    tg_graph *g = tg_graph_new();
    tg_tensor *loss = tg_sum(g, tg_square(g, tg_add_scalar(g, tg_mul_scalar(g, x, 2.0f), 1.0f)));
    ck_assert_ptr_nonnull(loss);
    ck_assert_int_eq(tg_backward(loss), TG_OK);
    double want_loss = 0;
    for (int i = 0; i < 4; i++) {
        ck_assert_close(x->grad[i], 4.0 * (2.0 * xs[i] + 1.0), 1e-6, 1e-6);
        want_loss += (2.0 * xs[i] + 1) * (2.0 * xs[i] + 1);
    }
    ck_assert_close(loss->data[0], want_loss, 1e-6, 0);
    tg_graph_free(g);
    tg_tensor_free(x);
}
END_TEST

START_TEST(test_graph_reused_node_sums_gradients)
{
    /* y = x * x + x uses x three times: dy/dx = 2x + 1 */
    const float xs[] = {-2.0f, 0.5f, 3.0f};
    tg_tensor *x = param(3, xs);
    tg_graph *g = tg_graph_new();
    ck_assert_int_eq(tg_backward(tg_sum(g, tg_add(g, tg_mul(g, x, x), x))), TG_OK);
    for (int i = 0; i < 3; i++) ck_assert_close(x->grad[i], 2.0 * xs[i] + 1.0, 1e-6, 0);
    tg_graph_free(g);
    tg_tensor_free(x);
}
END_TEST

START_TEST(test_graph_diamond)
{
    /* a = x + 1; L = sum(a^2 + 3a): the intermediate a feeds two branches,
     * dL/da = 2a + 3 must be complete before it flows on to x. */
    const float xs[] = {0.5f, -4.0f};
    tg_tensor *x = param(2, xs);
    tg_graph *g = tg_graph_new();
    tg_tensor *a = tg_add_scalar(g, x, 1.0f);
    ck_assert_int_eq(tg_backward(tg_sum(g, tg_add(g, tg_square(g, a), tg_mul_scalar(g, a, 3.0f)))), TG_OK);
    for (int i = 0; i < 2; i++) {
        ck_assert_close(a->grad[i], 2.0 * (xs[i] + 1) + 3.0, 1e-6, 0);
        ck_assert_close(x->grad[i], 2.0 * (xs[i] + 1) + 3.0, 1e-6, 0);
    }
    tg_graph_free(g);
    tg_tensor_free(x);
}
END_TEST

/* A chain of n ops: x -> c x -> c^2 x ... with c = 1 + 1/n, so
 * d/dx = c^n ~ e. Backward walks it without recursion, so depth is no limit.
 * Each float multiply may round by 2^-24 relative: n of them bound the error. */
static void check_chain(int n)
{
    tg_tensor *x = param(1, (float[]){1.0f});
    tg_graph *g = tg_graph_new();
    tg_tensor *h = x;
    float c = 1.0f + 1.0f / (float)n;
    for (int i = 0; i < n; i++) h = tg_mul_scalar(g, h, c);
    ck_assert_int_eq(tg_graph_size(g), n);
    ck_assert_int_eq(tg_backward(h), TG_OK);
    double want = pow(c, n), rtol = n * 0x1p-24;
    ck_assert_close(x->grad[0], want, rtol, 0);
    ck_assert_close(h->data[0], want, rtol, 0);
    tg_graph_free(g);
    tg_tensor_free(x);
}

START_TEST(test_graph_chain_1000_nodes) { check_chain(1000); }
END_TEST

START_TEST(test_graph_chain_100000_nodes) { check_chain(100000); }
END_TEST

START_TEST(test_graph_leaf_gradients_accumulate_until_zeroed)
{
    const float xs[] = {1.0f, 2.0f};
    tg_tensor *x = param(2, xs);
    tg_graph *g = tg_graph_new();
    for (int step = 1; step <= 3; step++) {
        ck_assert_int_eq(tg_backward(tg_sum(g, tg_mul_scalar(g, x, 5.0f))), TG_OK);
        for (int i = 0; i < 2; i++) ck_assert_close(x->grad[i], 5.0 * step, 0, 0);
        tg_graph_reset(g);
    }
    tg_tensor_zero_grad(x);
    ck_assert_int_eq(tg_backward(tg_sum(g, tg_mul_scalar(g, x, 5.0f))), TG_OK);
    ck_assert_close(x->grad[0], 5.0, 0, 0);
    tg_graph_free(g);
    tg_tensor_free(x);
}
END_TEST

START_TEST(test_graph_intermediate_gradients_recomputed)
{
    /* A second backward through a retained graph: the leaf gets twice the
     * gradient, intermediates hold this pass's gradient, not a sum. */
    tg_tensor *x = param(1, (float[]){3.0f});
    tg_graph *g = tg_graph_new();
    ck_assert(!tg_graph_set_retain_graph(g, true));
    tg_tensor *y = tg_mul_scalar(g, x, 2.0f);
    tg_tensor *loss = tg_sum(g, tg_square(g, y));
    ck_assert_int_eq(tg_backward(loss), TG_OK);
    ck_assert_int_eq(tg_backward(loss), TG_OK);
    ck_assert_close(y->grad[0], 2.0 * 6.0, 0, 0);
    ck_assert_close(x->grad[0], 2 * (2.0 * 6.0 * 2.0), 0, 0);
    tg_graph_free(g);
    tg_tensor_free(x);
}
END_TEST

START_TEST(test_graph_backward_grad_seeds_non_scalar)
{
    /* y = 3x, seeded with dy: dx = 3 dy (PyTorch's y.backward(gradient)) */
    const float xs[] = {1, 2, 3}, dy[] = {0.5f, -1.0f, 2.0f};
    tg_tensor *x = param(3, xs);
    tg_graph *g = tg_graph_new();
    tg_tensor *y = tg_mul_scalar(g, x, 3.0f);
    ck_assert_int_eq(tg_backward_grad(y, dy), TG_OK);
    for (int i = 0; i < 3; i++) ck_assert_close(x->grad[i], 3.0 * dy[i], 0, 0);
    tg_graph_free(g);
    tg_tensor_free(x);
}
END_TEST

START_TEST(test_graph_backward_needs_a_scalar)
{
    tg_tensor *x = param(3, (float[]){1, 2, 3});
    tg_graph *g = tg_graph_new();
    tg_clear_error();
    ck_assert_int_eq(tg_backward(tg_relu(g, x)), TG_ERR_ARG);
    ck_assert_str_eq(tg_last_error(), "tg_backward: loss has shape (3): backward needs a single element "
                                      "(use tg_backward_grad for a seeded gradient)");
    ck_assert_float_eq(x->grad[0], 0.0f);
    tg_graph_free(g);
    tg_tensor_free(x);
}
END_TEST

START_TEST(test_graph_backward_needs_requires_grad)
{
    tg_graph *g = tg_graph_new();
    tg_tensor *c = tg_ones(g, 1, (int[]){2});
    tg_clear_error();
    ck_assert_int_eq(tg_backward(tg_sum(g, c)), TG_ERR_ARG);
    ck_assert_error_has("does not require grad");
    ck_assert_int_eq(tg_backward(NULL), TG_ERR_ARG);
    tg_graph_free(g);
}
END_TEST

START_TEST(test_graph_backward_from_a_leaf)
{
    tg_tensor *x = param(1, (float[]){4.0f});
    ck_assert_int_eq(tg_backward(x), TG_OK);
    ck_assert_close(x->grad[0], 1.0, 0, 0);
    tg_tensor_free(x);
}
END_TEST

START_TEST(test_graph_constants_get_no_gradient)
{
    /* Only the parameter requires grad: the constant operand's grad stays
     * NULL and backward does not touch it. */
    tg_tensor *w = param(2, (float[]){1, 2});
    tg_graph *g = tg_graph_new();
    tg_tensor *c = tg_from_data(g, (float[]){3, 4}, 1, (int[]){2});
    ck_assert_int_eq(tg_backward(tg_sum(g, tg_mul(g, w, c))), TG_OK);
    ck_assert_ptr_null(c->grad);
    ck_assert_close(w->grad[0], 3.0, 0, 0);
    ck_assert_close(w->grad[1], 4.0, 0, 0);
    tg_graph_free(g);
    tg_tensor_free(w);
}
END_TEST

/* ---- recording off, detach ---- */

START_TEST(test_graph_no_grad_records_nothing)
{
    tg_tensor *w = param(2, (float[]){1, 2});
    tg_graph *g = tg_graph_new();
    ck_assert(tg_graph_set_grad(g, false) == true);
    tg_tensor *y = tg_sum(g, tg_mul_scalar(g, w, 2.0f));
    ck_assert_ptr_nonnull(y);
    ck_assert_close(y->data[0], 6.0, 0, 0);
    ck_assert(!y->requires_grad);
    ck_assert_ptr_null(y->src[0]);
    ck_assert_int_eq(tg_backward(y), TG_ERR_ARG);
    ck_assert(tg_graph_set_grad(g, true) == false);
    ck_assert(tg_sum(g, w)->requires_grad);
    tg_graph_free(g);
    tg_tensor_free(w);
}
END_TEST

START_TEST(test_graph_detach_stops_gradient)
{
    /* L = sum(x * detach(x)): only the first factor is differentiated, so
     * dL/dx = x, not 2x; detach shares x's data. */
    const float xs[] = {1.5f, -2.0f};
    tg_tensor *x = param(2, xs);
    tg_graph *g = tg_graph_new();
    tg_tensor *d = tg_detach(g, x);
    ck_assert_ptr_eq(d->data, x->data);
    ck_assert(!d->requires_grad);
    ck_assert_int_eq(tg_backward(tg_sum(g, tg_mul(g, x, d))), TG_OK);
    for (int i = 0; i < 2; i++) ck_assert_close(x->grad[i], xs[i], 0, 0);
    tg_graph_free(g);
    tg_tensor_free(x);
}
END_TEST

START_TEST(test_graph_detached_tensor_is_a_leaf)
{
    /* torch: x.detach().requires_grad_() is a leaf: its grad accumulates. */
    tg_tensor *x = param(2, (float[]){1, 2});
    tg_graph *g = tg_graph_new();
    tg_graph_set_retain_graph(g, true);
    tg_tensor *d = tg_detach(g, x);
    tg_tensor_requires_grad(d, true);
    tg_tensor *loss = tg_sum(g, tg_mul_scalar(g, d, 3.0f));
    ck_assert_int_eq(tg_backward(loss), TG_OK);
    ck_assert_int_eq(tg_backward(loss), TG_OK);
    ck_assert_close(d->grad[0], 6.0, 0, 0);
    ck_assert_float_eq(x->grad[0], 0.0f);
    tg_graph_free(g);
    tg_tensor_free(x);
}
END_TEST

/* ---- errors ---- */

/* ---- the reset rule: a tensor made before tg_graph_reset is refused ---- */

#if defined(__SANITIZE_ADDRESS__)
#define ASAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN_BUILD 1
#endif
#endif

#ifdef ASAN_BUILD
/* Runs fn(ctx) in a child process; returns its wait status and what it
 * wrote to stderr (at most size - 1 bytes) in err. */
static int in_child(void (*fn)(void *), void *ctx, char *err, size_t size)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        fn(ctx);
        _exit(0);
    }
    close(fds[1]);
    size_t n = 0;
    char sink[4096];
    for (ssize_t r; (r = read(fds[0], n + 1 < size ? err + n : sink, n + 1 < size ? size - 1 - n : sizeof sink)) > 0;)
        if (n + 1 < size) n += (size_t)r;
    err[n] = '\0';
    close(fds[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return status;
}

static void read_first_value(void *t)
{
    volatile float v = ((tg_tensor *)t)->data[0];
    (void)v;
}
#endif

START_TEST(test_graph_backward_refuses_a_dropped_tensor)
{
    tg_tensor *x = param(2, (float[]){1, 2});
    tg_graph *g = tg_graph_new();
    tg_tensor *a = tg_sum(g, tg_square(g, x));
    tg_graph_reset(g);
    ck_assert_ptr_nonnull(tg_neg(g, x)); /* reuses part of a's step's memory */
    /* tg_backward knows a by its address, without reading it */
    ck_assert_int_eq(tg_backward(a), TG_ERR_ARG);
    ck_assert_error_has("tg_backward: the tensor was made before the graph's last tg_graph_reset");
    ck_assert_int_eq(tg_backward_grad(a, (float[]){1}), TG_ERR_ARG);
    ck_assert_error_has("tg_backward: the tensor was made before");
#ifdef ASAN_BUILD
    /* The reset poisoned the memory a step gave back: reading a's fields
     * yourself is a sanitizer report. */
    char err[8192];
    tg_graph_reset(g);
    int status = in_child(read_first_value, a, err, sizeof err);
    ck_assert(!(WIFEXITED(status) && WEXITSTATUS(status) == 0));
    ck_assert_msg(strstr(err, "AddressSanitizer: use-after-poison"), "no sanitizer report:\n%s", err);
#endif
    tg_graph_free(g);
    tg_tensor_free(x);
}
END_TEST

START_TEST(test_graph_ops_refuse_a_tensor_from_before_the_reset)
{
    /* The new user's program: h of step one used in step two. */
    tg_rng rng;
    tg_rng_seed(&rng, 3);
    tg_tensor *W = tg_randn(NULL, &rng, TG_SHAPE(3, 4)), *bias = tg_zeros(NULL, TG_SHAPE(3));
    tg_tensor_requires_grad(W, true);
    tg_graph *g = tg_graph_new();
    tg_tensor *x = tg_randn(g, &rng, TG_SHAPE(2, 4));
    tg_tensor *h = tg_linear(g, x, W, NULL);
    tg_tensor *b_on_g = tg_from_data(g, bias->data, TG_SHAPE(3));
    ck_assert_ptr_nonnull(h);
    tg_graph_reset(g);
    tg_clear_error();
    ck_assert_ptr_null(tg_relu(g, h));
    ck_assert_error_has("tg_relu: input 1 was made before the graph's last tg_graph_reset");
    ck_assert_ptr_null(tg_cross_entropy(g, h, (int[]){0, 2}, NULL));
    ck_assert_error_has("tg_cross_entropy: input 1 was made before");
    /* and after the memory it lay in was handed out again */
    tg_tensor *big = tg_zeros(g, TG_SHAPE(4096));
    ck_assert_ptr_nonnull(big);
    tg_clear_error();
    ck_assert_ptr_null(tg_add(g, big, h));
    ck_assert_error_has("tg_add: input 2 was made before the graph's last tg_graph_reset");
    tg_tensor *x2 = tg_randn(g, &rng, TG_SHAPE(2, 4));
    ck_assert_ptr_null(tg_linear(g, x2, W, b_on_g));
    ck_assert_error_has("tg_linear: b was made before");
    ck_assert_int_eq(tg_graph_size(g), 2); /* nothing was made */
    /* a step that outgrew its first chunk: its tensors in the later chunks
     * are known stale too, and another graph's stale tensor as well */
    tg_graph *other = tg_graph_new();
    tg_tensor *late = NULL;
    for (int i = 0; i < 8; i++) late = tg_full(other, TG_SHAPE(40000), 1.0f);
    tg_graph_reset(other);
    tg_clear_error();
    ck_assert_ptr_null(tg_relu(g, late));
    ck_assert_error_has("tg_relu: input 1 was made before the graph's last tg_graph_reset");
    ck_assert_int_eq(tg_backward(late), TG_ERR_ARG);
    tg_tensor *live = tg_full(other, TG_SHAPE(3), 1.0f);
    ck_assert_ptr_null(tg_add(g, x2, live));
    ck_assert_error_has("tg_add: input 2 belongs to another graph");
    tg_graph_free(other);
    /* standalone tensors live on, and the step goes on with fresh tensors */
    tg_tensor *loss = tg_sum(g, tg_relu(g, tg_linear(g, x2, W, bias)));
    ck_assert_msg(loss && tg_backward(loss) == TG_OK, "%s", tg_last_error());
    tg_graph_free(g);
    tg_tensor_free(W), tg_tensor_free(bias);
}
END_TEST

/* ---- the second-backward rule ---- */

START_TEST(test_graph_second_backward_is_refused)
{
    tg_tensor *w = param(2, (float[]){1.0f, -2.0f});
    tg_graph *g = tg_graph_new();
    tg_tensor *h = tg_mul_scalar(g, w, 3.0f);
    tg_tensor *loss = tg_sum(g, tg_square(g, h));
    ck_assert_int_eq(tg_backward(loss), TG_OK);
    float once[2] = {w->grad[0], w->grad[1]};
    ck_assert_close(once[0], 18.0, 1e-6, 0); /* d sum (3w)^2 / dw = 18 w */
    /* PyTorch: "Trying to backward through the graph a second time" */
    ck_assert_int_eq(tg_backward(loss), TG_ERR_ARG);
    ck_assert_error_has("tg_backward: trying to backward through the graph a second time");
    ck_assert_error_has("tg_graph_set_retain_graph");
    ck_assert_mem_eq(w->grad, once, sizeof once); /* not doubled */
    /* a second loss through the same h is refused too ... */
    tg_tensor *other = tg_sum(g, h);
    ck_assert_int_eq(tg_backward(other), TG_ERR_ARG);
    ck_assert_mem_eq(w->grad, once, sizeof once);
    /* ... and retaining now is too late, as in PyTorch */
    tg_graph_set_retain_graph(g, true);
    ck_assert_int_eq(tg_backward(loss), TG_ERR_ARG);
    /* a fresh step is fine */
    tg_graph_reset(g);
    tg_tensor_zero_grad(w);
    ck_assert_int_eq(tg_backward(tg_sum(g, tg_square(g, tg_mul_scalar(g, w, 3.0f)))), TG_OK);
    ck_assert_mem_eq(w->grad, once, sizeof once);
    tg_graph_free(g);
    tg_tensor_free(w);
}
END_TEST

START_TEST(test_graph_retained_graph_accumulates_like_torch)
{
    /* loss.backward(retain_graph=True); loss.backward(): w.grad doubles */
    tg_tensor *w = param(2, (float[]){1.0f, -2.0f});
    tg_graph *g = tg_graph_new();
    ck_assert(!tg_graph_set_retain_graph(g, true));
    tg_tensor *h = tg_mul_scalar(g, w, 3.0f);
    tg_tensor *loss = tg_sum(g, tg_square(g, h));
    ck_assert_int_eq(tg_backward(loss), TG_OK);
    ck_assert_int_eq(tg_backward(loss), TG_OK);
    ck_assert_int_eq(tg_backward(tg_sum(g, h)), TG_OK); /* + d sum(3w)/dw = 3 */
    ck_assert_close(w->grad[0], 2 * 18.0 + 3, 1e-6, 0);
    ck_assert_close(w->grad[1], 2 * -36.0 + 3, 1e-6, 0);
    ck_assert(tg_graph_set_retain_graph(g, false));
    tg_graph_free(g);
    tg_tensor_free(w);
}
END_TEST

START_TEST(test_graph_null_propagates_first_message)
{
    tg_graph *g = tg_graph_new();
    tg_tensor *a = tg_ones(g, 2, (int[]){2, 3}), *b = tg_ones(g, 2, (int[]){4, 5});
    tg_clear_error();
    tg_tensor *y = tg_sum(g, tg_relu(g, tg_add_scalar(g, tg_matmul(g, a, b), 1.0f)));
    ck_assert_ptr_null(y);
    ck_assert_str_eq(tg_last_error(), "tg_matmul: (2,3) @ (4,5): inner dimensions 3 and 4 differ");
    tg_graph_free(g);
}
END_TEST

START_TEST(test_graph_null_input_is_named)
{
    tg_graph *g = tg_graph_new();
    tg_tensor *a = tg_ones(g, 1, (int[]){2});
    tg_clear_error();
    ck_assert_ptr_null(tg_add(g, a, NULL));
    ck_assert_str_eq(tg_last_error(), "tg_add: input 2 is NULL");
    tg_clear_error();
    ck_assert_ptr_null(tg_relu(NULL, a));
    ck_assert_str_eq(tg_last_error(), "tg_relu: graph is NULL");
    tg_graph_free(g);
}
END_TEST

START_TEST(test_graph_rejects_another_graphs_tensor)
{
    tg_graph *g1 = tg_graph_new(), *g2 = tg_graph_new();
    tg_tensor *a = tg_ones(g1, 1, (int[]){2});
    tg_clear_error();
    ck_assert_ptr_null(tg_neg(g2, a));
    ck_assert_str_eq(tg_last_error(), "tg_neg: input 1 belongs to another graph");
    tg_graph_free(g1);
    tg_graph_free(g2);
}
END_TEST

START_TEST(test_graph_free_null_and_reset_null)
{
    tg_graph_free(NULL);
    tg_graph_reset(NULL);
    ck_assert_int_eq(tg_graph_size(NULL), 0);
    ck_assert_int_eq(tg_graph_bytes(NULL), 0);
}
END_TEST

/* ---- memory ---- */

/* One training-like step of a small MLP on g; returns the loss. */
static tg_tensor *mlp_step(tg_graph *g, tg_tensor *W1, tg_tensor *b1, tg_tensor *W2, const float *x, const int *y)
{
    tg_tensor *in = tg_from_data(g, x, 2, (int[]){8, 4});
    tg_tensor *h = tg_relu(g, tg_linear(g, in, W1, b1));
    tg_tensor *loss = tg_cross_entropy(g, tg_linear(g, h, W2, NULL), y, NULL);
    ck_assert_ptr_nonnull(loss);
    ck_assert_int_eq(tg_backward(loss), TG_OK);
    return loss;
}

START_TEST(test_graph_reset_reuses_memory)
{
    tg_rng rng;
    tg_rng_seed(&rng, 1);
    tg_tensor *W1 = tg_randn(NULL, &rng, 2, (int[]){300, 4}), *b1 = tg_zeros(NULL, 1, (int[]){300});
    tg_tensor *W2 = tg_randn(NULL, &rng, 2, (int[]){3, 300});
    tg_tensor_requires_grad(W1, true), tg_tensor_requires_grad(b1, true), tg_tensor_requires_grad(W2, true);
    float x[32];
    int y[8];
    for (int i = 0; i < 32; i++) x[i] = tg_rng_normal(&rng);
    for (int i = 0; i < 8; i++) y[i] = i % 3;
    tg_graph *g = tg_graph_new();
    mlp_step(g, W1, b1, W2, x, y);
    size_t nodes = tg_graph_size(g);
    tg_graph_reset(g);
    ck_assert_int_eq(tg_graph_size(g), 0);
    tg_tensor *first = mlp_step(g, W1, b1, W2, x, y);
    size_t bytes = tg_graph_bytes(g);
    const float *data = first->data;
    for (int step = 0; step < 10; step++) {
        tg_graph_reset(g);
        tg_tensor *loss = mlp_step(g, W1, b1, W2, x, y);
        ck_assert_int_eq(tg_graph_size(g), nodes);
        ck_assert_int_eq(tg_graph_bytes(g), bytes);
        ck_assert_ptr_eq(loss, first);      /* the same memory, step after step */
        ck_assert_ptr_eq(loss->data, data);
    }
    tg_graph_free(g);
    tg_tensor_free(W1), tg_tensor_free(b1), tg_tensor_free(W2);
}
END_TEST

/* An intermediate with one user whose op zeroes its gradient as it goes
 * (convolution, max and average pooling: TG__ZERO_ON_WRITE) gets the same
 * gradient, to the bit, as with a second user adding zeros: step after
 * step, while the reset arena hands back memory that still holds the
 * previous step's gradients, on 1 and 2 threads (the parts in tasks). The
 * users: a 'same' convolution (the adjoint dx where AVX-512 packs), one in
 * groups with stride 2 (im2col and col2im), a 1x1 one, the 2x2 pooling,
 * and pooling with padding and ceil_mode (windows that skip elements). */
enum { USERS = 6 };
static tg_tensor *user_of(tg_graph *g, int which, tg_tensor *h, tg_tensor *w, tg_tensor *w_grouped, tg_tensor *w1)
{
    tg_pool2d_opts two = {.kernel = {2, 2}};
    tg_pool2d_opts padded = {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true};
    switch (which) {
    case 0: return tg_conv2d(g, h, w, NULL, &(tg_conv2d_opts){.padding = {1, 1}});
    case 1: return tg_conv2d(g, h, w_grouped, NULL, &(tg_conv2d_opts){.stride = {2, 2}, .groups = 2});
    case 2: return tg_conv2d(g, h, w1, NULL, NULL);
    case 3: return tg_max_pool2d(g, h, &two);
    case 4: return tg_max_pool2d(g, h, &padded);
    default: return tg_avg_pool2d(g, h, &padded);
    }
}

START_TEST(test_graph_one_users_gradient_is_written_not_left)
{
    tg_rng rng;
    tg_rng_seed(&rng, 4);
    tg_tensor *x = tg_randn(NULL, &rng, 4, (int[]){4, 8, 32, 32}), *w = tg_randn(NULL, &rng, 4, (int[]){3, 8, 3, 3});
    tg_tensor *w_grouped = tg_randn(NULL, &rng, 4, (int[]){4, 4, 3, 3});
    tg_tensor *w1 = tg_randn(NULL, &rng, 4, (int[]){5, 8, 1, 1});
    ck_assert_int_eq(tg_tensor_requires_grad(x, true), TG_OK);
    ck_assert_int_eq(tg_tensor_requires_grad(w, true), TG_OK);
    tg_graph *g = tg_graph_new();
    float *want = malloc(x->size * sizeof *want);
    ck_assert_ptr_nonnull(want);
    for (int which = 0; which < USERS; which++)
        for (int threads = 1; threads <= 2; threads++) {
            tg_set_threads(threads);
            for (int step = 0; step < 3; step++) {
                bool second_user = step == 0; /* the reference: h's gradient zeroed up front */
                tg_graph_reset(g);
                tg_tensor *h = tg_mul_scalar(g, x, 1.5f);
                tg_tensor *loss = tg_sum(g, tg_square(g, user_of(g, which, h, w, w_grouped, w1)));
                if (second_user) loss = tg_add(g, loss, tg_sum(g, tg_mul_scalar(g, h, 0.0f)));
                ck_assert_msg(loss != NULL, "%s", tg_last_error());
                ck_assert_int_eq(tg_backward(loss), TG_OK);
                if (second_user) memcpy(want, h->grad, x->size * sizeof *want);
                else
                    for (size_t i = 0; i < x->size; i++)
                        ck_assert_msg(memcmp(&h->grad[i], &want[i], sizeof *want) == 0,
                                      "user %d, %d threads, step %d: h's gradient [%zu] %g, with a second user %g",
                                      which, threads, step, i, h->grad[i], want[i]);
            }
        }
    tg_set_threads(0);
    free(want);
    tg_graph_free(g);
    tg_tensor_free(x), tg_tensor_free(w), tg_tensor_free(w_grouped), tg_tensor_free(w1);
}
END_TEST

START_TEST(test_graph_grows_past_one_chunk)
{
    /* Tensors larger than any chunk, and many of them: all distinct and
     * intact, then reused the same way by the next step. */
    tg_graph *g = tg_graph_new();
    tg_tensor *t[20];
    for (int i = 0; i < 20; i++) t[i] = tg_full(g, 1, (int[]){50000 + i}, (float)i);
    for (int i = 0; i < 20; i++) {
        ck_assert_ptr_nonnull(t[i]);
        ck_assert_float_eq(t[i]->data[0], (float)i);
        ck_assert_float_eq(t[i]->data[t[i]->size - 1], (float)i);
    }
    size_t bytes = tg_graph_bytes(g);
    tg_graph_reset(g);
    ck_assert_int_ge(tg_graph_bytes(g), bytes - 4096);
    for (int i = 0; i < 20; i++) t[i] = tg_full(g, 1, (int[]){50000 + i}, (float)-i);
    ck_assert_float_eq(t[0]->data[0], 0.0f);
    ck_assert_float_eq(t[19]->data[50018], -19.0f);
    ck_assert_int_le(tg_graph_bytes(g), bytes + 4096);
    tg_graph_free(g);
}
END_TEST

/* ---- DOT ---- */

static char *read_all(FILE *f)
{
    long n = ftell(f);
    rewind(f);
    char *s = calloc((size_t)n + 1, 1);
    ck_assert_int_eq(fread(s, 1, (size_t)n, f), n);
    return s;
}

/* ---- the traced sweep ---- */

/* loss = sum(sigmoid(W x + b) * W x): a small graph with a reused node. */
static tg_tensor *traced_net(tg_graph *g, tg_tensor *W, tg_tensor *b)
{
    tg_tensor *x = tg_from_data(g, (float[]){0.5f, -1.0f}, 2, (int[]){1, 2});
    tg_tensor *z = tg_linear(g, x, W, b);
    tg_tensor_set_name(z, "z");
    tg_tensor *loss = tg_sum(g, tg_mul(g, tg_sigmoid(g, z), z));
    tg_tensor_set_name(loss, "loss");
    return loss;
}

START_TEST(test_graph_trace_gives_backwards_gradients)
{
    float w[] = {0.2f, -0.4f, 0.6f, 0.1f}, bias[] = {0.1f, -0.3f};
    tg_tensor *W[2], *b[2];
    char *text = NULL;
    for (int run = 0; run < 2; run++) {
        b[run] = param(2, bias);
        W[run] = tg_from_data(NULL, w, 2, (int[]){2, 2});
        tg_tensor_requires_grad(W[run], true);
        tg_tensor_set_name(W[run], "W");
        tg_tensor_set_name(b[run], "b");
        tg_graph *g = tg_graph_new();
        tg_tensor *loss = traced_net(g, W[run], b[run]);
        if (run == 0) {
            ck_assert_int_eq(tg_backward(loss), TG_OK);
        } else {
            FILE *f = tmpfile();
            ck_assert_int_eq(tg_backward_trace(loss, f), TG_OK);
            text = read_all(f);
            fclose(f);
        }
        tg_graph_free(g);
    }
    ck_assert_mem_eq(W[0]->grad, W[1]->grad, 4 * sizeof(float));
    ck_assert_mem_eq(b[0]->grad, b[1]->grad, 2 * sizeof(float));
    /* Reverse topological order: the loss first, then mul, sigmoid, z. */
    const char *order[] = {"loss = sum(#", "= mul(#", "= sigmoid(z)", "z = linear(#0, W, b)  (1,2)"};
    const char *p = text;
    for (int i = 0; i < 4; i++) {
        const char *q = strstr(p, order[i]);
        ck_assert_msg(q != NULL, "'%s' missing or out of order in:\n%s", order[i], text);
        p = q;
    }
    ck_assert_ptr_nonnull(strstr(text, "(the seed: dloss/dloss = 1)"));
    ck_assert_ptr_nonnull(strstr(text, "local  dy/dx = y (1 - y)"));
    /* z feeds mul twice over (directly and through sigmoid): its gradient is
     * the sum of both shares, and the trace shows both. */
    ck_assert_ptr_nonnull(strstr(text, "z.grad += "));
    free(text);
    for (int run = 0; run < 2; run++) tg_tensor_free(W[run]), tg_tensor_free(b[run]);
}
END_TEST

/* d(x*x)/dx = 2x: the input used twice is shown once, with the whole local
 * derivative, and chain-rule arithmetic that can be checked by hand. */
START_TEST(test_graph_trace_shows_the_chain_rule)
{
    tg_tensor *x = param(1, (float[]){3});
    tg_tensor_set_name(x, "x");
    tg_graph *g = tg_graph_new();
    tg_tensor *sq = tg_mul(g, x, x);
    tg_tensor_set_name(sq, "sq");
    tg_tensor *y = tg_sum(g, tg_mul_scalar(g, sq, 0.5f));
    tg_tensor_set_name(y, "y");
    FILE *f = tmpfile();
    ck_assert_int_eq(tg_backward_trace(y, f), TG_OK);
    char *text = read_all(f);
    fclose(f);
    ck_assert_float_eq(x->grad[0], 3.0f);
    ck_assert_msg(strstr(text, "sq.grad += [1] * [0.5] = [0.5]"), "%s", text);
    ck_assert_msg(strstr(text, "x.grad += [0.5] * [6] = [3]"), "%s", text);
    ck_assert_msg(strstr(text, "grad   [0.5]  (dy/dsq)"), "%s", text);
    const char *first = strstr(text, "x.grad += ");
    ck_assert_ptr_null(strstr(first + 1, "x.grad += "));   /* once, not once per use */
    free(text);
    tg_graph_free(g);
    tg_tensor_free(x);
}
END_TEST

START_TEST(test_graph_trace_refuses_what_backward_refuses)
{
    tg_graph *g = tg_graph_new();
    tg_tensor *x = tg_ones(g, 1, (int[]){2});
    FILE *f = tmpfile();
    ck_assert_int_eq(tg_backward_trace(x, NULL), TG_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(tg_last_error(), "file is NULL"));
    ck_assert_int_eq(tg_backward_trace(x, f), TG_ERR_ARG);   /* two elements */
    ck_assert_ptr_nonnull(strstr(tg_last_error(), "single element"));
    ck_assert_int_eq(tg_backward_trace(tg_sum(g, x), f), TG_ERR_ARG);   /* needs no grad */
    ck_assert_ptr_nonnull(strstr(tg_last_error(), "does not require grad"));
    ck_assert_int_eq(tg_backward_trace(NULL, f), TG_ERR_ARG);
    fclose(f);
    tg_graph_free(g);
}
END_TEST

START_TEST(test_graph_trace_reports_a_failed_write)
{
    FILE *f = fopen("/dev/full", "w");
    if (!f) ck_abort_msg("no /dev/full");
    tg_tensor *x = param(1, (float[]){2});
    tg_graph *g = tg_graph_new();
    ck_assert_int_eq(tg_backward_trace(tg_sum(g, tg_square(g, x)), f), TG_ERR_IO);
    ck_assert_ptr_nonnull(strstr(tg_last_error(), "write failed"));
    ck_assert_float_eq(x->grad[0], 4.0f);   /* the gradients are there all the same */
    fclose(f);
    tg_graph_free(g);
    tg_tensor_free(x);
}
END_TEST

START_TEST(test_graph_dot_shows_ops_params_and_gradients)
{
    tg_tensor *W = param(2, (float[]){1, 2});
    tg_tensor_set_name(W, "W");
    tg_graph *g = tg_graph_new();
    tg_tensor *x = tg_from_data(g, (float[]){3, 4}, 1, (int[]){2});
    tg_tensor *loss = tg_sum(g, tg_relu(g, tg_mul(g, W, x)));
    tg_tensor_set_name(loss, "loss");
    ck_assert_int_eq(tg_backward(loss), TG_OK);
    FILE *f = tmpfile();
    ck_assert_int_eq(tg_graph_dot(loss, f), TG_OK);
    char *dot = read_all(f);
    ck_assert_ptr_nonnull(strstr(dot, "digraph tg {"));
    /* small tensors show their numbers: dL/dW = x where W x > 0 */
    ck_assert_ptr_nonnull(strstr(dot, "W: parameter (2)\\ndata [1, 2]\\ngrad [3, 4]\""));
    ck_assert_ptr_nonnull(strstr(dot, "loss: sum\\ndata 11\\ngrad 1\""));
    ck_assert_ptr_nonnull(strstr(dot, "relu (2)\\ndata [3, 8]\\ngrad [1, 1]\""));
    ck_assert_ptr_nonnull(strstr(dot, "input (2)\\ndata [3, 4]\""));   /* no gradient: none asked */
    int edges = 0;
    for (const char *p = dot; (p = strstr(p, "->")); p++) edges++;
    ck_assert_int_eq(edges, 4); /* W->mul, x->mul, mul->relu, relu->sum */
    free(dot);
    fclose(f);
    tg_graph_free(g);
    tg_tensor_free(W);
}
END_TEST

START_TEST(test_graph_dot_summarises_large_tensors)
{
    tg_tensor *W = param(5, (float[]){1, 2, 3, 4, 5});
    tg_tensor_set_name(W, "W");
    tg_graph *g = tg_graph_new();
    tg_tensor *loss = tg_sum(g, tg_mul_scalar(g, W, 2.0f));
    ck_assert_int_eq(tg_backward(loss), TG_OK);
    FILE *f = tmpfile();
    ck_assert_int_eq(tg_graph_dot(loss, f), TG_OK);
    char *dot = read_all(f);
    /* dL/dW = 2 everywhere: |grad| = 2 sqrt(5) */
    ck_assert_ptr_nonnull(strstr(dot, "W: parameter (5)\\n|grad| 4.472\""));
    ck_assert_ptr_null(strstr(dot, "data [1"));
    free(dot);
    fclose(f);
    tg_graph_free(g);
    tg_tensor_free(W);
}
END_TEST

START_TEST(test_graph_dot_escapes_names)
{
    tg_tensor *W = param(1, (float[]){1});
    tg_tensor_set_name(W, "say \"hi\" \\o/");
    FILE *f = tmpfile();
    ck_assert_int_eq(tg_graph_dot(W, f), TG_OK);
    char *dot = read_all(f);
    ck_assert_ptr_nonnull(strstr(dot, "label=\"say \\\"hi\\\" \\\\o/: parameter"));
    free(dot);
    fclose(f);
    tg_tensor_free(W);
}
END_TEST

START_TEST(test_graph_dot_of_a_parameter_and_null)
{
    tg_tensor *W = param(2, (float[]){1, 2});
    FILE *f = tmpfile();
    ck_assert_int_eq(tg_graph_dot(W, f), TG_OK);
    char *dot = read_all(f);
    ck_assert_ptr_nonnull(strstr(dot, "p0 [label=\"parameter (2)\\ndata [1, 2]\\ngrad [0, 0]\""));
    free(dot);
    ck_assert_int_eq(tg_graph_dot(NULL, f), TG_ERR_ARG);
    fclose(f);
    tg_tensor_free(W);
}
END_TEST

/* ---- gradcheck ---- */

static tg_tensor *f_square(tg_graph *g, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    return tg_mul(g, in[0], in[0]);
}

/* x * detach(x) has the value x^2 but the "analytic" gradient x: a wrong
 * gradient the checker must catch. */
static tg_tensor *f_wrong(tg_graph *g, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    return tg_mul(g, in[0], tg_detach(g, in[0]));
}

static tg_tensor *f_fails(tg_graph *g, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    return tg_matmul(g, in[0], in[0]);
}

START_TEST(test_graph_gradcheck_passes_a_right_gradient)
{
    tg_rng rng;
    tg_rng_seed(&rng, 3);
    tg_tensor *x = tg_randn(NULL, &rng, 2, (int[]){3, 4});
    tg_tensor_requires_grad(x, true);
    float before = x->data[5];
    tg_gradcheck_result r;
    ck_assert_int_eq(tg_gradcheck(f_square, NULL, &x, 1, NULL, &r), TG_OK);
    ck_assert(r.ok);
    ck_assert_int_eq(r.n_checked, 12);
    ck_assert_float_eq(x->data[5], before); /* restored */
    tg_tensor_free(x);
}
END_TEST

START_TEST(test_graph_gradcheck_catches_a_wrong_gradient)
{
    tg_rng rng;
    tg_rng_seed(&rng, 3);
    tg_tensor *x = tg_randn(NULL, &rng, 1, (int[]){5});
    tg_tensor_requires_grad(x, true);
    tg_gradcheck_result r;
    ck_assert_int_eq(tg_gradcheck(f_wrong, NULL, &x, 1, NULL, &r), TG_OK);
    ck_assert(!r.ok);
    ck_assert_double_gt(r.max_abs_err, 0.1);
    tg_tensor_free(x);
}
END_TEST

START_TEST(test_graph_gradcheck_reports_failures)
{
    tg_graph *g = tg_graph_new();
    tg_tensor *owned = tg_ones(g, 1, (int[]){2});
    tg_gradcheck_result r;
    ck_assert_int_eq(tg_gradcheck(f_square, NULL, &owned, 1, NULL, &r), TG_ERR_ARG);
    ck_assert_error_has("standalone");
    tg_tensor *x = tg_ones(NULL, 2, (int[]){2, 3});
    tg_tensor_requires_grad(x, true);
    tg_clear_error();
    ck_assert_int_eq(tg_gradcheck(f_fails, NULL, &x, 1, NULL, &r), TG_ERR_ARG);
    ck_assert(!r.ok);
    ck_assert_error_has("tg_matmul");
    tg_tensor_free(x);
    tg_graph_free(g);
}
END_TEST

/* ---- checking numerics ---- */

/* A graph with checking on, and x = a leaf (2,2) of values v requiring grad. */
static tg_graph *checking_graph(const float v[4], tg_tensor **x)
{
    tg_graph *g = tg_graph_new();
    ck_assert(!tg_graph_set_check_numerics(g, true));
    *x = tg_from_data(g, v, 2, (int[]){2, 2});
    ck_assert_int_eq(tg_tensor_requires_grad(*x, true), TG_OK);
    return g;
}

START_TEST(test_numerics_names_the_op_and_its_inputs)
{
    tg_tensor *x;
    tg_graph *g = checking_graph((float[]){1, -1, 4, 2}, &x);
    ck_assert_ptr_null(tg_log(g, x)); /* ln(-1): NaN at element 1, found by log itself */
    ck_assert_str_eq(tg_last_error(), "check-numerics: log (node 1, (2,2)) produced NaN at element 1; "
                                      "its inputs: 1: (2,2) in [-1, 4]");
    /* the graph is not stuck: ops that do not use the NaN work, and
     * backward through them */
    tg_clear_error();
    tg_tensor *e = tg_exp(g, tg_full(g, TG_SHAPE(2), 1.0f));
    ck_assert_msg(e != NULL, "%s", tg_last_error());
    tg_tensor *loss = tg_sum(g, tg_mul(g, x, x));
    ck_assert_int_eq(tg_backward(loss), TG_OK);
    ck_assert_float_eq(x->grad[1], -2.0f);
    tg_graph_free(g);
}
END_TEST

START_TEST(test_numerics_finds_the_first_producer)
{
    /* ln(-1) is NaN, then e^100 infinite: each op is named by its own call */
    tg_tensor *x;
    tg_graph *g = checking_graph((float[]){-1, 100, 0, 1}, &x);
    ck_assert_ptr_null(tg_log(g, x));
    ck_assert_ptr_nonnull(strstr(tg_last_error(), "check-numerics: log (node 1"));
    ck_assert_ptr_null(tg_exp(g, x));
    ck_assert_ptr_nonnull(strstr(tg_last_error(), "check-numerics: exp (node 2"));
    /* inside a composite op (mse = mean((x - t)^2)), the part that
     * overflowed is named, and the whole op returns NULL */
    tg_tensor *t = tg_full(g, TG_SHAPE(2, 2), -3e38f);
    tg_clear_error();
    ck_assert_ptr_null(tg_mse_loss(g, x, t, TG_REDUCE_MEAN));
    ck_assert_msg(strstr(tg_last_error(), "check-numerics: square (node 5"), "%s", tg_last_error());
    /* a given NaN is named when an op first takes it, not before */
    const float v[2] = {1, NAN};
    tg_tensor *given = tg_from_data(g, v, TG_SHAPE(2));
    tg_clear_error();
    ck_assert_ptr_nonnull(tg_exp(g, tg_full(g, TG_SHAPE(2), 0.0f)));
    ck_assert_ptr_null(tg_relu(g, given));
    ck_assert_msg(strstr(tg_last_error(), "holds NaN at element 1 (given, not computed)"), "%s", tg_last_error());
    tg_graph_free(g);
}
END_TEST

START_TEST(test_numerics_checks_the_loss_and_the_gradients)
{
    /* the loss itself: backward refuses it */
    tg_tensor *x;
    tg_graph *g = checking_graph((float[]){100, 1, 2, 3}, &x);
    tg_tensor *loss = tg_sum(g, tg_mul(g, x, x));
    ck_assert_ptr_nonnull(loss);
    ck_assert_ptr_null(tg_exp(g, loss)); /* the last op of a step is not missed */
    ck_assert_ptr_nonnull(strstr(tg_last_error(), "check-numerics: exp (node 3, ()) produced an infinity"));
    tg_graph_free(g);
    /* a given value no op used: backward looks at it first */
    g = checking_graph((float[]){1, 2, 3, 4}, &x);
    loss = tg_sum(g, x);
    tg_from_data(g, (float[]){INFINITY}, TG_SHAPE(1));
    ck_assert_int_eq(tg_backward(loss), TG_ERR_NUMERICS);
    ck_assert_ptr_nonnull(strstr(tg_last_error(), "holds an infinity at element 0 (given, not computed)"));
    tg_graph_free(g);
    /* sqrt(0) = 0 is finite, its derivative 1 / (2 sqrt 0) is not */
    g = checking_graph((float[]){0, 1, 4, 9}, &x);
    ck_assert_int_eq(tg_backward(tg_sum(g, tg_sqrt(g, x))), TG_ERR_NUMERICS);
    ck_assert_str_eq(tg_last_error(), "check-numerics: the backward of sqrt (node 1, (2,2)) made the gradient of its "
                                      "input 1 infinite at element 0; the gradient it received: (2,2) in [1, 1]; "
                                      "its inputs: 1: (2,2) in [0, 9]");
    tg_graph_free(g);
}
END_TEST

START_TEST(test_numerics_off_by_default_and_from_the_environment)
{
    const float v[4] = {1, -1, 4, 2};
    tg_graph *g = tg_graph_new();
    tg_tensor *y = tg_mul_scalar(g, tg_log(g, tg_from_data(g, v, 2, (int[]){2, 2})), 2.0f);
    ck_assert_ptr_nonnull(y); /* off: the NaN flows on, as in torch */
    ck_assert(isnan(y->data[1]));
    ck_assert_int_eq(tg_graph_check_numerics(g), TG_OK);
    tg_graph_free(g);
    setenv("TG_CHECK_NUMERICS", "1", 1);
    g = tg_graph_new();
    unsetenv("TG_CHECK_NUMERICS");
    ck_assert_ptr_null(tg_log(g, tg_from_data(g, v, 2, (int[]){2, 2})));
    ck_assert_int_eq(tg_graph_check_numerics(g), TG_OK); /* reported once */
    ck_assert(tg_graph_set_check_numerics(g, false));
    tg_graph_free(g);
}
END_TEST

START_TEST(test_numerics_extreme_logits_and_saturation_stay_finite)
{
    /* cross-entropy and log-softmax of logits of +-1e30, and sigmoid and
     * tanh far in saturation: values and gradients all finite */
    tg_graph *g = tg_graph_new();
    tg_graph_set_check_numerics(g, true);
    tg_tensor *logits = tg_from_data(g, (float[]){1e30f, -1e30f, 0, -1e30f, 1e30f, 1e30f}, 2, (int[]){2, 3});
    tg_tensor *z = tg_from_data(g, (float[]){-100, -30, 30, 100, 1e30f, -1e30f}, 1, (int[]){6});
    ck_assert_int_eq(tg_tensor_requires_grad(logits, true), TG_OK);
    ck_assert_int_eq(tg_tensor_requires_grad(z, true), TG_OK);
    tg_tensor *ce = tg_cross_entropy(g, logits, (int[]){1, 2}, NULL);
    tg_tensor *ls = tg_sum(g, tg_log_softmax(g, logits, 1));
    tg_tensor *sat = tg_add(g, tg_sum(g, tg_sigmoid(g, z)), tg_sum(g, tg_tanh(g, z)));
    tg_tensor *total = tg_add(g, tg_add(g, ce, tg_mul_scalar(g, ls, 1e-30f)), sat);
    ck_assert_msg(total != NULL, "%s", tg_last_error());
    ck_assert_msg(tg_backward(total) == TG_OK, "%s", tg_last_error());
    for (int i = 0; i < 6; i++) ck_assert(isfinite(logits->grad[i]) && isfinite(z->grad[i]));
    tg_graph_free(g);
}
END_TEST

static Suite *graph_suite(void)
{
    Suite *s = suite_create("graph");
    TCase *tc = tcase_create("backward");
    tcase_add_test(tc, test_graph_chain_rule);
    tcase_add_test(tc, test_graph_reused_node_sums_gradients);
    tcase_add_test(tc, test_graph_diamond);
    tcase_add_test(tc, test_graph_chain_1000_nodes);
    tcase_add_test(tc, test_graph_chain_100000_nodes);
    tcase_add_test(tc, test_graph_leaf_gradients_accumulate_until_zeroed);
    tcase_add_test(tc, test_graph_intermediate_gradients_recomputed);
    tcase_add_test(tc, test_graph_backward_grad_seeds_non_scalar);
    tcase_add_test(tc, test_graph_backward_needs_a_scalar);
    tcase_add_test(tc, test_graph_backward_needs_requires_grad);
    tcase_add_test(tc, test_graph_backward_from_a_leaf);
    tcase_add_test(tc, test_graph_constants_get_no_gradient);
    suite_add_tcase(s, tc);
    tc = tcase_create("recording");
    tcase_add_test(tc, test_graph_no_grad_records_nothing);
    tcase_add_test(tc, test_graph_detach_stops_gradient);
    tcase_add_test(tc, test_graph_detached_tensor_is_a_leaf);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_graph_null_propagates_first_message);
    tcase_add_test(tc, test_graph_null_input_is_named);
    tcase_add_test(tc, test_graph_rejects_another_graphs_tensor);
    tcase_add_test(tc, test_graph_free_null_and_reset_null);
    tcase_add_test(tc, test_graph_backward_refuses_a_dropped_tensor);
    tcase_add_test(tc, test_graph_ops_refuse_a_tensor_from_before_the_reset);
    tcase_add_test(tc, test_graph_second_backward_is_refused);
    tcase_add_test(tc, test_graph_retained_graph_accumulates_like_torch);
    suite_add_tcase(s, tc);
    tc = tcase_create("numerics");
    tcase_add_test(tc, test_numerics_names_the_op_and_its_inputs);
    tcase_add_test(tc, test_numerics_finds_the_first_producer);
    tcase_add_test(tc, test_numerics_checks_the_loss_and_the_gradients);
    tcase_add_test(tc, test_numerics_off_by_default_and_from_the_environment);
    tcase_add_test(tc, test_numerics_extreme_logits_and_saturation_stay_finite);
    suite_add_tcase(s, tc);
    tc = tcase_create("memory");
    tcase_add_test(tc, test_graph_reset_reuses_memory);
    tcase_add_test(tc, test_graph_one_users_gradient_is_written_not_left);
    tcase_add_test(tc, test_graph_grows_past_one_chunk);
    suite_add_tcase(s, tc);
    tc = tcase_create("dot");
    tcase_add_test(tc, test_graph_dot_shows_ops_params_and_gradients);
    tcase_add_test(tc, test_graph_dot_of_a_parameter_and_null);
    tcase_add_test(tc, test_graph_dot_escapes_names);
    tcase_add_test(tc, test_graph_dot_summarises_large_tensors);
    tcase_add_test(tc, test_graph_trace_gives_backwards_gradients);
    tcase_add_test(tc, test_graph_trace_shows_the_chain_rule);
    tcase_add_test(tc, test_graph_trace_refuses_what_backward_refuses);
    tcase_add_test(tc, test_graph_trace_reports_a_failed_write);
    suite_add_tcase(s, tc);
    tc = tcase_create("gradcheck");
    tcase_add_test(tc, test_graph_gradcheck_passes_a_right_gradient);
    tcase_add_test(tc, test_graph_gradcheck_catches_a_wrong_gradient);
    tcase_add_test(tc, test_graph_gradcheck_reports_failures);
    suite_add_tcase(s, tc);
    return s;
}

TG_TEST_MAIN(graph_suite)
