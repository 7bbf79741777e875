/* profiler/stdmap.c - see stdmap.h. */
#define _GNU_SOURCE
#include "profiler/stdmap.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "profiler/arena.h"
#include "profiler/idtab.h"
#include "profiler/livetab.h"
#include "profiler/stacktab.h"

enum { CLASS_UNKNOWN = 0, CLASS_NONE = 1, CLASS_BUCKETS = 2, CLASS_NODE = 3 };

static uint8_t *stack_class;        /* by stack id; mapped, grown as stacks appear */
static uint32_t classified;         /* stacks 1..classified are done */
static size_t class_cap;
static mp_idtab_t obj_of;           /* bucket array address -> index in objs + 1 */
static uintptr_t *objs;             /* cached map objects */
static size_t nobjs, objs_cap;

mp_map_role_t mp_stdmap_role(uint32_t stack)
{
    if (!stack || stack > classified || !stack_class) return MP_ROLE_NONE;
    return stack_class[stack] == CLASS_BUCKETS ? MP_ROLE_BUCKET_ARRAY
         : stack_class[stack] == CLASS_NODE ? MP_ROLE_NODE : MP_ROLE_NONE;
}

static bool safe_read(uintptr_t addr, void *buf, size_t len)
{
    struct iovec local = { buf, len }, remote = { (void *)addr, len };
    return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)len;
}

static uint8_t classify(mp_sym_t *sym, const mp_stack_t *s)
{
    for (uint32_t d = 0; d < s->depth && d < 4; d++) {
        mp_sym_frame_t fr[24];
        int n = mp_sym_lookup(sym, (uint64_t)s->pcs[d] - 1, fr, 24);
        for (int k = 0; k < n; k++) {
            const char *f = fr[k].name;
            if (!f || !strstr(f, "_Hashtable")) continue;
            if (strstr(f, "_M_allocate_buckets")) return CLASS_BUCKETS;
            if (strstr(f, "_M_allocate_node")) return CLASS_NODE;
        }
    }
    return CLASS_NONE;
}

static void classify_new(mp_sym_t *sym)
{
    uint32_t n = mp_stack_count();
    if (n + 1 > class_cap) {
        size_t cap = class_cap ? class_cap : 4096;
        while (cap < (size_t)n + 1) cap *= 2;
        uint8_t *c = mp_pages_alloc(cap);
        if (!c) return;
        if (stack_class) {
            memcpy(c, stack_class, class_cap);
            mp_pages_free(stack_class, class_cap);
        }
        stack_class = c;
        class_cap = cap;
    }
    for (uint32_t id = classified + 1; id <= n; id++) {
        mp_stack_t *s = mp_stack_get(id);
        stack_class[id] = s ? classify(sym, s) : CLASS_NONE;
    }
    classified = n;
}

typedef struct cand {
    uintptr_t addr;     /* bucket array */
    uint64_t size;      /* its bytes */
    uint32_t stack;     /* where it was allocated */
    uintptr_t obj;      /* the map object, once found */
} cand_t;

typedef struct cands {
    cand_t *v;
    size_t n, cap;
} cands_t;

static void collect(const mp_block_t *b, void *ctx)
{
    cands_t *c = ctx;
    if (b->stack > classified || stack_class[b->stack] != CLASS_BUCKETS || b->size < 16 || (b->size & 7)) return;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        cand_t *v = mp_pages_alloc(cap * sizeof *v);
        if (!v) return;
        if (c->v) {
            memcpy(v, c->v, c->n * sizeof *v);
            mp_pages_free(c->v, c->cap * sizeof *v);
        }
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n++] = (cand_t){ b->addr, b->size, b->stack, 0 };
}

/* obj is a _Hashtable whose buckets are c: its first two words say so. */
static bool is_owner(uintptr_t obj, const cand_t *c)
{
    uintptr_t w[2];
    return obj && safe_read(obj, w, sizeof w) && w[0] == c->addr && w[1] == c->size / 8;
}

