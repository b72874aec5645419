/* image.c -- nnc_image_read: one grayscale or RGB image into f32 [C,H,W] in
 * [0,1]. The file is read whole (its real size bounds every later check), the
 * format is recognized by content: PNG (image_png.c) or Netpbm PGM/PPM, binary
 * (P5/P6) or ASCII (P2/P3), maxval up to 65535. Header fields are validated
 * and pixel data is checked to be all there before the tensor is allocated. */
#include "image.h"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IMAGE_MAX_FILE ((size_t)1 << 31)

static nnc_status read_whole(const char *path, unsigned char **buf, size_t *n) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return nnc_error(NNC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return nnc_error(NNC_ERR_IO, "%s: not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    if (size > IMAGE_MAX_FILE) {
        close(fd);
        return nnc_error(NNC_ERR_FORMAT, "%s: %zu bytes is too large for an image file (limit %zu)", path, size, IMAGE_MAX_FILE);
    }
    unsigned char *b = malloc(size ? size : 1);
    if (!b) {
        close(fd);
        return nnc_error(NNC_ERR_OOM, "%s: cannot allocate %zu bytes", path, size);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, b + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break; /* the file shrank: parse what we have */
        got += (size_t)r;
    }
    int err = errno;
    close(fd);
    if (got < size && got == 0 && size) {
        free(b);
        return nnc_error(NNC_ERR_IO, "%s: read error: %s", path, strerror(err));
    }
    *buf = b;
    *n = got;
    return NNC_OK;
}

/* A cursor over a PNM header or ASCII raster. */
typedef struct pnm {
    const char *path;
    const unsigned char *b;
    size_t n, pos;
} pnm;

static void pnm_skip_space(pnm *p) {
    while (p->pos < p->n) {
        unsigned char ch = p->b[p->pos];
        if (ch == '#')
            while (p->pos < p->n && p->b[p->pos] != '\n' && p->b[p->pos] != '\r') p->pos++;
        else if (isspace(ch)) p->pos++;
        else break;
    }
}

/* An unsigned decimal in [lo, hi], preceded by whitespace/comments; field
 * names it in messages (with index idx when idx >= 0). */
static nnc_status pnm_uint(pnm *p, const char *field, long long idx, unsigned lo, unsigned hi, unsigned *v) {
    char name[64];
    pnm_skip_space(p);
    size_t at = p->pos;
    uint64_t x = 0;
    int ok = at < p->n && isdigit(p->b[at]);
    while (ok && p->pos < p->n && isdigit(p->b[p->pos]) && x <= hi) x = x * 10 + (uint64_t)(p->b[p->pos++] - '0');
    if (ok && x >= lo && x <= hi) {
        *v = (unsigned)x;
        return NNC_OK;
    }
    if (idx >= 0) snprintf(name, sizeof name, "%s %lld", field, idx);
    else snprintf(name, sizeof name, "%s", field);
    if (at >= p->n) return nnc_error(NNC_ERR_FORMAT, "%s: truncated: expected %s at byte %zu, found end of file", p->path, name, at);
    if (!ok)
        return nnc_error(NNC_ERR_FORMAT, "%s: expected %s (a decimal number) at byte %zu, found 0x%02x", p->path, name, at, p->b[at]);
    return nnc_error(NNC_ERR_FORMAT, "%s: %s at byte %zu is %s%llu, outside %u..%u", p->path, name, at, x > hi ? "at least " : "",
                     (unsigned long long)x, lo, hi);
}

