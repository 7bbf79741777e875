/* Target program for the leak check: a loop over a GLib table breaks out on one entry, steals
 * it, and forgets its key (3 bytes, definitely lost for Valgrind memcheck). The profiler keeps
 * the key each iterator returned last (interpose/ghash.c), in memory the check scans: it must
 * not be what keeps the key reachable. */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) static void lose_one(GHashTable *t)
{
    GHashTableIter it;
    gpointer k = NULL, v;
    g_hash_table_iter_init(&it, t);
    while (g_hash_table_iter_next(&it, &k, &v))
        if (!strcmp(k, "k5")) break;
    g_hash_table_steal(t, k);
}

int main(void)
{
    GHashTable *t = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (int i = 0; i < 10; i++) {
        char b[8];
        snprintf(b, sizeof b, "k%d", i);
        g_hash_table_insert(t, g_strdup(b), NULL);
    }
    lose_one(t);
    g_hash_table_destroy(t);
    exit(0);
}
