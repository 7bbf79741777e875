/* profiler/tcount.c - see tcount.h. */
#include "profiler/tcount.h"

#include <pthread.h>
#include <string.h>

#include "profiler/arena.h"
#include "profiler/profiler.h"
#include "profiler/spin.h"

/* Two-way sets; a new stack replaces the one of its set that came in first. Direct-mapped by
 * stack id, two hot stacks whose ids met in one slot took it in turn, each turn a flush to the
 * shared counters: on the python workload at rate=1 one run in four flushed on 11% of its
 * events instead of 0.2% (which ids collide depends on the order the program first met its
 * stacks). */
#define TC_SLOTS 64
#define TC_SETS (TC_SLOTS / 2)

typedef struct tc_slot {
    uint32_t stack;                 /* 0 = empty */
    int64_t d[MP_C_COUNT];          /* pending deltas (written by the owner only) */
} tc_slot_t;

typedef struct mp_tcache {
    tc_slot_t slot[TC_SLOTS];       /* set k: slots 2k and 2k + 1 */
    uint8_t newer[TC_SETS];         /* the way of each set filled last (owner only) */
    struct mp_tcache *next_all;     /* every cache ever made (never unlinked) */
    struct mp_tcache *next_free;    /* free list, of caches whose thread exited */
} mp_tcache_t;

static mp_tcache_t *all;
static mp_tcache_t *free_list;
static mp_spin_t free_lock;
static pthread_key_t exit_key;
static int key_ok;

static void flush_slot(tc_slot_t *s)
{
    mp_stack_t *st = mp_stack_get(s->stack);
    __atomic_store_n(&s->stack, 0, __ATOMIC_RELEASE);
    for (int c = 0; c < MP_C_COUNT; c++) {
        int64_t v = __atomic_load_n(&s->d[c], __ATOMIC_RELAXED);
        if (v && st) mp_stack_add(st, c, v);
        __atomic_store_n(&s->d[c], 0, __ATOMIC_RELAXED);
    }
}

/* At thread exit: hand the deltas to the shared counters and the cache to the next thread. */
static void thread_exit(void *p)
{
    mp_tcache_t *c = p;
    mp_busy_enter();
    for (int i = 0; i < TC_SLOTS; i++)
        if (c->slot[i].stack) flush_slot(&c->slot[i]);
    mp_tls.tcache = NULL;
    mp_held_lock(&free_lock, MP_HELD_TCOUNT);
    c->next_free = free_list;
    free_list = c;
    mp_held_unlock(&free_lock, MP_HELD_TCOUNT);
    mp_busy_leave();
}

void mp_tcount_lock(void) { mp_held_lock(&free_lock, MP_HELD_TCOUNT); }
void mp_tcount_unlock(void) { mp_held_unlock(&free_lock, MP_HELD_TCOUNT); }
void mp_tcount_reset_lock(void) { mp_spin_init(&free_lock); }

void mp_tcount_init(void)
{
    key_ok = pthread_key_create(&exit_key, thread_exit) == 0;
}

static mp_tcache_t *acquire(void)
{
    mp_held_lock(&free_lock, MP_HELD_TCOUNT);
    mp_tcache_t *c = free_list;
    if (c) free_list = c->next_free;
    mp_held_unlock(&free_lock, MP_HELD_TCOUNT);
    if (!c) {
        c = mp_arena_alloc(sizeof *c);
        if (!c) return NULL;
        mp_tcache_t *head = __atomic_load_n(&all, __ATOMIC_ACQUIRE);
        do {
            c->next_all = head;
        } while (!__atomic_compare_exchange_n(&all, &head, c, true, __ATOMIC_RELEASE, __ATOMIC_ACQUIRE));
    }
    if (key_ok) pthread_setspecific(exit_key, c);
    mp_tls.tcache = c;
    return c;
}

/* d[] is written by its owner only; snapshots read a cache's concurrently (relaxed, word by
 * word). */
static inline void bump(int64_t *c, int64_t v) { __atomic_store_n(c, *c + v, __ATOMIC_RELAXED); }

/* Add an event (mp_tc_event_t's fields) to d[]: only the counters it moves, without a pass
 * over all of them. */
