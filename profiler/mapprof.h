/* mapprof.h - the API a program may call when it runs under mapprof (LD_PRELOAD).
 *
 * Every function is declared weak: a program that includes this header links and runs
 * without mapprof, and each call is then a no-op returning -1. Under mapprof the preloaded
 * library supplies the definitions.
 *
 *   #include "mapprof.h"
 *   mapprof_dump("after-load");   // writes <output>.<pid>.<seq>.pb.gz now
 */
#ifndef MAPPROF_H
#define MAPPROF_H

#ifdef __cplusplus
extern "C" {
#endif

/* Write a profile now, tagged (shown in the profile's comments). 0 on success, -1 when
 * mapprof is not loaded or the profile could not be written. */
int mapprof_dump(const char *tag) __attribute__((weak));
#define mapprof_dump(tag) (mapprof_dump ? (mapprof_dump)(tag) : -1)

#ifdef __cplusplus
}
#endif

#endif
