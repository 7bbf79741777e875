/* interpose/cxx.c - C++ operator new and delete, every form (plain, array, nothrow, sized,
 * aligned), written in C under their mangled names (x86-64 Itanium ABI, size_t = 'm').
 *
 * new allocates as the C++ runtime's own operator does (malloc, or posix_memalign for an
 * alignment past 16; size 0 as 1), through the malloc hooks' bodies: one hook, one profiler
 * call per allocation. Only when that fails does it call the runtime's operator (found lazily
 * with dlsym, since libstdc++ may be loaded after us), which runs the new_handler loop and
 * throws bad_alloc or returns NULL as the program expects. This file is built with
 * -fexceptions: a bad_alloc unwinds through us. delete frees as the runtime's delete does
 * (the size and alignment arguments ask nothing of free). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <unistd.h>

#include "interpose/real.h"
#include "profiler/profiler.h"

#define HOOK __attribute__((visibility("default")))

/* Without a C++ runtime to forward to, C cannot throw bad_alloc: abort if the caller cannot
 * take NULL. */
static void *no_runtime(int nothrow)
{
    if (!nothrow) {
        static const char msg[] = "mapprof: operator new failed and no C++ runtime to throw\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
        abort();
    }
    return NULL;
}

static inline void *first_try(size_t n, size_t align)
{
    if (n == 0) n = 1;
    if (align <= 16) return mp_hook_malloc(n);
    void *p;
    return mp_hook_posix_memalign(&p, align, n) == 0 ? p : NULL;
}

#define NEW_HOOK(sym, params, call, size, align, nothrow)                                    \
    HOOK void *sym params                                                                      \
    {                                                                                          \
        void *p = first_try(size, align);                                                      \
        if (MP_LIKELY(p != NULL)) return p;                                                    \
        void *(*r) params = MP_REAL(void *(*) params, sym);                                    \
        return r ? r call : no_runtime(nothrow);                                               \
    }

NEW_HOOK(_Znwm, (size_t n), (n), n, 0, 0)
NEW_HOOK(_Znam, (size_t n), (n), n, 0, 0)
NEW_HOOK(_ZnwmRKSt9nothrow_t, (size_t n, const void *t), (n, t), n, 0, 1)
NEW_HOOK(_ZnamRKSt9nothrow_t, (size_t n, const void *t), (n, t), n, 0, 1)
NEW_HOOK(_ZnwmSt11align_val_t, (size_t n, size_t a), (n, a), n, a, 0)
NEW_HOOK(_ZnamSt11align_val_t, (size_t n, size_t a), (n, a), n, a, 0)
NEW_HOOK(_ZnwmSt11align_val_tRKSt9nothrow_t, (size_t n, size_t a, const void *t), (n, a, t), n, a, 1)
NEW_HOOK(_ZnamSt11align_val_tRKSt9nothrow_t, (size_t n, size_t a, const void *t), (n, a, t), n, a, 1)

/* The size, alignment and nothrow arguments go unused. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#define DELETE_HOOK(sym, params)                                                               \
    HOOK void sym params { mp_hook_free(p); }

DELETE_HOOK(_ZdlPv, (void *p))
DELETE_HOOK(_ZdaPv, (void *p))
DELETE_HOOK(_ZdlPvRKSt9nothrow_t, (void *p, const void *t))
DELETE_HOOK(_ZdaPvRKSt9nothrow_t, (void *p, const void *t))
DELETE_HOOK(_ZdlPvm, (void *p, size_t n))
DELETE_HOOK(_ZdaPvm, (void *p, size_t n))
DELETE_HOOK(_ZdlPvSt11align_val_t, (void *p, size_t a))
DELETE_HOOK(_ZdaPvSt11align_val_t, (void *p, size_t a))
DELETE_HOOK(_ZdlPvSt11align_val_tRKSt9nothrow_t, (void *p, size_t a, const void *t))
DELETE_HOOK(_ZdaPvSt11align_val_tRKSt9nothrow_t, (void *p, size_t a, const void *t))
DELETE_HOOK(_ZdlPvmSt11align_val_t, (void *p, size_t n, size_t a))
DELETE_HOOK(_ZdaPvmSt11align_val_t, (void *p, size_t n, size_t a))
#pragma GCC diagnostic pop
