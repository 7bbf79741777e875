/* Unit tests: leak classification on hand-built heaps (arrays standing in for blocks). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "profiler/leaks.h"
#include "tests/check.h"

/* A fake heap: N blocks of 4 words each, sorted by address. */
enum { N = 8 };
static uintptr_t heap[N][4] __attribute__((aligned(16)));
static uintptr_t root[4];
static mp_leak_block_t b[N];

static void reset(void)
{
    memset(heap, 0, sizeof heap);
    memset(root, 0, sizeof root);
    for (int i = 0; i < N; i++) {
        b[i] = (mp_leak_block_t){ .addr = (uintptr_t)heap[i], .size = sizeof heap[i], .stack = (uint32_t)i + 1 };
    }
}

static void classify(void)
{
    mp_range_t r = { (uintptr_t)root, (uintptr_t)(root + 4) };
    CHECK_EQ_INT(mp_leak_classify(b, N, &r, 1), 0);
}

/* mp_leak_sort: small arrays (heapsort) and large ones (radix), addresses over the whole
 * 47-bit range and clustered in one page, duplicates of the high digits; the result is sorted
 * and a permutation (each block keeps its own fields). */
static void test_sort(void)
{
    static const size_t sizes[] = { 0, 1, 7, 4095, 4096, 100000 };
    uint64_t x = 88172645463325252ull;
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        for (int spread = 0; spread < 2; spread++) {
            size_t n = sizes[k];
            mp_leak_block_t *v = calloc(n ? n : 1, sizeof *v);
            uint64_t sum = 0, xsum = 0;
            for (size_t i = 0; i < n; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                uintptr_t a = spread ? (x & (((uintptr_t)1 << 47) - 1)) & ~(uintptr_t)15
                                     : 0x7f0000000000u + (i * 7919 % n) * 16;
                v[i] = (mp_leak_block_t){ .addr = a, .size = 16, .stack = (uint32_t)(a >> 4) };
                sum += a;
                xsum ^= a * 0x9e3779b97f4a7c15ull;
            }
            mp_leak_sort(v, n);
            uint64_t sum2 = 0, xsum2 = 0;
            bool sorted = true, fields = true;
            for (size_t i = 0; i < n; i++) {
                if (i && v[i - 1].addr > v[i].addr) sorted = false;
                if (v[i].stack != (uint32_t)(v[i].addr >> 4)) fields = false;
                sum2 += v[i].addr;
                xsum2 ^= v[i].addr * 0x9e3779b97f4a7c15ull;
            }
            CHECKF(sorted && fields, "n=%zu spread=%d: sorted %d, fields kept %d", n, spread, sorted, fields);
            CHECK(sum == sum2 && xsum == xsum2);
            free(v);
        }
    }
}

static void test_reachable_and_definite(void)
{
    reset();
    root[0] = (uintptr_t)heap[0];           /* start pointer */
    root[1] = (uintptr_t)&heap[1][2];       /* interior pointer counts */
    heap[0][0] = (uintptr_t)heap[2];        /* chain 0 -> 2 */
    classify();
    CHECK_EQ_INT(b[0].cls, MP_LEAK_REACHABLE);
    CHECK_EQ_INT(b[1].cls, MP_LEAK_REACHABLE);
    CHECK_EQ_INT(b[2].cls, MP_LEAK_REACHABLE);
    for (int i = 3; i < N; i++) CHECK_EQ_INT(b[i].cls, MP_LEAK_DEFINITE);
}

/* glibc's malloc points from its state in the C library's data (a root) at chunk headers: for
 * a 24-byte block, the next chunk's header lies 16 bytes in. That word from a root is no
 * program pointer; 8 bytes in, or from a block, an interior pointer still counts. */
