/* safetensors.c — named tensors in the format of the PyTorch / Hugging Face
 * ecosystem (github.com/huggingface/safetensors, "Format"): an 8-byte
 * little-endian header length N, N bytes of JSON
 *   {"__metadata__": {"k": "v"}, "name": {"dtype": "F32", "shape": [2, 3],
 *    "data_offsets": [0, 24]}, ...}
 * (padded with spaces), then the tensors' bytes, little-endian, the offsets
 * counted from the end of the header. A file is read whole only after its
 * header has been checked against the file's size: lengths, offsets that
 * tile the data exactly (sorted, contiguous, no overlap, no gap), sizes
 * that match the shapes. */
#define _POSIX_C_SOURCE 200809L /* open_memstream, strdup */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tensor/tensor.h"

/* The safetensors library refuses headers above 100 MB; so does tg. */
enum { MAX_HEADER = 100000000, MAX_NAME = 255, MAX_ST_DIMS = 8, MAX_META = 64 };

typedef struct st_entry {
    char name[MAX_NAME + 1];
    tg_dtype dtype;
    int ndim;
    int64_t shape[MAX_ST_DIMS];
    size_t begin, end;           /* in data */
} st_entry;

struct tg_safetensors {
    st_entry *entries;
    int n, cap;
    char *meta[MAX_META][2];     /* __metadata__, key and value (owned) */
    int n_meta;
    unsigned char *data;         /* the tensors' bytes */
    size_t len, data_cap;
};

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {[TG_F32] = {"F32", 4}, [TG_I64] = {"I64", 8}};

const char *tg_dtype_name(tg_dtype d) { return d == TG_F32 || d == TG_I64 ? dtypes[d].name : "?"; }

tg_safetensors *tg_safetensors_new(void)
{
    tg_safetensors *st = calloc(1, sizeof *st);
    if (!st) tg__error("tg_safetensors_new: out of memory");
    return st;
}

void tg_safetensors_free(tg_safetensors *st)
{
    if (!st) return;
    for (int i = 0; i < st->n_meta; i++) free(st->meta[i][0]), free(st->meta[i][1]);
    free(st->entries);
    free(st->data);
    free(st);
}

static const st_entry *find(const tg_safetensors *st, const char *name)
{
    for (int i = 0; i < st->n; i++)
        if (!strcmp(st->entries[i].name, name)) return &st->entries[i];
    return NULL;
}

static st_entry *new_entry(tg_safetensors *st)
{
    if (st->n == st->cap) {
        int cap = st->cap ? 2 * st->cap : 16;
        st_entry *e = realloc(st->entries, (size_t)cap * sizeof *e);
        if (!e) return NULL;
        st->entries = e, st->cap = cap;
    }
    st_entry *e = &st->entries[st->n++];
    memset(e, 0, sizeof *e);
    return e;
}

/* ---- building and writing ---- */

tg_status tg_safetensors_add(tg_safetensors *st, const char *name, const tg_tensor *t, tg_dtype dtype)
{
    static const char fn[] = "tg_safetensors_add";
    if (!st || !name || !t || (dtype != TG_F32 && dtype != TG_I64)) {
        tg__error("%s: %s", fn, !st ? "file is NULL" : !name ? "name is NULL" : !t ? "tensor is NULL" : "unknown dtype");
        return TG_ERR_ARG;
    }
    if (!*name || strlen(name) > MAX_NAME || !strcmp(name, "__metadata__") || find(st, name)) {
        tg__error("%s: name '%s' is %s", fn, name, find(st, name) ? "already in the file" : "empty, reserved or too long");
        return TG_ERR_ARG;
    }
    size_t bytes = t->size * dtypes[dtype].size;
    if (st->len + bytes > st->data_cap) {
        size_t cap = st->data_cap ? st->data_cap : 4096;
        while (cap < st->len + bytes) cap *= 2;
        unsigned char *d = realloc(st->data, cap);
        if (!d) goto nomem;
        st->data = d, st->data_cap = cap;
    }
    st_entry *e = new_entry(st);
    if (!e) goto nomem;
    snprintf(e->name, sizeof e->name, "%s", name);
    e->dtype = dtype;
    e->ndim = t->ndim;
    for (int d = 0; d < t->ndim; d++) e->shape[d] = t->shape[d];
    e->begin = st->len, e->end = st->len + bytes;
    unsigned char *out = st->data + st->len;
    for (size_t i = 0; i < t->size; i++) {
        /* little-endian whatever the host: byte k of the value's bits */
        uint64_t bits;
        if (dtype == TG_F32) {
            uint32_t b32;
            memcpy(&b32, &t->data[i], 4);
            bits = b32;
        } else {
            bits = (uint64_t)(int64_t)t->data[i]; /* a count held as float: exact below 2^24 */
        }
        for (size_t k = 0; k < dtypes[dtype].size; k++) *out++ = (unsigned char)(bits >> (8 * k));
    }
    st->len += bytes;
    return TG_OK;
nomem:
    tg__error("%s: out of memory", fn);
    return TG_ERR_NOMEM;
}

