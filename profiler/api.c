/* profiler/api.c - definitions of the public API in mapprof.h (exported by libmapprof.so). */
#include "profiler/mapprof.h"

#include <errno.h>

#include "profiler/profiler.h"

#undef mapprof_dump
__attribute__((visibility("default"))) int mapprof_dump(const char *tag)
{
    int e = mp_dump(tag ? tag : "api");
    if (e) { errno = e; return -1; }
    return 0;
}
