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

/* PyTorch's _calculate_fan_in_and_fan_out; a 1-D (or 0-D) parameter uses
 * its length for both (PyTorch refuses those). */
static void fans(const nnc_tensor *t, double *fan_in, double *fan_out) {
    if (t->ndim < 2) { *fan_in = *fan_out = (double)nnc_tensor_numel(t); return; }
    double rf = 1;
    for (int d = 2; d < t->ndim; d++) rf *= (double)t->shape[d];
    *fan_in = (double)t->shape[1] * rf;
    *fan_out = (double)t->shape[0] * rf;
}

/* PyTorch's orthogonal_: Q of the QR of a normal [rows, cols] matrix (its
 * transpose when rows < cols), columns signed by diag(R), times gain.
 * Modified Gram-Schmidt in double; allocates (init time only). */
static int init_orthogonal(const nnc_graph *g, nnc_node *p, uint64_t stream, double gain) {
    int64_t n = nnc_tensor_numel(&p->out);
    if (n == 0) return 1;
    int64_t rows = p->out.ndim >= 1 ? p->out.shape[0] : 1, cols = rows ? n / rows : 0;
    int tr = rows < cols;
    int64_t M = tr ? cols : rows, K = tr ? rows : cols; /* A is M x K, M >= K */
    double *a = malloc((size_t)(M * K) * sizeof(double));
    if (!a) return 0;
    /* flat normal matrix [rows, cols] row-major; A = it or its transpose */
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) {
            double v = nnc_rand_normal(g->seed, stream, (uint64_t)(r * cols + c));
            if (tr) a[c * K + r] = v; else a[r * K + c] = v;
        }
    for (int64_t j = 0; j < K; j++) {
        for (int64_t k = 0; k < j; k++) {
            double d = 0;
            for (int64_t i = 0; i < M; i++) d += a[i * K + k] * a[i * K + j];
            for (int64_t i = 0; i < M; i++) a[i * K + j] -= d * a[i * K + k];
        }
        double nr = 0;
        for (int64_t i = 0; i < M; i++) nr += a[i * K + j] * a[i * K + j];
        nr = sqrt(nr); /* = R[j][j] > 0, so the sign fix of PyTorch is a no-op */
        for (int64_t i = 0; i < M; i++) a[i * K + j] = nr > 0 ? a[i * K + j] / nr : 0;
    }
    float *w = p->out.data;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) w[r * cols + c] = (float)(gain * (tr ? a[c * K + r] : a[r * K + c]));
    free(a);
    return 1;
}

static void init_param(const nnc_graph *g, nnc_node *p) {
    float *w = p->out.data;
    int64_t n = nnc_tensor_numel(&p->out);
    uint64_t stream = name_hash(p->name);
    const nnc_init in = p->init;
    double fi, fo;
    fans(&p->out, &fi, &fo);
    double gain = in.a != 0 ? in.a : 1;
    double kgain = sqrt(2.0 / (1.0 + (double)in.a * in.a)), fan = in.b == NNC_FAN_OUT ? fo : fi;
    double lo = 0, hi = 0, mean = 0, std = 0;
    int uniform = 0;
    switch (in.kind) {
    case NNC_INIT_ZEROS: for (int64_t i = 0; i < n; i++) w[i] = 0; return;
    case NNC_INIT_CONST: for (int64_t i = 0; i < n; i++) w[i] = in.a; return;
    case NNC_INIT_UNIFORM: uniform = 1; lo = in.a; hi = in.b; break;
    case NNC_INIT_NORMAL: mean = in.a; std = in.b; break;
    case NNC_INIT_XAVIER_UNIFORM: uniform = 1; hi = gain * sqrt(6.0 / (fi + fo)); lo = -hi; break;
    case NNC_INIT_XAVIER_NORMAL: std = gain * sqrt(2.0 / (fi + fo)); break;
    case NNC_INIT_KAIMING_UNIFORM: uniform = 1; hi = kgain * sqrt(3.0 / fan); lo = -hi; break;
    case NNC_INIT_KAIMING_NORMAL: std = kgain / sqrt(fan); break;
    case NNC_INIT_LECUN_NORMAL: std = 1 / sqrt(fi); break;
    case NNC_INIT_ORTHOGONAL:
        if (init_orthogonal(g, p, stream, gain)) return;
        std = 1 / sqrt(fi); /* out of memory: LeCun normal rather than garbage */
        break;
    }
    if (uniform)
        for (int64_t i = 0; i < n; i++) w[i] = (float)(lo + (hi - lo) * nnc_rand_uniform(g->seed, stream, (uint64_t)i));
    else
        for (int64_t i = 0; i < n; i++) w[i] = (float)(mean + std * nnc_rand_normal(g->seed, stream, (uint64_t)i));
}

nnc_status nnc_param_set_init(nnc_node *p, nnc_init init) {
    if (!p || !(p->flags & NNC_NODE_PARAM)) return nnc_error(NNC_ERR_ARG, "nnc_param_set_init: not a parameter");
    if ((unsigned)init.kind > NNC_INIT_ORTHOGONAL) return nnc_error(NNC_ERR_ARG, "nnc_param_set_init '%s': unknown init kind %d", p->name, (int)init.kind);
    if ((init.kind == NNC_INIT_KAIMING_UNIFORM || init.kind == NNC_INIT_KAIMING_NORMAL) && init.b != NNC_FAN_IN && init.b != NNC_FAN_OUT)
        return nnc_error(NNC_ERR_ARG, "nnc_param_set_init '%s': Kaiming mode b=%g is neither NNC_FAN_IN (0) nor NNC_FAN_OUT (1)", p->name, (double)init.b);
    if (p->out.data) return nnc_error(NNC_ERR_STATE, "nnc_param_set_init '%s': parameters are already initialized (set it before the first compile)", p->name);
    p->init = init;
    return NNC_OK;
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
        g->n_opt_slots = slots; /* the block keeps its size; checkpoints save `slots` */
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
