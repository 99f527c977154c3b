/* check_optim.c — optimizers and schedules against torch.optim: parameter
 * trajectories step by step (tests/fixtures/gen_optim_fixtures.py feeds the
 * same gradients to torch and records the parameters after every step),
 * L-BFGS with its closure, learning-rate sequences; then exact resume,
 * clipping, a user's own optimizer, training, and bad options. */
#include "tg_test.h"

#include "fixtures/optim_ref.h"

#define SIGNUM_NO_MAIN
#include "../examples/signum.c"

/* ---- trajectories ---- */

/* Both sides compute each step in float32 and round the same Python scalars
 * to float once; they differ only where torch's vectorised kernels fuse a
 * multiply-add (AVX2 FMA) and so round once where tg rounds twice: about one
 * unit in the last place per step. Over n steps the differences add (the
 * rules contract, they do not amplify), so the bound is 6 n ulps of the
 * value (measured: at most 4 n), with a floor of 5e-7 absolute for values
 * that cancel towards 0 (measured: 1.8e-7). */
static double trajectory_tol(int n_steps, float want)
{
    return 6.0 * n_steps * 0x1p-24 * fabs(want) + 5e-7;
}

static tg_optim *optim_for(const optim_ref *c, tg_tensor **p)
{
    int kind = tg_optim_kind_from_name(c->optimizer);
    ck_assert_int_ge(kind, 0);
    tg_tensor *groups[2][3];
    int n_in[2] = {0, 0};
    for (int i = 0; i < c->n_params; i++) groups[c->group_of[i]][n_in[c->group_of[i]]++] = p[i];
    tg_optim_opts opts = tg_optim_defaults(kind);
    ck_assert_msg(tg_optim_opts_parse(&opts, c->groups[0]) == TG_OK, "%s", tg_last_error());
    tg_optim *o = tg_optim_new(kind, groups[0], n_in[0], &opts);
    ck_assert_msg(o != NULL, "%s: %s", c->name, tg_last_error());
    if (c->groups[1]) { /* torch fills a group's missing options from the defaults, here group 0's */
        ck_assert_int_eq(tg_optim_opts_parse(&opts, c->groups[1]), TG_OK);
        ck_assert_int_eq(tg_optim_add_group(o, groups[1], n_in[1], &opts), TG_OK);
    }
    return o;
}

START_TEST(test_optim_trajectory_matches_torch)
{
    const optim_ref *c = &optim_refs[_i];
    tg_tensor *p[3];
    size_t total = 0;
    for (int i = 0; i < c->n_params; i++) {
        p[i] = tg_from_data(NULL, c->init[i], c->ndim[i], c->shape[i]);
        tg_tensor_requires_grad(p[i], true);
        total += p[i]->size;
    }
    tg_optim *o = optim_for(c, p);
    for (int step = 0; step < c->n_steps; step++) {
        const float *g = c->grads + step * total, *want = c->after + step * total;
        for (int i = 0; i < c->n_params; g += p[i]->size, i++) memcpy(p[i]->grad, g, p[i]->size * sizeof *g);
        ck_assert_int_eq(tg_optim_step(o), TG_OK);
        for (int i = 0; i < c->n_params; want += p[i]->size, i++)
            for (size_t k = 0; k < p[i]->size; k++)
                ck_assert_msg(fabs(p[i]->data[k] - want[k]) <= trajectory_tol(step + 1, want[k]),
                              "%s step %d param %d[%zu]: tg %.9g, torch %.9g", c->name, step + 1, i, k,
                              p[i]->data[k], want[k]);
    }
    ck_assert_int_eq(o->steps, c->n_steps);
    tg_optim_free(o);
    for (int i = 0; i < c->n_params; i++) tg_tensor_free(p[i]);
}
END_TEST

/* ---- L-BFGS on a 2-D objective, through a closure ---- */

typedef struct objective {
    tg_tensor *xy;           /* (2) */
    bool rosenbrock;
    int evals;
} objective;

/* (1-x)^2 + 100 (y-x^2)^2 or (x-2)^2 + 10 (y+1)^2 and its gradient, in
 * float32 the way torch's autograd computes them. */
static tg_status objective_eval(void *ctx, float *loss)
{
    objective *ob = ctx;
    float x = ob->xy->data[0], y = ob->xy->data[1];
    if (ob->rosenbrock) {
        float a = 1.0f - x, b = y - x * x;
        *loss = a * a + 100.0f * (b * b);
        ob->xy->grad[0] = -2.0f * a + 100.0f * (2.0f * b) * (-2.0f * x);
        ob->xy->grad[1] = 100.0f * (2.0f * b);
    } else {
        float a = x - 2.0f, b = y + 1.0f;
        *loss = a * a + 10.0f * (b * b);
        ob->xy->grad[0] = 2.0f * a;
        ob->xy->grad[1] = 10.0f * (2.0f * b);
    }
    ob->evals++;
    return TG_OK;
}

/* |grad f| at (x, y): how much a position error moves the loss. */
static double objective_slope(bool rosenbrock, double x, double y)
{
    double gx = rosenbrock ? -2 * (1 - x) - 400 * x * (y - x * x) : 2 * (x - 2);
    double gy = rosenbrock ? 200 * (y - x * x) : 20 * (y + 1);
    return hypot(gx, gy);
}

/* The fixture states, step by step, how far the same run in float64 strays
 * from torch's float32 path: the rounding sensitivity of that path there.
 * tg's scalars are double where torch's are partly float32, so tg may stray
 * as far; twice that, plus a floor of 1e-5, bounds it. Smooth paths are held
 * to ~1e-5 at every step; a chaotic stretch only where it is chaotic. */
