/* test_conv_family.c -- hand-computed forward values for the convolution
 * relatives (conv1d, conv3d, locally_connected2d, subsampling/channel_affine,
 * conv2d_table, rbf) and the worked examples with conv2d/pooling;
 * conv3d's vol2col + GEMM path against its direct reference (forward and
 * backward); conv2d_table against a full conv2d with zeroed missing
 * connections; a gradient check of the composite conv1d (it has no op of
 * its own, so test_gradcheck does not see it). Exact small-integer values
 * are compared with atol 1e-5 (float32 sums of a few integers are exact). */
#include "testlib.h"
#include "core/graph.h"
#include "kernels/conv3d.h"
#include <stdlib.h>
#include <string.h>

static void set(nnc_node *n, const float *v) { memcpy(nnc_node_value(n)->data, v, nnc_tensor_bytes(nnc_node_value(n))); }
static const float *val(nnc_node *n) { return nnc_node_value(n)->data; }
static void fill_rand(float *p, int64_t n, uint64_t stream) {
    for (int64_t i = 0; i < n; i++) p[i] = nnc_rand_normal(5, stream, (uint64_t)i);
}
static void check_shape(nnc_node *n, int ndim, const int64_t *shape) {
    const nnc_tensor *t = nnc_node_value(n);
    char b[64];
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = t->shape[i] == shape[i];
    T_CHECKF(ok, "shape %s", nnc_shape_str(t, b, sizeof b));
}

/* the 5x5 example input and the "X" kernel */
static const float X5[25] = {1, 2, 0, 1, 2, 0, 1, 3, 1, 0, 2, 1, 0, 2, 1, 1, 0, 1, 3, 2, 0, 2, 1, 0, 1};
static const float KX[9] = {1, 0, 1, 0, 1, 0, 1, 0, 1};

static void worked_conv(int stride, int pad, const float *want) {
    nnc_graph *g = nnc_graph_new();
    nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){1, 5, 5});
    nnc_node *w = nnc_param(g, "w", 4, (int64_t[]){1, 1, 3, 3}, (nnc_init){.kind = NNC_INIT_ZEROS});
    nnc_conv2d_opts o = {{stride, stride}, {pad, pad}, {1, 1}, 1};
    nnc_node *y = nnc_conv2d(g, x, w, NULL, &o);
    nnc_graph_output(g, y);
    T_OK(nnc_graph_compile(g, 1, 0));
    set(x, X5);
    set(w, KX);
    T_OK(nnc_graph_forward(g));
    check_shape(y, 4, (int64_t[]){1, 1, 3, 3});
    t_close("y", val(y), want, 9, 0, 1e-5);
    nnc_graph_free(g);
}

static void worked_pool(int is_max, const float *want) {
    nnc_graph *g = nnc_graph_new();
    nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){1, 5, 5});
    nnc_pool2d_opts o = {{3, 3}, {1, 1}, {0, 0}, 0, 1};
    nnc_node *y = is_max ? nnc_maxpool2d(g, x, &o) : nnc_avgpool2d(g, x, &o);
    nnc_graph_output(g, y);
    T_OK(nnc_graph_compile(g, 1, 0));
    set(x, X5);
    T_OK(nnc_graph_forward(g));
    check_shape(y, 4, (int64_t[]){1, 1, 3, 3});
    t_close("y", val(y), want, 9, 1e-6, 1e-6);
    nnc_graph_free(g);
}

