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

#include "tests/preload/annomap.h"

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
