/* hashmap_mapbench.h - what the map benchmark's C driver (hashmap_mapbench.c: hashmap/ and
 * GHashTable) shares with its C++ side (hashmap_mapbench_cxx.cpp: std::unordered_map) and with
 * the counting allocator (hashmap_memcount.c).
 *
 * Every implementation maps uint64_t keys to uint64_t values and runs the same phases on the
 * same pre-generated arrays; the timed loops live with each implementation so nothing but the
 * map call sits inside them. */
#ifndef HASHMAP_MAPBENCH_H
#define HASHMAP_MAPBENCH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The keys of one size, generated outside every timed region. */
typedef struct mb_keys {
    const uint64_t *keys;   /* n distinct keys, in insertion order */
    const uint64_t *hits;   /* the same keys shuffled: lookup and delete order */
    const uint64_t *miss;   /* n keys disjoint from keys */
    size_t n;
    uint64_t value_sum;     /* sum of MB_VALUE over keys (mod 2^64) */
} mb_keys_t;

/* The value stored for a key: all 64 bits used (GHashTable would store values that fit in
 * 32 bits in half the space, and the comparison is of 64-bit values). */
#define MB_VALUE(k) (~(uint64_t)(k))

/* The timed phases, in the order they run on one map. */
enum { MB_INSERT, MB_HIT, MB_MISS, MB_ITER, MB_DELETE, MB_NPHASES };

/* One measurement: reps times (new map, insert n, look up n present, look up n absent, one
 * full pass, delete n, free the map). Seconds per phase summed over the reps; the sums are
 * checked by the driver so no loop can be optimized away or be wrong. */
typedef struct mb_result {
    double seconds[MB_NPHASES];
    uint64_t hit_sum;       /* sum of the values found by hit lookups: reps * value_sum */
    uint64_t miss_sum;      /* sum of values found by miss lookups: 0 */
    uint64_t iter_sum;      /* sum of values seen by iteration: reps * value_sum */
    uint64_t iter_count;    /* entries seen by iteration: reps * n */
    uint64_t deleted;       /* successful deletes: reps * n */
} mb_result_t;

/* A hash of the same quality as the library's for the competitors that take one: the 128-bit
 * product with an odd constant, folded (both halves depend on every key bit). */
static inline uint64_t mb_mix(uint64_t k)
{
    __uint128_t p = (__uint128_t)k * 0x9e3779b97f4a7c15ULL;
    return (uint64_t)(p >> 64) ^ (uint64_t)p;
}

static inline double mb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* std::unordered_map<uint64_t, uint64_t>, default std::hash (identity in libstdc++) or
 * (mix != 0) a functor calling mb_mix. */
void mb_umap_run(const mb_keys_t *k, long reps, int mix, mb_result_t *r);
/* Builds one map of all k->keys and leaves it alive (bytes-per-entry runs); returns its size. */
size_t mb_umap_build(const mb_keys_t *k, int mix);

/* The counting allocator (hashmap_memcount.c, linked into hashmap_mapmem only): from
 * mb_memcount_start on, every block the process allocates through the malloc family is
 * counted while live, by the size requested and by malloc_usable_size + 8 (the chunk header). */
void mb_memcount_start(void);
void mb_memcount_read(size_t *requested, size_t *with_overhead, size_t *blocks);

#ifdef __cplusplus
}
#endif

#endif
