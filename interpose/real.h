/* interpose/real.h - the real allocation functions (dlsym RTLD_NEXT) and the bootstrap arena
 * that answers allocations made before they are known (dlsym itself calls calloc). */
#ifndef MAPPROF_INTERPOSE_REAL_H
#define MAPPROF_INTERPOSE_REAL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct mp_real {
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    int (*posix_memalign)(void **, size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    void *(*memalign)(size_t, size_t);
    void *(*valloc)(size_t);
    void *(*pvalloc)(size_t);
    size_t (*malloc_usable_size)(void *);
} mp_real_t;

extern mp_real_t mp_real __attribute__((visibility("hidden")));

/* Resolve the real functions once; true when malloc/free/calloc/realloc are known. While it
 * runs on this thread, the hooks serve allocations from the bootstrap arena. */
bool mp_real_init(void);
/* True on the thread that is resolving (its allocations go to the bootstrap arena). */
bool mp_real_resolving(void);
/* dlsym(RTLD_NEXT, name) under the guard, for symbols looked up late (C++ operators). */
void *mp_real_lookup(const char *name);
/* The same, once: *slot (the caller's own static) keeps what was found. */
void *mp_real_cached(void **slot, const char *name);
/* The next definition of name, as type; NULL when there is none. */
#define MP_REAL(type, name) ({ static void *slot_; (type)mp_real_cached(&slot_, #name); })

/* The hooks' bodies (preload.c), for the C++ operators to call directly. */
void *mp_hook_malloc(size_t n);
void mp_hook_free(void *p);
int mp_hook_posix_memalign(void **out, size_t align, size_t n);

/* Bootstrap arena: a static bump allocator; its blocks are never freed. */
#define MP_BOOT_SIZE (256 * 1024)
extern char mp_boot_arena[MP_BOOT_SIZE] __attribute__((visibility("hidden")));
void *mp_boot_alloc(size_t size, size_t align);
size_t mp_boot_size(const void *p);
/* Inline: free tests it on every call. One subtraction, one compare. */
static inline bool mp_is_boot(const void *p)
{
    return (size_t)((const char *)p - mp_boot_arena) < MP_BOOT_SIZE;
}

#endif
