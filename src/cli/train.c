/* train.c — `tg train`: the lectures' FashionMNIST training script as a
 * command: mini-batches shuffled each epoch, any optimizer and schedule,
 * penalties, clipping, evaluation after each epoch, checkpoints after each
 * epoch that a resumed run continues bit for bit. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, isatty, fileno */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "data_parallel.h"
#include "session.h"

/* The flags of the run's configuration come from their tables (session.c's
 * fields, the model kinds, the optimizers); the rest are listed here. */
static void print_usage(FILE *f)
{
    fputs("usage: tg train [options]\n", f);
    config_usage(f);
    fputs("  optimizer: --optimizer sgd|adagrad|rmsprop|adam|adamw|nadam|radam|lion (sgd) and its\n"
          "             options as in tg optimize (--lr --momentum --betas B1,B2 ...)\n"
          "             --schedule NAME [options]  --clip-norm F  --clip-value F\n"
          "  files:     --data-dir DIR (or $TG_DATA_DIR)  --save FILE (a checkpoint after every epoch)\n"
          "             --resume FILE  --init W.safetensors (start from these weights: tg export's, PyTorch's)\n"
          "             --log FILE.csv  --metrics FILE.json\n"
          "             --threads N (or $TG_THREADS; default: every core; results are the same for any N)\n"
          "  debugging: --check-numerics (or $TG_CHECK_NUMERICS=1): stop at the first NaN or infinity an op\n"
          "             produces, forward or backward, naming the op and its inputs' ranges\n"
          "  several processes: mpirun -np N build/tg-mpi train [options] (make mpi builds it): each rank\n"
          "             takes its slice of every batch; a rank waiting $TG_DIST_TIMEOUT s (60) for the others stops\n",
          f);
}

/* ---- the data: training rows, evaluation rows ---- */

typedef struct data {
    tg_dataset train, test;
    int *train_rows, n_train;   /* after the validation split */
    int *eval_rows, n_eval;     /* validation rows (of train), or test rows */
    int *test_rows, n_test;
    bool validating;
} data;

static int *iota(int n)
{
    int *a = malloc((size_t)(n ? n : 1) * sizeof *a);
    for (int i = 0; a && i < n; i++) a[i] = i;
    return a;
}

static bool out_of_memory(void)
{
    fprintf(stderr, "tg: out of memory\n");
    return false;
}

static void data_free(data *d)
{
    tg_dataset_free(&d->train);
    tg_dataset_free(&d->test);
    free(d->train_rows), free(d->eval_rows), free(d->test_rows);
}

/* Loads both sets, keeps the first train_samples / test_samples, and splits
 * off val_split of the training rows at random (its own seeded stream). */
static bool data_load(data *d, const train_config *c, const run_paths *p)
{
    memset(d, 0, sizeof *d);
    const char *dir = data_dir_for(c, p);
    if (!load_dataset(c, dir, true, &d->train) || !load_dataset(c, dir, false, &d->test)) return false;
    int n = c->train_samples && c->train_samples < d->train.n ? c->train_samples : d->train.n;
    d->n_test = c->test_samples && c->test_samples < d->test.n ? c->test_samples : d->test.n;
    int *all = iota(n);
    d->test_rows = iota(d->n_test);
    if (!all || !d->test_rows) {
        free(all);
        return out_of_memory();
    }
    int n_val = (int)lround(n * c->val_split);
    if (n_val > 0) {
        tg_rng split;
        seed_stream(&split, c->seed, 2);
        tg_rng_shuffle(&split, all, n);
        d->eval_rows = malloc((size_t)n_val * sizeof(int));
        d->train_rows = malloc((size_t)(n - n_val) * sizeof(int));
        if (!d->eval_rows || !d->train_rows) {
            free(all);
            return out_of_memory();
        }
        memcpy(d->eval_rows, all, (size_t)n_val * sizeof(int));
        memcpy(d->train_rows, all + n_val, (size_t)(n - n_val) * sizeof(int));
        free(all);
        d->n_eval = n_val, d->n_train = n - n_val;
        d->validating = true;
    } else {
        d->train_rows = all, d->n_train = n;
        d->eval_rows = iota(d->n_test), d->n_eval = d->n_test;
    }
    if (d->n_train < 1) {
        fprintf(stderr, "tg: no training rows left after the validation split\n");
        return false;
    }
    return d->eval_rows ? true : out_of_memory();
}

