/* optim.c — what every optimizer shares: options and their checks, parameter
 * groups, stepping, zeroing, and saving and restoring state. The update
 * rules are in builtin.c and lbfgs.c (loops in kernels/optim.c). */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/kernels.h"
#include "optim_internal.h"

/* ---- options ---- */

/* Which kinds have each option (torch's signatures; tg adds maximize to
 * RAdam and NAdam). */
#define K(k) (1u << TG_OPTIM_##k)
#define ALL_BUT_LBFGS (K(SGD) | K(ADAGRAD) | K(RMSPROP) | K(ADAM) | K(ADAMW) | K(NADAM) | K(RADAM) | K(LION))
#define ADAMS (K(ADAM) | K(ADAMW) | K(NADAM) | K(RADAM))
#define F(name, type, lo, hi, open, kinds, sw) {#name, TG__OPT_##type, offsetof(tg_optim_opts, name), lo, hi, open, kinds, sw}
static const tg__opt_field fields[] = {
    F(lr, DOUBLE, 0, INFINITY, false, ALL_BUT_LBFGS | K(LBFGS), false),
    F(weight_decay, DOUBLE, 0, INFINITY, false, ALL_BUT_LBFGS, false),
    F(maximize, BOOL, 0, 1, false, ALL_BUT_LBFGS, true),
    F(momentum, DOUBLE, 0, INFINITY, false, K(SGD) | K(RMSPROP), false),
    F(dampening, DOUBLE, -INFINITY, INFINITY, false, K(SGD), false),
    F(nesterov, BOOL, 0, 1, false, K(SGD), true),
    F(beta1, DOUBLE, 0, 1, true, ADAMS | K(LION), false),
    F(beta2, DOUBLE, 0, 1, true, ADAMS | K(LION), false),
    F(eps, DOUBLE, 0, INFINITY, false, K(ADAGRAD) | K(RMSPROP) | ADAMS, false),
    F(amsgrad, BOOL, 0, 1, false, K(ADAM) | K(ADAMW), true),
    F(alpha, DOUBLE, 0, INFINITY, false, K(RMSPROP), false),
    F(centered, BOOL, 0, 1, false, K(RMSPROP), true),
    F(lr_decay, DOUBLE, 0, INFINITY, false, K(ADAGRAD), false),
    F(initial_accumulator_value, DOUBLE, 0, INFINITY, false, K(ADAGRAD), false),
    F(momentum_decay, DOUBLE, 0, INFINITY, false, K(NADAM), false),
    F(max_iter, INT, 1, 1e9, false, K(LBFGS), false),
    F(max_eval, INT, 0, 1e9, false, K(LBFGS), false), /* 0: max_iter * 5 / 4, torch's default */
    F(tolerance_grad, DOUBLE, 0, INFINITY, false, K(LBFGS), false),
    F(tolerance_change, DOUBLE, 0, INFINITY, false, K(LBFGS), false),
    F(history_size, INT, 1, 1e6, false, K(LBFGS), false),
    F(strong_wolfe, BOOL, 0, 1, false, K(LBFGS), false),
};
#undef F
#undef K
enum { N_FIELDS = sizeof fields / sizeof fields[0] };

static const char *const kind_names[TG_OPTIM_KIND_COUNT] = {
    [TG_OPTIM_SGD] = "sgd",       [TG_OPTIM_ADAGRAD] = "adagrad", [TG_OPTIM_RMSPROP] = "rmsprop",
    [TG_OPTIM_ADAM] = "adam",     [TG_OPTIM_ADAMW] = "adamw",     [TG_OPTIM_NADAM] = "nadam",
    [TG_OPTIM_RADAM] = "radam",   [TG_OPTIM_LION] = "lion",       [TG_OPTIM_LBFGS] = "lbfgs",
};

const char *tg_optim_kind_name(tg_optim_kind kind)
{
    return tg__kind_name(kind_names, TG_OPTIM_KIND_COUNT, (int)kind, "custom");
}

int tg_optim_kind_from_name(const char *name) { return tg__kind_from_name(kind_names, TG_OPTIM_KIND_COUNT, name); }

