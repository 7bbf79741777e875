/* tests/unit/hashmap_ops.c - hashmap/ operations, growth at every boundary, key and value
 * layouts, and hm_stats against ground truth computed here: bucket sizes and padding from
 * first principles, bucket and overflow memory from what the allocation hooks report. */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdint.h>
#include <string.h>

#include "hashmap/hashmap.h"
#include "tests/check.h"

/* ---- ground truth from the hooks: live bytes per map and kind of memory ---- */

#define MAXMAPS 64
static struct mem {
    const hm_map_t *m;
    long bytes[4], blocks[4];   /* live, by hm_mem_t */
} mems[MAXMAPS];

static struct mem *mem_of(const hm_map_t *m)
{
    for (int i = 0; i < MAXMAPS; i++)
        if (mems[i].m == m) return &mems[i];
    for (int i = 0; i < MAXMAPS; i++)
        if (!mems[i].m) {
            memset(&mems[i], 0, sizeof mems[i]);
            mems[i].m = m;
            return &mems[i];
        }
    abort();
}

static uint64_t t_created(const hm_map_t *m, const hm_map_info_t *info)
{
    (void)info;
    mem_of(m);
    return 0;
}
static void t_destroyed(const hm_map_t *m) { mem_of(m)->m = NULL; }
static void t_alloc_end(const hm_map_t *m, hm_mem_t what, uint64_t tok, const void *p, size_t n)
{
    (void)tok;
    if (!p) return;
    struct mem *r = mem_of(m);
    r->bytes[what] += (long)n;
    r->blocks[what]++;
}
static void t_freeing(const hm_map_t *m, hm_mem_t what, const void *p, size_t n)
{
    (void)p;
    struct mem *r = mem_of(m);
    r->bytes[what] -= (long)n;
    r->blocks[what]--;
}
static const hm_hooks_t track_hooks = {
    .created = t_created, .destroyed = t_destroyed, .alloc_end = t_alloc_end, .freeing = t_freeing,
};

/* hm_stats agrees with the memory the hooks saw: buckets, overflow buckets, indirect blocks. */
static void check_mem(const hm_map_t *m, const char *where)
{
    hm_stats_t s;
    hm_stats(m, &s);
    struct mem *r = mem_of(m);
    CHECKF((long)s.bucket_bytes == r->bytes[HM_MEM_BUCKETS] + r->bytes[HM_MEM_OVERFLOW],
           "%s: bucket_bytes %zu, hooks %ld + %ld", where, s.bucket_bytes,
           r->bytes[HM_MEM_BUCKETS], r->bytes[HM_MEM_OVERFLOW]);
    CHECKF((long)s.overflow_buckets == r->blocks[HM_MEM_OVERFLOW], "%s: overflow %zu, hooks %ld",
           where, s.overflow_buckets, r->blocks[HM_MEM_OVERFLOW]);
    CHECKF(r->bytes[HM_MEM_OVERFLOW] == r->blocks[HM_MEM_OVERFLOW] * (long)s.bucket_size,
           "%s: overflow blocks are not bucket-sized", where);
    CHECKF((long)s.indirect_bytes == r->bytes[HM_MEM_KEY] + r->bytes[HM_MEM_VALUE],
           "%s: indirect %zu, hooks %ld + %ld", where, s.indirect_bytes, r->bytes[HM_MEM_KEY],
           r->bytes[HM_MEM_VALUE]);
    CHECK_EQ_INT(s.entries, hm_count(m));
    CHECK_EQ_INT(s.buckets, (size_t)1 << s.B);
}

/* ---- helpers ---- */

static const hm_type_t u64_type = { 8, 8, 8, 8, hm_hash_u64, hm_eq_u64, 0 };

/* hashmap/internal.h HM_ONESHOT_BYTES: a growth from an old array of at most this many bytes
 * evacuates it whole in the insert that starts it. */
#define ONESHOT_BYTES ((size_t)32 << 10)

