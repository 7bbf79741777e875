/* Unit tests: the stack table (interning, dense ids, concurrent inserts) and the live table
 * (insert/remove, the lock-free filter, stale replacement, growth, concurrency). */
#include <pthread.h>
#include <stdint.h>

#include "profiler/livetab.h"
#include "profiler/profiler.h"
#include "profiler/stacktab.h"
#include "tests/check.h"



static void test_intern(void)
{
    uintptr_t a[3] = { 0x1000, 0x2000, 0x3000 }, b[3] = { 0x1000, 0x2000, 0x3001 };
    uint32_t ia = mp_stack_intern(a, 3, 0), ib = mp_stack_intern(b, 3, 0);
    CHECK(ia != 0 && ib != 0 && ia != ib);
    CHECK_EQ_INT(mp_stack_intern(a, 3, 0), ia);
    CHECK(mp_stack_intern(a, 2, 0) != ia);
    CHECK(mp_stack_intern(a, 3, 7) != ia);
    mp_stack_t *s = mp_stack_get(ia);
    CHECK(s && s->depth == 3 && s->pcs[2] == 0x3000 && s->id == ia);
    CHECK(mp_stack_get(0) == NULL);
    CHECK(mp_stack_get(mp_stack_count() + 1) == NULL);
}

static void *intern_worker(void *arg)
{
    uintptr_t base = (uintptr_t)arg;
    for (uintptr_t i = 0; i < 20000; i++) {
        uintptr_t pcs[2] = { i % 5000, base + i % 5000 };
        if (!mp_stack_intern(pcs, 2, 0)) return (void *)1;
    }
    return NULL;
}

static void test_intern_concurrent(void)
{
    uint32_t before = mp_stack_count();
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, intern_worker, (void *)(uintptr_t)((i % 2) << 20));
    int errors = 0;
    for (int i = 0; i < 4; i++) { void *r; pthread_join(t[i], &r); errors += r != NULL; }
    CHECK_EQ_INT(errors, 0);
    /* two distinct bases x 5000 distinct stacks, each interned once however many threads */
    CHECK_EQ_INT(mp_stack_count() - before, 10000);
    for (uint32_t id = before + 1; id <= mp_stack_count(); id++) {
        mp_stack_t *s = mp_stack_get(id);
        CHECK(s && mp_stack_intern(s->pcs, s->depth, 0) == id);
    }
}

static void test_live_basic(void)
{
    static _Alignas(16) char blocks[64][32];
    mp_block_t b = { .addr = (uintptr_t)blocks[3], .size = 32, .stack = 5 }, out, stale;
    bool ok;
    CHECK(!mp_maybe_tracked(blocks[3]));
    CHECK(!mp_live_insert(&b, &stale, &ok) && ok);
    CHECK(mp_maybe_tracked(blocks[3]));
    CHECK(!mp_maybe_tracked(blocks[4]));
    b.stack = 6;
    CHECK(mp_live_insert(&b, &stale, &ok) && ok && stale.stack == 5);
    CHECK(mp_live_remove((uintptr_t)blocks[3], &out) && out.stack == 6 && out.size == 32);
    CHECK(!mp_maybe_tracked(blocks[3]));
    CHECK(!mp_live_remove((uintptr_t)blocks[3], &out));
}

static void test_live_many(void)
{
    enum { N = 200000 };
    char *mem = malloc((size_t)N * 16);
    size_t before = mp_live_count();
    for (int i = 0; i < N; i++) {
        mp_block_t b = { .addr = (uintptr_t)(mem + (size_t)i * 16), .size = (uint64_t)i, .stack = (uint32_t)i }, s;
        bool ok;
        mp_live_insert(&b, &s, &ok);
        if (!ok) { CHECK(ok); break; }
    }
    CHECK_EQ_INT(mp_live_count() - before, N);
    int wrong = 0;
    for (int i = 0; i < N; i += 2) {
        mp_block_t o;
        if (!mp_live_remove((uintptr_t)(mem + (size_t)i * 16), &o) || o.size != (uint64_t)i) wrong++;
    }
    CHECK_EQ_INT(wrong, 0);
    for (int i = 0; i < N; i++)
        if (mp_maybe_tracked(mem + (size_t)i * 16) != (i & 1)) wrong++;
    CHECK_EQ_INT(wrong, 0);
    for (int i = 1; i < N; i += 2) {
        mp_block_t o;
        if (!mp_live_remove((uintptr_t)(mem + (size_t)i * 16), &o) || o.stack != (uint32_t)i) wrong++;
    }
    CHECK_EQ_INT(wrong, 0);
    CHECK_EQ_INT(mp_live_count(), before);
    free(mem);
}

static void test_live_unaligned_granule(void)
{
    /* Two 8-byte blocks sharing a 16-byte granule (allocators that return 8-aligned blocks). */
    static _Alignas(16) char g[16];
    mp_block_t a = { .addr = (uintptr_t)g, .size = 8, .stack = 1 }, b = { .addr = (uintptr_t)g + 8, .size = 8, .stack = 2 }, s, o;
    bool ok;
    mp_live_insert(&a, &s, &ok);
    mp_live_insert(&b, &s, &ok);
    CHECK(mp_live_remove((uintptr_t)g, &o));
    CHECK(mp_maybe_tracked(g + 8));
    CHECK(mp_live_remove((uintptr_t)g + 8, &o) && o.stack == 2);
    CHECK(!mp_maybe_tracked(g + 8));
}

static void *live_worker(void *arg)
{
    char *mem = arg;
    long bad = 0;
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 10000; i++) {
            mp_block_t b = { .addr = (uintptr_t)(mem + (size_t)i * 16), .size = 16, .stack = 1 }, s;
            bool ok;
            mp_live_insert(&b, &s, &ok);
            bad += !ok;
        }
        for (int i = 0; i < 10000; i++) {
            mp_block_t o;
            bad += !mp_live_remove((uintptr_t)(mem + (size_t)i * 16), &o);
        }
    }
    return (void *)bad;
}

static void test_live_concurrent(void)
{
    char *mem = malloc(4 * 10000 * 16);
    pthread_t t[4];
    size_t before = mp_live_count();
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, live_worker, mem + (size_t)i * 10000 * 16);
    long bad = 0;
    for (int i = 0; i < 4; i++) { void *r; pthread_join(t[i], &r); bad += (long)r; }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(mp_live_count(), before);
    free(mem);
}

int main(void)
{
    RUN(test_intern);
    RUN(test_intern_concurrent);
    RUN(test_live_basic);
    RUN(test_live_many);
    RUN(test_live_unaligned_granule);
    RUN(test_live_concurrent);
    return check_done();
}
