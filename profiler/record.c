/* profiler/record.c - the sampled allocation path, the tracked free path, init and fork.
 *
 * Order on the sampled path (STYLE: guard -> countdown -> unwind -> tables): the stack is
 * captured into a buffer on this thread's stack before any lock is taken; interning and the
 * live table take short spinlocks that nothing inside them can re-enter (the guard is held, so
 * a signal handler that allocates is passed straight through). */
#define _GNU_SOURCE
#include "profiler/profiler.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "profiler/arena.h"
#include "profiler/dangling.h"
#include "profiler/iheap.h"
#include "profiler/leakcheck.h"
#include "profiler/livetab.h"
#include "profiler/maps.h"
#include "profiler/log.h"
#include "profiler/record.h"
#include "profiler/sample.h"
#include "profiler/stacktab.h"
#include "profiler/tcount.h"
#include "profiler/trigger.h"
#include "profiler/unwind.h"


static mp_options_t opts;
static int enabled;                 /* 1 once init finished and tables work */
static uint64_t thread_ordinal;     /* gives each thread its own sampler seed */
static uint64_t seed;               /* from the seed option, or random */
static struct timespec t0;          /* profiler start */
static struct timespec t0_coarse;   /* the same on the coarse clock (block timestamps) */
static int64_t inuse_est_fix;       /* estimated in-use bytes (fixed point), when inuse_step */

const mp_options_t *mp_opts(void) { return &opts; }
bool mp_enabled(void) { return __atomic_load_n(&enabled, __ATOMIC_ACQUIRE); }
bool mp_maps_on(void) { return !mp_enabled() || opts.maps; }

uint32_t mp_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
    int64_t ms = (int64_t)(t.tv_sec - t0_coarse.tv_sec) * 1000 + (t.tv_nsec - t0_coarse.tv_nsec) / 1000000;
    return ms > 0 ? (uint32_t)ms : 0;
}

int64_t mp_uptime_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)(t.tv_sec - t0.tv_sec) * 1000000000 + (t.tv_nsec - t0.tv_nsec);
}

/* This thread's sampler, from its number (taken once) and the current seed and rate. */
static void thread_init(void)
{
    if (!mp_tls.ordinal) {
        uint64_t ord = __atomic_fetch_add(&thread_ordinal, 1, __ATOMIC_RELAXED);
        mp_tls.ordinal = ord + 1;
        /* a second thread; any later one asks too, as the second may come before init */
        if (ord >= 1) mp_trigger_threads();
    }
    mp_tls.rng = mp_sample_seed(seed, mp_tls.ordinal - 1);
    mp_tls.countdown = mp_sample_next(&mp_tls.rng, opts.rate);
    if (opts.leak_check) mp_leak_thread_start();
}

/* account() with estimates (rate above 1) or the in-use trigger. */
__attribute__((noinline)) static void account_est(const mp_block_t *b, int sign, bool alloc)
{
    mp_tc_event_t ev = { .sign = sign, .alloc = alloc, .bytes = (int64_t)b->size };
    int64_t wb = (int64_t)b->size << MP_FIX_SHIFT;     /* estimated bytes, fixed point */
    if (opts.rate > 1) {
        ev.w = mp_sample_weight_fix(b->size, opts.rate);
        ev.wb = wb = (int64_t)((double)ev.w * (double)b->size);
    }
    mp_tcount_add(b->stack, &ev);
    if (opts.inuse_step) {
        int64_t now = __atomic_add_fetch(&inuse_est_fix, sign * wb, __ATOMIC_RELAXED);
        if (sign > 0) mp_trigger_inuse(now >> MP_FIX_SHIFT);
    }
}

/* Counters of one block, added (sign 1) or removed (sign -1) from its stack. At rate 1 every
 * weight is 1: the estimates are the raw counts (snapshot.c), so the event carries none and
 * goes in registers, with no frame here. */
static inline void account(const mp_block_t *b, int sign, bool alloc)
{
    if (!b->stack) return;
    if (MP_LIKELY(opts.rate <= 1 && !opts.inuse_step))
        mp_tcount_add_exact(b->stack, sign, alloc, (int64_t)b->size);
    else
        account_est(b, sign, alloc);
}

