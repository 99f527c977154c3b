/* random_search.c — EECS 498 chapter 4 (the course material, lecture 002),
 * sections 4.5.3 and 4.5.4: "Idea #1: Random Search (bad idea!)" against
 * "Idea #2: Follow the slope", on one loss landscape: a linear classifier
 * s = W x + b (W (10,784), b (10): 7850 parameters) with the softmax
 * cross-entropy L(W, b) = 1/N sum_n -log softmax(s_n)_{y_n} on FashionMNIST
 * training images (pixels / 255).
 *
 *   random search, the slide's loop:  W = 0.0001 * randn(...); keep the W of
 *       the lowest training loss seen;
 *   following the slope, full-batch gradient descent from the first random W:
 *       W <- W - eta dL/dW, the gradient from tg_backward.
 *
 * Both get the same budget of K loss evaluations over the training set (each
 * descent step is one evaluation plus its backward pass, about twice a
 * forward's arithmetic). The claim: random search barely moves the loss off
 * ln 10 — a random W lines up with the downhill direction only by chance,
 * by ~1/sqrt(7850), about 1% of its length — yet the argmax of its best W's
 * scores beats chance (the lecture: 15.5% on CIFAR-10, where the state of
 * the art is 95%); following the slope brings the loss far down and the test
 * accuracy tens of points higher.
 *
 *   build/examples/random_search [--full] [DIR]
 *       default: the first 2000 training images, K = 200 (about a second);
 *       --full: all 60000 training images and the slide's K = 1000 (about
 *       a minute and a half). Accuracy is always on the 10000 test images.
 *       DIR: also write random_search.dat (best loss so far against
 *       evaluations, both methods) there, for examples/plots/random_search.gp.
 *   --data-dir: where FashionMNIST is (default /usr/share/datasets/fashion-mnist).
 *   Timings go to stderr, so stdout is the same on every run.              */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tg.h>

enum { PIXELS = 28 * 28, C = 10, EVAL_BATCH = 1000 };
static const float SCALE = 0.0001f; /* the slide's np.random.randn(10, 3073) * 0.0001 */
/* eta: of 1, 0.5, 0.3, 0.2 and 0.1 the largest at which the loss falls at
 * every step (above it, full-batch descent overshoots and oscillates). */
static const float LR = 0.1f;

typedef struct split {
    int n;
    float *x;   /* (n, PIXELS) pixels / 255 */
    int *y;     /* (n) labels */
} split;

typedef struct run {
    const char *name;
    double *loss;       /* [K] the loss of each evaluation */
    double kept;        /* the training loss of the W it returns */
    double accuracy;    /* that W's test accuracy */
    double ms;
} run;

