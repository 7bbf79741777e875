/* export/leakfile.c - leak findings files and the CI reports made from them. */
#define _GNU_SOURCE
#include "export/leakfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "export/atomicfile.h"
#include "export/internal.h"
#include "export/tsv.h"

/* The first line. 2: a whole map's finding line carries its definite and indirect parts. */
#define MAGIC "mapprof-leaks 2"

static const char *kind_names[6] = { "definite", "indirect", "map-retained", "reachable", "dangling",
                                     "growth" };

int mp_leak_kind_index(const char *kind)
{
    for (int i = 0; i < 6; i++)
        if (!strcmp(kind, kind_names[i])) return i;
    return -1;
}

static int class_index(mp_leak_class_t c)
{
    switch (c) {
    case MP_LEAK_DEFINITE: return 0;
    case MP_LEAK_INDIRECT: return 1;
    case MP_LEAK_MAP_RETAINED: return 2;
    default: return 3;
    }
}

/* ---- writing ---- */

int mp_leakfile_write(const char *path, const mp_leak_report_t *rep, int pid,
                      mp_symbolize_fn sym, void *ctx)
{
    mp_afile_t f;
    int e = mp_afile_open(&f, path);
    if (e) return e;
    const mp_leak_totals_t *t = &rep->totals;
    mp_afile_printf(&f, MAGIC "\npid\t%d\nsummary", pid);
    const mp_leak_class_t order[4] = { MP_LEAK_DEFINITE, MP_LEAK_INDIRECT, MP_LEAK_MAP_RETAINED, MP_LEAK_REACHABLE };
    for (int i = 0; i < 4; i++)
        mp_afile_printf(&f, "\t%llu\t%llu", (unsigned long long)t->bytes[order[i]],
                        (unsigned long long)t->blocks[order[i]]);
    mp_afile_write(&f, "\n", 1);
    for (size_t i = 0; i < rep->n; i++) {
        const mp_leak_group_t *g = &rep->groups[i];
        mp_afile_printf(&f, "finding\t%s\t%llu\t%llu\t%d", kind_names[class_index(g->cls)],
                        (unsigned long long)g->bytes, (unsigned long long)g->blocks, g->whole_map);
        mp_tsv_put(&f, g->map_id ? mp_map_kind_name(g->map_kind) : "");
        mp_afile_printf(&f, "\t%u\t%lld\t%llu\t%llu\t%llu\t%llu\n", g->map_id, (long long)g->map_entries,
                        (unsigned long long)g->part_bytes[0], (unsigned long long)g->part_blocks[0],
                        (unsigned long long)g->part_bytes[1], (unsigned long long)g->part_blocks[1]);
        for (uint32_t d = 0; d < g->depth; d++) {
            mp_lframe_t fr[16];
            int nf = sym ? sym(g->pcs[d], fr, 16, ctx) : 0;
            char addr[32];
            if (nf <= 0) {
                snprintf(addr, sizeof addr, "0x%llx", (unsigned long long)g->pcs[d]);
                fr[0] = (mp_lframe_t){ addr, "", 0, "" };
                nf = 1;
            }
            for (int k = 0; k < nf; k++) {
                mp_afile_write(&f, "frame", 5);
                mp_tsv_put(&f, fr[k].function);
                mp_tsv_put(&f, fr[k].file);
                mp_afile_printf(&f, "\t%d", fr[k].line);
                mp_tsv_put(&f, fr[k].module);
                mp_afile_write(&f, "\n", 1);
            }
        }
    }
    mp_afile_printf(&f, "end\n");
    return mp_afile_commit(&f);
}

/* ---- reading ---- */

static void finding_free(mp_lfinding_t *f)
{
    mp_lframes_free(f->frames, f->nframes);
    mp_lframes_free(f->map_frames, f->nmap_frames);
}

