/* test_optim.c -- optimizers (first steps against hand-computed double
 * references), both SGD momentum forms, learning-rate schedules,
 * regularization in the update (L1, clipping, max-norm, no-decay groups,
 * freezing by prefix), the validation split, early stopping, and
 * initialization statistics. Gradients are written straight into the
 * gradient region, so the updates are checked in isolation. */
#include "testlib.h"
#include <stdlib.h>
#include <string.h>

#define N 4
static const double W0[N] = {1.0, -2.0, 0.5, 0.0};
/* gradient at step t (0-based) */
static double grad_at(int t, int i) {
    static const double G[3][N] = {{0.3, -0.2, 0.05, 1.0}, {-0.1, 0.4, 0.05, -0.5}, {0.2, 0.1, -0.3, 0.25}};
    return G[t % 3][i];
}

static nnc_graph *mk(nnc_node **w, const nnc_optim *o) {
    nnc_graph *g = nnc_graph_new();
    *w = nnc_param(g, "w", 1, (int64_t[]){N}, (nnc_init){NNC_INIT_ZEROS, 0, 0});
    T_OK(nnc_graph_set_optimizer(g, o));
    T_OK(nnc_graph_init_params(g));
    float *v = nnc_node_value(*w)->data;
    for (int i = 0; i < N; i++) v[i] = (float)W0[i];
    return g;
}

static void step(nnc_graph *g, nnc_node *w, int t) {
    float *gr = nnc_node_grad(w)->data;
    for (int i = 0; i < N; i++) gr[i] = (float)grad_at(t, i);
    T_OK(nnc_graph_update(g));
}

static int close_to(const char *what, nnc_node *w, const double *want, double tol) {
    float got[N], wf[N];
    memcpy(got, nnc_node_value(w)->data, sizeof got);
    for (int i = 0; i < N; i++) wf[i] = (float)want[i];
    return t_close(what, got, wf, N, tol, tol);
}

/* ---------------------------------------------------- double references */
static void ref_sgd(double *w, int steps, double lr, double mu, double wd, int nesterov) {
    double v[N] = {0};
    for (int t = 0; t < steps; t++)
        for (int i = 0; i < N; i++) {
            double g = grad_at(t, i) + wd * w[i];
            v[i] = t == 0 ? g : mu * v[i] + g;
            w[i] -= lr * (nesterov ? g + mu * v[i] : v[i]);
        }
}

static void ref_adam(double *w, int steps, double lr, double wd, int decoupled) {
    double m[N] = {0}, v[N] = {0}, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    for (int t = 1; t <= steps; t++)
        for (int i = 0; i < N; i++) {
            if (decoupled) w[i] *= 1 - lr * wd;
            double g = grad_at(t - 1, i) + (decoupled ? 0 : wd * w[i]);
            m[i] = b1 * m[i] + (1 - b1) * g;
            v[i] = b2 * v[i] + (1 - b2) * g * g;
            w[i] -= lr * (m[i] / (1 - pow(b1, t))) / (sqrt(v[i] / (1 - pow(b2, t))) + eps);
        }
}

static void ref_rmsprop(double *w, int steps, double lr, double mu, double wd, int centered) {
    double s[N] = {0}, b[N] = {0}, a[N] = {0}, al = 0.99, eps = 1e-8;
    for (int t = 0; t < steps; t++)
        for (int i = 0; i < N; i++) {
            double g = grad_at(t, i) + wd * w[i];
            s[i] = al * s[i] + (1 - al) * g * g;
            double d;
            if (centered) { a[i] = al * a[i] + (1 - al) * g; d = sqrt(s[i] - a[i] * a[i]) + eps; }
            else d = sqrt(s[i]) + eps;
            if (mu > 0) { b[i] = mu * b[i] + g / d; w[i] -= lr * b[i]; }
            else w[i] -= lr * g / d;
        }
}

static void ref_adagrad(double *w, int steps, double lr, double wd, double lr_decay, double acc0) {
    double s[N];
    for (int i = 0; i < N; i++) s[i] = acc0;
    for (int t = 1; t <= steps; t++)
        for (int i = 0; i < N; i++) {
            double g = grad_at(t - 1, i) + wd * w[i], clr = lr / (1 + (t - 1) * lr_decay);
            s[i] += g * g;
            w[i] -= clr * g / (sqrt(s[i]) + 1e-10);
        }
}

static void run_check(const char *what, const nnc_optim *o, int steps, const double *want, double tol) {
    nnc_node *w;
    nnc_graph *g = mk(&w, o);
    for (int t = 0; t < steps; t++) step(g, w, t);
    T_CHECKF(close_to(what, w, want, tol), "%s", what);
    nnc_graph_free(g);
}

