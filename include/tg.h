/* tg.h — a tiny autograd neural-network framework in C.
 *
 * tg records every operation you run on a graph and can then walk it backwards
 * to compute gradients (reverse-mode automatic differentiation), the way
 * PyTorch and micrograd do. This header is the whole public API; read it top
 * to bottom once and you know the library.
 *
 * A complete program (make check compiles and runs this very text):
 *
 * --- example ---
 * #include <stdio.h>
 * #include <tg.h>
 *
 * int main(void)
 * {
 *     tg_rng rng;
 *     tg_rng_seed(&rng, 42);
 *     // A parameter: long-lived, owned by us, its gradient kept across steps.
 *     tg_tensor *w = tg_randn(NULL, &rng, TG_SHAPE(3, 1));
 *     tg_tensor_requires_grad(w, true);
 *     float xs[4 * 3] = {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1};
 *     float ys[4] = {1, 2, 3, 6};                  // y = x @ [1, 2, 3]
 *
 *     tg_graph *g = tg_graph_new();
 *     for (int step = 0; step < 200; step++) {
 *         tg_tensor *x = tg_from_data(g, xs, TG_SHAPE(4, 3));
 *         tg_tensor *y = tg_from_data(g, ys, TG_SHAPE(4, 1));
 *         tg_tensor *loss = tg_mse_loss(g, tg_matmul(g, x, w), y, TG_REDUCE_MEAN);
 *         if (!loss) { fprintf(stderr, "%s\n", tg_last_error()); return 1; }
 *         tg_tensor_zero_grad(w);
 *         tg_backward(loss);
 *         for (int i = 0; i < 3; i++) w->data[i] -= 0.1f * w->grad[i];
 *         if (step % 50 == 0) printf("step %3d  loss %.6f\n", step, loss->data[0]);
 *         tg_graph_reset(g);           // frees this step's tensors, keeps the memory
 *     }
 *     printf("w = %.3f %.3f %.3f\n", w->data[0], w->data[1], w->data[2]);
 *     tg_graph_free(g);
 *     tg_tensor_free(w);
 *     return 0;
 * }
 * --- end ---
 *
 * Build with: cc prog.c $(pkg-config --cflags --libs tg)
 *
 * Conventions used below
 *   N   batch size (rows)           C   number of classes
 *   (a,b)  a tensor's shape; ()  a scalar (0 dimensions, one element)
 *   "owned by g": the tensor lives until tg_graph_reset(g) or tg_graph_free(g);
 *   never free it yourself.
 *   Every function that builds a tensor returns NULL on failure and leaves a
 *   message in tg_last_error(). Passing a NULL tensor to an op makes it return
 *   NULL too and keeps the first message, so a chain of calls can be checked
 *   once, at its end. Optional tensor arguments (a bias, class weights) mean
 *   "absent" when NULL, so check those before passing them. The library never
 *   exits and never prints.
 *   Semantics follow PyTorch's documentation; where tg differs it says so here.
 */
#ifndef TG_H
#define TG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TG_VERSION "0.1.0"
#define TG_MAX_DIMS 4

/* ======================================================================
 * Errors
 * ====================================================================== */

/* Status codes of functions that do not return a tensor. */
typedef enum tg_status {
    TG_OK = 0,
    TG_ERR_ARG = -1,    /* bad argument: shape, range, NULL */
    TG_ERR_NOMEM = -2,  /* an allocation failed */
    TG_ERR_IO = -3,     /* a file could not be read or written */
    TG_ERR_FORMAT = -4, /* a file's contents are not what they claim */
    TG_ERR_NUMERICS = -5 /* a NaN or infinity appeared (tg_graph_set_check_numerics) */
} tg_status;

/* The message of the most recent failure in this thread, naming the function
 * and the shapes involved, e.g.
 *   "tg_matmul: (64,784) @ (512,10): inner dimensions 784 and 512 differ".
 * "" when nothing has failed since the last tg_clear_error(). The string is
 * owned by tg and valid until the next tg call in this thread. */
const char *tg_last_error(void);
void tg_clear_error(void);
/* Sets the message (printf format), for code built on tg (models, datasets,
 * your own optimizer) that reports failures the same way. */
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
void tg_set_error(const char *fmt, ...);

/* ======================================================================
 * Files
 * ====================================================================== */

/* Writes the contents of a file to f; TG_OK, or an error (with a message
 * when it is not a failed write to f). */
typedef tg_status (*tg_write_fn)(FILE *f, void *ctx);
/* Writes path atomically: write(f, ctx) fills path.tmp, which is flushed to
 * disk and renamed over path, so a crash, a full disk or a failing write
 * leaves the earlier file or the new one, never half of one (and no .tmp).
 * A path that is a device or a pipe (/dev/null, /dev/full) is written in
 * place. what ("the checkpoint") names the contents in messages. TG_OK;
 * TG_ERR_IO with "PATH: cannot write WHAT: REASON" (a directory, a full
 * disk, a read-only or missing directory, a failed write); or what write
 * returned, with its message. */
tg_status tg_file_write_atomic(const char *path, const char *what, tg_write_fn write, void *ctx);

/* ======================================================================
 * Threads
 * ====================================================================== */

/* How many threads tg's kernels use (today: the matrix products). n <= 0
 * means the default: $TG_THREADS if set, else the machine's online cores.
 * Returns the number now in effect (at most 65). Results are bitwise the
 * same for every thread count: each element of a product is computed by one
 * thread, in the same order. Threads start on first use and stay for the
 * life of the program; setting is cheap and may happen at any time. */
int tg_set_threads(int n);
/* The number in effect (the default until tg_set_threads is called). */
int tg_threads(void);

/* ======================================================================
 * Random numbers
 * ====================================================================== */

/* A seeded generator (xoshiro256**, seeded through splitmix64). Every random
 * choice tg makes draws from one you pass in, so the same seed gives the same
 * bits. Plain data: copy it to save its state. Its bits differ from PyTorch's
 * generator, so random tensors do not match torch.manual_seed's. */
typedef struct tg_rng {
    uint64_t s[4];
    int has_spare;   /* tg_rng_normal makes normals in pairs */
    float spare;
} tg_rng;

/* Sets r to the start of the stream of seed (any value, 0 included). */
void tg_rng_seed(tg_rng *r, uint64_t seed);
uint64_t tg_rng_u64(tg_rng *r);            /* 64 random bits */
float tg_rng_uniform(tg_rng *r);           /* U[0, 1), 24 random bits */
float tg_rng_normal(tg_rng *r);            /* N(0, 1), Box-Muller */
uint32_t tg_rng_below(tg_rng *r, uint32_t n); /* uniform in [0, n), unbiased; 0 if n == 0 */
/* Shuffles a[0..n) in place (Fisher-Yates with tg_rng_below). */
void tg_rng_shuffle(tg_rng *r, int *a, int n);
/* a[0..n) = a random permutation of 0..n-1 (torch.randperm): a fresh
 * order of a data set's rows each epoch. */
void tg_rng_permutation(tg_rng *r, int *a, int n);

/* ======================================================================
 * Tensors
 * ====================================================================== */

typedef struct tg_graph tg_graph;
typedef struct tg_tensor tg_tensor;

/* What made a tensor (private to the library: each op's name, backward and
 * the formula tg_backward_trace prints live beside its code in src/ops/). */
struct tg__op_desc;

/* A tensor: float32, contiguous, row-major, 0 to 4 dimensions.
 * Read data, grad, shape and size freely; write data and grad of tensors you
 * own (parameters). The fields after "private" belong to the graph. */
struct tg_tensor {
    float *data;                 /* (size) values */
    float *grad;                 /* (size) dL/d(this) after tg_backward, or NULL */
    int ndim;                    /* 0 (a scalar) .. TG_MAX_DIMS */
    int shape[TG_MAX_DIMS];      /* unused dimensions are 1 */
    size_t size;                 /* number of elements, product of shape */
    bool requires_grad;          /* does backward compute a gradient for it */
    char name[24];               /* optional, shown by tg_graph_dot */

    /* private */
    const struct tg__op_desc *op; /* how it was made; NULL for a leaf (tg_tensor_op_name) */
    tg_tensor *src[3];           /* its inputs, when recorded for backward */
    tg_graph *graph;             /* owner, or NULL for a standalone tensor */
    size_t id;                   /* position in the graph's creation order */
    float fparam[4];             /* op arguments (scalars) */
    int iparam[4];               /* op arguments (axis, reduction, ...) */
    void *aux;                   /* op data saved for backward, owned by the graph */
    unsigned flags;
};

/* A shape as the two arguments every function takes, its number of
 * dimensions and its sizes: TG_SHAPE(64, 784) is 2, (const int[]){64, 784},
 * so the count cannot disagree with the list (a stray 2, (int[]){256}
 * would read past the array). C only; a scalar's shape is 0, NULL. */
#define TG_SHAPE(...) \
    (int)(sizeof((const int[]){__VA_ARGS__}) / sizeof(int)), (const int[]){__VA_ARGS__}

/* Creation. g == NULL makes a standalone tensor that you free with
 * tg_tensor_free; otherwise the tensor is owned by g. shape holds ndim
 * positive sizes (ndim 0..4): write it with TG_SHAPE. All return NULL on a
 * bad shape or when memory runs out. */
tg_tensor *tg_zeros(tg_graph *g, int ndim, const int *shape);
tg_tensor *tg_ones(tg_graph *g, int ndim, const int *shape);
tg_tensor *tg_full(tg_graph *g, int ndim, const int *shape, float value);
/* 1-D [start, start+step, ...) up to but excluding stop, as torch.arange:
 * ceil((stop - start) / step) elements. step != 0. */
tg_tensor *tg_arange(tg_graph *g, float start, float stop, float step);
/* A copy of size floats from data. */
tg_tensor *tg_from_data(tg_graph *g, const float *data, int ndim, const int *shape);
/* Wraps the caller's buffer without copying (like libtorch's from_blob): the
 * buffer must outlive the tensor, and tg never frees it. Its values are
 * read again by the backward (a Linear's or a convolution's weight
 * gradient): keep them unchanged until then. */
tg_tensor *tg_from_blob(tg_graph *g, float *data, int ndim, const int *shape);
tg_tensor *tg_rand(tg_graph *g, tg_rng *rng, int ndim, const int *shape);  /* U[0,1) */
tg_tensor *tg_randn(tg_graph *g, tg_rng *rng, int ndim, const int *shape); /* N(0,1) */
tg_tensor *tg_uniform(tg_graph *g, tg_rng *rng, float lo, float hi, int ndim, const int *shape); /* U[lo,hi) */

/* Frees a standalone tensor, its data (unless borrowed) and its gradient.
 * NULL and graph-owned tensors are ignored. */
void tg_tensor_free(tg_tensor *t);

/* Turns gradient tracking on or off (PyTorch's requires_grad_). For a
 * standalone tensor, on allocates a zeroed grad that accumulates across
 * tg_backward calls until tg_tensor_zero_grad. Returns TG_OK, or TG_ERR_NOMEM. */
tg_status tg_tensor_requires_grad(tg_tensor *t, bool on);
/* grad = 0 (no-op when there is no grad). */
void tg_tensor_zero_grad(tg_tensor *t);
/* Copies name (truncated to 23 characters) for tg_graph_dot. */
void tg_tensor_set_name(tg_tensor *t, const char *name);
/* Same ndim and sizes (a 1-element (1) is not the same as a scalar ()). */
bool tg_same_shape(const tg_tensor *a, const tg_tensor *b);
/* "(64,784)": the shape written into buf (at least 64 bytes), returned. */
const char *tg_shape_str(const tg_tensor *t, char *buf);
/* Prints shape and values (at most 6 per dimension) for humans. */
void tg_tensor_print(const tg_tensor *t, FILE *f);
/* The op that made t, as tg_graph_dot and messages name it ("matmul"), or
 * "leaf" for a tensor no op made (a creation function, tg_detach). */
const char *tg_tensor_op_name(const tg_tensor *t);

