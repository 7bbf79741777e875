/* hashmap/internal.h - what the files of hashmap/ share: the map header, the bucket layout, the
 * tophash states, the word-at-a-time tophash scans, the inline hash mixers, the event and
 * allocation wrappers, and the functions one file offers another.
 *
 * A bucket is [8 tophash bytes][8 keys][8 values][overflow pointer]; keys start at m->koff
 * (8, or 16 for 16-aligned keys), values at m->voff, the overflow pointer at m->ooff (8-aligned), and a bucket is m->bsize
 * bytes (a multiple of the strictest alignment, at most 16, so that 2^B of them form an array).
 * A slot holds the key or value itself, or, when indirect, the pointer the allocator returned
 * for a block holding it. Nothing here allocates or takes a lock. */
#ifndef HASHMAP_INTERNAL_H
#define HASHMAP_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hashmap.h"

#define HM_HIDDEN __attribute__((visibility("hidden")))
#define HM_INLINE static inline __attribute__((always_inline))
#define HM_LIKELY(x) __builtin_expect(!!(x), 1)
#define HM_UNLIKELY(x) __builtin_expect(!!(x), 0)

#define HM_SLOTS 8          /* entries per bucket */
#define HM_KOFF 8           /* keys follow the 8 tophash bytes (unless aligned to 16) */
#define HM_MAX_DIRECT 128   /* larger keys and values are stored out of line */
#define HM_MAX_ALIGN 16     /* what the allocator is trusted to give (malloc's) */

/* Maximum average load: HM_LOAD_NUM / 2 entries per bucket (13: 6.5). A macro so that the
 * load-factor table in map.c can be measured again at other values. */
#ifndef HM_LOAD_NUM
#define HM_LOAD_NUM 13
#endif

/* tophash states: values below HM_MIN_TOPHASH mark slots, as in Go. */
enum {
    HM_EMPTY_REST = 0,  /* empty, and so is every later slot of this bucket and its chain */
    HM_EMPTY_ONE = 1,   /* empty */
    HM_EVAC_X = 2,      /* entry moved to the new array's bucket of the same index */
    HM_EVAC_Y = 3,      /* entry moved to the upper half of the new array */
    HM_EVAC_EMPTY = 4,  /* empty (or removed since) in an evacuated bucket */
    HM_MIN_TOPHASH = 5  /* smallest tophash of a live entry */
};

/* Which code paths serve a map: the ready-made key functions get inlined specializations. */
enum { HM_K_GENERIC, HM_K_U64, HM_K_U32, HM_K_CSTR };

/* m->flags */
#define HM_F_SAMESIZE   1u  /* the growth in progress keeps B (overflow regrow or compaction) */
#define HM_F_AUTOSHRINK 2u  /* hm_set_auto_shrink(m, true) */
#define HM_F_IKEY       8u  /* keys are stored indirectly */
#define HM_F_IVAL      16u  /* values are stored indirectly */
#define HM_F_ZEROED    32u  /* the allocator returns zeroed memory (the default one: calloc) */
#define HM_F_PAIR8     64u  /* HM_K_U64 keys and 8-byte direct values: the constant layout of
                             * HM_PAIR8_* (the inline lookup in hm_get) */
#define HM_F_KEPTCHAIN 128u /* during this growth an evacuated old bucket kept its chain for an
                             * iterator: no old pages are discarded (grow.c) */

/* The HM_F_PAIR8 layout. */
#define HM_PAIR8_VOFF 72u
#define HM_PAIR8_OOFF 136u
#define HM_PAIR8_BSIZE 144u

#define HM_NOCHECK UINT64_MAX   /* hm_iter_t.check: no old-bucket filter */