int mp_leakfile_read(const char *path, mp_leakfile_t *lf, char *err, size_t errlen)
{
    FILE *in = fopen(path, "r");
    if (!in) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return errno;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int pid = 0, lineno = 0, e = 0;
    bool header = false, ended = false;
    mp_lfinding_t *cur = NULL;
    mp_leakfile_t before = *lf;     /* a file that fails to read adds nothing */
    while ((len = getline(&line, &cap, in)) > 0) {
        lineno++;
        if (line[len - 1] == '\n') line[--len] = 0;
        char *fld[12];
        int nf = mp_tsv_split(line, fld, 12);
        if (!header) {
            if (strcmp(fld[0], MAGIC) != 0) { e = EINVAL; break; }
            header = true;
        } else if (!strcmp(fld[0], "pid") && nf == 2) {
            pid = atoi(fld[1]);
            lf->processes++;
        } else if (!strcmp(fld[0], "summary") && nf == 9) {
            for (int i = 0; i < 4; i++) {
                lf->sum_bytes[i] += strtoull(fld[1 + 2 * i], NULL, 10);
                lf->sum_blocks[i] += strtoull(fld[2 + 2 * i], NULL, 10);
            }
        } else if (!strcmp(fld[0], "finding") && nf == 12) {
            if (mp_grow(&lf->f, &lf->cap, lf->n + 1, sizeof *lf->f)) { e = ENOMEM; break; }
            cur = &lf->f[lf->n++];
            memset(cur, 0, sizeof *cur);
            cur->pid = pid;
            snprintf(cur->kind, sizeof cur->kind, "%s", fld[1]);
            int k = mp_leak_kind_index(cur->kind);
            if (k < 0 || k >= MP_LF_DANGLING) { e = EINVAL; break; }
            cur->bytes = strtoull(fld[2], NULL, 10);
            cur->blocks = strtoull(fld[3], NULL, 10);
            cur->whole_map = atoi(fld[4]) != 0;
            snprintf(cur->map_kind, sizeof cur->map_kind, "%s", fld[5]);
            cur->map_id = (uint32_t)strtoul(fld[6], NULL, 10);
            cur->map_entries = strtoll(fld[7], NULL, 10);
            for (int i = 0; i < 2; i++) {
                cur->part_bytes[i] = strtoull(fld[8 + 2 * i], NULL, 10);
                cur->part_blocks[i] = strtoull(fld[9 + 2 * i], NULL, 10);
            }
        } else if (!strcmp(fld[0], "frame") && nf == 5 && cur) {
            if (mp_lframes_push(&cur->frames, &cur->nframes, fld)) { e = ENOMEM; break; }
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
        snprintf(err, errlen, "%s: %s at line %d", path,
                 e == ENOMEM ? "out of memory" : ended || lineno ? "malformed leak report" : "empty leak report",
                 lineno);
        for (size_t i = before.n; i < lf->n; i++) finding_free(&lf->f[i]);
        before.f = lf->f;           /* the array may have moved, and keeps its room */
        before.cap = lf->cap;
        *lf = before;
    }
    return e;
}

void mp_leakfile_free(mp_leakfile_t *lf)
{
    for (size_t i = 0; i < lf->n; i++) finding_free(&lf->f[i]);
    free(lf->f);
    memset(lf, 0, sizeof *lf);
}

/* ---- reports ---- */

/* The frame a stack is located at: the first (leaf-most) frame with a source file that is not
 * in the C library or the loader, else the first frame with a file, else the first. */
static const mp_lframe_t *site(const mp_lframe_t *frames, size_t n)
{
    const mp_lframe_t *any = NULL;
    for (size_t k = 0; k < n; k++) {
        const mp_lframe_t *fr = &frames[k];
        if (!fr->file[0]) continue;
        if (!any) any = fr;
        if (!strstr(fr->module, "/libc.so") && !strstr(fr->module, "/ld-linux") &&
            !strstr(fr->module, "libstdc++") && !strstr(fr->module, "libglib") &&
            strncmp(fr->file, "/usr/include/", 13) != 0 && strncmp(fr->function, "hm_", 3) != 0)
            return fr;
    }
    return any ? any : (n ? &frames[0] : NULL);
}

static const mp_lframe_t *location(const mp_lfinding_t *f) { return site(f->frames, f->nframes); }

/* Unsuppressed dangling references and growing maps. */
static void map_finding_counts(const mp_leakfile_t *lf, size_t n[2])
{
    n[0] = n[1] = 0;
    for (size_t i = 0; i < lf->n; i++) {
        int k = mp_leak_kind_index(lf->f[i].kind);
        if (k >= MP_LF_DANGLING && !lf->f[i].suppressed) n[k - MP_LF_DANGLING]++;
    }
}

int mp_leakfile_json(const mp_leakfile_t *lf, const char *path)
{
    mp_afile_t f;
    int e = mp_afile_open(&f, path);
    if (e) return e;
    mp_out_t o = { &f, NULL };
    mp_afile_printf(&f, "{\"leaks\":[");
    bool first = true;
    for (size_t i = 0; i < lf->n; i++) {
        const mp_lfinding_t *x = &lf->f[i];
        if (!strcmp(x->kind, "reachable")) continue;
        mp_afile_printf(&f, "%s\n{\"kind\":\"%s\",\"bytes\":%llu,\"blocks\":%llu,\"pid\":%d,"
                        "\"suppressed\":%s,\"failed\":%s", first ? "" : ",", x->kind,
                        (unsigned long long)x->bytes, (unsigned long long)x->blocks, x->pid,
                        x->suppressed ? "true" : "false", x->failed ? "true" : "false");
        if (x->map_kind[0])
            mp_afile_printf(&f, ",\"map\":{\"id\":%u,\"kind\":\"%s\",\"entries\":%lld,\"whole\":%s}",
                            x->map_id, x->map_kind, (long long)x->map_entries, x->whole_map ? "true" : "false");
        int k = mp_leak_kind_index(x->kind);
        if (k == MP_LF_DANGLING) {
            mp_afile_printf(&f, ",\"entry_key\":\"0x%llx\",\"pointer\":\"0x%llx\",\"field\":\"%s\",\"certain\":%s",
                            (unsigned long long)x->entry_key, (unsigned long long)x->pointer, x->field,
                            x->certain ? "true" : "false");
        } else if (k == MP_LF_GROWTH) {
            mp_afile_printf(&f, ",\"entries_from\":%lld,\"snapshots\":%u", (long long)x->entries_from,
                            x->snapshots);
        }
        if (k >= MP_LF_DANGLING) {
            mp_afile_printf(&f, ",\"map_created_at\":");
            mp_json_frames(&o, x->map_frames, x->nmap_frames);
        }
        mp_afile_printf(&f, ",\"stack\":");
        mp_json_frames(&o, x->frames, x->nframes);
        mp_afile_write(&f, "}", 1);
        first = false;
    }
    size_t nmap[2];
    map_finding_counts(lf, nmap);
    mp_afile_printf(&f, "\n],\"summary\":{\"definite_bytes\":%llu,\"definite_blocks\":%llu,"
                    "\"indirect_bytes\":%llu,\"indirect_blocks\":%llu,\"map_retained_bytes\":%llu,"
                    "\"map_retained_blocks\":%llu,\"reachable_bytes\":%llu,\"reachable_blocks\":%llu,"
                    "\"dangling\":%zu,\"growth\":%zu,\"processes\":%zu}}\n",
                    (unsigned long long)lf->sum_bytes[0], (unsigned long long)lf->sum_blocks[0],
                    (unsigned long long)lf->sum_bytes[1], (unsigned long long)lf->sum_blocks[1],
                    (unsigned long long)lf->sum_bytes[2], (unsigned long long)lf->sum_blocks[2],
                    (unsigned long long)lf->sum_bytes[3], (unsigned long long)lf->sum_blocks[3],
                    nmap[0], nmap[1], lf->processes);
    return mp_afile_commit(&f);
}

static void xml_str(mp_afile_t *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': mp_afile_printf(f, "&lt;"); break;
        case '>': mp_afile_printf(f, "&gt;"); break;
        case '&': mp_afile_printf(f, "&amp;"); break;
        case '"': mp_afile_printf(f, "&quot;"); break;
        default:
            if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t') mp_afile_printf(f, "?");
            else mp_afile_write(f, s, 1);
        }
    }
}

