/* rbf.c -- Euclidean radial-basis-function output layer (LeNet-5's F7 -> output).
 *   forward:  y[n,i] = sum_j (x[n,j] - w[i,j])^2      x [N,D] (flattened after dim 0), w [O,D]
 *   backward: dx[n,j] = 2 sum_i dy[n,i] (x[n,j] - w[i,j]);
 *             dw[i,j] = -2 sum_n dy[n,i] (x[n,j] - w[i,j])  (only when w needs a gradient)
 * Backward reads x and w. The layer builder makes w a state node (saved with
 * the model, never trained): LeCun et al. 1998 fix the prototypes by hand
 * (7x12 bitmaps of the characters, +-1); the model zoo provides them. PyTorch
 * has no such module. Prototypes given to nnc_rbf_layer are copied into the
 * state when the graph's storage is first available (at the first compile,
 * from this op's shape inference), so the pointer must stay valid until then
 * (a static table does); after that the state is an ordinary saved buffer. */
#include "ops/op.h"

typedef struct { const float *proto; int applied; } rbf_attrs;

static nnc_status rbf_infer(nnc_node *n) {
    const nnc_tensor *x = &n->in[0]->out, *w = &n->in[1]->out;
    char d[160], s1[64], s2[64];
    if (x->dtype != NNC_F32 || x->ndim < 1)
        return nnc_error(NNC_ERR_SHAPE, "%s: input must be f32 with a batch dimension", nnc_node_desc(n, d, sizeof d));
    if (w->dtype != NNC_F32 || w->ndim != 2)
        return nnc_error(NNC_ERR_SHAPE, "%s: prototypes must be f32 [out, in], got %s %s", nnc_node_desc(n, d, sizeof d),
                         nnc_dtype_name(w->dtype), nnc_shape_str(w, s1, sizeof s1));
    int64_t D = x->shape[0] ? nnc_numel(x) / x->shape[0] : 0;
    if (D != w->shape[1])
        return nnc_error(NNC_ERR_SHAPE, "%s: input %s has %lld features per sample, prototypes %s expect %lld",
                         nnc_node_desc(n, d, sizeof d), nnc_shape_str(x, s1, sizeof s1), (long long)D,
                         nnc_shape_str(w, s2, sizeof s2), (long long)w->shape[1]);
    rbf_attrs *a = NNC_ATTRS(n, rbf_attrs);
    if (a->proto && !a->applied && w->data) { /* first compile: storage exists now */
        memcpy(w->data, a->proto, nnc_tensor_bytes(w));
        a->applied = 1;
    }
    n->out.dtype = NNC_F32;
    n->out.ndim = 2;
    n->out.shape[0] = x->shape[0];
    n->out.shape[1] = w->shape[0];
    return NNC_OK;
}

static void rbf_forward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    const float *x = n->in[0]->out.data, *w = n->in[1]->out.data;
    float *y = n->out.data;
    const int64_t N = n->out.shape[0], O = n->out.shape[1], D = n->in[1]->out.shape[1];
#pragma omp parallel for schedule(static) if (N * O * D > 65536)
    for (int64_t i = 0; i < N * O; i++) {
        const float *xr = x + i / O * D, *wr = w + i % O * D;
        float s = 0;
        for (int64_t j = 0; j < D; j++) {
            float e = xr[j] - wr[j];
            s += e * e;
        }
        y[i] = s;
    }
}

static void rbf_backward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    const float *x = n->in[0]->out.data, *w = n->in[1]->out.data, *dy = n->grad.data;
    const int64_t N = n->out.shape[0], O = n->out.shape[1], D = n->in[1]->out.shape[1];
    if (nnc_needs_grad(n->in[0])) {
        float *dx = n->in[0]->grad.data;
        int acc = n->accum[0];
#pragma omp parallel for schedule(static) if (N * O * D > 65536)
        for (int64_t i = 0; i < N; i++) {
            float *d = dx + i * D;
            const float *xr = x + i * D;
            if (!acc) memset(d, 0, (size_t)D * sizeof(float));
            for (int64_t o = 0; o < O; o++) {
                float g = 2.0f * dy[i * O + o];
                const float *wr = w + o * D;
                for (int64_t j = 0; j < D; j++) d[j] += g * (xr[j] - wr[j]);
            }
        }
    }
    if (nnc_needs_grad(n->in[1])) { /* only when the caller passes a trainable w */
        float *dw = n->in[1]->grad.data;
        int acc = n->accum[1];
#pragma omp parallel for schedule(static) if (N * O * D > 65536)
        for (int64_t o = 0; o < O; o++) {
            float *d = dw + o * D;
            const float *wr = w + o * D;
            if (!acc) memset(d, 0, (size_t)D * sizeof(float));
            for (int64_t i = 0; i < N; i++) {
                float g = -2.0f * dy[i * O + o];
                const float *xr = x + i * D;
                for (int64_t j = 0; j < D; j++) d[j] += g * (xr[j] - wr[j]);
            }
        }
    }
}