static void test_optimizers(void) {
    T_CASE("SGD (PyTorch form, plain/momentum/Nesterov, weight decay): 3 steps against double") {
        double w[N];
        for (int nest = 0; nest < 2; nest++) {
            memcpy(w, W0, sizeof w);
            ref_sgd(w, 3, 0.1, 0.9, 0.01, nest);
            nnc_optim o = nnc_optim_sgd(0.1f, 0.9f, 0.01f);
            o.nesterov = nest;
            run_check(nest ? "nesterov" : "momentum", &o, 3, w, 1e-6);
        }
        memcpy(w, W0, sizeof w);
        ref_sgd(w, 3, 0.1, 0, 0.01, 0);
        nnc_optim o = nnc_optim_sgd(0.1f, 0, 0.01f);
        run_check("plain sgd", &o, 3, w, 1e-6);
    }
    T_CASE("SGD momentum forms: identical at a constant rate, different after an lr change (both as the formulas say)") {
        nnc_optim p = nnc_optim_sgd(0.1f, 0.9f, 0.01f), a = p;
        a.momentum_form = NNC_MOMENTUM_ALEXNET;
        nnc_node *wp, *wa;
        nnc_graph *gp = mk(&wp, &p), *ga = mk(&wa, &a);
        for (int t = 0; t < 3; t++) { step(gp, wp, t); step(ga, wa, t); }
        T_CHECK(t_close("forms at constant lr", nnc_node_value(wa)->data, nnc_node_value(wp)->data, N, 1e-6, 1e-6));
        /* reference after the change: PyTorch w -= lr' v; AlexNet w += mu v - lr' g' */
        double wpd[N], wad[N], vp[N] = {0}, va[N] = {0};
        memcpy(wpd, W0, sizeof wpd);
        memcpy(wad, W0, sizeof wad);
        for (int t = 0; t < 5; t++) {
            double lr = t < 3 ? 0.1 : 0.01;
            for (int i = 0; i < N; i++) {
                double g = grad_at(t, i) + 0.01 * wpd[i];
                vp[i] = t == 0 ? g : 0.9 * vp[i] + g;
                wpd[i] -= lr * vp[i];
                double g2 = grad_at(t, i) + 0.01 * wad[i];
                va[i] = 0.9 * va[i] - lr * g2;
                wad[i] += va[i];
            }
        }
        nnc_graph_set_lr(gp, 0.01f);
        nnc_graph_set_lr(ga, 0.01f);
        for (int t = 3; t < 5; t++) { step(gp, wp, t); step(ga, wa, t); }
        T_CHECK(close_to("pytorch form after lr change", wp, wpd, 1e-6));
        T_CHECK(close_to("alexnet form after lr change", wa, wad, 1e-6));
        double diff = 0;
        for (int i = 0; i < N; i++) diff = fmax(diff, fabs(wpd[i] - wad[i]));
        float *x = nnc_node_value(wp)->data, *y = nnc_node_value(wa)->data;
        double gdiff = 0;
        for (int i = 0; i < N; i++) gdiff = fmax(gdiff, fabs((double)x[i] - y[i]));
        T_CHECKF(diff > 1e-3 && gdiff > 1e-3, "forms should differ after the lr change: ref %g, got %g", diff, gdiff);
        nnc_graph_free(gp);
        nnc_graph_free(ga);
        nnc_optim bad = a;
        bad.nesterov = 1;
        nnc_graph *g = nnc_graph_new();
        T_CHECK(nnc_graph_set_optimizer(g, &bad) == NNC_ERR_ARG);
        nnc_graph_free(g);
    }
    T_CASE("Adam and AdamW (decoupled decay): 3 steps against double") {
        double w[N];
        memcpy(w, W0, sizeof w);
        ref_adam(w, 3, 0.01, 0.1, 0);
        nnc_optim o = nnc_optim_adam(0.01f, 0.1f);
        run_check("adam", &o, 3, w, 1e-5);
        memcpy(w, W0, sizeof w);
        ref_adam(w, 3, 0.01, 0.1, 1);
        o = nnc_optim_adamw(0.01f, 0.1f);
        run_check("adamw", &o, 3, w, 1e-5);
    }
    T_CASE("RMSProp (plain, momentum, centered, both): 3 steps against double") {
        for (int k = 0; k < 4; k++) {
            double w[N], mu = k & 1 ? 0.9 : 0;
            int c = k >> 1;
            memcpy(w, W0, sizeof w);
            ref_rmsprop(w, 3, 0.01, mu, 0.01, c);
            nnc_optim o = nnc_optim_rmsprop(0.01f, (float)mu, 0.01f);
            o.centered = c;
            run_check("rmsprop", &o, 3, w, 1e-5);
        }
    }
    T_CASE("Adagrad (defaults; lr_decay and initial accumulator): 3 steps against double") {
        double w[N];
        memcpy(w, W0, sizeof w);
        ref_adagrad(w, 3, 0.1, 0, 0, 0);
        nnc_optim o = nnc_optim_adagrad(0.1f, 0);
        run_check("adagrad", &o, 3, w, 1e-5);
        memcpy(w, W0, sizeof w);
        ref_adagrad(w, 3, 0.1, 0.01, 0.5, 0.2);
        o = nnc_optim_adagrad(0.1f, 0.01f);
        o.lr_decay = 0.5f;
        o.initial_accumulator = 0.2f;
        run_check("adagrad decay", &o, 3, w, 1e-5);
    }
}

