/* test_dnnl_conv.c -- the oneDNN convolution path (kernels/dnnl_conv.c and
 * its use in the conv2d op) against the direct reference nnc_conv2d_ref and
 * the im2col path: forward, backward-data and backward-weights (with the
 * bias gradient), overwriting and adding, over many geometries (stride,
 * padding, dilation, groups, depthwise, 1x1, odd sizes, batch 1 and 7);
 * bitwise repeatability; a thread count changed after compiling; no heap
 * allocation in a ResNet-20 training step. */
#include "testlib.h"
#include "kernels/conv.h"
#include "kernels/dnnl_conv.h"
#include <stdlib.h>
#include <string.h>

typedef struct { int64_t N, C, H, W, K, R, S, sh, sw, ph, pw, dh, dw, G; int bias; } spec;

static nnc_conv_geom geom(const spec *s) {
    nnc_conv_geom g = {s->N, s->C, s->H, s->W, s->K, s->R, s->S, 0, 0, s->sh, s->sw, s->ph, s->pw, s->dh, s->dw, s->G, 0};
    g.OH = nnc_conv_out_size(g.H, g.R, g.sh, g.ph, g.dh);
    g.OW = nnc_conv_out_size(g.W, g.S, g.sw, g.pw, g.dw);
    return g;
}

