/* test_ops_forward.c -- conv2d, pooling and batch norm against values
 * computed by hand (PyTorch's rules for padding, ceil_mode and
 * count_include_pad; BN's running statistics with the unbiased variance),
 * the im2col + GEMM convolution against the direct reference kernel on
 * random data, and some gradients whose values are easy to derive. */
#include "testlib.h"
#include "ops/op.h"
#include "kernels/conv.h"
#include <stdlib.h>
#include <string.h>

static float *val(nnc_node *n) { return (float *)nnc_node_value(n)->data; }
static float *grad(nnc_node *n) { return (float *)nnc_node_grad(n)->data; }
static void iota(float *p, int64_t n, float start, float step) {
    for (int64_t i = 0; i < n; i++) p[i] = start + step * (float)i;
}
static nnc_node *image(nnc_graph *g, int64_t C, int64_t H, int64_t W) {
    return nnc_input(g, "x", NNC_F32, 3, (int64_t[]){C, H, W});
}
static int64_t numel(nnc_node *n) { return nnc_tensor_numel(nnc_node_value(n)); }

/* A loss sum((y - t)^2) whose gradient is dy = 2 (y - t): after forward,
 * set_dy picks t so that the gradient reaching y is (almost exactly) dy. */
static nnc_node *with_loss(nnc_graph *g, nnc_node *y) {
    nnc_tensor *v = nnc_node_value(y);
    nnc_node *t = nnc_input(g, "t", NNC_F32, v->ndim - 1, v->shape + 1);
    nnc_graph_output(g, y);
    nnc_graph_loss(g, nnc_mse(g, y, t, NNC_SUM), 1.0f);
    return t;
}
/* Returns the gradient mse's backward will really pass: 2 (y - t) in float. */
static void set_dy(nnc_node *y, nnc_node *t, const float *dy, float *actual) {
    float *yv = val(y), *tv = val(t);
    for (int64_t i = 0; i < numel(y); i++) {
        tv[i] = yv[i] - 0.5f * dy[i];
        if (actual) actual[i] = 2.0f * (yv[i] - tv[i]);
    }
}

static void check_shape(nnc_node *n, int64_t a, int64_t b, int64_t c, int64_t d) {
    nnc_tensor *v = nnc_node_value(n);
    T_CHECKF(v->ndim == 4 && v->shape[0] == a && v->shape[1] == b && v->shape[2] == c && v->shape[3] == d,
             "shape [%lld, %lld, %lld, %lld], want [%lld, %lld, %lld, %lld]", (long long)v->shape[0], (long long)v->shape[1],
             (long long)v->shape[2], (long long)v->shape[3], (long long)a, (long long)b, (long long)c, (long long)d);
}

/* ---------------------------------------------------------------- conv2d */

/* y = conv(x, w) + b on one image; w and b given as arrays. */
static void conv_once(int64_t C, int64_t H, int64_t W, const float *x, int64_t K, int R, int S, const float *w,
                      const float *b, nnc_conv2d_opts o, int64_t OH, int64_t OW, const float *want) {
    nnc_graph *g = nnc_graph_new();
    nnc_node *xn = image(g, C, H, W);
    int64_t G = o.groups ? o.groups : 1;
    nnc_node *wn = nnc_param(g, "w", 4, (int64_t[]){K, C / G, R, S}, (nnc_init){NNC_INIT_ZEROS, 0, 0});
    nnc_node *bn = b ? nnc_param(g, "b", 1, &K, (nnc_init){NNC_INIT_ZEROS, 0, 0}) : NULL;
    nnc_node *y = nnc_conv2d(g, xn, wn, bn, &o);
    nnc_graph_output(g, y);
    T_OK(nnc_graph_compile(g, 1, 0));
    if (!nnc_graph_status(g) && nnc_node_value(y)->data) {
        memcpy(val(xn), x, (size_t)(C * H * W) * sizeof(float));
        memcpy(val(wn), w, (size_t)(K * C / G * R * S) * sizeof(float));
        if (b) memcpy(val(bn), b, (size_t)K * sizeof(float));
        T_OK(nnc_graph_forward(g));
        check_shape(y, 1, K, OH, OW);
        t_close("y", val(y), want, K * OH * OW, 0, 1e-5);
    }
    nnc_graph_free(g);
}

static void test_conv_hand(void) {
    float x16[16];
    iota(x16, 16, 0, 1);
    T_CASE("conv2d 3x3 ones on 0..15, bias 0.5: window sums") {
        float w[9], b = 0.5f;
        for (int i = 0; i < 9; i++) w[i] = 1;
        conv_once(1, 4, 4, x16, 1, 3, 3, w, &b, (nnc_conv2d_opts){{1, 1}, {0, 0}, {1, 1}, 1}, 2, 2,
                  (float[]){45.5f, 54.5f, 81.5f, 90.5f});
    }
    T_CASE("conv2d stride 2, padding 1: zero padding at the top-left") {
        /* y[oh,ow] = x[2oh-1, 2ow-1] - x[2oh+1, 2ow+1] */
        float w[9] = {1, 0, 0, 0, 0, 0, 0, 0, -1};
        conv_once(1, 4, 4, x16, 1, 3, 3, w, NULL, (nnc_conv2d_opts){{2, 2}, {1, 1}, {1, 1}, 1}, 2, 2,
                  (float[]){-5, -7, -13, -10});
    }
    T_CASE("conv2d dilation 2 (2x2 kernel spans 3x3)") {
        /* y = x[oh,ow] + 2 x[oh,ow+2] + 3 x[oh+2,ow] + 4 x[oh+2,ow+2] */
        float w[4] = {1, 2, 3, 4};
        conv_once(1, 4, 4, x16, 1, 2, 2, w, NULL, (nnc_conv2d_opts){{1, 1}, {0, 0}, {2, 2}, 1}, 2, 2,
                  (float[]){68, 78, 108, 118});
    }
    T_CASE("conv2d groups=2: each output sees only its group's channels") {
        float x[8] = {1, 2, 3, 4, 10, 20, 30, 40};
        float w[8] = {1, 1, 1, 1, 1, 0, 0, -1}; /* [2,1,2,2] */
        conv_once(2, 2, 2, x, 2, 2, 2, w, NULL, (nnc_conv2d_opts){{1, 1}, {0, 0}, {1, 1}, 2}, 1, 1, (float[]){10, -30});
    }
    T_CASE("conv2d 1x1 depthwise with multiplier 2, bias") {
        float x[8] = {1, 2, 3, 4, 10, 20, 30, 40};
        float w[4] = {1, 2, 3, 4}, b[4] = {0, 1, 0, -1};
        conv_once(2, 2, 2, x, 4, 1, 1, w, b, (nnc_conv2d_opts){{1, 1}, {0, 0}, {1, 1}, 2}, 2, 2,
                  (float[]){1, 2, 3, 4, 3, 5, 7, 9, 30, 60, 90, 120, 39, 79, 119, 159});
    }
    T_CASE("conv2d layer: parameter names, shapes and PyTorch's init bound") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = image(g, 6, 10, 10);
        nnc_conv2d_opts o = {{1, 1}, {1, 1}, {1, 1}, 2};
        nnc_node *y = nnc_conv2d_layer(g, x, "conv1", 4, 3, 3, &o, 1);
        T_CHECK(y != NULL);
        T_CHECK(y && strcmp(nnc_node_name(y), "conv1") == 0);
        nnc_node *w = nnc_graph_find(g, "conv1.weight"), *b = nnc_graph_find(g, "conv1.bias");
        T_CHECK(w && b);
        T_OK(nnc_graph_init_params(g));
        if (w && b) {
            nnc_tensor *wt = nnc_node_value(w);
            T_CHECK(wt->ndim == 4 && wt->shape[0] == 4 && wt->shape[1] == 3 && wt->shape[2] == 3 && wt->shape[3] == 3);
            float bound = 1.0f / sqrtf(27.0f), mx = 0;
            for (int64_t i = 0; i < numel(w); i++) mx = fmaxf(mx, fabsf(val(w)[i]));
            for (int64_t i = 0; i < numel(b); i++) mx = fmaxf(mx, fabsf(val(b)[i]));
            T_CHECKF(mx <= bound && mx > 0.5f * bound, "max |param| %g, bound %g", mx, bound);
        }
        nnc_graph_free(g);
    }
}

