/* buf.c — a growable byte buffer with little-endian numbers, the one format
 * optimizer and scheduler state is saved in. */
#include <stdlib.h>
#include <string.h>

#include "base.h"

tg_status tg_buf_put(tg_buf *b, const void *p, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n) {
            if (cap > SIZE_MAX / 2) goto nomem;
            cap *= 2;
        }
        unsigned char *data = realloc(b->data, cap);
        if (!data) goto nomem;
        b->data = data;
        b->cap = cap;
    }
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    return TG_OK;
nomem:
    tg__error("tg_buf_put: out of memory for %zu more bytes", n);
    return TG_ERR_NOMEM;
}

tg_status tg_buf_get(tg_buf *b, void *p, size_t n)
{
    if (b->pos > b->len || b->len - b->pos < n) {
        tg__error("tg_buf_get: state ends after %zu bytes, %zu more expected", b->len, n);
        return TG_ERR_FORMAT;
    }
    if (n) memcpy(p, b->data + b->pos, n);
    b->pos += n;
    return TG_OK;
}

tg_status tg_buf_put_u64(tg_buf *b, uint64_t v)
{
    unsigned char bytes[8];
    for (int i = 0; i < 8; i++) bytes[i] = (unsigned char)(v >> (8 * i));
    return tg_buf_put(b, bytes, 8);
}

tg_status tg_buf_get_u64(tg_buf *b, uint64_t *v)
{
    unsigned char bytes[8];
    tg_status s = tg_buf_get(b, bytes, 8);
    if (s != TG_OK) return s;
    *v = 0;
    for (int i = 0; i < 8; i++) *v |= (uint64_t)bytes[i] << (8 * i);
    return TG_OK;
}

tg_status tg_buf_put_f64(tg_buf *b, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return tg_buf_put_u64(b, bits);
}

tg_status tg_buf_get_f64(tg_buf *b, double *v)
{
    uint64_t bits;
    tg_status s = tg_buf_get_u64(b, &bits);
    if (s == TG_OK) memcpy(v, &bits, sizeof *v);
    return s;
}

static void float_bytes(const float *v, size_t n, unsigned char *out)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &v[i], 4);
        for (int k = 0; k < 4; k++) out[4 * i + k] = (unsigned char)(bits >> (8 * k));
    }
}

tg_status tg_buf_put_floats(tg_buf *b, const float *v, size_t n)
{
    tg_status s = tg_buf_put_u64(b, n);
    unsigned char chunk[4 * 256];
    for (size_t i = 0; i < n && s == TG_OK; i += 256) {
        size_t k = n - i < 256 ? n - i : 256;
        float_bytes(v + i, k, chunk);
        s = tg_buf_put(b, chunk, 4 * k);
    }
    return s;
}

tg_status tg_buf_get_floats(tg_buf *b, float *v, size_t n)
{
    uint64_t stored;
    tg_status s = tg_buf_get_u64(b, &stored);
    if (s != TG_OK) return s;
    if (stored != n) {
        tg__error("tg_buf_get_floats: state holds %llu floats where %zu are expected",
                  (unsigned long long)stored, n);
        return TG_ERR_FORMAT;
    }
    if (b->len - b->pos < 4 * n) {
        tg__error("tg_buf_get_floats: state ends before its %zu floats", n);
        return TG_ERR_FORMAT;
    }
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = b->data + b->pos + 4 * i;
        uint32_t bits = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        memcpy(&v[i], &bits, 4);
    }
    b->pos += 4 * n;
    return TG_OK;
}

void tg_buf_free(tg_buf *b)
{
    if (!b) return;
    free(b->data);
    *b = (tg_buf){0};
}
