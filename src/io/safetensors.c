/* safetensors.c -- reading and writing the safetensors format (Hugging Face).
 * A file is an 8-byte little-endian header length N, N bytes of UTF-8 JSON
 * {"__metadata__": {str: str}, "name": {"dtype", "shape", "data_offsets"}, ...}
 * padded with spaces to a multiple of 8, then the tensors' bytes, which must
 * tile the data region exactly. The reader trusts nothing: every size field is
 * checked against the real file size before anything is allocated from it,
 * and the whole file is read into memory once, so tensors point into that
 * image (or into an aligned copy when the file places them misaligned). The
 * writer is atomic: a temporary file in the same directory, fsync, rename. */
#include "nnc.h"
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000) /* what the reference implementation accepts */

typedef struct st_meta { char *key, *val; } st_meta;

typedef struct st_entry {
    char *name;
    nnc_tensor t;
    uint64_t begin, end; /* byte range in the data region */
    void *copy;          /* aligned copy when the file's offset is misaligned for the dtype */
} st_entry;

struct nnc_safetensors {
    unsigned char *image; /* the whole file */
    size_t size;
    int n;
    st_entry *e;          /* sorted by name */
    int n_meta;
    st_meta *meta;        /* sorted by key */
};

/* ------------------------------------------------------------ shared helpers */

static const struct { const char *name; nnc_dtype dt; } st_dtypes[] = {
    {"F32", NNC_F32}, {"I32", NNC_I32}, {"I64", NNC_I64}, {"U8", NNC_U8}, {"F64", NNC_F64},
};
/* Valid in the format but without an nnc dtype: refused as unsupported, not malformed. */
static const char *const st_other_dtypes[] = {"BOOL", "I8", "U16", "I16", "F16", "BF16", "U32",
                                              "U64", "F8_E5M2", "F8_E4M3"};

static const char *st_dtype_str(nnc_dtype dt) {
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (st_dtypes[i].dt == dt) return st_dtypes[i].name;
    return NULL;
}

/* Offset of the first byte that is not valid UTF-8 (overlongs, surrogates and
 * code points above U+10FFFF are invalid), or n if all are valid. */
static size_t st_utf8_check(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) { i++; continue; }
        size_t len;
        unsigned cp, min;
        if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; min = 0x10000; }
        else return i;
        if (n - i < len) return i;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
        i += len;
    }
    return n;
}

/* ------------------------------------------------------------------- writer */

typedef struct st_buf { char *p; size_t len, cap; int oom; } st_buf;

static void st_put(st_buf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) { b->oom = 1; return; }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}
static void st_puts(st_buf *b, const char *s) { st_put(b, s, strlen(s)); }
static void st_putu(st_buf *b, uint64_t v) {
    char tmp[32];
    st_put(b, tmp, (size_t)snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v));
}
/* A JSON string literal; the input is known to be valid UTF-8, which passes through. */
static void st_put_json_str(st_buf *b, const char *s) {
    st_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') { char e[2] = {'\\', (char)c}; st_put(b, e, 2); }
        else if (c < 0x20) { char e[8]; st_put(b, e, (size_t)snprintf(e, sizeof e, "\\u%04x", c)); }
        else st_put(b, (const char *)&c, 1);
    }
    st_put(b, "\"", 1);
}

typedef struct st_key { const char *s; int i; } st_key;
static int st_cmp_key(const void *a, const void *b) { return strcmp(((const st_key *)a)->s, ((const st_key *)b)->s); }

/* order[] = indices of keys sorted by name; ARG error naming `what` on a duplicate. */
static nnc_status st_sort_names(const char *path, const char *what, int n, const char *const *keys, int *order) {
    st_key *k = malloc(((size_t)n + 1) * sizeof *k);
    if (!k) return nnc_error(NNC_ERR_OOM, "%s: out of memory", path);
    for (int i = 0; i < n; i++) k[i] = (st_key){keys[i], i};
    qsort(k, (size_t)n, sizeof *k, st_cmp_key);
    nnc_status s = NNC_OK;
    for (int i = 0; i < n; i++) {
        order[i] = k[i].i;
        if (i && !s && !strcmp(k[i - 1].s, k[i].s))
            s = nnc_error(NNC_ERR_ARG, "%s: %s '%s' is given twice", path, what, k[i].s);
    }
    free(k);
    return s;
}

