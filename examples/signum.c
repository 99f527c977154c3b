/* signum.c — your own optimizer, plugged into tg: Signum (Bernstein et al.,
 * "signSGD: Compressed Optimisation for Non-Convex Problems", 2018),
 *   m = beta m + (1 - beta) g,   p -= lr (sign(m) + weight_decay p).
 * It fills a tg_optim_ops with its step, saving and freeing, and keeps its
 * state (one momentum buffer per parameter) in o->state. Schedulers,
 * clipping, tg_optim_save/load and zero_grad then work with it unchanged.
 *
 *   build/examples/signum        trains an MLP on two moons with it          */
#include <stdio.h>
#include <stdlib.h>

#include <tg.h>

typedef struct signum_state {
    int n;          /* parameters */
    float **m;      /* [n] momentum buffers, made at the first step */
} signum_state;

/* Parameters in group order: the i-th one, and how many there are. */
static int count_params(const tg_optim *o)
{
    int n = 0;
    for (int g = 0; g < o->n_groups; g++) n += o->groups[g].n_params;
    return n;
}

static void signum_state_free(signum_state *st)
{
    if (!st) return;
    for (int i = 0; i < st->n; i++) free(st->m[i]);
    free(st->m);
    free(st);
}

/* Zeroed buffers for every parameter of o, or NULL. */
static signum_state *signum_state_new(const tg_optim *o)
{
    signum_state *st = calloc(1, sizeof *st);
    if (st) st->n = count_params(o);
    if (!st || !(st->m = calloc((size_t)st->n, sizeof *st->m))) {
        free(st);
        return NULL;
    }
    for (int i = 0, g = 0; g < o->n_groups; g++)
        for (int k = 0; k < o->groups[g].n_params; k++, i++)
            if (!(st->m[i] = calloc(o->groups[g].params[k]->size, sizeof(float)))) {
                signum_state_free(st);
                return NULL;
            }
    return st;
}

static tg_status signum_step(tg_optim *o)
{
    signum_state *st = o->state ? o->state : (o->state = signum_state_new(o));
    if (!st) {
        tg_set_error("signum: out of memory");
        return TG_ERR_NOMEM;
    }
    for (int i = 0, g = 0; g < o->n_groups; g++) {
        const tg_optim_opts *opt = &o->groups[g].opts;
        float beta = (float)opt->momentum, lr = (float)opt->lr, wd = (float)opt->weight_decay;
        for (int k = 0; k < o->groups[g].n_params; k++, i++) {
            tg_tensor *p = o->groups[g].params[k];
            if (!p->grad) continue;
            for (size_t j = 0; j < p->size; j++) {
                float m = st->m[i][j] = beta * st->m[i][j] + (1.0f - beta) * p->grad[j];
                float sign = (float)((m > 0.0f) - (m < 0.0f));
                p->data[j] -= lr * (sign + wd * p->data[j]);
            }
        }
    }
    return TG_OK;
}

/* The buffers, in parameter order; tg_optim_save has already written the
 * groups' options and sizes and checks them on loading. */
static tg_status signum_save(const tg_optim *o, tg_buf *out)
{
    const signum_state *st = o->state;
    tg_status s = tg_buf_put_u64(out, st != NULL);
    for (int i = 0, g = 0; st && g < o->n_groups && s == TG_OK; g++)
        for (int k = 0; k < o->groups[g].n_params && s == TG_OK; k++, i++)
            s = tg_buf_put_floats(out, st->m[i], o->groups[g].params[k]->size);
    return s;
}

/* Loads into a fresh state first, so a failure changes nothing. */
static tg_status signum_load(tg_optim *o, tg_buf *in)
{
    uint64_t present;
    tg_status s = tg_buf_get_u64(in, &present);
    if (s != TG_OK || !present) return s;
    signum_state *st = signum_state_new(o);
    if (!st) return TG_ERR_NOMEM;
    for (int i = 0, g = 0; g < o->n_groups && s == TG_OK; g++)
        for (int k = 0; k < o->groups[g].n_params && s == TG_OK; k++, i++)
            s = tg_buf_get_floats(in, st->m[i], o->groups[g].params[k]->size);
    if (s != TG_OK) {
        signum_state_free(st);
        return s;
    }
    signum_state_free(o->state);
    o->state = st;
    return TG_OK;
}

static void signum_free(tg_optim *o) { signum_state_free(o->state); }

static const tg_optim_ops signum_ops = {
    .name = "signum", .step = signum_step, .save = signum_save, .load = signum_load, .free = signum_free};

/* A Signum optimizer over params; opts' lr, momentum (beta) and weight_decay
 * are used. */
static tg_optim *signum_new(tg_tensor *const *params, int n, double lr, double beta)
{
    tg_optim_opts opts = tg_optim_defaults(TG_OPTIM_SGD);
    opts.lr = lr;
    opts.momentum = beta;
    return tg_optim_new_custom(&signum_ops, params, n, &opts, NULL);
}

#ifndef SIGNUM_NO_MAIN
int main(void)
{
    enum { N = 200 };
    float x[2 * N];
    int y[N];
    tg_rng rng;
    tg_rng_seed(&rng, 1);
    tg_make_moons(N, 0.1f, &rng, x, y);
    tg_mlp *model = tg_mlp_new(2, (int[]){16}, 1, 2, TG_ACT_TANH, 0.0f, &rng);
    tg_tensor *params[4];
    int n = tg_mlp_params(model, params, 4);
    tg_optim *opt = signum_new(params, n, 0.01, 0.9);
    tg_graph *g = tg_graph_new();
    if (!model || !opt || !g) {
        fprintf(stderr, "signum: %s\n", tg_last_error());
        return 1;
    }
    for (int step = 0; step <= 300; step++) {
        tg_tensor *loss = tg_cross_entropy(g, tg_mlp_forward(g, model, tg_from_blob(g, x, TG_SHAPE(N, 2)), true, NULL), y, NULL);
        tg_optim_zero_grad(opt);
        if (tg_backward(loss) != TG_OK || tg_optim_step(opt) != TG_OK) {
            fprintf(stderr, "signum: %s\n", tg_last_error());
            return 1;
        }
        if (step % 50 == 0) printf("step %3d  loss %.4f\n", step, loss->data[0]);
        tg_graph_reset(g);
    }
    tg_graph_free(g);
    tg_optim_free(opt);
    tg_mlp_free(model);
    return 0;
}
#endif
