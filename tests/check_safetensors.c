/* check_safetensors.c — the safetensors format (src/io/safetensors.c):
 * what tg writes reads back bit for bit; a state dict PyTorch wrote
 * (tests/fixtures/gen_safetensors.py) reads as torch holds it; hostile or
 * broken files — truncated, oversized or overlapping, a wrong dtype or
 * shape, a missing key — are refused with the tensor or offset named. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>

#include "tg_scratch.h"

#include "fixtures/safetensors_ref.h"

/* ---- writing and reading back ---- */

START_TEST(test_safetensors_round_trip)
{
    tg_rng rng;
    tg_rng_seed(&rng, 9);
    tg_tensor *w = tg_randn(NULL, &rng, TG_SHAPE(3, 4)), *b = tg_randn(NULL, &rng, TG_SHAPE(3));
    tg_tensor *x4 = tg_randn(NULL, &rng, TG_SHAPE(2, 1, 3, 2)), *s = tg_full(NULL, 0, NULL, -0.0f);
    tg_tensor *count = tg_full(NULL, 0, NULL, 12345.0f);
    w->data[0] = NAN, w->data[1] = INFINITY, w->data[2] = 1e-45f; /* any bits survive */
    tg_safetensors *st = tg_safetensors_new();
    ck_assert_int_eq(tg_safetensors_add(st, "0.weight", w, TG_F32), TG_OK);
    ck_assert_int_eq(tg_safetensors_add(st, "0.bias", b, TG_F32), TG_OK);
    ck_assert_int_eq(tg_safetensors_add(st, "x \"quoted\"\\", x4, TG_F32), TG_OK);
    ck_assert_int_eq(tg_safetensors_add(st, "scalar", s, TG_F32), TG_OK);
    ck_assert_int_eq(tg_safetensors_add(st, "1.num_batches_tracked", count, TG_I64), TG_OK);
    ck_assert_int_eq(tg_safetensors_set_metadata(st, "spec", "flatten linear(3)"), TG_OK);
    ck_assert_int_eq(tg_safetensors_set_metadata(st, "spec", "linear(3)"), TG_OK); /* replaced */
    ck_assert_int_eq(tg_safetensors_add(st, "0.bias", b, TG_F32), TG_ERR_ARG);
    ck_assert_error_has("'0.bias' is already in the file");
    ck_assert_int_eq(tg_safetensors_add(st, "__metadata__", b, TG_F32), TG_ERR_ARG);
    ck_assert_int_eq(tg_safetensors_write(st, in_dir("m.safetensors")), TG_OK);
    tg_safetensors_free(st);

    /* the layout: a little-endian length, a padded header, then the data */
    size_t n;
    unsigned char *raw = read_file(in_dir("m.safetensors"), &n);
    uint64_t len = 0;
    for (int k = 7; k >= 0; k--) len = len << 8 | raw[k];
    ck_assert_int_eq(len % 8, 0);
    ck_assert_uint_eq(n, 8 + len + (12 + 3 + 12 + 1) * 4 + 8);
    ck_assert_ptr_nonnull(strstr((char *)raw + 8, "\"0.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48]}"));
    unsigned char first_bias[4];
    memcpy(first_bias, &b->data[0], 4);
    ck_assert_mem_eq(raw + 8 + len + 48, first_bias, 4); /* x86 is little-endian too */
    ck_assert_int_eq(raw[n - 8], 12345 & 0xff);
    ck_assert_int_eq(raw[n - 7], 12345 >> 8);
    free(raw);

    ck_assert_int_eq(tg_safetensors_read(in_dir("m.safetensors"), &st), TG_OK);
    ck_assert_int_eq(tg_safetensors_count(st), 5);
    ck_assert_str_eq(tg_safetensors_name(st, 2), "x \"quoted\"\\");
    ck_assert_str_eq(tg_safetensors_metadata(st, "spec"), "linear(3)");
    ck_assert_ptr_null(tg_safetensors_metadata(st, "nope"));
    tg_dtype dtype;
    int ndim;
    int64_t shape[8];
    ck_assert(tg_safetensors_info(st, "x \"quoted\"\\", &dtype, &ndim, shape));
    ck_assert(dtype == TG_F32 && ndim == 4 && shape[0] == 2 && shape[3] == 2);
    ck_assert(tg_safetensors_info(st, "1.num_batches_tracked", &dtype, &ndim, shape));
    ck_assert(dtype == TG_I64 && ndim == 0);
    tg_tensor *originals[] = {w, b, x4, s, count};
    for (int i = 0; i < 5; i++) {
        tg_tensor *back = tg_zeros(NULL, originals[i]->ndim, originals[i]->shape);
        ck_assert(tg_safetensors_info(st, tg_safetensors_name(st, i), &dtype, NULL, NULL));
        ck_assert_int_eq(tg_safetensors_get(st, tg_safetensors_name(st, i), dtype, back), TG_OK);
        ck_assert_mem_eq(back->data, originals[i]->data, back->size * sizeof(float));
        tg_tensor_free(back);
    }
    /* what a caller asks must be what the file holds */
    tg_tensor *wrong = tg_zeros(NULL, TG_SHAPE(4, 3));
    ck_assert_int_eq(tg_safetensors_get(st, "0.weight", TG_F32, wrong), TG_ERR_ARG);
    ck_assert_str_eq(tg_last_error(), "tg_safetensors_get: '0.weight' has shape (3,4) in the file, (4,3) here");
    ck_assert_int_eq(tg_safetensors_get(st, "0.bias", TG_I64, b), TG_ERR_ARG);
    ck_assert_str_eq(tg_last_error(), "tg_safetensors_get: '0.bias' is F32 in the file, I64 expected");
    ck_assert_int_eq(tg_safetensors_get(st, "2.weight", TG_F32, b), TG_ERR_ARG);
    ck_assert_str_eq(tg_last_error(), "tg_safetensors_get: no tensor '2.weight' in the file");
    tg_safetensors_free(st);
    tg_tensor_free(wrong);
    for (int i = 0; i < 5; i++) tg_tensor_free(originals[i]);
}
END_TEST

