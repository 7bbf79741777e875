/* Target program: hashmap/ maps on 4 threads at once under the profiler (pointer values, maps
 * created and destroyed, values freed after removal and some while still referenced), while
 * the main thread asks for dumps. Prints "ok N" with a checksum every run agrees on. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "hashmap/hashmap.h"
#include "profiler/mapprof.h"

enum { THREADS = 4, ROUNDS = 40, KEYS = 5000 };

static void *work(void *arg)
{
    uintptr_t id = (uintptr_t)arg, sum = 0;
    hm_type_t t = { sizeof(uint64_t), _Alignof(uint64_t), sizeof(void *), _Alignof(void *),
                    hm_hash_u64, hm_eq_u64, HM_VAL_POINTER };
    hm_map_t *keep = hm_new(&t, NULL);
    for (int r = 0; r < ROUNDS; r++) {
        hm_map_t *m = hm_new(&t, NULL);
        for (uint64_t k = 0; k < KEYS; k++) {
            uint64_t *v = malloc(sizeof *v);
            *v = k * id;
            hm_put(m, &k, &v, NULL);
        }
        for (uint64_t k = 0; k < KEYS; k += 2) {
            uint64_t **v = hm_get(m, &k);
            sum += **v;
            uint64_t *p = *v;
            hm_del(m, &k);
            free(p);
        }
        for (uint64_t k = 1; k < KEYS; k += 2) {
            uint64_t **v = hm_get(m, &k);
            if (k % 100 == 1) {             /* moved to the long-lived map */
                uint64_t key = (uint64_t)r * KEYS + k;
                hm_put(keep, &key, v, NULL);
            } else {
                free(*v);                   /* freed while still referenced: dangling */
            }
        }
        hm_free(m);
    }
    hm_iter_t it;
    void *k, *v;
    hm_iter_begin(keep, &it);
    while (hm_iter_next(&it, &k, &v)) { sum += **(uint64_t **)v; free(*(void **)v); }
    hm_free(keep);
    return (void *)sum;
}

int main(void)
{
    pthread_t th[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++) pthread_create(&th[i], NULL, work, (void *)(i + 1));
    for (int d = 0; d < 5; d++) mapprof_dump("during");
    uintptr_t total = 0;
    for (int i = 0; i < THREADS; i++) {
        void *s;
        pthread_join(th[i], &s);
        total += (uintptr_t)s;
    }
    printf("ok %lu\n", (unsigned long)total);
    return 0;
}
