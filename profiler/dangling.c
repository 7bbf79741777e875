/* profiler/dangling.c - entries, watches and the freed-block history (see dangling.h).
 *
 * Entries live in an open-addressing table keyed by (map, key) in mmap'd memory, with
 * backward-shift deletion; entries of destroyed maps are dropped on clear. The history is a
 * ring of freed events with an index from address to the latest event. One spinlock guards
 * both; nothing here allocates through malloc except mp_dangling_find (under the guard). */
#include "profiler/dangling.h"

#include <stdlib.h>
#include <string.h>

#include "profiler/arena.h"
#include "profiler/idtab.h"
#include "profiler/options.h"
#include "profiler/profiler.h"
#include "profiler/record.h"
#include "profiler/spin.h"
#include "profiler/stacktab.h"
#include "profiler/unwind.h"

typedef struct entry {
    uintptr_t key;          /* 0 = empty slot */
    uintptr_t value;
    uint64_t seq : 62;      /* event order of the insertion (a clock can tie) */
    uint64_t key_w : 1;     /* the entry follows its key (a pointer, watched) */
    uint64_t val_w : 1;     /* the entry follows its value */
    uint32_t map;
    uint32_t inserted_ms;
} entry_t;

typedef struct freed {
    uintptr_t addr;
    uint64_t seq;           /* event order of the free */
    uint32_t freed_ms, free_stack, alloc_stack;
} freed_t;

static mp_spin_t lock;
static entry_t *ent;
static uint32_t ent_mask, ent_count;
static freed_t *ring;
static size_t ring_cap, ring_next;      /* next slot to write; events written = ring_next */
static uint64_t ring_dropped;
static uint64_t oldest_kept_seq;        /* seq of the oldest event still kept */
static uint64_t seq;                    /* orders inserts and frees (under the lock) */
static mp_idtab_t latest;               /* addr -> ring index + 1 */
/* Entries of destroyed maps are dropped lazily: a map id is never reused, so they can match no
 * lookup; they are skipped by mp_dangling_find and purged in one pass once they are a quarter
 * of the table (so destroying a map costs O(1), not a scan of every entry). */
static mp_idtab_t per_map;              /* live map id -> its entries in the table */
static mp_idtab_t dead;                 /* destroyed map ids whose entries are still there */
static uint32_t dead_entries;
/* Which (map, key) pairs may have an entry: counters by hash, changed under the lock, and one
 * bit per counter (is it above zero?) read without it. A put or remove whose pair has none,
 * and that follows nothing new, ends here instead of taking the lock and probing the table
 * (the table lives in memory the program's cache does not hold). The bits are what every map
 * operation reads: 8 KiB, where the counters would be 64 KiB of lines. A counter that reaches
 * 255 stays there. */
static uint8_t present[1u << MP_DANGLING_PRESENT_BITS];
uint64_t mp_dangling_present[(1u << MP_DANGLING_PRESENT_BITS) / 64];

static int mode_now = MP_DANGLING_ALL;     /* read by every map operation: no call */

void mp_dangling_init(size_t history, int mode)
{
    ring_cap = history ? history : 1;
    __atomic_store_n(&mode_now, mode, __ATOMIC_RELAXED);
}

int mp_dangling_mode(void) { return __atomic_load_n(&mode_now, __ATOMIC_RELAXED); }
bool mp_dangling_on(void) { return mp_dangling_mode() != MP_DANGLING_OFF; }

/* An entry's home. Keys near each other get slots near each other (mp_run_slot, as the live
 * table places blocks): a map's puts and deletes come in runs of keys that malloc handed out
 * in turn, or of consecutive integers, and a scattering hash made each of them a miss in a
 * table far bigger than the cache (32 MiB on the hashmap bench workload at rate=1). A key's
 * step is 16 when it is a multiple of 16 (a pointer to a block of malloc's), else 1 (an
 * integer): 16 steps make a window, which the hash of the window and the map places on a run
 * of 16 slots, and the key's place in its window is its slot in the run. Measured on that
 * workload at rate=1: 2.66 slots read a find instead of 3.92, and 4% and 12% less time in two
 * runs of 5 and 7 alternating rounds. */
