/* dataset.c -- labelled datasets held in memory: x f32 [N,C,H,W] in [0,1],
 * y i64 [N]. Loads IDX image/label pairs (MNIST, Fashion-MNIST), computes the
 * scalar mean/std used for normalization, and copies out subsets. */
#include "nnc.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* u8 images [N,H,W] + u8 labels [N] -> x f32 [N,1,H,W] = pixel/255, y i64 [N]. */
static nnc_status dataset_from_idx(nnc_dataset *ds, const nnc_tensor *img, const nnc_tensor *lab,
                                   const char *images_path, const char *labels_path, int n_classes) {
    if (img->ndim != 3)
        return nnc_error(NNC_ERR_FORMAT, "%s: images must have 3 dimensions [N,H,W], found %d", images_path, img->ndim);
    if (lab->ndim != 1)
        return nnc_error(NNC_ERR_FORMAT, "%s: labels must have 1 dimension [N], found %d", labels_path, lab->ndim);
    int64_t n = img->shape[0], hw = img->shape[1] * img->shape[2];
    if (lab->shape[0] != n)
        return nnc_error(NNC_ERR_FORMAT, "%s: %lld labels, but %s holds %lld images", labels_path,
                         (long long)lab->shape[0], images_path, (long long)n);
    const uint8_t *l = lab->data;
    for (int64_t i = 0; i < n; i++)
        if (l[i] >= n_classes)
            return nnc_error(NNC_ERR_FORMAT, "%s: label %d at index %lld is out of range (expected < %d)", labels_path,
                             l[i], (long long)i, n_classes);
    nnc_status s = nnc_tensor_alloc(&ds->x, NNC_F32, 4, (int64_t[]){n, 1, img->shape[1], img->shape[2]});
    if (s) return s;
    s = nnc_tensor_alloc(&ds->y, NNC_I64, 1, (int64_t[]){n});
    if (s) {
        nnc_tensor_free(&ds->x);
        return s;
    }
    float lut[256]; /* torchvision's ToTensor: float(p) / 255 in f32 */
    for (int i = 0; i < 256; i++) lut[i] = (float)i / 255.0f;
    const uint8_t *p = img->data;
    float *x = ds->x.data;
    for (int64_t i = 0; i < n * hw; i++) x[i] = lut[p[i]];
    int64_t *y = ds->y.data;
    for (int64_t i = 0; i < n; i++) y[i] = l[i];
    ds->n = n;
    ds->n_classes = n_classes;
    return NNC_OK;
}

nnc_status nnc_dataset_load_idx(nnc_dataset *ds, const char *images_path, const char *labels_path, int n_classes) {
    if (!ds || !images_path || !labels_path)
        return nnc_error(NNC_ERR_ARG, "nnc_dataset_load_idx: dataset or path is NULL");
    memset(ds, 0, sizeof *ds);
    if (n_classes < 1 || n_classes > 256)
        return nnc_error(NNC_ERR_ARG, "nnc_dataset_load_idx: n_classes %d outside 1..256 (u8 labels)", n_classes);
    nnc_tensor img = {0}, lab = {0};
    nnc_status s = nnc_idx_read(images_path, &img);
    if (!s) s = nnc_idx_read(labels_path, &lab);
    if (!s) s = dataset_from_idx(ds, &img, &lab, images_path, labels_path, n_classes);
    nnc_tensor_free(&img);
    nnc_tensor_free(&lab);
    return s;
}

/* "<dir>/<name>.gz" if it exists, else "<dir>/<name>". */
static nnc_status find_file(const char *dir, const char *name, char *buf, size_t n) {
    struct stat st;
    if ((size_t)snprintf(buf, n, "%s/%s.gz", dir, name) >= n)
        return nnc_error(NNC_ERR_ARG, "%s: directory path too long", dir);
    if (stat(buf, &st) == 0) return NNC_OK;
    snprintf(buf, n, "%s/%s", dir, name);
    if (stat(buf, &st) == 0) return NNC_OK;
    return nnc_error(NNC_ERR_IO, "%s: missing %s or %s.gz in the dataset directory", dir, name, name);
}

