/* hashmap_mapbench.c - the map benchmark of make bench: hashmap/ against GLib's GHashTable and
 * libstdc++'s std::unordered_map (hashmap_mapbench_cxx.cpp), uint64_t keys to uint64_t values.
 *
 *   hashmap_mapbench time N RUNS REPS [IMPL...]
 *       speed: RUNS rounds; in each, every implementation (or those named), in an order that
 *       rotates by round, runs REPS times: new map, insert N, N hit lookups, N miss lookups, one
 *       full pass, N deletes. One line per round, implementation and phase:
 *       "time IMPL N PHASE ROUND SECONDS OPS".
 *   hashmap_mapmem mem IMPL N
 *       bytes: one map of N entries built under the counting allocator (hashmap_memcount.c,
 *       linked into hashmap_mapmem): "mem IMPL N REQUESTED WITH_OVERHEAD BLOCKS".
 *
 * Fairness: the same keys for everyone (n distinct pseudo-random 64-bit keys from a fixed seed,
 * misses from a disjoint set, lookups and deletes in a shuffled order), generated before any
 * timed region; values use all 64 bits; every result is checked. GHashTable stores gpointers,
 * so the natural u64 -> u64 use keeps key and value in the pointer itself (no boxing) with
 * direct key comparison (NULL equal function), hashed by mb_mix, a hash of the same quality as
 * the library's; "ghash_direct" is the same with g_direct_hash (the low 32 bits: fine for
 * random keys, poor for structured ones). std::unordered_map runs with its default hash
 * (identity) and, as "umap_mix", with mb_mix. Nobody reserves. Iteration is each one's fastest
 * natural way: hm_iter_next_n batches, g_hash_table_foreach, a range-for. */
#include "hashmap_mapbench.h"

#include <glib.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap/hashmap.h"

/* Defined only when hashmap_memcount.o is linked in (hashmap_mapmem). */
#pragma weak mb_memcount_start
#pragma weak mb_memcount_read

_Static_assert(sizeof(gpointer) == sizeof(uint64_t), "GHashTable keys hold 64-bit keys directly");

static const char *const phase_name[MB_NPHASES] = { "insert", "hit", "miss", "iter", "delete" };

static void die(const char *what)
{
    fprintf(stderr, "hashmap_mapbench: %s\n", what);
    exit(2);
}

/* ---- keys ---- */

