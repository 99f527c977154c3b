/* sched.c — learning-rate schedules as torch.optim.lr_scheduler (1.13)
 * computes them: the chainable form, where each step derives the new rate
 * from the group's current one, so tg's rates follow torch's bit for bit in
 * double. Construction applies step 0 at once, as torch's constructor does. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "optim_internal.h"

#define M_PI_VALUE 3.14159265358979323846 /* Python's math.pi */

struct tg_sched {
    tg_optim *o;              /* borrowed */
    tg_sched_kind kind;
    tg_sched_opts opts;
    int n_groups;             /* the optimizer's groups when the schedule was made */
    int64_t last_epoch;       /* torch's last_epoch: -1 before the first step */
    double *base_lr;          /* [n_groups] torch's base_lrs (initial_lr) */
    double *max_lr, *min_lr;  /* [n_groups] onecycle */
    bool use_beta1;           /* onecycle cycles beta1 (Adam family) rather than momentum */
    double best;              /* plateau */
    int num_bad_epochs, cooldown_counter;
};

/* ---- options ---- */

#define K(k) (1u << TG_SCHED_##k)
#define F(name, type, lo, hi, open, kinds) {#name, TG__OPT_##type, offsetof(tg_sched_opts, name), lo, hi, open, kinds, false}
static const tg__opt_field fields[] = {
    F(factor, DOUBLE, 0, INFINITY, false, K(CONSTANT) | K(PLATEAU)),
    F(total_iters, INT, 0, 1e9, false, K(CONSTANT)),
    F(step_size, INT, 0, 1e9, false, K(STEP)),
    F(gamma, DOUBLE, 0, INFINITY, false, K(STEP) | K(MULTISTEP) | K(EXPONENTIAL)),
    F(T_max, INT, 0, 1e9, false, K(COSINE)),
    F(eta_min, DOUBLE, 0, INFINITY, false, K(COSINE)),
    F(warmup, INT, 0, 1e9, false, K(WARMUP_COSINE) | K(LINEAR_WARMUP)),
    F(total, INT, 0, 1e9, false, K(WARMUP_COSINE)),
    F(max_lr, DOUBLE, 0, INFINITY, false, K(ONECYCLE)),
    F(total_steps, INT, 0, 1e9, false, K(ONECYCLE)),
    F(pct_start, DOUBLE, 0, 1, false, K(ONECYCLE)),
    F(div_factor, DOUBLE, 0, INFINITY, true, K(ONECYCLE)),
    F(final_div_factor, DOUBLE, 0, INFINITY, true, K(ONECYCLE)),
    {"three_phase", TG__OPT_BOOL, offsetof(tg_sched_opts, three_phase), 0, 1, false, K(ONECYCLE), true},
    F(cycle_momentum, BOOL, 0, 1, false, K(ONECYCLE)),
    F(base_momentum, DOUBLE, 0, INFINITY, false, K(ONECYCLE)),
    F(max_momentum, DOUBLE, 0, INFINITY, false, K(ONECYCLE)),
    F(patience, INT, 0, 1e9, false, K(PLATEAU)),
    F(threshold, DOUBLE, 0, INFINITY, false, K(PLATEAU)),
    F(cooldown, INT, 0, 1e9, false, K(PLATEAU)),
    F(min_lr, DOUBLE, 0, INFINITY, false, K(PLATEAU)),
    F(eps, DOUBLE, 0, INFINITY, false, K(PLATEAU)),
};
#undef F
enum { N_FIELDS = sizeof fields / sizeof fields[0] };

static const char *const kind_names[TG_SCHED_KIND_COUNT] = {
    [TG_SCHED_CONSTANT] = "constant",     [TG_SCHED_STEP] = "step",         [TG_SCHED_MULTISTEP] = "multistep",
    [TG_SCHED_EXPONENTIAL] = "exponential", [TG_SCHED_COSINE] = "cosine",   [TG_SCHED_WARMUP_COSINE] = "warmup_cosine",
    [TG_SCHED_LINEAR_WARMUP] = "linear_warmup", [TG_SCHED_ONECYCLE] = "onecycle", [TG_SCHED_PLATEAU] = "plateau",
    [TG_SCHED_LAMBDA] = "lambda",
};

