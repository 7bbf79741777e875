/* profiler/stdmap.h - libstdc++'s std::unordered_map/set/multimap, recognized without any
 * change to the program.
 *
 * At dump time, stacks are classified once by their symbolized, inline-aware leaf frames:
 * allocations through _Hashtable_alloc::_M_allocate_buckets are bucket arrays, through
 * _M_allocate_node are nodes. For each live tracked bucket array the map object is found by
 * its stable ABI: a _Hashtable starts with {_M_buckets, _M_bucket_count, _M_before_begin,
 * _M_element_count, _M_rehash_policy{float max_load, size_t next_resize}, _M_single_bucket},
 * so a word equal to the array's address followed by the array's slot count is the object.
 * Memory is searched with process_vm_readv (a region unmapped meanwhile is an error, never a
 * crash) and the answer cached. The map is then read from the object itself: entries and
 * bucket count are exact. */
#ifndef MAPPROF_PROFILER_STDMAP_H
#define MAPPROF_PROFILER_STDMAP_H

#include <stdint.h>

#include "export/symbolize.h"
#include "profiler/maps.h"

/* Classify new stacks, find the map objects of live bucket arrays, and bring the registry's
 * std_unordered maps up to date. Under the reentrancy guard, at dump time. */
void mp_stdmap_refresh(mp_sym_t *sym);
/* The role a stack's allocations play in a std::unordered_map (MP_ROLE_NONE if none). */
mp_map_role_t mp_stdmap_role(uint32_t stack);

#endif
