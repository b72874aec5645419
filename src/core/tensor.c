/* tensor.c -- dtype sizes, element counts with overflow checks, owned tensors. */
#include "nnc.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t nnc_dtype_size(nnc_dtype dt) {
    switch (dt) {
    case NNC_F32: return 4;
    case NNC_I32: return 4;
    case NNC_I64: return 8;
    case NNC_U8: return 1;
    case NNC_F64: return 8;
    }
    return 0;
}

const char *nnc_dtype_name(nnc_dtype dt) {
    switch (dt) {
    case NNC_F32: return "f32";
    case NNC_I32: return "i32";
    case NNC_I64: return "i64";
    case NNC_U8: return "u8";
    case NNC_F64: return "f64";
    }
    return "?";
}

int64_t nnc_tensor_numel(const nnc_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

size_t nnc_tensor_bytes(const nnc_tensor *t) {
    if (t->layout == NNC_LAYOUT_BLOCKED16 && t->ndim >= 2 && t->shape[1] > 0) {
        int64_t n = nnc_tensor_numel(t) / t->shape[1] * ((t->shape[1] + 15) / 16 * 16);
        return (size_t)n * nnc_dtype_size(t->dtype);
    }
    return (size_t)nnc_tensor_numel(t) * nnc_dtype_size(t->dtype);
}

nnc_status nnc_tensor_alloc(nnc_tensor *t, nnc_dtype dt, int ndim, const int64_t *shape) {
    if (!t) return nnc_error(NNC_ERR_ARG, "nnc_tensor_alloc: tensor is NULL");
    if (ndim < 0 || ndim > NNC_MAX_DIMS)
        return nnc_error(NNC_ERR_ARG, "nnc_tensor_alloc: ndim %d outside 0..%d", ndim, NNC_MAX_DIMS);
    if (ndim > 0 && !shape) return nnc_error(NNC_ERR_ARG, "nnc_tensor_alloc: shape is NULL");
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return nnc_error(NNC_ERR_ARG, "nnc_tensor_alloc: dimension %d is negative (%lld)", i, (long long)shape[i]);
        if (shape[i] > 0 && n > INT64_MAX / 8 / shape[i])
            return nnc_error(NNC_ERR_ARG, "nnc_tensor_alloc: shape overflows 64-bit size at dimension %d", i);
        n *= shape[i];
    }
    memset(t, 0, sizeof *t);
    t->dtype = dt;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    size_t bytes = (size_t)n * nnc_dtype_size(dt);
    t->data = calloc(bytes ? bytes : 1, 1);
    if (!t->data) return nnc_error(NNC_ERR_OOM, "nnc_tensor_alloc: cannot allocate %zu bytes", bytes);
    return NNC_OK;
}

void nnc_tensor_free(nnc_tensor *t) {
    if (!t) return;
    free(t->data);
    t->data = NULL;
}

const char *nnc_shape_str(const nnc_tensor *t, char *buf, size_t n) {
    size_t k = 0;
    k += (size_t)snprintf(buf + k, n - k, "[");
    for (int i = 0; i < t->ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, i ? ", %lld" : "%lld", (long long)t->shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}

nnc_status nnc_tensor_read_plain(const nnc_tensor *t, float *dst) {
    if (!t || !dst || !t->data) return nnc_error(NNC_ERR_ARG, "nnc_tensor_read_plain: NULL tensor, data or destination");
    if (t->dtype != NNC_F32) return nnc_error(NNC_ERR_ARG, "nnc_tensor_read_plain: tensor is %s, not f32", nnc_dtype_name(t->dtype));
    const float *src = t->data;
    int64_t n = nnc_tensor_numel(t);
    if (t->layout == NNC_LAYOUT_PLAIN && t->bstride && t->ndim >= 1 && t->shape[0] > 0) { /* a window: image by image */
        int64_t per = n / t->shape[0];
        for (int64_t i = 0; i < t->shape[0]; i++) memcpy(dst + i * per, src + i * t->bstride, (size_t)per * sizeof(float));
        return NNC_OK;
    }
    if (t->layout == NNC_LAYOUT_PLAIN) {
        memcpy(dst, src, (size_t)n * sizeof(float));
        return NNC_OK;
    }
    if (t->ndim < 2) return nnc_error(NNC_ERR_ARG, "nnc_tensor_read_plain: a blocked tensor needs [N, C, ...]");
    int64_t N = t->shape[0], C = t->shape[1], CB = (C + 15) / 16, L = N * C != 0 ? n / (N * C) : 0;
    for (int64_t i = 0; i < N; i++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t l = 0; l < L; l++) dst[(i * C + c) * L + l] = src[((i * CB + c / 16) * L + l) * 16 + c % 16];
    return NNC_OK;
}
