/* linear_classifier.c — the linear classifier that EECS 498 lecture 4
 * (the course material, lecture 002) optimizes: scores s = f(x, W) = W x + b,
 * the multiclass SVM loss of its "Analytic Gradient" slide (Lecture 4 - 39)
 *   L_i = sum_{j != y_i} max(0, s_j - s_{y_i} + 1),
 * or the softmax cross-entropy L_i = -log(e^{s_{y_i}} / sum_j e^{s_j}), and the
 * full loss of its SGD slides (Lecture 4 - 51, 53, section 4.1.1)
 *   L(W) = 1/N sum_i L_i + lambda R(W),   R(W) = sum_k W_k^2   (L2, 4.2.2),
 * minimised by mini-batch SGD with momentum on the real FashionMNIST.
 *
 *   build/examples/linear_classifier [--full] [--data-dir FASHION_DIR] [DIR]
 *     default 3 epochs (a few seconds); --full 20 epochs. With DIR it writes
 *     DIR/linear_classifier.dat (training loss against epochs) for
 *     examples/plots/linear_classifier.gp.
 *
 * The claims it shows: a linear model reaches ~0.83 test accuracy on
 * FashionMNIST with either loss, and the two perform comparably; the hinge is
 * exactly zero once every margin is met, while cross-entropy is never zero and
 * keeps falling as the scores grow (the SVM-vs-softmax comparison of the
 * course's lecture 3, which lecture 4 builds on: softmax is never fully
 * happy); and the L2 penalty keeps W smaller. A linear model on 60000 images
 * hardly overfits (train and test accuracy are ~2 points apart), so here
 * lambda buys smaller weights and a slightly smaller gap, not better test
 * accuracy.
 *
 * Two conventions to keep in mind when reading the numbers:
 *  - tg_multi_margin_loss is torch's MultiMarginLoss, which divides each L_i
 *    by C = 10. We multiply it by C to get the lecture's sum, so lambda means
 *    what it means on the slide (with torch's 1/C, the same lambda would weigh
 *    ten times as much against the data loss).
 *  - Only W is penalised, not b: R(W) in the lecture is on the weights. A bias
 *    multiplies no input, so it does not decide how strongly any pixel sways a
 *    score; shrinking it would only pull the classes' base rates together. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tg.h>

enum { PIXELS = 28 * 28, CLASSES = 10, BATCH = 128, EVAL_BATCH = 1000, WINDOW = 47 };
enum { EPOCHS = 3, EPOCHS_FULL = 20 };

static const double LR = 0.003, MOMENTUM = 0.9;  /* the same for every run */
static const float LAMBDA = 0.01f;               /* the regularised runs' lambda */
static const uint64_t SEED = 498;

typedef enum loss_kind { LOSS_HINGE, LOSS_SOFTMAX } loss_kind;
static const char *const loss_name[] = {"hinge", "softmax"};

typedef struct data {
    tg_dataset train, test;
    float mean, std;          /* of the training pixels / 255 (section 4.3: normalise) */
} data;

typedef struct classifier {
    tg_tensor *W;             /* (CLASSES, PIXELS) */
    tg_tensor *b;             /* (CLASSES) */
} classifier;

typedef struct run {
    loss_kind loss;
    float lambda;
    classifier model;
    double *curve;            /* mean training loss of each WINDOW steps */
    int n_curve;
    double objective;         /* 1/N sum L_i + lambda R(W) over the whole training set */
    double train_acc, test_acc, w_norm;
    int first_met;            /* first test image with L_i == 0 (every margin met), or -1 */
    int first_missed;         /* first test image with L_i > 0, or -1 */
} run;

static float xbuf[EVAL_BATCH * PIXELS];
static int ybuf[EVAL_BATCH];

static int fail(const char *what)
{
    fprintf(stderr, "linear_classifier: %s%s%s\n", what, *tg_last_error() ? ": " : "", tg_last_error());
    return 1;
}

/* L_i per row (TG_REDUCE_NONE) or their mean. The hinge is torch's
 * multi_margin_loss (p = 1, margin = 1) times C: the lecture's sum. */
static tg_tensor *data_loss(tg_graph *g, loss_kind k, tg_tensor *s, const int *y, tg_reduction r)
{
    if (k == LOSS_HINGE) return tg_mul_scalar(g, tg_multi_margin_loss(g, s, y, 1, 1.0f, NULL, r), CLASSES);
    tg_class_loss_opts o = {.reduction = r};   /* no weights, nothing ignored */
    return tg_cross_entropy(g, s, y, &o);
}

/* s = W x + b for rows [start, start + n) of d in the order given (NULL:
 * in order); their labels into ybuf. */
