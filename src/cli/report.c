/* report.c — `tg report DIR`: the lectures' experiments, from the runs that
 * scripts/experiments.sh leaves in DIR, to DIR/summary.csv, DIR/plots.gp
 * (for gnuplot) and DIR/REPORT.md. Every statement in the report is computed
 * from the runs' numbers; where a run disagrees with the lecture, the report
 * says so. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"

enum { MAX_RUNS = 64, MAX_POINTS = 20000, MAX_EPOCHS = 200 };

/* The cross-entropy of a network that knows nothing, -log(1/10): where
 * every FashionMNIST run starts, and the yardstick of "far above" and
 * "flat". */
#define CHANCE_LOSS 2.302585093

typedef struct run {
    char name[64], group[16], optimizer[16];
    double lr, momentum;
    int batch_size, epochs, exit_code;
    double seconds;
    /* from its --log */
    int n;                        /* step rows */
    double *samples, *loss;       /* (n) */
    double *spread;               /* (n) standard deviation of the batch losses in each interval */
    double total_samples;         /* seen by the end (the last evaluation row) */
    double final_train_loss;      /* mean over the last epoch (its evaluation row) */
    double test_loss, test_accuracy;
    int n_epochs;                 /* evaluation rows: after each epoch, (n_epochs) */
    double epoch_train_loss[MAX_EPOCHS], epoch_test_loss[MAX_EPOCHS], epoch_accuracy[MAX_EPOCHS];
    bool diverged;
    /* from its --metrics json, when it has one */
    double samples_per_s;         /* training steps only; NaN without the file */
    int threads;
    /* its first layer's weight, when the run left runs/NAME.safetensors */
    tg_tensor *filters;           /* (C_out, 1, kh, kw), standalone */
} run;

typedef struct report {
    const char *dir;
    run runs[MAX_RUNS];
    int n_runs;
    bool quick;
} report;

/* ---- reading ---- */

/* DIR/NAME plus suffix into path; false (said) if it does not fit. */
static bool path_in(const report *r, const char *name, const char *suffix, char path[4096])
{
    int n = snprintf(path, 4096, "%s/%s%s", r->dir, name, suffix);
    if (n >= 0 && n < 4096) return true;
    fprintf(stderr, "tg report: path too long: %s/%s\n", r->dir, name);
    return false;
}

static FILE *open_in(const report *r, const char *name)
{
    char path[4096];
    if (!path_in(r, name, "", path)) return NULL;
    FILE *f = fopen(path, "r");
    if (!f) fprintf(stderr, "tg report: cannot read %s\n", path);
    return f;
}

/* Every output is written atomically (tg_file_write_atomic), so a failed
 * report leaves the previous files whole. */
typedef void report_writer(FILE *f, const report *r, const void *arg);

typedef struct write_job {
    report_writer *fn;
    const report *r;
    const void *arg;
} write_job;

static tg_status run_writer(FILE *f, void *ctx)
{
    const write_job *j = ctx;
    j->fn(f, j->r, j->arg);
    return TG_OK;
}

static bool write_in(const report *r, const char *name, report_writer *fn, const void *arg)
{
    char path[4096];
    if (!path_in(r, name, "", path)) return false;
    if (tg_file_write_atomic(path, "the report", run_writer, &(write_job){fn, r, arg}) == TG_OK) return true;
    fprintf(stderr, "tg report: %s\n", tg_last_error());
    return false;
}

/* A run's log: step rows (eval columns empty) make the curve; the last
 * evaluation row gives the final train loss and the test numbers. */
static bool read_log(const report *r, run *u)
{
    char name[128], line[512];
    snprintf(name, sizeof name, "runs/%s.csv", u->name);
    FILE *f = open_in(r, name);
    if (!f) return false;
    u->samples = malloc(MAX_POINTS * sizeof *u->samples);
    u->loss = malloc(MAX_POINTS * sizeof *u->loss);
    u->spread = malloc(MAX_POINTS * sizeof *u->spread);
    u->final_train_loss = u->test_loss = u->test_accuracy = NAN;
    bool ok = u->samples && u->loss && u->spread && fgets(line, sizeof line, f);
    while (ok && fgets(line, sizeof line, f)) {
        /* epoch,step,samples_seen,lr,train_loss,eval_loss,eval_accuracy,batch_loss_std */
        double v[8];
        bool present[8] = {false};
        char *p = line;
        for (int k = 0; k < 8; k++) {
            char *end;
            v[k] = strtod(p, &end);
            present[k] = end != p;
            p = strchr(end, ',');
            if (!p) break;
            p++;
        }
        if (present[5] && present[6]) {
            u->final_train_loss = v[4], u->test_loss = v[5], u->test_accuracy = v[6];
            u->total_samples = v[2];
            if (u->n_epochs < MAX_EPOCHS) {
                u->epoch_train_loss[u->n_epochs] = v[4], u->epoch_test_loss[u->n_epochs] = v[5];
                u->epoch_accuracy[u->n_epochs++] = v[6];
            }
        } else if (present[4] && u->n < MAX_POINTS) {
            u->samples[u->n] = v[2], u->loss[u->n] = v[4], u->spread[u->n++] = present[7] ? v[7] : NAN;
        }
    }
    fclose(f);
    /* diverged: stopped on NaN/Inf, or its loss went far above where every
     * run starts (an untrained network's loss, ln 10 for ten classes) */
    double peak = 0;
    for (int i = 0; i < u->n; i++) peak = fmax(peak, u->loss[i]);
    u->diverged = u->exit_code != 0 || peak > 3 * CHANCE_LOSS;
    if (!u->total_samples && u->n) u->total_samples = u->samples[u->n - 1];
    if (!ok) fprintf(stderr, "tg report: %s has no header\n", name);
    return ok;
}

/* The number after "key": in a --metrics file; NaN if it has none. */
static double json_value(const char *text, const char *key)
{
    char quoted[64];
    snprintf(quoted, sizeof quoted, "\"%s\":", key);
    const char *p = strstr(text, quoted);
    return p ? strtod(p + strlen(quoted), NULL) : NAN;
}

/* A run's --metrics, if it left one (the manifest may list runs without). */
static void read_metrics(const report *r, run *u)
{
    u->samples_per_s = NAN;
    char name[128], path[4096], text[4096];
    snprintf(name, sizeof name, "runs/%s.json", u->name);
    FILE *f = path_in(r, name, "", path) ? fopen(path, "r") : NULL;
    if (!f) return;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    u->samples_per_s = json_value(text, "train_samples_per_s");
    double threads = json_value(text, "threads");
    u->threads = isnan(threads) ? 0 : (int)threads;
}

/* The first layer's weight of a run exported to runs/NAME.safetensors (tg
 * export), if there is such a file: torch's key "0.weight", which must be
 * a convolution's (C_out, 1, kh, kw) on grey images. A file that is there
 * but unreadable or of another shape fails the report, said. */
