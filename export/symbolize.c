/* export/symbolize.c - the libdw symbolizer of symbolize.h.
 *
 * dwfl reports the process's modules from /proc/<pid>/maps (dwfl_linux_proc_report) and finds
 * their ELF files and separate debug info. For an address: the CU DIE (dwfl_module_addrdie),
 * its scopes (dwarf_getscopes + dwarf_getscopes_die, innermost first) give the inline chain - each
 * DW_TAG_inlined_subroutine's DW_AT_call_file/call_line is the line in the function it was
 * inlined into; the innermost line comes from the line table. No CU: the ELF symbol tables
 * (export/elfsyms.h, libdw's dwfl_module_addrinfo in answer, not in cost). No symbol:
 * "module+0xoffset" with the file offset.
 * Results are cached per address (u64 table -> a run of frames); strings are interned, so
 * frames hold stable pointers into the interner until mp_sym_close. */
#define _GNU_SOURCE
#include "export/symbolize.h"

#include <dlfcn.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "export/internal.h"
#include "export/elfsyms.h"
#include "export/scopes.h"

#define MAX_INLINE 64

typedef char *(*demangle_fn)(const char *mangled, char *buf, size_t *len, int *status);

/* A cached frame: string indices into the interner (pointers are resolved on the way out,
 * because the interner's array may move while it grows). */
typedef struct sym_cframe {
    uint32_t name, system_name, file;
    int line, start_line;
    uint8_t quality;
    bool inlined;
} sym_cframe_t;

struct mp_sym {
    int pid;
    unsigned flags;             /* MP_SYM_* of mp_sym_open */
    Dwfl *dwfl;                 /* NULL when libdw could not report the process */
    Dwfl_Callbacks cb;
    char *debuginfo_path;       /* for cb (dwfl keeps a pointer to it) */
    mp_sym_map_t *maps;         /* executable mappings, main first (the public order) */
    size_t nmaps;
    uint32_t *by_addr;          /* indices into maps, sorted by start */
    mp_strtab_t strs;           /* every string handed out */
    mp_u64tab_t cache;          /* pc -> index + 1 into runs */
    struct { uint32_t off, n; } *runs;
    size_t nruns, runs_cap;
    sym_cframe_t *frames;       /* all runs' frames, back to back */
    size_t nframes, frames_cap;
    demangle_fn demangle;       /* __cxa_demangle when the process has libstdc++ */
    mp_scopes_t *scopes;        /* per-CU function ranges (NULL: libdw's walk per address) */
    mp_elfsyms_t *elfsyms;      /* per-module ELF symbols (NULL: libdw's scan per address) */
    size_t indexed, walked;     /* inline chains found by scopes, by libdw's walk */
};

/* Interned copy of s (never NULL: "" on ENOMEM). */
static const char *sym_str(mp_sym_t *s, const char *str)
{
    int64_t i = mp_strtab_intern(&s->strs, str);
    return i < 0 ? "" : s->strs.strs[i];
}

static uint32_t sym_stri(mp_sym_t *s, const char *str)
{
    int64_t i = mp_strtab_intern(&s->strs, str);
    return i < 0 ? 0 : (uint32_t)i;     /* index 0 is "" (interned first in mp_sym_open) */
}

/* ---- /proc/<pid>/maps ---- */

