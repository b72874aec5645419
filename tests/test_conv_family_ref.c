/* test_conv_family_ref.c -- the convolution relatives against PyTorch 1.13:
 * conv1d and conv3d (F.conv1d / F.conv3d), and the ops PyTorch has no module
 * for, against references built from PyTorch primitives (gen_refs_conv.py):
 * locally_connected2d, conv2d_table, rbf, channel_affine.
 *
 * Each case reads tests/ref/conv_<case>.safetensors (tools/gen_refs_conv.py:
 * float32 inputs, PyTorch in float64, expected values rounded to float32),
 * builds the op with the public API (conv1d: the composite over conv2d, with
 * the weight as a [K, C/groups, k] parameter like PyTorch's), copies x, w, b,
 * runs forward and compares y, then backward seeded with the file's dy (the
 * engine's gradient-checker hook, as in test_torch_ref.c) and compares dx,
 * dw, db. Tolerance |got - want| <= 1e-5 + 1e-4 |want|. */
#include "testlib.h"
#include "core/graph.h"
#include <stdlib.h>
#include <string.h>

#define RTOL 1e-4
#define ATOL 1e-5

static const char *meta(nnc_safetensors *f, const char *k) {
    const char *v = nnc_safetensors_meta(f, k);
    T_CHECKF(v != NULL, "reference file lacks metadata \"%s\"", k);
    return v ? v : "0";
}
/* "a,b,c" (or one number for all) into out[n] */
static void ints(const char *s, int *out, int n) {
    char *end;
    for (int i = 0; i < n; i++) {
        out[i] = (int)strtol(s, &end, 10);
        if (*end == ',') s = end + 1;
    }
}

