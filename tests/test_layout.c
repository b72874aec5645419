/* test_layout.c -- what the compiler does to intermediate tensors: the ReLU
 * fusion (a ReLU feeding max pooling applied after the pooling; LeNet-5
 * fused and unfused agree, and the cases that must not fuse), and blocked
 * layouts (nChw16c) between oneDNN ops (compile.c's layout pass): which tensors the compiler blocks and which it must leave
 * plain, and that a network computes the same losses, gradients, running
 * statistics and weights blocked as plain (nnc_graph_set_plain_intermediates):
 * ResNet-20 (conv, BN, ReLU, residual adds, projection shortcuts, global
 * average pooling) and a small net with a fan-out, a 16-channel stem conv
 * and a blocked tensor read back with nnc_tensor_read_plain. */
#include "testlib.h"
#include "core/graph.h"
#include "ops/op.h"
#include "kernels/dnnl_prim.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Blocked layouts are chosen only where oneDNN has jit kernels for them
 * (AVX2 or wider); elsewhere every check below expects plain tensors. */
static int blocking;

static void fill_inputs(nnc_model *m, uint64_t seed) {
    nnc_tensor *x = nnc_node_value(m->input), *y = nnc_node_value(m->labels);
    for (int64_t i = 0; i < nnc_tensor_numel(x); i++) ((float *)x->data)[i] = nnc_rand_normal(seed, 1, (uint64_t)i);
    for (int64_t i = 0; i < y->shape[0]; i++) ((int64_t *)y->data)[i] = (int64_t)((i * 7 + (int64_t)seed) % 10);
}

/* Every parameter (or its gradient) and every state, concatenated. */
static float *collect(nnc_graph *g, int grads, int64_t *count) {
    int64_t total = 0;
    for (int i = 0; i < nnc_graph_n_params(g); i++) total += nnc_tensor_numel(nnc_node_value(nnc_graph_param_at(g, i)));
    float *buf = malloc((size_t)(total ? total : 1) * sizeof(float)), *p = buf;
    for (int i = 0; i < nnc_graph_n_params(g); i++) {
        nnc_node *pn = nnc_graph_param_at(g, i);
        nnc_tensor *t = grads ? nnc_node_grad(pn) : nnc_node_value(pn);
        memcpy(p, t->data, (size_t)nnc_tensor_numel(t) * sizeof(float));
        p += nnc_tensor_numel(t);
    }
    *count = total;
    return buf;
}

typedef struct { float loss0, loss2; float *grad, *param; int64_t n; int blocked; } run_result;

/* Input height and width of the models built below (0: the model's default). */
static int input_hw = 0;

/* A zoo model with its options string (NULL: defaults). */
static nnc_model *build_model(const char *name, const char *opts) {
    nnc_model *m = NULL;
    nnc_model_opts mo = {0};
    mo.dropout = -1;
    mo.height = mo.width = input_hw;
    mo.options = opts;
    T_OK(nnc_model_build(name, &mo, &m));
    return m;
}

/* Builds the zoo model, one forward/backward (gradients), then two SGD steps. */
static run_result run_model(const char *name, const char *opts, int plain, int64_t batch) {
    run_result r = {0};
    nnc_model *m = build_model(name, opts);
    if (!m) return r;
    nnc_graph_set_plain_intermediates(m->g, plain);
    nnc_optim o = nnc_optim_sgd(0.05f, 0.9f, 5e-4f);
    T_OK(nnc_graph_set_optimizer(m->g, &o));
    T_OK(nnc_graph_compile(m->g, batch, 1));
    for (int i = 0; i < nnc_graph_n_nodes(m->g); i++) {
        nnc_node *n = m->g->nodes[i];
        if (nnc_node_value(n)->layout == NNC_LAYOUT_BLOCKED16) r.blocked++;
    }
    fill_inputs(m, 3);
    T_OK(nnc_graph_forward(m->g));
    T_OK(nnc_graph_backward(m->g));
    r.loss0 = nnc_graph_loss_value(m->g);
    r.grad = collect(m->g, 1, &r.n);
    T_OK(nnc_graph_train_step(m->g, NULL));
    fill_inputs(m, 4);
    T_OK(nnc_graph_train_step(m->g, NULL));
    r.loss2 = nnc_graph_loss_value(m->g);
    r.param = collect(m->g, 0, &r.n);
    nnc_model_free(m);
    return r;
}

/* r[0] as compiled by default, r[1] with the environment variable var = "0". */
static void run_pair(const char *name, const char *opts, const char *var, int64_t batch, run_result r[2]) {
    for (int k = 0; k < 2; k++) {
        if (k) setenv(var, "0", 1);
        r[k] = run_model(name, opts, 0, batch);
        unsetenv(var);
    }
}

/* The two runs agree: losses before and after two steps to relative
 * tolerances, gradients and weights to their rtol (and atol); frees them. */