static void test_conv_errors(void) {
    T_CASE("conv2d errors name the node and the shapes") {
        struct { int64_t C, H, W, K, Cw, R, S; nnc_conv2d_opts o; const char *needle; } bad[] = {
            {3, 4, 4, 2, 3, 5, 5, {{1, 1}, {0, 0}, {1, 1}, 1}, "larger than the padded input"},
            {3, 4, 4, 2, 3, 3, 3, {{1, 1}, {0, 0}, {2, 2}, 1}, "larger than the padded input"},
            {3, 8, 8, 4, 1, 3, 3, {{1, 1}, {0, 0}, {1, 1}, 2}, "not divisible by groups"},
            {4, 8, 8, 3, 2, 3, 3, {{1, 1}, {0, 0}, {1, 1}, 2}, "not divisible by groups"},
            {4, 8, 8, 4, 4, 3, 3, {{1, 1}, {0, 0}, {1, 1}, 2}, "input channels per group"},
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            nnc_graph *g = nnc_graph_new();
            nnc_node *x = image(g, bad[i].C, bad[i].H, bad[i].W);
            nnc_node *w = nnc_param(g, "w", 4, (int64_t[]){bad[i].K, bad[i].Cw, bad[i].R, bad[i].S}, (nnc_init){0, 0, 0});
            nnc_node *y = nnc_conv2d(g, x, w, NULL, &bad[i].o);
            T_CHECKF(y == NULL && nnc_graph_status(g) == NNC_ERR_SHAPE, "case %zu accepted", i);
            const char *msg = nnc_graph_error(g);
            T_CHECKF(strstr(msg, bad[i].needle) && strstr(msg, "conv2d"), "case %zu: message '%s'", i, msg);
            nnc_graph_free(g);
        }
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = image(g, 3, 8, 8);
        nnc_conv2d_opts neg = {{-1, 1}, {0, 0}, {1, 1}, 1};
        T_CHECK(nnc_conv2d_layer(g, x, "c", 4, 3, 3, &neg, 1) == NULL && nnc_graph_status(g) == NNC_ERR_ARG);
        nnc_graph_free(g);
    }
}

/* The im2col + GEMM path against the direct reference, forward and backward. */
typedef struct { int64_t N, C, H, W, K; int R, S; nnc_conv2d_opts o; int bias; } conv_cfg;

