/* Benchmark and demo workload: a chained hash map of string keys with malloc'd nodes and
 * keys, the shape of many C caches. Inserts, looks up and deletes in waves, keeps a tail of
 * entries alive, and never shrinks its bucket array (so a profile shows retained buckets).
 * usage: churn [OPS_MILLIONS] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct node {
    struct node *next;
    char *key;
    uint64_t hash;
    long value;
} node_t;

typedef struct table {
    node_t **bucket;
    size_t nbuckets, count;
} table_t;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

__attribute__((noinline)) static void table_grow(table_t *t)
{
    size_t n = t->nbuckets ? t->nbuckets * 2 : 64;
    node_t **b = calloc(n, sizeof *b);
    for (size_t i = 0; i < t->nbuckets; i++)
        for (node_t *e = t->bucket[i], *next; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    free(t->bucket);
    t->bucket = b;
    t->nbuckets = n;
}

__attribute__((noinline)) static node_t *node_new(const char *key, uint64_t h, long v)
{
    node_t *e = malloc(sizeof *e);
    e->key = strdup(key);
    e->hash = h;
    e->value = v;
    return e;
}

static void table_put(table_t *t, const char *key, long v)
{
    if (t->count + 1 > t->nbuckets) table_grow(t);
    uint64_t h = hash_str(key);
    for (node_t *e = t->bucket[h & (t->nbuckets - 1)]; e; e = e->next)
        if (e->hash == h && !strcmp(e->key, key)) { e->value = v; return; }
    node_t *e = node_new(key, h, v);
    e->next = t->bucket[h & (t->nbuckets - 1)];
    t->bucket[h & (t->nbuckets - 1)] = e;
    t->count++;
}

static long table_get(table_t *t, const char *key)
{
    if (!t->nbuckets) return -1;
    uint64_t h = hash_str(key);
    for (node_t *e = t->bucket[h & (t->nbuckets - 1)]; e; e = e->next)
        if (e->hash == h && !strcmp(e->key, key)) return e->value;
    return -1;
}

static void table_del(table_t *t, const char *key)
{
    if (!t->nbuckets) return;
    uint64_t h = hash_str(key);
    for (node_t **pp = &t->bucket[h & (t->nbuckets - 1)], *e; (e = *pp); pp = &e->next)
        if (e->hash == h && !strcmp(e->key, key)) {
            *pp = e->next;
            free(e->key);
            free(e);
            t->count--;
            return;
        }
}

int main(int argc, char **argv)
{
    long millions = argc > 1 ? atol(argv[1]) : 4;
    long ops = millions * 1000000, wave = 200000, sum = 0;
    table_t t = { 0 };
    char key[64];
    for (long done = 0, base = 0; done < ops; base += wave) {
        for (long i = 0; i < wave && done < ops; i++, done++) {
            snprintf(key, sizeof key, "user:%ld:session", base + i);
            table_put(&t, key, base + i);
        }
        for (long i = 0; i < wave; i += 3) {
            snprintf(key, sizeof key, "user:%ld:session", base + i);
            sum += table_get(&t, key);
        }
        /* delete 90% of this wave: the table keeps its buckets and a tail of live entries */
        for (long i = 0; i < wave && done < ops; i++, done++) {
            if (i % 10 == 0) continue;
            snprintf(key, sizeof key, "user:%ld:session", base + i);
            table_del(&t, key);
        }
    }
    printf("churn: %zu entries, %zu buckets, checksum %ld\n", t.count, t.nbuckets, sum);
    return 0;
}
