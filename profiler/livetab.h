/* profiler/livetab.h - the live table: tracked blocks by address.
 *
 * 256 shards by 1 MiB region, each an open-addressing table (linear probing, tombstones)
 * behind its own spinlock, in mmap'd memory. mp_maybe_tracked (profiler.h) answers "could
 * this be a tracked block?" from a lock-free bitmap before any shard is touched, so the free
 * path costs two loads for the untracked majority. */
#ifndef MAPPROF_PROFILER_LIVETAB_H
#define MAPPROF_PROFILER_LIVETAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A tracked block as the table hands it out (stored packed in 16 bytes: livetab.c). */
typedef struct mp_block {
    uintptr_t addr;     /* start of the block as the program sees it; 0 = empty slot */
    uint64_t size : 48; /* requested bytes (MP_BLOCK_SIZE_MAX for larger: never seen in practice) */
    uint64_t role : 16; /* its role in its map (mp_map_role_t), watch count and flag (below) */
    uint32_t stack;     /* stack id (stacktab) when sampled; 0 when tracked only for a map */
    uint32_t map;       /* id of the map that owns it (maps.h), or 0 */
} mp_block_t;

#define MP_BLOCK_SIZE_MAX (((uint64_t)1 << 48) - 1)
static inline uint64_t mp_block_size(size_t n) { return n < MP_BLOCK_SIZE_MAX ? n : MP_BLOCK_SIZE_MAX; }

/* role bits above the map role: how many map entries point to this block (a count that
 * saturates at 255, and then stays). A watched block (count not zero) has its free recorded in
 * the freed history (dangling.c). A block tracked only for that has size 0, no stack and no
 * map, and leaves the table when the last entry pointing to it goes. */
#define MP_BLOCK_WATCH_SHIFT 8
#define MP_BLOCK_WATCHED 0xff00u        /* the count's bits: any set means watched */
#define MP_BLOCK_WATCH_MAX 0xffu
#define MP_BLOCK_ROLE(b) ((unsigned)(b)->role & 0xffu)
#define MP_BLOCK_WATCHES(b) (((unsigned)(b)->role & MP_BLOCK_WATCHED) >> MP_BLOCK_WATCH_SHIFT)

/* Track b. If b->addr was already tracked (a free we could not see), the stale record is
 * returned in *stale and true; else false. Returns via *ok whether b was stored. */
bool mp_live_insert(const mp_block_t *b, mp_block_t *stale, bool *ok);
/* One more (delta > 0) or one fewer (delta < 0) map entry points to the block at addr; an
 * untracked address gets a watch-only record. Returns false when the table is out of memory
 * (or this thread holds the shard: a signal handler inside the table). */
bool mp_live_watch(uintptr_t addr, int delta);
/* One more map entry points to the block at addr, if it is a sampled block (tracked with a
 * stack); true when it is and was counted. Costs a bitmap load for the unsampled majority. */
bool mp_live_watch_sampled(uintptr_t addr);
/* Start loading the slot where addr's record goes (before work that does not touch the table,
 * such as unwinding: the table is far larger than the caches at rate=1, and its probe was the
 * profiler's largest cost there). */
void mp_live_prefetch(uintptr_t addr);
/* Make the filter answer "maybe tracked" for every address in the whole pages covering
 * [lo, lo + len), for good: memory only this library hands out (its bootstrap arena, its
 * private heap), so that a free's one filter test sends its blocks to the slow path with the
 * tracked ones. No record is made. False when a leaf of the filter could not be mapped (the
 * pages before it stay claimed: the caller must not hand out memory from the range then). */
bool mp_live_claim(uintptr_t lo, size_t len);
/* Untrack addr; true and *out filled when it was tracked. */
bool mp_live_remove(uintptr_t addr, mp_block_t *out);
/* Number of tracked blocks. */
size_t mp_live_count(void);
/* Call fn on every tracked block, one shard locked at a time. */
void mp_live_foreach(void (*fn)(const mp_block_t *b, void *ctx), void *ctx);
/* For fork. */
void mp_live_lock_all(void);
void mp_live_unlock_all(void);
void mp_live_reset_locks(void);
/* Bytes of memory the table and filter hold. */
size_t mp_live_overhead(void);

#endif
