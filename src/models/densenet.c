/* densenet.c -- DenseNets (Huang et al. 2017).
 * densenet121/169/201: torchvision's form (growth 32, bn_size 4, 64 initial
 * features, blocks (6,12,24,16) / (6,12,32,32) / (6,12,48,32), compression
 * 0.5), names features.conv0, features.norm0, features.denseblockB.denselayerL
 * .norm1/.conv1/.norm2/.conv2, features.transitionT.norm/.conv,
 * features.norm5, classifier. Trainable parameters at 3x224x224 and 1000
 * classes: 7,978,856; 14,149,480; 20,013,928 (the published counts).
 * Initialization as torchvision: convs kaiming_normal_ (fan_in, relu), BN
 * 1 / 0, classifier bias 0 (weight: Linear's default).
 * Stem adaptation for small inputs: below 64x64 (e.g. 32x32, 28x28) conv0
 * (still 7x7, pad 3) uses stride 1 and pool0 is skipped; "stem=1" forces
 * the ImageNet stem, "stem=0" the small one. dropout > 0: torchvision's
 * drop_rate (dropout after each dense layer's conv2). width_mult scales the
 * growth rate and the initial features.
 *
 * densenet-bc100 and densenet-bc: DenseNet-BC for CIFAR exactly as workload
 * W4 of shared/bench/pytorch/bench.py (class DenseNetBC), names as that
 * module: features.0 (conv3x3 3->2k), features.I.bn1/.conv1/.bn2/.conv2
 * (dense layers: BN ReLU conv1x1(4k) BN ReLU conv3x3(k)), features.I.bn/.conv
 * (transitions: BN ReLU conv1x1(floor(C*compression)) avgpool 2x2), bn, fc.
 * densenet-bc takes options depth (6n+4, default 100), growth (12) and
 * compression (0.5); densenet-bc100 is depth 100, k 12: 769,162 trainable
 * parameters at 3x32x32 and 10 classes. PyTorch's default initialization
 * (as the bench module). */
#include "models/zoo.h"
#include <math.h>
#include <stdio.h>

