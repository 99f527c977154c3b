/* failalloc.h — counting allocations, and making one of them fail, in a
 * program linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,
 * --wrap=aligned_alloc (FAILALLOC_LDFLAGS in the Makefile): every call to
 * those in the program's own objects and libtg.a goes through the wrappers
 * below. Allocations inside other shared libraries (libc's stdio, libz,
 * libstb) do not. Include this in exactly one file of such a program. */
#ifndef TG_FAILALLOC_H
#define TG_FAILALLOC_H

#include <stdbool.h>
#include <stddef.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t align, size_t n);

static long failalloc_count;   /* allocations so far */
static long failalloc_fail_at; /* the one that fails (a count), 0: none */

/* The k-th allocation from now fails, and only it (k = 0: none). */
static inline void failalloc_after(long k)
{
    __atomic_store_n(&failalloc_fail_at, k ? __atomic_load_n(&failalloc_count, __ATOMIC_RELAXED) + k : 0,
                     __ATOMIC_RELAXED);
}

static inline long failalloc_allocations(void) { return __atomic_load_n(&failalloc_count, __ATOMIC_RELAXED); }

/* True if the allocation failed since failalloc_after was reached. */
static inline bool failalloc_reached(void)
{
    long at = __atomic_load_n(&failalloc_fail_at, __ATOMIC_RELAXED);
    return at && failalloc_allocations() >= at;
}

static bool failalloc_this_one(void)
{
    long n = __atomic_add_fetch(&failalloc_count, 1, __ATOMIC_RELAXED);
    return n == __atomic_load_n(&failalloc_fail_at, __ATOMIC_RELAXED);
}

void *__wrap_malloc(size_t n) { return failalloc_this_one() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t size) { return failalloc_this_one() ? NULL : __real_calloc(n, size); }
void *__wrap_realloc(void *p, size_t n) { return failalloc_this_one() ? NULL : __real_realloc(p, n); }
void *__wrap_aligned_alloc(size_t align, size_t n)
{
    return failalloc_this_one() ? NULL : __real_aligned_alloc(align, n);
}

#endif /* TG_FAILALLOC_H */
