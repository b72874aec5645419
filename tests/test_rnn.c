/* test_rnn.c -- recurrent layers: hand-computed steps, PyTorch references
 * (tests/ref/rnn_*.safetensors from tools/gen_refs_rnn.py: RNN/LSTM/GRU,
 * stacked, bidirectional, with lengths and initial states; outputs and every
 * gradient to 1e-5 relative), truncated BPTT carrying the state across
 * windows, bad lengths and shapes refused, and an allocation-free step.
 * Gradient checks of the op's cases run in test_gradcheck. */
#include "testlib.h"
#include "core/graph.h"
#include <stdlib.h>
#include <string.h>

#define RTOL 1e-5
#define ATOL 1e-6

static nnc_rnn_cell cell_of(const char *s) {
    if (!strcmp(s, "rnn_relu")) return NNC_RNN_RELU;
    if (!strcmp(s, "lstm")) return NNC_LSTM;
    if (!strcmp(s, "gru")) return NNC_GRU;
    return NNC_RNN_TANH;
}

static int same_shape(const char *what, const nnc_tensor *got, const nnc_tensor *want) {
    int ok = got->ndim == want->ndim;
    for (int i = 0; ok && i < got->ndim; i++) ok = got->shape[i] == want->shape[i];
    if (!ok) {
        char a[64], b[64];
        T_CHECKF(0, "%s: nnc has %s, reference %s", what, nnc_shape_str(got, a, sizeof a), nnc_shape_str(want, b, sizeof b));
    }
    return ok;
}
static void compare(const char *what, const nnc_tensor *got, const nnc_tensor *want) {
    if (!want) { T_CHECKF(0, "reference lacks %s", what); return; }
    if (!got || !got->data) { T_CHECKF(0, "%s: nnc has no data", what); return; }
    if (same_shape(what, got, want)) t_close(what, got->data, want->data, nnc_tensor_numel(want), RTOL, ATOL);
}
static void load(const char *what, nnc_node *n, const nnc_tensor *v) {
    if (!v) { T_CHECKF(0, "reference lacks %s", what); return; }
    nnc_tensor *t = nnc_node_value(n);
    if (same_shape(what, t, v)) memcpy(t->data, v->data, nnc_tensor_bytes(v));
}
static int meta_int(nnc_safetensors *f, const char *k) {
    const char *v = nnc_safetensors_meta(f, k);
    return v ? atoi(v) : 0;
}

