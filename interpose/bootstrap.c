/* interpose/bootstrap.c - a static arena for the allocations dlsym makes before the real
 * malloc is known. Blocks carry their size in a 16-byte header (realloc and
 * malloc_usable_size need it); free ignores them. 256 KiB is far more than dlsym needs.
 * The arena is claimed in the live-block filter before its first block is handed out, so the
 * free hook's one filter test sends its blocks to the slow path (which ignores them); when
 * that cannot be done, nothing is handed out. */
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "interpose/real.h"
#include "profiler/livetab.h"
#include "profiler/profiler.h"

_Alignas(4096) char mp_boot_arena[MP_BOOT_SIZE];
#define arena mp_boot_arena
static size_t used;

enum { UNCLAIMED, CLAIMING, CLAIMED, REFUSED };
static int claim_state = UNCLAIMED;
static MP_TLS bool claiming;    /* this thread is claiming (a signal handler must not wait) */

static bool claimed(void)
{
    int s = __atomic_load_n(&claim_state, __ATOMIC_ACQUIRE);
    if (MP_LIKELY(s == CLAIMED)) return true;
    if (s == UNCLAIMED && __atomic_compare_exchange_n(&claim_state, &s, CLAIMING, false,
                                                      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        claiming = true;
        s = mp_live_claim((uintptr_t)arena, sizeof arena) ? CLAIMED : REFUSED;
        claiming = false;
        __atomic_store_n(&claim_state, s, __ATOMIC_RELEASE);
        return s == CLAIMED;
    }
    while (s == CLAIMING && !claiming) {    /* another thread maps the filter: microseconds */
        sched_yield();
        s = __atomic_load_n(&claim_state, __ATOMIC_ACQUIRE);
    }
    return s == CLAIMED;
}

void *mp_boot_alloc(size_t size, size_t align)
{
    if (!claimed()) return NULL;
    if (align < 16) align = 16;
    if (align > 4096 || size > sizeof arena) return NULL;
    size_t cur = __atomic_load_n(&used, __ATOMIC_RELAXED), start, end;
    do {
        start = (cur + 16 + align - 1) & ~(align - 1);
        end = start + ((size + 15) & ~(size_t)15);
        if (end > sizeof arena) return NULL;
    } while (!__atomic_compare_exchange_n(&used, &cur, end, true, __ATOMIC_RELAXED,
                                          __ATOMIC_RELAXED));
    memcpy(arena + start - sizeof(size_t), &size, sizeof size);
    return arena + start;   /* static storage: already zero, as calloc wants */
}

size_t mp_boot_size(const void *p)
{
    size_t s;
    memcpy(&s, (const char *)p - sizeof s, sizeof s);
    return s;
}
