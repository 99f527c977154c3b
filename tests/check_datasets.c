/* check_datasets.c — IDX files, MNIST-format datasets, and image files.
 * Fixtures are written at run time into a fresh directory under /tmp: IDX
 * files built byte by byte from the format (LeCun's MNIST page), gzipped with
 * zlib, and images written with stb_image_write. The real FashionMNIST comes
 * from Debian's dataset-fashion-mnist, checked against a plain zlib read of
 * its files and against what Zalando publishes about it. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <stdint.h>
#include <stdio.h>
#include <zlib.h>

#include <stb_image_write.h>

#include "tg_scratch.h"

#define DATA_DIR "/usr/share/datasets/fashion-mnist"

/* Under AddressSanitizer (make check SANITIZE=1) any allocation above 256 MB
 * aborts the program instead of succeeding lazily: the largest this program
 * needs is FashionMNIST's 47 MB of training images, and the point is to catch
 * a reader that believes a header claiming hundreds of megabytes. Without
 * ASan this function is never called. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "max_allocation_size_mb=256:allocator_may_return_null=0"; }

/* A test's file contents, freed after it even when it fails. */
static unsigned char *fixture;

static void remove_dir_and_fixture(void)
{
    remove_dir();
    free(fixture);
    fixture = NULL;
}

/* ---- writing fixtures ---- */

/* n bytes to path, through gzip when gz. */
static void write_bytes(const char *path, const void *p, size_t n, bool gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        if (n) ck_assert_int_eq(gzwrite(f, p, (unsigned)n), (int)n);
        ck_assert_int_eq(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(p, 1, n, f), n);
        ck_assert_int_eq(fclose(f), 0);
    }
}

/* An IDX file: bytes 0, 0, type, ndim, ndim big-endian u32 sizes, then n
 * data bytes (n need not match the sizes: that is how corrupt files are made). */
static void write_idx(const char *path, bool gz, unsigned char type, int ndim, const uint32_t *dims,
                      const unsigned char *data, size_t n)
{
    size_t head = 4 + 4 * (size_t)ndim;
    unsigned char *b = malloc(head + n + 1);
    ck_assert_ptr_nonnull(b);
    b[0] = 0, b[1] = 0, b[2] = type, b[3] = (unsigned char)ndim;
    for (int d = 0; d < ndim; d++)
        for (int k = 0; k < 4; k++) b[4 + 4 * d + k] = (unsigned char)(dims[d] >> (24 - 8 * k));
    if (n) memcpy(b + head, data, n);
    write_bytes(path, b, head + n, gz);
    free(b);
}

/* n bytes that differ from each other and from their neighbours. */
static void fill_pattern(unsigned char *p, size_t n, unsigned seed)
{
    uint32_t x = 2463534242u ^ seed;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5; /* xorshift32 */
        p[i] = (unsigned char)(x >> 24);
    }
}

/* tg_idx_load(path) fails with status s, and its message names the file
 * and contains why. */
static void assert_idx_refused(const char *path, tg_status s, const char *why)
{
    tg_idx idx;
    tg_clear_error();
    ck_assert_int_eq(tg_idx_load(path, &idx), s);
    ck_assert_ptr_null(idx.data);
    ck_assert_error_has(path);
    if (why) ck_assert_error_has(why);
}

/* ---- IDX: valid files ---- */

START_TEST(test_idx_loads_raw_and_gzip)
{
    /* 5 images of 4 x 3 and their 5 labels, each written raw and gzipped */
    unsigned char images[5 * 4 * 3], labels[5] = {3, 0, 9, 1, 7};
    fill_pattern(images, sizeof images, 1);
    const uint32_t image_dims[] = {5, 4, 3}, label_dims[] = {5};
    for (int gz = 0; gz <= 1; gz++) {
        const char *ip = in_dir(gz ? "images.gz" : "images"), *lp = in_dir(gz ? "labels.gz" : "labels");
        write_idx(ip, gz, 0x08, 3, image_dims, images, sizeof images);
        write_idx(lp, gz, 0x08, 1, label_dims, labels, sizeof labels);
        tg_idx idx;
        ck_assert_int_eq(tg_idx_load(ip, &idx), TG_OK);
        ck_assert_int_eq(idx.ndim, 3);
        ck_assert_int_eq(idx.dims[0], 5);
        ck_assert_int_eq(idx.dims[1], 4);
        ck_assert_int_eq(idx.dims[2], 3);
        ck_assert_uint_eq(idx.size, sizeof images);
        ck_assert_mem_eq(idx.data, images, sizeof images);
        tg_idx_free(&idx);
        ck_assert_ptr_null(idx.data);
        ck_assert_int_eq(tg_idx_load(lp, &idx), TG_OK);
        ck_assert_int_eq(idx.ndim, 1);
        ck_assert_int_eq(idx.dims[0], 5);
        ck_assert_uint_eq(idx.size, 5);
        ck_assert_mem_eq(idx.data, labels, sizeof labels);
        tg_idx_free(&idx);
    }
    /* the raw and the gzip file give the same result, field by field */
    tg_idx raw, gz;
    ck_assert_int_eq(tg_idx_load(in_dir("images"), &raw), TG_OK);
    ck_assert_int_eq(tg_idx_load(in_dir("images.gz"), &gz), TG_OK);
    ck_assert_int_eq(raw.ndim, gz.ndim);
    ck_assert_mem_eq(raw.dims, gz.dims, sizeof raw.dims);
    ck_assert_uint_eq(raw.size, gz.size);
    ck_assert_mem_eq(raw.data, gz.data, raw.size);
    tg_idx_free(&raw);
    tg_idx_free(&gz);
    tg_idx_free(NULL); /* harmless, as free(NULL) */
}
END_TEST

START_TEST(test_idx_loads_one_to_four_dimensions)
{
    const uint32_t dims[4] = {2, 3, 1, 4};
    unsigned char data[24];
    fill_pattern(data, sizeof data, 2);
    for (int nd = 1; nd <= 4; nd++) {
        size_t size = 1;
        for (int d = 0; d < nd; d++) size *= dims[d];
        write_idx(in_dir("x"), false, 0x08, nd, dims, data, size);
        tg_idx idx;
        ck_assert_int_eq(tg_idx_load(in_dir("x"), &idx), TG_OK);
        ck_assert_int_eq(idx.ndim, nd);
        for (int d = 0; d < nd; d++) ck_assert_int_eq(idx.dims[d], (int)dims[d]);
        ck_assert_uint_eq(idx.size, size);
        ck_assert_mem_eq(idx.data, data, size);
        tg_idx_free(&idx);
    }
}
END_TEST

/* ---- IDX: corrupt files, each refused with its reason ---- */

