/* loss_pw.c -- shared pieces of the pointwise losses (loss_pw.h). */
#include "ops/loss_pw.h"

nnc_status nnc_pw_loss_infer(nnc_node *n) {
    const nnc_tensor *p = &n->in[0]->out, *t = &n->in[1]->out;
    char d[160], s1[64], s2[64];
    int same = p->dtype == NNC_F32 && t->dtype == NNC_F32 && p->ndim >= 1 && t->ndim >= 1 && nnc_numel(p) == nnc_numel(t) &&
               p->shape[0] == t->shape[0];
    if (!same)
        return nnc_error(NNC_ERR_SHAPE, "%s: prediction %s and target %s must be f32 with the same number of elements", nnc_node_desc(n, d, sizeof d),
                         nnc_shape_str(p, s1, sizeof s1), nnc_shape_str(t, s2, sizeof s2));
    n->out.dtype = NNC_F32;
    n->out.ndim = 1;
    n->out.shape[0] = 1;
    return NNC_OK;
}

nnc_node *nnc_pw_loss_build(nnc_graph *g, int op, const char *name, nnc_node *pred, nnc_node *target, nnc_reduction r,
                            float a, int flag) {
    if (!g || g->err) return NULL;
    if (r != NNC_MEAN && r != NNC_SUM) return nnc_graph_fail(g, NNC_ERR_ARG, "%s: unknown reduction %d", name, (int)r);
    if (!pred || !target) return nnc_graph_fail(g, NNC_ERR_ARG, "%s: prediction or target is NULL", name);
    nnc_node *in[2] = {pred, target};
    nnc_pw_loss_attrs at = {r, a, flag};
    return nnc_node_new(g, op, 2, in, &at, sizeof at);
}

nnc_node *nnc_pw_loss_case(nnc_graph *g, int op, nnc_reduction r, float a, int flag, int tgrad, int ndim, const int64_t *shape) {
    nnc_node *p = nnc_input(g, "p", NNC_F32, ndim, shape);
    nnc_node *t = nnc_input(g, "t", NNC_F32, ndim, shape);
    nnc_input_requires_grad(p);
    if (tgrad) nnc_input_requires_grad(t);
    nnc_node *l = nnc_pw_loss_build(g, op, "case", p, t, r, a, flag);
    nnc_graph_output(g, l);
    return l;
}
