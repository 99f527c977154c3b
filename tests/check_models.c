/* check_models.c — modules (src/nn/module.c), models by name and the MLP
 * of models/, and the two-moons data of datasets/;
 * training with each fast GEMM kernel against the reference product. */
#define _POSIX_C_SOURCE 200809L
#include "tg_scratch.h"

#include "fixtures/safetensors_ref.h"
#include "kernels/kernels.h"

START_TEST(test_models_mlp_layers_and_init)
{
    /* The lecture MLP: 784-512-512-10, nn.Linear's default init. */
    tg_rng rng;
    tg_rng_seed(&rng, 0);
    tg_mlp *m = tg_mlp_new(784, (int[]){512, 512}, 2, 10, TG_ACT_RELU, 0.0f, &rng);
    ck_assert_ptr_nonnull(m);
    tg_tensor *p[6];
    ck_assert_int_eq(tg_mlp_params(m, p, 6), 6);
    ck_assert_shape(p[0], 512, 784);
    ck_assert_shape(p[1], 512);
    ck_assert_shape(p[2], 512, 512);
    ck_assert_shape(p[4], 10, 512);
    ck_assert_shape(p[5], 10);
    const int fan_in[] = {784, 784, 512, 512, 512, 512};
    size_t total = 0;
    for (int k = 0; k < 6; k++) {
        float bound = 1.0f / sqrtf((float)fan_in[k]);
        for (size_t i = 0; i < p[k]->size; i++) ck_assert(fabsf(p[k]->data[i]) <= bound);
        ck_assert(p[k]->requires_grad && p[k]->grad != NULL);
        total += p[k]->size;
    }
    ck_assert_int_eq(total, 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10); /* 669,706 */
    tg_mlp_free(m);
}
END_TEST

START_TEST(test_models_mlp_forward_shapes)
{
    tg_rng rng;
    tg_rng_seed(&rng, 1);
    tg_graph *g = tg_graph_new();
    tg_activation acts[] = {TG_ACT_RELU, TG_ACT_TANH, TG_ACT_SIGMOID, TG_ACT_GELU};
    for (int a = 0; a < 4; a++) {
        tg_mlp *m = tg_mlp_new(12, (int[]){5}, 1, 3, acts[a], 0.25f, &rng);
        tg_tensor *x = tg_randn(g, &rng, 3, (int[]){4, 3, 4}); /* flattened to (4,12) */
        ck_assert_shape(tg_mlp_forward(g, m, x, true, &rng), 4, 3);
        ck_assert_shape(tg_mlp_forward(g, m, x, false, NULL), 4, 3);
        tg_mlp_free(m);
    }
    tg_mlp *linear = tg_mlp_new(12, NULL, 0, 3, TG_ACT_RELU, 0.0f, &rng); /* softmax regression */
    ck_assert_int_eq(tg_mlp_params(linear, NULL, 0), 2);
    ck_assert_shape(tg_mlp_forward(g, linear, tg_ones(g, 2, (int[]){2, 12}), false, NULL), 2, 3);
    tg_mlp_free(linear);
    tg_graph_free(g);
}
END_TEST

START_TEST(test_models_mlp_rejects_bad_shapes)
{
    tg_rng rng;
    tg_rng_seed(&rng, 1);
    ck_assert_ptr_null(tg_mlp_new(0, NULL, 0, 3, TG_ACT_RELU, 0.0f, &rng));
    ck_assert_error_has("tg_mlp_new");
    ck_assert_ptr_null(tg_mlp_new(4, (int[]){8, -2}, 2, 3, TG_ACT_RELU, 0.0f, &rng));
    ck_assert_str_eq(tg_last_error(), "tg_mlp_new: hidden layer 2 has -2 units: sizes must be positive");
    ck_assert_ptr_null(tg_mlp_new(4, (int[]){8}, 1, 3, TG_ACT_RELU, 1.0f, &rng));
    ck_assert_ptr_null(tg_mlp_new(4, (int[]){8}, 1, 3, TG_ACT_RELU, 0.0f, NULL));
    ck_assert_str_eq(tg_last_error(), "tg_mlp_new: rng is NULL");
    /* a NULL hidden is named as such, not taken for a bad size */
    ck_assert_ptr_null(tg_mlp_new(784, NULL, 1, 10, TG_ACT_RELU, 0.0f, &rng));
    ck_assert_str_eq(tg_last_error(), "tg_mlp_new: hidden (the sizes of the hidden layers) is NULL");
    tg_mlp_free(NULL);
}
END_TEST

/* ---- modules ---- */

/* y = x w^T + b, with a buffer counting forwards in training mode (as
 * BatchNorm's num_batches_tracked). */
static tg_tensor *affine_forward(tg_module *m, tg_graph *g, tg_tensor *x)
{
    if (m->training) tg_module_param(m, "calls")->data[0] += 1.0f;
    return tg_linear(g, x, tg_module_param(m, "weight"), tg_module_param(m, "bias"));
}
static int impl_freed;
static void count_free(void *impl) { impl_freed += impl != NULL; }
static const tg_module_ops affine_ops = {.name = "affine", .forward = affine_forward, .free_impl = count_free};

