/* hashmap/grow.c - growth (hashGrow, evacuate), shrink, and the life of bucket arrays.
 *
 * Growth allocates the new array and nothing else; the entries move later, one old bucket
 * (with its chain) at a time: every insert or delete evacuates the two lowest old buckets not
 * done yet (nevacuate), in order, so no operation pays for a whole resize. Unlike Go, a write
 * does not evacuate the (random) old bucket its key maps to: while that bucket is not
 * evacuated, the write goes to it (the entry moves with it later). Evacuation is then a
 * sequential stream over the old array and the two halves of the new one (measured at 10M
 * u64 entries: Go's order paid ~59 ns per entry moved, mostly cache misses on the random
 * bucket and its two destinations). Old buckets below nevacuate are exactly the evacuated
 * ones, so a probe tells where a key lives without reading the old array. An old array of at
 * most HM_ONESHOT_BYTES (32 KiB) is evacuated whole by the insert that starts the growth (the
 * hooks still see start then finish): a bounded cost, measured +8% on 1K-entry inserts, which
 * then never take the growing paths. When
 * doubling, old bucket j splits into new buckets j (X) and j + 2^oldB (Y) by the hash bit
 * 2^oldB; a same-size regrow sends the whole chain to j, compacting it. Invariants:
 *  - new buckets j (and j + 2^oldB) are empty until old bucket j is evacuated: nothing is
 *    inserted into a new bucket before its old bucket is evacuated (writes go to the old one);
 *  - evacuating is all or nothing: entries are copied first, and when an overflow bucket
 *    cannot be allocated the copies are thrown away and the old bucket restored, so the map
 *    never loses an entry to ENOMEM;
 *  - an evacuated old bucket keeps its keys, marked HM_EVAC_X/Y (HM_EVAC_EMPTY for empty
 *    slots): an iterator that was reading it finds the entry again by key. Its overflow chain
 *    is freed at once unless an iterator pins the old array;
 *  - an array the map drops (old array after growth, array replaced by a shrink, old array
 *    abandoned by clear) is freed unless a live iterator pins it; then it is "retired" and
 *    still counted by hm_stats until the last such iterator lets go (iter.c);
 *  - the evacuated start of a large old array (4 MiB and up, default allocator, no iterator
 *    pinning it) goes back to the kernel in 2 MiB steps while the growth goes on
 *    (discard_evacuated): the growth's memory peak is about the new array, not both. Measured,
 *    10M u64 inserts alone in a process: peak RSS 556 -> 414 MB (80 of them the keys), the
 *    growth to B = 21 1231-1358 -> 355-420 ns per insert, 5.1-6.0 -> 8.1-8.8 Mops/s overall;
 *    in the map benchmark, which runs other maps in the same process, within its noise.
 * Shrink is a rebuild: finish growth, copy every entry into a new array at the smallest B,
 * then switch; on ENOMEM the new array is dropped and the map is as it was. */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/mman.h>

#include "internal.h"

char *hm_alloc_array(hm_map_t *m, size_t bytes)
{
    char *arr = hm_mem_alloc(m, HM_MEM_BUCKETS, bytes);
    if (arr && !(m->flags & HM_F_ZEROED)) memset(arr, 0, bytes);
    return arr;
}

char *hm_alloc_overflow(hm_map_t *m)
{
    char *o = hm_mem_alloc(m, HM_MEM_OVERFLOW, m->bsize);
    if (o) {
        memset(o, 0, HM_SLOTS);
        hm_set_ovf(m, o, NULL);
    }
    return o;
}

size_t hm_free_chains(hm_map_t *m, char *arr, unsigned B)
{
    size_t n = (size_t)1 << B, freed = 0;
    for (size_t j = 0; j < n; j++) {
        char *head = arr + j * m->bsize, *o = hm_ovf(m, head);
        if (o) hm_set_ovf(m, head, NULL);   /* (no write to a head without: its page may be
                                             * a discarded one, see discard_evacuated) */
        while (o) {
            char *next = hm_ovf(m, o);
            hm_mem_free(m, HM_MEM_OVERFLOW, o, m->bsize);
            freed++;
            o = next;
        }
    }
    return freed;
}

