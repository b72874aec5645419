/* conv3d.h -- 3-D convolution building blocks on plain NCDHW floats:
 * vol2col / col2vol for one volume, and a direct (naive, readable)
 * reference convolution with its backward, which tests compare the fast
 * path with.
 *
 * Geometry: input [C,D,H,W] per sample, weight [K, C/groups, T, R, S],
 * output [K, OD, OH, OW] with OD = (D + 2 pd - dd (T-1) - 1) / sd + 1 (likewise
 * OH, OW). The column matrix of one volume has C*T*R*S rows ordered
 * (c, t, r, s) and OD*OH*OW columns:
 *   cols[((c T + t) R + r) S + s][(od OH + oh) OW + ow]
 *     = x[c][od sd - pd + t dd][oh sh - ph + r dh][ow sw - pw + s dw]  (zero outside)
 * Rows of group g are the contiguous block [g Cg T R S, (g+1) Cg T R S). */
#ifndef NNC_KERNELS_CONV3D_H
#define NNC_KERNELS_CONV3D_H
#include <stdint.h>

typedef struct nnc_conv3d_geom {
    int64_t N, C, D, H, W;  /* input */
    int64_t K, T, R, S;     /* output channels, kernel depth, height, width */
    int64_t OD, OH, OW;     /* output */
    int64_t sd, sh, sw, pd, ph, pw, dd, dh, dw;
    int64_t groups;
} nnc_conv3d_geom;

/* cols [C*T*R*S, OD*OH*OW] of one volume x [C,D,H,W]. */
void nnc_vol2col(const nnc_conv3d_geom *g, const float *x, float *cols);
/* x [C,D,H,W] += fold(cols): the adjoint of nnc_vol2col. */
void nnc_col2vol_add(const nnc_conv3d_geom *g, const float *cols, float *x);
/* Direct convolution of the whole batch: y [N,K,OD,OH,OW] = x * w + b (b may be NULL). */
void nnc_conv3d_ref(const nnc_conv3d_geom *g, const float *x, const float *w, const float *b, float *y);
/* Its backward, overwriting dx, dw, db (each may be NULL to skip it). */
void nnc_conv3d_ref_backward(const nnc_conv3d_geom *g, const float *x, const float *w, const float *dy,
                             float *dx, float *dw, float *db);
#endif
