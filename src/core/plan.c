/* plan.c -- liveness-planned activation memory.
 *
 * Time runs over the forward pass (node k at t = k), then the gradient seeds
 * (t = M), then the backward pass (node k at t = 2M - k). Every buffer --
 * an output, a gradient, an op's saved data -- gets the interval of times it
 * must survive:
 *   output:   from its forward to its last forward consumer, extended to the
 *             backward of any consumer whose op declares it reads that input
 *             (bwd_reads), and to its own backward if it reads its output;
 *             graph outputs and losses, and inputs, live throughout;
 *   gradient: from its first contribution (or the seeds) to its own backward;
 *   saved:    from its forward to its backward (training) or its forward only.
 * Buffers whose intervals overlap may not share bytes. They are placed
 * largest first, each into the smallest gap that fits (best fit).
 * An elided ReLU (compile.c's fusion) has no buffers of its own: its tensor
 * and gradient are its input's, so its consumers count as its input's. */
#include "core/graph.h"
#include "ops/op.h"
#include <omp.h>
#include <string.h>

#define ALIGN 64

typedef struct buf {
    size_t size, off;
    int t0, t1;
    size_t *dst; /* where to store the offset */
} buf;

static int by_size_desc(const void *a, const void *b) {
    const buf *x = a, *y = b;
    if (x->size != y->size) return x->size < y->size ? 1 : -1;
    return x->t0 - y->t0;
}

static int by_off(const void *a, const void *b) {
    const buf *const *x = a, *const *y = b;
    return (*x)->off < (*y)->off ? -1 : (*x)->off > (*y)->off;
}

static size_t round_up(size_t n) { return (n + ALIGN - 1) / ALIGN * ALIGN; }

/* Best-fit placement; returns the arena size. */
static size_t place(buf *b, int nb) {
    qsort(b, (size_t)nb, sizeof *b, by_size_desc);
    buf **live = malloc((size_t)(nb ? nb : 1) * sizeof *live);
    size_t total = 0;
    if (!live) return SIZE_MAX;
    for (int i = 0; i < nb; i++) {
        int nl = 0;
        for (int j = 0; j < i; j++)
            if (b[j].t0 <= b[i].t1 && b[i].t0 <= b[j].t1) live[nl++] = &b[j];
        qsort(live, (size_t)nl, sizeof *live, by_off);
        size_t best = SIZE_MAX, best_gap = SIZE_MAX, cursor = 0;
        for (int j = 0; j < nl; j++) {
            if (live[j]->off > cursor) {
                size_t gap = live[j]->off - cursor;
                if (gap >= b[i].size && gap < best_gap) { best = cursor; best_gap = gap; }
            }
            size_t end = live[j]->off + live[j]->size;
            if (end > cursor) cursor = end;
        }
        b[i].off = best != SIZE_MAX ? best : cursor;
        if (b[i].off + b[i].size > total) total = b[i].off + b[i].size;
    }
    free(live);
    return total;
}

int nnc_plan_threads_enter(const nnc_plan *p) {
    if (!p || p->threads != 1) return 0;
    int saved = omp_get_max_threads();
    if (saved > 1) omp_set_num_threads(1);
    return saved;
}
void nnc_plan_threads_leave(int saved) {
    if (saved > 1) omp_set_num_threads(saved);
}

static nnc_status plan_build(nnc_graph *g, nnc_plan *p);

/* Small plans run on one thread; kernels that build per-thread-count state at
 * compile time (oneDNN primitives) see the same count as the runs. */
nnc_status nnc_plan_build(nnc_graph *g, nnc_plan *p) {
    int64_t macs = 0;
    for (int k = 0; k < p->n_order; k++) {
        const nnc_node *n = p->order[k];
        if (n->op >= 0 && nnc_ops[n->op].macs) macs += nnc_ops[n->op].macs(n);
    }
    p->threads = macs < nnc_get_small_plan_macs() ? 1 : 0;
    int saved = nnc_plan_threads_enter(p);
    nnc_status s = plan_build(g, p);
    nnc_plan_threads_leave(saved);
    return s;
}

