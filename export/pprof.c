/* export/pprof.c - mp_export_pprof: a snapshot as a gzip-compressed pprof protobuf.
 *
 * Building: every snapshot stack with a non-zero value becomes one Sample; each distinct
 * return address one Location (address = ra - 1, the call site, symbolized by libdw with its
 * inline chain as Lines, innermost first); each distinct (linkage name, file) one Function;
 * every string is interned once. Mappings are the process's executable mappings, main binary
 * first; a mapping gets has_functions/... only when all of its Locations got that much.
 * Writing: the message is packed by protobuf-c into a buffer object that deflates (gzip)
 * straight into an atomic file, so the serialized profile is never held whole in memory.
 * Values are the snapshot's unbiased estimates rounded to integers (pprof does not unsample
 * protobuf values). Sample types: Go's heap order plus retained_space before inuse_space. */
#include "export/export.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "export/atomicfile.h"
#include "export/internal.h"
#include "export/profile.pb-c.h"
#include "export/symbolize.h"
#include "profiler/log.h"

#define MAX_LINES 64                    /* inline frames kept per Location */

typedef Perftools__Profiles__Profile pb_profile_t;
typedef Perftools__Profiles__ValueType pb_vtype_t;
typedef Perftools__Profiles__Sample pb_sample_t;
typedef Perftools__Profiles__Label pb_label_t;
typedef Perftools__Profiles__Mapping pb_mapping_t;
typedef Perftools__Profiles__Location pb_location_t;
typedef Perftools__Profiles__Line pb_line_t;
typedef Perftools__Profiles__Function pb_function_t;

typedef struct loc {
    uint64_t address;           /* call site */
    uint64_t mapping_id;        /* 0: outside every executable mapping */
    uint32_t line_off, nlines;  /* run in builder.lines */
} loc_t;

typedef struct fn {
    int64_t name, system_name, file, start_line;
} fn_t;

/* What the Locations of one mapping got: the flags are the AND over them. */
typedef struct mapinfo {
    bool used, functions, filenames, line_numbers, inline_frames;
} mapinfo_t;

typedef struct builder {
    mp_strtab_t strs;
    mp_sym_t *sym;              /* NULL: no symbolizer (Locations without Lines) */
    bool own_sym;               /* we opened sym (and close it) */
    mp_u64tab_t loc_by_pc;      /* return address -> location id */
    mp_u64tab_t fn_by_key;      /* system_name index << 32 | file index -> function id */
    loc_t *locs;                /* id - 1 */
    size_t nlocs, locs_cap;
    pb_line_t *lines;
    size_t nlines, lines_cap;
    fn_t *fns;                  /* id - 1 */
    size_t nfns, fns_cap;
    mapinfo_t *maps;            /* per mp_sym_map index */
    size_t nmaps;
    bool oom;                   /* a string could not be interned */
} builder_t;

static int64_t str_of(builder_t *b, const char *s)
{
    int64_t i = mp_strtab_intern(&b->strs, s);
    if (i < 0) b->oom = true;
    return i < 0 ? 0 : i;
}

static int64_t round_i64(double x)
{
    if (x != x) return 0;
    if (x >= 9.2e18) return INT64_MAX;
    if (x <= -9.2e18) return INT64_MIN;
    return (int64_t)(x < 0 ? x - 0.5 : x + 0.5);
}

static uint64_t function_id(builder_t *b, const mp_sym_frame_t *f)
{
    int64_t sys = str_of(b, f->system_name), file = str_of(b, f->file);
    uint64_t key = (uint64_t)sys << 32 | (uint64_t)(uint32_t)file;
    uint32_t id = mp_u64tab_get(&b->fn_by_key, key);
    if (id) return id;
    if (mp_grow(&b->fns, &b->fns_cap, b->nfns + 1, sizeof *b->fns)) return 0;
    b->fns[b->nfns] = (fn_t){ str_of(b, f->name), sys, file, f->start_line };
    id = (uint32_t)++b->nfns;
    if (mp_u64tab_put(&b->fn_by_key, key, id)) return 0;
    return id;
}

