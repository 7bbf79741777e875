/* profiler/sigown.c - signals whose handler is ours, standing in for the default (sigown.h). */
#include "profiler/sigown.h"

#include <string.h>

#include "profiler/profiler.h"

#define NSIGS 65    /* Linux: signals 1..64 */

/* Per signal: our action (a handler set: the signal is ours), whether it stands on the signal
 * now, and what the program is shown there. Written by the program's sigaction calls, which
 * the program itself orders (as it would have to for the C library's own). */
static struct sigaction ours[NSIGS];
static bool standing[NSIGS];
static struct sigaction shown[NSIGS];

static bool in_range(int sig) { return sig > 0 && sig < NSIGS; }

bool mp_sigown_take(int sig, const struct sigaction *sa)
{
    struct sigaction cur;
    if (!in_range(sig) || sigaction(sig, NULL, &cur) != 0 || cur.sa_handler != SIG_DFL ||
        (cur.sa_flags & SA_SIGINFO))
        return false;
    if (sigaction(sig, sa, NULL) != 0) return false;
    ours[sig] = *sa;
    shown[sig] = cur;
    __atomic_store_n(&standing[sig], true, __ATOMIC_RELEASE);
    return true;
}

bool mp_sigown_mine(int sig)
{
    return in_range(sig) && __atomic_load_n(&ours[sig].sa_handler, __ATOMIC_ACQUIRE) != NULL;
}

int mp_sigown_sigaction(int sig, const struct sigaction *act, struct sigaction *old,
                        mp_sigaction_fn real)
{
    if (mp_tls.busy || !mp_sigown_mine(sig)) return real(sig, act, old);
    if (standing[sig]) {
        /* Still ours? The program may have set its own by a way that does not come here
         * (bsd_signal, sigset, the raw system call); then it answers for itself. */
        struct sigaction cur;
        if (real(sig, NULL, &cur) != 0 || cur.sa_handler != ours[sig].sa_handler)
            standing[sig] = false;
    }
    if (!standing[sig]) {
        if (!act || act->sa_handler != SIG_DFL) return real(sig, act, old);
        /* SIG_DFL again: ours goes back in its place */
        struct sigaction was;
        if (real(sig, &ours[sig], &was) != 0) return real(sig, act, old);
        shown[sig] = *act;
        standing[sig] = true;
        if (old) *old = was;
        return 0;
    }
    struct sigaction was = shown[sig];
    if (act && act->sa_handler != SIG_DFL) {
        int r = real(sig, act, NULL);       /* the program's handler, or SIG_IGN: ours goes */
        if (r != 0) return r;
        standing[sig] = false;
    } else if (act) {
        shown[sig] = *act;
    }
    if (old) *old = was;
    return 0;
}
