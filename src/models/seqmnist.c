/* seqmnist.c -- sequence classifiers over the rows of an image (Fashion-MNIST
 * read row by row: 28 steps of 28 pixels), many-to-one:
 *   x [N, C, H, W] -> [N, T=H, C*W] -> RNN layer(s) -> pool over time -> fc
 * Zoo names: seqmnist (LSTM), seqmnist-gru, seqmnist-rnn (tanh). Options:
 *   hidden=128   units per direction
 *   layers=1     stacked layers (dropout between them: --dropout / opts->dropout)
 *   bidir=0      1: bidirectional (both directions' outputs concatenated)
 *   pool=L       L: last step, M: mean over time, X: max over time
 * Parameters: "rnn.weight_ih_l0" ... (torch.nn.LSTM names), "fc.weight",
 * "fc.bias". LSTM 128 at 1x28x28, 10 classes: 82,186. */
#include "models/zoo.h"
#include <stdio.h>

static nnc_node *seq_classifier(nnc_graph *g, nnc_node *x, const nnc_model_opts *o, nnc_rnn_cell cell) {
    static const char *const allowed[] = {"hidden", "layers", "bidir", "pool", NULL};
    if (!nnc_model_options_only(o, allowed)) return NULL;
    double hidden = 128, layers = 1, bidir = 0, pool = 'L';
    if (nnc_model_option(o, "hidden", &hidden) < 0 || nnc_model_option(o, "layers", &layers) < 0 ||
        nnc_model_option(o, "bidir", &bidir) < 0 || nnc_model_option(o, "pool", &pool) < 0)
        return NULL;
    nnc_seq_pool_mode mode;
    if (pool == 'L' || pool == 'l') mode = NNC_SEQ_LAST;
    else if (pool == 'M' || pool == 'm') mode = NNC_SEQ_MEAN;
    else if (pool == 'X' || pool == 'x') mode = NNC_SEQ_MAX;
    else {
        nnc_error(NNC_ERR_ARG, "model option pool: L (last step), M (mean over time) or X (max over time)");
        return NULL;
    }
    if (hidden < 1 || hidden > 65536 || layers < 1 || layers > 16 || (bidir != 0 && bidir != 1)) {
        nnc_error(NNC_ERR_ARG, "model options: hidden %g must be 1..65536, layers %g 1..16, bidir 0 or 1", hidden, layers);
        return NULL;
    }
    const nnc_tensor *s = nnc_node_value(x); /* [1, C, H, W] at build time */
    nnc_node *seq = nnc_reshape(g, x, 2, (int64_t[]){s->shape[2], s->shape[1] * s->shape[3]});
    nnc_rnn_opts ro = {.cell = cell, .hidden = (int64_t)hidden, .layers = (int)layers, .bidirectional = (int)bidir,
                       .dropout = o->dropout > 0 ? o->dropout : 0};
    nnc_rnn_out r = nnc_rnn_layer(g, seq, "rnn", &ro);
    nnc_node *h = r.y ? nnc_seq_pool(g, r.y, NULL, mode) : NULL;
    return nnc_linear_layer(g, h, "fc", o->num_classes, 1);
}

nnc_node *nnc_zoo_seqmnist(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_seqmnist_gru(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_seqmnist_rnn(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_seqmnist(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) { return seq_classifier(g, x, o, NNC_LSTM); }
nnc_node *nnc_zoo_seqmnist_gru(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) { return seq_classifier(g, x, o, NNC_GRU); }
nnc_node *nnc_zoo_seqmnist_rnn(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) { return seq_classifier(g, x, o, NNC_RNN_TANH); }