static void test_worked_examples(void) {
    T_CASE("worked example: 5x5 (*) 3x3, stride 1, no padding -> 3x3") {
        static const float want[9] = {4, 9, 4, 6, 5, 8, 3, 6, 6};
        worked_conv(1, 0, want);
    }
    T_CASE("worked example: 5x5 (*) 3x3, stride 2, padding 1 -> 3x3") {
        static const float want[9] = {2, 2, 3, 3, 5, 5, 0, 4, 4};
        worked_conv(2, 1, want);
    }
    T_CASE("worked example: 3x3 average pooling, stride 1, on 5x5") {
        float want[9] = {10, 11, 10, 9, 12, 13, 8, 10, 11};
        for (int i = 0; i < 9; i++) want[i] /= 9.0f;
        worked_pool(0, want);
    }
    T_CASE("worked example: 3x3 max pooling, stride 1, on 5x5") {
        static const float want[9] = {3, 3, 3, 3, 3, 3, 2, 3, 3};
        worked_pool(1, want);
    }
    T_CASE("worked example: a two-channel convolution sums the per-channel results") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){2, 5, 5});
        nnc_node *w = nnc_param(g, "w", 4, (int64_t[]){1, 2, 3, 3}, (nnc_init){.kind = NNC_INIT_ZEROS});
        nnc_node *b = nnc_param(g, "b", 1, (int64_t[]){1}, (nnc_init){.kind = NNC_INIT_CONST, .a = 0.5f});
        nnc_node *y = nnc_conv2d(g, x, w, b, NULL);
        nnc_graph_output(g, y);
        T_OK(nnc_graph_compile(g, 1, 0));
        float xv[50], wv[18];
        memcpy(xv, X5, sizeof X5);
        for (int i = 25; i < 50; i++) xv[i] = 1; /* channel 1: ones; its all-ones kernel adds 9 */
        memcpy(wv, KX, sizeof KX);
        for (int i = 9; i < 18; i++) wv[i] = 1;
        set(x, xv);
        set(w, wv);
        T_OK(nnc_graph_forward(g));
        static const float want[9] = {13.5f, 18.5f, 13.5f, 15.5f, 14.5f, 17.5f, 12.5f, 15.5f, 15.5f};
        t_close("y", val(y), want, 9, 0, 1e-5);
        nnc_graph_free(g);
    }
}

static void test_conv1d(void) {
    T_CASE("conv1d: [1,2,3,4,5] (*) [1,0,-1] + 1, padding 1; stride 2") {
        for (int stride = 1; stride <= 2; stride++) {
            nnc_graph *g = nnc_graph_new();
            nnc_node *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){1, 5});
            nnc_conv1d_opts o = {stride, 1, 1, 1};
            nnc_node *y = nnc_conv1d_layer(g, x, "c", 1, 3, &o, 1);
            nnc_graph_output(g, y);
            T_OK(nnc_graph_status(g));
            T_CHECK(nnc_graph_n_params(g) == 2);
            nnc_node *w = nnc_graph_param_at(g, 0), *b = nnc_graph_param_at(g, 1);
            T_CHECK(!strcmp(nnc_node_name(w), "c.weight") && !strcmp(nnc_node_name(b), "c.bias"));
            check_shape(w, 3, (int64_t[]){1, 1, 3}); /* PyTorch's Conv1d weight shape */
            T_OK(nnc_graph_compile(g, 1, 0));
            set(x, (const float[]){1, 2, 3, 4, 5});
            set(w, (const float[]){1, 0, -1});
            set(b, (const float[]){1});
            T_OK(nnc_graph_forward(g));
            if (stride == 1) {
                check_shape(y, 3, (int64_t[]){1, 1, 5});
                t_close("y", val(y), (const float[]){-1, -1, -1, -1, 5}, 5, 0, 1e-5);
            } else {
                check_shape(y, 3, (int64_t[]){1, 1, 3});
                t_close("y", val(y), (const float[]){-1, -1, 5}, 3, 0, 1e-5);
            }
            nnc_graph_free(g);
        }
    }
    T_CASE("conv1d layer: gradient check (composite over conv2d, groups 2, dilation 2)") {
        nnc_graph *g = nnc_graph_new();
        nnc_graph_set_seed(g, 3);
        nnc_node *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){4, 9});
        nnc_input_requires_grad(x);
        nnc_conv1d_opts o = {2, 2, 2, 2};
        nnc_node *y = nnc_conv1d_layer(g, x, "c", 6, 3, &o, 1);
        nnc_graph_output(g, y);
        T_OK(nnc_graph_compile(g, 2, 1));
        fill_rand(nnc_node_value(x)->data, nnc_tensor_numel(nnc_node_value(x)), 1);
        nnc_gradcheck_opts go = nnc_gradcheck_defaults();
        go.eps = 1e-2; go.rtol = 2e-3; go.atol = 1e-4; go.full_jacobian = 1;
        nnc_gradcheck_result r;
        T_OK(nnc_gradcheck(g, &go, &r));
        T_CHECK(r.n_checked > 0);
        nnc_graph_free(g);
    }
}

