/* maxpool2d.c -- 2-D max pooling, PyTorch's geometry (kernels/pool.h):
 * implicit -inf padding (at most half the kernel), ceil_mode, overlapping
 * windows. y = max over the window (the first maximum in row-major order;
 * NaN propagates). Training saves the argmax of every output as an int32
 * index into its input plane; backward scatters dy there, reading nothing
 * else.
 * Fast path: oneDNN's max pooling (kernels/dnnl_pool.c; ceil_mode as extra
 * right padding) for every geometry but 2x2/2, where the plain kernel is
 * faster. Its training forward saves oneDNN's own workspace in the saved
 * buffer instead of the argmax, and a marker after it says which forward
 * ran, which backward follows. oneDNN picks the first maximum too, but does
 * not propagate NaN: an input holding a NaN takes the plain kernel.
 * NNC_DNNL=0 selects the plain kernels. */
#include "ops/op.h"
#include "kernels/pool.h"
#include "ops/pool_dnnl.h"
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

/* 2x2 windows, stride 2, all inside the input (LeNet, VGG): unrolled. */
static int is_2x2s2(const nnc_pool_geom *g) {
    return g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && g->ph == 0 && g->pw == 0 && 2 * g->OH <= g->H &&
           2 * g->OW <= g->W;
}

/* The node's oneDNN primitives, NULL for the plain kernel. */
static nnc_dnnl_pool *dnnl_of(nnc_node *n, const nnc_exec *ex, int backward) {
    nnc_pool_geom g = nnc_pool_geometry(&n->in[0]->out, NNC_ATTRS(n, nnc_pool2d_opts));
    return is_2x2s2(&g) ? NULL : nnc_pool_dnnl_pass(n, ex, 1, backward);
}

/* Training: argmax indices or oneDNN's workspace, then the int32 marker
 * (1: oneDNN's). The hook makes the oneDNN primitives at compile time. */
static size_t marker_at(const nnc_node *cn) {
    nnc_node *n = (nnc_node *)cn;
    nnc_pool_geom g = nnc_pool_geometry(&n->in[0]->out, NNC_ATTRS(n, nnc_pool2d_opts));
    nnc_dnnl_pool *p = is_2x2s2(&g) ? NULL : nnc_pool_dnnl_for(n, &g, 1, 1);
    size_t arg = (size_t)nnc_numel(&n->out) * sizeof(int32_t), dn = p ? nnc_dnnl_pool_saved_bytes(p) : 0;
    return ((arg > dn ? arg : dn) + 3) / 4 * 4;
}
static size_t maxpool_saved(const nnc_node *n, int training) { return training ? marker_at(n) + sizeof(int32_t) : 0; }
static size_t maxpool_workspace(const nnc_node *n, int training) {
    nnc_pool_geom g = nnc_pool_geometry(&n->in[0]->out, NNC_ATTRS(n, nnc_pool2d_opts));
    return is_2x2s2(&g) ? 0 : nnc_pool_dnnl_ws((nnc_node *)n, 1, training);
}

static int has_nan(const float *x, int64_t count) {
    int bad = 0;
#pragma omp parallel for simd reduction(| : bad) schedule(static) if (parallel: count > 262144)
    for (int64_t i = 0; i < count; i++) bad |= x[i] != x[i];
    return bad;
}

/* One output row, in blocks of outputs: for each window element (row ih,
 * then column offset s) update every output of the block at once. The updates
 * are independent across outputs, so the compiler vectorizes them instead
 * of branching on random data. Window elements are visited in PyTorch's
 * order (row-major), so the first maximum wins and the last NaN propagates. */
