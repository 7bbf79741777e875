/* Target program: N threads x M malloc/free pairs (sizes 8..1032), some blocks kept.
 * Prints "truth alloc_bytes inuse_bytes" for thread_work. usage: threads N M */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/preload/alloc_site.h"

static long per_thread;
static void *volatile sink;   /* keeps kept blocks reachable */
static long long alloc_total, inuse_total;

ALLOC_SITE(thread_alloc)

static void *thread_work(void *arg)
{
    uint64_t r = (uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 1;
    long long a = 0, u = 0;
    void *kept[1000];
    int nk = 0;
    for (long i = 0; i < per_thread; i++) {
        r ^= r << 13; r ^= r >> 7; r ^= r << 17;
        size_t s = 8 + (r % 1025);
        void *p = thread_alloc(s);
        a += (long long)s;
        if (i % 1000 == 0 && nk < 1000) { kept[nk++] = p; u += (long long)s; }
        else free(p);
    }
    if (nk) sink = kept[nk - 1];
    __atomic_fetch_add(&alloc_total, a, __ATOMIC_RELAXED);
    __atomic_fetch_add(&inuse_total, u, __ATOMIC_RELAXED);
    return NULL;    /* kept blocks stay live: the program exits with them */
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 4;
    per_thread = argc > 2 ? atol(argv[2]) : 1000000;
    pthread_t t[64];
    for (int i = 0; i < n && i < 64; i++) pthread_create(&t[i], NULL, thread_work, (void *)(uintptr_t)(i + 1));
    for (int i = 0; i < n && i < 64; i++) pthread_join(t[i], NULL);
    printf("truth %lld %lld\n", alloc_total, inuse_total);
    return 0;
}
