/* dropout.c -- inverted dropout: in training y = x * m / (1 - p) with
 * m ~ Bernoulli(1 - p) drawn from the counter-based stream (seed, node,
 * step, element); identity in eval. Backward recomputes the mask from the
 * same counters, so nothing is saved and nothing depends on thread count. */
#include "ops/op.h"

typedef struct { float p; } dropout_attrs;

#define DROPOUT_STREAM 0xd80900ull

static inline uint64_t stream_of(const nnc_node *n, const nnc_exec *x) {
    return (DROPOUT_STREAM << 40) ^ ((uint64_t)n->id << 48) ^ x->step;
}

static nnc_status dropout_infer(nnc_node *n) {
    char d[160];
    if (n->in[0]->out.dtype != NNC_F32) return nnc_error(NNC_ERR_SHAPE, "%s: input must be f32", nnc_node_desc(n, d, sizeof d));
    nnc_out_like(n, &n->in[0]->out, NNC_F32);
    return NNC_OK;
}

static void dropout_forward(nnc_node *n, const nnc_exec *ex) {
    float p = NNC_ATTRS(n, dropout_attrs)->p;
    const float *X = n->in[0]->out.data;
    float *Y = n->out.data;
    int64_t cnt = nnc_numel(&n->out);
    if (!ex->training || p == 0) { memcpy(Y, X, (size_t)cnt * sizeof(float)); return; }
    float scale = p < 1 ? 1.0f / (1.0f - p) : 0.0f;
    uint64_t st = stream_of(n, ex);
#pragma omp parallel for schedule(static) if (cnt > 32768)
    for (int64_t i = 0; i < cnt; i++) Y[i] = nnc_rand_uniform(ex->seed, st, (uint64_t)i) >= p ? X[i] * scale : 0.0f;
}

static void dropout_backward(nnc_node *n, const nnc_exec *ex) {
    float p = NNC_ATTRS(n, dropout_attrs)->p;
    const float *dY = n->grad.data;
    float *dX = n->in[0]->grad.data;
    int64_t cnt = nnc_numel(&n->out);
    int acc = n->accum[0];
    float scale = p < 1 ? 1.0f / (1.0f - p) : 0.0f;
    uint64_t st = stream_of(n, ex);
#pragma omp parallel for schedule(static) if (cnt > 32768)
    for (int64_t i = 0; i < cnt; i++) {
        float d = (p == 0 || nnc_rand_uniform(ex->seed, st, (uint64_t)i) >= p) ? dY[i] * (p == 0 ? 1.0f : scale) : 0.0f;
        dX[i] = acc ? dX[i] + d : d;
    }
}

nnc_node *nnc_dropout(nnc_graph *g, nnc_node *x, float p) {
    if (!g || g->err) return NULL;
    if (!(p >= 0 && p <= 1)) return nnc_graph_fail(g, NNC_ERR_ARG, "dropout: probability %g must be in [0, 1]", (double)p);
    dropout_attrs a = {p};
    return nnc_node_new(g, NNC_OP_DROPOUT, 1, &x, &a, sizeof a);
}

static nnc_node *case_drop(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){40});
    nnc_input_requires_grad(x);
    nnc_node *y = nnc_dropout(g, x, 0.3f);
    nnc_graph_output(g, y);
    return y;
}
static const nnc_op_case cases[] = {{"dropout_p0.3", 3, 1e-2, 1e-3, 1e-5, 0, case_drop}};
const nnc_op_desc nnc_op_dropout = {"dropout", "inverted dropout (scales by 1/(1-p) in training)", "p",
                                    dropout_infer, dropout_forward, dropout_backward, NULL, NULL, 0, cases, 1, NULL, NULL, 0, NULL};