/* ---- progress ---- */

typedef struct progress {
    bool live;          /* a terminal: redraw a bar */
    double started, last_draw;
} progress;

static void draw_bar(progress *pr, int epoch, int epochs, long done, long total, double loss, double rate)
{
    double t = clock_seconds();
    if (!pr->live || (t - pr->last_draw < 0.1 && done < total)) return;
    pr->last_draw = t;
    int width = 24, fill = total ? (int)(width * done / total) : width;
    char bar[32];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
    bar[width] = '\0';
    double eta = rate > 0 ? (total - done) / rate : 0;
    fprintf(stderr, "\r\033[Kepoch %d/%d [%s] %ld/%ld  loss %.4f  %.0f samples/s  ETA %d:%02d", epoch, epochs, bar,
            done, total, loss, rate, (int)eta / 60, (int)eta % 60);
    fflush(stderr);
}

static void clear_bar(const progress *pr)
{
    if (pr->live) fprintf(stderr, "\r\033[K");
}

/* ---- the run ---- */

typedef struct trainer {
    const train_config *c;
    const run_paths *p;
    const dist_engine *dist;     /* the ranks (mpirun -np N); one process: the local engine */
    bool rank0;                  /* prints, logs and saves */
    char who[40];                /* "rank 1 of 2: " before this rank's messages; "" alone */
    data_parallel dp;
    session s;
    data d;
    tg_graph *g;
    float *x;                    /* (batch, pixels) */
    int *y, *rows;               /* (batch), (n_train) */
    FILE *log;
    double train_seconds;        /* forward, backward, step: nothing else */
    double last_train_loss;
    long train_samples_timed;
} trainer;

/* A row of --log: a step row (the interval's mean loss and the standard
 * deviation of its batch losses, eval columns empty) or an epoch's
 * evaluation row (eval columns filled, spread empty). */
static void log_row(trainer *t, int epoch, double lr, double train_loss, double batch_std, const eval_result *e)
{
    if (!t->log) return;
    fprintf(t->log, "%d,%llu,%llu,%.9g,%.9g", epoch, (unsigned long long)t->s.step,
            (unsigned long long)t->s.samples_seen, lr, train_loss);
    if (e)
        fprintf(t->log, ",%.9g,%.9g,\n", e->loss, e->accuracy);
    else
        fprintf(t->log, ",,,%.9g\n", batch_std);
    fflush(t->log);
}

/* The forward and backward of rows[0..m) (m >= 1): false when an op
 * failed (tg_last_error() says why); *loss their mean cross-entropy. */
static bool forward_backward(trainer *t, const int *rows, int m, double *loss_out)
{
    const train_config *c = t->c;
    session *s = &t->s;
    const tg_dataset *d = &t->d.train;
    tg_graph *g = t->g;
    tg_tensor *x = tg_dataset_batch(d, rows, m, s->mean, s->std, t->x, t->y) == TG_OK
                       ? tg_from_blob(g, t->x, TG_SHAPE(m, d->channels, d->rows, d->cols))
                       : NULL;
    tg_class_loss_opts ce = {.label_smoothing = (float)c->label_smoothing};
    tg_tensor *loss = tg_cross_entropy(g, tg_module_forward(s->model, g, x), t->y, &ce);
    tg_tensor *total = loss;
    if (c->l1 > 0) total = tg_add(g, total, tg_l1_penalty(g, s->weights, s->n_weights, (float)c->l1));
    if (c->l2 > 0) total = tg_add(g, total, tg_l2_penalty(g, s->weights, s->n_weights, (float)c->l2));
    tg_optim_zero_grad(s->opt);
    tg_status st = total ? tg_backward(total) : TG_ERR_ARG;
    *loss_out = st == TG_OK ? loss->data[0] : NAN;
    return st == TG_OK;
}

/* One optimizer step on the global batch rows[0..m), of which this rank
 * computes its slice: false when an op failed here (tg_last_error() says
 * why) or on another rank (*others); *loss is the batch's mean
 * cross-entropy. */