START_TEST(test_idx_rejects_bad_magic)
{
    unsigned char data[6] = {1, 2, 3, 4, 5, 6};
    const uint32_t dims[] = {2, 3};
    for (int gz = 0; gz <= 1; gz++) {
        const char *p = in_dir("bad");
        /* first byte, then second byte not zero */
        for (int at = 0; at < 2; at++) {
            unsigned char b[4 + 8 + 6] = {0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6};
            b[at] = 0x42;
            write_bytes(p, b, sizeof b, gz);
            assert_idx_refused(p, TG_ERR_FORMAT, "not an IDX file");
        }
        /* 0 and more than 4 dimensions */
        write_idx(p, gz, 0x08, 0, dims, data, sizeof data);
        assert_idx_refused(p, TG_ERR_FORMAT, "not an IDX file");
        const uint32_t five[5] = {1, 1, 1, 2, 3};
        write_idx(p, gz, 0x08, 5, five, data, sizeof data);
        assert_idx_refused(p, TG_ERR_FORMAT, "not an IDX file");
        /* text is not IDX either */
        const char text[] = "hello, I am a text file\n";
        write_bytes(p, text, strlen(text), gz);
        assert_idx_refused(p, TG_ERR_FORMAT, "not an IDX file");
    }
}
END_TEST

START_TEST(test_idx_rejects_unsupported_type)
{
    /* 0x0D is float32 in the IDX format: a valid file, but not bytes */
    float values[6] = {0};
    const uint32_t dims[] = {2, 3};
    write_idx(in_dir("f32"), false, 0x0D, 2, dims, (const unsigned char *)values, sizeof values);
    assert_idx_refused(in_dir("f32"), TG_ERR_FORMAT, "IDX type 0x0d is not supported");
    write_idx(in_dir("s8"), true, 0x09, 2, dims, (const unsigned char *)values, 6);
    assert_idx_refused(in_dir("s8"), TG_ERR_FORMAT, "IDX type 0x09 is not supported");
}
END_TEST

START_TEST(test_idx_rejects_zero_dimension)
{
    const uint32_t first[] = {0, 4, 3}, second[] = {5, 0, 3};
    unsigned char data[60] = {0};
    write_idx(in_dir("a"), false, 0x08, 3, first, data, 0);
    assert_idx_refused(in_dir("a"), TG_ERR_FORMAT, "dimension 0 has size 0");
    write_idx(in_dir("b"), true, 0x08, 3, second, data, sizeof data);
    assert_idx_refused(in_dir("b"), TG_ERR_FORMAT, "dimension 1 has size 0");
}
END_TEST

START_TEST(test_idx_rejects_truncated_header)
{
    const unsigned char full[16] = {0, 0, 0x08, 3, 0, 0, 0, 5, 0, 0, 0, 4, 0, 0, 0, 3};
    /* every cut inside the 16-byte header: 0 bytes (empty file) to 15 */
    for (size_t n = 0; n < sizeof full; n++)
        for (int gz = 0; gz <= 1; gz++) {
            write_bytes(in_dir("cut"), full, n, gz);
            assert_idx_refused(in_dir("cut"), TG_ERR_FORMAT, "truncated header");
        }
}
END_TEST

START_TEST(test_idx_rejects_truncated_data)
{
    unsigned char data[60];
    fill_pattern(data, sizeof data, 3);
    const uint32_t dims[] = {5, 4, 3}; /* 60 bytes promised */
    char want[128];
    const size_t holds[] = {0, 1, 50, 59};
    for (size_t i = 0; i < sizeof holds / sizeof holds[0]; i++)
        for (int gz = 0; gz <= 1; gz++) {
            write_idx(in_dir("short"), gz, 0x08, 3, dims, data, holds[i]);
            snprintf(want, sizeof want, "truncated: the header promises 60 bytes of data, the file holds %zu",
                     holds[i]);
            assert_idx_refused(in_dir("short"), TG_ERR_FORMAT, want);
        }
}
END_TEST

START_TEST(test_idx_rejects_trailing_bytes)
{
    unsigned char data[64];
    fill_pattern(data, sizeof data, 4);
    const uint32_t dims[] = {5, 4, 3}; /* 60 bytes promised */
    for (int gz = 0; gz <= 1; gz++) {
        write_idx(in_dir("long"), gz, 0x08, 3, dims, data, 61);
        assert_idx_refused(in_dir("long"), TG_ERR_FORMAT, "more data than the header's dimensions describe");
        write_idx(in_dir("long"), gz, 0x08, 3, dims, data, 64);
        assert_idx_refused(in_dir("long"), TG_ERR_FORMAT, "more data than the header's dimensions describe");
    }
}
END_TEST

/* A gzipped IDX file of n data bytes (written with zlib), read back raw
 * into fixture (freed after the test). */
static unsigned char *gzip_idx(size_t n, size_t *len)
{
    free(fixture);
    unsigned char *data = malloc(n);
    ck_assert_ptr_nonnull(data);
    /* bytes from a small alphabet: deflate codes them with Huffman codes, so
     * a changed bit changes what they decode to */
    fill_pattern(data, n, 5);
    for (size_t i = 0; i < n; i++) data[i] &= 0x0f;
    const uint32_t dims[] = {(uint32_t)n};
    write_idx(in_dir("good.gz"), true, 0x08, 1, dims, data, n);
    free(data);
    tg_idx idx;
    ck_assert_int_eq(tg_idx_load(in_dir("good.gz"), &idx), TG_OK); /* the uncorrupted file is fine */
    tg_idx_free(&idx);
    return fixture = read_file(in_dir("good.gz"), len);
}

/* A copy of gz (len bytes) with the byte at changed by xor, or cut to n
 * bytes, is refused. */
static void assert_gzip_refused(const unsigned char *gz, size_t len, size_t at, unsigned char xor, size_t n)
{
    unsigned char *bad = malloc(len);
    ck_assert_ptr_nonnull(bad);
    memcpy(bad, gz, len);
    if (at < len) bad[at] ^= xor;
    write_bytes(in_dir("bad.gz"), bad, n, false);
    free(bad);
    tg_idx idx;
    tg_clear_error();
    tg_status s = tg_idx_load(in_dir("bad.gz"), &idx);
    size_t size = idx.size;
    bool allocated = idx.data != NULL;
    tg_idx_free(&idx); /* before failing, so that a failure leaks nothing */
    ck_assert_msg(s == TG_ERR_FORMAT, "%zu bytes of %zu, byte %zu ^ 0x%02x: status %d, %zu bytes loaded (%s)", n,
                  len, at, xor, s, size, tg_last_error());
    ck_assert(!allocated);
    ck_assert_error_has(in_dir("bad.gz"));
}

/* Bytes flipped across the middle of the compressed data (between the
 * 10-byte gzip header and the 8-byte trailer) and in the trailer (CRC-32,
 * then the uncompressed length). gzip's CRC-32 is what catches a change
 * that still decodes to the right number of bytes. */
static void check_flips(size_t n)
{
    size_t len;
    unsigned char *gz = gzip_idx(n, &len);
    ck_assert_uint_gt(len, 100);
    for (size_t at = len / 4; at < 3 * len / 4; at += len / 40) {
        assert_gzip_refused(gz, len, at, 0xff, len);
        assert_gzip_refused(gz, len, at, 0x10, len);
    }
    for (size_t at = len - 8; at < len; at++) assert_gzip_refused(gz, len, at, 0x01, len);
}

/* A file small enough that zlib decodes all of it at the first read. */
START_TEST(test_idx_rejects_corrupt_gzip) { check_flips(3000); }
END_TEST

/* One that the reader takes in several reads, the last of them decoded
 * straight into its own memory (zlib does so for reads of 16 KB or more). */
START_TEST(test_idx_rejects_corrupt_large_gzip) { check_flips(60000); }
END_TEST

