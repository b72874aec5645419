/* conv3d.c -- vol2col / col2vol and the direct reference 3-D convolution. */
#include "kernels/conv3d.h"
#include <string.h>

void nnc_vol2col(const nnc_conv3d_geom *g, const float *x, float *cols) {
    const int64_t D = g->D, H = g->H, W = g->W, OD = g->OD, OH = g->OH, OW = g->OW, P = OD * OH * OW;
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t t = 0; t < g->T; t++)
            for (int64_t r = 0; r < g->R; r++)
                for (int64_t s = 0; s < g->S; s++) {
                    float *row = cols + (((c * g->T + t) * g->R + r) * g->S + s) * P;
                    for (int64_t od = 0; od < OD; od++) {
                        int64_t id = od * g->sd - g->pd + t * g->dd;
                        for (int64_t oh = 0; oh < OH; oh++) {
                            int64_t ih = oh * g->sh - g->ph + r * g->dh;
                            float *o = row + (od * OH + oh) * OW;
                            if (id < 0 || id >= D || ih < 0 || ih >= H) {
                                memset(o, 0, (size_t)OW * sizeof(float));
                                continue;
                            }
                            const float *xr = x + ((c * D + id) * H + ih) * W;
                            for (int64_t ow = 0; ow < OW; ow++) {
                                int64_t iw = ow * g->sw - g->pw + s * g->dw;
                                o[ow] = iw >= 0 && iw < W ? xr[iw] : 0.0f;
                            }
                        }
                    }
                }
}

void nnc_col2vol_add(const nnc_conv3d_geom *g, const float *cols, float *x) {
    const int64_t D = g->D, H = g->H, W = g->W, OD = g->OD, OH = g->OH, OW = g->OW, P = OD * OH * OW;
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t t = 0; t < g->T; t++)
            for (int64_t r = 0; r < g->R; r++)
                for (int64_t s = 0; s < g->S; s++) {
                    const float *row = cols + (((c * g->T + t) * g->R + r) * g->S + s) * P;
                    for (int64_t od = 0; od < OD; od++) {
                        int64_t id = od * g->sd - g->pd + t * g->dd;
                        if (id < 0 || id >= D) continue;
                        for (int64_t oh = 0; oh < OH; oh++) {
                            int64_t ih = oh * g->sh - g->ph + r * g->dh;
                            if (ih < 0 || ih >= H) continue;
                            const float *o = row + (od * OH + oh) * OW;
                            float *xr = x + ((c * D + id) * H + ih) * W;
                            for (int64_t ow = 0; ow < OW; ow++) {
                                int64_t iw = ow * g->sw - g->pw + s * g->dw;
                                if (iw >= 0 && iw < W) xr[iw] += o[ow];
                            }
                        }
                    }
                }
}

/* Input offset of (n, c, od+t, oh+r, ow+s), or -1 outside the input. */
static int64_t in_at(const nnc_conv3d_geom *g, int64_t n, int64_t c, int64_t od, int64_t oh, int64_t ow, int64_t t, int64_t r,
                     int64_t s) {
    int64_t id = od * g->sd - g->pd + t * g->dd, ih = oh * g->sh - g->ph + r * g->dh, iw = ow * g->sw - g->pw + s * g->dw;
    if (id < 0 || id >= g->D || ih < 0 || ih >= g->H || iw < 0 || iw >= g->W) return -1;
    return (((n * g->C + c) * g->D + id) * g->H + ih) * g->W + iw;
}

void nnc_conv3d_ref(const nnc_conv3d_geom *g, const float *x, const float *w, const float *b, float *y) {
    const int64_t Kg = g->K / g->groups, Cg = g->C / g->groups, TRS = g->T * g->R * g->S;
    for (int64_t n = 0; n < g->N; n++)
        for (int64_t k = 0; k < g->K; k++)
            for (int64_t od = 0; od < g->OD; od++)
                for (int64_t oh = 0; oh < g->OH; oh++)
                    for (int64_t ow = 0; ow < g->OW; ow++) {
                        double acc = b ? b[k] : 0.0;
                        int64_t c0 = k / Kg * Cg;
                        for (int64_t c = 0; c < Cg; c++)
                            for (int64_t t = 0; t < g->T; t++)
                                for (int64_t r = 0; r < g->R; r++)
                                    for (int64_t s = 0; s < g->S; s++) {
                                        int64_t i = in_at(g, n, c0 + c, od, oh, ow, t, r, s);
                                        if (i >= 0) acc += (double)w[(k * Cg + c) * TRS + (t * g->R + r) * g->S + s] * x[i];
                                    }
                        y[(((n * g->K + k) * g->OD + od) * g->OH + oh) * g->OW + ow] = (float)acc;
                    }
}

void nnc_conv3d_ref_backward(const nnc_conv3d_geom *g, const float *x, const float *w, const float *dy,
                             float *dx, float *dw, float *db) {
    const int64_t Kg = g->K / g->groups, Cg = g->C / g->groups, TRS = g->T * g->R * g->S;
    if (dx) memset(dx, 0, (size_t)(g->N * g->C * g->D * g->H * g->W) * sizeof(float));
    if (dw) memset(dw, 0, (size_t)(g->K * Cg * TRS) * sizeof(float));
    if (db) memset(db, 0, (size_t)g->K * sizeof(float));
    for (int64_t n = 0; n < g->N; n++)
        for (int64_t k = 0; k < g->K; k++)
            for (int64_t od = 0; od < g->OD; od++)
                for (int64_t oh = 0; oh < g->OH; oh++)
                    for (int64_t ow = 0; ow < g->OW; ow++) {
                        float d = dy[(((n * g->K + k) * g->OD + od) * g->OH + oh) * g->OW + ow];
                        if (db) db[k] += d;
                        int64_t c0 = k / Kg * Cg;
                        for (int64_t c = 0; c < Cg; c++)
                            for (int64_t t = 0; t < g->T; t++)
                                for (int64_t r = 0; r < g->R; r++)
                                    for (int64_t s = 0; s < g->S; s++) {
                                        int64_t i = in_at(g, n, c0 + c, od, oh, ow, t, r, s);
                                        if (i < 0) continue;
                                        int64_t wi = (k * Cg + c) * TRS + (t * g->R + r) * g->S + s;
                                        if (dx) dx[i] += w[wi] * d;
                                        if (dw) dw[wi] += x[i] * d;
                                    }
                    }
}
