/* profiler/cli_check.c - `mapprof check -- CMD`: run CMD under full tracking with the leak check
 * at exit, gather every process's findings (its leaks, and the map findings of its snapshots:
 * dangling references at exit, maps that only grew), apply suppressions and gates, write the
 * CI reports, and exit: the command's own status when it failed by itself, 23 (or
 * --error-exitcode) when a gate failed, else 0. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "export/diff.h"
#include "export/leakfile.h"
#include "profiler/cli.h"

/* Allocations made while the loader runs library constructors (before main): the libraries'
 * lifetime state, matched anywhere in the stack. */
static const char *const builtin_anywhere[] = { "fun:_dl_init", "fun:_dl_start_user" };

/* Allocations the C runtime and the loader make for the life of the process (at the leaf). */
static const char *const builtin_suppressions[] = {
    "fun:_dl_*", "fun:_IO_file_doallocate", "fun:__libc_alloc_buffer_*", "fun:_nl_*",
    "fun:__new_exitfn", "fun:__cxa_thread_atexit_impl", "fun:_GLOBAL__sub_I_eh_alloc.cc",
    "fun:__gconv_*", "lib:*/ld-linux-x86-64.so*",
};

typedef struct rules {
    char **pat;         /* "fun:GLOB", "file:GLOB", "lib:GLOB", or a bare GLOB (any of them) */
    size_t n;
} rules_t;

static int add_rule(rules_t *r, const char *s)
{
    char **p = realloc(r->pat, (r->n + 1) * sizeof *p);
    if (!p) return ENOMEM;
    r->pat = p;
    r->pat[r->n] = strdup(s);
    return r->pat[r->n++] ? 0 : ENOMEM;
}

/* Read the rules of a suppressions file: a pattern a line, blank lines and # comments
 * skipped. A line that does not fit the buffer (or is not text: NUL bytes end it early, as
 * /dev/zero's do) is refused with its number, so a wrong path cannot read forever. */
static int load_rules(rules_t *r, const char *path, char *why, size_t whylen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        snprintf(why, whylen, "%s", strerror(e));
        return e;
    }
    char line[1024];
    for (int lineno = 1; fgets(line, sizeof line, f); lineno++) {
        if (!strchr(line, '\n') && !feof(f)) {
            snprintf(why, whylen, "line %d is longer than %zu bytes or not text", lineno,
                     sizeof line - 2);
            fclose(f);
            return EINVAL;
        }
        char *s = line;
        while (*s == ' ' || *s == '\t') s++;
        char *end = s + strlen(s);
        while (end > s && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t')) *--end = 0;
        if (!*s || *s == '#') continue;
        if (add_rule(r, s)) {
            snprintf(why, whylen, "out of memory");
            fclose(f);
            return ENOMEM;
        }
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        snprintf(why, whylen, "read error");
        return EIO;
    }
    return 0;
}

static bool matches(const char *pat, const mp_lfinding_t *x)
{
    const char *glob = pat;
    int what = 7;       /* 1 function, 2 file, 4 library */
    if (!strncmp(pat, "fun:", 4)) { what = 1; glob = pat + 4; }
    else if (!strncmp(pat, "file:", 5)) { what = 2; glob = pat + 5; }
    else if (!strncmp(pat, "lib:", 4)) { what = 4; glob = pat + 4; }
    for (size_t k = 0; k < x->nframes; k++) {
        const mp_lframe_t *fr = &x->frames[k];
        if ((what & 1) && !fnmatch(glob, fr->function, 0)) return true;
        if ((what & 2) && fr->file[0] && (!fnmatch(glob, fr->file, 0) || !fnmatch(glob, basename(fr->file), 0))) return true;
        if ((what & 4) && fr->module[0] && (!fnmatch(glob, fr->module, 0) || !fnmatch(glob, basename(fr->module), 0))) return true;
    }
    return false;
}

/* Built-in rules look at the allocating frame only (the leaf): the runtime's own lifetime
 * allocations start there; a program's strdup'd string does not. */
static bool matches_leaf(const char *pat, const mp_lfinding_t *x)
{
    if (!x->nframes) return false;
    mp_lfinding_t leaf = *x;
    leaf.nframes = 1;
    return matches(pat, &leaf);
}

