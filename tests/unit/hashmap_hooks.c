/* tests/unit/hashmap_hooks.c - the event protocol, memory through the caller's allocator,
 * out of memory, and the writing flag.
 *
 * A listener checks every event against what it saw before (created first, alloc_begin and
 * alloc_end paired, freeing before the allocator's free of exactly that block, count equal to
 * hm_stats, entry events only for maps that asked, destroyed last, nothing after
 * hm_set_hooks(NULL)) and keeps the live memory per map, which hm_stats must equal. The test
 * allocator knows every block: a free of a block that was not announced, or with a different
 * size, is a failure; it fails on demand and counts what is outstanding. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hashmap/hashmap.h"
#include "tests/check.h"

/* ---- the test allocator: a table of live blocks ---- */

#define NB (1u << 20)
static struct block {
    void *p;
    size_t n;
    const hm_map_t *m;      /* the map whose memory it is (NULL: a map struct) */
    int what;               /* hm_mem_t, -1 for the map struct */
    bool announced;         /* freeing was called for it */
} *blocks;
static long outstanding, alloc_calls, fail_at = -1;    /* fail_at: fail that call number */
static unsigned fail_permille;                          /* or fail at random, this often */
static uint64_t arng = 88172645463325252ULL;
static void *last_alloc;
static int bad_frees;

static size_t slot_of(const void *p)
{
    size_t h = ((uintptr_t)p >> 4) * 0x9e3779b97f4a7c15ULL >> 44;
    while (blocks[h].p && blocks[h].p != p) h = (h + 1) & (NB - 1);
    return h;
}

static void *t_alloc(size_t n, void *ctx)
{
    (void)ctx;
    alloc_calls++;
    bool fail = alloc_calls == fail_at;
    if (fail_permille) {
        arng ^= arng << 13, arng ^= arng >> 7, arng ^= arng << 17;
        fail |= arng % 1000 < fail_permille;
    }
    if (fail) {
        last_alloc = NULL;
        return NULL;
    }
    void *p = malloc(n);
    size_t h = slot_of(p);
    blocks[h] = (struct block){ p, n, NULL, -1, false };
    outstanding++;
    last_alloc = p;
    return p;
}

/* Deletes slot h of the linear-probing table, moving later entries back. */
static void table_del(size_t h)
{
    blocks[h].p = NULL;
    for (size_t j = (h + 1) & (NB - 1); blocks[j].p; j = (j + 1) & (NB - 1)) {
        struct block b = blocks[j];
        blocks[j].p = NULL;
        blocks[slot_of(b.p)] = b;
    }
}

static bool listening;      /* hooks set by this test: frees must be announced */
static int struct_freed_early;
static bool map_alive(const void *m);

static void t_free(void *p, size_t n, void *ctx)
{
    (void)ctx;
    size_t h = slot_of(p);
    if (!blocks[h].p) {
        bad_frees++;
        fprintf(stderr, "  free of an unknown block %p\n", p);
        return;
    }
    if (blocks[h].n != n) bad_frees++;
    if (blocks[h].what >= 0 && !blocks[h].announced && listening) bad_frees++;
    if (blocks[h].what < 0 && map_alive(p)) struct_freed_early++;   /* before destroyed */
    table_del(h);
    outstanding--;
    free(p);
}
static const hm_allocator_t talloc = { t_alloc, t_free, NULL };

/* ---- the listener ---- */

#define MAXM 64
static struct mrec {
    const hm_map_t *m;
    bool alive, wants, pending;
    uint64_t word;          /* what created answered: entry events must carry it back */
    hm_mem_t pwhat;
    uint64_t ptoken;
    long bytes[4], blocks[4];
    long inserts, replaces, removes, counts, grow_starts, grow_ends;
    const hm_map_info_t *info;
    hm_map_info_t info_copy;
} recs[MAXM];
static int violations, events;
static bool want_entries = true;
static uint64_t tokens;

#define VIOLATION(...) do { violations++; fprintf(stderr, "  violation: " __VA_ARGS__); \
                            fputc('\n', stderr); } while (0)

static struct mrec *rec_of(const hm_map_t *m)
{
    for (int i = 0; i < MAXM; i++)
        if (recs[i].m == m && recs[i].alive) return &recs[i];
    return NULL;
}

static bool map_alive(const void *m) { return rec_of(m) != NULL; }

