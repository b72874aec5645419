/* image.h -- internal to src/data: the image decoders behind nnc_image_read.
 * Each decodes a whole file held in memory into f32 [C,H,W] in [0,1]. */
#ifndef NNC_DATA_IMAGE_H
#define NNC_DATA_IMAGE_H
#include "nnc.h"

#define NNC_IMAGE_MAX_DIM 65536

nnc_status nnc_png_decode(const char *path, const unsigned char *buf, size_t n, nnc_tensor *out);
#endif
