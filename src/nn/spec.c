/* spec.c — a model as a line of torch.nn layer names:
 *   "flatten linear(256) gelu dropout(0.1) linear(10)"
 * each word a layer's class name in lower case with torch's arguments,
 * minus the sizes tg infers from what comes in (in_features). The model is
 * the nn.Sequential of those layers, so its state has torch's keys. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../graph/graph.h"

enum { MAX_WORDS = 64, MAX_ARGS = 8, MAX_DEPTH = 4 };

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
    tg_graph *g;             /* where probe runs a layer once */
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

/* ---- arguments: torch's, by position or by keyword ---- */

enum { REQUIRED = 1 }; /* layer_word.required: how many leading arguments must be given */
#define SAME (-INFINITY) /* padding='same': no number parses to it */

/* A layer word: its torch argument names (minus the sizes tg infers),
 * defaults, and how it builds its module from their values (True/False
 * are 1/0, None is NAN) for samples shaped c->in. The shape it gives is
 * found by running it (probe). */
typedef struct layer_word {
    const char *name;
    const char *args[MAX_ARGS];   /* NULL after the last */
    double defaults[MAX_ARGS];
    int required;
    tg_module *(*build)(spec_ctx *c, const double *v);
} layer_word;

static bool value_of(const spec_ctx *c, const char *text, int i, double *v)
{
    if (!strcmp(text, "True") || !strcmp(text, "False")) {
        *v = !strcmp(text, "True");
        return true;
    }
    if (!strcmp(text, "None")) {
        *v = NAN;
        return true;
    }
    if (!strcmp(text, "'same'") || !strcmp(text, "\"same\"") || !strcmp(text, "same")) {
        *v = SAME; /* conv2d's padding='same' */
        return true;
    }
    char *end;
    *v = strtod(text, &end);
    if (end != text && !*end && isfinite(*v)) return true;
    char why[96];
    snprintf(why, sizeof why, "argument %d, '%s', is not a number", i + 1, c->w->args[i]);
    return refuse(c, why);
}

/* The word's arguments into v, by position then by keyword (bias=False),
 * as Python binds them; false with a message. */
static bool bind(const spec_ctx *c, const layer_word *lw, double *v)
{
    int n = 0;
    bool given[MAX_ARGS] = {false}, keywords = false;
    while (n < MAX_ARGS && lw->args[n]) v[n] = lw->defaults[n], n++;
    char why[128];
    for (int i = 0; i < c->w->n_args; i++) {
        const char *arg = c->w->args[i], *eq = strchr(arg, '=');
        int k = i;
        if (eq) {
            keywords = true;
            for (k = 0; k < n && (strlen(lw->args[k]) != (size_t)(eq - arg) || strncmp(arg, lw->args[k], (size_t)(eq - arg)));)
                k++;
            if (k == n) {
                snprintf(why, sizeof why, "no argument '%.*s'", (int)(eq - arg), arg);
                return refuse(c, why);
            }
        } else if (keywords) {
            return refuse(c, "an argument by position after one by keyword");
        } else if (i >= n) {
            snprintf(why, sizeof why, "takes at most %d argument%s", n, n == 1 ? "" : "s");
            return refuse(c, why);
        }
        if (given[k]) {
            snprintf(why, sizeof why, "%s given twice", lw->args[k]);
            return refuse(c, why);
        }
        given[k] = true;
        if (!value_of(c, eq ? eq + 1 : arg, i, &v[k])) return false;
    }
    for (int k = 0; k < lw->required; k++)
        if (!given[k]) {
            snprintf(why, sizeof why, "%s(%s) needs its %s", lw->name, lw->args[0], lw->args[k]);
            return refuse(c, why);
        }
    return true;
}

static bool whole(const spec_ctx *c, const char *what, double v, int lo)
{
    if (v == (int)v && v >= lo) return true;
    char why[96];
    snprintf(why, sizeof why, "%s %g must be a whole number of at least %d", what, v, lo);
    return refuse(c, why);
}

static bool in_range(const spec_ctx *c, const char *what, double v, double lo, double hi)
{
    if (v >= lo && v <= hi) return true;
    char why[96];
    snprintf(why, sizeof why, "%s must be in [%g, %g]", what, lo, hi);
    return refuse(c, why);
}

/* ---- the layers ---- */

static int last(const flow *f) { return f->shape[f->ndim - 1]; }

