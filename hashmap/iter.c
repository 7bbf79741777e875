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
 * The inline step trusts the entries buffered from the buckets read (their live slots then),
 * without reading their tophash again: inserts only fill empty slots, and whatever empties or
 * moves a slot (delete, evacuation, growth start, clear, shrink) first calls
 * hm_iter_invalidate, which hands every live iterator's remaining entries to the checked
 * path. Buckets are read whole into the buffer, so the iterator's position is always "after
 * the last bucket read", as without it.
 *
 * Batches (hm_iter_next_n) drain that buffer first; then, in the same trusted state (current
 * array, not growing, direct keys and values, nothing left to check), they read whole buckets
 * straight into the caller's array (bulk), which advances the same position as fill; in any
 * other state they take entries one by one through hm_iter_next_slow. Measured with
 * tests/bench/hashmap_bench.sh (u64 -> u64, Mops/s): hm_iter_next 209-270 at 1K, 213-225 at
 * 1M, 167-169 at 10M; batches of 128 652-653, 421-425, 281-284.
 *
 * C has no collector, so the map keeps what iterators read: the map's live iterators form a
 * list, an array an iterator reads (it->buckets, and it->obuckets for the old bucket being
 * read) is "pinned", and an array the map drops while pinned is freed by the last iterator to
 * let go of it. Indirect key blocks are freed by deletes; hm_iter_forget marks the evacuated
 * slots still pointing at one, so no iterator reads a freed key. */
#include <stddef.h>

#include "internal.h"

/* The batch step computes a slot's key and value addresses in one SSE2 add where SSE2 is
 * there (x86-64 always); -DHM_ITER_SSE2=0 builds the portable code (tested that way too). */
#ifndef HM_ITER_SSE2
#if defined(__SSE2__) && UINTPTR_MAX == UINT64_MAX
#define HM_ITER_SSE2 1
#else
#define HM_ITER_SSE2 0
#endif
#endif
#if HM_ITER_SSE2
#include <emmintrin.h>
#endif

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
        if (it->bi < it->bn) {      /* (a checked range is pending only when this is empty) */
            it->cbi = it->bi;
            it->cbn = it->bn;
            it->bn = it->bi;
        }
    }
}

void hm_iter_begin(hm_map_t *m, hm_iter_t *it)
{
    memset(it, 0, offsetof(hm_iter_t, buf));
    memset((char *)it + offsetof(hm_iter_t, cbi), 0, sizeof *it - offsetof(hm_iter_t, cbi));
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
    it->bi = it->bn = it->cbi = it->cbn = 0;
    it->scand = 0;
    it->done = 1;
    let_go(m, o, it->oB);
    let_go(m, a, it->B);
}

/* Slot of the lowest candidate (see hm_iter_t.scand). */
HM_INLINE unsigned cand_slot(const hm_iter_t *it, uint64_t c)
{
    return (hm_first(c) + it->offset) & (HM_SLOTS - 1);
}

/* The next bucket: the next one of the chain, else the next of the array (or its old bucket,
 * while that is not evacuated); NULL at the end. */
static char *next_bucket(hm_iter_t *it, hm_map_t *m)
{
    const size_t bs = m->bsize;
    char *b = it->bptr ? hm_ovf(m, it->bptr) : NULL;
    if (b) return b;
    if (it->obuckets) {
        char *o = it->obuckets;
        it->obuckets = NULL;
        let_go(m, o, it->oB);
    }
    if (it->bucket == it->start && it->wrapped) return NULL;
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
    return b;
}

/* Reads the next buckets: into buf (trusted) while the map's current array is read, not
 * growing, with direct keys and values; else one bucket into scand (checked). False at the
 * end. Called with buf and scand used up. */