static bool read_filters(const report *r, run *u)
{
    char name[128], path[4096];
    snprintf(name, sizeof name, "runs/%s.safetensors", u->name);
    if (!path_in(r, name, "", path)) return false;
    FILE *probe = fopen(path, "rb");
    if (!probe) return true; /* not exported: nothing to draw */
    fclose(probe);
    tg_safetensors *st = NULL;
    if (tg_safetensors_read(path, &st) != TG_OK) {
        fprintf(stderr, "tg report: %s\n", tg_last_error());
        return false;
    }
    tg_dtype dtype;
    int ndim = 0;
    int64_t shape[8];
    /* the caps: more than a picture can show, and within int */
    bool ok = tg_safetensors_info(st, "0.weight", &dtype, &ndim, shape) && ndim == 4 && shape[1] == 1 &&
              shape[0] <= 1024 && shape[2] <= 64 && shape[3] <= 64;
    if (!ok)
        fprintf(stderr, "tg report: %s: no 0.weight of shape (C_out, 1, kh, kw), a first convolution on grey images, "
                        "to draw\n", path);
    if (ok) {
        u->filters = tg_zeros(NULL, TG_SHAPE((int)shape[0], 1, (int)shape[2], (int)shape[3]));
        ok = u->filters && tg_safetensors_get(st, "0.weight", TG_F32, u->filters) == TG_OK;
        if (!ok) fprintf(stderr, "tg report: %s: %s\n", path, tg_last_error());
    }
    tg_safetensors_free(st);
    return ok;
}

static bool read_manifest(report *r)
{
    FILE *f = open_in(r, "manifest.tsv");
    if (!f) return false;
    char line[512];
    bool ok = fgets(line, sizeof line, f) != NULL; /* header */
    while (ok && fgets(line, sizeof line, f) && r->n_runs < MAX_RUNS) {
        run *u = &r->runs[r->n_runs];
        memset(u, 0, sizeof *u);
        if (sscanf(line, "%63s %15s %15s %lf %lf %d %d %d %lf", u->name, u->group, u->optimizer, &u->lr, &u->momentum,
                   &u->batch_size, &u->epochs, &u->exit_code, &u->seconds) != 9) {
            fprintf(stderr, "tg report: manifest.tsv: cannot read '%s'\n", line);
            ok = false;
        }
        if (!ok) break;
        r->n_runs++; /* counted before it is read, so that what a failed read allocated is freed */
        ok = read_log(r, u);
        if (ok) read_metrics(r, u);
        if (ok && !strcmp(u->group, "cnn")) ok = read_filters(r, u);
    }
    fclose(f);
    FILE *mode = open_in(r, "mode");
    if (mode) {
        r->quick = fgetc(mode) == 'q';
        fclose(mode);
    }
    return ok && r->n_runs > 0;
}

static const run *find(const report *r, const char *group, const char *opt, double lr, double mt, int bs)
{
    for (int i = 0; i < r->n_runs; i++) {
        const run *u = &r->runs[i];
        if (!strcmp(u->group, group) && !strcmp(u->optimizer, opt) && fabs(u->lr - lr) <= 1e-12 * lr &&
            u->momentum == mt && u->batch_size == bs)
            return u;
    }
    return NULL;
}

/* ---- numbers the findings rest on ---- */

/* How noisy single updates are: the mean, over the last half of the run,
 * of the standard deviation of the batch losses within each logged interval
 * (each logged point averages ~1000 samples, which would hide it). */
static double noise(const run *u)
{
    int k = 0;
    double sum = 0;
    for (int i = u->n / 2; i < u->n; i++)
        if (!isnan(u->spread[i])) sum += u->spread[i], k++;
    return k ? sum / k : NAN;
}

/* Samples seen when the logged loss first fell to target (NaN if never). */
static double samples_to(const run *u, double target)
{
    for (int i = 0; i < u->n; i++)
        if (u->loss[i] <= target) return u->samples[i];
    return NAN;
}

/* Samples seen when the logged loss first rose above level (NaN if never). */
static double samples_above(const run *u, double level)
{
    for (int i = 0; i < u->n; i++)
        if (u->loss[i] > level) return u->samples[i];
    return NAN;
}

static double last_loss(const run *u) { return u->n ? u->loss[u->n - 1] : NAN; }

/* "0.351" or "diverged" */
static const char *loss_text(const run *u, char *buf)
{
    if (u->diverged) return strcpy(buf, "diverged");
    snprintf(buf, 32, "%.3f", u->final_train_loss);
    return buf;
}

static const char *samples_text(double s, char *buf)
{
    if (isnan(s)) return strcpy(buf, "never");
    snprintf(buf, 32, s >= 1e6 ? "%.2fM" : "%.0fk", s >= 1e6 ? s / 1e6 : s / 1e3);
    return buf;
}

/* ---- the lecture's panels ---- */

typedef struct panel {
    const char *key, *title, *opt;   /* key names files: panel_<key>.png, <key>_<value>.png */
    char vary;                       /* 'b' batch size, 'l' learning rate, 'm' momentum */
    double values[4];
    int n_values;
    const char *point;               /* what the lecture says the panel shows */
} panel;

static const panel panels[] = {
    {"sgd_bs", "SGD: batch size", "sgd", 'b', {16, 64, 256}, 3, "batch size trades noise for updates"},
    {"sgd_lr", "SGD: learning rate", "sgd", 'l', {10, 0.1, 0.001}, 3, "lr 10 explodes, 0.001 crawls"},
    {"sgd_mt", "SGD: momentum", "sgd", 'm', {0, 0.5, 0.9}, 3, "momentum speeds SGD up"},
    {"adam_bs", "Adam: batch size", "adam", 'b', {16, 64, 256}, 3, "batch size trades noise for updates"},
    {"adam_lr", "Adam: learning rate", "adam", 'l', {0.1, 0.01, 0.001, 0.00001}, 4,
     "Adam is forgiving, but not at lr 0.1 or 1e-5"},
};
enum { N_PANELS = sizeof panels / sizeof panels[0] };

/* The run at value k of panel p: base lr 0.001, momentum 0, batch 64. */
static const run *panel_run(const report *r, const panel *p, int k)
{
    double lr = p->vary == 'l' ? p->values[k] : 0.001, mt = p->vary == 'm' ? p->values[k] : 0;
    int bs = p->vary == 'b' ? (int)p->values[k] : 64;
    return find(r, "grid", p->opt, lr, mt, bs);
}

/* The lecture's figure title, as its Python formats it. */
static void figure_title(const run *u, char *buf, size_t size)
{
    snprintf(buf, size, "Optimizer-%s lr-%g mt-%g bs-%d", strcmp(u->optimizer, "sgd") ? "Adam" : "SGD", u->lr,
             u->momentum, u->batch_size);
}

static void value_label(const panel *p, int k, char *buf, size_t size)
{
    if (p->vary == 'b') snprintf(buf, size, "bs %g", p->values[k]);
    if (p->vary == 'l') snprintf(buf, size, "lr %g", p->values[k]);
    if (p->vary == 'm') snprintf(buf, size, "momentum %g", p->values[k]);
}