static void run_ref(const char *name) {
    char rel[128];
    snprintf(rel, sizeof rel, "ref/%s.safetensors", name);
    nnc_safetensors *f;
    nnc_status s = nnc_safetensors_open(t_path(rel), &f);
    T_CHECKF(s == NNC_OK, "open %s: %s", rel, nnc_last_error());
    if (s) return;
    const nnc_tensor *xt = nnc_safetensors_get(f, "x");
    const char *cs = nnc_safetensors_meta(f, "cell");
    if (!xt || !cs) { T_CHECKF(0, "reference lacks x or cell"); nnc_safetensors_close(f); return; }
    const int has_len = meta_int(f, "lengths"), has_h0 = meta_int(f, "h0"), state = meta_int(f, "state");
    nnc_rnn_opts o = {.cell = cell_of(cs), .hidden = meta_int(f, "hidden"), .layers = meta_int(f, "layers"),
                      .bidirectional = meta_int(f, "bidirectional"), .no_bias = !meta_int(f, "bias"), .want_state = state};
    const int LD = o.layers * (o.bidirectional ? 2 : 1);
    nnc_graph *g = nnc_graph_new();
    nnc_node *x = nnc_input(g, "x", NNC_F32, 2, xt->shape + 1);
    nnc_input_requires_grad(x);
    if (has_len) o.lengths = nnc_input(g, "lengths", NNC_I64, 0, NULL);
    if (has_h0) {
        o.h0 = nnc_input(g, "h0", NNC_F32, 2, (int64_t[]){LD, o.hidden});
        nnc_input_requires_grad(o.h0);
        if (o.cell == NNC_LSTM) { o.c0 = nnc_input(g, "c0", NNC_F32, 2, (int64_t[]){LD, o.hidden}); nnc_input_requires_grad(o.c0); }
    }
    nnc_rnn_out r = nnc_rnn_layer(g, x, "rnn", &o);
    s = nnc_graph_status(g);
    T_CHECKF(s == NNC_OK && r.y, "build: %s", nnc_graph_error(g));
    if (s || !r.y) goto out;
    nnc_node *outs[3] = {r.y, r.h_n, r.c_n};
    static const char *const oname[3] = {"y", "h_n", "c_n"}, *const dname[3] = {"dy", "dh_n", "dc_n"};
    for (int i = 0; i < 3; i++)
        if (outs[i]) nnc_graph_output(g, outs[i]);
    g->seed_outputs = 1;
    s = nnc_graph_compile(g, xt->shape[0], 1);
    T_CHECKF(s == NNC_OK, "compile: %s", nnc_last_error());
    if (s) goto out;
    load("x", x, xt);
    if (o.lengths) load("lengths", o.lengths, nnc_safetensors_get(f, "lengths"));
    if (o.h0) load("h0", o.h0, nnc_safetensors_get(f, "h0"));
    if (o.c0) load("c0", o.c0, nnc_safetensors_get(f, "c0"));
    for (int i = 0; i < g->n_params; i++) load(g->params[i]->name, g->params[i], nnc_safetensors_get(f, g->params[i]->name));
    T_OK(nnc_graph_forward(g));
    for (int i = 0; i < 3; i++)
        if (outs[i]) {
            const nnc_tensor *want = nnc_safetensors_get(f, oname[i]), *seed = nnc_safetensors_get(f, dname[i]);
            compare(oname[i], nnc_node_value(outs[i]), want);
            if (seed && same_shape(dname[i], nnc_node_value(outs[i]), seed)) outs[i]->seed = seed->data;
            else T_CHECKF(0, "reference lacks %s", dname[i]);
        }
    T_OK(nnc_graph_backward(g));
    compare("dx", nnc_node_grad(x), nnc_safetensors_get(f, "dx"));
    if (o.h0) compare("dh0", nnc_node_grad(o.h0), nnc_safetensors_get(f, "dh0"));
    if (o.c0) compare("dc0", nnc_node_grad(o.c0), nnc_safetensors_get(f, "dc0"));
    for (int i = 0; i < g->n_params; i++) {
        char gn[160];
        snprintf(gn, sizeof gn, "grad.%s", g->params[i]->name);
        compare(gn, nnc_node_grad(g->params[i]), nnc_safetensors_get(f, gn));
    }
    for (int i = 0; i < 3; i++)
        if (outs[i]) outs[i]->seed = NULL;
out:
    nnc_graph_free(g);
    nnc_safetensors_close(f);
}

/* One unit, two steps, by hand. */
static void hand_tanh(void) {
    nnc_graph *g = nnc_graph_new();
    nnc_node *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){2, 1});
    nnc_node *wih = nnc_param(g, "wih", 2, (int64_t[]){1, 1}, (nnc_init){.kind = NNC_INIT_CONST, .a = 0.5f});
    nnc_node *whh = nnc_param(g, "whh", 2, (int64_t[]){1, 1}, (nnc_init){.kind = NNC_INIT_CONST, .a = -1.0f});
    nnc_node *bih = nnc_param(g, "bih", 1, (int64_t[]){1}, (nnc_init){.kind = NNC_INIT_CONST, .a = 0.1f});
    nnc_node *bhh = nnc_param(g, "bhh", 1, (int64_t[]){1}, (nnc_init){.kind = NNC_INIT_CONST, .a = 0.2f});
    nnc_node *y = nnc_rnn(g, NNC_RNN_TANH, x, wih, whh, bih, bhh, NULL, NULL, NULL, 0, NNC_RNN_EMIT_SEQ | NNC_RNN_EMIT_STATE);
    nnc_graph_output(g, y);
    T_OK(nnc_graph_compile(g, 1, 0));
    float *xv = nnc_node_value(x)->data;
    xv[0] = 1; xv[1] = 2;
    T_OK(nnc_graph_forward(g));
    const double h1 = tanh(0.5 + 0.3), h2 = tanh(1.0 + 0.3 - h1);
    const float want[3] = {(float)h1, (float)h2, (float)h2};
    T_CHECK(nnc_node_value(y)->shape[1] == 3);
    t_close("y, h_n", nnc_node_value(y)->data, want, 3, 1e-6, 1e-7);
    nnc_graph_free(g);
}

