/* builtin.c — SGD, Adagrad, RMSprop, Adam, AdamW, NAdam, RAdam and Lion:
 * per-parameter state, the scalar factors of each rule (in double, as
 * Python computes them), and saving that state. The loops are in
 * kernels/optim.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/kernels.h"
#include "optim_internal.h"

enum { MAX_SLOTS = 3 };

/* torch's per-parameter state: the step count, whether SGD's momentum
 * buffer exists yet, NAdam's running product of mu (a float32 tensor in
 * torch), and up to three buffers the size of the parameter, each made the
 * first time the options need it. */
typedef struct param_state {
    uint64_t step;
    bool has_buffer;
    float mu_product;
    float *slot[MAX_SLOTS];
} param_state;

typedef struct builtin_state {
    int n;              /* parameters with an entry, in group order */
    param_state *ps;    /* [n] */
} builtin_state;

/* Buffer k of a parameter, needed under these options?
 *   sgd: momentum (if momentum != 0);  adagrad: sum;  rmsprop: square_avg,
 *   momentum (if momentum > 0), grad_avg (if centered);  adam(w): exp_avg,
 *   exp_avg_sq, max_exp_avg_sq (if amsgrad);  nadam, radam: exp_avg,
 *   exp_avg_sq;  lion: exp_avg. */
static bool slot_needed(tg_optim_kind kind, const tg_optim_opts *o, int k)
{
    switch (kind) {
    case TG_OPTIM_SGD: return k == 0 && o->momentum != 0.0;
    case TG_OPTIM_RMSPROP: return k == 0 || (k == 1 && o->momentum > 0.0) || (k == 2 && o->centered);
    case TG_OPTIM_ADAM: case TG_OPTIM_ADAMW: return k < 2 || (k == 2 && o->amsgrad);
    case TG_OPTIM_NADAM: case TG_OPTIM_RADAM: return k < 2;
    default: return k == 0;
    }
}

static void state_free(builtin_state *st)
{
    if (!st) return;
    for (int i = 0; i < st->n; i++)
        for (int k = 0; k < MAX_SLOTS; k++) free(st->ps[i].slot[k]);
    free(st->ps);
    free(st);
}

static void builtin_free(tg_optim *o) { state_free(o->state); }

/* Every group's parameters together. */
static int n_params(const tg_optim *o)
{
    int n = 0;
    for (int g = 0; g < o->n_groups; g++) n += o->groups[g].n_params;
    return n;
}

/* One entry per parameter, grown when groups were added. */
static builtin_state *state_for(tg_optim *o)
{
    builtin_state *st = o->state;
    if (!st && !(st = o->state = calloc(1, sizeof *st))) return NULL;
    int n = n_params(o);
    if (st->n < n) {
        param_state *ps = realloc(st->ps, (size_t)n * sizeof *ps);
        if (!ps) return NULL;
        memset(ps + st->n, 0, (size_t)(n - st->n) * sizeof *ps);
        st->ps = ps;
        st->n = n;
    }
    return st;
}

/* Makes the buffers the options need and the parameter lacks: zeros, or
 * Adagrad's initial accumulator, which torch takes from the constructor's
 * options (group 0 here) whatever a group says. */
static tg_status ensure_slots(const tg_optim *o, const tg_optim_opts *opts, param_state *ps, size_t size)
{
    for (int k = 0; k < MAX_SLOTS; k++) {
        if (ps->slot[k] || !slot_needed(o->kind, opts, k)) continue;
        if (!(ps->slot[k] = tg__aligned_alloc(size * sizeof(float)))) return TG_ERR_NOMEM;
        float init = o->kind == TG_OPTIM_ADAGRAD ? (float)o->groups[0].opts.initial_accumulator_value : 0.0f;
        for (size_t i = 0; i < size; i++) ps->slot[k][i] = init;
    }
    return TG_OK;
}

/* ---- each rule's scalars (torch/optim/<name>.py, _single_tensor_<name>) ---- */

