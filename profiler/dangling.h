/* profiler/dangling.h - map entries that point into freed (or freed and reused) memory.
 *
 * Sources tell which pointers each entry holds (mp_dangling_insert/remove). The entries
 * followed are those pointing to sampled blocks (dangling=1, the default: every block at rate=1,
 * and an unsampled target costs one bitmap load), or all of them (dangling=all: unsampled
 * targets get watch-only records). The blocks they point to are watched through the live
 * table, so their frees are noticed on the existing tracked-free path (no cost for other frees). Each watched free
 * goes into a bounded history (freed_history option) with the stack that freed the block. At a
 * snapshot, every entry whose key or value points to a block freed after the entry was inserted
 * is a finding; when the history overflowed before the entry was inserted, the finding is
 * marked uncertain instead of being silently missed. */
#ifndef MAPPROF_PROFILER_DANGLING_H
#define MAPPROF_PROFILER_DANGLING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profiler/livetab.h"
#include "profiler/profiler.h"

/* An entry (map id, key) now holds key and value pointers (either may be NULL). fresh: the
 * source knows the key was not in the map before, so no entry of it can be in the table (one
 * lookup fewer for each new key that follows nothing); false when it does not know. */
void mp_dangling_insert(uint32_t map, const void *key, const void *value, bool fresh);
/* Same, for maps whose keys are not always pointers: key identifies the entry (non-zero) and
 * is checked as a pointer only when key_is_ptr. */
void mp_dangling_insert_ex(uint32_t map, uintptr_t key, bool key_is_ptr, const void *value,
                           bool fresh);
/* The lock-free test of an insert at the sampled default (dangling=1): an entry can follow
 * its key (when a pointer) or its value only when it points to a tracked block (no block
 * starts below 4096, so small integers never pass). mp_dangling_insert_ex makes it; a map hook
 * may make it first, inline: when it is false for a new key, the insert would keep nothing. */
static inline bool mp_dangling_may_follow(uintptr_t key, bool key_is_ptr, uintptr_t value)
{
    return (key_is_ptr && mp_maybe_tracked((const void *)key)) ||
           (value && mp_maybe_tracked((const void *)value));
}
/* The lock-free test of a delete: may the table hold an entry for (map, key)? One bit per
 * hashed pair (set while the pair's count in the table is not 0): false for nearly every
 * delete at the sampled default. mp_dangling_remove makes it; a map hook may make it first. */
#define MP_DANGLING_PRESENT_BITS 16
extern uint64_t mp_dangling_present[(1u << MP_DANGLING_PRESENT_BITS) / 64]
    __attribute__((visibility("hidden")));
static inline uint32_t mp_dangling_present_bit(uint32_t map, uintptr_t key)
{
    uint64_t h = ((uint64_t)key + map) * 0xd6e8feb86659fd93ULL;
    return (uint32_t)(h >> (64 - MP_DANGLING_PRESENT_BITS));
}
static inline bool mp_dangling_maybe_present(uint32_t map, uintptr_t key)
{
    uint32_t i = mp_dangling_present_bit(map, key);
    return (__atomic_load_n(&mp_dangling_present[i / 64], __ATOMIC_RELAXED) >> (i % 64)) & 1;
}
/* The entry with this key left the map. */
void mp_dangling_remove(uint32_t map, const void *key);
/* Every entry of map left it (the map was cleared). */
void mp_dangling_clear(uint32_t map);
/* map was destroyed: its entries go (in O(1); the table sheds them later). */
void mp_dangling_forget_map(uint32_t map);
/* A watched block was freed (called from the free path, under the guard; left out when this
 * thread holds the table's lock already: a signal handler's free). */
void mp_dangling_freed(const mp_block_t *b);

typedef struct mp_dangling_finding {
    uint32_t map;               /* map id */
    uintptr_t key, pointer;     /* the entry's key, and the dangling pointer */
    bool is_value;              /* the pointer is the entry's value (else its key) */
    uint32_t inserted_ms, freed_ms;
    bool reused;                /* a newer tracked block starts at the address now */
    bool certain;               /* the history covered the entry's whole life */
    uint32_t free_stack;        /* stack id that freed the block (0 unknown) */
    uint32_t alloc_stack;       /* stack id that allocated it (0 when it was not sampled) */
} mp_dangling_finding_t;

/* Findings now (malloc'd array, caller frees; under the guard). Also the history's size. */
size_t mp_dangling_find(mp_dangling_finding_t **out, uint64_t *kept, uint64_t *dropped);
/* Set the history's capacity and the mode (from options, at init; the mode is
 * MP_DANGLING_ALL before). */
void mp_dangling_init(size_t history, int mode);
/* For fork. */
void mp_dangling_lock(void);
void mp_dangling_unlock(void);
void mp_dangling_reset_lock(void);

#endif