static int read_maps(mp_sym_t *s)
{
    char fn[64], exe[4096];
    snprintf(fn, sizeof fn, "/proc/%d/maps", s->pid);
    FILE *f = fopen(fn, "re");
    if (!f) return errno;
    snprintf(fn, sizeof fn, "/proc/%d/exe", s->pid);
    ssize_t el = readlink(fn, exe, sizeof exe - 1);
    exe[el > 0 ? el : 0] = 0;
    size_t dl = strlen(" (deleted)");
    if ((size_t)el > dl && !strcmp(exe + el - dl, " (deleted)")) exe[el - dl] = 0;

    size_t cap = 0;
    mp_sym_map_t *tmp = NULL;
    size_t n = 0;
    char *line = NULL;
    size_t lcap = 0;
    int e = 0;
    while (getline(&line, &lcap, f) > 0) {
        unsigned long long lo, hi, off;
        char perms[8];
        int pos = 0;
        if (sscanf(line, "%llx-%llx %7s %llx %*s %*s%n", &lo, &hi, perms, &off, &pos) < 4 ||
            !pos)
            continue;
        if (strlen(perms) < 3 || perms[2] != 'x') continue;
        char *path = line + pos;
        while (*path == ' ' || *path == '\t') path++;
        size_t pl = strlen(path);
        while (pl && (path[pl - 1] == '\n' || path[pl - 1] == ' ')) path[--pl] = 0;
        if (pl > dl && !strcmp(path + pl - dl, " (deleted)")) path[pl - dl] = 0;
        if (mp_grow(&tmp, &cap, n + 1, sizeof *tmp)) { e = ENOMEM; break; }
        tmp[n] = (mp_sym_map_t){ .start = lo, .limit = hi, .offset = off,
                                 .path = sym_str(s, path), .build_id = "",
                                 .is_main = *exe && !strcmp(path, exe) };
        n++;
    }
    free(line);
    fclose(f);
    if (e) { free(tmp); return e; }
    /* The public order: main executable first (in address order), then the rest. */
    s->maps = malloc((n ? n : 1) * sizeof *s->maps);
    s->by_addr = malloc((n ? n : 1) * sizeof *s->by_addr);
    if (!s->maps || !s->by_addr) { free(tmp); return ENOMEM; }
    size_t k = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++)
            if (tmp[i].is_main == !pass) s->maps[k++] = tmp[i];
    s->nmaps = n;
    free(tmp);
    for (size_t i = 0; i < n; i++) s->by_addr[i] = (uint32_t)i;
    /* insertion sort by start: a few hundred entries at most */
    for (size_t i = 1; i < n; i++) {
        uint32_t v = s->by_addr[i];
        size_t j = i;
        while (j && s->maps[s->by_addr[j - 1]].start > s->maps[v].start) {
            s->by_addr[j] = s->by_addr[j - 1];
            j--;
        }
        s->by_addr[j] = v;
    }
    return 0;
}

long mp_sym_find_map(const mp_sym_t *s, uint64_t addr)
{
    size_t lo = 0, hi = s->nmaps;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const mp_sym_map_t *m = &s->maps[s->by_addr[mid]];
        if (addr < m->start) hi = mid;
        else if (addr >= m->limit) lo = mid + 1;
        else return s->by_addr[mid];
    }
    return -1;
}

size_t mp_sym_nmaps(const mp_sym_t *s) { return s->nmaps; }

const mp_sym_map_t *mp_sym_map(const mp_sym_t *s, size_t i)
{
    return i < s->nmaps ? &s->maps[i] : NULL;
}

static void fill_build_ids(mp_sym_t *s)
{
    if (!s->dwfl) return;
    for (size_t i = 0; i < s->nmaps; i++) {
        Dwfl_Module *mod = dwfl_addrmodule(s->dwfl, s->maps[i].start);
        const unsigned char *bits;
        GElf_Addr vaddr;
        Dwarf_Addr bias;
        if (mod) dwfl_module_getelf(mod, &bias);       /* the build ID is read with the ELF */
        int len = mod ? dwfl_module_build_id(mod, &bits, &vaddr) : -1;
        if (len <= 0 || len > 256) continue;
        char hex[513];
        for (int j = 0; j < len; j++) snprintf(hex + 2 * j, 3, "%02x", bits[j]);
        s->maps[i].build_id = sym_str(s, hex);
    }
}

/* ---- separate debug info, found on this machine only ----
 * dwfl_standard_find_debuginfo ends, when the local search fails, in debuginfod: libdw then
 * dlopens libdebuginfod, which loads libcurl, TLS libraries and their constructors into the
 * host program (tens of milliseconds and ~16 MB at every dump), and with DEBUGINFOD_URLS set
 * it would fetch files over the network while the host program exits. A profiler must not:
 * the build-ID directory, then the .gnu_debuglink name beside the file, in its .debug/ and
 * under /usr/lib/debug (the places libdw's own default path searches), checked by CRC. */

static bool crc_matches(int fd, uint32_t want)
{
    unsigned char buf[16384];
    uLong crc = crc32(0L, Z_NULL, 0);
    ssize_t n;
    off_t off = 0;
    while ((n = pread(fd, buf, sizeof buf, off)) > 0) {
        crc = crc32(crc, buf, (uInt)n);
        off += n;
    }
    return n == 0 && (uint32_t)crc == want;
}