static bool fill(hm_iter_t *it, hm_map_t *m)
{
    it->bi = it->bn = it->cbi = it->cbn = 0;
    const bool trust = it->fast && it->buckets == m->buckets && !m->oldbuckets;
    const unsigned off = it->offset;
    for (bool any = false;;) {
        char *b = next_bucket(it, m);
        if (!b) return any;
        any = true;
        it->bptr = b;
        uint64_t w = hm_used_bytes(hm_word(b));
        if (!trust || it->obuckets) {
            unsigned r = 8u * off;
            it->scand = (w >> r) | (w << ((64u - r) & 63u));
            return true;
        }
        uint32_t n = it->bn;
        for (unsigned r = 0; r < HM_SLOTS; r++) {   /* no branch on which slots are live */
            unsigned s = (r + off) & (HM_SLOTS - 1);
            it->buf[n] = (uint64_t)(uintptr_t)b | s;
            n += (uint32_t)(w >> (8 * s + 7)) & 1;
        }
        it->bn = n;
        if (n > HM_ITER_BUF - HM_SLOTS) return true;
    }
}

/* An entry found in slot s of bucket b, checked: where it lives now, or false when gone. */
static bool checked(hm_iter_t *it, hm_map_t *m, char *b, unsigned s, void **key, void **val)
{
    uint8_t t = hm_top(b)[s];
    if (t < HM_EVAC_X || t == HM_EVAC_EMPTY) return false;     /* deleted since */
    /* Reading an old bucket for one new bucket: only what lands there (entries written to
     * the old bucket meanwhile included). */
    if (HM_UNLIKELY(it->check != HM_NOCHECK) && (hm_hash_slot(m, b, s) & it->mask) != it->check)
        return false;
    char *k = hm_keyp(m, b, s);
    if (HM_LIKELY(t >= HM_MIN_TOPHASH)) {
        *key = k;
        *val = hm_valp(m, b, s);
        return true;
    }
    return hm_lookup(m, k, key, val);      /* moved: where it lives now */
}

bool hm_iter_next_slow(hm_iter_t *it, void **key, void **val)
{
    if (it->done) return false;
    hm_map_t *m = it->m;
    if (HM_UNLIKELY(*(volatile uint8_t *)&m->writing))
        hm_fatal("concurrent map iteration and map write");
    for (;;) {
        if (it->bi < it->bn) {
            uint64_t e = it->buf[it->bi++];
            char *b = (char *)(uintptr_t)(e & ~(uint64_t)7);
            *key = hm_kslot(m, b, (unsigned)(e & 7));
            *val = hm_vslot(m, b, (unsigned)(e & 7));
            return true;
        }
        while (it->cbi < it->cbn) {     /* buffered entries of buckets read before a write */
            uint64_t e = it->buf[it->cbi++];
            if (checked(it, m, (char *)(uintptr_t)(e & ~(uint64_t)7), (unsigned)(e & 7), key, val))
                return true;
        }
        uint64_t c;
        while ((c = it->scand) != 0) {
            unsigned s = cand_slot(it, c);
            it->scand = c & (c - 1);
            if (checked(it, m, it->bptr, s, key, val)) return true;
        }
        if (!fill(it, m)) {
            finish(it);
            return false;
        }
    }
}

/* Reads whole buckets straight into out[got..) while there is room for a full bucket: the
 * trusted case of fill (current array, not growing, direct keys and values), the same
 * buckets in the same order, but each bucket's entries in slot order (no random slot offset:
 * see below). A bucket whose live slots are a prefix (the common case: inserts fill the first
 * empty slot, only deletes leave holes) is copied as a whole, all 8 slots to out[got..got+8)
 * at fixed places, and got advances by the live count. Any other bucket stores every slot,
 * live or not, at the position of the next live one (later slots overwrite the dead ones):
 * the positions are the exclusive prefix sums of the live bytes, all eight from one multiply.
 * Neither depends on a branch per slot. (A slot offset would split a prefix into two runs.) */
