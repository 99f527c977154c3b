/* gradcheck.c — tg_gradcheck: analytic gradients against central finite
 * differences, in double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph_own.h"

/* ---- gradient checking ---- */

/* L = sum_i w_i y_i in double, on a fresh pass with recording off. */
static tg_status projected_loss(tg_graph *g, tg_gradcheck_fn f, void *ctx, tg_tensor *const *inputs,
                                const float *w, size_t n_out, double *loss)
{
    tg_graph_reset(g);
    bool was = tg_graph_set_grad(g, false);
    tg_tensor *y = f(g, inputs, ctx);
    tg_graph_set_grad(g, was);
    if (!y || y->size != n_out) return TG_ERR_ARG;
    double sum = 0.0;
    for (size_t i = 0; i < n_out; i++) sum += (double)w[i] * y->data[i];
    *loss = sum;
    return TG_OK;
}

/* Compares one element's analytic gradient with the central difference. */
static tg_status check_element(tg_graph *g, tg_gradcheck_fn f, void *ctx, tg_tensor *const *inputs,
                               const float *w, size_t n_out, tg_tensor *x, size_t i,
                               const tg_gradcheck_opts *o, tg_gradcheck_result *res)
{
    float orig = x->data[i];
    float h = o->eps * fmaxf(1.0f, fabsf(orig));
    float up = orig + h, down = orig - h;
    double l_up, l_down;
    x->data[i] = up;
    tg_status s = projected_loss(g, f, ctx, inputs, w, n_out, &l_up);
    x->data[i] = down;
    if (s == TG_OK) s = projected_loss(g, f, ctx, inputs, w, n_out, &l_down);
    x->data[i] = orig;
    if (s != TG_OK) return s;
    /* Divide by the step actually taken, after rounding to float. */
    double numeric = (l_up - l_down) / ((double)up - (double)down);
    double analytic = x->grad[i];
    double err = fabs(analytic - numeric);
    double rel = err / fmax(fabs(numeric), o->atol);
    if (!(err <= o->atol + o->rtol * fabs(numeric))) res->ok = false;
    if (err > res->max_abs_err || isnan(err)) res->max_abs_err = err;
    if (rel > res->max_rel_err || isnan(rel)) res->max_rel_err = rel;
    res->n_checked++;
    return TG_OK;
}

tg_status tg_gradcheck(tg_gradcheck_fn f, void *ctx, tg_tensor *const *inputs, int n_inputs,
                       const tg_gradcheck_opts *opts, tg_gradcheck_result *res)
{
    tg_gradcheck_opts o = {.eps = 1e-3f, .atol = 1e-3, .rtol = 1e-2, .seed = 0};
    if (opts) o = *opts;
    if (!f || !res || n_inputs < 0 || (n_inputs > 0 && !inputs)) {
        tg__error("tg_gradcheck: function, inputs or result is NULL");
        return TG_ERR_ARG;
    }
    for (int k = 0; k < n_inputs; k++) {
        if (!inputs[k] || inputs[k]->graph) {
            tg__error("tg_gradcheck: input %d is %s", k + 1,
                      inputs[k] ? "owned by a graph (inputs must be standalone)" : "NULL");
            return TG_ERR_ARG;
        }
        if (inputs[k]->requires_grad && tg_tensor_requires_grad(inputs[k], true) != TG_OK)
            return TG_ERR_NOMEM;
        tg_tensor_zero_grad(inputs[k]);
    }
    *res = (tg_gradcheck_result){.ok = true};
    tg_graph *g = tg_graph_new();
    if (!g) return TG_ERR_NOMEM;
    float *w = NULL;
    tg_status s = TG_ERR_ARG;
    tg_tensor *y = f(g, inputs, ctx);
    if (!y) goto done;
    s = TG_ERR_NOMEM;
    if (!(w = malloc(y->size * sizeof *w))) goto done;
    tg_rng rng;
    tg_rng_seed(&rng, o.seed);
    for (size_t i = 0; i < y->size; i++) w[i] = 0.5f + tg_rng_uniform(&rng);
    size_t n_out = y->size;
    if ((s = tg_backward_grad(y, w)) != TG_OK) goto done;
    for (int k = 0; k < n_inputs && s == TG_OK; k++) {
        if (!inputs[k]->requires_grad) continue;
        for (size_t i = 0; i < inputs[k]->size && s == TG_OK; i++)
            s = check_element(g, f, ctx, inputs, w, n_out, inputs[k], i, &o, res);
    }
    if (s != TG_OK && !tg_last_error()[0]) tg__error("tg_gradcheck: the function failed");
done:
    if (s == TG_ERR_NOMEM && !tg_last_error()[0]) tg__error("tg_gradcheck: out of memory");
    if (s != TG_OK) res->ok = false;
    free(w);
    tg_graph_free(g);
    return s;
}
