/* profiler/arena.h - the profiler's own memory, straight from mmap.
 *
 * Nothing the profiler keeps on the allocation path comes from malloc: the hooks must not
 * recurse and must not take malloc's locks. mp_arena_alloc is a lock-free bump allocator over
 * 1 MiB mmap'd chunks (memory is never returned; it holds interned stacks, which live as long
 * as the process). mp_pages_alloc/mp_pages_free map and unmap whole regions (table arrays). */
#ifndef MAPPROF_PROFILER_ARENA_H
#define MAPPROF_PROFILER_ARENA_H

#include <stddef.h>
#include <stdint.h>

/* size bytes aligned to 16, zeroed; NULL when the system refuses memory. */
void *mp_arena_alloc(size_t size);
/* Zeroed anonymous pages (size rounded up to a page); NULL on failure. */
void *mp_pages_alloc(size_t size);
void mp_pages_free(void *p, size_t size);
/* Like mp_pages_alloc, but only touched pages cost memory (MAP_NORESERVE). */
void *mp_pages_reserve(size_t size);
/* The address ranges of every mapping the profiler holds (for the leak check). */
typedef struct mp_range_own { uintptr_t lo, hi; } mp_range_own_t;
size_t mp_own_ranges(mp_range_own_t *out, size_t max);
/* Count [p, p + size) among them (memory the profiler reserved by other means). */
void mp_own_add(void *p, size_t size);
/* Bytes the arena has mapped (for the profiler's own overhead figures). */
size_t mp_arena_mapped(void);
/* For fork: the mapping list's lock, the innermost of the profiler's (taken under the stack
 * table's and the live table's, when they map pages). */
void mp_own_lock(void);
void mp_own_unlock(void);
void mp_own_reset_lock(void);

#endif
