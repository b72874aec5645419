/* rnn_layer.c -- stacked and bidirectional recurrent layers, the builder
 * over the fused `rnn` op (one node per layer and direction), named like
 * torch.nn.RNN/LSTM/GRU's parameters so state dicts move both ways:
 *   <name>.weight_ih_l<k>[_reverse]  [G*H, in]      <name>.bias_ih_l<k>[_reverse]  [G*H]
 *   <name>.weight_hh_l<k>[_reverse]  [G*H, H]       <name>.bias_hh_l<k>[_reverse]  [G*H]
 * Layer k > 0 reads the previous layer's output (both directions
 * concatenated, [N, T, 2H]); dropout sits between layers. Initial and final
 * states are [N, layers * directions, H], row l * directions + d (PyTorch's
 * h0/h_n with the batch first). */
#include "ops/op.h"
#include <math.h>

static nnc_node *state_row(nnc_graph *g, nnc_node *s, int64_t row, int64_t H) {
    return s ? nnc_reshape(g, nnc_slice(g, s, 1, row, 1), 1, (int64_t[]){H}) : NULL;
}

nnc_rnn_out nnc_rnn_layer(nnc_graph *g, nnc_node *x, const char *name, const nnc_rnn_opts *o) {
    nnc_rnn_out r = {0};
    if (!g || g->err) return r;
    if (!name || !*name) { nnc_graph_fail(g, NNC_ERR_ARG, "rnn layer: name is empty"); return r; }
    if (!o) { nnc_graph_fail(g, NNC_ERR_ARG, "rnn layer '%s': options are NULL", name); return r; }
    if (!x) { nnc_graph_fail(g, NNC_ERR_ARG, "rnn layer '%s': input is NULL", name); return r; }
    const int L = o->layers ? o->layers : 1, D = o->bidirectional ? 2 : 1;
    const int64_t H = o->hidden;
    if ((int)o->cell < 0 || o->cell > NNC_GRU) { nnc_graph_fail(g, NNC_ERR_ARG, "rnn layer '%s': unknown cell %d", name, (int)o->cell); return r; }
    if (H < 1 || H > (1 << 20)) { nnc_graph_fail(g, NNC_ERR_ARG, "rnn layer '%s': hidden size %lld must be in 1..1048576", name, (long long)H); return r; }
    if (L < 1 || L > 64) { nnc_graph_fail(g, NNC_ERR_ARG, "rnn layer '%s': %d layers, expected 1..64", name, L); return r; }
    if (!(o->dropout >= 0 && o->dropout < 1)) { nnc_graph_fail(g, NNC_ERR_ARG, "rnn layer '%s': dropout %g must be in [0, 1)", name, (double)o->dropout); return r; }
    if (o->c0 && o->cell != NNC_LSTM) { nnc_graph_fail(g, NNC_ERR_ARG, "rnn layer '%s': c0 is for LSTM only", name); return r; }
    char s1[64];
    if (x->out.ndim != 3) {
        nnc_graph_fail(g, NNC_ERR_SHAPE, "rnn layer '%s': input must be [N, T, features], got %s", name, nnc_shape_str(&x->out, s1, sizeof s1));
        return r;
    }
    const nnc_node *st[2] = {o->h0, o->c0};
    for (int i = 0; i < 2; i++)
        if (st[i] && (st[i]->out.ndim != 3 || st[i]->out.shape[1] != (int64_t)L * D || st[i]->out.shape[2] != H)) {
            nnc_graph_fail(g, NNC_ERR_SHAPE, "rnn layer '%s': %s must be [N, %d, %lld] (layers x directions, hidden), got %s", name,
                           i ? "c0" : "h0", L * D, (long long)H, nnc_shape_str(&st[i]->out, s1, sizeof s1));
            return r;
        }
    const int G = o->cell == NNC_LSTM ? 4 : o->cell == NNC_GRU ? 3 : 1;
    const int S = o->cell == NNC_LSTM ? 2 : 1;
    const float k = 1.0f / sqrtf((float)H);
    const nnc_init u = {.kind = NNC_INIT_UNIFORM, .a = -k, .b = k};
    const int emit = NNC_RNN_EMIT_SEQ | (o->want_state ? NNC_RNN_EMIT_STATE : 0);
    nnc_node *hs[128], *cs[128];
    nnc_node *in = x;
    nnc_scope_push(g, name);
    for (int l = 0; l < L && !g->err; l++) {
        nnc_node *ys[2];
        const int64_t T = in->out.shape[1];
        for (int dir = 0; dir < D && !g->err; dir++) {
            char pn[64];
            const char *suf = dir ? "_reverse" : "";
            snprintf(pn, sizeof pn, "weight_ih_l%d%s", l, suf);
            nnc_node *wih = nnc_param(g, pn, 2, (int64_t[]){G * H, in->out.shape[2]}, u);
            snprintf(pn, sizeof pn, "weight_hh_l%d%s", l, suf);
            nnc_node *whh = nnc_param(g, pn, 2, (int64_t[]){G * H, H}, u);
            nnc_node *bih = NULL, *bhh = NULL;
            if (!o->no_bias) {
                snprintf(pn, sizeof pn, "bias_ih_l%d%s", l, suf);
                bih = nnc_param(g, pn, 1, (int64_t[]){G * H}, u);
                snprintf(pn, sizeof pn, "bias_hh_l%d%s", l, suf);
                bhh = nnc_param(g, pn, 1, (int64_t[]){G * H}, u);
            }
            const int64_t row = (int64_t)l * D + dir;
            nnc_node *h0 = state_row(g, o->h0, row, H), *c0 = state_row(g, o->c0, row, H);
            nnc_node *out = nnc_rnn(g, o->cell, in, wih, whh, bih, bhh, o->lengths, h0, c0, dir, emit);
            if (!out) break;
            snprintf(pn, sizeof pn, "%s.l%d%s", name, l, suf);
            nnc_node_set_name(out, pn);
            if (o->want_state) {
                ys[dir] = nnc_slice(g, out, 1, 0, T);
                hs[row] = nnc_slice(g, out, 1, T, 1);
                if (S == 2) cs[row] = nnc_slice(g, out, 1, T + 1, 1);
            } else {
                ys[dir] = out;
            }
        }
        if (g->err) break;
        in = D == 2 ? nnc_concat_axis(g, 2, ys, 2) : ys[0];
        if (l + 1 < L && o->dropout > 0) in = nnc_dropout(g, in, o->dropout);
    }
    nnc_scope_pop(g);
    if (g->err) return r;
    r.y = in;
    if (o->want_state) {
        r.h_n = L * D == 1 ? hs[0] : nnc_concat(g, L * D, hs);
        if (S == 2) r.c_n = L * D == 1 ? cs[0] : nnc_concat(g, L * D, cs);
    }
    if (g->err) memset(&r, 0, sizeof r);
    return r;
}
