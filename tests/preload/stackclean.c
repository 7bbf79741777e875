/* Under the leak check, the profiler's slow paths must leave no copy of a block's address on
 * the stack below their caller: a stale copy in a frame that is live at exit would make a lost
 * block look reachable. After each malloc and free, and after annotating a block as a map
 * and dropping the annotation, this program looks for the address in the 16 KiB below its
 * stack pointer. Prints the deepest copy found ("clean" when none) and exits 1
 * when there was one. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profiler/mapprof.h"

#define AREA 16384

/* Touch the area once so it is mapped; later reads below the stack pointer see what the
 * calls in between left there. */
__attribute__((noinline)) static void map_area(void)
{
    volatile char a[AREA + 1024];
    memset((char *)a, 0, sizeof a);
    __asm__ volatile("" : : "r"(a) : "memory");
}

/* Deepest offset below `top` holding the word w, or 0. The first 256 bytes are the hook's
 * own frame (and this function's), which no scrub can reach. */
__attribute__((noinline)) static long find_copy(const char *top, uintptr_t w)
{
    long deepest = 0;
    for (long off = 256; off <= AREA; off += 8) {
        uintptr_t v;
        memcpy(&v, top - off, sizeof v);
        if (v == w) deepest = off;
    }
    return deepest;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 1000;
    /* first calls initialize (glibc's malloc, the profiler's thread state) and may leave
     * copies of their own, deeper; the program is judged from here on */
    for (int i = 0; i < 100; i++) free(malloc(32 + (size_t)i));
    map_area();
    char *top;      /* the stack pointer: callees' frames start below it */
    __asm__ volatile("mov %%rsp, %0" : "=r"(top));
    long worst = 0;
    void *keep[64] = { 0 };
    for (int r = 0; r < rounds; r++) {
        void *p = malloc(32 + (size_t)(r % 200));
        long d = find_copy(top, (uintptr_t)p);
        if (d && getenv("SC_DEBUG")) fprintf(stderr, "round %d malloc %ld\n", r, d);
        if (d > worst) worst = d;
        /* an annotated map: its creation captures a stack outside the allocation path */
        if (r % 16 == 0) {
            mapprof_map_create(p, 8, 8, 0);
            d = find_copy(top, (uintptr_t)p);
            if (d && getenv("SC_DEBUG")) fprintf(stderr, "round %d map created %ld\n", r, d);
            if (d > worst) worst = d;
            mapprof_map_destroy(p);
            d = find_copy(top, (uintptr_t)p);
            if (d && getenv("SC_DEBUG")) fprintf(stderr, "round %d map destroyed %ld\n", r, d);
            if (d > worst) worst = d;
        }
        keep[r % 64] = p;
        void *q = keep[(r + 1) % 64];
        if (q) {
            uintptr_t qa = (uintptr_t)q;
            free(q);
            keep[(r + 1) % 64] = NULL;
            d = find_copy(top, qa);
            if (d && getenv("SC_DEBUG")) fprintf(stderr, "round %d free %ld\n", r, d);
            if (d > worst) worst = d;
        }
    }
    for (int i = 0; i < 64; i++) free(keep[i]);
    if (worst) printf("a copy %ld bytes below the caller\n", worst);
    else printf("clean\n");
    return worst ? 1 : 0;
}
