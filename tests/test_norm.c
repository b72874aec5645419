/* test_norm.c -- LRN, group norm and layer norm against values computed by
 * hand, the builders' parameter names and initial values, and shape errors. */
#include "testlib.h"
#include <stdlib.h>
#include <string.h>

static float *val(nnc_node *n) { return (float *)nnc_node_value(n)->data; }

/* Compiles g for one sample in eval mode, copies x, runs forward and compares y. */
static void run1(nnc_graph *g, nnc_node *x, const float *xv, nnc_node *y, const float *want, int64_t n, double atol) {
    nnc_graph_output(g, y);
    T_OK(nnc_graph_status(g));
    if (nnc_graph_status(g)) return;
    T_OK(nnc_graph_compile(g, 1, 0));
    if (nnc_graph_status(g) || !val(y)) return;
    memcpy(val(x), xv, (size_t)n * sizeof(float));
    T_OK(nnc_graph_forward(g));
    t_close("y", val(y), want, n, 1e-6, atol);
}

static void test_lrn(void) {
    /* x = 1, 2, 3 over 3 channels; size 3: windows {0,1}, {0,1,2}, {1,2};
     * sums of squares 5, 14, 13. PyTorch form alpha 3 (a = alpha/size = 1),
     * beta 1, k 1: y = x / (1 + sum) = 1/6, 2/15, 3/14. */
    const float x3[3] = {1, 2, 3}, want3[3] = {1.0f / 6, 2.0f / 15, 3.0f / 14};
    T_CASE("lrn size 3, PyTorch form (alpha/size): hand values, borders zero-padded") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){3, 1, 1});
        run1(g, x, x3, nnc_lrn(g, x, 3, 3.0f, 1.0f, 1.0f, 0), want3, 3, 1e-7);
        nnc_graph_free(g);
    }
    T_CASE("lrn size 3, paper form (alpha on the sum): alpha 1 gives the same values") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){3, 1, 1});
        run1(g, x, x3, nnc_lrn(g, x, 3, 1.0f, 1.0f, 1.0f, 1), want3, 3, 1e-7);
        nnc_graph_free(g);
    }
    T_CASE("lrn size 2 (even: window c-1..c), [N,C] input, beta 0.5, k 2") {
        /* a = 4/2 = 2; windows {0}, {0,1}, {1,2}: sums 1, 5, 13;
         * y = x / sqrt(2 + 2 sum) = 1/2, 2/sqrt(12), 3/sqrt(28) */
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){3});
        const float want[3] = {0.5f, 2.0f / sqrtf(12.0f), 3.0f / sqrtf(28.0f)};
        run1(g, x, x3, nnc_lrn(g, x, 2, 4.0f, 0.5f, 2.0f, 0), want, 3, 1e-7);
        nnc_graph_free(g);
    }
    T_CASE("lrn AlexNet defaults (size 5, alpha 1e-4, beta 0.75, k 2, paper form) per pixel") {
        /* 2 channels, 2 pixels: each window covers both channels.
         * pixel 0: x = 1, 2 -> s = 2 + 1e-4 * 5; pixel 1: x = 10, -10 -> s = 2 + 1e-4 * 200 */
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){2, 1, 2});
        const float xv[4] = {1, 10, 2, -10};
        double s0 = 2 + 1e-4 * 5, s1 = 2 + 1e-4 * 200;
        const float want[4] = {(float)(1 / pow(s0, 0.75)), (float)(10 / pow(s1, 0.75)), (float)(2 / pow(s0, 0.75)),
                               (float)(-10 / pow(s1, 0.75))};
        run1(g, x, xv, nnc_lrn(g, x, 5, 1e-4f, 0.75f, 2.0f, 1), want, 4, 1e-6);
        nnc_graph_free(g);
    }
    T_CASE("lrn rejects size 0 and k <= 0") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){3});
        T_CHECK(nnc_lrn(g, x, 0, 1e-4f, 0.75f, 2.0f, 0) == NULL);
        T_CHECK(nnc_graph_status(g) == NNC_ERR_ARG);
        nnc_graph_free(g);
        g = nnc_graph_new();
        x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){3});
        T_CHECK(nnc_lrn(g, x, 5, 1e-4f, 0.75f, 0.0f, 0) == NULL);
        nnc_graph_free(g);
    }
}

