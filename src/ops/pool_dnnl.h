/* pool_dnnl.h -- the oneDNN pooling primitives of a maxpool2d / avgpool2d
 * node: one set per plan (geometry, mode, thread count) in the node's
 * kcache, made by the op's compile-time hooks so that steps allocate
 * nothing. NULL means "take the plain kernels": NNC_DNNL=0, a geometry
 * that does not map exactly onto oneDNN's, or only reference code. */
#ifndef NNC_OPS_POOL_DNNL_H
#define NNC_OPS_POOL_DNNL_H
#include "ops/op.h"
#include "ops/plan_cache.h"
#include "kernels/dnnl_pool.h"
#include "kernels/dnnl_prim.h"
#include <stdlib.h>

static inline void nnc_pool_free_entry(void *e) { nnc_dnnl_pool_free(e); }

static inline nnc_dnnl_pool *nnc_pool_dnnl_for(nnc_node *n, const nnc_pool_geom *g, int max, int training) {
    if (nnc_dnnl_disabled()) return NULL;
    nnc_plan_cache *c = nnc_plan_cache_get(n, nnc_pool_free_entry);
    if (!c) return NULL;
    for (int i = 0; i < c->n; i++)
        if (nnc_dnnl_pool_matches(c->e[i], g, max, training)) return nnc_dnnl_pool_ok(c->e[i]) ? c->e[i] : NULL;
    nnc_dnnl_pool *e = nnc_dnnl_pool_new(g, max, training);
    if (!e) return NULL;
    nnc_plan_cache_add(c, e);
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