/* hm_stats equals the memory the listener saw. */
static void check_stats(const hm_map_t *m, const struct mrec *r, const char *when)
{
    hm_stats_t s;
    r->info_copy.stats(m, &s);
    if ((long)s.bucket_bytes != r->bytes[HM_MEM_BUCKETS] + r->bytes[HM_MEM_OVERFLOW])
        VIOLATION("%s: bucket_bytes %zu, seen %ld", when, s.bucket_bytes,
                  r->bytes[HM_MEM_BUCKETS] + r->bytes[HM_MEM_OVERFLOW]);
    if ((long)s.overflow_buckets != r->blocks[HM_MEM_OVERFLOW])
        VIOLATION("%s: overflow %zu, seen %ld", when, s.overflow_buckets, r->blocks[HM_MEM_OVERFLOW]);
    if ((long)s.indirect_bytes != r->bytes[HM_MEM_KEY] + r->bytes[HM_MEM_VALUE])
        VIOLATION("%s: indirect %zu, seen %ld", when, s.indirect_bytes,
                  r->bytes[HM_MEM_KEY] + r->bytes[HM_MEM_VALUE]);
}

static uint64_t l_created(const hm_map_t *m, const hm_map_info_t *info)
{
    events++;
    if (rec_of(m)) VIOLATION("created twice");
    for (int i = 0; i < MAXM; i++) {
        if (recs[i].alive) continue;
        memset(&recs[i], 0, sizeof recs[i]);
        recs[i].m = m;
        recs[i].alive = true;
        recs[i].wants = want_entries;
        recs[i].word = want_entries ? ((uint64_t)(i + 1) << 40 | 0x5eed) : 0;
        recs[i].info_copy = *info;
        /* The struct is already allocated: the one block of the allocator not yet owned. */
        size_t h = slot_of(m);
        if (blocks[h].p != m) VIOLATION("map struct not from the allocator");
        if (info->stats != hm_stats || info->max_load != 6.5) VIOLATION("info");
        return recs[i].word;
    }
    abort();
}

static void l_destroyed(const hm_map_t *m)
{
    events++;
    struct mrec *r = rec_of(m);
    if (!r) { VIOLATION("destroyed: unknown map"); return; }
    for (int w = 0; w < 4; w++)
        if (r->bytes[w] || r->blocks[w]) VIOLATION("destroyed with %ld bytes of kind %d live", r->bytes[w], w);
    if (r->pending) VIOLATION("destroyed inside an allocation");
    r->alive = false;
}

static uint64_t l_alloc_begin(const hm_map_t *m, hm_mem_t what)
{
    events++;
    struct mrec *r = rec_of(m);
    if (!r) { VIOLATION("alloc_begin: unknown map"); return 0; }
    if (r->pending) VIOLATION("alloc_begin nested");
    r->pending = true;
    r->pwhat = what;
    r->ptoken = ++tokens * 7919;
    last_alloc = (void *)1;
    return r->ptoken;
}

static void l_alloc_end(const hm_map_t *m, hm_mem_t what, uint64_t token, const void *p, size_t n)
{
    events++;
    struct mrec *r = rec_of(m);
    if (!r) { VIOLATION("alloc_end: unknown map"); return; }
    if (!r->pending || r->pwhat != what || r->ptoken != token) VIOLATION("alloc_end unpaired");
    r->pending = false;
    if (p != last_alloc) VIOLATION("alloc_end: not the block the allocator returned");
    if (!p) return;
    size_t h = slot_of(p);
    if (blocks[h].p != p || blocks[h].n != n) { VIOLATION("alloc_end: block size"); return; }
    blocks[h].m = m;
    blocks[h].what = (int)what;
    r->bytes[what] += (long)n;
    r->blocks[what]++;
}

static void l_freeing(const hm_map_t *m, hm_mem_t what, const void *p, size_t n)
{
    events++;
    struct mrec *r = rec_of(m);
    if (!r) { VIOLATION("freeing: unknown map"); return; }
    size_t h = slot_of(p);
    if (blocks[h].p != p) { VIOLATION("freeing an unknown block"); return; }
    if (blocks[h].m != m || blocks[h].what != (int)what || blocks[h].n != n)
        VIOLATION("freeing: block was %d of %zu bytes, now %d of %zu", blocks[h].what,
                  blocks[h].n, (int)what, n);
    if (blocks[h].announced) VIOLATION("freeing twice");
    blocks[h].announced = true;
    r->bytes[what] -= (long)n;
    r->blocks[what]--;
}