/* One paragraph of findings for a panel, from the runs' numbers. */
static void panel_findings(FILE *f, const report *r, const panel *p)
{
    const run *u[4];
    for (int k = 0; k < p->n_values; k++)
        if (!(u[k] = panel_run(r, p, k))) {
            fprintf(f, "Some runs of this panel are missing.\n\n");
            return;
        }
    char t[6][32]; /* one buffer for every number printed in one sentence */
    bool matches = false;
    if (p->vary == 'b') {
        const run *small = u[0], *big = u[p->n_values - 1];
        fprintf(f, "Over the same %s samples, batch 16 made %.0f updates and batch 256 made %.0f. Batch 16 ended at a "
                   "training loss of %s, batch 64 at %s, batch 256 at %s. Over the second half of training, the "
                   "losses of single batches spread with a standard deviation of %.3f with batch 16 and %.3f with "
                   "batch 256.",
                samples_text(small->total_samples, t[0]), small->total_samples / small->batch_size,
                big->total_samples / big->batch_size, loss_text(small, t[1]), loss_text(u[1], t[2]),
                loss_text(big, t[3]), noise(small), noise(big));
        bool more_progress = !small->diverged && (big->diverged || small->final_train_loss < big->final_train_loss);
        bool noisier = noise(small) > noise(big);
        matches = more_progress && noisier;
        fprintf(f, " So the small batch %s per sample seen, and its curve is %s.",
                more_progress ? "made more progress" : "did not make more progress",
                noisier ? "the noisier one" : "not the noisier one");
    } else if (p->vary == 'm') {
        double target = u[0]->final_train_loss;
        fprintf(f, "Plain SGD (momentum 0) ended the run at a training loss of %s. Momentum 0.5 first logged that "
                   "loss after %s samples and momentum 0.9 after %s; they ended at %s and %s.",
                loss_text(u[0], t[0]), samples_text(samples_to(u[1], target), t[1]),
                samples_text(samples_to(u[2], target), t[2]), loss_text(u[1], t[3]), loss_text(u[2], t[4]));
        matches = !u[2]->diverged && !u[1]->diverged && u[2]->final_train_loss < u[1]->final_train_loss &&
                  u[1]->final_train_loss < u[0]->final_train_loss;
        fprintf(f, " More momentum %s.", matches ? "ended lower each time" : "did not end lower each time");
    } else {
        /* learning rate: the highest, the lowest and the best in between */
        const run *high = u[0], *low = u[p->n_values - 1], *best = NULL;
        for (int k = 0; k < p->n_values; k++)
            if (!u[k]->diverged && (!best || u[k]->final_train_loss < best->final_train_loss)) best = u[k];
        double peak = 0;
        for (int i = 0; i < high->n; i++) peak = fmax(peak, high->loss[i]);
        if (high->diverged && high->exit_code)
            fprintf(f, "At lr %g the run diverged: its loss became NaN or infinite after %s samples (the largest "
                       "logged loss was %.3g).", high->lr, samples_text(high->total_samples, t[0]), peak);
        else if (high->diverged)
            fprintf(f, "At lr %g the run diverged: its loss rose above 3 ln 10 after %s samples (the largest logged "
                       "loss was %.3g; the last, %.3g).", high->lr,
                    samples_text(samples_above(high, 3 * CHANCE_LOSS), t[0]), peak, last_loss(high));
        else
            fprintf(f, "At lr %g the run trained to a loss of %s.", high->lr, loss_text(high, t[0]));
        fprintf(f, " At lr %g it ended at %s, having gone from %.3f to %.3f. The best run was lr %g (%s, test accuracy "
                   "%.1f%%).",
                low->lr, loss_text(low, t[1]), low->n ? low->loss[0] : NAN, last_loss(low), best ? best->lr : NAN,
                best ? loss_text(best, t[2]) : "-", best ? 100 * best->test_accuracy : NAN);
        bool high_bad = high->diverged || (best && high->final_train_loss > 1.5 * best->final_train_loss);
        bool low_slow = !low->diverged && best && best != low && low->final_train_loss > 1.5 * best->final_train_loss;
        matches = high_bad && low_slow;
        fprintf(f, " The largest rate %s and the smallest %s.", high_bad ? "failed" : "did not fail",
                low_slow ? "crawled" : "did not crawl");
    }
    fprintf(f, " The lecture's point — %s — %s here.\n\n", p->point, matches ? "holds" : "does not hold");
}

/* ---- the MLP against the CNNs (issue 15) ---- */

enum { MAX_COMPARED = 8, FILTER_COLUMNS = 8 /* 32 filters as 4 rows of 8 */ };

/* The runs compared, MLP first: the grid's run with the CNNs' recipe (Adam
 * lr 0.001, batch 64), then every run of the "cnn" group in manifest order.
 * Returns how many; 0 without CNN runs (results from before issue 15). */
static int compared_runs(const report *r, const run *out[MAX_COMPARED])
{
    int n = 0, cnns = 0;
    const run *mlp = find(r, "grid", "adam", 0.001, 0, 64);
    if (mlp) out[n++] = mlp;
    for (int i = 0; i < r->n_runs && n < MAX_COMPARED; i++)
        if (!strcmp(r->runs[i].group, "cnn")) out[n++] = &r->runs[i], cnns++;
    return cnns ? n : 0;
}

/* A compared run's name in the figures and tables: the grid's run is the
 * lectures' MLP, a CNN run is named after its --model (its run name). */
static const char *network_name(const run *u)
{
    static const char *names[][2] = {{"cnn", "CNN"}, {"cnn-bn", "CNN + BatchNorm"}};
    if (!strcmp(u->group, "grid")) return "MLP";
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        if (!strcmp(u->name, names[k][0])) return names[k][1];
    return u->name;
}

/* The threads every compared run with a --metrics file trained on; 0 if
 * they differ or none has one. */
static int common_threads(const run *const *c, int n)
{
    int threads = 0;
    for (int i = 0; i < n; i++) {
        if (isnan(c[i]->samples_per_s)) continue;
        if (threads && c[i]->threads != threads) return 0;
        threads = c[i]->threads;
    }
    return threads;
}

/* The most epochs any of the runs c evaluated. */
static int most_epochs(const run *const *c, int n)
{
    int epochs = 0;
    for (int i = 0; i < n; i++) epochs = c[i]->n_epochs > epochs ? c[i]->n_epochs : epochs;
    return epochs;
}

/* The epoch (1-based) where per-epoch values v (n of them) peak, the first
 * if tied: the largest with sign 1, the smallest with sign -1. */
static int peak_epoch(const double *v, int n, int sign)
{
    int best = 0;
    for (int e = 1; e < n; e++)
        if (sign * v[e] > sign * v[best]) best = e;
    return best + 1;
}

/* The first epoch after which u's test accuracy reached target; 0 if never. */
static int epoch_reaching(const run *u, double target)
{
    for (int e = 0; e < u->n_epochs; e++)
        if (u->epoch_accuracy[e] >= target) return e + 1;
    return 0;
}

/* The largest |w| of a run's first-layer filters. */
static double filters_extent(const tg_tensor *w)
{
    double m = 0;
    for (size_t i = 0; i < w->size; i++) m = fmax(m, fabs(w->data[i]));
    return m;
}

/* The grid of filters as gnuplot's image: "x y scaled weight" per pixel,
 * filters FILTER_COLUMNS to a row with a one-pixel gap between them. Each
 * filter is scaled by its own largest |weight|, so that the pattern of a
 * weak filter shows as clearly as a strong one's; gaps are NaN, which
 * gnuplot leaves undrawn. */