static tg_module *flatten_word(spec_ctx *c, const double *v)
{
    (void)c, (void)v;
    return tg_flatten_new(1);
}

/* nn.Linear acts on the last dimension, whatever comes before it */
static tg_module *linear_word(spec_ctx *c, const double *v)
{
    if (!whole(c, "out_features", v[0], 1)) return NULL;
    return tg_linear_new(last(&c->in), (int)v[0], v[1] != 0, c->rng);
}

static tg_module *dropout_word(spec_ctx *c, const double *v)
{
    return in_range(c, "p", v[0], 0, 1) ? tg_dropout_new((float)v[0]) : NULL;
}

static tg_module *relu_word(spec_ctx *c, const double *v) { return (void)c, (void)v, tg_relu_new(); }
static tg_module *gelu_word(spec_ctx *c, const double *v) { return (void)c, (void)v, tg_gelu_new(); }
static tg_module *tanh_word(spec_ctx *c, const double *v) { return (void)c, (void)v, tg_tanh_new(); }
static tg_module *sigmoid_word(spec_ctx *c, const double *v)
{
    return (void)c, (void)v, tg_sigmoid_new();
}
static tg_module *leaky_relu_word(spec_ctx *c, const double *v)
{
    return (void)c, tg_leaky_relu_new((float)v[0]);
}

static tg_module *softplus_word(spec_ctx *c, const double *v)
{
    if (!(v[0] > 0)) return refuse(c, "beta must be positive"), NULL;
    return tg_softplus_new((float)v[0], (float)v[1]);
}

/* normalized_shape is the last dimension (LayerNorm(d) of a transformer,
 * LayerNorm(features) after flatten) */
static tg_module *layernorm_word(spec_ctx *c, const double *v)
{
    if (!(v[0] > 0)) return refuse(c, "eps must be positive"), NULL;
    int d = last(&c->in);
    return tg_layer_norm_new(1, &d, (float)v[0], v[1] != 0);
}

/* num_features is C of (N, C) or (N, C, L) */
static tg_module *batchnorm1d_word(spec_ctx *c, const double *v)
{
    if (c->in.ndim > 2) return refuse(c, "batchnorm1d takes (N, C) or (N, C, L): put flatten before it"), NULL;
    if (!(v[0] > 0)) return refuse(c, "eps must be positive"), NULL;
    if (!isnan(v[1]) && !in_range(c, "momentum", v[1], 0, 1)) return NULL;
    return tg_batch_norm1d_new(c->in.shape[0], (float)v[0], (float)v[1], v[2] != 0, v[3] != 0);
}

/* indices of any shape in, one more dimension out */
static tg_module *embedding_word(spec_ctx *c, const double *v)
{
    if (!whole(c, "num_embeddings", v[0], 1) || !whole(c, "embedding_dim", v[1], 1)) return NULL;
    if (c->in.ndim + 1 > TG_MAX_DIMS - 1) return refuse(c, "its output would have more than 4 dimensions"), NULL;
    if (!isnan(v[2]) && (v[2] != (int)v[2] || v[2] >= v[0] || v[2] < -v[0]))
        return refuse(c, "padding_idx must be a row of the table (or None)"), NULL;
    return tg_embedding_new((int)v[0], (int)v[1], isnan(v[2]) ? TG_NO_PADDING : (int)v[2], c->rng);
}

/* conv2d and the pools take (N, C, H, W): samples (C, H, W) */
static bool images(const spec_ctx *c)
{
    if (c->in.ndim == 3) return true;
    char why[160];
    snprintf(why, sizeof why, "%s takes images (N, C, H, W), and what comes in has %d dimensions a sample",
             c->w->name, c->in.ndim);
    return refuse(c, why);
}

static tg_module *conv2d_word(spec_ctx *c, const double *v)
{
    if (!images(c) || !whole(c, "out_channels", v[0], 1) || !whole(c, "kernel_size", v[1], 1) ||
        !whole(c, "stride", v[2], 1) || !whole(c, "dilation", v[4], 1) || !whole(c, "groups", v[5], 1))
        return NULL;
    if (v[3] != SAME && !whole(c, "padding", v[3], 0)) return NULL;
    tg_conv2d_opts o = {.stride = {(int)v[2], (int)v[2]}, .dilation = {(int)v[4], (int)v[4]}, .groups = (int)v[5],
                        .same = v[3] == SAME};
    if (!o.same) o.padding[0] = o.padding[1] = (int)v[3];
    return tg_conv2d_new(c->in.shape[0], (int)v[0], (int)v[1], (int)v[1], &o, v[6] != 0, c->rng);
}

