/* test_zoo_resnet.c -- the ResNet, CIFAR ResNet/plain, DenseNet and
 * autoencoder zoo entries: published parameter counts, torchvision / bench
 * names and shapes, builds at 32x32 and 28x28, options refused cleanly,
 * torchvision's initialization, small forward passes and a few SGD steps.
 * The complete name/shape lists and eval-mode logits with shared weights were
 * compared with PyTorch 1.13 copies of the torchvision modules and with
 * shared/bench/pytorch/bench.py by tools/zoo_ref (zoo_dump.c, torch_ref.py):
 * identical names and shapes for every model here, logits equal to float
 * rounding (resnet18/34/50/101, densenet121/169 at 64x64, resnet20 and
 * densenet-bc100 at 32x32). */
#include "testlib.h"
#include <stdlib.h>
#include <string.h>

static float build_width = 0; /* width_mult for build(); 0: 1 */
static nnc_model *build(const char *name, int classes, int c, int h, int w, const char *options) {
    nnc_model_opts o = nnc_model_defaults();
    o.width_mult = build_width;
    o.num_classes = classes;
    o.in_channels = c;
    o.height = h;
    o.width = w;
    o.options = options;
    nnc_model *m = NULL;
    nnc_status s = nnc_model_build(name, &o, &m);
    if (s) t_fail(__FILE__, __LINE__, "build %s (%s): %s", name, options ? options : "", nnc_last_error());
    return m;
}

static int64_t count(const char *name, int classes, int c, int h, int w, const char *options) {
    nnc_model *m = build(name, classes, c, h, w, options);
    int64_t n = m ? nnc_graph_n_param_elems(m->g) : -1;
    nnc_model_free(m);
    return n;
}

/* the node named `name` exists and has the given shape */
static int has(nnc_model *m, const char *name, int ndim, const int64_t *shape) {
    nnc_node *n = m ? nnc_graph_find(m->g, name) : NULL;
    if (!n) { t_fail(__FILE__, __LINE__, "no node '%s'", name); return 0; }
    nnc_tensor *t = nnc_node_value(n);
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = t->shape[i] == shape[i];
    if (!ok) {
        char buf[64];
        t_fail(__FILE__, __LINE__, "'%s' has shape %s", name, nnc_shape_str(t, buf, sizeof buf));
    }
    return ok;
}
#define HAS(m, name, ...) has(m, name, (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})

static uint64_t rng_state = 88172645463325252ull;
static float frand(void) { /* xorshift, uniform [0, 1) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)(rng_state >> 40) / (float)(1ull << 24);
}
static void fill(nnc_model *m, uint64_t seed) {
    rng_state = 88172645463325252ull ^ (seed * 0x9E3779B97F4A7C15ull);
    nnc_tensor *x = nnc_node_value(m->input), *y = nnc_node_value(m->labels);
    for (int64_t i = 0; x->data && i < nnc_tensor_numel(x); i++) ((float *)x->data)[i] = frand();
    /* an unused input (eval plans, the autoencoders' labels) may have no buffer */
    for (int64_t i = 0; y->data && i < nnc_tensor_numel(y); i++) ((int64_t *)y->data)[i] = (int64_t)(frand() * (float)m->num_classes);
}

static int finite_all(const nnc_tensor *t) {
    for (int64_t i = 0; i < nnc_tensor_numel(t); i++)
        if (!isfinite(((const float *)t->data)[i])) return 0;
    return 1;
}

/* one forward at `batch` in training and eval mode: finite outputs of the expected shape */
static void forward_ok(const char *name, int c, int h, int w, const char *options, int batch) {
    nnc_model *m = build(name, 10, c, h, w, options);
    if (!m) return;
    for (int training = 1; training >= 0; training--) {
        T_OK(nnc_graph_compile(m->g, batch, training));
        fill(m, 7);
        T_OK(nnc_graph_forward(m->g));
        nnc_tensor *out = nnc_node_value(m->logits);
        T_CHECKF(out->shape[0] == batch, "%s: batch %lld", name, (long long)out->shape[0]);
        int64_t per = nnc_tensor_numel(out) / batch;
        int ae = strstr(name, "autoencoder") != NULL;
        T_CHECKF(per == (ae ? (int64_t)c * h * w : 10), "%s: %lld outputs per sample", name, (long long)per);
        T_CHECKF(finite_all(out), "%s: non-finite output", name);
        if (training) T_CHECKF(isfinite(nnc_graph_loss_value(m->g)), "%s: loss %g", name, (double)nnc_graph_loss_value(m->g));
    }
    nnc_model_free(m);
}

