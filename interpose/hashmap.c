/* interpose/hashmap.c - the profiler's listener for hashmap/ (the project's own map library).
 *
 * hashmap/ looks up HM_HOOKS_SYMBOL with dlsym when a program creates its first map, so a
 * program linked with the library is seen with no change to its source. The hooks:
 * - created: register the map (kind mphash) with its creation stack, and a pull function:
 *   the library keeps exact figures itself (entries, buckets, overflow, padding, retained),
 *   read at each snapshot, so an ordinary put or delete costs the program nothing here. For
 *   a map with pointers, the answer (the map's word) is its id and what its entries hold;
 * - alloc_begin/alloc_end bracket each allocation of map memory with the map's operation
 *   context (profiler.h). The pull gives the map's bucket and indirect bytes exactly, so the
 *   context only labels: a block sampled inside carries the map's labels, and the others cost
 *   nothing more than any unsampled block (measured on hashmap_churn: about 1,100
 *   instructions a block less than tracking each one). Under the leak check, whose report
 *   names the map that holds each block, the context is exact (every block tracked for the
 *   map), and a block from a caller's allocator that never reached malloc is attributed
 *   afterwards;
 * - freeing: under the leak check, the block leaves the map before it goes back to the
 *   allocator;
 * - entry: maps whose keys or values are pointers record them for the dangling check; each
 *   event brings the map's word back, so it needs no lookup.
 * hashmap/ is used only through its public header: no code of the library is linked here. */
#include <string.h>

#include "hashmap/hashmap.h"
#include "profiler/dangling.h"
#include "profiler/maps.h"
#include "profiler/profiler.h"
#include "profiler/record.h"

#define HOOK __attribute__((visibility("default")))

/* The word of an mphash map with pointers, for its entry events: its id, and above it these
 * flags: pointer bits, the mode, then the key's size. */
#define F_KEY_PTR 1u
#define F_VAL_PTR 2u
#define F_SAMPLED 4u    /* dangling=1: a new entry is followed only to a tracked block */
#define F_KEY_SIZE_SHIFT 8

static mp_map_role_t role_of(hm_mem_t what)
{
    switch (what) {
    case HM_MEM_BUCKETS: return MP_ROLE_BUCKET_ARRAY;
    case HM_MEM_OVERFLOW: return MP_ROLE_OVERFLOW;
    case HM_MEM_KEY: return MP_ROLE_KEY;
    case HM_MEM_VALUE: return MP_ROLE_VALUE;
    }
    return MP_ROLE_NONE;
}

/* Runs under the registry's lock at each snapshot; arg is the library's own hm_stats. */
static void pull(uintptr_t obj, void *arg, mp_map_stats_t *s)
{
    void (*stats)(const hm_map_t *, hm_stats_t *) = (void (*)(const hm_map_t *, hm_stats_t *))arg;
    hm_stats_t hs;
    stats((const hm_map_t *)obj, &hs);
    s->entries = (int64_t)hs.entries;
    s->peak_entries = (int64_t)hs.peak_entries;
    s->inserts = (int64_t)hs.inserts;
    s->removes = (int64_t)hs.removes;
    s->buckets = (int64_t)hs.buckets;
    s->overflow_buckets = (int64_t)hs.overflow_buckets;
    s->bucket_bytes = (int64_t)hs.bucket_bytes;
    s->node_bytes = (int64_t)hs.indirect_bytes;
    s->padding_bytes = (int64_t)hs.padding_bytes;
    s->retained_bytes = (int64_t)hs.retained_bytes;
    s->retained_exact = true;
}

static uint64_t on_created(const hm_map_t *m, const hm_map_info_t *info)
{
    if (mp_tls.busy) return 0;
    size_t ks = info->key_size < 0xffffffu ? info->key_size : 0xffffffu;
    mp_map_desc_t d = {
        .kind = MP_KIND_MPHASH,
        .key_size = (uint32_t)info->key_slot,
        .value_size = (uint32_t)info->val_slot,
        .slots_per_bucket = 8,
        .max_load = info->max_load > 0 ? info->max_load : 6.5,
        .bucket_bytes = (uint32_t)info->bucket_size,
    };
    uint32_t stack = mp_capture_stack_id(0);
    uint32_t id = mp_map_create(m, &d, stack);
    if (!id) return 0;
    if (info->stats) mp_map_set_pull(id, pull, (void *)info->stats);
    if (!(info->key_pointer || info->val_pointer) || !mp_dangling_on()) return 0;
    uint32_t flags = (info->key_pointer ? F_KEY_PTR : 0) | (info->val_pointer ? F_VAL_PTR : 0) |
                     (mp_dangling_mode() == MP_DANGLING_SAMPLED ? F_SAMPLED : 0) |
                     (uint32_t)(ks << F_KEY_SIZE_SHIFT);
    return (uint64_t)flags << 32 | id;
}

static void on_destroyed(const hm_map_t *m)
{
    uint32_t id = mp_map_find(m);
    if (!id) return;
    mp_dangling_forget_map(id);
    mp_map_destroy_id(id);
}

/* Every block of a map tracked for it (an exact context), or only the sampled ones labelled:
 * exact under the leak check, whose report needs each block's map. */
static bool exact(void) { return mp_opts()->leak_check; }

/* token: bit 63 set when a context was entered; below it the context that was active: bit 62
 * whether it was exact, bit 61 whether only its 2^k-byte blocks were the map's (a GLib
 * operation's, whose callback runs this one), bits 8-39 its map, bits 0-7 its role. */
#define TOKEN_ENTERED (1ull << 63)
#define TOKEN_EXACT (1ull << 62)
#define TOKEN_POW2 (1ull << 61)