/* kernel_size, stride (None: the kernel), padding, as tg_pool2d_opts */
static bool pool_opts(const spec_ctx *c, const double *v, tg_pool2d_opts *o)
{
    if (!images(c) || !whole(c, "kernel_size", v[0], 1) || (!isnan(v[1]) && !whole(c, "stride", v[1], 1)) ||
        !whole(c, "padding", v[2], 0))
        return false;
    int k = (int)v[0], s = isnan(v[1]) ? k : (int)v[1], p = (int)v[2];
    *o = (tg_pool2d_opts){{k, k}, {s, s}, {p, p}, false, true};
    return true;
}

static tg_module *maxpool2d_word(spec_ctx *c, const double *v)
{
    tg_pool2d_opts o;
    if (!pool_opts(c, v, &o)) return NULL;
    if (v[3] != 1) return refuse(c, "tg's max_pool2d has no dilation (1 only)"), NULL;
    if (v[4] != 0) return refuse(c, "return_indices=True returns a tuple, which a Sequential cannot pass on"), NULL;
    o.ceil_mode = v[5] != 0;
    return tg_max_pool2d_new(&o);
}

static tg_module *avgpool2d_word(spec_ctx *c, const double *v)
{
    tg_pool2d_opts o;
    if (!pool_opts(c, v, &o)) return NULL;
    if (!isnan(v[5])) return refuse(c, "divisor_override: tg has none (None only)"), NULL;
    o.ceil_mode = v[3] != 0, o.count_include_pad = v[4] != 0;
    return tg_avg_pool2d_new(&o);
}

static tg_module *adaptiveavgpool2d_word(spec_ctx *c, const double *v)
{
    if (!images(c) || !whole(c, "output_size", v[0], 1)) return NULL;
    return tg_adaptive_avg_pool2d_new((int)v[0], (int)v[0]);
}

static tg_module *batchnorm2d_word(spec_ctx *c, const double *v)
{
    if (!images(c)) return NULL;
    if (!(v[0] > 0)) return refuse(c, "eps must be positive"), NULL;
    if (!isnan(v[1]) && !in_range(c, "momentum", v[1], 0, 1)) return NULL;
    return tg_batch_norm2d_new(c->in.shape[0], (float)v[0], (float)v[1], v[2] != 0, v[3] != 0);
}

static tg_module *dropout2d_word(spec_ctx *c, const double *v)
{
    return images(c) && in_range(c, "p", v[0], 0, 1) ? tg_dropout2d_new((float)v[0]) : NULL;
}

static tg_module *residual(spec_ctx *c);
static tg_module *residual_word(spec_ctx *c, const double *v) { return (void)v, residual(c); }

static const layer_word words[] = {
    {"flatten", {NULL}, {0}, 0, flatten_word},
    {"linear", {"out_features", "bias"}, {0, 1}, REQUIRED, linear_word},
    {"dropout", {"p"}, {0.5}, 0, dropout_word},
    {"relu", {NULL}, {0}, 0, relu_word},
    {"gelu", {NULL}, {0}, 0, gelu_word},
    {"tanh", {NULL}, {0}, 0, tanh_word},
    {"sigmoid", {NULL}, {0}, 0, sigmoid_word},
    {"leaky_relu", {"negative_slope"}, {0.01}, 0, leaky_relu_word},
    {"leakyrelu", {"negative_slope"}, {0.01}, 0, leaky_relu_word},
    {"softplus", {"beta", "threshold"}, {1, 20}, 0, softplus_word},
    {"layernorm", {"eps", "elementwise_affine"}, {1e-5, 1}, 0, layernorm_word},
    {"batchnorm1d", {"eps", "momentum", "affine", "track_running_stats"}, {1e-5, 0.1, 1, 1}, 0, batchnorm1d_word},
    {"embedding", {"num_embeddings", "embedding_dim", "padding_idx"}, {0, 0, NAN}, 2 * REQUIRED, embedding_word},
    {"conv2d", {"out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias"},
     {0, 0, 1, 0, 1, 1, 1}, 2 * REQUIRED, conv2d_word},
    {"maxpool2d", {"kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode"},
     {0, NAN, 0, 1, 0, 0}, REQUIRED, maxpool2d_word},
    {"avgpool2d", {"kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"},
     {0, NAN, 0, 0, 1, NAN}, REQUIRED, avgpool2d_word},
    {"adaptiveavgpool2d", {"output_size"}, {0}, REQUIRED, adaptiveavgpool2d_word},
    {"batchnorm2d", {"eps", "momentum", "affine", "track_running_stats"}, {1e-5, 0.1, 1, 1}, 0, batchnorm2d_word},
    {"dropout2d", {"p"}, {0.5}, 0, dropout2d_word},
    {"residual", {NULL}, {0}, 0, residual_word},
};
enum { N_WORDS = sizeof words / sizeof words[0] };

