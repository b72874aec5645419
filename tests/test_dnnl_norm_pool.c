/* test_dnnl_norm_pool.c -- the oneDNN batch-norm and pooling paths
 * (kernels/dnnl_bn.c, kernels/dnnl_pool.c and their use in the batchnorm,
 * maxpool2d and avgpool2d ops) against the plain kernels (NNC_DNNL=0 for
 * pooling; batch norm's oneDNN path is opt-in, NNC_DNNL_BN=1):
 * outputs, input/weight gradients and running statistics over many shapes
 * and geometries, training and inference, overwriting and accumulating
 * gradients; the geometries that must fall back; max pooling's ties and NaN;
 * no heap allocation in a step. */
#include "testlib.h"
#include "kernels/dnnl_bn.h"
#include "kernels/dnnl_pool.h"
#include <stdlib.h>
#include <string.h>

static void fill(nnc_node *n, uint64_t stream, float scale, float offset, int quantize) {
    nnc_tensor *t = nnc_node_value(n);
    float *p = t->data;
    for (int64_t i = 0; i < nnc_tensor_numel(t); i++) {
        float v = nnc_rand_normal(11, stream, (uint64_t)i) * scale + offset;
        p[i] = quantize ? (float)(int)(v * 2.0f) : v; /* small integers: many ties */
    }
}
static float *copy_of(const nnc_tensor *t) {
    size_t b = (size_t)nnc_tensor_numel(t) * sizeof(float);
    float *p = malloc(b ? b : 4);
    memcpy(p, t->data, b);
    return p;
}

/* ---- batch norm: graph x -> bn (affine by flags) -> mse(sum) loss; with
 * fanout, x also feeds a second bn sharing gamma/beta, so dx, dgamma and
 * dbeta accumulate. */
typedef struct { int ndim; int64_t shape[4]; int gamma, beta, fanout; } bn_spec;
typedef struct { float *y, *dx, *dg, *db, *rm, *rv; int64_t nbt; } bn_result;
enum { R_Y, R_DX, R_DG, R_DB, R_RM, R_RV };

static int bn_run(const bn_spec *s, int training, int dnnl, bn_result *r) {
    setenv("NNC_DNNL_BN", dnnl ? "1" : "0", 1);
    nnc_graph *g = nnc_graph_new();
    int64_t C = s->shape[1];
    nnc_node *x = nnc_input(g, "x", NNC_F32, s->ndim - 1, s->shape + 1);
    nnc_input_requires_grad(x);
    nnc_node *ga = s->gamma ? nnc_param(g, "gamma", 1, &C, (nnc_init){NNC_INIT_CONST, 1.0f, 0.0f}) : NULL;
    nnc_node *be = s->beta ? nnc_param(g, "beta", 1, &C, (nnc_init){NNC_INIT_ZEROS, 0.0f, 0.0f}) : NULL;
    nnc_node *rm = nnc_state(g, "rm", NNC_F32, 1, &C, 0.0), *rv = nnc_state(g, "rv", NNC_F32, 1, &C, 1.0);
    nnc_node *nbt = nnc_state(g, "nbt", NNC_I64, 0, NULL, 0.0);
    nnc_node *y = nnc_batchnorm(g, x, ga, be, rm, rv, nbt, 1e-5f, 0.1f);
    nnc_node *t = nnc_input(g, "t", NNC_F32, s->ndim - 1, s->shape + 1);
    nnc_graph_output(g, y);
    nnc_graph_loss(g, nnc_mse(g, y, t, NNC_SUM), 1.0f);
    nnc_node *t2 = NULL;
    if (s->fanout) {
        nnc_node *rm2 = nnc_state(g, "rm2", NNC_F32, 1, &C, 0.0), *rv2 = nnc_state(g, "rv2", NNC_F32, 1, &C, 1.0);
        nnc_node *y2 = nnc_batchnorm(g, x, ga, be, rm2, rv2, NULL, 1e-3f, 0.3f);
        t2 = nnc_input(g, "t2", NNC_F32, s->ndim - 1, s->shape + 1);
        nnc_graph_loss(g, nnc_mse(g, y2, t2, NNC_SUM), 0.5f);
    }
    nnc_status st = nnc_graph_compile(g, s->shape[0], training);
    T_OK(st);
    if (st) { nnc_graph_free(g); return 0; }
    fill(x, 1, 2.0f, 0.5f, 0);
    fill(t, 2, 1.0f, 0.0f, 0);
    if (ga) fill(ga, 3, 0.5f, 1.0f, 0);
    if (be) fill(be, 4, 0.5f, 0.0f, 0);
    fill(rm, 5, 0.3f, 0.0f, 0);
    for (int64_t c = 0; c < C; c++) ((float *)nnc_node_value(rv)->data)[c] = 0.5f + 0.1f * (float)c;
    if (t2) fill(t2, 6, 1.0f, 0.0f, 0);
    T_OK(nnc_graph_forward(g));
    if (training) T_OK(nnc_graph_backward(g));
    r->y = copy_of(nnc_node_value(y));
    r->dx = training ? copy_of(nnc_node_grad(x)) : NULL;
    r->dg = training && ga ? copy_of(nnc_node_grad(ga)) : NULL;
    r->db = training && be ? copy_of(nnc_node_grad(be)) : NULL;
    r->rm = copy_of(nnc_node_value(rm));
    r->rv = copy_of(nnc_node_value(rv));
    r->nbt = ((int64_t *)nnc_node_value(nbt)->data)[0];
    nnc_graph_free(g);
    unsetenv("NNC_DNNL_BN");
    return 1;
}
static void bn_free(bn_result *r) {
    free(r->y); free(r->dx); free(r->dg); free(r->db); free(r->rm); free(r->rv);
}

