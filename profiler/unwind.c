/* profiler/unwind.c - libunwind's unw_backtrace, or a bounds-checked frame-pointer walk.
 *
 * The frame-pointer walk trusts nothing: each frame must lie above the previous one, inside
 * this thread's stack, and be 8-aligned; the walk ends at the first frame that fails. Frames of
 * code built without frame pointers are skipped or end the walk early: that is the price of
 * the fast path, and why libunwind is the default. */
#define _GNU_SOURCE
#include "profiler/unwind.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <string.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "profiler/options.h"
#include "profiler/profiler.h"

#define OWN_MAX 4
static uintptr_t own_lo[OWN_MAX], own_hi[OWN_MAX];   /* executable segments of this library */
static int own_n;

static int find_own(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    uintptr_t self = (uintptr_t)data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (self < lo || self >= hi) continue;
        /* This object holds us: record all its executable segments. */
        for (int j = 0; j < info->dlpi_phnum && own_n < OWN_MAX; j++) {
            const ElfW(Phdr) *q = &info->dlpi_phdr[j];
            if (q->p_type == PT_LOAD && (q->p_flags & PF_X)) {
                own_lo[own_n] = info->dlpi_addr + q->p_vaddr;
                own_hi[own_n] = own_lo[own_n] + q->p_memsz;
                own_n++;
            }
        }
        return 1;
    }
    return 0;
}

void mp_unwind_init(void)
{
    if (own_n) return;
    dl_iterate_phdr(find_own, (void *)(uintptr_t)&mp_unwind_init);
}

static int is_own(uintptr_t pc)
{
    for (int i = 0; i < own_n; i++)
        if (pc >= own_lo[i] && pc < own_hi[i]) return 1;
    return 0;
}

/* The top of this thread's stack, learned once per thread (pthread_getattr_np may allocate,
 * which is fine: we run under the reentrancy guard). */
static uintptr_t stack_top(uintptr_t sp)
{
    if (mp_tls.stack_hi > sp) return mp_tls.stack_hi;
    mp_tls.scrub = MP_UNWIND_SCRUB_DEEP;
    pthread_attr_t a;
    void *addr;
    size_t size;
    uintptr_t hi = 0;
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
        if (pthread_attr_getstack(&a, &addr, &size) == 0) hi = (uintptr_t)addr + size;
        pthread_attr_destroy(&a);
    }
    if (hi <= sp) hi = (sp | 4095) + 1;     /* unknown: only our own page is sure to be mapped */
    mp_tls.stack_hi = hi;
    return hi;
}

__attribute__((noinline)) static int fp_walk(uintptr_t *pcs, int max)
{
    uintptr_t *fp = __builtin_frame_address(0);
    uintptr_t lo = (uintptr_t)fp, hi = stack_top(lo);
    int n = 0;
    while (n < max) {
        uintptr_t f = (uintptr_t)fp;
        /* written so that no sum can wrap: rbp may hold any value in code without frame pointers */
        if (f < lo || hi < 2 * sizeof(uintptr_t) || f > hi - 2 * sizeof(uintptr_t) || (f & 7)) break;
        uintptr_t ra = fp[1];
        if (ra < 4096) break;
        pcs[n++] = ra;
        uintptr_t *next = (uintptr_t *)fp[0];
        if ((uintptr_t)next <= f) break;
        lo = f;
        fp = next;
    }
    return n;
}

int mp_unwind_capture(uintptr_t *pcs, int max, int method)
{
    uintptr_t *buf = mp_tls.raw;
    int cap = max + 16 < 256 + 16 ? max + 16 : 256 + 16;
    int n;
    if (method == MP_UNWIND_FP)
        n = fp_walk(buf, cap);
    else {
        n = unw_backtrace((void **)buf, cap);
        mp_tls.scrub = MP_UNWIND_SCRUB_DEEP;
    }
    if (n < 0) n = 0;
    /* Our frames go wherever they are: the hook at the leaf, and the map wrappers (GHashTable)
     * in the middle of stacks that allocate inside a hooked call. */
    int out = 0;
    for (int i = 0; i < n && out < max; i++)
        if (!is_own(buf[i])) pcs[out++] = buf[i];
    return out;
}