const char *tg_sched_kind_name(tg_sched_kind kind)
{
    return tg__kind_name(kind_names, TG_SCHED_KIND_COUNT, (int)kind, "unknown");
}

int tg_sched_kind_from_name(const char *name) { return tg__kind_from_name(kind_names, TG_SCHED_KIND_COUNT, name); }

/* torch's defaults; NAN or 0 marks what torch requires the caller to give. */
tg_sched_opts tg_sched_defaults(tg_sched_kind kind)
{
    tg_sched_opts o = {.factor = kind == TG_SCHED_PLATEAU ? 0.1 : 1.0 / 3.0, .total_iters = 5,
                       .gamma = kind == TG_SCHED_EXPONENTIAL ? NAN : 0.1, .warmup = 2000, .total = 100000,
                       .max_lr = NAN, .pct_start = 0.3, .div_factor = 25, .final_div_factor = 1e4,
                       .cycle_momentum = true, .base_momentum = 0.85, .max_momentum = 0.95, .patience = 10,
                       .threshold = 1e-4, .eps = 1e-8};
    if (kind == TG_SCHED_LINEAR_WARMUP) o.warmup = 0;
    return o;
}

/* "30:80:120" into milestones */
static tg_status set_milestones(tg_sched_opts *o, const char *value)
{
    int n = 0;
    for (const char *p = value; p && *p; n++) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || (*end && *end != ':') || v < 0 || v > 1000000000 || n == 16 || (n && v < o->milestones[n - 1])) {
            tg__error("schedule option milestones: '%s' must be up to 16 increasing whole numbers, like 30:80", value);
            return TG_ERR_ARG;
        }
        o->milestones[n] = (int)v;
        p = *end ? end + 1 : end;
    }
    if (n == 0) {
        tg__error("schedule option milestones: needs at least one step, like 30:80");
        return TG_ERR_ARG;
    }
    o->n_milestones = n;
    return TG_OK;
}

/* A key whose value is one of two words, setting a bool. */
static tg_status set_choice(bool *flag, const char *key, const char *value, const char *no, const char *yes)
{
    if (value && (!strcmp(value, no) || !strcmp(value, yes))) {
        *flag = !strcmp(value, yes);
        return TG_OK;
    }
    tg__error("schedule option %s: '%s' must be %s or %s", key, value ? value : "", no, yes);
    return TG_ERR_ARG;
}

tg_status tg_sched_opts_set(tg_sched_opts *o, const char *key, const char *value)
{
    if (!o || !key) {
        tg__error("tg_sched_opts_set: %s is NULL", o ? "key" : "options");
        return TG_ERR_ARG;
    }
    if (!strcmp(key, "milestones")) return set_milestones(o, value);
    if (!strcmp(key, "anneal_strategy")) return set_choice(&o->anneal_linear, key, value, "cos", "linear");
    if (!strcmp(key, "mode")) return set_choice(&o->mode_max, key, value, "min", "max");
    if (!strcmp(key, "threshold_mode")) return set_choice(&o->threshold_abs, key, value, "rel", "abs");
    const tg__opt_field *f = tg__opt_find(fields, N_FIELDS, key);
    if (f) return tg__opt_set(o, f, value, "schedule");
    tg__error("unknown schedule option '%s'", key);
    return TG_ERR_ARG;
}

static tg_status set_any(void *o, const char *key, const char *value) { return tg_sched_opts_set(o, key, value); }

tg_option_type tg_sched_option(int kind, const char *key)
{
    static const struct { const char *key; unsigned kinds; } words[] = {
        {"milestones", K(MULTISTEP)}, {"anneal_strategy", K(ONECYCLE)}, {"mode", K(PLATEAU)},
        {"threshold_mode", K(PLATEAU)}};
    for (size_t i = 0; key && i < sizeof words / sizeof words[0]; i++)
        if (!strcmp(key, words[i].key)) return kind < 0 || (words[i].kinds & (1u << kind)) ? TG_OPTION_VALUE : TG_OPTION_NONE;
    return key ? tg__opt_type_for(tg__opt_find(fields, N_FIELDS, key), kind) : TG_OPTION_NONE;
}

tg_status tg_sched_opts_parse(tg_sched_opts *o, const char *spec) { return tg__opt_parse(o, spec, set_any, "schedule"); }

