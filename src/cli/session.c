/* session.c — the training configuration, the model and optimizer it
 * builds, evaluation, and checkpoints that continue a run exactly. */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "session.h"

/* Evaluation runs in batches of up to EVAL_BATCH images; fewer when one
 * image's tensors are large (a CNN's feature maps, ~340 KB an image), so
 * that a batch's graph stays within EVAL_BYTES: memory stays bounded and a
 * batch's tensors stay in the caches. The CNN's 10,000 images on one
 * thread: 1.06 s at 32 MB (batches of 64), 0.88 s at 8 MB (16); the MLP's:
 * 0.112 s at 32 MB (1,000), 0.104 s at 8 MB (675). A forward of
 * EVAL_PROBE images measures it. */
enum { EVAL_BATCH = 1000, EVAL_PROBE = 16, EVAL_BYTES = 8 << 20 };

/* ---- configuration: one table of training flags ----
 * Parsing, checking, the usage text and the flags a checkpoint stores all
 * come from `fields` (the optimizer's flags come from its own tables, and
 * the model's options from its kind, tg_model_kind). The order of the rows
 * is the order a checkpoint stores them in, after --dataset and the model. */

typedef enum field_type {
    FIELD_DATASET,   /* a name tg_dataset_find knows */
    FIELD_INT,       /* an integer >= lo */
    FIELD_REAL,      /* a number in [lo, hi] (or [lo, hi) with hi_open) */
    FIELD_U64,       /* any non-negative integer */
    FIELD_SWITCH,    /* present or not; stored only when present */
    FIELD_WORD       /* words[0] (false, the default) or words[1] (true); stored only when true */
} field_type;

typedef struct config_field {
    const char *flag;
    field_type type;
    size_t offset;           /* in train_config */
    double lo, hi;
    bool hi_open;
    char group;              /* d(ata), t(raining), o(utput) in the usage text */
    const char *help;        /* after the flag in the usage text ("N", "F") */
    const char *words[2];    /* FIELD_WORD */
} config_field;

#define AT(field) offsetof(train_config, field)
static const config_field fields[] = {
    {"--dataset", FIELD_DATASET, AT(dataset), 0, 0, false, 'd', NULL, {0}}, /* the names tg_dataset_kinds has */
    {"--batch-size", FIELD_INT, AT(batch_size), 1, 0, false, 't', "N", {0}},
    {"--epochs", FIELD_INT, AT(epochs), 1, 0, false, 't', "N", {0}},
    {"--l1", FIELD_REAL, AT(l1), 0, INFINITY, false, 't', "F", {0}},
    {"--l2", FIELD_REAL, AT(l2), 0, INFINITY, false, 't', "F (on weights)", {0}},
    {"--label-smoothing", FIELD_REAL, AT(label_smoothing), 0, 1, false, 't', "F", {0}},
    {"--val-split", FIELD_REAL, AT(val_split), 0, 1, true, 'd', "F", {0}},
    {"--early-stop", FIELD_INT, AT(early_stop), 0, 0, false, 't', "PATIENCE (epochs without a better eval loss)", {0}},
    {"--seed", FIELD_U64, AT(seed), 0, 0, false, 't', "N", {0}},
    {"--train-samples", FIELD_INT, AT(train_samples), 0, 0, false, 'd', "N (0: all)", {0}},
    {"--test-samples", FIELD_INT, AT(test_samples), 0, 0, false, 'd', "N (0: all)", {0}},
    {"--log-every", FIELD_INT, AT(log_every), 1, 0, false, 'o', "N", {0}},
    {"--normalize", FIELD_SWITCH, AT(normalize), 0, 0, false, 'd', "((x - mean) / std of the training images)", {0}},
    {"--schedule-every", FIELD_WORD, AT(schedule_per_epoch), 0, 0, false, 't', "step|epoch", {"step", "epoch"}},
    {"--shuffle", FIELD_WORD, AT(no_shuffle), 0, 0, false, 'd', "on|off (off: the training set in order)",
     {"on", "off"}},
};
enum { N_FIELDS = sizeof fields / sizeof fields[0] };
#undef AT

