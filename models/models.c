/* models.c — models by name: the kinds tg knows, and specs of their
 * options held as canonical text (what `tg train --model` builds and a
 * checkpoint stores). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tg.h>

/* ---- "layers": a model given as a line of torch.nn layers ---- */

static void layers_describe(const tg_model_spec *s, char *buf, size_t size) { snprintf(buf, size, "%s", s->layers); }

/* The module of a line of layers, once one sample of zeros has gone
 * through it (in evaluation mode, recording nothing) and come out as
 * classes logits: a line that ends elsewhere is refused now, not at the
 * first loss. */
static tg_module *build_line(const char *line, tg_sample_shape in, int classes, tg_rng *rng)
{
    tg_module *m = tg_model_parse(line, in, rng);
    tg_graph *g = m ? tg_graph_new() : NULL;
    if (!g) {
        tg_module_free(m);
        return NULL;
    }
    tg_graph_set_grad(g, false);
    tg_module_train(m, false);
    tg_tensor *y = tg_module_forward(m, g, tg_zeros(g, TG_SHAPE(1, in.channels, in.height, in.width)));
    tg_module_train(m, true);
    char shape[64];
    if (y && (y->ndim != 2 || y->shape[1] != classes)) {
        tg_set_error("model spec '%s': gives %s for one sample; the data set has %d classes, so the last layer "
                     "should give (1,%d) (flatten ... linear(%d))", line, tg_shape_str(y, shape), classes, classes,
                     classes);
        y = NULL;
    }
    tg_graph_free(g);
    if (!y) {
        tg_module_free(m);
        return NULL;
    }
    return m;
}

static tg_module *layers_build(const tg_model_spec *s, tg_sample_shape in, int classes, tg_rng *rng)
{
    return build_line(s->layers, in, classes, rng);
}

static bool layers_line(const tg_model_spec *s, int classes, char *buf, size_t size)
{
    (void)classes;
    if ((size_t)snprintf(buf, size, "%s", s->layers) < size) return true;
    tg_set_error("model spec '%.40s...': longer than %zu characters", s->layers, size - 1);
    return false;
}

static const tg_model_kind layers_kind = {"layers", NULL, 0, layers_describe, layers_build, NULL, layers_line};

/* ---- presets: lines of layers by name, the classes filled in ---- */

static const struct preset {
    const char *name, *line;   /* line: a format taking the class count */
} presets[] = {
    /* issue 15's CNN: two conv+pool blocks and a dense layer (Zalando's
     * FashionMNIST benchmark table: 91.6%), and with BatchNorm (93.4%) */
    {"cnn", "conv2d(32,3,padding=1) relu maxpool2d(2) conv2d(64,3,padding=1) relu maxpool2d(2) flatten "
            "linear(128) relu linear(%d)"},
    {"cnn-bn", "conv2d(32,3,padding=1) batchnorm2d relu maxpool2d(2) conv2d(64,3,padding=1) batchnorm2d relu "
               "maxpool2d(2) flatten linear(128) relu linear(%d)"},
};

static bool preset_line(const tg_model_spec *s, int classes, char *buf, size_t size)
{
    for (size_t k = 0; k < sizeof presets / sizeof presets[0]; k++)
        if (!strcmp(presets[k].name, s->kind->name)) {
            if ((size_t)snprintf(buf, size, presets[k].line, classes) < size) return true;
            tg_set_error("model %s: its line is longer than %zu characters", s->kind->name, size - 1);
            return false;
        }
    tg_set_error("model %s is no preset", s->kind->name);
    return false;
}

static tg_module *preset_build(const tg_model_spec *s, tg_sample_shape in, int classes, tg_rng *rng)
{
    char line[sizeof s->layers];
    return preset_line(s, classes, line, sizeof line) ? build_line(line, in, classes, rng) : NULL;
}

static void preset_describe(const tg_model_spec *s, char *buf, size_t size) { snprintf(buf, size, "%s", s->kind->name); }

static const tg_model_kind cnn_kind = {"cnn", NULL, 0, preset_describe, preset_build, NULL, preset_line};
static const tg_model_kind cnn_bn_kind = {"cnn-bn", NULL, 0, preset_describe, preset_build, NULL, preset_line};

static const tg_model_kind *const kinds[] = {&tg_mlp_kind, &layers_kind, &cnn_kind, &cnn_bn_kind};
enum { N_KINDS = sizeof kinds / sizeof kinds[0] };

int tg_model_kinds(const tg_model_kind **out, int max)
{
    for (int i = 0; out && i < N_KINDS && i < max; i++) out[i] = kinds[i];
    return N_KINDS;
}

static int opt_index(const tg_model_kind *kind, const char *key)
{
    for (int i = 0; kind && key && i < kind->n_opts; i++)
        if (!strcmp(kind->opts[i].key, key)) return i;
    return -1;
}

bool tg_model_has_opt(const tg_model_kind *kind, const char *key) { return opt_index(kind, key) >= 0; }

/* "512,512" (or "" for none) written back the same way, once checked:
 * positive sizes, as many as fit the text. */
static bool canonical_sizes(const char *text, char *out)
{
    int len = 0;
    out[0] = '\0';
    for (const char *p = text; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || (*end && *end != ',') || v <= 0 || v > 1 << 20) return false;
        len += snprintf(out + len, (size_t)(TG_MODEL_VALUE_LEN - len), len ? ",%ld" : "%ld", v);
        if (len >= TG_MODEL_VALUE_LEN - 1) return false;
        p = *end ? end + 1 : end;
    }
    return true;
}

