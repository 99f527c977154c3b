/* lbfgs.c — L-BFGS as torch.optim.LBFGS (1.13) runs it: every parameter as
 * one flat vector, the two-loop recursion over a limited history (Nocedal &
 * Wright, Numerical Optimization, Alg. 7.4), and the optional strong-Wolfe
 * line search of minFunc (torch's _strong_wolfe). Vectors are float32 as in
 * torch; scalars (step length, dot products, curvature) are double, where
 * torch keeps some in float32 tensors, so paths agree to float rounding. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/kernels.h"
#include "optim_internal.h"

typedef struct lbfgs_state {
    size_t n;                 /* elements over all parameters */
    float *flat_grad, *prev_flat_grad, *d, *q, *y, *s;
    float *x_init, *g_new, *g_prev, *bracket_g[2];   /* line search */
    float **old_dirs, **old_stps;   /* [history_size]; made as the history fills */
    double *ro, *al;
    int history_size, n_old, oldest;   /* a ring: entry i is at (oldest + i) % history_size */
    uint64_t func_evals, n_iter;
    double t, H_diag, prev_loss;
} lbfgs_state;

/* The state's n-float vectors, for making and freeing them in one place. */
static float **vector(lbfgs_state *st, int k)
{
    float **all[] = {&st->flat_grad, &st->prev_flat_grad, &st->d, &st->q, &st->y, &st->s,
                     &st->x_init, &st->g_new, &st->g_prev, &st->bracket_g[0], &st->bracket_g[1]};
    return k < (int)(sizeof all / sizeof all[0]) ? all[k] : NULL;
}

static void state_free(lbfgs_state *st)
{
    if (!st) return;
    for (int k = 0; vector(st, k); k++) free(*vector(st, k));
    for (int i = 0; i < st->history_size && st->old_dirs; i++) {
        free(st->old_dirs[i]);
        free(st->old_stps[i]);
    }
    free(st->old_dirs);
    free(st->old_stps);
    free(st->ro);
    free(st->al);
    free(st);
}

static void lbfgs_free(tg_optim *o) { state_free(o->state); }

static lbfgs_state *state_new(size_t n, int history_size)
{
    lbfgs_state *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    st->n = n;
    st->history_size = history_size;
    st->H_diag = 1.0;
    bool ok = true;
    for (int k = 0; vector(st, k); k++) ok &= (*vector(st, k) = tg__aligned_alloc(n * sizeof(float))) != NULL;
    st->old_dirs = calloc((size_t)history_size, sizeof *st->old_dirs);
    st->old_stps = calloc((size_t)history_size, sizeof *st->old_stps);
    st->ro = calloc((size_t)history_size, sizeof *st->ro);
    st->al = calloc((size_t)history_size, sizeof *st->al);
    if (!ok || !st->old_dirs || !st->old_stps || !st->ro || !st->al) {
        state_free(st);
        return NULL;
    }
    return st;
}

/* ---- the parameters as one vector ---- */

static void gather_grad(const tg_optim *o, float *flat)
{
    const tg_param_group *grp = &o->groups[0];
    for (int i = 0; i < grp->n_params; i++) {
        const tg_tensor *p = grp->params[i];
        if (p->grad)
            memcpy(flat, p->grad, p->size * sizeof *flat);
        else
            memset(flat, 0, p->size * sizeof *flat);
        flat += p->size;
    }
}

static void gather_params(const tg_optim *o, float *flat)
{
    const tg_param_group *grp = &o->groups[0];
    for (int i = 0; i < grp->n_params; i++) {
        memcpy(flat, grp->params[i]->data, grp->params[i]->size * sizeof *flat);
        flat += grp->params[i]->size;
    }
}

static void scatter_params(tg_optim *o, const float *flat)
{
    tg_param_group *grp = &o->groups[0];
    for (int i = 0; i < grp->n_params; i++) {
        memcpy(grp->params[i]->data, flat, grp->params[i]->size * sizeof *flat);
        flat += grp->params[i]->size;
    }
}

/* params += t d (torch's _add_grad) */
static void add_grad(tg_optim *o, double t, const float *d)
{
    tg_param_group *grp = &o->groups[0];
    for (int i = 0; i < grp->n_params; i++) {
        tg__k_axpy(grp->params[i]->size, (float)t, d, grp->params[i]->data);
        d += grp->params[i]->size;
    }
}