START_TEST(test_models_module_params_buffers_and_mode)
{
    static int impl;
    impl_freed = 0;
    tg_module *m = tg_module_new(&affine_ops, &impl);
    ck_assert_ptr_nonnull(m);
    ck_assert(m->training); /* as a torch module starts */
    ck_assert_int_eq(tg_module_add_param(m, "weight", tg_full(NULL, TG_SHAPE(2, 3), 0.5f)), TG_OK);
    ck_assert_int_eq(tg_module_add_buffer(m, "calls", tg_zeros(NULL, TG_SHAPE(1)), TG_I64), TG_OK);
    ck_assert_int_eq(tg_module_add_param(m, "bias", tg_zeros(NULL, TG_SHAPE(2))), TG_OK);
    /* parameters in the order added, without the buffer; the state with it */
    tg_tensor *p[4];
    ck_assert_int_eq(tg_module_parameters(m, NULL, 0), 2);
    ck_assert_int_eq(tg_module_parameters(m, p, 4), 2);
    ck_assert_ptr_eq(p[0], tg_module_param(m, "weight"));
    ck_assert_ptr_eq(p[1], tg_module_param(m, "bias"));
    ck_assert(p[0]->requires_grad && p[1]->requires_grad);
    ck_assert_int_eq(tg_module_state_size(m), 3);
    char name[TG_MODULE_NAME_MAX];
    bool buffer;
    ck_assert_ptr_nonnull(tg_module_state(m, 2, name, &buffer)); /* parameters first, as torch's state_dict */
    ck_assert_str_eq(name, "calls");
    ck_assert(buffer && !tg_module_param(m, "calls")->requires_grad);
    ck_assert_ptr_null(tg_module_state(m, 3, name, &buffer));
    /* forward in each mode */
    tg_graph *g = tg_graph_new();
    tg_tensor *y = tg_module_forward(m, g, tg_ones(g, TG_SHAPE(4, 3)));
    ck_assert_shape(y, 4, 2);
    ck_assert_float_eq(y->data[0], 1.5f);
    ck_assert(tg_module_train(m, false));
    tg_module_forward(m, g, tg_ones(g, TG_SHAPE(4, 3)));
    ck_assert_float_eq(tg_module_param(m, "calls")->data[0], 1.0f);
    ck_assert(!tg_module_train(m, true));
    /* refusals: each names the problem, and the tensor offered is freed */
    ck_assert_int_eq(tg_module_add_param(m, "weight", tg_zeros(NULL, TG_SHAPE(1))), TG_ERR_ARG);
    ck_assert_str_eq(tg_last_error(), "tg_module_add_param: 'weight': the name is taken");
    ck_assert_int_eq(tg_module_add_param(m, "on_graph", tg_zeros(g, TG_SHAPE(1))), TG_ERR_ARG);
    ck_assert_error_has("the tensor is on a graph");
    ck_assert_int_eq(tg_module_add_buffer(m, "", tg_zeros(NULL, TG_SHAPE(1)), TG_F32), TG_ERR_ARG);
    ck_assert_error_has("the name is empty");
    ck_assert_int_eq(tg_module_add_param(m, "x", NULL), TG_ERR_ARG);
    ck_assert_ptr_null(tg_module_param(m, "nope"));
    ck_assert_str_eq(tg_last_error(), "tg_module_param: affine has no parameter or buffer 'nope'");
    ck_assert_int_eq(tg_module_state_size(m), 3);
    tg_graph_free(g);
    tg_module_free(m); /* frees the three tensors (ASan would see a leak) and impl */
    ck_assert_int_eq(impl_freed, 1);
    ck_assert_ptr_null(tg_module_new(NULL, NULL));
    ck_assert_ptr_null(tg_module_forward(NULL, NULL, NULL));
    ck_assert_str_eq(tg_last_error(), "tg_module_forward: module is NULL");
    tg_module_free(NULL);
}
END_TEST

/* ---- models by name ---- */

START_TEST(test_models_spec_holds_canonical_text)
{
    tg_model_spec s;
    ck_assert_int_eq(tg_model_spec_init(&s, "mlp"), TG_OK);
    ck_assert_ptr_eq(s.kind, &tg_mlp_kind);
    ck_assert_str_eq(tg_model_spec_get(&s, "hidden"), "512,512");
    ck_assert_str_eq(tg_model_spec_get(&s, "activation"), "relu");
    ck_assert_str_eq(tg_model_spec_get(&s, "dropout"), "0");
    /* the same setting is the same text however it was typed */
    ck_assert_int_eq(tg_model_spec_set(&s, "dropout", "0.20"), TG_OK);
    ck_assert_str_eq(tg_model_spec_get(&s, "dropout"), "0.20000000000000001");
    ck_assert_int_eq(tg_model_spec_set(&s, "hidden", "0128,64"), TG_OK);
    ck_assert_str_eq(tg_model_spec_get(&s, "hidden"), "128,64");
    ck_assert_int_eq(tg_model_spec_set(&s, "hidden", ""), TG_OK);
    ck_assert_str_eq(tg_model_spec_get(&s, "hidden"), "");
    char text[128];
    tg_mlp_kind.describe(&s, text, sizeof text);
    ck_assert_str_eq(text, "mlp hidden none relu dropout");
    /* refusals */
    ck_assert_int_eq(tg_model_spec_set(&s, "hidden", "512,,3"), TG_ERR_ARG);
    ck_assert_str_eq(tg_last_error(), "model mlp: hidden needs positive sizes like 512,512 (or \"\" for none), got '512,,3'");
    ck_assert_int_eq(tg_model_spec_set(&s, "activation", "swish"), TG_ERR_ARG);
    ck_assert_str_eq(tg_last_error(), "model mlp: activation is one of relu, tanh, sigmoid, gelu, not 'swish'");
    ck_assert_int_eq(tg_model_spec_set(&s, "dropout", "1"), TG_ERR_ARG);
    ck_assert_str_eq(tg_last_error(), "model mlp: dropout must be in [0, 1), got '1'");
    ck_assert_int_eq(tg_model_spec_set(&s, "channels", "3"), TG_ERR_ARG);
    ck_assert_str_eq(tg_last_error(), "model mlp has no option channels");
    ck_assert_str_eq(tg_model_spec_get(&s, "hidden"), ""); /* a refused value leaves the old one */
    ck_assert_int_eq(tg_model_spec_init(&s, "resnet"), TG_ERR_ARG);
    ck_assert_error_has("no model 'resnet': tg has mlp, cnn, cnn-bn (or a line of layers");
    const tg_model_kind *kinds[4];
    ck_assert_int_eq(tg_model_kinds(kinds, 4), 4);
    ck_assert_str_eq(kinds[1]->name, "layers");
    ck_assert_str_eq(kinds[2]->name, "cnn");
    ck_assert_str_eq(kinds[3]->name, "cnn-bn");
    ck_assert_int_eq(tg_model_spec_init(&s, "flatten linear(10)"), TG_OK);
    ck_assert_str_eq(s.kind->name, "layers");
    ck_assert_str_eq(s.layers, "flatten linear(10)");
    ck_assert_int_eq(tg_model_spec_init(&s, "mlp"), TG_OK);
    ck_assert(tg_model_has_opt(kinds[0], "hidden") && !tg_model_has_opt(kinds[0], "lr"));
}
END_TEST

START_TEST(test_models_model_new_builds_the_mlp_as_a_module)
{
    /* the module of spec "mlp hidden 16 tanh" is tg_mlp_new's network, drawn
     * from the same generator: the same parameters, under the keys of
     * nn.Sequential(Flatten, Linear, Tanh, Linear); W0, b0, ... are the
     * names checkpoints before modules gave them (old_name) */
    tg_model_spec s;
    tg_model_spec_init(&s, "mlp");
    tg_model_spec_set(&s, "hidden", "16");
    tg_model_spec_set(&s, "activation", "tanh");
    tg_rng r1, r2;
    tg_rng_seed(&r1, 4), tg_rng_seed(&r2, 4);
    tg_module *m = tg_model_new(&s, (tg_sample_shape){1, 4, 5}, 3, &r1);
    tg_mlp *ref = tg_mlp_new(20, (int[]){16}, 1, 3, TG_ACT_TANH, 0.0f, &r2);
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(m->ops->name, "sequential");
    const char *names[] = {"1.weight", "1.bias", "3.weight", "3.bias"}, *old[] = {"W0", "b0", "W1", "b1"};
    tg_tensor *want[4];
    tg_mlp_params(ref, want, 4);
    ck_assert_int_eq(tg_module_state_size(m), 4);
    for (int k = 0; k < 4; k++) {
        char name[TG_MODULE_NAME_MAX];
        tg_tensor *t = tg_module_state(m, k, name, NULL);
        ck_assert_str_eq(name, names[k]);
        ck_assert(s.kind->old_name(k, name, sizeof name));
        ck_assert_str_eq(name, old[k]);
        ck_assert(tg_same_shape(t, want[k]));
        ck_assert_mem_eq(t->data, want[k]->data, t->size * sizeof(float));
    }
    /* an image batch (N, C, H, W) goes in whole */
    tg_graph *g = tg_graph_new();
    tg_tensor *x = tg_randn(g, &r1, TG_SHAPE(2, 1, 4, 5));
    tg_tensor *y = tg_module_forward(m, g, x), *y_ref = tg_mlp_forward(g, ref, x, false, NULL);
    ck_assert_shape(y, 2, 3);
    ck_assert_mem_eq(y->data, y_ref->data, 6 * sizeof(float));
    ck_assert_ptr_null(tg_model_new(&s, (tg_sample_shape){0, 4, 5}, 3, &r1));
    ck_assert_error_has("sizes must be positive");
    tg_graph_free(g);
    tg_module_free(m);
    tg_mlp_free(ref);
}
END_TEST

