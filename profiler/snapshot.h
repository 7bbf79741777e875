/* profiler/snapshot.h - what the profiler hands to export/: an immutable copy of the heap.
 *
 * The profiler builds a snapshot under its reentrancy guard and passes it to the writers in
 * export/; the writers never look at profiler tables directly, and the profiler never formats
 * file bytes. A snapshot owns its memory (mp_snapshot_free releases it), except the pcs
 * arrays, which point into the profiler's stack table and live as long as the process.
 *
 * Stacks are raw return addresses, leaf first: pcs[0] is the return address inside the
 * function that called malloc/new (the profiler's own frames are already stripped). Writers
 * that need call sites subtract 1 themselves (pprof protobuf); the legacy text writes them raw.
 *
 * Each stack carries two sets of numbers: `raw_*` counts what was sampled (one per sampled
 * block, its real size), and `est_*` the unbiased estimates (each sampled block of size s
 * weighted by 1/(1-exp(-s/rate)); equal to raw_* when rate <= 1). */
#ifndef MAPPROF_PROFILER_SNAPSHOT_H
#define MAPPROF_PROFILER_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "profiler/maps.h"

/* One label on a sample: string (str != NULL) or number (str == NULL, num, optional unit). */
typedef struct mp_label {
    const char *key;        /* label name, e.g. "map_kind" */
    const char *str;        /* string value, or NULL for a numeric label */
    int64_t num;            /* numeric value when str == NULL */
    const char *unit;       /* unit of num ("bytes"), or NULL */
} mp_label_t;

/* Per-stack totals. One entry per (stack, label set): the same stack with different map
 * labels appears as separate entries. */
typedef struct mp_snap_stack {
    const uintptr_t *pcs;   /* return addresses, leaf first */
    uint32_t depth;         /* number of pcs */
    uint32_t nlabels;       /* number of labels */
    const mp_label_t *labels;
    int64_t raw_alloc_objects;  /* sampled blocks ever allocated here */
    int64_t raw_alloc_bytes;    /* their bytes */
    int64_t raw_inuse_objects;  /* sampled blocks still live */
    int64_t raw_inuse_bytes;    /* their bytes */
    double est_alloc_objects;   /* unbiased estimates of the four numbers above */
    double est_alloc_bytes;
    double est_inuse_objects;
    double est_inuse_bytes;
    double est_retained_bytes;  /* map bytes retained beyond need (0 when not a map site) */
} mp_snap_stack_t;

/* One live map at the time of the snapshot. */
typedef struct mp_snap_map {
    mp_map_stats_t st;          /* its figures (maps.h) */
    const uintptr_t *created_pcs; /* creation stack, leaf first (NULL when unknown) */
    uint32_t created_depth;
} mp_snap_map_t;

/* A map entry pointing into freed memory (dangling.h), with its stacks resolved. */
typedef struct mp_snap_dangling {
    uint32_t map;               /* map id */
    uintptr_t key, pointer;     /* the entry's key; the dangling pointer */
    int is_value;               /* the pointer is the entry's value (else its key) */
    uint32_t inserted_ms, freed_ms;
    int reused, certain;
    const uintptr_t *free_pcs;  /* stack that freed the block (NULL unknown) */
    uint32_t free_depth;
    const uintptr_t *alloc_pcs; /* stack that allocated it (NULL when not sampled) */
    uint32_t alloc_depth;
} mp_snap_dangling_t;

typedef struct mp_snapshot {
    uint64_t rate;              /* mean sampling interval in bytes; 1 = every allocation */
    int64_t time_nanos;         /* wall clock when taken (CLOCK_REALTIME) */
    int64_t duration_nanos;     /* since the profiler started */
    int pid;                    /* process the addresses belong to */
    const char *tag;            /* why it was taken ("exit", "signal", user tag, ...) */
    size_t nstacks;
    mp_snap_stack_t *stacks;
    int has_retained;           /* write the retained_space sample type */
    const char *comment;        /* free text for the profile header, or NULL */
    size_t nmaps;               /* live maps, largest retained bytes first */
    mp_snap_map_t *maps;
    mp_label_t *labels_store;   /* backing store of the stacks' labels (owned) */
    size_t ndangling;           /* dangling references found now */
    mp_snap_dangling_t *dangling;
    uint64_t history_kept, history_dropped; /* the freed-block history behind them */
} mp_snapshot_t;

#endif