static int find_debuginfo_local(Dwfl_Module *mod, void **userdata, const char *modname,
                                Dwarf_Addr base, const char *file_name, const char *debuglink,
                                GElf_Word crc, char **debuginfo_file_name)
{
    int fd = dwfl_build_id_find_debuginfo(mod, userdata, modname, base, file_name, debuglink,
                                          crc, debuginfo_file_name);
    if (fd >= 0 || !file_name || !debuglink || !*debuglink || !crc || strchr(debuglink, '/'))
        return fd;
    /* DIR/NAME, DIR/.debug/NAME, /usr/lib/debug/DIR/NAME, for the file's directory and, when
     * the file is reached through a symbolic link, its real one */
    static const char *const around[][2] = { { "", "" }, { "", "/.debug" }, { "/usr/lib/debug", "" } };
    char *names[2] = { strdup(file_name), realpath(file_name, NULL) };
    for (int i = 0; i < 2 && fd < 0; i++) {
        char *slash = names[i] ? strrchr(names[i], '/') : NULL;
        if (!slash || (i && names[0] && !strcmp(names[0], names[1]))) continue;
        *slash = 0;     /* the directory ("" for a file at the root) */
        for (size_t k = 0; k < sizeof around / sizeof around[0] && fd < 0; k++) {
            char path[PATH_MAX];
            int len = snprintf(path, sizeof path, "%s%s%s/%s", around[k][0], names[i], around[k][1], debuglink);
            if (len < 0 || (size_t)len >= sizeof path || !strcmp(path, file_name)) continue;
            if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) continue;
            if (!crc_matches(fd, crc) || !(*debuginfo_file_name = strdup(path))) {
                close(fd);
                fd = -1;
            }
        }
    }
    free(names[0]);
    free(names[1]);
    return fd;
}

/* ---- open / close ---- */

mp_sym_t *mp_sym_open(int pid, unsigned flags)
{
    mp_sym_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->pid = pid > 0 ? pid : (int)getpid();
    s->flags = flags;
    /* without it (out of memory, or asked), libdw walks the CU for every address */
    if (!(flags & MP_SYM_SCAN_SCOPES)) s->scopes = mp_scopes_new();
    s->elfsyms = mp_elfsyms_new();
    if (mp_strtab_intern(&s->strs, "") != 0 || read_maps(s)) {
        mp_sym_close(s);
        return NULL;
    }
    s->cb.find_elf = dwfl_linux_proc_find_elf;
    s->cb.find_debuginfo = find_debuginfo_local;
    s->cb.debuginfo_path = &s->debuginfo_path;
    s->dwfl = dwfl_begin(&s->cb);
    if (s->dwfl) {
        dwfl_report_begin(s->dwfl);
        int r = dwfl_linux_proc_report(s->dwfl, s->pid);
        if (dwfl_report_end(s->dwfl, NULL, NULL) != 0 || r != 0) {
            /* Modules reported before a failure still work; a total failure leaves the
             * fallbacks (ELF-less "module+0xoffset"). */
            if (r < 0 || !dwfl_addrmodule(s->dwfl, s->nmaps ? s->maps[0].start : 0)) {
                dwfl_end(s->dwfl);
                s->dwfl = NULL;
            }
        }
    }
    fill_build_ids(s);
    s->demangle = (demangle_fn)dlsym(RTLD_DEFAULT, "__cxa_demangle");
    return s;
}

void mp_sym_close(mp_sym_t *s)
{
    if (!s) return;
    if (s->dwfl) dwfl_end(s->dwfl);
    free(s->maps);
    free(s->by_addr);
    mp_strtab_free(&s->strs);
    mp_u64tab_free(&s->cache);
    mp_scopes_free(s->scopes);
    mp_elfsyms_free(s->elfsyms);
    free(s->runs);
    free(s->frames);
    free(s);
}

/* ---- lookup ---- */

static uint32_t demangled(mp_sym_t *s, const char *mangled)
{
    if (s->demangle && mangled[0] == '_' && mangled[1] == 'Z') {
        int status = -1;
        char *d = s->demangle(mangled, NULL, NULL, &status);
        if (d && status == 0) {
            uint32_t r = sym_stri(s, d);
            free(d);
            return r;
        }
        free(d);
    }
    return sym_stri(s, mangled);
}

static const char *die_string(Dwarf_Die *die, int at)
{
    Dwarf_Attribute a;
    return dwarf_formstring(dwarf_attr_integrate(die, at, &a));
}

/* Append a frame to the run being built. */
static int push_frame(mp_sym_t *s, const char *sysname, const char *name, const char *file,
                      int line, int start_line, int quality)
{
    if (mp_grow(&s->frames, &s->frames_cap, s->nframes + 1, sizeof *s->frames)) return ENOMEM;
    sym_cframe_t *f = &s->frames[s->nframes++];
    f->system_name = sym_stri(s, sysname);
    f->name = name ? sym_stri(s, name) : demangled(s, sysname);
    f->file = sym_stri(s, file ? file : "");
    f->line = line;
    f->start_line = start_line;
    f->quality = (uint8_t)quality;
    f->inlined = false;
    return 0;
}

