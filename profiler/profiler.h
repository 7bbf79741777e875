/* profiler/profiler.h - the profiler's interface to interpose/ (internal to libmapprof.so).
 *
 * interpose/ calls mp_note_alloc after every successful allocation and mp_note_free before
 * every free; both are inline and end in a few instructions for the common case: a per-thread
 * countdown of bytes to the next sample, and a lock-free bitmap that says whether an address
 * may be a tracked block. The slow paths live in record.c.
 *
 * Reentrancy: mp_tls.busy > 0 while the profiler itself runs (unwinding, interning, dumping,
 * symbolizing) or while a hook forwards to a real function that calls malloc again (operator
 * new -> malloc). Allocations made while busy are never sampled. */
#ifndef MAPPROF_PROFILER_PROFILER_H
#define MAPPROF_PROFILER_PROFILER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profiler/options.h"
#include "profiler/spin.h"

#define MP_TLS __thread __attribute__((tls_model("initial-exec")))
#define MP_LIKELY(x) __builtin_expect(!!(x), 1)
#define MP_UNLIKELY(x) __builtin_expect(!!(x), 0)

#define MP_STACK_CACHE_BITS 6

/* Per-thread state. Zero-initialized for every new thread; `ordinal` tells the rest. */
typedef struct mp_tls {
    int busy;               /* reentrancy depth: > 0 means do not sample, do not recurse */
    int internal;           /* > 0: this thread does the profiler's own work (a dump, a leak
                             * check, the helper thread); its mallocs go to iheap.c. Implies busy */
    uint64_t ordinal;       /* 1 + the thread's number (its sampler seed's); 0 until the sampler
                             * state below is set */
    int64_t countdown;      /* bytes left before the next sample */
    uint64_t rng;           /* xorshift state for the exponential draws */
    uintptr_t stack_hi;     /* top of this thread's stack, bound for frame-pointer walks */
    uintptr_t stack_lo;     /* its lowest address (a walk from below it is off this stack) */
    bool stack_guarded;     /* that stack has a guard page: glibc made it, not the program
                             * (pthread_attr_setstack); the leak check's dead stacks are such */
    int in_getattr;         /* inside the program's pthread_getattr_np (interpose/threads.c) */
    int held_shard;         /* live-table shard whose lock this thread holds, + 1 (0: none) */
    unsigned held;          /* MP_HELD_* locks this thread holds (mp_held_lock) */
    int term_pending;       /* a termination signal that came inside our own work (busy) or
                             * the exit path, for its end (mp_busy_sub, exit_path) */
    int scrub;              /* leak check: stack bytes the current slow path may have dirtied
                             * beyond the usual (libunwind, first-time calls); see record.c */
    uint32_t map_id;        /* map whose operation this thread is inside (0: none) */
    uint32_t map_role;      /* role of what that operation allocates (mp_map_role_t) */
    bool map_exact;         /* that operation's blocks are all tracked (mp_map_ctx_enter) */
    bool map_pow2;          /* only its blocks of 2^k bytes (k >= 5) are the map's (GLib's
                             * arrays); the others, the program's (callbacks, GSlice slabs) */
    int64_t saved_countdown;/* the sampling countdown, parked while map_exact is set */
    uintptr_t pcs[256];     /* the sampled path's stack buffer: kept off the stack so the slow
                             * path stays shallow (the leak check scrubs what it used) */
    uintptr_t raw[256 + 16];/* the unwinder's raw buffer, same reason */
    struct mp_tcache *tcache;   /* this thread's counter-delta cache (tcount.c) */
    const struct mp_stack *stack_cache[1 << MP_STACK_CACHE_BITS];  /* met last (stacktab.c) */
} mp_tls_t;

extern MP_TLS mp_tls_t mp_tls __attribute__((visibility("hidden")));

/* Locks a signal handler could meet again on the thread that holds them: a handler that frees
 * (or has sampled) a block while its thread is inside the profiler would wait for good on a
 * lock that thread holds. The free and allocation paths leave out what takes a lock this
 * thread holds (record.c). The bit is set before the lock is taken (the lock's exchange
 * releases: the store stays before it) and cleared after it is released (a release store
 * after the lock's keeps its place): a handler in between only leaves out what it need not.
 * (Signal fences there cost 1.3% of the instructions at rate=1, measured: they made the
 * compiler reload what it held in registers.) */