static void filters_data(FILE *f, const report *r, const void *arg)
{
    (void)r;
    const tg_tensor *w = arg;
    int n = w->shape[0], kh = w->shape[2], kw = w->shape[3];
    int rows = (n + FILTER_COLUMNS - 1) / FILTER_COLUMNS;
    int width = FILTER_COLUMNS * (kw + 1) - 1, height = rows * (kh + 1) - 1;
    for (int y = 0; y < height; y++) {
        for (int x = 0; x < width; x++) {
            int k = y / (kh + 1) * FILTER_COLUMNS + x / (kw + 1), i = y % (kh + 1), j = x % (kw + 1);
            if (i == kh || j == kw || k >= n) {
                fprintf(f, "%d %d NaN NaN\n", x, y);
                continue;
            }
            const float *filter = w->data + (size_t)k * kh * kw;
            double largest = 0;
            for (int p = 0; p < kh * kw; p++) largest = fmax(largest, fabs(filter[p]));
            double v = filter[i * kw + j];
            fprintf(f, "%d %d %.9g %.9g\n", x, y, largest > 0 ? v / largest : 0.0, v);
        }
        fprintf(f, "\n");
    }
}

/* ---- files ---- */

static void run_data(FILE *f, const report *r, const void *arg)
{
    (void)r;
    const run *u = arg;
    for (int k = 0; k < u->n; k++) fprintf(f, "%.0f %.9g\n", u->samples[k], u->loss[k]);
}

/* Test accuracy (%) after each epoch: "epoch accuracy" */
static void run_accuracy(FILE *f, const report *r, const void *arg)
{
    (void)r;
    const run *u = arg;
    for (int e = 0; e < u->n_epochs; e++) fprintf(f, "%d %.9g\n", e + 1, 100 * u->epoch_accuracy[e]);
}

static bool write_data(const report *r)
{
    char name[128];
    for (int i = 0; i < r->n_runs; i++) {
        snprintf(name, sizeof name, "runs/%s.dat", r->runs[i].name);
        if (!write_in(r, name, run_data, &r->runs[i])) return false;
    }
    const run *c[MAX_COMPARED];
    for (int i = 0, n = compared_runs(r, c); i < n; i++) {
        snprintf(name, sizeof name, "runs/%s.accuracy.dat", c[i]->name);
        if (!write_in(r, name, run_accuracy, c[i])) return false;
        snprintf(name, sizeof name, "runs/%s_filters.dat", c[i]->name);
        if (c[i]->filters && !write_in(r, name, filters_data, c[i]->filters)) return false;
    }
    return true;
}

static void summary(FILE *f, const report *r, const void *arg)
{
    (void)arg;
    fprintf(f, "optimizer,lr,momentum,batch_size,epochs,final_train_loss,test_accuracy,diverged,seconds\n");
    for (int i = 0; i < r->n_runs; i++) {
        const run *u = &r->runs[i];
        if (strcmp(u->group, "grid")) continue;
        fprintf(f, "%s,%g,%g,%d,%d,%.6g,%.6g,%s,%.1f\n", u->optimizer, u->lr, u->momentum, u->batch_size, u->epochs,
                u->final_train_loss, u->test_accuracy, u->diverged ? "true" : "false", u->seconds);
    }
}

/* Figures that compare runs cut the y axis here, so that one diverged run
 * (losses of 1e30) does not flatten the others into a line. */
#define PLOT_CAP 10.0

/* compare: several runs on a log axis cut at PLOT_CAP; else one run, autoscaled. */
static void plot_setup(FILE *g, const char *file, const char *title, bool compare)
{
    fprintf(g, "set output '%s'\nset title '%s'\n%sset logscale y\n", file, title, compare ? "" : "un");
    if (compare)
        fprintf(g, "set yrange [*:%g]\nset ylabel 'Training loss (log scale)'\nset key bottom left opaque\n", PLOT_CAP);
    else
        fprintf(g, "set yrange [*:*]\nset ylabel 'Training loss'\nset key top right noopaque\n");
}

/* One run's curve; a diverged run with points, held at the cap when compared. */
static void plot_curve(FILE *g, const run *u, const char *label, bool compare, bool first)
{
    fprintf(g, "%s'runs/%s.dat' ", first ? "plot " : ", \\\n     ", u->name);
    if (!u->diverged)
        fprintf(g, "using 1:2 with lines lw 2 title '%s'", label);
    else if (compare)
        fprintf(g, "using 1:($2 > %g ? %g : $2) with linespoints pt 7 ps 0.5 lw 2 title '%s (diverged; held at %g)'",
                PLOT_CAP, PLOT_CAP, label, PLOT_CAP);
    else
        fprintf(g, "using 1:2 with linespoints pt 7 ps 0.5 lw 2 title '%s (diverged)'", label);
}

/* The MLP against the CNNs: test accuracy per epoch, training speed, and
 * each exported CNN's first-layer filters. Last in plots.gp, so it sets
 * every style it relies on. */
static void comparison_plots(FILE *g, const report *r)
{
    const run *c[MAX_COMPARED];
    int n = compared_runs(r, c);
    if (!n) return;
    fprintf(g, "\n# The MLP against the CNNs\nunset logscale\nset format x '%%g'\nset format y '%%g'\nset grid\n"
               "set output 'figures/cnn_accuracy.png'\nset title 'Test accuracy after each epoch (Adam lr 0.001, "
               "batch 64)'\nset xlabel 'epoch'\nset ylabel 'test accuracy (%%)'\nset xtics 1\nset xrange [0.5:%d.5]\n"
               "set yrange [*:*]\nset key bottom right\nplot ", most_epochs(c, n));
    for (int i = 0; i < n; i++)
        fprintf(g, "%s'runs/%s.accuracy.dat' using 1:2 with linespoints pt 7 lw 2 title '%s'", i ? ", \\\n     " : "",
                c[i]->name, network_name(c[i]));
    /* the bars from a datablock: one number per run, not worth a file */
    fprintf(g, "\n$speed << EOD\n");
    int bars = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(c[i]->samples_per_s)) fprintf(g, "\"%s\" %.1f\n", network_name(c[i]), c[i]->samples_per_s), bars++;
    int threads = common_threads(c, n);
    char on[32] = "";
    if (threads) snprintf(on, sizeof on, ", %d thread%s", threads, threads == 1 ? "" : "s");
    fprintf(g, "EOD\nset output 'figures/cnn_speed.png'\nset title 'Training speed (tg train%s)'\n"
               "set xlabel ''\nset ylabel 'samples/s'\nset xtics autofreq\nset xrange [-0.5:%d.5]\nset yrange [0:*]\n", on,
            bars - 1);
    fprintf(g, "set style fill solid 0.5 border -1\nset boxwidth 0.6\nunset key\n"
               "plot $speed using 0:2:xtic(1) with boxes, $speed using 0:2:(sprintf('%%.0f', $2)) with labels "
               "offset 0,0.8\n");
    for (int i = 0; i < n; i++) {
        const tg_tensor *w = c[i]->filters;
        if (!w) continue;
        int rows = (w->shape[0] + FILTER_COLUMNS - 1) / FILTER_COLUMNS;
        /* a linear grey scale, symmetric so that mid grey is 0; the gaps show the background */
        fprintf(g, "set output 'figures/%s_filters.png'\nset title '%s: the %d filters of the first layer, %dx%d, "
                   "in rows of %d'\nset size ratio -1\nunset xtics\nunset ytics\nunset border\nunset grid\n"
                   "set xlabel ''\nset ylabel ''\nset style fill solid 1 noborder\n"
                   "set palette defined (-1 'black', 1 'white')\nset cbrange [-1:1]\n"
                   "set cblabel \"weight / the filter's largest |weight|\"\nset xrange [-0.5:%d.5]\n"
                   "set yrange [%d.5:-0.5]\nset object 1 rectangle from graph 0,0 to graph 1,1 behind fillcolor "
                   "rgb '#8fb0d8' fillstyle solid noborder\nplot 'runs/%s_filters.dat' using 1:2:3 with image "
                   "notitle\nunset object 1\nset size noratio\nset border\nset xtics\nset ytics\nset grid\n",
                c[i]->name, network_name(c[i]), w->shape[0], w->shape[2], w->shape[3], FILTER_COLUMNS,
                FILTER_COLUMNS * (w->shape[3] + 1) - 2, rows * (w->shape[2] + 1) - 2, c[i]->name);
    }
}

