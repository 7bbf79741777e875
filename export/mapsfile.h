/* export/mapsfile.h - the map inventory written beside each profile (PREFIX.PID.SEQ.maps),
 * so reports and diffs work offline from the files alone, and its JSON and table renderings.
 *
 *   mapprof-maps 1
 *   snapshot <pid> <time_nanos> <tag>
 *   map <id> <kind> <entries> <peak_entries> <buckets> <slots> <bucket_bytes> <node_bytes>
 *       <overflow_buckets> <padding_bytes> <retained_bytes> <inserts> <removes> <key_size>
 *       <value_size> <object address (hex)>
 *   frame <function> <file> <line> <module>          (creation stack, leaf first)
 *   end
 */
#ifndef MAPPROF_EXPORT_MAPSFILE_H
#define MAPPROF_EXPORT_MAPSFILE_H

#include <stdint.h>
#include <stdio.h>

#include "export/leakfile.h"
#include "export/symbolize.h"
#include "profiler/snapshot.h"

typedef struct mp_mapinfo {
    uint32_t id;
    char kind[24];
    int64_t entries, peak_entries, buckets, slots, bucket_bytes, node_bytes, overflow_buckets;
    int64_t padding_bytes, retained_bytes, inserts, removes, key_size, value_size;
    uint64_t obj;
    mp_lframe_t *frames;        /* creation stack, leaf first */
    size_t nframes;
} mp_mapinfo_t;

typedef struct mp_mapsfile {
    int pid;
    int64_t time_nanos;
    char tag[64];
    mp_mapinfo_t *m;
    size_t n, cap;
} mp_mapsfile_t;

/* Write the maps of s to path (atomically); sym may be NULL (addresses only). 0 or errno. */
int mp_mapsfile_write(const char *path, const mp_snapshot_t *s, mp_sym_t *sym);
/* Read path into mf. 0, or an errno value with a one-line reason in err. */
int mp_mapsfile_read(const char *path, mp_mapsfile_t *mf, char *err, size_t errlen);
void mp_mapsfile_free(mp_mapsfile_t *mf);
/* The sidecar path of a profile path ("x.pb.gz" -> "x.maps"); out must hold len bytes. */
int mp_mapsfile_path(const char *profile, char *out, size_t len);

/* {"maps":[...]} sorted by retained bytes (largest first). */
void mp_mapsfile_json(const mp_mapsfile_t *mf, FILE *out);
/* A table, largest retained first, at most top rows (0 = all). */
void mp_mapsfile_table(const mp_mapsfile_t *mf, FILE *out, size_t top);

#endif
