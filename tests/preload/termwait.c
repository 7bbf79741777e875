/* Target program: a service that is stopped by a signal. It allocates 100 x 1000 B in
 * term_alloc, prints "ready", then, by its argument:
 *   pause   waits for a signal (SIGTERM, SIGINT and SIGHUP left at their default)
 *   spin    allocates and frees without end, so the signal lands anywhere
 *   dumping calls mapprof_dump without end, so the signal lands inside the profiler's work
 *   own     installs its own SIGTERM handler, which prints "own handler" and ends by _exit(0)
 *   shown   prints the dispositions it finds for SIGTERM, SIGINT, SIGHUP and SIGUSR2, as
 *           sigaction reports them and as signal() hands them back, then SIGHUP's after a
 *           handler set with sysv_signal(), and ends
 *   again   installs its own SIGTERM handler with signal(), then SIG_DFL with sigaction, and
 *           goes on as pause
 *   stuck   a thread holds the dynamic loader's lock for good (inside dl_iterate_phdr), then
 *           "holding" is printed (no allocation) and the program goes on as pause: anything
 *           that takes that lock waits for good (the CFI walk's first look at code does)
 *   exitrace HOW DIR
 *           instead of the above: 64 B from each of 2^15 distinct stacks (a slow exit dump),
 *           a thread, and exit(0). The thread waits until a temporary file (".tmp.") shows in
 *           DIR, the exit profile being written, prints "racer acts", then by HOW: _exit(7);
 *           term_main, SIGTERM to the thread inside exit; term_self, SIGTERM to itself;
 *           stall, SIGUSR1 to the thread inside exit, whose handler never returns, then
 *           _exit(7): a dump that cannot finish.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/preload/alloc_site.h"

void *keep[200];    /* external: the compiler may not drop the allocations stored here */

ALLOC_SITE(term_alloc)

static int in_callback;

static int hold(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)info, (void)size, (void)data;
    __atomic_store_n(&in_callback, 1, __ATOMIC_RELEASE);
    for (;;) pause();
    return 0;
}

static void *holder(void *arg)
{
    dl_iterate_phdr(hold, NULL);
    return arg;
}

/* 2^depth distinct stacks: each bit of path picks one of two call sites. */
__attribute__((noinline)) static void *branch(int depth, unsigned path);
__attribute__((noinline)) static void *left(int depth, unsigned path)
{
    void *p = branch(depth - 1, path >> 1);
    __asm__ volatile("" : : "r"(p) : "memory");
    return p;
}
__attribute__((noinline)) static void *right(int depth, unsigned path)
{
    void *p = branch(depth - 1, path >> 1);
    __asm__ volatile("" : : "r"(p) : "memory");
    return p;
}
__attribute__((noinline)) static void *branch(int depth, unsigned path)
{
    void *p = depth == 0 ? term_alloc(64) : (path & 1) ? right(depth, path) : left(depth, path);
    __asm__ volatile("" : : "r"(p) : "memory");
    return p;
}

static const char *race_how, *race_dir;
static pthread_t main_thread;

static int writing(void)
{
    DIR *d = opendir(race_dir);
    if (!d) return 0;
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d)) != NULL) found = strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return found;
}

static void *racer(void *arg)
{
    for (int i = 0; !writing(); i++) {
        if (i > 600000) _exit(9);     /* about a minute: the dump never started */
        usleep(100);
    }
    static const char msg[] = "racer acts\n";
    ssize_t w = write(1, msg, sizeof msg - 1);
    (void)w;
    if (!strcmp(race_how, "_exit")) _exit(7);
    if (!strcmp(race_how, "stall")) {
        pthread_kill(main_thread, SIGUSR1);
        usleep(100 * 1000);
        _exit(7);
    }
    if (!strcmp(race_how, "term_main")) pthread_kill(main_thread, SIGTERM);
    else raise(SIGTERM);
    for (;;) pause();
    return arg;
}

static void stall(int sig)
{
    (void)sig;
    for (;;) pause();
}

static void own(int sig)
{
    (void)sig;
    static const char msg[] = "own handler\n";
    ssize_t w = write(1, msg, sizeof msg - 1);
    (void)w;
    _exit(0);
}

static const char *name_of(void (*h)(int))
{
    return h == SIG_DFL ? "dfl" : h == SIG_IGN ? "ign" : h == SIG_ERR ? "err" : "handler";
}

/* Each signal's disposition, its flags and mask as sigaction reports them, then what signal()
 * hands back when given the same disposition. */
static void show(void)
{
    static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR2 };
    for (int i = 0; i < 4; i++) {
        struct sigaction cur;
        sigaction(sigs[i], NULL, &cur);
        int masked = 0;
        for (int s = 1; s < NSIG; s++) masked += sigismember(&cur.sa_mask, s) == 1;
        void (*back)(int) = signal(sigs[i], cur.sa_handler);
        printf("%d:%s/%#x/%d/%s ", sigs[i], name_of(cur.sa_handler), (unsigned)cur.sa_flags,
               masked, name_of(back));
    }
    /* a handler set by a call mapprof does not see (sysv_signal), then asked about */
    struct sigaction cur;
    sysv_signal(SIGHUP, own);
    sigaction(SIGHUP, NULL, &cur);
    printf("sysv_signal:%s\n", name_of(cur.sa_handler));
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "pause";
    if (!strcmp(mode, "own")) signal(SIGTERM, own);
    if (!strcmp(mode, "shown")) {
        show();
        return 0;
    }
    if (!strcmp(mode, "again")) {
        signal(SIGTERM, own);
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(SIGTERM, &dfl, NULL);
    }
    if (!strcmp(mode, "exitrace")) {
        if (argc < 4) return 2;
        race_how = argv[2], race_dir = argv[3];
        signal(SIGUSR1, stall);
        void **many = malloc(sizeof *many << 15);
        for (unsigned i = 0; i < 1u << 15; i++) many[i] = branch(15, i);
        main_thread = pthread_self();
        pthread_t t;
        if (pthread_create(&t, NULL, racer, many) != 0) return 1;
        exit(0);
    }
    for (int i = 0; i < 100; i++) keep[i] = term_alloc(1000);
    if (!strcmp(mode, "stuck")) {
        pthread_t t;
        if (pthread_create(&t, NULL, holder, NULL) != 0) return 1;
        while (!__atomic_load_n(&in_callback, __ATOMIC_ACQUIRE)) usleep(1000);
        static const char msg[] = "holding\n";     /* write(2): no allocation */
        ssize_t w = write(1, msg, sizeof msg - 1);
        (void)w;
    }
    printf("ready\n");
    fflush(stdout);
    if (!strcmp(mode, "spin")) {
        for (unsigned i = 0;; i++) {
            void *p = malloc(16 + i % 2000);
            __asm__ volatile("" : : "r"(p) : "memory");
            free(keep[100 + i % 100]);
            keep[100 + i % 100] = p;
        }
    }
    if (!strcmp(mode, "dumping")) {
        int (*dump)(const char *) = (int (*)(const char *))dlsym(RTLD_DEFAULT, "mapprof_dump");
        if (!dump) return 3;
        for (;;) dump("loop");
    }
    for (;;) pause();
}