static void describe(char *buf, size_t len, const mp_lfinding_t *x)
{
    const mp_lframe_t *at = location(x);
    int k = mp_leak_kind_index(x->kind);
    const mp_lframe_t *created = site(x->map_frames, x->nmap_frames);
    if (k == MP_LF_DANGLING)
        snprintf(buf, len, "dangling: an entry of map %s %u (created at %s) has its %s 0x%llx pointing "
                 "into a block freed at %s%s", x->map_kind[0] ? x->map_kind : "?", x->map_id, created ? created->function : "?",
                 x->field, (unsigned long long)x->pointer, at ? at->function : "?",
                 x->certain ? "" : " (freed-block history overflowed: others may be missing)");
    else if (k == MP_LF_GROWTH)
        snprintf(buf, len, "growth: map %s %u created at %s only grew, %lld -> %lld entries over %u "
                 "snapshots, never a removal; %llu bytes now", x->map_kind, x->map_id,
                 at ? at->function : "?", (long long)x->entries_from, (long long)x->map_entries,
                 x->snapshots, (unsigned long long)x->bytes);
    else if (x->whole_map)
        snprintf(buf, len, "%s leak: map %s created at %s: %lld entries, %llu bytes in %llu blocks",
                 x->kind, x->map_kind, at ? at->function : "?", (long long)x->map_entries,
                 (unsigned long long)x->bytes, (unsigned long long)x->blocks);
    else
        snprintf(buf, len, "%s%s: %llu bytes in %llu blocks allocated at %s%s%s%s", x->kind,
                 !strcmp(x->kind, "map-retained") ? "" : " leak", (unsigned long long)x->bytes,
                 (unsigned long long)x->blocks, at ? at->function : "?",
                 x->map_kind[0] ? " (kept by map " : "", x->map_kind[0] ? x->map_kind : "",
                 x->map_kind[0] ? ")" : "");
}