void config_defaults(train_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->dataset, sizeof c->dataset, "fashion-mnist");
    tg_model_spec_init(&c->model, "mlp");
    optim_args_init(&c->optim);
    c->batch_size = 64;
    c->epochs = 10;
    c->log_every = 1000;
}

static void *slot(train_config *c, const config_field *f) { return (char *)c + f->offset; }
static const void *cslot(const train_config *c, const config_field *f) { return (const char *)c + f->offset; }

static const config_field *field_named(const char *flag)
{
    for (int k = 0; k < N_FIELDS; k++)
        if (!strcmp(fields[k].flag, flag)) return &fields[k];
    return NULL;
}

/* value into f's slot of c, checked; false with a message. */
static bool field_parse(train_config *c, const config_field *f, const char *value)
{
    uint64_t u;
    double v;
    switch (f->type) {
    case FIELD_DATASET:
        if (!value || !tg_dataset_find(value)) {
            fprintf(stderr, "tg: --dataset: %s\n", value ? tg_last_error() : "needs a name");
            return false;
        }
        snprintf(c->dataset, sizeof c->dataset, "%s", value);
        return true;
    case FIELD_INT:
        if (!arg_u64(f->flag, value, &u)) return false;
        if (u < (uint64_t)f->lo || u > 1000000000) {
            fprintf(stderr, "tg: %s must be at least %g, got '%s'\n", f->flag, f->lo, value);
            return false;
        }
        *(int *)slot(c, f) = (int)u;
        return true;
    case FIELD_REAL:
        if (!arg_double(f->flag, value, &v)) return false;
        if (v < f->lo || v > f->hi || (f->hi_open && v == f->hi)) {
            fprintf(stderr, "tg: %s must be in [%g, %g%c, got '%s'\n", f->flag, f->lo, f->hi, f->hi_open ? ')' : ']',
                    value);
            return false;
        }
        *(double *)slot(c, f) = v;
        return true;
    case FIELD_U64:
        return arg_u64(f->flag, value, (uint64_t *)slot(c, f));
    case FIELD_SWITCH:
        *(bool *)slot(c, f) = true;
        return true;
    default:
        if (!value || (strcmp(value, f->words[0]) && strcmp(value, f->words[1]))) {
            fprintf(stderr, "tg: %s is %s or %s, not '%s'\n", f->flag, f->words[0], f->words[1], value ? value : "");
            return false;
        }
        *(bool *)slot(c, f) = !strcmp(value, f->words[1]);
        return true;
    }
}

/* f's value in c as the text that parses back to it; false when f is not
 * stored (a switch that is off, the default schedule-every). */
static bool field_text(const train_config *c, const config_field *f, char *buf, size_t size)
{
    switch (f->type) {
    case FIELD_DATASET: snprintf(buf, size, "%s", c->dataset); return true;
    case FIELD_INT: snprintf(buf, size, "%.17g", (double)*(const int *)cslot(c, f)); return true;
    case FIELD_REAL: snprintf(buf, size, "%.17g", *(const double *)cslot(c, f)); return true;
    case FIELD_U64: snprintf(buf, size, "%llu", (unsigned long long)*(const uint64_t *)cslot(c, f)); return true;
    case FIELD_SWITCH: buf[0] = '\0'; return *(const bool *)cslot(c, f);
    default: snprintf(buf, size, "%s", f->words[1]); return *(const bool *)cslot(c, f);
    }
}

/* Whether some model kind has option flag ("--hidden"). */
static bool is_model_option(const char *flag)
{
    const tg_model_kind *kinds[8];
    int n = tg_model_kinds(kinds, 8);
    for (int k = 0; k < n && k < 8; k++)
        if (!strncmp(flag, "--", 2) && tg_model_has_opt(kinds[k], flag + 2)) return true;
    return false;
}

