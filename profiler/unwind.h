/* profiler/unwind.h - capture the calling thread's stack as return addresses, leaf first,
 * with the profiler's own frames (libmapprof.so) stripped. Called only on the sampled path,
 * under the reentrancy guard, into a caller-provided buffer: nothing is allocated here. */
#ifndef MAPPROF_PROFILER_UNWIND_H
#define MAPPROF_PROFILER_UNWIND_H

#include <stdint.h>

/* Learn the address range of libmapprof.so's code (call once at init). */
void mp_unwind_init(void);
/* Fill pcs with at most max return addresses; returns how many. method: MP_UNWIND_*. from:
 * a frame of the caller's own chain (the hook's slow path), where the frame-pointer walk
 * starts, skipping the profiler's frames below it unread; 0 to start here. */
int mp_unwind_capture(uintptr_t *pcs, int max, int method, uintptr_t from);
/* Forget every rule learned for a code address (an object was unloaded: its addresses may
 * come to hold other code): cfi.c's table and libunwind's caches. */
void mp_unwind_forget(void);
/* unwind=verify: one line on stderr with how many walks there were, how many the CFI rules
 * could not do, and how many came out unlike libunwind's. Nothing for other methods. */
void mp_unwind_report(void);
/* In a fork child: the rule table's lock reset, the verify counts zeroed. */
void mp_unwind_fork_child(void);
/* Stack bytes a libunwind walk, or a thread's first frame-pointer walk, may dirty below the
 * caller (measured 3.5 KiB at most): captures set mp_tls.scrub to it for the leak check. */
#define MP_UNWIND_SCRUB_DEEP 4096

#endif
