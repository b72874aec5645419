/* linear.c -- fully connected layer.
 *   forward:  y[M,O] = x[M,I] w[O,I]^T + b[O]
 *   backward: dx[M,I] = dy w;  dw[O,I] = dy^T x;  db[O] = sum_m dy
 * By default x is flattened after dim 0 (M = N, I = the rest). With the
 * attribute last_dim (nnc_linear_seq, PyTorch's nn.Linear on [N, T, I]) the
 * product runs over the last dim only and the leading dims are kept:
 * [N, ..., I] -> [N, ..., O] with M = N * ... (e.g. N*T).
 * Backward reads x and w. All three products are single GEMMs.
 * Forward from NNC_MATMUL_MIN_ROWS rows runs on oneDNN's matmul primitive
 * with the bias fused (kernels/dnnl_matmul.h: sgemm repacks the transposed
 * w on every call), made per plan at compile time and kept in the node's
 * kcache; fewer rows, NNC_DNNL=0 or no fast implementation: sgemm. */
#include "ops/op.h"
#include "ops/plan_cache.h"
#include "kernels/dnnl_matmul.h"
#include "kernels/dnnl_prim.h"
#include "kernels/gemm.h"
#include <math.h>
#include <stdlib.h>

typedef struct { int last_dim; } linear_attrs;

/* Rows of the GEMMs: N, or N * (dims before the last) with last_dim. */
static int64_t rows(const nnc_node *n) { return nnc_numel(&n->out) / n->in[1]->out.shape[0]; }

static nnc_status linear_infer(nnc_node *n) {
    const nnc_tensor *x = &n->in[0]->out, *w = &n->in[1]->out;
    char b[160], s1[64], s2[64];
    if (x->dtype != NNC_F32 || x->ndim < 1)
        return nnc_error(NNC_ERR_SHAPE, "%s: input must be f32 with a batch dimension", nnc_node_desc(n, b, sizeof b));
    if (w->ndim != 2) return nnc_error(NNC_ERR_SHAPE, "%s: weight must be [out, in], got %s", nnc_node_desc(n, b, sizeof b), nnc_shape_str(w, s1, sizeof s1));
    int last = NNC_ATTRS(n, linear_attrs)->last_dim;
    if (last && x->ndim < 2)
        return nnc_error(NNC_ERR_SHAPE, "%s: time-distributed input must be [N, ..., features], got %s", nnc_node_desc(n, b, sizeof b), nnc_shape_str(x, s1, sizeof s1));
    int64_t in = last ? x->shape[x->ndim - 1] : x->shape[0] ? nnc_numel(x) / x->shape[0] : 0;
    if (in != w->shape[1])
        return nnc_error(NNC_ERR_SHAPE, "%s: input %s has %lld features per sample, weight %s expects %lld",
                         nnc_node_desc(n, b, sizeof b), nnc_shape_str(x, s1, sizeof s1), (long long)in,
                         nnc_shape_str(w, s2, sizeof s2), (long long)w->shape[1]);
    if (n->n_in == 3) {
        const nnc_tensor *bias = &n->in[2]->out;
        if (bias->ndim != 1 || bias->shape[0] != w->shape[0])
            return nnc_error(NNC_ERR_SHAPE, "%s: bias %s must be [%lld]", nnc_node_desc(n, b, sizeof b), nnc_shape_str(bias, s1, sizeof s1), (long long)w->shape[0]);
    }
    if (last) {
        nnc_out_like(n, x, NNC_F32);
        n->out.shape[x->ndim - 1] = w->shape[0];
        return NNC_OK;
    }
    n->out.dtype = NNC_F32;
    n->out.ndim = 2;
    n->out.shape[0] = x->shape[0];
    n->out.shape[1] = w->shape[0];
    return NNC_OK;
}

static void free_matmul(void *e) { nnc_dnnl_matmul_free(e); }

/* The matmul object for this node's current shape (one per plan, in the
 * node's plan cache), made on first use; NULL: take sgemm. */
static nnc_dnnl_matmul *matmul_for(nnc_node *n) {
    int64_t M = rows(n), O = n->in[1]->out.shape[0], I = n->in[1]->out.shape[1];
    int bias = n->n_in == 3;
    if (M < NNC_MATMUL_MIN_ROWS || nnc_dnnl_disabled()) return NULL;
    nnc_plan_cache *c = nnc_plan_cache_get(n, free_matmul);
    if (!c) return NULL;
    for (int i = 0; i < c->n; i++)
        if (nnc_dnnl_matmul_matches(c->e[i], M, O, I, bias)) return nnc_dnnl_matmul_ok(c->e[i]) ? c->e[i] : NULL;
    nnc_dnnl_matmul *e = nnc_dnnl_matmul_new(M, O, I, bias);
    if (!e) return NULL;
    nnc_plan_cache_add(c, e);
    return nnc_dnnl_matmul_ok(e) ? e : NULL;
}

/* Compile-time hook: makes the matmul object (so steps allocate nothing)
 * and asks for its scratchpad. */
static size_t linear_workspace(const nnc_node *cn, int training) {
    (void)training;
    nnc_dnnl_matmul *m = matmul_for((nnc_node *)cn);
    return m ? nnc_dnnl_matmul_ws(m) : 0;
}

