/* Target program: maps on hashmap/ with known fates, profiled with no change to the source.
 * Maps, in creation order (mapprof ids 1..6):
 *   1 kept     u64 -> u64, 100,000 entries, 99,000 deleted, never shrunk (retained buckets)
 *   2 shrunk   the same, then hm_shrink
 *   3 small    10 entries (healthy)
 *   4 strings  C-string keys -> pointers to records, 1,000 entries
 *   5 wide     u64 -> 200-byte values (stored indirectly), 100 entries
 *   6 gone     created, filled and freed (must not be listed)
 * Dumps "grown" after the inserts and "deleted" after the deletes and the shrink; before each
 * dump prints "phase TAG" and, per live map, "map NAME ID entries buckets bucket_bytes
 * overflow padding retained indirect" from hm_stats: the truth mapprof must report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap/hashmap.h"
#include "profiler/mapprof.h"

typedef struct wide { unsigned char b[200]; } wide_t;

static hm_map_t *maps[7];
static const char *names[7] = { "", "kept", "shrunk", "small", "strings", "wide", "gone" };

static void print_phase(const char *tag)
{
    printf("phase %s\n", tag);
    for (int i = 1; i <= 5; i++) {
        hm_stats_t s;
        hm_stats(maps[i], &s);
        printf("map %s %d %zu %zu %zu %zu %zu %zu %zu\n", names[i], i, s.entries, s.buckets,
               s.bucket_bytes, s.overflow_buckets, s.padding_bytes, s.retained_bytes, s.indirect_bytes);
    }
    fflush(stdout);
    mapprof_dump(tag);
}

__attribute__((noinline)) static hm_map_t *new_u64_map(void)
{
    hm_type_t t = { sizeof(uint64_t), _Alignof(uint64_t), sizeof(uint64_t), _Alignof(uint64_t),
                    hm_hash_u64, hm_eq_u64, 0 };
    return hm_new(&t, NULL);
}

int main(void)
{
    maps[1] = new_u64_map();
    maps[2] = new_u64_map();
    maps[3] = new_u64_map();
    hm_type_t st = { sizeof(char *), _Alignof(char *), sizeof(void *), _Alignof(void *),
                     hm_hash_cstr, hm_eq_cstr, HM_VAL_POINTER };
    maps[4] = hm_new(&st, NULL);
    hm_type_t wt = { sizeof(uint64_t), _Alignof(uint64_t), sizeof(wide_t), _Alignof(wide_t),
                     hm_hash_u64, hm_eq_u64, 0 };
    maps[5] = hm_new(&wt, NULL);
    maps[6] = new_u64_map();
    for (int i = 1; i <= 6; i++)
        if (!maps[i]) { fprintf(stderr, "hm_new failed\n"); return 1; }

    for (uint64_t k = 1; k <= 100000; k++) {
        hm_put(maps[1], &k, &k, NULL);
        hm_put(maps[2], &k, &k, NULL);
    }
    for (uint64_t k = 1; k <= 10; k++) hm_put(maps[3], &k, &k, NULL);
    char **keys = calloc(1000, sizeof *keys);
    for (int i = 0; i < 1000; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "key-%d", i);
        keys[i] = strdup(buf);
        long *rec = malloc(sizeof *rec);
        *rec = i;
        hm_put(maps[4], &keys[i], &rec, NULL);
    }
    wide_t w;
    memset(&w, 7, sizeof w);
    for (uint64_t k = 1; k <= 100; k++) hm_put(maps[5], &k, &w, NULL);
    for (uint64_t k = 1; k <= 5000; k++) hm_put(maps[6], &k, &k, NULL);
    hm_free(maps[6]);
    print_phase("grown");

    for (uint64_t k = 1; k <= 99000; k++) {
        hm_del(maps[1], &k);
        hm_del(maps[2], &k);
    }
    hm_shrink(maps[2]);
    print_phase("deleted");
    return 0;
}