static void test_schedules(void) {
    T_CASE("schedules: lr at several epochs against hand-computed values") {
        nnc_schedule s = {0};
        T_CHECK(nnc_lr_at(&s, 0.5f, 7) == 0.5f);
        s.kind = NNC_SCHED_STEP; s.step_size = 2; s.gamma = 0.5f;
        float st[5] = {1, 1, 0.5f, 0.5f, 0.25f};
        for (int e = 0; e < 5; e++) T_CHECKF(fabsf(nnc_lr_at(&s, 1, e) - st[e]) < 1e-7f, "step e=%d: %g", e, nnc_lr_at(&s, 1, e));
        memset(&s, 0, sizeof s);
        s.kind = NNC_SCHED_MULTISTEP; s.milestones[0] = 8; s.milestones[1] = 12; s.gamma = 0.1f;
        T_CHECK(fabsf(nnc_lr_at(&s, 0.05f, 6) - 0.05f) < 1e-9f);  /* epoch 7 */
        T_CHECK(fabsf(nnc_lr_at(&s, 0.05f, 7) - 0.005f) < 1e-9f); /* epoch 8 */
        T_CHECK(fabsf(nnc_lr_at(&s, 0.05f, 10) - 0.005f) < 1e-9f);
        T_CHECK(fabsf(nnc_lr_at(&s, 0.05f, 11) - 0.0005f) < 1e-9f); /* epoch 12 */
        nnc_train_opts d = nnc_train_defaults(); /* the default stays W1's */
        T_CHECK(d.schedule.kind == NNC_SCHED_MULTISTEP && d.schedule.milestones[0] == 8 && d.schedule.milestones[1] == 12 &&
                d.schedule.milestones[2] == 0 && d.schedule.gamma == 0.1f && d.schedule.warmup == 0);
        memset(&s, 0, sizeof s);
        s.kind = NNC_SCHED_EXP; s.gamma = 0.9f;
        T_CHECK(fabsf(nnc_lr_at(&s, 1, 3) - 0.729f) < 1e-6f);
        memset(&s, 0, sizeof s);
        s.kind = NNC_SCHED_POLY; s.power = 2; s.total_epochs = 10;
        T_CHECK(nnc_lr_at(&s, 1, 0) == 1.0f);
        T_CHECK(fabsf(nnc_lr_at(&s, 1, 5) - 0.25f) < 1e-6f);
        T_CHECK(fabsf(nnc_lr_at(&s, 1, 9) - 0.01f) < 1e-6f);
        memset(&s, 0, sizeof s);
        s.kind = NNC_SCHED_COSINE; s.total_epochs = 10; s.min_lr = 0.1f;
        T_CHECK(fabsf(nnc_lr_at(&s, 1, 0) - 1.0f) < 1e-6f);
        T_CHECK(fabsf(nnc_lr_at(&s, 1, 5) - 0.55f) < 1e-6f);
        T_CHECK(fabsf(nnc_lr_at(&s, 1, 9) - (float)(0.1 + 0.9 * (1 + cos(0.9 * M_PI)) / 2)) < 1e-6f);
        /* warm-up 3 then cosine over the remaining 10 epochs */
        s.total_epochs = 13; s.min_lr = 0; s.warmup = 3;
        float wu[4] = {1.0f / 3, 2.0f / 3, 1, 1};
        for (int e = 0; e < 4; e++) T_CHECKF(fabsf(nnc_lr_at(&s, 1, e) - wu[e]) < 1e-6f, "warmup e=%d: %g", e, nnc_lr_at(&s, 1, e));
        T_CHECK(fabsf(nnc_lr_at(&s, 1, 8) - 0.5f) < 1e-6f);
        /* warm-up then step: the step counts from the end of warm-up */
        memset(&s, 0, sizeof s);
        s.kind = NNC_SCHED_STEP; s.step_size = 2; s.gamma = 0.1f; s.warmup = 2;
        T_CHECK(fabsf(nnc_lr_at(&s, 1, 0) - 0.5f) < 1e-7f && nnc_lr_at(&s, 1, 3) == 1.0f && fabsf(nnc_lr_at(&s, 1, 4) - 0.1f) < 1e-7f);
        T_OK(nnc_schedule_check(&s));
        s.step_size = 0;
        T_CHECK(nnc_schedule_check(&s) == NNC_ERR_ARG);
        s.kind = NNC_SCHED_COSINE; s.total_epochs = 2; s.warmup = 2;
        T_CHECK(nnc_schedule_check(&s) == NNC_ERR_ARG);
    }
}

