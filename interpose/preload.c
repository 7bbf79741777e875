/* interpose/preload.c - the malloc family, as the dynamic linker binds it under LD_PRELOAD.
 *
 * Each hook: make sure the real functions are known (bootstrap arena until then), forward,
 * then tell the profiler (mp_note_alloc after an allocation, mp_note_free before a free, so a
 * freed address cannot be handed out again before the profiler forgot it). Nothing here
 * decides anything. A thread doing the profiler's own work allocates from the private heap
 * (profiler/iheap.h), whose blocks free, realloc and malloc_usable_size recognize by address. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "interpose/real.h"
#include "profiler/iheap.h"
#include "profiler/profiler.h"

#define HOOK __attribute__((visibility("default")))
/* The calling hook's own frame: the first of the program's chain, where the stack walk of a
 * sampled allocation starts (mp_note_alloc). */
#define HOOK_FRAME() ((uintptr_t)__builtin_frame_address(0))

static inline bool ready(void)
{
    return MP_LIKELY(__atomic_load_n(&mp_real.malloc, __ATOMIC_ACQUIRE) != NULL) ||
           mp_real_init();
}

/* realloc of a private-heap block, from any thread: it stays private where it can. */
__attribute__((noinline, cold)) static void *iheap_realloc(void *p, size_t n)
{
    if (n == 0) {               /* as glibc: free, and NULL */
        mp_iheap_free(p);
        return NULL;
    }
    size_t old = mp_iheap_usable(p);
    if (n <= old) return p;
    void *q = mp_iheap_alloc(n);
    if (!q) q = mp_real.malloc(n);      /* untracked: profiler data, never sampled */
    if (!q) return NULL;
    memcpy(q, p, old < n ? old : n);
    mp_iheap_free(p);
    return q;
}

/* Everything but the common case of malloc and calloc (zero): not ready, busy, or the
 * allocation to be sampled (or made inside a map operation). n is the whole size (calloc's
 * product, checked). The countdown is as the fast path found it. A busy thread allocates
 * without being sampled; doing the profiler's own work, from the private heap
 * (profiler/iheap.h), falling back to the real allocator. */
static inline __attribute__((always_inline)) void *alloc_slow(size_t n, bool zero,
                                                              uintptr_t frame)
{
    if (MP_UNLIKELY(!ready())) return mp_boot_alloc(n, 16);     /* static: already zero */
    bool busy = mp_tls.busy;
    void *p = NULL;
    if (MP_UNLIKELY(busy && mp_tls.internal)) p = zero ? mp_iheap_calloc(n, 1) : mp_iheap_alloc(n);
    if (!p) p = zero ? mp_real.calloc(n, 1) : mp_real.malloc(n);
    if (MP_LIKELY(p != NULL && !busy)) mp_note_alloc_unbusy(p, n, frame);
    return p;
}

/* One copy of the slow path each, with zero a constant in it (a flag tested at run time
 * cost 10 instructions per sampled allocation, measured). Each passes its own frame, the
 * first of the program's chain (the hooks jump here), for the stack walk to start at. */
__attribute__((noinline)) static void *malloc_slow(size_t n)
{
    return alloc_slow(n, false, HOOK_FRAME());
}
__attribute__((noinline)) static void *calloc_slow(size_t n)
{
    return alloc_slow(n, true, HOOK_FRAME());
}

/* The common case of an allocation hook: not busy, and n bytes do not reach the sampling
 * countdown. It charges them before the real call, so the hook can end in a tail call to it:
 * no frame, nothing after it (a failed allocation is charged all the same). Otherwise the
 * countdown is left as it was, for the slow path to charge. */
static inline bool unsampled(size_t n)
{
    if (MP_UNLIKELY(mp_tls.busy)) return false;
    /* The countdown is never negative here (every slow path leaves it at 0 or more), so n
     * below it is the whole test, with no clamp of n: 4 instructions fewer a call (objdump). */
    uint64_t left = (uint64_t)mp_tls.countdown;
    if (MP_UNLIKELY(n >= left)) return false;
    mp_tls.countdown = (int64_t)(left - n);
    return true;
}

void *mp_hook_malloc(size_t n)
{
    void *(*real)(size_t) = __atomic_load_n(&mp_real.malloc, __ATOMIC_ACQUIRE);
    if (MP_LIKELY(real != NULL && unsampled(n))) return real(n);
    return malloc_slow(n);
}

/* What mp_hook_free's test let through: a block the filter says may be tracked (the
 * profiler's free path tells), or one of the bootstrap arena or the private heap, whose pages
 * the filter answers for (mp_live_claim). */