static void l_count(const hm_map_t *m, size_t entries)
{
    events++;
    struct mrec *r = rec_of(m);
    if (!r) { VIOLATION("count: unknown map"); return; }
    r->counts++;
    hm_stats_t s;
    r->info_copy.stats(m, &s);
    if (s.entries != entries) VIOLATION("count %zu, stats %zu", entries, s.entries);
    check_stats(m, r, "count");
}

static void l_grow(const hm_map_t *m, unsigned B, bool same_size, bool finished)
{
    events++;
    struct mrec *r = rec_of(m);
    if (!r) { VIOLATION("grow: unknown map"); return; }
    hm_stats_t s;
    r->info_copy.stats(m, &s);
    if (s.B != B) VIOLATION("grow: B %u, stats %u", B, s.B);
    (void)same_size;
    if (finished) r->grow_ends++;
    else r->grow_starts++;
}

static void l_entry(const hm_map_t *m, uint64_t word, const void *k, const void *v,
                    hm_entry_ev_t ev)
{
    events++;
    struct mrec *r = rec_of(m);
    if (!r) { VIOLATION("entry: unknown map"); return; }
    if (!r->wants) VIOLATION("entry event for a map that did not ask");
    if (word != r->word) VIOLATION("entry event with word %llx, created answered %llx",
                                   (unsigned long long)word, (unsigned long long)r->word);
    if (!k) VIOLATION("entry without key");
    if (ev == HM_ENTRY_REMOVED) {
        if (v) VIOLATION("removal with a value");
        r->removes++;
    } else if (ev == HM_ENTRY_ADDED || ev == HM_ENTRY_STORED) {
        if (!v) VIOLATION("entry without value");
        if (ev == HM_ENTRY_ADDED) r->inserts++;
        else r->replaces++;
    } else {
        VIOLATION("entry event of unknown kind %d", (int)ev);
    }
}

static const hm_hooks_t listener = {
    .created = l_created, .destroyed = l_destroyed, .alloc_begin = l_alloc_begin,
    .alloc_end = l_alloc_end, .freeing = l_freeing, .count = l_count, .grow = l_grow,
    .entry = l_entry,
};

static void listen(bool on)
{
    /* Maps freed while nobody listened leave records behind: their addresses may come back. */
    if (on) memset(recs, 0, sizeof recs);
    listening = on;
    hm_set_hooks(on ? &listener : NULL);
}

/* ---- helpers ---- */

static const hm_type_t u64_type = { 8, 8, 8, 8, hm_hash_u64, hm_eq_u64, 0 };
static uint64_t hash200(const void *k, uint64_t seed) { return hm_hash_bytes(k, 200, seed); }
static bool eq200(const void *a, const void *b) { return memcmp(a, b, 200) == 0; }
static const hm_type_t big_type = { 200, 8, 200, 8, hash200, eq200, 0 };

static uint64_t rng = 0x1234567;
static uint64_t rnd(void) { return check_rand(&rng); }

static void big_key(uint64_t i, unsigned char *k)
{
    memset(k, (int)(i & 0xff), 200);
    memcpy(k, &i, 8);
}

/* ---- tests ---- */

