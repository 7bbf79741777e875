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

/* A stack's role, from its innermost frames: libstdc++'s allocation helpers when the debug
 * information names inlined frames. Without it (a release build), they are inlined out of
 * sight, and the allocating frame is the function that inlined them: only _M_rehash (or the
 * insert that inlines it), which allocates the new bucket array and nothing else, still says
 * what the block is; nodes go unrecognized. */
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
            if (d == 0 && k == 0 && (strstr(f, "::_M_rehash") || strstr(f, "::_M_insert_unique_node") ||
                                     strstr(f, "::_M_insert_multi_node")))
                return CLASS_BUCKETS;       /* the allocating frame itself (a release build) */
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

/* libstdc++'s _Hashtable, as far as it is read here. */
typedef struct hashtable {
    uintptr_t buckets, count;   /* the bucket array and its length */
    uintptr_t before;           /* _M_before_begin's next: the first node, NULL when empty */
    uintptr_t elements;
    float max_load;
} hashtable_t;

typedef struct cand {
    uintptr_t addr;     /* bucket array */
    uint64_t size;      /* its bytes */
    uint32_t stack;     /* where it was allocated */
    uintptr_t obj;      /* the map object, once found */
    hashtable_t h;      /* what is_owner read of it then */
} cand_t;

/* Found by its elements (is_owner's back pointer), not only as an empty map? */
static inline bool sure(const cand_t *x) { return x->obj && x->h.elements; }

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
    c->v[c->n++] = (cand_t){ .addr = b->addr, .size = b->size, .stack = b->stack };
}

/* Does a bucket of c hold v? Read in pieces: arrays may be large. */
static bool buckets_hold(const cand_t *c, uintptr_t v)
{
    uintptr_t w[512];
    for (uint64_t off = 0; off < c->size; off += sizeof w) {
        size_t len = c->size - off < sizeof w ? (size_t)(c->size - off) : sizeof w;
        if (!safe_read(c->addr + off, w, len)) return false;
        for (size_t i = 0; i < len / 8; i++)
            if (w[i] == v) return true;
    }
    return false;
}

/* obj is the _Hashtable whose buckets are c, into *h. Its first two words must be c's address
 * and length, but memory that held such a map (freed, or a copy) may too: so its max load
 * factor must be a sane number, its first node there exactly when it has elements, and then
 * one of its buckets must point back at its _M_before_begin (obj + 16), as libstdc++ keeps
 * the bucket of its first node. An empty map is taken on the first two, not surely: a map
 * destroyed, its memory not yet reused, looks the same, and another one may hold the array now. */
static bool is_owner(uintptr_t obj, const cand_t *c, hashtable_t *h)
{
    if (!obj || !safe_read(obj, h, sizeof *h) || h->buckets != c->addr || h->count != c->size / 8)
        return false;
    if (!(h->max_load > 0 && h->max_load <= 1e6f)) return false;     /* NaN fails too */
    if ((h->elements == 0) != (h->before == 0)) return false;
    return !h->elements || buckets_hold(c, obj + 2 * sizeof(uintptr_t));
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
                hashtable_t h;
                if (sure(x) || buf[i + 1] != x->size / 8 || !is_owner(a + i * 8, x, &h)) continue;
                if (!x->obj || h.elements) {    /* an empty one, until a sure one shows */
                    x->obj = a + i * 8;
                    x->h = h;
                }
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
        if (k && is_owner(objs[k - 1], &c.v[i], &c.v[i].h)) c.v[i].obj = objs[k - 1];
        if (!sure(&c.v[i])) {       /* not found, or only as an empty map: look for a sure one */
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
        const hashtable_t *h = &x->h;
        uint32_t id = mp_map_find((const void *)x->obj);
        if (id && mp_map_kind(id) != MP_KIND_STD_UNORDERED) continue;   /* another source knows it */
        if (!id) {
            mp_map_desc_t d = { MP_KIND_STD_UNORDERED, 0, 0, 1, h->max_load, 8 };
            id = mp_map_create((const void *)x->obj, &d, x->stack);
        }
        mp_map_set(id, (int64_t)h->elements, (int64_t)h->count, 0, -1);
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
