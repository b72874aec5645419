/* unary.c -- shared pieces of the elementwise activations (unary.h). */
#include "ops/unary.h"

nnc_status nnc_unary_infer(nnc_node *n) {
    const nnc_tensor *x = &n->in[0]->out;
    char b[160];
    if (x->dtype != NNC_F32) return nnc_error(NNC_ERR_SHAPE, "%s: input must be f32, got %s", nnc_node_desc(n, b, sizeof b), nnc_dtype_name(x->dtype));
    nnc_out_like(n, x, NNC_F32);
    return NNC_OK;
}

uint32_t nnc_unary_layouts(const nnc_node *n) {
    (void)n;
    return NNC_BLOCKS_IN(0) | NNC_BLOCKS_OUT | NNC_BLOCKS_TIED;
}

nnc_node *nnc_unary_build(nnc_graph *g, int op, nnc_node *x) {
    return nnc_node_new(g, op, 1, &x, NULL, 0);
}

nnc_node *nnc_unary_case(nnc_graph *g, int op, int ndim, const int64_t *shape) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, ndim, shape);
    nnc_input_requires_grad(x);
    nnc_node *y = nnc_unary_build(g, op, x);
    nnc_graph_output(g, y);
    return y;
}

nnc_node *nnc_unary_build_p(nnc_graph *g, int op, nnc_node *x, float a, float b) {
    nnc_unary_p_attrs at = {a, b};
    return nnc_node_new(g, op, 1, &x, &at, sizeof at);
}

nnc_node *nnc_unary_case_p(nnc_graph *g, int op, float a, float b) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (const int64_t[]){3, 5, 7});
    nnc_input_requires_grad(x);
    nnc_node *y = nnc_unary_build_p(g, op, x, a, b);
    nnc_graph_output(g, y);
    return y;
}
