/* profiler/leaks.c - mark from roots, then from map memory, then cliques of the unreachable. */
#include "profiler/leaks.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "profiler/arena.h"

/* The block of b[base..] holding p, knowing the first block that starts after p lies in
 * [lo, hi] (lo >= base); -1 when none holds it. */
static long find_between(const mp_leak_block_t *b, size_t base, size_t lo, size_t hi, uintptr_t p)
{
    while (lo < hi) {           /* first block with addr > p */
        size_t mid = lo + (hi - lo) / 2;
        if (b[mid].addr <= p) lo = mid + 1;
        else hi = mid;
    }
    if (lo == base) return -1;
    const mp_leak_block_t *c = &b[lo - 1];
    return p < c->addr + (c->size ? c->size : 1) ? (long)(lo - 1) : -1;
}

long mp_leak_find(const mp_leak_block_t *b, size_t n, uintptr_t p)
{
    return find_between(b, 0, 0, n, p);
}

/* A bucket index over the sorted blocks, to find the block a word points into in a step or
 * two instead of a binary search over every block (a cache miss per step). The heap is not one
 * range: brk blocks, mmap'd ones, arenas of other threads sit terabytes apart, and one dense
 * array over all of that had to use buckets of megabytes. So blocks are cut into runs where no
 * gap reaches RUN_GAP; each run has its own buckets (one shift for all, sized to about two
 * buckets per block, 16 bytes to 4 KiB); first[] holds, per bucket, the index of the first
 * block starting at or after it (each run's buckets, plus one end entry, back to back). */
#define RUN_GAP ((uintptr_t)1 << 20)

typedef struct lrun {
    uintptr_t lo, hi;       /* [first block, end of the last) */
    size_t b0, b1;          /* its blocks [b0, b1) */
    size_t f0;              /* its buckets start at first[f0] */
} lrun_t;

typedef struct lindex {
    lrun_t *runs;
    size_t nruns, nfirst;
    unsigned shift;
    uint32_t *first;        /* in the profiler's own mappings */
} lindex_t;

static void index_free(lindex_t *ix)
{
    if (ix->runs) mp_pages_free(ix->runs, ix->nruns * sizeof *ix->runs);
    if (ix->first) mp_pages_free(ix->first, ix->nfirst * sizeof *ix->first);
    memset(ix, 0, sizeof *ix);
}

/* One past a block's end (a 0-byte block still covers its address). */
static inline uintptr_t block_end(const mp_leak_block_t *b) { return b->addr + b->size + 1; }
/* A block starting at a, past the end of everything before it, opens a new run. */
static inline bool starts_run(uintptr_t a, uintptr_t end) { return a > end && a - end >= RUN_GAP; }

static size_t buckets(const lrun_t *r, unsigned shift) { return ((r->hi - r->lo) >> shift) + 2; }

static void index_build(lindex_t *ix, const mp_leak_block_t *b, size_t n)
{
    memset(ix, 0, sizeof *ix);
    if (!n || n > UINT32_MAX) return;
    size_t nruns = 1;
    uintptr_t end = block_end(&b[0]);
    for (size_t i = 1; i < n; i++) {
        if (starts_run(b[i].addr, end)) nruns++;
        if (block_end(&b[i]) > end) end = block_end(&b[i]);
    }
    ix->runs = mp_pages_alloc(nruns * sizeof *ix->runs);
    if (!ix->runs) return;
    ix->nruns = nruns;
    size_t r = 0;
    ix->runs[0] = (lrun_t){ b[0].addr, block_end(&b[0]), 0, 1, 0 };
    for (size_t i = 1; i < n; i++) {
        lrun_t *cur = &ix->runs[r];
        if (starts_run(b[i].addr, cur->hi)) {
            cur = &ix->runs[++r];
            *cur = (lrun_t){ b[i].addr, b[i].addr, i, i, 0 };
        }
        cur->b1 = i + 1;
        if (block_end(&b[i]) > cur->hi) cur->hi = block_end(&b[i]);
    }
    size_t total = 0;
    for (ix->shift = 4;; ix->shift++) {
        total = 0;
        for (r = 0; r < nruns; r++) total += buckets(&ix->runs[r], ix->shift);
        if ((ix->shift >= 12 && total <= 4 * n + 4096) || ix->shift >= 40 ||
            (ix->shift < 12 && total <= 2 * n + 2 * nruns)) break;
    }
    ix->first = mp_pages_alloc(total * sizeof *ix->first);
    if (!ix->first) { index_free(ix); return; }
    ix->nfirst = total;
    size_t f = 0;
    for (r = 0; r < nruns; r++) {
        lrun_t *run = &ix->runs[r];
        run->f0 = f;
        size_t i = run->b0, nb = buckets(run, ix->shift);
        for (size_t p = 0; p < nb; p++, f++) {
            uintptr_t start = run->lo + ((uintptr_t)p << ix->shift);
            while (i < run->b1 && b[i].addr < start) i++;
            ix->first[f] = (uint32_t)i;
        }
    }
}

