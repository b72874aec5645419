/* autoencoder.c -- autoencoders for unsupervised pre-training. Their output
 * is the reconstruction of the input, shaped [C, H, W] like it, and
 * nnc_model_build gives them the loss MSE(reconstruction, input) instead of
 * the cross-entropy. The labels input exists but is unused (compile gives it
 * no buffer) and the model's num_classes is 0: nnc_train and nnc_evaluate
 * (and so `nnc train autoencoder`, `nnc eval`) then feed no labels, report
 * losses without accuracy, and leave the inputs unnormalized (pixels in
 * [0, 1], which the sigmoid output can reproduce).
 *   autoencoder: dense D-256-64-256-D, D = C*H*W (784 at 1x28x28), as the
 *     PyTorch module encoder = Sequential(Linear(D,256), ReLU, Linear(256,64),
 *     ReLU), decoder = Sequential(Linear(64,256), ReLU, Linear(256,D), Sigmoid):
 *     names encoder.0, encoder.2, decoder.0, decoder.2; width_mult scales
 *     the hidden sizes (and the conv channels below); dropout > 0 adds dropout
 *     after the 256-wide layers. 435,536 parameters at 1x28x28.
 *   conv-autoencoder: encoder = Sequential(Conv2d(C,16,3,p1), ReLU,
 *     MaxPool2d(2), Conv2d(16,8,3,p1), ReLU, MaxPool2d(2)) -> [8, H/4, W/4]
 *     (H, W multiples of 4); nnc has no transposed convolution or upsampling
 *     op yet, so the decoder is dense: decoder = Sequential(Flatten,
 *     Linear(8*H/4*W/4, C*H*W), Sigmoid) reshaped to [C, H, W]; names
 *     encoder.0, encoder.3, decoder.1. 309,432 parameters at 1x28x28.
 * PyTorch's default initialization; the sigmoid output suits inputs in [0, 1]. */
#include "models/zoo.h"

nnc_node *nnc_zoo_autoencoder(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_conv_autoencoder(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);

nnc_node *nnc_zoo_autoencoder(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) {
    static const char *const allowed[] = {NULL};
    if (!nnc_model_options_only(o, allowed)) return NULL;
    int64_t shape[3] = {o->in_channels, o->height, o->width}, d = shape[0] * shape[1] * shape[2];
    nnc_node *h = nnc_flatten(g, x);
    nnc_scope_push(g, "encoder");
    h = nnc_relu(g, nnc_linear_layer(g, h, "0", nnc_model_width(o, 256), 1));
    if (o->dropout > 0) h = nnc_dropout(g, h, o->dropout);
    h = nnc_relu(g, nnc_linear_layer(g, h, "2", nnc_model_width(o, 64), 1));
    nnc_scope_pop(g);
    nnc_scope_push(g, "decoder");
    h = nnc_relu(g, nnc_linear_layer(g, h, "0", nnc_model_width(o, 256), 1));
    if (o->dropout > 0) h = nnc_dropout(g, h, o->dropout);
    h = nnc_sigmoid(g, nnc_linear_layer(g, h, "2", d, 1));
    nnc_scope_pop(g);
    return nnc_reshape(g, h, 3, shape);
}

nnc_node *nnc_zoo_conv_autoencoder(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) {
    static const char *const allowed[] = {NULL};
    if (!nnc_model_options_only(o, allowed)) return NULL;
    if (o->height % 4 || o->width % 4) {
        nnc_error(NNC_ERR_ARG, "conv-autoencoder: input %dx%d must be a multiple of 4", o->height, o->width);
        return NULL;
    }
    int64_t shape[3] = {o->in_channels, o->height, o->width}, d = shape[0] * shape[1] * shape[2];
    nnc_conv2d_opts co = {{1, 1}, {1, 1}, {1, 1}, 1};
    nnc_pool2d_opts p = {{2, 2}, {2, 2}, {0, 0}, 0, 1};
    nnc_scope_push(g, "encoder");
    nnc_node *h = nnc_maxpool2d(g, nnc_relu(g, nnc_conv2d_layer(g, x, "0", nnc_model_width(o, 16), 3, 3, &co, 1)), &p);
    h = nnc_maxpool2d(g, nnc_relu(g, nnc_conv2d_layer(g, h, "3", nnc_model_width(o, 8), 3, 3, &co, 1)), &p);
    nnc_scope_pop(g);
    nnc_scope_push(g, "decoder");
    h = nnc_sigmoid(g, nnc_linear_layer(g, nnc_flatten(g, h), "1", d, 1));
    nnc_scope_pop(g);
    return nnc_reshape(g, h, 3, shape);
}