/* The location id of return address ra (created and symbolized on first sight); 0 on ENOMEM. */
static uint64_t location_id(builder_t *b, uintptr_t ra)
{
    uint32_t id = mp_u64tab_get(&b->loc_by_pc, ra);
    if (id) return id;
    if (mp_grow(&b->locs, &b->locs_cap, b->nlocs + 1, sizeof *b->locs)) return 0;
    loc_t *l = &b->locs[b->nlocs];
    l->address = ra ? (uint64_t)ra - 1 : 0;
    l->mapping_id = 0;
    l->line_off = (uint32_t)b->nlines;
    l->nlines = 0;
    if (b->sym) {
        long mi = mp_sym_find_map(b->sym, l->address);
        mapinfo_t *mi_info = mi >= 0 ? &b->maps[mi] : NULL;
        if (mi >= 0) l->mapping_id = (uint64_t)mi + 1;
        mp_sym_frame_t fr[MAX_LINES];
        int n = mp_sym_lookup(b->sym, l->address, fr, MAX_LINES);
        if (mp_grow(&b->lines, &b->lines_cap, b->nlines + (size_t)n, sizeof *b->lines)) return 0;
        bool files = true, linenos = true;
        for (int i = 0; i < n; i++) {
            pb_line_t *ln = &b->lines[b->nlines + (size_t)i];
            perftools__profiles__line__init(ln);
            ln->function_id = function_id(b, &fr[i]);
            ln->line = fr[i].line;
            if (!ln->function_id) return 0;
            if (!*fr[i].file) files = false;
            if (fr[i].line <= 0) linenos = false;
        }
        b->nlines += (size_t)n;
        l->nlines = (uint32_t)n;
        if (mi_info) {
            if (!mi_info->used) {
                *mi_info = (mapinfo_t){ true, true, true, true, true };
            }
            mi_info->functions &= n > 0;
            mi_info->filenames &= n > 0 && files;
            mi_info->line_numbers &= n > 0 && linenos;
            mi_info->inline_frames &= n > 0 && fr[0].quality == MP_SYM_DWARF;
        }
    }
    id = (uint32_t)++b->nlocs;
    if (mp_u64tab_put(&b->loc_by_pc, ra, id)) return 0;
    return id;
}

/* ---- gzip sink for protobuf_c_message_pack_to_buffer ---- */

typedef struct gzsink {
    ProtobufCBuffer base;
    z_stream z;
    mp_afile_t *f;
    int err;
    unsigned char in[1 << 16];  /* pending input (protobuf-c appends in tiny pieces) */
    size_t inlen;
    unsigned char out[1 << 16];
} gzsink_t;

static void gz_deflate(gzsink_t *g, int flush)
{
    g->z.next_in = g->in;
    g->z.avail_in = (uInt)g->inlen;
    do {
        g->z.next_out = g->out;
        g->z.avail_out = sizeof g->out;
        int r = deflate(&g->z, flush);
        if (r == Z_STREAM_ERROR) { if (!g->err) g->err = EIO; return; }
        size_t have = sizeof g->out - g->z.avail_out;
        if (have && !g->err) g->err = mp_afile_write(g->f, g->out, have);
        if (r == Z_STREAM_END) break;
    } while (g->z.avail_out == 0 || (flush == Z_FINISH));
    g->inlen = 0;
}

static void gz_append(ProtobufCBuffer *buf, size_t len, const uint8_t *data)
{
    gzsink_t *g = (gzsink_t *)buf;
    while (len && !g->err) {
        size_t room = sizeof g->in - g->inlen;
        size_t n = len < room ? len : room;
        memcpy(g->in + g->inlen, data, n);
        g->inlen += n;
        data += n;
        len -= n;
        if (g->inlen == sizeof g->in) gz_deflate(g, Z_NO_FLUSH);
    }
}

/* ---- the writer ---- */

static void builder_free(builder_t *b)
{
    mp_strtab_free(&b->strs);
    mp_u64tab_free(&b->loc_by_pc);
    mp_u64tab_free(&b->fn_by_key);
    free(b->locs);
    free(b->lines);
    free(b->fns);
    free(b->maps);
    if (b->sym && b->own_sym) mp_sym_close(b->sym);
}