/* An LSTM with one unit and one step: c = i g, h = o tanh(c). */
static void hand_lstm(void) {
    nnc_graph *g = nnc_graph_new();
    nnc_node *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){1, 1});
    nnc_node *wih = nnc_param(g, "wih", 2, (int64_t[]){4, 1}, (nnc_init){.kind = NNC_INIT_ZEROS});
    nnc_node *whh = nnc_param(g, "whh", 2, (int64_t[]){4, 1}, (nnc_init){.kind = NNC_INIT_ZEROS});
    nnc_node *y = nnc_rnn(g, NNC_LSTM, x, wih, whh, NULL, NULL, NULL, NULL, NULL, 0, NNC_RNN_EMIT_STATE);
    nnc_graph_output(g, y);
    T_OK(nnc_graph_compile(g, 1, 0));
    float *w = nnc_node_value(wih)->data;
    w[0] = 1; w[1] = 2; w[2] = 3; w[3] = -1; /* i f g o */
    ((float *)nnc_node_value(x)->data)[0] = 0.5f;
    T_OK(nnc_graph_forward(g));
    const double i = 1 / (1 + exp(-0.5)), gg = tanh(1.5), o = 1 / (1 + exp(0.5)), c = i * gg;
    const float want[2] = {(float)(o * tanh(c)), (float)c};
    T_CHECK(nnc_node_value(y)->shape[1] == 2);
    t_close("h_n, c_n", nnc_node_value(y)->data, want, 2, 1e-6, 1e-7);
    nnc_graph_free(g);
}

/* Truncated BPTT's forward: two windows of 3 steps carrying (h, c) equal one run of 6. */
static nnc_graph *tbptt_graph(int64_t T, nnc_node **x, nnc_node **h0, nnc_node **c0, nnc_rnn_out *r) {
    nnc_graph *g = nnc_graph_new();
    nnc_graph_set_seed(g, 5);
    *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){T, 3});
    *h0 = nnc_input(g, "h0", NNC_F32, 2, (int64_t[]){2, 4});
    *c0 = nnc_input(g, "c0", NNC_F32, 2, (int64_t[]){2, 4});
    nnc_rnn_opts o = {.cell = NNC_LSTM, .hidden = 4, .layers = 2, .h0 = *h0, .c0 = *c0, .want_state = 1};
    *r = nnc_rnn_layer(g, *x, "lstm", &o);
    nnc_graph_output(g, r->y);
    nnc_graph_output(g, r->h_n);
    nnc_graph_output(g, r->c_n);
    return g;
}
static void tbptt_carry(void) {
    nnc_node *x6, *h6, *c6, *x3, *h3, *c3;
    nnc_rnn_out r6, r3;
    nnc_graph *g6 = tbptt_graph(6, &x6, &h6, &c6, &r6), *g3 = tbptt_graph(3, &x3, &h3, &c3, &r3);
    T_OK(nnc_graph_compile(g6, 2, 0));
    T_OK(nnc_graph_compile(g3, 2, 0));
    if (nnc_graph_status(g6) || nnc_graph_status(g3)) goto out;
    float *xv = nnc_node_value(x6)->data;
    for (int i = 0; i < 2 * 6 * 3; i++) xv[i] = (float)((i * 37 % 11) - 5) / 5.0f;
    memset(nnc_node_value(h6)->data, 0, nnc_tensor_bytes(nnc_node_value(h6)));
    memset(nnc_node_value(c6)->data, 0, nnc_tensor_bytes(nnc_node_value(c6)));
    T_OK(nnc_graph_forward(g6));
    /* same weights (same seed and names) */
    memset(nnc_node_value(h3)->data, 0, nnc_tensor_bytes(nnc_node_value(h3)));
    memset(nnc_node_value(c3)->data, 0, nnc_tensor_bytes(nnc_node_value(c3)));
    float ywin[2][2 * 3 * 4];
    for (int w = 0; w < 2; w++) {
        float *x3v = nnc_node_value(x3)->data;
        for (int n = 0; n < 2; n++) memcpy(x3v + n * 9, xv + n * 18 + w * 9, 9 * sizeof(float));
        T_OK(nnc_graph_forward(g3));
        memcpy(ywin[w], nnc_node_value(r3.y)->data, sizeof ywin[w]);
        memcpy(nnc_node_value(h3)->data, nnc_node_value(r3.h_n)->data, nnc_tensor_bytes(nnc_node_value(h3)));
        memcpy(nnc_node_value(c3)->data, nnc_node_value(r3.c_n)->data, nnc_tensor_bytes(nnc_node_value(c3)));
    }
    const float *y6 = nnc_node_value(r6.y)->data;
    float joined[2 * 6 * 4];
    for (int n = 0; n < 2; n++)
        for (int w = 0; w < 2; w++) memcpy(joined + n * 24 + w * 12, ywin[w] + n * 12, 12 * sizeof(float));
    t_close("windows vs whole", joined, y6, 2 * 6 * 4, 1e-6, 1e-6);
    t_close("final h", nnc_node_value(r3.h_n)->data, nnc_node_value(r6.h_n)->data, 2 * 2 * 4, 1e-6, 1e-6);
out:
    nnc_graph_free(g6);
    nnc_graph_free(g3);
}