static void plots(FILE *g, const report *r, const void *arg)
{
    (void)arg;
    fprintf(g, "# Written by tg report; run from this directory: gnuplot plots.gp\n"
               "set terminal pngcairo size 900,560 enhanced font 'sans,11'\n"
               "set xlabel '# of samples'\nset grid\nset key top right\nset format x '%%.1s%%c'\n");
    for (int p = 0; p < N_PANELS; p++) {
        const panel *pn = &panels[p];
        for (int k = 0; k < pn->n_values; k++) { /* the lecture's figure for each value */
            const run *u = panel_run(r, pn, k);
            if (!u) continue;
            char title[96], file[64], label[32];
            figure_title(u, title, sizeof title);
            value_label(pn, k, label, sizeof label);
            snprintf(file, sizeof file, "figures/%s_%g.png", pn->key, pn->values[k]);
            plot_setup(g, file, title, false);
            plot_curve(g, u, label, false, true);
            fprintf(g, "\n");
        }
        char file[64];
        snprintf(file, sizeof file, "figures/panel_%s.png", pn->key);
        plot_setup(g, file, pn->title, true);
        for (int k = 0, first = 1; k < pn->n_values; k++) {
            const run *u = panel_run(r, pn, k);
            char label[32];
            value_label(pn, k, label, sizeof label);
            if (u) plot_curve(g, u, label, true, first), first = 0;
        }
        fprintf(g, "\n");
    }
    /* the learning-rate sweep, warmup + cosine against constant */
    const char *groups[][3] = {{"sweep", "figures/lr_sweep.png", "Learning-rate sweep (SGD, momentum 0.9, batch 64)"},
                               {"warmup", "figures/warmup_cosine.png", "AdamW: linear warmup + cosine decay vs constant lr"}};
    for (int k = 0; k < 2; k++) {
        plot_setup(g, groups[k][1], groups[k][2], true);
        for (int i = 0, first = 1; i < r->n_runs; i++) {
            const run *u = &r->runs[i];
            if (strcmp(u->group, groups[k][0])) continue;
            char label[64];
            if (k == 0)
                snprintf(label, sizeof label, "lr %g", u->lr);
            else
                snprintf(label, sizeof label, "%s", strstr(u->name, "constant") ? "constant lr" : "warmup + cosine");
            plot_curve(g, u, label, true, first);
            first = 0;
        }
        fprintf(g, "\n");
    }
    /* Lasso: each weight against lambda (lambda 0 left off the log axis) */
    fprintf(g, "set output 'figures/lasso.png'\nset title 'Lasso with Adam: weights against the L1 strength'\n"
               "set format x '%%g'\nunset logscale y\nset yrange [*:*]\nset logscale x\nset xlabel 'lambda (L1 strength)'\nset ylabel 'weight'\n"
               "set datafile separator ','\nset key outside right noopaque\nplot ");
    for (int j = 0; j < 8; j++)
        fprintf(g, "%s'lasso.csv' every ::2 using 1:%d with linespoints lw 2 %s title 'w%d%s'", j ? ", \\\n     " : "",
                j + 2, j == 2 || j == 5 || j == 7 ? "dt 2" : "dt 1", j, j == 2 || j == 5 || j == 7 ? " (no signal)" : "");
    /* Rosenbrock: the paths over the function's contours */
    fprintf(g, "\nset datafile separator whitespace\nunset logscale\nset key inside top left\nset xlabel 'x'\nset ylabel 'y'\n"
               "set contour base\nset cntrparam levels discrete 0.05,0.25,1,4,16,64,256\nunset surface\n"
               "set view map\nset isosamples 120\nset table 'runs/rosenbrock_contours.dat'\n"
               "splot [-1.6:1.6] [-0.6:2.2] (1-x)**2 + 100*(y-x**2)**2\nunset table\nunset contour\n"
               "set output 'figures/rosenbrock.png'\nset title 'Rosenbrock from (-1, 1), 5000 steps'\n"
               "plot [-1.6:1.6] [-0.6:2.2] 'runs/rosenbrock_contours.dat' with lines lc rgb '#c8c8c8' notitle");
    const char *paths[] = {"SGD", "AdaGrad", "RMSProp", "Adam", "AdamW"};
    for (int k = 0; k < 5; k++)
        fprintf(g, ", \\\n     'runs/rosenbrock_%s.dat' using 1:2 with lines lw 2 title '%s'", paths[k], paths[k]);
    fprintf(g, ", \\\n     '+' using (1):(1) with points pt 7 ps 1.5 lc rgb 'black' title 'minimum (1, 1)'\n");
    /* the paths share the valley, so the loss against the step tells them apart (rows are every 10th step) */
    fprintf(g, "set output 'figures/rosenbrock_loss.png'\nset title 'Rosenbrock: f(x, y) along each path'\n"
               "set key inside top right\nset logscale y\nset format y '10^{%%L}'\nset xlabel 'step'\n"
               "set ylabel 'f(x, y) (log scale)'\nplot ");
    for (int k = 0; k < 5; k++)
        fprintf(g, "%s'runs/rosenbrock_%s.dat' using ($0 * 10):((1 - $1)**2 + 100 * ($2 - $1**2)**2) with lines lw 2 title '%s'",
                k ? ", \\\n     " : "", paths[k], paths[k]);
    fprintf(g, "\n");
    comparison_plots(g, r);
}

/* ---- the report ---- */

static void copy_file(const report *r, FILE *out, const char *name)
{
    FILE *f = open_in(r, name);
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) fputs(line, out);
    fclose(f);
}

/* The learning-rate sweep: the rule, a table and what it shows. */
/* How far a run's loss fell from where every run starts (ln 10) to its last log. */
static double loss_fall(const run *u) { return u->n ? CHANCE_LOSS - last_loss(u) : 0.0; }

