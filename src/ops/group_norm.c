/* group_norm.c -- group normalization (Wu & He 2018; PyTorch GroupNorm) of
 * [N,C,...]: the C channels form G groups of C/G; per (n, group), over its
 * D = (C/G) L elements (L = product of the dims after C):
 *   mean, var = mean and biased variance (two passes in double),
 *   rstd = 1/sqrt(var + eps), y = (x - mean) rstd w_c + b_c   (w, b [C] optional)
 *   backward: xhat = (x - mean) rstd, g = dy w_c,
 *     dx = rstd / D (D g - sum g - xhat sum g xhat)  (sums over the group),
 *     dw_c = sum_{n,l} dy xhat,  db_c = sum_{n,l} dy.
 * Saves mean and rstd per (n, group) (training); backward reads x and w.
 * Parallel over (n, group) for y and dx, over channels for dw and db. */
#include "ops/op.h"
#include <math.h>

typedef struct { int groups; float eps; int w, b; } gn_attrs; /* input indices, -1 if absent */

static nnc_status gn_infer(nnc_node *n) {
    const gn_attrs *a = NNC_ATTRS(n, gn_attrs);
    const nnc_tensor *x = &n->in[0]->out;
    char d[160], s1[64], s2[64];
    if (x->dtype != NNC_F32 || x->ndim < 2)
        return nnc_error(NNC_ERR_SHAPE, "%s: input must be f32 [N, C, ...], got %s %s", nnc_node_desc(n, d, sizeof d),
                         nnc_dtype_name(x->dtype), nnc_shape_str(x, s1, sizeof s1));
    int64_t C = x->shape[1];
    if (C % a->groups)
        return nnc_error(NNC_ERR_SHAPE, "%s: %d groups do not divide the %lld channels of input %s", nnc_node_desc(n, d, sizeof d),
                         a->groups, (long long)C, nnc_shape_str(x, s1, sizeof s1));
    const int idx[2] = {a->w, a->b};
    static const char *const what[2] = {"weight", "bias"};
    for (int i = 0; i < 2; i++) {
        if (idx[i] < 0) continue;
        const nnc_tensor *t = &n->in[idx[i]]->out;
        if (t->dtype != NNC_F32 || t->ndim != 1 || t->shape[0] != C)
            return nnc_error(NNC_ERR_SHAPE, "%s: %s %s %s must be f32 [%lld] for input %s", nnc_node_desc(n, d, sizeof d), what[i],
                             nnc_dtype_name(t->dtype), nnc_shape_str(t, s1, sizeof s1), (long long)C, nnc_shape_str(x, s2, sizeof s2));
    }
    nnc_out_like(n, x, NNC_F32);
    return NNC_OK;
}

static size_t gn_saved(const nnc_node *n, int training) {
    return training ? 2 * (size_t)n->in[0]->out.shape[0] * (size_t)NNC_ATTRS(n, gn_attrs)->groups * sizeof(float) : 0;
}

typedef struct { int64_t N, C, L, G, CG; } gn_dims;
static gn_dims dims_of(const nnc_node *n) {
    const nnc_tensor *x = &n->in[0]->out;
    gn_dims d = {x->shape[0], x->shape[1], 1, NNC_ATTRS(n, gn_attrs)->groups, 0};
    for (int i = 2; i < x->ndim; i++) d.L *= x->shape[i];
    d.CG = d.C / d.G;
    return d;
}

static void gn_forward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    const gn_attrs *a = NNC_ATTRS(n, gn_attrs);
    const gn_dims D = dims_of(n);
    const int64_t M = D.CG * D.L; /* elements per group */
    const float *X = n->in[0]->out.data;
    const float *W = a->w >= 0 ? n->in[a->w]->out.data : NULL, *B = a->b >= 0 ? n->in[a->b]->out.data : NULL;
    float *Y = n->out.data, *saved = n->saved;
    const int64_t units = D.N * D.G;
#pragma omp parallel for schedule(static) if (units * M > 32768)
    for (int64_t u = 0; u < units; u++) {
        const float *x = X + u * M; /* a group is contiguous: channels g*CG .. */
        float *y = Y + u * M;
        double s = 0, v = 0;
        for (int64_t e = 0; e < M; e++) s += x[e];
        const double mean = M ? s / (double)M : 0;
        for (int64_t e = 0; e < M; e++) { double t = x[e] - mean; v += t * t; }
        const double rstd = 1.0 / sqrt((M ? v / (double)M : 0) + a->eps);
        if (saved) { saved[u] = (float)mean; saved[units + u] = (float)rstd; }
        const int64_t c0 = (u % D.G) * D.CG;
        for (int64_t cc = 0; cc < D.CG; cc++) {
            const int64_t c = c0 + cc;
            const float sc = (float)(rstd * (W ? W[c] : 1.0)), sh = B ? B[c] : 0.0f, fm = (float)mean;
            const float *xc = x + cc * D.L;
            float *yc = y + cc * D.L;
            for (int64_t l = 0; l < D.L; l++) yc[l] = (xc[l] - fm) * sc + sh;
        }
    }
}