static uint64_t on_alloc_begin(const hm_map_t *m, hm_mem_t what)
{
    if (mp_tls.busy) return 0;
    uint32_t id = mp_map_find(m);
    if (!id) return 0;
    mp_map_ctx_t prev = mp_map_ctx_enter_as(id, role_of(what), exact());
    return TOKEN_ENTERED | (prev.exact ? TOKEN_EXACT : 0) | (prev.pow2 ? TOKEN_POW2 : 0) |
           ((uint64_t)prev.id << 8) | (prev.role & 0xffu);
}

static void on_alloc_end(const hm_map_t *m, hm_mem_t what, uint64_t token, const void *p, size_t bytes)
{
    (void)m;
    if (!(token & TOKEN_ENTERED)) return;
    uint32_t id = mp_tls.map_id;
    bool was_exact = mp_tls.map_exact;
    mp_map_ctx_t prev = { (uint32_t)(token >> 8), (uint32_t)(token & 0xffu),
                          (token & TOKEN_EXACT) != 0, (token & TOKEN_POW2) != 0 };
    mp_map_ctx_leave(prev);
    /* Memory from the default allocator was tracked by the malloc hook inside the context;
     * memory from an allocator of the caller's that never reached malloc is attributed here. */
    if (was_exact && p && id && !mp_maybe_tracked(p))
        mp_attribute_block(p, bytes, id, role_of(what));
}

static void on_freeing(const hm_map_t *m, hm_mem_t what, const void *p, size_t bytes)
{
    (void)m, (void)what, (void)bytes;
    if (p && exact()) mp_note_free((void *)p);
}

static inline uint64_t word_at(const void *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Is the key's identity its first 8 bytes: a pointer key, or an 8-byte one? */
static inline bool key_is_word(uint32_t flags)
{
    size_t ks = flags >> F_KEY_SIZE_SHIFT;
    return ks == 8 || ((flags & F_KEY_PTR) && ks >= sizeof(void *));
}

static inline uintptr_t nonzero(uint64_t v) { return v ? (uintptr_t)v : (uintptr_t)-1; }

/* The value's pointer, when values are pointers; else 0. */
static inline uintptr_t value_pointer(const void *val, uint32_t flags)
{
    return (flags & F_VAL_PTR) && val ? (uintptr_t)word_at(val) : 0;
}

/* The identity of an entry in the dangling table: its key pointer when keys are pointers,
 * else the key's value (up to 8 bytes) or a hash of its bytes; never 0. */
static inline __attribute__((always_inline)) uintptr_t key_identity(const void *key, uint32_t flags,
                                                                    bool *is_ptr)
{
    size_t ks = flags >> F_KEY_SIZE_SHIFT;
    uint64_t v = 0;
    *is_ptr = false;
    if (key_is_word(flags)) {
        v = word_at(key);
        *is_ptr = (flags & F_KEY_PTR) && v;
    } else if (ks < 8) {    /* as memcpy(&v, key, ks) would, without a call for a size it can't know */
        for (size_t i = 0; i < ks; i++) v |= (uint64_t)((const unsigned char *)key)[i] << (8 * i);
    } else {
        v = 14695981039346656037ull;
        for (size_t i = 0; i < ks; i++) v = (v ^ ((const unsigned char *)key)[i]) * 1099511628211ull;
    }
    return nonzero(v);
}

/* What on_entry's test let through: a delete, a replaced value, a new entry under
 * dangling=all, or one that may point to a tracked block. */
__attribute__((noinline)) static void entry_slow(uint64_t word, const void *key, const void *val,
                                                 hm_entry_ev_t ev)
{
    if (mp_tls.busy) return;
    uint32_t id = (uint32_t)word, flags = (uint32_t)(word >> 32);
    bool kp;
    uintptr_t k = key_identity(key, flags, &kp);
    if (ev == HM_ENTRY_REMOVED) {
        mp_dangling_remove(id, (const void *)k);
        return;
    }
    uintptr_t v = value_pointer(val, flags);
    if ((flags & F_SAMPLED) && ev == HM_ENTRY_ADDED && !mp_dangling_may_follow(k, kp, v)) return;
    mp_dangling_insert_ex(id, k, kp, (const void *)v, ev == HM_ENTRY_ADDED);
}

/* Called for every put and delete of a map with pointers. Two cases end in this test, with no
 * frame: at the sampled default, a new entry whose key and value point to no tracked block
 * (nearly all of them); a delete of a key whose identity is a word (key_identity) and whose
 * pair the table cannot hold. */
static void on_entry(const hm_map_t *m, uint64_t word, const void *key, const void *val,
                     hm_entry_ev_t ev)
{
    (void)m;
    uint32_t flags = (uint32_t)(word >> 32);
    if (ev == HM_ENTRY_REMOVED && key_is_word(flags)) {
        if (!mp_dangling_maybe_present((uint32_t)word, nonzero(word_at(key)))) return;
    } else if ((flags & F_SAMPLED) && ev == HM_ENTRY_ADDED) {
        uintptr_t k = (flags & F_KEY_PTR) && key_is_word(flags) ? (uintptr_t)word_at(key) : 0;
        if (!mp_dangling_may_follow(k, k != 0, value_pointer(val, flags))) return;
    }
    entry_slow(word, key, val, ev);
}

static const hm_hooks_t hooks = {
    .created = on_created,
    .destroyed = on_destroyed,
    .alloc_begin = on_alloc_begin,
    .alloc_end = on_alloc_end,
    .freeing = on_freeing,
    .entry = on_entry,
};

/* HM_HOOKS_SYMBOL: the name carries the version of hm_hooks_t these hooks are written for. */
HOOK const hm_hooks_t *mapprof_hashmap_hooks_v2(void)
{
    return mp_maps_on() ? &hooks : NULL;
}
