/* rnn.c -- one recurrent layer in one direction over a whole sequence, fused:
 * vanilla RNN (tanh or ReLU), LSTM and GRU with PyTorch's equations, gate
 * order and parameter shapes. x is batch-first f32 [N, T, I]; G gates:
 *   RNN  (G=1): h' = act(W_ih x + b_ih + W_hh h + b_hh)
 *   LSTM (G=4, i f g o): i,f,o = sigmoid, g = tanh; c' = f c + i g; h' = o tanh(c')
 *   GRU  (G=3, r z n): r,z = sigmoid(W_i x + b_i + W_h h + b_h),
 *        n = tanh(W_in x + b_in + r (W_hn h + b_hn)); h' = (1 - z) n + z h
 * w_ih [G*H, I], w_hh [G*H, H], b_ih/b_hh [G*H] (both or neither).
 * Optional inputs: lengths i32/i64 [N] in 1..T (steps t >= len keep the state
 * and output zeros, as with PyTorch's packed sequences), h0 [N, H], c0 [N, H]
 * (LSTM). `reverse` runs t = T-1 .. 0. The output stacks, along axis 1, the
 * sequence y [N, T, H] (EMIT_SEQ) and then the final state(s) h_n (and c_n)
 * [N, 1, H] each (EMIT_STATE): [N, T + S, H].
 *
 * Fast path (DESIGN: one GEMM for every input projection, the time loop
 * inside): P[N,T,GH] = X W_ih^T + b in one GEMM; per step one [N,H]x[H,GH]
 * GEMM on rows strided by T; in backward the same per step for dh, then one
 * GEMM each for dX, dW_ih and dW_hh (the states before every step are kept
 * batch-first [N, T, H], so dW_hh = dQ^T Hprev has K = N*T).
 * Saved (training): P holding the activated gates (RNN: h_t), Hprev (state
 * before each step), Cprev and the final c (LSTM), W_hn h + b_hn (GRU). */
#include "ops/op.h"
#include <omp.h>
#include "kernels/gemm.h"
#include "kernels/vmath.h"
#include <math.h>

enum { RNN_TANH = NNC_RNN_TANH, RNN_RELU = NNC_RNN_RELU, RNN_LSTM = NNC_LSTM, RNN_GRU = NNC_GRU };

typedef struct {
    int cell, reverse, emit, bias;
    int len, h0, c0; /* input indices, -1 if absent */
} rnn_attrs;

typedef struct { int64_t N, T, I, H, G; } rnn_dims;

static int gates_of(int cell) { return cell == RNN_LSTM ? 4 : cell == RNN_GRU ? 3 : 1; }
static int n_states(int cell) { return cell == RNN_LSTM ? 2 : 1; }

static rnn_dims dims_of(const nnc_node *n) {
    const nnc_tensor *x = &n->in[0]->out, *whh = &n->in[2]->out;
    rnn_dims d = {x->shape[0], x->shape[1], x->shape[2], whh->shape[1], gates_of(NNC_ATTRS(n, rnn_attrs)->cell)};
    return d;
}

static const char *cell_name(int cell) {
    static const char *const names[] = {"rnn_tanh", "rnn_relu", "lstm", "gru"};
    return cell >= 0 && cell < 4 ? names[cell] : "?";
}