/* ======================================================================
 * The graph
 * ====================================================================== */

/* An empty graph. Ops run on it as they are called (define-by-run) and it
 * owns every tensor they return. NULL when memory runs out. */
tg_graph *tg_graph_new(void);
/* Frees g and every tensor it owns; standalone tensors are untouched.
 * NULL is ignored. */
void tg_graph_free(tg_graph *g);
/* Drops every tensor owned by g at once and keeps their memory for the next
 * step: after the first step, a training loop allocates nothing.
 * The reset rule: a tensor an op returned (or a creation function made on
 * g) is gone after the reset, as if freed: its memory serves the next
 * step. Keep only standalone tensors (parameters, g == NULL) across steps,
 * and read the numbers you want (loss->data[0]) before resetting. Passing
 * a dropped tensor to an op or to tg_backward is refused with a message
 * ("... was made before the graph's last tg_graph_reset"); reading its
 * fields yourself is a use after free (make check SANITIZE=1 reports it). */
void tg_graph_reset(tg_graph *g);
/* Turns recording on (the default) or off and returns the previous setting
 * (torch.set_grad_enabled). Off, ops still compute but record nothing to
 * differentiate, for evaluation. */
bool tg_graph_set_grad(tg_graph *g, bool enabled);
/* Checking numerics (torch.autograd.detect_anomaly, for the forward pass
 * too): on, every value an op computes on g is looked at before the op
 * returns, every given value (tg_from_data ...) when an op first takes it,
 * and every gradient a backward step produces, so the first NaN or
 * infinity is caught where it appears. The op that produced it returns
 * NULL (tg_backward TG_ERR_NUMERICS) with a message naming the op, the
 * element, and the ranges of that op's inputs, e.g.
 *   "check-numerics: log (node 3, (2,2)) produced NaN at element 1; its
 *    inputs: 1: (2,2) in [-1, 4]"
 * Each value is reported once: ops that do not depend on it go on working.
 * Returns the previous setting. Off by default, or on for every new graph
 * when the environment variable TG_CHECK_NUMERICS is set (not "0"). It
 * costs a pass over every value: for finding a bug, not for training. */
bool tg_graph_set_check_numerics(tg_graph *g, bool on);
/* With checking on, looks at every value on g not yet looked at (given
 * values no op has used): TG_OK, or TG_ERR_NUMERICS with the message above.
 * TG_OK when checking is off. tg_backward calls it first. */
tg_status tg_graph_check_numerics(tg_graph *g);
/* Bytes of memory g holds, and how many tensors it owns now. */
size_t tg_graph_bytes(const tg_graph *g);
size_t tg_graph_size(const tg_graph *g);

/* Whether a backward may later run again through the tensors it passes
 * (PyTorch's retain_graph=True), for every backward on g from now on;
 * returns the previous setting. Off by default: the second-backward rule
 * below. */
bool tg_graph_set_retain_graph(tg_graph *g, bool on);

/* Backpropagation from a scalar: seeds d(loss)/d(loss) = 1 and sweeps the
 * graph in reverse creation order (a topological order, since an op's inputs
 * exist before it), so every tensor that loss depends on receives
 * d(loss)/d(tensor) in grad. A tensor used twice receives the sum.
 * Gradients of leaves (parameters) accumulate until zeroed, as in PyTorch.
 * The second-backward rule, as PyTorch's ("Trying to backward through the
 * graph a second time"): a backward that would pass through an op an
 * earlier backward already went through fails (TG_ERR_ARG) and changes no
 * gradient, since running it again would silently add every gradient a
 * second time. Build the graph anew each step (tg_graph_reset), or call
 * tg_graph_set_retain_graph(g, true) before the first backward when you
 * mean to accumulate through the same graph twice.
 * Fails (TG_ERR_ARG) too if loss is not a single element, does not require
 * grad, or was dropped by tg_graph_reset. */
tg_status tg_backward(tg_tensor *loss);
/* The same from a non-scalar y, seeded with dy (y->size floats): PyTorch's
 * y.backward(gradient=dy). */
tg_status tg_backward_grad(tg_tensor *y, const float *dy);
/* tg_backward, printing each step of the sweep to f the way one works it on
 * a blackboard: every node from loss down, in reverse topological order,
 * with its value, its gradient d loss / d node (complete when printed), its
 * local derivative, and what it adds to each input's gradient. For an
 * elementwise op that is the upstream gradient times the local derivative:
 *   h = sigmoid(z)  (1,2)
 *       value  [[0.6457, 0.475]]
 *       grad   [[-0.8097, 1.134]]  (dL/dh)
 *       local  dy/dx = y (1 - y)
 *       z.grad += [[-0.8097, 1.134]] * [[0.2288, 0.2494]] = [[-0.1852, 0.2827]]
 * (docs/TUTORIAL.md works the whole of this example). Nodes are called by
 * their names (tg_tensor_set_name), else #id. Returns what tg_backward
 * returns, or TG_ERR_IO when writing f fails (the gradients are computed all
 * the same). Meant for small graphs: it runs each backward twice and keeps
 * a buffer per edge. */
tg_status tg_backward_trace(tg_tensor *loss, FILE *f);

/* A tensor on g sharing x's data that records no history and requires no
 * grad (torch.Tensor.detach). */
tg_tensor *tg_detach(tg_graph *g, tg_tensor *x);

/* Writes the graph that root depends on as Graphviz DOT: one node per tensor
 * with its name, op and shape; a tensor of at most 4 elements shows its
 * values and, after backward, its gradient, a larger one its gradient's L2
 * norm. Parameters are filled blue. Render with `dot -Tpng`. Returns TG_OK,
 * TG_ERR_NOMEM, or TG_ERR_IO when writing f fails. */
tg_status tg_graph_dot(const tg_tensor *root, FILE *f);

/* ======================================================================
 * Ops. Each returns a new tensor owned by g, or NULL (see tg_last_error).
 * ====================================================================== */

/* Elementwise with PyTorch broadcasting: shapes are aligned on their last
 * dimension, and each pair of sizes must be equal or one of them 1.
 * y = a + b, a - b, a * b, a / b. */
tg_tensor *tg_add(tg_graph *g, tg_tensor *a, tg_tensor *b);
tg_tensor *tg_sub(tg_graph *g, tg_tensor *a, tg_tensor *b);
tg_tensor *tg_mul(tg_graph *g, tg_tensor *a, tg_tensor *b);
tg_tensor *tg_div(tg_graph *g, tg_tensor *a, tg_tensor *b);
/* y = max(a, b), min(a, b) elementwise, broadcasting (torch.maximum,
 * torch.minimum): NaN wins. The gradient goes to the larger (smaller)
 * operand, half to each where a == b, and all of it to both where one is
 * NaN (derivatives.yaml), summed over broadcast dimensions. */
tg_tensor *tg_maximum(tg_graph *g, tg_tensor *a, tg_tensor *b);
tg_tensor *tg_minimum(tg_graph *g, tg_tensor *a, tg_tensor *b);
/* y = cond ? a : b elementwise (torch.where), cond true where nonzero (NaN
 * too); cond, a and b broadcast together. The gradient goes to a where
 * cond holds and to b elsewhere, summed over broadcast dimensions; cond is
 * read once (a copy is kept for backward) and gets no gradient. */
tg_tensor *tg_where(tg_graph *g, const tg_tensor *cond, tg_tensor *a, tg_tensor *b);
/* Comparisons, broadcasting: y = 1 where a == b (!=, <, <=, >, >=), else 0
 * (torch.eq ... as float; NaN compares unequal to everything). Their
 * output never requires grad, whatever the inputs (as torch's bool results):
 * use them as masks (tg_mul, tg_where), which then pass no gradient
 * through the comparison. */
tg_tensor *tg_eq(tg_graph *g, const tg_tensor *a, const tg_tensor *b);
tg_tensor *tg_ne(tg_graph *g, const tg_tensor *a, const tg_tensor *b);
tg_tensor *tg_lt(tg_graph *g, const tg_tensor *a, const tg_tensor *b);
tg_tensor *tg_le(tg_graph *g, const tg_tensor *a, const tg_tensor *b);
tg_tensor *tg_gt(tg_graph *g, const tg_tensor *a, const tg_tensor *b);
tg_tensor *tg_ge(tg_graph *g, const tg_tensor *a, const tg_tensor *b);

/* Elementwise, y has x's shape. */
tg_tensor *tg_neg(tg_graph *g, tg_tensor *x);                  /* -x */
tg_tensor *tg_add_scalar(tg_graph *g, tg_tensor *x, float c);  /* x + c */
tg_tensor *tg_mul_scalar(tg_graph *g, tg_tensor *x, float c);  /* c x */
tg_tensor *tg_pow(tg_graph *g, tg_tensor *x, float p);         /* x^p; dy/dx = p x^(p-1) */
tg_tensor *tg_exp(tg_graph *g, tg_tensor *x);                  /* e^x */
tg_tensor *tg_log(tg_graph *g, tg_tensor *x);                  /* ln x */
tg_tensor *tg_sqrt(tg_graph *g, tg_tensor *x);                 /* sqrt(x) */
tg_tensor *tg_abs(tg_graph *g, tg_tensor *x);                  /* |x|; gradient sign(x), 0 at 0 */
tg_tensor *tg_square(tg_graph *g, tg_tensor *x);               /* x^2 */
tg_tensor *tg_sin(tg_graph *g, tg_tensor *x);                  /* sin x; dy/dx = cos x */
tg_tensor *tg_cos(tg_graph *g, tg_tensor *x);                  /* cos x; dy/dx = -sin x */
/* min(max(x, lo), hi); pass -INFINITY / INFINITY for no bound. The gradient
 * passes where lo <= x <= hi, as in torch.clamp. */
tg_tensor *tg_clamp(tg_graph *g, tg_tensor *x, float lo, float hi);
tg_tensor *tg_relu(tg_graph *g, tg_tensor *x);                 /* max(0, x) */
tg_tensor *tg_leaky_relu(tg_graph *g, tg_tensor *x, float slope); /* x > 0 ? x : slope x (torch default 0.01) */
tg_tensor *tg_sigmoid(tg_graph *g, tg_tensor *x);              /* 1 / (1 + e^-x) */
tg_tensor *tg_tanh(tg_graph *g, tg_tensor *x);                 /* tanh x */
tg_tensor *tg_gelu(tg_graph *g, tg_tensor *x);                 /* x Phi(x), the exact (erf) form */
/* log(1 + e^(beta x)) / beta, and x itself where beta x > threshold
 * (torch defaults: beta 1, threshold 20). */
tg_tensor *tg_softplus(tg_graph *g, tg_tensor *x, float beta, float threshold);

/* y = a @ b with torch.matmul's rules:
 *   (n,k) @ (k,m) -> (n,m);  (k) @ (k) -> () (the dot product);
 *   (k) @ (...,k,m) -> (...,m)   (a 1 put before a's k, then removed);
 *   (...,n,k) @ (k) -> (...,n)   (a 1 put after b's k, then removed);
 *   (...,n,k) @ (...,k,m) -> (...,n,m): batched, the batch dimensions "..."
 *   broadcast as tg_add's shapes (a (2,1,3,4) @ b (5,4,2) -> (2,5,3,2)).
 * Gradients of a repeated (broadcast) batch are summed into it.
 * NULL if either is a scalar, the inner dimensions differ, or the batch
 * dimensions do not broadcast. */
tg_tensor *tg_matmul(tg_graph *g, tg_tensor *a, tg_tensor *b);
/* y = x^T.   x: (n,m) -> y: (m,n), a copy. */
tg_tensor *tg_transpose(tg_graph *g, tg_tensor *x);
/* y = x W^T + b, fused (torch.nn.functional.linear).
 * x: (...,in) of 1 to 4 dimensions, W: (out,in), b: (out) or NULL ->
 * y: (...,out); every leading index of x is a row (N = x->size / in). */
