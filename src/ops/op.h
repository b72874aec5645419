/* op.h -- what an op is: its descriptor, its gradient-check cases, and the
 * helpers kernels share. One op = one file in src/ops/ + one line in ops.def.
 *
 * Conventions (see docs/ARCHITECTURE.md, "Adding an op"):
 *  - infer() validates inputs and sets n->out (dtype, ndim, shape) for the
 *    current batch; errors name the node and the shapes.
 *  - forward() writes n->out.data (every element).
 *  - backward() reads n->grad and writes the gradient of every input that
 *    needs one (nnc_needs_grad(in[i])): when n->accum[i] is 0 it must
 *    overwrite in[i]->grad, otherwise add to it (nnc_grad_dst does the
 *    zeroing for kernels that only know how to add).
 *  - bwd_reads declares what backward reads, so the planner can free the rest.
 */
#ifndef NNC_OPS_OP_H
#define NNC_OPS_OP_H
#include "core/graph.h"
#include <string.h>

typedef enum nnc_op_id {
#define OP(E, s) NNC_OP_##E,
#include "ops/ops.def"
#undef OP
    NNC_OP_COUNT
} nnc_op_id;

/* A gradient-check case: build() adds inputs (with nnc_input_requires_grad),
 * parameters and the op, and marks the result as an output. */
typedef struct nnc_op_case {
    const char *name;
    int64_t batch;
    double eps, rtol, atol;  /* finite-difference step and tolerance */
    int int_range;           /* integer inputs are drawn from [0, int_range); a negative
                                value -k draws from [1, k] (sequence lengths) */
    nnc_node *(*build)(nnc_graph *g);
} nnc_op_case;

typedef struct nnc_op_desc {
    const char *name;
    const char *doc;      /* one line for `nnc ops` */
    const char *attrs_doc;
    nnc_status (*infer)(nnc_node *n);
    void (*forward)(nnc_node *n, const nnc_exec *x);
    void (*backward)(nnc_node *n, const nnc_exec *x);
    size_t (*workspace)(const nnc_node *n, int training); /* optional */
    size_t (*saved)(const nnc_node *n, int training);     /* optional */
    uint32_t bwd_reads;
    const nnc_op_case *cases;
    int n_cases;
    /* Multiply-accumulates of one forward pass over the whole batch (optional;
     * 0 for ops that do no products). Used by summaries and benchmarks. */
    int64_t (*macs)(const nnc_node *n);
    /* Which of the node's tensors may be in the blocked layout
     * (NNC_LAYOUT_BLOCKED16, oneDNN's nChw16c) in this plan (optional; NULL:
     * plain only). Returns NNC_BLOCKS_IN(i) for inputs and NNC_BLOCKS_OUT for
     * the output; with NNC_BLOCKS_TIED those tensors all take one layout
     * (elementwise ops), else each is free. Called at compile time with
     * shapes inferred; the kernels then read in[i]->out.layout and
     * out.layout and must handle every combination they allowed. */
    uint32_t (*layouts)(const nnc_node *n);
    /* NNC_FUSES_RELU_IN: the op commutes with a ReLU on its input 0 and can
     * apply it to its output instead (max pooling); the compiler then elides
     * a ReLU that feeds only this op and sets NNC_NODE_RELU_IN on the node:
     * in[0]->out then holds the values before the ReLU, and backward writes
     * the gradient of the ReLU's input. NNC_FUSES_RELU_OUT: the op can apply
     * a ReLU to its own output; the compiler elides a ReLU that is the only
     * reader of the op's output and sets NNC_NODE_RELU_OUT: out then holds
     * the ReLU'd values (the ReLU's tensor shares it), grad is the gradient
     * of the ReLU's output, and backward applies the ReLU's derivative (the
     * planner keeps out for backward). */
    uint32_t fuses;
    /* Which of the node's tensors may be a strided window (bstride != 0: a
     * channel slice of a wider concatenation's buffer, compile.c's in-place
     * concatenation) in this plan (optional; NULL: dense only). Returns
     * NNC_STRIDED_IN(i) for inputs (their gradients are then windows too)
     * and NNC_STRIDED_OUT for the output (and its gradient); called at
     * compile time with shapes and layouts decided. The kernels then find
     * batch item i at data + i * nnc_image_stride(t). */
    uint32_t (*strided)(const nnc_node *n);
} nnc_op_desc;
#define NNC_STRIDED_IN(i) (1u << (i))
#define NNC_STRIDED_OUT (1u << 31)
#define NNC_FUSES_RELU_IN 1u
#define NNC_FUSES_RELU_OUT 2u
/* With NNC_FUSES_RELU_OUT: the op keeps its own ReLU mask in `saved`, so its
 * backward does not read its output (batch norm). */
#define NNC_FUSES_OWN_MASK 4u
#define NNC_BLOCKS_IN(i) (1u << (i))
#define NNC_BLOCKS_OUT (1u << 30)
#define NNC_BLOCKS_TIED (1u << 31)