const char *tg_model_layer_word(int i, char *buf, size_t size)
{
    if (i < 0 || i >= N_WORDS || !buf || !size) return NULL;
    const layer_word *w = &words[i];
    int len = snprintf(buf, size, "%s", w->name);
    for (int k = 0; k < MAX_ARGS && w->args[k] && len < (int)size; k++)
        len += snprintf(buf + len, size - (size_t)len, "%s%s%s", k ? ", " : "(", w->args[k], k + 1 == MAX_ARGS ||
                        !w->args[k + 1] ? ")" : "");
    if (!strcmp(w->name, "residual") && len < (int)size) snprintf(buf + len, size - (size_t)len, "(LAYERS)");
    return buf;
}

/* The layer of c->w for samples shaped c->in, and the shape it gives. */
static tg_module *layer(spec_ctx *c)
{
    for (int k = 0; k < N_WORDS; k++) {
        if (strcmp(words[k].name, c->w->name)) continue;
        double v[MAX_ARGS];
        if (!strcmp(c->w->name, "residual") && !c->w->body[0])
            return refuse(c, "a residual block needs layers: residual(linear(64) relu)"), NULL;
        return bind(c, &words[k], v) ? words[k].build(c, v) : NULL;
    }
    char why[256];
    int len = snprintf(why, sizeof why, "no such layer (tg has");
    for (int k = 0; k < N_WORDS; k++) len += snprintf(why + len, sizeof why - (size_t)len, " %s", words[k].name);
    snprintf(why + len, sizeof why - (size_t)len, ")");
    return refuse(c, why), NULL;
}

static bool probe(spec_ctx *c, tg_module *m, flow *out);

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
        tg_module *m = next_word(c, &p, &w) ? layer(c) : NULL;
        if (m && !probe(c, m, &out)) tg_module_free(m), m = NULL;
        c->w = NULL;         /* w ends with this turn */
        if (!m) return false;
        layers[(*n)++] = m;
        c->in = out;
    }
    return true;
}

/* The shape m gives a sample shaped c->in: m run once on a batch of one
 * zero sample, in evaluation mode, recording nothing. The ops' own shape
 * rules decide it, so no formula is written twice, and a shape that does
 * not fit is the op's message, given for this word. */
static bool probe(spec_ctx *c, tg_module *m, flow *out)
{
    int shape[TG_MAX_DIMS] = {1};
    memcpy(shape + 1, c->in.shape, (size_t)c->in.ndim * sizeof *shape);
    tg_graph_reset(c->g);
    bool was = tg_module_train(m, false);
    tg_tensor *y = tg_module_forward(m, c->g, tg_zeros(c->g, c->in.ndim + 1, shape));
    tg_module_train(m, was);
    if (!y) {
        char why[512];
        snprintf(why, sizeof why, "%s", tg_last_error());
        return refuse(c, why);
    }
    if (y->ndim < 1 || y->shape[0] != 1) return refuse(c, "it does not keep the batch dimension");
    *out = (flow){.ndim = y->ndim - 1}; /* whole, so that flows compare with memcmp */
    memcpy(out->shape, y->shape + 1, (size_t)out->ndim * sizeof *out->shape);
    return true;
}

/* residual(LAYERS): x + LAYERS(x), the layers keeping the shape. */
static tg_module *residual(spec_ctx *c)
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
    spec_ctx c = {.spec = spec, .rng = rng, .in = {3, {in.channels, in.height, in.width}}, .g = tg_graph_new()};
    tg_module *layers[MAX_WORDS];
    int n = 0;
    if (!c.g) return NULL;
    tg_graph_set_grad(c.g, false);
    bool ok = parse_layers(&c, spec, layers, &n);
    tg_graph_free(c.g);
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
