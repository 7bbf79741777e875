/* Unit test: map findings across a series of inventories (export/diff.c), on series built
 * here with known fates (maps in id order, as mp_mapsfile_read leaves them), their conversion
 * into check findings, and the reader's lookup by id. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export/diff.h"
#include "tests/check.h"

#define MAXMAPS 8

typedef struct series {
    mp_mapsfile_t f[8];
    mp_mapinfo_t m[8][MAXMAPS];
    size_t n;
} series_t;

/* Snapshot k of s holds map id with these entries and removes (appended). */
static void put(series_t *s, size_t k, uint32_t id, int64_t entries, int64_t removes)
{
    mp_mapsfile_t *f = &s->f[k];
    f->m = s->m[k];
    f->pid = 42;
    mp_mapinfo_t *m = &f->m[f->n++];
    memset(m, 0, sizeof *m);
    m->id = id;
    snprintf(m->kind, sizeof m->kind, "annotated");
    m->entries = entries;
    m->removes = removes;
    m->bucket_bytes = 64 * (entries + 1);
    if (k + 1 > s->n) s->n = k + 1;
}

/* The ids of the growth findings, ascending, as a string "1 3". */
static void growth_ids(const series_t *s, unsigned flags, char *out, size_t len)
{
    mp_mfinding_t *f;
    size_t n;
    out[0] = 0;
    CHECK(mp_map_findings(s->f, s->n, flags, &f, &n) == 0);
    for (size_t i = 0; i < n; i++)
        if (f[i].kind == MP_MF_GROWTH)
            snprintf(out + strlen(out), len - strlen(out), "%s%u", out[0] ? " " : "", f[i].map->id);
    free(f);
}

static void test_growth_rule(void)
{
    series_t s = { 0 };
    /* 1: up at every step; 2: up, flat, up (an idle step is passed over); 3: one removal;
     * 4: entries down once; 5: up once only; 6: created after the first snapshot, then up
     * once (creation counts as rising from none); 7: flat throughout */
    int64_t e[7][4] = { { 10, 20, 30, 40 }, { 10, 20, 20, 30 }, { 10, 20, 30, 40 }, { 10, 20, 15, 30 },
                        { 10, 10, 10, 20 }, { -1, -1, 5, 9 }, { 7, 7, 7, 7 } };
    for (size_t k = 0; k < 4; k++)
        for (uint32_t id = 1; id <= 7; id++)
            if (e[id - 1][k] >= 0) put(&s, k, id, e[id - 1][k], id == 3 && k == 3 ? 1 : 0);
    char got[64];
    growth_ids(&s, 0, got, sizeof got);
    CHECKF(!strcmp(got, "1 2 6"), "growing maps: %s", got);

    /* two snapshots: at most one rise from the first, never growth */
    s.n = 2;
    growth_ids(&s, 0, got, sizeof got);
    CHECKF(!strcmp(got, ""), "growing maps over two snapshots: %s", got);
}

static void test_gone_maps(void)
{
    series_t s = { 0 };
    /* map 1 grows over three snapshots and is gone from the fourth; map 2 stays and grows */
    put(&s, 0, 1, 10, 0); put(&s, 1, 1, 20, 0); put(&s, 2, 1, 30, 0);
    put(&s, 0, 2, 1, 0); put(&s, 1, 2, 2, 0); put(&s, 2, 2, 3, 0); put(&s, 3, 2, 4, 0);
    char got[64];
    growth_ids(&s, 0, got, sizeof got);
    CHECKF(!strcmp(got, "2"), "the newest file's maps only: %s", got);
    growth_ids(&s, MP_MF_GONE_MAPS, got, sizeof got);
    CHECKF(!strcmp(got, "1 2"), "gone maps too: %s", got);

    mp_mfinding_t *f;
    size_t n;
    CHECK(mp_map_findings(s.f, s.n, MP_MF_GONE_MAPS, &f, &n) == 0);
    for (size_t i = 0; i < n; i++) {
        if (f[i].kind != MP_MF_GROWTH || f[i].map->id != 1) continue;
        CHECK_EQ_INT(f[i].from_file, 0);
        CHECK_EQ_INT(f[i].to_file, 2);
        CHECK(f[i].file == &s.f[2] && f[i].from->entries == 10);
    }
    free(f);
}

