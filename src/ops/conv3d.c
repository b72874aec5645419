/* conv3d.c -- 3-D convolution (cross-correlation, as PyTorch's Conv3d).
 *   forward:  y[n,k,od,oh,ow] = b[k] + sum_{c in group(k), t, r, s} w[k,c,t,r,s]
 *                 x[n,c, od sd - pd + t dd, oh sh - ph + r dh, ow sw - pw + s dw]
 *             per sample and group: y_g[Kg, P] = w_g[Kg, Cg*T*R*S] cols_g[Cg*T*R*S, P]  (vol2col + GEMM)
 *   backward: per sample: dx = col2vol(w_g^T dy_g), partial dw = dy_g cols_g^T, db = sum dy.
 * Backward reads x and w. Samples run in parallel, one workspace slot each;
 * every GEMM inside the team runs on one thread and the per-sample weight
 * gradients are summed in sample order, so results do not depend on the
 * thread count. Reference: nnc_conv3d_ref (kernels/conv3d.c). */
#include "ops/op.h"
#include "kernels/conv3d.h"
#include "kernels/gemm.h"
#include <math.h>
#include <omp.h>

typedef struct { int stride[3], pad[3], dil[3], groups; } conv3d_attrs;

static int64_t out_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dil) {
    int64_t span = in + 2 * pad - dil * (k - 1) - 1;
    return span < 0 ? 0 : span / stride + 1;
}

static nnc_conv3d_geom geom_of(const nnc_node *n) {
    const conv3d_attrs *a = NNC_ATTRS(n, conv3d_attrs);
    const nnc_tensor *x = &n->in[0]->out, *w = &n->in[1]->out;
    nnc_conv3d_geom g;
    g.N = x->shape[0]; g.C = x->shape[1]; g.D = x->shape[2]; g.H = x->shape[3]; g.W = x->shape[4];
    g.K = w->shape[0]; g.T = w->shape[2]; g.R = w->shape[3]; g.S = w->shape[4];
    g.sd = a->stride[0]; g.sh = a->stride[1]; g.sw = a->stride[2];
    g.pd = a->pad[0]; g.ph = a->pad[1]; g.pw = a->pad[2];
    g.dd = a->dil[0]; g.dh = a->dil[1]; g.dw = a->dil[2];
    g.groups = a->groups;
    g.OD = out_size(g.D, g.T, g.sd, g.pd, g.dd);
    g.OH = out_size(g.H, g.R, g.sh, g.ph, g.dh);
    g.OW = out_size(g.W, g.S, g.sw, g.pw, g.dw);
    return g;
}