nnc_node *nnc_zoo_densenet121(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_densenet169(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_densenet201(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_densenet_bc100(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_densenet_bc(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);

static int64_t channels(nnc_node *x) { return x ? nnc_node_value(x)->shape[1] : 0; }

/* conv without bias; kaiming: weight kaiming_normal_(fan_in, relu), else PyTorch's default */
static nnc_node *conv(nnc_graph *g, nnc_node *x, const char *name, int64_t out, int k, int stride, int pad, int kaiming) {
    nnc_conv2d_opts co = {{stride, stride}, {pad, pad}, {1, 1}, 1};
    if (!kaiming) return nnc_conv2d_layer(g, x, name, out, k, k, &co, 0);
    if (!x) return NULL;
    int64_t shape[4] = {out, channels(x), k, k};
    nnc_scope_push(g, name);
    nnc_node *w = nnc_param(g, "weight", 4, shape, (nnc_init){NNC_INIT_KAIMING_NORMAL, 0.0f, (float)NNC_FAN_IN});
    nnc_scope_pop(g);
    nnc_node *y = nnc_conv2d(g, x, w, NULL, &co);
    if (y) nnc_node_set_name(y, name);
    return y;
}
static nnc_node *bn_relu(nnc_graph *g, nnc_node *x, const char *name) {
    return nnc_relu(g, nnc_batchnorm_layer(g, x, name, 1e-5f, 0.1f));
}
static nnc_node *avgpool2(nnc_graph *g, nnc_node *x) {
    nnc_pool2d_opts p = {{2, 2}, {2, 2}, {0, 0}, 0, 1};
    return nnc_avgpool2d(g, x, &p);
}

/* one bottleneck dense layer: concat(x, conv2(relu(norm2(conv1(relu(norm1(x))))))) */
static nnc_node *dense_layer(nnc_graph *g, nnc_node *x, int64_t k, int tv, float drop) {
    nnc_node *h = conv(g, bn_relu(g, x, tv ? "norm1" : "bn1"), "conv1", 4 * k, 1, 1, 0, tv);
    h = conv(g, bn_relu(g, h, tv ? "norm2" : "bn2"), "conv2", k, 3, 1, 1, tv);
    if (drop > 0) h = nnc_dropout(g, h, drop);
    nnc_node *parts[2] = {x, h};
    return nnc_concat(g, 2, parts);
}

static nnc_node *densenet_tv(nnc_graph *g, nnc_node *x, const nnc_model_opts *o, const int blocks[4]) {
    static const char *const allowed[] = {"stem", NULL};
    if (!nnc_model_options_only(o, allowed)) return NULL;
    double stem = -1;
    if (nnc_model_option(o, "stem", &stem) < 0) return NULL;
    if (stem != -1 && stem != 0 && stem != 1) {
        nnc_error(NNC_ERR_ARG, "model option stem=%g: 1 (ImageNet stem) or 0 (small-input stem)", stem);
        return NULL;
    }
    int small = stem < 0 ? (o->height < 64 || o->width < 64) : stem == 0;
    int64_t k = nnc_model_width(o, 32);
    nnc_scope_push(g, "features");
    nnc_node *h = bn_relu(g, conv(g, x, "conv0", nnc_model_width(o, 64), 7, small ? 1 : 2, 3, 1), "norm0");
    if (!small) {
        nnc_pool2d_opts p = {{3, 3}, {2, 2}, {1, 1}, 0, 1};
        h = nnc_maxpool2d(g, h, &p);
    }
    for (int b = 0; b < 4; b++) {
        char name[32];
        snprintf(name, sizeof name, "denseblock%d", b + 1);
        nnc_scope_push(g, name);
        for (int l = 0; l < blocks[b]; l++) {
            snprintf(name, sizeof name, "denselayer%d", l + 1);
            nnc_scope_push(g, name);
            h = dense_layer(g, h, k, 1, o->dropout > 0 ? o->dropout : 0.0f);
            nnc_scope_pop(g);
        }
        nnc_scope_pop(g);
        if (b < 3) {
            snprintf(name, sizeof name, "transition%d", b + 1);
            nnc_scope_push(g, name);
            h = avgpool2(g, conv(g, bn_relu(g, h, "norm"), "conv", channels(h) / 2, 1, 1, 0, 1));
            nnc_scope_pop(g);
        }
    }
    h = bn_relu(g, h, "norm5");
    nnc_scope_pop(g);
    h = nnc_flatten(g, nnc_global_avgpool(g, h));
    h = nnc_linear_layer(g, h, "classifier", o->num_classes, 1);
    nnc_node *bias = nnc_graph_find(g, "classifier.bias");
    if (bias) nnc_param_set_init(bias, (nnc_init){NNC_INIT_ZEROS, 0.0f, 0.0f});
    return h;
}

nnc_node *nnc_zoo_densenet121(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) {
    static const int b[4] = {6, 12, 24, 16};
    return densenet_tv(g, x, o, b);
}
nnc_node *nnc_zoo_densenet169(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) {
    static const int b[4] = {6, 12, 32, 32};
    return densenet_tv(g, x, o, b);
}
nnc_node *nnc_zoo_densenet201(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) {
    static const int b[4] = {6, 12, 48, 32};
    return densenet_tv(g, x, o, b);
}

static nnc_node *densenet_bc(nnc_graph *g, nnc_node *x, const nnc_model_opts *o, int depth, double growth, double compression) {
    if (depth < 10 || (depth - 4) % 6 != 0 || depth > 1000) {
        nnc_error(NNC_ERR_ARG, "densenet-bc: depth %d must be 6n+4 with n >= 1 (e.g. 40, 100, 190)", depth);
        return NULL;
    }
    if (!(growth >= 1 && growth <= 1024 && growth == floor(growth))) {
        nnc_error(NNC_ERR_ARG, "densenet-bc: growth %g must be an integer in [1, 1024]", growth);
        return NULL;
    }
    if (!(compression > 0 && compression <= 1)) {
        nnc_error(NNC_ERR_ARG, "densenet-bc: compression %g must be in (0, 1]", compression);
        return NULL;
    }
    int n = (depth - 4) / 6;
    int64_t k = nnc_model_width(o, (int64_t)growth);
    float drop = o->dropout > 0 ? o->dropout : 0.0f;
    int idx = 0;
    char name[16];
    nnc_scope_push(g, "features");
    snprintf(name, sizeof name, "%d", idx++);
    nnc_node *h = conv(g, x, name, 2 * k, 3, 1, 1, 0);
    for (int b = 0; b < 3; b++) {
        for (int l = 0; l < n; l++) {
            snprintf(name, sizeof name, "%d", idx++);
            nnc_scope_push(g, name);
            h = dense_layer(g, h, k, 0, drop);
            nnc_scope_pop(g);
        }
        if (b < 2) {
            snprintf(name, sizeof name, "%d", idx++);
            nnc_scope_push(g, name);
            int64_t c = (int64_t)floor((double)channels(h) * compression);
            h = avgpool2(g, conv(g, bn_relu(g, h, "bn"), "conv", c < 1 ? 1 : c, 1, 1, 0, 0));
            nnc_scope_pop(g);
        }
    }
    nnc_scope_pop(g);
    h = nnc_flatten(g, nnc_global_avgpool(g, bn_relu(g, h, "bn")));
    return nnc_linear_layer(g, h, "fc", o->num_classes, 1);
}

nnc_node *nnc_zoo_densenet_bc100(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) {
    static const char *const allowed[] = {NULL};
    if (!nnc_model_options_only(o, allowed)) return NULL;
    return densenet_bc(g, x, o, 100, 12, 0.5);
}
nnc_node *nnc_zoo_densenet_bc(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) {
    static const char *const allowed[] = {"depth", "growth", "compression", NULL};
    if (!nnc_model_options_only(o, allowed)) return NULL;
    double depth = 100, growth = 12, compression = 0.5;
    if (nnc_model_option(o, "depth", &depth) < 0 || nnc_model_option(o, "growth", &growth) < 0 ||
        nnc_model_option(o, "compression", &compression) < 0)
        return NULL;
    if (!(depth == floor(depth) && depth >= 0 && depth <= 1000)) {
        nnc_error(NNC_ERR_ARG, "densenet-bc: depth %g must be 6n+4 with n >= 1", depth);
        return NULL;
    }
    return densenet_bc(g, x, o, (int)depth, growth, compression);
}
