/* profiler/leakcheck.c - gather blocks and roots, then classify (leaks.c). */
#define _GNU_SOURCE
#include "profiler/leakcheck.h"

#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <libunwind.h>

#include "profiler/arena.h"
#include "profiler/livetab.h"
#include "profiler/profiler.h"
#include "profiler/spin.h"

/* Working memory comes from the profiler's own mappings, which the scan leaves out: a large
 * malloc'd array of block addresses would otherwise be an mmap'd region with no tracked block
 * in it, that is, a root that keeps every block reachable. */
static void *grow_pages(void *old, size_t old_bytes, size_t new_bytes)
{
    void *p = mp_pages_alloc(new_bytes);
    if (p && old) memcpy(p, old, old_bytes);
    if (p || !new_bytes) mp_pages_free(old, old_bytes);
    return p;
}

typedef struct collect {
    mp_leak_block_t *b;
    size_t n, cap;
    int err;
} collect_t;

static void add_block(const mp_block_t *blk, void *ctx)
{
    collect_t *c = ctx;
    if (c->err) return;
    if (!blk->size && !blk->stack && !blk->map) return;     /* a watch, not a block we saw allocated */
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4096;
        mp_leak_block_t *nb = grow_pages(c->b, c->cap * sizeof *nb, cap * sizeof *nb);
        if (!nb) { c->err = ENOMEM; return; }
        c->b = nb;
        c->cap = cap;
    }
    c->b[c->n++] = (mp_leak_block_t){ .addr = blk->addr, .size = blk->size, .stack = blk->stack,
                                       .map = blk->map, .role = MP_BLOCK_ROLE(blk) };
}

/* ---- parking the other threads ----
 * Each other thread gets a signal; its handler records where its stack is live (its frame,
 * below the kernel's saved registers) and waits until the scan is done, so no thread changes
 * what is scanned. A thread inside the profiler (it may hold our locks) records its stack and
 * goes on. A thread that does not answer in time (signal blocked) is scanned over its whole
 * stack mapping: conservative, never a false leak. */
#define PARK_MAX 1024
typedef struct parked {
    pid_t tid;
    uintptr_t tp;           /* its thread descriptor (pthread_self), on its own stack mapping */
    uintptr_t sp;           /* 0 until the thread answered (after tp is set) */
} parked_t;

static parked_t park[PARK_MAX];
static int npark, park_sig;     /* npark grows while listed threads answer: atomic */
static bool park_whole;         /* every other thread is on the list and answered */
/* The profiler's helper thread (trigger.c) blocks every signal: it is never parked (it would
 * not answer), and its stack is no dead one, as it says when it starts. */
static pid_t helper_tid;
static volatile int park_release;

static void park_handler(int sig)
{
    (void)sig;
    int saved = errno;
    volatile char here = 0;
    pid_t tid = (pid_t)syscall(SYS_gettid);
    int n = __atomic_load_n(&npark, __ATOMIC_ACQUIRE);
    for (int i = 0; i < n; i++) {
        if (park[i].tid != tid) continue;
        park[i].tp = (uintptr_t)pthread_self();
        __atomic_store_n(&park[i].sp, (uintptr_t)&here, __ATOMIC_RELEASE);
        if (!mp_tls.busy)
            while (!__atomic_load_n(&park_release, __ATOMIC_ACQUIRE)) syscall(SYS_sched_yield);
        break;
    }
    (void)here;
    errno = saved;
}

/* Add the threads /proc/self/task lists that are not on the list yet (this one and our helper
 * aside); how many were added (-1: no list to read). It stops at a full list (PARK_MAX). */
static int list_new_threads(pid_t self)
{
    pid_t helper = __atomic_load_n(&helper_tid, __ATOMIC_ACQUIRE);
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int added = 0, n = npark;
    struct dirent *e;
    while ((e = readdir(d)) && n < PARK_MAX) {
        pid_t tid = (pid_t)atoi(e->d_name);
        bool known = tid <= 0 || tid == self || tid == helper;
        for (int i = 0; i < n && !known; i++) known = park[i].tid == tid;
        if (known) continue;
        park[n++] = (parked_t){ tid, 0, 0 };
        added++;
    }
    closedir(d);
    __atomic_store_n(&npark, n, __ATOMIC_RELEASE);     /* read by park_handler */
    return added;
}