static void check_bn(const bn_spec *s) {
    char name[200], shp[64] = "";
    for (int i = 0; i < s->ndim; i++)
        snprintf(shp + strlen(shp), sizeof shp - strlen(shp), "%s%lld", i ? "x" : "", (long long)s->shape[i]);
    int64_t N = s->shape[0], C = s->shape[1], L = 1, n = 1;
    for (int i = 2; i < s->ndim; i++) L *= s->shape[i];
    for (int i = 0; i < s->ndim; i++) n *= s->shape[i];
    for (int training = 1; training >= 0; training--) {
        snprintf(name, sizeof name, "oneDNN batchnorm vs plain: %s%s%s%s, %s", shp, s->gamma ? " gamma" : "", s->beta ? " beta" : "",
                 s->fanout ? " fan-out (accumulate)" : "", training ? "training" : "inference");
        T_CASE(name) {
            /* oneDNN must really take these shapes, or the comparison proves nothing */
            nnc_dnnl_bn *b = nnc_dnnl_bn_new(N, C, L, 1e-5f, s->gamma, s->beta, training, 0, 0);
            T_CHECKF(nnc_dnnl_bn_ok(b), "oneDNN refused: forward '%s', backward '%s'", nnc_dnnl_bn_impl(b, 0), nnc_dnnl_bn_impl(b, 1));
            nnc_dnnl_bn_free(b);
            bn_result d, p;
            if (!bn_run(s, training, 1, &d)) break;
            if (!bn_run(s, training, 0, &p)) { bn_free(&d); break; }
            t_close("y", d.y, p.y, n, 1e-4, 1e-4);
            t_close("running_mean", d.rm, p.rm, C, 1e-5, 1e-6);
            t_close("running_var (unbiased)", d.rv, p.rv, C, 1e-5, 1e-6);
            T_CHECKF(d.nbt == p.nbt && d.nbt == training, "num_batches_tracked %lld and %lld", (long long)d.nbt, (long long)p.nbt);
            if (training) {
                t_close("dx", d.dx, p.dx, n, 1e-3, 2e-4);
                if (s->gamma) t_close("dgamma", d.dg, p.dg, C, 1e-4, 1e-4);
                if (s->beta) t_close("dbeta", d.db, p.db, C, 1e-4, 1e-4);
            }
            bn_free(&d);
            bn_free(&p);
        }
    }
}

/* ---- pooling: x -> pool -> mse(sum); with fanout a second pool of x, so dx
 * accumulates. */
typedef struct { int max; int64_t N, C, H, W; nnc_pool2d_opts o; int fanout, ties, maps; } pool_spec;

