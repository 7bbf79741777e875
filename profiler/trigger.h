/* profiler/trigger.h - when profiles are written: at exit (exit, _exit, quick_exit, and a
 * termination signal left at its default), on a signal, every `interval` seconds, each time
 * in-use bytes grow by `inuse_step`, and on mapprof_dump().
 *
 * The dump signal's handler may not symbolize or allocate, so it only writes one byte to a
 * pipe; a helper thread (all signals blocked) reads it, and also wakes for the interval, and
 * writes the profile. A termination signal's handler is the process's last act: it writes the
 * exit profile itself, or, when it interrupted our own work, leaves that to the thread's way
 * out of it. Dumps are serialized by one mutex, which fork also takes. */
#ifndef MAPPROF_PROFILER_TRIGGER_H
#define MAPPROF_PROFILER_TRIGGER_H

#include <stdint.h>

void mp_trigger_init(void);
/* On the sampled path: start the helper thread when it is wanted and not running (a dump
 * signal came, the program has a second thread, a fork child). */
void mp_trigger_poll(void);
/* The program has a second thread: with a dump signal configured, the helper thread may start
 * now (it no longer costs the program glibc's single-threaded malloc). */
void mp_trigger_threads(void);
/* Estimated in-use bytes after a sampled allocation (only when inuse_step is set). */
void mp_trigger_inuse(int64_t inuse_bytes);
/* The program calls _exit or _Exit, or quick_exit, which run no destructor: the exit path
 * (leak check, last profile) runs here first, once, in the process the state is of and
 * outside our own work. A thread that comes while another runs it waits for its end (up to
 * term_timeout seconds), so the process does not end half way through the profile. */
void mp_trigger_exit_now(void);
/* Fork support: hold/release the dump lock; reset state in the child. */
void mp_trigger_lock(void);
void mp_trigger_unlock(void);
void mp_trigger_after_fork_child(void);

#endif
