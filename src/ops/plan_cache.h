/* plan_cache.h -- a node's per-plan kernel objects (oneDNN primitives made
 * for one batch size, mode and thread count) in its kcache: at most
 * NNC_MAX_PLANS, as many plans as the graph keeps, the oldest dropped first.
 * The objects are made at compile time by the op's workspace hook, so a step
 * allocates nothing, and released with the node. */
#ifndef NNC_OPS_PLAN_CACHE_H
#define NNC_OPS_PLAN_CACHE_H
#include "ops/op.h"

typedef struct nnc_plan_cache {
    nnc_kcache base;
    void (*free_entry)(void *e);
    int n;
    void *e[NNC_MAX_PLANS];
} nnc_plan_cache;

/* The node's cache, made on first use (NULL when out of memory, or when the
 * node's kcache is not a plan cache). */
nnc_plan_cache *nnc_plan_cache_get(nnc_node *n, void (*free_entry)(void *e));
/* Adds e (not NULL), freeing the oldest entry when the cache is full. */
void nnc_plan_cache_add(nnc_plan_cache *c, void *e);
#endif