tg_tensor *tg_linear(tg_graph *g, tg_tensor *x, tg_tensor *W, tg_tensor *b);
/* The same elements in a new shape (shares x's data). One size may be -1 and
 * is then inferred. NULL if the sizes do not multiply to x->size. */
tg_tensor *tg_reshape(tg_graph *g, tg_tensor *x, int ndim, const int *shape);
/* Collapses dimensions start_dim..last into one (torch.flatten(x, start_dim));
 * nn.Flatten is start_dim = 1: (N,28,28) -> (N,784). */
tg_tensor *tg_flatten(tg_graph *g, tg_tensor *x, int start_dim);
/* x with its dimensions reordered (torch.permute), a copy: y's dimension i
 * is x's dimension dims[i]. ndim must be x->ndim and dims a permutation of
 * its dimensions; a negative one counts from the end. (2,3,4) with dims
 * {2,0,1} -> (4,2,3). */
tg_tensor *tg_permute(tg_graph *g, tg_tensor *x, int ndim, const int *dims);
/* The n tensors xs joined along dimension dim (torch.cat), a copy: they
 * have one number of dimensions (at least 1) and the same sizes except
 * along dim. (2,3) and (2,5) along 1 -> (2,8). Any n >= 1: above 3 the
 * result is a tree of cat nodes of at most 3 inputs (each node records at
 * most 3), copying each element ceil(log3 n) times. The array xs is read
 * during the call only. */
tg_tensor *tg_cat(tg_graph *g, tg_tensor *const *xs, int n, int dim);
/* The n tensors xs, all of one shape, joined along a new dimension dim
 * (torch.stack; dim in [-(ndim+1), ndim]): n (2,3) along 0 -> (n,2,3).
 * Needs ndim + 1 <= 4. */
tg_tensor *tg_stack(tg_graph *g, tg_tensor *const *xs, int n, int dim);
/* The length elements from start along dim (torch.narrow), a copy; a
 * negative start counts from the end (start in [-size, size]), and
 * start + length must fit. length >= 1: tg tensors are never empty. */
tg_tensor *tg_narrow(tg_graph *g, tg_tensor *x, int dim, int start, int length);
/* x[..., start:end:step] on dimension dim (Python slicing), a copy: start
 * and end count from the end when negative and are then clamped to
 * [0, size], as Python clamps them (pass INT_MAX as end for "to the end");
 * step >= 1. NULL if the slice is empty (tg tensors are never empty). */
tg_tensor *tg_slice(tg_graph *g, tg_tensor *x, int dim, int start, int end, int step);

/* Indexing. tg tensors are float, so an index tensor holds whole numbers
 * as floats; a value that is not whole (or NaN) or out of range is
 * refused (NULL) with a message naming its position and value. Indices
 * are read during the call (converted once) and never differentiated; the
 * backward adds into x's gradient in index order, so repeated indices
 * accumulate, deterministically. */
/* y = x with dimension dim taken at index (torch.index_select): index is
 * (m) (or a scalar, m = 1) of values in [0, x->shape[dim]); y has x's
 * shape with m along dim. */
tg_tensor *tg_index_select(tg_graph *g, tg_tensor *x, int dim, const tg_tensor *index);
/* y[i][j][k] = x[index[i][j][k]][j][k] for dim 0, and so on (torch.gather):
 * index has x's number of dimensions, sizes no larger than x's except
 * along dim, values in [0, x->shape[dim]); y has index's shape. */
tg_tensor *tg_gather(tg_graph *g, tg_tensor *x, int dim, const tg_tensor *index);
/* Rows of weight (num, dim) picked by indices (F.embedding): indices of
 * any shape with at most 3 dimensions, values in [0, num) -> y of shape
 * indices.shape + (dim). padding_idx in [0, num) is a row that gets no
 * gradient (its value is still looked up, as torch); < 0 means none
 * (convert torch's negative padding_idx p to num + p yourself). */
tg_tensor *tg_embedding(tg_graph *g, tg_tensor *weight, const tg_tensor *indices, int padding_idx);

/* Reductions. Sums accumulate in double. axis may be negative (-1 = last);
 * keepdim keeps the reduced dimension with size 1. */
tg_tensor *tg_sum(tg_graph *g, tg_tensor *x);     /* () = sum of all elements */
tg_tensor *tg_mean(tg_graph *g, tg_tensor *x);    /* () = sum / size */
tg_tensor *tg_sum_axis(tg_graph *g, tg_tensor *x, int axis, bool keepdim);
tg_tensor *tg_mean_axis(tg_graph *g, tg_tensor *x, int axis, bool keepdim);
/* Maximum along axis (torch.max(x, dim).values); the gradient flows to the
 * first maximal element, as PyTorch's CPU kernel picks it. */
tg_tensor *tg_max_axis(tg_graph *g, tg_tensor *x, int axis, bool keepdim);
/* Not an op: writes the index of the first maximum along axis for every
 * other position (x->size / x->shape[axis] ints) into out. Returns TG_OK or
 * TG_ERR_ARG. */
tg_status tg_argmax(const tg_tensor *x, int axis, int *out);

/* softmax(x)_i = e^(x_i - max x) / sum_j e^(x_j - max x) along axis, and its
 * logarithm computed without taking log of a rounded exp (stable for huge
 * logits). */
tg_tensor *tg_softmax(tg_graph *g, tg_tensor *x, int axis);
tg_tensor *tg_log_softmax(tg_graph *g, tg_tensor *x, int axis);

/* Layer normalisation (F.layer_norm) over the last norm_ndim dimensions
 * of x (1 <= norm_ndim <= x->ndim): for each index of the leading
 * dimensions, with mean and biased variance var over those elements,
 *   y = (x - mean) / sqrt(var + eps) * weight + bias,
 * weight and bias of the normalised dimensions' shape (x (N,T,D) with
 * norm_ndim 1: (D)), either NULL for none. Fused: one op, its statistics
 * computed once (torch's default eps is 1e-5). */
tg_tensor *tg_layer_norm(tg_graph *g, tg_tensor *x, int norm_ndim, tg_tensor *weight, tg_tensor *bias, float eps);
/* Batch normalisation (F.batch_norm): x (N,C), (N,C,L) or (N,C,H,W),
 * statistics per channel c over every other dimension;
 *   y = (x - mean_c) / sqrt(var_c + eps) * weight_c + bias_c,
 * weight and bias (C) or NULL. training: mean and biased var of the batch;
 * running_mean and running_var (C), if not NULL, are updated in place as
 * torch does: running = (1 - momentum) running + momentum stat, with the
 * unbiased variance (n / (n-1)) for running_var; NULL if a channel has only
 * one value (N times the other sizes is 1). Not training: running_mean and
 * running_var are required and used (y is then an affine map of x). The
 * running statistics are never differentiated; keep them standalone (they
 * are buffers of a model). Fused, as tg_layer_norm (torch's defaults:
 * momentum 0.1, eps 1e-5). */
tg_tensor *tg_batch_norm(tg_graph *g, tg_tensor *x, tg_tensor *running_mean, tg_tensor *running_var,
                         tg_tensor *weight, tg_tensor *bias, bool training, float momentum, float eps);

/* Dropout (torch.nn.functional.dropout): in training, zeroes each element
 * with probability p, drawing from rng, and scales the rest by 1/(1-p); with
 * train false or p == 0 it returns x itself. 0 <= p <= 1. */
tg_tensor *tg_dropout(tg_graph *g, tg_tensor *x, float p, bool train, tg_rng *rng);

/* Convolution and pooling, torch.nn.functional's, on x (N,C,H,W): N
 * samples of C channels of H x W. Each returns a new tensor owned by g, or
 * NULL with a message naming the shapes (tg_last_error()). Every loop runs
 * in one order, so results are the same bits for any tg_set_threads. */

/* Options of tg_conv2d; zeros (or opts NULL) are torch's defaults: stride
 * 1, padding 0, dilation 1, groups 1. [0] is the height's, [1] the
 * width's. same is padding='same' (torch allows it only with stride 1):
 * total padding dilation (k - 1) per dimension, half before and the rest
 * after, so an even kernel pads one more at the bottom and right, as torch
 * does; padding must then be 0. */
typedef struct tg_conv2d_opts {
    int stride[2], padding[2], dilation[2], groups;
    bool same;
} tg_conv2d_opts;
/* 2-D convolution (F.conv2d; cross-correlation, as torch):
 *   y[n,o,i,j] = b[o] + sum_{c,u,v} w[o,c,u,v] x[n, g C/G + c, i s0 - p0 + u d0, j s1 - p1 + v d1]
 * over the input channels c of o's group g (zeros outside x).
 * x (N,C,H,W), w (O,C/groups,kh,kw), b (O) or NULL -> y (N,O,OH,OW),
 * OH = floor((H + 2 p0 - d0 (kh-1) - 1) / s0) + 1, OW likewise.
 * Computed as im2col into the graph's memory and one GEMM per sample and
 * group, the samples split over min(N, tg_threads()) tasks. Memory: when w
 * needs a gradient (training), every sample's C/groups kh kw x OH OW
 * patch matrix is kept for it (N groups of them); otherwise one per task;
 * plus one per task when x needs a gradient. NULL if x or w is not 4-D, C or O is not divisible by groups,
 * w's dimension 1 is not C/groups, the padded input is smaller than the
 * dilated kernel, same is given with a stride other than 1 or with
 * padding, an option is negative, or b is not (O). */
tg_tensor *tg_conv2d(tg_graph *g, tg_tensor *x, tg_tensor *w, tg_tensor *b, const tg_conv2d_opts *opts);

/* Options of the pooling ops: kernel (kh, kw) is required (>= 1); stride 0
 * means the kernel (torch's default); padding on both sides, at most half
 * the kernel (torch's rule). ceil_mode rounds the output size up, keeping
 * only windows that start inside the input or its left/top padding.
 * count_include_pad (avg only): torch's default is true, which C cannot
 * make the zero value, so pass true to match F.avg_pool2d's default. */
typedef struct tg_pool2d_opts {
    int kernel[2], stride[2], padding[2];
    bool ceil_mode, count_include_pad;
} tg_pool2d_opts;
/* Max pooling (F.max_pool2d): y = the maximum of each window (padding
 * never wins; a NaN does). x (N,C,H,W) -> (N,C,OH,OW), OH =
 * floor-or-ceil((H + 2 p0 - kh) / s0) + 1. The gradient goes to the
 * first maximal element of each window in row-major order, as torch's CPU
 * kernel. NULL if x is not 4-D, opts is NULL, an option is out of range
 * or the output would be empty. */
tg_tensor *tg_max_pool2d(tg_graph *g, tg_tensor *x, const tg_pool2d_opts *opts);
/* Average pooling (F.avg_pool2d): y = sum of each window / divisor, the
 * divisor the window's size clipped to the padded input (count_include_pad,
 * so a ceil_mode window past the padding counts less) or the number of
 * input elements in it; shapes and failures as tg_max_pool2d. */
tg_tensor *tg_avg_pool2d(tg_graph *g, tg_tensor *x, const tg_pool2d_opts *opts);
/* Adaptive average pooling (F.adaptive_avg_pool2d) to (out_h, out_w):
 * output (i, j) is the mean of rows floor(i H / out_h) .. ceil((i+1) H /
 * out_h) - 1 and columns likewise (windows may overlap, and out_h > H is
 * allowed). x (N,C,H,W) -> (N,C,out_h,out_w). NULL if x is not 4-D or a
 * size is < 1. */
tg_tensor *tg_adaptive_avg_pool2d(tg_graph *g, tg_tensor *x, int out_h, int out_w);
/* Channel dropout (F.dropout2d): in training, zeroes each channel x[n,c]
 * whole with probability p (one draw from rng per (n, c), n-major) and
 * scales the others by 1/(1-p); train false or p == 0 returns x itself.
 * x (N,C,H,W); 0 <= p <= 1; rng is needed when training. */
tg_tensor *tg_dropout2d(tg_graph *g, tg_tensor *x, float p, bool train, tg_rng *rng);