static nnc_status plan_build(nnc_graph *g, nnc_plan *p) {
    int M = p->n_order, END = 2 * M + 1;
    buf *b = calloc((size_t)(4 * M + 1), sizeof *b);
    if (!b) return nnc_error(NNC_ERR_OOM, "compile: out of memory planning memory");
    int nb = 0;
    size_t ws = 0, unplanned = 0;
    for (int i = 0; i < g->n_nodes; i++) p->pn[i].out_off = p->pn[i].grad_off = p->pn[i].saved_off = p->pn[i].remat_off = SIZE_MAX;
    /* rebuilt concatenations (compile.c): the backward times of their readers
     * bound a second buffer, and their kept inputs must live that long */
    int *rb0 = malloc((size_t)g->n_nodes * sizeof *rb0), *rb1 = malloc((size_t)g->n_nodes * sizeof *rb1);
    int *keep = malloc((size_t)g->n_nodes * sizeof *keep);
    /* in-place concatenations: the times their windows' tensors and gradients live, per buffer owner */
    int *vt = malloc((size_t)g->n_nodes * 4 * sizeof *vt);
    if (!rb0 || !rb1 || !keep || !vt) {
        free(b); free(rb0); free(rb1); free(keep); free(vt);
        return nnc_error(NNC_ERR_OOM, "compile: out of memory planning memory");
    }
    for (int i = 0; i < g->n_nodes; i++) {
        rb0[i] = INT32_MAX; rb1[i] = -1; keep[i] = -1;
        vt[4 * i] = vt[4 * i + 2] = INT32_MAX;
        vt[4 * i + 1] = vt[4 * i + 3] = -1;
    }
    if (p->training)
        for (int c = 0; c < M; c++) {
            nnc_node *cn = p->order[c];
            if (cn->op < 0 || !nnc_needs_grad(cn) || (cn->flags & NNC_NODE_ELIDED)) continue;
            for (int j = 0; j < cn->n_in; j++) {
                const nnc_node *q = nnc_bwd_read(cn, j);
                if (!q || !(q->flags & NNC_NODE_REMAT)) continue;
                if (2 * M - c < rb0[q->id]) rb0[q->id] = 2 * M - c;
                if (2 * M - c > rb1[q->id]) rb1[q->id] = 2 * M - c;
            }
        }
    for (int k = M - 1; k >= 0; k--) { /* later concatenations rebuild earlier ones' inputs too */
        nnc_node *n = p->order[k];
        if (!(n->flags & NNC_NODE_REMAT)) continue;
        int need = rb1[n->id] > keep[n->id] ? rb1[n->id] : keep[n->id];
        for (int j = 0; j < n->n_in; j++) {
            const nnc_node *q = nnc_storage_of(n->in[j]);
            if (need > keep[q->id]) keep[q->id] = need;
        }
    }

    for (int k = 0; k < M; k++) {
        nnc_node *n = p->order[k];
        nnc_plan_node *pn = &p->pn[n->id];
        if (n->flags & (NNC_NODE_PARAM | NNC_NODE_STATE | NNC_NODE_ELIDED)) continue;
        int bwd_k = 2 * M - k, runs_bwd = p->training && nnc_needs_grad(n) && n->op >= 0;
        uint32_t reads = n->op >= 0 ? nnc_ops[n->op].bwd_reads : 0;
        if ((n->flags & NNC_NODE_RELU_OUT) && !(nnc_ops[n->op].fuses & NNC_FUSES_OWN_MASK))
            reads |= NNC_READS_OUT; /* the fused ReLU's derivative from the output's sign */
        int seeded = p->training && ((n->flags & NNC_NODE_LOSS) || (p->seed_outputs && (n->flags & NNC_NODE_OUTPUT)));
        /* output */
        const int o_index = nb, owner = pn->view_of, member = owner >= 0 && owner != n->id;
        buf *o = &b[nb++];
        o->size = n->flags & NNC_NODE_STATS_ONLY ? 0 : round_up(nnc_tensor_bytes(&n->out)); /* never written */
        o->dst = &pn->out_off;
        o->t0 = k;
        o->t1 = k;
        if (n->flags & (NNC_NODE_INPUT | NNC_NODE_OUTPUT | NNC_NODE_LOSS)) { o->t0 = 0; o->t1 = END; }
        const int remat = (n->flags & NNC_NODE_REMAT) != 0;
        if (!remat && keep[n->id] > o->t1) o->t1 = keep[n->id]; /* read when a concatenation is rebuilt */
        if (runs_bwd && (reads & NNC_READS_OUT) && o->t1 < bwd_k) o->t1 = bwd_k;
        int first_contrib = seeded ? M : END;
        for (int c = k + 1; c < M; c++) {
            nnc_node *cn = p->order[c];
            if (cn->flags & NNC_NODE_ELIDED) continue; /* its consumers read n */
            for (int j = 0; j < cn->n_in; j++) {
                if (nnc_storage_of(cn->in[j]) != n) continue;
                if (o->t1 < c) o->t1 = c;
                int c_bwd = p->training && nnc_needs_grad(cn);
                /* read in cn's backward (not when cn recomputes it, nor when n is rebuilt for it) */
                if (c_bwd && nnc_bwd_read(cn, j) == n && !remat && o->t1 < 2 * M - c) o->t1 = 2 * M - c;
                if (c_bwd && nnc_needs_grad(n) && 2 * M - c < first_contrib) first_contrib = 2 * M - c;
            }
        }
        unplanned += o->size;
        if (remat && rb1[n->id] >= 0) { /* the rebuilt copy, for the backward readers */
            buf *rb = &b[nb++];
            rb->size = o->size;
            rb->dst = &pn->remat_off;
            rb->t0 = rb0[n->id];
            rb->t1 = rb1[n->id];
            unplanned += rb->size;
        }
        /* gradient */
        if (p->training && nnc_needs_grad(n)) {
            buf *gb = &b[nb++];
            nnc_tensor gt = n->out;
            gt.layout = nnc_grad_layout(n);
            gb->size = round_up(nnc_tensor_bytes(&gt));
            gb->dst = &pn->grad_off;
            gb->t0 = first_contrib < END ? first_contrib : M;
            gb->t1 = (n->flags & NNC_NODE_INPUT) || n->op < 0 ? END : bwd_k;
            if (n->flags & NNC_NODE_INPUT) gb->t0 = M;
            unplanned += gb->size;
        }
        if (member) { /* no buffers of its own: its times go to its owner's */
            int *v = &vt[4 * owner];
            for (int i = o_index; i < nb; i++) {
                int *w = i == o_index ? v : v + 2;
                if (b[i].t0 < w[0]) w[0] = b[i].t0;
                if (b[i].t1 > w[1]) w[1] = b[i].t1;
                unplanned -= b[i].size;
            }
            nb = o_index;
        } else if (owner == n->id) {
            const int *v = &vt[4 * owner];
            for (int i = o_index; i < nb; i++) {
                const int *w = i == o_index ? v : v + 2;
                if (w[0] < b[i].t0) b[i].t0 = w[0];
                if (w[1] > b[i].t1) b[i].t1 = w[1];
            }
        }
        if (n->op < 0) continue;
        /* saved data and workspace */
        const nnc_op_desc *d = &nnc_ops[n->op];
        size_t sv = d->saved ? d->saved(n, p->training) : 0;
        if (sv) {
            buf *sb = &b[nb++];
            sb->size = round_up(sv);
            sb->dst = &pn->saved_off;
            sb->t0 = k;
            sb->t1 = runs_bwd ? bwd_k : k;
            unplanned += sb->size;
        }
        size_t w = d->workspace ? d->workspace(n, p->training) : 0;
        if (w > ws) ws = w;
    }
    free(rb0);
    free(rb1);
    free(keep);
    free(vt);
    size_t total = place(b, nb);
    if (total == SIZE_MAX) { free(b); return nnc_error(NNC_ERR_OOM, "compile: out of memory planning memory"); }
    for (int i = 0; i < nb; i++) *b[i].dst = b[i].off;
    free(b);
    for (int k = 0; k < M; k++) { /* windows of in-place concatenations */
        const nnc_node *n = p->order[k];
        nnc_plan_node *pn = &p->pn[n->id];
        if (pn->view_of < 0 || pn->view_of == n->id) continue;
        const nnc_plan_node *po = &p->pn[pn->view_of];
        size_t at = (size_t)pn->view_off * nnc_dtype_size(n->out.dtype);
        pn->out_off = po->out_off + at;
        pn->grad_off = p->training && nnc_needs_grad(n) && po->grad_off != SIZE_MAX ? po->grad_off + at : SIZE_MAX;
    }
    for (int k = 0; k < M; k++) {
        const nnc_node *n = p->order[k];
        if (!(n->flags & NNC_NODE_ELIDED)) continue;
        p->pn[n->id].out_off = p->pn[n->in[0]->id].out_off;
        p->pn[n->id].grad_off = p->pn[n->in[0]->id].grad_off;
    }
    p->arena_bytes = total ? total : ALIGN;
    p->unplanned_bytes = unplanned;
    p->ws_bytes = round_up(ws) + ALIGN;
    return NNC_OK;
}
