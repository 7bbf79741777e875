/* tests/unit/hashmap_diff.c - randomized differential test: millions of operations on maps of
 * five key/value shapes (the specialized u64, u32 and C-string paths, a generic 12-byte key
 * with a 16-aligned value, and 200-byte keys stored out of line), each mirrored in a trivially
 * correct reference (a direct table over a universe of keys). Inserts, replaces, deletes,
 * hits and misses, clears, shrinks, auto shrink on and off, and iterations with writes in
 * them; phases lean to inserting or to deleting so the maps grow and shrink many times.
 * Every answer is compared; every so often the whole map is. Deterministic (fixed seeds). */
#include <stdint.h>
#include <string.h>

#include "hashmap/hashmap.h"
#include "tests/check.h"

typedef struct shape {
    const char *name;
    size_t ks, ka, vs, va;
    hm_hash_fn hash;
    hm_eq_fn eq;
    size_t universe;
    long ops;
} shape_t;

static uint64_t hash12(const void *k, uint64_t seed) { return hm_hash_bytes(k, 12, seed); }
static bool eq12(const void *a, const void *b) { return memcmp(a, b, 12) == 0; }
static uint64_t hash200(const void *k, uint64_t seed) { return hm_hash_bytes(k, 200, seed); }
static bool eq200(const void *a, const void *b) { return memcmp(a, b, 200) == 0; }

static const shape_t shapes[] = {
    { "u64 -> u64", 8, 8, 8, 8, hm_hash_u64, hm_eq_u64, 1 << 16, 3000000 },
    { "u32 -> u8", 4, 4, 1, 1, hm_hash_u32, hm_eq_u32, 1 << 14, 1200000 },
    { "cstr -> u32", sizeof(char *), _Alignof(char *), 4, 4, hm_hash_cstr, hm_eq_cstr, 1 << 14, 1000000 },
    { "k12/4 -> v16/16", 12, 4, 16, 16, hash12, eq12, 1 << 14, 1000000 },
    { "k200 -> v40 (indirect keys)", 200, 8, 40, 8, hash200, eq200, 1 << 12, 600000 },
};

#define MAXU (1 << 16)
static struct {
    const shape_t *s;
    hm_map_t *m;
    uint8_t present[MAXU];
    uint32_t ver[MAXU];
    size_t count;
    char names[MAXU][12];   /* C-string keys */
    /* iteration bookkeeping */
    uint8_t at_start[MAXU], gone[MAXU], seen[MAXU];
    size_t bad;
} R;

static uint64_t rng;
static uint64_t rnd(void) { return check_rand(&rng); }

