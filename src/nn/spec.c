/* spec.c — a model as a line of torch.nn layer names:
 *   "flatten linear(256) gelu dropout(0.1) linear(10)"
 * each word a layer's class name in lower case with torch's arguments,
 * minus the sizes tg infers from what comes in (in_features). The model is
 * the nn.Sequential of those layers, so its state has torch's keys. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../graph/graph.h"

enum { MAX_WORDS = 64, MAX_ARGS = 4, MAX_DEPTH = 4 };

/* One word: its name and up to MAX_ARGS arguments, as text. */
typedef struct word {
    char name[32];
    char args[MAX_ARGS][32];
    int n_args;
    char body[512];          /* residual(...): the line of layers inside */
} word;

/* The shape of one sample as it flows through the layers. */
typedef struct flow {
    int ndim;
    int shape[TG_MAX_DIMS - 1];
} flow;

typedef struct spec_ctx {
    const char *spec;
    int at;                  /* the word being built, from 1 */
    const word *w;
    flow in;
    tg_rng *rng;
    int depth;               /* residual blocks entered */
} spec_ctx;

static bool refuse(const spec_ctx *c, const char *why)
{
    tg__error("model spec '%s': word %d, '%s': %s", c->spec, c->at, c->w ? c->w->name : "", why);
    return false;
}

/* The layers of "residual(linear(64) gelu)", after its '(', into w->body
 * up to the matching ')'; false with a message. */
static bool body(spec_ctx *c, const char **p, word *w)
{
    size_t n = 0;
    for (int depth = 1;; (*p)++) {
        if (!**p) return refuse(c, "no ')' after its layers");
        depth += (**p == '(') - (**p == ')');
        if (!depth) break;
        if (n + 1 >= sizeof w->body) return refuse(c, "its layers are longer than 511 characters");
        w->body[n++] = **p;
    }
    (*p)++;
    if (**p && **p != ' ') return refuse(c, "no space after ')'");
    return true;
}

/* Splits "name(a, b)" at *p into w; false with a message. */
static bool next_word(spec_ctx *c, const char **p, word *w)
{
    memset(w, 0, sizeof *w);
    size_t n = 0;
    while (**p && (isalnum((unsigned char)**p) || **p == '_')) {
        if (n + 1 >= sizeof w->name) return refuse(c, "a name longer than 31 characters");
        w->name[n++] = (char)tolower((unsigned char)*(*p)++);
    }
    if (!n) {
        char why[64];
        snprintf(why, sizeof why, "'%c' where a layer name was expected", **p);
        return refuse(c, why);
    }
    if (**p != '(') return true;
    (*p)++;
    if (!strcmp(w->name, "residual")) return body(c, p, w);
    for (;;) {
        while (**p == ' ') (*p)++;
        if (**p == ')' && !w->n_args) break;
        if (w->n_args == MAX_ARGS) return refuse(c, "more than 4 arguments");
        size_t k = 0;
        while (**p && **p != ',' && **p != ')' && **p != ' ') {
            if (k + 1 >= sizeof w->args[0]) return refuse(c, "an argument longer than 31 characters");
            w->args[w->n_args][k++] = *(*p)++;
        }
        if (!k) return refuse(c, "an empty argument");
        w->n_args++;
        while (**p == ' ') (*p)++;
        if (**p == ',') {
            (*p)++;
            continue;
        }
        if (**p != ')') return refuse(c, "no ')' after its arguments");
        break;
    }
    (*p)++;
    if (**p && **p != ' ') return refuse(c, "no space after ')'");
    return true;
}

/* Argument i as a number (def when absent); True and False are 1 and 0,
 * and a keyword argument (bias=False) counts by its position, as torch's
 * order. False with a message. */
static bool number(const spec_ctx *c, int i, double def, double *v)
{
    if (i >= c->w->n_args) {
        *v = def;
        return true;
    }
    const char *text = strchr(c->w->args[i], '=') ? strchr(c->w->args[i], '=') + 1 : c->w->args[i];
    if (!strcmp(text, "True") || !strcmp(text, "False")) {
        *v = !strcmp(text, "True");
        return true;
    }
    char *end;
    *v = strtod(text, &end);
    if (end != text && !*end) return true;
    char why[96];
    snprintf(why, sizeof why, "argument %d, '%s', is not a number", i + 1, c->w->args[i]);
    return refuse(c, why);
}

static bool whole(const spec_ctx *c, double v, int lo)
{
    if (v == (int)v && v >= lo) return true;
    char why[96];
    snprintf(why, sizeof why, "%g must be a whole number of at least %d", v, lo);
    return refuse(c, why);
}

static int features(const flow *f) { return f->ndim == 1 ? f->shape[0] : -1; }

static tg_module *residual(spec_ctx *c, flow *out);

