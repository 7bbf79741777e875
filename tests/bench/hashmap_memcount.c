/* hashmap_memcount.c - a counting malloc for the map benchmark's bytes-per-entry runs
 * (linked into hashmap_mapmem only; the timed program never carries it).
 *
 * Defines the malloc family in the executable, so every allocation of the process goes through
 * it: the library's (hm_new with the default allocator), GLib's (g_malloc, and g_slice with
 * G_SLICE=always-malloc) and libstdc++'s (operator new). Each call forwards to glibc's
 * __libc_* entry points; from mb_memcount_start on, each live block is remembered in a table
 * outside the heap (mmap), so the count is the same for every map and disturbs none: bytes
 * requested, and bytes with malloc's overhead (malloc_usable_size + 8, the chunk header).
 * Single-threaded use only (the benchmark is). */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hashmap_mapbench.h"

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void __libc_free(void *p);

/* Open addressing, linear probing, deletion by backward shift; p == 0 is an empty slot. */
typedef struct slot {
    uintptr_t p;        /* block address */
    size_t requested;   /* bytes asked for */
} slot_t;

#define TAB_BITS 25     /* 32M slots (512 MiB reserved, touched as used): 10M live blocks at 30% load */
static slot_t *tab;
static const size_t tab_mask = ((size_t)1 << TAB_BITS) - 1;
static size_t live_requested;   /* sums over the live counted blocks */
static size_t live_overhead;
static size_t live_blocks;

static void fail(const char *msg)
{
    /* no stdio: we are inside malloc */
    ssize_t r = write(2, msg, __builtin_strlen(msg));
    (void)r;
    _exit(4);
}

static size_t slot_of(uintptr_t p)
{
    return (size_t)(((p >> 4) * 0x9e3779b97f4a7c15ULL) >> (64 - TAB_BITS));
}

static void track(void *p, size_t requested)
{
    if (!tab || !p) return;
    if (live_blocks >= (tab_mask + 1) / 4 * 3) fail("hashmap_memcount: block table full\n");
    size_t i = slot_of((uintptr_t)p);
    while (tab[i].p) {
        if (tab[i].p == (uintptr_t)p) fail("hashmap_memcount: block counted twice\n");
        i = (i + 1) & tab_mask;
    }
    tab[i] = (slot_t){ (uintptr_t)p, requested };
    live_requested += requested;
    live_overhead += malloc_usable_size(p) + 8;
    live_blocks++;
}

/* Forgets p (before it is freed or moved); returns whether it was counted, and its size. */
static bool untrack(void *p, size_t *requested)
{
    if (!tab || !p) return false;
    size_t i = slot_of((uintptr_t)p);
    while (tab[i].p != (uintptr_t)p) {
        if (!tab[i].p) return false;    /* allocated before counting started */
        i = (i + 1) & tab_mask;
    }
    *requested = tab[i].requested;
    live_requested -= tab[i].requested;
    live_overhead -= malloc_usable_size(p) + 8;
    live_blocks--;
    for (size_t j = i;;) {      /* backward shift: close the gap for the probes that cross it */
        tab[i].p = 0;
        for (;;) {
            j = (j + 1) & tab_mask;
            if (!tab[j].p) return true;
            size_t home = slot_of(tab[j].p);
            /* j's entry may move to i when its home is not cyclically within (i, j] */
            if (((j - home) & tab_mask) >= ((j - i) & tab_mask)) break;
        }
        tab[i] = tab[j];
        i = j;
    }
}

void mb_memcount_start(void)
{
    if (tab) return;
    void *m = mmap(NULL, (tab_mask + 1) * sizeof(slot_t), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) fail("hashmap_memcount: mmap failed\n");
    tab = m;
}

void mb_memcount_read(size_t *requested, size_t *with_overhead, size_t *blocks)
{
    *requested = live_requested;
    *with_overhead = live_overhead;
    *blocks = live_blocks;
}

void *malloc(size_t n)
{
    void *p = __libc_malloc(n);
    track(p, n);
    return p;
}

void *calloc(size_t n, size_t size)
{
    void *p = __libc_calloc(n, size);
    track(p, n * size);     /* the product did not overflow when p is not NULL */
    return p;
}

void *realloc(void *p, size_t n)
{
    if (!p) return malloc(n);
    size_t old = 0;
    bool counted = untrack(p, &old);
    void *q = __libc_realloc(p, n);
    if (q)
        track(q, n);
    else if (n && counted)      /* failed: the old block is still there */
        track(p, old);
    return q;
}

void free(void *p)
{
    size_t old;
    untrack(p, &old);
    __libc_free(p);
}

void *memalign(size_t align, size_t n)
{
    void *p = __libc_memalign(align, n);
    track(p, n);
    return p;
}

void *aligned_alloc(size_t align, size_t n)
{
    return memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    if (!align || (align & (align - 1)) || align % sizeof(void *)) return EINVAL;
    void *p = memalign(align, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

void *valloc(size_t n)
{
    return memalign((size_t)sysconf(_SC_PAGESIZE), n);
}

void *pvalloc(size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return memalign(page, (n + page - 1) & ~(page - 1));
}