static double max_diff(const float *a, const float *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

static void conv_vs_ref(const conv_cfg *c, uint64_t seed) {
    nnc_graph *g = nnc_graph_new();
    nnc_graph_set_seed(g, seed);
    nnc_node *x = image(g, c->C, c->H, c->W);
    nnc_input_requires_grad(x);
    nnc_node *y = nnc_conv2d_layer(g, x, "conv", c->K, c->R, c->S, &c->o, c->bias);
    if (!y) { T_CHECKF(0, "build: %s", nnc_graph_error(g)); nnc_graph_free(g); return; }
    nnc_node *t = with_loss(g, y);
    nnc_node *w = nnc_graph_find(g, "conv.weight"), *b = nnc_graph_find(g, "conv.bias");
    T_OK(nnc_graph_compile(g, c->N, 1));
    nnc_conv_geom geo = {c->N, c->C, c->H, c->W, c->K, c->R, c->S, 0, 0, c->o.stride[0] ? c->o.stride[0] : 1,
                         c->o.stride[1] ? c->o.stride[1] : 1, c->o.pad[0], c->o.pad[1],
                         c->o.dilation[0] ? c->o.dilation[0] : 1, c->o.dilation[1] ? c->o.dilation[1] : 1,
                         c->o.groups ? c->o.groups : 1, 0};
    geo.OH = nnc_conv_out_size(geo.H, geo.R, geo.sh, geo.ph, geo.dh);
    geo.OW = nnc_conv_out_size(geo.W, geo.S, geo.sw, geo.pw, geo.dw);
    int64_t nx = numel(x), ny = numel(y), nw = numel(w), nb = c->K;
    check_shape(y, c->N, c->K, geo.OH, geo.OW);
    for (int64_t i = 0; i < nx; i++) val(x)[i] = nnc_rand_normal(seed, 1, (uint64_t)i);
    float *ref_y = malloc((size_t)ny * sizeof(float)), *dy = malloc((size_t)ny * sizeof(float));
    float *rdx = malloc((size_t)nx * sizeof(float)), *rdw = malloc((size_t)nw * sizeof(float)), *rdb = malloc((size_t)nb * sizeof(float));
    T_OK(nnc_graph_forward(g));
    nnc_conv2d_ref(&geo, val(x), val(w), b ? val(b) : NULL, ref_y);
    double d = max_diff(val(y), ref_y, ny);
    T_CHECKF(d < 1e-4, "forward: max |im2col - reference| = %g", d);
    for (int64_t i = 0; i < ny; i++) dy[i] = nnc_rand_normal(seed, 2, (uint64_t)i);
    set_dy(y, t, dy, dy);
    T_OK(nnc_graph_backward(g));
    nnc_conv2d_ref_backward(&geo, val(x), val(w), dy, rdx, rdw, rdb);
    t_close("dx", grad(x), rdx, nx, 1e-4, 1e-4);
    t_close("dw", grad(w), rdw, nw, 1e-4, 1e-4);
    if (b) t_close("db", grad(b), rdb, nb, 1e-4, 1e-4);
    /* eval plan: a smaller workspace, the same values */
    T_OK(nnc_graph_compile(g, c->N, 0));
    for (int64_t i = 0; i < nx; i++) val(x)[i] = nnc_rand_normal(seed, 1, (uint64_t)i);
    T_OK(nnc_graph_forward(g));
    d = max_diff(val(y), ref_y, ny);
    T_CHECKF(d < 1e-4, "eval forward: max |im2col - reference| = %g", d);
    free(ref_y); free(dy); free(rdx); free(rdw); free(rdb);
    nnc_graph_free(g);
}

static void test_conv_vs_ref(void) {
    static const conv_cfg cfgs[] = {
        {5, 3, 11, 10, 8, 3, 3, {{1, 1}, {1, 1}, {1, 1}, 1}, 1},
        {5, 4, 12, 9, 6, 3, 2, {{2, 1}, {2, 0}, {1, 2}, 2}, 1},
        {5, 6, 8, 8, 12, 3, 3, {{2, 2}, {1, 1}, {1, 1}, 6}, 0},  /* depthwise, multiplier 2 */
        {5, 1, 28, 28, 6, 5, 5, {{1, 1}, {2, 2}, {1, 1}, 1}, 1}, /* LeNet conv1 */
        {5, 6, 14, 14, 16, 5, 5, {{1, 1}, {0, 0}, {1, 1}, 1}, 1}, /* LeNet conv2 */
        {5, 7, 6, 5, 9, 1, 1, {{1, 1}, {0, 0}, {1, 1}, 1}, 1},   /* 1x1: x is its own column matrix */
        {3, 5, 9, 9, 5, 1, 1, {{2, 2}, {0, 0}, {1, 1}, 1}, 0},   /* 1x1 strided: im2col */
        {4, 3, 7, 7, 4, 7, 7, {{1, 1}, {0, 0}, {1, 1}, 1}, 1},   /* kernel = input */
        {3, 2, 5, 5, 3, 3, 3, {{3, 2}, {4, 3}, {2, 1}, 1}, 1},   /* padding larger than the kernel */
        {7, 10, 6, 6, 10, 3, 3, {{1, 1}, {1, 1}, {1, 1}, 5}, 1}, /* C=10, K=10, groups 5 */
        {5, 3, 10, 20, 4, 3, 3, {{1, 1}, {1, 1}, {1, 1}, 1}, 1}, /* backward chunks of 3 + 2 images */
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        const conv_cfg *c = &cfgs[i];
        char name[200];
        snprintf(name, sizeof name, "conv2d im2col+GEMM = reference: N%lld C%lld %lldx%lld K%lld %dx%d s%d,%d p%d,%d d%d,%d g%d%s",
                 (long long)c->N, (long long)c->C, (long long)c->H, (long long)c->W, (long long)c->K, c->R, c->S,
                 c->o.stride[0], c->o.stride[1], c->o.pad[0], c->o.pad[1], c->o.dilation[0], c->o.dilation[1], c->o.groups,
                 c->bias ? " bias" : "");
        T_CASE(name) { conv_vs_ref(c, 100 + i); }
    }
}

/* ----------------------------------------------------------------- pooling */

static nnc_graph *pool_graph(int avg, int64_t C, int64_t H, int64_t W, nnc_pool2d_opts o, nnc_node **x, nnc_node **y) {
    nnc_graph *g = nnc_graph_new();
    *x = image(g, C, H, W);
    *y = avg ? nnc_avgpool2d(g, *x, &o) : nnc_maxpool2d(g, *x, &o);
    if (*y) nnc_graph_output(g, *y);
    return g;
}

static void pool_once(int avg, int64_t H, int64_t W, const float *x, nnc_pool2d_opts o, int64_t OH, int64_t OW, const float *want) {
    nnc_node *xn, *y;
    nnc_graph *g = pool_graph(avg, 1, H, W, o, &xn, &y);
    T_OK(nnc_graph_compile(g, 1, 0));
    if (!nnc_graph_status(g)) {
        memcpy(val(xn), x, (size_t)(H * W) * sizeof(float));
        T_OK(nnc_graph_forward(g));
        check_shape(y, 1, 1, OH, OW);
        if (nnc_node_value(y)->shape[2] == OH && nnc_node_value(y)->shape[3] == OW) t_close("y", val(y), want, OH * OW, 1e-6, 1e-6);
    }
    nnc_graph_free(g);
}

static void test_maxpool(void) {
    float x16[16], x25[25], neg[16];
    iota(x16, 16, 0, 1);
    iota(x25, 25, 0, 1);
    iota(neg, 16, -1, -1);
    T_CASE("maxpool2d 2x2/2 on 0..15") {
        pool_once(0, 4, 4, x16, (nnc_pool2d_opts){{2, 2}, {0, 0}, {0, 0}, 0, 0}, 2, 2, (float[]){5, 7, 13, 15});
    }
    T_CASE("maxpool2d 3x3/2 pad 1 on 5x5: clipped edge windows") {
        /* row windows {0,1}, {1..3}, {3,4}: the max is the bottom-right element */
        pool_once(0, 5, 5, x25, (nnc_pool2d_opts){{3, 3}, {2, 2}, {1, 1}, 0, 0}, 3, 3, (float[]){6, 8, 9, 16, 18, 19, 21, 23, 24});
    }
    T_CASE("maxpool2d padding is -inf, not 0 (all-negative input)") {
        /* x = -1..-16; windows {0,1}, {1..3}: the max is the top-left element */
        pool_once(0, 4, 4, neg, (nnc_pool2d_opts){{3, 3}, {2, 2}, {1, 1}, 0, 0}, 2, 2, (float[]){-1, -2, -5, -6});
    }
    T_CASE("maxpool2d 3x3/2 ceil_mode adds a partial window; floor does not") {
        pool_once(0, 4, 4, x16, (nnc_pool2d_opts){{3, 3}, {2, 2}, {0, 0}, 1, 0}, 2, 2, (float[]){10, 11, 14, 15});
        pool_once(0, 4, 4, x16, (nnc_pool2d_opts){{3, 3}, {2, 2}, {0, 0}, 0, 0}, 1, 1, (float[]){10});
    }
    T_CASE("maxpool2d ceil_mode drops a window that would start in the right padding") {
        /* 5x5, k2 s2 p1: ceil((5+2-2)/2)+1 = 4, but window 3 would start at 5 >= H: 3 windows {0}, {1,2}, {3,4} */
        pool_once(0, 5, 5, x25, (nnc_pool2d_opts){{2, 2}, {2, 2}, {1, 1}, 1, 0}, 3, 3, (float[]){0, 2, 4, 10, 12, 14, 20, 22, 24});
    }
    T_CASE("maxpool2d refuses padding over half the kernel, and windows larger than the input") {
        nnc_node *x, *y;
        nnc_graph *g = pool_graph(0, 1, 4, 4, (nnc_pool2d_opts){{3, 3}, {1, 1}, {2, 2}, 0, 0}, &x, &y);
        T_CHECK(y == NULL && nnc_graph_status(g) == NNC_ERR_ARG);
        nnc_graph_free(g);
        g = pool_graph(0, 1, 2, 4, (nnc_pool2d_opts){{3, 3}, {1, 1}, {0, 0}, 0, 0}, &x, &y);
        T_CHECK(y == NULL && nnc_graph_status(g) == NNC_ERR_SHAPE);
        T_CHECKF(strstr(nnc_graph_error(g), "maxpool2d"), "message '%s'", nnc_graph_error(g));
        nnc_graph_free(g);
    }
    T_CASE("maxpool2d ties go to the first element, NaN propagates (2x2/2 and generic paths)") {
        for (int stride = 2; stride >= 1; stride--) {
            nnc_node *x, *y;
            nnc_graph *g = pool_graph(0, 1, 2, 4, (nnc_pool2d_opts){{2, 2}, {stride, stride}, {0, 0}, 0, 0}, &x, &y);
            nnc_input_requires_grad(x);
            nnc_node *t = with_loss(g, y);
            T_OK(nnc_graph_compile(g, 1, 1));
            float xv[8] = {1, 1, 3, 3, 1, 1, 2, 3};
            memcpy(val(x), xv, sizeof xv);
            T_OK(nnc_graph_forward(g));
            if (stride == 2) {
                t_close("y (2x2/2)", val(y), (float[]){1, 3}, 2, 0, 0);
                set_dy(y, t, (float[]){1, 2}, NULL);
                T_OK(nnc_graph_backward(g));
                t_close("dx (2x2/2)", grad(x), (float[]){1, 0, 2, 0, 0, 0, 0, 0}, 8, 0, 0);
            } else {
                t_close("y (2x2/1)", val(y), (float[]){1, 3, 3}, 3, 0, 0);
                set_dy(y, t, (float[]){1, 2, 4}, NULL);
                T_OK(nnc_graph_backward(g));
                t_close("dx (2x2/1)", grad(x), (float[]){1, 0, 6, 0, 0, 0, 0, 0}, 8, 0, 0);
            }
            val(x)[3] = NAN;
            T_OK(nnc_graph_forward(g));
            T_CHECKF(isnan(val(y)[stride == 2 ? 1 : 2]) && !isnan(val(y)[0]), "stride %d: NaN did not propagate", stride);
            nnc_graph_free(g);
        }
    }
    T_CASE("maxpool2d 2x2/2 vector tiles == sequential scan (wide, partial, narrow and odd rows; ties; NaN; fused ReLU)") {
        static const int64_t hw[][2] = {{28, 28}, {6, 40}, {5, 33}, {4, 5}, {3, 36}, {2, 64}, {10, 10}, {7, 9}, {9, 14}, {2, 2}};
        for (size_t k = 0; k < sizeof hw / sizeof hw[0]; k++)
            for (int relu = 0; relu < 2; relu++) {
            const int64_t N = 2, C = 3, H = hw[k][0], W = hw[k][1], OH = H / 2, OW = W / 2;
            for (int with_nan = 0; with_nan < 2 - relu; with_nan++) {
                /* relu: x + x -> ReLU -> pooling, where the compiler applies the ReLU after
                 * the pooling (the ReLU's tensor then shares the sum's memory) */
                nnc_graph *g = nnc_graph_new();
                nnc_node *x = image(g, C, H, W), *h = x, *sum = NULL;
                if (relu) h = nnc_relu(g, sum = nnc_add(g, x, x));
                nnc_pool2d_opts po = {{2, 2}, {2, 2}, {0, 0}, 0, 0};
                nnc_node *y = nnc_maxpool2d(g, h, &po);
                nnc_graph_output(g, y);
                nnc_input_requires_grad(x);
                nnc_node *t = with_loss(g, y);
                T_OK(nnc_graph_compile(g, N, 1));
                if (relu) T_CHECKF(nnc_node_value(h)->data == nnc_node_value(sum)->data, "H %lld W %lld: the ReLU was not fused", (long long)H, (long long)W);
                float *xv = val(x);
                for (int64_t i = 0; i < N * C * H * W; i++) { /* values 0..2 (-1..1 with the ReLU): many ties */
                    uint32_t r = (uint32_t)(nnc_rand_normal(9, (uint64_t)k, (uint64_t)i) * 1000.0f) & 0xffff;
                    xv[i] = with_nan && r % 13 == 0 ? NAN : (float)(r % 3) - (float)relu;
                }
                T_OK(nnc_graph_forward(g));
                int64_t bad = 0, at_bad = -1;
                float *want_dx = calloc((size_t)(N * C * H * W), sizeof(float)), *dy = malloc((size_t)(N * C * OH * OW) * sizeof(float));
                for (int64_t pl = 0; pl < N * C; pl++)
                    for (int64_t oh = 0; oh < OH; oh++)
                        for (int64_t ow = 0; ow < OW; ow++) {
                            const float *p = xv + pl * H * W;
                            int64_t idx[4] = {2 * oh * W + 2 * ow, 2 * oh * W + 2 * ow + 1, (2 * oh + 1) * W + 2 * ow, (2 * oh + 1) * W + 2 * ow + 1};
                            float v[4];
                            for (int q = 0; q < 4; q++) v[q] = relu ? (p[idx[q]] + p[idx[q]] > 0 ? p[idx[q]] + p[idx[q]] : 0.0f) : p[idx[q]];
                            int best = 0;
                            for (int q = 1; q < 4; q++)
                                if (v[q] > v[best] || v[q] != v[q]) best = q;
                            int64_t o = (pl * OH + oh) * OW + ow;
                            float got = val(y)[o], want = v[best];
                            if (!(got == want || (got != got && want != want))) { bad++; at_bad = o; }
                            dy[o] = (float)(o % 7 + 1);
                            /* d(x + x) = 2; the ReLU passes the gradient where its input is positive */
                            if (!relu) want_dx[pl * H * W + idx[best]] += dy[o];
                            else if (v[best] > 0) want_dx[pl * H * W + idx[best]] += 2 * dy[o];
                        }
                T_CHECKF(bad == 0, "H %lld W %lld nan %d relu %d: %lld outputs differ (e.g. #%lld)", (long long)H, (long long)W, with_nan, relu,
                         (long long)bad, (long long)at_bad);
                if (!with_nan) { /* the argmax, through the backward pass */
                    set_dy(y, t, dy, NULL);
                    T_OK(nnc_graph_backward(g));
                    T_CHECK(t_close("dx", grad(x), want_dx, N * C * H * W, 0, 0));
                }
                free(want_dx);
                free(dy);
                nnc_graph_free(g);
            }
            }
    }
    T_CASE("maxpool2d ties: the first maximum in row-major order, not column-major") {
        /* window {0, 5; 5, 0}: (0,1) comes before (1,0) */
        for (int stride = 2; stride >= 1; stride--) {
            nnc_node *x, *y;
            nnc_graph *g = pool_graph(0, 1, 2, 3, (nnc_pool2d_opts){{2, 2}, {stride, stride}, {0, 0}, 0, 0}, &x, &y);
            nnc_input_requires_grad(x);
            nnc_node *t = with_loss(g, y);
            T_OK(nnc_graph_compile(g, 1, 1));
            float xv[6] = {0, 5, 0, 5, 0, 0};
            memcpy(val(x), xv, sizeof xv);
            T_OK(nnc_graph_forward(g));
            set_dy(y, t, (float[]){1, 2}, NULL);
            T_OK(nnc_graph_backward(g));
            if (stride == 2)
                t_close("dx (2x2/2)", grad(x), (float[]){0, 1, 0, 0, 0, 0}, 6, 0, 0);
            else
                t_close("dx (2x2/1)", grad(x), (float[]){0, 3, 0, 0, 0, 0}, 6, 0, 0);
            nnc_graph_free(g);
        }
    }
    T_CASE("maxpool2d backward scatters to the argmax, overlapping windows add") {
        nnc_node *x, *y;
        nnc_graph *g = pool_graph(0, 1, 3, 3, (nnc_pool2d_opts){{2, 2}, {1, 1}, {0, 0}, 0, 0}, &x, &y);
        nnc_input_requires_grad(x);
        nnc_node *t = with_loss(g, y);
        T_OK(nnc_graph_compile(g, 2, 1));
        float xv[18] = {0, 1, 2, 3, 4, 5, 6, 7, 8, /* */ 0, 0, 0, 0, 9, 0, 0, 0, 0};
        memcpy(val(x), xv, sizeof xv);
        T_OK(nnc_graph_forward(g));
        t_close("y", val(y), (float[]){4, 5, 7, 8, 9, 9, 9, 9}, 8, 0, 0);
        set_dy(y, t, (float[]){1, 2, 3, 4, 1, 2, 3, 4}, NULL);
        T_OK(nnc_graph_backward(g));
        t_close("dx", grad(x), (float[]){0, 0, 0, 0, 1, 2, 0, 3, 4, /* */ 0, 0, 0, 0, 10, 0, 0, 0, 0}, 18, 0, 0);
        nnc_graph_free(g);
    }
}

static void test_avgpool(void) {
    float x16[16], x25[25];
    iota(x16, 16, 0, 1);
    iota(x25, 25, 0, 1);
    T_CASE("avgpool2d 2x2/2 on 0..15") {
        pool_once(1, 4, 4, x16, (nnc_pool2d_opts){{2, 2}, {0, 0}, {0, 0}, 0, 1}, 2, 2, (float[]){2.5f, 4.5f, 10.5f, 12.5f});
    }
    /* 4x4, k3 s2 p1: row windows {0,1} (padded 3), {1,2,3} (3) */
    T_CASE("avgpool2d 3x3/2 pad 1, count_include_pad: divide by 9") {
        pool_once(1, 4, 4, x16, (nnc_pool2d_opts){{3, 3}, {2, 2}, {1, 1}, 0, 1}, 2, 2, (float[]){10.f / 9, 24.f / 9, 51.f / 9, 10});
    }
    T_CASE("avgpool2d 3x3/2 pad 1, count_include_pad=0: divide by the real elements") {
        pool_once(1, 4, 4, x16, (nnc_pool2d_opts){{3, 3}, {2, 2}, {1, 1}, 0, 0}, 2, 2, (float[]){2.5f, 4, 8.5f, 10});
    }
    /* ceil_mode adds window 3: rows [3, 6) clipped to the padded input [3, 5) (2 rows) and to the input {3} */
    T_CASE("avgpool2d 3x3/2 pad 1 ceil_mode, count_include_pad: edge windows divide by the part inside input+padding") {
        pool_once(1, 4, 4, x16, (nnc_pool2d_opts){{3, 3}, {2, 2}, {1, 1}, 1, 1}, 3, 3,
                  (float[]){10.f / 9, 24.f / 9, 10.f / 6, 51.f / 9, 90.f / 9, 33.f / 6, 25.f / 6, 42.f / 6, 15.f / 4});
    }
    T_CASE("avgpool2d 3x3/2 pad 1 ceil_mode, count_include_pad=0") {
        pool_once(1, 4, 4, x16, (nnc_pool2d_opts){{3, 3}, {2, 2}, {1, 1}, 1, 0}, 3, 3,
                  (float[]){2.5f, 4, 5, 8.5f, 10, 11, 12.5f, 14, 15});
    }
    T_CASE("avgpool2d 2x2/2 ceil_mode without padding: the last window holds one row") {
        /* 5x5: windows {0,1}, {2,3}, {4} both ways */
        pool_once(1, 5, 5, x25, (nnc_pool2d_opts){{2, 2}, {2, 2}, {0, 0}, 1, 1}, 3, 3,
                  (float[]){3, 5, 6.5f, 13, 15, 16.5f, 20.5f, 22.5f, 24});
    }
    T_CASE("avgpool2d backward with ceil_mode and count_include_pad") {
        nnc_node *x, *y;
        nnc_graph *g = pool_graph(1, 1, 4, 4, (nnc_pool2d_opts){{3, 3}, {2, 2}, {1, 1}, 1, 1}, &x, &y);
        nnc_input_requires_grad(x);
        nnc_node *t = with_loss(g, y);
        T_OK(nnc_graph_compile(g, 1, 1));
        memcpy(val(x), x16, sizeof x16);
        T_OK(nnc_graph_forward(g));
        float ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
        set_dy(y, t, ones, NULL);
        T_OK(nnc_graph_backward(g));
        /* dx[r][c] = f(r) f(c): the sum of 1/size over the windows holding the row (sizes 3, 3, 2) */
        const float f[4] = {1.f / 3, 2.f / 3, 1.f / 3, 1.f / 3 + 1.f / 2};
        float want[16];
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 4; c++) want[r * 4 + c] = f[r] * f[c];
        t_close("dx", grad(x), want, 16, 1e-6, 1e-7);
        nnc_graph_free(g);
    }
}

