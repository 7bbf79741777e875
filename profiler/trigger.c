/* profiler/trigger.c - exit, termination, signal, interval and growth-step dumps, and file
 * naming.
 *
 * Files are <output>.<pid>.<seq>.pb.gz (and .heap): the sequence skips names that exist, so a
 * program that execs (same pid, fresh image) never overwrites what the earlier image wrote. */
#define _GNU_SOURCE
#include "profiler/trigger.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "export/atomicfile.h"
#include "export/export.h"
#include "export/mapsfile.h"
#include "export/symbolize.h"
#include "profiler/leakcheck.h"
#include "profiler/log.h"
#include "profiler/maps.h"
#include "profiler/profiler.h"
#include "profiler/record.h"
#include "profiler/sigown.h"
#include "profiler/snapshot_take.h"
#include "profiler/stdmap.h"
#include "profiler/unwind.h"

/* The helper thread. interval and inuse_step need it from the start. The signal alone does
 * not: it is started when the signal first comes (the handler sends the thread that got it
 * to the slow path on its next allocation, which starts it), or when the program starts a
 * thread of its own (then it costs nothing more). A thread of ours in a program that has none
 * would turn glibc's malloc to its multi-threaded paths, locks included, for the whole run:
 * measured at the default rate against signal=off, 2.3% of hashmap_churn's time and 3.6% of
 * python's (medians of 7 alternating runs). So a single-threaded program that gets the signal
 * and then never allocates again dumps at exit only. */
static pthread_mutex_t dump_lock = PTHREAD_MUTEX_INITIALIZER;
static int pipe_fd[2] = { -1, -1 };     /* signal handler -> helper thread */
static int helper_running;              /* helper thread exists in this process */
static int helper_wanted;               /* the helper should run (mp_trigger_poll starts it) */
static int signal_pending;              /* the dump signal came: the helper dumps */
static int exited;                      /* the exit dump was written: write no more */
static pid_t exit_tid;                  /* the thread that runs (or ran) the exit path: once */
static int exit_done;                   /* the exit path has ended */
static int late_check_armed;            /* exit()'s leak check waits for the streams' flush */
static pid_t owner;                     /* the process this state is of (not a vfork child) */
static unsigned seq;                    /* next file sequence number, per process */
static int64_t next_inuse;              /* in-use bytes that trigger the next step dump */
static int warned_write;
static int swept;                       /* the temporary files that writers under our prefix
                                         * left when killed were removed, once an image (a
                                         * forked child's parent did it) */
static dev_t pipe_dev;                  /* identity of our pipe's write end: a program that */
static ino_t pipe_ino;                  /* closes fds it does not know may reuse the number */
static ino_t pipe_rino;                 /* and of its read end (same device) */

/* Is fd still our pipe's end with inode ino (a program may have closed it and reused the
 * number)? Async-signal-safe. */
static bool our_pipe(int fd, ino_t ino)
{
    struct stat st;
    return fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == pipe_dev && st.st_ino == ino;
}

/* Write one byte to our pipe, if the descriptor is still our pipe (async-signal-safe). */
static void poke(char c)
{
    int fd = pipe_fd[1];
    if (!our_pipe(fd, pipe_ino)) return;
    ssize_t w = write(fd, &c, 1);      /* non-blocking: a full pipe drops it */
    (void)w;
}

/* A new trigger pipe (the old one's descriptors, if any, are no longer ours to close). */
static bool make_pipe(void)
{
    struct stat r, w;
    if (pipe2(pipe_fd, O_CLOEXEC | O_NONBLOCK) != 0 || fstat(pipe_fd[0], &r) != 0 ||
        fstat(pipe_fd[1], &w) != 0) {
        pipe_fd[0] = pipe_fd[1] = -1;
        return false;
    }
    pipe_dev = w.st_dev;
    pipe_ino = w.st_ino;
    pipe_rino = r.st_ino;
    return true;
}

static void on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    __atomic_store_n(&signal_pending, 1, __ATOMIC_RELEASE);
    if (!__atomic_load_n(&helper_running, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&helper_wanted, 1, __ATOMIC_RELEASE);
        mp_tls.countdown = 0;   /* this thread's next allocation takes the slow path */
    }
    poke('s');                  /* wakes the helper; the byte itself carries nothing */
    errno = saved;
}

