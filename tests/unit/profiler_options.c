/* Unit tests: MAPPROF_OPTIONS parsing (defaults, suffixes, bad values keep defaults). */
#include <signal.h>

#include "profiler/options.h"
#include "tests/check.h"

static void test_defaults(void)
{
    mp_options_t o;
    mp_options_default(&o);
    CHECK_EQ_INT(o.rate, 524288);
    CHECK_EQ_INT(o.max_depth, 64);
    CHECK_EQ_INT(o.unwind, MP_UNWIND_LIBUNWIND);
    CHECK_EQ_INT(o.signal, SIGUSR2);
    CHECK_EQ_INT(o.formats, MP_FMT_PB);
    CHECK(strcmp(o.output, "mapprof") == 0);
    CHECK(o.maps);
    CHECK_EQ_INT(o.dangling, MP_DANGLING_SAMPLED);
    CHECK(!o.libc_lines);
}

static void test_values(void)
{
    mp_options_t o;
    mp_options_default(&o);
    int bad = mp_options_parse(&o, "rate=4k:output=/tmp/x/prof:unwind=fp:max_depth=32:"
                                   "signal=SIGUSR1:interval=5:inuse_step=1M:formats=pb,legacy:"
                                   "seed=42:quiet=1:maps=off:dangling=0");
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(o.rate, 4096);
    CHECK(strcmp(o.output, "/tmp/x/prof") == 0);
    CHECK_EQ_INT(o.unwind, MP_UNWIND_FP);
    CHECK_EQ_INT(o.max_depth, 32);
    CHECK_EQ_INT(o.signal, SIGUSR1);
    CHECK_EQ_INT(o.interval, 5);
    CHECK_EQ_INT(o.inuse_step, 1 << 20);
    CHECK_EQ_INT(o.formats, MP_FMT_PB | MP_FMT_LEGACY);
    CHECK_EQ_INT(o.seed, 42);
    CHECK(o.quiet);
    CHECK(!o.maps);
    CHECK_EQ_INT(o.dangling, MP_DANGLING_OFF);
    CHECK_EQ_INT(mp_options_parse(&o, "dangling=all:libc_lines=1"), 0);
    CHECK_EQ_INT(o.dangling, MP_DANGLING_ALL);
    CHECK(o.libc_lines);
    CHECK_EQ_INT(mp_options_parse(&o, "dangling=on"), 0);
    CHECK_EQ_INT(o.dangling, MP_DANGLING_SAMPLED);
    CHECK_EQ_INT(mp_options_parse(&o, "dangling=sampled"), 0);
    CHECK_EQ_INT(o.dangling, MP_DANGLING_SAMPLED);
    CHECK_EQ_INT(mp_options_parse(&o, "dangling=some"), 1);
    CHECK_EQ_INT(o.dangling, MP_DANGLING_SAMPLED);
}

static void test_bad_values_keep_defaults(void)
{
    mp_options_t o;
    mp_options_default(&o);
    int bad = mp_options_parse(&o, "rate=-5:bogus=1:unwind=magic:max_depth=100000:signal=SIGKILL:"
                                   "rate=12x:formats=xml:quiet=maybe:interval");
    CHECK_EQ_INT(bad, 9);
    mp_options_t d;
    mp_options_default(&d);
    CHECK_EQ_INT(o.rate, d.rate);
    CHECK_EQ_INT(o.unwind, d.unwind);
    CHECK_EQ_INT(o.max_depth, d.max_depth);
    CHECK_EQ_INT(o.signal, d.signal);
    CHECK_EQ_INT(o.formats, d.formats);
    CHECK_EQ_INT(o.quiet, d.quiet);
    CHECK_EQ_INT(o.interval, d.interval);
}

static void test_empty_and_edge(void)
{
    mp_options_t o;
    mp_options_default(&o);
    CHECK_EQ_INT(mp_options_parse(&o, NULL), 0);
    CHECK_EQ_INT(mp_options_parse(&o, ""), 0);
    CHECK_EQ_INT(mp_options_parse(&o, ":::rate=1::"), 0);
    CHECK_EQ_INT(o.rate, 1);
    CHECK_EQ_INT(mp_options_parse(&o, "signal=none"), 0);
    CHECK_EQ_INT(o.signal, 0);
    CHECK_EQ_INT(mp_options_parse(&o, "rate=99999999999999999999999"), 1);
    CHECK_EQ_INT(o.rate, 1);
}

/* Relative file prefixes are anchored at the directory they were given in. */
static void test_anchor(void)
{
    char out[16];
    CHECK(mp_path_anchor("/a/b", "p", out, sizeof out));
    CHECK(strcmp(out, "/a/b/p") == 0);
    CHECK(mp_path_anchor("/", "d/p", out, sizeof out));
    CHECK(strcmp(out, "/d/p") == 0);
    CHECK(mp_path_anchor("/a/b", "/abs", out, sizeof out));
    CHECK(strcmp(out, "/abs") == 0);
    /* 15 characters fit 16 bytes, 16 do not; out is left as it was */
    CHECK(mp_path_anchor("/abcdefghij", "klm", out, sizeof out));
    CHECK(strcmp(out, "/abcdefghij/klm") == 0);
    CHECK(!mp_path_anchor("/abcdefghij", "klmn", out, sizeof out));
    CHECK(strcmp(out, "/abcdefghij/klm") == 0);
    /* in place, as mp_options_anchor does it */
    strcpy(out, "x/y");
    CHECK(mp_path_anchor("/cwd", out, out, sizeof out));
    CHECK(strcmp(out, "/cwd/x/y") == 0);

    mp_options_t o;
    mp_options_default(&o);
    CHECK(mp_options_anchor(&o, "/srv/app"));
    CHECK(strcmp(o.output, "/srv/app/mapprof") == 0);
    CHECK(o.leak_report[0] == 0);           /* none stays none */
    CHECK_EQ_INT(mp_options_parse(&o, "output=/tmp/p:leak_report=lr"), 0);
    CHECK(mp_options_anchor(&o, "/srv"));
    CHECK(strcmp(o.output, "/tmp/p") == 0);
    CHECK(strcmp(o.leak_report, "/srv/lr") == 0);
    char cwd[600];
    memset(cwd, 'd', sizeof cwd - 1);
    cwd[0] = '/';
    cwd[sizeof cwd - 1] = 0;
    CHECK_EQ_INT(mp_options_parse(&o, "output=rel"), 0);
    CHECK(!mp_options_anchor(&o, cwd));     /* would not fit: unchanged */
    CHECK(strcmp(o.output, "rel") == 0);
    CHECK(strcmp(o.leak_report, "/srv/lr") == 0);
}

int main(void)
{
    RUN(test_anchor);
    RUN(test_defaults);
    RUN(test_values);
    RUN(test_bad_values_keep_defaults);
    RUN(test_empty_and_edge);
    return check_done();
}
