/* tests/unit/hashmap_iter.c - iteration while the map changes: growth (doubling and same-size),
 * deletes, replaces, shrink, clear, auto shrink, several iterators at once, iterators ended
 * early. The rule checked: every entry present for the whole iteration is seen exactly once;
 * anything returned is present at that moment with its current value; nothing is returned
 * twice unless it was deleted and inserted again meanwhile. Keys and values of 8, 24 and 200
 * bytes (the last stored out of line: a freed key read by an iterator fails under ASan). */
#include <stdint.h>
#include <string.h>

#include "hashmap/hashmap.h"
#include "tests/check.h"

/* ---- an allocator that counts what is outstanding ---- */

static long outstanding;
static void *count_alloc(size_t n, void *ctx)
{
    (void)ctx;
    void *p = malloc(n);
    if (p) outstanding++;
    return p;
}
static void count_free(void *p, size_t n, void *ctx)
{
    (void)n;
    (void)ctx;
    outstanding--;
    free(p);
}
static const hm_allocator_t counting = { count_alloc, count_free, NULL };

/* ---- the keys and values of the universe: entry idx, version ver ---- */

typedef struct kind {
    const char *name;
    size_t ks, vs;
} kind_t;

static uint64_t mix(uint64_t i)
{
    uint64_t z = i * 0x9e3779b97f4a7c15ULL + 0x51ed27ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t hash_k(const void *k, uint64_t seed, size_t n) { return hm_hash_bytes(k, n, seed); }
static uint64_t hash24(const void *k, uint64_t seed) { return hash_k(k, seed, 24); }
static uint64_t hash200(const void *k, uint64_t seed) { return hash_k(k, seed, 200); }
static bool eq24(const void *a, const void *b) { return memcmp(a, b, 24) == 0; }
static bool eq200(const void *a, const void *b) { return memcmp(a, b, 200) == 0; }

static const kind_t kinds[] = {
    { "u64->u64", 8, 8 },
    { "k24->v24", 24, 24 },
    { "k200->v200 (indirect)", 200, 200 },
    { "u64->v200 (indirect value)", 8, 200 },
};

static hm_type_t type_of(const kind_t *k)
{
    hm_type_t t = { k->ks, 8, k->vs, 8, hm_hash_u64, hm_eq_u64, 0 };
    if (k->ks == 24) t.hash = hash24, t.eq = eq24;
    if (k->ks == 200) t.hash = hash200, t.eq = eq200;
    return t;
}

static void make_key(const kind_t *k, uint64_t idx, unsigned char *buf)
{
    uint64_t x = mix(idx);
    memcpy(buf, &x, 8);
    for (size_t i = 8; i < k->ks; i += 8) {
        uint64_t y = mix(idx * 31 + i);
        memcpy(buf + i, &y, k->ks - i < 8 ? k->ks - i : 8);
    }
}

/* A value names its entry and version in its first 8 bytes; the rest follows from those. */
static void make_val(const kind_t *k, uint64_t idx, uint64_t ver, unsigned char *buf)
{
    uint64_t x = idx | ver << 32;
    memcpy(buf, &x, 8);
    for (size_t i = 8; i < k->vs; i++) buf[i] = (unsigned char)(x * (i + 1) >> 7);
}

/* ---- reference ---- */

#define U 40000
typedef struct ref {
    const kind_t *k;
    hm_map_t *m;
    uint8_t present[U];
    uint32_t ver[U];
    /* per iteration */
    uint8_t at_start[U], gone[U], seen[U];
    size_t count;
    uint64_t rng;
} ref_t;

static ref_t R;

static uint64_t rnd(void)
{
    R.rng ^= R.rng << 13;
    R.rng ^= R.rng >> 7;
    R.rng ^= R.rng << 17;
    return R.rng;
}

static void r_put(uint64_t idx)
{
    unsigned char kb[256], vb[256];
    make_key(R.k, idx, kb);
    make_val(R.k, idx, ++R.ver[idx], vb);
    bool ins;
    if (hm_put(R.m, kb, vb, &ins) != 0) CHECK(!"hm_put failed");
    if (ins != !R.present[idx]) CHECK(!"inserted flag wrong");
    if (!R.present[idx]) R.count++;
    R.present[idx] = 1;
}

static void r_del(uint64_t idx)
{
    unsigned char kb[256];
    make_key(R.k, idx, kb);
    bool was = hm_del(R.m, kb);
    if (was != R.present[idx]) CHECK(!"hm_del result wrong");
    if (R.present[idx]) R.count--;
    R.present[idx] = 0;
    R.gone[idx] = 1;
}

static void r_clear(void)
{
    hm_clear(R.m);
    for (size_t i = 0; i < U; i++) {
        if (R.present[i]) R.gone[i] = 1;
        R.present[i] = 0;
    }
    R.count = 0;
}

/* One entry returned by an iterator: it must be live, current, and (if it was present all
 * along) new to this iteration. */
static size_t check_entry(const void *kp, const void *vp)
{
    uint64_t x;
    memcpy(&x, vp, 8);
    uint64_t idx = x & 0xffffffffu, ver = x >> 32;
    unsigned char kb[256], vb[256];
    if (idx >= U) return 1;
    make_key(R.k, idx, kb);
    make_val(R.k, idx, R.ver[idx], vb);
    size_t bad = 0;
    if (memcmp(kp, kb, R.k->ks) != 0) bad++;
    if (!R.present[idx] || ver != R.ver[idx] || memcmp(vp, vb, R.k->vs) != 0) bad++;
    if (R.seen[idx] && !R.gone[idx]) bad++;
    if (hm_get(R.m, kp) != vp) bad++;    /* the very stored bytes */
    R.seen[idx]++;
    return bad;
}

static void begin_round(void)
{
    memcpy(R.at_start, R.present, U);
    memset(R.gone, 0, U);
    memset(R.seen, 0, U);
}

static size_t end_round(void)
{
    size_t bad = 0;
    for (size_t i = 0; i < U; i++)
        if (R.at_start[i] && !R.gone[i] && R.seen[i] != 1) bad++;
    return bad;
}

static void setup(const kind_t *k, size_t n, uint64_t seed)
{
    memset(&R, 0, sizeof R);
    R.k = k;
    R.rng = seed | 1;
    hm_type_t t = type_of(k);
    R.m = hm_new_seeded(&t, &counting, seed);
    for (uint64_t i = 0; i < n; i++) r_put(i);
}

static void teardown(void)
{
    hm_free(R.m);
    CHECK_EQ_INT(outstanding, 0);
}

/* What happens between two steps of an iteration. */
typedef void (*mutate_fn)(size_t step);

/* How iterate walks: 0 with hm_iter_next; n > 0 with hm_iter_next_n batches of up to n
 * entries (with batch_mix, one step in three is an hm_iter_next instead). */
static size_t batch_n;
static bool batch_mix;

/* Batches: every entry of a batch is checked before any write (a batch is valid until the
 * next write), then mutate runs once per entry of the batch. */
static size_t iterate_batches(mutate_fn mutate)
{
    hm_iter_t it;
    hm_entry_t out[80];
    size_t bad = 0, step = 0;
    hm_iter_begin(R.m, &it);
    for (;;) {
        size_t got;
        if (batch_mix && rnd() % 3 == 0) got = hm_iter_next(&it, &out[0].key, &out[0].val);
        else got = hm_iter_next_n(&it, out, batch_n);
        if (got == 0) break;
        if (got > batch_n) bad++;
        for (size_t i = 0; i < got; i++) bad += check_entry(out[i].key, out[i].val);
        for (size_t i = 0; i < got; i++, step++)
            if (mutate) mutate(step);
        if (step > 10 * U) {
            bad++;
            hm_iter_end(&it);
            break;
        }
    }
    void *kp, *vp;
    if (hm_iter_next_n(&it, out, batch_n) != 0 || hm_iter_next(&it, &kp, &vp)) bad++;
    return bad + end_round();
}

/* Iterates once with mutate between steps; returns the number of violations. */
static size_t iterate(mutate_fn mutate)
{
    begin_round();
    if (batch_n) return iterate_batches(mutate);
    hm_iter_t it;
    void *kp, *vp;
    size_t bad = 0, step = 0;
    hm_iter_begin(R.m, &it);
    while (hm_iter_next(&it, &kp, &vp)) {
        bad += check_entry(kp, vp);
        if (mutate) mutate(step);
        step++;
        if (step > 10 * U) {
            bad++;
            hm_iter_end(&it);
            break;
        }
    }
    return bad + end_round();
}

/* ---- mutations ---- */

static uint64_t next_new;
static void m_grow(size_t step)      /* inserts: several doublings during one pass */
{
    (void)step;
    for (int i = 0; i < 3 && next_new < U; i++) r_put(next_new++);
}
static void m_delete(size_t step)    /* deletes of seen, unseen and current entries */
{
    (void)step;
    r_del(rnd() % next_new);
    if (rnd() % 4 == 0) r_del(rnd() % next_new);
}
static void m_mixed(size_t step)
{
    (void)step;
    uint64_t r = rnd() % 10;
    if (r < 4 && next_new < U) r_put(next_new++);
    else if (r < 7) r_del(rnd() % next_new);
    else r_put(rnd() % next_new);    /* replace (or insert again) */
}
static void m_shrink(size_t step)
{
    if (step == 50 || step == 400) {
        for (uint64_t i = 0; i < next_new; i++)
            if (rnd() % 4) r_del(i);
        CHECK_EQ_INT(hm_shrink(R.m), 0);
    }
    if (step % 7 == 0) r_del(rnd() % next_new);
}
static void m_clear(size_t step)
{
    if (step == 100) r_clear();
    if (step > 100 && next_new < U) r_put(next_new++);   /* refill: may be seen or not */
}
static void m_autoshrink(size_t step)
{
    (void)step;
    for (int i = 0; i < 8; i++) r_del(rnd() % next_new);
}

/* ---- tests ---- */

static void run_all_kinds(const char *what, size_t n, mutate_fn mut, bool autoshrink)
{
    for (size_t ki = 0; ki < sizeof kinds / sizeof kinds[0]; ki++) {
        for (uint64_t seed = 1; seed <= 6; seed++) {
            setup(&kinds[ki], n, seed * 7919);
            if (autoshrink) hm_set_auto_shrink(R.m, true);
            next_new = n;
            size_t bad = iterate(mut);
            CHECKF(bad == 0, "%s, %s, seed %llu: %zu violations", what, kinds[ki].name,
                   (unsigned long long)seed, bad);
            CHECK_EQ_INT(hm_count(R.m), R.count);
            /* A second, quiet pass sees exactly what is there. */
            bad = iterate(NULL);
            size_t seen = 0;
            for (size_t i = 0; i < U; i++) seen += R.seen[i];
            CHECKF(bad == 0 && seen == R.count, "%s, %s: quiet pass %zu bad, %zu of %zu", what,
                   kinds[ki].name, bad, seen, R.count);
            teardown();
        }
    }
}

static void test_plain(void) { run_all_kinds("plain", 3000, NULL, false); }
static void test_during_growth(void) { run_all_kinds("growth", 100, m_grow, false); }
static void test_deletes(void) { run_all_kinds("deletes", 5000, m_delete, false); }
static void test_mixed(void) { run_all_kinds("mixed", 2000, m_mixed, false); }
static void test_shrink(void) { run_all_kinds("shrink", 6000, m_shrink, false); }
static void test_clear(void) { run_all_kinds("clear", 3000, m_clear, false); }
static void test_auto_shrink(void) { run_all_kinds("auto shrink", 20000, m_autoshrink, true); }

/* An iterator begun while the map is growing (it reads old buckets for new ones). */
static void test_begin_while_growing(void)
{
    for (size_t ki = 0; ki < sizeof kinds / sizeof kinds[0]; ki++) {
        for (uint64_t seed = 1; seed <= 10; seed++) {
            setup(&kinds[ki], 0, seed);
            /* 6.5 * 2^9 = 3328: the 3329th insert starts a growth to B = 10. */
            for (uint64_t i = 0; i < 3329 + seed * 20; i++) r_put(i);
            next_new = 3329 + seed * 20;
            hm_stats_t s;
            hm_stats(R.m, &s);
            CHECK(s.growing);
            size_t bad = iterate(seed % 2 ? m_mixed : m_delete);
            CHECKF(bad == 0, "%s, seed %llu: %zu violations", kinds[ki].name,
                   (unsigned long long)seed, bad);
            teardown();
        }
    }
}

/* Several iterators at once, interleaved with writes; some ended early. */
static void test_many_iterators(void)
{
    setup(&kinds[2], 2000, 42);
    next_new = 2000;
    hm_iter_t its[4];
    for (int i = 0; i < 4; i++) hm_iter_begin(R.m, &its[i]);
    size_t got[4] = { 0 }, bad = 0;
    bool live[4] = { true, true, true, true };
    for (int step = 0; step < 20000; step++) {
        int i = (int)(rnd() % 4);
        if (!live[i]) continue;
        void *kp, *vp;
        if (hm_iter_next(&its[i], &kp, &vp)) {
            got[i]++;
            uint64_t x;
            memcpy(&x, vp, 8);
            if ((x & 0xffffffffu) >= U || !R.present[x & 0xffffffffu]) bad++;
        } else {
            live[i] = false;
        }
        if (step % 3 == 0 && next_new < U) r_put(next_new++);
        if (step % 5 == 0) r_del(rnd() % next_new);
        if (step == 3000) hm_iter_end(&its[3]), live[3] = false;
        if (step == 9000) CHECK_EQ_INT(hm_shrink(R.m), 0);
    }
    for (int i = 0; i < 4; i++) hm_iter_end(&its[i]);
    CHECK_EQ_INT(bad, 0);
    CHECK(got[0] > 0 && got[1] > 0 && got[2] > 0);
    teardown();
}

/* Iterators dropped early keep old arrays alive until hm_iter_end; none leaks. */
static void test_end_early(void)
{
    setup(&kinds[0], 1000, 3);
    next_new = 1000;
    hm_iter_t it;
    void *kp, *vp;
    hm_iter_begin(R.m, &it);
    for (int i = 0; i < 10; i++) CHECK(hm_iter_next(&it, &kp, &vp));
    for (int i = 0; i < 20000; i++) r_put(next_new++);     /* grows several times */
    hm_stats_t s;
    hm_stats(R.m, &s);
    size_t arrays = ((size_t)1 << s.B) + (s.growing ? (size_t)1 << (s.B - 1) : 0);
    CHECK(s.bucket_bytes > (arrays + s.overflow_buckets) * s.bucket_size);  /* old ones kept */
    CHECK(s.retained_bytes > 0);
    long before = outstanding;
    hm_iter_end(&it);
    hm_iter_end(&it);      /* twice: harmless */
    CHECK(outstanding < before);
    hm_stats(R.m, &s);
    arrays = ((size_t)1 << s.B) + (s.growing ? (size_t)1 << (s.B - 1) : 0);
    CHECK_EQ_INT(s.bucket_bytes, (arrays + s.overflow_buckets) * s.bucket_size);
    /* An empty map's iterator ends at once; so does one that hm_iter_next finished. */
    hm_clear(R.m);
    hm_iter_begin(R.m, &it);
    CHECK(!hm_iter_next(&it, &kp, &vp));
    CHECK(!hm_iter_next(&it, &kp, &vp));
    hm_iter_end(&it);
    teardown();
    /* A map freed with an iterator still open frees what that iterator pinned. */
    setup(&kinds[2], 500, 4);
    hm_iter_begin(R.m, &it);
    CHECK(hm_iter_next(&it, &kp, &vp));
    for (uint64_t i = 500; i < 5000; i++) r_put(i);
    teardown();
}

/* The start is random: different iterations of one map begin at different entries. */
static void test_random_start(void)
{
    setup(&kinds[0], 1000, 5);
    uint64_t first[16];
    int distinct = 0;
    for (int r = 0; r < 16; r++) {
        hm_iter_t it;
        void *kp, *vp;
        hm_iter_begin(R.m, &it);
        CHECK(hm_iter_next(&it, &kp, &vp));
        memcpy(&first[r], kp, 8);
        hm_iter_end(&it);
        int dup = 0;
        for (int j = 0; j < r; j++) dup |= first[j] == first[r];
        distinct += !dup;
    }
    CHECK(distinct >= 8);
    teardown();
}

/* Values may be changed through the pointers an iteration returns, and replaced by hm_put. */
static void test_update_in_place(void)
{
    setup(&kinds[0], 5000, 6);
    hm_iter_t it;
    void *kp, *vp;
    hm_iter_begin(R.m, &it);
    size_t n = 0;
    while (hm_iter_next(&it, &kp, &vp)) {
        uint64_t x;
        memcpy(&x, vp, 8);
        uint64_t idx = x & 0xffffffffu;
        unsigned char vb[8];
        make_val(R.k, idx, ++R.ver[idx], vb);
        if (n % 2) memcpy(vp, vb, 8);
        else CHECK_EQ_INT(hm_put(R.m, kp, vb, NULL), 0);    /* key from the map itself */
        n++;
    }
    CHECK_EQ_INT(n, 5000);
    next_new = 5000;
    CHECK_EQ_INT(iterate(NULL), 0);
    teardown();
}

/* The same tests, iterating with batches: of 1 (always one entry at a time), 7 (never room
 * for a whole bucket), 8 and 64 (whole buckets at once, when not growing), and 64 mixed with
 * hm_iter_next on the same iterator. */
static const struct { size_t n; bool mix; } batch_modes[] = {
    { 1, false }, { 7, false }, { 8, false }, { 64, false }, { 64, true },
};
static void each_batch_mode(void (*test)(void))
{
    for (size_t i = 0; i < sizeof batch_modes / sizeof batch_modes[0]; i++) {
        batch_n = batch_modes[i].n;
        batch_mix = batch_modes[i].mix;
        test();
    }
    batch_n = 0;
    batch_mix = false;
}
static void test_batch_plain(void) { each_batch_mode(test_plain); }
static void test_batch_during_growth(void) { each_batch_mode(test_during_growth); }
static void test_batch_deletes(void) { each_batch_mode(test_deletes); }
static void test_batch_mixed(void) { each_batch_mode(test_mixed); }
static void test_batch_shrink(void) { each_batch_mode(test_shrink); }
static void test_batch_clear(void) { each_batch_mode(test_clear); }
static void test_batch_begin_while_growing(void) { each_batch_mode(test_begin_while_growing); }

/* Compares two iterations of a quiet map, entry for entry: the batches return exactly the
 * (key, value) pointers hm_iter_next returns, each once, in any order. Maps with holes
 * (deletes), overflow chains (high load), and growing ones, of every kind. */
static int cmp_entry(const void *a, const void *b)
{
    const hm_entry_t *x = a, *y = b;
    uintptr_t xk = (uintptr_t)x->key, yk = (uintptr_t)y->key;
    if (xk != yk) return xk < yk ? -1 : 1;
    uintptr_t xv = (uintptr_t)x->val, yv = (uintptr_t)y->val;
    return xv < yv ? -1 : xv > yv;
}
static void test_batch_matches_next(void)
{
    static hm_entry_t a[U], b[U];
    const size_t sizes[] = { 1, 7, 100, 832, 1000, 3328, 3329, 6000 };
    for (size_t ki = 0; ki < sizeof kinds / sizeof kinds[0]; ki++) {
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            for (int holes = 0; holes < 2; holes++) {
                setup(&kinds[ki], sizes[si], 100 + si * 2 + (size_t)holes);
                if (holes)
                    for (uint64_t i = 0; i < sizes[si]; i++)
                        if (rnd() % 3 == 0) r_del(i);
                size_t na = 0, nb = 0;
                hm_iter_t it;
                hm_iter_begin(R.m, &it);
                while (na < U && hm_iter_next(&it, &a[na].key, &a[na].val)) na++;
                hm_iter_end(&it);
                const size_t bn = 1 + rnd() % 70;
                hm_iter_begin(R.m, &it);
                for (size_t got; nb + bn <= U && (got = hm_iter_next_n(&it, b + nb, bn)) != 0;) {
                    CHECK(got <= bn);
                    nb += got;
                }
                hm_iter_end(&it);
                CHECKF(na == R.count && nb == R.count, "%s, %zu entries, holes %d: next %zu, "
                       "batches of %zu %zu, count %zu", kinds[ki].name, sizes[si], holes, na, bn,
                       nb, R.count);
                qsort(a, na, sizeof a[0], cmp_entry);
                qsort(b, nb, sizeof b[0], cmp_entry);
                size_t diff = 0;
                for (size_t i = 0; i < na && i < nb; i++) diff += cmp_entry(&a[i], &b[i]) != 0;
                for (size_t i = 1; i < nb; i++) diff += cmp_entry(&b[i - 1], &b[i]) == 0;
                CHECKF(diff == 0, "%s, %zu entries, holes %d: %zu entries differ", kinds[ki].name,
                       sizes[si], holes, diff);
                size_t bad = 0;
                begin_round();
                for (size_t i = 0; i < nb; i++) bad += check_entry(b[i].key, b[i].val);
                CHECK_EQ_INT(bad + end_round(), 0);
                teardown();
            }
        }
    }
}