/* f and its gradient at x + t d; the parameters are put back to x. */
static tg_status directional_evaluate(tg_optim *o, tg_closure f, void *ctx, lbfgs_state *st, double t,
                                      double *loss, float *grad)
{
    add_grad(o, t, st->d);
    float value;
    tg_status s = f(ctx, &value);
    *loss = value;
    gather_grad(o, grad);
    scatter_params(o, st->x_init);
    return s;
}

/* ---- strong-Wolfe line search (torch's _cubic_interpolate, _strong_wolfe) ---- */

/* The minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clamped
 * to bounds; the bounds' midpoint when the cubic has none. */
static double cubic_interpolate(double x1, double f1, double g1, double x2, double f2, double g2, const double *bounds)
{
    double lo = bounds ? bounds[0] : fmin(x1, x2), hi = bounds ? bounds[1] : fmax(x1, x2);
    double d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2);
    double d2_square = d1 * d1 - g1 * g2;
    if (!(d2_square >= 0)) return (lo + hi) / 2.0;
    double d2 = sqrt(d2_square);
    double min_pos = x1 <= x2 ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
                              : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
    return fmin(fmax(min_pos, lo), hi);
}

typedef struct wolfe_point {
    double t, f, gtd;
    float *g;   /* a buffer of the state */
} wolfe_point;

static void keep(lbfgs_state *st, wolfe_point *dst, double t, double f, const float *g, double gtd)
{
    dst->t = t, dst->f = f, dst->gtd = gtd;
    memcpy(dst->g, g, st->n * sizeof *g);
}

/* Finds t satisfying the strong Wolfe conditions along d from the current
 * parameters (loss f, gradient g = flat_grad, slope gtd). On return
 * flat_grad and *f hold the gradient and loss at the chosen t. */
