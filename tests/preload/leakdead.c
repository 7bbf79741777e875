/* Target program for the leak check: a thread keeps the only pointer to a 40-byte block in a
 * local and ends; main joins it and exits. glibc keeps the dead thread's stack mapped for the
 * next thread, the pointer still on it: Valgrind memcheck reports the block definitely lost.
 * With "reuse", a second thread then starts on that same stack (exit 77 when glibc gave it
 * another) and holds a 24-byte block in a local while main exits: that one is reachable.
 * With "blocked", the same with every signal blocked in every thread (the check cannot park
 * them), the second thread allocating nothing: main's 24-byte block, held only by it, is
 * reachable. With "unjoined", a thread ends returning a 40-byte block and is never joined:
 * glibc keeps its result in the thread's descriptor at the top of its stack (reachable).
 * With "late", a thread that ignores the check until it is being parked (every signal blocked)
 * then starts one more, on the ended thread's stack, which holds main's 24-byte block in a
 * local and allocates nothing (no slow path: it never says its stack is no dead one): the
 * check must park that thread too, and the block is reachable. It prints "late: not reused"
 * when glibc gave that thread another stack. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t held = PTHREAD_COND_INITIALIZER;
static int holding;

__attribute__((noinline)) static void *make(size_t n)
{
    void *p = malloc(n);
    memset(p, 1, n);
    return p;
}

static void *stack_of_self(void)
{
    pthread_attr_t a;
    void *addr = NULL;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
        pthread_attr_getstack(&a, &addr, &size);
        pthread_attr_destroy(&a);
    }
    return addr;
}

static void *lose(void *out)
{
    *(void **)out = stack_of_self();
    void *volatile local = make(40);   /* the last thing the thread does */
    (void)local;
    return NULL;
}

/* Tell main this thread holds its block, and wait for good. */
static void hold_forever(void)
{
    pthread_mutex_lock(&lock);
    holding = 1;
    pthread_cond_signal(&held);
    pthread_mutex_unlock(&lock);
    for (;;) pause();
}

static char *volatile given_at;     /* where hold_given's local is */

static void *hold_given(void *block)
{
    void *volatile local = block;
    given_at = (char *)&local;
    hold_forever();
    return NULL;
}

static void *volatile cell;         /* main's block, on its way to hold_cell's local */
static void *ended_stack;           /* the ended thread's stack (set before late_go) */
static volatile int late_go, late_held;

/* Let every signal in, and wait for good. */
static void unblock_and_wait(void)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_UNBLOCK, &all, NULL);
    for (;;) pause();
}

static void *hold_cell(void *arg)
{
    (void)arg;
    void *volatile local = cell;
    cell = NULL;
    given_at = (char *)&local;
    late_held = 1;
    unblock_and_wait();
    return NULL;
}

/* Does a signal wait for this thread (blocked)? */
static bool signal_waits(void)
{
    sigset_t pending;
    sigpending(&pending);
    for (int s = 1; s < NSIG; s++)      /* (glibc's sigisemptyset says no to real-time ones) */
        if (sigismember(&pending, s) == 1) return true;
    return false;
}

/* Every signal blocked (from main): once main has gone to exit and a signal waits for this
 * thread (the check parking it), start hold_cell, then let the signal in. */
static void *late_starter(void *arg)
{
    (void)arg;
    while (!late_go || !signal_waits()) usleep(1000);
    pthread_t t;
    pthread_create(&t, NULL, hold_cell, NULL);
    while (!late_held) usleep(1000);
    if (!(given_at >= (char *)ended_stack && given_at < (char *)ended_stack + (8 << 20))) {
        static const char msg[] = "late: not reused\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
    }
    unblock_and_wait();
    return NULL;
}

static int late(void)
{
    sigset_t all, old;
    pthread_t s, t;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    pthread_create(&s, NULL, late_starter, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_create(&t, NULL, lose, &ended_stack);
    pthread_join(t, NULL);
    cell = make(24);
    late_go = 1;
    return 0;
}

static void *give(void *arg)
{
    (void)arg;
    return make(40);
}

static void *hold(void *out)
{
    void *volatile local = make(24);
    (void)local;
    *(void **)out = stack_of_self();
    hold_forever();
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t t;
    void *first = NULL, *second = NULL;
    if (argc > 1 && !strcmp(argv[1], "unjoined")) {
        pthread_create(&t, NULL, give, NULL);
        usleep(200000);         /* it has ended; its result waits for a join */
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "late")) return late();
    if (argc > 1 && !strcmp(argv[1], "blocked")) {
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, NULL);
    }
    pthread_create(&t, NULL, lose, &first);
    pthread_join(t, NULL);
    if (argc < 2) return 0;
    if (!strcmp(argv[1], "blocked")) {
        void *volatile block = make(24);
        pthread_create(&t, NULL, hold_given, block);
        block = NULL;
    } else {
        pthread_create(&t, NULL, hold, &second);
    }
    pthread_mutex_lock(&lock);
    while (!holding) pthread_cond_wait(&held, &lock);
    pthread_mutex_unlock(&lock);
    if (!strcmp(argv[1], "blocked"))    /* (no pthread_getattr_np there: it allocates) */
        return given_at >= (char *)first && given_at < (char *)first + (8 << 20) ? 0 : 77;
    return second == first ? 0 : 77;
}