START_TEST(test_optim_lbfgs_matches_torch)
{
    const lbfgs_ref *c = &lbfgs_refs[_i];
    tg_tensor *xy = tg_from_data(NULL, c->start, 1, (int[]){2});
    tg_tensor_requires_grad(xy, true);
    tg_optim_opts opts = tg_optim_defaults(TG_OPTIM_LBFGS);
    ck_assert_msg(tg_optim_opts_parse(&opts, c->options) == TG_OK, "%s", tg_last_error());
    tg_optim *o = tg_optim_new(TG_OPTIM_LBFGS, &xy, 1, &opts);
    objective ob = {xy, !strcmp(c->objective, "rosenbrock"), 0};
    for (int step = 0; step < c->n_steps; step++) {
        double tol = 2.0 * c->step_drift[step] + 1e-5;
        float loss;
        ck_assert_int_eq(tg_optim_step_closure(o, objective_eval, &ob, &loss), TG_OK);
        /* the loss is f where the previous step ended: off by about the slope
         * there times that step's position tolerance */
        double at = step ? 2.0 * c->step_drift[step - 1] + 1e-5 : 0.0;
        double slope = step ? objective_slope(ob.rosenbrock, c->after[2 * step - 2], c->after[2 * step - 1]) : 0.0;
        ck_assert_close(loss, c->loss[step], 1e-5, 1e-6 + 2.0 * slope * at);
        for (int k = 0; k < 2; k++)
            ck_assert_msg(fabs(xy->data[k] - c->after[2 * step + k]) <= tol * fmax(1.0, fabs(c->after[2 * step + k])),
                          "%s step %d: (%.9g, %.9g), torch (%.9g, %.9g), tolerance %.3g", c->name, step + 1,
                          xy->data[0], xy->data[1], c->after[2 * step], c->after[2 * step + 1], tol);
        ck_assert_msg(abs(ob.evals - c->evals[step]) <= c->evals_off, "%s step %d: %d evaluations, torch %d",
                      c->name, step + 1, ob.evals, c->evals[step]);
    }
    tg_optim_free(o);
    tg_tensor_free(xy);
}
END_TEST

/* ---- schedules: learning rates in double, torch's chainable formulas ---- */

static double lambda_half(uint64_t step, void *ctx)
{
    (void)ctx;
    return 1.0 / (1.0 + (double)step);
}

START_TEST(test_optim_schedule_matches_torch)
{
    const sched_ref *c = &sched_refs[_i];
    int kind = tg_optim_kind_from_name(c->optimizer), skind = tg_sched_kind_from_name(c->schedule);
    ck_assert_int_ge(kind, 0);
    ck_assert_int_ge(skind, 0);
    tg_tensor *p[2];
    tg_optim *o = NULL;
    for (int g = 0; g < c->n_groups; g++) {
        p[g] = tg_zeros(NULL, 1, (int[]){2});
        tg_tensor_requires_grad(p[g], true);
        tg_optim_opts opts = tg_optim_defaults(kind);
        ck_assert_int_eq(tg_optim_opts_parse(&opts, c->optim_args), TG_OK);
        opts.lr = c->base_lr[g];
        if (g == 0)
            o = tg_optim_new(kind, &p[g], 1, &opts);
        else
            ck_assert_int_eq(tg_optim_add_group(o, &p[g], 1, &opts), TG_OK);
    }
    tg_sched_opts so = tg_sched_defaults(skind);
    ck_assert_msg(tg_sched_opts_parse(&so, c->args) == TG_OK, "%s", tg_last_error());
    tg_sched *s = tg_sched_new(o, skind, &so);
    ck_assert_msg(s != NULL, "%s: %s", c->name, tg_last_error());
    /* Same formulas, same order of operations, both in double: equal up to
     * the last bit or two of libm's cos and pow. */
    for (int g = 0; g < c->n_groups; g++) ck_assert_close(tg_optim_lr(o, g), c->lr0[g], 1e-14, 1e-300);
    for (int step = 0; step < c->n_steps; step++) {
        ck_assert_int_eq(tg_optim_step(o), TG_OK);
        ck_assert_int_eq(c->metrics ? tg_sched_step_metric(s, c->metrics[step]) : tg_sched_step(s), TG_OK);
        for (int g = 0; g < c->n_groups; g++) {
            double want = c->lr[step * c->n_groups + g];
            ck_assert_msg(tg_test_close(tg_optim_lr(o, g), want, 1e-14, 1e-300),
                          "%s step %d group %d: lr %.17g, torch %.17g", c->name, step + 1, g, tg_optim_lr(o, g), want);
            if (c->momentum) {
                const tg_optim_opts *opts = &o->groups[g].opts;
                double m = kind == TG_OPTIM_SGD ? opts->momentum : opts->beta1;
                ck_assert_close(m, c->momentum[step * c->n_groups + g], 1e-14, 1e-300);
            }
        }
    }
    tg_sched_free(s);
    tg_optim_free(o);
    for (int g = 0; g < c->n_groups; g++) tg_tensor_free(p[g]);
}
END_TEST

START_TEST(test_optim_lambda_schedule)
{
    tg_tensor *p = tg_zeros(NULL, 1, (int[]){1});
    tg_optim *o = tg_optim_new(TG_OPTIM_SGD, &p, 1, NULL);
    tg_sched_opts so = tg_sched_defaults(TG_SCHED_LAMBDA);
    so.fn = lambda_half;
    tg_sched *s = tg_sched_new(o, TG_SCHED_LAMBDA, &so);
    for (int k = 1; k <= 5; k++) {
        tg_sched_step(s);
        ck_assert_close(tg_optim_lr(o, 0), 1e-3 / (1.0 + k), 1e-15, 0);
    }
    ck_assert_int_eq(tg_sched_last_step(s), 5);
    tg_sched_free(s);
    tg_optim_free(o);
    tg_tensor_free(p);
}
END_TEST

/* ---- exact resume ---- */

/* A run of an optimizer (and a schedule) on a fixed quadratic-plus-sine
 * problem: grads depend on the parameters, so any difference in state shows. */
typedef struct run {
    tg_tensor *p[2];
    tg_optim *o;
    tg_sched *s;
} run;

/* L = sum (v - 0.3 k)^2 - 0.1 cos(5 v) over every element v (k its index);
 * sets the grads and returns L. */
static double set_grads(run *r)
{
    double loss = 0.0;
    for (int i = 0; i < 2; i++)
        for (size_t k = 0; k < r->p[i]->size; k++) {
            float v = r->p[i]->data[k], d = v - 0.3f * (float)k;
            r->p[i]->grad[k] = 2.0f * d + 0.5f * sinf(5.0f * v);
            loss += (double)d * d - 0.1 * cos(5.0 * v);
        }
    return loss;
}

static tg_status quad_closure(void *ctx, float *loss)
{
    *loss = (float)set_grads(ctx);
    return TG_OK;
}

static run run_with(tg_optim_kind kind, int schedule);