static void sweep_section(FILE *f, const report *r)
{
    double best_fall = 0;
    for (int i = 0; i < r->n_runs; i++)
        if (!strcmp(r->runs[i].group, "sweep") && !r->runs[i].diverged) best_fall = fmax(best_fall, loss_fall(&r->runs[i]));
    fprintf(f, "## Learning-rate sweep (10-701, the \"3 curve test\")\n\n"
               "SGD with momentum 0.9, batch 64, learning rates a factor 10 apart. The rule: a run **explodes** if its "
               "loss became NaN/infinite or any logged loss rose above 3 ln 10 (three times an untrained network's "
               "loss); among the others, it is **flat** if its loss fell from ln 10 by less than a quarter of the "
               "largest such fall (%.3f here), since the curves are judged against each other; otherwise it is "
               "**good**.\n\n"
               "![LR sweep](figures/lr_sweep.png)\n\n"
               "| lr | largest loss | last loss | fall | test accuracy | verdict |\n"
               "|---:|---:|---:|---:|---:|:---|\n", best_fall);
    int counts[3] = {0, 0, 0};
    for (int i = 0; i < r->n_runs; i++) {
        const run *u = &r->runs[i];
        if (strcmp(u->group, "sweep")) continue;
        double peak = 0;
        for (int k = 0; k < u->n; k++) peak = fmax(peak, u->loss[k]);
        int verdict = u->diverged ? 0 : loss_fall(u) < 0.25 * best_fall ? 1 : 2;
        counts[verdict]++;
        static const char *names[] = {"explodes", "flat", "good"};
        char acc[16] = "-", fall_text[16];
        if (!u->exit_code && !isnan(u->test_accuracy)) snprintf(acc, sizeof acc, "%.1f%%", 100 * u->test_accuracy);
        snprintf(fall_text, sizeof fall_text, "%.3f", loss_fall(u));
        fprintf(f, "| %g | %.4g | %.4g | %s | %s | %s |\n", u->lr, peak, last_loss(u),
                u->diverged ? "-" : fall_text, acc, names[verdict]);
    }
    fprintf(f, "\n%d run%s exploded, %d stayed flat and %d trained well: ", counts[0], counts[0] == 1 ? "" : "s",
            counts[1], counts[2]);
    if (counts[0] && counts[1] && counts[2])
        fprintf(f, "the test finds all three curves of the lecture.\n\n");
    else
        fprintf(f, "the test does not find all three curves of the lecture here.\n\n");
}

static void grid_section(FILE *f, const report *r)
{
    fprintf(f, "## The demo grid (COMP4551, \"Demo & Results\")\n\nThe lecture MLP (784-512-512-10, ReLU) on "
               "FashionMNIST, training loss against the number of samples seen, one hyperparameter varied at a time "
               "from SGD lr 0.001, momentum 0, batch 64 (and Adam lr 0.001, batch 64). `summary.csv` has one row per "
               "run.\n\n| optimizer | lr | momentum | batch | epochs | final train loss | test accuracy | diverged | "
               "seconds |\n|:---|---:|---:|---:|---:|---:|---:|:---|---:|\n");
    for (int i = 0; i < r->n_runs; i++) {
        const run *u = &r->runs[i];
        if (strcmp(u->group, "grid")) continue;
        fprintf(f, "| %s | %g | %g | %d | %d | %.4f | %.2f%% | %s | %.0f |\n", u->optimizer, u->lr, u->momentum,
                u->batch_size, u->epochs, u->final_train_loss, 100 * u->test_accuracy, u->diverged ? "yes" : "no",
                u->seconds);
    }
    fprintf(f, "\nA run counts as diverged when its loss became NaN or infinite (tg train stops it there, and it is "
               "plotted up to that point) or when a logged loss rose above 3 times the loss every run starts from, "
               "that of an untrained network (ln 10 = 2.303).\n\n");
    for (int p = 0; p < N_PANELS; p++) {
        fprintf(f, "### %s\n\n![%s](figures/panel_%s.png)\n\n", panels[p].title, panels[p].title, panels[p].key);
        panel_findings(f, r, &panels[p]);
        fprintf(f, "Figures as the lecture titles them:");
        for (int k = 0; k < panels[p].n_values; k++) {
            const run *u = panel_run(r, &panels[p], k);
            char title[96];
            if (!u) continue;
            figure_title(u, title, sizeof title);
            fprintf(f, " [%s](figures/%s_%g.png)%s", title, panels[p].key, panels[p].values[k],
                    k + 1 < panels[p].n_values ? "," : ".\n\n");
        }
    }
}

static void warmup_section(FILE *f, const report *r)
{
    fprintf(f, "## AdamW: linear warmup + cosine decay against a constant rate (CS498 lecture 21)\n\n"
               "![warmup](figures/warmup_cosine.png)\n\n");
    const run *constant = NULL, *warm = NULL;
    for (int i = 0; i < r->n_runs; i++) {
        if (strcmp(r->runs[i].group, "warmup")) continue;
        if (strstr(r->runs[i].name, "constant")) constant = &r->runs[i];
        if (strstr(r->runs[i].name, "cosine")) warm = &r->runs[i];
    }
    if (!constant || !warm) {
        fprintf(f, "The two runs are missing from the manifest.\n\n");
        return;
    }
    char a[32], b[32];
    fprintf(f, "AdamW (lr %g, weight decay 0.01). With a constant rate the run ended at a training loss of %s and "
               "%.2f%% test accuracy; with warmup + cosine decay at %s and %.2f%%. The first logged losses were "
               "%.3f and %.3f. The schedule %s here.\n\n",
            constant->lr, loss_text(constant, a), 100 * constant->test_accuracy, loss_text(warm, b),
            100 * warm->test_accuracy, constant->n ? constant->loss[0] : NAN, warm->n ? warm->loss[0] : NAN,
            warm->final_train_loss < constant->final_train_loss ? "ended lower, as the lecture's recipe promises"
                                                                : "did not end lower than the constant rate");
}

enum { LASSO_ROWS = 32 };

/* The largest |weight| among those without signal (w2, w5, w7), and the
 * smallest among those with it, of one lasso.csv row (lambda, w0..w7, ...). */
static double lasso_silent(const double *v) { return fmax(fabs(v[3]), fmax(fabs(v[6]), fabs(v[8]))); }
static double lasso_signal(const double *v)
{
    return fmin(fmin(fabs(v[1]), fabs(v[2])), fmin(fmin(fabs(v[4]), fabs(v[5])), fabs(v[7])));
}

