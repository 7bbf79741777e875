/* profiler/cli_diff.c - `mapprof diff BASE NEW [-o DELTA.pb.gz] [--format text|json]` and
 * `mapprof diff --series FILES... [--format text|json]`: the delta profile (NEW minus BASE) and
 * the map findings (retained buckets, growth over a series, dangling references) from the
 * .maps files beside the profiles. Works on files copied anywhere. Bad or mismatched input:
 * one line on stderr and exit status 2. */
#define _GNU_SOURCE
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export/diff.h"
#include "profiler/cli.h"

int cli_diff(int argc, char **argv)
{
    const char *out = NULL, *format = "text";
    bool series = false;
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    size_t nfiles = 0;
    if (!files) return cli_die("out of memory");
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--series")) { series = true; continue; }
        if (a[0] != '-') { files[nfiles++] = a; continue; }
        if (!v) { free(files); return cli_die("option %s needs a value", a); }
        if (!strcmp(a, "-o")) out = v;
        else if (!strcmp(a, "--format") && (!strcmp(v, "text") || !strcmp(v, "json"))) format = v;
        else { free(files); return cli_die("bad option '%s %s' for diff", a, v); }
        i++;
    }
    if (series ? nfiles < 2 : nfiles != 2) {
        free(files);
        return cli_die(series ? "diff --series needs at least two profiles" : "diff needs BASE and NEW profiles");
    }
    int rc = 0;
    char err[512];
    mp_profile_t **prof = calloc(nfiles, sizeof *prof);
    mp_mapsfile_t *maps = calloc(nfiles, sizeof *maps);
    size_t have_maps = 0;
    if (!prof || !maps) { rc = cli_die("out of memory"); goto done; }
    for (size_t i = 0; i < nfiles; i++) {
        if (mp_profile_read(files[i], &prof[i], err, sizeof err)) { rc = cli_die("%s", err); goto done; }
        if (i && mp_profile_comparable(prof[0], prof[i], err, sizeof err)) {
            rc = cli_die("%s and %s: %s", files[0], files[i], err);
            goto done;
        }
        char mp[PATH_MAX];
        if (!mp_mapsfile_path(files[i], mp, sizeof mp) && access(mp, F_OK) == 0) {
            if (mp_mapsfile_read(mp, &maps[i], err, sizeof err)) { rc = cli_die("%s", err); goto done; }
            have_maps++;
        }
    }
    if (nfiles == 1 || mp_profile_comparable(prof[0], prof[0], err, sizeof err)) {
        rc = cli_die("%s: %s", files[0], err);
        goto done;
    }
    if (out && mp_profile_delta(prof[nfiles - 2], prof[nfiles - 1], out, err, sizeof err)) {
        rc = cli_die("%s", err);
        goto done;
    }
    if (have_maps < nfiles) {
        fprintf(stderr, "mapprof: %zu of %zu profiles have no .maps file beside them: map findings skipped\n",
                nfiles - have_maps, nfiles);
        if (!strcmp(format, "json")) printf("{\"findings\":[]}\n");
    } else {
        mp_diff_findings(maps, nfiles, series, stdout, !strcmp(format, "json"));
    }
    if (out) fprintf(stderr, "mapprof: wrote %s\n", out);
done:
    for (size_t i = 0; i < nfiles; i++) {
        if (prof && prof[i]) mp_profile_free(prof[i]);
        if (maps) mp_mapsfile_free(&maps[i]);
    }
    free(prof);
    free(maps);
    free(files);
    return rc;
}