/* splitmix64: the finalizer is a bijection, so distinct counters give distinct keys. */
static uint64_t key_of(uint64_t i)
{
    uint64_t z = 0x2545f4914f6cdd1dULL + i * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void make_keys(mb_keys_t *k, size_t n)
{
    uint64_t *keys = malloc(n * sizeof *keys), *hits = malloc(n * sizeof *hits);
    uint64_t *miss = malloc(n * sizeof *miss), sum = 0, x = 0x853c49e6748fea9bULL;
    if (!keys || !hits || !miss) die("out of memory for the keys");
    for (size_t i = 0; i < n; i++) {
        keys[i] = hits[i] = key_of(i);
        miss[i] = key_of(n + i);
        sum += MB_VALUE(keys[i]);
    }
    for (size_t i = n; i > 1; i--) {    /* Fisher-Yates with xorshift64 */
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t j = (size_t)(x % i);
        uint64_t t = hits[i - 1];
        hits[i - 1] = hits[j];
        hits[j] = t;
    }
    *k = (mb_keys_t){ keys, hits, miss, n, sum };
}

/* ---- hashmap/ ---- */

/* Iteration uses the library's fastest documented path, hm_iter_next_n, in batches of this
 * many entries (a 2 KiB array on the stack); hm_iter_next is about half as fast at 1K. */
#define MB_ITER_BATCH 128

static const hm_type_t u64_type = {
    sizeof(uint64_t), _Alignof(uint64_t), sizeof(uint64_t), _Alignof(uint64_t),
    hm_hash_u64, hm_eq_u64, 0
};

static void run_hashmap(const mb_keys_t *k, long reps, mb_result_t *r)
{
    const size_t n = k->n;
    for (long rep = 0; rep < reps; rep++) {
        double t0 = mb_now();
        hm_map_t *m = hm_new(&u64_type, NULL);
        if (!m) die("hm_new failed");
        for (size_t i = 0; i < n; i++) {
            uint64_t v = MB_VALUE(k->keys[i]);
            if (hm_put(m, &k->keys[i], &v, NULL)) die("hm_put failed");
        }
        double t1 = mb_now();
        uint64_t s = 0;
        for (size_t i = 0; i < n; i++) {
            const uint64_t *v = hm_get(m, &k->hits[i]);
            if (v) s += *v;
        }
        double t2 = mb_now();
        r->hit_sum += s;
        s = 0;
        for (size_t i = 0; i < n; i++) {
            const uint64_t *v = hm_get(m, &k->miss[i]);
            if (v) s += *v;
        }
        double t3 = mb_now();
        r->miss_sum += s;
        s = 0;
        uint64_t c = 0;
        hm_iter_t it;
        hm_entry_t batch[MB_ITER_BATCH];
        size_t got;
        hm_iter_begin(m, &it);
        while ((got = hm_iter_next_n(&it, batch, MB_ITER_BATCH)) != 0) {
            for (size_t i = 0; i < got; i++) s += *(const uint64_t *)batch[i].val;
            c += got;
        }
        double t4 = mb_now();
        r->iter_sum += s;
        r->iter_count += c;
        uint64_t d = 0;
        for (size_t i = 0; i < n; i++) d += hm_del(m, &k->hits[i]);
        double t5 = mb_now();
        r->deleted += d;
        hm_free(m);
        r->seconds[MB_INSERT] += t1 - t0;
        r->seconds[MB_HIT] += t2 - t1;
        r->seconds[MB_MISS] += t3 - t2;
        r->seconds[MB_ITER] += t4 - t3;
        r->seconds[MB_DELETE] += t5 - t4;
    }
}

static size_t build_hashmap(const mb_keys_t *k)
{
    hm_map_t *m = hm_new(&u64_type, NULL);    /* left alive: measured, then the process exits */
    if (!m) die("hm_new failed");
    for (size_t i = 0; i < k->n; i++) {
        uint64_t v = MB_VALUE(k->keys[i]);
        if (hm_put(m, &k->keys[i], &v, NULL)) die("hm_put failed");
    }
    return hm_count(m);
}

/* ---- GHashTable ---- */

static guint ghash_mix(gconstpointer key)
{
    return (guint)mb_mix((uint64_t)(uintptr_t)key);
}

#define KP(x) ((gpointer)(uintptr_t)(x))

/* Iteration with g_hash_table_foreach, GLib's fastest (about 1.5x its GHashTableIter at 1K). */
typedef struct mb_sum {
    uint64_t sum, count;
} mb_sum_t;
static void ghash_sum(gpointer key, gpointer val, gpointer ctx)
{
    (void)key;
    mb_sum_t *a = ctx;
    a->sum += (uintptr_t)val;
    a->count++;
}

static void run_ghash(const mb_keys_t *k, long reps, GHashFunc hash, mb_result_t *r)
{
    const size_t n = k->n;
    for (long rep = 0; rep < reps; rep++) {
        double t0 = mb_now();
        GHashTable *h = g_hash_table_new(hash, NULL);
        for (size_t i = 0; i < n; i++) g_hash_table_insert(h, KP(k->keys[i]), KP(MB_VALUE(k->keys[i])));
        double t1 = mb_now();
        uint64_t s = 0;
        for (size_t i = 0; i < n; i++) s += (uintptr_t)g_hash_table_lookup(h, KP(k->hits[i]));
        double t2 = mb_now();
        r->hit_sum += s;
        s = 0;
        for (size_t i = 0; i < n; i++) s += (uintptr_t)g_hash_table_lookup(h, KP(k->miss[i]));
        double t3 = mb_now();
        r->miss_sum += s;
        mb_sum_t acc = { 0, 0 };
        g_hash_table_foreach(h, ghash_sum, &acc);
        double t4 = mb_now();
        r->iter_sum += acc.sum;
        r->iter_count += acc.count;
        uint64_t d = 0;
        for (size_t i = 0; i < n; i++) d += g_hash_table_remove(h, KP(k->hits[i]));
        double t5 = mb_now();
        r->deleted += d;
        g_hash_table_destroy(h);
        r->seconds[MB_INSERT] += t1 - t0;
        r->seconds[MB_HIT] += t2 - t1;
        r->seconds[MB_MISS] += t3 - t2;
        r->seconds[MB_ITER] += t4 - t3;
        r->seconds[MB_DELETE] += t5 - t4;
    }
}

static size_t build_ghash(const mb_keys_t *k, GHashFunc hash)
{
    GHashTable *h = g_hash_table_new(hash, NULL);    /* left alive, as above */
    for (size_t i = 0; i < k->n; i++) g_hash_table_insert(h, KP(k->keys[i]), KP(MB_VALUE(k->keys[i])));
    return g_hash_table_size(h);
}

/* ---- driver ---- */

enum { IMPL_HASHMAP, IMPL_GHASH, IMPL_GHASH_DIRECT, IMPL_UMAP, IMPL_UMAP_MIX, NIMPL };
static const char *const impl_name[NIMPL] = { "hashmap", "ghash", "ghash_direct", "umap", "umap_mix" };

static int impl_of(const char *s)
{
    for (int i = 0; i < NIMPL; i++)
        if (!strcmp(s, impl_name[i])) return i;
    die("unknown implementation (hashmap ghash ghash_direct umap umap_mix)");
    return -1;
}

static void run_impl(int impl, const mb_keys_t *k, long reps, mb_result_t *r)
{
    switch (impl) {
    case IMPL_HASHMAP: run_hashmap(k, reps, r); break;
    case IMPL_GHASH: run_ghash(k, reps, ghash_mix, r); break;
    case IMPL_GHASH_DIRECT: run_ghash(k, reps, g_direct_hash, r); break;
    case IMPL_UMAP: mb_umap_run(k, reps, 0, r); break;
    case IMPL_UMAP_MIX: mb_umap_run(k, reps, 1, r); break;
    }
    /* Untimed: hand freed memory back now, so the next implementation in this process does not
     * pay for this one's teardown (glibc consolidates millions of freed nodes on the next large
     * allocation otherwise). */
    malloc_trim(0);
}

static size_t build_impl(int impl, const mb_keys_t *k)
{
    switch (impl) {
    case IMPL_HASHMAP: return build_hashmap(k);
    case IMPL_GHASH: return build_ghash(k, ghash_mix);
    case IMPL_GHASH_DIRECT: return build_ghash(k, g_direct_hash);
    case IMPL_UMAP: return mb_umap_build(k, 0);
    case IMPL_UMAP_MIX: return mb_umap_build(k, 1);
    }
    return 0;
}

static void check(int impl, const mb_keys_t *k, long reps, const mb_result_t *r)
{
    uint64_t n = (uint64_t)k->n * (uint64_t)reps, vs = k->value_sum * (uint64_t)reps;
    const char *bad = r->hit_sum != vs ? "hit lookups" : r->miss_sum ? "miss lookups"
                    : r->iter_sum != vs || r->iter_count != n ? "iteration"
                    : r->deleted != n ? "deletes" : NULL;
    if (bad) {
        fprintf(stderr, "hashmap_mapbench: %s at %zu entries: wrong results from %s\n",
                impl_name[impl], k->n, bad);
        exit(3);
    }
}

static long arg_long(const char *s, long min)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < min) die("bad number");
    return v;
}