static run run_new(tg_optim_kind kind, bool with_schedule) { return run_with(kind, with_schedule ? TG_SCHED_COSINE : -1); }

/* Options that make each schedule change the rate within 12 steps. */
static tg_sched_opts busy_schedule(int kind)
{
    tg_sched_opts so = tg_sched_defaults(kind);
    const char *spec[TG_SCHED_KIND_COUNT] = {
        [TG_SCHED_CONSTANT] = "factor=0.5,total_iters=6", [TG_SCHED_STEP] = "step_size=4,gamma=0.5",
        [TG_SCHED_MULTISTEP] = "milestones=3:7:7", [TG_SCHED_EXPONENTIAL] = "gamma=0.9", [TG_SCHED_COSINE] = "T_max=7",
        [TG_SCHED_WARMUP_COSINE] = "warmup=4,total=10", [TG_SCHED_LINEAR_WARMUP] = "warmup=8",
        [TG_SCHED_ONECYCLE] = "max_lr=0.05,total_steps=20", [TG_SCHED_PLATEAU] = "patience=1,factor=0.5"};
    if (kind == TG_SCHED_LAMBDA)
        so.fn = lambda_half;
    else
        tg_sched_opts_parse(&so, spec[kind]);
    return so;
}

static run run_with(tg_optim_kind kind, int schedule)
{
    run r;
    r.p[0] = tg_from_data(NULL, (float[]){0.5f, -1.0f, 2.0f, 0.1f, -0.7f, 1.3f}, 2, (int[]){2, 3});
    r.p[1] = tg_from_data(NULL, (float[]){1.0f, -2.0f}, 1, (int[]){2});
    for (int i = 0; i < 2; i++) tg_tensor_requires_grad(r.p[i], true);
    tg_optim_opts opts = tg_optim_defaults(kind);
    opts.momentum = kind == TG_OPTIM_SGD || kind == TG_OPTIM_RMSPROP ? 0.9 : 0;
    opts.amsgrad = kind == TG_OPTIM_ADAM;
    opts.centered = kind == TG_OPTIM_RMSPROP;
    opts.history_size = 3; /* the L-BFGS ring turns within the run */
    opts.max_iter = 4;
    r.o = tg_optim_new(kind, r.p, kind == TG_OPTIM_LBFGS ? 2 : 1, &opts);
    if (kind != TG_OPTIM_LBFGS) tg_optim_add_group(r.o, &r.p[1], 1, &opts);
    r.s = NULL;
    if (schedule >= 0) {
        tg_sched_opts so = busy_schedule(schedule);
        r.s = tg_sched_new(r.o, schedule, &so);
        ck_assert_msg(r.s != NULL, "%s", tg_last_error());
    }
    ck_assert_ptr_nonnull(r.o);
    return r;
}

static void run_steps(run *r, int n)
{
    for (int k = 0; k < n; k++) {
        if (r->o->kind == TG_OPTIM_LBFGS) {
            ck_assert_int_eq(tg_optim_step_closure(r->o, quad_closure, r, NULL), TG_OK);
        } else {
            set_grads(r);
            ck_assert_int_eq(tg_optim_step(r->o), TG_OK);
        }
        if (r->s) tg_sched_step_metric(r->s, 1.0); /* a flat metric: plateau cuts the rate */
    }
}

static void run_free(run *r)
{
    tg_sched_free(r->s);
    tg_optim_free(r->o);
    tg_tensor_free(r->p[0]);
    tg_tensor_free(r->p[1]);
}

START_TEST(test_optim_save_restore_is_exact)
{
    tg_optim_kind kind = (tg_optim_kind)_i;
    run straight = run_new(kind, true), first = run_new(kind, true);
    run_steps(&straight, 12);
    run_steps(&first, 5);
    tg_buf buf = {0};
    ck_assert_int_eq(tg_optim_save(first.o, &buf), TG_OK);
    ck_assert_int_eq(tg_sched_save(first.s, &buf), TG_OK);
    /* a fresh run, given the parameters (as a checkpoint does) and the state */
    run resumed = run_new(kind, true);
    for (int i = 0; i < 2; i++) memcpy(resumed.p[i]->data, first.p[i]->data, first.p[i]->size * sizeof(float));
    ck_assert_msg(tg_optim_load(resumed.o, &buf) == TG_OK, "%s", tg_last_error());
    ck_assert_msg(tg_sched_load(resumed.s, &buf) == TG_OK, "%s", tg_last_error());
    ck_assert_int_eq(buf.pos, buf.len);
    run_steps(&resumed, 7);
    for (int i = 0; i < 2; i++)
        ck_assert_msg(!memcmp(resumed.p[i]->data, straight.p[i]->data, straight.p[i]->size * sizeof(float)),
                      "%s: resumed run differs from the straight one", tg_optim_kind_name(kind));
    ck_assert_int_eq(resumed.o->steps, straight.o->steps);
    tg_buf_free(&buf);
    run_free(&straight), run_free(&first), run_free(&resumed);
}
END_TEST

START_TEST(test_optim_every_schedule_resumes_exactly)
{
    int schedule = _i;
    run straight = run_with(TG_OPTIM_ADAM, schedule), first = run_with(TG_OPTIM_ADAM, schedule);
    run_steps(&straight, 12);
    run_steps(&first, 5);
    tg_buf buf = {0};
    ck_assert_int_eq(tg_optim_save(first.o, &buf), TG_OK);
    ck_assert_int_eq(tg_sched_save(first.s, &buf), TG_OK);
    run resumed = run_with(TG_OPTIM_ADAM, schedule); /* the schedule first, then the state: see tg.h */
    for (int i = 0; i < 2; i++) memcpy(resumed.p[i]->data, first.p[i]->data, first.p[i]->size * sizeof(float));
    ck_assert_int_eq(tg_optim_load(resumed.o, &buf), TG_OK);
    ck_assert_int_eq(tg_sched_load(resumed.s, &buf), TG_OK);
    run_steps(&resumed, 7);
    ck_assert_msg(tg_optim_lr(resumed.o, 0) == tg_optim_lr(straight.o, 0), "%s: lr %.17g, straight %.17g",
                  tg_sched_kind_name(schedule), tg_optim_lr(resumed.o, 0), tg_optim_lr(straight.o, 0));
    for (int i = 0; i < 2; i++)
        ck_assert_mem_eq(resumed.p[i]->data, straight.p[i]->data, straight.p[i]->size * sizeof(float));
    tg_buf_free(&buf);
    run_free(&straight), run_free(&first), run_free(&resumed);
}
END_TEST

