/* profiler/log.c - diagnostics into a stack buffer, written with one write(2). */
#include "profiler/log.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

static int log_quiet;

void mp_log_set_quiet(int quiet) { log_quiet = quiet; }

static void vwarn(const char *fmt, va_list ap)
{
    char buf[512];
    int saved = errno;  /* a warning inside a hook must not change the host's errno */
    int n = snprintf(buf, sizeof buf, "mapprof: ");
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    if (m < 0) m = 0;
    size_t len = (size_t)n + ((size_t)m < sizeof buf - (size_t)n - 1 ? (size_t)m : sizeof buf - (size_t)n - 2);
    buf[len++] = '\n';
    ssize_t w = write(2, buf, len);
    (void)w;
    errno = saved;
}

void mp_warn(const char *fmt, ...)
{
    if (log_quiet) return;
    va_list ap;
    va_start(ap, fmt);
    vwarn(fmt, ap);
    va_end(ap);
}

void mp_warn_once(int *once, const char *fmt, ...)
{
    if (log_quiet || __atomic_exchange_n(once, 1, __ATOMIC_RELAXED)) return;
    va_list ap;
    va_start(ap, fmt);
    vwarn(fmt, ap);
    va_end(ap);
}
