/* cross_entropy.c -- softmax cross-entropy with integer labels.
 *   logits [N, C], labels [N] (i32 or i64, in [0, C))
 *   loss = r( lse(x_n) - x_n[y_n] ),  r = mean over N (or sum)
 *   dx_n = (softmax(x_n) - onehot(y_n)) * dloss / (N for mean)
 * Label smoothing eps (PyTorch's label_smoothing): the target becomes
 * (1 - eps) onehot(y) + eps / C, so
 *   loss_n = (1 - eps) (lse - x[y]) + eps mean_c (lse - x[c])
 *   dx_n = softmax(x_n) - (1 - eps) onehot(y_n) - eps / C   (times the scale)
 * Backward reads logits and labels; nothing is saved. A label out of
 * range stops the run with an error naming the sample. */
#include "ops/op.h"
#include <math.h>

typedef struct { int reduction; float smoothing; } ce_attrs;

static void ce_forward(nnc_node *n, const nnc_exec *ex) {
    const nnc_tensor *xt = &n->in[0]->out, *yt = &n->in[1]->out;
    int64_t N = xt->shape[0], C = xt->shape[1];
    const float *X = xt->data;
    double total = 0, eps = NNC_ATTRS(n, ce_attrs)->smoothing;
    for (int64_t i = 0; i < N; i++) {
        int64_t lab = nnc_label_at(yt, i);
        if (lab < 0 || lab >= C) {
            nnc_error(NNC_ERR_ARG, "cross_entropy: label %lld of sample %lld is outside [0, %lld)", (long long)lab, (long long)i, (long long)C);
            *ex->fault = NNC_ERR_ARG;
            ((float *)n->out.data)[0] = NAN;
            return;
        }
        const float *x = X + i * C;
        float m = -INFINITY;
        for (int64_t c = 0; c < C; c++) m = fmaxf(m, x[c]);
        double s = 0, sx = 0;
        for (int64_t c = 0; c < C; c++) { s += exp((double)(x[c] - m)); sx += x[c]; }
        double lse = (double)m + log(s);
        total += (1.0 - eps) * (lse - (double)x[lab]);
        if (eps != 0) total += eps * (lse - sx / (double)C);
    }
    if (NNC_ATTRS(n, ce_attrs)->reduction == NNC_MEAN) total /= (double)N;
    ((float *)n->out.data)[0] = (float)total;
}

static void ce_backward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    const nnc_tensor *xt = &n->in[0]->out, *yt = &n->in[1]->out;
    int64_t N = xt->shape[0], C = xt->shape[1];
    const float *X = xt->data;
    float scale = ((const float *)n->grad.data)[0];
    if (NNC_ATTRS(n, ce_attrs)->reduction == NNC_MEAN) scale /= (float)N;
    float *dX = n->in[0]->grad.data;
    int acc = n->accum[0];
    float eps = NNC_ATTRS(n, ce_attrs)->smoothing, off = eps / (float)C;
    for (int64_t i = 0; i < N; i++) {
        const float *x = X + i * C;
        float *dx = dX + i * C;
        int64_t lab = nnc_label_at(yt, i);
        float m = -INFINITY, s = 0;
        for (int64_t c = 0; c < C; c++) m = fmaxf(m, x[c]);
        for (int64_t c = 0; c < C; c++) s += expf(x[c] - m);
        float inv = 1.0f / s;
        for (int64_t c = 0; c < C; c++) {
            float d = (expf(x[c] - m) * inv - (c == lab ? 1.0f - eps : 0.0f) - off) * scale;
            dx[c] = acc ? dx[c] + d : d;
        }
    }
}

nnc_node *nnc_cross_entropy(nnc_graph *g, nnc_node *logits, nnc_node *labels, nnc_reduction r) {
    if (!g || g->err) return NULL;
    if (r != NNC_MEAN && r != NNC_SUM) return nnc_graph_fail(g, NNC_ERR_ARG, "cross_entropy: unknown reduction %d", (int)r);
    nnc_node *in[2] = {logits, labels};
    ce_attrs a = {r, 0.0f};
    return nnc_node_new(g, NNC_OP_CROSS_ENTROPY, 2, in, &a, sizeof a);
}

nnc_node *nnc_cross_entropy_ls(nnc_graph *g, nnc_node *logits, nnc_node *labels, nnc_reduction r, float label_smoothing) {
    if (!g || g->err) return NULL;
    if (r != NNC_MEAN && r != NNC_SUM) return nnc_graph_fail(g, NNC_ERR_ARG, "cross_entropy: unknown reduction %d", (int)r);
    if (!(label_smoothing >= 0 && label_smoothing <= 1))
        return nnc_graph_fail(g, NNC_ERR_ARG, "cross_entropy: label smoothing %g must be in [0, 1]", (double)label_smoothing);
    nnc_node *in[2] = {logits, labels};
    ce_attrs a = {r, label_smoothing};
    return nnc_node_new(g, NNC_OP_CROSS_ENTROPY, 2, in, &a, sizeof a);
}

static nnc_node *case_mean(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){5});
    nnc_node *y = nnc_input(g, "y", NNC_I64, 0, NULL);
    nnc_input_requires_grad(x);
    nnc_node *l = nnc_cross_entropy(g, x, y, NNC_MEAN);
    nnc_graph_output(g, l);
    return l;
}
static nnc_node *case_sum(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){3});
    nnc_node *y = nnc_input(g, "y", NNC_I32, 0, NULL);
    nnc_input_requires_grad(x);
    nnc_node *l = nnc_cross_entropy(g, x, y, NNC_SUM);
    nnc_graph_output(g, l);
    return l;
}
static nnc_node *case_ls(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){6});
    nnc_node *y = nnc_input(g, "y", NNC_I64, 0, NULL);
    nnc_input_requires_grad(x);
    nnc_node *l = nnc_cross_entropy_ls(g, x, y, NNC_MEAN, 0.2f);
    nnc_graph_output(g, l);
    return l;
}
static const nnc_op_case cases[] = {
    {"cross_entropy_mean_C5_i64", 4, 1e-2, 2e-3, 1e-4, 5, case_mean},
    {"cross_entropy_sum_C3_i32", 3, 1e-2, 2e-3, 1e-4, 3, case_sum},
    {"cross_entropy_label_smoothing0.2_C6", 4, 1e-2, 2e-3, 1e-4, 6, case_ls},
};
const nnc_op_desc nnc_op_cross_entropy = {"cross_entropy", "softmax cross-entropy with integer labels (mean or sum), optional label smoothing", "reduction, label_smoothing (default 0)",
                                          nnc_class_loss_infer, ce_forward, ce_backward, NULL, NULL,
                                          NNC_READS_IN(0) | NNC_READS_IN(1), cases, 3, NULL};
