/* dist.h — the processes a training run is spread over: what tg train asks
 * of a communication engine, and nothing more. One process is the "local"
 * engine (dist_local.c: every call is a no-op); `make mpi` links the Open
 * MPI engine (dist_mpi.c) into build/tg-mpi instead. Another engine is one
 * more file defining dist_open.
 *
 * Every call is collective: every rank makes it, in the same order, with
 * the same n. Each returns false after printing why (a rank that died, a
 * timeout); the run then stops on every rank. */
#ifndef TG_CLI_DIST_H
#define TG_CLI_DIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dist_engine {
    int rank, size;              /* this process, of size (rank 0 writes files and prints) */
    int local_size;              /* ranks on this machine, which share its cores */
    /* x[0..n) becomes the sum over the ranks of their x, the same bits on
     * every rank (a fixed reduction order for a fixed size). */
    bool (*sum_floats)(float *x, size_t n);
    bool (*sum_doubles)(double *x, size_t n);
    /* x[0..n) becomes rank 0's x on every rank. */
    bool (*broadcast_floats)(float *x, size_t n);
    /* all[0..size) becomes every rank's v, in rank order. */
    bool (*gather_u64)(uint64_t v, uint64_t *all);
    /* The end of the run, reached by every rank. */
    void (*close)(void);
} dist_engine;

/* The engine this tg was built with; ranks and size as the launcher (mpirun)
 * set them, else the local engine. NULL after a message if it could not
 * start. */
const dist_engine *dist_open(void);
/* One process: size 1, every call does nothing and succeeds. */
const dist_engine *dist_local(void);

#endif /* TG_CLI_DIST_H */
