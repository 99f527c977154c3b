/* args.c — strict parsing of numbers and of the optimizer, schedule and
 * clipping flags that tg optimize and tg train share. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"

bool arg_double(const char *flag, const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = text ? strtod(text, &end) : 0;
    if (!text || !*text || *end || errno || !isfinite(v)) {
        fprintf(stderr, "tg: %s needs a number, got '%s'\n", flag, text ? text : "");
        return false;
    }
    *out = v;
    return true;
}

bool arg_u64(const char *flag, const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = text ? strtoull(text, &end, 10) : 0;
    if (!text || !*text || *end || errno || text[0] == '-' || text[0] == '+') {
        fprintf(stderr, "tg: %s needs a non-negative integer, got '%s'\n", flag, text ? text : "");
        return false;
    }
    *out = v;
    return true;
}

bool arg_pair(const char *flag, const char *text, double *x, double *y)
{
    const char *comma = text ? strchr(text, ',') : NULL;
    char first[64];
    if (!comma || (size_t)(comma - text) >= sizeof first) {
        fprintf(stderr, "tg: %s needs two numbers, like -1,1; got '%s'\n", flag, text ? text : "");
        return false;
    }
    memcpy(first, text, (size_t)(comma - text));
    first[comma - text] = '\0';
    return arg_double(flag, first, x) && arg_double(flag, comma + 1, y);
}

void optim_args_init(optim_args *a)
{
    memset(a, 0, sizeof *a);
    a->kind = -1;
    a->sched = -1;
}

/* "--weight-decay" -> "weight_decay"; "--t-max" -> "T_max" */
static void flag_key(const char *flag, char *key, size_t size)
{
    snprintf(key, size, "%s", flag + 2);
    for (char *p = key; *p; p++)
        if (*p == '-') *p = '_';
    if (!strcmp(key, "t_max")) strcpy(key, "T_max");
}

int optim_args_flag(optim_args *a, int argc, char **argv, int *i)
{
    const char *flag = argv[*i];
    const char *value = *i + 1 < argc ? argv[*i + 1] : NULL;
    if (strncmp(flag, "--", 2)) return 0;
    if (!strcmp(flag, "--optimizer") || !strcmp(flag, "--schedule")) {
        bool optimizer = flag[2] == 'o';
        int kind = optimizer ? tg_optim_kind_from_name(value) : tg_sched_kind_from_name(value);
        if (kind < 0 || (!optimizer && kind == TG_SCHED_LAMBDA)) {
            fprintf(stderr, "tg: %s: unknown %s '%s' (one of %s)\n", flag, optimizer ? "optimizer" : "schedule",
                    value ? value : "",
                    optimizer ? "sgd, adagrad, rmsprop, adam, adamw, nadam, radam, lion, lbfgs"
                              : "constant, step, multistep, exponential, cosine, warmup_cosine, linear_warmup, "
                                "onecycle, plateau");
            return -1;
        }
        *(optimizer ? &a->kind : &a->sched) = kind;
        *i += 1;
        return 1;
    }
    if (!strcmp(flag, "--clip-norm") || !strcmp(flag, "--clip-value")) {
        double v;
        if (!arg_double(flag, value, &v)) return -1;
        if (!(v > 0)) {
            fprintf(stderr, "tg: %s must be positive, got '%s'\n", flag, value);
            return -1;
        }
        *(flag[7] == 'n' ? &a->clip_norm : &a->clip_value) = v;
        *i += 1;
        return 1;
    }
    char key[64];
    flag_key(flag, key, sizeof key);
    bool for_sched = !strncmp(key, "sched_", 6);
    const char *name = for_sched ? key + 6 : key;
    tg_option_type type = for_sched ? TG_OPTION_NONE : tg_optim_option(-1, name);
    if (type == TG_OPTION_NONE) {
        type = tg_sched_option(-1, name);
        for_sched = type != TG_OPTION_NONE;
    }
    if (type == TG_OPTION_NONE) return 0;
    bool is_switch = type == TG_OPTION_SWITCH;
    /* "--lr --steps 5": a flag where a value should be is a missing value,
     * not a value (negative numbers still are values) */
    if (!is_switch && (!value || (value[0] == '-' && value[1] == '-'))) {
        fprintf(stderr, "tg: %s needs a value\n", flag);
        return -1;
    }
    if (a->n_pending == (int)(sizeof a->pending / sizeof a->pending[0])) {
        fprintf(stderr, "tg: too many options\n");
        return -1;
    }
    if (strlen(flag) >= sizeof a->pending[0][0] || (value && strlen(value) >= sizeof a->pending[0][1])) {
        fprintf(stderr, "tg: %s: value too long\n", flag);
        return -1;
    }
    snprintf(a->pending[a->n_pending][0], sizeof a->pending[0][0], "%s", flag);
    snprintf(a->pending[a->n_pending][1], sizeof a->pending[0][1], "%s", is_switch ? "1" : value);
    a->pending_switch[a->n_pending] = is_switch;
    a->pending_sched[a->n_pending++] = for_sched;
    *i += !is_switch;
    return 1;
}

bool optim_args_finish(optim_args *a, int default_kind)
{
    if (a->kind < 0) a->kind = default_kind;
    if (a->kind < 0) {
        fprintf(stderr, "tg: --optimizer is required\n");
        return false;
    }
    a->opts = tg_optim_defaults(a->kind);
    if (a->sched >= 0) a->sched_opts = tg_sched_defaults(a->sched);
    for (int k = 0; k < a->n_pending; k++) {
        char key[64];
        flag_key(a->pending[k][0], key, sizeof key);
        const char *flag = a->pending[k][0], *value = a->pending[k][1];
        tg_status s;
        if (a->pending_sched[k]) {
            const char *name = strncmp(key, "sched_", 6) ? key : key + 6;
            if (a->sched < 0) {
                fprintf(stderr, "tg: %s is a schedule option: choose a --schedule\n", flag);
                return false;
            }
            if (tg_sched_option(a->sched, name) == TG_OPTION_NONE) {
                fprintf(stderr, "tg: %s does not apply to the %s schedule\n", flag, tg_sched_kind_name(a->sched));
                return false;
            }
            s = tg_sched_opts_set(&a->sched_opts, name, value);
        } else {
            if (tg_optim_option(a->kind, key) == TG_OPTION_NONE) {
                fprintf(stderr, "tg: %s does not apply to %s (torch.optim would refuse it too)\n", flag,
                        tg_optim_kind_name(a->kind));
                return false;
            }
            s = tg_optim_opts_set(&a->opts, key, value);
        }
        if (s != TG_OK) {
            fprintf(stderr, "tg: %s: %s\n", flag, tg_last_error());
            return false;
        }
    }
    if (tg_optim_opts_check(a->kind, &a->opts) != TG_OK) {
        fprintf(stderr, "tg: %s\n", tg_last_error());
        return false;
    }
    return true;
}

void optim_args_describe(const optim_args *a, char *buf, int size)
{
    int len = snprintf(buf, (size_t)size, "%s lr %g", tg_optim_kind_name(a->kind), a->opts.lr);
    for (int k = 0; k < a->n_pending && len < size; k++)
        if (strcmp(a->pending[k][0], "--lr"))
            len += snprintf(buf + len, (size_t)(size - len), " %s%s%s", a->pending[k][0] + 2,
                            a->pending_switch[k] ? "" : " ", a->pending_switch[k] ? "" : a->pending[k][1]);
    if (a->sched >= 0 && len < size)
        snprintf(buf + len, (size_t)(size - len), ", schedule %s", tg_sched_kind_name(a->sched));
}