/* The layer of c->w for samples shaped c->in, and the shape it gives. */
static tg_module *layer(spec_ctx *c, flow *out)
{
    const word *w = c->w;
    double a, b;
    *out = c->in;
    int max_args = 0;
    tg_module *m = NULL;
    if (!strcmp(w->name, "flatten")) {
        int n = 1;
        for (int d = 0; d < c->in.ndim; d++) n *= c->in.shape[d];
        out->ndim = 1, out->shape[0] = n;
        m = tg_flatten_new(1);
    } else if (!strcmp(w->name, "linear")) {
        max_args = 2;
        if (w->n_args < 1) return refuse(c, "linear(out_features) needs its size"), NULL;
        if (!number(c, 0, 0, &a) || !whole(c, a, 1) || !number(c, 1, 1, &b)) return NULL;
        if (features(&c->in) < 0) return refuse(c, "linear takes (N, features): put flatten before it"), NULL;
        out->shape[0] = (int)a;
        m = tg_linear_new(features(&c->in), (int)a, b != 0, c->rng);
    } else if (!strcmp(w->name, "dropout")) {
        max_args = 1;
        if (!number(c, 0, 0.5, &a)) return NULL;
        if (!(a >= 0 && a <= 1)) return refuse(c, "p must be in [0, 1]"), NULL;
        m = tg_dropout_new((float)a);
    } else if (!strcmp(w->name, "relu")) {
        m = tg_relu_new();
    } else if (!strcmp(w->name, "gelu")) {
        m = tg_gelu_new();
    } else if (!strcmp(w->name, "tanh")) {
        m = tg_tanh_new();
    } else if (!strcmp(w->name, "sigmoid")) {
        m = tg_sigmoid_new();
    } else if (!strcmp(w->name, "leaky_relu") || !strcmp(w->name, "leakyrelu")) {
        max_args = 1;
        if (!number(c, 0, 0.01, &a)) return NULL;
        m = tg_leaky_relu_new((float)a);
    } else if (!strcmp(w->name, "softplus")) {
        max_args = 2;
        if (!number(c, 0, 1, &a) || !number(c, 1, 20, &b)) return NULL;
        if (!(a > 0)) return refuse(c, "beta must be positive"), NULL;
        m = tg_softplus_new((float)a, (float)b);
    } else if (!strcmp(w->name, "residual")) {
        if (!w->body[0] && w->n_args == 0) return refuse(c, "a residual block needs layers: residual(linear(64) relu)"), NULL;
        m = residual(c, out);
        if (!m) return NULL;
    } else {
        return refuse(c, "no such layer (tg has flatten, linear, dropout, relu, gelu, tanh, sigmoid, leaky_relu, "
                         "softplus, residual(...))"), NULL;
    }
    if (w->n_args > max_args) {
        tg_module_free(m);
        char why[64];
        snprintf(why, sizeof why, "takes at most %d argument%s", max_args, max_args == 1 ? "" : "s");
        return refuse(c, why), NULL;
    }
    return m;
}

/* The layers of text, for samples shaped c->in (updated as they go),
 * appended to layers[*n]; false with a message. */
static bool parse_layers(spec_ctx *c, const char *text, tg_module **layers, int *n)
{
    for (const char *p = text; *p;) {
        while (*p == ' ') p++;
        if (!*p) break;
        word w;
        c->at++, c->w = NULL;
        if (*n == MAX_WORDS) return refuse(c, "more than 64 layers");
        c->w = &w;           /* messages name the word as far as it is read */
        flow out;
        tg_module *m = next_word(c, &p, &w) ? layer(c, &out) : NULL;
        c->w = NULL;         /* w ends with this turn */
        if (!m) return false;
        layers[(*n)++] = m;
        c->in = out;
    }
    return true;
}

/* residual(LAYERS): x + LAYERS(x), the layers keeping the shape. */
static tg_module *residual(spec_ctx *c, flow *out)
{
    const word *w = c->w;
    if (c->depth == MAX_DEPTH) return refuse(c, "residual blocks nested more than 4 deep"), NULL;
    tg_module *inner[MAX_WORDS];
    int n = 0;
    flow in = c->in;
    c->depth++;
    bool ok = parse_layers(c, w->body, inner, &n);
    c->depth--;
    c->w = w;
    if (ok && !n) ok = refuse(c, "a residual block needs layers: residual(linear(64) relu)");
    if (ok && memcmp(&in, &c->in, sizeof in)) ok = refuse(c, "its layers change the shape of what comes in, so x + "
                                                             "layers(x) does not add up");
    *out = c->in;
    c->in = in;
    if (!ok) {
        for (int i = 0; i < n; i++) tg_module_free(inner[i]);
        return NULL;
    }
    return tg_residual_new(inner, n);
}

tg_module *tg_model_parse(const char *spec, tg_sample_shape in, tg_rng *rng)
{
    if (!spec || !rng) {
        tg__error("tg_model_parse: %s is NULL", spec ? "rng" : "spec");
        return NULL;
    }
    spec_ctx c = {.spec = spec, .rng = rng, .in = {3, {in.channels, in.height, in.width}}};
    tg_module *layers[MAX_WORDS];
    int n = 0;
    bool ok = parse_layers(&c, spec, layers, &n);
    if (ok && !n) {
        tg__error("model spec '%s': no layers", spec);
        ok = false;
    }
    if (!ok) {
        for (int i = 0; i < n; i++) tg_module_free(layers[i]);
        return NULL;
    }
    return tg_sequential_new(layers, n);
}