int mp_leakfile_junit(const mp_leakfile_t *lf, const char *path)
{
    mp_afile_t f;
    int e = mp_afile_open(&f, path);
    if (e) return e;
    size_t tests = 0, failures = 0;
    for (size_t i = 0; i < lf->n; i++) {
        if (!strcmp(lf->f[i].kind, "reachable")) continue;
        tests++;
        failures += lf->f[i].failed;
    }
    mp_afile_printf(&f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    "<testsuites name=\"mapprof\" tests=\"%zu\" failures=\"%zu\">\n"
                    "<testsuite name=\"mapprof.leaks\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"0\">\n",
                    tests, failures, tests, failures);
    for (size_t i = 0; i < lf->n; i++) {
        const mp_lfinding_t *x = &lf->f[i];
        if (!strcmp(x->kind, "reachable")) continue;
        char msg[1024];
        describe(msg, sizeof msg, x);
        const mp_lframe_t *at = location(x);
        mp_afile_printf(&f, "<testcase classname=\"mapprof.%s\" name=\"", x->kind);
        xml_str(&f, at ? at->function : "?");
        if (at && at->file[0]) {
            mp_afile_printf(&f, " (");
            xml_str(&f, at->file);
            mp_afile_printf(&f, ":%d)", at->line);
        }
        mp_afile_printf(&f, "\">");
        if (x->failed) {
            mp_afile_printf(&f, "<failure type=\"%s\" message=\"", x->kind);
            xml_str(&f, msg);
            mp_afile_printf(&f, "\">");
            for (size_t k = 0; k < x->nframes; k++) {
                xml_str(&f, x->frames[k].function);
                mp_afile_printf(&f, " ");
                xml_str(&f, x->frames[k].file);
                mp_afile_printf(&f, ":%d\n", x->frames[k].line);
            }
            mp_afile_printf(&f, "</failure>");
        } else if (x->suppressed) {
            mp_afile_printf(&f, "<skipped message=\"suppressed\"/>");
        }
        mp_afile_printf(&f, "</testcase>\n");
    }
    mp_afile_printf(&f, "</testsuite>\n</testsuites>\n");
    return mp_afile_commit(&f);
}

