/* locally_connected2d.c -- 2-D "convolution" with unshared weights: every
 * output position p = oh*OW + ow has its own filter bank.
 *   forward:  y[n,k,oh,ow] = b[k,oh,ow] + sum_{c,r,s} w[p,k,(c R + r) S + s] x[n,c,oh sh - ph + r, ow sw - pw + s]
 *   backward: dx, dw, db of that sum (zero padding contributes nothing).
 * Layout: weight [OH*OW, K, C*R*S] -- for each output position, the K x (C*R*S)
 * matrix a conv2d weight [K,C,R,S] would be, with the same (c, r, s) order;
 * bias [K, OH, OW]. OH/OW follow conv2d's formula, so the weight depends on
 * the input size. Backward reads x and w. Direct loops; parallel over
 * (sample, map) forward, samples for dx, positions for dw, maps for db.
 * PyTorch has no such module (Keras' LocallyConnected2D; Taigman et al. 2014). */
#include "ops/op.h"
#include <math.h>

typedef struct { int64_t N, C, H, W, K, R, S, OH, OW, sh, sw, ph, pw; } lgeom;

static int64_t osize(int64_t in, int64_t k, int64_t s, int64_t p) {
    int64_t span = in + 2 * p - k;
    return span < 0 ? 0 : span / s + 1;
}

/* the kernel size is not in the weight shape ([P, K, C*R*S]), so the attrs keep it */
typedef struct { int stride[2], pad[2], kh, kw; } lc_node_attrs;

static lgeom geom_of(const nnc_node *n) {
    const lc_node_attrs *a = NNC_ATTRS(n, lc_node_attrs);
    const nnc_tensor *x = &n->in[0]->out, *w = &n->in[1]->out;
    lgeom g;
    g.N = x->shape[0]; g.C = x->shape[1]; g.H = x->shape[2]; g.W = x->shape[3];
    g.K = w->ndim == 3 ? w->shape[1] : 0; g.R = a->kh; g.S = a->kw;
    g.sh = a->stride[0]; g.sw = a->stride[1]; g.ph = a->pad[0]; g.pw = a->pad[1];
    g.OH = osize(g.H, g.R, g.sh, g.ph);
    g.OW = osize(g.W, g.S, g.sw, g.pw);
    return g;
}

static nnc_status lc_infer(nnc_node *n) {
    const nnc_tensor *x = &n->in[0]->out, *w = &n->in[1]->out;
    char d[160], s1[64], s2[64];
    if (x->dtype != NNC_F32 || x->ndim != 4)
        return nnc_error(NNC_ERR_SHAPE, "%s: input must be f32 [N, C, H, W], got %s %s", nnc_node_desc(n, d, sizeof d),
                         nnc_dtype_name(x->dtype), nnc_shape_str(x, s1, sizeof s1));
    lgeom g = geom_of(n);
    if (g.R > g.H + 2 * g.ph || g.S > g.W + 2 * g.pw)
        return nnc_error(NNC_ERR_SHAPE, "%s: kernel %lldx%lld is larger than the padded input %s (padding %lld,%lld)",
                         nnc_node_desc(n, d, sizeof d), (long long)g.R, (long long)g.S, nnc_shape_str(x, s1, sizeof s1), (long long)g.ph,
                         (long long)g.pw);
    if (w->dtype != NNC_F32 || w->ndim != 3 || w->shape[0] != g.OH * g.OW || w->shape[2] != g.C * g.R * g.S)
        return nnc_error(NNC_ERR_SHAPE, "%s: weight %s must be f32 [OH*OW = %lld, K, C*R*S = %lld] for input %s",
                         nnc_node_desc(n, d, sizeof d), nnc_shape_str(w, s1, sizeof s1), (long long)(g.OH * g.OW),
                         (long long)(g.C * g.R * g.S), nnc_shape_str(x, s2, sizeof s2));
    if (n->n_in == 3) {
        const nnc_tensor *b = &n->in[2]->out;
        if (b->dtype != NNC_F32 || b->ndim != 3 || b->shape[0] != g.K || b->shape[1] != g.OH || b->shape[2] != g.OW)
            return nnc_error(NNC_ERR_SHAPE, "%s: bias %s must be f32 [%lld, %lld, %lld]", nnc_node_desc(n, d, sizeof d),
                             nnc_shape_str(b, s1, sizeof s1), (long long)g.K, (long long)g.OH, (long long)g.OW);
    }
    n->out.dtype = NNC_F32;
    n->out.ndim = 4;
    n->out.shape[0] = g.N;
    n->out.shape[1] = g.K;
    n->out.shape[2] = g.OH;
    n->out.shape[3] = g.OW;
    return NNC_OK;
}

