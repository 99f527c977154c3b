/* optimize.c — `tg optimize`: any optimizer, schedule and clipping on a 2-D
 * test function, built from tg's ops so backward gives the gradient, and the
 * lectures' Rosenbrock comparison (lesson 63). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "commands.h"

typedef struct problem {
    bool rosenbrock;
    tg_tensor *x, *y;   /* (1) each: the two coordinates, standalone parameters */
    tg_graph *g;
} problem;

/* rosenbrock: (1-x)^2 + 100 (y-x^2)^2;  quadratic: (x-2)^2 + 10 (y+1)^2 */
static tg_tensor *objective(const problem *p)
{
    tg_graph *g = p->g;
    if (p->rosenbrock) {
        tg_tensor *a = tg_add_scalar(g, tg_neg(g, p->x), 1.0f);
        tg_tensor *b = tg_sub(g, p->y, tg_square(g, p->x));
        return tg_add(g, tg_square(g, a), tg_mul_scalar(g, tg_square(g, b), 100.0f));
    }
    tg_tensor *a = tg_add_scalar(g, p->x, -2.0f), *b = tg_add_scalar(g, p->y, 1.0f);
    return tg_add(g, tg_square(g, a), tg_mul_scalar(g, tg_square(g, b), 10.0f));
}

/* The closure: f and its gradient at the current point. */
static tg_status evaluate(void *ctx, float *loss)
{
    problem *p = ctx;
    tg_graph_reset(p->g);
    tg_tensor *f = objective(p);
    tg_tensor_zero_grad(p->x);
    tg_tensor_zero_grad(p->y);
    tg_status s = tg_backward(f);
    if (s == TG_OK) *loss = f->data[0];
    return s;
}

typedef struct run_result {
    double x, y, f;
    bool diverged;
    uint64_t diverged_at;
} run_result;

/* Minimises from (x0, y0) for steps optimizer steps; prints the path every
 * print_every steps (0: never), and writes "x y" lines to path (if not
 * NULL) every 10 steps. */
static int run(problem *p, const optim_args *a, double x0, double y0, uint64_t steps, uint64_t print_every,
               FILE *path, run_result *out)
{
    p->x->data[0] = (float)x0;
    p->y->data[0] = (float)y0;
    tg_tensor *params[] = {p->x, p->y};
    tg_optim *opt = tg_optim_new(a->kind, params, 2, &a->opts);
    tg_sched *sched = opt && a->sched >= 0 ? tg_sched_new(opt, a->sched, &a->sched_opts) : NULL;
    if (!opt || (a->sched >= 0 && !sched)) {
        fprintf(stderr, "tg optimize: %s\n", tg_last_error());
        tg_optim_free(opt);
        return EXIT_USAGE;
    }
    *out = (run_result){0};
    if (path) fprintf(path, "%.9g %.9g\n", x0, y0);
    for (uint64_t step = 1; step <= steps; step++) {
        float loss;
        tg_status s;
        if (a->kind == TG_OPTIM_LBFGS) {
            s = tg_optim_step_closure(opt, evaluate, p, &loss);
        } else {
            s = evaluate(p, &loss);
            if (a->clip_norm > 0) tg_clip_grad_norm(params, 2, a->clip_norm);
            if (a->clip_value > 0) tg_clip_grad_value(params, 2, a->clip_value);
            if (s == TG_OK) s = tg_optim_step(opt);
        }
        if (s == TG_OK && sched) s = tg_sched_step_metric(sched, loss);
        if (s != TG_OK) {
            fprintf(stderr, "tg optimize: step %llu: %s\n", (unsigned long long)step, tg_last_error());
            tg_sched_free(sched);
            tg_optim_free(opt);
            return EXIT_FAIL;
        }
        if (path && (step % 10 == 0 || step == steps)) fprintf(path, "%.9g %.9g\n", p->x->data[0], p->y->data[0]);
        if (!out->diverged && !(isfinite(p->x->data[0]) && isfinite(p->y->data[0]) && isfinite(loss)))
            out->diverged = true, out->diverged_at = step;
        if (print_every && (step % print_every == 0 || step == 1)) {
            float here; /* f where the step landed, not where it started */
            if (evaluate(p, &here) != TG_OK) here = NAN;
            printf("step %7llu  x=%-12.6g y=%-12.6g f=%-12.6g lr=%g\n", (unsigned long long)step, p->x->data[0],
                   p->y->data[0], here, tg_optim_lr(opt, 0));
        }
    }
    float f;
    evaluate(p, &f);
    *out = (run_result){p->x->data[0], p->y->data[0], f, out->diverged || !isfinite(f), out->diverged_at};
    tg_sched_free(sched);
    tg_optim_free(opt);
    return EXIT_OK;
}

