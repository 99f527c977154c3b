/* data_parallel.c — tg train's ranks kept as one model (data_parallel.h).
 * A step costs one all-reduce (the gradients with the loss and a failure
 * count riding along) and, for a model with running statistics, one
 * broadcast of them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_parallel.h"

static bool single(const data_parallel *dp) { return dp->e->size == 1; }

static bool buffers_of(data_parallel *dp, const session *s)
{
    int n = tg_module_state_size(s->model);
    dp->buffers = malloc((size_t)(n ? n : 1) * sizeof *dp->buffers);
    if (!dp->buffers) return false;
    for (int i = 0; i < n; i++) {
        char name[TG_MODULE_NAME_MAX];
        bool is_buffer = false;
        tg_tensor *t = tg_module_state(s->model, i, name, &is_buffer);
        if (!is_buffer) continue;
        dp->buffers[dp->n_buffers++] = t;
        dp->n_flat_buffers += t->size;
    }
    dp->flat_buffers = malloc((dp->n_flat_buffers ? dp->n_flat_buffers : 1) * sizeof *dp->flat_buffers);
    return dp->flat_buffers != NULL;
}

bool data_parallel_init(data_parallel *dp, const dist_engine *e, session *s, uint64_t seed)
{
    memset(dp, 0, sizeof *dp);
    dp->e = e, dp->seed = seed;
    if (single(dp)) return true;
    dp->grads = malloc((size_t)(s->n_params ? s->n_params : 1) * sizeof *dp->grads);
    bool ok = dp->grads != NULL;
    for (int i = 0; ok && i < s->n_params; i++)
        if (s->params[i]->grad) dp->grads[dp->n_grads++] = s->params[i], dp->n_flat += s->params[i]->size;
    dp->n_flat += 2; /* the weighted loss, the failure count */
    ok = ok && (dp->flat = malloc(dp->n_flat * sizeof *dp->flat)) && buffers_of(dp, s) &&
         (dp->checksums = malloc((size_t)e->size * sizeof *dp->checksums));
    if (!ok) {
        fprintf(stderr, "tg train: out of memory\n");
        return false;
    }
    tg_module_set_rng(s->model, &dp->dropout);
    return true;
}

void data_parallel_free(data_parallel *dp)
{
    free(dp->grads), free(dp->flat), free(dp->buffers), free(dp->flat_buffers), free(dp->checksums);
    memset(dp, 0, sizeof *dp);
}

void data_parallel_slice(const data_parallel *dp, int n, int *lo, int *hi)
{
    *lo = (int)((long long)n * dp->e->rank / dp->e->size);
    *hi = (int)((long long)n * (dp->e->rank + 1) / dp->e->size);
}

void data_parallel_begin_step(data_parallel *dp, const session *s)
{
    if (single(dp)) return;
    /* seed, step and rank make the stream (the step scrambled: splitmix64's
     * constant), so resuming finds it again, and the training stream is
     * left to shuffling: the same batches as one process */
    seed_stream(&dp->dropout, dp->seed ^ (s->step * 0xbf58476d1ce4e5b9u), 4 + (uint64_t)dp->e->rank);
}

bool data_parallel_sum_gradients(data_parallel *dp, bool ok, int mine, int m, double *loss, bool *others)
{
    *others = false;
    if (single(dp)) return ok;
    /* The batch's mean loss is sum over ranks of (mine / m) * the slice's
     * mean, and so is its gradient. A rank without samples (a last batch
     * smaller than the ranks) adds zeros. */
    float share = (float)mine / (float)m;
    size_t n = dp->n_flat - 2;
    if (ok && mine > 0) tg_grads_to_vector(dp->grads, dp->n_grads, share, dp->flat);
    else memset(dp->flat, 0, n * sizeof *dp->flat);
    dp->flat[n] = ok && mine > 0 ? share * (float)*loss : 0.0f;
    dp->flat[n + 1] = ok ? 0.0f : 1.0f;
    if (!dp->e->sum_floats(dp->flat, dp->n_flat)) return *others = true, false; /* the engine said why */
    float failed = dp->flat[n + 1];
    *others = failed > (ok ? 0.0f : 1.0f);
    if (failed > 0.0f) return false;
    tg_vector_to_grads(dp->flat, dp->grads, dp->n_grads);
    *loss = dp->flat[n];
    return true;
}