/* The protocol over a mixed workload on several maps. */
static void test_protocol(void)
{
    listen(true);
    violations = 0;
    hm_map_t *maps[4];
    for (int i = 0; i < 4; i++) {
        want_entries = i % 2 == 0;
        maps[i] = hm_new(i < 2 ? &u64_type : &big_type, &talloc);
        CHECK(maps[i] != NULL);
    }
    struct mrec *r0 = rec_of(maps[0]);
    CHECK(r0 && r0->wants && !rec_of(maps[1])->wants);
    CHECK_EQ_INT(r0->info_copy.key_size, 8);
    CHECK_EQ_INT(r0->info_copy.bucket_size, 144);
    CHECK_EQ_INT(rec_of(maps[2])->info_copy.key_slot, 8);     /* indirect: a pointer */
    CHECK_EQ_INT(rec_of(maps[2])->info_copy.val_slot, 8);
    CHECK_EQ_INT(rec_of(maps[2])->info_copy.key_size, 200);
    unsigned char kb[200], vb[200];
    memset(vb, 3, sizeof vb);
    long inserts[4] = { 0 }, replaces[4] = { 0 }, removes[4] = { 0 };
    size_t peak[4] = { 0 };
    for (int step = 0; step < 60000; step++) {
        int i = (int)(rnd() % 4);
        hm_map_t *m = maps[i];
        uint64_t k = rnd() % 3000, r = rnd() % 100;
        if (i >= 2) big_key(k, kb);
        else memcpy(kb, &k, 8);
        if (r < 50) {
            bool ins;
            CHECK_EQ_INT(hm_put(m, kb, vb, &ins), 0);
            if (ins) inserts[i]++;
            else replaces[i]++;
        } else if (r < 90) {
            if (hm_del(m, kb)) removes[i]++;
        } else if (r < 95) {
            hm_get(m, kb);
        } else if (r < 97) {
            CHECK_EQ_INT(hm_shrink(m), 0);
        } else if (r < 98) {
            removes[i] += (long)hm_count(m);
            hm_clear(m);
        } else if (r < 99) {
            hm_set_auto_shrink(m, rnd() % 2);
        } else {
            /* An iteration with writes in it: arrays kept for it are memory too. */
            hm_iter_t it;
            void *kp, *vp;
            hm_iter_begin(m, &it);
            for (int j = 0; j < 200 && hm_iter_next(&it, &kp, &vp); j++) {
                uint64_t x = rnd() % 6000;
                if (i >= 2) big_key(x, kb);
                else memcpy(kb, &x, 8);
                bool ins;
                CHECK_EQ_INT(hm_put(m, kb, vb, &ins), 0);
                if (ins) inserts[i]++;
                else replaces[i]++;
                check_stats(m, rec_of(m), "iterating");
            }
            hm_iter_end(&it);
        }
        if (hm_count(m) > peak[i]) peak[i] = hm_count(m);
        if (step % 97 == 0) check_stats(m, rec_of(m), "step");
    }
    for (int i = 0; i < 4; i++) {
        struct mrec *r = rec_of(maps[i]);
        check_stats(maps[i], r, "end");
        hm_stats_t hs;
        hm_stats(maps[i], &hs);
        CHECK_EQ_INT(hs.inserts, inserts[i]);     /* replacements add no entry */
        CHECK_EQ_INT(hs.removes, removes[i]);
        CHECK_EQ_INT(hs.peak_entries, peak[i]);
        if (r->wants) {     /* new keys as added, puts of keys already there as stored */
            CHECK_EQ_INT(r->inserts, inserts[i]);
            CHECK_EQ_INT(r->replaces, replaces[i]);
            CHECK_EQ_INT(r->removes, removes[i]);
        } else {
            CHECK_EQ_INT(r->inserts + r->replaces + r->removes, 0);
        }
        CHECK(r->counts > 0);
        CHECK(r->grow_starts > 0);
        CHECK(r->grow_ends >= r->grow_starts - 1 && r->grow_ends <= r->grow_starts);
        hm_free(maps[i]);
        CHECK(rec_of(maps[i]) == NULL);   /* destroyed seen */
    }
    CHECK_EQ_INT(violations, 0);
    CHECK_EQ_INT(bad_frees, 0);
    CHECK_EQ_INT(struct_freed_early, 0);
    CHECK_EQ_INT(outstanding, 0);
    listen(false);
}

/* New keys report as added, values stored again under a key already there as stored, and
 * hm_clear reports each entry it removes. */
static void test_entry_events(void)
{
    listen(true);
    want_entries = true;
    hm_map_t *m = hm_new(&big_type, &talloc);
    unsigned char kb[200], vb[200];
    for (uint64_t i = 0; i < 1000; i++) {
        big_key(i, kb);
        memset(vb, (int)i, sizeof vb);
        hm_put(m, kb, vb, NULL);
    }
    struct mrec *r = rec_of(m);
    CHECK_EQ_INT(r->inserts, 1000);
    CHECK_EQ_INT(r->replaces, 0);
    for (uint64_t i = 0; i < 1000; i += 2) {
        big_key(i, kb);
        memset(vb, (int)i + 1, sizeof vb);
        hm_put(m, kb, vb, NULL);
    }
    CHECK_EQ_INT(r->inserts, 1000);
    CHECK_EQ_INT(r->replaces, 500);
    hm_clear(m);
    CHECK_EQ_INT(r->removes, 1000);
    CHECK_EQ_INT(hm_count(m), 0);
    check_stats(m, r, "cleared");
    hm_free(m);
    CHECK_EQ_INT(violations, 0);
    CHECK_EQ_INT(outstanding, 0);
    listen(false);
}

