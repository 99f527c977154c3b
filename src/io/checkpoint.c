/* checkpoint.c — named tensors and blobs in one versioned, checksummed file,
 * written atomically. The layout is in include/tg.h. */
#define _POSIX_C_SOURCE 200809L /* fsync, fileno */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "../tensor/tensor.h"

enum { KIND_TENSOR = 0, KIND_BLOB = 1, VERSION = 1, MAX_NAME = 255 };
static const char magic[8] = "TGCKPT01";

typedef struct entry {
    char name[MAX_NAME + 1];
    int kind;
    int ndim;
    int shape[TG_MAX_DIMS];
    size_t size;     /* floats for a tensor, bytes for a blob */
    void *data;
} entry;

struct tg_checkpoint {
    entry *entries;
    int n, cap;
};

tg_checkpoint *tg_checkpoint_new(void)
{
    tg_checkpoint *ck = calloc(1, sizeof *ck);
    if (!ck) tg__error("tg_checkpoint_new: out of memory");
    return ck;
}

void tg_checkpoint_free(tg_checkpoint *ck)
{
    if (!ck) return;
    for (int i = 0; i < ck->n; i++) free(ck->entries[i].data);
    free(ck->entries);
    free(ck);
}

static const entry *find(const tg_checkpoint *ck, const char *name)
{
    for (int i = 0; i < ck->n; i++)
        if (!strcmp(ck->entries[i].name, name)) return &ck->entries[i];
    return NULL;
}

/* A new entry named name holding a copy of bytes, or NULL with a message. */
static entry *add(const char *fn, tg_checkpoint *ck, const char *name, int kind, const void *bytes, size_t n)
{
    if (!ck || !name || !*name || strlen(name) > MAX_NAME || find(ck, name)) {
        tg__error("%s: name '%s' is %s", fn, name ? name : "", !ck ? "for a NULL checkpoint"
                  : name && *name && strlen(name) <= MAX_NAME ? "already in the checkpoint" : "empty or too long");
        return NULL;
    }
    if (ck->n == ck->cap) {
        int cap = ck->cap ? 2 * ck->cap : 16;
        entry *e = realloc(ck->entries, (size_t)cap * sizeof *e);
        if (!e) goto nomem;
        ck->entries = e, ck->cap = cap;
    }
    entry *e = &ck->entries[ck->n];
    memset(e, 0, sizeof *e);
    if (!(e->data = malloc(n ? n : 1))) goto nomem;
    if (n) memcpy(e->data, bytes, n);
    snprintf(e->name, sizeof e->name, "%s", name);
    e->kind = kind;
    ck->n++;
    return e;
nomem:
    tg__error("%s: out of memory", fn);
    return NULL;
}

tg_status tg_checkpoint_add_tensor(tg_checkpoint *ck, const char *name, const tg_tensor *t)
{
    if (!t) {
        tg__error("tg_checkpoint_add_tensor: tensor '%s' is NULL", name ? name : "");
        return TG_ERR_ARG;
    }
    entry *e = add("tg_checkpoint_add_tensor", ck, name, KIND_TENSOR, t->data, t->size * sizeof(float));
    if (!e) return TG_ERR_ARG;
    e->ndim = t->ndim;
    memcpy(e->shape, t->shape, sizeof e->shape);
    e->size = t->size;
    return TG_OK;
}

tg_status tg_checkpoint_add_blob(tg_checkpoint *ck, const char *name, const void *data, size_t n)
{
    entry *e = add("tg_checkpoint_add_blob", ck, name, KIND_BLOB, data, n);
    if (!e) return TG_ERR_ARG;
    e->size = n;
    return TG_OK;
}

/* ---- the bytes ---- */

