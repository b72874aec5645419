/* avgpool2d.c -- 2-D average pooling, PyTorch's geometry (kernels/pool.h).
 * y = sum over the window clipped to the input / divisor, where the divisor
 * is the window clipped to the padded input (H + ph, W + pw) when
 * count_include_pad (PyTorch's default), else the number of input elements
 * in it. backward: dx += dy / divisor over each window; reads nothing.
 * Fast path: oneDNN's average pooling (kernels/dnnl_pool.c) where its
 * divisor is PyTorch's: always without count_include_pad, with it when no
 * window reaches past the explicit padding (ceil_mode can make one). The
 * rest, NNC_DNNL=0, and an output that is a window of a concatenation's
 * buffer (compile.c) take the plain kernels. */
#include "ops/op.h"
#include "kernels/pool.h"
#include "ops/pool_dnnl.h"

static nnc_status avgpool_infer(nnc_node *n) {
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
    n->out.dtype = NNC_F32;
    n->out.ndim = 4;
    n->out.shape[0] = g.N;
    n->out.shape[1] = g.C;
    n->out.shape[2] = g.OH;
    n->out.shape[3] = g.OW;
    return NNC_OK;
}

/* Window of output (oh, ow) clipped to the input, and its divisor. */
typedef struct { int64_t hs, he, ws, we; float inv; } window;
static inline window window_at(const nnc_pool_geom *g, int64_t oh, int64_t ow) {
    window w;
    int64_t hs = oh * g->sh - g->ph, ws = ow * g->sw - g->pw;
    int64_t he = hs + g->kh, we = ws + g->kw;
    if (he > g->H + g->ph) he = g->H + g->ph;
    if (we > g->W + g->pw) we = g->W + g->pw;
    int64_t padded = (he - hs) * (we - ws);
    w.hs = hs < 0 ? 0 : hs;
    w.ws = ws < 0 ? 0 : ws;
    w.he = he > g->H ? g->H : he;
    w.we = we > g->W ? g->W : we;
    int64_t div = g->count_include_pad ? padded : (w.he - w.hs) * (w.we - w.ws);
    w.inv = div > 0 && w.he > w.hs && w.we > w.ws ? 1.0f / (float)div : 0.0f;
    return w;
}

/* 2x2 windows at stride 2 inside the input (DenseNet's transitions): every
 * divisor is 4, so a plane is pairs of rows summed (the same sums in the
 * same order as the general loop). */
static int plain_2x2(const nnc_pool_geom *g) {
    return g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && g->ph == 0 && g->pw == 0 && 2 * g->OH <= g->H && 2 * g->OW <= g->W;
}
static void forward_2x2(const nnc_pool_geom *g, const float *xp, float *yp) {
    for (int64_t oh = 0; oh < g->OH; oh++) {
        const float *r0 = xp + 2 * oh * g->W, *r1 = r0 + g->W;
        for (int64_t ow = 0; ow < g->OW; ow++)
            yp[oh * g->OW + ow] = (((r0[2 * ow] + r0[2 * ow + 1]) + r1[2 * ow]) + r1[2 * ow + 1]) * 0.25f;
    }
}
static void backward_2x2(const nnc_pool_geom *g, const float *dyp, float *dxp, int acc) {
    if (!acc) memset(dxp, 0, (size_t)(g->H * g->W) * sizeof(float));
    for (int64_t oh = 0; oh < g->OH; oh++) {
        float *r0 = dxp + 2 * oh * g->W, *r1 = r0 + g->W;
        for (int64_t ow = 0; ow < g->OW; ow++) {
            float d = dyp[oh * g->OW + ow] * 0.25f;
            r0[2 * ow] += d;
            r0[2 * ow + 1] += d;
            r1[2 * ow] += d;
            r1[2 * ow + 1] += d;
        }
    }
}

static size_t avgpool_workspace(const nnc_node *n, int training) {
    return n->out.bstride ? 0 : nnc_pool_dnnl_ws((nnc_node *)n, 0, training);
}

