/* Benchmark probe: holds N small blocks live at once (from a few call sites), so that the
 * difference in peak RSS between a run under mapprof at rate=1 and an uninstrumented run,
 * divided by N, estimates the profiler's metadata per tracked block.
 * usage: liveblocks [N]   (default 2000000 blocks of 32 bytes) */
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) static void *node_a(long i) { long *p = malloc(32); p[0] = i; return p; }
__attribute__((noinline)) static void *node_b(long i) { long *p = malloc(32); p[0] = -i; return p; }

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000000, sum = 0;
    void **v = malloc(n * sizeof *v);
    for (long i = 0; i < n; i++) v[i] = (i & 1) ? node_a(i) : node_b(i);
    for (long i = 0; i < n; i++) sum += *(long *)v[i];
    for (long i = 0; i < n; i++) free(v[i]);
    free(v);
    printf("liveblocks: %ld blocks, checksum %ld\n", n, sum);
    return 0;
}