static nnc_status conv3d_infer(nnc_node *n) {
    const conv3d_attrs *a = NNC_ATTRS(n, conv3d_attrs);
    const nnc_tensor *x = &n->in[0]->out, *w = &n->in[1]->out;
    char d[160], s1[64], s2[64];
    if (x->dtype != NNC_F32 || x->ndim != 5)
        return nnc_error(NNC_ERR_SHAPE, "%s: input must be f32 [N, C, D, H, W], got %s %s", nnc_node_desc(n, d, sizeof d),
                         nnc_dtype_name(x->dtype), nnc_shape_str(x, s1, sizeof s1));
    if (w->dtype != NNC_F32 || w->ndim != 5)
        return nnc_error(NNC_ERR_SHAPE, "%s: weight must be f32 [K, C/groups, T, R, S], got %s %s", nnc_node_desc(n, d, sizeof d),
                         nnc_dtype_name(w->dtype), nnc_shape_str(w, s1, sizeof s1));
    int64_t G = a->groups, C = x->shape[1], K = w->shape[0];
    if (C % G || K % G)
        return nnc_error(NNC_ERR_SHAPE, "%s: input %s (%lld channels) and weight %s (%lld output channels) must both be divisible by groups=%lld",
                         nnc_node_desc(n, d, sizeof d), nnc_shape_str(x, s1, sizeof s1), (long long)C,
                         nnc_shape_str(w, s2, sizeof s2), (long long)K, (long long)G);
    if (w->shape[1] != C / G)
        return nnc_error(NNC_ERR_SHAPE, "%s: weight %s expects %lld input channels per group, input %s has %lld (groups=%lld)",
                         nnc_node_desc(n, d, sizeof d), nnc_shape_str(w, s1, sizeof s1), (long long)w->shape[1],
                         nnc_shape_str(x, s2, sizeof s2), (long long)(C / G), (long long)G);
    if (n->n_in == 3) {
        const nnc_tensor *b = &n->in[2]->out;
        if (b->dtype != NNC_F32 || b->ndim != 1 || b->shape[0] != K)
            return nnc_error(NNC_ERR_SHAPE, "%s: bias %s must be f32 [%lld]", nnc_node_desc(n, d, sizeof d), nnc_shape_str(b, s1, sizeof s1),
                             (long long)K);
    }
    nnc_conv3d_geom g = geom_of(n);
    int64_t et = g.dd * (g.T - 1) + 1, eh = g.dh * (g.R - 1) + 1, ew = g.dw * (g.S - 1) + 1;
    if (et > g.D + 2 * g.pd || eh > g.H + 2 * g.ph || ew > g.W + 2 * g.pw)
        return nnc_error(NNC_ERR_SHAPE, "%s: kernel extent %lldx%lldx%lld (with dilation) is larger than the padded input %lldx%lldx%lld (input %s)",
                         nnc_node_desc(n, d, sizeof d), (long long)et, (long long)eh, (long long)ew, (long long)(g.D + 2 * g.pd),
                         (long long)(g.H + 2 * g.ph), (long long)(g.W + 2 * g.pw), nnc_shape_str(x, s1, sizeof s1));
    n->out.dtype = NNC_F32;
    n->out.ndim = 5;
    n->out.shape[0] = g.N;
    n->out.shape[1] = K;
    n->out.shape[2] = g.OD;
    n->out.shape[3] = g.OH;
    n->out.shape[4] = g.OW;
    return NNC_OK;
}

static size_t round16(size_t f) { return (f + 15) / 16 * 16; }
static size_t cols_size(const nnc_conv3d_geom *g) {
    return round16((size_t)(g->C * g->T * g->R * g->S * g->OD * g->OH * g->OW));
}
/* backward slot: cols, dcols, partial dw */
static size_t bwd_slot(const nnc_conv3d_geom *g) {
    return 2 * cols_size(g) + round16((size_t)(g->K * g->C / g->groups * g->T * g->R * g->S));
}
static int64_t n_slots(int64_t items, size_t slot_bytes, size_t ws_bytes) {
    int64_t t = omp_get_max_threads();
    if (slot_bytes) {
        int64_t fit = (int64_t)(ws_bytes / slot_bytes);
        if (t > fit) t = fit;
    }
    if (t > items) t = items;
    return t < 1 ? 1 : t;
}

static size_t conv3d_workspace(const nnc_node *n, int training) {
    nnc_conv3d_geom g = geom_of(n);
    size_t slots = (size_t)n_slots(g.N, 0, 0), f = cols_size(&g) * slots, b = training ? bwd_slot(&g) * slots : 0;
    return (f > b ? f : b) * sizeof(float);
}

static void forward_one(const nnc_conv3d_geom *g, const float *x, const float *w, const float *b, float *y, float *cols) {
    const int64_t G = g->groups, Kg = g->K / G, CTRS = g->C / G * g->T * g->R * g->S, P = g->OD * g->OH * g->OW;
    nnc_vol2col(g, x, cols);
    for (int64_t grp = 0; grp < G; grp++) {
        float *yg = y + grp * Kg * P;
        if (b)
            for (int64_t k = 0; k < Kg; k++)
                for (int64_t p = 0; p < P; p++) yg[k * P + p] = b[grp * Kg + k];
        nnc_sgemm('N', 'N', Kg, P, CTRS, 1.0f, w + grp * Kg * CTRS, CTRS, cols + grp * CTRS * P, P, b ? 1.0f : 0.0f, yg, P);
    }
}

