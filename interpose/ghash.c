/* interpose/ghash.c - GLib's GHashTable, interposed.
 *
 * Each wrapper finds GLib's own function lazily (dlsym RTLD_NEXT: GLib may be loaded at start
 * or dlopen'd later), runs it inside the map's operation context (profiler.h) so the arrays it
 * allocates or frees are the map's, then tells the profiler the entry count. GLib's headers are
 * not needed: a GHashTable is an opaque pointer here, and the wrappers keep GLib's ABI (gboolean
 * is int, guint is unsigned int, function pointers are pointers).
 *
 * One fact is read from the table itself: its slot count, GHashTable's first field (gsize size,
 * its layout since GLib 2.36), used only when it agrees with the bytes of arrays we saw. An
 * iterator (GHashTableIter) is never read: its address names it, GLib's accessor gives its
 * table. Inside an operation only GLib's 2^k-byte blocks are the table's arrays (what the
 * table's hash, equality and destroy callbacks allocate there is the program's), and the
 * program's foreach predicates run outside the map's context altogether. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>

#include "interpose/real.h"
#include "profiler/dangling.h"
#include "profiler/maps.h"
#include "profiler/profiler.h"

#define HOOK __attribute__((visibility("default")))

typedef void *ht_t;
typedef void *fnp;


/* GLib grows a table when its occupied slots pass 16/17 of its size (ghash.c). */
static const mp_map_desc_t ghash_desc = { MP_KIND_GHASH, sizeof(void *), sizeof(void *), 1, 16.0 / 17.0, 0 };

static unsigned table_size(ht_t ht)
{
    unsigned (*size)(ht_t) = MP_REAL(unsigned (*)(ht_t), g_hash_table_size);
    return size ? size(ht) : 0;
}

/* The key GLib stores for lookup_key (it may be another pointer equal under the table's key
 * equality), or NULL when absent; *absent (when asked) tells that the lookup ran and found
 * none. Runs the table's own hash and equality functions. */
static void *stored_key(ht_t ht, const void *lookup_key, bool *absent)
{
    int (*f)(ht_t, const void *, void **, void **) =
        MP_REAL(int (*)(ht_t, const void *, void **, void **), g_hash_table_lookup_extended);
    void *k = NULL, *v = NULL;
    int found = -1;
    if (f) {
        mp_busy_enter();
        found = f(ht, lookup_key, &k, &v);
        mp_busy_leave();
    }
    if (absent) *absent = found == 0;
    return found > 0 ? k : NULL;
}

/* The registered table at ht, or 0: none, or this thread is in our own work. */
static uint32_t table_id(ht_t ht) { return ht && !mp_tls.busy ? mp_map_find(ht) : 0; }

/* Into one of the table's operations: of what GLib allocates inside, the blocks of 2^k bytes
 * are its arrays (profiler.h). */
static mp_map_ctx_t table_enter(uint32_t id)
{
    return mp_map_ctx_enter_arrays(id, MP_ROLE_BUCKET_ARRAY);
}

/* Entry count and slot count after an operation; the entry count (0 without a map). */
static int64_t refresh(uint32_t id, ht_t ht)
{
    if (!id) return 0;
    mp_busy_enter();
    int64_t entries = table_size(ht);
    size_t slots = *(const size_t *)ht;     /* see the file comment */
    bool slots_ok = slots >= 8 && (slots & (slots - 1)) == 0 && slots < ((size_t)1 << 40);
    mp_map_set(id, entries, slots_ok ? (int64_t)slots : -1, -1, -1);
    mp_busy_leave();
    return entries;
}

/* Creation: the arrays are allocated inside GLib's constructor, before we know the table's
 * address, so the map is registered under a placeholder and re-keyed afterwards. */
static MP_TLS char placeholder;

static uint32_t begin_create(void)
{
    if (mp_tls.busy || !mp_maps_on()) return 0;
    uint32_t stack = mp_capture_stack_id(0);
    return mp_map_create(&placeholder, &ghash_desc, stack);
}

static ht_t end_create(uint32_t id, ht_t ht)
{
    if (!id) return ht;
    if (ht) {
        mp_map_rekey(&placeholder, ht);
        refresh(id, ht);
    } else {
        mp_map_destroy(&placeholder);
    }
    return ht;
}

HOOK ht_t g_hash_table_new_full(fnp hash, fnp eq, fnp kd, fnp vd)
{
    ht_t (*f)(fnp, fnp, fnp, fnp) = MP_REAL(ht_t (*)(fnp, fnp, fnp, fnp), g_hash_table_new_full);
    if (!f) return NULL;
    uint32_t id = begin_create();
    mp_map_ctx_t c = table_enter(id);
    ht_t ht = f(hash, eq, kd, vd);
    mp_map_ctx_leave(c);
    return end_create(id, ht);
}

