/* dist_mpi.c — the Open MPI engine (make mpi builds it into build/tg-mpi).
 * Started by mpirun, tg train runs as one rank of MPI_COMM_WORLD; run by
 * hand it is the local engine, so build/tg-mpi is also a plain tg.
 *
 * Nothing here may hang: MPI's errors return (MPI_ERRORS_RETURN) and are
 * printed, and a watchdog thread ends this rank when a collective has
 * waited longer than $TG_DIST_TIMEOUT seconds (default 60) — a rank that
 * stopped without dying. A rank that dies is mpirun's to notice: it ends
 * the others with SIGTERM, which this file turns into a message. */
#define _POSIX_C_SOURCE 200809L
#include <mpi.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "dist.h"

enum { DEFAULT_TIMEOUT = 60 };

static dist_engine engine;
static int timeout_seconds = DEFAULT_TIMEOUT;
static atomic_llong waiting_since; /* CLOCK_MONOTONIC seconds when a collective began, 0: none */

static long long now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec;
}

/* Writes msg with write(2) only: called from a signal handler, or from the
 * watchdog while the main thread may hold stdio's lock. */
static void say(const char *msg) { (void)!write(STDERR_FILENO, msg, strlen(msg)); }

static void *watchdog(void *arg)
{
    (void)arg;
    for (;;) {
        sleep(1);
        long long since = atomic_load(&waiting_since);
        if (since && now_seconds() - since > timeout_seconds) {
            char msg[320];
            snprintf(msg, sizeof msg,
                     "tg train: rank %d of %d: no answer from the other ranks for %d s (one has stopped or hangs; "
                     "TG_DIST_TIMEOUT sets the wait); stopping. Checkpoints written so far are whole.\n",
                     engine.rank, engine.size, timeout_seconds);
            say(msg);
            _exit(EXIT_FAIL);
        }
    }
    return NULL;
}

static char term_message[200];
static void on_term(int sig)
{
    (void)sig;
    say(term_message);
    _exit(EXIT_FAIL);
}

/* Ends a collective: true if MPI says it worked, else false after a message. */
static bool finished(int rc, const char *what)
{
    atomic_store(&waiting_since, 0);
    if (rc == MPI_SUCCESS) return true;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "error %d", rc);
    fprintf(stderr, "tg train: rank %d of %d: %s failed: %s\n", engine.rank, engine.size, what, text);
    return false;
}

static void begin(void) { atomic_store(&waiting_since, now_seconds()); }

/* A collective on count elements of x, in place. */
typedef int collective(void *x, int count, MPI_Datatype type);
static int allreduce_sum(void *x, int count, MPI_Datatype type)
{
    return MPI_Allreduce(MPI_IN_PLACE, x, count, type, MPI_SUM, MPI_COMM_WORLD);
}
static int broadcast_from_0(void *x, int count, MPI_Datatype type) { return MPI_Bcast(x, count, type, 0, MPI_COMM_WORLD); }

/* call on x[0..n) (elements of size bytes): MPI counts are ints, so larger
 * arrays go in pieces of 2^30. */
static bool in_pieces(collective *call, const char *what, void *x, size_t n, MPI_Datatype type, size_t size)
{
    enum { PIECE = 1 << 30 };
    for (size_t i = 0; i < n; i += PIECE) {
        int count = n - i < PIECE ? (int)(n - i) : PIECE;
        begin();
        if (!finished(call((char *)x + i * size, count, type), what)) return false;
    }
    return true;
}

static bool sum_floats(float *x, size_t n) { return in_pieces(allreduce_sum, "MPI_Allreduce", x, n, MPI_FLOAT, sizeof *x); }
static bool sum_doubles(double *x, size_t n) { return in_pieces(allreduce_sum, "MPI_Allreduce", x, n, MPI_DOUBLE, sizeof *x); }
static bool broadcast_floats(float *x, size_t n) { return in_pieces(broadcast_from_0, "MPI_Bcast", x, n, MPI_FLOAT, sizeof *x); }

static bool gather_u64(uint64_t v, uint64_t *all)
{
    begin();
    return finished(MPI_Allgather(&v, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, MPI_COMM_WORLD), "MPI_Allgather");
}

static void close_mpi(void)
{
    begin(); /* MPI_Finalize waits for the others too */
    MPI_Finalize();
    atomic_store(&waiting_since, 0);
}

/* Started by a launcher? Open MPI's mpirun sets OMPI_COMM_WORLD_SIZE;
 * PMIx launchers (srun, prterun) PMIX_RANK. */
static bool launched(void) { return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK"); }

const dist_engine *dist_open(void)
{
    if (!launched()) return dist_local();
    const char *t = getenv("TG_DIST_TIMEOUT");
    if (t && atoi(t) > 0) timeout_seconds = atoi(t);
    int provided;
    /* Only the main thread calls MPI; tg's kernel threads never do. */
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "tg train: MPI_Init failed: is this run started by mpirun?\n");
        return NULL;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &engine.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &engine.size);
    MPI_Comm local;
    engine.local_size = 1;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local) == MPI_SUCCESS) {
        MPI_Comm_size(local, &engine.local_size);
        MPI_Comm_free(&local);
    }
    engine.sum_floats = sum_floats, engine.sum_doubles = sum_doubles;
    engine.broadcast_floats = broadcast_floats, engine.gather_u64 = gather_u64, engine.close = close_mpi;
    snprintf(term_message, sizeof term_message,
             "tg train: rank %d of %d: stopped by mpirun (another rank ended, or the job was interrupted); "
             "checkpoints written so far are whole.\n", engine.rank, engine.size);
    struct sigaction sa = {.sa_handler = on_term};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&thread, &attr, watchdog, NULL) != 0)
        fprintf(stderr, "tg train: rank %d: no watchdog thread: a stopped rank would make this one wait\n", engine.rank);
    pthread_attr_destroy(&attr);
    return &engine;
}