static void conv3d_forward(nnc_node *n, const nnc_exec *ex) {
    nnc_conv3d_geom g = geom_of(n);
    const float *x = n->in[0]->out.data, *w = n->in[1]->out.data, *b = n->n_in == 3 ? n->in[2]->out.data : NULL;
    float *y = n->out.data, *ws = ex->ws;
    size_t slot = cols_size(&g);
    int64_t nt = n_slots(g.N, slot * sizeof(float), ex->ws_bytes);
    const int64_t xs = g.C * g.D * g.H * g.W, ys = g.K * g.OD * g.OH * g.OW;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t i = 0; i < g.N; i++) forward_one(&g, x + i * xs, w, b, y + i * ys, ws + (size_t)omp_get_thread_num() * slot);
}

/* One sample: dx (written or added) and its weight gradient into part. */
static void backward_one(const nnc_conv3d_geom *g, float *slot, const float *x, const float *w, const float *dy, float *dx,
                         int acc_x, int need_dw) {
    const int64_t G = g->groups, Kg = g->K / G, CTRS = g->C / G * g->T * g->R * g->S, P = g->OD * g->OH * g->OW;
    float *cols = slot, *dcol = cols + cols_size(g), *part = dcol + cols_size(g);
    if (need_dw) nnc_vol2col(g, x, cols);
    for (int64_t grp = 0; grp < G; grp++) {
        const float *dyg = dy + grp * Kg * P;
        if (need_dw) nnc_sgemm('N', 'T', Kg, CTRS, P, 1.0f, dyg, P, cols + grp * CTRS * P, P, 0.0f, part + grp * Kg * CTRS, CTRS);
        if (dx) nnc_sgemm('T', 'N', CTRS, P, Kg, 1.0f, w + grp * Kg * CTRS, CTRS, dyg, P, 0.0f, dcol + grp * CTRS * P, P);
    }
    if (dx) {
        if (!acc_x) memset(dx, 0, (size_t)(g->C * g->D * g->H * g->W) * sizeof(float));
        nnc_col2vol_add(g, dcol, dx);
    }
}

static void conv3d_backward(nnc_node *n, const nnc_exec *ex) {
    nnc_conv3d_geom g = geom_of(n);
    const float *x = n->in[0]->out.data, *w = n->in[1]->out.data, *dy = n->grad.data;
    const int64_t P = g.OD * g.OH * g.OW, ys = g.K * P, xs = g.C * g.D * g.H * g.W;
    if (n->n_in == 3 && nnc_needs_grad(n->in[2])) {
        float *db = n->in[2]->grad.data;
        int acc = n->accum[2];
#pragma omp parallel for schedule(static) if (g.K * g.N * P > 65536)
        for (int64_t k = 0; k < g.K; k++) {
            double s = 0;
            for (int64_t i = 0; i < g.N; i++) {
                const float *d = dy + i * ys + k * P;
                for (int64_t p = 0; p < P; p++) s += d[p];
            }
            db[k] = acc ? db[k] + (float)s : (float)s;
        }
    }
    int need_dx = nnc_needs_grad(n->in[0]), need_dw = nnc_needs_grad(n->in[1]);
    if (!need_dx && !need_dw) return;
    float *dx = need_dx ? n->in[0]->grad.data : NULL, *dw = need_dw ? n->in[1]->grad.data : NULL, *ws = ex->ws;
    int acc_x = n->accum[0], acc_w = need_dw && n->accum[1];
    const int64_t wsize = nnc_numel(&n->in[1]->out);
    const size_t slot = bwd_slot(&g), part_off = 2 * cols_size(&g);
    int64_t nt = n_slots(g.N, slot * sizeof(float), ex->ws_bytes);
    /* at least two threads whenever there are two: GEMMs inside the team run
     * on one thread, so the per-sample sums never depend on the count */
    int team = (int)nt, maxt = omp_get_max_threads();
    if (team < 2 && maxt >= 2) team = 2;
    for (int64_t i0 = 0; i0 < g.N; i0 += nt) {
        int64_t cnt = g.N - i0 < nt ? g.N - i0 : nt;
#pragma omp parallel for num_threads(team) schedule(static, 1) if (team > 1)
        for (int64_t i = 0; i < cnt; i++)
            backward_one(&g, ws + (size_t)i * slot, x + (i0 + i) * xs, w, dy + (i0 + i) * ys, dx ? dx + (i0 + i) * xs : NULL, acc_x,
                         need_dw);
        if (!need_dw) continue;
        for (int64_t i = 0; i < cnt; i++) { /* in sample order */
            const float *part = ws + (size_t)i * slot + part_off;
            if (i0 + i == 0 && !acc_w) memcpy(dw, part, (size_t)wsize * sizeof(float));
            else for (int64_t j = 0; j < wsize; j++) dw[j] += part[j];
        }
    }
}

