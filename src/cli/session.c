/* session.c — the training configuration, the model and optimizer it
 * builds, evaluation, and checkpoints that continue a run exactly. */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"

enum { EVAL_BATCH = 1000 };

/* ---- configuration ---- */

void config_defaults(train_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->dataset, sizeof c->dataset, "fashion-mnist");
    c->hidden[0] = c->hidden[1] = 512; /* the lectures' (and PyTorch tutorial's) MLP */
    c->n_hidden = 2;
    c->act = TG_ACT_RELU;
    optim_args_init(&c->optim);
    c->batch_size = 64;
    c->epochs = 10;
    c->log_every = 1000;
}

static const char *const act_names[] = {"relu", "tanh", "sigmoid", "gelu"};

static bool parse_hidden(train_config *c, const char *text)
{
    c->n_hidden = 0;
    for (const char *p = text; p && *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || (*end && *end != ',') || v <= 0 || v > 1 << 20 || c->n_hidden == MAX_HIDDEN) {
            fprintf(stderr, "tg: --hidden needs up to %d positive sizes like 512,512 (or \"\" for none), got '%s'\n",
                    MAX_HIDDEN, text);
            return false;
        }
        c->hidden[c->n_hidden++] = (int)v;
        p = *end ? end + 1 : end;
    }
    return true;
}

static bool int_flag(const char *flag, const char *value, int lo, int *out)
{
    uint64_t v;
    if (!arg_u64(flag, value, &v)) return false;
    if (v < (uint64_t)lo || v > 1000000000) {
        fprintf(stderr, "tg: %s must be at least %d, got '%s'\n", flag, lo, value);
        return false;
    }
    *out = (int)v;
    return true;
}

static bool real_flag(const char *flag, const char *value, double lo, double hi, bool hi_open, double *out)
{
    if (!arg_double(flag, value, out)) return false;
    if (*out < lo || *out > hi || (hi_open && *out == hi)) {
        fprintf(stderr, "tg: %s must be in [%g, %g%c, got '%s'\n", flag, lo, hi, hi_open ? ')' : ']', value);
        return false;
    }
    return true;
}

int config_flag(train_config *c, int argc, char **argv, int *i)
{
    int used = optim_args_flag(&c->optim, argc, argv, i);
    if (used) return used;
    const char *f = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    bool ok;
    if (!strcmp(f, "--normalize")) {
        c->normalize = true;
        return 1;
    }
    if (!strcmp(f, "--dataset")) {
        ok = v && (!strcmp(v, "fashion-mnist") || !strcmp(v, "mnist"));
        if (ok) snprintf(c->dataset, sizeof c->dataset, "%s", v);
        else fprintf(stderr, "tg: --dataset is fashion-mnist or mnist, not '%s'\n", v ? v : "");
    } else if (!strcmp(f, "--model")) {
        ok = v && !strcmp(v, "mlp");
        if (!ok) fprintf(stderr, "tg: --model: tg has mlp, not '%s'\n", v ? v : "");
    } else if (!strcmp(f, "--hidden")) {
        ok = v && parse_hidden(c, v);
    } else if (!strcmp(f, "--activation")) {
        ok = false;
        for (int k = 0; k < 4 && v; k++)
            if (!strcmp(v, act_names[k])) c->act = (tg_activation)k, ok = true;
        if (!ok) fprintf(stderr, "tg: --activation is relu, tanh, sigmoid or gelu, not '%s'\n", v ? v : "");
    } else if (!strcmp(f, "--schedule-every")) {
        ok = v && (!strcmp(v, "step") || !strcmp(v, "epoch"));
        if (ok) c->schedule_per_epoch = !strcmp(v, "epoch");
        else fprintf(stderr, "tg: --schedule-every is step or epoch, not '%s'\n", v ? v : "");
    } else if (!strcmp(f, "--dropout")) ok = real_flag(f, v, 0, 1, true, &c->dropout);
    else if (!strcmp(f, "--batch-size")) ok = int_flag(f, v, 1, &c->batch_size);
    else if (!strcmp(f, "--epochs")) ok = int_flag(f, v, 1, &c->epochs);
    else if (!strcmp(f, "--l1")) ok = real_flag(f, v, 0, INFINITY, false, &c->l1);
    else if (!strcmp(f, "--l2")) ok = real_flag(f, v, 0, INFINITY, false, &c->l2);
    else if (!strcmp(f, "--label-smoothing")) ok = real_flag(f, v, 0, 1, false, &c->label_smoothing);
    else if (!strcmp(f, "--val-split")) ok = real_flag(f, v, 0, 1, true, &c->val_split);
    else if (!strcmp(f, "--early-stop")) ok = int_flag(f, v, 0, &c->early_stop);
    else if (!strcmp(f, "--seed")) ok = arg_u64(f, v, &c->seed);
    else if (!strcmp(f, "--train-samples")) ok = int_flag(f, v, 0, &c->train_samples);
    else if (!strcmp(f, "--test-samples")) ok = int_flag(f, v, 0, &c->test_samples);
    else if (!strcmp(f, "--log-every")) ok = int_flag(f, v, 1, &c->log_every);
    else return 0;
    if (!ok) return -1;
    *i += 1;
    return 1;
}