static void bad_lengths(void) {
    nnc_graph *g = nnc_graph_new();
    nnc_node *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){4, 2});
    nnc_node *len = nnc_input(g, "len", NNC_I32, 0, NULL);
    nnc_rnn_opts o = {.cell = NNC_GRU, .hidden = 3, .lengths = len};
    nnc_rnn_out r = nnc_rnn_layer(g, x, "gru", &o);
    nnc_graph_output(g, r.y);
    T_OK(nnc_graph_compile(g, 2, 0));
    int32_t *l = nnc_node_value(len)->data;
    l[0] = 4; l[1] = 0;
    nnc_status s = nnc_graph_forward(g);
    T_CHECK(s != NNC_OK);
    T_CHECKF(strstr(nnc_last_error(), "length 0") && strstr(nnc_last_error(), "1..4"), "message: %s", nnc_last_error());
    l[1] = 5;
    T_CHECK(nnc_graph_forward(g) != NNC_OK);
    l[1] = 4;
    T_OK(nnc_graph_forward(g));
    nnc_graph_free(g);
}

static void bad_shapes(void) {
    nnc_graph *g = nnc_graph_new();
    nnc_node *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){4, 2});
    nnc_node *wih = nnc_param(g, "wih", 2, (int64_t[]){12, 2}, (nnc_init){0});
    nnc_node *whh = nnc_param(g, "whh", 2, (int64_t[]){12, 3}, (nnc_init){0});
    T_CHECK(nnc_rnn(g, NNC_GRU, x, wih, whh, NULL, NULL, NULL, NULL, NULL, 0, NNC_RNN_EMIT_SEQ) == NULL);
    T_CHECKF(strstr(nnc_graph_error(g), "weight_hh must be [3*hidden, hidden]"), "message: %s", nnc_graph_error(g));
    nnc_graph_free(g);
    g = nnc_graph_new();
    x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){4});
    nnc_rnn_opts o = {.cell = NNC_LSTM, .hidden = 3};
    T_CHECK(nnc_rnn_layer(g, x, "lstm", &o).y == NULL);
    T_CHECKF(strstr(nnc_graph_error(g), "[N, T, features]"), "message: %s", nnc_graph_error(g));
    nnc_graph_free(g);
    g = nnc_graph_new();
    x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){4, 2});
    o.hidden = 0;
    T_CHECK(nnc_rnn_layer(g, x, "lstm", &o).y == NULL);
    T_CHECKF(strstr(nnc_graph_error(g), "hidden size 0"), "message: %s", nnc_graph_error(g));
    nnc_graph_free(g);
}