/* a graph with named parameters, plain SGD lr 1 unless changed */
static nnc_graph *mk_named(nnc_optim o, nnc_node **fw, nnc_node **fb, nnc_node **bn) {
    nnc_graph *g = nnc_graph_new();
    nnc_init z = {NNC_INIT_ZEROS, 0, 0};
    *fw = nnc_param(g, "fc.weight", 2, (int64_t[]){2, 3}, z);
    *fb = nnc_param(g, "fc.bias", 1, (int64_t[]){2}, z);
    *bn = nnc_param(g, "bn.weight", 1, (int64_t[]){3}, z);
    T_OK(nnc_graph_set_optimizer(g, &o));
    T_OK(nnc_graph_init_params(g));
    return g;
}
static void setv(nnc_node *p, const float *v, int n) { memcpy(nnc_node_value(p)->data, v, (size_t)n * sizeof(float)); }
static void setg(nnc_node *p, const float *v, int n) { memcpy(nnc_node_grad(p)->data, v, (size_t)n * sizeof(float)); }

static void test_regularization(void) {
    T_CASE("L1, clip by value, clip by global norm") {
        nnc_node *w;
        nnc_optim o = nnc_optim_sgd(0.1f, 0, 0);
        o.l1 = 0.5f;
        nnc_graph *g = mk(&w, &o);
        memset(nnc_node_grad(w)->data, 0, N * sizeof(float));
        T_OK(nnc_graph_update(g));
        double want[N] = {0.95, -1.95, 0.45, 0.0}; /* sign(0) = 0 */
        T_CHECK(close_to("l1", w, want, 1e-7));
        nnc_graph_free(g);

        o = nnc_optim_sgd(1, 0, 0);
        o.clip_value = 0.5f;
        g = mk(&w, &o);
        setg(w, (float[]){1, -2, 0.1f, -0.5f}, N);
        T_OK(nnc_graph_update(g));
        double want2[N] = {0.5, -1.5, 0.4, 0.5};
        T_CHECK(close_to("clip value", w, want2, 1e-7));
        nnc_graph_free(g);

        /* global norm over two parameters: g = (3 | 4), norm 5, clipped to 1 */
        nnc_node *fw, *fb, *bn;
        o = nnc_optim_sgd(1, 0, 0);
        o.clip_norm = 1;
        g = mk_named(o, &fw, &fb, &bn);
        setg(fw, (float[]){3, 0, 0, 0, 0, 0}, 6);
        setg(fb, (float[]){0, 4}, 2);
        T_OK(nnc_graph_update(g));
        float *a = nnc_node_value(fw)->data, *b = nnc_node_value(fb)->data;
        T_CHECKF(fabsf(a[0] + 0.6f) < 1e-6f && fabsf(b[1] + 0.8f) < 1e-6f, "clip norm: %g %g", a[0], b[1]);
        /* below the threshold: untouched */
        setv(fw, (float[]){0, 0, 0, 0, 0, 0}, 6);
        setg(fw, (float[]){0.3f, 0, 0, 0, 0, 0}, 6);
        setg(fb, (float[]){0, 0.4f}, 2);
        T_OK(nnc_graph_update(g));
        T_CHECKF(fabsf(a[0] + 0.3f) < 1e-7f, "unclipped %g", a[0]);
        nnc_graph_free(g);
    }
    T_CASE("clip by global norm on 600k elements: the norm in double, bit-identical for 1 and 2 threads") {
        const int64_t n = 600000;
        float *res[2];
        for (int th = 0; th < 2; th++) {
            nnc_set_threads(th + 1);
            nnc_graph *g = nnc_graph_new();
            nnc_node *a = nnc_param(g, "a", 2, (int64_t[]){600, 500}, (nnc_init){NNC_INIT_ZEROS, 0, 0});
            nnc_node *b = nnc_param(g, "b", 1, (int64_t[]){n - 300000}, (nnc_init){NNC_INIT_ZEROS, 0, 0});
            nnc_optim o = nnc_optim_sgd(1, 0, 0);
            o.clip_norm = 1;
            T_OK(nnc_graph_set_optimizer(g, &o));
            T_OK(nnc_graph_init_params(g));
            float *ga = nnc_node_grad(a)->data, *gb = nnc_node_grad(b)->data;
            double ss = 0;
            for (int64_t i = 0; i < n; i++) {
                float v = nnc_rand_normal(1, 2, (uint64_t)i) * 0.01f;
                if (i < 300000) ga[i] = v; else gb[i - 300000] = v;
                ss += (double)v * v;
            }
            T_OK(nnc_graph_update(g));
            res[th] = malloc((size_t)n * sizeof(float));
            memcpy(res[th], nnc_node_value(a)->data, 300000 * sizeof(float));
            memcpy(res[th] + 300000, nnc_node_value(b)->data, (size_t)(n - 300000) * sizeof(float));
            double after = 0;
            for (int64_t i = 0; i < n; i++) after += (double)res[th][i] * res[th][i];
            T_CHECKF(fabs(sqrt(after) - 1) < 1e-5 && sqrt(ss) > 1, "norm before %g, after %g", sqrt(ss), sqrt(after));
            nnc_graph_free(g);
        }
        T_CHECK(memcmp(res[0], res[1], (size_t)n * sizeof(float)) == 0);
        free(res[0]);
        free(res[1]);
        nnc_set_threads(2);
    }
    T_CASE("max-norm rescales rows of >= 2-D parameters only; no-decay groups skip biases and 1-D parameters") {
        nnc_node *fw, *fb, *bn;
        nnc_optim o = nnc_optim_sgd(1, 0, 0);
        o.max_norm = 1;
        nnc_graph *g = mk_named(o, &fw, &fb, &bn);
        setv(fw, (float[]){3, 4, 0, 0.1f, 0.2f, 0.2f}, 6);
        setv(bn, (float[]){3, 4, 5}, 3);
        T_OK(nnc_graph_update(g)); /* zero gradients */
        T_CHECK(t_close("max-norm", nnc_node_value(fw)->data, (float[]){0.6f, 0.8f, 0, 0.1f, 0.2f, 0.2f}, 6, 1e-6, 1e-6));
        T_CHECK(t_close("1-D untouched", nnc_node_value(bn)->data, (float[]){3, 4, 5}, 3, 0, 0));
        nnc_graph_free(g);

        for (int nd = 0; nd < 2; nd++) {
            o = nnc_optim_sgd(1, 0, 0.1f);
            o.l1 = 0.01f;
            o.no_decay_bias_norm = nd;
            g = mk_named(o, &fw, &fb, &bn);
            setv(fw, (float[]){1, 1, 1, 1, 1, 1}, 6);
            setv(fb, (float[]){1, 1}, 2);
            setv(bn, (float[]){1, 1, 1}, 3);
            T_OK(nnc_graph_update(g));
            float wd = 1 - 0.1f - 0.01f, nb = nd ? 1 : wd;
            T_CHECKF(fabsf(((float *)nnc_node_value(fw)->data)[0] - wd) < 1e-6f, "weight decayed");
            T_CHECKF(fabsf(((float *)nnc_node_value(fb)->data)[0] - nb) < 1e-6f, "bias: %g (no_decay %d)", ((float *)nnc_node_value(fb)->data)[0], nd);
            T_CHECKF(fabsf(((float *)nnc_node_value(bn)->data)[0] - nb) < 1e-6f, "norm weight (no_decay %d)", nd);
            nnc_graph_free(g);
        }
    }
    T_CASE("regularization in a real train step (linear + MSE): w' = w - lr clip(g + l1 sign w), bias not decayed") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){3});
        nnc_node *y = nnc_input(g, "y", NNC_F32, 1, (int64_t[]){2});
        nnc_node *pred = nnc_linear_layer(g, x, "fc", 2, 1);
        nnc_graph_loss(g, nnc_mse(g, pred, y, NNC_SUM), 1.0f);
        nnc_optim o = nnc_optim_sgd(0.1f, 0, 0.5f);
        o.clip_value = 0.8f;
        o.l1 = 0.05f;
        o.no_decay_bias_norm = 1;
        T_OK(nnc_graph_set_optimizer(g, &o));
        T_OK(nnc_graph_compile(g, 2, 1));
        nnc_node *w = nnc_graph_find(g, "fc.weight"), *b = nnc_graph_find(g, "fc.bias");
        T_CHECK(w && b);
        if (w && b) {
            float *xv = nnc_node_value(x)->data, *yv = nnc_node_value(y)->data;
            for (int i = 0; i < 6; i++) xv[i] = (float)(i - 2) * 0.5f;
            for (int i = 0; i < 4; i++) yv[i] = (float)i;
            for (int it = 0; it < 2; it++) { /* twice: the gradient region is rewritten by each backward */
                float w0[6], b0[2], gw[6], gb[2];
                memcpy(w0, nnc_node_value(w)->data, sizeof w0);
                memcpy(b0, nnc_node_value(b)->data, sizeof b0);
                T_OK(nnc_graph_forward(g));
                T_OK(nnc_graph_backward(g));
                memcpy(gw, nnc_node_grad(w)->data, sizeof gw);
                memcpy(gb, nnc_node_grad(b)->data, sizeof gb);
                T_OK(nnc_graph_update(g));
                float ww[6], wb[2];
                for (int i = 0; i < 6; i++) {
                    float gi = fminf(fmaxf(gw[i], -0.8f), 0.8f) + 0.05f * (float)((w0[i] > 0) - (w0[i] < 0));
                    ww[i] = w0[i] - 0.1f * (gi + 0.5f * w0[i]);
                }
                for (int i = 0; i < 2; i++) wb[i] = b0[i] - 0.1f * fminf(fmaxf(gb[i], -0.8f), 0.8f);
                T_CHECK(t_close("weight", nnc_node_value(w)->data, ww, 6, 1e-6, 1e-7));
                T_CHECK(t_close("bias", nnc_node_value(b)->data, wb, 2, 1e-6, 1e-7));
            }
        }
        nnc_graph_free(g);
    }
    T_CASE("nnc_graph_freeze by prefix: frozen parameters unchanged after steps") {
        nnc_node *fw, *fb, *bn;
        nnc_optim o = nnc_optim_sgd(0.1f, 0.9f, 0.01f);
        o.clip_norm = 0.5f;
        nnc_graph *g = mk_named(o, &fw, &fb, &bn);
        T_CHECK(nnc_graph_freeze(g, "fc.") == 2);
        T_CHECK(nnc_graph_freeze(g, "nothing") == 0);
        setv(fw, (float[]){1, 2, 3, 4, 5, 6}, 6);
        setv(fb, (float[]){1, 2}, 2);
        setv(bn, (float[]){1, 2, 3}, 3);
        for (int t = 0; t < 3; t++) {
            setg(fw, (float[]){1, 1, 1, 1, 1, 1}, 6);
            setg(fb, (float[]){1, 1}, 2);
            setg(bn, (float[]){1, 1, 1}, 3);
            T_OK(nnc_graph_update(g));
        }
        T_CHECK(t_close("frozen weight", nnc_node_value(fw)->data, (float[]){1, 2, 3, 4, 5, 6}, 6, 0, 0));
        T_CHECK(t_close("frozen bias", nnc_node_value(fb)->data, (float[]){1, 2}, 2, 0, 0));
        T_CHECK(((float *)nnc_node_value(bn)->data)[0] < 1.0f);
        nnc_graph_free(g);
    }
}