static void test_group_norm(void) {
    T_CASE("group_norm 2 groups of 2 channels, eps 0: +-1 per group, affine by hand") {
        /* channels 1,2 | 3,4 (one pixel): means 1.5, 3.5, var 0.25 -> xhat -1, 1, -1, 1;
         * weight 1, 2, 3, 4 and bias 0, 1, 0, -1 -> -1, 3, -3, 3 */
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){4, 1, 1});
        nnc_node *y = nnc_group_norm_layer(g, x, "gn", 2, 0.0f, 1);
        nnc_graph_output(g, y);
        T_OK(nnc_graph_compile(g, 1, 0));
        nnc_node *w = nnc_graph_find(g, "gn.weight"), *b = nnc_graph_find(g, "gn.bias");
        T_CHECK(w && b);
        if (w && b && !nnc_graph_status(g)) {
            const float w0[4] = {1, 1, 1, 1}, b0[4] = {0, 0, 0, 0};
            t_close("initial weight", val(w), w0, 4, 0, 0);
            t_close("initial bias", val(b), b0, 4, 0, 0);
            memcpy(val(w), (float[]){1, 2, 3, 4}, sizeof w0);
            memcpy(val(b), (float[]){0, 1, 0, -1}, sizeof b0);
            memcpy(val(x), (float[]){1, 2, 3, 4}, sizeof w0);
            T_OK(nnc_graph_forward(g));
            t_close("y", val(y), (float[]){-1, 3, -3, 3}, 4, 1e-6, 1e-6);
        }
        nnc_graph_free(g);
    }
    T_CASE("group_norm 1 group over channels and pixels, no affine, eps 1e-5") {
        /* x = 0..5 over [2 channels, 3 pixels]: mean 2.5, var 35/12 */
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){2, 3});
        float xv[6], want[6];
        double r = 1 / sqrt(35.0 / 12 + 1e-5);
        for (int i = 0; i < 6; i++) { xv[i] = (float)i; want[i] = (float)((i - 2.5) * r); }
        run1(g, x, xv, nnc_group_norm_layer(g, x, "gn", 1, 1e-5f, 0), want, 6, 1e-6);
        T_CHECK(nnc_graph_n_params(g) == 0);
        nnc_graph_free(g);
    }
    T_CASE("group_norm G = C (instance norm): each channel normalized alone") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){2, 2});
        const float xv[4] = {1, 3, 10, 20}, want[4] = {-1, 1, -1, 1};
        run1(g, x, xv, nnc_group_norm(g, x, NULL, NULL, 2, 0.0f), want, 4, 1e-6);
        nnc_graph_free(g);
    }
    T_CASE("group_norm layer: groups not dividing C is a shape error naming the layer") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){6, 2, 2});
        T_CHECK(nnc_group_norm_layer(g, x, "gn1", 4, 1e-5f, 1) == NULL);
        T_CHECK(nnc_graph_status(g) == NNC_ERR_SHAPE);
        T_CHECKF(strstr(nnc_graph_error(g), "gn1") != NULL, "message: %s", nnc_graph_error(g));
        nnc_graph_free(g);
    }
}

static void test_layer_norm(void) {
    T_CASE("layer_norm over the last dim: hand values, PyTorch names and init") {
        /* rows 1,2,3,4 and 2,2,2,6: means 2.5, 3; vars 1.25, 3 */
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){2, 4});
        nnc_node *y = nnc_layer_norm_layer(g, x, "ln", 1, 1e-5f, 1);
        nnc_graph_output(g, y);
        T_OK(nnc_graph_compile(g, 1, 0));
        nnc_node *w = nnc_graph_find(g, "ln.weight"), *b = nnc_graph_find(g, "ln.bias");
        T_CHECK(w && b);
        if (w && b && !nnc_graph_status(g)) {
            T_CHECK(nnc_node_value(w)->ndim == 1 && nnc_node_value(w)->shape[0] == 4);
            t_close("initial weight", val(w), (float[]){1, 1, 1, 1}, 4, 0, 0);
            t_close("initial bias", val(b), (float[]){0, 0, 0, 0}, 4, 0, 0);
            memcpy(val(x), (float[]){1, 2, 3, 4, 2, 2, 2, 6}, 8 * sizeof(float));
            T_OK(nnc_graph_forward(g));
            double r0 = 1 / sqrt(1.25 + 1e-5), r1 = 1 / sqrt(3 + 1e-5);
            float want[8] = {(float)(-1.5 * r0), (float)(-0.5 * r0), (float)(0.5 * r0), (float)(1.5 * r0),
                             (float)(-r1), (float)(-r1), (float)(-r1), (float)(3 * r1)};
            t_close("y", val(y), want, 8, 1e-6, 1e-6);
        }
        nnc_graph_free(g);
    }
    T_CASE("layer_norm over the last 2 dims with weight and bias, eps 0") {
        /* one sample [2,2] = 1,3,1,3: mean 2, var 1 -> -1, 1, -1, 1; w = 2, b = 0.5 */
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){2, 2});
        nnc_node *w = nnc_param(g, "w", 2, (int64_t[]){2, 2}, (nnc_init){.kind = NNC_INIT_CONST, .a = 2.0f});
        nnc_node *b = nnc_param(g, "b", 2, (int64_t[]){2, 2}, (nnc_init){.kind = NNC_INIT_CONST, .a = 0.5f});
        const float xv[4] = {1, 3, 1, 3}, want[4] = {-1.5f, 2.5f, -1.5f, 2.5f};
        run1(g, x, xv, nnc_layer_norm(g, x, w, b, 2, 0.0f), want, 4, 1e-6);
        nnc_graph_free(g);
    }
    T_CASE("layer_norm: weight of the wrong shape and ndims covering the batch are shape errors") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){3, 4});
        nnc_node *w = nnc_param(g, "w", 1, (int64_t[]){3}, (nnc_init){.kind = NNC_INIT_ZEROS});
        T_CHECK(nnc_layer_norm(g, x, w, NULL, 1, 1e-5f) == NULL);
        T_CHECK(nnc_graph_status(g) == NNC_ERR_SHAPE);
        nnc_graph_free(g);
        g = nnc_graph_new();
        x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){3, 4});
        T_CHECK(nnc_layer_norm(g, x, NULL, NULL, 3, 1e-5f) == NULL);
        T_CHECK(nnc_graph_status(g) == NNC_ERR_SHAPE);
        nnc_graph_free(g);
    }
}

