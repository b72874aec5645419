/* resnet_cifar.c -- CIFAR ResNets of He et al. 2016, sec. 4.2 (depth 6n+2:
 * resnet20/32/44/56/110) exactly as workload W3 of shared/bench/pytorch/
 * bench.py (class ResNetCifar), and their shortcut-free twins plain20..110.
 *   conv3x3(C->16) BN ReLU; 3 stages of n BasicBlocks at 16, 32, 64 channels
 *   (the first block of stages 2 and 3 has stride 2); global average pool; fc.
 *   BasicBlock: conv3x3 BN ReLU conv3x3 BN, + shortcut, ReLU.
 * Names are the bench module's attributes, so weights move between them:
 *   conv.weight, bn.*, layers.I.conv1/.bn1/.conv2/.bn2 (I counts blocks over
 *   all stages, 0 .. 3n-1), layers.I.short.0 (conv1x1) / .short.1 (BN), fc.
 * Shortcuts where the shape changes: option B (default; "shortcut=B") is the
 * bench's projection conv1x1(stride 2) + BN; option A ("shortcut=A") is the
 * parameter-free identity of the paper: subsample by 2 (x[:, :, ::2, ::2], a
 * 1x1 max pooling with stride 2) and zero-pad the new channels at the end
 * (concat with a zero tensor made by clamping to [0, 0]; padding at the end
 * rather than on both sides of the channel axis as some PyTorch ports do).
 * plainN: the same network with no shortcut at all (no "shortcut" option).
 * Trainable parameters at 3x32x32 and 10 classes (option B / option A and
 * plainN): resnet20 272,474 / 269,722; resnet32 466,906 / 464,154;
 * resnet44 661,338 / 658,586; resnet56 855,770 / 853,018; resnet110
 * 1,730,714 / 1,727,962 (names and counts checked against the bench module).
 * Initialization: PyTorch's defaults (as the bench module). width_mult scales
 * 16/32/64; dropout > 0 adds dropout before fc. */
#include "models/zoo.h"
#include <stdio.h>

nnc_node *nnc_zoo_resnet20(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_resnet32(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_resnet44(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_resnet56(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_resnet110(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_plain20(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_plain32(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_plain44(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_plain56(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_plain110(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);

enum { SHORT_NONE, SHORT_A, SHORT_B };

static nnc_node *conv(nnc_graph *g, nnc_node *x, const char *name, int64_t out, int k, int stride, int pad) {
    nnc_conv2d_opts co = {{stride, stride}, {pad, pad}, {1, 1}, 1};
    return nnc_conv2d_layer(g, x, name, out, k, k, &co, 0);
}
static nnc_node *bn(nnc_graph *g, nnc_node *x, const char *name) { return nnc_batchnorm_layer(g, x, name, 1e-5f, 0.1f); }

static nnc_node *block(nnc_graph *g, nnc_node *x, int64_t cout, int stride, int shortcut) {
    int64_t cin = x ? nnc_node_value(x)->shape[1] : 0;
    nnc_node *h = nnc_relu(g, bn(g, conv(g, x, "conv1", cout, 3, stride, 1), "bn1"));
    h = bn(g, conv(g, h, "conv2", cout, 3, 1, 1), "bn2");
    if (shortcut == SHORT_NONE) return nnc_relu(g, h);
    nnc_node *s = x;
    if (stride != 1 || cin != cout) {
        if (shortcut == SHORT_B) {
            nnc_scope_push(g, "short");
            s = bn(g, conv(g, x, "0", cout, 1, stride, 0), "1");
            nnc_scope_pop(g);
        } else {
            if (stride != 1) {
                nnc_pool2d_opts p = {{1, 1}, {stride, stride}, {0, 0}, 0, 1};
                s = nnc_maxpool2d(g, s, &p);
            }
            if (cout > cin) {
                /* zeros shaped like s, then as many as needed to reach cout */
                nnc_node *z = nnc_hardtanh(g, s, 0.0f, 0.0f), *parts[16];
                int n = 0;
                parts[n++] = s;
                for (int64_t c = cin; c < cout && n < 16; c += cin) parts[n++] = z;
                if (cin * (n - 1) != cout - cin) {
                    nnc_error(NNC_ERR_ARG, "shortcut=A: cannot pad %lld channels to %lld", (long long)cin, (long long)cout);
                    return NULL;
                }
                s = nnc_concat(g, n, parts);
            }
        }
    }
    return nnc_relu(g, nnc_add(g, h, s));
}

static nnc_node *resnet_cifar(nnc_graph *g, nnc_node *x, const nnc_model_opts *o, int depth, int plain) {
    static const char *const allowed_res[] = {"shortcut", NULL}, *const allowed_plain[] = {NULL};
    if (!nnc_model_options_only(o, plain ? allowed_plain : allowed_res)) return NULL;
    int shortcut = plain ? SHORT_NONE : SHORT_B;
    if (!plain) {
        double v = 'B';
        if (nnc_model_option(o, "shortcut", &v) < 0) return NULL;
        if (v == 'A' || v == 'a') shortcut = SHORT_A;
        else if (v != 'B' && v != 'b') {
            nnc_error(NNC_ERR_ARG, "model option shortcut: A (zero-padding identity) or B (projection)");
            return NULL;
        }
    }
    int n = (depth - 2) / 6;
    nnc_node *h = nnc_relu(g, bn(g, conv(g, x, "conv", nnc_model_width(o, 16), 3, 1, 1), "bn"));
    nnc_scope_push(g, "layers");
    int idx = 0;
    for (int st = 0; st < 3; st++)
        for (int i = 0; i < n; i++) {
            char name[16];
            snprintf(name, sizeof name, "%d", idx++);
            nnc_scope_push(g, name);
            h = block(g, h, nnc_model_width(o, (int64_t)16 << st), st > 0 && i == 0 ? 2 : 1, shortcut);
            nnc_scope_pop(g);
            if (!h) break;
        }
    nnc_scope_pop(g);
    if (!h) return NULL;
    h = nnc_flatten(g, nnc_global_avgpool(g, h));
    if (o->dropout > 0) h = nnc_dropout(g, h, o->dropout);
    return nnc_linear_layer(g, h, "fc", o->num_classes, 1);
}

#define RES(d)                                                                                  \
    nnc_node *nnc_zoo_resnet##d(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) {          \
        return resnet_cifar(g, x, o, d, 0);                                                     \
    }                                                                                           \
    nnc_node *nnc_zoo_plain##d(nnc_graph *g, nnc_node *x, const nnc_model_opts *o) {           \
        return resnet_cifar(g, x, o, d, 1);                                                     \
    }
RES(20)
RES(32)
RES(44)
RES(56)
RES(110)
