/* lrn.c -- local response normalization across channels of [N,C,...] (L = the
 * product of the dims after C; [N,C] works with L = 1).
 *   s_c = k + a * sum_{j = c - size/2 .. c + (size-1)/2, 0 <= j < C} x_j^2   (sum in double)
 *   y_c = x_c s_c^-beta
 *   dx_c = dy_c s_c^-beta - 2 a beta x_c sum_{j: c in window(j)} dy_j y_j / s_j
 * a = alpha / size by default (PyTorch LocalResponseNorm, whose avg_pool3d
 * divides the zero-padded window sum by size); paper_form = 1 uses a = alpha
 * as in AlexNet (Krizhevsky et al. 2012, b = a / (k + alpha sum a^2)^beta,
 * there with n = 5, alpha = 1e-4, beta = 0.75, k = 2; PyTorch's defaults are
 * alpha 1e-4, beta 0.75, k 1). Saves s (one float per element, training);
 * backward reads x and y. Parallel over (n, c) rows. */
#include "ops/op.h"
#include <math.h>

typedef struct { int size, paper_form; float alpha, beta, k; } lrn_attrs;

static nnc_status lrn_infer(nnc_node *n) {
    const nnc_tensor *x = &n->in[0]->out;
    char d[160], s1[64];
    if (x->dtype != NNC_F32 || x->ndim < 2)
        return nnc_error(NNC_ERR_SHAPE, "%s: input must be f32 [N, C, ...], got %s %s", nnc_node_desc(n, d, sizeof d),
                         nnc_dtype_name(x->dtype), nnc_shape_str(x, s1, sizeof s1));
    nnc_out_like(n, x, NNC_F32);
    return NNC_OK;
}

static size_t lrn_saved(const nnc_node *n, int training) {
    return training ? (size_t)nnc_numel(&n->in[0]->out) * sizeof(float) : 0;
}

/* s^-beta; AlexNet's beta 0.75 (and 0.5, 1) without pow() */
static inline double pow_neg(double s, double beta) {
    if (beta == 0.75) { double r = sqrt(s); return 1.0 / (r * sqrt(r)); }
    if (beta == 0.5) return 1.0 / sqrt(s);
    if (beta == 1.0) return 1.0 / s;
    return pow(s, -beta);
}

static double lrn_a(const lrn_attrs *a) { return a->paper_form ? (double)a->alpha : (double)a->alpha / a->size; }

static void lrn_forward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    const lrn_attrs *a = NNC_ATTRS(n, lrn_attrs);
    const nnc_tensor *xt = &n->in[0]->out;
    const int64_t N = xt->shape[0], C = xt->shape[1], L = (N && C) ? nnc_numel(xt) / (N * C) : 0;
    const float *X = xt->data;
    float *Y = n->out.data, *S = n->saved;
    const double al = lrn_a(a), k = a->k, beta = a->beta;
    const int64_t lo = a->size / 2, hi = (a->size - 1) / 2;
#pragma omp parallel for schedule(static) if (N * C * L * a->size > 65536)
    for (int64_t r = 0; r < N * C; r++) {
        const int64_t i = r / C, c = r % C;
        const int64_t j0 = c - lo < 0 ? 0 : c - lo, j1 = c + hi >= C ? C - 1 : c + hi;
        const float *xi = X + i * C * L;
        for (int64_t l = 0; l < L; l++) {
            double s = 0;
            for (int64_t j = j0; j <= j1; j++) { double v = xi[j * L + l]; s += v * v; }
            double sc = k + al * s;
            Y[r * L + l] = (float)(xi[c * L + l] * pow_neg(sc, beta));
            if (S) S[r * L + l] = (float)sc;
        }
    }
}

static void lrn_backward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    const lrn_attrs *a = NNC_ATTRS(n, lrn_attrs);
    const nnc_tensor *xt = &n->in[0]->out;
    const int64_t N = xt->shape[0], C = xt->shape[1], L = (N && C) ? nnc_numel(xt) / (N * C) : 0;
    const float *X = xt->data, *Y = n->out.data, *dY = n->grad.data, *S = n->saved;
    float *dX = n->in[0]->grad.data;
    const int acc = n->accum[0];
    const double f = 2.0 * lrn_a(a) * a->beta, beta = a->beta;
    /* c lies in the window of j for j = c - (size-1)/2 .. c + size/2 */
    const int64_t lo = (a->size - 1) / 2, hi = a->size / 2;