/* Search every readable, writable mapping but our own for the unresolved arrays' owners. */
static void search(cands_t *c, mp_idtab_t *want)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    FILE *f = fdopen(fd, "r");
    if (!f) { close(fd); return; }
    static mp_range_own_t own[4096];
    size_t nown = mp_own_ranges(own, 4096);
    enum { CHUNK = 1 << 20 };
    uintptr_t *buf = mp_pages_alloc(CHUNK + 16);
    char line[512];
    while (buf && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[0] != 'r' || perms[1] != 'w') continue;
        if (strstr(line, "[vvar]") || strstr(line, "[vsyscall]")) continue;
        bool mine = false;
        for (size_t i = 0; i < nown && !mine; i++) mine = own[i].lo < hi && lo < own[i].hi;
        if (mine) continue;
        for (uintptr_t a = lo; a < hi; a += CHUNK) {
            size_t len = hi - a < CHUNK ? hi - a : CHUNK;
            if (!safe_read(a, buf, len)) continue;
            for (size_t i = 0; i + 1 < len / 8; i++) {
                uint32_t k = buf[i] ? mp_idtab_get(want, buf[i]) : 0;
                if (!k) continue;
                cand_t *x = &c->v[k - 1];
                if (!x->obj && buf[i + 1] == x->size / 8) x->obj = a + i * 8;
            }
        }
    }
    if (buf) mp_pages_free(buf, CHUNK + 16);
    fclose(f);
}

static void remember(uintptr_t array, uintptr_t obj)
{
    uint32_t k = mp_idtab_get(&obj_of, array);
    if (k) { objs[k - 1] = obj; return; }
    if (nobjs == objs_cap) {
        size_t cap = objs_cap ? objs_cap * 2 : 256;
        uintptr_t *v = mp_pages_alloc(cap * sizeof *v);
        if (!v) return;
        if (objs) {
            memcpy(v, objs, nobjs * sizeof *v);
            mp_pages_free(objs, objs_cap * sizeof *v);
        }
        objs = v;
        objs_cap = cap;
    }
    objs[nobjs] = obj;
    mp_idtab_put(&obj_of, array, (uint32_t)++nobjs);
}

void mp_stdmap_refresh(mp_sym_t *sym)
{
    if (!sym) return;
    classify_new(sym);
    if (!stack_class) return;
    cands_t c = { 0 };
    mp_live_foreach(collect, &c);
    mp_idtab_t want = { 0 };
    size_t unresolved = 0;
    for (size_t i = 0; i < c.n; i++) {
        uint32_t k = mp_idtab_get(&obj_of, c.v[i].addr);
        if (k && is_owner(objs[k - 1], &c.v[i])) {
            c.v[i].obj = objs[k - 1];
        } else {
            mp_idtab_put(&want, c.v[i].addr, (uint32_t)i + 1);
            unresolved++;
        }
    }
    if (unresolved) search(&c, &want);
    mp_idtab_free(&want);

    /* The registry's std maps: update the found ones, drop the ones whose array is gone. */
    mp_map_stats_t *known = NULL;
    size_t nknown = mp_map_snapshot(&known);
    for (size_t i = 0; i < c.n; i++) {
        cand_t *x = &c.v[i];
        if (!x->obj) continue;
        remember(x->addr, x->obj);
        struct { uintptr_t buckets, count, before, elements; float max_load; } h;
        if (!safe_read(x->obj, &h, sizeof h)) continue;
        uint32_t id = mp_map_find((const void *)x->obj);
        if (id && mp_map_kind(id) != MP_KIND_STD_UNORDERED) continue;   /* another source knows it */
        if (!id) {
            mp_map_desc_t d = { MP_KIND_STD_UNORDERED, 0, 0, 1, h.max_load > 0 ? h.max_load : 1.0, 8 };
            id = mp_map_create((const void *)x->obj, &d, x->stack);
        }
        mp_map_set(id, (int64_t)h.elements, (int64_t)h.count, 0, -1);
        mp_map_set_bytes(id, (int64_t)x->size);
    }
    for (size_t m = 0; m < nknown; m++) {
        if (known[m].kind != MP_KIND_STD_UNORDERED) continue;
        bool seen = false;
        for (size_t i = 0; i < c.n && !seen; i++) seen = c.v[i].obj == known[m].obj;
        if (!seen) mp_map_destroy_id(known[m].id);
    }
    free(known);
    if (c.v) mp_pages_free(c.v, c.cap * sizeof *c.v);
}
