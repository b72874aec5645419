/* rrelu.c -- randomized leaky ReLU (PyTorch RReLU, lower 1/8, upper 1/3).
 * Training: y = x > 0 ? x : s x with a per-element slope s ~ U(lower, upper)
 * drawn from the counter-based stream (seed, node, step, element); backward
 * recomputes s from the same counters (nothing saved, independent of the
 * thread count). Eval: the fixed slope (lower + upper) / 2, as PyTorch.
 * PyTorch draws its slopes from its own generator, so training outputs are
 * not bit-comparable with it; the eval path is. Backward reads the input. */
#include "ops/op.h"
#include <math.h>

typedef struct { float lower, upper; } rrelu_attrs;

#define RRELU_STREAM 0x7272656c75ull /* "rrelu" */

static inline uint64_t stream_of(const nnc_node *n, const nnc_exec *x) {
    return (RRELU_STREAM << 24) ^ ((uint64_t)n->id << 48) ^ x->step;
}

static inline float slope_at(const rrelu_attrs *a, const nnc_exec *ex, uint64_t st, int64_t i) {
    if (!ex->training) return 0.5f * (a->lower + a->upper);
    return a->lower + (a->upper - a->lower) * nnc_rand_uniform(ex->seed, st, (uint64_t)i);
}

static nnc_status rrelu_infer(nnc_node *n) {
    char d[160];
    if (n->in[0]->out.dtype != NNC_F32) return nnc_error(NNC_ERR_SHAPE, "%s: input must be f32", nnc_node_desc(n, d, sizeof d));
    nnc_out_like(n, &n->in[0]->out, NNC_F32);
    return NNC_OK;
}

static void rrelu_forward(nnc_node *n, const nnc_exec *ex) {
    const rrelu_attrs *a = NNC_ATTRS(n, rrelu_attrs);
    const float *X = n->in[0]->out.data;
    float *Y = n->out.data;
    int64_t cnt = nnc_numel(&n->out);
    uint64_t st = stream_of(n, ex);
#pragma omp parallel for schedule(static) if (cnt > 32768)
    for (int64_t i = 0; i < cnt; i++) Y[i] = X[i] > 0 ? X[i] : X[i] * slope_at(a, ex, st, i);
}

static void rrelu_backward(nnc_node *n, const nnc_exec *ex) {
    const rrelu_attrs *a = NNC_ATTRS(n, rrelu_attrs);
    const float *X = n->in[0]->out.data, *dY = n->grad.data;
    float *dX = n->in[0]->grad.data;
    int64_t cnt = nnc_numel(&n->out);
    int acc = n->accum[0];
    uint64_t st = stream_of(n, ex);
#pragma omp parallel for schedule(static) if (cnt > 32768)
    for (int64_t i = 0; i < cnt; i++) {
        float d = X[i] > 0 ? dY[i] : dY[i] * slope_at(a, ex, st, i);
        dX[i] = acc ? dX[i] + d : d;
    }
}

nnc_node *nnc_rrelu(nnc_graph *g, nnc_node *x, float lower, float upper) {
    if (!g || g->err) return NULL;
    if (!(lower <= upper) || !isfinite(lower) || !isfinite(upper))
        return nnc_graph_fail(g, NNC_ERR_ARG, "rrelu: need finite lower %g <= upper %g", (double)lower, (double)upper);
    rrelu_attrs at = {lower, upper};
    return nnc_node_new(g, NNC_OP_RRELU, 1, &x, &at, sizeof at);
}

static nnc_node *case_rrelu(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){5, 7});
    nnc_input_requires_grad(x);
    nnc_node *y = nnc_rrelu(g, x, 1.0f / 8, 1.0f / 3);
    nnc_graph_output(g, y);
    return y;
}
static const nnc_op_case cases[] = {{"rrelu_5x7_train", 3, 1e-3, 2e-3, 1e-4, 0, case_rrelu}};
const nnc_op_desc nnc_op_rrelu = {"rrelu", "randomized leaky ReLU: slope ~ U(lower, upper) per element in training, (lower+upper)/2 in eval",
                                  "lower, upper (default 1/8, 1/3)", rrelu_infer, rrelu_forward, rrelu_backward, NULL, NULL,
                                  NNC_READS_IN(0), cases, 1, NULL, NULL, 0, NULL};