static void test_conv3d(void) {
    T_CASE("conv3d: 2x2x2 volume 1..8, hand-picked kernel; ones kernel with padding 1") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 4, (int64_t[]){1, 2, 2, 2});
        nnc_node *w = nnc_param(g, "w", 5, (int64_t[]){2, 1, 2, 2, 2}, (nnc_init){.kind = NNC_INIT_ZEROS});
        nnc_node *y = nnc_conv3d(g, x, w, NULL, NULL);
        nnc_conv3d_opts o = {{1, 1, 1}, {1, 1, 1}, {1, 1, 1}, 1};
        nnc_node *w1 = nnc_param(g, "w1", 5, (int64_t[]){1, 1, 2, 2, 2}, (nnc_init){.kind = NNC_INIT_CONST, .a = 1});
        nnc_node *y1 = nnc_conv3d(g, x, w1, NULL, &o);
        nnc_graph_output(g, y);
        nnc_graph_output(g, y1);
        T_OK(nnc_graph_compile(g, 1, 0));
        set(x, (const float[]){1, 2, 3, 4, 5, 6, 7, 8});
        /* map 0: x[0,0,0] + 2 x[1,1,1] = 1 + 16; map 1: x[0,1,0] - x[1,0,1] = 3 - 6 */
        set(w, (const float[]){1, 0, 0, 0, 0, 0, 0, 2, 0, 0, 1, 0, 0, -1, 0, 0});
        T_OK(nnc_graph_forward(g));
        check_shape(y, 5, (int64_t[]){1, 2, 1, 1, 1});
        t_close("y", val(y), (const float[]){17, -3}, 2, 0, 1e-5);
        check_shape(y1, 5, (int64_t[]){1, 1, 3, 3, 3});
        const float *v = val(y1);
        T_CHECKF(v[0] == 1 && v[13] == 36 && v[26] == 8 && v[1] == 3 && v[4] == 10, "corners/centre %g %g %g %g %g", v[0], v[13], v[26], v[1], v[4]);
        nnc_graph_free(g);
    }
    T_CASE("conv3d layer: vol2col + GEMM equals the direct reference (forward and backward)") {
        nnc_graph *g = nnc_graph_new();
        nnc_graph_set_seed(g, 9);
        nnc_node *x = nnc_input(g, "x", NNC_F32, 4, (int64_t[]){4, 5, 6, 7});
        nnc_input_requires_grad(x);
        nnc_conv3d_opts o = {{2, 1, 2}, {1, 1, 0}, {1, 2, 1}, 2};
        nnc_node *y = nnc_conv3d_layer(g, x, "c3d", 6, 3, 2, 3, &o, 1);
        nnc_graph_output(g, y);
        T_OK(nnc_graph_status(g));
        T_CHECK(!strcmp(nnc_node_name(nnc_graph_param_at(g, 0)), "c3d.weight"));
        check_shape(nnc_graph_param_at(g, 0), 5, (int64_t[]){6, 2, 3, 2, 3});
        g->seed_outputs = 1;
        T_OK(nnc_graph_compile(g, 3, 1));
        nnc_conv3d_geom q = {3, 4, 5, 6, 7, 6, 3, 2, 3, 0, 0, 0, 2, 1, 2, 1, 1, 0, 1, 2, 1, 2};
        q.OD = nnc_node_value(y)->shape[2]; q.OH = nnc_node_value(y)->shape[3]; q.OW = nnc_node_value(y)->shape[4];
        T_CHECK(q.OD == 3 && q.OH == 6 && q.OW == 3);
        int64_t nx = nnc_tensor_numel(nnc_node_value(x)), ny = nnc_tensor_numel(nnc_node_value(y)), nw = 6 * 2 * 18;
        float *dy = malloc((size_t)ny * 4), *ry = malloc((size_t)ny * 4), *rdx = malloc((size_t)nx * 4), *rdw = malloc((size_t)nw * 4), rdb[6];
        fill_rand(nnc_node_value(x)->data, nx, 1);
        fill_rand(dy, ny, 2);
        T_OK(nnc_graph_forward(g));
        nnc_node *w = nnc_graph_param_at(g, 0), *b = nnc_graph_param_at(g, 1);
        nnc_conv3d_ref(&q, val(x), val(w), val(b), ry);
        t_close("y", val(y), ry, ny, 1e-4, 1e-5);
        y->seed = dy;
        T_OK(nnc_graph_backward(g));
        y->seed = NULL;
        nnc_conv3d_ref_backward(&q, val(x), val(w), dy, rdx, rdw, rdb);
        t_close("dx", nnc_node_grad(x)->data, rdx, nx, 1e-4, 1e-5);
        t_close("dw", nnc_node_grad(w)->data, rdw, nw, 1e-4, 1e-4);
        t_close("db", nnc_node_grad(b)->data, rdb, 6, 1e-4, 1e-4);
        free(dy); free(ry); free(rdx); free(rdw);
        nnc_graph_free(g);
    }
}