static nnc_status rnn_infer(nnc_node *n) {
    const rnn_attrs *a = NNC_ATTRS(n, rnn_attrs);
    const nnc_tensor *x = &n->in[0]->out, *wih = &n->in[1]->out, *whh = &n->in[2]->out;
    char d[160], s1[64], s2[64];
    const char *nd = nnc_node_desc(n, d, sizeof d);
    if (x->dtype != NNC_F32 || x->ndim != 3 || x->shape[1] < 1)
        return nnc_error(NNC_ERR_SHAPE, "%s: input must be f32 [N, T, features] with T >= 1 (batch first), got %s %s", nd,
                         nnc_dtype_name(x->dtype), nnc_shape_str(x, s1, sizeof s1));
    const int64_t G = gates_of(a->cell);
    if (whh->dtype != NNC_F32 || whh->ndim != 2 || whh->shape[1] < 1 || whh->shape[0] != G * whh->shape[1])
        return nnc_error(NNC_ERR_SHAPE, "%s: %s weight_hh must be [%lld*hidden, hidden], got %s", nd, cell_name(a->cell), (long long)G,
                         nnc_shape_str(whh, s1, sizeof s1));
    const int64_t H = whh->shape[1];
    if (wih->dtype != NNC_F32 || wih->ndim != 2 || wih->shape[0] != G * H || wih->shape[1] != x->shape[2])
        return nnc_error(NNC_ERR_SHAPE, "%s: weight_ih %s must be [%lld, %lld] for input %s", nd, nnc_shape_str(wih, s1, sizeof s1),
                         (long long)(G * H), (long long)x->shape[2], nnc_shape_str(x, s2, sizeof s2));
    for (int i = 0; a->bias && i < 2; i++) {
        const nnc_tensor *b = &n->in[3 + i]->out;
        if (b->dtype != NNC_F32 || b->ndim != 1 || b->shape[0] != G * H)
            return nnc_error(NNC_ERR_SHAPE, "%s: %s must be f32 [%lld], got %s", nd, i ? "bias_hh" : "bias_ih", (long long)(G * H),
                             nnc_shape_str(b, s1, sizeof s1));
    }
    if (a->len >= 0) {
        const nnc_tensor *l = &n->in[a->len]->out;
        if ((l->dtype != NNC_I32 && l->dtype != NNC_I64) || l->ndim != 1 || l->shape[0] != x->shape[0])
            return nnc_error(NNC_ERR_SHAPE, "%s: lengths must be i32/i64 [%lld] (one per sequence), got %s %s", nd, (long long)x->shape[0],
                             nnc_dtype_name(l->dtype), nnc_shape_str(l, s1, sizeof s1));
    }
    const int st[2] = {a->h0, a->c0};
    for (int i = 0; i < 2; i++) {
        if (st[i] < 0) continue;
        const nnc_tensor *h = &n->in[st[i]]->out;
        if (h->dtype != NNC_F32 || h->ndim != 2 || h->shape[0] != x->shape[0] || h->shape[1] != H)
            return nnc_error(NNC_ERR_SHAPE, "%s: initial %s state must be f32 [%lld, %lld], got %s", nd, i ? "cell" : "hidden",
                             (long long)x->shape[0], (long long)H, nnc_shape_str(h, s1, sizeof s1));
    }
    n->out.dtype = NNC_F32;
    n->out.ndim = 3;
    n->out.shape[0] = x->shape[0];
    n->out.shape[1] = ((a->emit & NNC_RNN_EMIT_SEQ) ? x->shape[1] : 0) + ((a->emit & NNC_RNN_EMIT_STATE) ? n_states(a->cell) : 0);
    n->out.shape[2] = H;
    return NNC_OK;
}

/* Saved buffer layout (4-byte words): P [N,T,GH] | Hprev [N,T,H] | LSTM: Cprev [N,T,H],
 * c_final [N,H], c_cur [N,H] | GRU: Qn [N,T,H] | h_cur [N,H] | lengths i32 [N] */
typedef struct { float *P, *Hp, *Cp, *cfin, *Qn, *h, *c; int32_t *len; } rnn_saved;

static size_t saved_floats(const rnn_dims *d, int cell) {
    size_t NT = (size_t)(d->N * d->T), NH = (size_t)(d->N * d->H);
    size_t s = NT * (size_t)(d->G * d->H) + NT * (size_t)d->H + NH + (size_t)d->N;
    if (cell == RNN_LSTM) s += NT * (size_t)d->H + 2 * NH;
    if (cell == RNN_GRU) s += NT * (size_t)d->H;
    return s;
}

static rnn_saved saved_of(float *base, const rnn_dims *d, int cell) {
    rnn_saved s = {0};
    size_t NT = (size_t)(d->N * d->T), NH = (size_t)(d->N * d->H);
    s.P = base;
    base += NT * (size_t)(d->G * d->H);
    s.Hp = base;
    base += NT * (size_t)d->H;
    if (cell == RNN_LSTM) {
        s.Cp = base; base += NT * (size_t)d->H;
        s.cfin = base; base += NH;
        s.c = base; base += NH;
    }
    if (cell == RNN_GRU) { s.Qn = base; base += NT * (size_t)d->H; }
    s.h = base;
    base += NH;
    s.len = (int32_t *)(void *)base;
    return s;
}

/* The saved data doubles as forward scratch in inference. */
static size_t rnn_saved_bytes(const nnc_node *n, int training) {
    (void)training;
    rnn_dims d = dims_of(n);
    return saved_floats(&d, NNC_ATTRS(n, rnn_attrs)->cell) * sizeof(float);
}

/* x = one_hot(ids) of a graph input: the input projection is a column gather
 * of W_ih (and its gradient a scatter), exactly equal to the GEMM with the
 * one-hot matrix but without its V-fold work (W6's character RNN). The ids
 * are checked by the one_hot node, which runs first. */
static const nnc_tensor *onehot_ids(const nnc_node *n) {
    const nnc_node *x = n->in[0];
    return x->op == NNC_OP_ONE_HOT && x->in[0]->op < 0 ? &x->in[0]->out : NULL;
}

/* Workspace: forward GRU Q_t [N, 3H], then W_ih^T [I, GH] (one-hot input),
 * then W_hh^T [H, GH] (oneDNN's sgemm repacks a transposed B on every call,
 * which costs as much as a small-M product: the step GEMM runs 3x faster on
 * a copy transposed once per forward);
 * backward dP [N,T,GH] (+ dQ for GRU), dh, dh2, dc [N,H], then the
 * one-hot scatter buffer [I, GH]. */
