/* Target program for the leak check: memory that held an ended thread's stack and is live
 * again. In each mode the only pointer to a 40-byte block lies there; Valgrind memcheck
 * reports it still reachable.
 *   remap      a thread with a 64 MiB stack (more than glibc keeps cached) ends and is joined:
 *              glibc unmaps its stack, and the program maps a guarded buffer of the same size,
 *              which the kernel puts at the same place; the pointer is 4 KiB into it
 *   user       a thread on a stack the program gave (pthread_attr_setstack, guard pages around
 *              it) ends; the program uses that memory as a buffer
 *   coroutine  a worker thread starts on an ended thread's cached stack (exit 77 if not), holds
 *              the pointer in a local, and switches to a stack of its own (swapcontext), where it
 *              allocates for the first time and waits */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#define GUARD 4096

static char *stack_lo, *stack_hi;

static void note_stack(void)
{
    pthread_attr_t a;
    void *addr;
    size_t size;
    pthread_getattr_np(pthread_self(), &a);     /* (allocates: the thread's stack is noted) */
    pthread_attr_getstack(&a, &addr, &size);
    pthread_attr_destroy(&a);
    stack_lo = addr;
    stack_hi = (char *)addr + size;
}

static void *ended(void *arg)
{
    (void)arg;
    void *volatile p = malloc(100);     /* a slow path: the thread's stack bounds are learned */
    note_stack();
    free(p);
    return NULL;
}

void **keep;                    /* the program's buffer (a root reaches it) */
static void *volatile handoff;  /* main's block, for the coroutine worker */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t waiting = PTHREAD_COND_INITIALIZER;
static int inside;
static char *volatile local_at;

static void coroutine(void)
{
    void *volatile mine = malloc(16);       /* the thread's first slow path: on this stack */
    (void)mine;
    pthread_mutex_lock(&lock);
    inside = 1;
    pthread_cond_signal(&waiting);
    pthread_mutex_unlock(&lock);
    for (;;) pause();
}

static void *worker(void *arg)
{
    (void)arg;
    void *volatile held = handoff;
    handoff = NULL;
    local_at = (char *)&held;
    ucontext_t here, co;
    size_t size = 256 << 10;
    char *st = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    getcontext(&co);
    co.uc_stack.ss_sp = st;
    co.uc_stack.ss_size = size;
    co.uc_link = NULL;
    makecontext(&co, coroutine, 0);
    swapcontext(&here, &co);
    return (void *)held;
}

static void *make40(void)
{
    void *p = malloc(40);
    memset(p, 7, 40);
    return p;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "remap";
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_t t;
    if (!strcmp(mode, "coroutine")) {
        pthread_create(&t, NULL, ended, NULL);
        pthread_join(t, NULL);
        handoff = make40();
        pthread_create(&t, NULL, worker, NULL);
        pthread_mutex_lock(&lock);
        while (!inside) pthread_cond_wait(&waiting, &lock);
        pthread_mutex_unlock(&lock);
        return local_at >= stack_lo && local_at < stack_hi ? 0 : 77;
    }
    char *user = NULL;
    if (!strcmp(mode, "user")) {
        user = mmap(NULL, (1 << 20) + 2 * GUARD, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        mprotect(user + GUARD, 1 << 20, PROT_READ | PROT_WRITE);
        pthread_attr_setstack(&at, user + GUARD, 1 << 20);
    } else {
        pthread_attr_setstacksize(&at, 64 << 20);
    }
    pthread_create(&t, &at, ended, NULL);
    pthread_join(t, NULL);
    char *buf = stack_lo;
    if (!user) {
        size_t total = (size_t)(stack_hi - stack_lo) + GUARD;
        char *m = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        mprotect(m + GUARD, total - GUARD, PROT_READ | PROT_WRITE);
        buf = m + GUARD;
        if (buf != stack_lo) return 77;
    }
    keep = (void **)buf;
    *(void **)(buf + 4096) = make40();
    return 0;
}
