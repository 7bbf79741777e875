/* Unit test: the per-CU scope index (export/scopes.c) against libdw's own walk.
 *
 * The symbolizer answers every address of a program's code twice, once with the index and once
 * with dwarf_getscopes (MP_SYM_SCAN_SCOPES), and every frame of every answer must be the same:
 * function, linkage name, file, line, declaration line, quality, inlined. The programs: this
 * test itself (C, -O2: the export code's static inline functions) and a C++ program of the
 * corpus (templates of std::unordered_map and std::string inlined into each other), stopped
 * by ptrace at its exec while it is symbolized. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "export/symbolize.h"
#include "tests/check.h"

#define CXX_PROG "build/tests/preload/stdmap"

static int same_frame(const mp_sym_frame_t *a, const mp_sym_frame_t *b)
{
    return !strcmp(a->name, b->name) && !strcmp(a->system_name, b->system_name) &&
           !strcmp(a->file, b->file) && a->line == b->line && a->start_line == b->start_line &&
           a->quality == b->quality && a->inlined == b->inlined;
}

/* Compares about `want` addresses spread over the main executable's code of pid. Returns the
 * number of addresses whose chain had an inlined frame; counts mismatches into *bad. */
static int compare(int pid, int want, int *checked, int *bad)
{
    mp_sym_t *fast = mp_sym_open(pid, 0), *slow = mp_sym_open(pid, MP_SYM_SCAN_SCOPES);
    CHECK(fast && slow);
    int inl = 0;
    *checked = *bad = 0;
    for (size_t i = 0; fast && slow && i < mp_sym_nmaps(fast); i++) {
        const mp_sym_map_t *m = mp_sym_map(fast, i);
        if (!m->is_main) continue;
        uint64_t step = (m->limit - m->start) / (uint64_t)want | 1;
        for (uint64_t pc = m->start; pc < m->limit; pc += step) {
            mp_sym_frame_t a[64], b[64];
            int na = mp_sym_lookup(fast, pc, a, 64), nb = mp_sym_lookup(slow, pc, b, 64);
            int same = na == nb;
            for (int k = 0; same && k < na; k++) same = same_frame(&a[k], &b[k]);
            if (!same && (*bad)++ < 5)
                fprintf(stderr, "  pc %#lx: %d frames (%s:%d) against %d (%s:%d)\n",
                        (unsigned long)pc, na, a[0].name, a[0].line, nb, b[0].name, b[0].line);
            if (na > 1 && a[0].inlined) inl++;
            (*checked)++;
        }
    }
    size_t fi = 0, fw = 0, si = 0, sw = 0;
    if (fast && slow) {
        mp_sym_counts(fast, &fi, &fw);
        mp_sym_counts(slow, &si, &sw);
    }
    /* the index found every chain the walk did (so the comparison compared the index) */
    CHECKF(si == 0 && sw > 0 && fi == sw && fw == 0,
           "index %zu + walk %zu against walk only %zu (and %zu)", fi, fw, sw, si);
    mp_sym_close(fast);
    mp_sym_close(slow);
    return inl;
}

static void test_self(void)
{
    int checked, bad;
    int inl = compare(0, 6000, &checked, &bad);
    CHECKF(bad == 0, "%d of %d addresses differ", bad, checked);
    CHECKF(checked >= 3000 && inl >= 200, "%d addresses, %d with inlined frames", checked, inl);
}

static void test_cxx(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        ptrace(PTRACE_TRACEME, 0, NULL, NULL);
        execl(CXX_PROG, CXX_PROG, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
    CHECKF(WIFSTOPPED(st), CXX_PROG " did not stop at its exec (status %#x)", st);
    if (WIFSTOPPED(st)) {
        int checked, bad;
        int inl = compare(pid, 3000, &checked, &bad);
        CHECKF(bad == 0, "%d of %d addresses differ", bad, checked);
        CHECKF(checked >= 2000 && inl >= 200, "%d addresses, %d with inlined frames", checked, inl);
    }
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
}

int main(void)
{
    RUN(test_self);
    RUN(test_cxx);
    return check_done();
}
