/* hashmap.h - a Go-runtime-style hash map for C (the map Go used before Swiss tables).
 *
 * Buckets of 8 slots: 8 tophash bytes, then the 8 keys, then the 8 values (stored apart, so
 * padding is not paid per pair), then an overflow pointer; 2^B buckets; growth at an average
 * load of 6.5 per bucket doubles the array, too many overflow buckets regrow it at the same
 * size, and growth is incremental: every insert or delete evacuates at most two old buckets
 * (except that the insert starting a growth from an old array of at most 32 KiB evacuates it
 * whole: a bounded cost, and small maps skip the growing paths).
 * Keys and values of any size and alignment (over 128 bytes they are stored indirectly), a
 * random seed per map, iteration that stays valid across growth and deletes (random start, as
 * Go; hm_iter_next_n hands out whole buckets at once), an explicit shrink, exact statistics,
 * a caller-provided allocator, and an event hook for profilers that costs one predictable
 * branch when nobody listens.
 *
 * Not safe for concurrent writers (a write that finds another in progress aborts). */
#ifndef HASHMAP_H
#define HASHMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hm_map hm_map_t;

/* Memory for buckets (and indirect keys and values). free receives the size given to alloc. */
typedef struct hm_allocator {
    void *(*alloc)(size_t size, void *ctx);
    void (*free)(void *p, size_t size, void *ctx);
    void *ctx;
} hm_allocator_t;

typedef uint64_t (*hm_hash_fn)(const void *key, uint64_t seed);
typedef bool (*hm_eq_fn)(const void *a, const void *b);

/* What a map stores. flags: HM_KEY_POINTER / HM_VAL_POINTER say that the key or value is (or
 * begins with) a pointer to memory the entry refers to; a profiler checks such entries for
 * dangling references. Keys hashed by hm_hash_ptr or hm_hash_cstr count as pointers anyway. */
#define HM_KEY_POINTER 1u
#define HM_VAL_POINTER 2u
typedef struct hm_type {
    size_t key_size, key_align;
    size_t val_size, val_align;
    hm_hash_fn hash;
    hm_eq_fn eq;
    unsigned flags;
} hm_type_t;

/* Ready-made key functions: integers (by value), pointers (by address), C strings (the key
 * is a char *, hashed and compared by content), and raw bytes of the key's size (hm_bytes_*
 * need the size: use HM_TYPE_BYTES). */
uint64_t hm_hash_u32(const void *k, uint64_t seed);
uint64_t hm_hash_u64(const void *k, uint64_t seed);
uint64_t hm_hash_ptr(const void *k, uint64_t seed);
uint64_t hm_hash_cstr(const void *k, uint64_t seed);
bool hm_eq_u32(const void *a, const void *b);
bool hm_eq_u64(const void *a, const void *b);
bool hm_eq_ptr(const void *a, const void *b);
bool hm_eq_cstr(const void *a, const void *b);
/* Hash of len bytes (for callers writing their own hash functions). */
uint64_t hm_hash_bytes(const void *p, size_t len, uint64_t seed);

/* A new map (NULL allocator: malloc/free). NULL when out of memory. */
hm_map_t *hm_new(const hm_type_t *type, const hm_allocator_t *alloc);
/* Like hm_new with a fixed seed (reproducible tests). */
hm_map_t *hm_new_seeded(const hm_type_t *type, const hm_allocator_t *alloc, uint64_t seed);
void hm_free(hm_map_t *m);

/* Insert or replace. *inserted (may be NULL) tells which. 0, or ENOMEM (the map unchanged). */
int hm_put(hm_map_t *m, const void *key, const void *val, bool *inserted);
/* The value stored for key, or NULL. Valid until the next write. */
void *hm_get(hm_map_t *m, const void *key);
/* Remove key; true when it was there. */
bool hm_del(hm_map_t *m, const void *key);
/* Remove every entry (the bucket array stays). */
void hm_clear(hm_map_t *m);
size_t hm_count(const hm_map_t *m);
/* Rebuild at the smallest B that holds the entries at load 6.5. 0 or ENOMEM. */
int hm_shrink(hm_map_t *m);
/* Opt-in: shrink by itself after deletes leave it under 1/8 of its load. */
void hm_set_auto_shrink(hm_map_t *m, bool on);

/* Iteration: every entry present for the whole iteration is seen exactly once, whatever
 * growth or deletes happen meanwhile; entries inserted meanwhile may or may not be seen. An
 * iterator that is dropped before hm_iter_next returned false must be ended with hm_iter_end
 * (it keeps old bucket arrays alive until then). The fields are private; the common step of
 * hm_iter_next is inline (see below), the rest is in hm_iter_next_slow. */
