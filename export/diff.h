/* export/diff.h - differences between snapshots: the delta profile (NEW minus BASE, as
 * `go tool pprof -base BASE NEW` computes it) and the map findings between .maps files. */
#ifndef MAPPROF_EXPORT_DIFF_H
#define MAPPROF_EXPORT_DIFF_H

#include <stddef.h>
#include <stdio.h>

#include "export/export.h"
#include "export/mapsfile.h"

/* Write NEW minus BASE as a gzip pprof profile: NEW's samples, then BASE's with every value
 * negated, over both profiles' mappings, locations and functions. Both must be heap profiles
 * of the same kind (same sample types and period). 0, or an errno value with a reason. */
int mp_profile_delta(const mp_profile_t *base, const mp_profile_t *newp, const char *path,
                     char *err, size_t errlen);
/* Why base and newp cannot be compared (a one-line reason in err), or 0. */
int mp_profile_comparable(const mp_profile_t *base, const mp_profile_t *newp, char *err, size_t errlen);

/* Findings across a series of map inventories (oldest first, n >= 2): retained buckets
 * between the last two, growth over the whole series when n >= 3, and the dangling references
 * of the newest file (of every file when all_dangling). JSON ({"findings":[...]}) or text to
 * out. Returns the number of findings. */
size_t mp_diff_findings(const mp_mapsfile_t *series, size_t n, int all_dangling, FILE *out, int json);

#endif