static nnc_status st_check_string(const char *path, const char *what, int i, const char *s) {
    if (!s) return nnc_error(NNC_ERR_ARG, "%s: %s %d is NULL", path, what, i);
    size_t n = strlen(s), bad = st_utf8_check((const unsigned char *)s, n);
    if (bad != n) return nnc_error(NNC_ERR_ARG, "%s: %s %d is not valid UTF-8 (byte %zu)", path, what, i, bad);
    return NNC_OK;
}

/* Checks one tensor to be written; *bytes = its data size. */
static nnc_status st_check_tensor(const char *path, const char *name, const nnc_tensor *t, uint64_t *bytes) {
    if (!st_dtype_str(t->dtype))
        return nnc_error(NNC_ERR_ARG, "%s: tensor '%s' has unknown dtype %d", path, name, (int)t->dtype);
    if (t->layout != NNC_LAYOUT_PLAIN)
        return nnc_error(NNC_ERR_ARG, "%s: tensor '%s' is in a blocked layout; files hold plain row-major tensors",
                         path, name);
    if (t->ndim < 0 || t->ndim > NNC_MAX_DIMS)
        return nnc_error(NNC_ERR_ARG, "%s: tensor '%s' has ndim %d, expected 0..%d", path, name, t->ndim, NNC_MAX_DIMS);
    uint64_t n = nnc_dtype_size(t->dtype);
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] < 0)
            return nnc_error(NNC_ERR_ARG, "%s: tensor '%s' has negative dimension %d (%lld)", path, name, d,
                             (long long)t->shape[d]);
        if (t->shape[d] > 0 && n > (uint64_t)INT64_MAX / (uint64_t)t->shape[d])
            return nnc_error(NNC_ERR_ARG, "%s: tensor '%s' is too large (size overflows 64 bits)", path, name);
        n *= (uint64_t)t->shape[d];
    }
    if (n > 0 && !t->data) return nnc_error(NNC_ERR_ARG, "%s: tensor '%s' has no data", path, name);
    *bytes = n;
    return NNC_OK;
}

/* The JSON header, padded with spaces to a multiple of 8. */
static nnc_status st_build_header(const char *path, st_buf *h, int n, const char *const *names,
                                  const nnc_tensor *tensors, const int *order, const uint64_t *bytes,
                                  int n_meta, const char *const *meta_keys, const char *const *meta_values,
                                  const int *meta_order) {
    st_put(h, "{", 1);
    int first = 1;
    if (n_meta > 0) {
        st_puts(h, "\"__metadata__\":{");
        for (int k = 0; k < n_meta; k++) {
            int i = meta_order[k];
            if (k) st_put(h, ",", 1);
            st_put_json_str(h, meta_keys[i]);
            st_put(h, ":", 1);
            st_put_json_str(h, meta_values[i]);
        }
        st_put(h, "}", 1);
        first = 0;
    }
    uint64_t off = 0;
    for (int k = 0; k < n; k++) {
        int i = order[k];
        const nnc_tensor *t = &tensors[i];
        if (!first) st_put(h, ",", 1);
        first = 0;
        st_put_json_str(h, names[i]);
        st_puts(h, ":{\"dtype\":\"");
        st_puts(h, st_dtype_str(t->dtype));
        st_puts(h, "\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            if (d) st_put(h, ",", 1);
            st_putu(h, (uint64_t)t->shape[d]);
        }
        st_puts(h, "],\"data_offsets\":[");
        st_putu(h, off);
        st_put(h, ",", 1);
        st_putu(h, off + bytes[i]);
        st_puts(h, "]}");
        off += bytes[i];
    }
    st_put(h, "}", 1);
    while (h->len % 8) st_put(h, " ", 1);
    if (h->oom) return nnc_error(NNC_ERR_OOM, "%s: cannot allocate the header", path);
    if (h->len > ST_MAX_HEADER)
        return nnc_error(NNC_ERR_ARG, "%s: header of %zu bytes exceeds the format's limit of %llu", path, h->len,
                         (unsigned long long)ST_MAX_HEADER);
    return NNC_OK;
}

