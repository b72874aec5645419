/* nin.c -- Network in Network (Lin, Chen & Yan 2013), the CIFAR-10 model of
 * the authors' Caffe definition: three mlpconv blocks (a spatial conv then
 * two 1x1 convs, "cccp", each followed by ReLU) and global average pooling
 * instead of fully connected layers:
 *   conv1 5x5 (192, pad 2) cccp1 (160) cccp2 (96)   maxpool 3/2 (ceil) dropout
 *   conv2 5x5 (192, pad 2) cccp3 (192) cccp4 (192)  avgpool 3/2 (ceil) dropout
 *   conv3 3x3 (192, pad 1) cccp5 (192) cccp6 (classes) ReLU  global avgpool
 * (The Caffe model keeps a ReLU after cccp6 before the global pooling; so
 * does nnc.) Names are the Caffe layer names (conv1.weight, cccp1.weight ...).
 * 966,986 parameters at 3x32x32 and 10 classes (the default).
 * Initialization: He (kaiming_normal_, fan_in, ReLU gain) weights and zero
 * biases. The Caffe model uses hand-tuned Gaussians (std 0.05 / 0.01);
 * PyTorch's default uniform(+-1/sqrt(fan_in)) shrinks the signal through
 * nine ReLU layers until the final ReLU outputs zeros and nothing trains.
 * Any input of at least 7x7 builds (28x28: 14x14 then 7x7 maps; 224x224:
 * 112 then 56); no stem adaptation is needed. width_mult scales the hidden
 * channels; dropout defaults to 0.5. */
#include "models/cnn_common.h"

nnc_node *nnc_zoo_nin(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_nin(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) {
    static const char *const no_options[] = {NULL};
    if (!nnc_model_options_only(o, no_options)) return NULL;
    float p = cnn_dropout_rate(o, 0.5f);
    const nnc_init he = {NNC_INIT_KAIMING_NORMAL, 0.0f, (float)NNC_FAN_IN}, zero = {NNC_INIT_ZEROS, 0, 0};
    const nnc_init *W = &he, *B = &zero;
    nnc_node *h = cnn_relu(g, cnn_conv(g, x, "conv1", nnc_model_width(o, 192), 5, 1, 2, 1, 1, W, B));
    h = cnn_relu(g, cnn_conv(g, h, "cccp1", nnc_model_width(o, 160), 1, 1, 0, 1, 1, W, B));
    h = cnn_relu(g, cnn_conv(g, h, "cccp2", nnc_model_width(o, 96), 1, 1, 0, 1, 1, W, B));
    h = cnn_maxpool(g, h, 3, 2, 0, 1, 1);
    h = cnn_dropout(g, h, p);
    h = cnn_relu(g, cnn_conv(g, h, "conv2", nnc_model_width(o, 192), 5, 1, 2, 1, 1, W, B));
    h = cnn_relu(g, cnn_conv(g, h, "cccp3", nnc_model_width(o, 192), 1, 1, 0, 1, 1, W, B));
    h = cnn_relu(g, cnn_conv(g, h, "cccp4", nnc_model_width(o, 192), 1, 1, 0, 1, 1, W, B));
    if (h) {
        int64_t H = cnn_dim(h, 2), W = cnn_dim(h, 3);
        if (cnn_pool_out(H, 3, 2, 0, 1) >= 1 && cnn_pool_out(W, 3, 2, 0, 1) >= 1) {
            nnc_pool2d_opts ap = {{3, 3}, {2, 2}, {0, 0}, 1, 1};
            h = nnc_avgpool2d(g, h, &ap);
        }
    }
    h = cnn_dropout(g, h, p);
    h = cnn_relu(g, cnn_conv(g, h, "conv3", nnc_model_width(o, 192), 3, 1, 1, 1, 1, W, B));
    h = cnn_relu(g, cnn_conv(g, h, "cccp5", nnc_model_width(o, 192), 1, 1, 0, 1, 1, W, B));
    h = cnn_relu(g, cnn_conv(g, h, "cccp6", o->num_classes, 1, 1, 0, 1, 1, W, B));
    if (!h) return NULL;
    return nnc_flatten(g, nnc_global_avgpool(g, h));
}
