/* add.c -- elementwise sum of two tensors of the same shape (residuals).
 *   y = a + b;  da += dy;  db += dy      (backward reads nothing)
 * With a fused ReLU (NNC_NODE_RELU_OUT, ResNet's add -> ReLU): y = max(0, a + b)
 * and the gradient passes where y > 0 (the planner keeps y for that). */
#include "ops/op.h"

static nnc_status add_infer(nnc_node *n) {
    const nnc_tensor *a = &n->in[0]->out, *b = &n->in[1]->out;
    char d[160], s1[64], s2[64];
    int same = a->ndim == b->ndim && a->dtype == NNC_F32 && b->dtype == NNC_F32;
    for (int i = 0; same && i < a->ndim; i++) same = a->shape[i] == b->shape[i];
    if (!same)
        return nnc_error(NNC_ERR_SHAPE, "%s: operands must be f32 of the same shape, got %s and %s", nnc_node_desc(n, d, sizeof d),
                         nnc_shape_str(a, s1, sizeof s1), nnc_shape_str(b, s2, sizeof s2));
    nnc_out_like(n, a, NNC_F32);
    return NNC_OK;
}

static void add_forward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    const float *a = n->in[0]->out.data, *b = n->in[1]->out.data;
    float *y = n->out.data;
    int64_t cnt = nnc_numel(&n->out);
    if (n->flags & NNC_NODE_RELU_OUT) {
#pragma omp parallel for simd schedule(static) if (parallel: cnt > 32768)
        for (int64_t i = 0; i < cnt; i++) {
            float v = a[i] + b[i];
            y[i] = v > 0 ? v : 0.0f;
        }
        return;
    }
#pragma omp parallel for simd schedule(static) if (parallel: cnt > 32768)
    for (int64_t i = 0; i < cnt; i++) y[i] = a[i] + b[i];
}

static void add_backward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    const float *dy = n->grad.data;
    int64_t cnt = nnc_numel(&n->out);
    if (n->flags & NNC_NODE_RELU_OUT) { /* the ReLU's derivative on the way */
        const float *y = n->out.data;
        for (int j = 0; j < 2; j++) {
            if (!nnc_needs_grad(n->in[j])) continue;
            float *dx = n->in[j]->grad.data;
            if (n->accum[j]) {
#pragma omp parallel for simd schedule(static) if (parallel: cnt > 32768)
                for (int64_t i = 0; i < cnt; i++) dx[i] += y[i] > 0 ? dy[i] : 0.0f;
            } else {
#pragma omp parallel for simd schedule(static) if (parallel: cnt > 32768)
                for (int64_t i = 0; i < cnt; i++) dx[i] = y[i] > 0 ? dy[i] : 0.0f;
            }
        }
        return;
    }
    for (int j = 0; j < 2; j++) {
        if (!nnc_needs_grad(n->in[j])) continue;
        float *dx = n->in[j]->grad.data;
        if (n->accum[j]) {
#pragma omp parallel for simd schedule(static) if (parallel: cnt > 32768)
            for (int64_t i = 0; i < cnt; i++) dx[i] += dy[i];
        } else {
            memcpy(dx, dy, (size_t)cnt * sizeof(float));
        }
    }
}

/* Elementwise over one shape: both operands and the sum share any layout. */
static uint32_t add_layouts(const nnc_node *n) {
    (void)n;
    return NNC_BLOCKS_IN(0) | NNC_BLOCKS_IN(1) | NNC_BLOCKS_OUT | NNC_BLOCKS_TIED;
}

nnc_node *nnc_add(nnc_graph *g, nnc_node *a, nnc_node *b) {
    nnc_node *in[2] = {a, b};
    return nnc_node_new(g, NNC_OP_ADD, 2, in, NULL, 0);
}

static nnc_node *case_add(nnc_graph *g) {
    nnc_node *a = nnc_input(g, "a", NNC_F32, 2, (int64_t[]){3, 4});
    nnc_node *b = nnc_input(g, "b", NNC_F32, 2, (int64_t[]){3, 4});
    nnc_input_requires_grad(a);
    nnc_input_requires_grad(b);
    nnc_node *y = nnc_add(g, a, b);
    nnc_graph_output(g, y);
    return y;
}
/* the same node twice: the second contribution must accumulate */
static nnc_node *case_self(nnc_graph *g) {
    nnc_node *a = nnc_input(g, "a", NNC_F32, 1, (int64_t[]){5});
    nnc_input_requires_grad(a);
    nnc_node *y = nnc_add(g, a, a);
    nnc_graph_output(g, y);
    return y;
}
static const nnc_op_case cases[] = {
    {"add_3x4", 2, 1e-2, 1e-3, 1e-5, 0, case_add},
    {"add_same_node_twice", 2, 1e-2, 1e-3, 1e-5, 0, case_self},
};
const nnc_op_desc nnc_op_add = {"add", "elementwise sum of two tensors of one shape", "", add_infer, add_forward,
                                add_backward, NULL, NULL, 0, cases, 2, NULL, add_layouts, NNC_FUSES_RELU_OUT, NULL};
