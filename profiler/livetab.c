/* profiler/livetab.c - sharded live-block table and its lock-free address filter. */
#include "profiler/livetab.h"

#include <string.h>

#include "profiler/arena.h"
#include "profiler/idtab.h"
#include "profiler/profiler.h"
#include "profiler/spin.h"

#define NSHARDS_BITS 8
#define NSHARDS (1 << NSHARDS_BITS)
#define LEAF_BYTES (MP_FILTER_COUNT_BYTES + MP_FILTER_BITS_BYTES)   /* page counts, then bits */

/* A slot: 16 bytes, so the table costs 21-32 bytes per tracked block at its load of 0.5-0.75.
 * Addresses fit 47 bits (user space); the size's low 32 bits are here, and the rare fields (a
 * map id, the size's high bits) sit in the shard's side table of extras, flagged by W_EXT. */
typedef struct slot {
    uint64_t w;             /* address | W_EXT | role << 48; 0 = empty */
    uint32_t size_lo;
    uint32_t stack;
} slot_t;

#define W_ADDR (((uint64_t)1 << 47) - 1)
#define W_EXT ((uint64_t)1 << 47)
#define W_ROLE_SHIFT 48
/* A slot whose record left while a probe chain went on past it: no address, so no find
 * matches it; finds step over it and a new record may take it. */
#define TOMB W_EXT

typedef struct extra {      /* a slot's rare fields, by address */
    uintptr_t addr;         /* 0 = empty */
    uint32_t map;
    uint32_t size_hi;
} extra_t;

typedef struct shard {
    mp_spin_t lock;
    uint32_t cap;           /* slots: a multiple of 256 (whole pages of slots), or 0 before
                             * the first insert */
    uint32_t count;         /* tracked blocks */
    uint32_t tombs;         /* slots holding TOMB */
    slot_t *slot;           /* mmap'd array of cap slots */
    extra_t *ext;           /* mmap'd array of ext_mask + 1 extras, or NULL */
    uint32_t ext_mask, ext_count;
} __attribute__((aligned(64))) shard_t;

_Static_assert(sizeof(slot_t) == 16, "a live-table slot is 16 bytes");

static shard_t shards[NSHARDS];
uint64_t *mp_filter_top[MP_FILTER_LEAVES];
static size_t leaves_mapped;
static bool seen_unaligned;   /* some tracked block was not 16-byte aligned */

/* Where a block lives in the table: each 256-byte window of address space hashes to a run of
 * 16 slots, in which a block's slot follows its offset in the window (bits 4..7). Blocks near
 * each other in memory, which malloc hands out near each other in time, share cache lines of
 * the table (3x cheaper than a scattering hash at rate=1, measured on the churn workload).
 * The window's run is its Fibonacci hash scaled to cap / 16 runs (so the table may grow by
 * half): consecutive windows land evenly spread, far more evenly than a random hash would put
 * them, which is what keeps the linear probes short. The window size is measured (average
 * slots a find reads at rate=1: churn, cxxchurn, threadchurn, perl, python, hashmap): 4 KiB
 * windows 8.9, 2.6, 5.3, 17.0, 3.0, 4.1 (whole pages collide by the dozen); 256 bytes, with
 * shards by window, 1.5, 1.8, 3.0, 3.3, 1.8, 1.4, and with shards by 1 MiB region (below),
 * 1.4, 1.3, 3.6, 2.7, 1.6, 1.6; a murmur-style hash instead of Fibonacci's made every window
 * size worse (4 KiB: 71 on churn). */
static inline uint32_t home(uintptr_t a, uint32_t cap)
{
    return mp_run_slot(a >> (4 + MP_RUN_BITS), (uint32_t)((a >> 4) & ((1u << MP_RUN_BITS) - 1)),
                       cap);
}

static inline uint32_t next(uint32_t i, uint32_t cap) { return i + 1 == cap ? 0 : i + 1; }
static inline uint32_t prev(uint32_t i, uint32_t cap) { return (i ? i : cap) - 1; }
static inline uintptr_t slot_addr(const slot_t *e) { return (uintptr_t)(e->w & W_ADDR); }
static inline bool holds(const slot_t *e) { return (e->w & W_ADDR) != 0; }

/* A block's shard: by the 1 MiB region it starts in (Fibonacci-hashed over the shards). A
 * region holds whole pages, so each page's filter count and bits are written under one lock,
 * with plain stores; and a thread allocating from its own arena (glibc's and jemalloc's give
 * each thread its own) keeps to a few shards, so threads seldom share a shard's lock or the
 * cache lines of its table. (By 256-byte window instead, every thread used every shard: at
 * rate=1, two threads spent most of their time waiting on lines the other had written.) */
