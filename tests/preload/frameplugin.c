/* Built twice (tests.mk) as frameplugin_small.so and frameplugin_large.so: the same code but
 * for the size of one frame, so a call's return address sits at the same offset in both and the
 * frame it returns to differs. tests/preload/reloader.c loads them in turn at one address. */
#include <stdlib.h>

void *volatile frameplugin_sink;

__attribute__((noinline, optimize("omit-frame-pointer"))) void frameplugin_alloc(int n)
{
    volatile char frame[FRAME];
    frame[n & 1023] = (char)n;
    frameplugin_sink = malloc(64);
    free(frameplugin_sink);
    frame[0] = frame[n & 1023];     /* not a tail call */
}