static uint64_t key_of(uint64_t i)     /* distinct, spread (splitmix64 finalizer) */
{
    uint64_t z = i * 0x9e3779b97f4a7c15ULL + 0x1234567ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* One write of the growth tests: every third a delete of the oldest key left (in an old bucket
 * or a new one), else an insert of key n with value n. Returns 1 when the map disagreed. */
static size_t write_step(hm_map_t *m, size_t writes, uint64_t *n, uint64_t *removed)
{
    uint64_t k;
    if (writes % 3 == 2) {
        k = key_of((*removed)++);
        return hm_del(m, &k) ? 0 : 1;
    }
    k = key_of(*n);
    size_t bad = hm_put(m, &k, n, NULL) ? 1 : 0;
    (*n)++;
    return bad;
}


static size_t align_up(size_t x, size_t a) { return (x + a - 1) / a * a; }

/* Smallest B with n <= 6.5 * 2^B. */
static unsigned bmin(size_t n)
{
    unsigned b = 0;
    while (6.5 * (double)((size_t)1 << b) < (double)n) b++;
    return b;
}

/* ---- tests ---- */

static void test_basic_u64(void)
{
    hm_map_t *m = hm_new(&u64_type, NULL);
    CHECK(m != NULL);
    CHECK_EQ_INT(hm_count(m), 0);
    uint64_t k = 42, v = 7;
    CHECK(hm_get(m, &k) == NULL);
    bool ins = false;
    CHECK_EQ_INT(hm_put(m, &k, &v, &ins), 0);
    CHECK(ins);
    CHECK_EQ_INT(hm_count(m), 1);
    uint64_t *p = hm_get(m, &k);
    CHECK(p && *p == 7);
    v = 8;
    CHECK_EQ_INT(hm_put(m, &k, &v, &ins), 0);
    CHECK(!ins);
    CHECK_EQ_INT(hm_count(m), 1);
    p = hm_get(m, &k);
    CHECK(p && *p == 8);
    CHECK_EQ_INT(hm_put(m, &k, NULL, NULL), 0);   /* NULL value: zeros */
    p = hm_get(m, &k);
    CHECK(p && *p == 0);
    uint64_t other = 43;
    CHECK(!hm_del(m, &other));
    CHECK(hm_del(m, &k));
    CHECK(!hm_del(m, &k));
    CHECK(hm_get(m, &k) == NULL);
    CHECK_EQ_INT(hm_count(m), 0);
    /* Key 0 and all-ones are ordinary keys. */
    uint64_t z = 0, ones = UINT64_MAX;
    CHECK_EQ_INT(hm_put(m, &z, &ones, NULL), 0);
    CHECK_EQ_INT(hm_put(m, &ones, &z, NULL), 0);
    p = hm_get(m, &z);
    CHECK(p && *p == UINT64_MAX);
    p = hm_get(m, &ones);
    CHECK(p && *p == 0);
    hm_free(m);
    hm_free(NULL);
}

static void test_many_u64(void)
{
    hm_map_t *m = hm_new(&u64_type, NULL);
    const uint64_t n = 200000;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t k = key_of(i), v = i;
        bool ins;
        CHECK_EQ_INT(hm_put(m, &k, &v, &ins), 0);
        CHECK(ins);
    }
    CHECK_EQ_INT(hm_count(m), n);
    uint64_t bad = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t k = key_of(i), *p = hm_get(m, &k);
        if (!p || *p != i) bad++;
        k = key_of(n + i);
        if (hm_get(m, &k)) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    for (uint64_t i = 0; i < n; i += 3) {
        uint64_t k = key_of(i);
        if (!hm_del(m, &k)) bad++;
    }
    for (uint64_t i = 0; i < n; i++) {
        uint64_t k = key_of(i), *p = hm_get(m, &k);
        if (i % 3 == 0 ? p != NULL : (!p || *p != i)) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(hm_count(m), n - (n + 2) / 3);
    hm_free(m);
}

/* hm_get's inline path for u64 -> 8-byte maps (a small array; a large one, prefetched; not
 * while growing) and the general paths it hands over to: present and absent keys at every
 * stage of a growth to 2^13 buckets (past the prefetch size), keys whose hash has a top byte
 * below 5 (raised to the smallest live tophash, so they share it with hash top byte 5),
 * pointer keys (the same path), an allocator that does not zero, and deletes during an
 * iteration, with the inline path checked after each. */
static void *junk_alloc(size_t n, void *ctx)     /* memory that is not zeroed */
{
    (void)ctx;
    void *p = malloc(n);
    if (p) memset(p, 0xa5, n);
    return p;
}
static void junk_free(void *p, size_t n, void *ctx)
{
    (void)n;
    (void)ctx;
    free(p);
}
static bool get_ok(hm_map_t *m, uint64_t k, bool present, uint64_t v)
{
    uint64_t *p = hm_get(m, &k);
    return present ? p && *p == v : p == NULL;
}
static void test_get_paths(void)
{
    const uint64_t seed = 4242;
    hm_map_t *m = hm_new_seeded(&u64_type, NULL, seed);
    /* keys whose hash's top byte is 0..5: the low ones are stored with tophash 5 */
    uint64_t low[64];
    size_t nlow = 0;
    for (uint64_t i = 0; nlow < 64; i++) {
        uint64_t k = key_of(1000000 + i);
        if ((hm_hash_u64(&k, seed) >> 56) <= 5) low[nlow++] = k;
    }
    size_t bad = 0, n = 0, checks = 0;
    hm_stats_t s;
    for (size_t target = 1; target <= 50000; target = target * 3 / 2 + 1) {
        for (; n < target; n++) {
            uint64_t k = key_of(n);
            if (hm_put(m, &k, &n, NULL)) bad++;
            hm_stats(m, &s);
            if (s.growing || n % 97 == 0) {
                checks++;
                for (uint64_t i = 0; i <= n; i += 1 + n / 64)
                    if (!get_ok(m, key_of(i), true, i) || !get_ok(m, key_of(900000 + i), false, 0)) bad++;
            }
        }
        for (size_t j = 0; j < nlow; j += 2) {      /* every other one present */
            uint64_t v = ~low[j];
            if (hm_put(m, &low[j], &v, NULL)) bad++;
        }
        for (size_t j = 0; j < nlow; j++)
            if (!get_ok(m, low[j], j % 2 == 0, ~low[j])) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    hm_stats(m, &s);
    CHECK((s.bucket_size << s.B) > ((size_t)256 << 10));   /* past the prefetch size */
    CHECK(checks > 1000);

    /* deletes during an iteration: every other entry seen is deleted, with lookups after */
    size_t total = hm_count(m), seen = 0, deleted = 0;
    hm_iter_t it;
    void *kp, *vp;
    hm_iter_begin(m, &it);
    while (hm_iter_next(&it, &kp, &vp)) {
        uint64_t k = *(uint64_t *)kp, v = *(uint64_t *)vp;
        if (!get_ok(m, k, true, v)) bad++;
        if (seen++ % 2 == 0) {
            if (!hm_del(m, &k)) bad++;
            deleted++;
            if (!get_ok(m, k, false, 0)) bad++;
        }
    }
    CHECK_EQ_INT(seen, total);
    CHECK_EQ_INT(hm_count(m), total - deleted);
    CHECK_EQ_INT(bad, 0);
    hm_free(m);

    /* pointer keys and a non-zeroing allocator take the same inline path */
    hm_type_t tp = { sizeof(void *), _Alignof(void *), 8, 8, hm_hash_ptr, hm_eq_ptr, 0 };
    hm_allocator_t junk = { junk_alloc, junk_free, NULL };
    hm_map_t *pm = hm_new(&tp, &junk);
    static char objs[5000];
    for (size_t i = 0; i < sizeof objs; i++) {
        void *k = &objs[i];
        uint64_t v = i * 3;
        if (hm_put(pm, &k, &v, NULL)) bad++;
    }
    for (size_t i = 0; i < sizeof objs; i++) {
        void *k = &objs[i];
        uint64_t *p = hm_get(pm, &k);
        if (!p || *p != i * 3) bad++;
    }
    static char other;
    void *none = &other;
    if (hm_get(pm, &none)) bad++;
    CHECK_EQ_INT(bad, 0);
    hm_free(pm);
}

/* Sequential keys (structured low bits) and keys that differ only in their top bits spread
 * over the buckets: few overflow buckets at the maximum load. */
static void test_hash_spread(void)
{
    hm_set_hooks(&track_hooks);
    for (int pattern = 0; pattern < 3; pattern++) {
        hm_map_t *m = hm_new(&u64_type, NULL);
        size_t n = 6 * 4096 + 2000;      /* B = 12, load ~6.5 */
        for (uint64_t i = 0; i < n; i++) {
            uint64_t k = pattern == 0 ? i : pattern == 1 ? i << 40 : i * 4096;
            CHECK_EQ_INT(hm_put(m, &k, &i, NULL), 0);
        }
        hm_stats_t s;
        hm_stats(m, &s);
        CHECK_EQ_INT(s.B, 12);
        /* Random hashing gives ~20% of buckets an overflow bucket at 6.5 (Go's table); a bad
         * spread gives far more. */
        CHECKF(s.overflow_buckets < s.buckets / 3, "pattern %d: %zu overflow buckets of %zu",
               pattern, s.overflow_buckets, s.buckets);
        check_mem(m, "spread");
        hm_free(m);
    }
    hm_set_hooks(NULL);
}

/* Growth in order: every write evacuates the next two old buckets, so a growth from 2^9 old
 * buckets ends with exactly its 256th write (the insert that started it included); writes
 * meanwhile go to old buckets not evacuated yet (their overflow buckets are counted with the
 * old array's) or to new ones, and every key stays found, inserted or deleted, throughout. */
static void test_growth_in_order(void)
{
    hm_set_hooks(&track_hooks);
    hm_map_t *m = hm_new_seeded(&u64_type, NULL, 777);
    uint64_t n = 0;
    hm_stats_t s;
    for (; n < 3328; n++) {     /* 6.5 * 2^9: full at B = 9 */
        uint64_t k = key_of(n);
        CHECK_EQ_INT(hm_put(m, &k, &n, NULL), 0);
    }
    hm_stats(m, &s);
    CHECK(!s.growing);
    CHECK_EQ_INT(s.B, 9);
    size_t bad = 0, writes = 0;
    uint64_t removed = 0;
    do {
        bad += write_step(m, writes++, &n, &removed);
        hm_stats(m, &s);
        if (s.entries != n - removed) bad++;
        if (writes % 37 == 0 || !s.growing) {
            check_mem(m, "growing in order");
            for (uint64_t i = 0; i < n; i++) {
                uint64_t kk = key_of(i), *p = hm_get(m, &kk);
                if ((i < removed) != (p == NULL) || (p && *p != i)) bad++;
            }
        }
    } while (s.growing && writes < 1000);
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(writes, 256);
    CHECK_EQ_INT(s.B, 10);
    check_mem(m, "grown in order");
    hm_free(m);
    hm_set_hooks(NULL);
}

/* A growth from an old array of 4 MiB or more (the default allocator) gives the evacuated start
 * of the old array back to the kernel as it goes (grow.c, discard_evacuated), and nothing is
 * lost: every key is found throughout, hook-reported memory and hm_stats agree, and ASan
 * sees no leak. Variants: plain (the discarded pages are checked with mincore); an iterator
 * begun before the growth and ended in its middle (it pins the old array: nothing discarded
 * while it lives, chains kept for it); a clear in the middle; a free in the middle. */
static const void *dis_arr;
static size_t dis_bytes;
static void d_alloc_end(const hm_map_t *m, hm_mem_t what, uint64_t tok, const void *p, size_t n)
{
    t_alloc_end(m, what, tok, p, n);
    if (p && what == HM_MEM_BUCKETS) {
        dis_arr = p;
        dis_bytes = n;
    }
}
static const hm_hooks_t discard_hooks = {
    .created = t_created, .destroyed = t_destroyed, .alloc_end = d_alloc_end, .freeing = t_freeing,
};
/* Resident pages of [p, p + n) and their count. */
static size_t resident(const void *p, size_t n, size_t *pages)
{
    const uintptr_t ps = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)p + ps - 1) & ~(ps - 1), hi = ((uintptr_t)p + n) & ~(ps - 1);
    static unsigned char vec[1 << 16];
    *pages = (hi - lo) / ps;
    if (hi <= lo || *pages > sizeof vec || mincore((void *)lo, hi - lo, vec) != 0) return SIZE_MAX;
    size_t r = 0;
    for (size_t i = 0; i < *pages; i++) r += vec[i] & 1;
    return r;
}
static void test_growth_discard(void)
{
    hm_set_hooks(&discard_hooks);
    for (int variant = 0; variant < 4; variant++) {
        hm_map_t *m = hm_new_seeded(&u64_type, NULL, 99 + (uint64_t)variant);
        uint64_t n = 0, removed = 0;
        for (; n < 212992; n++) {       /* 6.5 * 2^15: full at B = 15 */
            uint64_t k = key_of(n);
            CHECK_EQ_INT(hm_put(m, &k, &n, NULL), 0);
        }
        hm_stats_t s;
        hm_stats(m, &s);
        CHECK(s.B == 15 && !s.growing);
        const char *old = dis_arr;
        CHECK_EQ_INT(dis_bytes, s.bucket_size << 15);
        hm_iter_t it;
        void *kp, *vp;
        if (variant == 1) {
            hm_iter_begin(m, &it);
            for (int i = 0; i < 100; i++) CHECK(hm_iter_next(&it, &kp, &vp));
        }
        size_t bad = 0, writes = 0, gone = 0, pages = 0;
        bool freed = false;
        do {
            bad += write_step(m, writes++, &n, &removed);
            if (variant == 1 && writes == 4000)
                while (hm_iter_next(&it, &kp, &vp)) {}
            /* 31000 old buckets (4.4 MiB) evacuated: a whole aligned 2 MiB step of the first
             * 4 MiB is discarded */
            if (variant == 0 && writes == 15500) {
                size_t r = resident(old, (size_t)4 << 20, &pages);
                gone = r == SIZE_MAX ? 0 : pages - r;
            }
            if (writes % 2500 == 0) {
                check_mem(m, "discarding growth");
                for (uint64_t i = 0; i < n; i++) {
                    uint64_t kk = key_of(i), *p = hm_get(m, &kk);
                    if ((i < removed) != (p == NULL) || (p && *p != i)) bad++;
                }
            }
            if (variant == 2 && writes == 8000) {
                hm_clear(m);
                CHECK_EQ_INT(hm_count(m), 0);
                check_mem(m, "cleared while growing");
                n = removed = 0;
            }
            if (variant == 3 && writes == 8000) {
                hm_free(m);
                freed = true;
                break;
            }
            hm_stats(m, &s);
        } while (s.growing && writes < 100000);
        CHECK_EQ_INT(bad, 0);
        if (variant == 0) CHECKF(gone >= 500, "%zu of %zu pages discarded", gone, pages);
        if (freed) continue;
        check_mem(m, "grown, discarding");
        for (uint64_t i = 0; i < n; i++) {
            uint64_t k = key_of(i), *p = hm_get(m, &k);
            if ((i < removed) != (p == NULL) || (p && *p != i)) bad++;
        }
        CHECK_EQ_INT(bad, 0);
        hm_free(m);
    }
    hm_set_hooks(NULL);
}