/* value as kind's option o: its canonical text in out, or a message. */
static tg_status canonical(const tg_model_kind *kind, const tg_model_opt *o, const char *value, char *out)
{
    switch (o->type) {
    case TG_MODEL_OPT_SIZES:
        if (canonical_sizes(value, out)) return TG_OK;
        tg_set_error("model %s: %s needs positive sizes like 512,512 (or \"\" for none), got '%s'", kind->name,
                     o->key, value);
        return TG_ERR_ARG;
    case TG_MODEL_OPT_CHOICE:
        for (int i = 0; o->choices[i]; i++)
            if (!strcmp(value, o->choices[i])) {
                snprintf(out, TG_MODEL_VALUE_LEN, "%s", value);
                return TG_OK;
            }
        char list[256];
        int len = 0;
        for (int i = 0; o->choices[i]; i++)
            len += snprintf(list + len, sizeof list - (size_t)len, "%s%s", i ? ", " : "", o->choices[i]);
        tg_set_error("model %s: %s is one of %s, not '%s'", kind->name, o->key, list, value);
        return TG_ERR_ARG;
    default: {
        char *end;
        double v = strtod(value, &end);
        if (end == value || *end || !(v >= o->lo && v < o->hi)) {
            tg_set_error("model %s: %s must be in [%g, %g), got '%s'", kind->name, o->key, o->lo, o->hi, value);
            return TG_ERR_ARG;
        }
        snprintf(out, TG_MODEL_VALUE_LEN, "%.17g", v);
        return TG_OK;
    }
    }
}

tg_status tg_model_spec_init(tg_model_spec *s, const char *kind)
{
    if (!s) {
        tg_set_error("tg_model_spec_init: spec is NULL");
        return TG_ERR_ARG;
    }
    memset(s, 0, sizeof *s);
    for (int i = 0; kind && i < N_KINDS; i++)
        if (!strcmp(kinds[i]->name, kind)) s->kind = kinds[i];
    if (!s->kind && kind && (strchr(kind, ' ') || strchr(kind, '('))) {
        if (strlen(kind) >= sizeof s->layers) {
            tg_set_error("model spec '%.40s...': longer than %zu characters", kind, sizeof s->layers - 1);
            return TG_ERR_ARG;
        }
        s->kind = &layers_kind;
        snprintf(s->layers, sizeof s->layers, "%s", kind);
        return TG_OK;
    }
    if (!s->kind) {
        char list[256];
        int len = 0;
        for (int i = 0; i < N_KINDS; i++)
            if (kinds[i] != &layers_kind)
                len += snprintf(list + len, sizeof list - (size_t)len, "%s%s", len ? ", " : "", kinds[i]->name);
        tg_set_error("no model '%s': tg has %s (or a line of layers such as \"flatten linear(256) relu "
                     "linear(10)\")", kind ? kind : "(null)", list);
        return TG_ERR_ARG;
    }
    for (int i = 0; i < s->kind->n_opts; i++)
        if (canonical(s->kind, &s->kind->opts[i], s->kind->opts[i].def, s->values[i]) != TG_OK) return TG_ERR_ARG;
    return TG_OK;
}

tg_status tg_model_spec_set(tg_model_spec *s, const char *key, const char *value)
{
    if (!s || !s->kind || !key || !value) {
        tg_set_error("tg_model_spec_set: %s is NULL", !s || !s->kind ? "spec" : !key ? "key" : "value");
        return TG_ERR_ARG;
    }
    int i = opt_index(s->kind, key);
    if (i < 0) {
        tg_set_error("model %s has no option %s", s->kind->name, key);
        return TG_ERR_ARG;
    }
    char text[TG_MODEL_VALUE_LEN];
    tg_status st = canonical(s->kind, &s->kind->opts[i], value, text);
    if (st == TG_OK) memcpy(s->values[i], text, sizeof text);
    return st;
}

const char *tg_model_spec_get(const tg_model_spec *s, const char *key)
{
    int i = s ? opt_index(s->kind, key) : -1;
    return i >= 0 ? s->values[i] : NULL;
}

bool tg_model_line(const tg_model_spec *s, int classes, char *buf, size_t size)
{
    if (!s || !s->kind || !buf || !size) {
        tg_set_error("tg_model_line: %s is NULL or empty", !s || !s->kind ? "spec" : "buf");
        return false;
    }
    if (s->kind->line) return s->kind->line(s, classes, buf, size);
    tg_set_error("model %s is not a line of layers", s->kind->name);
    return false;
}

tg_module *tg_model_new(const tg_model_spec *s, tg_sample_shape in, int classes, tg_rng *rng)
{
    if (!s || !s->kind) {
        tg_set_error("tg_model_new: spec is NULL");
        return NULL;
    }
    if (in.channels <= 0 || in.height <= 0 || in.width <= 0 || classes <= 0) {
        tg_set_error("tg_model_new: samples of %d x %d x %d and %d classes: sizes must be positive", in.channels,
                     in.height, in.width, classes);
        return NULL;
    }
    return s->kind->build(s, in, classes, rng);
}
