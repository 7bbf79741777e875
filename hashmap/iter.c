/* hashmap/iter.c - iteration, as Go's mapiternext, and the arrays iterators pin.
 *
 * An iterator walks the bucket array that was current when it began (it->buckets, 2^it->B
 * buckets), from a random bucket and a random slot offset, wrapping once. Slots of that array
 * never move: an entry stays in its slot until deleted (the slot empties) or moved by growth
 * or shrink (the slot is marked HM_EVAC_X/Y and keeps its key). So every entry present for the
 * whole iteration sits in exactly one slot the iterator visits; for a marked slot it returns
 * the entry where it lives now (a lookup by the kept key), or skips it when it is gone. When
 * the iterator's array is the new array of a growth in progress, a bucket whose old bucket
 * is not evacuated yet is read from the old bucket instead, keeping only the entries that
 * will land in this bucket (it->check), as Go does; writes reach such an old bucket too, so
 * the filter is applied slot by slot as the slots are read.
 *
 * The inline step trusts the slots it found live on entering a bucket, without reading their
 * tophash again: inserts only fill empty slots, and whatever empties or moves a slot (delete,
 * evacuation, growth start, clear, shrink) first calls hm_iter_invalidate, which hands every
 * live iterator's remaining slots to the checked path.
 *
 * C has no collector, so the map keeps what iterators read: the map's live iterators form a
 * list, an array an iterator reads (it->buckets, and it->obuckets for the old bucket being
 * read) is "pinned", and an array the map drops while pinned is freed by the last iterator to
 * let go of it. Indirect key blocks are freed by deletes; hm_iter_forget marks the evacuated
 * slots still pointing at one, so no iterator reads a freed key. */
#include "internal.h"

bool hm_array_pinned(const hm_map_t *m, const char *arr)
{
    for (const hm_iter_t *it = m->iters; it; it = it->next)
        if (it->buckets == arr || it->obuckets == arr) return true;
    return false;
}

/* An iterator stopped reading arr (2^B buckets): free it if the map dropped it and no other
 * iterator reads it. */
static void let_go(hm_map_t *m, char *arr, unsigned B)
{
    if (!arr || arr == m->buckets || arr == m->oldbuckets || hm_array_pinned(m, arr)) return;
    m->nov_retired -= hm_free_array(m, arr, B, true);
    m->retired_nbuckets -= (size_t)1 << B;
}

static void forget_in(hm_map_t *m, char *arr, unsigned B, uint64_t h, const void *p)
{
    if (!arr) return;
    for (char *b = arr + (h & hm_mask(B)) * m->bsize; b; b = hm_ovf(m, b)) {
        uint8_t *t = hm_top(b);
        for (unsigned i = 0; i < HM_SLOTS; i++) {
            if (t[i] != HM_EVAC_X && t[i] != HM_EVAC_Y) continue;
            void *q;
            memcpy(&q, hm_kslot(m, b, i), sizeof q);
            if (q == p) t[i] = HM_EVAC_EMPTY;
        }
    }
}

void hm_iter_forget(hm_map_t *m, uint64_t h, const void *p)
{
    for (hm_iter_t *it = m->iters; it; it = it->next) {
        if (it->buckets != m->buckets) forget_in(m, it->buckets, it->B, h, p);
        forget_in(m, it->obuckets, it->oB, h, p);
    }
}

void hm_iter_invalidate(hm_map_t *m)
{
    for (hm_iter_t *it = m->iters; it; it = it->next) {
        it->scand |= it->cand;
        it->cand = 0;
        it->adv = 0;
    }
}

void hm_iter_begin(hm_map_t *m, hm_iter_t *it)
{
    memset(it, 0, sizeof *it);
    it->m = m;
    it->check = HM_NOCHECK;
    hm_read_check(m);
    if (m->count == 0) {
        it->done = 1;
        return;
    }
    m->iter_rand = m->iter_rand * 6364136223846793005ULL + 1442695040888963407ULL;
    uint64_t r = hm_mum(m->iter_rand, HM_C2);
    it->buckets = m->buckets;
    it->B = m->B;
    it->mask = m->mask;
    it->start = it->bucket = r & m->mask;
    it->offset = (uint8_t)(r >> 61);
    it->bsize = m->bsize;
    it->koff = m->koff;
    it->voff = m->voff;
    it->ooff = m->ooff;
    it->kslot = m->kslot;
    it->vslot = m->vslot;
    it->fast = !(m->flags & (HM_F_IKEY | HM_F_IVAL));
    it->next = m->iters;
    if (m->iters) m->iters->prev = it;
    m->iters = it;
}

