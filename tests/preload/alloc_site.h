/* tests/preload/alloc_site.h - a named allocation site for the target programs: a function the
 * profile must name, so it is kept out of line and is no tail call (the barrier after malloc
 * keeps its frame on the stack). */
#ifndef MAPPROF_TESTS_ALLOC_SITE_H
#define MAPPROF_TESTS_ALLOC_SITE_H

#include <stdlib.h>

#define ALLOC_SITE(name)                                                                        \
    __attribute__((noinline)) void *name(size_t n)                                              \
    {                                                                                           \
        void *p = malloc(n);                                                                    \
        __asm__ volatile("" : : "r"(p) : "memory");                                             \
        return p;                                                                               \
    }

#endif