__attribute__((noinline)) static void free_slow(void *p)
{
    if (p == NULL || mp_is_boot(p)) return;
    if (mp_iheap_owns(p)) {
        mp_iheap_free(p);
        return;
    }
    /* The real free reads the block's header, which a program freeing an old block may not
     * have in cache: start that miss now, while the profiler looks the block up. */
    __builtin_prefetch((const char *)p - 16);
    mp_free_slow(p);
    mp_real.free(p);
}

/* The common case, NULL included: the filter says not tracked, which also means neither the
 * bootstrap arena's nor the private heap's; a tail call to the real free. */
void mp_hook_free(void *p)
{
    if (MP_LIKELY(!mp_maybe_tracked(p))) {
        mp_real.free(p);
        return;
    }
    free_slow(p);
}

/* The same function: no jump from one to the other. */
HOOK void *malloc(size_t n) __attribute__((alias("mp_hook_malloc")));

HOOK void free(void *p)
{
    mp_hook_free(p);
}

HOOK void *calloc(size_t n, size_t m)
{
    size_t total;
    if (__builtin_mul_overflow(n, m, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    void *(*real)(size_t, size_t) = __atomic_load_n(&mp_real.calloc, __ATOMIC_ACQUIRE);
    if (MP_LIKELY(real != NULL && unsampled(total))) return real(n, m);
    return calloc_slow(total);
}

/* realloc of a block the filter answers for (tracked, or the bootstrap arena's or the private
 * heap's: their pages are claimed), or whose new block may be sampled, or on a busy thread. */
__attribute__((noinline)) static void *realloc_slow(void *p, size_t n)
{
    if (mp_iheap_owns(p)) return iheap_realloc(p, n);
    if (mp_is_boot(p) || !ready()) {
        void *q = mp_hook_malloc(n);
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
    if (q != NULL) mp_note_alloc(q, n, HOOK_FRAME());
    return q;
}

/* The common case, a tail call to the real realloc: the filter says p is not tracked (so it
 * is the real allocator's and known to no table), and the new block is not to be sampled (its
 * bytes charged before, as malloc's are). */
HOOK void *realloc(void *p, size_t n)
{
    if (p == NULL) return mp_hook_malloc(n);
    if (MP_LIKELY(!mp_maybe_tracked(p) && unsampled(n))) return mp_real.realloc(p, n);
    return realloc_slow(p, n);
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

int mp_hook_posix_memalign(void **out, size_t align, size_t n)
{
    if (MP_UNLIKELY(!ready())) {
        void *p = mp_boot_alloc(n, align);
        if (!p) return ENOMEM;
        *out = p;
        return 0;
    }
    int rc = mp_real.posix_memalign(out, align, n);
    if (rc == 0 && *out) mp_note_alloc(*out, n, HOOK_FRAME());
    return rc;
}

HOOK int posix_memalign(void **out, size_t align, size_t n)
{
    return mp_hook_posix_memalign(out, align, n);
}

HOOK void *aligned_alloc(size_t align, size_t n)
{
    if (MP_UNLIKELY(!ready())) return mp_boot_alloc(n, align);
    void *p = mp_real.aligned_alloc(align, n);
    if (p) mp_note_alloc(p, n, HOOK_FRAME());
    return p;
}

HOOK void *memalign(size_t align, size_t n)
{
    if (MP_UNLIKELY(!ready())) return mp_boot_alloc(n, align);
    void *p = mp_real.memalign(align, n);
    if (p) mp_note_alloc(p, n, HOOK_FRAME());
    return p;
}

HOOK void *valloc(size_t n)
{
    if (MP_UNLIKELY(!ready())) return mp_boot_alloc(n, 4096);
    void *p = mp_real.valloc(n);
    if (p) mp_note_alloc(p, n, HOOK_FRAME());
    return p;
}

HOOK void *pvalloc(size_t n)
{
    if (MP_UNLIKELY(!ready())) return mp_boot_alloc(n, 4096);
    void *p = mp_real.pvalloc(n);
    if (p) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        mp_note_alloc(p, n ? (n + page - 1) & ~(page - 1) : page, HOOK_FRAME());
    }
    return p;
}

HOOK size_t malloc_usable_size(void *p)
{
    if (p == NULL) return 0;
    if (mp_is_boot(p)) return mp_boot_size(p);
    if (mp_iheap_owns(p)) return mp_iheap_usable(p);
    return mp_real.malloc_usable_size ? mp_real.malloc_usable_size(p) : 0;
}

/* Before main: resolve the real functions and start the profiler. Runs after the libraries we
 * depend on are initialized (their early allocations were passed through unsampled). */
__attribute__((constructor(101))) static void preload_init(void)
{
    mp_real_init();
    mp_init();
}