/* Cut anywhere before the end of the compressed data: every length for a
 * small file, 50 spread over a large one. */
START_TEST(test_idx_rejects_cut_gzip)
{
    const size_t sizes[] = {3000, 60000};
    for (int k = 0; k < 2; k++) {
        size_t len;
        unsigned char *gz = gzip_idx(sizes[k], &len);
        size_t step = k == 0 ? 1 : len / 50;
        for (size_t n = 0; n < len - 9; n += step) assert_gzip_refused(gz, len, len, 0, n);
    }
}
END_TEST

/* Cut in the last 9 bytes: the 8-byte trailer (CRC-32 and length) and the
 * compressed data's last byte. Every byte of data may have arrived, but the
 * stream is incomplete and unchecked (gzip -t: "unexpected end of file"). */
START_TEST(test_idx_rejects_gzip_without_trailer)
{
    const size_t sizes[] = {3000, 60000};
    for (int k = 0; k < 2; k++) {
        size_t len;
        unsigned char *gz = gzip_idx(sizes[k], &len);
        for (size_t n = len - 9; n < len; n++) assert_gzip_refused(gz, len, len, 0, n);
    }
}
END_TEST

/* A header may promise up to 2^40 bytes (dims it accepts as a size), and the
 * file hold a few. The reader must find the file short without first
 * allocating what the header promises: under make check SANITIZE=1 an
 * allocation of 784 MB or 1 TB aborts the program (the 256 MB limit set in
 * __asan_default_options above, and ASan's own 1 TB ceiling), so this test
 * passing there proves that nothing of that size was allocated. */
