/* memory.c — the aligned allocation every tensor buffer comes from. */
#include <stdlib.h>

#include "base.h"

void *tg__aligned_alloc(size_t size)
{
    size_t rounded = (size + TG_ALIGN - 1) / TG_ALIGN * TG_ALIGN;
    if (rounded < size) return NULL; /* overflow */
    return aligned_alloc(TG_ALIGN, rounded ? rounded : TG_ALIGN);
}
