/* profiler/snapshot_take.h - taking and freeing snapshots (the type is in snapshot.h).
 * The pcs of a taken snapshot point into the stack table, whose entries are never freed. */
#ifndef MAPPROF_PROFILER_SNAPSHOT_TAKE_H
#define MAPPROF_PROFILER_SNAPSHOT_TAKE_H

#include "profiler/snapshot.h"

/* A snapshot of the current counters, or NULL when out of memory. Call under the guard. */
mp_snapshot_t *mp_snapshot_take(const char *tag);
void mp_snapshot_free(mp_snapshot_t *s);

#endif