START_TEST(test_idx_huge_header_allocates_nothing)
{
    const uint32_t fashion[] = {1000000, 28, 28}, tera[] = {1024, 1024, 1024, 1024};
    const unsigned char data[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    for (int gz = 0; gz <= 1; gz++) {
        write_idx(in_dir("huge"), gz, 0x08, 3, fashion, data, sizeof data);
        assert_idx_refused(in_dir("huge"), TG_ERR_FORMAT,
                           "truncated: the header promises 784000000 bytes of data, the file holds 10");
        write_idx(in_dir("huge"), gz, 0x08, 4, tera, data, sizeof data);
        assert_idx_refused(in_dir("huge"), TG_ERR_FORMAT,
                           "truncated: the header promises 1099511627776 bytes of data, the file holds 10");
    }
}
END_TEST

START_TEST(test_idx_missing_file)
{
    assert_idx_refused(in_dir("no-such-file"), TG_ERR_IO, "cannot open");
    tg_idx idx;
    ck_assert_int_eq(tg_idx_load(NULL, &idx), TG_ERR_ARG);
    ck_assert_int_eq(tg_idx_load(in_dir("x"), NULL), TG_ERR_ARG);
}
END_TEST

/* ---- datasets in a directory ---- */

/* dir/<prefix>-images-idx3-ubyte and -labels-idx1-ubyte (".gz" when gz). */
static void write_set(const char *prefix, bool gz, int n_images, int rows, int cols, const unsigned char *images,
                      int n_labels, const unsigned char *labels)
{
    char name[64];
    const uint32_t idims[] = {(uint32_t)n_images, (uint32_t)rows, (uint32_t)cols}, ldims[] = {(uint32_t)n_labels};
    snprintf(name, sizeof name, "%s-images-idx3-ubyte%s", prefix, gz ? ".gz" : "");
    write_idx(in_dir(name), gz, 0x08, 3, idims, images, (size_t)n_images * rows * cols);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte%s", prefix, gz ? ".gz" : "");
    write_idx(in_dir(name), gz, 0x08, 1, ldims, labels, (size_t)n_labels);
}

START_TEST(test_dataset_load_names_the_directory_not_a_flag)
{
    /* The library has no flags: its message names the directory it tried
     * (the tg command adds its --data-dir hint, check_train.c). */
    tg_dataset d;
    ck_assert_int_eq(tg_dataset_load("/nonexistent/dir", false, &d), TG_ERR_IO);
    ck_assert_error_has("/nonexistent/dir/t10k-images-idx3-ubyte[.gz]: no such file");
    ck_assert_error_has("the directory /nonexistent/dir does not hold");
    ck_assert_msg(!strstr(tg_last_error(), "--"), "a command's flag in the library's message: %s", tg_last_error());
}
END_TEST

START_TEST(test_dataset_loads_train_and_test_sets)
{
    unsigned char train_images[5 * 4 * 3], train_labels[5] = {3, 0, 9, 1, 7};
    unsigned char test_images[2 * 4 * 3], test_labels[2] = {9, 2};
    fill_pattern(train_images, sizeof train_images, 6);
    fill_pattern(test_images, sizeof test_images, 7);
    write_set("train", false, 5, 4, 3, train_images, 5, train_labels);
    write_set("t10k", true, 2, 4, 3, test_images, 2, test_labels);
    tg_dataset d;
    ck_assert_int_eq(tg_dataset_load(dir, true, &d), TG_OK);
    ck_assert_int_eq(d.n, 5);
    ck_assert_int_eq(d.rows, 4);
    ck_assert_int_eq(d.cols, 3);
    ck_assert_int_eq(d.n_classes, 10);
    ck_assert_mem_eq(d.images, train_images, sizeof train_images);
    ck_assert_mem_eq(d.labels, train_labels, sizeof train_labels);
    tg_dataset_free(&d);
    ck_assert_ptr_null(d.images);
    ck_assert_int_eq(tg_dataset_load(dir, false, &d), TG_OK);
    ck_assert_int_eq(d.n, 2);
    ck_assert_int_eq(d.rows, 4);
    ck_assert_int_eq(d.cols, 3);
    ck_assert_mem_eq(d.images, test_images, sizeof test_images);
    ck_assert_mem_eq(d.labels, test_labels, sizeof test_labels);
    tg_dataset_free(&d);
    tg_dataset_free(NULL);
}
END_TEST

/* tg_dataset_load(dir, train) fails with status s and a message holding why. */
static void assert_dataset_refused(bool train, tg_status s, const char *why)
{
    tg_dataset d;
    tg_clear_error();
    ck_assert_int_eq(tg_dataset_load(dir, train, &d), s);
    ck_assert_ptr_null(d.images);
    ck_assert_ptr_null(d.labels);
    ck_assert_error_has(dir);
    ck_assert_error_has(why);
}

START_TEST(test_dataset_rejects_count_mismatch)
{
    unsigned char images[5 * 4 * 3] = {0}, labels[5] = {1, 2, 3, 4, 5};
    write_set("train", false, 5, 4, 3, images, 4, labels);
    assert_dataset_refused(true, TG_ERR_FORMAT, "5 images but 4 labels");
    write_set("t10k", true, 4, 4, 3, images, 5, labels);
    assert_dataset_refused(false, TG_ERR_FORMAT, "4 images but 5 labels");
}
END_TEST

START_TEST(test_dataset_rejects_bad_label)
{
    unsigned char images[5 * 4 * 3] = {0}, labels[5] = {1, 2, 9, 10, 0};
    write_set("train", false, 5, 4, 3, images, 5, labels);
    assert_dataset_refused(true, TG_ERR_FORMAT, "train-labels-idx1-ubyte: label 3 is 10");
    labels[3] = 4, labels[4] = 255;
    write_set("train", false, 5, 4, 3, images, 5, labels);
    assert_dataset_refused(true, TG_ERR_FORMAT, "label 4 is 255");
}
END_TEST

START_TEST(test_dataset_rejects_wrong_dimensions)
{
    unsigned char bytes[5 * 4 * 3] = {0};
    write_set("train", false, 5, 4, 3, bytes, 5, bytes);
    /* labels as (5, 1) */
    const uint32_t two[] = {5, 1}, flat[] = {60};
    write_idx(in_dir("train-labels-idx1-ubyte"), false, 0x08, 2, two, bytes, 5);
    assert_dataset_refused(true, TG_ERR_FORMAT, "train-labels-idx1-ubyte: 2 dimensions where labels need 1");
    /* images as one flat row */
    write_set("train", false, 5, 4, 3, bytes, 5, bytes);
    write_idx(in_dir("train-images-idx3-ubyte"), false, 0x08, 1, flat, bytes, 60);
    assert_dataset_refused(true, TG_ERR_FORMAT, "train-images-idx3-ubyte: 1 dimensions where images need 3");
}
END_TEST

START_TEST(test_dataset_missing_files)
{
    /* an empty directory, then one with the images but no labels */
    assert_dataset_refused(true, TG_ERR_IO, "train-images-idx3-ubyte");
    ck_assert_error_has("dataset-fashion-mnist");
    assert_dataset_refused(false, TG_ERR_IO, "t10k-images-idx3-ubyte");
    unsigned char images[4 * 3] = {0};
    const uint32_t dims[] = {1, 4, 3};
    write_idx(in_dir("t10k-images-idx3-ubyte.gz"), true, 0x08, 3, dims, images, sizeof images);
    assert_dataset_refused(false, TG_ERR_IO, "t10k-labels-idx1-ubyte");
    ck_assert_error_has("dataset-fashion-mnist");
    /* a corrupt file's own error comes through, naming it */
    write_bytes(in_dir("t10k-labels-idx1-ubyte"), "nonsense", 8, false);
    assert_dataset_refused(false, TG_ERR_FORMAT, "t10k-labels-idx1-ubyte: not an IDX file");
    tg_dataset d;
    ck_assert_int_eq(tg_dataset_load(NULL, true, &d), TG_ERR_ARG);
}
END_TEST

START_TEST(test_dataset_class_names)
{
    /* FashionMNIST's labels, from Zalando's README, in tg's lower case */
    const char *names[10] = {"t-shirt/top", "trouser", "pullover", "dress", "coat",
                             "sandal",      "shirt",   "sneaker",  "bag",   "ankle boot"};
    for (int c = 0; c < 10; c++) ck_assert_str_eq(tg_fashion_mnist_class(c), names[c]);
    ck_assert_str_eq(tg_fashion_mnist_class(-1), "?");
    ck_assert_str_eq(tg_fashion_mnist_class(10), "?");
}
END_TEST

START_TEST(test_dataset_known_sets_give_shape_and_names)
{
    const tg_dataset_info *sets[4];
    ck_assert_int_eq(tg_dataset_kinds(sets, 4), 2);
    const tg_dataset_info *f = tg_dataset_find("fashion-mnist"), *m = tg_dataset_find("mnist");
    ck_assert_ptr_eq(f, sets[0]);
    ck_assert_ptr_eq(m, sets[1]);
    ck_assert_str_eq(f->default_dir, "/usr/share/datasets/fashion-mnist");
    ck_assert_int_eq(f->shape.channels, 1);
    ck_assert_int_eq(f->shape.height, 28);
    ck_assert_int_eq(f->shape.width, 28);
    ck_assert_int_eq(f->n_classes, 10);
    ck_assert_str_eq(f->class_names[9], "ankle boot");
    ck_assert_str_eq(m->class_names[7], "7");
    ck_assert_ptr_null(tg_dataset_find("cifar10"));
    ck_assert_str_eq(tg_last_error(), "no data set 'cifar10': tg knows fashion-mnist and mnist");
    /* a set opened by name carries its names; loaded by directory, numbers */
    unsigned char images[2 * 28 * 28] = {0}, labels[2] = {9, 0};
    write_set("t10k", false, 2, 28, 28, images, 2, labels);
    tg_dataset d;
    ck_assert_int_eq(tg_dataset_open(f, dir, false, &d), TG_OK);
    ck_assert_int_eq(d.channels, 1);
    ck_assert_str_eq(tg_dataset_class_name(&d, d.labels[0]), "ankle boot");
    ck_assert_str_eq(tg_dataset_class_name(&d, 10), "?");
    tg_dataset_free(&d);
    ck_assert_int_eq(tg_dataset_load(dir, false, &d), TG_OK);
    ck_assert_str_eq(tg_dataset_class_name(&d, d.labels[0]), "9");
    tg_dataset_free(&d);
    ck_assert_int_eq(tg_dataset_open(NULL, dir, false, &d), TG_ERR_ARG);
}
END_TEST

START_TEST(test_dataset_open_refuses_another_shape)
{
    unsigned char images[2 * 4 * 3] = {0}, labels[2] = {1, 2};
    write_set("train", false, 2, 4, 3, images, 2, labels);
    tg_dataset d;
    ck_assert_int_eq(tg_dataset_open(tg_dataset_find("mnist"), dir, true, &d), TG_ERR_FORMAT);
    ck_assert_error_has("images of 1 x 4 x 3 where mnist has 1 x 28 x 28");
    ck_assert_ptr_null(d.images); /* nothing kept */
}
END_TEST

/* A 4-example dataset of 2 x 3 images, pixels chosen by hand. */
static unsigned char tiny_images[4 * 6] = {0,  255, 51, 102, 153, 204,  /* 0 */
                                           17, 34,  68, 136, 1,   254,  /* 1 */
                                           90, 90,  90, 90,  90,  90,   /* 2 */
                                           7,  0,   0,  200, 128, 127}; /* 3 */
static unsigned char tiny_labels[4] = {5, 0, 9, 2};

static tg_dataset tiny_dataset(void)
{
    return (tg_dataset){.n = 4, .channels = 1, .rows = 2, .cols = 3, .n_classes = 10, .images = tiny_images, .labels = tiny_labels};
}

START_TEST(test_dataset_batch)
{
    tg_dataset d = tiny_dataset();
    const int rows[] = {3, 0, 3, 2}; /* any order, repeats allowed */
    float x[4 * 6];
    int y[4] = {-1, -1, -1, -1};
    const float mean = 0.25f, std = 0.5f;
    ck_assert_int_eq(tg_dataset_batch(&d, rows, 4, mean, std, x, y), TG_OK);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(y[i], tiny_labels[rows[i]]);
        for (int k = 0; k < 6; k++) {
            /* float arithmetic in a different order than the formula: a few ulps of values <= 1.5 */
            double want = (tiny_images[rows[i] * 6 + k] / 255.0 - mean) / std;
            ck_assert_close(x[i * 6 + k], want, 0, 1e-6);
        }
    }
    /* mean 0, std 1 gives pixel / 255 in [0, 1]; y may be NULL */
    const int one[] = {1};
    ck_assert_int_eq(tg_dataset_batch(&d, one, 1, 0.0f, 1.0f, x, NULL), TG_OK);
    for (int k = 0; k < 6; k++) ck_assert_close(x[k], tiny_images[6 + k] / 255.0, 0, 1e-7);
    /* n 0 writes nothing */
    x[0] = 42.0f;
    ck_assert_int_eq(tg_dataset_batch(&d, one, 0, 0.0f, 1.0f, x, y), TG_OK);
    ck_assert_float_eq(x[0], 42.0f);
}
END_TEST

