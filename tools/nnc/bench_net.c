/* bench_net.c -- the networks `nnc bench` times: zoo models by name, W7's
 * small AlexNet (below), and W5's VGG-11-BN for 32x32 exactly as bench.py's vgg11_bn (the zoo's
 * vgg11-bn is torchvision's, with conv biases, a 7x7 adaptive pool and a
 * 4096-4096 classifier): cfg 64,M,128,M,256,256,M,512,512,M,512,512,M of
 * conv3x3 (pad 1, no bias) BN ReLU, M = maxpool 2x2/2, then flatten 512 and
 * fc 512 -> 10, PyTorch's default initialization and nn.Sequential's names
 * ("0.weight", "1.running_mean", ..., "30.weight"). Inputs get one random
 * batch, reused every step, as in the peer. */
#include "bench.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bench_net_free(bench_net *n) {
    if (n->m) nnc_model_free(n->m);
    else nnc_graph_free(n->g);
    *n = (bench_net){0};
}

static void fill(nnc_node *in, int64_t range, uint64_t stream) {
    if (!in) return;
    nnc_tensor *t = nnc_node_value(in);
    if (!t->data) return; /* an input no output depends on (labels of an autoencoder) */
    int64_t cnt = nnc_tensor_numel(t);
    for (int64_t i = 0; i < cnt; i++) {
        uint64_t r = range > 0 ? nnc_rand_u64(1, stream, (uint64_t)i) % (uint64_t)range : 0;
        switch (t->dtype) {
        case NNC_F32: ((float *)t->data)[i] = range > 0 ? (float)r : nnc_rand_normal(1, stream, (uint64_t)i); break;
        case NNC_I32: ((int32_t *)t->data)[i] = (int32_t)r; break;
        case NNC_I64: ((int64_t *)t->data)[i] = (int64_t)r; break;
        default: break;
        }
    }
}

void bench_net_fill(bench_net *n) {
    fill(n->x, n->x_range, 1);
    fill(n->y, n->y_range, 2);
}

int64_t bench_graph_macs(const nnc_graph *g) {
    int k = nnc_graph_layers(g, NULL, 0);
    nnc_layer_info *rows = calloc((size_t)(k > 0 ? k : 1), sizeof *rows);
    if (!rows) return 0;
    nnc_graph_layers(g, rows, k);
    int64_t macs = 0;
    for (int i = 0; i < k; i++) macs += rows[i].macs;
    free(rows);
    return macs;
}

/* The frame W5 and W7 share: a 3x32x32 input, 10 classes, no normalization. */
static nnc_model *model_32x32(const char *name) {
    nnc_model *m = calloc(1, sizeof *m);
    if (!m || !(m->g = nnc_graph_new())) { free(m); return NULL; }
    snprintf(m->name, sizeof m->name, "%s", name);
    m->in_shape[0] = 3;
    m->in_shape[1] = m->in_shape[2] = 32;
    m->num_classes = 10;
    m->norm_std = 1;
    m->input = nnc_input(m->g, "input", NNC_F32, 3, m->in_shape);
    m->labels = nnc_input(m->g, "labels", NNC_I64, 0, NULL);
    return m;
}

/* Adds the logits' cross-entropy loss and hands m over (freed on error). */
static nnc_status model_finish(nnc_model *m, nnc_node *logits, const char *what, nnc_model **out) {
    m->logits = logits;
    nnc_graph_output(m->g, logits);
    m->loss = nnc_cross_entropy(m->g, logits, m->labels, NNC_MEAN);
    nnc_graph_loss(m->g, m->loss, 1.0f);
    nnc_status s = nnc_graph_status(m->g);
    if (s) {
        s = nnc_error(s, "%s network: %s", what, nnc_graph_error(m->g));
        nnc_model_free(m);
        return s;
    }
    *out = m;
    return NNC_OK;
}

