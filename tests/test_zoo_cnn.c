/* test_zoo_cnn.c -- the classic CNNs of the zoo: alexnet, alexnet-paper,
 * zfnet, vgg11..19 (-bn), nin, googlenet, googlenet-paper. Parameter counts
 * at the published configuration, torchvision names and shapes (the full
 * lists were compared against hand-written torchvision modules under
 * PyTorch 1.13), builds at 32x32 and 28x28, forward passes and a few SGD
 * steps on small inputs. */
#include "testlib.h"
#include <stdlib.h>
#include <string.h>

static nnc_model *build(const char *name, int c, int h, int w, int classes, float width, const char *options) {
    nnc_model_opts o = nnc_model_defaults();
    o.in_channels = c;
    o.height = h;
    o.width = w;
    o.num_classes = classes;
    o.width_mult = width;
    o.options = options;
    nnc_model *m = NULL;
    nnc_status s = nnc_model_build(name, &o, &m);
    T_CHECKF(s == NNC_OK && m, "build %s %dx%dx%d: %s", name, c, h, w, nnc_last_error());
    return s == NNC_OK ? m : NULL;
}

/* a parameter or state with this name and shape exists */
static int has(nnc_model *m, const char *name, int ndim, const int64_t *shape) {
    nnc_node *p = nnc_graph_find(m->g, name);
    if (!p) return 0;
    nnc_tensor *t = nnc_node_value(p);
    if (t->ndim != ndim) return 0;
    for (int i = 0; i < ndim; i++)
        if (t->shape[i] != shape[i]) return 0;
    return 1;
}
#define HAS(mm, nm, ...)                                                                                       \
    T_CHECKF(has(mm, nm, (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__}), \
             "%s lacks %s", (mm)->name, nm)
#define HAS0(mm, nm) T_CHECKF(has(mm, nm, 0, NULL), "%s lacks %s", (mm)->name, nm)

static const struct { const char *name, *options; int64_t params; } published[] = {
    {"alexnet", NULL, 61100840},        {"alexnet-paper", NULL, 60965224},  {"zfnet", NULL, 62357608},
    {"vgg11", NULL, 132863336},         {"vgg13", NULL, 133047848},         {"vgg16", NULL, 138357544},
    {"vgg19", NULL, 143667240},         {"vgg11-bn", NULL, 132868840},      {"vgg13-bn", NULL, 133053736},
    {"vgg16-bn", NULL, 138365992},      {"vgg19-bn", NULL, 143678248},      {"nin", NULL, 966986},
    {"googlenet", NULL, 6624904},       {"googlenet", "aux=1", 13004888},   {"googlenet-paper", NULL, 6998552},
    {"googlenet-paper", "aux=1", 13378280},
};
#define N_PUB ((int)(sizeof published / sizeof published[0]))

static void fill_random(nnc_model *m, int64_t batch, int classes, unsigned seed) {
    nnc_tensor *x = nnc_node_value(m->input), *y = nnc_node_value(m->labels);
    int64_t n = batch * m->in_shape[0] * m->in_shape[1] * m->in_shape[2];
    for (int64_t i = 0; i < n; i++) ((float *)x->data)[i] = nnc_rand_normal(seed, 1, (uint64_t)i);
    for (int64_t i = 0; i < batch; i++) ((int64_t *)y->data)[i] = (int64_t)(i % classes);
}

/* forward at batch 2 in eval mode: finite logits [2, classes] */
static void forward_ok(const char *name, int c, int h, int w, float width, const char *options) {
    nnc_model *m = build(name, c, h, w, 10, width, options);
    if (!m) return;
    T_OK(nnc_graph_compile(m->g, 2, 0));
    fill_random(m, 2, 10, 7);
    T_OK(nnc_graph_forward(m->g));
    nnc_tensor *t = nnc_node_value(m->logits);
    T_CHECKF(t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 10, "%s: logits shape", name);
    int finite = 1;
    for (int i = 0; i < 20; i++) finite &= isfinite(((float *)t->data)[i]) != 0;
    T_CHECKF(finite, "%s: logits not finite", name);
    T_CHECKF(isfinite(nnc_graph_loss_value(m->g)), "%s: loss not finite", name);
    nnc_model_free(m);
}

