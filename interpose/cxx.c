/* interpose/cxx.c - C++ operator new and delete, every form (plain, array, nothrow, sized,
 * aligned), written in C under their mangled names (x86-64 Itanium ABI, size_t = 'm').
 *
 * new forwards to the C++ runtime's own operator (found lazily with dlsym, since libstdc++ may
 * be loaded after us) so new_handler and bad_alloc behave as the program expects; the malloc it
 * calls inside is not sampled again (the guard is held). This file is built with -fexceptions:
 * a bad_alloc thrown by the real operator unwinds through us and the cleanup releases the
 * guard. delete records the free, then forwards. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "interpose/real.h"
#include "profiler/profiler.h"

#define HOOK __attribute__((visibility("default")))

static void leave_guard(int *unused) { (void)unused; mp_busy_leave(); }

/* Without a C++ runtime to forward to: malloc (our hook samples it), abort if it fails and the
 * caller cannot take NULL, since C cannot throw bad_alloc. */
static void *fallback_new(size_t n, size_t align, int nothrow)
{
    void *p = NULL;
    if (align > 16) {
        if (posix_memalign(&p, align, n)) p = NULL;
    } else {
        p = malloc(n ? n : 1);
    }
    if (!p && !nothrow) {
        static const char msg[] = "mapprof: operator new failed and no C++ runtime to throw\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
        abort();
    }
    return p;
}

#define NEW_HOOK(sym, params, call, size, align, nothrow)                                    \
    HOOK void *sym params                                                                      \
    {                                                                                          \
        static void *(*real) params;                                                           \
        void *(*r) params = __atomic_load_n(&real, __ATOMIC_ACQUIRE);                          \
        if (!r) {                                                                              \
            r = (void *(*) params)mp_real_lookup(#sym);                                        \
            __atomic_store_n(&real, r, __ATOMIC_RELEASE);                                      \
        }                                                                                      \
        if (!r) return fallback_new(size, align, nothrow);                                     \
        void *p;                                                                               \
        {                                                                                      \
            mp_busy_enter();                                                                   \
            int guard __attribute__((cleanup(leave_guard))) = 0;                               \
            (void)guard;                                                                       \
            p = r call;                                                                        \
        }                                                                                      \
        if (p) mp_note_alloc(p, size);                                                         \
        return p;                                                                              \
    }

NEW_HOOK(_Znwm, (size_t n), (n), n, 0, 0)
NEW_HOOK(_Znam, (size_t n), (n), n, 0, 0)
NEW_HOOK(_ZnwmRKSt9nothrow_t, (size_t n, const void *t), (n, t), n, 0, 1)
NEW_HOOK(_ZnamRKSt9nothrow_t, (size_t n, const void *t), (n, t), n, 0, 1)
NEW_HOOK(_ZnwmSt11align_val_t, (size_t n, size_t a), (n, a), n, a, 0)
NEW_HOOK(_ZnamSt11align_val_t, (size_t n, size_t a), (n, a), n, a, 0)
NEW_HOOK(_ZnwmSt11align_val_tRKSt9nothrow_t, (size_t n, size_t a, const void *t), (n, a, t), n, a, 1)
NEW_HOOK(_ZnamSt11align_val_tRKSt9nothrow_t, (size_t n, size_t a, const void *t), (n, a, t), n, a, 1)

#define DELETE_HOOK(sym, params, call)                                                         \
    HOOK void sym params                                                                       \
    {                                                                                          \
        static void (*real) params;                                                            \
        if (!p) return;                                                                        \
        void (*r) params = __atomic_load_n(&real, __ATOMIC_ACQUIRE);                           \
        if (!r) {                                                                              \
            r = (void (*) params)mp_real_lookup(#sym);                                         \
            __atomic_store_n(&real, r, __ATOMIC_RELEASE);                                      \
        }                                                                                      \
        if (!r) { free(p); return; }                                                           \
        mp_note_free(p);                                                                       \
        r call;                                                                                \
    }

DELETE_HOOK(_ZdlPv, (void *p), (p))
DELETE_HOOK(_ZdaPv, (void *p), (p))
DELETE_HOOK(_ZdlPvRKSt9nothrow_t, (void *p, const void *t), (p, t))
DELETE_HOOK(_ZdaPvRKSt9nothrow_t, (void *p, const void *t), (p, t))
DELETE_HOOK(_ZdlPvm, (void *p, size_t n), (p, n))
DELETE_HOOK(_ZdaPvm, (void *p, size_t n), (p, n))
DELETE_HOOK(_ZdlPvSt11align_val_t, (void *p, size_t a), (p, a))
DELETE_HOOK(_ZdaPvSt11align_val_t, (void *p, size_t a), (p, a))
DELETE_HOOK(_ZdlPvSt11align_val_tRKSt9nothrow_t, (void *p, size_t a, const void *t), (p, a, t))
DELETE_HOOK(_ZdaPvSt11align_val_tRKSt9nothrow_t, (void *p, size_t a, const void *t), (p, a, t))
DELETE_HOOK(_ZdlPvmSt11align_val_t, (void *p, size_t n, size_t a), (p, n, a))
DELETE_HOOK(_ZdaPvmSt11align_val_t, (void *p, size_t n, size_t a), (p, n, a))
