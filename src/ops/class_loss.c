/* class_loss.c -- the shape rule shared by the class losses: scores f32
 * [N, classes] and one integer label per sample give a scalar loss [1].
 * Cross-entropy also takes sequences: scores [N, T, classes] with labels
 * [N, T] (one class id per step, a tagger); the other class losses refuse
 * them with a message saying so. */
#include "ops/op.h"

nnc_status nnc_class_loss_infer(nnc_node *n) {
    const nnc_tensor *x = &n->in[0]->out, *y = &n->in[1]->out;
    char d[160], s1[64], s2[64];
    int seq_ok = n->op == NNC_OP_CROSS_ENTROPY;
    if (x->dtype == NNC_F32 && x->ndim == 3 && !seq_ok)
        return nnc_error(NNC_ERR_SHAPE, "%s: scores must be f32 [N, classes], got %s (per-step scores [N, T, classes] are supported by cross_entropy only)",
                         nnc_node_desc(n, d, sizeof d), nnc_shape_str(x, s1, sizeof s1));
    if (x->dtype != NNC_F32 || (x->ndim != 2 && !(seq_ok && x->ndim == 3)))
        return nnc_error(NNC_ERR_SHAPE, "%s: scores must be f32 [N, classes]%s, got %s", nnc_node_desc(n, d, sizeof d),
                         seq_ok ? " or [N, T, classes]" : "", nnc_shape_str(x, s1, sizeof s1));
    int ok = (y->dtype == NNC_I32 || y->dtype == NNC_I64) && y->ndim == x->ndim - 1;
    for (int i = 0; ok && i < y->ndim; i++) ok = y->shape[i] == x->shape[i];
    if (!ok) {
        if (x->ndim == 3)
            return nnc_error(NNC_ERR_SHAPE, "%s: labels must be i32/i64 [%lld, %lld] (one class id per step of scores %s), got %s %s",
                             nnc_node_desc(n, d, sizeof d), (long long)x->shape[0], (long long)x->shape[1],
                             nnc_shape_str(x, s1, sizeof s1), nnc_dtype_name(y->dtype), nnc_shape_str(y, s2, sizeof s2));
        return nnc_error(NNC_ERR_SHAPE, "%s: labels must be i32/i64 [%lld] (one class id per sample), got %s %s",
                         nnc_node_desc(n, d, sizeof d), (long long)x->shape[0], nnc_dtype_name(y->dtype),
                         nnc_shape_str(y, s2, sizeof s2));
    }
    n->out.dtype = NNC_F32;
    n->out.ndim = 1;
    n->out.shape[0] = 1;
    return NNC_OK;
}