size_t hm_free_array(hm_map_t *m, char *arr, unsigned B, bool walk)
{
    size_t freed = walk ? hm_free_chains(m, arr, B) : 0;
    hm_mem_free(m, HM_MEM_BUCKETS, arr, (size_t)m->bsize << B);
    return freed;
}

void hm_drop_array(hm_map_t *m, char *arr, unsigned B, size_t nov)
{
    if (hm_array_pinned(m, arr)) {
        m->retired_nbuckets += (size_t)1 << B;
        m->nov_retired += nov;
    } else {
        hm_free_array(m, arr, B, nov > 0);
    }
}

void hm_mark_array_empty(hm_map_t *m, char *arr, unsigned B)
{
    size_t n = (size_t)1 << B;
    for (size_t j = 0; j < n; j++)
        for (char *b = arr + j * m->bsize; b; b = hm_ovf(m, b)) memset(b, HM_EMPTY_REST, HM_SLOTS);
}

static int evacuate(hm_map_t *m, size_t oldbucket);

int hm_hash_grow(hm_map_t *m, bool same_size)
{
    unsigned nb = m->B + (same_size ? 0 : 1);
    if (nb > 8 * sizeof(size_t) - 8) return ENOMEM;
    size_t bytes = (size_t)m->bsize << nb;
    if ((bytes >> nb) != m->bsize) return ENOMEM;
    char *arr = hm_alloc_array(m, bytes);
    if (!arr) return ENOMEM;
    hm_iters_touch(m);
    hm_set_old(m, m->buckets);
    m->oldB = m->B;
    m->nov_old = m->noverflow;
    m->noverflow = 0;
    m->buckets = arr;
    hm_set_B(m, nb);
    m->nevacuate = 0;
    if (same_size) m->flags |= HM_F_SAMESIZE;
    else m->flags &= (uint8_t)~HM_F_SAMESIZE;
    hm_ev_grow(m, same_size, false);
    /* A small old array is evacuated at once (a bounded cost: at most HM_ONESHOT_BYTES of
     * buckets, in order), so its writes skip the growing path. On ENOMEM the rest is left to
     * the incremental path. */
    if (((size_t)m->bsize << m->oldB) <= HM_ONESHOT_BYTES)
        while (m->oldbuckets && evacuate(m, m->nevacuate) == 0) {}
    return 0;
}

static void grow_done(hm_map_t *m)
{
    char *old = m->oldbuckets;
    bool same = (m->flags & HM_F_SAMESIZE) != 0;
    size_t nov = m->nov_old;
    hm_set_old(m, NULL);
    m->nov_old = 0;
    m->nevacuate = 0;
    m->flags &= (uint8_t)~HM_F_SAMESIZE;
    hm_drop_array(m, old, m->oldB, nov);
    hm_ev_grow(m, same, true);
}

/* Old arrays of at least this many bytes from the default allocator give their evacuated
 * part back to the kernel as the growth goes on, in steps of this many bytes. */
#define HM_DISCARD_MIN ((size_t)4 << 20)
#define HM_DISCARD_STEP ((uintptr_t)2 << 20)

/* The evacuated start of a large old array goes back to the kernel (MADV_DONTNEED), a huge
 * page at a time, while the growth goes on: the growth's memory peak is then about the new
 * array rather than both, and the new array's page faults find those pages free (on this VM
 * a page the process never had costs a host fault as well; a whole free huge page spares a
 * compaction). Nothing reads an evacuated old bucket unless an iterator pins the array (then
 * nothing is discarded until it lets go) or through hm_free_chains and release_entries,
 * which see the zero pages as empty buckets without chains: chains of evacuated buckets are
 * freed at evacuation, and when one was kept for an iterator (HM_F_KEPTCHAIN) this growth
 * discards nothing. The allocator's accounting is unchanged (hm_stats still counts the whole
 * old array until it is freed). */
