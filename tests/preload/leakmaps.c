/* Target program for the leak check: a heap-allocated GHashTable lost with 50 owned string
 * entries (one finding: the whole map), an annotated map whose object is lost, plus a map kept
 * reachable whose values are only reachable through it (map-retained). Run with
 * G_SLICE=always-malloc so GLib's own structures are malloc blocks. Prints
 * "truth entries_lost_ghash 50". */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profiler/mapprof.h"

GHashTable *kept;               /* reachable: its values are map-retained */
void *volatile sink;

__attribute__((noinline)) void lose_ghash(void)
{
    GHashTable *t = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (int i = 0; i < 50; i++) g_hash_table_insert(t, g_strdup_printf("k%d", i), g_strdup_printf("v%d", i));
    sink = t;
    sink = NULL;
}

__attribute__((noinline)) void keep_ghash(void)
{
    kept = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    for (int i = 0; i < 20; i++) g_hash_table_insert(kept, GINT_TO_POINTER(i + 1), g_malloc0(64));
}

typedef struct amap { void **slot; size_t cap; } amap_t;

__attribute__((noinline)) void lose_annotated(void)
{
    amap_t *m = calloc(1, sizeof *m);
    mapprof_map_create(m, 8, 8, 0.75);
    m->cap = 64;
    m->slot = calloc(m->cap, sizeof *m->slot);
    mapprof_map_memory(m, m->slot, m->cap * sizeof *m->slot, MAPPROF_BUCKETS);
    for (int i = 0; i < 10; i++) { m->slot[i] = malloc(40); mapprof_map_insert(m, m->slot[i], NULL); }
    mapprof_map_entries(m, 10, m->cap);
    sink = m;
    sink = NULL;
}

int main(void)
{
    lose_ghash();
    keep_ghash();
    lose_annotated();
    printf("truth entries_lost_ghash 50 entries_lost_annotated 10\n");
    return 0;
}
