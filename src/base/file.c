/* file.c — writing a whole file so that a crash, a full disk or a failed
 * write leaves the old file or the new one, never half of one: the bytes go
 * to PATH.tmp, reach the disk (fsync), and a rename puts them at PATH,
 * which POSIX makes atomic; the directory is synced so the rename lasts. */
#define _POSIX_C_SOURCE 200809L /* fileno, fsync */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base.h"

/* The directory's entry for the rename reaches the disk too (best effort). */
static void sync_dir(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Runs write on a new file at target, then flushes it (to the disk too when
 * sync). The first errno of what failed is left in *err (0 if none). */
static tg_status write_to(const char *target, bool sync, tg_write_fn write, void *ctx, int *err)
{
    errno = 0;
    FILE *f = fopen(target, "wb");
    if (!f) {
        *err = errno;
        return TG_ERR_IO;
    }
    tg_status s = write(f, ctx);
    bool ok = s == TG_OK && !ferror(f) && fflush(f) == 0 && (!sync || fsync(fileno(f)) == 0);
    *err = ok ? 0 : errno;
    if (fclose(f) != 0 && ok) {
        ok = false;
        *err = errno;
    }
    return s != TG_OK ? s : ok ? TG_OK : TG_ERR_IO;
}

tg_status tg_file_write_atomic(const char *path, const char *what, tg_write_fn write, void *ctx)
{
    if (!path || !write) {
        tg__error("tg_file_write_atomic: %s is NULL", path ? "write" : "path");
        return TG_ERR_ARG;
    }
    what = what ? what : "the file";
    /* A device or a pipe (/dev/full, /dev/stdout) is written as it is: it
     * cannot be replaced, and a temporary file beside it would be a file in
     * /dev. A directory is refused before anything is written. */
    struct stat st;
    bool exists = stat(path, &st) == 0, in_place = exists && !S_ISREG(st.st_mode);
    char tmp[4096];
    int err = 0;
    tg_status s;
    if (exists && S_ISDIR(st.st_mode)) {
        err = EISDIR, s = TG_ERR_IO;
    } else if (!in_place && snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        err = ENAMETOOLONG, s = TG_ERR_IO;
    } else {
        s = write_to(in_place ? path : tmp, !in_place, write, ctx, &err);
        if (s == TG_OK && !in_place && rename(tmp, path) != 0) err = errno, s = TG_ERR_IO;
        if (s != TG_OK && !in_place) unlink(tmp); /* a file only: a directory of that name is not ours */
    }
    if (s == TG_OK) {
        if (!in_place) sync_dir(path);
        return TG_OK;
    }
    /* write's own failure (out of memory, say) keeps its message */
    if (s != TG_ERR_IO) return s;
    tg__error("%s: cannot write %s: %s%s", path, what, err ? strerror(err) : "write failed",
              in_place ? "" : " (any earlier file there is untouched)");
    return TG_ERR_IO;
}
