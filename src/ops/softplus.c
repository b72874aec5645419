/* softplus.c -- y = log(1 + exp(beta x)) / beta, and y = x where
 * beta x > threshold (PyTorch Softplus: beta 1, threshold 20);
 * dy/dx = sigmoid(beta x), 1 above the threshold (reads the input). */
#include "ops/unary.h"
#include <math.h>
NNC_UNARY_OP_P(softplus, SOFTPLUS, "softplus: y = log(1 + exp(beta x)) / beta, linear where beta x > threshold",
               "beta (default 1), threshold (default 20)",
               x * a > b ? x : log1pf(expf(a * x)) / a, x * a > b ? 1.0f : 1.0f / (1.0f + expf(-a * x)),
               NNC_READS_IN(0), 1e-3, 1.5f, 2.0f)
nnc_node *nnc_softplus(nnc_graph *g, nnc_node *x, float beta, float threshold) {
    if (!g || g->err) return NULL;
    if (!(beta > 0) || !isfinite(beta)) return nnc_graph_fail(g, NNC_ERR_ARG, "softplus: beta %g must be positive", (double)beta);
    if (threshold != threshold) return nnc_graph_fail(g, NNC_ERR_ARG, "softplus: threshold is NaN");
    return nnc_unary_build_p(g, NNC_OP_SOFTPLUS, x, beta, threshold);
}
