/* params.c -- the flat parameter block and the state block.
 *
 * block = [ params | grads | optimizer slot 0 | slot 1 ... ], each region
 * n_param_elems floats with every parameter at the same offset in each, so
 * an optimizer step or a gradient clip is one loop. Offsets are rounded to
 * 16 floats (64 bytes). State (BN running statistics, counters) lives in a
 * separate block of mixed dtypes: saved and loaded, never trained. */
#include "core/graph.h"
#include <math.h>
#include <string.h>

#define ALIGN_F 16

static uint64_t name_hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; s && *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void init_param(const nnc_graph *g, nnc_node *p) {
    float *w = p->out.data;
    int64_t n = nnc_tensor_numel(&p->out);
    uint64_t stream = name_hash(p->name);
    for (int64_t i = 0; i < n; i++) {
        switch (p->init.kind) {
        case NNC_INIT_ZEROS: w[i] = 0; break;
        case NNC_INIT_CONST: w[i] = p->init.a; break;
        case NNC_INIT_UNIFORM:
            w[i] = p->init.a + (p->init.b - p->init.a) * nnc_rand_uniform(g->seed, stream, (uint64_t)i);
            break;
        case NNC_INIT_NORMAL: w[i] = p->init.a + p->init.b * nnc_rand_normal(g->seed, stream, (uint64_t)i); break;
        }
    }
}

static void init_state(nnc_node *s) {
    int64_t n = nnc_tensor_numel(&s->out);
    for (int64_t i = 0; i < n; i++) {
        switch (s->out.dtype) {
        case NNC_F32: ((float *)s->out.data)[i] = (float)s->state_value; break;
        case NNC_F64: ((double *)s->out.data)[i] = s->state_value; break;
        case NNC_I32: ((int32_t *)s->out.data)[i] = (int32_t)s->state_value; break;
        case NNC_I64: ((int64_t *)s->out.data)[i] = (int64_t)s->state_value; break;
        case NNC_U8: ((uint8_t *)s->out.data)[i] = (uint8_t)s->state_value; break;
        }
    }
}

/* Points every parameter's value and gradient into the block. */
static void bind_params(nnc_graph *g) {
    for (int i = 0; i < g->n_params; i++) {
        nnc_node *p = g->params[i];
        p->out.data = g->block + p->block_off;
        p->grad = p->out;
        p->grad.data = g->block + g->n_param_elems + p->block_off;
    }
}

nnc_status nnc_graph_init_params(nnc_graph *g) {
    if (!g) return nnc_error(NNC_ERR_ARG, "nnc_graph_init_params: graph is NULL");
    if (g->err) return nnc_error(g->err, "%s", g->errmsg);
    if (g->params_ready) return NNC_OK;
    int64_t total = 0;
    for (int i = 0; i < g->n_params; i++) {
        g->params[i]->block_off = total;
        int64_t n = nnc_tensor_numel(&g->params[i]->out);
        total += (n + ALIGN_F - 1) / ALIGN_F * ALIGN_F;
    }
    size_t sbytes = 0;
    for (int i = 0; i < g->n_states; i++) {
        g->states[i]->block_off = (int64_t)sbytes;
        sbytes += (nnc_tensor_bytes(&g->states[i]->out) + 63) / 64 * 64;
    }
    int slots = g->has_optim ? g->n_opt_slots : 0;
    g->block = calloc((size_t)(total ? total : 1) * (size_t)(2 + slots), sizeof(float));
    g->state_block = calloc(sbytes ? sbytes : 1, 1);
    if (!g->block || !g->state_block) {
        free(g->block); free(g->state_block);
        g->block = NULL; g->state_block = NULL;
        return nnc_error(NNC_ERR_OOM, "cannot allocate %lld parameters", (long long)total);
    }
    g->n_param_elems = total;
    g->n_opt_slots = slots;
    bind_params(g);
    for (int i = 0; i < g->n_states; i++) g->states[i]->out.data = g->state_block + g->states[i]->block_off;
    g->params_ready = 1;
    return nnc_graph_reset_params(g);
}

nnc_status nnc_graph_reset_params(nnc_graph *g) {
    if (!g || !g->params_ready) return nnc_error(NNC_ERR_STATE, "nnc_graph_reset_params: parameters not allocated");
    for (int i = 0; i < g->n_params; i++) init_param(g, g->params[i]);
    for (int i = 0; i < g->n_states; i++) init_state(g->states[i]);
    memset(g->block + g->n_param_elems, 0, (size_t)g->n_param_elems * (size_t)(1 + g->n_opt_slots) * sizeof(float));
    g->opt_steps = 0;
    g->step = 0;
    return NNC_OK;
}

/* Grows the block to hold `slots` optimizer regions, keeping values. */
nnc_status nnc_params_set_slots(nnc_graph *g, int slots);
nnc_status nnc_params_set_slots(nnc_graph *g, int slots) {
    if (!g->params_ready) { g->n_opt_slots = slots; return NNC_OK; }
    if (slots <= g->n_opt_slots) {
        memset(g->block + 2 * g->n_param_elems, 0, (size_t)g->n_param_elems * (size_t)g->n_opt_slots * sizeof(float));
        return NNC_OK;
    }
    size_t n = (size_t)(g->n_param_elems ? g->n_param_elems : 1) * (size_t)(2 + slots);
    float *b = realloc(g->block, n * sizeof(float));
    if (!b) return nnc_error(NNC_ERR_OOM, "cannot allocate optimizer state");
    g->block = b;
    memset(g->block + 2 * g->n_param_elems, 0, (size_t)g->n_param_elems * (size_t)slots * sizeof(float));
    g->n_opt_slots = slots;
    bind_params(g);
    return NNC_OK;
}
