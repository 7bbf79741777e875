/* Target program: one thread. Prints whether glibc still counts the process single-threaded
 * after some allocation (the dump signal alone must not cost a thread of the profiler's), then
 * raises SIGUSR2 and allocates until that signal's profile (sequence 0) appears, for at most
 * 10 s, and prints whether it did. usage: lazyhelper OUTPUT_PREFIX */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/single_threaded.h>
#include <time.h>
#include <unistd.h>

static void *volatile sink;     /* keeps the compiler from dropping a malloc/free pair */

static void churn(size_t n)
{
    sink = malloc(n);
    free(sink);
}

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    for (int i = 0; i < 10000; i++) churn(100 + (size_t)(i % 200));
    printf("single_threaded_before %d\n", (int)__libc_single_threaded);
    char path[4096];
    snprintf(path, sizeof path, "%s.%d.0.pb.gz", argv[1], (int)getpid());
    raise(SIGUSR2);
    int found = 0;
    /* 64 KiB in all: far from the default sampling mean, so it is the signal that sends this
     * thread to the slow path, not a sample */
    for (int i = 0; i < 1000 && !found; i++) {
        churn(64);
        found = access(path, F_OK) == 0;
        if (!found) usleep(10000);
    }
    printf("signal_dump %d\n", found);
    return 0;
}
