/* interpose/bootstrap.c - a static arena for the allocations dlsym makes before the real
 * malloc is known. Blocks carry their size in a 16-byte header (realloc and
 * malloc_usable_size need it); free ignores them. 256 KiB is far more than dlsym needs. */
#include <stdint.h>
#include <string.h>

#include "interpose/real.h"

_Alignas(4096) char mp_boot_arena[MP_BOOT_SIZE];
#define arena mp_boot_arena
static size_t used;

void *mp_boot_alloc(size_t size, size_t align)
{
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