static void test_locally_connected(void) {
    T_CASE("locally_connected2d: each position picks a different tap, plus its own bias") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){1, 3, 3});
        nnc_node *y = nnc_locally_connected2d_layer(g, x, "lc", 1, 2, 2, NULL, NULL, 1);
        nnc_graph_output(g, y);
        T_OK(nnc_graph_status(g));
        nnc_node *w = nnc_graph_param_at(g, 0), *b = nnc_graph_param_at(g, 1);
        check_shape(w, 3, (int64_t[]){4, 1, 4});
        check_shape(b, 3, (int64_t[]){1, 2, 2});
        T_OK(nnc_graph_compile(g, 1, 0));
        set(x, (const float[]){1, 2, 3, 4, 5, 6, 7, 8, 9});
        set(w, (const float[]){1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1});
        set(b, (const float[]){10, 20, 30, 40});
        T_OK(nnc_graph_forward(g));
        t_close("y", val(y), (const float[]){11, 23, 37, 49}, 4, 0, 1e-5);
        nnc_graph_free(g);
    }
    T_CASE("locally_connected2d with the same filter at every position equals conv2d") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){3, 7, 6});
        nnc_node *wc = nnc_param(g, "wc", 4, (int64_t[]){4, 3, 3, 2}, (nnc_init){.kind = NNC_INIT_UNIFORM, .a = -1, .b = 1});
        nnc_node *bc = nnc_param(g, "bc", 1, (int64_t[]){4}, (nnc_init){.kind = NNC_INIT_UNIFORM, .a = -1, .b = 1});
        nnc_conv2d_opts o = {{2, 1}, {1, 1}, {1, 1}, 1};
        nnc_node *yc = nnc_conv2d(g, x, wc, bc, &o);
        nnc_node *y = nnc_locally_connected2d_layer(g, x, "lc", 4, 3, 2, (int[]){2, 1}, (int[]){1, 1}, 1);
        nnc_graph_output(g, yc);
        nnc_graph_output(g, y);
        T_OK(nnc_graph_compile(g, 2, 0));
        nnc_node *w = nnc_graph_param_at(g, 2), *b = nnc_graph_param_at(g, 3);
        const nnc_tensor *yt = nnc_node_value(y);
        int64_t P = yt->shape[2] * yt->shape[3];
        T_CHECK(nnc_node_value(w)->shape[0] == P);
        float *wv = nnc_node_value(w)->data, *bv = nnc_node_value(b)->data;
        for (int64_t p = 0; p < P; p++) memcpy(wv + p * 72, val(wc), 72 * sizeof(float));
        for (int64_t k = 0; k < 4; k++)
            for (int64_t p = 0; p < P; p++) bv[k * P + p] = val(bc)[k];
        fill_rand(nnc_node_value(x)->data, nnc_tensor_numel(nnc_node_value(x)), 3);
        T_OK(nnc_graph_forward(g));
        t_close("y", val(y), val(yc), nnc_tensor_numel(yt), 1e-5, 1e-5);
        nnc_graph_free(g);
    }
}

