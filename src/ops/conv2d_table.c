/* conv2d_table.c -- convolution with a connection table (LeNet-5's C3):
 * output map k sees only the input maps c with table[k][c] = 1.
 *   forward:  y[n,k,oh,ow] = b[k] + sum_{j = (k,c) connected} sum_{r,s} w[j,r,s] x[n,c,oh sh - ph + r, ow sw - pw + s]
 *   backward: dx, dw, db of that sum.
 * Weights are packed: w [n_conn, R, S] with the connections j in row-major
 * order of the table (k, then c), so the parameter count is exact (LeNet-5
 * C3: 60 * 25 weights + 16 biases = 1516). Equivalent to a full conv2d whose
 * weight w_full[k,c] is w[j] where connected and 0 elsewhere. The table
 * (K*C <= 672 entries) lives in the node's attributes as a bitmap. Direct
 * loops (the maps are small); parallel over (sample, output map) forward,
 * samples for dx, output maps for dw and db. Backward reads x and w. PyTorch
 * has no such module (LeCun et al. 1998, Table I). The layer initializes
 * weights and biases with PyTorch's conv rule U(+-1/sqrt(fan_in)) using the
 * mean fan-in of an output map (one range per tensor); the paper draws each
 * unit's weights from U(+-2.4/F_i) with its own fan-in F_i. */
#include "ops/op.h"
#include <math.h>

#define TABLE_BITS (84 * 8)
typedef struct {
    int16_t stride[2], pad[2], K, C;
    uint8_t bits[84];
} table_attrs;

static int conn(const table_attrs *a, int64_t k, int64_t c) {
    int64_t i = k * a->C + c;
    return (a->bits[i >> 3] >> (i & 7)) & 1;
}
/* index of the first connection of output map k */
static int64_t first_conn(const table_attrs *a, int64_t k) {
    int64_t j = 0;
    for (int64_t i = 0; i < k * a->C; i++) j += (a->bits[i >> 3] >> (i & 7)) & 1;
    return j;
}
static int64_t n_conn(const table_attrs *a) { return first_conn(a, a->K); }

typedef struct { int64_t N, C, H, W, K, R, S, OH, OW, sh, sw, ph, pw; } tgeom;
static tgeom geom_of(const nnc_node *n) {
    const table_attrs *a = NNC_ATTRS(n, table_attrs);
    const nnc_tensor *x = &n->in[0]->out, *w = &n->in[1]->out;
    tgeom g;
    g.N = x->shape[0]; g.C = x->shape[1]; g.H = x->shape[2]; g.W = x->shape[3];
    g.K = a->K; g.R = w->shape[1]; g.S = w->shape[2];
    g.sh = a->stride[0]; g.sw = a->stride[1]; g.ph = a->pad[0]; g.pw = a->pad[1];
    int64_t sh = g.H + 2 * g.ph - g.R, sw = g.W + 2 * g.pw - g.S;
    g.OH = sh < 0 ? 0 : sh / g.sh + 1;
    g.OW = sw < 0 ? 0 : sw / g.sw + 1;
    return g;
}

