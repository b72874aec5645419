/* cross_entropy.c -- softmax cross-entropy with integer labels.
 *   logits [N, C], labels [N] (i32 or i64, in [0, C)), or per step:
 *   logits [N, T, C], labels [N, T] (a tagger; rows are the N*T steps)
 *   loss = r( lse(x_n) - x_n[y_n] ),  r = mean over the rows (or sum)
 *   dx_n = (softmax(x_n) - onehot(y_n)) * dloss / (rows for mean)
 * Label smoothing eps (PyTorch's label_smoothing): the target becomes
 * (1 - eps) onehot(y) + eps / C, so
 *   loss_n = (1 - eps) (lse - x[y]) + eps mean_c (lse - x[c])
 *   dx_n = softmax(x_n) - (1 - eps) onehot(y_n) - eps / C   (times the scale)
 * Ignore index (nnc_cross_entropy_seq, PyTorch's ignore_index, default -100):
 * rows whose label equals it contribute nothing to the loss or the gradient,
 * and the mean divides by the number of the other rows (all ignored: loss 0,
 * zero gradient). Backward reads logits and labels; nothing is saved. A
 * label out of range stops the run with an error naming the node and row. */
#include "ops/op.h"
#include "kernels/vmath.h"
#include <math.h>

typedef struct { int reduction; float smoothing; int has_ignore; int64_t ignore_index; } ce_attrs;

/* Rows (samples, or samples x steps) and classes. */
static void ce_dims(const nnc_node *n, int64_t *R, int64_t *C) {
    const nnc_tensor *xt = &n->in[0]->out;
    *C = xt->shape[xt->ndim - 1];
    *R = nnc_numel(&n->in[1]->out);
}
static inline int ce_ignored(const ce_attrs *a, int64_t lab) { return a->has_ignore && lab == a->ignore_index; }

static void ce_forward(nnc_node *n, const nnc_exec *ex) {
    const ce_attrs *a = NNC_ATTRS(n, ce_attrs);
    const nnc_tensor *xt = &n->in[0]->out, *yt = &n->in[1]->out;
    int64_t R, C, kept = 0;
    ce_dims(n, &R, &C);
    const float *X = xt->data;
    double total = 0, eps = a->smoothing;
    for (int64_t i = 0; i < R; i++) {
        int64_t lab = nnc_label_at(yt, i);
        if (ce_ignored(a, lab)) continue;
        if (lab < 0 || lab >= C) {
            char d[160];
            if (yt->ndim == 2)
                nnc_error(NNC_ERR_ARG, "%s: label %lld of sample %lld, step %lld is outside [0, %lld)", nnc_node_desc(n, d, sizeof d),
                          (long long)lab, (long long)(i / yt->shape[1]), (long long)(i % yt->shape[1]), (long long)C);
            else
                nnc_error(NNC_ERR_ARG, "%s: label %lld of sample %lld is outside [0, %lld)", nnc_node_desc(n, d, sizeof d),
                          (long long)lab, (long long)i, (long long)C);
            *ex->fault = NNC_ERR_ARG;
            ((float *)n->out.data)[0] = NAN;
            return;
        }
        kept++;
        const float *x = X + i * C;
        float m = -INFINITY;
        for (int64_t c = 0; c < C; c++) m = x[c] > m ? x[c] : m;
        float s = 0;
        double sx = 0;
#pragma omp simd reduction(+ : s)
        for (int64_t c = 0; c < C; c++) s += nnc_vexpf(x[c] - m);
        if (eps != 0)
            for (int64_t c = 0; c < C; c++) sx += x[c];
        double lse = (double)m + log((double)s);
        total += (1.0 - eps) * (lse - (double)x[lab]);
        if (eps != 0) total += eps * (lse - sx / (double)C);
    }
    if (a->reduction == NNC_MEAN) total = kept ? total / (double)kept : 0.0;
    ((float *)n->out.data)[0] = (float)total;
}

static void ce_backward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    const ce_attrs *a = NNC_ATTRS(n, ce_attrs);
    const nnc_tensor *xt = &n->in[0]->out, *yt = &n->in[1]->out;
    int64_t R, C, kept = 0;
    ce_dims(n, &R, &C);
    for (int64_t i = 0; i < R; i++) kept += !ce_ignored(a, nnc_label_at(yt, i));
    const float *X = xt->data;
    float scale = ((const float *)n->grad.data)[0];
    if (a->reduction == NNC_MEAN) scale = kept ? scale / (float)kept : 0.0f;
    float *dX = n->in[0]->grad.data;
    int acc = n->accum[0];
    float eps = a->smoothing, off = eps / (float)C;
    /* rows are independent: parallel and still thread-count independent */
