/* batchnorm.c -- batch normalization over axis 1 of [N,C], [N,C,L] or [N,C,H,W]
 * (M = N * L elements per channel). Inputs: x, gamma, beta (each optional),
 * running_mean, running_var (f32 state [C]), num_batches_tracked (i64, optional).
 *   training: mean, var = batch mean and biased variance (row sums in float
 *             lanes, added in double; see row_sums);
 *             y = (x - mean) rstd gamma + beta, rstd = 1/sqrt(var + eps);
 *             running = (1-m) running + m batch (variance unbiased: var M/(M-1));
 *             num_batches_tracked += 1. Saves mean, rstd and the biased variance per channel.
 *   eval:     the same with the running statistics; nothing is updated.
 *   backward: xhat = (x - mean) rstd, dgamma = sum dy xhat, dbeta = sum dy,
 *             dx = gamma rstd / M (M dy - sum dy - xhat sum dy xhat)   (training)
 *             dx = gamma rstd_running dy                         (frozen statistics)
 * Backward reads x (and the saved statistics).
 * oneDNN path, opt-in with NNC_DNNL_BN=1: oneDNN's batch-normalization
 * primitives (kernels/dnnl_bn.c) on the plain tensors, made by the workspace
 * hook at compile time per plan and kept in the node's kcache. oneDNN gives
 * the batch mean and biased variance; the running update (momentum,
 * unbiased variance, num_batches_tracked) is done here from them, exactly as
 * the plain path does. It is not the default because on plain NCHW (its
 * ncsp kernel) it measured slower than the plain kernel below in ResNet-20
 * (docs/ARCHITECTURE.md, "Kernels and threads"); its jit kernels want
 * blocked layouts. Plain path (parallel over channels): the default, and
 * shapes oneDNN has only reference code for, backward with frozen
 * statistics, a workspace too small (threads changed after compiling).
 * Folded into the convolution after it (NNC_NODE_STATS_ONLY), the plain
 * path's output is written by that convolution as blocked tiles, and its
 * output gradient may come blocked from it (NNC_NODE_GRAD_BLOCKED; backward
 * then runs by 16-channel blocks): kernels/bn_tile.c, bitwise the row
 * kernels' values. */
#include "ops/op.h"
#include "ops/plan_cache.h"
#include "kernels/dnnl_bn.h"
#include "kernels/dnnl_prim.h"
#include "kernels/bn_tile.h"
#include <math.h>
#include <omp.h>
#include <stdlib.h>

typedef struct { float eps, momentum; int gamma, beta, rmean, rvar, nbt; } bn_attrs; /* input indices, -1 if absent */

static nnc_status bn_infer(nnc_node *n) {
    const bn_attrs *a = NNC_ATTRS(n, bn_attrs);
    const nnc_tensor *x = &n->in[0]->out;
    char d[160], s1[64], s2[64];
    if (x->dtype != NNC_F32 || x->ndim < 2)
        return nnc_error(NNC_ERR_SHAPE, "%s: input must be f32 [N, C, ...], got %s %s", nnc_node_desc(n, d, sizeof d),
                         nnc_dtype_name(x->dtype), nnc_shape_str(x, s1, sizeof s1));
    int64_t C = x->shape[1];
    const int idx[4] = {a->gamma, a->beta, a->rmean, a->rvar};
    static const char *const what[4] = {"weight (gamma)", "bias (beta)", "running_mean", "running_var"};
    for (int i = 0; i < 4; i++) {
        if (idx[i] < 0) continue;
        const nnc_tensor *t = &n->in[idx[i]]->out;
        if (t->dtype != NNC_F32 || t->ndim != 1 || t->shape[0] != C)
            return nnc_error(NNC_ERR_SHAPE, "%s: %s %s %s must be f32 [%lld] for input %s", nnc_node_desc(n, d, sizeof d), what[i],
                             nnc_dtype_name(t->dtype), nnc_shape_str(t, s1, sizeof s1), (long long)C, nnc_shape_str(x, s2, sizeof s2));
    }
    if (a->nbt >= 0) {
        const nnc_tensor *t = &n->in[a->nbt]->out;
        if (t->dtype != NNC_I64 || nnc_numel(t) != 1)
            return nnc_error(NNC_ERR_SHAPE, "%s: num_batches_tracked %s %s must be one i64", nnc_node_desc(n, d, sizeof d),
                             nnc_dtype_name(t->dtype), nnc_shape_str(t, s1, sizeof s1));
    }
    nnc_out_like(n, x, NNC_F32);
    return NNC_OK;
}

/* A ReLU after it (the only reader of its output) is fused: the output is
 * max(0, BN(x)) and backward applies the ReLU's derivative first. */
static int fused_relu(const nnc_node *n) { return (n->flags & NNC_NODE_RELU_OUT) != 0; }
static nnc_dnnl_bn *dnnl_for(nnc_node *n, int training);

