/* check_checkpoint.c — checkpoints: what goes in comes out bit for bit, the
 * file is exactly the layout include/tg.h describes (the test builds the
 * expected bytes itself, CRC-32 from zlib), every corruption and truncation
 * is refused with a reason, and a failed write leaves the old file alone.
 * Files live in a fresh directory under /tmp, removed after each test. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <stdint.h>
#include <stdio.h>
#include <zlib.h>

#include "tg_scratch.h"

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(p, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

/* ---- the layout of include/tg.h, written by the test ---- */

typedef struct bytes {
    unsigned char b[4096];
    size_t n;
} bytes;

static void put(bytes *o, const void *p, size_t n)
{
    ck_assert_uint_le(o->n + n, sizeof o->b);
    memcpy(o->b + o->n, p, n);
    o->n += n;
}

static void put_u32(bytes *o, uint32_t v)
{
    const unsigned char p[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                                (unsigned char)(v >> 24)};
    put(o, p, 4);
}

static void put_u64(bytes *o, uint64_t v)
{
    put_u32(o, (uint32_t)v);
    put_u32(o, (uint32_t)(v >> 32));
}

/* "TGCKPT01", u32 version, u32 entry count. */
static void put_head(bytes *o, uint32_t version, uint32_t count)
{
    put(o, "TGCKPT01", 8);
    put_u32(o, version);
    put_u32(o, count);
}

/* An entry's start: u32 name length, name, u32 kind (0 tensor, 1 blob). */
static void put_name_kind(bytes *o, const char *name, uint32_t kind)
{
    put_u32(o, (uint32_t)strlen(name));
    put(o, name, strlen(name));
    put_u32(o, kind);
}

/* A tensor entry: name and kind 0, u32 ndim, sizes, u64 count, floats. */
static void put_tensor(bytes *o, const char *name, const tg_tensor *t)
{
    put_name_kind(o, name, 0);
    put_u32(o, (uint32_t)t->ndim);
    for (int d = 0; d < t->ndim; d++) put_u32(o, (uint32_t)t->shape[d]);
    put_u64(o, t->size);
    for (size_t i = 0; i < t->size; i++) {
        uint32_t bits;
        memcpy(&bits, &t->data[i], 4);
        put_u32(o, bits);
    }
}

/* A blob entry: name and kind 1, u64 length, the bytes. */
static void put_blob(bytes *o, const char *name, const void *p, size_t n)
{
    put_name_kind(o, name, 1);
    put_u64(o, n);
    put(o, p, n);
}

/* The CRC-32 of everything before it, appended. */
static void put_crc(bytes *o) { put_u32(o, (uint32_t)crc32(0L, o->b, (uInt)o->n)); }

/* Rewrites the last 4 bytes of p (n bytes) as the CRC-32 of the rest, so a
 * deliberately wrong field is the only thing wrong. */
static void fix_crc(unsigned char *p, size_t n)
{
    uint32_t c = (uint32_t)crc32(0L, p, (uInt)(n - 4));
    for (int k = 0; k < 4; k++) p[n - 4 + k] = (unsigned char)(c >> (8 * k));
}

/* ---- test content ---- */

