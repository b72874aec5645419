/* compile.c -- from a built graph to an executable plan.
 *
 * For a (batch, mode) pair: select the nodes that outputs and losses depend
 * on (creation order is topological), infer every shape, mark which nodes
 * need a gradient (they depend on a trainable leaf and lead to a loss),
 * decide per backward contribution whether it overwrites or accumulates,
 * then plan memory (plan.c). Plans are cached; switching is a rebind. */
#include "core/graph.h"
#include "ops/op.h"
#include <string.h>

/* Blocked layouts are off for this graph (nnc_graph_set_plain_intermediates) or
 * everywhere (NNC_LAYOUT=plain in the environment). */
static int plain_only(const nnc_graph *g) {
    const char *e = getenv("NNC_LAYOUT");
    return g->plain_only || (e && !strcmp(e, "plain"));
}

/* ReLU fusion is off for this graph (nnc_graph_set_plain_intermediates) or
 * everywhere (NNC_FUSE=0). */
static int no_fuse(const nnc_graph *g) {
    const char *e = getenv("NNC_FUSE");
    return g->plain_only || (e && !strcmp(e, "0"));
}

/* Recomputation is off for this graph (as fusion) or everywhere (NNC_RECOMPUTE=0). */
static int no_recompute(const nnc_graph *g) {
    const char *e = getenv("NNC_RECOMPUTE");
    return no_fuse(g) || (e && !strcmp(e, "0"));
}

/* In-place concatenation is off for this graph (as fusion) or everywhere (NNC_CONCAT_INPLACE=0). */
static int no_inplace(const nnc_graph *g) {
    const char *e = getenv("NNC_CONCAT_INPLACE");
    return no_fuse(g) || (e && !strcmp(e, "0"));
}

/* Folding batch norms into the next convolution is off (as recomputation) or everywhere (NNC_FOLD_BN=0). */
static int no_fold(const nnc_graph *g) {
    const char *e = getenv("NNC_FOLD_BN");
    return no_recompute(g) || (e && !strcmp(e, "0"));
}

/* Blocked gradients of folded batch norms are off (as folding, or blocked
 * layouts) or everywhere (NNC_BN_BLOCKED_DY=0). */
static int no_blocked_grad(const nnc_graph *g) {
    const char *e = getenv("NNC_BN_BLOCKED_DY");
    return no_fold(g) || plain_only(g) || (e && !strcmp(e, "0"));
}

static nnc_plan *find_plan(nnc_graph *g, int64_t batch, int training) {
    int plain = plain_only(g), nf = no_fuse(g), nr = no_recompute(g), ni = no_inplace(g), nd = no_fold(g), nb = no_blocked_grad(g);
    for (int i = 0; i < g->n_plans; i++) {
        nnc_plan *p = g->plans[i];
        if (p->batch == batch && p->training == training && p->seed_outputs == g->seed_outputs && p->n_nodes == g->n_nodes &&
            p->plain_only == plain && p->no_fuse == nf && p->no_recompute == nr && p->no_inplace == ni &&
            p->no_fold == nd && p->no_blocked_grad == nb)
            return p;
    }
    return NULL;
}

void nnc_graph_set_plain_intermediates(nnc_graph *g, int on) {
    if (g) g->plain_only = on ? 1 : 0;
}

/* ---- layouts: which intermediate tensors are stored blocked (nChw16c).
 * A tensor may be blocked when it is an op's f32 [N, C, H, W] output with C
 * a multiple of 16, not a graph output or loss, its producer allows a
 * blocked output and every consumer a blocked input there. Tied ops
 * (elementwise, batch norm) put their output and inputs in one group that
 * is blocked or plain as a whole; a group is blocked when every member may
 * be. So a chain conv -> BN -> ReLU -> conv stays blocked from end to end
 * and oneDNN reorders nothing in between, while anything that reads a
 * tensor element by element as NCHW (flatten, losses, concat, the user)
 * sees it plain. A gradient has the layout of its tensor. */
static int uf_find(int *parent, int i) {
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
}
static void uf_union(int *parent, uint8_t *bad, int a, int b) {
    a = uf_find(parent, a);
    b = uf_find(parent, b);
    if (a == b) return;
    parent[b] = a;
    bad[a] |= bad[b];
}

static uint32_t op_layouts(const nnc_node *n) {
    return n->op >= 0 && nnc_ops[n->op].layouts ? nnc_ops[n->op].layouts(n) : 0;
}

