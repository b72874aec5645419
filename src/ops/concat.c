/* concat.c -- concatenation along one non-batch axis (torch.cat(xs, axis)).
 *   x_j [..., C_j, ...] -> y [..., sum_j C_j, ...], other dims equal
 * nnc_concat uses axis 1 (channels); nnc_concat_axis any axis >= 1 (a
 * negative axis counts from the end), e.g. [N,T,H1] and [N,T,H2] into
 * [N,T,H1+H2] for a bidirectional RNN. Backward slices dy back (reads nothing). */
#include "ops/op.h"

typedef struct { int axis; } concat_attrs;

/* The axis as an index into the dims, or -1 when invalid. */
static int concat_axis(const nnc_node *n) {
    int ndim = n->in[0]->out.ndim, a = NNC_ATTRS(n, concat_attrs)->axis;
    if (a < 0) a += ndim;
    return a >= 1 && a < ndim ? a : -1;
}

static nnc_status concat_infer(nnc_node *n) {
    const nnc_tensor *a = &n->in[0]->out;
    char d[160], s1[64], s2[64];
    int ax = concat_axis(n);
    if (ax < 0)
        return nnc_error(NNC_ERR_ARG, "%s: axis %d is not a non-batch axis of input 0 %s", nnc_node_desc(n, d, sizeof d),
                         NNC_ATTRS(n, concat_attrs)->axis, nnc_shape_str(a, s1, sizeof s1));
    int64_t C = 0;
    for (int j = 0; j < n->n_in; j++) {
        const nnc_tensor *b = &n->in[j]->out;
        int ok = b->dtype == NNC_F32 && b->ndim == a->ndim && b->ndim >= 2;
        for (int i = 0; ok && i < a->ndim; i++) ok = i == ax || a->shape[i] == b->shape[i];
        if (!ok)
            return nnc_error(NNC_ERR_SHAPE, "%s: input %d %s does not match input 0 %s outside axis %d", nnc_node_desc(n, d, sizeof d), j,
                             nnc_shape_str(b, s1, sizeof s1), nnc_shape_str(a, s2, sizeof s2), ax);
        C += b->shape[ax];
    }
    nnc_out_like(n, a, NNC_F32);
    n->out.shape[ax] = C;
    return NNC_OK;
}

/* Elements before the axis (outer) and after it (inner); the axis index
 * (valid: infer checked it). */
static int split(const nnc_node *n, int64_t *outer, int64_t *inner) {
    const nnc_tensor *t = &n->out;
    int ax = concat_axis(n);
    if (ax < 1) ax = 1;
    *outer = *inner = 1;
    for (int i = 0; i < ax; i++) *outer *= t->shape[i];
    for (int i = ax + 1; i < t->ndim; i++) *inner *= t->shape[i];
    return ax;
}

/* Row i of the outer dimensions of t (axis a): i * (elements after the
 * batch axis before a, times the extent from a on) apart, except that a
 * window (bstride, axis 1 only) puts its batch items bstride apart. */
static int64_t row_stride(const nnc_tensor *t, int ax, int64_t S) { return t->bstride && ax == 1 ? t->bstride : t->shape[ax] * S; }

/* An input whose producer wrote it straight into its channels of y (compile.c's
 * in-place concatenation: same address and batch stride) is not copied. */
static int in_place(const float *x, int64_t xs, const float *at, int64_t ys) { return x == at && xs == ys; }

static void concat_forward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    int64_t O, S;
    int ax = split(n, &O, &S);
    const int64_t ys = row_stride(&n->out, ax, S);
    float *y = n->out.data;
    int64_t c0 = 0;
    for (int j = 0; j < n->n_in; j++) {
        const nnc_tensor *t = &n->in[j]->out;
        const int64_t Cj = t->shape[ax], xs = row_stride(t, ax, S);
        const float *x = t->data;
        if (!in_place(x, xs, y + c0 * S, ys))
#pragma omp parallel for schedule(static) if (O * Cj * S > 262144)
            for (int64_t i = 0; i < O; i++) memcpy(y + i * ys + c0 * S, x + i * xs, (size_t)(Cj * S) * sizeof(float));
        c0 += Cj;
    }
}

static void concat_backward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    int64_t O, S;
    int ax = split(n, &O, &S);
    const int64_t ys = row_stride(&n->grad, ax, S);
    const float *dy = n->grad.data;
    int64_t c0 = 0;
    for (int j = 0; j < n->n_in; j++) {
        const nnc_tensor *t = &n->in[j]->grad;
        const int64_t Cj = t->shape[ax], xs = row_stride(t, ax, S);
        if (nnc_needs_grad(n->in[j]) && !in_place(t->data, xs, dy + c0 * S, ys)) {
            float *dx = t->data;
            const int acc = n->accum[j];
#pragma omp parallel for schedule(static) if (O * Cj * S > 262144)
            for (int64_t i = 0; i < O; i++) {
                const float *src = dy + i * ys + c0 * S;
                float *dst = dx + i * xs;
                if (acc) for (int64_t k = 0; k < Cj * S; k++) dst[k] += src[k];
                else memcpy(dst, src, (size_t)(Cj * S) * sizeof(float));
            }
        }
        c0 += Cj;
    }
}

