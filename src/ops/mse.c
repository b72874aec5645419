/* mse.c -- mean squared error.
 *   loss = r( (p - t)^2 ),  r = mean over all elements (or sum)
 *   dp = 2 (p - t) dloss / (count for mean);  dt = -dp
 * Backward reads both inputs. */
#include "ops/op.h"

typedef struct { int reduction; } mse_attrs;

static nnc_status mse_infer(nnc_node *n) {
    const nnc_tensor *p = &n->in[0]->out, *t = &n->in[1]->out;
    char d[160], s1[64], s2[64];
    int same = p->dtype == NNC_F32 && t->dtype == NNC_F32 && nnc_numel(p) == nnc_numel(t) && p->shape[0] == t->shape[0];
    if (!same)
        return nnc_error(NNC_ERR_SHAPE, "%s: prediction %s and target %s must be f32 with the same number of elements", nnc_node_desc(n, d, sizeof d),
                         nnc_shape_str(p, s1, sizeof s1), nnc_shape_str(t, s2, sizeof s2));
    n->out.dtype = NNC_F32;
    n->out.ndim = 1;
    n->out.shape[0] = 1;
    return NNC_OK;
}

static void mse_forward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    const float *p = n->in[0]->out.data, *t = n->in[1]->out.data;
    int64_t cnt = nnc_numel(&n->in[0]->out);
    double s = 0;
    for (int64_t i = 0; i < cnt; i++) { double d = (double)p[i] - t[i]; s += d * d; }
    if (NNC_ATTRS(n, mse_attrs)->reduction == NNC_MEAN) s /= (double)cnt;
    ((float *)n->out.data)[0] = (float)s;
}

static void mse_backward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    const float *p = n->in[0]->out.data, *t = n->in[1]->out.data;
    int64_t cnt = nnc_numel(&n->in[0]->out);
    float scale = 2.0f * ((const float *)n->grad.data)[0];
    if (NNC_ATTRS(n, mse_attrs)->reduction == NNC_MEAN) scale /= (float)cnt;
    for (int j = 0; j < 2; j++) {
        if (!nnc_needs_grad(n->in[j])) continue;
        float *dx = n->in[j]->grad.data, sgn = j == 0 ? scale : -scale;
        int acc = n->accum[j];
        for (int64_t i = 0; i < cnt; i++) {
            float d = sgn * (p[i] - t[i]);
            dx[i] = acc ? dx[i] + d : d;
        }
    }
}

nnc_node *nnc_mse(nnc_graph *g, nnc_node *pred, nnc_node *target, nnc_reduction r) {
    if (!g || g->err) return NULL;
    if (r != NNC_MEAN && r != NNC_SUM) return nnc_graph_fail(g, NNC_ERR_ARG, "mse: unknown reduction %d", (int)r);
    nnc_node *in[2] = {pred, target};
    mse_attrs a = {r};
    return nnc_node_new(g, NNC_OP_MSE, 2, in, &a, sizeof a);
}

static nnc_node *case_mean(nnc_graph *g) {
    nnc_node *p = nnc_input(g, "p", NNC_F32, 1, (int64_t[]){4});
    nnc_node *t = nnc_input(g, "t", NNC_F32, 1, (int64_t[]){4});
    nnc_input_requires_grad(p);
    nnc_input_requires_grad(t);
    nnc_node *l = nnc_mse(g, p, t, NNC_MEAN);
    nnc_graph_output(g, l);
    return l;
}
static nnc_node *case_sum(nnc_graph *g) {
    nnc_node *p = nnc_input(g, "p", NNC_F32, 2, (int64_t[]){2, 3});
    nnc_node *t = nnc_input(g, "t", NNC_F32, 2, (int64_t[]){2, 3});
    nnc_input_requires_grad(p);
    nnc_node *l = nnc_mse(g, p, t, NNC_SUM);
    nnc_graph_output(g, l);
    return l;
}
static const nnc_op_case cases[] = {
    {"mse_mean", 3, 1e-2, 2e-3, 1e-5, 0, case_mean},
    {"mse_sum", 2, 1e-2, 2e-3, 1e-5, 0, case_sum},
};
const nnc_op_desc nnc_op_mse = {"mse", "mean squared error (mean or sum)", "reduction", mse_infer, mse_forward, mse_backward,
                                NULL, NULL, NNC_READS_IN(0) | NNC_READS_IN(1), cases, 2, NULL, NULL, 0, NULL};