static int pool_run(const pool_spec *s, int training, int dnnl, float **y, float **dx) {
    if (dnnl) unsetenv("NNC_DNNL"); else setenv("NNC_DNNL", "0", 1);
    nnc_graph *g = nnc_graph_new();
    nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){s->C, s->H, s->W});
    nnc_input_requires_grad(x);
    nnc_node *out = s->max ? nnc_maxpool2d(g, x, &s->o) : nnc_avgpool2d(g, x, &s->o);
    nnc_graph_output(g, out);
    nnc_tensor *v = nnc_node_value(out);
    nnc_node *t = nnc_input(g, "t", NNC_F32, 3, v->shape + 1);
    nnc_graph_loss(g, nnc_mse(g, out, t, NNC_SUM), 1.0f);
    if (s->fanout) {
        nnc_node *o2 = s->max ? nnc_maxpool2d(g, x, &s->o) : nnc_avgpool2d(g, x, &s->o);
        nnc_graph_loss(g, nnc_mse(g, o2, t, NNC_SUM), 0.25f);
    }
    nnc_status st = nnc_graph_compile(g, s->N, training);
    T_OK(st);
    if (st) { nnc_graph_free(g); return 0; }
    fill(x, 1, 1.0f, 0.0f, s->ties);
    fill(t, 2, 1.0f, 0.0f, 0);
    T_OK(nnc_graph_forward(g));
    if (training) T_OK(nnc_graph_backward(g));
    *y = copy_of(nnc_node_value(out));
    *dx = training ? copy_of(nnc_node_grad(x)) : NULL;
    nnc_graph_free(g);
    unsetenv("NNC_DNNL");
    return 1;
}

static void check_pool(const pool_spec *s) {
    nnc_pool2d_opts o = s->o;
    for (int i = 0; i < 2; i++)
        if (!o.stride[i]) o.stride[i] = o.kernel[i];
    nnc_tensor xt = {NNC_F32, 4, {s->N, s->C, s->H, s->W, 0, 0}, NNC_LAYOUT_PLAIN, NULL, 0};
    nnc_pool_geom g = nnc_pool_geometry(&xt, &o);
    int64_t nx = s->N * s->C * s->H * s->W, ny = s->N * s->C * g.OH * g.OW;
    for (int training = 1; training >= 0; training--) {
        char name[240];
        snprintf(name, sizeof name, "oneDNN %s vs plain: %lldx%lldx%lldx%lld k%dx%d s%d,%d p%d,%d%s%s%s%s, %s",
                 s->max ? "maxpool2d" : "avgpool2d", (long long)s->N, (long long)s->C, (long long)s->H, (long long)s->W,
                 o.kernel[0], o.kernel[1], o.stride[0], o.stride[1], o.pad[0], o.pad[1], o.ceil_mode ? " ceil" : "",
                 !s->max && o.count_include_pad ? " count_include_pad" : "", s->ties ? " ties" : "",
                 s->fanout ? " fan-out (accumulate)" : "", training ? "training" : "inference");
        T_CASE(name) {
            nnc_dnnl_pool *p = nnc_dnnl_pool_new(&g, s->max, training);
            T_CHECKF(nnc_dnnl_pool_ok(p) == s->maps, "oneDNN %s this geometry (forward '%s', backward '%s')",
                     s->maps ? "refused" : "accepted", nnc_dnnl_pool_impl(p, 0), nnc_dnnl_pool_impl(p, 1));
            nnc_dnnl_pool_free(p);
            float *yd, *dxd, *yp, *dxp;
            if (!pool_run(s, training, 1, &yd, &dxd)) break;
            if (!pool_run(s, training, 0, &yp, &dxp)) { free(yd); free(dxd); break; }
            /* max pooling copies values: exact; averages: rounding */
            t_close("y", yd, yp, ny, s->max ? 0 : 1e-5, s->max ? 0 : 1e-6);
            if (training) t_close("dx", dxd, dxp, nx, 1e-5, 1e-6);
            free(yd); free(dxd); free(yp); free(dxp);
        }
    }
}

/* A NaN in max pooling's input takes the plain kernel (PyTorch propagates
 * it), and the backward after that forward follows it. */
