/* export/leakfile.h - the leak check's per-process findings file, and the CI reports made
 * from it.
 *
 * A process under `mapprof check` (leak_check=1) writes PREFIX.PID.leaks: its leak findings
 * with symbolized stacks, one record per line, tab-separated (tabs, newlines and backslashes
 * in names escaped as \t \n \\). The CLI reads every process's file, applies suppressions
 * and gates, and writes the JSON, JUnit XML and SARIF reports (functions below).
 *
 *   mapprof-leaks 2
 *   pid <pid>
 *   summary <definite_bytes> <definite_blocks> <indirect_bytes> <indirect_blocks>
 *           <map_retained_bytes> <map_retained_blocks> <reachable_bytes> <reachable_blocks>
 *   finding <kind> <bytes> <blocks> <whole_map 0|1> <map_kind> <map_id> <map_entries>
 *           <definite_bytes> <definite_blocks> <indirect_bytes> <indirect_blocks>
 *                                  (the last four: a whole map's parts; 0 for other findings)
 *   frame <function> <file> <line> <module>          (leaf first, after their finding)
 *   end
 */
#ifndef MAPPROF_EXPORT_LEAKFILE_H
#define MAPPROF_EXPORT_LEAKFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "export/tsv.h"
#include "profiler/leakreport.h"

typedef struct mp_lfinding {
    int pid;
    char kind[16];          /* definite, indirect, map-retained, reachable; or a map finding:
                             * dangling, growth (from the snapshots' .maps files) */
    uint64_t bytes, blocks;
    bool whole_map;
    char map_kind[24];      /* "" when no map */
    uint32_t map_id;
    int64_t map_entries;
    /* whole_map: how much of it is definite [0] and indirect [1] (they add up to bytes, blocks) */
    uint64_t part_bytes[2], part_blocks[2];
    mp_lframe_t *frames;    /* leaf first */
    size_t nframes;
    /* map findings: the map's creation stack (frames above are the stack that freed the
     * block, for dangling; the creation stack, for growth) */
    mp_lframe_t *map_frames;
    size_t nmap_frames;
    uint64_t entry_key, pointer;    /* dangling: the entry, and where it points */
    char field[8];                  /* dangling: "key" or "value" */
    bool certain;                   /* dangling: the freed-block history was complete */
    int64_t entries_from;           /* growth: entries where the growth starts */
    uint32_t snapshots;             /* growth: over how many snapshots */
    bool suppressed;        /* set by the reader's user */
    bool failed;            /* set by the gates */
} mp_lfinding_t;

typedef struct mp_leakfile {
    mp_lfinding_t *f;
    size_t n, cap;
    uint64_t sum_bytes[4], sum_blocks[4];   /* definite, indirect, map-retained, reachable */
    size_t processes;
} mp_leakfile_t;

/* Symbolizes pc (a return address) into at most max frames (inline chain, innermost first);
 * returns how many. Strings it returns must stay valid until the writer returns. */
typedef int (*mp_symbolize_fn)(uintptr_t pc, mp_lframe_t *out, int max, void *ctx);

/* Write a process's findings to path (atomically). Returns 0 or an errno value. */
int mp_leakfile_write(const char *path, const mp_leak_report_t *rep, int pid,
                      mp_symbolize_fn sym, void *ctx);
/* Append the findings of the file at path to lf. Returns 0, or an errno value with a one-line
 * reason in err and lf as it was (a file that fails to read adds nothing). */
int mp_leakfile_read(const char *path, mp_leakfile_t *lf, char *err, size_t errlen);
void mp_leakfile_free(mp_leakfile_t *lf);

/* Index of a kind name (0 definite .. 3 reachable, then MP_LF_DANGLING, MP_LF_GROWTH), -1
 * when unknown. The leak classes (below MP_LF_DANGLING) index the summary's sums. */
#define MP_LF_DANGLING 4
#define MP_LF_GROWTH 5
int mp_leak_kind_index(const char *kind);

/* CI reports (atomic files). Return 0 or an errno value. */
int mp_leakfile_json(const mp_leakfile_t *lf, const char *path);
int mp_leakfile_junit(const mp_leakfile_t *lf, const char *path);
int mp_leakfile_sarif(const mp_leakfile_t *lf, const char *path);
/* Human-readable report of the unsuppressed findings of the given kinds mask. */
void mp_leakfile_text(const mp_leakfile_t *lf, FILE *out, unsigned kinds_mask);

#endif
