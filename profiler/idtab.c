/* profiler/idtab.c - see idtab.h. */
#include "profiler/idtab.h"

#include "profiler/arena.h"

static inline uint32_t slot_of(uint64_t k, uint32_t mask)
{
    k *= 0x9e3779b97f4a7c15ULL;
    return (uint32_t)(k >> 32) & mask;
}

uint32_t mp_idtab_get(const mp_idtab_t *t, uint64_t key)
{
    if (!t->key) return 0;
    for (uint32_t i = slot_of(key, t->mask);; i = (i + 1) & t->mask) {
        if (t->key[i] == key) return t->val[i];
        if (!t->key[i]) return 0;
    }
}

static void place(uint64_t *keys, uint32_t *vals, uint32_t mask, uint64_t k, uint32_t v)
{
    uint32_t i = slot_of(k, mask);
    while (keys[i] && keys[i] != k) i = (i + 1) & mask;
    keys[i] = k;
    vals[i] = v;
}

bool mp_idtab_put(mp_idtab_t *t, uint64_t key, uint32_t val)
{
    if (!t->key || (t->count + 1) * 4 > (t->mask + 1) * 3) {
        uint32_t cap = t->key ? (t->mask + 1) * 2 : 64;
        uint64_t *k = mp_pages_alloc((size_t)cap * sizeof *k);
        uint32_t *v = mp_pages_alloc((size_t)cap * sizeof *v);
        if (!k || !v) {
            mp_pages_free(k, (size_t)cap * sizeof *k);
            mp_pages_free(v, (size_t)cap * sizeof *v);
            return false;
        }
        if (t->key) {
            for (uint32_t i = 0; i <= t->mask; i++)
                if (t->key[i]) place(k, v, cap - 1, t->key[i], t->val[i]);
            mp_pages_free(t->key, (size_t)(t->mask + 1) * sizeof *t->key);
            mp_pages_free(t->val, (size_t)(t->mask + 1) * sizeof *t->val);
        }
        t->key = k;
        t->val = v;
        t->mask = cap - 1;
    }
    uint32_t i = slot_of(key, t->mask);
    while (t->key[i] && t->key[i] != key) i = (i + 1) & t->mask;
    if (!t->key[i]) t->count++;
    t->key[i] = key;
    t->val[i] = val;
    return true;
}

uint32_t mp_idtab_del(mp_idtab_t *t, uint64_t key)
{
    if (!t->key) return 0;
    uint32_t i = slot_of(key, t->mask);
    while (t->key[i] != key) {
        if (!t->key[i]) return 0;
        i = (i + 1) & t->mask;
    }
    uint32_t v = t->val[i];
    for (uint32_t j = (i + 1) & t->mask; t->key[j]; j = (j + 1) & t->mask) {
        if (!mp_probe_stays(i, j, slot_of(t->key[j], t->mask))) {
            t->key[i] = t->key[j];
            t->val[i] = t->val[j];
            i = j;
        }
    }
    t->key[i] = 0;
    t->count--;
    return v;
}

void mp_idtab_free(mp_idtab_t *t)
{
    if (t->key) {
        mp_pages_free(t->key, (size_t)(t->mask + 1) * sizeof *t->key);
        mp_pages_free(t->val, (size_t)(t->mask + 1) * sizeof *t->val);
    }
    *t = (mp_idtab_t){ 0 };
}
