/* export/diff.c - delta profiles and map findings (see diff.h). */
#include "export/diff.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "export/internal.h"
#include "export/profile.pb-c.h"
#include "export/tsv.h"

typedef Perftools__Profiles__Profile pb_t;

static const char *str(const pb_t *p, int64_t i)
{
    return i >= 0 && (size_t)i < p->n_string_table ? p->string_table[i] : "";
}

int mp_profile_comparable(const mp_profile_t *base, const mp_profile_t *newp, char *err, size_t errlen)
{
    const pb_t *a = mp_profile_pb(base), *b = mp_profile_pb(newp);
    if (mp_profile_sample_index(base, "inuse_space") < 0 || mp_profile_sample_index(newp, "inuse_space") < 0) {
        snprintf(err, errlen, "not a heap profile (no inuse_space sample type)");
        return EINVAL;
    }
    if (a->n_sample_type != b->n_sample_type) {
        snprintf(err, errlen, "the profiles have different sample types");
        return EINVAL;
    }
    for (size_t i = 0; i < a->n_sample_type; i++)
        if (strcmp(str(a, a->sample_type[i]->type), str(b, b->sample_type[i]->type)) ||
            strcmp(str(a, a->sample_type[i]->unit), str(b, b->sample_type[i]->unit))) {
            snprintf(err, errlen, "the profiles have different sample types");
            return EINVAL;
        }
    if (a->period != b->period) {
        snprintf(err, errlen, "the profiles were sampled at different rates (%lld and %lld)",
                 (long long)a->period, (long long)b->period);
        return EINVAL;
    }
    return 0;
}

static uint64_t max_id_loc(const pb_t *p)
{
    uint64_t m = 0;
    for (size_t i = 0; i < p->n_location; i++) if (p->location[i]->id > m) m = p->location[i]->id;
    return m;
}

static uint64_t max_id_fn(const pb_t *p)
{
    uint64_t m = 0;
    for (size_t i = 0; i < p->n_function; i++) if (p->function[i]->id > m) m = p->function[i]->id;
    return m;
}

static uint64_t max_id_map(const pb_t *p)
{
    uint64_t m = 0;
    for (size_t i = 0; i < p->n_mapping; i++) if (p->mapping[i]->id > m) m = p->mapping[i]->id;
    return m;
}