static void check_nan(void) {
    T_CASE("oneDNN maxpool2d: a NaN input propagates, and backward follows the plain forward") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){2, 7, 7});
        nnc_input_requires_grad(x);
        nnc_node *y = nnc_maxpool2d(g, x, &(nnc_pool2d_opts){{3, 3}, {2, 2}, {1, 1}, 0, 0});
        nnc_graph_output(g, y);
        nnc_node *t = nnc_input(g, "t", NNC_F32, 3, (int64_t[]){2, 4, 4});
        nnc_graph_loss(g, nnc_mse(g, y, t, NNC_SUM), 1.0f);
        T_OK(nnc_graph_compile(g, 2, 1));
        fill(x, 1, 1.0f, 0.0f, 0);
        fill(t, 2, 1.0f, 0.0f, 0);
        float *xv = nnc_node_value(x)->data, *yv = nnc_node_value(y)->data;
        T_OK(nnc_graph_forward(g)); /* oneDNN */
        T_OK(nnc_graph_backward(g));
        float *dx1 = copy_of(nnc_node_grad(x));
        xv[7 * 2 + 2] = NAN; /* image 0, channel 0, row 2, column 2: only in window (1,1) */
        T_OK(nnc_graph_forward(g));
        T_CHECKF(isnan(yv[5]) && !isnan(yv[0]) && !isnan(yv[4]) && !isnan(yv[6]) && !isnan(yv[16]),
                 "NaN did not propagate: %g %g %g %g %g", yv[5], yv[0], yv[4], yv[6], yv[16]);
        /* backward scatters to the NaN's position as the plain kernel does: dx
         * away from channel 0 of image 0 is what it was */
        for (int64_t i = 0; i < 16; i++) ((float *)nnc_node_value(t)->data)[i] = 0.0f;
        T_OK(nnc_graph_backward(g));
        float *dx2 = nnc_node_grad(x)->data;
        t_close("dx of the other planes", dx2 + 49, dx1 + 49, 3 * 49, 1e-6, 1e-6);
        T_CHECKF(isnan(dx2[7 * 2 + 2]), "the NaN's position got gradient %g", dx2[7 * 2 + 2]);
        free(dx1);
        nnc_graph_free(g);
    }
}

/* A small net of BN and both pools: steps allocate nothing once compiled. */
static void check_no_alloc(void) {
    T_CASE("oneDNN batchnorm and pooling: a training step allocates nothing") {
        setenv("NNC_DNNL_BN", "1", 1);
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){3, 16, 16});
        nnc_node *lab = nnc_input(g, "y", NNC_I64, 0, NULL);
        nnc_node *h = nnc_conv2d_layer(g, x, "conv", 8, 3, 3, &(nnc_conv2d_opts){{1, 1}, {1, 1}, {1, 1}, 1}, 0);
        h = nnc_relu(g, nnc_batchnorm_layer(g, h, "bn", 1e-5f, 0.1f));
        h = nnc_maxpool2d(g, h, &(nnc_pool2d_opts){{3, 3}, {2, 2}, {1, 1}, 1, 0});
        h = nnc_avgpool2d(g, h, &(nnc_pool2d_opts){{3, 3}, {2, 2}, {1, 1}, 0, 0});
        nnc_node *logits = nnc_linear_layer(g, nnc_flatten(g, h), "fc", 10, 1);
        nnc_graph_loss(g, nnc_cross_entropy(g, logits, lab, NNC_MEAN), 1.0f);
        nnc_optim o = nnc_optim_sgd(0.1f, 0.9f, 0.0f);
        T_OK(nnc_graph_set_optimizer(g, &o));
        T_OK(nnc_graph_compile(g, 4, 1));
        fill(x, 1, 1.0f, 0.0f, 0);
        for (int i = 0; i < 4; i++) ((int64_t *)nnc_node_value(lab)->data)[i] = i;
        long before = t_alloc_count;
        for (int i = 0; i < 3; i++) T_OK(nnc_graph_train_step(g, NULL));
        T_CHECKF(t_alloc_count == before, "%ld allocations in 3 steps", t_alloc_count - before);
        nnc_graph_free(g);
        unsetenv("NNC_DNNL_BN");
    }
}

