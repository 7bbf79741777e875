/* Target program: a seeded random workload whose truth is known. Allocates blocks of mixed
 * sizes (16 B .. 32 KiB) totaling at least `total` bytes in work_alloc, frees about half, and
 * prints "truth alloc_bytes inuse_bytes sd_alloc sd_inuse", where sd_* is the standard
 * deviation of the byte estimates that Poisson sampling at `rate` predicts:
 * Var = sum over blocks of s^2 (1 - p) / p, p = 1 - exp(-s/rate).
 * usage: sampling RATE TOTAL_BYTES SEED */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/preload/alloc_site.h"

static uint64_t rng;
static uint64_t next(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

ALLOC_SITE(work_alloc)

int main(int argc, char **argv)
{
    if (argc < 4) return 2;
    double rate = atof(argv[1]);
    long long total = atoll(argv[2]);
    rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)atoll(argv[3]);
    size_t cap = 1 << 16, n = 0;
    void **live = malloc(cap * sizeof *live);
    size_t *sz = malloc(cap * sizeof *sz);
    long long alloc = 0, inuse = 0;
    double var_alloc = 0, var_inuse = 0;
    while (alloc < total) {
        size_t s = 16u << (next() % 12);        /* 16 B .. 32 KiB, log-uniform */
        s += next() % s;
        void *p = work_alloc(s);
        double pr = 1 - exp(-(double)s / rate), v = (double)s * s * (1 - pr) / pr;
        alloc += (long long)s;
        var_alloc += v;
        if (next() & 1) {
            free(p);
        } else {
            if (n == cap) {
                cap *= 2;
                live = realloc(live, cap * sizeof *live);
                sz = realloc(sz, cap * sizeof *sz);
            }
            live[n] = p; sz[n++] = s;
            inuse += (long long)s;
            var_inuse += v;
        }
    }
    printf("truth %lld %lld %.1f %.1f\n", alloc, inuse, sqrt(var_alloc), sqrt(var_inuse));
    fflush(stdout);
    return 0;
}