tg_status tg_safetensors_set_metadata(tg_safetensors *st, const char *key, const char *value)
{
    if (!st || !key || !value) {
        tg__error("tg_safetensors_set_metadata: %s is NULL", !st ? "file" : !key ? "key" : "value");
        return TG_ERR_ARG;
    }
    for (int i = 0; i < st->n_meta; i++)
        if (!strcmp(st->meta[i][0], key)) {
            char *v = strdup(value);
            if (!v) goto nomem;
            free(st->meta[i][1]);
            st->meta[i][1] = v;
            return TG_OK;
        }
    if (st->n_meta == MAX_META) {
        tg__error("tg_safetensors_set_metadata: more than %d keys", MAX_META);
        return TG_ERR_ARG;
    }
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k), free(v);
        goto nomem;
    }
    st->meta[st->n_meta][0] = k, st->meta[st->n_meta][1] = v;
    st->n_meta++;
    return TG_OK;
nomem:
    tg__error("tg_safetensors_set_metadata: out of memory");
    return TG_ERR_NOMEM;
}

/* s as a JSON string */
static void put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

/* The header's JSON, padded with spaces to a multiple of 8 bytes so that
 * the data starts aligned (as the safetensors library writes it). */
static void put_header(FILE *f, const tg_safetensors *st)
{
    fputc('{', f);
    bool first = true;
    if (st->n_meta) {
        fputs("\"__metadata__\":{", f);
        for (int i = 0; i < st->n_meta; i++) {
            if (i) fputc(',', f);
            put_string(f, st->meta[i][0]);
            fputc(':', f);
            put_string(f, st->meta[i][1]);
        }
        fputc('}', f);
        first = false;
    }
    for (int i = 0; i < st->n; i++) {
        const st_entry *e = &st->entries[i];
        if (!first) fputc(',', f);
        first = false;
        put_string(f, e->name);
        fprintf(f, ":{\"dtype\":\"%s\",\"shape\":[", dtypes[e->dtype].name);
        for (int d = 0; d < e->ndim; d++) fprintf(f, "%s%lld", d ? "," : "", (long long)e->shape[d]);
        fprintf(f, "],\"data_offsets\":[%zu,%zu]}", e->begin, e->end);
    }
    fputc('}', f);
}

static tg_status write_file(FILE *f, void *ctx)
{
    const tg_safetensors *st = ctx;
    char *header = NULL;
    size_t n = 0;
    FILE *mem = open_memstream(&header, &n);
    if (!mem) return TG_ERR_NOMEM;
    put_header(mem, st);
    if (fclose(mem) != 0) {
        free(header);
        return TG_ERR_NOMEM;
    }
    size_t padded = (n + 7) / 8 * 8;
    unsigned char len[8];
    for (int k = 0; k < 8; k++) len[k] = (unsigned char)((uint64_t)padded >> (8 * k));
    bool ok = fwrite(len, 1, 8, f) == 8 && fwrite(header, 1, n, f) == n;
    for (size_t k = n; ok && k < padded; k++) ok = fputc(' ', f) != EOF;
    ok = ok && (!st->len || fwrite(st->data, 1, st->len, f) == st->len);
    free(header);
    return ok ? TG_OK : TG_ERR_IO;
}

