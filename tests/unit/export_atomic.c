/* tests/unit/export_atomic.c - every writer's all-or-nothing file (export/atomicfile.h).
 *
 * A committed file has exactly what was written, mode 0644 minus the umask, and no temporary
 * file is left beside it; an existing file is replaced whole; a symlink at the target is
 * replaced, its destination untouched; abort, a failing write (file size limit) and an
 * unwritable or missing directory leave no file at all, and the writers report the errno. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "export/atomicfile.h"
#include "export/export.h"
#include "tests/check.h"

static char dir[256];

static void path_in(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }

static char *slurp(const char *p)
{
    FILE *f = fopen(p, "r");
    if (!f) return NULL;
    char *b = calloc(1, 1 << 21);
    size_t n = fread(b, 1, (1 << 21) - 1, f);
    b[n] = 0;
    fclose(f);
    return b;
}

/* Entries in dir other than . and .., and how many look like our temporary files. */
static int count_entries(int *tmps)
{
    DIR *d = opendir(dir);
    int n = 0;
    *tmps = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        n++;
        if (strstr(e->d_name, ".tmp.")) (*tmps)++;
    }
    if (d) closedir(d);
    return n;
}

static void clean_dir(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[600];
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    if (d) closedir(d);
}

static void test_commit(void)
{
    clean_dir();
    char p[300];
    path_in(p, sizeof p, "out.txt");
    mode_t old = umask(027);
    mp_afile_t f;
    CHECK_EQ_INT(mp_afile_open(&f, p), 0);
    CHECK_EQ_INT(mp_afile_printf(&f, "hello %d\n", 42), 0);
    char big[300000];
    memset(big, 'x', sizeof big);       /* larger than the buffer: written straight through */
    CHECK_EQ_INT(mp_afile_write(&f, big, sizeof big), 0);
    CHECK_EQ_INT(mp_afile_write(&f, "end\n", 4), 0);
    struct stat st;
    CHECK(stat(p, &st) != 0);           /* nothing at the target before commit */
    CHECK_EQ_INT(mp_afile_commit(&f), 0);
    umask(old);
    char *c = slurp(p);
    CHECK(c && !strncmp(c, "hello 42\nxxx", 12) && strlen(c) == 9 + sizeof big + 4);
    free(c);
    CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0640);
    int tmps, n = count_entries(&tmps);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(tmps, 0);
}

static void test_replace_existing(void)
{
    clean_dir();
    char p[300];
    path_in(p, sizeof p, "out.txt");
    FILE *o = fopen(p, "w");
    fputs("old contents that are longer than the new ones\n", o);
    fclose(o);
    mp_afile_t f;
    CHECK_EQ_INT(mp_afile_open(&f, p), 0);
    mp_afile_printf(&f, "new\n");
    CHECK_EQ_INT(mp_afile_commit(&f), 0);
    char *c = slurp(p);
    CHECK(c && !strcmp(c, "new\n"));
    free(c);
}

static void test_symlink_replaced(void)
{
    clean_dir();
    char victim[300], link[300];
    path_in(victim, sizeof victim, "victim");
    path_in(link, sizeof link, "link.pb.gz");
    FILE *o = fopen(victim, "w");
    fputs("precious\n", o);
    fclose(o);
    CHECK(symlink(victim, link) == 0);
    mp_afile_t f;
    CHECK_EQ_INT(mp_afile_open(&f, link), 0);
    mp_afile_printf(&f, "profile\n");
    CHECK_EQ_INT(mp_afile_commit(&f), 0);
    struct stat st;
    CHECK(lstat(link, &st) == 0 && S_ISREG(st.st_mode));
    char *c = slurp(victim);
    CHECK(c && !strcmp(c, "precious\n"));
    free(c);
    c = slurp(link);
    CHECK(c && !strcmp(c, "profile\n"));
    free(c);
    /* a dangling symlink as well (writing through it would create its destination) */
    char nowhere[300];
    path_in(nowhere, sizeof nowhere, "nowhere");
    unlink(link);
    CHECK(symlink(nowhere, link) == 0);
    CHECK_EQ_INT(mp_afile_open(&f, link), 0);
    CHECK_EQ_INT(mp_afile_commit(&f), 0);
    CHECK(lstat(link, &st) == 0 && S_ISREG(st.st_mode));
    CHECK(lstat(nowhere, &st) != 0);
}

static void test_abort_leaves_nothing(void)
{
    clean_dir();
    char p[300];
    path_in(p, sizeof p, "out.txt");
    mp_afile_t f;
    CHECK_EQ_INT(mp_afile_open(&f, p), 0);
    mp_afile_printf(&f, "partial");
    mp_afile_abort(&f);
    mp_afile_abort(&f);                 /* twice is harmless */
    int tmps;
    CHECK_EQ_INT(count_entries(&tmps), 0);
}

