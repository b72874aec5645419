/* maxpool2d.c -- 2-D max pooling, PyTorch's geometry (kernels/pool.h):
 * implicit -inf padding (at most half the kernel), ceil_mode, overlapping
 * windows. y = max over the window (the first maximum in row-major order;
 * NaN propagates). Training saves the argmax of every output as an int32
 * index into its input plane; backward scatters dy there, reading nothing
 * else. */
#include "ops/op.h"
#include "kernels/pool.h"
#include <math.h>

static nnc_status maxpool_infer(nnc_node *n) {
    const nnc_pool2d_opts *o = NNC_ATTRS(n, nnc_pool2d_opts);
    const nnc_tensor *x = &n->in[0]->out;
    char d[160], s1[64];
    if (x->dtype != NNC_F32 || x->ndim != 4)
        return nnc_error(NNC_ERR_SHAPE, "%s: input must be f32 [N, C, H, W], got %s %s", nnc_node_desc(n, d, sizeof d),
                         nnc_dtype_name(x->dtype), nnc_shape_str(x, s1, sizeof s1));
    nnc_pool_geom g = nnc_pool_geometry(x, o);
    if (g.OH <= 0 || g.OW <= 0)
        return nnc_error(NNC_ERR_SHAPE, "%s: window %lldx%lld (padding %lld,%lld) is larger than the padded input %s",
                         nnc_node_desc(n, d, sizeof d), (long long)g.kh, (long long)g.kw, (long long)g.ph, (long long)g.pw,
                         nnc_shape_str(x, s1, sizeof s1));
    if (g.H * g.W > INT32_MAX)
        return nnc_error(NNC_ERR_SHAPE, "%s: input plane %s too large for int32 indices", nnc_node_desc(n, d, sizeof d),
                         nnc_shape_str(x, s1, sizeof s1));
    n->out.dtype = NNC_F32;
    n->out.ndim = 4;
    n->out.shape[0] = g.N;
    n->out.shape[1] = g.C;
    n->out.shape[2] = g.OH;
    n->out.shape[3] = g.OW;
    return NNC_OK;
}

/* argmax indices, needed only when backward runs */
static size_t maxpool_saved(const nnc_node *n, int training) {
    return training ? (size_t)nnc_numel(&n->out) * sizeof(int32_t) : 0;
}

static void maxpool_forward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    nnc_pool_geom g = nnc_pool_geometry(&n->in[0]->out, NNC_ATTRS(n, nnc_pool2d_opts));
    const float *X = n->in[0]->out.data;
    float *Y = n->out.data;
    int32_t *A = n->saved;
    const int64_t planes = g.N * g.C, HW = g.H * g.W, P = g.OH * g.OW;
#pragma omp parallel for schedule(static) if (planes * P * g.kh * g.kw > 32768)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *xp = X + pl * HW;
        float *yp = Y + pl * P;
        int32_t *ap = A ? A + pl * P : NULL;
        for (int64_t oh = 0; oh < g.OH; oh++) {
            int64_t hs = oh * g.sh - g.ph, he = hs + g.kh;
            if (hs < 0) hs = 0;
            if (he > g.H) he = g.H;
            for (int64_t ow = 0; ow < g.OW; ow++) {
                int64_t ws = ow * g.sw - g.pw, we = ws + g.kw;
                if (ws < 0) ws = 0;
                if (we > g.W) we = g.W;
                float m = -INFINITY;
                int64_t idx = hs * g.W + ws;
                for (int64_t ih = hs; ih < he; ih++)
                    for (int64_t iw = ws; iw < we; iw++) {
                        float v = xp[ih * g.W + iw];
                        if (v > m || v != v) { m = v; idx = ih * g.W + iw; }
                    }
                yp[oh * g.OW + ow] = m;
                if (ap) ap[oh * g.OW + ow] = (int32_t)idx;
            }
        }
    }
}

static void maxpool_backward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    if (!nnc_needs_grad(n->in[0])) return;
    nnc_pool_geom g = nnc_pool_geometry(&n->in[0]->out, NNC_ATTRS(n, nnc_pool2d_opts));
    const float *dY = n->grad.data;
    const int32_t *A = n->saved;
    float *dX = n->in[0]->grad.data;
    int acc = n->accum[0];
    const int64_t planes = g.N * g.C, HW = g.H * g.W, P = g.OH * g.OW;
