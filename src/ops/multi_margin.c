/* multi_margin.c -- multi-class hinge loss, logits [N, C], labels [N] (i32/i64).
 *   PyTorch MultiMarginLoss (p = 1, default margin 1):
 *     l_n = sum_{i != y_n} max(0, margin - x_n[y_n] + x_n[i]) / C
 *   PyTorch averages over the classes; the Weston-Watkins / Crammer-Singer
 *   paper form (and CS231n's SVM loss) has no / C: option paper_form = 1.
 *   loss = r(l_n), r = mean over N or sum.
 *   dx_n[i] = [margin - x_y + x_i > 0] s, dx_n[y] = -sum of those, s = dloss / C (/ N)
 * Backward reads logits and labels. A label out of range stops the run. */
#include "ops/op.h"
#include <math.h>

typedef struct { int reduction; float margin; int paper; } mm_attrs;

static void mm_forward(nnc_node *n, const nnc_exec *ex) {
    const mm_attrs *a = NNC_ATTRS(n, mm_attrs);
    const nnc_tensor *xt = &n->in[0]->out, *yt = &n->in[1]->out;
    int64_t N = xt->shape[0], C = xt->shape[1];
    const float *X = xt->data;
    double total = 0;
    for (int64_t i = 0; i < N; i++) {
        int64_t lab = nnc_label_at(yt, i);
        if (lab < 0 || lab >= C) {
            nnc_error(NNC_ERR_ARG, "multi_margin: label %lld of sample %lld is outside [0, %lld)", (long long)lab, (long long)i, (long long)C);
            *ex->fault = NNC_ERR_ARG;
            ((float *)n->out.data)[0] = NAN;
            return;
        }
        const float *x = X + i * C;
        double s = 0;
        for (int64_t c = 0; c < C; c++) {
            if (c == lab) continue;
            float m = a->margin - x[lab] + x[c];
            if (m > 0) s += m;
        }
        total += a->paper ? s : s / (double)C;
    }
    if (a->reduction == NNC_MEAN) total /= (double)N;
    ((float *)n->out.data)[0] = (float)total;
}

static void mm_backward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    const mm_attrs *a = NNC_ATTRS(n, mm_attrs);
    const nnc_tensor *xt = &n->in[0]->out, *yt = &n->in[1]->out;
    int64_t N = xt->shape[0], C = xt->shape[1];
    const float *X = xt->data;
    float scale = ((const float *)n->grad.data)[0];
    if (!a->paper) scale /= (float)C;
    if (a->reduction == NNC_MEAN) scale /= (float)N;
    float *dX = n->in[0]->grad.data;
    int acc = n->accum[0];
    for (int64_t i = 0; i < N; i++) {
        const float *x = X + i * C;
        float *dx = dX + i * C;
        int64_t lab = nnc_label_at(yt, i);
        float dlab = 0;
        for (int64_t c = 0; c < C; c++) {
            float d = 0;
            if (c != lab && a->margin - x[lab] + x[c] > 0) { d = scale; dlab -= scale; }
            if (c != lab) dx[c] = acc ? dx[c] + d : d;
        }
        dx[lab] = acc ? dx[lab] + dlab : dlab;
    }
}

nnc_node *nnc_multi_margin_loss(nnc_graph *g, nnc_node *logits, nnc_node *labels, nnc_reduction r, float margin, int paper_form) {
    if (!g || g->err) return NULL;
    if (r != NNC_MEAN && r != NNC_SUM) return nnc_graph_fail(g, NNC_ERR_ARG, "multi_margin: unknown reduction %d", (int)r);
    if (!isfinite(margin)) return nnc_graph_fail(g, NNC_ERR_ARG, "multi_margin: margin is not finite");
    nnc_node *in[2] = {logits, labels};
    mm_attrs at = {r, margin, paper_form ? 1 : 0};
    return nnc_node_new(g, NNC_OP_MULTI_MARGIN, 2, in, &at, sizeof at);
}

static nnc_node *case_mean(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){5});
    nnc_node *y = nnc_input(g, "y", NNC_I64, 0, NULL);
    nnc_input_requires_grad(x);
    nnc_node *l = nnc_multi_margin_loss(g, x, y, NNC_MEAN, 1.0f, 0);
    nnc_graph_output(g, l);
    return l;
}
static nnc_node *case_paper(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){4});
    nnc_node *y = nnc_input(g, "y", NNC_I32, 0, NULL);
    nnc_input_requires_grad(x);
    nnc_node *l = nnc_multi_margin_loss(g, x, y, NNC_SUM, 0.5f, 1);
    nnc_graph_output(g, l);
    return l;
}
static const nnc_op_case cases[] = {
    {"multi_margin_mean_C5", 4, 1e-3, 2e-3, 1e-4, 5, case_mean},
    {"multi_margin_paper_sum_C4", 3, 1e-3, 2e-3, 1e-4, 4, case_paper},
};
const nnc_op_desc nnc_op_multi_margin = {"multi_margin", "multi-class hinge loss (PyTorch MultiMarginLoss, / C; paper form without / C)",
                                         "reduction, margin (default 1), paper_form", nnc_class_loss_infer, mm_forward, mm_backward, NULL, NULL,
                                         NNC_READS_IN(0) | NNC_READS_IN(1), cases, 2, NULL, NULL, 0, NULL};
