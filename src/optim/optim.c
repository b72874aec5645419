/* optim.c -- optimizers over the flat parameter block.
 *
 * g' = g + wd w (+ l1 sign(w)) is the regularized gradient of every rule
 * below except AdamW's decay, which is decoupled as in PyTorch's AdamW.
 * SGD (PyTorch's form, default): v = mu v + (1 - dampening) g'
 *   (v = g' on the first step);  w -= lr (nesterov ? g' + mu v : v).
 * SGD (AlexNet's form, Krizhevsky et al. 2012): v = mu v - lr g';  w += v.
 *   The buffer holds lr, so the two forms agree at a constant rate and
 *   differ after it changes (PyTorch's applies the new rate to the whole
 *   buffer at once, AlexNet's only to new gradients). No dampening/Nesterov.
 * Adam: m = b1 m + (1-b1) g';  v = b2 v + (1-b2) g'^2;
 *   w -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps).
 * AdamW (PyTorch): w -= lr wd w, then Adam with g' = g (+ l1 sign(w)).
 * RMSProp (PyTorch): s = alpha s + (1-alpha) g'^2; centered: a = alpha a +
 *   (1-alpha) g', d = sqrt(s - a^2) + eps, else d = sqrt(s) + eps;
 *   momentum: b = mu b + g'/d, w -= lr b; else w -= lr g'/d.
 * Adagrad (PyTorch): s += g'^2 (s starts at initial_accumulator);
 *   w -= lr / (1 + (t-1) lr_decay) * g' / (sqrt(s) + eps).
 * Slots: SGD momentum 1; Adam/AdamW 2 (m, v); RMSProp 1 + momentum + centered
 * (s, b, a); Adagrad 1 (s).
 *
 * Regularization in the update, in this order:
 *   1. clip_value: g clamped to [-c, c]; 2. clip_norm: g *= c / (norm + 1e-6)
 *   when the global L2 norm over all trainable parameters exceeds c
 *   (PyTorch's clip_grad_norm_; the norm is summed in double in fixed
 *   4096-element chunks, then over chunks in order: deterministic);
 *   3. the optimizer step with weight decay and l1 (skipped for biases and
 *   1-D parameters when no_decay_bias_norm);
 *   4. max_norm: rows of parameters with >= 2 dims rescaled by
 *   c / (norm + 1e-7) where norm > c (torch.renorm's rule).
 * Clipping modifies the gradient region in place. The common case (nothing
 * frozen, decay everywhere) is one loop over the whole block; otherwise the
 * block is walked parameter by parameter. */
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

nnc_optim nnc_optim_adamw(float lr, float weight_decay) {
    nnc_optim o = nnc_optim_adam(lr, weight_decay);
    o.kind = NNC_OPTIM_ADAMW;
    return o;
}

nnc_optim nnc_optim_rmsprop(float lr, float momentum, float weight_decay) {
    nnc_optim o = {0};
    o.kind = NNC_OPTIM_RMSPROP;
    o.lr = lr;
    o.momentum = momentum;
    o.alpha = 0.99f;
    o.eps = 1e-8f;
    o.weight_decay = weight_decay;
    return o;
}

nnc_optim nnc_optim_adagrad(float lr, float weight_decay) {
    nnc_optim o = {0};
    o.kind = NNC_OPTIM_ADAGRAD;
    o.lr = lr;
    o.eps = 1e-10f;
    o.weight_decay = weight_decay;
    return o;
}

static int finite_nonneg(float v) { return isfinite(v) && v >= 0; }

static int rmsprop_slots(const nnc_optim *o) { return 1 + (o->momentum > 0) + (o->centered != 0); }

