/* export/export.h - writers and readers of mapprof's profile files.
 *
 * The writers take an mp_snapshot_t (profiler/snapshot.h) and write one file atomically
 * (temporary file in the target directory, fsync, rename; never through a symlink). They run
 * inside the profiled process, under the profiler's reentrancy guard, so they may allocate.
 * Building blocks other writers share: export/symbolize.h (libdw symbolizer: inline chains,
 * mappings, build IDs) and export/atomicfile.h (temporary file, fsync, rename). */
#ifndef MAPPROF_EXPORT_H
#define MAPPROF_EXPORT_H

#include <stddef.h>
#include <stdio.h>

#include "profiler/snapshot.h"

/* Write s as a gzip-compressed pprof protobuf to path, symbolized with libdw (functions,
 * files, lines, inline frames) and with self-contained Mappings. Returns 0 or an errno value. */
int mp_export_pprof(const mp_snapshot_t *s, const char *path);
/* The same with a symbolizer the caller keeps open (shared by a dump's writers); NULL opens one. */
struct mp_sym;
int mp_export_pprof_sym(const mp_snapshot_t *s, const char *path, struct mp_sym *sym);

/* Write s as gperftools' legacy heap text (heap_v2/<rate>, MAPPED_LIBRARIES) to path.
 * Returns 0 or an errno value. */
int mp_export_legacy(const mp_snapshot_t *s, const char *path);

/* Pack a message and write it gzip-compressed to path, atomically. 0 or an errno value. */
struct Perftools__Profiles__Profile;
int mp_pprof_write_message(const struct Perftools__Profiles__Profile *p, const char *path);

/* ---- reading pprof files (mapprof report, diff) ---- */

/* A validated pprof profile in memory. */
typedef struct mp_profile mp_profile_t;
struct Perftools__Profiles__Profile;      /* export/profile.pb-c.h, generated */

/* Read a pprof file, gzip-compressed or not, and validate it (string table, ids, value
 * counts). Returns 0 and *out, or an errno value with a one-line reason in err (which names
 * the file): not a profile, truncated, corrupt. */
int mp_profile_read(const char *path, mp_profile_t **out, char *err, size_t errlen);
/* The same from memory (len bytes at data). The reason in err does not name a file. */
int mp_profile_parse(const void *data, size_t len, mp_profile_t **out, char *err, size_t errlen);
void mp_profile_free(mp_profile_t *p);
/* The unpacked message, for code that includes export/profile.pb-c.h (ids resolve, indices are
 * in range). */
const struct Perftools__Profiles__Profile *mp_profile_pb(const mp_profile_t *p);
/* Index of the sample type called name; name NULL = the default (default_sample_type, else
 * the last type). -1 when there is no such type. */
int mp_profile_sample_index(const mp_profile_t *p, const char *name);

/* Print a pprof-like top table of one sample type (NULL = the default) by function: flat,
 * flat%, sum%, cum, cum%, name, values in the type's unit (bytes or counts), after header
 * lines naming the type and the total. top <= 0 prints every function. Returns 0, EINVAL
 * for an unknown sample type, or an errno value from writing. */
int mp_report_top(const mp_profile_t *p, FILE *out, const char *sample_type, int top);

#endif
