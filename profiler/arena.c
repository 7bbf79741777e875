/* profiler/arena.c - bump allocation over mmap'd chunks; lock-free (CAS on the cursor). */
#include "profiler/arena.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>

#include "profiler/profiler.h"
#include "profiler/spin.h"

#define CHUNK ((size_t)1 << 20)

typedef struct chunk_state {
    char *base;     /* current chunk */
    size_t used;    /* bytes handed out from it */
} chunk_state_t;

/* The chunk being carved; published (base, used) pairs live in its head. Plain, not _Atomic:
 * only the __atomic builtins touch it (clang refuses them on an _Atomic object). */
static chunk_state_t *cur;
static size_t mapped;

/* Every mapping the profiler holds, so the leak check can leave its own tables (which hold
 * every block's address) out of the roots. */
#define OWN_MAX 4096
static mp_range_own_t own[OWN_MAX];
static size_t nown;
static mp_spin_t own_lock;

void mp_own_add(void *p, size_t size)
{
    mp_held_lock(&own_lock, MP_HELD_OWN);
    if (nown < OWN_MAX) own[nown++] = (mp_range_own_t){ (uintptr_t)p, (uintptr_t)p + size };
    mp_held_unlock(&own_lock, MP_HELD_OWN);
}

static void own_del(void *p)
{
    mp_held_lock(&own_lock, MP_HELD_OWN);
    for (size_t i = 0; i < nown; i++)
        if (own[i].lo == (uintptr_t)p) { own[i] = own[--nown]; break; }
    mp_held_unlock(&own_lock, MP_HELD_OWN);
}

void mp_own_lock(void) { mp_held_lock(&own_lock, MP_HELD_OWN); }
void mp_own_unlock(void) { mp_held_unlock(&own_lock, MP_HELD_OWN); }
void mp_own_reset_lock(void) { mp_spin_init(&own_lock); }

size_t mp_own_ranges(mp_range_own_t *out, size_t max)
{
    mp_held_lock(&own_lock, MP_HELD_OWN);
    size_t n = nown < max ? nown : max;
    for (size_t i = 0; i < n; i++) out[i] = own[i];
    mp_held_unlock(&own_lock, MP_HELD_OWN);
    return n;
}

static void *map_pages(size_t size, int extra)
{
    /* A signal handler's free inside own_lock on this thread (profiler.h): no pages, as when
     * the system has none; every caller copes. */
    if (mp_tls.held & MP_HELD_OWN) return NULL;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | extra, -1, 0);
    if (p == MAP_FAILED) return NULL;
    __atomic_fetch_add(&mapped, size, __ATOMIC_RELAXED);
    mp_own_add(p, size);
    return p;
}

void *mp_pages_alloc(size_t size) { return map_pages(size, 0); }
void *mp_pages_reserve(size_t size) { return map_pages(size, MAP_NORESERVE); }

void mp_pages_free(void *p, size_t size)
{
    if (!p || (mp_tls.held & MP_HELD_OWN)) return;     /* as above: kept, not waited for */
    own_del(p);
    munmap(p, size);
    __atomic_fetch_sub(&mapped, size, __ATOMIC_RELAXED);
}

size_t mp_arena_mapped(void) { return __atomic_load_n(&mapped, __ATOMIC_RELAXED); }

/* Each chunk starts with its own chunk_state_t; allocation CASes `used` forward. A thread that
 * finds the chunk full maps a new one and tries to publish it; the loser unmaps its spare. */
void *mp_arena_alloc(size_t size)
{
    size = (size + 15) & ~(size_t)15;
    if (size > CHUNK / 4) return mp_pages_alloc(size);
    for (;;) {
        chunk_state_t *c = __atomic_load_n(&cur, __ATOMIC_ACQUIRE);
        if (c) {
            size_t used = __atomic_load_n(&c->used, __ATOMIC_RELAXED);
            while (used + size <= CHUNK) {
                if (__atomic_compare_exchange_n(&c->used, &used, used + size, true,
                                                __ATOMIC_RELAXED, __ATOMIC_RELAXED))
                    return c->base + used;
            }
        }
        char *mem = mp_pages_alloc(CHUNK);
        if (!mem) return NULL;
        chunk_state_t *n = (chunk_state_t *)mem;
        n->base = mem;
        n->used = (sizeof *n + 15) & ~(size_t)15;
        if (!__atomic_compare_exchange_n(&cur, &c, n, false, __ATOMIC_RELEASE,
                                         __ATOMIC_RELAXED))
            mp_pages_free(mem, CHUNK);
    }
}