/* ---- ReLU fusion: a ReLU whose input feeds nothing else is elided when
 *  - its only consumer commutes with it (NNC_FUSES_RELU_IN: max pooling):
 *    the consumer pools the values before the ReLU and applies it to its
 *    (smaller) output, and its backward writes straight into the gradient
 *    of the ReLU's input; or else
 *  - its producer can apply it (NNC_FUSES_RELU_OUT: batch norm, add): the
 *    producer writes max(0, .) and its backward applies the derivative.
 * Two passes over the tensor (forward and backward) disappear. The elided
 * node's tensor and gradient share its input's memory (plan.c). */
static const nnc_node *only_consumer(const nnc_plan *p, const nnc_node *n) {
    if (n->n_consumers != 1) return NULL;
    for (int k = n->order + 1; k < p->n_order; k++) {
        const nnc_node *c = p->order[k];
        for (int j = 0; j < c->n_in; j++)
            if (c->in[j] == n) return c;
    }
    return NULL;
}

static void fuse_relus(nnc_plan *p) {
    for (int k = 0; k < p->n_order; k++) p->order[k]->flags &= ~(uint32_t)(NNC_NODE_ELIDED | NNC_NODE_RELU_IN | NNC_NODE_RELU_OUT);
    if (p->no_fuse) return;
    const uint32_t visible = NNC_NODE_OUTPUT | NNC_NODE_LOSS | NNC_NODE_INPUT | NNC_NODE_PARAM | NNC_NODE_STATE;
    for (int k = 0; k < p->n_order; k++) {
        nnc_node *r = p->order[k];
        if (r->op != NNC_OP_RELU || (r->flags & visible)) continue;
        nnc_node *x = r->in[0];
        if (x->op < 0 || (x->flags & visible) || only_consumer(p, x) != r || (x->flags & NNC_NODE_ELIDED)) continue;
        if (x->out.layout != r->out.layout || x->out.dtype != NNC_F32) continue;
        nnc_node *m = (nnc_node *)only_consumer(p, r);
        if (m && m->in[0] == r && m->n_in == 1 && (nnc_ops[m->op].fuses & NNC_FUSES_RELU_IN)) {
            r->flags |= NNC_NODE_ELIDED;
            m->flags |= NNC_NODE_RELU_IN;
        } else if ((nnc_ops[x->op].fuses & NNC_FUSES_RELU_OUT) && !(x->flags & NNC_NODE_RELU_OUT)) {
            r->flags |= NNC_NODE_ELIDED;
            x->flags |= NNC_NODE_RELU_OUT;
        }
    }
}

/* ---- recomputation: a convolution whose input is a batch norm's output
 * (through a fused ReLU or not) that nothing else reads recomputes that
 * input in its backward from the batch norm's input and saved statistics
 * (nnc_batchnorm_recompute) instead of keeping it from forward to backward.
 * The batch norm's input is kept anyway (its own backward reads it), so a
 * tensor as large as the input is freed after the forward for one extra
 * normalization pass: the memory-efficient DenseNet's trick for its wide
 * BN-ReLU-conv bottlenecks. Plain tensors only; off with NNC_RECOMPUTE=0. */
static void mark_recompute(nnc_plan *p) {
    for (int k = 0; k < p->n_order; k++) p->order[k]->flags &= ~(uint32_t)NNC_NODE_RECOMPUTE_IN;
    if (!p->training || p->no_recompute) return;
    const uint32_t visible = NNC_NODE_OUTPUT | NNC_NODE_LOSS;
    for (int k = 0; k < p->n_order; k++) {
        nnc_node *c = p->order[k];
        if (c->op != NNC_OP_CONV2D || !nnc_needs_grad(c)) continue;
        nnc_node *in0 = c->in[0], *b = (nnc_node *)nnc_storage_of(in0);
        if (b->op != NNC_OP_BATCHNORM || !nnc_needs_grad(b) || (b->flags & visible) || (in0->flags & visible)) continue;
        if (in0->n_consumers != 1 || (in0 != b && b->n_consumers != 1)) continue;
        if (in0->out.layout != NNC_LAYOUT_PLAIN || b->out.layout != NNC_LAYOUT_PLAIN) continue;
        c->flags |= NNC_NODE_RECOMPUTE_IN;
    }
}

