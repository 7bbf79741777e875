/* export/mapsfile.h - the map inventory written beside each profile (PREFIX.PID.SEQ.maps),
 * so reports and diffs work offline from the files alone, and its JSON and table renderings.
 *
 *   mapprof-maps 1
 *   snapshot <pid> <time_nanos> <tag>
 *   map <id> <kind> <entries> <peak_entries> <buckets> <slots> <bucket_bytes> <node_bytes>
 *       <overflow_buckets> <padding_bytes> <retained_bytes> <inserts> <removes> <key_size>
 *       <value_size> <object address (hex)>
 *   frame <function> <file> <line> <module>          (creation stack, leaf first)
 *   dangling <map_id> <entry key (hex)> <pointer (hex)> <field: key|value> <inserted_ms>
 *            <freed_ms> <reused 0|1> <certain 0|1>
 *   free <function> <file> <line> <module>           (stack that freed the block, leaf first)
 *   alloc <function> <file> <line> <module>          (stack that allocated it)
 *   history <freed blocks kept> <freed blocks dropped>
 *   end
 * A dangling record says: an entry of map_id points (by its key or value) into a block that
 * was freed after the entry was inserted (reused: the address now holds a newer block).
 * certain is 0 when the freed-block history had overflowed: the finding may be incomplete. */
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

typedef struct mp_dangling {
    uint32_t map_id;
    uint64_t key, pointer;          /* the entry's key, and the pointer found dangling */
    char field[8];                  /* "key" or "value" */
    int64_t inserted_ms, freed_ms;  /* since the profiler started */
    bool reused;                    /* a newer block occupies the address now */
    bool certain;                   /* the history was complete */
    mp_lframe_t *free_frames, *alloc_frames;
    size_t nfree, nalloc;
} mp_dangling_t;

typedef struct mp_mapsfile {
    int pid;
    int64_t time_nanos;
    char tag[64];
    mp_mapinfo_t *m;                /* by id, as read */
    size_t n, cap;
    mp_dangling_t *d;               /* dangling references found at this snapshot */
    size_t nd, dcap;
    int64_t history_kept, history_dropped;  /* freed-block history at this snapshot */
} mp_mapsfile_t;

/* Write the maps of s to path (atomically); sym may be NULL (addresses only). 0 or errno. */
int mp_mapsfile_write(const char *path, const mp_snapshot_t *s, mp_sym_t *sym);
/* Read path into mf (its maps sorted by id). 0, or an errno value with a one-line reason in
 * err. */
int mp_mapsfile_read(const char *path, mp_mapsfile_t *mf, char *err, size_t errlen);
/* The map with this id in mf (as read: sorted by id), or NULL. */
const mp_mapinfo_t *mp_mapsfile_map(const mp_mapsfile_t *mf, uint32_t id);
void mp_mapsfile_free(mp_mapsfile_t *mf);
/* The sidecar path of a profile path ("x.pb.gz" -> "x.maps"); out must hold len bytes. */
int mp_mapsfile_path(const char *profile, char *out, size_t len);

/* {"maps":[...]} sorted by retained bytes (largest first). */
void mp_mapsfile_json(const mp_mapsfile_t *mf, FILE *out);
/* Index of m's creation site: its first frame that is the program's own, not the map
 * library's (hashmap/, GLib, libstdc++ headers); 0 when none is. */
size_t mp_mapinfo_site(const mp_mapinfo_t *m);
/* The findings one snapshot shows by itself (findings=1, written live beside the profile):
 * maps holding bucket memory beyond their entries' need after losing at least half of their
 * peak entries (retained_buckets), and entries pointing into freed memory (dangling).
 * {"findings":[...],"history":{...}}. Returns 0 or an errno value. */
int mp_mapsfile_findings_json(const mp_mapsfile_t *mf, const char *path);
/* A table, largest retained first, at most top rows (0 = all). */
void mp_mapsfile_table(const mp_mapsfile_t *mf, FILE *out, size_t top);

#endif