#define HM_ITER_BUF 32
typedef struct hm_iter {
    /* read by the inline step */
    uint32_t bi, bn;        /* buf[bi .. bn): entries still to return, trusted: live when
                             * their bucket was read and nothing removed or moved since (the
                             * map hands them to the checked path when it does) */
    uint16_t koff, voff, kslot, vslot;  /* bucket layout */
    uint64_t buf[HM_ITER_BUF];  /* bucket address | slot, in visiting order */
    /* slow path only */
    uint32_t cbi, cbn;      /* buf[cbi .. cbn): entries to check one by one */
    uint64_t scand;         /* slots of the current bucket to check one by one: high bit of
                             * byte r is slot (r + offset) % 8 */
    void *bptr;             /* current bucket (NULL before the first) */
    void *buckets;          /* bucket array at the start */
    uint64_t start, bucket; /* start bucket, next bucket */
    uint64_t mask;          /* 2^B - 1 */
    uint32_t bsize;
    uint8_t offset;         /* random slot offset, 0..7 */
    uint8_t wrapped, done;
    uint8_t fast;           /* keys and values direct */
    uint8_t B, oB;
    hm_map_t *m;
    void *obuckets;         /* old array read for the current bucket (NULL: none) */
    struct hm_iter *next, *prev;    /* the map's live iterators */
    uint64_t check;         /* old-bucket filter (UINT64_MAX: none) */
} hm_iter_t;
void hm_iter_begin(hm_map_t *m, hm_iter_t *it);
bool hm_iter_next_slow(hm_iter_t *it, void **key, void **val);
void hm_iter_end(hm_iter_t *it);

/* The next entry: *key and *val point to the stored key and value; false at the end. Inline,
 * so that iterating costs a few instructions per entry: the slow path reads whole buckets
 * (their live slots, up to HM_ITER_BUF entries, with no data-dependent branch) into buf while
 * the map is not growing and keys and values are direct, and the inline step hands them out
 * without reading tophash again: a delete, evacuation, growth start, clear or shrink moves the
 * rest to the checked path. Anything else (refills, growth, writes since, indirect keys or
 * values, the end) is hm_iter_next_slow. */
static inline bool hm_iter_next(hm_iter_t *it, void **key, void **val)
{
    uint32_t i = it->bi;
    if (__builtin_expect(i < it->bn, 1)) {
        uint64_t e = it->buf[i];
        char *b = (char *)(uintptr_t)(e & ~(uint64_t)7);
        size_t s = (size_t)(e & 7);
        it->bi = i + 1;
        *key = b + it->koff + s * it->kslot;
        *val = b + it->voff + s * it->vslot;
        return true;
    }
    return hm_iter_next_slow(it, key, val);
}

/* Up to n entries at once, the fastest way through a map: out[i].key and out[i].val point to
 * the stored key and value of the i-th, for i below the count returned; 0 at the end (and only
 * then: a count below n is not the end). The same guarantees as hm_iter_next (every entry
 * present for the whole iteration is returned exactly once), and the two may be mixed on one
 * iterator; the order differs (within a bucket, batches take the slots in order, hm_iter_next
 * from a random slot). While the map is not growing and keys and values are direct, a batch
 * copies whole buckets into out without a branch per slot, as long as out has room for a
 * whole bucket (8 entries: use n of 64 or more); otherwise it takes entries one by one as
 * hm_iter_next does.
 * Writes: the map may be written between two calls, as between two hm_iter_next calls, with
 * the same guarantees for the entries not returned yet. A batch is what was live when it was
 * returned, and its pointers are valid until the next write to the map, as hm_get's: a write
 * (insert, delete, clear, shrink) may move or remove entries of the batch, and an entry of
 * the batch removed since is not taken back. A caller that writes during an iteration copies
 * what it needs from a batch before its first write (or uses hm_iter_next). */
typedef struct hm_entry {
    void *key, *val;
} hm_entry_t;
size_t hm_iter_next_n(hm_iter_t *it, hm_entry_t *out, size_t n);

/* Exact statistics, in O(1) (the map keeps them as it goes). Bmin is the smallest B with
 * entries <= 6.5 * 2^B. */
