/* dnnl_bn.h -- batch normalization through oneDNN's batch-normalization
 * primitives on plain tensors: x, y [N, C, L] (row-major, any trailing dims
 * flattened into L), per-channel gamma, beta, mean, variance [C].
 * oneDNN's statistics are the batch mean and the BIASED variance; the op
 * (ops/batchnorm.c) does PyTorch's running-statistics update from them.
 * Plain layout: oneDNN's jit kernels want blocked (nChw16c) or nhwc
 * tensors, which would cost two reorders per tensor here, so this runs its
 * ncsp kernel, which measured slower than ops/batchnorm.c's plain kernel in
 * ResNet-20 (hence opt-in there); it becomes worth it when blocked layouts
 * flow between oneDNN ops. One nnc_dnnl_bn holds the
 * primitives of one shape, eps, affine flags, mode and thread count: create
 * it at compile time, reuse it every step; the scratchpad and the buffers
 * for accumulated gradients live in the caller's workspace. */
#ifndef NNC_KERNELS_DNNL_BN_H
#define NNC_KERNELS_DNNL_BN_H
#include "nnc.h"
#include <stddef.h>
#include <stdint.h>

typedef struct nnc_dnnl_bn nnc_dnnl_bn;

/* blocked: x, y, dy and dx are stored blocked by 16 channels ([N, C/16, L, 16],
 * oneDNN's nChw16c; C a multiple of 16), where oneDNN runs its jit kernels
 * without reorders. */
/* Primitives for x [N, C, L] with gamma (scale != 0) and beta (shift != 0);
 * training: forward with batch statistics and backward; otherwise forward
 * with given (running) statistics. NULL only when out of memory; shapes
 * oneDNN covers only with reference code give an object nnc_dnnl_bn_ok()
 * rejects. */
nnc_dnnl_bn *nnc_dnnl_bn_new(int64_t N, int64_t C, int64_t L, float eps, int scale, int shift, int training, int blocked, int relu);
void nnc_dnnl_bn_free(nnc_dnnl_bn *b);
int nnc_dnnl_bn_ok(const nnc_dnnl_bn *b);
/* 1 when b was made for these arguments and the current thread count. */
int nnc_dnnl_bn_matches(const nnc_dnnl_bn *b, int64_t N, int64_t C, int64_t L, float eps, int scale, int shift, int training,
                        int blocked, int relu);
/* relu: y = max(0, BN(x)) (oneDNN's fused ReLU); in training the forward
 * writes a mask (nnc_dnnl_bn_relu_mask_bytes) that backward reads to apply
 * the ReLU's derivative to dy. */
size_t nnc_dnnl_bn_relu_mask_bytes(const nnc_dnnl_bn *b);
/* Implementation names (pass 0 forward, 1 backward; "" when absent). */
const char *nnc_dnnl_bn_impl(const nnc_dnnl_bn *b, int pass);

/* Workspace bytes (64-byte aligned buffers) of forward, and of backward
 * when dx is written directly (direct_dx: wanted and overwritten) or not. */
size_t nnc_dnnl_bn_ws_forward(const nnc_dnnl_bn *b);
size_t nnc_dnnl_bn_ws_backward(const nnc_dnnl_bn *b, int direct_dx);

/* y = (x - mean) / sqrt(var + eps) * gamma + beta (gamma, beta NULL when made
 * without). Training: mean and var [C] are written (batch mean, biased
 * variance); inference: they are read (running statistics). */
nnc_status nnc_dnnl_bn_forward(nnc_dnnl_bn *b, const float *x, const float *gamma, const float *beta, float *mean, float *var,
                               float *y, void *mask, void *ws);
/* Training objects only, with forward's mean and var (beta is not used, but
 * oneDNN wants it bound). NULL gradients are not wanted; acc_* = add to them
 * instead of overwriting. */
nnc_status nnc_dnnl_bn_backward(nnc_dnnl_bn *b, const float *x, const float *gamma, const float *beta, const float *mean, const float *var,
                                const void *mask, const float *dy, float *dx, int acc_x, float *dgamma, int acc_g, float *dbeta,
                                int acc_b, void *ws);
#endif
