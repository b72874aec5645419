/* test_engine.c -- the engine's promises: no heap allocation in a training
 * step, planned memory below the sum of buffers, recompiling keeps the
 * parameters, bit-identical results from a seed, the sticky build error,
 * weight sharing, several weighted losses, train/eval modes. */
#include "testlib.h"
#include "core/graph.h"
#include <stdlib.h>
#include <string.h>

static void fill_random(nnc_model *m, uint64_t seed) {
    nnc_tensor *x = nnc_node_value(m->input), *y = nnc_node_value(m->labels);
    for (int64_t i = 0; i < nnc_tensor_numel(x); i++) ((float *)x->data)[i] = nnc_rand_normal(seed, 1, (uint64_t)i);
    for (int64_t i = 0; i < nnc_tensor_numel(y); i++) ((int64_t *)y->data)[i] = (int64_t)(nnc_rand_u64(seed, 2, (uint64_t)i) % 10);
}

static float *copy_params(nnc_graph *g) {
    int64_t total = 0;
    for (int i = 0; i < nnc_graph_n_params(g); i++) total += nnc_tensor_numel(nnc_node_value(nnc_graph_param_at(g, i)));
    float *buf = malloc((size_t)total * sizeof(float)), *p = buf;
    for (int i = 0; i < nnc_graph_n_params(g); i++) {
        nnc_tensor *t = nnc_node_value(nnc_graph_param_at(g, i));
        memcpy(p, t->data, nnc_tensor_bytes(t));
        p += nnc_tensor_numel(t);
    }
    return buf;
}

static int64_t total_params(nnc_graph *g) {
    int64_t total = 0;
    for (int i = 0; i < nnc_graph_n_params(g); i++) total += nnc_tensor_numel(nnc_node_value(nnc_graph_param_at(g, i)));
    return total;
}

