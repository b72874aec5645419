/* dnnl_bn.c -- batch normalization through oneDNN 2.x (see dnnl_bn.h).
 * Every tensor is presented to oneDNN as [N, C, L, 1], plain nchw or
 * blocked nChw16c as the caller stores it, so the caller's buffers are
 * bound directly and nothing is reordered. oneDNN's
 * backward writes dx, dgamma and dbeta (overwriting): gradients that must
 * be added, or are not wanted, go through workspace buffers.
 * Workspace: [scratchpad | dx buffer | dgamma | dbeta]. */
#include "kernels/dnnl_bn.h"
#include "kernels/dnnl_prim.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* memory objects, one per argument, bound to the caller's buffers per call */
enum { M_SRC, M_DST, M_MEAN, M_VAR, M_SCALE, M_SHIFT, M_DDST, M_DSRC, M_DSCALE, M_DSHIFT, M_MASK, M_COUNT };

struct nnc_dnnl_bn {
    int64_t N, C, L;
    float eps;
    int scale, shift, training, blocked, relu, threads, ok;
    size_t mask_bytes; /* oneDNN's workspace of the fused ReLU (training) */
    dnnl_stream_t stream;
    nnc_dnnl_prim fwd, bwd;
    dnnl_memory_t m[M_COUNT];
};

static int build(nnc_dnnl_bn *b) {
    dnnl_memory_desc_t data, stat;
    dnnl_dims_t dd = {b->N, b->C, b->L, 1}, cd = {b->C};
    if (dnnl_memory_desc_init_by_tag(&data, 4, dd, dnnl_f32, b->blocked ? dnnl_nChw16c : dnnl_nchw) != dnnl_success ||
        dnnl_memory_desc_init_by_tag(&stat, 1, cd, dnnl_f32, dnnl_x) != dnnl_success)
        return 0;
    unsigned flags = (b->scale ? dnnl_use_scale : 0) | (b->shift ? dnnl_use_shift : 0);
    if (!b->training) flags |= dnnl_use_global_stats;
    if (b->relu) flags |= dnnl_fuse_norm_relu;
    dnnl_batch_normalization_desc_t d;
    if (dnnl_batch_normalization_forward_desc_init(&d, b->training ? dnnl_forward_training : dnnl_forward_inference, &data, b->eps,
                                                   flags) != dnnl_success)
        return 0;
    dnnl_primitive_desc_t fpd = nnc_dnnl_pd(&d, NULL);
    if (!fpd) return 0;
    int ok = nnc_dnnl_prim_make(&b->fwd, fpd) && nnc_dnnl_prim_fast(&b->fwd);
    if (ok && b->training) {
        dnnl_prop_kind_t kind = b->scale || b->shift ? dnnl_backward : dnnl_backward_data;
        dnnl_primitive_desc_t bpd = NULL;
        ok = dnnl_batch_normalization_backward_desc_init(&d, kind, &data, &data, b->eps, flags) == dnnl_success &&
             (bpd = nnc_dnnl_pd(&d, fpd)) != NULL && nnc_dnnl_prim_make(&b->bwd, bpd) && nnc_dnnl_prim_fast(&b->bwd);
        if (bpd) dnnl_primitive_desc_destroy(bpd);
    }
    const dnnl_memory_desc_t *wmd = ok && b->relu && b->training ? dnnl_primitive_desc_query_md(fpd, dnnl_query_workspace_md, 0) : NULL;
    b->mask_bytes = wmd ? dnnl_memory_desc_get_size(wmd) : 0;
    if (ok && b->relu && b->training) ok = b->mask_bytes > 0 && (b->m[M_MASK] = nnc_dnnl_mem(wmd)) != NULL;
    dnnl_primitive_desc_destroy(fpd);
    for (int i = 0; i < M_MASK && ok; i++) ok = (b->m[i] = nnc_dnnl_mem(i < M_MEAN || i == M_DDST || i == M_DSRC ? &data : &stat)) != NULL;
    return ok && dnnl_stream_create(&b->stream, nnc_dnnl_engine(), dnnl_stream_default_flags) == dnnl_success;
}