/* Saved for backward (training): per channel mean, rstd, biased variance,
 * and the forward's affine scale and shift (sc = rstd gamma, sh = beta:
 * y = (x - mean) sc + sh), 5C floats, so nnc_batchnorm_recompute gives the
 * forward's exact output; then the plain kernel's mean and variance as
 * doubles (2C), which a later batch norm reading the same channels reuses
 * (stats_src, compile.c). With a fused ReLU, then a marker (1: oneDNN's
 * forward wrote its bit mask) and the ReLU's mask: oneDNN's, and/or one
 * bit per element from the plain kernel (rows of ceil(L/8) bytes ordered
 * [C][N], channel-major so that the threads write disjoint bytes). The
 * output is not needed in backward. */
static size_t up64(size_t b) { return (b + 63) / 64 * 64; }
typedef struct { int64_t N, C, L; } bn_dims;
static bn_dims dims_of(const nnc_tensor *x) {
    bn_dims d = {x->shape[0], x->shape[1], 1};
    for (int i = 2; i < x->ndim; i++) d.L *= x->shape[i];
    return d;
}
/* The plain kernel's mask: N C rows of ceil(L/8) bytes. */
static size_t plain_mask_bytes(const nnc_tensor *x) {
    bn_dims D = dims_of(x);
    return (size_t)(D.N * D.C) * (size_t)((D.L + 7) / 8);
}
static size_t stats_bytes(const nnc_node *n) {
    size_t C = (size_t)n->in[0]->out.shape[1];
    return up64(5 * C * sizeof(float)) + up64(2 * C * sizeof(double));
}
/* The plain kernel's batch mean and biased variance as the doubles it used
 * (C each, after the floats), for a later batch norm sharing them. */
static double *stats_d(const nnc_node *n) { return (double *)(void *)((char *)n->saved + up64(5 * (size_t)n->in[0]->out.shape[1] * sizeof(float))); }
static size_t bn_saved(const nnc_node *cn, int training) {
    if (!training) return 0;
    nnc_node *n = (nnc_node *)cn;
    if (!fused_relu(n)) return stats_bytes(n);
    nnc_dnnl_bn *b = dnnl_for(n, 1);
    size_t dm = nnc_dnnl_bn_relu_mask_bytes(b), pm = nnc_is_blocked(&n->in[0]->out) ? 0 : plain_mask_bytes(&n->in[0]->out);
    return stats_bytes(n) + 64 + (dm > pm ? dm : pm);
}
static int *mask_marker(const nnc_node *n) { return (int *)((char *)n->saved + stats_bytes(n)); }
static void *mask_of(const nnc_node *n) { return (char *)n->saved + stats_bytes(n) + 64; }

/* One row of the normalized output, as forward and recompute both write
 * it; relu: max(0, .), and the ReLU's mask bits into mask when not NULL. */
typedef uint32_t v8u __attribute__((vector_size(32)));
typedef float v8f __attribute__((vector_size(32)));

static inline void normalize_row(const float *x, float *y, int relu, uint8_t *mask, int64_t L, float fm, float sc, float sh) {
    if (!relu) {
        for (int64_t l = 0; l < L; l++) y[l] = (x[l] - fm) * sc + sh;
        return;
    }
    int64_t l0 = 0;
    for (; l0 + 8 <= L; l0 += 8) { /* 8 lanes: max(0, v) by the compare's mask, its bits to one byte */
        v8f xv, v;
        memcpy(&xv, x + l0, sizeof xv);
        v = (xv - fm) * sc + sh;
        v8u gt = (v8u)(v > 0.0f), vb;
        memcpy(&vb, &v, sizeof vb);
        vb &= gt;
        memcpy(y + l0, &vb, sizeof vb);
        if (mask) {
            unsigned bits = 0;
            for (int k = 0; k < 8; k++) bits |= (gt[k] & 1u) << k;
            mask[l0 / 8] = (uint8_t)bits;
        }
    }
    if (l0 < L) {
        unsigned bits = 0;
        for (int64_t k = 0; l0 + k < L; k++) {
            float v = (x[l0 + k] - fm) * sc + sh;
            bits |= (unsigned)(v > 0) << k;
            y[l0 + k] = v > 0 ? v : 0.0f;
        }
        if (mask) mask[l0 / 8] = (uint8_t)bits;
    }
}


/* ---- per-row sums of the plain kernels: 16 independent float lanes (they
 * vectorize), flushed to double every 4096 elements, in a fixed order, so
 * results do not depend on the thread count. */
/* The fused ReLU's derivative applied on the fly (dy where the mask bit is
 * 1, else 0) instead of written into dy: dy is read from memory once and
 * never written back. The same sums and values as masking dy first. */
static inline unsigned mask16(const uint8_t *m, int64_t l) { return m[l >> 3] | (unsigned)m[(l >> 3) + 1] << 8; }
static inline float masked(float d, const uint8_t *m, int64_t l) { return (m[l >> 3] >> (l & 7)) & 1 ? d : 0.0f; }

/* s1 += sum x, s2 += sum (x - m)^2 (when s2) or sum y (x - m) (when y; y
 * through the fused ReLU's mask mk when not NULL) */
