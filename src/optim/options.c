/* options.c — option tables: one row per option (name, type, place, valid
 * range) drives parsing text, checking ranges and saving, for optimizers and
 * schedulers alike. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optim_internal.h"

double tg__opt_get(const void *opts, const tg__opt_field *f)
{
    const char *base = (const char *)opts + f->offset;
    switch (f->type) {
    case TG__OPT_INT: return *(const int *)base;
    case TG__OPT_BOOL: return *(const bool *)base;
    default: return *(const double *)base;
    }
}

void tg__opt_put(void *opts, const tg__opt_field *f, double v)
{
    char *base = (char *)opts + f->offset;
    switch (f->type) {
    case TG__OPT_INT: *(int *)base = (int)v; break;
    case TG__OPT_BOOL: *(bool *)base = v != 0.0; break;
    default: *(double *)base = v; break;
    }
}

bool tg__opt_in_range(const tg__opt_field *f, double v)
{
    return v >= f->lo && (f->hi_open ? v < f->hi : v <= f->hi);
}

tg_option_type tg__opt_type_for(const tg__opt_field *f, int kind)
{
    if (!f || (kind >= 0 && !(f->kinds & (1u << kind)))) return TG_OPTION_NONE;
    return f->is_switch ? TG_OPTION_SWITCH : TG_OPTION_VALUE;
}

const tg__opt_field *tg__opt_find(const tg__opt_field *fields, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(fields[i].name, key)) return &fields[i];
    return NULL;
}

bool tg__parse_number(const char *text, double *v)
{
    if (!text || !*text) return false;
    if (!strcmp(text, "true") || !strcmp(text, "True")) return *v = 1, true;
    if (!strcmp(text, "false") || !strcmp(text, "False")) return *v = 0, true;
    char *end;
    errno = 0;
    *v = strtod(text, &end);
    return !*end && !errno && isfinite(*v);
}

tg_status tg__opt_range_error(const char *what, const tg__opt_field *f, double v)
{
    tg__error("%s option %s = %g is out of range: it must be in [%g, %g%c", what, f->name, v, f->lo, f->hi,
              f->hi_open ? ')' : ']');
    return TG_ERR_ARG;
}

tg_status tg__opt_set(void *opts, const tg__opt_field *f, const char *value, const char *what)
{
    double v;
    if (!tg__parse_number(value, &v)) {
        tg__error("%s option %s: '%s' is not a number", what, f->name, value ? value : "");
        return TG_ERR_ARG;
    }
    if ((f->type != TG__OPT_DOUBLE && v != floor(v)) || (f->type == TG__OPT_BOOL && v != 0 && v != 1)) {
        tg__error("%s option %s: '%s' must be %s", what, f->name, value,
                  f->type == TG__OPT_BOOL ? "0 or 1 (or true/false)" : "a whole number");
        return TG_ERR_ARG;
    }
    if (!tg__opt_in_range(f, v)) return tg__opt_range_error(what, f, v);
    tg__opt_put(opts, f, v);
    return TG_OK;
}

tg_status tg__opt_parse(void *opts, const char *spec, tg_status (*set)(void *, const char *, const char *),
                        const char *what)
{
    char item[256];
    for (const char *p = spec; p && *p;) {
        size_t len = strcspn(p, ",");
        if (len >= sizeof item) {
            tg__error("%s options: '%.20s...' is too long", what, p);
            return TG_ERR_ARG;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        char *eq = strchr(item, '=');
        if (!eq) {
            tg__error("%s options: '%s' is not key=value", what, item);
            return TG_ERR_ARG;
        }
        *eq = '\0';
        tg_status s = set(opts, item, eq + 1);
        if (s != TG_OK) return s;
        p += len + (p[len] == ',');
    }
    return TG_OK;
}

int tg__kind_from_name(const char *const *names, int n, const char *name)
{
    for (int k = 0; name && k < n; k++)
        if (!strcmp(name, names[k])) return k;
    return -1;
}

const char *tg__kind_name(const char *const *names, int n, int kind, const char *fallback)
{
    return kind >= 0 && kind < n ? names[kind] : fallback;
}
