/* profiler/spin.h - a test-and-test-and-set spinlock for the profiler's short critical
 * sections (no allocation, no syscalls inside). Unlike a pthread mutex it can be reset in a
 * fork child, whose copy of another thread's hold would otherwise stay locked forever. */
#ifndef MAPPROF_PROFILER_SPIN_H
#define MAPPROF_PROFILER_SPIN_H

#include <sched.h>
#include <stdbool.h>

typedef struct { int v; } mp_spin_t;

static inline void mp_spin_init(mp_spin_t *l) { __atomic_store_n(&l->v, 0, __ATOMIC_RELEASE); }

/* Acquire and release: a store before the lock stays before it (the marks that tell a signal
 * handler on this thread which locks it holds, profiler.h); on x86-64 the same xchg. */
static inline void mp_spin_lock(mp_spin_t *l)
{
    unsigned spins = 0;
    while (__atomic_exchange_n(&l->v, 1, __ATOMIC_ACQ_REL)) {
        while (__atomic_load_n(&l->v, __ATOMIC_RELAXED)) {
            if (++spins > 64) { sched_yield(); spins = 0; }
            else __builtin_ia32_pause();
        }
    }
}

static inline void mp_spin_unlock(mp_spin_t *l) { __atomic_store_n(&l->v, 0, __ATOMIC_RELEASE); }

#endif
