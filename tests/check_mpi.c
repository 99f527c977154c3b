/* check_mpi.c — `mpirun -np 2 tg-mpi train` (issue 16): the same run as one
 * process within float32 rounding, byte-identical resume, and every way a
 * rank can fail ending all of them with a message. Needs Open MPI and
 * $TG_MPI_BIN (tests/run.sh sets it when make built build/tg-mpi); the
 * one-process tg is $TG_BIN. Runs as root under CI with Open MPI's
 * documented variables, oversubscribed (two ranks may share a core). */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <tg.h>

#include "tg_cli.h"
#include "tg_test.h"

static const char *tg_bin(void) { return getenv("TG_BIN") ? getenv("TG_BIN") : "build/tg"; }
static const char *mpi_bin(void) { return getenv("TG_MPI_BIN") ? getenv("TG_MPI_BIN") : "build/tg-mpi"; }

/* The launcher, allowed to run as root (CI) and to put two ranks on one
 * core. Under the sanitizers (make check SANITIZE=1) the ranks keep
 * AddressSanitizer and UBSan but not LeakSanitizer: Open MPI leaves its
 * own allocations at exit, inside plugins it has unloaded, which no
 * suppression can name. tg's own frees are checked by the one-process runs. */
static char mpirun[256];
static void set_launcher(void)
{
    snprintf(mpirun, sizeof mpirun, "%sOMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe",
             getenv("TG_SANITIZED") ? "ASAN_OPTIONS=detect_leaks=0 " : "");
}

static int run_mpi(int ranks, const char *args)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s -np %d %s", mpirun, ranks, mpi_bin());
    return run_program(cmd, args);
}

/* A small run that takes a few hundred steps: 6,425 images in batches of 50
 * (the last one 25, so the ranks' slices are 12 and 13), SGD with momentum. */
static const char small_run[] = "train --hidden 64 --train-samples 6425 --test-samples 1000 --batch-size 50 "
                                "--optimizer sgd --lr 0.05 --momentum 0.9 --log-every 50 --threads 1";

static void nap(long ms) { nanosleep(&(struct timespec){ms / 1000, ms % 1000 * 1000000}, NULL); }

static double elapsed(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

/* The train_loss column of a --log file, one value a step; returns how many. */
static int step_losses(const char *path, double *loss, int max)
{
    char *csv = read_file(path, NULL);
    ck_assert_ptr_nonnull(csv);
    int n = 0;
    for (char *line = strtok(strchr(csv, '\n') + 1, "\n"); line && n < max; line = strtok(NULL, "\n")) {
        int commas = 0;
        const char *p = line;
        for (; *p && commas < 4; p++) commas += *p == ',';
        if (strstr(line, ",,,")) loss[n++] = strtod(p, NULL); /* a step row: its eval columns are empty */
    }
    free(csv);
    return n;
}

/* The largest |a - b| / max(1, |a|) over the model tensors of two
 * checkpoints (torch's keys under model/). */
static double weights_apart(const char *a, const char *b, int *tensors)
{
    tg_checkpoint *ca, *cb;
    ck_assert_int_eq(tg_checkpoint_read(a, &ca), TG_OK);
    ck_assert_int_eq(tg_checkpoint_read(b, &cb), TG_OK);
    static const char *names[] = {"model/1.weight", "model/1.bias", "model/3.weight", "model/3.bias"};
    double worst = 0;
    *tensors = 0;
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        bool first = strstr(names[k], "1.") != NULL, weight = strstr(names[k], "weight") != NULL;
        int dims[2] = {first ? 64 : 10, first ? 784 : 64};
        tg_tensor *x = tg_zeros(NULL, weight ? 2 : 1, dims);
        tg_tensor *y = tg_zeros(NULL, weight ? 2 : 1, dims);
        ck_assert_msg(tg_checkpoint_get_tensor(ca, names[k], x) == TG_OK, "%s: %s", names[k], tg_last_error());
        ck_assert_msg(tg_checkpoint_get_tensor(cb, names[k], y) == TG_OK, "%s: %s", names[k], tg_last_error());
        for (size_t i = 0; i < x->size; i++) {
            double d = fabs((double)x->data[i] - y->data[i]) / fmax(1.0, fabs((double)x->data[i]));
            if (d > worst) worst = d;
        }
        tg_tensor_free(x), tg_tensor_free(y);
        (*tensors)++;
    }
    tg_checkpoint_free(ca), tg_checkpoint_free(cb);
    return worst;
}