static size_t bulk(hm_iter_t *it, hm_map_t *m, hm_entry_t *out, size_t got, size_t n)
{
#if HM_ITER_SSE2
    __m128i kvo[HM_SLOTS];      /* (key, value) offsets of each slot, in registers */
    for (unsigned s = 0; s < HM_SLOTS; s++)
        kvo[s] = _mm_set_epi64x((long long)(m->voff + (size_t)s * m->vslot),
                                (long long)(m->koff + (size_t)s * m->kslot));
#else
    const size_t koff = m->koff, voff = m->voff, kslot = m->kslot, vslot = m->vslot;
#endif
    /* next_bucket for this case (no old array to read), kept in registers */
    char *const arr = it->buckets;
    const size_t bs = m->bsize, mask = it->mask, start = it->start;
    const uint16_t ooff = m->ooff;
    size_t j = it->bucket;
    bool wrapped = it->wrapped;
    char *b = it->bptr;
    while (n - got >= HM_SLOTS) {
        char *o = b ? *(char **)(b + ooff) : NULL;
        if (HM_LIKELY(!o)) {
            if (j == start && wrapped) {
                it->bucket = j;
                it->bptr = b;
                finish(it);
                return got;
            }
            o = arr + j * bs;
            if (++j > mask) {
                j = 0;
                wrapped = true;
            }
        }
        b = o;
        const uint64_t live = hm_used_bytes(hm_word(b)) >> 7;  /* byte s: 1 when s is live */
        const uint64_t incl = live * HM_LO;     /* byte s: live slots among the first s + 1 */
        hm_entry_t *d = out + got;
#if HM_ITER_SSE2
        const __m128i bb = _mm_set1_epi64x((long long)(uintptr_t)b);
#define HM_PUT(p, s) _mm_storeu_si128((__m128i *)(void *)&d[p], _mm_add_epi64(bb, kvo[s]))
#else
#define HM_PUT(p, s) (d[p].key = b + koff + (s) * kslot, d[p].val = b + voff + (s) * vslot)
#endif
        if (HM_LIKELY(((live >> 8) & ~live) == 0)) {   /* no live slot after an empty one */
#pragma GCC unroll 8
            for (unsigned s = 0; s < HM_SLOTS; s++) HM_PUT(s, s);
        } else {
            const uint64_t excl = incl - live;
#pragma GCC unroll 8
            for (unsigned s = 0; s < HM_SLOTS; s++) HM_PUT((size_t)(excl >> (8 * s)) & 0xff, s);
        }
#undef HM_PUT
        got += (size_t)(incl >> 56);
    }
    it->bucket = j;
    it->wrapped = wrapped;
    it->bptr = b;
    return got;
}

size_t hm_iter_next_n(hm_iter_t *it, hm_entry_t *out, size_t n)
{
    if (it->done || n == 0) return 0;
    hm_map_t *m = it->m;
    if (HM_UNLIKELY(*(volatile uint8_t *)&m->writing))
        hm_fatal("concurrent map iteration and map write");
    size_t got = 0;
    /* Entries already buffered by hm_iter_next, trusted. */
    while (got < n && it->bi < it->bn) {
        uint64_t e = it->buf[it->bi++];
        char *b = (char *)(uintptr_t)(e & ~(uint64_t)7);
        out[got].key = hm_kslot(m, b, (unsigned)(e & 7));
        out[got].val = hm_vslot(m, b, (unsigned)(e & 7));
        got++;
    }
    if (n - got >= HM_SLOTS && it->cbi == it->cbn && it->scand == 0 && it->fast &&
        it->buckets == m->buckets && !m->oldbuckets && !it->obuckets) {
        got = bulk(it, m, out, got, n);
        if (got > 0 || it->done) return got;
    }
    /* Everything else (checked entries, growth, indirect slots, little room): one at a time. */
    while (got < n && hm_iter_next_slow(it, &out[got].key, &out[got].val)) got++;
    return got;
}

void hm_iter_end(hm_iter_t *it)
{
    if (!it->done && it->m) finish(it);
}
