/* Target program for `mapprof diff` and live findings on hashmap/ maps. Three dumps (d0, d1,
 * d2); maps in creation order (mapprof ids 1..6):
 *   1 bloated   loses 99% of its entries between d1 and d2, keeps its buckets (retained_buckets)
 *   2 shrunk    loses as many, then hm_shrink (no finding)
 *   3 cache     only grows over d0..d2 (growth)
 *   4 evicting  grows but also evicts (no finding)
 *   5 dangle    u64 -> pointer values: between d1 and d2 free_some() frees 10 of its 100 values
 *               without removing their entries (10 dangling references, freed there)
 *   6 clean     u64 -> pointer values: values removed before being freed, one replaced and
 *               then freed (no finding)
 *   7..306      short-lived pointer maps, destroyed before their values are freed (no finding;
 *               their entries leave mapprof's table lazily, in one purge)
 * Prints "dangling 10". */
#include <stdio.h>
#include <stdlib.h>

#include "hashmap/hashmap.h"
#include "profiler/mapprof.h"

static hm_map_t *dangle, *clean;

__attribute__((noinline)) static hm_map_t *new_map(unsigned flags)
{
    hm_type_t t = { sizeof(uint64_t), _Alignof(uint64_t), sizeof(uint64_t), _Alignof(uint64_t),
                    hm_hash_u64, hm_eq_u64, flags };
    hm_map_t *m = hm_new(&t, NULL);
    if (!m) abort();
    return m;
}

static void put(hm_map_t *m, uint64_t k, uint64_t v) { hm_put(m, &k, &v, NULL); }
static void del(hm_map_t *m, uint64_t k) { hm_del(m, &k); }
static void *get_ptr(hm_map_t *m, uint64_t k)
{
    void **v = hm_get(m, &k);
    return v ? *v : NULL;
}

__attribute__((noinline)) void free_some(void)
{
    for (uint64_t i = 0; i < 100; i += 10) free(get_ptr(dangle, i + 1));
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void remove_then_free(void)
{
    for (uint64_t i = 0; i < 19; i++) {   /* 21 of 40 stay: no retained finding */
        void *v = get_ptr(clean, i + 1);
        del(clean, i + 1);
        free(v);
    }
    /* replace a value properly: the old one freed after the entry points elsewhere */
    void *old = get_ptr(clean, 30);
    void *fresh = malloc(16);
    hm_put(clean, &(uint64_t){ 30 }, &fresh, NULL);
    free(old);
}

__attribute__((noinline)) static void short_lived_maps(void)
{
    for (int r = 0; r < 300; r++) {
        hm_map_t *m = new_map(HM_VAL_POINTER);
        void *vals[10];
        for (uint64_t i = 0; i < 10; i++) {
            vals[i] = malloc(24);
            put(m, i + 1, (uintptr_t)vals[i]);
        }
        hm_free(m);
        for (int i = 0; i < 10; i++) free(vals[i]);
    }
}

int main(void)
{
    hm_map_t *bloated = new_map(0), *shrunk = new_map(0), *cache = new_map(0), *evicting = new_map(0);
    dangle = new_map(HM_VAL_POINTER);
    clean = new_map(HM_VAL_POINTER);
    for (uint64_t i = 1; i <= 50000; i++) { put(bloated, i, i); put(shrunk, i, i); }
    for (uint64_t i = 1; i <= 1000; i++) { put(cache, i, i); put(evicting, i, i); }
    for (uint64_t i = 1; i <= 100; i++) put(dangle, i, (uintptr_t)malloc(32));
    for (uint64_t i = 1; i <= 40; i++) put(clean, i, (uintptr_t)malloc(32));
    mapprof_dump("d0");
    for (uint64_t i = 1001; i <= 2000; i++) { put(cache, i, i); put(evicting, i, i); }
    for (uint64_t i = 1; i <= 500; i++) del(evicting, i);
    mapprof_dump("d1");
    for (uint64_t i = 2001; i <= 3000; i++) { put(cache, i, i); put(evicting, i, i); }
    for (uint64_t i = 501; i <= 1000; i++) del(evicting, i);
    for (uint64_t i = 1; i <= 49500; i++) { del(bloated, i); del(shrunk, i); }
    hm_shrink(shrunk);
    short_lived_maps();
    free_some();
    remove_then_free();
    mapprof_dump("d2");
    printf("dangling 10\n");
    return 0;
}
