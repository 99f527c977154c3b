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

/* bin (a shell word: it may start with VAR=value) with args. */
static int run_program(const char *bin, const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", bin, args);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(tg_output, 1, sizeof tg_output - 1, p);
    tg_output[n] = '\0';
    int status = pclose(p);
    ck_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* $BUILD/examples/name (build/ by default), in one of a few rotating buffers. */
static inline const char *example_path(const char *name)
{
    static char paths[4][512];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, sizeof paths[0], "%s/examples/%s", getenv("BUILD") ? getenv("BUILD") : "build", name);
    return p;
}

static inline int run_tg(const char *args) { return run_program(getenv("TG_BIN") ? getenv("TG_BIN") : "build/tg", args); }

/* The number after "key": in a JSON file tg wrote (--metrics). */
static inline double json_number(const char *json, const char *key)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\": ", key);
    const char *p = strstr(json, pattern);
    ck_assert_msg(p != NULL, "no %s in %s", key, json);
    return strtod(p + strlen(pattern), NULL);
}

#endif /* TG_CLI_H */