/* The output (a DenseNet block's input) may be a window of a wider buffer:
 * the plain kernels then write it. */
static uint32_t avgpool_strided(const nnc_node *n) {
    (void)n;
    return NNC_STRIDED_OUT;
}

static void avgpool_forward(nnc_node *n, const nnc_exec *ex) {
    nnc_pool_geom g = nnc_pool_geometry(&n->in[0]->out, NNC_ATTRS(n, nnc_pool2d_opts));
    const float *X = n->in[0]->out.data;
    float *Y = n->out.data;
    const int64_t ys = nnc_image_stride(&n->out);
    nnc_dnnl_pool *p = n->out.bstride ? NULL : nnc_pool_dnnl_pass(n, ex, 0, 0);
    if (p) {
        nnc_status s = nnc_dnnl_pool_forward(p, X, Y, NULL, ex->ws);
        if (s && ex->fault) *ex->fault = s;
        return;
    }
    const int64_t planes = g.N * g.C, HW = g.H * g.W, P = g.OH * g.OW;
#pragma omp parallel for schedule(static) if (planes * P * g.kh * g.kw > 32768)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *xp = X + pl * HW;
        float *yp = Y + pl / g.C * ys + pl % g.C * P;
        if (plain_2x2(&g)) {
            forward_2x2(&g, xp, yp);
            continue;
        }
        for (int64_t oh = 0; oh < g.OH; oh++)
            for (int64_t ow = 0; ow < g.OW; ow++) {
                window w = window_at(&g, oh, ow);
                float s = 0;
                for (int64_t ih = w.hs; ih < w.he; ih++)
                    for (int64_t iw = w.ws; iw < w.we; iw++) s += xp[ih * g.W + iw];
                yp[oh * g.OW + ow] = s * w.inv;
            }
    }
}

static void avgpool_backward(nnc_node *n, const nnc_exec *ex) {
    if (!nnc_needs_grad(n->in[0])) return;
    nnc_pool_geom g = nnc_pool_geometry(&n->in[0]->out, NNC_ATTRS(n, nnc_pool2d_opts));
    const float *dY = n->grad.data;
    float *dX = n->in[0]->grad.data;
    int acc = n->accum[0];
    const int64_t ys = nnc_image_stride(&n->grad);
    nnc_dnnl_pool *p = n->out.bstride ? NULL : nnc_pool_dnnl_pass(n, ex, 0, 1);
    if (p) {
        nnc_status s = nnc_dnnl_pool_backward(p, dY, dX, acc, NULL, ex->ws);
        if (s && ex->fault) *ex->fault = s;
        return;
    }
    const int64_t planes = g.N * g.C, HW = g.H * g.W, P = g.OH * g.OW;
#pragma omp parallel for schedule(static) if (planes * P * g.kh * g.kw > 32768)
    for (int64_t pl = 0; pl < planes; pl++) {
        float *dxp = dX + pl * HW;
        const float *dyp = dY + pl / g.C * ys + pl % g.C * P;
        if (plain_2x2(&g)) {
            backward_2x2(&g, dyp, dxp, acc);
            continue;
        }
        if (!acc) memset(dxp, 0, (size_t)HW * sizeof(float));
        for (int64_t oh = 0; oh < g.OH; oh++)
            for (int64_t ow = 0; ow < g.OW; ow++) {
                window w = window_at(&g, oh, ow);
                float d = dyp[oh * g.OW + ow] * w.inv;
                for (int64_t ih = w.hs; ih < w.he; ih++)
                    for (int64_t iw = w.ws; iw < w.we; iw++) dxp[ih * g.W + iw] += d;
            }
    }
}