static void expect_close(run_result r[2], float loss0_rel, float loss2_rel, double grad_rtol, double weight_rtol, double atol) {
    T_CHECKF(fabsf(r[0].loss0 - r[1].loss0) <= loss0_rel * fabsf(r[1].loss0), "loss %.8g vs %.8g", r[0].loss0, r[1].loss0);
    T_CHECKF(fabsf(r[0].loss2 - r[1].loss2) <= loss2_rel * fabsf(r[1].loss2), "after 2 steps %.8g vs %.8g", r[0].loss2, r[1].loss2);
    if (r[0].grad && r[1].grad && r[0].n == r[1].n) t_close("gradients", r[0].grad, r[1].grad, r[0].n, grad_rtol, atol);
    if (r[0].param && r[1].param && r[0].n == r[1].n) t_close("weights", r[0].param, r[1].param, r[0].n, weight_rtol, atol);
    for (int k = 0; k < 2; k++) { free(r[k].grad); free(r[k].param); }
}

/* The two runs agree bitwise: losses before and after two steps, every
 * gradient and weight; frees them. */
static void expect_bitwise(run_result r[2]) {
    T_CHECKF(r[0].loss0 == r[1].loss0 && r[0].loss2 == r[1].loss2, "loss %.9g / %.9g vs %.9g / %.9g", r[0].loss0, r[0].loss2,
             r[1].loss0, r[1].loss2);
    T_CHECK(r[0].n == r[1].n && r[0].grad && r[1].grad && !memcmp(r[0].grad, r[1].grad, (size_t)r[0].n * sizeof(float)));
    T_CHECK(r[0].n == r[1].n && r[0].param && r[1].param && !memcmp(r[0].param, r[1].param, (size_t)r[0].n * sizeof(float)));
    for (int k = 0; k < 2; k++) { free(r[k].grad); free(r[k].param); }
}

static void check_same(const char *name, const char *opts, int64_t batch) {
    char title[160];
    snprintf(title, sizeof title, "%s: blocked layouts give the plain run's loss, gradients and weights after 2 steps", name);
    T_CASE(title) {
        run_result b = run_model(name, opts, 0, batch), p = run_model(name, opts, 1, batch);
        T_CHECKF((b.blocked > 0) == blocking, "%d tensors blocked in %s", b.blocked, name);
        T_CHECKF(p.blocked == 0, "%d tensors blocked with plain layouts on", p.blocked);
        T_CHECKF(fabsf(b.loss0 - p.loss0) <= 1e-4f * fabsf(p.loss0), "loss %.7g vs %.7g", b.loss0, p.loss0);
        T_CHECKF(fabsf(b.loss2 - p.loss2) <= 1e-3f * fabsf(p.loss2), "loss after 2 steps %.7g vs %.7g", b.loss2, p.loss2);
        T_CHECK(b.n == p.n && b.n > 0);
        if (b.grad && p.grad && b.n == p.n) t_close("gradients", b.grad, p.grad, b.n, 2e-3, 2e-5);
        if (b.param && p.param && b.n == p.n) t_close("weights after 2 steps", b.param, p.param, b.n, 1e-3, 1e-5);
        free(b.grad); free(b.param); free(p.grad); free(p.param);
    }
}

/* ResNet-20: which tensors are blocked. */
static void check_assignment(void) {
    T_CASE("resnet20: convolution, BN, ReLU and add outputs are blocked; inputs, parameters, the pooled features and the loss plain") {
        nnc_model *m = build_model("resnet20", NULL);
        if (m) {
            T_OK(nnc_graph_compile(m->g, 4, 1));
            int counts[8] = {0}, blocked[8] = {0};
            const char *ops[8] = {"conv2d", "batchnorm", "relu", "add", "global_avgpool", "linear", "cross_entropy", "reshape"};
            for (int i = 0; i < nnc_graph_n_nodes(m->g); i++) {
                nnc_node *n = m->g->nodes[i];
                const char *op = nnc_node_op(n);
                int b = nnc_node_value(n)->layout == NNC_LAYOUT_BLOCKED16;
                if (!op) {
                    T_CHECKF(!b, "leaf '%s' is blocked", nnc_node_name(n));
                    continue;
                }
                if (b) T_CHECKF(nnc_node_grad(n)->layout == NNC_LAYOUT_BLOCKED16, "'%s': gradient not blocked like its value", nnc_node_name(n));
                for (int k = 0; k < 8; k++)
                    if (!strcmp(op, ops[k])) { counts[k]++; blocked[k] += b; }
            }
            for (int k = 0; k < 4; k++)
                T_CHECKF(counts[k] > 0 && blocked[k] == (blocking ? counts[k] : 0), "%s: %d of %d blocked", ops[k], blocked[k], counts[k]);
            for (int k = 4; k < 8; k++) T_CHECKF(blocked[k] == 0, "%s: %d blocked", ops[k], blocked[k]);
            T_CHECK(nnc_node_value(m->input)->layout == NNC_LAYOUT_PLAIN && nnc_node_value(m->loss)->layout == NNC_LAYOUT_PLAIN);
            /* an inference plan blocks the same chain */
            T_OK(nnc_graph_compile(m->g, 2, 0));
            int inf_blocked = 0;
            for (int i = 0; i < nnc_graph_n_nodes(m->g); i++)
                inf_blocked += nnc_node_value(m->g->nodes[i])->layout == NNC_LAYOUT_BLOCKED16;
            T_CHECKF((inf_blocked > 0) == blocking, "inference plan: %d blocked", inf_blocked);
            nnc_model_free(m);
        }
    }
}

