/* bn_tile.h -- batch norm's kernels on one tile: 16 channels of one image,
 * between their plain rows (x, dx: channel k's row at x + k * L) and a
 * blocked [L][16] tile (oneDNN's nChw16c: position-major, 16 channels per
 * position). The folded batch norm writes its normalized output as such a
 * tile straight into a convolution's input slot, and its backward reads
 * the convolution's input gradient as one (ops/batchnorm.c). Every value
 * is bitwise what batchnorm.c's plain row kernels compute: the same
 * expressions, and the same 16 float lanes flushed to double every
 * NNC_BN_BLOCK positions for the sums. With AVX-512 a tile moves 16
 * positions at a time through registers (kernels/tile16.h). */
#ifndef NNC_KERNELS_BN_TILE_H
#define NNC_KERNELS_BN_TILE_H
#include <stdint.h>

#define NNC_BN_LANES 16   /* float lanes of the per-row sums */
#define NNC_BN_BLOCK 4096 /* positions between flushes of the lanes to double */

/* One tile: nc <= 16 real channels (the blocked tile holds zeros past
 * them) of L positions; x: channel k's row at x + k * L; mask: the fused
 * ReLU's bits of channel k at mask + k * mstride (bit l % 8 of byte l / 8),
 * NULL when there is none. */
typedef struct {
    const float *x;
    int64_t L;
    int nc;
    uint8_t *mask;
    int64_t mstride;
} nnc_bn_tile;

/* blk = max(0, .) of (x - fm) sc + sh per channel when relu (and its mask
 * bits into t->mask when not NULL), else (x - fm) sc + sh; zeros past nc. */
void nnc_bn_tile_normalize(const nnc_bn_tile *t, const float *fm, const float *sc, const float *sh, int relu, float *blk);

/* Per channel k < nc and chunk b of NNC_BN_BLOCK positions: s1[b * cs + k]
 * = sum dy, s2[b * cs + k] = sum dy (x - fm[k]), dy read from the blocked
 * tile dy through the mask when there is one. */
void nnc_bn_tile_sums(const nnc_bn_tile *t, const float *dy, const float *fm, double *s1, double *s2, int64_t cs);

/* dx (+)= fa dy + fb + fk (x - fm) per channel k < nc (row k at dx + k * L),
 * dy from the blocked tile through the mask when there is one. */
void nnc_bn_tile_dx(const nnc_bn_tile *t, const float *dy, float *dx, int acc, const float *fa, const float *fb, const float *fk,
                    const float *fm);
#endif
