/* optim.c -- optimizers over the flat parameter block.
 *
 * SGD (PyTorch's form): g' = g + wd w;  v = mu v + (1 - dampening) g'
 *   (v = g' on the first step);  w -= lr (nesterov ? g' + mu v : v).
 * Adam: g' = g + wd w;  m = b1 m + (1-b1) g';  v = b2 v + (1-b2) g'^2;
 *   w -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps).
 * Each is one loop over the block when nothing is frozen; frozen
 * parameters are skipped segment by segment. */
#include "core/graph.h"
#include <math.h>
#include <string.h>

nnc_status nnc_params_set_slots(nnc_graph *g, int slots);

nnc_optim nnc_optim_sgd(float lr, float momentum, float weight_decay) {
    nnc_optim o = {0};
    o.kind = NNC_OPTIM_SGD;
    o.lr = lr;
    o.momentum = momentum;
    o.weight_decay = weight_decay;
    return o;
}

nnc_optim nnc_optim_adam(float lr, float weight_decay) {
    nnc_optim o = {0};
    o.kind = NNC_OPTIM_ADAM;
    o.lr = lr;
    o.beta1 = 0.9f;
    o.beta2 = 0.999f;
    o.eps = 1e-8f;
    o.weight_decay = weight_decay;
    return o;
}

static int finite_nonneg(float v) { return isfinite(v) && v >= 0; }

nnc_status nnc_graph_set_optimizer(nnc_graph *g, const nnc_optim *o) {
    if (!g || !o) return nnc_error(NNC_ERR_ARG, "nnc_graph_set_optimizer: NULL argument");
    if (!(isfinite(o->lr) && o->lr > 0)) return nnc_error(NNC_ERR_ARG, "optimizer: learning rate %g must be positive and finite", (double)o->lr);
    if (!finite_nonneg(o->weight_decay)) return nnc_error(NNC_ERR_ARG, "optimizer: weight decay %g must be >= 0 and finite", (double)o->weight_decay);
    int slots = 0;
    switch (o->kind) {
    case NNC_OPTIM_SGD:
        if (!finite_nonneg(o->momentum) || o->momentum >= 1) return nnc_error(NNC_ERR_ARG, "SGD: momentum %g must be in [0, 1)", (double)o->momentum);
        if (!finite_nonneg(o->dampening) || o->dampening > 1) return nnc_error(NNC_ERR_ARG, "SGD: dampening %g must be in [0, 1]", (double)o->dampening);
        if (o->nesterov && (o->momentum <= 0 || o->dampening != 0)) return nnc_error(NNC_ERR_ARG, "SGD: Nesterov needs momentum > 0 and no dampening");
        slots = o->momentum > 0 ? 1 : 0;
        break;
    case NNC_OPTIM_ADAM:
        if (!finite_nonneg(o->beta1) || o->beta1 >= 1 || !finite_nonneg(o->beta2) || o->beta2 >= 1)
            return nnc_error(NNC_ERR_ARG, "Adam: betas (%g, %g) must be in [0, 1)", (double)o->beta1, (double)o->beta2);
        if (!(isfinite(o->eps) && o->eps > 0)) return nnc_error(NNC_ERR_ARG, "Adam: eps %g must be positive", (double)o->eps);
        slots = 2;
        break;
    default: return nnc_error(NNC_ERR_ARG, "optimizer: unknown kind %d", (int)o->kind);
    }
    nnc_status s = nnc_params_set_slots(g, slots);
    if (s) return s;
    g->optim = *o;
    g->has_optim = 1;
    g->opt_steps = 0;
    return NNC_OK;
}

void nnc_graph_set_lr(nnc_graph *g, float lr) {
    if (g && isfinite(lr) && lr > 0) g->optim.lr = lr;
}

static void sgd(const nnc_optim *o, float *w, const float *gr, float *v, int64_t n, int first) {
    const float lr = o->lr, wd = o->weight_decay, mu = o->momentum, damp = 1.0f - o->dampening;
    /* one branch-free loop per case, so each vectorizes */
    if (!v) {
#pragma omp parallel for simd schedule(static) if (n > 262144)
        for (int64_t i = 0; i < n; i++) w[i] -= lr * (gr[i] + wd * w[i]);
    } else if (first) { /* PyTorch starts the buffer at the first gradient */
#pragma omp parallel for simd schedule(static) if (n > 262144)
        for (int64_t i = 0; i < n; i++) {
            float gi = gr[i] + wd * w[i];
            v[i] = gi;
            w[i] -= lr * (o->nesterov ? gi + mu * gi : gi);
        }
    } else if (o->nesterov) {
#pragma omp parallel for simd schedule(static) if (n > 262144)
        for (int64_t i = 0; i < n; i++) {
            float gi = gr[i] + wd * w[i], vi = mu * v[i] + damp * gi;
            v[i] = vi;
            w[i] -= lr * (gi + mu * vi);
        }
    } else {
#pragma omp parallel for simd schedule(static) if (n > 262144)
        for (int64_t i = 0; i < n; i++) {
            float vi = mu * v[i] + damp * (gr[i] + wd * w[i]);
            v[i] = vi;
            w[i] -= lr * vi;
        }
    }
}

static void adam(const nnc_optim *o, float *w, const float *gr, float *m, float *v, int64_t n, int64_t t) {
    const float lr = o->lr, wd = o->weight_decay, b1 = o->beta1, b2 = o->beta2, eps = o->eps;
    const float c1 = 1.0f / (1.0f - powf(b1, (float)t)), c2 = 1.0f / (1.0f - powf(b2, (float)t));
#pragma omp parallel for simd schedule(static) if (n > 262144)
    for (int64_t i = 0; i < n; i++) {
        float gi = gr[i] + wd * w[i];
        float mi = b1 * m[i] + (1 - b1) * gi, vi = b2 * v[i] + (1 - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] -= lr * (mi * c1) / (sqrtf(vi * c2) + eps);
    }
}

static void update_range(nnc_graph *g, int64_t off, int64_t n) {
    int64_t P = g->n_param_elems;
    float *w = g->block + off, *gr = g->block + P + off;
    float *s0 = g->n_opt_slots > 0 ? g->block + 2 * P + off : NULL;
    float *s1 = g->n_opt_slots > 1 ? g->block + 3 * P + off : NULL;
    if (g->optim.kind == NNC_OPTIM_SGD) sgd(&g->optim, w, gr, g->optim.momentum > 0 ? s0 : NULL, n, g->opt_steps == 1);
    else adam(&g->optim, w, gr, s0, s1, n, g->opt_steps);
}

nnc_status nnc_optim_update(nnc_graph *g) {
    g->opt_steps++;
    int any_frozen = 0;
    for (int i = 0; i < g->n_params; i++) any_frozen |= (g->params[i]->flags & NNC_NODE_FROZEN) != 0;
    if (!any_frozen) { update_range(g, 0, g->n_param_elems); return NNC_OK; }
    for (int i = 0; i < g->n_params; i++) {
        nnc_node *p = g->params[i];
        if (!(p->flags & NNC_NODE_FROZEN)) update_range(g, p->block_off, nnc_tensor_numel(&p->out));
    }
    return NNC_OK;
}
