/* check_cli.c — the tg command as a user runs it: tg_output, exit codes, and
 * clear errors for bad arguments. The binary is $TG_BIN (run.sh sets it). */
#define _POSIX_C_SOURCE 200809L
#include "tg_cli.h"

START_TEST(test_cli_gradcheck_lists_every_case_ok)
{
    ck_assert_int_eq(run_tg("gradcheck"), 0);
    int ok = 0, lines = 0;
    char name[64], result[16];
    double abs_err, rel_err;
    for (char *line = strtok(tg_output, "\n"); line; line = strtok(NULL, "\n")) {
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
    ck_assert_ptr_nonnull(strstr(tg_output, "\ncross_entropy "));
    ck_assert_ptr_nonnull(strstr(tg_output, "1 of 1 cases ok"));
}
END_TEST

START_TEST(test_cli_gradcheck_bad_arguments)
{
    ck_assert_int_eq(run_tg("gradcheck --only no_such_op"), 2);
    ck_assert_ptr_nonnull(strstr(tg_output, "no case is named 'no_such_op'"));
    ck_assert_int_eq(run_tg("gradcheck --seed -4"), 2);
    ck_assert_ptr_nonnull(strstr(tg_output, "--seed needs a non-negative integer, got '-4'"));
    ck_assert_int_eq(run_tg("gradcheck --seed 12x"), 2);
    ck_assert_int_eq(run_tg("gradcheck --seed"), 2);
    ck_assert_ptr_nonnull(strstr(tg_output, "unknown or incomplete option '--seed'"));
    ck_assert_int_eq(run_tg("gradcheck --frobnicate"), 2);
}
END_TEST

START_TEST(test_cli_commands)
{
    ck_assert_int_eq(run_tg("version"), 0);
    ck_assert_str_eq(tg_output, "tg " TG_VERSION "\n");
    ck_assert_int_eq(run_tg("help"), 0);
    ck_assert_ptr_nonnull(strstr(tg_output, "usage: tg <command>"));
    ck_assert_int_eq(run_tg(""), 2);
    ck_assert_ptr_nonnull(strstr(tg_output, "usage: tg <command>"));
    ck_assert_int_eq(run_tg("trian"), 2);
    ck_assert_ptr_nonnull(strstr(tg_output, "tg: unknown command 'trian'"));
}
END_TEST

/* The last line's "final: x=<x> y=<y> f=<f>". */
static void final_point(double *x, double *y, double *f)
{
    const char *line = strstr(tg_output, "final: ");
    ck_assert_msg(line != NULL, "no final line in:\n%s", tg_output);
    ck_assert_int_eq(sscanf(line, "final: x=%lf y=%lf f=%lf", x, y, f), 3);
    const char *end = strchr(line, '\n');
    ck_assert_msg(end && end[1] == '\0', "the final line is not the last one:\n%s", tg_output);
}

START_TEST(test_cli_optimize_follows_the_update_rule)
{
    /* SGD on (x-2)^2 + 10 (y+1)^2: x_k - 2 = (1 - 2 lr)^k (x_0 - 2) and
     * y_k + 1 = (1 - 20 lr)^k (y_0 + 1). */
    ck_assert_int_eq(run_tg("optimize quadratic --optimizer sgd --lr 0.02 --steps 30 --start 5,1"), 0);
    double x, y, f;
    final_point(&x, &y, &f);
    double wx = 2 + pow(1 - 2 * 0.02, 30) * 3, wy = -1 + pow(1 - 20 * 0.02, 30) * 2;
    ck_assert_close(x, wx, 1e-5, 0);
    ck_assert_close(y, wy, 1e-4, 1e-6);
    ck_assert_close(f, (wx - 2) * (wx - 2) + 10 * (wy + 1) * (wy + 1), 1e-4, 1e-9);
    ck_assert_ptr_nonnull(strstr(tg_output, "step      30  x="));
    const char *fin = strstr(tg_output, "final: x=");
    ck_assert_ptr_nonnull(fin);
    char xs[32];
    sscanf(fin, "final: x=%31s", xs);
    ck_assert_int_ge((int)strlen(xs), 9); /* 9 significant digits */
}
END_TEST

START_TEST(test_cli_optimize_lbfgs_and_schedules)
{
    double x, y, f;
    ck_assert_int_eq(run_tg("optimize rosenbrock --optimizer lbfgs --line-search strong_wolfe --steps 5 "
                            "--start -1.2,1"), 0);
    final_point(&x, &y, &f);
    ck_assert_double_lt(f, 1e-8);
    ck_assert_int_eq(run_tg("optimize rosenbrock --optimizer adamw --lr 0.01 --weight-decay 0.01 --steps 3000 "
                            "--schedule warmup_cosine --warmup 300 --total 3000 --clip-norm 1.0 --print-every 0"), 0);
    final_point(&x, &y, &f);
    ck_assert_double_lt(f, 1e-3);
    ck_assert_ptr_null(strstr(tg_output, "step ")); /* --print-every 0 */
}
END_TEST

START_TEST(test_cli_optimize_compare_prints_the_table)
{
    ck_assert_int_eq(run_tg("optimize rosenbrock --compare"), 0);
    const char *names[] = {"\nSGD ", "\nAdaGrad ", "\nRMSProp ", "\nAdam ", "\nAdamW "};
    for (int i = 0; i < 5; i++) ck_assert_msg(strstr(tg_output, names[i]) != NULL, "no row %s", names[i] + 1);
    ck_assert_ptr_nonnull(strstr(tg_output, "Notes."));
    ck_assert_ptr_nonnull(strstr(tg_output, "(1.0000, 1.0000)"));
}
END_TEST

START_TEST(test_cli_optimize_bad_flags)
{
    ck_assert_int_eq(run_tg("optimize rosenbrock --optimizer adamm"), 2);
    ck_assert_ptr_nonnull(strstr(tg_output, "--optimizer: unknown optimizer 'adamm'"));
    ck_assert_int_eq(run_tg("optimize rosenbrock --optimizer sgd --lr -0.1"), 2);
    ck_assert_ptr_nonnull(strstr(tg_output, "--lr: optimizer option lr = -0.1 is out of range"));
    ck_assert_int_eq(run_tg("optimize rosenbrock --optimizer adam --betas 0.9,1.5"), 2);
    ck_assert_ptr_nonnull(strstr(tg_output, "beta2 = 1.5 is out of range: it must be in [0, 1)"));
    ck_assert_int_eq(run_tg("optimize rosenbrock --lr 0.1"), 2);
    ck_assert_ptr_nonnull(strstr(tg_output, "--optimizer is required"));
    ck_assert_int_eq(run_tg("optimize rosenbrock --optimizer sgd --gamma 0.5"), 2);
    ck_assert_ptr_nonnull(strstr(tg_output, "--gamma is a schedule option: choose a --schedule"));
    ck_assert_int_eq(run_tg("optimize rosenbrock --optimizer sgd --schedule step"), 2);
    ck_assert_ptr_nonnull(strstr(tg_output, "step schedule: step_size is required"));
    ck_assert_int_eq(run_tg("optimize rosenbrock --optimizer sgd --momentum"), 2);
    ck_assert_int_eq(run_tg("optimize rosenbrock --optimizer sgd --steps ten"), 2);
    ck_assert_int_eq(run_tg("optimize rosenbrock --optimizer sgd --start 1"), 2);
    ck_assert_int_eq(run_tg("optimize rosenbrock --optimizer lbfgs --clip-norm 1"), 2);
    ck_assert_int_eq(run_tg("optimize himmelblau --optimizer sgd"), 2);
    ck_assert_ptr_nonnull(strstr(tg_output, "the objective is rosenbrock or quadratic, not 'himmelblau'"));
    ck_assert_int_eq(run_tg("optimize rosenbrock --optimizer sgd --frobnicate"), 2);
    ck_assert_int_eq(run_tg("optimize rosenbrock --compare --optimizer sgd"), 2);
    ck_assert_int_eq(run_tg("optimize rosenbrock --compare --steps 10"), 2);
    ck_assert_ptr_nonnull(strstr(tg_output, "--compare runs the lecture's rosenbrock settings alone"));
    /* options the chosen optimizer or schedule does not have: torch refuses them */
    ck_assert_int_eq(run_tg("optimize rosenbrock --optimizer adam --momentum 0.9"), 2);
    ck_assert_ptr_nonnull(strstr(tg_output, "--momentum does not apply to adam"));
    ck_assert_int_eq(run_tg("optimize rosenbrock --optimizer sgd --schedule cosine --t-max 9 --gamma 0.5"), 2);
    ck_assert_ptr_nonnull(strstr(tg_output, "--gamma does not apply to the cosine schedule"));
    ck_assert_int_eq(run_tg("optimize rosenbrock --optimizer sgd --lr --steps 5"), 2);
    ck_assert_ptr_nonnull(strstr(tg_output, "--lr needs a value"));
    ck_assert_int_eq(run_tg("optimize rosenbrock --optimizer sgd --steps 50 --schedule onecycle --max-lr 0.01 "
                            "--total-steps 20"), 2);
    ck_assert_ptr_nonnull(strstr(tg_output, "--steps 50 is more than the one-cycle schedule's --total-steps 20"));
}
END_TEST

START_TEST(test_cli_optimize_schedule_eps_is_the_plateaus)
{
    /* --eps is the optimizer's; --sched-eps the plateau's minimum change:
     * with 0.5 no cut of a 0.01 rate is ever big enough to apply. */
    ck_assert_int_eq(run_tg("optimize quadratic --optimizer adam --lr 0.01 --eps 1e-6 --steps 40 --schedule "
                            "plateau --patience 0 --threshold 0.5 --sched-eps 0.5 --print-every 40"), 0);
    const char *last = strstr(tg_output, "step      40");
    ck_assert_ptr_nonnull(last);
    ck_assert_ptr_nonnull(strstr(last, "lr=0.01\n"));
    ck_assert_int_eq(run_tg("optimize quadratic --optimizer adam --lr 0.01 --steps 40 --schedule plateau "
                            "--patience 0 --threshold 0.5 --print-every 40"), 0);
    last = strstr(tg_output, "step      40");
    ck_assert_ptr_nonnull(last);
    ck_assert_ptr_nonnull(strstr(last, "lr=1e-08\n")); /* cut to min_lr 0 ... until the cut is below eps 1e-8 */
}
END_TEST

START_TEST(test_cli_optimize_reports_divergence)
{
    /* maximizing a bowl runs away: a clear message and exit 1 */
    ck_assert_int_eq(run_tg("optimize quadratic --optimizer sgd --lr 0.5 --maximize --steps 300"), 1);
    ck_assert_ptr_nonnull(strstr(tg_output, "diverged at step"));
    ck_assert_ptr_nonnull(strstr(tg_output, "final: x="));
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
    tcase_add_test(tc, test_cli_optimize_follows_the_update_rule);
    tcase_add_test(tc, test_cli_optimize_lbfgs_and_schedules);
    tcase_add_test(tc, test_cli_optimize_compare_prints_the_table);
    tcase_add_test(tc, test_cli_optimize_bad_flags);
    tcase_add_test(tc, test_cli_optimize_reports_divergence);
    tcase_add_test(tc, test_cli_optimize_schedule_eps_is_the_plateaus);
    suite_add_tcase(s, tc);
    return s;
}

TG_TEST_MAIN(cli_suite)