static tg_status put_u32(tg_buf *b, uint32_t v)
{
    unsigned char p[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
    return tg_buf_put(b, p, 4);
}

static tg_status serialize(const tg_checkpoint *ck, tg_buf *b)
{
    tg_status s = tg_buf_put(b, magic, sizeof magic);
    if (s == TG_OK) s = put_u32(b, VERSION);
    if (s == TG_OK) s = put_u32(b, (uint32_t)ck->n);
    for (int i = 0; i < ck->n && s == TG_OK; i++) {
        const entry *e = &ck->entries[i];
        s = put_u32(b, (uint32_t)strlen(e->name));
        if (s == TG_OK) s = tg_buf_put(b, e->name, strlen(e->name));
        if (s == TG_OK) s = put_u32(b, (uint32_t)e->kind);
        if (e->kind == KIND_TENSOR) {
            if (s == TG_OK) s = put_u32(b, (uint32_t)e->ndim);
            for (int d = 0; d < e->ndim && s == TG_OK; d++) s = put_u32(b, (uint32_t)e->shape[d]);
            /* tg_buf_put_floats: the count, then little-endian floats */
            if (s == TG_OK) s = tg_buf_put_floats(b, e->data, e->size);
        } else {
            if (s == TG_OK) s = tg_buf_put_u64(b, e->size);
            if (s == TG_OK) s = tg_buf_put(b, e->data, e->size);
        }
    }
    if (s == TG_OK) s = put_u32(b, (uint32_t)crc32(0L, b->data, (uInt)b->len));
    return s;
}

static tg_status write_bytes(FILE *f, void *b)
{
    const tg_buf *buf = b;
    return fwrite(buf->data, 1, buf->len, f) == buf->len ? TG_OK : TG_ERR_IO;
}

tg_status tg_checkpoint_write(const tg_checkpoint *ck, const char *path)
{
    if (!ck || !path) {
        tg__error("tg_checkpoint_write: %s is NULL", ck ? "path" : "checkpoint");
        return TG_ERR_ARG;
    }
    tg_buf b = {0};
    tg_status s = serialize(ck, &b);
    if (s == TG_OK) s = tg_file_write_atomic(path, "the checkpoint", write_bytes, &b);
    tg_buf_free(&b);
    return s;
}

/* ---- reading: every length is checked against the bytes left ---- */

static bool get_u32(tg_buf *b, uint32_t *v)
{
    unsigned char p[4];
    if (tg_buf_get(b, p, 4) != TG_OK) return false;
    *v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return true;
}

/* Parses the entries of b (checksum already verified) into ck; a message
 * describes the first thing wrong. */
static tg_status parse(tg_buf *b, tg_checkpoint *ck, const char **why)
{
    uint32_t count;
    if (!get_u32(b, &count)) return *why = "truncated header", TG_ERR_FORMAT;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t name_len, kind, ndim = 0, dims[TG_MAX_DIMS] = {0};
        char name[MAX_NAME + 1];
        if (!get_u32(b, &name_len) || name_len == 0 || name_len > MAX_NAME) return *why = "bad entry name", TG_ERR_FORMAT;
        if (tg_buf_get(b, name, name_len) != TG_OK) return *why = "truncated entry name", TG_ERR_FORMAT;
        name[name_len] = '\0';
        if (!get_u32(b, &kind) || kind > KIND_BLOB) return *why = "bad entry kind", TG_ERR_FORMAT;
        uint64_t size;
        if (kind == KIND_TENSOR) {
            if (!get_u32(b, &ndim) || ndim > TG_MAX_DIMS) return *why = "bad tensor rank", TG_ERR_FORMAT;
            for (uint32_t d = 0; d < ndim; d++)
                if (!get_u32(b, &dims[d]) || dims[d] == 0 || dims[d] > 0x7fffffff) return *why = "bad tensor shape", TG_ERR_FORMAT;
        }
        if (tg_buf_get_u64(b, &size) != TG_OK) return *why = "truncated entry", TG_ERR_FORMAT;
        uint64_t bytes = kind == KIND_TENSOR ? size * 4 : size;
        if ((kind == KIND_TENSOR && size > (b->len - b->pos) / 4) || bytes > b->len - b->pos)
            return *why = "an entry is longer than the file", TG_ERR_FORMAT;
        uint64_t expect = 1;
        for (uint32_t d = 0; d < ndim; d++) {
            if (expect > ((uint64_t)1 << 62) / dims[d]) return *why = "a tensor's shape is too large", TG_ERR_FORMAT;
            expect *= dims[d];
        }
        if (kind == KIND_TENSOR && expect != size) return *why = "a tensor's size does not match its shape", TG_ERR_FORMAT;
        entry *e = add("tg_checkpoint_read", ck, name, (int)kind, b->data + b->pos, (size_t)bytes);
        if (!e) return *why = "a repeated entry name (or out of memory)", TG_ERR_FORMAT;
        b->pos += (size_t)bytes;
        e->ndim = (int)ndim;
        for (uint32_t d = 0; d < ndim; d++) e->shape[d] = (int)dims[d];
        for (int d = (int)ndim; d < TG_MAX_DIMS; d++) e->shape[d] = 1;
        e->size = (size_t)size;
        if (kind == KIND_TENSOR) { /* stored little-endian: decode in place */
            tg_buf raw = {.data = (unsigned char *)e->data, .len = (size_t)bytes};
            float *f = e->data;
            for (size_t k = 0; k < e->size; k++) {
                uint32_t v;
                get_u32(&raw, &v);
                memcpy(&f[k], &v, 4);
            }
        }
    }
    if (b->pos != b->len) return *why = "bytes after the last entry", TG_ERR_FORMAT;
    return TG_OK;
}

