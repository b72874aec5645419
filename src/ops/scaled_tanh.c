/* scaled_tanh.c -- LeCun's squashing function (LeCun et al. 1998, appendix A):
 *   y = A tanh(S x),  dy/dx = A S (1 - tanh^2(S x)) = S (A - y^2 / A)
 * LeNet-5 uses A = 1.7159, S = 2/3, so f(1) = 1 and f(-1) = -1. The backward
 * reads only the output; A must be nonzero. */
#include "ops/unary.h"
#include <math.h>
NNC_UNARY_OP_P(scaled_tanh, SCALED_TANH, "scaled hyperbolic tangent: y = A tanh(S x) (LeNet-5 squashing: A 1.7159, S 2/3)",
               "amplitude A (nonzero), slope S", a * tanhf(b * x), b * (a - y * y / a), NNC_READS_OUT, 1e-2, 1.7159f,
               0.6666667f)
nnc_node *nnc_scaled_tanh(nnc_graph *g, nnc_node *x, float amplitude, float slope) {
    if (!g || g->err) return NULL;
    if (!(amplitude != 0) || !isfinite(amplitude) || !isfinite(slope))
        return nnc_graph_fail(g, NNC_ERR_ARG, "scaled_tanh: amplitude %g must be finite and nonzero, slope %g finite",
                              (double)amplitude, (double)slope);
    return nnc_unary_build_p(g, NNC_OP_SCALED_TANH, x, amplitude, slope);
}
