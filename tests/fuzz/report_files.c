/* Fuzz target (libFuzzer): the readers of the files a profiled process leaves for the CLI
 * (`mapprof check` reads r.PID.leaks, `mapprof diff` reads PREFIX.PID.N.maps). The first byte
 * picks the reader (odd: leak report, even: map inventory), the rest is the file. What a
 * reader accepts goes through every report made of it; nothing may crash or leak. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export/diff.h"
#include "export/leakfile.h"
#include "export/mapsfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *null;
    static char path[64];
    if (size < 1) return 0;
    if (!null) null = fopen("/dev/null", "w");
    if (!path[0]) snprintf(path, sizeof path, "/tmp/mapprof-fuzz-in.%ld", (long)getpid());
    FILE *f = fopen(path, "w");
    if (!f || !null) {
        if (f) fclose(f);
        return 0;
    }
    fwrite(data + 1, 1, size - 1, f);
    fclose(f);
    char err[256];
    if (data[0] & 1) {
        mp_leakfile_t lf;
        memset(&lf, 0, sizeof lf);
        if (mp_leakfile_read(path, &lf, err, sizeof err) == 0) {
            mp_leakfile_text(&lf, null, ~0u);
            mp_leakfile_json(&lf, "/dev/null");
            mp_leakfile_junit(&lf, "/dev/null");
            mp_leakfile_sarif(&lf, "/dev/null");
        }
        mp_leakfile_free(&lf);
    } else {
        mp_mapsfile_t mf[2];
        memset(mf, 0, sizeof mf);
        if (mp_mapsfile_read(path, &mf[0], err, sizeof err) == 0) {
            mp_mapsfile_json(&mf[0], null);
            mp_mapsfile_table(&mf[0], null, 10);
            mp_mapsfile_findings_json(&mf[0], "/dev/null");
            mf[1] = mf[0];          /* the same inventory twice: a series of two */
            mp_mfinding_t *out = NULL;
            size_t n = 0;
            if (mp_map_findings(mf, 2, MP_MF_ALL_DANGLING | MP_MF_GONE_MAPS, &out, &n) == 0) free(out);
        }
        mp_mapsfile_free(&mf[0]);
    }
    remove(path);
    return 0;
}
