/* idx.c — IDX files (LeCun's MNIST format, http://yann.lecun.com/exdb/mnist/):
 *   bytes 0-1: 0, byte 2: type (0x08 unsigned byte), byte 3: dimensions;
 *   then one big-endian u32 per dimension, then the data, row-major.
 * A file starting with gzip's magic (1f 8b) is inflated with zlib, and the
 * stream must reach its end: that checks the trailer's CRC-32 and length,
 * so corrupt or cut-short files are refused, not half-read. Nothing in the
 * header is trusted until the file has delivered the bytes it promises. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <tg.h>

/* A file read as it is, or through inflate. */
typedef struct source {
    const char *path;
    FILE *f;
    bool gzip, ended;           /* ended: inflate reached Z_STREAM_END */
    z_stream z;
    unsigned char in[1 << 16];
} source;

/* zlib's memory, through this library's calloc and free like all the
 * rest, so that a test can make it run out (check_alloc). */
static voidpf zlib_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    return calloc(items, size);
}

static void zlib_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    free(p);
}

static tg_status source_open(source *s, const char *path)
{
    memset(s, 0, sizeof *s);
    s->path = path;
    if (!(s->f = fopen(path, "rb"))) {
        tg_set_error("%s: cannot open: %s", path, strerror(errno));
        return TG_ERR_IO;
    }
    int c0 = fgetc(s->f), c1 = fgetc(s->f);
    rewind(s->f);
    s->gzip = c0 == 0x1f && c1 == 0x8b;
    s->z.zalloc = zlib_alloc;
    s->z.zfree = zlib_free;
    if (s->gzip && inflateInit2(&s->z, 15 + 16) != Z_OK) { /* 15 + 16: a gzip wrapper */
        fclose(s->f);
        tg_set_error("%s: out of memory for zlib", path);
        return TG_ERR_NOMEM;
    }
    return TG_OK;
}

static void source_close(source *s)
{
    if (s->gzip) inflateEnd(&s->z);
    if (s->f) fclose(s->f);
}

static tg_status corrupt(const source *s, const char *why)
{
    tg_set_error("%s: not a valid gzip file (%s)", s->path, why);
    return TG_ERR_FORMAT;
}

/* Up to n bytes into p; *got says how many (fewer only at the end). */
static tg_status source_read(source *s, unsigned char *p, size_t n, size_t *got)
{
    *got = 0;
    if (!s->gzip) {
        *got = fread(p, 1, n, s->f);
        if (ferror(s->f)) {
            tg_set_error("%s: read error: %s", s->path, strerror(errno));
            return TG_ERR_IO;
        }
        return TG_OK;
    }
    while (*got < n && !s->ended) {
        if (s->z.avail_in == 0) {
            s->z.next_in = s->in;
            s->z.avail_in = (uInt)fread(s->in, 1, sizeof s->in, s->f);
            if (ferror(s->f)) {
                tg_set_error("%s: read error: %s", s->path, strerror(errno));
                return TG_ERR_IO;
            }
            if (s->z.avail_in == 0) return corrupt(s, "it ends before its gzip trailer");
        }
        size_t room = n - *got < (1u << 30) ? n - *got : (1u << 30);
        s->z.next_out = p + *got;
        s->z.avail_out = (uInt)room;
        int r = inflate(&s->z, Z_NO_FLUSH);
        *got += room - s->z.avail_out;
        if (r == Z_STREAM_END) {
            s->ended = true;
        } else if (r == Z_MEM_ERROR) {
            tg_set_error("%s: out of memory for zlib", s->path);
            return TG_ERR_NOMEM;
        } else if (r != Z_OK && r != Z_BUF_ERROR)
            return corrupt(s, s->z.msg ? s->z.msg : "inflate failed");
    }
    return TG_OK;
}

/* After the data: nothing may follow it, and a gzip stream must end here
 * (its trailer's CRC and length checked by inflate). */
static tg_status source_finish(source *s)
{
    unsigned char extra;
    size_t got;
    tg_status st = source_read(s, &extra, 1, &got);
    if (st != TG_OK) return st;
    if (got) {
        tg_set_error("%s: more data than the header's dimensions describe", s->path);
        return TG_ERR_FORMAT;
    }
    if (s->gzip && (s->z.avail_in > 0 || fgetc(s->f) != EOF))
        return corrupt(s, "bytes after the end of its gzip stream");
    return TG_OK;
}

