/* concat.c -- concatenation along axis 1 (channels) of [N, C_i, ...] tensors
 * with equal other dims. Backward slices dy back (reads nothing). */
#include "ops/op.h"

static nnc_status concat_infer(nnc_node *n) {
    const nnc_tensor *a = &n->in[0]->out;
    char d[160], s1[64], s2[64];
    int64_t C = 0;
    for (int j = 0; j < n->n_in; j++) {
        const nnc_tensor *b = &n->in[j]->out;
        int ok = b->dtype == NNC_F32 && b->ndim == a->ndim && b->ndim >= 2;
        for (int i = 0; ok && i < a->ndim; i++) ok = i == 1 || a->shape[i] == b->shape[i];
        if (!ok)
            return nnc_error(NNC_ERR_SHAPE, "%s: input %d %s does not match input 0 %s outside axis 1", nnc_node_desc(n, d, sizeof d), j,
                             nnc_shape_str(b, s1, sizeof s1), nnc_shape_str(a, s2, sizeof s2));
        C += b->shape[1];
    }
    nnc_out_like(n, a, NNC_F32);
    n->out.shape[1] = C;
    return NNC_OK;
}

static int64_t inner(const nnc_tensor *t) {
    int64_t s = 1;
    for (int i = 2; i < t->ndim; i++) s *= t->shape[i];
    return s;
}

static void concat_forward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    int64_t N = n->out.shape[0], S = inner(&n->out), Cout = n->out.shape[1];
    float *y = n->out.data;
    int64_t c0 = 0;
    for (int j = 0; j < n->n_in; j++) {
        int64_t Cj = n->in[j]->out.shape[1];
        const float *x = n->in[j]->out.data;
        for (int64_t i = 0; i < N; i++) memcpy(y + (i * Cout + c0) * S, x + i * Cj * S, (size_t)(Cj * S) * sizeof(float));
        c0 += Cj;
    }
}

static void concat_backward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    int64_t N = n->out.shape[0], S = inner(&n->out), Cout = n->out.shape[1];
    const float *dy = n->grad.data;
    int64_t c0 = 0;
    for (int j = 0; j < n->n_in; j++) {
        int64_t Cj = n->in[j]->out.shape[1];
        if (nnc_needs_grad(n->in[j])) {
            float *dx = n->in[j]->grad.data;
            for (int64_t i = 0; i < N; i++) {
                const float *src = dy + (i * Cout + c0) * S;
                float *dst = dx + i * Cj * S;
                if (n->accum[j]) for (int64_t k = 0; k < Cj * S; k++) dst[k] += src[k];
                else memcpy(dst, src, (size_t)(Cj * S) * sizeof(float));
            }
        }
        c0 += Cj;
    }
}

nnc_node *nnc_concat(nnc_graph *g, int n, nnc_node *const *xs) {
    if (!g || g->err) return NULL;
    if (n < 1 || !xs) return nnc_graph_fail(g, NNC_ERR_ARG, "concat: needs at least one input (got %d)", n);
    return nnc_node_new(g, NNC_OP_CONCAT, n, xs, NULL, 0);
}

static nnc_node *case_cat(nnc_graph *g) {
    nnc_node *a = nnc_input(g, "a", NNC_F32, 3, (int64_t[]){2, 3, 2});
    nnc_node *b = nnc_input(g, "b", NNC_F32, 3, (int64_t[]){3, 3, 2});
    nnc_input_requires_grad(a);
    nnc_input_requires_grad(b);
    nnc_node *y = nnc_concat(g, 3, (nnc_node *[]){a, b, a});
    nnc_graph_output(g, y);
    return y;
}
static const nnc_op_case cases[] = {{"concat_2+3+2_channels_repeated_input", 2, 1e-2, 1e-3, 1e-5, 0, case_cat}};
const nnc_op_desc nnc_op_concat = {"concat", "concatenation along the channel axis (1)", "", concat_infer, concat_forward,
                                   concat_backward, NULL, NULL, 0, cases, 1, NULL};