/* B and the bucket memory at every growth boundary up to B = 12: the map doubles exactly when
 * an insert would take it past 6.5 entries per bucket, keeps both arrays while evacuating, and
 * finds every key throughout. */
static void test_growth_boundaries(void)
{
    hm_set_hooks(&track_hooks);
    hm_map_t *m = hm_new_seeded(&u64_type, NULL, 12345);
    const size_t bs = 8 + 8 * 8 + 8 * 8 + 8;   /* tophash, keys, values, overflow pointer */
    hm_stats_t s;
    hm_stats(m, &s);
    CHECK_EQ_INT(s.bucket_size, bs);
    CHECK_EQ_INT(s.B, 0);
    CHECK_EQ_INT(s.bucket_bytes, bs);
    size_t n = 0, bad = 0, growths = 0;
    bool was_growing = false;
    for (unsigned B = 0; B <= 12; B++) {
        size_t limit = (13u << B) / 2;    /* floor(6.5 * 2^B) */
        while (n < limit + 3) {
            uint64_t k = key_of(n), v = n;
            CHECK_EQ_INT(hm_put(m, &k, &v, NULL), 0);
            n++;
            hm_stats(m, &s);
            if (s.B != bmin(n)) bad++;
            if (s.growing && !was_growing) growths++;
            was_growing = s.growing;
            /* Main array, old array while growing (half the size), overflow buckets. */
            size_t want = ((size_t)1 << s.B) * bs + s.overflow_buckets * bs;
            if (s.growing) want += ((size_t)1 << (s.B - 1)) * bs;
            if (s.bucket_bytes != want) bad++;
            if (n == limit) {
                CHECK_EQ_INT(s.B, B);
            } else if (n == limit + 1) {
                CHECK_EQ_INT(s.B, B + 1);
                /* From an old array of at most ONESHOT_BYTES, the growth ends at once. */
                CHECK(s.growing == ((bs << B) > ONESHOT_BYTES));
            }
            if (n >= limit - 1 && n <= limit + 2) {
                check_mem(m, "boundary");
                for (size_t i = 0; i < n; i++) {
                    uint64_t kk = key_of(i), *p = hm_get(m, &kk);
                    if (!p || *p != i) bad++;
                }
            }
        }
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(growths, 5);    /* into B = 9 .. 13 (into 1 .. 8 the growth ends at once) */
    /* The growth in progress finishes within as many inserts as old buckets (two each). */
    hm_stats(m, &s);
    size_t more = 0;
    while (s.growing) {
        uint64_t k = key_of(n), v = n;
        hm_put(m, &k, &v, NULL);
        n++;
        more++;
        hm_stats(m, &s);
    }
    CHECK(more <= ((size_t)1 << 12));    /* each insert evacuates one old bucket at least */
    check_mem(m, "grown");
    CHECK_EQ_INT(s.bucket_bytes, (((size_t)1 << 13) + s.overflow_buckets) * bs);
    hm_free(m);
    hm_set_hooks(NULL);
}

/* Counts below and at the boundary, B = 0..3, spelled out. */
static void test_growth_small(void)
{
    static const struct { size_t n; unsigned B; } want[] = {
        { 1, 0 }, { 6, 0 }, { 7, 1 }, { 13, 1 }, { 14, 2 }, { 26, 2 }, { 27, 3 }, { 52, 3 }, { 53, 4 },
    };
    for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
        hm_map_t *m = hm_new(&u64_type, NULL);
        for (uint64_t i = 0; i < want[w].n; i++) hm_put(m, &i, &i, NULL);
        hm_stats_t s;
        hm_stats(m, &s);
        CHECKF(s.B == want[w].B, "%zu entries: B %u, want %u", want[w].n, s.B, want[w].B);
        CHECK(s.load_factor == (double)want[w].n / (double)((size_t)1 << s.B));
        hm_free(m);
    }
}