/* A training step of a 2-layer bidirectional LSTM allocates nothing. */
static void no_alloc_step(void) {
    nnc_graph *g = nnc_graph_new();
    nnc_node *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){7, 5});
    nnc_node *yl = nnc_input(g, "y", NNC_I64, 0, NULL);
    nnc_node *len = nnc_input(g, "len", NNC_I32, 0, NULL);
    nnc_rnn_opts o = {.cell = NNC_LSTM, .hidden = 8, .layers = 2, .bidirectional = 1, .dropout = 0.2f, .lengths = len};
    nnc_rnn_out r = nnc_rnn_layer(g, x, "lstm", &o);
    nnc_node *last = nnc_reshape(g, nnc_slice(g, r.y, 1, 0, 1), 1, (int64_t[]){16});
    nnc_node *logits = nnc_linear_layer(g, last, "fc", 3, 1);
    nnc_graph_loss(g, nnc_cross_entropy(g, logits, yl, NNC_MEAN), 1.0f);
    nnc_optim opt = nnc_optim_adam(1e-3f, 0);
    nnc_graph_set_optimizer(g, &opt);
    T_OK(nnc_graph_compile(g, 4, 1));
    if (nnc_graph_status(g)) { nnc_graph_free(g); return; }
    int32_t *l = nnc_node_value(len)->data;
    for (int i = 0; i < 4; i++) l[i] = 7 - i;
    memset(nnc_node_value(x)->data, 0, nnc_tensor_bytes(nnc_node_value(x)));
    memset(nnc_node_value(yl)->data, 0, nnc_tensor_bytes(nnc_node_value(yl)));
    float loss;
    T_OK(nnc_graph_train_step(g, &loss));
    long allocs = t_alloc_count;
    T_OK(nnc_graph_train_step(g, &loss));
    T_OK(nnc_graph_train_step(g, &loss));
    T_CHECKF(t_alloc_count == allocs, "two training steps made %ld heap allocations", t_alloc_count - allocs);
    nnc_graph_free(g);
}


/* Gradient check of whole layers: 2 stacked bidirectional layers with
 * lengths, initial states and final states, dropout 0 (the checker needs a
 * deterministic forward; dropout's own check is the dropout op's). */
static void gradcheck_layer(nnc_rnn_cell cell) {
    nnc_graph *g = nnc_graph_new();
    nnc_graph_set_seed(g, 11);
    const int64_t T = 4, I = 2, H = 3;
    nnc_node *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){T, I});
    nnc_input_requires_grad(x);
    nnc_node *len = nnc_input(g, "len", NNC_I32, 0, NULL);
    nnc_node *h0 = nnc_input(g, "h0", NNC_F32, 2, (int64_t[]){4, H});
    nnc_input_requires_grad(h0);
    nnc_node *c0 = NULL;
    if (cell == NNC_LSTM) { c0 = nnc_input(g, "c0", NNC_F32, 2, (int64_t[]){4, H}); nnc_input_requires_grad(c0); }
    nnc_rnn_opts o = {.cell = cell, .hidden = H, .layers = 2, .bidirectional = 1, .lengths = len, .h0 = h0, .c0 = c0, .want_state = 1};
    nnc_rnn_out r = nnc_rnn_layer(g, x, "rnn", &o);
    nnc_graph_output(g, r.y);
    nnc_graph_output(g, r.h_n);
    if (r.c_n) nnc_graph_output(g, r.c_n);
    T_OK(nnc_graph_compile(g, 3, 1));
    if (nnc_graph_status(g)) { nnc_graph_free(g); return; }
    const nnc_node *fill[3] = {x, h0, c0};
    for (int k = 0; k < 3; k++) {
        if (!fill[k]) continue;
        nnc_tensor *t = nnc_node_value((nnc_node *)fill[k]);
        for (int64_t i = 0; i < nnc_tensor_numel(t); i++) ((float *)t->data)[i] = nnc_rand_normal(5, (uint64_t)k, (uint64_t)i);
    }
    int32_t *l = nnc_node_value(len)->data;
    l[0] = 4; l[1] = 2; l[2] = 1;
    nnc_gradcheck_opts go = nnc_gradcheck_defaults();
    go.eps = 3e-3;
    go.rtol = 3e-3;
    go.atol = 3e-4; /* float32 central differences of a deep graph: ~1e-4 of noise on small directions */
    go.full_jacobian = 1;
    nnc_gradcheck_result res;
    nnc_status s = nnc_gradcheck(g, &go, &res);
    T_CHECKF(s == NNC_OK, "%s", nnc_last_error());
    T_CHECK(res.n_checked > 1000);
    nnc_graph_free(g);
}

