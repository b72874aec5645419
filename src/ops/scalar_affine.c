/* scalar_affine.c -- y = a x + b elementwise with constant a, b (attributes,
 * not parameters); dy/dx = a. nnc_scalar_affine(g, x, -1, 0) negates (the
 * LeNet-5 (1998) logits are minus the RBF distances). Backward reads nothing. */
#include "ops/unary.h"
#include <math.h>
NNC_UNARY_OP_P(scalar_affine, SCALAR_AFFINE, "constant scale and shift: y = a x + b", "a, b (constants)", a * x + b, a, 0,
               1e-2, -1.5f, 0.25f)
nnc_node *nnc_scalar_affine(nnc_graph *g, nnc_node *x, float a, float b) {
    if (!g || g->err) return NULL;
    if (!isfinite(a) || !isfinite(b))
        return nnc_graph_fail(g, NNC_ERR_ARG, "scalar_affine: a %g and b %g must be finite", (double)a, (double)b);
    return nnc_unary_build_p(g, NNC_OP_SCALAR_AFFINE, x, a, b);
}