#pragma omp parallel for schedule(static) if (planes * (P + HW) > 32768)
    for (int64_t pl = 0; pl < planes; pl++) {
        float *dxp = dX + pl * HW;
        const float *dyp = dY + pl * P;
        const int32_t *ap = A + pl * P;
        if (!acc) memset(dxp, 0, (size_t)HW * sizeof(float));
        for (int64_t i = 0; i < P; i++) dxp[ap[i]] += dyp[i];
    }
}

nnc_node *nnc_maxpool2d(nnc_graph *g, nnc_node *x, const nnc_pool2d_opts *o) {
    if (!g || g->err) return NULL;
    if (!o) return nnc_graph_fail(g, NNC_ERR_ARG, "maxpool2d: options are NULL");
    nnc_pool2d_opts a = *o;
    char msg[200];
    if (!nnc_pool_normalize(&a, msg, sizeof msg)) return nnc_graph_fail(g, NNC_ERR_ARG, "maxpool2d: %s", msg);
    a.count_include_pad = 0;
    return nnc_node_new(g, NNC_OP_MAXPOOL2D, 1, &x, &a, sizeof a);
}

/* ---- gradient-check cases: y copies input values, so differences are exact in
 * float; the small eps (1e-4) keeps random directions from flipping a
 * near-tie argmax (1e-3 flips one window of these inputs). */
static nnc_node *case_pool(nnc_graph *g, int64_t C, int64_t H, int64_t W, nnc_pool2d_opts o) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){C, H, W});
    nnc_input_requires_grad(x);
    nnc_node *y = nnc_maxpool2d(g, x, &o);
    nnc_graph_output(g, y);
    return y;
}
static nnc_node *case_3x3s2(nnc_graph *g) { return case_pool(g, 2, 7, 7, (nnc_pool2d_opts){{3, 3}, {2, 2}, {0, 0}, 0, 0}); }
static nnc_node *case_2x2s1(nnc_graph *g) { return case_pool(g, 3, 5, 4, (nnc_pool2d_opts){{2, 2}, {1, 1}, {0, 0}, 0, 0}); }
static nnc_node *case_2x2s2(nnc_graph *g) { return case_pool(g, 3, 6, 4, (nnc_pool2d_opts){{2, 2}, {0, 0}, {0, 0}, 0, 0}); }
static nnc_node *case_pad_ceil(nnc_graph *g) { return case_pool(g, 2, 6, 7, (nnc_pool2d_opts){{3, 3}, {2, 2}, {1, 1}, 1, 0}); }
static nnc_node *case_ceil(nnc_graph *g) { return case_pool(g, 2, 5, 5, (nnc_pool2d_opts){{2, 2}, {2, 2}, {0, 0}, 1, 0}); }
static nnc_node *case_rect(nnc_graph *g) { return case_pool(g, 2, 5, 6, (nnc_pool2d_opts){{2, 3}, {1, 2}, {1, 1}, 0, 0}); }
static const nnc_op_case cases[] = {
    {"maxpool2d_3x3s2_overlap", 2, 1e-4, 2e-3, 1e-4, 0, case_3x3s2},
    {"maxpool2d_2x2s1_overlap", 2, 1e-4, 2e-3, 1e-4, 0, case_2x2s1},
    {"maxpool2d_2x2s2", 2, 1e-4, 2e-3, 1e-4, 0, case_2x2s2},
    {"maxpool2d_3x3s2p1_ceil", 2, 1e-4, 2e-3, 1e-4, 0, case_pad_ceil},
    {"maxpool2d_2x2s2_ceil_edge", 2, 1e-4, 2e-3, 1e-4, 0, case_ceil},
    {"maxpool2d_2x3_s12_p11", 2, 1e-4, 2e-3, 1e-4, 0, case_rect},
};

const nnc_op_desc nnc_op_maxpool2d = {"maxpool2d", "2-D max pooling (PyTorch geometry: -inf padding, ceil_mode)",
                                      "kernel, stride (0: kernel), pad (<= kernel/2), ceil_mode",
                                      maxpool_infer, maxpool_forward, maxpool_backward, NULL, maxpool_saved,
                                      0, cases, (int)(sizeof cases / sizeof cases[0])};
