/* Target program: a signal handler frees blocks that map entries point to (a SIGCHLD handler
 * freeing its job records, say) while the main thread works on the map, so the signal often
 * lands inside the profiler's dangling-reference bookkeeping, which holds its lock. Runs for
 * SECONDS (default 2) with a 100-microsecond timer; prints "frees N" (the handler's frees). */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

#include "hashmap/hashmap.h"

#define RING 4096
static void *volatile ring[RING];      /* blocks the map points to, for the handler to free */
static volatile unsigned long taken, frees;

static void on_alarm(int sig)
{
    (void)sig;
    void *p = ring[taken % RING];
    if (p) {
        ring[taken % RING] = NULL;
        free(p);                        /* its entry stays: a dangling reference */
        frees++;
    }
    taken++;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 2;
    hm_type_t t = { sizeof(uint64_t), _Alignof(uint64_t), sizeof(void *), _Alignof(void *),
                    hm_hash_u64, hm_eq_u64, HM_VAL_POINTER };
    hm_map_t *m = hm_new(&t, NULL);
    if (!m) return 1;
    struct sigaction sa = { .sa_handler = on_alarm };
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = { { 0, 100 }, { 0, 100 } };
    setitimer(ITIMER_REAL, &it, NULL);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint64_t k = 0;; k++) {
        void *v = malloc(48);
        if (hm_put(m, &k, &v, NULL)) return 1;
        ring[k % RING] = v;             /* an older one left the ring alive, in the map */
        if (k >= RING) hm_del(m, &(uint64_t){ k - RING });
        if (!(k & 1023)) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (now.tv_sec - t0.tv_sec + (now.tv_nsec - t0.tv_nsec) / 1e9 > secs) break;
        }
    }
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_REAL, &off, NULL);
    printf("frees %lu\n", frees);
    return 0;
}