static int same_shape(const nnc_tensor *a, const nnc_tensor *b) {
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

static void compare(const char *what, const nnc_tensor *got, const nnc_tensor *want) {
    T_CHECKF(want != NULL, "reference lacks %s", what);
    if (!want) return;
    T_CHECKF(got->data != NULL, "%s: no data", what);
    if (!got->data) return;
    char a[64], b[64];
    T_CHECKF(same_shape(got, want), "%s: nnc %s, reference %s", what, nnc_shape_str(got, a, sizeof a), nnc_shape_str(want, b, sizeof b));
    if (same_shape(got, want)) t_close(what, got->data, want->data, nnc_tensor_numel(want), RTOL, ATOL);
}

static void run_case(const char *name) {
    char rel[128];
    snprintf(rel, sizeof rel, "ref/conv_%s.safetensors", name);
    nnc_safetensors *f = NULL;
    nnc_status s = nnc_safetensors_open(t_path(rel), &f);
    T_CHECKF(s == NNC_OK, "open %s: %s", rel, nnc_last_error());
    if (s) return;
    const nnc_tensor *x = nnc_safetensors_get(f, "x"), *w = nnc_safetensors_get(f, "w"), *b = nnc_safetensors_get(f, "b");
    const nnc_tensor *dy = nnc_safetensors_get(f, "dy"), *y_want = nnc_safetensors_get(f, "y");
    const char *op = meta(f, "op");
    int conv3 = !strcmp(op, "conv3d"), conv1 = !strcmp(op, "conv1d"), stride[3] = {1, 1, 1}, pad[3] = {0, 0, 0}, dil[3] = {1, 1, 1}, groups = 1;
    if (conv1 || conv3) {
        groups = atoi(meta(f, "groups"));
        ints(meta(f, "dilation"), dil, 3);
    }
    if (nnc_safetensors_meta(f, "stride")) {
        ints(meta(f, "stride"), stride, 3);
        ints(meta(f, "pad"), pad, 3);
    }
    T_CHECKF(x && w && dy && y_want, "reference file incomplete");
    if (!x || !w || !dy || !y_want) { nnc_safetensors_close(f); return; }

    nnc_graph *g = nnc_graph_new();
    nnc_node *xn = nnc_input(g, "x", NNC_F32, x->ndim - 1, x->shape + 1);
    nnc_input_requires_grad(xn);
    nnc_node *wn = nnc_param(g, "w", w->ndim, w->shape, (nnc_init){.kind = NNC_INIT_ZEROS});
    nnc_node *bn = b ? nnc_param(g, "b", b->ndim, b->shape, (nnc_init){.kind = NNC_INIT_ZEROS}) : NULL, *y;
    if (conv3) {
        nnc_conv3d_opts o = {{stride[0], stride[1], stride[2]}, {pad[0], pad[1], pad[2]}, {dil[0], dil[1], dil[2]}, groups};
        y = nnc_conv3d(g, xn, wn, bn, &o);
    } else if (conv1) {
        nnc_conv1d_opts o = {stride[0], pad[0], dil[0], groups};
        y = nnc_conv1d(g, xn, wn, bn, &o);
    } else if (!strcmp(op, "locally_connected2d")) {
        int ks[2];
        ints(meta(f, "kernel"), ks, 2);
        y = nnc_locally_connected2d(g, xn, wn, bn, ks[0], ks[1], stride, pad);
    } else if (!strcmp(op, "conv2d_table")) {
        const nnc_tensor *tt = nnc_safetensors_get(f, "table");
        unsigned char tab[672] = {0};
        int64_t K = tt ? tt->shape[0] : 0, C = tt ? tt->shape[1] : 0;
        for (int64_t i = 0; tt && i < K * C && i < 672; i++) tab[i] = (unsigned char)((const int64_t *)tt->data)[i];
        nnc_conv2d_opts o = {{stride[0], stride[1]}, {pad[0], pad[1]}, {0, 0}, 0};
        y = nnc_conv2d_table(g, xn, wn, bn, K, C, tab, &o);
    } else if (!strcmp(op, "rbf")) {
        y = nnc_rbf(g, xn, wn); /* w as a parameter, so dw is checked too */
    } else {
        T_CHECKF(!strcmp(op, "channel_affine"), "unknown op %s", op);
        y = nnc_channel_affine(g, xn, wn, bn);
    }
    nnc_graph_output(g, y);
    g->seed_outputs = 1;
    T_OK(nnc_graph_status(g));
    s = nnc_graph_compile(g, x->shape[0], 1);
    T_CHECKF(s == NNC_OK, "compile: %s", nnc_last_error());
    if (!s) {
        memcpy(nnc_node_value(xn)->data, x->data, nnc_tensor_bytes(x));
        memcpy(nnc_node_value(wn)->data, w->data, nnc_tensor_bytes(w));
        if (b) memcpy(nnc_node_value(bn)->data, b->data, nnc_tensor_bytes(b));
        T_OK(nnc_graph_forward(g));
        compare("y", nnc_node_value(y), y_want);
        if (same_shape(nnc_node_value(y), dy)) {
            y->seed = dy->data;
            T_OK(nnc_graph_backward(g));
            compare("dx", nnc_node_grad(xn), nnc_safetensors_get(f, "dx"));
            compare("dw", nnc_node_grad(wn), nnc_safetensors_get(f, "dw"));
            if (b) compare("db", nnc_node_grad(bn), nnc_safetensors_get(f, "db"));
            y->seed = NULL;
        }
    }
    nnc_graph_free(g);
    nnc_safetensors_close(f);
}

int main(void) {
    static const char *cases[] = {"conv1d_k3_p1", "conv1d_k3_s2_d2_nobias", "conv1d_k5_groups2",
                                  "conv3d_k3_p1", "conv3d_s212_p101_d121_nobias", "conv3d_groups2",
                                  "lc_k3_bias", "lc_k32_s21_p10_nobias", "table_lenet_c3_k3", "table_3x4_s2_p1",
                                  "rbf", "channel_affine"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[160];
        snprintf(name, sizeof name, "torch reference %s", cases[i]);
        T_CASE(name) run_case(cases[i]);
    }
    return t_finish();
}