static long find_indexed(const lindex_t *ix, const mp_leak_block_t *b, size_t n, uintptr_t p)
{
    if (!ix->first) return mp_leak_find(b, n, p);
    size_t lo = 0, hi = ix->nruns;
    while (lo < hi) {           /* first run with lo > p */
        size_t mid = lo + (hi - lo) / 2;
        if (ix->runs[mid].lo <= p) lo = mid + 1;
        else hi = mid;
    }
    if (lo == 0) return -1;
    const lrun_t *run = &ix->runs[lo - 1];
    if (p >= run->hi) return -1;
    size_t bucket = run->f0 + ((p - run->lo) >> ix->shift);
    /* the first block after p lies in [first block of p's bucket, of the next] */
    return find_between(b, run->b0, ix->first[bucket], ix->first[bucket + 1], p);
}

typedef struct work {
    size_t *v;
    size_t n, cap;
} work_t;

/* The work stack lives in the profiler's own mappings, not malloc: the check may run while
 * other threads are parked, one of them perhaps inside malloc holding its lock. */
static int push(work_t *w, size_t i)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 4096;
        size_t *v = mp_pages_alloc(cap * sizeof *v);
        if (!v) return ENOMEM;
        if (w->v) {
            memcpy(v, w->v, w->n * sizeof *v);
            mp_pages_free(w->v, w->cap * sizeof *v);
        }
        w->v = v;
        w->cap = cap;
    }
    w->v[w->n++] = i;
    return 0;
}

/* Scan [lo, hi) for pointers into blocks whose class is `from`; give them class `to` (and the
 * via/leader tags), and queue them. */
typedef struct pass {
    mp_leak_block_t *b;
    size_t n;
    work_t *w;
    unsigned from;          /* bit mask of the classes a pointer may claim (1 << cls) */
    uint8_t to;
    uint32_t via_map, leader;
    long self;          /* block being scanned (a block pointing to itself does not count) */
    long keep;          /* a block never re-tagged (the current clique's leader), or -1 */
    uint32_t only_map;  /* when set, only blocks of this map may be claimed */
    int err;
    const lindex_t *ix; /* page index over b */
    bool roots;         /* scanning a root range (not a block) */
} pass_t;

/* Where glibc's malloc puts the header of the chunk after a block of b->size bytes: the block's
 * chunk is max(32, size + 8 rounded up to 16) bytes from 16 before the block, and the next
 * header's first word overlaps the block's last 8 bytes, so for some sizes (24, 40, 100...) it
 * lies inside the block. malloc's own state in the C library's data, a root, points at such
 * headers: the top chunk's, and free chunks' in its bins. (A chunk carved bigger than this, or
 * a block of another allocator, has no header inside the block: the rule then passes over one
 * interior pointer to the block's last word, which no pointer the program keeps needs to be.) */
