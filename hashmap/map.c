/* hashmap/map.c - creation, lookup, insert, delete, clear and free.
 *
 * The design, after Go's runtime map (before Swiss tables). A map is an array of 2^B buckets.
 * A bucket holds up to 8 entries: first 8 tophash bytes (the top 8 bits of each entry's hash,
 * or a slot state below 5: empty, empty-and-nothing-after, evacuated to X or Y, ...), then the
 * 8 keys, then the 8 values (apart from the keys, so a 1-byte key beside an 8-byte value pays
 * no padding), then a pointer to an overflow bucket for the 9th entry on. The low B bits of
 * the hash choose the bucket; a probe compares the 8 tophash bytes at once (one 64-bit word)
 * and touches a key only on a tophash match; a miss stops at the first "empty and nothing
 * after" slot. Keys or values over 128 bytes live out of line, the slot holding a pointer.
 *
 * When an insert would take the average load past 6.5 entries per bucket, the array doubles;
 * when overflow buckets pile up (as many as buckets, after many deletes: Go's rule), a new
 * array of the same size compacts them. Growth is incremental (grow.c): each insert or delete moves at
 * most two old buckets, in order (a write whose old bucket is not moved yet goes to it), so no
 * single operation pays for a resize; an old array of at most 32 KiB (HM_ONESHOT_BYTES) is
 * evacuated whole by the insert that starts the growth, a bounded cost. Iterators (iter.c) survive
 * all of it. Beyond Go: hm_shrink and an opt-in auto shrink, O(1) exact statistics (stats.c),
 * a caller's allocator, and profiler hooks that cost one predictable branch (hooks.c).
 *
 * Why 6.5: measured with this library (u64 -> u64, random keys, B = 16, tables loaded to the
 * maximum, i.e. just before they double; averaged over 4 runs; the same program rebuilt with
 * each maximum load). %overflow: buckets that have an overflow bucket. bytes/entry: all bucket
 * memory per entry (16 of them key and value). hitprobe, missprobe: entries in front of a
 * present key, entries of an absent key's chain (what a probe without tophash would compare).
 * hitcmp, misscmp: key comparisons actually made, thanks to the tophash.
 *
 *   load  %overflow  bytes/entry  hitprobe  missprobe  hitcmp  misscmp
 *   4.00       2.14        36.77      3.00       4.00   1.008    0.016
 *   4.50       4.05        33.30      3.25       4.50   1.009    0.018
 *   5.00       6.79        30.76      3.50       5.00   1.010    0.020
 *   5.50      10.54        28.94      3.75       5.50   1.011    0.022
 *   6.00      15.33        27.68      4.00       6.00   1.012    0.024
 *   6.50      20.81        26.77      4.25       6.50   1.013    0.026
 *   7.00      27.06        26.16      4.50       7.00   1.014    0.028
 *   7.50      33.79        25.73      4.75       7.50   1.015    0.030
 *   8.00      40.64        25.38      5.00       8.00   1.016    0.032
 *
 * Past 6.5 the memory saved per entry shrinks while chains (and misses that walk them) grow
 * quickly; below it memory climbs fast. The figures agree with Go's own table to within noise.
 * A map just after doubling is half as loaded (about 36 bytes per entry here).
 *
 * Hot paths: the ready-made key functions (u64, u32, pointers, C strings) get specialized
 * probe, insert and delete functions with the hash inlined and constant slot sizes; others go
 * through the type's hash and eq. The commonest map, u64 (or pointer) keys to 8-byte values,
 * has lookup and insert paths of its own while it is not growing (m->getmode, checked with the
 * writing flag in one 16-bit compare): a constant layout, the seed folded into the mixer's
 * constants, the 8 tophash bytes compared in one SSE2 instruction, the slot index straight
 * from tzcnt; about 35 instructions for a hit, and the lookups are throughput-bound on them.
 * Measured with tests/bench/hashmap_bench.sh (Mops/s, median of three full runs, before ->
 * after; the best other map in brackets): hit 1K 239 -> 327 (unordered_map 287), miss 1K
 * 226 -> 285 (232), hit 1M 23 -> 33 (20), miss 1M 28 -> 39 (31), insert 1K 39 -> 44 (36),
 * insert 1M 6.8 -> 10.2 (7.0, both noisy), insert 10M 4.5 -> 5.7 (5.9). Large arrays are
 * prefetched a bucket at a time, and arrays from the default allocator are offered to
 * transparent huge pages (random probes would miss the TLB otherwise). Every write sets the
 * writing flag first and aborts if it was set: another writer, or a hook writing to its own
 * map. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "internal.h"

/* The default allocator hands out zeroed memory: a new bucket array then needs no memset
 * (large ones come as fresh pages from the kernel). Large bucket arrays are probed at random:
 * with 4 KiB pages nearly every probe also misses the TLB (and at hundreds of MB the page
 * walk misses the caches too), so blocks from 4 MiB up are offered to transparent huge pages
 * (an advice: the kernel may ignore it). Measured: at 1M entries (a 38 MB array) every
 * operation gains 5 to 20%; at 10M (302 MB), since growth evacuates in order, insert gains
 * ~20% (6.5 -> 7.8 Mops/s), lookups ~8%, deletes ~10% (it used to cost inserts more than
 * lookups gained past 64 MiB, when evacuation touched the new array at random). */
#define HM_HUGE_MIN ((size_t)4 << 20)
#define HM_HUGE_PAGE ((uintptr_t)2 << 20)

static void *default_alloc(size_t n, void *ctx)
{
    (void)ctx;
    void *p = calloc(1, n);
    if (p && n >= HM_HUGE_MIN) {
        uintptr_t lo = ((uintptr_t)p + HM_HUGE_PAGE - 1) & ~(HM_HUGE_PAGE - 1);
        uintptr_t hi = ((uintptr_t)p + n) & ~(HM_HUGE_PAGE - 1);
        if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
    }
    return p;
}