static inline uint32_t slot_of(uint32_t map, uintptr_t key, uint32_t mask)
{
    unsigned step = key & 15 ? 0 : 4;
    return mp_run_slot(((uint64_t)key >> (step + MP_RUN_BITS)) ^ ((uint64_t)map << 44),
                       (uint32_t)((key >> step) & ((1u << MP_RUN_BITS) - 1)), mask + 1);
}

/* Under the lock: an entry for (map, key) came (+1) or went (-1). */
static void present_add(uint32_t map, uintptr_t key, int d)
{
    uint32_t i = mp_dangling_present_bit(map, key);
    uint8_t v = present[i];
    if (v == 255 || (d < 0 && v == 0)) return;
    present[i] = (uint8_t)(v + d);
    uint64_t *word = &mp_dangling_present[i / 64];
    if (v == 0 || v + d == 0)
        __atomic_store_n(word, *word ^ ((uint64_t)1 << (i % 64)), __ATOMIC_RELAXED);
}

static entry_t *find(uint32_t map, uintptr_t key)
{
    if (!ent) return NULL;
    for (uint32_t i = slot_of(map, key, ent_mask);; i = (i + 1) & ent_mask) {
        if (!ent[i].key) return NULL;
        if (ent[i].key == key && ent[i].map == map) return &ent[i];
    }
}

static void release(const entry_t *e);

static bool grow(void)
{
    uint32_t cap = ent ? (ent_mask + 1) * 2 : 1024;
    entry_t *n = mp_pages_alloc((size_t)cap * sizeof *n);
    if (!n) return false;
    if (ent) {
        for (uint32_t i = 0; i <= ent_mask; i++) {
            if (!ent[i].key) continue;
            if (dead_entries && mp_idtab_get(&dead, ent[i].map)) {   /* shed on the way */
                release(&ent[i]);
                present_add(ent[i].map, ent[i].key, -1);
                ent_count--;
                continue;
            }
            uint32_t j = slot_of(ent[i].map, ent[i].key, cap - 1);
            while (n[j].key) j = (j + 1) & (cap - 1);
            n[j] = ent[i];
        }
        mp_pages_free(ent, (size_t)(ent_mask + 1) * sizeof *ent);
        if (dead_entries) {
            mp_idtab_free(&dead);
            dead_entries = 0;
        }
    }
    ent = n;
    ent_mask = cap - 1;
    return true;
}

static void erase(entry_t *e)
{
    present_add(e->map, e->key, -1);
    uint32_t i = (uint32_t)(e - ent);
    for (uint32_t j = (i + 1) & ent_mask; ent[j].key; j = (j + 1) & ent_mask) {
        if (!mp_probe_stays(i, j, slot_of(ent[j].map, ent[j].key, ent_mask))) {
            ent[i] = ent[j];
            i = j;
        }
    }
    ent[i].key = 0;
    ent_count--;
}

/* The freed event covering pointer p: the latest free of the block starting at p. */
static const freed_t *freed_at(uintptr_t p)
{
    uint32_t k = p ? mp_idtab_get(&latest, p) : 0;
    return k ? &ring[k - 1] : NULL;
}

/* The blocks an entry points to are watched (their frees are recorded) while it is there:
 * the key when it is a pointer, the value unless it is the key again. */
static inline bool watchable(uintptr_t p) { return p >= 4096; }  /* not small integers */
static inline bool value_watched(uintptr_t key, uintptr_t v) { return v && v != key; }

/* Start following p for an entry: watch it and return true. dangling=all follows every
 * pointer (untracked blocks get watch-only records); the default follows only pointers to
 * sampled blocks, so an unsampled target costs a bitmap load instead of a table update, and
 * at rate=1 every block is sampled. */
static bool follow(uintptr_t p, int mode)
{
    if (!watchable(p)) return false;
    if (mode == MP_DANGLING_SAMPLED) return mp_live_watch_sampled(p);
    mp_live_watch(p, 1);
    return true;
}

/* The entry stops pointing to p (under the lock). When p was freed after the entry went in,
 * the block now at p (if any) is a later one, whose watches are other entries'. */
static void unwatch(const entry_t *e, uintptr_t p)
{
    if (!watchable(p)) return;
    const freed_t *ev = freed_at(p);
    if (ev && ev->seq > e->seq) return;
    mp_live_watch(p, -1);
}

static void release(const entry_t *e)
{
    if (e->key_w) unwatch(e, e->key);
    if (e->val_w) unwatch(e, e->value);
}

