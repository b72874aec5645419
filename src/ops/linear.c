/* linear.c -- fully connected layer.
 *   forward:  y[N,O] = x[N,I] w[O,I]^T + b[O]      (x flattened after dim 0)
 *   backward: dx[N,I] = dy w;  dw[O,I] = dy^T x;  db[O] = sum_n dy
 * Backward reads x and w. All three products are single GEMMs. */
#include "ops/op.h"
#include "kernels/gemm.h"
#include <math.h>

static nnc_status linear_infer(nnc_node *n) {
    const nnc_tensor *x = &n->in[0]->out, *w = &n->in[1]->out;
    char b[160], s1[64], s2[64];
    if (x->dtype != NNC_F32 || x->ndim < 1)
        return nnc_error(NNC_ERR_SHAPE, "%s: input must be f32 with a batch dimension", nnc_node_desc(n, b, sizeof b));
    if (w->ndim != 2) return nnc_error(NNC_ERR_SHAPE, "%s: weight must be [out, in], got %s", nnc_node_desc(n, b, sizeof b), nnc_shape_str(w, s1, sizeof s1));
    int64_t in = x->shape[0] ? nnc_numel(x) / x->shape[0] : 0;
    if (in != w->shape[1])
        return nnc_error(NNC_ERR_SHAPE, "%s: input %s has %lld features per sample, weight %s expects %lld",
                         nnc_node_desc(n, b, sizeof b), nnc_shape_str(x, s1, sizeof s1), (long long)in,
                         nnc_shape_str(w, s2, sizeof s2), (long long)w->shape[1]);
    if (n->n_in == 3) {
        const nnc_tensor *bias = &n->in[2]->out;
        if (bias->ndim != 1 || bias->shape[0] != w->shape[0])
            return nnc_error(NNC_ERR_SHAPE, "%s: bias %s must be [%lld]", nnc_node_desc(n, b, sizeof b), nnc_shape_str(bias, s1, sizeof s1), (long long)w->shape[0]);
    }
    n->out.dtype = NNC_F32;
    n->out.ndim = 2;
    n->out.shape[0] = x->shape[0];
    n->out.shape[1] = w->shape[0];
    return NNC_OK;
}

static void linear_forward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    const float *x = n->in[0]->out.data, *w = n->in[1]->out.data;
    float *y = n->out.data;
    int64_t N = n->out.shape[0], O = n->out.shape[1], I = n->in[1]->out.shape[1];
    if (n->n_in == 3) {
        const float *bias = n->in[2]->out.data;
        for (int64_t i = 0; i < N; i++) memcpy(y + i * O, bias, (size_t)O * sizeof(float));
    }
    nnc_sgemm('N', 'T', N, O, I, 1.0f, x, I, w, I, n->n_in == 3 ? 1.0f : 0.0f, y, O);
}

static void linear_backward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    const float *x = n->in[0]->out.data, *w = n->in[1]->out.data, *dy = n->grad.data;
    int64_t N = n->out.shape[0], O = n->out.shape[1], I = n->in[1]->out.shape[1];
    if (nnc_needs_grad(n->in[0]))
        nnc_sgemm('N', 'N', N, I, O, 1.0f, dy, O, w, I, n->accum[0] ? 1.0f : 0.0f, n->in[0]->grad.data, I);
    if (nnc_needs_grad(n->in[1]))
        nnc_sgemm('T', 'N', O, I, N, 1.0f, dy, O, x, I, n->accum[1] ? 1.0f : 0.0f, n->in[1]->grad.data, I);
    if (n->n_in == 3 && nnc_needs_grad(n->in[2])) {
        float *db = nnc_grad_dst(n, 2); /* row by row: contiguous reads */
        for (int64_t i = 0; i < N; i++) {
            const float *row = dy + i * O;
#pragma omp simd
            for (int64_t o = 0; o < O; o++) db[o] += row[o];
        }
    }
}

nnc_node *nnc_linear(nnc_graph *g, nnc_node *x, nnc_node *w, nnc_node *b) {
    nnc_node *in[3] = {x, w, b};
    return nnc_node_new(g, NNC_OP_LINEAR, b ? 3 : 2, in, NULL, 0);
}

nnc_node *nnc_linear_layer(nnc_graph *g, nnc_node *x, const char *name, int64_t out, int bias) {
    if (!g || g->err) return NULL;
    if (!x) return nnc_graph_fail(g, NNC_ERR_ARG, "linear layer '%s': input is NULL", name ? name : "?");
    if (!name || !*name) return nnc_graph_fail(g, NNC_ERR_ARG, "linear layer: name is empty");
    if (out <= 0) return nnc_graph_fail(g, NNC_ERR_ARG, "linear layer '%s': %lld output features (must be positive)", name, (long long)out);
    /* the input's per-sample size is known at build time for inputs and shaped ops */
    int64_t in = nnc_static_features(x);
    if (in <= 0) return nnc_graph_fail(g, NNC_ERR_SHAPE, "linear layer '%s': cannot determine the number of input features", name);
    float bound = 1.0f / sqrtf((float)in); /* PyTorch: kaiming_uniform(a=sqrt(5)) and its bias rule */
    nnc_scope_push(g, name);
    nnc_node *w = nnc_param(g, "weight", 2, (int64_t[]){out, in}, (nnc_init){NNC_INIT_UNIFORM, -bound, bound});
    nnc_node *b = bias ? nnc_param(g, "bias", 1, (int64_t[]){out}, (nnc_init){NNC_INIT_UNIFORM, -bound, bound}) : NULL;
    nnc_scope_pop(g);
    nnc_node *y = nnc_linear(g, x, w, b);
    if (y) nnc_node_set_name(y, name);
    return y;
}

static nnc_node *case_basic(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){7});
    nnc_input_requires_grad(x);
    nnc_node *y = nnc_linear_layer(g, x, "fc", 5, 1);
    nnc_graph_output(g, y);
    return y;
}
static nnc_node *case_nobias_4d(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){2, 3, 3});
    nnc_input_requires_grad(x);
    nnc_node *y = nnc_linear_layer(g, x, "fc", 17, 0);
    nnc_graph_output(g, y);
    return y;
}
static const nnc_op_case cases[] = {
    {"linear_7to5_bias", 3, 1e-2, 2e-3, 1e-4, 0, case_basic},
    {"linear_18to17_nobias_flattened", 4, 1e-2, 2e-3, 1e-4, 0, case_nobias_4d},
};

static int64_t linear_macs(const nnc_node *n) { return n->out.shape[0] * n->out.shape[1] * n->in[1]->out.shape[1]; }

const nnc_op_desc nnc_op_linear = {"linear", "fully connected: y = x W^T + b", "weight [out,in], bias [out] optional",
                                   linear_infer, linear_forward, linear_backward, NULL, NULL,
                                   NNC_READS_IN(0) | NNC_READS_IN(1), cases, 2, linear_macs};