static bool train_step(trainer *t, const int *rows, int m, double *loss_out, bool *others)
{
    const train_config *c = t->c;
    session *s = &t->s;
    double t0 = clock_seconds();
    int lo, hi;
    data_parallel_slice(&t->dp, m, &lo, &hi);
    data_parallel_begin_step(&t->dp, s);
    bool ok = true;
    *loss_out = 0.0;
    if (hi > lo) ok = forward_backward(t, rows + lo, hi - lo, loss_out);
    else tg_optim_zero_grad(s->opt);
    tg_status st = data_parallel_sum_gradients(&t->dp, ok, hi - lo, m, loss_out, others) ? TG_OK : TG_ERR_ARG;
    if (st == TG_OK && c->optim.clip_norm > 0) tg_clip_grad_norm(s->params, s->n_params, c->optim.clip_norm);
    if (st == TG_OK && c->optim.clip_value > 0) tg_clip_grad_value(s->params, s->n_params, c->optim.clip_value);
    if (st == TG_OK) st = tg_optim_step(s->opt);
    if (st == TG_OK && s->sched && !c->schedule_per_epoch) st = tg_sched_step(s->sched);
    if (st == TG_OK && !data_parallel_share_buffers(&t->dp)) st = TG_ERR_ARG, *others = true;
    if (st != TG_OK) *loss_out = NAN;
    tg_graph_reset(t->g);
    t->train_seconds += clock_seconds() - t0;
    t->train_samples_timed += m;
    s->step++;
    s->samples_seen += (uint64_t)m;
    return st == TG_OK;
}

static void diverged(const trainer *t, int epoch, double loss)
{
    fprintf(stderr,
            "tg train: the loss became %s at epoch %d, step %llu (lr %g): training diverged. Lower the "
            "learning rate (--lr), clip gradients (--clip-norm 1), or check the input scaling (--normalize).%s\n",
            isnan(loss) ? "NaN" : "infinite", epoch, (unsigned long long)t->s.step, tg_optim_lr(t->s.opt, 0),
            t->p->save ? " The last checkpoint is untouched." : "");
}

/* One epoch: the mean training loss, or NaN after printing why. */
static double train_epoch(trainer *t, int epoch, progress *pr)
{
    const train_config *c = t->c;
    memcpy(t->rows, t->d.train_rows, (size_t)t->d.n_train * sizeof *t->rows);
    if (!c->no_shuffle) tg_rng_shuffle(&t->s.rng, t->rows, t->d.n_train); /* as torch's RandomSampler */
    double sum = 0, since_log = 0, rate = 0;
    double batch_sum = 0, batch_sq = 0; /* of the interval's batch losses */
    long batches = 0;
    long seen = 0, logged_samples = 0;
    double started = clock_seconds();
    for (int start = 0; start < t->d.n_train; start += c->batch_size) {
        int m = t->d.n_train - start < c->batch_size ? t->d.n_train - start : c->batch_size;
        double loss;
        bool others;
        bool ok = train_step(t, t->rows + start, m, &loss, &others);
        if (!ok || !isfinite(loss)) {
            clear_bar(pr); /* first: the message gets a line of its own, not the end of the bar's */
            if (!ok && !others) fprintf(stderr, "tg train: %s%s\n", t->who, tg_last_error());
            else if (!ok && t->rank0) fprintf(stderr, "tg train: another rank stopped (its message is above)\n");
            else if (ok && t->rank0) diverged(t, epoch, loss);
            return NAN;
        }
        sum += loss * m, since_log += loss * m, seen += m, logged_samples += m;
        batch_sum += loss, batch_sq += loss * loss, batches++;
        if (logged_samples >= c->log_every) {
            /* the spread of the batch losses: gradient noise made visible */
            double mean = batch_sum / batches, var = batch_sq / batches - mean * mean;
            log_row(t, epoch, tg_optim_lr(t->s.opt, 0), since_log / logged_samples, sqrt(var > 0 ? var : 0), NULL);
            since_log = 0, logged_samples = 0, batch_sum = 0, batch_sq = 0, batches = 0;
        }
        rate = seen / (clock_seconds() - started);
        draw_bar(pr, epoch, c->epochs, seen, t->d.n_train, sum / seen, rate);
    }
    return sum / seen;
}

typedef struct train_metrics {
    const trainer *t;
    const eval_result *test, *val;
    double seconds;
} train_metrics;

