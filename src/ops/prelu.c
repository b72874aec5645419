/* prelu.c -- parametric ReLU (PyTorch PReLU): y = x > 0 ? x : w_c x with a
 * learned slope per channel (w [C], channel = axis 1 of x [N, C, ...]) or one
 * shared slope (w [1]).
 *   dx = x > 0 ? dy : w_c dy;   dw_c = sum over n and positions of (x > 0 ? 0 : x dy)
 * Backward reads x and w; dw sums in a fixed order per channel (one thread
 * per channel), so it does not depend on the thread count. */
#include "ops/op.h"

static nnc_status prelu_infer(nnc_node *n) {
    const nnc_tensor *x = &n->in[0]->out, *w = &n->in[1]->out;
    char d[160], s1[64], s2[64];
    if (x->dtype != NNC_F32 || w->dtype != NNC_F32)
        return nnc_error(NNC_ERR_SHAPE, "%s: input and weight must be f32", nnc_node_desc(n, d, sizeof d));
    int64_t C = x->ndim >= 2 ? x->shape[1] : 1;
    if (w->ndim != 1 || (w->shape[0] != 1 && w->shape[0] != C))
        return nnc_error(NNC_ERR_SHAPE, "%s: weight %s must be [1] or [%lld] (channels, axis 1 of input %s)", nnc_node_desc(n, d, sizeof d),
                         nnc_shape_str(w, s1, sizeof s1), (long long)C, nnc_shape_str(x, s2, sizeof s2));
    nnc_out_like(n, x, NNC_F32);
    return NNC_OK;
}

/* x viewed as [N, C, S] where C = number of slopes (1 if shared). */
static void dims(const nnc_node *n, int64_t *N, int64_t *C, int64_t *S) {
    const nnc_tensor *x = &n->in[0]->out;
    int64_t tot = nnc_numel(x), nw = n->in[1]->out.shape[0];
    if (nw == 1) { *N = 1; *C = 1; *S = tot; return; }
    *N = x->shape[0];
    *C = nw;
    *S = (*N > 0 && *C > 0) ? tot / (*N * *C) : 0;
}

static void prelu_forward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    const float *X = n->in[0]->out.data, *W = n->in[1]->out.data;
    float *Y = n->out.data;
    int64_t N, C, S;
    dims(n, &N, &C, &S);
#pragma omp parallel for collapse(2) schedule(static) if (N * C * S > 32768)
    for (int64_t i = 0; i < N; i++)
        for (int64_t c = 0; c < C; c++) {
            const float *x = X + (i * C + c) * S;
            float *y = Y + (i * C + c) * S, w = W[c];
            for (int64_t s = 0; s < S; s++) y[s] = x[s] > 0 ? x[s] : w * x[s];
        }
}

static void prelu_backward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    const float *X = n->in[0]->out.data, *W = n->in[1]->out.data, *dY = n->grad.data;
    int64_t N, C, S;
    dims(n, &N, &C, &S);
    if (nnc_needs_grad(n->in[0])) {
        float *dX = n->in[0]->grad.data;
        int acc = n->accum[0];
#pragma omp parallel for collapse(2) schedule(static) if (N * C * S > 32768)
        for (int64_t i = 0; i < N; i++)
            for (int64_t c = 0; c < C; c++) {
                int64_t o = (i * C + c) * S;
                float w = W[c];
                for (int64_t s = 0; s < S; s++) {
                    float d = X[o + s] > 0 ? dY[o + s] : w * dY[o + s];
                    dX[o + s] = acc ? dX[o + s] + d : d;
                }
            }
    }
    if (nnc_needs_grad(n->in[1])) {
        float *dW = n->in[1]->grad.data;
        int acc = n->accum[1];
#pragma omp parallel for schedule(static) if (C > 1 && N * C * S > 32768)
        for (int64_t c = 0; c < C; c++) {
            double sum = 0;
            for (int64_t i = 0; i < N; i++) {
                int64_t o = (i * C + c) * S;
                for (int64_t s = 0; s < S; s++)
                    if (!(X[o + s] > 0)) sum += (double)X[o + s] * dY[o + s];
            }
            dW[c] = acc ? dW[c] + (float)sum : (float)sum;
        }
    }
}

nnc_node *nnc_prelu(nnc_graph *g, nnc_node *x, nnc_node *weight) {
    if (!g || g->err) return NULL;
    if (!x || !weight) return nnc_graph_fail(g, NNC_ERR_ARG, "prelu: input or weight is NULL");
    nnc_node *in[2] = {x, weight};
    return nnc_node_new(g, NNC_OP_PRELU, 2, in, NULL, 0);
}

nnc_node *nnc_prelu_layer(nnc_graph *g, nnc_node *x, const char *name, int64_t num_parameters) {
    if (!g || g->err) return NULL;
    if (!name || !*name) return nnc_graph_fail(g, NNC_ERR_ARG, "prelu layer: name is empty");
    if (num_parameters <= 0)
        return nnc_graph_fail(g, NNC_ERR_ARG, "prelu layer '%s': %lld parameters (must be 1 or the channel count)", name, (long long)num_parameters);
    nnc_scope_push(g, name);
    nnc_node *w = nnc_param(g, "weight", 1, &num_parameters, (nnc_init){.kind = NNC_INIT_CONST, .a = 0.25f}); /* PyTorch init 0.25 */
    nnc_scope_pop(g);
    nnc_node *y = nnc_prelu(g, x, w);
    if (y) nnc_node_set_name(y, name);
    return y;
}

static nnc_node *case_channel(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){4, 3, 2});
    nnc_input_requires_grad(x);
    nnc_node *w = nnc_param(g, "w", 1, (int64_t[]){4}, (nnc_init){.kind = NNC_INIT_UNIFORM, .a = -0.5f, .b = 0.8f});
    nnc_node *y = nnc_prelu(g, x, w);
    nnc_graph_output(g, y);
    return y;
}
static nnc_node *case_shared(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){6});
    nnc_input_requires_grad(x);
    nnc_node *y = nnc_prelu_layer(g, x, "act", 1);
    nnc_graph_output(g, y);
    return y;
}
static const nnc_op_case cases[] = {
    {"prelu_per_channel_4x3x2", 2, 1e-3, 2e-3, 1e-4, 0, case_channel},
    {"prelu_shared", 3, 1e-3, 2e-3, 1e-4, 0, case_shared},
};
const nnc_op_desc nnc_op_prelu = {"prelu", "parametric ReLU: y = x > 0 ? x : w x, w learned per channel (axis 1) or shared",
                                  "weight [C] or [1]", prelu_infer, prelu_forward, prelu_backward, NULL, NULL,
                                  NNC_READS_IN(0) | NNC_READS_IN(1), cases, 2, NULL, NULL, 0, NULL};
