/* Target program: everything at once for a few seconds. Allocating threads, a thread that
 * forks children (which allocate and exit, some through exec), SIGUSR2 dumps arriving
 * meanwhile, and threads created and joined. Must end on its own with status 0: no deadlock
 * across fork, dumps and thread churn. usage: stress SECONDS */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile int stop;
void *volatile sink;

static void *churn(void *arg)
{
    unsigned r = (unsigned)(uintptr_t)arg;
    void *ring[256] = { 0 };
    while (!stop) {
        for (int i = 0; i < 256; i++) {
            r = r * 1103515245u + 12345u;
            free(ring[i]);
            ring[i] = malloc(8 + r % 2048);
        }
    }
    for (int i = 0; i < 256; i++) free(ring[i]);
    return NULL;
}

static void *forker(void *arg)
{
    (void)arg;
    int n = 0;
    while (!stop) {
        pid_t p = fork();
        if (p == 0) {
            for (int i = 0; i < 1000; i++) free(malloc(64));
            if (n % 3 == 0) execl("/bin/true", "true", (char *)NULL);
            exit(0);
        }
        if (p > 0) waitpid(p, NULL, 0);
        n++;
    }
    return NULL;
}

static void *short_lived(void *arg)
{
    sink = malloc((size_t)(uintptr_t)arg);
    free(sink);
    return NULL;
}

int main(int argc, char **argv)
{
    int secs = argc > 1 ? atoi(argv[1]) : 3;
    pthread_t t[4], f;
    for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i + 1));
    pthread_create(&f, NULL, forker, NULL);
    time_t end = time(NULL) + secs;
    while (time(NULL) < end) {
        kill(getpid(), SIGUSR2);
        pthread_t s;
        pthread_create(&s, NULL, short_lived, (void *)(uintptr_t)100);
        pthread_join(s, NULL);
        struct timespec ts = { 0, 50 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    stop = 1;
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    pthread_join(f, NULL);
    printf("stress done\n");
    return 0;
}