#pragma omp parallel for schedule(static) if (N * C * L * a->size > 65536)
    for (int64_t r = 0; r < N * C; r++) {
        const int64_t i = r / C, c = r % C;
        const int64_t j0 = c - lo < 0 ? 0 : c - lo, j1 = c + hi >= C ? C - 1 : c + hi;
        const int64_t base = i * C * L;
        for (int64_t l = 0; l < L; l++) {
            double t = 0;
            for (int64_t j = j0; j <= j1; j++) {
                int64_t e = base + j * L + l;
                t += (double)dY[e] * Y[e] / S[e];
            }
            int64_t e = r * L + l;
            double d = dY[e] * pow_neg(S[e], beta) - f * X[e] * t;
            dX[e] = acc ? dX[e] + (float)d : (float)d;
        }
    }
}

nnc_node *nnc_lrn(nnc_graph *g, nnc_node *x, int size, float alpha, float beta, float k, int paper_form) {
    if (!g || g->err) return NULL;
    if (size < 1) return nnc_graph_fail(g, NNC_ERR_ARG, "lrn: size %d must be >= 1", size);
    if (!(alpha >= 0) || !(beta >= 0) || !(k > 0))
        return nnc_graph_fail(g, NNC_ERR_ARG, "lrn: need alpha %g >= 0, beta %g >= 0 and k %g > 0", (double)alpha, (double)beta, (double)k);
    if (paper_form != 0 && paper_form != 1) return nnc_graph_fail(g, NNC_ERR_ARG, "lrn: paper_form %d must be 0 or 1", paper_form);
    lrn_attrs at = {size, paper_form, alpha, beta, k};
    return nnc_node_new(g, NNC_OP_LRN, 1, &x, &at, sizeof at);
}

/* ---- gradient-check cases: smooth in x; large alpha so the normalization
 * term matters (with AlexNet's 1e-4 the op is nearly linear) */
static nnc_node *case_lrn(nnc_graph *g, int ndim, const int64_t *shape, int size, float alpha, float beta, float k, int paper) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, ndim, shape);
    nnc_input_requires_grad(x);
    nnc_node *y = nnc_lrn(g, x, size, alpha, beta, k, paper);
    nnc_graph_output(g, y);
    return y;
}
static nnc_node *case_s3(nnc_graph *g) { return case_lrn(g, 3, (int64_t[]){4, 3, 2}, 3, 1.5f, 0.75f, 1.0f, 0); }
static nnc_node *case_s5(nnc_graph *g) { return case_lrn(g, 3, (int64_t[]){7, 2, 2}, 5, 2.0f, 0.75f, 2.0f, 0); }
static nnc_node *case_s4_even(nnc_graph *g) { return case_lrn(g, 3, (int64_t[]){5, 1, 3}, 4, 1.0f, 0.5f, 1.0f, 0); }
static nnc_node *case_paper(nnc_graph *g) { return case_lrn(g, 3, (int64_t[]){6, 2, 2}, 5, 0.3f, 0.75f, 2.0f, 1); }
static nnc_node *case_2d(nnc_graph *g) { return case_lrn(g, 1, (int64_t[]){5}, 3, 1.0f, 1.0f, 1.0f, 0); }
/* size larger than C: every window is clipped at both borders; x also feeds the output (dx accumulates) */
static nnc_node *case_wide_fanout(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){3, 2, 2});
    nnc_input_requires_grad(x);
    nnc_node *y = nnc_lrn(g, x, 5, 1.0f, 0.75f, 1.0f, 0);
    nnc_graph_output(g, x);
    nnc_graph_output(g, y);
    return y;
}
static const nnc_op_case cases[] = {
    {"lrn_size3_4x3x2", 2, 3e-3, 2e-3, 1e-4, 0, case_s3},
    {"lrn_size5_7x2x2_k2", 2, 3e-3, 2e-3, 1e-4, 0, case_s5},
    {"lrn_size4_even_5x1x3", 2, 3e-3, 2e-3, 1e-4, 0, case_s4_even},
    {"lrn_size5_paper_form", 2, 3e-3, 2e-3, 1e-4, 0, case_paper},
    {"lrn_size3_NC", 3, 3e-3, 2e-3, 1e-4, 0, case_2d},
    {"lrn_size5_C3_fanout", 2, 3e-3, 2e-3, 1e-4, 0, case_wide_fanout},
};

const nnc_op_desc nnc_op_lrn = {"lrn", "local response normalization across channels (PyTorch alpha/size; AlexNet form optional)",
                                "size, alpha, beta, k, paper_form (0: alpha/size as PyTorch, 1: alpha as AlexNet)",
                                lrn_infer, lrn_forward, lrn_backward, NULL, lrn_saved,
                                NNC_READS_IN(0) | NNC_READS_OUT, cases, (int)(sizeof cases / sizeof cases[0]), NULL, NULL, 0, NULL};
