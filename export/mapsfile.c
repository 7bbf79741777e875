/* export/mapsfile.c - see mapsfile.h. */
#define _GNU_SOURCE
#include "export/mapsfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "export/atomicfile.h"
#include "export/internal.h"
#include "export/tsv.h"

int mp_mapsfile_path(const char *profile, char *out, size_t len)
{
    size_t n = strlen(profile);
    const char *suffix = ".pb.gz";
    size_t sl = strlen(suffix);
    if (n > sl && !strcmp(profile + n - sl, suffix)) n -= sl;
    int w = snprintf(out, len, "%.*s.maps", (int)n, profile);
    return (w < 0 || (size_t)w >= len) ? ENAMETOOLONG : 0;
}

static void write_frames(mp_afile_t *f, const char *rec, const uintptr_t *pcs, uint32_t depth, mp_sym_t *sym)
{
    size_t rl = strlen(rec);
    for (uint32_t d = 0; d < depth; d++) {
        mp_sym_frame_t fr[16];
        int n = sym ? mp_sym_lookup(sym, (uint64_t)pcs[d] - 1, fr, 16) : 0;
        long mi = sym ? mp_sym_find_map(sym, (uint64_t)pcs[d] - 1) : -1;
        const char *module = mi >= 0 ? mp_sym_map(sym, (size_t)mi)->path : "";
        if (n <= 0) {
            char addr[32];
            snprintf(addr, sizeof addr, "0x%llx", (unsigned long long)pcs[d]);
            mp_afile_write(f, rec, rl);
            mp_tsv_put(f, addr);
            mp_tsv_put(f, "");
            mp_afile_printf(f, "\t0");
            mp_tsv_put(f, module);
            mp_afile_write(f, "\n", 1);
            continue;
        }
        for (int k = 0; k < n; k++) {
            mp_afile_write(f, rec, rl);
            mp_tsv_put(f, fr[k].name);
            mp_tsv_put(f, fr[k].file);
            mp_afile_printf(f, "\t%d", fr[k].line);
            mp_tsv_put(f, module);
            mp_afile_write(f, "\n", 1);
        }
    }
}

int mp_mapsfile_write(const char *path, const mp_snapshot_t *s, mp_sym_t *sym)
{
    mp_afile_t f;
    int e = mp_afile_open(&f, path);
    if (e) return e;
    mp_afile_printf(&f, "mapprof-maps 1\nsnapshot\t%d\t%lld", s->pid, (long long)s->time_nanos);
    mp_tsv_put(&f, s->tag ? s->tag : "");
    mp_afile_write(&f, "\n", 1);
    for (size_t i = 0; i < s->nmaps; i++) {
        const mp_map_stats_t *m = &s->maps[i].st;
        mp_afile_printf(&f, "map\t%u\t%s\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\t%u\t%u\t%llx\n",
                        m->id, mp_map_kind_name(m->kind), (long long)m->entries,
                        (long long)m->peak_entries, (long long)m->buckets,
                        (long long)(m->buckets * (int64_t)m->slots_per_bucket),
                        (long long)m->bucket_bytes, (long long)m->node_bytes,
                        (long long)m->overflow_buckets, (long long)m->padding_bytes,
                        (long long)m->retained_bytes, (long long)m->inserts, (long long)m->removes,
                        m->key_size, m->value_size, (unsigned long long)m->obj);
        write_frames(&f, "frame", s->maps[i].created_pcs, s->maps[i].created_depth, sym);
    }
    for (size_t i = 0; i < s->ndangling; i++) {
        const mp_snap_dangling_t *d = &s->dangling[i];
        mp_afile_printf(&f, "dangling\t%u\t%llx\t%llx\t%s\t%u\t%u\t%d\t%d\n", d->map,
                        (unsigned long long)d->key, (unsigned long long)d->pointer,
                        d->is_value ? "value" : "key", d->inserted_ms, d->freed_ms, d->reused != 0,
                        d->certain != 0);
        write_frames(&f, "free", d->free_pcs, d->free_pcs ? d->free_depth : 0, sym);
        write_frames(&f, "alloc", d->alloc_pcs, d->alloc_pcs ? d->alloc_depth : 0, sym);
    }
    mp_afile_printf(&f, "history\t%llu\t%llu\nend\n", (unsigned long long)s->history_kept,
                    (unsigned long long)s->history_dropped);
    return mp_afile_commit(&f);
}