HOOK ht_t g_hash_table_new(fnp hash, fnp eq)
{
    /* GLib's g_hash_table_new calls g_hash_table_new_full internally, not through the PLT:
     * forward to our new_full so the table is seen either way. */
    return g_hash_table_new_full(hash, eq, NULL, NULL);
}

HOOK ht_t g_hash_table_new_similar(ht_t other)
{
    ht_t (*f)(ht_t) = MP_REAL(ht_t (*)(ht_t), g_hash_table_new_similar);
    if (!f) return NULL;
    uint32_t id = begin_create();
    mp_map_ctx_t c = table_enter(id);
    ht_t ht = f(other);
    mp_map_ctx_leave(c);
    return end_create(id, ht);
}

/* An operation on an existing table: context, call, refresh. ins/rem count inserts/removes
 * when the call reports success. */
#define OP_BODY(call, ins, rem)                                                                    \
    uint32_t id = table_id(ht);                                                                    \
    mp_map_ctx_t c = table_enter(id);                                                              \
    r = call;                                                                                      \
    mp_map_ctx_leave(c);                                                                           \
    if (id) {                                                                                      \
        if ((ins) || (rem)) mp_map_count_ops(id, (ins), (rem));                                    \
        refresh(id, ht);                                                                           \
    }

/* insert keeps the key already stored for an equal key (and frees the new one); replace and
 * add store the new key. The entry's pointers are recorded for the dangling check. */
static int put_op(ht_t ht, void *key, void *value, int (*f3)(ht_t, void *, void *),
                  int (*f2)(ht_t, void *), bool keep_old_key)
{
    int r = 0;
    void *old = NULL;
    bool absent = false;        /* known to be a new key */
    uint32_t pre = table_id(ht);
    if (pre) {
        old = stored_key(ht, key, &absent);
        if (old && old != key) mp_dangling_remove(pre, old);
    }
    OP_BODY(f3 ? f3(ht, key, value) : f2(ht, key), 1, 0)
    if (id) mp_dangling_insert(id, keep_old_key && old ? old : key, f3 ? value : key, absent);
    return r;
}

HOOK int g_hash_table_insert(ht_t ht, void *key, void *value)
{
    int (*f)(ht_t, void *, void *) = MP_REAL(int (*)(ht_t, void *, void *), g_hash_table_insert);
    return f ? put_op(ht, key, value, f, NULL, true) : 0;
}

HOOK int g_hash_table_replace(ht_t ht, void *key, void *value)
{
    int (*f)(ht_t, void *, void *) = MP_REAL(int (*)(ht_t, void *, void *), g_hash_table_replace);
    return f ? put_op(ht, key, value, f, NULL, false) : 0;
}

HOOK int g_hash_table_add(ht_t ht, void *key)
{
    int (*f)(ht_t, void *) = MP_REAL(int (*)(ht_t, void *), g_hash_table_add);
    return f ? put_op(ht, key, NULL, NULL, f, false) : 0;
}

/* remove, steal: forget the entry under the key GLib had stored. */
static int del_op(ht_t ht, const void *key, int (*f1)(ht_t, const void *),
                  int (*f3)(ht_t, const void *, void **, void **), void **sk, void **sv)
{
    int r = 0;
    uint32_t pre = table_id(ht);
    void *old = pre ? stored_key(ht, key, NULL) : NULL;
    OP_BODY(f1 ? f1(ht, key) : f3(ht, key, sk, sv), 0, r != 0)
    if (id && r && old) mp_dangling_remove(id, old);
    return r;
}

HOOK int g_hash_table_remove(ht_t ht, const void *key)
{
    int (*f)(ht_t, const void *) = MP_REAL(int (*)(ht_t, const void *), g_hash_table_remove);
    return f ? del_op(ht, key, f, NULL, NULL, NULL) : 0;
}

HOOK int g_hash_table_steal(ht_t ht, const void *key)
{
    int (*f)(ht_t, const void *) = MP_REAL(int (*)(ht_t, const void *), g_hash_table_steal);
    return f ? del_op(ht, key, f, NULL, NULL, NULL) : 0;
}

HOOK int g_hash_table_steal_extended(ht_t ht, const void *key, void **sk, void **sv)
{
    int (*f)(ht_t, const void *, void **, void **) =
        MP_REAL(int (*)(ht_t, const void *, void **, void **), g_hash_table_steal_extended);
    return f ? del_op(ht, key, NULL, f, sk, sv) : 0;
}

/* foreach_remove / foreach_steal: GLib removes exactly the entries for which the program's
 * predicate returns true, so the predicate is wrapped and each of those keys leaves the
 * dangling table before GLib's destroy notifies can free it. The predicate is the program's
 * code: it runs outside the map's context, or a 2^k-byte block it allocates would be counted
 * as the map's arrays. */