int config_flag(train_config *c, int argc, char **argv, int *i)
{
    int used = optim_args_flag(&c->optim, argc, argv, i);
    if (used) return used;
    const char *f = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    const config_field *field = field_named(f);
    if (field) {
        if (!field_parse(c, field, v)) return -1;
        if (field->type != FIELD_SWITCH) *i += 1;
        return 1;
    }
    if (!strcmp(f, "--model") || is_model_option(f)) {
        /* kept as given until --model is known (it may come later) */
        if (!v || c->n_model_flags == MAX_MODEL_FLAGS || strlen(v) >= sizeof c->model_flags[0][1]) {
            fprintf(stderr, "tg: %s needs a value%s\n", f, !v ? "" : c->n_model_flags == MAX_MODEL_FLAGS
                                                                        ? " (too many model flags)" : " (too long)");
            return -1;
        }
        snprintf(c->model_flags[c->n_model_flags][0], sizeof c->model_flags[0][0], "%s", f);
        snprintf(c->model_flags[c->n_model_flags][1], sizeof c->model_flags[0][1], "%s", v);
        c->n_model_flags++;
        *i += 1;
        return 1;
    }
    return 0;
}

/* The model: --model (the last one given; mlp by default), then its
 * options in the order given. */
static bool model_finish(train_config *c)
{
    const char *kind = "mlp";
    for (int k = 0; k < c->n_model_flags; k++)
        if (!strcmp(c->model_flags[k][0], "--model")) kind = c->model_flags[k][1];
    bool ok = tg_model_spec_init(&c->model, kind) == TG_OK;
    for (int k = 0; ok && k < c->n_model_flags; k++)
        if (strcmp(c->model_flags[k][0], "--model"))
            ok = tg_model_spec_set(&c->model, c->model_flags[k][0] + 2, c->model_flags[k][1]) == TG_OK;
    c->n_model_flags = 0;
    if (!ok || strcmp(c->model.kind->name, "layers")) {
        if (!ok) fprintf(stderr, "tg: %s\n", tg_last_error());
        return ok;
    }
    /* a line of layers is built once here, so that its mistake is a usage
     * error naming the word, before any data is read */
    const tg_dataset_info *d = dataset_of(c);
    tg_rng rng;
    tg_rng_seed(&rng, 0);
    tg_module *m = tg_model_new(&c->model, d->shape, d->n_classes, &rng);
    if (!m) fprintf(stderr, "tg: %s\n", tg_last_error());
    tg_module_free(m);
    return m != NULL;
}

int paths_flag(run_paths *p, int argc, char **argv, int *i)
{
    static const char *const names[] = {"--data-dir", "--save", "--resume", "--log", "--metrics", "--init"};
    const char **slots[] = {&p->data_dir, &p->save, &p->resume, &p->log, &p->metrics, &p->init};
    const char *f = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    for (int k = 0; k < 6; k++)
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
        uint64_t n;
        if (!arg_u64(f, v, &n) || n < 1 || n > 1000000000) {
            if (v) fprintf(stderr, "tg: --threads must be at least 1, got '%s'\n", v);
            return -1;
        }
        p->threads = (int)n;
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
    if (!model_finish(c)) return false;
    if (!optim_args_finish(&c->optim, TG_OPTIM_SGD)) return false;
    if (c->optim.kind == TG_OPTIM_LBFGS) {
        fprintf(stderr, "tg train: lbfgs re-evaluates full batches; train with a stochastic optimizer "
                        "(tg optimize runs lbfgs)\n");
        return false;
    }
    if (c->optim.sched == TG_SCHED_PLATEAU) c->schedule_per_epoch = true;
    return true;
}

