/* test_dnnl_matmul.c -- the oneDNN matmul path of the linear op
 * (kernels/dnnl_matmul.c): the kernel against the double-precision
 * reference GEMM, the op's forward against its sgemm path (NNC_DNNL=0) for
 * flattened and time-distributed inputs, with and without bias, below and
 * above the row threshold; switching between plans of different batch;
 * no heap allocation in a training step. */
#include "testlib.h"
#include "core/graph.h"
#include "kernels/dnnl_matmul.h"
#include "kernels/gemm.h"
#include <stdlib.h>
#include <string.h>

static void fill(float *p, int64_t n, uint64_t stream) {
    for (int64_t i = 0; i < n; i++) p[i] = nnc_rand_normal(7, stream, (uint64_t)i);
}

static void check_kernel(int64_t M, int64_t N, int64_t K, int bias) {
    char name[96];
    snprintf(name, sizeof name, "matmul kernel %lldx%lldx%lld%s vs reference", (long long)M, (long long)N, (long long)K, bias ? " +bias" : "");
    T_CASE(name) {
        float *x = malloc((size_t)(M * K) * sizeof(float)), *w = malloc((size_t)(N * K) * sizeof(float));
        float *b = malloc((size_t)N * sizeof(float)), *y = malloc((size_t)(M * N) * sizeof(float));
        float *want = malloc((size_t)(M * N) * sizeof(float));
        fill(x, M * K, 1);
        fill(w, N * K, 2);
        fill(b, N, 3);
        nnc_sgemm_ref('N', 'T', M, N, K, 1.0f, x, K, w, K, 0.0f, want, N);
        if (bias)
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < N; j++) want[i * N + j] += b[j];
        nnc_dnnl_matmul *m = nnc_dnnl_matmul_new(M, N, K, bias);
        T_CHECK(m != NULL);
        T_CHECKF(nnc_dnnl_matmul_ok(m), "no fast implementation (%s)", nnc_dnnl_matmul_impl(m));
        if (nnc_dnnl_matmul_ok(m)) {
            T_CHECK(nnc_dnnl_matmul_matches(m, M, N, K, bias) && !nnc_dnnl_matmul_matches(m, M + 1, N, K, bias) &&
                    !nnc_dnnl_matmul_matches(m, M, N, K, !bias));
            void *ws = malloc(nnc_dnnl_matmul_ws(m) + 64);
            memset(y, 0xff, (size_t)(M * N) * sizeof(float)); /* NaN: every element must be written */
            T_OK(nnc_dnnl_matmul_forward(m, x, w, bias ? b : NULL, y, ws));
            T_CHECK(t_close("y", y, want, M * N, 1e-5, 1e-5 * (double)K));
            free(ws);
        }
        nnc_dnnl_matmul_free(m);
        free(x); free(w); free(b); free(y); free(want);
    }
}

/* One linear layer on [batch, in_shape] (flattened, or last_dim with seq). */
typedef struct { int64_t batch; int ndim; int64_t shape[3]; int64_t out; int bias, seq; } lin_spec;

static float *run_linear(const lin_spec *s, int dnnl, int *made) {
    setenv("NNC_DNNL", dnnl ? "1" : "0", 1);
    nnc_graph *g = nnc_graph_new();
    nnc_node *x = nnc_input(g, "x", NNC_F32, s->ndim, s->shape);
    nnc_node *y = s->seq ? nnc_linear_seq_layer(g, x, "fc", s->out, s->bias) : nnc_linear_layer(g, x, "fc", s->out, s->bias);
    nnc_graph_output(g, y);
    float *out = NULL;
    if (!nnc_graph_compile(g, s->batch, 0)) {
        *made = y->kcache != NULL; /* the compile-time hook made a matmul object */
        nnc_tensor *xt = nnc_node_value(x);
        fill(xt->data, nnc_tensor_numel(xt), 4);
        if (!nnc_graph_forward(g)) {
            nnc_tensor *yt = nnc_node_value(y);
            out = malloc((size_t)nnc_tensor_numel(yt) * sizeof(float));
            memcpy(out, yt->data, (size_t)nnc_tensor_numel(yt) * sizeof(float));
        }
    }
    nnc_graph_free(g);
    unsetenv("NNC_DNNL");
    return out;
}

