/* tensor.h — the tensor layer's private interface: shapes, standalone
 * tensors, printing. */
#ifndef TG_TENSOR_H
#define TG_TENSOR_H

#include "../base/base.h"

/* tensor->flags of this layer (the graph adds its own from 2u up) */
enum { TG__OWNS_DATA = 1u /* data was allocated by tg (not borrowed, not a view) */ };

/* Checks ndim and shape and returns the element count, or 0 with a message
 * naming fn. */
size_t tg__shape_size(const char *fn, int ndim, const int *shape);
/* Sets ndim, shape (unused dimensions 1) and size. */
void tg__set_shape(tg_tensor *t, int ndim, const int *shape, size_t size);
/* A standalone tensor, data uninitialised when with_data (else NULL, for
 * the caller to point somewhere); NULL with a message naming fn on a bad
 * shape or when memory runs out. */
tg_tensor *tg__tensor_alloc(const char *fn, int ndim, const int *shape, bool with_data);
/* Writes v, laid out as t's shape, the way tg_tensor_print does, each
 * number with fmt, at most max_per_dim per dimension (the middle elided). */
void tg__print_values(FILE *f, const tg_tensor *t, const float *v, const char *fmt, int max_per_dim);

#endif /* TG_TENSOR_H */
