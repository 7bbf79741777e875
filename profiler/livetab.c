/* profiler/livetab.c - sharded live-block table and its lock-free address filter. */
#include "profiler/livetab.h"

#include <string.h>

#include "profiler/arena.h"
#include "profiler/profiler.h"
#include "profiler/spin.h"

#define NSHARDS 64
#define LEAF_GRANULES ((uint64_t)1 << (MP_FILTER_LEAF_SHIFT - 4))
#define LEAF_BYTES (LEAF_GRANULES / 8)

typedef struct shard {
    mp_spin_t lock;
    uint32_t mask;          /* capacity - 1, or 0 before the first insert */
    uint32_t count;         /* tracked blocks */
    mp_block_t *slot;       /* mmap'd array of mask + 1 slots */
} __attribute__((aligned(64))) shard_t;

_Static_assert(sizeof(mp_block_t) == 24, "a live-table slot is 24 bytes");

static shard_t shards[NSHARDS];
uint64_t *mp_filter_top[1u << (47 - MP_FILTER_LEAF_SHIFT)];
static size_t leaves_mapped;
static bool seen_unaligned;   /* some tracked block was not 16-byte aligned */

/* Where a block lives in the table: each 4 KiB page of address space hashes to a run of 256
 * slots, in which a block's slot follows its offset in the page (bits 4..11). Blocks near
 * each other in memory, which malloc hands out near each other in time, share cache lines of
 * the table (3x cheaper than a scattering hash at rate=1, measured on the churn workload),
 * while pages are spread evenly over the table (placing 64 KiB windows side by side by their
 * address made a contiguous heap's windows overlap and lengthened probe chains). */
static inline uint64_t mix(uintptr_t a)
{
    uint64_t h = (uint64_t)(a >> 12) * 0x9e3779b97f4a7c15ULL;
    return ((h >> 24) << 8) | ((a >> 4) & 0xff);
}

static inline shard_t *shard_of(uintptr_t a, int *idx)
{
    *idx = (int)((a >> 12) & (NSHARDS - 1));    /* by 4 KiB page: a page's blocks share a shard */
    return &shards[*idx];
}

/* ---- filter ---- */

static uint64_t *leaf_for(uintptr_t a, bool create)
{
    uint64_t **slot = &mp_filter_top[a >> MP_FILTER_LEAF_SHIFT];
    uint64_t *leaf = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (leaf || !create) return leaf;
    /* 32 MiB of address space, of which only touched pages cost memory. */
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

static void filter_set(uintptr_t a, bool on)
{
    if (a >> 47) return;    /* outside the filter: mp_maybe_tracked always says maybe */
    uint64_t *leaf = leaf_for(a, on);
    if (!leaf) return;
    uint64_t g = (a & (((uintptr_t)1 << MP_FILTER_LEAF_SHIFT) - 1)) >> 4;
    uint64_t bit = (uint64_t)1 << (g & 63);
    if (on) __atomic_fetch_or(&leaf[g >> 6], bit, __ATOMIC_RELEASE);
    else __atomic_fetch_and(&leaf[g >> 6], ~bit, __ATOMIC_RELEASE);
}

/* ---- shard tables (caller holds the shard lock) ---- */

static mp_block_t *find(shard_t *s, uintptr_t a)
{
    if (!s->slot) return NULL;
    for (uint32_t i = (uint32_t)mix(a) & s->mask;; i = (i + 1) & s->mask) {
        if (s->slot[i].addr == a) return &s->slot[i];
        if (!s->slot[i].addr) return NULL;
    }
}

static void put(mp_block_t *slot, uint32_t mask, const mp_block_t *b)
{
    uint32_t i = (uint32_t)mix(b->addr) & mask;
    while (slot[i].addr) i = (i + 1) & mask;
    slot[i] = *b;
}

static bool grow(shard_t *s)
{
    uint32_t cap = s->slot ? (s->mask + 1) * 2 : 256;
    mp_block_t *n = mp_pages_alloc((size_t)cap * sizeof *n);
    if (!n) return false;
    if (s->slot) {
        for (uint32_t i = 0; i <= s->mask; i++)
            if (s->slot[i].addr) put(n, cap - 1, &s->slot[i]);
        mp_pages_free(s->slot, (size_t)(s->mask + 1) * sizeof *s->slot);
    }
    __atomic_store_n(&s->slot, n, __ATOMIC_RELAXED);     /* read unlocked by mp_live_prefetch */
    __atomic_store_n(&s->mask, cap - 1, __ATOMIC_RELAXED);
    return true;
}

static void erase(shard_t *s, mp_block_t *hole)
{
    /* Backward-shift deletion keeps probe chains unbroken without tombstones. */
    uint32_t i = (uint32_t)(hole - s->slot);
    for (uint32_t j = (i + 1) & s->mask; s->slot[j].addr; j = (j + 1) & s->mask) {
        uint32_t home = (uint32_t)mix(s->slot[j].addr) & s->mask;
        /* Move j into i unless its home lies cyclically in (i, j]. */
        bool stays = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            s->slot[i] = s->slot[j];
            i = j;
        }
    }
    s->slot[i].addr = 0;
    s->count--;
}