static void test_global_avgpool(void) {
    T_CASE("global_avgpool: mean per channel, gradient spread evenly") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = image(g, 2, 2, 3);
        nnc_input_requires_grad(x);
        nnc_node *y = nnc_global_avgpool(g, x);
        nnc_node *t = with_loss(g, y);
        T_OK(nnc_graph_compile(g, 1, 1));
        check_shape(y, 1, 2, 1, 1);
        iota(val(x), 12, 0, 1);
        T_OK(nnc_graph_forward(g));
        t_close("y", val(y), (float[]){2.5f, 8.5f}, 2, 1e-6, 0);
        set_dy(y, t, (float[]){6, 12}, NULL);
        T_OK(nnc_graph_backward(g));
        t_close("dx", grad(x), (float[]){1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2}, 12, 1e-6, 0);
        nnc_graph_free(g);
    }
}

/* -------------------------------------------------------------- batch norm */

/* Per-channel mean and biased variance of y [N, C, L]. */
static void channel_stats(const float *y, int64_t N, int64_t C, int64_t L, int64_t c, double *mean, double *var) {
    double s = 0, v = 0;
    for (int64_t i = 0; i < N; i++)
        for (int64_t l = 0; l < L; l++) s += y[(i * C + c) * L + l];
    *mean = s / (double)(N * L);
    for (int64_t i = 0; i < N; i++)
        for (int64_t l = 0; l < L; l++) { double d = y[(i * C + c) * L + l] - *mean; v += d * d; }
    *var = v / (double)(N * L);
}

