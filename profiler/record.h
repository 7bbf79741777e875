/* profiler/record.h - shared state of the recording path, for the rest of profiler/. */
#ifndef MAPPROF_PROFILER_RECORD_H
#define MAPPROF_PROFILER_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profiler/maps.h"

/* True once mp_init finished. */
bool mp_enabled(void);
/* Milliseconds since the profiler started (coarse clock; block timestamps). */
uint32_t mp_now_ms(void);
/* Nanoseconds since the profiler started. */
int64_t mp_uptime_ns(void);

/* Track block p (n bytes, already allocated) as memory of map in role, whether or not it was
 * sampled; its later free is noticed. */
void mp_attribute_block(const void *p, size_t n, uint32_t map, mp_map_role_t role);

/* The leak check at exit (leakexit.c). */
void mp_leak_at_exit(void);

#endif
