/* profiler/stacktab.h - interned stacks and their counters.
 *
 * Each distinct (stack, map label) is stored once, with a small dense id (1..N), for the life
 * of the process. Lookups are lock-free; inserts take one spinlock. Counters are updated with
 * relaxed atomics and read at snapshot time. */
#ifndef MAPPROF_PROFILER_STACKTAB_H
#define MAPPROF_PROFILER_STACKTAB_H

#include <stdint.h>

enum {
    MP_C_ALLOC_OBJ, MP_C_ALLOC_BYTES, MP_C_INUSE_OBJ, MP_C_INUSE_BYTES,     /* raw sampled */
    MP_C_EST_ALLOC_OBJ, MP_C_EST_ALLOC_BYTES, MP_C_EST_INUSE_OBJ, MP_C_EST_INUSE_BYTES,
    MP_C_COUNT                                       /* est_*: fixed point, see sample.h */
};

typedef struct mp_stack {
    uint64_t hash;              /* of pcs and label */
    uint32_t id;                /* dense id, 1..N */
    uint16_t depth;             /* number of pcs */
    uint32_t label;             /* map label (0: none), owned by the maps module */
    int64_t c[MP_C_COUNT];      /* counters, updated atomically */
    uintptr_t pcs[];            /* return addresses, leaf first */
} mp_stack_t;

/* The id of (pcs, label), interning it on first sight; 0 when out of memory. */
uint32_t mp_stack_intern(const uintptr_t *pcs, int depth, uint32_t label);
/* The stack with this id (1..mp_stack_count()), or NULL. */
mp_stack_t *mp_stack_get(uint32_t id);
uint32_t mp_stack_count(void);
/* Add to counter c of stack id (relaxed atomic). */
static inline void mp_stack_add(mp_stack_t *s, int c, int64_t v)
{
    __atomic_fetch_add(&s->c[c], v, __ATOMIC_RELAXED);
}
/* For fork: hold and release the insert lock. */
void mp_stack_lock(void);
void mp_stack_unlock(void);
void mp_stack_reset_lock(void);

#endif