START_TEST(test_optim_load_refuses_mismatches)
{
    run a = run_new(TG_OPTIM_ADAM, false);
    run_steps(&a, 3);
    tg_buf buf = {0};
    tg_optim_save(a.o, &buf);
    /* another kind */
    run b = run_new(TG_OPTIM_SGD, false);
    ck_assert_int_eq(tg_optim_load(b.o, &buf), TG_ERR_FORMAT);
    ck_assert_str_eq(tg_last_error(), "tg_optim_load: the state is of optimizer adam, not sgd");
    ck_assert_int_eq(buf.pos, 0);
    /* other sizes */
    tg_tensor *q = tg_zeros(NULL, 1, (int[]){5});
    tg_optim *c = tg_optim_new(TG_OPTIM_ADAM, &q, 1, NULL);
    tg_optim_add_group(c, &b.p[1], 1, NULL);
    ck_assert_int_eq(tg_optim_load(c, &buf), TG_ERR_FORMAT);
    ck_assert_str_eq(tg_last_error(), "tg_optim_load: parameter 0 of group 0 has 6 elements in the state, 5 here");
    /* every truncation is refused and leaves the optimizer as it was */
    run d = run_new(TG_OPTIM_ADAM, false);
    run_steps(&d, 1);
    tg_buf saved = {0};
    tg_optim_save(d.o, &saved);
    for (size_t len = 0; len < buf.len; len += 7) {
        tg_buf cut = {.data = buf.data, .len = len, .cap = len};
        ck_assert_int_eq(tg_optim_load(d.o, &cut), TG_ERR_FORMAT);
    }
    tg_buf again = {0};
    tg_optim_save(d.o, &again);
    ck_assert_int_eq(again.len, saved.len);
    ck_assert_mem_eq(again.data, saved.data, saved.len);
    /* a flipped magic byte */
    buf.data[0] ^= 1;
    buf.pos = 0;
    ck_assert_int_eq(tg_optim_load(a.o, &buf), TG_ERR_FORMAT);
    ck_assert_str_eq(tg_last_error(), "tg_optim_load: not optimizer state (bad magic)");
    tg_buf_free(&buf), tg_buf_free(&saved), tg_buf_free(&again);
    tg_optim_free(c);
    tg_tensor_free(q);
    run_free(&a), run_free(&b), run_free(&d);
}
END_TEST

/* ---- clipping ---- */

START_TEST(test_optim_clip_grad_norm)
{
    /* grads (3, 4) and (12): total norm sqrt(9 + 16 + 144) = 13 */
    tg_tensor *a = tg_zeros(NULL, 1, (int[]){2}), *b = tg_zeros(NULL, 1, (int[]){1});
    tg_tensor_requires_grad(a, true), tg_tensor_requires_grad(b, true);
    a->grad[0] = 3, a->grad[1] = 4, b->grad[0] = 12;
    tg_tensor *ps[] = {a, b};
    ck_assert_close(tg_clip_grad_norm(ps, 2, 1.0), 13.0, 1e-12, 0);
    double coef = 1.0 / (13.0 + 1e-6); /* torch: max_norm / (total + 1e-6) */
    ck_assert_close(a->grad[0], 3 * coef, 1e-6, 0);
    ck_assert_close(b->grad[0], 12 * coef, 1e-6, 0);
    /* under the limit: unchanged, and the norm still returned */
    ck_assert_close(tg_clip_grad_norm(ps, 2, 5.0), 1.0, 1e-6, 0);
    ck_assert_close(b->grad[0], 12 * coef, 1e-6, 0);
    tg_clip_grad_value(ps, 2, 0.5);
    ck_assert_float_eq(b->grad[0], 0.5f);
    ck_assert_close(a->grad[0], 3 * coef, 1e-6, 0);
    tg_tensor_free(a), tg_tensor_free(b);
}
END_TEST

/* ---- your own optimizer ---- */

START_TEST(test_optim_custom_optimizer_plugs_in)
{
    /* Signum from examples/signum.c: one step moves each coordinate by lr
     * against the sign of its (momentum-averaged) gradient. */
    tg_tensor *p = tg_from_data(NULL, (float[]){1.0f, -1.0f, 0.5f}, 1, (int[]){3});
    tg_tensor_requires_grad(p, true);
    tg_optim *o = signum_new(&p, 1, 0.1, 0.9);
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(o->kind, -1);
    p->grad[0] = 2.0f, p->grad[1] = -3.0f, p->grad[2] = 0.0f;
    ck_assert_int_eq(tg_optim_step(o), TG_OK);
    ck_assert_float_eq_tol(p->data[0], 0.9f, 1e-7f);
    ck_assert_float_eq_tol(p->data[1], -0.9f, 1e-7f);
    ck_assert_float_eq(p->data[2], 0.5f);
    /* the library's machinery works on it: schedules, zero_grad, save/load */
    tg_sched_opts so = tg_sched_defaults(TG_SCHED_STEP);
    so.step_size = 1, so.gamma = 0.5;
    tg_sched *s = tg_sched_new(o, TG_SCHED_STEP, &so);
    tg_sched_step(s);
    ck_assert_close(tg_optim_lr(o, 0), 0.05, 1e-15, 0);
    tg_optim_zero_grad(o);
    ck_assert_float_eq(p->grad[1], 0.0f);
    tg_buf buf = {0};
    ck_assert_int_eq(tg_optim_save(o, &buf), TG_OK);
    tg_optim *o2 = signum_new(&p, 1, 0.1, 0.9);
    ck_assert_int_eq(tg_optim_load(o2, &buf), TG_OK);
    ck_assert_close(tg_optim_lr(o2, 0), 0.05, 1e-15, 0);
    signum_state *st = o2->state;
    ck_assert_float_eq_tol(st->m[0][0], 0.2f, 1e-7f); /* (1 - 0.9) * 2 */
    tg_buf_free(&buf);
    tg_sched_free(s);
    tg_optim_free(o), tg_optim_free(o2);
    tg_tensor_free(p);
}
END_TEST

/* ---- every optimizer trains a small MLP ---- */

typedef struct moons_task {
    tg_mlp *m;
    tg_graph *g;
    float x[2 * 128];
    int y[128];
} moons_task;