/* A small graph: a 16-channel stem (3 input channels), BN, ReLU fanning out
 * to a convolution and to a residual add, a 1x1 projection, global average
 * pooling; the ReLU output is read back through nnc_tensor_read_plain, a
 * branch ending in max pooling (no blocked support) stays plain, and a
 * tensor the user marks as an output stays plain. */
typedef struct { nnc_graph *g; nnc_node *x, *t, *r, *mid, *pooled_src, *loss; } small_net;

static small_net build_small(int plain) {
    small_net s;
    s.g = nnc_graph_new();
    nnc_graph_set_seed(s.g, 5);
    nnc_graph_set_plain_intermediates(s.g, plain);
    s.x = nnc_input(s.g, "x", NNC_F32, 3, (int64_t[]){3, 8, 8});
    nnc_input_requires_grad(s.x);
    nnc_conv2d_opts p1 = {{1, 1}, {1, 1}, {1, 1}, 1}, p0 = {{1, 1}, {0, 0}, {1, 1}, 1};
    nnc_node *h = nnc_conv2d_layer(s.g, s.x, "stem", 16, 3, 3, &p1, 0);
    h = nnc_batchnorm_layer(s.g, h, "bn", 1e-5f, 0.1f);
    s.r = nnc_relu(s.g, h);
    nnc_node *a = nnc_conv2d_layer(s.g, s.r, "c1", 16, 3, 3, &p1, 1);
    s.mid = nnc_add(s.g, a, s.r);
    nnc_node *b = nnc_conv2d_layer(s.g, s.mid, "proj", 32, 1, 1, &p0, 0);
    b = nnc_relu(s.g, nnc_batchnorm_layer(s.g, b, "bn2", 1e-5f, 0.1f));
    s.pooled_src = nnc_conv2d_layer(s.g, b, "c2", 16, 3, 3, &p1, 0);
    nnc_pool2d_opts po = {{2, 2}, {2, 2}, {0, 0}, 0, 1};
    nnc_node *mp = nnc_maxpool2d(s.g, s.pooled_src, &po);
    nnc_node *f = nnc_reshape(s.g, nnc_global_avgpool(s.g, nnc_add(s.g, b, b)), 1, (int64_t[]){32});
    nnc_node *f2 = nnc_reshape(s.g, mp, 1, (int64_t[]){16 * 4 * 4});
    s.t = nnc_input(s.g, "t", NNC_F32, 1, (int64_t[]){32});
    nnc_node *t2 = nnc_input(s.g, "t2", NNC_F32, 1, (int64_t[]){256});
    s.loss = nnc_add(s.g, nnc_mse(s.g, f, s.t, NNC_MEAN), nnc_mse(s.g, f2, t2, NNC_MEAN));
    nnc_graph_loss(s.g, s.loss, 1.0f);
    return s;
}

static void fill_small(small_net *s) {
    nnc_node *in[3] = {s->x, s->t, nnc_graph_find(s->g, "t2")};
    for (int k = 0; k < 3; k++) {
        nnc_tensor *t = nnc_node_value(in[k]);
        for (int64_t i = 0; i < nnc_tensor_numel(t); i++) ((float *)t->data)[i] = nnc_rand_normal(9, (uint64_t)k, (uint64_t)i);
    }
}

