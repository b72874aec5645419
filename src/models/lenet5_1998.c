/* lenet5_1998.c -- LeNet-5 as in LeCun, Bottou, Bengio, Haffner, "Gradient-based
 * learning applied to document recognition" (Proc. IEEE 1998), section II:
 *
 *   input 1x28x28, zero-padded by 2 to the paper's 32x32 inside C1 (a 5x5
 *         convolution with padding 2 on 28x28 is exactly the unpadded one on
 *         the zero-padded 32x32 image; the zeros are in normalized units)
 *   C1  conv 5x5, 6 maps 28x28, squashing          c1.weight [6,1,5,5], c1.bias
 *   S2  subsampling 2x2 (average x coefficient + bias per map), squashing
 *                                                   s2.weight [6], s2.bias [6]
 *   C3  conv 5x5 over the paper's connection table (Table I), 16 maps 10x10,
 *       squashing                                   c3.weight [60,5,5], c3.bias [16]
 *   S4  subsampling 2x2 -> 16x5x5, squashing        s4.weight [16], s4.bias [16]
 *   C5  conv 5x5, 120 maps 1x1, squashing           c5.weight [120,16,5,5], c5.bias
 *   F6  linear 84, squashing                        f6.weight [84,120], f6.bias
 *   output: Euclidean RBF units y_i = sum_j (x_j - w_ij)^2 with FIXED
 *       prototypes (output.weight [classes,84], a state, not trained): the
 *       7x12 bitmaps of the digits 0-9, +1 black / -1 white
 *       (lenet5_bitmaps.c: hand-drawn after the paper's Fig. 3, not its
 *       bitmaps pixel for pixel)
 *   logits = -y (the predicted class is the one with the smallest penalty)
 *
 * Trainable parameters at 1x28x28 (or 1x32x32) and 10 classes: 156 + 12 +
 * 1,516 + 32 + 48,120 + 10,164 = 60,000, the paper's count.
 *
 * Squashing (appendix A): f(a) = A tanh(S a), A = 1.7159, S = 2/3, so
 * f(+-1) = +-1 (op scaled_tanh).
 *
 * Loss (eq. 9, the MAP criterion; op rbf_map_loss, installed by
 * nnc_model_build): E = y_D + log(exp(-j) + sum_i exp(-y_i)), averaged over
 * the batch. The paper leaves j free; we use j = 1 (model option "j=...").
 *
 * Initialization (appendix A): weights and biases of C1, C3, C5 and F6 are
 * U(-2.4/F, 2.4/F), F the fan-in of the unit (C1 25, C5 400, F6 120; C3's
 * units have fan-ins 75, 100 or 150 depending on the table row: we use the
 * mean, 60*25/16 = 93.75, since one initializer covers the packed tensor).
 * The subsampling coefficients and biases keep nnc_subsampling_layer's
 * initialization (coefficient 1, bias 0: the layer averages where the paper
 * sums, so coefficient 1 is the plain average and the squashing sees
 * well-scaled inputs).
 *
 * Training recipe: the CLI's default (SGD lr 0.05, momentum 0.9, wd 5e-4,
 * batch 64) diverges with this loss (its penalties start near 84 and their
 * gradients are O(1) per unit, the tanh units saturate and accuracy stays at
 * 10%). Its recipe (nnc_model_recipe, the CLI's default for this model) is
 * a smaller rate, keeping the rest of the default recipe:
 *   nnc train lenet5-1998 --epochs 10        (= --lr 0.003)
 * Measured (1 thread, seed 0): test accuracy 84.4% after epoch 1, 86.2% after
 * epoch 2 (>= 85% from epoch 2 on), 88.3% after 4, 89.0% after 7; --lr 0.005
 * gives 84.2, 86.2, 86.5, 86.8, 86.9, 88.3, 88.1% over epochs 1-7.
 *
 * Input sizes: H x W with 32 - H and 32 - W even and >= 0 are padded to 32x32;
 * larger inputs are used unpadded (C5's output is then larger than 1x1 and F6
 * has more weights). Classes: at most 10 (one bitmap per digit). */
#include "models/zoo.h"
#include <math.h>

extern const float nnc_lenet5_1998_prototypes[10][84];
nnc_node *nnc_scaled_tanh(nnc_graph *g, nnc_node *x, float amplitude, float slope);
nnc_node *nnc_scalar_affine(nnc_graph *g, nnc_node *x, float a, float b);
nnc_node *nnc_rbf_map_loss(nnc_graph *g, nnc_node *penalties, nnc_node *labels, float j, nnc_reduction r);

