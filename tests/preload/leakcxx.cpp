// Target program for the leak check: a whole heap-allocated std::unordered_map lost with 100
// entries (one finding), next to a healthy global one.
#include <cstdio>
#include <string>
#include <unordered_map>

std::unordered_map<int, int> global_ok;
void *volatile sink;

__attribute__((noinline)) void lose_map()
{
    auto *m = new std::unordered_map<int, std::string>();
    for (int i = 0; i < 100; i++) (*m)[i] = std::string(40, 'a' + i % 26);
    sink = m;
    sink = nullptr;
}

int main()
{
    for (int i = 0; i < 10; i++) global_ok[i] = i;
    lose_map();
    std::printf("truth entries_lost 100\n");
    return 0;
}
