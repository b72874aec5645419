/* idx.c -- reads IDX files (the MNIST container: a 4-byte magic 00 00 <type>
 * <ndim>, ndim big-endian u32 dimensions, then the row-major data), gzip or
 * plain, detected by content. Every size field is checked before it is
 * trusted: a plain file's declared size is compared with its real size before
 * anything is allocated; a gzip stream's size is unknown in advance, so it is
 * read in growing chunks (bounded by what the compressed file can expand to)
 * and refused as soon as it runs short of, or past, what the header declares. */
#include "nnc.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define IDX_MAX_ELEMS ((int64_t)1 << 31)
#define IDX_CHUNK ((size_t)1 << 24) /* largest single gzread */

static const char *idx_type_name(int t) {
    switch (t) {
    case 0x08: return "u8";
    case 0x09: return "i8";
    case 0x0B: return "i16";
    case 0x0C: return "i32";
    case 0x0D: return "f32";
    case 0x0E: return "f64";
    }
    return "unknown";
}

/* zlib's message without the "<fd:N>: " it puts first for a gzdopen'd file
 * (the caller names the file). */
static const char *idx_gzerror(gzFile gz, int *zerr) {
    const char *m = gzerror(gz, zerr);
    const char *c = m[0] == '<' ? strstr(m, ">: ") : NULL;
    return c ? c + 3 : m;
}

/* Reads up to len bytes; *got is what arrived. Fails only on a stream error
 * (a short read at the end of the data is the caller's to judge). */
static nnc_status idx_read(gzFile gz, const char *path, unsigned char *buf, size_t len, size_t *got) {
    *got = 0;
    while (*got < len) {
        size_t want = len - *got < IDX_CHUNK ? len - *got : IDX_CHUNK;
        int r = gzread(gz, buf + *got, (unsigned)want);
        if (r < 0) {
            int zerr = 0;
            const char *msg = idx_gzerror(gz, &zerr);
            if (zerr == Z_ERRNO)
                return nnc_error(NNC_ERR_IO, "%s: read error after %zu bytes: %s", path, *got, strerror(errno));
            return nnc_error(NNC_ERR_FORMAT, "%s: corrupt gzip stream after %zu bytes: %s", path, *got, msg);
        }
        if (r == 0) break;
        *got += (size_t)r;
    }
    if (*got < len) { /* zlib reports a cut-off compressed stream only through gzerror */
        int zerr = 0;
        const char *msg = idx_gzerror(gz, &zerr);
        if (zerr != Z_OK)
            return nnc_error(NNC_ERR_FORMAT, "%s: corrupt gzip stream after %zu bytes: %s", path, *got, msg);
    }
    return NNC_OK;
}

/* Magic and dimensions; *hdr_bytes = 4 + 4*ndim. */
static nnc_status idx_header(gzFile gz, const char *path, nnc_tensor *t, int64_t *numel, size_t *hdr_bytes) {
    unsigned char h[4 + 4 * 4];
    size_t got;
    nnc_status s = idx_read(gz, path, h, 4, &got);
    if (s) return s;
    if (got < 4)
        return nnc_error(NNC_ERR_FORMAT, "%s: truncated header: expected a 4-byte magic, found %zu bytes", path, got);
    uint32_t magic = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    int ndim = h[3];
    if (h[0] || h[1])
        return nnc_error(NNC_ERR_FORMAT, "%s: bad magic 0x%08x (expected 0x0000 then type and ndim, e.g. 0x%08x for u8 images)",
                         path, magic, 0x00000803u);
    if (h[2] != 0x08)
        return nnc_error(NNC_ERR_FORMAT, "%s: bad magic 0x%08x: type byte 0x%02x (%s) is not supported (expected 0x08 for u8)",
                         path, magic, h[2], idx_type_name(h[2]));
    if (ndim < 1 || ndim > 4)
        return nnc_error(NNC_ERR_FORMAT, "%s: bad magic 0x%08x: ndim %d (expected 1..4)", path, magic, ndim);
    s = idx_read(gz, path, h + 4, 4 * (size_t)ndim, &got);
    if (s) return s;
    if (got < 4 * (size_t)ndim)
        return nnc_error(NNC_ERR_FORMAT, "%s: truncated header: expected %d dimensions (%d bytes) after the magic, found %zu bytes",
                         path, ndim, 4 * ndim, got);
    memset(t, 0, sizeof *t);
    t->dtype = NNC_U8;
    t->ndim = ndim;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        const unsigned char *d = h + 4 + 4 * i;
        uint32_t v = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
        if (v == 0) return nnc_error(NNC_ERR_FORMAT, "%s: dimension %d is 0 (expected > 0)", path, i);
        t->shape[i] = v;
        n *= v; /* no overflow: n <= 2^31 before, v < 2^32 */
        if (n > IDX_MAX_ELEMS)
            return nnc_error(NNC_ERR_FORMAT, "%s: dimensions up to %d hold more than 2^31 elements (limit)", path, i);
    }
    *numel = n;
    *hdr_bytes = 4 + 4 * (size_t)ndim;
    return NNC_OK;
}