/* A temporary file left under our prefix is another process's to finish while it changes:
 * only one unchanged this long (seconds) whose writer is gone is removed. */
#define SWEEP_AGE 60

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

int mp_dump(const char *tag)
{
    if (!mp_enabled()) return EAGAIN;
    const mp_options_t *o = mp_opts();
    int rc = 0;
    mp_internal_enter();
    pthread_mutex_lock(&dump_lock);
    if (exited) goto out;
    mp_sym_t *msym = mp_sym_open(0, o->libc_lines ? MP_SYM_LIBC_LINES : 0);   /* for C++ map recognition and the maps file */
    if (o->maps) mp_stdmap_refresh(msym);
    mp_snapshot_t *s = mp_snapshot_take(tag);
    if (!s) {
        rc = ENOMEM;
        if (msym) mp_sym_close(msym);
        goto out;
    }
    char pb[sizeof o->output + 64], heap[sizeof o->output + 64];
    int pid = getpid();
    for (;;) {
        snprintf(pb, sizeof pb, "%s.%d.%u.pb.gz", o->output, pid, seq);
        snprintf(heap, sizeof heap, "%s.%d.%u.heap", o->output, pid, seq);
        seq++;
        if (!exists(pb) && !exists(heap)) break;
    }
    if (o->formats & MP_FMT_PB) {
        int e = mp_export_pprof_sym(s, pb, msym);
        if (e) { rc = e; mp_warn_once(&warned_write, "cannot write %s: %s", pb, strerror(e)); }
    }
    if (o->formats & MP_FMT_LEGACY) {
        int e = mp_export_legacy(s, heap);
        if (e) { rc = e; mp_warn_once(&warned_write, "cannot write %s: %s", heap, strerror(e)); }
    }
    /* once the process has had a map, every snapshot says which maps it holds, none included
     * (a series of them shows maps that went) */
    if (mp_maps_created()) {
        char maps[sizeof pb + 8];
        mp_mapsfile_path(pb, maps, sizeof maps);
        int e = mp_mapsfile_write(maps, s, msym);
        if (e) { rc = e; mp_warn_once(&warned_write, "cannot write %s: %s", maps, strerror(e)); }
        if (!e && o->findings) {
            /* the live findings, from the file just written (one code path for both) */
            char fj[sizeof pb + 16], err[256];
            snprintf(fj, sizeof fj, "%.*s.findings.json", (int)(strlen(pb) - 6), pb);
            mp_mapsfile_t mf;
            if (mp_mapsfile_read(maps, &mf, err, sizeof err) == 0) {
                e = mp_mapsfile_findings_json(&mf, fj);
                if (e) mp_warn_once(&warned_write, "cannot write %s: %s", fj, strerror(e));
                mp_mapsfile_free(&mf);
            }
        }
    }
    if (msym) mp_sym_close(msym);
    mp_snapshot_free(s);
    if (!rc && !swept) {
        swept = 1;
        mp_afile_sweep(o->output, SWEEP_AGE);
    }
out:
    pthread_mutex_unlock(&dump_lock);
    mp_internal_leave();
    return rc;
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The helper waits on the pipe, and wakes at least once a second: a program that closes only
 * the pipe's read end (and reuses the number) leaves a poll on it waiting with no poke able to
 * reach it, while a signal's pending mark still can. (Closing the write end too, as a
 * daemon's start does, wakes the poll.) */
#define HELPER_TICK_MS 1000

static void *helper_main(void *arg)
{
    (void)arg;
    mp_internal_enter();    /* this thread's own allocations are the profiler's */
    const mp_options_t *o = mp_opts();
    if (o->leak_check) mp_leak_helper_start();
    int64_t interval_ms = (int64_t)o->interval * 1000;
    int64_t next = now_ms() + interval_ms;
    for (;;) {
        if (__atomic_exchange_n(&signal_pending, 0, __ATOMIC_ACQ_REL)) mp_dump("signal");
        int64_t now = now_ms();
        if (interval_ms && now >= next) {
            mp_dump("interval");
            next += interval_ms;
            continue;
        }
        if (!our_pipe(pipe_fd[0], pipe_rino)) break;   /* the number is the program's now */
        int timeout = HELPER_TICK_MS;
        if (interval_ms && next - now < timeout) timeout = (int)(next - now);
        struct pollfd p = { pipe_fd[0], POLLIN, 0 };
        int r = poll(&p, 1, timeout);
        if (r < 0 && errno != EINTR) break;
        if (r > 0 && (p.revents & (POLLNVAL | POLLERR | POLLHUP))) break;   /* closed under us */
        if (r > 0) {
            char buf[64];
            ssize_t n = read(pipe_fd[0], buf, sizeof buf);
            if (n > 0 && memchr(buf, 'g', (size_t)n)) mp_dump("inuse");
        }
    }
    /* The program closed our pipe: the next sampled allocation starts a helper with a new one
     * (a signal's pending mark waits for it). */
    __atomic_store_n(&helper_running, 0, __ATOMIC_RELEASE);
    mp_internal_leave();
    return NULL;
}

static void start_helper(void)
{
    /* the signal handler pokes the pipe only while the helper runs: it is made here (again,
     * if the program closed an earlier one) */
    if (!(our_pipe(pipe_fd[0], pipe_rino) && our_pipe(pipe_fd[1], pipe_ino)) && !make_pipe()) {
        mp_warn("cannot create the trigger pipe: %s; signal and interval dumps are off",
                strerror(errno));
        helper_wanted = 0;
        return;
    }
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, 1 << 20);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);   /* the helper inherits a full mask */
    pthread_t th;
    int e = pthread_create(&th, &a, helper_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&a);
    if (e) {
        mp_warn("cannot start the helper thread: %s", strerror(e));
        helper_wanted = 0;
        return;
    }
    __atomic_store_n(&helper_running, 1, __ATOMIC_RELEASE);
}