static void sgd_update(const tg_optim_opts *o, tg_tensor *p, param_state *ps)
{
    tg__sgd_args a = {.neg_lr = (float)-o->lr, .weight_decay = (float)o->weight_decay,
                      .momentum = (float)o->momentum, .one_minus_dampening = (float)(1.0 - o->dampening),
                      .nesterov = o->nesterov, .maximize = o->maximize, .first = !ps->has_buffer};
    bool momentum = o->momentum != 0.0;
    tg__k_sgd(p->size, p->data, p->grad, momentum ? ps->slot[0] : NULL, &a);
    ps->has_buffer |= momentum;
}

static void adagrad_update(const tg_optim_opts *o, tg_tensor *p, param_state *ps)
{
    double clr = o->lr / (1.0 + (double)(ps->step - 1) * o->lr_decay);
    tg__adagrad_args a = {.neg_clr = (float)-clr, .weight_decay = (float)o->weight_decay, .eps = (float)o->eps,
                          .maximize = o->maximize};
    tg__k_adagrad(p->size, p->data, p->grad, ps->slot[0], &a);
}

static void rmsprop_update(const tg_optim_opts *o, tg_tensor *p, param_state *ps)
{
    tg__rmsprop_args a = {.neg_lr = (float)-o->lr, .weight_decay = (float)o->weight_decay, .alpha = (float)o->alpha,
                          .one_minus_alpha = (float)(1.0 - o->alpha), .eps = (float)o->eps,
                          .momentum = (float)o->momentum, .maximize = o->maximize};
    tg__k_rmsprop(p->size, p->data, p->grad, ps->slot[0], o->centered ? ps->slot[2] : NULL,
                  o->momentum > 0.0 ? ps->slot[1] : NULL, &a);
}

static void adam_update(const tg_optim_opts *o, tg_tensor *p, param_state *ps, bool decoupled)
{
    double bc1 = 1.0 - pow(o->beta1, (double)ps->step), bc2 = 1.0 - pow(o->beta2, (double)ps->step);
    tg__adam_args a = {.neg_step_size = (float)-(o->lr / bc1), .bc2_sqrt = (float)sqrt(bc2),
                       .beta1 = (float)o->beta1, .one_minus_beta1 = (float)(1.0 - o->beta1),
                       .beta2 = (float)o->beta2, .one_minus_beta2 = (float)(1.0 - o->beta2), .eps = (float)o->eps,
                       .weight_decay = decoupled ? 0.0f : (float)o->weight_decay,
                       .decay_factor = decoupled ? (float)(1.0 - o->lr * o->weight_decay) : 1.0f,
                       .maximize = o->maximize};
    tg__k_adam(p->size, p->data, p->grad, ps->slot[0], ps->slot[1], o->amsgrad ? ps->slot[2] : NULL, &a);
}

/* NAdam (Dozat 2016) as torch documents it and as PyTorch 2.0 computes it;
 * torch 1.13's code multiplies mu into mu_product_next twice. */
static void nadam_update(const tg_optim_opts *o, tg_tensor *p, param_state *ps)
{
    double step = (double)ps->step;
    double bc2 = 1.0 - pow(o->beta2, step);
    double mu = o->beta1 * (1.0 - 0.5 * pow(0.96, step * o->momentum_decay));
    double mu_next = o->beta1 * (1.0 - 0.5 * pow(0.96, (step + 1.0) * o->momentum_decay));
    ps->mu_product = ps->mu_product * (float)mu;
    float mu_product_next = ps->mu_product * (float)mu_next;
    tg__nadam_args a = {.coef_grad = (float)(-o->lr * (1.0 - mu) / (1.0 - ps->mu_product)),
                        .coef_avg = (float)(-o->lr * mu_next / (1.0 - mu_product_next)), .bc2 = (float)bc2,
                        .beta1 = (float)o->beta1, .one_minus_beta1 = (float)(1.0 - o->beta1),
                        .beta2 = (float)o->beta2, .one_minus_beta2 = (float)(1.0 - o->beta2), .eps = (float)o->eps,
                        .weight_decay = (float)o->weight_decay, .maximize = o->maximize};
    tg__k_nadam(p->size, p->data, p->grad, ps->slot[0], ps->slot[1], &a);
}

