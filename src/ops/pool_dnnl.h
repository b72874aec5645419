/* pool_dnnl.h -- the oneDNN pooling primitives of a maxpool2d / avgpool2d
 * node: one set per plan (geometry, mode, thread count) in the node's
 * kcache, made by the op's compile-time hooks so that steps allocate
 * nothing. NULL means "take the plain kernels": NNC_DNNL=0, a geometry
 * that does not map exactly onto oneDNN's, or only reference code. */
#ifndef NNC_OPS_POOL_DNNL_H
#define NNC_OPS_POOL_DNNL_H
#include "ops/op.h"
#include "kernels/dnnl_pool.h"
#include "kernels/dnnl_prim.h"
#include <stdlib.h>

typedef struct nnc_pool_cache { nnc_kcache base; int n; nnc_dnnl_pool *e[NNC_MAX_PLANS]; } nnc_pool_cache;

static inline void nnc_pool_cache_release(nnc_kcache *k) {
    nnc_pool_cache *c = (nnc_pool_cache *)k;
    for (int i = 0; i < c->n; i++) nnc_dnnl_pool_free(c->e[i]);
    free(c);
}

static inline nnc_dnnl_pool *nnc_pool_dnnl_for(nnc_node *n, const nnc_pool_geom *g, int max, int training) {
    if (nnc_dnnl_disabled()) return NULL;
    nnc_pool_cache *c = (nnc_pool_cache *)n->kcache;
    for (int i = 0; c && i < c->n; i++)
        if (nnc_dnnl_pool_matches(c->e[i], g, max, training)) return nnc_dnnl_pool_ok(c->e[i]) ? c->e[i] : NULL;
    if (!c) {
        if (!(c = calloc(1, sizeof *c))) return NULL;
        c->base.release = nnc_pool_cache_release;
        n->kcache = &c->base;
    }
    nnc_dnnl_pool *e = nnc_dnnl_pool_new(g, max, training);
    if (!e) return NULL;
    if (c->n == NNC_MAX_PLANS) { /* as many as the graph keeps plans: drop the oldest */
        nnc_dnnl_pool_free(c->e[0]);
        memmove(c->e, c->e + 1, (NNC_MAX_PLANS - 1) * sizeof *c->e);
        c->n--;
    }
    c->e[c->n++] = e;
    return nnc_dnnl_pool_ok(e) ? e : NULL;
}

/* dx is written straight by oneDNN when wanted and overwritten */
static inline int nnc_pool_direct_dx(const nnc_node *n) { return nnc_needs_grad(n->in[0]) && !n->accum[0]; }

/* Workspace of the node's oneDNN passes in a plan (0 for the plain kernels). */
static inline size_t nnc_pool_dnnl_ws(nnc_node *n, int max, int training) {
    nnc_pool_geom g = nnc_pool_geometry(&n->in[0]->out, NNC_ATTRS(n, nnc_pool2d_opts));
    nnc_dnnl_pool *p = nnc_pool_dnnl_for(n, &g, max, training);
    if (!p) return 0;
    size_t f = nnc_dnnl_pool_ws_forward(p), b = training && nnc_needs_grad(n) ? nnc_dnnl_pool_ws_backward(p, nnc_pool_direct_dx(n)) : 0;
    return f > b ? f : b;
}

/* The oneDNN object a pass runs on, or NULL. Forward and backward make the
 * same checks, since max pooling's backward must take forward's path. */
static inline nnc_dnnl_pool *nnc_pool_dnnl_pass(nnc_node *n, const nnc_exec *ex, int max, int backward) {
    nnc_pool_geom g = nnc_pool_geometry(&n->in[0]->out, NNC_ATTRS(n, nnc_pool2d_opts));
    int training = backward || ex->training;
    nnc_dnnl_pool *p = nnc_pool_dnnl_for(n, &g, max, training);
    if (!p) return NULL;
    if (nnc_dnnl_pool_ws_forward(p) > ex->ws_bytes) return NULL;
    if (training && nnc_needs_grad(n) && nnc_dnnl_pool_ws_backward(p, nnc_pool_direct_dx(n)) > ex->ws_bytes) return NULL;
    return p;
}
#endif