static unsigned parse_kinds(const char *list, bool *ok)
{
    unsigned mask = 0;
    char *copy = strdup(list), *save = NULL;
    *ok = copy != NULL;
    for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save)) {
        int k = !strcmp(t, "map_retained") ? 2 : mp_leak_kind_index(t);
        if (k >= 0) mask |= 1u << k;
        else if (!strcmp(t, "none")) mask |= 0;
        else *ok = false;
    }
    free(copy);
    return mask;
}

static void cleanup_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char p[PATH_MAX];
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&      /* (a killed writer's */
                snprintf(p, sizeof p, "%s/%s", dir, e->d_name) < (int)sizeof p)   /* .tmp. too) */
                unlink(p);
        closedir(d);
    }
    rmdir(dir);
}

/* A snapshot file PREFIX.PID.SEQ.maps this run wrote. */
typedef struct snapfile {
    unsigned long seq;
    char *path;
} snapfile_t;

static int by_seq(const void *a, const void *b)
{
    const snapfile_t *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Add the map findings of process pid's snapshots to lf; how many snapshots it had (-1 when
 * one could not be read: said on stderr). */
static int add_map_findings(mp_leakfile_t *lf, const char *prefix, int pid, const cli_seen_t *before)
{
    char pat[PATH_MAX + 32], suffix[32];
    glob_t g;
    snprintf(suffix, sizeof suffix, ".%d.*.maps", pid);
    if (!cli_prefix_glob(prefix, suffix, pat, sizeof pat) || glob(pat, 0, NULL, &g)) return 0;
    snapfile_t *v = calloc(g.gl_pathc, sizeof *v);
    size_t n = 0, plen = strlen(prefix) + (size_t)snprintf(NULL, 0, ".%d.", pid);
    for (size_t i = 0; v && i < g.gl_pathc; i++) {
        struct stat sb;
        char *end;
        const char *p = g.gl_pathv[i];      /* PREFIX.PID.*.maps: longer than plen */
        unsigned long seq = strtoul(p + plen, &end, 10);
        if (end == p + plen || strcmp(end, ".maps") || lstat(p, &sb) || !S_ISREG(sb.st_mode)) continue;
        if (cli_seen_has(before, p, &sb)) continue;     /* an earlier run's */
        v[n++] = (snapfile_t){ seq, g.gl_pathv[i] };
    }
    qsort(v, n, sizeof *v, by_seq);
    mp_mapsfile_t *mf = calloc(n ? n : 1, sizeof *mf);
    int rc = (int)n;
    for (size_t i = 0; i < n && mf; i++) {
        char err[512];
        if (mp_mapsfile_read(v[i].path, &mf[i], err, sizeof err)) {
            fprintf(stderr, "mapprof: %s\n", err);
            rc = -1;
        }
    }
    if (!v || !mf) rc = -1;
    if (rc > 0 && mp_leakfile_add_map_findings(lf, mf, n)) {
        fprintf(stderr, "mapprof: out of memory: map findings left out\n");
        rc = -1;
    }
    for (size_t i = 0; mf && i < n; i++) mp_mapsfile_free(&mf[i]);
    free(mf);
    free(v);
    globfree(&g);
    return rc;
}

/* Take a suppressed finding's bytes and blocks out of its class's totals. */
static void unsum(mp_leakfile_t *lf, int kind, uint64_t bytes, uint64_t blocks)
{
    lf->sum_bytes[kind] -= lf->sum_bytes[kind] < bytes ? lf->sum_bytes[kind] : bytes;
    lf->sum_blocks[kind] -= lf->sum_blocks[kind] < blocks ? lf->sum_blocks[kind] : blocks;
}

