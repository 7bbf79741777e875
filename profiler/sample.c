/* profiler/sample.c - exponential draws and unbiased weights (see sample.h). */
#include "profiler/sample.h"

#include <math.h>

uint64_t mp_sample_seed(uint64_t seed, uint64_t ordinal)
{
    /* splitmix64 of (seed, ordinal): distinct, well-mixed, never zero. */
    uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (ordinal + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return z ? z : 0x2545f4914f6cdd1dULL;
}

static uint64_t next_u64(uint64_t *s)
{
    /* xorshift64* */
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dULL;
}

int64_t mp_sample_next(uint64_t *rng, uint64_t rate)
{
    if (rate <= 1) return 0;
    /* u uniform in (0, 1]: 53 random bits, never zero, so log(u) is finite. */
    double u = ((double)(next_u64(rng) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double d = -log(u) * (double)rate;
    if (d < 1.0) d = 1.0;
    if (d > 9.0e18) d = 9.0e18;
    return (int64_t)d;
}

int64_t mp_sample_weight_fix(size_t size, uint64_t rate)
{
    if (rate <= 1 || size == 0) return (int64_t)1 << MP_FIX_SHIFT;
    double p = -expm1(-(double)size / (double)rate);   /* 1 - exp(-s/rate), accurate for small s */
    return llround((double)((int64_t)1 << MP_FIX_SHIFT) / p);
}
