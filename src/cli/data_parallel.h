/* data_parallel.h — tg train over several processes (a dist_engine's
 * ranks), each holding the whole model: every rank draws the same global
 * batch, takes its slice of it, and the gradients, each weighted by its
 * slice's share of the batch, are summed over the ranks, so every rank
 * takes the step one process would take on the whole batch (mean
 * reduction; only the order of the additions differs). Every rank then
 * applies the same update and the replicas stay the same, which
 * data_parallel_check verifies.
 *
 * With one rank every function returns at once, leaving the run exactly
 * as it was. */
#ifndef TG_CLI_DATA_PARALLEL_H
#define TG_CLI_DATA_PARALLEL_H

#include "dist.h"
#include "session.h"

typedef struct data_parallel {
    const dist_engine *e;
    tg_tensor **grads;           /* (n_grads) the parameters that have a gradient */
    int n_grads;
    float *flat;                 /* every gradient, then the weighted loss and the failure count */
    size_t n_flat;
    tg_tensor **buffers;         /* (n_buffers) running statistics: rank 0's are everyone's */
    int n_buffers;
    float *flat_buffers;
    size_t n_flat_buffers;
    uint64_t *checksums;         /* (size) every rank's, compared each epoch */
    tg_rng dropout;              /* this rank's dropout stream, drawn anew every step */
    uint64_t seed;
} data_parallel;

/* Sets dp up for s's model on e's ranks (seed: the run's); false after a message. */
bool data_parallel_init(data_parallel *dp, const dist_engine *e, session *s, uint64_t seed);
void data_parallel_free(data_parallel *dp);
/* This rank's part [*lo, *hi) of n items: contiguous, sizes differing by at most one. */
void data_parallel_slice(const data_parallel *dp, int n, int *lo, int *hi);
/* Before a step: this rank's dropout stream for it, from the run's seed,
 * the step and the rank, so dropout masks differ between ranks while the
 * training stream (shuffling) is drawn as in one process. */
void data_parallel_begin_step(data_parallel *dp, const session *s);
/* After this rank's backward on `mine` of the batch's m samples (ok: it
 * worked; *loss its slice's mean loss): the gradients become the batch's
 * and *loss the batch's mean loss. False if any rank failed or the engine
 * did; *others is then false only when this rank's own op failed (and
 * tg_last_error says why): other ranks and the engine print their own. */
bool data_parallel_sum_gradients(data_parallel *dp, bool ok, int mine, int m, double *loss, bool *others);
/* After a step: every rank's running statistics become rank 0's, as
 * torch's DistributedDataParallel broadcasts its buffers. */
bool data_parallel_share_buffers(data_parallel *dp);
/* Do all ranks hold the same configuration, parameters and buffers? A
 * checksum of each rank's, compared at the start (epoch 0) and after each
 * epoch; false after a message with every rank's checksum. */
bool data_parallel_check(data_parallel *dp, const session *s, const train_config *c, int epoch);
/* Did every rank of e succeed? (ok: this one did.) Usable before
 * data_parallel_init, for the run's set-up. */
bool data_parallel_agree(const dist_engine *e, bool ok);
/* Each rank evaluated its slice into *r (ok: it worked); *r becomes the
 * whole set's. False if any rank failed. */
bool data_parallel_sum_eval(data_parallel *dp, bool ok, eval_result *r);

#endif /* TG_CLI_DATA_PARALLEL_H */