static tg_status strong_wolfe(tg_optim *o, tg_closure fn, void *ctx, lbfgs_state *st, double *t, double *f,
                              double gtd, double tolerance_change, int *evals)
{
    const double c1 = 1e-4, c2 = 0.9;
    const int max_ls = 25;
    double d_norm = tg__k_abs_max(st->n, st->d), f0 = *f;
    float *g = st->flat_grad;
    double f_new;
    tg_status s = directional_evaluate(o, fn, ctx, st, *t, &f_new, st->g_new);
    *evals = 1;
    double gtd_new = tg__k_dot(st->n, st->g_new, st->d);
    double t_prev = 0, f_prev = f0, gtd_prev = gtd;
    memcpy(st->g_prev, g, st->n * sizeof *g);
    wolfe_point bracket[2] = {{.g = st->bracket_g[0]}, {.g = st->bracket_g[1]}};
    int n_bracket = 0, ls_iter = 0;
    bool done = false;

    /* bracketing phase */
    while (ls_iter < max_ls && s == TG_OK) {
        /* in torch's order: sufficient decrease fails, then the curvature
         * condition holds (done), then the slope turns positive */
        bool decrease_fails = f_new > f0 + c1 * *t * gtd || (ls_iter > 1 && f_new >= f_prev);
        if (!decrease_fails && fabs(gtd_new) <= -c2 * gtd) {
            keep(st, &bracket[0], *t, f_new, st->g_new, gtd_new);
            n_bracket = 1;
            done = true;
            break;
        }
        if (decrease_fails || gtd_new >= 0) {
            keep(st, &bracket[0], t_prev, f_prev, st->g_prev, gtd_prev);
            keep(st, &bracket[1], *t, f_new, st->g_new, gtd_new);
            n_bracket = 2;
            break;
        }
        double bounds[2] = {*t + 0.01 * (*t - t_prev), *t * 10};
        double tmp = *t;
        *t = cubic_interpolate(t_prev, f_prev, gtd_prev, *t, f_new, gtd_new, bounds);
        t_prev = tmp, f_prev = f_new, gtd_prev = gtd_new;
        memcpy(st->g_prev, st->g_new, st->n * sizeof(float));
        s = directional_evaluate(o, fn, ctx, st, *t, &f_new, st->g_new);
        ++*evals;
        gtd_new = tg__k_dot(st->n, st->g_new, st->d);
        ls_iter++;
    }
    if (ls_iter == max_ls) {
        keep(st, &bracket[0], 0, f0, g, gtd);
        keep(st, &bracket[1], *t, f_new, st->g_new, gtd_new);
        n_bracket = 2;
    }

    /* zoom phase: shrink the bracket until a point satisfies both conditions */
    bool insuf_progress = false;
    int low = bracket[0].f <= bracket[n_bracket - 1].f ? 0 : 1, high = 1 - low;
    while (!done && ls_iter < max_ls && s == TG_OK) {
        if (fabs(bracket[1].t - bracket[0].t) * d_norm < tolerance_change) break;
        *t = cubic_interpolate(bracket[0].t, bracket[0].f, bracket[0].gtd, bracket[1].t, bracket[1].f,
                               bracket[1].gtd, NULL);
        double bmax = fmax(bracket[0].t, bracket[1].t), bmin = fmin(bracket[0].t, bracket[1].t);
        double eps = 0.1 * (bmax - bmin);
        if (fmin(bmax - *t, *t - bmin) < eps) {
            /* interpolation close to a boundary: move away from it */
            if (insuf_progress || *t >= bmax || *t <= bmin) {
                *t = fabs(*t - bmax) < fabs(*t - bmin) ? bmax - eps : bmin + eps;
                insuf_progress = false;
            } else {
                insuf_progress = true;
            }
        } else {
            insuf_progress = false;
        }
        s = directional_evaluate(o, fn, ctx, st, *t, &f_new, st->g_new);
        ++*evals;
        gtd_new = tg__k_dot(st->n, st->g_new, st->d);
        ls_iter++;
        if (f_new > f0 + c1 * *t * gtd || f_new >= bracket[low].f) {
            keep(st, &bracket[high], *t, f_new, st->g_new, gtd_new);
            low = bracket[0].f <= bracket[1].f ? 0 : 1, high = 1 - low;
        } else {
            if (fabs(gtd_new) <= -c2 * gtd) {
                done = true;
            } else if (gtd_new * (bracket[high].t - bracket[low].t) >= 0) {
                /* the old high becomes the low */
                keep(st, &bracket[high], bracket[low].t, bracket[low].f, bracket[low].g, bracket[low].gtd);
            }
            keep(st, &bracket[low], *t, f_new, st->g_new, gtd_new);
        }
    }
    *t = bracket[low].t;
    *f = bracket[low].f;
    memcpy(st->flat_grad, bracket[low].g, st->n * sizeof(float));
    return s;
}

/* ---- the L-BFGS step ---- */

/* d = -H grad by the two-loop recursion over the history, after adding
 * the last step's curvature pair (y, s) when y's = ys > 1e-10. */
static void lbfgs_direction(lbfgs_state *st)
{
    size_t n = st->n;
    for (size_t i = 0; i < n; i++) {
        st->y[i] = st->flat_grad[i] - st->prev_flat_grad[i];
        st->s[i] = st->d[i] * (float)st->t;
    }
    double ys = tg__k_dot(n, st->y, st->s);
    if (ys > 1e-10) {
        if (st->n_old == st->history_size) { /* forget the oldest pair */
            st->oldest = (st->oldest + 1) % st->history_size;
            st->n_old--;
        }
        int at = (st->oldest + st->n_old) % st->history_size;
        if (!st->old_dirs[at]) { /* made once, then reused as the ring turns */
            st->old_dirs[at] = tg__aligned_alloc(n * sizeof(float));
            st->old_stps[at] = tg__aligned_alloc(n * sizeof(float));
        }
        if (st->old_dirs[at] && st->old_stps[at]) {
            memcpy(st->old_dirs[at], st->y, n * sizeof(float));
            memcpy(st->old_stps[at], st->s, n * sizeof(float));
            st->ro[at] = 1.0 / ys;
            st->n_old++;
            st->H_diag = ys / tg__k_dot(n, st->y, st->y);
        }
    }
    float *q = st->q;
    for (size_t i = 0; i < n; i++) q[i] = -st->flat_grad[i];
    for (int k = st->n_old - 1; k >= 0; k--) {
        int at = (st->oldest + k) % st->history_size;
        st->al[at] = tg__k_dot(n, st->old_stps[at], q) * st->ro[at];
        tg__k_axpy(n, (float)-st->al[at], st->old_dirs[at], q);
    }
    float *r = st->d;
    for (size_t i = 0; i < n; i++) r[i] = q[i] * (float)st->H_diag;
    for (int k = 0; k < st->n_old; k++) {
        int at = (st->oldest + k) % st->history_size;
        double be = tg__k_dot(n, st->old_dirs[at], r) * st->ro[at];
        tg__k_axpy(n, (float)(st->al[at] - be), st->old_stps[at], r);
    }
}