static void test_check_findings(void)
{
    series_t s = { 0 };
    put(&s, 0, 1, 10, 0); put(&s, 1, 1, 20, 0); put(&s, 2, 1, 30, 0);
    mp_lframe_t fr[2] = { { "cache_new", "cache.c", 12, "/bin/x" }, { "main", "main.c", 3, "/bin/x" } };
    s.m[2][0].frames = fr;
    s.m[2][0].nframes = 2;
    s.m[2][0].node_bytes = 100;
    mp_lframe_t freed_at = { "drop_item", "item.c", 40, "/bin/x" };
    mp_dangling_t d = { .map_id = 1, .key = 0x10, .pointer = 0x5000, .field = "value", .certain = true,
                        .free_frames = &freed_at, .nfree = 1 };
    s.f[2].d = &d;
    s.f[2].nd = 1;
    mp_leakfile_t lf = { 0 };
    CHECK(mp_leakfile_add_map_findings(&lf, s.f, s.n) == 0);
    CHECK_EQ_INT(lf.n, 2);
    for (size_t i = 0; i < lf.n; i++) {
        const mp_lfinding_t *x = &lf.f[i];
        CHECK_EQ_INT(x->pid, 42);
        CHECK_EQ_INT(x->map_id, 1);
        CHECK(!strcmp(x->map_kind, "annotated"));
        CHECK_EQ_INT(x->nmap_frames, 2);
        if (!strcmp(x->kind, "growth")) {
            CHECK_EQ_INT(x->entries_from, 10);
            CHECK_EQ_INT(x->map_entries, 30);
            CHECK_EQ_INT(x->snapshots, 3);
            CHECK_EQ_INT(x->bytes, 64 * 31 + 100);
            CHECK(x->nframes == 2 && !strcmp(x->frames[0].function, "cache_new"));
        } else {
            CHECK(!strcmp(x->kind, "dangling"));
            CHECK(x->pointer == 0x5000 && x->entry_key == 0x10 && !strcmp(x->field, "value") && x->certain);
            CHECK(x->nframes == 1 && !strcmp(x->frames[0].function, "drop_item") && x->frames[0].line == 40);
        }
    }
    mp_leakfile_free(&lf);
}

static void test_read_sorts_by_id(void)
{
    /* written largest retained first, so ids come in any order */
    char path[] = "/tmp/mapprof-findings-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "mapprof-maps 1\nsnapshot\t42\t1\tt\n");
    uint32_t ids[] = { 7, 3, 9, 1, 5 };
    for (int i = 0; i < 5; i++)
        fprintf(f, "map\t%u\tannotated\t%u\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t8\t8\t1000\n", ids[i], ids[i] * 10);
    fprintf(f, "end\n");
    fclose(f);
    mp_mapsfile_t mf;
    char err[256];
    CHECK(mp_mapsfile_read(path, &mf, err, sizeof err) == 0);
    unlink(path);
    for (int i = 0; i < 5; i++) {
        const mp_mapinfo_t *m = mp_mapsfile_map(&mf, ids[i]);
        CHECKF(m && m->entries == ids[i] * 10, "map %u", ids[i]);
    }
    CHECK(mp_mapsfile_map(&mf, 2) == NULL && mp_mapsfile_map(&mf, 10) == NULL);
    mp_mapsfile_free(&mf);
}

int main(void)
{
    RUN(test_read_sorts_by_id);
    RUN(test_growth_rule);
    RUN(test_gone_maps);
    RUN(test_check_findings);
    return check_done();
}
