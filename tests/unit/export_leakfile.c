/* Unit test: the leak report reader (export/leakfile.c). Files written here by hand, in the
 * format mp_leakfile_write writes: a good one is read whole; one that breaks after a finding
 * (bad line, or no "end") fails and leaves what was read before exactly as it was, so `mapprof
 * check` reports no half of a file; reading goes on appending after a failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export/leakfile.h"
#include "tests/check.h"

static char path[64];

static void write_file(const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

#define HEAD "mapprof-leaks 2\npid\t7\nsummary\t100\t2\t0\t0\t0\t0\t50\t1\n"
#define FINDING "finding\tdefinite\t100\t2\t1\tghash\t3\t5\t60\t1\t40\t1\n" \
                "frame\tlose\tleaky.c\t21\t/bin/leaky\n" \
                "frame\tmain\tleaky.c\t57\t/bin/leaky\n"

static void test_good_then_broken(void)
{
    mp_leakfile_t lf;
    memset(&lf, 0, sizeof lf);
    char err[256];
    write_file(HEAD FINDING "end\n");
    CHECK_EQ_INT(mp_leakfile_read(path, &lf, err, sizeof err), 0);
    CHECK_EQ_INT(lf.n, 1);
    CHECK_EQ_INT(lf.f[0].nframes, 2);
    CHECK(lf.f[0].nframes == 2 && !strcmp(lf.f[0].frames[1].function, "main"));
    CHECK_EQ_INT(lf.processes, 1);
    CHECK_EQ_INT(lf.sum_bytes[0], 100);
    /* a whole map's finding: its definite and indirect parts */
    CHECK(lf.f[0].whole_map && !strcmp(lf.f[0].map_kind, "ghash") && lf.f[0].map_entries == 5);
    CHECK(lf.f[0].part_bytes[0] == 60 && lf.f[0].part_blocks[0] == 1);
    CHECK(lf.f[0].part_bytes[1] == 40 && lf.f[0].part_blocks[1] == 1);

    /* a finding, its frames, then a line the reader does not know */
    write_file(HEAD FINDING "bogus\tline\n");
    CHECK(mp_leakfile_read(path, &lf, err, sizeof err) != 0);
    CHECK(strstr(err, "malformed leak report at line 7") != NULL);
    CHECK_EQ_INT(lf.n, 1);
    CHECK_EQ_INT(lf.processes, 1);
    CHECK_EQ_INT(lf.sum_bytes[0], 100);
    CHECK_EQ_INT(lf.sum_blocks[3], 1);

    /* cut short: no end line */
    write_file(HEAD FINDING);
    CHECK(mp_leakfile_read(path, &lf, err, sizeof err) != 0);
    CHECK_EQ_INT(lf.n, 1);
    CHECK_EQ_INT(lf.processes, 1);

    /* and the next good file is appended */
    write_file(HEAD FINDING FINDING "end\n");
    CHECK_EQ_INT(mp_leakfile_read(path, &lf, err, sizeof err), 0);
    CHECK_EQ_INT(lf.n, 3);
    CHECK_EQ_INT(lf.processes, 2);
    CHECK_EQ_INT(lf.sum_bytes[0], 200);
    mp_leakfile_free(&lf);
}

int main(void)
{
    snprintf(path, sizeof path, "/tmp/mapprof-leakfile-test.%ld", (long)getpid());
    RUN(test_good_then_broken);
    remove(path);
    return check_done();
}
