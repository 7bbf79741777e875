/* profiler/leakcheck.h - the leak check of a live process (full tracking: rate=1).
 *
 * Collects every tracked block (sorted by address) and the roots: every readable, writable
 * mapping of the process that holds no tracked block (module data and bss, thread stacks and
 * their TLS, memory the program mapped itself), minus the profiler's own tables; for the
 * calling thread, only its stack above the current stack pointer (with its registers spilled
 * there). Threads still running are scanned over their whole stack mapping, which may keep a
 * leak reachable but never reports a live block as leaked; the stacks of threads that ended,
 * which glibc keeps mapped for the next thread, are not scanned. */
#ifndef MAPPROF_PROFILER_LEAKCHECK_H
#define MAPPROF_PROFILER_LEAKCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "profiler/leaks.h"

typedef struct mp_leak_result {
    mp_leak_block_t *blocks;    /* every tracked block, classified, sorted by address */
    size_t n;
    size_t cap;                 /* allocated entries (the array is profiler-mapped memory) */
    size_t nroots;              /* root ranges scanned */
    size_t root_bytes;          /* bytes of roots scanned */
} mp_leak_result_t;

/* A thread's first slow path, under the leak check: its stack will be noted as dead when it
 * ends, and it is no longer a dead one's (glibc reuses stacks). */
void mp_leak_thread_start(void);
/* The same, from the profiler's helper thread, which never answers the leak check's park. */
void mp_leak_helper_start(void);
/* In a fork child: the dead stacks' lock, which a thread that is gone may have held. */
void mp_leak_reset_lock(void);
/* Run the check now (under the reentrancy guard). Returns 0 or an errno value. */
int mp_leak_check(mp_leak_result_t *out);
void mp_leak_result_free(mp_leak_result_t *r);

/* Bytes and blocks per class (indexed by mp_leak_class_t). */
typedef struct mp_leak_totals {
    uint64_t bytes[MP_LEAK_DEFINITE + 1];
    uint64_t blocks[MP_LEAK_DEFINITE + 1];
} mp_leak_totals_t;
void mp_leak_totals(const mp_leak_result_t *r, mp_leak_totals_t *t);

#endif