static int by_id(const void *a, const void *b)
{
    const mp_mapinfo_t *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

int mp_mapsfile_read(const char *path, mp_mapsfile_t *mf, char *err, size_t errlen)
{
    memset(mf, 0, sizeof *mf);
    FILE *in = fopen(path, "r");
    if (!in) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return e;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int e = 0, lineno = 0;
    bool header = false, ended = false;
    mp_mapinfo_t *cur = NULL;
    mp_dangling_t *dcur = NULL;
    while ((len = getline(&line, &cap, in)) > 0) {
        lineno++;
        if (line[len - 1] == '\n') line[--len] = 0;
        char *fld[20];
        int nf = mp_tsv_split(line, fld, 20);
        if (!header) {
            if (strcmp(fld[0], "mapprof-maps 1")) { e = EINVAL; break; }
            header = true;
        } else if (!strcmp(fld[0], "snapshot") && nf == 4) {
            mf->pid = atoi(fld[1]);
            mf->time_nanos = strtoll(fld[2], NULL, 10);
            snprintf(mf->tag, sizeof mf->tag, "%s", fld[3]);
        } else if (!strcmp(fld[0], "map") && nf == 17) {
            if (mp_grow(&mf->m, &mf->cap, mf->n + 1, sizeof *mf->m)) { e = ENOMEM; break; }
            cur = &mf->m[mf->n++];
            memset(cur, 0, sizeof *cur);
            cur->id = (uint32_t)strtoul(fld[1], NULL, 10);
            snprintf(cur->kind, sizeof cur->kind, "%s", fld[2]);
            int64_t *v[] = { &cur->entries, &cur->peak_entries, &cur->buckets, &cur->slots,
                             &cur->bucket_bytes, &cur->node_bytes, &cur->overflow_buckets,
                             &cur->padding_bytes, &cur->retained_bytes, &cur->inserts,
                             &cur->removes, &cur->key_size, &cur->value_size };
            for (int k = 0; k < 13; k++) *v[k] = strtoll(fld[3 + k], NULL, 10);
            cur->obj = strtoull(fld[16], NULL, 16);
        } else if (!strcmp(fld[0], "frame") && nf == 5 && cur) {
            if (mp_lframes_push(&cur->frames, &cur->nframes, fld)) { e = ENOMEM; break; }
        } else if (!strcmp(fld[0], "dangling") && nf == 9) {
            if (mp_grow(&mf->d, &mf->dcap, mf->nd + 1, sizeof *mf->d)) { e = ENOMEM; break; }
            dcur = &mf->d[mf->nd++];
            memset(dcur, 0, sizeof *dcur);
            dcur->map_id = (uint32_t)strtoul(fld[1], NULL, 10);
            dcur->key = strtoull(fld[2], NULL, 16);
            dcur->pointer = strtoull(fld[3], NULL, 16);
            snprintf(dcur->field, sizeof dcur->field, "%s", fld[4]);
            dcur->inserted_ms = strtoll(fld[5], NULL, 10);
            dcur->freed_ms = strtoll(fld[6], NULL, 10);
            dcur->reused = atoi(fld[7]) != 0;
            dcur->certain = atoi(fld[8]) != 0;
        } else if (!strcmp(fld[0], "free") && nf == 5 && dcur) {
            if (mp_lframes_push(&dcur->free_frames, &dcur->nfree, fld)) { e = ENOMEM; break; }
        } else if (!strcmp(fld[0], "alloc") && nf == 5 && dcur) {
            if (mp_lframes_push(&dcur->alloc_frames, &dcur->nalloc, fld)) { e = ENOMEM; break; }
        } else if (!strcmp(fld[0], "history") && nf == 3) {
            mf->history_kept = strtoll(fld[1], NULL, 10);
            mf->history_dropped = strtoll(fld[2], NULL, 10);
        } else if (!strcmp(fld[0], "end")) {
            ended = true;
        } else {
            e = EINVAL;
            break;
        }
    }
    free(line);
    fclose(in);
    if (!e && !ended) e = EINVAL;
    if (e) {
        snprintf(err, errlen, "%s: %s (line %d)", path,
                 e == ENOMEM ? "out of memory" : "not a mapprof maps file, or truncated", lineno);
        mp_mapsfile_free(mf);
    }
    if (!e) qsort(mf->m, mf->n, sizeof *mf->m, by_id);     /* for mp_mapsfile_map */
    return e;
}

const mp_mapinfo_t *mp_mapsfile_map(const mp_mapsfile_t *mf, uint32_t id)
{
    size_t lo = 0, hi = mf->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (mf->m[mid].id == id) return &mf->m[mid];
        if (mf->m[mid].id < id) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

void mp_mapsfile_free(mp_mapsfile_t *mf)
{
    for (size_t i = 0; i < mf->n; i++) mp_lframes_free(mf->m[i].frames, mf->m[i].nframes);
    for (size_t i = 0; i < mf->nd; i++) {
        mp_lframes_free(mf->d[i].free_frames, mf->d[i].nfree);
        mp_lframes_free(mf->d[i].alloc_frames, mf->d[i].nalloc);
    }
    free(mf->d);
    free(mf->m);
    memset(mf, 0, sizeof *mf);
}

static int by_retained(const void *a, const void *b)
{
    const mp_mapinfo_t *x = a, *y = b;
    if (x->retained_bytes != y->retained_bytes) return x->retained_bytes > y->retained_bytes ? -1 : 1;
    if (x->bucket_bytes != y->bucket_bytes) return x->bucket_bytes > y->bucket_bytes ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

size_t mp_mapinfo_site(const mp_mapinfo_t *m)
{
    for (size_t k = 0; k < m->nframes; k++) {
        const char *mod = m->frames[k].module, *fn = m->frames[k].function;
        const char *file = m->frames[k].file;
        if (strstr(mod, "libglib") || strstr(mod, "libstdc++") || strstr(mod, "libmapprof") ||
            !strncmp(fn, "hm_", 3) || !strncmp(fn, "g_hash_table", 12) || !strncmp(fn, "std::", 5) ||
            !strncmp(file, "/usr/include/", 13))
            continue;
        return k;
    }
    return 0;
}

void mp_mapsfile_json(const mp_mapsfile_t *mf, FILE *out)
{
    mp_mapinfo_t *m = malloc((mf->n ? mf->n : 1) * sizeof *m);
    if (!m) return;
    memcpy(m, mf->m, mf->n * sizeof *m);
    qsort(m, mf->n, sizeof *m, by_retained);
    mp_out_t o = { NULL, out };
    fprintf(out, "{\"pid\":%d,\"tag\":", mf->pid);
    mp_json_str(&o, mf->tag);
    fprintf(out, ",\"maps\":[");
    for (size_t i = 0; i < mf->n; i++) {
        const mp_mapinfo_t *x = &m[i];
        fprintf(out, "%s\n{\"id\":%u,\"kind\":\"%s\",\"entries\":%lld,\"peak_entries\":%lld,"
                "\"capacity\":%lld,\"buckets\":%lld,\"bucket_bytes\":%lld,\"node_bytes\":%lld,"
                "\"overflow_buckets\":%lld,\"padding_bytes\":%lld,\"retained_bytes\":%lld,"
                "\"inserts\":%lld,\"removes\":%lld,\"key_size\":%lld,\"value_size\":%lld,"
                "\"object\":\"0x%llx\",\"created_at\":",
                i ? "," : "", x->id, x->kind, (long long)x->entries, (long long)x->peak_entries,
                (long long)x->slots, (long long)x->buckets, (long long)x->bucket_bytes,
                (long long)x->node_bytes, (long long)x->overflow_buckets,
                (long long)x->padding_bytes, (long long)x->retained_bytes,
                (long long)x->inserts, (long long)x->removes, (long long)x->key_size,
                (long long)x->value_size, (unsigned long long)x->obj);
        mp_json_frames(&o, x->frames, x->nframes);
        fprintf(out, "}");
    }
    fprintf(out, "\n]}\n");
    free(m);
}

void mp_mapsfile_table(const mp_mapsfile_t *mf, FILE *out, size_t top)
{
    mp_mapinfo_t *m = malloc((mf->n ? mf->n : 1) * sizeof *m);
    if (!m) return;
    memcpy(m, mf->m, mf->n * sizeof *m);
    qsort(m, mf->n, sizeof *m, by_retained);
    fprintf(out, "Maps: %zu live, largest retained first\n", mf->n);
    fprintf(out, "%6s %-14s %10s %10s %10s %12s %12s %12s  %s\n", "id", "kind", "entries", "peak",
            "capacity", "bucket_B", "retained_B", "node_B", "created at");
    for (size_t i = 0; i < mf->n && (!top || i < top); i++) {
        const mp_mapinfo_t *x = &m[i];
        size_t k = mp_mapinfo_site(x);
        char where[512] = "?";
        if (x->nframes)
            snprintf(where, sizeof where, "%s %s:%d", x->frames[k].function, x->frames[k].file, x->frames[k].line);
        fprintf(out, "%6u %-14s %10lld %10lld %10lld %12lld %12lld %12lld  %s\n", x->id, x->kind,
                (long long)x->entries, (long long)x->peak_entries, (long long)x->slots,
                (long long)x->bucket_bytes, (long long)x->retained_bytes, (long long)x->node_bytes, where);
    }
    free(m);
}

static void json_map(mp_out_t *o, const mp_mapsfile_t *mf, uint32_t id)
{
    const mp_mapinfo_t *m = mp_mapsfile_map(mf, id);
    mp_out_printf(o, "\"map\":{\"id\":%u,\"kind\":\"%s\",\"created_at\":", id, m ? m->kind : "unknown");
    mp_json_frames(o, m ? m->frames : NULL, m ? m->nframes : 0);
    mp_out_printf(o, "}");
}

int mp_mapsfile_findings_json(const mp_mapsfile_t *mf, const char *path)
{
    mp_afile_t f;
    int e = mp_afile_open(&f, path);
    if (e) return e;
    mp_out_t o = { &f, NULL };
    mp_afile_printf(&f, "{\"pid\":%d,\"tag\":", mf->pid);
    mp_json_str(&o, mf->tag);
    mp_afile_printf(&f, ",\"findings\":[");
    bool first = true;
    for (size_t i = 0; i < mf->n; i++) {
        const mp_mapinfo_t *m = &mf->m[i];
        if (m->retained_bytes <= 0 || m->entries * 2 > m->peak_entries) continue;
        mp_afile_printf(&f, "%s\n{\"kind\":\"retained_buckets\",", first ? "" : ",");
        json_map(&o, mf, m->id);
        mp_afile_printf(&f, ",\"bytes\":%lld,\"entries\":%lld,\"peak_entries\":%lld,\"bucket_bytes\":%lld}",
                        (long long)m->retained_bytes, (long long)m->entries,
                        (long long)m->peak_entries, (long long)m->bucket_bytes);
        first = false;
    }
    for (size_t i = 0; i < mf->nd; i++) {
        const mp_dangling_t *d = &mf->d[i];
        mp_afile_printf(&f, "%s\n{\"kind\":\"dangling\",", first ? "" : ",");
        json_map(&o, mf, d->map_id);
        mp_afile_printf(&f, ",\"bytes\":0,\"entry_key\":\"0x%llx\",\"pointer\":\"0x%llx\",\"field\":\"%s\","
                        "\"reused\":%s,\"certain\":%s,\"freed_at\":",
                        (unsigned long long)d->key, (unsigned long long)d->pointer, d->field,
                        d->reused ? "true" : "false", d->certain ? "true" : "false");
        mp_json_frames(&o, d->free_frames, d->nfree);
        mp_afile_printf(&f, ",\"allocated_at\":");
        mp_json_frames(&o, d->alloc_frames, d->nalloc);
        mp_afile_write(&f, "}", 1);
        first = false;
    }
    mp_afile_printf(&f, "\n],\"history\":{\"freed_kept\":%lld,\"freed_dropped\":%lld,\"complete\":%s}}\n",
                    (long long)mf->history_kept, (long long)mf->history_dropped,
                    mf->history_dropped ? "false" : "true");
    return mp_afile_commit(&f);
}