tg_status tg_safetensors_write(const tg_safetensors *st, const char *path)
{
    if (!st || !path) {
        tg__error("tg_safetensors_write: %s is NULL", st ? "path" : "file");
        return TG_ERR_ARG;
    }
    return tg_file_write_atomic(path, "the safetensors file", write_file, (void *)st);
}

/* ---- reading: a strict parser for the header's JSON ---- */

typedef struct parser {
    const char *start, *p, *end;
    const char *path;
    tg_status status;
} parser;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static bool fail(parser *ps, const char *fmt, ...);

static bool fail(parser *ps, const char *fmt, ...)
{
    if (ps->status != TG_OK) return false;
    char why[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    tg__error("%s: %s", ps->path, why);
    ps->status = TG_ERR_FORMAT;
    return false;
}

static void skip_space(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static bool expect(parser *ps, char c)
{
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == c) {
        ps->p++;
        return true;
    }
    return fail(ps, "header: '%c' expected at byte %td of the file", c, ps->p - ps->start + 8);
}

static int hex(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* A JSON string into out (at most size - 1 bytes, UTF-8). */
static bool string(parser *ps, char *out, size_t size, const char *what)
{
    if (!expect(ps, '"')) return false;
    size_t n = 0;
    while (ps->p < ps->end && *ps->p != '"') {
        unsigned c = (unsigned char)*ps->p++;
        if (c < 0x20) return fail(ps, "header: a control character in %s", what);
        if (c == '\\') {
            if (ps->p >= ps->end) break;
            char e = *ps->p++;
            const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
            const char *at = strchr(from, e);
            if (e && at) {
                c = (unsigned char)to[at - from];
            } else if (e == 'u' && ps->end - ps->p >= 4) {
                int h[4] = {hex(ps->p[0]), hex(ps->p[1]), hex(ps->p[2]), hex(ps->p[3])};
                if (h[0] < 0 || h[1] < 0 || h[2] < 0 || h[3] < 0) return fail(ps, "header: a bad \\u escape in %s", what);
                c = (unsigned)(h[0] << 12 | h[1] << 8 | h[2] << 4 | h[3]);
                ps->p += 4;
                if (c == 0 || (c >= 0xd800 && c < 0xe000)) return fail(ps, "header: \\u%04x in %s is not allowed", c, what);
                /* UTF-8 of one code point below 0x10000 */
                unsigned char u[3];
                int k = c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
                if (k == 1) u[0] = (unsigned char)c;
                if (k == 2) u[0] = (unsigned char)(0xc0 | c >> 6), u[1] = (unsigned char)(0x80 | (c & 0x3f));
                if (k == 3)
                    u[0] = (unsigned char)(0xe0 | c >> 12), u[1] = (unsigned char)(0x80 | (c >> 6 & 0x3f)),
                    u[2] = (unsigned char)(0x80 | (c & 0x3f));
                if (n + (size_t)k >= size) return fail(ps, "header: %s is longer than %zu bytes", what, size - 1);
                memcpy(out + n, u, (size_t)k);
                n += (size_t)k;
                continue;
            } else {
                return fail(ps, "header: a bad escape in %s", what);
            }
        }
        if (n + 1 >= size) return fail(ps, "header: %s is longer than %zu bytes", what, size - 1);
        out[n++] = (char)c;
    }
    if (ps->p >= ps->end) return fail(ps, "header: %s is not terminated", what);
    ps->p++;
    out[n] = '\0';
    return true;
}

/* A non-negative integer below 2^53 (what JSON numbers hold exactly). */
static bool count(parser *ps, uint64_t *v, const char *what)
{
    skip_space(ps);
    uint64_t x = 0;
    const char *start = ps->p;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
        x = x * 10 + (uint64_t)(*ps->p++ - '0');
        if (x > (UINT64_C(1) << 53)) return fail(ps, "header: %s is too large", what);
    }
    if (ps->p == start || (ps->p - start > 1 && *start == '0'))
        return fail(ps, "header: %s must be a non-negative integer", what);
    *v = x;
    return true;
}

/* [n, n, ...] into v (at most max); their count in *n. */
static bool counts(parser *ps, uint64_t *v, int max, int *n, const char *what)
{
    *n = 0;
    if (!expect(ps, '[')) return false;
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return true;
    }
    do {
        if (*n == max) return fail(ps, "header: %s has more than %d entries", what, max);
        if (!count(ps, &v[(*n)++], what)) return false;
        skip_space(ps);
    } while (ps->p < ps->end && *ps->p == ',' && ps->p++);
    return expect(ps, ']');
}