/* A write that fails half-way (file size limit: EFBIG) leaves no file, old or new. */
static void test_write_error(void)
{
    clean_dir();
    char p[300];
    path_in(p, sizeof p, "out.txt");
    FILE *o = fopen(p, "w");
    fputs("old\n", o);
    fclose(o);
    struct rlimit old, lim = { 100000, 100000 };
    getrlimit(RLIMIT_FSIZE, &old);
    lim.rlim_max = old.rlim_max;
    signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    mp_afile_t f;
    CHECK_EQ_INT(mp_afile_open(&f, p), 0);
    char chunk[10000];
    memset(chunk, 'y', sizeof chunk);
    int e = 0;
    for (int i = 0; i < 100 && !e; i++) e = mp_afile_write(&f, chunk, sizeof chunk);
    int ce = mp_afile_commit(&f);
    setrlimit(RLIMIT_FSIZE, &old);
    CHECK_EQ_INT(ce, EFBIG);
    char *c = slurp(p);
    CHECK(c && !strcmp(c, "old\n"));    /* the old file stands, untouched */
    free(c);
    int tmps;
    CHECK_EQ_INT(count_entries(&tmps), 1);
    CHECK_EQ_INT(tmps, 0);
}

static void test_unwritable(void)
{
    clean_dir();
    mp_afile_t f;
    CHECK_EQ_INT(mp_afile_open(&f, "/nonexistent-dir/x.pb.gz"), ENOENT);
    CHECK(mp_afile_open(&f, "") == EINVAL);
    char p[300];
    path_in(p, sizeof p, "");
    CHECK(mp_afile_open(&f, p) != 0);   /* a directory path */
    /* a writer into a missing directory: errno back, nothing created */
    mp_snapshot_t s = { .rate = 1, .pid = getpid() };
    CHECK_EQ_INT(mp_export_pprof(&s, "/nonexistent-dir/x.pb.gz"), ENOENT);
    CHECK_EQ_INT(mp_export_legacy(&s, "/nonexistent-dir/x.heap"), ENOENT);
    /* a read-only directory (root ignores the mode: use /proc, which refuses new files) */
    int e = mp_export_legacy(&s, "/proc/mapprof-test.heap");
    CHECK(e != 0);
    if (geteuid() != 0) {
        char sub[300];
        path_in(sub, sizeof sub, "ro");
        mkdir(sub, 0555);
        char t[400];
        snprintf(t, sizeof t, "%s/x.pb.gz", sub);
        CHECK_EQ_INT(mp_export_pprof(&s, t), EACCES);
        struct stat st;
        CHECK(stat(t, &st) != 0);
        rmdir(sub);
    }
    int tmps;
    CHECK_EQ_INT(count_entries(&tmps), 0);
}

/* The writers themselves: a profile with nothing in it is still a valid file. */
static void test_writers_atomic(void)
{
    clean_dir();
    char p[300], h[300];
    path_in(p, sizeof p, "empty.pb.gz");
    path_in(h, sizeof h, "empty.heap");
    mp_snapshot_t s = { .rate = 524288, .pid = getpid() };
    CHECK_EQ_INT(mp_export_pprof(&s, p), 0);
    CHECK_EQ_INT(mp_export_legacy(&s, h), 0);
    mp_profile_t *pr = NULL;
    char err[256] = "";
    CHECKF(mp_profile_read(p, &pr, err, sizeof err) == 0, "%s", err);
    mp_profile_free(pr);
    char *c = slurp(h);
    CHECK(c && !strncmp(c, "heap profile: 0: 0 [0: 0] @ heap_v2/524288\n", 43) &&
          strstr(c, "\nMAPPED_LIBRARIES:\n"));
    free(c);
    int tmps;
    CHECK_EQ_INT(count_entries(&tmps), 2);
    CHECK_EQ_INT(tmps, 0);
}

/* A child opens the temporary file of dir/name and writes to it; it then dies without a
 * commit (as a SIGKILL mid-write would leave it), or, when hold is given, waits until the
 * pipe's write end hold[1] closes in the parent. Returns the child's pid; *tmp gets the
 * file's name. */
static pid_t writer(const char *name, const int *hold, char *tmp, size_t n)
{
    int names[2];
    if (pipe(names)) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        char p[300];
        path_in(p, sizeof p, name);
        mp_afile_t f;
        if (mp_afile_open(&f, p) || mp_afile_write(&f, "partial", 7)) _exit(1);
        if (write(names[1], strrchr(f.tmp, '/') + 1, strlen(strrchr(f.tmp, '/') + 1)) < 0) _exit(1);
        close(names[1]);
        char c;
        if (hold) {
            close(hold[1]);
            while (read(hold[0], &c, 1) > 0) {}
        }
        _exit(0);   /* no commit, no abort: the temporary file stays */
    }
    close(names[1]);
    ssize_t r = read(names[0], tmp, n - 1);
    tmp[r > 0 ? r : 0] = 0;
    close(names[0]);
    return pid;
}