/* ------------------------------------------ threads and allocations */

/* x -> lrn -> group norm -> layer norm -> sum of squared errors; big enough
 * (36864 elements) that every kernel takes its parallel path. Copies y, dx
 * and the group-norm and layer-norm weight gradients out. */
#define TH_C 16
#define TH_HW 24
#define TH_N 4
#define TH_CNT (TH_N * TH_C * TH_HW * TH_HW)
static void norm_step(int threads, float *y_out, float *dx_out, float *dgn_out, float *dln_out, long *allocs) {
    nnc_set_threads(threads);
    nnc_graph *g = nnc_graph_new();
    nnc_graph_set_seed(g, 5);
    nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){TH_C, TH_HW, TH_HW});
    nnc_input_requires_grad(x);
    nnc_node *h = nnc_lrn(g, x, 5, 1.0f, 0.75f, 2.0f, 0);
    h = nnc_group_norm_layer(g, h, "gn", 4, 1e-5f, 1);
    nnc_node *y = nnc_layer_norm_layer(g, h, "ln", 2, 1e-5f, 1);
    nnc_node *t = nnc_input(g, "t", NNC_F32, 3, (int64_t[]){TH_C, TH_HW, TH_HW});
    nnc_graph_output(g, y);
    nnc_graph_loss(g, nnc_mse(g, y, t, NNC_SUM), 1.0f);
    T_OK(nnc_graph_compile(g, TH_N, 1));
    if (nnc_graph_status(g)) { nnc_graph_free(g); return; }
    for (int64_t i = 0; i < TH_CNT; i++) {
        val(x)[i] = 2.0f * nnc_rand_normal(6, 0, (uint64_t)i);
        val(t)[i] = nnc_rand_normal(6, 1, (uint64_t)i);
    }
    nnc_node *gw = nnc_graph_find(g, "gn.weight"), *lw = nnc_graph_find(g, "ln.weight");
    for (int i = 0; i < TH_C; i++) val(gw)[i] = 0.5f + 0.1f * (float)i;
    for (int i = 0; i < TH_HW * TH_HW; i++) val(lw)[i] = 1.0f + 0.001f * (float)i;
    long before = t_alloc_count;
    T_OK(nnc_graph_forward(g));
    T_OK(nnc_graph_backward(g));
    *allocs = t_alloc_count - before;
    memcpy(y_out, val(y), TH_CNT * sizeof(float));
    memcpy(dx_out, nnc_node_grad(x)->data, TH_CNT * sizeof(float));
    memcpy(dgn_out, nnc_node_grad(gw)->data, TH_C * sizeof(float));
    memcpy(dln_out, nnc_node_grad(lw)->data, TH_HW * TH_HW * sizeof(float));
    nnc_graph_free(g);
}

static void test_threads(void) {
    T_CASE("lrn + group norm + layer norm step: no heap allocation, same results on 1 and 2 threads") {
        int saved = nnc_get_threads();
        static float y1[TH_CNT], y2[TH_CNT], dx1[TH_CNT], dx2[TH_CNT], g1[TH_C], g2[TH_C], l1[TH_HW * TH_HW], l2[TH_HW * TH_HW];
        long a1 = -1, a2 = -1;
        norm_step(1, y1, dx1, g1, l1, &a1);
        norm_step(2, y2, dx2, g2, l2, &a2);
        nnc_set_threads(saved);
        T_CHECKF(a1 == 0 && a2 == 0, "forward+backward allocated %ld and %ld times", a1, a2);
        T_CHECKF(memcmp(y1, y2, sizeof y1) == 0, "y differs between 1 and 2 threads");
        T_CHECKF(memcmp(dx1, dx2, sizeof dx1) == 0, "dx differs between 1 and 2 threads");
        T_CHECKF(memcmp(g1, g2, sizeof g1) == 0, "group norm dweight differs between 1 and 2 threads");
        T_CHECKF(memcmp(l1, l2, sizeof l1) == 0, "layer norm dweight differs between 1 and 2 threads");
        double s = 0;
        for (int i = 0; i < TH_CNT; i++) s += fabs(dx1[i]);
        T_CHECKF(s > 0 && isfinite(s), "dx is all zero or not finite (sum |dx| = %g)", s);
    }
}

int main(void) {
    test_lrn();
    test_group_norm();
    test_layer_norm();
    test_threads();
    return t_finish();
}