static void fill_ds(nnc_dataset *d, int64_t n, int64_t feat, int classes, uint64_t seed) {
    T_OK(nnc_tensor_alloc(&d->x, NNC_F32, 4, (int64_t[]){n, 1, 1, feat}));
    T_OK(nnc_tensor_alloc(&d->y, NNC_I64, 1, (int64_t[]){n}));
    float *x = d->x.data;
    int64_t *y = d->y.data;
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < feat; j++) x[i * feat + j] = nnc_rand_normal(seed, 7, (uint64_t)(i * feat + j));
        y[i] = (int64_t)(nnc_rand_uniform(seed, 8, (uint64_t)i) * classes) % classes;
    }
    d->n = n;
    d->n_classes = classes;
}

typedef struct es_rec { nnc_model *m; int n; double vl[64]; float *w[64]; int64_t nw; } es_rec;
static void es_epoch(const nnc_epoch_stats *s, void *u) {
    es_rec *r = u;
    if (r->n >= 64) return;
    r->vl[r->n] = s->val_loss;
    nnc_graph *g = r->m->g;
    r->w[r->n] = malloc((size_t)r->nw * sizeof(float));
    int64_t k = 0;
    for (int i = 0; i < nnc_graph_n_params(g); i++) {
        nnc_tensor *t = nnc_node_value(nnc_graph_param_at(g, i));
        int64_t n = nnc_tensor_numel(t);
        memcpy(r->w[r->n] + k, t->data, (size_t)n * sizeof(float));
        k += n;
    }
    r->n++;
}

