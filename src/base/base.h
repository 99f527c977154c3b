/* base.h — the bottom layer's private interface: messages, assertions,
 * aligned memory. What the library's own files share and users never see
 * is split by layer (docs/ARCHITECTURE.md): base.h, then tensor/tensor.h,
 * graph/graph.h, ops/ops.h, each including the one below. Names are tg__
 * (shared-private); anything file-local is static. */
#ifndef TG_BASE_H
#define TG_BASE_H

#include "tg.h"

/* Every buffer tg allocates starts on a cache line, so SIMD kernels may use
 * aligned loads and two tensors never share a line. */
#define TG_ALIGN 64

/* Aborts with file:line. Only for a broken internal invariant, never for a
 * user's mistake (those return NULL or a status with a message). */
_Noreturn void tg__assert_fail(const char *expr, const char *file, int line);
#define TG_ASSERT(c) ((c) ? (void)0 : tg__assert_fail(#c, __FILE__, __LINE__))

/* ---- errors (error.c) ---- */
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
void tg__error(const char *fmt, ...);

/* ---- memory (memory.c) ---- */
/* size bytes aligned to TG_ALIGN, or NULL. Free with free(). */
void *tg__aligned_alloc(size_t size);

#endif /* TG_BASE_H */
