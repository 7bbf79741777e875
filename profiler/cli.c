/* profiler/cli.c - the mapprof command: run a program under the profiler, read profiles.
 *
 *   mapprof run [options] -- CMD [ARGS...]   profile CMD; exit with CMD's status
 *   mapprof report FILE [--top N] [--sample-index NAME] [--format text|json]
 *   mapprof check, mapprof diff: cli_check.c, cli_diff.c
 *
 * Bad usage: a one-line error and exit status 2; a command that cannot run: 127 or 126, as a
 * shell says. */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <glob.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "export/atomicfile.h"
#include "export/export.h"
#include "export/mapsfile.h"
#include "profiler/cli.h"
#include "profiler/log.h"
#include "profiler/options.h"

static const char *prog = "mapprof";

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mapprof run [--rate N] [-o PREFIX] [--interval S] [--inuse-step BYTES]\n"
            "                   [--unwind fp|libunwind|verify] [--seed N] [--legacy] [--findings]\n"
            "                   -- CMD [ARGS...]\n"
            "       mapprof report FILE [--top N] [--sample-index NAME] [--format text|json]\n"
            "       mapprof check [--json F] [--junit F] [--sarif F] [--fail-on KINDS]\n"
            "                     [--max-leak-bytes N] [--suppressions F] [--error-exitcode N]\n"
            "                     [--interval S] [-o PREFIX] [--quiet] -- CMD [ARGS...]\n"
            "       mapprof diff BASE NEW [-o DELTA.pb.gz] [--format text|json]\n"
            "       mapprof diff --series FILES... [--format text|json]\n");
}

int cli_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 2;
}

/* libmapprof.so beside this executable, or in ../lib/mapprof/ for an installed layout. */
static int find_library(char *out, size_t len)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return -1;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (!slash) return -1;
    *slash = 0;
    const char *cands[] = { "%s/libmapprof.so", "%s/../lib/mapprof/libmapprof.so" };
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
        int w = snprintf(out, len, cands[i], self);
        if (w > 0 && (size_t)w < len && access(out, R_OK) == 0) return 0;
    }
    return -1;
}

static bool is_number(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if ((*s < '0' || *s > '9') && !strchr("kKmMgG", *s)) return false;
    return true;
}

/* Would the profiler take key=value? The same table and bounds the preloaded library reads
 * (profiler/options.c), asked quietly: the CLI says what is wrong in its own words. */
static bool option_ok(const char *key, const char *value)
{
    char s[256];
    if (snprintf(s, sizeof s, "%s=%s", key, value) >= (int)sizeof s) return false;
    mp_options_t o;
    mp_options_default(&o);
    mp_log_set_quiet(1);
    int problems = mp_options_parse(&o, s);
    mp_log_set_quiet(0);
    return problems == 0;
}

/* A file name the profiler writes under a prefix. */
static bool is_output(const char *p)
{
    static const char *const ext[] = { ".pb.gz", ".heap", ".maps", ".findings.json" };
    size_t pl = strlen(p);
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        size_t el = strlen(ext[i]);
        if (pl > el && !strcmp(p + pl - el, ext[i])) return true;
    }
    return false;
}

/* The files a glob matched before a run (cli.h): path, inode and modification time. A file
 * written again is a new one renamed into place: another inode, though a freed inode number
 * may come back, so its time is compared too. */
static int by_path(const void *a, const void *b)
{
    return strcmp(((const cli_seen_file_t *)a)->path, ((const cli_seen_file_t *)b)->path);
}

/* Out of memory: the set stays smaller, and more files are taken as written, never fewer. */
void cli_seen_load(cli_seen_t *s, const char *pat)
{
    glob_t g;
    if (glob(pat, 0, NULL, &g)) return;
    s->v = calloc(g.gl_pathc, sizeof *s->v);
    for (size_t k = 0; s->v && k < g.gl_pathc; k++) {
        struct stat sb;
        char *path;
        if (lstat(g.gl_pathv[k], &sb) || !(path = strdup(g.gl_pathv[k]))) continue;
        s->v[s->n++] = (cli_seen_file_t){ path, sb.st_ino, sb.st_mtim };
    }
    globfree(&g);
    if (s->n) qsort(s->v, s->n, sizeof *s->v, by_path);
}