/* What each kind needs beyond the table's ranges (torch raises the same). */
static tg_status check(tg_sched_kind kind, const tg_sched_opts *o, const tg_optim *opt)
{
    const char *name = kind_names[kind];
    for (int i = 0; i < N_FIELDS; i++) {
        double v = tg__opt_get(o, &fields[i]);
        if (!isnan(v) && !tg__opt_in_range(&fields[i], v)) return tg__opt_range_error(name, &fields[i], v);
    }
    const char *problem = NULL;
    switch (kind) {
    case TG_SCHED_CONSTANT: if (!(o->factor > 0 && o->factor <= 1)) problem = "factor must be in (0, 1]"; break;
    case TG_SCHED_STEP: if (o->step_size < 1) problem = "step_size is required (a positive number of steps)"; break;
    case TG_SCHED_MULTISTEP: if (o->n_milestones < 1) problem = "milestones are required"; break;
    case TG_SCHED_EXPONENTIAL: if (isnan(o->gamma)) problem = "gamma is required"; break;
    case TG_SCHED_COSINE: if (o->T_max < 1) problem = "T_max is required (a positive number of steps)"; break;
    case TG_SCHED_WARMUP_COSINE: if (o->total <= o->warmup) problem = "total must exceed warmup"; break;
    case TG_SCHED_LINEAR_WARMUP: if (o->warmup < 1) problem = "warmup is required (a positive number of steps)"; break;
    case TG_SCHED_ONECYCLE:
        if (isnan(o->max_lr)) problem = "max_lr is required";
        else if (o->total_steps < 1) problem = "total_steps is required";
        else if (!(o->pct_start * o->total_steps > 1) || (o->three_phase && !(o->pct_start * o->total_steps < o->total_steps - 1)) ||
                 (!o->three_phase && !(o->pct_start * o->total_steps < o->total_steps)))
            problem = "pct_start * total_steps must leave every phase at least one step (torch divides by its length)";
        else if (o->cycle_momentum && opt->kind >= 0 &&
                 (opt->kind == TG_OPTIM_ADAGRAD || opt->kind == TG_OPTIM_LBFGS))
            problem = "cycle_momentum needs an optimizer with momentum or betas (set cycle_momentum=0)";
        break;
    case TG_SCHED_PLATEAU: if (!(o->factor < 1.0)) problem = "factor must be < 1"; break;
    case TG_SCHED_LAMBDA: if (!o->fn) problem = "fn (the lr_lambda) is required"; break;
    default: problem = "unknown schedule"; break;
    }
    if (problem) {
        tg__error("%s schedule: %s", name, problem);
        return TG_ERR_ARG;
    }
    return TG_OK;
}

/* ---- the rates: torch's get_lr() for each kind ---- */

/* The lectures' recipe (CS498 lecture 21, "Putting It All Together"). */
static double warmup_cosine(int64_t step, int warmup, int total)
{
    if (step < warmup) return (double)step / warmup;
    double progress = fmin((double)(step - warmup) / (total - warmup), 1.0);
    return 0.5 * (1.0 + cos(M_PI_VALUE * progress));
}

static double onecycle_anneal(const tg_sched *s, double start, double end, double pct)
{
    if (s->opts.anneal_linear) return (end - start) * pct + start;
    return end + (start - end) / 2.0 * (cos(M_PI_VALUE * pct) + 1);
}

/* OneCycle: the phase containing this step, and the rate and momentum of
 * the anneal across it. */
