/* fuzz_weights.c -- libFuzzer harness for loading weights into a model
 * (nnc_model_load: the safetensors reader, then the strict name/dtype/shape
 * match of nnc_graph_load and the normalization metadata). The model is a
 * tiny conv + batch norm + linear net built once from FUZZ_WEIGHTS_CFG; the
 * seeds are its saved weights (tests/fuzz/make_seeds.py). */
#include "fuzz_util.h"

#define FUZZ_WEIGHTS_CFG                                                                     \
    "[net]\nwidth=4\nheight=4\nchannels=1\n"                                                 \
    "[convolutional]\nname=conv\nfilters=2\nsize=3\npad=1\nbatch_normalize=1\nactivation=relu\n" \
    "[connected]\nname=fc\noutput=10\nactivation=linear\n"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    static nnc_model *m;
    if (!m && nnc_model_from_cfg_mem(FUZZ_WEIGHTS_CFG, sizeof FUZZ_WEIGHTS_CFG - 1, "weights.cfg", NULL, NULL, &m)) {
        fprintf(stderr, "fuzz_weights: %s\n", nnc_last_error());
        abort();
    }
    nnc_error(NNC_OK, "no error");
    nnc_status s = nnc_model_load(m, fuzz_file(data, n));
    fuzz_check_message(s);
    if (!s && !(m->norm_std > 0)) abort(); /* a loaded std must be usable */
    return 0;
}