/* ---- layouts: keys and values of many sizes and alignments ---- */

#define BLOB(N, A) typedef struct { _Alignas(A) unsigned char b[N]; } blob##N##_##A##_t; \
    __attribute__((unused)) static uint64_t hash##N##_##A(const void *k, uint64_t seed) \
    { return hm_hash_bytes(k, N, seed); } \
    __attribute__((unused)) static bool eq##N##_##A(const void *a, const void *b) \
    { return memcmp(a, b, N) == 0; }
BLOB(1, 1)
BLOB(3, 1)
BLOB(8, 8)
BLOB(16, 8)
BLOB(16, 16)
BLOB(24, 8)
BLOB(200, 8)
BLOB(12, 4)
BLOB(2, 2)
BLOB(5, 1)
BLOB(32, 32)
BLOB(64, 64)

typedef struct layout_case {
    const char *name;
    size_t ks, ka, vs, va;
    hm_hash_fn hash;
    hm_eq_fn eq;
    size_t bucket_size, padding;    /* spelled out by hand, 0: only the formula */
} layout_case_t;

#define KEY(N, A) sizeof(blob##N##_##A##_t), _Alignof(blob##N##_##A##_t)
#define FN(N, A) hash##N##_##A, eq##N##_##A
static const layout_case_t layouts[] = {
    /* name                   key           value          functions  bucket  padding */
    { "k1 v8",                KEY(1, 1),    KEY(8, 8),     FN(1, 1),   88, 0 },
    { "k16 v8",               KEY(16, 8),   KEY(8, 8),     FN(16, 8), 208, 0 },
    { "k1 v16/16",            KEY(1, 1),    KEY(16, 16),   FN(1, 1),  160, 8 },
    { "k3 v1",                KEY(3, 1),    KEY(1, 1),     FN(3, 1),   48, 0 },
    { "k1 v1",                KEY(1, 1),    KEY(1, 1),     FN(1, 1),   32, 0 },
    { "k3 v16/16",            KEY(3, 1),    KEY(16, 16),   FN(3, 1),  176, 8 },
    { "k12/4 v16/16",         KEY(12, 4),   KEY(16, 16),   FN(12, 4), 256, 16 },
    { "k2/2 v1",              KEY(2, 2),    KEY(1, 1),     FN(2, 2),   40, 0 },
    { "k5 v3",                KEY(5, 1),    KEY(3, 1),     FN(5, 1),   80, 0 },
    { "k24 v1",               KEY(24, 8),   KEY(1, 1),     FN(24, 8), 216, 0 },
    { "k8 v24",               KEY(8, 8),    KEY(24, 8),    FN(8, 8),  272, 0 },
    { "k16/16 v3",            KEY(16, 16),  KEY(3, 1),     FN(16, 16), 176, 8 },
    { "k200 v8 (indirect)",   KEY(200, 8),  KEY(8, 8),     FN(200, 8), 144, 0 },
    { "k8 v200 (indirect)",   KEY(8, 8),    KEY(200, 8),   FN(8, 8),  144, 0 },
    { "k200 v200 (indirect)", KEY(200, 8),  KEY(200, 8),   FN(200, 8), 144, 0 },
    { "k3 v200 (indirect)",   KEY(3, 1),    KEY(200, 8),   FN(3, 1),  104, 0 },
    { "k32/32 v1 (indirect)", KEY(32, 32),  KEY(1, 1),     FN(32, 32), 88, 0 },
    { "k1 v64/64 (indirect)", KEY(1, 1),    KEY(64, 64),   FN(1, 1),   88, 0 },
    { "k8 v0 (set)",          KEY(8, 8),    0, 1,          FN(8, 8),   80, 0 },
};

/* The layout from first principles: 8 tophash bytes, 8 keys, 8 values, an overflow pointer,
 * each part at its alignment; over 128 bytes (or aligned past 16) a slot is a pointer. */
static void expected_layout(const layout_case_t *c, size_t *bsize, size_t *pad, bool *ik, bool *iv)
{
    *ik = c->ks > 128 || c->ka > 16;
    *iv = c->vs > 128 || c->va > 16;
    size_t kslot = *ik ? 8 : align_up(c->ks, c->ka), kal = *ik ? 8 : c->ka;
    size_t vslot = *iv ? 8 : align_up(c->vs, c->va), val = *iv ? 8 : c->va;
    size_t off = align_up(8, kal) + 8 * kslot;     /* keys: after the tophash bytes */
    off = align_up(off, val) + 8 * vslot;
    off = align_up(off, 8) + 8;
    size_t al = 8;
    if (kal > al) al = kal;
    if (val > al) al = val;
    *bsize = align_up(off, al);
    *pad = *bsize - 8 - 8 * (*ik ? 8 : c->ks) - 8 * (*iv ? 8 : c->vs) - 8;
}

static void fill(unsigned char *p, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(key_of(seed * 1000 + i) >> 17);
}