static size_t rnn_workspace(const nnc_node *n, int training) {
    rnn_dims d = dims_of(n);
    int cell = NNC_ATTRS(n, rnn_attrs)->cell;
    size_t oh = onehot_ids(n) ? (size_t)(d.I * d.G * d.H) : 0;
    size_t fwd = (cell == RNN_GRU ? (size_t)(d.N * 3 * d.H) : 0) + oh + (size_t)(d.H * d.G * d.H);
    if (!training) return fwd * sizeof(float);
    size_t dp = (size_t)(d.N * d.T * d.G * d.H);
    size_t bwd = dp * (cell == RNN_GRU ? 2 : 1) + 3 * (size_t)(d.N * d.H) + oh;
    return (bwd > fwd ? bwd : fwd) * sizeof(float);
}

static int read_lengths(nnc_node *n, const nnc_exec *ex, const rnn_dims *d, int32_t *len) {
    const rnn_attrs *a = NNC_ATTRS(n, rnn_attrs);
    for (int64_t i = 0; i < d->N; i++) {
        int64_t l = a->len >= 0 ? nnc_label_at(&n->in[a->len]->out, i) : d->T;
        if (l < 1 || l > d->T) {
            char b[160];
            nnc_error(NNC_ERR_ARG, "%s: sequence %lld has length %lld, expected 1..%lld", nnc_node_desc(n, b, sizeof b), (long long)i,
                      (long long)l, (long long)d->T);
            if (ex->fault) *ex->fault = NNC_ERR_ARG;
            return 0;
        }
        len[i] = (int32_t)l;
    }
    return 1;
}

static int64_t time_of(const rnn_attrs *a, const rnn_dims *d, int64_t k) { return a->reverse ? d->T - 1 - k : k; }

/* One forward step of rows [i0, i1): save the state, add h W_hh^T, apply
 * the cell. Q: the GRU's W_hh h + b_hh for these rows. threaded: the rows'
 * loop may use the team (called outside a parallel region). */
static void forward_step(const rnn_attrs *a, const rnn_dims *dp, const rnn_saved *sp, float *P, float *h, float *c, float *Q,
                         const float *WhhT, const float *bhh, const int32_t *len, int64_t k, int64_t i0, int64_t i1, int threaded) {
    const rnn_dims d = *dp;
    const rnn_saved s = *sp;
    const int64_t T = d.T, H = d.H, GH = d.G * d.H, R = i1 - i0;
    const int64_t t = time_of(a, &d, k);
    float *Pt = P + t * GH; /* row i at Pt + i*T*GH */
    float *Hpt = s.Hp + t * H;
    for (int64_t i = i0; i < i1; i++) memcpy(Hpt + i * T * H, h + i * H, (size_t)H * sizeof(float));
    if (a->cell == RNN_LSTM)
        for (int64_t i = i0; i < i1; i++) memcpy(s.Cp + (i * T + t) * H, c + i * H, (size_t)H * sizeof(float));
    if (a->cell == RNN_GRU) {
        if (bhh)
            for (int64_t i = 0; i < R; i++) memcpy(Q + i * GH, bhh, (size_t)GH * sizeof(float));
        nnc_sgemm('N', 'N', R, GH, H, 1.0f, h + i0 * H, H, WhhT, GH, bhh ? 1.0f : 0.0f, Q, GH);
    } else {
        nnc_sgemm('N', 'N', R, GH, H, 1.0f, h + i0 * H, H, WhhT, GH, 1.0f, Pt + i0 * T * GH, T * GH);
    }
#pragma omp parallel for schedule(static) if (threaded && R * GH > 32768)
    for (int64_t i = i0; i < i1; i++) {
        float *p = Pt + i * T * GH, *hi = h + i * H;
        if (t >= len[i]) { /* padded step: the state carries over */
            memset(p, 0, (size_t)GH * sizeof(float));
            if (a->cell == RNN_GRU) memset(s.Qn + (i * T + t) * H, 0, (size_t)H * sizeof(float));
            continue;
        }
        if (a->cell == RNN_TANH) {
            #pragma omp simd
            for (int64_t j = 0; j < H; j++) hi[j] = p[j] = nnc_vtanhf(p[j]);
        } else if (a->cell == RNN_RELU) {
            #pragma omp simd
            for (int64_t j = 0; j < H; j++) hi[j] = p[j] = p[j] > 0 ? p[j] : 0.0f;
        } else if (a->cell == RNN_LSTM) {
            float *ci = c + i * H;
            #pragma omp simd
            for (int64_t j = 0; j < H; j++) {
                const float ig = nnc_vsigmoidf(p[j]), fg = nnc_vsigmoidf(p[H + j]), gg = nnc_vtanhf(p[2 * H + j]), og = nnc_vsigmoidf(p[3 * H + j]);
                p[j] = ig; p[H + j] = fg; p[2 * H + j] = gg; p[3 * H + j] = og;
                ci[j] = fg * ci[j] + ig * gg;
                hi[j] = og * nnc_vtanhf(ci[j]);
            }
        } else {
            const float *q = Q + (i - i0) * GH;
            float *qn = s.Qn + (i * T + t) * H;
            #pragma omp simd
            for (int64_t j = 0; j < H; j++) {
                const float r = nnc_vsigmoidf(p[j] + q[j]), z = nnc_vsigmoidf(p[H + j] + q[H + j]);
                qn[j] = q[2 * H + j];
                const float nn = nnc_vtanhf(p[2 * H + j] + r * q[2 * H + j]);
                p[j] = r; p[H + j] = z; p[2 * H + j] = nn;
                hi[j] = (1.0f - z) * nn + z * hi[j];
            }
        }
    }
}

