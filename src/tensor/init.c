/* init.c — torch.nn.init's initialisers, drawing from an explicit tg_rng.
 * Formulas: https://pytorch.org/docs/stable/nn.init.html */
#include <math.h>

#include "tensor.h"

static bool init_ok(const char *fn, const tg_tensor *t, tg_rng *rng, int min_dims)
{
    if (!t || !rng) {
        tg__error("%s: %s is NULL", fn, t ? "rng" : "tensor");
        return false;
    }
    if (t->ndim < min_dims) {
        char s[64];
        tg__error("%s: tensor %s: fan in and fan out need at least %d dimensions", fn, tg_shape_str(t, s), min_dims);
        return false;
    }
    return true;
}

tg_status tg_init_uniform(tg_tensor *t, float lo, float hi, tg_rng *rng)
{
    if (!init_ok("tg_init_uniform", t, rng, 0)) return TG_ERR_ARG;
    /* lo + (hi - lo) u can round up to hi when |lo| >> hi - lo; the largest
     * float below hi keeps the interval half-open as documented. */
    float below_hi = lo < hi ? nextafterf(hi, lo) : lo;
    for (size_t i = 0; i < t->size; i++) {
        float v = (float)(lo + ((double)hi - lo) * tg_rng_uniform(rng));
        t->data[i] = v < hi ? v : below_hi;
    }
    return TG_OK;
}

tg_status tg_init_normal(tg_tensor *t, float mean, float std, tg_rng *rng)
{
    if (!init_ok("tg_init_normal", t, rng, 0)) return TG_ERR_ARG;
    for (size_t i = 0; i < t->size; i++) t->data[i] = mean + std * tg_rng_normal(rng);
    return TG_OK;
}

/* fan_in: inputs per output unit; fan_out: outputs (torch's
 * _calculate_fan_in_and_fan_out for a 2-D weight (out, in)). */
static double fan_in(const tg_tensor *t) { return (double)t->size / t->shape[0]; }
static double fan_out(const tg_tensor *t) { return (double)t->shape[0] * (t->ndim > 2 ? t->size / t->shape[0] / t->shape[1] : 1); }

tg_status tg_init_kaiming_uniform(tg_tensor *t, float a, tg_rng *rng)
{
    if (!init_ok("tg_init_kaiming_uniform", t, rng, 2)) return TG_ERR_ARG;
    float bound = (float)sqrt(6.0 / ((1.0 + (double)a * a) * fan_in(t)));
    return tg_init_uniform(t, -bound, bound, rng);
}

tg_status tg_init_xavier_uniform(tg_tensor *t, float gain, tg_rng *rng)
{
    if (!init_ok("tg_init_xavier_uniform", t, rng, 2)) return TG_ERR_ARG;
    float bound = gain * (float)sqrt(6.0 / (fan_in(t) + fan_out(t)));
    return tg_init_uniform(t, -bound, bound, rng);
}

/* nn.Linear.reset_parameters: kaiming_uniform_(W, a=sqrt(5)), whose bound
 * works out to 1/sqrt(in), and the bias uniform in the same bound. */
tg_status tg_init_linear(tg_tensor *W, tg_tensor *b, tg_rng *rng)
{
    tg_status s = tg_init_kaiming_uniform(W, sqrtf(5.0f), rng);
    if (s != TG_OK || !b) return s;
    float bound = 1.0f / sqrtf((float)fan_in(W));
    return tg_init_uniform(b, -bound, bound, rng);
}