nnc_node *nnc_avgpool2d(nnc_graph *g, nnc_node *x, const nnc_pool2d_opts *o) {
    if (!g || g->err) return NULL;
    if (!o) return nnc_graph_fail(g, NNC_ERR_ARG, "avgpool2d: options are NULL");
    nnc_pool2d_opts a = *o;
    char msg[200];
    if (!nnc_pool_normalize(&a, msg, sizeof msg)) return nnc_graph_fail(g, NNC_ERR_ARG, "avgpool2d: %s", msg);
    return nnc_node_new(g, NNC_OP_AVGPOOL2D, 1, &x, &a, sizeof a);
}

/* ---- gradient-check cases: linear, so eps 1e-2 is exact up to rounding */
static nnc_node *case_pool(nnc_graph *g, int64_t C, int64_t H, int64_t W, nnc_pool2d_opts o) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){C, H, W});
    nnc_input_requires_grad(x);
    nnc_node *y = nnc_avgpool2d(g, x, &o);
    nnc_graph_output(g, y);
    return y;
}
static nnc_node *case_2x2s2(nnc_graph *g) { return case_pool(g, 3, 6, 4, (nnc_pool2d_opts){{2, 2}, {0, 0}, {0, 0}, 0, 1}); }
static nnc_node *case_p1_cip(nnc_graph *g) { return case_pool(g, 2, 6, 7, (nnc_pool2d_opts){{3, 3}, {2, 2}, {1, 1}, 0, 1}); }
static nnc_node *case_p1_ceil_cip(nnc_graph *g) { return case_pool(g, 2, 6, 7, (nnc_pool2d_opts){{3, 3}, {2, 2}, {1, 1}, 1, 1}); }
static nnc_node *case_p1_ceil_nocip(nnc_graph *g) { return case_pool(g, 2, 6, 7, (nnc_pool2d_opts){{3, 3}, {2, 2}, {1, 1}, 1, 0}); }
static nnc_node *case_ceil_edge(nnc_graph *g) { return case_pool(g, 2, 5, 5, (nnc_pool2d_opts){{2, 2}, {2, 2}, {0, 0}, 1, 1}); }
static nnc_node *case_3x3s1_nocip(nnc_graph *g) { return case_pool(g, 2, 4, 5, (nnc_pool2d_opts){{3, 3}, {1, 1}, {1, 1}, 0, 0}); }
static nnc_node *case_rect(nnc_graph *g) { return case_pool(g, 2, 7, 5, (nnc_pool2d_opts){{3, 2}, {2, 1}, {1, 0}, 1, 1}); }
static const nnc_op_case cases[] = {
    {"avgpool2d_2x2s2", 2, 1e-2, 2e-3, 1e-4, 0, case_2x2s2},
    {"avgpool2d_3x3s2p1_cip", 2, 1e-2, 2e-3, 1e-4, 0, case_p1_cip},
    {"avgpool2d_3x3s2p1_ceil_cip", 2, 1e-2, 2e-3, 1e-4, 0, case_p1_ceil_cip},
    {"avgpool2d_3x3s2p1_ceil_nocip", 2, 1e-2, 2e-3, 1e-4, 0, case_p1_ceil_nocip},
    {"avgpool2d_2x2s2_ceil_edge", 2, 1e-2, 2e-3, 1e-4, 0, case_ceil_edge},
    {"avgpool2d_3x3s1p1_nocip", 2, 1e-2, 2e-3, 1e-4, 0, case_3x3s1_nocip},
    {"avgpool2d_3x2_s21_p10_ceil_cip", 2, 1e-2, 2e-3, 1e-4, 0, case_rect},
};

const nnc_op_desc nnc_op_avgpool2d = {"avgpool2d", "2-D average pooling (oneDNN; PyTorch geometry: count_include_pad, ceil_mode)",
                                      "kernel, stride (0: kernel), pad (<= kernel/2), ceil_mode, count_include_pad",
                                      avgpool_infer, avgpool_forward, avgpool_backward, avgpool_workspace, NULL,
                                      0, cases, (int)(sizeof cases / sizeof cases[0]), NULL, NULL, 0, avgpool_strided};