/* A block left the heap (freed, or found stale): take it out of its stack and its map. (A
 * free from a signal handler inside one of those tables' locks on this thread: each leaves
 * its part out, see mp_held_lock.) */
static void forget(const mp_block_t *b)
{
    if (b->stack) account(b, -1, false);
    if (MP_UNLIKELY(b->role & MP_BLOCK_WATCHED)) mp_dangling_freed(b);
    if (b->map) {
        int64_t left = mp_map_mem(b->map, (mp_map_role_t)MP_BLOCK_ROLE(b), -(int64_t)b->size, -1);
        /* A GHashTable's arrays freed outside any operation we saw (an unref inside GLib
         * itself): the table is gone. */
        if (left == 0 && mp_tls.map_id != b->map && mp_map_kind(b->map) == MP_KIND_GHASH)
            mp_map_destroy_id(b->map);
    }
}

/* The sampled path outside any exact map context; inside a labelling one, the block carries
 * the map's labels on its stack and nothing else of the map. */
static void sample_plain(void *p, size_t n, uintptr_t frame)
{
    mp_live_prefetch((uintptr_t)p);
    mp_tls.countdown = mp_sample_next(&mp_tls.rng, opts.rate);
    uintptr_t *pcs = mp_tls.pcs;
    int depth = mp_unwind_capture(pcs, opts.max_depth, opts.unwind, frame);
    mp_block_t b = { .addr = (uintptr_t)p, .size = mp_block_size(n) };
    uint32_t label = 0;
    if (mp_tls.map_id) label = mp_map_label(mp_tls.map_id, (mp_map_role_t)mp_tls.map_role);
    b.stack = mp_stack_intern(pcs, depth, label);
    if (!b.stack) return;
    mp_block_t stale;
    bool ok;
    if (mp_live_insert(&b, &stale, &ok)) forget(&stale);
    if (ok) account(&b, 1, true);
}

/* Inside an exact map context: every block is tracked for the map; it is also sampled (with the
 * map's label) when the parked countdown says so. */
static void track_for_map(void *p, size_t n, uintptr_t frame)
{
    mp_live_prefetch((uintptr_t)p);
    mp_tls.countdown = 0;   /* stay on the slow path until the context ends */
    mp_tls.saved_countdown -= mp_charge(n);
    bool sampled = mp_tls.saved_countdown <= 0;
    /* In a context of 2^k-byte arrays, another size is the program's, sampled as any block */
    bool mine = !mp_tls.map_pow2 || (n >= 32 && !(n & (n - 1)));
    if (!mine && !sampled) return;
    mp_block_t b = { .addr = (uintptr_t)p, .size = mp_block_size(n) };
    if (mine) {
        b.role = (uint16_t)mp_tls.map_role;
        b.map = mp_tls.map_id;
    }
    if (sampled) {
        mp_tls.saved_countdown = mp_sample_next(&mp_tls.rng, opts.rate);
        uintptr_t *pcs = mp_tls.pcs;
        int depth = mp_unwind_capture(pcs, opts.max_depth, opts.unwind, frame);
        b.stack = mp_stack_intern(pcs, depth, mine ? mp_map_label(b.map, (mp_map_role_t)MP_BLOCK_ROLE(&b)) : 0);
        if (!b.stack && !mine) return;
    }
    mp_block_t stale;
    bool ok;
    if (mp_live_insert(&b, &stale, &ok)) forget(&stale);
    if (!ok) return;
    if (b.map) mp_map_mem(b.map, (mp_map_role_t)MP_BLOCK_ROLE(&b), (int64_t)n, 1);
    if (b.stack) account(&b, 1, true);
}