static int st_write_all(int fd, const void *p, uint64_t n) {
    const char *c = p;
    while (n > 0) {
        size_t chunk = n > ((size_t)1 << 30) ? ((size_t)1 << 30) : (size_t)n;
        ssize_t w = write(fd, c, chunk);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        c += w;
        n -= (uint64_t)w;
    }
    return 0;
}

/* Fault injection for the kill-during-save test (tests/test_reliability.sh):
 * with NNC_FAULT_SAVE_STALL=BYTES in the environment, the write of n bytes at
 * offset `at` of a temporary file writes only up to byte BYTES, syncs, and
 * pauses forever, so a SIGKILL lands inside the save every time. A file
 * smaller than BYTES is written normally. Unset, it costs one getenv per write. */
static void st_fault_stall(int fd, uint64_t at, const void *p, uint64_t n) {
    const char *e = getenv("NNC_FAULT_SAVE_STALL");
    if (!e || !*e) return;
    uint64_t stop = strtoull(e, NULL, 10);
    if (at + n < stop) return;
    if (stop > at) (void)st_write_all(fd, p, stop - at);
    (void)fsync(fd);
    for (;;) pause();
}

/* Makes a completed rename durable; file systems that cannot sync a directory say EINVAL. */
static nnc_status st_sync_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return nnc_error(NNC_ERR_OOM, "%s: out of memory", path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    nnc_status s = NNC_OK;
    if (fd < 0) s = nnc_error(NNC_ERR_IO, "%s: cannot open directory '%s' to sync it: %s", path, dir, strerror(errno));
    else {
        if (fsync(fd) != 0 && errno != EINVAL)
            s = nnc_error(NNC_ERR_IO, "%s: cannot sync directory '%s': %s", path, dir, strerror(errno));
        close(fd);
    }
    free(dir);
    return s;
}