static int function_die_name(mp_sym_t *s, Dwarf_Die *die, const char **sys, const char **name)
{
    (void)s;
    const char *link = die_string(die, DW_AT_linkage_name);
    if (!link) link = die_string(die, DW_AT_MIPS_linkage_name);
    const char *plain = die_string(die, DW_AT_name);
    if (!link && !plain) return -1;
    *sys = link ? link : plain;
    *name = link ? NULL : plain;        /* NULL: demangle the linkage name */
    return 0;
}

/* DWARF: the inline chain at pc. Returns frames pushed (0 when no DWARF function). */
static int lookup_dwarf(mp_sym_t *s, Dwfl_Module *mod, uint64_t pc)
{
    Dwarf_Addr bias = 0;
    Dwarf_Die *cu = dwfl_module_addrdie(mod, pc, &bias);
    if (!cu) return 0;
    /* The chain from the CU's index; failing that from libdw, where dwarf_getscopes continues
     * above an inlined instance with its abstract definition's parents, so the physical
     * nesting (inlined instance -> the function it sits in) comes from dwarf_getscopes_die on
     * the innermost scope. */
    Dwarf_Die indexed[MAX_INLINE + 1], *lexical = NULL, *scopes = NULL;
    int nscopes = s->scopes ? mp_scopes_at(s->scopes, mod, cu, pc - bias, indexed,
                                           MAX_INLINE + 1) : 0;
    if (nscopes > 0) s->indexed++;
    if (nscopes <= 0) {
        nscopes = dwarf_getscopes(cu, pc - bias, &lexical);
        if (nscopes > 0) nscopes = dwarf_getscopes_die(&lexical[0], &scopes);
        free(lexical);
        if (nscopes <= 0) { free(scopes); return 0; }
        s->walked++;
    }
    Dwarf_Die *chain = scopes ? scopes : indexed;

    const char *file = NULL;
    int line = 0;
    Dwfl_Line *dl = dwfl_module_getsrc(mod, pc);
    if (dl) file = dwfl_lineinfo(dl, NULL, &line, NULL, NULL, NULL);
    Dwarf_Files *files = NULL;
    size_t nfiles = 0;
    if (dwarf_getsrcfiles(cu, &files, &nfiles) != 0) files = NULL;

    size_t first = s->nframes;
    int pushed = 0;
    for (int i = 0; i < nscopes && pushed < MAX_INLINE; i++) {
        int tag = dwarf_tag(&chain[i]);
        if (tag != DW_TAG_subprogram && tag != DW_TAG_inlined_subroutine) continue;
        const char *sys, *name;
        int decl = 0;
        dwarf_decl_line(&chain[i], &decl);
        if (function_die_name(s, &chain[i], &sys, &name) == 0) {
            if (push_frame(s, sys, name, file, line, decl, MP_SYM_DWARF)) break;
            pushed++;
        }
        if (tag == DW_TAG_subprogram) break;
        /* The next (outer) frame's position is where this one was inlined. */
        Dwarf_Attribute a;
        Dwarf_Word w;
        file = NULL;
        line = 0;
        if (files && dwarf_formudata(dwarf_attr(&chain[i], DW_AT_call_file, &a), &w) == 0)
            file = dwarf_filesrc(files, w, NULL, NULL);
        if (dwarf_formudata(dwarf_attr(&chain[i], DW_AT_call_line, &a), &w) == 0)
            line = (int)w;
    }
    free(scopes);
    for (size_t j = first; j + 1 < s->nframes; j++) s->frames[j].inlined = true;
    return pushed;
}

static const char *base_name(const char *p)
{
    const char *b = strrchr(p, '/');
    return b ? b + 1 : p;
}

/* The C library or the dynamic loader (see MP_SYM_LIBC_LINES). */
static bool c_runtime(Dwfl_Module *mod)
{
    const char *name = dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    if (!name) return false;
    const char *b = base_name(name);
    return !strncmp(b, "libc.so", 7) || !strncmp(b, "ld-linux", 8);
}

