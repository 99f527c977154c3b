/* commands.h — the tg subcommands; each takes the arguments after its name
 * and returns the process's exit code (args.h). */
#ifndef TG_CLI_COMMANDS_H
#define TG_CLI_COMMANDS_H

#include <stdbool.h>

int cmd_gradcheck(int argc, char **argv);
int cmd_optimize(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_trace(int argc, char **argv);

/* Set by the command-line fuzzer (tests/fuzz/fuzz_cli.c): each command
 * returns EXIT_OK as soon as its arguments are parsed and checked, before
 * it reads a file or starts work. Always false in the tg command. */
extern bool cli_parse_only;

#endif /* TG_CLI_COMMANDS_H */