int mp_leakfile_sarif(const mp_leakfile_t *lf, const char *path)
{
    mp_afile_t f;
    int e = mp_afile_open(&f, path);
    if (e) return e;
    mp_out_t o = { &f, NULL };
    mp_afile_printf(&f, "{\"$schema\":\"https://json.schemastore.org/sarif-2.1.0.json\",\"version\":\"2.1.0\","
                    "\"runs\":[{\"tool\":{\"driver\":{\"name\":\"mapprof\",\"informationUri\":\"https://example.invalid/mapprof\","
                    "\"rules\":[");
    static const char *const rule_text[6] = {
        "Definitely lost memory at exit", "Indirectly lost memory at exit", "Map-retained memory at exit",
        NULL, "Map entry pointing into freed memory", "Map that only grows" };
    for (int i = 0, n = 0; i < 6; i++)
        if (rule_text[i])
            mp_afile_printf(&f, "%s{\"id\":\"%s\",\"shortDescription\":{\"text\":\"%s\"}}", n++ ? "," : "",
                            kind_names[i], rule_text[i]);
    mp_afile_printf(&f, "]}},\"results\":[");
    bool first = true;
    for (size_t i = 0; i < lf->n; i++) {
        const mp_lfinding_t *x = &lf->f[i];
        int k = mp_leak_kind_index(x->kind);
        if (k < 0 || k == 3) continue;     /* reachable memory is no finding */
        char msg[1024];
        describe(msg, sizeof msg, x);
        const mp_lframe_t *at = location(x);
        mp_afile_printf(&f, "%s\n{\"ruleId\":\"%s\",\"level\":\"%s\",\"message\":{\"text\":", first ? "" : ",",
                        x->kind, x->failed ? "error" : x->suppressed ? "none" : "warning");
        mp_json_str(&o, msg);
        mp_afile_printf(&f, "},\"locations\":[{\"physicalLocation\":{\"artifactLocation\":{\"uri\":");
        mp_json_str(&o, at && at->file[0] ? at->file : (at ? at->module : ""));
        mp_afile_printf(&f, "},\"region\":{\"startLine\":%d}}", at && at->line > 0 ? at->line : 1);
        mp_afile_printf(&f, ",\"logicalLocations\":[{\"fullyQualifiedName\":");
        mp_json_str(&o, at ? at->function : "");
        mp_afile_printf(&f, "}]}]");
        if (x->suppressed) mp_afile_printf(&f, ",\"suppressions\":[{\"kind\":\"external\"}]");
        mp_afile_printf(&f, ",\"properties\":{\"bytes\":%llu,\"blocks\":%llu}}",
                        (unsigned long long)x->bytes, (unsigned long long)x->blocks);
        first = false;
    }
    mp_afile_printf(&f, "\n]}]}\n");
    return mp_afile_commit(&f);
}

void mp_leakfile_text(const mp_leakfile_t *lf, FILE *out, unsigned kinds_mask)
{
    for (size_t i = 0; i < lf->n; i++) {
        const mp_lfinding_t *x = &lf->f[i];
        int k = mp_leak_kind_index(x->kind);
        if (k < 0 || !(kinds_mask & (1u << k)) || x->suppressed) continue;
        char msg[1024];
        describe(msg, sizeof msg, x);
        fprintf(out, "%s (pid %d)\n", msg, x->pid);
        for (size_t j = 0; j < x->nframes && j < 12; j++) {
            const mp_lframe_t *fr = &x->frames[j];
            if (fr->file[0]) fprintf(out, "    #%zu %s %s:%d\n", j, fr->function, fr->file, fr->line);
            else fprintf(out, "    #%zu %s (%s)\n", j, fr->function, fr->module);
        }
    }
    size_t nmap[2];
    map_finding_counts(lf, nmap);
    fprintf(out, "SUMMARY: definite %llu bytes in %llu blocks; indirect %llu bytes in %llu blocks; "
            "map-retained %llu bytes in %llu blocks; reachable %llu bytes in %llu blocks",
            (unsigned long long)lf->sum_bytes[0], (unsigned long long)lf->sum_blocks[0],
            (unsigned long long)lf->sum_bytes[1], (unsigned long long)lf->sum_blocks[1],
            (unsigned long long)lf->sum_bytes[2], (unsigned long long)lf->sum_blocks[2],
            (unsigned long long)lf->sum_bytes[3], (unsigned long long)lf->sum_blocks[3]);
    if (kinds_mask >> MP_LF_DANGLING) fprintf(out, "; dangling references %zu; growing maps %zu", nmap[0], nmap[1]);
    fputc('\n', out);
}