static void discard_evacuated(hm_map_t *m)
{
    const size_t bytes = (size_t)m->bsize << m->oldB;
    if (bytes < HM_DISCARD_MIN || !(m->flags & HM_F_ZEROED) || (m->flags & HM_F_KEPTCHAIN)) {
        m->odiscard = bytes;    /* nothing to do for the rest of this growth */
        return;
    }
    uintptr_t base = (uintptr_t)m->oldbuckets;
    uintptr_t lo = (base + m->odiscard + HM_DISCARD_STEP - 1) & ~(HM_DISCARD_STEP - 1);
    uintptr_t hi = (base + m->nevacuate * m->bsize) & ~(HM_DISCARD_STEP - 1);
    if (hi <= lo || hm_array_pinned(m, m->oldbuckets)) return;
    if (madvise((void *)lo, hi - lo, MADV_DONTNEED) == 0) m->odiscard = hi - base;
}

/* nevacuate was just evacuated: move the mark past every evacuated bucket (at most 1024 looks,
 * as Go), and finish the growth when none is left. */
static void advance(hm_map_t *m)
{
    size_t n = (size_t)1 << m->oldB;
    size_t stop = m->nevacuate + 1 + 1024;
    if (stop > n) stop = n;
    m->nevacuate++;
    while (m->nevacuate < stop && hm_evacuated(m->oldbuckets + m->nevacuate * m->bsize))
        m->nevacuate++;
    if (m->nevacuate == n) grow_done(m);
    else if (HM_UNLIKELY(m->nevacuate * m->bsize >= m->odiscard + 2 * HM_DISCARD_STEP))
        discard_evacuated(m);
}

/* Empties a destination bucket again after a failed evacuation (it was empty before). */
static void reset_dst(hm_map_t *m, char *head)
{
    char *o = hm_ovf(m, head);
    while (o) {
        char *next = hm_ovf(m, o);
        hm_mem_free(m, HM_MEM_OVERFLOW, o, m->bsize);
        m->noverflow--;
        o = next;
    }
    memset(head, HM_EMPTY_REST, HM_SLOTS);
    hm_set_ovf(m, head, NULL);
}

/* Evacuates one old bucket and its chain. Specialized by kind and slot sizes (constants in
 * the common instantiations, so copies are single moves); the tophash word of each old bucket
 * is rewritten once, after its entries are copied. */
HM_INLINE int evacuate_impl(hm_map_t *m, size_t oldbucket, int kind, size_t ks, size_t vs)
{
    const size_t bs = m->bsize, koff = m->koff, voff = m->voff;
    char *ob = m->oldbuckets + oldbucket * bs;
    const bool same = (m->flags & HM_F_SAMESIZE) != 0;
    const size_t newbit = same ? 0 : (size_t)1 << m->oldB;
    char *db[2] = { m->buckets + oldbucket * bs, same ? NULL : m->buckets + (oldbucket + newbit) * bs };
    unsigned di[2] = { 0, 0 };     /* X and Y: where the next entry goes */
    if (!hm_evacuated(ob)) {
        hm_iters_touch(m);
        for (char *b = ob; b; b = hm_ovf(m, b)) {
            uint64_t live = hm_used_bytes(hm_word(b));
            uint64_t marks = HM_LO * HM_EVAC_EMPTY;
            while (live) {
                unsigned i = hm_first(live);
                live &= live - 1;
                int y = !same && (hm_hash_slot_k(m, b, i, kind) & newbit) != 0;
                if (di[y] == HM_SLOTS) {
                    char *n = hm_alloc_overflow(m);
                    if (!n) goto undo;
                    hm_set_ovf(m, db[y], n);
                    m->noverflow++;
                    db[y] = n;
                    di[y] = 0;
                }
                char *d = db[y];
                unsigned j = di[y]++;
                hm_top(d)[j] = hm_top(b)[i];
                hm_copy(d + koff + j * ks, b + koff + i * ks, ks);
                hm_copy(d + voff + j * vs, b + voff + i * vs, vs);
                marks ^= (uint64_t)((HM_EVAC_X + y) ^ HM_EVAC_EMPTY) << (8 * i);
            }
            hm_set_word(b, marks);
        }
        char *o = hm_ovf(m, ob);
        if (o && hm_array_pinned(m, m->oldbuckets)) m->flags |= HM_F_KEPTCHAIN;
        else if (o) {
            hm_set_ovf(m, ob, NULL);
            while (o) {
                char *next = hm_ovf(m, o);
                hm_mem_free(m, HM_MEM_OVERFLOW, o, bs);
                m->nov_old--;
                o = next;
            }
        }
    }
    if (oldbucket == m->nevacuate) advance(m);
    return 0;

undo:
    /* Buckets before the failing one carry marks; it and the rest are untouched. An empty
     * slot comes back as HM_EMPTY_ONE (always safe: probes just look further). */
    for (char *b = ob; b; b = hm_ovf(m, b)) {
        uint8_t *t = hm_top(b);
        for (unsigned i = 0; i < HM_SLOTS; i++) {
            if (t[i] == HM_EVAC_X || t[i] == HM_EVAC_Y) t[i] = hm_tophash(hm_hash_slot(m, b, i));
            else if (t[i] == HM_EVAC_EMPTY) t[i] = HM_EMPTY_ONE;
        }
    }
    reset_dst(m, m->buckets + oldbucket * bs);
    if (!same) reset_dst(m, m->buckets + (oldbucket + newbit) * bs);
    return ENOMEM;
}