/* Entry events carry pointers to the stored bytes. */
static const void *ev_key, *ev_val;
static void l_entry_ptrs(const hm_map_t *m, uint64_t word, const void *k, const void *v,
                         hm_entry_ev_t ev)
{
    (void)m;
    (void)word;
    (void)ev;
    ev_key = k;
    ev_val = v;
}
static uint64_t l_created_yes(const hm_map_t *m, const hm_map_info_t *info)
{
    (void)m;
    (void)info;
    return 1;
}
static void test_entry_pointers(void)
{
    hm_hooks_t h = { .created = l_created_yes, .entry = l_entry_ptrs };
    hm_set_hooks(&h);
    hm_map_t *m = hm_new(&big_type, NULL);
    unsigned char kb[200], vb[200];
    big_key(7, kb);
    memset(vb, 9, sizeof vb);
    hm_put(m, kb, vb, NULL);
    CHECK(ev_key != kb && memcmp(ev_key, kb, 200) == 0);
    CHECK(ev_val == hm_get(m, kb) && memcmp(ev_val, vb, 200) == 0);
    const void *stored = ev_key;
    hm_del(m, kb);
    CHECK(ev_key == stored && ev_val == NULL);
    hm_free(m);
    /* the inline u64 -> 8-byte insert: an insert and a replace report the stored bytes */
    m = hm_new(&u64_type, NULL);
    for (uint64_t k = 1; k <= 3000; k++) {
        uint64_t v = k * 5;
        bool ins = false;
        hm_put(m, &k, &v, &ins);
        CHECK(ins && ev_key != &k && *(const uint64_t *)ev_key == k);
        CHECK(ev_val == hm_get(m, &k) && *(const uint64_t *)ev_val == k * 5);
        v = k * 7;
        hm_put(m, &k, &v, &ins);
        CHECK(!ins && *(const uint64_t *)ev_key == k);
        CHECK(ev_val == hm_get(m, &k) && *(const uint64_t *)ev_val == k * 7);
    }
    hm_free(m);
    hm_set_hooks(NULL);
}

/* After hm_set_hooks(NULL) nothing is reported, for old maps and new ones. */
static void test_silence(void)
{
    listen(true);
    hm_map_t *old = hm_new(&u64_type, &talloc);
    for (uint64_t i = 0; i < 100; i++) hm_put(old, &i, &i, NULL);
    int before = events;
    CHECK(before > 0);
    hm_set_hooks(NULL);
    listening = false;
    hm_map_t *fresh = hm_new(&u64_type, &talloc);
    for (uint64_t i = 0; i < 5000; i++) {
        hm_put(old, &i, &i, NULL);
        hm_put(fresh, &i, &i, NULL);
    }
    for (uint64_t i = 0; i < 5000; i += 2) {
        hm_del(old, &i);
        hm_del(fresh, &i);
    }
    hm_shrink(old);
    hm_clear(fresh);
    hm_free(old);
    hm_free(fresh);
    CHECK_EQ_INT(events, before);
    CHECK_EQ_INT(outstanding, 0);
    /* A map created under no listener stays unreported when one comes. */
    hm_map_t *quiet = hm_new(&u64_type, &talloc);
    listen(true);
    before = events;
    for (uint64_t i = 0; i < 1000; i++) hm_put(quiet, &i, &i, NULL);
    hm_free(quiet);
    CHECK_EQ_INT(events, before);
    listen(false);
    CHECK_EQ_INT(outstanding, 0);
}

/* Every hook may be NULL. */
/* Every hook may be NULL, the entry hook too when created asks for entry events: adds,
 * stores, deletes and a clear of both layouts call nothing that is not there. */
static void test_null_hooks(void)
{
    hm_hooks_t none = { 0 }, asks = { .created = l_created_yes };
    const hm_hooks_t *sets[2] = { &none, &asks };
    for (int s = 0; s < 2; s++) {
        hm_set_hooks(sets[s]);
        hm_map_t *m = hm_new(&big_type, NULL), *u = hm_new(&u64_type, NULL);
        unsigned char kb[200] = { 0 };
        for (uint64_t i = 0; i < 2000; i++) {
            big_key(i, kb);
            hm_put(m, kb, kb, NULL);
            hm_put(m, kb, kb, NULL);
            hm_put(u, &i, &i, NULL);
            hm_put(u, &i, &i, NULL);
            if (i % 2) {
                hm_del(m, kb);
                hm_del(u, &i);
            }
        }
        CHECK_EQ_INT(hm_count(m), 1000);
        CHECK_EQ_INT(hm_count(u), 1000);
        hm_clear(m);
        hm_free(m);
        hm_free(u);
    }
    hm_set_hooks(NULL);
}

