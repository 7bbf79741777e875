/* Target program: 40 GLib tables, each with one g_strdup'd key, made and then all unreferenced.
 * Under GLib's slice allocator (GLib before 2.76, G_SLICE unset) the table structs come from
 * slabs that the allocator maps as it needs them, inside the tables' constructors; the slabs
 * outlive the tables. Dumps "made" with every table alive and "gone" after; prints
 * "tables made N" and "tables gone 0". */
#include <glib.h>
#include <stdio.h>

#include "profiler/mapprof.h"

#define N 40

int main(void)
{
    GHashTable *t[N];
    for (int i = 0; i < N; i++) {
        t[i] = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_hash_table_insert(t[i], g_strdup("key"), NULL);
    }
    mapprof_dump("made");
    printf("tables made %d\n", N);
    for (int i = 0; i < N; i++) g_hash_table_unref(t[i]);
    mapprof_dump("gone");
    printf("tables gone 0\n");
    return 0;
}
