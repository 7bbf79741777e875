/* profiler/iheap.h - the heap the profiler's own work allocates from.
 *
 * A dump, a leak check or the helper thread calls into libraries that use malloc (libdw and
 * libelf, stdio, zlib). Served from the program's heap, those allocations change it: at exit,
 * the first large request of a dump makes glibc consolidate every free chunk the program left
 * (measured: 5% of the samples of a C++ churn). So while a thread does the profiler's work
 * (mp_tls.internal > 0), the hooks serve its malloc, calloc and realloc(NULL) from this heap,
 * a reserved address range of its own; free, realloc and malloc_usable_size recognize its
 * blocks by address from any thread, at any time. Its pages are claimed in the live-block
 * filter as they are committed (mp_live_claim), so the free hook's one filter test sends its
 * blocks to the slow path, which tells them apart.
 *
 * Size classes (four per power of two, 16-byte header), LIFO free lists under one spinlock;
 * freed blocks of 256 KiB and more give their pages back to the kernel. Never returns
 * memory to the range's end. When the range is full, or could not be reserved, or the lock is
 * already held by this thread (a signal handler that allocates, say), the caller falls back
 * to the real allocator: correct, merely not private. */
#ifndef MAPPROF_PROFILER_IHEAP_H
#define MAPPROF_PROFILER_IHEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The reserved range [mp_iheap_lo, mp_iheap_lo + mp_iheap_len); both 0 until reserved. */
extern uintptr_t mp_iheap_lo __attribute__((visibility("hidden")));
extern size_t mp_iheap_len __attribute__((visibility("hidden")));

static inline bool mp_iheap_owns(const void *p)
{
    return (uintptr_t)p - mp_iheap_lo < mp_iheap_len;
}

/* Reserve the range (once, at the profiler's initialization; again is a no-op). False when
 * the system refuses. */
bool mp_iheap_init(void);
/* n bytes aligned to 16, or NULL (the caller uses the real allocator). */
void *mp_iheap_alloc(size_t n);
/* The same, zeroed. */
void *mp_iheap_calloc(size_t n, size_t m);
/* p must satisfy mp_iheap_owns. */
void mp_iheap_free(void *p);
/* The bytes a block of this heap holds (its class): a realloc within it stays in place. */
size_t mp_iheap_usable(const void *p);

/* Bytes of the range handed out so far (blocks and free lists), for tests and overhead. */
size_t mp_iheap_used(void);

/* fork: hold the lock across it; reset in the child. */
void mp_iheap_lock(void);
void mp_iheap_unlock(void);
void mp_iheap_reset_lock(void);

#endif