/* ---- the lectures' comparison: lesson 63 (003_5dc36678f442f2ae.txt),
 * "Compare optimizers on Rosenbrock function", 5000 steps from (-1, 1) ---- */

/* paths_dir: write each optimizer's path to paths_dir/rosenbrock_<name>.dat */
static int compare(problem *p, const char *paths_dir)
{
    static const struct {
        const char *name, *settings, *flags;
        tg_optim_kind kind;
    } rows[] = {
        {"SGD", "lr 0.001, momentum 0.9", "lr=0.001,momentum=0.9", TG_OPTIM_SGD},
        {"AdaGrad", "lr 0.05, eps 1e-8", "lr=0.05,eps=1e-8", TG_OPTIM_ADAGRAD},
        {"RMSProp", "lr 0.001, alpha 0.9, eps 1e-8", "lr=0.001,alpha=0.9,eps=1e-8", TG_OPTIM_RMSPROP},
        {"Adam", "lr 0.005", "lr=0.005", TG_OPTIM_ADAM},
        {"AdamW", "lr 0.005, weight decay 0.01", "lr=0.005,weight_decay=0.01", TG_OPTIM_ADAMW},
    };
    printf("Rosenbrock (1-x)^2 + 100 (y-x^2)^2 from (-1, 1), 5000 steps, minimum f = 0 at (1, 1)\n\n");
    printf("%-10s %-32s %14s   %s\n", "optimizer", "settings", "final loss", "position");
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        optim_args a;
        optim_args_init(&a);
        a.kind = rows[r].kind;
        a.opts = tg_optim_defaults(a.kind);
        tg_optim_opts_parse(&a.opts, rows[r].flags);
        run_result res;
        FILE *path = NULL;
        if (paths_dir) {
            char file[4096];
            snprintf(file, sizeof file, "%s/rosenbrock_%s.dat", paths_dir, rows[r].name);
            if (!(path = fopen(file, "w"))) {
                fprintf(stderr, "tg optimize: %s: cannot write\n", file);
                return EXIT_FAIL;
            }
        }
        int code = run(p, &a, -1.0, 1.0, 5000, 0, path, &res);
        if (path) fclose(path);
        if (code != EXIT_OK) return code;
        printf("%-10s %-32s %14.6f   (%.4f, %.4f)\n", rows[r].name, rows[r].settings, res.f, res.x, res.y);
    }
    printf("\nNotes. tg runs torch.optim's update rules in float32; the lecture's numpy\n"
           "classes compute in float64 and name things differently:\n"
           "- eps: torch adds it outside the square root, g / (sqrt(v) + eps), as the\n"
           "  lecture's code does; its RMSProp formula writes g / sqrt(v + eps) instead.\n"
           "  torch's defaults are eps 1e-10 (Adagrad) and alpha 0.99 (RMSprop); the\n"
           "  lecture's code uses eps 1e-8 and beta (torch's alpha) 0.9, set here.\n"
           "- Adam's bias-corrected m_hat / (sqrt(v_hat) + eps) equals torch's\n"
           "  m / bc1 / (sqrt(v) / sqrt(bc2) + eps): the same update.\n"
           "- AdamW: the lecture's x - lr (adam + wd x) and torch's x (1 - lr wd) - lr adam\n"
           "  are the same update too.\n"
           "- SGD: the lecture's v = momentum v + g; x -= lr v is torch's momentum with\n"
           "  dampening 0.\n");
    return EXIT_OK;
}

static const char usage[] =
    "usage: tg optimize rosenbrock|quadratic --optimizer NAME [options] [--steps N] [--start X,Y]\n"
    "       tg optimize rosenbrock --compare [--paths DIR]\n"
    "\n"
    "Minimises (1-x)^2 + 100 (y-x^2)^2 or (x-2)^2 + 10 (y+1)^2, printing the path and,\n"
    "last, final: x=<x> y=<y> f=<f>.\n"
    "  --optimizer sgd|adagrad|rmsprop|adam|adamw|nadam|radam|lion|lbfgs\n"
    "  --steps N (1000)  --start X,Y (-1,1)  --print-every N (steps/10; 0: final only)\n"
    "  optimizer options, named after torch.optim's arguments:\n"
    "    --lr --momentum --dampening --nesterov --weight-decay --maximize --betas B1,B2\n"
    "    --eps --amsgrad --alpha --centered --lr-decay --initial-accumulator-value\n"
    "    --momentum-decay --max-iter --max-eval --history-size --tolerance-grad\n"
    "    --tolerance-change --line-search strong_wolfe|none\n"
    "    (lbfgs: --steps counts step() calls, each up to --max-iter iterations)\n"
    "  --schedule constant|step|multistep|exponential|cosine|warmup_cosine|\n"
    "             linear_warmup|onecycle|plateau, stepped every step, with torch's\n"
    "    options: --gamma --step-size --milestones 30:80 --t-max --eta-min --warmup\n"
    "    --total --max-lr --total-steps --pct-start --anneal-strategy --three-phase\n"
    "    --factor --total-iters --patience --threshold --mode --cooldown --min-lr ...\n"
    "  --clip-norm F  --clip-value F   gradient clipping before each step\n"
    "  --compare --paths DIR   also write each optimizer's path, every 10 steps, to\n"
    "                          DIR/rosenbrock_<name>.dat\n";

