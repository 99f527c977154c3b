/* fuzz_dataset.c — a dataset directory (tg_dataset_load): the input is an
 * image file and a label file, the first four bytes (little-endian) giving
 * the image file's length. Whatever loads must be safe to batch. */
#include <stdlib.h>
#include <string.h>

#include <tg.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4) return 0;
    size_t images = (size_t)data[0] | (size_t)data[1] << 8 | (size_t)data[2] << 16 | (size_t)data[3] << 24;
    data += 4, size -= 4;
    if (images > size) images = size;
    if (!fuzz_file("train-images-idx3-ubyte", data, images) ||
        !fuzz_file("train-labels-idx1-ubyte", data + images, size - images))
        return 0;
    tg_clear_error();
    tg_dataset d;
    if (tg_dataset_load(fuzz_dir(), true, &d) != TG_OK) {
        fuzz_expect_message("tg_dataset_load");
        return 0;
    }
    /* The first and the last example, as a batch of two. */
    int rows[2] = {0, d.n - 1}, labels[2];
    float *x = malloc(2 * (size_t)d.rows * d.cols * sizeof *x);
    if (x) tg_dataset_batch(&d, rows, 2, 0.0f, 1.0f, x, labels);
    for (int i = 0; x && i < 2; i++)
        if (labels[i] < 0 || labels[i] >= d.n_classes) __builtin_trap();
    float mean, std;
    tg_dataset_stats(&d, &mean, &std);
    free(x);
    tg_dataset_free(&d);
    return 0;
}
