/* interpose/preload.c - the malloc family, as the dynamic linker binds it under LD_PRELOAD.
 *
 * Each hook: make sure the real functions are known (bootstrap arena until then), forward,
 * then tell the profiler (mp_note_alloc after an allocation, mp_note_free before a free, so a
 * freed address cannot be handed out again before the profiler forgot it). Nothing here
 * decides anything. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "interpose/real.h"
#include "profiler/profiler.h"

#define HOOK __attribute__((visibility("default")))

static inline bool ready(void)
{
    return MP_LIKELY(__atomic_load_n(&mp_real.malloc, __ATOMIC_ACQUIRE) != NULL) ||
           mp_real_init();
}

HOOK void *malloc(size_t n)
{
    if (MP_UNLIKELY(!ready())) return mp_boot_alloc(n, 16);
    void *p = mp_real.malloc(n);
    if (MP_LIKELY(p != NULL)) mp_note_alloc(p, n);
    return p;
}

HOOK void free(void *p)
{
    if (MP_UNLIKELY(p == NULL || mp_is_boot(p))) return;
    mp_note_free(p);
    mp_real.free(p);
}

HOOK void *calloc(size_t n, size_t m)
{
    size_t total;
    if (__builtin_mul_overflow(n, m, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    if (MP_UNLIKELY(!ready())) return mp_boot_alloc(total, 16);
    void *p = mp_real.calloc(n, m);
    if (MP_LIKELY(p != NULL)) mp_note_alloc(p, total);
    return p;
}

HOOK void *realloc(void *p, size_t n)
{
    if (p == NULL) return malloc(n);
    if (MP_UNLIKELY(mp_is_boot(p) || !ready())) {
        void *q = malloc(n);
        if (q && mp_is_boot(p)) {
            size_t old = mp_boot_size(p);
            memcpy(q, p, old < n ? old : n);
        }
        return q;
    }
    /* The old block leaves the profile now; if realloc then fails, it stays allocated but
     * untracked (a rare undercount, never a wrong free). */
    mp_note_free(p);
    void *q = mp_real.realloc(p, n);
    if (q != NULL) mp_note_alloc(q, n);
    return q;
}

HOOK void *reallocarray(void *p, size_t n, size_t m)
{
    size_t total;
    if (__builtin_mul_overflow(n, m, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, total);
}

HOOK int posix_memalign(void **out, size_t align, size_t n)
{
    if (MP_UNLIKELY(!ready())) {
        void *p = mp_boot_alloc(n, align);
        if (!p) return ENOMEM;
        *out = p;
        return 0;
    }
    int rc = mp_real.posix_memalign(out, align, n);
    if (rc == 0 && *out) mp_note_alloc(*out, n);
    return rc;
}

HOOK void *aligned_alloc(size_t align, size_t n)
{
    if (MP_UNLIKELY(!ready())) return mp_boot_alloc(n, align);
    void *p = mp_real.aligned_alloc(align, n);
    if (p) mp_note_alloc(p, n);
    return p;
}

HOOK void *memalign(size_t align, size_t n)
{
    if (MP_UNLIKELY(!ready())) return mp_boot_alloc(n, align);
    void *p = mp_real.memalign(align, n);
    if (p) mp_note_alloc(p, n);
    return p;
}

HOOK void *valloc(size_t n)
{
    if (MP_UNLIKELY(!ready())) return mp_boot_alloc(n, 4096);
    void *p = mp_real.valloc(n);
    if (p) mp_note_alloc(p, n);
    return p;
}

HOOK void *pvalloc(size_t n)
{
    if (MP_UNLIKELY(!ready())) return mp_boot_alloc(n, 4096);
    void *p = mp_real.pvalloc(n);
    if (p) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        mp_note_alloc(p, n ? (n + page - 1) & ~(page - 1) : page);
    }
    return p;
}

HOOK size_t malloc_usable_size(void *p)
{
    if (p == NULL) return 0;
    if (mp_is_boot(p)) return mp_boot_size(p);
    return mp_real.malloc_usable_size ? mp_real.malloc_usable_size(p) : 0;
}

/* Before main: resolve the real functions and start the profiler. Runs after the libraries we
 * depend on are initialized (their early allocations were passed through unsampled). */
__attribute__((constructor(101))) static void preload_init(void)
{
    mp_real_init();
    mp_init();
}
