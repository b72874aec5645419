/* softmax.c -- softmax over axis 1 of [N, C, ...] (each (n, spatial) column).
 *   y = exp(x - max) / sum exp(x - max)
 *   dx = y * (dy - sum_c dy y)          (backward reads only y) */
#include "ops/op.h"
#include <math.h>

nnc_status nnc_axis1_infer(nnc_node *n);
nnc_status nnc_axis1_infer(nnc_node *n) {
    const nnc_tensor *x = &n->in[0]->out;
    char b[160];
    if (x->dtype != NNC_F32 || x->ndim < 2)
        return nnc_error(NNC_ERR_SHAPE, "%s: input must be f32 [N, C, ...] (got %d dims)", nnc_node_desc(n, b, sizeof b), x->ndim);
    nnc_out_like(n, x, NNC_F32);
    return NNC_OK;
}

/* N outer rows, C classes, S inner (spatial) stride. */
void nnc_axis1_dims(const nnc_tensor *t, int64_t *N, int64_t *C, int64_t *S);
void nnc_axis1_dims(const nnc_tensor *t, int64_t *N, int64_t *C, int64_t *S) {
    *N = t->shape[0];
    *C = t->shape[1];
    *S = 1;
    for (int i = 2; i < t->ndim; i++) *S *= t->shape[i];
}

static void softmax_forward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    int64_t N, C, S;
    nnc_axis1_dims(&n->out, &N, &C, &S);
    const float *X = n->in[0]->out.data;
    float *Y = n->out.data;
#pragma omp parallel for collapse(2) schedule(static) if (N * S > 1024)
    for (int64_t i = 0; i < N; i++)
        for (int64_t s = 0; s < S; s++) {
            const float *x = X + i * C * S + s;
            float *y = Y + i * C * S + s;
            float m = -INFINITY, sum = 0;
            for (int64_t c = 0; c < C; c++) m = fmaxf(m, x[c * S]);
            for (int64_t c = 0; c < C; c++) { y[c * S] = expf(x[c * S] - m); sum += y[c * S]; }
            for (int64_t c = 0; c < C; c++) y[c * S] /= sum;
        }
}

static void softmax_backward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    int64_t N, C, S;
    nnc_axis1_dims(&n->out, &N, &C, &S);
    const float *Y = n->out.data, *dY = n->grad.data;
    float *dX = n->in[0]->grad.data;
    int acc = n->accum[0];
#pragma omp parallel for collapse(2) schedule(static) if (N * S > 1024)
    for (int64_t i = 0; i < N; i++)
        for (int64_t s = 0; s < S; s++) {
            int64_t o = i * C * S + s;
            float dot = 0;
            for (int64_t c = 0; c < C; c++) dot += dY[o + c * S] * Y[o + c * S];
            for (int64_t c = 0; c < C; c++) {
                float d = Y[o + c * S] * (dY[o + c * S] - dot);
                dX[o + c * S] = acc ? dX[o + c * S] + d : d;
            }
        }
}

nnc_node *nnc_softmax(nnc_graph *g, nnc_node *x) { return nnc_node_new(g, NNC_OP_SOFTMAX, 1, &x, NULL, 0); }

static nnc_node *case_2d(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){7});
    nnc_input_requires_grad(x);
    nnc_node *y = nnc_softmax(g, x);
    nnc_graph_output(g, y);
    return y;
}
static nnc_node *case_4d(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){5, 2, 3});
    nnc_input_requires_grad(x);
    nnc_node *y = nnc_softmax(g, x);
    nnc_graph_output(g, y);
    return y;
}
static const nnc_op_case cases[] = {
    {"softmax_Nx7", 3, 1e-2, 2e-3, 1e-5, 0, case_2d},
    {"softmax_Nx5x2x3", 2, 1e-2, 2e-3, 1e-5, 0, case_4d},
};
const nnc_op_desc nnc_op_softmax = {"softmax", "softmax over the channel axis (1)", "", nnc_axis1_infer,
                                    softmax_forward, softmax_backward, NULL, NULL, NNC_READS_OUT, cases, 2, NULL, NULL, 0, NULL};
