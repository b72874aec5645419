/* conv.c -- im2col / col2im and the direct reference convolution. */
#include "kernels/conv.h"
#include <string.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

/* Short contiguous rows (an output row is often 10-30 floats): with
 * AVX-512 one masked load/store covers the tail instead of a scalar loop. */
static inline void copy_row(float *d, const float *s, int64_t n) {
#if defined(__AVX512F__)
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(d + i, _mm512_loadu_ps(s + i));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(d + i, m, _mm512_maskz_loadu_ps(m, s + i));
    }
#else
    for (int64_t i = 0; i < n; i++) d[i] = s[i];
#endif
}
static inline void add_row(float *d, const float *s, int64_t n) {
    /* plain loop: masked stores would block store forwarding between the
     * overlapping rows that consecutive kernel columns update */
    for (int64_t i = 0; i < n; i++) d[i] += s[i];
}

/* [lo, hi): the output positions o in [0, O) whose input index
 * o*stride + off falls inside [0, n). Empty ranges have lo == hi. */
static void valid_range(int64_t n, int64_t O, int64_t stride, int64_t off, int64_t *lo, int64_t *hi) {
    int64_t l = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int64_t h = n - 1 - off >= 0 ? (n - 1 - off) / stride + 1 : 0;
    if (h > O) h = O;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

void nnc_im2col(const nnc_conv_geom *g, int64_t C, const float *x, float *cols, int64_t ldc) {
    const int64_t H = g->H, W = g->W, OH = g->OH, OW = g->OW, sh = g->sh, sw = g->sw;
    for (int64_t c = 0; c < C; c++) {
        const float *xc = x + c * H * W;
        for (int64_t r = 0; r < g->R; r++) {
            int64_t hoff = r * g->dh - g->ph, oh_lo, oh_hi;
            valid_range(H, OH, sh, hoff, &oh_lo, &oh_hi);
            for (int64_t s = 0; s < g->S; s++) {
                int64_t woff = s * g->dw - g->pw, ow_lo, ow_hi;
                valid_range(W, OW, sw, woff, &ow_lo, &ow_hi);
                float *row = cols + ((c * g->R + r) * g->S + s) * ldc;
                if (oh_lo > 0) memset(row, 0, (size_t)(oh_lo * OW) * sizeof(float));
                for (int64_t oh = oh_lo; oh < oh_hi; oh++) {
                    float *o = row + oh * OW;
                    const float *xr = xc + (oh * sh + hoff) * W;
                    for (int64_t ow = 0; ow < ow_lo; ow++) o[ow] = 0;
                    if (sw == 1) {
                        if (ow_hi > ow_lo) copy_row(o + ow_lo, xr + ow_lo + woff, ow_hi - ow_lo);
                    } else {
                        for (int64_t ow = ow_lo; ow < ow_hi; ow++) o[ow] = xr[ow * sw + woff];
                    }
                    for (int64_t ow = ow_hi; ow < OW; ow++) o[ow] = 0;
                }
                if (oh_hi < OH) memset(row + oh_hi * OW, 0, (size_t)((OH - oh_hi) * OW) * sizeof(float));
            }
        }
    }
}

void nnc_col2im_add(const nnc_conv_geom *g, int64_t C, const float *cols, int64_t ldc, float *x) {
    const int64_t H = g->H, W = g->W, OH = g->OH, OW = g->OW, sh = g->sh, sw = g->sw;
    for (int64_t c = 0; c < C; c++) {
        float *xc = x + c * H * W;
        for (int64_t r = 0; r < g->R; r++) {
            int64_t hoff = r * g->dh - g->ph, oh_lo, oh_hi;
            valid_range(H, OH, sh, hoff, &oh_lo, &oh_hi);
            for (int64_t s = 0; s < g->S; s++) {
                int64_t woff = s * g->dw - g->pw, ow_lo, ow_hi;
                valid_range(W, OW, sw, woff, &ow_lo, &ow_hi);
                const float *row = cols + ((c * g->R + r) * g->S + s) * ldc;
                for (int64_t oh = oh_lo; oh < oh_hi; oh++) {
                    const float *o = row + oh * OW;
                    float *xr = xc + (oh * sh + hoff) * W;
                    if (sw == 1) {
                        if (ow_hi > ow_lo) add_row(xr + ow_lo + woff, o + ow_lo, ow_hi - ow_lo);
                    } else {
                        for (int64_t ow = ow_lo; ow < ow_hi; ow++) xr[ow * sw + woff] += o[ow];
                    }
                }
            }
        }
    }
}

void nnc_conv2d_ref(const nnc_conv_geom *g, const float *x, const float *w, const float *b, float *y) {
    const int64_t Cg = g->C / g->groups, Kg = g->K / g->groups;
    for (int64_t n = 0; n < g->N; n++)
        for (int64_t k = 0; k < g->K; k++) {
            int64_t c0 = k / Kg * Cg;
            for (int64_t oh = 0; oh < g->OH; oh++)
                for (int64_t ow = 0; ow < g->OW; ow++) {
                    double acc = b ? b[k] : 0.0;
                    for (int64_t c = 0; c < Cg; c++)
                        for (int64_t r = 0; r < g->R; r++) {
                            int64_t ih = oh * g->sh - g->ph + r * g->dh;
                            if (ih < 0 || ih >= g->H) continue;
                            for (int64_t s = 0; s < g->S; s++) {
                                int64_t iw = ow * g->sw - g->pw + s * g->dw;
                                if (iw < 0 || iw >= g->W) continue;
                                acc += (double)x[((n * g->C + c0 + c) * g->H + ih) * g->W + iw] *
                                       w[((k * Cg + c) * g->R + r) * g->S + s];
                            }
                        }
                    y[((n * g->K + k) * g->OH + oh) * g->OW + ow] = (float)acc;
                }
        }
}

void nnc_conv2d_ref_backward(const nnc_conv_geom *g, const float *x, const float *w, const float *dy,
                             float *dx, float *dw, float *db) {
    const int64_t Cg = g->C / g->groups, Kg = g->K / g->groups;
    if (db)
        for (int64_t k = 0; k < g->K; k++) {
            double acc = 0;
            for (int64_t n = 0; n < g->N; n++)
                for (int64_t p = 0; p < g->OH * g->OW; p++) acc += dy[(n * g->K + k) * g->OH * g->OW + p];
            db[k] = (float)acc;
        }
    if (dw)
        for (int64_t k = 0; k < g->K; k++) {
            int64_t c0 = k / Kg * Cg;
            for (int64_t c = 0; c < Cg; c++)
                for (int64_t r = 0; r < g->R; r++)
                    for (int64_t s = 0; s < g->S; s++) {
                        double acc = 0;
                        for (int64_t n = 0; n < g->N; n++)
                            for (int64_t oh = 0; oh < g->OH; oh++) {
                                int64_t ih = oh * g->sh - g->ph + r * g->dh;
                                if (ih < 0 || ih >= g->H) continue;
                                for (int64_t ow = 0; ow < g->OW; ow++) {
                                    int64_t iw = ow * g->sw - g->pw + s * g->dw;
                                    if (iw < 0 || iw >= g->W) continue;
                                    acc += (double)x[((n * g->C + c0 + c) * g->H + ih) * g->W + iw] *
                                           dy[((n * g->K + k) * g->OH + oh) * g->OW + ow];
                                }
                            }
                        dw[((k * Cg + c) * g->R + r) * g->S + s] = (float)acc;
                    }
        }
    if (dx)
        for (int64_t n = 0; n < g->N; n++)
            for (int64_t ci = 0; ci < g->C; ci++) {
                int64_t grp = ci / Cg, c = ci % Cg;
                for (int64_t ih = 0; ih < g->H; ih++)
                    for (int64_t iw = 0; iw < g->W; iw++) {
                        double acc = 0;
                        for (int64_t k = grp * Kg; k < (grp + 1) * Kg; k++)
                            for (int64_t r = 0; r < g->R; r++) {
                                int64_t th = ih + g->ph - r * g->dh; /* = oh * sh */
                                if (th < 0 || th % g->sh) continue;
                                int64_t oh = th / g->sh;
                                if (oh >= g->OH) continue;
                                for (int64_t s = 0; s < g->S; s++) {
                                    int64_t tw = iw + g->pw - s * g->dw;
                                    if (tw < 0 || tw % g->sw) continue;
                                    int64_t ow = tw / g->sw;
                                    if (ow >= g->OW) continue;
                                    acc += (double)w[((k * Cg + c) * g->R + r) * g->S + s] *
                                           dy[((n * g->K + k) * g->OH + oh) * g->OW + ow];
                                }
                            }
                        dx[((n * g->C + ci) * g->H + ih) * g->W + iw] = (float)acc;
                    }
            }
}
