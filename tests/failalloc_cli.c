/* failalloc_cli.c — the tg command (src/cli) with failure injection
 * (failalloc.h): TG_FAIL_ALLOC=k makes its k-th allocation fail. At exit it
 * says on stderr when it never made k allocations, which ends a sweep.
 * check_alloc runs it for every k. */
#include <stdio.h>
#include <stdlib.h>

#include "failalloc.h"

__attribute__((constructor)) static void fail_from_environment(void)
{
    const char *k = getenv("TG_FAIL_ALLOC");
    if (k) failalloc_after(atol(k));
}

__attribute__((destructor)) static void say_if_never_reached(void)
{
    if (failalloc_fail_at && !failalloc_reached())
        fprintf(stderr, "failalloc: %ld allocations, the %ld-th never came\n", failalloc_count, failalloc_fail_at);
}
