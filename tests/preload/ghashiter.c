/* Target program: GLib tables emptied through iterators and foreach predicates, the ways that
 * let GLib's destroy notifies (or the program, after a steal) free keys and values while the
 * table drops the entries. None of those frees may be a dangling reference. Then free_live()
 * frees a value and a key that live entries still hold: exactly those 2 are.
 *   iter_remove   g_free keys and values; half the entries removed with next(&k, &v), the rest
 *                 with next(NULL, NULL)
 *   iter_steal    150 of 200 stolen, their keys and values freed by the program
 *   foreach_remove  g_free keys and values, the odd half removed; the predicate allocates a
 *                 64 KiB block of its own (not the table's memory)
 *   foreach_steal the odd half stolen; the predicate collects the keys, freed afterwards
 *   iter_replace  g_free values, each replaced inside an iterator loop (the old one freed by
 *                 GLib); then free_live frees the new value of key 7
 * The key of foreach_steal's entry "key-0" is freed too by free_live. Prints "map NAME OBJ
 * ENTRIES" per table (OBJ as in the .maps file) and "dangling NAME KIND" per true finding,
 * then dumps once ("after"). */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "profiler/mapprof.h"

#define N 200

static void *pred_block;        /* the foreach_remove predicate's own allocation */

static GHashTable *str_table(GDestroyNotify kd, GDestroyNotify vd)
{
    GHashTable *t = g_hash_table_new_full(g_str_hash, g_str_equal, kd, vd);
    for (int i = 0; i < N; i++)
        g_hash_table_insert(t, g_strdup_printf("key-%d", i), g_strdup_printf("v%d", i));
    return t;
}

static int num(const char *s) { return atoi(s + (s[0] == 'k' ? 4 : 1)); }

static GHashTable *iter_remove(void)
{
    GHashTable *t = str_table(g_free, g_free);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, t);
    while (g_hash_table_iter_next(&it, &k, &v))
        if (num(v) % 2 == 0) g_hash_table_iter_remove(&it);
    g_hash_table_iter_init(&it, t);
    while (g_hash_table_iter_next(&it, NULL, NULL)) g_hash_table_iter_remove(&it);
    return t;
}

static GHashTable *iter_steal(void)
{
    GHashTable *t = str_table(NULL, NULL);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, t);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        if (num(k) >= 150) continue;
        g_hash_table_iter_steal(&it);
        g_free(k);
        g_free(v);
    }
    return t;
}

static gboolean odd_allocating(gpointer k, gpointer v, gpointer data)
{
    (void)v, (void)data;
    if (!pred_block) pred_block = g_malloc0(65536);
    return num(k) % 2;
}

static GHashTable *foreach_remove(void)
{
    GHashTable *t = str_table(g_free, g_free);
    g_hash_table_foreach_remove(t, odd_allocating, NULL);
    return t;
}

static gboolean odd_collecting(gpointer k, gpointer v, gpointer data)
{
    if (num(k) % 2 == 0) return FALSE;
    g_ptr_array_add(data, k);
    g_ptr_array_add(data, v);
    return TRUE;
}

static GHashTable *foreach_steal(void)
{
    GHashTable *t = str_table(NULL, NULL);
    GPtrArray *stolen = g_ptr_array_new_with_free_func(g_free);
    g_hash_table_foreach_steal(t, odd_collecting, stolen);
    g_ptr_array_free(stolen, TRUE);
    return t;
}

static GHashTable *iter_replace(void)
{
    GHashTable *t = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    for (long i = 1; i <= 100; i++) g_hash_table_insert(t, (void *)i, g_strdup("old"));
    GHashTableIter it;
    g_hash_table_iter_init(&it, t);
    while (g_hash_table_iter_next(&it, NULL, NULL))
        g_hash_table_iter_replace(&it, g_strdup("new value"));
    return t;
}

/* True dangling references: freed while live entries hold them. */
__attribute__((noinline)) void free_live(GHashTable *replaced, GHashTable *stolen)
{
    g_free(g_hash_table_lookup(replaced, (void *)7L));
    gpointer k, v;
    if (g_hash_table_lookup_extended(stolen, "key-0", &k, &v)) g_free(k);
    __asm__ volatile("" ::: "memory");
}

static void show(const char *name, GHashTable *t)
{
    printf("map %s %lx %u\n", name, (unsigned long)(uintptr_t)t, g_hash_table_size(t));
}

int main(void)
{
    GHashTable *ir = iter_remove(), *is = iter_steal(), *fr = foreach_remove();
    GHashTable *fs = foreach_steal(), *rp = iter_replace();
    free_live(rp, fs);
    show("iter_remove", ir);
    show("iter_steal", is);
    show("foreach_remove", fr);
    show("foreach_steal", fs);
    show("iter_replace", rp);
    printf("dangling iter_replace value\ndangling foreach_steal key\n");
    fflush(stdout);
    mapprof_dump("after");
    return 0;
}