#define MP_BLOCK 128
static void maxpool_row(const nnc_pool_geom *g, const float *xp, int64_t oh, float *yrow, int32_t *arow) {
    int64_t hs = oh * g->sh - g->ph, he = hs + g->kh;
    if (hs < 0) hs = 0;
    if (he > g->H) he = g->H;
    for (int64_t o0 = 0; o0 < g->OW; o0 += MP_BLOCK) {
        int64_t o1 = o0 + MP_BLOCK < g->OW ? o0 + MP_BLOCK : g->OW;
        float m[MP_BLOCK];
        int32_t id[MP_BLOCK];
        for (int64_t ow = o0; ow < o1; ow++) {
            int64_t ws = ow * g->sw - g->pw;
            m[ow - o0] = -INFINITY;
            id[ow - o0] = (int32_t)(hs * g->W + (ws < 0 ? 0 : ws));
        }
        for (int64_t ih = hs; ih < he; ih++) {
            const float *xr = xp + ih * g->W;
            for (int64_t s = 0; s < g->kw; s++) {
                /* outputs whose column ow*sw - pw + s lies inside the input */
                int64_t off = s - g->pw, lo = o0, hi = o1;
                if (off < 0) { int64_t l = (-off + g->sw - 1) / g->sw; if (l > lo) lo = l; }
                int64_t h = g->W - 1 - off >= 0 ? (g->W - 1 - off) / g->sw + 1 : 0;
                if (h < hi) hi = h;
                int32_t base = (int32_t)(ih * g->W + off);
                for (int64_t ow = lo; ow < hi; ow++) {
                    float v = xr[ow * g->sw + off], cur = m[ow - o0];
                    int take = (v > cur) | (v != v);
                    m[ow - o0] = take ? v : cur;
                    id[ow - o0] = take ? base + (int32_t)(ow * g->sw) : id[ow - o0];
                }
            }
        }
        for (int64_t ow = o0; ow < o1; ow++) yrow[ow] = m[ow - o0];
        if (arow)
            for (int64_t ow = o0; ow < o1; ow++) arow[ow] = id[ow - o0];
    }
}

/* 2x2/2, 16 outputs at once: the even and odd columns of both rows are
 * split by shuffles, then the pairwise maxima -- max(a, b) of the top row,
 * max(c, d) of the bottom, then the two -- which pick the same element as
 * PyTorch's sequential a, b, c, d scan (first maximum wins, a NaN taken
 * when met: the later of two NaNs). Needs 32 readable floats at r0 and r1. */
typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));
/* m ? a : b lane by lane (m is 0 or -1); macros, since passing vectors by
 * value changes the ABI where AVX-512 is not enabled */
#define PICK(m, a, b) ((v16f)(((m) & (v16i)(a)) | (~(m) & (v16i)(b))))
#if defined(__clang__)
#define EVEN(a, b) __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
#define ODD(a, b) __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31)
#else
#define EVEN(a, b) __builtin_shuffle(a, b, (v16i){0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30})
#define ODD(a, b) __builtin_shuffle(a, b, (v16i){1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31})
#endif
static void pool2x2_tile(const float *r0, const float *r1, int32_t col0, int32_t W, int64_t nv, float *y, int32_t *a) {
    const v16i even = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
    v16f t0, t1, b0, b1;
    memcpy(&t0, r0, sizeof t0);
    memcpy(&t1, r0 + 16, sizeof t1);
    memcpy(&b0, r1, sizeof b0);
    memcpy(&b1, r1 + 16, sizeof b1);
    v16f ta = EVEN(t0, t1), tb = ODD(t0, t1), ba = EVEN(b0, b1), bb = ODD(b0, b1);
    v16i mt = (tb > ta) | (tb != tb), mb = (bb > ba) | (bb != bb);
    v16f top = PICK(mt, tb, ta), bot = PICK(mb, bb, ba);
    v16i mv = (bot > top) | (bot != bot);
    v16f m = PICK(mv, bot, top);
    v16i col = even + col0, it = col - mt, ib = col + W - mb; /* a true mask is -1 */
    v16i id = (mv & ib) | (~mv & it);
    if (nv == 16) { /* also when the caller lets the tile spill into outputs it writes later */
        memcpy(y, &m, sizeof m);
        if (a) memcpy(a, &id, sizeof id);
        return;
    }
    memcpy(y, &m, (size_t)nv * sizeof(float));
    if (a) memcpy(a, &id, (size_t)nv * sizeof(int32_t));
}

/* m, id = v, at when v > m or v is NaN, with masks instead of branches:
 * on raw activations (a fused ReLU) the outcome is a coin flip. */
static inline void take_max(float v, int32_t at, float *m, int32_t *id) {
    uint32_t t = 0u - (uint32_t)((v > *m) | (v != v)), vb, mb;
    memcpy(&vb, &v, sizeof vb);
    memcpy(&mb, m, sizeof mb);
    mb = (vb & t) | (mb & ~t);
    memcpy(m, &mb, sizeof mb);
    *id = (int32_t)(((uint32_t)at & t) | ((uint32_t)*id & ~t));
}

