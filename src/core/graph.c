/* graph.c -- building graphs: nodes, leaves, scopes, the sticky error, and
 * accessors. Nothing here allocates tensor memory; compile does. */
#include "core/graph.h"
#include "ops/op.h"
#include <stdarg.h>
#include <string.h>

nnc_graph *nnc_graph_new(void) {
    nnc_graph *g = calloc(1, sizeof *g);
    if (!g) { nnc_error(NNC_ERR_OOM, "nnc_graph_new: out of memory"); return NULL; }
    g->seed = 0;
    return g;
}

static void free_node(nnc_node *n) {
    if (!n) return;
    if (n->kcache) n->kcache->release(n->kcache);
    free(n->in);
    free(n->accum);
    free(n->name);
    free(n);
}

void nnc_graph_free(nnc_graph *g) {
    if (!g) return;
    for (int i = 0; i < g->n_nodes; i++) free_node(g->nodes[i]);
    for (int i = 0; i < g->n_plans; i++) { nnc_plan_free(g->plans[i]); free(g->plans[i]); }
    free(g->nodes);
    free(g->params); free(g->states); free(g->inputs); free(g->outputs); free(g->losses);
    free(g->block);
    free(g->state_block);
    free(g->arena);
    free(g->ws);
    free(g);
}

nnc_status nnc_graph_status(const nnc_graph *g) { return g ? g->err : NNC_ERR_ARG; }
const char *nnc_graph_error(const nnc_graph *g) { return g && g->err ? g->errmsg : "no error"; }
void nnc_graph_set_seed(nnc_graph *g, uint64_t seed) { if (g) g->seed = seed; }
uint64_t nnc_graph_seed(const nnc_graph *g) { return g ? g->seed : 0; }

nnc_node *nnc_graph_fail(nnc_graph *g, nnc_status s, const char *fmt, ...) {
    if (!g || g->err) return NULL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->errmsg, sizeof g->errmsg, fmt, ap);
    va_end(ap);
    g->err = s;
    nnc_error(s, "%s", g->errmsg);
    return NULL;
}

void nnc_scope_push(nnc_graph *g, const char *name) {
    if (!g || g->err) return;
    if (!name || !*name) { nnc_graph_fail(g, NNC_ERR_ARG, "nnc_scope_push: empty scope name"); return; }
    if (g->scope_depth >= 32) { nnc_graph_fail(g, NNC_ERR_ARG, "nnc_scope_push: scopes nested deeper than 32"); return; }
    size_t len = strlen(g->scope), add = strlen(name) + (len ? 1 : 0);
    if (len + add >= sizeof g->scope) { nnc_graph_fail(g, NNC_ERR_ARG, "nnc_scope_push: scope name too long"); return; }
    g->scope_len[g->scope_depth++] = (int)len;
    if (len) g->scope[len++] = '.';
    strcpy(g->scope + len, name);
}

void nnc_scope_pop(nnc_graph *g) {
    if (!g || g->err) return;
    if (g->scope_depth == 0) { nnc_graph_fail(g, NNC_ERR_STATE, "nnc_scope_pop: no scope to pop"); return; }
    g->scope[g->scope_len[--g->scope_depth]] = 0;
}

const char *nnc_scoped_name(const nnc_graph *g, const char *name, char *buf, size_t n) {
    if (g->scope[0]) snprintf(buf, n, "%s.%s", g->scope, name);
    else snprintf(buf, n, "%s", name);
    return buf;
}

static int push_node(nnc_graph *g, nnc_node *n) {
    if (g->n_nodes == g->cap) {
        int cap = g->cap ? g->cap * 2 : 64;
        nnc_node **nn = realloc(g->nodes, (size_t)cap * sizeof *nn);
        if (!nn) return 0;
        g->nodes = nn;
        g->cap = cap;
    }
    n->id = g->n_nodes;
    g->nodes[g->n_nodes++] = n;
    return 1;
}

static int push_list(nnc_node ***list, int *count, nnc_node *n) {
    nnc_node **l = realloc(*list, (size_t)(*count + 1) * sizeof *l);
    if (!l) return 0;
    l[(*count)++] = n;
    *list = l;
    return 1;
}

static nnc_node *alloc_node(nnc_graph *g, int n_in) {
    nnc_node *n = calloc(1, sizeof *n);
    if (n && n_in > 0) {
        n->in = calloc((size_t)n_in, sizeof *n->in);
        n->accum = calloc((size_t)n_in, 1);
        if (!n->in || !n->accum) { free_node(n); n = NULL; }
    }
    if (!n) { nnc_graph_fail(g, NNC_ERR_OOM, "out of memory building the graph"); return NULL; }
    n->n_in = n_in;
    n->order = -1;
    return n;
}

static int graph_has_node(const nnc_graph *g, const nnc_node *x) {
    return x && x->id >= 0 && x->id < g->n_nodes && g->nodes[x->id] == x;
}

