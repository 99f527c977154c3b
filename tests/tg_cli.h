/* tg_cli.h — running the tg command from a test: its output (stdout and
 * stderr together) in tg_output, its exit status returned. The binary is
 * $TG_BIN (tests/run.sh sets it), else build/tg. Tests that write files
 * use tg_scratch.h's directories. */
#ifndef TG_CLI_H
#define TG_CLI_H

#include <stdio.h>
#include <sys/wait.h>

#include "tg_scratch.h"

static char tg_output[1 << 17];

static int run_tg(const char *args)
{
    const char *bin = getenv("TG_BIN") ? getenv("TG_BIN") : "build/tg";
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", bin, args);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(tg_output, 1, sizeof tg_output - 1, p);
    tg_output[n] = '\0';
    int status = pclose(p);
    ck_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

#endif /* TG_CLI_H */
