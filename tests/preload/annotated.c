/* Target program and worked example: a macro-based open-addressing map (the khash/uthash
 * style: the map's code is expanded into the program, so no library call can be interposed)
 * annotated with the mapprof.h API. Builds with or without mapprof; the annotations are
 * no-ops without it. Prints "map NAME entries buckets bucket_bytes" as the truth.
 *
 * The annotation points, each one line:
 *   creation            mapprof_map_create(m, key_size, value_size, max_load)
 *   bucket (re)alloc    mapprof_map_memory(m, slots, bytes, MAPPROF_BUCKETS)
 *   after each change   mapprof_map_entries(m, count, capacity)
 *   insert / remove     mapprof_map_insert(m, key, value) / mapprof_map_remove(m, key)
 *   destruction         mapprof_map_destroy(m)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profiler/mapprof.h"

#define DEFINE_MAP(name, K, V)                                                               \
    typedef struct { K key; V val; uint8_t used; } name##_slot_t;                              \
    typedef struct { name##_slot_t *slot; size_t cap, count; } name##_t;                       \
    static void name##_put(name##_t *m, K key, V val);                                         \
    static name##_t *name##_new(void)                                                          \
    {                                                                                          \
        name##_t *m = calloc(1, sizeof *m);                                                    \
        mapprof_map_create(m, sizeof(K), sizeof(V), 0.75);                                     \
        return m;                                                                              \
    }                                                                                          \
    static void name##_resize(name##_t *m, size_t cap)                                         \
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
    static void name##_put(name##_t *m, K key, V val)                                          \
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
    static void name##_del(name##_t *m, K key)                                                 \
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
    static void name##_free(name##_t *m)                                                       \
    {                                                                                          \
        mapprof_map_destroy(m);                                                                \
        free(m->slot);                                                                         \
        free(m);                                                                               \
    }

DEFINE_MAP(u64map, uint64_t, uint64_t)

int main(void)
{
    u64map_t *big = u64map_new(), *small = u64map_new(), *gone = u64map_new();
    for (uint64_t i = 1; i <= 200000; i++) u64map_put(big, i, i * 2);
    for (uint64_t i = 1; i <= 199000; i++) u64map_del(big, i);   /* buckets stay: retained */
    for (uint64_t i = 1; i <= 10; i++) u64map_put(small, i, i);
    for (uint64_t i = 1; i <= 10; i++) u64map_put(gone, i, i);
    u64map_free(gone);
    printf("map big %zu %zu %zu\n", big->count, big->cap, big->cap * sizeof(u64map_slot_t));
    printf("map small %zu %zu %zu\n", small->count, small->cap, small->cap * sizeof(u64map_slot_t));
    return 0;
}
