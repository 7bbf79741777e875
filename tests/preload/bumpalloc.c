/* Test fixture: an allocator safe to call from a signal handler, preloaded after libmapprof.so
 * (LD_PRELOAD="libmapprof.so bumpalloc.so"), so the profiler's hooks forward to it instead of
 * glibc's malloc. glibc's is not reentrant: a handler's free that lands inside it corrupts its
 * caches, and a test of the profiler's own reentrancy (sigfree.c) would fail on that. Here
 * every block is an atomic bump over one reserved region, with its size in a 16-byte header;
 * free does nothing. For short test runs only. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define REGION ((size_t)16 << 30)      /* address space only: pages come as they are touched */
#define HDR 16

static char *base;
static size_t used;

static void *bump(size_t n, size_t align)
{
    char *b = __atomic_load_n(&base, __ATOMIC_ACQUIRE);
    if (!b) {
        void *m = mmap(NULL, REGION, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED) return NULL;
        char *expect = NULL;
        if (!__atomic_compare_exchange_n(&base, &expect, (char *)m, false, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE)) {
            munmap(m, REGION);
            m = expect;
        }
        b = m;
    }
    if (align < HDR) align = HDR;
    if (n > REGION || (align & (align - 1))) return NULL;
    size_t need = (n + HDR + align + 15) & ~(size_t)15;
    size_t off = __atomic_fetch_add(&used, need, __ATOMIC_RELAXED);
    if (off + need > REGION) return NULL;
    uintptr_t p = ((uintptr_t)b + off + HDR + align - 1) & ~(uintptr_t)(align - 1);
    ((size_t *)p)[-1] = n;                  /* fresh pages: already zero, calloc's too */
    return (void *)p;
}

static size_t size_of(const void *p) { return p ? ((const size_t *)p)[-1] : 0; }

void *malloc(size_t n)
{
    void *p = bump(n, HDR);
    if (!p) errno = ENOMEM;
    return p;
}

void free(void *p) { (void)p; }

void *calloc(size_t n, size_t m)
{
    size_t total;
    if (__builtin_mul_overflow(n, m, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return malloc(total);
}

void *realloc(void *p, size_t n)
{
    void *q = malloc(n);
    if (q && p) memcpy(q, p, size_of(p) < n ? size_of(p) : n);
    return q;
}

int posix_memalign(void **out, size_t align, size_t n)
{
    void *p = bump(n, align);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

void *aligned_alloc(size_t align, size_t n) { return bump(n, align); }
void *memalign(size_t align, size_t n) { return bump(n, align); }
void *valloc(size_t n) { return bump(n, (size_t)sysconf(_SC_PAGESIZE)); }
void *pvalloc(size_t n) { return bump(n, (size_t)sysconf(_SC_PAGESIZE)); }
size_t malloc_usable_size(void *p) { return size_of(p); }