static tg_tensor *scores(tg_graph *g, const classifier *m, const data *dt, const tg_dataset *d,
                         const int *order, int start, int n)
{
    int rows[EVAL_BATCH];
    for (int i = 0; i < n; i++) rows[i] = order ? order[start + i] : start + i;
    tg_dataset_batch(d, rows, n, dt->mean, dt->std, xbuf, ybuf);
    return tg_linear(g, tg_from_blob(g, xbuf, TG_SHAPE(n, PIXELS)), m->W, m->b);
}

/* ||W||_2 (Frobenius), in double. */
static double weight_norm(const tg_tensor *W)
{
    double s = 0;
    for (size_t i = 0; i < W->size; i++) s += (double)W->data[i] * W->data[i];
    return sqrt(s);
}

/* Mean L_i and accuracy of r's classifier on d; first[0] and first[1], when
 * first is not NULL, get the first rows whose L_i is 0 and > 0 (-1: none). */
static tg_status evaluate(tg_graph *g, const run *r, const data *dt, const tg_dataset *d, double *loss,
                          double *acc, int *first)
{
    double sum = 0;
    int right = 0, pred[EVAL_BATCH];
    if (first) first[0] = first[1] = -1;
    bool was = tg_graph_set_grad(g, false);
    for (int start = 0; start < d->n; start += EVAL_BATCH) {
        int n = d->n - start < EVAL_BATCH ? d->n - start : EVAL_BATCH;
        tg_tensor *s = scores(g, &r->model, dt, d, NULL, start, n);
        tg_tensor *l = data_loss(g, r->loss, s, ybuf, TG_REDUCE_NONE);
        if (!l || tg_argmax(s, 1, pred) != TG_OK) {
            tg_graph_set_grad(g, was);
            return TG_ERR_ARG;
        }
        for (int i = 0; i < n; i++) {
            sum += l->data[i];
            right += pred[i] == ybuf[i];
            int *f = first ? &first[l->data[i] > 0.0f] : NULL;
            if (f && *f < 0) *f = start + i;
        }
        tg_graph_reset(g);
    }
    tg_graph_set_grad(g, was);
    *loss = sum / d->n;
    *acc = (double)right / d->n;
    return TG_OK;
}

/* One pass over the shuffled training set: loss = 1/B sum L_i + lambda R(W),
 * backward, SGD step. Adds each step's loss to r->curve. */
static tg_status train_epoch(tg_graph *g, tg_optim *opt, run *r, const data *dt, int *order, tg_rng *rng,
                             int *step)
{
    const tg_dataset *d = &dt->train;
    tg_rng_shuffle(rng, order, d->n);   /* lecture 4: reshuffle at every epoch */
    for (int start = 0; start < d->n; start += BATCH, ++*step) {
        int n = d->n - start < BATCH ? d->n - start : BATCH;
        tg_tensor *s = scores(g, &r->model, dt, d, order, start, n);
        tg_tensor *loss = tg_add(g, data_loss(g, r->loss, s, ybuf, TG_REDUCE_MEAN),
                                 tg_l2_penalty(g, &r->model.W, 1, r->lambda));   /* W only, not b */
        if (!loss) return TG_ERR_ARG;
        tg_optim_zero_grad(opt);
        tg_status st = tg_backward(loss);
        if (st == TG_OK) st = tg_optim_step(opt);
        if (st != TG_OK) return st;
        r->curve[*step / WINDOW] += loss->data[0];
        tg_graph_reset(g);
    }
    return TG_OK;
}

/* Trains r from the same initial W, b and the same shuffles as every other
 * run (one seed), so the runs differ only in their loss and lambda. */
