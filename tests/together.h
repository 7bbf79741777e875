/* tests/together.h - run fn(i) for i = 0..n-1 on n threads released at the same moment (so
 * they race for whatever they first touch), and join them. For the unit tests of first-use
 * races. A thread that cannot be started ends the test program (the others would wait for it
 * for ever). */
#ifndef MAPPROF_TESTS_TOGETHER_H
#define MAPPROF_TESTS_TOGETHER_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define TOGETHER_MAX 64

static pthread_barrier_t together_start;
static void *(*together_fn)(void *);

static void *together_main(void *arg)
{
    pthread_barrier_wait(&together_start);
    return together_fn(arg);
}

static inline void together(int n, void *(*fn)(void *))
{
    pthread_t t[TOGETHER_MAX];
    if (n < 1 || n > TOGETHER_MAX) abort();
    together_fn = fn;
    pthread_barrier_init(&together_start, NULL, (unsigned)n);
    for (intptr_t i = 0; i < n; i++) {
        if (pthread_create(&t[i], NULL, together_main, (void *)i) != 0) {
            fprintf(stderr, "together: cannot start thread %d of %d\n", (int)i, n);
            exit(2);
        }
    }
    for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&together_start);
}

#endif
