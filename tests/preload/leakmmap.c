/* Target program for the leak check: pointers kept only in memory the program mapped itself.
 * The kernel merges an anonymous mapping with its neighbours of the same kind into one line of
 * /proc/self/maps: here with a chunk glibc's malloc mapped for a 1 MiB block (the chunk is made
 * to land right above the program's page: its hole is unmapped just before the malloc). Two
 * 31-byte blocks are held only from that page and from the program's page above the chunk.
 * Valgrind memcheck: both still reachable. With "lose", the page holds nothing: both lost.
 * Exits 77 when the chunk could not be put next to the program's page. With "alone", one
 * page mapped anywhere holds the only pointer to a 31-byte block (the kernel tends to merge it
 * with the profiler's own pages, mapped just before); it exits 77 when the page stayed a line of
 * its own. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE 4096
#define BIG (1 << 20)
#define CHUNK (BIG + PAGE)      /* the chunk glibc maps for BIG: header and end in whole pages */

void *volatile big;
void **volatile below, **volatile above;

/* Is the page at p one line of /proc/self/maps with other memory (merged)? */
static int merged(const void *p)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    int yes = 0;
    while (f && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && lo <= (uintptr_t)p && (uintptr_t)p < hi)
            yes = hi - lo > PAGE;
    }
    if (f) fclose(f);
    return yes;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "alone")) {
        below = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (below == MAP_FAILED) return 1;
        below[0] = malloc(31);
        memset(below[0], 1, 31);
        return merged(below) ? 0 : 77;
    }
    for (int tries = 0; tries < 8 && !big; tries++) {
        char *a = mmap(NULL, CHUNK + 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (a == MAP_FAILED) return 1;
        munmap(a + PAGE, CHUNK);
        void *p = malloc(BIG);
        if ((char *)p - 16 == a + PAGE) {
            big = p;
            below = (void **)a;
            above = (void **)(a + PAGE + CHUNK);
        } else {
            free(p);
            munmap(a, PAGE);
            munmap(a + PAGE + CHUNK, PAGE);
        }
    }
    if (!big) {
        fprintf(stderr, "leakmmap: the chunk did not land next to the program's page\n");
        return 77;
    }
    memset(big, 0, BIG);
    below[0] = malloc(31);
    above[0] = malloc(31);
    memset(below[0], 1, 31);
    memset(above[0], 1, 31);
    if (argc > 1) below[0] = above[0] = NULL;
    return 0;
}
