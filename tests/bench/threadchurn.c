/* Benchmark workload: two threads churning at once. Each thread keeps a ring of live blocks of
 * mixed sizes (16 B to 1 KiB, mostly small, like map nodes and keys), replaces one slot per
 * operation, and every 64th block it allocates is handed to the other thread to free (blocks
 * that cross threads, as in producer/consumer code).
 * usage: threadchurn [OPS_MILLIONS]   (operations per thread; may be fractional) */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RING 65536
#define MAILBOX 1024

typedef struct worker {
    pthread_t thread;
    long ops;
    uint64_t seed;
    void *ring[RING];
    void *_Atomic mailbox[MAILBOX];  /* blocks the other thread allocated for us to free */
    struct worker *peer;
    long checksum;
} worker_t;

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

__attribute__((noinline)) static void *make_block(uint64_t r)
{
    size_t n = (r & 7) == 0 ? 256 + (r >> 8) % 768 : 16 + (r >> 8) % 96;
    char *p = malloc(n);
    memset(p, (int)r, n < 32 ? n : 32);
    return p;
}

static void *run(void *arg)
{
    worker_t *w = arg;
    for (long i = 0; i < w->ops; i++) {
        uint64_t r = next_rand(&w->seed);
        size_t slot = (r >> 32) % RING;
        void *old = w->ring[slot];
        w->ring[slot] = make_block(r);
        if (old && (i & 63) == 0) {
            /* hand it over; if the peer's mailbox slot is still full, free that one here */
            void *prev = __atomic_exchange_n(&w->peer->mailbox[(i >> 6) % MAILBOX], old,
                                             __ATOMIC_ACQ_REL);
            free(prev);
        } else {
            free(old);
        }
        void *mine = __atomic_exchange_n(&w->mailbox[i % MAILBOX], NULL, __ATOMIC_ACQ_REL);
        if (mine) { w->checksum += ((char *)mine)[0]; free(mine); }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    double millions = argc > 1 ? atof(argv[1]) : 4;
    static worker_t w[2];
    for (int t = 0; t < 2; t++) {
        w[t].ops = (long)(millions * 1e6);
        w[t].seed = 0x9E3779B97F4A7C15ULL * (t + 1);
        w[t].peer = &w[1 - t];
    }
    for (int t = 0; t < 2; t++) pthread_create(&w[t].thread, NULL, run, &w[t]);
    long sum = 0;
    for (int t = 0; t < 2; t++) {
        pthread_join(w[t].thread, NULL);
        sum += w[t].checksum;
    }
    for (int t = 0; t < 2; t++) {
        for (int i = 0; i < RING; i++) free(w[t].ring[i]);
        for (int i = 0; i < MAILBOX; i++) free(w[t].mailbox[i]);
    }
    printf("threadchurn: checksum %ld\n", sum);
    return 0;
}
