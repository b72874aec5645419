/* dnnl_pool.c -- 2-D pooling through oneDNN 2.x (see dnnl_pool.h). oneDNN
 * has fast (jit) kernels for plain nchw pooling, so the caller's buffers are
 * bound directly; only a gradient that must be added goes through a
 * workspace buffer. Workspace: [scratchpad | dx buffer]. */
#include "kernels/dnnl_pool.h"
#include "kernels/dnnl_prim.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>

enum { M_SRC, M_DST, M_WS, M_DDST, M_DSRC, M_COUNT };

struct nnc_dnnl_pool {
    nnc_pool_geom g;
    int max, training, threads, ok;
    size_t saved_bytes;
    dnnl_stream_t stream;
    nnc_dnnl_prim fwd, bwd;
    dnnl_memory_t m[M_COUNT];
};

/* Right padding that gives PyTorch's output size: the explicit padding when
 * oneDNN's floor rule already does, else what the ceil-mode output needs. */
static int64_t pad_right(int64_t in, int64_t k, int64_t s, int64_t p, int64_t out) {
    if ((in + 2 * p - k) / s + 1 == out) return p;
    return (out - 1) * s + k - in - p;
}

static int build(nnc_dnnl_pool *p) {
    const nnc_pool_geom *g = &p->g;
    int64_t prh = pad_right(g->H, g->kh, g->sh, g->ph, g->OH), prw = pad_right(g->W, g->kw, g->sw, g->pw, g->OW);
    /* PyTorch's divisor with padding counted is the window clipped to the
     * padded input; oneDNN's the whole window: equal only without overhang */
    if (!p->max && g->count_include_pad && (prh > g->ph || prw > g->pw)) return 0;
    dnnl_alg_kind_t alg = p->max                ? dnnl_pooling_max
                          : g->count_include_pad ? dnnl_pooling_avg_include_padding
                                                 : dnnl_pooling_avg_exclude_padding;
    dnnl_memory_desc_t x, y;
    dnnl_dims_t xd = {g->N, g->C, g->H, g->W}, yd = {g->N, g->C, g->OH, g->OW};
    dnnl_dims_t st = {g->sh, g->sw}, k = {g->kh, g->kw}, pl = {g->ph, g->pw}, pr = {prh, prw};
    if (dnnl_memory_desc_init_by_tag(&x, 4, xd, dnnl_f32, dnnl_nchw) != dnnl_success ||
        dnnl_memory_desc_init_by_tag(&y, 4, yd, dnnl_f32, dnnl_nchw) != dnnl_success)
        return 0;
    dnnl_pooling_desc_t d;
    if (dnnl_pooling_forward_desc_init(&d, p->training ? dnnl_forward_training : dnnl_forward_inference, alg, &x, &y, st, k, pl, pr) !=
        dnnl_success)
        return 0;
    dnnl_primitive_desc_t fpd = nnc_dnnl_pd(&d, NULL);
    if (!fpd) return 0;
    int ok = nnc_dnnl_prim_make(&p->fwd, fpd) && nnc_dnnl_prim_fast(&p->fwd);
    const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(fpd, dnnl_query_workspace_md, 0);
    p->saved_bytes = wmd ? dnnl_memory_desc_get_size(wmd) : 0;
    if (ok && p->saved_bytes) ok = (p->m[M_WS] = nnc_dnnl_mem(wmd)) != NULL;
    if (ok && p->training) {
        dnnl_primitive_desc_t bpd = NULL;
        ok = dnnl_pooling_backward_desc_init(&d, alg, &x, &y, st, k, pl, pr) == dnnl_success && (bpd = nnc_dnnl_pd(&d, fpd)) != NULL &&
             nnc_dnnl_prim_make(&p->bwd, bpd) && nnc_dnnl_prim_fast(&p->bwd);
        if (bpd) dnnl_primitive_desc_destroy(bpd);
    }
    dnnl_primitive_desc_destroy(fpd);
    ok = ok && (p->m[M_SRC] = nnc_dnnl_mem(&x)) && (p->m[M_DSRC] = nnc_dnnl_mem(&x)) && (p->m[M_DST] = nnc_dnnl_mem(&y)) &&
         (p->m[M_DDST] = nnc_dnnl_mem(&y));
    return ok && dnnl_stream_create(&p->stream, nnc_dnnl_engine(), dnnl_stream_default_flags) == dnnl_success;
}

nnc_dnnl_pool *nnc_dnnl_pool_new(const nnc_pool_geom *g, int max, int training) {
    nnc_dnnl_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->g = *g;
    p->max = max != 0;
    p->training = training != 0;
    p->threads = omp_get_max_threads();
    p->ok = nnc_dnnl_engine() && build(p);
    return p;
}

