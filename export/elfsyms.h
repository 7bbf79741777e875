/* export/elfsyms.h - function names from a module's ELF symbol tables, by address.
 *
 * dwfl_module_addrinfo reads every symbol of the module for every address it is asked about
 * (measured 64 us an address in libpython3.11, 265 us in libc.so.6): a profile whose stacks
 * pass through a few thousand distinct addresses of code without DWARF took seconds to write.
 * This index reads each module's symbols once, keeps those of executable sections sorted by
 * address, and answers with a binary search and a short scan. Its answer for an address in
 * executable code is libdw's: the symbol whose range holds it (the nearest start; at one start
 * the smallest, then global before weak before local, then the first in the table), else the
 * nearest sizeless code symbol below it in its section when no sized symbol lies between them
 * (tests/unit/export_elfsyms.c compares the two on every 7th address of ten objects). Not
 * thread-safe (the symbolizer's own lifetime and lock). */
#ifndef MAPPROF_EXPORT_ELFSYMS_H
#define MAPPROF_EXPORT_ELFSYMS_H

#include <elfutils/libdwfl.h>

typedef struct mp_elfsyms mp_elfsyms_t;

mp_elfsyms_t *mp_elfsyms_new(void);
void mp_elfsyms_free(mp_elfsyms_t *x);
/* The name of the function at pc (an address in the process, bias included) in mod, or NULL
 * when no symbol covers it. *ok is false when the module's index could not be built (out of
 * memory): the caller may ask libdw. Names live as long as mod's Dwfl. */
const char *mp_elfsyms_at(mp_elfsyms_t *x, Dwfl_Module *mod, Dwarf_Addr pc, bool *ok);

#endif