/* a few SGD steps on one fixed small batch lower the loss */
static void sgd_lowers_loss(const char *name, int c, int h, int w, const char *options, int batch, int steps, float lr) {
    int ae = strstr(name, "autoencoder") != NULL;
    nnc_model *m = build(name, 10, c, h, w, options);
    if (!m) return;
    nnc_graph_set_seed(m->g, 3);
    nnc_optim o = ae ? nnc_optim_adam(lr, 0) : nnc_optim_sgd(lr, 0.9f, 0);
    T_OK(nnc_graph_set_optimizer(m->g, &o));
    T_OK(nnc_graph_compile(m->g, batch, 1));
    fill(m, 11);
    if (ae) { /* uniform noise cannot be reconstructed: a bright upper half, a dark lower half, noisy */
        nnc_tensor *x = nnc_node_value(m->input);
        int64_t per = nnc_tensor_numel(x) / batch;
        for (int64_t i = 0; i < nnc_tensor_numel(x); i++)
            ((float *)x->data)[i] = (i % per < per / 2 ? 0.8f : 0.1f) + 0.1f * ((float *)x->data)[i];
    }
    float first = 0, loss = 0;
    for (int s = 0; s < steps; s++) {
        T_OK(nnc_graph_train_step(m->g, &loss));
        if (s == 0) first = loss;
    }
    printf("  %s%s%s: loss %.4f -> %.4f after %d %s steps\n", name, options ? " " : "", options ? options : "", (double)first,
           (double)loss, steps, ae ? "Adam" : "SGD");
    T_CHECKF(isfinite(loss) && loss < 0.7f * first, "%s: loss %g -> %g", name, (double)first, (double)loss);
    nnc_model_free(m);
}