/* Under the leak check, the stack below the hooks must not keep stale copies of block
 * addresses (our records, unwind buffers): they would look like pointers to blocks the program
 * has lost. Wipe the area our slow paths used once they return: measured (the deepest byte
 * changed below the hook, tests/preload/stackclean.c), the plain paths with the frame-pointer
 * walk stay within 400 bytes, libunwind's within 3.5 KiB, and a thread's first walk (which asks
 * pthread for its stack) within 3.2 KiB; those two ask for more through mp_tls.scrub, and
 * every entry that may walk wipes before it returns (the slow paths, mp_attribute_block,
 * mp_capture_stack_id), so a request is met at the depth it came from and a small stack is
 * not overrun. */
#define SCRUB_PLAIN 512
__attribute__((noinline)) static void scrub_stack(void)
{
    size_t n = mp_tls.scrub > SCRUB_PLAIN ? (size_t)mp_tls.scrub : SCRUB_PLAIN;
    mp_tls.scrub = 0;
    volatile char *area = __builtin_alloca(n);
    memset((char *)area, 0, n);
    __asm__ volatile("" : : "r"(area) : "memory");
}

static void alloc_slow(void *p, size_t n, uintptr_t frame);
static void init_early(void);
static void free_slow(void *p);

void mp_alloc_slow(void *p, size_t n, uintptr_t frame)
{
    alloc_slow(p, n, frame);
    if (MP_UNLIKELY(opts.leak_check)) scrub_stack();
}

void mp_free_slow(void *p)
{
    free_slow(p);
    if (MP_UNLIKELY(opts.leak_check)) scrub_stack();
}

/* The slow paths' end: a termination signal that landed inside is acted on now, outside our
 * own work (unless this is a free inside other work of ours: its end acts then). */
static inline void slow_leave(void) { mp_busy_sub(MP_BUSY_SLOW); }

__attribute__((noinline)) static void alloc_slow(void *p, size_t n, uintptr_t frame)
{
    mp_tls.busy += MP_BUSY_SLOW;
    if (MP_UNLIKELY(!mp_tls.ordinal)) {
        thread_init();
        if (!mp_tls.map_exact) {
            mp_tls.countdown -= mp_charge(n);
            if (mp_tls.countdown > 0) goto out;
        }
    }
    if (MP_UNLIKELY(!mp_enabled())) init_early();
    if (MP_UNLIKELY(mp_tls.held)) goto out;    /* a signal handler inside our locks: see forget */
    if (MP_UNLIKELY(!mp_enabled())) {
        /* Being initialized on another thread: come back after a while. */
        mp_tls.countdown = mp_sample_next(&mp_tls.rng, opts.rate ? opts.rate : 524288);
        goto out;
    }
    if (mp_tls.map_exact) track_for_map(p, n, frame);
    else sample_plain(p, n, frame);
    mp_trigger_poll();
out:
    slow_leave();
}

__attribute__((noinline)) static void free_slow(void *p)
{
    mp_block_t b;
    mp_tls.busy += MP_BUSY_SLOW;
    if (mp_live_remove((uintptr_t)p, &b)) forget(&b);
    slow_leave();
}

void mp_attribute_block(const void *p, size_t n, uint32_t map, mp_map_role_t role)
{
    if (!mp_enabled()) return;
    mp_busy_enter();
    mp_block_t b = { .addr = (uintptr_t)p, .size = mp_block_size(n), .role = role, .map = map }, old;
    /* A block already tracked (sampled) keeps its stack and counters; it gains the map. */
    if (mp_live_remove((uintptr_t)p, &old)) {
        if (old.map) mp_map_mem(old.map, (mp_map_role_t)MP_BLOCK_ROLE(&old), -(int64_t)old.size, -1);
        b.role |= old.role & MP_BLOCK_WATCHED;   /* its watch count */
        b.stack = old.stack;
        b.size = old.size;
    }
    bool ok;
    if (mp_live_insert(&b, &old, &ok)) forget(&old);
    if (ok) mp_map_mem(map, role, (int64_t)b.size, 1);
    else if (b.stack) account(&b, -1, false);
    if (MP_UNLIKELY(opts.leak_check)) scrub_stack();   /* a stale record's free may have walked */
    mp_busy_leave();
}

