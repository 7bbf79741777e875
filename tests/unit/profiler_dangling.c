/* Unit tests: the dangling table (profiler/dangling.c) against a reference, with the key
 * shapes maps give it (consecutive integers, malloc-aligned pointers, 8-byte strides, hashed
 * bytes, one key in two maps), through inserts, replaced values, deletes, frees, a cleared
 * map and a destroyed one. dangling=all, so every entry is kept whatever its pointers are. */
#include <stdint.h>

#include "profiler/dangling.h"
#include "profiler/options.h"
#include "profiler/profiler.h"
#include "profiler/record.h"
#include "profiler/unwind.h"
#include "tests/check.h"

/* What dangling.c takes from record.c and unwind.c, which this test does not link. */
static mp_options_t test_opts;
const mp_options_t *mp_opts(void) { return &test_opts; }
uint32_t mp_now_ms(void) { return 0; }
int mp_unwind_capture(uintptr_t *pcs, int max, int method, uintptr_t from)
{
    (void)pcs, (void)max, (void)method, (void)from;
    return 0;
}

#define PER_MAP 12000
#define NMAPS 5

typedef struct ref {
    uintptr_t key, value;
    bool present;           /* in its map now */
    bool dangling;          /* its value was freed after it went in */
} ref_t;

static ref_t ref[NMAPS][PER_MAP];
static uintptr_t next_block = (uintptr_t)1 << 36;     /* fake block addresses, never touched */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void) { return check_rand(&rng); }

/* Map m's i-th key: map 1 consecutive integers, 2 pointers 16 bytes apart (and map 5 the
 * same ones), 3 integers 8 apart, 4 hashed bytes below 2^47. */
static uintptr_t key_of(int m, int i)
{
    switch (m) {
    case 0: return (uintptr_t)i + 1;
    case 1: case 4: return ((uintptr_t)1 << 40) + (uintptr_t)i * 16;
    case 2: return (uintptr_t)i * 8 + 8;
    default: return (uintptr_t)((rnd() & (((uint64_t)1 << 47) - 1)) | 1);
    }
}

static void put(int m, int i, uintptr_t value)
{
    ref_t *r = &ref[m][i];
    mp_dangling_insert_ex((uint32_t)m + 1, r->key, m == 1 || m == 4, (const void *)value, false);
    r->value = value;
    r->present = true;
    r->dangling = false;
}

/* The block r's value points to is freed (every value is a block of its own). */
static void freed(ref_t *r)
{
    mp_block_t b = { .addr = r->value, .size = 48 };
    mp_dangling_freed(&b);
    r->dangling = r->present;
}

static void test_dangling_table_against_reference(void)
{
    mp_dangling_init((size_t)1 << 20, MP_DANGLING_ALL);
    for (int m = 0; m < NMAPS; m++)
        for (int i = 0; i < PER_MAP; i++) {
            ref[m][i].key = key_of(m, i);
            put(m, i, next_block += 48);
        }
    /* a third of the entries go and a sixth take a new value; then the values of a random
     * eighth of the entries, gone or not, are freed, and some gone ones go in again */
    for (int m = 0; m < NMAPS; m++)
        for (int i = 0; i < PER_MAP; i++) {
            ref_t *r = &ref[m][i];
            uint64_t x = rnd() % 6;
            if (x < 2) {
                mp_dangling_remove((uint32_t)m + 1, (const void *)r->key);
                r->present = false;
            } else if (x == 2) {
                put(m, i, next_block += 48);
            }
        }
    for (int m = 0; m < NMAPS; m++)
        for (int i = 0; i < PER_MAP; i++)
            if (rnd() % 8 == 0) freed(&ref[m][i]);
    for (int m = 0; m < NMAPS; m++)
        for (int i = 0; i < PER_MAP; i += 7)
            if (!ref[m][i].present) put(m, i, ref[m][i].value);   /* freed before: no finding */
    mp_dangling_clear(3);          /* map 3: every entry left */
    mp_dangling_forget_map(5);     /* map 5 destroyed */
    for (int i = 0; i < PER_MAP; i++) ref[2][i].present = ref[4][i].present = false;

    size_t want = 0;
    for (int m = 0; m < NMAPS; m++)
        for (int i = 0; i < PER_MAP; i++) want += ref[m][i].present && ref[m][i].dangling;
    mp_dangling_finding_t *f;
    uint64_t kept, dropped;
    size_t n = mp_dangling_find(&f, &kept, &dropped);
    CHECK(want > 1000);
    CHECK_EQ_INT(n, want);
    CHECK_EQ_INT(dropped, 0);
    size_t matched = 0;
    for (size_t k = 0; k < n; k++) {
        int m = (int)f[k].map - 1;
        for (int i = 0; m >= 0 && m < NMAPS && i < PER_MAP; i++) {
            const ref_t *r = &ref[m][i];
            if (r->key == f[k].key && r->present && r->dangling && r->value == f[k].pointer &&
                f[k].is_value && f[k].certain) {
                matched++;
                break;
            }
        }
    }
    CHECK_EQ_INT(matched, n);
    free(f);
}

int main(void)
{
    RUN(test_dangling_table_against_reference);
    return check_done();
}