START_TEST(test_models_mlp_module_training_mode_draws_dropout)
{
    tg_model_spec s;
    tg_model_spec_init(&s, "mlp");
    tg_model_spec_set(&s, "dropout", "0.5");
    tg_rng rng;
    tg_rng_seed(&rng, 1);
    tg_module *m = tg_model_new(&s, (tg_sample_shape){1, 2, 2}, 2, &rng);
    tg_graph *g = tg_graph_new();
    tg_tensor *x = tg_ones(g, TG_SHAPE(3, 4));
    ck_assert_ptr_null(tg_module_forward(m, g, x)); /* training mode, no generator: refused */
    ck_assert_error_has("tg_dropout: rng is NULL");
    tg_module_set_rng(m, &rng);
    ck_assert_ptr_nonnull(tg_module_forward(m, g, x));
    tg_module_train(m, false);
    tg_module_set_rng(m, NULL);
    ck_assert_ptr_nonnull(tg_module_forward(m, g, x)); /* evaluation needs none */
    tg_graph_free(g);
    tg_module_free(m);
}
END_TEST

/* ---- layers, children, state dicts ---- */

START_TEST(test_models_sequential_names_state_as_torch)
{
    tg_rng rng;
    tg_rng_seed(&rng, 5);
    tg_module *layers[] = {tg_flatten_new(1), tg_linear_new(6, 4, true, &rng), tg_relu_new(),
                           tg_linear_new(4, 3, false, &rng)};
    tg_module *m = tg_sequential_new(layers, 4);
    ck_assert_ptr_nonnull(m);
    const char *keys[] = {"1.weight", "1.bias", "3.weight"};
    ck_assert_int_eq(tg_module_state_size(m), 3);
    for (int i = 0; i < 3; i++) {
        char name[TG_MODULE_NAME_MAX];
        ck_assert_ptr_nonnull(tg_module_state(m, i, name, NULL));
        ck_assert_str_eq(name, keys[i]);
    }
    ck_assert_ptr_eq(tg_module_param(m, "1.bias"), tg_module_param(tg_module_child(m, "1"), "bias"));
    ck_assert_ptr_null(tg_module_param(m, "3.bias"));
    ck_assert_ptr_null(tg_module_param(m, "2.weight"));
    tg_tensor *p[3];
    ck_assert_int_eq(tg_module_parameters(m, p, 3), 3);
    ck_assert_shape(p[2], 3, 4);
    /* nn.Linear's init: U(-1/sqrt(in), 1/sqrt(in)) */
    for (size_t i = 0; i < p[0]->size; i++) ck_assert(fabsf(p[0]->data[i]) <= 1 / sqrtf(6.0f));
    /* forward = the ops by hand */
    tg_graph *g = tg_graph_new();
    tg_tensor *x = tg_randn(g, &rng, TG_SHAPE(5, 2, 3));
    tg_tensor *y = tg_module_forward(m, g, x);
    tg_tensor *h = tg_relu(g, tg_linear(g, tg_flatten(g, x, 1), p[0], p[1]));
    tg_tensor *want = tg_linear(g, h, p[2], NULL);
    ck_assert_shape(y, 5, 3);
    ck_assert_mem_eq(y->data, want->data, 15 * sizeof(float));
    /* the mode and the generator reach the children */
    tg_module_train(m, false);
    ck_assert(!tg_module_child(m, "3")->training);
    tg_graph_free(g);
    tg_module_free(m);
    /* a layer that failed fails the whole, with its message, and leaks nothing */
    tg_module *bad[] = {tg_relu_new(), tg_linear_new(0, 3, true, &rng), tg_gelu_new()};
    ck_assert_ptr_null(tg_sequential_new(bad, 3));
    ck_assert_str_eq(tg_last_error(), "tg_linear_new: in and out must be positive");
    ck_assert_ptr_null(tg_dropout_new(1.5f));
    ck_assert_ptr_null(tg_softplus_new(0.0f, 20.0f));
}
END_TEST

START_TEST(test_models_state_dict_round_trip_and_strict_load)
{
    tg_rng rng;
    tg_rng_seed(&rng, 6);
    tg_module *a = tg_sequential_new((tg_module *[]){tg_linear_new(3, 2, true, &rng), tg_tanh_new()}, 2);
    tg_module *b = tg_sequential_new((tg_module *[]){tg_linear_new(3, 2, true, &rng), tg_tanh_new()}, 2);
    ck_assert_int_eq(tg_module_add_buffer(a, "steps", tg_full(NULL, 0, NULL, 42.0f), TG_I64), TG_OK);
    ck_assert_int_eq(tg_module_add_buffer(b, "steps", tg_zeros(NULL, 0, NULL), TG_I64), TG_OK);
    ck_assert_int_eq(tg_module_save(a, in_dir("a.safetensors"), "linear(2) tanh"), TG_OK);
    tg_safetensors *st;
    ck_assert_int_eq(tg_safetensors_read(in_dir("a.safetensors"), &st), TG_OK);
    ck_assert_str_eq(tg_safetensors_metadata(st, "spec"), "linear(2) tanh");
    ck_assert_str_eq(tg_safetensors_name(st, 0), "steps"); /* own buffers before the children's state */
    tg_dtype dtype;
    ck_assert(tg_safetensors_info(st, "steps", &dtype, NULL, NULL) && dtype == TG_I64);
    tg_safetensors_free(st);
    ck_assert_int_eq(tg_module_load(b, in_dir("a.safetensors")), TG_OK);
    for (int i = 0; i < tg_module_state_size(a); i++) {
        tg_tensor *ta = tg_module_state(a, i, NULL, NULL), *tb = tg_module_state(b, i, NULL, NULL);
        ck_assert_mem_eq(ta->data, tb->data, ta->size * sizeof(float));
    }
    /* strict: a module with another key, or another shape, is refused by
     * name and left as it was */
    tg_module *c = tg_sequential_new((tg_module *[]){tg_linear_new(3, 2, false, &rng)}, 1);
    float before = tg_module_param(c, "0.weight")->data[0];
    ck_assert_int_eq(tg_module_load(c, in_dir("a.safetensors")), TG_ERR_FORMAT);
    ck_assert_error_has("unexpected key 'steps'");
    ck_assert_int_eq(tg_module_add_buffer(c, "steps", tg_zeros(NULL, 0, NULL), TG_I64), TG_OK);
    ck_assert_int_eq(tg_module_load(c, in_dir("a.safetensors")), TG_ERR_FORMAT);
    ck_assert_error_has("unexpected key '0.bias'");
    tg_module *d = tg_sequential_new((tg_module *[]){tg_linear_new(4, 2, true, &rng), tg_tanh_new()}, 2);
    ck_assert_int_eq(tg_module_add_buffer(d, "steps", tg_zeros(NULL, 0, NULL), TG_I64), TG_OK);
    ck_assert_int_eq(tg_module_add_buffer(d, "more", tg_zeros(NULL, 0, NULL), TG_F32), TG_OK);
    ck_assert_int_eq(tg_module_load(d, in_dir("a.safetensors")), TG_ERR_FORMAT);
    ck_assert_error_has("missing key 'more'");
    ck_assert_float_eq(tg_module_param(c, "0.weight")->data[0], before);
    tg_module_free(d);
    d = tg_sequential_new((tg_module *[]){tg_linear_new(4, 2, true, &rng), tg_tanh_new()}, 2);
    ck_assert_int_eq(tg_module_add_buffer(d, "steps", tg_zeros(NULL, 0, NULL), TG_I64), TG_OK);
    ck_assert_int_eq(tg_module_load(d, in_dir("a.safetensors")), TG_ERR_FORMAT);
    ck_assert_error_has("'0.weight' has shape (2,3) in the file, (2,4) here");
    ck_assert_error_has(in_dir("a.safetensors"));
    tg_module_free(a), tg_module_free(b), tg_module_free(c), tg_module_free(d);
}
END_TEST