/* ---- batch norm folded into the convolution after it: a recomputing
 * convolution (above) whose batch norm runs the plain kernels computes
 * that input in forward too, from the batch norm's input and statistics
 * (nnc_batchnorm_recompute, with the ReLU's mask), straight into the
 * blocked layout oneDNN reorders a plain input into (nnc_dnnl_conv_x_slot),
 * and likewise for backward-weights; the batch norm (STATS_ONLY) computes
 * its statistics and writes no output, which then needs no memory. Two
 * reorders and a write and read of the normalized tensor disappear per
 * convolution. Off with NNC_FOLD_BN=0 (and with recomputation). */
static void mark_fold(nnc_plan *p) {
    for (int k = 0; k < p->n_order; k++) p->order[k]->flags &= ~(uint32_t)(NNC_NODE_NORM_IN | NNC_NODE_STATS_ONLY);
    if (!p->training || p->no_fold) return;
    for (int k = 0; k < p->n_order; k++) {
        nnc_node *c = p->order[k];
        if (!(c->flags & NNC_NODE_RECOMPUTE_IN)) continue;
        nnc_node *b = (nnc_node *)nnc_storage_of(c->in[0]);
        if (!nnc_batchnorm_foldable(b) || c->in[0]->out.ndim != 4) continue;
        c->flags |= NNC_NODE_NORM_IN;
        b->flags |= NNC_NODE_STATS_ONLY;
    }
}

/* ---- the folded batch norm's gradient in the convolution's layout: a
 * folded convolution's backward-data (oneDNN) writes its input gradient
 * nChw16c -- the batch norm's output gradient -- and oneDNN would reorder
 * it to plain for the batch norm's backward, a pass as large as the
 * batch norm's input. Instead that gradient is stored blocked (channels
 * padded to 16) and the batch norm's backward reads it tile by tile
 * (kernels/bn_tile.c). The output itself stays plain (it has no memory).
 * Only where the convolution's input may be blocked (oneDNN runs it) and
 * its input gradient is its own (not added to). Off with
 * NNC_BN_BLOCKED_DY=0 (and with folding). */
static void mark_blocked_grad(nnc_plan *p) {
    for (int k = 0; k < p->n_order; k++) p->order[k]->flags &= ~(uint32_t)NNC_NODE_GRAD_BLOCKED;
    if (!p->training || p->no_blocked_grad) return;
    for (int k = 0; k < p->n_order; k++) {
        nnc_node *c = p->order[k];
        if (!(c->flags & NNC_NODE_NORM_IN) || !nnc_needs_grad(c->in[0]) || c->accum[0] || !nnc_conv2d_blocks_dx(c)) continue;
        nnc_node *b = (nnc_node *)nnc_storage_of(c->in[0]);
        b->flags |= NNC_NODE_GRAD_BLOCKED;
        c->in[0]->flags |= NNC_NODE_GRAD_BLOCKED; /* the elided ReLU's gradient is the batch norm's */
    }
}

/* ---- rebuilt concatenations: a channel concatenation that something reads
 * in backward (DenseNet's BN of the layer input, and the recomputed BN+ReLU
 * before its 1x1 convolution) is not kept from forward to backward: before
 * its first backward reader runs, it is rebuilt from its inputs, through
 * inputs that are rebuilt concatenations themselves down to kept tensors
 * (a dense block's input and each layer's new features). A block's chain of
 * ever wider concatenations (quadratic memory) becomes its features (linear)
 * plus one rebuilt tensor at a time: the memory-efficient DenseNet. */
static void mark_remat(nnc_plan *p) {
    for (int k = 0; k < p->n_order; k++) p->order[k]->flags &= ~(uint32_t)NNC_NODE_REMAT;
    if (!p->training || p->no_recompute) return;
    for (int k = 0; k < p->n_order; k++) {
        nnc_node *n = p->order[k];
        if (n->op != NNC_OP_CONCAT || (n->flags & (NNC_NODE_OUTPUT | NNC_NODE_LOSS)) || !nnc_concat_rebuildable(n)) continue;
        if (p->pn[n->id].view_of >= 0) continue; /* in place: its buffer is kept anyway */
        n->flags |= NNC_NODE_REMAT;
    }
}

/* ---- in-place concatenation: a channel concatenation's inputs are written
 * by their producers straight into their channels of its output buffer, so
 * the concatenation copies nothing (forward) and slices nothing (backward:
 * their gradients are the same windows of its gradient). Taken latest
 * first, a concatenation placed in a later one puts its own inputs in that
 * buffer too, so a dense block's chain of concatenations shares one buffer
 * holding each feature map once (the memory-efficient DenseNet's shared
 * storage). Such a window is a strided tensor (bstride: the buffer's batch
 * item); an input is placed when it is an op's plain f32 output that
 * nothing outside the graph sees, placed nowhere else, once among the
 * inputs, its producer may write a strided output and every other reader
 * may read a strided input (the op's `strided` hook), and its gradient's
 * first contribution is the concatenation's (later ones then add to the
 * window). Any other input is copied as before. Off with
 * NNC_CONCAT_INPLACE=0 (and with fusion). */
