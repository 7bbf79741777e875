/* profiler/snapshot.c - copy the stack table's counters into an mp_snapshot_t.
 *
 * Runs under the reentrancy guard (its malloc goes to the real allocator). Counters are read
 * with relaxed loads while other threads go on allocating: each number is exact at some moment
 * during the copy, which is all a heap profile promises. */
#define _GNU_SOURCE
#include "profiler/snapshot_take.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "profiler/profiler.h"
#include "profiler/record.h"
#include "profiler/sample.h"
#include "profiler/stacktab.h"

static double unfix(int64_t v) { return (double)v / (double)((int64_t)1 << MP_FIX_SHIFT); }

mp_snapshot_t *mp_snapshot_take(const char *tag)
{
    mp_snapshot_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    uint32_t n = mp_stack_count();
    s->stacks = calloc(n ? n : 1, sizeof *s->stacks);
    if (!s->stacks) { free(s); return NULL; }
    s->rate = mp_opts()->rate;
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    s->time_nanos = (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
    s->duration_nanos = mp_uptime_ns();
    s->pid = getpid();
    s->tag = tag ? strdup(tag) : NULL;
    for (uint32_t id = 1; id <= n; id++) {
        mp_stack_t *st = mp_stack_get(id);
        if (!st) continue;
        int64_t c[MP_C_COUNT];
        for (int i = 0; i < MP_C_COUNT; i++) c[i] = __atomic_load_n(&st->c[i], __ATOMIC_RELAXED);
        if (!c[MP_C_ALLOC_OBJ] && !c[MP_C_INUSE_OBJ]) continue;
        mp_snap_stack_t *o = &s->stacks[s->nstacks++];
        o->pcs = st->pcs;
        o->depth = st->depth;
        o->raw_alloc_objects = c[MP_C_ALLOC_OBJ];
        o->raw_alloc_bytes = c[MP_C_ALLOC_BYTES];
        o->raw_inuse_objects = c[MP_C_INUSE_OBJ];
        o->raw_inuse_bytes = c[MP_C_INUSE_BYTES];
        o->est_alloc_objects = unfix(c[MP_C_EST_ALLOC_OBJ]);
        o->est_alloc_bytes = unfix(c[MP_C_EST_ALLOC_BYTES]);
        o->est_inuse_objects = unfix(c[MP_C_EST_INUSE_OBJ]);
        o->est_inuse_bytes = unfix(c[MP_C_EST_INUSE_BYTES]);
    }
    return s;
}

void mp_snapshot_free(mp_snapshot_t *s)
{
    if (!s) return;
    free((char *)s->tag);
    free(s->stacks);
    free(s);
}