tg_optim_opts tg_optim_defaults(tg_optim_kind kind)
{
    /* torch.optim's signatures (1.13); LBFGS's max_eval 0 stands for torch's
     * None, max_iter * 5 // 4 of whatever max_iter is */
    tg_optim_opts o = {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .alpha = 0.99,
                       .momentum_decay = 4e-3, .max_iter = 20, .max_eval = 0, .tolerance_grad = 1e-7,
                       .tolerance_change = 1e-9, .history_size = 100};
    switch (kind) {
    case TG_OPTIM_ADAGRAD: o.lr = 1e-2, o.eps = 1e-10; break;
    case TG_OPTIM_RMSPROP: o.lr = 1e-2; break;
    case TG_OPTIM_ADAMW: o.weight_decay = 1e-2; break;
    case TG_OPTIM_NADAM: o.lr = 2e-3; break;
    case TG_OPTIM_LION: o.lr = 1e-4, o.beta2 = 0.99; break;
    case TG_OPTIM_LBFGS: o.lr = 1.0; break;
    default: break;
    }
    return o;
}

tg_status tg_optim_opts_set(tg_optim_opts *o, const char *key, const char *value)
{
    if (!o || !key) {
        tg__error("tg_optim_opts_set: %s is NULL", o ? "key" : "options");
        return TG_ERR_ARG;
    }
    if (!strcmp(key, "betas")) {
        /* "b1,b2" (the CLI) or "b1:b2" (inside a key=value,... list) */
        char first[64];
        const char *sep = value ? strpbrk(value, ",:") : NULL;
        if (!sep || (size_t)(sep - value) >= sizeof first) {
            tg__error("optimizer option betas: '%s' must be two numbers, like 0.9,0.999", value ? value : "");
            return TG_ERR_ARG;
        }
        memcpy(first, value, (size_t)(sep - value));
        first[sep - value] = '\0';
        tg_optim_opts copy = *o;
        if (tg_optim_opts_set(&copy, "beta1", first) != TG_OK || tg_optim_opts_set(&copy, "beta2", sep + 1) != TG_OK)
            return TG_ERR_ARG;
        *o = copy;
        return TG_OK;
    }
    if (!strcmp(key, "line_search")) {
        if (value && (!strcmp(value, "strong_wolfe") || !strcmp(value, "none"))) {
            o->strong_wolfe = !strcmp(value, "strong_wolfe");
            return TG_OK;
        }
        tg__error("optimizer option line_search: '%s' must be strong_wolfe or none", value ? value : "");
        return TG_ERR_ARG;
    }
    const tg__opt_field *f = tg__opt_find(fields, N_FIELDS, key);
    if (f) return tg__opt_set(o, f, value, "optimizer");
    tg__error("unknown optimizer option '%s'", key);
    return TG_ERR_ARG;
}

static tg_status set_any(void *o, const char *key, const char *value) { return tg_optim_opts_set(o, key, value); }

tg_option_type tg_optim_option(int kind, const char *key)
{
    if (!key) return TG_OPTION_NONE;
    if (!strcmp(key, "betas")) key = "beta1";
    if (!strcmp(key, "line_search")) return tg__opt_type_for(tg__opt_find(fields, N_FIELDS, "strong_wolfe"), kind);
    return tg__opt_type_for(tg__opt_find(fields, N_FIELDS, key), kind);
}

tg_status tg_optim_opts_parse(tg_optim_opts *o, const char *spec)
{
    return tg__opt_parse(o, spec, set_any, "optimizer");
}

tg_status tg_optim_opts_check(tg_optim_kind kind, const tg_optim_opts *o)
{
    if (kind < 0 || kind >= TG_OPTIM_KIND_COUNT || !o) {
        tg__error("tg_optim: %s", o ? "unknown optimizer kind" : "options are NULL");
        return TG_ERR_ARG;
    }
    for (int i = 0; i < N_FIELDS; i++) {
        double v = tg__opt_get(o, &fields[i]);
        if (!tg__opt_in_range(&fields[i], v)) return tg__opt_range_error(kind_names[kind], &fields[i], v);
    }
    if (kind == TG_OPTIM_SGD && o->nesterov && (o->momentum <= 0 || o->dampening != 0)) {
        tg__error("sgd: nesterov momentum requires a momentum and zero dampening (torch's rule)");
        return TG_ERR_ARG;
    }
    return TG_OK;
}

/* ---- construction ---- */

static bool already_there(const tg_optim *o, const tg_tensor *p)
{
    for (int g = 0; g < o->n_groups; g++)
        for (int i = 0; i < o->groups[g].n_params; i++)
            if (o->groups[g].params[i] == p) return true;
    return false;
}