static void test_batchnorm(void) {
    T_CASE("batchnorm1d training: normalized output, running stats with unbiased variance, counter") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){2});
        nnc_node *y = nnc_batchnorm_layer(g, x, "bn", 1e-5f, 0.1f);
        T_CHECK(y && strcmp(nnc_node_name(y), "bn") == 0);
        nnc_graph_output(g, y);
        T_OK(nnc_graph_compile(g, 4, 1));
        nnc_node *rm = nnc_graph_find(g, "bn.running_mean"), *rv = nnc_graph_find(g, "bn.running_var");
        nnc_node *nbt = nnc_graph_find(g, "bn.num_batches_tracked");
        nnc_node *w = nnc_graph_find(g, "bn.weight"), *b = nnc_graph_find(g, "bn.bias");
        T_CHECK(rm && rv && nbt && w && b);
        if (rm && rv && nbt && w && b) {
            T_CHECK(nnc_node_value(nbt)->dtype == NNC_I64 && nnc_node_value(nbt)->ndim == 0);
            t_close("initial running_var", val(rv), (float[]){1, 1}, 2, 0, 0);
            t_close("initial weight", val(w), (float[]){1, 1}, 2, 0, 0);
            /* channel 0: 1,2,3,4 (mean 2.5, var 1.25, unbiased 5/3); channel 1: 2,4,6,8 (mean 5, var 5, unbiased 20/3) */
            float xv[8] = {1, 2, 2, 4, 3, 6, 4, 8};
            memcpy(val(x), xv, sizeof xv);
            T_OK(nnc_graph_forward(g));
            float want[8];
            for (int i = 0; i < 4; i++) {
                want[i * 2] = (float)((xv[i * 2] - 2.5) / sqrt(1.25 + 1e-5));
                want[i * 2 + 1] = (float)((xv[i * 2 + 1] - 5.0) / sqrt(5.0 + 1e-5));
            }
            t_close("y", val(y), want, 8, 1e-5, 1e-6);
            for (int c = 0; c < 2; c++) {
                double m, v;
                channel_stats(val(y), 4, 2, 1, c, &m, &v);
                T_CHECKF(fabs(m) < 1e-6 && fabs(v - 1) < 1e-4, "channel %d: mean %g var %g", c, m, v);
            }
            t_close("running_mean", val(rm), (float[]){0.25f, 0.5f}, 2, 1e-6, 0);
            t_close("running_var", val(rv), (float[]){(float)(0.9 + 0.1 * 5.0 / 3), (float)(0.9 + 0.1 * 20.0 / 3)}, 2, 1e-6, 0);
            T_CHECK(((int64_t *)nnc_node_value(nbt)->data)[0] == 1);
            T_OK(nnc_graph_forward(g));
            t_close("running_mean after 2 steps", val(rm), (float[]){0.475f, 0.95f}, 2, 1e-6, 0);
            T_CHECK(((int64_t *)nnc_node_value(nbt)->data)[0] == 2);

            /* affine: mean beta, standard deviation gamma */
            val(w)[0] = 2.0f; val(w)[1] = 0.5f;
            val(b)[0] = 1.0f; val(b)[1] = -1.0f;
            T_OK(nnc_graph_forward(g));
            for (int c = 0; c < 2; c++) {
                double m, v;
                channel_stats(val(y), 4, 2, 1, c, &m, &v);
                T_CHECKF(fabs(m - val(b)[c]) < 1e-6 && fabs(sqrt(v) - val(w)[c]) < 1e-4, "channel %d: mean %g std %g", c, m, sqrt(v));
            }

            /* eval: running statistics, nothing updated */
            T_OK(nnc_graph_compile(g, 2, 0));
            val(rm)[0] = 1; val(rm)[1] = -2;
            val(rv)[0] = 4; val(rv)[1] = 0.25f;
            float xe[4] = {3, 0, -1, 1};
            memcpy(val(x), xe, sizeof xe);
            T_OK(nnc_graph_forward(g));
            float we[4] = {(float)(2 * (3 - 1) / sqrt(4 + 1e-5) + 1), (float)(0.5 * (0 + 2) / sqrt(0.25 + 1e-5) - 1),
                           (float)(2 * (-1 - 1) / sqrt(4 + 1e-5) + 1), (float)(0.5 * (1 + 2) / sqrt(0.25 + 1e-5) - 1)};
            t_close("eval y", val(y), we, 4, 1e-5, 1e-6);
            t_close("eval keeps running_mean", val(rm), (float[]){1, -2}, 2, 0, 0);
            t_close("eval keeps running_var", val(rv), (float[]){4, 0.25f}, 2, 0, 0);
            T_CHECK(((int64_t *)nnc_node_value(nbt)->data)[0] == 3);
        }
        nnc_graph_free(g);
    }
    T_CASE("batchnorm2d training: statistics over batch and space, per channel") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = image(g, 3, 4, 5);
        nnc_node *y = nnc_batchnorm_layer(g, x, "bn", 1e-5f, 0.25f);
        nnc_graph_output(g, y);
        T_OK(nnc_graph_compile(g, 6, 1));
        for (int64_t i = 0; i < numel(x); i++) val(x)[i] = 3.0f + 2.0f * nnc_rand_normal(5, 0, (uint64_t)i);
        double xm[3], xvar[3];
        for (int c = 0; c < 3; c++) channel_stats(val(x), 6, 3, 20, c, &xm[c], &xvar[c]);
        T_OK(nnc_graph_forward(g));
        nnc_node *rm = nnc_graph_find(g, "bn.running_mean"), *rv = nnc_graph_find(g, "bn.running_var");
        for (int c = 0; c < 3; c++) {
            double m, v;
            channel_stats(val(y), 6, 3, 20, c, &m, &v);
            T_CHECKF(fabs(m) < 1e-5 && fabs(v - 1) < 1e-4, "channel %d: mean %g var %g", c, m, v);
            float wm = (float)(0.25 * xm[c]), wv = (float)(0.75 + 0.25 * xvar[c] * 120.0 / 119.0);
            t_close("running_mean", &val(rm)[c], &wm, 1, 1e-5, 1e-6);
            t_close("running_var", &val(rv)[c], &wv, 1, 1e-5, 1e-6);
        }
        nnc_graph_free(g);
    }
    T_CASE("batchnorm without affine parameters, [N, C, L] input") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){2, 3});
        int64_t C = 2;
        nnc_node *rm = nnc_state(g, "rm", NNC_F32, 1, &C, 0), *rv = nnc_state(g, "rv", NNC_F32, 1, &C, 1);
        nnc_node *y = nnc_batchnorm(g, x, NULL, NULL, rm, rv, NULL, 0.0f, 1.0f);
        nnc_graph_output(g, y);
        T_OK(nnc_graph_compile(g, 2, 1));
        /* channel 0: 0,1,2,6,7,8 (mean 4, var 58/6, unbiased 58/5); channel 1: 3,4,5,9,10,11 (mean 7, the same spread) */
        iota(val(x), 12, 0, 1);
        T_OK(nnc_graph_forward(g));
        float s = (float)(1 / sqrt(58.0 / 6));
        t_close("y", val(y), (float[]){-4 * s, -3 * s, -2 * s, -4 * s, -3 * s, -2 * s, 2 * s, 3 * s, 4 * s, 2 * s, 3 * s, 4 * s}, 12, 1e-6, 1e-7);
        t_close("running_mean (momentum 1)", val(rm), (float[]){4, 7}, 2, 1e-6, 0);
        t_close("running_var (momentum 1)", val(rv), (float[]){11.6f, 11.6f}, 2, 1e-6, 0);
        nnc_graph_free(g);
    }
    T_CASE("batchnorm training refuses one value per channel; eval accepts it") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){3});
        nnc_node *y = nnc_batchnorm_layer(g, x, "bn", 1e-5f, 0.1f);
        nnc_graph_output(g, y);
        T_OK(nnc_graph_compile(g, 1, 1));
        T_CHECK(nnc_graph_forward(g) == NNC_ERR_SHAPE);
        T_CHECKF(strstr(nnc_last_error(), "more than 1 value"), "message '%s'", nnc_last_error());
        T_OK(nnc_graph_compile(g, 1, 0));
        T_OK(nnc_graph_forward(g));
        nnc_graph_free(g);
    }
    T_CASE("batchnorm training backward: dx sums to zero per channel, dbeta = sum dy") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = image(g, 2, 3, 3);
        nnc_input_requires_grad(x);
        nnc_node *y = nnc_batchnorm_layer(g, x, "bn", 1e-5f, 0.1f);
        nnc_node *t = with_loss(g, y);
        T_OK(nnc_graph_compile(g, 3, 1));
        for (int64_t i = 0; i < numel(x); i++) val(x)[i] = nnc_rand_normal(9, 0, (uint64_t)i);
        T_OK(nnc_graph_forward(g));
        float dy[54];
        for (int i = 0; i < 54; i++) dy[i] = nnc_rand_normal(9, 1, (uint64_t)i);
        set_dy(y, t, dy, dy);
        T_OK(nnc_graph_backward(g));
        nnc_node *b = nnc_graph_find(g, "bn.bias");
        for (int c = 0; c < 2; c++) {
            double sdx = 0, sdy = 0;
            for (int n = 0; n < 3; n++)
                for (int l = 0; l < 9; l++) { sdx += grad(x)[(n * 2 + c) * 9 + l]; sdy += dy[(n * 2 + c) * 9 + l]; }
            T_CHECKF(fabs(sdx) < 1e-5, "channel %d: sum dx = %g", c, sdx);
            T_CHECKF(fabs(grad(b)[c] - sdy) < 1e-5, "channel %d: dbeta %g, sum dy %g", c, grad(b)[c], sdy);
        }
        nnc_graph_free(g);
    }
}