static double onecycle_lr(tg_sched *s, int g)
{
    const tg_sched_opts *o = &s->opts;
    double step = (double)s->last_epoch, total = o->total_steps;
    double initial = s->base_lr[g], peak = s->max_lr[g], low = s->min_lr[g];
    /* torch's _schedule_phases: where each ends, the rates and momenta it
     * anneals between */
    typedef struct phase { double end, lr0, lr1, m0, m1; } phase;
    phase phases[3] = {
        {o->pct_start * total - 1, initial, peak, o->max_momentum, o->base_momentum},
        {total - 1, peak, low, o->base_momentum, o->max_momentum},
    };
    int n = 2;
    if (o->three_phase) {
        phases[1] = (phase){2 * o->pct_start * total - 2, peak, initial, o->base_momentum, o->max_momentum};
        phases[2] = (phase){total - 1, initial, low, o->max_momentum, o->max_momentum};
        n = 3;
    }
    double start = 0;
    for (int i = 0; i < n; i++) {
        if (step <= phases[i].end || i == n - 1) {
            double pct = (step - start) / (phases[i].end - start);
            if (o->cycle_momentum) {
                double m = onecycle_anneal(s, phases[i].m0, phases[i].m1, pct);
                if (s->use_beta1)
                    s->o->groups[g].opts.beta1 = m;
                else
                    s->o->groups[g].opts.momentum = m;
            }
            return onecycle_anneal(s, phases[i].lr0, phases[i].lr1, pct);
        }
        start = phases[i].end;
    }
    return s->o->groups[g].opts.lr;
}

static int milestone_count(const tg_sched_opts *o, int64_t epoch)
{
    int c = 0;
    for (int i = 0; i < o->n_milestones; i++) c += o->milestones[i] == epoch;
    return c;
}

/* The new rate of group g at last_epoch, from its current rate lr. */
static double next_lr(tg_sched *s, int g, double lr)
{
    const tg_sched_opts *o = &s->opts;
    int64_t e = s->last_epoch;
    double base = s->base_lr[g];
    switch (s->kind) {
    case TG_SCHED_CONSTANT:
        if (e == 0) return lr * o->factor;
        return e == o->total_iters ? lr * (1.0 / o->factor) : lr;
    case TG_SCHED_STEP: return e == 0 || e % o->step_size ? lr : lr * o->gamma;
    case TG_SCHED_MULTISTEP: {
        int c = milestone_count(o, e);
        return c ? lr * pow(o->gamma, c) : lr;
    }
    case TG_SCHED_EXPONENTIAL: return e == 0 ? lr : lr * o->gamma;
    case TG_SCHED_COSINE: {
        double T = o->T_max;
        if (e == 0) return lr;
        if ((e - 1 - o->T_max) % (2 * (int64_t)o->T_max) == 0)
            return lr + (base - o->eta_min) * (1 - cos(M_PI_VALUE / T)) / 2;
        return (1 + cos(M_PI_VALUE * e / T)) / (1 + cos(M_PI_VALUE * (e - 1) / T)) * (lr - o->eta_min) + o->eta_min;
    }
    case TG_SCHED_WARMUP_COSINE: return base * warmup_cosine(e, o->warmup, o->total);
    case TG_SCHED_LINEAR_WARMUP: return base * fmin(1.0, (double)e / o->warmup);
    case TG_SCHED_ONECYCLE: return onecycle_lr(s, g);
    case TG_SCHED_LAMBDA: return base * o->fn((uint64_t)e, o->ctx);
    default: return lr;
    }
}

static bool groups_unchanged(const tg_sched *s)
{
    if (s->o->n_groups == s->n_groups) return true;
    tg__error("%s schedule: the optimizer has %d parameter groups, %d when the schedule was made: add every group "
              "first", kind_names[s->kind], s->o->n_groups, s->n_groups);
    return false;
}

/* torch's _LRScheduler.step(): advance, then set every group's rate. */
static tg_status advance(tg_sched *s)
{
    if (!groups_unchanged(s)) return TG_ERR_ARG;
    if (s->kind == TG_SCHED_ONECYCLE && s->last_epoch + 1 > s->opts.total_steps) {
        tg__error("onecycle schedule: tried to step %lld times; total_steps is %d", (long long)s->last_epoch + 2,
                  s->opts.total_steps);
        return TG_ERR_ARG;
    }
    s->last_epoch++;
    for (int g = 0; g < s->o->n_groups; g++) s->o->groups[g].opts.lr = next_lr(s, g, s->o->groups[g].opts.lr);
    return TG_OK;
}