static void linear_forward(nnc_node *n, const nnc_exec *ex) {
    const float *x = n->in[0]->out.data, *w = n->in[1]->out.data;
    float *y = n->out.data;
    int64_t N = rows(n), O = n->in[1]->out.shape[0], I = n->in[1]->out.shape[1];
    nnc_dnnl_matmul *m = matmul_for(n);
    if (m && nnc_dnnl_matmul_ws(m) <= ex->ws_bytes) {
        nnc_status s = nnc_dnnl_matmul_forward(m, x, w, n->n_in == 3 ? n->in[2]->out.data : NULL, y, ex->ws);
        if (s && ex->fault) *ex->fault = s;
        return;
    }
    if (n->n_in == 3) {
        const float *bias = n->in[2]->out.data;
        for (int64_t i = 0; i < N; i++) memcpy(y + i * O, bias, (size_t)O * sizeof(float));
    }
    nnc_sgemm('N', 'T', N, O, I, 1.0f, x, I, w, I, n->n_in == 3 ? 1.0f : 0.0f, y, O);
}

static void linear_backward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    const float *x = n->in[0]->out.data, *w = n->in[1]->out.data, *dy = n->grad.data;
    int64_t N = rows(n), O = n->in[1]->out.shape[0], I = n->in[1]->out.shape[1];
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

static nnc_node *linear_node(nnc_graph *g, nnc_node *x, nnc_node *w, nnc_node *b, int last_dim) {
    nnc_node *in[3] = {x, w, b};
    linear_attrs a = {last_dim};
    return nnc_node_new(g, NNC_OP_LINEAR, b ? 3 : 2, in, &a, sizeof a);
}
nnc_node *nnc_linear(nnc_graph *g, nnc_node *x, nnc_node *w, nnc_node *b) { return linear_node(g, x, w, b, 0); }
nnc_node *nnc_linear_seq(nnc_graph *g, nnc_node *x, nnc_node *w, nnc_node *b) { return linear_node(g, x, w, b, 1); }

static nnc_node *linear_layer(nnc_graph *g, nnc_node *x, const char *name, int64_t out, int bias, int last_dim) {
    if (!g || g->err) return NULL;
    if (!x) return nnc_graph_fail(g, NNC_ERR_ARG, "linear layer '%s': input is NULL", name ? name : "?");
    if (!name || !*name) return nnc_graph_fail(g, NNC_ERR_ARG, "linear layer: name is empty");
    if (out <= 0) return nnc_graph_fail(g, NNC_ERR_ARG, "linear layer '%s': %lld output features (must be positive)", name, (long long)out);
    /* the input's per-sample size is known at build time for inputs and shaped ops */
    int64_t in = !last_dim ? nnc_static_features(x) : x->out.ndim >= 2 ? x->out.shape[x->out.ndim - 1] : 0;
    if (in <= 0) return nnc_graph_fail(g, NNC_ERR_SHAPE, "linear layer '%s': cannot determine the number of input features", name);
    float bound = 1.0f / sqrtf((float)in); /* PyTorch: kaiming_uniform(a=sqrt(5)) and its bias rule */
    nnc_scope_push(g, name);
    nnc_node *w = nnc_param(g, "weight", 2, (int64_t[]){out, in}, (nnc_init){NNC_INIT_UNIFORM, -bound, bound});
    nnc_node *b = bias ? nnc_param(g, "bias", 1, (int64_t[]){out}, (nnc_init){NNC_INIT_UNIFORM, -bound, bound}) : NULL;
    nnc_scope_pop(g);
    nnc_node *y = linear_node(g, x, w, b, last_dim);
    if (y) nnc_node_set_name(y, name);
    return y;
}
nnc_node *nnc_linear_layer(nnc_graph *g, nnc_node *x, const char *name, int64_t out, int bias) {
    return linear_layer(g, x, name, out, bias, 0);
}
nnc_node *nnc_linear_seq_layer(nnc_graph *g, nnc_node *x, const char *name, int64_t out, int bias) {
    return linear_layer(g, x, name, out, bias, 1);
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
/* [N, T=3, 4] -> [N, 3, 5]: the same weight applied at every step. */
static nnc_node *case_seq(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){3, 4});
    nnc_input_requires_grad(x);
    nnc_node *y = nnc_linear_seq_layer(g, x, "fc", 5, 1);
    nnc_graph_output(g, y);
    return y;
}
static const nnc_op_case cases[] = {
    {"linear_7to5_bias", 3, 1e-2, 2e-3, 1e-4, 0, case_basic},
    {"linear_18to17_nobias_flattened", 4, 1e-2, 2e-3, 1e-4, 0, case_nobias_4d},
    {"linear_seq_T3_4to5_bias", 2, 1e-2, 2e-3, 1e-4, 0, case_seq},
};

static int64_t linear_macs(const nnc_node *n) { return nnc_numel(&n->out) * n->in[1]->out.shape[1]; }

const nnc_op_desc nnc_op_linear = {"linear", "fully connected: y = x W^T + b", "weight [out,in], bias [out] optional; last_dim (time-distributed)",
                                   linear_infer, linear_forward, linear_backward, linear_workspace, NULL,
                                   NNC_READS_IN(0) | NNC_READS_IN(1), cases, 3, linear_macs, NULL, 0, NULL};
