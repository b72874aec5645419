/* conv_small.h -- direct convolution for layers with very few input
 * channels (a network's first layer: grayscale or RGB), on plain NCHW.
 *
 * Why: oneDNN pads channels to blocks of 16, so LeNet-5's conv1 (1 -> 6
 * channels, 5x5, 28x28) computes 16 output channels and then reorders a
 * 2.7x larger blocked tensor back to NCHW (and the gradient forward again):
 * on 2 Zen 4 cores its forward took 0.28 ms of a 1.85 ms training step, its
 * weight gradient 0.24 ms. Here the output stays NCHW and the work is the
 * real channel count.
 *
 * Kernels, vectorized over 16 output columns (GCC vector extensions: zmm
 * with AVX-512, pairs of ymm otherwise):
 *   forward: per output row and 16-column tile, 8 output channels at a time
 *     in registers; each input vector (a shifted row of the zero-padded
 *     image) feeds 8 FMAs with broadcast weights.
 *   weight gradient: per input channel, kernel row and 4 output channels,
 *     the 4 x S products of every tap in registers across all output rows of
 *     an image; images in fixed chunks summed in chunk order, so the result
 *     does not depend on the thread count.
 * The input gradient (rarely wanted for a first layer) and the bias
 * gradient are left to the caller. */
#ifndef NNC_KERNELS_CONV_SMALL_H
#define NNC_KERNELS_CONV_SMALL_H
#include "kernels/conv.h"
#include <stddef.h>

/* 1 when g is one this file handles: groups 1, stride 1, dilation 1,
 * C <= 4, K <= 64, S <= 7, OW >= 8 (and NNC_CONV_SMALL is not 0). */
int nnc_conv_small_ok(const nnc_conv_geom *g);
/* Workspace bytes for forward and weight gradient with `threads` threads. */
size_t nnc_conv_small_ws(const nnc_conv_geom *g, int threads);
/* y [N,K,OH,OW] = conv(x, w) + b (b may be NULL). */
void nnc_conv_small_forward(const nnc_conv_geom *g, const float *x, const float *w, const float *b, float *y, void *ws,
                            size_t ws_bytes);
/* dw [K,C,R,S] = (acc ? dw : 0) + sum over the batch of dy (x) x. */
void nnc_conv_small_backward_weights(const nnc_conv_geom *g, const float *x, const float *dy, float *dw, int acc, void *ws,
                                     size_t ws_bytes);
#endif
