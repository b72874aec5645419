/* test_gradcheck.c -- every op's gradient-check cases (from its op file)
 * against central differences, and a self-test proving the checker catches
 * a backward that is 1% off. Tolerances are each case's own (op file). */
#include "testlib.h"
#include "ops/op.h"
#include <stdlib.h>
#include <string.h>

/* Fills every input: normal floats (away from ReLU/max kinks by chance),
 * integers in [0, int_range), or in [1, -int_range] when it is negative. */
static void fill_inputs(nnc_graph *g, int int_range, uint64_t seed) {
    const int64_t lo = int_range < 0 ? 1 : 0, span = int_range < 0 ? -int_range : int_range > 0 ? int_range : 3;
    for (int i = 0; i < g->n_inputs; i++) {
        nnc_node *n = g->inputs[i];
        if (n->order < 0) continue;
        int64_t c = nnc_tensor_numel(&n->out);
        for (int64_t j = 0; j < c; j++) {
            uint64_t r = nnc_rand_u64(seed, (uint64_t)i, (uint64_t)j);
            switch (n->out.dtype) {
            case NNC_F32: ((float *)n->out.data)[j] = nnc_rand_normal(seed, 100 + (uint64_t)i, (uint64_t)j); break;
            case NNC_I32: ((int32_t *)n->out.data)[j] = (int32_t)(lo + (int64_t)(r % (uint64_t)span)); break;
            case NNC_I64: ((int64_t *)n->out.data)[j] = lo + (int64_t)(r % (uint64_t)span); break;
            default: break;
            }
        }
    }
}

static nnc_status run_case(const nnc_op_case *c, int full, nnc_gradcheck_result *res) {
    nnc_graph *g = nnc_graph_new();
    nnc_graph_set_seed(g, 42);
    c->build(g);
    nnc_status s = nnc_graph_status(g);
    if (!s) s = nnc_graph_compile(g, c->batch, 1);
    if (!s) {
        fill_inputs(g, c->int_range, 7);
        nnc_gradcheck_opts o = nnc_gradcheck_defaults();
        o.eps = c->eps;
        o.rtol = c->rtol;
        o.atol = c->atol;
        o.full_jacobian = full;
        s = nnc_gradcheck(g, &o, res);
    }
    nnc_graph_free(g);
    return s;
}

static int cases_run;

static void check_op(int op) {
    const nnc_op_desc *d = &nnc_ops[op];
    for (int i = 0; i < d->n_cases; i++) {
        const nnc_op_case *c = &d->cases[i];
        char name[200];
        snprintf(name, sizeof name, "gradcheck %s (rtol %g, atol %g, eps %g)", c->name, c->rtol, c->atol, c->eps);
        T_CASE(name) {
            nnc_gradcheck_result r;
            nnc_status s = run_case(c, 1, &r);
            T_CHECKF(s == NNC_OK, "%s: %s", nnc_status_name(s), nnc_last_error());
            T_CHECKF(r.n_checked > 0, "nothing was compared");
            cases_run++;
        }
    }
}

/* A tanh whose backward is 1% too large. */
static void (*real_tanh_backward)(nnc_node *, const nnc_exec *);
static void bad_tanh_backward(nnc_node *n, const nnc_exec *x) {
    real_tanh_backward(n, x);
    float *dx = n->in[0]->grad.data;
    for (int64_t i = 0; i < nnc_tensor_numel(&n->in[0]->grad); i++) dx[i] *= 1.01f;
}

int main(void) {
    for (int op = 0; op < NNC_OP_COUNT; op++) {
        T_CASE(nnc_ops[op].name) { T_CHECKF(nnc_ops[op].n_cases > 0, "op %s has no gradient-check case", nnc_ops[op].name); }
        check_op(op);
    }
    T_CASE("checker fails on a tanh backward that is 1% off") {
        real_tanh_backward = nnc_ops[NNC_OP_TANH].backward;
        nnc_ops[NNC_OP_TANH].backward = bad_tanh_backward;
        nnc_gradcheck_result r;
        nnc_status s = run_case(&nnc_ops[NNC_OP_TANH].cases[0], 0, &r);
        nnc_ops[NNC_OP_TANH].backward = real_tanh_backward;
        T_CHECKF(s == NNC_ERR_NUMERIC, "expected a failure, got %s", nnc_status_name(s));
        T_CHECK(r.n_failed > 0);
        s = run_case(&nnc_ops[NNC_OP_TANH].cases[0], 0, &r);
        T_CHECKF(s == NNC_OK, "the real backward must pass: %s", nnc_last_error());
    }
    T_CASE("checker fails on a 1%-off backward inside a deeper graph (Jacobian mode)") {
        real_tanh_backward = nnc_ops[NNC_OP_TANH].backward;
        nnc_ops[NNC_OP_TANH].backward = bad_tanh_backward;
        nnc_gradcheck_result r;
        nnc_status s = run_case(&nnc_ops[NNC_OP_TANH].cases[0], 1, &r);
        nnc_ops[NNC_OP_TANH].backward = real_tanh_backward;
        T_CHECK(s == NNC_ERR_NUMERIC);
    }
    printf("%d gradient-check cases run\n", cases_run);
    return t_finish();
}