START_TEST(test_models_loads_pytorch_weights_and_gives_its_logits)
{
    /* torch's Sequential(Flatten, Linear(6, 4), ReLU, Linear(4, 3)), saved
     * by tests/fixtures/gen_safetensors.py: tg loads it strictly and
     * computes the logits torch computed */
    tg_rng rng;
    tg_rng_seed(&rng, 0);
    tg_module *m = tg_sequential_new((tg_module *[]){tg_flatten_new(1), tg_linear_new(6, 4, true, &rng), tg_relu_new(),
                                                     tg_linear_new(4, 3, true, &rng)}, 4);
    ck_assert_msg(tg_module_load(m, "tests/fixtures/safetensors/torch_mlp.safetensors") == TG_OK, "%s",
                  tg_last_error());
    tg_graph *g = tg_graph_new();
    tg_tensor *y = tg_module_forward(m, g, tg_from_data(g, torch_mlp_x, TG_SHAPE(2, 1, 2, 3)));
    for (int i = 0; i < 6; i++) ck_assert_close(y->data[i], torch_mlp_y[i], 1e-6, 1e-6);
    /* and what tg saves of it is what torch saved */
    ck_assert_int_eq(tg_module_save(m, in_dir("again.safetensors"), NULL), TG_OK);
    tg_module *back = tg_sequential_new((tg_module *[]){tg_flatten_new(1), tg_linear_new(6, 4, true, &rng),
                                                        tg_relu_new(), tg_linear_new(4, 3, true, &rng)}, 4);
    ck_assert_int_eq(tg_module_load(back, in_dir("again.safetensors")), TG_OK);
    ck_assert_mem_eq(tg_module_param(back, "3.weight")->data, tg_module_param(m, "3.weight")->data, 12 * sizeof(float));
    tg_graph_free(g);
    tg_module_free(m), tg_module_free(back);
}
END_TEST