#define SHARD_SHIFT 20
_Static_assert(SHARD_SHIFT >= 12, "a shard holds the whole page of a page count");
static inline shard_t *shard_of(uintptr_t a, int *idx)
{
    *idx = (int)(((uint64_t)(a >> SHARD_SHIFT) * 0x9e3779b97f4a7c15ULL) >> (64 - NSHARDS_BITS));
    return &shards[*idx];
}

/* The helpers of a record's way in and out (leaf_for, filter_set, store, pack, unpack, erase,
 * filter_forget) are inlined into mp_live_insert, mp_live_remove and watch: left to the
 * compiler they were calls, and inlined the whole program ran 4-8% fewer instructions at
 * rate=1 (cachegrind: threadchurn -8.0%, python -5.5%, churn -4.4%, perl -3.9%; the default
 * rate unchanged). */
#define HOT static inline __attribute__((always_inline))

/* ---- filter ---- */

static uint64_t *leaf_new(uint64_t **slot);
HOT uint64_t *leaf_for(uintptr_t a, bool create)
{
    uint64_t **slot = &mp_filter_top[a >> MP_FILTER_LEAF_SHIFT];
    uint64_t *leaf = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (MP_LIKELY(leaf != NULL) || !create) return leaf;
    return leaf_new(slot);
}