static nnc_status pnm_decode(const char *path, const unsigned char *buf, size_t n, nnc_tensor *out) {
    pnm p = {path, buf, n, 2};
    int kind = buf[1] - '0'; /* 2,3 ascii; 5,6 binary; 3,6 rgb */
    int c = kind == 3 || kind == 6 ? 3 : 1, ascii = kind <= 3;
    unsigned w, h, maxval;
    nnc_status s;
    if (p.pos < n && !isspace(buf[p.pos]) && buf[p.pos] != '#')
        return nnc_error(NNC_ERR_FORMAT, "%s: expected whitespace after the magic P%d at byte 2", path, kind);
    if ((s = pnm_uint(&p, "width", -1, 1, NNC_IMAGE_MAX_DIM, &w))) return s;
    if ((s = pnm_uint(&p, "height", -1, 1, NNC_IMAGE_MAX_DIM, &h))) return s;
    if ((s = pnm_uint(&p, "maxval", -1, 1, 65535, &maxval))) return s;
    size_t count = (size_t)w * h * (size_t)c;
    if (!ascii) {
        if (p.pos >= n || !isspace(buf[p.pos]))
            return nnc_error(NNC_ERR_FORMAT, "%s: expected one whitespace byte after maxval at byte %zu", path, p.pos);
        p.pos++;
        size_t bps = maxval < 256 ? 1 : 2, need = count * bps;
        if (n - p.pos < need)
            return nnc_error(NNC_ERR_FORMAT, "%s: truncated pixel data: %ux%ux%d at %zu byte(s) per sample needs %zu bytes, found %zu",
                             path, w, h, c, bps, need, n - p.pos);
    } else if (count - 1 > (n - p.pos) / 2) { /* each ASCII sample takes a digit and a separator */
        return nnc_error(NNC_ERR_FORMAT, "%s: truncated pixel data: %ux%ux%d samples cannot fit in the %zu bytes left",
                         path, w, h, c, n - p.pos);
    }
    if ((s = nnc_tensor_alloc(out, NNC_F32, 3, (int64_t[]){c, h, w}))) return s;
    float *o = out->data;
    size_t hw = (size_t)w * h;
    for (size_t i = 0; i < count; i++) {
        unsigned v;
        if (ascii) {
            if ((s = pnm_uint(&p, "sample", (long long)i, 0, maxval, &v))) break;
        } else if (maxval < 256) {
            v = buf[p.pos + i];
        } else {
            v = (unsigned)buf[p.pos + 2 * i] << 8 | buf[p.pos + 2 * i + 1];
        }
        if (v > maxval) {
            s = nnc_error(NNC_ERR_FORMAT, "%s: sample %zu is %u, above maxval %u", path, i, v, maxval);
            break;
        }
        o[(i % (size_t)c) * hw + i / (size_t)c] = (float)v / (float)maxval;
    }
    if (s) nnc_tensor_free(out);
    return s;
}

nnc_status nnc_image_read(const char *path, nnc_tensor *out) {
    if (!path || !out) return nnc_error(NNC_ERR_ARG, "nnc_image_read: path or out is NULL");
    memset(out, 0, sizeof *out);
    unsigned char *buf = NULL;
    size_t n = 0;
    nnc_status s = read_whole(path, &buf, &n);
    if (s) return s;
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n >= 8 && !memcmp(buf, png_sig, 8)) s = nnc_png_decode(path, buf, n, out);
    else if (n >= 2 && buf[0] == 'P' && buf[1] && strchr("2356", buf[1])) s = pnm_decode(path, buf, n, out);
    else if (n >= 2 && buf[0] == 'P' && buf[1] && strchr("147", buf[1]))
        s = nnc_error(NNC_ERR_UNSUPPORTED, "%s: Netpbm P%c is not supported (expected P2, P3, P5 or P6)", path, buf[1]);
    else if (n >= 3 && buf[0] == 0xff && buf[1] == 0xd8 && buf[2] == 0xff)
        s = nnc_error(NNC_ERR_UNSUPPORTED, "%s: JPEG is not supported (expected PNG or PGM/PPM)", path);
    else
        s = nnc_error(NNC_ERR_FORMAT, "%s: not a PNG or PGM/PPM file (%zu bytes, starts with 0x%02x 0x%02x)", path, n,
                      n > 0 ? buf[0] : 0, n > 1 ? buf[1] : 0);
    free(buf);
    return s;
}