int paths_flag(run_paths *p, int argc, char **argv, int *i)
{
    static const char *const names[] = {"--data-dir", "--save", "--resume", "--log", "--metrics"};
    const char **slots[] = {&p->data_dir, &p->save, &p->resume, &p->log, &p->metrics};
    const char *f = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    for (int k = 0; k < 5; k++)
        if (!strcmp(f, names[k])) {
            if (!v || !*v) {
                fprintf(stderr, "tg: %s needs a path\n", f);
                return -1;
            }
            *slots[k] = v;
            *i += 1;
            return 1;
        }
    if (!strcmp(f, "--threads")) {
        if (!int_flag(f, v, 1, &p->threads)) return -1;
        tg_set_threads(p->threads);
        *i += 1;
        return 1;
    }
    if (!strcmp(f, "--check-numerics")) { /* every graph the run makes checks (tg.h) */
        p->check_numerics = true;
        setenv("TG_CHECK_NUMERICS", "1", 1);
        return 1;
    }
    return 0;
}

bool config_finish(train_config *c)
{
    if (!optim_args_finish(&c->optim, TG_OPTIM_SGD)) return false;
    if (c->optim.kind == TG_OPTIM_LBFGS) {
        fprintf(stderr, "tg train: lbfgs re-evaluates full batches; train with a stochastic optimizer "
                        "(tg optimize runs lbfgs)\n");
        return false;
    }
    if (c->optim.sched == TG_SCHED_PLATEAU) c->schedule_per_epoch = true;
    return true;
}

/* ---- the config as flags: what a checkpoint stores ---- */

static tg_status put_flag(tg_buf *b, const char *flag, const char *value)
{
    tg_status s = tg_buf_put(b, flag, strlen(flag) + 1);
    return s == TG_OK && value ? tg_buf_put(b, value, strlen(value) + 1) : s;
}

static tg_status put_number(tg_buf *b, const char *flag, double v)
{
    char text[40];
    snprintf(text, sizeof text, "%.17g", v);
    return put_flag(b, flag, text);
}