static void default_free(void *p, size_t n, void *ctx)
{
    (void)n;
    (void)ctx;
    free(p);
}

static size_t align_up(size_t x, size_t a) { return (x + a - 1) & ~(a - 1); }
static bool is_pow2(size_t a) { return a && !(a & (a - 1)); }

/* ---- creation ---- */

static uint8_t kind_of(const hm_type_t *t, size_t kslot, bool ikey)
{
    if (ikey) return HM_K_GENERIC;
    if (t->key_size == 8 && kslot == 8 &&
        ((t->hash == hm_hash_u64 && t->eq == hm_eq_u64) ||
         (sizeof(void *) == 8 && t->hash == hm_hash_ptr && t->eq == hm_eq_ptr)))
        return HM_K_U64;
    if (t->key_size == 4 && kslot == 4 && t->hash == hm_hash_u32 && t->eq == hm_eq_u32)
        return HM_K_U32;
    if (t->key_size == sizeof(char *) && kslot == sizeof(char *) && t->hash == hm_hash_cstr &&
        t->eq == hm_eq_cstr)
        return HM_K_CSTR;
    return HM_K_GENERIC;
}

hm_map_t *hm_new(const hm_type_t *type, const hm_allocator_t *alloc)
{
    return hm_new_seeded(type, alloc, hm_random_seed());
}

hm_map_t *hm_new_seeded(const hm_type_t *t, const hm_allocator_t *alloc, uint64_t seed)
{
    if (!t || !t->hash || !t->eq) return NULL;
    size_t ka = t->key_align ? t->key_align : 1, va = t->val_align ? t->val_align : 1;
    if (!is_pow2(ka) || !is_pow2(va) || t->key_size > SIZE_MAX / 2 || t->val_size > SIZE_MAX / 2)
        return NULL;
    hm_allocator_t a = { default_alloc, default_free, NULL };
    if (alloc) {
        if (!alloc->alloc || !alloc->free) return NULL;
        a = *alloc;
    }
    bool zeroed = a.alloc == default_alloc;

    /* Layout: [tophash x8][keys x8][values x8][overflow], each part at its alignment. */
    const size_t P = sizeof(void *);
    bool ik = t->key_size > HM_MAX_DIRECT || ka > HM_MAX_ALIGN;
    bool iv = t->val_size > HM_MAX_DIRECT || va > HM_MAX_ALIGN;
    size_t kal = ik ? P : ka, val = iv ? P : va;
    size_t kslot = ik ? P : align_up(t->key_size, ka);
    size_t vslot = iv ? P : align_up(t->val_size, va);
    size_t koff = align_up(HM_KOFF, kal);
    size_t voff = align_up(koff + HM_SLOTS * kslot, val);
    size_t ooff = align_up(voff + HM_SLOTS * vslot, P);
    size_t bal = P;
    if (kal > bal) bal = kal;
    if (val > bal) bal = val;
    size_t bsize = align_up(ooff + P, bal);
    size_t kbytes = ik ? P : t->key_size, vbytes = iv ? P : t->val_size;

    const hm_hooks_t *h = hm_hooks_resolve();
    hm_map_t *m = a.alloc(sizeof *m, a.ctx);
    if (!m) return NULL;
    memset(m, 0, sizeof *m);
    m->seed = seed;
    hm_set_mix(m);
    m->bsize = (uint32_t)bsize;
    hm_set_B(m, 0);
    m->koff = (uint16_t)koff;
    m->voff = (uint16_t)voff;
    m->ooff = (uint16_t)ooff;
    m->kslot = (uint16_t)kslot;
    m->vslot = (uint16_t)vslot;
    m->kind = kind_of(t, kslot, ik);
    m->flags = (uint8_t)((ik ? HM_F_IKEY : 0) | (iv ? HM_F_IVAL : 0) | (zeroed ? HM_F_ZEROED : 0));
    if (m->kind == HM_K_U64 && !iv && vslot == 8 && koff == HM_KOFF && voff == HM_PAIR8_VOFF &&
        ooff == HM_PAIR8_OOFF && bsize == HM_PAIR8_BSIZE)
        m->flags |= HM_F_PAIR8;
    hm_set_getmode(m);
    m->hash = t->hash;
    m->eq = t->eq;
    m->key_size = t->key_size;
    m->val_size = t->val_size;
    /* Blocks come 16-aligned from the allocator; stricter ones get room to align within. */
    m->kamask = ka > HM_MAX_ALIGN ? ka - 1 : 0;
    m->vamask = va > HM_MAX_ALIGN ? va - 1 : 0;
    m->kblock = t->key_size + (m->kamask ? ka - HM_MAX_ALIGN : 0);
    m->vblock = t->val_size + (m->vamask ? va - HM_MAX_ALIGN : 0);
    if (ik && m->kblock == 0) m->kblock = 1;
    if (iv && m->vblock == 0) m->vblock = 1;
    m->pad = (uint32_t)(bsize - HM_SLOTS - HM_SLOTS * kbytes - HM_SLOTS * vbytes - P);
    m->iter_rand = seed ^ HM_C3;
    m->alloc = a;
    m->type_flags = t->flags;

    if (h) {
        m->hooks = h;
        if (h->created) {
            hm_map_info_t info = {
                .key_size = t->key_size, .val_size = t->val_size,
                .key_slot = kslot, .val_slot = vslot, .bucket_size = bsize,
                .key_pointer = (t->flags & HM_KEY_POINTER) || t->hash == hm_hash_ptr ||
                               t->hash == hm_hash_cstr,
                .val_pointer = (t->flags & HM_VAL_POINTER) != 0,
                .max_load = HM_LOAD_NUM / 2.0,
                .stats = hm_stats,
            };
            uint64_t word = h->created(m, &info);
            m->listener_word = h->entry ? word : 0;
        }
    }
    m->buckets = hm_alloc_array(m, bsize);
    if (!m->buckets) {
        const hm_hooks_t *l = hm_listener(m);
        if (l && l->destroyed) l->destroyed(m);
        a.free(m, sizeof *m, a.ctx);
        return NULL;
    }
    return m;
}

