/* zoo.c -- models by name. Each entry says its default input and classes
 * and has a builder that maps an input node to logits using only public
 * builders; nnc_model_build adds labels and the loss. */
#include "models/zoo.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

nnc_node *nnc_zoo_mlp(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_lenet5(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_alexnet(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_alexnet_paper(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_zfnet(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_vgg11(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_vgg13(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_vgg16(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_vgg19(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_vgg11_bn(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_vgg13_bn(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_vgg16_bn(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_vgg19_bn(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_nin(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_googlenet(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_googlenet_paper(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
/* @@zoo-decl-cnn@@ */
nnc_node *nnc_zoo_lenet5_1998(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_lenet5_1998_loss(nnc_graph *g, nnc_node *labels, const nnc_model_opts *o); /* eq. 9 MAP loss */
/* @@zoo-decl-resnet@@ */
nnc_node *nnc_zoo_resnet18(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_resnet34(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_resnet50(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_resnet101(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_resnet152(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
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
nnc_node *nnc_zoo_densenet121(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_densenet169(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_densenet201(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_densenet_bc100(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_densenet_bc(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_autoencoder(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_seqmnist(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_seqmnist_gru(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_seqmnist_rnn(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_conv_autoencoder(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);

typedef struct zoo_entry {
    const char *name, *doc;
    int c, h, w, classes;
    nnc_node *(*build)(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
} zoo_entry;

static const zoo_entry zoo[] = {
    {"mlp", "multilayer perceptron 784-1024-1024-10 with ReLU (workload W2)", 1, 28, 28, 10, nnc_zoo_mlp},
    {"lenet5", "LeNet-5, modern form: conv5x5(6,pad 2) ReLU maxpool conv5x5(16) ReLU maxpool fc120 fc84 fc10 (W1)", 1, 28, 28, 10, nnc_zoo_lenet5},
    {"alexnet", "AlexNet, torchvision single tower 64-192-384-256-256, no LRN, AdaptiveAvgPool 6x6, 61,100,840 params; small inputs skip pools below 6x6", 3, 224, 224, 1000, nnc_zoo_alexnet},
    {"alexnet-paper", "AlexNet 2012: 96-256-384-384-256, LRN, two-GPU split as groups=2 (conv2,4,5), 60,965,224 params; small inputs skip pools below 6x6", 3, 224, 224, 1000, nnc_zoo_alexnet_paper},
    {"zfnet", "ZFNet (Zeiler & Fergus 2013): conv7x7/2(96) conv5x5/2(256) 384-384-256, LRN, 62,357,608 params; small inputs: stride-1 conv1/conv2", 3, 224, 224, 1000, nnc_zoo_zfnet},
    {"vgg11", "VGG-11 (config A), torchvision names and init, 132,863,336 params; small inputs skip pools below 7x7", 3, 224, 224, 1000, nnc_zoo_vgg11},
    {"vgg13", "VGG-13 (config B), torchvision names and init, 133,047,848 params; small inputs skip pools below 7x7", 3, 224, 224, 1000, nnc_zoo_vgg13},
    {"vgg16", "VGG-16 (config D), torchvision names and init, 138,357,544 params; small inputs skip pools below 7x7", 3, 224, 224, 1000, nnc_zoo_vgg16},
    {"vgg19", "VGG-19 (config E), torchvision names and init, 143,667,240 params; small inputs skip pools below 7x7", 3, 224, 224, 1000, nnc_zoo_vgg19},
    {"vgg11-bn", "VGG-11 with batch norm, torchvision names, 132,868,840 params; small inputs skip pools below 7x7", 3, 224, 224, 1000, nnc_zoo_vgg11_bn},
    {"vgg13-bn", "VGG-13 with batch norm, torchvision names, 133,053,736 params; small inputs skip pools below 7x7", 3, 224, 224, 1000, nnc_zoo_vgg13_bn},
    {"vgg16-bn", "VGG-16 with batch norm, torchvision names, 138,365,992 params; small inputs skip pools below 7x7", 3, 224, 224, 1000, nnc_zoo_vgg16_bn},
    {"vgg19-bn", "VGG-19 with batch norm, torchvision names, 143,678,248 params; small inputs skip pools below 7x7", 3, 224, 224, 1000, nnc_zoo_vgg19_bn},
    {"nin", "Network in Network (CIFAR form): 3 mlpconv blocks 192-160-96/192-192-192/192-192-classes, global avg pool, 966,986 params", 3, 32, 32, 10, nnc_zoo_nin},
    {"googlenet", "GoogLeNet, torchvision form (conv+BN, 3x3 'branch3'), 6,624,904 params; aux=1 adds aux1/aux2 heads; small inputs: stride-1 conv1, no first pool", 3, 224, 224, 1000, nnc_zoo_googlenet},
    {"googlenet-paper", "GoogLeNet 2014: 5x5 branches, no BN, LRN, 6,998,552 params; aux=1 adds the paper's heads; small inputs: stride-1 conv1, no first pool", 3, 224, 224, 1000, nnc_zoo_googlenet_paper},
    /* @@zoo-entries-cnn@@ */
    {"lenet5-1998", "LeNet-5 as in LeCun et al. 1998: A tanh(S a) squashing, trainable subsampling, C3 table, RBF output over fixed 7x12 digit bitmaps, MAP loss (eq. 9, option j=1), 60,000 params; 28x28 padded to 32x32; recipe: SGD lr 0.003", 1, 28, 28, 10, nnc_zoo_lenet5_1998},
    /* @@zoo-entries-resnet@@ */
    {"resnet18", "ResNet-18 (torchvision), BasicBlock 2-2-2-2, 11,689,512 params; stem: conv7x7/2 + maxpool, below 64x64 conv1 stride 1 and no maxpool (option stem=0/1)", 3, 224, 224, 1000, nnc_zoo_resnet18},
    {"resnet34", "ResNet-34 (torchvision), BasicBlock 3-4-6-3, 21,797,672 params; stem: conv7x7/2 + maxpool, below 64x64 conv1 stride 1 and no maxpool (option stem=0/1)", 3, 224, 224, 1000, nnc_zoo_resnet34},
    {"resnet50", "ResNet-50 (torchvision), Bottleneck v1.5 3-4-6-3, 25,557,032 params; stem: conv7x7/2 + maxpool, below 64x64 conv1 stride 1 and no maxpool (option stem=0/1)", 3, 224, 224, 1000, nnc_zoo_resnet50},
    {"resnet101", "ResNet-101 (torchvision), Bottleneck v1.5 3-4-23-3, 44,549,160 params; stem: conv7x7/2 + maxpool, below 64x64 conv1 stride 1 and no maxpool (option stem=0/1)", 3, 224, 224, 1000, nnc_zoo_resnet101},
    {"resnet152", "ResNet-152 (torchvision), Bottleneck v1.5 3-8-36-3, 60,192,808 params; stem: conv7x7/2 + maxpool, below 64x64 conv1 stride 1 and no maxpool (option stem=0/1)", 3, 224, 224, 1000, nnc_zoo_resnet152},
    {"resnet20", "CIFAR ResNet-20 (He 2016 sec. 4.2, workload W3 names); option shortcut=B (projection, default) or A (zero-padding identity)", 3, 32, 32, 10, nnc_zoo_resnet20},
    {"resnet32", "CIFAR ResNet-32 (He 2016 sec. 4.2, workload W3 names); option shortcut=B (projection, default) or A (zero-padding identity)", 3, 32, 32, 10, nnc_zoo_resnet32},
    {"resnet44", "CIFAR ResNet-44 (He 2016 sec. 4.2, workload W3 names); option shortcut=B (projection, default) or A (zero-padding identity)", 3, 32, 32, 10, nnc_zoo_resnet44},
    {"resnet56", "CIFAR ResNet-56 (He 2016 sec. 4.2, workload W3 names); option shortcut=B (projection, default) or A (zero-padding identity)", 3, 32, 32, 10, nnc_zoo_resnet56},
    {"resnet110", "CIFAR ResNet-110 (He 2016 sec. 4.2, workload W3 names); option shortcut=B (projection, default) or A (zero-padding identity)", 3, 32, 32, 10, nnc_zoo_resnet110},
    {"plain20", "CIFAR plain-20: resnet20 without shortcuts", 3, 32, 32, 10, nnc_zoo_plain20},
    {"plain32", "CIFAR plain-32: resnet32 without shortcuts", 3, 32, 32, 10, nnc_zoo_plain32},
    {"plain44", "CIFAR plain-44: resnet44 without shortcuts", 3, 32, 32, 10, nnc_zoo_plain44},
    {"plain56", "CIFAR plain-56: resnet56 without shortcuts", 3, 32, 32, 10, nnc_zoo_plain56},
    {"plain110", "CIFAR plain-110: resnet110 without shortcuts", 3, 32, 32, 10, nnc_zoo_plain110},
    {"densenet121", "DenseNet-121 (torchvision, k=32, blocks 6-12-24-16), 7,978,856 params; below 64x64 conv0 stride 1 and no pool0 (option stem=0/1)", 3, 224, 224, 1000, nnc_zoo_densenet121},
    {"densenet169", "DenseNet-169 (torchvision, k=32, blocks 6-12-32-32), 14,149,480 params; below 64x64 conv0 stride 1 and no pool0 (option stem=0/1)", 3, 224, 224, 1000, nnc_zoo_densenet169},
    {"densenet201", "DenseNet-201 (torchvision, k=32, blocks 6-12-48-32), 20,013,928 params; below 64x64 conv0 stride 1 and no pool0 (option stem=0/1)", 3, 224, 224, 1000, nnc_zoo_densenet201},
    {"densenet-bc100", "DenseNet-BC-100 for CIFAR, k=12, compression 0.5 (workload W4 names), 769,162 params", 3, 32, 32, 10, nnc_zoo_densenet_bc100},
    {"densenet-bc", "DenseNet-BC for CIFAR with options depth=6n+4 (100), growth=k (12), compression=(0.5)", 3, 32, 32, 10, nnc_zoo_densenet_bc},
    {"autoencoder", "dense autoencoder D-256-64-256-D (784 at 1x28x28), sigmoid output, MSE reconstruction loss; recipe: Adam lr 0.001", 1, 28, 28, 10, nnc_zoo_autoencoder},
    {"seqmnist", "LSTM 128 over the image rows (28 steps of 28 pixels), last step -> fc; options hidden, layers, bidir, pool=L/M/X; recipe: Adam lr 0.001", 1, 28, 28, 10, nnc_zoo_seqmnist},
    {"seqmnist-gru", "GRU 128 over the image rows, last step -> fc; options as seqmnist", 1, 28, 28, 10, nnc_zoo_seqmnist_gru},
    {"seqmnist-rnn", "tanh RNN 128 over the image rows, last step -> fc; options as seqmnist", 1, 28, 28, 10, nnc_zoo_seqmnist_rnn},
    {"conv-autoencoder", "conv encoder (conv16 pool conv8 pool) + dense sigmoid decoder, MSE reconstruction loss; recipe: Adam lr 0.001", 1, 28, 28, 10, nnc_zoo_conv_autoencoder},
};
#define N_ZOO ((int)(sizeof zoo / sizeof zoo[0]))

int nnc_zoo_count(void) { return N_ZOO; }
const char *nnc_zoo_name(int i) { return i >= 0 && i < N_ZOO ? zoo[i].name : NULL; }
const char *nnc_zoo_doc(int i) { return i >= 0 && i < N_ZOO ? zoo[i].doc : NULL; }

/* Models whose documented recipe is not the default W1 one (SGD lr 0.05). */
static const struct { const char *name; nnc_optim_kind kind; float lr; } recipes[] = {
    {"lenet5-1998", NNC_OPTIM_SGD, 0.003f}, /* the MAP loss diverges at lr 0.05 */
    {"seqmnist", NNC_OPTIM_ADAM, 1e-3f},
    {"seqmnist-gru", NNC_OPTIM_ADAM, 1e-3f},
    {"seqmnist-rnn", NNC_OPTIM_ADAM, 1e-3f},
    {"autoencoder", NNC_OPTIM_ADAM, 1e-3f}, /* sigmoid + MSE barely moves under SGD 0.05 */
    {"conv-autoencoder", NNC_OPTIM_ADAM, 1e-3f},
};

int nnc_model_recipe(const char *name, nnc_optim_kind *kind, float *lr) {
    for (size_t i = 0; name && i < sizeof recipes / sizeof recipes[0]; i++)
        if (!strcmp(name, recipes[i].name)) {
            if (kind) *kind = recipes[i].kind;
            if (lr) *lr = recipes[i].lr;
            return 1;
        }
    return 0;
}

nnc_model_opts nnc_model_defaults(void) {
    nnc_model_opts o = {0, 0, 0, 0, -1.0f, 0.0f, NULL};
    return o;
}

nnc_status nnc_model_build(const char *name, const nnc_model_opts *opts, nnc_model **out) {
    if (!name || !out) return nnc_error(NNC_ERR_ARG, "nnc_model_build: NULL argument");
    *out = NULL;
    { /* a text model file (src/models/modelfile.c) rather than a zoo name */
        size_t len = strlen(name);
        if (strchr(name, '/') || (len > 4 && strcmp(name + len - 4, ".cfg") == 0))
            return nnc_model_from_cfg(name, opts, NULL, out);
    }
    const zoo_entry *e = NULL;
    for (int i = 0; i < N_ZOO; i++)
        if (strcmp(zoo[i].name, name) == 0) e = &zoo[i];
    if (!e) {
        char known[2048] = "";
        for (int i = 0; i < N_ZOO; i++) {
            strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
            strncat(known, zoo[i].name, sizeof known - strlen(known) - 1);
        }
        return nnc_error(NNC_ERR_ARG, "unknown model '%s' (known: %s)", name, known);
    }
    nnc_model_opts o = opts ? *opts : nnc_model_defaults();
    if (o.num_classes < 0 || o.in_channels < 0 || o.height < 0 || o.width < 0)
        return nnc_error(NNC_ERR_ARG, "model '%s': negative classes, channels or input size", name);
    if (!o.num_classes) o.num_classes = e->classes;
    if (!o.in_channels) o.in_channels = e->c;
    if (!o.height) o.height = e->h;
    if (!o.width) o.width = e->w;
    nnc_model *m = calloc(1, sizeof *m);
    if (!m) return nnc_error(NNC_ERR_OOM, "out of memory");
    m->g = nnc_graph_new();
    if (!m->g) { free(m); return NNC_ERR_OOM; }
    snprintf(m->name, sizeof m->name, "%s", name);
    m->in_shape[0] = o.in_channels;
    m->in_shape[1] = o.height;
    m->in_shape[2] = o.width;
    m->num_classes = o.num_classes;
    m->norm_mean = 0;
    m->norm_std = 1;
    m->input = nnc_input(m->g, "input", NNC_F32, 3, m->in_shape);
    m->labels = nnc_input(m->g, "labels", NNC_I64, 0, NULL);
    m->logits = e->build(m->g, m->input, &o);
    if (!m->logits && !nnc_graph_status(m->g)) { /* a builder refused its options */
        char why[512]; /* nnc_last_error's buffer is the one nnc_error writes */
        snprintf(why, sizeof why, "%s", nnc_last_error());
        nnc_status s = nnc_error(NNC_ERR_ARG, "model '%s': %s", name, why);
        nnc_model_free(m);
        return s;
    }
    nnc_graph_output(m->g, m->logits);
    if (e->build == nnc_zoo_autoencoder || e->build == nnc_zoo_conv_autoencoder) { /* reconstruction of the input */
        m->loss = nnc_mse(m->g, m->logits, m->input, NNC_MEAN);
        m->num_classes = 0; /* no classifier: labels unused (no buffer); nnc_train/nnc_evaluate refuse labelled data */
    } else if (e->build == nnc_zoo_lenet5_1998) { /* the paper's MAP criterion over the RBF penalties */
        m->loss = nnc_zoo_lenet5_1998_loss(m->g, m->labels, &o);
        if (!m->loss && !nnc_graph_status(m->g)) {
            char why[512];
            snprintf(why, sizeof why, "%s", nnc_last_error());
            nnc_status s = nnc_error(NNC_ERR_ARG, "model '%s': %s", name, why);
            nnc_model_free(m);
            return s;
        }
    } else
        m->loss = nnc_cross_entropy(m->g, m->logits, m->labels, NNC_MEAN);
    nnc_graph_loss(m->g, m->loss, 1.0f);
    nnc_status s = nnc_graph_status(m->g);
    if (s) {
        s = nnc_error(s, "model '%s': %s", name, nnc_graph_error(m->g));
        nnc_model_free(m);
        return s;
    }
    *out = m;
    return NNC_OK;
}

void nnc_model_free(nnc_model *m) {
    if (!m) return;
    nnc_graph_free(m->g);
    free(m);
}

int nnc_model_option(const nnc_model_opts *opts, const char *key, double *value) {
    if (!opts || !opts->options || !key) return 0;
    size_t klen = strlen(key);
    const char *p = opts->options;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            char buf[64];
            size_t vlen = len - klen - 1;
            if (vlen == 0 || vlen >= sizeof buf) { nnc_error(NNC_ERR_ARG, "model option '%s': bad value", key); return -1; }
            memcpy(buf, p + klen + 1, vlen);
            buf[vlen] = 0;
            char *e;
            double v = strtod(buf, &e);
            if (*e) {
                /* letters: A/B style switches map to their character code */
                if (vlen == 1) v = (double)(unsigned char)buf[0];
                else { nnc_error(NNC_ERR_ARG, "model option '%s=%s': not a number", key, buf); return -1; }
            }
            if (value) *value = v;
            return 1;
        }
        p += len + (end ? 1 : 0);
    }
    return 0;
}

int nnc_model_options_only(const nnc_model_opts *o, const char *const *allowed) {
    if (!o || !o->options) return 1;
    const char *p = o->options;
    while (*p) {
        const char *eq = strchr(p, '='), *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        if (!eq || eq > end) { nnc_error(NNC_ERR_ARG, "model options: '%.*s' is not key=value", (int)(end - p), p); return 0; }
        int ok = 0;
        for (int i = 0; allowed && allowed[i]; i++)
            if ((size_t)(eq - p) == strlen(allowed[i]) && strncmp(p, allowed[i], (size_t)(eq - p)) == 0) ok = 1;
        if (!ok) {
            char list[256] = "";
            for (int i = 0; allowed && allowed[i]; i++) {
                strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
                strncat(list, allowed[i], sizeof list - strlen(list) - 1);
            }
            nnc_error(NNC_ERR_ARG, "model option '%.*s' is unknown here (known: %s)", (int)(eq - p), p, list[0] ? list : "none");
            return 0;
        }
        p = *end ? end + 1 : end;
    }
    return 1;
}

int64_t nnc_model_width(const nnc_model_opts *o, int64_t c) {
    double m = o && o->width_mult > 0 ? o->width_mult : 1.0;
    int64_t r = (int64_t)(c * m + 0.5);
    return r < 1 ? 1 : r;
}