static void test_validation(void) {
    T_CASE("validation split: disjoint, complete, deterministic from the seed") {
        nnc_dataset d = {0}, tr = {0}, va = {0}, tr2 = {0}, va2 = {0}, tr3 = {0}, va3 = {0};
        fill_ds(&d, 100, 1, 3, 1);
        float *x = d.x.data;
        for (int i = 0; i < 100; i++) x[i] = (float)i; /* sample id */
        T_OK(nnc_dataset_split(&d, 0.2f, 5, &tr, &va));
        T_CHECK(tr.n == 80 && va.n == 20);
        int seen[100] = {0};
        for (int64_t i = 0; i < tr.n; i++) seen[(int)((float *)tr.x.data)[i]]++;
        for (int64_t i = 0; i < va.n; i++) seen[(int)((float *)va.x.data)[i]] += 10;
        int ok = 1;
        for (int i = 0; i < 100; i++) ok &= seen[i] == 1 || seen[i] == 10;
        T_CHECKF(ok, "every sample exactly once in train or val");
        for (int64_t i = 0; i < va.n; i++) /* labels travel with samples */
            T_CHECK(((int64_t *)va.y.data)[i] == ((int64_t *)d.y.data)[(int)((float *)va.x.data)[i]]);
        T_OK(nnc_dataset_split(&d, 0.2f, 5, &tr2, &va2));
        T_CHECK(memcmp(va.x.data, va2.x.data, 20 * sizeof(float)) == 0 && memcmp(tr.x.data, tr2.x.data, 80 * sizeof(float)) == 0);
        T_OK(nnc_dataset_split(&d, 0.2f, 6, &tr3, &va3));
        T_CHECK(memcmp(va.x.data, va3.x.data, 20 * sizeof(float)) != 0);
        nnc_dataset bad_tr = {0}, bad_va = {0};
        T_CHECK(nnc_dataset_split(&d, 1.0f, 5, &bad_tr, &bad_va) == NNC_ERR_ARG);
        T_CHECK(nnc_dataset_split(&d, 0, 5, &bad_tr, &bad_va) == NNC_ERR_ARG);
        nnc_dataset *all[] = {&d, &tr, &va, &tr2, &va2, &tr3, &va3};
        for (int i = 0; i < 7; i++) nnc_dataset_free(all[i]);
    }
    T_CASE("early stopping on noisy labels: stops, restores the best-by-validation weights") {
        nnc_dataset d = {0};
        fill_ds(&d, 96, 8, 3, 3); /* random labels: fitting them worsens validation */
        nnc_model *m = calloc(1, sizeof *m);
        m->g = nnc_graph_new();
        snprintf(m->name, sizeof m->name, "tiny");
        m->in_shape[0] = 1; m->in_shape[1] = 1; m->in_shape[2] = 8;
        m->num_classes = 3;
        m->norm_std = 1;
        m->input = nnc_input(m->g, "input", NNC_F32, 3, m->in_shape);
        m->labels = nnc_input(m->g, "labels", NNC_I64, 0, NULL);
        nnc_node *h = nnc_relu(m->g, nnc_linear_layer(m->g, nnc_flatten(m->g, m->input), "fc1", 64, 1));
        m->logits = nnc_linear_layer(m->g, h, "fc2", 3, 1);
        nnc_graph_output(m->g, m->logits);
        m->loss = nnc_cross_entropy(m->g, m->logits, m->labels, NNC_MEAN);
        nnc_graph_loss(m->g, m->loss, 1.0f);
        T_OK(nnc_graph_status(m->g));
        nnc_train_opts o = nnc_train_defaults();
        o.epochs = 40;
        o.batch = 16;
        o.optim = nnc_optim_adam(0.01f, 0);
        o.val_split = 0.25f;
        o.early_stop = 3;
        o.seed = 11;
        es_rec r = {.m = m, .n = 0, .nw = 0};
        r.nw = 8 * 64 + 64 + 64 * 3 + 3;
        o.on_epoch = es_epoch;
        o.user = &r;
        T_OK(nnc_train(m, &d, NULL, &o));
        int best = 0;
        for (int e = 1; e < r.n; e++) if (r.vl[e] < r.vl[best]) best = e;
        T_CHECKF(r.n < 40 && r.n == best + 1 + 3, "ran %d epochs, best epoch %d", r.n, best + 1);
        int same = 1;
        int64_t k = 0;
        for (int i = 0; i < nnc_graph_n_params(m->g); i++) {
            nnc_tensor *t = nnc_node_value(nnc_graph_param_at(m->g, i));
            for (int64_t j = 0; j < nnc_tensor_numel(t); j++) same &= ((float *)t->data)[j] == r.w[best][k + j];
            k += nnc_tensor_numel(t);
        }
        T_CHECKF(same, "final weights are those of the best epoch %d", best + 1);
        /* and the validation loss of the restored model is the best one */
        nnc_dataset tr = {0}, va = {0};
        T_OK(nnc_dataset_split(&d, 0.25f, 11, &tr, &va));
        double vl, va_acc;
        T_OK(nnc_evaluate(m, &va, 1000, &vl, &va_acc, NULL));
        T_CHECKF(fabs(vl - r.vl[best]) < 1e-6, "val loss %g vs best %g", vl, r.vl[best]);
        o.early_stop = 2;
        o.val_split = 0;
        T_CHECK(nnc_train(m, &d, NULL, &o) == NNC_ERR_ARG);
        for (int e = 0; e < r.n; e++) free(r.w[e]);
        nnc_dataset_free(&tr);
        nnc_dataset_free(&va);
        nnc_dataset_free(&d);
        nnc_model_free(m);
    }
}