static tg_status train_json(FILE *f, void *ctx)
{
    const train_metrics *m = ctx;
    const trainer *t = m->t;
    fprintf(f, "{\n  \"dataset\": \"%s\",\n  \"epochs\": %d,\n  \"steps\": %llu,\n  \"samples_seen\": %llu,\n",
            t->c->dataset, t->s.epoch, (unsigned long long)t->s.step, (unsigned long long)t->s.samples_seen);
    fprintf(f, "  \"train_loss\": %.9g,\n  \"test_loss\": %.9g,\n  \"test_accuracy\": %.9g,\n", t->last_train_loss,
            m->test->loss, m->test->accuracy);
    if (m->val) fprintf(f, "  \"val_loss\": %.9g,\n  \"val_accuracy\": %.9g,\n", m->val->loss, m->val->accuracy);
    struct rusage ru;
    double max_rss_mb = getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss / 1024.0 : 0.0; /* Linux: kilobytes */
    fprintf(f, "  \"train_samples_per_s\": %.1f,\n  \"threads\": %d,\n  \"ranks\": %d,\n  \"max_rss_mb\": %.1f,\n"
               "  \"seconds\": %.3f\n}\n",
            t->train_seconds > 0 ? t->train_samples_timed / t->train_seconds : 0.0, tg_threads(), t->dist->size,
            max_rss_mb, m->seconds);
    return TG_OK;
}

static bool write_metrics(const char *path, const trainer *t, const eval_result *test, const eval_result *val,
                          double seconds)
{
    train_metrics m = {t, test, val, seconds};
    if (tg_file_write_atomic(path, "the metrics", train_json, &m) == TG_OK) return true;
    fprintf(stderr, "tg train: %s\n", tg_last_error());
    return false;
}

static bool trainer_buffers(trainer *t)
{
    int pixels = t->d.train.channels * t->d.train.rows * t->d.train.cols;
    t->g = tg_graph_new();
    t->x = malloc((size_t)t->c->batch_size * pixels * sizeof *t->x);
    t->y = malloc((size_t)t->c->batch_size * sizeof *t->y);
    t->rows = malloc((size_t)t->d.n_train * sizeof *t->rows);
    if (!t->g || !t->x || !t->y || !t->rows) {
        fprintf(stderr, "tg train: out of memory\n");
        return false;
    }
    return true;
}

static void trainer_free(trainer *t)
{
    if (t->log) fclose(t->log);
    data_parallel_free(&t->dp);
    tg_graph_free(t->g);
    free(t->x), free(t->y), free(t->rows);
    session_free(&t->s);
    data_free(&t->d);
}

/* The loss and accuracy of rows[0..n) of d: each rank evaluates its slice
 * and the counts are summed; false after a message. */
static bool evaluate_split(trainer *t, const tg_dataset *d, const int *rows, int n, eval_result *e)
{
    int lo, hi;
    data_parallel_slice(&t->dp, n, &lo, &hi);
    bool ok = evaluate(&t->s, d, rows + lo, hi - lo, e, NULL);
    if (data_parallel_sum_eval(&t->dp, ok, e)) return true;
    if (ok && t->rank0) fprintf(stderr, "tg train: the evaluation failed on another rank (its message is above)\n");
    return false;
}

/* The checkpoint after an epoch (--save), written by rank 0 alone; false
 * after a message when it could not be written. */
static bool save(trainer *t)
{
    bool ok = true;
    if (t->rank0 && t->p->save && session_save(&t->s, t->c, t->p->save) != TG_OK) {
        fprintf(stderr, "tg train: %s\n", tg_last_error());
        ok = false;
    }
    return data_parallel_agree(t->dist, ok);
}

/* Epochs from s.epoch + 1 to c.epochs; EXIT_OK, or EXIT_FAIL after a
 * message. */