static void check_small(void) {
    T_CASE("small net: stem, fan-out, projection, pooling -- blocked equals plain; a blocked tensor reads back plain") {
        float *v[2] = {NULL, NULL}, *gx[2] = {NULL, NULL}, *gp[2] = {NULL, NULL}, loss[2] = {0, 0};
        int64_t nv = 0, nx = 0, np = 0;
        for (int plain = 0; plain < 2; plain++) {
            small_net s = build_small(plain);
            if (nnc_graph_compile(s.g, 3, 1)) { t_fail(__FILE__, __LINE__, "compile: %s", nnc_last_error()); nnc_graph_free(s.g); continue; }
            nnc_tensor *r = nnc_node_value(s.r);
            if (!plain && blocking) {
                T_CHECKF(r->layout == NNC_LAYOUT_BLOCKED16, "the ReLU feeding a conv and an add is not blocked");
                T_CHECKF(nnc_node_value(s.mid)->layout == NNC_LAYOUT_BLOCKED16, "the residual sum is not blocked");
                T_CHECKF(nnc_node_value(s.pooled_src)->layout == NNC_LAYOUT_PLAIN, "a tensor read by max pooling is blocked");
            }
            fill_small(&s);
            T_OK(nnc_graph_forward(s.g));
            T_OK(nnc_graph_backward(s.g));
            loss[plain] = nnc_graph_loss_value(s.g);
            nv = nnc_tensor_numel(r);
            v[plain] = malloc((size_t)nv * sizeof(float));
            T_OK(nnc_tensor_read_plain(r, v[plain]));
            nx = nnc_tensor_numel(nnc_node_grad(s.x));
            gx[plain] = malloc((size_t)nx * sizeof(float));
            memcpy(gx[plain], nnc_node_grad(s.x)->data, (size_t)nx * sizeof(float));
            gp[plain] = collect(s.g, 1, &np);
            nnc_graph_free(s.g);
        }
        T_CHECKF(fabsf(loss[0] - loss[1]) <= 1e-5f * fabsf(loss[1]), "loss %.8g vs %.8g", loss[0], loss[1]);
        if (v[0] && v[1]) t_close("ReLU output read plain", v[0], v[1], nv, 1e-5, 1e-6);
        if (gx[0] && gx[1]) t_close("input gradient", gx[0], gx[1], nx, 1e-3, 1e-6);
        if (gp[0] && gp[1]) t_close("parameter gradients", gp[0], gp[1], np, 1e-3, 1e-6);
        for (int k = 0; k < 2; k++) { free(v[k]); free(gx[k]); free(gp[k]); }
    }
    T_CASE("nnc_tensor_read_plain: blocked [2, 32, 2, 3] and [2, 20, 2, 3] (padded) tensors, element by element") {
        float src[2 * 32 * 6], dst[2 * 32 * 6];
        nnc_tensor t = {NNC_F32, 4, {2, 32, 2, 3}, NNC_LAYOUT_BLOCKED16, src, 0};
        /* blocked index of (n, c, l) = ((n * 2 + c / 16) * 6 + l) * 16 + c % 16; store n*1000 + c*10 + l there */
        for (int n = 0; n < 2; n++)
            for (int c = 0; c < 32; c++)
                for (int l = 0; l < 6; l++) src[((n * 2 + c / 16) * 6 + l) * 16 + c % 16] = (float)(n * 1000 + c * 10 + l);
        T_OK(nnc_tensor_read_plain(&t, dst));
        int bad = 0;
        for (int n = 0; n < 2; n++)
            for (int c = 0; c < 32; c++)
                for (int l = 0; l < 6; l++) bad += dst[(n * 32 + c) * 6 + l] != (float)(n * 1000 + c * 10 + l);
        T_CHECKF(bad == 0, "%d elements misplaced", bad);
        /* 20 channels: two blocks, the second padded (channels 20..31 of it are not read) */
        nnc_tensor u = {NNC_F32, 4, {2, 20, 2, 3}, NNC_LAYOUT_BLOCKED16, src, 0};
        T_CHECK(nnc_tensor_bytes(&u) == 2 * 32 * 6 * sizeof(float));
        T_OK(nnc_tensor_read_plain(&u, dst));
        bad = 0;
        for (int n = 0; n < 2; n++)
            for (int c = 0; c < 20; c++)
                for (int l = 0; l < 6; l++) bad += dst[(n * 20 + c) * 6 + l] != (float)(n * 1000 + c * 10 + l);
        T_CHECKF(bad == 0, "%d elements misplaced with padded channels", bad);
        nnc_tensor v1 = {NNC_F32, 1, {8}, NNC_LAYOUT_BLOCKED16, src, 0};
        T_CHECK(nnc_tensor_read_plain(&v1, dst) == NNC_ERR_ARG);
        /* a window: channels 3..7 of a [2, 10, 2, 3] buffer */
        for (int i = 0; i < 2 * 10 * 6; i++) src[i] = (float)i;
        nnc_tensor w = {NNC_F32, 4, {2, 5, 2, 3}, NNC_LAYOUT_PLAIN, src + 3 * 6, 10 * 6};
        T_OK(nnc_tensor_read_plain(&w, dst));
        bad = 0;
        for (int n = 0; n < 2; n++)
            for (int c = 0; c < 5; c++)
                for (int l = 0; l < 6; l++) bad += dst[(n * 5 + c) * 6 + l] != (float)((n * 10 + 3 + c) * 6 + l);
        T_CHECKF(bad == 0, "window: %d elements misplaced", bad);
    }
}

/* LeNet-5 with and without the ReLU fusion (NNC_FUSE=0). */
/* Windows (bstride != 0) among the graph's tensors. */
static int count_windows(nnc_graph *g) {
    int w = 0;
    for (int i = 0; i < g->n_nodes; i++) w += nnc_node_value(g->nodes[i])->bstride != 0;
    return w;
}

/* DenseNet-BC-40 compiled for training at batch 16 by default and with the
 * environment variable var = "0": the two activation arenas, and in the
 * default plan the windows, the batch norms sharing statistics, the
 * recomputing convolutions and the rebuilt concatenations. */
typedef struct { size_t arena[2]; int windows, sharing, recomputing, rebuilt; } densenet_plan;
static densenet_plan compile_pair(const char *var) {
    densenet_plan d = {{0, 0}, 0, 0, 0, 0};
    for (int k = 0; k < 2; k++) {
        if (k) setenv(var, "0", 1);
        nnc_model *m = build_model("densenet-bc", "depth=40,growth=12");
        if (m) {
            T_OK(nnc_graph_compile(m->g, 16, 1));
            d.arena[k] = nnc_graph_mem_info(m->g).arena_bytes;
            if (!k) d.windows = count_windows(m->g);
            for (int i = 0; i < m->g->n_nodes && !k; i++) {
                const nnc_node *n = m->g->nodes[i];
                d.sharing += n->stats_src != NULL;
                d.recomputing += (n->flags & NNC_NODE_RECOMPUTE_IN) != 0;
                d.rebuilt += (n->flags & NNC_NODE_REMAT) != 0;
            }
            nnc_model_free(m);
        }
        unsetenv(var);
    }
    return d;
}