int cli_check(int argc, char **argv)
{
    const char *json = NULL, *junit = NULL, *sarif = NULL, *supp = NULL, *prefix = NULL;
    const char *fail_on = "definite,indirect";
    unsigned long long max_bytes = 0;
    int error_exit = 23, i;
    unsigned long interval = 0;
    bool quiet = false;
    for (i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--")) { i++; break; }
        if (!strcmp(a, "--quiet")) { quiet = true; continue; }
        if (!v) return cli_die("option %s needs a value", a);
        if (!strcmp(a, "--json")) json = v;
        else if (!strcmp(a, "--junit")) junit = v;
        else if (!strcmp(a, "--sarif")) sarif = v;
        else if (!strcmp(a, "--suppressions")) supp = v;
        else if (!strcmp(a, "--fail-on")) fail_on = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) prefix = v;
        else if (!strcmp(a, "--max-leak-bytes")) {
            char *end;
            errno = 0;
            max_bytes = strtoull(v, &end, 10);
            if (errno || *end || *v == '-') return cli_die("--max-leak-bytes takes a number, not '%s'", v);
        } else if (!strcmp(a, "--error-exitcode")) {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 255) return cli_die("--error-exitcode takes 1..255, not '%s'", v);
            error_exit = (int)n;
        } else if (!strcmp(a, "--interval")) {
            char *end;
            errno = 0;
            interval = strtoul(v, &end, 10);
            if (errno || *end || *v == '-' || !interval || interval > 86400)
                return cli_die("--interval takes seconds, 1..86400, not '%s'", v);
        } else {
            return cli_die("unknown option '%s' for check", a);
        }
        i++;
    }
    if (i >= argc) return cli_die("check needs a command after --");
    bool ok;
    unsigned gate = parse_kinds(fail_on, &ok);
    if (!ok) return cli_die("--fail-on takes definite,indirect,map-retained,dangling,growth (got '%s')", fail_on);
    rules_t rules = { 0 };
    if (supp) {
        char why[128];
        if (load_rules(&rules, supp, why, sizeof why))
            return cli_die("cannot read suppressions %s: %s", supp, why);
    }

    /* the profile of what was live at exit goes beside the reports (-o, default ./mapprof-check) */
    if (!prefix) prefix = "mapprof-check";
    if (strchr(prefix, ':')) return cli_die("output prefix may not contain ':'");
    char abs_prefix[PATH_MAX], pat[PATH_MAX + 16];
    int e = cli_abs_prefix(prefix, abs_prefix, sizeof abs_prefix);
    if (e) return e;
    if (!cli_prefix_glob(abs_prefix, ".*.maps", pat, sizeof pat)) return cli_die("output prefix too long");

    /* A report left by an earlier run must not pass for this one's when this one writes none
     * (the command killed by a signal, or mapprof stopped): the targets go first, once no
     * usage error can stop the run. */
    const char *const reports[] = { json, junit, sarif };
    for (size_t k = 0; k < sizeof reports / sizeof *reports; k++) {
        struct stat sb;
        if (reports[k] && lstat(reports[k], &sb) == 0 && !S_ISDIR(sb.st_mode) && unlink(reports[k]) != 0)
            return cli_die("cannot replace %s: %s", reports[k], strerror(errno));
    }

    char dir[] = "/tmp/mapprof-check.XXXXXX";
    if (!mkdtemp(dir)) return cli_die("cannot create a temporary directory: %s", strerror(errno));
    char opts[PATH_MAX + 64];
    int w = snprintf(opts, sizeof opts, "leak_check=1:leak_report=%s/r", dir);
    if (interval) snprintf(opts + w, sizeof opts - (size_t)w, ":interval=%lu", interval);
    cli_seen_t before = { 0 };      /* snapshots of earlier runs under the prefix */
    cli_seen_load(&before, pat);
    int st;
    e = cli_run_preloaded(argv + i, opts, abs_prefix, &st);
    if (e) { cli_seen_free(&before); cleanup_dir(dir); return e; }
    cli_sweep(abs_prefix);
    if (WIFSIGNALED(st)) {
        fprintf(stderr, "mapprof: %s was killed by signal %d: no leak check\n", argv[i], WTERMSIG(st));
        cli_seen_free(&before);
        cleanup_dir(dir);
        return 128 + WTERMSIG(st);
    }

    mp_leakfile_t lf = { 0 };
    DIR *d = opendir(dir);
    int read_errors = 0, fewest_snapshots = INT_MAX;
    if (d) {
        struct dirent *ent;
        while ((ent = readdir(d))) {
            size_t l = strlen(ent->d_name);
            if (l < 6 || strcmp(ent->d_name + l - 6, ".leaks")) continue;
            char p[PATH_MAX], err[512];
            snprintf(p, sizeof p, "%s/%s", dir, ent->d_name);
            if (mp_leakfile_read(p, &lf, err, sizeof err)) {
                fprintf(stderr, "mapprof: %s\n", err);
                read_errors++;
                continue;
            }
            /* r.PID.leaks: that process's snapshots hold its map findings */
            int n = add_map_findings(&lf, abs_prefix, atoi(ent->d_name + 2), &before);
            if (n < 0) read_errors++;
            else if (n < fewest_snapshots) fewest_snapshots = n;
        }
        closedir(d);
    }
    cli_seen_free(&before);
    cleanup_dir(dir);
    if (!lf.processes) {
        fprintf(stderr, "mapprof: no process wrote a leak report (statically linked, or it ended "
                "by a raw exit system call?)\n");
        mp_leakfile_free(&lf);
        return WIFEXITED(st) && WEXITSTATUS(st) ? WEXITSTATUS(st) : 2;
    }

    uint64_t gated_bytes = 0;
    bool any_gated = false;
    size_t map_gated = 0;       /* dangling references and growing maps fail a gate by being there */
    for (size_t k = 0; k < lf.n; k++) {
        mp_lfinding_t *x = &lf.f[k];
        for (size_t b = 0; b < sizeof builtin_suppressions / sizeof *builtin_suppressions && !x->suppressed; b++)
            x->suppressed = matches_leaf(builtin_suppressions[b], x);
        for (size_t b = 0; b < sizeof builtin_anywhere / sizeof *builtin_anywhere && !x->suppressed; b++)
            x->suppressed = matches(builtin_anywhere[b], x);
        for (size_t r = 0; r < rules.n && !x->suppressed; r++) x->suppressed = matches(rules.pat[r], x);
        int kind = mp_leak_kind_index(x->kind);
        if (!x->suppressed && kind >= 0 && (gate & (1u << kind))) {
            if (kind < MP_LF_DANGLING) {
                gated_bytes += x->bytes;
                any_gated = true;
            } else {
                map_gated++;
            }
        }
    }
    bool leak_gate_failed = any_gated && gated_bytes > max_bytes;
    bool gate_failed = leak_gate_failed || map_gated;
    /* The summary leaves out what is suppressed, by class: a whole map's definite and
     * indirect parts each from their own. */
    for (size_t k = 0; k < lf.n; k++) {
        const mp_lfinding_t *x = &lf.f[k];
        int kind = mp_leak_kind_index(x->kind);
        if (kind < 0 || kind >= MP_LF_DANGLING || !x->suppressed) continue;
        /* a whole map leaves each class by its part (parts that do not add up, in a file not
         * ours, count as the finding's own class) */
        if (x->whole_map && x->part_blocks[0] + x->part_blocks[1] == x->blocks) {
            unsum(&lf, 0, x->part_bytes[0], x->part_blocks[0]);
            unsum(&lf, 1, x->part_bytes[1], x->part_blocks[1]);
        } else {
            unsum(&lf, kind, x->bytes, x->blocks);
        }
    }
    for (size_t k = 0; k < lf.n; k++) {
        mp_lfinding_t *x = &lf.f[k];
        int kind = mp_leak_kind_index(x->kind);
        x->failed = !x->suppressed && kind >= 0 && (gate & (1u << kind)) &&
                    (kind >= MP_LF_DANGLING || leak_gate_failed);
    }
    if (!quiet) {
        mp_leakfile_text(&lf, stderr, 0x7 | 1u << MP_LF_DANGLING | 1u << MP_LF_GROWTH);
        if ((gate & 1u << MP_LF_GROWTH) && fewest_snapshots < 3)
            fprintf(stderr, "mapprof: growth needs 3 snapshots or more of a process (--interval SECONDS, "
                    "or mapprof_dump in the program); %s\n",
                    fewest_snapshots == INT_MAX ? "no process wrote one" : "some process wrote fewer");
    }
    int werr = 0;
    if (json && (e = mp_leakfile_json(&lf, json))) werr = fprintf(stderr, "mapprof: cannot write %s: %s\n", json, strerror(e));
    if (junit && (e = mp_leakfile_junit(&lf, junit))) werr = fprintf(stderr, "mapprof: cannot write %s: %s\n", junit, strerror(e));
    if (sarif && (e = mp_leakfile_sarif(&lf, sarif))) werr = fprintf(stderr, "mapprof: cannot write %s: %s\n", sarif, strerror(e));
    mp_leakfile_free(&lf);
    for (size_t r = 0; r < rules.n; r++) free(rules.pat[r]);
    free(rules.pat);

    if (WIFEXITED(st) && WEXITSTATUS(st)) return WEXITSTATUS(st);
    if (gate_failed) {
        if (leak_gate_failed)
            fprintf(stderr, "mapprof: leak gate failed (%s: %llu bytes > %llu)\n", fail_on,
                    (unsigned long long)gated_bytes, max_bytes);
        if (map_gated)
            fprintf(stderr, "mapprof: map gate failed (%s: %zu finding%s)\n", fail_on, map_gated,
                    map_gated == 1 ? "" : "s");
        return error_exit;
    }
    return (werr || read_errors) ? 2 : 0;
}