static int run_epochs(trainer *t)
{
    const train_config *c = t->c;
    session *s = &t->s;
    progress pr = {.live = t->rank0 && isatty(fileno(stderr))};
    for (int epoch = s->epoch + 1; epoch <= c->epochs; epoch++) {
        double started = clock_seconds(), samples_before = (double)t->train_samples_timed, timed_before = t->train_seconds;
        double train_loss = train_epoch(t, epoch, &pr);
        if (isnan(train_loss)) return EXIT_FAIL;
        t->last_train_loss = train_loss;
        eval_result e;
        if (!evaluate_split(t, t->d.validating ? &t->d.train : &t->d.test, t->d.eval_rows, t->d.n_eval, &e))
            return EXIT_FAIL;
        clear_bar(&pr);
        const char *what = t->d.validating ? "val" : "test";
        double rate = (t->train_samples_timed - samples_before) / (t->train_seconds - timed_before);
        if (t->rank0)
            printf("epoch %2d/%d  train loss %.4f  %s loss %.4f  %s acc %.2f%%  %.0f samples/s  %.1f s\n", epoch,
                   c->epochs, train_loss, what, e.loss, what, 100 * e.accuracy, rate, clock_seconds() - started);
        fflush(stdout);
        log_row(t, epoch, tg_optim_lr(s->opt, 0), train_loss, NAN, &e);
        if (s->sched && c->schedule_per_epoch) tg_sched_step_metric(s->sched, e.loss);
        bool better = e.loss < s->best_eval_loss;
        s->best_eval_loss = better ? e.loss : s->best_eval_loss;
        s->bad_epochs = better ? 0 : s->bad_epochs + 1;
        s->epoch = epoch;
        if (!data_parallel_check(&t->dp, s, c, epoch) || !save(t)) return EXIT_FAIL;
        if (c->early_stop && s->bad_epochs >= c->early_stop) {
            if (t->rank0) printf("early stop: the %s loss has not improved for %d epochs\n", what, s->bad_epochs);
            break;
        }
    }
    return EXIT_OK;
}

/* Before any training: can checkpoints be saved to path (its directory
 * exists and takes a new file)? Else a long run would end in an error.
 * A device or a pipe (/dev/null) is taken as it is. */
static bool can_save_to(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (!S_ISDIR(st.st_mode)) return true;
        fprintf(stderr, "tg train: --save %s is a directory\n", path);
        return false;
    }
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        fprintf(stderr, "tg train: --save %s: the path is too long\n", path);
        return false;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0 && errno != EEXIST) { /* EEXIST: a killed run's, replaced at the first save */
        fprintf(stderr, "tg train: cannot save checkpoints to %s: %s\n", path, strerror(errno));
        return false;
    }
    if (fd >= 0) close(fd), unlink(tmp);
    return true;
}

/* Parses train's flags: the run's config (from the checkpoint when
 * resuming, where only --epochs may change) and its paths. */
static int parse(int argc, char **argv, train_config *c, run_paths *p, tg_checkpoint **ck)
{
    config_defaults(c);
    int epochs = 0;
    const char *config_flag_seen = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            print_usage(stdout);
            return -1;
        }
        int used = paths_flag(p, argc, argv, &i);
        if (!used && !strcmp(argv[i], "--epochs")) {
            uint64_t v;
            if (i + 1 >= argc || !arg_u64("--epochs", argv[i + 1], &v) || v < 1 || v > 1000000) {
                fprintf(stderr, "tg train: --epochs needs a number of epochs (1 or more)\n");
                return EXIT_USAGE;
            }
            epochs = (int)v, i++, used = 1;
        }
        if (!used) {
            const char *flag = argv[i];
            used = config_flag(c, argc, argv, &i);
            if (used > 0) config_flag_seen = flag;
        }
        if (used < 0) return EXIT_USAGE;
        if (!used) {
            fprintf(stderr, "tg train: unknown option '%s'\n", argv[i]);
            print_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (p->resume && p->init) {
        fprintf(stderr, "tg train: --init starts a new run from given weights; --resume continues one: not both\n");
        return EXIT_USAGE;
    }
    if (p->resume) {
        if (config_flag_seen) {
            fprintf(stderr, "tg train: %s cannot change a resumed run: it continues with the configuration in %s "
                            "(only --epochs may raise the total)\n", config_flag_seen, p->resume);
            return EXIT_USAGE;
        }
        if (!checkpoint_config(p->resume, ck, c)) return EXIT_FAIL;
    } else if (!config_finish(c)) {
        return EXIT_USAGE;
    }
    if (epochs) c->epochs = epochs;
    return EXIT_OK;
}

