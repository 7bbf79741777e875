/* Target program: heavy allocation while another thread sends SIGUSR2 to the process many
 * times; exits with status 7 (a status of its own the test checks is preserved).
 * usage: robust [SIGNALS] */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "tests/preload/alloc_site.h"

static volatile int done;

static void *signaller(void *arg)
{
    int n = (int)(long)arg;
    for (int i = 0; i < n && !done; i++) {
        kill(getpid(), SIGUSR2);
        struct timespec ts = { 0, 20 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    return NULL;
}

ALLOC_SITE(churn_alloc)

int main(int argc, char **argv)
{
    int signals = argc > 1 ? atoi(argv[1]) : 10;
    pthread_t t;
    pthread_create(&t, NULL, signaller, (void *)(long)signals);
    void *ring[1024] = { 0 };
    for (long i = 0; i < 3000000; i++) {
        int k = (int)(i & 1023);
        free(ring[k]);
        ring[k] = churn_alloc(16 + (size_t)(i % 4000));
    }
    done = 1;
    pthread_join(t, NULL);
    return 7;
}
