/* interpose/signals.c - sigaction and signal, for the signals whose handler is ours.
 *
 * The profiler answers them for a signal it holds in place of the default (profiler/sigown.h:
 * the program is shown SIG_DFL there); every other call goes to the C library as it was. */
#define _GNU_SOURCE
#include <signal.h>
#include <string.h>

#include "interpose/real.h"
#include "profiler/profiler.h"
#include "profiler/sigown.h"

#define HOOK __attribute__((visibility("default")))

static mp_sigaction_fn real_sigaction(void)
{
    return MP_REAL(mp_sigaction_fn, sigaction);
}

HOOK int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    return mp_sigown_sigaction(sig, act, old, real_sigaction());
}

/* glibc's signal calls its sigaction inside the library, past the one above: for a signal of
 * ours it is done here the way glibc does it (BSD semantics: SA_RESTART, the signal blocked in
 * its handler), through the one above. */
HOOK sighandler_t signal(int sig, sighandler_t handler)
{
    if (!mp_sigown_mine(sig) || mp_tls.busy) {
        sighandler_t (*fn)(int, sighandler_t) = MP_REAL(sighandler_t (*)(int, sighandler_t), signal);
        return fn ? fn(sig, handler) : SIG_ERR;
    }
    struct sigaction act, old;
    memset(&act, 0, sizeof act);
    act.sa_handler = handler;
    act.sa_flags = SA_RESTART;
    sigemptyset(&act.sa_mask);
    sigaddset(&act.sa_mask, sig);
    return sigaction(sig, &act, &old) == 0 ? old.sa_handler : SIG_ERR;
}
