/* tests/unit/export_pprof.c - the pprof and legacy writers against the reference readers.
 *
 * The snapshot is synthetic but its stacks are real return addresses in this very binary
 * (taken with __builtin_return_address in noinline functions, and through an always_inline
 * function for an inline frame), so the symbolizer must find our own function names, files,
 * lines and the inline chain. `go tool pprof` must read the profile without the binary
 * (PPROF_BINARY_PATH=/nonexistent) and show exactly the values we wrote; google-pprof must
 * agree with the legacy file's totals. Built -O2 -g (with sanitizers). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "export/export.h"
#include "export/symbolize.h"
#include "profiler/log.h"
#include "tests/check.h"

#define NOINLINE __attribute__((noinline, noipa))
#define RA() ((uintptr_t)__builtin_return_address(0))
#define BARRIER() __asm__ volatile("" ::: "memory")

static char tmpdir[256];
static int line_site_a, line_site_b, line_inl, line_host, line_driver;

/* Stands for malloc: records the return address into its caller (the allocation site). */
NOINLINE static void fake_malloc(uintptr_t *pcs) { pcs[0] = RA(); BARRIER(); }

NOINLINE static void site_a(uintptr_t *pcs) {
    fake_malloc(pcs); line_site_a = __LINE__;
    pcs[1] = RA(); BARRIER();
}

NOINLINE static void site_b(uintptr_t *pcs) {
    fake_malloc(pcs); line_site_b = __LINE__;
    pcs[1] = RA(); BARRIER();
}

static inline __attribute__((always_inline)) void inlined_site(uintptr_t *pcs) {
    fake_malloc(pcs); line_inl = __LINE__;
    BARRIER();
}

NOINLINE static void host(uintptr_t *pcs) {
    inlined_site(pcs); line_host = __LINE__;
    pcs[1] = RA(); BARRIER();
}

/* Calls fn; pcs[1] (set by fn) is then a return address inside driver, pcs[2] the one
 * inside capture. */
NOINLINE static void driver(void (*fn)(uintptr_t *), uintptr_t *pcs) {
    fn(pcs); line_driver = __LINE__;
    pcs[2] = RA(); BARRIER();
}

NOINLINE static void capture(void (*fn)(uintptr_t *), uintptr_t *pcs)
{
    driver(fn, pcs);
    BARRIER();
}

/* ---- running the readers ---- */