typedef struct hm_stats {
    size_t entries;
    unsigned B;
    size_t buckets;             /* 2^B */
    size_t bucket_size;         /* bytes of one bucket */
    size_t bucket_bytes;        /* main array + old array while growing + overflow buckets */
    size_t overflow_buckets;    /* exact, old array's chains included */
    size_t padding_bytes;       /* bucket bytes not holding tophash, key, value or overflow
                                 * pointer (alignment), over all buckets counted above */
    size_t retained_bytes;      /* (2^B - 2^Bmin) * bucket_size + old array bytes: what a
                                 * shrink would give back (overflow buckets hold entries) */
    size_t indirect_bytes;      /* keys and values stored out of line */
    size_t peak_entries;        /* most entries held at once */
    uint64_t inserts, removes;  /* entries added and removed (hm_clear removes them all) */
    double load_factor;         /* entries / 2^B */
    bool growing;
} hm_stats_t;
void hm_stats(const hm_map_t *m, hm_stats_t *s);

/* ---- events, for profilers ----
 * A listener sets hooks with hm_set_hooks (NULL: none, and no lookup). Without that call, a
 * profiler preloaded into the program (mapprof) is found with no change to the program: when
 * the first map is created, the library looks up HM_HOOKS_SYMBOL with dlsym(RTLD_DEFAULT)
 * and, when it exists, uses the hooks it returns. The name carries the version of hm_hooks_t:
 * a profiler built for another version is not found (the program runs on, unobserved) rather
 * than called with arguments it does not expect. Every hook may be NULL. With no hooks each
 * operation pays one predictable branch.
 *
 * Hooks run on the thread doing the operation, inside it: they must not call back into the
 * same map (except info->stats). */
typedef enum hm_mem {
    HM_MEM_BUCKETS,     /* a bucket array (2^B buckets) */
    HM_MEM_OVERFLOW,    /* one overflow bucket */
    HM_MEM_KEY,         /* an indirectly stored key */
    HM_MEM_VALUE        /* an indirectly stored value */
} hm_mem_t;

/* What a map is, told once at creation. */
typedef struct hm_map_info {
    size_t key_size, val_size;      /* as the type gives them */
    size_t key_slot, val_slot;      /* bytes per slot as stored (a pointer when indirect) */
    size_t bucket_size;             /* bytes of one bucket */
    bool key_pointer, val_pointer;  /* see HM_KEY_POINTER / HM_VAL_POINTER */
    double max_load;                /* average entries per bucket that trigger doubling */
    /* This library's hm_stats: O(1), reads only the map's own header, never allocates, never
     * follows a pointer; safe to call whenever the map is alive, even racing a writer on
     * another thread (the figures may then be torn). */
    void (*stats)(const hm_map_t *m, struct hm_stats *s);
} hm_map_info_t;

/* What an entry event reports. */
typedef enum hm_entry_ev {
    HM_ENTRY_STORED = 0,    /* a value stored under a key that was there already */
    HM_ENTRY_REMOVED = 1,   /* the entry left the map */
    HM_ENTRY_ADDED = 2,     /* a new key and its value */
} hm_entry_ev_t;

#define HM_HOOKS_SYMBOL "mapprof_hashmap_hooks_v2"

typedef struct hm_hooks {
    /* m exists (before any of its memory is allocated). Returns the listener's word for m:
     * non-zero asks for entry events, and each carries the word back (so a listener needs
     * no lookup of its own to tell maps apart). */
    uint64_t (*created)(const hm_map_t *m, const hm_map_info_t *info);
    /* m is going away (after its memory was freed). */
    void (*destroyed)(const hm_map_t *m);
    /* Around every allocation for m through its allocator: alloc_begin just before the call,
     * alloc_end just after it (p NULL when it failed) with alloc_begin's token. */
    uint64_t (*alloc_begin)(const hm_map_t *m, hm_mem_t what);
    void (*alloc_end)(const hm_map_t *m, hm_mem_t what, uint64_t token, const void *p,
                      size_t bytes);
    /* Just before memory of m goes back to its allocator. */
    void (*freeing)(const hm_map_t *m, hm_mem_t what, const void *p, size_t bytes);
    /* After every change of the entry count. */
    void (*count)(const hm_map_t *m, size_t entries);
    /* Growth started (same_size: an overflow regrow; B is the new size) or finished. */
    void (*grow)(const hm_map_t *m, unsigned B, bool same_size, bool finished);
    /* An entry was added, had its value stored again (a put of a key already there), or was
     * removed (val NULL): key and val point to the stored key and value bytes; word is what
     * created returned. Only for maps whose created hook returned non-zero; hm_clear reports
     * each removal. */
    void (*entry)(const hm_map_t *m, uint64_t word, const void *key, const void *val,
                  hm_entry_ev_t ev);
} hm_hooks_t;
void hm_set_hooks(const hm_hooks_t *hooks);

#endif