#pragma omp parallel for schedule(static) if (R * C > 32768)
    for (int64_t i = 0; i < R; i++) {
        const float *x = X + i * C;
        float *dx = dX + i * C;
        int64_t lab = nnc_label_at(yt, i);
        if (ce_ignored(a, lab)) {
            if (!acc) memset(dx, 0, (size_t)C * sizeof(float));
            continue;
        }
        float m = -INFINITY, s = 0;
        for (int64_t c = 0; c < C; c++) m = x[c] > m ? x[c] : m;
#pragma omp simd reduction(+ : s)
        for (int64_t c = 0; c < C; c++) s += nnc_vexpf(x[c] - m);
        const float inv = 1.0f / s;
#pragma omp simd
        for (int64_t c = 0; c < C; c++) {
            float d = (nnc_vexpf(x[c] - m) * inv - off) * scale;
            dx[c] = acc ? dx[c] + d : d;
        }
        dx[lab] -= (1.0f - eps) * scale;
    }
}

nnc_node *nnc_cross_entropy(nnc_graph *g, nnc_node *logits, nnc_node *labels, nnc_reduction r) {
    if (!g || g->err) return NULL;
    if (r != NNC_MEAN && r != NNC_SUM) return nnc_graph_fail(g, NNC_ERR_ARG, "cross_entropy: unknown reduction %d", (int)r);
    nnc_node *in[2] = {logits, labels};
    ce_attrs a = {r, 0.0f, 0, 0};
    return nnc_node_new(g, NNC_OP_CROSS_ENTROPY, 2, in, &a, sizeof a);
}

nnc_node *nnc_cross_entropy_ls(nnc_graph *g, nnc_node *logits, nnc_node *labels, nnc_reduction r, float label_smoothing) {
    if (!g || g->err) return NULL;
    if (r != NNC_MEAN && r != NNC_SUM) return nnc_graph_fail(g, NNC_ERR_ARG, "cross_entropy: unknown reduction %d", (int)r);
    if (!(label_smoothing >= 0 && label_smoothing <= 1))
        return nnc_graph_fail(g, NNC_ERR_ARG, "cross_entropy: label smoothing %g must be in [0, 1]", (double)label_smoothing);
    nnc_node *in[2] = {logits, labels};
    ce_attrs a = {r, label_smoothing, 0, 0};
    return nnc_node_new(g, NNC_OP_CROSS_ENTROPY, 2, in, &a, sizeof a);
}

nnc_node *nnc_cross_entropy_seq(nnc_graph *g, nnc_node *logits, nnc_node *labels, nnc_reduction r, int64_t ignore_index) {
    if (!g || g->err) return NULL;
    if (r != NNC_MEAN && r != NNC_SUM) return nnc_graph_fail(g, NNC_ERR_ARG, "cross_entropy: unknown reduction %d", (int)r);
    nnc_node *in[2] = {logits, labels};
    ce_attrs a = {r, 0.0f, 1, ignore_index};
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
/* A tagger: [N, T=5, C=4] scores, [N, 5] labels; class 1 is the ignore
 * index, so some steps drop out (and the mean's divisor changes). */
static nnc_node *case_seq(nnc_graph *g, nnc_reduction r) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){5, 4});
    nnc_node *y = nnc_input(g, "y", NNC_I64, 1, (int64_t[]){5});
    nnc_input_requires_grad(x);
    nnc_node *l = nnc_cross_entropy_seq(g, x, y, r, 1);
    nnc_graph_output(g, l);
    return l;
}
static nnc_node *case_seq_mean(nnc_graph *g) { return case_seq(g, NNC_MEAN); }
static nnc_node *case_seq_sum(nnc_graph *g) { return case_seq(g, NNC_SUM); }
static const nnc_op_case cases[] = {
    {"cross_entropy_mean_C5_i64", 4, 1e-2, 2e-3, 1e-4, 5, case_mean},
    {"cross_entropy_sum_C3_i32", 3, 1e-2, 2e-3, 1e-4, 3, case_sum},
    {"cross_entropy_label_smoothing0.2_C6", 4, 1e-2, 2e-3, 1e-4, 6, case_ls},
    {"cross_entropy_seq_mean_T5_C4_ignore1", 3, 1e-2, 2e-3, 1e-4, 4, case_seq_mean},
    {"cross_entropy_seq_sum_T5_C4_ignore1", 2, 1e-2, 2e-3, 1e-4, 4, case_seq_sum},
};
const nnc_op_desc nnc_op_cross_entropy = {"cross_entropy", "softmax cross-entropy with integer labels, [N,C] or per step [N,T,C] (mean or sum)", "reduction, label_smoothing (default 0), ignore_index (seq builder)",
                                          nnc_class_loss_infer, ce_forward, ce_backward, NULL, NULL,
                                          NNC_READS_IN(0) | NNC_READS_IN(1), cases, 5, NULL, NULL, 0, NULL};