/* Elements over all parameters: the length of the flat vectors. */
static size_t numel(const tg_optim *o)
{
    size_t n = 0;
    for (int i = 0; i < o->groups[0].n_params; i++) n += o->groups[0].params[i]->size;
    return n;
}

/* Made at the first step; history_size is fixed from then on. */
static lbfgs_state *state_for(tg_optim *o)
{
    if (!o->state) o->state = state_new(numel(o), o->groups[0].opts.history_size);
    return o->state;
}

static tg_status lbfgs_step_closure(tg_optim *o, tg_closure f, void *ctx, float *loss_out)
{
    const tg_optim_opts *opt = &o->groups[0].opts;
    lbfgs_state *st = state_for(o);
    if (!st) {
        tg__error("lbfgs: out of memory for its state");
        return TG_ERR_NOMEM;
    }
    float orig_loss;
    tg_status s = f(ctx, &orig_loss);
    if (s != TG_OK) return s;
    if (loss_out) *loss_out = orig_loss;
    double loss = orig_loss;
    int current_evals = 1;
    st->func_evals++;
    gather_grad(o, st->flat_grad);
    if (tg__k_abs_max(st->n, st->flat_grad) <= opt->tolerance_grad) return TG_OK;

    for (int n_iter = 1; n_iter <= opt->max_iter; n_iter++) {
        st->n_iter++;
        if (st->n_iter == 1) { /* steepest descent to start */
            for (size_t i = 0; i < st->n; i++) st->d[i] = -st->flat_grad[i];
            st->n_old = 0, st->oldest = 0, st->H_diag = 1.0;
        } else {
            lbfgs_direction(st);
        }
        memcpy(st->prev_flat_grad, st->flat_grad, st->n * sizeof(float));
        st->prev_loss = loss;
        st->t = st->n_iter == 1 ? fmin(1.0, 1.0 / tg__k_abs_sum(st->n, st->flat_grad)) * opt->lr : opt->lr;
        double gtd = tg__k_dot(st->n, st->flat_grad, st->d);
        if (gtd > -opt->tolerance_change) break; /* not a descent direction any more */

        int ls_evals = 0;
        bool opt_cond = false;
        if (opt->strong_wolfe) {
            gather_params(o, st->x_init);
            s = strong_wolfe(o, f, ctx, st, &st->t, &loss, gtd, opt->tolerance_change, &ls_evals);
            add_grad(o, st->t, st->d);
            opt_cond = tg__k_abs_max(st->n, st->flat_grad) <= opt->tolerance_grad;
        } else {
            add_grad(o, st->t, st->d);
            if (n_iter != opt->max_iter) { /* torch skips the evaluation after the last iteration */
                float value;
                s = f(ctx, &value);
                loss = value;
                gather_grad(o, st->flat_grad);
                opt_cond = tg__k_abs_max(st->n, st->flat_grad) <= opt->tolerance_grad;
                ls_evals = 1;
            }
        }
        if (s != TG_OK) return s;
        current_evals += ls_evals;
        st->func_evals += (uint64_t)ls_evals;
        int max_eval = opt->max_eval ? opt->max_eval : opt->max_iter * 5 / 4;
        if (n_iter == opt->max_iter || current_evals >= max_eval || opt_cond) break;
        if (tg__k_abs_max(st->n, st->d) * fabs(st->t) <= opt->tolerance_change) break;
        if (fabs(loss - st->prev_loss) < opt->tolerance_change) break;
    }
    return TG_OK;
}

