// Benchmark workload: std::unordered_map<std::string, std::vector<long>> churn, the C++ twin of
// churn.c. Inserts a wave of string keys (longer than the small-string buffer, so every key is
// a heap block), looks a third of them up, erases 90% and keeps the rest alive.
// usage: cxxchurn [OPS_MILLIONS]   (may be fractional)
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_map>
#include <vector>

int main(int argc, char **argv)
{
    double millions = argc > 1 ? std::atof(argv[1]) : 4;
    long ops = (long)(millions * 1e6), wave = 200000, sum = 0;
    std::unordered_map<std::string, std::vector<long>> m;
    char key[64];
    for (long done = 0, base = 0; done < ops; base += wave) {
        for (long i = 0; i < wave && done < ops; i++, done++) {
            std::snprintf(key, sizeof key, "user:%ld:session", base + i);
            m[key].push_back(base + i);
        }
        for (long i = 0; i < wave; i += 3) {
            std::snprintf(key, sizeof key, "user:%ld:session", base + i);
            auto it = m.find(key);
            if (it != m.end()) sum += it->second[0];
        }
        for (long i = 0; i < wave && done < ops; i++, done++) {
            if (i % 10 == 0) continue;
            std::snprintf(key, sizeof key, "user:%ld:session", base + i);
            m.erase(key);
        }
    }
    std::printf("cxxchurn: %zu entries, %zu buckets, checksum %ld\n", m.size(), m.bucket_count(), sum);
    return 0;
}