/* Exactly n bytes, or a message saying the file is truncated. */
static tg_status read_exact(source *s, unsigned char *p, size_t n, size_t *got, const char *what)
{
    tg_status st = source_read(s, p, n, got);
    if (st == TG_OK && *got < n) {
        tg_set_error("%s: truncated %s: %zu bytes where %zu are needed", s->path, what, *got, n);
        st = TG_ERR_FORMAT;
    }
    return st;
}

/* The data, grown as it arrives: a header promising more than the file
 * holds costs at most what the file holds (and 1 MiB). */
static tg_status read_data(source *s, size_t expected, unsigned char **out)
{
    size_t cap = expected < (1u << 20) ? expected : (1u << 20), got = 0;
    unsigned char *data = malloc(cap ? cap : 1);
    while (data && got < expected) {
        if (got == cap) {
            size_t bigger = cap * 2 < expected ? cap * 2 : expected;
            unsigned char *grown = realloc(data, bigger);
            if (!grown) break;
            data = grown, cap = bigger;
        }
        size_t n;
        tg_status st = source_read(s, data + got, cap - got, &n);
        got += n;
        if (st != TG_OK || n == 0) {
            free(data);
            if (st == TG_OK) {
                tg_set_error("%s: truncated: the header promises %zu bytes of data, the file holds %zu", s->path,
                             expected, got);
                st = TG_ERR_FORMAT;
            }
            return st;
        }
    }
    if (!data || got < expected) {
        free(data);
        tg_set_error("%s: out of memory for %zu bytes", s->path, expected);
        return TG_ERR_NOMEM;
    }
    *out = data;
    return TG_OK;
}

tg_status tg_idx_load(const char *path, tg_idx *out)
{
    if (!path || !out) {
        tg_set_error("tg_idx_load: %s is NULL", path ? "output" : "path");
        return TG_ERR_ARG;
    }
    memset(out, 0, sizeof *out);
    source *s = malloc(sizeof *s);
    if (!s) {
        tg_set_error("%s: out of memory", path);
        return TG_ERR_NOMEM;
    }
    tg_status st = source_open(s, path);
    if (st != TG_OK) {
        free(s);
        return st;
    }
    unsigned char head[4 + 4 * 4];
    size_t got;
    st = read_exact(s, head, 4, &got, "header");
    if (st == TG_OK && (head[0] || head[1] || head[3] < 1 || head[3] > 4)) {
        tg_set_error("%s: not an IDX file (magic %02x %02x %02x %02x)", path, head[0], head[1], head[2], head[3]);
        st = TG_ERR_FORMAT;
    }
    if (st == TG_OK && head[2] != 0x08) {
        tg_set_error("%s: IDX type 0x%02x is not supported (tg reads unsigned bytes, 0x08)", path, head[2]);
        st = TG_ERR_FORMAT;
    }
    if (st == TG_OK) st = read_exact(s, head + 4, 4u * head[3], &got, "header");
    size_t size = 1;
    for (int d = 0; st == TG_OK && d < head[3]; d++) {
        const unsigned char *p = head + 4 + 4 * d;
        uint32_t dim = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        if (dim == 0 || dim > 0x7fffffffu || size > ((size_t)1 << 40) / dim) {
            tg_set_error("%s: dimension %d has size %u", path, d, dim);
            st = TG_ERR_FORMAT;
            break;
        }
        out->dims[d] = (int)dim;
        size *= dim;
    }
    if (st == TG_OK) st = read_data(s, size, &out->data);
    if (st == TG_OK) st = source_finish(s);
    source_close(s);
    free(s);
    if (st != TG_OK) {
        free(out->data);
        memset(out, 0, sizeof *out);
        return st;
    }
    out->ndim = head[3];
    out->size = size;
    return TG_OK;
}

void tg_idx_free(tg_idx *idx)
{
    if (!idx) return;
    free(idx->data);
    memset(idx, 0, sizeof *idx);
}
