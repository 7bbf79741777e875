/* interpose/threads.c - pthread_getattr_np, marked while it runs.
 *
 * The unwinders learn a thread's stack bounds with pthread_getattr_np on its first sample.
 * glibc's pthread_getattr_np allocates while it holds the lock of the thread it describes, so a
 * sample taken inside the program's own call would wait forever on that lock (the JVM asks at
 * every thread's start). While the mark is set, the unwinders do without the bounds. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>

#include "interpose/real.h"
#include "profiler/profiler.h"

__attribute__((visibility("default"))) int pthread_getattr_np(pthread_t th, pthread_attr_t *attr)
{
    int (*fn)(pthread_t, pthread_attr_t *) = MP_REAL(int (*)(pthread_t, pthread_attr_t *),
                                                     pthread_getattr_np);
    if (!fn) return ENOSYS;
    mp_tls.in_getattr++;
    int r = fn(th, attr);
    mp_tls.in_getattr--;
    return r;
}