/* ---- the specialized probe ---- */

/* Bytes per key slot and offset of the keys, constants in the specialized paths. */
#define KSLOT(m, kind) ((kind) == HM_K_U64 || (kind) == HM_K_CSTR ? 8u \
                        : (kind) == HM_K_U32 ? 4u : (unsigned)(m)->kslot)
#define KOFF(m, kind) ((kind) == HM_K_GENERIC ? (unsigned)(m)->koff : (unsigned)HM_KOFF)

/* A key as the probe compares it: fast kinds hold it in a register (kv) or as the string
 * pointer, so the caller's memory is read once, before any growth work. */
typedef struct probe {
    const void *key;    /* the key bytes, as the type's functions take them */
    uint64_t kv;        /* HM_K_U64 / HM_K_U32: the key; HM_K_CSTR: the char * */
} probe_t;

HM_INLINE void probe_init(probe_t *p, const void *key, int kind)
{
    p->key = key;
    p->kv = 0;
    if (kind == HM_K_U64 || kind == HM_K_CSTR) memcpy(&p->kv, key, 8);
    else if (kind == HM_K_U32) { uint32_t v; memcpy(&v, key, 4); p->kv = v; }
}

HM_INLINE uint64_t probe_hash(const hm_map_t *m, const probe_t *p, int kind)
{
    switch (kind) {
    case HM_K_U64:
    case HM_K_U32: return hm_mix_map(m, p->kv);
    case HM_K_CSTR: {
        const char *s = (const char *)(uintptr_t)p->kv;
        return hm_hash_bytes(s, strlen(s), m->seed);
    }
    default: return m->hash(p->key, m->seed);
    }
}

HM_INLINE bool probe_eq(const hm_map_t *m, const probe_t *p, char *slot, int kind)
{
    switch (kind) {
    case HM_K_U64: { uint64_t v; memcpy(&v, slot, 8); return v == p->kv; }
    case HM_K_U32: { uint32_t v; memcpy(&v, slot, 4); return v == (uint32_t)p->kv; }
    case HM_K_CSTR: {
        const char *a = (const char *)(uintptr_t)p->kv, *b;
        memcpy(&b, slot, sizeof b);
        return a == b || strcmp(a, b) == 0;
    }
    default:
        return m->eq(p->key, HM_UNLIKELY(m->flags & HM_F_IKEY) ? hm_indirect(slot, m->kamask) : slot);
    }
}

/* The bucket of hash h once the old buckets below `evacuated` are evacuated: the old one
 * while it is not (old buckets are evacuated in order). */
HM_INLINE char *bucket_once(const hm_map_t *m, uint64_t h, size_t evacuated)
{
    if (HM_UNLIKELY(m->oldbuckets != NULL)) {
        size_t j = h & hm_mask(m->oldB);
        if (j >= evacuated) return m->oldbuckets + j * m->bsize;
    }
    return m->buckets + (h & m->mask) * m->bsize;
}

/* The bucket of hash h now (those below nevacuate are done). */
HM_INLINE char *bucket_of(const hm_map_t *m, uint64_t h)
{
    return bucket_once(m, h, m->nevacuate);
}

/* The slot holding the probe's key in the chain from *bp (its bucket left in *bp), or -1. A
 * chain ends at its first HM_EMPTY_REST byte: nothing lives past one. */
HM_INLINE int find_in(const hm_map_t *m, char **bp, uint64_t h, const probe_t *p, int kind)
{
    char *b = *bp;
    const uint64_t tops = HM_LO * hm_tophash(h);
    const size_t ks = KSLOT(m, kind);
    for (;;) {
        uint64_t w = hm_word(b);
        uint64_t match = hm_zero_bytes(w ^ tops);
        while (match) {
            unsigned i = hm_first(match);
            if (HM_LIKELY(probe_eq(m, p, b + KOFF(m, kind) + i * ks, kind))) {
                *bp = b;
                return (int)i;
            }
            match &= match - 1;
        }
        if (hm_zero_bytes(w)) return -1;
        b = hm_ovf(m, b);
        if (!b) return -1;
    }
}

/* ---- get ---- */

HM_INLINE void *get_impl(hm_map_t *m, const void *key, int kind)
{
    hm_read_check(m);
    probe_t p;
    probe_init(&p, key, kind);
    uint64_t h = probe_hash(m, &p, kind);
    char *b = bucket_of(m, h);
    hm_prefetch_rest(m, b);
    int i = find_in(m, &b, h, &p, kind);
    return i < 0 ? NULL : hm_valp(m, b, (unsigned)i);
}

/* One function per kind: the fast ones stay leaves with few registers to save. */
#define HM_NOINLINE static __attribute__((noinline))
HM_NOINLINE void *get_u64(hm_map_t *m, const void *k) { return get_impl(m, k, HM_K_U64); }
HM_NOINLINE void *get_u32(hm_map_t *m, const void *k) { return get_impl(m, k, HM_K_U32); }
HM_NOINLINE void *get_cstr(hm_map_t *m, const void *k) { return get_impl(m, k, HM_K_CSTR); }
HM_NOINLINE void *get_any(hm_map_t *m, const void *k) { return get_impl(m, k, HM_K_GENERIC); }

/* A new entry (key at kp, value at vp) is in: the counts, and the listener told. */
HM_INLINE void entry_added(hm_map_t *m, const void *kp, const void *vp, bool *inserted)
{
    m->count++;
    m->inserts++;
    if (m->count > m->peak) m->peak = m->count;
    if (inserted) *inserted = true;
    const hm_hooks_t *l = hm_listener(m);
    if (HM_UNLIKELY(l != NULL)) {
        hm_ev_entry(m, l, kp, vp, HM_ENTRY_ADDED);
        hm_ev_count(m, l);
    }
}

