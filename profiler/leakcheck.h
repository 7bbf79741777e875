/* profiler/leakcheck.h - the leak check of a live process (full tracking: rate=1).
 *
 * Collects every tracked block (sorted by address) and the roots: the readable, writable
 * mappings of the process (module data and bss, thread stacks and their TLS, memory the program
 * mapped itself, the gaps between chunks malloc mapped on their own) less the profiler's own
 * ranges; not the heap's own memory, whose blocks are reached from the roots. Every other
 * thread is parked by a signal while the check runs (its stack is scanned above its stack
 * pointer; one that does not answer, over its whole stack). The calling thread's stack is
 * scanned from its live part (inside exit(), from exit's caller, whose callee-saved registers
 * are a root of their own). The frames glibc leaves on the cached stack of a thread that ended
 * are not roots, when every thread is placed and none stands on that stack (leakcheck.c). */
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
/* Fork: the dead stacks' lock, held across it by the parent, reset in the child. */
void mp_leak_lock(void);
void mp_leak_unlock(void);
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
