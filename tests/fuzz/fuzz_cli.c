/* fuzz_cli.c — the command line of every tg subcommand. The input is the
 * arguments, separated by NUL or newline bytes; the first names the
 * subcommand. cli_parse_only makes each command return once its arguments
 * are parsed, so the fuzzer tests parsing, not hours of training. */
#include <stdbool.h>
#include <string.h>

#include "../../src/cli/commands.h"
#include "fuzz.h"

int tg_cli_main(int argc, char **argv); /* src/cli/main.c, built with -Dmain=tg_cli_main */

enum { MAX_ARGS = 64, MAX_TEXT = 4096 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char text[MAX_TEXT + 1];
    if (size > MAX_TEXT) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *argv[MAX_ARGS + 2] = {"tg"};
    int argc = 1;
    for (char *p = text, *end = text + size; p <= end && argc <= MAX_ARGS;) {
        size_t n = strcspn(p, "\n");
        p[n] = '\0';
        argv[argc++] = p;
        p += n + 1;
    }
    argv[argc] = NULL;
    cli_parse_only = true;
    tg_cli_main(argc, argv);
    return 0;
}
