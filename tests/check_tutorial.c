/* check_tutorial.c — docs/TUTORIAL.md says what the programs print. The
 * document marks what it quotes:
 *   <!-- output of: build/PROGRAM ARGS -->   the next fenced block is the
 *       program's whole output (numbers equal to 0.5%: another CPU's SIMD
 *       kernel may round a long training run differently);
 *   <!-- code excerpt: FILE -->   every line of the next block (but "...")
 *       is in FILE;
 *   <!-- hand-worked: begin/end -->   table rows | `name` | working | value |
 *       whose values, worked by hand, must be what `tg trace` computes.
 * Programs run from the repository's root; build/ means $BUILD. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>

#include "tg_cli.h"

static const char tutorial[] = "docs/TUTORIAL.md";

static const char *build_dir(void) { return getenv("BUILD") ? getenv("BUILD") : "build"; }

/* The line after the one that starts at p, or NULL at the end. */
static const char *next_line(const char *p)
{
    const char *nl = strchr(p, '\n');
    return nl ? nl + 1 : NULL;
}

/* The fenced block that follows the marker line at p, malloc'd (without
 * its fences). */
static char *block_after(const char *marker)
{
    const char *open = next_line(marker);
    ck_assert_msg(open && !strncmp(open, "```", 3), "%.60s: no ``` block follows", marker);
    const char *start = next_line(open), *end = strstr(start, "\n```\n");
    ck_assert_msg(end != NULL, "%.60s: the block is not closed", marker);
    return strndup(start, (size_t)(end - start) + 1);
}

/* The argument of a marker "<!-- kind: ARG -->" at p, into arg. */
static void marker_arg(const char *p, const char *kind, char *arg, size_t size)
{
    const char *a = p + strlen("<!-- ") + strlen(kind) + 2, *end = strstr(a, " -->");
    ck_assert_msg(end && (size_t)(end - a) < size, "%.60s: malformed marker", p);
    snprintf(arg, size, "%.*s", (int)(end - a), a);
}

static bool starts_number(const char *p)
{
    return isdigit((unsigned char)p[0]) ||
           ((p[0] == '-' || p[0] == '.') && (isdigit((unsigned char)p[1]) || p[1] == '.'));
}

/* Text equal character for character, numbers equal to rtol. Returns the
 * offset in want of the first difference, or -1. */
static long differs(const char *got, const char *want, double rtol)
{
    const char *g = got, *w = want;
    while (*g && *w) {
        if (starts_number(g) && starts_number(w)) {
            char *ge, *we;
            double a = strtod(g, &ge), b = strtod(w, &we);
            if (!tg_test_close(a, b, rtol, 1e-12)) return w - want;
            g = ge, w = we;
        } else if (*g++ != *w++) {
            return w - 1 - want;
        }
    }
    return *g || *w ? w - want : -1;
}

/* Runs "build/PROGRAM ARGS" with build/ replaced by $BUILD. */
static void run_quoted(const char *command)
{
    char cmd[512];
    ck_assert_msg(!strncmp(command, "build/", 6), "%s: quoted commands start with build/", command);
    snprintf(cmd, sizeof cmd, "%s/%s", build_dir(), command + 6);
    ck_assert_int_eq(run_program(cmd, ""), 0);
}

START_TEST(test_tutorial_quotes_what_the_programs_print)
{
    char *doc = read_file(tutorial, NULL);
    int quoted = 0;
    for (const char *p = strstr(doc, "<!-- output of: "); p; p = strstr(p + 1, "<!-- output of: ")) {
        char command[256];
        marker_arg(p, "output of", command, sizeof command);
        if (getenv("TG_SANITIZED") && strstr(command, "fashion_mnist")) {
            /* an epoch on 60,000 images is minutes under ASan; the plain
             * and clang runs of make check compare this block */
            printf("check_tutorial: '%s' not run under the sanitizers\n", command);
            continue;
        }
        char *want = block_after(p);
        run_quoted(command);
        long at = differs(tg_output, want, 5e-3);
        ck_assert_msg(at < 0, "%s: the output differs from %s at \"%.40s\"; it printed:\n%s", command, tutorial,
                      want + (at < 0 ? 0 : at), tg_output);
        free(want);
        quoted++;
    }
    ck_assert_int_ge(quoted, getenv("TG_SANITIZED") ? 2 : 3);
    free(doc);
}
END_TEST

