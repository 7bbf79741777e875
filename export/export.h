/* export/export.h - writers and readers of mapprof's profile files.
 *
 * The writers take an mp_snapshot_t (profiler/snapshot.h) and write one file atomically
 * (temporary file in the target directory, fsync, rename; never through a symlink). They run
 * inside the profiled process, under the profiler's reentrancy guard, so they may allocate. */
#ifndef MAPPROF_EXPORT_H
#define MAPPROF_EXPORT_H

#include "profiler/snapshot.h"

/* Write s as a gzip-compressed pprof protobuf to path, symbolized with libdw (functions,
 * files, lines, inline frames) and with self-contained Mappings. Returns 0 or an errno value. */
int mp_export_pprof(const mp_snapshot_t *s, const char *path);

/* Write s as gperftools' legacy heap text (heap_v2/<rate>, MAPPED_LIBRARIES) to path.
 * Returns 0 or an errno value. */
int mp_export_legacy(const mp_snapshot_t *s, const char *path);

#endif
