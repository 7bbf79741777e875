// Target program: a global std::unordered_map grown to 1,000,000 entries and erased down to
// 100 (its bucket array is retained), a healthy small map, and a map on the heap. Prints
// "map NAME entries bucket_count bucket_bytes" for each as the truth.
#include <cstdio>
#include <string>
#include <unordered_map>

#include "profiler/mapprof.h"

std::unordered_map<long, long> big;
std::unordered_map<long, std::string> small;

int main()
{
    for (long i = 0; i < 1000000; i++) big[i] = i;
    for (long i = 100; i < 1000000; i++) big.erase(i);
    for (long i = 0; i < 50; i++) small[i] = std::string(30, 'x');
    auto *heap = new std::unordered_map<int, int>();
    for (int i = 0; i < 5000; i++) (*heap)[i] = i;
    std::printf("map big %zu %zu %zu\n", big.size(), big.bucket_count(), big.bucket_count() * sizeof(void *));
    std::printf("map small %zu %zu %zu\n", small.size(), small.bucket_count(), small.bucket_count() * sizeof(void *));
    std::printf("map heap %zu %zu %zu\n", heap->size(), heap->bucket_count(), heap->bucket_count() * sizeof(void *));
    std::fflush(stdout);
    mapprof_dump("maps");
    delete heap;
    return 0;
}
