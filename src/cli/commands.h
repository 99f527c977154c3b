/* commands.h — the tg subcommands; each takes the arguments after its name
 * and returns the process's exit code (args.h). */
#ifndef TG_CLI_COMMANDS_H
#define TG_CLI_COMMANDS_H

int cmd_gradcheck(int argc, char **argv);
int cmd_optimize(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_report(int argc, char **argv);

#endif /* TG_CLI_COMMANDS_H */
