/* mnist.c — MNIST-format image sets (FashionMNIST, MNIST) as bytes, and
 * their conversion to float batches. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tg.h>

#include "../src/kernels/kernels.h"

static const char *const fashion_classes[10] = {"t-shirt/top", "trouser", "pullover", "dress", "coat",
                                                "sandal",      "shirt",   "sneaker",  "bag",   "ankle boot"};

static const char *const digit_classes[10] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};

const char *tg_fashion_mnist_class(int c) { return c >= 0 && c < 10 ? fashion_classes[c] : "?"; }

const char *tg_dataset_class_name(const tg_dataset *d, int k)
{
    if (!d || k < 0 || k >= d->n_classes) return "?";
    if (d->class_names) return d->class_names[k];
    return k < 10 ? digit_classes[k] : "?";
}

/* ---- the known sets ---- */

static const tg_dataset_info known[] = {
    {"fashion-mnist", "/usr/share/datasets/fashion-mnist", {1, 28, 28}, 10, fashion_classes},
    {"mnist", "/usr/share/datasets/mnist", {1, 28, 28}, 10, digit_classes},
};
enum { N_KNOWN = sizeof known / sizeof known[0] };

int tg_dataset_kinds(const tg_dataset_info **kinds, int max)
{
    for (int i = 0; kinds && i < N_KNOWN && i < max; i++) kinds[i] = &known[i];
    return N_KNOWN;
}

const tg_dataset_info *tg_dataset_find(const char *name)
{
    for (int i = 0; name && i < N_KNOWN; i++)
        if (!strcmp(known[i].name, name)) return &known[i];
    tg_set_error("no data set '%s': tg knows fashion-mnist and mnist", name ? name : "(null)");
    return NULL;
}

tg_status tg_dataset_open(const tg_dataset_info *info, const char *dir, bool train, tg_dataset *out)
{
    if (!info) {
        tg_set_error("tg_dataset_open: info is NULL");
        return TG_ERR_ARG;
    }
    tg_status s = tg_dataset_load(dir ? dir : info->default_dir, train, out);
    if (s != TG_OK) return s;
    if (out->channels != info->shape.channels || out->rows != info->shape.height || out->cols != info->shape.width) {
        tg_set_error("%s: images of %d x %d x %d where %s has %d x %d x %d", dir ? dir : info->default_dir,
                     out->channels, out->rows, out->cols, info->name, info->shape.channels, info->shape.height,
                     info->shape.width);
        tg_dataset_free(out);
        return TG_ERR_FORMAT;
    }
    out->class_names = info->class_names;
    return TG_OK;
}

/* dir/name.gz if it exists, else dir/name. */
static void find_file(const char *dir, const char *name, char *path, size_t size)
{
    snprintf(path, size, "%s/%s.gz", dir, name);
    FILE *f = fopen(path, "rb");
    if (f)
        fclose(f);
    else
        snprintf(path, size, "%s/%s", dir, name);
}

static tg_status load_file(const char *dir, const char *name, tg_idx *idx)
{
    char path[4096];
    find_file(dir, name, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f) {
        tg_set_error("%s/%s[.gz]: no such file: the directory %s does not hold the data set's four IDX files "
                     "(Debian's dataset-fashion-mnist puts them in /usr/share/datasets/fashion-mnist)",
                     dir, name, dir);
        return TG_ERR_IO;
    }
    fclose(f);
    return tg_idx_load(path, idx);
}

tg_status tg_dataset_load(const char *dir, bool train, tg_dataset *out)
{
    if (!dir || !out) {
        tg_set_error("tg_dataset_load: %s is NULL", dir ? "output" : "dir");
        return TG_ERR_ARG;
    }
    memset(out, 0, sizeof *out);
    const char *images_name = train ? "train-images-idx3-ubyte" : "t10k-images-idx3-ubyte";
    const char *labels_name = train ? "train-labels-idx1-ubyte" : "t10k-labels-idx1-ubyte";
    tg_idx images = {0}, labels = {0};
    tg_status s = load_file(dir, images_name, &images);
    if (s == TG_OK) s = load_file(dir, labels_name, &labels);
    if (s == TG_OK && images.ndim != 3) {
        tg_set_error("%s/%s: %d dimensions where images need 3 (count, rows, columns)", dir, images_name, images.ndim);
        s = TG_ERR_FORMAT;
    }
    if (s == TG_OK && labels.ndim != 1) {
        tg_set_error("%s/%s: %d dimensions where labels need 1", dir, labels_name, labels.ndim);
        s = TG_ERR_FORMAT;
    }
    if (s == TG_OK && images.dims[0] != labels.dims[0]) {
        tg_set_error("%s: %d images but %d labels", dir, images.dims[0], labels.dims[0]);
        s = TG_ERR_FORMAT;
    }
    for (size_t i = 0; s == TG_OK && i < labels.size; i++)
        if (labels.data[i] >= 10) {
            tg_set_error("%s/%s: label %zu is %d; classes are 0 to 9", dir, labels_name, i, labels.data[i]);
            s = TG_ERR_FORMAT;
        }
    if (s != TG_OK) {
        tg_idx_free(&images);
        tg_idx_free(&labels);
        return s;
    }
    *out = (tg_dataset){.n = images.dims[0], .channels = 1, .rows = images.dims[1], .cols = images.dims[2],
                        .n_classes = 10, .images = images.data, .labels = labels.data};
    return TG_OK;
}

