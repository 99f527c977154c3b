/* tg_cli.h — running the tg command from a test: its output (stdout and
 * stderr together) in tg_output, its exit status returned. The binary is
 * $TG_BIN (tests/run.sh sets it), else build/tg. */
#ifndef TG_CLI_H
#define TG_CLI_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tg_test.h"

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

/* A scratch directory per test: make_dir() creates it, at(name) is a path
 * inside it, remove_dir() deletes it. */
static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/tg_test_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* dir/name */
static const char *at(const char *name)
{
    static char paths[4][256];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, 256, "%s/%s", dir, name);
    return p;
}

/* The whole file, NUL-terminated; its length in *n when n is not NULL. */
static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    rewind(f);
    char *data = malloc((size_t)len + 1);
    ck_assert_int_eq(fread(data, 1, (size_t)len, f), len);
    data[len] = '\0';
    fclose(f);
    if (n) *n = (size_t)len;
    return data;
}

#endif /* TG_CLI_H */
