/* profiler/tls.c - the per-thread state (initial-exec TLS: the library is preloaded, so its
 * TLS is static and reading it never calls malloc). */
#include "profiler/profiler.h"

MP_TLS mp_tls_t mp_tls;

/* What a termination signal left for the end of our own work does then (trigger.c): set before
 * its handler, the only one to set term_pending, is installed (so the tables' unit tests need
 * no trigger.c). */
void (*mp_term_pending_act)(void);
