/* tests/unit/hashmap_lookup.c - how the library finds a profiler with no change to the program:
 * this program defines HM_HOOKS_SYMBOL (exported: linked with -rdynamic), as a preloaded
 * libmapprof.so would; the first hm_new looks it up with dlsym once, even when several threads
 * create their first maps at the same moment; hm_set_hooks overrides it. A listener of the
 * first interface (mapprof_hashmap_hooks, whose hooks took other arguments) is never used. */
#include <stdatomic.h>
#include <stdint.h>

#include "hashmap/hashmap.h"
#include "tests/check.h"
#include "tests/together.h"

static atomic_int lookups, created, counts, old_lookups;

static uint64_t on_created(const hm_map_t *m, const hm_map_info_t *info)
{
    (void)m;
    (void)info;
    atomic_fetch_add(&created, 1);
    return 0;
}
static void on_count(const hm_map_t *m, size_t n)
{
    (void)m;
    (void)n;
    atomic_fetch_add(&counts, 1);
}
static const hm_hooks_t found_hooks = { .created = on_created, .count = on_count };

/* What a profiler exports. */
const hm_hooks_t *mapprof_hashmap_hooks_v2(void);
const hm_hooks_t *mapprof_hashmap_hooks_v2(void)
{
    atomic_fetch_add(&lookups, 1);
    return &found_hooks;
}

/* What a profiler built for the first interface exported. */
const void *mapprof_hashmap_hooks(void);
const void *mapprof_hashmap_hooks(void)
{
    atomic_fetch_add(&old_lookups, 1);
    return NULL;
}

static const hm_type_t u64_type = { 8, 8, 8, 8, hm_hash_u64, hm_eq_u64, 0 };
#define NT 8
static hm_map_t *maps[NT];

static void *first_maps(void *arg)
{
    intptr_t i = (intptr_t)arg;
    maps[i] = hm_new(&u64_type, NULL);
    uint64_t k = (uint64_t)i;
    hm_put(maps[i], &k, &k, NULL);
    return NULL;
}

static void test_found_once(void)
{
    together(NT, first_maps);
    CHECK_EQ_INT(atomic_load(&lookups), 1);
    CHECK_EQ_INT(atomic_load(&old_lookups), 0);
    CHECK_EQ_INT(atomic_load(&created), NT);
    CHECK_EQ_INT(atomic_load(&counts), NT);
    hm_map_t *m = hm_new(&u64_type, NULL);
    CHECK_EQ_INT(atomic_load(&lookups), 1);
    CHECK_EQ_INT(atomic_load(&created), NT + 1);
    hm_free(m);
}

static void test_set_hooks_overrides(void)
{
    hm_set_hooks(NULL);
    int c = atomic_load(&counts), cr = atomic_load(&created);
    hm_map_t *m = hm_new(&u64_type, NULL);
    for (uint64_t k = 0; k < 100; k++) {
        hm_put(m, &k, &k, NULL);
        hm_put(maps[0], &k, &k, NULL);
    }
    CHECK_EQ_INT(atomic_load(&counts), c);
    CHECK_EQ_INT(atomic_load(&created), cr);
    CHECK_EQ_INT(atomic_load(&lookups), 1);
    hm_free(m);
    for (int i = 0; i < NT; i++) hm_free(maps[i]);
}

int main(void)
{
    RUN(test_found_once);
    RUN(test_set_hooks_overrides);
    return check_done();
}
