/* interpose/real.c - find the real allocation functions with dlsym(RTLD_NEXT).
 *
 * dlsym may allocate (its error buffer), which re-enters our hooks before anything is known:
 * the resolving thread is marked, and its allocations are served from the bootstrap arena.
 * Other threads arriving meanwhile wait on the once-flag. */
#define _GNU_SOURCE
#include "interpose/real.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>

#include "profiler/profiler.h"

/* Until the real functions are known only NULL and bootstrap blocks can be freed or resized,
 * and the bootstrap blocks never reach these (the hooks' filter test sends them to the slow
 * path): the hooks' fast paths may call them any time. */
static void free_unresolved(void *p) { (void)p; }
static void *realloc_unresolved(void *p, size_t n)
{
    (void)p, (void)n;
    errno = ENOMEM;
    return NULL;
}

mp_real_t mp_real = { .free = free_unresolved, .realloc = realloc_unresolved };
static MP_TLS int resolving;
static pthread_once_t once = PTHREAD_ONCE_INIT;

bool mp_real_resolving(void) { return resolving; }

static void resolve(void)
{
    resolving = 1;
    mp_real_t r;
    r.malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    r.free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    r.calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    r.realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    r.posix_memalign = (int (*)(void **, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
    r.aligned_alloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "aligned_alloc");
    r.memalign = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "memalign");
    r.valloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "valloc");
    r.pvalloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "pvalloc");
    r.malloc_usable_size = (size_t (*)(void *))dlsym(RTLD_NEXT, "malloc_usable_size");
    /* Publish malloc last: the hooks test it to know the table is complete. */
    if (r.free) mp_real.free = r.free;
    mp_real.calloc = r.calloc;
    if (r.realloc) mp_real.realloc = r.realloc;
    mp_real.posix_memalign = r.posix_memalign;
    mp_real.aligned_alloc = r.aligned_alloc;
    mp_real.memalign = r.memalign;
    mp_real.valloc = r.valloc;
    mp_real.pvalloc = r.pvalloc;
    mp_real.malloc_usable_size = r.malloc_usable_size;
    __atomic_store_n(&mp_real.malloc, r.malloc, __ATOMIC_RELEASE);
    resolving = 0;
}

bool mp_real_init(void)
{
    if (resolving) return false;
    pthread_once(&once, resolve);
    return __atomic_load_n(&mp_real.malloc, __ATOMIC_ACQUIRE) != NULL;
}

void *mp_real_lookup(const char *name)
{
    mp_busy_enter();
    void *p = dlsym(RTLD_NEXT, name);
    mp_busy_leave();
    return p;
}

void *mp_real_cached(void **slot, const char *name)
{
    void *f = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (!f) {
        f = mp_real_lookup(name);
        __atomic_store_n(slot, f, __ATOMIC_RELEASE);
    }
    return f;
}