/* A many-to-many tagger learns a rule that needs both directions: the label of
 * step t is 1 when x[t-1] + x[t] + x[t+1] > 0 (x = +-1, zero outside the
 * sequence); variable lengths, labels past the end ignored. */
static void fill_tagger(nnc_node *x, nnc_node *len, nnc_node *y, int64_t N, int64_t T, uint64_t batch) {
    float *xv = nnc_node_value(x)->data;
    int32_t *lv = nnc_node_value(len)->data;
    int64_t *yv = nnc_node_value(y)->data;
    for (int64_t i = 0; i < N; i++) {
        uint64_t base = batch * 1000 + (uint64_t)i;
        lv[i] = 3 + (int32_t)(nnc_rand_u64(9, 1, base) % (uint64_t)(T - 2));
        for (int64_t t = 0; t < T; t++) xv[i * T + t] = t < lv[i] ? (nnc_rand_u64(9, 2, base * 64 + (uint64_t)t) & 1 ? 1.0f : -1.0f) : 0.0f;
        for (int64_t t = 0; t < T; t++) {
            float sum = xv[i * T + t] + (t > 0 ? xv[i * T + t - 1] : 0) + (t + 1 < lv[i] ? xv[i * T + t + 1] : 0);
            yv[i * T + t] = t < lv[i] ? (sum > 0) : -100;
        }
    }
}
static void tagger(void) {
    const int64_t T = 10, N = 32;
    nnc_graph *g = nnc_graph_new();
    nnc_graph_set_seed(g, 3);
    nnc_node *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){T, 1});
    nnc_node *len = nnc_input(g, "len", NNC_I32, 0, NULL);
    nnc_node *y = nnc_input(g, "y", NNC_I64, 1, (int64_t[]){T});
    nnc_rnn_opts o = {.cell = NNC_GRU, .hidden = 16, .bidirectional = 1, .lengths = len};
    nnc_rnn_out r = nnc_rnn_layer(g, x, "gru", &o);
    nnc_node *logits = nnc_linear_seq_layer(g, r.y, "fc", 2, 1);
    nnc_graph_output(g, logits);
    nnc_graph_loss(g, nnc_cross_entropy_seq(g, logits, y, NNC_MEAN, -100), 1.0f);
    nnc_optim opt = nnc_optim_adam(0.02f, 0);
    nnc_graph_set_optimizer(g, &opt);
    T_OK(nnc_graph_compile(g, N, 1));
    if (nnc_graph_status(g)) { nnc_graph_free(g); return; }
    for (uint64_t b = 0; b < 300; b++) {
        fill_tagger(x, len, y, N, T, b);
        nnc_status s = nnc_graph_train_step(g, NULL);
        if (s) { T_OK(s); break; }
    }
    T_OK(nnc_graph_compile(g, N, 0));
    int64_t right = 0, total = 0;
    for (uint64_t b = 1000; b < 1010; b++) {
        fill_tagger(x, len, y, N, T, b);
        T_OK(nnc_graph_forward(g));
        const float *lg = nnc_node_value(logits)->data;
        const int64_t *yv = nnc_node_value(y)->data;
        for (int64_t k = 0; k < N * T; k++) {
            if (yv[k] < 0) continue;
            right += (lg[2 * k + 1] > lg[2 * k]) == (yv[k] == 1);
            total++;
        }
    }
    T_CHECKF(right >= 0.97 * (double)total, "tagger accuracy %lld/%lld", (long long)right, (long long)total);
    nnc_graph_free(g);
}

/* x = one_hot(ids) takes the gather path: same outputs and weight gradients
 * as the GEMM path fed the same one-hot rows as a float input. */