static void row_sums(const float *x, const float *y, const uint8_t *mk, int64_t L, float m, double *s1, double *s2) {
    for (int64_t b0 = 0; b0 < L; b0 += NNC_BN_BLOCK) {
        int64_t b1 = b0 + NNC_BN_BLOCK < L ? b0 + NNC_BN_BLOCK : L, l = b0;
        float a1[NNC_BN_LANES] = {0}, a2[NNC_BN_LANES] = {0};
        if (y && mk)
            for (; l + NNC_BN_LANES <= b1; l += NNC_BN_LANES) {
                const unsigned bits = mask16(mk, l);
                for (int j = 0; j < NNC_BN_LANES; j++) {
                    float d = (bits >> j) & 1 ? y[l + j] : 0.0f;
                    a1[j] += d;
                    a2[j] += d * (x[l + j] - m);
                }
            }
        else if (y)
            for (; l + NNC_BN_LANES <= b1; l += NNC_BN_LANES)
                for (int j = 0; j < NNC_BN_LANES; j++) { a1[j] += y[l + j]; a2[j] += y[l + j] * (x[l + j] - m); }
        else if (s2)
            for (; l + NNC_BN_LANES <= b1; l += NNC_BN_LANES)
                for (int j = 0; j < NNC_BN_LANES; j++) { float t = x[l + j] - m; a2[j] += t * t; }
        else
            for (; l + NNC_BN_LANES <= b1; l += NNC_BN_LANES)
                for (int j = 0; j < NNC_BN_LANES; j++) a1[j] += x[l + j];
        double t1 = 0, t2 = 0;
        for (int j = 0; j < NNC_BN_LANES; j++) { t1 += a1[j]; t2 += a2[j]; }
        for (; l < b1; l++) {
            if (y) {
                float d = mk ? masked(y[l], mk, l) : y[l];
                t1 += d;
                t2 += (double)d * (x[l] - m);
            }
            else if (s2) { double t = x[l] - m; t2 += t * t; }
            else t1 += x[l];
        }
        if (s1) *s1 += t1;
        if (s2) *s2 += t2;
    }
}

/* ---- the oneDNN path: the node's primitives, one set per plan */
static void free_bn(void *e) { nnc_dnnl_bn_free(e); }

/* The node's oneDNN primitives for its current shape and this mode at the
 * current thread count, made on first use; NULL: take the plain path. */
static int dnnl_wanted(void) {
    const char *s = getenv("NNC_DNNL_BN");
    return s && !strcmp(s, "1") && !nnc_dnnl_disabled();
}

/* The plain kernels run the node (training or not): its input is plain and oneDNN is not asked for. */
static int runs_plain(const nnc_node *n) { return !nnc_is_blocked(&n->in[0]->out) && !dnnl_wanted(); }

static nnc_dnnl_bn *dnnl_for(nnc_node *n, int training) {
    int blocked = nnc_is_blocked(&n->in[0]->out), relu = fused_relu(n);
    if ((!blocked && !dnnl_wanted()) || n->in[0]->out.bstride || (n->flags & NNC_NODE_STATS_ONLY)) return NULL;
    const bn_attrs *a = NNC_ATTRS(n, bn_attrs);
    bn_dims D = dims_of(&n->in[0]->out);
    int sc = a->gamma >= 0, sh = a->beta >= 0;
    if (training && D.N * D.L <= 1) return NULL; /* forward reports the error */
    nnc_plan_cache *c = nnc_plan_cache_get(n, free_bn);
    if (!c) return NULL;
    for (int i = 0; i < c->n; i++)
        if (nnc_dnnl_bn_matches(c->e[i], D.N, D.C, D.L, a->eps, sc, sh, training, blocked, relu))
            return nnc_dnnl_bn_ok(c->e[i]) ? c->e[i] : NULL;
    nnc_dnnl_bn *e = nnc_dnnl_bn_new(D.N, D.C, D.L, a->eps, sc, sh, training, blocked, relu);
    if (!e) return NULL;
    nnc_plan_cache_add(c, e);
    return nnc_dnnl_bn_ok(e) ? e : NULL;
}

/* Inside a chain of oneDNN ops (4-D, C a multiple of 16: the compiler
 * checks that), x, y and their gradients may be blocked; oneDNN's jit
 * kernels then run them in place of the plain kernels below. */
static uint32_t bn_layouts(const nnc_node *n) {
    if (n->in[0]->out.ndim != 4 || !nnc_dnnl_blocked_ok()) return 0;
    return NNC_BLOCKS_IN(0) | NNC_BLOCKS_OUT | NNC_BLOCKS_TIED;
}

/* The plain kernels read x (and write dx) as a window of a wider buffer
 * (a DenseNet layer's input inside its block's concatenation). */
static uint32_t bn_strided(const nnc_node *n) { return runs_plain(n) ? NNC_STRIDED_IN(0) : 0; }

/* dx is written straight by oneDNN when wanted and overwritten */
static int direct_dx(const nnc_node *n) { return nnc_needs_grad(n->in[0]) && !n->accum[0]; }

/* The hook makes the node's oneDNN primitives at compile time, so that steps
 * allocate nothing; the plain path needs no workspace. */
static size_t blocked_ws(const nnc_node *n);
static size_t bn_workspace(const nnc_node *cn, int training) {
    nnc_node *n = (nnc_node *)cn;
    if (training && (n->flags & NNC_NODE_GRAD_BLOCKED) && nnc_needs_grad(n)) return blocked_ws(n);
    nnc_dnnl_bn *b = dnnl_for(n, training);
    if (!b) return 0;
    size_t w = nnc_dnnl_bn_ws_forward(b), wb = training && nnc_needs_grad(n) ? nnc_dnnl_bn_ws_backward(b, direct_dx(n)) : 0;
    return w > wb ? w : wb;
}