/* ======================================================================
 * Losses (torch.nn.functional), each returning () or, with TG_REDUCE_NONE,
 * one loss per element or per row.
 * ====================================================================== */

typedef enum tg_reduction {
    TG_REDUCE_MEAN = 0,   /* PyTorch's default */
    TG_REDUCE_SUM,
    TG_REDUCE_NONE,
    TG_REDUCE_BATCHMEAN   /* kl_div only: sum / N, the mathematically right KL */
} tg_reduction;

/* (x - y)^2, elementwise; x and y of the same shape. */
tg_tensor *tg_mse_loss(tg_graph *g, tg_tensor *x, tg_tensor *y, tg_reduction r);
/* |x - y|. */
tg_tensor *tg_l1_loss(tg_graph *g, tg_tensor *x, tg_tensor *y, tg_reduction r);
/* d = x - y: 0.5 d^2 / beta if |d| < beta, else |d| - 0.5 beta. beta >= 0;
 * beta == 0 is the L1 loss, including its gradient 0 where d == 0 exactly
 * (torch's smooth_l1 kernel gives -1 there). torch default beta = 1. */
tg_tensor *tg_smooth_l1_loss(tg_graph *g, tg_tensor *x, tg_tensor *y, float beta, tg_reduction r);
/* d = x - y: 0.5 d^2 if |d| <= delta, else delta (|d| - 0.5 delta). delta > 0. */
tg_tensor *tg_huber_loss(tg_graph *g, tg_tensor *x, tg_tensor *y, float delta, tg_reduction r);

/* Options of the class-index losses (nll, cross_entropy). Pass NULL for
 * PyTorch's defaults: mean, no weights, ignore_index -100, no smoothing.
 * A zeroed struct is the same except it ignores no label (C cannot default
 * a field to -100, and ignoring class 0 silently would be worse). */
typedef struct tg_class_loss_opts {
    tg_reduction reduction;   /* MEAN: divided by the sum of the weights of the counted rows */
    tg_tensor *weight;        /* (C) weight per class, or NULL for all 1 */
    bool ignore;              /* skip rows whose label is ignore_index */
    int ignore_index;
    float label_smoothing;    /* 0 <= eps <= 1: targets (1-eps) onehot + eps/C */
} tg_class_loss_opts;

/* Negative log-likelihood: l_n = -w[y_n] logp[n, y_n].
 * logp: (N,C) log-probabilities; labels: N ints in [0,C) (or ignore_index),
 * copied. NULL on a label out of range or a weight not of shape (C). */
tg_tensor *tg_nll_loss(tg_graph *g, tg_tensor *logp, const int *labels, const tg_class_loss_opts *opts);
/* Cross-entropy from logits (N,C), fused with log_softmax so it is stable:
 *   l_n = (1-eps) w[y_n] (-log p_n,y_n) + eps/C sum_c w_c (-log p_n,c),
 *   p_n = softmax(x_n), exactly torch's cross_entropy(weight, ignore_index,
 *   label_smoothing). Ignored rows give 0; MEAN divides by the sum of
 *   w[y_n] over the rows counted (NaN when every row is ignored, as torch). */
tg_tensor *tg_cross_entropy(tg_graph *g, tg_tensor *logits, const int *labels, const tg_class_loss_opts *opts);
/* Cross-entropy against class probabilities (N,C) (torch's probability
 * targets): l_n = -sum_c w_c q_nc log softmax(x_n)_c, q = (1-eps) p + eps/C.
 * MEAN divides by N. opts->ignore must be false. Differentiable in probs too. */
tg_tensor *tg_cross_entropy_probs(tg_graph *g, tg_tensor *logits, tg_tensor *probs, const tg_class_loss_opts *opts);
/* Binary cross-entropy on probabilities: -w [y log p + (1-y) log(1-p)], each
 * log clamped to >= -100 as torch does. p, y: same shape; weight: NULL or
 * broadcastable to p. NULL if some p is outside [0, 1]. The gradient in y is
 * that of the clamped logs (finite; torch's is inf at p = 0 or 1). */
tg_tensor *tg_bce_loss(tg_graph *g, tg_tensor *p, tg_tensor *y, tg_tensor *weight, tg_reduction r);
/* The same from logits, stable: -w [pw y log s(x) + (1-y) log(1-s(x))].
 * pos_weight: NULL or (C) over the last dimension of x; weight: as above. */
tg_tensor *tg_bce_with_logits(tg_graph *g, tg_tensor *x, tg_tensor *y, tg_tensor *weight,
                              tg_tensor *pos_weight, tg_reduction r);
/* Kullback-Leibler divergence, input given as log-probabilities:
 * l = t (log t - input), 0 where t = 0; with log_target, t is given as log t:
 * l = e^t (t - input). TG_REDUCE_BATCHMEAN divides the sum by N = shape[0]. */
tg_tensor *tg_kl_div(tg_graph *g, tg_tensor *input, tg_tensor *target, bool log_target, tg_reduction r);
/* Multiclass hinge (SVM) loss, torch's multi_margin_loss:
 * l_n = sum_{i != y_n} w[y_n] max(0, margin - x[n,y_n] + x[n,i])^p / C.
 * x: (N,C); p is 1 or 2; weight: NULL or (C). Note the 1/C, which the
 * lectures' SVM loss does not have. MEAN divides by N. */
tg_tensor *tg_multi_margin_loss(tg_graph *g, tg_tensor *x, const int *labels, int p, float margin,
                                tg_tensor *weight, tg_reduction r);

/* ======================================================================
 * Penalties: a scalar to add to a loss, differentiable in every parameter.
 * ====================================================================== */

/* lambda * sum_p sum_i |p_i|  (L1, lasso) */
tg_tensor *tg_l1_penalty(tg_graph *g, tg_tensor *const *params, int n, float lambda);
/* lambda * sum_p sum_i p_i^2  (L2 squared, ridge). Note: SGD's weight_decay
 * wd adds wd * p to the gradient, the gradient of this with lambda = wd / 2. */
tg_tensor *tg_l2_penalty(tg_graph *g, tg_tensor *const *params, int n, float lambda);
/* l1 * sum |p_i| + l2 * sum p_i^2 (elastic net). */
tg_tensor *tg_elastic_net_penalty(tg_graph *g, tg_tensor *const *params, int n, float l1, float l2);

/* ======================================================================
 * Initialisation (torch.nn.init), in place on a tensor you own.
 * fan_in = size / shape[0] (the product of the dimensions after the first).
 * Each returns TG_OK, or TG_ERR_ARG for a NULL tensor or rng, or (kaiming,
 * xavier) a tensor of fewer than 2 dimensions, as torch.
 * ====================================================================== */

tg_status tg_init_uniform(tg_tensor *t, float lo, float hi, tg_rng *rng);   /* U[lo, hi) */
tg_status tg_init_normal(tg_tensor *t, float mean, float std, tg_rng *rng);  /* N(mean, std^2) */
/* U(-bound, bound), bound = sqrt(6 / ((1 + a^2) fan_in)): kaiming_uniform_
 * with mode fan_in and leaky_relu gain. */
tg_status tg_init_kaiming_uniform(tg_tensor *t, float a, tg_rng *rng);
/* U(-bound, bound), bound = gain sqrt(6 / (fan_in + fan_out)), fan_out =
 * shape[0] times the product of the dimensions after the second (torch). */
tg_status tg_init_xavier_uniform(tg_tensor *t, float gain, tg_rng *rng);
/* nn.Linear's reset_parameters: W (out,in) kaiming_uniform with a = sqrt(5),
 * which is U(-1/sqrt(in), 1/sqrt(in)), and b (out) U(-1/sqrt(in), 1/sqrt(in)).
 * b may be NULL. */
tg_status tg_init_linear(tg_tensor *W, tg_tensor *b, tg_rng *rng);

/* ======================================================================
 * Byte buffers, for saving and restoring state (optimizers, schedulers).
 * Numbers are stored little-endian whatever the machine.
 * ====================================================================== */

typedef struct tg_buf {
    unsigned char *data;   /* (len) bytes, owned by the buffer */
    size_t len, cap;
    size_t pos;            /* where the next read starts */
} tg_buf;

/* Appends n bytes (TG_ERR_NOMEM if the buffer cannot grow). */
tg_status tg_buf_put(tg_buf *b, const void *p, size_t n);
/* Reads the next n bytes into p; TG_ERR_FORMAT if fewer are left. */
tg_status tg_buf_get(tg_buf *b, void *p, size_t n);
/* One number as 8 little-endian bytes; get fails (TG_ERR_FORMAT) past the end. */
tg_status tg_buf_put_u64(tg_buf *b, uint64_t v);
tg_status tg_buf_get_u64(tg_buf *b, uint64_t *v);
tg_status tg_buf_put_f64(tg_buf *b, double v);
tg_status tg_buf_get_f64(tg_buf *b, double *v);
/* n floats, preceded by n: reading checks that the stored count is n. */
tg_status tg_buf_put_floats(tg_buf *b, const float *v, size_t n);
tg_status tg_buf_get_floats(tg_buf *b, float *v, size_t n);
/* Frees the bytes and empties the buffer (a zeroed tg_buf is empty). */
void tg_buf_free(tg_buf *b);

/* ======================================================================
 * Optimizers (src/optim), with torch.optim's update rules and defaults.
 *
 *   tg_optim_opts o = tg_optim_defaults(TG_OPTIM_ADAM);   // lr 1e-3, betas (0.9, 0.999) ...
 *   o.weight_decay = 1e-4;
 *   tg_optim *opt = tg_optim_new(TG_OPTIM_ADAM, params, n_params, &o);
 *   ... per step: tg_optim_zero_grad(opt); tg_backward(loss); tg_optim_step(opt);
 *
 * Every rule is the single-tensor algorithm of torch 1.13's torch.optim,
 * in float32 with the scalar factors (bias corrections, step sizes) in
 * double as Python computes them. Parameters whose grad is NULL are skipped,
 * as torch skips those whose .grad is None. Where tg goes beyond torch 1.13
 * it says so: maximize for RAdam and NAdam, Lion, and NAdam's
 * mu_product fixed as in PyTorch 2.0.
 * ====================================================================== */

typedef enum tg_optim_kind {
    TG_OPTIM_SGD, TG_OPTIM_ADAGRAD, TG_OPTIM_RMSPROP, TG_OPTIM_ADAM, TG_OPTIM_ADAMW,
    TG_OPTIM_NADAM, TG_OPTIM_RADAM, TG_OPTIM_LION, TG_OPTIM_LBFGS,
    TG_OPTIM_KIND_COUNT
} tg_optim_kind;

/* Every optimizer's hyperparameters, named after torch's arguments; each
 * optimizer reads the ones it has. Start from tg_optim_defaults(kind). */
typedef struct tg_optim_opts {
    double lr;
    double weight_decay;             /* L2 added to the gradient; decoupled for AdamW, Lion */
    bool maximize;                   /* ascend instead of descend */
    double momentum, dampening;      /* SGD, RMSprop (momentum) */
    bool nesterov;                   /* SGD */
    double beta1, beta2;             /* torch's betas: Adam family, Lion */
    double eps;
    bool amsgrad;                    /* Adam, AdamW */
    double alpha;                    /* RMSprop smoothing */
    bool centered;                   /* RMSprop */
    double lr_decay;                 /* Adagrad */
    double initial_accumulator_value;/* Adagrad: group 0's fills every group's sum, as torch's
                                        constructor argument does */
    double momentum_decay;           /* NAdam */
    int max_iter, max_eval;          /* LBFGS: iterations and evaluations per step();
                                        max_eval 0 means max_iter * 5 / 4, as torch's None */
    double tolerance_grad, tolerance_change;
    int history_size;
    bool strong_wolfe;               /* LBFGS line search: strong Wolfe, or none */
} tg_optim_opts;