nnc_node *nnc_node_new(nnc_graph *g, int op, int n_in, nnc_node *const *in, const void *attrs, size_t size) {
    if (!g || g->err) return NULL;
    const char *opname = nnc_ops[op].name;
    for (int i = 0; i < n_in; i++) {
        if (!in[i]) return nnc_graph_fail(g, NNC_ERR_ARG, "%s: input %d is NULL", opname, i);
        if (!graph_has_node(g, in[i]))
            return nnc_graph_fail(g, NNC_ERR_ARG, "%s: input %d belongs to another graph", opname, i);
    }
    if (size > NNC_MAX_ATTRS) return nnc_graph_fail(g, NNC_ERR_ARG, "%s: attributes too large", opname);
    nnc_node *n = alloc_node(g, n_in);
    if (!n) return NULL;
    n->op = op;
    for (int i = 0; i < n_in; i++) n->in[i] = in[i];
    if (size) memcpy(n->attrs, attrs, size);
    if (!push_node(g, n)) { free_node(n); return nnc_graph_fail(g, NNC_ERR_OOM, "out of memory building the graph"); }
    /* Shapes are inferred at build time too (batch 1), so mistakes are
     * reported where they are made and layer builders know their inputs. */
    nnc_status s = nnc_ops[op].infer(n);
    if (s) return nnc_graph_fail(g, s, "%s", nnc_last_error());
    return n;
}

int64_t nnc_static_features(const nnc_node *x) {
    if (!x || x->out.ndim < 1 || x->out.shape[0] <= 0) return 0;
    return nnc_tensor_numel(&x->out) / x->out.shape[0];
}

static int valid_shape(nnc_graph *g, const char *what, const char *name, int ndim, const int64_t *shape) {
    if (ndim < 0 || ndim > NNC_MAX_DIMS - 1) {
        nnc_graph_fail(g, NNC_ERR_ARG, "%s '%s': %d dimensions (at most %d)", what, name, ndim, NNC_MAX_DIMS - 1);
        return 0;
    }
    if (ndim > 0 && !shape) { nnc_graph_fail(g, NNC_ERR_ARG, "%s '%s': shape is NULL", what, name); return 0; }
    int64_t total = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0) {
            nnc_graph_fail(g, NNC_ERR_ARG, "%s '%s': dimension %d is %lld (must be positive)", what, name, i, (long long)shape[i]);
            return 0;
        }
        if (total > (INT64_MAX >> 8) / shape[i]) {
            nnc_graph_fail(g, NNC_ERR_ARG, "%s '%s': shape overflows a 64-bit element count", what, name);
            return 0;
        }
        total *= shape[i];
    }
    return 1;
}

static nnc_node *leaf(nnc_graph *g, const char *what, const char *name, nnc_dtype dt, int ndim, const int64_t *shape,
                      uint32_t flags, int scoped) {
    if (!g || g->err) return NULL;
    if (!name || !*name) return nnc_graph_fail(g, NNC_ERR_ARG, "%s: name is empty", what);
    if (g->params_ready && (flags & (NNC_NODE_PARAM | NNC_NODE_STATE)))
        return nnc_graph_fail(g, NNC_ERR_STATE, "%s '%s': parameters are already allocated (add parameters before the first compile)", what, name);
    char full[512];
    if (scoped) nnc_scoped_name(g, name, full, sizeof full);
    else snprintf(full, sizeof full, "%s", name);
    if (!valid_shape(g, what, full, ndim, shape)) return NULL;
    if (nnc_graph_find(g, full)) return nnc_graph_fail(g, NNC_ERR_ARG, "%s '%s': the name is already used in this graph", what, full);
    nnc_node *n = alloc_node(g, 0);
    if (!n) return NULL;
    n->op = -1;
    n->flags = flags;
    n->out.dtype = dt;
    n->out.ndim = ndim;
    for (int i = 0; i < ndim; i++) n->out.shape[i] = shape[i];
    n->name = strdup(full);
    if (!n->name || !push_node(g, n)) { free_node(n); return nnc_graph_fail(g, NNC_ERR_OOM, "out of memory"); }
    return n;
}

nnc_node *nnc_input(nnc_graph *g, const char *name, nnc_dtype dt, int ndim, const int64_t *shape) {
    if (g && !g->err && nnc_dtype_size(dt) == 0) return nnc_graph_fail(g, NNC_ERR_ARG, "nnc_input '%s': unknown dtype", name ? name : "?");
    nnc_node *n = leaf(g, "input", name, dt, ndim, shape, NNC_NODE_INPUT, 0);
    if (n) { /* the declared per-sample shape; compile prepends the batch (1 until then) */
        nnc_input_decl *d = NNC_INPUT_DECL(n);
        d->ndim = ndim;
        for (int i = 0; i < ndim; i++) d->shape[i] = shape[i];
        n->out.ndim = ndim + 1;
        n->out.shape[0] = 1;
        for (int i = 0; i < ndim; i++) n->out.shape[i + 1] = shape[i];
    }
    if (n && !push_list(&g->inputs, &g->n_inputs, n)) return nnc_graph_fail(g, NNC_ERR_OOM, "out of memory");
    return n;
}