static void onehot_fusion(nnc_rnn_cell cell) {
    const int64_t T = 5, V = 7, N = 3;
    nnc_graph *g[2] = {0};
    nnc_node *in[2] = {0}, *y[2] = {0};
    for (int k = 0; k < 2; k++) {
        g[k] = nnc_graph_new();
        nnc_graph_set_seed(g[k], 4);
        in[k] = k ? nnc_input(g[k], "ids", NNC_I32, 1, (int64_t[]){T}) : nnc_input(g[k], "x", NNC_F32, 2, (int64_t[]){T, V});
        nnc_rnn_opts o = {.cell = cell, .hidden = 4, .layers = 2, .bidirectional = 1};
        y[k] = nnc_rnn_layer(g[k], k ? nnc_one_hot(g[k], in[k], V) : in[k], "rnn", &o).y;
        nnc_graph_output(g[k], y[k]);
        g[k]->seed_outputs = 1;
        T_OK(nnc_graph_compile(g[k], N, 1));
    }
    if (nnc_graph_status(g[0]) || nnc_graph_status(g[1])) goto out;
    float *x = nnc_node_value(in[0])->data;
    int32_t *ids = nnc_node_value(in[1])->data;
    memset(x, 0, nnc_tensor_bytes(nnc_node_value(in[0])));
    for (int64_t r = 0; r < N * T; r++) { ids[r] = (int32_t)((r * 5 + 2) % V); x[r * V + ids[r]] = 1.0f; }
    static float seed[3 * 5 * 8];
    for (int i = 0; i < 3 * 5 * 8; i++) seed[i] = (float)((i * 7) % 13) / 13.0f - 0.5f;
    for (int k = 0; k < 2; k++) {
        y[k]->seed = seed;
        T_OK(nnc_graph_forward(g[k]));
        T_OK(nnc_graph_backward(g[k]));
        y[k]->seed = NULL;
    }
    t_close("y", nnc_node_value(y[1])->data, nnc_node_value(y[0])->data, N * T * 8, 1e-6, 1e-7);
    for (int i = 0; i < g[0]->n_params; i++)
        t_close(g[0]->params[i]->name, nnc_node_grad(g[1]->params[i])->data, nnc_node_grad(g[0]->params[i])->data,
                nnc_tensor_numel(nnc_node_grad(g[0]->params[i])), 1e-5, 1e-6);
out:
    nnc_graph_free(g[0]);
    nnc_graph_free(g[1]);
}

/* With 16 or more sequences on 2+ threads each thread runs the recurrence
 * on its own rows; the result must equal the one-thread run (which steps
 * through all rows together): outputs, final states, every gradient. */
static void split_rows(nnc_rnn_cell cell) {
    const int64_t N = 21, T = 5, I = 3, H = 6;
    int64_t small = nnc_get_small_plan_macs();
    nnc_set_small_plan_macs(0); /* a plan this small would run on one thread */
    nnc_graph *g = nnc_graph_new();
    nnc_graph_set_seed(g, 13);
    nnc_node *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){T, I});
    nnc_input_requires_grad(x);
    nnc_node *len = nnc_input(g, "len", NNC_I32, 0, NULL);
    nnc_node *h0 = nnc_input(g, "h0", NNC_F32, 2, (int64_t[]){4, H});
    nnc_input_requires_grad(h0);
    nnc_node *c0 = cell == NNC_LSTM ? nnc_input(g, "c0", NNC_F32, 2, (int64_t[]){4, H}) : NULL;
    if (c0) nnc_input_requires_grad(c0);
    nnc_rnn_opts o = {.cell = cell, .hidden = H, .layers = 2, .bidirectional = 1, .lengths = len, .h0 = h0, .c0 = c0, .want_state = 1};
    nnc_rnn_out r = nnc_rnn_layer(g, x, "rnn", &o);
    nnc_node *t1 = nnc_input(g, "t1", NNC_F32, 2, (int64_t[]){T, 2 * H}), *t2 = nnc_input(g, "t2", NNC_F32, 2, (int64_t[]){4, H});
    nnc_graph_loss(g, nnc_mse(g, r.y, t1, NNC_SUM), 1.0f);
    nnc_graph_loss(g, nnc_mse(g, r.h_n, t2, NNC_SUM), 1.0f);
    T_OK(nnc_graph_compile(g, N, 1));
    nnc_set_small_plan_macs(small);
    if (nnc_graph_status(g)) { nnc_graph_free(g); return; }
    nnc_node *fill[5] = {x, h0, c0, t1, t2};
    for (int k = 0; k < 5; k++) {
        if (!fill[k]) continue;
        nnc_tensor *t = nnc_node_value(fill[k]);
        for (int64_t i = 0; i < nnc_tensor_numel(t); i++) ((float *)t->data)[i] = nnc_rand_normal(6, (uint64_t)k, (uint64_t)i);
    }
    int32_t *l = nnc_node_value(len)->data;
    for (int64_t i = 0; i < N; i++) l[i] = (int32_t)(1 + (i * 3) % T);
    int t0 = nnc_get_threads();
    float *got[2] = {NULL, NULL}, loss[2] = {0, 0};
    int64_t total = nnc_tensor_numel(nnc_node_value(r.y)) + nnc_tensor_numel(nnc_node_grad(x)) + nnc_tensor_numel(nnc_node_grad(h0));
    for (int i = 0; i < g->n_params; i++) total += nnc_tensor_numel(nnc_node_grad(g->params[i]));
    for (int run = 0; run < 2; run++) {
        nnc_set_threads(run ? 1 : 2);
        T_OK(nnc_graph_forward(g));
        T_OK(nnc_graph_backward(g));
        loss[run] = nnc_graph_loss_value(g);
        float *p = got[run] = malloc((size_t)total * sizeof(float));
        nnc_tensor *parts[3] = {nnc_node_value(r.y), nnc_node_grad(x), nnc_node_grad(h0)};
        for (int k = 0; k < 3; k++) { memcpy(p, parts[k]->data, nnc_tensor_bytes(parts[k])); p += nnc_tensor_numel(parts[k]); }
        for (int i = 0; i < g->n_params; i++) {
            nnc_tensor *gt = nnc_node_grad(g->params[i]);
            memcpy(p, gt->data, nnc_tensor_bytes(gt));
            p += nnc_tensor_numel(gt);
        }
    }
    nnc_set_threads(t0);
    T_CHECKF(fabsf(loss[0] - loss[1]) <= 1e-5f * fabsf(loss[1]), "loss %.8g vs %.8g", loss[0], loss[1]);
    t_close("outputs and gradients, 2 threads (rows split) vs 1", got[0], got[1], total, 1e-4, 1e-6);
    free(got[0]);
    free(got[1]);
    nnc_graph_free(g);
}

