/* googlenet.c -- GoogLeNet / Inception v1 (Szegedy et al. 2014).
 *
 * googlenet: torchvision's form. BasicConv2d = conv (no bias) + BatchNorm2d
 *   (eps 0.001) + ReLU, named <block>.conv.weight and <block>.bn.*:
 *   conv1 7x7/2 (64) maxpool 3/2 conv2 1x1 (64) conv3 3x3 (192) maxpool 3/2
 *   inception3a 3b maxpool 3/2 4a 4b 4c 4d 4e maxpool 2/2 5a 5b (all pools
 *   ceil_mode), global average pooling, dropout 0.2, fc.
 *   Inception block: branch1 1x1; branch2.0 1x1 reduce, branch2.1 3x3;
 *   branch3.0 1x1 reduce, branch3.1 3x3 (torchvision's known deviation: the
 *   paper has 5x5 here); branch4: maxpool 3/1 pad 1 (ceil), branch4.1 1x1.
 *   6,624,904 parameters at 3x224x224 and 1000 classes without the auxiliary
 *   heads; with "aux=1": aux1 (after 4a) and aux2 (after 4d), each pooling to
 *   4x4, conv BasicConv2d 1x1 (128), fc1 Linear(2048, 1024), ReLU, dropout 0.7,
 *   fc2 Linear(1024, classes): 13,004,888 parameters.
 *   Initialization: torchvision draws conv and linear weights from a normal
 *   truncated at +-2 with std 0.01; nnc uses N(0, 0.01) (the truncation at 200
 *   standard deviations never bites); linear biases keep PyTorch's default;
 *   BN weight 1, bias 0.
 *
 * googlenet-paper: the 2014 network (the Caffe bvlc_googlenet definition):
 *   convs with bias and ReLU, no BN; conv1 7x7/2 (64) maxpool 3/2 LRN conv2
 *   1x1 (64) conv3 3x3 (192) LRN maxpool 3/2; inception branches with real
 *   5x5 convs (pad 2) in branch3.1; maxpool 3/2 after 4e; average pooling
 *   7x7/1 (global pooling here, identical at 224), dropout 0.4, fc. LRN:
 *   size 5, alpha 1e-4 (divided by the size, Caffe's form), beta 0.75, k 1.
 *   Names as googlenet without the .conv/.bn level (conv1.weight, conv1.bias,
 *   inception3a.branch3.1.weight, fc.weight ...). 6,998,552 parameters at
 *   3x224x224 and 1000 classes without the auxiliary heads; "aux=1" adds the
 *   paper's heads (avgpool 5x5/3, conv 1x1 (128) ReLU, fc1 1024 ReLU, dropout
 *   0.7, fc2): 13,378,280 parameters. Initialization as Caffe's: "xavier"
 *   weights U(+-sqrt(3/fan_in)), biases 0.2 (fc biases 0).
 *
 * Auxiliary heads (both forms): their logits are extra graph outputs and
 * their cross-entropy losses are added with weight 0.3 (the paper's) when
 * the graph has the "labels" input of nnc_model_build. Their pooling to 4x4
 * is torchvision's adaptive pooling where the map is a multiple of 4, else an
 * average pooling of stride s = floor(H/4) and kernel H - 3s (the paper's
 * 5x5/3 at 14x14); maps smaller than 4x4 refuse aux=1.
 *
 * Small inputs (min(H, W) < 64): conv1 uses stride 1 and the first max
 * pooling is dropped (32x32: maps 32, 16, 8, 4; 28x28: 28, 14, 7, 4), and any
 * pooling whose output would be empty is skipped. width_mult scales every
 * conv channel count; dropout sets the final dropout (default 0.2 / 0.4) and
 * the auxiliary heads' (default 0.7). */
#include "models/cnn_common.h"