void config_usage(FILE *f)
{
    static const struct { char group; const char *title; } groups[] = {
        {'d', "data:"}, {'t', "training:"}, {'o', "output:"}};
    train_config d;
    config_defaults(&d);
    const tg_model_kind *kinds[8];
    int n_kinds = tg_model_kinds(kinds, 8);
    fprintf(f, "  model:     --model ");
    for (int k = 0; k < n_kinds && k < 8; k++)
        if (strcmp(kinds[k]->name, "layers")) fprintf(f, "%s|", kinds[k]->name);
    fprintf(f, "\"LAYERS\" (mlp): LAYERS as torch.nn's, \"flatten linear(256) gelu dropout(0.1) linear(10)\"\n"
               "            ");
    char word[128];
    for (int i = 0, col = 12; tg_model_layer_word(i, word, sizeof word); i++) {
        if (col + 1 + (int)strlen(word) > 110) fprintf(f, "\n            "), col = 12;
        col += fprintf(f, " %s", word);
    }
    fprintf(f, "\n");
    for (int k = 0; k < n_kinds && k < 8; k++) {
        if (!kinds[k]->n_opts) continue;
        fprintf(f, "             %s:", kinds[k]->name);
        for (int o = 0; o < kinds[k]->n_opts; o++) {
            const tg_model_opt *opt = &kinds[k]->opts[o];
            fprintf(f, "  --%s ", opt->key);
            if (opt->type == TG_MODEL_OPT_CHOICE)
                for (int j = 0; opt->choices[j]; j++) fprintf(f, "%s%s", j ? "|" : "", opt->choices[j]);
            else
                fprintf(f, "%s", opt->type == TG_MODEL_OPT_SIZES ? "N,N,..." : "F");
            fprintf(f, " (%s)", opt->def);
        }
        fputc('\n', f);
    }
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        fprintf(f, "  %-11s", groups[g].title);
        int col = 0;
        for (int k = 0; k < N_FIELDS; k++) {
            if (fields[k].group != groups[g].group) continue;
            char item[160], def[64];
            int len = snprintf(item, sizeof item, "%s ", fields[k].flag);
            if (fields[k].help) {
                len += snprintf(item + len, sizeof item - (size_t)len, "%s", fields[k].help);
            } else { /* the data sets */
                const tg_dataset_info *sets[8];
                int n = tg_dataset_kinds(sets, 8);
                for (int j = 0; j < n && j < 8; j++)
                    len += snprintf(item + len, sizeof item - (size_t)len, "%s%s", j ? "|" : "", sets[j]->name);
            }
            bool has_default = (fields[k].type == FIELD_INT || fields[k].type == FIELD_U64 ||
                                fields[k].type == FIELD_DATASET) && !strchr(item, '(');
            if (has_default && field_text(&d, &fields[k], def, sizeof def))
                snprintf(item + len, sizeof item - (size_t)len, " (%s)", def);
            if (col && col + 2 + (int)strlen(item) > 86) {
                fprintf(f, "\n%13s", "");
                col = 0;
            }
            col += fprintf(f, "%s%s", col ? "  " : "", item);
        }
        fputc('\n', f);
    }
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

static tg_status put_field(tg_buf *b, const train_config *c, const config_field *f)
{
    char text[64];
    if (!field_text(c, f, text, sizeof text)) return TG_OK;
    return put_flag(b, f->flag, f->type == FIELD_SWITCH ? NULL : text);
}

/* --model (when not the default) and every option of the model. */
static tg_status put_model(tg_buf *b, const tg_model_spec *m)
{
    const char *name = strcmp(m->kind->name, "layers") ? m->kind->name : m->layers;
    tg_status s = strcmp(m->kind->name, "mlp") ? put_flag(b, "--model", name) : TG_OK;
    for (int k = 0; k < m->kind->n_opts && s == TG_OK; k++) {
        char flag[48];
        snprintf(flag, sizeof flag, "--%s", m->kind->opts[k].key);
        s = put_flag(b, flag, m->values[k]);
    }
    return s;
}