/* a few SGD steps on one tiny batch lower the loss */
static void sgd_lowers_loss(const char *name, int c, int h, int w, float width, int steps, float lr) {
    nnc_model_opts o = nnc_model_defaults();
    o.in_channels = c;
    o.height = h;
    o.width = w;
    o.num_classes = 4;
    o.width_mult = width;
    o.dropout = 0; /* memorizing one batch: no noise */
    nnc_model *m = NULL;
    T_OK(nnc_model_build(name, &o, &m));
    if (!m) return;
    nnc_optim opt = nnc_optim_sgd(lr, 0.9f, 0.0f);
    T_OK(nnc_graph_set_optimizer(m->g, &opt));
    T_OK(nnc_graph_compile(m->g, 4, 1));
    fill_random(m, 4, 4, 11);
    float first = 0, last = 0;
    for (int i = 0; i < steps; i++) {
        float l = 0;
        T_OK(nnc_graph_train_step(m->g, &l));
        if (i == 0) first = l;
        last = l;
    }
    T_CHECKF(isfinite(first) && isfinite(last) && last < first * 0.9f, "%s: loss %g -> %g", name, first, last);
    nnc_model_free(m);
}

int main(void) {
    T_CASE("published parameter counts (3x224x224, 1000 classes; nin 3x32x32, 10)") {
        for (int i = 0; i < N_PUB; i++) {
            nnc_model *m = build(published[i].name, 0, 0, 0, 0, 0, published[i].options);
            if (!m) continue;
            int64_t n = nnc_graph_n_param_elems(m->g);
            T_CHECKF(n == published[i].params, "%s %s: %lld parameters, want %lld", published[i].name,
                     published[i].options ? published[i].options : "", (long long)n, (long long)published[i].params);
            if (strcmp(published[i].name, "nin") != 0) /* nin: 3x32x32, 10 classes */
                T_CHECK(m->in_shape[0] == 3 && m->in_shape[1] == 224 && m->in_shape[2] == 224 && m->num_classes == 1000);
            nnc_model_free(m);
        }
    }
    T_CASE("nin default input is 3x32x32, 10 classes") {
        nnc_model *m = build("nin", 0, 0, 0, 0, 0, NULL);
        if (m) {
            T_CHECK(m->in_shape[0] == 3 && m->in_shape[1] == 32 && m->num_classes == 10);
            HAS(m, "conv1.weight", 192, 3, 5, 5);
            HAS(m, "cccp6.weight", 10, 192, 1, 1);
            nnc_model_free(m);
        }
    }
    T_CASE("torchvision names and shapes") {
        nnc_model *m = build("alexnet", 0, 0, 0, 0, 0, NULL);
        if (m) {
            HAS(m, "features.0.weight", 64, 3, 11, 11);
            HAS(m, "features.3.bias", 192);
            HAS(m, "features.6.weight", 384, 192, 3, 3);
            HAS(m, "features.8.weight", 256, 384, 3, 3);
            HAS(m, "features.10.weight", 256, 256, 3, 3);
            HAS(m, "classifier.1.weight", 4096, 9216);
            HAS(m, "classifier.4.weight", 4096, 4096);
            HAS(m, "classifier.6.bias", 1000);
            T_CHECK(nnc_graph_n_params(m->g) == 16 && nnc_graph_n_state(m->g) == 0);
            nnc_model_free(m);
        }
        m = build("alexnet-paper", 0, 0, 0, 0, 0, NULL);
        if (m) {
            HAS(m, "features.0.weight", 96, 3, 11, 11);
            HAS(m, "features.4.weight", 256, 48, 5, 5);
            HAS(m, "features.8.weight", 384, 256, 3, 3);
            HAS(m, "features.10.weight", 384, 192, 3, 3);
            HAS(m, "features.12.weight", 256, 192, 3, 3);
            HAS(m, "classifier.1.weight", 4096, 9216);
            nnc_model_free(m);
        }
        m = build("zfnet", 0, 0, 0, 0, 0, NULL);
        if (m) {
            HAS(m, "features.0.weight", 96, 3, 7, 7);
            HAS(m, "features.4.weight", 256, 96, 5, 5);
            HAS(m, "features.12.weight", 256, 384, 3, 3);
            HAS(m, "classifier.1.weight", 4096, 9216);
            nnc_model_free(m);
        }
        m = build("vgg16", 0, 0, 0, 0, 0, NULL);
        if (m) {
            HAS(m, "features.0.weight", 64, 3, 3, 3);
            HAS(m, "features.2.weight", 64, 64, 3, 3);
            HAS(m, "features.5.weight", 128, 64, 3, 3);
            HAS(m, "features.28.weight", 512, 512, 3, 3);
            HAS(m, "classifier.0.weight", 4096, 25088);
            HAS(m, "classifier.3.weight", 4096, 4096);
            HAS(m, "classifier.6.weight", 1000, 4096);
            T_CHECK(nnc_graph_n_params(m->g) == 32);
            nnc_model_free(m);
        }
        m = build("vgg16-bn", 0, 0, 0, 0, 0, NULL);
        if (m) {
            HAS(m, "features.0.weight", 64, 3, 3, 3);
            HAS(m, "features.1.weight", 64);
            HAS(m, "features.1.running_mean", 64);
            HAS(m, "features.1.running_var", 64);
            HAS0(m, "features.1.num_batches_tracked");
            HAS(m, "features.40.weight", 512, 512, 3, 3);
            HAS(m, "features.41.running_var", 512);
            HAS(m, "classifier.0.weight", 4096, 25088);
            T_CHECK(nnc_graph_n_params(m->g) == 58 && nnc_graph_n_state(m->g) == 39);
            nnc_model_free(m);
        }
        m = build("vgg19-bn", 0, 0, 0, 0, 0, NULL);
        if (m) {
            HAS(m, "features.49.weight", 512, 512, 3, 3);
            HAS0(m, "features.50.num_batches_tracked");
            nnc_model_free(m);
        }
        m = build("googlenet", 0, 0, 0, 0, 0, "aux=1");
        if (m) {
            HAS(m, "conv1.conv.weight", 64, 3, 7, 7);
            HAS(m, "conv1.bn.running_mean", 64);
            HAS(m, "conv3.conv.weight", 192, 64, 3, 3);
            HAS(m, "inception3a.branch1.conv.weight", 64, 192, 1, 1);
            HAS(m, "inception3a.branch2.1.conv.weight", 128, 96, 3, 3);
            HAS(m, "inception3a.branch3.1.conv.weight", 32, 16, 3, 3);
            HAS0(m, "inception3a.branch4.1.bn.num_batches_tracked");
            HAS(m, "inception5b.branch4.1.conv.weight", 128, 832, 1, 1);
            HAS(m, "aux1.conv.conv.weight", 128, 512, 1, 1);
            HAS(m, "aux2.conv.bn.weight", 128);
            HAS(m, "aux2.fc1.weight", 1024, 2048);
            HAS(m, "aux2.fc2.bias", 1000);
            HAS(m, "fc.weight", 1000, 1024);
            nnc_model_free(m);
        }
        m = build("googlenet-paper", 0, 0, 0, 0, 0, NULL);
        if (m) {
            HAS(m, "conv1.weight", 64, 3, 7, 7);
            HAS(m, "conv1.bias", 64);
            HAS(m, "inception3a.branch3.1.weight", 32, 16, 5, 5);
            HAS(m, "inception4e.branch2.1.weight", 320, 160, 3, 3);
            HAS(m, "fc.weight", 1000, 1024);
            T_CHECK(nnc_graph_n_state(m->g) == 0);
            nnc_model_free(m);
        }
    }
    T_CASE("every model builds at 3x32x32 and 1x28x28 with 10 classes") {
        const char *names[] = {"alexnet", "alexnet-paper", "zfnet", "vgg11", "vgg13", "vgg16", "vgg19", "vgg11-bn", "vgg13-bn",
                               "vgg16-bn", "vgg19-bn", "nin", "googlenet", "googlenet-paper"};
        for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
            for (int s = 0; s < 2; s++) {
                nnc_model *m = build(names[i], s ? 1 : 3, s ? 28 : 32, s ? 28 : 32, 10, 0, NULL);
                if (!m) continue;
                nnc_tensor *t = nnc_node_value(m->logits);
                T_CHECKF(t->ndim == 2 && t->shape[1] == 10, "%s: logits", names[i]);
                nnc_model_free(m);
            }
        /* the classifiers keep their published input sizes */
        nnc_model *m = build("vgg16", 3, 32, 32, 10, 0, NULL);
        if (m) { HAS(m, "classifier.0.weight", 4096, 25088); nnc_model_free(m); }
        m = build("alexnet", 1, 28, 28, 10, 0, NULL);
        if (m) { HAS(m, "classifier.1.weight", 4096, 9216); HAS(m, "features.0.weight", 64, 1, 11, 11); nnc_model_free(m); }
        m = build("googlenet", 3, 32, 32, 10, 0, "aux=1");
        if (m) { HAS(m, "aux1.fc1.weight", 1024, 2048); nnc_model_free(m); }
        m = build("googlenet-paper", 1, 28, 28, 10, 0, "aux=1");
        if (m) { HAS(m, "aux2.fc1.weight", 1024, 2048); nnc_model_free(m); }
    }
    T_CASE("options are validated") {
        nnc_model_opts o = nnc_model_defaults();
        nnc_model *m = NULL;
        o.options = "aux=1";
        T_CHECK(nnc_model_build("vgg16", &o, &m) == NNC_ERR_ARG && !m);
        o.options = "aux=2";
        T_CHECK(nnc_model_build("googlenet", &o, &m) == NNC_ERR_ARG && !m);
        o.options = "depth=3";
        T_CHECK(nnc_model_build("googlenet-paper", &o, &m) == NNC_ERR_ARG && !m);
        o.options = NULL;
        o.height = o.width = 100; /* alexnet: 11x11 map, adaptive 11 -> 6 is no uniform pooling */
        T_CHECK(nnc_model_build("alexnet", &o, &m) != NNC_OK && !m);
        T_CHECK(strstr(nnc_last_error(), "alexnet") != NULL);
        o.height = o.width = 12; /* googlenet aux heads need a 4x4 map */
        o.options = "aux=1";
        T_CHECK(nnc_model_build("googlenet", &o, &m) != NNC_OK && !m);
    }
    T_CASE("forward on small inputs") {
        forward_ok("nin", 1, 28, 28, 0.25f, NULL);
        forward_ok("googlenet", 3, 32, 32, 0.25f, "aux=1");
        forward_ok("googlenet-paper", 1, 28, 28, 0.25f, NULL);
        forward_ok("alexnet-paper", 3, 32, 32, 0.25f, NULL);
    }
    T_CASE("SGD steps lower the loss") {
        sgd_lowers_loss("nin", 1, 16, 16, 0.25f, 20, 0.001f); /* the final ReLU (as the Caffe model) wants a small rate */
        sgd_lowers_loss("googlenet", 1, 16, 16, 0.125f, 8, 0.05f);
    }
    return t_finish();
}
