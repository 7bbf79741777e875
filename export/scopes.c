/* export/scopes.c - the function scopes of a compilation unit, by address (see scopes.h).
 *
 * Per CU: the function DIEs with code (node: the DIE, its nearest function ancestor, depth)
 * and every address range of each (range: [lo, hi) and its node), sorted by lo, outer first
 * on a tie. A child's ranges lie inside its parent's, so the functions containing pc are all
 * at or before the last range starting at or below pc, and after the outermost one's range
 * that holds pc: the scan goes back from the first to the second, a depth-0 range ending it. */
#include "export/scopes.h"

#include <dwarf.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "export/internal.h"

#define MAX_DEPTH 256           /* a CU nested deeper is not indexed: libdw walks it */

typedef struct node {
    Dwarf_Die die;
    int32_t parent;             /* index of the nearest function ancestor, or -1 */
    int32_t depth;              /* 0 for a function with no function ancestor */
} node_t;

typedef struct range {
    Dwarf_Addr lo, hi;
    int32_t node;
} range_t;

typedef struct cu_index {
    const void *owner;
    Dwarf_Off off;              /* the CU DIE's offset */
    bool too_deep;              /* nested beyond MAX_DEPTH: answers nothing (see MAX_DEPTH) */
    node_t *nodes;
    size_t nnodes, nodes_cap;
    range_t *ranges;
    size_t nranges, ranges_cap;
} cu_index_t;

struct mp_scopes {
    cu_index_t *cus;
    size_t ncus, cus_cap;
    size_t last;                /* the CU asked about last */
};

mp_scopes_t *mp_scopes_new(void)
{
    return calloc(1, sizeof(mp_scopes_t));
}

void mp_scopes_free(mp_scopes_t *x)
{
    if (!x) return;
    for (size_t i = 0; i < x->ncus; i++) {
        free(x->cus[i].nodes);
        free(x->cus[i].ranges);
    }
    free(x->cus);
    free(x);
}

static int by_lo(const void *a, const void *b)
{
    const range_t *p = a, *q = b;
    if (p->lo != q->lo) return p->lo < q->lo ? -1 : 1;
    return p->node < q->node ? -1 : p->node > q->node;     /* parents come before children */
}

/* A function DIE with code becomes a node, one range per address range; returns its index,
 * or -1 when it has no code (a declaration, an abstract instance), -2 when out of memory. */
static int32_t add_function(cu_index_t *c, Dwarf_Die *die, int32_t parent)
{
    Dwarf_Addr base, lo, hi;
    ptrdiff_t off = 0;
    int32_t me = (int32_t)c->nnodes;
    size_t first = c->nranges;
    while ((off = dwarf_ranges(die, off, &base, &lo, &hi)) > 0) {
        if (hi <= lo) continue;
        if (mp_grow(&c->ranges, &c->ranges_cap, c->nranges + 1, sizeof *c->ranges)) return -2;
        c->ranges[c->nranges++] = (range_t){ lo, hi, me };
    }
    if (c->nranges == first) return -1;
    if (mp_grow(&c->nodes, &c->nodes_cap, c->nnodes + 1, sizeof *c->nodes)) return -2;
    c->nodes[c->nnodes++] = (node_t){ *die, parent, parent < 0 ? 0 : c->nodes[parent].depth + 1 };
    return me;
}

/* One walk over the CU's DIE tree, depth first. */
static int build(cu_index_t *c, Dwarf_Die *cu)
{
    Dwarf_Die path[MAX_DEPTH];
    int32_t fn[MAX_DEPTH];          /* the nearest function at or above each level's parent */
    int d = 0;
    if (dwarf_child(cu, &path[0]) != 0) return 0;
    fn[0] = -1;
    for (;;) {
        int32_t here = fn[d];
        int tag = dwarf_tag(&path[d]);
        if (tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine) {
            int32_t me = add_function(c, &path[d], fn[d]);
            if (me == -2) return -1;
            if (me >= 0) here = me;
        }
        if (dwarf_haschildren(&path[d]) > 0) {
            if (d + 1 == MAX_DEPTH) {
                c->too_deep = true;     /* a chain cut short would be a wrong answer */
                return 0;
            }
            if (dwarf_child(&path[d], &path[d + 1]) == 0) {
                fn[d + 1] = here;
                d++;
                continue;
            }
        }
        for (;;) {
            Dwarf_Die next;
            if (dwarf_siblingof(&path[d], &next) == 0) {
                path[d] = next;
                break;
            }
            if (d == 0) goto done;
            d--;
        }
    }
done:
    qsort(c->ranges, c->nranges, sizeof *c->ranges, by_lo);
    return 0;
}

static cu_index_t *index_of(mp_scopes_t *x, const void *owner, Dwarf_Die *cu)
{
    Dwarf_Off off = dwarf_dieoffset(cu);
    if (x->last < x->ncus && x->cus[x->last].owner == owner && x->cus[x->last].off == off)
        return &x->cus[x->last];
    for (size_t i = 0; i < x->ncus; i++)
        if (x->cus[i].owner == owner && x->cus[i].off == off) return &x->cus[x->last = i];
    if (mp_grow(&x->cus, &x->cus_cap, x->ncus + 1, sizeof *x->cus)) return NULL;
    cu_index_t *c = &x->cus[x->ncus];
    *c = (cu_index_t){ .owner = owner, .off = off };
    if (build(c, cu)) {
        free(c->nodes);
        free(c->ranges);
        return NULL;
    }
    x->last = x->ncus++;
    return c;
}

int mp_scopes_at(mp_scopes_t *x, const void *owner, Dwarf_Die *cu, Dwarf_Addr pc,
                 Dwarf_Die *out, int max)
{
    cu_index_t *c = index_of(x, owner, cu);
    if (!c) return -1;
    if (c->too_deep) return 0;
    /* the last range starting at or below pc */
    size_t lo = 0, hi = c->nranges;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->ranges[mid].lo <= pc) lo = mid + 1;
        else hi = mid;
    }
    int32_t best = -1;
    for (size_t j = lo; j-- > 0;) {
        const range_t *r = &c->ranges[j];
        int32_t depth = c->nodes[r->node].depth;
        if (pc < r->hi && (best < 0 || depth > c->nodes[best].depth)) best = r->node;
        if (depth == 0) break;
    }
    int n = 0;
    for (int32_t i = best; i >= 0 && n < max; i = c->nodes[i].parent) out[n++] = c->nodes[i].die;
    return n;
}