static void gn_backward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    const gn_attrs *a = NNC_ATTRS(n, gn_attrs);
    const gn_dims D = dims_of(n);
    const int64_t M = D.CG * D.L, units = D.N * D.G;
    const float *X = n->in[0]->out.data, *dY = n->grad.data, *saved = n->saved;
    const float *W = a->w >= 0 ? n->in[a->w]->out.data : NULL;
    float *dX = nnc_needs_grad(n->in[0]) ? n->in[0]->grad.data : NULL;
    float *dW = a->w >= 0 && nnc_needs_grad(n->in[a->w]) ? n->in[a->w]->grad.data : NULL;
    float *dB = a->b >= 0 && nnc_needs_grad(n->in[a->b]) ? n->in[a->b]->grad.data : NULL;
    const int acc_x = n->accum[0], acc_w = a->w >= 0 ? n->accum[a->w] : 0, acc_b = a->b >= 0 ? n->accum[a->b] : 0;
    if (dW || dB) {
#pragma omp parallel for schedule(static) if (D.N * D.C * D.L > 32768)
        for (int64_t c = 0; c < D.C; c++) {
            const int64_t grp = c / D.CG;
            double sdy = 0, sdyx = 0;
            for (int64_t i = 0; i < D.N; i++) {
                const double mean = saved[i * D.G + grp], rstd = saved[units + i * D.G + grp];
                const float *xc = X + (i * D.C + c) * D.L, *dyc = dY + (i * D.C + c) * D.L;
                for (int64_t l = 0; l < D.L; l++) {
                    sdy += dyc[l];
                    sdyx += dyc[l] * ((xc[l] - mean) * rstd);
                }
            }
            if (dW) dW[c] = acc_w ? dW[c] + (float)sdyx : (float)sdyx;
            if (dB) dB[c] = acc_b ? dB[c] + (float)sdy : (float)sdy;
        }
    }
    if (!dX) return;
#pragma omp parallel for schedule(static) if (units * M > 32768)
    for (int64_t u = 0; u < units; u++) {
        const double mean = saved[u], rstd = saved[units + u];
        const int64_t c0 = (u % D.G) * D.CG;
        const float *x = X + u * M, *dy = dY + u * M;
        float *dx = dX + u * M;
        double sg = 0, sgx = 0;
        for (int64_t cc = 0; cc < D.CG; cc++) {
            const double w = W ? W[c0 + cc] : 1.0;
            for (int64_t l = 0; l < D.L; l++) {
                const int64_t e = cc * D.L + l;
                const double gv = dy[e] * w;
                sg += gv;
                sgx += gv * ((x[e] - mean) * rstd);
            }
        }
        const double m = (double)M;
        for (int64_t cc = 0; cc < D.CG; cc++) {
            const double w = W ? W[c0 + cc] : 1.0;
            for (int64_t l = 0; l < D.L; l++) {
                const int64_t e = cc * D.L + l;
                const double xh = (x[e] - mean) * rstd;
                const double d = rstd / m * (m * dy[e] * w - sg - xh * sgx);
                dx[e] = acc_x ? dx[e] + (float)d : (float)d;
            }
        }
    }
}

nnc_node *nnc_group_norm(nnc_graph *g, nnc_node *x, nnc_node *weight, nnc_node *bias, int groups, float eps) {
    if (!g || g->err) return NULL;
    if (groups < 1) return nnc_graph_fail(g, NNC_ERR_ARG, "group_norm: groups %d must be >= 1", groups);
    if (!(eps >= 0)) return nnc_graph_fail(g, NNC_ERR_ARG, "group_norm: eps %g must be >= 0", (double)eps);
    nnc_node *in[3];
    int k = 0;
    gn_attrs a = {groups, eps, -1, -1};
    in[k++] = x;
    if (weight) { a.w = k; in[k++] = weight; }
    if (bias) { a.b = k; in[k++] = bias; }
    return nnc_node_new(g, NNC_OP_GROUP_NORM, k, in, &a, sizeof a);
}