int mp_profile_delta(const mp_profile_t *base, const mp_profile_t *newp, const char *path,
                     char *err, size_t errlen)
{
    int e = mp_profile_comparable(base, newp, err, errlen);
    if (e) return e;
    const pb_t *a = mp_profile_pb(base), *b = mp_profile_pb(newp);
    /* BASE's ids and strings move past NEW's */
    int64_t so = (int64_t)b->n_string_table;
    uint64_t lo = max_id_loc(b), fo = max_id_fn(b), mo = max_id_map(b);
    pb_t out = *b;
    size_t ns = b->n_string_table + a->n_string_table, nm = b->n_mapping + a->n_mapping;
    size_t nl = b->n_location + a->n_location, nf = b->n_function + a->n_function;
    size_t nsamp = b->n_sample + a->n_sample;
    out.string_table = calloc(ns ? ns : 1, sizeof(char *));
    out.mapping = calloc(nm ? nm : 1, sizeof(void *));
    out.location = calloc(nl ? nl : 1, sizeof(void *));
    out.function = calloc(nf ? nf : 1, sizeof(void *));
    out.sample = calloc(nsamp ? nsamp : 1, sizeof(void *));
    Perftools__Profiles__Mapping *maps = calloc(a->n_mapping + 1, sizeof *maps);
    Perftools__Profiles__Location *locs = calloc(a->n_location + 1, sizeof *locs);
    Perftools__Profiles__Function *fns = calloc(a->n_function + 1, sizeof *fns);
    Perftools__Profiles__Sample *samps = calloc(a->n_sample + 1, sizeof *samps);
    size_t nlines = 0, nids = 0, nvals = 0, nlabels = 0;
    for (size_t i = 0; i < a->n_location; i++) nlines += a->location[i]->n_line;
    for (size_t i = 0; i < a->n_sample; i++) {
        nids += a->sample[i]->n_location_id;
        nvals += a->sample[i]->n_value;
        nlabels += a->sample[i]->n_label;
    }
    Perftools__Profiles__Line *lines = calloc(nlines + 1, sizeof *lines);
    Perftools__Profiles__Line **line_ptrs = calloc(nlines + 1, sizeof *line_ptrs);
    uint64_t *ids = calloc(nids + 1, sizeof *ids);
    int64_t *vals = calloc(nvals + 1, sizeof *vals);
    Perftools__Profiles__Label *labels = calloc(nlabels + 1, sizeof *labels);
    Perftools__Profiles__Label **label_ptrs = calloc(nlabels + 1, sizeof *label_ptrs);
    e = ENOMEM;
    if (!out.string_table || !out.mapping || !out.location || !out.function || !out.sample || !maps ||
        !locs || !fns || !samps || !lines || !line_ptrs || !ids || !vals || !labels || !label_ptrs) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    memcpy(out.string_table, b->string_table, b->n_string_table * sizeof(char *));
    memcpy(out.string_table + b->n_string_table, a->string_table, a->n_string_table * sizeof(char *));
    out.n_string_table = ns;
    memcpy(out.mapping, b->mapping, b->n_mapping * sizeof(void *));
    for (size_t i = 0; i < a->n_mapping; i++) {
        maps[i] = *a->mapping[i];
        maps[i].id += mo;
        maps[i].filename += so;
        maps[i].build_id += so;
        out.mapping[b->n_mapping + i] = &maps[i];
    }
    out.n_mapping = nm;
    memcpy(out.function, b->function, b->n_function * sizeof(void *));
    for (size_t i = 0; i < a->n_function; i++) {
        fns[i] = *a->function[i];
        fns[i].id += fo;
        fns[i].name += so;
        fns[i].system_name += so;
        fns[i].filename += so;
        out.function[b->n_function + i] = &fns[i];
    }
    out.n_function = nf;
    memcpy(out.location, b->location, b->n_location * sizeof(void *));
    size_t li = 0;
    for (size_t i = 0; i < a->n_location; i++) {
        locs[i] = *a->location[i];
        locs[i].id += lo;
        if (locs[i].mapping_id) locs[i].mapping_id += mo;
        locs[i].line = line_ptrs + li;
        for (size_t k = 0; k < a->location[i]->n_line; k++, li++) {
            lines[li] = *a->location[i]->line[k];
            lines[li].function_id += fo;
            line_ptrs[li] = &lines[li];
        }
        out.location[b->n_location + i] = &locs[i];
    }
    out.n_location = nl;
    memcpy(out.sample, b->sample, b->n_sample * sizeof(void *));
    size_t ii = 0, vi = 0, bi = 0;
    for (size_t i = 0; i < a->n_sample; i++) {
        const Perftools__Profiles__Sample *x = a->sample[i];
        samps[i] = *x;
        samps[i].location_id = ids + ii;
        for (size_t k = 0; k < x->n_location_id; k++) ids[ii++] = x->location_id[k] + lo;
        samps[i].value = vals + vi;
        for (size_t k = 0; k < x->n_value; k++) vals[vi++] = -x->value[k];
        samps[i].label = label_ptrs + bi;
        for (size_t k = 0; k < x->n_label; k++, bi++) {
            labels[bi] = *x->label[k];
            labels[bi].key += so;
            if (labels[bi].str) labels[bi].str += so;
            if (labels[bi].num_unit) labels[bi].num_unit += so;
            label_ptrs[bi] = &labels[bi];
        }
        out.sample[b->n_sample + i] = &samps[i];
    }
    out.n_sample = nsamp;
    e = mp_pprof_write_message(&out, path);
    if (e) snprintf(err, errlen, "%s: %s", path, strerror(e));
done:
    free(out.string_table); free(out.mapping); free(out.location); free(out.function);
    free(out.sample); free(maps); free(locs); free(fns); free(samps); free(lines);
    free(line_ptrs); free(ids); free(vals); free(labels); free(label_ptrs);
    return e;
}

/* ---- findings ---- */

static void begin(mp_out_t *o, int json, size_t *count, const char *kind, const mp_mapinfo_t *m)
{
    if (json) {
        mp_out_printf(o, "%s\n{\"kind\":\"%s\",\"map\":{\"id\":%u,\"kind\":\"%s\",\"created_at\":",
                      *count ? "," : "", kind, m ? m->id : 0, m ? m->kind : "unknown");
        mp_json_frames(o, m ? m->frames : NULL, m ? m->nframes : 0);
        mp_out_printf(o, "}");
    } else {
        const mp_lframe_t *at = m && m->nframes ? &m->frames[mp_mapinfo_site(m)] : NULL;
        mp_out_printf(o, "%s: map %u (%s) created at %s %s:%d\n", kind, m ? m->id : 0,
                      m ? m->kind : "?", at ? at->function : "?", at ? at->file : "", at ? at->line : 0);
    }
    (*count)++;
}

static int push(mp_mfinding_t **v, size_t *n, size_t *cap, mp_mfinding_t f)
{
    if (mp_grow(v, cap, *n + 1, sizeof **v)) return ENOMEM;
    (*v)[(*n)++] = f;
    return 0;
}

/* Growth of map id up to file last (the last it is in): the index of the file where it starts,
 * or n when it does not grow by the rule in diff.h. */
