/* l1.c -- L1 loss (PyTorch L1Loss): loss = r( |p - t| ), r = mean or sum.
 *   dp = sign(p - t) dloss (/ count for mean; 0 where p == t, as PyTorch);  dt = -dp */
#include "ops/loss_pw.h"
static nnc_node *case_mean(nnc_graph *g) { return nnc_pw_loss_case(g, NNC_OP_L1, NNC_MEAN, 0, 0, 1, 2, (int64_t[]){3, 4}); }
static nnc_node *case_sum(nnc_graph *g) { return nnc_pw_loss_case(g, NNC_OP_L1, NNC_SUM, 0, 0, 0, 1, (int64_t[]){5}); }
static const nnc_op_case l1_cases[] = {
    {"l1_mean", 2, 1e-3, 2e-3, 1e-4, 0, case_mean},
    {"l1_sum", 3, 1e-3, 2e-3, 1e-4, 0, case_sum},
};
#define L1_SIGN(d) ((d) > 0 ? 1.0f : ((d) < 0 ? -1.0f : 0.0f))
NNC_PW_LOSS(l1, L1, "L1 loss: r(|p - t|), mean or sum", "reduction", fabsf(p - t), L1_SIGN(p - t), -L1_SIGN(p - t), l1_cases, 2)
nnc_node *nnc_l1_loss(nnc_graph *g, nnc_node *pred, nnc_node *target, nnc_reduction r) {
    return nnc_pw_loss_build(g, NNC_OP_L1, "l1", pred, target, r, 0.0f, 0);
}
