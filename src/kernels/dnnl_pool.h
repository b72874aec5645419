/* dnnl_pool.h -- 2-D max and average pooling through oneDNN's pooling
 * primitives on plain tensors x [N,C,H,W], y [N,C,OH,OW] (geometry as in
 * pool.h, PyTorch's rules). PyTorch's ceil_mode becomes extra right/bottom
 * padding; count_include_pad=0 is oneDNN's avg_exclude_padding, and
 * count_include_pad=1 is avg_include_padding only where no window reaches
 * past the explicit padding (oneDNN would divide by the full window there,
 * PyTorch by the part inside the padded input): other geometries give an
 * object that nnc_dnnl_pool_ok() rejects. Max pooling's backward reads a
 * oneDNN workspace written by the training forward (kept by the caller
 * from forward to backward). One object per geometry, kind, mode and
 * thread count, made at compile time; scratch lives in the caller's
 * workspace, so a pass allocates nothing. */
#ifndef NNC_KERNELS_DNNL_POOL_H
#define NNC_KERNELS_DNNL_POOL_H
#include "kernels/pool.h"
#include "nnc.h"
#include <stddef.h>

typedef struct nnc_dnnl_pool nnc_dnnl_pool;

/* max != 0: max pooling, else average (g->count_include_pad); training: with
 * backward. NULL only when out of memory. */
nnc_dnnl_pool *nnc_dnnl_pool_new(const nnc_pool_geom *g, int max, int training);
void nnc_dnnl_pool_free(nnc_dnnl_pool *p);
/* 1 when the geometry maps exactly and oneDNN has a fast implementation. */
int nnc_dnnl_pool_ok(const nnc_dnnl_pool *p);
int nnc_dnnl_pool_matches(const nnc_dnnl_pool *p, const nnc_pool_geom *g, int max, int training);
/* Implementation names (pass 0 forward, 1 backward; "" when absent). */
const char *nnc_dnnl_pool_impl(const nnc_dnnl_pool *p, int pass);

/* Bytes of the forward-to-backward workspace (max pooling, training; else 0). */
size_t nnc_dnnl_pool_saved_bytes(const nnc_dnnl_pool *p);
/* Workspace bytes of forward, and of backward when dx is overwritten
 * directly (direct_dx) or added through a buffer. */
size_t nnc_dnnl_pool_ws_forward(const nnc_dnnl_pool *p);
size_t nnc_dnnl_pool_ws_backward(const nnc_dnnl_pool *p, int direct_dx);

/* y = pool(x); saved: nnc_dnnl_pool_saved_bytes(p) bytes (NULL when 0). */
nnc_status nnc_dnnl_pool_forward(nnc_dnnl_pool *p, const float *x, float *y, void *saved, void *ws);
/* Training objects only: dx (+)= pool backward of dy (acc_x = add), with
 * forward's saved workspace. */
nnc_status nnc_dnnl_pool_backward(nnc_dnnl_pool *p, const float *dy, float *dx, int acc_x, const void *saved, void *ws);
#endif
