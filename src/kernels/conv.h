/* conv.h -- 2-D convolution building blocks on plain NCHW floats:
 * im2col / col2im for one image, and a direct (naive, readable) reference
 * convolution with its backward, which tests compare the fast path with.
 *
 * Geometry: input [C,H,W] per image, weight [K, C/groups, R, S], output
 * [K, OH, OW] with OH = (H + 2 ph - dh (R-1) - 1) / sh + 1 (likewise OW).
 * The column matrix of one image has C*R*S rows ordered (c, r, s) and OH*OW
 * columns: cols[(c R + r) S + s][oh OW + ow] = x[c][oh sh - ph + r dh][ow sw - pw + s dw]
 * (zero outside the input). Rows of group g are the contiguous block
 * [g Cg R S, (g+1) Cg R S). */
#ifndef NNC_KERNELS_CONV_H
#define NNC_KERNELS_CONV_H
#include <stdint.h>

typedef struct nnc_conv_geom {
    int64_t N, C, H, W;     /* input */
    int64_t K, R, S;        /* output channels, kernel height, width */
    int64_t OH, OW;         /* output */
    int64_t sh, sw, ph, pw, dh, dw;
    int64_t groups;
    int64_t ybs;            /* elements from one image of y (and dy) to the next; 0: K*OH*OW
                               (y a window of a wider buffer: conv2d and oneDNN only) */
} nnc_conv_geom;

/* Output extent for one dimension; <= 0 when the kernel does not fit. */
static inline int64_t nnc_conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dil) {
    int64_t span = in + 2 * pad - dil * (k - 1) - 1;
    return span < 0 ? 0 : span / stride + 1;
}

/* cols [C*R*S, OH*OW] of one image x [C,H,W] (C is the number of channels
 * to unfold, usually g->C); ldc >= OH*OW is the row stride of cols, so the
 * columns of several images can sit side by side. */
void nnc_im2col(const nnc_conv_geom *g, int64_t C, const float *x, float *cols, int64_t ldc);
/* x [C,H,W] += fold(cols): the adjoint of nnc_im2col. */
void nnc_col2im_add(const nnc_conv_geom *g, int64_t C, const float *cols, int64_t ldc, float *x);

/* Direct convolution of the whole batch: y [N,K,OH,OW] = x * w + b (b may be NULL). */
void nnc_conv2d_ref(const nnc_conv_geom *g, const float *x, const float *w, const float *b, float *y);
/* Its backward, overwriting: dx [N,C,H,W], dw [K,C/groups,R,S], db [K]
 * (each may be NULL to skip it). */
void nnc_conv2d_ref_backward(const nnc_conv_geom *g, const float *x, const float *w, const float *dy,
                             float *dx, float *dw, float *db);
#endif