static void test_malloc_headers_from_roots(void)
{
    reset();
    for (int i = 0; i < 4; i++) b[i].size = 24;
    root[0] = (uintptr_t)&heap[1][2];       /* block 1: only malloc's header pointer */
    root[1] = (uintptr_t)&heap[2][1];       /* block 2: an interior pointer */
    root[2] = (uintptr_t)heap[0];
    heap[0][0] = (uintptr_t)&heap[3][2];    /* block 3: the same word, from a block */
    classify();
    CHECK_EQ_INT(b[0].cls, MP_LEAK_REACHABLE);
    CHECK_EQ_INT(b[1].cls, MP_LEAK_DEFINITE);
    CHECK_EQ_INT(b[2].cls, MP_LEAK_REACHABLE);
    CHECK_EQ_INT(b[3].cls, MP_LEAK_REACHABLE);
    /* A 16-byte block's next header lies just past its end, where a pointer still counts as
     * the block's: from a root it is malloc's, and 8 bytes in, the program's. An 8-byte block's
     * chunk is the smallest, 32 bytes: its next header is past its end too, never its start. */
    reset();
    b[4].size = b[5].size = 16;
    b[6].size = 8;
    root[0] = (uintptr_t)&heap[4][2];       /* block 4: malloc's header pointer only */
    root[1] = (uintptr_t)&heap[5][1];       /* block 5: an interior pointer */
    root[2] = (uintptr_t)heap[6];           /* block 6: its start */
    classify();
    CHECK_EQ_INT(b[4].cls, MP_LEAK_DEFINITE);
    CHECK_EQ_INT(b[5].cls, MP_LEAK_REACHABLE);
    CHECK_EQ_INT(b[6].cls, MP_LEAK_REACHABLE);
}

static void test_indirect_tree(void)
{
    reset();
    heap[3][0] = (uintptr_t)heap[4];        /* lost 3 -> 4 -> 5 */
    heap[4][1] = (uintptr_t)heap[5];
    root[0] = (uintptr_t)heap[0];
    classify();
    CHECK_EQ_INT(b[3].cls, MP_LEAK_DEFINITE);
    CHECK_EQ_INT(b[4].cls, MP_LEAK_INDIRECT);
    CHECK_EQ_INT(b[5].cls, MP_LEAK_INDIRECT);
    CHECK_EQ_INT(b[4].leader, 4);
}

static void test_indirect_leader_later_in_memory(void)
{
    reset();
    heap[6][0] = (uintptr_t)heap[2];        /* lost 6 -> 2: 2 comes first in address order */
    root[0] = (uintptr_t)heap[0];
    classify();
    CHECK_EQ_INT(b[6].cls, MP_LEAK_DEFINITE);
    CHECK_EQ_INT(b[2].cls, MP_LEAK_INDIRECT);
}

static void test_cycle(void)
{
    reset();
    heap[1][0] = (uintptr_t)heap[2];        /* lost cycle 1 <-> 2 */
    heap[2][0] = (uintptr_t)heap[1];
    heap[3][0] = (uintptr_t)heap[3];        /* self-loop: still definite */
    classify();
    int definite = (b[1].cls == MP_LEAK_DEFINITE) + (b[2].cls == MP_LEAK_DEFINITE);
    int indirect = (b[1].cls == MP_LEAK_INDIRECT) + (b[2].cls == MP_LEAK_INDIRECT);
    CHECK_EQ_INT(definite, 1);
    CHECK_EQ_INT(indirect, 1);
    CHECK_EQ_INT(b[3].cls, MP_LEAK_DEFINITE);
}

static void test_map_retained(void)
{
    reset();
    b[1].map = 7;                            /* block 1 is a map's bucket array */
    root[0] = (uintptr_t)heap[1];
    heap[1][0] = (uintptr_t)heap[2];         /* map entry -> value block 2 -> 3 */
    heap[2][0] = (uintptr_t)heap[3];
    root[1] = (uintptr_t)heap[4];            /* 4 reachable directly and from the map */
    heap[1][1] = (uintptr_t)heap[4];
    classify();
    CHECK_EQ_INT(b[1].cls, MP_LEAK_REACHABLE);
    CHECK_EQ_INT(b[2].cls, MP_LEAK_MAP_RETAINED);
    CHECK_EQ_INT(b[3].cls, MP_LEAK_MAP_RETAINED);
    CHECK_EQ_INT(b[2].via_map, 7);
    CHECK_EQ_INT(b[4].cls, MP_LEAK_REACHABLE);
}