START_TEST(test_dataset_batch_refuses_rows_outside_the_set)
{
    /* Row n of an n-image set was a heap overflow (ASan) or garbage with a
     * label: now it is refused, naming the row, and nothing is written. */
    tg_dataset d = tiny_dataset();
    float x[2 * 6] = {42.0f};
    int y[2] = {-1, -1};
    tg_clear_error();
    ck_assert_int_eq(tg_dataset_batch(&d, (int[]){1, 4}, 2, 0.0f, 1.0f, x, y), TG_ERR_ARG);
    ck_assert_str_eq(tg_last_error(), "tg_dataset_batch: rows[1] is 4, outside the data set's rows [0, 4)");
    ck_assert_int_eq(tg_dataset_batch(&d, (int[]){-1}, 1, 0.0f, 1.0f, x, y), TG_ERR_ARG);
    ck_assert_error_has("rows[0] is -1");
    ck_assert_float_eq(x[0], 42.0f);
    ck_assert_int_eq(y[0], -1);
    ck_assert_int_eq(tg_dataset_batch(&d, (int[]){0}, 1, 0.0f, 0.0f, x, y), TG_ERR_ARG);
    ck_assert_error_has("std 0: must be positive");
    ck_assert_int_eq(tg_dataset_batch(NULL, (int[]){0}, 1, 0.0f, 1.0f, x, y), TG_ERR_ARG);
    ck_assert_error_has("data set is NULL");
    ck_assert_int_eq(tg_dataset_batch(&d, NULL, 1, 0.0f, 1.0f, x, y), TG_ERR_ARG);
    ck_assert_int_eq(tg_dataset_batch(&d, (int[]){0}, 1, 0.0f, 1.0f, NULL, y), TG_ERR_ARG);
    ck_assert_float_eq(x[0], 42.0f);
}
END_TEST

START_TEST(test_dataset_slice_and_permutation)
{
    /* a slice is the batch of rows first..first+n-1; a permutation holds
     * every row once, in an order the generator decides */
    tg_dataset d = tiny_dataset();
    float a[2 * 6], b[2 * 6];
    int ya[2], yb[2];
    ck_assert_int_eq(tg_dataset_slice(&d, 2, 2, 0.1f, 0.7f, a, ya), TG_OK);
    ck_assert_int_eq(tg_dataset_batch(&d, (int[]){2, 3}, 2, 0.1f, 0.7f, b, yb), TG_OK);
    ck_assert_mem_eq(a, b, sizeof a);
    ck_assert(ya[0] == 9 && ya[1] == 2);
    ck_assert_int_eq(tg_dataset_slice(&d, 3, 2, 0.0f, 1.0f, a, ya), TG_ERR_ARG);
    ck_assert_str_eq(tg_last_error(), "tg_dataset_slice: rows [3, 5) are outside the data set's rows [0, 4)");
    ck_assert_int_eq(tg_dataset_slice(&d, -1, 1, 0.0f, 1.0f, a, ya), TG_ERR_ARG);
    ck_assert_int_eq(tg_dataset_slice(&d, 0, 1, 0.0f, 0.0f, a, ya), TG_ERR_ARG);
    ck_assert_error_has("tg_dataset_slice: std 0: must be positive");
    tg_rng r1, r2;
    tg_rng_seed(&r1, 9), tg_rng_seed(&r2, 9);
    int p[50], q[50], seen[50] = {0};
    tg_rng_permutation(&r1, p, 50);
    for (int i = 0; i < 50; i++) q[i] = i;
    tg_rng_shuffle(&r2, q, 50);
    ck_assert_mem_eq(p, q, sizeof p); /* iota, then shuffled */
    for (int i = 0; i < 50; i++) seen[p[i]]++;
    for (int i = 0; i < 50; i++) ck_assert_int_eq(seen[i], 1);
}
END_TEST

START_TEST(test_dataset_stats)
{
    tg_dataset d = tiny_dataset();
    /* the mean and standard deviation of the 24 values pixel / 255, the
     * latter over all of them (numpy's std, ddof 0): after (x - mean) / std
     * the pixels have mean 0 and variance 1 */
    double sum = 0, sq = 0;
    for (int i = 0; i < 24; i++) sum += tiny_images[i] / 255.0;
    double m = sum / 24;
    for (int i = 0; i < 24; i++) sq += (tiny_images[i] / 255.0 - m) * (tiny_images[i] / 255.0 - m);
    double sd = sqrt(sq / 24);
    float mean, std;
    tg_dataset_stats(&d, &mean, &std);
    ck_assert_close(mean, m, 1e-6, 0);
    ck_assert_close(std, sd, 1e-6, 0);
    /* normalised with them, the whole set has mean 0 and variance 1 */
    const int all[] = {0, 1, 2, 3};
    float x[24];
    ck_assert_int_eq(tg_dataset_batch(&d, all, 4, mean, std, x, NULL), TG_OK);
    double xs = 0, xsq = 0;
    for (int i = 0; i < 24; i++) xs += x[i], xsq += (double)x[i] * x[i];
    ck_assert_close(xs / 24, 0.0, 0, 1e-6);
    ck_assert_close(xsq / 24, 1.0, 1e-5, 0);
    /* a constant image: std 0 */
    unsigned char flat[6] = {90, 90, 90, 90, 90, 90};
    tg_dataset c = {.n = 1, .channels = 1, .rows = 2, .cols = 3, .n_classes = 10, .images = flat, .labels = tiny_labels};
    tg_dataset_stats(&c, &mean, &std);
    ck_assert_close(mean, 90 / 255.0, 1e-6, 0);
    ck_assert_close(std, 0.0, 0, 1e-6);
}
END_TEST