/* Dumps that need the helper from the process's start (the signal's can wait for it). */
static bool helper_from_start(const mp_options_t *o) { return o->interval || o->inuse_step; }

static void install_term(void);
static void term_pending(void);

void mp_trigger_init(void)
{
    const mp_options_t *o = mp_opts();
    next_inuse = (int64_t)o->inuse_step;
    owner = getpid();
    /* quick_exit ends in glibc's own _exit, which no hook sees: the exit path runs as the
     * last of its handlers (the first registered). */
    at_quick_exit(mp_trigger_exit_now);
    helper_wanted = helper_from_start(o);
    if (o->signal) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        if (!mp_sigown_take(o->signal, &sa))
            mp_warn("signal %d already has a handler in this program; mapprof does not "
                    "install its own (use signal= to pick another)", o->signal);
    }
    if (o->term) {
        mp_term_pending_act = term_pending;
        install_term();
    }
    if (helper_wanted) start_helper();
}

void mp_trigger_threads(void)
{
    if (mp_enabled() && mp_opts()->signal) __atomic_store_n(&helper_wanted, 1, __ATOMIC_RELEASE);
}

void mp_trigger_poll(void)
{
    if (MP_UNLIKELY(__atomic_load_n(&helper_wanted, __ATOMIC_ACQUIRE) &&
                    !__atomic_load_n(&helper_running, __ATOMIC_ACQUIRE))) {
        static int starting;
        if (!__atomic_exchange_n(&starting, 1, __ATOMIC_ACQ_REL)) {
            start_helper();
            __atomic_store_n(&starting, 0, __ATOMIC_RELEASE);
        }
    }
}

void mp_trigger_inuse(int64_t inuse_bytes)
{
    int64_t step = (int64_t)mp_opts()->inuse_step;
    int64_t next = __atomic_load_n(&next_inuse, __ATOMIC_RELAXED);
    if (inuse_bytes < next) return;
    int64_t want = (inuse_bytes / step + 1) * step;
    if (__atomic_compare_exchange_n(&next_inuse, &next, want, false, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED))
        poke('g');
}

void mp_trigger_lock(void) { pthread_mutex_lock(&dump_lock); }
void mp_trigger_unlock(void) { pthread_mutex_unlock(&dump_lock); }

void mp_trigger_after_fork_child(void)
{
    pthread_mutex_init(&dump_lock, NULL);
    seq = 0;
    owner = getpid();
    exit_tid = 0;
    exit_done = 0;
    late_check_armed = 0;   /* the parent's stream, with its byte, is not this process's check */
    /* The helper thread did not survive fork, and the pipe is shared with the parent: the
     * child gets its own helper, and with it its own pipe, as a new process would (the child
     * has one thread). */
    if (our_pipe(pipe_fd[0], pipe_rino)) close(pipe_fd[0]);
    if (our_pipe(pipe_fd[1], pipe_ino)) close(pipe_fd[1]);
    pipe_fd[0] = pipe_fd[1] = -1;
    __atomic_store_n(&helper_running, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&signal_pending, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&helper_wanted, helper_from_start(mp_opts()), __ATOMIC_RELEASE);
}

