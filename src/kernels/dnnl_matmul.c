/* dnnl_matmul.c -- fully connected forward through oneDNN's matmul (see
 * dnnl_matmul.h). The caller's buffers are bound directly: x as [M,K]
 * row-major, w as the [K,N] matrix with strides (1, K) (its transpose, no
 * copy), b as [1,N], y as [M,N]. */
#include "kernels/dnnl_matmul.h"
#include "kernels/dnnl_prim.h"
#include <omp.h>
#include <stdlib.h>

enum { M_SRC, M_WEI, M_BIAS, M_DST, M_COUNT };

struct nnc_dnnl_matmul {
    int64_t M, N, K;
    int bias, threads, ok;
    dnnl_stream_t stream;
    nnc_dnnl_prim prim;
    dnnl_memory_t m[M_COUNT];
};

static int build(nnc_dnnl_matmul *p) {
    dnnl_memory_desc_t x, w, b, y;
    dnnl_dims_t xd = {p->M, p->K}, wd = {p->K, p->N}, bd = {1, p->N}, yd = {p->M, p->N};
    dnnl_dims_t xs = {p->K, 1}, ws = {1, p->K}, bs = {p->N, 1}, ys = {p->N, 1};
    if (dnnl_memory_desc_init_by_strides(&x, 2, xd, dnnl_f32, xs) != dnnl_success ||
        dnnl_memory_desc_init_by_strides(&w, 2, wd, dnnl_f32, ws) != dnnl_success ||
        dnnl_memory_desc_init_by_strides(&b, 2, bd, dnnl_f32, bs) != dnnl_success ||
        dnnl_memory_desc_init_by_strides(&y, 2, yd, dnnl_f32, ys) != dnnl_success)
        return 0;
    dnnl_matmul_desc_t d;
    if (dnnl_matmul_desc_init(&d, &x, &w, p->bias ? &b : NULL, &y) != dnnl_success) return 0;
    dnnl_primitive_desc_t pd = nnc_dnnl_pd(&d, NULL);
    if (!pd) return 0;
    int ok = nnc_dnnl_prim_make(&p->prim, pd) && nnc_dnnl_prim_fast(&p->prim);
    dnnl_primitive_desc_destroy(pd);
    ok = ok && (p->m[M_SRC] = nnc_dnnl_mem(&x)) && (p->m[M_WEI] = nnc_dnnl_mem(&w)) && (p->m[M_DST] = nnc_dnnl_mem(&y)) &&
         (!p->bias || (p->m[M_BIAS] = nnc_dnnl_mem(&b)));
    return ok && dnnl_stream_create(&p->stream, nnc_dnnl_engine(), dnnl_stream_default_flags) == dnnl_success;
}

nnc_dnnl_matmul *nnc_dnnl_matmul_new(int64_t M, int64_t N, int64_t K, int bias) {
    nnc_dnnl_matmul *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->M = M;
    p->N = N;
    p->K = K;
    p->bias = bias != 0;
    p->threads = omp_get_max_threads();
    p->ok = M > 0 && N > 0 && K > 0 && nnc_dnnl_engine() && build(p);
    return p;
}

void nnc_dnnl_matmul_free(nnc_dnnl_matmul *p) {
    if (!p) return;
    nnc_dnnl_prim_free(&p->prim);
    for (int i = 0; i < M_COUNT; i++)
        if (p->m[i]) dnnl_memory_destroy(p->m[i]);
    if (p->stream) dnnl_stream_destroy(p->stream);
    free(p);
}

int nnc_dnnl_matmul_ok(const nnc_dnnl_matmul *p) { return p && p->ok; }

int nnc_dnnl_matmul_matches(const nnc_dnnl_matmul *p, int64_t M, int64_t N, int64_t K, int bias) {
    return p && p->M == M && p->N == N && p->K == K && p->bias == (bias != 0) && p->threads == omp_get_max_threads();
}

const char *nnc_dnnl_matmul_impl(const nnc_dnnl_matmul *p) { return p ? p->prim.impl : ""; }

size_t nnc_dnnl_matmul_ws(const nnc_dnnl_matmul *p) { return (p->prim.scratch_bytes + 63) / 64 * 64; }

static void arg(nnc_dnnl_matmul *p, dnnl_exec_arg_t *a, int *n, int dnnl_arg, int i, const void *buf) {
    nnc_dnnl_arg(a, n, dnnl_arg, p->m[i], buf, p->stream);
}

nnc_status nnc_dnnl_matmul_forward(nnc_dnnl_matmul *p, const float *x, const float *w, const float *b, float *y, void *ws) {
    dnnl_exec_arg_t a[4];
    int n = 0;
    arg(p, a, &n, DNNL_ARG_SRC, M_SRC, x);
    arg(p, a, &n, DNNL_ARG_WEIGHTS, M_WEI, w);
    if (p->bias) arg(p, a, &n, DNNL_ARG_BIAS, M_BIAS, b);
    arg(p, a, &n, DNNL_ARG_DST, M_DST, y);
    dnnl_status_t st = nnc_dnnl_run(&p->prim, p->stream, n, a, ws);
    if (st == dnnl_success) return NNC_OK;
    return nnc_error(st == dnnl_out_of_memory ? NNC_ERR_OOM : NNC_ERR_UNSUPPORTED, "linear: oneDNN matmul (%s) failed with status %d",
                     p->prim.impl, (int)st);
}
