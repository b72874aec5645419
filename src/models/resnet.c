/* resnet.c -- torchvision's ResNets (He et al. 2016): resnet18/34 (BasicBlock)
 * and resnet50/101/152 (Bottleneck, torchvision "v1.5": the stride sits on
 * the 3x3 conv). Names are torchvision's: conv1.weight, bn1.*, layerL.B.conv1,
 * .bn1, ..., layerL.0.downsample.0 (conv1x1) / .1 (BN), fc.weight/.bias.
 * Trainable parameters at 3x224x224 and 1000 classes: resnet18 11,689,512;
 * resnet34 21,797,672; resnet50 25,557,032; resnet101 44,549,160;
 * resnet152 60,192,808 (the published counts).
 * Initialization as torchvision: convs kaiming_normal_(mode=fan_out,
 * nonlinearity=relu), BN weight 1 / bias 0, fc PyTorch's Linear default.
 * Stem adaptation for small inputs: when the input is smaller than 64x64
 * (e.g. 32x32 or 28x28) conv1 (still 7x7, pad 3, so the weights keep
 * torchvision's shape) uses stride 1 and the initial 3x3 max pooling is
 * skipped; options "stem=1" forces the ImageNet stem, "stem=0" the small one.
 * width_mult scales every channel count (64, 128, 256, 512 base widths);
 * dropout > 0 adds dropout before fc (torchvision has none). */
#include "models/zoo.h"
#include <stdio.h>

nnc_node *nnc_zoo_resnet18(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_resnet34(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_resnet50(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_resnet101(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_resnet152(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);

/* conv without bias, weight "<name>.weight" kaiming_normal_(fan_out, relu) */
static nnc_node *conv(nnc_graph *g, nnc_node *x, const char *name, int64_t out, int k, int stride, int pad) {
    if (!x) return NULL;
    int64_t shape[4] = {out, nnc_node_value(x)->shape[1], k, k};
    nnc_scope_push(g, name);
    nnc_node *w = nnc_param(g, "weight", 4, shape, (nnc_init){NNC_INIT_KAIMING_NORMAL, 0.0f, (float)NNC_FAN_OUT});
    nnc_scope_pop(g);
    nnc_conv2d_opts co = {{stride, stride}, {pad, pad}, {1, 1}, 1};
    nnc_node *y = nnc_conv2d(g, x, w, NULL, &co);
    if (y) nnc_node_set_name(y, name);
    return y;
}
static nnc_node *bn(nnc_graph *g, nnc_node *x, const char *name) { return nnc_batchnorm_layer(g, x, name, 1e-5f, 0.1f); }

static nnc_node *basic_block(nnc_graph *g, nnc_node *x, int64_t planes, int stride) {
    int64_t cin = x ? nnc_node_value(x)->shape[1] : 0;
    nnc_node *h = nnc_relu(g, bn(g, conv(g, x, "conv1", planes, 3, stride, 1), "bn1"));
    h = bn(g, conv(g, h, "conv2", planes, 3, 1, 1), "bn2");
    nnc_node *s = x;
    if (stride != 1 || cin != planes) {
        nnc_scope_push(g, "downsample");
        s = bn(g, conv(g, x, "0", planes, 1, stride, 0), "1");
        nnc_scope_pop(g);
    }
    return nnc_relu(g, nnc_add(g, h, s));
}

static nnc_node *bottleneck(nnc_graph *g, nnc_node *x, int64_t planes, int stride) {
    int64_t cin = x ? nnc_node_value(x)->shape[1] : 0, out = planes * 4;
    nnc_node *h = nnc_relu(g, bn(g, conv(g, x, "conv1", planes, 1, 1, 0), "bn1"));
    h = nnc_relu(g, bn(g, conv(g, h, "conv2", planes, 3, stride, 1), "bn2"));
    h = bn(g, conv(g, h, "conv3", out, 1, 1, 0), "bn3");
    nnc_node *s = x;
    if (stride != 1 || cin != out) {
        nnc_scope_push(g, "downsample");
        s = bn(g, conv(g, x, "0", out, 1, stride, 0), "1");
        nnc_scope_pop(g);
    }
    return nnc_relu(g, nnc_add(g, h, s));
}

static nnc_node *resnet(nnc_graph *g, nnc_node *x, const nnc_model_opts *o, int bottle, const int blocks[4]) {
    static const char *const allowed[] = {"stem", NULL};
    if (!nnc_model_options_only(o, allowed)) return NULL;
    double stem = -1;
    if (nnc_model_option(o, "stem", &stem) < 0) return NULL;
    if (stem != -1 && stem != 0 && stem != 1) {
        nnc_error(NNC_ERR_ARG, "model option stem=%g: 1 (ImageNet stem) or 0 (small-input stem)", stem);
        return NULL;
    }
    int small = stem < 0 ? (o->height < 64 || o->width < 64) : stem == 0;
    nnc_node *h = conv(g, x, "conv1", nnc_model_width(o, 64), 7, small ? 1 : 2, 3);
    h = nnc_relu(g, bn(g, h, "bn1"));
    if (!small) {
        nnc_pool2d_opts p = {{3, 3}, {2, 2}, {1, 1}, 0, 1};
        h = nnc_maxpool2d(g, h, &p);
    }
    for (int l = 0; l < 4; l++) {
        char name[32];
        snprintf(name, sizeof name, "layer%d", l + 1);
        nnc_scope_push(g, name);
        for (int b = 0; b < blocks[l]; b++) {
            snprintf(name, sizeof name, "%d", b);
            nnc_scope_push(g, name);
            int64_t planes = nnc_model_width(o, (int64_t)64 << l);
            int stride = l > 0 && b == 0 ? 2 : 1;
            h = bottle ? bottleneck(g, h, planes, stride) : basic_block(g, h, planes, stride);
            nnc_scope_pop(g);
        }
        nnc_scope_pop(g);
    }
    h = nnc_flatten(g, nnc_global_avgpool(g, h));
    if (o->dropout > 0) h = nnc_dropout(g, h, o->dropout);
    return nnc_linear_layer(g, h, "fc", o->num_classes, 1);
}

nnc_node *nnc_zoo_resnet18(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) {
    static const int b[4] = {2, 2, 2, 2};
    return resnet(g, x, o, 0, b);
}
nnc_node *nnc_zoo_resnet34(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) {
    static const int b[4] = {3, 4, 6, 3};
    return resnet(g, x, o, 0, b);
}
nnc_node *nnc_zoo_resnet50(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) {
    static const int b[4] = {3, 4, 6, 3};
    return resnet(g, x, o, 1, b);
}
nnc_node *nnc_zoo_resnet101(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) {
    static const int b[4] = {3, 4, 23, 3};
    return resnet(g, x, o, 1, b);
}
nnc_node *nnc_zoo_resnet152(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) {
    static const int b[4] = {3, 8, 36, 3};
    return resnet(g, x, o, 1, b);
}