static inline uintptr_t next_chunk(const mp_leak_block_t *b)
{
    uint64_t chunk = (b->size + 8 + 15) & ~(uint64_t)15;
    return b->addr + (chunk < 32 ? 32 : chunk) - 16;
}

static void scan(pass_t *p, uintptr_t lo, uintptr_t hi)
{
    lo = (lo + sizeof(uintptr_t) - 1) & ~(uintptr_t)(sizeof(uintptr_t) - 1);
    for (uintptr_t a = lo; a + sizeof(uintptr_t) <= hi; a += sizeof(uintptr_t)) {
        uintptr_t v;
        memcpy(&v, (const void *)a, sizeof v);
        long i = find_indexed(p->ix, p->b, p->n, v);
        if (i < 0 || i == p->self || i == p->keep || !(p->from & (1u << p->b[i].cls))) continue;
        if (p->roots && v == next_chunk(&p->b[i])) continue;    /* malloc's, not the program's */
        if (p->only_map && p->b[i].map != p->only_map) continue;
        p->b[i].cls = p->to;
        p->b[i].via_map = p->via_map;
        p->b[i].leader = p->leader;
        if (push(p->w, (size_t)i)) p->err = ENOMEM;
    }
}

/* Drain the work list: scan each queued block with the same pass. In the first pass a block a
 * map owns passes reachability only to the same map's other blocks (its object, arrays and
 * nodes); what its entries point to is left to the map pass. */
static void drain(pass_t *p, int map_memory_stays_inside)
{
    while (p->w->n && !p->err) {
        size_t i = p->w->v[--p->w->n];
        long saved = p->self;
        uint32_t saved_map = p->only_map;
        p->self = (long)i;
        if (map_memory_stays_inside) p->only_map = p->b[i].map;
        scan(p, p->b[i].addr, p->b[i].addr + p->b[i].size);
        p->self = saved;
        p->only_map = saved_map;
    }
}

/* Heapsort by address: qsort may allocate, and other threads may be parked inside malloc. */
static void sift(mp_leak_block_t *b, size_t root, size_t n)
{
    for (;;) {
        size_t c = 2 * root + 1;
        if (c >= n) return;
        if (c + 1 < n && b[c + 1].addr > b[c].addr) c++;
        if (b[root].addr >= b[c].addr) return;
        mp_leak_block_t t = b[root];
        b[root] = b[c];
        b[c] = t;
        root = c;
    }
}

static void heapsort_by_addr(mp_leak_block_t *b, size_t n)
{
    for (size_t i = n / 2; i-- > 0;) sift(b, i, n);
    for (size_t end = n; end-- > 1;) {
        mp_leak_block_t t = b[0];
        b[0] = b[end];
        b[end] = t;
        sift(b, 0, end);
    }
}

/* Radix sort by address (16-bit digits, least significant first) through a scratch array from
 * mmap: linear, where the heapsort took a fifth of a leak check's time on a big heap. Falls back
 * to the heapsort when the scratch memory cannot be had. */
void mp_leak_sort(mp_leak_block_t *b, size_t n)
{
    if (n < 4096) { heapsort_by_addr(b, n); return; }
    size_t bytes = n * sizeof *b, cbytes = 65536 * sizeof(size_t);
    mp_leak_block_t *tmp = mp_pages_alloc(bytes);
    size_t *count = mp_pages_alloc(cbytes);
    if (!tmp || !count) {
        mp_pages_free(tmp, bytes);
        mp_pages_free(count, cbytes);
        heapsort_by_addr(b, n);
        return;
    }
    uintptr_t all = 0;
    for (size_t i = 0; i < n; i++) all |= b[i].addr;
    mp_leak_block_t *src = b, *dst = tmp;
    for (unsigned shift = 0; shift < 64 && (all >> shift); shift += 16) {
        memset(count, 0, cbytes);
        for (size_t i = 0; i < n; i++) count[(src[i].addr >> shift) & 0xffff]++;
        size_t sum = 0;
        for (size_t d = 0; d < 65536; d++) { size_t c = count[d]; count[d] = sum; sum += c; }
        for (size_t i = 0; i < n; i++) dst[count[(src[i].addr >> shift) & 0xffff]++] = src[i];
        mp_leak_block_t *t = src; src = dst; dst = t;
    }
    if (src != b) memcpy(b, src, bytes);
    mp_pages_free(tmp, bytes);
    mp_pages_free(count, cbytes);
}