/* Training with oneDNN's batch statistics: the PyTorch running update. */
static void bn_forward_dnnl(nnc_node *n, const nnc_exec *ex, nnc_dnnl_bn *b) {
    const bn_attrs *a = NNC_ATTRS(n, bn_attrs);
    bn_dims D = dims_of(&n->in[0]->out);
    const int64_t C = D.C, M = D.N * D.L;
    const float *gamma = a->gamma >= 0 ? n->in[a->gamma]->out.data : NULL;
    const float *beta = a->beta >= 0 ? n->in[a->beta]->out.data : NULL;
    float *rm = n->in[a->rmean]->out.data, *rv = n->in[a->rvar]->out.data, *saved = n->saved;
    nnc_status s;
    if (!ex->training) {
        s = nnc_dnnl_bn_forward(b, n->in[0]->out.data, gamma, beta, rm, rv, n->out.data, NULL, ex->ws);
        if (s && ex->fault) *ex->fault = s;
        return;
    }
    float *mean = saved, *rstd = saved + C, *var = saved + 2 * C;
    int has_mask = nnc_dnnl_bn_relu_mask_bytes(b) != 0;
    s = nnc_dnnl_bn_forward(b, n->in[0]->out.data, gamma, beta, mean, var, n->out.data, has_mask ? mask_of(n) : NULL, ex->ws);
    if (s) {
        if (ex->fault) *ex->fault = s;
        return;
    }
    if (has_mask) *mask_marker(n) = 1;
    const double mom = a->momentum;
    for (int64_t c = 0; c < C; c++) {
        rstd[c] = (float)(1.0 / sqrt((double)var[c] + a->eps));
        saved[3 * C + c] = (float)((double)rstd[c] * (gamma ? gamma[c] : 1.0f));
        saved[4 * C + c] = beta ? beta[c] : 0.0f;
        rm[c] = (float)((1 - mom) * rm[c] + mom * mean[c]);
        rv[c] = (float)((1 - mom) * rv[c] + mom * var[c] * (double)M / (double)(M - 1));
    }
    if (a->nbt >= 0) ((int64_t *)n->in[a->nbt]->out.data)[0] += 1;
}

static void bn_forward(nnc_node *n, const nnc_exec *ex) {
    const bn_attrs *a = NNC_ATTRS(n, bn_attrs);
    bn_dims D = dims_of(&n->in[0]->out);
    const int64_t N = D.N, C = D.C, L = D.L, M = N * L;
    const float *X = n->in[0]->out.data;
    const int64_t xs = nnc_image_stride(&n->in[0]->out);
    const float *gamma = a->gamma >= 0 ? n->in[a->gamma]->out.data : NULL;
    const float *beta = a->beta >= 0 ? n->in[a->beta]->out.data : NULL;
    float *rm = n->in[a->rmean]->out.data, *rv = n->in[a->rvar]->out.data;
    float *Y = n->out.data;
    const double eps = a->eps, mom = a->momentum;
    int training = ex->training;
    if (training && M <= 1) {
        char d[160], s1[64];
        nnc_error(NNC_ERR_SHAPE, "%s: expected more than 1 value per channel when training, got input %s",
                  nnc_node_desc(n, d, sizeof d), nnc_shape_str(&n->in[0]->out, s1, sizeof s1));
        if (ex->fault) *ex->fault = NNC_ERR_SHAPE;
        return;
    }
    float *saved = n->saved;
    nnc_dnnl_bn *b = dnnl_for(n, training);
    if (b && (!training || saved) && nnc_dnnl_bn_ws_forward(b) <= ex->ws_bytes) {
        bn_forward_dnnl(n, ex, b);
        return;
    }
    if (nnc_is_blocked(&n->in[0]->out)) {
        nnc_fault_replan(n, ex, "its blocked tensors need oneDNN's primitives");
        return;
    }
    const int relu = fused_relu(n);
    /* folded into the next convolution: it writes the output (and mask) itself */
    const int write_y = !(training && saved && (n->flags & NNC_NODE_STATS_ONLY));
    uint8_t *mask = training && saved && relu ? mask_of(n) : NULL;
    if (mask) *mask_marker(n) = 0;
    /* the first `shared` channels' statistics from an earlier batch norm over the same values */
    const nnc_node *src = training && saved && n->stats_src && n->stats_src->saved ? n->stats_src : NULL;
    const int64_t shared = src ? n->stats_count : 0, Cs = src ? src->in[0]->out.shape[1] : 0;
    const double *sd = src ? stats_d(src) : NULL;
    double *md = training && saved ? stats_d(n) : NULL;
#pragma omp parallel for schedule(static) if (M * C > 32768)
    for (int64_t c = 0; c < C; c++) {
        double mean, rstd;
        if (training) {
            double var;
            if (c < shared) {
                mean = sd[c];
                var = sd[Cs + c];
            } else {
                double s = 0, v = 0;
                for (int64_t i = 0; i < N; i++) row_sums(X + i * xs + c * L, NULL, NULL, L, 0.0f, &s, NULL);
                mean = s / (double)M;
                for (int64_t i = 0; i < N; i++) row_sums(X + i * xs + c * L, NULL, NULL, L, (float)mean, NULL, &v);
                var = v / (double)M;
            }
            if (md) { md[c] = mean; md[C + c] = var; }
            rstd = 1.0 / sqrt(var + eps);
            rm[c] = (float)((1 - mom) * rm[c] + mom * mean);
            rv[c] = (float)((1 - mom) * rv[c] + mom * var * (double)M / (double)(M - 1));
            if (saved) { saved[c] = (float)mean; saved[C + c] = (float)rstd; saved[2 * C + c] = (float)var; }
        } else {
            mean = rm[c];
            rstd = 1.0 / sqrt((double)rv[c] + eps);
        }
        float fm = (float)mean, sc = (float)(rstd * (gamma ? gamma[c] : 1.0f)), sh = beta ? beta[c] : 0.0f;
        if (training && saved) { saved[3 * C + c] = sc; saved[4 * C + c] = sh; }
        const int64_t rb = (L + 7) / 8;
        for (int64_t i = 0; i < N && write_y; i++)
            normalize_row(X + i * xs + c * L, Y + (i * C + c) * L, relu, mask ? mask + (c * N + i) * rb : NULL, L, fm, sc, sh);
    }
    if (training && a->nbt >= 0) ((int64_t *)n->in[a->nbt]->out.data)[0] += 1;
}