/* ------------------------------------------ threads and allocations */

/* One LeNet-like training step; copies y, dx and the first conv's dw out
 * (its backward runs in chunks of 4 + 4 + 1 images). */
static void small_net_step(int threads, float *y_out, float *dx_out, float *dw_out, long *allocs) {
    nnc_set_threads(threads);
    nnc_graph *g = nnc_graph_new();
    nnc_graph_set_seed(g, 3);
    nnc_node *x = image(g, 3, 12, 12);
    nnc_input_requires_grad(x);
    nnc_conv2d_opts o = {{1, 1}, {1, 1}, {1, 1}, 1};
    nnc_pool2d_opts mp = {{3, 3}, {2, 2}, {1, 1}, 1, 0}, ap = {{2, 2}, {0, 0}, {0, 0}, 0, 1};
    nnc_node *h = nnc_conv2d_layer(g, x, "c1", 8, 3, 3, &o, 1);
    h = nnc_relu(g, nnc_batchnorm_layer(g, h, "bn1", 1e-5f, 0.1f));
    h = nnc_maxpool2d(g, h, &mp);
    h = nnc_avgpool2d(g, nnc_conv2d_layer(g, h, "c2", 6, 3, 3, &o, 0), &ap);
    nnc_node *y = nnc_global_avgpool(g, h);
    nnc_node *t = with_loss(g, y);
    T_OK(nnc_graph_compile(g, 9, 1));
    for (int64_t i = 0; i < numel(x); i++) val(x)[i] = nnc_rand_normal(4, 0, (uint64_t)i);
    for (int64_t i = 0; i < numel(t); i++) val(t)[i] = 0.1f * (float)i;
    long before = t_alloc_count;
    T_OK(nnc_graph_forward(g));
    T_OK(nnc_graph_backward(g));
    *allocs = t_alloc_count - before;
    memcpy(y_out, val(y), (size_t)numel(y) * sizeof(float));
    memcpy(dx_out, grad(x), (size_t)numel(x) * sizeof(float));
    nnc_node *w = nnc_graph_find(g, "c1.weight");
    memcpy(dw_out, grad(w), (size_t)numel(w) * sizeof(float));
    nnc_graph_free(g);
}

