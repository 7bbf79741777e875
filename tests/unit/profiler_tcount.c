/* Unit tests: the per-thread counter caches (profiler/tcount.c). Two stacks of one set taken
 * in turn both stay in the cache (nothing reaches the shared counters before a snapshot
 * collects); three take turns through evictions; either way the shared counters plus what
 * a collect adds are exactly the events' sums. Events alternate between the two ways in
 * (mp_tcount_add and mp_tcount_add_exact), hits and evictions alike. */
#include <stdint.h>
#include <string.h>

#include "profiler/stacktab.h"
#include "profiler/tcount.h"
#include "tests/check.h"

#define SLOTS 64    /* tcount.c: 64 slots in two-way sets by stack id */

static uint32_t ids[4];
static int64_t want[4][MP_C_COUNT];

static void event(int k, int64_t sign, int64_t bytes)
{
    static unsigned turn;
    mp_tc_event_t ev = { .sign = sign, .alloc = sign > 0, .bytes = bytes };
    if (turn++ % 2)
        mp_tcount_add(ids[k], &ev);
    else
        mp_tcount_add_exact(ids[k], sign, sign > 0, bytes);
    want[k][MP_C_INUSE_OBJ] += sign;
    want[k][MP_C_INUSE_BYTES] += sign * bytes;
    if (sign > 0) {
        want[k][MP_C_ALLOC_OBJ] += 1;
        want[k][MP_C_ALLOC_BYTES] += bytes;
    }
}

static int64_t shared(int k, int c) { return mp_stack_get(ids[k])->c[c]; }

/* Shared counters plus a collect, against the sums of the events. */
static int wrong_totals(void)
{
    uint32_t n = mp_stack_count();
    static int64_t sum[256][MP_C_COUNT];
    memset(sum, 0, sizeof sum);
    if (n >= 256) return -1;
    mp_tcount_collect(sum, n);
    int wrong = 0;
    for (int k = 0; k < 4; k++)
        for (int c = 0; c < MP_C_COUNT; c++) wrong += shared(k, c) + sum[ids[k]][c] != want[k][c];
    return wrong;
}

static void test_one_set(void)
{
    /* ids 1, 1 + 64, 1 + 128 and 1 + 192 share a set (and would share one slot of a
     * direct-mapped cache of 64) */
    for (uintptr_t i = 1; i <= 3 * SLOTS + 1; i++) {
        uintptr_t pcs[1] = { 0x1000 * i };
        uint32_t id = mp_stack_intern(pcs, 1, 0);
        CHECK(id == i);
        if ((id - 1) % SLOTS == 0) ids[(id - 1) / SLOTS] = id;
    }
    for (int i = 0; i < 1000; i++) {
        event(0, 1, 16);
        event(1, 1, 32);
        if (i % 2) event(0, -1, 16);
    }
    CHECK_EQ_INT(shared(0, MP_C_ALLOC_OBJ), 0);     /* both stayed in the cache */
    CHECK_EQ_INT(shared(1, MP_C_ALLOC_OBJ), 0);
    CHECK_EQ_INT(wrong_totals(), 0);
    for (int i = 0; i < 999; i++) event(i % 3 + 1, i % 2 ? -1 : 1, 8 * (i % 3 + 1));
    CHECK(shared(1, MP_C_ALLOC_OBJ) + shared(2, MP_C_ALLOC_OBJ) + shared(3, MP_C_ALLOC_OBJ) > 0);
    CHECK_EQ_INT(wrong_totals(), 0);
}

int main(void)
{
    RUN(test_one_set);
    return check_done();
}