/* The home bucket of hash h in a HM_GET_PAIR8 map; pf: ask for its key and value lines too. */
HM_INLINE char *pair8_home(hm_map_t *m, uint64_t h, bool pf)
{
    char *b = m->buckets + (h & m->mask) * HM_PAIR8_BSIZE;
    if (pf) {
        __builtin_prefetch(b + 64);
        __builtin_prefetch(b + 128);
    }
    return b;
}

/* The slot of bucket b (tophash vector w) holding u64 key k, or NULL. */
HM_INLINE char *pair8_match(char *b, hm_vec_t w, hm_vec_t top, uint64_t k)
{
    for (hm_slots_t s = hm_vec_match(w, top); s; s &= s - 1) {
        char *p = b + 8 * hm_slot_first(s);
        uint64_t sk;
        memcpy(&sk, p + HM_KOFF, 8);
        if (HM_LIKELY(sk == k)) return p;
    }
    return NULL;
}

/* The lookup of a HM_GET_PAIR8 map: u64 keys, 8-byte values, not growing, so the layout is
 * constants, the hash is inlined and the tophash bytes are matched as a vector. pf: the
 * array is large (HM_GET_PAIR8_PF): ask for the bucket's key and value lines at once. */
HM_INLINE void *get_pair8(hm_map_t *m, const void *key, bool pf)
{
    uint64_t k;
    memcpy(&k, key, 8);
    const uint64_t h = hm_mix_map(m, k);
    char *b = pair8_home(m, h, pf);
    const hm_vec_t top = hm_vec_tophash(h);
    for (;;) {
        hm_vec_t w = hm_vec_load(b);
        char *p = pair8_match(b, w, top, k);
        if (p) return p + HM_PAIR8_VOFF;
        if (hm_vec_has_rest(w)) return NULL;
        memcpy(&b, b + HM_PAIR8_OOFF, sizeof b);
        if (!b) return NULL;
    }
}

/* The common lookups inline here (getmode, with no write in progress: one 16-bit compare);
 * everything else takes the paths above. */
void *hm_get(hm_map_t *m, const void *key)
{
    const uint16_t g = hm_get_gate(m);
    if (HM_LIKELY(g == hm_gate_of(HM_GET_PAIR8))) return get_pair8(m, key, false);
    if (HM_LIKELY(g == hm_gate_of(HM_GET_PAIR8_PF))) return get_pair8(m, key, true);
    if (HM_LIKELY(m->kind == HM_K_U64)) return get_u64(m, key);
    switch (m->kind) {
    case HM_K_U32: return get_u32(m, key);
    case HM_K_CSTR: return get_cstr(m, key);
    default: return get_any(m, key);
    }
}

bool hm_lookup(hm_map_t *m, const void *key, void **k, void **v)
{
    probe_t p;
    probe_init(&p, key, HM_K_GENERIC);
    uint64_t h = probe_hash(m, &p, HM_K_GENERIC);
    char *b = bucket_of(m, h);
    int i = find_in(m, &b, h, &p, HM_K_GENERIC);
    if (i < 0) return false;
    *k = hm_keyp(m, b, (unsigned)i);
    *v = hm_valp(m, b, (unsigned)i);
    return true;
}

/* ---- put ---- */

/* Growth work can free the array a caller's key or value points into (a pointer from hm_get
 * or an iterator): before it runs, direct keys and values are copied to the stack. */
typedef struct stash {
    _Alignas(16) unsigned char key[HM_MAX_DIRECT];
    _Alignas(16) unsigned char val[HM_MAX_DIRECT];
    bool done;
} stash_t;

HM_INLINE void stash_key(const hm_map_t *m, stash_t *s, probe_t *p, int kind)
{
    if (kind == HM_K_GENERIC && !(m->flags & HM_F_IKEY)) {
        memcpy(s->key, p->key, m->key_size);
        p->key = s->key;
    }
}
HM_INLINE void stash_all(const hm_map_t *m, stash_t *s, probe_t *p, const void **val, int kind)
{
    if (s->done) return;
    stash_key(m, s, p, kind);
    if (*val && !(m->flags & HM_F_IVAL)) {
        hm_copy(s->val, *val, m->val_size);
        *val = s->val;
    }
    s->done = true;
}

static void free_block(hm_map_t *m, hm_mem_t what, void *blk)
{
    size_t n = what == HM_MEM_KEY ? m->kblock : m->vblock;
    m->indirect_bytes -= n;
    hm_mem_free(m, what, blk, n);
}

static void *alloc_block(hm_map_t *m, hm_mem_t what)
{
    size_t n = what == HM_MEM_KEY ? m->kblock : m->vblock;
    void *p = hm_mem_alloc(m, what, n);
    if (p) m->indirect_bytes += n;
    return p;
}

HM_INLINE void store_key(const hm_map_t *m, char *slot, const probe_t *p, int kind)
{
    switch (kind) {
    case HM_K_U64:
    case HM_K_CSTR: memcpy(slot, &p->kv, 8); break;
    case HM_K_U32: { uint32_t v = (uint32_t)p->kv; memcpy(slot, &v, 4); break; }
    default: {
        char *d = HM_UNLIKELY(m->flags & HM_F_IKEY) ? hm_indirect(slot, m->kamask) : slot;
        if (d != (const char *)p->key) hm_copy(d, p->key, m->key_size);
    }
    }
}

HM_INLINE void store_val(const hm_map_t *m, char *vp, const void *val)
{
    if (!val) memset(vp, 0, m->val_size);
    else if (vp != (const char *)val) hm_copy(vp, val, m->val_size);
}

/* The whole insert: growth work, growth, overflow buckets, indirect blocks. The caller holds
 * the writing flag. */