static void test_find(void)
{
    reset();
    CHECK_EQ_INT(mp_leak_find(b, N, (uintptr_t)heap[3]), 3);
    CHECK_EQ_INT(mp_leak_find(b, N, (uintptr_t)heap[3] + 31), 3);
    CHECK_EQ_INT(mp_leak_find(b, N, (uintptr_t)heap[0] - 1), -1);
    b[5].size = 8;
    CHECK_EQ_INT(mp_leak_find(b, N, (uintptr_t)heap[5] + 8), -1);
}

/* Blocks in runs far apart (as brk and mmap'd blocks are): a dense run of small blocks, a run
 * with a 64 KiB block among small ones, and a lone block, 8 MiB and 40 MiB away. Pointers into
 * each run's interiors and block ends, and into the gaps between runs, must resolve exactly. */
static void test_sparse_runs(void)
{
    size_t span = (size_t)48 << 20;
    char *base = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    CHECK(base != MAP_FAILED);
    if (base == MAP_FAILED) return;
    enum { NA = 200, NB = 10 };
    mp_leak_block_t v[NA + NB + 1 + 1];
    size_t n = 0;
    char *ra = base, *rb = base + ((size_t)8 << 20), *rc = base + ((size_t)40 << 20);
    for (int i = 0; i < NA; i++) v[n++] = (mp_leak_block_t){ .addr = (uintptr_t)(ra + 48 * i), .size = 32 };
    for (int i = 0; i < NB; i++) v[n++] = (mp_leak_block_t){ .addr = (uintptr_t)(rb + 64 * i), .size = 64 };
    size_t big = n;
    v[n++] = (mp_leak_block_t){ .addr = (uintptr_t)(rb + 4096), .size = 65536 };
    size_t lone = n;
    v[n++] = (mp_leak_block_t){ .addr = (uintptr_t)rc, .size = 24 };
    uintptr_t roots[6] = {
        (uintptr_t)(ra + 48 * 5 + 31),      /* last byte of A5 */
        (uintptr_t)(ra + 48 * 6 + 32),      /* just past A6: its padding, no block */
        (uintptr_t)(rb - 4096),             /* the gap between runs */
        (uintptr_t)(rc + 100),              /* past the lone block */
        (uintptr_t)(ra + 48 * NA + 100000), /* past run A */
        0,
    };
    memcpy(ra + 48 * 5, &(uintptr_t){ (uintptr_t)(rc + 8) }, sizeof(uintptr_t));          /* A5 -> lone */
    memcpy(rc + 16, &(uintptr_t){ (uintptr_t)(rb + 4096 + 65535) }, sizeof(uintptr_t));   /* lone -> big's last byte */
    memcpy(rb + 4096 + 60000, &(uintptr_t){ (uintptr_t)(ra + 48 * 150) }, sizeof(uintptr_t)); /* big -> A150 */
    memcpy(ra + 48 * 7, &(uintptr_t){ (uintptr_t)(rb + 64 * 3 + 40) }, sizeof(uintptr_t));  /* A7 (lost) -> B3 */
    mp_range_t r = { (uintptr_t)roots, (uintptr_t)(roots + 6) };
    CHECK_EQ_INT(mp_leak_classify(v, n, &r, 1), 0);
    int wrong = 0;
    for (size_t i = 0; i < n; i++) {
        int want = MP_LEAK_DEFINITE;
        if (i == 5 || i == lone || i == big || i == 150) want = MP_LEAK_REACHABLE;
        else if (i == NA + 3) want = MP_LEAK_INDIRECT;
        if (v[i].cls != want) wrong++;
        CHECKF(v[i].cls == want, "block %zu: class %d, want %d", i, v[i].cls, want);
        if (wrong > 3) break;
    }

    /* Differential: words anywhere around the runs (inside, at ends, in and past the gaps)
     * as the only roots, blocks pointing nowhere; a block is reachable exactly when one of the
     * words lies in it by the plain binary search (mp_leak_find, checked in test_find). */
    memset(ra, 0, (size_t)48 * NA);
    memset(rb, 0, 4096 + 65536);
    memset(rc, 0, 24);
    enum { NW = 20000 };
    static uintptr_t words[NW];
    uint64_t x = 0x2545f4914f6cdd1dull;
    const char *anchors[] = { ra, ra + 48 * NA, rb, rb + 4096 + 65536, rc, rc + 24 };
    for (int w = 0; w < NW; w++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        const char *a = anchors[x % 6];
        long off = (long)((x >> 8) % ((w & 1) ? 131072 : 4194304)) - ((w & 1) ? 65536 : 2097152);
        words[w] = (uintptr_t)a + (uintptr_t)off;
    }
    bool want[NA + NB + 2] = { false };
    for (int w = 0; w < NW; w++) {
        long k = mp_leak_find(v, n, words[w]);
        if (k >= 0) want[k] = true;
    }
    mp_range_t rw = { (uintptr_t)words, (uintptr_t)(words + NW) };
    CHECK_EQ_INT(mp_leak_classify(v, n, &rw, 1), 0);
    int bad = 0, reached = 0;
    for (size_t i = 0; i < n; i++) {
        reached += want[i];
        if ((v[i].cls == MP_LEAK_REACHABLE) != want[i] && bad++ < 3)
            CHECKF(0, "block %zu: reachable %d, by binary search %d", i, v[i].cls == MP_LEAK_REACHABLE, want[i]);
    }
    CHECK(reached > 20 && reached < (int)n);    /* the words hit some blocks and miss others */
    munmap(base, span);
}