struct hm_map {
    /* Read by every operation. */
    size_t count;           /* live entries */
    char *buckets;          /* 2^B buckets */
    char *oldbuckets;       /* 2^oldB buckets being evacuated; NULL when not growing */
    uint64_t seed;          /* hash seed (Go's hash0) */
    uint64_t mix0, mix1;    /* the seed folded into hm_mix64's two constants (hm_mix_map) */
    size_t mask;            /* 2^B - 1 */
    size_t growat;          /* an insert at this count doubles: floor(6.5 * 2^B) */
    uint32_t bsize;         /* bytes of one bucket */
    uint16_t koff, voff;    /* offsets of the keys and the values in a bucket */
    uint16_t ooff;          /* offset of the overflow pointer */
    uint16_t kslot, vslot;  /* bytes per key and value slot */
    uint8_t B, oldB;
    uint8_t kind;           /* HM_K_* */
    uint8_t flags;          /* HM_F_*; never written by another thread */
    /* These two bytes are read as one 16-bit word by hm_get (hm_get_gate): keep them
     * together, in this order, 2-aligned. */
    uint8_t getmode;        /* HM_GET_*: which inline path hm_get may take (hm_set_getmode) */
    uint8_t writing;        /* a write is in progress (accessed as volatile only) */
    uint8_t prefetch;       /* the array outgrew the caches: prefetch whole buckets */
    size_t nevacuate;       /* old buckets below this one are all evacuated */
    size_t odiscard;        /* bytes at the start of oldbuckets given back to the kernel */
    hm_hash_fn hash;
    hm_eq_fn eq;
    /* The rest. */
    size_t key_size, val_size;
    uintptr_t kamask, vamask;   /* alignment - 1 of indirect blocks past HM_MAX_ALIGN, else 0 */
    size_t kblock, vblock;      /* bytes of one indirect key / value block */
    uint32_t pad;               /* padding bytes in one bucket */
    size_t noverflow;           /* overflow buckets chained off buckets (exact) */
    size_t nov_old;             /* ... still chained off oldbuckets */
    size_t retired_nbuckets;    /* buckets of arrays dropped by the map, kept for iterators */
    size_t nov_retired;         /* overflow buckets chained off those */
    size_t indirect_bytes;      /* bytes of indirect key and value blocks */
    size_t peak;                /* most entries ever held at once */
    uint64_t inserts, removes;  /* entries added and removed over the map's life */
    struct hm_iter *iters;      /* live iterators (they pin the arrays they read) */
    uint64_t iter_rand;         /* state of the iterators' random start */
    const hm_hooks_t *hooks;    /* the listener told of this map's creation (NULL: none) */
    uint64_t listener_word;     /* its created hook's answer, non-zero when it asked for entry
                                 * events and has an entry hook */
    hm_allocator_t alloc;
    unsigned type_flags;        /* hm_type_t.flags */
};

_Static_assert(offsetof(struct hm_map, getmode) % 2 == 0 &&
               offsetof(struct hm_map, writing) == offsetof(struct hm_map, getmode) + 1,
               "hm_get_gate reads getmode and writing as one word");

/* m->getmode: the map is u64 -> 8 bytes (HM_F_PAIR8) and not growing, so hm_get's inline
 * path (constant layout, hash inlined) serves it; HM_GET_PAIR8_PF when the array is also big
 * enough to prefetch (m->prefetch). 0: the general paths. */
enum { HM_GET_NONE = 0, HM_GET_PAIR8 = 1, HM_GET_PAIR8_PF = 2 };

/* getmode and writing in one (volatile: writing is) load, and that word for a given getmode
 * with no write in progress. */
typedef uint16_t __attribute__((may_alias)) hm_u16_alias;
HM_INLINE uint16_t hm_get_gate(const hm_map_t *m)
{
    return *(const volatile hm_u16_alias *)&m->getmode;
}
HM_INLINE uint16_t hm_gate_of(uint8_t getmode)
{
    const uint8_t b[2] = { getmode, 0 };
    uint16_t w;
    memcpy(&w, b, 2);
    return w;
}

/* Recomputes m->getmode: after any change of flags or B (hm_set_B) or oldbuckets
 * (hm_set_old). */
HM_INLINE void hm_set_getmode(hm_map_t *m)
{
    uint8_t g = HM_GET_NONE;
    if ((m->flags & HM_F_PAIR8) && m->oldbuckets == NULL)
        g = m->prefetch ? HM_GET_PAIR8_PF : HM_GET_PAIR8;
    m->getmode = g;
}

/* ---- bucket access ---- */

HM_INLINE uint8_t *hm_top(char *b) { return (uint8_t *)b; }
HM_INLINE char *hm_kslot(const hm_map_t *m, char *b, unsigned i)
{
    return b + m->koff + (size_t)i * m->kslot;
}
HM_INLINE char *hm_vslot(const hm_map_t *m, char *b, unsigned i)
{
    return b + m->voff + (size_t)i * m->vslot;
}
HM_INLINE char *hm_ovf(const hm_map_t *m, const char *b)
{
    return *(char *const *)(b + m->ooff);
}
HM_INLINE void hm_set_ovf(const hm_map_t *m, char *b, char *o) { *(char **)(b + m->ooff) = o; }