/* The entry leaves the table (under the lock): its map's count goes down. */
static void drop(entry_t *e)
{
    uint32_t n = mp_idtab_get(&per_map, e->map);
    if (n > 1) mp_idtab_put(&per_map, e->map, n - 1);
    else mp_idtab_del(&per_map, e->map);
    release(e);
    erase(e);
}

void mp_dangling_insert(uint32_t map, const void *key, const void *value, bool fresh)
{
    mp_dangling_insert_ex(map, (uintptr_t)key, true, value, fresh);
}

/* The insert under the lock (lock order: this lock, then the live table's shards, as
 * fork_prepare takes them). Apart from the map and key checks, the caller's test below keeps
 * most entries at the sampled rate from ever getting here. */
static __attribute__((noinline)) void insert_locked(uint32_t map, uintptr_t key, bool key_is_ptr,
                                                    uintptr_t v, bool vcand, int mode)
{
    mp_busy_enter();
    mp_held_lock(&lock, MP_HELD_DANGLING);
    entry_t *e = find(map, key);
    if (e) {
        /* the same key again: the value may change */
        if (e->value != v) {
            if (e->val_w) unwatch(e, e->value);
            e->val_w = vcand && follow(v, mode);
        }
        if (mode == MP_DANGLING_SAMPLED && !e->key_w && !e->val_w) {
            drop(e);
            e = NULL;
        }
    } else {
        bool kw = key_is_ptr && follow(key, mode);
        bool vw = vcand && follow(v, mode);
        if ((kw || vw || mode == MP_DANGLING_ALL) &&
            ((ent_count + 1) * 4 <= (ent_mask + 1) * 3 || grow()) && ent) {
            uint32_t i = slot_of(map, key, ent_mask);
            while (ent[i].key) i = (i + 1) & ent_mask;
            e = &ent[i];
            e->key = key;
            e->map = map;
            e->key_w = kw;
            e->val_w = vw;
            ent_count++;
            present_add(map, key, 1);
            mp_idtab_put(&per_map, map, mp_idtab_get(&per_map, map) + 1);
        } else {    /* nothing to follow, or no memory: the watches just taken go */
            if (kw) mp_live_watch(key, -1);
            if (vw) mp_live_watch(v, -1);
        }
    }
    if (e) {
        e->value = v;
        e->inserted_ms = mp_now_ms();
        e->seq = ++seq;
    }
    mp_held_unlock(&lock, MP_HELD_DANGLING);
    mp_busy_leave();
}

void mp_dangling_insert_ex(uint32_t map, uintptr_t key, bool key_is_ptr, const void *value,
                           bool fresh)
{
    int mode = __atomic_load_n(&mode_now, __ATOMIC_RELAXED);
    if (!map || !key || mode == MP_DANGLING_OFF) return;
    uintptr_t v = (uintptr_t)value;
    bool vcand = value_watched(key, v);
    /* Sampled: an entry that can follow nothing is kept only to update one already there,
     * which a new key cannot have. */
    if (mode == MP_DANGLING_SAMPLED && (fresh || !mp_dangling_maybe_present(map, key)) &&
        !mp_dangling_may_follow(key, key_is_ptr, vcand ? v : 0))
        return;
    insert_locked(map, key, key_is_ptr, v, vcand, mode);
}

static __attribute__((noinline)) void remove_locked(uint32_t map, const void *key)
{
    mp_busy_enter();
    mp_held_lock(&lock, MP_HELD_DANGLING);
    entry_t *e = find(map, (uintptr_t)key);
    if (e) drop(e);
    mp_held_unlock(&lock, MP_HELD_DANGLING);
    mp_busy_leave();
}

void mp_dangling_remove(uint32_t map, const void *key)
{
    if (map && key && mp_dangling_maybe_present(map, (uintptr_t)key)) remove_locked(map, key);
}

/* Erase every entry for which drop(entry) holds (under the lock). */
static void sweep(bool (*drop)(const entry_t *e, uint32_t map), uint32_t map)
{
    for (uint32_t i = 0; ent && i <= ent_mask;) {
        /* erase shifts a later entry into i: look at i again */
        if (ent[i].key && drop(&ent[i], map)) {
            release(&ent[i]);
            erase(&ent[i]);
        } else {
            i++;
        }
    }
}

