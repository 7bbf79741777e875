/* export/internal.h - small containers shared by export/'s writers, readers and symbolizer.
 *
 * export/ may not depend on hashmap/ (a separate library), so it keeps two tiny open-addressing
 * tables of its own: u64 -> u32 (addresses and composite keys to dense ids) and a string
 * interner (string -> dense index, strings copied once). Both use linear probing over a
 * power-of-two array and grow at 70% load; values are never removed. Dump-time only: they
 * allocate with malloc (the caller holds the profiler's reentrancy guard). */
#ifndef MAPPROF_EXPORT_INTERNAL_H
#define MAPPROF_EXPORT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* u64 key -> non-zero u32 value. A value of 0 marks an empty slot, so store ids >= 1. */
typedef struct mp_u64tab {
    uint64_t *keys;         /* cap keys */
    uint32_t *vals;         /* cap values; 0 = empty slot */
    size_t cap;             /* power of two (0 before the first insert) */
    size_t n;               /* occupied slots */
} mp_u64tab_t;

/* The value stored for key, or 0. */
uint32_t mp_u64tab_get(const mp_u64tab_t *t, uint64_t key);
/* Store key -> val (val != 0), replacing an old value. Returns 0 or ENOMEM. */
int mp_u64tab_put(mp_u64tab_t *t, uint64_t key, uint32_t val);
void mp_u64tab_free(mp_u64tab_t *t);

/* String interner: each distinct string gets the next index, starting at 0. */
typedef struct mp_strtab {
    char **strs;            /* n copied strings, NUL-terminated, in index order */
    size_t n, strs_cap;
    uint32_t *slots;        /* hash slots: index + 1, 0 = empty */
    uint32_t *slot_hash;    /* low bits of each slot's string hash (cheap mismatch test) */
    size_t cap;             /* slots, power of two */
} mp_strtab_t;

/* Index of s (interned on first sight); -1 on ENOMEM. NULL is interned as "". */
int64_t mp_strtab_intern(mp_strtab_t *t, const char *s);
/* Index of s or -1 when absent (no insertion). */
int64_t mp_strtab_find(const mp_strtab_t *t, const char *s);
void mp_strtab_free(mp_strtab_t *t);

/* Growable array helper: make room for at least need elements of size elt in *arr (capacity
 * *cap, doubled). Returns 0 or ENOMEM. */
int mp_grow(void *arr, size_t *cap, size_t need, size_t elt);

uint64_t mp_hash64(uint64_t x);
uint64_t mp_hash_str(const char *s);

#endif
