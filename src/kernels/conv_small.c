/* conv_small.c -- direct convolution for few input channels (see
 * conv_small.h). Images are copied into a zero-padded buffer with 16 spare
 * columns, so every 16-wide load of a tile stays inside it. */
#include "kernels/conv_small.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>

typedef float v16 __attribute__((vector_size(64)));
#define LANES 16
#define KBF 6 /* output channels per forward register block (LeNet's 6 exactly) */
#define KBW 3 /* output channels per weight-gradient register block (3 x S <= 21 accumulators) */
#define CHUNK 8 /* images per weight-gradient partial sum */
#define MAX_S 7

/* v = 16 floats from p (unaligned); a macro, since passing vectors by value
 * changes the ABI where AVX-512 is not enabled. */
#define LD(v, p) memcpy(&(v), (p), sizeof(v))

int nnc_conv_small_ok(const nnc_conv_geom *g) {
    const char *e = getenv("NNC_CONV_SMALL");
    if (e && !strcmp(e, "0")) return 0;
    return g->groups == 1 && g->sh == 1 && g->sw == 1 && g->dh == 1 && g->dw == 1 && g->C >= 1 && g->C <= 4 && g->K >= 1 &&
           g->K <= 64 && g->S >= 1 && g->S <= MAX_S && g->OW >= 8 && g->OH >= 1;
}

/* Padded image geometry: rows HP, row stride WP (W + 2 pw + 16, rounded to 16). */
static int64_t hp_of(const nnc_conv_geom *g) { return g->H + 2 * g->ph; }
static int64_t wp_of(const nnc_conv_geom *g) { return (g->W + 2 * g->pw + LANES + 15) / 16 * 16; }
static size_t image_floats(const nnc_conv_geom *g) { return (size_t)(g->C * hp_of(g) * wp_of(g)); }
static int64_t kp_of(const nnc_conv_geom *g) { return (g->K + KBF - 1) / KBF * KBF; }
static size_t packed_floats(const nnc_conv_geom *g) { return (size_t)(g->C * g->R * g->S * kp_of(g)); }
static int64_t n_chunks(const nnc_conv_geom *g) { return (g->N + CHUNK - 1) / CHUNK; }
static size_t kcrs(const nnc_conv_geom *g) { return (size_t)(g->K * g->C * g->R * g->S); }
static size_t up16(size_t f) { return (f + 15) / 16 * 16; }
/* Output rows padded with zeros to whole tiles (the weight gradient's copy of dy). */
static int64_t owp_of(const nnc_conv_geom *g) { return (g->OW + LANES - 1) / LANES * LANES; }
static size_t dy_floats(const nnc_conv_geom *g) { return (size_t)(g->K * g->OH * owp_of(g)); }

size_t nnc_conv_small_ws(const nnc_conv_geom *g, int threads) {
    if (threads < 1) threads = 1;
    size_t fwd = up16(packed_floats(g)) + (size_t)threads * up16(image_floats(g));
    size_t bwd = up16((size_t)n_chunks(g) * kcrs(g)) + (size_t)threads * CHUNK * (up16(image_floats(g)) + up16(dy_floats(g)));
    return (fwd > bwd ? fwd : bwd) * sizeof(float) + 64;
}

/* Threads whose buffers (`per` floats each) fit after `fixed` floats of ws. */
static int threads_fitting(size_t per_floats, size_t fixed, size_t ws_bytes) {
    size_t per = per_floats * sizeof(float), have = ws_bytes > 64 + fixed * sizeof(float) ? ws_bytes - 64 - fixed * sizeof(float) : 0;
    int t = omp_get_max_threads();
    if ((size_t)t * per > have) t = (int)(have / per);
    return t;
}

static float *aligned(void *ws) { return (float *)(((uintptr_t)ws + 63) & ~(uintptr_t)63); }

static void pad_image(const nnc_conv_geom *g, const float *x, float *xp) {
    const int64_t HP = hp_of(g), WP = wp_of(g);
    memset(xp, 0, image_floats(g) * sizeof(float));
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t h = 0; h < g->H; h++)
            memcpy(xp + (c * HP + h + g->ph) * WP + g->pw, x + (c * g->H + h) * g->W, (size_t)g->W * sizeof(float));
}