bool cli_seen_has(const cli_seen_t *s, const char *p, const struct stat *sb)
{
    cli_seen_file_t key = { .path = (char *)p };
    const cli_seen_file_t *f = s->n ? bsearch(&key, s->v, s->n, sizeof *s->v, by_path) : NULL;
    return f && f->ino == sb->st_ino && f->mtim.tv_sec == sb->st_mtim.tv_sec &&
           f->mtim.tv_nsec == sb->st_mtim.tv_nsec;
}

void cli_seen_free(cli_seen_t *s)
{
    for (size_t k = 0; k < s->n; k++) free(s->v[k].path);
    free(s->v);
    *s = (cli_seen_t){ 0 };
}

static int cmd_run(int argc, char **argv)
{
    char opts[4096] = "";
    const char *prefix = "mapprof";
    size_t ol = 0;
    int i;
#define ADD(...) ol += (size_t)snprintf(opts + ol, sizeof opts - ol, __VA_ARGS__)
    for (i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--")) { i++; break; }
        if (!strcmp(a, "--legacy")) { ADD(":formats=pb,legacy"); continue; }
        if (!strcmp(a, "--quiet")) { ADD(":quiet=1"); continue; }
        if (!strcmp(a, "--findings")) { ADD(":findings=1"); continue; }
        if (!v) return cli_die("option %s needs a value", a);
        if (!strcmp(a, "--rate") || !strcmp(a, "--interval") || !strcmp(a, "--seed") ||
            !strcmp(a, "--inuse-step")) {
            if (!is_number(v)) return cli_die("%s takes a number, not '%s'", a, v);
            const char *key = !strcmp(a, "--rate") ? "rate" : !strcmp(a, "--interval") ? "interval"
                            : !strcmp(a, "--seed") ? "seed" : "inuse_step";
            if (!option_ok(key, v)) return cli_die("%s %s is out of range", a, v);
            ADD(":%s=%s", key, v);
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (strchr(v, ':')) return cli_die("output prefix may not contain ':'");
            prefix = v;
        } else if (!strcmp(a, "--unwind")) {
            if (strcmp(v, "fp") && strcmp(v, "libunwind") && strcmp(v, "verify"))
                return cli_die("--unwind takes fp, libunwind or verify");
            ADD(":unwind=%s", v);
        } else {
            return cli_die("unknown option '%s' (see mapprof --help)", a);
        }
        i++;
    }
    if (i >= argc) return cli_die("run needs a command after --");
    if (ol >= sizeof opts) return cli_die("options too long");

    char abs_prefix[PATH_MAX], pat[PATH_MAX + 16];
    int e = cli_abs_prefix(prefix, abs_prefix, sizeof abs_prefix);
    if (e) return e;
    if (!cli_prefix_glob(abs_prefix, ".*", pat, sizeof pat)) return cli_die("output prefix too long");
    /* The profiles are what run is for: a directory they cannot go to is a usage error. */
    char dir[PATH_MAX];
    struct stat ds;
    mp_afile_dir(abs_prefix, dir, sizeof dir);      /* fits: a prefix of abs_prefix */
    e = stat(dir, &ds) ? errno : !S_ISDIR(ds.st_mode) ? ENOTDIR : access(dir, W_OK | X_OK) ? errno : 0;
    if (e) return cli_die("output directory %s: %s", dir, strerror(e));
    /* What the prefix names already (an earlier run's profiles), to tell them apart after. */
    cli_seen_t before = { 0 };
    cli_seen_load(&before, pat);
    int st;
    e = cli_run_preloaded(argv + i, opts[0] == ':' ? opts + 1 : opts, abs_prefix, &st);
    if (e) {
        cli_seen_free(&before);
        return e;
    }

    glob_t g;
    int found = 0;
    if (glob(pat, 0, NULL, &g) == 0) {
        for (size_t k = 0; k < g.gl_pathc; k++) {
            struct stat sb;
            const char *p = g.gl_pathv[k];
            if (is_output(p) && lstat(p, &sb) == 0 && S_ISREG(sb.st_mode) && !cli_seen_has(&before, p, &sb)) {
                fprintf(stderr, "%s: wrote %s\n", prog, p);
                found++;
            }
        }
        globfree(&g);
    }
    cli_seen_free(&before);
    if (!found) fprintf(stderr, "%s: no profile was written (prefix %s)\n", prog, abs_prefix);
    cli_sweep(abs_prefix);
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return 1;
}

void cli_sweep(const char *prefix)
{
    int n = mp_afile_sweep(prefix, 0);
    if (n) fprintf(stderr, "%s: removed %d temporary file%s left by a process killed while it wrote\n",
                   prog, n, n == 1 ? "" : "s");
}

