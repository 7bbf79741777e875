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

#include "profiler/dangling.h"
#include "profiler/maps.h"
#include "profiler/profiler.h"
#include "profiler/record.h"
#include "profiler/sample.h"
#include "profiler/stacktab.h"
#include "profiler/stdmap.h"
#include "profiler/tcount.h"

static int by_retained(const void *a, const void *b)
{
    const mp_snap_map_t *x = a, *y = b;
    if (x->st.retained_bytes != y->st.retained_bytes) return x->st.retained_bytes < y->st.retained_bytes ? 1 : -1;
    return x->st.id < y->st.id ? -1 : x->st.id > y->st.id;
}

static double unfix(int64_t v) { return (double)v / (double)((int64_t)1 << MP_FIX_SHIFT); }

mp_snapshot_t *mp_snapshot_take(const char *tag)
{
    mp_snapshot_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    uint32_t n = mp_stack_count();
    s->stacks = calloc(n ? n : 1, sizeof *s->stacks);
    if (!s->stacks) { free(s); return NULL; }
    s->rate = mp_opts()->rate;
    /* always: profiles of one program must have the same sample types to be compared */
    s->has_retained = 1;
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    s->time_nanos = (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
    s->duration_nanos = mp_uptime_ns();
    s->pid = getpid();
    s->tag = tag ? strdup(tag) : NULL;
    mp_map_stats_t *maps = NULL;
    size_t nmaps = mp_map_snapshot(&maps);
    /* every labelled stack carries three labels; the array is sized for all stacks */
    s->labels_store = calloc((size_t)(n ? n : 1) * 3, sizeof(mp_label_t));
    s->maps = calloc(nmaps ? nmaps : 1, sizeof *s->maps);
    /* retained bytes of maps, summed at their creation stacks */
    double *retained_at = calloc((size_t)n + 1, sizeof *retained_at);
    /* the shared counters plus every thread's pending deltas */
    int64_t (*pending)[MP_C_COUNT] = calloc((size_t)n + 1, sizeof *pending);
    if (!s->labels_store || !s->maps || !retained_at || !pending) {
        free(maps);
        free(pending);
        free(retained_at);
        mp_snapshot_free(s);
        return NULL;
    }
    for (size_t k = 0; k < nmaps; k++)
        if (maps[k].created_stack <= n && maps[k].retained_bytes > 0)
            retained_at[maps[k].created_stack] += (double)maps[k].retained_bytes;
    retained_at[0] = 0;
    mp_tcount_collect(pending, n);
    for (uint32_t id = 1; id <= n; id++) {
        mp_stack_t *st = mp_stack_get(id);
        if (!st) continue;
        int64_t c[MP_C_COUNT];
        for (int i = 0; i < MP_C_COUNT; i++) c[i] = __atomic_load_n(&st->c[i], __ATOMIC_RELAXED) + pending[id][i];
        double retained = retained_at[id];
        if (!c[MP_C_ALLOC_OBJ] && !c[MP_C_INUSE_OBJ] && retained == 0) continue;
        mp_snap_stack_t *o = &s->stacks[s->nstacks++];
        o->pcs = st->pcs;
        o->depth = st->depth;
        o->raw_alloc_objects = c[MP_C_ALLOC_OBJ];
        o->raw_alloc_bytes = c[MP_C_ALLOC_BYTES];
        o->raw_inuse_objects = c[MP_C_INUSE_OBJ];
        o->raw_inuse_bytes = c[MP_C_INUSE_BYTES];
        if (s->rate > 1) {
            o->est_alloc_objects = unfix(c[MP_C_EST_ALLOC_OBJ]);
            o->est_alloc_bytes = unfix(c[MP_C_EST_ALLOC_BYTES]);
            o->est_inuse_objects = unfix(c[MP_C_EST_INUSE_OBJ]);
            o->est_inuse_bytes = unfix(c[MP_C_EST_INUSE_BYTES]);
        } else {    /* every block recorded with weight 1 (record.c keeps no estimates) */
            o->est_alloc_objects = (double)c[MP_C_ALLOC_OBJ];
            o->est_alloc_bytes = (double)c[MP_C_ALLOC_BYTES];
            o->est_inuse_objects = (double)c[MP_C_INUSE_OBJ];
            o->est_inuse_bytes = (double)c[MP_C_INUSE_BYTES];
        }
        o->est_retained_bytes = retained;
        uint32_t map_id;
        mp_map_kind_t kind;
        mp_map_role_t role;
        mp_label_t *l = &s->labels_store[(size_t)(id - 1) * 3];
        if (mp_map_label_get(st->label, &map_id, &kind, &role)) {
            l[0] = (mp_label_t){ "map_kind", mp_map_kind_name(kind), 0, NULL };
            l[1] = (mp_label_t){ "map_id", NULL, map_id, NULL };
            l[2] = (mp_label_t){ "role", role ? mp_map_role_name(role) : "map", 0, NULL };
            o->labels = l;
            o->nlabels = 3;
        } else if ((role = mp_stdmap_role(id)) != MP_ROLE_NONE) {
            /* C++ maps are known by their allocation sites: one site may serve many maps */
            l[0] = (mp_label_t){ "map_kind", mp_map_kind_name(MP_KIND_STD_UNORDERED), 0, NULL };
            l[1] = (mp_label_t){ "role", mp_map_role_name(role), 0, NULL };
            o->labels = l;
            o->nlabels = 2;
        }
    }
    for (size_t k = 0; k < nmaps; k++) {
        mp_snap_map_t *m = &s->maps[s->nmaps++];
        m->st = maps[k];
        mp_stack_t *cs = mp_stack_get(maps[k].created_stack);
        if (cs) {
            m->created_pcs = cs->pcs;
            m->created_depth = cs->depth;
        }
    }
    free(maps);
    free(pending);
    free(retained_at);
    qsort(s->maps, s->nmaps, sizeof *s->maps, by_retained);

    mp_dangling_finding_t *d = NULL;
    size_t nd = mp_dangling_find(&d, &s->history_kept, &s->history_dropped);
    s->dangling = calloc(nd ? nd : 1, sizeof *s->dangling);
    for (size_t i = 0; s->dangling && i < nd; i++) {
        mp_snap_dangling_t *o = &s->dangling[s->ndangling++];
        *o = (mp_snap_dangling_t){ d[i].map, d[i].key, d[i].pointer, d[i].is_value,
                                   d[i].inserted_ms, d[i].freed_ms, d[i].reused, d[i].certain,
                                   NULL, 0, NULL, 0 };
        mp_stack_t *fs = mp_stack_get(d[i].free_stack), *as = mp_stack_get(d[i].alloc_stack);
        if (fs) { o->free_pcs = fs->pcs; o->free_depth = fs->depth; }
        if (as) { o->alloc_pcs = as->pcs; o->alloc_depth = as->depth; }
    }
    free(d);
    return s;
}

void mp_snapshot_free(mp_snapshot_t *s)
{
    if (!s) return;
    free((char *)s->tag);
    free(s->stacks);
    free(s->labels_store);
    free(s->maps);
    free(s->dangling);
    free(s);
}