int cmd_optimize(int argc, char **argv)
{
    if (argc < 1 || (strcmp(argv[0], "rosenbrock") && strcmp(argv[0], "quadratic"))) {
        fprintf(stderr, "tg optimize: the objective is rosenbrock or quadratic%s%s%s\n%s", argc ? ", not '" : "",
                argc ? argv[0] : "", argc ? "'" : "", usage);
        return EXIT_USAGE;
    }
    optim_args a;
    optim_args_init(&a);
    uint64_t steps = 1000, print_every = UINT64_MAX;
    double x0 = -1.0, y0 = 1.0;
    bool do_compare = false, other_flags = false;
    const char *paths_dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--paths") && i + 1 < argc) {
            paths_dir = argv[++i];
            continue;
        }
        other_flags |= strcmp(argv[i], "--compare") != 0;
        int used = optim_args_flag(&a, argc, argv, &i);
        if (used < 0) return EXIT_USAGE;
        if (used) continue;
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (!strcmp(argv[i], "--steps"))
            ok = arg_u64("--steps", value, &steps), i++;
        else if (!strcmp(argv[i], "--print-every"))
            ok = arg_u64("--print-every", value, &print_every), i++;
        else if (!strcmp(argv[i], "--start"))
            ok = arg_pair("--start", value, &x0, &y0), i++;
        else if (!strcmp(argv[i], "--compare"))
            do_compare = true;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return EXIT_OK;
        } else {
            fprintf(stderr, "tg optimize: unknown option '%s'\n%s", argv[i], usage);
            return EXIT_USAGE;
        }
        if (!ok) return EXIT_USAGE;
    }
    problem p = {.rosenbrock = argv[0][0] == 'r'};
    p.x = tg_zeros(NULL, 1, (int[]){1});
    p.y = tg_zeros(NULL, 1, (int[]){1});
    p.g = tg_graph_new();
    int code = EXIT_FAIL;
    if (!p.x || !p.y || !p.g || tg_tensor_requires_grad(p.x, true) || tg_tensor_requires_grad(p.y, true)) {
        fprintf(stderr, "tg optimize: %s\n", tg_last_error());
    } else if (do_compare) {
        if (other_flags || !p.rosenbrock) {
            fprintf(stderr, "tg optimize: --compare runs the lecture's rosenbrock settings alone: no other flags\n");
            code = EXIT_USAGE;
        } else {
            code = cli_parse_only ? EXIT_OK : compare(&p, paths_dir);
        }
    } else if (!optim_args_finish(&a, -1)) {
        code = EXIT_USAGE;
    } else if (a.sched == TG_SCHED_ONECYCLE && steps > (uint64_t)a.sched_opts.total_steps) {
        fprintf(stderr, "tg optimize: --steps %llu is more than the one-cycle schedule's --total-steps %d\n",
                (unsigned long long)steps, a.sched_opts.total_steps);
        code = EXIT_USAGE;
    } else if (a.kind == TG_OPTIM_LBFGS && (a.clip_norm > 0 || a.clip_value > 0)) {
        fprintf(stderr, "tg optimize: clipping does not apply to lbfgs, which re-evaluates its own steps\n");
        code = EXIT_USAGE;
    } else if (cli_parse_only) {
        code = EXIT_OK;
    } else {
        char desc[256];
        optim_args_describe(&a, desc, sizeof desc);
        if (print_every == UINT64_MAX) print_every = steps >= 10 ? steps / 10 : 1;
        printf("%s from (%g, %g), %llu steps: %s\n", argv[0], x0, y0, (unsigned long long)steps, desc);
        run_result res;
        code = run(&p, &a, x0, y0, steps, print_every, NULL, &res);
        if (code == EXIT_OK) {
            printf("final: x=%.9g y=%.9g f=%.9g\n", res.x, res.y, res.f);
            if (res.diverged) {
                fprintf(stderr, "tg optimize: diverged at step %llu: lower --lr, or clip with --clip-norm\n",
                        (unsigned long long)res.diverged_at);
                code = EXIT_FAIL;
            }
        }
    }
    tg_graph_free(p.g);
    tg_tensor_free(p.x);
    tg_tensor_free(p.y);
    return code;
}
