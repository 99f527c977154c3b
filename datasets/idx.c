/* idx.c — IDX files (LeCun's MNIST format, http://yann.lecun.com/exdb/mnist/):
 *   bytes 0-1: 0, byte 2: type (0x08 unsigned byte), byte 3: dimensions;
 *   then one big-endian u32 per dimension, then the data, row-major.
 * zlib's gz* functions read gzip and raw files alike. Nothing in the header
 * is trusted until the file has delivered the bytes it promises. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <tg.h>

/* Reads exactly n bytes, or says how many there were. */
static tg_status read_exact(gzFile f, const char *path, unsigned char *p, size_t n, size_t *got, const char *what)
{
    *got = 0;
    while (*got < n) {
        unsigned chunk = n - *got > (1u << 30) ? 1u << 30 : (unsigned)(n - *got);
        int r = gzread(f, p + *got, chunk);
        if (r < 0) {
            int err;
            const char *msg = gzerror(f, &err);
            tg_set_error("%s: not a valid gzip or IDX file (%s)", path, err == Z_ERRNO ? strerror(errno) : msg);
            return TG_ERR_FORMAT;
        }
        if (r == 0) break;
        *got += (size_t)r;
    }
    if (*got < n) {
        tg_set_error("%s: truncated %s: %zu bytes where %zu are needed", path, what, *got, n);
        return TG_ERR_FORMAT;
    }
    return TG_OK;
}

/* The data, grown as it arrives: a header promising more than the file
 * holds costs at most what the file holds. */
static tg_status read_data(gzFile f, const char *path, size_t expected, unsigned char **out)
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
        tg_status s = read_exact(f, path, data + got, cap - got, &n, "data");
        got += n;
        if (s != TG_OK) {
            free(data);
            if (got < expected && s == TG_ERR_FORMAT && strstr(tg_last_error(), "truncated"))
                tg_set_error("%s: truncated: the header promises %zu bytes of data, the file holds %zu", path,
                             expected, got);
            return s;
        }
    }
    if (!data || got < expected) {
        free(data);
        tg_set_error("%s: out of memory for %zu bytes", path, expected);
        return TG_ERR_NOMEM;
    }
    unsigned char extra;
    if (gzread(f, &extra, 1) > 0) {
        free(data);
        tg_set_error("%s: more data than the header's dimensions describe", path);
        return TG_ERR_FORMAT;
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
    gzFile f = gzopen(path, "rb");
    if (!f) {
        tg_set_error("%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
        return TG_ERR_IO;
    }
    unsigned char head[4 + 4 * 4];
    size_t got;
    tg_status s = read_exact(f, path, head, 4, &got, "header");
    if (s == TG_OK && (head[0] || head[1] || head[3] < 1 || head[3] > 4)) {
        tg_set_error("%s: not an IDX file (magic %02x %02x %02x %02x)", path, head[0], head[1], head[2], head[3]);
        s = TG_ERR_FORMAT;
    }
    if (s == TG_OK && head[2] != 0x08) {
        tg_set_error("%s: IDX type 0x%02x is not supported (tg reads unsigned bytes, 0x08)", path, head[2]);
        s = TG_ERR_FORMAT;
    }
    if (s == TG_OK) s = read_exact(f, path, head + 4, 4u * head[3], &got, "header");
    size_t size = 1;
    for (int d = 0; s == TG_OK && d < head[3]; d++) {
        const unsigned char *p = head + 4 + 4 * d;
        uint32_t dim = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        if (dim == 0 || dim > 0x7fffffffu || size > ((size_t)1 << 40) / dim) {
            tg_set_error("%s: dimension %d has size %u", path, d, dim);
            s = TG_ERR_FORMAT;
            break;
        }
        out->dims[d] = (int)dim;
        size *= dim;
    }
    if (s == TG_OK) s = read_data(f, path, size, &out->data);
    gzclose(f);
    if (s != TG_OK) {
        memset(out, 0, sizeof *out);
        return s;
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
