/* test_conv_small.c -- the direct few-input-channel convolution
 * (kernels/conv_small.c) against the reference convolution: forward and
 * weight gradient over geometries that exercise padding, kernel widths 1-7,
 * partial 16-column tiles, channel counts off the register blocks and
 * partial image chunks; accumulation into an existing gradient; the same
 * weight gradient with 1 and 2 threads (bitwise); which geometries it takes;
 * and the conv2d op on this path against the im2col path, input gradient
 * included, with no allocation in a step. */
#include "testlib.h"
#include "kernels/conv.h"
#include "kernels/conv_small.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static float *rnd(int64_t n, uint64_t stream) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = nnc_rand_normal(3, stream, (uint64_t)i);
    return p;
}

static nnc_conv_geom geom(int64_t N, int64_t C, int64_t H, int64_t W, int64_t K, int64_t R, int64_t S, int64_t ph, int64_t pw) {
    nnc_conv_geom g = {N, C, H, W, K, R, S, 0, 0, 1, 1, ph, pw, 1, 1, 1, 0};
    g.OH = nnc_conv_out_size(H, R, 1, ph, 1);
    g.OW = nnc_conv_out_size(W, S, 1, pw, 1);
    return g;
}

static void check_geom(nnc_conv_geom g) {
    char name[160];
    snprintf(name, sizeof name, "conv_small N%lld C%lld %lldx%lld K%lld %lldx%lld pad %lld,%lld: forward and dw == reference", (long long)g.N,
             (long long)g.C, (long long)g.H, (long long)g.W, (long long)g.K, (long long)g.R, (long long)g.S, (long long)g.ph, (long long)g.pw);
    T_CASE(name) {
        T_CHECK(nnc_conv_small_ok(&g));
        int64_t xn = g.N * g.C * g.H * g.W, wn = g.K * g.C * g.R * g.S, yn = g.N * g.K * g.OH * g.OW;
        float *x = rnd(xn, 1), *w = rnd(wn, 2), *b = rnd(g.K, 3), *dy = rnd(yn, 4);
        float *y = malloc((size_t)yn * sizeof(float)), *want = malloc((size_t)yn * sizeof(float));
        float *dw = malloc((size_t)wn * sizeof(float)), *dw_ref = malloc((size_t)wn * sizeof(float));
        size_t wsb = nnc_conv_small_ws(&g, omp_get_max_threads());
        void *ws = malloc(wsb);
        nnc_conv2d_ref(&g, x, w, b, want);
        memset(y, 0xff, (size_t)yn * sizeof(float));
        nnc_conv_small_forward(&g, x, w, b, y, ws, wsb);
        T_CHECK(t_close("y", y, want, yn, 1e-5, 1e-5));
        nnc_conv_small_forward(&g, x, w, NULL, y, ws, wsb);
        nnc_conv2d_ref(&g, x, w, NULL, want);
        T_CHECK(t_close("y (no bias)", y, want, yn, 1e-5, 1e-5));
        nnc_conv2d_ref_backward(&g, x, w, dy, NULL, dw_ref, NULL);
        memset(dw, 0xff, (size_t)wn * sizeof(float));
        nnc_conv_small_backward_weights(&g, x, dy, dw, 0, ws, wsb);
        T_CHECK(t_close("dw", dw, dw_ref, wn, 1e-4, 1e-4));
        /* accumulate: dw += the same again */
        nnc_conv_small_backward_weights(&g, x, dy, dw, 1, ws, wsb);
        for (int64_t i = 0; i < wn; i++) dw_ref[i] *= 2;
        T_CHECK(t_close("dw (accumulated)", dw, dw_ref, wn, 1e-4, 1e-4));
        /* thread count: bitwise the same weight gradient */
        float *dw1 = malloc((size_t)wn * sizeof(float));
        int saved = omp_get_max_threads();
        omp_set_num_threads(1);
        nnc_conv_small_backward_weights(&g, x, dy, dw1, 0, ws, wsb);
        omp_set_num_threads(saved);
        nnc_conv_small_backward_weights(&g, x, dy, dw, 0, ws, wsb);
        T_CHECK(memcmp(dw, dw1, (size_t)wn * sizeof(float)) == 0);
        /* a workspace for one thread only still works */
        size_t one = nnc_conv_small_ws(&g, 1);
        nnc_conv_small_forward(&g, x, w, b, y, ws, one);
        nnc_conv2d_ref(&g, x, w, b, want);
        T_CHECK(t_close("y (one-thread workspace)", y, want, yn, 1e-5, 1e-5));
        free(dw1);
        free(x); free(w); free(b); free(dy); free(y); free(want); free(dw); free(dw_ref); free(ws);
    }
}