static int attrs_from(nnc_graph *g, const char *who, const nnc_conv3d_opts *o, conv3d_attrs *a) {
    nnc_conv3d_opts d = {{1, 1, 1}, {0, 0, 0}, {1, 1, 1}, 1};
    if (!o) o = &d;
    for (int i = 0; i < 3; i++) {
        if (o->stride[i] < 0 || o->pad[i] < 0 || o->dilation[i] < 0) {
            nnc_graph_fail(g, NNC_ERR_ARG, "%s: stride %d,%d,%d, padding %d,%d,%d, dilation %d,%d,%d must not be negative", who,
                           o->stride[0], o->stride[1], o->stride[2], o->pad[0], o->pad[1], o->pad[2], o->dilation[0], o->dilation[1],
                           o->dilation[2]);
            return 0;
        }
        a->stride[i] = o->stride[i] ? o->stride[i] : 1;
        a->pad[i] = o->pad[i];
        a->dil[i] = o->dilation[i] ? o->dilation[i] : 1;
    }
    if (o->groups < 0) { nnc_graph_fail(g, NNC_ERR_ARG, "%s: groups %d must not be negative", who, o->groups); return 0; }
    a->groups = o->groups ? o->groups : 1;
    return 1;
}

nnc_node *nnc_conv3d(nnc_graph *g, nnc_node *x, nnc_node *w, nnc_node *b, const nnc_conv3d_opts *o) {
    if (!g || g->err) return NULL;
    conv3d_attrs a;
    if (!attrs_from(g, "conv3d", o, &a)) return NULL;
    nnc_node *in[3] = {x, w, b};
    return nnc_node_new(g, NNC_OP_CONV3D, b ? 3 : 2, in, &a, sizeof a);
}

nnc_node *nnc_conv3d_layer(nnc_graph *g, nnc_node *x, const char *name, int64_t out_channels, int kt, int kh, int kw,
                           const nnc_conv3d_opts *o, int bias) {
    if (!g || g->err) return NULL;
    if (!name || !*name) return nnc_graph_fail(g, NNC_ERR_ARG, "conv3d layer: name is empty");
    if (!x) return nnc_graph_fail(g, NNC_ERR_ARG, "conv3d layer '%s': input is NULL", name);
    if (out_channels <= 0 || kt <= 0 || kh <= 0 || kw <= 0)
        return nnc_graph_fail(g, NNC_ERR_ARG, "conv3d layer '%s': %lld output channels, kernel %dx%dx%d (must be positive)", name,
                              (long long)out_channels, kt, kh, kw);
    char who[160], s1[64];
    snprintf(who, sizeof who, "conv3d layer '%s'", name);
    conv3d_attrs a;
    if (!attrs_from(g, who, o, &a)) return NULL;
    if (x->out.ndim != 5)
        return nnc_graph_fail(g, NNC_ERR_SHAPE, "%s: input must be [N, C, D, H, W], got %s", who, nnc_shape_str(&x->out, s1, sizeof s1));
    int64_t C = x->out.shape[1];
    if (C % a.groups || out_channels % a.groups)
        return nnc_graph_fail(g, NNC_ERR_SHAPE, "%s: %lld input and %lld output channels must both be divisible by groups=%d", who,
                              (long long)C, (long long)out_channels, a.groups);
    float bound = 1.0f / sqrtf((float)(C / a.groups * kt * kh * kw)); /* PyTorch: kaiming_uniform(a=sqrt(5)) and its bias rule */
    nnc_scope_push(g, name);
    nnc_node *w = nnc_param(g, "weight", 5, (int64_t[]){out_channels, C / a.groups, kt, kh, kw}, (nnc_init){.kind = NNC_INIT_UNIFORM, .a = -bound, .b = bound});
    nnc_node *b = bias ? nnc_param(g, "bias", 1, (int64_t[]){out_channels}, (nnc_init){.kind = NNC_INIT_UNIFORM, .a = -bound, .b = bound}) : NULL;
    nnc_scope_pop(g);
    if (g->err) return NULL;
    nnc_node *in[3] = {x, w, b};
    nnc_node *y = nnc_node_new(g, NNC_OP_CONV3D, b ? 3 : 2, in, &a, sizeof a);
    if (y) nnc_node_set_name(y, name);
    return y;
}

