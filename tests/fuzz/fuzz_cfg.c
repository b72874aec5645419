/* fuzz_cfg.c -- libFuzzer harness for the .cfg model-file parser and the
 * graph builder behind it (nnc_model_from_cfg_mem): any text must either build
 * a model or be refused with a status and a message, never crash or leak. */
#include "fuzz_util.h"

static void quiet(const char *msg, void *user) { (void)msg; (void)user; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    nnc_cfg_net net;
    nnc_cfg_opts co = {0, quiet, NULL, &net};
    nnc_model *m = NULL;
    nnc_error(NNC_OK, "no error");
    nnc_status s = nnc_model_from_cfg_mem((const char *)data, n, "fuzz.cfg", NULL, &co, &m);
    fuzz_check_message(s);
    if (!s) {
        if (!m || !m->logits || !m->loss || m->num_classes < 0) abort(); /* 0 classes: a reconstruction model */
        nnc_model_free(m);
    } else if (m) {
        abort(); /* a failure must not hand back a model */
    }
    return 0;
}