static uint64_t mix(uint64_t i)
{
    uint64_t z = i * 0x9e3779b97f4a7c15ULL + 77;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The key of entry idx, in the bytes the map takes: even entries small integers (low bits
 * that differ little), odd ones spread in their high bits; the low 16 bits (or the last 4
 * bytes) give idx back. */
static void make_key(uint64_t idx, unsigned char *k)
{
    const shape_t *s = R.s;
    uint64_t x = idx & 1 ? mix(idx) << 16 | idx : idx;
    if (s->hash == hm_hash_cstr) {
        char *p = R.names[idx];
        memcpy(k, &p, sizeof p);
    } else if (s->ks == 4) {
        memcpy(k, &(uint32_t){ (uint32_t)x }, 4);
    } else {
        memset(k, 0, s->ks);
        memcpy(k, &x, 8);
        if (s->ks > 8) memcpy(k + s->ks - 4, &(uint32_t){ (uint32_t)idx }, 4);
    }
}

static void make_val(uint64_t idx, uint32_t ver, unsigned char *v)
{
    uint64_t x = mix(idx * 1000003 + ver);
    for (size_t i = 0; i < R.s->vs; i++) v[i] = (unsigned char)(x >> (8 * (i % 8))) ^ (unsigned char)i;
}

static bool val_ok(uint64_t idx, const void *p)
{
    unsigned char v[64];
    make_val(idx, R.ver[idx], v);
    return memcmp(p, v, R.s->vs) == 0;
}

static uint64_t pick(void) { return rnd() % R.s->universe; }

static void op_put(uint64_t idx)
{
    _Alignas(16) unsigned char k[200], v[64];
    make_key(idx, k);
    uint32_t ver = R.ver[idx] + 1;
    make_val(idx, ver, v);
    bool ins;
    int err = hm_put(R.m, k, v, &ins);
    if (err || ins != !R.present[idx]) R.bad++;
    if (!err) {
        R.ver[idx] = ver;
        if (!R.present[idx]) R.count++;
        R.present[idx] = 1;
    }
}

static void op_del(uint64_t idx)
{
    _Alignas(16) unsigned char k[200];
    make_key(idx, k);
    if (hm_del(R.m, k) != R.present[idx]) R.bad++;
    if (R.present[idx]) R.count--, R.gone[idx] = 1;
    R.present[idx] = 0;
}

static void op_get(uint64_t idx)
{
    _Alignas(16) unsigned char k[200];
    make_key(idx, k);
    void *p = hm_get(R.m, k);
    if (R.present[idx] ? (!p || !val_ok(idx, p)) : p != NULL) R.bad++;
    if (p && ((uintptr_t)p % R.s->va)) R.bad++;
}

static void op_clear(void)
{
    hm_clear(R.m);
    for (size_t i = 0; i < R.s->universe; i++) {
        if (R.present[i]) R.gone[i] = 1;
        R.present[i] = 0;
    }
    R.count = 0;
}

/* The entry idx of a stored key. */
static uint64_t idx_of(const void *kp)
{
    const shape_t *s = R.s;
    if (s->hash == hm_hash_cstr) {
        const char *p;
        memcpy(&p, kp, sizeof p);
        return (uint64_t)strtoul(p + 1, NULL, 10);
    }
    if (s->ks == 4) {
        uint32_t v;
        memcpy(&v, kp, 4);
        return v & 0xffff;
    }
    if (s->ks > 8) {
        uint32_t v;
        memcpy(&v, (const char *)kp + s->ks - 4, 4);
        return v;
    }
    uint64_t x;
    memcpy(&x, kp, 8);
    return x & 0xffff;
}

/* Compares the whole map with the reference. */
static void verify_all(void)
{
    for (uint64_t i = 0; i < R.s->universe; i++) op_get(i);
    if (hm_count(R.m) != R.count) R.bad++;
    hm_stats_t st;
    hm_stats(R.m, &st);
    if (st.entries != R.count) R.bad++;
}

/* One iteration with writes between its steps (or none): the exactly-once rule. */
static void iterate(int writes)
{
    size_t U = R.s->universe;
    memcpy(R.at_start, R.present, U);
    memset(R.gone, 0, U);
    memset(R.seen, 0, U);
    hm_iter_t it;
    void *kp, *vp;
    long steps = 0, stop = writes && rnd() % 4 == 0 ? (long)(rnd() % 200) : -1;
    hm_iter_begin(R.m, &it);
    while (hm_iter_next(&it, &kp, &vp)) {
        uint64_t idx = idx_of(kp);
        if (idx >= U || !R.present[idx] || !val_ok(idx, vp) || (R.seen[idx] && !R.gone[idx]) ||
            hm_get(R.m, kp) != vp) {
            R.bad++;
        } else {
            R.seen[idx]++;
        }
        if (writes) {
            for (int w = 0; w < writes; w++) {
                uint64_t r = rnd() % 100;
                if (r < 45) op_put(pick());
                else if (r < 90) op_del(pick());
                else if (r < 91) (void)hm_shrink(R.m);
                else op_get(pick());
            }
        }
        if (++steps == stop) {      /* dropped early */
            hm_iter_end(&it);
            return;
        }
        if (steps > 20 * (long)U) {
            R.bad++;
            hm_iter_end(&it);
            return;
        }
    }
    for (size_t i = 0; i < U; i++)
        if (R.at_start[i] && !R.gone[i] && R.seen[i] != 1) R.bad++;
}

static long run_shape(const shape_t *s, uint64_t seed)
{
    memset(&R, 0, sizeof R);
    R.s = s;
    rng = seed;
    for (size_t i = 0; i < s->universe; i++) snprintf(R.names[i], sizeof R.names[i], "k%u", (unsigned)(i & 0xffff));
    hm_type_t t = { s->ks, s->ka, s->vs, s->va, s->hash, s->eq, 0 };
    R.m = hm_new(&t, NULL);
    long ops = 0;
    int phase = 0;
    while (ops < s->ops) {
        /* A phase: 2k..40k operations leaning to inserts (fill), deletes (drain) or neither. */
        phase++;
        long len = 2000 + (long)(rnd() % 38000);
        int put_pct = (int[]){ 70, 25, 45, 90, 10 }[rnd() % 5];
        if (rnd() % 3 == 0) hm_set_auto_shrink(R.m, rnd() % 2);
        for (long i = 0; i < len; i++, ops++) {
            uint64_t r = rnd() % 1000;
            if (r < (uint64_t)put_pct * 10 - 100) op_put(pick());
            else if (r < 900) op_del(pick());
            else if (r < 998) op_get(pick());
            else if (r == 998) (void)hm_shrink(R.m);
            else if (rnd() % 20 == 0) op_clear();
            else op_get(pick());
        }
        if (phase % 3 == 0) iterate((int)(rnd() % 3));
        if (phase % 5 == 0) verify_all();
    }
    verify_all();
    iterate(0);
    iterate(1);
    verify_all();
    hm_free(R.m);
    return ops;
}

static void test_differential(void)
{
    long total = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        long ops = run_shape(&shapes[i], 0x9e3779b97f4a7c15ULL * (i + 1));
        CHECKF(R.bad == 0, "%s: %zu mismatches", shapes[i].name, R.bad);
        total += ops;
    }
    printf("  %ld operations\n", total);
    CHECK(total >= 6000000);
}

int main(void)
{
    RUN(test_differential);
    return check_done();
}
