/* Target program: only frees of blocks that map entries still point to enter the freed-block
 * history. 2,000 values are put in a pointer map, then removed (or replaced) before being
 * freed: none of those frees is recorded. Then 5 values are freed while their entries stay:
 * exactly those 5 are recorded and reported as dangling. The same value in two maps stays
 * watched until both entries are gone. Prints the expected counts.
 * With an argument BYTES, a third map gets three values of BYTES (sampled for certain at a
 * rate well below BYTES, where the 40-byte ones almost never are): key 9001's is replaced by a
 * short value and key 9002's removed before they are freed, key 9003's freed while its entry
 * stays: only 9003 may be reported. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "hashmap/hashmap.h"
#include "profiler/mapprof.h"

static hm_map_t *new_map(void)
{
    hm_type_t t = { sizeof(uint64_t), _Alignof(uint64_t), sizeof(void *), _Alignof(void *),
                    hm_hash_u64, hm_eq_u64, HM_VAL_POINTER };
    hm_map_t *m = hm_new(&t, NULL);
    if (!m) abort();
    return m;
}

static void put(hm_map_t *m, uint64_t k, void *v) { if (hm_put(m, &k, &v, NULL)) abort(); }
static void *get(hm_map_t *m, uint64_t k) { void **v = hm_get(m, &k); return v ? *v : NULL; }
static void del(hm_map_t *m, uint64_t k) { hm_del(m, &k); }

__attribute__((noinline)) void free_referenced(hm_map_t *a, hm_map_t *b, hm_map_t *c)
{
    for (uint64_t k = 1; k <= 5; k++) free(get(a, k));      /* a still points to them */
    /* in both maps, removed from one only: still referenced by the other */
    del(a, 100);
    free(get(b, 100));
    if (c) free(get(c, 9003));
    __asm__ volatile("" ::: "memory");     /* no tail call: free_referenced stays on the stack */
}

/* The third map's big values: each put as a new key, which a replaced or removed entry must
 * not outlive. */
static hm_map_t *big_values(size_t bytes)
{
    hm_map_t *c = new_map();
    for (uint64_t k = 9001; k <= 9003; k++) put(c, k, malloc(bytes));
    void *old = get(c, 9001);
    put(c, 9001, malloc(40));
    free(old);
    old = get(c, 9002);
    del(c, 9002);
    free(old);
    return c;
}

int main(int argc, char **argv)
{
    hm_map_t *a = new_map(), *b = new_map();
    hm_map_t *c = argc > 1 ? big_values(strtoul(argv[1], NULL, 10)) : NULL;
    for (uint64_t k = 1; k <= 1000; k++) put(a, k, malloc(40));
    for (uint64_t k = 1001; k <= 2000; k++) {      /* removed, then freed */
        put(a, k, malloc(40));
        void *v = get(a, k);
        del(a, k);
        free(v);
    }
    for (uint64_t k = 6; k <= 1000; k++) {         /* replaced, then the old value freed */
        if (k == 100) continue;
        void *old = get(a, k);
        put(a, k, malloc(40));
        free(old);
    }
    put(b, 100, get(a, 100));
    free_referenced(a, b, c);
    mapprof_dump("w");
    printf("recorded 6 dangling 6\n");
    return 0;
}
