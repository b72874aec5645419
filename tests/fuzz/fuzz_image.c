/* fuzz_image.c -- libFuzzer harness for the image decoders behind
 * nnc_image_read (PNG through libpng, PGM/PPM binary and ASCII): a decoded
 * image is [C,H,W] with C 1 or 3 and every value in [0,1]. */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    nnc_tensor t;
    nnc_error(NNC_OK, "no error");
    nnc_status s = nnc_image_read(fuzz_file(data, n), &t);
    fuzz_check_message(s);
    if (s) return 0;
    if (t.dtype != NNC_F32 || t.ndim != 3 || (t.shape[0] != 1 && t.shape[0] != 3) || t.shape[1] < 1 || t.shape[2] < 1)
        abort();
    int64_t numel = t.shape[0] * t.shape[1] * t.shape[2];
    const float *p = t.data;
    for (int64_t k = 0; k < numel; k++)
        if (!(p[k] >= 0.0f && p[k] <= 1.0f)) abort();
    nnc_tensor_free(&t);
    return 0;
}