static void test_subsampling(void) {
    T_CASE("subsampling layer: 2x2 average, then coefficient and bias per map; init 1 and 0") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){2, 4, 4});
        nnc_node *y = nnc_subsampling_layer(g, x, "s2", 2);
        nnc_graph_output(g, y);
        T_OK(nnc_graph_status(g));
        nnc_node *a = nnc_graph_param_at(g, 0), *b = nnc_graph_param_at(g, 1);
        T_CHECK(!strcmp(nnc_node_name(a), "s2.weight") && !strcmp(nnc_node_name(b), "s2.bias"));
        T_OK(nnc_graph_compile(g, 1, 0));
        T_CHECK(val(a)[0] == 1 && val(a)[1] == 1 && val(b)[0] == 0 && val(b)[1] == 0);
        float xv[32];
        for (int i = 0; i < 16; i++) { xv[i] = (float)(i + 1); xv[16 + i] = 2; }
        set(x, xv);
        set(a, (const float[]){2, -1});
        set(b, (const float[]){0.5f, 0});
        T_OK(nnc_graph_forward(g));
        check_shape(y, 4, (int64_t[]){1, 2, 2, 2});
        t_close("y", val(y), (const float[]){7.5f, 11.5f, 23.5f, 27.5f, -2, -2, -2, -2}, 8, 0, 1e-5);
        nnc_graph_free(g);
    }
    T_CASE("channel_affine on [N, C]: y = x a[c] + b[c]") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){3});
        nnc_node *a = nnc_param(g, "a", 1, (int64_t[]){3}, (nnc_init){.kind = NNC_INIT_ZEROS});
        nnc_node *b = nnc_param(g, "b", 1, (int64_t[]){3}, (nnc_init){.kind = NNC_INIT_ZEROS});
        nnc_node *y = nnc_channel_affine(g, x, a, b);
        nnc_graph_output(g, y);
        T_OK(nnc_graph_compile(g, 2, 0));
        set(x, (const float[]){1, 2, 3, -1, -2, -3});
        set(a, (const float[]){2, 3, 4});
        set(b, (const float[]){1, 0, -1});
        T_OK(nnc_graph_forward(g));
        t_close("y", val(y), (const float[]){3, 6, 11, -1, -6, -13}, 6, 0, 1e-6);
        nnc_graph_free(g);
    }
}

static void test_conv2d_table(void) {
    T_CASE("conv2d_table: 1x1 kernels, maps {0}, {1}, {0,1}: packed weights and bias") {
        static const unsigned char t[3][2] = {{1, 0}, {0, 1}, {1, 1}};
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){2, 2, 2});
        nnc_node *w = nnc_param(g, "w", 3, (int64_t[]){4, 1, 1}, (nnc_init){.kind = NNC_INIT_ZEROS});
        nnc_node *b = nnc_param(g, "b", 1, (int64_t[]){3}, (nnc_init){.kind = NNC_INIT_ZEROS});
        nnc_node *y = nnc_conv2d_table(g, x, w, b, 3, 2, &t[0][0], NULL);
        nnc_graph_output(g, y);
        T_OK(nnc_graph_compile(g, 1, 0));
        set(x, (const float[]){1, 2, 3, 4, 10, 20, 30, 40});
        set(w, (const float[]){1, 2, 3, 4});
        set(b, (const float[]){0, 0, 1});
        T_OK(nnc_graph_forward(g));
        t_close("y", val(y), (const float[]){1, 2, 3, 4, 20, 40, 60, 80, 44, 87, 130, 173}, 12, 0, 1e-5);
        nnc_graph_free(g);
    }
    T_CASE("conv2d_table: LeNet-5 C3 has 60 connections, 1516 parameters; pairs helper") {
        int conns = 0;
        for (int k = 0; k < 16; k++)
            for (int c = 0; c < 6; c++) conns += nnc_lenet5_c3_table[k][c];
        T_CHECK(conns == 60);
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){6, 14, 14});
        nnc_node *y = nnc_conv2d_table_layer(g, x, "c3", 16, 5, 5, &nnc_lenet5_c3_table[0][0]);
        T_OK(nnc_graph_status(g));
        check_shape(y, 4, (int64_t[]){1, 16, 10, 10});
        int64_t total = 0;
        for (int i = 0; i < nnc_graph_n_params(g); i++) total += nnc_tensor_numel(&nnc_graph_param_at(g, i)->out);
        T_CHECKF(total == 1516, "%lld parameters", (long long)total);
        nnc_graph_free(g);
        static const int pairs[][2] = {{0, 1}, {2, 0}, {2, 1}};
        unsigned char t[3][2];
        T_OK(nnc_conv_table_from_pairs(&t[0][0], 3, 2, 3, pairs));
        T_CHECK(t[0][0] == 0 && t[0][1] == 1 && t[1][0] == 0 && t[1][1] == 0 && t[2][0] == 1 && t[2][1] == 1);
        T_CHECK(nnc_conv_table_from_pairs(&t[0][0], 3, 2, 1, (const int[][2]){{3, 0}}) == NNC_ERR_ARG);
    }
    T_CASE("conv2d_table (LeNet-5 C3) equals conv2d with zero weights for missing connections") {
        nnc_graph *g = nnc_graph_new();
        nnc_graph_set_seed(g, 11);
        nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){6, 9, 8});
        nnc_node *y = nnc_conv2d_table_layer(g, x, "c3", 16, 5, 5, &nnc_lenet5_c3_table[0][0]);
        nnc_node *wf = nnc_param(g, "wf", 4, (int64_t[]){16, 6, 5, 5}, (nnc_init){.kind = NNC_INIT_ZEROS});
        nnc_node *bf = nnc_param(g, "bf", 1, (int64_t[]){16}, (nnc_init){.kind = NNC_INIT_ZEROS});
        nnc_node *yf = nnc_conv2d(g, x, wf, bf, NULL);
        nnc_graph_output(g, y);
        nnc_graph_output(g, yf);
        T_OK(nnc_graph_compile(g, 2, 0));
        const float *wp = val(nnc_graph_param_at(g, 0));
        float *wfv = nnc_node_value(wf)->data;
        int j = 0;
        for (int k = 0; k < 16; k++)
            for (int c = 0; c < 6; c++)
                if (nnc_lenet5_c3_table[k][c]) memcpy(wfv + (k * 6 + c) * 25, wp + 25 * j++, 25 * sizeof(float));
        set(bf, val(nnc_graph_param_at(g, 1)));
        fill_rand(nnc_node_value(x)->data, nnc_tensor_numel(nnc_node_value(x)), 4);
        T_OK(nnc_graph_forward(g));
        t_close("y", val(y), val(yf), nnc_tensor_numel(nnc_node_value(y)), 1e-5, 1e-5);
        nnc_graph_free(g);
    }
}