static size_t growth_start(const mp_mapsfile_t *s, size_t n, uint32_t id, size_t last)
{
    size_t k = last, rises = 0;
    while (k > 0) {
        const mp_mapinfo_t *y = mp_mapsfile_map(&s[k - 1], id), *x = mp_mapsfile_map(&s[k], id);
        if (!y) {       /* created since the snapshot before */
            rises += x->entries > 0;
            break;
        }
        if (x->entries < y->entries || x->removes != y->removes) return n;
        rises += x->entries > y->entries;
        k--;
    }
    return rises >= 2 ? k : n;
}

int mp_map_findings(const mp_mapsfile_t *s, size_t n, unsigned flags, mp_mfinding_t **out,
                    size_t *count)
{
    mp_mfinding_t *v = NULL;
    size_t nv = 0, cap = 0;
    int e = 0;
    *out = NULL;
    *count = 0;
    if (!n) return 0;
    const mp_mapsfile_t *last = &s[n - 1];
    for (size_t i = 0; n >= 2 && i < last->n && !e; i++) {
        const mp_mapinfo_t *m = &last->m[i], *b = mp_mapsfile_map(&s[n - 2], m->id);
        if (!b || b->entries <= 0 || m->entries * 2 > b->entries || m->bucket_bytes < b->bucket_bytes) continue;
        e = push(&v, &nv, &cap, (mp_mfinding_t){ .kind = MP_MF_RETAINED_BUCKETS, .file = last, .map = m, .from = b });
    }
    /* each map where it is seen last: in the newest file, or (gone maps) before a file without it */
    for (size_t j = (flags & MP_MF_GONE_MAPS) ? 0 : n - 1; j < n && !e; j++) {
        for (size_t i = 0; i < s[j].n && !e; i++) {
            const mp_mapinfo_t *m = &s[j].m[i];
            if (j + 1 < n && mp_mapsfile_map(&s[j + 1], m->id)) continue;
            size_t k = growth_start(s, n, m->id, j);
            if (k < n)
                e = push(&v, &nv, &cap, (mp_mfinding_t){ .kind = MP_MF_GROWTH, .file = &s[j], .map = m,
                                                         .from = mp_mapsfile_map(&s[k], m->id), .from_file = k,
                                                         .to_file = j });
        }
    }
    for (size_t k = (flags & MP_MF_ALL_DANGLING) ? 0 : n - 1; k < n && !e; k++)
        for (size_t i = 0; i < s[k].nd && !e; i++)
            e = push(&v, &nv, &cap, (mp_mfinding_t){ .kind = MP_MF_DANGLING, .file = &s[k],
                                                     .map = mp_mapsfile_map(&s[k], s[k].d[i].map_id), .d = &s[k].d[i] });
    if (e) {
        free(v);
        return e;
    }
    *out = v;
    *count = nv;
    return 0;
}

static const char *const mf_names[] = { "retained_buckets", "growth", "dangling" };