/* torch's defaults for kind: e.g. SGD lr 1e-3 (torch requires an lr; 1e-3 is
 * the lectures' base), Adagrad lr 1e-2 eps 1e-10, RMSprop lr 1e-2 alpha 0.99,
 * Adam lr 1e-3 betas (0.9, 0.999) eps 1e-8, AdamW the same with weight_decay
 * 1e-2, NAdam lr 2e-3 momentum_decay 4e-3, RAdam lr 1e-3, Lion lr 1e-4 betas
 * (0.9, 0.99), LBFGS lr 1 max_iter 20 max_eval 0 (max_iter * 5 / 4) tolerance_grad 1e-7
 * tolerance_change 1e-9 history_size 100. */
tg_optim_opts tg_optim_defaults(tg_optim_kind kind);
/* Sets one option from text, by torch's name: "lr", "momentum", "betas"
 * ("0.9,0.999"), "beta1", "beta2", "nesterov" ("1"/"0"/"true"/"false"),
 * "line_search" ("strong_wolfe"/"none"), ... Fails (TG_ERR_ARG, with a
 * message) on an unknown key, a malformed or out-of-range value (negative
 * lr, betas outside [0, 1), ...). */
tg_status tg_optim_opts_set(tg_optim_opts *o, const char *key, const char *value);
/* Applies "key=value,key=value" (betas as "betas=0.9:0.999"). */
tg_status tg_optim_opts_parse(tg_optim_opts *o, const char *spec);
/* Checks every option's range for kind; TG_ERR_ARG with a message. */
tg_status tg_optim_opts_check(tg_optim_kind kind, const tg_optim_opts *o);

/* Whether key is an option of kind (-1: of any kind), and how a command
 * line gives it: TG_OPTION_SWITCH is a bool named alone (--nesterov). */
typedef enum tg_option_type { TG_OPTION_NONE, TG_OPTION_VALUE, TG_OPTION_SWITCH } tg_option_type;
tg_option_type tg_optim_option(int kind, const char *key);
const char *tg_optim_kind_name(tg_optim_kind kind);   /* "sgd", "adam", ... */
/* The kind named name, or -1. */
int tg_optim_kind_from_name(const char *name);

/* A group of parameters sharing options (torch's param_groups). The
 * parameters are borrowed: they must outlive the optimizer. */
typedef struct tg_param_group {
    tg_tensor **params;      /* [n_params] */
    int n_params;
    tg_optim_opts opts;      /* opts.lr is the current rate (schedulers set it) */
    double initial_lr;       /* the rate schedules start from: NAN until the
                                first schedule takes the current lr (torch's
                                setdefault, so a second one keeps it) */
} tg_param_group;

typedef struct tg_optim tg_optim;

/* Re-evaluates the model for LBFGS: zero the gradients, compute the loss,
 * run tg_backward, write the loss. Return TG_OK or an error. */
typedef tg_status (*tg_closure)(void *ctx, float *loss);

/* What an optimizer is: fill one of these to plug in your own (see
 * examples/signum.c). Only step is required. */
typedef struct tg_optim_ops {
    const char *name;
    /* One update of every group's parameters from their grads. */
    tg_status (*step)(tg_optim *o);
    /* A step that may re-evaluate the loss (LBFGS); NULL: step, ignoring f. */
    tg_status (*step_closure)(tg_optim *o, tg_closure f, void *ctx, float *loss);
    /* NULL: set every parameter's grad to 0. */
    void (*zero_grad)(tg_optim *o);
    /* The optimizer's own state (o->state), after what tg_optim_save writes
     * itself. NULL: there is none. */
    tg_status (*save)(const tg_optim *o, tg_buf *out);
    tg_status (*load)(tg_optim *o, tg_buf *in);
    /* Frees o->state. NULL: free(o->state). */
    void (*free)(tg_optim *o);
} tg_optim_ops;

struct tg_optim {
    const tg_optim_ops *ops;
    int kind;                 /* tg_optim_kind, or -1 for your own */
    tg_param_group *groups;   /* [n_groups] */
    int n_groups;
    uint64_t steps;           /* completed steps (tg_optim_step or _step_closure) */
    void *state;              /* the optimizer's own, lazily made by step */
};

/* A new optimizer of kind over params (one group with opts; NULL: the
 * defaults). NULL with a message for a bad option, a NULL or duplicate
 * parameter, or (LBFGS) anything but one group. Free with tg_optim_free. */
tg_optim *tg_optim_new(tg_optim_kind kind, tg_tensor *const *params, int n, const tg_optim_opts *opts);
/* The same for your own optimizer: ops is borrowed (static, usually),
 * state owned by the optimizer from now on. */
tg_optim *tg_optim_new_custom(const tg_optim_ops *ops, tg_tensor *const *params, int n,
                              const tg_optim_opts *opts, void *state);
/* Adds a group with its own options (e.g. no weight decay on biases). */
tg_status tg_optim_add_group(tg_optim *o, tg_tensor *const *params, int n, const tg_optim_opts *opts);
/* One update from the current gradients. LBFGS needs tg_optim_step_closure. */
tg_status tg_optim_step(tg_optim *o);
/* One update for optimizers that re-evaluate (LBFGS, up to max_iter
 * iterations); the others evaluate f once and step. loss (may be NULL)
 * receives f's first value, as torch's step(closure) returns. LBFGS, like
 * torch's, stops on tolerance_change and searches lines by comparing float32
 * losses, so near the minimum of an ill-conditioned problem it stops where
 * float32 no longer sees the loss fall (examples/poly_fit.c refines in double
 * where it needs the exact minimum). */
tg_status tg_optim_step_closure(tg_optim *o, tg_closure f, void *ctx, float *loss);
/* Every parameter's grad = 0 (or ops->zero_grad). */
void tg_optim_zero_grad(tg_optim *o);
/* Frees the optimizer and its state, not the parameters; NULL is ignored. */
void tg_optim_free(tg_optim *o);
/* Group g's current learning rate, and setting it (schedulers do). */
double tg_optim_lr(const tg_optim *o, int group);
tg_status tg_optim_set_lr(tg_optim *o, int group, double lr);
/* Appends / restores everything needed to continue exactly: kind, each
 * group's options and parameter sizes, the step count and the optimizer's
 * state. Loading checks that the optimizer has the same kind and groups of
 * parameters of the same sizes (TG_ERR_FORMAT with a message otherwise) and
 * changes nothing when it fails. */
tg_status tg_optim_save(const tg_optim *o, tg_buf *out);
tg_status tg_optim_load(tg_optim *o, tg_buf *in);

/* ---- gradient clipping (torch.nn.utils) ---- */

/* Scales every gradient by max_norm / (total + 1e-6) when the total L2 norm
 * of all gradients exceeds max_norm (torch's clip_grad_norm_); returns that
 * total norm (before clipping), NaN/Inf passed on as torch does. */
double tg_clip_grad_norm(tg_tensor *const *params, int n, double max_norm);
/* Clamps every gradient element to [-clip, clip] (clip_grad_value_). */
void tg_clip_grad_value(tg_tensor *const *params, int n, double clip);

/* ---- gradients as one vector (torch.nn.utils.parameters_to_vector, for
 * the gradients): what a data-parallel loop all-reduces ---- */

/* Writes scale * grad of params[0..n) one after another into flat, which
 * holds their sizes' sum (tensors without a grad are skipped); returns the
 * number of floats written. scale 1 copies the bits. */
size_t tg_grads_to_vector(tg_tensor *const *params, int n, float scale, float *flat);
/* The reverse: each grad of params[0..n) (those with one) from flat, in the
 * same order; returns the number of floats read. */
size_t tg_vector_to_grads(const float *flat, tg_tensor *const *params, int n);

/* ======================================================================
 * Learning-rate schedules (torch.optim.lr_scheduler), stepped after
 * tg_optim_step, per step or per epoch as you choose. Each sets every
 * group's lr exactly as torch's chainable form does, in double.
 * ====================================================================== */

typedef enum tg_sched_kind {
    TG_SCHED_CONSTANT,       /* ConstantLR: lr * factor until total_iters */
    TG_SCHED_STEP,           /* StepLR: * gamma every step_size */
    TG_SCHED_MULTISTEP,      /* MultiStepLR: * gamma at each milestone */
    TG_SCHED_EXPONENTIAL,    /* ExponentialLR: * gamma every step */
    TG_SCHED_COSINE,         /* CosineAnnealingLR(T_max, eta_min) */
    TG_SCHED_WARMUP_COSINE,  /* the lectures' LambdaLR: linear warmup, then cosine to 0 at total */
    TG_SCHED_LINEAR_WARMUP,  /* LambdaLR: min(1, step / warmup) */
    TG_SCHED_ONECYCLE,       /* OneCycleLR, cycling momentum or beta1 too */
    TG_SCHED_PLATEAU,        /* ReduceLROnPlateau: tg_sched_step_metric */
    TG_SCHED_LAMBDA,         /* LambdaLR with your function */
    TG_SCHED_KIND_COUNT
} tg_sched_kind;

/* lr = initial_lr * f(step) for TG_SCHED_LAMBDA. */
typedef double (*tg_lr_lambda)(uint64_t step, void *ctx);

typedef struct tg_sched_opts {
    double factor;            /* constant (torch 1/3), plateau (0.1) */
    int total_iters;          /* constant (5) */
    int step_size;            /* step */
    double gamma;             /* step, multistep (0.1), exponential */
    int milestones[16];       /* multistep, increasing */
    int n_milestones;
    int T_max;                /* cosine */
    double eta_min;
    int warmup, total;        /* warmup_cosine, linear_warmup (steps) */
    double max_lr;            /* onecycle */
    int total_steps;
    double pct_start;         /* 0.3 */
    bool anneal_linear;       /* false: cos */
    double div_factor, final_div_factor;   /* 25, 1e4 */
    bool three_phase;
    bool cycle_momentum;      /* true */
    double base_momentum, max_momentum;    /* 0.85, 0.95 */
    bool mode_max;            /* plateau: false = min */
    int patience;             /* 10 */
    double threshold;         /* 1e-4 */
    bool threshold_abs;       /* false = rel */
    int cooldown;
    double min_lr;
    double eps;               /* 1e-8 */
    tg_lr_lambda fn;          /* lambda */
    void *ctx;
} tg_sched_opts;

/* torch's defaults for kind; options torch requires (step_size, gamma of
 * exponential, T_max, max_lr, total_steps, milestones, fn) are left unset
 * and tg_sched_new refuses them until given. */
tg_sched_opts tg_sched_defaults(tg_sched_kind kind);
/* Sets one option from text by torch's name ("gamma", "T_max",
 * "milestones" as "30:80", "anneal_strategy" cos/linear, "mode" min/max,
 * "threshold_mode" rel/abs, ...). TG_ERR_ARG with a message otherwise. */
tg_status tg_sched_opts_set(tg_sched_opts *o, const char *key, const char *value);
tg_status tg_sched_opts_parse(tg_sched_opts *o, const char *spec);
/* The same as tg_optim_option, for schedules. */
tg_option_type tg_sched_option(int kind, const char *key);
const char *tg_sched_kind_name(tg_sched_kind kind);   /* "cosine", ... */
int tg_sched_kind_from_name(const char *name);        /* or -1 */

typedef struct tg_sched tg_sched;
/* A schedule driving o's learning rates (borrowed: o must outlive it). Like
 * torch, it takes each group's initial_lr (the current lr, unless an earlier
 * schedule set it) and applies step 0 at once. When resuming, make it before
 * tg_optim_load: step 0 sets the rates, which the optimizer's state restores.
 * Add every parameter group before making it.
 * NULL with a message for bad options. */
tg_sched *tg_sched_new(tg_optim *o, tg_sched_kind kind, const tg_sched_opts *opts);
/* Advances one step (TG_ERR_ARG for plateau, which needs a metric, and for
 * onecycle past total_steps). */