nnc_dnnl_bn *nnc_dnnl_bn_new(int64_t N, int64_t C, int64_t L, float eps, int scale, int shift, int training, int blocked, int relu) {
    nnc_dnnl_bn *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->N = N; b->C = C; b->L = L;
    b->eps = eps;
    b->scale = scale != 0;
    b->shift = shift != 0;
    b->training = training != 0;
    b->blocked = blocked != 0 && C % 16 == 0;
    b->relu = relu != 0;
    b->threads = omp_get_max_threads(); /* oneDNN sizes scratchpads and splits work for this count */
    b->ok = nnc_dnnl_engine() && build(b);
    return b;
}

void nnc_dnnl_bn_free(nnc_dnnl_bn *b) {
    if (!b) return;
    nnc_dnnl_prim_free(&b->fwd);
    nnc_dnnl_prim_free(&b->bwd);
    for (int i = 0; i < M_COUNT; i++)
        if (b->m[i]) dnnl_memory_destroy(b->m[i]);
    if (b->stream) dnnl_stream_destroy(b->stream);
    free(b);
}

int nnc_dnnl_bn_ok(const nnc_dnnl_bn *b) { return b && b->ok; }
size_t nnc_dnnl_bn_relu_mask_bytes(const nnc_dnnl_bn *b) { return b ? b->mask_bytes : 0; }

int nnc_dnnl_bn_matches(const nnc_dnnl_bn *b, int64_t N, int64_t C, int64_t L, float eps, int scale, int shift, int training,
                        int blocked, int relu) {
    return b && b->blocked == (blocked != 0) && b->relu == (relu != 0) && b->N == N && b->C == C && b->L == L && b->eps == eps && b->scale == (scale != 0) && b->shift == (shift != 0) &&
           b->training == (training != 0) && b->threads == omp_get_max_threads();
}

const char *nnc_dnnl_bn_impl(const nnc_dnnl_bn *b, int pass) {
    if (!b) return "";
    return pass == 0 ? b->fwd.impl : pass == 1 && b->bwd.p ? b->bwd.impl : "";
}

/* ---- workspace */
static size_t up64(size_t n) { return (n + 63) / 64 * 64; }
typedef struct { size_t dx, dg, db, end; } bwd_layout;
static bwd_layout backward_layout(const nnc_dnnl_bn *b, int direct_dx) {
    bwd_layout L;
    size_t cb = up64((size_t)b->C * sizeof(float));
    L.dx = up64(b->bwd.scratch_bytes);
    L.dg = L.dx + (direct_dx ? 0 : up64((size_t)(b->N * b->C * b->L) * sizeof(float)));
    L.db = L.dg + cb;
    L.end = L.db + cb;
    return L;
}
size_t nnc_dnnl_bn_ws_forward(const nnc_dnnl_bn *b) { return up64(b->fwd.scratch_bytes); }
size_t nnc_dnnl_bn_ws_backward(const nnc_dnnl_bn *b, int direct_dx) { return b->training ? backward_layout(b, direct_dx).end : 0; }

/* ---- running */
static nnc_status failed(const nnc_dnnl_bn *b, const char *what, const char *impl, dnnl_status_t st) {
    (void)b;
    return nnc_error(st == dnnl_out_of_memory ? NNC_ERR_OOM : NNC_ERR_UNSUPPORTED, "batchnorm: oneDNN %s (%s) failed with status %d",
                     what, impl, (int)st);
}

/* binds buffer p to argument slot i and appends it to the argument list */
static void arg(nnc_dnnl_bn *b, dnnl_exec_arg_t *a, int *n, int dnnl_arg, int i, const void *p) {
    nnc_dnnl_arg(a, n, dnnl_arg, b->m[i], p, b->stream);
}

