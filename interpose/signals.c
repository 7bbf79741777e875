/* interpose/signals.c - sigaction and signal, for the signals whose handler is ours.
 *
 * The profiler answers them for a signal it holds in place of the default (profiler/sigown.h:
 * the program is shown SIG_DFL there); every other call goes to the C library as it was. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "interpose/real.h"
#include "profiler/profiler.h"
#include "profiler/sigown.h"

#define HOOK __attribute__((visibility("default")))

typedef sighandler_t (*signal_fn)(int, sighandler_t);
static void *real_sigaction_slot, *real_signal_slot;

/* Looked up at load, not first in a hook: sigaction is async-signal-safe, and a program's
 * handler may be the first to call it (a lookup there could wait on the loader's lock). A
 * call before our constructor ran (another library's) looks it up then. */
__attribute__((constructor)) static void find_real(void)
{
    mp_real_cached(&real_sigaction_slot, "sigaction");
    mp_real_cached(&real_signal_slot, "signal");
}

static mp_sigaction_fn real_sigaction(void)
{
    return (mp_sigaction_fn)mp_real_cached(&real_sigaction_slot, "sigaction");
}

HOOK int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    mp_sigaction_fn real = real_sigaction();
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    return mp_sigown_sigaction(sig, act, old, real);
}

/* glibc's signal calls its sigaction inside the library, past the one above: for a signal of
 * ours it is done here the way glibc does it (BSD semantics: SA_RESTART, the signal blocked in
 * its handler), through the one above. */
HOOK sighandler_t signal(int sig, sighandler_t handler)
{
    if (!mp_sigown_mine(sig) || mp_tls.busy) {
        signal_fn fn = (signal_fn)mp_real_cached(&real_signal_slot, "signal");
        return fn ? fn(sig, handler) : SIG_ERR;
    }
    if (handler == SIG_ERR) {     /* as glibc's */
        errno = EINVAL;
        return SIG_ERR;
    }
    struct sigaction act, old;
    memset(&act, 0, sizeof act);
    act.sa_handler = handler;
    act.sa_flags = SA_RESTART;
    sigemptyset(&act.sa_mask);
    sigaddset(&act.sa_mask, sig);
    return sigaction(sig, &act, &old) == 0 ? old.sa_handler : SIG_ERR;
}
