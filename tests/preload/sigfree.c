/* Target program: a signal handler frees blocks that map entries point to (a SIGCHLD handler
 * freeing its job records, say) while the main thread works on the map, so the signal often
 * lands inside the profiler's dangling-reference bookkeeping, which holds its lock. Runs for
 * SECONDS (default 2) with a 100-microsecond timer; prints "frees N" (the handler's frees).
 * With "threads", another thread starts short-lived threads meanwhile (each allocates and
 * frees a few blocks), so signals also land in threads' first and last profiler work.
 * A handler's free is only safe with an allocator made for it: run it with bumpalloc.so
 * preloaded after libmapprof.so (glibc's malloc, interrupted, aborts on its own caches).
 * With "reload PLUGIN", another thread (the timer's signal blocked there) loads and unloads
 * PLUGIN without end: each unload makes every unwind rule be read again, so walks spend their
 * time in dl_iterate_phdr and the signal often lands inside the loader's lock held by a walk.
 * usage: sigfree [SECONDS [threads | reload PLUGIN]] */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "hashmap/hashmap.h"

#define RING 4096
static void *ring[RING];                /* blocks the map points to, for the handler to free */
static unsigned long taken, frees;      /* the handler may run on two threads at once */
static int stop;

static void on_alarm(int sig)
{
    (void)sig;
    unsigned long i = __atomic_fetch_add(&taken, 1, __ATOMIC_RELAXED) % RING;
    void *p = __atomic_exchange_n(&ring[i], NULL, __ATOMIC_ACQ_REL);
    if (p) {
        free(p);                        /* its entry stays: a dangling reference */
        __atomic_fetch_add(&frees, 1, __ATOMIC_RELAXED);
    }
}

static void *short_lived(void *arg)
{
    void *b[8];
    for (int i = 0; i < 8; i++) b[i] = malloc(32 + (size_t)i * 16);
    for (int i = 0; i < 8; i++) free(b[i]);
    return arg;
}

static void *spawner(void *arg)
{
    while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
        pthread_t t;
        if (pthread_create(&t, NULL, short_lived, NULL) == 0) pthread_join(t, NULL);
    }
    return arg;
}

static const char *plugin;

static void *reloader(void *arg)
{
    sigset_t alrm;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &alrm, NULL);    /* dlopen's own lock is the program's affair */
    while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
        void *h = dlopen(plugin, RTLD_NOW);
        if (h) dlclose(h);
    }
    return arg;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 2;
    hm_type_t t = { sizeof(uint64_t), _Alignof(uint64_t), sizeof(void *), _Alignof(void *),
                    hm_hash_u64, hm_eq_u64, HM_VAL_POINTER };
    hm_map_t *m = hm_new(&t, NULL);
    if (!m) return 1;
    pthread_t sp;
    bool threads = argc > 2 && !strcmp(argv[2], "threads");
    bool reload = argc > 3 && !strcmp(argv[2], "reload");
    plugin = reload ? argv[3] : NULL;
    if ((threads || reload) && pthread_create(&sp, NULL, reload ? reloader : spawner, NULL) != 0)
        return 1;
    struct sigaction sa = { .sa_handler = on_alarm };
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = { { 0, 100 }, { 0, 100 } };
    setitimer(ITIMER_REAL, &it, NULL);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint64_t k = 0;; k++) {
        void *v = malloc(48);
        if (hm_put(m, &k, &v, NULL)) return 1;
        /* an older one leaves the ring alive, in the map */
        __atomic_store_n(&ring[k % RING], v, __ATOMIC_RELEASE);
        if (k >= RING) hm_del(m, &(uint64_t){ k - RING });
        if (!(k & 1023)) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (now.tv_sec - t0.tv_sec + (now.tv_nsec - t0.tv_nsec) / 1e9 > secs) break;
        }
    }
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_REAL, &off, NULL);
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    if (threads || reload) pthread_join(sp, NULL);
    printf("frees %lu\n", frees);
    return 0;
}