static void test_long_chain_no_recursion(void)
{
    /* a 1M-block linked list: the explicit work stack must handle depth */
    enum { M = 1000000 };
    uintptr_t *mem = calloc((size_t)M * 2, sizeof *mem);
    mp_leak_block_t *bb = calloc(M, sizeof *bb);
    for (size_t i = 0; i < M; i++) {
        bb[i] = (mp_leak_block_t){ .addr = (uintptr_t)&mem[2 * i], .size = 16 };
        if (i + 1 < M) mem[2 * i] = (uintptr_t)&mem[2 * (i + 1)];
    }
    uintptr_t r0 = (uintptr_t)&mem[0];
    mp_range_t r = { (uintptr_t)&r0, (uintptr_t)(&r0 + 1) };
    CHECK_EQ_INT(mp_leak_classify(bb, M, &r, 1), 0);
    size_t reach = 0;
    for (size_t i = 0; i < M; i++) reach += bb[i].cls == MP_LEAK_REACHABLE;
    CHECK_EQ_INT(reach, M);
    r0 = 0;
    CHECK_EQ_INT(mp_leak_classify(bb, M, &r, 1), 0);
    CHECK_EQ_INT(bb[0].cls, MP_LEAK_DEFINITE);
    CHECK_EQ_INT(bb[M - 1].cls, MP_LEAK_INDIRECT);
    free(mem);
    free(bb);
}

int main(void)
{
    RUN(test_sort);
    RUN(test_reachable_and_definite);
    RUN(test_malloc_headers_from_roots);
    RUN(test_indirect_tree);
    RUN(test_indirect_leader_later_in_memory);
    RUN(test_cycle);
    RUN(test_map_retained);
    RUN(test_find);
    RUN(test_sparse_runs);
    RUN(test_long_chain_no_recursion);
    return check_done();
}
