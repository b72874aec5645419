/* leaky_relu.c -- y = x > 0 ? x : slope x (PyTorch LeakyReLU, default slope
 * 0.01); dy/dx = x > 0 ? 1 : slope (reads the input). */
#include "ops/unary.h"
NNC_UNARY_OP_P(leaky_relu, LEAKY_RELU, "leaky ReLU: y = x > 0 ? x : slope x", "negative_slope (default 0.01)",
               x > 0 ? x : a * x, x > 0 ? 1.0f : a, NNC_READS_IN(0), 1e-3, 0.1f, 0.0f)
nnc_node *nnc_leaky_relu(nnc_graph *g, nnc_node *x, float negative_slope) {
    if (!g || g->err) return NULL;
    if (!(negative_slope == negative_slope)) return nnc_graph_fail(g, NNC_ERR_ARG, "leaky_relu: negative slope is NaN");
    return nnc_unary_build_p(g, NNC_OP_LEAKY_RELU, x, negative_slope, 0.0f);
}