/* dx (+)= fa dy + fb + fk (x - fm) over a row, dy masked when mk != NULL */
static void dx_row(float *dx, const float *dy, const float *x, const uint8_t *mk, int64_t L, int acc, float fa, float fb, float fk, float fm) {
    int64_t l = 0;
    if (mk) {
        for (; l + 16 <= L; l += 16) {
            const unsigned bits = mask16(mk, l);
            for (int j = 0; j < 16; j++) {
                float d = (bits >> j) & 1 ? dy[l + j] : 0.0f, v = fa * d + fb + fk * (x[l + j] - fm);
                dx[l + j] = acc ? dx[l + j] + v : v;
            }
        }
        for (; l < L; l++) {
            float v = fa * masked(dy[l], mk, l) + fb + fk * (x[l] - fm);
            dx[l] = acc ? dx[l] + v : v;
        }
        return;
    }
    if (acc)
        for (; l < L; l++) dx[l] += fa * dy[l] + fb + fk * (x[l] - fm);
    else
        for (; l < L; l++) dx[l] = fa * dy[l] + fb + fk * (x[l] - fm);
}

/* A channel's end of backward, from its sums sdy = sum dy and sdyx = sum
 * dy (x - mean): dgamma and dbeta (when wanted and write_params), and the
 * coefficients of dx = fa dy + fb + fk (x - fm). */
typedef struct { float fa, fb, fk, fm; } dx_coef;
typedef struct {
    const float *gamma, *rm, *rv, *saved;
    float *dG, *dB;
    int acc_g, acc_b, batch_stats;
    int64_t C, M;
    double eps;
} bwd_args;
static dx_coef channel_end(const bwd_args *b, int64_t c, double sdy, double sdyx, int write_params) {
    const int64_t C = b->C;
    double mean = b->batch_stats ? b->saved[c] : b->rm[c];
    double rstd = b->batch_stats ? b->saved[C + c] : 1.0 / sqrt((double)b->rv[c] + b->eps);
    sdyx *= rstd;
    if (write_params && b->dG) b->dG[c] = b->acc_g ? b->dG[c] + (float)sdyx : (float)sdyx;
    if (write_params && b->dB) b->dB[c] = b->acc_b ? b->dB[c] + (float)sdy : (float)sdy;
    /* dx = gr dy + b + k (x - mean): b = -gr sdy / M, k = -gr rstd sdyx / M
     * with batch statistics, b = k = 0 with frozen ones */
    double gr = (b->gamma ? b->gamma[c] : 1.0) * rstd;
    dx_coef k = {(float)gr, b->batch_stats ? (float)(-gr * sdy / (double)b->M) : 0.0f,
                 b->batch_stats ? (float)(-gr * rstd * sdyx / (double)b->M) : 0.0f, (float)mean};
    return k;
}

/* ---- backward from a blocked output gradient (NNC_NODE_GRAD_BLOCKED: the
 * folded convolution's backward-data wrote it nChw16c, C padded to 16).
 * One 16-channel block at a time, every thread on a share of its images:
 * the row sums of each image's tile (kernels/bn_tile.c, row_sums' lanes)
 * into the workspace, then each thread adds them up in image order --
 * row_sums' order, so bitwise the plain kernel's sums -- for the block's
 * coefficients, then dx tile by tile. The sums read a block's x and dy
 * (N L 16 floats each) from memory, dx reads them again from the
 * last-level cache. Workspace: the per-image sums, 2 N ceil(L/4096) C
 * doubles. */
