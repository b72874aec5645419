/* lenet5.c -- LeNet-5 in its modern form (workload W1 of shared/bench):
 *   conv1 5x5 (6, pad 2) ReLU maxpool 2/2 -> conv2 5x5 (16) ReLU maxpool 2/2
 *   -> flatten 400 -> fc1 120 ReLU -> fc2 84 ReLU -> fc3 classes
 * 61,706 parameters at 1x28x28 and 10 classes. Names follow the PyTorch
 * module with attributes conv1, conv2, fc1, fc2, fc3. */
#include "nnc.h"

nnc_node *nnc_zoo_lenet5(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_lenet5(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) {
    nnc_conv2d_opts c1 = {{1, 1}, {2, 2}, {1, 1}, 1}, c2 = {{1, 1}, {0, 0}, {1, 1}, 1};
    nnc_pool2d_opts p = {{2, 2}, {2, 2}, {0, 0}, 0, 1};
    nnc_node *h = nnc_relu(g, nnc_conv2d_layer(g, x, "conv1", 6, 5, 5, &c1, 1));
    h = nnc_maxpool2d(g, h, &p);
    h = nnc_relu(g, nnc_conv2d_layer(g, h, "conv2", 16, 5, 5, &c2, 1));
    h = nnc_maxpool2d(g, h, &p);
    h = nnc_flatten(g, h);
    h = nnc_relu(g, nnc_linear_layer(g, h, "fc1", 120, 1));
    if (o->dropout > 0) h = nnc_dropout(g, h, o->dropout);
    h = nnc_relu(g, nnc_linear_layer(g, h, "fc2", 84, 1));
    if (o->dropout > 0) h = nnc_dropout(g, h, o->dropout);
    return nnc_linear_layer(g, h, "fc3", o->num_classes, 1);
}
