/* test_lenet1998.c -- the zoo model lenet5-1998 (LeCun et al. 1998): its
 * 60,000 trainable parameters and their names, the fixed 7x12 RBF bitmaps,
 * the squashing function, the MAP loss op (hand-computed value and gradient,
 * gradient check) and a short training run on Fashion-MNIST. */
#include "testlib.h"
#include <stdlib.h>
#include <string.h>

/* Builders and tables of this model (declared in their source files). */
extern const char nnc_lenet5_1998_art[10][12][8];
extern const float nnc_lenet5_1998_prototypes[10][84];

static const struct { const char *name; int ndim; int64_t shape[4]; } expect[] = {
    {"c1.weight", 4, {6, 1, 5, 5}},    {"c1.bias", 1, {6}},   {"s2.weight", 1, {6}},  {"s2.bias", 1, {6}},
    {"c3.weight", 3, {60, 5, 5}},      {"c3.bias", 1, {16}},  {"s4.weight", 1, {16}}, {"s4.bias", 1, {16}},
    {"c5.weight", 4, {120, 16, 5, 5}}, {"c5.bias", 1, {120}}, {"f6.weight", 2, {84, 120}}, {"f6.bias", 1, {84}},
};

int main(void) {
    T_CASE("lenet5-1998: 60,000 trainable parameters with the paper's layer counts and names") {
        nnc_model *m = NULL;
        T_OK(nnc_model_build("lenet5-1998", NULL, &m));
        if (m) {
            T_CHECKF(nnc_graph_n_param_elems(m->g) == 60000, "params %lld", (long long)nnc_graph_n_param_elems(m->g));
            int n = nnc_graph_n_params(m->g);
            T_CHECKF(n == 12, "%d parameter tensors", n);
            int64_t per_layer[6] = {0};
            for (int i = 0; i < n && i < 12; i++) {
                nnc_node *p = nnc_graph_param_at(m->g, i);
                nnc_tensor *t = nnc_node_value(p);
                T_CHECKF(strcmp(nnc_node_name(p), expect[i].name) == 0, "param %d is %s, want %s", i, nnc_node_name(p), expect[i].name);
                T_CHECKF(t->ndim == expect[i].ndim, "%s ndim %d", expect[i].name, t->ndim);
                for (int d = 0; d < t->ndim && d < 4; d++) T_CHECKF(t->shape[d] == expect[i].shape[d], "%s dim %d", expect[i].name, d);
                per_layer[i / 2] += nnc_tensor_numel(t);
            }
            static const int64_t want[6] = {156, 12, 1516, 32, 48120, 10164}; /* C1 S2 C3 S4 C5 F6 */
            for (int l = 0; l < 6; l++) T_CHECKF(per_layer[l] == want[l], "layer %d: %lld params, want %lld", l, (long long)per_layer[l], (long long)want[l]);
            T_CHECKF(nnc_graph_n_state(m->g) == 1 && strcmp(nnc_node_name(nnc_graph_state_at(m->g, 0)), "output.weight") == 0,
                     "the RBF prototypes must be the only state, output.weight");
            T_CHECK(strcmp(nnc_node_op(m->loss), "rbf_map_loss") == 0);
            T_CHECK(strcmp(nnc_node_op(m->logits), "scalar_affine") == 0);
        }
        nnc_model_free(m);
    }
    T_CASE("lenet5-1998: options (j, classes <= 10, 32x32 input) and their errors") {
        nnc_model *m = NULL;
        nnc_model_opts o = nnc_model_defaults();
        o.height = o.width = 32; /* the paper's input, unpadded: the same network */
        T_OK(nnc_model_build("lenet5-1998", &o, &m));
        if (m) T_CHECK(nnc_graph_n_param_elems(m->g) == 60000);
        nnc_model_free(m);
        m = NULL;
        o = nnc_model_defaults();
        o.options = "j=0.5";
        T_OK(nnc_model_build("lenet5-1998", &o, &m));
        nnc_model_free(m);
        m = NULL;
        o.options = "j=-1";
        T_CHECK(nnc_model_build("lenet5-1998", &o, &m) == NNC_ERR_ARG && !m);
        o.options = "shortcut=A";
        T_CHECK(nnc_model_build("lenet5-1998", &o, &m) == NNC_ERR_ARG && !m);
        o = nnc_model_defaults();
        o.num_classes = 11;
        T_CHECK(nnc_model_build("lenet5-1998", &o, &m) == NNC_ERR_ARG && !m);
        T_CHECKF(strstr(nnc_last_error(), "10") != NULL, "message: %s", nnc_last_error());
    }
    T_CASE("RBF prototypes: ten 7x12 bitmaps of +-1 (84 entries), distinct, equal to the art, loaded as output.weight") {
        for (int d = 0; d < 10; d++) {
            int bad = 0, black = 0;
            for (int i = 0; i < 84; i++) {
                float v = nnc_lenet5_1998_prototypes[d][i];
                char ch = nnc_lenet5_1998_art[d][i / 7][i % 7];
                if (!(v == 1.0f || v == -1.0f) || (ch == '#') != (v == 1.0f) || (ch != '#' && ch != '.')) bad++;
                black += v == 1.0f;
            }
            for (int r = 0; r < 12; r++) bad += strlen(nnc_lenet5_1998_art[d][r]) != 7;
            T_CHECKF(bad == 0 && black > 0, "digit %d: %d bad entries", d, bad);
            for (int e = 0; e < d; e++) {
                int diff = 0;
                for (int i = 0; i < 84; i++) diff += nnc_lenet5_1998_prototypes[d][i] != nnc_lenet5_1998_prototypes[e][i];
                T_CHECKF(diff >= 6, "digits %d and %d differ in %d pixels", d, e, diff);
            }
        }
        nnc_model *m = NULL;
        T_OK(nnc_model_build("lenet5-1998", NULL, &m));
        if (m) {
            T_OK(nnc_graph_compile(m->g, 2, 0));
            nnc_tensor *w = nnc_node_value(nnc_graph_state_at(m->g, 0));
            T_CHECK(w->ndim == 2 && w->shape[0] == 10 && w->shape[1] == 84);
            T_CHECK(memcmp(w->data, nnc_lenet5_1998_prototypes, sizeof nnc_lenet5_1998_prototypes) == 0);
            /* logits = -(RBF penalties) */
            float *x = nnc_node_value(m->input)->data;
            for (int i = 0; i < 2 * 784; i++) x[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
            T_OK(nnc_graph_forward(m->g));
            const float *lg = nnc_node_value(m->logits)->data, *y = nnc_node_value(nnc_graph_find(m->g, "output"))->data;
            int ok = 1;
            for (int i = 0; i < 20; i++) ok &= lg[i] == -y[i] && y[i] >= 0;
            T_CHECK(ok);
        }
        nnc_model_free(m);
    }
    T_CASE("squashing f(a) = 1.7159 tanh(2a/3): f(0) = 0, f(+-1) = +-1, f(2), f'(0) = 1.1439") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){5});
        nnc_input_requires_grad(x);
        nnc_node *y = nnc_scaled_tanh(g, x, 1.7159f, 2.0f / 3.0f);
        nnc_graph_output(g, y);
        nnc_graph_loss(g, y, 1.0f); /* seeds dy = 1 everywhere: dx = f'(x) */
        T_OK(nnc_graph_status(g));
        T_OK(nnc_graph_compile(g, 1, 1));
        static const float in[5] = {0, 1, -1, 2, -30};
        memcpy(nnc_node_value(x)->data, in, sizeof in);
        T_OK(nnc_graph_forward(g));
        T_OK(nnc_graph_backward(g));
        static const float want[5] = {0, 0.99999726f, -0.99999726f, 1.49293881f, -1.7159f};
        t_close("f(x)", nnc_node_value(y)->data, want, 5, 1e-6, 1e-6);
        const float *dx = nnc_node_grad(x)->data;
        T_CHECKF(fabsf(dx[0] - 1.14393333f) < 1e-5f, "f'(0) = %g", dx[0]);
        float t1 = tanhf(2.0f / 3.0f);
        T_CHECKF(fabsf(dx[1] - 1.7159f * (2.0f / 3.0f) * (1 - t1 * t1)) < 1e-5f, "f'(1) = %g", dx[1]);
        T_CHECKF(fabsf(dx[4]) < 1e-6f, "f'(-30) = %g", dx[4]);
        nnc_graph_free(g);
        g = nnc_graph_new();
        x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){5});
        T_CHECK(nnc_scaled_tanh(g, x, 0.0f, 1.0f) == NULL && nnc_graph_status(g) == NNC_ERR_ARG);
        nnc_graph_free(g);
    }
    T_CASE("rbf_map_loss: hand-computed value and gradient (j = 1, mean over 2 samples), checker, errors") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){3});
        nnc_node *lab = nnc_input(g, "y", NNC_I64, 0, NULL);
        nnc_input_requires_grad(x);
        nnc_node *l = nnc_rbf_map_loss(g, x, lab, 1.0f, NNC_MEAN);
        nnc_graph_output(g, l);
        nnc_graph_loss(g, l, 1.0f);
        T_OK(nnc_graph_status(g));
        T_OK(nnc_graph_compile(g, 2, 1));
        static const float in[6] = {0.5f, 2.0f, 1.0f, 3.0f, 0.25f, -0.5f};
        memcpy(nnc_node_value(x)->data, in, sizeof in);
        int64_t *labels = nnc_node_value(lab)->data;
        labels[0] = 0;
        labels[1] = 2;
        T_OK(nnc_graph_forward(g));
        T_OK(nnc_graph_backward(g));
        /* E0 = 0.5 + log(e^-1 + e^-0.5 + e^-2 + e^-1) = 0.890435951;
         * E1 = -0.5 + log(e^-1 + e^-3 + e^-0.25 + e^0.5) = 0.545629344 */
        float want_loss = (0.890435951f + 0.545629344f) / 2;
        T_CHECKF(fabsf(*(float *)nnc_node_value(l)->data - want_loss) < 1e-6f, "loss %.7f, want %.7f",
                 *(float *)nnc_node_value(l)->data, want_loss);
        /* dE0/dy = [1 - p0, -p1, -p2], p_i = e^-y_i / Z: (0.589523234, -0.091589747, -0.248966744), halved */
        static const float want_g0[3] = {0.589523234f / 2, -0.091589747f / 2, -0.248966744f / 2};
        const float *dx = nnc_node_grad(x)->data;
        t_close("dE/dy sample 0", dx, want_g0, 3, 1e-5, 1e-6);
        double Z = exp(-1.0) + exp(-3.0) + exp(-0.25) + exp(0.5);
        float want_g1[3] = {(float)(-exp(-3.0) / Z / 2), (float)(-exp(-0.25) / Z / 2), (float)((1 - exp(0.5) / Z) / 2)};
        t_close("dE/dy sample 1", dx + 3, want_g1, 3, 1e-5, 1e-6);
        /* large penalties: no overflow, E -> y_D - j */
        static const float big[6] = {500, 600, 700, 1e4f, 2e4f, 3e4f};
        memcpy(nnc_node_value(x)->data, big, sizeof big);
        T_OK(nnc_graph_forward(g));
        T_CHECKF(fabsf(*(float *)nnc_node_value(l)->data - (499.0f + 29999.0f) / 2) < 1e-2f, "loss %g", *(float *)nnc_node_value(l)->data);
        /* the gradient checker on a small random point */
        for (int i = 0; i < 6; i++) ((float *)nnc_node_value(x)->data)[i] = in[i] * 0.7f - 0.2f;
        nnc_gradcheck_opts go = nnc_gradcheck_defaults();
        go.eps = 1e-2;
        go.rtol = 2e-3;
        go.atol = 1e-4;
        go.full_jacobian = 1;
        nnc_gradcheck_result gr;
        T_OK(nnc_gradcheck(g, &go, &gr));
        /* a label out of range stops the run */
        memcpy(nnc_node_value(x)->data, in, sizeof in);
        labels = nnc_node_value(lab)->data;
        labels[1] = 3;
        T_CHECK(nnc_graph_forward(g) == NNC_ERR_ARG);
        nnc_graph_free(g);
        g = nnc_graph_new();
        x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){3});
        lab = nnc_input(g, "y", NNC_I64, 0, NULL);
        T_CHECK(nnc_rbf_map_loss(g, x, lab, 0.0f, NNC_MEAN) == NULL && nnc_graph_status(g) == NNC_ERR_ARG);
        nnc_graph_free(g);
    }
    T_CASE("lenet5-1998: a short training run on 2000 Fashion-MNIST samples lowers the MAP loss") {
        nnc_dataset train = {0}, test = {0}, sub = {0}, ev = {0};
        nnc_model *m = NULL;
        T_OK(nnc_dataset_load_mnist_dir(NULL, &train, &test));
        T_OK(nnc_dataset_take(&train, 0, 2000, &sub));
        T_OK(nnc_model_build("lenet5-1998", NULL, &m));
        if (m && sub.n == 2000) {
            T_OK(nnc_model_normalize_data(m, &sub, NULL));
            T_OK(nnc_dataset_take(&sub, 0, 500, &ev)); /* evaluated before and after: 500 of the 2000 */
            double loss0, acc0, loss1, acc1;
            T_OK(nnc_evaluate(m, &ev, 500, &loss0, &acc0, NULL));
            nnc_train_opts o = nnc_train_defaults();
            o.epochs = 1;
            o.optim.lr = 0.003f; /* the recipe documented in lenet5_1998.c */
            T_OK(nnc_train(m, &sub, NULL, &o));
            T_OK(nnc_evaluate(m, &ev, 500, &loss1, &acc1, NULL));
            printf("  loss %.3f -> %.3f, accuracy %.3f -> %.3f\n", loss0, loss1, acc0, acc1);
            T_CHECKF(loss1 < 0.7 * loss0 && acc1 > acc0 + 0.1, "loss %.3f -> %.3f, accuracy %.3f -> %.3f", loss0, loss1, acc0, acc1);
        }
        nnc_model_free(m);
        nnc_dataset_free(&ev);
        nnc_dataset_free(&sub);
        nnc_dataset_free(&train);
        nnc_dataset_free(&test);
    }
    return t_finish();
}