/* Two ranks, each on half of every batch, take the steps one process
 * takes: the gradients' sum over ranks only orders the additions
 * differently. Measured over 387 steps of SGD with momentum (gcc, clang,
 * sanitizers): step losses within 5.3e-7 (relative), weights within 4.8e-7
 * (relative, at least 1); the bounds are ten times that. */
START_TEST(two_ranks_train_as_one_process)
{
    char args[1024];
    snprintf(args, sizeof args, "%s --epochs 3 --log %s --save %s", small_run, in_dir("one.csv"), in_dir("one.ckpt"));
    ck_assert_msg(run_program(tg_bin(), args) == 0, "%s", tg_output);
    snprintf(args, sizeof args, "%s --epochs 3 --log %s --save %s --metrics %s", small_run, in_dir("two.csv"),
             in_dir("two.ckpt"), in_dir("two.json"));
    ck_assert_msg(run_mpi(2, args) == 0, "%s", tg_output);
    ck_assert_msg(strstr(tg_output, "2 ranks of 1 thread"), "%s", tg_output);
    ck_assert_msg(!strstr(tg_output, "rank 1"), "only rank 0 prints:\n%s", tg_output);
    char *json = read_file(in_dir("two.json"), NULL);
    ck_assert_int_eq((int)json_number(json, "ranks"), 2);
    ck_assert_int_eq((int)json_number(json, "steps"), 3 * 129);
    free(json);

    enum { STEPS = 3 * 129 };
    static double one[STEPS + 1], two[STEPS + 1];
    int rows = step_losses(in_dir("one.csv"), one, STEPS + 1); /* a row every 50 samples: most steps */
    ck_assert_int_gt(rows, STEPS - 10);
    ck_assert_int_eq(step_losses(in_dir("two.csv"), two, STEPS + 1), rows);
    double worst_loss = 0;
    for (int i = 0; i < rows; i++) worst_loss = fmax(worst_loss, fabs(one[i] - two[i]) / fabs(one[i]));
    int tensors;
    double worst_weight = weights_apart(in_dir("one.ckpt"), in_dir("two.ckpt"), &tensors);
    ck_assert_int_eq(tensors, 4);
    printf("two ranks against one process, %d steps: losses within %.2e, weights within %.2e\n", STEPS, worst_loss,
           worst_weight);
    ck_assert_msg(worst_loss < 5e-6, "losses %.3e apart", worst_loss);
    ck_assert_msg(worst_weight < 5e-6, "weights %.3e apart", worst_weight);
    ck_assert_msg(worst_loss > 0 || worst_weight > 0, "bitwise equal: were the ranks really summing?");
}
END_TEST

/* A resumed two-rank run writes the checkpoint the uninterrupted one
 * writes, and a two-rank checkpoint resumes in one process. */
START_TEST(resume_is_byte_identical)
{
    char args[1024];
    snprintf(args, sizeof args, "%s --epochs 2 --save %s", small_run, in_dir("whole.ckpt"));
    ck_assert_msg(run_mpi(2, args) == 0, "%s", tg_output);
    snprintf(args, sizeof args, "%s --epochs 1 --save %s", small_run, in_dir("half.ckpt"));
    ck_assert_msg(run_mpi(2, args) == 0, "%s", tg_output);
    snprintf(args, sizeof args, "train --resume %s --epochs 2 --save %s", in_dir("half.ckpt"), in_dir("half.ckpt"));
    ck_assert_msg(run_mpi(2, args) == 0, "%s", tg_output);
    ck_assert_msg(same_file(in_dir("whole.ckpt"), in_dir("half.ckpt")), "the resumed run's checkpoint differs");
    snprintf(args, sizeof args, "train --resume %s --epochs 3", in_dir("whole.ckpt"));
    ck_assert_msg(run_program(tg_bin(), args) == 0, "%s", tg_output);
    ck_assert_msg(strstr(tg_output, "epoch  3/3"), "%s", tg_output);
}
END_TEST

/* mpirun's rank r child: the process with OMPI_COMM_WORLD_RANK=r and our
 * marker in its environment; 0 if none (yet). */