/* Reads lasso.csv's rows, in order of increasing lambda; returns how many. */
static int read_lasso(const report *r, double rows[][12])
{
    FILE *in = open_in(r, "lasso.csv");
    if (!in) return 0;
    char line[512];
    int n = 0;
    while (n < LASSO_ROWS && fgets(line, sizeof line, in)) {
        double *v = rows[n];
        if (sscanf(line, "%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                   &v[6], &v[7], &v[8], &v[9], &v[10], &v[11]) == 12)
            n++;
    }
    fclose(in);
    return n;
}

static void lasso_section(FILE *f, const report *r)
{
    fprintf(f, "## Lasso with Adam (CS498 lecture 21, \"What Just Happened?\")\n\nLinear regression on a synthetic "
               "problem with 8 standardised features, of which w2, w5 and w7 carry no signal (true weights in the "
               "first line below), mini-batches of 256, Adam lr 0.01, loss = MSE + lambda |w|_1.\n\n"
               "![lasso](figures/lasso.png)\n\n```\n");
    copy_file(r, f, "lasso.csv");
    fprintf(f, "```\n\n");
    double rows[LASSO_ROWS][12];
    int n = read_lasso(r, rows), from = n; /* the first row from which every silent weight stays small */
    while (from > 0 && lasso_silent(rows[from - 1]) < 0.002) from--;
    if (from == n || n == 0) {
        fprintf(f, "The largest lambda did not drive the three silent weights below 0.002.\n\n");
        return;
    }
    double largest_silent = 0;
    for (int k = from; k < n; k++) largest_silent = fmax(largest_silent, lasso_silent(rows[k]));
    fprintf(f, "From lambda = %g on, the three silent weights stay below 0.002 (largest %.4f) while the smallest "
               "weight that carries signal is still %.3f there: the penalty drives the unimportant weights to about "
               "zero and keeps the others, as the lecture says. (Adam keeps them jittering around zero by about its "
               "step size rather than exactly at it.) At lambda = %g the weights that carry signal have shrunk to "
               "%.3f at the smallest, and the test MSE has grown from %.3f to %.3f: too much penalty underfits.\n\n",
            rows[from][0], largest_silent, lasso_signal(rows[from]), rows[n - 1][0], lasso_signal(rows[n - 1]),
            rows[0][11], rows[n - 1][11]);
}

static void rosenbrock_section(FILE *f, const report *r)
{
    fprintf(f, "## Rosenbrock (lesson 63)\n\n![rosenbrock](figures/rosenbrock.png)\n\nThe paths all follow the "
               "curved valley, so they overlap in the plane; the function's value along each path tells them "
               "apart:\n\n![rosenbrock loss](figures/rosenbrock_loss.png)\n\n```\n");
    copy_file(r, f, "rosenbrock.txt");
    fprintf(f, "```\n");
}

/* The MLP against the CNNs: what the numbers say about accuracy,
 * overfitting, BatchNorm and speed. */
static void comparison_findings(FILE *f, const run *const *c, int n, const run *mlp)
{
    if (mlp) {
        fprintf(f, "After %d epoch%s the MLP classified %.2f%% of the test images correctly (%.2f%% wrong).",
                mlp->n_epochs, mlp->n_epochs == 1 ? "" : "s", 100 * mlp->test_accuracy, 100 * (1 - mlp->test_accuracy));
        for (int i = 1; i < n; i++) {
            double err = 1 - c[i]->test_accuracy, mlp_err = 1 - mlp->test_accuracy;
            int reached = epoch_reaching(c[i], mlp->test_accuracy);
            fprintf(f, " The %s reached %.2f%% (%.2f%% wrong: %.0f%% %s errors than the MLP)", network_name(c[i]),
                    100 * c[i]->test_accuracy, 100 * err, 100 * fabs(1 - err / mlp_err),
                    err <= mlp_err ? "fewer" : "more");
            if (reached)
                fprintf(f, " and matched the MLP's final accuracy after epoch %d.", reached);
            else
                fprintf(f, " and never matched the MLP's final accuracy.");
        }
        fprintf(f, "\n\n");
    }
    /* overfitting: the test loss rose from its lowest while the training loss fell further */
    int overfit = 0, epochs = most_epochs(c, n);
    for (int i = 0; i < n; i++) {
        const run *u = c[i];
        int last = u->n_epochs, low = last ? peak_epoch(u->epoch_test_loss, last, -1) : 0;
        if (!last || low == last || u->epoch_train_loss[last - 1] >= u->epoch_train_loss[low - 1]) continue;
        int best = peak_epoch(u->epoch_accuracy, last, 1);
        fprintf(f, "%sThe %s's test loss was lowest after epoch %d (%.4f) and ended %.0f%% higher (%.4f), while its "
                   "training loss fell further, from %.4f to %.4f: it had begun to overfit.",
                overfit++ ? " " : "", network_name(u), low, u->epoch_test_loss[low - 1],
                100 * (u->epoch_test_loss[last - 1] / u->epoch_test_loss[low - 1] - 1), u->epoch_test_loss[last - 1],
                u->epoch_train_loss[low - 1], u->epoch_train_loss[last - 1]);
        if (best < last)
            fprintf(f, " Its test accuracy peaked after epoch %d (%.2f%%).", best, 100 * u->epoch_accuracy[best - 1]);
    }
    if (overfit)
        fprintf(f, "\n\n");
    else if (epochs > 1)
        fprintf(f, "No network's test loss rose from its lowest while its training loss fell: none began to overfit "
                   "within these %d epochs.\n\n", epochs);
    const run *plain = NULL, *bn = NULL;
    for (int i = 0; i < n; i++) {
        if (!strcmp(c[i]->group, "cnn") && !strcmp(c[i]->name, "cnn")) plain = c[i];
        if (!strcmp(c[i]->group, "cnn") && !strcmp(c[i]->name, "cnn-bn")) bn = c[i];
    }
    if (plain && bn && plain->n_epochs && bn->n_epochs) {
        double first = bn->epoch_accuracy[0] - plain->epoch_accuracy[0], end = bn->test_accuracy - plain->test_accuracy;
        fprintf(f, "BatchNorm (one seed each): after the first epoch the CNN with it was at %.2f%% against %.2f%% "
                   "without, %s",
                100 * bn->epoch_accuracy[0], 100 * plain->epoch_accuracy[0],
                first > 0 ? "ahead" : first < 0 ? "behind" : "level");
        if (bn->n_epochs > 1 || plain->n_epochs > 1)
            fprintf(f, "; after the last at %.2f%% against %.2f%%, %s", 100 * bn->test_accuracy,
                    100 * plain->test_accuracy, end > 0 ? "ahead" : end < 0 ? "behind" : "level");
        fprintf(f, ".");
        if (!isnan(bn->samples_per_s) && !isnan(plain->samples_per_s))
            fprintf(f, " It trained at %.0f%% of the plain CNN's speed.", 100 * bn->samples_per_s / plain->samples_per_s);
        fprintf(f, "\n\n");
    }
    if (mlp && !isnan(mlp->samples_per_s)) {
        int threads = common_threads(c, n);
        fprintf(f, "Speed, as tg train measures it (training steps only");
        if (threads) fprintf(f, ", %d thread%s each", threads, threads == 1 ? "" : "s");
        fprintf(f, "): the MLP trained at %.0f samples/s", mlp->samples_per_s);
        for (int i = 1; i < n; i++)
            if (!isnan(c[i]->samples_per_s))
                fprintf(f, ", the %s at %.0f (%.1f times slower)", network_name(c[i]), c[i]->samples_per_s,
                        mlp->samples_per_s / c[i]->samples_per_s);
        fprintf(f, ".\n\n");
    }
}

/* A CNN's first-layer filters: how far they moved from their
 * initialisation, and how many became edge detectors. */
static void filters_findings(FILE *f, const run *u)
{
    const tg_tensor *w = u->filters;
    int n = w->shape[0], kh = w->shape[2], kw = w->shape[3], k = kh * kw;
    /* PyTorch's default, kaiming_uniform(a = sqrt(5)), draws U(-b, b) with
     * b = 1/sqrt(fan_in); E[w^2] = b^2/3, so a filter's expected squared
     * norm is k b^2 / 3 = 1/3 */
    double bound = 1 / sqrt(k), init_rms = sqrt(1.0 / 3);
    /* A filter is zero-sum when its mean carries under ZERO_SUM of its
     * squared norm, (sum w)^2 < ZERO_SUM k sum w^2. For weights drawn
     * independently, (sum w)^2 / (k sum w^2) is about Z^2 / k (Z standard
     * normal): that happens by chance with probability erf(sqrt(k ZERO_SUM / 2)). */
    const double ZERO_SUM = 0.01;
    int beyond = 0, zero_sum = 0, across = 0, down = 0;
    double squares = 0, extent = filters_extent(w);
    for (int i = 0; i < n; i++) {
        const float *p = w->data + (size_t)i * k;
        double sum = 0, sq = 0, largest = 0, left = 0, right = 0, top = 0, bottom = 0;
        for (int a = 0; a < kh; a++)
            for (int b = 0; b < kw; b++) {
                double v = p[a * kw + b];
                sum += v, sq += v * v, largest = fmax(largest, fabs(v));
                left += b == 0 ? v : 0, right += b == kw - 1 ? v : 0, top += a == 0 ? v : 0, bottom += a == kh - 1 ? v : 0;
            }
        beyond += largest > bound;
        squares += sq;
        if (sum * sum < ZERO_SUM * k * sq) {
            zero_sum++;
            double horizontal = fabs(right - left), vertical = fabs(bottom - top);
            across += horizontal > 2 * vertical, down += vertical > 2 * horizontal;
        }
    }
    double rms = sqrt(squares / n), by_chance = n * erf(sqrt(k * ZERO_SUM / 2));
    fprintf(f, "### What the %s's first layer learned\n\n![first-layer filters](figures/%s_filters.png)\n\n"
               "The %d filters of its first convolution after %d epoch%s, each %dx%d on its own grey scale: mid grey "
               "is 0, white and black the filter's largest |weight|, positive and negative (the largest of all is "
               "%.2f). They started within ±%.3f (PyTorch's default initialisation, ±1/√fan_in with fan_in = %d); "
               "now %d of the %d have a weight beyond that, and their root-mean-square norm has %s from %.2f, as "
               "initialised, to %.2f.",
            network_name(u), u->name, n, u->n_epochs, u->n_epochs == 1 ? "" : "s", kh, kw, extent, bound, k, beyond, n,
            rms >= init_rms ? "grown" : "shrunk", init_rms, rms);
    fprintf(f, " %d of them have weights that sum to almost zero (their mean carries under %g%% of their squared "
               "norm), against about %.0f by chance at initialisation: %s. Such a filter responds to a change of "
               "brightness across its window, an edge or a line, not to the brightness itself. Of those, the change "
               "runs mostly from left to right in %d (their left and right columns differ by more than twice what "
               "their top and bottom rows do), mostly from top to bottom in %d, and both ways in %d.\n\n",
            zero_sum, 100 * ZERO_SUM, by_chance,
            zero_sum >= 2 * by_chance ? "at least twice as many, so training made edge detectors of them"
                                      : "under twice as many, too few to say that training made edge detectors",
            across, down, zero_sum - across - down);
}

static void comparison_section(FILE *f, const report *r)
{
    const run *c[MAX_COMPARED];
    int n = compared_runs(r, c), epochs = most_epochs(c, n);
    if (!n) return;
    const run *mlp = strcmp(c[0]->group, "grid") ? NULL : c[0];
    fprintf(f, "## The MLP against two CNNs (issue 15)\n\n"
               "Three networks trained with one recipe, Adam lr 0.001, batch 64, seed 0, on the same images. The MLP "
               "is the grid's run of that recipe%s; the CNNs are `tg train --model cnn`, two 3x3 convolutions of 32 "
               "and 64 channels, each followed by ReLU and 2x2 max-pooling, then linear 128, ReLU and linear 10, and "
               "`--model cnn-bn`, the same with BatchNorm after each convolution.\n\n"
               "![test accuracy per epoch](figures/cnn_accuracy.png)\n\n| epoch |",
            mlp ? " (above)" : " — missing from this manifest");
    for (int i = 0; i < n; i++) fprintf(f, " %s |", network_name(c[i]));
    fprintf(f, "\n|---:|");
    for (int i = 0; i < n; i++) fprintf(f, "---:|");
    for (int e = 0; e < epochs; e++) {
        fprintf(f, "\n| %d |", e + 1);
        for (int i = 0; i < n; i++)
            if (e < c[i]->n_epochs)
                fprintf(f, " %.2f%% |", 100 * c[i]->epoch_accuracy[e]);
            else
                fprintf(f, " - |");
    }
    fprintf(f, "\n\n| network | test accuracy | best (after epoch) | final train loss | test loss | samples/s | seconds "
               "|\n|:---|---:|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < n; i++) {
        const run *u = c[i];
        char best[32] = "-", rate[32] = "-";
        if (u->n_epochs) {
            int e = peak_epoch(u->epoch_accuracy, u->n_epochs, 1);
            snprintf(best, sizeof best, "%.2f%% (%d)", 100 * u->epoch_accuracy[e - 1], e);
        }
        if (!isnan(u->samples_per_s)) snprintf(rate, sizeof rate, "%.0f", u->samples_per_s);
        fprintf(f, "| %s | %.2f%% | %s | %.4f | %.4f | %s | %.0f |\n", network_name(u), 100 * u->test_accuracy, best,
                u->final_train_loss, u->test_loss, rate, u->seconds);
    }
    fprintf(f, "\n![training speed](figures/cnn_speed.png)\n\n");
    comparison_findings(f, c, n, mlp);
    for (int i = 0; i < n; i++)
        if (c[i]->filters) filters_findings(f, c[i]);
}

static void report_md(FILE *f, const report *r, const void *arg)
{
    (void)arg;
    fprintf(f, "# The lectures' experiments, run with tg\n\n"
               "Written by `tg report` from the runs in this directory%s. Every number below comes from the runs' "
               "logs (`runs/*.csv`); every finding is computed from those numbers.\n\n",
            r->quick ? " — **QUICK mode: a 6,000-image subset, 1 epoch**, so the curves are short and some "
                       "lecture points need the full run (`make experiments`) to show" : "");
    grid_section(f, r);
    comparison_section(f, r);
    sweep_section(f, r);
    warmup_section(f, r);
    lasso_section(f, r);
    rosenbrock_section(f, r);
}

int cmd_report(int argc, char **argv)
{
    if (argc != 1 || argv[0][0] == '-') {
        fprintf(stderr, "usage: tg report DIR   (DIR as scripts/experiments.sh leaves it)\n");
        return EXIT_USAGE;
    }
    if (cli_parse_only) return EXIT_OK;
    report *r = calloc(1, sizeof *r);
    if (!r) return EXIT_FAIL;
    r->dir = argv[0];
    int code = EXIT_FAIL;
    if (!read_manifest(r) || !write_data(r) || !write_in(r, "summary.csv", summary, NULL) ||
        !write_in(r, "plots.gp", plots, NULL) || !write_in(r, "REPORT.md", report_md, NULL))
        goto done;
    printf("tg report: wrote %s/summary.csv, %s/plots.gp and %s/REPORT.md\n", r->dir, r->dir, r->dir);
    code = EXIT_OK;
done:
    for (int i = 0; i < r->n_runs; i++) {
        run *u = &r->runs[i];
        free(u->samples), free(u->loss), free(u->spread);
        tg_tensor_free(u->filters);
    }
    free(r);
    return code;
}