START_TEST(test_tutorial_code_is_the_examples)
{
    char *doc = read_file(tutorial, NULL);
    int quoted = 0;
    for (const char *p = strstr(doc, "<!-- code excerpt: "); p; p = strstr(p + 1, "<!-- code excerpt: ")) {
        char path[256];
        marker_arg(p, "code excerpt", path, sizeof path);
        char *code = read_file(path, NULL), *block = block_after(p);
        int lines = 0;
        for (char *line = strtok(block, "\n"); line; line = strtok(NULL, "\n"), lines++) {
            if (!strcmp(line, "...")) continue;   /* lines left out */
            char whole[512];
            snprintf(whole, sizeof whole, "\n%s\n", line);
            ck_assert_msg(strstr(code, whole), "%s quotes a line that is not in %s:\n%s", tutorial, path, line);
        }
        ck_assert_int_ge(lines, 5);
        free(code), free(block);
        quoted++;
    }
    ck_assert_int_eq(quoted, 2);
    free(doc);
}
END_TEST

/* What tg trace prints for name: a forward value "  name = ... = V", a
 * variable's gradient "  dL/dname = V", or a node's "grad V  (dL/dname)". */
static double traced(const char *trace, const char *name)
{
    char key[64];
    const char *p;
    if (strncmp(name, "dL/d", 4)) {
        snprintf(key, sizeof key, "\n  %s = ", name);
        ck_assert_msg((p = strstr(trace, key)) != NULL, "tg trace computes no %s", name);
        const char *eol = strchr(p + 1, '\n'), *last = p;
        for (const char *q = p; (q = strstr(q + 1, " = ")) && q < eol;) last = q;
        return atof(last + 3);
    }
    snprintf(key, sizeof key, "\n  %s ", name);
    const char *list = strstr(trace, "\ngradients of L:");
    ck_assert_ptr_nonnull(list);
    if ((p = strstr(list, key))) return atof(strchr(p, '=') + 1);
    snprintf(key, sizeof key, "  (%s)\n", name);
    ck_assert_msg((p = strstr(trace, key)) != NULL, "tg trace shows no %s", name);
    while (p > trace && p[-1] != '\n') p--;
    ck_assert_msg(!strncmp(p, "    grad   ", 11), "%.40s", p);
    return atof(p + 11);
}

START_TEST(test_tutorial_hand_worked_numbers_are_tgs)
{
    char *doc = read_file(tutorial, NULL);
    const char *begin = strstr(doc, "<!-- hand-worked: begin -->"), *end = strstr(doc, "<!-- hand-worked: end -->");
    ck_assert(begin && end && begin < end);
    ck_assert_int_eq(run_tg("trace"), 0);
    char *trace = strdup(tg_output);
    int rows = 0, gradients = 0;
    for (const char *p = begin; p && p < end; p = next_line(p)) {
        if (strncmp(p, "| `", 3)) continue;
        char name[32];
        const char *tick = strchr(p + 3, '`'), *eol = strchr(p, '\n');
        snprintf(name, sizeof name, "%.*s", (int)(tick - p - 3), p + 3);
        const char *cell = eol - 1;   /* the last cell: "| value |" */
        while (*cell != '|') cell--;
        while (*--cell != '|') {}
        double by_hand = atof(cell + 1), by_tg = traced(trace, name);
        ck_assert_msg(tg_test_close(by_tg, by_hand, 1e-3, 1e-6), "%s: worked by hand %g, tg trace %g", name,
                      by_hand, by_tg);
        rows++;
        gradients += !strncmp(name, "dL/d", 4);
    }
    /* every value of the forward pass, and the gradient of every variable
     * (x1, x2, y, the six w and b, v1, v2, c) and hidden node (e, yhat, h, z) */
    ck_assert_int_eq(rows - gradients, 7);
    ck_assert_int_eq(gradients, 18);
    free(trace);
    free(doc);
}
END_TEST

START_TEST(test_tutorial_pictures_are_in_docs)
{
    char *doc = read_file(tutorial, NULL);
    int pictures = 0;
    for (const char *p = strstr(doc, "](img/"); p; p = strstr(p + 1, "](img/")) {
        char path[256];
        const char *close = strchr(p, ')');
        snprintf(path, sizeof path, "docs/%.*s", (int)(close - p - 2), p + 2);
        ck_assert_msg(exists(path), "%s shows %s, which is missing", tutorial, path);
        char *png = read_file(path, NULL);
        ck_assert_msg(!memcmp(png, "\x89PNG", 4), "%s is not a PNG", path);
        free(png);
        pictures++;
    }
    ck_assert_int_ge(pictures, 3);
    free(doc);
}
END_TEST

static Suite *tutorial_suite(void)
{
    Suite *s = suite_create("tutorial");
    TCase *tc = tcase_create("docs");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_tutorial_quotes_what_the_programs_print);
    tcase_add_test(tc, test_tutorial_code_is_the_examples);
    tcase_add_test(tc, test_tutorial_hand_worked_numbers_are_tgs);
    tcase_add_test(tc, test_tutorial_pictures_are_in_docs);
    suite_add_tcase(s, tc);
    return s;
}

TG_TEST_MAIN(tutorial_suite)