/* ---- PyTorch's file ---- */

START_TEST(test_safetensors_reads_what_pytorch_wrote)
{
    tg_safetensors *st;
    ck_assert_int_eq(tg_safetensors_read("tests/fixtures/safetensors/torch_state.safetensors", &st), TG_OK);
    int n = (int)(sizeof torch_state / sizeof torch_state[0]);
    ck_assert_int_eq(tg_safetensors_count(st), n); /* 0 is Flatten, which has no state */
    ck_assert_str_eq(tg_safetensors_metadata(st, "format"), "pt");
    for (int i = 0; i < n; i++) {
        tg_dtype dtype = strcmp(torch_state[i].dtype, "I64") ? TG_F32 : TG_I64;
        tg_tensor *t = tg_zeros(NULL, torch_state[i].ndim, torch_state[i].shape);
        ck_assert_msg(tg_safetensors_get(st, torch_state[i].key, dtype, t) == TG_OK, "%s", tg_last_error());
        ck_assert_int_eq((int)t->size, torch_state[i].n);
        ck_assert_mem_eq(t->data, torch_state[i].values, t->size * sizeof(float));
        tg_tensor_free(t);
    }
    tg_tensor *tracked = tg_zeros(NULL, 0, NULL);
    ck_assert_int_eq(tg_safetensors_get(st, "2.num_batches_tracked", TG_I64, tracked), TG_OK);
    ck_assert_float_eq(tracked->data[0], 3.0f);
    tg_tensor_free(tracked);
    tg_safetensors_free(st);
}
END_TEST

/* ---- files that are refused ---- */

/* A file of the 8-byte length len (as given), header text and data. */
static const char *make_file(const char *name, uint64_t len, const char *header, const void *data, size_t n)
{
    FILE *f = fopen(in_dir(name), "wb");
    ck_assert_ptr_nonnull(f);
    for (int k = 0; k < 8; k++) fputc((int)(len >> (8 * k) & 0xff), f);
    fputs(header, f);
    if (n) fwrite(data, 1, n, f);
    fclose(f);
    return in_dir(name);
}

/* path is refused with status s and a message holding why (and naming the file). */
static void assert_refused(const char *path, tg_status s, const char *why)
{
    tg_safetensors *st = (tg_safetensors *)1;
    tg_clear_error();
    ck_assert_int_eq(tg_safetensors_read(path, &st), s);
    ck_assert_ptr_null(st);
    ck_assert_msg(strstr(tg_last_error(), why), "expected '%s' in: %s", why, tg_last_error());
    if (s == TG_ERR_FORMAT) ck_assert_msg(strstr(tg_last_error(), path), "no file name in: %s", tg_last_error());
}

/* The header of one F32 tensor "w" of shape shape at offsets [b, e]. */
static const char *one_tensor(const char *shape, int b, int e)
{
    static char h[256];
    snprintf(h, sizeof h, "{\"w\":{\"dtype\":\"F32\",\"shape\":%s,\"data_offsets\":[%d,%d]}}", shape, b, e);
    return h;
}

