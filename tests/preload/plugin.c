/* A library that tests/preload/dlopener.c dlopens: its allocations must be profiled. */
#include <stdlib.h>

void *held[5];      /* external: the compiler may not drop the allocations */

__attribute__((noinline)) void plugin_alloc(void)
{
    for (int i = 0; i < 5; i++) held[i] = malloc(2000);
}
