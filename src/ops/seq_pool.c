/* seq_pool.c -- one vector per sequence: x f32 [N, T, F] (+ lengths [N]) -> y [N, F].
 *   LAST:  y[n] = x[n, len_n - 1]           FIRST: y[n] = x[n, 0]
 *   MEAN:  y[n] = sum_{t < len_n} x[n, t] / len_n
 *   MAX:   y[n, f] = max_{t < len_n} x[n, t, f]  (gradient to the first argmax)
 * lengths (i32 or i64 [N], values in 1..T) is optional: without it every
 * sequence has length T. Backward reads lengths; MAX saves its argmax
 * steps (int32 [N, F]) in training. Steps past a sequence's length get no
 * gradient. A length outside [1, T] stops the run with an error. */
#include "ops/op.h"
#include <math.h>

typedef struct { int mode; } seq_pool_attrs;

static nnc_status seq_pool_infer(nnc_node *n) {
    const nnc_tensor *x = &n->in[0]->out;
    char d[160], s1[64], s2[64];
    int mode = NNC_ATTRS(n, seq_pool_attrs)->mode;
    if (mode < NNC_SEQ_LAST || mode > NNC_SEQ_MAX)
        return nnc_error(NNC_ERR_ARG, "%s: unknown mode %d", nnc_node_desc(n, d, sizeof d), mode);
    if (x->dtype != NNC_F32 || x->ndim != 3)
        return nnc_error(NNC_ERR_SHAPE, "%s: input must be f32 [N, T, F], got %s %s", nnc_node_desc(n, d, sizeof d),
                         nnc_dtype_name(x->dtype), nnc_shape_str(x, s1, sizeof s1));
    if (n->n_in == 2) {
        const nnc_tensor *len = &n->in[1]->out;
        if ((len->dtype != NNC_I32 && len->dtype != NNC_I64) || len->ndim != 1 || len->shape[0] != x->shape[0])
            return nnc_error(NNC_ERR_SHAPE, "%s: lengths must be i32/i64 [%lld] (one per sequence of %s), got %s %s",
                             nnc_node_desc(n, d, sizeof d), (long long)x->shape[0], nnc_shape_str(x, s1, sizeof s1),
                             nnc_dtype_name(len->dtype), nnc_shape_str(len, s2, sizeof s2));
    }
    n->out.dtype = NNC_F32;
    n->out.ndim = 2;
    n->out.shape[0] = x->shape[0];
    n->out.shape[1] = x->shape[2];
    return NNC_OK;
}

static size_t seq_pool_saved(const nnc_node *n, int training) {
    return training && NNC_ATTRS(n, seq_pool_attrs)->mode == NNC_SEQ_MAX ? (size_t)nnc_numel(&n->out) * sizeof(int32_t) : 0;
}

static inline int64_t length_of(const nnc_node *n, int64_t i) {
    return n->n_in == 2 ? nnc_label_at(&n->in[1]->out, i) : n->in[0]->out.shape[1];
}

static void seq_pool_forward(nnc_node *n, const nnc_exec *ex) {
    const nnc_tensor *xt = &n->in[0]->out;
    int64_t N = xt->shape[0], T = xt->shape[1], F = xt->shape[2];
    int mode = NNC_ATTRS(n, seq_pool_attrs)->mode;
    for (int64_t i = 0; i < N; i++) {
        int64_t len = length_of(n, i);
        if (len < 1 || len > T) {
            char d[160];
            nnc_error(NNC_ERR_ARG, "%s: length %lld of sequence %lld is outside [1, %lld]", nnc_node_desc(n, d, sizeof d),
                      (long long)len, (long long)i, (long long)T);
            *ex->fault = NNC_ERR_ARG;
            return;
        }
    }
    const float *X = xt->data;
    float *Y = n->out.data;
    int32_t *A = n->saved;
    for (int64_t i = 0; i < N; i++) {
        int64_t len = length_of(n, i);
        const float *x = X + i * T * F;
        float *y = Y + i * F;
        switch (mode) {
        case NNC_SEQ_LAST: memcpy(y, x + (len - 1) * F, (size_t)F * sizeof(float)); break;
        case NNC_SEQ_FIRST: memcpy(y, x, (size_t)F * sizeof(float)); break;
        case NNC_SEQ_MEAN:
            for (int64_t f = 0; f < F; f++) {
                double s = 0;
                for (int64_t t = 0; t < len; t++) s += x[t * F + f];
                y[f] = (float)(s / (double)len);
            }
            break;
        default: /* NNC_SEQ_MAX: strict > keeps the first maximum */
            for (int64_t f = 0; f < F; f++) {
                int64_t best = 0;
                for (int64_t t = 1; t < len; t++)
                    if (x[t * F + f] > x[best * F + f]) best = t;
                y[f] = x[best * F + f];
                if (A) A[i * F + f] = (int32_t)best;
            }
        }
    }
}