/* The key or value bytes of a slot (through the pointer when indirect). */
HM_INLINE char *hm_indirect(char *slot, uintptr_t amask)
{
    uintptr_t p = *(uintptr_t *)slot;
    return (char *)((p + amask) & ~amask);
}
HM_INLINE char *hm_keyp(const hm_map_t *m, char *b, unsigned i)
{
    char *s = hm_kslot(m, b, i);
    return HM_UNLIKELY(m->flags & HM_F_IKEY) ? hm_indirect(s, m->kamask) : s;
}
HM_INLINE char *hm_valp(const hm_map_t *m, char *b, unsigned i)
{
    char *s = hm_vslot(m, b, i);
    return HM_UNLIKELY(m->flags & HM_F_IVAL) ? hm_indirect(s, m->vamask) : s;
}

HM_INLINE size_t hm_mask(unsigned B) { return ((size_t)1 << B) - 1; }

/* An old bucket whose first slot holds an evacuation mark has been evacuated (whole chain). */
HM_INLINE bool hm_evacuated(const char *b)
{
    uint8_t t = *(const uint8_t *)b;
    return t > HM_EMPTY_ONE && t < HM_MIN_TOPHASH;
}

/* The top 8 bits of the hash, raised to HM_MIN_TOPHASH when below (Go adds 5 instead: a max
 * is one instruction on the vector path, hm_vec_tophash, and makes tophash 5 only 6/256
 * likely, a negligible rise in false matches). */
HM_INLINE uint8_t hm_tophash(uint64_t h)
{
    uint8_t t = (uint8_t)(h >> 56);
    return t < HM_MIN_TOPHASH ? (uint8_t)HM_MIN_TOPHASH : t;
}

/* floor(6.5 * 2^B): the count at which the next insert doubles. */
HM_INLINE size_t hm_growat(unsigned B) { return ((size_t)HM_LOAD_NUM << B) >> 1; }

/* Growth from an old array of at most this many bytes evacuates it whole at once. */
#ifndef HM_ONESHOT_BYTES
#define HM_ONESHOT_BYTES (32u << 10)
#endif

/* Arrays larger than this are prefetched a bucket at a time (the L2 cache is not far off). */
#define HM_PREFETCH_BYTES (256u << 10)

/* B changes: everything derived from it follows. */
HM_INLINE void hm_set_B(hm_map_t *m, unsigned B)
{
    m->B = (uint8_t)B;
    m->mask = hm_mask(B);
    m->growat = hm_growat(B);
    m->prefetch = ((size_t)m->bsize << B) > HM_PREFETCH_BYTES;
    hm_set_getmode(m);
}

/* Growth starts (arr: the old array) or ends (NULL). */
HM_INLINE void hm_set_old(hm_map_t *m, char *arr)
{
    m->oldbuckets = arr;
    m->odiscard = 0;
    m->flags &= (uint8_t)~HM_F_KEPTCHAIN;
    hm_set_getmode(m);
}

/* Asks for the lines of a bucket past its first (tophash) line: its keys and values. */
HM_INLINE void hm_prefetch_rest(const hm_map_t *m, const char *b)
{
    if (HM_UNLIKELY(m->prefetch)) {
        __builtin_prefetch(b + 64);
        if (m->bsize > 64) __builtin_prefetch(b + 128);
    }
}

/* Too many overflow buckets: as many as buckets. This is Go's rule, noverflow >= 2^min(B, 15),
 * with an exact count: Go counts exactly below B = 16 and, above, increments its 16-bit
 * counter with probability 2^-(B-15), so its threshold also means about 2^B overflow buckets.
 * (Read with an exact count, 2^15 would regrow big maps at their normal overflow rate.) */
HM_INLINE bool hm_too_many_overflow(const hm_map_t *m)
{
    return m->noverflow >= ((size_t)1 << m->B);
}

/* Smallest B with count <= 6.5 * 2^B. */
HM_INLINE unsigned hm_bmin(size_t count)
{
    unsigned b = 0;
    while (b < 63 && ((size_t)HM_LOAD_NUM << b) < 2 * count) b++;
    return b;
}

/* ---- word-at-a-time tophash scans: byte i of the word is slot i ---- */

#define HM_LO 0x0101010101010101ULL
#define HM_HI 0x8080808080808080ULL