static size_t blocked_ws(const nnc_node *n) {
    bn_dims D = dims_of(&n->in[0]->out);
    return (size_t)(2 * D.N * ((D.L + NNC_BN_BLOCK - 1) / NNC_BN_BLOCK) * D.C) * sizeof(double);
}
static void bn_backward_blocked(nnc_node *n, const nnc_exec *ex, const bwd_args *ba, float *dX, int acc_x, const uint8_t *relu_mask) {
    bn_dims D = dims_of(&n->in[0]->out);
    const int64_t N = D.N, C = D.C, L = D.L, CB = (C + 15) / 16, NB = (L + NNC_BN_BLOCK - 1) / NNC_BN_BLOCK, rb = (L + 7) / 8;
    const float *X = n->in[0]->out.data, *dY = n->grad.data;
    const int64_t xs = nnc_image_stride(&n->in[0]->out);
    if (blocked_ws(n) > ex->ws_bytes) {
        nnc_fault_replan(n, ex, "its blocked gradient's per-image sums");
        return;
    }
    double *s1 = ex->ws, *s2 = s1 + N * NB * C; /* [N][NB][C] */
#pragma omp parallel
    for (int64_t cb = 0; cb < CB; cb++) {
        const int64_t c0 = cb * 16;
        const int nc = C - c0 < 16 ? (int)(C - c0) : 16;
        float fm[16];
        for (int k = 0; k < nc; k++) fm[k] = (float)(ba->batch_stats ? ba->saved[c0 + k] : ba->rm[c0 + k]);
#pragma omp for schedule(static)
        for (int64_t i = 0; i < N; i++) {
            nnc_bn_tile t = {X + i * xs + c0 * L, L, nc, relu_mask ? (uint8_t *)relu_mask + (c0 * N + i) * rb : NULL, N * rb};
            nnc_bn_tile_sums(&t, dY + (i * CB + cb) * L * 16, fm, s1 + i * NB * C + c0, s2 + i * NB * C + c0, C);
        }
        float fa[16], fb[16], fk[16]; /* every thread: the same sums in the same order */
        for (int k = 0; k < nc; k++) {
            double sdy = 0, sdyx = 0;
            for (int64_t i = 0; i < N * NB; i++) {
                sdy += s1[i * C + c0 + k];
                sdyx += s2[i * C + c0 + k];
            }
            dx_coef q = channel_end(ba, c0 + k, sdy, sdyx, omp_get_thread_num() == 0);
            fa[k] = q.fa; fb[k] = q.fb; fk[k] = q.fk; fm[k] = q.fm;
        }
        if (!dX) continue;
#pragma omp for schedule(static) nowait
        for (int64_t i = 0; i < N; i++) {
            nnc_bn_tile t = {X + i * xs + c0 * L, L, nc, relu_mask ? (uint8_t *)relu_mask + (c0 * N + i) * rb : NULL, N * rb};
            nnc_bn_tile_dx(&t, dY + (i * CB + cb) * L * 16, dX + i * xs + c0 * L, acc_x, fa, fb, fk, fm);
        }
    }
}

static void bn_backward(nnc_node *n, const nnc_exec *ex) {
    const bn_attrs *a = NNC_ATTRS(n, bn_attrs);
    bn_dims D = dims_of(&n->in[0]->out);
    const int64_t N = D.N, C = D.C, L = D.L, M = N * L;
    const float *X = n->in[0]->out.data, *dY = n->grad.data;
    const int64_t xs = nnc_image_stride(&n->in[0]->out);
    const float *gamma = a->gamma >= 0 ? n->in[a->gamma]->out.data : NULL;
    const float *rm = n->in[a->rmean]->out.data, *rv = n->in[a->rvar]->out.data, *saved = n->saved;
    float *dX = nnc_needs_grad(n->in[0]) ? n->in[0]->grad.data : NULL;
    float *dG = a->gamma >= 0 && nnc_needs_grad(n->in[a->gamma]) ? n->in[a->gamma]->grad.data : NULL;
    float *dB = a->beta >= 0 && nnc_needs_grad(n->in[a->beta]) ? n->in[a->beta]->grad.data : NULL;
    int acc_x = n->accum[0], acc_g = a->gamma >= 0 ? n->accum[a->gamma] : 0, acc_b = a->beta >= 0 ? n->accum[a->beta] : 0;
    /* statistics of this forward (batch) or frozen ones (running) */
    int batch_stats = ex->training && saved;
    nnc_dnnl_bn *b = batch_stats && (dX || dG || dB) ? dnnl_for(n, 1) : NULL;
    const int relu = fused_relu(n);
    if (b && relu && !(nnc_dnnl_bn_relu_mask_bytes(b) && *mask_marker(n))) b = NULL; /* no mask from forward */
    if (b && nnc_dnnl_bn_ws_backward(b, dX && !acc_x) <= ex->ws_bytes) {
        const float *beta = a->beta >= 0 ? n->in[a->beta]->out.data : NULL;
        nnc_status s = nnc_dnnl_bn_backward(b, X, gamma, beta, saved, saved + 2 * C, relu ? mask_of(n) : NULL, dY, dX, acc_x, dG, acc_g,
                                            dB, acc_b, ex->ws);
        if (s && ex->fault) *ex->fault = s;
        return;
    }
    if (nnc_is_blocked(&n->in[0]->out)) {
        nnc_fault_replan(n, ex, "its blocked tensors need oneDNN's primitives");
        return;
    }
    const uint8_t *relu_mask = relu ? mask_of(n) : NULL;
    const int64_t rb = (L + 7) / 8;
    const bwd_args ba = {gamma, rm, rv, saved, dG, dB, acc_g, acc_b, batch_stats, C, M, a->eps};
    if (nnc_is_blocked(&n->grad)) {
        bn_backward_blocked(n, ex, &ba, dX, acc_x, relu_mask);
        return;
    }
#pragma omp parallel for schedule(static) if (M * C > 32768)
    for (int64_t c = 0; c < C; c++) {
        const float fm = (float)(batch_stats ? saved[c] : rm[c]);
        double sdy = 0, sdyx = 0; /* sum dy, then sum dy xhat; dy through the fused ReLU's mask from forward */
        for (int64_t i = 0; i < N; i++)
            row_sums(X + i * xs + c * L, dY + (i * C + c) * L, relu_mask ? relu_mask + (c * N + i) * rb : NULL, L, fm, &sdy, &sdyx);
        dx_coef q = channel_end(&ba, c, sdy, sdyx, 1);
        if (!dX) continue;
        for (int64_t i = 0; i < N; i++) /* dx: the same window as x */
            dx_row(dX + i * xs + c * L, dY + (i * C + c) * L, X + i * xs + c * L, relu_mask ? relu_mask + (c * N + i) * rb : NULL, L, acc_x, q.fa,
                   q.fb, q.fk, q.fm);
    }
}