static tg_status train(tg_graph *g, run *r, const data *dt, int *order, int epochs)
{
    tg_rng rng;
    tg_rng_seed(&rng, SEED);
    classifier *m = &r->model;
    m->W = tg_zeros(NULL, TG_SHAPE(CLASSES, PIXELS));
    m->b = tg_zeros(NULL, TG_SHAPE(CLASSES));
    int steps_per_epoch = (dt->train.n + BATCH - 1) / BATCH, steps = epochs * steps_per_epoch;
    r->n_curve = (steps + WINDOW - 1) / WINDOW;
    r->curve = calloc((size_t)r->n_curve, sizeof *r->curve);
    if (!m->W || !m->b || !r->curve || tg_tensor_requires_grad(m->W, true) != TG_OK ||
        tg_tensor_requires_grad(m->b, true) != TG_OK || tg_init_linear(m->W, m->b, &rng) != TG_OK)
        return TG_ERR_NOMEM;
    tg_optim_opts o = tg_optim_defaults(TG_OPTIM_SGD);
    o.lr = LR;
    o.momentum = MOMENTUM;
    tg_optim *opt = tg_optim_new(TG_OPTIM_SGD, (tg_tensor *[]){m->W, m->b}, 2, &o);
    if (!opt) return TG_ERR_ARG;
    for (int i = 0; i < dt->train.n; i++) order[i] = i;
    tg_status st = TG_OK;
    for (int epoch = 0, step = 0; st == TG_OK && epoch < epochs; epoch++)
        st = train_epoch(g, opt, r, dt, order, &rng, &step);
    tg_optim_free(opt);
    for (int w = 0; w < r->n_curve; w++) {
        int in_window = steps - w * WINDOW < WINDOW ? steps - w * WINDOW : WINDOW;
        r->curve[w] /= in_window;
    }
    double train_loss = 0, test_loss = 0;
    if (st == TG_OK) st = evaluate(g, r, dt, &dt->train, &train_loss, &r->train_acc, NULL);
    int first[2] = {-1, -1};
    if (st == TG_OK) st = evaluate(g, r, dt, &dt->test, &test_loss, &r->test_acc, first);
    r->first_met = first[0], r->first_missed = first[1];
    r->w_norm = weight_norm(m->W);
    r->objective = train_loss + r->lambda * r->w_norm * r->w_norm;
    return st;
}

/* One row of the per-image table: the scores of test image i under r's
 * classifier, times scale (scaling W and b scales s), and both losses of
 * those scores, and torch's multi_margin_loss, which is the hinge / C. */
static tg_status show_image(tg_graph *g, const run *r, const data *dt, int i, float scale, const char *label)
{
    tg_tensor *s = tg_mul_scalar(g, scores(g, &r->model, dt, &dt->test, NULL, i, 1), scale);
    tg_tensor *hinge = data_loss(g, LOSS_HINGE, s, ybuf, TG_REDUCE_SUM);
    tg_tensor *ce = data_loss(g, LOSS_SOFTMAX, s, ybuf, TG_REDUCE_SUM);
    tg_tensor *torch = tg_multi_margin_loss(g, s, ybuf, 1, 1.0f, NULL, TG_REDUCE_SUM);
    if (!hinge || !ce || !torch) return TG_ERR_ARG;
    printf("image %5d  label %d  %-10s s =", i, ybuf[0], label);
    for (int c = 0; c < CLASSES; c++) printf(" %8.4f", s->data[c]);
    printf("  hinge %7.4f  ce %-9.4g  torch %7.4f\n", hinge->data[0], ce->data[0], torch->data[0]);
    tg_graph_reset(g);
    return TG_OK;
}

/* The SVM-vs-softmax comparison on real scores: an image with a violated
 * margin under both classifiers, then one whose margins the hinge
 * classifier all meets, with its scores scaled up. */
static tg_status show_images(tg_graph *g, const run *hinge, const run *softmax, const data *dt)
{
    printf("\nscores s = W x + b of single test images (lambda %g classifiers), and the losses of those s:\n"
           "  hinge = sum_{j != y} max(0, s_j - s_y + 1),  ce = -log softmax(s)_y,\n"
           "  torch = torch's multi_margin_loss(s, y) = hinge / %d (MultiMarginLoss divides by C)\n",
           hinge->lambda, CLASSES);
    tg_status st = TG_OK;
    if (hinge->first_missed >= 0) {
        printf("the first test image where the hinge classifier misses a margin, under both classifiers:\n");
        st = show_image(g, hinge, dt, hinge->first_missed, 1.0f, "hinge");
        if (st == TG_OK) st = show_image(g, softmax, dt, hinge->first_missed, 1.0f, "softmax");
    }
    if (hinge->first_met >= 0 && st == TG_OK) {
        printf("the first test image where it meets every margin, then with W, b doubled:\n");
        st = show_image(g, hinge, dt, hinge->first_met, 1.0f, "hinge");
        if (st == TG_OK) st = show_image(g, hinge, dt, hinge->first_met, 2.0f, "hinge*2");
        printf("once every margin is met the hinge is 0 and stays 0: the SVM is satisfied. Cross-entropy is\n"
               "never 0 and keeps falling as the scores grow: softmax is never fully happy, its gradient\n"
               "still pushes W larger on such an image, and lambda R(W) is what pushes back.\n");
    }
    return st;
}