typedef struct pred {
    int (*fn)(void *key, void *value, void *data);  /* the program's predicate */
    void *data;                                     /* and its user_data */
    uint32_t id;                                    /* the map */
    mp_map_ctx_t outer;                             /* the context the operation entered from */
} pred_t;

static int pred_call(void *key, void *value, void *data)
{
    pred_t *p = data;
    mp_map_ctx_leave(p->outer);
    int r = p->fn(key, value, p->data);
    if (r) mp_dangling_remove(p->id, key);
    table_enter(p->id);
    return r;
}

static unsigned foreach_del_op(ht_t ht, fnp fn, void *data, unsigned (*f)(ht_t, fnp, void *))
{
    uint32_t id = table_id(ht);
    pred_t p = { (int (*)(void *, void *, void *))fn, data, id, { 0, 0, false, false } };
    p.outer = table_enter(id);
    unsigned r = id && fn ? f(ht, (fnp)pred_call, &p) : f(ht, fn, data);
    mp_map_ctx_leave(p.outer);
    if (id) {
        mp_map_count_ops(id, 0, r);
        refresh(id, ht);
    }
    return r;
}

HOOK unsigned g_hash_table_foreach_remove(ht_t ht, fnp fn, void *data)
{
    unsigned (*f)(ht_t, fnp, void *) =
        MP_REAL(unsigned (*)(ht_t, fnp, void *), g_hash_table_foreach_remove);
    return f ? foreach_del_op(ht, fn, data, f) : 0;
}

HOOK unsigned g_hash_table_foreach_steal(ht_t ht, fnp fn, void *data)
{
    unsigned (*f)(ht_t, fnp, void *) =
        MP_REAL(unsigned (*)(ht_t, fnp, void *), g_hash_table_foreach_steal);
    return f ? foreach_del_op(ht, fn, data, f) : 0;
}

/* Iterators. A GHashTableIter is the caller's struct, GLib's to read: only its address is
 * used here, as a name. g_hash_table_iter_next tells which entry an iterator stands on; this
 * thread's recent iterators keep it, so that iter_remove/steal/replace know the entry they act
 * on (its key is the one the dangling table follows). Loops nest a few iterators deep; one not
 * kept here (evicted, or advanced on another thread) still gets its counts refreshed. Static
 * thread-local slots: nothing is allocated inside a hook. They hold the addresses inverted:
 * our TLS is scanned by the leak check, and a key the program lost after breaking out of a loop
 * must not look reachable from here. */
#define ITER_SLOTS 8

typedef struct iter_pos {
    uintptr_t iter;             /* ~ the GHashTableIter's address; 0: slot free */
    uintptr_t key;              /* ~ the key its last successful next returned */
} iter_pos_t;

static inline uintptr_t hide(const void *p) { return ~(uintptr_t)p; }
static inline void *unhide(uintptr_t v) { return (void *)~v; }

static MP_TLS iter_pos_t iter_pos[ITER_SLOTS];
static MP_TLS unsigned iter_victim;     /* next slot to reuse when all are taken */
static MP_TLS unsigned iter_last;       /* the slot noted last: a loop's next finds it at once */

/* The slot of iter (NULL: a free one), or NULL. */
static iter_pos_t *iter_find(const void *iter)
{
    uintptr_t h = iter ? hide(iter) : 0;
    for (unsigned i = 0; i < ITER_SLOTS; i++)
        if (iter_pos[i].iter == h) return &iter_pos[i];
    return NULL;
}

static void iter_note(const void *iter, void *key)
{
    iter_pos_t *p = &iter_pos[iter_last];
    if (p->iter != hide(iter)) {
        p = iter_find(iter);
        if (!p) p = iter_find(NULL);
        if (!p) p = &iter_pos[iter_victim++ % ITER_SLOTS];
        iter_last = (unsigned)(p - iter_pos);
    }
    *p = (iter_pos_t){ hide(iter), hide(key) };
}

static void iter_forget(const void *iter)
{
    iter_pos_t *p = iter_find(iter);
    if (p) *p = (iter_pos_t){ 0, 0 };
}

/* The key iter stands on (NULL: not kept here), forgetting it: the entry is going. */
static void *iter_take_key(const void *iter)
{
    iter_pos_t *p = iter_find(iter);
    if (!p) return NULL;
    void *key = unhide(p->key);
    *p = (iter_pos_t){ 0, 0 };
    return key;
}

/* The table an iterator walks (GLib's accessor: the iterator's layout stays GLib's). */
static ht_t iter_table(void *iter)
{
    ht_t (*f)(void *) = MP_REAL(ht_t (*)(void *), g_hash_table_iter_get_hash_table);
    return f && iter ? f(iter) : NULL;
}