__attribute__((noinline, cold)) static uint64_t *leaf_new(uint64_t **slot)
{
    /* 34 MiB of address space, of which only touched pages cost memory. */
    void *m = mp_pages_reserve(LEAF_BYTES);
    if (!m) return NULL;
    uint64_t *expect = NULL;
    if (__atomic_compare_exchange_n(slot, &expect, (uint64_t *)m, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
        __atomic_fetch_add(&leaves_mapped, 1, __ATOMIC_RELAXED);
        return m;
    }
    mp_pages_free(m, LEAF_BYTES);
    return expect;
}

/* A claimed page (mp_live_claim) has this bit of its count set, and every granule's bit set
 * for good: a page holds at most 256 records, so the count never reaches it. */
#define CLAIMED ((uint16_t)0x8000)

/* A record starting at a (in leaf) comes (on) or goes: its page's count moves by one, and its
 * granule's bit is set, or cleared when clear_bit (when no record starts in the granule any
 * more) unless the page is claimed. The caller holds the shard of a, which is the shard of
 * every address in its page: no other writer, so plain loads and stores; readers
 * (mp_maybe_tracked) are lock-free. Set in this order and cleared in the reverse, so a reader
 * never sees a page count of 0 while one of its records is in the table. */
HOT void filter_set(uint64_t *leaf, uintptr_t a, bool on, bool clear_bit)
{
    uintptr_t off = mp_filter_off(a);
    uint16_t *count = mp_filter_count(leaf, off);
    uint64_t *word = mp_filter_word(leaf, off), bit = mp_filter_bit(off);
    uint16_t c = __atomic_load_n(count, __ATOMIC_RELAXED);
    uint64_t w = __atomic_load_n(word, __ATOMIC_RELAXED);
    if (on) {
        __atomic_store_n(count, (uint16_t)(c + 1), __ATOMIC_RELEASE);
        if (!(w & bit)) __atomic_store_n(word, w | bit, __ATOMIC_RELEASE);
    } else {
        if (clear_bit && (w & bit) && !(c & CLAIMED))
            __atomic_store_n(word, w & ~bit, __ATOMIC_RELEASE);
        __atomic_store_n(count, (uint16_t)(c - 1), __ATOMIC_RELEASE);
    }
}

/* Does a record start in a's granule (or is a's page claimed)? Exact under the shard lock of
 * a: no means the table holds no record for a. (An address no slot can hold: yes, for the
 * caller's find to refuse it.) */
static bool granule_marked(uintptr_t a)
{
    if (!a || (a & ~W_ADDR)) return true;
    uint64_t *leaf = leaf_for(a, false);
    if (!leaf) return false;
    uintptr_t off = mp_filter_off(a);
    return (*mp_filter_word(leaf, off) & mp_filter_bit(off)) != 0;
}

/* ---- shard tables (caller holds the shard lock) ---- */

/* The slot holding a, or NULL; *end (when asked) is then where a new record for a would go:
 * the probe's first tombstone, or the empty slot that ended it. */
static slot_t *find_end(shard_t *s, uintptr_t a, slot_t **end)
{
    if (!s->slot || !a || (a & ~W_ADDR)) return NULL;
    slot_t *slot = s->slot, *tomb = NULL;
    uint32_t cap = s->cap;
    for (uint32_t i = home(a, cap);; i = next(i, cap)) {
        uint64_t w = slot[i].w;
        if ((w & W_ADDR) == a) return &slot[i];     /* a != 0: never an empty slot */
        if (w & W_ADDR) continue;
        if (w) {
            if (!tomb) tomb = &slot[i];
            continue;
        }
        if (end) *end = tomb ? tomb : &slot[i];
        return NULL;
    }
}

static inline slot_t *find(shard_t *s, uintptr_t a) { return find_end(s, a, NULL); }

/* Where a new record for a goes when the table holds none for a: the first slot of its probe
 * that holds no record (a tombstone or empty). */
static slot_t *first_hole(shard_t *s, uintptr_t a)
{
    if (!s->slot) return NULL;
    uint32_t cap = s->cap, i = home(a, cap);
    while (holds(&s->slot[i])) i = next(i, cap);
    return &s->slot[i];
}

static void put(slot_t *slot, uint32_t cap, const slot_t *e)
{
    uint32_t i = home(slot_addr(e), cap);
    while (slot[i].w) i = next(i, cap);
    slot[i] = *e;
}

/* The table is rebuilt when records and tombstones fill three quarters of it: grown by half
 * (load 0.5 after) in whole pages of slots, or at the same size when the records alone fill
 * less than half of it. */
static bool grow(shard_t *s)
{
    uint32_t cap = !s->slot ? 256
                 : s->count < s->cap / 2 ? s->cap
                 : ((s->cap + s->cap / 2 + 255) & ~255u);
    slot_t *n = mp_pages_alloc((size_t)cap * sizeof *n);
    if (!n) return false;
    if (s->slot) {
        for (uint32_t i = 0; i < s->cap; i++)
            if (holds(&s->slot[i])) put(n, cap, &s->slot[i]);
        mp_pages_free(s->slot, (size_t)s->cap * sizeof *s->slot);
    }
    s->tombs = 0;
    __atomic_store_n(&s->slot, n, __ATOMIC_RELAXED);     /* read unlocked by mp_live_prefetch */
    __atomic_store_n(&s->cap, cap, __ATOMIC_RELAXED);
    return true;
}

HOT void erase_slot(shard_t *s, slot_t *hole)
{
    /* A tombstone, unless no probe chain goes on past the hole: then the hole and the
     * tombstones just before it are empty again. Backward-shift deletion, which needs no
     * tombstones, read 5.5 slots an erase on threadchurn at rate=1, whose clusters are long:
     * tombstones cost 9% fewer instructions there, and 1% more on perl, whose finds read
     * 6.2 slots instead of 2.9 (bounded to 4 slots, the shift cost more on all six bench
     * workloads but threadchurn). */
    uint32_t i = (uint32_t)(hole - s->slot);
    s->count--;
    if (s->slot[next(i, s->cap)].w) {
        hole->w = TOMB;
        s->tombs++;
        return;
    }
    hole->w = 0;
    for (i = prev(i, s->cap); s->slot[i].w == TOMB; i = prev(i, s->cap)) {
        s->slot[i].w = 0;
        s->tombs--;
    }
}

/* ---- extras: the same open addressing, by a scattering hash of the address ---- */

static inline uint32_t ext_home(uintptr_t a, uint32_t mask)
{
    return (uint32_t)(((uint64_t)a * 0x9e3779b97f4a7c15ULL) >> 32) & mask;
}

static extra_t *ext_find(shard_t *s, uintptr_t a)
{
    if (!s->ext) return NULL;
    for (uint32_t i = ext_home(a, s->ext_mask);; i = (i + 1) & s->ext_mask) {
        if (s->ext[i].addr == a) return &s->ext[i];
        if (!s->ext[i].addr) return NULL;
    }
}

static bool ext_put(shard_t *s, uintptr_t a, uint32_t map, uint32_t size_hi)
{
    if (!s->ext || (s->ext_count + 1) * 4 > (s->ext_mask + 1) * 3) {
        uint32_t cap = s->ext ? (s->ext_mask + 1) * 2 : 64;
        extra_t *n = mp_pages_alloc((size_t)cap * sizeof *n);
        if (!n) return false;
        for (uint32_t i = 0; s->ext && i <= s->ext_mask; i++) {
            if (!s->ext[i].addr) continue;
            uint32_t j = ext_home(s->ext[i].addr, cap - 1);
            while (n[j].addr) j = (j + 1) & (cap - 1);
            n[j] = s->ext[i];
        }
        if (s->ext) mp_pages_free(s->ext, (size_t)(s->ext_mask + 1) * sizeof *s->ext);
        s->ext = n;
        s->ext_mask = cap - 1;
    }
    uint32_t i = ext_home(a, s->ext_mask);
    while (s->ext[i].addr) i = (i + 1) & s->ext_mask;
    s->ext[i] = (extra_t){ a, map, size_hi };
    s->ext_count++;
    return true;
}

static void ext_del(shard_t *s, uintptr_t a)
{
    extra_t *e = ext_find(s, a);
    if (!e) return;
    uint32_t i = (uint32_t)(e - s->ext);
    for (uint32_t j = (i + 1) & s->ext_mask; s->ext[j].addr; j = (j + 1) & s->ext_mask) {
        if (!mp_probe_stays(i, j, ext_home(s->ext[j].addr, s->ext_mask))) {
            s->ext[i] = s->ext[j];
            i = j;
        }
    }
    s->ext[i].addr = 0;
    s->ext_count--;
}

/* ---- records: a block as the API sees it <-> a slot and its extras ---- */

HOT void unpack(shard_t *s, const slot_t *e, mp_block_t *b)
{
    uintptr_t a = slot_addr(e);
    *b = (mp_block_t){ .addr = a, .size = e->size_lo, .role = (uint16_t)(e->w >> W_ROLE_SHIFT),
                       .stack = e->stack };
    if (e->w & W_EXT) {
        const extra_t *x = ext_find(s, a);
        if (x) {
            b->map = x->map;
            b->size = mp_block_size((size_t)x->size_hi << 32 | e->size_lo);
        }
    }
}

/* Fill *e from b, its extras stored; false when out of memory (e untouched). */
HOT bool pack(shard_t *s, const mp_block_t *b, slot_t *e)
{
    uint64_t hi = (uint64_t)b->size >> 32;
    bool ext = b->map || hi;
    if (ext && !ext_put(s, b->addr, b->map, (uint32_t)hi)) return false;
    *e = (slot_t){ (uint64_t)b->addr | (ext ? W_EXT : 0) | (uint64_t)b->role << W_ROLE_SHIFT,
                   (uint32_t)b->size, b->stack };
    return true;
}

/* The record leaves (its extras too). */
HOT void erase(shard_t *s, slot_t *e)
{
    if (e->w & W_EXT) ext_del(s, slot_addr(e));
    erase_slot(s, e);
}

/* Take s's lock, unless this thread holds it already: a signal handler's free that came
 * inside our own lock, which would wait on it for good. False then, and the caller leaves the
 * table alone. *prev gets the mark to restore.
 *
 * mp_tls.held_shard is set before the lock is taken and restored after it is released (as
 * mp_held_lock's marks, and ordered the same way): a signal handler that comes while this
 * thread takes or holds the lock must see it (seen: a handler's free landed between the
 * exchange and a mark set after it). Restored, not cleared: a handler's free takes and
 * releases another shard's lock while the interrupted code holds one, and clearing the mark on
 * its way out made the next handler's free wait on the shard still held (seen, with threads
 * starting). A bit per shard instead cost more instructions at rate=1 (threadchurn 5.7%,
 * hashmap 3.3%, churn 2.8%); only a handler interrupted by a second one inside a shard is left
 * unguarded by this. */
static bool lock_shard(shard_t *s, int idx, int *prev)
{
    if (mp_tls.held_shard == idx + 1) return false;
    *prev = mp_tls.held_shard;
    mp_tls.held_shard = idx + 1;
    mp_spin_lock(&s->lock);
    return true;
}

static void unlock_shard(shard_t *s, int prev)
{
    mp_spin_unlock(&s->lock);
    __atomic_store_n(&mp_tls.held_shard, prev, __ATOMIC_RELEASE);
}

/* A new record in s (locked), counted in the filter; false when out of memory or when the
 * address does not fit a slot (above user space: never from malloc). A record the filter
 * could not count (no memory for its leaf) is not kept: its free would pass it by. end, when
 * not NULL, is where a probe for b's address said a new record goes (find_end). */
HOT bool store(shard_t *s, const mp_block_t *b, slot_t *end)
{
    slot_t e;
    uint64_t *leaf;
    if ((b->addr & ~W_ADDR) || !b->addr || !(leaf = leaf_for(b->addr, true))) return false;
    if (!((s->count + s->tombs + 1) * 4 <= s->cap * 3 && s->slot)) {
        if (!grow(s)) return false;
        end = NULL;
    }
    if (!pack(s, b, &e)) return false;
    if (!end) put(s->slot, s->cap, &e);     /* a rebuilt table: no tombstones */
    else {
        if (end->w) s->tombs--;
        *end = e;
    }
    s->count++;
    if (MP_UNLIKELY(b->addr & 15)) __atomic_store_n(&seen_unaligned, true, __ATOMIC_RELAXED);
    filter_set(leaf, b->addr, true, false);
    return true;
}

HOT void filter_forget(shard_t *s, uintptr_t a);

bool mp_live_insert(const mp_block_t *b, mp_block_t *stale, bool *ok)
{
    int idx;
    shard_t *s = shard_of(b->addr, &idx);
    bool had = false;
    *ok = false;
    int prev;
    if (!lock_shard(s, idx, &prev)) return false;
    /* A record for the address is left only when the program's free of it went past us (a
     * stale one). The filter's bit for its granule, exact under the lock, nearly always says
     * there is none, and the new record then takes the first hole of its probe, with no walk
     * to the probe's end to look for one: a malloc that hands back a block just freed finds
     * the tombstone of its record there. Slots read by an insert at rate=1: threadchurn 2.3
     * instead of 7.7, perl 6.1 instead of 12.1, python 2.0 instead of 3.5, churn 1.5 instead
     * of 2.2. */
    slot_t *end = NULL, *e = NULL;
    if (granule_marked(b->addr)) e = find_end(s, b->addr, &end);
    else end = first_hole(s, b->addr);
    if (e) {
        unpack(s, e, stale);
        had = true;
        if (e->w & W_EXT) ext_del(s, b->addr);
        slot_t n;
        if (pack(s, b, &n)) {
            *e = n;
            *ok = true;
        } else {
            erase_slot(s, e);   /* the stale record is reported; the new one could not be kept */
            filter_forget(s, b->addr);
        }
    } else {
        *ok = store(s, b, end);
    }
    unlock_shard(s, prev);
    return had;
}

/* A block at a left the table of s (locked): its page count drops and its filter bit goes
 * too. a was stored, so it fits the filter and its leaf exists. */
HOT void filter_forget(shard_t *s, uintptr_t a)
{
    uint64_t *leaf = leaf_for(a, false);
    bool keep = false;
    /* Blocks 8-byte aligned (allocators other than glibc's) may share a granule and its bit:
     * clear it only when no tracked block starts in the granule any more (the other address
     * is in the same page, so in s). */
    if (__atomic_load_n(&seen_unaligned, __ATOMIC_RELAXED))
        keep = find(s, (a & 15) ? a & ~(uintptr_t)15 : a | 8) != NULL;
    filter_set(leaf, a, false, !keep);
}

bool mp_live_claim(uintptr_t lo, size_t len)
{
    const uintptr_t page = (uintptr_t)1 << 12;
    for (uintptr_t a = lo & ~(page - 1); a < lo + len; a += page) {
        uint64_t *leaf;
        if ((a & ~W_ADDR) || !(leaf = leaf_for(a, true))) return false;
        int idx;
        shard_t *s = shard_of(a, &idx);
        int prev;
        if (!lock_shard(s, idx, &prev)) return false;
        /* As filter_set does for a record: the page's count first, then every granule's bit. */
        uintptr_t off = mp_filter_off(a);
        uint16_t *count = mp_filter_count(leaf, off);
        __atomic_store_n(count, (uint16_t)(*count | CLAIMED), __ATOMIC_RELEASE);
        uint64_t *word = mp_filter_word(leaf, off);
        for (uintptr_t i = 0; i < page / 16 / 64; i++)
            __atomic_store_n(&word[i], ~(uint64_t)0, __ATOMIC_RELEASE);
        unlock_shard(s, prev);
    }
    return true;
}

bool mp_live_remove(uintptr_t a, mp_block_t *out)
{
    int idx;
    shard_t *s = shard_of(a, &idx);
    int prev;
    if (!lock_shard(s, idx, &prev)) return false;
    slot_t *e = find(s, a);
    bool found = e != NULL;
    if (found) {
        unpack(s, e, out);
        erase(s, e);
        filter_forget(s, a);
    }
    unlock_shard(s, prev);
    return found;
}

/* The watch count of the record at a changes by delta. An untracked address gets a watch-only
 * record, unless sampled_only: then only a sampled block's record (one with a stack) counts.
 * *counted tells whether the count moved. */
static bool watch(uintptr_t a, int delta, bool sampled_only, bool *counted)
{
    int idx;
    shard_t *s = shard_of(a, &idx);
    *counted = false;
    int prev;
    if (!lock_shard(s, idx, &prev)) return false;
    bool ok = true;
    slot_t *end = NULL, *e = find_end(s, a, &end);
    if (e && (!sampled_only || e->stack)) {
        unsigned role = (unsigned)(e->w >> W_ROLE_SHIFT);
        unsigned n = (role & MP_BLOCK_WATCHED) >> MP_BLOCK_WATCH_SHIFT;
        *counted = true;
        if (n < MP_BLOCK_WATCH_MAX && (delta > 0 || n > 0)) {   /* saturated counts stick */
            n = delta > 0 ? n + 1 : n - 1;
            role = (role & ~MP_BLOCK_WATCHED) | n << MP_BLOCK_WATCH_SHIFT;
            e->w = (e->w & (((uint64_t)1 << W_ROLE_SHIFT) - 1)) | (uint64_t)role << W_ROLE_SHIFT;
            if (!n && !e->size_lo && !e->stack && !(e->w & W_EXT)) {   /* a record only for the watch */
                erase(s, e);
                filter_forget(s, a);
            }
        }
    } else if (!e && delta > 0 && !sampled_only) {
        mp_block_t b = { .addr = a, .role = 1u << MP_BLOCK_WATCH_SHIFT };
        ok = *counted = store(s, &b, end);
    }
    unlock_shard(s, prev);
    return ok;
}

bool mp_live_watch(uintptr_t a, int delta)
{
    bool counted;
    return watch(a, delta, false, &counted);
}

bool mp_live_watch_sampled(uintptr_t a)
{
    bool counted;
    if (!mp_maybe_tracked((const void *)a)) return false;  /* the lock-free answer for most */
    watch(a, 1, true, &counted);
    return counted;
}

void mp_live_prefetch(uintptr_t a)
{
    int idx;
    shard_t *s = shard_of(a, &idx);
    /* Unlocked: a shard growing meanwhile gives a stale or mismatched pair, and a prefetch of
     * any address is harmless (it never faults). */
    slot_t *slot = __atomic_load_n(&s->slot, __ATOMIC_RELAXED);
    uint32_t cap = __atomic_load_n(&s->cap, __ATOMIC_RELAXED);
    if (slot && cap) __builtin_prefetch(&slot[home(a, cap)], 1, 3);
}

size_t mp_live_count(void)
{
    size_t n = 0;
    for (int i = 0; i < NSHARDS; i++) n += __atomic_load_n(&shards[i].count, __ATOMIC_RELAXED);
    return n;
}

void mp_live_foreach(void (*fn)(const mp_block_t *b, void *ctx), void *ctx)
{
    for (int i = 0; i < NSHARDS; i++) {
        shard_t *s = &shards[i];
        int prev;
        if (!lock_shard(s, i, &prev)) continue;     /* a dump inside our own hold */
        for (uint32_t j = 0; s->slot && j < s->cap; j++) {
            if (!holds(&s->slot[j])) continue;
            mp_block_t b;
            unpack(s, &s->slot[j], &b);
            fn(&b, ctx);
        }
        unlock_shard(s, prev);
    }
}

void mp_live_lock_all(void)
{
    for (int i = 0; i < NSHARDS; i++) mp_spin_lock(&shards[i].lock);
}

void mp_live_unlock_all(void)
{
    for (int i = NSHARDS - 1; i >= 0; i--) mp_spin_unlock(&shards[i].lock);
}

void mp_live_reset_locks(void)
{
    for (int i = 0; i < NSHARDS; i++) mp_spin_init(&shards[i].lock);
}

size_t mp_live_overhead(void)
{
    size_t n = 0;
    for (int i = 0; i < NSHARDS; i++)
    {
        if (shards[i].slot) n += (size_t)shards[i].cap * sizeof(slot_t);
        if (shards[i].ext) n += (size_t)(shards[i].ext_mask + 1) * sizeof(extra_t);
    }
    return n;
}