nnc_status nnc_safetensors_write(const char *path, int n, const char *const *names, const nnc_tensor *tensors,
                                 int n_meta, const char *const *meta_keys, const char *const *meta_values) {
    if (!path) return nnc_error(NNC_ERR_ARG, "nnc_safetensors_write: path is NULL");
    if (n < 0 || (n > 0 && (!names || !tensors)))
        return nnc_error(NNC_ERR_ARG, "%s: %d tensors with names %p and tensors %p", path, n, (void *)names,
                         (const void *)tensors);
    if (n_meta < 0 || (n_meta > 0 && (!meta_keys || !meta_values)))
        return nnc_error(NNC_ERR_ARG, "%s: %d metadata entries without keys or values", path, n_meta);

    nnc_status s = NNC_OK;
    int *order = malloc(((size_t)n + (size_t)n_meta + 1) * sizeof *order);
    uint64_t *bytes = malloc(((size_t)n + 1) * sizeof *bytes);
    st_buf h = {0};
    char *tmp = NULL;
    int fd = -1;
    if (!order || !bytes) { s = nnc_error(NNC_ERR_OOM, "%s: out of memory", path); goto done; }
    int *meta_order = order + n;

    uint64_t total = 0;
    for (int i = 0; i < n && !s; i++) {
        if ((s = st_check_string(path, "tensor name", i, names[i]))) break;
        if (!strcmp(names[i], "__metadata__")) {
            s = nnc_error(NNC_ERR_ARG, "%s: a tensor cannot be named '__metadata__'", path);
            break;
        }
        if ((s = st_check_tensor(path, names[i], &tensors[i], &bytes[i]))) break;
        if (bytes[i] > (uint64_t)INT64_MAX - total) {
            s = nnc_error(NNC_ERR_ARG, "%s: total data size overflows 64 bits", path);
            break;
        }
        total += bytes[i];
    }
    for (int i = 0; i < n_meta && !s; i++) {
        if ((s = st_check_string(path, "metadata key", i, meta_keys[i]))) break;
        s = st_check_string(path, "metadata value", i, meta_values[i]);
    }
    if (s) goto done;
    if ((s = st_sort_names(path, "tensor name", n, names, order))) goto done;
    if ((s = st_sort_names(path, "metadata key", n_meta, meta_keys, meta_order))) goto done;
    if ((s = st_build_header(path, &h, n, names, tensors, order, bytes, n_meta, meta_keys, meta_values, meta_order)))
        goto done;

    size_t tlen = strlen(path) + 32;
    if (!(tmp = malloc(tlen))) { s = nnc_error(NNC_ERR_OOM, "%s: out of memory", path); goto done; }
    snprintf(tmp, tlen, "%s.tmp.%ld", path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        s = nnc_error(NNC_ERR_IO, "%s: cannot create temporary file '%s': %s", path, tmp, strerror(errno));
        free(tmp);
        tmp = NULL; /* nothing to remove */
        goto done;
    }
    unsigned char len8[8];
    for (int k = 0; k < 8; k++) len8[k] = (unsigned char)((uint64_t)h.len >> (8 * k));
    st_fault_stall(fd, 0, len8, 8);
    int werr = st_write_all(fd, len8, 8);
    if (!werr) st_fault_stall(fd, 8, h.p, h.len);
    if (werr || st_write_all(fd, h.p, h.len)) {
        s = nnc_error(NNC_ERR_IO, "%s: cannot write the header to '%s': %s", path, tmp, strerror(errno));
        goto done;
    }
    uint64_t at = 8 + (uint64_t)h.len; /* file offset, for the fault hook */
    for (int k = 0; k < n; k++) {
        int i = order[k];
        st_fault_stall(fd, at, tensors[i].data, bytes[i]);
        at += bytes[i];
        if (bytes[i] && st_write_all(fd, tensors[i].data, bytes[i])) {
            s = nnc_error(NNC_ERR_IO, "%s: cannot write tensor '%s' to '%s': %s", path, names[i], tmp,
                          strerror(errno));
            goto done;
        }
    }
    if (fsync(fd) != 0) {
        s = nnc_error(NNC_ERR_IO, "%s: cannot sync '%s': %s", path, tmp, strerror(errno));
        goto done;
    }
    int rc = close(fd);
    fd = -1;
    if (rc != 0) {
        s = nnc_error(NNC_ERR_IO, "%s: cannot close '%s': %s", path, tmp, strerror(errno));
        goto done;
    }
    if (rename(tmp, path) != 0) {
        s = nnc_error(NNC_ERR_IO, "%s: cannot rename '%s' over it: %s", path, tmp, strerror(errno));
        goto done;
    }
    free(tmp);
    tmp = NULL; /* renamed: nothing to remove */
    s = st_sync_dir(path);

done:
    if (fd >= 0) close(fd);
    if (tmp) { unlink(tmp); free(tmp); }
    free(h.p);
    free(order);
    free(bytes);
    return s;
}

/* ------------------------------------------------------------------- reader */

void nnc_safetensors_close(nnc_safetensors *f) {
    if (!f) return;
    for (int i = 0; i < f->n; i++) { free(f->e[i].name); free(f->e[i].copy); }
    for (int i = 0; i < f->n_meta; i++) { free(f->meta[i].key); free(f->meta[i].val); }
    free(f->e);
    free(f->meta);
    free(f->image);
    free(f);
}

