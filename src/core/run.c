/* run.c -- executing a compiled plan: forward, backward, optimizer step.
 * Nothing here allocates: every buffer was placed at compile time. */
#include "core/graph.h"
#include "ops/op.h"
#include <math.h>
#include <string.h>

static nnc_exec exec_ctx(const nnc_graph *g) {
    nnc_exec x = {0};
    x.training = g->cur->training;
    x.seed = g->seed;
    x.step = g->step;
    x.ws = g->ws;
    x.ws_bytes = g->ws_cap;
    return x;
}

nnc_status nnc_graph_forward(nnc_graph *g) {
    if (!g) return nnc_error(NNC_ERR_ARG, "nnc_graph_forward: graph is NULL");
    if (!g->cur) return nnc_error(NNC_ERR_STATE, "nnc_graph_forward: compile the graph first");
    nnc_plan *p = g->cur;
    nnc_exec x = exec_ctx(g);
    int fault = 0;
    x.fault = &fault;
    for (int k = 0; k < p->n_order; k++) {
        nnc_node *n = p->order[k];
        if (n->op < 0) continue;
        nnc_ops[n->op].forward(n, &x);
        if (fault) return (nnc_status)fault;
    }
    float loss = 0;
    for (int i = 0; i < g->n_losses; i++) {
        nnc_node *l = g->losses[i];
        if (l->order >= 0) loss += l->loss_weight * ((float *)l->out.data)[0];
    }
    g->loss_value = loss;
    return NNC_OK;
}

nnc_status nnc_graph_backward(nnc_graph *g) {
    if (!g) return nnc_error(NNC_ERR_ARG, "nnc_graph_backward: graph is NULL");
    if (!g->cur) return nnc_error(NNC_ERR_STATE, "nnc_graph_backward: compile the graph first");
    nnc_plan *p = g->cur;
    if (!p->training) return nnc_error(NNC_ERR_STATE, "nnc_graph_backward: the graph is compiled for inference (compile with training=1)");
    nnc_exec x = exec_ctx(g);
    /* seeds: loss weights, or the gradient checker's projections */
    for (int k = 0; k < p->n_order; k++) {
        nnc_node *n = p->order[k];
        if (!nnc_needs_grad(n)) continue;
        int64_t cnt = nnc_tensor_numel(&n->grad);
        float *gd = n->grad.data;
        if (g->seed_outputs && (n->flags & (NNC_NODE_OUTPUT | NNC_NODE_LOSS)) && n->seed)
            memcpy(gd, n->seed, (size_t)cnt * sizeof(float));
        else if (n->flags & NNC_NODE_LOSS)
            for (int64_t i = 0; i < cnt; i++) gd[i] = n->loss_weight;
        else if (g->seed_outputs && (n->flags & NNC_NODE_OUTPUT))
            memset(gd, 0, (size_t)cnt * sizeof(float));
    }
    int fault = 0;
    x.fault = &fault;
    for (int k = p->n_order - 1; k >= 0; k--) {
        nnc_node *n = p->order[k];
        if (n->op < 0 || !nnc_needs_grad(n)) continue;
        nnc_ops[n->op].backward(n, &x);
        if (fault) return (nnc_status)fault;
    }
    return NNC_OK;
}

nnc_status nnc_graph_update(nnc_graph *g) {
    if (!g) return nnc_error(NNC_ERR_ARG, "nnc_graph_update: graph is NULL");
    if (!g->params_ready) return nnc_error(NNC_ERR_STATE, "nnc_graph_update: compile the graph first");
    if (!g->has_optim) return nnc_error(NNC_ERR_STATE, "nnc_graph_update: no optimizer (nnc_graph_set_optimizer)");
    nnc_status s = nnc_optim_update(g);
    g->step++;
    return s;
}

nnc_status nnc_graph_train_step(nnc_graph *g, float *loss) {
    nnc_status s = nnc_graph_forward(g);
    if (!s) s = nnc_graph_backward(g);
    if (!s) s = nnc_graph_update(g);
    if (loss) *loss = g ? g->loss_value : NAN;
    return s;
}

float nnc_graph_loss_value(const nnc_graph *g) { return g ? g->loss_value : NAN; }
