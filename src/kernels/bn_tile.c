/* bn_tile.c -- batch norm's tile kernels (see bn_tile.h). Each runs its
 * AVX-512 loop over whole groups of 16 positions where the build has
 * AVX-512, and the portable loop over the rest (or everything). Both loops
 * spell the arithmetic exactly as batchnorm.c's row kernels do, so the
 * compiler contracts it into the same fused multiply-adds. */
#include "kernels/bn_tile.h"
#include "kernels/tile16.h"
#include <string.h>

static inline int bit(const uint8_t *m, int64_t l) { return (m[l >> 3] >> (l & 7)) & 1; }
static inline const uint8_t *mask_row(const nnc_bn_tile *t, int k) { return t->mask ? t->mask + k * t->mstride : NULL; }

#if defined(__AVX512F__)
#define PF 128 /* software prefetch distance in floats (8 groups ahead): the 16 rows are 16 streams */
static inline __mmask16 bits16(const uint8_t *m, int64_t l) {
    uint16_t b;
    memcpy(&b, m + l / 8, sizeof b); /* l % 16 == 0: positions l..l+15, low bit first */
    return (__mmask16)b;
}
/* 16 positions of the blocked tile from l, as 16 channel vectors: r[k] lane j = channel k at l + j */
static inline void load_channels(const float *blk, int64_t l, __m512 r[16]) {
    for (int p = 0; p < 16; p++) r[p] = _mm512_loadu_ps(blk + (l + p) * 16);
    nnc_tile16_transpose(r);
}
#endif

void nnc_bn_tile_normalize(const nnc_bn_tile *t, const float *fm, const float *sc, const float *sh, int relu, float *blk) {
    const int64_t L = t->L;
    const int nc = t->nc;
    int64_t l0 = 0;
#if defined(__AVX512F__)
    /* Streaming stores: the tile is written whole and read later by another
     * pass, so fetching its lines first (a plain store's read for
     * ownership) would only double the traffic: 5% of a DenseNet-BC-100
     * step. They need 64-byte alignment (a slot's tiles have it). */
    const int stream = ((uintptr_t)blk & 63) == 0;
    for (; l0 + 16 <= L; l0 += 16) {
        __m512 r[16];
        for (int k = 0; k < 16; k++) {
            if (k >= nc) {
                r[k] = _mm512_setzero_ps();
                continue;
            }
            const float *x = t->x + k * L + l0;
            _mm_prefetch((const char *)(x + PF), _MM_HINT_T0);
            __m512 v = _mm512_fmadd_ps(_mm512_sub_ps(_mm512_loadu_ps(x), _mm512_set1_ps(fm[k])), _mm512_set1_ps(sc[k]), _mm512_set1_ps(sh[k]));
            if (relu) {
                __mmask16 m = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ);
                v = _mm512_maskz_mov_ps(m, v);
                if (t->mask) {
                    uint16_t b = (uint16_t)m;
                    memcpy(t->mask + k * t->mstride + l0 / 8, &b, sizeof b);
                }
            }
            r[k] = v;
        }
        nnc_tile16_transpose(r);
        if (stream)
            for (int l = 0; l < 16; l++) _mm512_stream_ps(blk + (l0 + l) * 16, r[l]);
        else
            for (int l = 0; l < 16; l++) _mm512_storeu_ps(blk + (l0 + l) * 16, r[l]);
    }
#endif
    for (int64_t l = l0; l < L; l++)
        for (int k = 0; k < 16; k++) {
            float v = 0.0f;
            if (k < nc) {
                v = (t->x[k * L + l] - fm[k]) * sc[k] + sh[k];
                if (relu) v = v > 0 ? v : 0.0f;
            }
            blk[l * 16 + k] = v;
        }
#if defined(__AVX512F__)
    if (stream) _mm_sfence(); /* the streaming stores ordered before whatever the caller does next */
#endif
    if (relu && t->mask) /* the bytes from l0 on (l0 is a multiple of 8), the last one partial */
        for (int k = 0; k < nc; k++)
            for (int64_t b0 = l0; b0 < L; b0 += 8) {
                unsigned bits = 0;
                for (int64_t l = b0; l < L && l < b0 + 8; l++) {
                    float v = (t->x[k * L + l] - fm[k]) * sc[k] + sh[k];
                    bits |= (unsigned)(v > 0) << (l - b0);
                }
                t->mask[k * t->mstride + b0 / 8] = (uint8_t)bits;
            }
}

