/* tests/unit/export_read.c - reading pprof files back and the top report.
 *
 * Round trip: mp_export_pprof's output read by mp_profile_read has the samples, values,
 * labels and function names written. Robustness: every truncation and thousands of byte
 * flips of a profile (raw and gzip) give either a valid profile or a one-line error, never a
 * crash (the build is sanitized); empty, text, legacy and missing files give clear errors. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "export/export.h"
#include "export/profile.pb-c.h"
#include "tests/check.h"

#define NOINLINE __attribute__((noinline, noipa))
#define RA() ((uintptr_t)__builtin_return_address(0))

static char tmpdir[256], pbpath[300];
static uintptr_t pcs[2][2];

NOINLINE static void alloc_here(uintptr_t *p) { p[0] = RA(); __asm__ volatile("" ::: "memory"); }
NOINLINE static void big_site(uintptr_t *p) { alloc_here(p); p[1] = RA(); __asm__ volatile(""); }
NOINLINE static void small_site(uintptr_t *p) { alloc_here(p); p[1] = RA(); __asm__ volatile(""); }

static mp_label_t lab[1] = { { .key = "map_kind", .str = "ghash" } };
static mp_snap_stack_t st[3];
static mp_snapshot_t snap;

static void write_profile(void)
{
    big_site(pcs[0]);
    small_site(pcs[1]);
    st[0] = (mp_snap_stack_t){ .pcs = pcs[0], .depth = 2, .nlabels = 1, .labels = lab,
                               .est_alloc_objects = 2, .est_alloc_bytes = 2048,
                               .est_inuse_objects = 1, .est_inuse_bytes = 1024 };
    st[1] = (mp_snap_stack_t){ .pcs = pcs[1], .depth = 2, .est_alloc_objects = 10,
                               .est_alloc_bytes = 160, .est_inuse_objects = 10,
                               .est_inuse_bytes = 160 };
    st[2] = (mp_snap_stack_t){ .pcs = pcs[1], .depth = 2 };         /* all zero: skipped */
    snap = (mp_snapshot_t){ .rate = 1, .pid = getpid(), .tag = "read-test", .nstacks = 3,
                            .stacks = st };
    snprintf(pbpath, sizeof pbpath, "%s/r.pb.gz", tmpdir);
    CHECK_EQ_INT(mp_export_pprof(&snap, pbpath), 0);
}

static const char *str(const Perftools__Profiles__Profile *p, int64_t i) { return p->string_table[i]; }

static void test_round_trip(void)
{
    write_profile();
    mp_profile_t *pr = NULL;
    char err[256] = "";
    CHECKF(mp_profile_read(pbpath, &pr, err, sizeof err) == 0, "%s", err);
    if (!pr) return;
    const Perftools__Profiles__Profile *p = mp_profile_pb(pr);
    CHECK_EQ_INT(p->n_sample_type, 4);
    CHECK(!strcmp(str(p, p->sample_type[3]->type), "inuse_space"));
    CHECK(!strcmp(str(p, p->sample_type[0]->type), "alloc_objects"));
    CHECK(!strcmp(str(p, p->default_sample_type), "inuse_space"));
    CHECK_EQ_INT(p->n_sample, 2);               /* the all-zero stack is gone */
    CHECK_EQ_INT(mp_profile_sample_index(pr, NULL), 3);
    CHECK_EQ_INT(mp_profile_sample_index(pr, "alloc_space"), 1);
    CHECK_EQ_INT(mp_profile_sample_index(pr, "nope"), -1);
    int64_t in = 0;
    for (size_t i = 0; i < p->n_sample; i++) in += p->sample[i]->value[3];
    CHECK_EQ_INT(in, 1184);
    /* every location: address = ra - 1 inside a mapping; functions named */
    int found_big = 0;
    for (size_t i = 0; i < p->n_location; i++) {
        const Perftools__Profiles__Location *l = p->location[i];
        CHECK(l->mapping_id != 0 && l->n_line >= 1);
        for (size_t j = 0; j < l->n_line; j++)
            for (size_t k = 0; k < p->n_function; k++)
                if (p->function[k]->id == l->line[j]->function_id &&
                    !strcmp(str(p, p->function[k]->name), "big_site")) {
                    found_big = 1;
                    CHECK(l->address == pcs[0][0] - 1);
                }
    }
    CHECK(found_big);
    CHECK(p->n_mapping >= 1 && p->mapping[0]->has_functions);
    mp_profile_free(pr);
}