/* The whole of a gzipped file, read with zlib alone. */
static unsigned char *gunzip_file(const char *path, size_t want, size_t *got)
{
    gzFile f = gzopen(path, "rb");
    ck_assert_msg(f != NULL, "%s: cannot open (is dataset-fashion-mnist installed?)", path);
    unsigned char *p = malloc(want + 1);
    ck_assert_ptr_nonnull(p);
    int r = gzread(f, p, (unsigned)want + 1);
    ck_assert_int_ge(r, 0);
    ck_assert_int_eq(gzclose(f), Z_OK);
    *got = (size_t)r;
    return p;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The set as tg loads it equals the files' bytes after their headers
 * (16 bytes: magic 0x803, count, 28, 28; and 8: magic 0x801, count). */
static void assert_same_as_files(const tg_dataset *d, const char *prefix)
{
    char path[256];
    size_t n = (size_t)d->n * 28 * 28, got;
    snprintf(path, sizeof path, DATA_DIR "/%s-images-idx3-ubyte.gz", prefix);
    unsigned char *raw = gunzip_file(path, 16 + n, &got);
    ck_assert_uint_eq(got, 16 + n);
    ck_assert_uint_eq(be32(raw), 0x803);
    ck_assert_uint_eq(be32(raw + 4), (uint32_t)d->n);
    ck_assert_int_eq(memcmp(raw + 16, d->images, n), 0);
    free(raw);
    snprintf(path, sizeof path, DATA_DIR "/%s-labels-idx1-ubyte.gz", prefix);
    raw = gunzip_file(path, 8 + (size_t)d->n, &got);
    ck_assert_uint_eq(got, 8 + (size_t)d->n);
    ck_assert_uint_eq(be32(raw), 0x801);
    ck_assert_int_eq(memcmp(raw + 8, d->labels, (size_t)d->n), 0);
    free(raw);
}

START_TEST(test_dataset_real_fashion_mnist)
{
    /* Zalando's FashionMNIST: 60000 training and 10000 test images of
     * 28 x 28, ten classes of exactly 6000 and 1000 images */
    const struct { bool train; int n, per_class; const char *prefix; } sets[] = {{true, 60000, 6000, "train"},
                                                                                {false, 10000, 1000, "t10k"}};
    for (int s = 0; s < 2; s++) {
        tg_dataset d;
        ck_assert_msg(tg_dataset_load(DATA_DIR, sets[s].train, &d) == TG_OK, "%s (make check installs it)",
                      tg_last_error());
        ck_assert_int_eq(d.n, sets[s].n);
        ck_assert_int_eq(d.rows, 28);
        ck_assert_int_eq(d.cols, 28);
        ck_assert_int_eq(d.n_classes, 10);
        int count[10] = {0};
        for (int i = 0; i < d.n; i++) count[d.labels[i]]++;
        for (int c = 0; c < 10; c++) ck_assert_int_eq(count[c], sets[s].per_class);
        int lo = 255, hi = 0;
        for (size_t i = 0; i < (size_t)d.n * 28 * 28; i++) {
            if (d.images[i] < lo) lo = d.images[i];
            if (d.images[i] > hi) hi = d.images[i];
        }
        ck_assert_int_eq(lo, 0);
        ck_assert_int_eq(hi, 255);
        if (!sets[s].train) {
            assert_same_as_files(&d, sets[s].prefix);
        } else {
            /* the normalisation everyone uses for FashionMNIST:
             * Normalize((0.2860,), (0.3530,)), given to 4 decimals */
            float mean, std;
            tg_dataset_stats(&d, &mean, &std);
            ck_assert_close(mean, 0.2860, 0, 5e-5);
            ck_assert_close(std, 0.3530, 0, 5e-5);
        }
        tg_dataset_free(&d);
    }
}
END_TEST

/* ---- images ---- */

/* Mean of the outer ring and of the middle half of a 28 x 28 image. */
static void ring_and_middle(const unsigned char *px, double *ring, double *middle)
{
    double r = 0, m = 0;
    int nr = 0, nm = 0;
    for (int i = 0; i < 28; i++)
        for (int j = 0; j < 28; j++) {
            if (i == 0 || j == 0 || i == 27 || j == 27) r += px[i * 28 + j], nr++;
            if (i >= 7 && i < 21 && j >= 7 && j < 21) m += px[i * 28 + j], nm++;
        }
    *ring = r / nr, *middle = m / nm;
}

/* A real FashionMNIST test image, copied into px (28 x 28): the first one
 * whose border is black and whose middle is bright, a light object on dark
 * as in every image of the set. */
static void real_image(unsigned char *px)
{
    tg_dataset d;
    ck_assert_msg(tg_dataset_load(DATA_DIR, false, &d) == TG_OK, "%s", tg_last_error());
    for (int i = 0; i < d.n; i++) {
        double ring, middle;
        ring_and_middle(d.images + (size_t)i * 784, &ring, &middle);
        if (ring == 0 && middle > 100) {
            memcpy(px, d.images + (size_t)i * 784, 784);
            tg_dataset_free(&d);
            return;
        }
    }
    tg_dataset_free(&d);
    ck_abort_msg("no FashionMNIST test image with a black border");
}

/* tg_image_load(path, rows, cols) succeeds and gives want (rows * cols) within tol. */
static void assert_image(const char *path, int rows, int cols, const float *want, double tol)
{
    float *got = malloc((size_t)rows * cols * sizeof *got);
    ck_assert_ptr_nonnull(got);
    ck_assert_msg(tg_image_load(path, rows, cols, got) == TG_OK, "%s", tg_last_error());
    ck_assert_close_array(got, want, (size_t)rows * cols, 0, tol);
    free(got);
}

START_TEST(test_image_grey_round_trip)
{
    unsigned char px[784];
    real_image(px);
    float want[784];
    for (int i = 0; i < 784; i++) want[i] = px[i] / 255.0f;
    /* PNG and BMP are lossless and 28 -> 28 is the identity, so the brief's
     * 1/255 is met with room to spare: only float rounding remains */
    ck_assert(stbi_write_png(in_dir("grey.png"), 28, 28, 1, px, 28));
    assert_image(in_dir("grey.png"), 28, 28, want, 1e-6);
    ck_assert(stbi_write_bmp(in_dir("grey.bmp"), 28, 28, 1, px));
    assert_image(in_dir("grey.bmp"), 28, 28, want, 1e-6);
}
END_TEST

START_TEST(test_image_inverted_upscaled_rgb)
{
    /* the dark-object-on-light version of a real image, 84 x 84 (each pixel
     * a 3 x 3 block) in RGB with R = G = B = 255 - p */
    unsigned char px[784], *big = malloc(84 * 84 * 3);
    ck_assert_ptr_nonnull(big);
    real_image(px);
    for (int y = 0; y < 84; y++)
        for (int x = 0; x < 84; x++)
            for (int c = 0; c < 3; c++) big[(y * 84 + x) * 3 + c] = (unsigned char)(255 - px[(y / 3) * 28 + x / 3]);
    /* Grey R = G = B has luma exactly its value; area averaging of a 3 x 3
     * block of equal values is exact; what remains is rounding to float of
     * (255 - p) / 255, of the block mean and of 1 - v: three roundings of
     * numbers <= 1, each under 2^-24 < 1e-7. */
    float want[784];
    for (int i = 0; i < 784; i++) want[i] = px[i] / 255.0f;
    ck_assert(stbi_write_png(in_dir("inv.png"), 84, 84, 3, big, 84 * 3));
    assert_image(in_dir("inv.png"), 28, 28, want, 1e-6);
    ck_assert(stbi_write_bmp(in_dir("inv.bmp"), 84, 84, 3, big));
    assert_image(in_dir("inv.bmp"), 28, 28, want, 1e-6);
    free(big);
}
END_TEST

START_TEST(test_image_jpeg)
{
    /* The real image as a quality-100 JPEG (stb's writer then quantises
     * every DCT coefficient with step 1 and does not subsample colour), so
     * the only losses are rounding in the forward and inverse DCT and in
     * the colour conversion, a fraction of a level on average and at most 2
     * levels over the first 2000 test images. We allow 4 levels per pixel and
     * half a level on average. */
    unsigned char px[784];
    real_image(px);
    float want[784], got[784];
    for (int i = 0; i < 784; i++) want[i] = px[i] / 255.0f;
    ck_assert(stbi_write_jpg(in_dir("img.jpg"), 28, 28, 1, px, 100));
    ck_assert_msg(tg_image_load(in_dir("img.jpg"), 28, 28, got) == TG_OK, "%s", tg_last_error());
    double total = 0;
    for (int i = 0; i < 784; i++) {
        ck_assert_close(got[i], want[i], 0, 4 / 255.0);
        total += fabs(got[i] - want[i]);
    }
    ck_assert_double_le(total / 784, 0.5 / 255.0);
}
END_TEST

START_TEST(test_image_colour_to_luma)
{
    /* coloured squares on black; ITU-R 601 luma 0.299 R + 0.587 G + 0.114 B.
     * stb computes (77 R + 150 G + 29 B) >> 8: its weights are each within
     * 0.0018 of 601's (under 0.5 of a level at 255) and the shift drops up to
     * one level, so 1.5 levels bound the difference. */
    const unsigned char colours[4][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {200, 150, 40}};
    unsigned char rgb[28 * 28 * 3] = {0};
    float want[784] = {0};
    for (int y = 6; y < 22; y++)
        for (int x = 6; x < 22; x++) {
            const unsigned char *c = colours[(y >= 14) * 2 + (x >= 14)];
            memcpy(rgb + (y * 28 + x) * 3, c, 3);
            want[y * 28 + x] = (float)((0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]) / 255.0);
        }
    ck_assert(stbi_write_png(in_dir("colour.png"), 28, 28, 3, rgb, 28 * 3));
    assert_image(in_dir("colour.png"), 28, 28, want, 1.5 / 255.0);
}
END_TEST