HM_INLINE int put_full(hm_map_t *m, const void *key, const void *val, bool *inserted, int kind)
{
    probe_t p;
    probe_init(&p, key, kind);
    const uint64_t h = probe_hash(m, &p, kind);
    const uint64_t tops = HM_LO * hm_tophash(h);
    const size_t ks = KSLOT(m, kind);
    stash_t st;
    st.done = false;
    void *kblk = NULL, *vblk = NULL;    /* indirect blocks for a new entry */
    bool blocks = false;
    int err = 0;
    char *b, *insb;
    unsigned insi;
    bool inold;

again:
    if (HM_UNLIKELY(m->oldbuckets != NULL)) {
        stash_all(m, &st, &p, &val, kind);
        /* The key's bucket is a random one, a cache miss: asked for now, it arrives while
         * the growth work streams through its buckets. Where the key lives after that work
         * is known already. */
        __builtin_prefetch(bucket_once(m, h, m->nevacuate + HM_EVAC_PER_WRITE));
        (void)hm_grow_work(m);  /* on failure the entry goes where its key lives now */
    }
    inold = m->oldbuckets != NULL && (h & hm_mask(m->oldB)) >= m->nevacuate;
    b = bucket_of(m, h);
    hm_prefetch_rest(m, b);
    insb = NULL;
    insi = 0;
    for (;;) {
        uint64_t w = hm_word(b);
        uint64_t match = hm_zero_bytes(w ^ tops);
        while (match) {
            unsigned i = hm_first(match);
            char *slot = b + KOFF(m, kind) + i * ks;
            if (HM_LIKELY(probe_eq(m, &p, slot, kind))) {
                /* Replace: the key too (equal keys may differ in bytes, as C strings do). */
                store_key(m, slot, &p, kind);
                char *vp = hm_valp(m, b, i);
                store_val(m, vp, val);
                if (inserted) *inserted = false;
                const hm_hooks_t *l = hm_listener(m);
                if (HM_UNLIKELY(l != NULL))
                    hm_ev_entry(m, l, hm_keyp(m, b, i), vp, HM_ENTRY_STORED);
                goto out;
            }
            match &= match - 1;
        }
        if (!insb) {
            uint64_t e = hm_zero_bytes(w & ~HM_LO);     /* HM_EMPTY_REST or HM_EMPTY_ONE */
            if (e) {
                insb = b;
                insi = hm_first(e);
            }
        }
        if (hm_zero_bytes(w)) break;
        char *n = hm_ovf(m, b);
        if (!n) break;
        b = n;
    }

    /* A new entry. Every allocation it needs happens before the map changes. */
    if (HM_UNLIKELY(m->flags & (HM_F_IKEY | HM_F_IVAL)) && !blocks) {
        if ((m->flags & HM_F_IKEY) && !(kblk = alloc_block(m, HM_MEM_KEY))) goto nomem;
        if ((m->flags & HM_F_IVAL) && !(vblk = alloc_block(m, HM_MEM_VALUE))) goto nomem;
        blocks = true;
    }
    if (HM_UNLIKELY(m->oldbuckets == NULL && (m->count >= m->growat || hm_too_many_overflow(m)))) {
        stash_all(m, &st, &p, &val, kind);
        if (hm_hash_grow(m, m->count < m->growat)) goto nomem;
        goto again;
    }
    if (!insb) {
        insb = hm_alloc_overflow(m);
        if (!insb) goto nomem;
        hm_set_ovf(m, b, insb);
        if (inold) m->nov_old++;
        else m->noverflow++;
        insi = 0;
    }
    hm_top(insb)[insi] = hm_tophash(h);
    char *slot = insb + KOFF(m, kind) + insi * ks;
    if (kblk) {
        memcpy(slot, &kblk, sizeof kblk);
        kblk = NULL;
    }
    store_key(m, slot, &p, kind);
    char *vs = hm_vslot(m, insb, insi);
    if (vblk) {
        memcpy(vs, &vblk, sizeof vblk);
        vblk = NULL;
    }
    char *vp = HM_UNLIKELY(m->flags & HM_F_IVAL) ? hm_indirect(vs, m->vamask) : vs;
    store_val(m, vp, val);
    entry_added(m, hm_keyp(m, insb, insi), vp, inserted);
    goto out;

nomem:
    err = ENOMEM;
out:
    if (HM_UNLIKELY(kblk != NULL)) free_block(m, HM_MEM_KEY, kblk);
    if (HM_UNLIKELY(vblk != NULL)) free_block(m, HM_MEM_VALUE, vblk);
    return err;
}

/* The common insert, kept a leaf: not growing, keys and values direct, and the key either
 * present or with room in its chain and no growth due. Returns -1, having changed nothing,
 * for everything else. */
HM_INLINE int put_fast(hm_map_t *m, const void *key, const void *val, bool *inserted, int kind)
{
    if (HM_UNLIKELY(m->oldbuckets != NULL || (m->flags & (HM_F_IKEY | HM_F_IVAL)))) return -1;
    probe_t p;
    probe_init(&p, key, kind);
    const uint64_t h = probe_hash(m, &p, kind);
    const uint64_t tops = HM_LO * hm_tophash(h);
    const size_t ks = KSLOT(m, kind), ko = KOFF(m, kind);
    char *b = m->buckets + (h & m->mask) * m->bsize, *insb = NULL;
    unsigned insi = 0;
    hm_prefetch_rest(m, b);
    for (;;) {
        uint64_t w = hm_word(b);
        uint64_t match = hm_zero_bytes(w ^ tops);
        while (match) {
            unsigned i = hm_first(match);
            char *slot = b + ko + i * ks;
            if (HM_LIKELY(probe_eq(m, &p, slot, kind))) {
                store_key(m, slot, &p, kind);
                char *vp = b + m->voff + i * m->vslot;
                store_val(m, vp, val);
                if (inserted) *inserted = false;
                const hm_hooks_t *l = hm_listener(m);
                if (HM_UNLIKELY(l != NULL)) hm_ev_entry(m, l, slot, vp, HM_ENTRY_STORED);
                return 0;
            }
            match &= match - 1;
        }
        if (!insb) {
            uint64_t e = hm_zero_bytes(w & ~HM_LO);     /* HM_EMPTY_REST or HM_EMPTY_ONE */
            if (e) {
                insb = b;
                insi = hm_first(e);
            }
        }
        if (hm_zero_bytes(w)) break;
        char *n = hm_ovf(m, b);
        if (!n) break;
        b = n;
    }
    if (HM_UNLIKELY(!insb || m->count >= m->growat || hm_too_many_overflow(m))) return -1;
    hm_top(insb)[insi] = hm_tophash(h);
    char *slot = insb + ko + insi * ks;
    store_key(m, slot, &p, kind);
    char *vp = insb + m->voff + insi * m->vslot;
    store_val(m, vp, val);
    entry_added(m, slot, vp, inserted);
    return 0;
}

