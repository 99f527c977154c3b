/* parallel.c — a small pool of worker threads for the kernels.
 *
 * tg__parallel_run(count, fn, ctx) runs fn(ctx, 0..count-1) with task i
 * always on the same worker (the caller runs task 0): a fixed split, so a
 * kernel that gives each task a fixed part of its output computes the same
 * bits whatever the timing. Workers spin briefly before sleeping on a
 * condition variable: a training step dispatches several GEMMs a
 * millisecond, and waking a sleeping thread costs tens of microseconds.
 *
 * The pool starts on first use and grows to the largest count asked for;
 * if a thread cannot be started the remaining tasks run on the caller, so
 * a run never fails, it only gets slower. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "kernels.h"

enum { MAX_WORKERS = 64, SPINS = 20000 };

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    pthread_t thread[MAX_WORKERS];
    int started;                 /* workers running: tasks 1..started */
    /* the current job, written and read under lock */
    tg__task *fn;
    void *ctx;
    int count, jobs;             /* tasks 0..count-1; workers take 1..jobs-1 */
    atomic_uint generation;      /* bumped for each job */
    atomic_int pending;          /* tasks of the job not yet finished */
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .done = PTHREAD_COND_INITIALIZER};

static atomic_int thread_setting; /* 0: not decided yet */
/* One job at a time: the pool is shared by every thread of the program. */
static pthread_mutex_t one_job = PTHREAD_MUTEX_INITIALIZER;
/* Set while a job runs: a kernel called from inside a task runs serially. */
static _Thread_local bool in_task;

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void *worker(void *arg)
{
    int index = (int)(intptr_t)arg;
    unsigned seen = 0;
    in_task = true;
    for (;;) {
        unsigned gen;
        int spins = 0; /* a job is usually a few microseconds away: spin first */
        while ((gen = atomic_load_explicit(&pool.generation, memory_order_acquire)) == seen && spins < SPINS) {
            cpu_relax();
            spins++;
        }
        if (gen == seen) {
            pthread_mutex_lock(&pool.lock);
            while ((gen = atomic_load_explicit(&pool.generation, memory_order_acquire)) == seen)
                pthread_cond_wait(&pool.wake, &pool.lock);
            pthread_mutex_unlock(&pool.lock);
        }
        pthread_mutex_lock(&pool.lock); /* the job's fields as one snapshot */
        seen = atomic_load_explicit(&pool.generation, memory_order_relaxed);
        tg__task *fn = pool.fn;
        void *ctx = pool.ctx;
        int count = pool.count, jobs = pool.jobs;
        pthread_mutex_unlock(&pool.lock);
        if (index < jobs) {
            fn(ctx, index, count);
            if (atomic_fetch_sub_explicit(&pool.pending, 1, memory_order_acq_rel) == 1) {
                pthread_mutex_lock(&pool.lock);
                pthread_cond_signal(&pool.done);
                pthread_mutex_unlock(&pool.lock);
            }
        }
    }
    return NULL;
}

/* A child of fork() has only the thread that forked: it starts its own
 * workers when it first needs them. */
static void forget_workers(void)
{
    pool.started = 0;
    pthread_mutex_init(&one_job, NULL);
    pthread_mutex_init(&pool.lock, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pthread_cond_init(&pool.done, NULL);
}

/* Starts workers up to want (tasks 1..want); returns how many run. */
static int start_workers(int want)
{
    static bool fork_handled;
    if (!fork_handled) fork_handled = pthread_atfork(NULL, NULL, forget_workers) == 0;
    if (want > MAX_WORKERS) want = MAX_WORKERS;
    while (pool.started < want) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int failed = pthread_create(&pool.thread[pool.started], &attr, worker, (void *)(intptr_t)(pool.started + 1));
        pthread_attr_destroy(&attr);
        if (failed) break;
        pool.started++;
    }
    return pool.started;
}

static int online_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MAX_WORKERS + 1 ? MAX_WORKERS + 1 : (int)n;
}

int tg_set_threads(int n)
{
    if (n <= 0) {
        const char *env = getenv("TG_THREADS");
        n = env && atoi(env) > 0 ? atoi(env) : online_cores();
    }
    if (n > MAX_WORKERS + 1) n = MAX_WORKERS + 1;
    atomic_store(&thread_setting, n);
    return n;
}

int tg_threads(void)
{
    int n = atomic_load(&thread_setting);
    return n ? n : tg_set_threads(0);
}

void tg__parallel_run(int count, tg__task *fn, void *ctx)
{
    if (count > 1 && !in_task && pthread_mutex_trylock(&one_job) == 0) {
        int helpers = start_workers(count - 1);
        if (helpers > 0) {
            int jobs = helpers + 1 < count ? helpers + 1 : count;
            pthread_mutex_lock(&pool.lock);
            pool.fn = fn, pool.ctx = ctx, pool.count = count, pool.jobs = jobs;
            atomic_store_explicit(&pool.pending, jobs - 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&pool.generation, 1, memory_order_release);
            pthread_cond_broadcast(&pool.wake);
            pthread_mutex_unlock(&pool.lock);
            in_task = true;
            fn(ctx, 0, count);
            for (int i = jobs; i < count; i++) fn(ctx, i, count); /* tasks no worker could take */
            in_task = false;
            for (int spins = 0; atomic_load_explicit(&pool.pending, memory_order_acquire) > 0 && spins < SPINS; spins++)
                cpu_relax();
            pthread_mutex_lock(&pool.lock);
            while (atomic_load_explicit(&pool.pending, memory_order_acquire) > 0) pthread_cond_wait(&pool.done, &pool.lock);
            pthread_mutex_unlock(&pool.lock);
            pthread_mutex_unlock(&one_job);
            return;
        }
        pthread_mutex_unlock(&one_job);
    }
    for (int i = 0; i < count; i++) fn(ctx, i, count);
}

/* ---- elementwise work cut into one fixed slice per thread ---- */

typedef struct slice_job {
    tg__slice_fn *run;
    size_t n;
    float *bufs[TG__MAX_SLICE_BUFS];
    const void *args;
} slice_job;

static void slice_task(void *ctx, int t, int count)
{
    const slice_job *j = ctx;
    size_t per = (j->n / (size_t)count + 15) & ~(size_t)15; /* whole cache lines */
    size_t lo = per * (size_t)t, hi = lo + per < j->n ? lo + per : j->n;
    if (lo >= hi) return;
    float *bufs[TG__MAX_SLICE_BUFS];
    for (int k = 0; k < TG__MAX_SLICE_BUFS; k++) bufs[k] = j->bufs[k] ? j->bufs[k] + lo : NULL;
    j->run(hi - lo, bufs, j->args);
}

void tg__run_sliced(tg__slice_fn *run, size_t n, float *const *bufs, const void *args)
{
    slice_job j = {run, n, {NULL}, args};
    for (int k = 0; k < TG__MAX_SLICE_BUFS; k++) j.bufs[k] = bufs[k];
    int threads = n < TG__SLICE_MIN ? 1 : tg_threads();
    if (threads > 1)
        tg__parallel_run(threads, slice_task, &j);
    else
        run(n, j.bufs, args);
}