nnc_status nnc_graph_set_optimizer(nnc_graph *g, const nnc_optim *o) {
    if (!g || !o) return nnc_error(NNC_ERR_ARG, "nnc_graph_set_optimizer: NULL argument");
    if (!(isfinite(o->lr) && o->lr > 0)) return nnc_error(NNC_ERR_ARG, "optimizer: learning rate %g must be positive and finite", (double)o->lr);
    if (!finite_nonneg(o->weight_decay)) return nnc_error(NNC_ERR_ARG, "optimizer: weight decay %g must be >= 0 and finite", (double)o->weight_decay);
    if (!finite_nonneg(o->l1)) return nnc_error(NNC_ERR_ARG, "optimizer: l1 %g must be >= 0 and finite", (double)o->l1);
    if (!finite_nonneg(o->clip_value)) return nnc_error(NNC_ERR_ARG, "optimizer: clip value %g must be >= 0 and finite (0: off)", (double)o->clip_value);
    if (!finite_nonneg(o->clip_norm)) return nnc_error(NNC_ERR_ARG, "optimizer: clip norm %g must be >= 0 and finite (0: off)", (double)o->clip_norm);
    if (!finite_nonneg(o->max_norm)) return nnc_error(NNC_ERR_ARG, "optimizer: max norm %g must be >= 0 and finite (0: off)", (double)o->max_norm);
    int slots = 0;
    switch (o->kind) {
    case NNC_OPTIM_SGD:
        if (!finite_nonneg(o->momentum) || o->momentum >= 1) return nnc_error(NNC_ERR_ARG, "SGD: momentum %g must be in [0, 1)", (double)o->momentum);
        if (!finite_nonneg(o->dampening) || o->dampening > 1) return nnc_error(NNC_ERR_ARG, "SGD: dampening %g must be in [0, 1]", (double)o->dampening);
        if (o->momentum_form != NNC_MOMENTUM_PYTORCH && o->momentum_form != NNC_MOMENTUM_ALEXNET)
            return nnc_error(NNC_ERR_ARG, "SGD: unknown momentum form %d", (int)o->momentum_form);
        if (o->momentum_form == NNC_MOMENTUM_ALEXNET && (o->nesterov || o->dampening != 0))
            return nnc_error(NNC_ERR_ARG, "SGD: the AlexNet momentum form has no Nesterov or dampening variant");
        if (o->nesterov && (o->momentum <= 0 || o->dampening != 0)) return nnc_error(NNC_ERR_ARG, "SGD: Nesterov needs momentum > 0 and no dampening");
        slots = o->momentum > 0 ? 1 : 0;
        break;
    case NNC_OPTIM_ADAM:
    case NNC_OPTIM_ADAMW:
        if (!finite_nonneg(o->beta1) || o->beta1 >= 1 || !finite_nonneg(o->beta2) || o->beta2 >= 1)
            return nnc_error(NNC_ERR_ARG, "Adam: betas (%g, %g) must be in [0, 1)", (double)o->beta1, (double)o->beta2);
        if (!(isfinite(o->eps) && o->eps > 0)) return nnc_error(NNC_ERR_ARG, "Adam: eps %g must be positive", (double)o->eps);
        slots = 2;
        break;
    case NNC_OPTIM_RMSPROP:
        if (!finite_nonneg(o->momentum) || o->momentum >= 1) return nnc_error(NNC_ERR_ARG, "RMSProp: momentum %g must be in [0, 1)", (double)o->momentum);
        if (!finite_nonneg(o->alpha) || o->alpha >= 1) return nnc_error(NNC_ERR_ARG, "RMSProp: alpha %g must be in [0, 1)", (double)o->alpha);
        if (!(isfinite(o->eps) && o->eps > 0)) return nnc_error(NNC_ERR_ARG, "RMSProp: eps %g must be positive", (double)o->eps);
        slots = rmsprop_slots(o);
        break;
    case NNC_OPTIM_ADAGRAD:
        if (!finite_nonneg(o->lr_decay)) return nnc_error(NNC_ERR_ARG, "Adagrad: lr_decay %g must be >= 0", (double)o->lr_decay);
        if (!finite_nonneg(o->initial_accumulator)) return nnc_error(NNC_ERR_ARG, "Adagrad: initial accumulator %g must be >= 0", (double)o->initial_accumulator);
        if (!(isfinite(o->eps) && o->eps > 0)) return nnc_error(NNC_ERR_ARG, "Adagrad: eps %g must be positive", (double)o->eps);
        slots = 1;
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

#define PAR_FOR _Pragma("omp parallel for simd schedule(static) if (parallel: n > 262144)")

static void sgd(const nnc_optim *o, float wd, float *w, const float *gr, float *v, int64_t n, int first) {
    const float lr = o->lr, mu = o->momentum, damp = 1.0f - o->dampening;
    /* one branch-free loop per case, so each vectorizes */
    if (!v) {
        PAR_FOR
        for (int64_t i = 0; i < n; i++) w[i] -= lr * (gr[i] + wd * w[i]);
    } else if (o->momentum_form == NNC_MOMENTUM_ALEXNET) {
        PAR_FOR
        for (int64_t i = 0; i < n; i++) {
            float vi = mu * v[i] - lr * (gr[i] + wd * w[i]);
            v[i] = vi;
            w[i] += vi;
        }
    } else if (first) { /* PyTorch starts the buffer at the first gradient */
        const float f = o->nesterov ? 1 + mu : 1;
        PAR_FOR
        for (int64_t i = 0; i < n; i++) {
            float gi = gr[i] + wd * w[i];
            v[i] = gi;
            w[i] -= lr * f * gi;
        }
    } else if (o->nesterov) {
        PAR_FOR
        for (int64_t i = 0; i < n; i++) {
            float gi = gr[i] + wd * w[i], vi = mu * v[i] + damp * gi;
            v[i] = vi;
            w[i] -= lr * (gi + mu * vi);
        }
    } else {
        PAR_FOR
        for (int64_t i = 0; i < n; i++) {
            float vi = mu * v[i] + damp * (gr[i] + wd * w[i]);
            v[i] = vi;
            w[i] -= lr * vi;
        }
    }
}

static void adam(const nnc_optim *o, float wd, float *w, const float *gr, float *m, float *v, int64_t n, int64_t t) {
    const float lr = o->lr, b1 = o->beta1, b2 = o->beta2, eps = o->eps;
    const float c1 = 1.0f / (1.0f - powf(b1, (float)t)), c2 = 1.0f / (1.0f - powf(b2, (float)t));
    /* AdamW: decoupled decay w *= 1 - lr wd before the step; Adam: L2 in g' */
    const float l2 = o->kind == NNC_OPTIM_ADAMW ? 0 : wd, shrink = o->kind == NNC_OPTIM_ADAMW ? 1 - lr * wd : 1;
    PAR_FOR
    for (int64_t i = 0; i < n; i++) {
        float gi = gr[i] + l2 * w[i];
        float mi = b1 * m[i] + (1 - b1) * gi, vi = b2 * v[i] + (1 - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] = w[i] * shrink - lr * (mi * c1) / (sqrtf(vi * c2) + eps);
    }
}

static void rmsprop(const nnc_optim *o, float wd, float *w, const float *gr, float *sq, float *buf, float *ga, int64_t n) {
    const float lr = o->lr, al = o->alpha, eps = o->eps, mu = o->momentum;
    if (ga && buf) {
        PAR_FOR
        for (int64_t i = 0; i < n; i++) {
            float gi = gr[i] + wd * w[i], si = al * sq[i] + (1 - al) * gi * gi, ai = al * ga[i] + (1 - al) * gi;
            float bi = mu * buf[i] + gi / (sqrtf(si - ai * ai) + eps);
            sq[i] = si; ga[i] = ai; buf[i] = bi;
            w[i] -= lr * bi;
        }
    } else if (ga) {
        PAR_FOR
        for (int64_t i = 0; i < n; i++) {
            float gi = gr[i] + wd * w[i], si = al * sq[i] + (1 - al) * gi * gi, ai = al * ga[i] + (1 - al) * gi;
            sq[i] = si; ga[i] = ai;
            w[i] -= lr * gi / (sqrtf(si - ai * ai) + eps);
        }
    } else if (buf) {
        PAR_FOR
        for (int64_t i = 0; i < n; i++) {
            float gi = gr[i] + wd * w[i], si = al * sq[i] + (1 - al) * gi * gi;
            float bi = mu * buf[i] + gi / (sqrtf(si) + eps);
            sq[i] = si; buf[i] = bi;
            w[i] -= lr * bi;
        }
    } else {
        PAR_FOR
        for (int64_t i = 0; i < n; i++) {
            float gi = gr[i] + wd * w[i], si = al * sq[i] + (1 - al) * gi * gi;
            sq[i] = si;
            w[i] -= lr * gi / (sqrtf(si) + eps);
        }
    }
}

static void adagrad(const nnc_optim *o, float wd, float *w, const float *gr, float *s, int64_t n, int64_t t) {
    const float clr = o->lr / (1 + (float)(t - 1) * o->lr_decay), eps = o->eps;
    /* the accumulator starts at initial_accumulator on the first step */
    const float keep = t == 1 ? 0.0f : 1.0f, add = t == 1 ? o->initial_accumulator : 0.0f;
    PAR_FOR
    for (int64_t i = 0; i < n; i++) {
        float gi = gr[i] + wd * w[i], si = keep * s[i] + add + gi * gi;
        s[i] = si;
        w[i] -= clr * gi / (sqrtf(si) + eps);
    }
}

static void update_range(nnc_graph *g, int64_t off, int64_t n, int decay) {
    int64_t P = g->n_param_elems;
    const nnc_optim *o = &g->optim;
    float *w = g->block + off, *gr = g->block + P + off;
    float *s[3] = {NULL, NULL, NULL};
    for (int k = 0; k < g->n_opt_slots && k < 3; k++) s[k] = g->block + (2 + k) * P + off;
    const float wd = decay ? o->weight_decay : 0, l1 = decay ? o->l1 : 0;
    if (l1 > 0) {
        PAR_FOR
        for (int64_t i = 0; i < n; i++) gr[i] += l1 * (float)((w[i] > 0) - (w[i] < 0));
    }
    switch (o->kind) {
    case NNC_OPTIM_SGD: sgd(o, wd, w, gr, o->momentum > 0 ? s[0] : NULL, n, g->opt_steps == 1); break;
    case NNC_OPTIM_ADAM:
    case NNC_OPTIM_ADAMW: adam(o, wd, w, gr, s[0], s[1], n, g->opt_steps); break;
    case NNC_OPTIM_RMSPROP: {
        float *buf = o->momentum > 0 ? s[1] : NULL, *ga = o->centered ? s[o->momentum > 0 ? 2 : 1] : NULL;
        rmsprop(o, wd, w, gr, s[0], buf, ga, n);
        break;
    }
    case NNC_OPTIM_ADAGRAD: adagrad(o, wd, w, gr, s[0], n, g->opt_steps); break;
    }
}

static int is_bias_or_norm(const nnc_node *p) {
    const char *nm = p->name ? p->name : "";
    size_t L = strlen(nm);
    return p->out.ndim <= 1 || !strcmp(nm, "bias") || (L >= 5 && !strcmp(nm + L - 5, ".bias"));
}

#define CHUNK 4096

/* Sum of squares of x[0..n) in double: fixed chunks, summed in order. */
static double sumsq(const float *x, int64_t n) {
    int64_t nc = (n + CHUNK - 1) / CHUNK;
    double tot = 0;
    if (nc <= 64) {
        for (int64_t c = 0; c < nc; c++) {
            double s = 0;
            int64_t e = (c + 1) * CHUNK < n ? (c + 1) * CHUNK : n;
            for (int64_t i = c * CHUNK; i < e; i++) s += (double)x[i] * x[i];
            tot += s;
        }
        return tot;
    }
    /* chunks in parallel into a fixed-size partial array, then in order */
    for (int64_t base = 0; base < nc; base += 256) {
        double part[256];
        int64_t m = nc - base < 256 ? nc - base : 256;
#pragma omp parallel for schedule(static)
        for (int64_t c = 0; c < m; c++) {
            double s = 0;
            int64_t b = (base + c) * CHUNK, e = b + CHUNK < n ? b + CHUNK : n;
            for (int64_t i = b; i < e; i++) s += (double)x[i] * x[i];
            part[c] = s;
        }
        for (int64_t c = 0; c < m; c++) tot += part[c];
    }
    return tot;
}

static void clip_value(float *gr, int64_t n, float c) {
    PAR_FOR
    for (int64_t i = 0; i < n; i++) gr[i] = fminf(fmaxf(gr[i], -c), c);
}

static void scale(float *x, int64_t n, float f) {
    PAR_FOR
    for (int64_t i = 0; i < n; i++) x[i] *= f;
}

static void max_norm(nnc_node *p, float c) {
    int64_t rows = p->out.shape[0], n = nnc_tensor_numel(&p->out);
    if (rows <= 0) return;
    int64_t len = n / rows;
    float *w = p->out.data;
#pragma omp parallel for schedule(static) if (n > 262144)
    for (int64_t r = 0; r < rows; r++) {
        double s = 0;
        for (int64_t i = 0; i < len; i++) s += (double)w[r * len + i] * w[r * len + i];
        double nrm = sqrt(s);
        if (nrm > c) {
            float f = (float)(c / (nrm + 1e-7));
            for (int64_t i = 0; i < len; i++) w[r * len + i] *= f;
        }
    }
}

nnc_status nnc_optim_update(nnc_graph *g) {
    g->opt_steps++;
    const nnc_optim *o = &g->optim;
    const int64_t P = g->n_param_elems;
    float *grads = g->block + P;
    int any_frozen = 0;
    for (int i = 0; i < g->n_params; i++) any_frozen |= (g->params[i]->flags & NNC_NODE_FROZEN) != 0;
    /* 1-2: clipping over the trainable gradients */
    if (o->clip_value > 0 || o->clip_norm > 0) {
        if (!any_frozen) {
            if (o->clip_value > 0) clip_value(grads, P, o->clip_value);
            if (o->clip_norm > 0) {
                double nrm = sqrt(sumsq(grads, P));
                if (nrm > o->clip_norm) scale(grads, P, (float)(o->clip_norm / (nrm + 1e-6)));
            }
        } else {
            double ss = 0;
            for (int i = 0; i < g->n_params; i++) {
                nnc_node *p = g->params[i];
                if (p->flags & NNC_NODE_FROZEN) continue;
                int64_t n = nnc_tensor_numel(&p->out);
                if (o->clip_value > 0) clip_value(grads + p->block_off, n, o->clip_value);
                if (o->clip_norm > 0) ss += sumsq(grads + p->block_off, n);
            }
            double nrm = sqrt(ss);
            if (o->clip_norm > 0 && nrm > o->clip_norm)
                for (int i = 0; i < g->n_params; i++) {
                    nnc_node *p = g->params[i];
                    if (!(p->flags & NNC_NODE_FROZEN)) scale(grads + p->block_off, nnc_tensor_numel(&p->out), (float)(o->clip_norm / (nrm + 1e-6)));
                }
        }
    }
    /* 3: the step */
    if (!any_frozen && !o->no_decay_bias_norm) {
        update_range(g, 0, P, 1);
    } else {
        for (int i = 0; i < g->n_params; i++) {
            nnc_node *p = g->params[i];
            if (p->flags & NNC_NODE_FROZEN) continue;
            update_range(g, p->block_off, nnc_tensor_numel(&p->out), !(o->no_decay_bias_norm && is_bias_or_norm(p)));
        }
    }
    /* 4: max-norm constraint */
    if (o->max_norm > 0)
        for (int i = 0; i < g->n_params; i++) {
            nnc_node *p = g->params[i];
            if (!(p->flags & NNC_NODE_FROZEN) && p->out.ndim >= 2) max_norm(p, o->max_norm);
        }
    return NNC_OK;
}

int nnc_graph_freeze(nnc_graph *g, const char *prefix) {
    if (!g || !prefix) return 0;
    size_t L = strlen(prefix);
    int k = 0;
    for (int i = 0; i < g->n_params; i++) {
        nnc_node *p = g->params[i];
        if (p->name && !strncmp(p->name, prefix, L)) {
            nnc_param_freeze(p, 1);
            k++;
        }
    }
    return k;
}

/* ---------------------------------------------------------------- schedules */
nnc_status nnc_schedule_check(const nnc_schedule *s) {
    if (!s) return nnc_error(NNC_ERR_ARG, "schedule: NULL");
    if (s->warmup < 0) return nnc_error(NNC_ERR_ARG, "schedule: warm-up %d epochs must be >= 0", s->warmup);
    switch (s->kind) {
    case NNC_SCHED_NONE: return NNC_OK;
    case NNC_SCHED_STEP:
        if (s->step_size < 1) return nnc_error(NNC_ERR_ARG, "step schedule: step size %d must be >= 1", s->step_size);
        /* fall through */
    case NNC_SCHED_MULTISTEP:
    case NNC_SCHED_EXP:
        if (!(isfinite(s->gamma) && s->gamma > 0)) return nnc_error(NNC_ERR_ARG, "schedule: gamma %g must be positive", (double)s->gamma);
        return NNC_OK;
    case NNC_SCHED_POLY:
        if (!(isfinite(s->power) && s->power >= 0)) return nnc_error(NNC_ERR_ARG, "poly schedule: power %g must be >= 0", (double)s->power);
        /* fall through */
    case NNC_SCHED_COSINE:
        if (s->total_epochs <= s->warmup)
            return nnc_error(NNC_ERR_ARG, "schedule: total epochs %d must exceed the %d warm-up epochs", s->total_epochs, s->warmup);
        if (!(isfinite(s->min_lr) && s->min_lr >= 0)) return nnc_error(NNC_ERR_ARG, "cosine schedule: min lr %g must be >= 0", (double)s->min_lr);
        return NNC_OK;
    }
    return nnc_error(NNC_ERR_ARG, "schedule: unknown kind %d", (int)s->kind);
}

float nnc_lr_at(const nnc_schedule *s, float base_lr, int epoch) {
    if (!s || epoch < 0) return base_lr;
    double b = base_lr;
    if (epoch < s->warmup) return (float)(b * (epoch + 1) / s->warmup);
    int k = epoch - s->warmup;
    double T = s->total_epochs - s->warmup, lr = b;
    switch (s->kind) {
    case NNC_SCHED_NONE: break;
    case NNC_SCHED_STEP: lr = b * pow(s->gamma, k / (s->step_size > 0 ? s->step_size : 1)); break;
    case NNC_SCHED_MULTISTEP: {
        int c = 0;
        for (int i = 0; i < 8 && s->milestones[i] > 0; i++) c += k + 1 >= s->milestones[i];
        lr = b * pow(s->gamma, c);
        break;
    }
    case NNC_SCHED_EXP: lr = b * pow(s->gamma, k); break;
    case NNC_SCHED_POLY: lr = T > 0 ? b * pow(1 - fmin(k, T) / T, s->power) : b; break;
    case NNC_SCHED_COSINE:
        lr = T > 0 ? s->min_lr + (b - s->min_lr) * (1 + cos(3.14159265358979323846 * fmin(k, T) / T)) / 2 : b;
        break;
    }
    return (float)lr;
}