/* A plane with rows too narrow for a tile (LeNet's 10x10 -> 5x5): the top
 * and bottom rows of every window row, side by side in two buffers, make
 * one long row pair for the vector tiles; the argmax is then mapped back
 * from the buffers' columns to the plane's. */
#define NARROW_MAX 512
static void narrow_plane_2x2s2(const nnc_pool_geom *g, const float *xp, float *yp, int32_t *ap) {
    const int64_t OW = g->OW, P = g->OH * OW, row = 2 * OW, len = (P + 15) / 16 * 32;
    float top[2 * NARROW_MAX + 32], bot[2 * NARROW_MAX + 32];
    for (int64_t oh = 0; oh < g->OH; oh++) {
        memcpy(top + oh * row, xp + 2 * oh * g->W, (size_t)row * sizeof(float));
        memcpy(bot + oh * row, xp + (2 * oh + 1) * g->W, (size_t)row * sizeof(float));
    }
    for (int64_t i = 2 * P; i < len; i++) top[i] = bot[i] = 0.0f; /* lanes never stored */
    for (int64_t o0 = 0; o0 < P; o0 += 16)
        pool2x2_tile(top + 2 * o0, bot + 2 * o0, (int32_t)(2 * o0), (int32_t)g->W, P - o0 < 16 ? P - o0 : 16, yp + o0,
                     ap ? ap + o0 : NULL);
    if (ap) /* buffer column 2 oh OW + c is plane column 2 oh W + c (the bottom row: + W in both) */
        for (int64_t o = 0; o < P; o++) ap[o] += (int32_t)(2 * (o / OW) * (g->W - OW));
}

/* One plane; `readable` floats can be read from xp on (the rest of the
 * tensor), so the vector tiles stay inside it and the last ones go scalar. */
static void maxpool_plane_2x2s2(const nnc_pool_geom *g, const float *xp, int64_t readable, float *yp, int32_t *ap) {
    if (g->OW < 8 && g->OH * g->OW <= NARROW_MAX) { /* narrow rows: the tiles run over all rows at once */
        narrow_plane_2x2s2(g, xp, yp, ap);
        return;
    }
    for (int64_t oh = 0; oh < g->OH; oh++) {
        const float *r0 = xp + 2 * oh * g->W, *r1 = r0 + g->W;
        int32_t i0 = (int32_t)(2 * oh * g->W), i1 = i0 + (int32_t)g->W;
        int64_t ow = 0;
        /* vector tiles from 8 outputs a row; narrower rows go scalar */
        for (; g->OW >= 8 && ow < g->OW && (r1 - xp) + 2 * ow + 32 <= readable; ow += 16) {
            int64_t nv = g->OW - ow < 16 ? g->OW - ow : 16;
            /* a short tile stores all 16 lanes when the spill stays inside this
             * plane's later outputs (rewritten after), saving a partial copy */
            if (nv < 16 && (g->OH - oh) * g->OW - ow >= 16) nv = 16;
            pool2x2_tile(r0 + 2 * ow, r1 + 2 * ow, i0 + (int32_t)(2 * ow), (int32_t)g->W, nv, yp + oh * g->OW + ow,
                         ap ? ap + oh * g->OW + ow : NULL);
        }
        for (; ow < g->OW; ow++) {
            float v[4] = {r0[2 * ow], r0[2 * ow + 1], r1[2 * ow], r1[2 * ow + 1]};
            int32_t at[4] = {i0 + (int32_t)(2 * ow), i0 + (int32_t)(2 * ow) + 1, i1 + (int32_t)(2 * ow), i1 + (int32_t)(2 * ow) + 1};
            float m = v[0];
            int32_t id = at[0];
            for (int k = 1; k < 4; k++) take_max(v[k], at[k], &m, &id);
            yp[oh * g->OW + ow] = m;
            if (ap) ap[oh * g->OW + ow] = id;
        }
    }
}

/* A fused ReLU (NNC_NODE_RELU_IN: the graph's ReLU before this pooling was
 * elided): max(0, max(window)) = max(window of ReLU'd values), so the ReLU
 * is applied to the pooled plane; an output it zeroes gets no gradient
 * (its argmax gets the sign bit). A window holding NaN gives 0 here (NaN, then the ReLU), where
 * the unfused pair gives the window's largest number (the ReLU first maps
 * NaN to 0). */
