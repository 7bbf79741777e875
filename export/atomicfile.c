/* export/atomicfile.c - temporary file, fsync, rename (see atomicfile.h). */
#include "export/atomicfile.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define AFILE_BUF (256 * 1024)
/* A temporary file's name: "." target's name, then TMP_MARK, the writer's pid, "." and 8 hex
 * digits (mp_afile_sweep reads it back). */
#define TMP_MARK ".tmp."

static void afile_release(mp_afile_t *f)
{
    free(f->path);
    free(f->tmp);
    free(f->buf);
    f->path = f->tmp = f->buf = NULL;
    f->len = f->cap = 0;
}

int mp_afile_open(mp_afile_t *f, const char *path)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    if (!path || !*path) return EINVAL;
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = slash ? slash + 1 : path;
    if (!*base) return EISDIR;
    f->path = strdup(path);
    f->buf = malloc(AFILE_BUF);
    size_t tlen = dirlen + strlen(base) + 64;
    f->tmp = malloc(tlen);
    if (!f->path || !f->buf || !f->tmp) { afile_release(f); return ENOMEM; }
    f->cap = AFILE_BUF;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    unsigned salt = (unsigned)ts.tv_nsec ^ (unsigned)getpid() * 2654435761u;
    for (int tries = 0; tries < 100; tries++) {
        snprintf(f->tmp, tlen, "%.*s.%s" TMP_MARK "%d.%08x", (int)dirlen, path, base, (int)getpid(),
                 salt + (unsigned)tries * 0x9e3779b9u);
        f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (f->fd >= 0) return 0;
        if (errno != EEXIST && errno != EINTR) break;
    }
    int e = errno ? errno : EEXIST;
    afile_release(f);
    return e;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (w == 0) return EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int afile_flush(mp_afile_t *f)
{
    if (f->err) return f->err;
    if (f->fd < 0) return f->err = EBADF;
    if (f->len) {
        f->err = write_all(f->fd, f->buf, f->len);
        f->len = 0;
    }
    return f->err;
}

int mp_afile_write(mp_afile_t *f, const void *p, size_t n)
{
    if (f->err) return f->err;
    if (f->fd < 0) return f->err = EBADF;
    if (n >= f->cap) {
        if (afile_flush(f)) return f->err;
        return f->err = write_all(f->fd, p, n);
    }
    if (f->len + n > f->cap && afile_flush(f)) return f->err;
    memcpy(f->buf + f->len, p, n);
    f->len += n;
    return 0;
}

int mp_afile_printf(mp_afile_t *f, const char *fmt, ...)
{
    if (f->err) return f->err;
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return f->err = EINVAL;
    if ((size_t)n < sizeof small) return mp_afile_write(f, small, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (!big) return f->err = ENOMEM;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int e = mp_afile_write(f, big, (size_t)n);
    free(big);
    return e;
}

void mp_afile_abort(mp_afile_t *f)
{
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
    if (f->tmp) unlink(f->tmp);
    afile_release(f);
}

bool mp_afile_dir(const char *path, char *dir, size_t len)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return snprintf(dir, len, ".") < (int)len;
    if (slash == path) return snprintf(dir, len, "/") < (int)len;
    return snprintf(dir, len, "%.*s", (int)(slash - path), path) < (int)len;
}

/* Make the rename durable; failures here are not the file's (the data is already synced). */
static void sync_dir(const char *path)
{
    char dir[4096];
    if (!mp_afile_dir(path, dir, sizeof dir)) return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int mp_afile_commit(mp_afile_t *f)
{
    if (!f->tmp) return f->err ? f->err : EBADF;
    int e = afile_flush(f);
    if (!e) {
        while (fsync(f->fd) != 0) {
            if (errno != EINTR) { e = errno; break; }
        }
    }
    if (!e) {
        int fd = f->fd;
        f->fd = -1;
        if (close(fd) != 0 && errno != EINTR) e = errno;
    }
    if (!e && rename(f->tmp, f->path) != 0) e = errno;
    if (e) {
        mp_afile_abort(f);
        return e;
    }
    sync_dir(f->path);
    afile_release(f);
    return 0;
}

/* The writer's pid in a temporary file's name for a target starting with base, or 0: "."
 * base "." ..., then the last TMP_MARK, the pid, "." and exactly 8 hex digits (as
 * mp_afile_open names it). */
static pid_t tmp_writer(const char *name, const char *base)
{
    size_t bl = strlen(base);
    if (name[0] != '.' || strncmp(name + 1, base, bl) || name[1 + bl] != '.') return 0;
    const char *mark = NULL;
    for (const char *s = name + 1 + bl; (s = strstr(s, TMP_MARK)) != NULL; s++) mark = s;
    if (!mark) return 0;
    const char *tail = mark + strlen(TMP_MARK), *dot = strchr(tail, '.');
    if (!dot || dot == tail || strlen(dot + 1) != 8 || strspn(dot + 1, "0123456789abcdef") != 8 ||
        strspn(tail, "0123456789") != (size_t)(dot - tail))
        return 0;
    long pid = strtol(tail, NULL, 10);
    return pid > 0 && pid <= INT_MAX ? (pid_t)pid : 0;
}

int mp_afile_sweep(const char *prefix, unsigned min_age)
{
    const char *slash = strrchr(prefix, '/');
    const char *base = slash ? slash + 1 : prefix;
    char dir[4096];
    if (!mp_afile_dir(prefix, dir, sizeof dir)) return 0;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return 0;
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return 0;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        pid_t pid = tmp_writer(e->d_name, base);
        struct stat st;
        if (!pid || pid == getpid() || kill(pid, 0) == 0 || errno != ESRCH) continue;
        if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode) ||
            st.st_uid != geteuid() || now.tv_sec - st.st_mtim.tv_sec < (time_t)min_age)
            continue;
        if (unlinkat(dfd, e->d_name, 0) == 0) removed++;
    }
    closedir(d);
    return removed;
}