static uint32_t op_strided(const nnc_node *n) {
    return n->op >= 0 && nnc_ops[n->op].strided ? nnc_ops[n->op].strided(n) : 0;
}
static int concat_axis1(const nnc_node *n) {
    return n->op == NNC_OP_CONCAT && n->out.ndim >= 2 && (op_strided(n) & NNC_STRIDED_OUT) && n->out.layout == NNC_LAYOUT_PLAIN &&
           n->out.dtype == NNC_F32;
}
static int can_place(const nnc_plan *p, const nnc_node *t, const nnc_node *m, int j) {
    const uint32_t visible = NNC_NODE_OUTPUT | NNC_NODE_LOSS | NNC_NODE_INPUT | NNC_NODE_PARAM | NNC_NODE_STATE;
    if (t->op < 0 || (t->flags & (visible | NNC_NODE_ELIDED)) || p->pn[t->id].view_of >= 0) return 0;
    if (t->out.layout != NNC_LAYOUT_PLAIN || t->out.dtype != NNC_F32 || t->out.ndim != m->out.ndim) return 0;
    if (!(op_strided(t) & NNC_STRIDED_OUT)) return 0;
    for (int i = 0; i < m->n_in; i++)
        if (i != j && m->in[i] == t) return 0;
    if (p->training && nnc_needs_grad(t) && (!nnc_needs_grad(m) || m->accum[j])) return 0;
    for (int k = t->order + 1; k < p->n_order; k++) {
        const nnc_node *c = p->order[k];
        uint32_t s = 0;
        int reads = 0;
        for (int i = 0; i < c->n_in; i++)
            if (c->in[i] == t) { reads = 1; s |= i < 31 && (op_strided(c) & NNC_STRIDED_IN(i)) ? 0 : 1; }
        if (reads && (s || (c->flags & NNC_NODE_ELIDED))) return 0;
    }
    return 1;
}
static void mark_inplace(nnc_graph *g, nnc_plan *p) {
    for (int k = 0; k < p->n_order; k++) {
        nnc_plan_node *pn = &p->pn[p->order[k]->id];
        pn->view_of = -1;
        pn->view_off = pn->bstride = 0;
        p->order[k]->out.bstride = 0;
    }
    for (int k = p->n_order - 1; k >= 0 && !p->no_inplace; k--) {
        nnc_node *m = p->order[k];
        if (!concat_axis1(m)) continue;
        nnc_plan_node *pm = &p->pn[m->id];
        int64_t inner = 1, c0 = 0;
        for (int i = 2; i < m->out.ndim; i++) inner *= m->out.shape[i];
        for (int j = 0; j < m->n_in; j++) {
            nnc_node *t = m->in[j];
            if (can_place(p, t, m, j)) {
                if (pm->view_of < 0) pm->view_of = m->id; /* m owns the buffer */
                p->pn[t->id].view_of = pm->view_of;
                p->pn[t->id].view_off = pm->view_off + c0 * inner;
            }
            c0 += t->out.shape[1];
        }
    }
    /* the kernels' hooks (workspace, primitives) see the strides while planning */
    for (int k = 0; k < p->n_order; k++) {
        nnc_node *n = p->order[k];
        nnc_plan_node *pn = &p->pn[n->id];
        if (pn->view_of >= 0 && pn->view_of != n->id) pn->bstride = nnc_image_stride(&g->nodes[pn->view_of]->out);
        n->out.bstride = pn->bstride;
    }
}

/* ---- shared batch statistics: a batch norm whose input is a window of an
 * in-place concatenation's buffer starting where an earlier batch norm's
 * input starts reads, in its first channels, the same values (written once,
 * before either reads them): DenseNet's layer k normalizes layer k-1's input
 * plus 12 new channels. Its training forward then takes those channels'
 * batch mean and variance from the earlier one's saved statistics (the
 * same doubles it would compute) and reads only its new channels for them.
 * Both run the plain kernels; with in-place concatenation. */
