/* mlp.c -- multilayer perceptron 784-1024-1024-10 with ReLU (workload W2).
 * Parameters: fc1, fc2, fc3 (weight, bias): 1,863,690 at 28x28x1 and 10 classes. */
#include "nnc.h"

nnc_node *nnc_zoo_mlp(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_mlp(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) {
    nnc_node *h = nnc_flatten(g, x);
    h = nnc_relu(g, nnc_linear_layer(g, h, "fc1", 1024, 1));
    if (o->dropout > 0) h = nnc_dropout(g, h, o->dropout);
    h = nnc_relu(g, nnc_linear_layer(g, h, "fc2", 1024, 1));
    if (o->dropout > 0) h = nnc_dropout(g, h, o->dropout);
    return nnc_linear_layer(g, h, "fc3", o->num_classes, 1);
}
