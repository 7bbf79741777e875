/* profiler/log.h - diagnostics that never allocate.
 *
 * Messages are formatted into a stack buffer and written with write(2) to stderr, prefixed
 * "mapprof: ". Safe inside allocation hooks and at dump time; not async-signal-safe only in
 * that vsnprintf may be (glibc's is, for the integer and string conversions we use). */
#ifndef MAPPROF_PROFILER_LOG_H
#define MAPPROF_PROFILER_LOG_H

#include <stdarg.h>

/* Print "mapprof: <message>\n" to stderr, unless the quiet option is set. */
void mp_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Like mp_warn, but printed at most once per call site (pass a static int). */
void mp_warn_once(int *once, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Silence warnings (quiet=1). */
void mp_log_set_quiet(int quiet);

#endif