static void rnn_forward(nnc_node *n, const nnc_exec *ex) {
    const rnn_attrs *a = NNC_ATTRS(n, rnn_attrs);
    const rnn_dims d = dims_of(n);
    const int64_t N = d.N, T = d.T, I = d.I, H = d.H, GH = d.G * d.H;
    rnn_saved s = saved_of(n->saved, &d, a->cell);
    int32_t *len = s.len;
    if (!read_lengths(n, ex, &d, len)) return;

    const float *X = n->in[0]->out.data, *Wih = n->in[1]->out.data, *Whh = n->in[2]->out.data;
    const float *bih = a->bias ? n->in[3]->out.data : NULL, *bhh = a->bias ? n->in[4]->out.data : NULL;
    float *P = s.P, *Hp = s.Hp, *h = s.h, *c = s.c;
    /* P = X W_ih^T + b_ih (+ b_hh, except for GRU whose b_hn sits inside r * (...)) */
    if (bih) {
#pragma omp parallel for schedule(static) if (N * T * GH > 65536)
        for (int64_t r = 0; r < N * T; r++)
            for (int64_t j = 0; j < GH; j++) P[r * GH + j] = bih[j] + (a->cell == RNN_GRU ? 0.0f : bhh[j]);
    }
    const nnc_tensor *ids = onehot_ids(n);
    if (ids) {
        float *WT = (float *)ex->ws + (a->cell == RNN_GRU ? N * GH : 0); /* W_ih^T [I, GH] */
        for (int64_t j = 0; j < GH; j++)
            for (int64_t v = 0; v < I; v++) WT[v * GH + j] = Wih[j * I + v];
#pragma omp parallel for schedule(static) if (N * T * GH > 65536)
        for (int64_t r = 0; r < N * T; r++) {
            const float *w = WT + nnc_label_at(ids, r) * GH;
            float *p = P + r * GH;
            if (bih) {
#pragma omp simd
                for (int64_t j = 0; j < GH; j++) p[j] += w[j];
            } else {
                memcpy(p, w, (size_t)GH * sizeof(float));
            }
        }
    } else {
        nnc_sgemm('N', 'T', N * T, GH, I, 1.0f, X, I, Wih, I, bih ? 1.0f : 0.0f, P, GH);
    }

    const float *h0 = a->h0 >= 0 ? n->in[a->h0]->out.data : NULL, *c0 = a->c0 >= 0 ? n->in[a->c0]->out.data : NULL;
    if (h0) memcpy(h, h0, (size_t)(N * H) * sizeof(float));
    else memset(h, 0, (size_t)(N * H) * sizeof(float));
    if (c) {
        if (c0) memcpy(c, c0, (size_t)(N * H) * sizeof(float));
        else memset(c, 0, (size_t)(N * H) * sizeof(float));
    }
    float *Q = ex->ws; /* GRU: W_hh h + b_hh for the step */
    float *WhhT = (float *)ex->ws + (a->cell == RNN_GRU ? N * GH : 0) + (onehot_ids(n) ? I * GH : 0);
#pragma omp parallel for schedule(static) if (GH * H > 65536)
    for (int64_t k = 0; k < H; k++)
        for (int64_t j = 0; j < GH; j++) WhhT[k * GH + j] = Whh[j * H + k];
    /* The recurrence. With enough sequences, each thread runs the whole loop
     * on its own rows (single-threaded GEMMs, no barrier per step); else the
     * steps run one after another with threaded GEMMs. */
    const int nt = omp_get_max_threads();
    if (nt > 1 && N >= 8 * nt && !omp_in_parallel()) {
#pragma omp parallel num_threads(nt)
        {
            const int64_t tid = omp_get_thread_num(), tn = omp_get_num_threads();
            const int64_t i0 = N * tid / tn, i1 = N * (tid + 1) / tn;
            float *Qw = Q + i0 * GH;
            for (int64_t k = 0; k < T; k++) forward_step(a, &d, &s, P, h, c, Qw, WhhT, bhh, len, k, i0, i1, 0);
        }
    } else {
        for (int64_t k = 0; k < T; k++) forward_step(a, &d, &s, P, h, c, Q, WhhT, bhh, len, k, 0, N, 1);
    }
    if (s.cfin) memcpy(s.cfin, c, (size_t)(N * H) * sizeof(float));

    /* the output: y (zeros at padded steps), then h_n (and c_n) */
    float *Y = n->out.data;
    const int64_t TO = n->out.shape[1];
    int64_t row = 0;
    if (a->emit & NNC_RNN_EMIT_SEQ) {
        for (int64_t i = 0; i < N; i++)
            for (int64_t t = 0; t < T; t++) {
                float *y = Y + (i * TO + t) * H;
                if (t >= len[i]) { memset(y, 0, (size_t)H * sizeof(float)); continue; }
                /* h after step t = the state before the next step in processing order, or the final state */
                const int64_t tn = a->reverse ? t - 1 : t + 1;
                const float *src = (tn >= 0 && tn < T && (a->reverse || tn < len[i])) ? Hp + (i * T + tn) * H : h + i * H;
                memcpy(y, src, (size_t)H * sizeof(float));
            }
        row = T;
    }
    if (a->emit & NNC_RNN_EMIT_STATE) {
        for (int64_t i = 0; i < N; i++) {
            memcpy(Y + (i * TO + row) * H, h + i * H, (size_t)H * sizeof(float));
            if (a->cell == RNN_LSTM) memcpy(Y + (i * TO + row + 1) * H, c + i * H, (size_t)H * sizeof(float));
        }
    }
}