/* The table: non-const so tests can substitute a kernel (checker self-test). */
extern nnc_op_desc nnc_ops[NNC_OP_COUNT];
#define OP(E, s) extern const nnc_op_desc nnc_op_##s;
#include "ops/ops.def"
#undef OP
const nnc_op_desc *nnc_op_find(const char *name);

static inline float *nnc_f32(const nnc_tensor *t) { return (float *)t->data; }
static inline int64_t nnc_numel(const nnc_tensor *t) { return nnc_tensor_numel(t); }

/* The gradient buffer of input i ready for accumulation: NULL when input i
 * needs no gradient; zeroed first when this contribution overwrites. */
static inline float *nnc_grad_dst(nnc_node *n, int i) {
    nnc_node *in = n->in[i];
    if (!nnc_needs_grad(in)) return NULL;
    if (!n->accum[i]) memset(in->grad.data, 0, nnc_tensor_bytes(&in->grad));
    return (float *)in->grad.data;
}
/* Copies shape of t into n->out with dtype dt. */
static inline void nnc_out_like(nnc_node *n, const nnc_tensor *t, nnc_dtype dt) {
    n->out.dtype = dt;
    n->out.ndim = t->ndim;
    for (int i = 0; i < t->ndim; i++) n->out.shape[i] = t->shape[i];
}
/* Class losses (cross-entropy, multi-margin, LeNet's MAP): scores f32
 * [N, classes] and labels i32/i64 [N] give a scalar [1] (class_loss.c). */
nnc_status nnc_class_loss_infer(nnc_node *n);
static inline int64_t nnc_label_at(const nnc_tensor *y, int64_t i) {
    return y->dtype == NNC_I64 ? ((const int64_t *)y->data)[i] : ((const int32_t *)y->data)[i];
}
static inline int nnc_is_blocked(const nnc_tensor *t) { return t->layout == NNC_LAYOUT_BLOCKED16; }
/* Elements from batch item i to i + 1: bstride for a window, else the
 * elements of one item. */
static inline int64_t nnc_image_stride(const nnc_tensor *t) {
    if (t->bstride) return t->bstride;
    int64_t e = 1;
    for (int i = 1; i < t->ndim; i++) e *= t->shape[i];
    return e;
}
/* Batch norm's training output, recomputed from its input and its saved
 * statistics into y, bitwise as its forward wrote it (with the fused ReLU
 * when it has one): plain [N, C, ...], or with blocked (4-D only) nChw16c
 * with C padded to a multiple of 16 and zeros in the padding; with_mask:
 * the fused ReLU's mask into saved too, as forward would. For a consumer
 * with NNC_NODE_RECOMPUTE_IN or NNC_NODE_NORM_IN (batchnorm.c). */
void nnc_batchnorm_recompute(const nnc_node *bn, float *y, int blocked, int with_mask);
/* 1 when a batch norm's training output can be left to its consumer
 * (NNC_NODE_STATS_ONLY): it runs the plain kernels on a 4-D input. */
int nnc_batchnorm_foldable(const nnc_node *bn);
/* 1 when a convolution can write its input gradient blocked (nChw16c, C
 * padded to 16) while its input is plain: oneDNN runs it that way
 * (conv2d.c; makes the primitives). Call with shapes, layouts and windows
 * decided. */
int nnc_conv2d_blocks_dx(nnc_node *conv);
/* 1 when a batch norm computes its training statistics in the plain kernels
 * and may take some from an earlier one (compile.c's shared statistics). */
int nnc_batchnorm_shares_stats(const nnc_node *bn);
/* Channel concatenations (axis 1) of plain tensors can be rebuilt (concat.c):
 * nnc_concat_rebuild writes n's output into dst from its inputs, going
 * through inputs that are themselves NNC_NODE_REMAT concatenations down to
 * kept tensors. */
int nnc_concat_rebuildable(const nnc_node *n);
void nnc_concat_rebuild(const nnc_node *n, float *dst);
/* The tensor whose values c's backward reads for input j, NULL if none: the
 * input's storage when the op's bwd_reads names it, and for a convolution
 * that recomputes its input 0 (NNC_NODE_RECOMPUTE_IN) the input of the batch
 * norm it recomputes from. The planner keeps it alive and run.c rebuilds it
 * when it is a rebuilt concatenation. */
static inline const nnc_node *nnc_bwd_read(const nnc_node *c, int j) {
    const nnc_node *q = nnc_storage_of(c->in[j]);
    if (j == 0 && (c->flags & NNC_NODE_RECOMPUTE_IN)) return q->in[0];
    return j < 31 && (nnc_ops[c->op].bwd_reads & NNC_READS_IN(j)) ? q : NULL;
}
/* A kernel that cannot run in the workspace planned for it (the thread
 * count changed after compiling and its oneDNN primitives, or its
 * recomputed input, need more): the run stops with NNC_ERR_STATE naming
 * the node and `need`. */
void nnc_fault_replan(nnc_node *n, const nnc_exec *ex, const char *need);
/* "node 'conv1' (conv2d)" for messages. */
const char *nnc_node_desc(const nnc_node *n, char *buf, size_t size);
#define NNC_ATTRS(n, T) ((T *)(void *)(n)->attrs)
#endif
