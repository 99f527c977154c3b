/* evaluate.c — `tg eval` (test loss, accuracy, per-class accuracy and the
 * confusion matrix of a checkpoint or a safetensors state dict), `tg
 * predict` (the top classes of image files) and `tg export` (a
 * checkpoint's model as a safetensors state dict PyTorch loads). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "session.h"

typedef struct eval_metrics {
    const eval_result *r;
    const long *confusion;
    int classes;
} eval_metrics;

static tg_status eval_json(FILE *f, void *ctx)
{
    const eval_metrics *m = ctx;
    int classes = m->classes;
    const long *confusion = m->confusion;
    fprintf(f, "{\n  \"test_loss\": %.9g,\n  \"test_accuracy\": %.9g,\n  \"per_class_accuracy\": [", m->r->loss,
            m->r->accuracy);
    for (int k = 0; k < classes; k++) {
        long row = 0;
        for (int j = 0; j < classes; j++) row += confusion[k * classes + j];
        fprintf(f, "%s%.9g", k ? ", " : "", row ? (double)confusion[k * classes + k] / row : 0.0);
    }
    fprintf(f, "],\n  \"confusion\": [");
    for (int k = 0; k < classes; k++) {
        fprintf(f, "%s[", k ? ", " : "");
        for (int j = 0; j < classes; j++) fprintf(f, "%s%ld", j ? ", " : "", confusion[k * classes + j]);
        fprintf(f, "]");
    }
    fprintf(f, "],\n  \"seconds\": %.3f\n}\n", m->r->seconds);
    return TG_OK;
}

static bool write_eval_metrics(const char *path, const eval_result *r, const long *confusion, int classes)
{
    eval_metrics m = {r, confusion, classes};
    if (tg_file_write_atomic(path, "the metrics", eval_json, &m) == TG_OK) return true;
    fprintf(stderr, "tg eval: %s\n", tg_last_error());
    return false;
}

static void print_confusion(const train_config *c, const long *confusion, int classes)
{
    printf("\n%-12s %9s   confusion (rows: true class, columns: predicted)\n", "class", "accuracy");
    for (int k = 0; k < classes; k++) {
        long row = 0;
        for (int j = 0; j < classes; j++) row += confusion[k * classes + j];
        printf("%-12s %8.2f%%  ", class_name(c, k), row ? 100.0 * confusion[k * classes + k] / row : 0.0);
        for (int j = 0; j < classes; j++) printf(" %5ld", confusion[k * classes + j]);
        printf("\n");
    }
}

/* Test images side by side as text (two pixels a character, darker to
 * lighter " .:-=+*#%@"), each with its true class and the model's guess.
 * False after a message when they could not all be drawn (no memory, a
 * failed op): the pictures asked for are part of the answer. */
static bool show_images(const session *s, const train_config *c, const tg_dataset *d, int n)
{
    enum { PER_ROW = 4 };
    static const char shades[] = " .:-=+*#%@";
    const int W = d->cols, H = d->rows, pixels = d->channels * H * W, classes = d->n_classes;
    float *x = malloc((size_t)PER_ROW * pixels * sizeof *x);
    int y[PER_ROW], rows[PER_ROW], pred[PER_ROW];
    float conf[PER_ROW];
    tg_graph *g = tg_graph_new();
    tg_graph_set_grad(g, false);
    tg_module_train(s->model, false);
    bool ok = g && x;
    for (int start = 0; ok && start < n; start += PER_ROW) {
        int m = n - start < PER_ROW ? n - start : PER_ROW;
        for (int i = 0; i < m; i++) rows[i] = (start + i) * 997 % d->n; /* spread over the set */
        ok = tg_dataset_batch(d, rows, m, s->mean, s->std, x, y) == TG_OK;
        tg_tensor *in = ok ? tg_from_blob(g, x, TG_SHAPE(m, d->channels, H, W)) : NULL;
        tg_tensor *p = tg_softmax(g, tg_module_forward(s->model, g, in), 1);
        ok = p && tg_argmax(p, 1, pred) == TG_OK;
        if (!ok) break;
        for (int i = 0; i < m; i++) conf[i] = p->data[i * classes + pred[i]];
        printf("\n");
        for (int r = 0; r + 1 < H; r += 2) { /* the first channel, two rows a line */
            for (int i = 0; i < m; i++) {
                const unsigned char *img = d->images + (size_t)rows[i] * pixels;
                for (int col = 0; col < W; col++) {
                    int v = (img[r * W + col] + img[(r + 1) * W + col]) / 2;
                    putchar(shades[v * 9 / 255]);
                }
                printf("    ");
            }
            printf("\n");
        }
        for (int i = 0; i < m; i++) printf("true: %-21s    ", class_name(c, y[i]));
        printf("\n");
        for (int i = 0; i < m; i++) {
            char guess[40];
            snprintf(guess, sizeof guess, "%s %.0f%%%s", class_name(c, pred[i]), 100 * conf[i], pred[i] == y[i] ? "" : " (wrong)");
            printf("tg:   %-21s    ", guess);
        }
        printf("\n");
        tg_graph_reset(g);
    }
    if (!ok) fprintf(stderr, "tg eval: --show: %s\n", x ? tg_last_error() : "out of memory");
    tg_graph_free(g);
    free(x);
    return ok;
}

