/* dnnl_conv.h -- 2-D convolution through oneDNN's convolution primitives on
 * plain tensors: x [N,C,H,W], w [K,C/groups,R,S], b [K], y [N,K,OH,OW]
 * (geometry as in conv.h). oneDNN chooses its own (blocked) layouts; the
 * passes reorder between the caller's plain tensors and buffers in the
 * caller's workspace, and oneDNN's scratchpad lives there too, so a pass
 * allocates nothing of ours. One nnc_dnnl_conv holds the primitives of one
 * geometry, mode (inference / training) and thread count: create it at
 * compile time, reuse it every step. A fixed thread count gives bitwise
 * repeatable results. The only place that speaks the oneDNN 2.x API for
 * convolutions (3.x differs). */
#ifndef NNC_KERNELS_DNNL_CONV_H
#define NNC_KERNELS_DNNL_CONV_H
#include "kernels/conv.h"
#include "nnc.h"
#include <stddef.h>

typedef struct nnc_dnnl_conv nnc_dnnl_conv;

/* Primitives for g, with a bias when bias != 0, with backward-data and
 * backward-weights when training != 0 (their outputs may overwrite or add).
 * NULL only when out of memory; a geometry oneDNN only covers with its slow
 * reference code gives an object that nnc_dnnl_conv_ok() rejects. */
nnc_dnnl_conv *nnc_dnnl_conv_new(const nnc_conv_geom *g, int bias, int training, int blocked);
void nnc_dnnl_conv_free(nnc_dnnl_conv *c);
/* 1 when oneDNN has a fast implementation for every pass. */
int nnc_dnnl_conv_ok(const nnc_dnnl_conv *c);
/* 1 when c was made for this geometry, bias, mode and the current thread count. */
int nnc_dnnl_conv_matches(const nnc_dnnl_conv *c, const nnc_conv_geom *g, int bias, int training, int blocked);
/* blocked: which of the caller's x (and dx) and y (and dy) are stored blocked
 * (nChw16c, C a multiple of 16) instead of plain NCHW; DX_BLOCKED: dx alone
 * is (nChw16c with C padded to a multiple of 16), x plain. */
#define NNC_DNNL_CONV_X_BLOCKED 1
#define NNC_DNNL_CONV_Y_BLOCKED 2
#define NNC_DNNL_CONV_DX_BLOCKED 4
/* oneDNN's implementation names, e.g. "jit:avx512_common" (pass 0 forward,
 * 1 backward-data, 2 backward-weights; "" when absent). */
const char *nnc_dnnl_conv_impl(const nnc_dnnl_conv *c, int pass);

/* Workspace bytes of forward, and of backward for the gradients wanted
 * (need_*) and whether each is added to the caller's tensor (acc_*) or
 * overwrites it. */
size_t nnc_dnnl_conv_ws_forward(const nnc_dnnl_conv *c);
size_t nnc_dnnl_conv_ws_backward(const nnc_dnnl_conv *c, int need_dx, int acc_x, int need_dw, int acc_w);

/* 1 when pass `which` (0 forward, 2 backward-weights) takes x in its
 * workspace nChw16c with the channels padded to a multiple of 16 (zeros in
 * the padding), the layout oneDNN reorders a plain x into: a caller that
 * can write x in that layout itself writes it there instead (forward:
 * nnc_dnnl_conv_x_slot and x = NULL; backward: nnc_dnnl_conv_backward_fill),
 * saving the reorder. 0 when the pass wants another layout (or no reorder). */
int nnc_dnnl_conv_has_x_slot(const nnc_dnnl_conv *c, int which);
/* Forward's slot in ws; NULL when it has none. */
float *nnc_dnnl_conv_x_slot(const nnc_dnnl_conv *c, void *ws);

/* y = conv(x, w) + b (b NULL when made without bias). ws: 64-byte aligned,
 * at least nnc_dnnl_conv_ws_forward(c) bytes. x NULL: already in its slot. */
nnc_status nnc_dnnl_conv_forward(nnc_dnnl_conv *c, const float *x, const float *w, const float *b, float *y, void *ws);
/* Training objects only; a NULL gradient is not wanted, acc_* = add.
 *   dx (+)= backward-data(w, dy)
 *   dw (+)= backward-weights(x, dy), and with dw, when made with a bias,
 *   db (+)= sum of dy per channel.
 * ws: nnc_dnnl_conv_ws_backward(c, dx != NULL, acc_x, dw != NULL, acc_w) bytes. */
nnc_status nnc_dnnl_conv_backward(nnc_dnnl_conv *c, const float *x, const float *w, const float *dy, float *dx, int acc_x,
                                  float *dw, int acc_w, float *db, int acc_b, void *ws);
/* The same with dw, x written by fill(ctx, slot) into backward-weights' slot
 * (nnc_dnnl_conv_has_x_slot) after backward-data ran: one call, so
 * dy is reordered once for both passes where they share its layout. */
nnc_status nnc_dnnl_conv_backward_fill(nnc_dnnl_conv *c, void (*fill)(void *ctx, float *slot), void *ctx, const float *w,
                                       const float *dy, float *dx, int acc_x, float *dw, int acc_w, float *db, int acc_b, void *ws);
#endif
