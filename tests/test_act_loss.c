/* test_act_loss.c -- the activations and losses of issue 3 against values
 * computed by hand from their definitions (PyTorch's conventions), plus the
 * properties of RReLU's training slopes, PReLU's layer (name, init 0.25) and
 * a few gradients that are easy to derive. */
#include "testlib.h"
#include "core/graph.h"
#include <stdlib.h>
#include <string.h>

enum { LEAKY, ELU, SELU, HARDTANH, SOFTSIGN, SOFTPLUS, RRELU };

static float *val(nnc_node *n) { return (float *)nnc_node_value(n)->data; }
static float *grad(nnc_node *n) { return (float *)nnc_node_grad(n)->data; }

/* y = act(x) on one sample of n elements, eval mode. */
static void act_eval(int which, float a, float b, const float *x, int n, const double *want_d) {
    nnc_graph *g = nnc_graph_new();
    nnc_node *xn = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){n}), *y = NULL;
    switch (which) {
    case LEAKY: y = nnc_leaky_relu(g, xn, a); break;
    case ELU: y = nnc_elu(g, xn, a); break;
    case SELU: y = nnc_selu(g, xn); break;
    case HARDTANH: y = nnc_hardtanh(g, xn, a, b); break;
    case SOFTSIGN: y = nnc_softsign(g, xn); break;
    case SOFTPLUS: y = nnc_softplus(g, xn, a, b); break;
    case RRELU: y = nnc_rrelu(g, xn, a, b); break;
    }
    nnc_graph_output(g, y);
    T_OK(nnc_graph_compile(g, 1, 0));
    if (!nnc_graph_status(g) && nnc_node_value(y)->data) {
        memcpy(val(xn), x, (size_t)n * sizeof(float));
        T_OK(nnc_graph_forward(g));
        float want[16];
        for (int i = 0; i < n; i++) want[i] = (float)want_d[i];
        t_close("y", val(y), want, n, 1e-6, 1e-7);
    }
    nnc_graph_free(g);
}

static const float X5[5] = {-2.0f, -0.5f, 0.0f, 0.5f, 3.0f};

/* ------------------------------------------------------------- losses */
/* loss(p[N,F], t) as a graph loss; returns loss value, fills dp when dp != NULL. */
typedef nnc_node *(*loss_fn)(nnc_graph *, nnc_node *, nnc_node *, nnc_reduction, float);
static nnc_node *l_l1(nnc_graph *g, nnc_node *p, nnc_node *t, nnc_reduction r, float a) { (void)a; return nnc_l1_loss(g, p, t, r); }
static nnc_node *l_huber(nnc_graph *g, nnc_node *p, nnc_node *t, nnc_reduction r, float a) { return nnc_huber_loss(g, p, t, r, a); }
static nnc_node *l_smooth(nnc_graph *g, nnc_node *p, nnc_node *t, nnc_reduction r, float a) { return nnc_smooth_l1_loss(g, p, t, r, a); }
static nnc_node *l_hinge(nnc_graph *g, nnc_node *p, nnc_node *t, nnc_reduction r, float a) { (void)a; return nnc_hinge_loss(g, p, t, r); }
static nnc_node *l_bce(nnc_graph *g, nnc_node *p, nnc_node *t, nnc_reduction r, float a) { (void)a; return nnc_bce_with_logits(g, p, t, r); }
static nnc_node *l_mm(nnc_graph *g, nnc_node *p, nnc_node *t, nnc_reduction r, float a) { return nnc_multi_margin_loss(g, p, t, r, a, 0); }
static nnc_node *l_mm_paper(nnc_graph *g, nnc_node *p, nnc_node *t, nnc_reduction r, float a) { return nnc_multi_margin_loss(g, p, t, r, a, 1); }
static nnc_node *l_ce(nnc_graph *g, nnc_node *p, nnc_node *t, nnc_reduction r, float a) { (void)a; return nnc_cross_entropy(g, p, t, r); }
static nnc_node *l_ce_ls(nnc_graph *g, nnc_node *p, nnc_node *t, nnc_reduction r, float a) { return nnc_cross_entropy_ls(g, p, t, r, a); }

