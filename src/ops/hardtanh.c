/* hardtanh.c -- y = clamp(x, min, max) (PyTorch Hardtanh, [-1, 1]);
 * dy/dx = 1 strictly inside (min, max), 0 elsewhere, as PyTorch. */
#include "ops/unary.h"
NNC_UNARY_OP_P(hardtanh, HARDTANH, "hard tanh: y = clamp(x, min, max)", "min_val, max_val (default -1, 1)",
               x < a ? a : (x > b ? b : x), (x > a && x < b) ? 1.0f : 0.0f, NNC_READS_IN(0), 1e-3, -0.8f, 1.2f)
nnc_node *nnc_hardtanh(nnc_graph *g, nnc_node *x, float min_val, float max_val) {
    if (!g || g->err) return NULL;
    if (!(min_val <= max_val)) return nnc_graph_fail(g, NNC_ERR_ARG, "hardtanh: min %g must not exceed max %g", (double)min_val, (double)max_val);
    return nnc_unary_build_p(g, NNC_OP_HARDTANH, x, min_val, max_val);
}
