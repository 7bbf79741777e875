/* profiler/unwind.c - stack walks: by DWARF call frame information (cfi.c's cached rules, with
 * libunwind's unw_backtrace for the stacks those cannot step), or by frame pointers.
 *
 * Both walks trust nothing of the stack: each frame must lie above the previous one, inside
 * this thread's stack, and be 8-aligned. The frame-pointer walk ends at the first frame that
 * fails, and frames of code built without frame pointers are skipped or end it early: that is
 * the price of the fast path, and why the CFI walk is the default. The CFI walk hands a stack
 * that fails, or that needs a rule it cannot hold, to libunwind whole.
 *
 * Measured (make bench's cachegrind probe, rate=1, instructions as a ratio to the plain run),
 * libunwind's unw_backtrace alone (08be369) -> the CFI walk (ba9bb71): churn 2.587 -> 1.896,
 * cxxchurn 3.571 -> 2.554, threadchurn 8.405 -> 5.271, perl 2.707 -> 2.047, python 4.920 ->
 * 3.446, hashmap 3.244 -> 2.719 (frame pointers, ba9bb71: 1.672, 2.259, 4.648, 1.673, 2.122,
 * 2.519). */
#define _GNU_SOURCE
#include "profiler/unwind.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "profiler/cfi.h"
#include "profiler/log.h"
#include "profiler/options.h"
#include "profiler/profiler.h"

/* The code of this library: one range from the start of its first executable segment to the
 * end of its last (the dynamic linker maps an object's segments as one reservation, so nothing
 * else lies between them), tested with one subtraction and one comparison per frame. */
static uintptr_t own_lo, own_len;

static int find_own(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    uintptr_t self = (uintptr_t)data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (self < lo || self >= hi) continue;
        /* This object holds us: the span of all its executable segments. */
        uintptr_t xlo = UINTPTR_MAX, xhi = 0;
        for (int j = 0; j < info->dlpi_phnum; j++) {
            const ElfW(Phdr) *q = &info->dlpi_phdr[j];
            if (q->p_type != PT_LOAD || !(q->p_flags & PF_X)) continue;
            uintptr_t a = info->dlpi_addr + q->p_vaddr;
            if (a < xlo) xlo = a;
            if (a + q->p_memsz > xhi) xhi = a + q->p_memsz;
        }
        if (xlo < xhi) {
            own_lo = xlo;
            own_len = xhi - xlo;
        }
        return 1;
    }
    return 0;
}

void mp_unwind_init(void)
{
    if (own_len) return;
    dl_iterate_phdr(find_own, (void *)(uintptr_t)&mp_unwind_init);
}

static inline bool is_own(uintptr_t pc) { return pc - own_lo < own_len; }

/* The top of this thread's stack, learned once per thread (pthread_getattr_np may allocate,
 * which is fine: we run under the reentrancy guard), with its lowest address in mp_tls.
 * Nothing is learned, and the walk keeps to its own page (the only one sure to be mapped),
 * inside the program's own pthread_getattr_np, which holds a thread's lock that ours would wait
 * on (interpose/threads.c), or off the thread's stack (an alternate signal stack, a thread not
 * made by pthread), so that the walks after it keep their bounds. */
__attribute__((noinline, cold)) static uintptr_t stack_learn(uintptr_t sp)
{
    uintptr_t page = (sp | 4095) + 1;
    if (mp_tls.in_getattr) return page;
    mp_tls.scrub = MP_UNWIND_SCRUB_DEEP;
    pthread_attr_t a;
    void *addr;
    size_t size;
    uintptr_t hi = 0, lo = 0;
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
        if (pthread_attr_getstack(&a, &addr, &size) == 0) {
            lo = (uintptr_t)addr;
            hi = lo + size;
        }
        size_t guard = 0;
        mp_tls.stack_guarded = pthread_attr_getguardsize(&a, &guard) == 0 && guard > 0;
        pthread_attr_destroy(&a);
    }
    if (hi <= sp || lo > sp) return page;
    mp_tls.stack_hi = hi;
    mp_tls.stack_lo = lo;
    return hi;
}

