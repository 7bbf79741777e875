/* profiler/cli.h - shared pieces of the mapprof command's subcommands. */
#ifndef MAPPROF_PROFILER_CLI_H
#define MAPPROF_PROFILER_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

/* Print "mapprof: <message>" to stderr; returns 2 (the usage-error exit status). */
int cli_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Run argv[0..] with libmapprof.so preloaded and MAPPROF_OPTIONS extended by opts (and
 * output=prefix when prefix, an absolute one (cli_abs_prefix), is set); wait for it. Returns 0 with its wait status in
 * *status, or an exit status for mapprof itself (after printing why). */
int cli_run_preloaded(char **argv, const char *opts, const char *prefix, int *status);
/* A glob pattern for the files named prefix then suffix (a pattern itself): prefix's own
 * pattern characters escaped. False when it does not fit out. */
bool cli_prefix_glob(const char *prefix, const char *suffix, char *out, size_t len);
/* Remove the temporary files that processes writing under prefix left when killed mid-write
 * (mp_afile_sweep, with no age: the run is over), saying so on stderr. */
void cli_sweep(const char *prefix);
/* Absolute form of a prefix (relative to the working directory). 0 or an exit status. */
int cli_abs_prefix(const char *prefix, char *out, size_t len);

/* The files a glob pattern matches before a run, to tell the ones the run wrote after. */
typedef struct cli_seen_file {
    char *path;
    ino_t ino;
    struct timespec mtim;
} cli_seen_file_t;
typedef struct cli_seen {
    cli_seen_file_t *v;
    size_t n;
} cli_seen_t;
void cli_seen_load(cli_seen_t *s, const char *pat);
/* Was the file at p, as sb says it is now, there before? */
bool cli_seen_has(const cli_seen_t *s, const char *p, const struct stat *sb);
void cli_seen_free(cli_seen_t *s);

int cli_check(int argc, char **argv);
int cli_diff(int argc, char **argv);
int cli_report(int argc, char **argv);

#endif
