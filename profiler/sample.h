/* profiler/sample.h - Poisson sampling by bytes.
 *
 * Each thread counts down bytes to its next sample; the distance is drawn from an exponential
 * distribution with mean `rate`, so a block of s bytes is sampled with probability
 * 1 - exp(-s/rate) whatever the sizes around it, and a sampled block stands for
 * 1 / (1 - exp(-s/rate)) blocks (the unbiased weight, as Go's runtime uses). rate <= 1 samples
 * every allocation with weight 1. */
#ifndef MAPPROF_PROFILER_SAMPLE_H
#define MAPPROF_PROFILER_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

/* Fixed point used for the weighted counters: values are scaled by 2^MP_FIX_SHIFT. */
#define MP_FIX_SHIFT 8

/* Seed a thread's generator from the global seed and a thread ordinal. */
uint64_t mp_sample_seed(uint64_t seed, uint64_t ordinal);
/* Bytes to the next sample for mean rate; advances *rng. Returns 0 when rate <= 1. */
int64_t mp_sample_next(uint64_t *rng, uint64_t rate);
/* The weight of a sampled block of size bytes, in fixed point (weight * 2^MP_FIX_SHIFT). */
int64_t mp_sample_weight_fix(size_t size, uint64_t rate);

#endif
