/* fuzz.h — what the fuzz targets share.
 *
 * A target is one function, LLVMFuzzerTestOneInput, built two ways: with
 * libFuzzer (make fuzz: clang, ASan, UBSan), which mutates inputs to find
 * crashes, hangs and leaks; and with replay.c (make check: any compiler,
 * also under the sanitizers), which runs it on every file of its seed
 * corpus and of its regression inputs — each crash fuzzing ever found. */
#ifndef TG_FUZZ_H
#define TG_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The readers under test take paths: this writes data[0..size) to name in
 * a directory private to this process (removed at exit) and returns the
 * file's path, or NULL if it could not be written. */
const char *fuzz_file(const char *name, const uint8_t *data, size_t size);
/* That private directory. */
const char *fuzz_dir(void);

/* A reader that refused its input must say why: an empty tg_last_error()
 * after a failure is a bug, reported like a crash. */
void fuzz_expect_message(const char *reader);

#endif