tg_status tg_sched_step(tg_sched *s);
/* ReduceLROnPlateau's step with the monitored value; others ignore it. */
tg_status tg_sched_step_metric(tg_sched *s, double metric);
uint64_t tg_sched_last_step(const tg_sched *s);   /* torch's last_epoch */
/* The step counters and base rates (the rates themselves are the
 * optimizer's state); load checks kind and groups and changes nothing when
 * it fails. */
tg_status tg_sched_save(const tg_sched *s, tg_buf *out);
tg_status tg_sched_load(tg_sched *s, tg_buf *in);
void tg_sched_free(tg_sched *s);   /* NULL is ignored */

/* ======================================================================
 * Checkpoints: named tensors and byte blobs in one file
 *
 * Layout (little-endian): "TGCKPT01", u32 version (1), u32 entry count; per
 * entry u32 name length, name, u32 kind (0 tensor, 1 blob), for a tensor
 * u32 ndim, ndim u32 sizes, u64 element count and the floats, for a blob u64
 * length and the bytes; last, the CRC-32 (zlib's) of everything before it. Entries keep
 * the order they were added in, so the same content gives the same bytes.
 * ====================================================================== */

typedef struct tg_checkpoint tg_checkpoint;

/* An empty checkpoint in memory (NULL when out of memory); free it with
 * tg_checkpoint_free, which ignores NULL. */
tg_checkpoint *tg_checkpoint_new(void);
void tg_checkpoint_free(tg_checkpoint *ck);
/* Adds a copy of t's shape and data (or of n bytes) under a unique name
 * (at most 255 bytes). TG_ERR_ARG for a repeated or empty name. */
tg_status tg_checkpoint_add_tensor(tg_checkpoint *ck, const char *name, const tg_tensor *t);
tg_status tg_checkpoint_add_blob(tg_checkpoint *ck, const char *name, const void *data, size_t n);
/* Writes ck to path atomically: to path.tmp, flushed to disk, then renamed
 * over path, so a crash or a full disk leaves either the old file or the new
 * one, never half of one. A path that is a device or a pipe (/dev/null,
 * /dev/full) is written directly. TG_ERR_IO with a message otherwise (a
 * directory, a full disk, a read-only or missing directory). */
tg_status tg_checkpoint_write(const tg_checkpoint *ck, const char *path);
/* Reads and validates a whole checkpoint (magic, version, checksum, every
 * length against the file's size). TG_ERR_IO / TG_ERR_FORMAT with a message
 * naming the file and the problem. */
tg_status tg_checkpoint_read(const char *path, tg_checkpoint **out);
/* Copies the tensor named name into t, which must have its shape. */
tg_status tg_checkpoint_get_tensor(const tg_checkpoint *ck, const char *name, tg_tensor *t);
/* The blob named name (borrowed from ck). */
tg_status tg_checkpoint_get_blob(const tg_checkpoint *ck, const char *name, const void **data, size_t *n);

/* ======================================================================
 * Gradient checking
 * ====================================================================== */

/* The function under test: builds y from inputs on g. It must be a pure
 * function of the inputs' data (re-seed any rng inside it). */
typedef tg_tensor *(*tg_gradcheck_fn)(tg_graph *g, tg_tensor *const *inputs, void *ctx);

typedef struct tg_gradcheck_opts {
    float eps;      /* finite-difference step, relative to max(1, |x|); default 1e-3 */
    double atol;    /* pass when |analytic - numeric| <= atol + rtol |numeric|; default 1e-3 */
    double rtol;    /* default 1e-2 */
    uint64_t seed;  /* seed of the random projection below */
} tg_gradcheck_opts;

typedef struct tg_gradcheck_result {
    double max_abs_err;   /* largest |analytic - numeric| */
    double max_rel_err;   /* largest |analytic - numeric| / max(|numeric|, atol) */
    size_t n_checked;     /* elements compared */
    bool ok;
} tg_gradcheck_result;

/* Compares the gradient of L = sum_i w_i y_i, w a fixed random vector in
 * [0.5, 1.5) (so every output and its sign matter), computed by tg_backward,
 * with central finite differences (L(x+h) - L(x-h)) / 2h accumulated in
 * double, for every element of every input that requires grad. Inputs are
 * standalone tensors; their data is restored afterwards, and their grad is
 * left holding the analytic gradient. opts NULL means the defaults. Returns
 * TG_OK (check res->ok) or an error if f failed. */
tg_status tg_gradcheck(tg_gradcheck_fn f, void *ctx, tg_tensor *const *inputs, int n_inputs,
                       const tg_gradcheck_opts *opts, tg_gradcheck_result *res);

/* The built-in suite behind `tg gradcheck`: one case per op and loss, on
 * random inputs kept away from the points where the op is not smooth. */
int tg_gradcheck_suite_size(void);
const char *tg_gradcheck_suite_name(int i);
const char *tg_gradcheck_suite_op(int i); /* the op the case exercises ("matmul") */
tg_status tg_gradcheck_suite_run(int i, uint64_t seed, tg_gradcheck_result *res);

/* ======================================================================
 * Safetensors: named tensors as PyTorch and Hugging Face store them
 * ====================================================================== */

/* The format (github.com/huggingface/safetensors): an 8-byte little-endian
 * header length, a JSON header naming each tensor's dtype, shape and byte
 * offsets (and an optional "__metadata__" of strings), then the data,
 * little-endian. torch.load_state_dict takes what tg writes, and tg reads
 * what PyTorch's tools write, for the dtypes tg knows. */
typedef enum tg_dtype {
    TG_F32,                  /* float32: parameters, running statistics */
    TG_I64                   /* int64: torch's counters (num_batches_tracked), held by tg as float */
} tg_dtype;
const char *tg_dtype_name(tg_dtype d);   /* "F32", "I64" */

typedef struct tg_safetensors tg_safetensors;
/* An empty file in memory, to add tensors to and write. NULL on no memory. */
tg_safetensors *tg_safetensors_new(void);
void tg_safetensors_free(tg_safetensors *st);
/* Copies t's values in as name (unique, 1-255 bytes, not "__metadata__"),
 * stored as dtype (I64 rounds toward zero). TG_ERR_ARG / TG_ERR_NOMEM. */
tg_status tg_safetensors_add(tg_safetensors *st, const char *name, const tg_tensor *t, tg_dtype dtype);
/* Sets a "__metadata__" string (a key set again is replaced). */
tg_status tg_safetensors_set_metadata(tg_safetensors *st, const char *key, const char *value);
/* Writes st to path atomically (tg_file_write_atomic). */
tg_status tg_safetensors_write(const tg_safetensors *st, const char *path);
/* Reads path. The header is checked against the file's size before any
 * data is read or allocated: its length (at most 100 MB), its JSON, each
 * tensor's fields, and offsets that tile the data exactly (sorted,
 * contiguous, no overlap, no gap) with the sizes the shapes and dtypes
 * need. F32 and I64 are read; other dtypes are refused by name. TG_ERR_IO,
 * TG_ERR_FORMAT with a message naming the file and the tensor or offset,
 * TG_ERR_NOMEM. */
tg_status tg_safetensors_read(const char *path, tg_safetensors **out);
/* The tensors in the file, in header order: how many, and the i-th name. */
int tg_safetensors_count(const tg_safetensors *st);
const char *tg_safetensors_name(const tg_safetensors *st, int i);
/* name's dtype, number of dimensions and shape (room for 8); false if
 * there is no such tensor. */
bool tg_safetensors_info(const tg_safetensors *st, const char *name, tg_dtype *dtype, int *ndim, int64_t *shape);
/* A "__metadata__" value, or NULL. */
const char *tg_safetensors_metadata(const tg_safetensors *st, const char *key);
/* Copies tensor name into into, which must have its shape, expecting
 * dtype: TG_ERR_ARG naming the tensor when it is missing or its shape or
 * dtype differ. */
tg_status tg_safetensors_get(const tg_safetensors *st, const char *name, tg_dtype dtype, tg_tensor *into);

/* ======================================================================
 * Modules: a model as one object (torch.nn.Module)
 * ====================================================================== */

/* A module owns named parameters (trained), buffers (kept, not trained:
 * BatchNorm's running statistics) and child modules. Its state is in
 * torch's state_dict order and names: its parameters, then its buffers,
 * each in the order added, then each child's state under "child." — so
 * Sequential(Flatten, Linear) has "1.weight", "1.bias". It is in training
 * mode (dropout draws a mask, batch norm uses the batch) or evaluation
 * mode, with its children; it starts in training mode, as a torch module
 * does. What it computes is its ops' forward; a layer of your own is one
 * tg_module_ops, as an optimizer of your own is one tg_optim_ops. A complete
 * program (make check compiles and runs it):
 *
 * --- modules example ---
 * #include <stdio.h>
 * #include <tg.h>
 *
 * // A layer of your own: y = x * scale, "scale" one learned number per feature.
 * static tg_tensor *scale_forward(tg_module *m, tg_graph *g, tg_tensor *x)
 * {
 *     return tg_mul(g, x, tg_module_param(m, "scale"));
 * }
 * static const tg_module_ops scale_ops = {.name = "scale", .forward = scale_forward};
 *
 * int main(void)
 * {
 *     tg_rng rng;
 *     tg_rng_seed(&rng, 1);
 *     tg_module *scale = tg_module_new(&scale_ops, NULL);
 *     tg_module_add_param(scale, "scale", tg_ones(NULL, TG_SHAPE(8)));
 *     // nn.Sequential(nn.Linear(3, 8), nn.LayerNorm(8), nn.GELU(), Scale(8), nn.Linear(8, 1))
 *     tg_module *net = tg_sequential_new((tg_module *[]){tg_linear_new(3, 8, true, &rng),
 *         tg_layer_norm_new(TG_SHAPE(8), 1e-5f, true), tg_gelu_new(), scale, tg_linear_new(8, 1, true, &rng)}, 5);
 *     // AdamW, without weight decay on biases and norms: two groups by name
 *     tg_tensor *decay[8], *plain[8];
 *     const char *no_decay = "*bias layernorm:*";
 *     tg_optim *opt = tg_optim_new(TG_OPTIM_ADAMW, decay, tg_module_select(net, no_decay, false, decay, 8), NULL);
 *     tg_optim_opts opts = tg_optim_defaults(TG_OPTIM_ADAMW);
 *     opts.weight_decay = 0;
 *     if (!net || !opt || tg_optim_add_group(opt, plain, tg_module_select(net, no_decay, true, plain, 8), &opts)) {
 *         fprintf(stderr, "%s\n", tg_last_error());
 *         return 1;
 *     }
 *     float xs[4 * 3] = {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1}, ys[4] = {1, 2, 3, 6};
 *     tg_graph *g = tg_graph_new();
 *     for (int step = 0; step < 300; step++) {
 *         tg_tensor *y = tg_module_forward(net, g, tg_from_data(g, xs, TG_SHAPE(4, 3)));
 *         tg_tensor *loss = tg_mse_loss(g, y, tg_from_data(g, ys, TG_SHAPE(4, 1)), TG_REDUCE_MEAN);
 *         tg_module_zero_grad(net);
 *         tg_backward(loss);
 *         tg_optim_step(opt);
 *         if (step % 100 == 0) printf("step %3d  loss %.4f\n", step, loss->data[0]);
 *         tg_graph_reset(g);
 *     }
 *     // the state dict ("0.weight", ..., "3.scale", "4.bias"), as PyTorch's load_state_dict takes it
 *     char name[TG_MODULE_NAME_MAX];
 *     for (int i = 0; i < tg_module_state_size(net); i++)
 *         printf("%s%s", i ? " " : "", (tg_module_state(net, i, name, NULL), name));
 *     tg_status saved = tg_module_save(net, "/tmp/tg_header_example.safetensors", NULL);
 *     printf("\n%zu parameters, saved: %s\n", tg_module_count(net), saved == TG_OK ? "yes" : tg_last_error());
 *     tg_graph_free(g);
 *     tg_optim_free(opt);
 *     tg_module_free(net);
 *     remove("/tmp/tg_header_example.safetensors");
 *     return saved == TG_OK ? 0 : 1;
 * }
 * --- end ---
 */
