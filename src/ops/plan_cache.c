/* plan_cache.c -- a node's per-plan kernel objects (see plan_cache.h). */
#include "ops/plan_cache.h"
#include <stdlib.h>

static void release(nnc_kcache *k) {
    nnc_plan_cache *c = (nnc_plan_cache *)k;
    for (int i = 0; i < c->n; i++) c->free_entry(c->e[i]);
    free(c);
}

nnc_plan_cache *nnc_plan_cache_get(nnc_node *n, void (*free_entry)(void *e)) {
    nnc_plan_cache *c = (nnc_plan_cache *)n->kcache;
    if (c) return c->base.release == release && c->free_entry == free_entry ? c : NULL;
    if (!(c = calloc(1, sizeof *c))) return NULL;
    c->base.release = release;
    c->free_entry = free_entry;
    n->kcache = &c->base;
    return c;
}

void nnc_plan_cache_add(nnc_plan_cache *c, void *e) {
    if (c->n == NNC_MAX_PLANS) {
        c->free_entry(c->e[0]);
        memmove(c->e, c->e + 1, (NNC_MAX_PLANS - 1) * sizeof *c->e);
        c->n--;
    }
    c->e[c->n++] = e;
}
