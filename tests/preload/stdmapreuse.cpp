// Target program: a map inside a heap object is destroyed, and a new map on the stack gets its
// bucket array's address (same size, malloc hands the block back). The dead object's memory
// still holds that address and the bucket count; the live map is the one to report. Prints
// "map NAME entries bucket_count stack|heap" before each dump; exits 77 when the array was not
// reused.
#include <cstdio>
#include <unordered_map>

#include "profiler/mapprof.h"

struct holder {
    long pad[4];
    std::unordered_map<int, int> m;
};

int main()
{
    holder *h = new holder;
    for (int i = 0; i < 10; i++) h->m[i] = i;
    void *array = *(void **)&h->m;
    std::printf("map first %zu %zu heap\n", h->m.size(), h->m.bucket_count());
    std::fflush(stdout);
    mapprof_dump("first");
    delete h;
    std::unordered_map<int, int> local;
    for (int i = 0; i < 3; i++) local[i] = i;
    if (*(void **)&local != array) return 77;
    std::printf("map second %zu %zu stack\n", local.size(), local.bucket_count());
    std::fflush(stdout);
    mapprof_dump("second");
    return 0;
}
