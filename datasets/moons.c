/* moons.c — scikit-learn's make_moons: two interleaving half circles, a
 * classic small problem a linear model cannot solve and an MLP can. */
#include <math.h>

#include <tg.h>

tg_status tg_make_moons(int n, float noise, tg_rng *rng, float *x, int *labels)
{
    if (n < 2 || !rng || !x || !labels || !(noise >= 0.0f)) {
        tg_set_error("tg_make_moons: %d samples, noise %g: needs n >= 2, noise >= 0 and non-NULL buffers", n, noise);
        return TG_ERR_ARG;
    }
    int n_out = n / 2, n_in = n - n_out;
    for (int i = 0; i < n; i++) {
        bool outer = i < n_out;
        int k = outer ? i : i - n_out, count = outer ? n_out : n_in;
        double t = count > 1 ? 3.14159265358979324 * k / (count - 1) : 0.0;
        x[2 * i] = (float)(outer ? cos(t) : 1.0 - cos(t)) + noise * tg_rng_normal(rng);
        x[2 * i + 1] = (float)(outer ? sin(t) : 0.5 - sin(t)) + noise * tg_rng_normal(rng);
        labels[i] = outer ? 0 : 1;
    }
    /* Fisher-Yates, so that mini-batches mix both moons. */
    for (int i = n - 1; i > 0; i--) {
        int j = (int)tg_rng_below(rng, (uint32_t)i + 1);
        float x0 = x[2 * i], x1 = x[2 * i + 1];
        int l = labels[i];
        x[2 * i] = x[2 * j], x[2 * i + 1] = x[2 * j + 1], labels[i] = labels[j];
        x[2 * j] = x0, x[2 * j + 1] = x1, labels[j] = l;
    }
    return TG_OK;
}
