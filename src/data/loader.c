/* loader.c -- batches of a dataset in a seeded random order, on the training
 * hot path: nnc_loader_next only copies (one memcpy per sample) and never
 * allocates. The order of epoch e depends only on (seed, e): a Fisher-Yates
 * shuffle of the identity, i = n-1 .. 1, swapping i with
 * j = floor(r * (i+1) / 2^64), r = nnc_rand_u64(seed, NNC_STREAM_SHUFFLE, e*2^32 + i),
 * so a resumed run replays the same batches. The last partial batch is kept. */
#include "nnc.h"
#include <stdlib.h>
#include <string.h>

struct nnc_loader {
    const nnc_dataset *ds;
    int64_t n, batch, pos;
    size_t sample_bytes; /* bytes of one sample of x */
    int shuffle;
    uint64_t seed;
    int64_t *order; /* [n] sample indices of the current epoch */
};

nnc_status nnc_loader_new(const nnc_dataset *ds, int64_t batch, int shuffle, uint64_t seed, nnc_loader **out) {
    if (!out) return nnc_error(NNC_ERR_ARG, "nnc_loader_new: out is NULL");
    *out = NULL;
    if (!ds || !ds->x.data || !ds->y.data) return nnc_error(NNC_ERR_ARG, "nnc_loader_new: dataset is NULL or empty");
    if (ds->n < 1 || ds->x.ndim < 1 || ds->x.shape[0] != ds->n || ds->y.shape[0] != ds->n)
        return nnc_error(NNC_ERR_ARG, "nnc_loader_new: dataset of %lld samples has x with %lld and y with %lld",
                         (long long)ds->n, (long long)(ds->x.ndim ? ds->x.shape[0] : 0), (long long)ds->y.shape[0]);
    if (ds->x.dtype != NNC_F32) return nnc_error(NNC_ERR_ARG, "nnc_loader_new: x is %s (expected f32)", nnc_dtype_name(ds->x.dtype));
    if (ds->y.dtype != NNC_I64 && ds->y.dtype != NNC_I32)
        return nnc_error(NNC_ERR_ARG, "nnc_loader_new: y is %s (expected i64 or i32)", nnc_dtype_name(ds->y.dtype));
    if (batch < 1) return nnc_error(NNC_ERR_ARG, "nnc_loader_new: batch %lld (expected >= 1)", (long long)batch);
    nnc_loader *l = calloc(1, sizeof *l);
    if (!l) return nnc_error(NNC_ERR_OOM, "nnc_loader_new: cannot allocate the loader");
    l->order = malloc((size_t)ds->n * sizeof *l->order);
    if (!l->order) {
        free(l);
        return nnc_error(NNC_ERR_OOM, "nnc_loader_new: cannot allocate the order of %lld samples", (long long)ds->n);
    }
    l->ds = ds;
    l->n = ds->n;
    l->batch = batch;
    l->sample_bytes = nnc_tensor_bytes(&ds->x) / (size_t)ds->n;
    l->shuffle = shuffle;
    l->seed = seed;
    nnc_loader_start_epoch(l, 0);
    *out = l;
    return NNC_OK;
}

void nnc_loader_start_epoch(nnc_loader *l, uint64_t epoch) {
    if (!l) return;
    int64_t *o = l->order;
    for (int64_t i = 0; i < l->n; i++) o[i] = i;
    if (l->shuffle) {
        uint64_t base = epoch << 32;
        for (int64_t i = l->n - 1; i > 0; i--) {
            uint64_t r = nnc_rand_u64(l->seed, NNC_STREAM_SHUFFLE, base + (uint64_t)i);
            int64_t j = (int64_t)(((unsigned __int128)r * (uint64_t)(i + 1)) >> 64); /* bias < (i+1)/2^64 */
            int64_t t = o[i];
            o[i] = o[j];
            o[j] = t;
        }
    }
    l->pos = 0;
}

int64_t nnc_loader_next(nnc_loader *l, float *x_out, void *y_out, nnc_dtype ydt) {
    if (!l || !x_out) { /* y_out may be NULL: samples only (reconstruction models) */
        nnc_error(NNC_ERR_ARG, "nnc_loader_next: loader or output is NULL");
        return -1;
    }
    if (ydt != NNC_I64 && ydt != NNC_I32) {
        nnc_error(NNC_ERR_ARG, "nnc_loader_next: labels as %s (expected i64 or i32)", nnc_dtype_name(ydt));
        return -1;
    }
    int64_t k = l->n - l->pos < l->batch ? l->n - l->pos : l->batch;
    if (k <= 0) return 0;
    const int64_t *o = l->order + l->pos;
    const char *xs = l->ds->x.data;
    char *xd = (char *)x_out;
    size_t sb = l->sample_bytes;
    if (!l->shuffle) memcpy(xd, xs + (size_t)o[0] * sb, (size_t)k * sb); /* contiguous run */
    else
        for (int64_t i = 0; i < k; i++) memcpy(xd + (size_t)i * sb, xs + (size_t)o[i] * sb, sb);
    int src64 = l->ds->y.dtype == NNC_I64;
    const int64_t *y64 = l->ds->y.data;
    const int32_t *y32 = l->ds->y.data;
    for (int64_t i = 0; y_out && i < k; i++) {
        int64_t v = src64 ? y64[o[i]] : y32[o[i]];
        if (ydt == NNC_I64) ((int64_t *)y_out)[i] = v;
        else ((int32_t *)y_out)[i] = (int32_t)v;
    }
    l->pos += k;
    return k;
}

int64_t nnc_loader_batches_per_epoch(const nnc_loader *l) {
    return l ? (l->n + l->batch - 1) / l->batch : 0;
}

void nnc_loader_free(nnc_loader *l) {
    if (!l) return;
    free(l->order);
    free(l);
}
