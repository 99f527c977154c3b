/* check_cli.c — the tg command as a user runs it: output, exit codes, and
 * clear errors for bad arguments. The binary is $TG_BIN (run.sh sets it). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <sys/wait.h>

#include "tg_test.h"

static char output[1 << 16];

/* Runs `tg ARGS` with stderr folded into stdout; returns the exit status. */
static int run_tg(const char *args)
{
    const char *bin = getenv("TG_BIN") ? getenv("TG_BIN") : "build/tg";
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", bin, args);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(output, 1, sizeof output - 1, p);
    output[n] = '\0';
    int status = pclose(p);
    ck_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

START_TEST(test_cli_gradcheck_lists_every_case_ok)
{
    ck_assert_int_eq(run_tg("gradcheck"), 0);
    int ok = 0, lines = 0;
    char name[64], result[16];
    double abs_err, rel_err;
    for (char *line = strtok(output, "\n"); line; line = strtok(NULL, "\n")) {
        if (sscanf(line, "%63s %lf %lf %15s", name, &abs_err, &rel_err, result) != 4) continue;
        lines++;
        ok += !strcmp(result, "ok");
        ck_assert_msg(abs_err >= 0 && rel_err >= 0, "%s", line);
    }
    ck_assert_int_eq(lines, tg_gradcheck_suite_size());
    ck_assert_int_eq(ok, lines);
    ck_assert_int_ge(ok, 25);
}
END_TEST

START_TEST(test_cli_gradcheck_only_one_case)
{
    ck_assert_int_eq(run_tg("gradcheck --only cross_entropy --seed 3"), 0);
    ck_assert_ptr_nonnull(strstr(output, "\ncross_entropy "));
    ck_assert_ptr_nonnull(strstr(output, "1 of 1 cases ok"));
}
END_TEST

START_TEST(test_cli_gradcheck_bad_arguments)
{
    ck_assert_int_eq(run_tg("gradcheck --only no_such_op"), 2);
    ck_assert_ptr_nonnull(strstr(output, "no case is named 'no_such_op'"));
    ck_assert_int_eq(run_tg("gradcheck --seed -4"), 2);
    ck_assert_ptr_nonnull(strstr(output, "--seed needs a non-negative integer, got '-4'"));
    ck_assert_int_eq(run_tg("gradcheck --seed 12x"), 2);
    ck_assert_int_eq(run_tg("gradcheck --seed"), 2);
    ck_assert_ptr_nonnull(strstr(output, "unknown or incomplete option '--seed'"));
    ck_assert_int_eq(run_tg("gradcheck --frobnicate"), 2);
}
END_TEST

START_TEST(test_cli_commands)
{
    ck_assert_int_eq(run_tg("version"), 0);
    ck_assert_str_eq(output, "tg " TG_VERSION "\n");
    ck_assert_int_eq(run_tg("help"), 0);
    ck_assert_ptr_nonnull(strstr(output, "usage: tg <command>"));
    ck_assert_int_eq(run_tg(""), 2);
    ck_assert_ptr_nonnull(strstr(output, "usage: tg <command>"));
    ck_assert_int_eq(run_tg("trian"), 2);
    ck_assert_ptr_nonnull(strstr(output, "tg: unknown command 'trian'"));
}
END_TEST

static Suite *cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("tg");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_cli_gradcheck_lists_every_case_ok);
    tcase_add_test(tc, test_cli_gradcheck_only_one_case);
    tcase_add_test(tc, test_cli_gradcheck_bad_arguments);
    tcase_add_test(tc, test_cli_commands);
    suite_add_tcase(s, tc);
    return s;
}

TG_TEST_MAIN(cli_suite)