/* p: N x F floats; t: N x F floats, or N i64 labels when labels != 0. */
static void loss_check(loss_fn fn, nnc_reduction r, float a, int N, int F, const float *p, const void *t, int labels, double want,
                       const double *want_dp) {
    nnc_graph *g = nnc_graph_new();
    nnc_node *pn = nnc_input(g, "p", NNC_F32, 1, (int64_t[]){F});
    nnc_node *tn = labels ? nnc_input(g, "t", NNC_I64, 0, NULL) : nnc_input(g, "t", NNC_F32, 1, (int64_t[]){F});
    nnc_input_requires_grad(pn);
    nnc_node *l = fn(g, pn, tn, r, a);
    nnc_graph_output(g, l);
    nnc_graph_loss(g, l, 1.0f);
    T_OK(nnc_graph_compile(g, N, 1));
    if (!nnc_graph_status(g) && nnc_node_value(l)->data) {
        memcpy(val(pn), p, (size_t)(N * F) * sizeof(float));
        memcpy(nnc_node_value(tn)->data, t, labels ? (size_t)N * sizeof(int64_t) : (size_t)(N * F) * sizeof(float));
        T_OK(nnc_graph_forward(g));
        float w = (float)want;
        t_close("loss", val(l), &w, 1, 1e-6, 1e-6);
        if (want_dp) {
            T_OK(nnc_graph_backward(g));
            float wd[32];
            for (int i = 0; i < N * F; i++) wd[i] = (float)want_dp[i];
            t_close("dp", grad(pn), wd, N * F, 1e-5, 1e-7);
        }
    }
    nnc_graph_free(g);
}