static void stats(const float *w, int64_t n, double *mean, double *std, double *amax) {
    double s = 0, q = 0, mx = 0;
    for (int64_t i = 0; i < n; i++) { s += w[i]; mx = fmax(mx, fabs(w[i])); }
    *mean = s / (double)n;
    for (int64_t i = 0; i < n; i++) q += (w[i] - *mean) * (w[i] - *mean);
    *std = sqrt(q / (double)n);
    *amax = mx;
}

static void test_init(void) {
    T_CASE("initializers: statistics and bounds from PyTorch's fans") {
        nnc_graph *g = nnc_graph_new();
        nnc_init z = {NNC_INIT_ZEROS, 0, 0};
        nnc_node *xu = nnc_param(g, "xu", 2, (int64_t[]){256, 512}, z);
        nnc_node *xn = nnc_param(g, "xn", 2, (int64_t[]){256, 512}, z);
        nnc_node *ku = nnc_param(g, "ku", 4, (int64_t[]){64, 32, 3, 3}, z);
        nnc_node *kn = nnc_param(g, "kn", 4, (int64_t[]){64, 32, 3, 3}, z);
        nnc_node *ln = nnc_param(g, "ln", 2, (int64_t[]){300, 400}, z);
        T_OK(nnc_param_set_init(xu, (nnc_init){NNC_INIT_XAVIER_UNIFORM, 2.0f, 0}));
        T_OK(nnc_param_set_init(xn, (nnc_init){NNC_INIT_XAVIER_NORMAL, 0, 0}));
        T_OK(nnc_param_set_init(ku, (nnc_init){NNC_INIT_KAIMING_UNIFORM, 0, NNC_FAN_IN}));
        T_OK(nnc_param_set_init(kn, (nnc_init){NNC_INIT_KAIMING_NORMAL, 0.2f, NNC_FAN_OUT}));
        T_OK(nnc_param_set_init(ln, (nnc_init){NNC_INIT_LECUN_NORMAL, 0, 0}));
        T_CHECK(nnc_param_set_init(ln, (nnc_init){(nnc_init_kind)99, 0, 0}) == NNC_ERR_ARG);
        T_CHECK(nnc_param_set_init(ln, (nnc_init){NNC_INIT_KAIMING_NORMAL, 0, 0.5f}) == NNC_ERR_ARG);
        T_OK(nnc_graph_init_params(g));
        struct { nnc_node *p; double bound, std; const char *name; } c[] = {
            {xu, 2 * sqrt(6.0 / 768), 2 * sqrt(6.0 / 768) / sqrt(3.0), "xavier uniform gain 2"},
            {xn, 0, sqrt(2.0 / 768), "xavier normal"},
            {ku, sqrt(2.0) * sqrt(3.0 / 288), sqrt(2.0) / sqrt(288.0), "kaiming uniform fan_in relu"},
            {kn, 0, sqrt(2.0 / (1 + 0.04)) / sqrt(576.0), "kaiming normal fan_out leaky 0.2"},
            {ln, 0, 1 / sqrt(400.0), "lecun normal"},
        };
        for (int i = 0; i < 5; i++) {
            nnc_tensor *t = nnc_node_value(c[i].p);
            double mean, std, amax;
            stats(t->data, nnc_tensor_numel(t), &mean, &std, &amax);
            T_CHECKF(fabs(std / c[i].std - 1) < 0.02 && fabs(mean) < 0.02 * c[i].std, "%s: mean %g std %g (want %g)", c[i].name, mean, std, c[i].std);
            if (c[i].bound > 0) T_CHECKF(amax <= c[i].bound && amax > 0.99 * c[i].bound, "%s: max %g bound %g", c[i].name, amax, c[i].bound);
        }
        T_CHECK(nnc_param_set_init(xu, (nnc_init){NNC_INIT_ZEROS, 0, 0}) == NNC_ERR_STATE);
        nnc_graph_free(g);
    }
    T_CASE("orthogonal init: W W^T = I (wide), W^T W = I (tall, conv flattened), gain") {
        nnc_graph *g = nnc_graph_new();
        nnc_init z = {NNC_INIT_ZEROS, 0, 0};
        nnc_node *wide = nnc_param(g, "wide", 2, (int64_t[]){32, 80}, z);
        nnc_node *tall = nnc_param(g, "tall", 2, (int64_t[]){80, 32}, z);
        nnc_node *conv = nnc_param(g, "conv", 4, (int64_t[]){16, 4, 3, 3}, z);
        T_OK(nnc_param_set_init(wide, (nnc_init){NNC_INIT_ORTHOGONAL, 0, 0}));
        T_OK(nnc_param_set_init(tall, (nnc_init){NNC_INIT_ORTHOGONAL, 0, 0}));
        T_OK(nnc_param_set_init(conv, (nnc_init){NNC_INIT_ORTHOGONAL, 2.0f, 0}));
        T_OK(nnc_graph_init_params(g));
        struct { nnc_node *p; int r, c, rowwise; double g2; } cs[] = {{wide, 32, 80, 1, 1}, {tall, 80, 32, 0, 1}, {conv, 16, 36, 1, 4}};
        for (int k = 0; k < 3; k++) {
            const float *w = nnc_node_value(cs[k].p)->data;
            int R = cs[k].r, C = cs[k].c, M = cs[k].rowwise ? R : C, L = cs[k].rowwise ? C : R;
            double err = 0;
            for (int i = 0; i < M; i++)
                for (int j = 0; j < M; j++) {
                    double d = 0;
                    for (int l = 0; l < L; l++)
                        d += cs[k].rowwise ? (double)w[i * C + l] * w[j * C + l] : (double)w[l * C + i] * w[l * C + j];
                    err = fmax(err, fabs(d - (i == j ? cs[k].g2 : 0)));
                }
            T_CHECKF(err < 1e-5, "orthogonality case %d: max error %g", k, err);
        }
        nnc_graph_free(g);
    }
}

int main(void) {
    nnc_set_threads(2);
    test_optimizers();
    test_schedules();
    test_regularization();
    test_validation();
    test_init();
    return t_finish();
}
