/* test_health.c -- numerical health and resource limits. Anomaly detection
 * names the first op whose forward output or backward gradient is NaN/Inf
 * (and a graph input holding one), and is off by default; training stops at
 * a non-finite loss with the epoch and step; the memory limit refuses a run
 * that needs one byte more than allowed and accepts one that fits exactly. */
#include "testlib.h"
#include <stdlib.h>
#include <string.h>

/* x [4] (gradient wanted) -> scalar_affine "scale" (a) -> mse against t, loss weight w */
typedef struct tiny { nnc_graph *g; nnc_node *x, *t, *y, *l; } tiny;

static tiny build(float a, float w) {
    tiny k;
    k.g = nnc_graph_new();
    k.x = nnc_input(k.g, "x", NNC_F32, 1, (int64_t[]){4});
    k.t = nnc_input(k.g, "t", NNC_F32, 1, (int64_t[]){4});
    nnc_input_requires_grad(k.x);
    k.y = nnc_scalar_affine(k.g, k.x, a, 0);
    nnc_node_set_name(k.y, "scale");
    nnc_node *r = nnc_relu(k.g, k.y);
    nnc_node_set_name(r, "act");
    k.l = nnc_mse(k.g, r, k.t, NNC_MEAN);
    nnc_node_set_name(k.l, "err");
    nnc_graph_loss(k.g, k.l, w);
    return k;
}

static void fill(tiny *k, float xv) {
    float *x = nnc_node_value(k->x)->data, *t = nnc_node_value(k->t)->data;
    for (int i = 0; i < 4; i++) { x[i] = xv * (float)(i + 1); t[i] = 0; }
}

static int has(const char *what) { return strstr(nnc_last_error(), what) != NULL; }

static void on_epoch_none(const nnc_epoch_stats *s, void *u) { (void)s; (void)u; }