int main(void) {
    T_CASE("leaky_relu forward (slope 0.01, 0.2)") {
        act_eval(LEAKY, 0.01f, 0, X5, 5, (const double[]){-0.02, -0.005, 0, 0.5, 3});
        act_eval(LEAKY, 0.2f, 0, X5, 5, (const double[]){-0.4, -0.1, 0, 0.5, 3});
    }
    T_CASE("elu forward (alpha 1, 0.5)") {
        act_eval(ELU, 1.0f, 0, X5, 5, (const double[]){-0.8646647167633873, -0.3934693402873666, 0, 0.5, 3});
        act_eval(ELU, 0.5f, 0, X5, 5, (const double[]){-0.43233235838169365, -0.1967346701436833, 0, 0.5, 3});
    }
    T_CASE("selu forward (PyTorch constants)") {
        const double s = 1.0507009873554804934193349852946, al = 1.6732632423543772848170429916717;
        act_eval(SELU, 0, 0, X5, 5, (const double[]){s * al * -0.8646647167633873, s * al * -0.3934693402873666, 0, s * 0.5, s * 3});
        /* the documented values: selu(1) = 1.0507..., selu(-inf) -> -1.7581 */
        act_eval(SELU, 0, 0, (const float[]){1.0f, -100.0f}, 2, (const double[]){1.0507009873554805, -1.7580993408473766});
    }
    T_CASE("hardtanh forward") {
        act_eval(HARDTANH, -1, 1, X5, 5, (const double[]){-1, -0.5, 0, 0.5, 1});
        act_eval(HARDTANH, -0.25f, 2, X5, 5, (const double[]){-0.25, -0.25, 0, 0.5, 2});
    }
    T_CASE("softsign forward") {
        act_eval(SOFTSIGN, 0, 0, X5, 5, (const double[]){-2.0 / 3, -1.0 / 3, 0, 1.0 / 3, 0.75});
    }
    T_CASE("softplus forward, including the linear path above the threshold") {
        /* beta 1, threshold 20: log(1 + e^x); 25 is above the threshold (y = x) */
        act_eval(SOFTPLUS, 1, 20, (const float[]){-2, 0, 1, 25}, 4,
                 (const double[]){0.12692801104297263, 0.6931471805599453, 1.3132616875182228, 25});
        /* beta 1, threshold 1: x = 2 is linear (2, not 2.1269), x = 0.5 is not */
        act_eval(SOFTPLUS, 1, 1, (const float[]){2, 0.5f, 1}, 3, (const double[]){2, 0.9740769841801067, 1.3132616875182228});
        /* beta 2: log(1 + e^(2x)) / 2; beta x = 2 > threshold 1.5 is linear */
        act_eval(SOFTPLUS, 2, 1.5f, (const float[]){0.5f, 1, -1}, 3, (const double[]){0.6566308437591114, 1, 0.0634640055214863});
    }
    T_CASE("rrelu eval slope is (lower + upper) / 2") {
        const double s = (1.0 / 8 + 1.0 / 3) / 2; /* 11/48 */
        act_eval(RRELU, 1.0f / 8, 1.0f / 3, X5, 5, (const double[]){-2 * s, -0.5 * s, 0, 0.5, 3});
    }
    T_CASE("rrelu training: slopes in [lower, upper], varied, same in backward, new each step") {
        enum { N = 200 };
        nnc_graph *g = nnc_graph_new();
        nnc_graph_set_seed(g, 5);
        nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){N});
        nnc_input_requires_grad(x);
        nnc_node *y = nnc_rrelu(g, x, 0.1f, 0.3f);
        nnc_node *t = nnc_input(g, "t", NNC_F32, 1, (int64_t[]){N});
        nnc_graph_output(g, y);
        nnc_graph_loss(g, nnc_l1_loss(g, y, t, NNC_SUM), 1.0f); /* t = -100 < y: dy = sign(y - t) = 1 */
        nnc_optim o = nnc_optim_sgd(0.1f, 0.0f, 0.0f); /* no parameters: only the step counter moves */
        T_OK(nnc_graph_set_optimizer(g, &o));
        T_OK(nnc_graph_compile(g, 1, 1));
        if (!nnc_graph_status(g)) {
            for (int i = 0; i < N; i++) { val(x)[i] = i % 2 ? -1.0f - 0.01f * (float)i : 0.5f; val(t)[i] = -100.0f; }
            T_OK(nnc_graph_forward(g));
            T_OK(nnc_graph_backward(g));
            float lo = 1, hi = 0, first[N];
            int bad = 0;
            for (int i = 0; i < N; i++) {
                float s = val(y)[i] / val(x)[i];
                first[i] = val(y)[i];
                if (i % 2 == 0) { bad += val(y)[i] != 0.5f || grad(x)[i] != 1.0f; continue; }
                lo = fminf(lo, s);
                hi = fmaxf(hi, s);
                bad += !(s >= 0.1f - 1e-6f && s <= 0.3f + 1e-6f) || fabsf(grad(x)[i] - s) > 1e-5f; /* dy = 1 */
            }
            T_CHECKF(bad == 0, "%d elements with a slope outside [0.1, 0.3] or a backward slope unlike forward's", bad);
            T_CHECKF(hi - lo > 0.15f, "slopes span [%g, %g]: not drawn per element", (double)lo, (double)hi);
            T_OK(nnc_graph_forward(g)); /* same step: same slopes */
            int same = 1;
            for (int i = 0; i < N; i++) same &= val(y)[i] == first[i];
            T_CHECKF(same, "forward twice at the same step gave other slopes");
            T_OK(nnc_graph_update(g)); /* the next step draws new slopes */
            T_OK(nnc_graph_forward(g));
            int changed = 0;
            for (int i = 1; i < N; i += 2) changed += val(y)[i] != first[i];
            T_CHECKF(changed > N / 4, "only %d of %d slopes changed at the next step", changed, N / 2);
        }
        nnc_graph_free(g);
    }
    T_CASE("prelu layer: PyTorch name and init 0.25; per-channel forward and gradients") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){2, 2});
        nnc_input_requires_grad(x);
        nnc_node *y = nnc_prelu_layer(g, x, "act", 2);
        nnc_node *t = nnc_input(g, "t", NNC_F32, 2, (int64_t[]){2, 2});
        nnc_graph_output(g, y);
        nnc_graph_loss(g, nnc_mse(g, y, t, NNC_SUM), 1.0f);
        T_OK(nnc_graph_compile(g, 1, 1));
        nnc_node *w = nnc_graph_find(g, "act.weight");
        T_CHECKF(w != NULL, "no parameter named act.weight");
        if (w && !nnc_graph_status(g)) {
            T_CHECK(val(w)[0] == 0.25f && val(w)[1] == 0.25f);
            const float xs[4] = {-2, 3, -1, -4}; /* channel 0: {-2, 3}; channel 1: {-1, -4} */
            memcpy(val(x), xs, sizeof xs);
            val(w)[0] = 0.5f;
            val(w)[1] = -2.0f;
            T_OK(nnc_graph_forward(g));
            t_close("y", val(y), (const float[]){-1, 3, 2, 8}, 4, 0, 0);
            /* t = y - 0.5: mse sum gives dy = 2 (y - t) = 1 everywhere */
            for (int i = 0; i < 4; i++) val(t)[i] = val(y)[i] - 0.5f;
            T_OK(nnc_graph_backward(g));
            t_close("dx", grad(x), (const float[]){0.5f, 1, -2, -2}, 4, 0, 0);
            t_close("dw", grad(w), (const float[]){-2, -5}, 2, 0, 0); /* sum of x where x <= 0 */
        }
        nnc_graph_free(g);
    }
    T_CASE("l1 loss mean and sum, gradient sign(p - t) / count") {
        const float p[4] = {1, -2, 3, 0.5f}, t[4] = {0, 0, 1, 1};
        loss_check(l_l1, NNC_MEAN, 0, 2, 2, p, t, 0, 5.5 / 4, (const double[]){0.25, -0.25, 0.25, -0.25});
        loss_check(l_l1, NNC_SUM, 0, 2, 2, p, t, 0, 5.5, (const double[]){1, -1, 1, -1});
    }
    T_CASE("huber (delta 1, 0.5) and smooth_l1 (beta 0.5) = huber / beta") {
        const float p[4] = {0.5f, -2, 3, 0.1f}, t[4] = {0, 0, 0, 0}; /* d = p */
        /* delta 1: 0.125, 1.5, 2.5, 0.005 */
        loss_check(l_huber, NNC_SUM, 1.0f, 2, 2, p, t, 0, 4.13, (const double[]){0.5, -1, 1, 0.1});
        loss_check(l_huber, NNC_MEAN, 1.0f, 2, 2, p, t, 0, 4.13 / 4, NULL);
        /* delta 0.5: 0.125, 0.875, 1.375, 0.005 */
        loss_check(l_huber, NNC_SUM, 0.5f, 2, 2, p, t, 0, 2.38, (const double[]){0.5, -0.5, 0.5, 0.1});
        /* smooth_l1 beta 0.5: 0.25, 1.75, 2.75, 0.01 */
        loss_check(l_smooth, NNC_SUM, 0.5f, 2, 2, p, t, 0, 4.76, (const double[]){1, -1, 1, 0.2});
    }
    T_CASE("multi-class hinge: PyTorch / C form and the paper form") {
        const float x[6] = {1, 2, 0.5f, 3, 0, 2.5f};
        const int64_t y[2] = {0, 0};
        /* sample 0: max(0, 1-1+2) + max(0, 1-1+0.5) = 2.5; sample 1: 0 + 0.5 */
        loss_check(l_mm, NNC_MEAN, 1.0f, 2, 3, x, y, 1, (2.5 / 3 + 0.5 / 3) / 2,
                   (const double[]){-1.0 / 3, 1.0 / 6, 1.0 / 6, -1.0 / 6, 0, 1.0 / 6});
        loss_check(l_mm, NNC_SUM, 1.0f, 2, 3, x, y, 1, 1.0, NULL);
        loss_check(l_mm_paper, NNC_MEAN, 1.0f, 2, 3, x, y, 1, 1.5, (const double[]){-1, 0.5, 0.5, -0.5, 0, 0.5});
        /* margin 0.25: sample 0: 1.25 + 0 ; sample 1: 0 */
        loss_check(l_mm_paper, NNC_SUM, 0.25f, 2, 3, x, y, 1, 1.25, NULL);
    }
    T_CASE("binary hinge max(0, 1 - t x)") {
        const float x[4] = {2, 0.5f, -1, -0.3f}, t[4] = {1, 1, 1, -1};
        loss_check(l_hinge, NNC_SUM, 0, 1, 4, x, t, 0, 3.2, (const double[]){0, -1, -1, 1});
        loss_check(l_hinge, NNC_MEAN, 0, 2, 2, x, t, 0, 0.8, (const double[]){0, -0.25, -0.25, 0.25});
    }
    T_CASE("bce_with_logits: values and stability at |x| = 100") {
        const float x[4] = {0, 2, -100, 100}, t[4] = {1, 0, 0, 0};
        double l1 = 2.126928011042973; /* 2 + log(1 + e^-2) */
        loss_check(l_bce, NNC_SUM, 0, 2, 2, x, t, 0, 0.6931471805599453 + l1 + 0 + 100,
                   (const double[]){-0.5, 0.8807970779778823, 0, 1});
        loss_check(l_bce, NNC_MEAN, 0, 2, 2, x, t, 0, (0.6931471805599453 + l1 + 100) / 4,
                   (const double[]){-0.125, 0.8807970779778823 / 4, 0, 0.25});
        /* t = 1 at x = -100: loss 100 (not inf), gradient -1 */
        loss_check(l_bce, NNC_SUM, 0, 1, 1, (const float[]){-100}, (const float[]){1}, 0, 100, (const double[]){-1});
    }
    T_CASE("cross_entropy label smoothing: (1 - eps) nll + eps mean(-log p); plain unchanged") {
        const float x[3] = {1, 2, 3};
        const int64_t y[1] = {2};
        double lse = 3.40760596444438; /* log(e + e^2 + e^3) */
        double p0 = exp(1 - lse), p1 = exp(2 - lse), p2 = exp(3 - lse);
        loss_check(l_ce, NNC_MEAN, 0, 1, 3, x, y, 1, lse - 3, (const double[]){p0, p1, p2 - 1});
        loss_check(l_ce_ls, NNC_MEAN, 0.3f, 1, 3, x, y, 1, 0.7 * (lse - 3) + 0.3 * (lse - 2),
                   (const double[]){p0 - 0.1, p1 - 0.1, p2 - 0.7 - 0.1});
        loss_check(l_ce_ls, NNC_SUM, 0.0f, 1, 3, x, y, 1, lse - 3, NULL);
    }
    T_CASE("builders refuse bad arguments") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){3});
        T_CHECK(nnc_hardtanh(g, x, 1, -1) == NULL && nnc_graph_status(g) == NNC_ERR_ARG);
        nnc_graph_free(g);
        g = nnc_graph_new();
        x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){3});
        T_CHECK(nnc_cross_entropy_ls(g, x, x, NNC_MEAN, 1.5f) == NULL && nnc_graph_status(g) == NNC_ERR_ARG);
        nnc_graph_free(g);
        g = nnc_graph_new();
        x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){3, 4});
        nnc_node *w = nnc_param(g, "w", 1, (int64_t[]){4}, (nnc_init){.kind = NNC_INIT_ZEROS});
        nnc_graph_output(g, nnc_prelu(g, x, w));
        T_CHECK(nnc_graph_compile(g, 2, 0) == NNC_ERR_SHAPE); /* 3 channels, 4 slopes */
        T_CHECKF(strstr(nnc_last_error(), "prelu") != NULL, "message: %s", nnc_last_error());
        nnc_graph_free(g);
    }
    return t_finish();
}