static int st_cmp_entry_name(const void *a, const void *b) {
    return strcmp(((const st_entry *)a)->name, ((const st_entry *)b)->name);
}
static int st_cmp_entry_range(const void *a, const void *b) {
    const st_entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* A non-negative JSON integer, or -1. */
static long long st_json_uint(const json_t *v) {
    if (!json_is_integer(v)) return -1;
    long long x = json_integer_value(v);
    return x < 0 ? -1 : x;
}

static nnc_status st_parse_entry(const char *path, const char *key, json_t *v, uint64_t data_size, st_entry *e) {
    if (!json_is_object(v))
        return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s' is not a JSON object", path, key);
    json_t *dt = json_object_get(v, "dtype"), *shape = json_object_get(v, "shape"),
           *offs = json_object_get(v, "data_offsets");
    if (!dt || !shape || !offs)
        return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s' lacks \"%s\" (expected dtype, shape and data_offsets)",
                         path, key, !dt ? "dtype" : !shape ? "shape" : "data_offsets");
    if (json_object_size(v) != 3) {
        const char *k;
        json_t *unused;
        json_object_foreach(v, k, unused) {
            if (strcmp(k, "dtype") && strcmp(k, "shape") && strcmp(k, "data_offsets"))
                return nnc_error(NNC_ERR_FORMAT,
                                 "%s: tensor '%s' has an unknown field \"%s\" (expected dtype, shape and data_offsets)",
                                 path, key, k);
        }
    }
    if (!json_is_string(dt)) return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s': dtype is not a string", path, key);
    const char *dts = json_string_value(dt);
    int found = 0;
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (!strcmp(dts, st_dtypes[i].name)) { e->t.dtype = st_dtypes[i].dt; found = 1; }
    if (!found) {
        for (size_t i = 0; i < sizeof st_other_dtypes / sizeof st_other_dtypes[0]; i++)
            if (!strcmp(dts, st_other_dtypes[i]))
                return nnc_error(NNC_ERR_UNSUPPORTED,
                                 "%s: tensor '%s' has dtype %s, which nnc does not support (F32, I32, I64, U8, F64)",
                                 path, key, dts);
        return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s' has unknown dtype \"%.32s\"", path, key, dts);
    }
    if (!json_is_array(shape))
        return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s': shape is not an array", path, key);
    size_t nd = json_array_size(shape);
    if (nd > NNC_MAX_DIMS)
        return nnc_error(NNC_ERR_UNSUPPORTED, "%s: tensor '%s' has %zu dimensions, nnc supports at most %d", path, key,
                         nd, NNC_MAX_DIMS);
    e->t.ndim = (int)nd;
    uint64_t bytes = nnc_dtype_size(e->t.dtype);
    for (size_t d = 0; d < nd; d++) {
        json_t *dv = json_array_get(shape, d);
        long long x = st_json_uint(dv);
        if (x < 0 && json_is_integer(dv))
            return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s': shape[%zu] is %lld, expected a non-negative integer",
                             path, key, d, (long long)json_integer_value(dv));
        if (x < 0)
            return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s': shape[%zu] is not a non-negative integer", path, key, d);
        e->t.shape[d] = x;
        if (x > 0 && bytes > (uint64_t)INT64_MAX / (uint64_t)x)
            return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s': shape's size overflows 64 bits", path, key);
        bytes *= (uint64_t)x;
    }
    if (!json_is_array(offs) || json_array_size(offs) != 2)
        return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s': data_offsets is not an array of 2 integers", path, key);
    long long b = st_json_uint(json_array_get(offs, 0)), en = st_json_uint(json_array_get(offs, 1));
    if (b < 0 || en < 0)
        return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s': data_offsets are not non-negative integers", path, key);
    if (en < b)
        return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s': data_offsets [%lld, %lld] end before they begin", path,
                         key, b, en);
    if ((uint64_t)(en - b) != bytes) {
        char sh[128];
        return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s': data_offsets [%lld, %lld] span %lld bytes, "
                         "its shape %s of %s needs %llu", path, key, b, en, en - b,
                         nnc_shape_str(&e->t, sh, sizeof sh), dts, (unsigned long long)bytes);
    }
    if ((uint64_t)en > data_size)
        return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s': data_offsets end at %lld, beyond the %llu bytes of data "
                         "(file truncated?)", path, key, en, (unsigned long long)data_size);
    e->begin = (uint64_t)b;
    e->end = (uint64_t)en;
    return NNC_OK;
}

/* The sorted byte ranges must cover [0, data_size) exactly once. */
static nnc_status st_check_tiling(const char *path, nnc_safetensors *f, uint64_t data_size) {
    qsort(f->e, (size_t)f->n, sizeof *f->e, st_cmp_entry_range);
    uint64_t pos = 0;
    const char *prev = NULL;
    for (int i = 0; i < f->n; i++) {
        const st_entry *e = &f->e[i];
        if (e->begin < pos)
            return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s' (bytes %llu..%llu) overlaps tensor '%s' (ending at %llu)",
                             path, e->name, (unsigned long long)e->begin, (unsigned long long)e->end, prev,
                             (unsigned long long)pos);
        if (e->begin > pos)
            return nnc_error(NNC_ERR_FORMAT, "%s: a gap of %llu bytes before tensor '%s' (data must be contiguous)",
                             path, (unsigned long long)(e->begin - pos), e->name);
        pos = e->end;
        prev = e->name;
    }
    if (pos != data_size)
        return nnc_error(NNC_ERR_FORMAT,
                         "%s: %llu trailing byte(s) after the last tensor's data (expected %llu bytes of data)",
                         path, (unsigned long long)(data_size - pos), (unsigned long long)pos);
    return NNC_OK;
}