int main(void) {
    nnc_set_threads(2);
    T_CASE("published parameter counts at 3x224x224, 1000 classes") {
        static const struct { const char *name; int64_t n; } pub[] = {
            {"resnet18", 11689512},    {"resnet34", 21797672},    {"resnet50", 25557032},    {"resnet101", 44549160},
            {"resnet152", 60192808},   {"densenet121", 7978856},  {"densenet169", 14149480}, {"densenet201", 20013928},
        };
        for (size_t i = 0; i < sizeof pub / sizeof pub[0]; i++) {
            int64_t n = count(pub[i].name, 0, 0, 0, 0, NULL);
            T_CHECKF(n == pub[i].n, "%s: %lld parameters, published %lld", pub[i].name, (long long)n, (long long)pub[i].n);
        }
    }
    T_CASE("CIFAR counts at 3x32x32, 10 classes: resnetN option B / A, plainN, densenet-bc") {
        static const struct { int depth; int64_t b, a; } cif[] = {
            {20, 272474, 269722}, {32, 466906, 464154}, {44, 661338, 658586}, {56, 855770, 853018}, {110, 1730714, 1727962},
        };
        for (size_t i = 0; i < sizeof cif / sizeof cif[0]; i++) {
            char res[16], plain[16];
            snprintf(res, sizeof res, "resnet%d", cif[i].depth);
            snprintf(plain, sizeof plain, "plain%d", cif[i].depth);
            int64_t b = count(res, 0, 0, 0, 0, NULL), b2 = count(res, 0, 0, 0, 0, "shortcut=B"),
                    a = count(res, 0, 0, 0, 0, "shortcut=A"), p = count(plain, 0, 0, 0, 0, NULL);
            T_CHECKF(b == cif[i].b && b2 == b, "%s: %lld (B), want %lld", res, (long long)b, (long long)cif[i].b);
            T_CHECKF(a == cif[i].a, "%s: %lld (A), want %lld", res, (long long)a, (long long)cif[i].a);
            T_CHECKF(p == cif[i].a, "%s: %lld, want %lld", plain, (long long)p, (long long)cif[i].a);
        }
        T_CHECK(count("densenet-bc100", 0, 0, 0, 0, NULL) == 769162);
        T_CHECK(count("densenet-bc", 0, 0, 0, 0, NULL) == 769162);
        T_CHECK(count("densenet-bc", 0, 0, 0, 0, "depth=100,growth=12,compression=0.5") == 769162);
        T_CHECK(count("densenet-bc", 0, 0, 0, 0, "depth=40") == 176122); /* bench W4d40 */
        T_CHECK(count("autoencoder", 0, 0, 0, 0, NULL) == 435536);
        T_CHECK(count("conv-autoencoder", 0, 0, 0, 0, NULL) == 309432);
    }
    T_CASE("torchvision names and shapes: resnet18, resnet50") {
        nnc_model *m = build("resnet18", 0, 0, 0, 0, NULL);
        HAS(m, "conv1.weight", 64, 3, 7, 7);
        HAS(m, "bn1.running_var", 64);
        HAS(m, "layer1.0.conv1.weight", 64, 64, 3, 3);
        HAS(m, "layer2.0.downsample.0.weight", 128, 64, 1, 1);
        HAS(m, "layer2.0.downsample.1.num_batches_tracked");
        HAS(m, "layer4.1.bn2.bias", 512);
        HAS(m, "fc.weight", 1000, 512);
        HAS(m, "fc.bias", 1000);
        T_CHECK(!nnc_graph_find(m->g, "layer1.0.downsample.0.weight"));
        T_CHECK(nnc_graph_n_params(m->g) == 62 && nnc_graph_n_state(m->g) == 60);
        nnc_model_free(m);
        m = build("resnet50", 0, 0, 0, 0, NULL);
        HAS(m, "layer1.0.downsample.0.weight", 256, 64, 1, 1);
        HAS(m, "layer2.0.conv2.weight", 128, 128, 3, 3); /* v1.5: stride on the 3x3 */
        HAS(m, "layer3.5.conv3.weight", 1024, 256, 1, 1);
        HAS(m, "layer4.2.bn3.running_mean", 2048);
        HAS(m, "fc.weight", 1000, 2048);
        nnc_model_free(m);
        m = build("resnet152", 0, 0, 0, 0, NULL);
        HAS(m, "layer3.35.conv2.weight", 256, 256, 3, 3);
        T_CHECK(!nnc_graph_find(m->g, "layer3.36.conv2.weight"));
        nnc_model_free(m);
    }
    T_CASE("torchvision names and shapes: densenet121, densenet201") {
        nnc_model *m = build("densenet121", 0, 0, 0, 0, NULL);
        HAS(m, "features.conv0.weight", 64, 3, 7, 7);
        HAS(m, "features.norm0.weight", 64);
        HAS(m, "features.denseblock1.denselayer1.norm1.running_mean", 64);
        HAS(m, "features.denseblock1.denselayer1.conv1.weight", 128, 64, 1, 1);
        HAS(m, "features.denseblock1.denselayer6.norm2.num_batches_tracked");
        HAS(m, "features.denseblock1.denselayer6.conv2.weight", 32, 128, 3, 3);
        HAS(m, "features.transition1.norm.weight", 256);
        HAS(m, "features.transition1.conv.weight", 128, 256, 1, 1);
        HAS(m, "features.denseblock4.denselayer16.conv1.weight", 128, 992, 1, 1);
        HAS(m, "features.norm5.running_var", 1024);
        HAS(m, "classifier.weight", 1000, 1024);
        nnc_model_free(m);
        m = build("densenet201", 0, 0, 0, 0, NULL);
        HAS(m, "features.denseblock3.denselayer48.conv2.weight", 32, 128, 3, 3);
        HAS(m, "features.norm5.weight", 1920);
        HAS(m, "classifier.weight", 1000, 1920);
        nnc_model_free(m);
    }
    T_CASE("bench names: resnet20 (W3), densenet-bc100 (W4)") {
        nnc_model *m = build("resnet20", 0, 0, 0, 0, NULL);
        HAS(m, "conv.weight", 16, 3, 3, 3);
        HAS(m, "bn.running_mean", 16);
        HAS(m, "layers.0.conv1.weight", 16, 16, 3, 3);
        HAS(m, "layers.3.short.0.weight", 32, 16, 1, 1);
        HAS(m, "layers.3.short.1.num_batches_tracked");
        HAS(m, "layers.6.short.0.weight", 64, 32, 1, 1);
        HAS(m, "layers.8.bn2.weight", 64);
        HAS(m, "fc.weight", 10, 64);
        T_CHECK(!nnc_graph_find(m->g, "layers.0.short.0.weight") && !nnc_graph_find(m->g, "layers.9.conv1.weight"));
        nnc_model_free(m);
        m = build("resnet20", 0, 0, 0, 0, "shortcut=A");
        T_CHECK(m && !nnc_graph_find(m->g, "layers.3.short.0.weight"));
        nnc_model_free(m);
        m = build("densenet-bc100", 0, 0, 0, 0, NULL);
        HAS(m, "features.0.weight", 24, 3, 3, 3);
        HAS(m, "features.1.bn1.weight", 24);
        HAS(m, "features.1.conv1.weight", 48, 24, 1, 1);
        HAS(m, "features.16.conv2.weight", 12, 48, 3, 3);
        HAS(m, "features.17.bn.running_var", 216);
        HAS(m, "features.17.conv.weight", 108, 216, 1, 1);
        HAS(m, "features.34.conv.weight", 150, 300, 1, 1);
        HAS(m, "features.50.conv2.weight", 12, 48, 3, 3);
        HAS(m, "bn.weight", 342);
        HAS(m, "fc.weight", 10, 342);
        nnc_model_free(m);
    }
    T_CASE("every model builds at 3x32x32 and 1x28x28 with 10 classes") {
        static const char *const names[] = {"resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnet20",
                                            "resnet32", "resnet44", "resnet56", "resnet110", "plain20", "plain32",
                                            "plain44", "plain56", "plain110", "densenet121", "densenet169", "densenet201",
                                            "densenet-bc100", "densenet-bc", "autoencoder", "conv-autoencoder"};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            for (int s = 0; s < 2; s++) {
                nnc_model *m = build(names[i], 10, s ? 1 : 3, s ? 28 : 32, s ? 28 : 32, NULL);
                if (!m) continue;
                nnc_tensor *out = nnc_node_value(m->logits);
                int ae = strstr(names[i], "autoencoder") != NULL;
                T_CHECKF(ae ? out->ndim == 4 && out->shape[1] == (s ? 1 : 3) && out->shape[3] == (s ? 28 : 32)
                            : out->ndim == 2 && out->shape[1] == 10,
                         "%s at %s: output ndim %d", names[i], s ? "1x28x28" : "3x32x32", out->ndim);
                nnc_model_free(m);
            }
        /* the stem adaptation keeps the parameter shapes: 10-class counts */
        T_CHECK(count("resnet18", 10, 3, 32, 32, NULL) == 11689512 - 990 * 513);
        T_CHECK(count("resnet50", 10, 3, 32, 32, "stem=1") == 25557032 - 990 * 2049);
        T_CHECK(count("densenet121", 10, 3, 28, 28, "stem=0") == 7978856 - 990 * 1025);
    }
    T_CASE("bad options are refused with a message") {
        static const struct { const char *name, *options, *want; } bad[] = {
            {"resnet20", "shortcut=C", "shortcut"},  {"plain20", "shortcut=A", "shortcut"},
            {"resnet18", "depth=3", "depth"},        {"densenet-bc", "depth=41", "6n+4"},
            {"densenet-bc", "growth=0", "growth"},   {"densenet-bc", "compression=1.5", "compression"},
            {"densenet-bc100", "depth=40", "depth"}, {"autoencoder", "x=1", "x"},
            {"resnet50", "stem=2", "stem"},          {"densenet169", "stem=x", "stem"},
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            nnc_model_opts o = nnc_model_defaults();
            o.options = bad[i].options;
            nnc_model *m = NULL;
            nnc_status s = nnc_model_build(bad[i].name, &o, &m);
            T_CHECKF(s == NNC_ERR_ARG && !m, "%s %s: status %d", bad[i].name, bad[i].options, (int)s);
            T_CHECKF(strstr(nnc_last_error(), bad[i].name) && strstr(nnc_last_error(), bad[i].want), "%s %s: '%s'",
                     bad[i].name, bad[i].options, nnc_last_error());
        }
        nnc_model_opts o = nnc_model_defaults();
        o.height = 30;
        nnc_model *m = NULL;
        T_CHECK(nnc_model_build("conv-autoencoder", &o, &m) == NNC_ERR_ARG && !m);
    }
    T_CASE("torchvision initialization: kaiming fan_out convs, BN 1/0, densenet classifier bias 0") {
        nnc_model *m = build("resnet18", 0, 0, 0, 0, NULL);
        T_OK(nnc_graph_init_params(m->g));
        nnc_tensor *w = nnc_node_value(nnc_graph_find(m->g, "layer3.0.conv1.weight")); /* [256,128,3,3], fan_out 2304 */
        double s = 0, s2 = 0;
        int64_t n = nnc_tensor_numel(w);
        for (int64_t i = 0; i < n; i++) { double v = ((float *)w->data)[i]; s += v; s2 += v * v; }
        double sd = sqrt(s2 / (double)n - (s / (double)n) * (s / (double)n)), want = sqrt(2.0 / 2304.0);
        T_CHECKF(fabs(sd - want) < 0.03 * want && fabs(s / (double)n) < 0.05 * want, "std %g, want %g", sd, want);
        nnc_tensor *g = nnc_node_value(nnc_graph_find(m->g, "layer3.0.bn1.weight")), *b = nnc_node_value(nnc_graph_find(m->g, "layer3.0.bn1.bias"));
        T_CHECK(((float *)g->data)[0] == 1.0f && ((float *)g->data)[255] == 1.0f && ((float *)b->data)[17] == 0.0f);
        nnc_model_free(m);
        build_width = 0.25f; /* initializing 8M parameters is slow under ASan */
        m = build("densenet121", 0, 0, 0, 0, NULL);
        build_width = 0;
        T_OK(nnc_graph_init_params(m->g));
        nnc_tensor *cb = nnc_node_value(nnc_graph_find(m->g, "classifier.bias"));
        int zero = 1;
        for (int i = 0; i < 1000; i++) zero &= ((float *)cb->data)[i] == 0.0f;
        T_CHECK(zero);
        w = nnc_node_value(nnc_graph_find(m->g, "features.denseblock2.denselayer1.conv1.weight")); /* [32,32,1,1] at width 1/4 */
        s = s2 = 0;
        n = nnc_tensor_numel(w);
        for (int64_t i = 0; i < n; i++) { double v = ((float *)w->data)[i]; s += v; s2 += v * v; }
        sd = sqrt(s2 / (double)n);
        want = sqrt(2.0 / (double)(w->shape[1] * w->shape[2] * w->shape[3]));
        T_CHECKF(fabs(sd - want) < 0.05 * want, "std %g, want %g", sd, want);
        nnc_model_free(m);
    }
    T_CASE("forward on small inputs (training and eval modes)") {
        forward_ok("resnet20", 3, 32, 32, NULL, 2);
        forward_ok("resnet20", 3, 32, 32, "shortcut=A", 2);
        forward_ok("plain20", 1, 28, 28, NULL, 2);
        build_width = 0.25f; /* initializing millions of parameters is slow under ASan */
        forward_ok("resnet18", 1, 16, 16, NULL, 2); /* small stem */
        forward_ok("resnet50", 3, 32, 32, "stem=1", 2); /* the ImageNet stem on 32x32 */
        forward_ok("densenet-bc", 3, 32, 32, "depth=40", 2);
        forward_ok("densenet121", 1, 16, 16, NULL, 2);
        build_width = 0;
        forward_ok("autoencoder", 1, 28, 28, NULL, 2);
        forward_ok("conv-autoencoder", 1, 28, 28, NULL, 2);
    }
    T_CASE("option A shortcut: x[:, :, ::2, ::2] in the first channels, zeros after") {
        /* eval mode, every block conv zero (residual branch = BN bias = 0): each
         * block is relu(shortcut(x)); the stem conv passes the 3 input channels
         * through, so the pooled features are the means of x[:, c, ::4, ::4] / sqrt(1 + eps)
         * in channels 0..2 and 0 in channels 3..63 */
        nnc_model *m = build("resnet20", 10, 3, 16, 16, "shortcut=A");
        if (m) {
            T_OK(nnc_graph_init_params(m->g));
            for (int i = 0; i < nnc_graph_n_params(m->g); i++) {
                nnc_node *p = nnc_graph_param_at(m->g, i);
                const char *nm = nnc_node_name(p);
                nnc_tensor *t = nnc_node_value(p);
                if (strstr(nm, ".conv1.weight") || strstr(nm, ".conv2.weight") || strcmp(nm, "conv.weight") == 0)
                    memset(t->data, 0, nnc_tensor_bytes(t));
                if (strcmp(nm, "conv.weight") == 0)
                    for (int c = 0; c < 3; c++) ((float *)t->data)[((c * 3 + c) * 3 + 1) * 3 + 1] = 1.0f;
            }
            T_OK(nnc_graph_compile(m->g, 1, 0));
            fill(m, 9);
            const float *x = nnc_node_value(m->input)->data;
            float pooled[64] = {0};
            for (int c = 0; c < 3; c++) {
                double sum = 0;
                for (int i = 0; i < 16; i += 4)
                    for (int j = 0; j < 16; j += 4) sum += x[(c * 16 + i) * 16 + j];
                pooled[c] = (float)(sum / 16.0 / sqrt(1.0 + 1e-5));
            }
            T_OK(nnc_graph_forward(m->g));
            const float *w = nnc_node_value(nnc_graph_find(m->g, "fc.weight"))->data;
            const float *b = nnc_node_value(nnc_graph_find(m->g, "fc.bias"))->data;
            float want[10];
            for (int k = 0; k < 10; k++) {
                double acc = b[k];
                for (int c = 0; c < 64; c++) acc += (double)w[k * 64 + c] * pooled[c];
                want[k] = (float)acc;
            }
            t_close("option A logits", nnc_node_value(m->logits)->data, want, 10, 1e-4, 1e-5);
        }
        nnc_model_free(m);
    }
    T_CASE("autoencoders: MSE reconstruction loss, no classes; nnc_train/nnc_evaluate ignore labels, report no accuracy") {
        nnc_model *m = build("autoencoder", 0, 0, 0, 0, NULL);
        if (m) {
            T_CHECK(m->num_classes == 0 && strcmp(nnc_node_op(m->loss), "mse") == 0);
            nnc_dataset ds = {0};
            T_OK(nnc_tensor_alloc(&ds.x, NNC_F32, 4, (int64_t[]){4, 1, 28, 28}));
            T_OK(nnc_tensor_alloc(&ds.y, NNC_I64, 1, (int64_t[]){4}));
            ds.n = 4;
            ds.n_classes = 10;
            float *x = ds.x.data;
            for (int i = 0; i < 4 * 784; i++) x[i] = (float)(i % 17) / 17.0f;
            nnc_train_opts to = nnc_train_defaults();
            to.epochs = 1;
            to.batch = 2;
            T_OK(nnc_train(m, &ds, NULL, &to));
            double loss = -1, acc = 0;
            T_OK(nnc_evaluate(m, &ds, 2, &loss, &acc, NULL));
            T_CHECKF(loss > 0 && loss < 1 && isnan(acc), "reconstruction loss %g, accuracy %g (want NaN)", loss, acc);
            nnc_dataset_free(&ds);
        }
        nnc_model_free(m);
    }
    T_CASE("SGD lowers the loss on a tiny batch: resnet20 (A), densenet-bc 10; Adam: autoencoder") {
        sgd_lowers_loss("resnet20", 3, 16, 16, "shortcut=A", 8, 12, 0.05f);
        sgd_lowers_loss("densenet-bc", 3, 16, 16, "depth=10,growth=6", 8, 12, 0.05f);
        sgd_lowers_loss("autoencoder", 1, 28, 28, NULL, 8, 20, 0.01f);
    }
    return t_finish();
}