static int usage(void)
{
    fprintf(stderr, "usage: hashmap_mapbench time N RUNS REPS [IMPL...]\n"
                    "       hashmap_mapmem mem IMPL N   (hashmap ghash ghash_direct umap umap_mix)\n");
    return 2;
}

int main(int argc, char **argv)
{
    mb_keys_t k;
    if (argc >= 5 && !strcmp(argv[1], "time")) {
        size_t n = (size_t)arg_long(argv[2], 1);
        long runs = arg_long(argv[3], 1), reps = arg_long(argv[4], 1);
        int impls[NIMPL], nimpl = 0;
        for (int i = 5; i < argc && nimpl < NIMPL; i++) impls[nimpl++] = impl_of(argv[i]);
        if (!nimpl)
            for (; nimpl < NIMPL; nimpl++) impls[nimpl] = nimpl;
        make_keys(&k, n);
        for (long round = 0; round < runs; round++)
            for (int j = 0; j < nimpl; j++) {
                int impl = impls[(j + round) % nimpl];
                mb_result_t r = { 0 };
                run_impl(impl, &k, reps, &r);
                check(impl, &k, reps, &r);
                for (int p = 0; p < MB_NPHASES; p++)
                    printf("time %s %zu %s %ld %.9f %ld\n", impl_name[impl], n, phase_name[p],
                           round, r.seconds[p], (long)n * reps);
                fflush(stdout);
            }
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "mem")) {
        if (!mb_memcount_start) die("mem needs the counting allocator: run hashmap_mapmem");
        int impl = impl_of(argv[2]);
        size_t n = (size_t)arg_long(argv[3], 1), req, over, blocks;
        make_keys(&k, n);
        /* First use outside the count: whatever a library sets up once is not the map's. */
        mb_keys_t warm = k;
        warm.n = 16;
        build_impl(impl, &warm);
        mb_memcount_start();
        if (build_impl(impl, &k) != n) die("wrong entry count");
        mb_memcount_read(&req, &over, &blocks);
        printf("mem %s %zu %zu %zu %zu\n", impl_name[impl], n, req, over, blocks);
        return 0;
    }
    return usage();
}