nnc_node *nnc_group_norm_layer(nnc_graph *g, nnc_node *x, const char *name, int groups, float eps, int affine) {
    if (!g || g->err) return NULL;
    if (!name || !*name) return nnc_graph_fail(g, NNC_ERR_ARG, "group_norm layer: name is empty");
    if (!x) return nnc_graph_fail(g, NNC_ERR_ARG, "group_norm layer '%s': input is NULL", name);
    char s1[64];
    if (x->out.ndim < 2 || x->out.shape[1] <= 0)
        return nnc_graph_fail(g, NNC_ERR_SHAPE, "group_norm layer '%s': input must be [N, C, ...], got %s", name,
                              nnc_shape_str(&x->out, s1, sizeof s1));
    if (groups < 1 || x->out.shape[1] % groups)
        return nnc_graph_fail(g, NNC_ERR_SHAPE, "group_norm layer '%s': %d groups do not divide the %lld channels of input %s", name,
                              groups, (long long)x->out.shape[1], nnc_shape_str(&x->out, s1, sizeof s1));
    int64_t C = x->out.shape[1];
    nnc_node *w = NULL, *b = NULL;
    if (affine) {
        nnc_scope_push(g, name);
        w = nnc_param(g, "weight", 1, &C, (nnc_init){.kind = NNC_INIT_CONST, .a = 1.0f});
        b = nnc_param(g, "bias", 1, &C, (nnc_init){.kind = NNC_INIT_ZEROS});
        nnc_scope_pop(g);
        if (g->err) return NULL;
    }
    nnc_node *y = nnc_group_norm(g, x, w, b, groups, eps);
    if (y) nnc_node_set_name(y, name);
    return y;
}

/* ---- gradient-check cases (eps 3e-3 as for batch norm: the statistics make
 * the op nonlinear); weight and bias drawn away from 1 and 0 */
static nnc_node *case_gn(nnc_graph *g, int ndim, const int64_t *shape, int groups, int affine, int fanout) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, ndim, shape);
    nnc_input_requires_grad(x);
    int64_t C = shape[0];
    nnc_node *w = NULL, *b = NULL;
    if (affine) {
        w = nnc_param(g, "gn.weight", 1, &C, (nnc_init){.kind = NNC_INIT_UNIFORM, .a = 0.5f, .b = 1.5f});
        b = nnc_param(g, "gn.bias", 1, &C, (nnc_init){.kind = NNC_INIT_UNIFORM, .a = -0.5f, .b = 0.5f});
    }
    nnc_node *y = nnc_group_norm(g, x, w, b, groups, 1e-5f);
    if (fanout) nnc_graph_output(g, x);
    nnc_graph_output(g, y);
    return y;
}
static nnc_node *case_g2(nnc_graph *g) { return case_gn(g, 3, (int64_t[]){6, 2, 3}, 2, 1, 0); }
static nnc_node *case_g1(nnc_graph *g) { return case_gn(g, 3, (int64_t[]){5, 2, 2}, 1, 1, 0); }
static nnc_node *case_gC(nnc_graph *g) { return case_gn(g, 3, (int64_t[]){3, 2, 3}, 3, 1, 0); }
static nnc_node *case_noaffine(nnc_graph *g) { return case_gn(g, 3, (int64_t[]){6, 3, 1}, 3, 0, 1); }
static nnc_node *case_1d(nnc_graph *g) { return case_gn(g, 2, (int64_t[]){9, 4}, 3, 1, 0); }
static nnc_node *case_layer(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){4, 3, 2});
    nnc_input_requires_grad(x);
    nnc_node *y = nnc_group_norm_layer(g, x, "gn", 2, 1e-5f, 1);
    nnc_graph_output(g, y);
    return y;
}
static const nnc_op_case cases[] = {
    {"group_norm_G2_6x2x3_affine", 3, 3e-3, 2e-3, 1e-4, 0, case_g2},
    {"group_norm_G1_5x2x2_affine", 2, 3e-3, 2e-3, 1e-4, 0, case_g1},
    {"group_norm_GC_3x2x3_affine", 2, 3e-3, 2e-3, 1e-4, 0, case_gC},
    {"group_norm_G3_6x3x1_noaffine_fanout", 2, 3e-3, 2e-3, 1e-4, 0, case_noaffine},
    {"group_norm_G3_9x4_affine", 2, 3e-3, 2e-3, 1e-4, 0, case_1d},
    {"group_norm_layer_G2_4x3x2", 2, 3e-3, 2e-3, 1e-4, 0, case_layer},
};

const nnc_op_desc nnc_op_group_norm = {"group_norm", "group normalization: per sample and group of C/G channels (PyTorch GroupNorm)",
                                       "groups, eps; weight, bias optional [C]",
                                       gn_infer, gn_forward, gn_backward, NULL, gn_saved,
                                       NNC_READS_IN(0) | NNC_READS_IN(1), cases, (int)(sizeof cases / sizeof cases[0]), NULL, NULL, 0, NULL};
