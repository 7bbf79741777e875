/* Target program for `mapprof diff`: three dumps (d0, d1, d2) of annotated maps with known
 * fates. Between d1 and d2: "bloated" loses 99% of its entries and keeps its buckets
 * (retained_buckets); "shrunk" loses as many but is shrunk (no finding); over d0..d2 "cache"
 * only grows (growth); "evicting" grows but also evicts (no finding). Prints the map ids. */
#include <stdio.h>

#include "tests/preload/annomap.h"

DEFINE_MAP(u64map, uint64_t, uint64_t)

int main(void)
{
    u64map_t *bloated = u64map_new(), *shrunk = u64map_new(), *cache = u64map_new(), *evicting = u64map_new();
    for (uint64_t i = 1; i <= 50000; i++) { u64map_put(bloated, i, i); u64map_put(shrunk, i, i); }
    for (uint64_t i = 1; i <= 1000; i++) { u64map_put(cache, i, i); u64map_put(evicting, i, i); }
    mapprof_dump("d0");
    for (uint64_t i = 1001; i <= 2000; i++) { u64map_put(cache, i, i); u64map_put(evicting, i, i); }
    for (uint64_t i = 1; i <= 500; i++) u64map_del(evicting, i);
    mapprof_dump("d1");
    for (uint64_t i = 2001; i <= 3000; i++) { u64map_put(cache, i, i); u64map_put(evicting, i, i); }
    for (uint64_t i = 501; i <= 1000; i++) u64map_del(evicting, i);
    for (uint64_t i = 1; i <= 49500; i++) { u64map_del(bloated, i); u64map_del(shrunk, i); }
    u64map_shrink(shrunk);
    mapprof_dump("d2");
    printf("ids bloated 1 shrunk 2 cache 3 evicting 4\n");
    return 0;
}
