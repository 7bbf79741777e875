/* Threads that ask for their own attributes (and each other's) first thing, as the JVM does:
 * glibc's pthread_getattr_np allocates while it holds the thread's lock, so a profiler that
 * asks for the stack bounds from inside that allocation waits on itself. Prints "ok N". */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_t peer[4];
static pthread_barrier_t ready;

static void *run(void *arg)
{
    int i = (int)(long)arg;
    pthread_attr_t a;
    size_t n = 0;
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
        void *lo;
        size_t size;
        if (pthread_attr_getstack(&a, &lo, &size) == 0) n = size;
        pthread_attr_destroy(&a);
    }
    pthread_barrier_wait(&ready);
    for (int k = 0; k < 200; k++) {     /* and each other's, at once */
        if (pthread_getattr_np(peer[(i + 1) % 4], &a) == 0) pthread_attr_destroy(&a);
        free(malloc(32));
    }
    return (void *)n;
}

int main(void)
{
    int ok = 0;
    for (int round = 0; round < 20; round++) {
        pthread_barrier_init(&ready, NULL, 4);
        for (long i = 0; i < 4; i++) pthread_create(&peer[i], NULL, run, (void *)i);
        for (int i = 0; i < 4; i++) {
            void *r;
            pthread_join(peer[i], &r);
            ok += r != NULL;
        }
        pthread_barrier_destroy(&ready);
    }
    printf("ok %d\n", ok);
    return 0;
}