/* Same thread count: bit-identical run to run. 1 vs 2 threads: oneDNN's
 * convolution weight gradient splits its reduction by thread, so results
 * agree to rounding only (docs/RELIABILITY.md). */
/* Small plans (forward MACs below nnc_get_small_plan_macs()) run on one thread. */
static void test_small_plans(void) {
    T_CASE("small plans run single-threaded, with the same results as threaded ones") {
        int saved = nnc_get_threads();
        int64_t prev = nnc_get_small_plan_macs();
        nnc_set_threads(2);
        static float y[2][54], dx[2][9 * 3 * 144], dw[2][8 * 27];
        long al;
        nnc_set_small_plan_macs(2000000);
        small_net_step(2, y[0], dx[0], dw[0], &al); /* 9 images of 12x12: below the default threshold */
        nnc_set_small_plan_macs(0);
        small_net_step(2, y[1], dx[1], dw[1], &al);
        nnc_set_small_plan_macs(2000000);
        nnc_set_threads(saved);
        t_close("y, small plan vs threaded", y[0], y[1], 54, 1e-5, 1e-6);
        t_close("dw, small plan vs threaded", dw[0], dw[1], 8 * 27, 1e-4, 1e-5);
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = image(g, 1, 28, 28);
        nnc_graph_output(g, nnc_conv2d_layer(g, x, "c", 6, 5, 5, &(nnc_conv2d_opts){{1, 1}, {2, 2}, {1, 1}, 1}, 1));
        T_OK(nnc_graph_compile(g, 1, 0));
        T_CHECK(g->cur && g->cur->threads == 1);
        T_OK(nnc_graph_compile(g, 256, 0)); /* 256 x 117,600 MACs */
        T_CHECK(g->cur && g->cur->threads == 0);
        T_CHECK(nnc_get_threads() == (saved > 0 ? saved : 1));
        nnc_graph_free(g);
        nnc_set_small_plan_macs(prev);
    }
}