static inline uintptr_t stack_top(uintptr_t sp)
{
    uintptr_t lo = mp_tls.stack_lo;
    if (MP_LIKELY(sp - lo < mp_tls.stack_hi - lo)) return mp_tls.stack_hi;
    return stack_learn(sp);
}

/* Our frames go wherever they are: the hook at the leaf, and the map wrappers (GHashTable) in
 * the middle of stacks that allocate inside a hooked call. A walk keeps at most max of the
 * program's frames; the frame-pointer and libunwind walks read at most max + 16 frames (ours
 * among them), the CFI walk at most 16 of ours. */
#define WALK_EXTRA 16

__attribute__((noinline)) static int fp_walk(uintptr_t *pcs, int max, uintptr_t from)
{
    uintptr_t f = (uintptr_t)__builtin_frame_address(0);
    uintptr_t hi = stack_top(f);
    int out = 0, left = max + WALK_EXTRA;
    if (hi < f + 2 * sizeof(uintptr_t)) return 0;
    hi -= 2 * sizeof(uintptr_t);
    /* The hook's frame, when given and plausible (above this one, on this stack, aligned):
     * the walk starts there, without reading the frames of ours in between (5 on the sampled
     * malloc path: cachegrind, churn at rate=1, about 43 instructions fewer a walk). */
    if (from > f && from <= hi && !(from & 7)) f = from;
    /* f is a frame on this thread's stack: 8-aligned, at most hi. Each next frame must be
     * above it and pass the same tests (rbp may hold any value in code without frame
     * pointers; the tests are written so that no sum can wrap). */
    for (;;) {
        uintptr_t ra = ((const uintptr_t *)f)[1], next = ((const uintptr_t *)f)[0];
        if (ra < 4096) break;
        if (!is_own(ra)) {
            pcs[out++] = ra;
            if (out == max) break;
        }
        if (--left == 0 || next <= f || next > hi || (next & 7)) break;
        f = next;
    }
    return out;
}

/* Out of a signal frame: sp is the ucontext the kernel saved, and the interrupted frame must lie
 * above it on this stack (a handler on an alternate stack goes to libunwind). */
static inline __attribute__((always_inline)) bool interrupted(uintptr_t *pc, uintptr_t *sp,
                                                              uintptr_t *bp, uintptr_t hi)
{
    const ucontext_t *uc = (const ucontext_t *)*sp;
    if (hi - *sp < sizeof *uc) return false;
    uintptr_t nsp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    if (nsp - *sp - 1 >= hi - *sp || (nsp & 7)) return false;
    *pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    *bp = (uintptr_t)uc->uc_mcontext.gregs[REG_RBP];
    *sp = nsp;
    return true;
}

/* The walk by call frame information (cfi.c), from the hook's frame (or this one): each rule
 * gives the CFA from rsp or rbp, the return address below it and maybe rbp's slot; every
 * address read lies on this thread's stack, below its top and above the frame before. -1 when a
 * frame needs what the rules cannot say (or looks wrong): libunwind then walks the stack. */
