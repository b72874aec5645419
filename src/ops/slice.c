/* slice.c -- a contiguous range along one axis (x.narrow(axis, start, length)).
 *   x [..., D, ...] -> y [..., length, ...],  y[o, l, i] = x[o, start + l, i]
 *   (o runs over the dims before axis, i over those after it)
 * The axis is >= 1 (never the batch); a negative axis counts from the end.
 * Backward: dx = dy inside the range, 0 elsewhere (added when accumulating).
 * Reads nothing; nothing is saved. */
#include "ops/op.h"

typedef struct { int axis; int64_t start, length; } slice_attrs;

/* The axis as an index into x's dims, or -1 when invalid. */
static int slice_axis(const nnc_node *n) {
    int ndim = n->in[0]->out.ndim, a = NNC_ATTRS(n, slice_attrs)->axis;
    if (a < 0) a += ndim;
    return a >= 1 && a < ndim ? a : -1;
}

static nnc_status slice_infer(nnc_node *n) {
    const nnc_tensor *x = &n->in[0]->out;
    const slice_attrs *a = NNC_ATTRS(n, slice_attrs);
    char d[160], s1[64];
    int ax = slice_axis(n);
    if (x->dtype != NNC_F32)
        return nnc_error(NNC_ERR_SHAPE, "%s: input must be f32, got %s", nnc_node_desc(n, d, sizeof d), nnc_dtype_name(x->dtype));
    if (ax < 0)
        return nnc_error(NNC_ERR_ARG, "%s: axis %d is not a non-batch axis of %s (valid: 1..%d or -%d..-1)",
                         nnc_node_desc(n, d, sizeof d), a->axis, nnc_shape_str(x, s1, sizeof s1), x->ndim - 1, x->ndim - 1);
    if (a->start < 0 || a->length < 1 || a->start + a->length > x->shape[ax])
        return nnc_error(NNC_ERR_ARG, "%s: range [%lld, %lld) is not inside axis %d of %s (size %lld)",
                         nnc_node_desc(n, d, sizeof d), (long long)a->start, (long long)(a->start + a->length), ax,
                         nnc_shape_str(x, s1, sizeof s1), (long long)x->shape[ax]);
    nnc_out_like(n, x, NNC_F32);
    n->out.shape[ax] = a->length;
    return NNC_OK;
}

typedef struct { int64_t outer, D, inner; } slice_geom;
static slice_geom geom(const nnc_node *n) {
    const nnc_tensor *x = &n->in[0]->out;
    int ax = slice_axis(n);
    slice_geom s = {1, x->shape[ax], 1};
    for (int i = 0; i < ax; i++) s.outer *= x->shape[i];
    for (int i = ax + 1; i < x->ndim; i++) s.inner *= x->shape[i];
    return s;
}

static void slice_forward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    const slice_attrs *a = NNC_ATTRS(n, slice_attrs);
    slice_geom s = geom(n);
    const float *X = n->in[0]->out.data;
    float *Y = n->out.data;
    int64_t chunk = a->length * s.inner;
    for (int64_t o = 0; o < s.outer; o++)
        memcpy(Y + o * chunk, X + (o * s.D + a->start) * s.inner, (size_t)chunk * sizeof(float));
}

static void slice_backward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    float *dX = nnc_grad_dst(n, 0); /* zeroed when overwriting: the rest of x gets no gradient */
    if (!dX) return;
    const slice_attrs *a = NNC_ATTRS(n, slice_attrs);
    slice_geom s = geom(n);
    const float *dY = n->grad.data;
    int64_t chunk = a->length * s.inner;
    for (int64_t o = 0; o < s.outer; o++) {
        float *dst = dX + (o * s.D + a->start) * s.inner;
        const float *src = dY + o * chunk;
#pragma omp simd
        for (int64_t k = 0; k < chunk; k++) dst[k] += src[k];
    }
}

nnc_node *nnc_slice(nnc_graph *g, nnc_node *x, int axis, int64_t start, int64_t length) {
    if (!g || g->err) return NULL;
    if (x) { /* keep the real axis (the rank never changes) */
        int nd = x->out.ndim;
        if (axis == 0 || axis <= -nd || axis >= nd)
            return nnc_graph_fail(g, NNC_ERR_ARG, "slice: axis %d is not a non-batch axis of a %d-d input (valid: 1..%d or -%d..-1)",
                                  axis, nd, nd - 1, nd - 1);
        if (axis < 0) axis += nd;
    }
    slice_attrs a = {axis, start, length};
    return nnc_node_new(g, NNC_OP_SLICE, 1, &x, &a, sizeof a);
}

/* [N, 4, 5] -> steps 1..2 (axis 1), and the last 3 features (axis -1) of the same x:
 * two slices of one input, so the second contribution accumulates. */
static nnc_node *case_two(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){4, 5});
    nnc_input_requires_grad(x);
    nnc_node *a = nnc_slice(g, x, 1, 1, 2);
    nnc_node *b = nnc_slice(g, x, -1, 2, 3);
    nnc_graph_output(g, a);
    nnc_graph_output(g, b);
    return b;
}
static nnc_node *case_mid(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){2, 5, 3});
    nnc_input_requires_grad(x);
    nnc_node *y = nnc_slice(g, x, 2, 1, 3);
    nnc_graph_output(g, y);
    return y;
}
static const nnc_op_case cases[] = {
    {"slice_axis1_and_axis-1_of_one_input", 3, 1e-2, 1e-3, 1e-5, 0, case_two},
    {"slice_axis2_of_4d", 2, 1e-2, 1e-3, 1e-5, 0, case_mid},
};
const nnc_op_desc nnc_op_slice = {"slice", "a contiguous range [start, start+length) along one non-batch axis", "axis, start, length",
                                  slice_infer, slice_forward, slice_backward, NULL, NULL, 0, cases, 2, NULL, NULL, 0, NULL};
