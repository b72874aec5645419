/* rng.c -- counter-based random numbers. A value depends only on
 * (seed, stream, counter), so dropout masks, shuffles and initial weights
 * are the same whatever the thread count or the order of evaluation.
 * The mixer is SplitMix64's finalizer applied in two keyed rounds. */
#include "nnc.h"
#include <math.h>

static inline uint64_t mix64(uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t nnc_rand_u64(uint64_t seed, uint64_t stream, uint64_t counter) {
    uint64_t key = mix64(seed ^ mix64(stream ^ 0x6a09e667f3bcc909ull));
    return mix64(key ^ mix64(counter + 0xbb67ae8584caa73bull));
}

float nnc_rand_uniform(uint64_t seed, uint64_t stream, uint64_t counter) {
    return (float)(nnc_rand_u64(seed, stream, counter) >> 40) * (1.0f / 16777216.0f);
}

float nnc_rand_normal(uint64_t seed, uint64_t stream, uint64_t counter) {
    /* Box-Muller on two 32-bit halves of one draw. */
    uint64_t r = nnc_rand_u64(seed, stream, counter);
    double u1 = ((double)(r >> 32) + 1.0) / 4294967297.0;
    double u2 = (double)(r & 0xffffffffu) / 4294967296.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}