/* ---- out of memory ---- */

/* Is the map exactly the reference? (count, every key and value, iteration) */
static size_t same_as(hm_map_t *m, const uint8_t *present, const uint64_t *val, size_t n, bool big)
{
    size_t bad = 0, count = 0;
    unsigned char kb[200];
    for (uint64_t i = 0; i < n; i++) {
        if (big) big_key(i, kb);
        else memcpy(kb, &i, 8);
        uint64_t *p = hm_get(m, kb);
        if (present[i] ? (!p || *p != val[i]) : p != NULL) bad++;
        count += present[i];
    }
    if (hm_count(m) != count) bad++;
    hm_iter_t it;
    void *kp, *vp;
    size_t seen = 0;
    hm_iter_begin(m, &it);
    while (hm_iter_next(&it, &kp, &vp)) seen++;
    if (seen != count) bad++;
    return bad;
}

/* Fail the Nth allocation, for every N over a growing workload: hm_new gives NULL, or hm_put
 * gives ENOMEM and the map is unchanged; then the map goes on working; nothing leaks. */
static void test_fail_nth(void)
{
    listen(true);
    for (int big = 0; big < 2; big++) {
        for (long n = 1; n <= 400; n++) {
            alloc_calls = 0;
            fail_at = n;
            hm_map_t *m = hm_new(big ? &big_type : &u64_type, &talloc);
            if (!m) {
                CHECK(n <= 2);
                CHECK_EQ_INT(outstanding, 0);
                continue;
            }
            static uint8_t present[3000];
            static uint64_t val[3000];
            memset(present, 0, sizeof present);
            unsigned char kb[200], vb[200];
            memset(vb, 0, sizeof vb);
            int failures = 0;
            for (uint64_t i = 0; i < 3000; i++) {
                if (big) big_key(i, kb);
                else memcpy(kb, &i, 8);
                uint64_t v = i * 7 + 1;
                memcpy(vb, &v, 8);
                int err = hm_put(m, kb, vb, NULL);
                if (err) {
                    CHECK_EQ_INT(err, ENOMEM);
                    failures++;
                    CHECK_EQ_INT(same_as(m, present, val, 3000, big), 0);
                    check_stats(m, rec_of(m), "after ENOMEM");
                    fail_at = -1;
                    i--;        /* again, now that memory is back */
                    continue;
                }
                present[i] = 1;
                val[i] = v;
            }
            CHECK(failures <= 1);
            CHECK_EQ_INT(same_as(m, present, val, 3000, big), 0);
            hm_free(m);
            CHECK_EQ_INT(outstanding, 0);
        }
    }
    fail_at = -1;
    CHECK_EQ_INT(violations, 0);
    CHECK_EQ_INT(bad_frees, 0);
    listen(false);
}

/* Random failures over a random workload checked against a reference, shrink included. */
static void test_fail_random(void)
{
    listen(true);
    for (int big = 0; big < 2; big++) {
        static uint8_t present[4000];
        static uint64_t val[4000];
        memset(present, 0, sizeof present);
        hm_map_t *m = NULL;
        fail_permille = 0;
        m = hm_new(big ? &big_type : &u64_type, &talloc);
        fail_permille = 20;
        unsigned char kb[200], vb[200];
        memset(vb, 0, sizeof vb);
        long enomem = 0, shrink_fail = 0;
        size_t bad = 0;
        for (int step = 0; step < (big ? 60000 : 200000); step++) {
            uint64_t k = rnd() % 4000, r = rnd() % 100;
            if (big) big_key(k, kb);
            else memcpy(kb, &k, 8);
            if (r < 55) {
                uint64_t v = rnd();
                memcpy(vb, &v, 8);
                int err = hm_put(m, kb, vb, NULL);
                if (err == ENOMEM) enomem++;
                else if (err) bad++;
                else present[k] = 1, val[k] = v;
            } else if (r < 95) {
                if (hm_del(m, kb) != present[k]) bad++;
                present[k] = 0;
            } else if (r < 97) {
                int err = hm_shrink(m);
                if (err == ENOMEM) shrink_fail++;
                else if (err) bad++;
            } else if (r < 98) {
                hm_set_auto_shrink(m, rnd() % 2);
            } else {
                uint64_t *p = hm_get(m, kb);
                if (present[k] ? (!p || *p != val[k]) : p != NULL) bad++;
            }
            if (step % 5000 == 0) {
                bad += same_as(m, present, val, 4000, big);
                check_stats(m, rec_of(m), "random failures");
            }
        }
        fail_permille = 0;
        bad += same_as(m, present, val, 4000, big);
        CHECK_EQ_INT(bad, 0);
        CHECK(enomem > 10);
        CHECK(shrink_fail > 0);
        hm_free(m);
        CHECK_EQ_INT(outstanding, 0);
    }
    CHECK_EQ_INT(violations, 0);
    CHECK_EQ_INT(bad_frees, 0);
    listen(false);
}