START_TEST(test_models_spec_string_builds_torch_sequential)
{
    tg_rng rng;
    tg_rng_seed(&rng, 2);
    tg_sample_shape in = {1, 2, 3};
    tg_module *m = tg_model_parse("flatten  linear(8) gelu dropout(0.1) linear(3, bias=False)", in, &rng);
    ck_assert_msg(m != NULL, "%s", tg_last_error());
    const char *keys[] = {"1.weight", "1.bias", "4.weight"};
    const int rows[] = {8, 8, 3}, cols[] = {6, 1, 8};
    ck_assert_int_eq(tg_module_state_size(m), 3);
    for (int i = 0; i < 3; i++) {
        char name[TG_MODULE_NAME_MAX];
        tg_tensor *t = tg_module_state(m, i, name, NULL);
        ck_assert_str_eq(name, keys[i]);
        ck_assert_int_eq(t->shape[0], rows[i]);
        if (t->ndim == 2) ck_assert_int_eq(t->shape[1], cols[i]);
    }
    ck_assert_str_eq(tg_module_child(m, "3")->ops->name, "dropout");
    tg_graph *g = tg_graph_new();
    tg_module_set_rng(m, &rng);
    ck_assert_shape(tg_module_forward(m, g, tg_ones(g, TG_SHAPE(5, 1, 2, 3))), 5, 3);
    tg_graph_free(g);
    tg_module_free(m);
    /* each mistake names its word */
    static const struct {
        const char *spec, *why;
    } bad[] = {
        {"flatten conv3d(3)", "word 2, 'conv3d': no such layer"},
        {"flatten linear(x)", "word 2, 'linear': argument 1, 'x', is not a number"},
        {"flatten linear(2.5)", "word 2, 'linear': out_features 2.5 must be a whole number of at least 1"},
        {"flatten linear", "word 2, 'linear': linear(out_features) needs its out_features"},
        {"flatten linear(3, bias=False, bias=True)", "word 2, 'linear': bias given twice"},
        {"flatten linear(3, bais=False)", "word 2, 'linear': no argument 'bais'"},
        {"flatten linear(bias=False, 3)", "word 2, 'linear': an argument by position after one by keyword"},
        {"flatten linear(3, True, 4)", "word 2, 'linear': takes at most 2 arguments"},
        {"flatten batchnorm1d(momentum=2)", "word 2, 'batchnorm1d': momentum must be in [0, 1]"},
        {"batchnorm1d", "word 1, 'batchnorm1d': batchnorm1d takes (N, C) or (N, C, L): put flatten before it"},
        {"flatten embedding(10)", "word 2, 'embedding': embedding(num_embeddings) needs its embedding_dim"},
        {"flatten embedding(10, 4, padding_idx=10)", "padding_idx must be a row of the table"},
        {"flatten layernorm(eps=0)", "word 2, 'layernorm': eps must be positive"},
        {"flatten relu(1)", "word 2, 'relu': takes at most 0 arguments"},
        {"flatten linear(3", "word 2, 'linear': no ')' after its arguments"},
        {"flatten dropout(2)", "word 2, 'dropout': p must be in [0, 1]"},
        {"flatten, linear(3)", "word 2, '': ',' where a layer name was expected"},
        {"  ", "no layers"},
        {"flatten linear(4) residual(linear(3))", "word 4, 'residual': its layers change the shape"},
        {"flatten linear(4) residual(linear(4) relu", "word 3, 'residual': no ')' after its layers"},
        {"flatten linear(4) residual()", "word 3, 'residual': a residual block needs layers"},
        {"flatten linear(4) residual(linear(4) bogus)", "word 5, 'bogus': no such layer"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tg_clear_error();
        ck_assert_ptr_null(tg_model_parse(bad[i].spec, in, &rng));
        ck_assert_msg(strstr(tg_last_error(), bad[i].why), "'%s': %s", bad[i].spec, tg_last_error());
    }
}
END_TEST

START_TEST(test_models_moons_shape_and_balance)
{
    /* Without noise every point lies on its circle: the upper moon on
     * x^2 + y^2 = 1, the lower on (x-1)^2 + (y-0.5)^2 = 1. */
    enum { N = 101 };
    float x[2 * N];
    int y[N], count[2] = {0, 0};
    tg_rng rng;
    tg_rng_seed(&rng, 2);
    ck_assert_int_eq(tg_make_moons(N, 0.0f, &rng, x, y), TG_OK);
    for (int i = 0; i < N; i++) {
        ck_assert(y[i] == 0 || y[i] == 1);
        count[y[i]]++;
        double cx = y[i] ? 1.0 : 0.0, cy = y[i] ? 0.5 : 0.0;
        ck_assert_close(hypot(x[2 * i] - cx, x[2 * i + 1] - cy), 1.0, 1e-6, 1e-6);
    }
    ck_assert_int_eq(count[0], N / 2);
    ck_assert_int_eq(count[1], N - N / 2);
    ck_assert_int_eq(tg_make_moons(1, 0.0f, &rng, x, y), TG_ERR_ARG);
}
END_TEST

START_TEST(test_models_moons_deterministic)
{
    float a[200], b[200];
    int la[100], lb[100];
    tg_rng r1, r2;
    tg_rng_seed(&r1, 7);
    tg_rng_seed(&r2, 7);
    tg_make_moons(100, 0.2f, &r1, a, la);
    tg_make_moons(100, 0.2f, &r2, b, lb);
    ck_assert_mem_eq(a, b, sizeof a);
    ck_assert_mem_eq(la, lb, sizeof la);
}
END_TEST

START_TEST(test_models_mlp_learns_moons)
{
    /* A linear model cannot separate the moons (about 85-88%); the MLP
     * must, on held-out points. */
    enum { N = 400, TEST = 400 };
    static float x[2 * N], xt[2 * TEST];
    static int y[N], yt[TEST];
    tg_rng rng;
    tg_rng_seed(&rng, 11);
    tg_make_moons(N, 0.1f, &rng, x, y);
    tg_make_moons(TEST, 0.1f, &rng, xt, yt);
    tg_mlp *m = tg_mlp_new(2, (int[]){32, 32}, 2, 2, TG_ACT_TANH, 0.0f, &rng);
    tg_tensor *p[6];
    tg_mlp_params(m, p, 6);
    tg_graph *g = tg_graph_new();
    double first = 0, last = 0;
    for (int epoch = 0; epoch < 150; epoch++) {
        for (int s = 0; s < N; s += 40) {
            tg_tensor *loss = tg_cross_entropy(g, tg_mlp_forward(g, m, tg_from_blob(g, x + 2 * s, 2, (int[]){40, 2}),
                                                                 true, NULL), y + s, NULL);
            for (int k = 0; k < 6; k++) tg_tensor_zero_grad(p[k]);
            ck_assert_int_eq(tg_backward(loss), TG_OK);
            for (int k = 0; k < 6; k++)
                for (size_t i = 0; i < p[k]->size; i++) p[k]->data[i] -= 0.2f * p[k]->grad[i];
            if (epoch == 0 && s == 0) first = loss->data[0];
            last = loss->data[0];
            tg_graph_reset(g);
        }
    }
    ck_assert_double_lt(last, first / 10);
    tg_tensor *logits = tg_mlp_forward(g, m, tg_from_blob(g, xt, 2, (int[]){TEST, 2}), false, NULL);
    int pred[TEST], right = 0;
    tg_argmax(logits, 1, pred);
    for (int i = 0; i < TEST; i++) right += pred[i] == yt[i];
    ck_assert_int_ge(right, TEST * 97 / 100);
    tg_graph_free(g);
    tg_mlp_free(m);
}
END_TEST

/* The lecture MLP trained STEPS steps (SGD with momentum, batch 32, on
 * fixed random inputs) with whatever product tg__gemm runs; its losses. */
enum { CURVE_STEPS = 30, CURVE_BATCH = 32 };

static void loss_curve(double *loss)
{
    tg_rng rng;
    tg_rng_seed(&rng, 11);
    tg_mlp *m = tg_mlp_new(784, (int[]){512, 512}, 2, 10, TG_ACT_RELU, 0.0f, &rng);
    ck_assert_ptr_nonnull(m);
    tg_tensor *params[6];
    tg_mlp_params(m, params, 6);
    tg_optim_opts o = tg_optim_defaults(TG_OPTIM_SGD);
    o.lr = 0.05, o.momentum = 0.9;
    tg_optim *opt = tg_optim_new(TG_OPTIM_SGD, params, 6, &o);
    tg_graph *g = tg_graph_new();
    static float x[CURVE_BATCH * 784];
    int y[CURVE_BATCH];
    for (int i = 0; i < CURVE_BATCH * 784; i++) x[i] = tg_rng_normal(&rng);
    for (int i = 0; i < CURVE_BATCH; i++) y[i] = i % 10;
    for (int step = 0; step < CURVE_STEPS; step++) {
        tg_tensor *l = tg_cross_entropy(g, tg_mlp_forward(g, m, tg_from_blob(g, x, 2, (int[]){CURVE_BATCH, 784}), true, NULL),
                                        y, NULL);
        tg_optim_zero_grad(opt);
        ck_assert_int_eq(tg_backward(l), TG_OK);
        ck_assert_int_eq(tg_optim_step(opt), TG_OK);
        loss[step] = l->data[0];
        tg_graph_reset(g);
    }
    tg_graph_free(g);
    tg_optim_free(opt);
    tg_mlp_free(m);
}

/* Every fast kernel follows the reference's loss curve (the triple loop
 * with double sums) to float rounding: the losses agree to 1e-5 relative
 * while they fall from 2.3 by a factor of 10 and more — a wrong tile, a
 * missed edge or a bad split would be off by far more from the first step. */
START_TEST(test_models_training_matches_the_reference_product)
{
    double want[CURVE_STEPS], got[CURVE_STEPS];
    const tg__gemm_kernel *kernels[4], *before = tg__gemm_kernel_in_use();
    int n = tg__gemm_kernels(kernels, 4);
    tg__gemm_use(NULL);
    loss_curve(want);
    ck_assert_double_lt(want[CURVE_STEPS - 1], 0.1 * want[0]); /* it learns: the curve is worth comparing */
    for (int k = 0; k < n; k++)
        for (int threads = 1; threads <= 2; threads++) {
            tg__gemm_use(kernels[k]);
            tg_set_threads(threads);
            loss_curve(got);
            for (int s = 0; s < CURVE_STEPS; s++)
                ck_assert_msg(fabs(got[s] - want[s]) <= 1e-5 * want[s], "%s on %d threads, step %d: loss %.9g, reference %.9g",
                              kernels[k]->name, threads, s, got[s], want[s]);
        }
    tg__gemm_use(before);
    tg_set_threads(0);
}
END_TEST

START_TEST(test_models_residual_block_adds_its_input)
{
    /* torch: class Residual(nn.Sequential): forward(x) = x + super().forward(x),
     * so Sequential(Flatten, Linear(6, 4), Residual(Linear(4, 4), Tanh)) has
     * keys 1.weight, 1.bias, 2.0.weight, 2.0.bias */
    tg_rng rng;
    tg_rng_seed(&rng, 5);
    tg_module *m = tg_model_parse("flatten linear(4) residual(linear(4) tanh residual(linear(4)))",
                                  (tg_sample_shape){1, 2, 3}, &rng);
    ck_assert_msg(m != NULL, "%s", tg_last_error());
    const char *keys[] = {"1.weight", "1.bias", "2.0.weight", "2.0.bias", "2.2.0.weight", "2.2.0.bias"};
    ck_assert_int_eq(tg_module_state_size(m), 6);
    for (int i = 0; i < 6; i++) {
        char name[TG_MODULE_NAME_MAX];
        ck_assert_ptr_nonnull(tg_module_state(m, i, name, NULL));
        ck_assert_str_eq(name, keys[i]);
    }
    ck_assert_str_eq(tg_module_child(m, "2")->ops->name, "residual");
    tg_graph *g = tg_graph_new();
    tg_tensor *x = tg_randn(g, &rng, TG_SHAPE(3, 1, 2, 3));
    tg_tensor *y = tg_module_forward(m, g, x);
    /* by hand: h = x W1^T + b1; u = tanh(h W2^T + b2); y = h + (u + (u W3^T + b3)) */
    tg_tensor *h = tg_linear(g, tg_flatten(g, x, 1), tg_module_param(m, "1.weight"), tg_module_param(m, "1.bias"));
    tg_tensor *u = tg_tanh(g, tg_linear(g, h, tg_module_param(m, "2.0.weight"), tg_module_param(m, "2.0.bias")));
    tg_tensor *v = tg_add(g, u, tg_linear(g, u, tg_module_param(m, "2.2.0.weight"), tg_module_param(m, "2.2.0.bias")));
    tg_tensor *want = tg_add(g, h, v);
    ck_assert_shape(y, 3, 4);
    ck_assert_mem_eq(y->data, want->data, 12 * sizeof(float));
    tg_graph_free(g);
    tg_module_free(m);
}
END_TEST

START_TEST(test_models_batch_norm_layer_norm_embedding_modules)
{
    tg_graph *g = tg_graph_new();
    tg_rng rng;
    tg_rng_seed(&rng, 8);
    /* BatchNorm1d(2): state weight, bias, running_mean, running_var,
     * num_batches_tracked (I64); two training batches, then evaluation */
    tg_module *bn = tg_batch_norm1d_new(2, 1e-5f, 0.1f, true, true);
    const char *keys[] = {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"};
    ck_assert_int_eq(tg_module_state_size(bn), 5);
    for (int i = 0; i < 5; i++) {
        char name[TG_MODULE_NAME_MAX];
        bool buffer;
        ck_assert_ptr_nonnull(tg_module_state(bn, i, name, &buffer));
        ck_assert_str_eq(name, keys[i]);
        ck_assert(buffer == (i >= 2));
    }
    const float a[6] = {1, 10, 2, 20, 6, 60}, b[6] = {0, 0, 4, 4, 8, -4};
    tg_module_forward(bn, g, tg_from_data(g, a, TG_SHAPE(3, 2)));
    tg_tensor *y = tg_module_forward(bn, g, tg_from_data(g, b, TG_SHAPE(3, 2)));
    ck_assert_ptr_nonnull(y);
    /* running = 0.9 running + 0.1 batch, the variance unbiased (n - 1 = 2):
     * batch a: means 3, 30, variances 7, 700; batch b: means 4, 0, variances 16, 16 */
    tg_tensor *rm = tg_module_param(bn, "running_mean"), *rv = tg_module_param(bn, "running_var");
    ck_assert_float_eq_tol(rm->data[0], 0.9f * 0.3f + 0.4f, 1e-5f);
    ck_assert_float_eq_tol(rm->data[1], 0.9f * 3.0f + 0.0f, 1e-5f);
    ck_assert_float_eq_tol(rv->data[0], 0.9f * (0.9f + 0.7f) + 1.6f, 1e-5f);
    ck_assert_float_eq_tol(rv->data[1], 0.9f * (0.9f + 70.0f) + 1.6f, 1e-4f);
    ck_assert_float_eq(tg_module_param(bn, "num_batches_tracked")->data[0], 2.0f);
    /* training output: the batch's mean and biased variance (32/3) */
    ck_assert_float_eq_tol(y->data[0], (0 - 4) / sqrtf(32.0f / 3 + 1e-5f), 1e-5f);
    /* evaluation: the running statistics, and no count */
    tg_module_train(bn, false);
    y = tg_module_forward(bn, g, tg_from_data(g, b, TG_SHAPE(3, 2)));
    ck_assert_float_eq_tol(y->data[2], (4 - rm->data[0]) / sqrtf(rv->data[0] + 1e-5f), 1e-5f);
    ck_assert_float_eq(tg_module_param(bn, "num_batches_tracked")->data[0], 2.0f);
    tg_module_free(bn);
    /* momentum None: the cumulative average of the batches' statistics */
    bn = tg_batch_norm1d_new(2, 1e-5f, NAN, true, true);
    tg_module_forward(bn, g, tg_from_data(g, a, TG_SHAPE(3, 2)));
    tg_module_forward(bn, g, tg_from_data(g, b, TG_SHAPE(3, 2)));
    ck_assert_float_eq_tol(tg_module_param(bn, "running_mean")->data[0], 3.5f, 1e-6f);
    ck_assert_float_eq_tol(tg_module_param(bn, "running_var")->data[1], (700.0f + 16.0f) / 2, 1e-3f);
    tg_module_free(bn);
    /* without running statistics or affine: no state, batch statistics in evaluation too */
    bn = tg_batch_norm1d_new(2, 1e-5f, 0.1f, false, false);
    ck_assert_int_eq(tg_module_state_size(bn), 0);
    tg_module_train(bn, false);
    y = tg_module_forward(bn, g, tg_from_data(g, b, TG_SHAPE(3, 2)));
    ck_assert_float_eq_tol(y->data[0], (0 - 4) / sqrtf(32.0f / 3 + 1e-5f), 1e-5f);
    tg_module_free(bn);
    ck_assert_ptr_null(tg_batch_norm1d_new(0, 1e-5f, 0.1f, true, true));
    ck_assert_ptr_null(tg_batch_norm1d_new(2, 1e-5f, 1.5f, true, true));
    /* LayerNorm(3): weight ones, bias zeros; y is tg_layer_norm's */
    int d3 = 3;
    tg_module *ln = tg_layer_norm_new(1, &d3, 1e-5f, true);
    ck_assert_int_eq(tg_module_state_size(ln), 2);
    ck_assert_float_eq(tg_module_param(ln, "weight")->data[2], 1.0f);
    tg_tensor *x = tg_from_data(g, a, TG_SHAPE(2, 3));
    y = tg_module_forward(ln, g, x);
    tg_tensor *want = tg_layer_norm(g, x, 1, NULL, NULL, 1e-5f);
    ck_assert_mem_eq(y->data, want->data, 6 * sizeof(float));
    tg_module_free(ln);
    ck_assert_ptr_nonnull(ln = tg_layer_norm_new(1, &d3, 1e-5f, false));
    ck_assert_int_eq(tg_module_state_size(ln), 0);
    tg_module_free(ln);
    /* Embedding(5, 3, padding_idx=-1): the last row zero, never trained */
    tg_module *emb = tg_embedding_new(5, 3, -1, &rng);
    tg_tensor *w = tg_module_param(emb, "weight");
    ck_assert(w->shape[0] == 5 && w->shape[1] == 3);
    for (int j = 0; j < 3; j++) ck_assert_float_eq(w->data[12 + j], 0.0f);
    tg_tensor *idx = tg_from_data(g, (const float[]){4, 1, 4, 0}, TG_SHAPE(2, 2));
    y = tg_module_forward(emb, g, idx);
    ck_assert_shape(y, 2, 2, 3);
    ck_assert_mem_eq(y->data + 3, w->data + 3, 3 * sizeof(float));
    tg_tensor_zero_grad(w);
    ck_assert_int_eq(tg_backward(tg_sum(g, y)), TG_OK);
    ck_assert_float_eq(w->grad[12], 0.0f);   /* padding */
    ck_assert_float_eq(w->grad[3], 1.0f);    /* row 1, once */
    ck_assert_float_eq(w->grad[0], 1.0f);
    ck_assert_float_eq(w->grad[6], 0.0f);    /* row 2, never */
    tg_module_free(emb);
    ck_assert_ptr_null(tg_embedding_new(5, 3, 5, &rng));
    ck_assert_error_has("padding_idx within num_embeddings");
    tg_graph_free(g);
}
END_TEST

START_TEST(test_models_cnn_loads_pytorch_weights_and_gives_its_logits)
{
    /* every 2-D layer: Conv2d (padding 1 and 'same', with and without
     * bias), BatchNorm2d with torch's running statistics, MaxPool2d,
     * AvgPool2d(ceil_mode), Dropout2d, AdaptiveAvgPool2d; torch's state
     * loads strictly and the logits in evaluation mode are torch's */
    tg_rng rng;
    tg_rng_seed(&rng, 1);
    tg_module *m = tg_model_parse(TORCH_CNN_SPEC, (tg_sample_shape){1, 10, 10}, &rng);
    ck_assert_msg(m != NULL, "%s", tg_last_error());
    const char *keys[] = {"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                          "1.num_batches_tracked", "4.weight", "9.weight", "9.bias"};
    ck_assert_int_eq(tg_module_state_size(m), 10);
    for (int i = 0; i < 10; i++) {
        char name[TG_MODULE_NAME_MAX];
        ck_assert_ptr_nonnull(tg_module_state(m, i, name, NULL));
        ck_assert_str_eq(name, keys[i]);
    }
    ck_assert_int_eq(tg_module_param(m, "4.weight")->ndim, 4);
    ck_assert_int_eq(tg_module_load(m, "tests/fixtures/safetensors/torch_cnn.safetensors"), TG_OK);
    tg_module_train(m, false);
    tg_graph *g = tg_graph_new();
    tg_tensor *y = tg_module_forward(m, g, tg_from_data(g, torch_cnn_x, TG_SHAPE(2, 1, 10, 10)));
    ck_assert_msg(y != NULL, "%s", tg_last_error());
    ck_assert_shape(y, 2, 3);
    for (int i = 0; i < 6; i++) ck_assert_float_eq_tol(y->data[i], torch_cnn_y[i], 1e-5f);
    tg_graph_free(g);
    tg_module_free(m);
    /* the presets, and 2-D layers where no image comes */
    tg_model_spec s;
    ck_assert_int_eq(tg_model_spec_init(&s, "cnn-bn"), TG_OK);
    m = tg_model_new(&s, (tg_sample_shape){1, 28, 28}, 10, &rng);
    ck_assert_msg(m != NULL, "%s", tg_last_error());
    ck_assert_int_eq(tg_module_param(m, "9.weight")->shape[1], 64 * 7 * 7); /* linear(128) after two pools */
    ck_assert_str_eq(tg_module_child(m, "1")->ops->name, "batchnorm2d");
    tg_module_free(m);
    ck_assert_ptr_null(tg_model_parse("flatten conv2d(4,3)", (tg_sample_shape){1, 8, 8}, &rng));
    ck_assert_error_has("word 2, 'conv2d': conv2d takes images (N, C, H, W)");
    ck_assert_ptr_null(tg_model_parse("conv2d(4,9)", (tg_sample_shape){1, 8, 8}, &rng));
    ck_assert_error_has("word 1, 'conv2d': tg_conv2d");
    ck_assert_ptr_null(tg_model_parse("conv2d(4,3,stride=2,padding=same)", (tg_sample_shape){1, 8, 8}, &rng));
    ck_assert_error_has("word 1, 'conv2d': tg_conv2d");
    ck_assert_ptr_null(tg_model_parse("conv2d(4,3,groups=3)", (tg_sample_shape){1, 8, 8}, &rng));
    ck_assert_error_has("groups must divide in_channels");
}
END_TEST

START_TEST(test_models_sequential_fuses_a_layer_and_its_relu)
{
    /* a Conv2d (a Linear) and the ReLU right after it run as one
     * conv2d_relu (linear_relu) op; not across another layer, nor when the
     * graph checks numerics; the state
     * is the Sequential's either way, and the logits are those of the two
     * ops one after the other */
    tg_rng rng;
    tg_rng_seed(&rng, 4);
    static const struct {
        const char *spec, *last_op;
    } seqs[] = {{"conv2d(3,3,padding=1) relu", "conv2d_relu"},
                {"flatten linear(8) relu", "linear_relu"},
                {"conv2d(3,3,padding=1) batchnorm2d relu", "relu"},
                {"conv2d(3,3,padding=1)", "conv2d"},
                {"residual(conv2d(1,3,padding=1) relu)", "add"}};
    float x[2 * 6 * 6];
    for (int i = 0; i < 2 * 6 * 6; i++) x[i] = (float)((i * 7) % 11) - 5.0f;
    for (size_t k = 0; k < sizeof seqs / sizeof seqs[0]; k++) {
        tg_module *m = tg_model_parse(seqs[k].spec, (tg_sample_shape){1, 6, 6}, &rng);
        ck_assert_msg(m != NULL, "%s", tg_last_error());
        tg_graph *g = tg_graph_new();
        tg_tensor *y = tg_module_forward(m, g, tg_from_data(g, x, TG_SHAPE(2, 1, 6, 6)));
        ck_assert_msg(y != NULL, "%s", tg_last_error());
        ck_assert_str_eq(tg_tensor_op_name(y), seqs[k].last_op);
        if (k == 4) ck_assert_str_eq(tg_tensor_op_name(y->src[1]), "conv2d_relu"); /* inside the block too */
        if (k == 1) { /* by hand: the two ops */
            tg_tensor *in = tg_flatten(g, tg_from_data(g, x, TG_SHAPE(2, 1, 6, 6)), 1);
            tg_tensor *h = tg_relu(g, tg_linear(g, in, tg_module_param(m, "1.weight"), tg_module_param(m, "1.bias")));
            ck_assert_int_eq(memcmp(h->data, y->data, y->size * sizeof(float)), 0);
        }
        if (k == 0) { /* by hand: the two ops */
            char name[TG_MODULE_NAME_MAX];
            ck_assert_int_eq(tg_module_state_size(m), 2);
            ck_assert_str_eq((tg_module_state(m, 0, name, NULL), name), "0.weight");
            tg_tensor *in = tg_from_data(g, x, TG_SHAPE(2, 1, 6, 6));
            tg_tensor *h = tg_relu(g, tg_conv2d(g, in, tg_module_param(m, "0.weight"), tg_module_param(m, "0.bias"),
                                                &(tg_conv2d_opts){.padding = {1, 1}}));
            ck_assert_int_eq(memcmp(h->data, y->data, y->size * sizeof(float)), 0);
        }
        tg_graph_free(g);
        g = tg_graph_new();
        tg_graph_set_check_numerics(g, true);
        y = tg_module_forward(m, g, tg_from_data(g, x, TG_SHAPE(2, 1, 6, 6)));
        ck_assert_str_eq(tg_tensor_op_name(y), k <= 1 ? "relu" : seqs[k].last_op);
        tg_graph_free(g);
        tg_module_free(m);
    }
}
END_TEST

START_TEST(test_models_select_count_zero_and_clip_parameters)
{
    tg_rng rng;
    tg_rng_seed(&rng, 3);
    tg_module *net = tg_model_parse("flatten linear(4) tanh linear(3)", (tg_sample_shape){1, 2, 3}, &rng);
    ck_assert_ptr_nonnull(net);
    tg_tensor *all[4], *bias[4], *rest[4], *typed[4];
    ck_assert_int_eq(tg_module_parameters(net, all, 4), 4);
    ck_assert_int_eq(tg_module_select(net, "*bias", true, bias, 4), 2);
    ck_assert(bias[0] == all[1] && bias[1] == all[3]);
    ck_assert_int_eq(tg_module_select(net, "*bias", false, rest, 4), 2);
    ck_assert(rest[0] == all[0] && rest[1] == all[2]);
    /* by the holder's kind, and several globs at once */
    ck_assert_int_eq(tg_module_select(net, "linear:weight", true, typed, 4), 2);
    ck_assert(typed[0] == all[0] && typed[1] == all[2]);
    ck_assert_int_eq(tg_module_select(net, "3.* linear:bias", true, typed, 4), 3);
    ck_assert(typed[0] == all[1] && typed[1] == all[2] && typed[2] == all[3]);
    ck_assert_int_eq(tg_module_select(net, "tanh:*", true, NULL, 0), 0);
    ck_assert_uint_eq(tg_module_count(net), 4 * 6 + 4 + 3 * 4 + 3);
    /* zero_grad and clip over the module: the same as over the list */
    for (int k = 0; k < 4; k++) {
        tg_tensor_zero_grad(all[k]);
        for (size_t i = 0; i < all[k]->size; i++) all[k]->grad[i] = (float)(k + 1);
    }
    double norm = tg_module_clip_grad_norm(net, 1.0);
    ck_assert_double_eq_tol(norm, sqrt(24 * 1 + 4 * 4 + 12 * 9 + 3 * 16), 1e-9);
    double after = 0;
    for (int k = 0; k < 4; k++)
        for (size_t i = 0; i < all[k]->size; i++) after += (double)all[k]->grad[i] * all[k]->grad[i];
    ck_assert_double_eq_tol(sqrt(after), 1.0, 1e-5);
    tg_module_zero_grad(net);
    for (int k = 0; k < 4; k++)
        for (size_t i = 0; i < all[k]->size; i++) ck_assert_float_eq(all[k]->grad[i], 0.0f);
    tg_module_free(net);
}
END_TEST

static Suite *models_suite(void)
{
    Suite *s = suite_create("models");
    TCase *tc = tcase_create("mlp");
    /* training with every kernel and the reference product takes ~5 s
     * alone, past check's default of 4 s when the host is busy */
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_models_mlp_layers_and_init);
    tcase_add_test(tc, test_models_mlp_forward_shapes);
    tcase_add_test(tc, test_models_mlp_rejects_bad_shapes);
    tcase_add_test(tc, test_models_mlp_learns_moons);
    tcase_add_test(tc, test_models_training_matches_the_reference_product);
    suite_add_tcase(s, tc);
    tc = tcase_create("modules");
    tcase_add_test(tc, test_models_module_params_buffers_and_mode);
    tcase_add_test(tc, test_models_spec_holds_canonical_text);
    tcase_add_test(tc, test_models_model_new_builds_the_mlp_as_a_module);
    tcase_add_test(tc, test_models_mlp_module_training_mode_draws_dropout);
    suite_add_tcase(s, tc);
    tc = tcase_create("layers");
    tcase_add_unchecked_fixture(tc, make_root, remove_root);
    tcase_add_checked_fixture(tc, make_dir, remove_dir);
    tcase_add_test(tc, test_models_sequential_names_state_as_torch);
    tcase_add_test(tc, test_models_state_dict_round_trip_and_strict_load);
    tcase_add_test(tc, test_models_loads_pytorch_weights_and_gives_its_logits);
    tcase_add_test(tc, test_models_spec_string_builds_torch_sequential);
    tcase_add_test(tc, test_models_select_count_zero_and_clip_parameters);
    tcase_add_test(tc, test_models_residual_block_adds_its_input);
    tcase_add_test(tc, test_models_batch_norm_layer_norm_embedding_modules);
    tcase_add_test(tc, test_models_cnn_loads_pytorch_weights_and_gives_its_logits);
    tcase_add_test(tc, test_models_sequential_fuses_a_layer_and_its_relu);
    suite_add_tcase(s, tc);
    tc = tcase_create("datasets");
    tcase_add_test(tc, test_models_moons_shape_and_balance);
    tcase_add_test(tc, test_models_moons_deterministic);
    suite_add_tcase(s, tc);
    return s;
}

TG_TEST_MAIN(models_suite)
