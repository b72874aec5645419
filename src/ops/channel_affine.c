/* channel_affine.c -- per-channel scale and shift over axis 1:
 *   forward:  y[n,c,...] = x[n,c,...] a[c] + b[c]       x [N,C] or [N,C,...], a [C], b [C] optional
 *   backward: dx = dy a[c];  da[c] = sum_{n,...} dy x;  db[c] = sum_{n,...} dy
 * Backward reads x (for da) and a. Used by LeNet-style subsampling
 * (nnc_subsampling_layer: average pooling, then this op with trainable
 * coefficient and bias per map). */
#include "ops/op.h"

static nnc_status ca_infer(nnc_node *n) {
    const nnc_tensor *x = &n->in[0]->out;
    char d[160], s1[64], s2[64];
    if (x->dtype != NNC_F32 || x->ndim < 2)
        return nnc_error(NNC_ERR_SHAPE, "%s: input must be f32 [N, C, ...], got %s %s", nnc_node_desc(n, d, sizeof d),
                         nnc_dtype_name(x->dtype), nnc_shape_str(x, s1, sizeof s1));
    for (int i = 1; i < n->n_in; i++) {
        const nnc_tensor *p = &n->in[i]->out;
        if (p->dtype != NNC_F32 || p->ndim != 1 || p->shape[0] != x->shape[1])
            return nnc_error(NNC_ERR_SHAPE, "%s: %s %s must be f32 [%lld] for input %s", nnc_node_desc(n, d, sizeof d),
                             i == 1 ? "scale" : "shift", nnc_shape_str(p, s1, sizeof s1), (long long)x->shape[1],
                             nnc_shape_str(x, s2, sizeof s2));
    }
    nnc_out_like(n, x, NNC_F32);
    return NNC_OK;
}

static void ca_forward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    const nnc_tensor *xt = &n->in[0]->out;
    const float *x = xt->data, *a = n->in[1]->out.data, *b = n->n_in == 3 ? n->in[2]->out.data : NULL;
    float *y = n->out.data;
    const int64_t N = xt->shape[0], C = xt->shape[1], HW = (N * C) != 0 ? nnc_numel(xt) / (N * C) : 0;
#pragma omp parallel for schedule(static) if (N * C * HW > 65536)
    for (int64_t i = 0; i < N * C; i++) {
        int64_t c = i % C;
        float s = a[c], t = b ? b[c] : 0.0f;
        const float *xp = x + i * HW;
        float *yp = y + i * HW;
        for (int64_t j = 0; j < HW; j++) yp[j] = xp[j] * s + t;
    }
}

static void ca_backward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    const nnc_tensor *xt = &n->in[0]->out;
    const float *x = xt->data, *a = n->in[1]->out.data, *dy = n->grad.data;
    const int64_t N = xt->shape[0], C = xt->shape[1], HW = (N * C) != 0 ? nnc_numel(xt) / (N * C) : 0;
    if (nnc_needs_grad(n->in[0])) {
        float *dx = n->in[0]->grad.data;
        int acc = n->accum[0];
#pragma omp parallel for schedule(static) if (N * C * HW > 65536)
        for (int64_t i = 0; i < N * C; i++) {
            float s = a[i % C];
            const float *d = dy + i * HW;
            float *o = dx + i * HW;
            if (acc) for (int64_t j = 0; j < HW; j++) o[j] += d[j] * s;
            else for (int64_t j = 0; j < HW; j++) o[j] = d[j] * s;
        }
    }
    int need_a = nnc_needs_grad(n->in[1]), need_b = n->n_in == 3 && nnc_needs_grad(n->in[2]);
    if (!need_a && !need_b) return;
    float *da = need_a ? n->in[1]->grad.data : NULL, *db = need_b ? n->in[2]->grad.data : NULL;
    int acc_a = n->accum[1], acc_b = n->n_in == 3 ? n->accum[2] : 0;
#pragma omp parallel for schedule(static) if (N * C * HW > 65536)
    for (int64_t c = 0; c < C; c++) { /* one channel per iteration, samples in order */
        double sa = 0, sb = 0;
        for (int64_t i = 0; i < N; i++) {
            const float *d = dy + (i * C + c) * HW, *xp = x + (i * C + c) * HW;
            float pa = 0, pb = 0;
            for (int64_t j = 0; j < HW; j++) { pa += d[j] * xp[j]; pb += d[j]; }
            sa += pa;
            sb += pb;
        }
        if (da) da[c] = acc_a ? da[c] + (float)sa : (float)sa;
        if (db) db[c] = acc_b ? db[c] + (float)sb : (float)sb;
    }
}