bool data_parallel_share_buffers(data_parallel *dp)
{
    if (single(dp) || !dp->n_buffers) return true;
    size_t at = 0;
    for (int i = 0; i < dp->n_buffers; i++)
        memcpy(dp->flat_buffers + at, dp->buffers[i]->data, dp->buffers[i]->size * sizeof(float)), at += dp->buffers[i]->size;
    if (!dp->e->broadcast_floats(dp->flat_buffers, dp->n_flat_buffers)) return false;
    at = 0;
    for (int i = 0; i < dp->n_buffers; i++)
        memcpy(dp->buffers[i]->data, dp->flat_buffers + at, dp->buffers[i]->size * sizeof(float)), at += dp->buffers[i]->size;
    return true;
}

/* FNV-1a: any flipped bit changes it. */
static uint64_t checksum(uint64_t h, const void *data, size_t n)
{
    const unsigned char *b = data;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3u;
    return h;
}

bool data_parallel_check(data_parallel *dp, const session *s, const train_config *c, int epoch)
{
    if (single(dp)) return true;
    uint64_t h = 0xcbf29ce484222325u;
    int n = tg_module_state_size(s->model);
    for (int i = 0; i < n; i++) {
        char name[TG_MODULE_NAME_MAX];
        tg_tensor *t = tg_module_state(s->model, i, name, NULL);
        h = checksum(h, t->data, t->size * sizeof *t->data);
    }
    /* the configuration too: ranks given different flags would train different models */
    tg_buf flags = {0};
    bool ok = config_to_flags(c, &flags) == TG_OK;
    if (ok) h = checksum(h, flags.data, flags.len);
    else fprintf(stderr, "tg train: out of memory\n");
    tg_buf_free(&flags);
    if (!dp->e->gather_u64(ok ? h : 0, dp->checksums)) return false;
    int size = dp->e->size, differ = 0;
    for (int r = 1; r < size; r++) differ += dp->checksums[r] != dp->checksums[0];
    if (ok && differ && dp->e->rank == 0) {
        if (epoch)
            fprintf(stderr, "tg train: after epoch %d the model differs between ranks (checksums:", epoch);
        else
            fprintf(stderr, "tg train: the ranks would train different models (checksums of the flags and the "
                            "starting state:");
        for (int r = 0; r < size; r++) fprintf(stderr, " rank %d %016llx", r, (unsigned long long)dp->checksums[r]);
        fprintf(stderr, epoch ? "); stopping: this is a bug in tg or in the MPI library, please report it\n"
                              : "); start every rank with the same flags and files\n");
    }
    return ok && !differ;
}

bool data_parallel_agree(const dist_engine *e, bool ok)
{
    if (e->size == 1) return ok;
    double failed = ok ? 0.0 : 1.0;
    return e->sum_doubles(&failed, 1) && failed == 0.0;
}

bool data_parallel_sum_eval(data_parallel *dp, bool ok, eval_result *r)
{
    if (single(dp)) return ok;
    double sums[4] = {ok ? r->loss_sum : 0.0, ok ? (double)r->right : 0.0, ok ? (double)r->n : 0.0, ok ? 0.0 : 1.0};
    if (!dp->e->sum_doubles(sums, 4) || sums[3] > 0.0) return false;
    r->loss_sum = sums[0], r->right = (long)sums[1], r->n = (int)sums[2];
    r->loss = r->n ? r->loss_sum / r->n : NAN;
    r->accuracy = r->n ? (double)r->right / r->n : NAN;
    return true;
}