START_TEST(test_image_transparent_background)
{
    /* a square object, opaque, on a background that is fully transparent
     * (and white underneath, which must not show) */
    const unsigned char objects[2] = {200, 40}; /* light, then dark */
    for (int k = 0; k < 2; k++) {
        unsigned char rgba[28 * 28 * 4];
        float want[784];
        for (int i = 0; i < 784; i++) {
            int y = i / 28, x = i % 28;
            bool inside = y >= 8 && y < 20 && x >= 8 && x < 20;
            unsigned char *p = rgba + 4 * i;
            p[0] = p[1] = p[2] = inside ? objects[k] : 255;
            p[3] = inside ? 255 : 0;
            /* background dark; the object as it is when light, inverted to
             * light when dark */
            want[i] = !inside ? 0.0f : k == 0 ? objects[k] / 255.0f : 1.0f - objects[k] / 255.0f;
        }
        ck_assert(stbi_write_png(in_dir("rgba.png"), 28, 28, 4, rgba, 28 * 4));
        assert_image(in_dir("rgba.png"), 28, 28, want, 1e-6);
    }
}
END_TEST

START_TEST(test_image_resizes_by_area)
{
    /* 56 x 56 made of 2 x 2 blocks: first each block one value (the 28 x 28
     * of block values comes back), then each block's four pixels b, b + 4,
     * b + 8, b + 12 (their mean b + 6 comes back). The ring of blocks is
     * dark, the middle bright, so nothing is inverted. */
    unsigned char block[784], img[56 * 56];
    for (int i = 0; i < 784; i++) {
        int y = i / 28, x = i % 28;
        block[i] = y == 0 || x == 0 || y == 27 || x == 27 ? 0 : (unsigned char)(60 + (y * 28 + x) * 7 % 180);
    }
    for (int mixed = 0; mixed <= 1; mixed++) {
        float want[784];
        for (int y = 0; y < 56; y++)
            for (int x = 0; x < 56; x++)
                img[y * 56 + x] = (unsigned char)(block[(y / 2) * 28 + x / 2] + (mixed ? 4 * (y % 2) + 8 * (x % 2) : 0));
        for (int i = 0; i < 784; i++) want[i] = (block[i] + (mixed ? 6 : 0)) / 255.0f;
        ck_assert(stbi_write_png(in_dir("blocks.png"), 56, 56, 1, img, 56));
        assert_image(in_dir("blocks.png"), 28, 28, want, 1e-6);
    }
    /* and to 14 x 7: each output the mean of a 4 x 8 area of 2 x 2 blocks */
    float want[14 * 7];
    for (int r = 0; r < 14; r++)
        for (int c = 0; c < 7; c++) {
            double sum = 0;
            for (int y = 0; y < 4; y++)
                for (int x = 0; x < 8; x++) sum += img[(4 * r + y) * 56 + 8 * c + x];
            want[r * 7 + c] = (float)(sum / 32 / 255.0);
        }
    assert_image(in_dir("blocks.png"), 14, 7, want, 1e-6);
}
END_TEST

START_TEST(test_image_16bit_pgm)
{
    /* 16-bit samples (maxval 65535), value v as v * 257, read as v / 255.
     * Debian's stb_image wrote past its buffer converting these to other
     * channel counts; tg no longer asks it to (fuzz_image). */
    unsigned char px[784];
    real_image(px);
    char head[32];
    int len = snprintf(head, sizeof head, "P5\n28 28\n65535\n");
    unsigned char file[32 + 2 * 784];
    memcpy(file, head, (size_t)len);
    for (int i = 0; i < 784; i++) file[len + 2 * i] = file[len + 2 * i + 1] = px[i];
    write_bytes(in_dir("deep.pgm"), file, (size_t)len + 2 * 784, false);
    float want[784];
    for (int i = 0; i < 784; i++) want[i] = px[i] / 255.0f;
    assert_image(in_dir("deep.pgm"), 28, 28, want, 1e-6);
}
END_TEST

/* A PNM sample is a fraction of the header's maxval, whatever it is: 4-bit
 * grey (maxval 15) and 10-bit grey (maxval 1023, two bytes a sample, most
 * significant first) read as sample / maxval. stb_image returns samples
 * unscaled; tg used to read a maxval-15 white as 15/255. */
START_TEST(test_image_pgm_scales_by_maxval)
{
    static const int maxvals[] = {15, 1023};
    for (int m = 0; m < 2; m++) {
        int maxval = maxvals[m], bytes = maxval > 255 ? 2 : 1;
        char head[32];
        int len = snprintf(head, sizeof head, "P5 28 28 %d\n", maxval);
        unsigned char file[32 + 2 * 784];
        memcpy(file, head, (size_t)len);
        float want[784];
        for (int i = 0; i < 784; i++) {
            int y = i / 28, x = i % 28;
            /* a bright square on a dark ground, so nothing is inverted */
            int v = y >= 7 && y < 21 && x >= 7 && x < 21 ? maxval - (i % 5) * maxval / 7 : (i % 3) * maxval / 9;
            unsigned char *p = file + len + bytes * i;
            if (bytes == 2) p[0] = (unsigned char)(v >> 8), p[1] = (unsigned char)v;
            else p[0] = (unsigned char)v;
            want[i] = (float)v / maxval;
        }
        write_bytes(in_dir("scaled.pgm"), file, (size_t)(len + bytes * 784), false);
        /* tg keeps 8 bits of each sample: within half a step of 1/255 */
        assert_image(in_dir("scaled.pgm"), 28, 28, want, 0.5 / 255.0 + 1e-6);
    }
    static const char *bad[] = {"P5 2 2 0\n", "P5 2 2 65536\n"};
    for (int k = 0; k < 2; k++) {
        unsigned char file[64] = {0};
        size_t len = strlen(bad[k]);
        memcpy(file, bad[k], len);
        write_bytes(in_dir("bad.pgm"), file, len + 8, false);
        float out[4];
        ck_assert_int_eq(tg_image_load(in_dir("bad.pgm"), 2, 2, out), TG_ERR_FORMAT);
        ck_assert_msg(strstr(tg_last_error(), "maximum value outside 1 to 65535"), "%s", tg_last_error());
    }
}
END_TEST