tg_sched *tg_sched_new(tg_optim *o, tg_sched_kind kind, const tg_sched_opts *opts)
{
    if (!o || kind < 0 || kind >= TG_SCHED_KIND_COUNT) {
        tg__error("tg_sched_new: %s", o ? "unknown schedule kind" : "optimizer is NULL");
        return NULL;
    }
    tg_sched_opts use = opts ? *opts : tg_sched_defaults(kind);
    if (check(kind, &use, o) != TG_OK) return NULL;
    tg_sched *s = calloc(1, sizeof *s);
    size_t n = (size_t)o->n_groups;
    if (s) {
        s->base_lr = calloc(n, sizeof *s->base_lr);
        s->max_lr = calloc(n, sizeof *s->max_lr);
        s->min_lr = calloc(n, sizeof *s->min_lr);
    }
    if (!s || !s->base_lr || !s->max_lr || !s->min_lr) {
        tg_sched_free(s);
        tg__error("tg_sched_new: out of memory");
        return NULL;
    }
    *s = (tg_sched){.o = o, .kind = kind, .opts = use, .n_groups = o->n_groups, .last_epoch = -1,
                    .base_lr = s->base_lr, .max_lr = s->max_lr, .min_lr = s->min_lr};
    s->use_beta1 = o->kind == TG_OPTIM_ADAM || o->kind == TG_OPTIM_ADAMW || o->kind == TG_OPTIM_NADAM ||
                   o->kind == TG_OPTIM_RADAM || o->kind == TG_OPTIM_LION;
    for (int g = 0; g < o->n_groups; g++) {
        tg_param_group *grp = &o->groups[g];
        if (kind == TG_SCHED_ONECYCLE) { /* OneCycleLR rewrites the groups' rates and momentum */
            grp->initial_lr = use.max_lr / use.div_factor;
            s->max_lr[g] = use.max_lr;
            s->min_lr[g] = grp->initial_lr / use.final_div_factor;
            if (use.cycle_momentum) *(s->use_beta1 ? &grp->opts.beta1 : &grp->opts.momentum) = use.max_momentum;
        } else if (isnan(grp->initial_lr)) { /* torch: group.setdefault('initial_lr', lr) */
            grp->initial_lr = grp->opts.lr;
        }
        s->base_lr[g] = grp->initial_lr;
    }
    if (kind == TG_SCHED_PLATEAU) {
        s->last_epoch = 0;
        s->best = use.mode_max ? -INFINITY : INFINITY;
    } else {
        advance(s); /* torch's _initial_step */
    }
    return s;
}

/* ---- ReduceLROnPlateau ---- */

static bool is_better(const tg_sched *s, double a)
{
    const tg_sched_opts *o = &s->opts;
    if (!o->mode_max) return o->threshold_abs ? a < s->best - o->threshold : a < s->best * (1.0 - o->threshold);
    return o->threshold_abs ? a > s->best + o->threshold : a > s->best * (o->threshold + 1.0);
}

static void plateau_step(tg_sched *s, double metric)
{
    s->last_epoch++;
    if (is_better(s, metric)) {
        s->best = metric;
        s->num_bad_epochs = 0;
    } else {
        s->num_bad_epochs++;
    }
    if (s->cooldown_counter > 0) {
        s->cooldown_counter--;
        s->num_bad_epochs = 0; /* bad epochs during cooldown do not count */
    }
    if (s->num_bad_epochs > s->opts.patience) {
        for (int g = 0; g < s->o->n_groups; g++) {
            double old_lr = s->o->groups[g].opts.lr, new_lr = fmax(old_lr * s->opts.factor, s->opts.min_lr);
            if (old_lr - new_lr > s->opts.eps) s->o->groups[g].opts.lr = new_lr;
        }
        s->cooldown_counter = s->opts.cooldown;
        s->num_bad_epochs = 0;
    }
}

tg_status tg_sched_step_metric(tg_sched *s, double metric)
{
    if (!s) {
        tg__error("tg_sched_step: schedule is NULL");
        return TG_ERR_ARG;
    }
    if (s->kind != TG_SCHED_PLATEAU) return advance(s);
    if (!groups_unchanged(s)) return TG_ERR_ARG;
    plateau_step(s, metric);
    return TG_OK;
}

tg_status tg_sched_step(tg_sched *s)
{
    if (s && s->kind == TG_SCHED_PLATEAU) {
        tg__error("plateau schedule: step it with the monitored value (tg_sched_step_metric)");
        return TG_ERR_ARG;
    }
    return tg_sched_step_metric(s, 0.0);
}