/* A graph of channel concatenations with every case of the in-place rule:
 * a, b placed through c1 into c3's buffer; d twice in c2 (copied); e also
 * read by tanh (no strided reader: copied); c0 reads a and b that are
 * placed in a later concatenation (copies them); c3 an output. The loss
 * reads c3 through BN+ReLU+conv (its 1x1 conv recomputes) and c0 through
 * a conv. */
typedef struct { float loss; float *grad, *out; int64_t ng, nout; int windows; size_t arena; } inplace_run;
static inplace_run run_concat_graph(int training) {
    inplace_run r = {0};
    nnc_graph *g = nnc_graph_new();
    nnc_graph_set_seed(g, 9);
    nnc_conv2d_opts p1 = {{1, 1}, {1, 1}, {1, 1}, 1};
    nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){6, 6, 6});
    nnc_input_requires_grad(x);
    nnc_node *a = nnc_conv2d_layer(g, x, "a", 4, 3, 3, &p1, 1), *b = nnc_conv2d_layer(g, x, "b", 5, 3, 3, &p1, 1);
    nnc_node *d = nnc_conv2d_layer(g, x, "d", 3, 3, 3, &p1, 1), *e = nnc_conv2d_layer(g, x, "e", 2, 3, 3, &p1, 1);
    nnc_node *c0 = nnc_concat(g, 2, (nnc_node *[]){b, a});
    nnc_node *c1 = nnc_concat(g, 2, (nnc_node *[]){a, b});
    nnc_node *c2 = nnc_concat(g, 3, (nnc_node *[]){d, c1, d});
    nnc_node *c3 = nnc_concat(g, 2, (nnc_node *[]){e, c2});
    nnc_node *h = nnc_conv2d_layer(g, nnc_relu(g, nnc_batchnorm_layer(g, c3, "bn", 1e-5f, 0.1f)), "c", 2, 1, 1, NULL, 0);
    nnc_node *h0 = nnc_conv2d_layer(g, c0, "c0conv", 2, 1, 1, NULL, 0);
    nnc_node *t = nnc_input(g, "t", NNC_F32, 3, (int64_t[]){2, 6, 6});
    nnc_node *sum = nnc_add(g, nnc_add(g, h, h0), nnc_tanh(g, e));
    nnc_graph_loss(g, nnc_mse(g, sum, t, NNC_MEAN), 1.0f);
    nnc_graph_output(g, c3);
    T_OK(nnc_graph_compile(g, 3, training));
    r.windows = count_windows(g);
    r.arena = nnc_graph_mem_info(g).arena_bytes;
    nnc_node *in[2] = {x, t};
    for (int q = 0; q < 2; q++) {
        nnc_tensor *v = nnc_node_value(in[q]);
        for (int64_t i = 0; i < nnc_tensor_numel(v); i++) ((float *)v->data)[i] = nnc_rand_normal(5, (uint64_t)q, (uint64_t)i);
    }
    nnc_graph_set_detect_anomaly(g, 1); /* scans every window too */
    T_OK(nnc_graph_forward(g));
    r.loss = nnc_graph_loss_value(g);
    nnc_tensor *o = nnc_node_value(c3);
    r.nout = nnc_tensor_numel(o);
    r.out = malloc((size_t)r.nout * sizeof(float));
    T_OK(nnc_tensor_read_plain(o, r.out));
    if (training) {
        T_OK(nnc_graph_backward(g));
        int64_t np = 0;
        float *pg = collect(g, 1, &np);
        nnc_tensor *xg = nnc_node_grad(x);
        r.ng = np + nnc_tensor_numel(xg);
        r.grad = malloc((size_t)r.ng * sizeof(float));
        memcpy(r.grad, pg, (size_t)np * sizeof(float));
        memcpy(r.grad + np, xg->data, (size_t)nnc_tensor_numel(xg) * sizeof(float));
        free(pg);
    }
    nnc_graph_free(g);
    return r;
}

