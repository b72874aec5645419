/* unary.h -- elementwise activations from one scalar function pair.
 *
 * NNC_UNARY_OP(stem, doc, fwd, bwd, reads) defines the op `stem`: fwd(x)
 * gives y; bwd(x, y) gives dy/dx, where reads says which of x (NNC_READS_IN(0))
 * and y (NNC_READS_OUT) the derivative needs, so the planner keeps only that.
 * Also defines the builder nnc_<stem>(g, x) and gradient-check cases. */
#ifndef NNC_OPS_UNARY_H
#define NNC_OPS_UNARY_H
#include "ops/op.h"

nnc_status nnc_unary_infer(nnc_node *n);
/* Elementwise: input and output share any layout. */
uint32_t nnc_unary_layouts(const nnc_node *n);
nnc_node *nnc_unary_build(nnc_graph *g, int op, nnc_node *x);
nnc_node *nnc_unary_case(nnc_graph *g, int op, int ndim, const int64_t *shape);

/* Parameterized variant: two attribute floats a, b (nnc_unary_p_attrs). */
typedef struct { float a, b; } nnc_unary_p_attrs;
nnc_node *nnc_unary_build_p(nnc_graph *g, int op, nnc_node *x, float a, float b);
nnc_node *nnc_unary_case_p(nnc_graph *g, int op, float a, float b);

/* Loads only what the derivative reads: x (input) and/or y (output); the
 * other is 0 and unused (the planner may have freed it). */
#define NNC_UNARY_XY_(reads)                                                                      \
    const float x = ((reads) & NNC_READS_IN(0)) ? X[i] : 0.0f;                                    \
    const float y = ((reads) & NNC_READS_OUT) ? Y[i] : 0.0f;                                      \
    (void)x; (void)y

/* The forward and backward kernels of a unary op; PRELUDE declares what
 * fwd/bwd may use besides x and y (the attribute floats, or nothing). */
#define NNC_UNARY_KERNELS_(stem, fwd, bwd, reads, PRELUDE)                                        \
    static void stem##_forward(nnc_node *n, const nnc_exec *ex) {                                 \
        (void)ex;                                                                                  \
        PRELUDE                                                                                    \
        const float *X = n->in[0]->out.data;                                                       \
        float *Y = n->out.data;                                                                    \
        int64_t cnt = nnc_numel(&n->out);                                                          \
        _Pragma("omp parallel for simd schedule(static) if (parallel: cnt > 262144)")                        \
        for (int64_t i = 0; i < cnt; i++) { float x = X[i]; Y[i] = (fwd); }                        \
    }                                                                                              \
    static void stem##_backward(nnc_node *n, const nnc_exec *ex) {                                \
        (void)ex;                                                                                  \
        PRELUDE                                                                                    \
        const float *X = n->in[0]->out.data, *Y = n->out.data, *dY = n->grad.data;                 \
        float *dX = n->in[0]->grad.data;                                                           \
        int64_t cnt = nnc_numel(&n->out);                                                          \
        (void)X; (void)Y;                                                                          \
        /* two branch-free loops so both vectorize */                                             \
        if (n->accum[0]) {                                                                         \
            _Pragma("omp parallel for simd schedule(static) if (parallel: cnt > 262144)")                    \
            for (int64_t i = 0; i < cnt; i++) { NNC_UNARY_XY_(reads); dX[i] += dY[i] * (bwd); }    \
        } else {                                                                                   \
            _Pragma("omp parallel for simd schedule(static) if (parallel: cnt > 262144)")                    \
            for (int64_t i = 0; i < cnt; i++) { NNC_UNARY_XY_(reads); dX[i] = dY[i] * (bwd); }     \
        }                                                                                          \
    }

#define NNC_UNARY_NO_ATTRS_
#define NNC_UNARY_AB_ATTRS_                                                                        \
    const float a = NNC_ATTRS(n, nnc_unary_p_attrs)->a, b = NNC_ATTRS(n, nnc_unary_p_attrs)->b;    \
    (void)a; (void)b;

#define NNC_UNARY_OP(stem, ENUM, doc, fwd, bwd, reads, case_eps)                                  \
    NNC_UNARY_KERNELS_(stem, fwd, bwd, reads, NNC_UNARY_NO_ATTRS_)                                 \
    static nnc_node *stem##_case(nnc_graph *g) {                                                   \
        return nnc_unary_case(g, NNC_OP_##ENUM, 3, (const int64_t[]){3, 5, 7});                   \
    }                                                                                              \
    static const nnc_op_case stem##_cases[] = {{#stem "_3x5x7", 2, case_eps, 2e-3, 1e-4, 0, stem##_case}}; \
    const nnc_op_desc nnc_op_##stem = {#stem, doc, "", nnc_unary_infer, stem##_forward,          \
                                       stem##_backward, NULL, NULL, reads, stem##_cases, 1, NULL,        \
                                       nnc_unary_layouts, 0, NULL};                                      \
    nnc_node *nnc_##stem(nnc_graph *g, nnc_node *x) { return nnc_unary_build(g, NNC_OP_##ENUM, x); }

/* NNC_UNARY_OP_P(stem, ENUM, doc, attrs_doc, fwd, bwd, reads, case_eps, A, B):
 * like NNC_UNARY_OP, but fwd and bwd may also use the node's attribute
 * floats a and b (set by nnc_unary_build_p). The builder is not generated
 * (each op has its own parameter list); the gradient-check case uses a = A,
 * b = B. */
#define NNC_UNARY_OP_P(stem, ENUM, doc, attrs_doc, fwd, bwd, reads, case_eps, A, B)                \
    NNC_UNARY_KERNELS_(stem, fwd, bwd, reads, NNC_UNARY_AB_ATTRS_)                                 \
    static nnc_node *stem##_case(nnc_graph *g) { return nnc_unary_case_p(g, NNC_OP_##ENUM, (A), (B)); } \
    static const nnc_op_case stem##_cases[] = {{#stem "_3x5x7", 2, case_eps, 2e-3, 1e-4, 0, stem##_case}}; \
    const nnc_op_desc nnc_op_##stem = {#stem, doc, attrs_doc, nnc_unary_infer, stem##_forward,   \
                                       stem##_backward, NULL, NULL, reads, stem##_cases, 1, NULL,        \
                                       nnc_unary_layouts, 0, NULL};
#endif
