/* export/symbolize.h - addresses to functions, files, lines and inlined frames (libdw).
 *
 * A symbolizer covers one process (normally the current one) as it is at mp_sym_open: its
 * executable mappings from /proc/<pid>/maps (with build IDs) and the modules libdw finds
 * there. Lookups are cached per address, strings are interned: every pointer it hands out
 * lives until mp_sym_close. Never crashes on a missing symbol: without DWARF it falls back to
 * the ELF symbol tables, and without any symbol to "module+0xoffset". Not thread-safe; meant
 * for dump time, under the profiler's reentrancy guard (it allocates). */
#ifndef MAPPROF_EXPORT_SYMBOLIZE_H
#define MAPPROF_EXPORT_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mp_sym mp_sym_t;

/* How much is known about a frame. */
enum {
    MP_SYM_NONE = 0,        /* no symbol: name is "module+0xoffset" (or "0x<address>") */
    MP_SYM_ELF = 1,         /* name from .symtab/.dynsym; no file or line */
    MP_SYM_DWARF = 2        /* name, file, line and the inline chain from DWARF */
};

/* One frame of an address's inline chain. */
typedef struct mp_sym_frame {
    const char *name;           /* demangled function name (C++), else as in the binary */
    const char *system_name;    /* the linkage (mangled) name; equals name for C */
    const char *file;           /* source file, "" when unknown */
    int line;                   /* source line, 0 when unknown */
    int start_line;             /* the function's declaration line, 0 when unknown */
    int quality;                /* MP_SYM_NONE / MP_SYM_ELF / MP_SYM_DWARF */
    bool inlined;               /* this frame was inlined into the next one of the chain */
} mp_sym_frame_t;

/* One executable mapping of the process. */
typedef struct mp_sym_map {
    uint64_t start, limit;      /* [start, limit) as in /proc/<pid>/maps */
    uint64_t offset;            /* file offset of start */
    const char *path;           /* file path without " (deleted)"; "[vdso]" etc.; "" if none */
    const char *build_id;       /* lowercase hex of NT_GNU_BUILD_ID, "" when unknown */
    bool is_main;               /* belongs to the main executable */
} mp_sym_map_t;

/* Flags of mp_sym_open. */
enum {
    /* Also read the C library's and the dynamic loader's DWARF (libc6-dbg). Without it their
     * frames are named from the symbol tables (the debug file's .symtab included: static
     * functions keep their names) and carry no file or line. Their frames in a heap profile
     * are allocation wrappers (strdup, fopen) and entry trampolines (__libc_start_main,
     * start_thread), whose source lines point at nothing the user can change, while libc6-dbg's
     * compressed DWARF costs ~10 MB inflated and ~60 ms at every dump. */
    MP_SYM_LIBC_LINES = 1,
    /* Find an address's inline chain with libdw's dwarf_getscopes, which walks the CU for
     * every address, instead of the per-CU index (scopes.h): the reference the index is
     * tested against. */
    MP_SYM_SCAN_SCOPES = 2
};

/* Open a symbolizer for process pid (0 = the calling process) with MP_SYM_* flags. Returns
 * NULL only when out of memory or when /proc/<pid>/maps cannot be read; without libdw
 * modules it still answers with fallbacks. */
mp_sym_t *mp_sym_open(int pid, unsigned flags);
/* The inline chain at address pc, innermost first: out[0] is the function whose code is at
 * pc, the last frame the function it was all inlined into (a real, out-of-line function).
 * pc is looked up as given: for a return address pass ra - 1 (the call site). Writes at most
 * max frames (the innermost ones) and returns how many; always >= 1 when max >= 1. */
int mp_sym_lookup(mp_sym_t *sym, uint64_t pc, mp_sym_frame_t *out, int max);
void mp_sym_close(mp_sym_t *sym);
/* How many addresses had their scopes found by the per-CU index, and how many by libdw's
 * walk (MP_SYM_SCAN_SCOPES, or an address the index had no function for). */
void mp_sym_counts(const mp_sym_t *sym, size_t *indexed, size_t *walked);

/* Executable mappings: main executable first, then the rest by address. */
size_t mp_sym_nmaps(const mp_sym_t *sym);
const mp_sym_map_t *mp_sym_map(const mp_sym_t *sym, size_t i);
/* Index (for mp_sym_map) of the mapping containing addr, or -1. */
long mp_sym_find_map(const mp_sym_t *sym, uint64_t addr);

#endif
