/* test_act_loss_ref.c -- the activations and losses of issue 3 against
 * PyTorch 1.13 reference files tests/ref/act_loss_<case>.safetensors
 * (written by tools/gen_refs_act_loss.py; PyTorch is not needed here).
 *
 * Each case builds the op named by the file's "builder" metadata, copies the
 * file's inputs (and PReLU weight) into the compiled graph, runs forward and
 * compares y; in training cases it then runs backward seeded with the file's
 * dy (losses: as the loss weight; other ops: through the gradient-checker
 * hook g->seed_outputs / node->seed, as tests/test_torch_ref.c does) and
 * compares the gradients listed in "grads" (dx, dw, dtarget).
 * Tolerance |got - want| <= 1e-5 + 1e-4 |want| (float32 vs float64). */
#include "testlib.h"
#include "core/graph.h"
#include <stdlib.h>
#include <string.h>

#define RTOL 1e-4
#define ATOL 1e-5

static const char *const cases[] = {
    "leaky_relu", "leaky_relu_0.2", "elu", "elu_0.5", "selu", "hardtanh", "hardtanh_-0.5_2", "softsign",
    "softplus", "softplus_beta2_th1", "rrelu_eval", "rrelu_train_fixed", "prelu_channel_4d", "prelu_channel_2d", "prelu_shared",
    "l1_mean", "l1_sum", "huber_mean", "huber_delta0.5_sum", "smooth_l1_beta0.5_mean", "smooth_l1_sum",
    "multi_margin_mean", "multi_margin_m0.7_sum", "bce_with_logits_mean", "bce_with_logits_sum",
    "cross_entropy_ls0.1_mean", "cross_entropy_ls0.3_sum",
};

static const char *meta(nnc_safetensors *f, const char *k) {
    const char *v = nnc_safetensors_meta(f, k);
    T_CHECKF(v != NULL, "reference file lacks metadata \"%s\"", k);
    return v ? v : "";
}

static nnc_node *input_like(nnc_graph *g, const nnc_tensor *t, const char *name, int grad) {
    nnc_node *n = nnc_input(g, name, t->dtype, t->ndim - 1, t->shape + 1);
    if (n && grad) nnc_input_requires_grad(n);
    return n;
}

static void compare(const char *what, const nnc_tensor *got, const nnc_tensor *want) {
    if (!want) { T_CHECKF(0, "reference lacks %s", what); return; }
    if (!got || !got->data) { T_CHECKF(0, "%s: nnc has no data", what); return; }
    T_CHECKF(nnc_tensor_numel(got) == nnc_tensor_numel(want), "%s: %lld elements, reference %lld", what,
             (long long)nnc_tensor_numel(got), (long long)nnc_tensor_numel(want));
    if (nnc_tensor_numel(got) == nnc_tensor_numel(want)) t_close(what, got->data, want->data, nnc_tensor_numel(want), RTOL, ATOL);
}

static void copy_in(nnc_node *n, const nnc_tensor *t) {
    nnc_tensor *v = nnc_node_value(n);
    T_CHECKF(nnc_tensor_bytes(v) == nnc_tensor_bytes(t), "value size mismatch");
    if (nnc_tensor_bytes(v) == nnc_tensor_bytes(t)) memcpy(v->data, t->data, nnc_tensor_bytes(t));
}

