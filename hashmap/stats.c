/* hashmap/stats.c - hm_stats: exact figures in O(1) from counters the map keeps as it goes.
 *
 * It reads only the map's own header, each field once, and follows no pointer: a profiler may
 * call it from a hook or from another thread while a writer runs (the figures may then be
 * torn, never a crash). Bucket memory counted: the current array, the old array while growing,
 * arrays kept only for live iterators (retired), and every overflow bucket chained off any of
 * them; hence bucket_bytes equals the live HM_MEM_BUCKETS + HM_MEM_OVERFLOW bytes the hooks
 * reported. retained_bytes counts the old and retired arrays whole, since a shrink (or the
 * end of the growth or of the iterators) gives them back; it never goes below 0 (a same-size
 * regrow may leave more entries than 6.5 * 2^B for a while). */
#include "internal.h"

#define LOAD(f) __atomic_load_n(&m->f, __ATOMIC_RELAXED)

void hm_stats(const hm_map_t *m, hm_stats_t *s)
{
    size_t count = LOAD(count), bs = LOAD(bsize);
    unsigned B = LOAD(B), oldB = LOAD(oldB);
    bool growing = LOAD(oldbuckets) != NULL;
    size_t nb = (size_t)1 << B, onb = growing ? (size_t)1 << oldB : 0;
    size_t rnb = LOAD(retired_nbuckets);
    size_t nov = LOAD(noverflow) + LOAD(nov_old) + LOAD(nov_retired);
    size_t all = nb + onb + rnb + nov;
    unsigned bmin = hm_bmin(count);

    s->entries = count;
    s->B = B;
    s->buckets = nb;
    s->bucket_size = bs;
    s->bucket_bytes = all * bs;
    s->overflow_buckets = nov;
    s->padding_bytes = all * LOAD(pad);
    s->retained_bytes = ((bmin < B ? nb - ((size_t)1 << bmin) : 0) + onb + rnb) * bs;
    s->indirect_bytes = LOAD(indirect_bytes);
    s->peak_entries = LOAD(peak);
    s->inserts = LOAD(inserts);
    s->removes = LOAD(removes);
    s->load_factor = (double)count / (double)nb;
    s->growing = growing;
}