bool cli_prefix_glob(const char *prefix, const char *suffix, char *out, size_t len)
{
    size_t k = 0;
    for (const char *c = prefix; *c; c++) {
        if (k + 3 > len) return false;
        if (strchr("*?[\\", *c)) out[k++] = '\\';
        out[k++] = *c;
    }
    return snprintf(out + k, len - k, "%s", suffix) < (int)(len - k);
}

int cli_abs_prefix(const char *prefix, char *out, size_t len)
{
    char cwd[PATH_MAX] = "";
    if (prefix[0] != '/' && !getcwd(cwd, sizeof cwd)) return cli_die("getcwd: %s", strerror(errno));
    if (!mp_path_anchor(cwd, prefix, out, len)) return cli_die("output prefix too long");
    return 0;
}

/* The file execvp would run for cmd (PATH searched when cmd has no slash), into out. */
static bool resolve_command(const char *cmd, char *out, size_t len)
{
    if (strchr(cmd, '/')) return snprintf(out, len, "%s", cmd) < (int)len;
    const char *path = getenv("PATH");
    for (const char *p = path ? path : "/usr/local/bin:/usr/bin:/bin"; *p;) {
        size_t n = strcspn(p, ":");
        if (snprintf(out, len, "%.*s%s%s", (int)n, p, n ? "/" : "", cmd) < (int)len &&
            access(out, X_OK) == 0)
            return true;
        p += n + (p[n] == ':');
    }
    return false;
}

/* Can LD_PRELOAD reach the program at path? An ELF program without an interpreter (statically
 * linked) runs no dynamic loader, and a 32-bit one cannot take a 64-bit library: the run goes
 * on unprofiled (only the dynamically linked programs it starts are). NULL when it can, or the
 * file is no ELF program (a script: its interpreter decides). */
static const char *unreachable(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    Elf64_Ehdr eh;
    const char *why = NULL;
    if (pread(fd, &eh, sizeof eh, 0) == (ssize_t)sizeof eh && !memcmp(eh.e_ident, ELFMAG, SELFMAG)) {
        if (eh.e_ident[EI_CLASS] != ELFCLASS64) {
            why = "is a 32-bit program, which the 64-bit libmapprof.so cannot be preloaded into";
        } else if ((eh.e_type == ET_EXEC || eh.e_type == ET_DYN) &&
                   eh.e_phentsize == sizeof(Elf64_Phdr) && eh.e_phnum < 4096) {
            bool interp = false, exec = eh.e_type == ET_EXEC;
            for (int i = 0; i < eh.e_phnum && !interp; i++) {
                Elf64_Phdr ph;
                if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + (uint64_t)i * sizeof ph)) !=
                    (ssize_t)sizeof ph)
                    break;
                interp = ph.p_type == PT_INTERP;
                exec |= ph.p_type == PT_DYNAMIC;    /* a static-pie runs too: ET_DYN, no interp */
            }
            if (!interp && exec) why = "is statically linked: LD_PRELOAD cannot reach it";
        }
    }
    close(fd);
    return why;
}

int cli_run_preloaded(char **argv, const char *opts, const char *prefix, int *status)
{
    char path[PATH_MAX];
    /* A command that cannot run: one line, and the shell's status for it, before anything. */
    if (!resolve_command(argv[0], path, sizeof path)) {
        cli_die("cannot run %s: command not found", argv[0]);
        return 127;
    }
    struct stat ps;
    int e = access(path, X_OK) ? errno : stat(path, &ps) == 0 && S_ISDIR(ps.st_mode) ? EISDIR : 0;
    if (e) {
        cli_die("cannot run %s: %s", argv[0], strerror(e));
        return e == ENOENT ? 127 : 126;
    }
    const char *why = unreachable(path);
    if (why)
        fprintf(stderr, "%s: warning: %s %s (only the dynamically linked programs it starts are "
                "profiled)\n", prog, argv[0], why);
    char lib[PATH_MAX];
    if (find_library(lib, sizeof lib)) return cli_die("cannot find libmapprof.so next to mapprof");
    char *env_opts = NULL, *env_pre = NULL;
    const char *old_opts = getenv("MAPPROF_OPTIONS"), *old_pre = getenv("LD_PRELOAD");
    if (asprintf(&env_opts, "%s%s%s%s%s%s", old_opts ? old_opts : "", old_opts ? ":" : "",
                 prefix ? "output=" : "", prefix ? prefix : "", prefix && opts[0] ? ":" : "", opts) < 0 ||
        asprintf(&env_pre, "%s%s%s", lib, old_pre ? ":" : "", old_pre ? old_pre : "") < 0)
        return cli_die("out of memory");
    pid_t pid = fork();
    if (pid < 0) return cli_die("fork: %s", strerror(errno));
    if (pid == 0) {
        setenv("MAPPROF_OPTIONS", env_opts, 1);
        setenv("LD_PRELOAD", env_pre, 1);
        execvp(argv[0], argv);
        fprintf(stderr, "%s: cannot run %s: %s\n", prog, argv[0], strerror(errno));
        _exit(127);
    }
    free(env_opts);
    free(env_pre);
    /* Like system(): the child takes the terminal's signals; we wait for it. */
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR) return cli_die("waitpid: %s", strerror(errno));
    return 0;
}

