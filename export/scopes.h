/* export/scopes.h - the function scopes of a compilation unit, by address.
 *
 * dwarf_getscopes walks a CU's DIE tree from its start for every address it is asked about,
 * and dwarf_getscopes_die walks it again: on a C++ CU that is millions of instructions per
 * address, for a handful of answers. This index walks each CU once, keeps the address ranges
 * of its DW_TAG_subprogram and DW_TAG_inlined_subroutine DIEs with their nesting, and then
 * answers an address with a binary search and a short scan. Not thread-safe (the symbolizer's
 * own lifetime and lock). */
#ifndef MAPPROF_EXPORT_SCOPES_H
#define MAPPROF_EXPORT_SCOPES_H

#include <elfutils/libdw.h>

typedef struct mp_scopes mp_scopes_t;

mp_scopes_t *mp_scopes_new(void);
void mp_scopes_free(mp_scopes_t *x);
/* The function scopes containing pc (an address of the CU, without the module's bias), out
 * to the DW_TAG_subprogram they sit in: innermost first, as dwarf_getscopes_die gives them
 * (lexical blocks left out). owner tells modules apart (a CU is known by owner and offset) and
 * must outlive x. Writes at most max; returns how many, 0 when no indexed function contains pc
 * or the CU is nested too deep to index (the caller may ask libdw the slow way), -1 when out of
 * memory. */
int mp_scopes_at(mp_scopes_t *x, const void *owner, Dwarf_Die *cu, Dwarf_Addr pc,
                 Dwarf_Die *out, int max);

#endif