enum {
    MP_HELD_DANGLING = 1, MP_HELD_MAPS = 2, MP_HELD_TCOUNT = 4, MP_HELD_STACKS = 8, MP_HELD_OWN = 16
};
static inline void mp_held_lock(mp_spin_t *l, unsigned bit)
{
    mp_tls.held |= bit;
    mp_spin_lock(l);
}
static inline void mp_held_unlock(mp_spin_t *l, unsigned bit)
{
    mp_spin_unlock(l);
    __atomic_store_n(&mp_tls.held, mp_tls.held & ~bit, __ATOMIC_RELEASE);
}

/* ---- live-block filter (livetab.c) ----
 * Per lazily mapped 4 GiB leaf of the 47-bit address space: first a count of tracked blocks
 * per 4 KiB page (16 bits each, 2 MiB of address space per leaf), then one bit per 16-byte
 * granule, set while a tracked block starts in that granule. Read without a lock. The counts
 * come first because they are small: at the default rate nearly every page counts 0, and a
 * free reads one cache line of counts per 128 KiB of heap instead of a bitmap line per 8 KiB
 * (measured on threadchurn: the bitmap load was 81% of the free hook's own samples). */
#define MP_FILTER_LEAF_SHIFT 32
#define MP_FILTER_COUNT_BYTES ((size_t)2 << (MP_FILTER_LEAF_SHIFT - 12))
#define MP_FILTER_BITS_BYTES ((size_t)1 << (MP_FILTER_LEAF_SHIFT - 4 - 3))
#define MP_FILTER_LEAVES (1u << (47 - MP_FILTER_LEAF_SHIFT))     /* leaves of the 47-bit space */
extern uint64_t *mp_filter_top[MP_FILTER_LEAVES] __attribute__((visibility("hidden")));

/* The leaf's layout, by a's offset in it (mp_filter_off). */
static inline uintptr_t mp_filter_off(uintptr_t a)
{
    return a & (((uintptr_t)1 << MP_FILTER_LEAF_SHIFT) - 1);
}
static inline uint16_t *mp_filter_count(uint64_t *leaf, uintptr_t off)
{
    return (uint16_t *)leaf + (off >> 12);
}
static inline uint64_t *mp_filter_word(uint64_t *leaf, uintptr_t off)
{
    return leaf + MP_FILTER_COUNT_BYTES / sizeof *leaf + (off >> 10);    /* 64 granules a word */
}
static inline uint64_t mp_filter_bit(uintptr_t off)
{
    return (uint64_t)1 << ((off >> 4) & 63);
}

/* Addresses at or above 2^47 (never a tracked block's: the table refuses them) wrap onto the
 * leaves below: a wrong "maybe" there only costs a table lookup, and no test is spent on them. */
static inline bool mp_maybe_tracked(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    uint64_t **top = &mp_filter_top[(a >> MP_FILTER_LEAF_SHIFT) & (MP_FILTER_LEAVES - 1)];
    uint64_t *leaf = __atomic_load_n(top, __ATOMIC_RELAXED);
    if (MP_LIKELY(!leaf)) return false;
    uintptr_t off = mp_filter_off(a);
    if (MP_LIKELY(!__atomic_load_n(mp_filter_count(leaf, off), __ATOMIC_RELAXED))) return false;
    return (__atomic_load_n(mp_filter_word(leaf, off), __ATOMIC_RELAXED) & mp_filter_bit(off)) != 0;
}

/* ---- the allocation path (record.c) ----
 * frame: the hook's own frame, where a frame-pointer walk may start (mp_unwind_capture), or 0. */
void mp_alloc_slow(void *p, size_t n, uintptr_t frame);
void mp_free_slow(void *p);

/* What an allocation of n bytes takes off the sampling countdown. */
static inline int64_t mp_charge(size_t n) { return (int64_t)(n > INT64_MAX / 2 ? INT64_MAX / 2 : n); }

/* What record.c's allocation and free slow paths add to mp_tls.busy, so that busy above it
 * tells a slow path entered from inside other work of ours (a signal handler's free there:
 * unwind.c does not walk then). */
#define MP_BUSY_SLOW (1 << 20)

/* For hooks that tested mp_tls.busy before allocating. */
static inline void mp_note_alloc_unbusy(void *p, size_t n, uintptr_t frame)
{
    mp_tls.countdown -= mp_charge(n);
    if (MP_LIKELY(mp_tls.countdown > 0)) return;
    mp_alloc_slow(p, n, frame);
}