__attribute__((noinline)) static int cfi_walk(uintptr_t *pcs, int max, uintptr_t from)
{
    uintptr_t f = (uintptr_t)__builtin_frame_address(0);
    if (max <= 0) return 0;
    uintptr_t hi = stack_top(f);
    if (hi < f + 2 * sizeof(uintptr_t)) return -1;
    if (from > f && from <= hi - 2 * sizeof(uintptr_t) && !(from & 7)) f = from;
    uintptr_t sp = f + 2 * sizeof(uintptr_t), bp = ((const uintptr_t *)f)[0];
    uintptr_t pc = ((const uintptr_t *)f)[1];
    uintptr_t *out = pcs, *const end = pcs + max;
    int own_left = WALK_EXTRA;      /* our frames read (the rest are bounded by max) */
    const uintptr_t olo = own_lo, olen = own_len;   /* locals: the stores to pcs may alias */
    const mp_cfi_ent_t *t = __atomic_load_n(&mp_cfi_table, __ATOMIC_ACQUIRE);
    if (MP_UNLIKELY(!t)) {      /* the process's first walk: its first miss makes the table */
        mp_cfi_miss(pc);
        if (!(t = __atomic_load_n(&mp_cfi_table, __ATOMIC_ACQUIRE))) return -1;
    }
    while (pc) {
        if (MP_LIKELY(pc - olo >= olen)) {
            *out++ = pc;
            if (out == end) break;
        } else if (--own_left < 0) {
            break;
        }
        mp_cfi_rule_t r = mp_cfi_rule(t, pc);
        if (MP_UNLIKELY(mp_cfi_kind(r) != MP_CFI_STEP)) {
            if (mp_cfi_kind(r) == MP_CFI_NONE) r = mp_cfi_miss(pc);  /* flushed by an unload */
            if (r == MP_CFI_SIGNAL) {
                if (!interrupted(&pc, &sp, &bp, hi)) return -1;
                if (pc - olo >= olen) {
                    *out++ = pc;
                    if (out == end) break;
                }
                r = mp_cfi_rule(t, pc + 1);     /* the row at pc: it is no return address */
                if (mp_cfi_kind(r) == MP_CFI_NONE) r = mp_cfi_miss(pc + 1);
            }
            if (mp_cfi_kind(r) == MP_CFI_END) break;
            if (mp_cfi_kind(r) != MP_CFI_STEP) return -1;
        }
        uintptr_t cfa = (mp_cfi_on_rbp(r) ? bp : sp) + (uintptr_t)mp_cfi_cfa_off(r);
        /* above this frame, at most the stack's top, aligned (one compare for the first two:
         * cfa - sp - 1 wraps for cfa <= sp) */
        if (MP_UNLIKELY(cfa - sp - 1 >= hi - sp || (cfa & 7))) return -1;
        if (mp_cfi_rbp_saved(r)) {
            uintptr_t at = cfa + (uintptr_t)mp_cfi_rbp_off(r);   /* below cfa - 8, aligned */
            if (MP_UNLIKELY(at < sp)) return -1;
            bp = *(const uintptr_t *)at;
        }
        pc = ((const uintptr_t *)cfa)[-1];
        sp = cfa;
    }
    return (int)(out - pcs);
}

/* Set once an object was unloaded: libunwind's per-thread trace cache (unw_backtrace's) keeps
 * a frame's rule by address, and no flush reaches it. After an object was unloaded and another
 * loaded at its address, it stepped the new code by the old rules and cut its stacks there
 * (tests/preload/reloader.c); with every walk of that program left to libunwind, it once read
 * on from a wrong frame and crashed inside unw_backtrace. unw_step's caches are flushed by
 * unw_flush_cache: after an unload, libunwind's walks go step by step. */
static bool unloaded;

/* unw_backtrace without its trace cache: step by step. */
__attribute__((noinline)) static int libunwind_steps(uintptr_t *buf, int max)
{
    unw_context_t ctx;
    unw_cursor_t c;
    if (unw_getcontext(&ctx) || unw_init_local(&c, &ctx)) return 0;
    int n = 0;
    unw_word_t ip;
    do {
        if (unw_get_reg(&c, UNW_REG_IP, &ip) || !ip) break;
        buf[n++] = ip;
    } while (n < max && unw_step(&c) > 0);
    return n;
}

