/* error.c — the per-thread message behind tg_last_error(), and assertions. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "base.h"

/* Per thread, so two threads training two models never see each other's
 * failures. */
static _Thread_local char last_error[512];

const char *tg_last_error(void) { return last_error; }

void tg_clear_error(void) { last_error[0] = '\0'; }

static void set_error(const char *fmt, va_list ap) { vsnprintf(last_error, sizeof last_error, fmt, ap); }

void tg__error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_error(fmt, ap);
    va_end(ap);
}

void tg_set_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_error(fmt, ap);
    va_end(ap);
}

_Noreturn void tg__assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "tg: internal error: %s:%d: assertion failed: %s\n", file, line, expr);
    abort();
}
