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

/* ---- tg report, on runs written by hand: every verdict is known ---- */

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

#define LOG_HEADER "epoch,step,samples_seen,lr,train_loss,eval_loss,eval_accuracy,batch_loss_std\n"

/* Three sweep runs (one explodes: tg train stops it at the NaN, logging
 * only the finite rows, and exits 1; one stays at chance; one learns), one
 * grid run and the two side files. */
static void write_runs(void)
{
    ck_assert_int_eq(mkdir(in_dir("runs"), 0755), 0);
    write_text(in_dir("manifest.tsv"), "name\tgroup\toptimizer\tlr\tmomentum\tbatch_size\tepochs\texit\tseconds\n"
                                   "sweep_lr10\tsweep\tsgd\t10\t0.9\t64\t1\t1\t0.5\n"
                                   "sweep_lr0.0001\tsweep\tsgd\t0.0001\t0.9\t64\t1\t0\t2.0\n"
                                   "sweep_lr0.1\tsweep\tsgd\t0.1\t0.9\t64\t1\t0\t2.0\n"
                                   "sgd_lr0.001_mt0_bs64\tgrid\tsgd\t0.001\t0\t64\t2\t0\t4.0\n");
    write_text(in_dir("runs/sweep_lr10.csv"), LOG_HEADER "1,10,640,10,3.5e+20,,,1e+21\n");
    write_text(in_dir("runs/sweep_lr0.0001.csv"), LOG_HEADER "1,10,640,0.0001,2.31,,,0.01\n1,20,1280,0.0001,2.29,,,0.01\n"
                                              "1,20,1280,0.0001,2.30,2.28,0.15,\n");
    write_text(in_dir("runs/sweep_lr0.1.csv"), LOG_HEADER "1,10,640,0.1,1.9,,,0.2\n1,20,1280,0.1,0.6,,,0.1\n"
                                           "1,20,1280,0.1,1.2,0.55,0.81,\n");
    write_text(in_dir("runs/sgd_lr0.001_mt0_bs64.csv"), LOG_HEADER "1,10,640,0.001,2.30,,,0.01\n1,20,1280,0.001,2.2,,,0.01\n"
                                                    "1,20,1280,0.001,2.25,2.2,0.3,\n2,40,2560,0.001,2.0,,,0.01\n"
                                                    "2,40,2560,0.001,2.1,1.9,0.42,\n");
    write_text(in_dir("lasso.csv"), "# true weights: 2 -1.5 0 1 0.6 0 -0.8 0\n"
                                "lambda,w0,w1,w2,w3,w4,w5,w6,w7,b,train_mse,test_mse\n"
                                "0,2,-1.5,0.01,1,0.6,0.01,-0.8,0.01,0.5,0.24,0.24\n"
                                "0.1,1.95,-1.45,0.001,0.95,0.55,-0.0015,-0.75,0.0005,0.5,0.26,0.27\n"
                                "1,1.5,-1,0.0001,0.5,0.1,0,-0.3,0,0.5,1.5,1.7\n");
    write_text(in_dir("rosenbrock.txt"), "the comparison table\n");
}

static void run_report(int expected_exit)
{
    char args[128];
    snprintf(args, sizeof args, "report %s", dir);
    ck_assert_int_eq(run_tg(args), expected_exit);
}