static void check_eligibility(void) {
    T_CASE("conv_small takes few-channel stride-1 convolutions only") {
        nnc_conv_geom g = geom(2, 1, 28, 28, 6, 5, 5, 2, 2);
        T_CHECK(nnc_conv_small_ok(&g));
        nnc_conv_geom h = g;
        h.C = 5;
        T_CHECK(!nnc_conv_small_ok(&h)); /* many channels: oneDNN */
        h = g;
        h.sh = h.sw = 2;
        T_CHECK(!nnc_conv_small_ok(&h));
        h = g;
        h.dh = 2;
        T_CHECK(!nnc_conv_small_ok(&h));
        h = geom(2, 1, 28, 10, 6, 5, 9, 0, 0);
        T_CHECK(!nnc_conv_small_ok(&h)); /* kernel wider than 7 */
        h = geom(2, 1, 8, 8, 6, 3, 3, 0, 0);
        T_CHECK(!nnc_conv_small_ok(&h)); /* fewer than 8 output columns */
        setenv("NNC_CONV_SMALL", "0", 1);
        T_CHECK(!nnc_conv_small_ok(&g));
        unsetenv("NNC_CONV_SMALL");
    }
}

/* x [N,C,H,W] (needing its gradient) -> conv -> mse: the op on the direct
 * path equals the im2col path (NNC_CONV=im2col), dx and db included; a
 * training step allocates nothing. */
static float *op_run(int im2col, int64_t *count) {
    if (im2col) setenv("NNC_CONV", "im2col", 1);
    nnc_graph *g = nnc_graph_new();
    nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){3, 20, 19});
    nnc_input_requires_grad(x);
    nnc_node *y = nnc_conv2d_layer(g, x, "conv", 7, 5, 3, &(nnc_conv2d_opts){{1, 1}, {2, 1}, {1, 1}, 1}, 1);
    nnc_node *t = nnc_input(g, "t", NNC_F32, 3, (int64_t[]){7, 20, 19});
    nnc_graph_output(g, y);
    nnc_graph_loss(g, nnc_mse(g, y, t, NNC_SUM), 1.0f);
    nnc_optim o = nnc_optim_sgd(0.01f, 0.9f, 0.0f);
    T_OK(nnc_graph_set_optimizer(g, &o));
    T_OK(nnc_graph_compile(g, 10, 1));
    float *xv = nnc_node_value(x)->data, *tv = nnc_node_value(t)->data;
    for (int64_t i = 0; i < 10 * 3 * 20 * 19; i++) xv[i] = nnc_rand_normal(5, 1, (uint64_t)i);
    for (int64_t i = 0; i < 10 * 7 * 20 * 19; i++) tv[i] = nnc_rand_normal(5, 2, (uint64_t)i);
    T_OK(nnc_graph_forward(g));
    T_OK(nnc_graph_backward(g));
    nnc_tensor *yt = nnc_node_value(y), *dx = nnc_node_grad(x);
    nnc_node *w = nnc_graph_find(g, "conv.weight"), *b = nnc_graph_find(g, "conv.bias");
    int64_t ny = nnc_tensor_numel(yt), nx = nnc_tensor_numel(dx), nw = nnc_tensor_numel(nnc_node_grad(w)), nb = 7;
    float *out = malloc((size_t)(ny + nx + nw + nb) * sizeof(float));
    memcpy(out, yt->data, (size_t)ny * sizeof(float));
    memcpy(out + ny, dx->data, (size_t)nx * sizeof(float));
    memcpy(out + ny + nx, nnc_node_grad(w)->data, (size_t)nw * sizeof(float));
    memcpy(out + ny + nx + nw, nnc_node_grad(b)->data, (size_t)nb * sizeof(float));
    *count = ny + nx + nw + nb;
    if (!im2col) {
        long before = t_alloc_count;
        for (int i = 0; i < 3; i++) T_OK(nnc_graph_train_step(g, NULL));
        T_CHECKF(t_alloc_count == before, "%ld allocations in 3 steps", t_alloc_count - before);
    }
    nnc_graph_free(g);
    unsetenv("NNC_CONV");
    return out;
}

static void check_op(void) {
    T_CASE("conv2d op on the direct path == im2col path (y, dx, dw, db); steps allocate nothing") {
        int64_t n1 = 0, n2 = 0;
        float *a = op_run(0, &n1), *b = op_run(1, &n2);
        T_CHECK(n1 == n2 && n1 > 0);
        if (n1 == n2) T_CHECK(t_close("y|dx|dw|db", a, b, n1, 1e-4, 1e-4));
        free(a);
        free(b);
    }
}

int main(void) {
    check_geom(geom(64, 1, 28, 28, 6, 5, 5, 2, 2));   /* LeNet-5 conv1 */
    check_geom(geom(3, 3, 32, 32, 16, 3, 3, 1, 1));   /* ResNet-20's first conv */
    check_geom(geom(9, 2, 11, 37, 13, 4, 7, 0, 3));   /* odd sizes, partial chunk, 3 tiles */
    check_geom(geom(2, 4, 9, 8, 5, 1, 1, 0, 0));      /* 1x1 */
    check_geom(geom(5, 1, 12, 20, 17, 6, 2, 3, 0));   /* K off both register blocks */
    check_geom(geom(1, 3, 7, 16, 64, 7, 6, 3, 2));    /* the largest K */
    check_eligibility();
    check_op();
    return t_finish();
}
