/* profiler/leakreport.h - leak check results as findings: blocks grouped by class and
 * allocation stack, largest first, and each leaked map that mapprof knows as ONE finding
 * (its object, bucket arrays, nodes and what they own), classified by how the map object
 * itself was lost. */
#ifndef MAPPROF_PROFILER_LEAKREPORT_H
#define MAPPROF_PROFILER_LEAKREPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profiler/leakcheck.h"
#include "profiler/maps.h"

typedef struct mp_leak_group {
    mp_leak_class_t cls;        /* definite, indirect, map_retained or reachable */
    uint32_t stack;             /* allocation stack (for a whole map: its creation stack) */
    const uintptr_t *pcs;       /* that stack, leaf first (NULL when unknown) */
    uint32_t depth;
    uint64_t bytes, blocks;
    bool whole_map;             /* a leaked map, reported as one finding */
    uint32_t map_id;            /* the map (whole_map), or the map keeping it (map_retained) */
    mp_map_kind_t map_kind;
    int64_t map_entries;
    uint64_t part_bytes[2], part_blocks[2];     /* a whole map: its definite, indirect blocks */
    bool suppressed;            /* matched a suppression (set by whoever applies them) */
} mp_leak_group_t;

typedef struct mp_leak_report {
    mp_leak_group_t *groups;    /* definite first, then indirect, map_retained, reachable */
    size_t n;
    mp_leak_totals_t totals;    /* per class, every block counted once */
} mp_leak_report_t;

/* Build the findings from a classified result (malloc'd; call under the guard). */
int mp_leak_report_build(const mp_leak_result_t *r, mp_leak_report_t *out);
void mp_leak_report_free(mp_leak_report_t *rep);

#endif