/* The insert of a HM_GET_PAIR8 map (the writing flag held): get_pair8's probe, remembering
 * the first free slot of the chain. Returns -1, having changed nothing, when the key is absent
 * and its chain has no free slot or growth is due. */
HM_INLINE int put_pair8(hm_map_t *m, const void *key, const void *val, bool *inserted, bool pf)
{
    uint64_t k, v = 0;
    memcpy(&k, key, 8);
    if (val) memcpy(&v, val, 8);
    const uint64_t h = hm_mix_map(m, k);
    char *b = pair8_home(m, h, pf), *insb = NULL;
    const hm_vec_t top = hm_vec_tophash(h);
    size_t insi = 0;
    for (;;) {
        hm_vec_t w = hm_vec_load(b);
        char *p = pair8_match(b, w, top, k);
        if (p) {                        /* replace (equal u64 keys are equal bytes) */
            memcpy(p + HM_PAIR8_VOFF, &v, 8);
            if (inserted) *inserted = false;
            const hm_hooks_t *l = hm_listener(m);
            if (HM_UNLIKELY(l != NULL))
                hm_ev_entry(m, l, p + HM_KOFF, p + HM_PAIR8_VOFF, HM_ENTRY_STORED);
            return 0;
        }
        if (!insb) {
            hm_slots_t f = hm_vec_free(w);
            if (f) {
                insb = b;
                insi = hm_slot_first(f);
            }
        }
        if (hm_vec_has_rest(w)) break;
        char *n;
        memcpy(&n, b + HM_PAIR8_OOFF, sizeof n);
        if (!n) break;
        b = n;
    }
    if (HM_UNLIKELY(!insb || m->count >= m->growat || hm_too_many_overflow(m))) return -1;
    hm_top(insb)[insi] = hm_tophash(h);
    char *p = insb + 8 * insi;
    memcpy(p + HM_KOFF, &k, 8);
    memcpy(p + HM_PAIR8_VOFF, &v, 8);
    entry_added(m, p + HM_KOFF, p + HM_PAIR8_VOFF, inserted);
    return 0;
}

HM_NOINLINE int put_slow_u64(hm_map_t *m, const void *k, const void *v, bool *ins)
{
    return put_full(m, k, v, ins, HM_K_U64);
}
HM_NOINLINE int put_slow_u32(hm_map_t *m, const void *k, const void *v, bool *ins)
{
    return put_full(m, k, v, ins, HM_K_U32);
}
HM_NOINLINE int put_slow_cstr(hm_map_t *m, const void *k, const void *v, bool *ins)
{
    return put_full(m, k, v, ins, HM_K_CSTR);
}
HM_NOINLINE int put_slow_any(hm_map_t *m, const void *k, const void *v, bool *ins)
{
    return put_full(m, k, v, ins, HM_K_GENERIC);
}

#define PUT_FN(name, kind, slow) \
    HM_NOINLINE int name(hm_map_t *m, const void *k, const void *v, bool *ins) \
    { \
        hm_write_begin(m); \
        int r = put_fast(m, k, v, ins, kind); \
        if (HM_UNLIKELY(r < 0)) r = slow(m, k, v, ins); \
        hm_write_end(m); \
        return r; \
    }
PUT_FN(put_u64, HM_K_U64, put_slow_u64)

/* HM_GET_PAIR8 maps: put_pair8, then the general u64 path for what it does not handle. */
HM_NOINLINE int put_p8(hm_map_t *m, const void *k, const void *v, bool *ins)
{
    hm_write_begin(m);
    int r = m->getmode == HM_GET_PAIR8 ? put_pair8(m, k, v, ins, false)
                                       : put_pair8(m, k, v, ins, true);
    if (HM_UNLIKELY(r < 0)) r = put_slow_u64(m, k, v, ins);
    hm_write_end(m);
    return r;
}
PUT_FN(put_u32, HM_K_U32, put_slow_u32)
PUT_FN(put_cstr, HM_K_CSTR, put_slow_cstr)
PUT_FN(put_any, HM_K_GENERIC, put_slow_any)

int hm_put(hm_map_t *m, const void *key, const void *val, bool *inserted)
{
    if (HM_LIKELY(m->getmode != HM_GET_NONE)) return put_p8(m, key, val, inserted);
    if (HM_LIKELY(m->kind == HM_K_U64)) return put_u64(m, key, val, inserted);
    switch (m->kind) {
    case HM_K_U32: return put_u32(m, key, val, inserted);
    case HM_K_CSTR: return put_cstr(m, key, val, inserted);
    default: return put_any(m, key, val, inserted);
    }
}

/* ---- delete ---- */

/* Slot i of b was emptied and nothing follows it in the chain: it and the empty slots before
 * it become HM_EMPTY_REST, so probes stop early (Go's mapdelete). */