int main(void) {
    T_CASE("rnn tanh, 21 sequences: rows split over 2 threads == 1 thread") split_rows(NNC_RNN_TANH);
    T_CASE("lstm, 21 sequences: rows split over 2 threads == 1 thread") split_rows(NNC_LSTM);
    T_CASE("gru, 21 sequences: rows split over 2 threads == 1 thread") split_rows(NNC_GRU);
    T_CASE("rnn tanh by hand, 2 steps") hand_tanh();
    T_CASE("lstm by hand, 1 step") hand_lstm();
    T_CASE("truncated BPTT: windows carrying (h, c) = the whole sequence") tbptt_carry();
    T_CASE("lengths out of 1..T refused at run time") bad_lengths();
    T_CASE("bad shapes refused at build time") bad_shapes();
    T_CASE("training step allocates nothing") no_alloc_step();
    T_CASE("one-hot input gathers W_ih columns (tanh RNN): same as the GEMM") onehot_fusion(NNC_RNN_TANH);
    T_CASE("one-hot input gathers W_ih columns (GRU): same as the GEMM") onehot_fusion(NNC_GRU);
    T_CASE("bidirectional GRU tagger learns a two-sided rule (lengths, ignored padding)") tagger();
    T_CASE("gradcheck: 2-layer bidirectional tanh RNN, lengths, h0, h_n") gradcheck_layer(NNC_RNN_TANH);
    T_CASE("gradcheck: 2-layer bidirectional LSTM, lengths, h0/c0, h_n/c_n") gradcheck_layer(NNC_LSTM);
    T_CASE("gradcheck: 2-layer bidirectional GRU, lengths, h0, h_n") gradcheck_layer(NNC_GRU);
    static const char *const cases[] = {"rnn_tanh", "rnn_relu_state", "rnn_tanh_bidir2", "rnn_lstm", "rnn_lstm_h0_nobias",
                                        "rnn_lstm_bidir2_len", "rnn_lstm_stack3", "rnn_gru", "rnn_gru_bidir_len",
                                        "rnn_gru_stack2_len", "rnn_tanh_len", "rnn_relu_bidir_h0"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[160];
        snprintf(name, sizeof name, "torch reference %s", cases[i]);
        T_CASE(name) run_ref(cases[i]);
    }
    return t_finish();
}