void nnc_bn_tile_sums(const nnc_bn_tile *t, const float *dy, const float *fm, double *s1, double *s2, int64_t cs) {
    const int64_t L = t->L;
    const int nc = t->nc;
    for (int64_t b0 = 0, b = 0; b0 < L; b0 += NNC_BN_BLOCK, b++) {
        const int64_t b1 = b0 + NNC_BN_BLOCK < L ? b0 + NNC_BN_BLOCK : L;
        float a1[16][NNC_BN_LANES], a2[16][NNC_BN_LANES];
        memset(a1, 0, sizeof a1);
        memset(a2, 0, sizeof a2);
        int64_t l = b0;
#if defined(__AVX512F__)
        __m512 A1[16], A2[16];
        for (int k = 0; k < 16; k++) A1[k] = A2[k] = _mm512_setzero_ps();
        for (; l + NNC_BN_LANES <= b1; l += NNC_BN_LANES) {
            __m512 r[16];
            load_channels(dy, l, r);
            for (int k = 0; k < nc; k++) {
                const float *x = t->x + k * L + l;
                _mm_prefetch((const char *)(x + PF), _MM_HINT_T0);
                __m512 d = t->mask ? _mm512_maskz_mov_ps(bits16(mask_row(t, k), l), r[k]) : r[k];
                A1[k] = _mm512_add_ps(A1[k], d);
                A2[k] = _mm512_fmadd_ps(d, _mm512_sub_ps(_mm512_loadu_ps(x), _mm512_set1_ps(fm[k])), A2[k]);
            }
        }
        for (int k = 0; k < nc; k++) {
            _mm512_storeu_ps(a1[k], A1[k]);
            _mm512_storeu_ps(a2[k], A2[k]);
        }
#else
        for (; l + NNC_BN_LANES <= b1; l += NNC_BN_LANES)
            for (int k = 0; k < nc; k++) {
                const uint8_t *m = mask_row(t, k);
                const float *x = t->x + k * L;
                for (int j = 0; j < NNC_BN_LANES; j++) {
                    float d = !m || bit(m, l + j) ? dy[(l + j) * 16 + k] : 0.0f;
                    a1[k][j] += d;
                    a2[k][j] += d * (x[l + j] - fm[k]);
                }
            }
#endif
        for (int k = 0; k < nc; k++) {
            const uint8_t *m = mask_row(t, k);
            const float *x = t->x + k * L;
            double t1 = 0, t2 = 0;
            for (int j = 0; j < NNC_BN_LANES; j++) { t1 += a1[k][j]; t2 += a2[k][j]; }
            for (int64_t p = l; p < b1; p++) {
                float d = !m || bit(m, p) ? dy[p * 16 + k] : 0.0f;
                t1 += d;
                t2 += (double)d * (x[p] - fm[k]);
            }
            s1[b * cs + k] = t1;
            s2[b * cs + k] = t2;
        }
    }
}

void nnc_bn_tile_dx(const nnc_bn_tile *t, const float *dy, float *dx, int acc, const float *fa, const float *fb, const float *fk,
                    const float *fm) {
    const int64_t L = t->L;
    const int nc = t->nc;
    int64_t l0 = 0;
#if defined(__AVX512F__)
    for (; l0 + 16 <= L; l0 += 16) {
        __m512 r[16];
        load_channels(dy, l0, r);
        for (int k = 0; k < nc; k++) {
            const float *x = t->x + k * L + l0;
            float *o = dx + k * L + l0;
            _mm_prefetch((const char *)(x + PF), _MM_HINT_T0);
            _mm_prefetch((const char *)(o + PF), _MM_HINT_T0);
            __m512 d = t->mask ? _mm512_maskz_mov_ps(bits16(mask_row(t, k), l0), r[k]) : r[k];
            __m512 v = _mm512_fmadd_ps(_mm512_set1_ps(fk[k]), _mm512_sub_ps(_mm512_loadu_ps(x), _mm512_set1_ps(fm[k])),
                                       _mm512_fmadd_ps(_mm512_set1_ps(fa[k]), d, _mm512_set1_ps(fb[k])));
            _mm512_storeu_ps(o, acc ? _mm512_add_ps(_mm512_loadu_ps(o), v) : v);
        }
    }
#endif
    for (int k = 0; k < nc; k++) {
        const uint8_t *m = mask_row(t, k);
        const float *x = t->x + k * L;
        float *o = dx + k * L;
        for (int64_t l = l0; l < L; l++) {
            float d = !m || bit(m, l) ? dy[l * 16 + k] : 0.0f, v = fa[k] * d + fb[k] + fk[k] * (x[l] - fm[k]);
            o[l] = acc ? o[l] + v : v;
        }
    }
}