static int st_cmp_meta(const void *a, const void *b) {
    return strcmp(((const st_meta *)a)->key, ((const st_meta *)b)->key);
}

static nnc_status st_parse_meta(const char *path, nnc_safetensors *f, json_t *m) {
    if (!json_is_object(m)) return nnc_error(NNC_ERR_FORMAT, "%s: __metadata__ is not a JSON object", path);
    size_t n = json_object_size(m);
    if (!(f->meta = calloc(n + 1, sizeof *f->meta)))
        return nnc_error(NNC_ERR_OOM, "%s: out of memory for metadata", path);
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v) {
        if (!json_is_string(v))
            return nnc_error(NNC_ERR_FORMAT, "%s: __metadata__ entry '%s' is not a string", path, k);
        st_meta *e = &f->meta[f->n_meta++];
        e->key = strdup(k);
        e->val = strdup(json_string_value(v));
        if (!e->key || !e->val) return nnc_error(NNC_ERR_OOM, "%s: out of memory for metadata", path);
    }
    qsort(f->meta, (size_t)f->n_meta, sizeof *f->meta, st_cmp_meta);
    return NNC_OK;
}

/* Validates the JSON header and fills f's entries; data_off is where data begins in the image. */
static nnc_status st_parse_header(const char *path, nnc_safetensors *f, size_t hlen, size_t data_off) {
    const unsigned char *hdr = f->image + 8;
    size_t bad = st_utf8_check(hdr, hlen);
    if (bad != hlen)
        return nnc_error(NNC_ERR_FORMAT, "%s: header is not valid UTF-8 (byte %zu of the header)", path, bad);
    json_error_t err;
    json_t *root = json_loadb((const char *)hdr, hlen, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        return nnc_error(NNC_ERR_FORMAT, "%s: header is not valid JSON: %s (line %d, column %d)", path, err.text,
                         err.line, err.column);
    nnc_status s = NNC_OK;
    if (!json_is_object(root)) {
        s = nnc_error(NNC_ERR_FORMAT, "%s: header is a JSON %s, expected an object", path,
                      json_is_array(root) ? "array" : "value");
        goto done;
    }
    size_t n = json_object_size(root);
    f->e = calloc(n + 1, sizeof *f->e);
    if (!f->e) { s = nnc_error(NNC_ERR_OOM, "%s: out of memory for %zu entries", path, n); goto done; }
    uint64_t data_size = f->size - data_off;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (!strcmp(key, "__metadata__")) {
            if ((s = st_parse_meta(path, f, v))) goto done;
            continue;
        }
        st_entry *e = &f->e[f->n];
        if ((s = st_parse_entry(path, key, v, data_size, e))) goto done;
        if (!(e->name = strdup(key))) { s = nnc_error(NNC_ERR_OOM, "%s: out of memory", path); goto done; }
        f->n++;
    }
    if ((s = st_check_tiling(path, f, data_size))) goto done;
    /* Point tensors at their bytes; copy those the file leaves misaligned for their dtype. */
    for (int i = 0; i < f->n; i++) {
        st_entry *e = &f->e[i];
        size_t bytes = (size_t)(e->end - e->begin), al = nnc_dtype_size(e->t.dtype);
        unsigned char *p = f->image + data_off + e->begin;
        e->t.layout = NNC_LAYOUT_PLAIN;
        if (bytes && (uintptr_t)p % al) {
            if (!(e->copy = aligned_alloc(16, (bytes + 15) / 16 * 16))) {
                s = nnc_error(NNC_ERR_OOM, "%s: out of memory copying tensor '%s'", path, e->name);
                goto done;
            }
            memcpy(e->copy, p, bytes);
            p = e->copy;
        }
        e->t.data = p;
    }
    qsort(f->e, (size_t)f->n, sizeof *f->e, st_cmp_entry_name);
done:
    json_decref(root);
    return s;
}