static nnc_status table_infer(nnc_node *n) {
    const table_attrs *a = NNC_ATTRS(n, table_attrs);
    const nnc_tensor *x = &n->in[0]->out, *w = &n->in[1]->out;
    char d[160], s1[64], s2[64];
    if (x->dtype != NNC_F32 || x->ndim != 4)
        return nnc_error(NNC_ERR_SHAPE, "%s: input must be f32 [N, C, H, W], got %s %s", nnc_node_desc(n, d, sizeof d),
                         nnc_dtype_name(x->dtype), nnc_shape_str(x, s1, sizeof s1));
    if (x->shape[1] != a->C)
        return nnc_error(NNC_ERR_SHAPE, "%s: input %s has %lld channels, the connection table has %d", nnc_node_desc(n, d, sizeof d),
                         nnc_shape_str(x, s1, sizeof s1), (long long)x->shape[1], a->C);
    int64_t J = n_conn(a);
    if (w->dtype != NNC_F32 || w->ndim != 3 || w->shape[0] != J)
        return nnc_error(NNC_ERR_SHAPE, "%s: weight must be f32 [%lld connections, R, S], got %s", nnc_node_desc(n, d, sizeof d),
                         (long long)J, nnc_shape_str(w, s1, sizeof s1));
    if (n->n_in == 3) {
        const nnc_tensor *b = &n->in[2]->out;
        if (b->dtype != NNC_F32 || b->ndim != 1 || b->shape[0] != a->K)
            return nnc_error(NNC_ERR_SHAPE, "%s: bias %s must be f32 [%d]", nnc_node_desc(n, d, sizeof d), nnc_shape_str(b, s1, sizeof s1), a->K);
    }
    tgeom g = geom_of(n);
    if (g.R > g.H + 2 * g.ph || g.S > g.W + 2 * g.pw)
        return nnc_error(NNC_ERR_SHAPE, "%s: kernel %s is larger than the padded input %s (padding %lld,%lld)", nnc_node_desc(n, d, sizeof d),
                         nnc_shape_str(w, s1, sizeof s1), nnc_shape_str(x, s2, sizeof s2), (long long)g.ph, (long long)g.pw);
    n->out.dtype = NNC_F32;
    n->out.ndim = 4;
    n->out.shape[0] = g.N;
    n->out.shape[1] = g.K;
    n->out.shape[2] = g.OH;
    n->out.shape[3] = g.OW;
    return NNC_OK;
}

static void table_forward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    const table_attrs *a = NNC_ATTRS(n, table_attrs);
    tgeom g = geom_of(n);
    const float *x = n->in[0]->out.data, *w = n->in[1]->out.data, *b = n->n_in == 3 ? n->in[2]->out.data : NULL;
    float *y = n->out.data;
    const int64_t P = g.OH * g.OW, RS = g.R * g.S;
#pragma omp parallel for schedule(static) if (g.N * g.K * P > 4096)
    for (int64_t i = 0; i < g.N * g.K; i++) {
        int64_t nn = i / g.K, k = i % g.K, j = first_conn(a, k);
        float *yo = y + i * P;
        for (int64_t p = 0; p < P; p++) yo[p] = b ? b[k] : 0.0f;
        for (int64_t c = 0; c < g.C; c++) {
            if (!conn(a, k, c)) continue;
            const float *xc = x + (nn * g.C + c) * g.H * g.W, *wj = w + j++ * RS;
            for (int64_t oh = 0; oh < g.OH; oh++)
                for (int64_t ow = 0; ow < g.OW; ow++) {
                    float s = 0;
                    for (int64_t r = 0; r < g.R; r++) {
                        int64_t ih = oh * g.sh - g.ph + r;
                        if (ih < 0 || ih >= g.H) continue;
                        for (int64_t q = 0; q < g.S; q++) {
                            int64_t iw = ow * g.sw - g.pw + q;
                            if (iw >= 0 && iw < g.W) s += wj[r * g.S + q] * xc[ih * g.W + iw];
                        }
                    }
                    yo[oh * g.OW + ow] += s;
                }
        }
    }
}

