/* Target program for the leak check on hashmap/: a map lost with 30 entries whose values point
 * to blocks only the map refers to (one finding: the whole map, its buckets and what its
 * entries own), and a map kept in a global whose 20 values are reachable only through it
 * (map-retained). Prints "truth entries_lost_hashmap 30". The maps' seeds are fixed: with a
 * random one, about one run in 40 needs an overflow bucket (one more 144-byte block), and the
 * run under mapprof and the one under memcheck must hold the same blocks to be compared. */
#include <stdio.h>
#include <stdlib.h>

#include "hashmap/hashmap.h"

hm_map_t *kept;
void *volatile sink;

static hm_map_t *new_ptr_map(void)
{
    hm_type_t t = { sizeof(uint64_t), _Alignof(uint64_t), sizeof(void *), _Alignof(void *),
                    hm_hash_u64, hm_eq_u64, HM_VAL_POINTER };
    return hm_new_seeded(&t, NULL, 0x5eed);
}

__attribute__((noinline)) void lose_hashmap(void)
{
    hm_map_t *m = new_ptr_map();
    for (uint64_t i = 1; i <= 30; i++) {
        void *v = malloc(48);
        hm_put(m, &i, &v, NULL);
    }
    sink = m;
    sink = NULL;
}

__attribute__((noinline)) void keep_hashmap(void)
{
    kept = new_ptr_map();
    for (uint64_t i = 1; i <= 20; i++) {
        void *v = calloc(1, 64);
        hm_put(kept, &i, &v, NULL);
    }
}

int main(void)
{
    lose_hashmap();
    keep_hashmap();
    printf("truth entries_lost_hashmap 30\n");
    return 0;
}
