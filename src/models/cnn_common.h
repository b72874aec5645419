/* cnn_common.h -- small helpers shared by the classic-CNN zoo builders
 * (alexnet.c, zfnet.c, vgg.c, nin.c, googlenet.c); internal, public API only. */
#ifndef NNC_MODELS_CNN_COMMON_H
#define NNC_MODELS_CNN_COMMON_H
#include "models/zoo.h"
#include <stdio.h>

/* Spatial size of a [N,C,H,W] node (shapes are inferred at build time). */
static inline int64_t cnn_dim(nnc_node *h, int axis) {
    nnc_tensor *t = nnc_node_value(h);
    return t && t->ndim == 4 ? t->shape[axis] : 0;
}

/* PyTorch's pooling output size (ceil_mode: the last window must start inside
 * the input or its left padding); 0 when the window does not fit. */
static inline int64_t cnn_pool_out(int64_t n, int k, int s, int p, int ceil_mode) {
    if (n + 2 * p < k) return 0;
    int64_t span = n + 2 * p - k, o = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (ceil_mode && (o - 1) * s >= n + p) o--;
    return o;
}

/* Max pooling k/s/p that is skipped (identity) when its output would be
 * smaller than min_out in either dimension: the small-input adaptation. */
static inline nnc_node *cnn_maxpool(nnc_graph *g, nnc_node *h, int k, int s, int p, int ceil_mode, int64_t min_out) {
    if (!h) return NULL;
    int64_t oh = cnn_pool_out(cnn_dim(h, 2), k, s, p, ceil_mode), ow = cnn_pool_out(cnn_dim(h, 3), k, s, p, ceil_mode);
    if (oh < min_out || ow < min_out || oh < 1 || ow < 1) return h;
    nnc_pool2d_opts po = {{k, k}, {s, s}, {p, p}, ceil_mode, 1};
    return nnc_maxpool2d(g, h, &po);
}

/* Uniform window (kernel k, stride s) equal to PyTorch's adaptive pooling
 * bins [floor(i n / t), ceil((i + 1) n / t)) of n -> t; 0 if none. */
static inline int cnn_adaptive_window(int64_t n, int64_t t, int *k, int *s) {
    if (n < t || t < 1) return 0;
    int64_t k0 = (n + t - 1) / t, s0 = t > 1 ? n / t : 1;
    for (int64_t i = 0; i < t; i++) {
        int64_t a = i * n / t, b = ((i + 1) * n + t - 1) / t;
        if (a != i * s0 || b - a != k0) return 0;
    }
    *k = (int)k0;
    *s = (int)s0;
    return 1;
}

/* AdaptiveAvgPool2d((t, t)) where it is a uniform average pooling (the map
 * is t x t, a multiple of t, or t + a few with stride 1, e.g. 7 -> 6, 8 -> 7);
 * otherwise the graph fails with a message naming the map size. */
static inline nnc_node *cnn_adaptive_avgpool(nnc_graph *g, nnc_node *h, int64_t t, const char *who) {
    if (!h) return NULL;
    int64_t H = cnn_dim(h, 2), W = cnn_dim(h, 3);
    if (H == t && W == t) return h;
    int kh, sh, kw, sw;
    if (!cnn_adaptive_window(H, t, &kh, &sh) || !cnn_adaptive_window(W, t, &kw, &sw)) {
        nnc_error(NNC_ERR_SHAPE, "%s: adaptive average pooling of a %lldx%lld map to %lldx%lld is not a uniform pooling "
                  "(supported: %lld, multiples of it, or windows of stride 1); choose another input size",
                  who, (long long)H, (long long)W, (long long)t, (long long)t, (long long)t);
        return NULL;
    }
    nnc_pool2d_opts po = {{kh, kw}, {sh, sw}, {0, 0}, 0, 1};
    return nnc_avgpool2d(g, h, &po);
}

/* The dropout rate: the option when >= 0, else the model's default. */
static inline float cnn_dropout_rate(const nnc_model_opts *o, float def) { return o->dropout >= 0 ? o->dropout : def; }
static inline nnc_node *cnn_dropout(nnc_graph *g, nnc_node *h, float p) { return h && p > 0 ? nnc_dropout(g, h, p) : h; }

/* Sets the initializers of the parameters created since index n0 (weight,
 * then bias); NULL keeps the layer's PyTorch default. */
static inline void cnn_set_inits(nnc_graph *g, int n0, const nnc_init *wi, const nnc_init *bi) {
    int n = nnc_graph_n_params(g);
    if (wi && n0 < n) nnc_param_set_init(nnc_graph_param_at(g, n0), *wi);
    if (bi && n0 + 1 < n) nnc_param_set_init(nnc_graph_param_at(g, n0 + 1), *bi);
}

/* Conv2d k x k (square stride, padding) with optional initializers. */
static inline nnc_node *cnn_conv(nnc_graph *g, nnc_node *x, const char *name, int64_t out, int k, int stride, int pad,
                                 int groups, int bias, const nnc_init *wi, const nnc_init *bi) {
    if (!x) return NULL;
    nnc_conv2d_opts co = {{stride, stride}, {pad, pad}, {1, 1}, groups};
    int n0 = nnc_graph_n_params(g);
    nnc_node *y = nnc_conv2d_layer(g, x, name, out, k, k, &co, bias);
    if (y) cnn_set_inits(g, n0, wi, bi);
    return y;
}
static inline nnc_node *cnn_linear(nnc_graph *g, nnc_node *x, const char *name, int64_t out, const nnc_init *wi,
                                   const nnc_init *bi) {
    if (!x) return NULL;
    int n0 = nnc_graph_n_params(g);
    nnc_node *y = nnc_linear_layer(g, x, name, out, 1);
    if (y) cnn_set_inits(g, n0, wi, bi);
    return y;
}
static inline nnc_node *cnn_relu(nnc_graph *g, nnc_node *x) { return x ? nnc_relu(g, x) : NULL; }
#endif