/* Pack and write; everything the message points at is built by the caller. */
int mp_pprof_write_message(const struct Perftools__Profiles__Profile *p, const char *path)
{
    mp_afile_t f;
    int e = mp_afile_open(&f, path);
    if (e) return e;
    gzsink_t *g = calloc(1, sizeof *g);
    if (!g) { mp_afile_abort(&f); return ENOMEM; }
    g->base.append = gz_append;
    g->f = &f;
    /* level 1: profiles are compressible enough; speed matters at dump time (Go does too) */
    if (deflateInit2(&g->z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(g);
        mp_afile_abort(&f);
        return ENOMEM;
    }
    protobuf_c_message_pack_to_buffer(&p->base, &g->base);
    if (!g->err) gz_deflate(g, Z_FINISH);
    deflateEnd(&g->z);
    e = g->err;
    free(g);
    if (e) { mp_afile_abort(&f); return e; }
    return mp_afile_commit(&f);
}

int mp_export_pprof(const mp_snapshot_t *s, const char *path)
{
    return mp_export_pprof_sym(s, path, NULL);
}

int mp_export_pprof_sym(const mp_snapshot_t *s, const char *path, mp_sym_t *sym)
{
    if (!s || !path) return EINVAL;
    builder_t b;
    memset(&b, 0, sizeof b);
    int e = ENOMEM;
    /* the arrays the message points at */
    pb_sample_t *samples = NULL, **sample_ptrs = NULL;
    uint64_t *sample_locs = NULL;
    int64_t *sample_vals = NULL;
    pb_label_t *labels = NULL, **label_ptrs = NULL;
    pb_location_t *locs = NULL, **loc_ptrs = NULL;
    pb_line_t **line_ptrs = NULL;
    pb_function_t *fns = NULL, **fn_ptrs = NULL;
    pb_mapping_t *maps = NULL, **map_ptrs = NULL;

    if (mp_strtab_intern(&b.strs, "") != 0) goto out;
    b.sym = sym;
    if (!b.sym) {
        b.sym = mp_sym_open(s->pid, 0);
        b.own_sym = true;
    }
    if (!b.sym) mp_warn("pprof: cannot read the mappings of process %d; writing unsymbolized",
                        s->pid ? s->pid : (int)getpid());
    b.nmaps = b.sym ? mp_sym_nmaps(b.sym) : 0;
    b.maps = calloc(b.nmaps + 1, sizeof *b.maps);
    if (!b.maps) goto out;

    /* sample types */
    enum { MAXT = 5 };
    static const char *const tnames[MAXT] = { "alloc_objects", "alloc_space", "inuse_objects",
                                              "retained_space", "inuse_space" };
    static const char *const tunits[MAXT] = { "count", "bytes", "count", "bytes", "bytes" };
    pb_vtype_t vt[MAXT], *vt_ptrs[MAXT], period_type;
    size_t nt = 0;
    for (int i = 0; i < MAXT; i++) {
        if (i == 3 && !s->has_retained) continue;
        perftools__profiles__value_type__init(&vt[nt]);
        vt[nt].type = str_of(&b, tnames[i]);
        vt[nt].unit = str_of(&b, tunits[i]);
        vt_ptrs[nt] = &vt[nt];
        nt++;
    }
    perftools__profiles__value_type__init(&period_type);
    period_type.type = str_of(&b, "space");
    period_type.unit = str_of(&b, "bytes");

    /* samples: count what we need first */
    size_t npcs = 0, nlab = 0;
    for (size_t i = 0; i < s->nstacks; i++) {
        npcs += s->stacks[i].depth;
        nlab += s->stacks[i].nlabels + 1;
    }
    samples = malloc((s->nstacks + 1) * sizeof *samples);
    sample_ptrs = malloc((s->nstacks + 1) * sizeof *sample_ptrs);
    sample_locs = malloc((npcs + 1) * sizeof *sample_locs);
    sample_vals = malloc((s->nstacks * nt + 1) * sizeof *sample_vals);
    labels = malloc((nlab + 1) * sizeof *labels);
    label_ptrs = malloc((nlab + 1) * sizeof *label_ptrs);
    if (!samples || !sample_ptrs || !sample_locs || !sample_vals || !labels || !label_ptrs)
        goto out;
    size_t ns = 0, nl = 0, np = 0;
    int64_t bytes_key = str_of(&b, "bytes");
    for (size_t i = 0; i < s->nstacks; i++) {
        const mp_snap_stack_t *st = &s->stacks[i];
        int64_t v[MAXT];
        size_t k = 0;
        v[k++] = round_i64(st->est_alloc_objects);
        v[k++] = round_i64(st->est_alloc_bytes);
        v[k++] = round_i64(st->est_inuse_objects);
        if (s->has_retained) v[k++] = round_i64(st->est_retained_bytes);
        v[k++] = round_i64(st->est_inuse_bytes);
        bool any = false;
        for (size_t j = 0; j < k; j++) any |= v[j] != 0;
        if (!any) continue;
        pb_sample_t *sm = &samples[ns];
        perftools__profiles__sample__init(sm);
        sm->value = sample_vals + ns * nt;
        memcpy(sm->value, v, k * sizeof *v);
        sm->n_value = k;
        sm->location_id = sample_locs + np;
        for (uint32_t d = 0; d < st->depth; d++) {
            uint64_t id = location_id(&b, st->pcs[d]);
            if (!id) goto out;
            sample_locs[np++] = id;
        }
        sm->n_location_id = st->depth;
        sm->label = label_ptrs + nl;
        for (uint32_t j = 0; j < st->nlabels; j++) {
            const mp_label_t *ml = &st->labels[j];
            if (!ml->key || !*ml->key) continue;
            pb_label_t *lb = &labels[nl];
            perftools__profiles__label__init(lb);
            lb->key = str_of(&b, ml->key);
            if (ml->str) {
                lb->str = str_of(&b, ml->str);
            } else {
                lb->num = ml->num;
                if (ml->unit) lb->num_unit = str_of(&b, ml->unit);
            }
            label_ptrs[nl++] = lb;
        }
        double objs = st->est_alloc_objects > 0 ? st->est_alloc_objects : st->est_inuse_objects;
        double byts = st->est_alloc_objects > 0 ? st->est_alloc_bytes : st->est_inuse_bytes;
        if (objs > 0) {
            pb_label_t *lb = &labels[nl];
            perftools__profiles__label__init(lb);
            lb->key = bytes_key;
            lb->num = round_i64(byts / objs);
            lb->num_unit = bytes_key;
            label_ptrs[nl++] = lb;
        }
        sm->n_label = (size_t)((label_ptrs + nl) - sm->label);
        sample_ptrs[ns++] = sm;
    }

    /* locations, functions, mappings */
    locs = malloc((b.nlocs + 1) * sizeof *locs);
    loc_ptrs = malloc((b.nlocs + 1) * sizeof *loc_ptrs);
    line_ptrs = malloc((b.nlines + 1) * sizeof *line_ptrs);
    fns = malloc((b.nfns + 1) * sizeof *fns);
    fn_ptrs = malloc((b.nfns + 1) * sizeof *fn_ptrs);
    maps = malloc((b.nmaps + 1) * sizeof *maps);
    map_ptrs = malloc((b.nmaps + 1) * sizeof *map_ptrs);
    if (!locs || !loc_ptrs || !line_ptrs || !fns || !fn_ptrs || !maps || !map_ptrs) goto out;
    for (size_t i = 0; i < b.nlines; i++) line_ptrs[i] = &b.lines[i];
    for (size_t i = 0; i < b.nlocs; i++) {
        pb_location_t *l = &locs[i];
        perftools__profiles__location__init(l);
        l->id = i + 1;
        l->mapping_id = b.locs[i].mapping_id;
        l->address = b.locs[i].address;
        l->n_line = b.locs[i].nlines;
        l->line = line_ptrs + b.locs[i].line_off;
        loc_ptrs[i] = l;
    }
    for (size_t i = 0; i < b.nfns; i++) {
        pb_function_t *f = &fns[i];
        perftools__profiles__function__init(f);
        f->id = i + 1;
        f->name = b.fns[i].name;
        f->system_name = b.fns[i].system_name;
        f->filename = b.fns[i].file;
        f->start_line = b.fns[i].start_line;
        fn_ptrs[i] = f;
    }
    for (size_t i = 0; i < b.nmaps; i++) {
        const mp_sym_map_t *sm = mp_sym_map(b.sym, i);
        pb_mapping_t *m = &maps[i];
        perftools__profiles__mapping__init(m);
        m->id = i + 1;
        m->memory_start = sm->start;
        m->memory_limit = sm->limit;
        m->file_offset = sm->offset;
        m->filename = str_of(&b, sm->path);
        m->build_id = str_of(&b, sm->build_id);
        if (b.maps[i].used) {
            m->has_functions = b.maps[i].functions;
            m->has_filenames = b.maps[i].filenames;
            m->has_line_numbers = b.maps[i].line_numbers;
            m->has_inline_frames = b.maps[i].inline_frames;
        }
        map_ptrs[i] = m;
    }

    pb_profile_t p;
    perftools__profiles__profile__init(&p);
    p.n_sample_type = nt;
    p.sample_type = vt_ptrs;
    p.n_sample = ns;
    p.sample = sample_ptrs;
    p.n_mapping = b.nmaps;
    p.mapping = map_ptrs;
    p.n_location = b.nlocs;
    p.location = loc_ptrs;
    p.n_function = b.nfns;
    p.function = fn_ptrs;
    p.time_nanos = s->time_nanos;
    p.duration_nanos = s->duration_nanos;
    p.period_type = &period_type;
    p.period = (int64_t)s->rate;
    int64_t comments[2];
    size_t nc = 0;
    if (s->comment && *s->comment) comments[nc++] = str_of(&b, s->comment);
    char tagbuf[256];
    if (s->tag && *s->tag) {
        snprintf(tagbuf, sizeof tagbuf, "mapprof snapshot: %s", s->tag);
        comments[nc++] = str_of(&b, tagbuf);
    }
    p.n_comment = nc;
    p.comment = comments;
    p.default_sample_type = str_of(&b, "inuse_space");
    /* strings last: every str_of above must have run */
    p.n_string_table = b.strs.n;
    p.string_table = b.strs.strs;
    if (b.oom) goto out;

    e = mp_pprof_write_message(&p, path);
out:
    free(samples);
    free(sample_ptrs);
    free(sample_locs);
    free(sample_vals);
    free(labels);
    free(label_ptrs);
    free(locs);
    free(loc_ptrs);
    free(line_ptrs);
    free(fns);
    free(fn_ptrs);
    free(maps);
    free(map_ptrs);
    builder_free(&b);
    return e;
}
