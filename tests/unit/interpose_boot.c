/* Unit tests: the bootstrap arena (interpose/bootstrap.c). Threads racing to take its first
 * blocks all get blocks only once the arena is claimed in the live-block filter: every granule
 * of it answers "maybe tracked", which is how the free hook's one test keeps its blocks from
 * the real free. No record is made for them. */
#include <stdint.h>

#include "interpose/real.h"
#include "profiler/livetab.h"
#include "profiler/profiler.h"
#include "tests/check.h"
#include "tests/together.h"

#define THREADS 4
#define EACH 50

static void *got[THREADS][EACH];
static int unclaimed[THREADS];

static void *taker(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int i = 0; i < EACH; i++) {
        got[t][i] = mp_boot_alloc(24 + (size_t)i, 16);
        /* checked at once: the block may be freed the moment it is handed out */
        if (got[t][i] && !mp_maybe_tracked(got[t][i])) unclaimed[t]++;
    }
    return NULL;
}

static void test_first_blocks_are_claimed(void)
{
    together(THREADS, taker);
    int missing = 0, wrong = 0, outside = 0;
    for (int t = 0; t < THREADS; t++) {
        wrong += unclaimed[t];
        for (int i = 0; i < EACH; i++) {
            if (!got[t][i]) { missing++; continue; }
            outside += !mp_is_boot(got[t][i]);
            CHECK_EQ_INT(mp_boot_size(got[t][i]), 24 + i);
        }
    }
    CHECK_EQ_INT(missing, 0);
    CHECK_EQ_INT(wrong, 0);
    CHECK_EQ_INT(outside, 0);
    int granules = 0;
    for (size_t off = 0; off < MP_BOOT_SIZE; off += 16)
        granules += !mp_maybe_tracked(mp_boot_arena + off);
    CHECK_EQ_INT(granules, 0);
    CHECK(!mp_maybe_tracked((const void *)((uintptr_t)mp_boot_arena + MP_BOOT_SIZE)));
    CHECK_EQ_INT(mp_live_count(), 0);
}

int main(void)
{
    RUN(test_first_blocks_are_claimed);
    return check_done();
}