static void run_layout(const layout_case_t *c)
{
    size_t bsize, pad;
    bool ik, iv;
    expected_layout(c, &bsize, &pad, &ik, &iv);
    if (c->bucket_size) {
        CHECKF(bsize == c->bucket_size && pad == c->padding, "%s: formula says %zu/%zu", c->name,
               bsize, pad);
    }
    hm_type_t t = { c->ks, c->ka, c->vs, c->va, c->hash, c->eq, 0 };
    hm_map_t *m = hm_new(&t, NULL);
    CHECK(m != NULL);
    /* Distinct keys: a small key holds only so many. */
    size_t n = c->ks == 1 ? 256 : c->ks == 2 ? 3000 : 3000;
    unsigned char key[256], val[256];
    _Alignas(64) unsigned char kbuf[256];
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        memset(key, 0, sizeof key);
        if (c->ks == 1) key[0] = (unsigned char)i;
        else if (c->ks == 2) memcpy(key, &(uint16_t){ (uint16_t)i }, 2);
        else {
            fill(key, c->ks, i);
            memcpy(key, &(uint16_t){ (uint16_t)i }, 2);    /* distinct */
        }
        fill(val, c->vs, i + 7);
        memcpy(kbuf, key, c->ks);
        bool ins;
        if (hm_put(m, kbuf, val, &ins) != 0 || !ins) bad++;
    }
    CHECK_EQ_INT(hm_count(m), n);
    for (size_t i = 0; i < n; i++) {
        memset(key, 0, sizeof key);
        if (c->ks == 1) key[0] = (unsigned char)i;
        else if (c->ks == 2) memcpy(key, &(uint16_t){ (uint16_t)i }, 2);
        else {
            fill(key, c->ks, i);
            memcpy(key, &(uint16_t){ (uint16_t)i }, 2);
        }
        fill(val, c->vs, i + 7);
        memcpy(kbuf, key, c->ks);
        unsigned char *p = hm_get(m, kbuf);
        if (!p || memcmp(p, val, c->vs) != 0) bad++;
        if (p && ((uintptr_t)p % c->va) != 0) bad++;     /* values aligned as asked */
    }
    CHECKF(bad == 0, "%s: %zu bad", c->name, bad);
    /* Iteration returns aligned keys and values equal to what was stored. */
    hm_iter_t it;
    void *kp, *vp;
    size_t seen = 0;
    hm_iter_begin(m, &it);
    while (hm_iter_next(&it, &kp, &vp)) {
        seen++;
        if ((uintptr_t)kp % c->ka || (c->va && (uintptr_t)vp % c->va)) bad++;
        if (hm_get(m, kp) != vp) bad++;
    }
    CHECK_EQ_INT(seen, n);
    CHECKF(bad == 0, "%s: %zu bad in iteration", c->name, bad);
    hm_stats_t s;
    hm_stats(m, &s);
    CHECKF(s.bucket_size == bsize, "%s: bucket_size %zu, want %zu", c->name, s.bucket_size, bsize);
    size_t nbuckets = ((size_t)1 << s.B) + (s.growing ? (size_t)1 << (s.B - 1) : 0) + s.overflow_buckets;
    CHECKF(s.padding_bytes == nbuckets * pad, "%s: padding %zu, want %zu x %zu", c->name,
           s.padding_bytes, nbuckets, pad);
    CHECK_EQ_INT(s.bucket_bytes, nbuckets * bsize);
    size_t ind = 0;
    if (ik) ind += n * (c->ka > 16 ? c->ks + c->ka - 16 : c->ks);
    if (iv) ind += n * (c->va > 16 ? c->vs + c->va - 16 : c->vs);
    CHECKF(s.indirect_bytes == ind, "%s: indirect %zu, want %zu", c->name, s.indirect_bytes, ind);
    check_mem(m, c->name);
    /* Delete every other entry, then shrink: the rest survives, indirect bytes follow. */
    size_t left = n;
    for (size_t i = 0; i < n; i += 2) {
        memset(key, 0, sizeof key);
        if (c->ks == 1) key[0] = (unsigned char)i;
        else if (c->ks == 2) memcpy(key, &(uint16_t){ (uint16_t)i }, 2);
        else {
            fill(key, c->ks, i);
            memcpy(key, &(uint16_t){ (uint16_t)i }, 2);
        }
        memcpy(kbuf, key, c->ks);
        if (!hm_del(m, kbuf)) bad++;
        left--;
    }
    CHECK_EQ_INT(hm_shrink(m), 0);
    hm_stats(m, &s);
    CHECK_EQ_INT(s.entries, left);
    CHECK_EQ_INT(s.B, bmin(left));
    CHECK_EQ_INT(s.retained_bytes, 0);
    CHECK_EQ_INT(s.indirect_bytes, ind * left / n);
    check_mem(m, c->name);
    for (size_t i = 1; i < n; i += 2) {
        memset(key, 0, sizeof key);
        if (c->ks == 1) key[0] = (unsigned char)i;
        else if (c->ks == 2) memcpy(key, &(uint16_t){ (uint16_t)i }, 2);
        else {
            fill(key, c->ks, i);
            memcpy(key, &(uint16_t){ (uint16_t)i }, 2);
        }
        fill(val, c->vs, i + 7);
        memcpy(kbuf, key, c->ks);
        unsigned char *p = hm_get(m, kbuf);
        if (!p || memcmp(p, val, c->vs) != 0) bad++;
    }
    CHECKF(bad == 0, "%s: %zu bad after shrink", c->name, bad);
    hm_free(m);
}

static void test_layouts(void)
{
    hm_set_hooks(&track_hooks);
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) run_layout(&layouts[i]);
    hm_set_hooks(NULL);
}

