/* layers.c — torch.nn's layers as tg_modules, with torch's arguments,
 * defaults, initialisation and parameter names: Linear, Flatten, Dropout
 * and the activations. Each is one tg_module_ops and a constructor. */
#include <stdlib.h>

#include "../graph/graph.h"

/* A layer's own arguments (its impl). */
typedef struct layer_args {
    float a, b;
    int i;
    bool flag;
} layer_args;

static void args_free(void *impl) { free(impl); }

/* A module of ops holding args; NULL with a message. */
static tg_module *layer_new(const tg_module_ops *ops, layer_args args)
{
    layer_args *impl = malloc(sizeof *impl);
    if (!impl) {
        tg__error("%s: out of memory", ops->name);
        return NULL;
    }
    *impl = args;
    return tg_module_new(ops, impl);
}

static const layer_args *args_of(const tg_module *m) { return m->impl; }

/* ---- Linear(in, out, bias): y = x W^T + b, parameters "weight" (out, in)
 * and "bias" (out), both U(-1/sqrt(in), 1/sqrt(in)) as nn.Linear's
 * reset_parameters (kaiming_uniform with a = sqrt(5)) ---- */

static tg_tensor *linear_forward(tg_module *m, tg_graph *g, tg_tensor *x)
{
    tg_tensor *b = args_of(m)->flag ? tg_module_param(m, "bias") : NULL;
    return tg_linear(g, x, tg_module_param(m, "weight"), b);
}

static const tg_module_ops linear_ops = {"linear", linear_forward, args_free};

tg_module *tg_linear_new(int in, int out, bool bias, tg_rng *rng)
{
    if (in <= 0 || out <= 0 || !rng) {
        tg__error("tg_linear_new: %s", rng ? "in and out must be positive" : "rng is NULL");
        return NULL;
    }
    tg_module *m = layer_new(&linear_ops, (layer_args){.flag = bias});
    tg_tensor *W = tg_zeros(NULL, TG_SHAPE(out, in)), *b = bias ? tg_zeros(NULL, TG_SHAPE(out)) : NULL;
    tg_status s = m && W && (!bias || b) ? tg_init_linear(W, b, rng) : TG_ERR_NOMEM;
    if (s == TG_OK) {
        s = tg_module_add_param(m, "weight", W);
        W = NULL;
    }
    if (s == TG_OK && bias) {
        s = tg_module_add_param(m, "bias", b);
        b = NULL;
    }
    tg_tensor_free(W), tg_tensor_free(b);
    if (s != TG_OK) {
        tg_module_free(m);
        return NULL;
    }
    return m;
}

/* ---- Flatten(start_dim): (N, ...) to (N, everything else) ---- */

static tg_tensor *flatten_forward(tg_module *m, tg_graph *g, tg_tensor *x)
{
    return tg_flatten(g, x, args_of(m)->i);
}

static const tg_module_ops flatten_ops = {"flatten", flatten_forward, args_free};

tg_module *tg_flatten_new(int start_dim) { return layer_new(&flatten_ops, (layer_args){.i = start_dim}); }

/* ---- Dropout(p): in training mode, zeroes each element with probability
 * p and scales the rest by 1/(1-p); the identity in evaluation mode ---- */

static tg_tensor *dropout_forward(tg_module *m, tg_graph *g, tg_tensor *x)
{
    return tg_dropout(g, x, args_of(m)->a, m->training, m->rng);
}

static const tg_module_ops dropout_ops = {"dropout", dropout_forward, args_free};

tg_module *tg_dropout_new(float p)
{
    if (!(p >= 0.0f && p <= 1.0f)) {
        tg__error("tg_dropout_new: p = %g: must be in [0, 1]", p);
        return NULL;
    }
    return layer_new(&dropout_ops, (layer_args){.a = p});
}

/* ---- the activations, elementwise, no parameters ---- */

static tg_tensor *relu_forward(tg_module *m, tg_graph *g, tg_tensor *x) { return (void)m, tg_relu(g, x); }
static tg_tensor *gelu_forward(tg_module *m, tg_graph *g, tg_tensor *x) { return (void)m, tg_gelu(g, x); }
static tg_tensor *tanh_forward(tg_module *m, tg_graph *g, tg_tensor *x) { return (void)m, tg_tanh(g, x); }
static tg_tensor *sigmoid_forward(tg_module *m, tg_graph *g, tg_tensor *x) { return (void)m, tg_sigmoid(g, x); }
static tg_tensor *leaky_relu_forward(tg_module *m, tg_graph *g, tg_tensor *x)
{
    return tg_leaky_relu(g, x, args_of(m)->a);
}
static tg_tensor *softplus_forward(tg_module *m, tg_graph *g, tg_tensor *x)
{
    return tg_softplus(g, x, args_of(m)->a, args_of(m)->b);
}

static const tg_module_ops relu_ops = {"relu", relu_forward, args_free};
static const tg_module_ops gelu_ops = {"gelu", gelu_forward, args_free};
static const tg_module_ops tanh_ops = {"tanh", tanh_forward, args_free};
static const tg_module_ops sigmoid_ops = {"sigmoid", sigmoid_forward, args_free};
static const tg_module_ops leaky_relu_ops = {"leaky_relu", leaky_relu_forward, args_free};
static const tg_module_ops softplus_ops = {"softplus", softplus_forward, args_free};

tg_module *tg_relu_new(void) { return layer_new(&relu_ops, (layer_args){0}); }
tg_module *tg_gelu_new(void) { return layer_new(&gelu_ops, (layer_args){0}); }
tg_module *tg_tanh_new(void) { return layer_new(&tanh_ops, (layer_args){0}); }
tg_module *tg_sigmoid_new(void) { return layer_new(&sigmoid_ops, (layer_args){0}); }
tg_module *tg_leaky_relu_new(float negative_slope) { return layer_new(&leaky_relu_ops, (layer_args){.a = negative_slope}); }

tg_module *tg_softplus_new(float beta, float threshold)
{
    if (!(beta > 0.0f)) {
        tg__error("tg_softplus_new: beta %g: must be positive", beta);
        return NULL;
    }
    return layer_new(&softplus_ops, (layer_args){.a = beta, .b = threshold});
}