static inline void mp_note_alloc(void *p, size_t n, uintptr_t frame)
{
    if (MP_UNLIKELY(mp_tls.busy)) return;
    mp_note_alloc_unbusy(p, n, frame);
}

static inline void mp_note_free(void *p)
{
    if (MP_UNLIKELY(mp_maybe_tracked(p))) mp_free_slow(p);
}

/* Into and out of the profiler's own work. A termination signal that comes inside it is left
 * for this thread's way out of all of it (trigger.c), which acts on it here. The fence keeps
 * the load after the store: a signal between them finds busy lower, and acts at once if 0. */
extern void (*mp_term_pending_act)(void) __attribute__((visibility("hidden")));  /* tls.c */
static inline void mp_busy_enter(void) { mp_tls.busy++; }
static inline void mp_busy_sub(int n)
{
    mp_tls.busy -= n;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (MP_UNLIKELY(mp_tls.term_pending) && mp_tls.busy == 0) mp_term_pending_act();
}
static inline void mp_busy_leave(void) { mp_busy_sub(1); }

/* Around the profiler's own work: busy, and allocations served from the private heap. */
static inline void mp_internal_enter(void) { mp_tls.busy++; mp_tls.internal++; }
static inline void mp_internal_leave(void) { mp_tls.internal--; mp_busy_sub(1); }

/* ---- map operation context (record.c) ----
 * While a hooked map operation runs, its allocations belong to that map. An exact context
 * parks the sampling countdown and sets it to zero, so every allocation inside takes the slow
 * path (where the sampling decision is still made on the parked countdown): the map's memory
 * is tracked block by block at any rate, and the common hot path gains no test. A labelling
 * context leaves the countdown alone: only a block sampled inside carries the map's labels; it
 * serves a source that keeps exact figures of its own memory (hashmap/'s pull). Contexts
 * nest; an exact one stays exact for the contexts inside it. */
typedef struct mp_map_ctx {
    uint32_t id, role;      /* the context that was active before */
    bool exact, pow2;
} mp_map_ctx_t;

static inline mp_map_ctx_t mp_map_ctx_enter_as(uint32_t id, uint32_t role, bool exact)
{
    mp_map_ctx_t prev = { mp_tls.map_id, mp_tls.map_role, mp_tls.map_exact, mp_tls.map_pow2 };
    if (!id) return prev;
    mp_tls.map_pow2 = false;
    if (exact && !prev.exact) {
        mp_tls.saved_countdown = mp_tls.countdown;
        mp_tls.countdown = 0;
        mp_tls.map_exact = true;
    }
    mp_tls.map_id = id;
    mp_tls.map_role = role;
    return prev;
}

static inline mp_map_ctx_t mp_map_ctx_enter(uint32_t id, uint32_t role)
{
    return mp_map_ctx_enter_as(id, role, true);
}

/* An exact context for a map whose arrays are all of 2^k bytes (GLib's): what else is
 * allocated inside (the program's callbacks, an allocator's slabs) is not the map's. */
static inline mp_map_ctx_t mp_map_ctx_enter_arrays(uint32_t id, uint32_t role)
{
    mp_map_ctx_t prev = mp_map_ctx_enter_as(id, role, true);
    if (id) mp_tls.map_pow2 = true;
    return prev;
}

static inline void mp_map_ctx_leave(mp_map_ctx_t prev)
{
    if (!mp_tls.map_id) return;
    if (mp_tls.map_exact && !prev.exact) mp_tls.countdown = mp_tls.saved_countdown;
    mp_tls.map_exact = prev.exact;
    mp_tls.map_pow2 = prev.pow2;
    mp_tls.map_id = prev.id;
    mp_tls.map_role = prev.role;
}

/* The id of the calling thread's current stack (captured now, never sampled away), with the
 * given label; 0 on failure. For map creation sites. */
uint32_t mp_capture_stack_id(uint32_t label);

/* ---- lifetime (record.c, trigger.c) ---- */
/* Load-time initialization (options, tables, triggers). Idempotent. */
void mp_init(void);
/* The profiler's options, valid after mp_init. */
const mp_options_t *mp_opts(void);
/* Map tracking is on (the maps option; true until the options are read). */
bool mp_maps_on(void);
/* Which entries' pointers are recorded (the dangling option, MP_DANGLING_*; all of them until
 * the options are read), and whether any are. */
int mp_dangling_mode(void);
bool mp_dangling_on(void);
/* Write a profile now ("exit", "signal", "interval", "inuse", or a user tag). 0 or errno. */
int mp_dump(const char *tag);

#endif