static void relu_plane(float *y, int32_t *a, int64_t P) {
    if (a)
        for (int64_t i = 0; i < P; i++) a[i] = y[i] > 0 ? a[i] : (int32_t)((uint32_t)a[i] | 0x80000000u);
    for (int64_t i = 0; i < P; i++) y[i] = y[i] > 0 ? y[i] : 0.0f;
}

static void maxpool_forward(nnc_node *n, const nnc_exec *ex) {
    nnc_pool_geom g = nnc_pool_geometry(&n->in[0]->out, NNC_ATTRS(n, nnc_pool2d_opts));
    const float *X = n->in[0]->out.data;
    float *Y = n->out.data;
    int32_t *A = n->saved;
    const int relu = (n->flags & NNC_NODE_RELU_IN) != 0;
    nnc_dnnl_pool *p = relu ? NULL : dnnl_of(n, ex, 0);
    int32_t *marker = A ? (int32_t *)((char *)A + marker_at(n)) : NULL;
    if (p && (A || !nnc_dnnl_pool_saved_bytes(p)) && !has_nan(X, nnc_numel(&n->in[0]->out))) {
        nnc_status s = nnc_dnnl_pool_forward(p, X, Y, A, ex->ws);
        if (s && ex->fault) *ex->fault = s;
        if (marker) *marker = 1;
        return;
    }
    if (marker) *marker = 0;
    const int64_t planes = g.N * g.C, HW = g.H * g.W, P = g.OH * g.OW;
#pragma omp parallel for schedule(static) if (planes * P * g.kh * g.kw > 32768)
    for (int64_t pl = 0; pl < planes; pl++) {
        if (is_2x2s2(&g))
            maxpool_plane_2x2s2(&g, X + pl * HW, (planes - pl) * HW, Y + pl * P, A ? A + pl * P : NULL);
        else
            for (int64_t oh = 0; oh < g.OH; oh++)
                maxpool_row(&g, X + pl * HW, oh, Y + pl * P + oh * g.OW, A ? A + pl * P + oh * g.OW : NULL);
        if (relu) relu_plane(Y + pl * P, A ? A + pl * P : NULL, P);
    }
}

static void maxpool_backward(nnc_node *n, const nnc_exec *ex) {
    if (!nnc_needs_grad(n->in[0])) return;
    nnc_pool_geom g = nnc_pool_geometry(&n->in[0]->out, NNC_ATTRS(n, nnc_pool2d_opts));
    const float *dY = n->grad.data;
    const int32_t *A = n->saved;
    float *dX = n->in[0]->grad.data;
    int acc = n->accum[0];
    nnc_dnnl_pool *p = *(const int32_t *)((const char *)A + marker_at(n)) ? dnnl_of(n, ex, 1) : NULL;
    if (p) {
        nnc_status s = nnc_dnnl_pool_backward(p, dY, dX, acc, A, ex->ws);
        if (s && ex->fault) *ex->fault = s;
        return;
    }
    const int64_t planes = g.N * g.C, HW = g.H * g.W, P = g.OH * g.OW;
#pragma omp parallel for schedule(static) if (planes * (P + HW) > 32768)
    for (int64_t pl = 0; pl < planes; pl++) {
        float *dxp = dX + pl * HW;
        const float *dyp = dY + pl * P;
        const int32_t *ap = A + pl * P;
        if (!acc) memset(dxp, 0, (size_t)HW * sizeof(float));
        for (int64_t i = 0; i < P; i++) { /* sign bit: zeroed by a fused ReLU (adds 0 there, no branch) */
            int32_t a = ap[i];
            dxp[a & 0x7fffffff] += a >= 0 ? dyp[i] : 0.0f;
        }
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

const nnc_op_desc nnc_op_maxpool2d = {"maxpool2d", "2-D max pooling (oneDNN; PyTorch geometry: -inf padding, ceil_mode)",
                                      "kernel, stride (0: kernel), pad (<= kernel/2), ceil_mode",
                                      maxpool_infer, maxpool_forward, maxpool_backward, maxpool_workspace, maxpool_saved,
                                      0, cases, (int)(sizeof cases / sizeof cases[0]), NULL, NULL, NNC_FUSES_RELU_IN, NULL};