static bool is_help(const char *a) { return !strcmp(a, "-h") || !strcmp(a, "--help"); }

/* Asks for help: -h or --help as the command, or among a command's own arguments (before --:
 * the program's are its own). */
static bool wants_help(int argc, char **argv)
{
    if (is_help(argv[1]) || !strcmp(argv[1], "help")) return true;
    for (int i = 2; i < argc && strcmp(argv[i], "--"); i++)
        if (is_help(argv[i])) return true;
    return false;
}

int main(int argc, char **argv)
{
    if (argc < 2) { usage(stderr); return 2; }
    if (wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "run")) return cmd_run(argc - 2, argv + 2);
    if (!strcmp(argv[1], "report")) return cli_report(argc - 2, argv + 2);
    if (!strcmp(argv[1], "check")) return cli_check(argc - 2, argv + 2);
    if (!strcmp(argv[1], "diff")) return cli_diff(argc - 2, argv + 2);
    return cli_die("unknown command '%s' (run, report, check, diff)", argv[1]);
}

/* mapprof report FILE [--top N] [--sample-index NAME] [--format text|json]: the top table of a
 * pprof heap profile (ours or any), then the maps beside it, largest retained first. */
int cli_report(int argc, char **argv)
{
    const char *file = NULL, *si = NULL, *format = "text";
    int top = 20;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] != '-') {
            if (file) return cli_die("report takes one file (got '%s' and '%s')", file, a);
            file = a;
            continue;
        }
        if (!v) return cli_die("option %s needs a value", a);
        if (!strcmp(a, "--top")) {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n < 0 || n > 1000000) return cli_die("--top takes a count, not '%s'", v);
            top = (int)n;
        } else if (!strcmp(a, "--sample-index") || !strcmp(a, "--sample_index")) {
            si = v;
        } else if (!strcmp(a, "--format")) {
            if (strcmp(v, "text") && strcmp(v, "json")) return cli_die("--format takes text or json");
            format = v;
        } else {
            return cli_die("unknown option '%s' for report", a);
        }
        i++;
    }
    if (!file) return cli_die("report needs a profile file");
    char err[512];
    char maps[PATH_MAX];
    mp_mapsfile_t mf = { 0 };
    bool have_maps = mp_mapsfile_path(file, maps, sizeof maps) == 0 && access(maps, F_OK) == 0;
    if (have_maps && mp_mapsfile_read(maps, &mf, err, sizeof err)) return cli_die("%s", err);
    if (!strcmp(format, "json")) {
        /* the map inventory (empty when the profile has none beside it) */
        if (!have_maps) {
            mp_profile_t *p;
            if (mp_profile_read(file, &p, err, sizeof err)) return cli_die("%s", err);
            mp_profile_free(p);
        }
        mp_mapsfile_json(&mf, stdout);
        mp_mapsfile_free(&mf);
        return 0;
    }
    mp_profile_t *p;
    if (mp_profile_read(file, &p, err, sizeof err)) {
        mp_mapsfile_free(&mf);
        return cli_die("%s", err);
    }
    int e = mp_report_top(p, stdout, si, top);
    mp_profile_free(p);
    if (e == EINVAL) {
        mp_mapsfile_free(&mf);
        return cli_die("%s has no sample type '%s'", file, si ? si : "(default)");
    }
    if (have_maps) {
        printf("\n");
        mp_mapsfile_table(&mf, stdout, (size_t)top);
    }
    mp_mapsfile_free(&mf);
    return e ? 2 : 0;
}
