/* vgg.c -- VGG (Simonyan & Zisserman 2014) in torchvision's form.
 *
 * Configurations A (vgg11), B (vgg13), D (vgg16), E (vgg19): 3x3 convs
 * (pad 1) with ReLU, 2x2/2 max pooling after each stage; -bn variants add
 * BatchNorm2d (eps 1e-5, momentum 0.1) between conv and ReLU. Names are
 * torchvision's: features.N counts conv, (bn,) ReLU and pool modules;
 * avgpool AdaptiveAvgPool2d((7, 7)); classifier.0 Linear(25088, 4096), ReLU,
 * Dropout, classifier.3 Linear(4096, 4096), ReLU, Dropout, classifier.6
 * Linear(4096, classes). Parameters at 3x224x224 and 1000 classes:
 * vgg11 132,863,336  vgg13 133,047,848  vgg16 138,357,544  vgg19 143,667,240
 * vgg11-bn 132,868,840  vgg13-bn 133,053,736  vgg16-bn 138,365,992  vgg19-bn 143,678,248.
 * Initialization as torchvision: convs kaiming_normal_(fan_out, relu), bias 0;
 * BN weight 1, bias 0; linear N(0, 0.01), bias 0.
 *
 * Small inputs: a max pooling is skipped when its output would be smaller
 * than 7x7 (the classifier's map). At 32x32 the first two pools run (8x8
 * remains; the adaptive pooling 8 -> 7 is avgpool 2/1); at 28x28 the map is
 * 7x7 after two pools. The parameter count does not change. width_mult
 * scales the conv channels; dropout defaults to 0.5. */
#include "models/cnn_common.h"

nnc_node *nnc_zoo_vgg11(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_vgg13(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_vgg16(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_vgg19(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_vgg11_bn(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_vgg13_bn(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_vgg16_bn(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_vgg19_bn(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);

/* channel counts; 0 is a max pooling ("M") */
static const int cfg_a[] = {64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0, -1};
static const int cfg_b[] = {64, 64, 0, 128, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0, -1};
static const int cfg_d[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0, -1};
static const int cfg_e[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512, 512, 0, -1};

static nnc_node *vgg(nnc_graph *g, nnc_node *x, const nnc_model_opts *o, const int *cfg, int bn) {
    static const char *const no_options[] = {NULL};
    if (!nnc_model_options_only(o, no_options)) return NULL;
    const nnc_init kw = {NNC_INIT_KAIMING_NORMAL, 0.0f, (float)NNC_FAN_OUT}, zero = {NNC_INIT_ZEROS, 0, 0},
                   lw = {NNC_INIT_NORMAL, 0.0f, 0.01f};
    nnc_node *h = x;
    int idx = 0;
    char name[32];
    for (int i = 0; cfg[i] >= 0 && h; i++) {
        if (cfg[i] == 0) {
            h = cnn_maxpool(g, h, 2, 2, 0, 0, 7);
            idx++;
            continue;
        }
        snprintf(name, sizeof name, "features.%d", idx++);
        h = cnn_conv(g, h, name, nnc_model_width(o, cfg[i]), 3, 1, 1, 1, 1, &kw, &zero);
        if (bn && h) {
            snprintf(name, sizeof name, "features.%d", idx++);
            h = nnc_batchnorm_layer(g, h, name, 1e-5f, 0.1f);
        }
        h = cnn_relu(g, h);
        idx++;
    }
    if (!h) return NULL;
    h = cnn_adaptive_avgpool(g, h, 7, "vgg");
    if (!h) return NULL;
    float p = cnn_dropout_rate(o, 0.5f);
    h = nnc_flatten(g, h);
    h = cnn_relu(g, cnn_linear(g, h, "classifier.0", 4096, &lw, &zero));
    h = cnn_dropout(g, h, p);
    h = cnn_relu(g, cnn_linear(g, h, "classifier.3", 4096, &lw, &zero));
    h = cnn_dropout(g, h, p);
    return cnn_linear(g, h, "classifier.6", o->num_classes, &lw, &zero);
}

nnc_node *nnc_zoo_vgg11(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) { return vgg(g, x, o, cfg_a, 0); }
nnc_node *nnc_zoo_vgg13(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) { return vgg(g, x, o, cfg_b, 0); }
nnc_node *nnc_zoo_vgg16(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) { return vgg(g, x, o, cfg_d, 0); }
nnc_node *nnc_zoo_vgg19(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) { return vgg(g, x, o, cfg_e, 0); }
nnc_node *nnc_zoo_vgg11_bn(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) { return vgg(g, x, o, cfg_a, 1); }
nnc_node *nnc_zoo_vgg13_bn(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) { return vgg(g, x, o, cfg_b, 1); }
nnc_node *nnc_zoo_vgg16_bn(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) { return vgg(g, x, o, cfg_d, 1); }
nnc_node *nnc_zoo_vgg19_bn(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) { return vgg(g, x, o, cfg_e, 1); }