/* ------------------------------------------------------------------ forward */
static void forward_image(const nnc_conv_geom *g, const float *xp, const float *wp, const float *b, float *y) {
    const int64_t HP = hp_of(g), WP = wp_of(g), KP = kp_of(g), R = g->R, S = g->S, P = g->OH * g->OW;
    for (int64_t oh = 0; oh < g->OH; oh++)
        for (int64_t ow0 = 0; ow0 < g->OW; ow0 += LANES) {
            int64_t nv = g->OW - ow0 < LANES ? g->OW - ow0 : LANES;
            for (int64_t kb = 0; kb < g->K; kb += KBF) {
                v16 acc[KBF];
                for (int j = 0; j < KBF; j++) {
                    float bj = b && kb + j < g->K ? b[kb + j] : 0.0f;
                    acc[j] = (v16){0} + bj;
                }
                for (int64_t c = 0; c < g->C; c++)
                    for (int64_t r = 0; r < R; r++) {
                        const float *row = xp + (c * HP + oh + r) * WP + ow0, *wr = wp + (c * R + r) * S * KP + kb;
                        for (int64_t s = 0; s < S; s++) {
                            v16 xv;
                            LD(xv, row + s);
                            const float *wk = wr + s * KP;
                            for (int j = 0; j < KBF; j++) acc[j] += wk[j] * xv;
                        }
                    }
                for (int j = 0; j < KBF && kb + j < g->K; j++) {
                    float *dst = y + (kb + j) * P + oh * g->OW + ow0;
                    if (nv == LANES) memcpy(dst, &acc[j], sizeof acc[j]);
                    else
                        for (int64_t i = 0; i < nv; i++) dst[i] = acc[j][i];
                }
            }
        }
}

void nnc_conv_small_forward(const nnc_conv_geom *g, const float *x, const float *w, const float *b, float *y, void *ws,
                            size_t ws_bytes) {
    const int64_t KP = kp_of(g), RS = g->R * g->S;
    float *wp = aligned(ws), *images = wp + up16(packed_floats(g));
    /* weights as [c][r][s][k], k padded to a multiple of KBF with zeros */
    memset(wp, 0, packed_floats(g) * sizeof(float));
    for (int64_t k = 0; k < g->K; k++)
        for (int64_t c = 0; c < g->C; c++)
            for (int64_t rs = 0; rs < RS; rs++) wp[(c * RS + rs) * KP + k] = w[(k * g->C + c) * RS + rs];
    int nt = threads_fitting(up16(image_floats(g)), up16(packed_floats(g)), ws_bytes);
    if (nt < 1) nt = 1; /* the planner always sizes for at least one */
    const int64_t xs = g->C * g->H * g->W, ys = g->K * g->OH * g->OW;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t n = 0; n < g->N; n++) {
        float *xp = images + (size_t)omp_get_thread_num() * up16(image_floats(g));
        pad_image(g, x + n * xs, xp);
        forward_image(g, xp, wp, b, y + n * ys);
    }
}

/* ------------------------------------------------------- weight gradient */
static inline float hsum(const v16 *v) {
    float s = 0;
    for (int i = 0; i < LANES; i++) s += (*v)[i];
    return s;
}