static bool present(const char *name)
{
    char p[600];
    struct stat st;
    path_in(p, sizeof p, name);
    return lstat(p, &st) == 0;
}

/* Set a file's time s seconds back. */
static void age(const char *name, int s)
{
    char p[600];
    path_in(p, sizeof p, name);
    struct timeval tv[2];
    gettimeofday(&tv[0], NULL);
    tv[0].tv_sec -= s;
    tv[1] = tv[0];
    lutimes(p, tv);
}

/* The temporary files of writers killed mid-write are swept; nothing else is. */
static void test_sweep(void)
{
    clean_dir();
    char prefix[300], dead[256], other[256], live[256], mine[600], link[600], p[600];
    path_in(prefix, sizeof prefix, "p");
    int st, hold[2];
    CHECK(pipe(hold) == 0);
    pid_t d = writer("p.9.0.pb.gz", NULL, dead, sizeof dead);
    CHECK(waitpid(d, &st, 0) == d && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    pid_t o = writer("pp.9.0.pb.gz", NULL, other, sizeof other);     /* another prefix's */
    CHECK(waitpid(o, &st, 0) == o);
    pid_t l = writer("p.8.0.pb.gz", hold, live, sizeof live);    /* its writer still runs */
    close(hold[0]);
    mp_afile_t f;                                                   /* this process's own */
    path_in(p, sizeof p, "p.7.0.pb.gz");
    CHECK(mp_afile_open(&f, p) == 0);
    snprintf(mine, sizeof mine, "%s", strrchr(f.tmp, '/') + 1);
    /* a symlink with a dead writer's temporary name, and a finished profile */
    snprintf(link, sizeof link, "%s", dead);
    link[strlen(link) - 1] = link[strlen(link) - 1] == '0' ? '1' : '0';
    char lp[700];
    path_in(lp, sizeof lp, link);
    CHECK(symlink("/nonexistent", lp) == 0);
    path_in(p, sizeof p, "p.6.0.pb.gz");
    close(open(p, O_CREAT | O_WRONLY, 0644));
    CHECK(dead[0] == '.' && strstr(dead, ".p.9.0.pb.gz.") == dead && present(dead));
    CHECK(present(other) && present(live) && present(mine));

    /* names not as mp_afile_open makes them, with a dead writer's pid: a short salt, and a
     * pid with a letter in it */
    char bad1[300], bad2[300];
    snprintf(bad1, sizeof bad1, "%.*s0", (int)strlen(dead) - 1, dead);
    bad1[strlen(bad1) - 2] = 0;
    const char *pid_at = strstr(dead, ".tmp.") + 5;
    snprintf(bad2, sizeof bad2, "%.*sx%s", (int)(pid_at - dead), dead, pid_at);
    for (const char *b = bad1; b; b = b == bad1 ? bad2 : NULL) {
        path_in(p, sizeof p, b);
        close(open(p, O_CREAT | O_WRONLY, 0644));
        age(b, 120);
    }
    CHECK_EQ_INT(mp_afile_sweep(prefix, 60), 0);    /* the dead writer's file is too recent */
    CHECK(present(dead) && present(bad1) && present(bad2));
    age(link, 120);
    age(dead, 120);
    age(other, 120);
    age(live, 120);
    age(mine, 120);
    CHECK_EQ_INT(mp_afile_sweep(prefix, 60), 1);
    CHECK(!present(dead));
    CHECK(present(other) && present(live) && present(mine) && present(link) && present("p.6.0.pb.gz"));
    CHECK(present(bad1) && present(bad2));
    /* with no age: still only dead writers' */
    CHECK_EQ_INT(mp_afile_sweep(prefix, 0), 0);
    CHECK(present(live) && present(mine));
    close(hold[1]);                                 /* the live writer ends */
    CHECK(waitpid(l, &st, 0) == l);
    CHECK_EQ_INT(mp_afile_sweep(prefix, 0), 1);
    CHECK(!present(live) && present(mine) && present(other));
    mp_afile_abort(&f);
    /* a missing directory: nothing to do */
    CHECK_EQ_INT(mp_afile_sweep("/nonexistent-dir/p", 0), 0);
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s/mapprof-atomic-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    RUN(test_commit);
    RUN(test_replace_existing);
    RUN(test_symlink_replaced);
    RUN(test_abort_leaves_nothing);
    RUN(test_write_error);
    RUN(test_unwritable);
    RUN(test_writers_atomic);
    RUN(test_sweep);
    clean_dir();
    rmdir(dir);
    return check_done();
}