static bool of_map(const entry_t *e, uint32_t map) { return e->map == map; }
static bool of_dead_map(const entry_t *e, uint32_t map) { (void)map; return mp_idtab_get(&dead, e->map) != 0; }

void mp_dangling_clear(uint32_t map)
{
    mp_held_lock(&lock, MP_HELD_DANGLING);
    if (mp_idtab_del(&per_map, map)) sweep(of_map, map);
    mp_held_unlock(&lock, MP_HELD_DANGLING);
}

void mp_dangling_forget_map(uint32_t map)
{
    mp_held_lock(&lock, MP_HELD_DANGLING);
    uint32_t n = mp_idtab_del(&per_map, map);
    if (n && mp_idtab_put(&dead, map, 1)) {
        dead_entries += n;
        if (dead_entries >= 1024 && (uint64_t)dead_entries * 4 >= ent_count) {
            sweep(of_dead_map, 0);
            mp_idtab_free(&dead);
            dead_entries = 0;
        }
    } else if (n) {
        sweep(of_map, map);     /* out of memory for the lazy way */
    }
    mp_held_unlock(&lock, MP_HELD_DANGLING);
}

void mp_dangling_freed(const mp_block_t *b)
{
    /* a signal handler's free inside this lock on this thread: the history misses the block */
    if (mp_tls.held & MP_HELD_DANGLING) return;
    uintptr_t pcs[64];
    int depth = mp_unwind_capture(pcs, 64, mp_opts()->unwind, 0);
    uint32_t free_stack = depth > 0 ? mp_stack_intern(pcs, depth, 0) : 0;   /* 0: unknown */
    mp_held_lock(&lock, MP_HELD_DANGLING);
    if (!ring) ring = mp_pages_alloc(ring_cap * sizeof *ring);
    if (ring) {
        size_t slot = ring_next % ring_cap;
        if (ring_next >= ring_cap) {
            /* the oldest event leaves the history */
            freed_t *old = &ring[slot];
            if (mp_idtab_get(&latest, old->addr) == slot + 1) mp_idtab_del(&latest, old->addr);
            ring_dropped++;
            oldest_kept_seq = ring[(slot + 1) % ring_cap].seq;
        }
        ring[slot] = (freed_t){ b->addr, ++seq, mp_now_ms(), free_stack, b->stack };
        mp_idtab_put(&latest, b->addr, (uint32_t)slot + 1);
        ring_next++;
    }
    mp_held_unlock(&lock, MP_HELD_DANGLING);
}

size_t mp_dangling_find(mp_dangling_finding_t **out, uint64_t *kept, uint64_t *dropped)
{
    size_t n = 0, cap = 0;
    mp_dangling_finding_t *v = NULL;
    mp_held_lock(&lock, MP_HELD_DANGLING);
    *kept = ring_next < ring_cap ? ring_next : ring_cap;
    *dropped = ring_dropped;
    for (uint32_t i = 0; ent && ring && i <= ent_mask; i++) {
        const entry_t *e = &ent[i];
        if (!e->key || (dead_entries && mp_idtab_get(&dead, e->map))) continue;
        for (int f = 0; f < 2; f++) {
            uintptr_t p = f ? e->value : e->key;
            if (!(f ? e->val_w : e->key_w)) continue;
            const freed_t *ev = freed_at(p);
            if (!ev || ev->seq < e->seq) continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                /* malloc under our spinlock: we hold the guard, so it cannot come back here */
                mp_dangling_finding_t *nv = realloc(v, cap * sizeof *nv);
                if (!nv) goto out;
                v = nv;
            }
            v[n++] = (mp_dangling_finding_t){
                .map = e->map, .key = e->key, .pointer = p, .is_value = f == 1,
                .inserted_ms = e->inserted_ms, .freed_ms = ev->freed_ms,
                .reused = false,
                .certain = ring_dropped == 0 || e->seq >= oldest_kept_seq,
                .free_stack = ev->free_stack, .alloc_stack = ev->alloc_stack,
            };
        }
    }
out:
    mp_held_unlock(&lock, MP_HELD_DANGLING);
    *out = v;
    return n;
}

void mp_dangling_lock(void) { mp_held_lock(&lock, MP_HELD_DANGLING); }
void mp_dangling_unlock(void) { mp_held_unlock(&lock, MP_HELD_DANGLING); }
void mp_dangling_reset_lock(void) { mp_spin_init(&lock); }
