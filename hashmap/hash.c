/* hashmap/hash.c - the ready-made hash and equality functions, and the seeds.
 *
 * Everything rests on one step: multiply two 64-bit words to 128 bits and fold the halves
 * together (hm_mum), which spreads every input bit over the whole word. Integers and pointers
 * take one such step (hm_mix64, inline in internal.h, so the map's specialized paths compute
 * exactly what hm_hash_u64 returns). Byte strings are read 8 or 16 bytes at a time, three
 * independent lanes for long inputs, short inputs by overlapping reads; the length and the
 * seed enter both the start and the end. The bucket index uses the low bits of a hash and the
 * tophash its top 8 bits, so both ends must be well mixed; the load-factor table in map.c was
 * measured with these functions. */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <sys/random.h>
#include <time.h>

#include "internal.h"

static inline uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static inline uint64_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

uint64_t hm_hash_bytes(const void *data, size_t len, uint64_t seed)
{
    const uint8_t *p = data;
    uint64_t a, b;
    seed ^= hm_mum(seed ^ HM_C0, HM_C1 ^ len);
    if (len <= 16) {
        if (len >= 4) {
            size_t d = (len >> 3) << 2;     /* 0 for 4..7 bytes, 4 for 8..16 */
            a = rd32(p) << 32 | rd32(p + d);
            b = rd32(p + len - 4) << 32 | rd32(p + len - 4 - d);
        } else if (len > 0) {
            a = (uint64_t)p[0] << 48 | (uint64_t)p[len >> 1] << 24 | p[len - 1];
            b = 0;
        } else {
            a = b = 0;
        }
    } else {
        size_t n = len;
        if (n > 48) {
            uint64_t s1 = seed, s2 = seed;
            do {
                seed = hm_mum(rd64(p) ^ HM_C1, rd64(p + 8) ^ seed);
                s1 = hm_mum(rd64(p + 16) ^ HM_C2, rd64(p + 24) ^ s1);
                s2 = hm_mum(rd64(p + 32) ^ HM_C3, rd64(p + 40) ^ s2);
                p += 48;
                n -= 48;
            } while (n > 48);
            seed ^= s1 ^ s2;
        }
        while (n > 16) {
            seed = hm_mum(rd64(p) ^ HM_C1, rd64(p + 8) ^ seed);
            p += 16;
            n -= 16;
        }
        /* The last 16 bytes, overlapping what came before when n < 16. */
        a = rd64(p + n - 16);
        b = rd64(p + n - 8);
    }
    __uint128_t r = (__uint128_t)(a ^ HM_C1) * (b ^ seed);
    return hm_mum((uint64_t)r ^ HM_C0 ^ len, (uint64_t)(r >> 64) ^ HM_C2);
}

uint64_t hm_hash_u64(const void *k, uint64_t seed)
{
    uint64_t v;
    memcpy(&v, k, 8);
    return hm_mix64(v, seed);
}

uint64_t hm_hash_u32(const void *k, uint64_t seed)
{
    uint32_t v;
    memcpy(&v, k, 4);
    return hm_mix64(v, seed);
}

uint64_t hm_hash_ptr(const void *k, uint64_t seed)
{
    uintptr_t v;
    memcpy(&v, k, sizeof v);
    return hm_mix64((uint64_t)v, seed);
}

uint64_t hm_hash_cstr(const void *k, uint64_t seed)
{
    const char *s = *(const char *const *)k;
    return hm_hash_bytes(s, strlen(s), seed);
}

bool hm_eq_u64(const void *a, const void *b)
{
    return memcmp(a, b, 8) == 0;
}

bool hm_eq_u32(const void *a, const void *b)
{
    return memcmp(a, b, 4) == 0;
}

bool hm_eq_ptr(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(void *)) == 0;
}

bool hm_eq_cstr(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    return x == y || strcmp(x, y) == 0;
}

/* A fresh seed per map: a process-wide counter started from getrandom (the clock and an
 * address when that fails), stepped by an odd constant and mixed, so two maps never share a
 * seed and nothing here blocks or allocates. */
HM_HIDDEN uint64_t hm_random_seed(void)
{
    static _Atomic uint64_t state;
    uint64_t s = atomic_load_explicit(&state, memory_order_relaxed);
    if (HM_UNLIKELY(s == 0)) {
        uint64_t r = 0;
        if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            r = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)(uintptr_t)&ts;
        }
        r |= 1;     /* never 0 again */
        uint64_t zero = 0;
        atomic_compare_exchange_strong(&state, &zero, r);
    }
    s = atomic_fetch_add_explicit(&state, 0x9e3779b97f4a7c15ULL, memory_order_relaxed);
    return hm_mum(s ^ HM_C2, s ^ HM_C3);
}
