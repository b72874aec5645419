/* embedding.c -- lookup table (PyTorch nn.Embedding).
 *   forward:  y[p, :] = W[ids[p], :]      ids i32/i64 [N, ...], W f32 [V, E] -> y f32 [N, ..., E]
 *   backward: dW[ids[p], :] += dy[p, :]   for every position p whose id is not padding_idx
 * The scatter-add runs over positions in order, so rows hit by several ids sum
 * in a fixed order (deterministic, no races). padding_idx -1 means none.
 * Backward reads ids; nothing is saved. An id outside [0, V) stops the run
 * with an error naming the node, the position and the value. */
#include "ops/op.h"

typedef struct { int64_t padding_idx; } embedding_attrs;

static nnc_status embedding_infer(nnc_node *n) {
    const nnc_tensor *ids = &n->in[0]->out, *w = &n->in[1]->out;
    char d[160], s1[64];
    if ((ids->dtype != NNC_I32 && ids->dtype != NNC_I64) || ids->ndim < 1)
        return nnc_error(NNC_ERR_SHAPE, "%s: ids must be i32/i64 [N, ...], got %s %s", nnc_node_desc(n, d, sizeof d),
                         nnc_dtype_name(ids->dtype), nnc_shape_str(ids, s1, sizeof s1));
    if (ids->ndim + 1 > NNC_MAX_DIMS)
        return nnc_error(NNC_ERR_SHAPE, "%s: ids %s have too many dimensions (at most %d)", nnc_node_desc(n, d, sizeof d),
                         nnc_shape_str(ids, s1, sizeof s1), NNC_MAX_DIMS - 1);
    if (w->dtype != NNC_F32 || w->ndim != 2)
        return nnc_error(NNC_ERR_SHAPE, "%s: weight must be f32 [vocab, dim], got %s", nnc_node_desc(n, d, sizeof d),
                         nnc_shape_str(w, s1, sizeof s1));
    int64_t pad = NNC_ATTRS(n, embedding_attrs)->padding_idx;
    if (pad < -1 || pad >= w->shape[0])
        return nnc_error(NNC_ERR_ARG, "%s: padding_idx %lld is outside [0, %lld) (-1 means none)", nnc_node_desc(n, d, sizeof d),
                         (long long)pad, (long long)w->shape[0]);
    nnc_out_like(n, ids, NNC_F32);
    n->out.ndim = ids->ndim + 1;
    n->out.shape[ids->ndim] = w->shape[1];
    return NNC_OK;
}

static void embedding_forward(nnc_node *n, const nnc_exec *ex) {
    const nnc_tensor *ids = &n->in[0]->out;
    const float *W = n->in[1]->out.data;
    float *Y = n->out.data;
    int64_t P = nnc_numel(ids), V = n->in[1]->out.shape[0], E = n->in[1]->out.shape[1];
    int64_t per_sample = ids->shape[0] ? P / ids->shape[0] : 1;
    for (int64_t p = 0; p < P; p++) {
        int64_t id = nnc_label_at(ids, p);
        if (id < 0 || id >= V) {
            char d[160];
            nnc_error(NNC_ERR_ARG, "%s: id %lld at position %lld (sample %lld, index %lld) is outside [0, %lld)",
                      nnc_node_desc(n, d, sizeof d), (long long)id, (long long)p, (long long)(p / per_sample),
                      (long long)(p % per_sample), (long long)V);
            *ex->fault = NNC_ERR_ARG;
            return;
        }
        memcpy(Y + p * E, W + id * E, (size_t)E * sizeof(float));
    }
}

static void embedding_backward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    float *dW = nnc_grad_dst(n, 1);
    if (!dW) return; /* ids are integers: the weight is the only differentiable input */
    const nnc_tensor *ids = &n->in[0]->out;
    const float *dY = n->grad.data;
    int64_t P = nnc_numel(ids), V = n->in[1]->out.shape[0], E = n->in[1]->out.shape[1];
    int64_t pad = NNC_ATTRS(n, embedding_attrs)->padding_idx;
    for (int64_t p = 0; p < P; p++) {
        int64_t id = nnc_label_at(ids, p);
        if (id < 0 || id >= V || id == pad) continue; /* out-of-range ids already stopped the forward */
        float *row = dW + id * E;
        const float *g = dY + p * E;
#pragma omp simd
        for (int64_t e = 0; e < E; e++) row[e] += g[e];
    }
}

nnc_node *nnc_embedding(nnc_graph *g, nnc_node *ids, nnc_node *weight, int64_t padding_idx) {
    if (!g || g->err) return NULL;
    nnc_node *in[2] = {ids, weight};
    embedding_attrs a = {padding_idx};
    return nnc_node_new(g, NNC_OP_EMBEDDING, 2, in, &a, sizeof a);
}

nnc_node *nnc_embedding_layer(nnc_graph *g, nnc_node *ids, const char *name, int64_t vocab, int64_t dim) {
    if (!g || g->err) return NULL;
    if (!ids) return nnc_graph_fail(g, NNC_ERR_ARG, "embedding layer '%s': ids are NULL", name ? name : "?");
    if (!name || !*name) return nnc_graph_fail(g, NNC_ERR_ARG, "embedding layer: name is empty");
    if (vocab <= 0 || dim <= 0)
        return nnc_graph_fail(g, NNC_ERR_ARG, "embedding layer '%s': vocab %lld and dim %lld must be positive", name,
                              (long long)vocab, (long long)dim);
    nnc_scope_push(g, name);
    nnc_node *w = nnc_param(g, "weight", 2, (int64_t[]){vocab, dim}, (nnc_init){NNC_INIT_NORMAL, 0.0f, 1.0f}); /* PyTorch: N(0, 1) */
    nnc_scope_pop(g);
    nnc_node *y = nnc_embedding(g, ids, w, -1);
    if (y) nnc_node_set_name(y, name);
    return y;
}

/* 4 samples x 3 ids over a vocabulary of 5: rows are hit several times. */
static nnc_node *case_basic(nnc_graph *g) {
    nnc_node *ids = nnc_input(g, "ids", NNC_I64, 1, (int64_t[]){3});
    nnc_node *y = nnc_embedding_layer(g, ids, "emb", 5, 4);
    nnc_graph_output(g, y);
    return y;
}
/* padding_idx deliberately drops a true gradient (PyTorch's rule), so the
 * finite differences cannot check it: tests/test_seq_ops.c does, by hand. */
static nnc_node *case_3d(nnc_graph *g) {
    nnc_node *ids = nnc_input(g, "ids", NNC_I32, 2, (int64_t[]){2, 3});
    nnc_node *w = nnc_param(g, "w", 2, (int64_t[]){4, 3}, (nnc_init){NNC_INIT_NORMAL, 0.0f, 1.0f});
    nnc_node *y = nnc_embedding(g, ids, w, -1);
    nnc_graph_output(g, y);
    return y;
}
static const nnc_op_case cases[] = {
    {"embedding_V5_E4_i64", 4, 1e-2, 1e-3, 1e-5, 5, case_basic},
    {"embedding_V4_E3_i32_ids_2x3", 3, 1e-2, 1e-3, 1e-5, 4, case_3d},
};
const nnc_op_desc nnc_op_embedding = {"embedding", "lookup table: y[..., :] = weight[ids[...], :]", "padding_idx (-1: none)",
                                      embedding_infer, embedding_forward, embedding_backward, NULL, NULL,
                                      NNC_READS_IN(0), cases, 2, NULL, NULL, 0, NULL};