/* Channel concatenations read and write windows (all of them: inputs copied or
 * not, and the output when placed in a later one). */
static uint32_t concat_strided(const nnc_node *n) { return concat_axis(n) == 1 ? 0xffffffffu : 0; }

int nnc_concat_rebuildable(const nnc_node *n) {
    if (n->op != NNC_OP_CONCAT || concat_axis(n) != 1 || n->out.layout != NNC_LAYOUT_PLAIN) return 0;
    for (int j = 0; j < n->n_in; j++)
        if (n->in[j]->out.layout != NNC_LAYOUT_PLAIN) return 0;
    return 1;
}

/* n's channels into dst, whose images are `stride` floats apart. */
static void rebuild_into(const nnc_node *n, float *dst, int64_t stride) {
    int64_t O, S;
    split(n, &O, &S);
    int64_t c0 = 0;
    for (int j = 0; j < n->n_in; j++) {
        const nnc_node *q = n->in[j];
        int64_t Cj = q->out.shape[1];
        if (q->flags & NNC_NODE_REMAT) {
            rebuild_into(q, dst + c0 * S, stride);
        } else {
            const float *x = q->out.data;
            const int64_t xs = row_stride(&q->out, 1, S);
#pragma omp parallel for schedule(static) if (O * Cj * S > 65536)
            for (int64_t i = 0; i < O; i++) memcpy(dst + i * stride + c0 * S, x + i * xs, (size_t)(Cj * S) * sizeof(float));
        }
        c0 += Cj;
    }
}

void nnc_concat_rebuild(const nnc_node *n, float *dst) {
    int64_t O, S;
    split(n, &O, &S);
    rebuild_into(n, dst, n->out.shape[1] * S);
}

nnc_node *nnc_concat_axis(nnc_graph *g, int n, nnc_node *const *xs, int axis) {
    if (!g || g->err) return NULL;
    if (n < 1 || !xs) return nnc_graph_fail(g, NNC_ERR_ARG, "concat: needs at least one input (got %d)", n);
    if (xs[0]) { /* keep the real axis (the rank never changes) */
        int nd = xs[0]->out.ndim;
        if (axis == 0 || axis <= -nd || axis >= nd)
            return nnc_graph_fail(g, NNC_ERR_ARG, "concat: axis %d is not a non-batch axis of a %d-d input (valid: 1..%d or -%d..-1)",
                                  axis, nd, nd - 1, nd - 1);
        if (axis < 0) axis += nd;
    }
    concat_attrs a = {axis};
    return nnc_node_new(g, NNC_OP_CONCAT, n, xs, &a, sizeof a);
}

nnc_node *nnc_concat(nnc_graph *g, int n, nnc_node *const *xs) { return nnc_concat_axis(g, n, xs, 1); }

static nnc_node *case_cat(nnc_graph *g) {
    nnc_node *a = nnc_input(g, "a", NNC_F32, 3, (int64_t[]){2, 3, 2});
    nnc_node *b = nnc_input(g, "b", NNC_F32, 3, (int64_t[]){3, 3, 2});
    nnc_input_requires_grad(a);
    nnc_input_requires_grad(b);
    nnc_node *y = nnc_concat(g, 3, (nnc_node *[]){a, b, a});
    nnc_graph_output(g, y);
    return y;
}
/* [N,T,H1] ++ [N,T,H2] on the last axis (a bidirectional RNN's outputs). */
static nnc_node *case_last(nnc_graph *g) {
    nnc_node *a = nnc_input(g, "a", NNC_F32, 2, (int64_t[]){3, 2});
    nnc_node *b = nnc_input(g, "b", NNC_F32, 2, (int64_t[]){3, 4});
    nnc_input_requires_grad(a);
    nnc_input_requires_grad(b);
    nnc_node *y = nnc_concat_axis(g, 2, (nnc_node *[]){a, b}, -1);
    nnc_graph_output(g, y);
    return y;
}
static nnc_node *case_mid(nnc_graph *g) {
    nnc_node *a = nnc_input(g, "a", NNC_F32, 3, (int64_t[]){2, 1, 3});
    nnc_node *b = nnc_input(g, "b", NNC_F32, 3, (int64_t[]){2, 2, 3});
    nnc_input_requires_grad(a);
    nnc_input_requires_grad(b);
    nnc_node *y = nnc_concat_axis(g, 3, (nnc_node *[]){b, a, b}, 2);
    nnc_graph_output(g, y);
    return y;
}
static const nnc_op_case cases[] = {
    {"concat_2+3+2_channels_repeated_input", 2, 1e-2, 1e-3, 1e-5, 0, case_cat},
    {"concat_last_axis_T3_H2+H4", 2, 1e-2, 1e-3, 1e-5, 0, case_last},
    {"concat_axis2_of_4d_repeated_input", 2, 1e-2, 1e-3, 1e-5, 0, case_mid},
};
const nnc_op_desc nnc_op_concat = {"concat", "concatenation along one non-batch axis (default 1, channels)", "axis (default 1)",
                                   concat_infer, concat_forward, concat_backward, NULL, NULL, 0, cases, 3, NULL, NULL, 0, concat_strided};