nnc_node *nnc_zoo_googlenet(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_googlenet_paper(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);

typedef struct gnet {
    nnc_graph *g;
    const nnc_model_opts *o;
    int paper;
    nnc_init w, b, fcw, fcb; /* paper: Caffe's fillers; torchvision: w/fcw only */
} gnet;

/* BasicConv2d (torchvision) or conv + ReLU (paper) named `name`. */
static nnc_node *basic_conv(gnet *n, nnc_node *x, const char *name, int64_t out, int k, int stride, int pad) {
    nnc_graph *g = n->g;
    if (!x) return NULL;
    out = nnc_model_width(n->o, out);
    if (n->paper) return cnn_relu(g, cnn_conv(g, x, name, out, k, stride, pad, 1, 1, &n->w, &n->b));
    nnc_scope_push(g, name);
    nnc_node *h = cnn_conv(g, x, "conv", out, k, stride, pad, 1, 0, &n->w, NULL);
    if (h) h = nnc_batchnorm_layer(g, h, "bn", 0.001f, 0.1f);
    nnc_scope_pop(g);
    return cnn_relu(g, h);
}

static nnc_node *inception(gnet *n, nnc_node *x, const char *name, int c1, int c3r, int c3, int c5r, int c5, int pp) {
    nnc_graph *g = n->g;
    if (!x) return NULL;
    nnc_scope_push(g, name);
    nnc_node *b1 = basic_conv(n, x, "branch1", c1, 1, 1, 0);
    nnc_scope_push(g, "branch2");
    nnc_node *b2 = basic_conv(n, basic_conv(n, x, "0", c3r, 1, 1, 0), "1", c3, 3, 1, 1);
    nnc_scope_pop(g);
    nnc_scope_push(g, "branch3");
    nnc_node *b3 = n->paper ? basic_conv(n, basic_conv(n, x, "0", c5r, 1, 1, 0), "1", c5, 5, 1, 2)
                            : basic_conv(n, basic_conv(n, x, "0", c5r, 1, 1, 0), "1", c5, 3, 1, 1);
    nnc_scope_pop(g);
    nnc_scope_push(g, "branch4");
    nnc_pool2d_opts po = {{3, 3}, {1, 1}, {1, 1}, 1, 1};
    nnc_node *b4 = basic_conv(n, nnc_maxpool2d(g, x, &po), "1", pp, 1, 1, 0);
    nnc_scope_pop(g);
    nnc_scope_pop(g);
    if (!b1 || !b2 || !b3 || !b4) return NULL;
    nnc_node *xs[4] = {b1, b2, b3, b4};
    nnc_node *y = nnc_concat(g, 4, xs);
    if (y) nnc_node_set_name(y, name);
    return y;
}

static nnc_node *aux_head(gnet *n, nnc_node *x, const char *name) {
    nnc_graph *g = n->g;
    if (!x) return NULL;
    int64_t H = cnn_dim(x, 2), W = cnn_dim(x, 3);
    if (H < 4 || W < 4) {
        nnc_error(NNC_ERR_SHAPE, "googlenet: aux=1 needs at least a 4x4 map before %s, got %lldx%lld (use a larger input)",
                  name, (long long)H, (long long)W);
        return NULL;
    }
    int sh = (int)(H / 4), sw = (int)(W / 4);
    nnc_pool2d_opts po = {{(int)(H - 3 * sh), (int)(W - 3 * sw)}, {sh, sw}, {0, 0}, 0, 1};
    nnc_node *h = nnc_avgpool2d(g, x, &po);
    nnc_scope_push(g, name);
    h = basic_conv(n, h, "conv", 128, 1, 1, 0);
    h = h ? nnc_flatten(g, h) : NULL;
    h = cnn_relu(g, cnn_linear(g, h, "fc1", 1024, &n->fcw, n->paper ? &n->b : NULL));
    h = cnn_dropout(g, h, cnn_dropout_rate(n->o, 0.7f));
    h = cnn_linear(g, h, "fc2", n->o->num_classes, &n->fcw, n->paper ? &n->fcb : NULL);
    nnc_scope_pop(g);
    if (!h) return NULL;
    nnc_graph_output(g, h);
    nnc_node *labels = nnc_graph_find(g, "labels");
    if (labels) nnc_graph_loss(g, nnc_cross_entropy(g, h, labels, NNC_MEAN), 0.3f);
    return h;
}

static nnc_node *googlenet(nnc_graph *g, nnc_node *x, const nnc_model_opts *o, int paper) {
    static const char *const allowed[] = {"aux", NULL};
    if (!nnc_model_options_only(o, allowed)) return NULL;
    double aux = 0;
    if (nnc_model_option(o, "aux", &aux) < 0) return NULL;
    if (aux != 0 && aux != 1) {
        nnc_error(NNC_ERR_ARG, "googlenet: option aux=%g (0 or 1)", aux);
        return NULL;
    }
    gnet n = {g, o, paper, {NNC_INIT_NORMAL, 0.0f, 0.01f}, {NNC_INIT_ZEROS, 0, 0}, {NNC_INIT_NORMAL, 0.0f, 0.01f}, {NNC_INIT_ZEROS, 0, 0}};
    if (paper) {
        n.w = (nnc_init){NNC_INIT_KAIMING_UNIFORM, 1.0f, (float)NNC_FAN_IN}; /* gain 1: Caffe's xavier */
        n.b = (nnc_init){NNC_INIT_CONST, 0.2f, 0};
        n.fcw = n.w;
    }
    int small = o->height < 64 || o->width < 64;
    nnc_node *h = basic_conv(&n, x, "conv1", 64, 7, small ? 1 : 2, 3);
    if (!small) h = cnn_maxpool(g, h, 3, 2, 0, 1, 1);
    if (paper && h) h = nnc_lrn(g, h, 5, 1e-4f, 0.75f, 1.0f, 0);
    h = basic_conv(&n, h, "conv2", 64, 1, 1, 0);
    h = basic_conv(&n, h, "conv3", 192, 3, 1, 1);
    if (paper && h) h = nnc_lrn(g, h, 5, 1e-4f, 0.75f, 1.0f, 0);
    h = cnn_maxpool(g, h, 3, 2, 0, 1, 1);
    h = inception(&n, h, "inception3a", 64, 96, 128, 16, 32, 32);
    h = inception(&n, h, "inception3b", 128, 128, 192, 32, 96, 64);
    h = cnn_maxpool(g, h, 3, 2, 0, 1, 1);
    h = inception(&n, h, "inception4a", 192, 96, 208, 16, 48, 64);
    if (aux && h && !aux_head(&n, h, "aux1")) return NULL;
    h = inception(&n, h, "inception4b", 160, 112, 224, 24, 64, 64);
    h = inception(&n, h, "inception4c", 128, 128, 256, 24, 64, 64);
    h = inception(&n, h, "inception4d", 112, 144, 288, 32, 64, 64);
    if (aux && h && !aux_head(&n, h, "aux2")) return NULL;
    h = inception(&n, h, "inception4e", 256, 160, 320, 32, 128, 128);
    h = paper ? cnn_maxpool(g, h, 3, 2, 0, 1, 1) : cnn_maxpool(g, h, 2, 2, 0, 1, 1);
    h = inception(&n, h, "inception5a", 256, 160, 320, 32, 128, 128);
    h = inception(&n, h, "inception5b", 384, 192, 384, 48, 128, 128);
    if (!h) return NULL;
    h = nnc_flatten(g, nnc_global_avgpool(g, h));
    h = cnn_dropout(g, h, cnn_dropout_rate(o, paper ? 0.4f : 0.2f));
    return cnn_linear(g, h, "fc", o->num_classes, &n.fcw, paper ? &n.fcb : NULL);
}

nnc_node *nnc_zoo_googlenet(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) { return googlenet(g, x, o, 0); }
nnc_node *nnc_zoo_googlenet_paper(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) { return googlenet(g, x, o, 1); }