HM_INLINE uint64_t hm_word(const char *b)
{
    uint64_t w;
    memcpy(&w, b, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}
/* The high bit of every zero byte of x, exactly (no false positives from borrows). */
HM_INLINE uint64_t hm_zero_bytes(uint64_t x)
{
    return ~(((x & ~HM_HI) + ~HM_HI) | x | ~HM_HI);
}
HM_INLINE void hm_set_word(char *b, uint64_t w)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    memcpy(b, &w, 8);
}
HM_INLINE unsigned hm_first(uint64_t bytemask) { return (unsigned)__builtin_ctzll(bytemask) >> 3; }
/* The high bit of every byte >= 2 of a tophash word: live entries and evacuation marks. */
HM_INLINE uint64_t hm_used_bytes(uint64_t w) { return ~hm_zero_bytes(w & ~HM_LO) & HM_HI; }

/* ---- the tophash bytes as a vector (the inline u64 -> 8-byte paths of map.c) ----
 * Where SSE2 is there (x86-64 always), a bucket's 8 tophash bytes are compared in one
 * instruction and the result is one bit per slot (bit i: slot i), so the slot index is a
 * plain ctz; elsewhere the word scans above stand in, one bit per byte (bit 8i+7).
 * -DHM_VEC_SSE2=0 builds the portable code. */
#ifndef HM_VEC_SSE2
#if defined(__SSE2__)
#define HM_VEC_SSE2 1
#else
#define HM_VEC_SSE2 0
#endif
#endif

#if HM_VEC_SSE2
#include <emmintrin.h>
typedef __m128i hm_vec_t;       /* tophash bytes in the low 8 bytes, the rest zero */
typedef unsigned hm_slots_t;
HM_INLINE hm_vec_t hm_vec_load(const char *b) { return _mm_loadl_epi64((const __m128i *)(const void *)b); }
/* hm_tophash(h) in every byte. */
HM_INLINE hm_vec_t hm_vec_tophash(uint64_t h)
{
    __m128i t = _mm_shuffle_epi32(_mm_cvtsi32_si128((int)((uint32_t)(h >> 56) * 0x01010101u)), 0);
    return _mm_max_epu8(t, _mm_set1_epi8(HM_MIN_TOPHASH));
}
/* Slots whose tophash is t's (a live tophash: the zero upper bytes never match it). */
HM_INLINE hm_slots_t hm_vec_match(hm_vec_t w, hm_vec_t t)
{
    return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(w, t));
}
/* Whether a slot is HM_EMPTY_REST (the chain ends in this bucket). */
HM_INLINE bool hm_vec_has_rest(hm_vec_t w)
{
    return (_mm_movemask_epi8(_mm_cmpeq_epi8(w, _mm_setzero_si128())) & 0xff) != 0;
}
/* Slots that are empty (HM_EMPTY_REST or HM_EMPTY_ONE). */
HM_INLINE hm_slots_t hm_vec_free(hm_vec_t w)
{
    __m128i low = _mm_and_si128(w, _mm_set1_epi8((char)~HM_EMPTY_ONE));
    return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(low, _mm_setzero_si128())) & 0xffu;
}
/* The lowest slot of s (not 0). tzcnt's encoding (rep bsf: bsf where BMI1 is missing, the
 * same result for a nonzero s) straight into a 64-bit register: the builtin returns an int,
 * which GCC then sign-extends before using it in an address, two more instructions on the
 * lookup path. */
HM_INLINE size_t hm_slot_first(hm_slots_t s)
{
#if defined(__x86_64__)
    uint64_t i;
    __asm__("rep bsfq %1, %0" : "=r"(i) : "r"((uint64_t)s) : "cc");
    return (size_t)i;
#else
    return (size_t)__builtin_ctz(s);
#endif
}
#else
typedef uint64_t hm_vec_t;
typedef uint64_t hm_slots_t;
HM_INLINE hm_vec_t hm_vec_load(const char *b) { return hm_word(b); }
HM_INLINE hm_vec_t hm_vec_tophash(uint64_t h) { return HM_LO * hm_tophash(h); }
HM_INLINE hm_slots_t hm_vec_match(hm_vec_t w, hm_vec_t t) { return hm_zero_bytes(w ^ t); }
HM_INLINE bool hm_vec_has_rest(hm_vec_t w) { return hm_zero_bytes(w) != 0; }
HM_INLINE hm_slots_t hm_vec_free(hm_vec_t w) { return hm_zero_bytes(w & ~HM_LO); }
HM_INLINE size_t hm_slot_first(hm_slots_t s) { return hm_first(s); }
#endif