nnc_node *nnc_channel_affine(nnc_graph *g, nnc_node *x, nnc_node *scale, nnc_node *shift) {
    if (!g || g->err) return NULL;
    nnc_node *in[3] = {x, scale, shift};
    return nnc_node_new(g, NNC_OP_CHANNEL_AFFINE, shift ? 3 : 2, in, NULL, 0);
}

/* LeCun et al. 1998, S2/S4: each map's 2x2 window is summed, multiplied by a
 * trainable coefficient and shifted by a trainable bias (then a sigmoid,
 * which this builder leaves to the caller). nnc averages the window instead
 * of summing it: the same function with the coefficient scaled by kh*kw. */
nnc_node *nnc_subsampling_layer(nnc_graph *g, nnc_node *x, const char *name, int kernel) {
    if (!g || g->err) return NULL;
    if (!name || !*name) return nnc_graph_fail(g, NNC_ERR_ARG, "subsampling layer: name is empty");
    if (!x) return nnc_graph_fail(g, NNC_ERR_ARG, "subsampling layer '%s': input is NULL", name);
    if (kernel <= 0) return nnc_graph_fail(g, NNC_ERR_ARG, "subsampling layer '%s': kernel %d (must be positive)", name, kernel);
    char s1[64];
    if (x->out.ndim != 4)
        return nnc_graph_fail(g, NNC_ERR_SHAPE, "subsampling layer '%s': input must be [N, C, H, W], got %s", name,
                              nnc_shape_str(&x->out, s1, sizeof s1));
    int64_t C = x->out.shape[1];
    nnc_pool2d_opts po;
    memset(&po, 0, sizeof po);
    po.kernel[0] = po.kernel[1] = po.stride[0] = po.stride[1] = kernel;
    po.count_include_pad = 1;
    nnc_node *p = nnc_avgpool2d(g, x, &po);
    if (!p) return NULL;
    nnc_scope_push(g, name);
    nnc_node *a = nnc_param(g, "weight", 1, (int64_t[]){C}, (nnc_init){.kind = NNC_INIT_CONST, .a = 1});
    nnc_node *b = nnc_param(g, "bias", 1, (int64_t[]){C}, (nnc_init){.kind = NNC_INIT_ZEROS});
    nnc_scope_pop(g);
    if (g->err) return NULL;
    nnc_node *y = nnc_channel_affine(g, p, a, b);
    if (y) nnc_node_set_name(y, name);
    return y;
}

/* ---- gradient-check cases: bilinear in (x, a), so eps 1e-2 is exact up to rounding */
static nnc_node *case_4d(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){3, 4, 5});
    nnc_input_requires_grad(x);
    nnc_node *a = nnc_param(g, "a", 1, (int64_t[]){3}, (nnc_init){.kind = NNC_INIT_UNIFORM, .a = -1, .b = 1});
    nnc_node *b = nnc_param(g, "b", 1, (int64_t[]){3}, (nnc_init){.kind = NNC_INIT_UNIFORM, .a = -1, .b = 1});
    nnc_node *y = nnc_channel_affine(g, x, a, b);
    nnc_graph_output(g, y);
    return y;
}
static nnc_node *case_2d_noshift(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){4});
    nnc_input_requires_grad(x);
    nnc_node *a = nnc_param(g, "a", 1, (int64_t[]){4}, (nnc_init){.kind = NNC_INIT_UNIFORM, .a = -1, .b = 1});
    nnc_node *y = nnc_channel_affine(g, x, a, NULL), *y2 = nnc_channel_affine(g, x, a, NULL); /* fan-out: accumulation */
    nnc_graph_output(g, y);
    nnc_graph_output(g, y2);
    return y;
}
static nnc_node *case_subsampling(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){2, 6, 4});
    nnc_input_requires_grad(x);
    nnc_node *y = nnc_subsampling_layer(g, x, "s2", 2);
    nnc_graph_output(g, y);
    return y;
}
static const nnc_op_case cases[] = {
    {"channel_affine_3x4x5", 2, 1e-2, 2e-3, 1e-4, 0, case_4d},
    {"channel_affine_2d_noshift_fanout", 3, 1e-2, 2e-3, 1e-4, 0, case_2d_noshift},
    {"subsampling_layer_2x2_c2", 2, 1e-2, 2e-3, 1e-4, 0, case_subsampling},
};

const nnc_op_desc nnc_op_channel_affine = {"channel_affine", "per-channel scale and shift over axis 1: y = x a[c] + b[c]",
                                           "scale a [C], shift b [C] optional",
                                           ca_infer, ca_forward, ca_backward, NULL, NULL,
                                           NNC_READS_IN(0) | NNC_READS_IN(1), cases, (int)(sizeof cases / sizeof cases[0]), NULL, NULL, 0, NULL};
