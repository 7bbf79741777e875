/* profiler/tcount.h - per-thread caches of per-stack counter deltas.
 *
 * Every sampled event changes two to eight counters of its stack; with one shared copy,
 * threads allocating from the same sites fight over those cache lines (20% of rate=1 time on
 * two threads, measured). Each thread instead adds into a small cache of its own (64 stacks,
 * two-way sets by stack id), flushing an entry to the shared counters only when another stack
 * takes its slot, or when the thread exits. Caches live in the profiler's memory, registered
 * for good, so a snapshot adds every thread's pending deltas to the shared counters without
 * ever reading a dead thread's storage. A snapshot taken while other threads allocate may be
 * off by the few events in flight, which it is anyway. */
#ifndef MAPPROF_PROFILER_TCOUNT_H
#define MAPPROF_PROFILER_TCOUNT_H

#include <stdbool.h>
#include <stdint.h>

#include "profiler/stacktab.h"

/* One block's event on its stack: it came (sign 1, alloc when it was allocated now) or went
 * (sign -1). w and wb are its estimated objects and bytes (fixed point, sample.h), 0 at rate 1
 * where the estimates are the raw counts. */
typedef struct mp_tc_event {
    int64_t sign;
    bool alloc;
    int64_t bytes;
    int64_t w, wb;
} mp_tc_event_t;

/* Add the event to the counters of stack (calling thread's cache; under the guard). */
void mp_tcount_add(uint32_t stack, const mp_tc_event_t *ev);
/* The same for an event without estimates (w and wb 0: rate 1), its fields as arguments. */
void mp_tcount_add_exact(uint32_t stack, int64_t sign, bool alloc, int64_t bytes);
/* Add every thread's pending deltas for stacks 1..n into sum[id][c]. */
void mp_tcount_collect(int64_t (*sum)[MP_C_COUNT], uint32_t n);
/* Create the thread-exit hook (once, at init). */
void mp_tcount_init(void);
/* For fork: the lock of the list of caches that exited threads left. */
void mp_tcount_lock(void);
void mp_tcount_unlock(void);
void mp_tcount_reset_lock(void);

#endif
