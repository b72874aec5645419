/* alexnet.c -- AlexNet (Krizhevsky, Sutskever & Hinton 2012).
 *
 * alexnet: torchvision's single-tower form (no LRN), torchvision's names:
 *   features.0  conv 11x11/4 (64, pad 2) ReLU maxpool 3/2
 *   features.3  conv 5x5 (192, pad 2)    ReLU maxpool 3/2
 *   features.6  conv 3x3 (384, pad 1) ReLU   features.8  conv 3x3 (256) ReLU
 *   features.10 conv 3x3 (256) ReLU maxpool 3/2
 *   avgpool: AdaptiveAvgPool2d((6, 6))
 *   classifier: Dropout, .1 Linear(9216, 4096), ReLU, Dropout, .4 Linear(4096, 4096), ReLU, .6 Linear(4096, classes)
 *   61,100,840 parameters at 3x224x224 and 1000 classes; PyTorch's default
 *   initialization (torchvision sets none).
 *
 * alexnet-paper: the 2012 paper's network, 96-256-384-384-256, ReLU then
 *   local response normalization (size 5, alpha 1e-4 as the paper writes it,
 *   i.e. not divided by the size, beta 0.75, k 2) then overlapping max pooling
 *   after conv1 and conv2; the two-GPU split as groups=2 in conv2, conv4 and
 *   conv5 (conv3 and the fully connected layers see both halves):
 *   features.0 conv 11x11/4 (96, pad 2), .1 ReLU, .2 LRN, .3 maxpool,
 *   features.4 conv 5x5 (256, pad 2, groups 2), .5 ReLU, .6 LRN, .7 maxpool,
 *   features.8 conv 3x3 (384), features.10 conv 3x3 (384, groups 2),
 *   features.12 conv 3x3 (256, groups 2), .14 maxpool; classifier as alexnet
 *   but flattening the last map directly (the paper has no adaptive pooling).
 *   60,965,224 parameters at 3x224x224 (pad 2 makes 224 act like the
 *   paper's 227) and 1000 classes. Paper initialization: weights N(0, 0.01),
 *   biases 1 in conv2, conv4, conv5 and the hidden fully connected layers,
 *   0 elsewhere.
 *
 * Small inputs (both): a max pooling is skipped when its output would be
 * smaller than 6x6 (the classifier's map). At 32x32 conv1 gives 7x7 and all
 * pools are skipped (alexnet: the adaptive pooling 7 -> 6 is avgpool 2/1);
 * at 28x28 conv1 gives 6x6. alexnet's adaptive pooling is implemented where
 * it is a uniform window (maps 6, 7, 6k, ...); alexnet-paper's first linear
 * layer takes 256*H*W of whatever map remains. width_mult scales the conv
 * channels; dropout defaults to 0.5. */
#include "models/cnn_common.h"

nnc_node *nnc_zoo_alexnet(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_alexnet_paper(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);

static const char *const no_options[] = {NULL};

static nnc_node *alexnet_classifier(nnc_graph *g, nnc_node *h, const nnc_model_opts *o, const nnc_init *wi,
                                    const nnc_init *b_hidden, const nnc_init *b_out) {
    float p = cnn_dropout_rate(o, 0.5f);
    h = nnc_flatten(g, h);
    h = cnn_dropout(g, h, p);
    h = cnn_relu(g, cnn_linear(g, h, "classifier.1", 4096, wi, b_hidden));
    h = cnn_dropout(g, h, p);
    h = cnn_relu(g, cnn_linear(g, h, "classifier.4", 4096, wi, b_hidden));
    return cnn_linear(g, h, "classifier.6", o->num_classes, wi, b_out);
}

nnc_node *nnc_zoo_alexnet(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) {
    if (!nnc_model_options_only(o, no_options)) return NULL;
    nnc_node *h = cnn_relu(g, cnn_conv(g, x, "features.0", nnc_model_width(o, 64), 11, 4, 2, 1, 1, NULL, NULL));
    h = cnn_maxpool(g, h, 3, 2, 0, 0, 6);
    h = cnn_relu(g, cnn_conv(g, h, "features.3", nnc_model_width(o, 192), 5, 1, 2, 1, 1, NULL, NULL));
    h = cnn_maxpool(g, h, 3, 2, 0, 0, 6);
    h = cnn_relu(g, cnn_conv(g, h, "features.6", nnc_model_width(o, 384), 3, 1, 1, 1, 1, NULL, NULL));
    h = cnn_relu(g, cnn_conv(g, h, "features.8", nnc_model_width(o, 256), 3, 1, 1, 1, 1, NULL, NULL));
    h = cnn_relu(g, cnn_conv(g, h, "features.10", nnc_model_width(o, 256), 3, 1, 1, 1, 1, NULL, NULL));
    h = cnn_maxpool(g, h, 3, 2, 0, 0, 6);
    if (!h) return NULL;
    h = cnn_adaptive_avgpool(g, h, 6, "alexnet");
    if (!h) return NULL;
    return alexnet_classifier(g, h, o, NULL, NULL, NULL);
}

nnc_node *nnc_zoo_alexnet_paper(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) {
    if (!nnc_model_options_only(o, no_options)) return NULL;
    const nnc_init w = {NNC_INIT_NORMAL, 0.0f, 0.01f}, b0 = {NNC_INIT_ZEROS, 0, 0}, b1 = {NNC_INIT_CONST, 1.0f, 0};
    /* groups=2 needs even channel counts under width_mult */
    int64_t c2 = (nnc_model_width(o, 256) + 1) / 2 * 2, c3 = (nnc_model_width(o, 384) + 1) / 2 * 2,
            c5 = (nnc_model_width(o, 256) + 1) / 2 * 2;
    nnc_node *h = cnn_relu(g, cnn_conv(g, x, "features.0", (nnc_model_width(o, 96) + 1) / 2 * 2, 11, 4, 2, 1, 1, &w, &b0));
    if (h) h = nnc_lrn(g, h, 5, 1e-4f, 0.75f, 2.0f, 1);
    h = cnn_maxpool(g, h, 3, 2, 0, 0, 6);
    h = cnn_relu(g, cnn_conv(g, h, "features.4", c2, 5, 1, 2, 2, 1, &w, &b1));
    if (h) h = nnc_lrn(g, h, 5, 1e-4f, 0.75f, 2.0f, 1);
    h = cnn_maxpool(g, h, 3, 2, 0, 0, 6);
    h = cnn_relu(g, cnn_conv(g, h, "features.8", c3, 3, 1, 1, 1, 1, &w, &b0));
    h = cnn_relu(g, cnn_conv(g, h, "features.10", c3, 3, 1, 1, 2, 1, &w, &b1));
    h = cnn_relu(g, cnn_conv(g, h, "features.12", c5, 3, 1, 1, 2, 1, &w, &b1));
    h = cnn_maxpool(g, h, 3, 2, 0, 0, 6);
    if (!h) return NULL;
    return alexnet_classifier(g, h, o, &w, &b1, &b0);
}
