/* huber.c -- Huber loss (PyTorch HuberLoss) and its SmoothL1 scaling.
 *   d = p - t;  huber(d) = 0.5 d^2 if |d| < delta else delta (|d| - 0.5 delta)
 *   smooth_l1 (PyTorch SmoothL1Loss, beta = delta): huber(d) / beta, i.e.
 *   0.5 d^2 / beta if |d| < beta else |d| - 0.5 beta. The two differ only by
 *   the factor 1/beta (Girshick's Fast R-CNN uses SmoothL1 with beta 1, where
 *   they coincide); flag 1 selects SmoothL1.
 *   dp = (|d| < delta ? d : delta sign(d)) (/ beta for smooth_l1);  dt = -dp
 * loss = r(...), r = mean or sum; backward reads both inputs. */
#include "ops/loss_pw.h"
static nnc_node *case_huber(nnc_graph *g) { return nnc_pw_loss_case(g, NNC_OP_HUBER, NNC_MEAN, 0.7f, 0, 1, 2, (int64_t[]){3, 4}); }
static nnc_node *case_smooth(nnc_graph *g) { return nnc_pw_loss_case(g, NNC_OP_HUBER, NNC_SUM, 0.5f, 1, 1, 1, (int64_t[]){6}); }
static const nnc_op_case huber_cases[] = {
    {"huber_delta0.7_mean", 2, 1e-3, 2e-3, 1e-4, 0, case_huber},
    {"smooth_l1_beta0.5_sum", 3, 1e-3, 2e-3, 1e-4, 0, case_smooth},
};
static inline float huber_f(float d, float a, int smooth) {
    float ad = fabsf(d), v = ad < a ? 0.5f * d * d : a * (ad - 0.5f * a);
    return smooth ? v / a : v;
}
static inline float huber_g(float d, float a, int smooth) {
    float v = fabsf(d) < a ? d : (d > 0 ? a : (d < 0 ? -a : 0.0f));
    return smooth ? v / a : v;
}
NNC_PW_LOSS(huber, HUBER, "Huber loss (PyTorch HuberLoss), or SmoothL1 = Huber / beta; mean or sum",
            "reduction, delta (default 1), smooth_l1 (divide by delta = beta)", huber_f(p - t, a, flag),
            huber_g(p - t, a, flag), -huber_g(p - t, a, flag), huber_cases, 2)
nnc_node *nnc_huber_loss(nnc_graph *g, nnc_node *pred, nnc_node *target, nnc_reduction r, float delta) {
    if (g && !g->err && !(delta > 0)) return nnc_graph_fail(g, NNC_ERR_ARG, "huber: delta %g must be positive", (double)delta);
    return nnc_pw_loss_build(g, NNC_OP_HUBER, "huber", pred, target, r, delta, 0);
}
nnc_node *nnc_smooth_l1_loss(nnc_graph *g, nnc_node *pred, nnc_node *target, nnc_reduction r, float beta) {
    if (g && !g->err && !(beta > 0)) return nnc_graph_fail(g, NNC_ERR_ARG, "smooth_l1: beta %g must be positive", (double)beta);
    return nnc_pw_loss_build(g, NNC_OP_HUBER, "smooth_l1", pred, target, r, beta, 1);
}
