/* vmath.h -- branch-free float exp, sigmoid and tanh that the compiler can
 * vectorize inside `#pragma omp simd` loops (libm's expf/tanhf are scalar
 * calls: in the recurrent cells they took a third of the time).
 * exp: x = n ln2 + r with |r| <= ln2/2 (Cody-Waite two-part ln2), a degree-6
 * polynomial for e^r, 2^n from the exponent bits; max relative error ~2e-7
 * over [-87, 88]; inputs are clamped (no inf/NaN for finite input); NaN
 * stays NaN (the anomaly checks must still see it).
 * tanh: an odd Taylor polynomial below |x| = 0.1 (where 1 - e^{-2|x|}
 * would cancel), (1 - e)/(1 + e) with e = e^{-2|x|} above: ~5e-7 relative. */
#ifndef NNC_KERNELS_VMATH_H
#define NNC_KERNELS_VMATH_H
#include <stdint.h>
#include <string.h>

static inline float nnc_vexpf(float x) {
    const float x0 = x;
    x = x == x ? x : 0.0f; /* NaN: computed on 0, returned as NaN below */
    x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
    /* round to nearest by the 1.5*2^23 trick (vectorizes; |x log2 e| < 2^22) */
    const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    const float r = (x - n * 0.693145751953125f) - n * 1.428606765330187045e-06f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return x0 == x0 ? p * scale : x0;
}

static inline float nnc_vsigmoidf(float x) { return 1.0f / (1.0f + nnc_vexpf(-x)); }

static inline float nnc_vtanhf(float x) {
    const float ax = x < 0 ? -x : x;
    const float e = nnc_vexpf(-2.0f * ax);
    const float big = (1.0f - e) / (1.0f + e);
    const float x2 = ax * ax;
    /* x - x^3/3 + 2x^5/15 - 17x^7/315 + 62x^9/2835 */
    const float small = ax * (1.0f + x2 * (-1.0f / 3.0f + x2 * (2.0f / 15.0f + x2 * (-17.0f / 315.0f + x2 * (62.0f / 2835.0f)))));
    const float t = ax < 0.1f ? small : big;
    return x < 0 ? -t : t;
}
#endif