static void table_backward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    const table_attrs *a = NNC_ATTRS(n, table_attrs);
    tgeom g = geom_of(n);
    const float *x = n->in[0]->out.data, *w = n->in[1]->out.data, *dy = n->grad.data;
    const int64_t P = g.OH * g.OW, RS = g.R * g.S, HW = g.H * g.W;
    if (n->n_in == 3 && nnc_needs_grad(n->in[2])) {
        float *db = n->in[2]->grad.data;
        int acc = n->accum[2];
        for (int64_t k = 0; k < g.K; k++) {
            double s = 0;
            for (int64_t i = 0; i < g.N; i++)
                for (int64_t p = 0; p < P; p++) s += dy[(i * g.K + k) * P + p];
            db[k] = acc ? db[k] + (float)s : (float)s;
        }
    }
    if (nnc_needs_grad(n->in[0])) {
        float *dx = n->in[0]->grad.data;
        int acc = n->accum[0];
#pragma omp parallel for schedule(static) if (g.N * g.K * P > 4096)
        for (int64_t nn = 0; nn < g.N; nn++) { /* each sample owns its dx */
            float *dxn = dx + nn * g.C * HW;
            if (!acc) memset(dxn, 0, (size_t)(g.C * HW) * sizeof(float));
            int64_t j = 0;
            for (int64_t k = 0; k < g.K; k++)
                for (int64_t c = 0; c < g.C; c++) {
                    if (!conn(a, k, c)) continue;
                    const float *wj = w + j++ * RS, *d = dy + (nn * g.K + k) * P;
                    float *dxc = dxn + c * HW;
                    for (int64_t oh = 0; oh < g.OH; oh++)
                        for (int64_t ow = 0; ow < g.OW; ow++) {
                            float v = d[oh * g.OW + ow];
                            for (int64_t r = 0; r < g.R; r++) {
                                int64_t ih = oh * g.sh - g.ph + r;
                                if (ih < 0 || ih >= g.H) continue;
                                for (int64_t q = 0; q < g.S; q++) {
                                    int64_t iw = ow * g.sw - g.pw + q;
                                    if (iw >= 0 && iw < g.W) dxc[ih * g.W + iw] += wj[r * g.S + q] * v;
                                }
                            }
                        }
                }
        }
    }
    if (nnc_needs_grad(n->in[1])) {
        float *dw = n->in[1]->grad.data;
        int acc = n->accum[1];
#pragma omp parallel for schedule(static) if (g.N * g.K * P > 4096)
        for (int64_t k = 0; k < g.K; k++) { /* each output map owns its connections' weights */
            int64_t j = first_conn(a, k);
            for (int64_t c = 0; c < g.C; c++) {
                if (!conn(a, k, c)) continue;
                float *dwj = dw + j++ * RS;
                for (int64_t r = 0; r < g.R; r++)
                    for (int64_t q = 0; q < g.S; q++) {
                        double s = 0;
                        for (int64_t nn = 0; nn < g.N; nn++) {
                            const float *xc = x + (nn * g.C + c) * HW, *d = dy + (nn * g.K + k) * P;
                            for (int64_t oh = 0; oh < g.OH; oh++) {
                                int64_t ih = oh * g.sh - g.ph + r;
                                if (ih < 0 || ih >= g.H) continue;
                                for (int64_t ow = 0; ow < g.OW; ow++) {
                                    int64_t iw = ow * g.sw - g.pw + q;
                                    if (iw >= 0 && iw < g.W) s += (double)d[oh * g.OW + ow] * xc[ih * g.W + iw];
                                }
                            }
                        }
                        dwj[r * g.S + q] = acc ? dwj[r * g.S + q] + (float)s : (float)s;
                    }
            }
        }
    }
}

const unsigned char nnc_lenet5_c3_table[16][6] = {
    /* LeCun et al. 1998, Table I (rows here = output maps, columns = S2 maps) */
    {1, 1, 1, 0, 0, 0}, {0, 1, 1, 1, 0, 0}, {0, 0, 1, 1, 1, 0}, {0, 0, 0, 1, 1, 1},
    {1, 0, 0, 0, 1, 1}, {1, 1, 0, 0, 0, 1}, {1, 1, 1, 1, 0, 0}, {0, 1, 1, 1, 1, 0},
    {0, 0, 1, 1, 1, 1}, {1, 0, 0, 1, 1, 1}, {1, 1, 0, 0, 1, 1}, {1, 1, 1, 0, 0, 1},
    {1, 1, 0, 1, 1, 0}, {0, 1, 1, 0, 1, 1}, {1, 0, 1, 1, 0, 1}, {1, 1, 1, 1, 1, 1},
};