START_TEST(test_cli_report_computes_the_verdicts)
{
    write_runs();
    run_report(0);
    char *report = read_file(in_dir("REPORT.md"), NULL);
    ck_assert_ptr_nonnull(strstr(report, "| 10 | 3.5e+20 | 3.5e+20 | - | - | explodes |"));
    ck_assert_ptr_nonnull(strstr(report, "| 0.0001 | 2.31 | 2.29 | 0.013 | 15.0% | flat |"));
    ck_assert_ptr_nonnull(strstr(report, "| 0.1 | 1.9 | 0.6 | 1.703 | 81.0% | good |"));
    ck_assert_ptr_nonnull(strstr(report, "1 run exploded, 1 stayed flat and 1 trained well: the test finds all three"));
    /* w5 = -0.0015 at lambda 0.1: the silent weights are small from there on, the largest of them 0.0015 */
    ck_assert_ptr_nonnull(strstr(report, "From lambda = 0.1 on, the three silent weights stay below 0.002 (largest 0.0015)"));
    ck_assert_ptr_nonnull(strstr(report, "the comparison table"));
    free(report);
    char *summary = read_file(in_dir("summary.csv"), NULL);
    ck_assert_str_eq(summary, "optimizer,lr,momentum,batch_size,epochs,final_train_loss,test_accuracy,diverged,seconds\n"
                              "sgd,0.001,0,64,2,2.1,0.42,false,4.0\n");
    free(summary);
    char *data = read_file(in_dir("runs/sweep_lr0.1.dat"), NULL); /* the step rows: samples seen, loss */
    ck_assert_str_eq(data, "640 1.9\n1280 0.6\n");
    free(data);
    char *plots = read_file(in_dir("plots.gp"), NULL);
    ck_assert_ptr_nonnull(strstr(plots, "'runs/sweep_lr10.dat' using 1:($2 > 10 ? 10 : $2) with linespoints pt 7 ps 0.5 lw 2 "
                                     "title 'lr 10 (diverged; held at 10)'"));
    free(plots);
}
END_TEST

/* The MLP against the CNNs (issue 15): the grid's Adam run and two CNN runs
 * of two epochs each, their --metrics, and the CNN's exported first layer:
 * 16 left-to-right edge filters (rows 1 0 -1) and 16 flat ones (all 0.1). */
static void write_cnn_runs(void)
{
    ck_assert_int_eq(mkdir(in_dir("runs"), 0755), 0);
    write_text(in_dir("manifest.tsv"), "name\tgroup\toptimizer\tlr\tmomentum\tbatch_size\tepochs\texit\tseconds\n"
                                   "adam_lr0.001_mt0_bs64\tgrid\tadam\t0.001\t0\t64\t2\t0\t4.0\n"
                                   "cnn\tcnn\tadam\t0.001\t0\t64\t2\t0\t40.0\n"
                                   "cnn-bn\tcnn\tadam\t0.001\t0\t64\t2\t0\t50.0\n");
    write_text(in_dir("runs/adam_lr0.001_mt0_bs64.csv"), LOG_HEADER "1,10,640,0.001,0.6,0.55,0.80,\n"
                                                     "2,20,1280,0.001,0.45,0.42,0.85,\n");
    write_text(in_dir("runs/cnn.csv"), LOG_HEADER "1,10,640,0.001,0.5,0.40,0.86,\n2,20,1280,0.001,0.3,0.30,0.90,\n");
    write_text(in_dir("runs/cnn-bn.csv"), LOG_HEADER "1,10,640,0.001,0.45,0.35,0.88,\n2,20,1280,0.001,0.25,0.38,0.89,\n");
    write_text(in_dir("runs/adam_lr0.001_mt0_bs64.json"), "{\n  \"train_samples_per_s\": 60000,\n  \"threads\": 1\n}\n");
    write_text(in_dir("runs/cnn.json"), "{\n  \"train_samples_per_s\": 3000,\n  \"threads\": 1\n}\n");
    write_text(in_dir("runs/cnn-bn.json"), "{\n  \"train_samples_per_s\": 2400,\n  \"threads\": 1\n}\n");
    tg_tensor *w = tg_zeros(NULL, TG_SHAPE(32, 1, 3, 3));
    for (int i = 0; i < 32; i++)
        for (int k = 0; k < 9; k++) w->data[i * 9 + k] = i < 16 ? (float)(1 - k % 3) : 0.1f;
    tg_safetensors *st = tg_safetensors_new();
    ck_assert_int_eq(tg_safetensors_add(st, "0.weight", w, TG_F32), TG_OK);
    ck_assert_int_eq(tg_safetensors_write(st, in_dir("runs/cnn.safetensors")), TG_OK);
    tg_safetensors_free(st);
    tg_tensor_free(w);
}

