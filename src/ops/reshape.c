/* reshape.c -- a new per-sample shape for the same elements (flatten is
 * reshape to [N, -1]). y = x; dx = dy. The batch dimension is kept. */
#include "ops/op.h"

typedef struct { int ndim; int64_t shape[NNC_MAX_DIMS]; } reshape_attrs;

static nnc_status reshape_infer(nnc_node *n) {
    const reshape_attrs *a = NNC_ATTRS(n, reshape_attrs);
    const nnc_tensor *x = &n->in[0]->out;
    char d[160], s1[64];
    if (x->ndim < 1) return nnc_error(NNC_ERR_SHAPE, "%s: input has no batch dimension", nnc_node_desc(n, d, sizeof d));
    int64_t per = x->shape[0] ? nnc_numel(x) / x->shape[0] : 0, known = 1;
    int infer_at = -1;
    for (int i = 0; i < a->ndim; i++) {
        if (a->shape[i] == -1) {
            if (infer_at >= 0) return nnc_error(NNC_ERR_SHAPE, "%s: more than one -1 in the target shape", nnc_node_desc(n, d, sizeof d));
            infer_at = i;
        } else if (a->shape[i] <= 0) {
            return nnc_error(NNC_ERR_SHAPE, "%s: target dimension %d is %lld", nnc_node_desc(n, d, sizeof d), i, (long long)a->shape[i]);
        } else {
            known *= a->shape[i];
        }
    }
    n->out.dtype = x->dtype;
    n->out.ndim = a->ndim + 1;
    n->out.shape[0] = x->shape[0];
    for (int i = 0; i < a->ndim; i++) n->out.shape[i + 1] = a->shape[i];
    if (infer_at >= 0) {
        if (per % known) return nnc_error(NNC_ERR_SHAPE, "%s: %lld elements per sample of %s do not divide by %lld", nnc_node_desc(n, d, sizeof d), (long long)per, nnc_shape_str(x, s1, sizeof s1), (long long)known);
        n->out.shape[infer_at + 1] = per / known;
    } else if (known != per) {
        return nnc_error(NNC_ERR_SHAPE, "%s: cannot reshape %s (%lld per sample) to %lld per sample", nnc_node_desc(n, d, sizeof d), nnc_shape_str(x, s1, sizeof s1), (long long)per, (long long)known);
    }
    return NNC_OK;
}

static void reshape_forward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    if (n->out.data != n->in[0]->out.data) memcpy(n->out.data, n->in[0]->out.data, nnc_tensor_bytes(&n->out));
}

static void reshape_backward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    const float *dy = n->grad.data;
    float *dx = n->in[0]->grad.data;
    int64_t cnt = nnc_numel(&n->out);
    if (!n->accum[0]) memcpy(dx, dy, (size_t)cnt * sizeof(float));
    else for (int64_t i = 0; i < cnt; i++) dx[i] += dy[i];
}

nnc_node *nnc_reshape(nnc_graph *g, nnc_node *x, int ndim, const int64_t *shape) {
    if (!g || g->err) return NULL;
    if (ndim < 0 || ndim > NNC_MAX_DIMS - 1 || (ndim && !shape)) return nnc_graph_fail(g, NNC_ERR_ARG, "reshape: bad target shape (ndim %d)", ndim);
    reshape_attrs a = {ndim, {0}};
    for (int i = 0; i < ndim; i++) a.shape[i] = shape[i];
    return nnc_node_new(g, NNC_OP_RESHAPE, 1, &x, &a, sizeof a);
}

nnc_node *nnc_flatten(nnc_graph *g, nnc_node *x) { return nnc_reshape(g, x, 1, (int64_t[]){-1}); }

static nnc_node *case_flat(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){2, 3, 2});
    nnc_input_requires_grad(x);
    nnc_node *y = nnc_reshape(g, x, 2, (int64_t[]){3, -1});
    nnc_graph_output(g, y);
    return y;
}
static const nnc_op_case cases[] = {{"reshape_2x3x2_to_3x4", 2, 1e-2, 1e-3, 1e-5, 0, case_flat}};
const nnc_op_desc nnc_op_reshape = {"reshape", "same elements, new per-sample shape (flatten = [-1])", "shape",
                                    reshape_infer, reshape_forward, reshape_backward, NULL, NULL, 0, cases, 1, NULL, NULL, 0, NULL};