static void mark_rest(const hm_map_t *m, char *head, char *b, unsigned i)
{
    uint8_t *t = hm_top(b);
    for (;;) {
        t[i] = HM_EMPTY_REST;
        if (i == 0) {
            if (b == head) return;
            char *c = b;
            for (b = head; hm_ovf(m, b) != c; b = hm_ovf(m, b)) {}
            t = hm_top(b);
            i = HM_SLOTS - 1;
        } else {
            i--;
        }
        if (t[i] != HM_EMPTY_ONE) return;
    }
}

/* Empties slot i of b (chain from head). When nothing follows b in its chain, every empty
 * slot after b's last used one becomes HM_EMPTY_REST in one word write (always valid: nothing
 * lives past them), so the common delete takes no data-dependent branch. */
HM_INLINE void mark_empty(hm_map_t *m, char *head, char *b, unsigned i)
{
    hm_iters_touch(m);
    char *n = hm_ovf(m, b);
    if (HM_LIKELY(n == NULL || hm_top(n)[0] == HM_EMPTY_REST)) {
        uint64_t w = (hm_word(b) & ~(0xffULL << (8 * i))) | ((uint64_t)HM_EMPTY_ONE << (8 * i));
        uint64_t u = hm_used_bytes(w);
        /* bytes up to the last used one (2 << 63 wraps to 0: all of them) */
        uint64_t keep = u ? (2ULL << (63 - __builtin_clzll(u))) - 1 : 0;
        hm_set_word(b, w & keep);
        if (HM_UNLIKELY(u == 0 && b != head)) mark_rest(m, head, b, 0);
        return;
    }
    hm_top(b)[i] = HM_EMPTY_ONE;
}

static void remove_slot(hm_map_t *m, char *head, char *b, unsigned i, uint64_t h)
{
    const hm_hooks_t *l = hm_listener(m);
    if (HM_UNLIKELY(l != NULL)) hm_ev_entry(m, l, hm_keyp(m, b, i), NULL, HM_ENTRY_REMOVED);
    if (HM_UNLIKELY(m->flags & (HM_F_IKEY | HM_F_IVAL))) {
        void *p;
        if (m->flags & HM_F_IKEY) {
            memcpy(&p, hm_kslot(m, b, i), sizeof p);
            if (m->iters) hm_iter_forget(m, h, p);
            free_block(m, HM_MEM_KEY, p);
        }
        if (m->flags & HM_F_IVAL) {
            memcpy(&p, hm_vslot(m, b, i), sizeof p);
            free_block(m, HM_MEM_VALUE, p);
        }
    }
    mark_empty(m, head, b, i);
    m->count--;
    m->removes++;
    if (HM_UNLIKELY(l != NULL)) hm_ev_count(m, l);
}

/* Opt-in auto shrink: under 1/8 of the maximum load. */
HM_INLINE bool shrink_due(const hm_map_t *m)
{
    return HM_UNLIKELY(m->flags & HM_F_AUTOSHRINK) && m->B > 0 &&
           (m->count << 4) < ((size_t)HM_LOAD_NUM << m->B);
}

/* The whole delete: growth work first, then the key wherever it lives. Writing flag held. */
HM_INLINE bool del_full(hm_map_t *m, const void *key, int kind)
{
    probe_t p;
    probe_init(&p, key, kind);
    const uint64_t h = probe_hash(m, &p, kind);
    if (HM_UNLIKELY(m->oldbuckets != NULL)) {
        stash_t st;
        stash_key(m, &st, &p, kind);
        (void)hm_grow_work(m);      /* on failure the key is found where it is */
    }
    char *head = bucket_of(m, h), *b = head;
    hm_prefetch_rest(m, b);
    int i = find_in(m, &b, h, &p, kind);
    if (i >= 0) {
        remove_slot(m, head, b, (unsigned)i, h);
        if (shrink_due(m)) (void)hm_shrink_now(m);
    }
    return i >= 0;
}

/* The common delete, a leaf: not growing, keys and values direct. -1: not handled. */
HM_INLINE int del_fast(hm_map_t *m, const void *key, int kind)
{
    if (HM_UNLIKELY(m->oldbuckets != NULL || (m->flags & (HM_F_IKEY | HM_F_IVAL)))) return -1;
    probe_t p;
    probe_init(&p, key, kind);
    const uint64_t h = probe_hash(m, &p, kind);
    char *head = m->buckets + (h & m->mask) * m->bsize, *b = head;
    hm_prefetch_rest(m, b);
    int i = find_in(m, &b, h, &p, kind);
    if (i < 0) return 0;
    const hm_hooks_t *l = hm_listener(m);
    if (HM_UNLIKELY(l != NULL))
        hm_ev_entry(m, l, b + KOFF(m, kind) + (unsigned)i * KSLOT(m, kind), NULL, HM_ENTRY_REMOVED);
    mark_empty(m, head, b, (unsigned)i);
    m->count--;
    m->removes++;
    if (HM_UNLIKELY(l != NULL)) hm_ev_count(m, l);
    if (shrink_due(m)) (void)hm_shrink_now(m);
    return 1;
}

HM_NOINLINE bool del_slow_u64(hm_map_t *m, const void *k) { return del_full(m, k, HM_K_U64); }
HM_NOINLINE bool del_slow_u32(hm_map_t *m, const void *k) { return del_full(m, k, HM_K_U32); }
HM_NOINLINE bool del_slow_cstr(hm_map_t *m, const void *k) { return del_full(m, k, HM_K_CSTR); }
HM_NOINLINE bool del_slow_any(hm_map_t *m, const void *k) { return del_full(m, k, HM_K_GENERIC); }

#define DEL_FN(name, kind, slow) \
    HM_NOINLINE bool name(hm_map_t *m, const void *k) \
    { \
        hm_write_begin(m); \
        int r = del_fast(m, k, kind); \
        if (HM_UNLIKELY(r < 0)) r = slow(m, k); \
        hm_write_end(m); \
        return r > 0; \
    }
