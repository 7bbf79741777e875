/* Unit tests: the stack table (interning, dense ids, concurrent inserts) and the live table
 * (insert/remove, the lock-free filter, stale replacement, growth, concurrency, claimed
 * pages). */
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>

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
    /* Same leaf frames and outermost frame: one entry of the thread's cache, met in turn. */
    uintptr_t c[4] = { 0x1000, 0x2000, 0x3000, 0x4000 }, d[4] = { 0x1000, 0x2000, 0x3001, 0x4000 };
    uint32_t ic = mp_stack_intern(c, 4, 0), id = mp_stack_intern(d, 4, 0);
    CHECK(ic != 0 && id != 0 && ic != id);
    CHECK_EQ_INT(mp_stack_intern(c, 4, 0), ic);
    CHECK_EQ_INT(mp_stack_intern(d, 4, 0), id);
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

/* The filter's count of tracked blocks in a's 4 KiB page. */
static unsigned page_count(const void *a)
{
    uint64_t *leaf = mp_filter_top[(uintptr_t)a >> MP_FILTER_LEAF_SHIFT];
    return leaf ? *mp_filter_count(leaf, mp_filter_off((uintptr_t)a)) : 0;
}

/* Every whole page of mem (16-byte blocks at i * 16) counts the tracked blocks in it: those
 * with i % step == rem (step 0: none). Returns the pages that disagree. */
static int pages_wrong(char *mem, int n, int step, int rem)
{
    uintptr_t first = ((uintptr_t)mem + 4095) & ~(uintptr_t)4095;
    int wrong = 0;
    for (uintptr_t pg = first; pg + 4096 <= (uintptr_t)mem + (size_t)n * 16; pg += 4096) {
        unsigned want = 0;
        for (uintptr_t a = pg; a < pg + 4096; a += 16) {
            int i = (int)((a - (uintptr_t)mem) / 16);
            if (step && i % step == rem) want++;
        }
        if (page_count((void *)pg) != want) wrong++;
    }
    return wrong;
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
    CHECK_EQ_INT(pages_wrong(mem, N, 1, 0), 0);
    int wrong = 0;
    for (int i = 0; i < N; i += 2) {
        mp_block_t o;
        if (!mp_live_remove((uintptr_t)(mem + (size_t)i * 16), &o) || o.size != (uint64_t)i) wrong++;
    }
    CHECK_EQ_INT(wrong, 0);
    for (int i = 0; i < N; i++)
        if (mp_maybe_tracked(mem + (size_t)i * 16) != (i & 1)) wrong++;
    CHECK_EQ_INT(wrong, 0);
    CHECK_EQ_INT(pages_wrong(mem, N, 2, 1), 0);
    for (int i = 1; i < N; i += 2) {
        mp_block_t o;
        if (!mp_live_remove((uintptr_t)(mem + (size_t)i * 16), &o) || o.stack != (uint32_t)i) wrong++;
    }
    CHECK_EQ_INT(wrong, 0);
    CHECK_EQ_INT(mp_live_count(), before);
    CHECK_EQ_INT(pages_wrong(mem, N, 0, 0), 0);
    free(mem);
}

/* Claimed pages answer "maybe tracked" at every granule, and go on doing so when a record of
 * theirs comes and goes; the pages around them do not; no record is made. */