HOOK int g_hash_table_iter_next(void *iter, void **key, void **value)
{
    int (*f)(void *, void **, void **) =
        MP_REAL(int (*)(void *, void **, void **), g_hash_table_iter_next);
    if (!f) return 0;
    void *k = NULL, *v = NULL;
    int r = f(iter, &k, &v);
    if (key) *key = k;
    if (value) *value = v;
    if (r) iter_note(iter, k);
    else iter_forget(iter);
    return r;
}

/* iter_remove / iter_steal: the entry's key leaves the dangling table before GLib's destroy
 * notifies can free it (as foreach_remove's do). GLib refuses a remove it finds wrong (an
 * iterator not on an entry, a table changed behind it) with a warning; the entry count tells
 * whether one went. */
static void iter_del_op(void *iter, void (*f)(void *))
{
    ht_t ht = iter_table(iter);
    uint32_t id = table_id(ht);
    int64_t before = id ? table_size(ht) : 0;
    void *key = iter_take_key(iter);
    if (id && key) mp_dangling_remove(id, key);
    mp_map_ctx_t c = table_enter(id);
    f(iter);
    mp_map_ctx_leave(c);
    if (id && refresh(id, ht) < before) mp_map_count_ops(id, 0, 1);
}

HOOK void g_hash_table_iter_remove(void *iter)
{
    void (*f)(void *) = MP_REAL(void (*)(void *), g_hash_table_iter_remove);
    if (f) iter_del_op(iter, f);
}

HOOK void g_hash_table_iter_steal(void *iter)
{
    void (*f)(void *) = MP_REAL(void (*)(void *), g_hash_table_iter_steal);
    if (f) iter_del_op(iter, f);
}

/* iter_replace: the entry keeps its key and now holds value (GLib frees the old value with the
 * table's value destroy notify, and turns a set into a map when value is not the key: arrays
 * it allocates here are the map's). GLib refuses a replace only on a misuse it reports itself
 * (g_critical), which no entry count shows: the entry is taken to hold value. */
HOOK void g_hash_table_iter_replace(void *iter, void *value)
{
    void (*f)(void *, void *) = MP_REAL(void (*)(void *, void *), g_hash_table_iter_replace);
    if (!f) return;
    ht_t ht = iter_table(iter);
    uint32_t id = table_id(ht);
    mp_map_ctx_t c = table_enter(id);
    f(iter, value);
    mp_map_ctx_leave(c);
    if (!id) return;
    mp_map_count_ops(id, 1, 0);
    iter_pos_t *p = iter_find(iter);
    if (p) mp_dangling_insert(id, unhide(p->key), value, false);
    refresh(id, ht);
}

/* remove_all / steal_all: count what went. */
static void clear_op(ht_t ht, void (*f)(ht_t))
{
    uint32_t id = table_id(ht);
    int64_t before = id ? table_size(ht) : 0;
    mp_map_ctx_t c = table_enter(id);
    f(ht);
    mp_map_ctx_leave(c);
    if (id) {
        mp_map_count_ops(id, 0, before);
        mp_dangling_clear(id);
        refresh(id, ht);
    }
}

HOOK void g_hash_table_remove_all(ht_t ht)
{
    void (*f)(ht_t) = MP_REAL(void (*)(ht_t), g_hash_table_remove_all);
    if (f) clear_op(ht, f);
}

HOOK void g_hash_table_steal_all(ht_t ht)
{
    void (*f)(ht_t) = MP_REAL(void (*)(ht_t), g_hash_table_steal_all);
    if (f) clear_op(ht, f);
}

/* unref and destroy: the table may or may not be finalized (other references). If the arrays
 * we attributed to it are all gone afterwards, it was. */
static void drop_op(ht_t ht, void (*f)(ht_t))
{
    uint32_t id = table_id(ht);
    mp_map_ctx_t c = table_enter(id);
    f(ht);
    mp_map_ctx_leave(c);
    if (id && mp_map_mem(id, MP_ROLE_BUCKET_ARRAY, 0, 0) <= 0) {
        mp_dangling_forget_map(id);
        mp_map_destroy_id(id);
    } else if (id) {
        refresh(id, ht);
    }
}

HOOK void g_hash_table_unref(ht_t ht)
{
    void (*f)(ht_t) = MP_REAL(void (*)(ht_t), g_hash_table_unref);
    if (f) drop_op(ht, f);
}

HOOK void g_hash_table_destroy(ht_t ht)
{
    void (*f)(ht_t) = MP_REAL(void (*)(ht_t), g_hash_table_destroy);
    if (f) drop_op(ht, f);
}