DEL_FN(del_u64, HM_K_U64, del_slow_u64)
DEL_FN(del_u32, HM_K_U32, del_slow_u32)
DEL_FN(del_cstr, HM_K_CSTR, del_slow_cstr)
DEL_FN(del_any, HM_K_GENERIC, del_slow_any)

bool hm_del(hm_map_t *m, const void *key)
{
    if (HM_LIKELY(m->kind == HM_K_U64)) return del_u64(m, key);
    switch (m->kind) {
    case HM_K_U32: return del_u32(m, key);
    case HM_K_CSTR: return del_cstr(m, key);
    default: return del_any(m, key);
    }
}

/* ---- clear, free, small things ---- */

/* Reports (when report) and frees the out-of-line blocks of every live entry in a chain. */
static void release_chain(hm_map_t *m, const hm_hooks_t *l, char *b, bool report)
{
    for (; b; b = hm_ovf(m, b)) {
        const uint8_t *t = hm_top(b);
        for (unsigned i = 0; i < HM_SLOTS; i++) {
            if (t[i] < HM_MIN_TOPHASH) continue;
            if (report) hm_ev_entry(m, l, hm_keyp(m, b, i), NULL, HM_ENTRY_REMOVED);
            void *p;
            if (m->flags & HM_F_IKEY) {
                memcpy(&p, hm_kslot(m, b, i), sizeof p);
                free_block(m, HM_MEM_KEY, p);
            }
            if (m->flags & HM_F_IVAL) {
                memcpy(&p, hm_vslot(m, b, i), sizeof p);
                free_block(m, HM_MEM_VALUE, p);
            }
        }
    }
}

/* Every live entry: in the old buckets not evacuated yet, and in the current array. */
static void release_entries(hm_map_t *m, const hm_hooks_t *l, bool report)
{
    if (!report && !(m->flags & (HM_F_IKEY | HM_F_IVAL))) return;
    if (m->oldbuckets) {
        size_t n = (size_t)1 << m->oldB;
        for (size_t j = 0; j < n; j++) {
            char *ob = m->oldbuckets + j * m->bsize;
            if (!hm_evacuated(ob)) release_chain(m, l, ob, report);
        }
    }
    size_t n = (size_t)1 << m->B;
    for (size_t j = 0; j < n; j++) release_chain(m, l, m->buckets + j * m->bsize, report);
}

void hm_clear(hm_map_t *m)
{
    hm_write_begin(m);
    hm_iters_touch(m);
    const hm_hooks_t *l = hm_listener(m);
    size_t before = m->count;
    release_entries(m, l, l && m->listener_word);
    /* Arrays only iterators still read: their evacuated slots may point to freed key blocks,
     * and none of their entries is present any more. */
    for (hm_iter_t *it = m->iters; it; it = it->next) {
        char *a = it->buckets;
        if (a != m->buckets && a != m->oldbuckets) hm_mark_array_empty(m, a, it->B);
        a = it->obuckets;
        if (a && a != m->buckets && a != m->oldbuckets) hm_mark_array_empty(m, a, it->oB);
    }
    if (m->oldbuckets) {
        char *old = m->oldbuckets;
        bool same = (m->flags & HM_F_SAMESIZE) != 0;
        if (hm_array_pinned(m, old)) hm_mark_array_empty(m, old, m->oldB);
        hm_set_old(m, NULL);
        m->flags &= (uint8_t)~HM_F_SAMESIZE;
        m->nevacuate = 0;
        hm_drop_array(m, old, m->oldB, m->nov_old);
        m->nov_old = 0;
        hm_ev_grow(m, same, true);
    }
    if (hm_array_pinned(m, m->buckets)) {
        hm_mark_array_empty(m, m->buckets, m->B);   /* an iterator may stand in a chain */
    } else {
        if (m->noverflow) m->noverflow -= hm_free_chains(m, m->buckets, m->B);
        memset(m->buckets, 0, (size_t)m->bsize << m->B);
    }
    m->count = 0;
    m->removes += before;
    if (before && l) hm_ev_count(m, l);
    hm_write_end(m);
}

void hm_free(hm_map_t *m)
{
    if (!m) return;
    hm_write_begin(m);
    const hm_hooks_t *l = hm_listener(m);
    release_entries(m, l, false);
    /* Arrays kept only for iterators that were never ended. */
    for (hm_iter_t *it = m->iters; it; it = it->next) {
        char *arrs[2] = { it->buckets, it->obuckets };
        unsigned bs[2] = { it->B, it->oB };
        for (int k = 0; k < 2; k++) {
            char *a = arrs[k];
            if (!a || a == m->buckets || a == m->oldbuckets) continue;
            for (hm_iter_t *o = it; o; o = o->next) {
                if (o->buckets == a) o->buckets = NULL;
                if (o->obuckets == a) o->obuckets = NULL;
            }
            hm_free_array(m, a, bs[k], true);
        }
    }
    if (m->oldbuckets) hm_free_array(m, m->oldbuckets, m->oldB, true);
    hm_free_array(m, m->buckets, m->B, true);
    if (l && l->destroyed) l->destroyed(m);
    hm_allocator_t a = m->alloc;
    a.free(m, sizeof *m, a.ctx);
}

size_t hm_count(const hm_map_t *m)
{
    return m->count;
}

void hm_set_auto_shrink(hm_map_t *m, bool on)
{
    hm_write_begin(m);
    if (on) m->flags |= HM_F_AUTOSHRINK;
    else m->flags &= (uint8_t)~HM_F_AUTOSHRINK;
    hm_write_end(m);
}

int hm_shrink(hm_map_t *m)
{
    hm_write_begin(m);
    int err = hm_shrink_now(m);
    hm_write_end(m);
    return err;
}