static char *report(const char *type, int top, int *rc)
{
    mp_profile_t *pr = NULL;
    char err[256];
    if (mp_profile_read(pbpath, &pr, err, sizeof err)) return strdup(err);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    *rc = mp_report_top(pr, f, type, top);
    fclose(f);
    mp_profile_free(pr);
    return buf;
}

static void test_report_top(void)
{
    int rc = -1;
    char *r = report(NULL, 0, &rc);
    CHECK_EQ_INT(rc, 0);
    CHECKF(strstr(r, "Type: inuse_space (bytes)") && strstr(r, "Total: 1184 bytes"), "%s", r);
    /* big_site first (1024 flat, 86.49%), small_site second; cum of alloc_here's callers */
    const char *b = strstr(r, "big_site"), *s = strstr(r, "small_site");
    CHECKF(b && s && b < s, "%s", r);
    CHECKF(strstr(r, "1024  86.49%  86.49%") != NULL, "%s", r);
    CHECKF(strstr(r, "160  13.51% 100.00%") != NULL, "%s", r);
    CHECK(strstr(r, "Comment: mapprof snapshot: read-test") != NULL);
    free(r);
    r = report("alloc_objects", 1, &rc);
    CHECK_EQ_INT(rc, 0);
    CHECKF(strstr(r, "Total: 12 count") && strstr(r, "small_site") && !strstr(r, "big_site"),
           "%s", r);
    free(r);
    r = report("no_such_type", 0, &rc);
    CHECK_EQ_INT(rc, EINVAL);
    free(r);
}

static unsigned char *load(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *b = malloc(1 << 20);
    *n = fread(b, 1, 1 << 20, f);
    fclose(f);
    return b;
}

static unsigned char *inflate_all(const unsigned char *gz, size_t n, size_t *out)
{
    unsigned char *b = malloc(1 << 22);
    z_stream z = { 0 };
    inflateInit2(&z, 15 + 32);
    z.next_in = (unsigned char *)gz;
    z.avail_in = (uInt)n;
    z.next_out = b;
    z.avail_out = 1 << 22;
    inflate(&z, Z_FINISH);
    *out = z.total_out;
    inflateEnd(&z);
    return b;
}

/* Parse: 0 with a profile, or an error with a message; either is fine, a crash is not. */
static int try_parse(const unsigned char *d, size_t n, int *ok)
{
    mp_profile_t *pr = NULL;
    char err[256] = "";
    int e = mp_profile_parse(d, n, &pr, err, sizeof err);
    if (!e) {
        (*ok)++;
        FILE *f = fopen("/dev/null", "w");
        mp_report_top(pr, f, NULL, 5);          /* whatever validates must also report */
        fclose(f);
        mp_profile_free(pr);
        return 1;
    }
    return err[0] != 0 && !strchr(err, '\n');
}

