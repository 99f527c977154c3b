/* tg_tinydata.h — a tiny FashionMNIST-shaped data set on disk, for tests
 * that run the tg command many times (tg train --data-dir DIR): n 28x28
 * images per split, labels cycling through the ten classes, pixels from a
 * fixed pattern with a class-dependent stripe so a model can learn
 * something. Training files gzip-compressed when gz, test files raw. */
#ifndef TG_TINYDATA_H
#define TG_TINYDATA_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

#include "tg_test.h"

static inline void tiny_idx(const char *path, bool gz, int ndim, const uint32_t *dims, const unsigned char *data,
                            size_t n)
{
    unsigned char head[4 + 4 * 4] = {0, 0, 0x08, (unsigned char)ndim};
    for (int d = 0; d < ndim; d++)
        for (int b = 0; b < 4; b++) head[4 + 4 * d + b] = (unsigned char)(dims[d] >> (24 - 8 * b));
    size_t head_len = 4 + 4 * (size_t)ndim;
    if (gz) {
        gzFile f = gzopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(gzwrite(f, head, (unsigned)head_len), (int)head_len);
        ck_assert_int_eq(gzwrite(f, data, (unsigned)n), (int)n);
        ck_assert_int_eq(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(head, 1, head_len, f), head_len);
        ck_assert_uint_eq(fwrite(data, 1, n, f), n);
        ck_assert_int_eq(fclose(f), 0);
    }
}

static inline void write_tiny_dataset(const char *dir_path, int n, bool gz)
{
    unsigned char *images = malloc((size_t)n * 784), *labels = malloc((size_t)n);
    ck_assert(images && labels);
    for (int split = 0; split < 2; split++) {
        for (int i = 0; i < n; i++) {
            labels[i] = (unsigned char)((i + split) % 10);
            for (int p = 0; p < 784; p++) {
                int row = p / 28, stripe = row / 3 == labels[i];
                images[(size_t)i * 784 + p] = (unsigned char)(stripe ? 200 + (p * 7 + i) % 56 : (p * 13 + i * 5) % 60);
            }
        }
        char path[512];
        const char *prefix = split ? "t10k" : "train";
        snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte%s", dir_path, prefix, gz && !split ? ".gz" : "");
        tiny_idx(path, gz && !split, 3, (uint32_t[]){(uint32_t)n, 28, 28}, images, (size_t)n * 784);
        snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte%s", dir_path, prefix, gz && !split ? ".gz" : "");
        tiny_idx(path, gz && !split, 1, (uint32_t[]){(uint32_t)n}, labels, (size_t)n);
    }
    free(images);
    free(labels);
}

#endif /* TG_TINYDATA_H */