/* The common case of the u64 -> 8-byte layout: doubling, and an old bucket without a chain.
 * Its at most 8 entries fit in X and Y (empty until now) with no overflow bucket, so nothing
 * can fail; the X and Y tophash words are built in registers and every choice between X and
 * Y is a select, not a branch (the hash bit is a coin toss a branch would mispredict). */
static int evacuate_u64_8(hm_map_t *m, size_t oldbucket)
{
    const size_t bs = m->bsize;
    char *ob = m->oldbuckets + oldbucket * bs;
    if ((m->flags & HM_F_SAMESIZE) || hm_ovf(m, ob) != NULL || hm_evacuated(ob))
        return evacuate_impl(m, oldbucket, HM_K_U64, 8, 8);
    hm_iters_touch(m);
    const size_t voff = m->voff, newbit = (size_t)1 << m->oldB;
    char *dx = m->buckets + oldbucket * bs, *dy = dx + newbit * bs;
    uint64_t w = hm_word(ob), live = hm_used_bytes(w);
    uint64_t tx = 0, ty = 0, marks = HM_LO * HM_EVAC_EMPTY;
    unsigned nx = 0, ny = 0;
    while (live) {
        unsigned i = hm_first(live);
        live &= live - 1;
        uint64_t k, v;
        memcpy(&k, ob + HM_KOFF + 8 * i, 8);
        memcpy(&v, ob + voff + 8 * i, 8);
        uint64_t top = (w >> (8 * i)) & 0xff;
        unsigned y = (hm_mix_map(m, k) & newbit) != 0;
        /* masks, not ?: (the compiler turns those into the branch this avoids) */
        uint64_t ym = (uint64_t)0 - y;
        unsigned j = nx ^ ((nx ^ ny) & (unsigned)ym);
        char *d = (char *)((uintptr_t)dx ^ (((uintptr_t)dx ^ (uintptr_t)dy) & ym));
        memcpy(d + HM_KOFF + 8 * j, &k, 8);
        memcpy(d + voff + 8 * j, &v, 8);
        uint64_t t = top << (8 * j);
        tx |= t & ~ym;
        ty |= t & ym;
        nx += 1 - y;
        ny += y;
        marks ^= (uint64_t)((HM_EVAC_X + y) ^ HM_EVAC_EMPTY) << (8 * i);
    }
    hm_set_word(dx, tx);
    hm_set_word(dy, ty);
    hm_set_word(ob, marks);
    if (oldbucket == m->nevacuate) advance(m);
    return 0;
}
static int evacuate_8_8(hm_map_t *m, size_t ob) { return evacuate_impl(m, ob, m->kind, 8, 8); }
static int evacuate_u32_4(hm_map_t *m, size_t ob) { return evacuate_impl(m, ob, HM_K_U32, 4, m->vslot); }
static int evacuate_any(hm_map_t *m, size_t ob) { return evacuate_impl(m, ob, m->kind, m->kslot, m->vslot); }

static int evacuate(hm_map_t *m, size_t oldbucket)
{
    if (m->kslot == 8 && m->vslot == 8)
        return m->kind == HM_K_U64 ? evacuate_u64_8(m, oldbucket) : evacuate_8_8(m, oldbucket);
    if (m->kind == HM_K_U32) return evacuate_u32_4(m, oldbucket);
    return evacuate_any(m, oldbucket);
}