/* ---- gradient-check cases: linear in x and w, so eps 1e-2 is exact up to rounding */
static nnc_node *case_conv(nnc_graph *g, int64_t C, int64_t D, int64_t H, int64_t W, int64_t K, int kt, int kh, int kw,
                           nnc_conv3d_opts o, int bias) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 4, (int64_t[]){C, D, H, W});
    nnc_input_requires_grad(x);
    nnc_node *y = nnc_conv3d_layer(g, x, "conv", K, kt, kh, kw, &o, bias);
    nnc_graph_output(g, y);
    return y;
}
static nnc_node *case_basic(nnc_graph *g) { return case_conv(g, 2, 4, 4, 4, 3, 3, 3, 3, (nnc_conv3d_opts){{1, 1, 1}, {1, 1, 1}, {1, 1, 1}, 1}, 1); }
static nnc_node *case_geom(nnc_graph *g) { return case_conv(g, 2, 5, 6, 7, 2, 2, 3, 2, (nnc_conv3d_opts){{2, 1, 2}, {1, 0, 1}, {1, 2, 1}, 1}, 0); }
static nnc_node *case_groups(nnc_graph *g) { return case_conv(g, 4, 3, 4, 4, 6, 1, 3, 3, (nnc_conv3d_opts){{1, 2, 1}, {0, 1, 1}, {1, 1, 1}, 2}, 1); }
/* fan-out: x feeds two convolutions, so the second dx accumulates */
static nnc_node *case_fanout(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 4, (int64_t[]){2, 3, 3, 4});
    nnc_input_requires_grad(x);
    nnc_conv3d_opts o = {{1, 1, 1}, {1, 0, 1}, {1, 1, 1}, 1};
    nnc_node *a = nnc_conv3d_layer(g, x, "a", 2, 3, 2, 3, &o, 1), *b = nnc_conv3d_layer(g, x, "b", 3, 1, 1, 1, NULL, 0);
    nnc_graph_output(g, a);
    nnc_graph_output(g, b);
    return a;
}
static const nnc_op_case cases[] = {
    {"conv3d_fanout_accumulate", 2, 1e-2, 2e-3, 1e-4, 0, case_fanout},
    {"conv3d_c2k3_3x3x3_p1_bias", 2, 1e-2, 2e-3, 1e-4, 0, case_basic},
    {"conv3d_2x3x2_s212_p101_d121_nobias", 2, 1e-2, 2e-3, 1e-4, 0, case_geom},
    {"conv3d_c4k6_groups2", 3, 1e-2, 2e-3, 1e-4, 0, case_groups},
};

const nnc_op_desc nnc_op_conv3d = {"conv3d", "3-D convolution (vol2col + GEMM): stride, padding, dilation, groups",
                                   "weight [K,C/groups,T,R,S], bias [K] optional; stride, pad, dilation, groups (3 each)",
                                   conv3d_infer, conv3d_forward, conv3d_backward, conv3d_workspace, NULL,
                                   NNC_READS_IN(0) | NNC_READS_IN(1), cases, (int)(sizeof cases / sizeof cases[0]), NULL, NULL, 0, NULL};