nnc_status nnc_dnnl_bn_forward(nnc_dnnl_bn *b, const float *x, const float *gamma, const float *beta, float *mean, float *var,
                               float *y, void *mask, void *ws) {
    dnnl_exec_arg_t a[9];
    int n = 0;
    arg(b, a, &n, DNNL_ARG_SRC, M_SRC, x);
    arg(b, a, &n, DNNL_ARG_DST, M_DST, y);
    arg(b, a, &n, DNNL_ARG_MEAN, M_MEAN, mean);
    arg(b, a, &n, DNNL_ARG_VARIANCE, M_VAR, var);
    if (b->scale) arg(b, a, &n, DNNL_ARG_SCALE, M_SCALE, gamma);
    if (b->shift) arg(b, a, &n, DNNL_ARG_SHIFT, M_SHIFT, beta);
    if (b->mask_bytes) arg(b, a, &n, DNNL_ARG_WORKSPACE, M_MASK, mask);
    dnnl_status_t st = nnc_dnnl_run(&b->fwd, b->stream, n, a, ws);
    return st == dnnl_success ? NNC_OK : failed(b, "forward", b->fwd.impl, st);
}

nnc_status nnc_dnnl_bn_backward(nnc_dnnl_bn *b, const float *x, const float *gamma, const float *beta, const float *mean, const float *var,
                                const void *mask, const float *dy, float *dx, int acc_x, float *dgamma, int acc_g, float *dbeta,
                                int acc_b, void *ws) {
    if (!b->training) return nnc_error(NNC_ERR_STATE, "batchnorm: oneDNN primitives were made for inference, not for backward");
    int direct = dx && !acc_x;
    bwd_layout L = backward_layout(b, direct);
    char *w = ws;
    float *dxo = direct ? dx : (float *)(w + L.dx);
    float *dgo = dgamma && !acc_g ? dgamma : (float *)(w + L.dg), *dbo = dbeta && !acc_b ? dbeta : (float *)(w + L.db);
    dnnl_exec_arg_t a[11]; /* at most 10 */
    int n = 0;
    arg(b, a, &n, DNNL_ARG_SRC, M_SRC, x);
    arg(b, a, &n, DNNL_ARG_MEAN, M_MEAN, mean);
    arg(b, a, &n, DNNL_ARG_VARIANCE, M_VAR, var);
    arg(b, a, &n, DNNL_ARG_DIFF_DST, M_DDST, dy);
    arg(b, a, &n, DNNL_ARG_DIFF_SRC, M_DSRC, dxo);
    if (b->mask_bytes) arg(b, a, &n, DNNL_ARG_WORKSPACE, M_MASK, mask);
    if (b->scale) {
        arg(b, a, &n, DNNL_ARG_SCALE, M_SCALE, gamma);
        arg(b, a, &n, DNNL_ARG_DIFF_SCALE, M_DSCALE, dgo);
    }
    if (b->shift) {
        arg(b, a, &n, DNNL_ARG_SHIFT, M_SHIFT, beta);
        arg(b, a, &n, DNNL_ARG_DIFF_SHIFT, M_DSHIFT, dbo);
    }
    dnnl_status_t st = nnc_dnnl_run(&b->bwd, b->stream, n, a, ws);
    if (st != dnnl_success) return failed(b, "backward", b->bwd.impl, st);
    const int64_t C = b->C, total = b->N * C * b->L;
    if (dx && acc_x) {
#pragma omp parallel for simd schedule(static) if (parallel: total > 65536)
        for (int64_t i = 0; i < total; i++) dx[i] += dxo[i];
    }
    if (dgamma && acc_g && b->scale)
        for (int64_t c = 0; c < C; c++) dgamma[c] += dgo[c];
    if (dbeta && acc_b && b->shift)
        for (int64_t c = 0; c < C; c++) dbeta[c] += dbo[c];
    return NNC_OK;
}
