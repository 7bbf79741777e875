/* Target program: one thread. Prints whether glibc still counts the process single-threaded
 * after some allocation (the dump signal alone must not cost a thread of the profiler's), then
 * raises SIGUSR2 and allocates until that signal's profile (sequence 0) appears, for at most
 * 10 s, and prints whether it did. With a second argument, first runs a thread of its own
 * that allocates, and prints how many threads the process has after joining it and
 * allocating 16 MiB more (the helper's start waits for a sampled allocation); with
 * "closefds", then closes every descriptor from 3 up (the helper's pipe among them), waits
 * 1.5 s and makes the signal dump as above. usage: lazyhelper OUTPUT_PREFIX [thread|closefds] */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/single_threaded.h>
#include <time.h>
#include <unistd.h>

static void *volatile sink;     /* keeps the compiler from dropping a malloc/free pair */

static void churn(size_t n)
{
    sink = malloc(n);
    free(sink);
}

static void *worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++) churn(64);
    return NULL;
}

static int threads_now(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* raise SIGUSR2, then allocate a little until the signal's profile (sequence 0) appears, for
 * at most 10 s; print whether it did. 64 KiB in all: far from the default sampling mean, so
 * it is the signal that sends this thread to the slow path, not a sample. */
static void signal_dump(const char *prefix)
{
    char path[4096];
    snprintf(path, sizeof path, "%s.%d.0.pb.gz", prefix, (int)getpid());
    raise(SIGUSR2);
    int found = 0;
    for (int i = 0; i < 1000 && !found; i++) {
        churn(64);
        found = access(path, F_OK) == 0;
        if (!found) usleep(10000);
    }
    printf("signal_dump %d\n", found);
}

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    if (argc > 2) {
        pthread_t t;
        if (pthread_create(&t, NULL, worker, NULL) != 0 || pthread_join(t, NULL) != 0) return 3;
        for (int i = 0; i < 16384; i++) churn(1024);
        printf("threads_after_join %d\n", threads_now());
        if (strcmp(argv[2], "closefds") == 0) {
            /* a daemon's start: every descriptor it did not open goes, the helper's pipe too */
            fflush(stdout);
            for (int fd = 3; fd < 1024; fd++) close(fd);
            usleep(1500000);
            signal_dump(argv[1]);
        }
        return 0;
    }
    for (int i = 0; i < 10000; i++) churn(100 + (size_t)(i % 200));
    printf("single_threaded_before %d\n", (int)__libc_single_threaded);
    signal_dump(argv[1]);
    return 0;
}
