/* Target program: a GLib table whose hash function, by its argument, runs hashmap/ operations
 * (a new map grown by 20 puts: arrays allocated inside the map's operation) and then allocates
 * 48 bytes ("nested"), or only allocates 48 bytes ("plain"). Neither 48-byte block is the table's: its
 * GLib-tagged bytes must come out the same both ways. Dumps "filled" after 6 inserts. */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap/hashmap.h"
#include "profiler/mapprof.h"

static int nested;
void *kept[64];      /* external: the compiler may not drop the allocations stored here */
static int nkept;

static guint hash_cb(gconstpointer key)
{
    if (nkept < 64) {
        if (nested) {
            hm_type_t t = { sizeof(uint64_t), _Alignof(uint64_t), sizeof(uint64_t),
                            _Alignof(uint64_t), hm_hash_u64, hm_eq_u64, 0 };
            hm_map_t *m = hm_new(&t, NULL);
            for (uint64_t k = 0; m && k < 20; k++) hm_put(m, &k, &k, NULL);
            kept[nkept++] = m;
        }
        if (nkept < 64) kept[nkept++] = malloc(48);
    }
    return g_direct_hash(key);
}

int main(int argc, char **argv)
{
    nested = argc > 1 && !strcmp(argv[1], "nested");
    GHashTable *t = g_hash_table_new(hash_cb, g_direct_equal);
    for (uintptr_t i = 1; i <= 6; i++) g_hash_table_insert(t, (void *)i, (void *)(i + 100));
    mapprof_dump("filled");
    printf("entries %u\n", g_hash_table_size(t));
    return 0;
}
