/* export/atomicfile.h - write a file all at once or not at all.
 *
 * mp_afile_open creates a temporary file next to the target (same directory, so the final
 * rename(2) is atomic), with O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC and mode 0644 minus the umask.
 * Writes are buffered; short writes and EINTR are retried. mp_afile_commit flushes, fsyncs,
 * closes and renames over the target: a symlink at the target is replaced, never followed.
 * Any failure (in a write or in commit) removes the temporary file, so no partial file is ever
 * left; the first error is remembered and returned by commit. Every export writer uses this. */
#ifndef MAPPROF_EXPORT_ATOMICFILE_H
#define MAPPROF_EXPORT_ATOMICFILE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct mp_afile {
    int fd;                 /* temporary file, -1 when closed */
    int err;                /* first errno seen, 0 while all is well */
    char *path;             /* the target */
    char *tmp;              /* the temporary file's path */
    char *buf;              /* write buffer */
    size_t len, cap;        /* bytes in buf, its size */
} mp_afile_t;

/* Create the temporary file for path. Returns 0 or an errno value (nothing is left behind). */
int mp_afile_open(mp_afile_t *f, const char *path);
/* Append n bytes. Returns 0 or the file's (first) errno value. */
int mp_afile_write(mp_afile_t *f, const void *p, size_t n);
/* Append formatted text. Returns 0 or an errno value. */
int mp_afile_printf(mp_afile_t *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Flush, fsync, close and rename over the target. Returns 0 or an errno value; on failure the
 * temporary file is removed. f is released either way. */
int mp_afile_commit(mp_afile_t *f);
/* Give up: close and remove the temporary file, release f. Safe on an already released f. */
void mp_afile_abort(mp_afile_t *f);
/* The directory a file at path goes in ("." for a bare name); false when it does not fit. */
bool mp_afile_dir(const char *path, char *dir, size_t len);
/* Remove the temporary files that writers of files named prefix... left when they died
 * mid-write (killed by SIGKILL, say): in prefix's directory, the names mp_afile_open makes for
 * those targets, owned by this user, whose writer's pid names no process, unchanged for at
 * least min_age seconds (a writer in another pid namespace sharing the directory looks dead
 * from here: a live one keeps its file's time moving). Returns how many were removed. */
int mp_afile_sweep(const char *prefix, unsigned min_age);

#endif