static void test_live_claim(void)
{
    const size_t pg = 4096;
    char *mem = mmap(NULL, 5 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(mem != MAP_FAILED);
    if (mem == MAP_FAILED) return;
    size_t before = mp_live_count();
    CHECK(mp_live_claim((uintptr_t)mem + pg + 100, 2 * pg));     /* pages 1, 2 and 3 */
    CHECK_EQ_INT(mp_live_count(), before);
    int wrong = 0;
    for (size_t off = 0; off < 5 * pg; off += 16)
        wrong += mp_maybe_tracked(mem + off) != (off >= pg && off < 4 * pg);
    CHECK_EQ_INT(wrong, 0);
    mp_block_t b = { .addr = (uintptr_t)mem + pg + 48, .size = 16, .stack = 1 }, s, o;
    bool ok;
    CHECK(!mp_live_insert(&b, &s, &ok) && ok);
    CHECK(mp_live_remove(b.addr, &o) && o.stack == 1);
    CHECK(mp_maybe_tracked(mem + pg + 48));
    CHECK(!mp_live_remove(b.addr, &o));
    b.addr = (uintptr_t)mem + 4 * pg + 48;                       /* an unclaimed page */
    CHECK(!mp_live_insert(&b, &s, &ok) && ok);
    CHECK(mp_live_remove(b.addr, &o));
    CHECK(!mp_maybe_tracked(mem + 4 * pg + 48));
    CHECK_EQ_INT(mp_live_count(), before);
    munmap(mem, 5 * pg);
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
    CHECK(page_count(g) == 1);
    CHECK(mp_live_remove((uintptr_t)g + 8, &o) && o.stack == 2);
    CHECK(!mp_maybe_tracked(g + 8));
    CHECK(page_count(g) == 0);
}

/* Random inserts (all fields: map ids and sizes past 4 GiB go to the side table), replaces,
 * removes and watches against a plain array, over addresses that all fall into one shard of
 * the table (long probe runs, wrap-around, growth by half, tombstones), then
 * every record is read back through mp_live_foreach and removed. Addresses above user space
 * are refused. */
enum { RN = 3000 };
/* Block i: windows of 16 blocks packed full (the table places blocks by 256-byte window), one
 * window after another, all in one 1 MiB region (the table's shard is the region's). */
#define REF_STRIDE ((size_t)256)
#define REF_REGION ((size_t)1 << 20)
static uintptr_t ref_addr(size_t i);
typedef struct { mp_block_t b; bool live; unsigned watches; } ref_t;
static ref_t ref[RN];
static char *ref_mem;
static long ref_seen, ref_bad;

static void ref_visit(const mp_block_t *b, void *ctx)
{
    (void)ctx;
    if (b->addr < (uintptr_t)ref_mem) return;
    size_t off = b->addr - (uintptr_t)ref_mem, i = off / REF_STRIDE * 16 + off % REF_STRIDE / 16;
    if (off % REF_STRIDE >= 256 || i >= RN) return;
    const ref_t *r = &ref[i];
    ref_seen++;
    if (!r->live || b->size != r->b.size || b->stack != r->b.stack || b->map != r->b.map ||
        MP_BLOCK_ROLE(b) != MP_BLOCK_ROLE(&r->b) || MP_BLOCK_WATCHES(b) != r->watches)
        ref_bad++;
}

static uintptr_t ref_addr(size_t i)
{
    return (uintptr_t)ref_mem + i / 16 * REF_STRIDE + i % 16 * 16;
}

static void test_live_random_against_reference(void)
{
    _Static_assert((RN / 16 + 1) * REF_STRIDE <= REF_REGION, "the blocks fit one region");
    char *raw = malloc(2 * REF_REGION);     /* never written: only its addresses are used */
    ref_mem = (char *)(((uintptr_t)raw + REF_REGION - 1) & ~(uintptr_t)(REF_REGION - 1));
    size_t table_before = mp_live_overhead();
    memset(ref, 0, sizeof ref);
    size_t before = mp_live_count();
    uint64_t x = 0x9e3779b97f4a7c15ull;
    long bad = 0;
    for (int step = 0; step < 400000; step++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t i = (size_t)(x >> 20) % RN;
        ref_t *r = &ref[i];
        uintptr_t a = ref_addr(i);
        mp_block_t o;
        switch ((x >> 8) % 8) {
        case 0: case 1: case 2: {      /* insert or replace */
            uint64_t size = (x >> 40) & 0xffff;
            if ((x & 7) == 1) size |= (uint64_t)((x >> 33) & 0x7f) << 32;   /* past 4 GiB */
            mp_block_t b = { .addr = a, .size = size, .stack = (uint32_t)(x >> 32) | 1,
                             .role = (uint16_t)((x & 3) == 2 ? 3 : 0),
                             .map = (x & 3) == 2 ? (uint32_t)(x >> 48) | 1 : 0 }, st;
            bool ok, had = mp_live_insert(&b, &st, &ok);
            if (had != r->live || !ok) bad++;
            if (had && (st.size != r->b.size || st.stack != r->b.stack || st.map != r->b.map)) bad++;
            r->b = b;
            r->live = true;
            r->watches = 0;
            break;
        }
        case 3: case 4: case 5:         /* remove */
            if (mp_live_remove(a, &o) != r->live) bad++;
            else if (r->live && (o.size != r->b.size || o.stack != r->b.stack || o.map != r->b.map ||
                                 MP_BLOCK_WATCHES(&o) != r->watches)) bad++;
            r->live = false;
            break;
        case 6:                         /* watch a sampled block */
            if (mp_live_watch_sampled(a) != r->live) bad++;
            if (r->live && r->watches < MP_BLOCK_WATCH_MAX) r->watches++;
            break;
        case 7:                         /* unwatch */
            if (r->live && r->watches) {
                mp_live_watch(a, -1);
                if (r->watches < MP_BLOCK_WATCH_MAX) r->watches--;
            }
            break;
        }
        if (bad) { CHECKF(0, "step %d: table and reference disagree", step); break; }
    }
    ref_seen = ref_bad = 0;
    mp_live_foreach(ref_visit, NULL);
    long live = 0;
    for (int i = 0; i < RN; i++) live += ref[i].live;
    CHECK_EQ_INT(ref_bad, 0);
    CHECK_EQ_INT(ref_seen, live);
    for (int i = 0; i < RN; i++) {
        mp_block_t o;
        if (mp_live_remove(ref_addr((size_t)i), &o) != ref[i].live) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    /* One shard held them all and grew by half several times: the tables grew by more than
     * RN slots (16 bytes each) and by less than the first 256 slots of each of 64 shards,
     * which is what blocks spread over the shards would have taken. */
    size_t grew = mp_live_overhead() - table_before;
    CHECKF(grew >= (size_t)RN * 16 && grew < (size_t)64 * 256 * 16, "tables grew by %zu bytes", grew);
    CHECK_EQ_INT(mp_live_count(), before);
    mp_block_t high = { .addr = (uintptr_t)1 << 47, .size = 8, .stack = 1 }, st;
    bool ok;
    CHECK(!mp_live_insert(&high, &st, &ok) && !ok);
    free(raw);
}

/* Churn in one shard: each round every live block goes and as many new ones come, packed 16
 * to a 256-byte window, at addresses the previous rounds did not use (for 43 rounds, then the
 * 1 MiB region wraps around). Removals in packed runs leave tombstones that the new blocks'
 * probes seldom meet. The table is rebuilt at its size when tombstones fill it: after 200
 * rounds it holds no more memory than after the first, and every block is still found. */
enum { TN = 1500, TROUNDS = 200 };
static uintptr_t churn_addr(char *mem, int round, size_t i)
{
    return (uintptr_t)mem + ((size_t)round * TN + i) * 16 % REF_REGION;
}

static void test_live_tombstones_rebuilt(void)
{
    char *raw = malloc(2 * REF_REGION);     /* never written: only its addresses are used */
    char *mem = (char *)(((uintptr_t)raw + REF_REGION - 1) & ~(uintptr_t)(REF_REGION - 1));
    size_t before = mp_live_count(), after_first = 0;
    long bad = 0;
    for (int r = 0; r <= TROUNDS; r++) {
        for (size_t i = 0; i < TN; i++) {
            mp_block_t b = { .addr = churn_addr(mem, r, i), .size = i + 1,
                             .stack = (uint32_t)r + 1 }, st, o;
            bool ok;
            bad += mp_live_insert(&b, &st, &ok) || !ok;
            if (r > 0 && (!mp_live_remove(churn_addr(mem, r - 1, i), &o) || o.size != i + 1 ||
                          o.stack != (uint32_t)r))
                bad++;
        }
        if (r == 1) after_first = mp_live_overhead();
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(mp_live_count() - before, TN);
    CHECKF(mp_live_overhead() <= after_first, "tables grew from %zu to %zu bytes", after_first,
           mp_live_overhead());
    for (size_t i = 0; i < TN; i++) {
        mp_block_t o;
        bad += !mp_live_remove(churn_addr(mem, TROUNDS, i), &o) || o.size != i + 1;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(mp_live_count(), before);
    free(raw);
}

/* Four threads insert and remove blocks of the same pages at once (thread t owns the blocks
 * i with i % 4 == t, so every page and every bitmap word is written by all four): the filter
 * must count every page right, whatever order the writers came in. The last round leaves its
 * blocks in. */
enum { CN = 40000, CROUNDS = 20 };
typedef struct { char *mem; int t; } worker_arg_t;
static void *live_worker(void *arg)
{
    char *mem = ((worker_arg_t *)arg)->mem;
    int t = ((worker_arg_t *)arg)->t;
    long bad = 0;
    for (int round = 0; round < CROUNDS; round++) {
        for (int i = t; i < CN; i += 4) {
            mp_block_t b = { .addr = (uintptr_t)(mem + (size_t)i * 16), .size = 16, .stack = 1 }, s;
            bool ok;
            mp_live_insert(&b, &s, &ok);
            bad += !ok;
        }
        if (round == CROUNDS - 1) break;
        for (int i = t; i < CN; i += 4) {
            mp_block_t o;
            bad += !mp_live_remove((uintptr_t)(mem + (size_t)i * 16), &o);
        }
    }
    return (void *)bad;
}

static void test_live_concurrent(void)
{
    char *mem = malloc((size_t)CN * 16);
    worker_arg_t args[4];
    pthread_t t[4];
    size_t before = mp_live_count();
    for (int i = 0; i < 4; i++) {
        args[i] = (worker_arg_t){ mem, i };
        pthread_create(&t[i], NULL, live_worker, &args[i]);
    }
    long bad = 0;
    for (int i = 0; i < 4; i++) { void *r; pthread_join(t[i], &r); bad += (long)r; }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(mp_live_count() - before, CN);
    CHECK_EQ_INT(pages_wrong(mem, CN, 1, 0), 0);
    int untracked = 0;
    for (int i = 0; i < CN; i++) untracked += !mp_maybe_tracked(mem + (size_t)i * 16);
    CHECK_EQ_INT(untracked, 0);
    for (int i = 0; i < CN; i++) {
        mp_block_t o;
        bad += !mp_live_remove((uintptr_t)(mem + (size_t)i * 16), &o);
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(mp_live_count(), before);
    CHECK_EQ_INT(pages_wrong(mem, CN, 0, 0), 0);
    int tracked = 0;
    for (int i = 0; i < CN; i++) tracked += mp_maybe_tracked(mem + (size_t)i * 16);
    CHECK_EQ_INT(tracked, 0);
    free(mem);
}

int main(void)
{
    RUN(test_intern);
    RUN(test_intern_concurrent);
    RUN(test_live_basic);
    RUN(test_live_random_against_reference);    /* first: its shard must start small */
    RUN(test_live_many);
    RUN(test_live_tombstones_rebuilt);
    RUN(test_live_unaligned_granule);
    RUN(test_live_claim);
    RUN(test_live_concurrent);
    return check_done();
}