/* One backward step of rows [i0, i1): the cell's derivative into dP (and
 * dQ), then dh for the earlier step = dh2 + dQ_t W_hh. Returns with dh and
 * dh2 to be swapped by the caller. */
static void backward_step(const rnn_attrs *a, const rnn_dims *dp, const rnn_saved *sp, const float *dY, int64_t TO, float *dP,
                          float *dQ, float *dh, float *dh2, float *dc, const float *Whh, const int32_t *len, int64_t k, int64_t i0,
                          int64_t i1, int threaded) {
    const rnn_dims d = *dp;
    const rnn_saved s = *sp;
    const int64_t T = d.T, H = d.H, GH = d.G * d.H, R = i1 - i0;
    const int64_t t = time_of(a, &d, k);
#pragma omp parallel for schedule(static) if (threaded && R * GH > 32768)
    for (int64_t i = i0; i < i1; i++) {
        float *dpi = dP + (i * T + t) * GH, *dqi = dQ + (i * T + t) * GH;
        float *dhi = dh + i * H, *dh2i = dh2 + i * H;
        if (t >= len[i]) { /* padded: gradients pass through to the earlier state */
            memset(dpi, 0, (size_t)GH * sizeof(float));
            if (dqi != dpi) memset(dqi, 0, (size_t)GH * sizeof(float));
            memcpy(dh2i, dhi, (size_t)H * sizeof(float));
            continue;
        }
        if (a->emit & NNC_RNN_EMIT_SEQ) {
            const float *dy = dY + (i * TO + t) * H;
            #pragma omp simd
            for (int64_t j = 0; j < H; j++) dhi[j] += dy[j];
        }
        const float *p = s.P + (i * T + t) * GH;
        if (a->cell == RNN_TANH) {
            #pragma omp simd
            for (int64_t j = 0; j < H; j++) { dpi[j] = dhi[j] * (1.0f - p[j] * p[j]); dh2i[j] = 0; }
        } else if (a->cell == RNN_RELU) {
            #pragma omp simd
            for (int64_t j = 0; j < H; j++) { dpi[j] = p[j] > 0 ? dhi[j] : 0.0f; dh2i[j] = 0; }
        } else if (a->cell == RNN_LSTM) {
            /* c_t: the cell before the next processed step, or the final cell */
            const int64_t tn = a->reverse ? t - 1 : t + 1;
            const float *ct = (tn >= 0 && tn < T && (a->reverse || tn < len[i])) ? s.Cp + (i * T + tn) * H : s.cfin + i * H;
            const float *cp = s.Cp + (i * T + t) * H;
            float *dci = dc + i * H;
            #pragma omp simd
            for (int64_t j = 0; j < H; j++) {
                const float ig = p[j], fg = p[H + j], gg = p[2 * H + j], og = p[3 * H + j];
                const float tc = nnc_vtanhf(ct[j]);
                const float dcj = dci[j] + dhi[j] * og * (1.0f - tc * tc);
                dpi[j] = dcj * gg * ig * (1.0f - ig);
                dpi[H + j] = dcj * cp[j] * fg * (1.0f - fg);
                dpi[2 * H + j] = dcj * ig * (1.0f - gg * gg);
                dpi[3 * H + j] = dhi[j] * tc * og * (1.0f - og);
                dci[j] = dcj * fg;
                dh2i[j] = 0;
            }
        } else {
            const float *hp = s.Hp + (i * T + t) * H, *qn = s.Qn + (i * T + t) * H;
            #pragma omp simd
            for (int64_t j = 0; j < H; j++) {
                const float r = p[j], z = p[H + j], nn = p[2 * H + j];
                const float dn = dhi[j] * (1.0f - z) * (1.0f - nn * nn);
                const float dz = dhi[j] * (hp[j] - nn) * z * (1.0f - z);
                const float dr = dn * qn[j] * r * (1.0f - r);
                dpi[j] = dqi[j] = dr;
                dpi[H + j] = dqi[H + j] = dz;
                dpi[2 * H + j] = dn;
                dqi[2 * H + j] = dn * r;
                dh2i[j] = dhi[j] * z;
            }
        }
    }
    nnc_sgemm('N', 'N', R, H, GH, 1.0f, dQ + i0 * T * GH + t * GH, T * GH, Whh, H, 1.0f, dh2 + i0 * H, H);
}

