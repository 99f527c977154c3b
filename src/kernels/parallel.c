/* parallel.c — a small pool of worker threads for the kernels.
 *
 * tg__parallel_run(count, fn, ctx) runs fn(ctx, 0..count-1): the caller
 * and the workers claim the tasks in index order, each task once, so a
 * kernel that gives each task a fixed part of its output computes the same
 * bits whatever the timing and whichever thread runs which task. Claiming
 * (rather than task i on worker i) keeps a step going when the host
 * deschedules a worker: the others take its task instead of waiting for it.
 * Workers spin briefly before sleeping on a condition variable: a training
 * step dispatches several GEMMs a millisecond, and waking a sleeping thread
 * costs tens of microseconds.
 *
 * The pool starts on first use and grows to the largest count asked for;
 * if a thread cannot be started the caller claims the tasks it would have
 * run, so a run never fails, it only gets slower. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
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
    int count;                   /* tasks 0..count-1 */
    atomic_uint generation;      /* bumped for each job */
    /* the job's generation (high half) and its next unclaimed task (low
     * half): a worker that wakes after its job ended cannot claim a task
     * of the next one */
    _Atomic uint64_t claim;
    atomic_int pending;          /* tasks of the job not yet finished */
    atomic_int ready;            /* workers past their set-up */
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .done = PTHREAD_COND_INITIALIZER};

static atomic_int thread_setting; /* 0: not decided yet */
/* One job at a time: the pool is shared by every thread of the program. */
static pthread_mutex_t one_job = PTHREAD_MUTEX_INITIALIZER;
/* Set while a job runs: a kernel called from inside a task runs serially. */
static _Thread_local bool in_task;

/* ---- per-thread scratch ---- */
typedef struct scratch {
    size_t floats;
    float *data;
} scratch;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void free_scratch(void *p)
{
    scratch *s = p;
    if (s) free(s->data), free(s);
}
static void make_scratch_key(void) { (void)pthread_key_create(&scratch_key, free_scratch); }

float *tg__thread_scratch(size_t floats)
{
    if (pthread_once(&scratch_once, make_scratch_key) != 0) return NULL;
    scratch *s = pthread_getspecific(scratch_key);
    if (s && s->floats >= floats) return s->data;
    if (!s && !(s = calloc(1, sizeof *s))) return NULL;
    size_t rounded = (floats + 15) / 16 * 16; /* aligned_alloc wants a multiple of the alignment */
    free(s->data);
    s->data = aligned_alloc(64, rounded * sizeof(float));
    s->floats = s->data ? floats : 0;
    if (pthread_setspecific(scratch_key, s) != 0 || !s->data) {
        free_scratch(s);
        (void)pthread_setspecific(scratch_key, NULL);
        return NULL;
    }
    return s->data;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Claims and runs job gen's tasks until none is left unclaimed; whoever
 * finishes the job's last task wakes the caller. */
static void run_claimed(unsigned gen, tg__task *fn, void *ctx, int count)
{
    for (;;) {
        uint64_t c = atomic_load_explicit(&pool.claim, memory_order_acquire);
        if ((unsigned)(c >> 32) != gen || (int)(uint32_t)c >= count) return;
        if (!atomic_compare_exchange_weak_explicit(&pool.claim, &c, c + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        fn(ctx, (int)(uint32_t)c, count);
        if (atomic_fetch_sub_explicit(&pool.pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&pool.lock);
            pthread_cond_signal(&pool.done);
            pthread_mutex_unlock(&pool.lock);
        }
    }
}

static void *worker(void *arg)
{
    (void)arg;
    unsigned seen = 0;
    in_task = true;
    (void)tg__thread_scratch(TG__SCRATCH_FLOATS); /* NULL: GEMM then packs on the stack */
    atomic_fetch_add_explicit(&pool.ready, 1, memory_order_release);
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
        int count = pool.count;
        pthread_mutex_unlock(&pool.lock);
        run_claimed(seen, fn, ctx, count);
    }
    return NULL;
}

/* A child of fork() has only the thread that forked: it starts its own
 * workers when it first needs them. */
static void forget_workers(void)
{
    pool.started = 0;
    atomic_store(&pool.ready, 0);
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
    /* a new worker's scratch is allocated now, during the step that
     * started it, not later inside some warm step */
    while (atomic_load_explicit(&pool.ready, memory_order_acquire) < pool.started) sched_yield();
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
        /* the caller's scratch too, whether or not it claims a GEMM task
         * of this job: the workers may take them all */
        (void)tg__thread_scratch(TG__SCRATCH_FLOATS);
        int threads = count < tg_threads() ? count : tg_threads(); /* more tasks: claimed in turn */
        if (threads > 1 && start_workers(threads - 1) > 0) {
            pthread_mutex_lock(&pool.lock);
            pool.fn = fn, pool.ctx = ctx, pool.count = count;
            atomic_store_explicit(&pool.pending, count, memory_order_relaxed);
            unsigned gen = atomic_load_explicit(&pool.generation, memory_order_relaxed) + 1;
            atomic_store_explicit(&pool.claim, (uint64_t)gen << 32, memory_order_release);
            atomic_store_explicit(&pool.generation, gen, memory_order_release);
            pthread_cond_broadcast(&pool.wake);
            pthread_mutex_unlock(&pool.lock);
            in_task = true;
            run_claimed(gen, fn, ctx, count);
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