typedef struct tg_module tg_module;
enum { TG_MODULE_NAME_MAX = 256 };   /* a state entry's dotted name, with its NUL */
/* The input of a model: one sample's channels, height and width. */
typedef struct tg_sample_shape {
    int channels, height, width;
} tg_sample_shape;
typedef struct tg_module_ops {
    const char *name;        /* the kind of module, "mlp" */
    /* y = the module applied to x on g, in the mode m->training says, drawing
     * from m->rng when training needs randomness; NULL with a message. */
    tg_tensor *(*forward)(tg_module *m, tg_graph *g, tg_tensor *x);
    /* Frees m->impl (not the parameters and buffers: the module frees
     * those); NULL when impl needs no freeing. */
    void (*free_impl)(void *impl);
} tg_module_ops;

struct tg_module {
    const tg_module_ops *ops;
    void *impl;              /* the implementation's own data */
    bool training;           /* tg_module_train */
    tg_rng *rng;             /* borrowed: dropout's draws in training mode (tg_module_set_rng) */
    /* private */
    struct tg__module_entry *entries;
    int n_entries, cap_entries;
    /* set by tg's own layers for a Sequential: this module followed by a
     * ReLU as one op (Conv2d's conv2d_relu, Linear's linear_relu), and
     * whether it is a ReLU */
    tg_tensor *(*fused_relu_forward)(tg_module *m, tg_graph *g, tg_tensor *x);
    bool is_relu;
};

/* A new module with no parameters, in training mode, owning impl (freed by
 * ops->free_impl with the module). NULL with a message when ops or its
 * forward is NULL, or memory runs out (then impl is freed too). */
tg_module *tg_module_new(const tg_module_ops *ops, void *impl);
/* Frees the module, its parameters and buffers, and impl; NULL is ignored. */
void tg_module_free(tg_module *m);
/* Adds t under name (unique in m, at most 47 characters) as a parameter:
 * standalone, requires_grad set. The module owns t from this call on, also
 * when the call fails (then t is freed), so constructors can chain calls
 * and check once. TG_ERR_ARG for a NULL, a tensor on a graph, or a name
 * already used; TG_ERR_NOMEM. */
tg_status tg_module_add_param(tg_module *m, const char *name, tg_tensor *t);
/* The same for a buffer: saved with the state as dtype (TG_I64 for a
 * counter such as num_batches_tracked), never trained (requires_grad stays
 * false). Names have no '.', which separates a child's names. */
tg_status tg_module_add_buffer(tg_module *m, const char *name, tg_tensor *t, tg_dtype dtype);
/* Adds child under name; m owns it from this call on (also when the call
 * fails: then child is freed). */
tg_status tg_module_add_child(tg_module *m, const char *name, tg_module *child);
/* The child called name, or NULL. */
tg_module *tg_module_child(const tg_module *m, const char *name);
/* The parameter or buffer called name, dotted through children
 * ("1.weight"), or NULL (with a message). */
tg_tensor *tg_module_param(const tg_module *m, const char *name);
/* y = the module applied to x (its ops->forward); NULL with a message. */
tg_tensor *tg_module_forward(tg_module *m, tg_graph *g, tg_tensor *x);
/* Training mode on (torch's module.train()) or off (module.eval()), for m
 * and its children; returns m's previous mode. */
bool tg_module_train(tg_module *m, bool on);
/* The generator training-mode randomness draws from, for m and its
 * children (borrowed; NULL: none, and a forward that needs one fails with
 * a message). */
void tg_module_set_rng(tg_module *m, tg_rng *rng);
/* The parameters, in torch's named_parameters order (a module's own, then
 * each child's): writes up to max (borrowed) pointers into params (NULL to
 * count) and returns how many there are. */
int tg_module_parameters(const tg_module *m, tg_tensor **params, int max);
/* The parameters whose names match patterns (matching true) or do not
 * (false), in the same order, for optimizer groups: patterns holds
 * space-separated globs (fnmatch) over the dotted name ("*.bias"), or over
 * "kind:name" with the kind of the module that holds it ("layernorm:*").
 * torch's usual "no weight decay on biases and norms":
 *   n = tg_module_select(net, "*bias layernorm:* batchnorm1d:*", true, no_decay, 64);
 *   k = tg_module_select(net, "*bias layernorm:* batchnorm1d:*", false, decay, 64);
 * Writes up to max pointers (borrowed; params NULL to count) and returns
 * how many match. */
int tg_module_select(const tg_module *m, const char *patterns, bool matching, tg_tensor **params, int max);
/* sum(p.numel() for p in parameters()): the number of trained values. */
size_t tg_module_count(const tg_module *m);
/* Every parameter's grad = 0 (model.zero_grad()). */
void tg_module_zero_grad(tg_module *m);
/* tg_clip_grad_norm over the module's parameters (no allocation for up to
 * 64 of them); returns the total norm before clipping, NaN on no memory. */
double tg_module_clip_grad_norm(tg_module *m, double max_norm);
/* The state, in state_dict order: how many entries, and entry i's tensor
 * (borrowed) with its dotted name written into name and whether it is a
 * buffer in *is_buffer (either may be NULL); NULL past the end. */
int tg_module_state_size(const tg_module *m);
tg_tensor *tg_module_state(const tg_module *m, int i, char name[TG_MODULE_NAME_MAX], bool *is_buffer);

/* The state as a safetensors file under torch's keys (buffers in their
 * dtypes), with spec, if not NULL, and "format": "pt" in its metadata:
 * torch's model.load_state_dict(safetensors.torch.load_file(path)) takes
 * it. Written atomically. */
tg_status tg_module_save(const tg_module *m, const char *path, const char *spec);
/* Adds m's state to st under torch's keys (to write with metadata of
 * your own: tg export adds the data set and input normalisation). */
tg_status tg_module_put_state(const tg_module *m, tg_safetensors *st);
/* Loads a state saved by tg or PyTorch, strictly as torch's
 * load_state_dict(strict=True): every key of the module must be in the
 * file with its shape and dtype, and no other key; the message names the
 * key. All or nothing: on failure the module is unchanged. */
tg_status tg_module_load(tg_module *m, const char *path);
/* The same from a file already read; what names it in messages. */
tg_status tg_module_load_state(tg_module *m, const tg_safetensors *st, const char *what);

/* ---- layers (torch.nn's, with its arguments, defaults, init and names) ---- */
/* Children "0", "1", ... applied in turn. Owns the layers, also when it
 * fails (a NULL among them fails it, keeping that layer's message). A
 * Conv2d (a Linear) and the ReLU right after it run as one op,
 * "conv2d_relu" ("linear_relu"), with the two ops' values and gradients to
 * the bit but without a pass over the outputs each way (unless the graph
 * checks numerics: then the two ops, so that the product's own output is
 * looked at). */
tg_module *tg_sequential_new(tg_module *const *layers, int n);
/* y = x + layers(x), the layers as a Sequential's children ("0", "1", ...):
 * in PyTorch, class Residual(nn.Sequential) whose forward returns
 * x + super().forward(x). The layers must keep x's shape. */
tg_module *tg_residual_new(tg_module *const *layers, int n);
/* nn.Linear(in, out, bias): "weight" (out, in), "bias" (out), drawn from
 * U(-1/sqrt(in), 1/sqrt(in)) as torch initialises them. */
tg_module *tg_linear_new(int in, int out, bool bias, tg_rng *rng);
/* nn.Flatten(start_dim) (torch's default is 1). */
tg_module *tg_flatten_new(int start_dim);
/* nn.Dropout(p): in training mode, drawing from the module's rng. */
tg_module *tg_dropout_new(float p);
/* The activations, elementwise: nn.ReLU, nn.GELU, nn.Tanh, nn.Sigmoid,
 * nn.LeakyReLU(negative_slope) (torch's default 0.01), nn.Softplus(beta,
 * threshold) (1 and 20). */
tg_module *tg_relu_new(void);
tg_module *tg_gelu_new(void);
tg_module *tg_tanh_new(void);
tg_module *tg_sigmoid_new(void);
tg_module *tg_leaky_relu_new(float negative_slope);
tg_module *tg_softplus_new(float beta, float threshold);
/* nn.LayerNorm(normalized_shape, eps, elementwise_affine) (torch's defaults
 * 1e-5 and true): y = (x - mean) / sqrt(var + eps) * weight + bias over the
 * last ndim dimensions of x, which must equal shape; the variance biased;
 * "weight" ones and "bias" zeros of that shape (none without affine). */
tg_module *tg_layer_norm_new(int ndim, const int *shape, float eps, bool elementwise_affine);
/* nn.BatchNorm1d(num_features, eps, momentum, affine, track_running_stats)
 * (torch's defaults 1e-5, 0.1, true, true) for x (N, C) or (N, C, L):
 * parameters "weight" (ones) and "bias" (zeros), buffers "running_mean"
 * (zeros), "running_var" (ones) and "num_batches_tracked" (an I64 count).
 * Training mode normalises with the batch's mean and biased variance and
 * updates running = (1 - momentum) running + momentum batch, the variance
 * unbiased (n / (n - 1)), counting the batch; momentum NAN is torch's None
 * (a cumulative average, 1 / num_batches_tracked). Evaluation mode uses the
 * running statistics. Without running statistics, always the batch's. */
tg_module *tg_batch_norm1d_new(int num_features, float eps, float momentum, bool affine, bool track_running_stats);
/* nn.BatchNorm2d: the same for x (N, C, H, W), statistics per channel over
 * N, H and W. */
tg_module *tg_batch_norm2d_new(int num_features, float eps, float momentum, bool affine, bool track_running_stats);
/* nn.Conv2d(in_channels, out_channels, (kh, kw), stride, padding,
 * dilation, groups, bias) over tg_conv2d (opts NULL: torch's defaults):
 * "weight" (out, in/groups, kh, kw) and "bias" (out), both from
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in/groups kh kw, as torch
 * initialises them. NULL with a message for a non-positive size or groups
 * that do not divide the channels. */
tg_module *tg_conv2d_new(int in_channels, int out_channels, int kh, int kw, const tg_conv2d_opts *opts, bool bias,
                         tg_rng *rng);
/* nn.MaxPool2d, nn.AvgPool2d (tg_max_pool2d, tg_avg_pool2d with opts),
 * nn.AdaptiveAvgPool2d((out_h, out_w)), nn.Dropout2d(p) (whole channels,
 * in training mode, from the module's rng). No parameters. */
tg_module *tg_max_pool2d_new(const tg_pool2d_opts *opts);
tg_module *tg_avg_pool2d_new(const tg_pool2d_opts *opts);
tg_module *tg_adaptive_avg_pool2d_new(int out_h, int out_w);
tg_module *tg_dropout2d_new(float p);
/* nn.Embedding(num_embeddings, embedding_dim, padding_idx): "weight"
 * (num_embeddings, embedding_dim) from N(0, 1), the padding row zero and
 * never trained; x holds whole-number indices (as floats) of any shape and
 * y has x's shape and one more dimension of embedding_dim. padding_idx may
 * count from the end (-1: the last row), or be TG_NO_PADDING. */
enum { TG_NO_PADDING = -2147483647 - 1 };
tg_module *tg_embedding_new(int num_embeddings, int embedding_dim, int padding_idx, tg_rng *rng);
/* A model as a line of torch.nn layers, lower case, with torch's arguments
 * minus the sizes tg infers from the input (in_features):
 *   "flatten linear(256) gelu dropout(0.1) linear(10)"
 * is nn.Sequential(Flatten(), Linear(784, 256), GELU(), Dropout(0.1),
 * Linear(256, 10)) for 1 x 28 x 28 samples, with its state's keys
 * ("1.weight", ...). Layers: flatten, linear(out[, bias]), dropout([p]),
 * relu, gelu, tanh, sigmoid, leaky_relu([slope]), softplus([beta[,
 * threshold]]). NULL with a message naming the word at fault. */
