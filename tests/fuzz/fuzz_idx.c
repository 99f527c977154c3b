/* fuzz_idx.c — the IDX reader (tg_idx_load) on any bytes, raw or gzip: it
 * must load them or refuse them with a message, never crash, hang, leak or
 * allocate more than the file holds. */
#include <tg.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("input-idx", data, size);
    if (!path) return 0;
    tg_clear_error();
    tg_idx idx;
    if (tg_idx_load(path, &idx) == TG_OK) {
        size_t size_from_dims = 1;
        for (int d = 0; d < idx.ndim; d++) size_from_dims *= (size_t)idx.dims[d];
        if (size_from_dims != idx.size) __builtin_trap();
        volatile unsigned sum = 0; /* every byte it claims is readable */
        for (size_t i = 0; i < idx.size; i++) sum += idx.data[i];
        (void)sum;
        tg_idx_free(&idx);
    } else {
        fuzz_expect_message("tg_idx_load");
    }
    return 0;
}
