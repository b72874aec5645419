/* run.c -- executing a compiled plan: forward, backward, optimizer step.
 * Nothing here allocates: every buffer was placed at compile time. With
 * detect_anomaly on, every op's forward output and every gradient its
 * backward writes is scanned for NaN/Inf, and the run stops at the first,
 * naming the node; off, it costs one branch per node. Per-node timing
 * (nnc_graph_set_timing, for profiles) works the same way: on, each kernel
 * call is bracketed by a monotonic clock; off, one branch per node. */
#include "core/graph.h"
#include "ops/op.h"
#include <math.h>
#include <omp.h>
#include <string.h>
#include <time.h>

void nnc_graph_set_detect_anomaly(nnc_graph *g, int on) {
    if (g) g->detect_anomaly = on ? 1 : 0;
}

/* Element i (row-major index) of an f32 tensor: plain, dense or a window
 * (bstride), or blocked (channels padded to 16). */
static float elem_at(const nnc_tensor *t, int64_t i) {
    const float *p = t->data;
    if (t->layout == NNC_LAYOUT_BLOCKED16 && t->ndim >= 2 && t->shape[1] > 0) {
        int64_t C = t->shape[1], L = nnc_tensor_numel(t) / (t->shape[0] * C), n = i / (C * L), c = i / L % C, l = i % L;
        return p[((n * ((C + 15) / 16) + c / 16) * L + l) * 16 + c % 16];
    }
    if (!t->bstride) return p[i];
    int64_t per = t->shape[0] ? nnc_tensor_numel(t) / t->shape[0] : 1;
    return p[i / per * t->bstride + i % per];
}
/* Index of the first NaN/Inf of an f32 tensor, -1 if none (or not f32). */
static int64_t first_nonfinite(const nnc_tensor *t) {
    if (t->dtype != NNC_F32 || !t->data) return -1;
    int64_t cnt = nnc_tensor_numel(t);
    for (int64_t i = 0; i < cnt; i++)
        if (!isfinite(elem_at(t, i))) return i;
    return -1;
}

