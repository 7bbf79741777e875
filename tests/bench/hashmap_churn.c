/* Benchmark and profiler workload on hashmap/: the shape of a C session cache. A cache maps
 * malloc'd string keys (hm_hash_cstr) to malloc'd records, an index maps each record's id to
 * the same record; waves of inserts, lookups (by key and by id) and deletes keep a tenth of
 * every wave alive. Every wave also builds and frees a tally map (ids folded to 4096 slots,
 * integers only) and a batch map per 10k inserts (every 4th key, borrowed from the cache).
 * The cache never shrinks (a profile shows its retained buckets); the index is shrunk after
 * the waves. Everything is freed at the end. OPS counts the writes to the cache and the index
 * (an insert or a delete in each), as churn.c counts its inserts and deletes.
 * usage: hashmap_churn [OPS_MILLIONS] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap/hashmap.h"

typedef struct record {
    char *key;          /* owned; the cache's key points here too */
    uint64_t id;
    long hits;
    char payload[40];
} record_t;

static const hm_type_t cache_type = {
    sizeof(char *), _Alignof(char *), sizeof(record_t *), _Alignof(record_t *),
    hm_hash_cstr, hm_eq_cstr, HM_KEY_POINTER | HM_VAL_POINTER
};
static const hm_type_t index_type = {
    sizeof(uint64_t), _Alignof(uint64_t), sizeof(record_t *), _Alignof(record_t *),
    hm_hash_u64, hm_eq_u64, HM_VAL_POINTER
};
static const hm_type_t tally_type = {
    sizeof(uint32_t), _Alignof(uint32_t), sizeof(uint64_t), _Alignof(uint64_t),
    hm_hash_u32, hm_eq_u32, 0
};
static const hm_type_t batch_type = {       /* borrowed key -> position in the batch */
    sizeof(char *), _Alignof(char *), sizeof(uint32_t), _Alignof(uint32_t),
    hm_hash_cstr, hm_eq_cstr, HM_KEY_POINTER
};

static void *must(void *p)
{
    if (!p) {
        fputs("hashmap_churn: out of memory\n", stderr);
        exit(1);
    }
    return p;
}

static void put(hm_map_t *m, const void *key, const void *val)
{
    if (hm_put(m, key, val, NULL)) must(NULL);
}

__attribute__((noinline)) static record_t *record_new(const char *key, uint64_t id)
{
    record_t *r = must(malloc(sizeof *r));
    r->key = must(strdup(key));
    r->id = id;
    r->hits = 0;
    memset(r->payload, 'p', sizeof r->payload);
    memcpy(r->payload, &id, sizeof id);
    return r;
}

static void record_free(record_t *r)
{
    free(r->key);
    free(r);
}

static record_t *cache_get(hm_map_t *cache, const char *key)
{
    record_t **r = hm_get(cache, &key);
    return r ? *r : NULL;
}

int main(int argc, char **argv)
{
    long millions = argc > 1 ? atol(argv[1]) : 4;
    long ops = millions * 1000000, wave = 200000, batch_len = 10000;
    uint64_t sum = 0;
    hm_map_t *cache = must(hm_new(&cache_type, NULL));
    hm_map_t *index = must(hm_new(&index_type, NULL));
    char key[64];
    for (long done = 0, base = 0; done < ops; base += wave) {
        hm_map_t *tally = must(hm_new(&tally_type, NULL));
        hm_map_t *batch = NULL;
        for (long i = 0; i < wave && done < ops; i++, done += 2) {
            uint64_t id = (uint64_t)(base + i);
            snprintf(key, sizeof key, "user:%llu:session", (unsigned long long)id);
            record_t *r = record_new(key, id);
            put(cache, &r->key, &r);
            put(index, &r->id, &r);
            if (!batch) batch = must(hm_new(&batch_type, NULL));
            uint32_t pos = (uint32_t)(i % batch_len);
            if (pos % 4 == 0) put(batch, &r->key, &pos);
            if (pos == batch_len - 1) {
                sum += hm_count(batch);
                hm_free(batch);
                batch = NULL;
            }
        }
        if (batch) {
            sum += hm_count(batch);
            hm_free(batch);
        }
        for (long i = 0; i < wave; i += 3) {    /* a third by key, a third of those by id too */
            snprintf(key, sizeof key, "user:%llu:session", (unsigned long long)(base + i));
            record_t *r = cache_get(cache, key);
            if (!r) continue;
            r->hits++;
            sum += r->id;
            uint32_t slot = (uint32_t)(r->id & 4095);
            uint64_t *t = hm_get(tally, &slot), one = 1;
            if (t)
                (*t)++;
            else
                put(tally, &slot, &one);
            if (i % 9 == 0) {
                uint64_t id = r->id;
                record_t **q = hm_get(index, &id);
                if (q) sum += (uint64_t)(*q)->hits;
            }
        }
        hm_iter_t it;
        void *kp, *vp;
        hm_iter_begin(tally, &it);
        while (hm_iter_next(&it, &kp, &vp)) sum += *(uint32_t *)kp * *(uint64_t *)vp;
        hm_free(tally);
        /* delete 90% of this wave: the cache keeps its buckets and a tail of live entries */
        for (long i = 0; i < wave && done < ops; i++) {
            if (i % 10 == 0) continue;
            snprintf(key, sizeof key, "user:%llu:session", (unsigned long long)(base + i));
            record_t *r = cache_get(cache, key);
            if (!r) continue;
            const char *k = key;
            hm_del(cache, &k);
            hm_del(index, &r->id);
            record_free(r);
            done += 2;
        }
    }
    if (hm_shrink(index)) must(NULL);
    hm_stats_t cs, is;
    hm_stats(cache, &cs);
    hm_stats(index, &is);
    /* the tail: sum it, then free it (the cache first: its keys belong to the records) */
    hm_iter_t it;
    void *kp, *vp;
    hm_iter_begin(index, &it);
    while (hm_iter_next(&it, &kp, &vp)) sum += (*(record_t **)vp)->id + (uint64_t)(*(record_t **)vp)->hits;
    size_t live = hm_count(cache);
    hm_free(cache);
    hm_iter_begin(index, &it);
    while (hm_iter_next(&it, &kp, &vp)) record_free(*(record_t **)vp);
    hm_free(index);
    printf("hashmap_churn: %zu entries, cache %zu buckets (B=%u), index %zu buckets, checksum %llu\n",
           live, cs.buckets, cs.B, is.buckets, (unsigned long long)sum);
    return 0;
}
