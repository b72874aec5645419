/* loss_pw.h -- pointwise losses: loss = r( f(p_i, t_i) ) over all elements,
 * r = mean (divide by the element count) or sum; scalar output [1].
 *
 * NNC_PW_LOSS(stem, ENUM, doc, attrs_doc, F, DP, DT) defines the op `stem`:
 * F, DP, DT are expressions in p, t and the attributes a (a float) and flag
 * (an int) giving f, df/dp and df/dt. Forward sums in double in element
 * order (no dependence on thread count); backward reads both inputs.
 * Builders go through nnc_pw_loss_build(g, op, name, pred, target, r, a, flag). */
#ifndef NNC_OPS_LOSS_PW_H
#define NNC_OPS_LOSS_PW_H
#include "ops/op.h"
#include <math.h>

typedef struct { int reduction; float a; int flag; } nnc_pw_loss_attrs;

nnc_status nnc_pw_loss_infer(nnc_node *n);
nnc_node *nnc_pw_loss_build(nnc_graph *g, int op, const char *name, nnc_node *pred, nnc_node *target, nnc_reduction r,
                            float a, int flag);

#define NNC_PW_LOSS(stem, ENUM, doc, attrs_doc, F, DP, DT, cases, n_cases)                           \
    static void stem##_forward(nnc_node *n, const nnc_exec *ex) {                                     \
        (void)ex;                                                                                      \
        const nnc_pw_loss_attrs *at_ = NNC_ATTRS(n, nnc_pw_loss_attrs);                                \
        const float a = at_->a; const int flag = at_->flag;                                            \
        (void)a; (void)flag;                                                                           \
        const float *P = n->in[0]->out.data, *T = n->in[1]->out.data;                                  \
        int64_t cnt = nnc_numel(&n->in[0]->out);                                                       \
        double s = 0;                                                                                  \
        for (int64_t i = 0; i < cnt; i++) { const float p = P[i], t = T[i]; (void)p; (void)t; s += (double)(F); }        \
        if (at_->reduction == NNC_MEAN) s /= (double)cnt;                                              \
        ((float *)n->out.data)[0] = (float)s;                                                          \
    }                                                                                                  \
    static void stem##_backward(nnc_node *n, const nnc_exec *ex) {                                    \
        (void)ex;                                                                                      \
        const nnc_pw_loss_attrs *at_ = NNC_ATTRS(n, nnc_pw_loss_attrs);                                \
        const float a = at_->a; const int flag = at_->flag;                                            \
        (void)a; (void)flag;                                                                           \
        const float *P = n->in[0]->out.data, *T = n->in[1]->out.data;                                  \
        int64_t cnt = nnc_numel(&n->in[0]->out);                                                       \
        float scale = ((const float *)n->grad.data)[0];                                                \
        if (at_->reduction == NNC_MEAN) scale /= (float)cnt;                                           \
        if (nnc_needs_grad(n->in[0])) {                                                                \
            float *dp = n->in[0]->grad.data; int acc = n->accum[0];                                    \
            for (int64_t i = 0; i < cnt; i++) {                                                        \
                const float p = P[i], t = T[i]; (void)p; (void)t; float d = scale * (DP);                                \
                dp[i] = acc ? dp[i] + d : d;                                                           \
            }                                                                                          \
        }                                                                                              \
        if (nnc_needs_grad(n->in[1])) {                                                                \
            float *dt = n->in[1]->grad.data; int acc = n->accum[1];                                    \
            for (int64_t i = 0; i < cnt; i++) {                                                        \
                const float p = P[i], t = T[i]; (void)p; (void)t; float d = scale * (DT);                                \
                dt[i] = acc ? dt[i] + d : d;                                                           \
            }                                                                                          \
        }                                                                                              \
    }                                                                                                  \
    const nnc_op_desc nnc_op_##stem = {#stem, doc, attrs_doc, nnc_pw_loss_infer, stem##_forward,      \
                                       stem##_backward, NULL, NULL, NNC_READS_IN(0) | NNC_READS_IN(1),  \
                                       cases, n_cases, NULL, NULL, 0, NULL};

/* Shared gradient-check graph: pred [shape] requires grad, target too when tgrad. */
nnc_node *nnc_pw_loss_case(nnc_graph *g, int op, nnc_reduction r, float a, int flag, int tgrad, int ndim, const int64_t *shape);
#endif
