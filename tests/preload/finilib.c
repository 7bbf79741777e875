/* Target library for the leak check (leakfini links it): glibc runs its destructor after
 * libmapprof.so's, which it ends first as a preloaded library. It holds two of the program's
 * blocks; its destructor frees one and drops the last pointer to the other, without freeing
 * it: memcheck, which looks once the process is done, reports that one definitely lost. With
 * FINILIB_EXIT set, the destructor then ends the process by _exit(3): no stream is flushed. */
#include <stdlib.h>
#include <unistd.h>

static void *volatile dropped, *volatile freed;

void finilib_hold(void *drop, void *free_me)
{
    dropped = drop;
    freed = free_me;
}

__attribute__((destructor)) static void finilib_end(void)
{
    free(freed);
    freed = NULL;
    dropped = NULL;
    if (getenv("FINILIB_EXIT")) _exit(3);
}
