/* session.h — what tg train, eval and predict share: the training
 * configuration (parsed from flags, stored in checkpoints as flags), the
 * data, the model and optimizer it builds, evaluation, checkpoints. */
#ifndef TG_CLI_SESSION_H
#define TG_CLI_SESSION_H

#include <stdio.h>

#include "args.h"

enum { MAX_MODEL_FLAGS = 16 };

/* Everything that decides a run's numbers. Paths and thread counts are not
 * in it: they change where and how fast, not what. */
typedef struct train_config {
    char dataset[16];            /* fashion-mnist | mnist */
    tg_model_spec model;         /* --model (mlp) and its options: --hidden 512,512 ... */
    optim_args optim;            /* --optimizer, its options, --schedule, clipping */
    bool schedule_per_epoch;     /* --schedule-every epoch (plateau always is) */
    int batch_size, epochs;
    double l1, l2, label_smoothing, val_split;
    int early_stop;              /* patience in epochs, 0 off */
    uint64_t seed;
    bool normalize;              /* --normalize: (x - mean) / std of the training images */
    bool no_shuffle;             /* --shuffle off: every epoch visits the training rows in order */
    int train_samples, test_samples;   /* 0: all; fewer for quick runs */
    int log_every;               /* samples between --log rows */
    /* --model and its options as given, applied by config_finish (copies,
     * so the config outlives the text it was parsed from) */
    char model_flags[MAX_MODEL_FLAGS][2][sizeof ((tg_model_spec *)0)->layers];
    int n_model_flags;
} train_config;

/* Where things go and how fast: not part of a run's identity. */
typedef struct run_paths {
    const char *data_dir, *save, *resume, *log, *metrics;
    const char *init;            /* --init W.safetensors: the model's starting state */
    int threads;
    bool check_numerics;
} run_paths;

void config_defaults(train_config *c);
/* Consumes argv[*i] (and value) if it is a training flag: 1 used, 0 not
 * one, -1 bad value (message printed). */
int config_flag(train_config *c, int argc, char **argv, int *i);
/* The same for --data-dir, --save, --resume, --init, --log, --metrics, --threads. */
int paths_flag(run_paths *p, int argc, char **argv, int *i);
/* Checks the config once every flag is read; false with a message. */
bool config_finish(train_config *c);
/* The config as the flags that recreate it, in a fixed order: NUL-separated
 * into buf (growable tg_buf). */
tg_status config_to_flags(const train_config *c, tg_buf *buf);
/* Parses flags written by config_to_flags; false with a message. */
bool config_from_flags(train_config *c, const void *data, size_t n);
/* "fashion-mnist", hidden 512,512 relu ... for the first line of a run. */
void config_describe(const train_config *c, char *buf, int size);
/* The model, data, training and output lines of tg train's usage. */
void config_usage(FILE *f);

/* c's data set (known: config_flag checked the name). */
const tg_dataset_info *dataset_of(const train_config *c);
/* The directory of c's dataset: --data-dir, else $TG_DATA_DIR, else
 * where Debian puts it (tg_dataset_info's default_dir). */
const char *data_dir_for(const train_config *c, const run_paths *p);

/* Independent random streams from one seed (1: initialisation, 2: the
 * validation split, 3: training), so resuming needs only stream 3's state. */
void seed_stream(tg_rng *r, uint64_t seed, uint64_t stream);

/* A model, its optimizer and schedule, as c describes them. */
typedef struct session {
    tg_module *model;
    tg_tensor **params;          /* (n_params) the model's, borrowed */
    int n_params;
    tg_tensor **weights;         /* (n_weights) those with 2+ dimensions: what L1/L2 apply to */
    int n_weights;
    tg_optim *opt;
    tg_sched *sched;
    tg_rng rng;                  /* shuffling and dropout; saved in checkpoints */
    float mean, std;             /* input normalisation */
    int epoch;                   /* epochs completed */
    uint64_t step, samples_seen;
    double best_eval_loss;       /* early stopping */
    int bad_epochs;
} session;

/* Builds the model for samples of shape in (initialised from the seed),
 * optimizer and schedule. */
bool session_new(session *s, const train_config *c, tg_sample_shape in, int classes);
void session_free(session *s);
/* Writes / reads everything needed to continue exactly. */
tg_status session_save(const session *s, const train_config *c, const char *path);
/* Reads a checkpoint's config (to build the session from) ... */
bool checkpoint_config(const char *path, tg_checkpoint **ck, train_config *c);
/* ... then its state into a session built from that config. */
bool session_load(session *s, const train_config *c, const tg_checkpoint *ck);
/* The model of a checkpoint, or of a .safetensors state dict (tg export's,
 * or PyTorch's) built from model (a --model spec; NULL: the file's
 * "spec" metadata) for dataset (NULL: the file's "dataset" metadata, else
 * fashion-mnist); c and s ready to evaluate. False after a message. */
bool session_open(const char *path, const char *model, const char *dataset, train_config *c, session *s);
/* The model's state dict as safetensors under torch's keys, with its spec
 * (a line of layers), data set and input normalisation in __metadata__. */
tg_status session_export(const session *s, const train_config *c, const char *path);

/* Loss and accuracy of the model on rows[0..n) of d, in batches, recording
 * nothing; confusion (classes x classes, may be NULL) counts truth x prediction. */
typedef struct eval_result {
    double loss, accuracy;
    double seconds;           /* wall clock, the batches' forwards and the counting */
    double loss_sum;          /* what loss and accuracy are made of: ranks add these */
    long right;
    int n;
} eval_result;
bool evaluate(const session *s, const tg_dataset *d, const int *rows, int n, eval_result *r, long *confusion);
/* A monotonic clock, in seconds. */
double clock_seconds(void);

/* tg_dataset_open of c's data set, printing its message with the flags
 * that fix it. */
bool load_dataset(const train_config *c, const char *dir, bool train, tg_dataset *out);

/* The class names of c's dataset. */
const char *class_name(const train_config *c, int k);

#endif /* TG_CLI_SESSION_H */