int main(void) {
    nnc_set_small_plan_macs(0); /* exercise the threaded paths on small shapes */
    static const bn_spec bns[] = {
        {4, {2, 16, 8, 8}, 1, 1, 0}, {4, {16, 16, 32, 32}, 1, 1, 0}, {4, {3, 7, 5, 3}, 1, 1, 0}, {4, {4, 3, 6, 6}, 1, 0, 0},
        {4, {4, 3, 6, 6}, 0, 1, 0},  {4, {5, 4, 3, 3}, 0, 0, 0},     {4, {1, 4, 3, 3}, 1, 1, 0}, {4, {3, 5, 4, 4}, 1, 1, 1},
        {3, {4, 3, 7, 0}, 1, 1, 0},  {3, {2, 6, 5, 0}, 1, 0, 1},     {4, {8, 32, 4, 4}, 1, 1, 1}, {2, {8, 5, 0, 0}, 1, 1, 0},
        {2, {6, 3, 0, 0}, 1, 1, 1},
    };
    for (size_t i = 0; i < sizeof bns / sizeof bns[0]; i++) check_bn(&bns[i]);

    static const pool_spec pools[] = {
        /* max: every geometry but 2x2/2 runs on oneDNN (2x2/2 stays plain, faster) */
        {1, 2, 3, 7, 7, {{3, 3}, {2, 2}, {0, 0}, 0, 0}, 0, 0, 1},
        {1, 2, 3, 6, 7, {{3, 3}, {2, 2}, {1, 1}, 1, 0}, 0, 0, 1},
        {1, 2, 3, 5, 5, {{2, 2}, {2, 2}, {0, 0}, 1, 0}, 0, 0, 1},
        {1, 2, 2, 5, 6, {{2, 3}, {1, 2}, {1, 1}, 0, 0}, 1, 0, 1},
        {1, 3, 4, 9, 9, {{3, 3}, {1, 1}, {1, 1}, 0, 0}, 0, 1, 1},
        {1, 2, 3, 8, 8, {{3, 3}, {2, 2}, {1, 1}, 1, 0}, 1, 1, 1},
        {1, 4, 16, 32, 32, {{3, 3}, {2, 2}, {1, 1}, 0, 0}, 0, 0, 1},
        /* avg */
        {0, 2, 3, 6, 4, {{2, 2}, {0, 0}, {0, 0}, 0, 1}, 0, 0, 1},
        {0, 2, 3, 6, 7, {{3, 3}, {2, 2}, {1, 1}, 0, 1}, 0, 0, 1},
        {0, 2, 3, 6, 7, {{3, 3}, {2, 2}, {1, 1}, 0, 0}, 1, 0, 1},
        {0, 2, 3, 6, 7, {{3, 3}, {2, 2}, {1, 1}, 1, 0}, 0, 0, 1},
        {0, 2, 2, 5, 5, {{2, 2}, {2, 2}, {0, 0}, 1, 0}, 1, 0, 1},
        {0, 2, 2, 4, 5, {{3, 3}, {1, 1}, {1, 1}, 0, 0}, 0, 0, 1},
        {0, 4, 16, 32, 32, {{2, 2}, {2, 2}, {0, 0}, 0, 1}, 1, 0, 1},
        {0, 2, 2, 7, 5, {{3, 2}, {2, 1}, {1, 0}, 0, 1}, 0, 0, 1},
        /* count_include_pad where ceil_mode makes a window overhang the padding:
         * oneDNN's divisor would differ, so the plain kernel runs */
        {0, 2, 3, 6, 7, {{3, 3}, {2, 2}, {1, 1}, 1, 1}, 0, 0, 0},
        {0, 2, 2, 5, 5, {{2, 2}, {2, 2}, {0, 0}, 1, 1}, 1, 0, 0},
        {0, 2, 2, 6, 5, {{3, 2}, {2, 1}, {1, 0}, 1, 1}, 0, 0, 0},
        /* ... and ceil_mode without overhang maps */
        {0, 2, 2, 7, 5, {{3, 2}, {2, 1}, {1, 0}, 1, 1}, 0, 0, 1},
    };
    for (size_t i = 0; i < sizeof pools / sizeof pools[0]; i++) check_pool(&pools[i]);
    check_nan();
    check_no_alloc();
    return t_finish();
}
