/* profiler/maps.c - the map registry (see maps.h).
 *
 * Maps live in slots (a two-level directory of arena chunks, slots recycled through a free
 * list); two idtabs find a slot by object address and by id. Labels intern (map id, role)
 * pairs for the stack table; a label outlives its map (samples keep naming it). One spinlock
 * guards everything here. */
#include "profiler/maps.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "profiler/arena.h"
#include "profiler/idtab.h"
#include "profiler/profiler.h"
#include "profiler/spin.h"

#define DIR_BITS 12
#define DIR_SIZE (1u << DIR_BITS)

typedef struct map_slot {
    mp_map_stats_t s;       /* the figures; s.id == 0 marks a free slot */
    uint32_t next_free;     /* free-list link (slot index) */
    mp_map_pull_fn pull;    /* exact figures on demand (NULL: pushed by events) */
    void *pull_arg;
} map_slot_t;

typedef struct label {
    uint32_t map_id;
    uint8_t kind, role;
} label_t;

static mp_spin_t lock;
static map_slot_t *slot_dir[DIR_SIZE];
static uint32_t nslots = 1;         /* slot 0 unused */
static uint32_t free_head;          /* 0 = none */
static uint32_t next_id = 1;
static uint32_t live_maps;
static mp_idtab_t by_obj, by_id, by_label;
static label_t *label_dir[DIR_SIZE];
static uint32_t nlabels = 1;        /* label 0 = none */

static map_slot_t *slot_at(uint32_t i)
{
    map_slot_t *c = slot_dir[i >> DIR_BITS];
    return c ? &c[i & (DIR_SIZE - 1)] : NULL;
}

static uint32_t slot_new(void)
{
    if (free_head) {
        uint32_t i = free_head;
        free_head = slot_at(i)->next_free;
        return i;
    }
    uint32_t i = nslots;
    if ((i >> DIR_BITS) >= DIR_SIZE) return 0;
    if (!slot_dir[i >> DIR_BITS]) {
        slot_dir[i >> DIR_BITS] = mp_arena_alloc(DIR_SIZE * sizeof(map_slot_t));
        if (!slot_dir[i >> DIR_BITS]) return 0;
    }
    nslots++;
    return i;
}

static void destroy_locked(uint32_t slot)
{
    map_slot_t *m = slot_at(slot);
    mp_idtab_del(&by_obj, m->s.obj);
    mp_idtab_del(&by_id, m->s.id);
    memset(&m->s, 0, sizeof m->s);
    m->pull = NULL;
    m->next_free = free_head;
    free_head = slot;
    live_maps--;
}

uint32_t mp_maps_created(void)
{
    return __atomic_load_n(&next_id, __ATOMIC_RELAXED) - 1;
}

uint32_t mp_map_create(const void *obj, const mp_map_desc_t *d, uint32_t created_stack)
{
    uint32_t id = 0;
    mp_held_lock(&lock, MP_HELD_MAPS);
    uint32_t old = mp_idtab_get(&by_obj, (uintptr_t)obj);
    if (old) destroy_locked(old);
    uint32_t slot = slot_new();
    if (!slot) goto out;
    map_slot_t *m = slot_at(slot);
    if (!m) goto out;
    memset(&m->s, 0, sizeof m->s);
    m->pull = NULL;
    m->pull_arg = NULL;
    m->s.id = next_id;
    m->s.kind = d->kind;
    m->s.obj = (uintptr_t)obj;
    m->s.created_stack = created_stack;
    m->s.key_size = d->key_size;
    m->s.value_size = d->value_size;
    m->s.slots_per_bucket = d->slots_per_bucket ? d->slots_per_bucket : 1;
    m->s.bucket_size = d->bucket_bytes;
    m->s.max_load = d->max_load > 0 ? d->max_load : 1.0;
    if (!mp_idtab_put(&by_obj, (uintptr_t)obj, slot) || !mp_idtab_put(&by_id, next_id, slot)) {
        mp_idtab_del(&by_obj, (uintptr_t)obj);
        m->next_free = free_head;
        free_head = slot;
        m->s.id = 0;
        goto out;
    }
    id = next_id;
    __atomic_store_n(&next_id, id + 1, __ATOMIC_RELAXED);   /* read unlocked by mp_maps_created */
    live_maps++;
out:
    mp_held_unlock(&lock, MP_HELD_MAPS);
    return id;
}

uint32_t mp_map_find(const void *obj)
{
    mp_held_lock(&lock, MP_HELD_MAPS);
    uint32_t slot = mp_idtab_get(&by_obj, (uintptr_t)obj);
    uint32_t id = slot ? slot_at(slot)->s.id : 0;
    mp_held_unlock(&lock, MP_HELD_MAPS);
    return id;
}

