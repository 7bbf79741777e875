/* A dump must not change the program's heap: the profiler's own allocations (symbolizer,
 * encoder, files) come from its private heap. This program leaves the heap fragmented (free
 * chunks in glibc's fast bins, which any large request consolidates), takes glibc's statistics,
 * dumps twice through the API, and compares. Exit 0 when nothing changed, 1 (with the fields
 * that moved) otherwise, 2 when the dump failed. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profiler/mapprof.h"

#define N 200000

static int same(const struct mallinfo2 *a, const struct mallinfo2 *b)
{
    int ok = 1;
#define F(f) if (a->f != b->f) { printf("%s: %zu -> %zu\n", #f, a->f, b->f); ok = 0; }
    F(arena) F(ordblks) F(smblks) F(hblks) F(hblkhd) F(fsmblks) F(uordblks) F(fordblks)
#undef F
    return ok;
}

int main(void)
{
    static void *blk[N];
    for (int i = 0; i < N; i++) blk[i] = malloc(16 + (i % 4) * 16);
    for (int i = 0; i < N; i += 2) free(blk[i]);
    struct mallinfo2 before = mallinfo2();
    if (before.fsmblks == 0) {
        printf("no fast-bin chunks to disturb\n");
        return 3;
    }
    if (mapprof_dump("first") != 0 || mapprof_dump("second") != 0) return 2;
    struct mallinfo2 after = mallinfo2();
    int ok = same(&before, &after);
    for (int i = 1; i < N; i += 2) free(blk[i]);
    printf("%s\n", ok ? "heap unchanged" : "heap changed");
    return ok ? 0 : 1;
}
