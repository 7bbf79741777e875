/* profiler/leakreport.c - group classified blocks into findings (see leakreport.h). */
#include "profiler/leakreport.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "profiler/idtab.h"
#include "profiler/stacktab.h"

typedef struct gkey {
    uint32_t stack;
    uint8_t cls;
    uint32_t map;
    uint64_t size;      /* of the block (not part of the key) */
} gkey_t;

static int cmp_group(const void *a, const void *b)
{
    const mp_leak_group_t *x = a, *y = b;
    /* definite (4) first, then indirect (3), map_retained (2), reachable (1) */
    if (x->cls != y->cls) return x->cls > y->cls ? -1 : 1;
    if (x->bytes != y->bytes) return x->bytes > y->bytes ? -1 : 1;
    return x->stack < y->stack ? -1 : x->stack > y->stack;
}

static int cmp_key(const void *a, const void *b)
{
    const gkey_t *x = a, *y = b;
    if (x->cls != y->cls) return x->cls < y->cls ? -1 : 1;
    if (x->map != y->map) return x->map < y->map ? -1 : 1;
    return x->stack < y->stack ? -1 : x->stack > y->stack;
}

static void set_stack(mp_leak_group_t *g, uint32_t stack)
{
    g->stack = stack;
    mp_stack_t *s = mp_stack_get(stack);
    if (s) {
        g->pcs = s->pcs;
        g->depth = s->depth;
    }
}

int mp_leak_report_build(const mp_leak_result_t *r, mp_leak_report_t *out)
{
    memset(out, 0, sizeof *out);
    mp_leak_totals(r, &out->totals);
    size_t n = r->n;
    uint32_t *tag = calloc(n ? n : 1, sizeof *tag);     /* map finding index + 1 */
    mp_map_stats_t *maps = NULL;
    size_t nmaps = mp_map_snapshot(&maps);
    mp_leak_group_t *g = calloc(n + nmaps + 1, sizeof *g);
    gkey_t *keys = calloc(n ? n : 1, sizeof *keys);
    if (!tag || !g || !keys) {
        free(tag); free(maps); free(g); free(keys);
        return ENOMEM;
    }
    const unsigned lost = (1u << MP_LEAK_DEFINITE) | (1u << MP_LEAK_INDIRECT);
    size_t ng = 0;

    /* Whole maps: a lost map object (or, when the object is not a heap block, the lost
     * leader among the map's own blocks) and everything lost that it reaches. */
    /* the lost leader among each map's own blocks, in one pass */
    long *own_root = malloc((nmaps ? nmaps : 1) * sizeof *own_root);
    mp_idtab_t index = { 0 };
    if (!own_root) {
        free(tag); free(maps); free(g); free(keys);
        return ENOMEM;
    }
    for (size_t m = 0; m < nmaps; m++) {
        own_root[m] = -1;
        mp_idtab_put(&index, maps[m].id, (uint32_t)m + 1);
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t m = r->blocks[i].map ? mp_idtab_get(&index, r->blocks[i].map) : 0;
        if (!m || !(lost & (1u << r->blocks[i].cls))) continue;
        if (own_root[m - 1] < 0 || r->blocks[i].cls == MP_LEAK_DEFINITE) own_root[m - 1] = (long)i;
    }
    mp_idtab_free(&index);
    for (size_t m = 0; m < nmaps; m++) {
        long root = mp_leak_find(r->blocks, n, maps[m].obj);
        if (root < 0 || !(lost & (1u << r->blocks[root].cls))) root = own_root[m];
        if (root < 0 || tag[root]) continue;
        mp_leak_group_t *f = &g[ng];
        if (mp_leak_flood(r->blocks, n, (size_t)root, lost, tag, (uint32_t)ng + 1)) break;
        for (size_t i = 0; i < n; i++) {
            if (tag[i] != ng + 1) continue;
            f->bytes += r->blocks[i].size;
            f->blocks++;
            int part = r->blocks[i].cls == MP_LEAK_INDIRECT;    /* the flood takes only lost ones */
            f->part_bytes[part] += r->blocks[i].size;
            f->part_blocks[part]++;
        }
        f->cls = (mp_leak_class_t)r->blocks[root].cls;
        f->whole_map = true;
        f->map_id = maps[m].id;
        f->map_kind = maps[m].kind;
        f->map_entries = maps[m].entries;
        set_stack(f, maps[m].created_stack);
        ng++;
    }

    /* Everything else: by (class, map for map_retained, stack); one sort, then runs. */
    size_t nk = 0;
    for (size_t i = 0; i < n; i++) {
        if (tag[i]) continue;
        const mp_leak_block_t *b = &r->blocks[i];
        keys[nk++] = (gkey_t){ b->stack, b->cls, b->cls == MP_LEAK_MAP_RETAINED ? b->via_map : 0, b->size };
    }
    qsort(keys, nk, sizeof *keys, cmp_key);
    for (size_t k = 0; k < nk; k++) {
        if (!k || cmp_key(&keys[k], &keys[k - 1])) {
            mp_leak_group_t *f = &g[ng++];
            f->cls = (mp_leak_class_t)keys[k].cls;
            f->map_id = keys[k].map;
            set_stack(f, keys[k].stack);
        }
        g[ng - 1].bytes += keys[k].size;
        g[ng - 1].blocks++;
    }
    for (size_t j = 0; j < ng; j++)
        if (g[j].map_id && !g[j].whole_map)
            for (size_t m = 0; m < nmaps; m++)
                if (maps[m].id == g[j].map_id) { g[j].map_kind = maps[m].kind; g[j].map_entries = maps[m].entries; }
    qsort(g, ng, sizeof *g, cmp_group);
    free(own_root);
    free(tag);
    free(maps);
    free(keys);
    out->groups = g;
    out->n = ng;
    return 0;
}

void mp_leak_report_free(mp_leak_report_t *rep)
{
    free(rep->groups);
    rep->groups = NULL;
    rep->n = 0;
}
