/* global_avgpool.c -- mean over each channel plane:
 *   forward:  y[n,c,0,0] = sum_{h,w} x[n,c,h,w] / (H W)   (summed in double)
 *   backward: dx[n,c,h,w] = dy[n,c,0,0] / (H W); reads nothing.
 * x (and dx) may be blocked (nChw16c, the end of a chain of oneDNN ops): then
 * 16 channels are summed side by side, each in the same order as plain. The
 * output is always plain. */
#include "ops/op.h"

static nnc_status gap_infer(nnc_node *n) {
    const nnc_tensor *x = &n->in[0]->out;
    char d[160], s1[64];
    if (x->dtype != NNC_F32 || x->ndim != 4)
        return nnc_error(NNC_ERR_SHAPE, "%s: input must be f32 [N, C, H, W], got %s %s", nnc_node_desc(n, d, sizeof d),
                         nnc_dtype_name(x->dtype), nnc_shape_str(x, s1, sizeof s1));
    n->out.dtype = NNC_F32;
    n->out.ndim = 4;
    n->out.shape[0] = x->shape[0];
    n->out.shape[1] = x->shape[1];
    n->out.shape[2] = 1;
    n->out.shape[3] = 1;
    return NNC_OK;
}

static void gap_forward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    const nnc_tensor *x = &n->in[0]->out;
    const float *X = x->data;
    float *Y = n->out.data;
    const int64_t planes = x->shape[0] * x->shape[1], HW = x->shape[2] * x->shape[3];
    if (nnc_is_blocked(x)) { /* planes / 16 blocks of [HW][16] */
#pragma omp parallel for schedule(static) if (planes * HW > 32768)
        for (int64_t b = 0; b < planes / 16; b++) {
            const float *xb = X + b * HW * 16;
            double s[16] = {0};
            for (int64_t i = 0; i < HW; i++)
                for (int j = 0; j < 16; j++) s[j] += xb[i * 16 + j];
            for (int j = 0; j < 16; j++) Y[b * 16 + j] = (float)(s[j] / (double)HW);
        }
        return;
    }
#pragma omp parallel for schedule(static) if (planes * HW > 32768)
    for (int64_t p = 0; p < planes; p++) {
        const float *xp = X + p * HW;
        double s = 0;
        for (int64_t i = 0; i < HW; i++) s += xp[i];
        Y[p] = (float)(s / (double)HW);
    }
}

static void gap_backward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    if (!nnc_needs_grad(n->in[0])) return;
    const nnc_tensor *x = &n->in[0]->out;
    const float *dY = n->grad.data;
    float *dX = n->in[0]->grad.data;
    int acc = n->accum[0];
    const int64_t planes = x->shape[0] * x->shape[1], HW = x->shape[2] * x->shape[3];
    const float inv = 1.0f / (float)HW;
    if (nnc_is_blocked(x)) {
#pragma omp parallel for schedule(static) if (planes * HW > 32768)
        for (int64_t b = 0; b < planes / 16; b++) {
            float *dxb = dX + b * HW * 16, d[16];
            for (int j = 0; j < 16; j++) d[j] = dY[b * 16 + j] * inv;
            for (int64_t i = 0; i < HW; i++)
                for (int j = 0; j < 16; j++) dxb[i * 16 + j] = acc ? dxb[i * 16 + j] + d[j] : d[j];
        }
        return;
    }
#pragma omp parallel for schedule(static) if (planes * HW > 32768)
    for (int64_t p = 0; p < planes; p++) {
        float *dxp = dX + p * HW, d = dY[p] * inv;
        if (acc)
            for (int64_t i = 0; i < HW; i++) dxp[i] += d;
        else
            for (int64_t i = 0; i < HW; i++) dxp[i] = d;
    }
}

nnc_node *nnc_global_avgpool(nnc_graph *g, nnc_node *x) {
    if (!g || g->err) return NULL;
    return nnc_node_new(g, NNC_OP_GLOBAL_AVGPOOL, 1, &x, NULL, 0);
}

static nnc_node *case_gap(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){3, 4, 5});
    nnc_input_requires_grad(x);
    nnc_node *y = nnc_global_avgpool(g, x);
    nnc_graph_output(g, y);
    return y;
}
/* linear: eps 1e-2 is exact up to rounding */
static const nnc_op_case cases[] = {{"global_avgpool_3x4x5", 2, 1e-2, 2e-3, 1e-4, 0, case_gap}};

/* x may arrive blocked; the output is plain. */
static uint32_t gap_layouts(const nnc_node *n) {
    (void)n;
    return NNC_BLOCKS_IN(0);
}

const nnc_op_desc nnc_op_global_avgpool = {"global_avgpool", "mean over each channel: [N,C,H,W] -> [N,C,1,1]", "",
                                           gap_infer, gap_forward, gap_backward, NULL, NULL, 0, cases, 1, NULL, gap_layouts, 0, NULL};