/* Keys are C strings compared by content: the map stores the pointer it was given. */
static void test_cstr_keys(void)
{
    hm_type_t t = { sizeof(char *), _Alignof(char *), sizeof(int), _Alignof(int), hm_hash_cstr,
                    hm_eq_cstr, 0 };
    hm_map_t *m = hm_new(&t, NULL);
    static char bufs[2000][16];
    for (int i = 0; i < 2000; i++) {
        snprintf(bufs[i], sizeof bufs[i], "key-%d", i);
        char *k = bufs[i];
        CHECK_EQ_INT(hm_put(m, &k, &i, NULL), 0);
    }
    size_t bad = 0;
    for (int i = 0; i < 2000; i++) {
        char other[16];
        snprintf(other, sizeof other, "key-%d", i);     /* a different pointer, same content */
        char *k = other;
        int *p = hm_get(m, &k);
        if (!p || *p != i) bad++;
        snprintf(other, sizeof other, "nokey-%d", i);
        if (hm_get(m, &k)) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    /* A replace by an equal key stores the new pointer (Go updates string keys too). */
    char fresh[16] = "key-5";
    char *fk = fresh;
    int v = -5;
    bool ins;
    CHECK_EQ_INT(hm_put(m, &fk, &v, &ins), 0);
    CHECK(!ins);
    hm_iter_t it;
    void *kp, *vp;
    bool found = false;
    hm_iter_begin(m, &it);
    while (hm_iter_next(&it, &kp, &vp))
        if (*(int *)vp == -5) found = *(char **)kp == fresh;
    CHECK(found);
    CHECK(hm_del(m, &fk));
    CHECK_EQ_INT(hm_count(m), 1999);
    hm_free(m);
}

static void test_u32_and_ptr_keys(void)
{
    hm_type_t t32 = { 4, 4, 2, 2, hm_hash_u32, hm_eq_u32, 0 };
    hm_map_t *m = hm_new(&t32, NULL);
    for (uint32_t i = 0; i < 50000; i++) {
        uint16_t v = (uint16_t)(i * 3);
        hm_put(m, &i, &v, NULL);
    }
    size_t bad = 0;
    for (uint32_t i = 0; i < 60000; i++) {
        uint16_t *p = hm_get(m, &i);
        if (i < 50000 ? (!p || *p != (uint16_t)(i * 3)) : p != NULL) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    hm_stats_t s;
    hm_stats(m, &s);
    CHECK_EQ_INT(s.bucket_size, 8 + 32 + 16 + 8);
    hm_free(m);

    static int objs[1000];
    hm_type_t tp = { sizeof(void *), _Alignof(void *), 8, 8, hm_hash_ptr, hm_eq_ptr, 0 };
    m = hm_new(&tp, NULL);
    for (int i = 0; i < 1000; i++) {
        void *k = &objs[i];
        uint64_t v = (uint64_t)i;
        hm_put(m, &k, &v, NULL);
    }
    for (int i = 0; i < 1000; i++) {
        void *k = &objs[i];
        uint64_t *p = hm_get(m, &k);
        if (!p || *p != (uint64_t)i) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    hm_free(m);
}

/* The ready-made functions: equal keys hash equal, seeds matter, bytes hash all their bytes. */
static void test_hash_functions(void)
{
    uint64_t a = 12345, b = 12345, c = 12346;
    CHECK(hm_hash_u64(&a, 1) == hm_hash_u64(&b, 1));
    CHECK(hm_hash_u64(&a, 1) != hm_hash_u64(&c, 1));
    CHECK(hm_hash_u64(&a, 1) != hm_hash_u64(&a, 2));
    CHECK(hm_eq_u64(&a, &b) && !hm_eq_u64(&a, &c));
    uint32_t x = 7, y = 7, z = 8;
    CHECK(hm_hash_u32(&x, 9) == hm_hash_u32(&y, 9) && hm_hash_u32(&x, 9) != hm_hash_u32(&z, 9));
    CHECK(hm_eq_u32(&x, &y) && !hm_eq_u32(&x, &z));
    char s1[] = "hello", s2[] = "hello", s3[] = "hellp";
    char *p1 = s1, *p2 = s2, *p3 = s3;
    CHECK(hm_hash_cstr(&p1, 5) == hm_hash_cstr(&p2, 5));
    CHECK(hm_hash_cstr(&p1, 5) != hm_hash_cstr(&p3, 5));
    CHECK(hm_eq_cstr(&p1, &p2) && !hm_eq_cstr(&p1, &p3));
    CHECK(hm_eq_ptr(&p1, &p1) && !hm_eq_ptr(&p1, &p2));
    CHECK(hm_hash_ptr(&p1, 3) != hm_hash_ptr(&p2, 3));
    /* Every length up to 300: changing any one byte changes the hash; so does the length. */
    unsigned char buf[301];
    fill(buf, sizeof buf, 99);
    size_t same = 0;
    for (size_t len = 0; len <= 300; len++) {
        uint64_t h = hm_hash_bytes(buf, len, 77);
        if (len && h == hm_hash_bytes(buf, len - 1, 77)) same++;
        for (size_t i = 0; i < len; i++) {
            buf[i] ^= 0x10;
            if (hm_hash_bytes(buf, len, 77) == h) same++;
            buf[i] ^= 0x10;
        }
        if (hm_hash_bytes(buf, len, 78) == h) same++;
    }
    CHECK_EQ_INT(same, 0);
    /* Top byte and low bits of hm_hash_u64 over sequential keys: roughly uniform. */
    unsigned top[256] = { 0 }, low[256] = { 0 };
    for (uint64_t i = 0; i < 256 * 400; i++) {
        uint64_t h = hm_hash_u64(&i, 5);
        top[h >> 56]++;
        low[h & 255]++;
    }
    unsigned lo = UINT32_MAX, hi = 0;
    for (int i = 0; i < 256; i++) {
        if (top[i] < lo) lo = top[i];
        if (top[i] > hi) hi = top[i];
        if (low[i] < lo) lo = low[i];
        if (low[i] > hi) hi = low[i];
    }
    CHECKF(lo > 300 && hi < 500, "bucket counts %u..%u (expect ~400)", lo, hi);
}

/* Different maps get different seeds; hm_new_seeded fixes the iteration order too. */
static void test_seeds(void)
{
    uint64_t first[2][2];
    for (int r = 0; r < 2; r++) {
        for (int j = 0; j < 2; j++) {
            hm_map_t *m = j == 0 ? hm_new_seeded(&u64_type, NULL, 99) : hm_new(&u64_type, NULL);
            for (uint64_t i = 0; i < 1000; i++) hm_put(m, &i, &i, NULL);
            hm_iter_t it;
            void *k, *v;
            hm_iter_begin(m, &it);
            CHECK(hm_iter_next(&it, &k, &v));
            first[r][j] = *(uint64_t *)k;
            hm_iter_end(&it);
            hm_free(m);
        }
    }
    CHECK(first[0][0] == first[1][0]);   /* seeded: reproducible */
    /* Unseeded maps: the first key of 1000 coincides by chance only; try a few more. */
    int differ = first[0][1] != first[1][1];
    for (int r = 0; r < 5 && !differ; r++) {
        hm_map_t *m = hm_new(&u64_type, NULL);
        for (uint64_t i = 0; i < 1000; i++) hm_put(m, &i, &i, NULL);
        hm_iter_t it;
        void *k, *v;
        hm_iter_begin(m, &it);
        hm_iter_next(&it, &k, &v);
        differ = *(uint64_t *)k != first[0][1];
        hm_iter_end(&it);
        hm_free(m);
    }
    CHECK(differ);
}

/* clear keeps the bucket array, frees overflow and indirect memory, and the map works after. */
static void test_clear(void)
{
    hm_set_hooks(&track_hooks);
    hm_type_t t = { 8, 8, 200, 8, hm_hash_u64, hm_eq_u64, 0 };
    hm_map_t *m = hm_new(&t, NULL);
    unsigned char v[200] = { 1 };
    for (uint64_t i = 0; i < 5000; i++) hm_put(m, &i, v, NULL);
    hm_stats_t s, s2;
    hm_stats(m, &s);
    hm_clear(m);
    hm_stats(m, &s2);
    CHECK_EQ_INT(s2.entries, 0);
    CHECK_EQ_INT(s2.B, s.B);
    CHECK_EQ_INT(s2.overflow_buckets, 0);
    CHECK_EQ_INT(s2.indirect_bytes, 0);
    CHECK(!s2.growing);
    CHECK_EQ_INT(s2.bucket_bytes, ((size_t)1 << s.B) * s.bucket_size);
    check_mem(m, "cleared");
    for (uint64_t i = 0; i < 5000; i++)
        if (hm_get(m, &i)) CHECK(!"found after clear");
    for (uint64_t i = 0; i < 100; i++) hm_put(m, &i, v, NULL);
    CHECK_EQ_INT(hm_count(m), 100);
    check_mem(m, "refilled");
    hm_clear(m);
    hm_clear(m);
    CHECK_EQ_INT(hm_count(m), 0);
    hm_free(m);
    hm_set_hooks(NULL);
}

/* retained_bytes after deletes, then shrink to the smallest B; shrink of a growing map. */
static void test_retained_and_shrink(void)
{
    hm_set_hooks(&track_hooks);
    hm_map_t *m = hm_new(&u64_type, NULL);
    const size_t bs = 144;
    for (uint64_t i = 0; i < 100000; i++) hm_put(m, &i, &i, NULL);
    hm_stats_t s;
    hm_stats(m, &s);
    CHECK_EQ_INT(s.B, bmin(100000));
    CHECK_EQ_INT(s.retained_bytes, s.growing ? ((size_t)1 << (s.B - 1)) * bs : 0);
    for (uint64_t i = 0; i < 99000; i++) hm_del(m, &i);
    hm_stats(m, &s);
    size_t want = (((size_t)1 << s.B) - ((size_t)1 << bmin(1000))) * bs;
    if (s.growing) want += ((size_t)1 << (s.B - 1)) * bs;
    CHECK_EQ_INT(s.retained_bytes, want);
    check_mem(m, "deleted");
    CHECK_EQ_INT(hm_shrink(m), 0);
    hm_stats(m, &s);
    CHECK_EQ_INT(s.B, bmin(1000));
    CHECK_EQ_INT(s.retained_bytes, 0);
    CHECK(!s.growing);
    CHECK_EQ_INT(s.bucket_bytes, (((size_t)1 << s.B) + s.overflow_buckets) * bs);
    check_mem(m, "shrunk");
    size_t bad = 0;
    for (uint64_t i = 0; i < 100000; i++) {
        uint64_t *p = hm_get(m, &i);
        if (i < 99000 ? p != NULL : (!p || *p != i)) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    /* Shrinking a shrunk map changes nothing; shrinking an empty one gives B = 0. */
    CHECK_EQ_INT(hm_shrink(m), 0);
    hm_stats_t s2;
    hm_stats(m, &s2);
    CHECK_EQ_INT(s2.bucket_bytes, s.bucket_bytes);
    for (uint64_t i = 99000; i < 100000; i++) hm_del(m, &i);
    CHECK_EQ_INT(hm_shrink(m), 0);
    hm_stats(m, &s);
    CHECK_EQ_INT(s.B, 0);
    CHECK_EQ_INT(s.bucket_bytes, bs);
    /* Shrink in the middle of a growth finishes it first (1665 > 6.5 * 256: grows to B 9,
     * from an old array over ONESHOT_BYTES, so incrementally). */
    for (uint64_t i = 0; i < 1665; i++) hm_put(m, &i, &i, NULL);
    for (uint64_t i = 0; i < 2; i++) hm_del(m, &i);
    hm_stats(m, &s);
    CHECK(s.growing);
    CHECK_EQ_INT(hm_shrink(m), 0);
    hm_stats(m, &s);
    CHECK(!s.growing);
    CHECK_EQ_INT(s.B, bmin(1663));
    for (uint64_t i = 0; i < 1665; i++) {
        uint64_t *p = hm_get(m, &i);
        if (i < 2 ? p != NULL : (!p || *p != i)) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    check_mem(m, "shrunk while growing");
    hm_free(m);
    hm_set_hooks(NULL);
}

/* Auto shrink: off by default; on, a delete that leaves fewer than 1/8 of 6.5 * 2^B entries
 * shrinks the map to the smallest B. */
static void test_auto_shrink(void)
{
    hm_map_t *m = hm_new(&u64_type, NULL);
    for (uint64_t i = 0; i < 10000; i++) hm_put(m, &i, &i, NULL);
    for (uint64_t i = 0; i < 9990; i++) hm_del(m, &i);
    hm_stats_t s;
    hm_stats(m, &s);
    CHECK_EQ_INT(s.B, bmin(10000));      /* off: stays */
    hm_set_auto_shrink(m, true);
    for (uint64_t i = 0; i < 9990; i++) hm_put(m, &i, &i, NULL);
    hm_stats(m, &s);
    unsigned B = s.B;
    size_t threshold = (size_t)(6.5 * (double)((size_t)1 << B) / 8);  /* count < this shrinks */
    uint64_t next = 0;
    while (hm_count(m) > threshold) {
        hm_del(m, &next);
        next++;
        hm_stats(m, &s);
        CHECK_EQ_INT(s.B, B);
    }
    /* count == 6.5 * 2^B / 8 here, not under it: one more delete is */
    hm_del(m, &next);
    next++;
    hm_stats(m, &s);
    CHECKF(s.B == bmin(hm_count(m)), "B %u after auto shrink at %zu entries", s.B, hm_count(m));
    CHECK(s.B < B);
    size_t bad = 0;
    for (uint64_t i = 0; i < 10000; i++) {
        uint64_t *p = hm_get(m, &i);
        if (i < next ? p != NULL : (!p || *p != i)) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    /* Deleting everything ends at B = 0. */
    for (uint64_t i = 0; i < 10000; i++) hm_del(m, &i);
    hm_stats(m, &s);
    CHECK_EQ_INT(s.B, 0);
    hm_set_auto_shrink(m, false);
    hm_free(m);
}

/* Too many overflow buckets (as many as buckets) regrow the array at the same size: the
 * chains are compacted. Keys hashed by identity put each chain where the test wants it. */
static uint64_t hash_identity(const void *k, uint64_t seed)
{
    (void)seed;
    uint64_t v;
    memcpy(&v, k, 8);
    return v;
}
static int same_size_starts, same_size_ends;
static void g_grow(const hm_map_t *m, unsigned B, bool same, bool finished)
{
    (void)m;
    (void)B;
    if (same) finished ? same_size_ends++ : same_size_starts++;
}
/* One-shot growth of small maps: the insert that starts the growth finishes it, the hooks
 * see start then finish, and the stats are exact right after (bytes as the hooks saw them). */
static int grow_starts, grow_ends;
static void g_count(const hm_map_t *m, unsigned B, bool same, bool finished)
{
    (void)m;
    (void)B;
    (void)same;
    finished ? grow_ends++ : grow_starts++;
}
static void test_growth_oneshot(void)
{
    hm_hooks_t h = track_hooks;
    h.grow = g_count;
    hm_set_hooks(&h);
    hm_map_t *m = hm_new_seeded(&u64_type, NULL, 99);
    hm_stats_t s;
    size_t bad = 0;
    uint64_t n = 0;
    for (unsigned B = 0; B < 8; B++) {      /* old arrays of 144 .. 18432 bytes */
        size_t limit = (13u << B) / 2;
        for (; n < limit; n++) {
            uint64_t k = key_of(n);
            if (hm_put(m, &k, &n, NULL)) bad++;
        }
        int starts = grow_starts, ends = grow_ends;
        uint64_t k = key_of(n);
        if (hm_put(m, &k, &n, NULL)) bad++;
        n++;
        hm_stats(m, &s);
        CHECK_EQ_INT(grow_starts, starts + 1);
        CHECK_EQ_INT(grow_ends, ends + 1);
        CHECK(!s.growing);
        CHECK_EQ_INT(s.B, B + 1);
        CHECK_EQ_INT(s.entries, n);
        CHECK_EQ_INT(s.inserts, n);
        CHECK_EQ_INT(s.bucket_bytes, (((size_t)1 << (B + 1)) + s.overflow_buckets) * 144);
        check_mem(m, "one-shot growth");
        for (uint64_t i = 0; i < n; i++) {
            uint64_t kk = key_of(i), *p = hm_get(m, &kk);
            if (!p || *p != i) bad++;
        }
    }
    CHECK_EQ_INT(bad, 0);
    /* The next growth (from 256 buckets, 36864 bytes) is incremental again. */
    for (; n <= (13u << 8) / 2; n++) {
        uint64_t k = key_of(n);
        hm_put(m, &k, &n, NULL);
    }
    hm_stats(m, &s);
    CHECK(s.growing);
    CHECK_EQ_INT(grow_starts, grow_ends + 1);
    hm_free(m);
    hm_set_hooks(NULL);
}

static void test_same_size_regrow(void)
{
    hm_hooks_t h = track_hooks;
    h.grow = g_grow;
    hm_set_hooks(&h);
    hm_type_t t = { 8, 8, 8, 8, hash_identity, hm_eq_u64, 0 };
    hm_map_t *m = hm_new(&t, NULL);
    for (uint64_t k = 0; k < 27; k++) hm_put(m, &k, &k, NULL);    /* B = 3 */
    for (uint64_t k = 0; k < 27; k++) hm_del(m, &k);
    hm_stats_t s;
    hm_stats(m, &s);
    CHECK_EQ_INT(s.B, 3);
    CHECK_EQ_INT(s.overflow_buckets, 0);
    CHECK(!s.growing);
    /* Nine keys in bucket j: one overflow bucket, which stays when they are deleted. */
    for (uint64_t j = 0; j < 8; j++) {
        for (uint64_t t9 = 0; t9 < 9; t9++) {
            uint64_t k = j + 8 * (100 + t9);
            hm_put(m, &k, &k, NULL);
        }
        for (uint64_t t9 = 0; t9 < 9; t9++) {
            uint64_t k = j + 8 * (100 + t9);
            hm_del(m, &k);
        }
    }
    hm_stats(m, &s);
    CHECK_EQ_INT(s.overflow_buckets, 8);
    CHECK(!s.growing);
    CHECK_EQ_INT(same_size_starts, 0);
    uint64_t k = 5;
    hm_put(m, &k, &k, NULL);        /* the next insert sees 8 overflow buckets for 8 buckets */
    hm_stats(m, &s);
    CHECK_EQ_INT(same_size_starts, 1);
    CHECK_EQ_INT(s.B, 3);
    check_mem(m, "same-size growth");
    for (uint64_t i = 0; i < 8 && s.growing; i++) {
        uint64_t x = 1000 + i * 8;
        hm_put(m, &x, &x, NULL);
        hm_stats(m, &s);
    }
    CHECK(!s.growing);
    CHECK_EQ_INT(same_size_ends, 1);
    CHECK_EQ_INT(s.B, 3);
    CHECK_EQ_INT(s.overflow_buckets, 0);     /* compacted */
    check_mem(m, "regrown");
    uint64_t *p = hm_get(m, &k);
    CHECK(p && *p == 5);
    hm_free(m);
    /* A big map at its normal overflow rate (some 40000 overflow buckets at B = 18, more than
     * 2^15) never regrows at the same size. */
    same_size_starts = 0;
    m = hm_new(&u64_type, NULL);
    for (uint64_t i = 0; i < 1600000; i++) hm_put(m, &i, &i, NULL);
    hm_stats(m, &s);
    CHECK_EQ_INT(s.B, 18);
    CHECK(s.overflow_buckets > 32768);
    CHECK_EQ_INT(same_size_starts, 0);
    hm_free(m);
    hm_set_hooks(NULL);
}

/* Bad types are refused. */
static void test_bad_types(void)
{
    hm_type_t t = u64_type;
    t.hash = NULL;
    CHECK(hm_new(&t, NULL) == NULL);
    t = u64_type;
    t.key_align = 3;
    CHECK(hm_new(&t, NULL) == NULL);
    CHECK(hm_new(NULL, NULL) == NULL);
    hm_allocator_t a = { NULL, NULL, NULL };
    CHECK(hm_new(&u64_type, &a) == NULL);
}

/* A pointer the map gave out may be passed back in, also while the map grows. */
static void test_pointers_from_the_map(void)
{
    hm_map_t *m = hm_new(&u64_type, NULL);
    for (uint64_t i = 0; i < 1000; i++) hm_put(m, &i, &i, NULL);
    size_t bad = 0;
    for (uint64_t i = 0; i < 1000; i++) {
        uint64_t *v = hm_get(m, &i);
        if (hm_put(m, &i, v, NULL) != 0) bad++;     /* value from the map itself */
        v = hm_get(m, &i);                          /* (valid until the next write) */
        uint64_t j = i + 5000;
        if (hm_put(m, &j, v, NULL) != 0) bad++;     /* inserts make it grow meanwhile */
        void *k, *vv;
        hm_iter_t it;
        hm_iter_begin(m, &it);
        if (hm_iter_next(&it, &k, &vv) && hm_put(m, k, vv, NULL) != 0) bad++;  /* both */
        hm_iter_end(&it);
    }
    for (uint64_t i = 0; i < 1000; i++) {
        uint64_t j = i + 5000, *p = hm_get(m, &j);
        if (!p || *p != i) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    hm_free(m);
}

int main(void)
{
    RUN(test_basic_u64);
    RUN(test_many_u64);
    RUN(test_get_paths);
    RUN(test_hash_spread);
    RUN(test_growth_boundaries);
    RUN(test_growth_small);
    RUN(test_growth_in_order);
    RUN(test_growth_discard);
    RUN(test_growth_oneshot);
    RUN(test_layouts);
    RUN(test_cstr_keys);
    RUN(test_u32_and_ptr_keys);
    RUN(test_hash_functions);
    RUN(test_seeds);
    RUN(test_clear);
    RUN(test_retained_and_shrink);
    RUN(test_auto_shrink);
    RUN(test_same_size_regrow);
    RUN(test_bad_types);
    RUN(test_pointers_from_the_map);
    return check_done();
}