static void mark_shared_stats(nnc_plan *p) {
    for (int k = 0; k < p->n_order; k++) {
        p->pn[p->order[k]->id].stats_from = -1;
        p->pn[p->order[k]->id].stats_count = 0;
    }
    if (!p->training || p->no_inplace) return;
    for (int k = 0; k < p->n_order; k++) {
        const nnc_node *b = p->order[k];
        if (!nnc_batchnorm_shares_stats(b)) continue;
        const nnc_plan_node *t = &p->pn[b->in[0]->id];
        if (t->view_of < 0) continue;
        for (int k2 = k - 1; k2 >= 0; k2--) {
            const nnc_node *a = p->order[k2];
            if (!nnc_batchnorm_shares_stats(a)) continue;
            const nnc_plan_node *u = &p->pn[a->in[0]->id];
            if (u->view_of != t->view_of || u->view_off != t->view_off) continue;
            int64_t ca = a->in[0]->out.shape[1], cb = b->in[0]->out.shape[1];
            p->pn[b->id].stats_from = a->id;
            p->pn[b->id].stats_count = ca < cb ? ca : cb;
            break;
        }
    }
}

static nnc_status assign_layouts(nnc_graph *g, nnc_plan *p) {
    if (p->plain_only) return NNC_OK;
    int N = g->n_nodes;
    int *parent = malloc((size_t)N * sizeof *parent);
    uint8_t *bad = calloc((size_t)N, 1);
    if (!parent || !bad) { free(parent); free(bad); return nnc_error(NNC_ERR_OOM, "compile: out of memory"); }
    for (int i = 0; i < N; i++) parent[i] = i;
    for (int k = 0; k < p->n_order; k++) {
        const nnc_node *n = p->order[k];
        const nnc_tensor *t = &n->out;
        int ok = n->op >= 0 && !(n->flags & (NNC_NODE_OUTPUT | NNC_NODE_LOSS)) && t->dtype == NNC_F32 && t->ndim == 4 &&
                 t->shape[1] > 0 && t->shape[1] % 16 == 0 && (op_layouts(n) & NNC_BLOCKS_OUT);
        bad[n->id] = !ok;
    }
    for (int k = 0; k < p->n_order; k++) {
        const nnc_node *n = p->order[k];
        if (n->op < 0) continue;
        uint32_t m = op_layouts(n);
        for (int j = 0; j < n->n_in; j++) {
            if (j >= 30 || !(m & NNC_BLOCKS_IN(j))) bad[uf_find(parent, n->in[j]->id)] = 1;
            else if (m & NNC_BLOCKS_TIED) uf_union(parent, bad, n->id, n->in[j]->id);
        }
    }
    for (int k = 0; k < p->n_order; k++) {
        nnc_node *n = p->order[k];
        int r = uf_find(parent, n->id);
        if (bad[r] && r != n->id) bad[n->id] = 1;
    }
    for (int k = 0; k < p->n_order; k++) {
        nnc_node *n = p->order[k];
        n->out.layout = bad[uf_find(parent, n->id)] ? NNC_LAYOUT_PLAIN : NNC_LAYOUT_BLOCKED16;
    }
    free(parent);
    free(bad);
    return NNC_OK;
}

