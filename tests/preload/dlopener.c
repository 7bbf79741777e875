/* Target program: dlopen a library that allocates, dump (its frames must be named), dlclose,
 * allocate more, exit (the exit profile must still be written). usage: dlopener PLUGIN.so */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "profiler/mapprof.h"

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 3; }
    void (*fn)(void) = (void (*)(void))dlsym(h, "plugin_alloc");
    if (!fn) return 4;
    fn();
    int rc = mapprof_dump("loaded");
    printf("dump %d\n", rc);
    dlclose(h);
    void *p = malloc(12345);
    (void)p;
    return 0;
}