static void seq_pool_backward(nnc_node *n, const nnc_exec *ex) {
    (void)ex;
    float *dX = nnc_grad_dst(n, 0);
    if (!dX) return;
    const nnc_tensor *xt = &n->in[0]->out;
    int64_t N = xt->shape[0], T = xt->shape[1], F = xt->shape[2];
    int mode = NNC_ATTRS(n, seq_pool_attrs)->mode;
    const float *dY = n->grad.data;
    const int32_t *A = n->saved;
    for (int64_t i = 0; i < N; i++) {
        int64_t len = length_of(n, i);
        float *dx = dX + i * T * F;
        const float *dy = dY + i * F;
        switch (mode) {
        case NNC_SEQ_LAST: for (int64_t f = 0; f < F; f++) dx[(len - 1) * F + f] += dy[f]; break;
        case NNC_SEQ_FIRST: for (int64_t f = 0; f < F; f++) dx[f] += dy[f]; break;
        case NNC_SEQ_MEAN: {
            float inv = 1.0f / (float)len;
            for (int64_t t = 0; t < len; t++)
                for (int64_t f = 0; f < F; f++) dx[t * F + f] += dy[f] * inv;
            break;
        }
        default:
            for (int64_t f = 0; f < F; f++) dx[(int64_t)A[i * F + f] * F + f] += dy[f];
        }
    }
}

nnc_node *nnc_seq_pool(nnc_graph *g, nnc_node *x, nnc_node *lengths, nnc_seq_pool_mode mode) {
    if (!g || g->err) return NULL;
    if ((int)mode < NNC_SEQ_LAST || (int)mode > NNC_SEQ_MAX) return nnc_graph_fail(g, NNC_ERR_ARG, "seq_pool: unknown mode %d", (int)mode);
    nnc_node *in[2] = {x, lengths};
    seq_pool_attrs a = {(int)mode};
    return nnc_node_new(g, NNC_OP_SEQ_POOL, lengths ? 2 : 1, in, &a, sizeof a);
}

/* x [N, 4, 3]; with lengths, the checker draws them from 1..4 (int_range -4). */
static nnc_node *case_mode(nnc_graph *g, nnc_seq_pool_mode mode, int with_lengths) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){4, 3});
    nnc_node *len = with_lengths ? nnc_input(g, "len", NNC_I32, 0, NULL) : NULL;
    nnc_input_requires_grad(x);
    nnc_node *y = nnc_seq_pool(g, x, len, mode);
    nnc_graph_output(g, y);
    return y;
}
static nnc_node *case_last(nnc_graph *g) { return case_mode(g, NNC_SEQ_LAST, 1); }
static nnc_node *case_first(nnc_graph *g) { return case_mode(g, NNC_SEQ_FIRST, 1); }
static nnc_node *case_mean(nnc_graph *g) { return case_mode(g, NNC_SEQ_MEAN, 1); }
static nnc_node *case_max(nnc_graph *g) { return case_mode(g, NNC_SEQ_MAX, 1); }
static nnc_node *case_mean_full(nnc_graph *g) { return case_mode(g, NNC_SEQ_MEAN, 0); }
static nnc_node *case_max_full(nnc_graph *g) { return case_mode(g, NNC_SEQ_MAX, 0); }
static const nnc_op_case cases[] = {
    {"seq_pool_last_T4_F3_lengths", 5, 1e-2, 1e-3, 1e-5, -4, case_last},
    {"seq_pool_first_T4_F3_lengths", 3, 1e-2, 1e-3, 1e-5, -4, case_first},
    {"seq_pool_mean_T4_F3_lengths", 5, 1e-2, 1e-3, 1e-5, -4, case_mean},
    {"seq_pool_max_T4_F3_lengths", 5, 1e-3, 2e-3, 1e-4, -4, case_max},
    {"seq_pool_mean_T4_F3_no_lengths", 3, 1e-2, 1e-3, 1e-5, 0, case_mean_full},
    {"seq_pool_max_T4_F3_no_lengths", 3, 1e-3, 2e-3, 1e-4, 0, case_max_full},
};
const nnc_op_desc nnc_op_seq_pool = {"seq_pool", "one vector per sequence [N,T,F] -> [N,F]: last, first, mean or max over each length",
                                     "mode (last, first, mean, max); optional lengths input [N]",
                                     seq_pool_infer, seq_pool_forward, seq_pool_backward, NULL, seq_pool_saved,
                                     NNC_READS_IN(1), cases, 6, NULL, NULL, 0, NULL};
