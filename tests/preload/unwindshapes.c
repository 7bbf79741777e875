/* Allocations under stacks of every shape the CFI walk meets: frames with and without frame
 * pointers, a large frame, alloca, a realigned frame, deep recursion, glibc's qsort calling
 * back, signal handlers (a signal frame) on the thread's stack and on an alternate one, a
 * fault at a function's first instruction (the interrupted pc is not a return address), and a
 * second thread. Run under unwind=verify, every stack is walked by the CFI rules and by
 * libunwind, which must agree. Prints the number of allocations made. */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOFP __attribute__((noinline, optimize("omit-frame-pointer")))
#define FP __attribute__((noinline))

static volatile long made;
static void *volatile sink;

static void alloc(size_t n)
{
    sink = malloc(n);
    free(sink);
    made++;
}

NOFP static void leaf_nofp(int n) { alloc((size_t)n + 8); }
NOFP static void big_frame(int n)
{
    volatile char buf[70000];
    buf[n] = (char)n;
    leaf_nofp(buf[n]);
    buf[0] = 0;     /* not a tail call */
}
FP static void with_alloca(int n)
{
    volatile char *p = __builtin_alloca((size_t)(n & 63) * 16 + 16);
    p[0] = 1;
    big_frame(n & 7);
    leaf_nofp(p[0]);
}
/* a realigned frame that reads arguments from the stack (through rbp) */
NOFP int realigned(int a, int b, int c, int d, int e, int f, int g, int h);
NOFP int realigned(int a, int b, int c, int d, int e, int f, int g, int h)
{
    volatile int v[16] __attribute__((aligned(64)));
    v[0] = a + b + c + d + e + f;
    with_alloca(v[0]);
    return v[0] + g + h;
}
NOFP static void recurse(int depth, int n)
{
    if (depth) recurse(depth - 1, n);
    else made += realigned(n, n, n, n, n, n, n + 1, n + 2) & 0;
    made += 0;      /* not a tail call */
}

static int cmp(const void *a, const void *b)
{
    alloc(24);
    return memcmp(a, b, sizeof(int));
}

static void on_signal(int sig)
{
    (void)sig;
    alloc(40);
}

/* ud2 as a function's first instruction, with its CFI: at that byte CFA = rsp + 8 */
__asm__(".text\n.globl fault_first\n.type fault_first, @function\nfault_first:\n"
        ".cfi_startproc\nud2\nret\n.cfi_endproc\n.size fault_first, .-fault_first\n");
void fault_first(void);
static sigjmp_buf out_of_fault;

static void on_fault(int sig)
{
    (void)sig;
    alloc(48);
    siglongjmp(out_of_fault, 1);
}

static void *thread_main(void *arg)
{
    for (int i = 0; i < 200; i++) recurse(i % 7, i);
    return arg;
}

int main(void)
{
    signal(SIGUSR1, on_signal);
    static char alt[64 * 1024];
    stack_t ss = { .ss_sp = alt, .ss_size = sizeof alt };
    struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_ONSTACK };
    sigaltstack(&ss, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    signal(SIGILL, on_fault);
    pthread_t t;
    pthread_create(&t, NULL, thread_main, NULL);
    for (int i = 0; i < 300; i++) {
        recurse(i % 90, i);
        int v[8] = { 5, 3, 9, 1, i, 7, 2, 8 };
        qsort(v, 8, sizeof v[0], cmp);
        if (i % 10 == 0) raise(SIGUSR1);
        if (i % 30 == 0) raise(SIGUSR2);
        if (i % 15 == 0 && !sigsetjmp(out_of_fault, 1)) fault_first();
    }
    pthread_join(t, NULL);
    printf("%ld\n", made);
    return 0;
}
