/* Fuzz target (libFuzzer): the pprof reader behind `mapprof report` and `mapprof diff`, on
 * any bytes a user may hand it. A profile the reader accepts is also reported (every sample
 * type) and diffed against itself; nothing may crash, leak or read out of bounds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "export/diff.h"
#include "export/export.h"
#include "export/profile.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *null;
    static char delta[64];
    if (!null) null = fopen("/dev/null", "w");
    if (!delta[0]) snprintf(delta, sizeof delta, "/tmp/mapprof-fuzz-delta.%ld.pb.gz", (long)getpid());
    mp_profile_t *p = NULL;
    char err[256];
    if (mp_profile_parse(data, size, &p, err, sizeof err) != 0) return 0;
    const Perftools__Profiles__Profile *pb = mp_profile_pb(p);
    if (null) {
        mp_report_top(p, null, NULL, 0);
        for (size_t i = 0; i < pb->n_sample_type; i++)
            mp_report_top(p, null, pb->string_table[pb->sample_type[i]->type], 5);
    }
    if (mp_profile_comparable(p, p, err, sizeof err) == 0) {
        mp_profile_delta(p, p, delta, err, sizeof err);
        remove(delta);
    }
    mp_profile_free(p);
    return 0;
}
