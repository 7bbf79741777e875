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

/* The value for key, or 0 when absent. */
uint32_t mp_idtab_get(const mp_idtab_t *t, uint64_t key);
/* Set key -> val; false when out of memory. */
bool mp_idtab_put(mp_idtab_t *t, uint64_t key, uint32_t val);
/* Remove key; returns its value or 0. */
uint32_t mp_idtab_del(mp_idtab_t *t, uint64_t key);
/* Release the table's memory (it is empty and usable again afterwards). */
void mp_idtab_free(mp_idtab_t *t);

#endif