static void test_threads_and_allocs(void) {
    T_CASE("conv/BN/pool step: no heap allocation, bit-identical per thread count, close across 1 and 2 threads") {
        int saved = nnc_get_threads();
        static float y[4][54], dx[4][9 * 3 * 144], dw[4][8 * 27];
        long al[4];
        for (int r = 0; r < 4; r++) small_net_step(1 + r / 2, y[r], dx[r], dw[r], &al[r]);
        nnc_set_threads(saved);
        T_CHECKF(al[0] == 0 && al[2] == 0, "forward+backward allocated %ld and %ld times", al[0], al[2]);
        for (int t = 0; t < 2; t++) {
            const int a = 2 * t, b = 2 * t + 1;
            T_CHECKF(!memcmp(y[a], y[b], sizeof y[a]) && !memcmp(dx[a], dx[b], sizeof dx[a]) && !memcmp(dw[a], dw[b], sizeof dw[a]),
                     "%d thread(s): two runs differ (y %g, dx %g, dw %g)", t + 1, max_diff(y[a], y[b], 54),
                     max_diff(dx[a], dx[b], 9 * 3 * 144), max_diff(dw[a], dw[b], 8 * 27));
        }
        t_close("y, 2 vs 1 threads", y[2], y[0], 54, 1e-5, 1e-6);
        t_close("dx, 2 vs 1 threads", dx[2], dx[0], 9 * 3 * 144, 1e-5, 1e-6);
        t_close("dw, 2 vs 1 threads", dw[2], dw[0], 8 * 27, 1e-4, 1e-5);
    }
}

int main(void) {
    nnc_set_small_plan_macs(0); /* the thread tests below need threaded plans; test_small_plans sets its own */
    test_small_plans();
    test_conv_hand();
    test_conv_errors();
    test_conv_vs_ref();
    test_maxpool();
    test_avgpool();
    test_global_avgpool();
    test_batchnorm();
    test_threads_and_allocs();
    return t_finish();
}