static void check_op(const lin_spec *s) {
    char name[128];
    snprintf(name, sizeof name, "linear%s batch %lld, %d-d sample -> %lld%s: oneDNN matmul == sgemm path", s->seq ? "_seq" : "",
             (long long)s->batch, s->ndim, (long long)s->out, s->bias ? " +bias" : "");
    T_CASE(name) {
        int made_a = 0, made_b = 0;
        float *a = run_linear(s, 1, &made_a), *b = run_linear(s, 0, &made_b);
        T_CHECK(a && b);
        int64_t rows = s->batch * (s->seq ? s->shape[0] : 1);
        T_CHECKF(made_a == (rows >= NNC_MATMUL_MIN_ROWS) && !made_b, "matmul object made: %d with oneDNN, %d without", made_a, made_b);
        if (a && b) T_CHECK(t_close("y", a, b, rows * s->out, 1e-5, 1e-5));
        free(a);
        free(b);
    }
}

/* Plans of batch 64, then 5 (sgemm), then 40, then 64 again: each forward
 * uses its own plan's object and matches the sgemm path. */
static void check_plan_switch(void) {
    T_CASE("linear: switching plans (64, 5, 40, 64 rows) keeps each plan's matmul right") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){30});
        nnc_node *y = nnc_linear_layer(g, x, "fc", 20, 1);
        nnc_graph_output(g, y);
        const int64_t batches[] = {64, 5, 40, 64};
        for (int k = 0; k < 4; k++) {
            int64_t B = batches[k];
            T_OK(nnc_graph_compile(g, B, 0));
            float *xv = nnc_node_value(x)->data;
            fill(xv, B * 30, (uint64_t)(10 + k));
            T_OK(nnc_graph_forward(g));
            const float *w = nnc_node_value(nnc_graph_find(g, "fc.weight"))->data, *b = nnc_node_value(nnc_graph_find(g, "fc.bias"))->data;
            float *want = malloc((size_t)(B * 20) * sizeof(float));
            nnc_sgemm_ref('N', 'T', B, 20, 30, 1.0f, xv, 30, w, 30, 0.0f, want, 20);
            for (int64_t i = 0; i < B; i++)
                for (int j = 0; j < 20; j++) want[i * 20 + j] += b[j];
            T_CHECK(t_close("y", nnc_node_value(y)->data, want, B * 20, 1e-5, 1e-5));
            free(want);
        }
        nnc_graph_free(g);
    }
}

static void check_no_alloc(void) {
    T_CASE("linear on oneDNN matmul: a training step allocates nothing") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){50});
        nnc_node *lab = nnc_input(g, "y", NNC_I64, 0, NULL);
        nnc_node *h = nnc_relu(g, nnc_linear_layer(g, x, "fc1", 40, 1));
        nnc_node *logits = nnc_linear_layer(g, h, "fc2", 10, 0);
        nnc_graph_loss(g, nnc_cross_entropy(g, logits, lab, NNC_MEAN), 1.0f);
        nnc_optim o = nnc_optim_sgd(0.1f, 0.9f, 0.0f);
        T_OK(nnc_graph_set_optimizer(g, &o));
        T_OK(nnc_graph_compile(g, 32, 1));
        fill(nnc_node_value(x)->data, 32 * 50, 5);
        for (int i = 0; i < 32; i++) ((int64_t *)nnc_node_value(lab)->data)[i] = i % 10;
        long before = t_alloc_count;
        float first = 0, last = 0;
        for (int i = 0; i < 5; i++) T_OK(nnc_graph_train_step(g, i == 0 ? &first : &last));
        T_CHECKF(t_alloc_count == before, "%ld allocations in 5 steps", t_alloc_count - before);
        T_CHECKF(last < first, "loss %g -> %g: the step does not learn", (double)first, (double)last);
        nnc_graph_free(g);
    }
}

int main(void) {
    nnc_set_small_plan_macs(0); /* the threaded paths, also on small shapes */
    check_kernel(16, 7, 5, 1);
    check_kernel(64, 120, 400, 1);
    check_kernel(33, 10, 84, 0);
    check_kernel(128, 1024, 784, 1);
    check_kernel(200, 114, 256, 1);
    static const lin_spec ops[] = {
        {64, 1, {30}, 17, 1, 0},       {64, 3, {2, 3, 3}, 17, 0, 0}, {15, 1, {30}, 17, 1, 0}, /* below the threshold */
        {16, 1, {130}, 33, 1, 0},      {8, 2, {5, 12}, 9, 1, 1},     {3, 2, {7, 12}, 9, 0, 1},
        {128, 1, {784}, 1024, 1, 0},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) check_op(&ops[i]);
    check_plan_switch();
    check_no_alloc();
    return t_finish();
}