/* An empty or finished iterator returns 0; n = 0 returns 0 and does not end the iteration. */
static void test_batch_edges(void)
{
    setup(&kinds[0], 0, 9);
    hm_iter_t it;
    hm_entry_t out[16];
    hm_iter_begin(R.m, &it);
    CHECK_EQ_INT(hm_iter_next_n(&it, out, 16), 0);
    CHECK_EQ_INT(hm_iter_next_n(&it, out, 16), 0);
    hm_iter_end(&it);
    for (uint64_t i = 0; i < 20; i++) r_put(i);
    hm_iter_begin(R.m, &it);
    CHECK_EQ_INT(hm_iter_next_n(&it, out, 0), 0);
    size_t total = 0;
    for (size_t got; (got = hm_iter_next_n(&it, out, 16)) != 0;) total += got;
    CHECK_EQ_INT(total, 20);
    CHECK_EQ_INT(hm_iter_next_n(&it, out, 16), 0);
    hm_iter_end(&it);
    teardown();
}

int main(void)
{
    RUN(test_plain);
    RUN(test_during_growth);
    RUN(test_deletes);
    RUN(test_mixed);
    RUN(test_shrink);
    RUN(test_clear);
    RUN(test_auto_shrink);
    RUN(test_begin_while_growing);
    RUN(test_many_iterators);
    RUN(test_end_early);
    RUN(test_random_start);
    RUN(test_update_in_place);
    RUN(test_batch_plain);
    RUN(test_batch_during_growth);
    RUN(test_batch_deletes);
    RUN(test_batch_mixed);
    RUN(test_batch_shrink);
    RUN(test_batch_clear);
    RUN(test_batch_begin_while_growing);
    RUN(test_batch_matches_next);
    RUN(test_batch_edges);
    return check_done();
}