static pid_t rank_pid(int rank, const char *marker)
{
    char want[64];
    snprintf(want, sizeof want, "OMPI_COMM_WORLD_RANK=%d", rank);
    DIR *proc = opendir("/proc");
    ck_assert_ptr_nonnull(proc);
    pid_t found = 0;
    for (struct dirent *e; !found && (e = readdir(proc));) {
        char path[300], env[1 << 15];
        snprintf(path, sizeof path, "/proc/%s/environ", e->d_name);
        FILE *f = e->d_name[0] >= '1' && e->d_name[0] <= '9' ? fopen(path, "rb") : NULL;
        if (!f) continue; /* not a process, or gone */
        size_t n = fread(env, 1, sizeof env - 1, f);
        fclose(f);
        env[n] = '\0';
        bool rank_ok = false, ours = false;
        for (size_t i = 0; i < n; i += strlen(env + i) + 1) {
            rank_ok |= !strcmp(env + i, want);
            ours |= !strcmp(env + i, marker);
        }
        if (rank_ok && ours) found = (pid_t)atoi(e->d_name);
    }
    closedir(proc);
    return found;
}

/* Starts `sh -c cmd` with its output in out; its pid. */
static pid_t start(const char *cmd, const char *out)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        FILE *f = freopen(out, "w", stdout);
        if (!f || dup2(fileno(stdout), 2) < 0) _exit(127);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Waits up to limit seconds for pid; its exit status, or -1 if it is still running. */
static int wait_for(pid_t pid, double limit, double *took)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            *took = elapsed(&t0);
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        if (elapsed(&t0) > limit) return -1;
        nap(50);
    }
}

/* A long two-rank run with a checkpoint after each epoch, started in the
 * background with a marker in its environment; returns mpirun's pid once
 * the first checkpoint is written. */
static pid_t long_run(const char *marker, const char *env)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s %s -np 2 %s %s --epochs 100 --train-samples 12000 --save %s", marker, env, mpirun,
             mpi_bin(), small_run, in_dir("run.ckpt"));
    pid_t pid = start(cmd, in_dir("run.out"));
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (access(in_dir("run.ckpt"), F_OK) != 0) {
        ck_assert_msg(elapsed(&t0) < 120, "no checkpoint after two minutes");
        int status;
        ck_assert_msg(waitpid(pid, &status, WNOHANG) == 0, "the run ended early:\n%s",
                      (char *)read_file(in_dir("run.out"), NULL));
        nap(20);
    }
    return pid;
}

/* The checkpoint the killed run left loads, and resuming it with one
 * process and with two ranks finishes the run. */
static void resumable(void)
{
    char args[1024];
    snprintf(args, sizeof args, "eval %s", in_dir("run.ckpt"));
    ck_assert_msg(run_program(tg_bin(), args) == 0, "%s", tg_output);
    char copy[1024];
    snprintf(copy, sizeof copy, "cp %s %s", in_dir("run.ckpt"), in_dir("again.ckpt"));
    ck_assert_int_eq(system(copy), 0);
    snprintf(args, sizeof args, "train --resume %s --epochs 3", in_dir("run.ckpt"));
    ck_assert_msg(run_program(tg_bin(), args) == 0, "%s", tg_output);
    ck_assert_msg(strstr(tg_output, "test accuracy"), "%s", tg_output);
    snprintf(args, sizeof args, "train --resume %s --epochs 3", in_dir("again.ckpt"));
    ck_assert_msg(run_mpi(2, args) == 0, "%s", tg_output);
    ck_assert_msg(strstr(tg_output, "test accuracy"), "%s", tg_output);
}

/* Sends sig to rank 1 of a long run (env: more variables for it) once its
 * first checkpoint is written; then mpirun must end, non-zero, within 30 s
 * with rank 0's message (expect), and the checkpoint must resume. */
static void interrupt_rank_1(int sig, const char *env, const char *expect)
{
    char marker[64];
    snprintf(marker, sizeof marker, "TG_CHECK_MPI=%d.%d", (int)getpid(), sig);
    pid_t run = long_run(marker, env);
    pid_t victim = rank_pid(1, marker);
    ck_assert_int_gt(victim, 0);
    ck_assert_int_eq(kill(victim, sig), 0);
    double took = 0;
    int status = wait_for(run, 30, &took);
    char *out = read_file(in_dir("run.out"), NULL);
    kill(victim, SIGKILL);
    if (status < 0) kill(run, SIGKILL), waitpid(run, NULL, 0);
    ck_assert_msg(status > 0, "still running 30 s after rank 1 got signal %d:\n%s", sig, out);
    printf("rank 1 sent signal %d: mpirun exited with %d after %.1f s\n", sig, status, took);
    ck_assert_msg(strstr(out, expect), "no '%s' from rank 0:\n%s", expect, out);
    free(out);
    resumable();
}