/* ---- hashing ---- */

#define HM_C0 0x9362da5cc13da58bULL
#define HM_C1 0xac8efe121c5989f1ULL
#define HM_C2 0x789c1af40ce8fcc9ULL
#define HM_C3 0xd419c7723226db95ULL

/* 64x64 -> 128-bit product, halves folded together. */
HM_INLINE uint64_t hm_mum(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}
HM_INLINE uint64_t hm_rot32(uint64_t x) { return (x << 32) | (x >> 32); }
/* The integer mixer behind hm_hash_u64, hm_hash_u32 and hm_hash_ptr. */
HM_INLINE uint64_t hm_mix64(uint64_t k, uint64_t seed)
{
    uint64_t x = k ^ seed;
    return hm_mum(x ^ HM_C0, hm_rot32(x) ^ HM_C1);
}
/* The same with a map's seed: xor and rotation commute, so the seed is folded into the two
 * constants once, at creation (two 10-byte constant loads and an xor fewer per probe). */
HM_INLINE void hm_set_mix(hm_map_t *m)
{
    m->mix0 = m->seed ^ HM_C0;
    m->mix1 = hm_rot32(m->seed) ^ HM_C1;
}
HM_INLINE uint64_t hm_mix_map(const hm_map_t *m, uint64_t k)
{
    return hm_mum(k ^ m->mix0, hm_rot32(k) ^ m->mix1);
}

/* Hash of the key stored in slot i of bucket b (kind: m->kind, a constant where it can be). */
HM_INLINE uint64_t hm_hash_slot_k(const hm_map_t *m, char *b, unsigned i, int kind)
{
    char *k = hm_kslot(m, b, i);
    switch (kind) {
    case HM_K_U64: { uint64_t v; memcpy(&v, k, 8); return hm_mix_map(m, v); }
    case HM_K_U32: { uint32_t v; memcpy(&v, k, 4); return hm_mix_map(m, v); }
    default: return m->hash(HM_UNLIKELY(m->flags & HM_F_IKEY) ? hm_indirect(k, m->kamask) : k,
                            m->seed);
    }
}
HM_INLINE uint64_t hm_hash_slot(const hm_map_t *m, char *b, unsigned i)
{
    return hm_hash_slot_k(m, b, i, m->kind);
}

/* Copies n bytes; the common sizes become plain moves. */
HM_INLINE void hm_copy(void *d, const void *s, size_t n)
{
    switch (n) {
    case 0: return;
    case 4: memcpy(d, s, 4); return;
    case 8: memcpy(d, s, 8); return;
    case 16: memcpy(d, s, 16); return;
    default: memcpy(d, s, n); return;
    }
}

/* ---- events and memory (hooks.c) ---- */

/* The hooks in force: NULL when nobody listens (or a placeholder until the first hm_new). */
extern _Atomic(const hm_hooks_t *) hm_hooks_now HM_HIDDEN;

/* The listener to tell about m, or NULL: one load and one predictable branch. */
HM_INLINE const hm_hooks_t *hm_listener(const hm_map_t *m)
{
    const hm_hooks_t *h = atomic_load_explicit(&hm_hooks_now, memory_order_relaxed);
    if (HM_UNLIKELY(h != NULL)) return h == m->hooks ? h : NULL;
    return NULL;
}

const hm_hooks_t *hm_hooks_resolve(void) HM_HIDDEN;
void *hm_alloc_ev(hm_map_t *m, const hm_hooks_t *h, hm_mem_t what, size_t n) HM_HIDDEN;
void hm_free_ev(hm_map_t *m, const hm_hooks_t *h, hm_mem_t what, void *p, size_t n) HM_HIDDEN;
/* The count and entry events: each a test inline, the listener called only when it wants it. */
HM_INLINE void hm_ev_count(hm_map_t *m, const hm_hooks_t *h)
{
    if (h->count) h->count(m, m->count);
}
HM_INLINE void hm_ev_entry(hm_map_t *m, const hm_hooks_t *h, const void *k, const void *v,
                           hm_entry_ev_t ev)
{
    if (m->listener_word) h->entry(m, m->listener_word, k, v, ev);
}
void hm_ev_grow(hm_map_t *m, bool same_size, bool finished) HM_HIDDEN;
void hm_fatal(const char *msg) HM_HIDDEN __attribute__((noreturn, cold));