static int by_flag(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

tg_status config_to_flags(const train_config *c, tg_buf *b)
{
    tg_status s = put_field(b, c, &fields[0]); /* --dataset */
    if (s == TG_OK) s = put_model(b, &c->model);
    for (int k = 1; k < N_FIELDS && s == TG_OK; k++) s = put_field(b, c, &fields[k]);
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
    char opt[256], model[256];
    optim_args_describe(&c->optim, opt, sizeof opt);
    c->model.kind->describe(&c->model, model, sizeof model);
    snprintf(buf, (size_t)size, "%s, %s, %s, batch %d, %d epoch%s, seed %llu", c->dataset, model, opt,
             c->batch_size, c->epochs, c->epochs == 1 ? "" : "s", (unsigned long long)c->seed);
}

const tg_dataset_info *dataset_of(const train_config *c) { return tg_dataset_find(c->dataset); }

const char *data_dir_for(const train_config *c, const run_paths *p)
{
    if (p && p->data_dir) return p->data_dir;
    if (getenv("TG_DATA_DIR") && *getenv("TG_DATA_DIR")) return getenv("TG_DATA_DIR");
    return dataset_of(c)->default_dir;
}

bool load_dataset(const train_config *c, const char *dir, bool train, tg_dataset *out)
{
    tg_status s = tg_dataset_open(dataset_of(c), dir, train, out);
    if (s != TG_OK)
        fprintf(stderr, "tg: %s%s\n", tg_last_error(),
                s == TG_ERR_IO ? "; point --data-dir (or $TG_DATA_DIR) at the directory that holds them" : "");
    return s == TG_OK;
}

const char *class_name(const train_config *c, int k)
{
    const tg_dataset_info *d = dataset_of(c);
    if (k < 0 || k >= d->n_classes) return "?";
    tg_dataset names = {.n_classes = d->n_classes, .class_names = d->class_names};
    return tg_dataset_class_name(&names, k);
}

/* ---- the session ---- */

/* Independent streams from one seed: initialisation, the validation split
 * and training (shuffling, dropout) each get their own, so resuming needs
 * only the training stream's state. */
void seed_stream(tg_rng *r, uint64_t seed, uint64_t stream) { tg_rng_seed(r, seed + stream * 0x9e3779b97f4a7c15u); }

/* The parameters, and those a penalty applies to: the weights (two or more
 * dimensions), not the biases, as the lectures' L1/L2. */
static bool collect_params(session *s)
{
    s->n_params = tg_module_parameters(s->model, NULL, 0);
    s->params = malloc((size_t)(s->n_params ? s->n_params : 1) * sizeof *s->params);
    s->weights = malloc((size_t)(s->n_params ? s->n_params : 1) * sizeof *s->weights);
    if (!s->params || !s->weights) {
        tg_set_error("out of memory");
        return false;
    }
    tg_module_parameters(s->model, s->params, s->n_params);
    for (int k = 0; k < s->n_params; k++)
        if (s->params[k]->ndim >= 2) s->weights[s->n_weights++] = s->params[k];
    return true;
}

bool session_new(session *s, const train_config *c, tg_sample_shape in, int classes)
{
    memset(s, 0, sizeof *s);
    tg_rng init;
    seed_stream(&init, c->seed, 1);
    seed_stream(&s->rng, c->seed, 3);
    s->mean = 0.0f, s->std = 1.0f;
    s->best_eval_loss = INFINITY;
    s->model = tg_model_new(&c->model, in, classes, &init);
    if (s->model) tg_module_set_rng(s->model, &s->rng);
    if (s->model && collect_params(s)) s->opt = tg_optim_new(c->optim.kind, s->params, s->n_params, &c->optim.opts);
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
    tg_module_free(s->model);
    free(s->params);
    free(s->weights);
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

/* "model/" and the name of state entry k (a parameter or buffer). */
static tg_tensor *state_entry(const session *s, int k, char *buf, size_t size)
{
    char name[TG_MODULE_NAME_MAX];
    tg_tensor *t = tg_module_state(s->model, k, name, NULL);
    snprintf(buf, size, "model/%s", name);
    return t;
}

tg_status session_save(const session *s, const train_config *c, const char *path)
{
    tg_checkpoint *ck = tg_checkpoint_new();
    tg_status st = ck ? add_state(ck, "config", save_config, c) : TG_ERR_NOMEM;
    for (int k = 0; k < tg_module_state_size(s->model) && st == TG_OK; k++) {
        char name[TG_MODULE_NAME_MAX + 8];
        tg_tensor *t = state_entry(s, k, name, sizeof name);
        st = tg_checkpoint_add_tensor(ck, name, t);
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

/* State entry k from ck: under its name, or else under the name older
 * checkpoints gave it (the model kind's old_name). */
static tg_status load_entry(const session *s, const train_config *c, const tg_checkpoint *ck, int k)
{
    char name[TG_MODULE_NAME_MAX + 8], old[TG_MODULE_NAME_MAX];
    tg_tensor *t = state_entry(s, k, name, sizeof name);
    if (!t) return TG_ERR_ARG;
    tg_status st = tg_checkpoint_get_tensor(ck, name, t);
    bool (*old_name)(int, char *, size_t) = c->model.kind->old_name;
    if (st == TG_OK || !old_name || !old_name(k, old, sizeof old)) return st;
    char message[512];
    snprintf(message, sizeof message, "%s", tg_last_error());
    snprintf(name, sizeof name, "model/%s", old);
    st = tg_checkpoint_get_tensor(ck, name, t);
    if (st != TG_OK) tg_set_error("%s", message); /* today's name is the one to report */
    return st;
}

bool session_load(session *s, const train_config *c, const tg_checkpoint *ck)
{
    tg_status st = TG_OK;
    for (int k = 0; k < tg_module_state_size(s->model) && st == TG_OK; k++) st = load_entry(s, c, ck, k);
    if (st == TG_OK) st = load_state(ck, "optim", load_optim, s->opt);
    if (st == TG_OK && s->sched) st = load_state(ck, "sched", load_sched, s->sched);
    if (st == TG_OK) st = load_state(ck, "rng", load_rng, &s->rng);
    if (st == TG_OK) st = load_state(ck, "progress", load_progress, s);
    if (st != TG_OK) fprintf(stderr, "tg: %s\n", tg_last_error());
    return st == TG_OK;
}

/* ---- a model to evaluate: a checkpoint or a safetensors state dict ---- */

static bool ends_with(const char *s, const char *end)
{
    size_t n = strlen(s), m = strlen(end);
    return n >= m && !strcmp(s + n - m, end);
}

static bool open_checkpoint(const char *path, train_config *c, session *s)
{
    tg_checkpoint *ck = NULL;
    if (!checkpoint_config(path, &ck, c)) return false;
    const tg_dataset_info *d = dataset_of(c);
    bool built = session_new(s, c, d->shape, d->n_classes), ok = built && session_load(s, c, ck);
    if (built && !ok) session_free(s); /* a leak check_alloc's sweep found */
    tg_checkpoint_free(ck);
    return ok;
}

/* A metadata number ("input_mean") into *v, when the file has it. */
static bool metadata_number(const tg_safetensors *st, const char *path, const char *key, float *v)
{
    const char *text = tg_safetensors_metadata(st, key);
    if (!text) return true;
    char *end;
    double x = strtod(text, &end);
    if (end != text && !*end && isfinite(x)) {
        *v = (float)x;
        return true;
    }
    fprintf(stderr, "tg: %s: metadata %s is '%s', not a number\n", path, key, text);
    return false;
}

static bool open_safetensors(const char *path, const char *model, const char *dataset, train_config *c,
                             session *s)
{
    tg_safetensors *st = NULL;
    if (tg_safetensors_read(path, &st) != TG_OK) {
        fprintf(stderr, "tg: %s\n", tg_last_error());
        return false;
    }
    config_defaults(c);
    if (!model) model = tg_safetensors_metadata(st, "spec");
    if (!dataset) dataset = tg_safetensors_metadata(st, "dataset");
    bool ok = true;
    if (!model) {
        fprintf(stderr, "tg: %s has no \"spec\" in its metadata: say which model it holds with --model SPEC "
                        "(\"flatten linear(256) relu linear(10)\")\n", path);
        ok = false;
    } else if (dataset && !tg_dataset_find(dataset)) {
        fprintf(stderr, "tg: %s: %s\n", path, tg_last_error());
        ok = false;
    } else {
        if (dataset) snprintf(c->dataset, sizeof c->dataset, "%s", dataset);
        snprintf(c->model_flags[0][0], sizeof c->model_flags[0][0], "--model");
        snprintf(c->model_flags[0][1], sizeof c->model_flags[0][1], "%s", model);
        c->n_model_flags = 1;
        ok = strlen(model) < sizeof c->model_flags[0][1] && config_finish(c);
        if (!ok && strlen(model) >= sizeof c->model_flags[0][1]) fprintf(stderr, "tg: %s: the spec is too long\n", path);
    }
    const tg_dataset_info *d = ok ? dataset_of(c) : NULL;
    bool built = ok && session_new(s, c, d->shape, d->n_classes);
    ok = built && metadata_number(st, path, "input_mean", &s->mean) && metadata_number(st, path, "input_std", &s->std);
    if (ok && tg_module_load_state(s->model, st, path) != TG_OK) {
        fprintf(stderr, "tg: %s\n", tg_last_error());
        ok = false;
    }
    if (built && !ok) session_free(s);
    tg_safetensors_free(st);
    return ok;
}

bool session_open(const char *path, const char *model, const char *dataset, train_config *c, session *s)
{
    if (ends_with(path, ".safetensors")) return open_safetensors(path, model, dataset, c, s);
    if (model) {
        fprintf(stderr, "tg: %s is a checkpoint, which says its model: --model is for .safetensors files\n", path);
        return false;
    }
    if (!open_checkpoint(path, c, s)) return false;
    if (dataset && !tg_dataset_find(dataset)) {
        fprintf(stderr, "tg: --dataset: %s\n", tg_last_error());
        session_free(s);
        return false;
    }
    if (dataset) snprintf(c->dataset, sizeof c->dataset, "%s", dataset);
    return true;
}

tg_status session_export(const session *s, const train_config *c, const char *path)
{
    char line[sizeof c->model.layers], mean[32], std[32];
    if (!tg_model_line(&c->model, dataset_of(c)->n_classes, line, sizeof line)) return TG_ERR_ARG;
    snprintf(mean, sizeof mean, "%.9g", s->mean);
    snprintf(std, sizeof std, "%.9g", s->std);
    const char *metadata[][2] = {
        {"format", "pt"}, {"spec", line}, {"dataset", c->dataset}, {"input_mean", mean}, {"input_std", std}};
    tg_safetensors *st = tg_safetensors_new();
    tg_status r = st ? TG_OK : TG_ERR_NOMEM;
    for (size_t k = 0; r == TG_OK && k < sizeof metadata / sizeof metadata[0]; k++)
        r = tg_safetensors_set_metadata(st, metadata[k][0], metadata[k][1]);
    if (r == TG_OK) r = tg_module_put_state(s->model, st);
    if (r == TG_OK) r = tg_safetensors_write(st, path);
    if (r == TG_ERR_NOMEM && !st) tg_set_error("out of memory");
    tg_safetensors_free(st);
    return r;
}

/* ---- evaluation ---- */

double clock_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* The batch for evaluating n images: EVAL_BATCH, or as many as fit in
 * EVAL_BYTES by the probe's graph (which includes what does not grow with
 * the batch, so this errs small). A failed probe leaves the evaluation
 * itself to report the error. */
static int eval_batch(const session *s, const tg_dataset *d, const int *rows, int n)
{
    int m = n < EVAL_PROBE ? n : EVAL_PROBE, batch = n < EVAL_BATCH ? n : EVAL_BATCH;
    float *x = malloc((size_t)m * d->channels * d->rows * d->cols * sizeof *x);
    int *y = malloc((size_t)m * sizeof *y);
    tg_graph *g = tg_graph_new();
    if (g) tg_graph_set_grad(g, false);
    if (x && y && g && tg_dataset_batch(d, rows, m, s->mean, s->std, x, y) == TG_OK &&
        tg_module_forward(s->model, g, tg_from_blob(g, x, TG_SHAPE(m, d->channels, d->rows, d->cols)))) {
        size_t fit = (size_t)EVAL_BYTES / (tg_graph_bytes(g) / (size_t)m + 1);
        if (fit < (size_t)batch) batch = fit > EVAL_PROBE ? (int)fit : EVAL_PROBE;
    }
    tg_graph_free(g);
    free(x), free(y);
    return batch;
}

bool evaluate(const session *s, const tg_dataset *d, const int *rows, int n, eval_result *r, long *confusion)
{
    double started = clock_seconds();
    if (n == 0) { /* a rank's empty share */
        *r = (eval_result){.loss = NAN, .accuracy = NAN};
        return true;
    }
    bool was_training = tg_module_train(s->model, false);
    int pixels = d->channels * d->rows * d->cols, batch = eval_batch(s, d, rows, n);
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
        tg_tensor *logits = tg_module_forward(s->model, g, tg_from_blob(g, x, TG_SHAPE(m, d->channels, d->rows, d->cols)));
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
    tg_module_train(s->model, was_training);
    r->loss = n ? total / n : NAN;
    r->accuracy = n ? (double)right / n : NAN;
    r->loss_sum = total, r->right = right, r->n = n;
    r->seconds = clock_seconds() - started;
    tg_graph_free(g);
    free(x), free(y), free(pred);
    return ok;
}