static void test_rbf(void) {
    T_CASE("rbf layer: squared distances to fixed prototypes (a state, not trained); NULL = zeros") {
        static const float proto[6] = {1, 1, 1, 0, 2, 4};
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){3});
        nnc_node *y = nnc_rbf_layer(g, x, "out", 2, proto);
        nnc_node *y0 = nnc_rbf_layer(g, x, "zero", 1, NULL);
        nnc_graph_output(g, y);
        nnc_graph_output(g, y0);
        T_OK(nnc_graph_status(g));
        T_CHECK(nnc_graph_n_params(g) == 0 && nnc_graph_n_state(g) == 2);
        T_CHECK(!strcmp(nnc_node_name(nnc_graph_state_at(g, 0)), "out.weight"));
        T_OK(nnc_graph_compile(g, 2, 0));
        t_close("prototypes", val(nnc_graph_state_at(g, 0)), proto, 6, 0, 0);
        set(x, (const float[]){1, 2, 3, 0, 0, 0});
        T_OK(nnc_graph_forward(g));
        t_close("y", val(y), (const float[]){5, 2, 3, 20}, 4, 0, 1e-5);
        t_close("y0", val(y0), (const float[]){14, 0}, 2, 0, 1e-5);
        /* recompiling (another batch) does not overwrite the state again */
        nnc_graph_state_at(g, 0)->out.data ? (void)(((float *)nnc_graph_state_at(g, 0)->out.data)[0] = 7) : (void)0;
        T_OK(nnc_graph_compile(g, 1, 0));
        T_CHECK(val(nnc_graph_state_at(g, 0))[0] == 7);
        nnc_graph_free(g);
    }
}

/* ---- results must not depend on the thread count (bitwise); no heap
 * allocation in forward or backward (libnnc's allocations are counted) */