static void rnn_backward(nnc_node *n, const nnc_exec *ex) {
    const rnn_attrs *a = NNC_ATTRS(n, rnn_attrs);
    const rnn_dims d = dims_of(n);
    const int64_t N = d.N, T = d.T, I = d.I, H = d.H, GH = d.G * d.H;
    rnn_saved s = saved_of(n->saved, &d, a->cell);
    const int32_t *len = s.len; /* checked by forward */

    const float *X = n->in[0]->out.data, *Wih = n->in[1]->out.data, *Whh = n->in[2]->out.data;
    const float *dY = n->grad.data;
    const int64_t TO = n->out.shape[1];
    const int64_t srow = (a->emit & NNC_RNN_EMIT_SEQ) ? T : 0; /* first state row in the output */
    float *dP = ex->ws, *dQ = a->cell == RNN_GRU ? dP + N * T * GH : dP;
    float *dh = dQ + N * T * GH, *dh2 = dh + N * H, *dc = dh2 + N * H;

    for (int64_t i = 0; i < N; i++) {
        if (a->emit & NNC_RNN_EMIT_STATE) {
            memcpy(dh + i * H, dY + (i * TO + srow) * H, (size_t)H * sizeof(float));
            if (a->cell == RNN_LSTM) memcpy(dc + i * H, dY + (i * TO + srow + 1) * H, (size_t)H * sizeof(float));
        } else {
            memset(dh + i * H, 0, (size_t)H * sizeof(float));
            if (a->cell == RNN_LSTM) memset(dc + i * H, 0, (size_t)H * sizeof(float));
        }
    }
    const int nt = omp_get_max_threads();
    if (nt > 1 && N >= 8 * nt && !omp_in_parallel()) { /* each thread its rows, as in forward */
#pragma omp parallel num_threads(nt)
        {
            const int64_t tid = omp_get_thread_num(), tn = omp_get_num_threads();
            const int64_t i0 = N * tid / tn, i1 = N * (tid + 1) / tn;
            float *a1 = dh, *a2 = dh2;
            for (int64_t k = T - 1; k >= 0; k--) {
                backward_step(a, &d, &s, dY, TO, dP, dQ, a1, a2, dc, Whh, len, k, i0, i1, 0);
                float *tmp = a1; a1 = a2; a2 = tmp;
            }
        }
        if (T % 2) { float *tmp = dh; dh = dh2; dh2 = tmp; }
    } else {
        for (int64_t k = T - 1; k >= 0; k--) {
            backward_step(a, &d, &s, dY, TO, dP, dQ, dh, dh2, dc, Whh, len, k, 0, N, 1);
            float *tmp = dh; dh = dh2; dh2 = tmp;
        }
    }
    /* dh, dc now hold the gradients of the initial states */
    if (a->h0 >= 0 && nnc_needs_grad(n->in[a->h0])) {
        float *g = n->in[a->h0]->grad.data;
        const int acc = n->accum[a->h0];
        for (int64_t e = 0; e < N * H; e++) g[e] = acc ? g[e] + dh[e] : dh[e];
    }
    if (a->c0 >= 0 && nnc_needs_grad(n->in[a->c0])) {
        float *g = n->in[a->c0]->grad.data;
        const int acc = n->accum[a->c0];
        for (int64_t e = 0; e < N * H; e++) g[e] = acc ? g[e] + dc[e] : dc[e];
    }
    if (nnc_needs_grad(n->in[0])) nnc_sgemm('N', 'N', N * T, I, GH, 1.0f, dP, GH, Wih, I, n->accum[0] ? 1.0f : 0.0f, n->in[0]->grad.data, I);
    const nnc_tensor *ids = onehot_ids(n);
    if (nnc_needs_grad(n->in[1]) && ids) { /* scatter rows of dP by id, in row order */
        float *acc = dc + N * H, *dW = n->in[1]->grad.data;
        memset(acc, 0, (size_t)(I * GH) * sizeof(float));
        for (int64_t r = 0; r < N * T; r++) {
            float *row = acc + nnc_label_at(ids, r) * GH;
            const float *src = dP + r * GH;
#pragma omp simd
            for (int64_t j = 0; j < GH; j++) row[j] += src[j];
        }
        const int accw = n->accum[1];
        for (int64_t j = 0; j < GH; j++)
            for (int64_t v = 0; v < I; v++) dW[j * I + v] = accw ? dW[j * I + v] + acc[v * GH + j] : acc[v * GH + j];
    } else if (nnc_needs_grad(n->in[1])) {
        nnc_sgemm('T', 'N', GH, I, N * T, 1.0f, dP, GH, X, I, n->accum[1] ? 1.0f : 0.0f, n->in[1]->grad.data, I);
    }
    if (nnc_needs_grad(n->in[2])) nnc_sgemm('T', 'N', GH, H, N * T, 1.0f, dQ, GH, s.Hp, H, n->accum[2] ? 1.0f : 0.0f, n->in[2]->grad.data, H);
    for (int b = 0; a->bias && b < 2; b++) {
        float *db = nnc_grad_dst(n, 3 + b);
        if (!db) continue;
        const float *src = b ? dQ : dP;
        for (int64_t r = 0; r < N * T; r++) {
            const float *row = src + r * GH;
#pragma omp simd
            for (int64_t j = 0; j < GH; j++) db[j] += row[j];
        }
    }
}