static void run_case(const char *name) {
    char rel[160];
    snprintf(rel, sizeof rel, "ref/act_loss_%s.safetensors", name);
    nnc_safetensors *f = NULL;
    nnc_status s = nnc_safetensors_open(t_path(rel), &f);
    T_CHECKF(s == NNC_OK, "open %s: %s", rel, nnc_last_error());
    if (s) return;
    const char *builder = meta(f, "builder"), *grads = meta(f, "grads");
    float a = strtof(meta(f, "a"), NULL), b = strtof(meta(f, "b"), NULL);
    int training = atoi(meta(f, "training"));
    const char *red = nnc_safetensors_meta(f, "reduction");
    nnc_reduction r = red && !strcmp(red, "sum") ? NNC_SUM : NNC_MEAN;
    const nnc_tensor *xt = nnc_safetensors_get(f, "x"), *wt = nnc_safetensors_get(f, "w");
    const nnc_tensor *tt = nnc_safetensors_get(f, "target"), *lt = nnc_safetensors_get(f, "labels");
    const nnc_tensor *dyt = nnc_safetensors_get(f, "dy"), *yt = nnc_safetensors_get(f, "y");
    if (!xt || !yt || (training && !dyt)) { T_CHECKF(0, "reference lacks x, y or dy"); nnc_safetensors_close(f); return; }

    nnc_graph *g = nnc_graph_new();
    nnc_graph_set_seed(g, 1);
    nnc_node *x = input_like(g, xt, "x", training), *w = NULL, *t = NULL, *y = NULL;
    int is_loss = 0;
    if (tt) t = input_like(g, tt, "target", training && strstr(grads, "dtarget") != NULL);
    if (lt) t = input_like(g, lt, "labels", 0);
    if (!strcmp(builder, "leaky_relu")) y = nnc_leaky_relu(g, x, a);
    else if (!strcmp(builder, "elu")) y = nnc_elu(g, x, a);
    else if (!strcmp(builder, "selu")) y = nnc_selu(g, x);
    else if (!strcmp(builder, "hardtanh")) y = nnc_hardtanh(g, x, a, b);
    else if (!strcmp(builder, "softsign")) y = nnc_softsign(g, x);
    else if (!strcmp(builder, "softplus")) y = nnc_softplus(g, x, a, b);
    else if (!strcmp(builder, "rrelu")) y = nnc_rrelu(g, x, a, b);
    else if (!strcmp(builder, "prelu") && wt) {
        w = nnc_param(g, "w", wt->ndim, wt->shape, (nnc_init){.kind = NNC_INIT_ZEROS});
        y = nnc_prelu(g, x, w);
    } else {
        is_loss = 1;
        if (!strcmp(builder, "l1")) y = nnc_l1_loss(g, x, t, r);
        else if (!strcmp(builder, "huber")) y = nnc_huber_loss(g, x, t, r, a);
        else if (!strcmp(builder, "smooth_l1")) y = nnc_smooth_l1_loss(g, x, t, r, a);
        else if (!strcmp(builder, "multi_margin")) y = nnc_multi_margin_loss(g, x, t, r, a, 0);
        else if (!strcmp(builder, "bce_with_logits")) y = nnc_bce_with_logits(g, x, t, r);
        else if (!strcmp(builder, "cross_entropy_ls")) y = nnc_cross_entropy_ls(g, x, t, r, a);
        else T_CHECKF(0, "unknown builder \"%s\"", builder);
    }
    s = nnc_graph_status(g);
    T_CHECKF(s == NNC_OK && y, "build: %s", nnc_graph_error(g));
    if (s || !y) goto out;
    nnc_graph_output(g, y);
    if (is_loss) nnc_graph_loss(g, y, training ? ((const float *)dyt->data)[0] : 1.0f);
    else g->seed_outputs = training;
    s = nnc_graph_compile(g, xt->shape[0], training);
    T_CHECKF(s == NNC_OK, "compile: %s", nnc_last_error());
    if (s) goto out;
    copy_in(x, xt);
    if (t) copy_in(t, tt ? tt : lt);
    if (w) copy_in(w, wt);
    s = nnc_graph_forward(g);
    T_CHECKF(s == NNC_OK, "forward: %s", nnc_last_error());
    if (s) goto out;
    compare("y", nnc_node_value(y), yt);
    if (training) {
        if (!is_loss) y->seed = dyt->data;
        s = nnc_graph_backward(g);
        T_CHECKF(s == NNC_OK, "backward: %s", nnc_last_error());
        if (s) goto out;
        if (strstr(grads, "dx")) compare("dx", nnc_node_grad(x), nnc_safetensors_get(f, "dx"));
        if (strstr(grads, "dw")) compare("dw", nnc_node_grad(w), nnc_safetensors_get(f, "dw"));
        if (strstr(grads, "dtarget")) compare("dtarget", nnc_node_grad(t), nnc_safetensors_get(f, "dtarget"));
    }
out:
    if (y) y->seed = NULL;
    nnc_graph_free(g);
    nnc_safetensors_close(f);
}

int main(void) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[160];
        snprintf(name, sizeof name, "act_loss reference %s", cases[i]);
        T_CASE(name) run_case(cases[i]);
    }
    return t_finish();
}