/* Active nodes, shapes, gradient flags and accumulation flags. */
static nnc_status analyse(nnc_graph *g, nnc_plan *p) {
    int N = g->n_nodes;
    for (int i = 0; i < N; i++) {
        g->nodes[i]->flags &= ~(uint32_t)NNC_NODE_PLAN_FLAGS;
        g->nodes[i]->order = -1;
        g->nodes[i]->n_consumers = 0;
    }
    for (int i = N - 1; i >= 0; i--) {
        nnc_node *n = g->nodes[i];
        if (n->flags & (NNC_NODE_OUTPUT | NNC_NODE_LOSS)) n->flags |= NNC_NODE_ACTIVE;
        if (n->flags & NNC_NODE_ACTIVE)
            for (int j = 0; j < n->n_in; j++) n->in[j]->flags |= NNC_NODE_ACTIVE;
    }
    int count = 0;
    for (int i = 0; i < N; i++) if (g->nodes[i]->flags & NNC_NODE_ACTIVE) count++;
    p->order = malloc((size_t)(count ? count : 1) * sizeof *p->order);
    if (!p->order) return nnc_error(NNC_ERR_OOM, "compile: out of memory");
    p->n_order = 0;
    for (int i = 0; i < N; i++) {
        nnc_node *n = g->nodes[i];
        if (!(n->flags & NNC_NODE_ACTIVE)) continue;
        n->order = p->n_order;
        p->order[p->n_order++] = n;
        for (int j = 0; j < n->n_in; j++) n->in[j]->n_consumers++;
    }

    /* shapes */
    for (int k = 0; k < p->n_order; k++) {
        nnc_node *n = p->order[k];
        if (n->flags & NNC_NODE_INPUT) {
            nnc_input_decl *d = NNC_INPUT_DECL(n);
            if (d->ndim + 1 > NNC_MAX_DIMS) return nnc_error(NNC_ERR_SHAPE, "input '%s': too many dimensions", n->name);
            n->out.ndim = d->ndim + 1;
            n->out.shape[0] = p->batch;
            for (int i = 0; i < d->ndim; i++) n->out.shape[i + 1] = d->shape[i];
        } else if (n->op >= 0) {
            memset(n->out.shape, 0, sizeof n->out.shape);
            nnc_status s = nnc_ops[n->op].infer(n);
            if (s) return s;
        }
        n->out.layout = NNC_LAYOUT_PLAIN;
    }

    /* gradients: depends on a trainable leaf (forward) and leads to a seeded node (backward) */
    if (p->training) {
        uint8_t *from = calloc((size_t)N, 1), *to = calloc((size_t)N, 1);
        if (!from || !to) { free(from); free(to); return nnc_error(NNC_ERR_OOM, "compile: out of memory"); }
        for (int k = 0; k < p->n_order; k++) {
            nnc_node *n = p->order[k];
            if ((n->flags & NNC_NODE_PARAM) && !(n->flags & NNC_NODE_FROZEN)) from[n->id] = 1;
            if (n->flags & NNC_NODE_WANTS_GRAD) from[n->id] = 1;
            if (n->op >= 0 && n->out.dtype == NNC_F32)
                for (int j = 0; j < n->n_in; j++) from[n->id] |= from[n->in[j]->id];
        }
        for (int k = p->n_order - 1; k >= 0; k--) {
            nnc_node *n = p->order[k];
            if ((n->flags & NNC_NODE_LOSS) || (g->seed_outputs && (n->flags & NNC_NODE_OUTPUT))) to[n->id] = 1;
            if (to[n->id] && n->op >= 0)
                for (int j = 0; j < n->n_in; j++) to[n->in[j]->id] = 1;
        }
        for (int k = 0; k < p->n_order; k++) {
            nnc_node *n = p->order[k];
            if (from[n->id] && to[n->id] && n->out.dtype == NNC_F32) n->flags |= NNC_NODE_NEEDS_GRAD;
        }
        free(from);
        free(to);
        /* first contribution (in backward order) overwrites, later ones add */
        uint8_t *seen = calloc((size_t)N, 1);
        if (!seen) return nnc_error(NNC_ERR_OOM, "compile: out of memory");
        for (int k = 0; k < p->n_order; k++) {
            nnc_node *n = p->order[k];
            if ((n->flags & NNC_NODE_LOSS) || (g->seed_outputs && (n->flags & NNC_NODE_OUTPUT))) seen[n->id] = 1;
        }
        for (int k = p->n_order - 1; k >= 0; k--) {
            nnc_node *n = p->order[k];
            if (n->op < 0 || !nnc_needs_grad(n)) continue;
            for (int j = 0; j < n->n_in; j++) {
                if (!nnc_needs_grad(n->in[j])) continue;
                n->accum[j] = seen[n->in[j]->id];
                seen[n->in[j]->id] = 1;
            }
        }
        free(seen);
    }
    nnc_status s = assign_layouts(g, p);
    if (!s) fuse_relus(p);
    if (!s) mark_recompute(p);
    if (!s) mark_fold(p);
    if (!s) mark_inplace(g, p);
    if (!s) mark_shared_stats(p);
    if (!s) mark_blocked_grad(p); /* with the convolutions' windows decided (it makes their primitives) */
    if (!s) mark_remat(p);
    return s;
}

static void plan_record(nnc_graph *g, nnc_plan *p) {
    for (int k = 0; k < p->n_order; k++) {
        nnc_node *n = p->order[k];
        nnc_plan_node *pn = &p->pn[n->id];
        pn->ndim = n->out.ndim;
        memcpy(pn->shape, n->out.shape, sizeof pn->shape);
        pn->flags = n->flags & NNC_NODE_PLAN_FLAGS;
        pn->layout = n->out.layout;
    }
    size_t a = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i]->n_in) memcpy(p->accum + a, g->nodes[i]->accum, (size_t)g->nodes[i]->n_in);
        a += (size_t)g->nodes[i]->n_in;
    }
}