static int64_t rnn_macs(const nnc_node *n) {
    rnn_dims d = dims_of(n);
    return d.N * d.T * d.G * d.H * (d.I + d.H);
}

nnc_node *nnc_rnn(nnc_graph *g, nnc_rnn_cell cell, nnc_node *x, nnc_node *w_ih, nnc_node *w_hh, nnc_node *b_ih, nnc_node *b_hh,
                  nnc_node *lengths, nnc_node *h0, nnc_node *c0, int reverse, int emit) {
    if (!g || g->err) return NULL;
    if ((int)cell < 0 || cell > NNC_GRU) return nnc_graph_fail(g, NNC_ERR_ARG, "rnn: unknown cell kind %d", (int)cell);
    if (!(emit & (NNC_RNN_EMIT_SEQ | NNC_RNN_EMIT_STATE)) || (emit & ~(NNC_RNN_EMIT_SEQ | NNC_RNN_EMIT_STATE)))
        return nnc_graph_fail(g, NNC_ERR_ARG, "rnn: emit %d must be NNC_RNN_EMIT_SEQ, NNC_RNN_EMIT_STATE or both", emit);
    if (!b_ih != !b_hh) return nnc_graph_fail(g, NNC_ERR_ARG, "rnn: give both biases or neither");
    if (c0 && cell != NNC_LSTM) return nnc_graph_fail(g, NNC_ERR_ARG, "rnn: an initial cell state is for LSTM only");
    nnc_node *in[8];
    int k = 0;
    rnn_attrs at = {(int)cell, reverse != 0, emit, b_ih != NULL, -1, -1, -1};
    in[k++] = x;
    in[k++] = w_ih;
    in[k++] = w_hh;
    if (b_ih) { in[k++] = b_ih; in[k++] = b_hh; }
    if (lengths) { at.len = k; in[k++] = lengths; }
    if (h0) { at.h0 = k; in[k++] = h0; }
    if (c0) { at.c0 = k; in[k++] = c0; }
    return nnc_node_new(g, NNC_OP_RNN, k, in, &at, sizeof at);
}

