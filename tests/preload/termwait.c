/* Target program: a service that is stopped by a signal. It allocates 100 x 1000 B in
 * term_alloc, prints "ready", then, by its argument:
 *   pause   waits for a signal (SIGTERM, SIGINT and SIGHUP left at their default)
 *   spin    allocates and frees without end, so the signal lands anywhere
 *   own     installs its own SIGTERM handler, which prints "own handler" and ends by _exit(0)
 *   stuck   a thread holds the dynamic loader's lock for good (inside dl_iterate_phdr), so a
 *           dump that lists the loaded objects cannot finish
 */
#define _GNU_SOURCE
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

static void own(int sig)
{
    (void)sig;
    static const char msg[] = "own handler\n";
    ssize_t w = write(1, msg, sizeof msg - 1);
    (void)w;
    _exit(0);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "pause";
    if (!strcmp(mode, "own")) signal(SIGTERM, own);
    for (int i = 0; i < 100; i++) keep[i] = term_alloc(1000);
    if (!strcmp(mode, "stuck")) {
        pthread_t t;
        if (pthread_create(&t, NULL, holder, NULL) != 0) return 1;
        while (!__atomic_load_n(&in_callback, __ATOMIC_ACQUIRE)) usleep(1000);
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
    for (;;) pause();
}