static void finish(hm_iter_t *it)
{
    hm_map_t *m = it->m;
    if (it->prev) it->prev->next = it->next;
    else m->iters = it->next;
    if (it->next) it->next->prev = it->prev;
    char *a = it->buckets, *o = it->obuckets;
    it->buckets = it->obuckets = it->bptr = NULL;
    it->next = it->prev = NULL;
    it->cand = it->scand = 0;
    it->adv = 0;
    it->done = 1;
    let_go(m, o, it->oB);
    let_go(m, a, it->B);
}

/* Slot of the lowest candidate (see hm_iter_t.cand). */
HM_INLINE unsigned cand_slot(const hm_iter_t *it, uint64_t c)
{
    return (hm_first(c) + it->offset) & (HM_SLOTS - 1);
}

/* Enters the next bucket: the next one of the chain, else the next of the array (or its old
 * bucket, while that is not evacuated); false at the end. Sets the slots to visit: trusted
 * (cand) when the inline step may go on by itself, else checked one by one (scand). */
static bool enter_next(hm_iter_t *it, hm_map_t *m)
{
    const size_t bs = m->bsize;
    char *b = it->bptr ? hm_ovf(m, it->bptr) : NULL;
    if (!b) {
        if (it->obuckets) {
            char *o = it->obuckets;
            it->obuckets = NULL;
            let_go(m, o, it->oB);
        }
        if (it->bucket == it->start && it->wrapped) return false;
        size_t j = it->bucket;
        it->check = HM_NOCHECK;
        b = (char *)it->buckets + j * bs;
        if (HM_UNLIKELY(m->oldbuckets != NULL) && it->buckets == m->buckets) {
            size_t oj = j & hm_mask(m->oldB);
            if (oj >= m->nevacuate) {
                b = m->oldbuckets + oj * bs;
                it->obuckets = m->oldbuckets;
                it->oB = m->oldB;
                if (!(m->flags & HM_F_SAMESIZE)) it->check = j;
            }
        }
        if (++it->bucket > it->mask) {
            it->bucket = 0;
            it->wrapped = 1;
        }
    }
    it->bptr = b;
    it->kbase = b + m->koff;
    it->vbase = b + m->voff;
    uint64_t w = hm_used_bytes(hm_word(b));
    unsigned r = 8u * it->offset;
    w = (w >> r) | (w << ((64u - r) & 63u));
    it->adv = it->fast && !it->obuckets && it->buckets == m->buckets && !m->oldbuckets;
    if (it->adv) it->cand = w;
    else it->scand = w;
    return true;
}

bool hm_iter_next_slow(hm_iter_t *it, void **key, void **val)
{
    if (it->done) return false;
    hm_map_t *m = it->m;
    if (HM_UNLIKELY(*(volatile uint8_t *)&m->writing))
        hm_fatal("concurrent map iteration and map write");
    for (;;) {
        uint64_t c = it->cand;
        if (c) {
            unsigned s = cand_slot(it, c);
            it->cand = c & (c - 1);
            *key = hm_kslot(m, it->bptr, s);
            *val = hm_vslot(m, it->bptr, s);
            return true;
        }
        while ((c = it->scand) != 0) {
            unsigned s = cand_slot(it, c);
            it->scand = c & (c - 1);
            char *b = it->bptr;
            uint8_t t = hm_top(b)[s];
            if (t < HM_EVAC_X || t == HM_EVAC_EMPTY) continue;   /* deleted since */
            /* Reading an old bucket for one new bucket: only what lands there (entries
             * written to the old bucket meanwhile included). */
            if (HM_UNLIKELY(it->check != HM_NOCHECK) &&
                (hm_hash_slot(m, b, s) & it->mask) != it->check)
                continue;
            char *k = hm_keyp(m, b, s);
            if (HM_LIKELY(t >= HM_MIN_TOPHASH)) {
                *key = k;
                *val = hm_valp(m, b, s);
                return true;
            }
            if (hm_lookup(m, k, key, val)) return true;    /* moved: where it lives now */
        }
        if (!enter_next(it, m)) {
            finish(it);
            return false;
        }
    }
}

void hm_iter_end(hm_iter_t *it)
{
    if (!it->done && it->m) finish(it);
}