static tg_status moons_loss(void *ctx, float *loss)
{
    moons_task *t = ctx;
    tg_graph_reset(t->g);
    tg_tensor *l = tg_cross_entropy(t->g, tg_mlp_forward(t->g, t->m, tg_from_blob(t->g, t->x, 2, (int[]){128, 2}), true,
                                                         NULL), t->y, NULL);
    tg_tensor *p[4];
    for (int k = 0, n = tg_mlp_params(t->m, p, 4); k < n; k++) tg_tensor_zero_grad(p[k]);
    if (!l || tg_backward(l) != TG_OK) return TG_ERR_ARG;
    *loss = l->data[0];
    return TG_OK;
}

START_TEST(test_optim_every_optimizer_trains)
{
    /* learning rates from each optimizer's usual range */
    static const double lr[TG_OPTIM_KIND_COUNT] = {
        [TG_OPTIM_SGD] = 0.3, [TG_OPTIM_ADAGRAD] = 0.1, [TG_OPTIM_RMSPROP] = 0.01, [TG_OPTIM_ADAM] = 0.02,
        [TG_OPTIM_ADAMW] = 0.02, [TG_OPTIM_NADAM] = 0.02, [TG_OPTIM_RADAM] = 0.05, [TG_OPTIM_LION] = 0.01,
        [TG_OPTIM_LBFGS] = 1.0};
    tg_optim_kind kind = (tg_optim_kind)_i;
    moons_task t;
    tg_rng rng;
    tg_rng_seed(&rng, 3);
    tg_make_moons(128, 0.1f, &rng, t.x, t.y);
    t.m = tg_mlp_new(2, (int[]){16}, 1, 2, TG_ACT_TANH, 0.0f, &rng);
    t.g = tg_graph_new();
    tg_tensor *p[4];
    int n = tg_mlp_params(t.m, p, 4);
    tg_optim_opts opts = tg_optim_defaults(kind);
    opts.lr = lr[kind];
    opts.momentum = kind == TG_OPTIM_SGD ? 0.9 : 0.0;
    opts.strong_wolfe = true;
    tg_optim *o = tg_optim_new(kind, p, n, &opts);
    float first = 0, loss = 0;
    int steps = kind == TG_OPTIM_LBFGS ? 15 : 300;
    for (int k = 0; k < steps; k++) {
        ck_assert_int_eq(tg_optim_step_closure(o, moons_loss, &t, &loss), TG_OK);
        if (k == 0) first = loss;
    }
    moons_loss(&t, &loss);
    ck_assert_msg(loss < 0.1f * first && loss < 0.07f, "%s: loss %.4f from %.4f", tg_optim_kind_name(kind), loss, first);
    tg_optim_free(o);
    tg_graph_free(t.g);
    tg_mlp_free(t.m);
}
END_TEST

/* ---- what torch does that the fixtures do not show ---- */

START_TEST(test_optim_lbfgs_max_eval_follows_max_iter)
{
    /* torch's max_eval defaults to max_iter * 5 // 4 of the max_iter given:
     * 100 fixed-step iterations in one step() take 100 evaluations (the last
     * iteration evaluates nothing), not the 25 of max_iter 20. */
    tg_tensor *xy = tg_from_data(NULL, (float[]){0.0f, 0.0f}, 1, (int[]){2});
    tg_tensor_requires_grad(xy, true);
    tg_optim_opts opts = tg_optim_defaults(TG_OPTIM_LBFGS);
    opts.lr = 0.01, opts.max_iter = 100;
    tg_optim *o = tg_optim_new(TG_OPTIM_LBFGS, &xy, 1, &opts);
    objective ob = {xy, false, 0};
    ck_assert_int_eq(tg_optim_step_closure(o, objective_eval, &ob, NULL), TG_OK);
    ck_assert_int_eq(ob.evals, 100);
    tg_optim_free(o);
    tg_tensor_free(xy);
}
END_TEST

START_TEST(test_optim_chained_schedules_keep_the_first_base)
{
    /* torch: a second scheduler's base is the group's initial_lr, which the
     * first one set (setdefault), not the decayed current lr. */
    tg_tensor *p = tg_zeros(NULL, 1, (int[]){1});
    tg_optim_opts opts = tg_optim_defaults(TG_OPTIM_SGD);
    opts.lr = 0.1;
    tg_optim *o = tg_optim_new(TG_OPTIM_SGD, &p, 1, &opts);
    tg_sched_opts e = tg_sched_defaults(TG_SCHED_EXPONENTIAL), l = tg_sched_defaults(TG_SCHED_LAMBDA);
    e.gamma = 0.5;
    tg_sched *first = tg_sched_new(o, TG_SCHED_EXPONENTIAL, &e);
    tg_sched_step(first), tg_sched_step(first);
    ck_assert_close(tg_optim_lr(o, 0), 0.025, 1e-15, 0);
    l.fn = lambda_half; /* 1 / (1 + step): 1 at step 0 */
    tg_sched *second = tg_sched_new(o, TG_SCHED_LAMBDA, &l);
    ck_assert_close(tg_optim_lr(o, 0), 0.1, 1e-15, 0);
    tg_sched_free(first), tg_sched_free(second);
    tg_optim_free(o);
    tg_tensor_free(p);
}
END_TEST

START_TEST(test_optim_schedule_refuses_a_later_group)
{
    tg_tensor *p = tg_zeros(NULL, 1, (int[]){1}), *q = tg_zeros(NULL, 1, (int[]){1});
    tg_optim *o = tg_optim_new(TG_OPTIM_SGD, &p, 1, NULL);
    tg_sched_opts so = tg_sched_defaults(TG_SCHED_STEP);
    so.step_size = 1;
    tg_sched *s = tg_sched_new(o, TG_SCHED_STEP, &so);
    ck_assert_int_eq(tg_optim_add_group(o, &q, 1, NULL), TG_OK);
    ck_assert_int_eq(tg_sched_step(s), TG_ERR_ARG);
    ck_assert_str_eq(tg_last_error(), "step schedule: the optimizer has 2 parameter groups, 1 when the schedule was "
                                      "made: add every group first");
    tg_buf b = {0};
    ck_assert_int_eq(tg_sched_save(s, &b), TG_ERR_ARG);
    tg_buf_free(&b);
    tg_sched_free(s);
    tg_optim_free(o);
    tg_tensor_free(p), tg_tensor_free(q);
}
END_TEST

