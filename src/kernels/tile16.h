/* tile16.h -- 16x16 float tiles between plain rows and oneDNN's nChw16c.
 * A blocked tensor stores, per image and 16-channel block, one row of 16
 * channels per position: moving 16 plain channel rows into it (or back) is
 * a transposition of 16x16 tiles. With AVX-512 a tile is 16 registers,
 * transposed in four stages of 16 shuffles (no memory round trip). */
#ifndef NNC_KERNELS_TILE16_H
#define NNC_KERNELS_TILE16_H

#if defined(__AVX512F__)
#include <immintrin.h>

/* r[k] lane j = element (k, j) on entry, element (j, k) on return. */
static inline void nnc_tile16_transpose(__m512 r[16]) {
    __m512 t[16];
    /* rows 2i, 2i+1 interleaved: per 128-bit lane q, positions 4q, 4q+1 (lo)
     * and 4q+2, 4q+3 (hi) */
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* u[g][p] lane q: rows 4g..4g+3 at position 4q+p */
    __m512 u[4][4];
    for (int g = 0; g < 4; g++) {
        __m512d a = _mm512_castps_pd(t[4 * g]), b = _mm512_castps_pd(t[4 * g + 1]);
        __m512d c = _mm512_castps_pd(t[4 * g + 2]), d = _mm512_castps_pd(t[4 * g + 3]);
        u[g][0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        u[g][1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        u[g][2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        u[g][3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    /* position 4q+p: 128-bit lane g from u[g][p] lane q (a 4x4 transposition of lanes) */
    for (int p = 0; p < 4; p++) {
        __m512 v0 = _mm512_shuffle_f32x4(u[0][p], u[1][p], 0x44), v1 = _mm512_shuffle_f32x4(u[0][p], u[1][p], 0xEE);
        __m512 v2 = _mm512_shuffle_f32x4(u[2][p], u[3][p], 0x44), v3 = _mm512_shuffle_f32x4(u[2][p], u[3][p], 0xEE);
        r[p] = _mm512_shuffle_f32x4(v0, v2, 0x88);
        r[4 + p] = _mm512_shuffle_f32x4(v0, v2, 0xDD);
        r[8 + p] = _mm512_shuffle_f32x4(v1, v3, 0x88);
        r[12 + p] = _mm512_shuffle_f32x4(v1, v3, 0xDD);
    }
}
#endif

#endif