/* The next member's separator: true when another member follows. */
static bool more(parser *ps)
{
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == ',') {
        ps->p++;
        return true;
    }
    return false;
}

static bool metadata(parser *ps, tg_safetensors *st)
{
    if (!expect(ps, '{')) return false;
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == '}') return ps->p++, true;
    do {
        char key[256], value[4096];
        if (!string(ps, key, sizeof key, "a metadata key") || !expect(ps, ':') ||
            !string(ps, value, sizeof value, "a metadata value"))
            return false;
        if (tg_safetensors_metadata(st, key)) return fail(ps, "header: metadata key '%s' appears twice", key);
        if (tg_safetensors_set_metadata(st, key, value) != TG_OK) {
            ps->status = tg_last_error()[0] && strstr(tg_last_error(), "memory") ? TG_ERR_NOMEM : TG_ERR_FORMAT;
            return false;
        }
    } while (more(ps));
    return expect(ps, '}');
}

/* {"dtype": ..., "shape": [...], "data_offsets": [b, e]} into e */
static bool tensor_info(parser *ps, st_entry *e)
{
    bool seen[3] = {false, false, false};
    if (!expect(ps, '{')) return false;
    do {
        char key[32], dtype[16];
        if (!string(ps, key, sizeof key, "a field name") || !expect(ps, ':')) return false;
        int which = !strcmp(key, "dtype") ? 0 : !strcmp(key, "shape") ? 1 : !strcmp(key, "data_offsets") ? 2 : -1;
        if (which < 0) return fail(ps, "header: tensor '%s' has a field '%s' (only dtype, shape, data_offsets)", e->name, key);
        if (seen[which]) return fail(ps, "header: tensor '%s' has %s twice", e->name, key);
        seen[which] = true;
        if (which == 0) {
            if (!string(ps, dtype, sizeof dtype, "a dtype")) return false;
            if (!strcmp(dtype, "F32")) e->dtype = TG_F32;
            else if (!strcmp(dtype, "I64")) e->dtype = TG_I64;
            else return fail(ps, "tensor '%s' has dtype %s; tg reads F32 and I64", e->name, dtype);
        } else if (which == 1) {
            uint64_t shape[MAX_ST_DIMS];
            if (!counts(ps, shape, MAX_ST_DIMS, &e->ndim, "a shape")) return false;
            for (int d = 0; d < e->ndim; d++) e->shape[d] = (int64_t)shape[d];
        } else {
            uint64_t off[3];
            int n;
            if (!counts(ps, off, 3, &n, "data_offsets")) return false;
            if (n != 2 || off[1] < off[0]) return fail(ps, "header: tensor '%s' has data_offsets that are not [begin, end]", e->name);
            e->begin = (size_t)off[0], e->end = (size_t)off[1];
        }
    } while (more(ps));
    if (!seen[0] || !seen[1] || !seen[2])
        return fail(ps, "header: tensor '%s' has no %s", e->name, !seen[0] ? "dtype" : !seen[1] ? "shape" : "data_offsets");
    return expect(ps, '}');
}

