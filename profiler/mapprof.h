/* mapprof.h - the API a program may call when it runs under mapprof (LD_PRELOAD).
 *
 * Every function is declared weak: a program that includes this header links and runs
 * without mapprof, and each call is then a no-op returning -1. Under mapprof the preloaded
 * library supplies the definitions.
 *
 *   #include "mapprof.h"
 *   mapprof_dump("after-load");   // writes <output>.<pid>.<seq>.pb.gz now
 */
#ifndef MAPPROF_H
#define MAPPROF_H

#ifdef __cplusplus
extern "C" {
#endif

/* Write a profile now, tagged (shown in the profile's comments). 0 on success, -1 when
 * mapprof is not loaded or the profile could not be written (errno says why: EBUSY when
 * called from a signal handler that interrupted mapprof's own work on this thread). */
int mapprof_dump(const char *tag) __attribute__((weak));
#define mapprof_dump(tag) (mapprof_dump ? (mapprof_dump)(tag) : -1)

/* ---- Annotating a map of your own (a macro-based map such as khash or uthash) ----
 * Tell mapprof when the map is created and destroyed, which heap blocks are its buckets or
 * nodes, and how many entries it holds; mapprof then reports it like the maps it knows:
 * entries, bucket bytes, bytes retained beyond what the entries need, labels on its samples.
 * Frees of annotated blocks are noticed by themselves; call mapprof_map_memory_free only for
 * memory that does not go back through free(). See tests/preload/annotated.c. */

enum mapprof_role {
    MAPPROF_BUCKETS = 1,    /* the bucket (slot) array */
    MAPPROF_OVERFLOW = 2,   /* an overflow bucket */
    MAPPROF_NODE = 3,       /* an entry node */
    MAPPROF_KEY = 4,        /* a key the map owns */
    MAPPROF_VALUE = 5       /* a value the map owns */
};

/* map: the map object's address (its identity). max_load: entries per bucket at which the
 * map grows (0.75 for a typical open-addressing table). */
void mapprof_map_create(const void *map, unsigned long key_size, unsigned long value_size,
                        double max_load) __attribute__((weak));
void mapprof_map_destroy(const void *map) __attribute__((weak));
/* block (from malloc & co.) of bytes now belongs to map in the given role. */
void mapprof_map_memory(const void *map, const void *block, unsigned long bytes,
                        enum mapprof_role role) __attribute__((weak));
void mapprof_map_memory_free(const void *map, const void *block) __attribute__((weak));
/* The map now holds entries in buckets buckets. */
void mapprof_map_entries(const void *map, unsigned long entries, unsigned long buckets)
    __attribute__((weak));
/* An entry was inserted or removed (key and value pointers as the map stores them). */
void mapprof_map_insert(const void *map, const void *key, const void *value) __attribute__((weak));
void mapprof_map_remove(const void *map, const void *key) __attribute__((weak));

#define mapprof_map_create(m, ks, vs, lf) (mapprof_map_create ? (mapprof_map_create)(m, ks, vs, lf) : (void)0)
#define mapprof_map_destroy(m) (mapprof_map_destroy ? (mapprof_map_destroy)(m) : (void)0)
#define mapprof_map_memory(m, b, n, r) (mapprof_map_memory ? (mapprof_map_memory)(m, b, n, r) : (void)0)
#define mapprof_map_memory_free(m, b) (mapprof_map_memory_free ? (mapprof_map_memory_free)(m, b) : (void)0)
#define mapprof_map_entries(m, e, b) (mapprof_map_entries ? (mapprof_map_entries)(m, e, b) : (void)0)
#define mapprof_map_insert(m, k, v) (mapprof_map_insert ? (mapprof_map_insert)(m, k, v) : (void)0)
#define mapprof_map_remove(m, k) (mapprof_map_remove ? (mapprof_map_remove)(m, k) : (void)0)

#ifdef __cplusplus
}
#endif

#endif