static void check_inplace(void) {
    setenv("NNC_CONV_SMALL", "0", 1); /* the same convolution kernels for dense and strided outputs: bitwise */
    T_CASE("in-place concatenation: which inputs are placed; bitwise the copying run (training and inference)") {
        for (int training = 1; training >= 0; training--) {
            inplace_run r[2];
            for (int k = 0; k < 2; k++) {
                if (k) setenv("NNC_CONCAT_INPLACE", "0", 1);
                r[k] = run_concat_graph(training);
                unsetenv("NNC_CONCAT_INPLACE");
            }
            /* a and b (through c1) and c1, c2 live in c3's buffer; d (twice in c2) and e (read by tanh) are copied */
            T_CHECKF(r[0].windows == 4 && r[1].windows == 0, "training %d: %d windows placed, %d with it off (want 4, 0)", training,
                     r[0].windows, r[1].windows);
            T_CHECKF(r[0].loss == r[1].loss, "training %d: loss %.9g vs %.9g", training, r[0].loss, r[1].loss);
            T_CHECK(r[0].nout == r[1].nout && r[0].out && r[1].out && !memcmp(r[0].out, r[1].out, (size_t)r[0].nout * sizeof(float)));
            if (training)
                T_CHECK(r[0].ng == r[1].ng && r[0].grad && r[1].grad && !memcmp(r[0].grad, r[1].grad, (size_t)r[0].ng * sizeof(float)));
            T_CHECKF(r[0].arena <= r[1].arena, "training %d: arena %zu in place, %zu copying", training, r[0].arena, r[1].arena);
            for (int k = 0; k < 2; k++) { free(r[k].out); free(r[k].grad); }
        }
    }
    T_CASE("densenet-bc: in-place concatenation -- a block's features share one buffer, bitwise the copying run, less memory") {
        run_result r[2];
        run_pair("densenet-bc", "depth=16,growth=12", "NNC_CONCAT_INPLACE", 4, r);
        expect_bitwise(r);
        densenet_plan d = compile_pair("NNC_CONCAT_INPLACE");
        const size_t *arena = d.arena;
        const int windows = d.windows, sharing = d.sharing;
        /* per block of 6 layers: the 6 new feature maps, the 5 inner concatenations, and the block's input
         * where a convolution or pooling writes it (all three) */
        T_CHECKF(windows == 3 * (6 + 5 + 1), "%d windows (want 36)", windows);
        /* each block's layers 2..6 and the batch norm after the block take the statistics of the
         * channels their predecessor saw from it (the loss and gradients above are bitwise the
         * copying run's, which computes them all) */
        T_CHECKF(sharing == 3 * 6, "%d batch norms share statistics (want 18)", sharing);
        T_CHECKF(arena[0] < arena[1], "activation memory %zu in place, %zu rebuilding", arena[0], arena[1]);
    }
    unsetenv("NNC_CONV_SMALL");
}

/* Batch norm folded into its recomputing convolution: bitwise the unfolded
 * run, through oneDNN's blocked slot (32x32 maps, and 30x30 ones whose rows
 * of 900, 225 and 49 positions end in part of a 16-position tile) and
 * through the plain fallback (the im2col path), with anomaly detection on
 * (the batch norm has no output to scan), and no buffer for the batch
 * norm's output. */
static void check_fold(void) {
    static const char *const what[3] = {"oneDNN's blocked slot", "plain fallback, im2col convolutions", "oneDNN's blocked slot, 30x30 input"};
    for (int variant = 0; variant < 3; variant++) {
        char title[200];
        snprintf(title, sizeof title, "densenet-bc: batch norm folded into the next convolution (%s) -- bitwise the unfolded run",
                 what[variant]);
        T_CASE(title) {
            if (variant == 1) setenv("NNC_CONV", "im2col", 1);
            input_hw = variant == 2 ? 30 : 0;
            run_result r[2];
            run_pair("densenet-bc", "depth=16,growth=12", "NNC_FOLD_BN", 4, r);
            expect_bitwise(r);
            size_t arena[2] = {0, 0};
            int folded = 0, stats_only = 0, recomputing = 0, grad_blocked = 0;
            for (int k = 0; k < 2; k++) {
                if (k) setenv("NNC_FOLD_BN", "0", 1);
                nnc_model *m = build_model("densenet-bc", "depth=16,growth=12");
                if (m) {
                    nnc_optim o = nnc_optim_sgd(0.05f, 0.9f, 0.0f);
                    T_OK(nnc_graph_set_optimizer(m->g, &o));
                    T_OK(nnc_graph_compile(m->g, 8, 1));
                    arena[k] = nnc_graph_mem_info(m->g).arena_bytes;
                    for (int i = 0; i < m->g->n_nodes && !k; i++) {
                        folded += (m->g->nodes[i]->flags & NNC_NODE_NORM_IN) != 0;
                        stats_only += (m->g->nodes[i]->flags & NNC_NODE_STATS_ONLY) != 0;
                        recomputing += (m->g->nodes[i]->flags & NNC_NODE_RECOMPUTE_IN) != 0;
                        grad_blocked += m->g->nodes[i]->op == NNC_OP_BATCHNORM && (m->g->nodes[i]->flags & NNC_NODE_GRAD_BLOCKED);
                    }
                    nnc_graph_set_detect_anomaly(m->g, 1);
                    fill_inputs(m, 5);
                    T_OK(nnc_graph_train_step(m->g, NULL));
                    nnc_model_free(m);
                }
                unsetenv("NNC_FOLD_BN");
            }
            /* depth 16: 2 layers per block, 3 blocks, 2 transitions: each 1x1 convolution after BN+ReLU of a
             * plain tensor recomputes and folds, and with im2col (nothing blocked) each 3x3 one too */
            int want = variant == 1 || !blocking ? 3 * 2 * 2 + 2 : 3 * 2 + 2;
            T_CHECKF(folded == want && stats_only == folded && recomputing == folded, "%d folded, %d statistics-only, %d recomputing (want %d)",
                     folded, stats_only, recomputing, want);
            /* where oneDNN runs them, the folded batch norms read their gradient as the convolution wrote it (blocked) */
            T_CHECKF(grad_blocked == (variant != 1 && blocking ? folded : 0), "%d batch norms with a blocked gradient", grad_blocked);
            /* the batch norm's output needed no buffer (it was transient: the peak is in backward) */
            T_CHECKF(arena[0] <= arena[1], "activation memory %zu folded, %zu not", arena[0], arena[1]);
            unsetenv("NNC_CONV");
            input_hw = 0;
        }
    }
}