/* The whole file in memory; its real size decides how much is read. */
static tg_status slurp(const char *path, tg_buf *b)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        tg__error("%s: cannot open: %s", path, strerror(errno));
        return TG_ERR_IO;
    }
    unsigned char chunk[1 << 16];
    size_t n;
    tg_status s = TG_OK;
    while (s == TG_OK && (n = fread(chunk, 1, sizeof chunk, f)) > 0) s = tg_buf_put(b, chunk, n);
    if (s == TG_OK && ferror(f)) {
        tg__error("%s: read error", path);
        s = TG_ERR_IO;
    }
    fclose(f);
    return s;
}

tg_status tg_checkpoint_read(const char *path, tg_checkpoint **out)
{
    if (!path || !out) {
        tg__error("tg_checkpoint_read: %s is NULL", path ? "output" : "path");
        return TG_ERR_ARG;
    }
    *out = NULL;
    tg_buf b = {0};
    tg_status s = slurp(path, &b);
    if (s != TG_OK) {
        tg_buf_free(&b);
        return s;
    }
    const char *why = NULL;
    uint32_t version = 0, stored_crc = 0;
    char head[sizeof magic];
    if (tg_buf_get(&b, head, sizeof magic) != TG_OK || memcmp(head, magic, sizeof magic))
        why = b.len < sizeof magic ? "truncated (or not a tg checkpoint)" : "not a tg checkpoint (bad magic)";
    else if (b.len < sizeof magic + 8)
        why = "truncated";
    else if (!get_u32(&b, &version) || version != VERSION)
        why = "unsupported version";
    if (!why) {
        size_t body = b.len - 4;
        tg_buf tail = {.data = b.data + body, .len = 4};
        get_u32(&tail, &stored_crc);
        if ((uint32_t)crc32(0L, b.data, (uInt)body) != stored_crc) why = "checksum mismatch (corrupt or truncated)";
        b.len = body;
    }
    tg_checkpoint *ck = why ? NULL : tg_checkpoint_new();
    if (!why && !ck) why = "out of memory";
    if (!why) parse(&b, ck, &why);
    tg_buf_free(&b);
    if (why) {
        tg_checkpoint_free(ck);
        if (!strcmp(why, "unsupported version"))
            tg__error("%s: checkpoint version %u; this tg reads version %d", path, version, VERSION);
        else
            tg__error("%s: %s", path, why);
        return TG_ERR_FORMAT;
    }
    *out = ck;
    return TG_OK;
}

tg_status tg_checkpoint_get_tensor(const tg_checkpoint *ck, const char *name, tg_tensor *t)
{
    const entry *e = ck && name ? find(ck, name) : NULL;
    if (!e || e->kind != KIND_TENSOR || !t) {
        tg__error("checkpoint: no tensor named '%s'", name ? name : "");
        return TG_ERR_FORMAT;
    }
    if (e->ndim != t->ndim || memcmp(e->shape, t->shape, sizeof e->shape)) {
        tg_tensor stored = {.ndim = e->ndim};
        memcpy(stored.shape, e->shape, sizeof stored.shape);
        char have[64], want[64];
        tg__error("checkpoint: tensor '%s' is %s there, the model needs %s", name, tg_shape_str(&stored, have),
                  tg_shape_str(t, want));
        return TG_ERR_FORMAT;
    }
    memcpy(t->data, e->data, e->size * sizeof(float));
    return TG_OK;
}

tg_status tg_checkpoint_get_blob(const tg_checkpoint *ck, const char *name, const void **data, size_t *n)
{
    const entry *e = ck && name ? find(ck, name) : NULL;
    if (!e || e->kind != KIND_BLOB) {
        tg__error("checkpoint: no entry named '%s'", name ? name : "");
        return TG_ERR_FORMAT;
    }
    *data = e->data;
    *n = e->size;
    return TG_OK;
}
