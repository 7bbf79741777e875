/* Target program: fork without exec, fork + exec of itself, each process allocating.
 * Prints "pid ROLE PID" for each process; exits 0 when every child did. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/preload/alloc_site.h"

ALLOC_SITE(role_alloc)

void *keep[100];    /* external: the compiler may not drop the allocations stored here */

static void work(const char *role)
{
    for (int i = 0; i < 100; i++) keep[i] = role_alloc(1000);
    for (int i = 0; i < 50; i++) free(keep[i]);
    printf("pid %s %d\n", role, (int)getpid());
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "exec-child")) { work("exec-child"); return 0; }
    work("parent");
    pid_t a = fork();
    if (a == 0) { work("fork-child"); exit(0); }
    pid_t b = fork();
    if (b == 0) {
        execl("/proc/self/exe", argv[0], "exec-child", (char *)NULL);
        _exit(127);
    }
    int sa, sb;
    waitpid(a, &sa, 0);
    waitpid(b, &sb, 0);
    return (WIFEXITED(sa) && !WEXITSTATUS(sa) && WIFEXITED(sb) && !WEXITSTATUS(sb)) ? 0 : 1;
}
