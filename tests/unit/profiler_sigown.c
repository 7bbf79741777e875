/* Unit tests: signals whose handler is ours in place of the default (profiler/sigown.c). The
 * program's sigaction goes through mp_sigown_sigaction with the C library's as the real one,
 * counted; what the kernel holds is read back with the C library's directly. */
#include <signal.h>
#include <stdbool.h>

#include "profiler/profiler.h"
#include "profiler/sigown.h"
#include "tests/check.h"

static int real_calls;
static int counted(int sig, const struct sigaction *act, struct sigaction *old)
{
    real_calls++;
    return sigaction(sig, act, old);
}

static void ours(int sig) { (void)sig; }
static void theirs(int sig) { (void)sig; }

/* The handler the kernel holds for sig. */
static void (*held(int sig))(int)
{
    struct sigaction cur;
    sigaction(sig, NULL, &cur);
    return cur.sa_handler;
}

/* The program's sigaction, with a plain handler (or SIG_DFL / SIG_IGN) and these flags. */
static int program_sets(int sig, void (*h)(int), int flags, struct sigaction *old)
{
    struct sigaction act;
    memset(&act, 0, sizeof act);
    act.sa_handler = h;
    act.sa_flags = flags;
    sigemptyset(&act.sa_mask);
    return mp_sigown_sigaction(sig, &act, old, counted);
}

static void (*program_sees(int sig))(int)
{
    struct sigaction cur;
    memset(&cur, 0xff, sizeof cur);
    return mp_sigown_sigaction(sig, NULL, &cur, counted) == 0 ? cur.sa_handler : SIG_ERR;
}

static struct sigaction our_action(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = ours;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    return sa;
}

static void test_taken_only_from_the_default(void)
{
    struct sigaction sa = our_action();
    signal(SIGUSR1, SIG_IGN);
    CHECK(!mp_sigown_take(SIGUSR1, &sa));
    CHECK(!mp_sigown_mine(SIGUSR1));
    CHECK(held(SIGUSR1) == SIG_IGN);
    signal(SIGUSR1, theirs);
    CHECK(!mp_sigown_take(SIGUSR1, &sa));
    CHECK(held(SIGUSR1) == theirs);
    CHECK(!mp_sigown_take(0, &sa) && !mp_sigown_take(65, &sa));
}

static void test_shown_the_default_and_replaced_by_a_handler(void)
{
    struct sigaction sa = our_action();
    CHECK(mp_sigown_take(SIGUSR2, &sa));
    CHECK(mp_sigown_mine(SIGUSR2));
    CHECK(held(SIGUSR2) == ours);
    CHECK(program_sees(SIGUSR2) == SIG_DFL);
    /* SIG_DFL set by the program: ours stays, and the program is shown what it set */
    struct sigaction old;
    CHECK_EQ_INT(program_sets(SIGUSR2, SIG_DFL, SA_NODEFER, &old), 0);
    CHECK(old.sa_handler == SIG_DFL);
    CHECK(held(SIGUSR2) == ours);
    struct sigaction shown;
    mp_sigown_sigaction(SIGUSR2, NULL, &shown, counted);
    CHECK(shown.sa_handler == SIG_DFL && shown.sa_flags == SA_NODEFER);
    /* its own handler replaces ours; the old one it is told of is the default */
    CHECK_EQ_INT(program_sets(SIGUSR2, theirs, 0, &old), 0);
    CHECK(old.sa_handler == SIG_DFL);
    CHECK(held(SIGUSR2) == theirs);
    CHECK(program_sees(SIGUSR2) == theirs);
    /* SIG_DFL again: ours goes back, and the program is told its handler was there */
    CHECK_EQ_INT(program_sets(SIGUSR2, SIG_DFL, 0, &old), 0);
    CHECK(old.sa_handler == theirs);
    CHECK(held(SIGUSR2) == ours);
    CHECK(program_sees(SIGUSR2) == SIG_DFL);
    /* SIG_IGN is the program's own too */
    CHECK_EQ_INT(program_sets(SIGUSR2, SIG_IGN, 0, NULL), 0);
    CHECK(held(SIGUSR2) == SIG_IGN);
    CHECK(program_sees(SIGUSR2) == SIG_IGN);
    program_sets(SIGUSR2, SIG_DFL, 0, NULL);
    CHECK(held(SIGUSR2) == ours);
}

static void test_a_handler_set_past_us_is_noticed(void)
{
    struct sigaction sa = our_action();
    signal(SIGHUP, SIG_DFL);
    CHECK(mp_sigown_take(SIGHUP, &sa));
    CHECK(program_sees(SIGHUP) == SIG_DFL);
    sigaction(SIGHUP, &(struct sigaction){ .sa_handler = theirs }, NULL);  /* not through us */
    CHECK(program_sees(SIGHUP) == theirs);
}

static void test_our_own_calls_go_straight_through(void)
{
    struct sigaction sa = our_action();
    signal(SIGTERM, SIG_DFL);
    CHECK(mp_sigown_take(SIGTERM, &sa));
    mp_tls.busy++;
    int before = real_calls;
    CHECK(program_sees(SIGTERM) == ours);
    CHECK_EQ_INT(real_calls, before + 1);
    mp_tls.busy--;
    CHECK(program_sees(SIGTERM) == SIG_DFL);
    /* a signal not ours: the real call, once */
    before = real_calls;
    CHECK(program_sees(SIGCHLD) == SIG_DFL);
    CHECK_EQ_INT(real_calls, before + 1);
    signal(SIGTERM, SIG_DFL);
}

int main(void)
{
    RUN(test_taken_only_from_the_default);
    RUN(test_shown_the_default_and_replaced_by_a_handler);
    RUN(test_a_handler_set_past_us_is_noticed);
    RUN(test_our_own_calls_go_straight_through);
    return check_done();
}
