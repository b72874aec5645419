/* pool.h -- geometry of 2-D pooling windows, PyTorch's rules.
 *   OH = floor((H + 2 ph - kh) / sh) + 1, or with ceil_mode
 *   OH = ceil((H + 2 ph - kh) / sh) + 1, minus one if the last window would
 *        start past the input and its left padding ((OH-1) sh >= H + ph).
 * Window (oh): rows [oh sh - ph, oh sh - ph + kh), clipped to the input.
 * PyTorch refuses padding larger than half the kernel. */
#ifndef NNC_KERNELS_POOL_H
#define NNC_KERNELS_POOL_H
#include "nnc.h"
#include <stdio.h>

typedef struct nnc_pool_geom {
    int64_t N, C, H, W, OH, OW;
    int64_t kh, kw, sh, sw, ph, pw;
    int count_include_pad;
} nnc_pool_geom;

/* Output extent of one dimension; <= 0 when the window does not fit. */
static inline int64_t nnc_pool_out_size(int64_t in, int64_t k, int64_t s, int64_t p, int ceil_mode) {
    int64_t num = in + 2 * p - k + (ceil_mode ? s - 1 : 0);
    if (num < 0) return 0;
    int64_t o = num / s + 1;
    if (ceil_mode && (o - 1) * s >= in + p) o--;
    return o;
}

/* Options with zero stride replaced by the kernel; 0 and a message when invalid. */
static inline int nnc_pool_normalize(nnc_pool2d_opts *o, char *msg, size_t size) {
    for (int i = 0; i < 2; i++) {
        if (o->kernel[i] <= 0 || o->stride[i] < 0 || o->pad[i] < 0) {
            snprintf(msg, size, "kernel %dx%d must be positive, stride %d,%d and padding %d,%d not negative", o->kernel[0],
                     o->kernel[1], o->stride[0], o->stride[1], o->pad[0], o->pad[1]);
            return 0;
        }
        if (o->pad[i] > o->kernel[i] / 2) {
            snprintf(msg, size, "padding %d,%d must be at most half the kernel %dx%d", o->pad[0], o->pad[1], o->kernel[0], o->kernel[1]);
            return 0;
        }
        if (o->stride[i] == 0) o->stride[i] = o->kernel[i];
    }
    o->ceil_mode = o->ceil_mode ? 1 : 0;
    o->count_include_pad = o->count_include_pad ? 1 : 0;
    return 1;
}

/* Geometry of x [N,C,H,W] under normalized options. */
static inline nnc_pool_geom nnc_pool_geometry(const nnc_tensor *x, const nnc_pool2d_opts *o) {
    nnc_pool_geom g;
    g.N = x->shape[0]; g.C = x->shape[1]; g.H = x->shape[2]; g.W = x->shape[3];
    g.kh = o->kernel[0]; g.kw = o->kernel[1];
    g.sh = o->stride[0]; g.sw = o->stride[1];
    g.ph = o->pad[0]; g.pw = o->pad[1];
    g.count_include_pad = o->count_include_pad;
    g.OH = nnc_pool_out_size(g.H, g.kh, g.sh, g.ph, o->ceil_mode);
    g.OW = nnc_pool_out_size(g.W, g.kw, g.sw, g.pw, o->ceil_mode);
    return g;
}
#endif