/* One [L][16] tile of a blocked output: channels c0..c0+15 of image i
 * (zeros past C), bitwise what normalize_row writes (kernels/bn_tile.c). */
static void normalize_tile(const nnc_node *n, const float *X, int64_t xs, int64_t i, int64_t c0, float *tile, uint8_t *mask) {
    bn_dims D = dims_of(&n->in[0]->out);
    const int64_t N = D.N, C = D.C, L = D.L, rb = (L + 7) / 8;
    const float *saved = n->saved;
    nnc_bn_tile t = {X + i * xs + c0 * L, L, C - c0 < 16 ? (int)(C - c0) : 16, mask ? mask + (c0 * N + i) * rb : NULL, N * rb};
    nnc_bn_tile_normalize(&t, saved + c0, saved + 3 * C + c0, saved + 4 * C + c0, fused_relu(n), tile);
}

void nnc_batchnorm_recompute(const nnc_node *n, float *y, int blocked, int with_mask) {
    bn_dims D = dims_of(&n->in[0]->out);
    const int64_t N = D.N, C = D.C, L = D.L;
    const float *X = n->in[0]->out.data, *saved = n->saved;
    const int64_t xs = nnc_image_stride(&n->in[0]->out);
    const int relu = fused_relu(n);
    uint8_t *mask = with_mask && relu ? mask_of(n) : NULL;
    if (mask) *mask_marker(n) = 0;
    if (blocked) {
        const int64_t CB = (C + 15) / 16;
#pragma omp parallel for schedule(static) if (N * C * L > 32768)
        for (int64_t t = 0; t < N * CB; t++) normalize_tile(n, X, xs, t / CB, t % CB * 16, y + t * L * 16, mask);
        return;
    }
    const int64_t rb = (L + 7) / 8;
#pragma omp parallel for schedule(static) if (N * C * L > 32768)
    for (int64_t c = 0; c < C; c++) {
        const float fm = saved[c], sc = saved[3 * C + c], sh = saved[4 * C + c];
        for (int64_t i = 0; i < N; i++)
            normalize_row(X + i * xs + c * L, y + (i * C + c) * L, relu, mask ? mask + (c * N + i) * rb : NULL, L, fm, sc, sh);
    }
}

int nnc_batchnorm_shares_stats(const nnc_node *n) { return n->op == NNC_OP_BATCHNORM && runs_plain(n); }

int nnc_batchnorm_foldable(const nnc_node *n) { return nnc_batchnorm_shares_stats(n) && n->in[0]->out.ndim == 4; }

nnc_node *nnc_batchnorm(nnc_graph *g, nnc_node *x, nnc_node *gamma, nnc_node *beta, nnc_node *running_mean,
                        nnc_node *running_var, nnc_node *num_batches_tracked, float eps, float momentum) {
    if (!g || g->err) return NULL;
    if (!running_mean || !running_var) return nnc_graph_fail(g, NNC_ERR_ARG, "batchnorm: running_mean and running_var are required");
    if (!(eps >= 0) || !(momentum >= 0 && momentum <= 1))
        return nnc_graph_fail(g, NNC_ERR_ARG, "batchnorm: eps %g must be >= 0 and momentum %g in [0, 1]", (double)eps, (double)momentum);
    nnc_node *in[6];
    int k = 0;
    bn_attrs a = {eps, momentum, -1, -1, -1, -1, -1};
    in[k++] = x;
    if (gamma) { a.gamma = k; in[k++] = gamma; }
    if (beta) { a.beta = k; in[k++] = beta; }
    a.rmean = k; in[k++] = running_mean;
    a.rvar = k; in[k++] = running_var;
    if (num_batches_tracked) { a.nbt = k; in[k++] = num_batches_tracked; }
    return nnc_node_new(g, NNC_OP_BATCHNORM, k, in, &a, sizeof a);
}