size_t mp_diff_findings(const mp_mapsfile_t *s, size_t n, int all_dangling, FILE *fp, int json)
{
    mp_out_t o = { NULL, fp };
    size_t count = 0, nf;
    mp_mfinding_t *f;
    if (json) mp_out_printf(&o, "{\"findings\":[");
    if (mp_map_findings(s, n, all_dangling ? MP_MF_ALL_DANGLING : 0, &f, &nf)) {
        nf = 0;
        fprintf(stderr, "mapprof: out of memory: map findings left out\n");
    }
    for (size_t i = 0; i < nf; i++) {
        const mp_mfinding_t *x = &f[i];
        const mp_mapinfo_t *m = x->map;
        begin(&o, json, &count, mf_names[x->kind], m);
        if (x->kind == MP_MF_RETAINED_BUCKETS) {
            if (json)
                mp_out_printf(&o, ",\"bytes\":%lld,\"entries_before\":%lld,\"entries_after\":%lld,\"bucket_bytes\":%lld}",
                              (long long)(m->retained_bytes > 0 ? m->retained_bytes : m->bucket_bytes),
                              (long long)x->from->entries, (long long)m->entries, (long long)m->bucket_bytes);
            else
                mp_out_printf(&o, "  entries %lld -> %lld, bucket bytes %lld kept, %lld retained\n\n",
                              (long long)x->from->entries, (long long)m->entries, (long long)m->bucket_bytes,
                              (long long)m->retained_bytes);
        } else if (x->kind == MP_MF_GROWTH) {
            size_t steps = x->to_file - x->from_file;
            if (json) {
                mp_out_printf(&o, ",\"bytes\":%lld,\"entries\":[", (long long)(m->bucket_bytes + m->node_bytes));
                for (size_t k = x->from_file; k <= x->to_file; k++)
                    mp_out_printf(&o, "%s%lld", k > x->from_file ? "," : "", (long long)mp_mapsfile_map(&s[k], m->id)->entries);
                mp_out_printf(&o, "],\"growth_per_snapshot\":%.1f}", (double)(m->entries - x->from->entries) / (double)steps);
            } else {
                mp_out_printf(&o, "  entries %lld -> %lld over %zu snapshots, never a removal\n\n",
                              (long long)x->from->entries, (long long)m->entries, steps + 1);
            }
        } else {
            const mp_dangling_t *d = x->d;
            if (json) {
                mp_out_printf(&o, ",\"bytes\":0,\"snapshot\":\"%s\",\"entry_key\":\"0x%llx\",\"pointer\":\"0x%llx\","
                              "\"field\":\"%s\",\"certain\":%s,\"freed_at\":", x->file->tag,
                              (unsigned long long)d->key, (unsigned long long)d->pointer, d->field,
                              d->certain ? "true" : "false");
                mp_json_frames(&o, d->free_frames, d->nfree);
                mp_out_printf(&o, ",\"allocated_at\":");
                mp_json_frames(&o, d->alloc_frames, d->nalloc);
                mp_out_printf(&o, "}");
            } else {
                mp_out_printf(&o, "  its %s 0x%llx points into a block freed at %s%s\n\n", d->field,
                              (unsigned long long)d->pointer, d->nfree ? d->free_frames[0].function : "?",
                              d->certain ? "" : " (freed-block history overflowed: others may be missing)");
            }
        }
    }
    free(f);
    /* Say when the freed-block history was too short to be sure no reference is missing. */
    int64_t kept = 0, dropped = 0;
    for (size_t k = all_dangling ? 0 : n - 1; k < n; k++) {
        if (s[k].history_dropped > dropped) dropped = s[k].history_dropped;
        if (s[k].history_kept > kept) kept = s[k].history_kept;
    }
    if (json) {
        mp_out_printf(&o, "\n],\"history\":{\"freed_kept\":%lld,\"freed_dropped\":%lld,\"complete\":%s}}\n",
                      (long long)kept, (long long)dropped, dropped ? "false" : "true");
    } else if (dropped) {
        mp_out_printf(&o, "note: the freed-block history kept the last %lld frees of map-referenced blocks and "
                      "dropped %lld older ones: dangling references to blocks freed earlier may be missing "
                      "(raise freed_history)\n", (long long)kept, (long long)dropped);
    }
    return count;
}

/* A map finding as a check finding: its kind, the map's fields and creation stack. */
static mp_lfinding_t *add_lfinding(mp_leakfile_t *lf, const char *kind, const mp_mfinding_t *x)
{
    if (mp_grow(&lf->f, &lf->cap, lf->n + 1, sizeof *lf->f)) return NULL;
    mp_lfinding_t *y = &lf->f[lf->n];
    memset(y, 0, sizeof *y);
    y->pid = x->file->pid;
    snprintf(y->kind, sizeof y->kind, "%s", kind);
    const mp_mapinfo_t *m = x->map;
    y->map_id = m ? m->id : x->d->map_id;
    snprintf(y->map_kind, sizeof y->map_kind, "%s", m ? m->kind : "unknown");
    y->map_entries = m ? m->entries : 0;
    lf->n++;
    if (m && mp_lframes_copy(&y->map_frames, &y->nmap_frames, m->frames, m->nframes)) return NULL;
    return y;
}

int mp_leakfile_add_map_findings(mp_leakfile_t *lf, const mp_mapsfile_t *s, size_t n)
{
    mp_mfinding_t *f;
    size_t nf;
    int e = mp_map_findings(s, n, MP_MF_GONE_MAPS, &f, &nf);
    for (size_t i = 0; i < nf && !e; i++) {
        const mp_mfinding_t *x = &f[i];
        mp_lfinding_t *y;
        if (x->kind == MP_MF_GROWTH) {
            if (!(y = add_lfinding(lf, "growth", x))) { e = ENOMEM; break; }
            y->bytes = (uint64_t)(x->map->bucket_bytes + x->map->node_bytes);
            y->entries_from = x->from->entries;
            y->snapshots = (uint32_t)(x->to_file - x->from_file + 1);
            e = mp_lframes_copy(&y->frames, &y->nframes, x->map->frames, x->map->nframes);
        } else if (x->kind == MP_MF_DANGLING) {
            if (!(y = add_lfinding(lf, "dangling", x))) { e = ENOMEM; break; }
            y->entry_key = x->d->key;
            y->pointer = x->d->pointer;
            snprintf(y->field, sizeof y->field, "%s", x->d->field);
            y->certain = x->d->certain;
            e = mp_lframes_copy(&y->frames, &y->nframes, x->d->free_frames, x->d->nfree);
        }
    }
    free(f);
    return e;
}
