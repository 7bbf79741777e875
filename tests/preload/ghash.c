/* Target program: a GHashTable grown to N entries then mostly emptied, dumping a profile at each
 * phase; prints "phase TAG entries" with g_hash_table_size at each dump, so the test can compare
 * every snapshot. A second table stays small and healthy. usage: ghash [N] */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>

#include "profiler/mapprof.h"

static GHashTable *big, *small;

__attribute__((noinline)) static GHashTable *make_big(void)
{
    return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
}

__attribute__((noinline)) static GHashTable *make_small(void)
{
    return g_hash_table_new(g_direct_hash, g_direct_equal);
}

static void phase(const char *tag)
{
    mapprof_dump(tag);
    printf("phase %s %u %u\n", tag, g_hash_table_size(big), g_hash_table_size(small));
    fflush(stdout);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100000;
    big = make_big();
    small = make_small();
    for (int i = 0; i < 50; i++) g_hash_table_insert(small, GINT_TO_POINTER(i + 1), GINT_TO_POINTER(i));
    for (int i = 0; i < n; i++)
        g_hash_table_insert(big, g_strdup_printf("key-%d", i), g_strdup_printf("value-%d", i));
    phase("grown");
    for (int i = 0; i < n - n / 100; i++) {
        char k[32];
        snprintf(k, sizeof k, "key-%d", i);
        g_hash_table_remove(big, k);
    }
    phase("emptied");
    g_hash_table_destroy(small);
    small = g_hash_table_new(g_direct_hash, g_direct_equal);
    phase("recreated");
    return 0;
}