int mp_leak_classify(mp_leak_block_t *b, size_t n, const mp_range_t *roots, size_t nroots)
{
    if (!n) return 0;
    work_t w = { 0 };
    for (size_t i = 0; i < n; i++) { b[i].cls = MP_LEAK_UNKNOWN; b[i].via_map = 0; b[i].leader = 0; }

    /* 1. reachable from the roots without passing through map memory */
    lindex_t ix;
    index_build(&ix, b, n);
    pass_t p = { b, n, &w, 1u << MP_LEAK_UNKNOWN, MP_LEAK_REACHABLE, 0, 0, -1, -1, 0, 0, &ix, false };
    for (size_t r = 0; r < nroots && !p.err; r++) {
        p.roots = true;
        scan(&p, roots[r].lo, roots[r].hi);
        p.roots = false;
        drain(&p, 1);
    }
    /* 2. what reachable map memory keeps alive: map_retained, tagged with that map */
    p.to = MP_LEAK_MAP_RETAINED;
    for (size_t i = 0; i < n && !p.err; i++) {
        if (!b[i].map || (b[i].cls != MP_LEAK_REACHABLE && b[i].cls != MP_LEAK_MAP_RETAINED)) continue;
        p.via_map = b[i].map;
        p.self = (long)i;
        scan(&p, b[i].addr, b[i].addr + b[i].size);
        p.self = -1;
        drain(&p, 0);
    }
    /* 3. the unreachable: each block not yet claimed becomes a leader (definite) and floods
     * what it reaches as indirect, former leaders included (their clique joins this one). */
    p.from = (1u << MP_LEAK_UNKNOWN) | (1u << MP_LEAK_DEFINITE);
    p.to = MP_LEAK_INDIRECT;
    p.via_map = 0;
    for (size_t i = 0; i < n && !p.err; i++) {
        if (b[i].cls != MP_LEAK_UNKNOWN) continue;
        b[i].cls = MP_LEAK_DEFINITE;
        p.leader = (uint32_t)i + 1;
        p.keep = (long)i;
        p.self = (long)i;
        scan(&p, b[i].addr, b[i].addr + b[i].size);
        p.self = -1;
        drain(&p, 0);
    }
    /* Blocks of a clique that joined a later one keep their first leader's tag; the later
     * leader's index is what reports group by when they follow `leader` transitively. */
    if (w.v) mp_pages_free(w.v, w.cap * sizeof *w.v);
    index_free(&ix);
    return p.err;
}

int mp_leak_flood(const mp_leak_block_t *b, size_t n, size_t start, unsigned class_mask,
                  uint32_t *tag, uint32_t value)
{
    work_t w = { 0 };
    int err = 0;
    if (tag[start]) return 0;
    tag[start] = value;
    if (push(&w, start)) return ENOMEM;
    while (w.n && !err) {
        size_t i = w.v[--w.n];
        uintptr_t lo = (b[i].addr + sizeof(uintptr_t) - 1) & ~(uintptr_t)(sizeof(uintptr_t) - 1);
        for (uintptr_t a = lo; a + sizeof(uintptr_t) <= b[i].addr + b[i].size; a += sizeof(uintptr_t)) {
            uintptr_t v;
            memcpy(&v, (const void *)a, sizeof v);
            long j = mp_leak_find(b, n, v);
            if (j < 0 || tag[j] || !(class_mask & (1u << b[j].cls))) continue;
            tag[j] = value;
            if (push(&w, (size_t)j)) err = ENOMEM;
        }
    }
    if (w.v) mp_pages_free(w.v, w.cap * sizeof *w.v);
    return err;
}
