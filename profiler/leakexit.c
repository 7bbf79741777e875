/* profiler/leakexit.c - the leak check at exit (leak_check=1): classify, group, and either
 * write the findings file for `mapprof check` (leak_report=PREFIX) or print a report on stderr.
 * Runs in the exit path under the reentrancy guard. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "export/leakfile.h"
#include "export/symbolize.h"
#include "profiler/leakreport.h"
#include "profiler/log.h"
#include "profiler/profiler.h"
#include "profiler/record.h"
#include "profiler/stdmap.h"

/* export's symbolizer, seen through the findings file's frame type. pc is a return address. */
static int symbolize(uintptr_t pc, mp_lframe_t *out, int max, void *ctx)
{
    mp_sym_t *sym = ctx;
    mp_sym_frame_t fr[16];
    int n = mp_sym_lookup(sym, (uint64_t)pc - 1, fr, max < 16 ? max : 16);
    long mi = mp_sym_find_map(sym, (uint64_t)pc - 1);
    const char *module = mi >= 0 ? mp_sym_map(sym, (size_t)mi)->path : "";
    for (int i = 0; i < n; i++)
        out[i] = (mp_lframe_t){ (char *)fr[i].name, (char *)fr[i].file, fr[i].line, (char *)module };
    return n;
}

void mp_leak_at_exit(void)
{
    const mp_options_t *o = mp_opts();
    /* C++ maps are known only once their stacks are classified and objects found */
    mp_sym_t *sym = mp_sym_open(0, o->libc_lines ? MP_SYM_LIBC_LINES : 0);
    mp_stdmap_refresh(sym);
    mp_leak_result_t r;
    int e = mp_leak_check(&r);
    if (e) {
        mp_warn("leak check failed: %s", strerror(e));
        if (sym) mp_sym_close(sym);
        return;
    }
    mp_leak_report_t rep;
    e = mp_leak_report_build(&r, &rep);
    mp_leak_result_free(&r);
    if (e) {
        mp_warn("leak check failed: %s", strerror(e));
        if (sym) mp_sym_close(sym);
        return;
    }
    char path[sizeof o->leak_report + 64];
    int pid = (int)getpid();
    if (o->leak_report[0]) {
        snprintf(path, sizeof path, "%s.%d.leaks", o->leak_report, pid);
    } else {
        /* standalone: findings go through a temporary file to the same text report the CLI prints */
        snprintf(path, sizeof path, "/tmp/mapprof-leaks.%d.%ld", pid, (long)mp_uptime_ns());
    }
    e = mp_leakfile_write(path, &rep, pid, sym ? symbolize : NULL, sym);
    if (sym) mp_sym_close(sym);
    mp_leak_report_free(&rep);
    if (e) {
        mp_warn("cannot write the leak report %s: %s", path, strerror(e));
        return;
    }
    if (!o->leak_report[0]) {
        mp_leakfile_t lf = { 0 };
        char err[256];
        if (mp_leakfile_read(path, &lf, err, sizeof err) == 0) {
            fprintf(stderr, "mapprof: leak check of pid %d\n", pid);
            mp_leakfile_text(&lf, stderr, 0x3);
        }
        mp_leakfile_free(&lf);
        unlink(path);
    }
}
