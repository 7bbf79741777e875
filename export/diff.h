/* export/diff.h - differences between snapshots: the delta profile (NEW minus BASE, as
 * `go tool pprof -base BASE NEW` computes it) and the map findings between .maps files. */
#ifndef MAPPROF_EXPORT_DIFF_H
#define MAPPROF_EXPORT_DIFF_H

#include <stdbool.h>
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

/* A map finding across a series of map inventories. */
typedef enum { MP_MF_RETAINED_BUCKETS, MP_MF_GROWTH, MP_MF_DANGLING } mp_mfinding_kind_t;

typedef struct mp_mfinding {
    mp_mfinding_kind_t kind;
    const mp_mapsfile_t *file;  /* the snapshot it is seen in (the newest, or the dangling
                                 * reference's) */
    const mp_mapinfo_t *map;    /* the map there; NULL for a dangling reference of a map the
                                 * file does not list */
    const mp_mapinfo_t *from;   /* retained buckets: the map one snapshot before; growth: where
                                 * its growth starts */
    size_t from_file, to_file;  /* growth: the indexes of the snapshots where the growth starts
                                 * and ends (the last one the map is in) */
    const mp_dangling_t *d;     /* dangling: the reference */
} mp_mfinding_t;

/* The findings of a series of map inventories (oldest first, n >= 1):
 * - retained buckets: between the last two, entries fell by at least half and bucket bytes
 *   did not fall;
 * - growth: a map of the newest file (of any file, up to the last one it is in, with
 *   MP_MF_GONE_MAPS) that, over the snapshots it is in, never lost an entry (no removal,
 *   entries never down) and gained entries at two steps or more; steps where it did not change
 *   are passed over (an idle map says nothing about growth), and a map created after a
 *   snapshot gained its first entries from none;
 * - dangling references of the newest file (of every file with MP_MF_ALL_DANGLING).
 * *out is malloc'd (NULL when none). 0, or ENOMEM. */
#define MP_MF_ALL_DANGLING 1u
#define MP_MF_GONE_MAPS 2u
int mp_map_findings(const mp_mapsfile_t *s, size_t n, unsigned flags, mp_mfinding_t **out,
                    size_t *count);

/* The findings as `mapprof diff` reports them: JSON ({"findings":[...],"history":{...}}) or
 * text to out. Returns the number of findings. */
size_t mp_diff_findings(const mp_mapsfile_t *series, size_t n, int all_dangling, FILE *out, int json);

/* The growth and dangling findings of one process's snapshots (oldest first, the exit
 * snapshot last), added to lf as `mapprof check` reports them. 0, or ENOMEM. */
int mp_leakfile_add_map_findings(mp_leakfile_t *lf, const mp_mapsfile_t *series, size_t n);

#endif
