/* export/table.c - the open-addressing tables of internal.h (u64 -> id, string interner).
 *
 * Linear probing over a power-of-two array; growth doubles at 70% load and reinserts. Keys
 * are mixed with a 64-bit finalizer first, so clustered addresses spread evenly. */
#include "export/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

uint64_t mp_hash64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

uint64_t mp_hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;            /* FNV-1a, then mixed */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return mp_hash64(h);
}

int mp_grow(void *arr, size_t *cap, size_t need, size_t elt)
{
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 16;
    while (nc < need) nc *= 2;
    void *p = realloc(*(void **)arr, nc * elt);
    if (!p) return ENOMEM;
    *(void **)arr = p;
    *cap = nc;
    return 0;
}

uint32_t mp_u64tab_get(const mp_u64tab_t *t, uint64_t key)
{
    if (!t->cap) return 0;
    size_t mask = t->cap - 1;
    for (size_t i = mp_hash64(key) & mask;; i = (i + 1) & mask) {
        if (!t->vals[i]) return 0;
        if (t->keys[i] == key) return t->vals[i];
    }
}

static int u64tab_resize(mp_u64tab_t *t, size_t ncap)
{
    uint64_t *nk = malloc(ncap * sizeof *nk);
    uint32_t *nv = calloc(ncap, sizeof *nv);
    if (!nk || !nv) { free(nk); free(nv); return ENOMEM; }
    size_t mask = ncap - 1;
    for (size_t j = 0; j < t->cap; j++) {
        if (!t->vals[j]) continue;
        size_t i = mp_hash64(t->keys[j]) & mask;
        while (nv[i]) i = (i + 1) & mask;
        nk[i] = t->keys[j];
        nv[i] = t->vals[j];
    }
    free(t->keys);
    free(t->vals);
    t->keys = nk;
    t->vals = nv;
    t->cap = ncap;
    return 0;
}

int mp_u64tab_put(mp_u64tab_t *t, uint64_t key, uint32_t val)
{
    if ((t->n + 1) * 10 > t->cap * 7) {
        int e = u64tab_resize(t, t->cap ? t->cap * 2 : 64);
        if (e) return e;
    }
    size_t mask = t->cap - 1;
    size_t i = mp_hash64(key) & mask;
    while (t->vals[i] && t->keys[i] != key) i = (i + 1) & mask;
    if (!t->vals[i]) t->n++;
    t->keys[i] = key;
    t->vals[i] = val;
    return 0;
}

void mp_u64tab_free(mp_u64tab_t *t)
{
    free(t->keys);
    free(t->vals);
    memset(t, 0, sizeof *t);
}

/* Slot of s: its index + 1 when present, else the empty slot where it would go (*found = 0). */
static size_t strtab_slot(const mp_strtab_t *t, const char *s, uint64_t h, int *found)
{
    size_t mask = t->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        uint32_t v = t->slots[i];
        if (!v) { *found = 0; return i; }
        if (t->slot_hash[i] == (uint32_t)(h >> 32) && !strcmp(t->strs[v - 1], s)) {
            *found = 1;
            return i;
        }
    }
}

int64_t mp_strtab_find(const mp_strtab_t *t, const char *s)
{
    if (!s) s = "";
    if (!t->cap) return -1;
    int found;
    size_t i = strtab_slot(t, s, mp_hash_str(s), &found);
    return found ? (int64_t)t->slots[i] - 1 : -1;
}

static int strtab_resize(mp_strtab_t *t, size_t ncap)
{
    uint32_t *ns = calloc(ncap, sizeof *ns), *nh = malloc(ncap * sizeof *nh);
    if (!ns || !nh) { free(ns); free(nh); return ENOMEM; }
    size_t mask = ncap - 1;
    for (size_t j = 0; j < t->n; j++) {
        uint64_t h = mp_hash_str(t->strs[j]);
        size_t i = h & mask;
        while (ns[i]) i = (i + 1) & mask;
        ns[i] = (uint32_t)j + 1;
        nh[i] = (uint32_t)(h >> 32);
    }
    free(t->slots);
    free(t->slot_hash);
    t->slots = ns;
    t->slot_hash = nh;
    t->cap = ncap;
    return 0;
}

int64_t mp_strtab_intern(mp_strtab_t *t, const char *s)
{
    if (!s) s = "";
    if ((t->n + 1) * 10 > t->cap * 7 && strtab_resize(t, t->cap ? t->cap * 2 : 256)) return -1;
    uint64_t h = mp_hash_str(s);
    int found;
    size_t i = strtab_slot(t, s, h, &found);
    if (found) return (int64_t)t->slots[i] - 1;
    if (t->n >= UINT32_MAX - 1 || mp_grow(&t->strs, &t->strs_cap, t->n + 1, sizeof *t->strs))
        return -1;
    char *c = strdup(s);
    if (!c) return -1;
    t->strs[t->n] = c;
    t->slots[i] = (uint32_t)++t->n;
    t->slot_hash[i] = (uint32_t)(h >> 32);
    return (int64_t)t->n - 1;
}

void mp_strtab_free(mp_strtab_t *t)
{
    for (size_t i = 0; i < t->n; i++) free(t->strs[i]);
    free(t->strs);
    free(t->slots);
    free(t->slot_hash);
    memset(t, 0, sizeof *t);
}
