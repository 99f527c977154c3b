/* main.c — the `tg` command. Each subcommand parses its own flags strictly:
 * an unknown flag or a malformed value is an error, never ignored. */
#define _POSIX_C_SOURCE 200809L /* SIGXFSZ */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "commands.h"

static const char usage[] =
    "usage: tg <command> [options]\n"
    "\n"
    "commands:\n"
    "  train [options]      train a model on FashionMNIST (tg train --help)\n"
    "  eval CHECKPOINT|FILE.safetensors [--model SPEC]\n"
    "              test loss, accuracy, per-class accuracy, confusion matrix\n"
    "  predict CHECKPOINT|FILE.safetensors [--model SPEC] IMAGE...\n"
    "              the three likeliest classes of each image\n"
    "  export CHECKPOINT OUT.safetensors\n"
    "              the model's state dict under torch's keys, for PyTorch's\n"
    "              load_state_dict (and tg eval, tg train --init)\n"
    "  report DIR  the lectures' experiments' report from scripts/experiments.sh's runs\n"
    "  optimize rosenbrock|quadratic --optimizer NAME [options]\n"
    "              minimise a 2-D test function with any optimizer and schedule;\n"
    "              --compare reproduces the lectures' Rosenbrock table\n"
    "  gradcheck [--seed N] [--only NAME]\n"
    "              compare every op's and loss's analytic gradient with central\n"
    "              finite differences; one line per case; exit 1 if any fails\n"
    "  trace ['STATEMENTS'] [NAME=VALUE...] [--dot FILE]\n"
    "              backpropagation worked step by step: each node's value, local\n"
    "              derivative and gradient; without STATEMENTS, the tutorial's MLP\n"
    "  version     print tg's version\n"
    "  help        print this text\n";

bool cli_parse_only;

int cmd_gradcheck(int argc, char **argv)
{
    uint64_t seed = 0;
    const char *only = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            if (!arg_u64("--seed", argv[++i], &seed)) return EXIT_USAGE;
        } else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
            only = argv[++i];
        } else {
            fprintf(stderr, "tg gradcheck: unknown or incomplete option '%s'\n%s", argv[i], usage);
            return 2;
        }
    }
    if (cli_parse_only) return EXIT_OK;
    int failed = 0, ran = 0;
    printf("%-28s %12s %12s  %s\n", "case", "max_abs_err", "max_rel_err", "result");
    for (int i = 0; i < tg_gradcheck_suite_size(); i++) {
        const char *name = tg_gradcheck_suite_name(i);
        if (only && strcmp(only, name)) continue;
        tg_gradcheck_result r;
        tg_status s = tg_gradcheck_suite_run(i, seed, &r);
        bool ok = s == TG_OK && r.ok;
        ran++;
        failed += !ok;
        if (s != TG_OK)
            printf("%-28s %12s %12s  FAIL (%s)\n", name, "-", "-", tg_last_error());
        else
            printf("%-28s %12.3e %12.3e  %s\n", name, r.max_abs_err, r.max_rel_err, ok ? "ok" : "FAIL");
    }
    if (!ran) {
        fprintf(stderr, "tg gradcheck: no case is named '%s'\n", only);
        return 2;
    }
    printf("%d of %d cases ok\n", ran - failed, ran);
    return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    /* Past a file size limit (ulimit -f) a write then fails with EFBIG and
     * tg says so, keeping the last checkpoint, instead of being killed by
     * SIGXFSZ mid-run (CPython ignores it for the same reason). */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
        printf("tg %s\n", TG_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "gradcheck")) return cmd_gradcheck(argc - 2, argv + 2);
    if (!strcmp(argv[1], "optimize")) return cmd_optimize(argc - 2, argv + 2);
    if (!strcmp(argv[1], "train")) return cmd_train(argc - 2, argv + 2);
    if (!strcmp(argv[1], "eval")) return cmd_eval(argc - 2, argv + 2);
    if (!strcmp(argv[1], "predict")) return cmd_predict(argc - 2, argv + 2);
    if (!strcmp(argv[1], "export")) return cmd_export(argc - 2, argv + 2);
    if (!strcmp(argv[1], "report")) return cmd_report(argc - 2, argv + 2);
    if (!strcmp(argv[1], "trace")) return cmd_trace(argc - 2, argv + 2);
    fprintf(stderr, "tg: unknown command '%s'\n%s", argv[1], usage);
    return 2;
}
