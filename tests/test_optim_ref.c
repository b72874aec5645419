/* test_optim_ref.c -- optimizer steps and per-epoch schedules against
 * PyTorch 1.13 (tests/ref/optim_*.safetensors, from tools/gen_refs_optim.py),
 * and a checkpoint round trip of a 3-buffer optimizer (RMSProp centered
 * with momentum). */
#include "testlib.h"
#include "core/graph.h"
#include <stdlib.h>
#include <string.h>

#define S 5
#define N 8

typedef struct cfg { const char *name; nnc_optim o; int lr_change; } cfg;

/* (a function so that a missing file can return: T_CASE is a loop) */
static void steps_body(void) {
    nnc_safetensors *f = NULL;
    T_OK(nnc_safetensors_open(t_path("ref/optim_steps.safetensors"), &f));
    if (!f) return;
    {
        const nnc_tensor *w0 = nnc_safetensors_get(f, "w0"), *gr = nnc_safetensors_get(f, "grads");
        T_CHECK(w0 && gr && nnc_tensor_numel(w0) == N && nnc_tensor_numel(gr) == S * N);
        if (!w0 || !gr) { nnc_safetensors_close(f); return; }
        cfg cs[16];
        int n = 0;
        cs[n++] = (cfg){"sgd", nnc_optim_sgd(0.1f, 0.9f, 0.01f), 0};
        cs[n] = (cfg){"sgd_nesterov", nnc_optim_sgd(0.1f, 0.9f, 0.01f), 0};
        cs[n++].o.nesterov = 1;
        cs[n] = (cfg){"sgd_dampening", nnc_optim_sgd(0.1f, 0.9f, 0), 0};
        cs[n++].o.dampening = 0.5f;
        cs[n++] = (cfg){"sgd_lrchange", nnc_optim_sgd(0.1f, 0.9f, 0.01f), 1};
        cs[n] = (cfg){"sgd_clipnorm", nnc_optim_sgd(0.1f, 0.9f, 0), 0};
        cs[n++].o.clip_norm = 0.5f;
        cs[n] = (cfg){"sgd_clipvalue", nnc_optim_sgd(0.1f, 0, 0), 0};
        cs[n++].o.clip_value = 0.05f;
        cs[n++] = (cfg){"adam", nnc_optim_adam(0.01f, 0.1f), 0};
        cs[n++] = (cfg){"adamw", nnc_optim_adamw(0.01f, 0.1f), 0};
        cs[n++] = (cfg){"rmsprop", nnc_optim_rmsprop(0.01f, 0, 0.01f), 0};
        cs[n] = (cfg){"rmsprop_mc", nnc_optim_rmsprop(0.01f, 0.9f, 0), 0};
        cs[n++].o.centered = 1;
        cs[n] = (cfg){"adagrad", nnc_optim_adagrad(0.1f, 0.01f), 0};
        cs[n].o.lr_decay = 0.5f;
        cs[n++].o.initial_accumulator = 0.2f;
        for (int c = 0; c < n; c++) {
            const nnc_tensor *want = nnc_safetensors_get(f, cs[c].name);
            T_CHECKF(want && nnc_tensor_numel(want) == S * N, "%s missing", cs[c].name);
            if (!want) continue;
            nnc_graph *g = nnc_graph_new();
            nnc_node *w = nnc_param(g, "w", 1, (int64_t[]){N}, (nnc_init){NNC_INIT_ZEROS, 0, 0});
            T_OK(nnc_graph_set_optimizer(g, &cs[c].o));
            T_OK(nnc_graph_init_params(g));
            memcpy(nnc_node_value(w)->data, w0->data, N * sizeof(float));
            for (int t = 0; t < S; t++) {
                if (cs[c].lr_change && t == 3) nnc_graph_set_lr(g, 0.01f);
                memcpy(nnc_node_grad(w)->data, (const float *)gr->data + t * N, N * sizeof(float));
                T_OK(nnc_graph_update(g));
                char what[64];
                snprintf(what, sizeof what, "%s step %d", cs[c].name, t + 1);
                T_CHECK(t_close(what, nnc_node_value(w)->data, (const float *)want->data + t * N, N, 2e-5, 2e-6));
            }
            nnc_graph_free(g);
        }
    }
    nnc_safetensors_close(f);
}

static void test_steps(void) {
    T_CASE("optimizers: 5 steps against torch.optim (sgd variants, clipping, adam, adamw, rmsprop, adagrad)") steps_body();
}

