/* profiler/leaks.h - reachability classification of tracked blocks (the leak check).
 *
 * Given every live block (full tracking) and the root ranges (module data, stacks, TLS, other
 * non-heap memory), classify each block as Valgrind memcheck does:
 *   reachable     a pointer to it (start or interior) is found from the roots (but for the
 *                 word where glibc's malloc keeps the next chunk's header: malloc's state in
 *                 the C library's data points there, see next_chunk in leaks.c);
 *   map_retained  reachable only through memory a known map owns (bucket arrays, nodes);
 *   indirect      not reachable, but pointed to by another unreachable block;
 *   definite      not reachable and no other unreachable block points to it (in a cycle of
 *                 unreachable blocks, one leader of the cycle is definite, the rest indirect).
 * Marking uses an explicit work stack (no recursion). Reading memory never faults: only
 * ranges the caller vouches for (mapped and readable) are read. */
#ifndef MAPPROF_PROFILER_LEAKS_H
#define MAPPROF_PROFILER_LEAKS_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    MP_LEAK_UNKNOWN, MP_LEAK_REACHABLE, MP_LEAK_MAP_RETAINED, MP_LEAK_INDIRECT, MP_LEAK_DEFINITE
} mp_leak_class_t;

typedef struct mp_leak_block {
    uintptr_t addr;     /* block start */
    uint64_t size;      /* bytes */
    uint32_t stack;     /* allocation stack id */
    uint32_t map;       /* owning map id, or 0 */
    uint32_t role;      /* its role in that map */
    uint8_t cls;        /* mp_leak_class_t, filled in */
    uint32_t via_map;   /* for map_retained: the map whose memory reaches it */
    uint32_t leader;    /* for indirect: index + 1 of the definite block that reaches it */
} mp_leak_block_t;

typedef struct mp_range {
    uintptr_t lo, hi;   /* [lo, hi) */
} mp_range_t;

/* Sort blocks by address (radix sort through mmap'd scratch; no malloc: other threads may be
 * parked inside it). */
void mp_leak_sort(mp_leak_block_t *b, size_t n);
/* Classify blocks (sorted by addr, non-overlapping) from roots. Returns 0 or ENOMEM. */
int mp_leak_classify(mp_leak_block_t *blocks, size_t n, const mp_range_t *roots, size_t nroots);
/* Tag (tag[i] = value) every block reachable from blocks[start] through blocks whose class is
 * in class_mask (bit 1 << cls) and whose tag is still 0. Returns 0 or ENOMEM. */
int mp_leak_flood(const mp_leak_block_t *blocks, size_t n, size_t start, unsigned class_mask,
                  uint32_t *tag, uint32_t value);
/* Index of the block containing p (interior pointers count), or -1. */
long mp_leak_find(const mp_leak_block_t *blocks, size_t n, uintptr_t p);

#endif