/* W5's network as bench.py's vgg11_bn(). */
static nnc_status vgg11_bn_32(nnc_model **out) {
    static const int cfg[] = {64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0};
    nnc_model *m = model_32x32(BENCH_W5_MODEL);
    if (!m) return nnc_error(NNC_ERR_OOM, "out of memory");
    nnc_graph *g = m->g;
    nnc_node *h = m->input;
    const nnc_conv2d_opts co = {{1, 1}, {1, 1}, {1, 1}, 1};
    const nnc_pool2d_opts po = {{2, 2}, {2, 2}, {0, 0}, 0, 1};
    int idx = 0;
    char name[16];
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        if (!cfg[i]) {
            h = nnc_maxpool2d(g, h, &po);
            idx++;
            continue;
        }
        snprintf(name, sizeof name, "%d", idx++);
        h = nnc_conv2d_layer(g, h, name, cfg[i], 3, 3, &co, 0);
        snprintf(name, sizeof name, "%d", idx++);
        h = nnc_batchnorm_layer(g, h, name, 1e-5f, 0.1f);
        h = nnc_relu(g, h);
        idx++;
    }
    h = nnc_flatten(g, h);
    snprintf(name, sizeof name, "%d", idx + 1); /* idx is the Flatten */
    return model_finish(m, nnc_linear_layer(g, h, name, 10, 1), "W5", out);
}

/* W7's small AlexNet-style CNN as bench.py's alexnet_small() (nn.Sequential
 * indices as names): conv5x5 64 ReLU maxpool3/2, conv5x5 192 ReLU maxpool3/2,
 * conv3x3 384, 256, 256 (each ReLU), maxpool3/2, fc 2304->1024->1024->10. */
static nnc_status alexnet_small(nnc_model **out) {
    nnc_model *m = model_32x32(BENCH_W7_MODEL);
    if (!m) return nnc_error(NNC_ERR_OOM, "out of memory");
    nnc_graph *g = m->g;
    const nnc_pool2d_opts po = {{3, 3}, {2, 2}, {0, 0}, 0, 1};
    const nnc_conv2d_opts c5 = {{1, 1}, {2, 2}, {1, 1}, 1}, c3 = {{1, 1}, {1, 1}, {1, 1}, 1};
    nnc_node *h = nnc_relu(g, nnc_conv2d_layer(g, m->input, "0", 64, 5, 5, &c5, 1));
    h = nnc_maxpool2d(g, h, &po);
    h = nnc_maxpool2d(g, nnc_relu(g, nnc_conv2d_layer(g, h, "3", 192, 5, 5, &c5, 1)), &po);
    h = nnc_relu(g, nnc_conv2d_layer(g, h, "6", 384, 3, 3, &c3, 1));
    h = nnc_relu(g, nnc_conv2d_layer(g, h, "8", 256, 3, 3, &c3, 1));
    h = nnc_relu(g, nnc_conv2d_layer(g, h, "10", 256, 3, 3, &c3, 1));
    h = nnc_flatten(g, nnc_maxpool2d(g, h, &po));
    h = nnc_relu(g, nnc_linear_layer(g, h, "14", 1024, 1));
    h = nnc_relu(g, nnc_linear_layer(g, h, "16", 1024, 1));
    return model_finish(m, nnc_linear_layer(g, h, "18", 10, 1), "W7", out);
}

nnc_status bench_model_net(const char *model, const char *options, const nnc_optim *opt, bench_net *n) {
    *n = (bench_net){0};
    nnc_model *m = NULL;
    nnc_status s;
    if (!strcmp(model, BENCH_W5_MODEL)) s = vgg11_bn_32(&m);
    else if (!strcmp(model, BENCH_W7_MODEL)) s = alexnet_small(&m);
    else {
        nnc_model_opts o = nnc_model_defaults();
        o.options = options;
        s = nnc_model_build(model, &o, &m);
    }
    if (s) return s;
    nnc_graph_set_seed(m->g, 0);
    s = nnc_graph_set_optimizer(m->g, opt);
    if (s) { nnc_model_free(m); return s; }
    n->m = m;
    n->g = m->g;
    n->x = m->input;
    n->y = m->num_classes > 0 ? m->labels : NULL;
    n->y_range = m->num_classes;
    n->units_per_sample = 1;
    n->macs = bench_graph_macs(m->g);
    return NNC_OK;
}
