/* profiler/maps.h - the registry of live maps, fed by map events from every source (hashmap/
 * hooks, GHashTable wrappers, annotations, C++ classification).
 *
 * A map is known by its object address while it lives and by a 32-bit id that is never reused.
 * Memory a map owns (bucket arrays, overflow buckets, nodes, keys, values) is counted by the
 * source itself (hashmap/'s pull), by explicit events (annotations), or by the per-thread map
 * context: while a hooked map operation runs, every allocation it makes belongs to that map
 * (mp_map_ctx_enter/leave). Such blocks are tracked whether or not they were sampled, so the
 * map's figures are exact at any sampling rate; hashmap/'s blocks are, only under the leak
 * check. Events take one spinlock; none allocates through malloc. */
#ifndef MAPPROF_PROFILER_MAPS_H
#define MAPPROF_PROFILER_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    MP_KIND_NONE, MP_KIND_MPHASH, MP_KIND_GHASH, MP_KIND_STD_UNORDERED, MP_KIND_ANNOTATED,
    MP_KIND_COUNT
} mp_map_kind_t;

typedef enum {
    MP_ROLE_NONE, MP_ROLE_BUCKET_ARRAY, MP_ROLE_OVERFLOW, MP_ROLE_NODE, MP_ROLE_KEY,
    MP_ROLE_VALUE, MP_ROLE_COUNT
} mp_map_role_t;

/* What a source tells about a map when it is created. */
typedef struct mp_map_desc {
    mp_map_kind_t kind;
    uint32_t key_size;          /* bytes per key as stored (0 unknown) */
    uint32_t value_size;        /* bytes per value as stored (0 unknown) */
    uint32_t slots_per_bucket;  /* entries a bucket holds (8 for hashmap/, 1 for chains) */
    double max_load;            /* entries per bucket at which the map grows */
    uint32_t bucket_bytes;      /* bytes of one bucket (for retained bytes); 0 unknown */
} mp_map_desc_t;

/* Per-map figures, as a snapshot copies them. */
typedef struct mp_map_stats {
    uint32_t id;                /* unique for the process's life */
    mp_map_kind_t kind;
    uintptr_t obj;              /* the map object's address */
    uint32_t created_stack;     /* stack id where it was created (0 unknown) */
    uint32_t key_size, value_size, slots_per_bucket, bucket_size;
    double max_load;
    int64_t entries, peak_entries;
    int64_t buckets;            /* bucket count (capacity in buckets) */
    int64_t bucket_bytes;       /* bucket arrays + overflow buckets */
    int64_t overflow_buckets;
    int64_t node_bytes;         /* nodes, keys and values the map allocated */
    int64_t padding_bytes;      /* as the source reports it (hashmap/ stats) */
    int64_t inserts, removes;
    int64_t retained_bytes;     /* bucket bytes beyond what the entries need */
    bool retained_exact;        /* retained_bytes from the source itself */
} mp_map_stats_t;

/* Register obj as a map; returns its id (0 when the registry is out of memory). A second create
 * of a live obj first destroys the old map (its destroy was not seen). */
uint32_t mp_map_create(const void *obj, const mp_map_desc_t *d, uint32_t created_stack);
/* The id of the live map at obj, or 0. */
uint32_t mp_map_find(const void *obj);

/* A source that keeps exact figures itself (hashmap/) is asked for them at each snapshot
 * instead of being told of every change: pull(obj, arg, s) overwrites entries, buckets,
 * overflow_buckets, padding_bytes, inserts, removes (and peak_entries when it keeps one),
 * and may set retained_bytes with retained_exact. It runs under the registry's lock (the map
 * cannot be destroyed meanwhile), must not allocate, and may race the map's writer. */
typedef void (*mp_map_pull_fn)(uintptr_t obj, void *arg, mp_map_stats_t *s);
void mp_map_set_pull(uint32_t id, mp_map_pull_fn pull, void *arg);
void mp_map_destroy(const void *obj);
/* Memory owned by map id changed: bytes and blocks of a role (negative when freed). Returns
 * the map's bucket bytes after the change (-1 when the map is gone, or when this thread holds
 * the maps' lock already: a signal handler's free, left out). */
int64_t mp_map_mem(uint32_t id, mp_map_role_t role, int64_t bytes, int64_t blocks);
/* The map registered at obj is now known at new_obj (created under a placeholder). */
void mp_map_rekey(const void *obj, const void *new_obj);
/* Destroy map id if it still exists. */
void mp_map_destroy_id(uint32_t id);
/* Kind of live map id (MP_KIND_NONE when gone). */
mp_map_kind_t mp_map_kind(uint32_t id);
/* Entry count, bucket count, overflow buckets, padding as the source knows them (-1: unchanged). */
void mp_map_set(uint32_t id, int64_t entries, int64_t buckets, int64_t overflow, int64_t padding);
/* Set the bucket bytes outright (sources that read them from the map itself). */
void mp_map_set_bytes(uint32_t id, int64_t bucket_bytes);
/* Source-computed retained bytes (replaces the registry's own estimate). */
void mp_map_set_retained(uint32_t id, int64_t retained);
void mp_map_count_ops(uint32_t id, int64_t inserts, int64_t removes);

/* The label id of (map id, role), for the stack table: 0 for no map. */
uint32_t mp_map_label(uint32_t id, mp_map_role_t role);
/* What a label stands for; false for 0 or unknown. */
bool mp_map_label_get(uint32_t label, uint32_t *id, mp_map_kind_t *kind, mp_map_role_t *role);

/* Copy every live map's figures into a malloc'd array (caller frees); returns the count. */
size_t mp_map_snapshot(mp_map_stats_t **out);
/* How many maps were ever created (0: the process has known no map). */
uint32_t mp_maps_created(void);

/* Names as labels and reports spell them (inline: export/ uses them without linking us). */
static inline const char *mp_map_kind_name(mp_map_kind_t k)
{
    static const char *const names[MP_KIND_COUNT] = { "none", "mphash", "ghash", "std_unordered", "annotated" };
    return (unsigned)k < MP_KIND_COUNT ? names[k] : "unknown";
}

static inline const char *mp_map_role_name(mp_map_role_t r)
{
    static const char *const names[MP_ROLE_COUNT] = { "none", "bucket_array", "overflow", "node", "key", "value" };
    return (unsigned)r < MP_ROLE_COUNT ? names[r] : "unknown";
}

/* For fork. */
void mp_map_lock(void);
void mp_map_unlock(void);
void mp_map_reset_lock(void);

#endif