static void lc_forward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    lgeom g = geom_of(n);
    const float *x = n->in[0]->out.data, *w = n->in[1]->out.data, *b = n->n_in == 3 ? n->in[2]->out.data : NULL;
    float *y = n->out.data;
    const int64_t P = g.OH * g.OW, Q = g.C * g.R * g.S, HW = g.H * g.W;
#pragma omp parallel for schedule(static) if (g.N * g.K * P * Q > 65536)
    for (int64_t i = 0; i < g.N * g.K; i++) {
        int64_t nn = i / g.K, k = i % g.K;
        const float *xn = x + nn * g.C * HW;
        for (int64_t oh = 0; oh < g.OH; oh++)
            for (int64_t ow = 0; ow < g.OW; ow++) {
                int64_t p = oh * g.OW + ow;
                const float *wp = w + (p * g.K + k) * Q;
                float s = b ? b[k * P + p] : 0.0f;
                for (int64_t c = 0; c < g.C; c++)
                    for (int64_t r = 0; r < g.R; r++) {
                        int64_t ih = oh * g.sh - g.ph + r;
                        if (ih < 0 || ih >= g.H) continue;
                        for (int64_t q = 0; q < g.S; q++) {
                            int64_t iw = ow * g.sw - g.pw + q;
                            if (iw >= 0 && iw < g.W) s += wp[(c * g.R + r) * g.S + q] * xn[c * HW + ih * g.W + iw];
                        }
                    }
                y[i * P + p] = s;
            }
    }
}

static void lc_backward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    lgeom g = geom_of(n);
    const float *x = n->in[0]->out.data, *w = n->in[1]->out.data, *dy = n->grad.data;
    const int64_t P = g.OH * g.OW, Q = g.C * g.R * g.S, HW = g.H * g.W;
    if (n->n_in == 3 && nnc_needs_grad(n->in[2])) {
        float *db = n->in[2]->grad.data;
        int acc = n->accum[2];
        for (int64_t kp = 0; kp < g.K * P; kp++) {
            float s = 0;
            for (int64_t nn = 0; nn < g.N; nn++) s += dy[nn * g.K * P + kp];
            db[kp] = acc ? db[kp] + s : s;
        }
    }
    if (nnc_needs_grad(n->in[0])) {
        float *dx = n->in[0]->grad.data;
        int acc = n->accum[0];
#pragma omp parallel for schedule(static) if (g.N * g.K * P * Q > 65536)
        for (int64_t nn = 0; nn < g.N; nn++) {
            float *dxn = dx + nn * g.C * HW;
            if (!acc) memset(dxn, 0, (size_t)(g.C * HW) * sizeof(float));
            for (int64_t oh = 0; oh < g.OH; oh++)
                for (int64_t ow = 0; ow < g.OW; ow++) {
                    int64_t p = oh * g.OW + ow;
                    for (int64_t k = 0; k < g.K; k++) {
                        float d = dy[(nn * g.K + k) * P + p];
                        const float *wp = w + (p * g.K + k) * Q;
                        for (int64_t c = 0; c < g.C; c++)
                            for (int64_t r = 0; r < g.R; r++) {
                                int64_t ih = oh * g.sh - g.ph + r;
                                if (ih < 0 || ih >= g.H) continue;
                                for (int64_t q = 0; q < g.S; q++) {
                                    int64_t iw = ow * g.sw - g.pw + q;
                                    if (iw >= 0 && iw < g.W) dxn[c * HW + ih * g.W + iw] += wp[(c * g.R + r) * g.S + q] * d;
                                }
                            }
                    }
                }
        }
    }
    if (nnc_needs_grad(n->in[1])) {
        float *dw = n->in[1]->grad.data;
        int acc = n->accum[1];
#pragma omp parallel for schedule(static) if (g.N * g.K * P * Q > 65536)
        for (int64_t p = 0; p < P; p++) { /* each position owns its filters */
            int64_t oh = p / g.OW, ow = p % g.OW;
            float *dwp = dw + p * g.K * Q;
            if (!acc) memset(dwp, 0, (size_t)(g.K * Q) * sizeof(float));
            for (int64_t nn = 0; nn < g.N; nn++)
                for (int64_t k = 0; k < g.K; k++) {
                    float d = dy[(nn * g.K + k) * P + p];
                    float *dwk = dwp + k * Q;
                    for (int64_t c = 0; c < g.C; c++)
                        for (int64_t r = 0; r < g.R; r++) {
                            int64_t ih = oh * g.sh - g.ph + r;
                            if (ih < 0 || ih >= g.H) continue;
                            for (int64_t q = 0; q < g.S; q++) {
                                int64_t iw = ow * g.sw - g.pw + q;
                                if (iw >= 0 && iw < g.W) dwk[(c * g.R + r) * g.S + q] += d * x[(nn * g.C + c) * HW + ih * g.W + iw];
                            }
                        }
                }
        }
    }
}

