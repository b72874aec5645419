/* test_timing.c -- per-node timing (nnc_graph_set_timing, used by
 * `nnc bench --profile`): rows follow node creation order with op names in
 * nnc_graph_layers' order and with their first parameter's name, every op
 * kernel call is counted and timed, timing
 * changes no result and allocates nothing in the step, turning it off stops
 * the counting, and bad arguments are refused with a message. */
#include "testlib.h"
#include "core/graph.h"
#include <stdlib.h>
#include <string.h>

static void fill(nnc_model *m) {
    nnc_tensor *x = nnc_node_value(m->input), *y = nnc_node_value(m->labels);
    for (int64_t i = 0; i < nnc_tensor_numel(x); i++) ((float *)x->data)[i] = nnc_rand_normal(7, 1, (uint64_t)i);
    for (int64_t i = 0; i < nnc_tensor_numel(y); i++) ((int64_t *)y->data)[i] = (int64_t)(nnc_rand_u64(7, 2, (uint64_t)i) % 10);
}

static nnc_model *lenet(void) {
    nnc_model *m = NULL;
    if (nnc_model_build("lenet5", NULL, &m)) return NULL;
    nnc_graph_set_seed(m->g, 3);
    nnc_optim o = nnc_optim_sgd(0.05f, 0.9f, 5e-4f);
    if (nnc_graph_set_optimizer(m->g, &o) || nnc_graph_compile(m->g, 16, 1)) { nnc_model_free(m); return NULL; }
    fill(m);
    return m;
}

int main(void) {
    nnc_set_threads(2);
    T_CASE("set_timing refuses a NULL graph and too few rows") {
        nnc_node_time rows[4];
        T_CHECK(nnc_graph_set_timing(NULL, rows, 4) == NNC_ERR_ARG);
        T_CHECK(strstr(nnc_last_error(), "NULL") != NULL);
        nnc_model *m = lenet();
        T_CHECK(m != NULL);
        if (m) {
            int n = nnc_graph_n_nodes(m->g);
            T_CHECK(n > 4);
            T_CHECK(nnc_graph_set_timing(m->g, rows, 4) == NNC_ERR_ARG);
            T_CHECKF(strstr(nnc_last_error(), "4 rows") != NULL, "message: %s", nnc_last_error());
            T_OK(nnc_graph_train_step(m->g, NULL)); /* still untimed, still runs */
        }
        nnc_model_free(m);
        T_CHECK(nnc_graph_n_nodes(NULL) == 0);
    }
    T_CASE("lenet5: rows name every op in layer order and count each kernel call") {
        nnc_model *m = lenet();
        T_CHECK(m != NULL);
        if (m) {
            int n = nnc_graph_n_nodes(m->g);
            nnc_node_time *rows = malloc((size_t)n * sizeof *rows);
            int nl = nnc_graph_layers(m->g, NULL, 0);
            nnc_layer_info *li = malloc((size_t)nl * sizeof *li);
            nnc_graph_layers(m->g, li, nl);
            T_OK(nnc_graph_set_timing(m->g, rows, n));
            for (int s = 0; s < 3; s++) T_OK(nnc_graph_train_step(m->g, NULL));
            int k = 0, conv_rows = 0;
            double total = 0;
            for (int i = 0; i < n; i++) {
                if (!rows[i].op) { /* a leaf: input, parameter or state */
                    T_CHECK(rows[i].param && !rows[i].param[0]);
                    T_CHECK(rows[i].forward_calls == 0 && rows[i].backward_calls == 0 && rows[i].forward_s == 0);
                    continue;
                }
                T_CHECKF(k < nl && strcmp(rows[i].op, li[k].op) == 0 && strcmp(rows[i].name, li[k].name) == 0,
                         "row %d (%s %s) is not layer %d", i, rows[i].op, rows[i].name, k);
                /* every op of lenet5 lies on the path from the parameters to the loss; a ReLU
                 * fused into the pooling after it (compile.c) runs no kernel of its own */
                int calls = (m->g->nodes[i]->flags & NNC_NODE_ELIDED) ? 0 : 3;
                T_CHECKF(rows[i].forward_calls == calls, "%s %s: %lld forward calls", rows[i].op, rows[i].name,
                         (long long)rows[i].forward_calls);
                T_CHECKF(rows[i].backward_calls == calls, "%s %s: %lld backward calls", rows[i].op, rows[i].name,
                         (long long)rows[i].backward_calls);
                T_CHECK(rows[i].forward_s >= 0 && rows[i].backward_s >= 0);
                if (!strcmp(rows[i].op, "relu")) T_CHECKF(!rows[i].param[0], "relu has param '%s'", rows[i].param);
                if (!strcmp(rows[i].op, "conv2d")) {
                    conv_rows++;
                    T_CHECKF(!strcmp(rows[i].param, conv_rows == 1 ? "conv1.weight" : "conv2.weight"), "conv row %d: param '%s'",
                             conv_rows, rows[i].param);
                    T_CHECKF(rows[i].forward_s > 0 && rows[i].backward_s > 0, "conv %s: %g / %g s", rows[i].name,
                             rows[i].forward_s, rows[i].backward_s);
                }
                total += rows[i].forward_s + rows[i].backward_s;
                k++;
            }
            T_CHECKF(k == nl, "%d op rows, %d layers", k, nl);
            T_CHECK(conv_rows == 2);
            T_CHECK(total > 0 && total < 60);
            /* inference: forward calls only */
            T_OK(nnc_graph_compile(m->g, 16, 0));
            fill(m);
            T_OK(nnc_graph_forward(m->g));
            for (int i = 0; i < n; i++)
                if (rows[i].op && !strcmp(rows[i].op, "conv2d")) T_CHECK(rows[i].forward_calls == 4 && rows[i].backward_calls == 3);
            /* off: no more counting */
            T_OK(nnc_graph_set_timing(m->g, NULL, 0));
            T_OK(nnc_graph_forward(m->g));
            for (int i = 0; i < n; i++)
                if (rows[i].op && !(m->g->nodes[i]->flags & NNC_NODE_ELIDED)) T_CHECK(rows[i].forward_calls == 4);
            free(li);
            free(rows);
        }
        nnc_model_free(m);
    }
    T_CASE("timing changes no result and allocates nothing in a training step") {
        nnc_model *a = lenet(), *b = lenet();
        T_CHECK(a && b);
        if (a && b) {
            int n = nnc_graph_n_nodes(b->g);
            nnc_node_time *rows = malloc((size_t)n * sizeof *rows);
            T_OK(nnc_graph_set_timing(b->g, rows, n));
            T_OK(nnc_graph_train_step(b->g, NULL)); /* first touches */
            T_OK(nnc_graph_train_step(a->g, NULL));
            long before = t_alloc_count;
            float la = 0, lb = 0;
            for (int s = 0; s < 3; s++) {
                T_OK(nnc_graph_train_step(a->g, &la));
                T_OK(nnc_graph_train_step(b->g, &lb));
            }
            T_CHECKF(t_alloc_count == before, "%ld allocations in 6 steps", t_alloc_count - before);
            T_CHECKF(la == lb, "loss %.9g untimed vs %.9g timed", la, lb);
            nnc_node *w = nnc_graph_param_at(a->g, 0), *v = nnc_graph_param_at(b->g, 0);
            T_CHECK(memcmp(nnc_node_value(w)->data, nnc_node_value(v)->data, nnc_tensor_bytes(nnc_node_value(w))) == 0);
            T_OK(nnc_graph_set_timing(b->g, NULL, 0));
            free(rows);
        }
        nnc_model_free(a);
        nnc_model_free(b);
    }
    return t_finish();
}
