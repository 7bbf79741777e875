/* Target program for `mapprof check --fail-on growth`: for SECONDS (default 2.5) it puts one
 * new key every 10 ms into "cache", which never loses one (growth), and puts into "window",
 * which removes its oldest key once it holds 50 (no finding). With an argument "flat", cache
 * stops growing after the first 100 keys (no finding either). Prints the cache's entries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hashmap/hashmap.h"

static hm_map_t *new_u64_map(void)
{
    hm_type_t t = { sizeof(uint64_t), _Alignof(uint64_t), sizeof(uint64_t), _Alignof(uint64_t),
                    hm_hash_u64, hm_eq_u64, 0 };
    return hm_new_seeded(&t, NULL, 0x5eed);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.5;
    int flat = argc > 2 && !strcmp(argv[2], "flat");
    hm_map_t *cache = new_u64_map(), *window = new_u64_map();
    int steps = (int)(seconds * 100);
    for (uint64_t i = 1; i <= (uint64_t)steps; i++) {
        if (!flat || i <= 100) hm_put(cache, &i, &i, NULL);
        hm_put(window, &i, &i, NULL);
        if (i > 50) {
            uint64_t old = i - 50;
            hm_del(window, &old);
        }
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    printf("cache %zu\n", hm_count(cache));
    hm_free(cache);
    hm_free(window);
    return 0;
}
