/* adapt.c -- fitting image data to a model's input shape: channels are
 * replicated (1 -> C) or averaged (C -> 1); the image is zero-padded around
 * the centre when the target is at least as large in both dimensions, and
 * resized bilinearly (align_corners = false, as PyTorch) otherwise. Padding
 * with 0 after normalization pads with the data's mean. */
#include "nnc.h"
#include <stdlib.h>
#include <string.h>

static float sample(const float *img, int64_t h, int64_t w, double y, double x) {
    /* bilinear at continuous (y, x) in source pixel coordinates, clamped */
    if (y < 0) y = 0;
    if (x < 0) x = 0;
    int64_t y0 = (int64_t)y, x0 = (int64_t)x;
    if (y0 > h - 1) y0 = h - 1;
    if (x0 > w - 1) x0 = w - 1;
    int64_t y1 = y0 + 1 < h ? y0 + 1 : y0, x1 = x0 + 1 < w ? x0 + 1 : x0;
    double fy = y - (double)y0, fx = x - (double)x0;
    if (fy > 1) fy = 1;
    if (fx > 1) fx = 1;
    double a = img[y0 * w + x0] * (1 - fx) + img[y0 * w + x1] * fx;
    double b = img[y1 * w + x0] * (1 - fx) + img[y1 * w + x1] * fx;
    return (float)(a * (1 - fy) + b * fy);
}

nnc_status nnc_dataset_adapt(const nnc_dataset *src, int64_t C, int64_t H, int64_t W, nnc_dataset *dst) {
    if (!src || !dst) return nnc_error(NNC_ERR_ARG, "nnc_dataset_adapt: NULL argument");
    if (src->x.ndim != 4 || src->x.dtype != NNC_F32) return nnc_error(NNC_ERR_ARG, "nnc_dataset_adapt: x must be f32 [N, C, H, W]");
    if (C < 1 || H < 1 || W < 1 || C > 4096 || H > 16384 || W > 16384)
        return nnc_error(NNC_ERR_ARG, "nnc_dataset_adapt: target %lldx%lldx%lld out of range", (long long)C, (long long)H, (long long)W);
    int64_t N = src->x.shape[0], c = src->x.shape[1], h = src->x.shape[2], w = src->x.shape[3];
    if (c != C && c != 1 && C != 1)
        return nnc_error(NNC_ERR_SHAPE, "cannot adapt %lld-channel data to %lld channels (only 1 -> C and C -> 1)", (long long)c, (long long)C);
    nnc_dataset d = {0};
    nnc_status s = nnc_tensor_alloc(&d.x, NNC_F32, 4, (int64_t[]){N, C, H, W});
    if (!s) s = nnc_tensor_alloc(&d.y, src->y.dtype, src->y.ndim, src->y.shape);
    if (s) { nnc_dataset_free(&d); return s; }
    memcpy(d.y.data, src->y.data, nnc_tensor_bytes(&src->y));
    d.n = N;
    d.n_classes = src->n_classes;
    float *plane = malloc((size_t)(h * w) * sizeof(float));
    if (!plane) { nnc_dataset_free(&d); return nnc_error(NNC_ERR_OOM, "nnc_dataset_adapt: out of memory"); }
    int pad = H >= h && W >= w;
    int64_t top = (H - h) / 2, left = (W - w) / 2;
    for (int64_t n = 0; n < N; n++) {
        const float *xs = (const float *)src->x.data + n * c * h * w;
        float *xd = (float *)d.x.data + n * C * H * W;
        for (int64_t k = 0; k < C; k++) {
            /* the source plane for output channel k */
            if (c == C) memcpy(plane, xs + k * h * w, (size_t)(h * w) * sizeof(float));
            else if (c == 1) memcpy(plane, xs, (size_t)(h * w) * sizeof(float));
            else
                for (int64_t i = 0; i < h * w; i++) {
                    double sum = 0;
                    for (int64_t j = 0; j < c; j++) sum += xs[j * h * w + i];
                    plane[i] = (float)(sum / (double)c);
                }
            float *o = xd + k * H * W;
            if (pad) {
                for (int64_t y = 0; y < h; y++) memcpy(o + (y + top) * W + left, plane + y * w, (size_t)w * sizeof(float));
            } else {
                double sy = (double)h / (double)H, sx = (double)w / (double)W;
                for (int64_t y = 0; y < H; y++)
                    for (int64_t x = 0; x < W; x++) o[y * W + x] = sample(plane, h, w, (y + 0.5) * sy - 0.5, (x + 0.5) * sx - 0.5);
            }
        }
    }
    free(plane);
    *dst = d;
    return NNC_OK;
}
