/* elu.c -- y = x > 0 ? x : alpha (exp(x) - 1) (PyTorch ELU, alpha 1);
 * dy/dx = x > 0 ? 1 : alpha exp(x) (reads the input). */
#include "ops/unary.h"
#include <math.h>
NNC_UNARY_OP_P(elu, ELU, "exponential linear unit: y = x > 0 ? x : alpha (exp(x) - 1)", "alpha (default 1)",
               x > 0 ? x : a * expm1f(x), x > 0 ? 1.0f : a * expf(x), NNC_READS_IN(0), 1e-3, 1.3f, 0.0f)
nnc_node *nnc_elu(nnc_graph *g, nnc_node *x, float alpha) {
    if (!g || g->err) return NULL;
    if (!isfinite(alpha)) return nnc_graph_fail(g, NNC_ERR_ARG, "elu: alpha %g is not finite", (double)alpha);
    return nnc_unary_build_p(g, NNC_OP_ELU, x, alpha, 0.0f);
}