/* Is this thread inside the exit path? A termination signal there waits for its end. */
static bool exit_runs_here(void)
{
    pid_t t = __atomic_load_n(&exit_tid, __ATOMIC_ACQUIRE);
    return t && !__atomic_load_n(&exit_done, __ATOMIC_ACQUIRE) && t == (pid_t)syscall(SYS_gettid);
}

/* Another thread runs the exit path: wait for its end, so that this one ends the process after
 * the profile is written, not half way through it (a second thread's _exit, a termination
 * signal). Up to term_timeout seconds (0: no limit): the dump may wait on a lock this thread
 * holds, the loader's or the allocator's, when a signal handler waits here. Async-signal-safe. */
static void exit_wait(void)
{
    uint64_t limit = mp_opts()->term_timeout * 100, ticks = 0;
    while (!__atomic_load_n(&exit_done, __ATOMIC_ACQUIRE)) {
        if (limit && ticks++ >= limit) {
            mp_warn("the exit profile of pid %d is still being written after %llu s: not "
                    "waiting for it", (int)owner, (unsigned long long)mp_opts()->term_timeout);
            return;
        }
        struct timespec tick = { .tv_nsec = 10 * 1000 * 1000 };
        nanosleep(&tick, NULL);
    }
}

static void leak_check_now(void)
{
    mp_internal_enter();
    mp_leak_at_exit();
    mp_internal_leave();
}

/* The exit path's end: threads waiting for it go on, and a termination signal that came to
 * this thread meanwhile acts. */
static void exit_end(void)
{
    __atomic_store_n(&exit_done, 1, __ATOMIC_RELEASE);
    int sig = mp_tls.term_pending;
    if (sig) {
        mp_tls.term_pending = 0;
        raise(sig);     /* its default now (SA_RESETHAND): it ends the process here */
    }
}

/* The leak check of exit() waits for its last act: the flush of every stream, after the
 * atexit handlers and every library's destructor. Ours run before those of the libraries the
 * program loaded (glibc ends a preloaded library first), which may still free blocks and drop
 * pointers: gdb --version frees about 1,400 blocks there (the blocks left reachable went from
 * 5,279 to 4,481; memcheck, which looks at the very end, 4,448 without its freeres), and one
 * more is then lost, as memcheck says. A stream of ours with a byte waiting in its buffer is
 * written then: the check runs in that write, once. */
static void late_check(void)
{
    if (__atomic_exchange_n(&late_check_armed, 0, __ATOMIC_ACQ_REL) &&
        getpid() == __atomic_load_n(&owner, __ATOMIC_RELAXED)) {
        leak_check_now();
        exit_end();
    }
}

static ssize_t late_check_write(void *cookie, const char *buf, size_t n)
{
    (void)cookie, (void)buf;
    late_check();
    return (ssize_t)n;
}

/* True when the check is left to the flush (or already ran: a write that came at once). */
static bool arm_late_check(void)
{
    cookie_io_functions_t io = { .write = late_check_write };
    __atomic_store_n(&late_check_armed, 1, __ATOMIC_RELEASE);
    mp_internal_enter();        /* the stream and its buffer: the private heap's */
    FILE *f = fopencookie(NULL, "w", io);
    bool ok = f && setvbuf(f, NULL, _IOFBF, BUFSIZ) == 0 && fputc(0, f) != EOF;
    mp_internal_leave();
    return ok || !__atomic_exchange_n(&late_check_armed, 0, __ATOMIC_ACQ_REL);
}

/* The unwinders' report, the last profile, and the leak check (unless the process is being
 * killed: check reports no leaks of a killed program): from exit() (late) at the streams'
 * flush, else at once. False when the check was left to the flush, which ends the exit path. */
static bool exit_work(bool killed, bool late)
{
    mp_unwind_report();
    if (mp_opts()->at_exit) {
        mp_dump("exit");
        pthread_mutex_lock(&dump_lock);
        exited = 1;
        pthread_mutex_unlock(&dump_lock);
    }
    if (!mp_opts()->leak_check || killed) return true;
    if (late && arm_late_check()) return false;
    leak_check_now();
    return true;
}