static int attrs_from(nnc_graph *g, const char *who, int kh, int kw, const int stride[2], const int pad[2], lc_node_attrs *a) {
    if (kh <= 0 || kw <= 0) { nnc_graph_fail(g, NNC_ERR_ARG, "%s: kernel %dx%d (must be positive)", who, kh, kw); return 0; }
    for (int i = 0; i < 2; i++) {
        int s = stride ? stride[i] : 0, p = pad ? pad[i] : 0;
        if (s < 0 || p < 0) { nnc_graph_fail(g, NNC_ERR_ARG, "%s: stride %d and padding %d must not be negative", who, s, p); return 0; }
        a->stride[i] = s ? s : 1;
        a->pad[i] = p;
    }
    a->kh = kh;
    a->kw = kw;
    return 1;
}

nnc_node *nnc_locally_connected2d(nnc_graph *g, nnc_node *x, nnc_node *w, nnc_node *b, int kh, int kw, const int stride[2],
                                  const int pad[2]) {
    if (!g || g->err) return NULL;
    lc_node_attrs a;
    if (!attrs_from(g, "locally_connected2d", kh, kw, stride, pad, &a)) return NULL;
    nnc_node *in[3] = {x, w, b};
    return nnc_node_new(g, NNC_OP_LOCALLY_CONNECTED2D, b ? 3 : 2, in, &a, sizeof a);
}