static bool header(parser *ps, tg_safetensors *st)
{
    if (!expect(ps, '{')) return false;
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
    } else {
        do {
            char name[MAX_NAME + 1];
            if (!string(ps, name, sizeof name, "a tensor name") || !expect(ps, ':')) return false;
            if (!strcmp(name, "__metadata__")) {
                if (!metadata(ps, st)) return false;
                continue;
            }
            if (find(st, name)) return fail(ps, "header: tensor '%s' appears twice", name);
            st_entry *e = new_entry(st);
            if (!e) {
                tg__error("%s: out of memory", ps->path);
                ps->status = TG_ERR_NOMEM;
                return false;
            }
            snprintf(e->name, sizeof e->name, "%s", name);
            if (!tensor_info(ps, e)) return false;
        } while (more(ps));
        if (!expect(ps, '}')) return false;
    }
    skip_space(ps);
    if (ps->p != ps->end) return fail(ps, "header: bytes after the JSON object");
    return true;
}

/* Every tensor's bytes: the size its shape says, and together they tile
 * [0, len) in order of their offsets, without gap or overlap. */
static int by_begin(const void *a, const void *b)
{
    const st_entry *x = *(const st_entry *const *)a, *y = *(const st_entry *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

static bool offsets_tile(parser *ps, const tg_safetensors *st, size_t len)
{
    const st_entry **order = malloc((size_t)(st->n ? st->n : 1) * sizeof *order);
    if (!order) {
        tg__error("%s: out of memory", ps->path);
        ps->status = TG_ERR_NOMEM;
        return false;
    }
    for (int i = 0; i < st->n; i++) order[i] = &st->entries[i];
    qsort(order, (size_t)st->n, sizeof *order, by_begin);
    size_t at = 0;
    bool ok = true;
    for (int i = 0; ok && i < st->n; i++) {
        const st_entry *e = order[i];
        uint64_t bytes = dtypes[e->dtype].size;
        for (int d = 0; d < e->ndim && bytes; d++) {
            if (e->shape[d] && bytes > UINT64_MAX / (uint64_t)e->shape[d]) bytes = UINT64_MAX;
            else bytes *= (uint64_t)e->shape[d];
        }
        if (e->begin != at)
            ok = fail(ps, "tensor '%s' starts at data offset %zu where %zu was expected (a gap or an overlap)", e->name,
                      e->begin, at);
        else if (e->end - e->begin != bytes)
            ok = fail(ps, "tensor '%s' has %zu bytes at offsets [%zu, %zu] but its shape and dtype need %llu", e->name,
                      e->end - e->begin, e->begin, e->end, (unsigned long long)bytes);
        at = e->end;
    }
    if (ok && at != len)
        ok = fail(ps, "the tensors cover %zu bytes of data but the file holds %zu after the header", at, len);
    free(order);
    return ok;
}

tg_status tg_safetensors_read(const char *path, tg_safetensors **out)
{
    if (!path || !out) {
        tg__error("tg_safetensors_read: %s is NULL", path ? "out" : "path");
        return TG_ERR_ARG;
    }
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        tg__error("%s: cannot open: %s", path, strerror(errno));
        return TG_ERR_IO;
    }
    tg_safetensors *st = NULL;
    char *text = NULL;
    tg_status status = TG_OK;
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    unsigned char len8[8];
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        tg__error("%s: cannot read: %s", path, strerror(errno));
        status = TG_ERR_IO;
        goto done;
    }
    if (size < 8 || fread(len8, 1, 8, f) != 8) {
        tg__error("%s: %ld bytes: too short for a safetensors file (8 bytes of header length first)", path, size);
        status = TG_ERR_FORMAT;
        goto done;
    }
    uint64_t n = 0;
    for (int k = 7; k >= 0; k--) n = n << 8 | len8[k];
    if (n < 2 || n > MAX_HEADER || n > (uint64_t)size - 8) {
        tg__error("%s: the header length %llu does not fit (the file has %ld bytes; at most %d)", path,
                  (unsigned long long)n, size, MAX_HEADER);
        status = TG_ERR_FORMAT;
        goto done;
    }
    st = tg_safetensors_new();
    text = malloc((size_t)n);
    if (!st || !text) {
        tg__error("tg_safetensors_read: out of memory");
        status = TG_ERR_NOMEM;
        goto done;
    }
    if (fread(text, 1, (size_t)n, f) != (size_t)n) {
        tg__error("%s: cannot read the header: %s", path, ferror(f) ? strerror(errno) : "the file ended");
        status = TG_ERR_IO;
        goto done;
    }
    parser ps = {text, text, text + n, path, TG_OK};
    size_t len = (size_t)((uint64_t)size - 8 - n);
    if (!header(&ps, st) || !offsets_tile(&ps, st, len)) {
        status = ps.status;
        goto done;
    }
    st->data = malloc(len ? len : 1);
    if (!st->data) {
        tg__error("tg_safetensors_read: out of memory for %zu bytes of data", len);
        status = TG_ERR_NOMEM;
        goto done;
    }
    st->len = st->data_cap = len;
    if (len && fread(st->data, 1, len, f) != len) {
        tg__error("%s: cannot read the data: %s", path, ferror(f) ? strerror(errno) : "the file ended");
        status = TG_ERR_IO;
    }
done:
    fclose(f);
    free(text);
    if (status == TG_OK) *out = st;
    else tg_safetensors_free(st);
    return status;
}