/* ---- gradient-check cases: small sizes, every cell, both directions, masks, initial states */
static nnc_node *case_build(nnc_graph *g, nnc_rnn_cell cell, int reverse, int emit, int with_len, int with_h0, int bias) {
    const int64_t T = 4, I = 3, H = 3, G = cell == NNC_LSTM ? 4 : cell == NNC_GRU ? 3 : 1;
    nnc_node *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){T, I});
    nnc_input_requires_grad(x);
    const nnc_init u = {.kind = NNC_INIT_UNIFORM, .a = -0.6f, .b = 0.6f};
    nnc_node *wih = nnc_param(g, "weight_ih_l0", 2, (int64_t[]){G * H, I}, u);
    nnc_node *whh = nnc_param(g, "weight_hh_l0", 2, (int64_t[]){G * H, H}, u);
    /* ReLU: positive biases keep pre-activations away from the kink at 0 */
    const nnc_init ub = cell == NNC_RNN_RELU ? (nnc_init){.kind = NNC_INIT_UNIFORM, .a = 0.5f, .b = 1.0f} : u;
    nnc_node *bih = bias ? nnc_param(g, "bias_ih_l0", 1, (int64_t[]){G * H}, ub) : NULL;
    nnc_node *bhh = bias ? nnc_param(g, "bias_hh_l0", 1, (int64_t[]){G * H}, u) : NULL;
    nnc_node *len = with_len ? nnc_input(g, "len", NNC_I32, 0, NULL) : NULL;
    nnc_node *h0 = NULL, *c0 = NULL;
    if (with_h0) {
        h0 = nnc_input(g, "h0", NNC_F32, 1, (int64_t[]){H});
        nnc_input_requires_grad(h0);
        if (cell == NNC_LSTM) { c0 = nnc_input(g, "c0", NNC_F32, 1, (int64_t[]){H}); nnc_input_requires_grad(c0); }
    }
    nnc_node *y = nnc_rnn(g, cell, x, wih, whh, bih, bhh, len, h0, c0, reverse, emit);
    nnc_graph_output(g, y);
    return y;
}
/* Cases with lengths use int_range -4: the checker draws lengths from 1..4 (T = 4). */
static nnc_node *c_tanh(nnc_graph *g) { return case_build(g, NNC_RNN_TANH, 0, NNC_RNN_EMIT_SEQ, 0, 0, 1); }
static nnc_node *c_relu_rev(nnc_graph *g) { return case_build(g, NNC_RNN_RELU, 1, NNC_RNN_EMIT_SEQ | NNC_RNN_EMIT_STATE, 0, 1, 1); }
static nnc_node *c_lstm(nnc_graph *g) { return case_build(g, NNC_LSTM, 0, NNC_RNN_EMIT_SEQ | NNC_RNN_EMIT_STATE, 0, 1, 1); }
static nnc_node *c_lstm_rev_nobias(nnc_graph *g) { return case_build(g, NNC_LSTM, 1, NNC_RNN_EMIT_SEQ, 0, 0, 0); }
static nnc_node *c_gru(nnc_graph *g) { return case_build(g, NNC_GRU, 0, NNC_RNN_EMIT_SEQ | NNC_RNN_EMIT_STATE, 0, 1, 1); }
static nnc_node *c_gru_rev_state(nnc_graph *g) { return case_build(g, NNC_GRU, 1, NNC_RNN_EMIT_STATE, 0, 0, 1); }
static nnc_node *c_lstm_len(nnc_graph *g) { return case_build(g, NNC_LSTM, 0, NNC_RNN_EMIT_SEQ | NNC_RNN_EMIT_STATE, 1, 1, 1); }
static nnc_node *c_gru_len_rev(nnc_graph *g) { return case_build(g, NNC_GRU, 1, NNC_RNN_EMIT_SEQ | NNC_RNN_EMIT_STATE, 1, 1, 1); }
static nnc_node *c_tanh_len_rev(nnc_graph *g) { return case_build(g, NNC_RNN_TANH, 1, NNC_RNN_EMIT_SEQ | NNC_RNN_EMIT_STATE, 1, 0, 1); }
static const nnc_op_case cases[] = {
    {"rnn_tanh_T4", 2, 3e-3, 3e-3, 1e-4, 0, c_tanh},
    {"rnn_relu_reverse_h0_state", 2, 3e-3, 3e-3, 1e-4, 0, c_relu_rev},
    {"lstm_h0c0_state", 2, 3e-3, 3e-3, 1e-4, 0, c_lstm},
    {"lstm_reverse_nobias", 2, 3e-3, 3e-3, 1e-4, 0, c_lstm_rev_nobias},
    {"gru_h0_state", 2, 3e-3, 3e-3, 1e-4, 0, c_gru},
    {"gru_reverse_state_only", 2, 3e-3, 3e-3, 1e-4, 0, c_gru_rev_state},
    {"lstm_lengths", 3, 3e-3, 3e-3, 1e-4, -4, c_lstm_len},
    {"gru_lengths_reverse", 3, 3e-3, 3e-3, 1e-4, -4, c_gru_len_rev},
    {"rnn_tanh_lengths_reverse", 3, 3e-3, 3e-3, 1e-4, -4, c_tanh_len_rev},
};

const nnc_op_desc nnc_op_rnn = {"rnn", "one recurrent layer over a batch-first sequence, fused (RNN tanh/relu, LSTM, GRU; PyTorch gates)",
                                "cell, reverse, emit (seq|state); w_ih [G*H,I], w_hh [G*H,H], biases optional; lengths, h0, c0 optional",
                                rnn_infer, rnn_forward, rnn_backward, rnn_workspace, rnn_saved_bytes,
                                NNC_READS_ALL_IN, cases, (int)(sizeof cases / sizeof cases[0]), rnn_macs, NULL, 0, NULL};
