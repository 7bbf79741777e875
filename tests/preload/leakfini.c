/* Target program for the leak check: a library it links (finilib.so) holds a 48-byte and a
 * 64-byte block of its own, and in its destructor, which runs after libmapprof.so's, frees the
 * 64 bytes and drops the last pointer to the 48: at the very end, 48 bytes are definitely
 * lost, and the 64 are no block at all. */
#include <stdlib.h>
#include <string.h>

void finilib_hold(void *drop, void *free_me);

__attribute__((noinline)) static void *make(size_t n)
{
    void *p = malloc(n);
    memset(p, 1, n);
    return p;
}

int main(void)
{
    finilib_hold(make(48), make(64));
    return 0;
}