int main(void) {
    nnc_set_threads(2);
    T_CASE("zoo parameter counts: lenet5 61,706, mlp 1,863,690") {
        nnc_model *m = NULL;
        T_OK(nnc_model_build("lenet5", NULL, &m));
        if (m) T_CHECKF(nnc_graph_n_param_elems(m->g) == 61706, "lenet5 has %lld", (long long)nnc_graph_n_param_elems(m->g));
        nnc_model_free(m);
        T_OK(nnc_model_build("mlp", NULL, &m));
        if (m) T_CHECKF(nnc_graph_n_param_elems(m->g) == 1863690, "mlp has %lld", (long long)nnc_graph_n_param_elems(m->g));
        nnc_model_free(m);
    }
    T_CASE("unknown model is refused with the list of known ones") {
        nnc_model *m = NULL;
        T_CHECK(nnc_model_build("lenet7", NULL, &m) == NNC_ERR_ARG && !m);
        T_CHECK(strstr(nnc_last_error(), "lenet7") && strstr(nnc_last_error(), "lenet5"));
    }
    const char *models[] = {"lenet5", "mlp"};
    for (int mi = 0; mi < 2; mi++) {
        char name[128];
        snprintf(name, sizeof name, "%s: a training step performs no heap allocation in libnnc", models[mi]);
        T_CASE(name) {
            nnc_model *m = NULL;
            T_OK(nnc_model_build(models[mi], NULL, &m));
            nnc_optim o = nnc_optim_sgd(0.01f, 0.9f, 5e-4f);
            T_OK(nnc_graph_set_optimizer(m->g, &o));
            T_OK(nnc_graph_compile(m->g, 32, 1));
            T_OK(nnc_graph_compile(m->g, 64, 1));
            fill_random(m, 1);
            T_OK(nnc_graph_train_step(m->g, NULL)); /* first touches (OpenMP, oneDNN) */
            T_OK(nnc_graph_compile(m->g, 32, 1));
            fill_random(m, 1);
            long before = t_alloc_count;
            for (int i = 0; i < 5; i++) {
                T_OK(nnc_graph_compile(m->g, i % 2 ? 32 : 64, 1)); /* cached plans: a rebind */
                long mark = t_alloc_count;
                fill_random(m, (uint64_t)i); /* input buffers move with the plan: refill */
                t_alloc_count = mark;
                T_OK(nnc_graph_train_step(m->g, NULL));
            }
            T_CHECKF(t_alloc_count == before, "%ld allocations during 5 steps", t_alloc_count - before);
            nnc_model_free(m);
        }
    }
    T_CASE("lenet5: planned activation memory is below the sum of all buffers") {
        nnc_model *m = NULL;
        T_OK(nnc_model_build("lenet5", NULL, &m));
        T_OK(nnc_graph_compile(m->g, 64, 1));
        nnc_mem_info mi = nnc_graph_mem_info(m->g);
        printf("  lenet5 batch 64 training: planned %zu bytes, unplanned %zu bytes (%.0f%%)\n", mi.arena_bytes, mi.unplanned_bytes,
               100.0 * (double)mi.arena_bytes / (double)mi.unplanned_bytes);
        T_CHECK(mi.arena_bytes > 0 && mi.arena_bytes < mi.unplanned_bytes);
        T_OK(nnc_graph_compile(m->g, 64, 0));
        nnc_mem_info me = nnc_graph_mem_info(m->g);
        T_CHECKF(me.arena_bytes < mi.arena_bytes, "inference plan %zu should be smaller than training %zu", me.arena_bytes, mi.arena_bytes);
        nnc_model_free(m);
    }
    T_CASE("recompiling for another batch size keeps the parameters") {
        nnc_model *m = NULL;
        T_OK(nnc_model_build("lenet5", NULL, &m));
        nnc_optim o = nnc_optim_sgd(0.05f, 0.9f, 0);
        T_OK(nnc_graph_set_optimizer(m->g, &o));
        T_OK(nnc_graph_compile(m->g, 16, 1));
        fill_random(m, 3);
        T_OK(nnc_graph_train_step(m->g, NULL));
        float *before = copy_params(m->g);
        T_OK(nnc_graph_compile(m->g, 7, 0));
        T_OK(nnc_graph_compile(m->g, 100, 1));
        float *after = copy_params(m->g);
        T_CHECK(memcmp(before, after, (size_t)total_params(m->g) * sizeof(float)) == 0);
        T_CHECK(nnc_graph_batch(m->g) == 100 && nnc_node_value(m->logits)->shape[0] == 100);
        free(before);
        free(after);
        nnc_model_free(m);
    }
    T_CASE("the same seed gives bit-identical weights; another seed does not") {
        float *w[3];
        for (int r = 0; r < 3; r++) {
            nnc_model *m = NULL;
            T_OK(nnc_model_build("lenet5", NULL, &m));
            nnc_graph_set_seed(m->g, r == 2 ? 5 : 4);
            nnc_optim o = nnc_optim_sgd(0.05f, 0.9f, 5e-4f);
            T_OK(nnc_graph_set_optimizer(m->g, &o));
            T_OK(nnc_graph_compile(m->g, 64, 1));
            for (int s = 0; s < 20; s++) { fill_random(m, 100 + (uint64_t)s); T_OK(nnc_graph_train_step(m->g, NULL)); }
            w[r] = copy_params(m->g);
            if (r == 2) {
                size_t bytes = (size_t)total_params(m->g) * sizeof(float);
                T_CHECK(memcmp(w[0], w[1], bytes) == 0);
                T_CHECK(memcmp(w[0], w[2], bytes) != 0);
            }
            nnc_model_free(m);
        }
        for (int r = 0; r < 3; r++) free(w[r]);
    }
    T_CASE("a builder error is sticky and names the problem") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){10});
        nnc_node *w = nnc_param(g, "w", 2, (int64_t[]){4, 9}, (nnc_init){NNC_INIT_ZEROS, 0, 0});
        nnc_node *y = nnc_linear(g, x, w, NULL);
        T_CHECK(y == NULL && nnc_graph_status(g) == NNC_ERR_SHAPE);
        T_CHECKF(strstr(nnc_graph_error(g), "10") && strstr(nnc_graph_error(g), "9"), "message: %s", nnc_graph_error(g));
        T_CHECK(nnc_relu(g, x) == NULL);                /* later builders return NULL */
        T_CHECK(nnc_graph_compile(g, 1, 0) == NNC_ERR_SHAPE);
        nnc_graph_free(g);
        g = nnc_graph_new();
        T_CHECK(nnc_input(g, "x", NNC_F32, 1, (int64_t[]){-3}) == NULL && nnc_graph_status(g) == NNC_ERR_ARG);
        nnc_graph_free(g);
        g = nnc_graph_new();
        x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){3});
        T_CHECK(nnc_add(g, x, NULL) == NULL && strstr(nnc_graph_error(g), "NULL"));
        nnc_graph_free(g);
    }
    T_CASE("weight sharing and two weighted losses: gradients check") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){6});
        nnc_node *t = nnc_input(g, "t", NNC_F32, 1, (int64_t[]){6});
        nnc_node *w = nnc_param(g, "shared.weight", 2, (int64_t[]){6, 6}, (nnc_init){NNC_INIT_UNIFORM, -0.5f, 0.5f});
        nnc_node *h = nnc_tanh(g, nnc_linear(g, x, w, NULL));
        nnc_node *y = nnc_linear(g, h, w, NULL); /* the same weight again */
        nnc_node *l1 = nnc_mse(g, y, t, NNC_MEAN);
        nnc_node *l2 = nnc_mse(g, h, t, NNC_SUM);
        nnc_graph_loss(g, l1, 1.0f);
        nnc_graph_loss(g, l2, 0.25f);
        T_OK(nnc_graph_status(g));
        T_OK(nnc_graph_compile(g, 3, 1));
        for (int i = 0; i < 18; i++) {
            ((float *)nnc_node_value(x)->data)[i] = nnc_rand_normal(9, 0, (uint64_t)i);
            ((float *)nnc_node_value(t)->data)[i] = nnc_rand_normal(9, 1, (uint64_t)i);
        }
        T_OK(nnc_graph_forward(g));
        float v1 = ((float *)nnc_node_value(l1)->data)[0], v2 = ((float *)nnc_node_value(l2)->data)[0];
        T_CHECKF(fabsf(nnc_graph_loss_value(g) - (v1 + 0.25f * v2)) < 1e-5f, "loss %g vs %g", nnc_graph_loss_value(g), v1 + 0.25f * v2);
        nnc_gradcheck_opts o = nnc_gradcheck_defaults();
        o.eps = 1e-3; /* the loss is quartic in the shared weight: small steps */
        o.rtol = 2e-3;
        o.atol = 1e-4;
        nnc_gradcheck_result r;
        T_OK(nnc_gradcheck(g, &o, &r));
        nnc_graph_free(g);
    }
    T_CASE("dropout: identity in eval, scaled mask in training") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){10000});
        nnc_node *y = nnc_dropout(g, x, 0.25f);
        nnc_graph_output(g, y);
        for (int train = 0; train < 2; train++) {
            T_OK(nnc_graph_compile(g, 1, train));
            float *xv = nnc_node_value(x)->data;
            for (int i = 0; i < 10000; i++) xv[i] = 1.0f;
            T_OK(nnc_graph_forward(g));
            const float *yv = nnc_node_value(y)->data;
            int zeros = 0, scaled = 0;
            for (int i = 0; i < 10000; i++) { zeros += yv[i] == 0; scaled += fabsf(yv[i] - 1.0f / 0.75f) < 1e-6f; }
            if (!train) T_CHECK(zeros == 0 && memcmp(xv, yv, 40000) == 0);
            else T_CHECKF(zeros > 2300 && zeros < 2700 && zeros + scaled == 10000, "zeros %d scaled %d", zeros, scaled);
        }
        nnc_graph_free(g);
    }
    return t_finish();
}