static void lock_shard(shard_t *s, int idx)
{
    mp_spin_lock(&s->lock);
    mp_tls.held_shard = idx + 1;
}

static void unlock_shard(shard_t *s)
{
    mp_tls.held_shard = 0;
    mp_spin_unlock(&s->lock);
}

/* A new record in s (locked), its filter bit set; false when out of memory. */
static bool store(shard_t *s, const mp_block_t *b)
{
    if (!(((s->count + 1) * 4 <= (s->mask + 1) * 3 && s->slot) || grow(s))) return false;
    put(s->slot, s->mask, b);
    s->count++;
    if (MP_UNLIKELY(b->addr & 15)) __atomic_store_n(&seen_unaligned, true, __ATOMIC_RELAXED);
    filter_set(b->addr, true);
    return true;
}

bool mp_live_insert(const mp_block_t *b, mp_block_t *stale, bool *ok)
{
    int idx;
    shard_t *s = shard_of(b->addr, &idx);
    bool had = false;
    *ok = false;
    if (mp_tls.held_shard == idx + 1) return false;   /* a signal handler inside our lock */
    lock_shard(s, idx);
    mp_block_t *e = find(s, b->addr);
    if (e) {
        *stale = *e;
        *e = *b;
        had = true;
        *ok = true;
    } else {
        *ok = store(s, b);
    }
    unlock_shard(s);
    return had;
}

/* After a block at a left the table (shard unlocked): its filter bit goes too. */
static void filter_forget(uintptr_t a)
{
    if (!__atomic_load_n(&seen_unaligned, __ATOMIC_RELAXED)) {
        filter_set(a, false);
        return;
    }
    /* Blocks 8-byte aligned (allocators other than glibc's) may share a granule and its bit:
     * clear it only when no tracked block starts in the granule any more. */
    uintptr_t other = (a & 15) ? a & ~(uintptr_t)15 : a | 8;
    int oi;
    shard_t *os = shard_of(other, &oi);
    bool keep = true;
    if (mp_tls.held_shard != oi + 1) {
        lock_shard(os, oi);
        keep = find(os, other) != NULL;
        unlock_shard(os);
    }
    if (!keep) filter_set(a, false);
}

bool mp_live_remove(uintptr_t a, mp_block_t *out)
{
    int idx;
    shard_t *s = shard_of(a, &idx);
    if (mp_tls.held_shard == idx + 1) return false;   /* see mp_live_insert */
    lock_shard(s, idx);
    mp_block_t *e = find(s, a);
    bool found = e != NULL;
    if (found) {
        *out = *e;
        erase(s, e);
    }
    unlock_shard(s);
    if (found) filter_forget(a);
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
    if (mp_tls.held_shard == idx + 1) return false;
    bool ok = true, gone = false;
    lock_shard(s, idx);
    mp_block_t *e = find(s, a);
    if (e && (!sampled_only || e->stack)) {
        unsigned n = MP_BLOCK_WATCHES(e);
        *counted = true;
        if (n < MP_BLOCK_WATCH_MAX && (delta > 0 || n > 0)) {   /* saturated counts stick */
            n = delta > 0 ? n + 1 : n - 1;
            e->role = (uint16_t)((e->role & ~MP_BLOCK_WATCHED) | n << MP_BLOCK_WATCH_SHIFT);
            if (!n && !e->size && !e->stack && !e->map) {   /* a record only for the watch */
                erase(s, e);
                gone = true;
            }
        }
    } else if (!e && delta > 0 && !sampled_only) {
        ok = *counted = store(s, &(mp_block_t){ .addr = a, .role = 1u << MP_BLOCK_WATCH_SHIFT });
    }
    unlock_shard(s);
    if (gone) filter_forget(a);
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
    mp_block_t *slot = __atomic_load_n(&s->slot, __ATOMIC_RELAXED);
    uint32_t mask = __atomic_load_n(&s->mask, __ATOMIC_RELAXED);
    if (slot) __builtin_prefetch(&slot[(uint32_t)mix(a) & mask], 1, 3);
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
        lock_shard(s, i);
        if (s->slot)
            for (uint32_t j = 0; j <= s->mask; j++)
                if (s->slot[j].addr) fn(&s->slot[j], ctx);
        unlock_shard(s);
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
        if (shards[i].slot) n += (size_t)(shards[i].mask + 1) * sizeof(mp_block_t);
    return n;
}
