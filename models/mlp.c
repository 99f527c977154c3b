/* mlp.c — the multilayer perceptron of the lectures, on tg's public API:
 * Linear, activation, [dropout], ..., Linear (PyTorch's nn.Sequential of
 * the optimization tutorial when hidden = {512, 512} and act = relu); and
 * the "mlp" model kind, the same network as a line of layers (tg_model_parse). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tg.h>

tg_mlp *tg_mlp_new(int n_in, const int *hidden, int n_hidden, int n_out, tg_activation act, float dropout,
                   tg_rng *rng)
{
    if (!rng || (n_hidden > 0 && !hidden)) {
        tg_set_error("tg_mlp_new: %s is NULL", rng ? "hidden (the sizes of the hidden layers)" : "rng");
        return NULL;
    }
    if (n_in <= 0 || n_out <= 0 || n_hidden < 0) {
        tg_set_error("tg_mlp_new: %d inputs, %d outputs, %d hidden layers: sizes must be positive and the count "
                     "of hidden layers at least 0", n_in, n_out, n_hidden);
        return NULL;
    }
    if (!(dropout >= 0.0f && dropout < 1.0f) || act < TG_ACT_RELU || act > TG_ACT_GELU) {
        tg_set_error("tg_mlp_new: dropout %g must be in [0, 1) and the activation one of tg_activation", dropout);
        return NULL;
    }
    for (int k = 0; k < n_hidden; k++)
        if (hidden[k] <= 0) {
            tg_set_error("tg_mlp_new: hidden layer %d has %d units: sizes must be positive", k + 1, hidden[k]);
            return NULL;
        }
    tg_mlp *m = calloc(1, sizeof *m);
    if (!m) {
        tg_set_error("tg_mlp_new: out of memory");
        return NULL;
    }
    m->n_layers = n_hidden + 1;
    m->act = act;
    m->dropout = dropout;
    m->W = calloc((size_t)m->n_layers, sizeof *m->W);
    m->b = calloc((size_t)m->n_layers, sizeof *m->b);
    if (!m->W || !m->b) {
        tg_set_error("tg_mlp_new: out of memory");
        goto fail;
    }
    for (int k = 0; k < m->n_layers; k++) {
        int in = k == 0 ? n_in : hidden[k - 1], out = k == n_hidden ? n_out : hidden[k];
        m->W[k] = tg_zeros(NULL, TG_SHAPE(out, in));
        m->b[k] = tg_zeros(NULL, TG_SHAPE(out));
        if (!m->W[k] || !m->b[k] || tg_init_linear(m->W[k], m->b[k], rng) != TG_OK ||
            tg_tensor_requires_grad(m->W[k], true) != TG_OK || tg_tensor_requires_grad(m->b[k], true) != TG_OK)
            goto fail;
    }
    return m;
fail:
    tg_mlp_free(m);
    return NULL;
}

void tg_mlp_free(tg_mlp *m)
{
    if (!m) return;
    for (int k = 0; k < m->n_layers; k++) {
        if (m->W) tg_tensor_free(m->W[k]);
        if (m->b) tg_tensor_free(m->b[k]);
    }
    free(m->W);
    free(m->b);
    free(m);
}

static tg_tensor *activate(tg_graph *g, tg_activation act, tg_tensor *x)
{
    switch (act) {
    case TG_ACT_TANH: return tg_tanh(g, x);
    case TG_ACT_SIGMOID: return tg_sigmoid(g, x);
    case TG_ACT_GELU: return tg_gelu(g, x);
    default: return tg_relu(g, x);
    }
}

tg_tensor *tg_mlp_forward(tg_graph *g, const tg_mlp *m, tg_tensor *x, bool train, tg_rng *rng)
{
    if (!m) {
        tg_set_error("tg_mlp_forward: model is NULL");
        return NULL;
    }
    tg_tensor *h = tg_flatten(g, x, 1);
    for (int k = 0; k < m->n_layers; k++) {
        h = tg_linear(g, h, m->W[k], m->b[k]);
        if (k + 1 < m->n_layers) h = tg_dropout(g, activate(g, m->act, h), m->dropout, train, rng);
    }
    return h;
}

int tg_mlp_params(const tg_mlp *m, tg_tensor **params, int max)
{
    if (!m) return 0;
    for (int k = 0; k < m->n_layers; k++) {
        if (params && 2 * k < max) params[2 * k] = m->W[k];
        if (params && 2 * k + 1 < max) params[2 * k + 1] = m->b[k];
    }
    return 2 * m->n_layers;
}

/* ---- the "mlp" model kind ---- */