START_TEST(test_safetensors_refuses_broken_files)
{
    static const float data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const char *h = one_tensor("[2,2]", 0, 16);
    FILE *f = fopen(in_dir("short"), "wb");
    ck_assert_ptr_nonnull(f);
    fwrite("\x10\0\0", 1, 3, f);
    fclose(f);
    assert_refused(in_dir("short"), TG_ERR_FORMAT, "3 bytes: too short for a safetensors file");
    assert_refused(make_file("zero", 0, "", NULL, 0), TG_ERR_FORMAT, "the header length 0 does not fit");
    assert_refused(in_dir("absent"), TG_ERR_IO, "cannot open");
    /* the length: beyond the file, beyond 100 MB, or the whole file */
    char why[128];
    snprintf(why, sizeof why, "the header length %zu does not fit (the file has %zu bytes", strlen(h) + 1,
             8 + strlen(h));
    assert_refused(make_file("long-header", strlen(h) + 1, h, NULL, 0), TG_ERR_FORMAT, why);
    assert_refused(make_file("huge", UINT64_C(1) << 62, h, data, 16), TG_ERR_FORMAT, "does not fit");
    assert_refused(make_file("truncated", strlen(h), h, data, 12), TG_ERR_FORMAT,
                   "the tensors cover 16 bytes of data but the file holds 12 after the header");
    /* offsets that overlap, leave a gap, or disagree with the shape */
    const char *two = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
    assert_refused(make_file("overlap", strlen(two), two, data, 12), TG_ERR_FORMAT,
                   "tensor 'b' starts at data offset 4 where 8 was expected (a gap or an overlap)");
    const char *gap = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}";
    assert_refused(make_file("gap", strlen(gap), gap, data, 12), TG_ERR_FORMAT, "tensor 'b' starts at data offset 8");
    h = one_tensor("[3,2]", 0, 16);
    assert_refused(make_file("shape", strlen(h), h, data, 16), TG_ERR_FORMAT,
                   "tensor 'w' has 16 bytes at offsets [0, 16] but its shape and dtype need 24");
    h = one_tensor("[2,2]", 0, 16);
    assert_refused(make_file("extra-data", strlen(h), h, data, 20), TG_ERR_FORMAT,
                   "the tensors cover 16 bytes of data but the file holds 20 after the header");
    h = one_tensor("[2,2]", 16, 0);
    assert_refused(make_file("backwards", strlen(h), h, data, 16), TG_ERR_FORMAT, "not [begin, end]");
    /* the header's JSON and fields */
    const char *bf16 = "{\"w\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}";
    assert_refused(make_file("bf16", strlen(bf16), bf16, data, 4), TG_ERR_FORMAT,
                   "tensor 'w' has dtype BF16; tg reads F32 and I64");
    const char *dup = "{\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
                      "\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[4,8]}}";
    assert_refused(make_file("dup", strlen(dup), dup, data, 8), TG_ERR_FORMAT, "tensor 'w' appears twice");
    const char *missing = "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}";
    assert_refused(make_file("missing", strlen(missing), missing, data, 4), TG_ERR_FORMAT, "tensor 'w' has no shape");
    const char *field = "{\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4],\"x\":1}}";
    assert_refused(make_file("field", strlen(field), field, data, 4), TG_ERR_FORMAT, "has a field 'x'");
    const char *negative = "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}";
    assert_refused(make_file("negative", strlen(negative), negative, data, 4), TG_ERR_FORMAT,
                   "a shape must be a non-negative integer");
    const char *junk = "{}x";
    assert_refused(make_file("junk", 3, junk, NULL, 0), TG_ERR_FORMAT, "bytes after the JSON object");
    const char *cut = "{\"w\":{\"dtype\":\"F3";
    assert_refused(make_file("cut", strlen(cut), cut, NULL, 0), TG_ERR_FORMAT, "a dtype is not terminated");
    const char *meta = "{\"__metadata__\":{\"a\":1}}";
    assert_refused(make_file("meta", strlen(meta), meta, NULL, 0), TG_ERR_FORMAT, "'\"' expected");
    /* a header padded with spaces, and an empty one, are fine */
    tg_safetensors *st;
    const char *padded = "{}      ";
    ck_assert_int_eq(tg_safetensors_read(make_file("padded", 8, padded, NULL, 0), &st), TG_OK);
    ck_assert_int_eq(tg_safetensors_count(st), 0);
    tg_safetensors_free(st);
}
END_TEST

static Suite *safetensors_suite(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("format");
    tcase_add_unchecked_fixture(tc, make_root, remove_root);
    tcase_add_checked_fixture(tc, make_dir, remove_dir);
    tcase_add_test(tc, test_safetensors_round_trip);
    tcase_add_test(tc, test_safetensors_reads_what_pytorch_wrote);
    tcase_add_test(tc, test_safetensors_refuses_broken_files);
    suite_add_tcase(s, tc);
    return s;
}

TG_TEST_MAIN(safetensors_suite)