static float *randn(int64_t n, uint64_t stream) {
    float *p = malloc((size_t)(n ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = nnc_rand_normal(7, stream, (uint64_t)i);
    return p;
}
static size_t mx(size_t a, size_t b) { return a > b ? a : b; }

/* want = base + delta (what an adding pass must produce) */
static float *plus(const float *base, const float *delta, int64_t n) {
    float *p = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = base[i] + delta[i];
    return p;
}

/* Which passes should run Winograd (dnnl_conv.c's rule; the scratchpad cap does not bind at these sizes). */
static int want_winograd(const nnc_conv_geom *g, int pass) {
    int64_t least = pass == 2 ? 16 : 32;
    return g->R == 3 && g->S == 3 && g->sh == 1 && g->sw == 1 && g->dh == 1 && g->dw == 1 && g->groups == 1 && g->C >= least &&
           g->K >= least && g->C % 16 == 0 && g->K % 16 == 0 && g->OH >= 4 && g->OW >= 4;
}

static void check_geometry(const spec *s) {
    nnc_conv_geom g = geom(s);
    char name[200];
    snprintf(name, sizeof name,
             "oneDNN conv vs reference: N%lld C%lld %lldx%lld K%lld %lldx%lld s%lld,%lld p%lld,%lld d%lld,%lld g%lld%s",
             (long long)g.N, (long long)g.C, (long long)g.H, (long long)g.W, (long long)g.K, (long long)g.R, (long long)g.S,
             (long long)g.sh, (long long)g.sw, (long long)g.ph, (long long)g.pw, (long long)g.dh, (long long)g.dw,
             (long long)g.groups, s->bias ? " bias" : "");
    T_CASE(name) {
        nnc_dnnl_conv *c = nnc_dnnl_conv_new(&g, s->bias, 1, 0);
        T_CHECK(c != NULL);
        /* oneDNN covers every geometry here with a fast (non-reference) kernel */
        T_CHECKF(nnc_dnnl_conv_ok(c), "not usable: forward '%s', backward-data '%s', backward-weights '%s'",
                 nnc_dnnl_conv_impl(c, 0), nnc_dnnl_conv_impl(c, 1), nnc_dnnl_conv_impl(c, 2));
        T_CHECK(nnc_dnnl_conv_matches(c, &g, s->bias, 1, 0) && !nnc_dnnl_conv_matches(c, &g, s->bias, 0, 0) &&
                !nnc_dnnl_conv_matches(c, &g, s->bias, 1, NNC_DNNL_CONV_X_BLOCKED));
        for (int p = 0; p < 3; p++)
            if (want_winograd(&g, p))
                T_CHECKF(strstr(nnc_dnnl_conv_impl(c, p), "wino") != NULL, "pass %d runs '%s', not Winograd", p, nnc_dnnl_conv_impl(c, p));
        if (nnc_dnnl_conv_ok(c)) {
            int64_t nx = g.N * g.C * g.H * g.W, nw = g.K * (g.C / g.groups) * g.R * g.S, ny = g.N * g.K * g.OH * g.OW;
            float *x = randn(nx, 1), *w = randn(nw, 2), *b = randn(g.K, 3), *dy = randn(ny, 4);
            float *y = malloc((size_t)ny * 4), *yr = malloc((size_t)ny * 4);
            float *dx = malloc((size_t)nx * 4), *dxr = malloc((size_t)nx * 4), *dw = malloc((size_t)nw * 4),
                  *dwr = malloc((size_t)nw * 4), *db = malloc((size_t)g.K * 4), *dbr = malloc((size_t)g.K * 4);
            size_t wsb = nnc_dnnl_conv_ws_forward(c);
            for (int k = 0; k < 16; k++)
                if ((k & 1) || (k & 4)) wsb = mx(wsb, nnc_dnnl_conv_ws_backward(c, k & 1, k >> 1 & 1, k >> 2 & 1, k >> 3 & 1));
            wsb = (wsb + 63) / 64 * 64;
            void *ws = aligned_alloc(64, wsb ? wsb : 64);
            memset(ws, 0xff, wsb); /* NaNs: a pass must not read what it did not write */
            T_CHECK(nnc_dnnl_conv_ws_backward(c, 1, 1, 0, 0) >= nnc_dnnl_conv_ws_backward(c, 1, 0, 0, 0));

            nnc_conv2d_ref(&g, x, w, s->bias ? b : NULL, yr);
            for (int64_t i = 0; i < ny; i++) y[i] = 1e30f;
            T_OK(nnc_dnnl_conv_forward(c, x, w, s->bias ? b : NULL, y, ws));
            t_close("forward y", y, yr, ny, 1e-4, 1e-4);

            nnc_conv2d_ref_backward(&g, x, w, dy, dxr, dwr, dbr);
            for (int64_t i = 0; i < nx; i++) dx[i] = 1e30f;
            for (int64_t i = 0; i < nw; i++) dw[i] = 1e30f;
            for (int64_t i = 0; i < g.K; i++) db[i] = 1e30f;
            T_OK(nnc_dnnl_conv_backward(c, x, w, dy, dx, 0, dw, 0, s->bias ? db : NULL, 0, ws));
            t_close("dx (overwrite)", dx, dxr, nx, 1e-4, 1e-4);
            t_close("dw (overwrite)", dw, dwr, nw, 1e-4, 1e-4);
            if (s->bias) t_close("db (overwrite)", db, dbr, g.K, 1e-4, 1e-4);
            /* one gradient at a time */
            for (int64_t i = 0; i < nx; i++) dx[i] = 1e30f;
            for (int64_t i = 0; i < nw; i++) dw[i] = 1e30f;
            T_OK(nnc_dnnl_conv_backward(c, x, w, dy, dx, 0, NULL, 0, NULL, 0, ws));
            t_close("dx alone", dx, dxr, nx, 1e-4, 1e-4);
            T_OK(nnc_dnnl_conv_backward(c, x, w, dy, NULL, 0, dw, 0, NULL, 0, ws));
            t_close("dw alone", dw, dwr, nw, 1e-4, 1e-4);

            /* adding: start from known values */
            float *x0 = randn(nx, 5), *w0 = randn(nw, 6), *b0 = randn(g.K, 7);
            float *wantx = plus(x0, dxr, nx), *wantw = plus(w0, dwr, nw), *wantb = plus(b0, dbr, g.K);
            memcpy(dx, x0, (size_t)nx * 4);
            memcpy(dw, w0, (size_t)nw * 4);
            memcpy(db, b0, (size_t)g.K * 4);
            T_OK(nnc_dnnl_conv_backward(c, x, w, dy, dx, 1, dw, 1, s->bias ? db : NULL, 1, ws));
            t_close("dx (add)", dx, wantx, nx, 1e-4, 1e-4);
            t_close("dw (add)", dw, wantw, nw, 1e-4, 1e-4);
            if (s->bias) t_close("db (add)", db, wantb, g.K, 1e-4, 1e-4);
            /* mixed: dx overwrites, dw adds (db overwrites) */
            memcpy(dw, w0, (size_t)nw * 4);
            T_OK(nnc_dnnl_conv_backward(c, x, w, dy, dx, 0, dw, 1, s->bias ? db : NULL, 0, ws));
            t_close("dx (overwrite, dw adds)", dx, dxr, nx, 1e-4, 1e-4);
            t_close("dw (add, dx overwrites)", dw, wantw, nw, 1e-4, 1e-4);
            if (s->bias) t_close("db (overwrite, dw adds)", db, dbr, g.K, 1e-4, 1e-4);

            /* bitwise repeatable with the same thread count */
            float *y2 = malloc((size_t)ny * 4), *dw2 = malloc((size_t)nw * 4), *dx2 = malloc((size_t)nx * 4);
            T_OK(nnc_dnnl_conv_forward(c, x, w, s->bias ? b : NULL, y, ws));
            T_OK(nnc_dnnl_conv_forward(c, x, w, s->bias ? b : NULL, y2, ws));
            T_OK(nnc_dnnl_conv_backward(c, x, w, dy, dx, 0, dw, 0, NULL, 0, ws));
            T_OK(nnc_dnnl_conv_backward(c, x, w, dy, dx2, 0, dw2, 0, NULL, 0, ws));
            T_CHECK(!memcmp(y, y2, (size_t)ny * 4) && !memcmp(dx, dx2, (size_t)nx * 4) && !memcmp(dw, dw2, (size_t)nw * 4));

            free(x); free(w); free(b); free(dy); free(y); free(yr); free(dx); free(dxr); free(dw); free(dwr); free(db);
            free(dbr); free(ws); free(x0); free(w0); free(b0); free(wantx); free(wantw); free(wantb); free(y2); free(dw2);
            free(dx2);
        }
        nnc_dnnl_conv_free(c);
    }
}

/* An inference object runs the forward pass and refuses backward. */
static void check_inference(void) {
    T_CASE("oneDNN conv made for inference: forward matches, backward is refused") {
        spec s = {3, 8, 10, 10, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1};
        nnc_conv_geom g = geom(&s);
        nnc_dnnl_conv *c = nnc_dnnl_conv_new(&g, 1, 0, 0);
        T_CHECK(nnc_dnnl_conv_ok(c) && nnc_dnnl_conv_ws_backward(c, 1, 0, 1, 0) == 0);
        int64_t nx = g.N * g.C * g.H * g.W, nw = g.K * g.C * 9, ny = g.N * g.K * g.OH * g.OW;
        float *x = randn(nx, 1), *w = randn(nw, 2), *b = randn(g.K, 3), *y = malloc((size_t)ny * 4), *yr = malloc((size_t)ny * 4);
        size_t wsb = (nnc_dnnl_conv_ws_forward(c) + 63) / 64 * 64;
        void *ws = aligned_alloc(64, wsb ? wsb : 64);
        nnc_conv2d_ref(&g, x, w, b, yr);
        T_OK(nnc_dnnl_conv_forward(c, x, w, b, y, ws));
        t_close("y", y, yr, ny, 1e-4, 1e-4);
        T_CHECK(nnc_dnnl_conv_backward(c, x, w, y, x, 0, NULL, 0, NULL, 0, ws) == NNC_ERR_STATE);
        T_CHECK(strstr(nnc_last_error(), "inference") != NULL);
        free(x); free(w); free(b); free(y); free(yr); free(ws);
        nnc_dnnl_conv_free(c);
    }
}

/* ---- through the graph: a small net with bias, groups, stride, and an
 * input that feeds two convolutions (its gradient is added). */
typedef struct { nnc_graph *g; nnc_node *x, *t, *a, *b, *loss; } net;

static net build_net(void) {
    net n;
    n.g = nnc_graph_new();
    nnc_graph_set_seed(n.g, 11);
    n.x = nnc_input(n.g, "x", NNC_F32, 3, (int64_t[]){6, 11, 9});
    nnc_input_requires_grad(n.x);
    nnc_conv2d_opts o1 = {{1, 1}, {1, 1}, {1, 1}, 1}, o2 = {{2, 2}, {1, 1}, {1, 1}, 2}, o3 = {{2, 2}, {0, 0}, {1, 1}, 1};
    nnc_node *h = nnc_relu(n.g, nnc_conv2d_layer(n.g, n.x, "c1", 16, 3, 3, &o1, 1));
    n.a = nnc_conv2d_layer(n.g, h, "c2", 8, 3, 3, &o2, 1);
    n.b = nnc_conv2d_layer(n.g, n.x, "c3", 8, 1, 1, &o3, 0);
    n.t = nnc_input(n.g, "t", NNC_F32, 3, (int64_t[]){8, 6, 5});
    n.loss = nnc_mse(n.g, nnc_add(n.g, n.a, n.b), n.t, NNC_MEAN);
    nnc_graph_loss(n.g, n.loss, 1.0f);
    return n;
}
static void fill(net *n) {
    nnc_tensor *x = nnc_node_value(n->x), *t = nnc_node_value(n->t);
    for (int64_t i = 0; i < nnc_tensor_numel(x); i++) ((float *)x->data)[i] = nnc_rand_normal(3, 1, (uint64_t)i);
    for (int64_t i = 0; i < nnc_tensor_numel(t); i++) ((float *)t->data)[i] = nnc_rand_normal(3, 2, (uint64_t)i);
}
/* all gradients (params, then x) into one buffer */
static float *grads(net *n, int64_t *count) {
    int64_t total = nnc_tensor_numel(nnc_node_grad(n->x));
    for (int i = 0; i < nnc_graph_n_params(n->g); i++) total += nnc_tensor_numel(nnc_node_grad(nnc_graph_param_at(n->g, i)));
    float *buf = malloc((size_t)total * 4), *p = buf;
    for (int i = 0; i <= nnc_graph_n_params(n->g); i++) {
        nnc_tensor *t = i < nnc_graph_n_params(n->g) ? nnc_node_grad(nnc_graph_param_at(n->g, i)) : nnc_node_grad(n->x);
        memcpy(p, t->data, (size_t)nnc_tensor_numel(t) * 4);
        p += nnc_tensor_numel(t);
    }
    *count = total;
    return buf;
}
static float *run_net(int64_t batch, int64_t *count, float *loss, nnc_tensor *y_out) {
    net n = build_net();
    float *gr = NULL;
    if (nnc_graph_compile(n.g, batch, 1)) { t_fail(__FILE__, __LINE__, "compile: %s", nnc_last_error()); nnc_graph_free(n.g); return NULL; }
    fill(&n);
    T_OK(nnc_graph_forward(n.g));
    T_OK(nnc_graph_backward(n.g));
    *loss = nnc_graph_loss_value(n.g);
    gr = grads(&n, count);
    if (y_out && nnc_tensor_alloc(y_out, NNC_F32, 4, nnc_node_value(n.a)->shape) == NNC_OK)
        memcpy(y_out->data, nnc_node_value(n.a)->data, nnc_tensor_bytes(y_out));
    nnc_graph_free(n.g);
    return gr;
}

static void check_graph(void) {
    int64_t batches[] = {1, 7};
    for (int bi = 0; bi < 2; bi++) {
        char name[160];
        snprintf(name, sizeof name, "conv2d op, batch %lld: oneDNN path equals the im2col path (outputs, added and overwritten gradients)",
                 (long long)batches[bi]);
        T_CASE(name) {
            int64_t n1 = 0, n2 = 0;
            float l1 = 0, l2 = 0;
            nnc_tensor y1 = {0}, y2 = {0};
            unsetenv("NNC_CONV");
            float *g1 = run_net(batches[bi], &n1, &l1, &y1);
            setenv("NNC_CONV", "im2col", 1);
            float *g2 = run_net(batches[bi], &n2, &l2, &y2);
            unsetenv("NNC_CONV");
            T_CHECK(g1 && g2 && n1 == n2);
            T_CHECKF(fabsf(l1 - l2) <= 1e-5f * fabsf(l2), "loss %.9g vs %.9g", l1, l2);
            if (y1.data && y2.data) t_close("c2 output", y1.data, y2.data, nnc_tensor_numel(&y1), 1e-4, 1e-5);
            if (g1 && g2 && n1 == n2) t_close("gradients", g1, g2, n1, 1e-3, 1e-6);
            free(g1); free(g2);
            nnc_tensor_free(&y1); nnc_tensor_free(&y2);
        }
    }
    T_CASE("conv2d op: two runs give bitwise identical gradients (same thread count)") {
        int64_t n1 = 0, n2 = 0;
        float l1 = 0, l2 = 0;
        float *g1 = run_net(7, &n1, &l1, NULL), *g2 = run_net(7, &n2, &l2, NULL);
        T_CHECK(g1 && g2 && n1 == n2 && l1 == l2 && !memcmp(g1, g2, (size_t)n1 * 4));
        free(g1); free(g2);
    }
    T_CASE("conv2d op: a thread count changed after compiling still gives the same results") {
        int t0 = nnc_get_threads();
        int64_t n1 = 0, n2 = 0;
        float l1 = 0, l2 = 0;
        float *g1 = run_net(7, &n1, &l1, NULL);
        net n = build_net();
        T_OK(nnc_graph_compile(n.g, 7, 1));
        nnc_set_threads(t0 > 1 ? 1 : 3);
        fill(&n);
        T_OK(nnc_graph_forward(n.g));
        T_OK(nnc_graph_backward(n.g));
        l2 = nnc_graph_loss_value(n.g);
        float *g2 = grads(&n, &n2);
        nnc_set_threads(t0);
        T_CHECKF(fabsf(l1 - l2) <= 1e-5f * fabsf(l1), "loss %.9g vs %.9g", l1, l2);
        if (n1 == n2) t_close("gradients", g2, g1, n1, 1e-3, 1e-6);
        free(g1); free(g2);
        nnc_graph_free(n.g);
    }
}

/* W3's network: two models with the same seed take one SGD step each. */
static void check_resnet20(void) {
    T_CASE("resnet20: a training step is bitwise repeatable and allocates nothing in libnnc") {
        float *w[2] = {NULL, NULL};
        int64_t np = 0;
        for (int r = 0; r < 2; r++) {
            nnc_model *m = NULL;
            T_OK(nnc_model_build("resnet20", NULL, &m));
            if (!m) break;
            nnc_optim o = nnc_optim_sgd(0.1f, 0.9f, 5e-4f);
            T_OK(nnc_graph_set_optimizer(m->g, &o));
            T_OK(nnc_graph_compile(m->g, 4, 1));
            T_OK(nnc_graph_compile(m->g, 8, 1));
            nnc_tensor *x = nnc_node_value(m->input), *y = nnc_node_value(m->labels);
            for (int64_t i = 0; i < nnc_tensor_numel(x); i++) ((float *)x->data)[i] = nnc_rand_normal(5, 1, (uint64_t)i);
            for (int64_t i = 0; i < y->shape[0]; i++) ((int64_t *)y->data)[i] = (int64_t)(i * 3 % 10);
            long before = t_alloc_count;
            for (int i = 0; i < 2; i++) T_OK(nnc_graph_train_step(m->g, NULL));
            T_CHECKF(t_alloc_count == before, "%ld allocations in 2 steps", t_alloc_count - before);
            np = 0;
            for (int i = 0; i < nnc_graph_n_params(m->g); i++) np += nnc_tensor_numel(nnc_node_value(nnc_graph_param_at(m->g, i)));
            w[r] = malloc((size_t)np * 4);
            float *p = w[r];
            for (int i = 0; i < nnc_graph_n_params(m->g); i++) {
                nnc_tensor *t = nnc_node_value(nnc_graph_param_at(m->g, i));
                memcpy(p, t->data, (size_t)nnc_tensor_numel(t) * 4);
                p += nnc_tensor_numel(t);
            }
            nnc_model_free(m);
        }
        T_CHECK(w[0] && w[1] && !memcmp(w[0], w[1], (size_t)np * 4));
        free(w[0]); free(w[1]);
    }
}

int main(void) {
    unsetenv("NNC_CONV");
    nnc_set_small_plan_macs(0); /* these small geometries must exercise the threaded paths */
    const spec specs[] = {
        /*  N   C   H   W   K  R  S sh sw ph pw dh dw  G bias */
        {7, 16, 8, 8, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0},   /* ResNet-20 stage 1 */
        {7, 16, 9, 9, 32, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0},   /* downsampling, odd size */
        {1, 16, 8, 8, 32, 1, 1, 2, 2, 0, 0, 1, 1, 1, 0},   /* projection shortcut, batch 1 */
        {2, 3, 32, 32, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0},  /* the stem: 3 input channels */
        {7, 3, 11, 13, 5, 3, 5, 2, 1, 1, 2, 1, 1, 1, 1},   /* odd sizes, rectangular kernel */
        {2, 4, 9, 10, 6, 3, 3, 1, 1, 2, 3, 2, 3, 1, 1},    /* dilation */
        {3, 4, 9, 8, 3, 3, 3, 2, 2, 2, 2, 2, 2, 1, 0},     /* stride + dilation + padding */
        {7, 6, 7, 7, 10, 3, 3, 1, 1, 1, 1, 1, 1, 2, 1},    /* two groups */
        {3, 8, 7, 6, 8, 3, 3, 2, 2, 1, 1, 1, 1, 8, 1},     /* depthwise */
        {2, 4, 6, 7, 8, 3, 3, 1, 1, 1, 1, 1, 1, 4, 0},     /* depthwise, multiplier 2 */
        {1, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 1, 1, 1, 1},   /* LeNet's first layer */
        {7, 64, 4, 4, 16, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1},   /* 1x1, stride 1 */
        {1, 5, 4, 3, 7, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1},     /* tiny 1x1 */
        {2, 2, 7, 8, 3, 2, 3, 2, 1, 1, 0, 1, 2, 1, 1},     /* rectangular everything */
        {7, 3, 5, 5, 4, 3, 3, 1, 1, 0, 0, 1, 1, 1, 0},     /* no padding */
        {2, 32, 5, 5, 48, 3, 3, 1, 1, 1, 1, 1, 1, 4, 1},   /* 4 groups, wide */
        /* Winograd F(4x4,3x3) (3x3, stride 1, >= 32 channels; 16 for backward-weights) */
        {7, 32, 8, 8, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0},   /* ResNet-20 stage 2 */
        {3, 64, 9, 7, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},   /* odd sizes, bias */
        {2, 48, 6, 6, 40, 3, 3, 1, 1, 0, 0, 1, 1, 1, 1},   /* channels not a multiple of 16, no padding */
    };
    for (size_t i = 0; i < sizeof specs / sizeof *specs; i++) check_geometry(&specs[i]);
    check_inference();
    check_graph();
    check_resnet20();
    return t_finish();
}