static double now(void)
{
    struct timespec t;
    timespec_get(&t, TIME_UTC);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int fail(const char *what)
{
    fprintf(stderr, "random_search: %s\n", what);
    return 1;
}

/* The first n images of the training or test set of dir, as floats. */
static tg_status load_split(const char *dir, bool train, int n, split *out)
{
    tg_dataset d;
    tg_status s = tg_dataset_load(dir, train, &d);
    if (s != TG_OK) return s;
    if (n > d.n) n = d.n;
    int *rows = malloc((size_t)n * sizeof *rows);
    out->n = n;
    out->x = malloc((size_t)n * PIXELS * sizeof *out->x);
    out->y = malloc((size_t)n * sizeof *out->y);
    if (!rows || !out->x || !out->y) {
        tg_set_error("random_search: out of memory for %d images", n);
        s = TG_ERR_NOMEM;
    } else {
        for (int i = 0; i < n; i++) rows[i] = i;
        tg_dataset_batch(&d, rows, n, 0.0f, 1.0f, out->x, out->y);
    }
    free(rows);
    tg_dataset_free(&d);
    return s;
}

static void split_free(split *s)
{
    free(s->x);
    free(s->y);
}

/* L(W, b) over the whole set, recorded on g when its grad mode is on. */
static tg_tensor *loss_of(tg_graph *g, const split *s, tg_tensor *W, tg_tensor *b)
{
    tg_tensor *x = tg_from_blob(g, s->x, TG_SHAPE(s->n, PIXELS));
    return tg_cross_entropy(g, tg_linear(g, x, W, b), s->y, NULL);
}

/* Fraction of s whose highest score is its label. */
static tg_status accuracy(tg_graph *g, const split *s, tg_tensor *W, tg_tensor *b, double *acc)
{
    int pred[EVAL_BATCH], right = 0;
    bool was = tg_graph_set_grad(g, false);
    tg_status st = TG_OK;
    for (int start = 0; start < s->n && st == TG_OK; start += EVAL_BATCH) {
        int n = s->n - start < EVAL_BATCH ? s->n - start : EVAL_BATCH;
        tg_graph_reset(g);
        tg_tensor *x = tg_from_blob(g, s->x + (size_t)start * PIXELS, TG_SHAPE(n, PIXELS));
        st = tg_argmax(tg_linear(g, x, W, b), 1, pred);
        for (int i = 0; st == TG_OK && i < n; i++) right += pred[i] == s->y[start + i];
    }
    tg_graph_reset(g);
    tg_graph_set_grad(g, was);
    *acc = (double)right / s->n;
    return st;
}

/* W, b <- SCALE * randn. */
static void draw(tg_tensor *W, tg_tensor *b, tg_rng *rng)
{
    tg_init_normal(W, 0.0f, SCALE, rng);
    tg_init_normal(b, 0.0f, SCALE, rng);
}

static void copy_params(tg_tensor *W_to, tg_tensor *b_to, const tg_tensor *W, const tg_tensor *b)
{
    memcpy(W_to->data, W->data, W->size * sizeof *W->data);
    memcpy(b_to->data, b->data, b->size * sizeof *b->data);
}

/* The slide's loop: K random W, keeping the best by training loss in
 * (best_W, best_b). rng is left where it was, so the first W drawn is the
 * one gradient descent starts from. */
static tg_status random_search(tg_graph *g, const split *train, int K, tg_rng rng, tg_tensor *W, tg_tensor *b,
                               tg_tensor *best_W, tg_tensor *best_b, run *r)
{
    bool was = tg_graph_set_grad(g, false);
    r->kept = INFINITY;
    for (int k = 0; k < K; k++) {
        draw(W, b, &rng);
        tg_graph_reset(g);
        tg_tensor *loss = loss_of(g, train, W, b);
        if (!loss) return TG_ERR_ARG;
        r->loss[k] = loss->data[0];
        if (r->loss[k] < r->kept) {
            r->kept = r->loss[k];
            copy_params(best_W, best_b, W, b);
        }
    }
    tg_graph_reset(g);
    tg_graph_set_grad(g, was);
    return TG_OK;
}

/* K - 1 steps W <- W - LR dL/dW from (W, b): evaluation k is the loss after
 * k steps, and the last one scores the W left in (W, b). */
static tg_status gradient_descent(tg_graph *g, const split *train, int K, tg_tensor *W, tg_tensor *b, run *r)
{
    tg_tensor *params[2] = {W, b};
    for (int k = 0; k < K; k++) {
        tg_graph_reset(g);
        tg_tensor *loss = loss_of(g, train, W, b);
        for (int p = 0; p < 2; p++) tg_tensor_zero_grad(params[p]);
        tg_status s = loss ? tg_backward(loss) : TG_ERR_ARG;
        if (s != TG_OK) return s;
        r->loss[k] = r->kept = loss->data[0];
        if (k + 1 == K) break;
        for (int p = 0; p < 2; p++)
            for (size_t i = 0; i < params[p]->size; i++) params[p]->data[i] -= LR * params[p]->grad[i];
    }
    tg_graph_reset(g);
    return TG_OK;
}

/* Best loss so far after each evaluation, both methods, as columns. */
static void write_curves(FILE *f, const run *rs, const run *gd, int K)
{
    fprintf(f, "# evaluation random_loss random_best gd_loss gd_best\n");
    double best_rs = INFINITY, best_gd = INFINITY;
    for (int k = 0; k < K; k++) {
        best_rs = fmin(best_rs, rs->loss[k]);
        best_gd = fmin(best_gd, gd->loss[k]);
        fprintf(f, "%d %.6f %.6f %.6f %.6f\n", k + 1, rs->loss[k], best_rs, gd->loss[k], best_gd);
    }
}

static void print_progress(const run *rs, const run *gd, int K)
{
    printf("\n%-12s %-26s %s\n", "evaluations", "random search: best loss", "gradient descent: loss");
    double best_rs = INFINITY;
    static const int marks[] = {1, 2, 5, 10, 20, 50, 100, 200, 500};
    for (int k = 0, m = 0; k < K; k++) {
        best_rs = fmin(best_rs, rs->loss[k]);
        bool mark = m < (int)(sizeof marks / sizeof *marks) && k + 1 == marks[m];
        m += mark;
        if (mark || k + 1 == K) printf("%-12d %-26.6f %.6f\n", k + 1, best_rs, gd->loss[k]);
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: random_search [--full] [--data-dir FASHION_DIR] [DIR]\n"
                    "  default 2000 training images and 200 evaluations each (about a second);\n"
                    "  --full: all 60000 and the slide's 1000 (about 1.5 minutes). DIR: write random_search.dat\n");
}

int main(int argc, char **argv)
{
    bool full = false;
    const char *out_dir = NULL, *data = "/usr/share/datasets/fashion-mnist";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--full")) full = true;
        else if (!strcmp(argv[i], "--data-dir") && i + 1 < argc) data = argv[++i];
        else if (argv[i][0] != '-' && !out_dir) out_dir = argv[i];
        else {
            usage();
            return 1;
        }
    }
    const int n_train = full ? 60000 : 2000, K = full ? 1000 : 200;
    FILE *f = NULL;
    char path[4096];
    if (out_dir) {
        snprintf(path, sizeof path, "%s/random_search.dat", out_dir);
        if (!(f = fopen(path, "w"))) {
            fprintf(stderr, "random_search: cannot write %s\n", path);
            return 1;
        }
    }
    split train = {0}, test = {0};
    if (load_split(data, true, n_train, &train) != TG_OK || load_split(data, false, 10000, &test) != TG_OK) {
        split_free(&train);
        split_free(&test);
        if (f) fclose(f);
        return fail(tg_last_error());
    }
    tg_graph *g = tg_graph_new();
    tg_tensor *W = tg_zeros(NULL, TG_SHAPE(C, PIXELS)), *b = tg_zeros(NULL, TG_SHAPE(C));
    tg_tensor *best_W = tg_zeros(NULL, TG_SHAPE(C, PIXELS)), *best_b = tg_zeros(NULL, TG_SHAPE(C));
    double *losses = malloc(2 * (size_t)K * sizeof *losses);
    run rs = {.name = "random search", .loss = losses}, gd = {.name = "gradient descent", .loss = losses + K};
    tg_rng rng;
    tg_rng_seed(&rng, 498);
    int rc = 1;
    if (!g || !W || !b || !best_W || !best_b || !losses || tg_tensor_requires_grad(W, true) != TG_OK ||
        tg_tensor_requires_grad(b, true) != TG_OK) {
        fail(*tg_last_error() ? tg_last_error() : "out of memory");
        goto done;
    }
    printf("random_search: s = Wx + b, W (%d,%d) and b (%d), softmax cross-entropy\n", C, PIXELS, C);
    printf("training loss over %d FashionMNIST training images; %d loss evaluations per method\n", train.n, K);
    printf("random search: W, b = %g randn; gradient descent: lr %g, from the first random W\n", SCALE, LR);

    double t = now();
    tg_status s = random_search(g, &train, K, rng, W, b, best_W, best_b, &rs);
    if (s == TG_OK) s = accuracy(g, &test, best_W, best_b, &rs.accuracy);
    rs.ms = 1e3 * (now() - t);
    t = now();
    draw(W, b, &rng);   /* the first random W of the search */
    if (s == TG_OK) s = gradient_descent(g, &train, K, W, b, &gd);
    if (s == TG_OK) s = accuracy(g, &test, W, b, &gd.accuracy);
    gd.ms = 1e3 * (now() - t);
    if (s != TG_OK) {
        fail(tg_last_error());
        goto done;
    }
    print_progress(&rs, &gd, K);
    printf("\n%-18s %-12s %s\n", "", "train loss", "test accuracy");
    printf("%-18s %-12.6f %.1f%%\n", "chance", log((double)C), 100.0 / C);
    for (const run *r = &rs; r; r = r == &rs ? &gd : NULL) {
        printf("%-18s %-12.6f %.1f%%\n", r->name, r->kept, 100 * r->accuracy);
        fprintf(stderr, "time: %s %.0f ms\n", r->name, r->ms);
    }
    printf("(the lecture, on CIFAR-10: random search 15.5%%, the state of the art 95%%)\n");
    if (f) write_curves(f, &rs, &gd, K);
    rc = 0;
done:
    if (f && fclose(f) != 0 && rc == 0) {
        fprintf(stderr, "random_search: cannot write %s\n", path);
        rc = 1;
    }
    free(losses);
    tg_tensor_free(W), tg_tensor_free(b), tg_tensor_free(best_W), tg_tensor_free(best_b);
    tg_graph_free(g);
    split_free(&train);
    split_free(&test);
    return rc;
}
