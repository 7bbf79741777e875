/* Benchmark probe: the time to write one profile holding N distinct stacks. A recursion of
 * depth D takes, at each level, one of two call sites chosen by a bit of the path number, so
 * paths 0..N-1 give N distinct stacks (D+1 frames deep; 2^D >= N). Each leaf allocates one
 * block and keeps it live; then one mapprof_dump is timed. Run with rate=1 so every stack is
 * recorded. Prints "manystacks: N stacks, dump S seconds" (S = -1 without mapprof).
 * usage: manystacks [N]   (default 100000) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "profiler/mapprof.h"

static void **keep;
static long nkeep;

static long walk(int depth, unsigned long path);

__attribute__((noinline)) static long via_left(int depth, unsigned long path)
{
    return walk(depth - 1, path >> 1) + 1;
}

__attribute__((noinline)) static long via_right(int depth, unsigned long path)
{
    return walk(depth - 1, path >> 1) + 2;
}

__attribute__((noinline)) static long walk(int depth, unsigned long path)
{
    if (depth == 0) {
        keep[nkeep++] = malloc(48);
        return 0;
    }
    return (path & 1) ? via_right(depth, path) : via_left(depth, path);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000, sum = 0;
    int depth = 0;
    while ((1L << depth) < n) depth++;
    keep = malloc(n * sizeof *keep);
    for (long p = 0; p < n; p++) sum += walk(depth, (unsigned long)p);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int rc = mapprof_dump("manystacks");
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
    printf("manystacks: %ld stacks (depth %d), dump %.3f seconds, checksum %ld\n", n, depth,
           rc == 0 ? s : -1.0, sum);
    for (long i = 0; i < nkeep; i++) free(keep[i]);
    free(keep);
    return 0;
}
