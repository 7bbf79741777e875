/* Target program for the leak check: its last two blocks, 16 bytes then SIZE (argument), are
 * lost. glibc's malloc points at the chunk after the last one (its top chunk) from its own state
 * in the C library's data, a root; for sizes such as 24, 40 or 100 that word lies inside the
 * block. Valgrind memcheck reports both blocks definitely lost. */
#include <stdlib.h>
#include <string.h>

void *volatile sink;

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 24;
    sink = malloc(16);
    memset(sink, 1, 16);
    sink = malloc(n);
    memset(sink, 1, n);
    sink = NULL;
    return 0;
}
