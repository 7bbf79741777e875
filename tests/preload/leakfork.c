/* Target program for the leak check: fork without exec; parent and child each lose their
 * own block (the child also inherits the parent's lost block: it is lost there too).
 * usage: leakfork [exit|_exit]   the child ends by exit(0) (the default) or by _exit(0), which
 *                               runs no destructor */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void *volatile sink;

__attribute__((noinline)) void lose(size_t n)
{
    sink = malloc(n);
    memset(sink, 0, n);
    sink = NULL;
}

int main(int argc, char **argv)
{
    lose(111);
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        lose(222);
        if (argc > 1 && !strcmp(argv[1], "_exit")) _exit(0);
        exit(0);
    }
    int st;
    waitpid(p, &st, 0);
    printf("truth parent 111 child 333\n");
    return 0;
}
