/* optim_internal.h — what the files of src/optim share. */
#ifndef TG_OPTIM_INTERNAL_H
#define TG_OPTIM_INTERNAL_H

#include "../tensor/tensor.h"

/* The ops of a built-in kind (builtin.c; LBFGS in lbfgs.c). */
const tg_optim_ops *tg__builtin_ops(tg_optim_kind kind);
extern const tg_optim_ops tg__lbfgs_ops;

/* ---- option tables (options.c) ---- */
typedef enum tg__opt_type { TG__OPT_DOUBLE, TG__OPT_INT, TG__OPT_BOOL } tg__opt_type;

typedef struct tg__opt_field {
    const char *name;   /* torch's argument name */
    tg__opt_type type;
    size_t offset;      /* in the options struct */
    double lo, hi;      /* valid values: [lo, hi], or [lo, hi) when hi_open */
    bool hi_open;
    unsigned kinds;     /* bit k set: kind k has this option */
    bool is_switch;     /* a bool given on a command line without a value */
} tg__opt_field;

/* What f is to kind (-1: to any kind). */
tg_option_type tg__opt_type_for(const tg__opt_field *f, int kind);

double tg__opt_get(const void *opts, const tg__opt_field *f);
void tg__opt_put(void *opts, const tg__opt_field *f, double v);
bool tg__opt_in_range(const tg__opt_field *f, double v);
const tg__opt_field *tg__opt_find(const tg__opt_field *fields, int n, const char *key);
/* A number in C syntax or true/false; false for anything else (or inf/nan). */
bool tg__parse_number(const char *text, double *v);
/* Sets f from text, checking type and range; what ("sgd", "schedule")
 * starts the message. */
tg_status tg__opt_set(void *opts, const tg__opt_field *f, const char *value, const char *what);
tg_status tg__opt_range_error(const char *what, const tg__opt_field *f, double v);
/* Applies "key=value,key=value" through set. */
tg_status tg__opt_parse(void *opts, const char *spec, tg_status (*set)(void *, const char *, const char *),
                        const char *what);

/* Kinds by name: names[k] is kind k's, for k < n. The index of name (-1 if
 * none), and kind's name (fallback outside [0, n)). */
int tg__kind_from_name(const char *const *names, int n, const char *name);
const char *tg__kind_name(const char *const *names, int n, int kind, const char *fallback);

#endif /* TG_OPTIM_INTERNAL_H */
