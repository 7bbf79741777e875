/* profiler/options.h - MAPPROF_OPTIONS, parsed once at load into one immutable struct.
 *
 * Syntax: colon-separated key=value pairs ("rate=4096:output=/tmp/p:unwind=fp"). Numbers take
 * K/M/G suffixes, booleans on/off/yes/no/1/0. An unknown key or a bad value gets one warning
 * naming it and the default is kept; the host program always runs on. Ignored in setuid
 * programs (secure_getenv). Parsing allocates nothing. */
#ifndef MAPPROF_PROFILER_OPTIONS_H
#define MAPPROF_PROFILER_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* libunwind: the DWARF call frame information, read through cfi.c's cache, with libunwind for
 * frames that cache cannot step; fp: frame pointers; verify: both DWARF walks, libunwind's kept,
 * and how often they differ reported at exit (for the tests, and for a stack in doubt). */
enum { MP_UNWIND_LIBUNWIND = 0, MP_UNWIND_FP = 1, MP_UNWIND_VERIFY = 2 };
enum { MP_FMT_PB = 1, MP_FMT_LEGACY = 2 };
/* dangling: off; entries pointing to sampled blocks (every block at rate=1); every entry */
enum { MP_DANGLING_OFF = 0, MP_DANGLING_SAMPLED = 1, MP_DANGLING_ALL = 2 };

typedef struct mp_options {
    uint64_t rate;          /* mean bytes between samples; 1 = every allocation */
    char output[512];       /* file prefix: files are <output>.<pid>.<seq>.pb.gz */
    int unwind;             /* MP_UNWIND_* */
    int max_depth;          /* frames kept per stack (1..256) */
    int signal;             /* dump on this signal; 0 = none */
    uint64_t interval;      /* dump every N seconds; 0 = never */
    uint64_t inuse_step;    /* dump each time in-use bytes grow by N; 0 = never */
    unsigned formats;       /* MP_FMT_* bits */
    bool quiet;             /* no warnings */
    uint64_t seed;          /* sampler seed; 0 = random */
    bool at_exit;           /* dump at exit */
    bool term;              /* dump when SIGTERM, SIGINT or SIGHUP would end the program */
    uint64_t term_timeout;  /* seconds that dump may take before the signal ends it (0: any) */
    bool leak_check;        /* full tracking and a reachability check at exit */
    uint64_t freed_history; /* freed blocks kept for the dangling-reference check */
    bool findings;          /* write PREFIX.PID.SEQ.findings.json at each dump */
    bool maps;              /* know maps (hashmap/, GHashTable, std::unordered_map, annotations) */
    int dangling;           /* MP_DANGLING_*: which map entries the dangling check follows */
    char leak_report[512];  /* where the leak check writes its JSON report ("" = none) */
    bool libc_lines;        /* read libc's DWARF at dumps too (MP_SYM_LIBC_LINES) */
} mp_options_t;

/* Parse str (may be NULL) over the defaults into *o. Returns the number of problems warned. */
int mp_options_parse(mp_options_t *o, const char *str);
/* Fill *o with the defaults. */
void mp_options_default(mp_options_t *o);
/* path as seen from directory cwd, into out (len bytes): path itself when absolute, else
 * cwd/path. False (out untouched) when it does not fit. */
bool mp_path_anchor(const char *cwd, const char *path, char *out, size_t len);
/* The file prefixes (output, leak_report) anchored at cwd, where they were given: a program
 * that changes directory (a daemon's chdir to /) still writes where it was told. False when
 * one would not fit (it stays as it was). */
bool mp_options_anchor(mp_options_t *o, const char *cwd);

#endif
