/* fuzz_checkpoint.c — what tg eval and tg train --resume do with a
 * checkpoint file: read it (tg_checkpoint_read), take its configuration,
 * build the model it describes and load every state into it. Any bytes
 * must end in a working session or a message, never a crash or a leak. */
#include <stdio.h>

#include <tg.h>

#include "../../src/cli/session.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("input.ckpt", data, size);
    if (!path) return 0;
    tg_clear_error();
    tg_checkpoint *ck = NULL;
    train_config c;
    if (!checkpoint_config(path, &ck, &c)) return 0;
    session s;
    const tg_dataset_info *d = dataset_of(&c);
    if (session_new(&s, &c, d->shape, d->n_classes)) {
        session_load(&s, &c, ck);
        session_free(&s);
    }
    tg_checkpoint_free(ck);
    return 0;
}
