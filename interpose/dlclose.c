/* interpose/dlclose.c - dlclose, then the unwinders forget what they learned of code addresses.
 *
 * The unwinders keep a rule per return address (profiler/cfi.c, and libunwind's own caches); an
 * object unloaded and another loaded at its address would be stepped by the old rules (seen:
 * two plugins loaded in turn at one address, the second's stacks cut at its first frame by
 * both). Unloads inside the C library that bypass dlclose (a failed dlopen) are caught on the
 * next rule the CFI table parses, by dl_iterate_phdr's count of unloads. */
#define _GNU_SOURCE
#include <dlfcn.h>

#include "interpose/real.h"
#include "profiler/unwind.h"

__attribute__((visibility("default"))) int dlclose(void *handle)
{
    int (*fn)(void *) = MP_REAL(int (*)(void *), dlclose);
    if (!fn) return -1;
    int r = fn(handle);
    mp_unwind_forget();
    return r;
}
