/* fuzz_safetensors.c -- libFuzzer harness for the safetensors reader: open the
 * input, then touch every tensor byte and every metadata string, so a tensor
 * that points outside the file image shows up under ASan. */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    nnc_safetensors *f = NULL;
    nnc_error(NNC_OK, "no error");
    nnc_status s = nnc_safetensors_open(fuzz_file(data, n), &f);
    fuzz_check_message(s);
    if (s) {
        if (f) abort();
        return 0;
    }
    unsigned sum = 0;
    for (int i = 0; i < nnc_safetensors_count(f); i++) {
        const char *name = nnc_safetensors_name(f, i);
        const nnc_tensor *t = name ? nnc_safetensors_get(f, name) : NULL;
        if (!t) abort(); /* every listed name must be found */
        size_t bytes = nnc_dtype_size(t->dtype);
        for (int d = 0; d < t->ndim; d++) bytes *= (size_t)t->shape[d];
        const unsigned char *p = t->data;
        for (size_t k = 0; k < bytes; k++) sum += p[k];
    }
    for (int i = 0; i < nnc_safetensors_meta_count(f); i++) {
        const char *k = nnc_safetensors_meta_key(f, i);
        const char *v = k ? nnc_safetensors_meta(f, k) : NULL;
        if (!v) abort();
        sum += (unsigned)strlen(v);
    }
    fuzz_sink += sum;
    nnc_safetensors_close(f);
    return 0;
}