nnc_node *nnc_rbf(nnc_graph *g, nnc_node *x, nnc_node *w) {
    if (!g || g->err) return NULL;
    rbf_attrs a = {NULL, 0};
    nnc_node *in[2] = {x, w};
    return nnc_node_new(g, NNC_OP_RBF, 2, in, &a, sizeof a);
}

nnc_node *nnc_rbf_layer(nnc_graph *g, nnc_node *x, const char *name, int64_t out, const float *prototypes) {
    if (!g || g->err) return NULL;
    if (!name || !*name) return nnc_graph_fail(g, NNC_ERR_ARG, "rbf layer: name is empty");
    if (!x) return nnc_graph_fail(g, NNC_ERR_ARG, "rbf layer '%s': input is NULL", name);
    if (out <= 0) return nnc_graph_fail(g, NNC_ERR_ARG, "rbf layer '%s': %lld outputs (must be positive)", name, (long long)out);
    int64_t D = nnc_static_features(x);
    if (D <= 0) return nnc_graph_fail(g, NNC_ERR_SHAPE, "rbf layer '%s': cannot determine the number of input features", name);
    nnc_scope_push(g, name);
    nnc_node *w = nnc_state(g, "weight", NNC_F32, 2, (int64_t[]){out, D}, 0.0);
    nnc_scope_pop(g);
    if (g->err) return NULL;
    rbf_attrs a = {prototypes, 0};
    nnc_node *in[2] = {x, w};
    nnc_node *y = nnc_node_new(g, NNC_OP_RBF, 2, in, &a, sizeof a);
    if (y) nnc_node_set_name(y, name);
    return y;
}

/* ---- gradient-check cases: y is quadratic, so central differences are exact up to rounding */
static const float case_proto[4 * 6] = {1, -1, 1, -1, 1, -1, -1, -1, 1, 1, -1, 1, 0.5f, 0, -0.5f, 1, 1, 0, -1, 1, -1, 1, 0.25f, -1};
static nnc_node *case_layer(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){2, 3});
    nnc_input_requires_grad(x);
    nnc_node *y = nnc_rbf_layer(g, x, "rbf", 4, case_proto);
    nnc_graph_output(g, y);
    return y;
}
/* trainable prototypes and fan-out into x: dw and accumulation paths */
static nnc_node *case_param(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){5});
    nnc_input_requires_grad(x);
    nnc_node *w = nnc_param(g, "w", 2, (int64_t[]){3, 5}, (nnc_init){.kind = NNC_INIT_UNIFORM, .a = -1, .b = 1});
    nnc_node *y = nnc_rbf(g, x, w), *y2 = nnc_rbf(g, x, w);
    nnc_graph_output(g, y);
    nnc_graph_output(g, y2);
    return y;
}
static const nnc_op_case cases[] = {
    {"rbf_6to4_state_prototypes", 3, 1e-2, 2e-3, 1e-4, 0, case_layer},
    {"rbf_5to3_param_fanout", 2, 1e-2, 2e-3, 1e-4, 0, case_param},
};

const nnc_op_desc nnc_op_rbf = {"rbf", "Euclidean RBF units: y[n,i] = sum_j (x[n,j] - w[i,j])^2 (LeNet-5 output)",
                                "prototypes w [out,in] (a state in nnc_rbf_layer: not trained)",
                                rbf_infer, rbf_forward, rbf_backward, NULL, NULL,
                                NNC_READS_IN(0) | NNC_READS_IN(1), cases, (int)(sizeof cases / sizeof cases[0]), NULL, NULL, 0, NULL};