uint32_t mp_capture_stack_id(uint32_t label)
{
    if (!mp_enabled()) return 0;
    mp_busy_enter();
    uintptr_t pcs[256];     /* not the TLS buffer: callers may be inside the sampled path */
    int depth = mp_unwind_capture(pcs, opts.max_depth, opts.unwind, 0);
    uint32_t id = mp_stack_intern(pcs, depth, label);
    /* the walk's request is met here, at the depth it went, not by a later slow path */
    if (MP_UNLIKELY(opts.leak_check)) scrub_stack();
    mp_busy_leave();
    return id;
}

/* ---- fork ----
 * The parent holds every profiler lock across fork so the child never inherits one held by a
 * thread that does not exist there; the child resets them and starts its own file sequence. */
static void fork_prepare(void)
{
    mp_busy_enter();
    mp_trigger_lock();
    mp_stack_lock();
    mp_map_lock();
    mp_dangling_lock();
    mp_leak_lock();
    mp_iheap_lock();        /* before the shards: a commit of the private heap claims its pages */
    mp_live_lock_all();
    mp_tcount_lock();
    mp_own_lock();          /* last: the tables take it when they map pages */
}

static void fork_parent(void)
{
    mp_own_unlock();
    mp_tcount_unlock();
    mp_live_unlock_all();
    mp_iheap_unlock();
    mp_leak_unlock();
    mp_dangling_unlock();
    mp_map_unlock();
    mp_stack_unlock();
    mp_trigger_unlock();
    mp_busy_leave();
}

static void fork_child(void)
{
    mp_own_reset_lock();
    mp_tcount_reset_lock();
    mp_iheap_reset_lock();
    mp_live_reset_locks();
    mp_dangling_reset_lock();
    mp_map_reset_lock();
    mp_stack_reset_lock();
    mp_leak_reset_lock();
    mp_unwind_fork_child();
    mp_trigger_after_fork_child();
    mp_tls.held = 0;            /* fork_prepare's holds: the locks are reset above */
    mp_tls.term_pending = 0;    /* the parent's signal, not ours */
    mp_busy_leave();
}

/* What recording needs: options, clocks, the unwinder's view of us, the tables. Runs on the
 * first allocation that reaches the slow path (libraries' constructors allocate before ours
 * runs: a leak check must see those blocks too), or from the constructor, whichever is first. */
static int early_state;     /* 0 not yet, 1 running, 2 done */

static void init_early(void)
{
    int expect = 0;
    if (!__atomic_compare_exchange_n(&early_state, &expect, 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return;
    mp_busy_enter();
    clock_gettime(CLOCK_MONOTONIC, &t0);
    clock_gettime(CLOCK_MONOTONIC_COARSE, &t0_coarse);
    mp_options_default(&opts);
    mp_options_parse(&opts, secure_getenv("MAPPROF_OPTIONS"));
    mp_log_set_quiet(opts.quiet);
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd) && !mp_options_anchor(&opts, cwd))
        mp_warn("output paths too long once anchored at %s: they stay relative", cwd);
    seed = opts.seed;
    if (!seed) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        seed = (uint64_t)t.tv_nsec ^ ((uint64_t)t.tv_sec << 20) ^ ((uint64_t)getpid() << 40);
    }
    if (mp_iheap_init()) mp_own_add((void *)mp_iheap_lo, mp_iheap_len);
    mp_unwind_init();
    mp_dangling_init((size_t)opts.freed_history, opts.dangling);
    /* This thread (numbered already if it allocated before) starts its sampler afresh with the
     * final seed and rate. */
    thread_init();
    __atomic_store_n(&enabled, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&early_state, 2, __ATOMIC_RELEASE);
    mp_busy_leave();
}

/* From the constructor: the rest (fork handlers, signal, helper thread) wants a program whose
 * libraries are initialized. */
void mp_init(void)
{
    static int once;
    if (__atomic_exchange_n(&once, 1, __ATOMIC_ACQ_REL)) return;
    init_early();
    if (!mp_enabled()) return;
    mp_busy_enter();
    mp_tcount_init();
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    mp_trigger_init();
    mp_busy_leave();
}
