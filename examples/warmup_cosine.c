/* warmup_cosine.c — the lectures' training recipe (CS498 lecture 21,
 * "Putting It All Together"): AdamW, no weight decay on biases, linear warmup
 * then cosine decay, gradients clipped at norm 1. The README quotes the
 * middle of this file.
 *
 *   build/examples/warmup_cosine                                            */
#include <stdio.h>

#include <tg.h>

enum { N = 256, STEPS = 400 };

int main(void)
{
    static float xs[2 * N];
    static int ys[N];
    tg_rng rng;
    tg_rng_seed(&rng, 7);
    tg_make_moons(N, 0.1f, &rng, xs, ys);
    tg_mlp *model = tg_mlp_new(2, (int[]){32, 32}, 2, 2, TG_ACT_RELU, 0.0f, &rng);
    tg_graph *g = tg_graph_new();
    if (!model || !g) {
        fprintf(stderr, "warmup_cosine: %s\n", tg_last_error());
        return 1;
    }

    tg_tensor *weights[3] = {model->W[0], model->W[1], model->W[2]};
    tg_tensor *biases[3] = {model->b[0], model->b[1], model->b[2]};

    tg_optim_opts o = tg_optim_defaults(TG_OPTIM_ADAMW);   /* lr 1e-3, betas (0.9, 0.999), wd 0.01 */
    o.lr = 1e-2;
    tg_optim *opt = tg_optim_new(TG_OPTIM_ADAMW, weights, 3, &o);
    o.weight_decay = 0.0;
    tg_optim_add_group(opt, biases, 3, &o);                 /* a group of its own: no decay */

    tg_sched_opts s = tg_sched_defaults(TG_SCHED_WARMUP_COSINE);
    s.warmup = 40, s.total = STEPS;                         /* the lecture's lr_lambda */
    tg_sched *sched = tg_sched_new(opt, TG_SCHED_WARMUP_COSINE, &s);
    if (!opt || !sched) {
        fprintf(stderr, "warmup_cosine: %s\n", tg_last_error());
        return 1;
    }

    for (int step = 0; step < STEPS; step++) {
        tg_tensor *x = tg_from_blob(g, xs, TG_SHAPE(N, 2));
        tg_tensor *loss = tg_cross_entropy(g, tg_mlp_forward(g, model, x, true, NULL), ys, NULL);
        if (!loss) {
            fprintf(stderr, "warmup_cosine: %s\n", tg_last_error());
            return 1;
        }
        tg_optim_zero_grad(opt);
        tg_backward(loss);
        double norm = tg_clip_grad_norm(weights, 3, 1.0);
        tg_optim_step(opt);
        tg_sched_step(sched);                               /* after the step, as in PyTorch */
        if (step % 50 == 0 || step == STEPS - 1)
            printf("step %3d  loss %.4f  grad norm %6.3f  lr %.5f\n", step, loss->data[0], norm, tg_optim_lr(opt, 0));
        tg_graph_reset(g);
    }
    tg_sched_free(sched);
    tg_optim_free(opt);
    tg_graph_free(g);
    tg_mlp_free(model);
    return 0;
}