/* Run a shell command; its stdout in *out (malloc'd), stderr in *err. Returns exit status. */
static int run(const char *cmd, char **out, char **err)
{
    char full[4096], ef[512];
    snprintf(ef, sizeof ef, "%s/stderr.txt", tmpdir);
    snprintf(full, sizeof full, "cd %s && HOME=%s PPROF_TMPDIR=%s PPROF_BINARY_PATH=/nonexistent "
             "%s 2>%s", tmpdir, tmpdir, tmpdir, cmd, ef);
    FILE *p = popen(full, "r");
    if (!p) return -1;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += r;
        if (cap - n < 1024) buf = realloc(buf, cap *= 2);
    }
    buf[n] = 0;
    int st = pclose(p);
    *out = buf;
    if (err) {
        FILE *e = fopen(ef, "r");
        size_t ecap = 1 << 16;
        *err = calloc(1, ecap);
        if (e) { size_t k = fread(*err, 1, ecap - 1, e); (*err)[k] = 0; fclose(e); }
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int have_go(void)
{
    return system("go version >/dev/null 2>&1") == 0;
}

/* ---- the snapshot ---- */

enum { NST = 4 };
static uintptr_t pcs[NST][4];
static mp_label_t labels_a[2], labels_b[1];
static mp_snap_stack_t stacks[NST];
static mp_snapshot_t snap;

static void build_snapshot(int rate, int retained)
{
    capture(site_a, pcs[0]);
    capture(site_b, pcs[1]);
    capture(host, pcs[2]);
    capture(site_a, pcs[3]);    /* same pcs as stack 0, different label */
    labels_a[0] = (mp_label_t){ .key = "map_kind", .str = "ghash" };
    labels_a[1] = (mp_label_t){ .key = "map_id", .num = 7 };
    labels_b[0] = (mp_label_t){ .key = "map_kind", .str = "mphash" };
    memset(stacks, 0, sizeof stacks);
    for (int i = 0; i < NST; i++) {
        stacks[i].pcs = pcs[i];
        stacks[i].depth = 3;
    }
    /* site_a with labels a: 10 blocks of 100 bytes allocated, 4 live */
    stacks[0].nlabels = 2; stacks[0].labels = labels_a;
    stacks[0].raw_alloc_objects = 10; stacks[0].raw_alloc_bytes = 1000;
    stacks[0].raw_inuse_objects = 4; stacks[0].raw_inuse_bytes = 400;
    stacks[0].est_alloc_objects = 10.4; stacks[0].est_alloc_bytes = 1000.6;
    stacks[0].est_inuse_objects = 4; stacks[0].est_inuse_bytes = 400;
    stacks[0].est_retained_bytes = retained ? 64 : 0;
    /* site_b: 3 x 4096, 3 live */
    stacks[1].raw_alloc_objects = 3; stacks[1].raw_alloc_bytes = 12288;
    stacks[1].raw_inuse_objects = 3; stacks[1].raw_inuse_bytes = 12288;
    stacks[1].est_alloc_objects = 3; stacks[1].est_alloc_bytes = 12288;
    stacks[1].est_inuse_objects = 3; stacks[1].est_inuse_bytes = 12288;
    /* inlined site in host: 5 x 32, none live */
    stacks[2].raw_alloc_objects = 5; stacks[2].raw_alloc_bytes = 160;
    stacks[2].est_alloc_objects = 5; stacks[2].est_alloc_bytes = 160;
    /* site_a again, labels b: 2 x 50, 1 live */
    stacks[3].nlabels = 1; stacks[3].labels = labels_b;
    stacks[3].raw_alloc_objects = 2; stacks[3].raw_alloc_bytes = 100;
    stacks[3].raw_inuse_objects = 1; stacks[3].raw_inuse_bytes = 50;
    stacks[3].est_alloc_objects = 2; stacks[3].est_alloc_bytes = 100;
    stacks[3].est_inuse_objects = 1; stacks[3].est_inuse_bytes = 50;
    memset(&snap, 0, sizeof snap);
    snap.rate = (uint64_t)rate;
    snap.time_nanos = (int64_t)time(NULL) * 1000000000;
    snap.duration_nanos = 1500000000;
    snap.pid = getpid();
    snap.tag = "test";
    snap.comment = "export_pprof unit test";
    snap.nstacks = NST;
    snap.stacks = stacks;
    snap.has_retained = retained;
}

static void test_write(void)
{
    build_snapshot(1, 1);
    char pb[512], heap[512];
    snprintf(pb, sizeof pb, "%s/p.pb.gz", tmpdir);
    snprintf(heap, sizeof heap, "%s/p.heap", tmpdir);
    CHECK_EQ_INT(mp_export_pprof(&snap, pb), 0);
    CHECK_EQ_INT(mp_export_legacy(&snap, heap), 0);
    struct stat st;
    CHECK(stat(pb, &st) == 0 && st.st_size > 0);
    CHECK(stat(heap, &st) == 0 && st.st_size > 0);
}


static char *slurp_cmd(const char *cmd, char **err)
{
    char *out = NULL;
    int rc = run(cmd, &out, err);
    if (rc != 0) fprintf(stderr, "  command failed (%d): %s\n%s", rc, cmd, err && *err ? *err : "");
    return out;
}

/* Parse go tool pprof -raw's sample lines ("  v1  v2 ...: ids") into vals[i][0..nv). */
static int raw_samples(const char *raw, long long vals[][8], int maxs, int *nv)
{
    const char *p = strstr(raw, "Samples:");
    int n = 0;
    if (!p) return 0;
    p = strchr(p, '\n');
    if (p) p = strchr(p + 1, '\n');     /* skip the type/unit line */
    while (p && *++p && n < maxs) {
        const char *eol = strchr(p, '\n');
        if (!strncmp(p, "Locations", 9)) break;
        const char *colon = strchr(p, ':');
        if (colon && (!eol || colon < eol) && colon[1] == ' ' && p[0] == ' ') {
            char *q = (char *)p;
            int k = 0;
            while (k < 8) {
                char *e;
                long long v = strtoll(q, &e, 10);
                if (e == q || e > colon) break;
                vals[n][k++] = v;
                q = e;
            }
            if (k > 1 && *q == ':') { *nv = k; n++; }
        }
        p = eol;
    }
    return n;
}

static void test_pprof_raw(void)
{
    char *err = NULL;
    char *raw = slurp_cmd("go tool pprof -raw p.pb.gz", &err);
    CHECKF(!strstr(err, "not available") && !strstr(err, "ocal symbolization"),
           "pprof needed the binary: %s", err);
    long long v[16][8];
    int nv = 0, n = raw_samples(raw, v, 16, &nv);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(nv, 5);
    static const long long want[4][5] = {
        { 10, 1001, 4, 64, 400 }, { 3, 12288, 3, 0, 12288 }, { 5, 160, 0, 0, 0 },
        { 2, 100, 1, 0, 50 } };
    for (int w = 0; w < 4; w++) {
        int found = 0;
        for (int i = 0; i < n; i++) found |= !memcmp(v[i], want[w], sizeof want[w]);
        CHECKF(found, "sample %d (%lld %lld %lld %lld %lld) not in -raw", w, want[w][0],
               want[w][1], want[w][2], want[w][3], want[w][4]);
    }
    CHECK(strstr(raw, "inuse_space/bytes[dflt]") != NULL);
    CHECK(strstr(raw, "PeriodType: space bytes") != NULL);
    CHECK(strstr(raw, "map_kind:[ghash]") && strstr(raw, "map_kind:[mphash]"));
    CHECK(strstr(raw, "bytes:[96 bytes]") || strstr(raw, "bytes:[96]"));
    char want_loc[256];
    snprintf(want_loc, sizeof want_loc, "site_a tests/unit/export_pprof.c:%d", line_site_a);
    CHECKF(strstr(raw, want_loc), "missing '%s'", want_loc);
    snprintf(want_loc, sizeof want_loc, "site_b tests/unit/export_pprof.c:%d", line_site_b);
    CHECKF(strstr(raw, want_loc), "missing '%s'", want_loc);
    snprintf(want_loc, sizeof want_loc, "driver tests/unit/export_pprof.c:%d", line_driver);
    CHECKF(strstr(raw, want_loc), "missing '%s'", want_loc);
    /* the inline chain: inlined_site at its line, then host at the call's line, same Location */
    snprintf(want_loc, sizeof want_loc, "inlined_site tests/unit/export_pprof.c:%d", line_inl);
    const char *il = strstr(raw, want_loc);
    CHECKF(il, "missing '%s'", want_loc);
    snprintf(want_loc, sizeof want_loc, "host tests/unit/export_pprof.c:%d", line_host);
    const char *hl = il ? strstr(il, want_loc) : NULL;
    const char *next = il ? strchr(il, '\n') + 1 : NULL;
    CHECKF(hl && next && hl >= next && hl < strchr(next, '\n'),
           "host should follow inlined_site as the next Line of the same Location");
    /* the main binary's mapping is self-contained */
    const char *maps = strstr(raw, "Mappings");
    CHECK(maps && strstr(maps, "export_pprof") && strstr(maps, "[FN][FL][LN][IN]"));
    free(raw);
    free(err);
}

static void test_pprof_traces_inline(void)
{
    char *err = NULL;
    char *tr = slurp_cmd("go tool pprof -traces p.pb.gz", &err);
    CHECK(strstr(tr, "inlined_site (inline)") != NULL);
    const char *h = strstr(tr, "inlined_site (inline)");
    CHECK(h && strstr(h, "host") && strstr(h, "host") < strstr(h, "driver"));
    CHECK(!strstr(err, "not available"));
    free(tr);
    free(err);
    tr = slurp_cmd("go tool pprof -traces -sample_index=alloc_space p.pb.gz", &err);
    CHECK(strstr(tr, "inlined_site (inline)") != NULL);
    free(tr);
    free(err);
}

/* "Showing nodes accounting for X, P% of TOTAL total" -> X (plain units with -unit=B; with
 * -nodefraction=0 X is everything kept, e.g. after -tagfocus). */
static long long top_total(const char *args)
{
    char cmd[512], *err = NULL;
    snprintf(cmd, sizeof cmd, "go tool pprof -top -unit=B -nodefraction=0 %s", args);
    char *out = slurp_cmd(cmd, &err);
    long long t = -1;
    const char *p = strstr(out, "accounting for ");
    if (p) t = strtoll(p + 15, NULL, 10);
    if (t < 0) fprintf(stderr, "  no total in: %s\n%s\n", out, err);
    free(out);
    free(err);
    return t;
}

static void test_pprof_top_totals(void)
{
    CHECK_EQ_INT(top_total("-sample_index=inuse_space p.pb.gz"), 12738);
    CHECK_EQ_INT(top_total("p.pb.gz"), 12738);                  /* the default */
    CHECK_EQ_INT(top_total("-sample_index=alloc_space p.pb.gz"), 1001 + 12288 + 160 + 100);
    CHECK_EQ_INT(top_total("-sample_index=inuse_objects p.pb.gz"), 8);
    CHECK_EQ_INT(top_total("-sample_index=retained_space p.pb.gz"), 64);
    CHECK_EQ_INT(top_total("-tagfocus=map_kind=ghash p.pb.gz"), 400);
    CHECK_EQ_INT(top_total("-tagfocus=bytes=4kb: -sample_index=alloc_space p.pb.gz"), 12288);
}

/* google-pprof's "Total: N B" line. */
static double gp_total(const char *opts, const char *file)
{
    char cmd[1024], bin[600], *err = NULL;
    ssize_t n = readlink("/proc/self/exe", bin, sizeof bin - 1);
    bin[n > 0 ? n : 0] = 0;
    snprintf(cmd, sizeof cmd, "google-pprof --text %s %s %s", opts, bin, file);
    char *out = slurp_cmd(cmd, &err);
    const char *p = strstr(out, "Total: ");
    double t = p ? strtod(p + 7, NULL) : -1;
    if (t < 0) fprintf(stderr, "  no total in: %s\n%s\n", out, err);
    free(out);
    free(err);
    return t;
}

static void test_legacy_google_pprof(void)
{
    CHECK(gp_total("--show_bytes", "p.heap") == 12738);
    CHECK(gp_total("--inuse_objects", "p.heap") == 8);
    CHECK(gp_total("--show_bytes --alloc_space", "p.heap") == 1000 + 12288 + 160 + 100);
    CHECK(gp_total("--alloc_objects", "p.heap") == 20);
    /* go tool pprof reads the legacy text too */
    CHECK_EQ_INT(top_total("-sample_index=inuse_space p.heap"), 12738);
}

/* Sampled (heap_v2): the readers unsample the raw counts themselves. */
static void test_legacy_sampled(void)
{
    build_snapshot(4096, 0);
    char heap[512];
    snprintf(heap, sizeof heap, "%s/s.heap", tmpdir);
    CHECK_EQ_INT(mp_export_legacy(&snap, heap), 0);
    FILE *f = fopen(heap, "r");
    char line[256] = "";
    if (f) { if (!fgets(line, sizeof line, f)) line[0] = 0; fclose(f); }
    CHECKF(strstr(line, "@ heap_v2/4096"), "header: %s", line);
    const char *hdr = "heap profile: 8: 12738 [20: 13548] @ ";
    CHECKF(!strncmp(line, hdr, strlen(hdr)), "header: %s", line);
    double want = 0;
    for (int i = 0; i < NST; i++) {
        double c = (double)stacks[i].raw_inuse_objects, b = (double)stacks[i].raw_inuse_bytes;
        if (c > 0 && b > 0) want += b / (1 - __builtin_exp(-(b / c) / 4096));
    }
    double got = gp_total("--show_bytes", "s.heap");
    CHECKF(got > want - 3 && got < want + 3, "google-pprof total %.1f, want %.1f", got, want);
    long long gt = top_total("-sample_index=inuse_space s.heap");
    CHECKF(gt > want - 3 && gt < want + 3, "go pprof total %lld, want %.1f", gt, want);
}

static void test_symbolizer(void)
{
    mp_sym_t *sym = mp_sym_open(0, 0);
    CHECK(sym != NULL);
    if (!sym) return;
    mp_sym_frame_t fr[8];
    int n = mp_sym_lookup(sym, pcs[2][0] - 1, fr, 8);
    CHECK_EQ_INT(n, 2);
    CHECK(n >= 2 && !strcmp(fr[0].name, "inlined_site") && fr[0].inlined &&
          fr[0].line == line_inl && !strcmp(fr[1].name, "host") && !fr[1].inlined &&
          fr[1].line == line_host && fr[0].quality == MP_SYM_DWARF);
    CHECK(strstr(fr[0].file, "export_pprof.c") != NULL);
    /* max 1: the innermost frame only */
    CHECK_EQ_INT(mp_sym_lookup(sym, pcs[2][0] - 1, fr, 1), 1);
    /* cached answers are the same pointers */
    const char *nm = fr[0].name;
    mp_sym_lookup(sym, pcs[2][0] - 1, fr, 8);
    CHECK(fr[0].name == nm);
    /* nothing mapped there: a made-up name, no crash */
    n = mp_sym_lookup(sym, 0x10, fr, 8);
    CHECK(n == 1 && !strcmp(fr[0].name, "0x10") && fr[0].quality == MP_SYM_NONE);
    /* an ELF-only (no DWARF installed) C++ symbol: demangled, mangled kept as system_name */
    void *now = dlsym(RTLD_DEFAULT, "_ZNSt6chrono3_V212system_clock3nowEv");
    if (now) {
        n = mp_sym_lookup(sym, (uint64_t)(uintptr_t)now + 4, fr, 8);
        CHECKF(n >= 1 && !strcmp(fr[0].name, "std::chrono::_V2::system_clock::now()") &&
               !strcmp(fr[0].system_name, "_ZNSt6chrono3_V212system_clock3nowEv"),
               "got %s / %s", fr[0].name, fr[0].system_name);
    }
    /* mappings: the main binary first, with its build ID */
    const mp_sym_map_t *m0 = mp_sym_map(sym, 0);
    CHECK(m0 && m0->is_main && strstr(m0->path, "export_pprof") && strlen(m0->build_id) == 40);
    long mi = mp_sym_find_map(sym, pcs[0][0]);
    CHECK(mi >= 0 && mp_sym_map(sym, (size_t)mi)->is_main);
    mp_sym_close(sym);
}

/* 100k distinct stacks: 2500 leaf addresses in our text, callers drawn from 64 real return
 * addresses (each stack's digits in base 64 make it distinct). Times symbolizing + writing. */
static void test_many_stacks(void)
{
    enum { N = 100000, DEPTH = 8 };
    uintptr_t *all = malloc((size_t)N * DEPTH * sizeof *all);
    mp_snap_stack_t *st = calloc(N, sizeof *st);
    uintptr_t pool[64];
    uintptr_t base[6] = { pcs[0][0], pcs[0][1], pcs[0][2], pcs[1][0], pcs[2][0], pcs[3][2] };
    for (int i = 0; i < 64; i++) pool[i] = base[i % 6] + (uintptr_t)(i / 6);
    uintptr_t text = (uintptr_t)(void *)&test_symbolizer;
    for (int i = 0; i < N; i++) {
        uintptr_t *p = all + (size_t)i * DEPTH;
        p[0] = text + (uintptr_t)(i % 2500) + 1;
        unsigned x = (unsigned)i;
        for (int d = 1; d < DEPTH; d++, x /= 64) p[d] = pool[x % 64];
        st[i].pcs = p;
        st[i].depth = DEPTH;
        st[i].est_alloc_objects = st[i].raw_alloc_objects = 1;
        st[i].est_alloc_bytes = st[i].raw_alloc_bytes = 64 + i % 100;
        st[i].est_inuse_objects = st[i].raw_inuse_objects = i & 1;
        st[i].est_inuse_bytes = st[i].raw_inuse_bytes = (i & 1) * (64 + i % 100);
    }
    mp_snapshot_t s = snap;
    s.stacks = st;
    s.nstacks = N;
    s.has_retained = 0;
    char pb[512], heap[512];
    snprintf(pb, sizeof pb, "%s/big.pb.gz", tmpdir);
    snprintf(heap, sizeof heap, "%s/big.heap", tmpdir);
    struct timespec t0, t1, t2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_EQ_INT(mp_export_pprof(&s, pb), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK_EQ_INT(mp_export_legacy(&s, heap), 0);
    clock_gettime(CLOCK_MONOTONIC, &t2);
    double a = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    double b = (double)(t2.tv_sec - t1.tv_sec) + (double)(t2.tv_nsec - t1.tv_nsec) / 1e9;
    struct stat sb;
    stat(pb, &sb);
    printf("  100k stacks (depth %d): pprof %.3f s (%lld bytes gz), legacy %.3f s "
           "(sanitized build)\n", DEPTH, a, (long long)sb.st_size, b);
    long long want = 0;
    for (int i = 0; i < N; i++) want += st[i].raw_inuse_bytes;
    CHECK_EQ_INT(top_total("-sample_index=inuse_space big.pb.gz"), want);
    free(all);
    free(st);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/mapprof-export-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    mp_log_set_quiet(0);
    RUN(test_write);
    RUN(test_symbolizer);
    if (have_go()) {
        RUN(test_pprof_raw);
        RUN(test_pprof_traces_inline);
        RUN(test_pprof_top_totals);
    } else {
        printf("  go not installed: skipping the go tool pprof checks\n");
    }
    if (system("command -v google-pprof >/dev/null") == 0) RUN(test_legacy_google_pprof);
    if (have_go()) RUN(test_legacy_sampled);
    RUN(test_many_stacks);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", tmpdir);
    return check_done();
}