nnc_node *nnc_zoo_lenet5_1998(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_lenet5_1998_loss(nnc_graph *g, nnc_node *labels, const nnc_model_opts *o);

#define LENET98_A 1.7159f
#define LENET98_S (2.0f / 3.0f)

static nnc_node *squash(nnc_graph *g, nnc_node *h) { return nnc_scaled_tanh(g, h, LENET98_A, LENET98_S); }

static nnc_init lecun_uniform(double fan_in) {
    float b = (float)(2.4 / fan_in);
    return (nnc_init){.kind = NNC_INIT_UNIFORM, .a = -b, .b = b};
}

/* A convolution with the paper's initialization: "<name>.weight" [K,C,k,k], "<name>.bias" [K]. */
static nnc_node *conv(nnc_graph *g, nnc_node *h, const char *name, int64_t K, int k, int pad) {
    if (!h) return NULL;
    int64_t C = nnc_node_value(h)->shape[1];
    nnc_init init = lecun_uniform((double)(C * k * k));
    nnc_scope_push(g, name);
    nnc_node *w = nnc_param(g, "weight", 4, (int64_t[]){K, C, k, k}, init);
    nnc_node *b = nnc_param(g, "bias", 1, (int64_t[]){K}, init);
    nnc_scope_pop(g);
    nnc_conv2d_opts co = {{1, 1}, {pad, pad}, {1, 1}, 1};
    nnc_node *y = nnc_conv2d(g, h, w, b, &co);
    if (y) nnc_node_set_name(y, name);
    return y;
}

static int lenet98_j(const nnc_model_opts *o, float *j) {
    double v = 1.0;
    int r = nnc_model_option(o, "j", &v);
    if (r < 0) return 0;
    if (!(v > 0) || !isfinite(v)) {
        nnc_error(NNC_ERR_ARG, "lenet5-1998: option j=%g must be positive (the MAP loss constant)", v);
        return 0;
    }
    *j = (float)v;
    return 1;
}

static int pad_to_32(int64_t n) { return n <= 32 && (32 - n) % 2 == 0 ? (int)((32 - n) / 2) : 0; }

nnc_node *nnc_zoo_lenet5_1998(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) {
    static const char *const allowed[] = {"j", NULL};
    if (!nnc_model_options_only(o, allowed)) return NULL;
    float j;
    if (!lenet98_j(o, &j)) return NULL;
    if (o->num_classes > 10) {
        nnc_error(NNC_ERR_ARG, "lenet5-1998: %d classes, but the RBF prototypes are the 10 digit bitmaps (at most 10)",
                  o->num_classes);
        return NULL;
    }
    int ph = pad_to_32(o->height), pw = pad_to_32(o->width);
    if (ph != pw) {
        nnc_error(NNC_ERR_ARG, "lenet5-1998: input %dx%d: height and width must get the same padding to 32x32", o->height,
                  o->width);
        return NULL;
    }
    nnc_node *h = squash(g, conv(g, x, "c1", 6, 5, ph));
    h = squash(g, nnc_subsampling_layer(g, h, "s2", 2));
    h = nnc_conv2d_table_layer(g, h, "c3", 16, 5, 5, &nnc_lenet5_c3_table[0][0]);
    if (h) { /* the paper's initialization over the mean fan-in of the table's rows */
        int conns = 0;
        for (int k = 0; k < 16; k++)
            for (int c = 0; c < 6; c++) conns += nnc_lenet5_c3_table[k][c];
        nnc_init init = lecun_uniform(conns * 25.0 / 16.0);
        nnc_param_set_init(nnc_graph_find(g, "c3.weight"), init);
        nnc_param_set_init(nnc_graph_find(g, "c3.bias"), init);
    }
    h = squash(g, h);
    h = squash(g, nnc_subsampling_layer(g, h, "s4", 2));
    h = squash(g, conv(g, h, "c5", 120, 5, 0));
    if (h) {
        int64_t F = nnc_node_value(h)->shape[1] * nnc_node_value(h)->shape[2] * nnc_node_value(h)->shape[3];
        nnc_init init = lecun_uniform((double)F);
        nnc_scope_push(g, "f6");
        nnc_node *w = nnc_param(g, "weight", 2, (int64_t[]){84, F}, init);
        nnc_node *b = nnc_param(g, "bias", 1, (int64_t[]){84}, init);
        nnc_scope_pop(g);
        h = nnc_linear(g, h, w, b);
        if (h) nnc_node_set_name(h, "f6");
        h = squash(g, h);
    }
    nnc_node *y = nnc_rbf_layer(g, h, "output", o->num_classes, &nnc_lenet5_1998_prototypes[0][0]);
    nnc_node *logits = nnc_scalar_affine(g, y, -1.0f, 0.0f);
    if (logits) nnc_node_set_name(logits, "logits");
    return logits;
}

/* The MAP loss (eq. 9) over the RBF penalties (the node "output"). */
nnc_node *nnc_zoo_lenet5_1998_loss(nnc_graph *g, nnc_node *labels, const nnc_model_opts *o) {
    float j = 1.0f;
    if (!lenet98_j(o, &j)) return NULL;
    nnc_node *y = nnc_graph_find(g, "output");
    if (!y) {
        nnc_error(NNC_ERR_STATE, "lenet5-1998: the RBF output node is missing");
        return NULL;
    }
    return nnc_rbf_map_loss(g, y, labels, j, NNC_MEAN);
}