nnc_status nnc_conv_table_from_pairs(unsigned char *table, int64_t out_channels, int64_t in_channels, int n_pairs,
                                     const int (*pairs)[2]) {
    if (!table || out_channels <= 0 || in_channels <= 0 || n_pairs < 0 || (n_pairs && !pairs))
        return nnc_error(NNC_ERR_ARG, "nnc_conv_table_from_pairs: bad arguments (%lld x %lld table, %d pairs)", (long long)out_channels,
                         (long long)in_channels, n_pairs);
    for (int i = 0; i < n_pairs; i++)
        if (pairs[i][0] < 0 || pairs[i][0] >= out_channels || pairs[i][1] < 0 || pairs[i][1] >= in_channels)
            return nnc_error(NNC_ERR_ARG, "nnc_conv_table_from_pairs: pair %d (%d, %d) is outside the %lld x %lld table", i, pairs[i][0],
                             pairs[i][1], (long long)out_channels, (long long)in_channels);
    memset(table, 0, (size_t)(out_channels * in_channels));
    for (int i = 0; i < n_pairs; i++) table[pairs[i][0] * in_channels + pairs[i][1]] = 1;
    return NNC_OK;
}

static int attrs_from(nnc_graph *g, const char *who, int64_t K, int64_t C, const unsigned char *table, const nnc_conv2d_opts *o,
                      table_attrs *a) {
    memset(a, 0, sizeof *a);
    if (!table) { nnc_graph_fail(g, NNC_ERR_ARG, "%s: connection table is NULL", who); return 0; }
    if (K <= 0 || C <= 0 || K * C > TABLE_BITS || K > INT16_MAX || C > INT16_MAX) {
        nnc_graph_fail(g, NNC_ERR_ARG, "%s: a %lld x %lld connection table (at most %d entries)", who, (long long)K, (long long)C, TABLE_BITS);
        return 0;
    }
    if (o && (o->dilation[0] > 1 || o->dilation[1] > 1 || o->groups > 1)) {
        nnc_graph_fail(g, NNC_ERR_ARG, "%s: dilation and groups are not supported (the table replaces groups)", who);
        return 0;
    }
    for (int i = 0; i < 2; i++) {
        int s = o ? o->stride[i] : 0, p = o ? o->pad[i] : 0;
        if (s < 0 || p < 0 || s > INT16_MAX || p > INT16_MAX) {
            nnc_graph_fail(g, NNC_ERR_ARG, "%s: stride %d and padding %d must be non-negative", who, s, p);
            return 0;
        }
        a->stride[i] = (int16_t)(s ? s : 1);
        a->pad[i] = (int16_t)p;
    }
    a->K = (int16_t)K;
    a->C = (int16_t)C;
    for (int64_t k = 0; k < K; k++) {
        int any = 0;
        for (int64_t c = 0; c < C; c++) {
            unsigned char v = table[k * C + c];
            if (v > 1) { nnc_graph_fail(g, NNC_ERR_ARG, "%s: table[%lld][%lld] = %d (must be 0 or 1)", who, (long long)k, (long long)c, v); return 0; }
            if (v) { a->bits[(k * C + c) >> 3] |= (uint8_t)(1u << ((k * C + c) & 7)); any = 1; }
        }
        if (!any) { nnc_graph_fail(g, NNC_ERR_ARG, "%s: output map %lld has no input in the connection table", who, (long long)k); return 0; }
    }
    return 1;
}

nnc_node *nnc_conv2d_table(nnc_graph *g, nnc_node *x, nnc_node *w, nnc_node *b, int64_t out_channels, int64_t in_channels,
                           const unsigned char *table, const nnc_conv2d_opts *o) {
    if (!g || g->err) return NULL;
    table_attrs a;
    if (!attrs_from(g, "conv2d_table", out_channels, in_channels, table, o, &a)) return NULL;
    nnc_node *in[3] = {x, w, b};
    return nnc_node_new(g, NNC_OP_CONV2D_TABLE, b ? 3 : 2, in, &a, sizeof a);
}