/* Park every other thread. A thread that an unparked one started after the list was read is
 * not on it: it would run through the scan, and its stack, if glibc gave it one an ended
 * thread left, would pass for that dead stack (live_start). So the list is read again
 * once the threads on it answered, and again, until a reading finds no new thread (the parked
 * ones start none; a thread that never answers may: then at most PARK_ROUNDS readings, and
 * 200 ms of waiting in all). Only when the list is whole and every thread on it answered
 * (park_whole) does live_start trust the dead stacks. */
#define PARK_ROUNDS 8
static void park_others(void)
{
    npark = 0;
    park_whole = false;
    park_release = 0;
    park_sig = SIGRTMIN + 7;
    struct sigaction cur;
    if (sigaction(park_sig, NULL, &cur) || (cur.sa_handler != SIG_DFL && cur.sa_handler != park_handler)) {
        park_sig = 0;
        return;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = park_handler;
    sa.sa_flags = SA_RESTART;
    sigfillset(&sa.sa_mask);
    sigaction(park_sig, &sa, NULL);
    pid_t self = (pid_t)syscall(SYS_gettid);
    int ms = 0, answered = 0;
    for (int round = 0; round < PARK_ROUNDS; round++) {
        int from = npark, added = list_new_threads(self);
        if (added <= 0) {
            park_whole = added == 0 && npark < PARK_MAX && answered == npark;
            return;
        }
        for (int i = from; i < npark; i++) syscall(SYS_tgkill, getpid(), park[i].tid, park_sig);
        for (;; ms++) {
            answered = 0;
            for (int i = 0; i < npark; i++) answered += __atomic_load_n(&park[i].sp, __ATOMIC_ACQUIRE) != 0;
            if (answered == npark || ms >= 200) break;
            struct timespec ts = { 0, 1000000 };
            nanosleep(&ts, NULL);
        }
    }
}

static void release_others(void)
{
    __atomic_store_n(&park_release, 1, __ATOMIC_RELEASE);
}

/* Stacks of threads that ended. glibc keeps a joined thread's stack mapped for the next
 * thread (its stack cache), with whatever the dead thread's frames left on it: block addresses
 * among them, which kept lost blocks reachable (memcheck: definitely lost). The top of that
 * mapping is no dead frame: glibc's thread descriptor (an unjoined thread's result, its table
 * of TLS blocks) and the static TLS live there, above the outermost frame. So a thread that
 * took a slow path notes, when it ends, its stack's bounds and where its outermost frame
 * began; the check leaves out the frames' part [lo, top) of a line that is still exactly that
 * stack above its guard page and still holds the dead thread's descriptor, and only when every
 * thread answered the park, none of them (its stack pointer or its descriptor) on it. Stacks
 * the program gave (pthread_attr_setstack: no guard) are never noted. A thread started on a
 * cached stack takes it off the list at its own first slow path. */
#define DEAD_MAX 256
typedef struct dead_stack {
    uintptr_t lo, hi;       /* the stack, as pthread_getattr_np gave it */
    uintptr_t top;          /* the outermost frame's stack pointer: the frames lay below */
    uintptr_t tp;           /* the thread's descriptor, above them */
} dead_stack_t;
static dead_stack_t dead[DEAD_MAX];
static unsigned ndead, dead_next;
static mp_spin_t dead_lock;
static pthread_key_t dead_key;
static pthread_once_t dead_once = PTHREAD_ONCE_INIT;
static bool dead_key_ok;

/* A thread now stands at sp, its descriptor at tp: no stack holding either is dead. */
static void dead_drop_locked(uintptr_t sp, uintptr_t tp)
{
    for (unsigned i = 0; i < ndead;) {
        const dead_stack_t *d = &dead[i];
        if ((sp >= d->lo && sp < d->hi) || (tp >= d->lo && tp < d->hi)) dead[i] = dead[--ndead];
        else i++;
    }
}

/* The stack pointer of this thread's outermost frame (libunwind), or 0. */
static uintptr_t outermost_sp(void)
{
    unw_context_t uc;
    unw_cursor_t c;
    unw_word_t sp = 0, csp;
    if (unw_getcontext(&uc) || unw_init_local(&c, &uc)) return 0;
    for (int depth = 0; depth < 64 && unw_step(&c) > 0; depth++)
        if (!unw_get_reg(&c, UNW_REG_SP, &csp)) sp = csp;
    return (uintptr_t)sp;
}

static void thread_ended(void *arg)
{
    (void)arg;
    uintptr_t lo = mp_tls.stack_lo, hi = mp_tls.stack_hi, sp = (uintptr_t)&arg;
    uintptr_t tp = (uintptr_t)pthread_self();
    /* bounds never learned, or a stack of the program's (no guard page: it may use the memory
     * for anything once the thread is gone): the stack stays a root */
    if (!(sp >= lo && sp < hi) || !mp_tls.stack_guarded) return;
    uintptr_t top = outermost_sp();
    /* no outermost frame found, or not the layout expected (the descriptor above the frames) */
    if (!(top > sp && top <= tp && tp < hi)) return;
    mp_busy_enter();        /* parked inside the lock, this thread goes on (park_handler) */
    mp_spin_lock(&dead_lock);
    dead_drop_locked(sp, tp);
    dead_stack_t d = { lo, hi, top, tp };
    if (ndead < DEAD_MAX) dead[ndead++] = d;
    else dead[dead_next++ % DEAD_MAX] = d;
    mp_spin_unlock(&dead_lock);
    mp_busy_leave();
}

static void dead_key_make(void) { dead_key_ok = pthread_key_create(&dead_key, thread_ended) == 0; }

void mp_leak_thread_start(void)
{
    pthread_once(&dead_once, dead_key_make);
    if (!dead_key_ok) return;
    pthread_setspecific(dead_key, (void *)1);
    uintptr_t sp = (uintptr_t)&sp;
    mp_busy_enter();
    mp_spin_lock(&dead_lock);
    dead_drop_locked(sp, (uintptr_t)pthread_self());   /* this thread may be on another stack */
    mp_spin_unlock(&dead_lock);
    mp_busy_leave();
}

void mp_leak_helper_start(void)
{
    __atomic_store_n(&helper_tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
    mp_leak_thread_start();
}

void mp_leak_lock(void) { mp_spin_lock(&dead_lock); }
void mp_leak_unlock(void) { mp_spin_unlock(&dead_lock); }
void mp_leak_reset_lock(void) { mp_spin_init(&dead_lock); }

/* Where the live part of a root line [lo, hi) with no block starts, other than our own stack:
 * a parked thread's stack above its stack pointer; a line that is exactly the stack of a
 * thread that ended, above its guard page (after_guard), above its dead frames, when every
 * thread is placed (park_whole) and none stands on it (its sp or its descriptor); else lo. */
static uintptr_t live_start(uintptr_t lo, uintptr_t hi, bool after_guard)
{
    for (int i = 0; i < npark; i++) {
        uintptr_t sp = __atomic_load_n(&park[i].sp, __ATOMIC_ACQUIRE), tp = park[i].tp;
        if (sp >= lo && sp < hi) return sp & ~(uintptr_t)7;
        if (tp >= lo && tp < hi) return lo;
    }
    if (!after_guard || !park_whole) return lo;
    dead_stack_t d = { 0, 0, 0, 0 };
    mp_spin_lock(&dead_lock);
    for (unsigned i = 0; i < ndead && !d.hi; i++)
        if (dead[i].lo == lo && dead[i].hi == hi) d = dead[i];
    mp_spin_unlock(&dead_lock);
    if (!d.hi) return lo;
    /* Still the dead thread's stack, not memory glibc gave back and the program mapped again
     * there: its descriptor still points at itself (tcbhead_t's tcb and self words). */
    uintptr_t w[3];
    memcpy(w, (const void *)d.tp, sizeof w);
    return w[0] == d.tp && w[2] == d.tp ? d.top : lo;
}

/* Read /proc/self/maps whole (it changes as we read; one pass into a growing buffer). */
static char *read_maps(size_t *bytes)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = mp_pages_alloc(cap);
    while (buf) {
        if (len + 4096 > cap) {
            buf = grow_pages(buf, cap, cap * 2);
            cap *= 2;
            if (!buf) break;
        }
        ssize_t r = read(fd, buf + len, cap - len - 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        len += (size_t)r;
    }
    close(fd);
    if (buf) buf[len] = 0;
    *bytes = cap;
    return buf;
}

/* The index of the first block at or above lo. */
static size_t first_block(const mp_leak_block_t *b, size_t n, uintptr_t lo)
{
    size_t l = 0, h = n;
    while (l < h) {
        size_t m = l + (h - l) / 2;
        if (b[m].addr < lo) l = m + 1;
        else h = m;
    }
    return l;
}

/* A chunk glibc's malloc mapped for this block alone: its header starts a page (the block 16
 * bytes in), and it is whole pages. The kernel merges such a mapping with the program's own
 * anonymous memory next to it into one line of the maps. */
#define PAGE ((uintptr_t)4096)
static bool mapped_chunk(const mp_leak_block_t *b) { return (b->addr & (PAGE - 1)) == 16 && b->size >= PAGE; }

/* The roots being gathered, in the profiler's own pages. */
typedef struct rootset {
    mp_range_t *v;
    size_t n, cap, bytes;
} rootset_t;

static bool root_add(rootset_t *r, uintptr_t lo, uintptr_t hi)
{
    if (lo >= hi) return true;
    if (r->n == r->cap) {
        r->v = grow_pages(r->v, r->cap * sizeof *r->v, r->cap * 2 * sizeof *r->v);
        r->cap *= 2;
        if (!r->v) return false;
    }
    r->v[r->n++] = (mp_range_t){ lo, hi };
    r->bytes += hi - lo;
    return true;
}

/* Add [lo, hi) less the profiler's own mappings (our tables hold block addresses; the kernel
 * merges our anonymous pages with the program's into one line of the maps). A line cut in more
 * pieces than this is left out whole, as it was before such lines were cut. */
#define OWN_CUTS 64
static bool root_add_less_own(rootset_t *r, uintptr_t lo, uintptr_t hi, const mp_range_own_t *own,
                              size_t nown)
{
    mp_range_own_t cut[OWN_CUTS];
    size_t nc = 0;
    for (size_t i = 0; i < nown; i++) {
        if (own[i].hi <= lo || own[i].lo >= hi) continue;
        if (nc == OWN_CUTS) return true;
        size_t j = nc++;        /* insertion by lo */
        for (; j > 0 && cut[j - 1].lo > own[i].lo; j--) cut[j] = cut[j - 1];
        cut[j] = own[i];
    }
    for (size_t j = 0; j < nc; j++) {
        if (cut[j].lo > lo && !root_add(r, lo, cut[j].lo)) return false;
        if (cut[j].hi > lo) lo = cut[j].hi;
    }
    return root_add(r, lo, hi);
}

/* sp: where this thread's live stack starts; extra: one more root range (below sp). */
__attribute__((noinline)) static int check_with_regs(mp_leak_result_t *out, uintptr_t sp, mp_range_t extra)
{
    collect_t c = { 0 };
    mp_live_foreach(add_block, &c);
    if (c.err) { mp_pages_free(c.b, c.cap * sizeof *c.b); return c.err; }
    mp_leak_sort(c.b, c.n);

    size_t maps_bytes = 0;
    char *maps = read_maps(&maps_bytes);
    if (!maps) { mp_pages_free(c.b, c.cap * sizeof *c.b); return errno ? errno : EIO; }
    static mp_range_own_t own[4096];
    size_t nown = mp_own_ranges(own, 4096);
    rootset_t r = { mp_pages_alloc(256 * sizeof *r.v), 0, 256, 0 };
    uintptr_t guard_hi = 0;     /* the end of the last line with no access (a guard page) */
    if (r.v && !root_add(&r, extra.lo, extra.hi)) r.v = NULL;
    for (char *line = maps; r.v && line && *line;) {
        char *next = strchr(line, '\n');
        if (next) *next++ = 0;
        unsigned long lo, hi;
        char perms[8] = "";
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[0] != 'r' || perms[1] != 'w' ||
            strstr(line, "[vvar]") || strstr(line, "[vsyscall]")) {
            if (!strncmp(perms, "---", 3)) guard_hi = hi;
            line = next;
            continue;
        }
        bool after_guard = guard_hi == lo, ok = true;
        size_t i = first_block(c.b, c.n, lo), j = i;
        while (j < c.n && c.b[j].addr < hi && mapped_chunk(&c.b[j])) j++;
        if (i == c.n || c.b[i].addr >= hi) {
            /* no block: a root, from its live part: ours above our stack pointer, another
             * thread's above its own, an ended thread's above its dead frames */
            uintptr_t from = sp >= lo && sp < hi ? sp & ~(uintptr_t)7 : live_start(lo, hi, after_guard);
            ok = root_add_less_own(&r, from, hi, own, nown);
        } else if ((j == c.n || c.b[j].addr >= hi) && !strstr(line, "[heap]")) {
            /* only chunks mapped on their own: the rest of the line is the program's */
            for (size_t k = i; k < j && ok; k++) {
                ok = root_add_less_own(&r, lo, c.b[k].addr - 16, own, nown);
                lo = (c.b[k].addr + c.b[k].size + PAGE - 1) & ~(PAGE - 1);
            }
            ok = ok && root_add_less_own(&r, lo, hi, own, nown);
        }
        /* else the heap's own memory: its blocks are scanned from the roots, and its free
         * chunks hold stale words */
        if (!ok) break;
        line = next;
    }
    mp_pages_free(maps, maps_bytes);
    if (!r.v) { mp_pages_free(c.b, c.cap * sizeof *c.b); return ENOMEM; }
    int e = mp_leak_classify(c.b, c.n, r.v, r.n);
    mp_pages_free(r.v, r.cap * sizeof *r.v);
    if (e) { mp_pages_free(c.b, c.cap * sizeof *c.b); return e; }
    out->blocks = c.b;
    out->n = c.n;
    out->cap = c.cap;
    out->nroots = r.n;
    out->root_bytes = r.bytes;
    return 0;
}

/* When the check runs inside exit(), the frames below exit's caller belong to the C library's
 * exit machinery and to us: they hold nothing the program still uses, only stale values from
 * earlier calls (block addresses among them) that would hide leaks. Start the scan at the
 * stack pointer of exit's caller when exit is on the stack; else at ours. Those frames also
 * hold where exit's callees saved the caller's callee-saved registers, which may be the only
 * copy of a pointer (a thread's registers are roots): libunwind gives their values at the
 * call, into regs (*nregs of them). */
#define SAVED_REGS 6
static uintptr_t live_stack_start(uintptr_t sp, uintptr_t *regs, size_t *nregs)
{
    static const int saved[SAVED_REGS] = { UNW_X86_64_RBX, UNW_X86_64_RBP, UNW_X86_64_R12,
                                           UNW_X86_64_R13, UNW_X86_64_R14, UNW_X86_64_R15 };
    static void *exit_fn;
    *nregs = 0;
    if (!exit_fn) exit_fn = dlsym(RTLD_DEFAULT, "exit");
    unw_context_t uc;
    unw_cursor_t c;
    if (!exit_fn || unw_getcontext(&uc) || unw_init_local(&c, &uc)) return sp;
    bool in_exit = false;
    for (int depth = 0; depth < 128 && unw_step(&c) > 0; depth++) {
        unw_word_t ip, csp;
        if (unw_get_reg(&c, UNW_REG_IP, &ip) || unw_get_reg(&c, UNW_REG_SP, &csp)) break;
        if (in_exit) {
            for (int k = 0; k < SAVED_REGS; k++) {
                unw_word_t v;
                if (!unw_get_reg(&c, saved[k], &v)) regs[(*nregs)++] = (uintptr_t)v;
            }
            return (uintptr_t)csp > sp ? (uintptr_t)csp : sp;
        }
        Dl_info info;
        if (dladdr((void *)(ip - 1), &info) && info.dli_saddr == exit_fn) in_exit = true;
    }
    return sp;
}

int mp_leak_check(mp_leak_result_t *out)
{
    memset(out, 0, sizeof *out);
    mp_internal_enter();
    /* Spill the callee-saved registers into this frame, where the scan starts when it does not
     * run inside exit() (inside, libunwind gives exit's caller's instead: live_stack_start). */
    jmp_buf regs;
    setjmp(regs);
    __asm__ volatile("" : : "r"(&regs) : "memory");
    uintptr_t saved[SAVED_REGS];
    size_t nsaved;
    uintptr_t sp = live_stack_start((uintptr_t)&regs, saved, &nsaved);
    park_others();
    int e = check_with_regs(out, sp, (mp_range_t){ (uintptr_t)saved, (uintptr_t)(saved + nsaved) });
    release_others();
    mp_internal_leave();
    return e;
}

void mp_leak_result_free(mp_leak_result_t *r)
{
    mp_pages_free(r->blocks, r->cap * sizeof *r->blocks);
    r->blocks = NULL;
    r->n = 0;
}

void mp_leak_totals(const mp_leak_result_t *r, mp_leak_totals_t *t)
{
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < r->n; i++) {
        unsigned c = r->blocks[i].cls;
        if (c <= MP_LEAK_DEFINITE) {
            t->bytes[c] += r->blocks[i].size;
            t->blocks[c]++;
        }
    }
}
