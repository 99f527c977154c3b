/* check_disk.c — when the disk fails, tg says so and loses nothing; when tg
 * is killed, it loses at most the epoch it was in.
 *
 *   - saving to a full device (/dev/full), past a file size limit (a full
 *     disk, as ulimit -f makes one), into a read-only or a missing
 *     directory: tg train exits 1 with the reason, and the checkpoint
 *     already at that path is untouched and still loads;
 *   - tg train killed with SIGKILL at a random moment while saving every
 *     epoch leaves a checkpoint that loads, and resuming from it gives the
 *     same final checkpoint, byte for byte, as a run never killed.
 *
 * They run the tg command ($TG_BIN) on a tiny data set (tg_tinydata.h). */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "tg_cli.h"
#include "tg_tinydata.h"

static const char *tg_bin(void) { return getenv("TG_BIN") ? getenv("TG_BIN") : "build/tg"; }

/* The checkpoint at path loads in tg eval. */
static void assert_loads(const char *path)
{
    char args[1024];
    snprintf(args, sizeof args, "eval %s --data-dir %s", path, dir);
    ck_assert_msg(run_tg(args) == 0, "tg eval %s:\n%s", path, tg_output);
    ck_assert(strstr(tg_output, "accuracy") != NULL);
}

/* tg train on the tiny data set with extra flags. */
static int train(const char *flags)
{
    char args[2048];
    snprintf(args, sizeof args, "train --data-dir %s --hidden 8 --batch-size 16 --optimizer adam %s", dir, flags);
    return run_tg(args);
}