/* Every sentence's numbers follow from the runs above by hand: errors 15%
 * (MLP), 10% and 11%; cnn-bn's test loss lowest after epoch 1 and 0.38 /
 * 0.35 = 1.086 at the end; by chance 32 erf(sqrt(9 x 0.01 / 2)) = 7.5
 * zero-sum filters; the norms sqrt((16 x 6 + 16 x 0.09) / 32) = 1.74
 * against sqrt(1/3) = 0.58 at initialisation. */
START_TEST(test_cli_report_compares_the_mlp_and_the_cnns)
{
    write_cnn_runs();
    run_report(0);
    char *report = read_file(in_dir("REPORT.md"), NULL);
    static const char *sentences[] = {
        "## The MLP against two CNNs (issue 15)",
        "| 2 | 85.00% | 90.00% | 89.00% |",
        "After 2 epochs the MLP classified 85.00% of the test images correctly (15.00% wrong).",
        "The CNN reached 90.00% (10.00% wrong: 33% fewer errors than the MLP) and matched the MLP's final accuracy "
        "after epoch 1.",
        "The CNN + BatchNorm's test loss was lowest after epoch 1 (0.3500) and ended 9% higher (0.3800), while its "
        "training loss fell further, from 0.4500 to 0.2500: it had begun to overfit.",
        "after the first epoch the CNN with it was at 88.00% against 86.00% without, ahead; after the last at 89.00% "
        "against 90.00%, behind. It trained at 80% of the plain CNN's speed.",
        "the MLP trained at 60000 samples/s, the CNN at 3000 (20.0 times slower), the CNN + BatchNorm at 2400 (25.0 "
        "times slower).",
        "now 16 of the 32 have a weight beyond that, and their root-mean-square norm has grown from 0.58, as "
        "initialised, to 1.74.",
        " 16 of them have weights that sum to almost zero",
        "against about 8 by chance at initialisation: at least twice as many, so training made edge detectors of them.",
        "mostly from left to right in 16 (their left and right columns differ by more than twice what their top and "
        "bottom rows do), mostly from top to bottom in 0, and both ways in 0.",
    };
    for (size_t i = 0; i < sizeof sentences / sizeof *sentences; i++)
        ck_assert_msg(strstr(report, sentences[i]), "REPORT.md lacks:\n%s\n\nit has:\n%.3000s", sentences[i],
                      strstr(report, "## The MLP against") ? strstr(report, "## The MLP against") : report);
    free(report);
    char *plots = read_file(in_dir("plots.gp"), NULL);
    ck_assert_ptr_nonnull(strstr(plots, "figures/cnn_accuracy.png"));
    ck_assert_ptr_nonnull(strstr(plots, "figures/cnn_speed.png"));
    ck_assert_ptr_nonnull(strstr(plots, "cnn_filters.png"));
    free(plots);
}
END_TEST

START_TEST(test_cli_report_refuses_bad_runs_and_keeps_the_old_report)
{
    write_runs();
    run_report(0);
    char *before = read_file(in_dir("REPORT.md"), NULL);
    ck_assert_int_eq(remove(in_dir("runs/sweep_lr0.1.csv")), 0);
    run_report(1);
    ck_assert_ptr_nonnull(strstr(tg_output, "cannot read"));
    ck_assert_ptr_nonnull(strstr(tg_output, "sweep_lr0.1.csv"));
    char *after = read_file(in_dir("REPORT.md"), NULL);
    ck_assert_str_eq(after, before);
    ck_assert(!exists(in_dir("REPORT.md.tmp")));
    free(before), free(after);
    write_text(in_dir("manifest.tsv"), "name\tgroup\nnot a manifest row\n");
    run_report(1);
    ck_assert_ptr_nonnull(strstr(tg_output, "manifest.tsv: cannot read 'not a manifest row"));
    ck_assert_int_eq(run_tg("report"), 2);
    ck_assert_ptr_nonnull(strstr(tg_output, "usage: tg report DIR"));
    ck_assert_int_eq(run_tg("report /nonexistent/dir"), 1);
}
END_TEST

