/* profiler/record.h - shared state of the recording path, for the rest of profiler/. */
#ifndef MAPPROF_PROFILER_RECORD_H
#define MAPPROF_PROFILER_RECORD_H

#include <stdbool.h>
#include <stdint.h>

/* True once mp_init finished. */
bool mp_enabled(void);
/* Milliseconds since the profiler started (coarse clock; block timestamps). */
uint32_t mp_now_ms(void);
/* Nanoseconds since the profiler started. */
int64_t mp_uptime_ns(void);

#endif
