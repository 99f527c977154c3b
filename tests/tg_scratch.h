/* tg_scratch.h — files for tests that write them: one root directory per
 * test case, made and removed by the runner (so also after a test that
 * failed in its child process), and in it a fresh directory per test:
 *
 *   tcase_add_unchecked_fixture(tc, make_root, remove_root);
 *   tcase_add_checked_fixture(tc, make_dir, remove_dir);
 *
 * in_dir(name) is a path in the test's directory. Needs _POSIX_C_SOURCE
 * 200809L (mkdtemp) before the first include. */
#ifndef TG_SCRATCH_H
#define TG_SCRATCH_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tg_test.h"

static char root[64], dir[96];

static inline void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char sub[512];
            int n = snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            if (n > 0 && (size_t)n < sizeof sub) remove_tree(sub); /* the tests' names are short */
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static inline void make_root(void)
{
    snprintf(root, sizeof root, "/tmp/tg_check_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
}

static inline void remove_root(void) { remove_tree(root); }

static inline void make_dir(void)
{
    snprintf(dir, sizeof dir, "%s/test_XXXXXX", root);
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static inline void remove_dir(void) { remove_tree(dir); }

/* dir/name, in one of a few rotating buffers (so several can be used at once). */
static inline const char *in_dir(const char *name)
{
    static char paths[4][512];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, sizeof paths[0], "%s/%s", dir, name);
    return p;
}

static inline bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The whole file, malloc'd and NUL-terminated; its length in *n when n is
 * not NULL. */
static inline void *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long len = ftell(f);
    ck_assert_int_ge(len, 0);
    rewind(f);
    char *p = malloc((size_t)len + 1);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(fread(p, 1, (size_t)len, f), (size_t)len);
    p[len] = '\0';
    fclose(f);
    if (n) *n = (size_t)len;
    return p;
}

/* The two files hold the same bytes (both must exist). */
static inline bool same_file(const char *a, const char *b)
{
    size_t na, nb;
    char *x = read_file(a, &na), *y = read_file(b, &nb);
    bool same = na == nb && !memcmp(x, y, na);
    free(x), free(y);
    return same;
}

#endif /* TG_SCRATCH_H */