tg_status tg_optim_add_group(tg_optim *o, tg_tensor *const *params, int n, const tg_optim_opts *opts)
{
    if (!o || n <= 0 || !params) {
        tg__error("tg_optim_add_group: %s", o ? "needs at least one parameter" : "optimizer is NULL");
        return TG_ERR_ARG;
    }
    tg_optim_opts use = opts ? *opts : o->n_groups ? o->groups[0].opts : tg_optim_defaults(o->kind);
    if (o->kind >= 0 && tg_optim_opts_check(o->kind, &use) != TG_OK) return TG_ERR_ARG;
    if (o->kind == TG_OPTIM_LBFGS && o->n_groups > 0) {
        tg__error("lbfgs: only one parameter group (torch's LBFGS has the same rule)");
        return TG_ERR_ARG;
    }
    for (int i = 0; i < n; i++) {
        bool repeated = false;
        for (int k = 0; k < i; k++) repeated |= params[k] == params[i];
        if (!params[i] || params[i]->graph || repeated || already_there(o, params[i])) {
            tg__error("tg_optim: parameter %d is %s", i + 1,
                      !params[i] ? "NULL" : params[i]->graph ? "owned by a graph (parameters must be standalone)"
                                                             : "already in the optimizer");
            return TG_ERR_ARG;
        }
    }
    tg_param_group *groups = realloc(o->groups, (size_t)(o->n_groups + 1) * sizeof *groups);
    tg_tensor **copy = malloc((size_t)n * sizeof *copy);
    if (groups) o->groups = groups;
    if (!groups || !copy) {
        free(copy);
        tg__error("tg_optim_add_group: out of memory");
        return TG_ERR_NOMEM;
    }
    memcpy(copy, params, (size_t)n * sizeof *copy);
    o->groups[o->n_groups++] = (tg_param_group){.params = copy, .n_params = n, .opts = use, .initial_lr = NAN};
    return TG_OK;
}

tg_optim *tg_optim_new_custom(const tg_optim_ops *ops, tg_tensor *const *params, int n, const tg_optim_opts *opts,
                              void *state)
{
    if (!ops || !ops->step) {
        tg__error("tg_optim_new_custom: ops%s is NULL", ops ? "->step" : "");
        return NULL;
    }
    tg_optim *o = calloc(1, sizeof *o);
    if (!o) {
        tg__error("tg_optim_new: out of memory");
        return NULL;
    }
    o->ops = ops;
    o->kind = -1;
    o->state = state;
    tg_optim_opts use = opts ? *opts : tg_optim_defaults(TG_OPTIM_SGD);
    if (tg_optim_add_group(o, params, n, &use) != TG_OK) {
        tg_optim_free(o);
        return NULL;
    }
    return o;
}

tg_optim *tg_optim_new(tg_optim_kind kind, tg_tensor *const *params, int n, const tg_optim_opts *opts)
{
    tg_optim_opts use = opts ? *opts : tg_optim_defaults(kind);
    if (tg_optim_opts_check(kind, &use) != TG_OK) return NULL;
    tg_optim *o = tg_optim_new_custom(tg__builtin_ops(kind), params, n, &use, NULL);
    if (o) o->kind = kind;
    return o;
}

void tg_optim_free(tg_optim *o)
{
    if (!o) return;
    if (o->ops && o->ops->free)
        o->ops->free(o);
    else
        free(o->state);
    for (int g = 0; g < o->n_groups; g++) free(o->groups[g].params);
    free(o->groups);
    free(o);
}

/* ---- stepping ---- */

tg_status tg_optim_step(tg_optim *o)
{
    if (!o) {
        tg__error("tg_optim_step: optimizer is NULL");
        return TG_ERR_ARG;
    }
    tg_status s = o->ops->step(o);
    if (s == TG_OK) o->steps++;
    return s;
}

tg_status tg_optim_step_closure(tg_optim *o, tg_closure f, void *ctx, float *loss)
{
    if (!o || !f) {
        tg__error("tg_optim_step_closure: %s is NULL", o ? "closure" : "optimizer");
        return TG_ERR_ARG;
    }
    tg_status s;
    if (o->ops->step_closure) {
        s = o->ops->step_closure(o, f, ctx, loss);
    } else {
        float value;
        s = f(ctx, &value);
        if (s == TG_OK) s = o->ops->step(o);
        if (s == TG_OK && loss) *loss = value;
    }
    if (s == TG_OK) o->steps++;
    return s;
}