START_TEST(killed_rank_stops_the_other)
{
    interrupt_rank_1(SIGKILL, "", "rank 0 of 2: stopped by mpirun");
}
END_TEST

/* A rank that stops without dying (SIGSTOP) is given up on after
 * $TG_DIST_TIMEOUT seconds. */
START_TEST(stopped_rank_times_out)
{
    interrupt_rank_1(SIGSTOP, "TG_DIST_TIMEOUT=2", "rank 0 of 2: no answer from the other ranks for 2 s");
}
END_TEST

/* Different flags on different ranks (mpirun's colon form): a rank that
 * cannot read its data stops all with its message; ranks that would train
 * different models refuse to start. */
START_TEST(ranks_that_disagree_stop)
{
    char args[2048];
    snprintf(args, sizeof args, "%s --epochs 1 : -np 1 %s %s --epochs 1 --data-dir %s", small_run, mpi_bin(),
             small_run, in_dir("nothing-here"));
    ck_assert_int_eq(run_mpi(1, args), 1);
    ck_assert_msg(strstr(tg_output, "nothing-here"), "rank 1's message is missing:\n%s", tg_output);
    ck_assert_msg(strstr(tg_output, "another rank could not start"), "%s", tg_output);

    snprintf(args, sizeof args, "%s --epochs 1 --seed 1 : -np 1 %s %s --epochs 1 --seed 2", small_run, mpi_bin(),
             small_run);
    ck_assert_int_eq(run_mpi(1, args), 1);
    ck_assert_msg(strstr(tg_output, "the ranks would train different models"), "%s", tg_output);
}
END_TEST

/* Running statistics and dropout: each rank normalises its slice with its
 * own batch statistics and draws its own masks (as torch's
 * DistributedDataParallel), rank 0's running statistics are everyone's
 * after each step, so the replicas stay the same: the check after every
 * epoch passes, and the export loads. */
START_TEST(batchnorm_and_dropout_stay_replicated)
{
    char args[1024];
    snprintf(args, sizeof args, "train --model 'flatten linear(32) batchnorm1d relu dropout(0.2) linear(10)' "
             "--train-samples 3000 --test-samples 500 --batch-size 64 --epochs 2 --threads 1 --save %s",
             in_dir("bn.ckpt"));
    ck_assert_msg(run_mpi(2, args) == 0, "%s", tg_output);
    ck_assert_msg(strstr(tg_output, "epoch  2/2"), "%s", tg_output);
    snprintf(args, sizeof args, "eval %s", in_dir("bn.ckpt"));
    ck_assert_msg(run_program(tg_bin(), args) == 0, "%s", tg_output);
}
END_TEST

/* Run by hand, without mpirun, tg-mpi is the one-process tg: the same bytes. */
START_TEST(without_mpirun_it_is_tg)
{
    char args[1024];
    snprintf(args, sizeof args, "%s --epochs 1 --save %s", small_run, in_dir("tg.ckpt"));
    ck_assert_msg(run_program(tg_bin(), args) == 0, "%s", tg_output);
    snprintf(args, sizeof args, "%s --epochs 1 --save %s", small_run, in_dir("tg-mpi.ckpt"));
    ck_assert_msg(run_program(mpi_bin(), args) == 0, "%s", tg_output);
    ck_assert(same_file(in_dir("tg.ckpt"), in_dir("tg-mpi.ckpt")));
    ck_assert_msg(run_mpi(1, args) == 0, "%s", tg_output);
    ck_assert_msg(same_file(in_dir("tg.ckpt"), in_dir("tg-mpi.ckpt")), "one rank under mpirun is one process");
}
END_TEST

int main(void)
{
    set_launcher();
    Suite *s = suite_create("mpi");
    TCase *tc = tcase_create("mpi");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, make_root, remove_root);
    tcase_add_checked_fixture(tc, make_dir, remove_dir);
    tcase_add_test(tc, two_ranks_train_as_one_process);
    tcase_add_test(tc, resume_is_byte_identical);
    tcase_add_test(tc, killed_rank_stops_the_other);
    tcase_add_test(tc, stopped_rank_times_out);
    tcase_add_test(tc, ranks_that_disagree_stop);
    tcase_add_test(tc, batchnorm_and_dropout_stay_replicated);
    tcase_add_test(tc, without_mpirun_it_is_tg);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
