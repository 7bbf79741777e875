/* Target program: a GLib table of 100 string values; free_some() frees 10 values without
 * removing their entries (10 dangling references, freed there). A second table whose values
 * are removed (or stolen) before being freed must produce none. Dumps once ("after") and
 * prints "dangling N" with its own count. With an argument BYTES, the 10 values freed in
 * free_some are BYTES long (filled), the others stay short: at a rate well below BYTES those 10
 * are sampled for certain and the short ones almost never; and one more value of BYTES in the
 * second table, replaced by a short one before it is freed, must leave no finding. */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profiler/mapprof.h"

static GHashTable *t, *clean;

__attribute__((noinline)) void free_some(void)
{
    for (int i = 0; i < 100; i += 10) g_free(g_hash_table_lookup(t, GINT_TO_POINTER(i + 1)));
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void remove_then_free(void)
{
    for (int i = 0; i < 20; i++) {
        char *v = g_hash_table_lookup(clean, GINT_TO_POINTER(i + 1));
        if (i % 2) g_hash_table_remove(clean, GINT_TO_POINTER(i + 1));
        else g_hash_table_steal(clean, GINT_TO_POINTER(i + 1));
        g_free(v);
    }
}

int main(int argc, char **argv)
{
    size_t big = argc > 1 ? strtoul(argv[1], NULL, 10) : 0;
    t = g_hash_table_new(g_direct_hash, g_direct_equal);
    clean = g_hash_table_new(g_direct_hash, g_direct_equal);
    for (int i = 0; i < 100; i++) {
        char *v = g_strdup_printf("value %d", i);
        if (big && i % 10 == 0) {
            v = g_realloc(v, big);
            memset(v, 'x', big - 1);
            v[big - 1] = 0;
        }
        g_hash_table_insert(t, GINT_TO_POINTER(i + 1), v);
    }
    for (int i = 0; i < 40; i++) g_hash_table_insert(clean, GINT_TO_POINTER(i + 1), g_strdup_printf("clean %d", i));
    free_some();
    remove_then_free();
    /* replace a value properly: the old one freed after the entry points elsewhere */
    char *old = g_hash_table_lookup(clean, GINT_TO_POINTER(30));
    g_hash_table_insert(clean, GINT_TO_POINTER(30), g_strdup("fresh"));
    g_free(old);
    if (big) {  /* a sampled value replaced by a short one before its free: no finding */
        old = g_hash_table_lookup(clean, GINT_TO_POINTER(31));
        char *v = g_malloc(big);
        memset(v, 'y', big);
        g_hash_table_insert(clean, GINT_TO_POINTER(31), v);
        g_free(old);
        g_hash_table_insert(clean, GINT_TO_POINTER(31), g_strdup("short"));
        g_free(v);
    }
    printf("dangling 10\n");
    fflush(stdout);
    mapprof_dump("after");
    return 0;
}
