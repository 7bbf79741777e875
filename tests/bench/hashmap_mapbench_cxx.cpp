// hashmap_mapbench_cxx.cpp - the std::unordered_map<uint64_t, uint64_t> side of the map
// benchmark, used the way programs use it: no reserve, m[k] = v, find, erase(key), range-for.
// The default std::hash<uint64_t> is the identity in libstdc++ (buckets are a prime modulus,
// so random keys spread well); the "mix" variant hashes with mb_mix (libstdc++ takes a user
// hash for fast, so neither variant caches hash codes: both nodes are next, key, value).
#include "hashmap_mapbench.h"

#include <unordered_map>

namespace {

struct mix_hash {
    size_t operator()(uint64_t k) const noexcept { return mb_mix(k); }
};

template <class Map>
void run(const mb_keys_t *k, long reps, mb_result_t *r)
{
    const size_t n = k->n;
    for (long rep = 0; rep < reps; rep++) {
        double t0 = mb_now();
        Map *m = new Map;
        for (size_t i = 0; i < n; i++) (*m)[k->keys[i]] = MB_VALUE(k->keys[i]);
        double t1 = mb_now();
        uint64_t s = 0;
        for (size_t i = 0; i < n; i++) {
            auto it = m->find(k->hits[i]);
            if (it != m->end()) s += it->second;
        }
        double t2 = mb_now();
        r->hit_sum += s;
        s = 0;
        for (size_t i = 0; i < n; i++) {
            auto it = m->find(k->miss[i]);
            if (it != m->end()) s += it->second;
        }
        double t3 = mb_now();
        r->miss_sum += s;
        s = 0;
        uint64_t c = 0;
        for (const auto &e : *m) {
            s += e.second;
            c++;
        }
        double t4 = mb_now();
        r->iter_sum += s;
        r->iter_count += c;
        uint64_t d = 0;
        for (size_t i = 0; i < n; i++) d += m->erase(k->hits[i]);
        double t5 = mb_now();
        r->deleted += d;
        delete m;
        r->seconds[MB_INSERT] += t1 - t0;
        r->seconds[MB_HIT] += t2 - t1;
        r->seconds[MB_MISS] += t3 - t2;
        r->seconds[MB_ITER] += t4 - t3;
        r->seconds[MB_DELETE] += t5 - t4;
    }
}

template <class Map>
size_t build(const mb_keys_t *k)
{
    Map *m = new Map;  // left alive: the caller measures it and exits
    for (size_t i = 0; i < k->n; i++) (*m)[k->keys[i]] = MB_VALUE(k->keys[i]);
    return m->size();
}

}  // namespace

extern "C" void mb_umap_run(const mb_keys_t *k, long reps, int mix, mb_result_t *r)
{
    if (mix)
        run<std::unordered_map<uint64_t, uint64_t, mix_hash>>(k, reps, r);
    else
        run<std::unordered_map<uint64_t, uint64_t>>(k, reps, r);
}

extern "C" size_t mb_umap_build(const mb_keys_t *k, int mix)
{
    if (mix) return build<std::unordered_map<uint64_t, uint64_t, mix_hash>>(k);
    return build<std::unordered_map<uint64_t, uint64_t>>(k);
}
