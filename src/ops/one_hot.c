/* one_hot.c -- integer ids to one-hot vectors (torch.nn.functional.one_hot, as f32).
 *   y[p, c] = (ids[p] == c)     ids i32/i64 [N, ...] -> y f32 [N, ..., classes]
 * No gradient: the input is integer, so compile never marks this node as
 * needing one and the descriptor has no backward. An id outside
 * [0, classes) stops the run with an error naming the node and the position. */
#include "ops/op.h"

typedef struct { int64_t classes; } one_hot_attrs;

static nnc_status one_hot_infer(nnc_node *n) {
    const nnc_tensor *ids = &n->in[0]->out;
    char d[160], s1[64];
    if ((ids->dtype != NNC_I32 && ids->dtype != NNC_I64) || ids->ndim < 1 || ids->ndim + 1 > NNC_MAX_DIMS)
        return nnc_error(NNC_ERR_SHAPE, "%s: ids must be i32/i64 [N, ...] with at most %d dimensions, got %s %s",
                         nnc_node_desc(n, d, sizeof d), NNC_MAX_DIMS - 1, nnc_dtype_name(ids->dtype),
                         nnc_shape_str(ids, s1, sizeof s1));
    nnc_out_like(n, ids, NNC_F32);
    n->out.ndim = ids->ndim + 1;
    n->out.shape[ids->ndim] = NNC_ATTRS(n, one_hot_attrs)->classes;
    return NNC_OK;
}

static void one_hot_forward(nnc_node *n, const nnc_exec *ex) {
    const nnc_tensor *ids = &n->in[0]->out;
    int64_t P = nnc_numel(ids), C = NNC_ATTRS(n, one_hot_attrs)->classes;
    float *Y = n->out.data;
    memset(Y, 0, (size_t)(P * C) * sizeof(float));
    for (int64_t p = 0; p < P; p++) {
        int64_t id = nnc_label_at(ids, p);
        if (id < 0 || id >= C) {
            char d[160];
            nnc_error(NNC_ERR_ARG, "%s: id %lld at position %lld is outside [0, %lld)", nnc_node_desc(n, d, sizeof d),
                      (long long)id, (long long)p, (long long)C);
            *ex->fault = NNC_ERR_ARG;
            return;
        }
        Y[p * C + id] = 1.0f;
    }
}

nnc_node *nnc_one_hot(nnc_graph *g, nnc_node *ids, int64_t classes) {
    if (!g || g->err) return NULL;
    if (classes <= 0) return nnc_graph_fail(g, NNC_ERR_ARG, "one_hot: %lld classes (must be positive)", (long long)classes);
    one_hot_attrs a = {classes};
    return nnc_node_new(g, NNC_OP_ONE_HOT, 1, &ids, &a, sizeof a);
}

/* one_hot has no gradient of its own; the case checks that a graph using it
 * (x + one_hot(ids)) differentiates through the other branch. */
static nnc_node *case_add(nnc_graph *g) {
    nnc_node *ids = nnc_input(g, "ids", NNC_I64, 1, (int64_t[]){3});
    nnc_node *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){3, 4});
    nnc_input_requires_grad(x);
    nnc_node *y = nnc_add(g, x, nnc_one_hot(g, ids, 4));
    nnc_graph_output(g, y);
    return y;
}
static const nnc_op_case cases[] = {{"one_hot_C4_added_to_x", 2, 1e-2, 1e-3, 1e-5, 4, case_add}};
const nnc_op_desc nnc_op_one_hot = {"one_hot", "integer ids to one-hot f32 vectors (no gradient)", "classes",
                                    one_hot_infer, one_hot_forward, NULL, NULL, NULL, 0, cases, 1, NULL, NULL, 0, NULL};