static const char *nonfinite_name(float v) { return isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf"; }

/* Forward: a graph input before the pass, or an op's output after its kernel. */
static nnc_status check_forward(const nnc_graph *g, const nnc_node *n) {
    int64_t i = first_nonfinite(&n->out);
    if (i < 0) return NNC_OK;
    char d[160];
    const char *v = nonfinite_name(elem_at(&n->out, i));
    if (n->op < 0)
        return nnc_error(NNC_ERR_NUMERIC, "anomaly at step %llu: %s holds %s at element %lld before the forward pass",
                         (unsigned long long)g->step + 1, nnc_node_desc(n, d, sizeof d), v, (long long)i);
    return nnc_error(NNC_ERR_NUMERIC, "anomaly at step %llu: forward of %s produced %s at output element %lld",
                     (unsigned long long)g->step + 1, nnc_node_desc(n, d, sizeof d), v, (long long)i);
}

/* Backward: the gradients of n's inputs, which n's backward just wrote or added to. */
static nnc_status check_backward(const nnc_graph *g, const nnc_node *n) {
    for (int j = 0; j < n->n_in; j++) {
        const nnc_node *in = n->in[j];
        if (!nnc_needs_grad(in)) continue;
        int64_t i = first_nonfinite(&in->grad);
        if (i < 0) continue;
        char d[160], e[160];
        return nnc_error(NNC_ERR_NUMERIC, "anomaly at step %llu: backward of %s produced %s in the gradient of its input %d, %s, at element %lld",
                         (unsigned long long)g->step + 1, nnc_node_desc(n, d, sizeof d),
                         nonfinite_name(elem_at(&in->grad, i)), j, nnc_node_desc(in, e, sizeof e), (long long)i);
    }
    return NNC_OK;
}

int nnc_graph_n_nodes(const nnc_graph *g) { return g ? g->n_nodes : 0; }

nnc_status nnc_graph_set_timing(nnc_graph *g, nnc_node_time *rows, int n) {
    if (!g) return nnc_error(NNC_ERR_ARG, "nnc_graph_set_timing: graph is NULL");
    if (!rows) {
        g->timing = NULL;
        g->timing_n = 0;
        return NNC_OK;
    }
    if (n < g->n_nodes)
        return nnc_error(NNC_ERR_ARG, "nnc_graph_set_timing: %d rows for a graph of %d nodes (see nnc_graph_n_nodes)", n, g->n_nodes);
    memset(rows, 0, (size_t)n * sizeof *rows);
    for (int i = 0; i < g->n_nodes; i++) {
        const nnc_node *nd = g->nodes[i];
        rows[i].name = nd->name ? nd->name : "";
        rows[i].op = nd->op >= 0 ? nnc_ops[nd->op].name : NULL;
        rows[i].param = "";
        for (int j = 0; j < nd->n_in && nd->op >= 0; j++)
            if ((nd->in[j]->flags & NNC_NODE_PARAM) && nd->in[j]->name) { rows[i].param = nd->in[j]->name; break; }
    }
    g->timing = rows;
    g->timing_n = g->n_nodes;
    return NNC_OK;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A kernel call with timing on; nodes created after timing started are run untimed. */
static void timed_kernel(nnc_graph *g, nnc_node *n, const nnc_exec *x, int backward) {
    if (n->id >= g->timing_n) {
        (backward ? nnc_ops[n->op].backward : nnc_ops[n->op].forward)(n, x);
        return;
    }
    nnc_node_time *r = &g->timing[n->id];
    double t0 = now_s();
    if (backward) {
        nnc_ops[n->op].backward(n, x);
        r->backward_s += now_s() - t0;
        r->backward_calls++;
    } else {
        nnc_ops[n->op].forward(n, x);
        r->forward_s += now_s() - t0;
        r->forward_calls++;
    }
}

static nnc_exec exec_ctx(const nnc_graph *g) {
    nnc_exec x = {0};
    x.training = g->cur->training;
    x.seed = g->seed;
    x.step = g->step;
    x.ws = g->ws;
    x.ws_bytes = g->ws_cap;
    return x;
}

/* Rebuilt concatenations (compile.c, plan.c): forward writes and reads them
 * in their forward buffer; in backward each is rebuilt into its second
 * buffer before its first reader runs. */
static void remat_reset(nnc_graph *g) {
    const nnc_plan *p = g->cur;
    for (int k = 0; k < p->n_order; k++) {
        nnc_node *n = p->order[k];
        if (!(n->flags & NNC_NODE_REMAT)) continue;
        n->out.data = (unsigned char *)g->arena + p->pn[n->id].out_off;
        n->remat_done = 0;
    }
}
/* Before c's backward: the rebuilt tensors it reads. */
static void remat_for(nnc_graph *g, const nnc_node *c) {
    for (int j = 0; j < c->n_in; j++) {
        nnc_node *q = (nnc_node *)nnc_bwd_read(c, j);
        if (!q || !(q->flags & NNC_NODE_REMAT) || q->remat_done) continue;
        size_t off = g->cur->pn[q->id].remat_off;
        if (off == SIZE_MAX) continue;
        q->out.data = (unsigned char *)g->arena + off;
        nnc_concat_rebuild(q, q->out.data);
        q->remat_done = 1;
    }
}

static nnc_status graph_forward(nnc_graph *g) {
    if (!g) return nnc_error(NNC_ERR_ARG, "nnc_graph_forward: graph is NULL");
    if (!g->cur) return nnc_error(NNC_ERR_STATE, "nnc_graph_forward: compile the graph first");
    nnc_plan *p = g->cur;
    remat_reset(g);
    nnc_exec x = exec_ctx(g);
    int fault = 0;
    x.fault = &fault;
    for (int k = 0; k < p->n_order; k++) {
        nnc_node *n = p->order[k];
        if (n->op < 0) {
            if (g->detect_anomaly && (n->flags & NNC_NODE_INPUT)) {
                nnc_status s = check_forward(g, n);
                if (s) return s;
            }
            continue;
        }
        if (n->flags & NNC_NODE_ELIDED) continue; /* a fused ReLU: its consumer applies it */
        if (g->timing) timed_kernel(g, n, &x, 0);
        else nnc_ops[n->op].forward(n, &x);
        if (fault) return (nnc_status)fault;
        if (g->detect_anomaly && !(n->flags & NNC_NODE_STATS_ONLY)) { /* no output to check: its consumer computes it */
            nnc_status s = check_forward(g, n);
            if (s) return s;
        }
    }
    float loss = 0;
    for (int i = 0; i < g->n_losses; i++) {
        nnc_node *l = g->losses[i];
        if (l->order >= 0) loss += l->loss_weight * ((float *)l->out.data)[0];
    }
    g->loss_value = loss;
    return NNC_OK;
}

static nnc_status graph_backward(nnc_graph *g) {
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
        if (n->op < 0 || !nnc_needs_grad(n) || (n->flags & NNC_NODE_ELIDED)) continue;
        remat_for(g, n);
        if (g->timing) timed_kernel(g, n, &x, 1);
        else nnc_ops[n->op].backward(n, &x);
        if (fault) return (nnc_status)fault;
        if (g->detect_anomaly) {
            nnc_status s = check_backward(g, n);
            if (s) return s;
        }
    }
    remat_reset(g);
    return NNC_OK;
}

static nnc_status graph_update(nnc_graph *g) {
    if (!g) return nnc_error(NNC_ERR_ARG, "nnc_graph_update: graph is NULL");
    if (!g->params_ready) return nnc_error(NNC_ERR_STATE, "nnc_graph_update: compile the graph first");
    if (!g->has_optim) return nnc_error(NNC_ERR_STATE, "nnc_graph_update: no optimizer (nnc_graph_set_optimizer)");
    nnc_status s = nnc_optim_update(g);
    g->step++;
    return s;
}

/* The public entry points run under the plan's thread count (small plans: one). */
nnc_status nnc_graph_forward(nnc_graph *g) {
    int t = nnc_plan_threads_enter(g ? g->cur : NULL);
    nnc_status s = graph_forward(g);
    nnc_plan_threads_leave(t);
    return s;
}
nnc_status nnc_graph_backward(nnc_graph *g) {
    int t = nnc_plan_threads_enter(g ? g->cur : NULL);
    nnc_status s = graph_backward(g);
    nnc_plan_threads_leave(t);
    return s;
}
nnc_status nnc_graph_update(nnc_graph *g) {
    int t = nnc_plan_threads_enter(g ? g->cur : NULL);
    nnc_status s = graph_update(g);
    nnc_plan_threads_leave(t);
    return s;
}

nnc_status nnc_graph_train_step(nnc_graph *g, float *loss) {
    int t = nnc_plan_threads_enter(g ? g->cur : NULL);
    nnc_status s = graph_forward(g);
    if (!s) s = graph_backward(g);
    if (!s) s = graph_update(g);
    nnc_plan_threads_leave(t);
    if (loss) *loss = g ? g->loss_value : NAN;
    return s;
}

float nnc_graph_loss_value(const nnc_graph *g) { return g ? g->loss_value : NAN; }