nnc_status nnc_safetensors_open(const char *path, nnc_safetensors **out) {
    if (!out) return nnc_error(NNC_ERR_ARG, "nnc_safetensors_open: out is NULL");
    *out = NULL;
    if (!path) return nnc_error(NNC_ERR_ARG, "nnc_safetensors_open: path is NULL");
    FILE *fp = fopen(path, "rb");
    if (!fp) return nnc_error(NNC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    nnc_status s = NNC_OK;
    nnc_safetensors *f = calloc(1, sizeof *f);
    struct stat st;
    if (!f) { s = nnc_error(NNC_ERR_OOM, "%s: out of memory", path); goto fail; }
    if (fstat(fileno(fp), &st) != 0) {
        s = nnc_error(NNC_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) { s = nnc_error(NNC_ERR_IO, "%s: not a regular file", path); goto fail; }
    if ((uint64_t)st.st_size > SIZE_MAX - 16) { s = nnc_error(NNC_ERR_IO, "%s: file too large", path); goto fail; }
    f->size = (size_t)st.st_size;
    if (f->size < 8) {
        s = nnc_error(NNC_ERR_FORMAT, "%s: file is %zu bytes, too short for the 8-byte header length", path, f->size);
        goto fail;
    }
    unsigned char len8[8];
    if (fread(len8, 1, 8, fp) != 8) { s = nnc_error(NNC_ERR_IO, "%s: cannot read the header length", path); goto fail; }
    uint64_t hlen = 0;
    for (int k = 7; k >= 0; k--) hlen = (hlen << 8) | len8[k];
    if (hlen > f->size - 8) {
        s = nnc_error(NNC_ERR_FORMAT, "%s: header length %llu exceeds the %zu bytes that follow it", path,
                      (unsigned long long)hlen, f->size - 8);
        goto fail;
    }
    if (hlen > ST_MAX_HEADER) {
        s = nnc_error(NNC_ERR_FORMAT, "%s: header length %llu exceeds the limit of %llu bytes", path,
                      (unsigned long long)hlen, (unsigned long long)ST_MAX_HEADER);
        goto fail;
    }
    /* Only now, with the file's real size known, read all of it. */
    if (!(f->image = malloc(f->size))) {
        s = nnc_error(NNC_ERR_OOM, "%s: cannot allocate %zu bytes for the file", path, f->size);
        goto fail;
    }
    memcpy(f->image, len8, 8);
    size_t got = fread(f->image + 8, 1, f->size - 8, fp);
    if (got != f->size - 8) {
        s = nnc_error(NNC_ERR_IO, "%s: read %zu of %zu bytes (file changed while reading?)", path, got + 8, f->size);
        goto fail;
    }
    fclose(fp);
    fp = NULL;
    if ((s = st_parse_header(path, f, (size_t)hlen, 8 + (size_t)hlen))) goto fail;
    *out = f;
    return NNC_OK;
fail:
    if (fp) fclose(fp);
    nnc_safetensors_close(f);
    return s;
}

int nnc_safetensors_count(const nnc_safetensors *f) { return f ? f->n : 0; }

const char *nnc_safetensors_name(const nnc_safetensors *f, int i) {
    return f && i >= 0 && i < f->n ? f->e[i].name : NULL;
}

const nnc_tensor *nnc_safetensors_get(const nnc_safetensors *f, const char *name) {
    if (!f || !name || !f->n) return NULL;
    st_entry key = {.name = (char *)name};
    const st_entry *e = bsearch(&key, f->e, (size_t)f->n, sizeof *f->e, st_cmp_entry_name);
    return e ? &e->t : NULL;
}

int nnc_safetensors_meta_count(const nnc_safetensors *f) { return f ? f->n_meta : 0; }

const char *nnc_safetensors_meta_key(const nnc_safetensors *f, int i) {
    return f && i >= 0 && i < f->n_meta ? f->meta[i].key : NULL;
}

const char *nnc_safetensors_meta(const nnc_safetensors *f, const char *key) {
    if (!f || !key || !f->n_meta) return NULL;
    st_meta k = {(char *)key, NULL};
    const st_meta *e = bsearch(&k, f->meta, (size_t)f->n_meta, sizeof *f->meta, st_cmp_meta);
    return e ? e->val : NULL;
}