/* ---- tg trace ---- */

/* The value of dOUT/dVAR in the list tg trace ends with. */
static double traced_gradient(const char *out, const char *var)
{
    char key[64];
    snprintf(key, sizeof key, "\n  d%s/d%s ", out, var);
    const char *list = strstr(tg_output, "\ngradients of ");
    ck_assert_msg(list != NULL, "no gradients in:\n%s", tg_output);
    const char *p = strstr(list, key);
    ck_assert_msg(p != NULL, "no %s in:\n%s", key, tg_output);
    double v;
    ck_assert_int_eq(sscanf(strchr(p, '=') + 1, "%lf", &v), 1);
    return v;
}

/* micrograd's neuron (Karpathy, "The spelled-out intro to neural networks
 * and backpropagation"): o = tanh(n) with n = 0.8814, so o = 1/sqrt(2) and
 * do/dn = 1 - o^2 = 1/2; each gradient is then 1/2 times the other factor. */
START_TEST(test_cli_trace_works_micrograds_neuron)
{
    ck_assert_int_eq(run_tg("trace 'n = x1*w1 + x2*w2 + b; o = tanh(n)' x1=2 x2=0 w1=-3 w2=1 "
                            "b=6.8813735870195432"),
                     0);
    ck_assert_ptr_nonnull(strstr(tg_output, "  o = tanh(n) = 0.7071\n"));
    ck_assert_double_eq_tol(traced_gradient("o", "w1"), 0.5 * 2, 1e-4);
    ck_assert_double_eq_tol(traced_gradient("o", "x1"), 0.5 * -3, 1e-4);
    ck_assert_double_eq_tol(traced_gradient("o", "w2"), 0.5 * 0, 1e-4);
    ck_assert_double_eq_tol(traced_gradient("o", "x2"), 0.5 * 1, 1e-4);
    ck_assert_double_eq_tol(traced_gradient("o", "b"), 0.5, 1e-4);
    ck_assert_msg(strstr(tg_output, "n.grad += 1 * 0.5 = 0.5"), "%s", tg_output);
}
END_TEST

/* A variable used twice gets the sum of its two shares: d(x*x + 3x)/dx =
 * 2x + 3; constants, powers, division and unary minus parse as in C. */
START_TEST(test_cli_trace_accumulates_and_parses)
{
    ck_assert_int_eq(run_tg("trace 'x*x + 3*x' x=2"), 0);
    ck_assert_double_eq_tol(traced_gradient("out", "x"), 7, 1e-6);
    ck_assert_int_eq(run_tg("trace '-x^3 / 4 + 2^2' x=2"), 0);   /* dy/dx = -3 x^2 / 4 */
    ck_assert_double_eq_tol(traced_gradient("out", "x"), -3.0, 1e-6);
    ck_assert_int_eq(run_tg("trace 'y = -x^3 / 4 + 2^2' x=2"), 0);
    ck_assert_ptr_nonnull(strstr(tg_output, "y = -x^3 / 4 + 2^2 = 2\n"));
    ck_assert_double_eq_tol(traced_gradient("y", "x"), -3.0, 1e-6);
    ck_assert_int_eq(run_tg("trace 'a = exp(x); b = log(a); c = sqrt(square(b)) - relu(-b) + abs(b)' x=1.5"), 0);
    ck_assert_double_eq_tol(traced_gradient("c", "x"), 2.0, 1e-5);   /* c = 2x for x > 0 */
}
END_TEST