void tg_dataset_free(tg_dataset *d)
{
    if (!d) return;
    free(d->images);
    free(d->labels);
    memset(d, 0, sizeof *d);
}

/* Row i of a batch: rows[i], or first + i when rows is NULL. */
static int row_of(const int *rows, int first, int i) { return rows ? rows[i] : first + i; }

static tg_status gather(const char *fn, const tg_dataset *d, const int *rows, int first, int n, float mean,
                        float std, float *x, int *y);

tg_status tg_dataset_batch(const tg_dataset *d, const int *rows, int n, float mean, float std, float *x, int *y)
{
    if (!rows) {
        tg_set_error("tg_dataset_batch: rows is NULL");
        return TG_ERR_ARG;
    }
    return gather("tg_dataset_batch", d, rows, 0, n, mean, std, x, y);
}

tg_status tg_dataset_slice(const tg_dataset *d, int first, int n, float mean, float std, float *x, int *y)
{
    if (d && (first < 0 || n < 0 || first > d->n - n)) {
        tg_set_error("tg_dataset_slice: rows [%d, %d) are outside the data set's rows [0, %d)", first, first + n, d->n);
        return TG_ERR_ARG;
    }
    return gather("tg_dataset_slice", d, NULL, first, n, mean, std, x, y);
}

typedef struct gather_job {
    const tg_dataset *d;
    const int *rows;
    int first, n;
    size_t pixels;
    float scale, shift;
    float *x;
    int *y;
} gather_job;

/* Rows [t n / count, (t + 1) n / count) of the batch, task t. */
static void gather_task(void *ctx, int t, int count)
{
    const gather_job *j = ctx;
    int i0 = (int)((long)t * j->n / count), i1 = (int)((long)(t + 1) * j->n / count);
    enum { AHEAD = 4 }; /* rows fetched ahead: a shuffled batch's rows are cache misses, one 64-byte line at a time */
    for (int i = i0; i < i1; i++) {
        if (i + AHEAD < i1) {
            const unsigned char *next = j->d->images + (size_t)row_of(j->rows, j->first, i + AHEAD) * j->pixels;
            for (size_t k = 0; k < j->pixels; k += 64) __builtin_prefetch(next + k);
        }
        int row = row_of(j->rows, j->first, i);
        tg__k_bytes_to_floats(j->pixels, j->d->images + (size_t)row * j->pixels, j->scale, j->shift,
                              j->x + (size_t)i * j->pixels);
        if (j->y) j->y[i] = j->d->labels[row];
    }
}

static tg_status gather(const char *fn, const tg_dataset *d, const int *rows, int first, int n, float mean,
                        float std, float *x, int *y)
{
    if (!d || !x || n < 0) {
        tg_set_error("%s: %s", fn, !d ? "data set is NULL" : !x ? "x is NULL" : "n is negative");
        return TG_ERR_ARG;
    }
    if (!(std > 0.0f)) {
        tg_set_error("%s: std %g: must be positive", fn, std);
        return TG_ERR_ARG;
    }
    if (d->channels <= 0 || d->rows <= 0 || d->cols <= 0) {
        tg_set_error("%s: images of %d x %d x %d: channels, rows and columns must be positive", fn, d->channels,
                     d->rows, d->cols);
        return TG_ERR_ARG;
    }
    for (int i = 0; rows && i < n; i++)
        if (rows[i] < 0 || rows[i] >= d->n) {
            tg_set_error("%s: rows[%d] is %d, outside the data set's rows [0, %d)", fn, i, rows[i], d->n);
            return TG_ERR_ARG;
        }
    size_t pixels = (size_t)d->channels * d->rows * d->cols;
    /* (p / 255 - mean) / std as one multiply-add per pixel */
    gather_job j = {d, rows, first, n, pixels, 1.0f / (255.0f * std), -mean / std, x, y};
    /* each pixel converted alone: the same bits on any number of threads */
    int tasks = (size_t)n * pixels < TG__SLICE_MIN ? 1 : tg_threads() < n ? tg_threads() : n;
    tg__parallel_run(tasks, gather_task, &j);
    return TG_OK;
}

void tg_dataset_stats(const tg_dataset *d, float *mean, float *std)
{
    size_t n = (size_t)d->n * d->channels * d->rows * d->cols;
    double sum = 0.0, sum_sq = 0.0;
    for (size_t i = 0; i < n; i++) {
        double v = d->images[i] / 255.0;
        sum += v;
        sum_sq += v * v;
    }
    double m = n ? sum / n : 0.0;
    *mean = (float)m;
    *std = n ? (float)sqrt(fmax(sum_sq / n - m * m, 0.0)) : 1.0f;
}