/* Everything before the first epoch, on this rank: false after a message. */
static bool set_up(trainer *t, tg_checkpoint *ck)
{
    const train_config *c = t->c;
    const run_paths *p = t->p;
    if (t->rank0 && p->save && !can_save_to(p->save)) return false;
    if (!data_load(&t->d, c, p)) return false;
    tg_sample_shape shape = {t->d.train.channels, t->d.train.rows, t->d.train.cols};
    if (!session_new(&t->s, c, shape, t->d.train.n_classes)) return false;
    if (ck && !session_load(&t->s, c, ck)) return false;
    if (p->init && tg_module_load(t->s.model, p->init) != TG_OK) {
        fprintf(stderr, "tg train: --init: %s\n", tg_last_error());
        return false;
    }
    if (!ck && c->normalize) tg_dataset_stats(&t->d.train, &t->s.mean, &t->s.std);
    if (!trainer_buffers(t) || !data_parallel_init(&t->dp, t->dist, &t->s, c->seed)) return false;
    if (t->rank0 && p->log) {
        bool append = ck != NULL;
        t->log = fopen(p->log, append ? "a" : "w");
        if (!t->log) {
            fprintf(stderr, "tg train: %s: cannot write: %s\n", p->log, strerror(errno));
            return false;
        }
        if (!append || ftell(t->log) == 0)
            fprintf(t->log, "epoch,step,samples_seen,lr,train_loss,eval_loss,eval_accuracy,batch_loss_std\n");
    }
    return true;
}

/* Under mpirun: which rank this is, and (unless --threads or $TG_THREADS
 * says) a share of the machine's cores for each of its ranks, so that two
 * ranks on two cores do not run four threads. */
static void join_ranks(trainer *t)
{
    const dist_engine *e = t->dist;
    t->rank0 = e->rank == 0;
    if (e->size > 1) snprintf(t->who, sizeof t->who, "rank %d of %d: ", e->rank, e->size);
    if (e->local_size > 1 && !t->p->threads && !getenv("TG_THREADS")) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        tg_set_threads(cores > e->local_size ? (int)(cores / e->local_size) : 1);
    }
}

int cmd_train(int argc, char **argv)
{
    double started = clock_seconds();
    train_config c;
    run_paths p = {0};
    tg_checkpoint *ck = NULL;
    int code = parse(argc, argv, &c, &p, &ck);
    if (code || cli_parse_only) {
        tg_checkpoint_free(ck);
        return code < 0 ? EXIT_OK : code;
    }
    trainer t = {.c = &c, .p = &p, .dist = dist_open()};
    if (!t.dist) {
        tg_checkpoint_free(ck);
        return EXIT_FAIL;
    }
    join_ranks(&t);
    code = EXIT_FAIL;
    bool ok = set_up(&t, ck);
    if (!data_parallel_agree(t.dist, ok)) {
        if (ok && t.rank0) fprintf(stderr, "tg train: another rank could not start (its message is above)\n");
        goto done;
    }
    if (!data_parallel_check(&t.dp, &t.s, &c, 0)) goto done;
    char desc[512];
    config_describe(&c, desc, sizeof desc);
    if (t.rank0) {
        printf("%s%s: %d training images, %d %s images", ck ? "resuming " : "", desc, t.d.n_train, t.d.n_eval,
               t.d.validating ? "validation" : "test");
        if (t.dist->size > 1) printf("; %d ranks of %d thread%s", t.dist->size, tg_threads(), tg_threads() > 1 ? "s" : "");
        printf("\n");
        if (ck) printf("resumed after epoch %d of %d (step %llu)\n", t.s.epoch, c.epochs, (unsigned long long)t.s.step);
    }
    fflush(stdout);
    if ((code = run_epochs(&t)) != EXIT_OK) goto done;
    eval_result test, val;
    code = EXIT_FAIL;
    if (!evaluate_split(&t, &t.d.test, t.d.test_rows, t.d.n_test, &test)) goto done;
    if (t.d.validating && !evaluate_split(&t, &t.d.train, t.d.eval_rows, t.d.n_eval, &val)) goto done;
    if (t.rank0) printf("test accuracy %.2f%%  test loss %.4f\n", 100 * test.accuracy, test.loss);
    ok = !t.rank0 || !p.metrics ||
         write_metrics(p.metrics, &t, &test, t.d.validating ? &val : NULL, clock_seconds() - started);
    if (data_parallel_agree(t.dist, ok)) code = EXIT_OK;
done:
    trainer_free(&t);
    tg_checkpoint_free(ck);
    t.dist->close();
    return code;
}