static void test_corrupt_inputs(void)
{
    size_t gn = 0, rn = 0;
    unsigned char *gz = load(pbpath, &gn);
    CHECK(gz && gn > 20);
    if (!gz) return;
    unsigned char *raw = inflate_all(gz, gn, &rn);
    CHECK(rn > gn / 2);
    int ok = 0, bad_msgs = 0;
    mp_profile_t *pr = NULL;
    char err[256];
    /* raw (uncompressed) protobuf is accepted */
    CHECK_EQ_INT(mp_profile_parse(raw, rn, &pr, err, sizeof err), 0);
    mp_profile_free(pr);
    /* every truncation of the gzip file: an error ("truncated"), never a profile */
    for (size_t n = 1; n < gn; n++) {
        pr = NULL;
        err[0] = 0;
        int e = mp_profile_parse(gz, n, &pr, err, sizeof err);
        if (!e) { mp_profile_free(pr); ok++; }
        else if (!err[0]) bad_msgs++;
    }
    CHECKF(ok == 0, "%d truncated gzip files parsed", ok);
    CHECK_EQ_INT(bad_msgs, 0);
    err[0] = 0;
    CHECK(mp_profile_parse(gz, gn - 9, &pr, err, sizeof err) != 0 && strstr(err, "truncated"));
    /* every truncation of the raw protobuf: no crash, a message when rejected */
    ok = 0;
    for (size_t n = 0; n < rn; n++) bad_msgs += !try_parse(raw, n, &ok);
    CHECK_EQ_INT(bad_msgs, 0);
    /* random byte changes, raw and gzip */
    unsigned x = 42;
    unsigned char *m = malloc(rn > gn ? rn : gn);
    for (int round = 0; round < 4000; round++) {
        int use_gz = round & 1;
        size_t n = use_gz ? gn : rn;
        memcpy(m, use_gz ? gz : raw, n);
        for (int k = 0; k < 1 + round % 4; k++) {
            x = x * 1103515245u + 12345u;
            size_t at = (x >> 8) % n;
            x = x * 1103515245u + 12345u;
            m[at] ^= (unsigned char)(1u << ((x >> 16) % 8));
        }
        bad_msgs += !try_parse(m, n, &ok);
    }
    CHECK_EQ_INT(bad_msgs, 0);
    free(m);
    /* obviously wrong files */
    CHECK(mp_profile_parse("", 0, &pr, err, sizeof err) != 0 && strstr(err, "empty"));
    const char *legacy = "heap profile: 1: 2 [3: 4] @ heap_v2/524288\n";
    CHECK(mp_profile_parse(legacy, strlen(legacy), &pr, err, sizeof err) != 0 &&
          strstr(err, "legacy"));
    CHECK(mp_profile_parse("hello world\n", 12, &pr, err, sizeof err) != 0 &&
          strstr(err, "not a pprof"));
    CHECK(mp_profile_read("/nonexistent/x.pb.gz", &pr, err, sizeof err) == ENOENT &&
          strstr(err, "/nonexistent/x.pb.gz"));
    CHECK(mp_profile_read(tmpdir, &pr, err, sizeof err) != 0);
    /* a message that unpacks but breaks the rules: string_table[0] not "" */
    Perftools__Profiles__Profile p = PERFTOOLS__PROFILES__PROFILE__INIT;
    Perftools__Profiles__ValueType vt = PERFTOOLS__PROFILES__VALUE_TYPE__INIT, *vtp = &vt;
    char *strs[2] = { "x", "y" };
    p.n_string_table = 2;
    p.string_table = strs;
    p.n_sample_type = 1;
    p.sample_type = &vtp;
    unsigned char buf[256];
    size_t bl = perftools__profiles__profile__pack(&p, buf);
    CHECK(mp_profile_parse(buf, bl, &pr, err, sizeof err) == EBADMSG && strstr(err, "string_table"));
    strs[0] = "";
    vt.type = 5;                                /* out of range */
    bl = perftools__profiles__profile__pack(&p, buf);
    CHECK(mp_profile_parse(buf, bl, &pr, err, sizeof err) == EBADMSG && strstr(err, "range"));
    vt.type = 1;
    Perftools__Profiles__Sample s = PERFTOOLS__PROFILES__SAMPLE__INIT, *sp = &s;
    int64_t vals[2] = { 1, 2 };
    s.n_value = 2;
    s.value = vals;
    p.n_sample = 1;
    p.sample = &sp;
    bl = perftools__profiles__profile__pack(&p, buf);
    CHECK(mp_profile_parse(buf, bl, &pr, err, sizeof err) == EBADMSG && strstr(err, "values"));
    s.n_value = 1;
    uint64_t lid = 9;
    s.n_location_id = 1;
    s.location_id = &lid;
    bl = perftools__profiles__profile__pack(&p, buf);
    CHECK(mp_profile_parse(buf, bl, &pr, err, sizeof err) == EBADMSG && strstr(err, "location id"));
    free(gz);
    free(raw);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/mapprof-read-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    RUN(test_round_trip);
    RUN(test_report_top);
    RUN(test_corrupt_inputs);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", tmpdir);
    return check_done();
}