int main(void) {
    T_CASE("anomaly: the first forward op producing Inf is named, with the step; off by default") {
        tiny k = build(1e30f, 1);
        T_OK(nnc_graph_compile(k.g, 1, 1));
        fill(&k, 1e10f); /* 1e10 * 1e30 overflows in 'scale' */
        T_OK(nnc_graph_forward(k.g)); /* off: runs through, the loss is just Inf */
        T_CHECK(!isfinite(nnc_graph_loss_value(k.g)));
        nnc_graph_set_detect_anomaly(k.g, 1);
        T_CHECK(nnc_graph_forward(k.g) == NNC_ERR_NUMERIC);
        T_CHECKF(has("forward of node 'scale' (scalar_affine)") && has("+Inf") && has("output element 0") && has("step 1"),
                 "message: %s", nnc_last_error());
        nnc_graph_free(k.g);
    }
    T_CASE("anomaly: a NaN in a graph input is reported before any op runs") {
        tiny k = build(2, 1);
        T_OK(nnc_graph_compile(k.g, 1, 1));
        fill(&k, 1);
        ((float *)nnc_node_value(k.x)->data)[2] = NAN;
        nnc_graph_set_detect_anomaly(k.g, 1);
        T_CHECK(nnc_graph_forward(k.g) == NNC_ERR_NUMERIC);
        T_CHECKF(has("node 'x' (input) holds NaN at element 2"), "message: %s", nnc_last_error());
        nnc_graph_free(k.g);
    }
    T_CASE("anomaly: a backward op whose gradient overflows is named with its input; finite forward") {
        /* forward: y = 1e15 x, mse = mean(y^2) ~ 7.5e30, finite; backward: dy = 2 y / 4 * 1e30 overflows */
        tiny k = build(1e15f, 1e30f);
        T_OK(nnc_graph_compile(k.g, 1, 1));
        fill(&k, 1);
        nnc_graph_set_detect_anomaly(k.g, 1);
        T_OK(nnc_graph_forward(k.g));
        T_CHECK(isfinite(((float *)nnc_node_value(k.l)->data)[0]));
        T_CHECK(nnc_graph_backward(k.g) == NNC_ERR_NUMERIC);
        T_CHECKF(has("backward of node 'err' (mse)") && has("gradient of its input 0, node 'act' (relu)") && has("+Inf"),
                 "message: %s", nnc_last_error());
        nnc_graph_set_detect_anomaly(k.g, 0);
        T_OK(nnc_graph_backward(k.g)); /* off: nothing is checked */
        nnc_graph_free(k.g);
    }

    nnc_dataset tr = {0};
    T_OK(nnc_tensor_alloc(&tr.x, NNC_F32, 4, (int64_t[]){64, 1, 8, 8}));
    T_OK(nnc_tensor_alloc(&tr.y, NNC_I64, 1, (int64_t[]){64}));
    tr.n = 64;
    tr.n_classes = 10;
    for (int64_t i = 0; i < 64 * 64; i++) ((float *)tr.x.data)[i] = nnc_rand_normal(3, 1, (uint64_t)i);
    for (int64_t i = 0; i < 64; i++) ((int64_t *)tr.y.data)[i] = i % 10;
    nnc_model_opts mo = nnc_model_defaults();
    mo.height = mo.width = 8;

    T_CASE("training stops at a non-finite loss with the epoch and step (huge learning rate)") {
        nnc_model *m = NULL;
        T_OK(nnc_model_build("mlp", &mo, &m));
        nnc_train_opts o = nnc_train_defaults();
        o.epochs = 3;
        o.batch = 8;
        o.optim = nnc_optim_sgd(1e12f, 0.9f, 0);
        o.on_epoch = on_epoch_none;
        T_CHECK(nnc_train(m, &tr, NULL, &o) == NNC_ERR_NUMERIC);
        T_CHECKF(has("training diverged: loss is") && has("at epoch 1 step "), "message: %s", nnc_last_error());
        nnc_model_free(m);
    }
    T_CASE("training with detect_anomaly names the op, the epoch and the step") {
        nnc_model *m = NULL;
        T_OK(nnc_model_build("mlp", &mo, &m));
        nnc_train_opts o = nnc_train_defaults();
        o.epochs = 3;
        o.batch = 8;
        o.optim = nnc_optim_sgd(1e12f, 0.9f, 0);
        o.detect_anomaly = 1;
        T_CHECK(nnc_train(m, &tr, NULL, &o) == NNC_ERR_NUMERIC);
        T_CHECKF(!strncmp(nnc_last_error(), "epoch 1 step ", 13) && has(": anomaly at step ") && has("of node '"), "message: %s",
                 nnc_last_error());
        nnc_model_free(m);
    }
    T_CASE("memory limit: one byte short is refused with both figures, the exact need is accepted") {
        nnc_model *m = NULL;
        T_OK(nnc_model_build("mlp", &mo, &m));
        nnc_train_opts o = nnc_train_defaults();
        o.epochs = 1;
        o.batch = 16;
        uint64_t need = 0;
        T_OK(nnc_graph_set_optimizer(m->g, &o.optim));
        T_OK(nnc_train_memory(m, &tr, NULL, &o, &need));
        /* the parameter block alone: (64*1024+1024 + 1024*1024+1024 + 1024*10+10 rounded to 16) floats x (w, g, momentum) */
        uint64_t block = (uint64_t)(66560 + 1049600 + 10240 + 16) * 4 * 3;
        T_CHECKF(need > block && need < block + (8u << 20), "need %llu, block %llu", (unsigned long long)need, (unsigned long long)block);
        o.max_memory = need - 1;
        T_CHECK(nnc_train(m, &tr, NULL, &o) == NNC_ERR_OOM);
        char want[64];
        snprintf(want, sizeof want, "needs %llu bytes", (unsigned long long)need);
        T_CHECKF(has(want) && has("limit is") && has("max_memory)"), "message: %s", nnc_last_error());
        o.max_memory = need;
        T_OK(nnc_train(m, &tr, NULL, &o));
        nnc_mem_info mi = nnc_graph_mem_info(m->g);
        T_CHECKF(mi.param_block_bytes + mi.arena_bytes + mi.workspace_bytes <= need, "allocated %zu + %zu + %zu > %llu",
                 mi.param_block_bytes, mi.arena_bytes, mi.workspace_bytes, (unsigned long long)need);
        T_CHECK(nnc_physical_memory() > (1u << 20));
        nnc_model_free(m);
    }
    nnc_dataset_free(&tr);
    return t_finish();
}