void nnc_plan_bind(nnc_graph *g, nnc_plan *p) {
    size_t a = 0;
    unsigned char *arena = g->arena;
    for (int i = 0; i < g->n_nodes; i++) {
        nnc_node *n = g->nodes[i];
        nnc_plan_node *pn = &p->pn[i];
        if (n->n_in) memcpy(n->accum, p->accum + a, (size_t)n->n_in);
        a += (size_t)n->n_in;
        n->flags = (n->flags & ~(uint32_t)NNC_NODE_PLAN_FLAGS) | pn->flags;
        n->order = -1;
        if (!(pn->flags & NNC_NODE_ACTIVE)) continue;
        if (n->flags & (NNC_NODE_PARAM | NNC_NODE_STATE)) continue; /* bound to their blocks */
        n->out.ndim = pn->ndim;
        memcpy(n->out.shape, pn->shape, sizeof pn->shape);
        n->out.layout = pn->layout;
        n->out.bstride = pn->bstride;
        n->out.data = arena + pn->out_off;
        n->remat_done = 0;
        n->stats_src = pn->stats_from >= 0 ? g->nodes[pn->stats_from] : NULL;
        n->stats_count = pn->stats_count;
        n->grad = n->out;
        n->grad.layout = nnc_grad_layout(n);
        n->grad.data = pn->grad_off != SIZE_MAX ? arena + pn->grad_off : NULL;
        n->saved = pn->saved_off != SIZE_MAX ? arena + pn->saved_off : NULL;
    }
    for (int k = 0; k < p->n_order; k++) p->order[k]->order = k;
    g->cur = p;
}

void nnc_plan_free(nnc_plan *p) {
    if (!p) return;
    free(p->order);
    free(p->pn);
    free(p->accum);
    memset(p, 0, sizeof *p);
}

nnc_status nnc_graph_compile(nnc_graph *g, int64_t batch, int training) {
    if (!g) return nnc_error(NNC_ERR_ARG, "nnc_graph_compile: graph is NULL");
    if (g->err) return nnc_error(g->err, "graph has an error from building: %s", g->errmsg);
    if (batch <= 0) return nnc_error(NNC_ERR_ARG, "nnc_graph_compile: batch size %lld (must be positive)", (long long)batch);
    if (batch > (1ll << 31)) return nnc_error(NNC_ERR_ARG, "nnc_graph_compile: batch size %lld is too large", (long long)batch);
    if (g->n_outputs == 0 && g->n_losses == 0)
        return nnc_error(NNC_ERR_STATE, "nnc_graph_compile: the graph has no output and no loss (nnc_graph_output / nnc_graph_loss)");
    training = training ? 1 : 0;
    nnc_status s = nnc_graph_init_params(g);
    if (s) return s;
    nnc_plan *p = find_plan(g, batch, training);
    if (p && p == g->cur) return NNC_OK;
    if (p) { nnc_plan_bind(g, p); return NNC_OK; }

    if (g->n_plans == NNC_MAX_PLANS) { /* evict the oldest */
        nnc_plan_free(g->plans[0]);
        free(g->plans[0]);
        memmove(g->plans, g->plans + 1, (NNC_MAX_PLANS - 1) * sizeof *g->plans);
        g->n_plans--;
    }
    p = calloc(1, sizeof *p);
    if (!p) return nnc_error(NNC_ERR_OOM, "compile: out of memory");
    p->batch = batch;
    p->training = training;
    p->seed_outputs = g->seed_outputs;
    p->plain_only = plain_only(g);
    p->no_fuse = no_fuse(g);
    p->no_recompute = no_recompute(g);
    p->no_inplace = no_inplace(g);
    p->no_fold = no_fold(g);
    p->no_blocked_grad = no_blocked_grad(g);
    p->n_nodes = g->n_nodes;
    size_t n_acc = 0;
    for (int i = 0; i < g->n_nodes; i++) n_acc += (size_t)g->nodes[i]->n_in;
    p->pn = calloc((size_t)g->n_nodes, sizeof *p->pn);
    p->accum = calloc(n_acc ? n_acc : 1, 1);
    if (!p->pn || !p->accum) { nnc_plan_free(p); free(p); return nnc_error(NNC_ERR_OOM, "compile: out of memory"); }
    g->cur = NULL;
    s = analyse(g, p);
    if (!s) s = nnc_plan_build(g, p);
    if (s) { nnc_plan_free(p); free(p); return s; }
    plan_record(g, p);
    /* one arena and one workspace for all plans: grow, never shrink */
    if (p->arena_bytes > g->arena_cap) {
        void *a = NULL;
        if (posix_memalign(&a, 64, p->arena_bytes)) { size_t sz = p->arena_bytes; nnc_plan_free(p); free(p); return nnc_error(NNC_ERR_OOM, "compile: cannot allocate %zu bytes of activations", sz); }
        memset(a, 0, p->arena_bytes);
        free(g->arena);
        g->arena = a;
        g->arena_cap = p->arena_bytes;
    }
    if (p->ws_bytes > g->ws_cap) {
        void *w = NULL;
        if (posix_memalign(&w, 64, p->ws_bytes)) { size_t sz = p->ws_bytes; nnc_plan_free(p); free(p); return nnc_error(NNC_ERR_OOM, "compile: cannot allocate %zu bytes of workspace", sz); }
        free(g->ws);
        g->ws = w;
        g->ws_cap = p->ws_bytes;
    }
    g->plans[g->n_plans++] = p;
    nnc_plan_bind(g, p);
    return NNC_OK;
}

