/* args.h — command-line parsing shared by the tg subcommands: strict
 * numbers, and the optimizer and schedule flags named after torch's
 * arguments (--weight-decay is weight_decay). */
#ifndef TG_CLI_ARGS_H
#define TG_CLI_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include <tg.h>

/* Exit codes of every subcommand. */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* The whole of text as a number / a non-negative integer; false (with a
 * message naming flag on stderr) otherwise. */
bool arg_double(const char *flag, const char *text, double *out);
bool arg_u64(const char *flag, const char *text, uint64_t *out);
/* "X,Y" */
bool arg_pair(const char *flag, const char *text, double *x, double *y);

/* The optimizer and schedule chosen by flags. */
typedef struct optim_args {
    int kind;                 /* tg_optim_kind, -1 until --optimizer */
    tg_optim_opts opts;       /* the kind's defaults with the flags applied */
    int sched;                /* tg_sched_kind, -1 for none */
    tg_sched_opts sched_opts;
    double clip_norm, clip_value;   /* 0: off */
    /* option flags as given, applied once the kind is known (copies, so the
     * config outlives the text it was parsed from) */
    char pending[64][2][64];
    bool pending_switch[64];
    bool pending_sched[64];   /* a schedule's option, not the optimizer's */
    int n_pending;
} optim_args;

void optim_args_init(optim_args *a);
/* Consumes argv[*i] (and its value) if it is an optimizer, schedule or
 * clipping flag: returns 1 if used, 0 if not one of those, -1 on a bad
 * value (message printed). A flag that is both an optimizer's and a
 * schedule's option (--eps) goes to the optimizer; --sched-eps to the
 * schedule. */
int optim_args_flag(optim_args *a, int argc, char **argv, int *i);
/* Applies the pending flags once every flag is read; false on a bad one. */
bool optim_args_finish(optim_args *a, int default_kind);
/* One line describing the optimizer's non-default settings, into buf. */
void optim_args_describe(const optim_args *a, char *buf, int size);

#endif /* TG_CLI_ARGS_H */
