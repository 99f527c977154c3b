/* table.c — every op's name and backward, indexed by TG_OP_*. Adding an op
 * to the enum stops the build here until it has an entry; the tests then
 * demand a gradient check for it (tests/check_ops.c walks this table). */
#include <assert.h>

#include "../tg_internal.h"

static_assert(TG_OP_COUNT == 40, "a TG_OP_ was added or removed: update tg__ops below, "
                                 "tg__unary_kernels if unary, and the gradcheck suite");

const tg__op_info tg__ops[TG_OP_COUNT] = {
    [TG_OP_LEAF] = {"leaf", NULL},
    [TG_OP_VIEW] = {"view", tg__view_backward},
    [TG_OP_ADD] = {"add", tg__binary_backward},
    [TG_OP_SUB] = {"sub", tg__binary_backward},
    [TG_OP_MUL] = {"mul", tg__binary_backward},
    [TG_OP_DIV] = {"div", tg__binary_backward},
    [TG_OP_NEG] = {"neg", tg__unary_backward},
    [TG_OP_ADD_SCALAR] = {"add_scalar", tg__unary_backward},
    [TG_OP_MUL_SCALAR] = {"mul_scalar", tg__unary_backward},
    [TG_OP_POW] = {"pow", tg__unary_backward},
    [TG_OP_EXP] = {"exp", tg__unary_backward},
    [TG_OP_LOG] = {"log", tg__unary_backward},
    [TG_OP_SQRT] = {"sqrt", tg__unary_backward},
    [TG_OP_ABS] = {"abs", tg__unary_backward},
    [TG_OP_SQUARE] = {"square", tg__unary_backward},
    [TG_OP_CLAMP] = {"clamp", tg__unary_backward},
    [TG_OP_RELU] = {"relu", tg__unary_backward},
    [TG_OP_LEAKY_RELU] = {"leaky_relu", tg__unary_backward},
    [TG_OP_SIGMOID] = {"sigmoid", tg__unary_backward},
    [TG_OP_TANH] = {"tanh", tg__unary_backward},
    [TG_OP_GELU] = {"gelu", tg__unary_backward},
    [TG_OP_SOFTPLUS] = {"softplus", tg__unary_backward},
    [TG_OP_HUBER] = {"huber", tg__unary_backward},
    [TG_OP_MATMUL] = {"matmul", tg__matmul_backward},
    [TG_OP_TRANSPOSE] = {"transpose", tg__transpose_backward},
    [TG_OP_LINEAR] = {"linear", tg__linear_backward},
    [TG_OP_SUM] = {"sum", tg__sum_backward},
    [TG_OP_MEAN] = {"mean", tg__sum_backward},
    [TG_OP_SUM_AXIS] = {"sum_axis", tg__sum_axis_backward},
    [TG_OP_MEAN_AXIS] = {"mean_axis", tg__sum_axis_backward},
    [TG_OP_MAX_AXIS] = {"max_axis", tg__max_axis_backward},
    [TG_OP_SOFTMAX] = {"softmax", tg__softmax_backward},
    [TG_OP_LOG_SOFTMAX] = {"log_softmax", tg__softmax_backward},
    [TG_OP_DROPOUT] = {"dropout", tg__dropout_backward},
    [TG_OP_NLL] = {"nll_loss", tg__nll_backward},
    [TG_OP_CROSS_ENTROPY] = {"cross_entropy", tg__cross_entropy_backward},
    [TG_OP_BCE] = {"binary_cross_entropy", tg__bce_backward},
    [TG_OP_BCE_LOGITS] = {"bce_with_logits", tg__bce_logits_backward},
    [TG_OP_KL_DIV] = {"kl_div", tg__kl_div_backward},
    [TG_OP_MULTI_MARGIN] = {"multi_margin_loss", tg__multi_margin_backward},
};

const char *tg_op_name(tg_op op)
{
    return op >= 0 && op < TG_OP_COUNT ? tg__ops[op].name : "unknown";
}
