/* bench_rnn.c -- workloads W6 and W6bi of shared/bench/pytorch/bench.py:
 * a character RNN (vocabulary 96, tanh RNN 256 units, T = 64, B = 32),
 * one-hot input (a pre-computed float tensor in the peer; here the ids and
 * nnc's one_hot op), fc 256 -> 96 at every step, cross-entropy over all
 * T*B predictions, full BPTT, Adam lr 2e-3, h0 = 0 every batch. W6bi: two
 * stacked bidirectional layers (layer 2 input 512, fc 512 -> 96).
 * cmd_bench.c times it like the other workloads; its unit is the token
 * (T*B per step) and its MACs are counted per token. */
#include "bench.h"

nnc_status bench_w6_net(int bidir, bench_net *n) {
    const int64_t V = 96, H = 256, T = 64, B = 32;
    *n = (bench_net){0};
    nnc_graph *g = nnc_graph_new();
    if (!g) return nnc_error(NNC_ERR_OOM, "out of memory");
    nnc_graph_set_seed(g, 0);
    nnc_node *ids = nnc_input(g, "ids", NNC_I32, 1, (int64_t[]){T});
    nnc_node *tgt = nnc_input(g, "targets", NNC_I32, 1, (int64_t[]){T});
    nnc_rnn_opts o = {.cell = NNC_RNN_TANH, .hidden = H, .layers = bidir ? 2 : 1, .bidirectional = bidir};
    nnc_rnn_out r = nnc_rnn_layer(g, nnc_one_hot(g, ids, V), "rnn", &o);
    nnc_node *logits = nnc_linear_seq_layer(g, r.y, "fc", V, 1);
    nnc_graph_loss(g, nnc_cross_entropy_seq(g, logits, tgt, NNC_MEAN, -100), 1.0f);
    nnc_optim opt = nnc_optim_adam(2e-3f, 0);
    nnc_status s = nnc_graph_status(g);
    if (!s) s = nnc_graph_set_optimizer(g, &opt);
    if (!s) s = nnc_graph_compile(g, B, 1);
    if (s) { nnc_graph_free(g); return s; }
    n->g = g;
    n->x = ids;
    n->y = tgt;
    n->x_range = n->y_range = V;
    n->units_per_sample = T;
    n->macs = bench_graph_macs(g) / T;
    bench_net_fill(n);
    return NNC_OK;
}
