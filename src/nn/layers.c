/* layers.c — torch.nn's layers as tg_modules, with torch's arguments,
 * defaults, initialisation and parameter names: Linear, Flatten, Dropout,
 * the activations, LayerNorm, BatchNorm1d/2d, Embedding, Conv2d, the
 * pools and Dropout2d. Each is one tg_module_ops and a constructor. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../ops/ops.h"

/* A layer's own arguments (its impl). */
typedef struct layer_args {
    float a, b;
    int i;
    bool flag, flag2;
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

/* Linear then ReLU in a Sequential: one op, the ReLU in the product's epilogue */
static tg_tensor *linear_relu_forward(tg_module *m, tg_graph *g, tg_tensor *x)
{
    tg_tensor *b = args_of(m)->flag ? tg_module_param(m, "bias") : NULL;
    return tg__linear_relu(g, x, tg_module_param(m, "weight"), b);
}

/* Adds "weight" of shape (out, ...) and, with bias, "bias" (out) to m,
 * drawn as nn.Linear's and nn.Conv2d's reset_parameters draw them
 * (tg_init_linear: bound 1/sqrt(fan_in)); m is freed on failure. */
static tg_module *add_weight_and_bias(tg_module *m, int ndim, const int *shape, bool bias, tg_rng *rng)
{
    tg_tensor *W = tg_zeros(NULL, ndim, shape), *b = bias ? tg_zeros(NULL, 1, shape) : NULL;
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

static const tg_module_ops linear_ops = {.name = "linear", .forward = linear_forward, .free_impl = args_free};

tg_module *tg_linear_new(int in, int out, bool bias, tg_rng *rng)
{
    if (in <= 0 || out <= 0 || !rng) {
        tg__error("tg_linear_new: %s", rng ? "in and out must be positive" : "rng is NULL");
        return NULL;
    }
    tg_module *m = layer_new(&linear_ops, (layer_args){.flag = bias});
    if (m) m->fused_relu_forward = linear_relu_forward;
    return add_weight_and_bias(m, TG_SHAPE(out, in), bias, rng);
}

/* ---- Flatten(start_dim): (N, ...) to (N, everything else) ---- */

static tg_tensor *flatten_forward(tg_module *m, tg_graph *g, tg_tensor *x)
{
    return tg_flatten(g, x, args_of(m)->i);
}

static const tg_module_ops flatten_ops = {.name = "flatten", .forward = flatten_forward, .free_impl = args_free};

tg_module *tg_flatten_new(int start_dim) { return layer_new(&flatten_ops, (layer_args){.i = start_dim}); }

/* ---- Dropout(p): in training mode, zeroes each element with probability
 * p and scales the rest by 1/(1-p); the identity in evaluation mode ---- */

static tg_tensor *dropout_forward(tg_module *m, tg_graph *g, tg_tensor *x)
{
    return tg_dropout(g, x, args_of(m)->a, m->training, m->rng);
}

static const tg_module_ops dropout_ops = {.name = "dropout", .forward = dropout_forward, .free_impl = args_free};

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

static const tg_module_ops relu_ops = {.name = "relu", .forward = relu_forward, .free_impl = args_free};
static const tg_module_ops gelu_ops = {.name = "gelu", .forward = gelu_forward, .free_impl = args_free};
static const tg_module_ops tanh_ops = {.name = "tanh", .forward = tanh_forward, .free_impl = args_free};
static const tg_module_ops sigmoid_ops = {.name = "sigmoid", .forward = sigmoid_forward, .free_impl = args_free};
static const tg_module_ops leaky_relu_ops = {.name = "leaky_relu", .forward = leaky_relu_forward,
                                             .free_impl = args_free};
static const tg_module_ops softplus_ops = {.name = "softplus", .forward = softplus_forward, .free_impl = args_free};

tg_module *tg_relu_new(void)
{
    tg_module *m = layer_new(&relu_ops, (layer_args){0});
    if (m) m->is_relu = true;
    return m;
}
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

/* Adds a standalone tensor of shape filled with value as a parameter
 * (param) or a buffer stored as dtype; the module owns it either way. */
static tg_status add_filled(tg_module *m, const char *name, int ndim, const int *shape, float value, bool param,
                            tg_dtype dtype)
{
    tg_tensor *t = tg_full(NULL, ndim, shape, value);
    if (!t) return TG_ERR_NOMEM;
    return param ? tg_module_add_param(m, name, t) : tg_module_add_buffer(m, name, t, dtype);
}

/* ---- LayerNorm(normalized_shape, eps, elementwise_affine): normalises
 * over the last dimensions with the biased variance, then weight (ones)
 * and bias (zeros) of normalized_shape (torch.nn.LayerNorm) ---- */

static tg_tensor *layer_norm_forward(tg_module *m, tg_graph *g, tg_tensor *x)
{
    const layer_args *a = args_of(m);
    bool affine = a->flag;
    return tg_layer_norm(g, x, a->i, affine ? tg_module_param(m, "weight") : NULL,
                         affine ? tg_module_param(m, "bias") : NULL, a->a);
}

static const tg_module_ops layer_norm_ops = {.name = "layernorm", .forward = layer_norm_forward,
                                             .free_impl = args_free};

tg_module *tg_layer_norm_new(int ndim, const int *shape, float eps, bool elementwise_affine)
{
    if (ndim < 1 || ndim > TG_MAX_DIMS - 1 || !shape || !(eps > 0)) {
        tg__error("tg_layer_norm_new: normalized_shape needs 1 to %d sizes and eps must be positive", TG_MAX_DIMS - 1);
        return NULL;
    }
    for (int d = 0; d < ndim; d++)
        if (shape[d] <= 0) {
            tg__error("tg_layer_norm_new: normalized_shape has a size %d: sizes must be positive", shape[d]);
            return NULL;
        }
    tg_module *m = layer_new(&layer_norm_ops, (layer_args){.a = eps, .i = ndim, .flag = elementwise_affine});
    tg_status s = m ? TG_OK : TG_ERR_NOMEM;
    if (s == TG_OK && elementwise_affine) s = add_filled(m, "weight", ndim, shape, 1.0f, true, TG_F32);
    if (s == TG_OK && elementwise_affine) s = add_filled(m, "bias", ndim, shape, 0.0f, true, TG_F32);
    if (s != TG_OK) {
        tg_module_free(m);
        return NULL;
    }
    return m;
}

/* ---- BatchNorm1d(num_features, eps, momentum, affine,
 * track_running_stats) (torch.nn.BatchNorm1d): in training mode, the
 * batch's mean and biased variance per feature, and the running
 * statistics updated with momentum (the variance unbiased) and
 * num_batches_tracked counted; in evaluation mode, the running statistics.
 * momentum NaN is torch's None: a cumulative average, 1 /
 * num_batches_tracked. Without running statistics, batch statistics
 * always, as torch. ---- */

static tg_tensor *batch_norm_forward(tg_module *m, tg_graph *g, tg_tensor *x)
{
    const layer_args *a = args_of(m);
    bool affine = a->flag, track = a->flag2;
    tg_tensor *mean = track ? tg_module_param(m, "running_mean") : NULL;
    tg_tensor *var = track ? tg_module_param(m, "running_var") : NULL;
    float momentum = a->b;
    if (track && m->training) {
        tg_tensor *count = tg_module_param(m, "num_batches_tracked");
        count->data[0] += 1.0f;
        if (isnan(momentum)) momentum = 1.0f / count->data[0];
    }
    return tg_batch_norm(g, x, mean, var, affine ? tg_module_param(m, "weight") : NULL,
                         affine ? tg_module_param(m, "bias") : NULL, m->training || !track, momentum, a->a);
}

static const tg_module_ops batch_norm1d_ops = {.name = "batchnorm1d", .forward = batch_norm_forward,
                                               .free_impl = args_free};
static const tg_module_ops batch_norm2d_ops = {.name = "batchnorm2d", .forward = batch_norm_forward,
                                               .free_impl = args_free};

static tg_module *batch_norm_new(const tg_module_ops *ops, int num_features, float eps, float momentum, bool affine,
                                 bool track_running_stats)
{
    if (num_features <= 0 || !(eps > 0) || (!isnan(momentum) && !(momentum >= 0 && momentum <= 1))) {
        tg__error("tg_%s_new: num_features %d must be positive, eps %g positive and momentum %g in [0, 1] "
                  "(or NAN for torch's None)", ops->name, num_features, eps, momentum);
        return NULL;
    }
    tg_module *m = layer_new(ops, (layer_args){.a = eps, .b = momentum, .flag = affine,
                                               .flag2 = track_running_stats});
    tg_status s = m ? TG_OK : TG_ERR_NOMEM;
    int c[1] = {num_features};
    if (s == TG_OK && affine) s = add_filled(m, "weight", 1, c, 1.0f, true, TG_F32);
    if (s == TG_OK && affine) s = add_filled(m, "bias", 1, c, 0.0f, true, TG_F32);
    if (s == TG_OK && track_running_stats) s = add_filled(m, "running_mean", 1, c, 0.0f, false, TG_F32);
    if (s == TG_OK && track_running_stats) s = add_filled(m, "running_var", 1, c, 1.0f, false, TG_F32);
    if (s == TG_OK && track_running_stats) s = add_filled(m, "num_batches_tracked", 0, NULL, 0.0f, false, TG_I64);
    if (s != TG_OK) {
        tg_module_free(m);
        return NULL;
    }
    return m;
}

tg_module *tg_batch_norm1d_new(int num_features, float eps, float momentum, bool affine, bool track_running_stats)
{
    return batch_norm_new(&batch_norm1d_ops, num_features, eps, momentum, affine, track_running_stats);
}

/* BatchNorm2d: the same over (N, C, H, W), statistics per channel */
tg_module *tg_batch_norm2d_new(int num_features, float eps, float momentum, bool affine, bool track_running_stats)
{
    return batch_norm_new(&batch_norm2d_ops, num_features, eps, momentum, affine, track_running_stats);
}

/* ---- Embedding(num_embeddings, embedding_dim, padding_idx): rows of
 * "weight" picked by index, drawn from N(0, 1) with the padding row zero,
 * as torch.nn.Embedding's reset_parameters ---- */

static tg_tensor *embedding_forward(tg_module *m, tg_graph *g, tg_tensor *x)
{
    return tg_embedding(g, tg_module_param(m, "weight"), x, args_of(m)->i);
}

static const tg_module_ops embedding_ops = {.name = "embedding", .forward = embedding_forward, .free_impl = args_free};

tg_module *tg_embedding_new(int num_embeddings, int embedding_dim, int padding_idx, tg_rng *rng)
{
    if (padding_idx != TG_NO_PADDING && padding_idx < 0) padding_idx += num_embeddings; /* torch: from the end */
    if (num_embeddings <= 0 || embedding_dim <= 0 || !rng ||
        (padding_idx != TG_NO_PADDING && (padding_idx < 0 || padding_idx >= num_embeddings))) {
        tg__error("tg_embedding_new: %s", !rng ? "rng is NULL"
                                             : "sizes must be positive and padding_idx within num_embeddings");
        return NULL;
    }
    if (padding_idx == TG_NO_PADDING) padding_idx = -1; /* tg_embedding's "none" */
    tg_module *m = layer_new(&embedding_ops, (layer_args){.i = padding_idx});
    tg_tensor *w = tg_zeros(NULL, TG_SHAPE(num_embeddings, embedding_dim));
    tg_status s = m && w ? tg_init_normal(w, 0.0f, 1.0f, rng) : TG_ERR_NOMEM;
    if (s == TG_OK && padding_idx >= 0)
        for (int j = 0; j < embedding_dim; j++) w->data[(size_t)padding_idx * embedding_dim + j] = 0.0f;
    if (s == TG_OK) {
        s = tg_module_add_param(m, "weight", w);
        w = NULL;
    }
    tg_tensor_free(w);
    if (s != TG_OK) {
        tg_module_free(m);
        return NULL;
    }
    return m;
}

/* A module of ops holding a copy of n bytes of options; NULL with a message. */
static tg_module *options_new(const tg_module_ops *ops, const void *opts, size_t n)
{
    void *impl = malloc(n);
    if (!impl) {
        tg__error("%s: out of memory", ops->name);
        return NULL;
    }
    memcpy(impl, opts, n);
    return tg_module_new(ops, impl);
}

/* ---- Conv2d(in, out, kernel, stride, padding, dilation, groups, bias):
 * "weight" (out, in/groups, kh, kw) and "bias" (out), both
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in/groups kh kw, as
 * nn.Conv2d's reset_parameters (kaiming_uniform with a = sqrt(5)) ---- */

typedef struct conv_impl {
    tg_conv2d_opts opts;
    bool bias;
} conv_impl;

static tg_tensor *conv_forward(tg_module *m, tg_graph *g, tg_tensor *x)
{
    const conv_impl *c = m->impl;
    return tg_conv2d(g, x, tg_module_param(m, "weight"), c->bias ? tg_module_param(m, "bias") : NULL, &c->opts);
}

static tg_tensor *conv_relu_forward(tg_module *m, tg_graph *g, tg_tensor *x)
{
    const conv_impl *c = m->impl;
    return tg__conv2d_relu(g, x, tg_module_param(m, "weight"), c->bias ? tg_module_param(m, "bias") : NULL, &c->opts);
}

static const tg_module_ops conv_ops = {.name = "conv2d", .forward = conv_forward, .free_impl = args_free};

tg_module *tg_conv2d_new(int in_channels, int out_channels, int kh, int kw, const tg_conv2d_opts *opts, bool bias,
                         tg_rng *rng)
{
    tg_conv2d_opts o = opts ? *opts : (tg_conv2d_opts){0};
    int groups = o.groups ? o.groups : 1;
    if (in_channels <= 0 || out_channels <= 0 || kh <= 0 || kw <= 0 || groups <= 0 || in_channels % groups ||
        out_channels % groups || !rng) {
        tg__error("tg_conv2d_new: %s", !rng ? "rng is NULL"
                                            : "sizes must be positive, and groups must divide in_channels and "
                                              "out_channels");
        return NULL;
    }
    tg_module *m = options_new(&conv_ops, &(conv_impl){o, bias}, sizeof(conv_impl));
    if (m) m->fused_relu_forward = conv_relu_forward;
    return add_weight_and_bias(m, TG_SHAPE(out_channels, in_channels / groups, kh, kw), bias, rng);
}

/* ---- MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Dropout2d: no parameters ---- */

static tg_tensor *max_pool_forward(tg_module *m, tg_graph *g, tg_tensor *x) { return tg_max_pool2d(g, x, m->impl); }
static tg_tensor *avg_pool_forward(tg_module *m, tg_graph *g, tg_tensor *x) { return tg_avg_pool2d(g, x, m->impl); }
static tg_tensor *adaptive_forward(tg_module *m, tg_graph *g, tg_tensor *x)
{
    return tg_adaptive_avg_pool2d(g, x, args_of(m)->i, (int)args_of(m)->a);
}
static tg_tensor *dropout2d_forward(tg_module *m, tg_graph *g, tg_tensor *x)
{
    return tg_dropout2d(g, x, args_of(m)->a, m->training, m->rng);
}

static const tg_module_ops max_pool_ops = {.name = "maxpool2d", .forward = max_pool_forward, .free_impl = args_free};
static const tg_module_ops avg_pool_ops = {.name = "avgpool2d", .forward = avg_pool_forward, .free_impl = args_free};
static const tg_module_ops adaptive_ops = {.name = "adaptiveavgpool2d", .forward = adaptive_forward,
                                           .free_impl = args_free};
static const tg_module_ops dropout2d_ops = {.name = "dropout2d", .forward = dropout2d_forward, .free_impl = args_free};

static tg_module *pool_new(const tg_module_ops *ops, const tg_pool2d_opts *opts)
{
    if (!opts || opts->kernel[0] <= 0 || opts->kernel[1] <= 0) {
        tg__error("tg_%s_new: the kernel size must be positive", ops->name);
        return NULL;
    }
    return options_new(ops, opts, sizeof *opts);
}

tg_module *tg_max_pool2d_new(const tg_pool2d_opts *opts) { return pool_new(&max_pool_ops, opts); }
tg_module *tg_avg_pool2d_new(const tg_pool2d_opts *opts) { return pool_new(&avg_pool_ops, opts); }

tg_module *tg_adaptive_avg_pool2d_new(int out_h, int out_w)
{
    if (out_h <= 0 || out_w <= 0) {
        tg__error("tg_adaptive_avg_pool2d_new: output size %d x %d: must be positive", out_h, out_w);
        return NULL;
    }
    return layer_new(&adaptive_ops, (layer_args){.i = out_h, .a = (float)out_w});
}

tg_module *tg_dropout2d_new(float p)
{
    if (!(p >= 0.0f && p <= 1.0f)) {
        tg__error("tg_dropout2d_new: p = %g: must be in [0, 1]", p);
        return NULL;
    }
    return layer_new(&dropout2d_ops, (layer_args){.a = p});
}
