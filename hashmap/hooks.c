/* hashmap/hooks.c - who listens, and how events reach the listener.
 *
 * hm_hooks_now is the one pointer the operations test. It starts as a placeholder meaning
 * "not resolved yet"; the first hm_new resolves it (unless hm_set_hooks came first) by looking
 * up HM_HOOKS_SYMBOL with dlsym(RTLD_DEFAULT): a function `const hm_hooks_t *NAME(void)`
 * that a preloaded profiler defines. Resolution happens once, by whichever thread wins a
 * compare-and-swap; hm_set_hooks always wins over it. Each map records the listener it
 * announced itself to (m->hooks) and only that listener hears about it, so switching
 * listeners never sends one events about a map it was not told of, and hm_set_hooks(NULL)
 * silences every map at once.
 *
 * The slow halves of the event wrappers live here, out of line: the operations inline only
 * the test. This library must not define HM_HOOKS_SYMBOL itself. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"

/* Placeholders; their addresses are never handed to anyone. */
static const hm_hooks_t unresolved, resolving;

_Atomic(const hm_hooks_t *) hm_hooks_now = &unresolved;

void hm_set_hooks(const hm_hooks_t *hooks)
{
    atomic_store_explicit(&hm_hooks_now, hooks, memory_order_release);
}

static const hm_hooks_t *lookup(void)
{
    void *sym = dlsym(RTLD_DEFAULT, HM_HOOKS_SYMBOL);
    if (!sym) return NULL;
    const hm_hooks_t *(*fn)(void);
    memcpy(&fn, &sym, sizeof fn);   /* object pointer to function pointer, as POSIX allows */
    return fn();
}

const hm_hooks_t *hm_hooks_resolve(void)
{
    const hm_hooks_t *h = atomic_load_explicit(&hm_hooks_now, memory_order_acquire);
    while (h == &unresolved || h == &resolving) {
        if (h == &unresolved) {
            if (atomic_compare_exchange_strong(&hm_hooks_now, &h, &resolving)) {
                const hm_hooks_t *found = lookup();
                const hm_hooks_t *expect = &resolving;
                /* Fails only when hm_set_hooks ran meanwhile: its choice stands. */
                atomic_compare_exchange_strong(&hm_hooks_now, &expect, found);
                h = atomic_load_explicit(&hm_hooks_now, memory_order_acquire);
            }
            continue;   /* h now holds what another thread put there */
        }
        sched_yield();  /* another thread is inside dlsym: it takes microseconds */
        h = atomic_load_explicit(&hm_hooks_now, memory_order_acquire);
    }
    return h;
}

void *hm_alloc_ev(hm_map_t *m, const hm_hooks_t *h, hm_mem_t what, size_t n)
{
    uint64_t token = h->alloc_begin ? h->alloc_begin(m, what) : 0;
    void *p = m->alloc.alloc(n, m->alloc.ctx);
    if (h->alloc_end) h->alloc_end(m, what, token, p, n);
    return p;
}

void hm_free_ev(hm_map_t *m, const hm_hooks_t *h, hm_mem_t what, void *p, size_t n)
{
    if (h->freeing) h->freeing(m, what, p, n);
    m->alloc.free(p, n, m->alloc.ctx);
}

void hm_ev_grow(hm_map_t *m, bool same_size, bool finished)
{
    const hm_hooks_t *h = hm_listener(m);
    if (h && h->grow) h->grow(m, m->B, same_size, finished);
}

void hm_fatal(const char *msg)
{
    /* No stdio: this may run inside an allocator hook or with a lock held. */
    static const char pre[] = "fatal error: hashmap: ";
    ssize_t r = write(2, pre, sizeof pre - 1);
    r = write(2, msg, strlen(msg));
    r = write(2, "\n", 1);
    (void)r;
    abort();
}
