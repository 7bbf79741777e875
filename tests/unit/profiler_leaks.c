/* Unit tests: leak classification on hand-built heaps (arrays standing in for blocks). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

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
    RUN(test_indirect_tree);
    RUN(test_indirect_leader_later_in_memory);
    RUN(test_cycle);
    RUN(test_map_retained);
    RUN(test_find);
    RUN(test_long_chain_no_recursion);
    return check_done();
}