/* A checkpoint A at path, and a copy of its bytes at path.orig. */
static void first_checkpoint(const char *path)
{
    char flags[1024], copy[1024];
    snprintf(flags, sizeof flags, "--epochs 1 --save %s", path);
    ck_assert_msg(train(flags) == 0, "%s", tg_output);
    size_t n;
    char *bytes = read_file(path, &n);
    snprintf(copy, sizeof copy, "%s.orig", path);
    FILE *f = fopen(copy, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(bytes, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
    free(bytes);
}

/* path still holds A, loads, and no temporary file is left beside it. */
static void assert_untouched(const char *path)
{
    char copy[1024], tmp[1024];
    snprintf(copy, sizeof copy, "%s.orig", path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    ck_assert_msg(same_file(path, copy), "%s changed", path);
    ck_assert_msg(!exists(tmp), "%s was left behind", tmp);
    assert_loads(path);
}

static void setup(void)
{
    make_dir();
    write_tiny_dataset(dir, 64, true);
}

START_TEST(test_disk_full_device)
{
    ck_assert_int_eq(train("--epochs 1 --save /dev/full"), 1);
    ck_assert_msg(strstr(tg_output, "/dev/full: cannot write the checkpoint: No space left on device"), "%s",
                  tg_output);
    struct stat st;
    ck_assert_int_eq(stat("/dev/full", &st), 0);
    ck_assert_msg(S_ISCHR(st.st_mode), "/dev/full is no longer a device");
    ck_assert(!exists("/dev/full.tmp"));
    /* a device that takes the bytes: saving to /dev/null succeeds */
    ck_assert_msg(train("--epochs 1 --save /dev/null") == 0, "%s", tg_output);
}
END_TEST

START_TEST(test_disk_full_keeps_the_old_checkpoint)
{
    /* A file size limit of 8 KiB (ulimit -f counts 512-byte blocks) is a
     * disk that fills up inside the next checkpoint, training or resuming */
    const char *path = in_dir("m.ckpt");
    first_checkpoint(path);
    char bin[1024], args[2048];
    snprintf(bin, sizeof bin, "ulimit -f 16; %s", tg_bin());
    snprintf(args, sizeof args, "train --data-dir %s --hidden 8 --batch-size 16 --optimizer adam --lr 0.01 "
             "--epochs 2 --save %s", dir, path);
    ck_assert_int_eq(run_program(bin, args), 1);
    ck_assert_msg(strstr(tg_output, "cannot write the checkpoint: File too large"), "%s", tg_output);
    ck_assert(strstr(tg_output, "untouched") != NULL);
    assert_untouched(path);
    snprintf(args, sizeof args, "train --resume %s --epochs 3 --data-dir %s --save %s", path, dir, path);
    ck_assert_int_eq(run_program(bin, args), 1);
    ck_assert_msg(strstr(tg_output, "File too large"), "%s", tg_output);
    assert_untouched(path);
}
END_TEST

START_TEST(test_disk_read_only_directory)
{
    /* As root, permissions do not stop a write: the directory is then
     * bind-mounted read-only over itself in a mount namespace of tg's own
     * (unshare -m). Otherwise it is made read-only with chmod. */
    const char *path = in_dir("m.ckpt");
    first_checkpoint(path);
    char bin[2048], args[1024];
    if (geteuid() == 0)
        snprintf(bin, sizeof bin, "unshare -m sh -c 'mount --bind %s %s && mount -o remount,bind,ro %s %s && "
                 "exec \"$0\" \"$@\"' %s", dir, dir, dir, dir, tg_bin());
    else {
        ck_assert_int_eq(chmod(dir, 0555), 0);
        snprintf(bin, sizeof bin, "%s", tg_bin());
    }
    snprintf(args, sizeof args, "train --data-dir %s --hidden 8 --epochs 1 --save %s", dir, path);
    int status = run_program(bin, args);
    if (geteuid() != 0) ck_assert_int_eq(chmod(dir, 0755), 0);
    ck_assert_msg(status == 1, "exit %d:\n%s", status, tg_output);
    ck_assert_msg(strstr(tg_output, "Read-only file system") || strstr(tg_output, "Permission denied"), "%s",
                  tg_output);
    ck_assert_msg(strstr(tg_output, "epoch") == NULL, "tg trained before finding it could not save:\n%s", tg_output);
    assert_untouched(path);
}
END_TEST

START_TEST(test_disk_missing_directory)
{
    char flags[1024];
    snprintf(flags, sizeof flags, "--epochs 1 --save %s", in_dir("no/such/dir/m.ckpt"));
    ck_assert_int_eq(train(flags), 1);
    ck_assert_msg(strstr(tg_output, "no/such/dir/m.ckpt: No such file or directory"), "%s", tg_output);
    ck_assert_msg(strstr(tg_output, "epoch") == NULL, "tg trained before finding it could not save:\n%s", tg_output);
    ck_assert(!exists(in_dir("no")));
    snprintf(flags, sizeof flags, "--epochs 1 --save %s", dir);
    ck_assert_int_eq(train(flags), 1);
    ck_assert_msg(strstr(tg_output, "is a directory"), "%s", tg_output);
}
END_TEST

/* ---- kill and resume ---- */

#define KILL_RUN "--hidden 32 --batch-size 16 --optimizer adam --lr 0.003 --schedule cosine --t-max 200 --epochs 8"

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void sleep_for(double s)
{
    struct timespec t = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
    nanosleep(&t, NULL);
}

/* Starts tg train KILL_RUN --save path in the background. */
static pid_t start_training(const char *path)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "exec %s train --data-dir %s " KILL_RUN " --save %s >/dev/null 2>&1", tg_bin(), dir,
             path);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

START_TEST(test_kill_and_resume_gives_the_same_checkpoint)
{
    write_tiny_dataset(dir, 1000, true);
    char args[2048];
    /* The whole run, timed from its first checkpoint to its end: the window
     * the kills below fall in (timing the run from its start would count
     * the start-up, longer on a cold first run, and kill after the end) */
    pid_t whole = start_training(in_dir("whole.ckpt"));
    while (!exists(in_dir("whole.ckpt")) && waitpid(whole, NULL, WNOHANG) == 0) sleep_for(200e-6);
    double started = seconds();
    int whole_status;
    ck_assert_int_eq(waitpid(whole, &whole_status, 0), whole);
    ck_assert_msg(WIFEXITED(whole_status) && WEXITSTATUS(whole_status) == 0, "the whole run failed");
    double whole_run = seconds() - started;
    /* Kill at a random moment between the first checkpoint and the end,
     * several times; the seed is printed should one fail. */
    unsigned seed = (unsigned)time(NULL);
    srand(seed);
    const char *path = in_dir("killed.ckpt");
    int killed = 0; /* rounds where the kill came before the end */
    for (int round = 0; round < 6; round++) {
        unlink(path);
        pid_t pid = start_training(path);
        while (!exists(path) && waitpid(pid, NULL, WNOHANG) == 0) sleep_for(200e-6);
        double delay = whole_run * rand() / RAND_MAX;
        sleep_for(delay);
        kill(pid, SIGKILL);
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        killed += WIFSIGNALED(status);
        ck_assert_msg(exists(path), "seed %u round %d: no checkpoint after the kill", seed, round);
        assert_loads(path);
        snprintf(args, sizeof args, "train --resume %s --data-dir %s --save %s", path, dir, path);
        ck_assert_msg(run_tg(args) == 0, "seed %u round %d: resuming failed:\n%s", seed, round, tg_output);
        ck_assert_msg(same_file(path, in_dir("whole.ckpt")),
                      "seed %u round %d (killed after %.3f s): the resumed run's checkpoint differs", seed, round,
                      delay);
    }
    ck_assert_msg(killed >= 2, "seed %u: only %d of 6 runs were still training when killed", seed, killed);
}
END_TEST

static Suite *disk_suite(void)
{
    Suite *s = suite_create("disk");
    TCase *tc = tcase_create("disk failures");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, make_root, remove_root);
    tcase_add_checked_fixture(tc, setup, remove_dir);
    tcase_add_test(tc, test_disk_full_device);
    tcase_add_test(tc, test_disk_full_keeps_the_old_checkpoint);
    tcase_add_test(tc, test_disk_read_only_directory);
    tcase_add_test(tc, test_disk_missing_directory);
    tcase_add_test(tc, test_kill_and_resume_gives_the_same_checkpoint);
    suite_add_tcase(s, tc);
    return s;
}

TG_TEST_MAIN(disk_suite)
