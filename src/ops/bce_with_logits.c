/* bce_with_logits.c -- binary cross-entropy on logits (PyTorch
 * BCEWithLogitsLoss without weight/pos_weight), in the stable form
 *   loss = r( max(x, 0) - x t + log(1 + exp(-|x|)) ),  r = mean or sum
 *   dx = (sigmoid(x) - t) dloss (/ count for mean);  dt = -x dloss (same scaling)
 * Targets are f32 probabilities in [0, 1]. Backward reads both inputs. */
#include "ops/loss_pw.h"
static inline float sigm(float x) {
    if (x >= 0) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}
static nnc_node *case_mean(nnc_graph *g) { return nnc_pw_loss_case(g, NNC_OP_BCE_WITH_LOGITS, NNC_MEAN, 0, 0, 1, 2, (int64_t[]){3, 4}); }
static nnc_node *case_sum(nnc_graph *g) { return nnc_pw_loss_case(g, NNC_OP_BCE_WITH_LOGITS, NNC_SUM, 0, 0, 0, 1, (int64_t[]){5}); }
static const nnc_op_case bce_cases[] = {
    {"bce_with_logits_mean", 2, 1e-3, 2e-3, 1e-4, 0, case_mean},
    {"bce_with_logits_sum", 3, 1e-2, 2e-3, 1e-4, 0, case_sum}, /* a smooth loss: a larger step keeps float32 rounding out of the difference */
};
NNC_PW_LOSS(bce_with_logits, BCE_WITH_LOGITS, "binary cross-entropy on logits (stable form); mean or sum", "reduction",
            fmaxf(p, 0.0f) - p * t + log1pf(expf(-fabsf(p))), sigm(p) - t, -p, bce_cases, 2)
nnc_node *nnc_bce_with_logits(nnc_graph *g, nnc_node *logits, nnc_node *targets, nnc_reduction r) {
    return nnc_pw_loss_build(g, NNC_OP_BCE_WITH_LOGITS, "bce_with_logits", logits, targets, r, 0.0f, 0);
}
