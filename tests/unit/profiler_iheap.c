/* Unit tests: the profiler's private heap (profiler/iheap.c) - class sizes, contents kept
 * across random allocate / resize / free against a reference, reuse of freed blocks, pages
 * of large blocks given back, double frees ignored, concurrent use (lock-free frees
 * against locked allocations), and every block handed out answered for by the live-block
 * filter (its pages claimed), which is how the free hook's one test sends it to the slow path. */
#include <pthread.h>
#include <stdint.h>
#include <sys/resource.h>

#include "profiler/iheap.h"
#include "profiler/profiler.h"
#include "tests/check.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void) { return check_rand(&rng); }

static void fill(unsigned char *p, size_t n, unsigned tag)
{
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(tag * 31 + i * 7);
}

static bool intact(const unsigned char *p, size_t n, unsigned tag)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(tag * 31 + i * 7)) return false;
    return true;
}

static void test_sizes(void)
{
    /* every size gets at least what it asked, 16-aligned, and at most a quarter more (plus
     * the header) past 64 bytes */
    for (size_t n = 0; n < 70000; n += 1 + n / 64) {
        void *p = mp_iheap_alloc(n);
        CHECKF(p != NULL, "n=%zu", n);
        if (!p) continue;
        size_t u = mp_iheap_usable(p);
        CHECKF(u >= n, "n=%zu usable=%zu", n, u);
        CHECKF(n < 64 || u + 16 <= (n + 16) + (n + 16) / 4 + 1, "n=%zu usable=%zu", n, u);
        CHECK(((uintptr_t)p & 15) == 0);
        CHECK(mp_iheap_owns(p));
        CHECKF(mp_maybe_tracked(p), "n=%zu", n);
        mp_iheap_free(p);
    }
    int x;
    CHECK(!mp_iheap_owns(&x));
    CHECK(!mp_iheap_owns(NULL));
}

#define SLOTS 512
static void test_random_against_reference(void)
{
    struct { unsigned char *p; size_t n; unsigned tag; } s[SLOTS] = { { 0 } };
    unsigned tag = 0;
    for (int op = 0; op < 200000; op++) {
        int i = (int)(next_rand() % SLOTS);
        if (s[i].p && !intact(s[i].p, s[i].n, s[i].tag)) {
            CHECKF(0, "slot %d (%zu bytes) overwritten at op %d", i, s[i].n, op);
            return;
        }
        size_t n = next_rand() % 8 == 0 ? next_rand() % 300000 : next_rand() % 600;
        if (!s[i].p) {
            s[i].p = (next_rand() & 1) ? mp_iheap_alloc(n) : mp_iheap_calloc(1, n);
            CHECK(s[i].p != NULL);
            s[i].n = n;
            s[i].tag = ++tag;
            fill(s[i].p, n, tag);
        } else if (next_rand() & 1) {
            /* grow in place to everything the block holds, as realloc does: the other
             * blocks must not notice */
            size_t u = mp_iheap_usable(s[i].p);
            CHECK(u >= s[i].n);
            s[i].n = u;
            s[i].tag = ++tag;
            fill(s[i].p, u, tag);
        } else {
            mp_iheap_free(s[i].p);
            s[i].p = NULL;
        }
    }
    for (int i = 0; i < SLOTS; i++)
        if (s[i].p) {
            CHECK(intact(s[i].p, s[i].n, s[i].tag));
            mp_iheap_free(s[i].p);
        }
}

