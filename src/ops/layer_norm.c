/* layer_norm.c -- layer normalization (Ba et al. 2016; PyTorch LayerNorm) over
 * the last `ndims` dimensions of x (normalized_shape; never the batch dim):
 * x is R rows of D elements (D = product of those dims); per row
 *   mean, var = mean and biased variance (two passes in double),
 *   rstd = 1/sqrt(var + eps), y = (x - mean) rstd w_d + b_d  (w, b shaped
 *   like the normalized dims, optional)
 *   backward: xhat = (x - mean) rstd, g = dy w_d,
 *     dx = rstd / D (D g - sum g - xhat sum g xhat)  (sums over the row),
 *     dw_d = sum_rows dy xhat,  db_d = sum_rows dy.
 * Saves mean and rstd per row (training); backward reads x and w.
 * Parallel over rows for y and dx, over the D features for dw and db. */
#include "ops/op.h"
#include <math.h>

typedef struct { int ndims; float eps; int w, b; } ln_attrs; /* input indices, -1 if absent */

static void ln_dims(const nnc_node *n, int64_t *R, int64_t *D) {
    const nnc_tensor *x = &n->in[0]->out;
    int nd = NNC_ATTRS(n, ln_attrs)->ndims;
    int64_t d = 1, r = 1;
    for (int i = 0; i < x->ndim; i++) {
        if (i >= x->ndim - nd) d *= x->shape[i];
        else r *= x->shape[i];
    }
    *R = r;
    *D = d;
}

static nnc_status ln_infer(nnc_node *n) {
    const ln_attrs *a = NNC_ATTRS(n, ln_attrs);
    const nnc_tensor *x = &n->in[0]->out;
    char d[160], s1[64], s2[64];
    if (x->dtype != NNC_F32 || x->ndim < 2)
        return nnc_error(NNC_ERR_SHAPE, "%s: input must be f32 [N, ...], got %s %s", nnc_node_desc(n, d, sizeof d),
                         nnc_dtype_name(x->dtype), nnc_shape_str(x, s1, sizeof s1));
    if (a->ndims > x->ndim - 1)
        return nnc_error(NNC_ERR_SHAPE, "%s: cannot normalize over the last %d dims of input %s (at most %d: not the batch dim)",
                         nnc_node_desc(n, d, sizeof d), a->ndims, nnc_shape_str(x, s1, sizeof s1), x->ndim - 1);
    const int idx[2] = {a->w, a->b};
    static const char *const what[2] = {"weight", "bias"};
    for (int i = 0; i < 2; i++) {
        if (idx[i] < 0) continue;
        const nnc_tensor *t = &n->in[idx[i]]->out;
        int ok = t->dtype == NNC_F32 && t->ndim == a->ndims;
        for (int j = 0; ok && j < a->ndims; j++) ok = t->shape[j] == x->shape[x->ndim - a->ndims + j];
        if (!ok)
            return nnc_error(NNC_ERR_SHAPE, "%s: %s %s %s must be f32 shaped like the last %d dims of input %s",
                             nnc_node_desc(n, d, sizeof d), what[i], nnc_dtype_name(t->dtype), nnc_shape_str(t, s1, sizeof s1),
                             a->ndims, nnc_shape_str(x, s2, sizeof s2));
    }
    nnc_out_like(n, x, NNC_F32);
    return NNC_OK;
}

static size_t ln_saved(const nnc_node *n, int training) {
    int64_t R, D;
    ln_dims(n, &R, &D);
    return training ? 2 * (size_t)R * sizeof(float) : 0;
}

static void ln_forward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    const ln_attrs *a = NNC_ATTRS(n, ln_attrs);
    int64_t R, D;
    ln_dims(n, &R, &D);
    const float *X = n->in[0]->out.data;
    const float *W = a->w >= 0 ? n->in[a->w]->out.data : NULL, *B = a->b >= 0 ? n->in[a->b]->out.data : NULL;
    float *Y = n->out.data, *saved = n->saved;
