/* fuzz_idx.c -- libFuzzer harness for the IDX reader (plain and gzip): a
 * loaded tensor must hold exactly the elements its shape says. */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    nnc_tensor t;
    nnc_error(NNC_OK, "no error");
    nnc_status s = nnc_idx_read(fuzz_file(data, n), &t);
    fuzz_check_message(s);
    if (s) return 0;
    int64_t numel = 1;
    for (int d = 0; d < t.ndim; d++) numel *= t.shape[d];
    if (t.dtype != NNC_U8 || t.ndim < 1 || numel < 1) abort();
    unsigned sum = 0;
    const unsigned char *p = t.data;
    for (int64_t k = 0; k < numel; k++) sum += p[k];
    fuzz_sink += sum;
    nnc_tensor_free(&t);
    return 0;
}