nnc_status nnc_dataset_load_mnist_dir(const char *dir, nnc_dataset *train, nnc_dataset *test) {
    if (!train || !test) return nnc_error(NNC_ERR_ARG, "nnc_dataset_load_mnist_dir: train or test is NULL");
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (!dir) dir = NNC_FASHION_MNIST_DIR;
    struct stat st;
    if (stat(dir, &st) != 0) return nnc_error(NNC_ERR_IO, "%s: dataset directory: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return nnc_error(NNC_ERR_IO, "%s: dataset directory is not a directory", dir);
    char p[4][4096];
    static const char *const names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    for (int i = 0; i < 4; i++) {
        nnc_status s = find_file(dir, names[i], p[i], sizeof p[i]);
        if (s) return s;
    }
    nnc_status s = nnc_dataset_load_idx(train, p[0], p[1], 10);
    if (!s) s = nnc_dataset_load_idx(test, p[2], p[3], 10);
    if (!s && (train->x.shape[2] != test->x.shape[2] || train->x.shape[3] != test->x.shape[3]))
        s = nnc_error(NNC_ERR_FORMAT, "%s: test images are %lldx%lld, train images %lldx%lld", p[2],
                      (long long)test->x.shape[2], (long long)test->x.shape[3], (long long)train->x.shape[2],
                      (long long)train->x.shape[3]);
    if (s) {
        nnc_dataset_free(train);
        nnc_dataset_free(test);
    }
    return s;
}

/* Two passes in double: the mean first, then the centred sum of squares,
 * which stays accurate where sum(x^2) - n*mean^2 would cancel. */
void nnc_dataset_stats(const nnc_dataset *ds, double *mean, double *std) {
    int64_t n = ds && ds->x.data ? nnc_tensor_numel(&ds->x) : 0;
    const float *x = n ? ds->x.data : NULL;
    double s = 0, ss = 0;
    for (int64_t i = 0; i < n; i++) s += x[i];
    double m = n ? s / (double)n : 0;
    for (int64_t i = 0; i < n; i++) ss += ((double)x[i] - m) * ((double)x[i] - m);
    if (mean) *mean = m;
    if (std) *std = n > 1 ? sqrt(ss / (double)(n - 1)) : NAN;
}

/* torchvision's Normalize in f32: (x - mean) / std. */
void nnc_dataset_normalize(nnc_dataset *ds, float mean, float std) {
    if (!ds || !ds->x.data) return;
    int64_t n = nnc_tensor_numel(&ds->x);
    float *x = ds->x.data;
    for (int64_t i = 0; i < n; i++) x[i] = (x[i] - mean) / std;
}

nnc_status nnc_dataset_take(const nnc_dataset *src, int64_t start, int64_t n, nnc_dataset *dst) {
    if (!src || !dst || !src->x.data || !src->y.data)
        return nnc_error(NNC_ERR_ARG, "nnc_dataset_take: source or destination is NULL");
    if (start < 0 || n < 0 || start > src->n || n > src->n - start)
        return nnc_error(NNC_ERR_ARG, "nnc_dataset_take: samples [%lld, %lld) outside the dataset's %lld",
                         (long long)start, (long long)start + (long long)n, (long long)src->n);
    nnc_dataset d = {0};
    int64_t shape[NNC_MAX_DIMS];
    memcpy(shape, src->x.shape, sizeof shape);
    shape[0] = n;
    nnc_status s = nnc_tensor_alloc(&d.x, src->x.dtype, src->x.ndim, shape);
    if (s) return s;
    s = nnc_tensor_alloc(&d.y, src->y.dtype, 1, (int64_t[]){n});
    if (s) {
        nnc_tensor_free(&d.x);
        return s;
    }
    size_t xs = src->n ? nnc_tensor_bytes(&src->x) / (size_t)src->n : 0;
    size_t ys = nnc_dtype_size(src->y.dtype);
    if (n) {
        memcpy(d.x.data, (const char *)src->x.data + (size_t)start * xs, (size_t)n * xs);
        memcpy(d.y.data, (const char *)src->y.data + (size_t)start * ys, (size_t)n * ys);
    }
    d.n = n;
    d.n_classes = src->n_classes;
    *dst = d;
    return NNC_OK;
}

void nnc_dataset_free(nnc_dataset *ds) {
    if (!ds) return;
    nnc_tensor_free(&ds->x);
    nnc_tensor_free(&ds->y);
    memset(ds, 0, sizeof *ds);
}