void mp_map_set_pull(uint32_t id, mp_map_pull_fn pull, void *arg)
{
    mp_held_lock(&lock, MP_HELD_MAPS);
    uint32_t slot = id ? mp_idtab_get(&by_id, id) : 0;
    if (slot) {
        slot_at(slot)->pull = pull;
        slot_at(slot)->pull_arg = arg;
    }
    mp_held_unlock(&lock, MP_HELD_MAPS);
}

void mp_map_destroy(const void *obj)
{
    mp_held_lock(&lock, MP_HELD_MAPS);
    uint32_t slot = mp_idtab_get(&by_obj, (uintptr_t)obj);
    if (slot) destroy_locked(slot);
    mp_held_unlock(&lock, MP_HELD_MAPS);
}

/* The live map with this id, under the lock; NULL once destroyed. */
static mp_map_stats_t *by_id_locked(uint32_t id)
{
    uint32_t slot = id ? mp_idtab_get(&by_id, id) : 0;
    return slot ? &slot_at(slot)->s : NULL;
}

int64_t mp_map_mem(uint32_t id, mp_map_role_t role, int64_t bytes, int64_t blocks)
{
    int64_t left = -1;
    /* a signal handler's free inside this lock on this thread: the count stays high by it */
    if (mp_tls.held & MP_HELD_MAPS) return left;
    mp_held_lock(&lock, MP_HELD_MAPS);
    mp_map_stats_t *m = by_id_locked(id);
    if (m) {
        switch (role) {
        case MP_ROLE_BUCKET_ARRAY: m->bucket_bytes += bytes; break;
        case MP_ROLE_OVERFLOW: m->bucket_bytes += bytes; m->overflow_buckets += blocks; break;
        default: m->node_bytes += bytes; break;
        }
        left = m->bucket_bytes;
    }
    mp_held_unlock(&lock, MP_HELD_MAPS);
    return left;
}

void mp_map_rekey(const void *obj, const void *new_obj)
{
    mp_held_lock(&lock, MP_HELD_MAPS);
    uint32_t slot = mp_idtab_del(&by_obj, (uintptr_t)obj);
    if (slot) {
        uint32_t old = mp_idtab_get(&by_obj, (uintptr_t)new_obj);
        if (old) destroy_locked(old);
        slot_at(slot)->s.obj = (uintptr_t)new_obj;
        if (!mp_idtab_put(&by_obj, (uintptr_t)new_obj, slot)) {
            /* keep the registry consistent: a map nobody can find by object is dropped */
            mp_idtab_put(&by_obj, (uintptr_t)obj, slot);
            destroy_locked(slot);
        }
    }
    mp_held_unlock(&lock, MP_HELD_MAPS);
}

void mp_map_destroy_id(uint32_t id)
{
    mp_held_lock(&lock, MP_HELD_MAPS);
    uint32_t slot = id ? mp_idtab_get(&by_id, id) : 0;
    if (slot) destroy_locked(slot);
    mp_held_unlock(&lock, MP_HELD_MAPS);
}

mp_map_kind_t mp_map_kind(uint32_t id)
{
    mp_held_lock(&lock, MP_HELD_MAPS);
    mp_map_stats_t *m = by_id_locked(id);
    mp_map_kind_t k = m ? m->kind : MP_KIND_NONE;
    mp_held_unlock(&lock, MP_HELD_MAPS);
    return k;
}

void mp_map_set(uint32_t id, int64_t entries, int64_t buckets, int64_t overflow, int64_t padding)
{
    mp_held_lock(&lock, MP_HELD_MAPS);
    mp_map_stats_t *m = by_id_locked(id);
    if (m) {
        if (entries >= 0) {
            m->entries = entries;
            if (entries > m->peak_entries) m->peak_entries = entries;
        }
        if (buckets >= 0) m->buckets = buckets;
        if (overflow >= 0) m->overflow_buckets = overflow;
        if (padding >= 0) m->padding_bytes = padding;
    }
    mp_held_unlock(&lock, MP_HELD_MAPS);
}

void mp_map_set_bytes(uint32_t id, int64_t bucket_bytes)
{
    mp_held_lock(&lock, MP_HELD_MAPS);
    mp_map_stats_t *m = by_id_locked(id);
    if (m) m->bucket_bytes = bucket_bytes;
    mp_held_unlock(&lock, MP_HELD_MAPS);
}

void mp_map_set_retained(uint32_t id, int64_t retained)
{
    mp_held_lock(&lock, MP_HELD_MAPS);
    mp_map_stats_t *m = by_id_locked(id);
    if (m) {
        m->retained_bytes = retained;
        m->retained_exact = true;
    }
    mp_held_unlock(&lock, MP_HELD_MAPS);
}