static void prefetch_bucket(const hm_map_t *m, const char *b)
{
    __builtin_prefetch(b);
    __builtin_prefetch(b + 64);
    if (m->bsize > 64) __builtin_prefetch(b + 128);
}

int hm_grow_work(hm_map_t *m)
{
    const size_t bs = m->bsize;
    for (int k = 0; k < HM_EVAC_PER_WRITE && m->oldbuckets != NULL; k++) {
        size_t nb = m->nevacuate;
        if (m->prefetch) {
            /* The bucket the next write evacuates, and its destinations: the streams are
             * sequential, but a write's own probe lands between them. */
            size_t ahead = nb + HM_EVAC_PER_WRITE, n = (size_t)1 << m->oldB;
            if (ahead < n) {
                prefetch_bucket(m, m->oldbuckets + ahead * bs);
                __builtin_prefetch(m->buckets + ahead * bs, 1);
                if (!(m->flags & HM_F_SAMESIZE))
                    __builtin_prefetch(m->buckets + (ahead + n) * bs, 1);
            }
            /* The overflow bucket of the next one (its head was asked for a write ago): the
             * chains are scattered, and reading them cold stalled evacuation. */
            if (nb + 1 < n) {
                char *o = hm_ovf(m, m->oldbuckets + (nb + 1) * bs);
                if (o) prefetch_bucket(m, o);
            }
        }
        int err = evacuate(m, nb);
        if (err) return err;
    }
    return 0;
}

int hm_shrink_now(hm_map_t *m)
{
    while (m->oldbuckets) {
        int err = evacuate(m, m->nevacuate);
        if (err) return err;
    }
    unsigned nb = hm_bmin(m->count);
    if (nb == m->B && m->noverflow == 0) return 0;
    const size_t bs = m->bsize;
    size_t bytes = bs << nb;
    char *arr = hm_alloc_array(m, bytes);
    if (!arr) return ENOMEM;
    size_t nov = 0, n = (size_t)1 << m->B, nmask = hm_mask(nb);
    for (size_t j = 0; j < n; j++) {
        for (char *b = m->buckets + j * bs; b; b = hm_ovf(m, b)) {
            uint8_t *t = hm_top(b);
            for (unsigned i = 0; i < HM_SLOTS; i++) {
                if (t[i] < HM_MIN_TOPHASH) continue;
                char *d = arr + (hm_hash_slot(m, b, i) & nmask) * bs;
                unsigned di;
                for (;;) {     /* first free slot: the new array fills front to back */
                    uint64_t e = hm_zero_bytes(hm_word(d));
                    if (e) {
                        di = hm_first(e);
                        break;
                    }
                    char *next = hm_ovf(m, d);
                    if (!next) {
                        if (!(next = hm_alloc_overflow(m))) {
                            hm_free_array(m, arr, nb, true);
                            return ENOMEM;
                        }
                        hm_set_ovf(m, d, next);
                        nov++;
                        d = next;
                        di = 0;
                        break;
                    }
                    d = next;
                }
                hm_top(d)[di] = t[i];
                hm_copy(hm_kslot(m, d, di), hm_kslot(m, b, i), m->kslot);
                hm_copy(hm_vslot(m, d, di), hm_vslot(m, b, i), m->vslot);
            }
        }
    }
    char *old = m->buckets;
    unsigned oB = m->B;
    size_t onov = m->noverflow;
    hm_iters_touch(m);
    if (hm_array_pinned(m, old)) {
        /* Iterators reading the old array look its entries up in the new one. */
        for (size_t j = 0; j < n; j++) {
            for (char *b = old + j * bs; b; b = hm_ovf(m, b)) {
                uint8_t *t = hm_top(b);
                for (unsigned i = 0; i < HM_SLOTS; i++)
                    t[i] = t[i] >= HM_MIN_TOPHASH ? HM_EVAC_X : HM_EVAC_EMPTY;
            }
        }
    }
    m->buckets = arr;
    hm_set_B(m, nb);
    m->noverflow = nov;
    hm_drop_array(m, old, oB, onov);
    hm_ev_grow(m, nb == oB, false);
    hm_ev_grow(m, nb == oB, true);
    return 0;
}