nnc_node *nnc_locally_connected2d_layer(nnc_graph *g, nnc_node *x, const char *name, int64_t out_channels, int kh, int kw,
                                        const int stride[2], const int pad[2], int bias) {
    if (!g || g->err) return NULL;
    if (!name || !*name) return nnc_graph_fail(g, NNC_ERR_ARG, "locally_connected2d layer: name is empty");
    if (!x) return nnc_graph_fail(g, NNC_ERR_ARG, "locally_connected2d layer '%s': input is NULL", name);
    char who[160], s1[64];
    snprintf(who, sizeof who, "locally_connected2d layer '%s'", name);
    if (out_channels <= 0) return nnc_graph_fail(g, NNC_ERR_ARG, "%s: %lld output channels (must be positive)", who, (long long)out_channels);
    lc_node_attrs a;
    if (!attrs_from(g, who, kh, kw, stride, pad, &a)) return NULL;
    if (x->out.ndim != 4)
        return nnc_graph_fail(g, NNC_ERR_SHAPE, "%s: input must be [N, C, H, W], got %s", who, nnc_shape_str(&x->out, s1, sizeof s1));
    int64_t C = x->out.shape[1], OH = osize(x->out.shape[2], kh, a.stride[0], a.pad[0]), OW = osize(x->out.shape[3], kw, a.stride[1], a.pad[1]);
    if (OH <= 0 || OW <= 0 || kh > x->out.shape[2] + 2 * a.pad[0] || kw > x->out.shape[3] + 2 * a.pad[1])
        return nnc_graph_fail(g, NNC_ERR_SHAPE, "%s: kernel %dx%d does not fit the padded input %s", who, kh, kw, nnc_shape_str(&x->out, s1, sizeof s1));
    float bound = 1.0f / sqrtf((float)(C * kh * kw)); /* conv's default rule, per position */
    nnc_scope_push(g, name);
    nnc_node *w = nnc_param(g, "weight", 3, (int64_t[]){OH * OW, out_channels, C * kh * kw},
                            (nnc_init){.kind = NNC_INIT_UNIFORM, .a = -bound, .b = bound});
    nnc_node *b = bias ? nnc_param(g, "bias", 3, (int64_t[]){out_channels, OH, OW}, (nnc_init){.kind = NNC_INIT_UNIFORM, .a = -bound, .b = bound})
                       : NULL;
    nnc_scope_pop(g);
    if (g->err) return NULL;
    nnc_node *in[3] = {x, w, b};
    nnc_node *y = nnc_node_new(g, NNC_OP_LOCALLY_CONNECTED2D, b ? 3 : 2, in, &a, sizeof a);
    if (y) nnc_node_set_name(y, name);
    return y;
}

/* ---- gradient-check cases: linear in x and w */
static nnc_node *case_basic(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){2, 5, 5});
    nnc_input_requires_grad(x);
    nnc_node *y = nnc_locally_connected2d_layer(g, x, "lc", 3, 3, 3, NULL, NULL, 1);
    nnc_graph_output(g, y);
    return y;
}
static nnc_node *case_stride_pad(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){3, 6, 5});
    nnc_input_requires_grad(x);
    nnc_node *y = nnc_locally_connected2d_layer(g, x, "lc", 2, 3, 2, (int[]){2, 1}, (int[]){1, 0}, 0);
    nnc_node *y2 = nnc_flatten(g, y); /* a second consumer of y: dy accumulates */
    nnc_graph_output(g, y);
    nnc_graph_output(g, y2);
    return y;
}
/* fan-out: x feeds two layers, so the second dx accumulates */
static nnc_node *case_fanout(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){2, 4, 4});
    nnc_input_requires_grad(x);
    nnc_node *a = nnc_locally_connected2d_layer(g, x, "a", 2, 2, 2, NULL, NULL, 1);
    nnc_node *b = nnc_locally_connected2d_layer(g, x, "b", 1, 3, 3, NULL, (int[]){1, 1}, 0);
    nnc_graph_output(g, a);
    nnc_graph_output(g, b);
    return a;
}
static const nnc_op_case cases[] = {
    {"locally_connected2d_fanout_accumulate", 2, 1e-2, 2e-3, 1e-4, 0, case_fanout},
    {"locally_connected2d_c2k3_3x3_bias", 2, 1e-2, 2e-3, 1e-4, 0, case_basic},
    {"locally_connected2d_3x2_s21_p10_nobias", 3, 1e-2, 2e-3, 1e-4, 0, case_stride_pad},
};

const nnc_op_desc nnc_op_locally_connected2d = {"locally_connected2d", "2-D convolution with unshared weights (one filter bank per output position)",
                                                "weight [OH*OW,K,C*R*S], bias [K,OH,OW] optional; kernel, stride, pad",
                                                lc_infer, lc_forward, lc_backward, NULL, NULL,
                                                NNC_READS_IN(0) | NNC_READS_IN(1), cases, (int)(sizeof cases / sizeof cases[0]), NULL, NULL, 0, NULL};
