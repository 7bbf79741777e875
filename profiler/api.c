/* profiler/api.c - definitions of the public API in mapprof.h (exported by libmapprof.so).
 * Each entry point holds the reentrancy guard while it works. */
#include "profiler/mapprof.h"

#include <errno.h>

#include "profiler/dangling.h"
#include "profiler/maps.h"
#include "profiler/profiler.h"
#include "profiler/record.h"

#undef mapprof_dump
#undef mapprof_map_create
#undef mapprof_map_destroy
#undef mapprof_map_memory
#undef mapprof_map_memory_free
#undef mapprof_map_entries
#undef mapprof_map_insert
#undef mapprof_map_remove

#define API __attribute__((visibility("default")))

API int mapprof_dump(const char *tag)
{
    /* From a signal handler that interrupted our own work: its locks are held (a dump would
     * wait on them for good) and its tables half way. */
    int e = mp_tls.busy ? EBUSY : mp_dump(tag ? tag : "api");
    if (e) { errno = e; return -1; }
    return 0;
}

API void mapprof_map_create(const void *map, unsigned long key_size, unsigned long value_size,
                            double max_load)
{
    if (!map || !mp_enabled() || !mp_maps_on()) return;
    mp_map_desc_t d = { MP_KIND_ANNOTATED, (uint32_t)key_size, (uint32_t)value_size, 1,
                        max_load > 0 ? max_load : 1.0, 0 };
    mp_busy_enter();
    uint32_t stack = mp_capture_stack_id(0);
    mp_map_create(map, &d, stack);
    mp_busy_leave();
}

API void mapprof_map_destroy(const void *map)
{
    uint32_t id = map ? mp_map_find(map) : 0;
    if (!id) return;
    mp_dangling_forget_map(id);
    mp_map_destroy_id(id);
}

API void mapprof_map_memory(const void *map, const void *block, unsigned long bytes,
                            enum mapprof_role role)
{
    if (!map || !block || role < MAPPROF_BUCKETS || role > MAPPROF_VALUE) return;
    uint32_t id = mp_map_find(map);
    if (id) mp_attribute_block(block, bytes, id, (mp_map_role_t)role);
}

API void mapprof_map_memory_free(const void *map, const void *block)
{
    (void)map;
    if (block) mp_note_free((void *)block);
}

API void mapprof_map_entries(const void *map, unsigned long entries, unsigned long buckets)
{
    uint32_t id = map ? mp_map_find(map) : 0;
    if (id) mp_map_set(id, (int64_t)entries, (int64_t)buckets, -1, -1);
}

API void mapprof_map_insert(const void *map, const void *key, const void *value)
{
    uint32_t id = map ? mp_map_find(map) : 0;
    if (!id) return;
    mp_map_count_ops(id, 1, 0);
    mp_dangling_insert(id, key, value, false);
}

API void mapprof_map_remove(const void *map, const void *key)
{
    uint32_t id = map ? mp_map_find(map) : 0;
    if (!id) return;
    mp_map_count_ops(id, 0, 1);
    mp_dangling_remove(id, key);
}