tg_module *tg_model_parse(const char *spec, tg_sample_shape in, tg_rng *rng);
/* Layer word i of the spec with its arguments' names,
 * "linear(out_features, bias)", written into buf and returned; NULL past
 * the last (for a usage text). */
const char *tg_model_layer_word(int i, char *buf, size_t size);

/* ======================================================================
 * Models (models/): built only on the API above.
 * ====================================================================== */

typedef enum tg_activation { TG_ACT_RELU, TG_ACT_TANH, TG_ACT_SIGMOID, TG_ACT_GELU } tg_activation;

/* A multilayer perceptron: Linear(n_in, hidden[0]), act, [dropout], ...,
 * Linear(hidden[n_hidden-1], n_out). n_hidden 0 is softmax/linear regression.
 * Layers use nn.Linear's default initialisation drawn from rng. */
typedef struct tg_mlp {
    int n_layers;          /* n_hidden + 1 linear layers */
    tg_tensor **W;         /* [n_layers] (out,in) */
    tg_tensor **b;         /* [n_layers] (out) */
    tg_activation act;
    float dropout;         /* dropout after each hidden activation, 0 for none */
} tg_mlp;

/* A new MLP owned by the caller (tg_mlp_free), its parameters standalone
 * tensors with requires_grad. NULL with a message for a non-positive size,
 * dropout outside [0, 1), a NULL rng, or no memory. */
tg_mlp *tg_mlp_new(int n_in, const int *hidden, int n_hidden, int n_out, tg_activation act,
                   float dropout, tg_rng *rng);
/* Frees the model and its parameters; NULL is ignored. */
void tg_mlp_free(tg_mlp *m);
/* logits (N,n_out) for x (N,n_in); train enables dropout (rng may be NULL
 * when dropout is 0 or train is false). */
tg_tensor *tg_mlp_forward(tg_graph *g, const tg_mlp *m, tg_tensor *x, bool train, tg_rng *rng);
/* Its parameters, W0, b0, W1, b1, ...: writes up to max pointers (borrowed)
 * and returns how many there are. */
int tg_mlp_params(const tg_mlp *m, tg_tensor **params, int max);

/* ---- models by name: what `tg train --model NAME` builds ----
 * A model kind names its options (the flags of tg train, without "--"),
 * their types and defaults; a spec holds a kind and the canonical text of
 * each option, so that the same settings are the same text however they
 * were typed (a checkpoint stores them as flags). */
typedef enum tg_model_opt_type {
    TG_MODEL_OPT_SIZES,      /* positive integers "512,512", or "" for none */
    TG_MODEL_OPT_CHOICE,     /* one of choices */
    TG_MODEL_OPT_REAL        /* a number in [lo, hi) */
} tg_model_opt_type;
typedef struct tg_model_opt {
    const char *key;                 /* "hidden" */
    tg_model_opt_type type;
    const char *def;                 /* the default, as text */
    const char *const *choices;      /* TG_MODEL_OPT_CHOICE: NULL-terminated */
    double lo, hi;                   /* TG_MODEL_OPT_REAL */
} tg_model_opt;
enum { TG_MODEL_MAX_OPTS = 8, TG_MODEL_VALUE_LEN = 96 };
struct tg_model_spec;
typedef struct tg_model_kind {
    const char *name;                /* "mlp" */
    const tg_model_opt *opts;
    int n_opts;
    /* "mlp hidden 512-512 relu", for the first line of a run */
    void (*describe)(const struct tg_model_spec *s, char *buf, size_t size);
    /* a new module for samples of shape in and classes outputs, its
     * parameters initialised from rng; NULL with a message */
    tg_module *(*build)(const struct tg_model_spec *s, tg_sample_shape in, int classes, tg_rng *rng);
    /* the name older checkpoints gave state entry i, written into buf;
     * false (or a NULL hook) when they used today's names */
    bool (*old_name)(int i, char *buf, size_t size);
    /* the same model as a line of layers (tg_model_parse) for classes
     * outputs, written into buf; NULL when the kind is not one */
    bool (*line)(const struct tg_model_spec *s, int classes, char *buf, size_t size);
} tg_model_kind;
typedef struct tg_model_spec {
    const tg_model_kind *kind;
    char values[TG_MODEL_MAX_OPTS][TG_MODEL_VALUE_LEN];   /* kind->opts[i]'s canonical text */
    char layers[512];        /* the "layers" kind: the spec string of tg_model_parse */
} tg_model_spec;

/* The kinds tg knows ("mlp"): writes up to max pointers, returns how many. */
int tg_model_kinds(const tg_model_kind **kinds, int max);
/* spec = kind name with its defaults; a name that is no kind but has a
 * space or a '(' is a line of layers (tg_model_parse), the "layers" kind.
 * TG_ERR_ARG naming the known kinds. */
tg_status tg_model_spec_init(tg_model_spec *s, const char *kind);
/* Whether kind has an option key. */
bool tg_model_has_opt(const tg_model_kind *kind, const char *key);
/* Sets option key from text: TG_ERR_ARG with a message for an option the
 * kind lacks or a value of the wrong type or range. */
tg_status tg_model_spec_set(tg_model_spec *s, const char *key, const char *value);
/* Option key's canonical text, or NULL. */
const char *tg_model_spec_get(const tg_model_spec *s, const char *key);
/* The spec as a line of layers for classes outputs ("mlp" with hidden
 * 512,512 is "flatten linear(512) relu linear(512) relu linear(10)"), what
 * tg export stores: false with a message when it does not fit size or the
 * kind has no such line. */
bool tg_model_line(const tg_model_spec *s, int classes, char *buf, size_t size);
/* The module the spec describes (s->kind->build). */
tg_module *tg_model_new(const tg_model_spec *s, tg_sample_shape in, int classes, tg_rng *rng);
/* The presets "cnn", conv2d(32,3,padding=1) relu maxpool2d(2)
 * conv2d(64,3,padding=1) relu maxpool2d(2) flatten linear(128) relu
 * linear(classes), and "cnn-bn", the same with batchnorm2d after each
 * convolution, are kinds without options. */
/* The "mlp" kind: options hidden (sizes, "512,512"), activation
 * (relu|tanh|sigmoid|gelu, "relu") and dropout ([0, 1), "0"). A preset of
 * tg_model_parse: hidden 512,512 relu is "flatten linear(512) relu
 * linear(512) relu linear(10)", state keys "1.weight", "1.bias", "3.weight"
 * ... (checkpoints before modules said W0, b0, ...: its old_name). */
extern const tg_model_kind tg_mlp_kind;

/* ======================================================================
 * Datasets (datasets/)
 * ====================================================================== */

/* IDX files (the MNIST format): a magic number, big-endian dimensions,
 * then the data. tg reads unsigned-byte IDX files, gzip-compressed or raw. */
typedef struct tg_idx {
    int ndim;                /* 1..4 */
    int dims[4];
    size_t size;             /* product of dims */
    unsigned char *data;     /* (size) owned: tg_idx_free */
} tg_idx;

/* Reads path (gzip or raw, told apart by content). Every header field is
 * checked against what the file really holds before anything is trusted:
 * TG_ERR_IO if it cannot be read, TG_ERR_FORMAT with a message naming the
 * file and the problem (bad magic, unsupported type, truncated data,
 * trailing bytes, corrupt gzip). Memory grows only as data arrives, so a
 * header claiming more than the file holds allocates no more than the file. */
tg_status tg_idx_load(const char *path, tg_idx *out);
void tg_idx_free(tg_idx *idx);   /* frees the data and zeroes *idx */

/* An image-classification set held as bytes: images stay uint8 in memory
 * and are converted per batch. */
typedef struct tg_dataset {
    int n;                   /* examples */
    int channels;            /* 1 (grey) */
    int rows, cols;          /* image size (28 x 28) */
    int n_classes;           /* 10 */
    unsigned char *images;   /* (n, channels * rows * cols), owned */
    unsigned char *labels;   /* (n), owned, each < n_classes */
    const char *const *class_names; /* (n_classes) borrowed, or NULL: "0", "1", ... */
} tg_dataset;

/* Loads the MNIST-format training set (train-images-idx3-ubyte,
 * train-labels-idx1-ubyte) or test set (t10k-...) from dir, each file
 * gzipped (.gz) or raw. Checks that images and labels agree in count and that
 * every label is < 10. Errors name the file. */
tg_status tg_dataset_load(const char *dir, bool train, tg_dataset *out);
void tg_dataset_free(tg_dataset *d);   /* frees both arrays and zeroes *d */
/* FashionMNIST's class names: "t-shirt/top", "trouser", ... "ankle boot";
 * "?" outside 0..9. */
const char *tg_fashion_mnist_class(int c);
/* Class k's name in d ("ankle boot", or "7" for a set without names); "?"
 * outside [0, n_classes). The string is static or d's. */
const char *tg_dataset_class_name(const tg_dataset *d, int k);

/* The data sets tg knows by name, with what a program needs before loading
 * one: where Debian puts it, one sample's shape, the classes. */
typedef struct tg_dataset_info {
    const char *name;                /* "fashion-mnist", "mnist" */
    const char *default_dir;         /* "/usr/share/datasets/fashion-mnist" */
    tg_sample_shape shape;           /* 1 x 28 x 28 */
    int n_classes;
    const char *const *class_names;  /* (n_classes), or NULL: "0", "1", ... */
} tg_dataset_info;
/* The known sets: writes up to max pointers, returns how many. */
int tg_dataset_kinds(const tg_dataset_info **kinds, int max);
/* The set called name, or NULL with a message naming the known ones. */
const tg_dataset_info *tg_dataset_find(const char *name);
/* tg_dataset_load of info's set from dir (NULL: info->default_dir), checked
 * against info's sample shape, with its class names. */
tg_status tg_dataset_open(const tg_dataset_info *info, const char *dir, bool train, tg_dataset *out);
/* The images rows[0..n) gathered into x (n, rows*cols) as float
 * (pixel / 255 - mean) / std, and their labels into y (NULL to skip).
 * mean 0, std 1 gives [0, 1]. TG_ERR_ARG, with x and y untouched, when a
 * row is outside [0, d->n) (the message names it), std is not positive, or
 * d, rows or x is NULL. */
tg_status tg_dataset_batch(const tg_dataset *d, const int *rows, int n, float mean, float std, float *x, int *y);
/* The same for the consecutive rows [first, first + n) (a DataLoader
 * without shuffling, as evaluation reads a test set); TG_ERR_ARG when they
 * are not all in [0, d->n). */
tg_status tg_dataset_slice(const tg_dataset *d, int first, int n, float mean, float std, float *x, int *y);
/* Mean and standard deviation of all pixels / 255 of d (for normalisation). */
void tg_dataset_stats(const tg_dataset *d, float *mean, float *std);

/* An image file (PNG, JPEG, GIF, BMP, binary PGM/PPM, decoded by
 * stb_image; other formats are refused, and so are inputs known to trip
 * Debian's stb_image: see docs/TESTING.md) as a
 * rows x cols grey image in [0, 1], in FashionMNIST's convention: any size
 * or colour is converted to grey (ITU-R 601 luma), transparent pixels count
 * as background, the image is resized by area averaging, and it is inverted
 * when its border is brighter than its middle (a dark object on a light
 * background) so the object is light on dark. A PNM sample is read as a
 * fraction of the header's maximum value (1 to 65535). out: rows * cols floats.
 * TG_ERR_IO / TG_ERR_FORMAT with a message naming the file. */
tg_status tg_image_load(const char *path, int rows, int cols, float *out);

/* Two interleaving half circles (scikit-learn's make_moons, shuffled):
 * x (n,2), labels 0 (upper moon) and 1 (lower moon), Gaussian noise of
 * standard deviation noise. Returns TG_OK or TG_ERR_ARG (n < 2). */
tg_status tg_make_moons(int n, float noise, tg_rng *rng, float *x, int *labels);

#ifdef __cplusplus
}
#endif
#endif /* TG_H */