static float from_bits(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* A standalone tensor of the given shape holding distinct values, and among
 * them the ones a careless format loses: -0, a NaN with a payload,
 * infinities, the smallest denormal, the largest float. */
static tg_tensor *tensor(int ndim, const int *shape, float start)
{
    tg_tensor *t = tg_zeros(NULL, ndim, shape);
    ck_assert_ptr_nonnull(t);
    const float special[] = {-0.0f, from_bits(0x7fc12345u), INFINITY, -INFINITY, from_bits(1), from_bits(0x7f7fffffu)};
    for (size_t i = 0; i < t->size; i++)
        t->data[i] = i < 6 && ndim == 4 ? special[i] : start + 0.125f * (float)i - 1.0f / 3.0f * (float)(i % 3);
    return t;
}

static const unsigned char blob_bytes[10] = {0, 1, 0xff, 0x80, 'T', 'G', 0, 0, 7, 0xfe};

enum { N_TENSORS = 5 };
static const char *const tensor_names[N_TENSORS] = {"scalar", "bias", "fc1.weight", "t3", "four d"};
static const int tensor_ndim[N_TENSORS] = {0, 1, 2, 3, 4};
static const int tensor_shape[N_TENSORS][4] = {{0}, {3}, {2, 3}, {2, 1, 3}, {1, 2, 2, 2}};

typedef struct content {
    tg_tensor *t[N_TENSORS];
    tg_checkpoint *ck;
} content;

/* Tensors of 0 to 4 dimensions and two blobs (one empty), added in an
 * order that is not alphabetical: blob "optim", the tensors, blob "empty". */
static content make_content(void)
{
    content c;
    c.ck = tg_checkpoint_new();
    ck_assert_ptr_nonnull(c.ck);
    ck_assert_int_eq(tg_checkpoint_add_blob(c.ck, "optim", blob_bytes, sizeof blob_bytes), TG_OK);
    for (int i = 0; i < N_TENSORS; i++) {
        c.t[i] = tensor(tensor_ndim[i], tensor_shape[i], (float)(i + 1));
        ck_assert_int_eq(tg_checkpoint_add_tensor(c.ck, tensor_names[i], c.t[i]), TG_OK);
    }
    ck_assert_int_eq(tg_checkpoint_add_blob(c.ck, "empty", blob_bytes, 0), TG_OK);
    return c;
}

/* The bytes make_content's checkpoint must have, by the header's layout. */
static void expected_bytes(const content *c, bytes *o)
{
    o->n = 0;
    put_head(o, 1, N_TENSORS + 2);
    put_blob(o, "optim", blob_bytes, sizeof blob_bytes);
    for (int i = 0; i < N_TENSORS; i++) put_tensor(o, tensor_names[i], c->t[i]);
    put_blob(o, "empty", blob_bytes, 0);
    put_crc(o);
}

static void free_content(content *c)
{
    for (int i = 0; i < N_TENSORS; i++) tg_tensor_free(c->t[i]);
    tg_checkpoint_free(c->ck);
}

/* Every tensor and blob of make_content comes back from ck bit for bit. */
static void assert_content(const tg_checkpoint *ck, const content *c)
{
    for (int i = 0; i < N_TENSORS; i++) {
        tg_tensor *back = tg_full(NULL, tensor_ndim[i], tensor_shape[i], 12345.0f);
        ck_assert_ptr_nonnull(back);
        ck_assert_msg(tg_checkpoint_get_tensor(ck, tensor_names[i], back) == TG_OK, "%s", tg_last_error());
        ck_assert_mem_eq(back->data, c->t[i]->data, c->t[i]->size * sizeof(float));
        tg_tensor_free(back);
    }
    const void *data = NULL;
    size_t n = 99;
    ck_assert_int_eq(tg_checkpoint_get_blob(ck, "optim", &data, &n), TG_OK);
    ck_assert_uint_eq(n, sizeof blob_bytes);
    ck_assert_mem_eq(data, blob_bytes, sizeof blob_bytes);
    ck_assert_int_eq(tg_checkpoint_get_blob(ck, "empty", &data, &n), TG_OK);
    ck_assert_uint_eq(n, 0);
}

/* ---- round trips ---- */

START_TEST(test_checkpoint_round_trip)
{
    content c = make_content();
    const char *path = in_dir("model.ckpt");
    ck_assert_int_eq(tg_checkpoint_write(c.ck, path), TG_OK);
    /* the writer's own copy is still complete after writing */
    assert_content(c.ck, &c);
    tg_checkpoint *back;
    ck_assert_msg(tg_checkpoint_read(path, &back) == TG_OK, "%s", tg_last_error());
    ck_assert_ptr_nonnull(back);
    assert_content(back, &c);
    /* the copies are the checkpoint's: changing the tensors afterwards
     * changes nothing in it */
    for (int i = 0; i < N_TENSORS; i++) c.t[i]->data[0] = 777.0f;
    tg_tensor *bias = tg_zeros(NULL, 1, (int[]){3});
    ck_assert_int_eq(tg_checkpoint_get_tensor(c.ck, "bias", bias), TG_OK);
    ck_assert_float_ne(bias->data[0], 777.0f);
    tg_tensor_free(bias);
    tg_checkpoint_free(back);
    free_content(&c);
}
END_TEST

START_TEST(test_checkpoint_layout_is_the_documented_one)
{
    /* names, order (as added), little-endian numbers, CRC-32 at the end */
    content c = make_content();
    bytes want;
    expected_bytes(&c, &want);
    ck_assert_int_eq(tg_checkpoint_write(c.ck, in_dir("a.ckpt")), TG_OK);
    size_t n;
    unsigned char *got = read_file(in_dir("a.ckpt"), &n);
    ck_assert_uint_eq(n, want.n);
    ck_assert_mem_eq(got, want.b, n);
    free(got);
    /* read back and written again: the same order, so the same bytes */
    tg_checkpoint *back;
    ck_assert_int_eq(tg_checkpoint_read(in_dir("a.ckpt"), &back), TG_OK);
    ck_assert_int_eq(tg_checkpoint_write(back, in_dir("b.ckpt")), TG_OK);
    got = read_file(in_dir("b.ckpt"), &n);
    ck_assert_uint_eq(n, want.n);
    ck_assert_mem_eq(got, want.b, n);
    free(got);
    tg_checkpoint_free(back);
    free_content(&c);
    /* an empty checkpoint: the header, no entries, the CRC */
    tg_checkpoint *empty = tg_checkpoint_new();
    ck_assert_int_eq(tg_checkpoint_write(empty, in_dir("empty.ckpt")), TG_OK);
    want.n = 0;
    put_head(&want, 1, 0);
    put_crc(&want);
    got = read_file(in_dir("empty.ckpt"), &n);
    ck_assert_uint_eq(n, 20);
    ck_assert_mem_eq(got, want.b, n);
    free(got);
    tg_checkpoint_free(empty);
    ck_assert_int_eq(tg_checkpoint_read(in_dir("empty.ckpt"), &empty), TG_OK);
    tg_checkpoint_free(empty);
    tg_checkpoint_free(NULL);
}
END_TEST

START_TEST(test_checkpoint_same_content_same_bytes)
{
    /* twice from one checkpoint, once from a second one built the same way,
     * and once over an existing file */
    content c1 = make_content(), c2 = make_content();
    ck_assert_int_eq(tg_checkpoint_write(c1.ck, in_dir("1")), TG_OK);
    ck_assert_int_eq(tg_checkpoint_write(c1.ck, in_dir("2")), TG_OK);
    ck_assert_int_eq(tg_checkpoint_write(c2.ck, in_dir("3")), TG_OK);
    ck_assert_int_eq(tg_checkpoint_write(c2.ck, in_dir("3")), TG_OK);
    size_t n1, n2, n3;
    unsigned char *b1 = read_file(in_dir("1"), &n1), *b2 = read_file(in_dir("2"), &n2),
                  *b3 = read_file(in_dir("3"), &n3);
    ck_assert_uint_eq(n1, n2);
    ck_assert_uint_eq(n1, n3);
    ck_assert_mem_eq(b1, b2, n1);
    ck_assert_mem_eq(b1, b3, n1);
    free(b1);
    free(b2);
    free(b3);
    free_content(&c1);
    free_content(&c2);
}
END_TEST

/* ---- refusals ---- */

/* A small checkpoint (one tensor, one blob) written to path; its bytes. */
static unsigned char *small_file(const char *path, size_t *n)
{
    tg_checkpoint *ck = tg_checkpoint_new();
    tg_tensor *w = tg_from_data(NULL, (float[]){1.5f, -2.0f}, 1, (int[]){2});
    ck_assert_int_eq(tg_checkpoint_add_tensor(ck, "w", w), TG_OK);
    ck_assert_int_eq(tg_checkpoint_add_blob(ck, "b", "xyz", 3), TG_OK);
    ck_assert_int_eq(tg_checkpoint_write(ck, path), TG_OK);
    tg_checkpoint_free(ck);
    tg_tensor_free(w);
    unsigned char *p = read_file(path, n);
    /* 16 header + (4 + 1 + 4 + 4 + 4 + 8 + 8) tensor + (4 + 1 + 4 + 8 + 3) blob + 4 CRC */
    ck_assert_uint_eq(*n, 73);
    return p;
}

/* tg_checkpoint_read(path) fails with s, out NULL, a message naming the
 * file and containing why (unless NULL); ctx says which case failed. */
static void assert_read_refused(const char *path, tg_status s, const char *why, const char *ctx)
{
    tg_checkpoint *ck = (tg_checkpoint *)&ck; /* not NULL, to see that it is set */
    tg_clear_error();
    tg_status got = tg_checkpoint_read(path, &ck);
    if (got == TG_OK) tg_checkpoint_free(ck); /* so that the failure below leaks nothing */
    ck_assert_msg(got == s, "%s: status %d, expected %d (%s)", ctx, got, s, tg_last_error());
    ck_assert_msg(ck == NULL, "%s: *out not NULL", ctx);
    ck_assert_msg(strstr(tg_last_error(), path) != NULL, "%s: message \"%s\" does not name the file", ctx,
                  tg_last_error());
    if (why)
        ck_assert_msg(strstr(tg_last_error(), why) != NULL, "%s: message \"%s\" does not contain \"%s\"", ctx,
                      tg_last_error(), why);
}

START_TEST(test_checkpoint_rejects_every_flipped_bit)
{
    /* CRC-32 detects every error confined to 32 consecutive bits, so any
     * change to one byte is caught; the magic (bytes 0-7) and version (8-11)
     * are checked first and named as such */
    size_t n;
    unsigned char *good = small_file(in_dir("good"), &n);
    for (size_t at = 0; at < n; at++)
        for (int bit = 0; bit < 8; bit++) {
            good[at] ^= (unsigned char)(1u << bit);
            write_bytes(in_dir("bad"), good, n);
            good[at] ^= (unsigned char)(1u << bit);
            char ctx[64];
            snprintf(ctx, sizeof ctx, "byte %zu bit %d", at, bit);
            assert_read_refused(in_dir("bad"), TG_ERR_FORMAT,
                                at < 8 ? "bad magic" : at < 12 ? "checkpoint version" : "checksum mismatch", ctx);
        }
    /* and the untouched bytes still read */
    write_bytes(in_dir("bad"), good, n);
    tg_checkpoint *ck;
    ck_assert_int_eq(tg_checkpoint_read(in_dir("bad"), &ck), TG_OK);
    tg_checkpoint_free(ck);
    free(good);
}
END_TEST

START_TEST(test_checkpoint_rejects_every_truncation)
{
    size_t n;
    unsigned char *good = small_file(in_dir("good"), &n);
    for (size_t len = 0; len < n; len++) {
        write_bytes(in_dir("cut"), good, len);
        char ctx[64];
        snprintf(ctx, sizeof ctx, "%zu of %zu bytes", len, n);
        assert_read_refused(in_dir("cut"), TG_ERR_FORMAT, NULL, ctx);
    }
    free(good);
}
END_TEST

START_TEST(test_checkpoint_rejects_other_versions)
{
    size_t n;
    unsigned char *p = small_file(in_dir("v"), &n);
    const uint32_t versions[] = {2, 0, 0x01000000};
    for (int i = 0; i < 3; i++) {
        /* the version field, little-endian at byte 8, and a CRC that matches */
        for (int k = 0; k < 4; k++) p[8 + k] = (unsigned char)(versions[i] >> (8 * k));
        fix_crc(p, n);
        write_bytes(in_dir("v"), p, n);
        char want[512];
        snprintf(want, sizeof want, "%s: checkpoint version %u; this tg reads version 1", in_dir("v"), versions[i]);
        assert_read_refused(in_dir("v"), TG_ERR_FORMAT, NULL, "version");
        ck_assert_str_eq(tg_last_error(), want);
    }
    free(p);
}
END_TEST

START_TEST(test_checkpoint_rejects_bad_magic)
{
    size_t n;
    unsigned char *p = small_file(in_dir("m"), &n);
    p[7] = '2'; /* "TGCKPT02", CRC made to match */
    fix_crc(p, n);
    write_bytes(in_dir("m"), p, n);
    assert_read_refused(in_dir("m"), TG_ERR_FORMAT, "not a tg checkpoint (bad magic)", "TGCKPT02");
    free(p);
    const char text[] = "epoch 1: loss 0.52, accuracy 0.81\nepoch 2: loss 0.40, accuracy 0.85\n";
    write_bytes(in_dir("m"), text, strlen(text));
    assert_read_refused(in_dir("m"), TG_ERR_FORMAT, "bad magic", "a text file");
    write_bytes(in_dir("m"), "", 0);
    assert_read_refused(in_dir("m"), TG_ERR_FORMAT, NULL, "an empty file");
}
END_TEST

START_TEST(test_checkpoint_missing_file)
{
    assert_read_refused(in_dir("nothing.ckpt"), TG_ERR_IO, "cannot open", "missing file");
    tg_checkpoint *ck;
    ck_assert_int_eq(tg_checkpoint_read(NULL, &ck), TG_ERR_ARG);
    ck_assert_int_eq(tg_checkpoint_read(in_dir("x"), NULL), TG_ERR_ARG);
}
END_TEST

/* o, checksummed, is refused with why: the CRC matches, so only the
 * structure is wrong. */
static void assert_structure_refused(bytes *o, const char *why, const char *ctx)
{
    put_crc(o);
    write_bytes(in_dir("s"), o->b, o->n);
    assert_read_refused(in_dir("s"), TG_ERR_FORMAT, why, ctx);
}

START_TEST(test_checkpoint_rejects_bad_structure)
{
    tg_tensor *w = tg_from_data(NULL, (float[]){1, 2, 3, 4, 5, 6}, 2, (int[]){2, 3});
    bytes o;
    /* a blob claiming 2^62 bytes: refused against the file's size, nothing
     * of that size allocated (ASan would abort on it under SANITIZE=1) */
    o.n = 0;
    put_head(&o, 1, 1);
    put_name_kind(&o, "b", 1);
    put_u64(&o, (uint64_t)1 << 62);
    put(&o, "abc", 3);
    assert_structure_refused(&o, "an entry is longer than the file", "huge blob");
    /* a tensor claiming 2^40 floats */
    o.n = 0;
    put_head(&o, 1, 1);
    put_name_kind(&o, "t", 0);
    put_u32(&o, 1); /* ndim */
    put_u32(&o, 6);
    put_u64(&o, (uint64_t)1 << 40);
    assert_structure_refused(&o, "an entry is longer than the file", "huge tensor");
    /* a count of entries one more than there are */
    o.n = 0;
    put_head(&o, 1, 2);
    put_tensor(&o, "w", w);
    assert_structure_refused(&o, NULL, "count too large");
    /* one fewer: bytes left over */
    o.n = 0;
    put_head(&o, 1, 1);
    put_tensor(&o, "w", w);
    put_blob(&o, "b", "xyz", 3);
    assert_structure_refused(&o, "bytes after the last entry", "count too small");
    /* the element count is not the product of the shape */
    o.n = 0;
    put_head(&o, 1, 1);
    put_name_kind(&o, "w", 0);
    put_u32(&o, 2);
    put_u32(&o, 2);
    put_u32(&o, 3);
    put_u64(&o, 5);
    for (int i = 0; i < 5; i++) put_u32(&o, 0);
    assert_structure_refused(&o, "a tensor's size does not match its shape", "size 5 for (2,3)");
    /* a size-0 dimension; more than 4 dimensions */
    o.n = 0;
    put_head(&o, 1, 1);
    put_name_kind(&o, "w", 0);
    put_u32(&o, 2);
    put_u32(&o, 0);
    put_u32(&o, 3);
    put_u64(&o, 0);
    assert_structure_refused(&o, "bad tensor shape", "(0,3)");
    o.n = 0;
    put_head(&o, 1, 1);
    put_name_kind(&o, "w", 0);
    put_u32(&o, 5);
    for (int d = 0; d < 5; d++) put_u32(&o, 1);
    put_u64(&o, 1);
    put_u32(&o, 0);
    assert_structure_refused(&o, "bad tensor rank", "5 dimensions");
    /* kind 2, an empty name, a name of 256 bytes, the same name twice */
    o.n = 0;
    put_head(&o, 1, 1);
    put_name_kind(&o, "x", 2);
    put_u64(&o, 0);
    assert_structure_refused(&o, "bad entry kind", "kind 2");
    o.n = 0;
    put_head(&o, 1, 1);
    put_blob(&o, "", "xyz", 3);
    assert_structure_refused(&o, "bad entry name", "empty name");
    char long_name[257];
    memset(long_name, 'n', 256), long_name[256] = '\0';
    o.n = 0;
    put_head(&o, 1, 1);
    put_blob(&o, long_name, "xyz", 3);
    assert_structure_refused(&o, "bad entry name", "256-byte name");
    o.n = 0;
    put_head(&o, 1, 2);
    put_tensor(&o, "w", w);
    put_blob(&o, "w", "xyz", 3);
    assert_structure_refused(&o, "repeated entry name", "name twice");
    tg_tensor_free(w);
}
END_TEST

START_TEST(test_checkpoint_rejects_shape_whose_product_overflows)
{
    /* (2^30, 2^30, 2^30, 1) has 2^90 elements, which is 0 modulo 2^64: an
     * entry claiming that shape and 0 floats must be refused as a size that
     * does not match its shape, not accepted because the product wrapped */
    bytes o = {.n = 0};
    put_head(&o, 1, 1);
    put_name_kind(&o, "w", 0);
    put_u32(&o, 4);
    for (int d = 0; d < 3; d++) put_u32(&o, 1u << 30);
    put_u32(&o, 1);
    put_u64(&o, 0);
    assert_structure_refused(&o, NULL, "shape (2^30,2^30,2^30,1) with 0 floats");
}
END_TEST

/* ---- API errors ---- */

START_TEST(test_checkpoint_add_refuses_bad_names)
{
    tg_checkpoint *ck = tg_checkpoint_new();
    tg_tensor *w = tg_from_data(NULL, (float[]){1, 2}, 1, (int[]){2});
    ck_assert_int_eq(tg_checkpoint_add_tensor(ck, "w", w), TG_OK);
    tg_clear_error();
    ck_assert_int_eq(tg_checkpoint_add_tensor(ck, "w", w), TG_ERR_ARG);
    ck_assert_error_has("'w' is already in the checkpoint");
    ck_assert_int_eq(tg_checkpoint_add_blob(ck, "w", "x", 1), TG_ERR_ARG); /* names are shared by both kinds */
    ck_assert_error_has("'w' is already in the checkpoint");
    tg_clear_error();
    ck_assert_int_eq(tg_checkpoint_add_blob(ck, "", "x", 1), TG_ERR_ARG);
    ck_assert_error_has("empty");
    ck_assert_int_eq(tg_checkpoint_add_tensor(ck, "", w), TG_ERR_ARG);
    ck_assert_error_has("empty");
    /* at most 255 bytes */
    char name[257];
    memset(name, 'a', 256), name[256] = '\0';
    tg_clear_error();
    ck_assert_int_eq(tg_checkpoint_add_blob(ck, name, "x", 1), TG_ERR_ARG);
    ck_assert_error_has("too long");
    name[255] = '\0';
    ck_assert_int_eq(tg_checkpoint_add_blob(ck, name, "x", 1), TG_OK);
    ck_assert_int_eq(tg_checkpoint_add_tensor(ck, "nothing", NULL), TG_ERR_ARG);
    ck_assert_int_eq(tg_checkpoint_add_tensor(NULL, "v", w), TG_ERR_ARG);
    ck_assert_int_eq(tg_checkpoint_add_blob(ck, NULL, "x", 1), TG_ERR_ARG);
    /* the refusals left the checkpoint as it was: "w" and the 255-byte blob */
    ck_assert_int_eq(tg_checkpoint_write(ck, in_dir("c")), TG_OK);
    tg_checkpoint *back;
    ck_assert_int_eq(tg_checkpoint_read(in_dir("c"), &back), TG_OK);
    tg_tensor *w2 = tg_zeros(NULL, 1, (int[]){2});
    ck_assert_int_eq(tg_checkpoint_get_tensor(back, "w", w2), TG_OK);
    ck_assert_mem_eq(w2->data, w->data, 2 * sizeof(float));
    const void *data;
    size_t n;
    ck_assert_int_eq(tg_checkpoint_get_blob(back, name, &data, &n), TG_OK);
    ck_assert_uint_eq(n, 1);
    bytes want = {.n = 0};
    put_head(&want, 1, 2);
    put_tensor(&want, "w", w);
    put_blob(&want, name, "x", 1);
    put_crc(&want);
    size_t len;
    unsigned char *got = read_file(in_dir("c"), &len);
    ck_assert_uint_eq(len, want.n);
    ck_assert_mem_eq(got, want.b, len);
    free(got);
    tg_checkpoint_free(back);
    tg_tensor_free(w2);
    tg_tensor_free(w);
    tg_checkpoint_free(ck);
}
END_TEST

START_TEST(test_checkpoint_get_refuses_missing_and_mismatched)
{
    tg_checkpoint *ck = tg_checkpoint_new();
    tg_tensor *w = tg_from_data(NULL, (float[]){1, 2, 3, 4, 5, 6}, 2, (int[]){2, 3});
    tg_tensor *s = tg_from_data(NULL, (float[]){7}, 0, NULL);
    ck_assert_int_eq(tg_checkpoint_add_tensor(ck, "w", w), TG_OK);
    ck_assert_int_eq(tg_checkpoint_add_tensor(ck, "s", s), TG_OK);
    ck_assert_int_eq(tg_checkpoint_add_blob(ck, "state", "abc", 3), TG_OK);
    tg_tensor *t32 = tg_zeros(NULL, 2, (int[]){3, 2}), *t6 = tg_zeros(NULL, 1, (int[]){6}),
              *t1 = tg_zeros(NULL, 1, (int[]){1}), *t23 = tg_zeros(NULL, 2, (int[]){2, 3});
    tg_clear_error();
    ck_assert_int_eq(tg_checkpoint_get_tensor(ck, "fc9.weight", t23), TG_ERR_FORMAT);
    ck_assert_error_has("fc9.weight");
    /* same number of elements, other shapes: both shapes in the message */
    tg_clear_error();
    ck_assert_int_eq(tg_checkpoint_get_tensor(ck, "w", t32), TG_ERR_FORMAT);
    ck_assert_error_has("'w'");
    ck_assert_error_has("(2,3)");
    ck_assert_error_has("(3,2)");
    ck_assert_int_eq(tg_checkpoint_get_tensor(ck, "w", t6), TG_ERR_FORMAT);
    ck_assert_error_has("(2,3)");
    ck_assert_error_has("(6)");
    /* a scalar () is not a one-element (1) */
    ck_assert_int_eq(tg_checkpoint_get_tensor(ck, "s", t1), TG_ERR_FORMAT);
    ck_assert_error_has("()");
    ck_assert_error_has("(1)");
    /* a blob is not a tensor, nor a tensor a blob */
    tg_clear_error();
    ck_assert_int_eq(tg_checkpoint_get_tensor(ck, "state", t23), TG_ERR_FORMAT);
    ck_assert_error_has("state");
    const void *data = NULL;
    size_t n = 0;
    tg_clear_error();
    ck_assert_int_eq(tg_checkpoint_get_blob(ck, "w", &data, &n), TG_ERR_FORMAT);
    ck_assert_error_has("'w'");
    ck_assert_int_eq(tg_checkpoint_get_blob(ck, "nothing", &data, &n), TG_ERR_FORMAT);
    ck_assert_error_has("nothing");
    /* and the right ones work */
    ck_assert_int_eq(tg_checkpoint_get_tensor(ck, "w", t23), TG_OK);
    ck_assert_mem_eq(t23->data, w->data, 6 * sizeof(float));
    ck_assert_int_eq(tg_checkpoint_get_blob(ck, "state", &data, &n), TG_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_mem_eq(data, "abc", 3);
    tg_tensor *all[] = {t32, t6, t1, t23, w, s};
    for (int i = 0; i < 6; i++) tg_tensor_free(all[i]);
    tg_checkpoint_free(ck);
}
END_TEST

/* ---- atomic writes ---- */

START_TEST(test_checkpoint_write_into_missing_directory)
{
    tg_checkpoint *ck = tg_checkpoint_new();
    ck_assert_int_eq(tg_checkpoint_add_blob(ck, "b", "x", 1), TG_OK);
    const char *path = in_dir("no/such/dir/model.ckpt");
    tg_clear_error();
    ck_assert_int_eq(tg_checkpoint_write(ck, path), TG_ERR_IO);
    ck_assert_error_has(path);
    ck_assert_error_has("cannot write");
    ck_assert(!exists(in_dir("no")));
    ck_assert_int_eq(tg_checkpoint_write(NULL, in_dir("x")), TG_ERR_ARG);
    ck_assert_int_eq(tg_checkpoint_write(ck, NULL), TG_ERR_ARG);
    tg_checkpoint_free(ck);
}
END_TEST

START_TEST(test_checkpoint_failed_write_keeps_old_file)
{
    /* The old checkpoint A, then PATH.tmp made a directory (with a file in
     * it, so nothing can remove it): the temporary file cannot be created,
     * the write of B fails, and A is still there, byte for byte. Tests run
     * as root, so permissions could not make the write fail. */
    content a = make_content();
    const char *path = in_dir("model.ckpt"), *tmp = in_dir("model.ckpt.tmp");
    ck_assert_int_eq(tg_checkpoint_write(a.ck, path), TG_OK);
    ck_assert(!exists(tmp));
    size_t n_before, n_after;
    unsigned char *before = read_file(path, &n_before);
    ck_assert_int_eq(mkdir(tmp, 0700), 0);
    write_bytes(in_dir("model.ckpt.tmp/keep"), "k", 1);
    tg_checkpoint *b = tg_checkpoint_new();
    ck_assert_int_eq(tg_checkpoint_add_blob(b, "other", "B", 1), TG_OK);
    tg_clear_error();
    ck_assert_int_eq(tg_checkpoint_write(b, path), TG_ERR_IO);
    ck_assert_error_has(path);
    ck_assert_error_has("cannot write");
    unsigned char *after = read_file(path, &n_after);
    ck_assert_uint_eq(n_after, n_before);
    ck_assert_mem_eq(after, before, n_before);
    free(after);
    tg_checkpoint *back;
    ck_assert_int_eq(tg_checkpoint_read(path, &back), TG_OK);
    assert_content(back, &a);
    tg_checkpoint_free(back);
    /* the way cleared, the same write succeeds and replaces A */
    remove_tree(tmp);
    ck_assert_int_eq(tg_checkpoint_write(b, path), TG_OK);
    ck_assert(!exists(tmp));
    ck_assert_int_eq(tg_checkpoint_read(path, &back), TG_OK);
    const void *data;
    size_t n;
    ck_assert_int_eq(tg_checkpoint_get_blob(back, "other", &data, &n), TG_OK);
    ck_assert_int_eq(tg_checkpoint_get_blob(back, "optim", &data, &n), TG_ERR_FORMAT);
    tg_checkpoint_free(back);
    tg_checkpoint_free(b);
    free(before);
    free_content(&a);
}
END_TEST

START_TEST(test_checkpoint_failed_rename_leaves_no_tmp)
{
    /* PATH is a directory that holds a file: the temporary file is written,
     * the rename over PATH fails, and the temporary file is removed */
    const char *path = in_dir("model.ckpt"), *tmp = in_dir("model.ckpt.tmp");
    ck_assert_int_eq(mkdir(path, 0700), 0);
    write_bytes(in_dir("model.ckpt/keep"), "k", 1);
    tg_checkpoint *ck = tg_checkpoint_new();
    ck_assert_int_eq(tg_checkpoint_add_blob(ck, "b", "x", 1), TG_OK);
    tg_clear_error();
    ck_assert_int_eq(tg_checkpoint_write(ck, path), TG_ERR_IO);
    ck_assert_error_has(path);
    ck_assert(!exists(tmp));
    ck_assert(exists(in_dir("model.ckpt/keep")));
    tg_checkpoint_free(ck);
}
END_TEST

/* tg_file_write_atomic, under every writer of tg (checkpoints, metrics,
 * reports, pictures): a writer that fails halfway leaves the old file. */
static tg_status half_then_fail(FILE *f, void *ctx)
{
    fputs((const char *)ctx, f);
    return TG_ERR_IO;
}

static tg_status out_of_memory(FILE *f, void *ctx)
{
    (void)f, (void)ctx;
    tg_set_error("writer: out of memory");
    return TG_ERR_NOMEM;
}

static tg_status text(FILE *f, void *ctx) { return fputs((const char *)ctx, f) >= 0 ? TG_OK : TG_ERR_IO; }

START_TEST(test_file_write_atomic)
{
    const char *path = in_dir("out.txt"), *tmp = in_dir("out.txt.tmp");
    ck_assert_int_eq(tg_file_write_atomic(path, "the text", text, "old"), TG_OK);
    ck_assert(!exists(tmp));
    tg_clear_error();
    ck_assert_int_eq(tg_file_write_atomic(path, "the text", half_then_fail, "new, but only h"), TG_ERR_IO);
    ck_assert_error_has(path);
    ck_assert_error_has("cannot write the text");
    ck_assert_error_has("untouched");
    ck_assert_int_eq(tg_file_write_atomic(path, "the text", out_of_memory, NULL), TG_ERR_NOMEM);
    ck_assert_str_eq(tg_last_error(), "writer: out of memory");
    ck_assert(!exists(tmp));
    size_t n;
    unsigned char *kept = read_file(path, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_mem_eq(kept, "old", 3);
    free(kept);
    /* a directory is refused before anything is written; a device is
     * written in place */
    ck_assert_int_eq(tg_file_write_atomic(dir, NULL, text, "x"), TG_ERR_IO);
    ck_assert_error_has("Is a directory");
    ck_assert_int_eq(tg_file_write_atomic("/dev/null", NULL, text, "x"), TG_OK);
    ck_assert_int_eq(tg_file_write_atomic("/dev/full", "the text", text, "x"), TG_ERR_IO);
    ck_assert_error_has("/dev/full: cannot write the text: No space left on device");
    ck_assert_int_eq(tg_file_write_atomic(NULL, NULL, text, "x"), TG_ERR_ARG);
    ck_assert_int_eq(tg_file_write_atomic(path, NULL, NULL, NULL), TG_ERR_ARG);
}
END_TEST

START_TEST(test_checkpoint_write_leaves_no_tmp)
{
    content c = make_content();
    const char *path = in_dir("m.ckpt");
    for (int i = 0; i < 2; i++) { /* a new file, then over an old one */
        ck_assert_int_eq(tg_checkpoint_write(c.ck, path), TG_OK);
        ck_assert(exists(path));
        ck_assert(!exists(in_dir("m.ckpt.tmp")));
    }
    /* the directory holds the checkpoint and nothing else */
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int files = 0;
    for (struct dirent *e; (e = readdir(d));) files += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    ck_assert_int_eq(files, 1);
    free_content(&c);
}
END_TEST

static Suite *checkpoint_suite(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("round trip");
    tcase_add_unchecked_fixture(tc, make_root, remove_root);
    tcase_add_checked_fixture(tc, make_dir, remove_dir);
    tcase_add_test(tc, test_checkpoint_round_trip);
    tcase_add_test(tc, test_checkpoint_layout_is_the_documented_one);
    tcase_add_test(tc, test_checkpoint_same_content_same_bytes);
    suite_add_tcase(s, tc);
    tc = tcase_create("refusals");
    tcase_add_unchecked_fixture(tc, make_root, remove_root);
    tcase_add_checked_fixture(tc, make_dir, remove_dir);
    tcase_add_test(tc, test_checkpoint_rejects_every_flipped_bit);
    tcase_add_test(tc, test_checkpoint_rejects_every_truncation);
    tcase_add_test(tc, test_checkpoint_rejects_other_versions);
    tcase_add_test(tc, test_checkpoint_rejects_bad_magic);
    tcase_add_test(tc, test_checkpoint_missing_file);
    tcase_add_test(tc, test_checkpoint_rejects_bad_structure);
    tcase_add_test(tc, test_checkpoint_rejects_shape_whose_product_overflows);
    suite_add_tcase(s, tc);
    tc = tcase_create("api errors");
    tcase_add_unchecked_fixture(tc, make_root, remove_root);
    tcase_add_checked_fixture(tc, make_dir, remove_dir);
    tcase_add_test(tc, test_checkpoint_add_refuses_bad_names);
    tcase_add_test(tc, test_checkpoint_get_refuses_missing_and_mismatched);
    suite_add_tcase(s, tc);
    tc = tcase_create("atomic writes");
    tcase_add_unchecked_fixture(tc, make_root, remove_root);
    tcase_add_checked_fixture(tc, make_dir, remove_dir);
    tcase_add_test(tc, test_checkpoint_write_into_missing_directory);
    tcase_add_test(tc, test_checkpoint_failed_write_keeps_old_file);
    tcase_add_test(tc, test_checkpoint_failed_rename_leaves_no_tmp);
    tcase_add_test(tc, test_checkpoint_write_leaves_no_tmp);
    tcase_add_test(tc, test_file_write_atomic);
    suite_add_tcase(s, tc);
    return s;
}

TG_TEST_MAIN(checkpoint_suite)