uint64_t tg_sched_last_step(const tg_sched *s) { return s && s->last_epoch > 0 ? (uint64_t)s->last_epoch : 0; }

void tg_sched_free(tg_sched *s)
{
    if (!s) return;
    free(s->base_lr);
    free(s->max_lr);
    free(s->min_lr);
    free(s);
}

/* ---- saving: the counters and the per-group rates it started from; the
 * options come from whoever recreates the schedule ---- */

static const char sched_magic[8] = "TGSCHED1";

tg_status tg_sched_save(const tg_sched *s, tg_buf *out)
{
    if (!s || !out) {
        tg__error("tg_sched_save: %s is NULL", s ? "buffer" : "schedule");
        return TG_ERR_ARG;
    }
    if (!groups_unchanged(s)) return TG_ERR_ARG;
    tg_status st = tg_buf_put(out, sched_magic, sizeof sched_magic);
    const uint64_t counts[] = {(uint64_t)s->kind, (uint64_t)s->n_groups, (uint64_t)(s->last_epoch + 1),
                               (uint64_t)s->num_bad_epochs, (uint64_t)s->cooldown_counter};
    for (size_t k = 0; k < sizeof counts / sizeof counts[0] && st == TG_OK; k++) st = tg_buf_put_u64(out, counts[k]);
    if (st == TG_OK) st = tg_buf_put_f64(out, s->best);
    for (int g = 0; g < s->n_groups && st == TG_OK; g++) {
        st = tg_buf_put_f64(out, s->base_lr[g]);
        if (st == TG_OK) st = tg_buf_put_f64(out, s->max_lr[g]);
        if (st == TG_OK) st = tg_buf_put_f64(out, s->min_lr[g]);
    }
    return st;
}

tg_status tg_sched_load(tg_sched *s, tg_buf *in)
{
    if (!s || !in) {
        tg__error("tg_sched_load: %s is NULL", s ? "buffer" : "schedule");
        return TG_ERR_ARG;
    }
    size_t start = in->pos;
    char magic[sizeof sched_magic];
    uint64_t counts[5];
    double best;
    int n = s->n_groups;
    double *lrs = malloc(3 * (size_t)n * sizeof *lrs);
    tg_status st = lrs ? tg_buf_get(in, magic, sizeof magic) : TG_ERR_NOMEM;
    if (st == TG_OK && memcmp(magic, sched_magic, sizeof magic)) {
        tg__error("tg_sched_load: not schedule state (bad magic)");
        st = TG_ERR_FORMAT;
    }
    for (int k = 0; k < 5 && st == TG_OK; k++) st = tg_buf_get_u64(in, &counts[k]);
    if (st == TG_OK && (counts[0] != (uint64_t)s->kind || counts[1] != (uint64_t)n)) {
        tg__error("tg_sched_load: the state is of a %s schedule over %llu groups, not %s over %d",
                  tg_sched_kind_name((tg_sched_kind)(counts[0] < TG_SCHED_KIND_COUNT ? counts[0] : TG_SCHED_KIND_COUNT)),
                  (unsigned long long)counts[1], kind_names[s->kind], n);
        st = TG_ERR_FORMAT;
    }
    if (st == TG_OK && (counts[2] > ((uint64_t)1 << 62) || counts[3] > 1000000000 || counts[4] > 1000000000)) {
        tg__error("tg_sched_load: the state's counters are out of range");
        st = TG_ERR_FORMAT;
    }
    if (st == TG_OK) st = tg_buf_get_f64(in, &best);
    for (int i = 0; i < 3 * n && st == TG_OK; i++) st = tg_buf_get_f64(in, &lrs[i]);
    if (st == TG_OK) {
        s->last_epoch = (int64_t)counts[2] - 1;
        s->num_bad_epochs = (int)counts[3];
        s->cooldown_counter = (int)counts[4];
        s->best = best;
        for (int g = 0; g < n; g++) s->base_lr[g] = lrs[3 * g], s->max_lr[g] = lrs[3 * g + 1], s->min_lr[g] = lrs[3 * g + 2];
    } else {
        in->pos = start;
        if (st == TG_ERR_NOMEM) tg__error("tg_sched_load: out of memory");
    }
    free(lrs);
    return st;
}

#undef K