/* The exit path, once per process (see exit_work). A second caller (another thread's _exit or
 * termination signal meanwhile) waits for its end, then goes on to end the process. Not in a
 * vfork child (the parent's memory, and no fork handler ran: the pid tells), and not when a
 * signal handler calling exit or _exit interrupted our own work on this thread: its locks are
 * held and its tables half way (a dump there waited on them for good). The dump's own
 * allocations come from the private heap. A termination signal that came to this thread
 * meanwhile (on_term) acts at the end. late: from exit(), whose streams are flushed last. */
static void exit_path(bool killed, bool late)
{
    if (!mp_enabled() || getpid() != __atomic_load_n(&owner, __ATOMIC_RELAXED)) return;
    if (mp_tls.busy) {
        mp_warn("exit inside mapprof's own work (from a signal handler): no exit profile or "
                "leak check for pid %d", (int)owner);
        return;
    }
    pid_t none = 0, self = (pid_t)syscall(SYS_gettid);
    if (!__atomic_compare_exchange_n(&exit_tid, &none, self, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        if (none != self) exit_wait();
        else if (!killed) late_check();     /* _exit after exit() (a later destructor's): no
                                             * flush comes, the check left to it runs now */
        return;
    }
    if (exit_work(killed, late)) exit_end();
}

void mp_trigger_exit_now(void) { exit_path(false, false); }

__attribute__((destructor)) static void at_exit_dump(void) { exit_path(false, true); }

/* term: a signal that would end the program by its default action (the program left it so)
 * writes the exit profile first, then ends it as the default would (the same status). The
 * dump runs in the handler, under the exit path's guards; one that lands inside our own work
 * (busy: an allocation's or free's slow path, a map hook, a dump) waits for this thread's way
 * out of it (mp_busy_sub), where the dump runs outside our own work. So does one that lands
 * while the exit path runs (exit, _exit): on its own thread, the exit path raises it at its
 * end; on another, the handler waits for that end (exit_wait).
 *
 * The signal never stops less than it did: the handler is installed with SA_RESETHAND and
 * SA_NODEFER and blocks no termination signal, so the same signal again ends the program at
 * once; and a timer sends it again after term_timeout seconds, for a dump that cannot finish
 * (a lock the program holds for good, a hung thread of its own). */
static void term_now(int sig)
{
    exit_path(true, false);
    raise(sig);     /* the default again (SA_RESETHAND), and not blocked: it ends us here */
}

/* The signal again in term_timeout seconds, by a kernel timer (the raw system calls: glibc's
 * timer_create is not on the async-signal-safe list). */
static void term_watchdog(int sig)
{
    uint64_t secs = mp_opts()->term_timeout;
    if (!secs) return;
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = sig;
    int id;
    if (syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &id) != 0) return;
    struct itimerspec when = { .it_value = { .tv_sec = (time_t)secs } };
    syscall(SYS_timer_settime, id, 0, &when, NULL);
}

static void on_term(int sig)
{
    int saved = errno;
    term_watchdog(sig);
    errno = saved;
    if (mp_tls.busy > 0 || exit_runs_here()) {
        if (!mp_tls.term_pending) mp_tls.term_pending = sig;
        return;
    }
    term_now(sig);
}

/* A termination signal came inside our own work on this thread, which has just left it all
 * (mp_busy_sub, through mp_term_pending_act): the exit profile, then the signal's default
 * action (or, inside the exit path, nothing yet: its own end acts). */
static void term_pending(void)
{
    if (exit_runs_here()) return;   /* a free inside the exit path: its end acts */
    int sig = mp_tls.term_pending;
    mp_tls.term_pending = 0;
    term_now(sig);
}

static void install_term(void)
{
    static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sa.sa_flags = SA_RESETHAND | SA_NODEFER;
    sigfillset(&sa.sa_mask);    /* the program's other handlers wait for the dump ... */
    for (size_t j = 0; j < sizeof sigs / sizeof *sigs; j++)
        sigdelset(&sa.sa_mask, sigs[j]);    /* ... a second termination signal does not */
    /* not over the program's own handler, nor where it is ignored (a background job's SIGINT) */
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) mp_sigown_take(sigs[i], &sa);
}
