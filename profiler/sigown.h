/* profiler/sigown.h - signals whose handler is ours, standing in for the default.
 *
 * term= and signal= put a handler of ours on a signal the program left at SIG_DFL. The
 * program must not see it there: Python installs its SIGINT handler (KeyboardInterrupt) only
 * over SIG_DFL, and gdb warns of handlers it inherits. So the program's sigaction and signal
 * (interposed) are answered here for such a signal:
 * - asked, it is SIG_DFL (with the mask and flags the program last gave SIG_DFL, if it did);
 * - a handler of the program's own, or SIG_IGN, replaces ours for good;
 * - SIG_DFL keeps ours; and SIG_DFL set again on a signal of ours that the program had taken
 *   puts ours back (Python's way out of an uncaught KeyboardInterrupt: SIG_DFL, then the
 *   signal to itself), so the signal still writes the exit profile before it ends the program.
 * Our own calls (made under mp_tls.busy) go straight to the C library. */
#ifndef MAPPROF_PROFILER_SIGOWN_H
#define MAPPROF_PROFILER_SIGOWN_H

#include <signal.h>
#include <stdbool.h>

typedef int (*mp_sigaction_fn)(int, const struct sigaction *, struct sigaction *);

/* Put our action sa on sig if the program has it at SIG_DFL (no handler, not ignored); sig
 * is then ours, now and whenever the program sets SIG_DFL on it again. False when the
 * program's own disposition stays. */
bool mp_sigown_take(int sig, const struct sigaction *sa);
/* Is sig one of ours (standing in for SIG_DFL now, or put back when the program sets it)? */
bool mp_sigown_mine(int sig);
/* The program's sigaction(sig, act, old), answered as above; real is the C library's. */
int mp_sigown_sigaction(int sig, const struct sigaction *act, struct sigaction *old,
                        mp_sigaction_fn real);

#endif