START_TEST(test_optim_schedule_load_checks_counters)
{
    tg_tensor *p = tg_zeros(NULL, 1, (int[]){1});
    tg_optim *o = tg_optim_new(TG_OPTIM_SGD, &p, 1, NULL);
    tg_sched_opts so = tg_sched_defaults(TG_SCHED_STEP);
    so.step_size = 2;
    tg_sched *s = tg_sched_new(o, TG_SCHED_STEP, &so);
    tg_buf b = {0};
    tg_sched_save(s, &b);
    memset(b.data + 8 + 16, 0xff, 8); /* last_epoch + 1: 2^64 - 1 */
    ck_assert_int_eq(tg_sched_load(s, &b), TG_ERR_FORMAT);
    ck_assert_str_eq(tg_last_error(), "tg_sched_load: the state's counters are out of range");
    ck_assert_int_eq(tg_sched_last_step(s), 0);
    tg_buf_free(&b);
    tg_sched_free(s);
    tg_optim_free(o);
    tg_tensor_free(p);
}
END_TEST

START_TEST(test_optim_adagrad_accumulator_comes_from_the_first_group)
{
    /* torch fills every sum from the constructor's initial_accumulator_value,
     * whatever a later group says: one step with g = 1 moves the group-1
     * parameter by lr / (sqrt(0.5 + 1) + eps), not lr / (sqrt(4 + 1) + eps). */
    tg_tensor *p = tg_zeros(NULL, 1, (int[]){1}), *q = tg_zeros(NULL, 1, (int[]){1});
    tg_tensor_requires_grad(p, true), tg_tensor_requires_grad(q, true);
    tg_optim_opts a = tg_optim_defaults(TG_OPTIM_ADAGRAD), b;
    a.initial_accumulator_value = 0.5;
    b = a;
    b.initial_accumulator_value = 4.0;
    tg_optim *o = tg_optim_new(TG_OPTIM_ADAGRAD, &p, 1, &a);
    tg_optim_add_group(o, &q, 1, &b);
    p->grad[0] = q->grad[0] = 1.0f;
    tg_optim_step(o);
    ck_assert_float_eq_tol(q->data[0], -0.01f / (sqrtf(1.5f) + 1e-10f), 1e-9f);
    tg_optim_free(o);
    tg_tensor_free(p), tg_tensor_free(q);
}
END_TEST

START_TEST(test_optim_maximize_is_descent_on_the_negation)
{
    /* torch negates the gradient first: maximize with g is minimize with -g,
     * bit for bit, for every optimizer (RAdam and NAdam included). */
    tg_optim_kind kind = (tg_optim_kind)_i;
    tg_tensor *a = tg_from_data(NULL, (float[]){0.3f, -1.2f, 2.0f}, 1, (int[]){3});
    tg_tensor *b = tg_from_data(NULL, a->data, 1, (int[]){3});
    tg_tensor_requires_grad(a, true), tg_tensor_requires_grad(b, true);
    tg_optim_opts up = tg_optim_defaults(kind), down;
    up.weight_decay = 0.01;
    up.maximize = true;
    down = up;
    down.maximize = false;
    tg_optim *oa = tg_optim_new(kind, &a, 1, &up), *ob = tg_optim_new(kind, &b, 1, &down);
    for (int step = 0; step < 30; step++) {
        for (int i = 0; i < 3; i++) {
            a->grad[i] = -(2.0f * a->data[i] - 1.0f + sinf((float)(step + i)));
            b->grad[i] = -a->grad[i];
        }
        tg_optim_step(oa), tg_optim_step(ob);
        ck_assert_mem_eq(a->data, b->data, 3 * sizeof(float));
    }
    tg_optim_free(oa), tg_optim_free(ob);
    tg_tensor_free(a), tg_tensor_free(b);
}
END_TEST

START_TEST(test_optim_lion_follows_its_paper)
{
    /* Chen et al. 2023, Algorithm 2, worked by hand for two steps with
     * lr 0.1, betas (0.9, 0.99), weight decay 0.5, m0 = 0:
     *   c1 = 0.1 g1, p1 = p0 (1 - 0.05) - 0.1 sign(c1), m1 = 0.01 g1;
     *   c2 = 0.9 m1 + 0.1 g2, p2 = p1 (1 - 0.05) - 0.1 sign(c2). */
    tg_tensor *p = tg_from_data(NULL, (float[]){1.0f, -2.0f}, 1, (int[]){2});
    tg_tensor_requires_grad(p, true);
    tg_optim_opts o = tg_optim_defaults(TG_OPTIM_LION);
    o.lr = 0.1, o.weight_decay = 0.5;
    tg_optim *opt = tg_optim_new(TG_OPTIM_LION, &p, 1, &o);
    const float g1[2] = {3.0f, -0.5f}, g2[2] = {-0.02f, -1.0f};
    double p1[2], p2[2];
    for (int i = 0; i < 2; i++) {
        double m1 = 0.01 * g1[i], c2 = 0.9 * m1 + 0.1 * g2[i];
        p1[i] = (i ? -2.0 : 1.0) * 0.95 - 0.1 * (g1[i] > 0 ? 1 : -1);
        p2[i] = p1[i] * 0.95 - 0.1 * (c2 > 0 ? 1 : c2 < 0 ? -1 : 0);
    }
    memcpy(p->grad, g1, sizeof g1);
    tg_optim_step(opt);
    for (int i = 0; i < 2; i++) ck_assert_close(p->data[i], p1[i], 1e-6, 0);
    memcpy(p->grad, g2, sizeof g2);
    tg_optim_step(opt);
    for (int i = 0; i < 2; i++) ck_assert_close(p->data[i], p2[i], 1e-6, 0);
    tg_optim_free(opt);
    tg_tensor_free(p);
}
END_TEST

START_TEST(test_optim_custom_optimizer_needs_no_name)
{
    static const tg_optim_ops anonymous = {.step = signum_step};
    tg_tensor *p = tg_zeros(NULL, 1, (int[]){2});
    tg_optim *o = tg_optim_new_custom(&anonymous, &p, 1, NULL, NULL);
    tg_buf b = {0};
    ck_assert_int_eq(tg_optim_save(o, &b), TG_OK);
    ck_assert_int_eq(tg_optim_load(o, &b), TG_OK);
    tg_buf_free(&b);
    tg_optim_free(o);
    tg_tensor_free(p);
}
END_TEST