nnc_status nnc_idx_read(const char *path, nnc_tensor *out) {
    if (!path || !out) return nnc_error(NNC_ERR_ARG, "nnc_idx_read: path or out is NULL");
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return nnc_error(NNC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    unsigned char sig[2] = {0, 0};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return nnc_error(NNC_ERR_IO, "%s: not a regular file", path);
    }
    int gzipped = pread(fd, sig, 2, 0) == 2 && sig[0] == 0x1f && sig[1] == 0x8b;
    gzFile gz = gzdopen(fd, "rb");
    if (!gz) {
        close(fd);
        return nnc_error(NNC_ERR_OOM, "%s: cannot set up zlib reader", path);
    }
    gzbuffer(gz, 1 << 18);

    nnc_tensor t;
    int64_t numel = 0;
    size_t hdr = 0, got = 0;
    unsigned char *data = NULL;
    nnc_status s = idx_header(gz, path, &t, &numel, &hdr);
    if (s) goto done;
    size_t need = (size_t)numel;
    if (!gzipped) {
        /* A plain file's size is known: check it before allocating. */
        size_t have = (size_t)st.st_size - hdr;
        if (have < need) {
            s = nnc_error(NNC_ERR_FORMAT, "%s: truncated data: expected %zu bytes after the %zu-byte header, found %zu",
                          path, need, hdr, have);
            goto done;
        }
        if (have > need) {
            s = nnc_error(NNC_ERR_FORMAT, "%s: %zu trailing bytes after the %zu bytes of data the header declares",
                          path, have - need, need);
            goto done;
        }
    }
    /* Gzip: grow the buffer as data arrives. The first guess is bounded by the
     * compressed size, so a lying header cannot make us allocate much. */
    size_t cap = need;
    if (gzipped && cap > 4 * (size_t)st.st_size + ((size_t)1 << 20)) cap = 4 * (size_t)st.st_size + ((size_t)1 << 20);
    data = malloc(cap);
    if (!data) {
        s = nnc_error(NNC_ERR_OOM, "%s: cannot allocate %zu bytes", path, cap);
        goto done;
    }
    for (;;) {
        size_t n = 0;
        s = idx_read(gz, path, data + got, cap - got, &n);
        if (s) goto done;
        got += n;
        if (got < cap || cap == need) break;
        size_t ncap = cap * 2 < need ? cap * 2 : need;
        unsigned char *p = realloc(data, ncap);
        if (!p) {
            s = nnc_error(NNC_ERR_OOM, "%s: cannot allocate %zu bytes", path, ncap);
            goto done;
        }
        data = p;
        cap = ncap;
    }
    if (got < need) {
        s = nnc_error(NNC_ERR_FORMAT, "%s: truncated data: expected %zu bytes after the %zu-byte header, found %zu",
                      path, need, hdr, got);
        goto done;
    }
    unsigned char extra[4096];
    size_t n_extra = 0;
    s = idx_read(gz, path, extra, sizeof extra, &n_extra);
    if (s) goto done;
    if (n_extra) {
        s = nnc_error(NNC_ERR_FORMAT, "%s: trailing bytes (at least %zu) after the %zu bytes of data the header declares",
                      path, n_extra, need);
        goto done;
    }
    t.data = data;
    data = NULL;
    *out = t;
done:
    free(data);
    gzclose(gz);
    return s;
}
