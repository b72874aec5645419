/* log_softmax.c -- log-softmax over axis 1 of [N, C, ...].
 *   y = x - max - log sum exp(x - max)
 *   dx = dy - exp(y) * sum_c dy        (backward reads only y) */
#include "ops/op.h"
#include <math.h>

nnc_status nnc_axis1_infer(nnc_node *n);
void nnc_axis1_dims(const nnc_tensor *t, int64_t *N, int64_t *C, int64_t *S);

static void log_softmax_forward(nnc_node *n, const nnc_exec *ex) {
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
            for (int64_t c = 0; c < C; c++) sum += expf(x[c * S] - m);
            float lse = m + logf(sum);
            for (int64_t c = 0; c < C; c++) y[c * S] = x[c * S] - lse;
        }
}

static void log_softmax_backward(nnc_node *n, const nnc_exec *ex) {
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
            float sum = 0;
            for (int64_t c = 0; c < C; c++) sum += dY[o + c * S];
            for (int64_t c = 0; c < C; c++) {
                float d = dY[o + c * S] - expf(Y[o + c * S]) * sum;
                dX[o + c * S] = acc ? dX[o + c * S] + d : d;
            }
        }
}

nnc_node *nnc_log_softmax(nnc_graph *g, nnc_node *x) { return nnc_node_new(g, NNC_OP_LOG_SOFTMAX, 1, &x, NULL, 0); }

static nnc_node *case_2d(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){9});
    nnc_input_requires_grad(x);
    nnc_node *y = nnc_log_softmax(g, x);
    nnc_graph_output(g, y);
    return y;
}
static nnc_node *case_4d(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){4, 3, 2});
    nnc_input_requires_grad(x);
    nnc_node *y = nnc_log_softmax(g, x);
    nnc_graph_output(g, y);
    return y;
}
static const nnc_op_case cases[] = {
    {"log_softmax_Nx9", 3, 1e-2, 2e-3, 3e-4, 0, case_2d},
    {"log_softmax_Nx4x3x2", 2, 1e-2, 2e-3, 3e-4, 0, case_4d},
};
const nnc_op_desc nnc_op_log_softmax = {"log_softmax", "log-softmax over the channel axis (1)", "", nnc_axis1_infer,
                                        log_softmax_forward, log_softmax_backward, NULL, NULL, NNC_READS_OUT, cases, 2, NULL, NULL, 0, NULL};
