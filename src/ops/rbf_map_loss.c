/* rbf_map_loss.c -- LeNet-5's maximum a posteriori criterion (LeCun, Bottou,
 * Bengio, Haffner 1998, eq. 9) over RBF outputs (penalties: smaller is better).
 *   y [N, C] f32 (e.g. nnc_rbf outputs), labels [N] (i32 or i64, in [0, C)),
 *   j > 0 a constant (the "rubbish class" penalty; the paper leaves it free)
 *   E_n = y_n[D_n] + log( exp(-j) + sum_i exp(-y_n[i]) )
 *   loss = r(E_n),  r = mean over N (or sum)
 * Computed stably with m = max(-j, max_i -y_i). Derivative:
 *   dE_n/dy_i = [i == D_n] - exp(-y_i) / (exp(-j) + sum_k exp(-y_k))
 * (the competition term pushes up the penalties of the wrong classes only
 * while they are small; the constant j keeps already large penalties from
 * being pushed further). The predicted class is the smallest y. Backward reads
 * y and the labels; nothing is saved. A label out of range stops the run. */
#include "ops/op.h"
#include <math.h>

typedef struct { int reduction; float j; } rml_attrs;

/* log(exp(-j) + sum exp(-y_i)) and the shift m; s receives the shifted sum. */
static double rml_lse(const float *y, int64_t C, double j, double *m_out, double *s_out) {
    double m = -j;
    for (int64_t c = 0; c < C; c++) m = fmax(m, -(double)y[c]);
    double s = exp(-j - m);
    for (int64_t c = 0; c < C; c++) s += exp(-(double)y[c] - m);
    if (m_out) *m_out = m;
    if (s_out) *s_out = s;
    return m + log(s);
}

static void rml_forward(nnc_node *n, const nnc_exec *ex) {
    const nnc_tensor *xt = &n->in[0]->out, *yt = &n->in[1]->out;
    int64_t N = xt->shape[0], C = xt->shape[1];
    const float *X = xt->data;
    const rml_attrs *a = NNC_ATTRS(n, rml_attrs);
    double total = 0;
    for (int64_t i = 0; i < N; i++) {
        int64_t lab = nnc_label_at(yt, i);
        if (lab < 0 || lab >= C) {
            nnc_error(NNC_ERR_ARG, "rbf_map_loss: label %lld of sample %lld is outside [0, %lld)", (long long)lab, (long long)i,
                      (long long)C);
            *ex->fault = NNC_ERR_ARG;
            ((float *)n->out.data)[0] = NAN;
            return;
        }
        const float *x = X + i * C;
        total += (double)x[lab] + rml_lse(x, C, a->j, NULL, NULL);
    }
    if (a->reduction == NNC_MEAN && N > 0) total /= (double)N;
    ((float *)n->out.data)[0] = (float)total;
}

static void rml_backward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    if (!nnc_needs_grad(n->in[0])) return;
    const nnc_tensor *xt = &n->in[0]->out, *yt = &n->in[1]->out;
    int64_t N = xt->shape[0], C = xt->shape[1];
    const float *X = xt->data;
    const rml_attrs *a = NNC_ATTRS(n, rml_attrs);
    double scale = ((const float *)n->grad.data)[0];
    if (a->reduction == NNC_MEAN && N > 0) scale /= (double)N;
    float *dX = n->in[0]->grad.data;
    int acc = n->accum[0];
    for (int64_t i = 0; i < N; i++) {
        const float *x = X + i * C;
        float *dx = dX + i * C;
        int64_t lab = nnc_label_at(yt, i);
        double m, s;
        rml_lse(x, C, a->j, &m, &s);
        for (int64_t c = 0; c < C; c++) {
            double p = exp(-(double)x[c] - m) / s;
            float d = (float)(((c == lab ? 1.0 : 0.0) - p) * scale);
            dx[c] = acc ? dx[c] + d : d;
        }
    }
}

nnc_node *nnc_rbf_map_loss(nnc_graph *g, nnc_node *penalties, nnc_node *labels, float j, nnc_reduction r) {
    if (!g || g->err) return NULL;
    if (r != NNC_MEAN && r != NNC_SUM) return nnc_graph_fail(g, NNC_ERR_ARG, "rbf_map_loss: unknown reduction %d", (int)r);
    if (!(j > 0) || !isfinite(j)) return nnc_graph_fail(g, NNC_ERR_ARG, "rbf_map_loss: j %g must be positive and finite", (double)j);
    nnc_node *in[2] = {penalties, labels};
    rml_attrs at = {r, j};
    return nnc_node_new(g, NNC_OP_RBF_MAP_LOSS, 2, in, &at, sizeof at);
}

/* ---- gradient-check cases (inputs are drawn near 0, where the competition term matters) */
static nnc_node *case_mean(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){5});
    nnc_node *y = nnc_input(g, "y", NNC_I64, 0, NULL);
    nnc_input_requires_grad(x);
    nnc_node *l = nnc_rbf_map_loss(g, x, y, 1.0f, NNC_MEAN);
    nnc_graph_output(g, l);
    return l;
}
static nnc_node *case_sum(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){3});
    nnc_node *y = nnc_input(g, "y", NNC_I32, 0, NULL);
    nnc_input_requires_grad(x);
    nnc_node *l = nnc_rbf_map_loss(g, x, y, 0.5f, NNC_SUM);
    nnc_graph_output(g, l);
    return l;
}
/* after an RBF layer with trainable prototypes and the input used twice */
static nnc_node *case_rbf(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){4});
    nnc_node *y = nnc_input(g, "y", NNC_I64, 0, NULL);
    nnc_input_requires_grad(x);
    nnc_node *w = nnc_param(g, "w", 2, (int64_t[]){3, 4}, (nnc_init){.kind = NNC_INIT_UNIFORM, .a = -0.5f, .b = 0.5f});
    nnc_node *l = nnc_rbf_map_loss(g, nnc_rbf(g, x, w), y, 2.0f, NNC_MEAN);
    nnc_graph_output(g, l);
    return l;
}
static const nnc_op_case cases[] = {
    {"rbf_map_loss_mean_C5_i64_j1", 4, 1e-2, 2e-3, 1e-4, 5, case_mean},
    {"rbf_map_loss_sum_C3_i32_j0.5", 3, 1e-2, 2e-3, 1e-4, 3, case_sum},
    {"rbf_map_loss_after_rbf_C3_j2", 3, 1e-2, 2e-3, 1e-4, 3, case_rbf},
};
const nnc_op_desc nnc_op_rbf_map_loss = {"rbf_map_loss",
                                         "LeNet-5 MAP loss over RBF penalties: y[D] + log(exp(-j) + sum_i exp(-y[i])) (mean or sum)",
                                         "j (positive constant), reduction", nnc_class_loss_infer, rml_forward, rml_backward, NULL, NULL,
                                         NNC_READS_IN(0) | NNC_READS_IN(1), cases, (int)(sizeof cases / sizeof cases[0]), NULL, NULL, 0, NULL};
