/* Target program: allocations of known sizes from known functions, at known lines.
 * Prints its own truth as "site FUNC FILE:LINE inuse_bytes inuse_objects alloc_bytes
 * alloc_objects", which tests/integration/known.sh compares with the profile. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* line_ib: in-use bytes allocated at that line alone */
#define SITE(fn, line, ib, io, ab, ao, line_ib) \
    printf("site %s %s:%d %d %d %d %d %d\n", fn, __FILE__, line, ib, io, ab, ao, line_ib)

void *keep[64];          /* external: the compiler may not drop what is stored here */
int nkeep;

__attribute__((noinline)) void alloc_a(void)
{
    for (int i = 0; i < 10; i++) {
        keep[nkeep++] = malloc(1000); int line = __LINE__;
        if (i == 0) SITE("alloc_a", line, 10000, 10, 10000, 10, 10000);
    }
}

/* Blocks of alloc_b's size, written and freed: its callocs get them back (glibc's per-thread
 * cache holds 7 of a size), so a calloc that did not zero shows. */
__attribute__((noinline)) void dirty_b(void)
{
    void *p[7];
    for (int i = 0; i < 7; i++) p[i] = memset(malloc(333), 0xa5, 333);
    for (int i = 6; i >= 0; i--) free(p[i]);
}

__attribute__((noinline)) void alloc_b(void)
{
    void *p[7];
    int line = 0;
    for (int i = 0; i < 7; i++) { p[i] = calloc(1, 333); line = __LINE__; }
    for (int i = 0; i < 7; i++)
        for (int k = 0; k < 333; k++)
            if (((unsigned char *)p[i])[k]) {
                fprintf(stderr, "calloc: byte %d of block %d is not zero\n", k, i);
                exit(3);
            }
    for (int i = 0; i < 4; i++) free(p[i]);
    for (int i = 4; i < 7; i++) keep[nkeep++] = p[i];
    SITE("alloc_b", line, 999, 3, 2331, 7, 999);
}

static inline __attribute__((always_inline)) void *inlined_c(size_t n, int *line)
{
    void *p = malloc(n); *line = __LINE__;
    memset(p, 1, n);
    return p;
}

__attribute__((noinline)) void outer_d(void)
{
    int line = 0, outer_line = 0;
    for (int i = 0; i < 3; i++) { keep[nkeep++] = inlined_c(4096, &line); outer_line = __LINE__; }
    SITE("inlined_c", line, 12288, 3, 12288, 3, 12288);
    printf("inline inlined_c outer_d %s:%d\n", __FILE__, outer_line);
}

__attribute__((noinline)) void grow_e(void)
{
    char *p = malloc(100); int l1 = __LINE__;
    p = realloc(p, 5000); int l2 = __LINE__;
    keep[nkeep++] = p;
    /* malloc's 100 bytes were freed by realloc; the 5000 are live. Both sites are in grow_e. */
    (void)l1; (void)l2;
    SITE("grow_e", l2, 5000, 1, 5100, 2, 5000);
}

__attribute__((noinline)) void align_f(void)
{
    int line = 0;
    for (int i = 0; i < 2; i++) {
        void *p = NULL;
        if (posix_memalign(&p, 64, 256) == 0) { keep[nkeep++] = p; } line = __LINE__;
    }
    keep[nkeep++] = aligned_alloc(128, 512);
    SITE("align_f", line, 1024, 3, 1024, 3, 512);
}

int main(void)
{
    alloc_a();
    dirty_b();
    alloc_b();
    outer_d();
    grow_e();
    align_f();
    fflush(stdout);
    return 0;
}
