/* interpose/exit.c - _exit and _Exit: the exit path runs first, then the real one.
 *
 * They run no destructor, so the process would end without its exit profile or leak check:
 * Python's fork children (os._exit ends every multiprocessing worker), a fork child after a
 * failed exec, programs that skip their teardown on purpose. The profiler decides whether it
 * may run there (profiler/trigger.h); this only forwards. glibc's own calls (posix_spawn's
 * child, inside the library) do not come here. */
#define _GNU_SOURCE
#include <sys/syscall.h>
#include <unistd.h>

#include "interpose/real.h"
#include "profiler/trigger.h"

static void (*real_exit)(int);

/* Looked up at load, not in the hook: a signal handler may call _exit while the interrupted
 * code holds the allocator's lock, and a lookup there could allocate. */
__attribute__((constructor)) static void find_real(void)
{
    __atomic_store_n(&real_exit, (void (*)(int))mp_real_lookup("_exit"), __ATOMIC_RELEASE);
}

__attribute__((visibility("default"), noreturn)) void _exit(int status)
{
    mp_trigger_exit_now();
    void (*fn)(int) = __atomic_load_n(&real_exit, __ATOMIC_ACQUIRE);
    if (fn) fn(status);
    for (;;) syscall(SYS_exit_group, status);     /* none found: end the process as glibc does */
}

/* The same function under the C99 name (glibc's is an alias too). */
__attribute__((visibility("default"), noreturn, alias("_exit"))) void _Exit(int status);
