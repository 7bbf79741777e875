/* profiler/iheap.c - the profiler's private heap (see iheap.h).
 *
 * Layout: one PROT_NONE reservation, made readable and writable from its start in 4 MiB steps
 * as the bump pointer needs. A block is a 16-byte header (class index, magic) and its payload;
 * class sizes include the header.
 *
 * Concurrency: allocation (pop from a free list, or bump) holds `lock`; free pushes onto its
 * class's list with a compare-and-swap and takes no lock, so it is safe from a signal handler
 * and cannot be left blocked by fork. With a single popper at a time a pushed-back block cannot
 * reappear under a pop in progress, so the lists have no ABA problem. */
#define _GNU_SOURCE
#include "profiler/iheap.h"

#include <string.h>
#include <sys/mman.h>

#include "profiler/livetab.h"
#include "profiler/spin.h"

#define RESERVE ((size_t)256 << 20)     /* address space; only touched pages cost memory */
#define COMMIT_STEP ((size_t)4 << 20)
#define HDR 16u
#define MAGIC 0x6d706968u               /* "mpih" */
#define NCLASS 96                       /* 16 B .. far past RESERVE */
#define GIVE_BACK ((size_t)256 << 10)   /* freed blocks this large return their pages */

typedef struct hdr {
    uint32_t cls, magic;
    uint64_t pad;
} hdr_t;

uintptr_t mp_iheap_lo;
size_t mp_iheap_len;

static void *heads[NCLASS];     /* free lists, linked through the first payload word */
static size_t top;              /* bump offset into the range */
static size_t committed;        /* bytes from the start that are read-write */
static mp_spin_t lock;
/* this thread is in mp_iheap_alloc already (a signal handler re-entered it) */
static __thread __attribute__((tls_model("initial-exec"))) int inside;

/* Four classes per power of two: 16, 32, 48, 64, then 80, 96, 112, 128, 160, 192, ...
 * (allocation starts at 32: a free block holds its header and the list link) */
static unsigned class_of(size_t s)
{
    if (s <= 64) return (unsigned)((s + 15) / 16 - 1);
    unsigned k = 63 - (unsigned)__builtin_clzl(s - 1);     /* 2^k < s <= 2^(k+1), k >= 6 */
    unsigned sub = (unsigned)((s - 1 - ((size_t)1 << k)) >> (k - 2));
    return 4 + (k - 6) * 4 + sub;
}

static size_t class_size(unsigned c)
{
    if (c < 4) return (size_t)(c + 1) * 16;
    unsigned k = (c - 4) / 4 + 6, sub = (c - 4) % 4;
    return ((size_t)1 << k) + (size_t)(sub + 1) * ((size_t)1 << (k - 2));
}

bool mp_iheap_init(void)
{
    if (mp_iheap_len) return true;
    void *p = mmap(NULL, RESERVE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return false;
    mp_iheap_lo = (uintptr_t)p;
    __atomic_store_n(&mp_iheap_len, RESERVE, __ATOMIC_RELEASE);
    return true;
}

static hdr_t *pop(unsigned c)
{
    void *h = __atomic_load_n(&heads[c], __ATOMIC_ACQUIRE);
    while (h) {
        void *next;
        memcpy(&next, (char *)h + HDR, sizeof next);
        if (__atomic_compare_exchange_n(&heads[c], &h, next, true, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            return h;
    }
    return NULL;
}

/* Under the lock: size bytes from the end of what is handed out, committing pages. */
static hdr_t *bump(size_t size)
{
    if (size > mp_iheap_len - top) return NULL;
    if (top + size > committed) {
        size_t want = (top + size - committed + COMMIT_STEP - 1) & ~(COMMIT_STEP - 1);
        if (want > mp_iheap_len - committed) want = mp_iheap_len - committed;
        /* The free hook's filter test must send these blocks to its slow path (iheap.h). */
        if (!mp_live_claim(mp_iheap_lo + committed, want)) return NULL;
        if (mprotect((char *)mp_iheap_lo + committed, want, PROT_READ | PROT_WRITE)) return NULL;
        committed += want;
    }
    hdr_t *h = (hdr_t *)(mp_iheap_lo + top);
    top += size;
    return h;
}

void *mp_iheap_alloc(size_t n)
{
    if (!__atomic_load_n(&mp_iheap_len, __ATOMIC_ACQUIRE) || n > RESERVE / 2 || inside)
        return NULL;
    unsigned c = class_of(n + HDR < 32 ? 32 : n + HDR);    /* room for the free-list link */
    inside = 1;
    mp_spin_lock(&lock);
    hdr_t *h = pop(c);
    if (!h) h = bump(class_size(c));
    mp_spin_unlock(&lock);
    inside = 0;
    if (!h) return NULL;
    h->cls = c;
    h->magic = MAGIC;
    return (char *)h + HDR;
}

void *mp_iheap_calloc(size_t n, size_t m)
{
    size_t total;
    if (__builtin_mul_overflow(n, m, &total)) return NULL;
    void *p = mp_iheap_alloc(total);
    if (p) memset(p, 0, total);
    return p;
}

static hdr_t *header(const void *p)
{
    return (hdr_t *)((uintptr_t)p - HDR);
}

void mp_iheap_free(void *p)
{
    hdr_t *h = header(p);
    if (h->magic != MAGIC || h->cls >= NCLASS) return;     /* freed twice, or not a block */
    h->magic = 0;
    unsigned c = h->cls;
    size_t size = class_size(c);
    if (size >= GIVE_BACK) {
        /* whole pages past the link word go back; they read as zero when reused */
        uintptr_t lo = ((uintptr_t)p + sizeof(void *) + 4095) & ~(uintptr_t)4095;
        uintptr_t hi = ((uintptr_t)h + size) & ~(uintptr_t)4095;
        if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
    }
    void *head = __atomic_load_n(&heads[c], __ATOMIC_RELAXED);
    do {
        memcpy(p, &head, sizeof head);
    } while (!__atomic_compare_exchange_n(&heads[c], &head, (void *)h, true, __ATOMIC_RELEASE,
                                          __ATOMIC_RELAXED));
}

size_t mp_iheap_usable(const void *p)
{
    const hdr_t *h = header(p);
    return h->magic == MAGIC && h->cls < NCLASS ? class_size(h->cls) - HDR : 0;
}

size_t mp_iheap_used(void)
{
    return __atomic_load_n(&top, __ATOMIC_RELAXED);
}

void mp_iheap_lock(void) { mp_spin_lock(&lock); }
void mp_iheap_unlock(void) { mp_spin_unlock(&lock); }
void mp_iheap_reset_lock(void) { mp_spin_init(&lock); inside = 0; }
