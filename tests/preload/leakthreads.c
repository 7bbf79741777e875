/* Target program for the leak check: threads still running when main returns. One holds a
 * block only on its stack (reachable), one leaked a block (definite). usage: leakthreads
 * [exit-from-thread] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int started;
void *volatile sink;

static void *holder(void *arg)
{
    (void)arg;
    char *mine = malloc(300);       /* reachable: on this live thread's stack */
    memset(mine, 1, 300);
    pthread_mutex_lock(&mu);
    started++;
    pthread_cond_broadcast(&cv);
    for (;;) pthread_cond_wait(&cv, &mu);   /* never returns */
    return mine;
}

static void *leaker(void *arg)
{
    sink = malloc(77);              /* definite: lost */
    memset(sink, 0, 77);
    sink = NULL;
    pthread_mutex_lock(&mu);
    started++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    if (arg) { fflush(stdout); exit(0); }   /* exit() called from a thread */
    for (;;) pause();
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t a, b;
    pthread_create(&a, NULL, holder, NULL);
    pthread_mutex_lock(&mu);
    while (started < 1) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    printf("truth definite_bytes 77 definite_blocks 1\n");
    fflush(stdout);
    pthread_create(&b, NULL, leaker, argc > 1 && argv[1][0] ? (void *)1 : NULL);
    pthread_mutex_lock(&mu);
    while (started < 2) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    if (argc > 1) for (;;) pause();
    return 0;                       /* threads still running */
}