/* RAdam (Liu et al. 2020): rectify the adaptive rate once the variance of
 * the SMA length rho_t is tractable (rho_t > 5). */
static void radam_update(const tg_optim_opts *o, tg_tensor *p, param_state *ps)
{
    double step = (double)ps->step;
    double bc1 = 1.0 - pow(o->beta1, step), bc2 = 1.0 - pow(o->beta2, step);
    double rho_inf = 2.0 / (1.0 - o->beta2) - 1.0;
    double rho_t = rho_inf - 2.0 * step * pow(o->beta2, step) / bc2;
    double rect = rho_t > 5.0 ? sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) : 0;
    tg__radam_args a = {.lr = (float)o->lr, .bc1 = (float)bc1, .bc2_sqrt = (float)sqrt(bc2), .rect = (float)rect,
                        .beta1 = (float)o->beta1, .one_minus_beta1 = (float)(1.0 - o->beta1),
                        .beta2 = (float)o->beta2, .one_minus_beta2 = (float)(1.0 - o->beta2), .eps = (float)o->eps,
                        .weight_decay = (float)o->weight_decay, .rectified = rho_t > 5.0, .maximize = o->maximize};
    tg__k_radam(p->size, p->data, p->grad, ps->slot[0], ps->slot[1], &a);
}

static void lion_update(const tg_optim_opts *o, tg_tensor *p, param_state *ps)
{
    tg__lion_args a = {.neg_lr = (float)-o->lr, .decay_factor = (float)(1.0 - o->lr * o->weight_decay),
                       .beta1 = (float)o->beta1, .one_minus_beta1 = (float)(1.0 - o->beta1),
                       .beta2 = (float)o->beta2, .one_minus_beta2 = (float)(1.0 - o->beta2),
                       .maximize = o->maximize};
    tg__k_lion(p->size, p->data, p->grad, ps->slot[0], &a);
}

static void update(tg_optim_kind kind, const tg_optim_opts *o, tg_tensor *p, param_state *ps)
{
    switch (kind) {
    case TG_OPTIM_SGD: sgd_update(o, p, ps); break;
    case TG_OPTIM_ADAGRAD: adagrad_update(o, p, ps); break;
    case TG_OPTIM_RMSPROP: rmsprop_update(o, p, ps); break;
    case TG_OPTIM_ADAM: adam_update(o, p, ps, false); break;
    case TG_OPTIM_ADAMW: adam_update(o, p, ps, true); break;
    case TG_OPTIM_NADAM: nadam_update(o, p, ps); break;
    case TG_OPTIM_RADAM: radam_update(o, p, ps); break;
    default: lion_update(o, p, ps); break;
    }
}

static tg_status builtin_step(tg_optim *o)
{
    builtin_state *st = state_for(o);
    if (!st) goto nomem;
    int idx = 0;
    for (int g = 0; g < o->n_groups; g++) {
        const tg_optim_opts *opts = &o->groups[g].opts;
        for (int i = 0; i < o->groups[g].n_params; i++, idx++) {
            tg_tensor *p = o->groups[g].params[i];
            param_state *ps = &st->ps[idx];
            if (!p->grad) continue; /* as torch skips a parameter whose .grad is None */
            if (ensure_slots(o, opts, ps, p->size) != TG_OK) goto nomem;
            if (ps->step == 0) ps->mu_product = 1.0f;
            ps->step++;
            update(o->kind, opts, p, ps);
        }
    }
    return TG_OK;
nomem:
    tg__error("%s: out of memory for the optimizer's state", o->ops->name);
    return TG_ERR_NOMEM;
}