nnc_node *nnc_param(nnc_graph *g, const char *name, int ndim, const int64_t *shape, nnc_init init) {
    nnc_node *n = leaf(g, "parameter", name, NNC_F32, ndim, shape, NNC_NODE_PARAM, 1);
    if (!n) return NULL;
    n->init = init;
    if (!push_list(&g->params, &g->n_params, n)) return nnc_graph_fail(g, NNC_ERR_OOM, "out of memory");
    return n;
}

nnc_node *nnc_state(nnc_graph *g, const char *name, nnc_dtype dt, int ndim, const int64_t *shape, double value) {
    if (g && !g->err && nnc_dtype_size(dt) == 0) return nnc_graph_fail(g, NNC_ERR_ARG, "nnc_state '%s': unknown dtype", name ? name : "?");
    nnc_node *n = leaf(g, "state", name, dt, ndim, shape, NNC_NODE_STATE, 1);
    if (!n) return NULL;
    n->state_value = value;
    if (!push_list(&g->states, &g->n_states, n)) return nnc_graph_fail(g, NNC_ERR_OOM, "out of memory");
    return n;
}

void nnc_input_requires_grad(nnc_node *n) {
    if (n && (n->flags & NNC_NODE_INPUT) && n->out.dtype == NNC_F32) n->flags |= NNC_NODE_WANTS_GRAD;
}

void nnc_param_freeze(nnc_node *n, int frozen) {
    if (!n || !(n->flags & NNC_NODE_PARAM)) return;
    if (frozen) n->flags |= NNC_NODE_FROZEN;
    else n->flags &= ~(uint32_t)NNC_NODE_FROZEN;
}

void nnc_graph_output(nnc_graph *g, nnc_node *n) {
    if (!g || g->err) return;
    if (!graph_has_node(g, n)) { nnc_graph_fail(g, NNC_ERR_ARG, "nnc_graph_output: node is NULL or from another graph"); return; }
    if (n->flags & NNC_NODE_OUTPUT) return;
    n->flags |= NNC_NODE_OUTPUT;
    if (!push_list(&g->outputs, &g->n_outputs, n)) nnc_graph_fail(g, NNC_ERR_OOM, "out of memory");
}

void nnc_graph_loss(nnc_graph *g, nnc_node *n, float weight) {
    if (!g || g->err) return;
    if (!graph_has_node(g, n)) { nnc_graph_fail(g, NNC_ERR_ARG, "nnc_graph_loss: node is NULL or from another graph"); return; }
    if (n->flags & NNC_NODE_LOSS) { nnc_graph_fail(g, NNC_ERR_ARG, "nnc_graph_loss: node is already a loss"); return; }
    if (!(weight == weight)) { nnc_graph_fail(g, NNC_ERR_ARG, "nnc_graph_loss: weight is NaN"); return; }
    n->flags |= NNC_NODE_LOSS;
    n->loss_weight = weight;
    if (!push_list(&g->losses, &g->n_losses, n)) nnc_graph_fail(g, NNC_ERR_OOM, "out of memory");
}

nnc_tensor *nnc_node_value(nnc_node *n) { return n ? &n->out : NULL; }
nnc_tensor *nnc_node_grad(nnc_node *n) { return n ? &n->grad : NULL; }
const char *nnc_node_name(const nnc_node *n) { return n && n->name ? n->name : ""; }
const char *nnc_node_op(const nnc_node *n) {
    if (!n) return "";
    if (n->op >= 0) return nnc_ops[n->op].name;
    return (n->flags & NNC_NODE_PARAM) ? "param" : (n->flags & NNC_NODE_STATE) ? "state" : "input";
}

nnc_node *nnc_graph_find(nnc_graph *g, const char *name) {
    if (!g || !name) return NULL;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->name && strcmp(g->nodes[i]->name, name) == 0) return g->nodes[i];
    return NULL;
}

int nnc_graph_n_params(const nnc_graph *g) { return g ? g->n_params : 0; }
nnc_node *nnc_graph_param_at(nnc_graph *g, int i) { return g && i >= 0 && i < g->n_params ? g->params[i] : NULL; }
int nnc_graph_n_state(const nnc_graph *g) { return g ? g->n_states : 0; }
nnc_node *nnc_graph_state_at(nnc_graph *g, int i) { return g && i >= 0 && i < g->n_states ? g->states[i] : NULL; }

int64_t nnc_graph_n_param_elems(const nnc_graph *g) {
    int64_t n = 0;
    for (int i = 0; g && i < g->n_params; i++)
        if (!(g->params[i]->flags & NNC_NODE_FROZEN)) n += nnc_tensor_numel(&g->params[i]->out);
    return n;
}

/* Sets the optional name of an op node ("fc1"), used in messages and summaries. */
void nnc_node_set_name(nnc_node *n, const char *name);
void nnc_node_set_name(nnc_node *n, const char *name) {
    if (!n || !name) return;
    char *s = strdup(name);
    if (!s) return;
    free(n->name);
    n->name = s;
}