nnc_node *nnc_conv2d_table_layer(nnc_graph *g, nnc_node *x, const char *name, int64_t out_channels, int kh, int kw,
                                 const unsigned char *table) {
    if (!g || g->err) return NULL;
    if (!name || !*name) return nnc_graph_fail(g, NNC_ERR_ARG, "conv2d_table layer: name is empty");
    if (!x) return nnc_graph_fail(g, NNC_ERR_ARG, "conv2d_table layer '%s': input is NULL", name);
    char who[160], s1[64];
    snprintf(who, sizeof who, "conv2d_table layer '%s'", name);
    if (kh <= 0 || kw <= 0) return nnc_graph_fail(g, NNC_ERR_ARG, "%s: kernel %dx%d (must be positive)", who, kh, kw);
    if (x->out.ndim != 4)
        return nnc_graph_fail(g, NNC_ERR_SHAPE, "%s: input must be [N, C, H, W], got %s", who, nnc_shape_str(&x->out, s1, sizeof s1));
    table_attrs a;
    if (!attrs_from(g, who, out_channels, x->out.shape[1], table, NULL, &a)) return NULL;
    int64_t J = n_conn(&a);
    /* PyTorch's conv rule U(+-1/sqrt(fan_in)) with the mean fan-in of an output map */
    float bound = 1.0f / sqrtf((float)J * (float)(kh * kw) / (float)out_channels);
    nnc_scope_push(g, name);
    nnc_node *w = nnc_param(g, "weight", 3, (int64_t[]){J, kh, kw}, (nnc_init){.kind = NNC_INIT_UNIFORM, .a = -bound, .b = bound});
    nnc_node *b = nnc_param(g, "bias", 1, (int64_t[]){out_channels}, (nnc_init){.kind = NNC_INIT_UNIFORM, .a = -bound, .b = bound});
    nnc_scope_pop(g);
    if (g->err) return NULL;
    nnc_node *in[3] = {x, w, b};
    nnc_node *y = nnc_node_new(g, NNC_OP_CONV2D_TABLE, 3, in, &a, sizeof a);
    if (y) nnc_node_set_name(y, name);
    return y;
}

/* ---- gradient-check cases: linear in x and w */
static nnc_node *case_lenet(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){6, 7, 7});
    nnc_input_requires_grad(x);
    nnc_node *y = nnc_conv2d_table_layer(g, x, "c3", 16, 5, 5, &nnc_lenet5_c3_table[0][0]);
    nnc_graph_output(g, y);
    return y;
}
static nnc_node *case_stride_pad(nnc_graph *g) {
    static const unsigned char t[3 * 4] = {1, 0, 1, 0, 0, 1, 1, 1, 1, 0, 0, 0};
    nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){4, 5, 6});
    nnc_input_requires_grad(x);
    nnc_node *w = nnc_param(g, "w", 3, (int64_t[]){6, 3, 2}, (nnc_init){.kind = NNC_INIT_UNIFORM, .a = -1, .b = 1});
    nnc_conv2d_opts o = {{2, 1}, {1, 1}, {0, 0}, 0};
    nnc_node *y = nnc_conv2d_table(g, x, w, NULL, 3, 4, t, &o);
    nnc_node *y2 = nnc_conv2d_table(g, x, w, NULL, 3, 4, t, &o); /* fan-out: accumulation */
    nnc_graph_output(g, y);
    nnc_graph_output(g, y2);
    return y;
}
static const nnc_op_case cases[] = {
    {"conv2d_table_lenet5_c3_5x5", 2, 1e-2, 2e-3, 1e-4, 0, case_lenet},
    {"conv2d_table_3x2_s21_p1_nobias_fanout", 2, 1e-2, 2e-3, 1e-4, 0, case_stride_pad},
};

const nnc_op_desc nnc_op_conv2d_table = {"conv2d_table", "convolution with a connection table (LeNet-5 C3), packed weights",
                                         "weight [connections,R,S], bias [K] optional; table [K][C] of 0/1, stride, pad",
                                         table_infer, table_forward, table_backward, NULL, NULL,
                                         NNC_READS_IN(0) | NNC_READS_IN(1), cases, (int)(sizeof cases / sizeof cases[0]), NULL, NULL, 0, NULL};
