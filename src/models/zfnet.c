/* zfnet.c -- ZFNet (Zeiler & Fergus 2013, "Visualizing and Understanding
 * Convolutional Networks", Fig. 3), single tower:
 *   features.0  conv 7x7/2 (96, pad 1) ReLU maxpool 3/2 (ceil) LRN    224 -> 110 -> 55
 *   features.4  conv 5x5/2 (256)       ReLU maxpool 3/2 (ceil) LRN    55 -> 26 -> 13
 *   features.8  conv 3x3 (384, pad 1) ReLU
 *   features.10 conv 3x3 (384, pad 1) ReLU
 *   features.12 conv 3x3 (256, pad 1) ReLU maxpool 3/2               13 -> 6
 *   classifier: Dropout, .1 Linear(9216, 4096), ReLU, Dropout, .4 Linear(4096, 4096), ReLU, .6 Linear(4096, classes)
 * The paper's "contrast normalization across feature maps" is nnc_lrn with
 * AlexNet's constants (size 5, alpha 1e-4, beta 0.75, k 2, paper form).
 * Module indices count ReLU, pool and LRN modules (features.1 ReLU, .2 pool,
 * .3 LRN ...). 62,357,608 parameters at 3x224x224 and 1000 classes
 * (conv 3,726,464 + fc 58,631,144). Initialization as the paper: weights
 * N(0, 0.01), biases 0.
 *
 * Small inputs (min(H, W) < 64): conv1 and conv2 use stride 1 with "same"
 * padding (3 and 2), and a max pooling is skipped when its output would be
 * smaller than 6x6; the first linear layer takes 256*H*W of the remaining
 * map (32x32: 8x8 -> 16384 inputs; 28x28: 7x7). width_mult scales the conv
 * channels; dropout defaults to 0.5. */
#include "models/cnn_common.h"

nnc_node *nnc_zoo_zfnet(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_zfnet(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) {
    static const char *const no_options[] = {NULL};
    if (!nnc_model_options_only(o, no_options)) return NULL;
    const nnc_init w = {NNC_INIT_NORMAL, 0.0f, 0.01f}, b0 = {NNC_INIT_ZEROS, 0, 0};
    int small = o->height < 64 || o->width < 64;
    nnc_node *h = cnn_relu(g, cnn_conv(g, x, "features.0", nnc_model_width(o, 96), 7, small ? 1 : 2, small ? 3 : 1, 1, 1, &w, &b0));
    h = cnn_maxpool(g, h, 3, 2, 0, 1, 6);
    if (h) h = nnc_lrn(g, h, 5, 1e-4f, 0.75f, 2.0f, 1);
    h = cnn_relu(g, cnn_conv(g, h, "features.4", nnc_model_width(o, 256), 5, small ? 1 : 2, small ? 2 : 0, 1, 1, &w, &b0));
    h = cnn_maxpool(g, h, 3, 2, 0, 1, 6);
    if (h) h = nnc_lrn(g, h, 5, 1e-4f, 0.75f, 2.0f, 1);
    h = cnn_relu(g, cnn_conv(g, h, "features.8", nnc_model_width(o, 384), 3, 1, 1, 1, 1, &w, &b0));
    h = cnn_relu(g, cnn_conv(g, h, "features.10", nnc_model_width(o, 384), 3, 1, 1, 1, 1, &w, &b0));
    h = cnn_relu(g, cnn_conv(g, h, "features.12", nnc_model_width(o, 256), 3, 1, 1, 1, 1, &w, &b0));
    h = cnn_maxpool(g, h, 3, 2, 0, 0, 6);
    if (!h) return NULL;
    float p = cnn_dropout_rate(o, 0.5f);
    h = nnc_flatten(g, h);
    h = cnn_dropout(g, h, p);
    h = cnn_relu(g, cnn_linear(g, h, "classifier.1", 4096, &w, &b0));
    h = cnn_dropout(g, h, p);
    h = cnn_relu(g, cnn_linear(g, h, "classifier.4", 4096, &w, &b0));
    return cnn_linear(g, h, "classifier.6", o->num_classes, &w, &b0);
}
