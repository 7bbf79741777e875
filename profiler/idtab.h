/* profiler/idtab.h - a small open-addressing map from nonzero 64-bit keys to 32-bit values,
 * in mmap'd memory (never malloc), for the registries that sit beside the allocation path.
 * Linear probing with backward-shift deletion; not thread-safe: callers hold their lock. */
#ifndef MAPPROF_PROFILER_IDTAB_H
#define MAPPROF_PROFILER_IDTAB_H

#include <stdbool.h>
#include <stdint.h>

typedef struct mp_idtab {
    uint64_t *key;      /* 0 = empty */
    uint32_t *val;
    uint32_t mask;      /* capacity - 1 (0 before the first put) */
    uint32_t count;
} mp_idtab_t;

/* Backward-shift deletion in any linear-probing table (this one, the live table, the dangling
 * entries): with a hole at slot i, the entry at slot j, whose home slot is h, stays where it is
 * when h lies cyclically in (i, j]; otherwise it moves into the hole. */
static inline bool mp_probe_stays(uint32_t i, uint32_t j, uint32_t h)
{
    return (i <= j) ? (h > i && h <= j) : (h > i || h <= j);
}

/* Placement by locality, for tables keyed by addresses or integers that come in runs (the
 * live table, the dangling entries): a window of consecutive keys (its number, which may mix
 * in a table id) is hashed (Fibonacci) onto a run of 16 slots, and the key's offset in its
 * window (0..15) is its slot in the run. cap is a multiple of 16 (the runs are the hash scaled
 * to cap / 16, so a table may grow by half as well as double). */
#define MP_RUN_BITS 4
static inline uint32_t mp_run_slot(uint64_t window, uint32_t offset, uint32_t cap)
{
    uint32_t h = (uint32_t)((window * 0x9e3779b97f4a7c15ULL) >> 32);
    uint32_t run = (uint32_t)(((uint64_t)h * (cap >> MP_RUN_BITS)) >> 32);
    return run << MP_RUN_BITS | offset;
}

/* The value for key, or 0 when absent. */
uint32_t mp_idtab_get(const mp_idtab_t *t, uint64_t key);
/* Set key -> val; false when out of memory. */
bool mp_idtab_put(mp_idtab_t *t, uint64_t key, uint32_t val);
/* Remove key; returns its value or 0. */
uint32_t mp_idtab_del(mp_idtab_t *t, uint64_t key);
/* Release the table's memory (it is empty and usable again afterwards). */
void mp_idtab_free(mp_idtab_t *t);

#endif
