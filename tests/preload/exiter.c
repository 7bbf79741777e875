/* Target program: processes that end by _exit or _Exit, which run no destructor.
 *   exiter fork _exit|_Exit   a fork child allocates 100 x 1000 B in child_alloc, ends by the
 *                             call named with status 7; prints "pid child PID"
 *   exiter vfork              a vfork child ends by _exit(5) at once; the parent allocates
 *                             100 x 1000 B in parent_alloc before and 50 x 1000 B after
 *   exiter handler [exit|dump] a SIGALRM handler calls _exit(3), or exit(3), while the
 *                             program allocates; or mapprof_dump, then _exit: 3 when it wrote
 *                             a profile, 4 when it said EBUSY, 5 on another error
 *   exiter thread             a second thread calls _exit(6) while main allocates
 *   exiter atexit             an atexit handler calls _exit(4) after main returns
 *   exiter quick              allocates 100 x 1000 B in parent_alloc, then quick_exit(9)
 * Exits 0 (fork, vfork) when the child ended as it should, else 1. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "profiler/mapprof.h"
#include "tests/preload/alloc_site.h"

void *keep[200];    /* external: the compiler may not drop the allocations stored here */

ALLOC_SITE(child_alloc)
ALLOC_SITE(parent_alloc)

/* Allocates and frees until the process ends. */
__attribute__((noinline)) static void spin(void)
{
    for (unsigned i = 0;; i++) {
        void *p = malloc(16 + i % 4000);
        __asm__ volatile("" : : "r"(p) : "memory");
        free(keep[i % 200]);
        keep[i % 200] = p;
    }
}

static const char *how = "";

static void on_alarm(int sig)
{
    (void)sig;
    if (!strcmp(how, "exit")) exit(3);     /* not async-signal-safe, yet common */
    if (!strcmp(how, "dump")) {
        int r = mapprof_dump("signal");
        _exit(r == 0 ? 3 : errno == EBUSY ? 4 : 5);
    }
    _exit(3);
}

static void *ender(void *arg)
{
    (void)arg;
    usleep(20000);
    _exit(6);
}

static void at_end(void)
{
    _exit(4);
}

static int waited(pid_t pid, int want)
{
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != want) {
        fprintf(stderr, "child %d ended with status %#x, not exit %d\n", (int)pid, st, want);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "fork")) {
        bool upper = argc > 2 && !strcmp(argv[2], "_Exit");
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            for (int i = 0; i < 100; i++) keep[i] = child_alloc(1000);
            printf("pid child %d\n", (int)getpid());
            fflush(stdout);
            if (upper) _Exit(7);
            _exit(7);
        }
        return waited(pid, 7);
    }
    if (!strcmp(mode, "vfork")) {
        for (int i = 0; i < 100; i++) keep[i] = parent_alloc(1000);
        pid_t pid = vfork();
        if (pid == 0) _exit(5);
        for (int i = 100; i < 150; i++) keep[i] = parent_alloc(1000);
        return waited(pid, 5);
    }
    if (!strcmp(mode, "handler")) {
        how = argc > 2 ? argv[2] : "";
        signal(SIGALRM, on_alarm);
        struct itimerval t = { .it_value = { 0, 30000 } };
        setitimer(ITIMER_REAL, &t, NULL);
        spin();
    }
    if (!strcmp(mode, "thread")) {
        pthread_t t;
        pthread_create(&t, NULL, ender, NULL);
        spin();
    }
    if (!strcmp(mode, "atexit")) {
        atexit(at_end);
        for (int i = 0; i < 100; i++) keep[i] = parent_alloc(1000);
        return 0;
    }
    if (!strcmp(mode, "quick")) {
        for (int i = 0; i < 100; i++) keep[i] = parent_alloc(1000);
        quick_exit(9);
    }
    fprintf(stderr, "usage: exiter fork _exit|_Exit | vfork | handler [exit|dump] | thread | atexit | quick\n");
    return 2;
}