START_TEST(test_image_rejects_non_image)
{
    const char text[] = "this is a text file, not a picture\n";
    write_bytes(in_dir("notes.png"), text, strlen(text), false);
    float out[784];
    tg_clear_error();
    ck_assert_int_eq(tg_image_load(in_dir("notes.png"), 28, 28, out), TG_ERR_FORMAT);
    ck_assert_error_has(in_dir("notes.png"));
    ck_assert_error_has("not an image tg can read");
    write_bytes(in_dir("empty.png"), "", 0, false);
    ck_assert_int_eq(tg_image_load(in_dir("empty.png"), 28, 28, out), TG_ERR_FORMAT);
    ck_assert_error_has("not an image tg can read");
    /* a real PNG cut in half */
    unsigned char px[784];
    real_image(px);
    ck_assert(stbi_write_png(in_dir("whole.png"), 28, 28, 1, px, 28));
    size_t n;
    unsigned char *png = read_file(in_dir("whole.png"), &n);
    write_bytes(in_dir("half.png"), png, n / 2, false);
    free(png);
    ck_assert_int_eq(tg_image_load(in_dir("half.png"), 28, 28, out), TG_ERR_FORMAT);
    ck_assert_error_has(in_dir("half.png"));
}
END_TEST

START_TEST(test_image_missing_file_and_bad_arguments)
{
    float out[784];
    tg_clear_error();
    ck_assert_int_eq(tg_image_load(in_dir("nothing.png"), 28, 28, out), TG_ERR_IO);
    ck_assert_error_has(in_dir("nothing.png"));
    ck_assert_int_eq(tg_image_load(in_dir("nothing.png"), 0, 28, out), TG_ERR_ARG);
    ck_assert_int_eq(tg_image_load(NULL, 28, 28, out), TG_ERR_ARG);
    ck_assert_int_eq(tg_image_load(in_dir("nothing.png"), 28, 28, NULL), TG_ERR_ARG);
}
END_TEST

START_TEST(test_image_rejects_huge_header)
{
    /* a valid 4 x 4 PNG whose IHDR then claims 20000 x 20000: width and
     * height are big-endian at bytes 16 and 20 (8-byte signature, chunk
     * length, "IHDR"); stb does not check the chunk's CRC, so only tg's own
     * limit stops it before decoding */
    unsigned char px[16] = {0};
    ck_assert(stbi_write_png(in_dir("huge.png"), 4, 4, 1, px, 4));
    size_t n;
    unsigned char *png = read_file(in_dir("huge.png"), &n);
    ck_assert_mem_eq(png + 12, "IHDR", 4);
    ck_assert_uint_eq(be32(png + 16), 4);
    ck_assert_uint_eq(be32(png + 20), 4);
    const unsigned char side[4] = {0, 0, 20000 >> 8, 20000 & 0xff};
    memcpy(png + 16, side, 4);
    memcpy(png + 20, side, 4);
    write_bytes(in_dir("huge.png"), png, n, false);
    free(png);
    float out[784];
    tg_clear_error();
    ck_assert_int_eq(tg_image_load(in_dir("huge.png"), 28, 28, out), TG_ERR_FORMAT);
    ck_assert_error_has(in_dir("huge.png"));
    ck_assert_error_has("20000 x 20000 pixels is larger than tg reads");
}
END_TEST

static Suite *datasets_suite(void)
{
    Suite *s = suite_create("datasets");
    TCase *tc = tcase_create("idx");
    tcase_add_unchecked_fixture(tc, make_root, remove_root);
    tcase_add_checked_fixture(tc, make_dir, remove_dir_and_fixture);
    tcase_add_test(tc, test_idx_loads_raw_and_gzip);
    tcase_add_test(tc, test_idx_loads_one_to_four_dimensions);
    tcase_add_test(tc, test_idx_rejects_bad_magic);
    tcase_add_test(tc, test_idx_rejects_unsupported_type);
    tcase_add_test(tc, test_idx_rejects_zero_dimension);
    tcase_add_test(tc, test_idx_rejects_truncated_header);
    tcase_add_test(tc, test_idx_rejects_truncated_data);
    tcase_add_test(tc, test_idx_rejects_trailing_bytes);
    tcase_add_test(tc, test_idx_rejects_corrupt_gzip);
    tcase_add_test(tc, test_idx_rejects_corrupt_large_gzip);
    tcase_add_test(tc, test_idx_rejects_cut_gzip);
    tcase_add_test(tc, test_idx_rejects_gzip_without_trailer);
    tcase_add_test(tc, test_idx_huge_header_allocates_nothing);
    tcase_add_test(tc, test_idx_missing_file);
    suite_add_tcase(s, tc);
    tc = tcase_create("dataset");
    tcase_add_unchecked_fixture(tc, make_root, remove_root);
    tcase_add_checked_fixture(tc, make_dir, remove_dir_and_fixture);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_dataset_loads_train_and_test_sets);
    tcase_add_test(tc, test_dataset_rejects_count_mismatch);
    tcase_add_test(tc, test_dataset_rejects_bad_label);
    tcase_add_test(tc, test_dataset_rejects_wrong_dimensions);
    tcase_add_test(tc, test_dataset_missing_files);
    tcase_add_test(tc, test_dataset_class_names);
    tcase_add_test(tc, test_dataset_known_sets_give_shape_and_names);
    tcase_add_test(tc, test_dataset_open_refuses_another_shape);
    tcase_add_test(tc, test_dataset_load_names_the_directory_not_a_flag);
    tcase_add_test(tc, test_dataset_batch);
    tcase_add_test(tc, test_dataset_batch_refuses_rows_outside_the_set);
    tcase_add_test(tc, test_dataset_slice_and_permutation);
    tcase_add_test(tc, test_dataset_stats);
    tcase_add_test(tc, test_dataset_real_fashion_mnist);
    suite_add_tcase(s, tc);
    tc = tcase_create("image");
    tcase_add_unchecked_fixture(tc, make_root, remove_root);
    tcase_add_checked_fixture(tc, make_dir, remove_dir_and_fixture);
    tcase_add_test(tc, test_image_grey_round_trip);
    tcase_add_test(tc, test_image_inverted_upscaled_rgb);
    tcase_add_test(tc, test_image_jpeg);
    tcase_add_test(tc, test_image_colour_to_luma);
    tcase_add_test(tc, test_image_transparent_background);
    tcase_add_test(tc, test_image_resizes_by_area);
    tcase_add_test(tc, test_image_16bit_pgm);
    tcase_add_test(tc, test_image_pgm_scales_by_maxval);
    tcase_add_test(tc, test_image_rejects_non_image);
    tcase_add_test(tc, test_image_missing_file_and_bad_arguments);
    tcase_add_test(tc, test_image_rejects_huge_header);
    suite_add_tcase(s, tc);
    return s;
}

TG_TEST_MAIN(datasets_suite)