#pragma omp parallel for schedule(static) if (R * D > 32768)
    for (int64_t r = 0; r < R; r++) {
        const float *x = X + r * D;
        float *y = Y + r * D;
        double s = 0, v = 0;
        for (int64_t e = 0; e < D; e++) s += x[e];
        const double mean = s / (double)D;
        for (int64_t e = 0; e < D; e++) { double t = x[e] - mean; v += t * t; }
        const double rstd = 1.0 / sqrt(v / (double)D + a->eps);
        if (saved) { saved[r] = (float)mean; saved[R + r] = (float)rstd; }
        const float fm = (float)mean, fr = (float)rstd;
        for (int64_t e = 0; e < D; e++) {
            float t = (x[e] - fm) * fr;
            if (W) t *= W[e];
            if (B) t += B[e];
            y[e] = t;
        }
    }
}

static void ln_backward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    const ln_attrs *a = NNC_ATTRS(n, ln_attrs);
    int64_t R, D;
    ln_dims(n, &R, &D);
    const float *X = n->in[0]->out.data, *dY = n->grad.data, *saved = n->saved;
    const float *W = a->w >= 0 ? n->in[a->w]->out.data : NULL;
    float *dX = nnc_needs_grad(n->in[0]) ? n->in[0]->grad.data : NULL;
    float *dW = a->w >= 0 && nnc_needs_grad(n->in[a->w]) ? n->in[a->w]->grad.data : NULL;
    float *dB = a->b >= 0 && nnc_needs_grad(n->in[a->b]) ? n->in[a->b]->grad.data : NULL;
    const int acc_x = n->accum[0], acc_w = a->w >= 0 ? n->accum[a->w] : 0, acc_b = a->b >= 0 ? n->accum[a->b] : 0;
    if (dW || dB) {
#pragma omp parallel for schedule(static) if (R * D > 32768)
        for (int64_t e = 0; e < D; e++) {
            double sdy = 0, sdyx = 0;
            for (int64_t r = 0; r < R; r++) {
                const double dy = dY[r * D + e];
                sdy += dy;
                sdyx += dy * ((X[r * D + e] - (double)saved[r]) * saved[R + r]);
            }
            if (dW) dW[e] = acc_w ? dW[e] + (float)sdyx : (float)sdyx;
            if (dB) dB[e] = acc_b ? dB[e] + (float)sdy : (float)sdy;
        }
    }
    if (!dX) return;
    const double m = (double)D;
#pragma omp parallel for schedule(static) if (R * D > 32768)
    for (int64_t r = 0; r < R; r++) {
        const double mean = saved[r], rstd = saved[R + r];
        const float *x = X + r * D, *dy = dY + r * D;
        float *dx = dX + r * D;
        double sg = 0, sgx = 0;
        for (int64_t e = 0; e < D; e++) {
            const double gv = (double)dy[e] * (W ? W[e] : 1.0);
            sg += gv;
            sgx += gv * ((x[e] - mean) * rstd);
        }
        for (int64_t e = 0; e < D; e++) {
            const double gv = (double)dy[e] * (W ? W[e] : 1.0);
            const double d = rstd / m * (m * gv - sg - (x[e] - mean) * rstd * sgx);
            dx[e] = acc_x ? dx[e] + (float)d : (float)d;
        }
    }
}

nnc_node *nnc_layer_norm(nnc_graph *g, nnc_node *x, nnc_node *weight, nnc_node *bias, int ndims, float eps) {
    if (!g || g->err) return NULL;
    if (ndims < 1) return nnc_graph_fail(g, NNC_ERR_ARG, "layer_norm: ndims %d must be >= 1", ndims);
    if (!(eps >= 0)) return nnc_graph_fail(g, NNC_ERR_ARG, "layer_norm: eps %g must be >= 0", (double)eps);
    nnc_node *in[3];
    int k = 0;
    ln_attrs a = {ndims, eps, -1, -1};
    in[k++] = x;
    if (weight) { a.w = k; in[k++] = weight; }
    if (bias) { a.b = k; in[k++] = bias; }
    return nnc_node_new(g, NNC_OP_LAYER_NORM, k, in, &a, sizeof a);
}