void tg_optim_zero_grad(tg_optim *o)
{
    if (!o) return;
    if (o->ops->zero_grad) {
        o->ops->zero_grad(o);
        return;
    }
    for (int g = 0; g < o->n_groups; g++)
        for (int i = 0; i < o->groups[g].n_params; i++) tg_tensor_zero_grad(o->groups[g].params[i]);
}

double tg_optim_lr(const tg_optim *o, int group)
{
    return o && group >= 0 && group < o->n_groups ? o->groups[group].opts.lr : NAN;
}

tg_status tg_optim_set_lr(tg_optim *o, int group, double lr)
{
    if (!o || group < 0 || group >= o->n_groups || !(lr >= 0) || !isfinite(lr)) {
        tg__error("tg_optim_set_lr: group %d, lr %g: no such group, or not a finite lr >= 0", group, lr);
        return TG_ERR_ARG;
    }
    o->groups[group].opts.lr = lr;
    return TG_OK;
}

/* ---- saving and restoring ---- */

static const char *ops_name(const tg_optim *o) { return o->ops->name ? o->ops->name : "custom"; }

/* The last character is the layout's version: 2 made buffers optional. */
static const char state_magic[8] = "TGOPTIM2";

static tg_status put_string(tg_buf *b, const char *s)
{
    size_t n = strlen(s);
    tg_status st = tg_buf_put_u64(b, n);
    return st == TG_OK ? tg_buf_put(b, s, n) : st;
}

tg_status tg_optim_save(const tg_optim *o, tg_buf *out)
{
    if (!o || !out) {
        tg__error("tg_optim_save: %s is NULL", o ? "buffer" : "optimizer");
        return TG_ERR_ARG;
    }
    tg_status s = tg_buf_put(out, state_magic, sizeof state_magic);
    if (s == TG_OK) s = put_string(out, ops_name(o));
    if (s == TG_OK) s = tg_buf_put_u64(out, o->steps);
    if (s == TG_OK) s = tg_buf_put_u64(out, (uint64_t)o->n_groups);
    for (int g = 0; g < o->n_groups && s == TG_OK; g++) {
        const tg_param_group *grp = &o->groups[g];
        s = tg_buf_put_u64(out, (uint64_t)grp->n_params);
        for (int i = 0; i < grp->n_params && s == TG_OK; i++) s = tg_buf_put_u64(out, grp->params[i]->size);
        for (int f = 0; f < N_FIELDS && s == TG_OK; f++) s = tg_buf_put_f64(out, tg__opt_get(&grp->opts, &fields[f]));
        if (s == TG_OK) s = tg_buf_put_f64(out, grp->initial_lr);
    }
    if (s == TG_OK && o->ops->save) s = o->ops->save(o, out);
    return s;
}

/* Reads what tg_optim_save wrote for the groups into opts/initial_lr,
 * checking it describes o's groups. */
static tg_status load_groups(const tg_optim *o, tg_buf *in, tg_optim_opts *opts, double *initial_lr)
{
    uint64_t n_groups, n_params, size;
    tg_status s = tg_buf_get_u64(in, &n_groups);
    if (s != TG_OK) return s;
    if (n_groups != (uint64_t)o->n_groups) {
        tg__error("tg_optim_load: the state has %llu parameter groups, the optimizer %d",
                  (unsigned long long)n_groups, o->n_groups);
        return TG_ERR_FORMAT;
    }
    for (int g = 0; g < o->n_groups; g++) {
        if ((s = tg_buf_get_u64(in, &n_params)) != TG_OK) return s;
        if (n_params != (uint64_t)o->groups[g].n_params) {
            tg__error("tg_optim_load: group %d has %llu parameters in the state, %d in the optimizer", g,
                      (unsigned long long)n_params, o->groups[g].n_params);
            return TG_ERR_FORMAT;
        }
        for (int i = 0; i < o->groups[g].n_params; i++) {
            if ((s = tg_buf_get_u64(in, &size)) != TG_OK) return s;
            if (size != o->groups[g].params[i]->size) {
                tg__error("tg_optim_load: parameter %d of group %d has %llu elements in the state, %zu here", i, g,
                          (unsigned long long)size, o->groups[g].params[i]->size);
                return TG_ERR_FORMAT;
            }
        }
        opts[g] = o->groups[g].opts;
        for (int f = 0; f < N_FIELDS; f++) {
            double v;
            if ((s = tg_buf_get_f64(in, &v)) != TG_OK) return s;
            if (!tg__opt_in_range(&fields[f], v)) {
                tg__error("tg_optim_load: option %s = %g is out of range", fields[f].name, v);
                return TG_ERR_FORMAT;
            }
            tg__opt_put(&opts[g], &fields[f], v);
        }
        if ((s = tg_buf_get_f64(in, &initial_lr[g])) != TG_OK) return s;
    }
    return TG_OK;
}

