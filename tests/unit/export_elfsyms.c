/* Unit test: the ELF symbol index (export/elfsyms.c) against libdw's dwfl_module_addrinfo.
 *
 * Every object loaded in this process (this test, libc, the dynamic loader, libdw, libelf,
 * zlib, protobuf-c; with their separate debug symbols where installed) is asked about the
 * addresses of its executable sections twice: a spread of about 3000 addresses, and both sides
 * of the bounds of its code symbols (start - 1, start, end - 1, end), where a wrong tie or a
 * wrong sizeless rule shows. Both answers must be the same name, or both none. */
#define _GNU_SOURCE
#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "export/elfsyms.h"
#include "tests/check.h"

static char *debuginfo_path;
static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .debuginfo_path = &debuginfo_path,
};

/* This process's modules, as the symbolizer reports them. */
static Dwfl *open_self(void)
{
    Dwfl *dwfl = dwfl_begin(&callbacks);
    if (!dwfl) return NULL;
    dwfl_report_begin(dwfl);
    int r = dwfl_linux_proc_report(dwfl, getpid());
    dwfl_report_end(dwfl, NULL, NULL);
    if (r != 0) {
        dwfl_end(dwfl);
        return NULL;
    }
    return dwfl;
}

typedef struct tally {
    mp_elfsyms_t *x;
    long checked, named, differ;
    int modules;
} tally_t;

static void compare_at(tally_t *t, Dwfl_Module *mod, Dwarf_Addr pc)
{
    GElf_Off off;
    GElf_Sym sym;
    const char *want = dwfl_module_addrinfo(mod, pc, &off, &sym, NULL, NULL, NULL);
    bool ok;
    const char *got = mp_elfsyms_at(t->x, mod, pc, &ok);
    CHECK(ok);
    t->checked++;
    if (want && got) t->named++;
    if ((want == NULL) != (got == NULL) || (want && got && strcmp(want, got))) {
        if (t->differ++ < 8)
            fprintf(stderr, "  %s+%#lx: libdw %s, index %s\n",
                    dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
                    (unsigned long)pc, want ? want : "(none)", got ? got : "(none)");
    }
}

/* Does pc lie in an executable section of the module's main ELF? */
static bool in_code(Elf *elf, Dwarf_Addr bias, Dwarf_Addr pc)
{
    Elf_Scn *scn = NULL;
    GElf_Shdr sh;
    while ((scn = elf_nextscn(elf, scn)) != NULL) {
        if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_EXECINSTR)) continue;
        if (pc >= sh.sh_addr + bias && pc < sh.sh_addr + bias + sh.sh_size) return true;
    }
    return false;
}

static int each_module(Dwfl_Module *mod, void **user, const char *name, Dwarf_Addr start, void *arg)
{
    (void)user, (void)name, (void)start;
    tally_t *t = arg;
    Dwarf_Addr bias;
    Elf *elf = dwfl_module_getelf(mod, &bias);
    if (!elf) return DWARF_CB_OK;
    t->modules++;
    /* a spread over the executable sections */
    Elf_Scn *scn = NULL;
    GElf_Shdr sh;
    while ((scn = elf_nextscn(elf, scn)) != NULL) {
        if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_EXECINSTR) || !sh.sh_size) continue;
        Dwarf_Addr lo = sh.sh_addr + bias, step = sh.sh_size / 3000 | 1;
        for (Dwarf_Addr pc = lo; pc < lo + sh.sh_size; pc += step) compare_at(t, mod, pc);
    }
    /* the bounds of (up to 2000 of) its code symbols */
    int n = dwfl_module_getsymtab(mod), every = n / 2000 + 1;
    for (int i = 0; i < n; i += every) {
        GElf_Sym s;
        GElf_Addr a;
        const char *nm = dwfl_module_getsym_info(mod, i, &s, &a, NULL, NULL, NULL);
        if (!nm || !in_code(elf, bias, a)) continue;
        Dwarf_Addr probes[4] = { a - 1, a, a + s.st_size - 1, a + s.st_size };
        for (int k = 0; k < 4; k++)
            if (in_code(elf, bias, probes[k])) compare_at(t, mod, probes[k]);
    }
    return DWARF_CB_OK;
}

static void test_same_as_libdw(void)
{
    Dwfl *dwfl = open_self();
    CHECK(dwfl != NULL);
    if (!dwfl) return;
    tally_t t = { .x = mp_elfsyms_new() };
    CHECK(t.x != NULL);
    dwfl_getmodules(dwfl, each_module, &t, 0);
    printf("  %d modules, %ld addresses, %ld named by both, %ld differ\n", t.modules, t.checked,
           t.named, t.differ);
    CHECK(t.modules >= 5);         /* this test, libc, ld.so, libdw, libelf at least */
    CHECK(t.named > 10000);        /* not vacuous: most code has a name */
    CHECK_EQ_INT(t.differ, 0);
    mp_elfsyms_free(t.x);
    dwfl_end(dwfl);
}

/* A function of this test, named by its own address (ground truth without libdw). */
__attribute__((noinline)) int elfsyms_probe_target(int v)
{
    return v * 3 + 1;
}

static void test_known_function(void)
{
    Dwfl *dwfl = open_self();
    CHECK(dwfl != NULL);
    if (!dwfl) return;
    mp_elfsyms_t *x = mp_elfsyms_new();
    Dwarf_Addr pc = (Dwarf_Addr)(uintptr_t)&elfsyms_probe_target;
    Dwfl_Module *mod = dwfl_addrmodule(dwfl, pc);
    CHECK(mod != NULL);
    bool ok = false;
    const char *n = mod ? mp_elfsyms_at(x, mod, pc + 1, &ok) : NULL;
    CHECK(ok);
    CHECKF(n && !strcmp(n, "elfsyms_probe_target"), "got %s", n ? n : "(none)");
    mp_elfsyms_free(x);
    dwfl_end(dwfl);
}

int main(void)
{
    RUN(test_same_as_libdw);
    RUN(test_known_function);
    return check_done();
}