/* ---- options and errors ---- */

START_TEST(test_optim_defaults_are_torchs)
{
    tg_optim_opts sgd = tg_optim_defaults(TG_OPTIM_SGD), adam = tg_optim_defaults(TG_OPTIM_ADAM);
    tg_optim_opts adamw = tg_optim_defaults(TG_OPTIM_ADAMW), rms = tg_optim_defaults(TG_OPTIM_RMSPROP);
    tg_optim_opts ada = tg_optim_defaults(TG_OPTIM_ADAGRAD), lbfgs = tg_optim_defaults(TG_OPTIM_LBFGS);
    ck_assert(sgd.momentum == 0 && sgd.dampening == 0 && !sgd.nesterov && sgd.weight_decay == 0);
    ck_assert(adam.lr == 1e-3 && adam.beta1 == 0.9 && adam.beta2 == 0.999 && adam.eps == 1e-8 && adam.weight_decay == 0);
    ck_assert(adamw.weight_decay == 1e-2);
    ck_assert(rms.lr == 1e-2 && rms.alpha == 0.99 && rms.eps == 1e-8 && !rms.centered);
    ck_assert(ada.lr == 1e-2 && ada.eps == 1e-10 && ada.lr_decay == 0 && ada.initial_accumulator_value == 0);
    ck_assert(lbfgs.lr == 1 && lbfgs.max_iter == 20 && lbfgs.max_eval == 0 && lbfgs.history_size == 100 &&
              lbfgs.tolerance_grad == 1e-7 && lbfgs.tolerance_change == 1e-9 && !lbfgs.strong_wolfe);
    ck_assert_str_eq(tg_optim_kind_name(TG_OPTIM_RMSPROP), "rmsprop");
    ck_assert_int_eq(tg_optim_kind_from_name("adamw"), TG_OPTIM_ADAMW);
    ck_assert_int_eq(tg_optim_kind_from_name("adamm"), -1);
}
END_TEST

START_TEST(test_optim_options_from_text)
{
    tg_optim_opts o = tg_optim_defaults(TG_OPTIM_ADAM);
    ck_assert_int_eq(tg_optim_opts_set(&o, "betas", "0.8,0.95"), TG_OK);
    ck_assert(o.beta1 == 0.8 && o.beta2 == 0.95);
    ck_assert_int_eq(tg_optim_opts_parse(&o, "lr=0.01,amsgrad=true,betas=0.5:0.6,line_search=strong_wolfe"), TG_OK);
    ck_assert(o.lr == 0.01 && o.amsgrad && o.beta1 == 0.5 && o.beta2 == 0.6 && o.strong_wolfe);
    ck_assert_int_eq(tg_optim_opts_set(&o, "lr", "-1"), TG_ERR_ARG);
    ck_assert_str_eq(tg_last_error(), "optimizer option lr = -1 is out of range: it must be in [0, inf]");
    ck_assert_int_eq(tg_optim_opts_set(&o, "betas", "0.9,1.0"), TG_ERR_ARG);
    ck_assert_str_eq(tg_last_error(), "optimizer option beta2 = 1 is out of range: it must be in [0, 1)");
    ck_assert(o.beta1 == 0.5); /* a failed pair changes neither */
    ck_assert_int_eq(tg_optim_opts_set(&o, "lr", "fast"), TG_ERR_ARG);
    ck_assert_str_eq(tg_last_error(), "optimizer option lr: 'fast' is not a number");
    ck_assert_int_eq(tg_optim_opts_set(&o, "momentun", "0.9"), TG_ERR_ARG);
    ck_assert_str_eq(tg_last_error(), "unknown optimizer option 'momentun'");
    ck_assert_int_eq(tg_optim_opts_set(&o, "history_size", "2.5"), TG_ERR_ARG);
    ck_assert_int_eq(tg_optim_opts_set(&o, "nesterov", "2"), TG_ERR_ARG);
    ck_assert_int_eq(tg_optim_opts_parse(&o, "lr"), TG_ERR_ARG);
}
END_TEST

START_TEST(test_optim_construction_errors)
{
    tg_tensor *p = tg_zeros(NULL, 1, (int[]){2}), *q = tg_zeros(NULL, 1, (int[]){2});
    tg_optim_opts o = tg_optim_defaults(TG_OPTIM_SGD);
    o.nesterov = true;
    ck_assert_ptr_null(tg_optim_new(TG_OPTIM_SGD, &p, 1, &o));
    ck_assert_str_eq(tg_last_error(), "sgd: nesterov momentum requires a momentum and zero dampening (torch's rule)");
    ck_assert_ptr_null(tg_optim_new(TG_OPTIM_ADAM, (tg_tensor *[]){p, p}, 2, NULL));
    ck_assert_str_eq(tg_last_error(), "tg_optim: parameter 2 is already in the optimizer");
    tg_optim *lb = tg_optim_new(TG_OPTIM_LBFGS, &p, 1, NULL);
    ck_assert_int_eq(tg_optim_add_group(lb, &q, 1, NULL), TG_ERR_ARG);
    ck_assert_str_eq(tg_last_error(), "lbfgs: only one parameter group (torch's LBFGS has the same rule)");
    ck_assert_int_eq(tg_optim_step(lb), TG_ERR_ARG);
    ck_assert_str_eq(tg_last_error(), "lbfgs: needs a closure that re-evaluates the loss: call tg_optim_step_closure");
    tg_graph *g = tg_graph_new();
    ck_assert_ptr_null(tg_optim_new(TG_OPTIM_SGD, (tg_tensor *[]){tg_ones(g, 1, (int[]){1})}, 1, NULL));
    ck_assert_ptr_null(tg_optim_new(TG_OPTIM_SGD, &p, 0, NULL));
    ck_assert_ptr_null(tg_optim_new((tg_optim_kind)99, &p, 1, NULL));
    ck_assert_int_eq(tg_optim_set_lr(lb, 0, -1.0), TG_ERR_ARG);
    ck_assert(isnan(tg_optim_lr(lb, 3)));
    tg_optim_free(lb);
    tg_optim_free(NULL);
    tg_graph_free(g);
    tg_tensor_free(p), tg_tensor_free(q);
}
END_TEST