static int by_flag(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

tg_status config_to_flags(const train_config *c, tg_buf *b)
{
    char hidden[MAX_HIDDEN * 12] = "";
    for (int k = 0, len = 0; k < c->n_hidden; k++)
        len += snprintf(hidden + len, sizeof hidden - (size_t)len, k ? ",%d" : "%d", c->hidden[k]);
    tg_status s = put_flag(b, "--dataset", c->dataset);
    if (s == TG_OK) s = put_flag(b, "--hidden", hidden);
    if (s == TG_OK) s = put_flag(b, "--activation", act_names[c->act]);
    const struct { const char *flag; double v; } numbers[] = {
        {"--dropout", c->dropout}, {"--batch-size", c->batch_size}, {"--epochs", c->epochs}, {"--l1", c->l1},
        {"--l2", c->l2}, {"--label-smoothing", c->label_smoothing}, {"--val-split", c->val_split},
        {"--early-stop", c->early_stop}, {"--seed", (double)c->seed}, {"--train-samples", c->train_samples},
        {"--test-samples", c->test_samples}, {"--log-every", c->log_every}};
    for (size_t k = 0; k < sizeof numbers / sizeof numbers[0] && s == TG_OK; k++) {
        if (!strcmp(numbers[k].flag, "--seed")) {
            char text[24];
            snprintf(text, sizeof text, "%llu", (unsigned long long)c->seed);
            s = put_flag(b, "--seed", text);
        } else {
            s = put_number(b, numbers[k].flag, numbers[k].v);
        }
    }
    if (s == TG_OK && c->normalize) s = put_flag(b, "--normalize", NULL);
    if (s == TG_OK && c->schedule_per_epoch) s = put_flag(b, "--schedule-every", "epoch");
    if (s == TG_OK) s = put_flag(b, "--optimizer", tg_optim_kind_name(c->optim.kind));
    if (s == TG_OK && c->optim.sched >= 0) s = put_flag(b, "--schedule", tg_sched_kind_name(c->optim.sched));
    if (s == TG_OK && c->optim.clip_norm > 0) s = put_number(b, "--clip-norm", c->optim.clip_norm);
    if (s == TG_OK && c->optim.clip_value > 0) s = put_number(b, "--clip-value", c->optim.clip_value);
    /* the option flags, each once (the last given wins), sorted: the same
     * settings give the same bytes whatever order they were typed in */
    const char *flags[64];
    int n = 0;
    for (int k = c->optim.n_pending - 1; k >= 0; k--) {
        bool seen = false;
        for (int j = 0; j < n; j++) seen |= !strcmp(flags[j], c->optim.pending[k][0]);
        if (!seen) flags[n++] = c->optim.pending[k][0];
    }
    qsort(flags, (size_t)n, sizeof *flags, by_flag);
    for (int j = 0; j < n && s == TG_OK; j++)
        for (int k = c->optim.n_pending - 1; k >= 0; k--)
            if (!strcmp(flags[j], c->optim.pending[k][0])) {
                s = put_flag(b, flags[j], c->optim.pending_switch[k] ? NULL : c->optim.pending[k][1]);
                break;
            }
    return s;
}

bool config_from_flags(train_config *c, const void *data, size_t n)
{
    const char *text = data;
    if (!n || text[n - 1] != '\0') {
        fprintf(stderr, "tg: the checkpoint's configuration is malformed\n");
        return false;
    }
    char *argv[256];
    int argc = 0;
    for (size_t pos = 0; pos < n && argc < 256; pos += strlen(text + pos) + 1) argv[argc++] = (char *)text + pos;
    config_defaults(c);
    for (int i = 0; i < argc; i++) {
        int used = config_flag(c, argc, argv, &i);
        if (used <= 0) {
            if (!used) fprintf(stderr, "tg: the checkpoint's configuration has an unknown flag '%s'\n", argv[i]);
            return false;
        }
    }
    return config_finish(c);
}

void config_describe(const train_config *c, char *buf, int size)
{
    char opt[256], hidden[MAX_HIDDEN * 12] = "none";
    optim_args_describe(&c->optim, opt, sizeof opt);
    for (int k = 0, len = 0; k < c->n_hidden; k++)
        len += snprintf(hidden + len, sizeof hidden - (size_t)len, k ? "-%d" : "%d", c->hidden[k]);
    snprintf(buf, (size_t)size, "%s, mlp hidden %s %s%s, %s, batch %d, %d epoch%s, seed %llu", c->dataset, hidden,
             act_names[c->act], c->dropout > 0 ? " dropout" : "", opt, c->batch_size, c->epochs,
             c->epochs == 1 ? "" : "s", (unsigned long long)c->seed);
}

const char *data_dir_for(const train_config *c, const run_paths *p)
{
    static char dir[256];
    if (p && p->data_dir) return p->data_dir;
    if (getenv("TG_DATA_DIR") && *getenv("TG_DATA_DIR")) return getenv("TG_DATA_DIR");
    snprintf(dir, sizeof dir, "/usr/share/datasets/%s", c->dataset);
    return dir;
}

bool load_dataset(const char *dir, bool train, tg_dataset *out)
{
    tg_status s = tg_dataset_load(dir, train, out);
    if (s != TG_OK)
        fprintf(stderr, "tg: %s%s\n", tg_last_error(),
                s == TG_ERR_IO ? "; point --data-dir (or $TG_DATA_DIR) at the directory that holds them" : "");
    return s == TG_OK;
}

const char *class_name(const train_config *c, int k)
{
    static const char *const digits[10] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    if (!strcmp(c->dataset, "mnist")) return k >= 0 && k < 10 ? digits[k] : "?";
    return tg_fashion_mnist_class(k);
}

/* ---- the session ---- */

/* Independent streams from one seed: initialisation, the validation split
 * and training (shuffling, dropout) each get their own, so resuming needs
 * only the training stream's state. */
void seed_stream(tg_rng *r, uint64_t seed, uint64_t stream) { tg_rng_seed(r, seed + stream * 0x9e3779b97f4a7c15u); }

bool session_new(session *s, const train_config *c, int inputs, int classes)
{
    memset(s, 0, sizeof *s);
    tg_rng init;
    seed_stream(&init, c->seed, 1);
    seed_stream(&s->rng, c->seed, 3);
    s->mean = 0.0f, s->std = 1.0f;
    s->best_eval_loss = INFINITY;
    s->model = tg_mlp_new(inputs, c->hidden, c->n_hidden, classes, c->act, (float)c->dropout, &init);
    if (s->model) s->n_params = tg_mlp_params(s->model, s->params, 2 * (MAX_HIDDEN + 1));
    if (s->model) s->opt = tg_optim_new(c->optim.kind, s->params, s->n_params, &c->optim.opts);
    if (s->opt && c->optim.sched >= 0) s->sched = tg_sched_new(s->opt, c->optim.sched, &c->optim.sched_opts);
    if (!s->model || !s->opt || (c->optim.sched >= 0 && !s->sched)) {
        fprintf(stderr, "tg: %s\n", tg_last_error());
        session_free(s);
        return false;
    }
    return true;
}

void session_free(session *s)
{
    tg_sched_free(s->sched);
    tg_optim_free(s->opt);
    tg_mlp_free(s->model);
    memset(s, 0, sizeof *s);
}

/* ---- checkpoints ---- */

static tg_status put_rng(tg_buf *b, const tg_rng *r)
{
    tg_status s = TG_OK;
    for (int k = 0; k < 4 && s == TG_OK; k++) s = tg_buf_put_u64(b, r->s[k]);
    if (s == TG_OK) s = tg_buf_put_u64(b, (uint64_t)r->has_spare);
    return s == TG_OK ? tg_buf_put_f64(b, r->spare) : s;
}

static tg_status get_rng(tg_buf *b, tg_rng *r)
{
    uint64_t spare_flag = 0;
    double spare = 0.0;
    tg_status s = TG_OK;
    for (int k = 0; k < 4 && s == TG_OK; k++) s = tg_buf_get_u64(b, &r->s[k]);
    if (s == TG_OK) s = tg_buf_get_u64(b, &spare_flag);
    if (s == TG_OK) s = tg_buf_get_f64(b, &spare);
    r->has_spare = spare_flag != 0;
    r->spare = (float)spare;
    return s;
}

/* epoch, step, samples seen, early-stopping state, normalisation */
static tg_status put_progress(tg_buf *b, const session *s)
{
    const uint64_t counts[] = {(uint64_t)s->epoch, s->step, s->samples_seen, (uint64_t)s->bad_epochs};
    const double reals[] = {s->best_eval_loss, s->mean, s->std};
    tg_status st = TG_OK;
    for (int k = 0; k < 4 && st == TG_OK; k++) st = tg_buf_put_u64(b, counts[k]);
    for (int k = 0; k < 3 && st == TG_OK; k++) st = tg_buf_put_f64(b, reals[k]);
    return st;
}

static tg_status get_progress(tg_buf *b, session *s)
{
    uint64_t counts[4];
    double reals[3];
    tg_status st = TG_OK;
    for (int k = 0; k < 4 && st == TG_OK; k++) st = tg_buf_get_u64(b, &counts[k]);
    for (int k = 0; k < 3 && st == TG_OK; k++) st = tg_buf_get_f64(b, &reals[k]);
    if (st == TG_OK && (counts[0] > 1000000000 || counts[3] > 1000000000 || !(reals[2] > 0))) {
        tg_set_error("the progress record is out of range");
        st = TG_ERR_FORMAT;
    }
    if (st != TG_OK) return st;
    s->epoch = (int)counts[0], s->step = counts[1], s->samples_seen = counts[2], s->bad_epochs = (int)counts[3];
    s->best_eval_loss = reals[0], s->mean = (float)reals[1], s->std = (float)reals[2];
    return TG_OK;
}

/* Adds the blob that save(obj, buf) produces under name. */
static tg_status add_state(tg_checkpoint *ck, const char *name, tg_status (*save)(const void *, tg_buf *),
                           const void *obj)
{
    tg_buf b = {0};
    tg_status s = save(obj, &b);
    if (s == TG_OK) s = tg_checkpoint_add_blob(ck, name, b.data, b.len);
    tg_buf_free(&b);
    return s;
}

static tg_status save_config(const void *c, tg_buf *b) { return config_to_flags(c, b); }
static tg_status save_optim(const void *o, tg_buf *b) { return tg_optim_save(o, b); }
static tg_status save_sched(const void *s, tg_buf *b) { return tg_sched_save(s, b); }
static tg_status save_rng(const void *r, tg_buf *b) { return put_rng(b, r); }
static tg_status save_progress(const void *s, tg_buf *b) { return put_progress(b, s); }

static void param_name(char *buf, size_t size, int k)
{
    snprintf(buf, size, "model/%s%d", k % 2 ? "b" : "W", k / 2);
}

tg_status session_save(const session *s, const train_config *c, const char *path)
{
    tg_checkpoint *ck = tg_checkpoint_new();
    tg_status st = ck ? add_state(ck, "config", save_config, c) : TG_ERR_NOMEM;
    for (int k = 0; k < s->n_params && st == TG_OK; k++) {
        char name[32];
        param_name(name, sizeof name, k);
        st = tg_checkpoint_add_tensor(ck, name, s->params[k]);
    }
    if (st == TG_OK) st = add_state(ck, "optim", save_optim, s->opt);
    if (st == TG_OK && s->sched) st = add_state(ck, "sched", save_sched, s->sched);
    if (st == TG_OK) st = add_state(ck, "rng", save_rng, &s->rng);
    if (st == TG_OK) st = add_state(ck, "progress", save_progress, s);
    if (st == TG_OK) st = tg_checkpoint_write(ck, path);
    tg_checkpoint_free(ck);
    return st;
}

bool checkpoint_config(const char *path, tg_checkpoint **ck, train_config *c)
{
    const void *data;
    size_t n;
    if (tg_checkpoint_read(path, ck) != TG_OK || tg_checkpoint_get_blob(*ck, "config", &data, &n) != TG_OK) {
        fprintf(stderr, "tg: %s\n", tg_last_error());
        tg_checkpoint_free(*ck);
        *ck = NULL;
        return false;
    }
    if (!config_from_flags(c, data, n)) {
        tg_checkpoint_free(*ck);
        *ck = NULL;
        return false;
    }
    return true;
}

/* Reads blob name into a tg_buf and hands it to load. */
static tg_status load_state(const tg_checkpoint *ck, const char *name, tg_status (*load)(void *, tg_buf *), void *obj)
{
    const void *data;
    size_t n;
    tg_status s = tg_checkpoint_get_blob(ck, name, &data, &n);
    if (s != TG_OK) return s;
    tg_buf b = {.data = (unsigned char *)data, .len = n};
    s = load(obj, &b);
    if (s == TG_OK && b.pos != b.len) {
        tg_set_error("checkpoint: '%s' has %zu bytes more than it describes", name, b.len - b.pos);
        s = TG_ERR_FORMAT;
    }
    return s;
}

static tg_status load_optim(void *o, tg_buf *b) { return tg_optim_load(o, b); }
static tg_status load_sched(void *s, tg_buf *b) { return tg_sched_load(s, b); }
static tg_status load_rng(void *r, tg_buf *b) { return get_rng(b, r); }
static tg_status load_progress(void *s, tg_buf *b) { return get_progress(b, s); }

bool session_load(session *s, const tg_checkpoint *ck)
{
    tg_status st = TG_OK;
    for (int k = 0; k < s->n_params && st == TG_OK; k++) {
        char name[32];
        param_name(name, sizeof name, k);
        st = tg_checkpoint_get_tensor(ck, name, s->params[k]);
    }
    if (st == TG_OK) st = load_state(ck, "optim", load_optim, s->opt);
    if (st == TG_OK && s->sched) st = load_state(ck, "sched", load_sched, s->sched);
    if (st == TG_OK) st = load_state(ck, "rng", load_rng, &s->rng);
    if (st == TG_OK) st = load_state(ck, "progress", load_progress, s);
    if (st != TG_OK) fprintf(stderr, "tg: %s\n", tg_last_error());
    return st == TG_OK;
}

/* ---- evaluation ---- */

bool evaluate(const session *s, const tg_dataset *d, const int *rows, int n, eval_result *r, long *confusion)
{
    int pixels = d->rows * d->cols, batch = n < EVAL_BATCH ? n : EVAL_BATCH;
    float *x = malloc((size_t)batch * pixels * sizeof *x);
    int *y = malloc((size_t)batch * sizeof *y), *pred = malloc((size_t)batch * sizeof *pred);
    tg_graph *g = tg_graph_new();
    double total = 0.0;
    long right = 0;
    bool ok = x && y && pred && g;
    if (g) tg_graph_set_grad(g, false);
    for (int start = 0; ok && start < n; start += batch) {
        int m = n - start < batch ? n - start : batch;
        ok = tg_dataset_batch(d, rows + start, m, s->mean, s->std, x, y) == TG_OK;
        tg_tensor *logits = tg_mlp_forward(g, s->model, tg_from_blob(g, x, 2, (int[]){m, pixels}), false, NULL);
        tg_tensor *loss = tg_cross_entropy(g, logits, y, &(tg_class_loss_opts){.reduction = TG_REDUCE_SUM});
        ok = ok && loss && tg_argmax(logits, 1, pred) == TG_OK;
        for (int i = 0; ok && i < m; i++) {
            right += pred[i] == y[i];
            if (confusion) confusion[y[i] * d->n_classes + pred[i]]++;
        }
        if (ok) total += loss->data[0];
        tg_graph_reset(g);
    }
    if (!ok) fprintf(stderr, "tg: evaluation failed: %s\n", tg_last_error()[0] ? tg_last_error() : "out of memory");
    r->loss = n ? total / n : NAN;
    r->accuracy = n ? (double)right / n : NAN;
    tg_graph_free(g);
    free(x), free(y), free(pred);
    return ok;
}