nnc_node *nnc_layer_norm_layer(nnc_graph *g, nnc_node *x, const char *name, int ndims, float eps, int affine) {
    if (!g || g->err) return NULL;
    if (!name || !*name) return nnc_graph_fail(g, NNC_ERR_ARG, "layer_norm layer: name is empty");
    if (!x) return nnc_graph_fail(g, NNC_ERR_ARG, "layer_norm layer '%s': input is NULL", name);
    char s1[64];
    if (ndims < 1 || ndims > x->out.ndim - 1)
        return nnc_graph_fail(g, NNC_ERR_SHAPE, "layer_norm layer '%s': cannot normalize over the last %d dims of input %s", name, ndims,
                              nnc_shape_str(&x->out, s1, sizeof s1));
    nnc_node *w = NULL, *b = NULL;
    if (affine) {
        const int64_t *shape = x->out.shape + (x->out.ndim - ndims);
        nnc_scope_push(g, name);
        w = nnc_param(g, "weight", ndims, shape, (nnc_init){.kind = NNC_INIT_CONST, .a = 1.0f});
        b = nnc_param(g, "bias", ndims, shape, (nnc_init){.kind = NNC_INIT_ZEROS});
        nnc_scope_pop(g);
        if (g->err) return NULL;
    }
    nnc_node *y = nnc_layer_norm(g, x, w, b, ndims, eps);
    if (y) nnc_node_set_name(y, name);
    return y;
}

/* ---- gradient-check cases (eps 3e-3 as for batch norm) */
static nnc_node *case_ln(nnc_graph *g, int ndim, const int64_t *shape, int ndims, int affine, int fanout) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, ndim, shape);
    nnc_input_requires_grad(x);
    nnc_node *w = NULL, *b = NULL;
    if (affine) {
        const int64_t *ws = shape + (ndim - ndims);
        w = nnc_param(g, "ln.weight", ndims, ws, (nnc_init){.kind = NNC_INIT_UNIFORM, .a = 0.5f, .b = 1.5f});
        b = nnc_param(g, "ln.bias", ndims, ws, (nnc_init){.kind = NNC_INIT_UNIFORM, .a = -0.5f, .b = 0.5f});
    }
    nnc_node *y = nnc_layer_norm(g, x, w, b, ndims, 1e-5f);
    if (fanout) nnc_graph_output(g, x);
    nnc_graph_output(g, y);
    return y;
}
static nnc_node *case_vec(nnc_graph *g) { return case_ln(g, 1, (int64_t[]){7}, 1, 1, 0); }
static nnc_node *case_seq_last(nnc_graph *g) { return case_ln(g, 2, (int64_t[]){3, 5}, 1, 1, 0); }
static nnc_node *case_two(nnc_graph *g) { return case_ln(g, 3, (int64_t[]){3, 2, 3}, 2, 1, 0); }
static nnc_node *case_all_noaffine(nnc_graph *g) { return case_ln(g, 3, (int64_t[]){2, 3, 2}, 3, 0, 1); }
static nnc_node *case_layer(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){2, 6});
    nnc_input_requires_grad(x);
    nnc_node *y = nnc_layer_norm_layer(g, x, "ln", 1, 1e-5f, 1);
    nnc_graph_output(g, y);
    return y;
}
static const nnc_op_case cases[] = {
    {"layer_norm_7_affine", 3, 3e-3, 2e-3, 1e-4, 0, case_vec},
    {"layer_norm_3x5_last1_affine", 2, 3e-3, 2e-3, 1e-4, 0, case_seq_last},
    {"layer_norm_3x2x3_last2_affine", 2, 3e-3, 2e-3, 1e-4, 0, case_two},
    {"layer_norm_2x3x2_all_noaffine_fanout", 2, 3e-3, 2e-3, 1e-4, 0, case_all_noaffine},
    {"layer_norm_layer_2x6", 2, 3e-3, 2e-3, 1e-4, 0, case_layer},
};

const nnc_op_desc nnc_op_layer_norm = {"layer_norm", "layer normalization over the last ndims dims of each sample (PyTorch LayerNorm)",
                                       "ndims, eps; weight, bias optional (shape of the normalized dims)",
                                       ln_infer, ln_forward, ln_backward, NULL, ln_saved,
                                       NNC_READS_IN(0) | NNC_READS_IN(1), cases, (int)(sizeof cases / sizeof cases[0]), NULL, NULL, 0, NULL};
