/* profiler/tls.c - the per-thread state (initial-exec TLS: the library is preloaded, so its
 * TLS is static and reading it never calls malloc). */
#include "profiler/profiler.h"

MP_TLS mp_tls_t mp_tls;
