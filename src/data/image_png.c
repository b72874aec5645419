/* image_png.c -- PNG decoding through libpng, from a buffer in memory.
 * libpng reports errors by longjmp; the handler below turns every one into
 * NNC_ERR_FORMAT with libpng's message, so a corrupt file never aborts.
 * Transformations give 8-bit gray or RGB: palettes expanded, 1/2/4-bit gray
 * widened, 16-bit scaled to 8, alpha (and tRNS transparency) dropped. */
#include "image.h"
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct png_src {
    const unsigned char *buf;
    size_t n, pos;
    char msg[256]; /* libpng's error message */
} png_src;

static void png_on_error(png_structp png, png_const_charp msg) {
    png_src *s = png_get_error_ptr(png);
    if (msg != s->msg) snprintf(s->msg, sizeof s->msg, "%s", msg); /* ours are already there */
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

static void png_on_read(png_structp png, png_bytep dst, size_t len) {
    png_src *s = png_get_io_ptr(png);
    if (len > s->n - s->pos) {
        snprintf(s->msg, sizeof s->msg, "truncated: needs %zu more bytes at offset %zu, file has %zu", len, s->pos,
                 s->n - s->pos);
        png_error(png, s->msg);
    }
    memcpy(dst, s->buf + s->pos, len);
    s->pos += len;
}

nnc_status nnc_png_decode(const char *path, const unsigned char *buf, size_t n, nnc_tensor *out) {
    png_src src = {buf, n, 8, ""}; /* the caller checked the 8-byte signature */
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_on_error, png_on_warning);
    if (!png) return nnc_error(NNC_ERR_OOM, "%s: cannot create a PNG reader", path);
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return nnc_error(NNC_ERR_OOM, "%s: cannot create a PNG reader", path);
    }
    /* Written after setjmp, read after the longjmp: must be volatile. */
    unsigned char *volatile pix = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(pix);
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        return nnc_error(NNC_ERR_FORMAT, "%s: bad PNG: %s", path, src.msg);
    }
    png_set_read_fn(png, &src, png_on_read);
    png_set_sig_bytes(png, 8);
    png_read_info(png, info);
    png_uint_32 w, h;
    int depth, ctype;
    png_get_IHDR(png, info, &w, &h, &depth, &ctype, NULL, NULL, NULL);
    if (w > NNC_IMAGE_MAX_DIM || h > NNC_IMAGE_MAX_DIM) {
        snprintf(src.msg, sizeof src.msg, "IHDR: %ux%u exceeds the %d limit", (unsigned)w, (unsigned)h, NNC_IMAGE_MAX_DIM);
        png_error(png, src.msg);
    }
    if (ctype == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16) png_set_scale_16(png);
    if (ctype & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int c = png_get_channels(png, info);
    size_t rb = png_get_rowbytes(png, info);
    if ((c != 1 && c != 3) || rb != (size_t)w * (size_t)c) {
        snprintf(src.msg, sizeof src.msg, "unexpected layout after conversion: %d channels, %zu bytes per row", c, rb);
        png_error(png, src.msg);
    }
    /* Deflate expands at most ~1032:1: a header claiming more pixels than the
     * file can hold is refused before the pixel buffer is allocated. */
    if ((double)h * (double)(rb + 1) > 1032.0 * (double)n + 65536.0) {
        snprintf(src.msg, sizeof src.msg, "IHDR: %ux%u cannot be held in a %zu-byte file", (unsigned)w, (unsigned)h, n);
        png_error(png, src.msg);
    }
    pix = malloc((size_t)h * rb);
    rows = malloc((size_t)h * sizeof *rows);
    if (!pix || !rows) {
        snprintf(src.msg, sizeof src.msg, "cannot allocate %zu bytes for %ux%u pixels", (size_t)h * rb, (unsigned)w, (unsigned)h);
        png_error(png, src.msg);
    }
    for (png_uint_32 y = 0; y < h; y++) rows[y] = pix + (size_t)y * rb;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);

    nnc_status s = nnc_tensor_alloc(out, NNC_F32, 3, (int64_t[]){c, h, w});
    if (!s) { /* interleaved HWC u8 -> planar CHW f32 */
        float *o = out->data;
        size_t hw = (size_t)h * w;
        for (size_t i = 0; i < hw; i++)
            for (int k = 0; k < c; k++) o[(size_t)k * hw + i] = (float)pix[i * (size_t)c + (size_t)k] / 255.0f;
    }
    free(pix);
    free(rows);
    return s;
}