static void schedules_body(void) {
    nnc_safetensors *f = NULL;
    T_OK(nnc_safetensors_open(t_path("ref/optim_schedules.safetensors"), &f));
    if (!f) return;
    {
        nnc_schedule s[5];
        memset(s, 0, sizeof s);
        const char *names[5] = {"step", "multistep", "exp", "poly", "cosine"};
        s[0].kind = NNC_SCHED_STEP; s[0].step_size = 3; s[0].gamma = 0.5f;
        s[1].kind = NNC_SCHED_MULTISTEP; s[1].milestones[0] = 8; s[1].milestones[1] = 12; s[1].gamma = 0.1f;
        s[2].kind = NNC_SCHED_EXP; s[2].gamma = 0.9f;
        s[3].kind = NNC_SCHED_POLY; s[3].total_epochs = 12; s[3].power = 2;
        s[4].kind = NNC_SCHED_COSINE; s[4].total_epochs = 12; s[4].min_lr = 0.01f;
        for (int k = 0; k < 5; k++) {
            const nnc_tensor *want = nnc_safetensors_get(f, names[k]);
            T_CHECKF(want && nnc_tensor_numel(want) == 12, "%s missing", names[k]);
            if (!want) continue;
            T_OK(nnc_schedule_check(&s[k]));
            float got[12];
            for (int e = 0; e < 12; e++) got[e] = nnc_lr_at(&s[k], 1.0f, e);
            T_CHECK(t_close(names[k], got, want->data, 12, 1e-5, 1e-7));
        }
    }
    nnc_safetensors_close(f);
}

static void test_schedules(void) {
    T_CASE("schedules: 12 epochs against torch.optim.lr_scheduler (step, multistep, exp, poly, cosine)") schedules_body();
}

static void test_checkpoint(void) {
    T_CASE("checkpoint round trip keeps all 3 RMSProp buffers (centered + momentum)") {
        char dir[] = "/tmp/nnc_optck_XXXXXX";
        T_CHECK(mkdtemp(dir) != NULL);
        nnc_model *m[2];
        for (int k = 0; k < 2; k++) {
            m[k] = calloc(1, sizeof *m[k]);
            m[k]->g = nnc_graph_new();
            snprintf(m[k]->name, sizeof m[k]->name, "tiny");
            m[k]->in_shape[0] = 1; m[k]->in_shape[1] = 1; m[k]->in_shape[2] = 4;
            m[k]->num_classes = 2;
            m[k]->norm_std = 1;
            m[k]->input = nnc_input(m[k]->g, "input", NNC_F32, 3, m[k]->in_shape);
            m[k]->labels = nnc_input(m[k]->g, "labels", NNC_I64, 0, NULL);
            m[k]->logits = nnc_linear_layer(m[k]->g, nnc_flatten(m[k]->g, m[k]->input), "fc", 2, 1);
            nnc_graph_output(m[k]->g, m[k]->logits);
            m[k]->loss = nnc_cross_entropy(m[k]->g, m[k]->logits, m[k]->labels, NNC_MEAN);
            nnc_graph_loss(m[k]->g, m[k]->loss, 1.0f);
            nnc_optim o = nnc_optim_rmsprop(0.01f, 0.9f, 0);
            o.centered = 1;
            T_OK(nnc_graph_set_optimizer(m[k]->g, &o));
        }
        T_OK(nnc_graph_compile(m[0]->g, 3, 1));
        float *x = nnc_node_value(m[0]->input)->data;
        int64_t *y = nnc_node_value(m[0]->labels)->data;
        for (int i = 0; i < 12; i++) x[i] = (float)(i % 5) - 2;
        y[0] = 0; y[1] = 1; y[2] = 1;
        for (int t = 0; t < 3; t++) T_OK(nnc_graph_train_step(m[0]->g, NULL));
        T_CHECK(m[0]->g->n_opt_slots == 3);
        T_OK(nnc_checkpoint_save(m[0], dir, 4));
        int ep = 0;
        T_OK(nnc_checkpoint_load(m[1], dir, &ep));
        T_CHECK(ep == 4 && m[1]->g->opt_steps == 3);
        int64_t P = m[0]->g->n_param_elems;
        T_CHECK(P == m[1]->g->n_param_elems && memcmp(m[0]->g->block, m[1]->g->block, (size_t)P * sizeof(float)) == 0 &&
                memcmp(m[0]->g->block + 2 * P, m[1]->g->block + 2 * P, (size_t)(3 * P) * sizeof(float)) == 0);
        char p[256];
        snprintf(p, sizeof p, "%s/model.safetensors", dir);
        remove(p);
        snprintf(p, sizeof p, "%s/train_state.safetensors", dir);
        remove(p);
        remove(dir);
        nnc_model_free(m[0]);
        nnc_model_free(m[1]);
    }
}

int main(void) {
    nnc_set_threads(2);
    test_steps();
    test_schedules();
    test_checkpoint();
    return t_finish();
}
