/* dnnl_matmul.h -- a fully connected forward product through oneDNN's
 * matmul primitive: y[M,N] = x[M,K] w[N,K]^T (+ b[N]), all row-major, w in
 * PyTorch's [out, in] order.
 *
 * Why not sgemm: oneDNN's sgemm repacks a transposed B on every call, which
 * halves its speed on some shapes (128x1024x1024: 105 vs 210 GFLOP/s on
 * 2 Zen 4 cores); the matmul primitive reads w's strides directly and fuses
 * the bias. It loses to sgemm on a single row (batch-1 latency: 15 vs 48
 * GFLOP/s on 1x120x400), so callers use it from NNC_MATMUL_MIN_ROWS rows.
 * One object per shape and thread count, made at compile time (kcache);
 * scratch lives in the caller's workspace, so a pass allocates nothing. */
#ifndef NNC_KERNELS_DNNL_MATMUL_H
#define NNC_KERNELS_DNNL_MATMUL_H
#include "nnc.h"
#include <stddef.h>
#include <stdint.h>

#define NNC_MATMUL_MIN_ROWS 16

typedef struct nnc_dnnl_matmul nnc_dnnl_matmul;

/* NULL only when out of memory; check nnc_dnnl_matmul_ok. */
nnc_dnnl_matmul *nnc_dnnl_matmul_new(int64_t M, int64_t N, int64_t K, int bias);
void nnc_dnnl_matmul_free(nnc_dnnl_matmul *p);
/* 1 when oneDNN made a fast (non-reference) implementation. */
int nnc_dnnl_matmul_ok(const nnc_dnnl_matmul *p);
int nnc_dnnl_matmul_matches(const nnc_dnnl_matmul *p, int64_t M, int64_t N, int64_t K, int bias);
const char *nnc_dnnl_matmul_impl(const nnc_dnnl_matmul *p);
size_t nnc_dnnl_matmul_ws(const nnc_dnnl_matmul *p);
/* y = x w^T (+ b); ws: nnc_dnnl_matmul_ws(p) bytes. */
nnc_status nnc_dnnl_matmul_forward(nnc_dnnl_matmul *p, const float *x, const float *w, const float *b, float *y, void *ws);
#endif
