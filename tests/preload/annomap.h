/* tests/preload/annomap.h - the worked example's macro-based map (khash/uthash style), annotated
 * for mapprof: see tests/preload/annotated.c for the annotation points. Adds a shrink. */
#ifndef MAPPROF_TESTS_ANNOMAP_H
#define MAPPROF_TESTS_ANNOMAP_H

#include <stdint.h>
#include <stdlib.h>

#include "profiler/mapprof.h"

#define DEFINE_MAP(name, K, V)                                                               \
    typedef struct { K key; V val; uint8_t used; } name##_slot_t;                              \
    typedef struct { name##_slot_t *slot; size_t cap, count; } name##_t;                       \
    static inline void name##_put(name##_t *m, K key, V val);                                       \
    static inline name##_t *name##_new(void)                                                          \
    {                                                                                          \
        name##_t *m = calloc(1, sizeof *m);                                                    \
        mapprof_map_create(m, sizeof(K), sizeof(V), 0.75);                                     \
        return m;                                                                              \
    }                                                                                          \
    static inline void name##_resize(name##_t *m, size_t cap)                                         \
    {                                                                                          \
        name##_slot_t *old = m->slot;                                                          \
        size_t oldcap = m->cap;                                                                \
        m->slot = calloc(cap, sizeof *m->slot);                                                \
        mapprof_map_memory(m, m->slot, cap * sizeof *m->slot, MAPPROF_BUCKETS);               \
        m->cap = cap;                                                                          \
        m->count = 0;                                                                          \
        for (size_t i = 0; i < oldcap; i++)                                                    \
            if (old[i].used == 1) name##_put(m, old[i].key, old[i].val);                       \
        free(old);                                                                             \
        mapprof_map_entries(m, m->count, m->cap);                                              \
    }                                                                                          \
    static inline void name##_put(name##_t *m, K key, V val)                                          \
    {                                                                                          \
        if ((m->count + 1) * 4 > m->cap * 3) name##_resize(m, m->cap ? m->cap * 2 : 16);       \
        size_t i = (size_t)(key * 0x9e3779b97f4a7c15ULL) & (m->cap - 1);                      \
        while (m->slot[i].used == 1 && m->slot[i].key != key) i = (i + 1) & (m->cap - 1);      \
        if (m->slot[i].used != 1) { m->count++; mapprof_map_insert(m, NULL, NULL); } \
        m->slot[i].key = key;                                                                  \
        m->slot[i].val = val;                                                                  \
        m->slot[i].used = 1;                                                                   \
        mapprof_map_entries(m, m->count, m->cap);                                              \
    }                                                                                          \
    static inline void name##_del(name##_t *m, K key)                                                 \
    {                                                                                          \
        if (!m->cap) return;                                                                   \
        size_t i = (size_t)(key * 0x9e3779b97f4a7c15ULL) & (m->cap - 1);                      \
        while (m->slot[i].used) {                                                              \
            if (m->slot[i].used == 1 && m->slot[i].key == key) {                               \
                m->slot[i].used = 2; /* tombstone */                                           \
                m->count--;                                                                    \
                mapprof_map_remove(m, NULL);                                                    \
                mapprof_map_entries(m, m->count, m->cap);                                      \
                return;                                                                        \
            }                                                                                  \
            i = (i + 1) & (m->cap - 1);                                                        \
        }                                                                                      \
    }                                                                                          \
    static inline void name##_shrink(name##_t *m)                                              \
    {                                                                                          \
        size_t cap = 16;                                                                       \
        while (cap * 3 < (m->count + 1) * 4) cap *= 2;                                         \
        name##_resize(m, cap);                                                                 \
    }                                                                                          \
    static inline void name##_free(name##_t *m)                                                     \
    {                                                                                          \
        mapprof_map_destroy(m);                                                                \
        free(m->slot);                                                                         \
        free(m);                                                                               \
    }

#endif