START_TEST(test_optim_skips_parameters_without_grad)
{
    /* torch skips a parameter whose .grad is None: no update, no state */
    tg_tensor *p = tg_ones(NULL, 1, (int[]){2}), *q = tg_ones(NULL, 1, (int[]){2});
    tg_tensor_requires_grad(p, true);
    tg_optim *o = tg_optim_new(TG_OPTIM_ADAM, (tg_tensor *[]){p, q}, 2, NULL);
    p->grad[0] = p->grad[1] = 1.0f;
    ck_assert_int_eq(tg_optim_step(o), TG_OK);
    ck_assert_float_eq(q->data[0], 1.0f);
    ck_assert_float_eq_tol(p->data[0], 1.0f - 1e-3f, 1e-7f);
    tg_optim_free(o);
    tg_tensor_free(p), tg_tensor_free(q);
}
END_TEST

START_TEST(test_optim_schedule_errors)
{
    tg_tensor *p = tg_zeros(NULL, 1, (int[]){1});
    tg_optim *o = tg_optim_new(TG_OPTIM_SGD, &p, 1, NULL);
    ck_assert_ptr_null(tg_sched_new(o, TG_SCHED_STEP, NULL));
    ck_assert_str_eq(tg_last_error(), "step schedule: step_size is required (a positive number of steps)");
    ck_assert_ptr_null(tg_sched_new(o, TG_SCHED_EXPONENTIAL, NULL));
    ck_assert_str_eq(tg_last_error(), "exponential schedule: gamma is required");
    tg_sched_opts so = tg_sched_defaults(TG_SCHED_MULTISTEP);
    ck_assert_int_eq(tg_sched_opts_set(&so, "milestones", "30:10"), TG_ERR_ARG);
    ck_assert_int_eq(tg_sched_opts_set(&so, "mode", "median"), TG_ERR_ARG);
    ck_assert_str_eq(tg_last_error(), "schedule option mode: 'median' must be min or max");
    ck_assert_int_eq(tg_sched_opts_set(&so, "T_maks", "3"), TG_ERR_ARG);
    so = tg_sched_defaults(TG_SCHED_ONECYCLE);
    tg_sched_opts_parse(&so, "max_lr=0.1,total_steps=10");
    tg_sched *s = tg_sched_new(o, TG_SCHED_ONECYCLE, &so);
    for (int k = 0; k < 10; k++) ck_assert_int_eq(tg_sched_step(s), TG_OK);
    ck_assert_int_eq(tg_sched_step(s), TG_ERR_ARG);
    ck_assert_str_eq(tg_last_error(), "onecycle schedule: tried to step 12 times; total_steps is 10");
    tg_sched_free(s);
    /* degenerate options torch only discovers as a division by zero */
    tg_sched_opts_parse(&so, "total_steps=3");
    ck_assert_ptr_null(tg_sched_new(o, TG_SCHED_ONECYCLE, &so));
    ck_assert_error_has("pct_start * total_steps must leave every phase");
    tg_sched_opts constant = tg_sched_defaults(TG_SCHED_CONSTANT);
    constant.factor = 0;
    ck_assert_ptr_null(tg_sched_new(o, TG_SCHED_CONSTANT, &constant));
    ck_assert_str_eq(tg_last_error(), "constant schedule: factor must be in (0, 1]");
    tg_sched *plateau = tg_sched_new(o, TG_SCHED_PLATEAU, NULL);
    ck_assert_int_eq(tg_sched_step(plateau), TG_ERR_ARG);
    tg_sched_free(plateau);
    tg_optim *ada = tg_optim_new(TG_OPTIM_ADAGRAD, &p, 1, NULL);
    ck_assert_ptr_null(tg_sched_new(ada, TG_SCHED_ONECYCLE, &so));
    tg_optim_free(ada);
    tg_optim_free(o);
    tg_tensor_free(p);
}
END_TEST

static Suite *optim_suite(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("vs_torch");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_optim_trajectory_matches_torch, 0, N_OPTIM_REFS);
    tcase_add_loop_test(tc, test_optim_lbfgs_matches_torch, 0, N_LBFGS_REFS);
    tcase_add_loop_test(tc, test_optim_schedule_matches_torch, 0, N_SCHED_REFS);
    tcase_add_test(tc, test_optim_lambda_schedule);
    suite_add_tcase(s, tc);
    tc = tcase_create("state");
    tcase_add_loop_test(tc, test_optim_save_restore_is_exact, 0, TG_OPTIM_KIND_COUNT);
    tcase_add_loop_test(tc, test_optim_every_schedule_resumes_exactly, 0, TG_SCHED_KIND_COUNT);
    tcase_add_test(tc, test_optim_load_refuses_mismatches);
    tcase_add_test(tc, test_optim_clip_grad_norm);
    tcase_add_test(tc, test_optim_custom_optimizer_plugs_in);
    suite_add_tcase(s, tc);
    tc = tcase_create("training");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_optim_every_optimizer_trains, 0, TG_OPTIM_KIND_COUNT);
    suite_add_tcase(s, tc);
    tc = tcase_create("torch_semantics");
    tcase_add_test(tc, test_optim_lbfgs_max_eval_follows_max_iter);
    tcase_add_test(tc, test_optim_chained_schedules_keep_the_first_base);
    tcase_add_test(tc, test_optim_schedule_refuses_a_later_group);
    tcase_add_test(tc, test_optim_schedule_load_checks_counters);
    tcase_add_test(tc, test_optim_adagrad_accumulator_comes_from_the_first_group);
    tcase_add_loop_test(tc, test_optim_maximize_is_descent_on_the_negation, 0, TG_OPTIM_LBFGS);
    tcase_add_test(tc, test_optim_lion_follows_its_paper);
    tcase_add_test(tc, test_optim_custom_optimizer_needs_no_name);
    suite_add_tcase(s, tc);
    tc = tcase_create("options");
    tcase_add_test(tc, test_optim_defaults_are_torchs);
    tcase_add_test(tc, test_optim_options_from_text);
    tcase_add_test(tc, test_optim_construction_errors);
    tcase_add_test(tc, test_optim_skips_parameters_without_grad);
    tcase_add_test(tc, test_optim_schedule_errors);
    suite_add_tcase(s, tc);
    return s;
}

TG_TEST_MAIN(optim_suite)