static tg_status lbfgs_step(tg_optim *o)
{
    (void)o;
    tg__error("lbfgs: needs a closure that re-evaluates the loss: call tg_optim_step_closure");
    return TG_ERR_ARG;
}

/* ---- saving ---- */

static tg_status lbfgs_save(const tg_optim *o, tg_buf *out)
{
    const lbfgs_state *st = o->state;
    tg_status s = tg_buf_put_u64(out, st != NULL);
    if (!st || s != TG_OK) return s;
    const uint64_t counts[] = {st->n, (uint64_t)st->history_size, (uint64_t)st->n_old, st->func_evals, st->n_iter};
    const double scalars[] = {st->t, st->H_diag, st->prev_loss};
    for (size_t k = 0; k < sizeof counts / sizeof counts[0] && s == TG_OK; k++) s = tg_buf_put_u64(out, counts[k]);
    for (size_t k = 0; k < sizeof scalars / sizeof scalars[0] && s == TG_OK; k++) s = tg_buf_put_f64(out, scalars[k]);
    if (s == TG_OK) s = tg_buf_put_floats(out, st->d, st->n);
    if (s == TG_OK) s = tg_buf_put_floats(out, st->prev_flat_grad, st->n);
    for (int k = 0; k < st->n_old && s == TG_OK; k++) { /* oldest first */
        int at = (st->oldest + k) % st->history_size;
        s = tg_buf_put_floats(out, st->old_dirs[at], st->n);
        if (s == TG_OK) s = tg_buf_put_floats(out, st->old_stps[at], st->n);
        if (s == TG_OK) s = tg_buf_put_f64(out, st->ro[at]);
    }
    return s;
}

static tg_status lbfgs_load(tg_optim *o, tg_buf *in)
{
    uint64_t present, counts[5];
    tg_status s = tg_buf_get_u64(in, &present);
    if (s != TG_OK || !present) {
        if (s == TG_OK) state_free(o->state), o->state = NULL;
        return s;
    }
    for (int k = 0; k < 5 && s == TG_OK; k++) s = tg_buf_get_u64(in, &counts[k]);
    if (s != TG_OK) return s;
    /* the history size is the state's own: the options being loaded beside
     * it set the same one */
    size_t n = numel(o);
    if (counts[0] != n || counts[1] < 1 || counts[1] > 1000000 || counts[2] > counts[1]) {
        tg__error("lbfgs: the state is of %llu elements with history %llu (%llu used), the optimizer has %zu elements",
                  (unsigned long long)counts[0], (unsigned long long)counts[1], (unsigned long long)counts[2], n);
        return TG_ERR_FORMAT;
    }
    lbfgs_state *st = state_new(n, (int)counts[1]);
    if (!st) return TG_ERR_NOMEM;
    st->n_old = (int)counts[2], st->func_evals = counts[3], st->n_iter = counts[4];
    s = tg_buf_get_f64(in, &st->t);
    if (s == TG_OK) s = tg_buf_get_f64(in, &st->H_diag);
    if (s == TG_OK) s = tg_buf_get_f64(in, &st->prev_loss);
    if (s == TG_OK) s = tg_buf_get_floats(in, st->d, n);
    if (s == TG_OK) s = tg_buf_get_floats(in, st->prev_flat_grad, n);
    for (int k = 0; k < st->n_old && s == TG_OK; k++) {
        st->old_dirs[k] = tg__aligned_alloc(n * sizeof(float));
        st->old_stps[k] = tg__aligned_alloc(n * sizeof(float));
        s = st->old_dirs[k] && st->old_stps[k] ? tg_buf_get_floats(in, st->old_dirs[k], n) : TG_ERR_NOMEM;
        if (s == TG_OK) s = tg_buf_get_floats(in, st->old_stps[k], n);
        if (s == TG_OK) s = tg_buf_get_f64(in, &st->ro[k]);
    }
    if (s == TG_OK) {
        state_free(o->state);
        o->state = st;
    } else {
        state_free(st);
    }
    return s;
}

const tg_optim_ops tg__lbfgs_ops = {"lbfgs", lbfgs_step, lbfgs_step_closure, NULL, lbfgs_save, lbfgs_load, lbfgs_free};