/* ---- the writing flag ---- */

static hm_map_t *victim;
static void write_from_hook(const hm_map_t *m, size_t entries)
{
    (void)m;
    (void)entries;
    uint64_t k = 999, v = 1;
    hm_put(victim, &k, &v, NULL);
}
static void read_from_hook(const hm_map_t *m, uint64_t word, const void *k, const void *v,
                           hm_entry_ev_t ev)
{
    (void)m;
    (void)word;
    (void)v;
    (void)ev;
    hm_get(victim, k);
}

/* Runs fn in a child; returns its termination status and what it wrote to stderr. */
static int in_child(void (*fn)(void), char *err, size_t errlen)
{
    int fds[2];
    if (pipe(fds) != 0) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        fn();
        _exit(0);
    }
    close(fds[1]);
    size_t len = 0;
    ssize_t r;
    while (len + 1 < errlen && (r = read(fds[0], err + len, errlen - 1 - len)) > 0) len += (size_t)r;
    err[len] = 0;
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

static void child_write(void)
{
    hm_hooks_t h = { .count = write_from_hook };
    hm_set_hooks(&h);
    victim = hm_new(&u64_type, NULL);
    uint64_t k = 1;
    hm_put(victim, &k, &k, NULL);   /* the count hook writes while this write is in progress */
}
static void child_read(void)
{
    hm_hooks_t h = { .created = l_created_yes, .entry = read_from_hook };
    hm_set_hooks(&h);
    victim = hm_new(&u64_type, NULL);
    uint64_t k = 1;
    hm_put(victim, &k, &k, NULL);
}
static void iterate_from_hook(const hm_map_t *m, size_t entries)
{
    (void)m;
    (void)entries;
    hm_iter_t it;
    hm_iter_begin(victim, &it);
}
static void child_iterate(void)
{
    hm_hooks_t h = { .count = iterate_from_hook };
    hm_set_hooks(&h);
    victim = hm_new(&u64_type, NULL);
    uint64_t k = 1;
    hm_put(victim, &k, &k, NULL);
}
static void child_quiet(void)
{
    victim = hm_new(&u64_type, NULL);
    uint64_t k = 1;
    hm_put(victim, &k, &k, NULL);
    hm_free(victim);
}

static void test_concurrent_writes_abort(void)
{
    char err[512];
    int st = in_child(child_write, err, sizeof err);
    CHECKF(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "status %#x", st);
    CHECKF(strstr(err, "concurrent map writes") != NULL, "stderr: %s", err);
    st = in_child(child_read, err, sizeof err);
    CHECKF(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "status %#x", st);
    CHECKF(strstr(err, "concurrent map read and map write") != NULL, "stderr: %s", err);
    /* The same steps without a second writer end normally. */
    st = in_child(child_quiet, err, sizeof err);
    CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
    st = in_child(child_iterate, err, sizeof err);
    CHECKF(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "status %#x", st);
    CHECKF(strstr(err, "concurrent map read and map write") != NULL, "stderr: %s", err);
}

int main(void)
{
    blocks = calloc(NB, sizeof *blocks);
    RUN(test_protocol);
    RUN(test_entry_events);
    RUN(test_entry_pointers);
    RUN(test_silence);
    RUN(test_null_hooks);
    RUN(test_fail_nth);
    RUN(test_fail_random);
    RUN(test_concurrent_writes_abort);
    free(blocks);
    return check_done();
}