/* libunwind's walk, our frames dropped. */
__attribute__((noinline)) static int libunwind_walk(uintptr_t *pcs, int max)
{
    uintptr_t *buf = mp_tls.raw;
    int n = MP_LIKELY(!__atomic_load_n(&unloaded, __ATOMIC_RELAXED))
          ? unw_backtrace((void **)buf, max + WALK_EXTRA) : libunwind_steps(buf, max + WALK_EXTRA);
    mp_tls.scrub = MP_UNWIND_SCRUB_DEEP;
    /* Our frames leave by compaction in place, with no branch a frame: each pc is written
     * where the next kept one goes and counted when it is not ours (out <= i, so in bounds),
     * then the kept ones are copied out at once. 9 instructions a frame instead of 15
     * (objdump); python at rate=1 with libunwind ran 1.3% fewer instructions in all. */
    int out = 0;
    for (int i = 0; i < n; i++) {
        uintptr_t pc = buf[i];
        buf[out] = pc;
        out += !is_own(pc);
    }
    if (out > max) out = max;
    if (pcs != buf) memcpy(pcs, buf, (size_t)out * sizeof *pcs);
    return out;
}

/* unwind=verify: every stack walked both ways. */
static struct {
    uint64_t walks, fallbacks, differ;
    int shown;              /* differences described on stderr so far */
} verify;

__attribute__((noinline, cold)) static int verify_walk(uintptr_t *pcs, int max, int n)
{
    __atomic_fetch_add(&verify.walks, 1, __ATOMIC_RELAXED);
    if (n < 0) __atomic_fetch_add(&verify.fallbacks, 1, __ATOMIC_RELAXED);
    int m = libunwind_walk(mp_tls.raw, max);
    if (n < 0 || (n == m && !memcmp(pcs, mp_tls.raw, (size_t)n * sizeof *pcs))) {
        memcpy(pcs, mp_tls.raw, (size_t)m * sizeof *pcs);
        return m;
    }
    __atomic_fetch_add(&verify.differ, 1, __ATOMIC_RELAXED);
    int i = 0;
    while (i < n && i < m && pcs[i] == mp_tls.raw[i]) i++;
    if (__atomic_fetch_add(&verify.shown, 1, __ATOMIC_RELAXED) < 3)
        mp_warn("unwind verify: %d frames by CFI, %d by libunwind, first difference at frame "
                "%d: %#lx by CFI, %#lx by libunwind", n, m, i,
                i < n ? (unsigned long)pcs[i] : 0UL, i < m ? (unsigned long)mp_tls.raw[i] : 0UL);
    memcpy(pcs, mp_tls.raw, (size_t)m * sizeof *pcs);
    return m;
}

void mp_unwind_forget(void)
{
    mp_cfi_flush();
    unw_flush_cache(unw_local_addr_space, 0, 0);
    __atomic_store_n(&unloaded, true, __ATOMIC_RELAXED);
}

void mp_unwind_fork_child(void)
{
    mp_cfi_reset_lock();
    memset(&verify, 0, sizeof verify);     /* the child's report counts the child's walks */
}

void mp_unwind_report(void)
{
    if (mp_opts()->unwind != MP_UNWIND_VERIFY) return;
    mp_warn("unwind verify: %llu walks, %llu by libunwind alone, %llu differ (pid %d)",
            (unsigned long long)verify.walks, (unsigned long long)verify.fallbacks,
            (unsigned long long)verify.differ, (int)getpid());
}

/* No walk from a signal handler's free that came inside our own work (busy beyond a slow
 * path's own MP_BUSY_SLOW): the walk would take the loader's lock in dl_iterate_phdr (not
 * recursive), libunwind's, or a thread's own in pthread_getattr_np, which the interrupted code
 * may hold on this thread (seen: inside a walk's rule miss, for good), or which another thread
 * holds while it waits on a shard the interrupted code holds (seen: a dlclose freeing). Such a
 * free gets no stack. */
int mp_unwind_capture(uintptr_t *pcs, int max, int method, uintptr_t from)
{
    if (MP_UNLIKELY(mp_tls.busy > MP_BUSY_SLOW)) return 0;
    if (max > 256) max = 256;
    if (method == MP_UNWIND_FP) return fp_walk(pcs, max, from);
    int n = cfi_walk(pcs, max, from);
    if (MP_UNLIKELY(method == MP_UNWIND_VERIFY)) return verify_walk(pcs, max, n);
    return n >= 0 ? n : libunwind_walk(pcs, max);
}
