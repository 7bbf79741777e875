/* Target program for the leak check: fork without exec; parent and child each lose their
 * own block (the child also inherits the parent's lost block: it is lost there too). */
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

int main(void)
{
    lose(111);
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        lose(222);
        exit(0);
    }
    int st;
    waitpid(p, &st, 0);
    printf("truth parent 111 child 333\n");
    return 0;
}