static void test_reuse_and_double_free(void)
{
    void *a = mp_iheap_alloc(100);
    CHECK(a != NULL);
    mp_iheap_free(a);
    size_t used = mp_iheap_used();
    void *b = mp_iheap_alloc(100);
    CHECK(b == a);                          /* the freed block, not new memory */
    CHECK_EQ_INT(mp_iheap_used(), used);
    mp_iheap_free(b);
    mp_iheap_free(b);                       /* ignored: the list holds it once */
    void *c = mp_iheap_alloc(100), *d = mp_iheap_alloc(100);
    CHECK(c == a && d != c);
    mp_iheap_free(c);
    mp_iheap_free(d);
    /* calloc of a reused block is zero */
    unsigned char *e = mp_iheap_alloc(200);
    memset(e, 0xab, 200);
    mp_iheap_free(e);
    unsigned char *f = mp_iheap_calloc(2, 100);
    CHECK(f == e);
    bool zero = true;
    for (int i = 0; i < 200; i++) zero &= f[i] == 0;
    CHECK(zero);
    mp_iheap_free(f);
}

static long rss_kb(void)
{
    FILE *fp = fopen("/proc/self/statm", "r");
    long size = 0, res = 0;
    if (fp) {
        if (fscanf(fp, "%ld %ld", &size, &res) != 2) res = 0;
        fclose(fp);
    }
    return res * 4;
}

static void test_large_blocks_give_pages_back(void)
{
    size_t n = 64u << 20;
    unsigned char *p = mp_iheap_alloc(n);
    CHECK(p != NULL);
    if (!p) return;
    memset(p, 1, n);
    long touched = rss_kb();
    mp_iheap_free(p);
    long after = rss_kb();
    CHECKF(touched - after > 60 * 1024, "rss %ld kB before free, %ld kB after", touched, after);
    unsigned char *q = mp_iheap_alloc(n);
    CHECK(q == p);
    CHECK(q[n - 1] == 0 && q[n / 2] == 0);   /* pages given back read as zero */
    mp_iheap_free(q);
}

static void test_full_range_refuses(void)
{
    /* the range is finite: past it the caller is told to use the real allocator */
    void *big[8];
    int got = 0;
    for (int i = 0; i < 8; i++) {
        big[i] = mp_iheap_alloc((size_t)100 << 20);
        if (!big[i]) continue;
        got++;
        /* committed in later steps than the first: claimed all the same, to the end */
        CHECK(mp_maybe_tracked(big[i]));
        CHECK(mp_maybe_tracked((char *)big[i] + ((size_t)100 << 20) - 16));
    }
    CHECK(got >= 1 && got < 8);
    CHECK(mp_iheap_alloc((size_t)1 << 40) == NULL);
    for (int i = 0; i < 8; i++)
        if (big[i]) mp_iheap_free(big[i]);
}

static void *worker(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    uint64_t r = 0x1234567 + id;
    unsigned char *mine[64] = { 0 };
    size_t len[64] = { 0 };
    for (int op = 0; op < 100000; op++) {
        r ^= r << 13; r ^= r >> 7; r ^= r << 17;
        int i = (int)(r % 64);
        if (mine[i]) {
            for (size_t k = 0; k < len[i]; k++)
                if (mine[i][k] != (unsigned char)(id + k)) return (void *)1;
            mp_iheap_free(mine[i]);
            mine[i] = NULL;
        } else {
            len[i] = (size_t)(r >> 20) % 2000;
            mine[i] = mp_iheap_alloc(len[i]);
            if (!mine[i]) return (void *)2;
            for (size_t k = 0; k < len[i]; k++) mine[i][k] = (unsigned char)(id + k);
        }
    }
    for (int i = 0; i < 64; i++)
        if (mine[i]) mp_iheap_free(mine[i]);
    return NULL;
}

static void test_concurrent(void)
{
    pthread_t t[4];
    for (uintptr_t i = 0; i < 4; i++) pthread_create(&t[i], NULL, worker, (void *)i);
    for (int i = 0; i < 4; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        CHECKF(rc == NULL, "worker %d: %s", i, rc == (void *)1 ? "block overwritten" : "no memory");
    }
}

int main(void)
{
    CHECK(mp_iheap_init());
    RUN(test_sizes);
    RUN(test_random_against_reference);
    RUN(test_reuse_and_double_free);
    RUN(test_large_blocks_give_pages_back);
    RUN(test_full_range_refuses);
    RUN(test_concurrent);
    return check_done();
}
