/* hinge.c -- binary hinge loss: loss = r( max(0, 1 - t x) ) with targets t in
 * {-1, +1} given as f32 (any real t is accepted: the formula is used as is).
 * PyTorch has no exact equivalent (HingeEmbeddingLoss is a different loss),
 * so it is tested against hand-computed values only.
 *   dx = -t [1 - t x > 0] dloss (/ count for mean);  dt = -x [1 - t x > 0] dloss */
#include "ops/loss_pw.h"
static nnc_node *case_mean(nnc_graph *g) { return nnc_pw_loss_case(g, NNC_OP_HINGE, NNC_MEAN, 0, 0, 1, 2, (int64_t[]){3, 4}); }
static nnc_node *case_sum(nnc_graph *g) { return nnc_pw_loss_case(g, NNC_OP_HINGE, NNC_SUM, 0, 0, 0, 1, (int64_t[]){5}); }
static const nnc_op_case hinge_cases[] = {
    {"hinge_mean", 2, 1e-3, 2e-3, 1e-4, 0, case_mean},
    {"hinge_sum", 3, 1e-3, 2e-3, 1e-4, 0, case_sum},
};
NNC_PW_LOSS(hinge, HINGE, "binary hinge loss: r(max(0, 1 - t x)), targets in {-1, +1}; mean or sum", "reduction",
            fmaxf(0.0f, 1.0f - t * p), (1.0f - t * p > 0 ? -t : 0.0f), (1.0f - t * p > 0 ? -p : 0.0f), hinge_cases, 2)
nnc_node *nnc_hinge_loss(nnc_graph *g, nnc_node *scores, nnc_node *targets, nnc_reduction r) {
    return nnc_pw_loss_build(g, NNC_OP_HINGE, "hinge", scores, targets, r, 0.0f, 0);
}