typedef nnc_node *(*det_build)(nnc_graph *g, nnc_node *x);
static nnc_node *det_conv3d(nnc_graph *g, nnc_node *x) {
    nnc_conv3d_opts o = {{1, 2, 1}, {1, 1, 1}, {1, 1, 1}, 2};
    return nnc_conv3d_layer(g, nnc_reshape(g, x, 4, (int64_t[]){4, 4, 6, 6}), "c", 6, 3, 3, 3, &o, 1);
}
static nnc_node *det_table(nnc_graph *g, nnc_node *x) {
    return nnc_conv2d_table_layer(g, nnc_reshape(g, x, 3, (int64_t[]){6, 16, 6}), "t", 16, 5, 5, &nnc_lenet5_c3_table[0][0]);
}
static nnc_node *det_lc(nnc_graph *g, nnc_node *x) {
    return nnc_locally_connected2d_layer(g, nnc_reshape(g, x, 3, (int64_t[]){6, 16, 6}), "l", 8, 3, 3, NULL, (int[]){1, 1}, 1);
}
static nnc_node *det_sub(nnc_graph *g, nnc_node *x) { return nnc_subsampling_layer(g, nnc_reshape(g, x, 3, (int64_t[]){6, 16, 6}), "s", 2); }
static nnc_node *det_rbf(nnc_graph *g, nnc_node *x) { return nnc_rbf(g, x, nnc_param(g, "p", 2, (int64_t[]){40, 576}, (nnc_init){.kind = NNC_INIT_UNIFORM, .a = -1, .b = 1})); }

/* forward + backward at `threads`; y, dx and every parameter gradient into out */
static int64_t det_run(det_build build, int threads, float *out) {
    nnc_set_threads(threads);
    nnc_graph *g = nnc_graph_new();
    nnc_graph_set_seed(g, 2);
    nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){576});
    nnc_input_requires_grad(x);
    nnc_node *y = build(g, x);
    nnc_graph_output(g, y);
    g->seed_outputs = 1;
    int64_t n = 0;
    if (nnc_graph_status(g) || nnc_graph_compile(g, 6, 1)) { T_CHECKF(0, "%s", nnc_last_error()); nnc_graph_free(g); return 0; }
    fill_rand(nnc_node_value(x)->data, nnc_tensor_numel(nnc_node_value(x)), 8);
    int64_t ny = nnc_tensor_numel(nnc_node_value(y));
    float *seed = malloc((size_t)ny * sizeof(float));
    fill_rand(seed, ny, 9);
    y->seed = seed;
    long allocs = t_alloc_count;
    T_OK(nnc_graph_forward(g));
    T_OK(nnc_graph_backward(g));
    T_CHECKF(t_alloc_count == allocs, "forward + backward made %ld heap allocations", t_alloc_count - allocs);
    y->seed = NULL;
    memcpy(out, val(y), (size_t)ny * sizeof(float));
    n += ny;
    memcpy(out + n, nnc_node_grad(x)->data, nnc_tensor_bytes(nnc_node_grad(x)));
    n += nnc_tensor_numel(nnc_node_grad(x));
    for (int i = 0; i < nnc_graph_n_params(g); i++) {
        nnc_tensor *gr = nnc_node_grad(nnc_graph_param_at(g, i));
        memcpy(out + n, gr->data, nnc_tensor_bytes(gr));
        n += nnc_tensor_numel(gr);
    }
    free(seed);
    nnc_graph_free(g);
    return n;
}

static void test_thread_independence(void) {
    static const struct { const char *name; det_build b; } ops[] = {
        {"conv3d", det_conv3d}, {"conv2d_table", det_table}, {"locally_connected2d", det_lc},
        {"subsampling (avgpool + channel_affine)", det_sub}, {"rbf", det_rbf}};
    int t0 = nnc_get_threads();
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        char name[160];
        snprintf(name, sizeof name, "%s: forward and gradients identical with 1 and 3 threads", ops[i].name);
        T_CASE(name) {
            size_t cap = 200000;
            float *a = calloc(cap, sizeof(float)), *b = calloc(cap, sizeof(float));
            int64_t na = det_run(ops[i].b, 1, a), nb = det_run(ops[i].b, 3, b);
            T_CHECK(na > 0 && na == nb && (size_t)na <= cap);
            int64_t diff = 0;
            for (int64_t j = 0; j < na && j < nb; j++) diff += memcmp(&a[j], &b[j], sizeof(float)) != 0;
            T_CHECKF(diff == 0, "%lld of %lld values differ", (long long)diff, (long long)na);
            free(a);
            free(b);
        }
    }
    nnc_set_threads(t0);
}

int main(void) {
    test_worked_examples();
    test_conv1d();
    test_conv3d();
    test_locally_connected();
    test_subsampling();
    test_conv2d_table();
    test_rbf();
    test_thread_independence();
    return t_finish();
}