/* ---- what a file holds ---- */

int tg_safetensors_count(const tg_safetensors *st) { return st ? st->n : 0; }

const char *tg_safetensors_name(const tg_safetensors *st, int i)
{
    return st && i >= 0 && i < st->n ? st->entries[i].name : NULL;
}

bool tg_safetensors_info(const tg_safetensors *st, const char *name, tg_dtype *dtype, int *ndim, int64_t *shape)
{
    const st_entry *e = st && name ? find(st, name) : NULL;
    if (!e) return false;
    if (dtype) *dtype = e->dtype;
    if (ndim) *ndim = e->ndim;
    for (int d = 0; shape && d < e->ndim; d++) shape[d] = e->shape[d];
    return true;
}

const char *tg_safetensors_metadata(const tg_safetensors *st, const char *key)
{
    for (int i = 0; st && key && i < st->n_meta; i++)
        if (!strcmp(st->meta[i][0], key)) return st->meta[i][1];
    return NULL;
}

tg_status tg_safetensors_get(const tg_safetensors *st, const char *name, tg_dtype dtype, tg_tensor *into)
{
    static const char fn[] = "tg_safetensors_get";
    if (!st || !name || !into) {
        tg__error("%s: %s is NULL", fn, !st ? "file" : !name ? "name" : "tensor");
        return TG_ERR_ARG;
    }
    const st_entry *e = find(st, name);
    if (!e) {
        tg__error("%s: no tensor '%s' in the file", fn, name);
        return TG_ERR_ARG;
    }
    bool same = e->ndim == into->ndim;
    for (int d = 0; same && d < e->ndim; d++) same = e->shape[d] == into->shape[d];
    if (!same) {
        char want[64], got[160];
        int n = snprintf(got, sizeof got, "(");
        for (int d = 0; d < e->ndim && n < (int)sizeof got; d++)
            n += snprintf(got + n, sizeof got - (size_t)n, "%s%lld", d ? "," : "", (long long)e->shape[d]);
        if (n < (int)sizeof got) snprintf(got + n, sizeof got - (size_t)n, ")");
        tg__error("%s: '%s' has shape %s in the file, %s here", fn, name, got, tg_shape_str(into, want));
        return TG_ERR_ARG;
    }
    if (e->dtype != dtype) {
        tg__error("%s: '%s' is %s in the file, %s expected", fn, name, dtypes[e->dtype].name, dtypes[dtype].name);
        return TG_ERR_ARG;
    }
    const unsigned char *p = st->data + e->begin;
    size_t w = dtypes[e->dtype].size;
    for (size_t i = 0; i < into->size; i++, p += w) {
        uint64_t bits = 0;
        for (size_t k = w; k-- > 0;) bits = bits << 8 | p[k];
        if (e->dtype == TG_F32) {
            uint32_t b32 = (uint32_t)bits;
            memcpy(&into->data[i], &b32, 4);
        } else {
            into->data[i] = (float)(int64_t)bits;
        }
    }
    return TG_OK;
}
