/* Target program for the leak check: at exit(), the only pointer to a 40-byte block is in a
 * callee-saved register of main (rbx); exit's callees save it in their own frames, below main's.
 * Valgrind memcheck reports it still reachable. With "lose", the register holds nothing of it:
 * definitely lost. */
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) static void *make(void)
{
    void *p = malloc(40);
    memset(p, 1, 40);
    return p;
}

int main(int argc, char **argv)
{
    (void)argv;
    register void *p __asm__("rbx") = make();
    if (argc > 1) p = NULL;
    __asm__ volatile("" : "+r"(p));     /* in rbx, and nowhere else, at the call */
    exit(0);
}