/* The table, then what lambda did: runs come in pairs (lambda 0, LAMBDA). */
static void print_table(const run *runs, int n, int epochs, int n_train)
{
    printf("\n%d epochs of SGD (lr %g, momentum %g, batch %d) on %d images; R(W) = sum W^2, b not penalised\n",
           epochs, LR, MOMENTUM, BATCH, n_train);
    printf("loss      lambda   train_objective  train_acc  test_acc   |W|_2\n");
    for (int i = 0; i < n; i++)
        printf("%-8s  %-7g  %15.4f  %9.4f  %8.4f  %7.3f\n", loss_name[runs[i].loss], runs[i].lambda,
               runs[i].objective, runs[i].train_acc, runs[i].test_acc, runs[i].w_norm);
    for (int i = 0; i + 1 < n; i += 2)
        printf("%-8s lambda %g: |W| %.0f%% smaller, train-test accuracy gap %.1f -> %.1f points\n",
               loss_name[runs[i].loss], runs[i + 1].lambda, 100 * (1 - runs[i + 1].w_norm / runs[i].w_norm),
               100 * (runs[i].train_acc - runs[i].test_acc), 100 * (runs[i + 1].train_acc - runs[i + 1].test_acc));
}

/* The training curves, one row per WINDOW steps: x in epochs. */
static void write_curves(FILE *f, const run *runs, int n, int steps_per_epoch)
{
    fprintf(f, "# epoch");
    for (int i = 0; i < n; i++) fprintf(f, " %s_lambda_%g", loss_name[runs[i].loss], runs[i].lambda);
    fprintf(f, "\n");
    for (int w = 0; w < runs[0].n_curve; w++) {
        fprintf(f, "%.4f", (w + 0.5) * WINDOW / steps_per_epoch);
        for (int i = 0; i < n; i++) fprintf(f, " %.6f", runs[i].curve[w]);
        fprintf(f, "\n");
    }
}

static int usage(const char *why)
{
    fprintf(stderr, "linear_classifier: %s\nusage: linear_classifier [--full] [--data-dir FASHION_DIR] [DIR]\n", why);
    return 1;
}

int main(int argc, char **argv)
{
    const char *fashion = "/usr/share/datasets/fashion-mnist", *out_dir = NULL;
    int epochs = EPOCHS;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--full")) epochs = EPOCHS_FULL;
        else if (!strcmp(argv[i], "--data-dir") && i + 1 < argc) fashion = argv[++i];
        else if (argv[i][0] == '-' || out_dir) return usage("unknown or extra argument");
        else out_dir = argv[i];
    }
    /* Open the output first, so a bad DIR fails before a minute of training. */
    char path[4096];
    FILE *out = NULL;
    if (out_dir) {
        snprintf(path, sizeof path, "%s/linear_classifier.dat", out_dir);
        if (!(out = fopen(path, "w"))) {
            fprintf(stderr, "linear_classifier: cannot write %s\n", path);
            return 1;
        }
    }
    data dt = {0};
    if (tg_dataset_load(fashion, true, &dt.train) != TG_OK || tg_dataset_load(fashion, false, &dt.test) != TG_OK) {
        if (out) fclose(out);
        tg_dataset_free(&dt.train);
        return fail("loading FashionMNIST");
    }
    tg_dataset_stats(&dt.train, &dt.mean, &dt.std);
    printf("linear classifier s = W x + b, W (%d,%d), on FashionMNIST: %d train, %d test images,\n"
           "pixels normalised with the training set's mean %.4f and std %.4f (section 4.3)\n",
           CLASSES, PIXELS, dt.train.n, dt.test.n, dt.mean, dt.std);

    run runs[] = {{.loss = LOSS_HINGE, .lambda = 0}, {.loss = LOSS_HINGE, .lambda = LAMBDA},
                  {.loss = LOSS_SOFTMAX, .lambda = 0}, {.loss = LOSS_SOFTMAX, .lambda = LAMBDA}};
    enum { N_RUNS = sizeof runs / sizeof runs[0] };
    tg_graph *g = tg_graph_new();
    int *order = malloc((size_t)dt.train.n * sizeof *order);
    int status = !g || !order ? fail("out of memory") : 0;
    for (int i = 0; !status && i < N_RUNS; i++)
        if (train(g, &runs[i], &dt, order, epochs) != TG_OK) status = fail("training");
    if (!status) {
        print_table(runs, N_RUNS, epochs, dt.train.n);
        if (show_images(g, &runs[1], &runs[3], &dt) != TG_OK) status = fail("scoring one image");
    }
    if (!status && out) {
        write_curves(out, runs, N_RUNS, (dt.train.n + BATCH - 1) / BATCH);
        printf("\nwrote %s\n", path);
    }
    if (out && fclose(out) != 0 && !status) {
        fprintf(stderr, "linear_classifier: cannot finish writing %s\n", path);
        status = 1;
    }
    for (int i = 0; i < N_RUNS; i++) {
        tg_tensor_free(runs[i].model.W);
        tg_tensor_free(runs[i].model.b);
        free(runs[i].curve);
    }
    free(order);
    tg_graph_free(g);
    tg_dataset_free(&dt.train);
    tg_dataset_free(&dt.test);
    return status;
}