tg_status tg_optim_load(tg_optim *o, tg_buf *in)
{
    if (!o || !in) {
        tg__error("tg_optim_load: %s is NULL", o ? "buffer" : "optimizer");
        return TG_ERR_ARG;
    }
    size_t start = in->pos;
    char magic[sizeof state_magic], name[64];
    uint64_t name_len, steps;
    tg_optim_opts *opts = malloc((size_t)o->n_groups * sizeof *opts);
    double *initial_lr = malloc((size_t)o->n_groups * sizeof *initial_lr);
    tg_status s = opts && initial_lr ? TG_OK : TG_ERR_NOMEM;
    if (s == TG_OK) s = tg_buf_get(in, magic, sizeof magic);
    if (s == TG_OK && memcmp(magic, state_magic, sizeof magic)) {
        if (!memcmp(magic, state_magic, sizeof magic - 1))
            tg__error("tg_optim_load: optimizer state of layout %c; this tg reads layout %c", magic[7], state_magic[7]);
        else
            tg__error("tg_optim_load: not optimizer state (bad magic)");
        s = TG_ERR_FORMAT;
    }
    if (s == TG_OK) s = tg_buf_get_u64(in, &name_len);
    if (s == TG_OK && name_len >= sizeof name) {
        tg__error("tg_optim_load: optimizer name of %llu bytes", (unsigned long long)name_len);
        s = TG_ERR_FORMAT;
    }
    if (s == TG_OK && (s = tg_buf_get(in, name, name_len)) == TG_OK) {
        name[name_len] = '\0';
        if (strcmp(name, ops_name(o))) {
            tg__error("tg_optim_load: the state is of optimizer %s, not %s", name, ops_name(o));
            s = TG_ERR_FORMAT;
        }
    }
    if (s == TG_OK) s = tg_buf_get_u64(in, &steps);
    if (s == TG_OK) s = load_groups(o, in, opts, initial_lr);
    if (s == TG_OK && o->ops->load) s = o->ops->load(o, in);
    if (s == TG_OK) {
        o->steps = steps;
        for (int g = 0; g < o->n_groups; g++) {
            o->groups[g].opts = opts[g];
            o->groups[g].initial_lr = initial_lr[g];
        }
    } else {
        in->pos = start;
        if (s == TG_ERR_NOMEM) tg__error("tg_optim_load: out of memory");
    }
    free(opts);
    free(initial_lr);
    return s;
}

/* ---- gradient clipping (torch.nn.utils.clip_grad_norm_ / _value_) ---- */

double tg_clip_grad_norm(tg_tensor *const *params, int n, double max_norm)
{
    double sum_sq = 0.0;
    for (int i = 0; i < n; i++)
        if (params[i] && params[i]->grad) sum_sq += tg__k_sum_sq(params[i]->size, params[i]->grad);
    double total = sqrt(sum_sq);
    /* torch multiplies by clamp(coef, max=1): a NaN norm makes every
     * gradient NaN, which is how training then stops visibly. */
    float coef = (float)(max_norm / (total + 1e-6));
    if (!(coef >= 1.0f))
        for (int i = 0; i < n; i++)
            if (params[i] && params[i]->grad) tg__k_scale(params[i]->size, params[i]->grad, coef);
    return total;
}

void tg_clip_grad_value(tg_tensor *const *params, int n, double clip)
{
    for (int i = 0; i < n; i++)
        if (params[i] && params[i]->grad) tg__k_clamp(params[i]->size, params[i]->grad, (float)-clip, (float)clip);
}

/* ---- gradients as one vector ---- */

size_t tg_grads_to_vector(tg_tensor *const *params, int n, float scale, float *flat)
{
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        if (!params[i] || !params[i]->grad) continue;
        memcpy(flat + at, params[i]->grad, params[i]->size * sizeof *flat);
        if (scale != 1.0f) tg__k_scale(params[i]->size, flat + at, scale);
        at += params[i]->size;
    }
    return at;
}

size_t tg_vector_to_grads(const float *flat, tg_tensor *const *params, int n)
{
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        if (!params[i] || !params[i]->grad) continue;
        memcpy(params[i]->grad, flat + at, params[i]->size * sizeof *flat);
        at += params[i]->size;
    }
    return at;
}