int cmd_eval(int argc, char **argv)
{
    if (argc < 1 || argv[0][0] == '-') {
        fprintf(stderr, "usage: tg eval CHECKPOINT|FILE.safetensors [--model SPEC] [--dataset fashion-mnist|mnist] "
                        "[--data-dir DIR] [--metrics FILE.json] [--show N] [--threads N] [--check-numerics]\n");
        return EXIT_USAGE;
    }
    run_paths p = {0};
    const char *dataset = NULL, *model = NULL;
    uint64_t show = 0;
    for (int i = 1; i < argc; i++) {
        int used = paths_flag(&p, argc, argv, &i);
        if (!used && !strcmp(argv[i], "--dataset") && i + 1 < argc) dataset = argv[++i], used = 1;
        if (!used && !strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i], used = 1;
        if (!used && !strcmp(argv[i], "--show")) {
            if (!arg_u64("--show", i + 1 < argc ? argv[i + 1] : NULL, &show) || show > 100) return EXIT_USAGE;
            i++, used = 1;
        }
        if (used < 0) return EXIT_USAGE;
        if (!used || p.save || p.resume || p.log || p.init) {
            fprintf(stderr, "tg eval: unknown option '%s'\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (cli_parse_only) return EXIT_OK;
    train_config c;
    session s;
    if (!session_open(argv[0], model, dataset, &c, &s)) return EXIT_FAIL;
    tg_dataset test;
    if (!load_dataset(&c, data_dir_for(&c, &p), false, &test)) {
        session_free(&s);
        return EXIT_FAIL;
    }
    int *rows = malloc((size_t)test.n * sizeof *rows);
    long *confusion = calloc((size_t)test.n_classes * test.n_classes, sizeof *confusion);
    int code = EXIT_FAIL;
    eval_result r;
    if (rows && confusion) {
        for (int i = 0; i < test.n; i++) rows[i] = i;
        if (evaluate(&s, &test, rows, test.n, &r, confusion)) {
            printf("%s test set: %d images, loss %.4f, accuracy %.2f%%\n", c.dataset, test.n, r.loss, 100 * r.accuracy);
            print_confusion(&c, confusion, test.n_classes);
            bool shown = !show || show_images(&s, &c, &test, (int)show);
            bool written = !p.metrics || write_eval_metrics(p.metrics, &r, confusion, test.n_classes);
            code = shown && written ? EXIT_OK : EXIT_FAIL;
        }
    } else {
        fprintf(stderr, "tg eval: out of memory\n");
    }
    free(rows);
    free(confusion);
    tg_dataset_free(&test);
    session_free(&s);
    return code;
}

/* ---- predict ---- */

/* Prints the three likeliest classes of one image; false after a message. */
/* The image is read at the data set's size (tg_image_load: grey, as
 * FashionMNIST's); x holds height * width floats. */
static bool predict_one(const session *s, const train_config *c, tg_graph *g, const char *path, float *x)
{
    const tg_dataset_info *d = dataset_of(c);
    int pixels = d->shape.height * d->shape.width;
    if (tg_image_load(path, d->shape.height, d->shape.width, x) != TG_OK) {
        fprintf(stderr, "tg predict: %s\n", tg_last_error());
        return false;
    }
    for (int i = 0; i < pixels; i++) x[i] = (x[i] - s->mean) / s->std;
    tg_graph_reset(g);
    tg_tensor *in = tg_from_blob(g, x, TG_SHAPE(1, 1, d->shape.height, d->shape.width));
    tg_tensor *p = tg_softmax(g, tg_module_forward(s->model, g, in), 1);
    if (!p) {
        fprintf(stderr, "tg predict: %s\n", tg_last_error());
        return false;
    }
    printf("%s:", path);
    int shown[3];
    for (int rank = 0; rank < 3 && rank < d->n_classes; rank++) {
        int best = -1;
        for (int k = 0; k < d->n_classes; k++) {
            bool taken = false;
            for (int j = 0; j < rank; j++) taken |= shown[j] == k;
            if (!taken && (best < 0 || p->data[k] > p->data[best])) best = k;
        }
        shown[rank] = best;
        printf("  %d. %s %.1f%%", rank + 1, class_name(c, best), 100.0 * p->data[best]);
    }
    printf("\n");
    return true;
}

int cmd_predict(int argc, char **argv)
{
    const char *model = NULL;
    if (argc >= 3 && !strcmp(argv[1], "--model")) { /* tg predict FILE.safetensors --model SPEC IMAGE... */
        model = argv[2];
        argv[2] = argv[0], argv += 2, argc -= 2;
    }
    if (argc < 2 || argv[0][0] == '-') {
        fprintf(stderr, "usage: tg predict CHECKPOINT|FILE.safetensors [--model SPEC] IMAGE...\n");
        return EXIT_USAGE;
    }
    if (cli_parse_only) return EXIT_OK;
    train_config c;
    session s;
    if (!session_open(argv[0], model, NULL, &c, &s)) return EXIT_FAIL;
    const tg_dataset_info *d = dataset_of(&c);
    if (d->shape.channels != 1) {
        fprintf(stderr, "tg predict: %s has %d channels; tg predict reads grey images\n", d->name, d->shape.channels);
        session_free(&s);
        return EXIT_FAIL;
    }
    tg_graph *g = tg_graph_new();
    float *x = malloc((size_t)d->shape.height * d->shape.width * sizeof *x);
    if (!g || !x) {
        fprintf(stderr, "tg predict: %s\n", g ? "out of memory" : tg_last_error());
        tg_graph_free(g);
        free(x);
        session_free(&s);
        return EXIT_FAIL;
    }
    tg_graph_set_grad(g, false);
    tg_module_train(s.model, false);
    int failed = 0;
    for (int i = 1; i < argc; i++) failed += !predict_one(&s, &c, g, argv[i], x);
    tg_graph_free(g);
    free(x);
    session_free(&s);
    return failed ? EXIT_FAIL : EXIT_OK;
}

/* ---- export ---- */

int cmd_export(int argc, char **argv)
{
    if (argc != 2 || argv[0][0] == '-' || argv[1][0] == '-') {
        fprintf(stderr, "usage: tg export CHECKPOINT OUT.safetensors\n");
        return EXIT_USAGE;
    }
    if (cli_parse_only) return EXIT_OK;
    train_config c;
    session s;
    if (!session_open(argv[0], NULL, NULL, &c, &s)) return EXIT_FAIL;
    tg_status st = session_export(&s, &c, argv[1]);
    if (st != TG_OK) fprintf(stderr, "tg export: %s\n", tg_last_error());
    else printf("%s: %d tensors of %s, under torch's keys\n", argv[1], tg_module_state_size(s.model), argv[0]);
    session_free(&s);
    return st == TG_OK ? EXIT_OK : EXIT_FAIL;
}