void mp_map_count_ops(uint32_t id, int64_t inserts, int64_t removes)
{
    mp_held_lock(&lock, MP_HELD_MAPS);
    mp_map_stats_t *m = by_id_locked(id);
    if (m) {
        m->inserts += inserts;
        m->removes += removes;
    }
    mp_held_unlock(&lock, MP_HELD_MAPS);
}

uint32_t mp_map_label(uint32_t id, mp_map_role_t role)
{
    if (!id) return 0;
    uint64_t key = ((uint64_t)id << 8) | (uint64_t)role;
    mp_held_lock(&lock, MP_HELD_MAPS);
    uint32_t l = mp_idtab_get(&by_label, key);
    if (!l) {
        mp_map_stats_t *m = by_id_locked(id);
        uint32_t i = nlabels;
        if (m && (i >> DIR_BITS) < DIR_SIZE) {
            if (!label_dir[i >> DIR_BITS])
                label_dir[i >> DIR_BITS] = mp_arena_alloc(DIR_SIZE * sizeof(label_t));
            if (label_dir[i >> DIR_BITS] && mp_idtab_put(&by_label, key, i)) {
                label_t *lb = &label_dir[i >> DIR_BITS][i & (DIR_SIZE - 1)];
                lb->map_id = id;
                lb->kind = (uint8_t)m->kind;
                lb->role = (uint8_t)role;
                __atomic_store_n(&nlabels, i + 1, __ATOMIC_RELEASE);
                l = i;
            }
        }
    }
    mp_held_unlock(&lock, MP_HELD_MAPS);
    return l;
}

bool mp_map_label_get(uint32_t label, uint32_t *id, mp_map_kind_t *kind, mp_map_role_t *role)
{
    if (!label || label >= __atomic_load_n(&nlabels, __ATOMIC_ACQUIRE)) return false;
    const label_t *lb = &label_dir[label >> DIR_BITS][label & (DIR_SIZE - 1)];
    *id = lb->map_id;
    *kind = (mp_map_kind_t)lb->kind;
    *role = (mp_map_role_t)lb->role;
    return true;
}

/* Bytes of buckets the entries would need at the map's own maximum load after a shrink to the
 * smallest bucket count that holds them (a power of two for Go-style and GLib maps). */
static int64_t needed_bucket_bytes(const mp_map_stats_t *m)
{
    if (!m->buckets || m->bucket_bytes <= 0) return 0;
    double per_bucket = (double)m->bucket_bytes / (double)m->buckets;
    double want = ceil((double)m->entries / m->max_load);
    if (want < 1) want = 1;
    if (m->kind == MP_KIND_GHASH && want < 8) want = 8;  /* GLib's smallest table */
    if (m->kind == MP_KIND_MPHASH || m->kind == MP_KIND_GHASH) {
        double p = 1;
        while (p < want) p *= 2;
        want = p;
    }
    int64_t need = (int64_t)(want * per_bucket);
    /* Within one doubling of what the entries need is ordinary growth slack (and every map's
     * own hysteresis between growing and shrinking), not retention. */
    if (m->bucket_bytes <= 2 * need) return m->bucket_bytes;
    return need < m->bucket_bytes ? need : m->bucket_bytes;
}

size_t mp_map_snapshot(mp_map_stats_t **out)
{
    mp_held_lock(&lock, MP_HELD_MAPS);
    size_t n = 0, cap = live_maps;
    /* malloc under our spinlock is safe: the caller holds the reentrancy guard, so this
     * allocation goes straight to the real allocator and never back into this module. */
    mp_map_stats_t *a = malloc((cap ? cap : 1) * sizeof *a);
    if (a) {
        for (uint32_t i = 1; i < nslots && n < cap; i++) {
            map_slot_t *m = slot_at(i);
            if (!m || !m->s.id) continue;
            if (m->pull) {
                m->pull(m->s.obj, m->pull_arg, &m->s);
                if (m->s.entries > m->s.peak_entries) m->s.peak_entries = m->s.entries;
            }
            a[n] = m->s;
            if (!a[n].retained_exact) a[n].retained_bytes = a[n].bucket_bytes - needed_bucket_bytes(&a[n]);
            n++;
        }
    }
    mp_held_unlock(&lock, MP_HELD_MAPS);
    *out = a;
    return a ? n : 0;
}

void mp_map_lock(void) { mp_held_lock(&lock, MP_HELD_MAPS); }
void mp_map_unlock(void) { mp_held_unlock(&lock, MP_HELD_MAPS); }
void mp_map_reset_lock(void) { mp_spin_init(&lock); }