void nnc_dnnl_pool_free(nnc_dnnl_pool *p) {
    if (!p) return;
    nnc_dnnl_prim_free(&p->fwd);
    nnc_dnnl_prim_free(&p->bwd);
    for (int i = 0; i < M_COUNT; i++)
        if (p->m[i]) dnnl_memory_destroy(p->m[i]);
    if (p->stream) dnnl_stream_destroy(p->stream);
    free(p);
}

int nnc_dnnl_pool_ok(const nnc_dnnl_pool *p) { return p && p->ok; }

static int same_geom(const nnc_pool_geom *a, const nnc_pool_geom *b) {
    return a->N == b->N && a->C == b->C && a->H == b->H && a->W == b->W && a->OH == b->OH && a->OW == b->OW && a->kh == b->kh &&
           a->kw == b->kw && a->sh == b->sh && a->sw == b->sw && a->ph == b->ph && a->pw == b->pw &&
           a->count_include_pad == b->count_include_pad;
}

int nnc_dnnl_pool_matches(const nnc_dnnl_pool *p, const nnc_pool_geom *g, int max, int training) {
    return p && same_geom(&p->g, g) && p->max == (max != 0) && p->training == (training != 0) &&
           p->threads == omp_get_max_threads();
}

const char *nnc_dnnl_pool_impl(const nnc_dnnl_pool *p, int pass) {
    if (!p) return "";
    return pass == 0 ? p->fwd.impl : pass == 1 && p->bwd.p ? p->bwd.impl : "";
}

static size_t up64(size_t n) { return (n + 63) / 64 * 64; }
size_t nnc_dnnl_pool_saved_bytes(const nnc_dnnl_pool *p) { return p->training ? p->saved_bytes : 0; }
size_t nnc_dnnl_pool_ws_forward(const nnc_dnnl_pool *p) { return up64(p->fwd.scratch_bytes); }
size_t nnc_dnnl_pool_ws_backward(const nnc_dnnl_pool *p, int direct_dx) {
    if (!p->training) return 0;
    size_t dx = (size_t)(p->g.N * p->g.C * p->g.H * p->g.W) * sizeof(float);
    return up64(p->bwd.scratch_bytes) + (direct_dx ? 0 : up64(dx));
}

static nnc_status failed(const nnc_dnnl_pool *p, const char *what, const char *impl, dnnl_status_t st) {
    return nnc_error(st == dnnl_out_of_memory ? NNC_ERR_OOM : NNC_ERR_UNSUPPORTED, "%s: oneDNN %s (%s) failed with status %d",
                     p->max ? "maxpool2d" : "avgpool2d", what, impl, (int)st);
}

static void arg(nnc_dnnl_pool *p, dnnl_exec_arg_t *a, int *n, int dnnl_arg, int i, const void *buf) {
    nnc_dnnl_arg(a, n, dnnl_arg, p->m[i], buf, p->stream);
}

nnc_status nnc_dnnl_pool_forward(nnc_dnnl_pool *p, const float *x, float *y, void *saved, void *ws) {
    dnnl_exec_arg_t a[3];
    int n = 0;
    arg(p, a, &n, DNNL_ARG_SRC, M_SRC, x);
    arg(p, a, &n, DNNL_ARG_DST, M_DST, y);
    if (p->saved_bytes) arg(p, a, &n, DNNL_ARG_WORKSPACE, M_WS, saved);
    dnnl_status_t st = nnc_dnnl_run(&p->fwd, p->stream, n, a, ws);
    return st == dnnl_success ? NNC_OK : failed(p, "forward", p->fwd.impl, st);
}

nnc_status nnc_dnnl_pool_backward(nnc_dnnl_pool *p, const float *dy, float *dx, int acc_x, const void *saved, void *ws) {
    if (!p->training) return nnc_error(NNC_ERR_STATE, "pooling: oneDNN primitives were made for inference, not for backward");
    float *out = acc_x ? (float *)((char *)ws + up64(p->bwd.scratch_bytes)) : dx;
    dnnl_exec_arg_t a[3];
    int n = 0;
    arg(p, a, &n, DNNL_ARG_DIFF_DST, M_DDST, dy);
    arg(p, a, &n, DNNL_ARG_DIFF_SRC, M_DSRC, out);
    if (p->saved_bytes) arg(p, a, &n, DNNL_ARG_WORKSPACE, M_WS, saved);
    dnnl_status_t st = nnc_dnnl_run(&p->bwd, p->stream, n, a, ws);
    if (st != dnnl_success) return failed(p, "backward", p->bwd.impl, st);
    if (acc_x) {
        const int64_t total = p->g.N * p->g.C * p->g.H * p->g.W;
#pragma omp parallel for simd schedule(static) if (parallel: total > 65536)
        for (int64_t i = 0; i < total; i++) dx[i] += out[i];
    }
    return NNC_OK;
}