nnc_node *nnc_batchnorm_layer(nnc_graph *g, nnc_node *x, const char *name, float eps, float momentum) {
    if (!g || g->err) return NULL;
    if (!name || !*name) return nnc_graph_fail(g, NNC_ERR_ARG, "batchnorm layer: name is empty");
    if (!x) return nnc_graph_fail(g, NNC_ERR_ARG, "batchnorm layer '%s': input is NULL", name);
    char s1[64];
    if (x->out.ndim < 2 || x->out.shape[1] <= 0)
        return nnc_graph_fail(g, NNC_ERR_SHAPE, "batchnorm layer '%s': input must be [N, C, ...], got %s", name,
                              nnc_shape_str(&x->out, s1, sizeof s1));
    int64_t C = x->out.shape[1];
    nnc_scope_push(g, name);
    nnc_node *w = nnc_param(g, "weight", 1, &C, (nnc_init){NNC_INIT_CONST, 1.0f, 0.0f});
    nnc_node *b = nnc_param(g, "bias", 1, &C, (nnc_init){NNC_INIT_ZEROS, 0.0f, 0.0f});
    nnc_node *rm = nnc_state(g, "running_mean", NNC_F32, 1, &C, 0.0);
    nnc_node *rv = nnc_state(g, "running_var", NNC_F32, 1, &C, 1.0);
    nnc_node *nbt = nnc_state(g, "num_batches_tracked", NNC_I64, 0, NULL, 0.0);
    nnc_scope_pop(g);
    if (g->err) return NULL;
    nnc_node *y = nnc_batchnorm(g, x, w, b, rm, rv, nbt, eps, momentum);
    if (y) nnc_node_set_name(y, name);
    return y;
}

/* ---- gradient-check cases: smooth; the batch statistics make it nonlinear,
 * eps 3e-3 keeps the central-difference error (5e-4 at 1e-2 with batch 4)
 * well below the tolerance */
static nnc_node *case_bn(nnc_graph *g, int ndim, const int64_t *shape) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, ndim, shape);
    nnc_input_requires_grad(x);
    nnc_node *y = nnc_batchnorm_layer(g, x, "bn", 1e-5f, 0.1f);
    nnc_graph_output(g, y);
    return y;
}
static nnc_node *case_1d(nnc_graph *g) { return case_bn(g, 1, (int64_t[]){5}); }
static nnc_node *case_1d_seq(nnc_graph *g) { return case_bn(g, 2, (int64_t[]){3, 4}); }
static nnc_node *case_2d(nnc_graph *g) { return case_bn(g, 3, (int64_t[]){4, 3, 3}); }
static nnc_node *case_2d_noaffine(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){3, 2, 3});
    nnc_input_requires_grad(x);
    int64_t C = 3;
    nnc_node *rm = nnc_state(g, "running_mean", NNC_F32, 1, &C, 0.0);
    nnc_node *rv = nnc_state(g, "running_var", NNC_F32, 1, &C, 1.0);
    nnc_node *y = nnc_batchnorm(g, x, NULL, NULL, rm, rv, NULL, 1e-5f, 0.1f);
    nnc_graph_output(g, y);
    return y;
}
/* gamma only, and x feeding the output too, so dx accumulates */
static nnc_node *case_2d_gamma_fanout(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){2, 3, 2});
    nnc_input_requires_grad(x);
    int64_t C = 2;
    nnc_node *w = nnc_param(g, "weight", 1, &C, (nnc_init){NNC_INIT_UNIFORM, 0.5f, 1.5f});
    nnc_node *rm = nnc_state(g, "running_mean", NNC_F32, 1, &C, 0.0);
    nnc_node *rv = nnc_state(g, "running_var", NNC_F32, 1, &C, 1.0);
    nnc_node *y = nnc_batchnorm(g, x, w, NULL, rm, rv, NULL, 1e-3f, 0.3f);
    nnc_graph_output(g, x);
    nnc_graph_output(g, y);
    return y;
}
static const nnc_op_case cases[] = {
    {"batchnorm1d_5_affine", 4, 3e-3, 2e-3, 1e-4, 0, case_1d},
    {"batchnorm1d_3x4_affine", 3, 3e-3, 2e-3, 1e-4, 0, case_1d_seq},
    {"batchnorm2d_4x3x3_affine", 3, 3e-3, 2e-3, 1e-4, 0, case_2d},
    {"batchnorm2d_3x2x3_noaffine", 2, 3e-3, 2e-3, 1e-4, 0, case_2d_noaffine},
    {"batchnorm2d_gamma_only_fanout", 3, 3e-3, 2e-3, 1e-4, 0, case_2d_gamma_fanout},
};

const nnc_op_desc nnc_op_batchnorm = {"batchnorm", "batch normalization over axis 1 (PyTorch: momentum, unbiased running variance)",
                                      "weight, bias optional [C]; running_mean, running_var [C]; num_batches_tracked; eps, momentum",
                                      bn_infer, bn_forward, bn_backward, bn_workspace, bn_saved,
                                      NNC_READS_IN(0), cases, (int)(sizeof cases / sizeof cases[0]), NULL, bn_layouts,
                                      NNC_FUSES_RELU_OUT | NNC_FUSES_OWN_MASK, bn_strided};
