/* Unit tests: the sampler's statistics. A simulated allocation stream is sampled with the same
 * countdown logic the hooks use; the weighted estimate must be unbiased, and the sampling
 * probability of a block of s bytes must be 1 - exp(-s/rate). */
#include <math.h>
#include <stdint.h>

#include "profiler/sample.h"
#include "tests/check.h"

/* Run the countdown over n blocks of the given size; return the estimated bytes and count
 * the samples. */
static double simulate(uint64_t seed, uint64_t rate, size_t size, long n, long *samples)
{
    uint64_t rng = mp_sample_seed(seed, 0);
    int64_t countdown = mp_sample_next(&rng, rate);
    double est = 0;
    *samples = 0;
    for (long i = 0; i < n; i++) {
        countdown -= (int64_t)size;
        if (countdown > 0) continue;
        countdown = mp_sample_next(&rng, rate);
        est += (double)mp_sample_weight_fix(size, rate) / (1 << MP_FIX_SHIFT) * (double)size;
        (*samples)++;
    }
    return est;
}

static void test_rate_one_samples_everything(void)
{
    long samples;
    double est = simulate(1, 1, 24, 1000, &samples);
    CHECK_EQ_INT(samples, 1000);
    CHECK(fabs(est - 24000) < 1e-6);
    CHECK_EQ_INT(mp_sample_weight_fix(100, 1), 1 << MP_FIX_SHIFT);
}

static void test_probability_matches_poisson(void)
{
    const uint64_t rate = 4096;
    const size_t sizes[] = { 16, 256, 4096, 20000 };
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        long n = 400000, samples;
        simulate(7 + k, rate, sizes[k], n, &samples);
        double p = 1 - exp(-(double)sizes[k] / rate);
        double expect = p * n, sd = sqrt(n * p * (1 - p));
        CHECKF(fabs(samples - expect) < 5 * sd + 1, "size %zu: %ld samples, expected %.0f +- %.0f",
               sizes[k], samples, expect, sd);
    }
}

static void test_unbiased_and_spread(void)
{
    /* 20 seeds, 10,000 x rate bytes each: every estimate within 5%, and the spread across
     * seeds as Poisson sampling predicts. */
    const uint64_t rate = 4096;
    const size_t size = 512;
    const long n = 10000L * rate / size;
    double truth = (double)n * size, sum = 0, sumsq = 0;
    double p = 1 - exp(-(double)size / rate);
    for (int seed = 1; seed <= 20; seed++) {
        long samples;
        double est = simulate((uint64_t)seed * 1000003, rate, size, n, &samples);
        double rel = est / truth - 1;
        CHECKF(fabs(rel) < 0.05, "seed %d: estimate off by %.2f%%", seed, rel * 100);
        sum += rel;
        sumsq += rel * rel;
    }
    double mean = sum / 20, sd = sqrt(sumsq / 20 - mean * mean);
    double predicted = sqrt((1 - p) / (n * p));
    CHECKF(sd > predicted * 0.5 && sd < predicted * 1.6, "spread %.4f, predicted %.4f", sd, predicted);
    CHECKF(fabs(mean) < 4 * predicted / sqrt(20), "mean bias %.4f", mean);
}

static void test_weight_values(void)
{
    /* weight = 1 / (1 - exp(-s/rate)), in fixed point */
    double w = (double)mp_sample_weight_fix(4096, 4096) / (1 << MP_FIX_SHIFT);
    CHECK(fabs(w - 1 / (1 - exp(-1.0))) < 0.01);
    w = (double)mp_sample_weight_fix(1, 524288) / (1 << MP_FIX_SHIFT);
    CHECK(fabs(w - 524288.5) < 1);
    w = (double)mp_sample_weight_fix((size_t)1 << 30, 524288) / (1 << MP_FIX_SHIFT);
    CHECK(fabs(w - 1) < 0.01);
}

int main(void)
{
    RUN(test_rate_one_samples_everything);
    RUN(test_probability_matches_poisson);
    RUN(test_unbiased_and_spread);
    RUN(test_weight_values);
    return check_done();
}