nnc_status nnc_graph_plan_info(nnc_graph *g, int64_t batch, int training, nnc_mem_info *out) {
    if (!g || !out) return nnc_error(NNC_ERR_ARG, "nnc_graph_plan_info: NULL argument");
    if (g->err) return nnc_error(g->err, "graph has an error from building: %s", g->errmsg);
    if (batch <= 0) return nnc_error(NNC_ERR_ARG, "nnc_graph_plan_info: batch %lld must be positive", (long long)batch);
    nnc_plan p;
    memset(&p, 0, sizeof p);
    p.batch = batch;
    p.training = training ? 1 : 0;
    p.plain_only = plain_only(g);
    p.no_fuse = no_fuse(g);
    p.no_recompute = no_recompute(g);
    p.no_inplace = no_inplace(g);
    p.no_fold = no_fold(g);
    p.no_blocked_grad = no_blocked_grad(g);
    p.n_nodes = g->n_nodes;
    p.pn = calloc((size_t)g->n_nodes + 1, sizeof *p.pn);
    if (!p.pn) return nnc_error(NNC_ERR_OOM, "out of memory");
    nnc_plan *was = g->cur;
    nnc_status s = analyse(g, &p);
    if (!s) s = nnc_plan_build(g, &p);
    memset(out, 0, sizeof *out);
    if (!s) {
        out->arena_bytes = p.arena_bytes;
        out->unplanned_bytes = p.unplanned_bytes;
        out->workspace_bytes = p.ws_bytes;
        int64_t total = 0;
        for (int i = 0; i < g->n_params; i++) total += (nnc_tensor_numel(&g->params[i]->out) + 15) / 16 * 16;
        out->param_block_bytes = (size_t)total * (size_t)(2 + g->n_opt_slots) * sizeof(float);
        for (int i = 0; i < g->n_states; i++) out->state_bytes += (nnc_tensor_bytes(&g->states[i]->out) + 63) / 64 * 64;
    }
    nnc_plan_free(&p);
    /* analyse() changed node shapes and flags: restore the bound plan, or build-time shapes */
    if (was) nnc_plan_bind(g, was);
    else
        for (int i = 0; i < g->n_nodes; i++) {
            nnc_node *n = g->nodes[i];
            n->out.bstride = 0;
            n->out.layout = NNC_LAYOUT_PLAIN;
            if (n->flags & NNC_NODE_INPUT) n->out.shape[0] = 1;
            else if (n->op >= 0) nnc_ops[n->op].infer(n);
        }
    return s;
}

int64_t nnc_graph_batch(const nnc_graph *g) { return g && g->cur ? g->cur->batch : 0; }

nnc_mem_info nnc_graph_mem_info(const nnc_graph *g) {
    nnc_mem_info m = {0};
    if (!g) return m;
    if (g->cur) {
        m.arena_bytes = g->cur->arena_bytes;
        m.unplanned_bytes = g->cur->unplanned_bytes;
        m.workspace_bytes = g->cur->ws_bytes;
    }
    m.param_block_bytes = (size_t)g->n_param_elems * (size_t)(2 + g->n_opt_slots) * sizeof(float);
    m.state_bytes = g->state_bytes;
    return m;
}