/* ---- saving: per parameter, its counters and (once made) its buffers ---- */

static tg_status builtin_save(const tg_optim *o, tg_buf *out)
{
    const builtin_state *st = o->state;
    int idx = 0;
    tg_status s = TG_OK;
    for (int g = 0; g < o->n_groups; g++)
        for (int i = 0; i < o->groups[g].n_params && s == TG_OK; i++, idx++) {
            const param_state none = {0}, *ps = st && idx < st->n ? &st->ps[idx] : &none;
            s = tg_buf_put_u64(out, ps->step);
            if (s == TG_OK) s = tg_buf_put_u64(out, ps->has_buffer);
            if (s == TG_OK) s = tg_buf_put_f64(out, ps->mu_product);
            for (int k = 0; k < MAX_SLOTS && s == TG_OK; k++) {
                s = tg_buf_put_u64(out, ps->slot[k] != NULL);
                if (s == TG_OK && ps->slot[k]) s = tg_buf_put_floats(out, ps->slot[k], o->groups[g].params[i]->size);
            }
        }
    return s;
}

/* Reads into a new state, so that a failure leaves the old one untouched. */
static tg_status builtin_load(tg_optim *o, tg_buf *in)
{
    int n = n_params(o), idx = 0;
    builtin_state *st = calloc(1, sizeof *st);
    if (st) st->ps = calloc((size_t)n, sizeof *st->ps);
    tg_status s = st && st->ps ? TG_OK : TG_ERR_NOMEM;
    if (s == TG_OK) st->n = n;
    for (int g = 0; g < o->n_groups && s == TG_OK; g++)
        for (int i = 0; i < o->groups[g].n_params && s == TG_OK; i++, idx++) {
            param_state *ps = &st->ps[idx];
            size_t size = o->groups[g].params[i]->size;
            uint64_t has_buffer = 0, made = 0;
            double mu_product = 1.0;
            s = tg_buf_get_u64(in, &ps->step);
            if (s == TG_OK) s = tg_buf_get_u64(in, &has_buffer);
            if (s == TG_OK) s = tg_buf_get_f64(in, &mu_product);
            ps->has_buffer = has_buffer != 0;
            ps->mu_product = (float)mu_product;
            for (int k = 0; k < MAX_SLOTS && s == TG_OK; k++) {
                s = tg_buf_get_u64(in, &made);
                if (s != TG_OK || !made) continue;
                ps->slot[k] = tg__aligned_alloc(size * sizeof(float));
                s = ps->slot[k] ? tg_buf_get_floats(in, ps->slot[k], size) : TG_ERR_NOMEM;
            }
        }
    if (s == TG_OK) {
        state_free(o->state);
        o->state = st;
    } else {
        state_free(st);
        if (s == TG_ERR_NOMEM) tg__error("%s: out of memory loading state", o->ops->name);
    }
    return s;
}

#define BUILTIN(kind_name) {kind_name, builtin_step, NULL, NULL, builtin_save, builtin_load, builtin_free}
static const tg_optim_ops builtin_ops[TG_OPTIM_KIND_COUNT] = {
    [TG_OPTIM_SGD] = BUILTIN("sgd"),     [TG_OPTIM_ADAGRAD] = BUILTIN("adagrad"),
    [TG_OPTIM_RMSPROP] = BUILTIN("rmsprop"), [TG_OPTIM_ADAM] = BUILTIN("adam"),
    [TG_OPTIM_ADAMW] = BUILTIN("adamw"), [TG_OPTIM_NADAM] = BUILTIN("nadam"),
    [TG_OPTIM_RADAM] = BUILTIN("radam"), [TG_OPTIM_LION] = BUILTIN("lion"),
};
#undef BUILTIN

const tg_optim_ops *tg__builtin_ops(tg_optim_kind kind)
{
    return kind == TG_OPTIM_LBFGS ? &tg__lbfgs_ops : &builtin_ops[kind];
}
