/* penalty.c — L1, L2 and elastic-net penalties over a list of parameters,
 * built from ops so that backward needs nothing new:
 *   l1 sum_p sum_i |p_i| + l2 sum_p sum_i p_i^2                              */
#include "../graph/graph.h"

static tg_tensor *accumulate(tg_graph *g, tg_tensor *total, tg_tensor *term)
{
    return total ? tg_add(g, total, term) : term;
}

static tg_tensor *penalty(const char *fn, tg_graph *g, tg_tensor *const *params, int n, float l1, float l2)
{
    if (n < 0 || (n > 0 && !params)) {
        tg__error("%s: %d parameters%s", fn, n, params ? "" : " in a NULL list");
        return NULL;
    }
    if (!(l1 >= 0.0f && l2 >= 0.0f)) {
        tg__error("%s: strengths %g, %g: must be >= 0", fn, l1, l2);
        return NULL;
    }
    tg_tensor *total = NULL;
    for (int k = 0; k < n; k++) {
        if (!TG__INPUTS_OK(fn, g, params[k])) return NULL;
        if (l1 != 0.0f) total = accumulate(g, total, tg_mul_scalar(g, tg_sum(g, tg_abs(g, params[k])), l1));
        if (l2 != 0.0f) total = accumulate(g, total, tg_mul_scalar(g, tg_sum(g, tg_square(g, params[k])), l2));
        if (!total && (l1 != 0.0f || l2 != 0.0f)) return NULL; /* an op failed: its message stands */
    }
    return total ? total : tg_zeros(g, 0, NULL);
}

tg_tensor *tg_l1_penalty(tg_graph *g, tg_tensor *const *params, int n, float lambda)
{
    return penalty("tg_l1_penalty", g, params, n, lambda, 0.0f);
}

tg_tensor *tg_l2_penalty(tg_graph *g, tg_tensor *const *params, int n, float lambda)
{
    return penalty("tg_l2_penalty", g, params, n, 0.0f, lambda);
}

tg_tensor *tg_elastic_net_penalty(tg_graph *g, tg_tensor *const *params, int n, float l1, float l2)
{
    return penalty("tg_elastic_net_penalty", g, params, n, l1, l2);
}