static inline __attribute__((always_inline)) void apply(int64_t d[MP_C_COUNT], int64_t sign,
                                                        bool alloc, int64_t bytes, int64_t w,
                                                        int64_t wb)
{
    bump(&d[MP_C_INUSE_OBJ], sign);
    bump(&d[MP_C_INUSE_BYTES], sign * bytes);
    if (alloc) {
        bump(&d[MP_C_ALLOC_OBJ], 1);
        bump(&d[MP_C_ALLOC_BYTES], bytes);
    }
    if (w) {
        bump(&d[MP_C_EST_INUSE_OBJ], sign * w);
        bump(&d[MP_C_EST_INUSE_BYTES], sign * wb);
        if (alloc) {
            bump(&d[MP_C_EST_ALLOC_OBJ], w);
            bump(&d[MP_C_EST_ALLOC_BYTES], wb);
        }
    }
}

static inline void apply_ev(int64_t d[MP_C_COUNT], const mp_tc_event_t *ev)
{
    apply(d, ev->sign, ev->alloc, ev->bytes, ev->w, ev->wb);
}

/* The slot of c holding stack, or NULL. */
static inline tc_slot_t *lookup(mp_tcache_t *c, uint32_t stack)
{
    tc_slot_t *w = &c->slot[2 * (stack & (TC_SETS - 1))];
    if (w[0].stack == stack) return &w[0];
    return w[1].stack == stack ? &w[1] : NULL;
}

/* The rest of mp_tcount_add: no cache yet (one taken from an exited thread may hold the
 * stack), or the stack not in it: it replaces the one of its set that came in first. */
__attribute__((noinline)) static void add_slow(uint32_t stack, const mp_tc_event_t *ev)
{
    /* no cache taken inside free_lock's hold (a signal handler's free at that moment) */
    mp_tcache_t *c = mp_tls.tcache ? mp_tls.tcache
                   : (mp_tls.held & MP_HELD_TCOUNT) ? NULL : acquire();
    if (!c) {
        int64_t d[MP_C_COUNT] = { 0 };
        apply_ev(d, ev);
        mp_stack_t *st = mp_stack_get(stack);
        for (int i = 0; st && i < MP_C_COUNT; i++)
            if (d[i]) mp_stack_add(st, i, d[i]);
        return;
    }
    tc_slot_t *w = lookup(c, stack);
    if (!w) {
        unsigned set = stack & (TC_SETS - 1);
        tc_slot_t *pair = &c->slot[2 * set];
        unsigned way = !pair[0].stack ? 0 : !pair[1].stack ? 1 : !c->newer[set];
        w = &pair[way];
        if (w->stack) flush_slot(w);
        __atomic_store_n(&w->stack, stack, __ATOMIC_RELEASE);
        c->newer[set] = (uint8_t)way;
    }
    apply_ev(w->d, ev);
}

/* The common case, the stack in this thread's cache, saves no registers, and the event is
 * made in memory only for the rest. Per call (cachegrind): mp_tcount_add 26.5 instructions
 * instead of 45.5 with the rest inline (perl at rate=1); mp_tcount_add_exact, its fields in
 * registers, 23.5 (threadchurn at rate=1). */
static inline __attribute__((always_inline)) void add(uint32_t stack, int64_t sign, bool alloc,
                                                      int64_t bytes, int64_t w, int64_t wb)
{
    mp_tcache_t *c = mp_tls.tcache;
    tc_slot_t *slot;
    if (MP_LIKELY(c != NULL) && MP_LIKELY((slot = lookup(c, stack)) != NULL)) {
        apply(slot->d, sign, alloc, bytes, w, wb);
        return;
    }
    add_slow(stack, &(mp_tc_event_t){ sign, alloc, bytes, w, wb });
}

void mp_tcount_add(uint32_t stack, const mp_tc_event_t *ev)
{
    add(stack, ev->sign, ev->alloc, ev->bytes, ev->w, ev->wb);
}

void mp_tcount_add_exact(uint32_t stack, int64_t sign, bool alloc, int64_t bytes)
{
    add(stack, sign, alloc, bytes, 0, 0);
}

void mp_tcount_collect(int64_t (*sum)[MP_C_COUNT], uint32_t n)
{
    for (mp_tcache_t *c = __atomic_load_n(&all, __ATOMIC_ACQUIRE); c; c = c->next_all) {
        for (int i = 0; i < TC_SLOTS; i++) {
            uint32_t id = __atomic_load_n(&c->slot[i].stack, __ATOMIC_ACQUIRE);
            if (!id || id > n) continue;
            for (int k = 0; k < MP_C_COUNT; k++) sum[id][k] += __atomic_load_n(&c->slot[i].d[k], __ATOMIC_RELAXED);
        }
    }
}