static const char *const activations[] = {"relu", "tanh", "sigmoid", "gelu", NULL};

static const tg_model_opt mlp_opts[] = {
    {"hidden", TG_MODEL_OPT_SIZES, "512,512", NULL, 0, 0}, /* the lectures' (and PyTorch tutorial's) MLP */
    {"activation", TG_MODEL_OPT_CHOICE, "relu", activations, 0, 0},
    {"dropout", TG_MODEL_OPT_REAL, "0", NULL, 0, 1},
};

/* The sizes of "512,512" into hidden (room for max); their count. */
static int parse_sizes(const char *text, int *hidden, int max)
{
    int n = 0;
    for (const char *p = text; *p && n < max;) {
        char *end;
        hidden[n++] = (int)strtol(p, &end, 10);
        p = *end ? end + 1 : end;
    }
    return n;
}

/* Option key's text (mlp.c reads its own spec; models.c calls in here). */
static const char *value(const tg_model_spec *s, const char *key)
{
    int i = 0;
    while (strcmp(s->kind->opts[i].key, key)) i++;
    return s->values[i];
}

/* The lectures' network as a line of layers, so that its state has the
 * keys of the same nn.Sequential ("1.weight", "1.bias", "3.weight", ...):
 * flatten, then linear(h) act [dropout(p)] for each hidden size, then
 * linear(classes). Same draws, same ops, so the same numbers as tg_mlp. */
static bool mlp_line(const tg_model_spec *s, int classes, char *buf, size_t size)
{
    int hidden[TG_MODEL_VALUE_LEN / 2];
    int n_hidden = parse_sizes(value(s, "hidden"), hidden, TG_MODEL_VALUE_LEN / 2);
    const char *act = value(s, "activation"), *dropout = value(s, "dropout");
    bool drop = strtod(dropout, NULL) > 0;
    int len = snprintf(buf, size, "flatten");
    for (int k = 0; k < n_hidden && len < (int)size; k++)
        len += snprintf(buf + len, size - (size_t)len, " linear(%d) %s%s%s%s", hidden[k], act,
                        drop ? " dropout(" : "", drop ? dropout : "", drop ? ")" : "");
    if (len < (int)size) len += snprintf(buf + len, size - (size_t)len, " linear(%d)", classes);
    if (len < (int)size) return true;
    tg_set_error("model mlp: %d hidden layers are more than a spec of %zu characters holds", n_hidden, size - 1);
    return false;
}

static tg_module *mlp_build(const tg_model_spec *s, tg_sample_shape in, int classes, tg_rng *rng)
{
    char line[sizeof s->layers];
    return mlp_line(s, classes, line, sizeof line) ? tg_model_parse(line, in, rng) : NULL;
}

/* Checkpoints of tg before modules named the parameters W0, b0, W1, ... */
static bool mlp_old_name(int i, char *buf, size_t size)
{
    snprintf(buf, size, "%c%d", i % 2 ? 'b' : 'W', i / 2);
    return true;
}

/* "mlp hidden 512-512 relu dropout" */
static void mlp_describe(const tg_model_spec *s, char *buf, size_t size)
{
    char hidden[TG_MODEL_VALUE_LEN];
    const char *sizes = value(s, "hidden");
    snprintf(hidden, sizeof hidden, "%s", *sizes ? sizes : "none");
    for (char *p = hidden; *p; p++)
        if (*p == ',') *p = '-';
    snprintf(buf, size, "mlp hidden %s %s%s", hidden, value(s, "activation"),
             strtod(value(s, "dropout"), NULL) > 0 ? " dropout" : "");
}

const tg_model_kind tg_mlp_kind = {"mlp", mlp_opts, sizeof mlp_opts / sizeof mlp_opts[0], mlp_describe, mlp_build,
                                   mlp_old_name, mlp_line};