HM_INLINE void *hm_mem_alloc(hm_map_t *m, hm_mem_t what, size_t n)
{
    const hm_hooks_t *h = hm_listener(m);
    if (HM_UNLIKELY(h != NULL)) return hm_alloc_ev(m, h, what, n);
    return m->alloc.alloc(n, m->alloc.ctx);
}
HM_INLINE void hm_mem_free(hm_map_t *m, hm_mem_t what, void *p, size_t n)
{
    const hm_hooks_t *h = hm_listener(m);
    if (HM_UNLIKELY(h != NULL)) hm_free_ev(m, h, what, p, n);
    else m->alloc.free(p, n, m->alloc.ctx);
}

/* The writing flag (Go's hashWriting): catches a second writer, or a write from a hook. */
HM_INLINE void hm_write_begin(hm_map_t *m)
{
    volatile uint8_t *w = &m->writing;
    if (HM_UNLIKELY(*w)) hm_fatal("concurrent map writes");
    *w = 1;
}
HM_INLINE void hm_write_end(hm_map_t *m)
{
    volatile uint8_t *w = &m->writing;
    if (HM_UNLIKELY(!*w)) hm_fatal("concurrent map writes");
    *w = 0;
}
HM_INLINE void hm_read_check(const hm_map_t *m)
{
    if (HM_UNLIKELY(*(const volatile uint8_t *)&m->writing))
        hm_fatal("concurrent map read and map write");
}

/* ---- hash.c ---- */

/* A fresh, different seed for each map. */
uint64_t hm_random_seed(void) HM_HIDDEN;

/* ---- map.c ---- */

/* The stored key and value for key, or false. No writing check, no growth work. */
bool hm_lookup(hm_map_t *m, const void *key, void **k, void **v) HM_HIDDEN;

/* ---- grow.c ---- */

/* A bucket array of the given bytes, all slots empty, or NULL. */
char *hm_alloc_array(hm_map_t *m, size_t bytes) HM_HIDDEN;
/* An empty overflow bucket (not linked, not counted), or NULL. */
char *hm_alloc_overflow(hm_map_t *m) HM_HIDDEN;
/* Starts growing: a new array of 2^(B+1) buckets, or 2^B when same_size. 0 or ENOMEM. */
int hm_hash_grow(hm_map_t *m, bool same_size) HM_HIDDEN;
/* Old buckets a write evacuates while the map grows. */
#define HM_EVAC_PER_WRITE 2
/* Evacuates the next HM_EVAC_PER_WRITE old buckets in order (fewer when the growth ends). 0,
 * or ENOMEM when one could not be evacuated (that one unchanged). */
int hm_grow_work(hm_map_t *m) HM_HIDDEN;
/* Finishes any growth and rebuilds at the smallest B. 0 or ENOMEM (entries unchanged). */
int hm_shrink_now(hm_map_t *m) HM_HIDDEN;
/* Frees the overflow chains of the 2^B buckets at arr; returns how many buckets it freed. */
size_t hm_free_chains(hm_map_t *m, char *arr, unsigned B) HM_HIDDEN;
/* Frees the overflow chains of 2^B buckets at arr (when walk), then arr. Returns the number of
 * overflow buckets freed. */
size_t hm_free_array(hm_map_t *m, char *arr, unsigned B, bool walk) HM_HIDDEN;
/* arr (2^B buckets, nov overflow buckets) is no longer the map's: freed now, or kept while an
 * iterator reads it. */
void hm_drop_array(hm_map_t *m, char *arr, unsigned B, size_t nov) HM_HIDDEN;
/* Sets every tophash of 2^B buckets at arr and their chains to HM_EMPTY_REST. */
void hm_mark_array_empty(hm_map_t *m, char *arr, unsigned B) HM_HIDDEN;

/* ---- iter.c ---- */

/* The map is about to empty or move slots: live iterators re-check their remaining slots. */
void hm_iter_invalidate(hm_map_t *m) HM_HIDDEN;
HM_INLINE void hm_iters_touch(hm_map_t *m)
{
    if (HM_UNLIKELY(m->iters != NULL)) hm_iter_invalidate(m);
}
/* True when a live iterator may read array arr. */
bool hm_array_pinned(const hm_map_t *m, const char *arr) HM_HIDDEN;
/* An indirect key block (raw pointer p, key hash h) is about to be freed: evacuated slots that
 * iterators may still read and that point to it are marked HM_EVAC_EMPTY. */
void hm_iter_forget(hm_map_t *m, uint64_t h, const void *p) HM_HIDDEN;

#endif