static void check_fusion(void) {
    T_CASE("lenet5: both conv ReLUs fuse into the max pooling; loss, gradients and weights after 2 steps equal the unfused run") {
        run_result r[2];
        run_pair("lenet5", NULL, "NNC_FUSE", 16, r);
        expect_close(r, 1e-6f, 1e-5f, 1e-5, 1e-5, 1e-7);
        nnc_model *m = build_model("lenet5", NULL);
        if (m) {
            T_OK(nnc_graph_compile(m->g, 4, 1));
            int elided = 0, fused = 0;
            for (int i = 0; i < m->g->n_nodes; i++) {
                elided += (m->g->nodes[i]->flags & NNC_NODE_ELIDED) != 0;
                fused += (m->g->nodes[i]->flags & NNC_NODE_RELU_IN) != 0;
            }
            T_CHECKF(elided == 2 && fused == 2, "%d ReLUs elided, %d poolings fused (want 2, 2)", elided, fused);
            /* inference: the same logits */
            float *lg[2] = {NULL, NULL};
            int64_t nl = 0;
            for (int k = 0; k < 2; k++) {
                if (k) setenv("NNC_FUSE", "0", 1);
                T_OK(nnc_graph_compile(m->g, 4, 0));
                fill_inputs(m, 7);
                T_OK(nnc_graph_forward(m->g));
                nl = nnc_tensor_numel(nnc_node_value(m->logits));
                lg[k] = malloc((size_t)nl * sizeof(float));
                memcpy(lg[k], nnc_node_value(m->logits)->data, (size_t)nl * sizeof(float));
                unsetenv("NNC_FUSE");
            }
            t_close("inference logits", lg[0], lg[1], nl, 1e-6, 1e-7);
            free(lg[0]); free(lg[1]);
            nnc_model_free(m);
        }
    }
    /* batch norm + ReLU: oneDNN's fused ReLU and mask on blocked tensors (ResNet-20),
     * the plain kernels (DenseNet's 12-channel growth), and oneDNN on plain tensors */
    const char *nets[3][3] = {{"resnet20", NULL, NULL}, {"densenet-bc", "depth=16,growth=12", NULL}, {"resnet20", NULL, "1"}};
    for (int v = 0; v < 3; v++) {
        char title[200];
        snprintf(title, sizeof title, "%s%s: batch norm + ReLU and add + ReLU fused equal unfused (loss, gradients, weights after 2 steps)", nets[v][0],
                 nets[v][2] ? " (oneDNN BN on plain tensors)" : "");
        T_CASE(title) {
            run_result r[2];
            if (nets[v][2]) { setenv("NNC_DNNL_BN", "1", 1); setenv("NNC_LAYOUT", "plain", 1); }
            /* NNC_FUSE=0 also turns off in-place concatenation, which sends DenseNet's 3-channel stem
             * convolution (its output a window) from the direct kernels to oneDNN: the same kernels both
             * ways; and direct convolutions, since Winograd's transforms (DenseNet's 48 -> 12 forward)
             * magnify the two runs' rounding differences past these tolerances */
            setenv("NNC_CONV_SMALL", "0", 1);
            setenv("NNC_CONV_WINOGRAD", "0", 1);
            run_pair(nets[v][0], nets[v][1], "NNC_FUSE", 4, r);
            unsetenv("NNC_CONV_WINOGRAD");
            unsetenv("NNC_CONV_SMALL");
            unsetenv("NNC_DNNL_BN");
            unsetenv("NNC_LAYOUT");
            expect_close(r, 1e-5f, 1e-4f, 1e-3, 1e-4, 1e-6);
            nnc_model *m = build_model(nets[v][0], nets[v][1]);
            if (m) {
                T_OK(nnc_graph_compile(m->g, 4, 1));
                int fused = 0, elided = 0, relus = 0;
                for (int i = 0; i < m->g->n_nodes; i++) {
                    fused += (m->g->nodes[i]->flags & NNC_NODE_RELU_OUT) != 0;
                    elided += (m->g->nodes[i]->flags & NNC_NODE_ELIDED) != 0;
                    relus += m->g->nodes[i]->op == NNC_OP_RELU;
                }
                T_CHECKF(fused > 0 && fused == elided && elided <= relus, "%d batch norms fused, %d of %d ReLUs elided", fused, elided, relus);
                nnc_model_free(m);
            }
        }
    }
    T_CASE("densenet-bc: concatenations rebuilt and BN+ReLU inputs recomputed in backward -- bitwise the kept run, less memory") {
        run_result r[2];
        setenv("NNC_CONCAT_INPLACE", "0", 1); /* rebuilt: the concatenations that are not in place */
        run_pair("densenet-bc", "depth=16,growth=12", "NNC_RECOMPUTE", 4, r);
        expect_bitwise(r);
        densenet_plan d = compile_pair("NNC_RECOMPUTE");
        const size_t *arena = d.arena;
        const int marked = d.recomputing, rebuilt = d.rebuilt;
        /* the 18 layers' 1x1 convolutions after BN+ReLU of the concatenation and the 2 transitions; the
         * 3x3 ones read a blocked 48-channel BN+ReLU (kept: it is blocked, not plain) */
        /* (without AVX2 nothing is blocked, and the 3x3 ones recompute too) */
        T_CHECKF(marked == (blocking ? 18 + 2 : 2 * 18 + 2), "%d convolutions recompute their input (want %d)", marked, blocking ? 18 + 2 : 2 * 18 + 2);
        T_CHECKF(rebuilt == 18, "%d concatenations rebuilt (want the 18 layers')", rebuilt);
        /* quadratic in depth without: the concatenations and the BN+ReLU of each become linear */
        T_CHECKF(arena[0] < arena[1] / 2, "activation memory %zu with recomputation, %zu without", arena[0], arena[1]);
        unsetenv("NNC_CONCAT_INPLACE");
    }
    check_inplace();
    check_fold();
    T_CASE("rebuilt concatenation with a rebuilt concatenation as its second input: bitwise the kept run") {
        setenv("NNC_CONCAT_INPLACE", "0", 1);
        float loss[2] = {0, 0}, *gr[2] = {NULL, NULL};
        int64_t ng = 0;
        int flagged = 0;
        for (int k = 0; k < 2; k++) {
            if (k) setenv("NNC_RECOMPUTE", "0", 1);
            nnc_graph *g = nnc_graph_new();
            nnc_graph_set_seed(g, 8);
            nnc_conv2d_opts p1 = {{1, 1}, {1, 1}, {1, 1}, 1};
            nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){3, 6, 6});
            nnc_node *a = nnc_conv2d_layer(g, x, "a", 4, 3, 3, &p1, 1), *b = nnc_conv2d_layer(g, x, "b", 5, 3, 3, &p1, 1);
            nnc_node *d = nnc_conv2d_layer(g, x, "d", 3, 3, 3, &p1, 1);
            nnc_node *c1 = nnc_concat(g, 2, (nnc_node *[]){a, b}), *c2 = nnc_concat(g, 2, (nnc_node *[]){d, c1});
            nnc_node *h = nnc_conv2d_layer(g, nnc_relu(g, nnc_batchnorm_layer(g, c2, "bn", 1e-5f, 0.1f)), "c", 2, 1, 1, NULL, 0);
            nnc_node *t = nnc_input(g, "t", NNC_F32, 3, (int64_t[]){2, 6, 6});
            nnc_graph_loss(g, nnc_mse(g, h, t, NNC_MEAN), 1.0f);
            T_OK(nnc_graph_compile(g, 3, 1));
            if (!k) flagged = (c1->flags & NNC_NODE_REMAT) && (c2->flags & NNC_NODE_REMAT);
            nnc_node *in[2] = {x, t};
            for (int q = 0; q < 2; q++) {
                nnc_tensor *v = nnc_node_value(in[q]);
                for (int64_t i = 0; i < nnc_tensor_numel(v); i++) ((float *)v->data)[i] = nnc_rand_normal(4, (uint64_t)q, (uint64_t)i);
            }
            T_OK(nnc_graph_forward(g));
            T_OK(nnc_graph_backward(g));
            loss[k] = nnc_graph_loss_value(g);
            gr[k] = collect(g, 1, &ng);
            nnc_graph_free(g);
            unsetenv("NNC_RECOMPUTE");
        }
        T_CHECKF(flagged, "the two concatenations are not rebuilt");
        unsetenv("NNC_CONCAT_INPLACE");
        T_CHECK(loss[0] == loss[1] && gr[0] && gr[1] && !memcmp(gr[0], gr[1], (size_t)ng * sizeof(float)));
        free(gr[0]);
        free(gr[1]);
    }
    T_CASE("ReLU fusion: not when the ReLU is an output, when its input feeds another op, or when it feeds more than the pooling") {
        nnc_pool2d_opts po = {{2, 2}, {2, 2}, {0, 0}, 0, 1};
        nnc_conv2d_opts p1 = {{1, 1}, {1, 1}, {1, 1}, 1};
        for (int variant = 0; variant < 4; variant++) {
            nnc_graph *g = nnc_graph_new();
            nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){2, 6, 6});
            nnc_node *c = nnc_conv2d_layer(g, x, "c", 4, 3, 3, &p1, 1);
            nnc_node *r = nnc_relu(g, c);
            nnc_node *m = nnc_maxpool2d(g, r, &po);
            nnc_node *out = m;
            if (variant == 1) nnc_graph_output(g, r);
            if (variant == 2) out = nnc_add(g, nnc_maxpool2d(g, c, &po), m);
            if (variant == 3) out = nnc_add(g, nnc_maxpool2d(g, r, &po), m);
            nnc_graph_output(g, out);
            T_OK(nnc_graph_compile(g, 2, 0));
            int elided = (r->flags & NNC_NODE_ELIDED) != 0;
            T_CHECKF(elided == (variant == 0), "variant %d: ReLU %s", variant, elided ? "elided" : "kept");
            nnc_graph_free(g);
        }
    }
}

int main(void) {
    unsetenv("NNC_LAYOUT");
    unsetenv("NNC_FUSE");
    blocking = nnc_dnnl_blocked_ok();
    if (!blocking) printf("note: oneDNN has no AVX2 here; blocked layouts are off and checked to be\n");
    check_fusion();
    check_assignment();
    check_small();
    check_same("resnet20", NULL, 4);
    check_same("densenet-bc", "depth=16,growth=16", 4);
    return t_finish();
}