/* Resolve pc into a new run at the end of s->frames. */
static void resolve(mp_sym_t *s, uint64_t pc)
{
    Dwfl_Module *mod = s->dwfl ? dwfl_addrmodule(s->dwfl, pc) : NULL;
    /* Any DWARF query (the line table too) makes libdw inflate all the module's DWARF. */
    bool dwarf = mod && ((s->flags & MP_SYM_LIBC_LINES) || !c_runtime(mod));
    if (dwarf && lookup_dwarf(s, mod, pc) > 0) return;
    if (mod) {
        bool indexed = false;
        const char *n = s->elfsyms ? mp_elfsyms_at(s->elfsyms, mod, pc, &indexed) : NULL;
        if (!indexed) {
            GElf_Off off;
            GElf_Sym esym;
            n = dwfl_module_addrinfo(mod, pc, &off, &esym, NULL, NULL, NULL);
        }
        if (n && *n) {
            const char *file = NULL;
            int line = 0;
            Dwfl_Line *dl = dwarf ? dwfl_module_getsrc(mod, pc) : NULL;
            if (dl) file = dwfl_lineinfo(dl, NULL, &line, NULL, NULL, NULL);
            /* .symtab names may carry their symbol version ("__libc_start_main@@GLIBC_2.34"):
             * the function is the part before it, as DWARF would name it */
            char plain[512];
            const char *at = strchr(n, '@');
            if (at && at > n && (size_t)(at - n) < sizeof plain) {
                memcpy(plain, n, (size_t)(at - n));
                plain[at - n] = 0;
                n = plain;
            }
            push_frame(s, n, NULL, file, line, 0, MP_SYM_ELF);
            return;
        }
    }
    char buf[4200];
    long mi = mp_sym_find_map(s, pc);
    if (mi >= 0) {
        const mp_sym_map_t *m = &s->maps[mi];
        snprintf(buf, sizeof buf, "%s+0x%" PRIx64, *m->path ? base_name(m->path) : "[anon]",
                 pc - m->start + m->offset);
    } else if (mod) {
        const char *mn = dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
        Dwarf_Addr lo = 0;
        dwfl_module_info(mod, NULL, &lo, NULL, NULL, NULL, NULL, NULL);
        snprintf(buf, sizeof buf, "%s+0x%" PRIx64, mn ? base_name(mn) : "[unknown]", pc - lo);
    } else {
        snprintf(buf, sizeof buf, "0x%" PRIx64, pc);
    }
    push_frame(s, buf, buf, NULL, 0, 0, MP_SYM_NONE);
}

void mp_sym_counts(const mp_sym_t *s, size_t *indexed, size_t *walked)
{
    *indexed = s->indexed;
    *walked = s->walked;
}

int mp_sym_lookup(mp_sym_t *s, uint64_t pc, mp_sym_frame_t *out, int max)
{
    if (max <= 0) return 0;
    uint32_t r = mp_u64tab_get(&s->cache, pc);
    if (!r) {
        size_t first = s->nframes;
        resolve(s, pc);
        if (s->nframes == first) {                  /* out of memory */
            out[0] = (mp_sym_frame_t){ .name = "[unknown]", .system_name = "[unknown]",
                                       .file = "" };
            return 1;
        }
        if (mp_grow(&s->runs, &s->runs_cap, s->nruns + 1, sizeof *s->runs) == 0) {
            s->runs[s->nruns].off = (uint32_t)first;
            s->runs[s->nruns].n = (uint32_t)(s->nframes - first);
            if (mp_u64tab_put(&s->cache, pc, (uint32_t)s->nruns + 1) == 0) s->nruns++;
        }
        r = (uint32_t)s->nruns;
        if (!r || s->runs[r - 1].off != first) {
            /* could not cache: answer from the frames just made, then forget them */
            int n = 0;
            for (size_t j = first; j < s->nframes && n < max; j++, n++) {
                sym_cframe_t *c = &s->frames[j];
                out[n] = (mp_sym_frame_t){ s->strs.strs[c->name], s->strs.strs[c->system_name],
                                           s->strs.strs[c->file], c->line, c->start_line,
                                           c->quality, c->inlined };
            }
            s->nframes = first;
            return n;
        }
    }
    int n = 0;
    for (uint32_t j = 0; j < s->runs[r - 1].n && n < max; j++, n++) {
        sym_cframe_t *c = &s->frames[s->runs[r - 1].off + j];
        out[n] = (mp_sym_frame_t){ s->strs.strs[c->name], s->strs.strs[c->system_name],
                                   s->strs.strs[c->file], c->line, c->start_line, c->quality,
                                   c->inlined };
    }
    return n;
}