/* part[k][c][r][s] += this image's products, for a compile-time kernel width. */
#define DW_IMAGE(SW)                                                                                                       \
    static void dw_image_##SW(const nnc_conv_geom *g, const float *xps, const float *dyps, int64_t nimg, float *part) {  \
        const int64_t HP = hp_of(g), WP = wp_of(g), R = g->R, OWP = owp_of(g), P = g->OH * OWP;                          \
        const size_t xstride = up16(image_floats(g)), dstride = up16(dy_floats(g));                                      \
        for (int64_t c = 0; c < g->C; c++)                                                                                \
            for (int64_t r = 0; r < R; r++)                                                                               \
                for (int64_t kb = 0; kb < g->K; kb += KBW) {                                                              \
                    v16 acc[KBW][SW];                                                                                     \
                    for (int j = 0; j < KBW; j++)                                                                         \
                        for (int s = 0; s < SW; s++) acc[j][s] = (v16){0};                                                \
                    for (int64_t im = 0; im < nimg; im++)                                                                 \
                    for (int64_t oh = 0; oh < g->OH; oh++) {                                                              \
                        const float *xp = xps + (size_t)im * xstride, *dyp = dyps + (size_t)im * dstride;                \
                        const float *rowx = xp + (c * HP + oh + r) * WP;                                                  \
                        for (int64_t ow0 = 0; ow0 < OWP; ow0 += LANES) {                                                  \
                            v16 d[KBW];                                                                                   \
                            for (int j = 0; j < KBW; j++)                                                                 \
                            {                                                                                         \
                                d[j] = (v16){0};                                                                          \
                                if (kb + j < g->K) LD(d[j], dyp + (kb + j) * P + oh * OWP + ow0);                         \
                            }                                                                                             \
                            for (int s = 0; s < SW; s++) {                                                                \
                                v16 xv;                                                                                   \
                                LD(xv, rowx + ow0 + s);                                                                   \
                                for (int j = 0; j < KBW; j++) acc[j][s] += d[j] * xv;                                     \
                            }                                                                                             \
                        }                                                                                                 \
                    }                                                                                                     \
                    for (int j = 0; j < KBW && kb + j < g->K; j++)                                                        \
                        for (int s = 0; s < SW; s++) part[(((kb + j) * g->C + c) * R + r) * SW + s] += hsum(&acc[j][s]);    \
                }                                                                                                         \
    }
DW_IMAGE(1)
DW_IMAGE(2)
DW_IMAGE(3)
DW_IMAGE(4)
DW_IMAGE(5)
DW_IMAGE(6)
DW_IMAGE(7)

typedef void (*dw_fn)(const nnc_conv_geom *, const float *, const float *, int64_t, float *);
static const dw_fn dw_image[MAX_S + 1] = {NULL, dw_image_1, dw_image_2, dw_image_3, dw_image_4, dw_image_5, dw_image_6, dw_image_7};

void nnc_conv_small_backward_weights(const nnc_conv_geom *g, const float *x, const float *dy, float *dw, int acc, void *ws,
                                     size_t ws_bytes) {
    const int64_t nc = n_chunks(g), xs = g->C * g->H * g->W, ys = g->K * g->OH * g->OW;
    const size_t F = kcrs(g);
    float *parts = aligned(ws), *images = parts + up16((size_t)nc * F);
    const size_t per = CHUNK * (up16(image_floats(g)) + up16(dy_floats(g)));
    int nt = threads_fitting(per, up16((size_t)nc * F), ws_bytes);
    if (nt < 1) nt = 1;
    dw_fn fn = dw_image[g->S];
    const int64_t OWP = owp_of(g), rows = g->K * g->OH;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t ch = 0; ch < nc; ch++) {
        /* the chunk's images padded side by side, then their dy rows padded to whole tiles */
        float *xps = images + (size_t)omp_get_thread_num() * per, *dyps = xps + CHUNK * up16(image_floats(g));
        float *part = parts + (size_t)ch * F;
        memset(part, 0, F * sizeof(float));
        int64_t n0 = ch * CHUNK, cnt = g->N - n0 < CHUNK ? g->N - n0 : CHUNK;
        for (int64_t i = 0; i < cnt; i++) {
            float *dyp = dyps + (size_t)i * up16(dy_floats(g));
            pad_image(g, x + (n0 + i) * xs, xps + (size_t)i * up16(image_floats(g)));
            memset(dyp, 0, dy_floats(g) * sizeof(float));
            for (int64_t r = 0; r < rows; r++) memcpy(dyp + r * OWP, dy + (n0 + i) * ys + r * g->OW, (size_t)g->OW * sizeof(float));
        }
        fn(g, xps, dyps, cnt, part);
    }
    /* chunks in order: the sum does not depend on the thread count */
    for (size_t i = 0; i < F; i++) {
        float s = acc ? dw[i] : 0.0f;
        for (int64_t ch = 0; ch < nc; ch++) s += parts[(size_t)ch * F + i];
        dw[i] = s;
    }
}
