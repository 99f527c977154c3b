/* fuzz_safetensors.c — the safetensors reader (tg_safetensors_read) on any
 * bytes: it must load them or refuse them with a message, never crash,
 * hang, leak or read past what the file holds; every tensor it accepts
 * copies out whole, and a file it accepts writes back to one it accepts. */
#include <stdlib.h>

#include <tg.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("input.safetensors", data, size);
    if (!path) return 0;
    tg_clear_error();
    tg_safetensors *st;
    if (tg_safetensors_read(path, &st) != TG_OK) {
        fuzz_expect_message("tg_safetensors_read");
        return 0;
    }
    tg_safetensors *copy = tg_safetensors_new();
    for (int i = 0; copy && i < tg_safetensors_count(st); i++) {
        const char *name = tg_safetensors_name(st, i);
        tg_dtype dtype;
        int ndim, shape[TG_MAX_DIMS];
        int64_t dims[8];
        if (!name || !tg_safetensors_info(st, name, &dtype, &ndim, dims)) __builtin_trap();
        if (ndim > TG_MAX_DIMS) continue;
        size_t elements = 1;
        bool small = true;
        for (int d = 0; d < ndim; d++) {
            if (dims[d] == 0 || dims[d] > 1 << 20) small = false;
            shape[d] = (int)dims[d];
            elements *= small ? (size_t)dims[d] : 1;
        }
        if (!small || elements > 1 << 20) continue; /* the data is as long as the file, bounded */
        tg_tensor *t = tg_zeros(NULL, ndim, shape);
        if (t && tg_safetensors_get(st, name, dtype, t) == TG_OK) tg_safetensors_add(copy, name, t, dtype);
        tg_tensor_free(t);
    }
    if (copy) {
        const char *again = fuzz_file("again.safetensors", (const uint8_t *)"", 0);
        tg_safetensors *back = NULL;
        if (again && tg_safetensors_write(copy, again) == TG_OK && tg_safetensors_read(again, &back) != TG_OK)
            __builtin_trap();
        tg_safetensors_free(back);
    }
    tg_safetensors_free(copy);
    tg_safetensors_free(st);
    return 0;
}