/* Without an expression: the tutorial's MLP, whose values can be changed. */
START_TEST(test_cli_trace_defaults_to_the_tutorial)
{
    ck_assert_int_eq(run_tg("trace"), 0);
    ck_assert_ptr_nonnull(strstr(tg_output, "h1 = sigmoid(z1) = 0.6457\n"));
    double before = traced_gradient("L", "w11");
    ck_assert_int_eq(run_tg("trace x1=0"), 0);   /* dL/dw11 = (dL/dz1) x1 */
    ck_assert_double_eq_tol(traced_gradient("L", "w11"), 0.0, 1e-9);
    ck_assert(before != 0.0);
}
END_TEST

START_TEST(test_cli_trace_refuses_bad_expressions)
{
    static const struct {
        const char *args, *message;
    } bad[] = {
        {"'x * y' x=1", "y has no value: give it as y=VALUE"},
        {"'x * 2' x=1 z=3", "z is not in the expression"},
        {"'x * (2' x=1", "column 7: expected ')'"},
        {"'x +' x=1", "the expression ends too soon"},
        {"'x 2' x=1", "column 3: expected an operator"},
        {"'sin(x)' x=1", "unknown function 'sin'"},
        {"'x ^ y' x=1 y=2", "expected a number after '^'"},
        {"'2 * 3'", "depends on no variable"},
        {"'x' 'y' x=1", "extra argument 'y'"},
        {"--frobnicate", "unknown or extra argument '--frobnicate'"},
        {"'averyveryveryverylongname123 + 1'", "longer than 23 characters"},
    };
    /* 120 nested parentheses, or minus signs: refused before the stack grows */
    for (const char *nest = "(-"; *nest; nest++) {
        char deep[200] = "trace '";
        memset(deep + 7, *nest, 120);
        strcpy(deep + 127, "x' x=1");
        ck_assert_int_eq(run_tg(deep), 2);
        ck_assert_msg(strstr(tg_output, "nests too deeply"), "%s", tg_output);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char args[256];
        snprintf(args, sizeof args, "trace %s", bad[i].args);
        ck_assert_int_eq(run_tg(args), 2);
        ck_assert_msg(strstr(tg_output, bad[i].message), "tg %s:\n%s", args, tg_output);
    }
}
END_TEST

START_TEST(test_cli_trace_writes_the_picture)
{
    char args[512];
    snprintf(args, sizeof args, "trace 'y = w * x' w=3 x=2 --dot %s", in_dir("g.dot"));
    ck_assert_int_eq(run_tg(args), 0);
    char *dot = read_file(in_dir("g.dot"), NULL);
    ck_assert_ptr_nonnull(strstr(dot, "y: mul\\ndata 6\\ngrad 1\""));
    ck_assert_ptr_nonnull(strstr(dot, "w: parameter\\ndata 3\\ngrad 2\""));
    free(dot);
    ck_assert(!exists(in_dir("g.dot.tmp")));
    snprintf(args, sizeof args, "trace 'y = w * x' w=3 x=2 --dot %s", in_dir("missing/g.dot"));
    ck_assert_int_eq(run_tg(args), 1);
    ck_assert_ptr_nonnull(strstr(tg_output, "cannot write"));
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
    tcase_add_unchecked_fixture(tc, make_root, remove_root);
    tcase_add_checked_fixture(tc, make_dir, remove_dir);
    tcase_add_test(tc, test_cli_report_computes_the_verdicts);
    tcase_add_test(tc, test_cli_report_compares_the_mlp_and_the_cnns);
    tcase_add_test(tc, test_cli_report_refuses_bad_runs_and_keeps_the_old_report);
    tcase_add_test(tc, test_cli_trace_works_micrograds_neuron);
    tcase_add_test(tc, test_cli_trace_accumulates_and_parses);
    tcase_add_test(tc, test_cli_trace_defaults_to_the_tutorial);
    tcase_add_test(tc, test_cli_trace_refuses_bad_expressions);
    tcase_add_test(tc, test_cli_trace_writes_the_picture);
    suite_add_tcase(s, tc);
    return s;
}

TG_TEST_MAIN(cli_suite)
