/* test_seq_ops.c -- the sequence ops against values computed by hand:
 * embedding (with padding_idx), one_hot, slice, concat along any axis,
 * seq_pool's four modes with lengths, time-distributed linear, and
 * cross-entropy over [N, T, C] with an ignore index; the run-time and
 * build-time errors each op promises; a tiny tagger that learns; and
 * PyTorch 1.13 references tests/ref/seq_<case>.safetensors (written by
 * tools/gen_refs_seq.py) for embedding, cross-entropy with ignore_index and
 * linear on [N, T, I]. Hand-computed gradients are driven through a loss
 * sum((y - t)^2), with t chosen so that dy is (almost exactly) a given
 * tensor; the references seed dy directly through the gradient checker's
 * hook (g->seed_outputs, node->seed), as tests/test_act_loss_ref.c does. */
#include "testlib.h"
#include "core/graph.h"
#include <stdlib.h>
#include <string.h>

static float *val(nnc_node *n) { return (float *)nnc_node_value(n)->data; }
static float *grad(nnc_node *n) { return (float *)nnc_node_grad(n)->data; }
static int64_t numel(nnc_node *n) { return nnc_tensor_numel(nnc_node_value(n)); }
static void iota(float *p, int64_t n, float start, float step) {
    for (int64_t i = 0; i < n; i++) p[i] = start + step * (float)i;
}
static nnc_node *zeros_param(nnc_graph *g, const char *name, int ndim, const int64_t *shape) {
    return nnc_param(g, name, ndim, shape, (nnc_init){NNC_INIT_ZEROS, 0, 0});
}

/* The loss sum((y - t)^2): dy = 2 (y - t). */
static nnc_node *with_loss(nnc_graph *g, nnc_node *y) {
    nnc_tensor *v = nnc_node_value(y);
    nnc_node *t = nnc_input(g, "t", NNC_F32, v->ndim - 1, v->shape + 1);
    nnc_graph_output(g, y);
    nnc_graph_loss(g, nnc_mse(g, y, t, NNC_SUM), 1.0f);
    return t;
}
/* After forward: picks t so that the gradient reaching y is dy. */
static void set_dy(nnc_node *y, nnc_node *t, const float *dy) {
    float *yv = val(y), *tv = val(t);
    for (int64_t i = 0; i < numel(y); i++) tv[i] = yv[i] - 0.5f * dy[i];
}
static void check_shape(nnc_node *n, int ndim, const int64_t *shape) {
    nnc_tensor *v = nnc_node_value(n);
    int ok = v->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = v->shape[i] == shape[i];
    char b[64];
    T_CHECKF(ok, "shape %s, want %d dims starting [%lld, ...]", nnc_shape_str(v, b, sizeof b), ndim, (long long)shape[0]);
}
static void set_ids64(nnc_node *n, const int64_t *v, int64_t c) { memcpy(nnc_node_value(n)->data, v, (size_t)c * sizeof *v); }
static void set_ids32(nnc_node *n, const int32_t *v, int64_t c) { memcpy(nnc_node_value(n)->data, v, (size_t)c * sizeof *v); }

/* ------------------------------------------------------------- embedding */

/* W[4,3] = 0..11 (row r = 3r, 3r+1, 3r+2); ids [2,3]; dy = 1..18. */
static void embedding_case(int64_t padding_idx, int use_i32) {
    nnc_graph *g = nnc_graph_new();
    nnc_node *ids = nnc_input(g, "ids", use_i32 ? NNC_I32 : NNC_I64, 1, (int64_t[]){3});
    nnc_node *w = zeros_param(g, "w", 2, (int64_t[]){4, 3});
    nnc_node *y = nnc_embedding(g, ids, w, padding_idx);
    nnc_node *t = with_loss(g, y);
    T_OK(nnc_graph_status(g));
    T_OK(nnc_graph_compile(g, 2, 1));
    if (nnc_graph_status(g)) { nnc_graph_free(g); return; }
    const int64_t id64[6] = {1, 0, 3, 3, 3, 2};
    const int32_t id32[6] = {1, 0, 3, 3, 3, 2};
    if (use_i32) set_ids32(ids, id32, 6);
    else set_ids64(ids, id64, 6);
    iota(val(w), 12, 0, 1);
    T_OK(nnc_graph_forward(g));
    check_shape(y, 3, (int64_t[]){2, 3, 3});
    const float want[18] = {3, 4, 5, 0, 1, 2, 9, 10, 11, 9, 10, 11, 9, 10, 11, 6, 7, 8};
    t_close("y", val(y), want, 18, 0, 0);
    float dy[18];
    iota(dy, 18, 1, 1);
    set_dy(y, t, dy);
    T_OK(nnc_graph_backward(g));
    /* row 0 <- position 1 (dy 4..6); row 1 <- position 0 (1..3); row 2 <- position 5 (16..18);
     * row 3 <- positions 2, 3, 4 (7..9 + 10..12 + 13..15), or nothing when it is padding */
    float dw[12] = {4, 5, 6, 1, 2, 3, 16, 17, 18, 30, 33, 36};
    if (padding_idx == 3) dw[9] = dw[10] = dw[11] = 0;
    t_close("dW", grad(w), dw, 12, 0, 1e-4);
    nnc_graph_free(g);
}

static void test_embedding(void) {
    T_CASE("embedding: rows looked up, repeated ids scatter-add into dW (i64 ids)") { embedding_case(-1, 0); }
    T_CASE("embedding: i32 ids, padding_idx 3 gets no gradient but is still looked up") { embedding_case(3, 1); }
    T_CASE("embedding: an id out of range stops the run naming node, position and value") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *ids = nnc_input(g, "ids", NNC_I64, 1, (int64_t[]){2});
        nnc_node *y = nnc_embedding_layer(g, ids, "emb", 5, 2);
        nnc_graph_output(g, y);
        T_OK(nnc_graph_compile(g, 2, 0));
        if (!nnc_graph_status(g)) {
            set_ids64(ids, (const int64_t[]){0, 4, 1, 7}, 4);
            T_CHECK(nnc_graph_forward(g) == NNC_ERR_ARG);
            const char *m = nnc_last_error();
            T_CHECKF(strstr(m, "'emb'") && strstr(m, "id 7") && strstr(m, "position 3") && strstr(m, "sample 1"), "message: %s", m);
            set_ids64(ids, (const int64_t[]){0, -1, 1, 2}, 4);
            T_CHECK(nnc_graph_forward(g) == NNC_ERR_ARG);
            T_CHECKF(strstr(nnc_last_error(), "id -1"), "message: %s", nnc_last_error());
            set_ids64(ids, (const int64_t[]){0, 4, 1, 2}, 4);
            T_OK(nnc_graph_forward(g));
        }
        nnc_graph_free(g);
    }
    T_CASE("embedding layer: '<name>.weight' [V, E] drawn from N(0, 1)") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *ids = nnc_input(g, "ids", NNC_I32, 1, (int64_t[]){4});
        nnc_scope_push(g, "enc");
        nnc_node *y = nnc_embedding_layer(g, ids, "tok", 100, 50);
        nnc_scope_pop(g);
        nnc_graph_output(g, y);
        T_OK(nnc_graph_compile(g, 1, 0));
        nnc_node *w = nnc_graph_find(g, "enc.tok.weight");
        T_CHECK(w != NULL);
        if (w) {
            check_shape(w, 2, (int64_t[]){100, 50});
            double s = 0, s2 = 0;
            for (int i = 0; i < 5000; i++) { s += val(w)[i]; s2 += (double)val(w)[i] * val(w)[i]; }
            double mean = s / 5000, sd = sqrt(s2 / 5000 - mean * mean);
            T_CHECKF(fabs(mean) < 0.05 && fabs(sd - 1) < 0.05, "mean %g std %g", mean, sd);
        }
        nnc_graph_free(g);
    }
    T_CASE("embedding: bad padding_idx, float ids or a 1-D weight are refused at build time") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *ids = nnc_input(g, "ids", NNC_I64, 1, (int64_t[]){2});
        nnc_node *w = zeros_param(g, "w", 2, (int64_t[]){4, 3});
        T_CHECK(nnc_embedding(g, ids, w, 4) == NULL && nnc_graph_status(g) == NNC_ERR_ARG);
        T_CHECKF(strstr(nnc_graph_error(g), "padding_idx 4"), "message: %s", nnc_graph_error(g));
        nnc_graph_free(g);
        g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){2});
        w = zeros_param(g, "w", 2, (int64_t[]){4, 3});
        T_CHECK(nnc_embedding(g, x, w, -1) == NULL && nnc_graph_status(g) == NNC_ERR_SHAPE);
        nnc_graph_free(g);
        g = nnc_graph_new();
        ids = nnc_input(g, "ids", NNC_I64, 1, (int64_t[]){2});
        w = zeros_param(g, "w", 1, (int64_t[]){4});
        T_CHECK(nnc_embedding(g, ids, w, -1) == NULL && nnc_graph_status(g) == NNC_ERR_SHAPE);
        nnc_graph_free(g);
    }
}

/* --------------------------------------------------------------- one_hot */

static void test_one_hot(void) {
    T_CASE("one_hot: [N, T] ids -> [N, T, C] f32") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *ids = nnc_input(g, "ids", NNC_I32, 1, (int64_t[]){2});
        nnc_node *y = nnc_one_hot(g, ids, 3);
        nnc_graph_output(g, y);
        T_OK(nnc_graph_compile(g, 2, 1));
        if (!nnc_graph_status(g)) {
            set_ids32(ids, (const int32_t[]){0, 2, 1, 2}, 4);
            T_OK(nnc_graph_forward(g));
            check_shape(y, 3, (int64_t[]){2, 2, 3});
            t_close("y", val(y), (const float[]){1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1}, 12, 0, 0);
            set_ids32(ids, (const int32_t[]){0, 2, 3, 2}, 4);
            T_CHECK(nnc_graph_forward(g) == NNC_ERR_ARG);
            T_CHECKF(strstr(nnc_last_error(), "one_hot") && strstr(nnc_last_error(), "position 2"), "message: %s", nnc_last_error());
        }
        nnc_graph_free(g);
        g = nnc_graph_new();
        ids = nnc_input(g, "ids", NNC_I32, 1, (int64_t[]){2});
        T_CHECK(nnc_one_hot(g, ids, 0) == NULL && nnc_graph_status(g) == NNC_ERR_ARG);
        nnc_graph_free(g);
    }
}

/* ----------------------------------------------------------------- slice */

static void test_slice(void) {
    T_CASE("slice: steps 1..2 of [1, 3, 4]; backward zero outside the range") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){3, 4});
        nnc_input_requires_grad(x);
        nnc_node *y = nnc_slice(g, x, 1, 1, 2);
        nnc_node *t = with_loss(g, y);
        T_OK(nnc_graph_compile(g, 1, 1));
        if (!nnc_graph_status(g)) {
            iota(val(x), 12, 0, 1);
            T_OK(nnc_graph_forward(g));
            check_shape(y, 3, (int64_t[]){1, 2, 4});
            t_close("y", val(y), (const float[]){4, 5, 6, 7, 8, 9, 10, 11}, 8, 0, 0);
            float dy[8];
            iota(dy, 8, 1, 1);
            set_dy(y, t, dy);
            T_OK(nnc_graph_backward(g));
            t_close("dx", grad(x), (const float[]){0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}, 12, 0, 1e-5);
        }
        nnc_graph_free(g);
    }
    T_CASE("slice: last axis (-1) and two overlapping slices of one input accumulate") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){2, 3});
        nnc_input_requires_grad(x);
        nnc_node *a = nnc_slice(g, x, -1, 0, 2), *b = nnc_slice(g, x, 2, 1, 2);
        nnc_node *y = nnc_add(g, a, b); /* y[t] = x[t, 0] + x[t, 1], x[t, 1] + x[t, 2] */
        nnc_node *t = with_loss(g, y);
        T_OK(nnc_graph_compile(g, 1, 1));
        if (!nnc_graph_status(g)) {
            iota(val(x), 6, 0, 1);
            T_OK(nnc_graph_forward(g));
            t_close("y", val(y), (const float[]){1, 3, 7, 9}, 4, 0, 0);
            set_dy(y, t, (const float[]){1, 10, 100, 1000});
            T_OK(nnc_graph_backward(g));
            t_close("dx", grad(x), (const float[]){1, 11, 10, 100, 1100, 1000}, 6, 1e-5, 1e-3);
        }
        nnc_graph_free(g);
    }
    T_CASE("slice: ranges and axes outside the tensor are refused at build time") {
        const struct { int axis; int64_t start, len; } bad[] = {{1, 2, 2}, {1, -1, 1}, {1, 0, 0}, {0, 0, 1}, {3, 0, 1}, {-3, 0, 1}};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            nnc_graph *g = nnc_graph_new();
            nnc_node *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){3, 4});
            T_CHECKF(nnc_slice(g, x, bad[i].axis, bad[i].start, bad[i].len) == NULL && nnc_graph_status(g) == NNC_ERR_ARG,
                     "axis %d start %lld length %lld accepted", bad[i].axis, (long long)bad[i].start, (long long)bad[i].len);
            T_CHECKF(strstr(nnc_graph_error(g), "slice"), "message: %s", nnc_graph_error(g));
            nnc_graph_free(g);
        }
    }
}

/* ---------------------------------------------------------------- concat */

static void test_concat(void) {
    T_CASE("concat along the last axis: [N,T,2] ++ [N,T,1] -> [N,T,3], backward splits dy") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *a = nnc_input(g, "a", NNC_F32, 2, (int64_t[]){2, 2});
        nnc_node *b = nnc_input(g, "b", NNC_F32, 2, (int64_t[]){2, 1});
        nnc_input_requires_grad(a);
        nnc_input_requires_grad(b);
        nnc_node *y = nnc_concat_axis(g, 2, (nnc_node *[]){a, b}, 2);
        nnc_node *t = with_loss(g, y);
        T_OK(nnc_graph_compile(g, 2, 1));
        if (!nnc_graph_status(g)) {
            iota(val(a), 8, 0, 1);     /* a[n, t] = (4n + 2t, 4n + 2t + 1) */
            iota(val(b), 4, 100, 1);   /* b[n, t] = 100 + 2n + t */
            T_OK(nnc_graph_forward(g));
            check_shape(y, 3, (int64_t[]){2, 2, 3});
            t_close("y", val(y), (const float[]){0, 1, 100, 2, 3, 101, 4, 5, 102, 6, 7, 103}, 12, 0, 0);
            float dy[12];
            iota(dy, 12, 1, 1);
            set_dy(y, t, dy);
            T_OK(nnc_graph_backward(g));
            t_close("da", grad(a), (const float[]){1, 2, 4, 5, 7, 8, 10, 11}, 8, 1e-5, 1e-4);
            t_close("db", grad(b), (const float[]){3, 6, 9, 12}, 4, 1e-5, 1e-4);
        }
        nnc_graph_free(g);
    }
    T_CASE("concat: nnc_concat is axis 1; mismatched dims and the batch axis are refused") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *a = nnc_input(g, "a", NNC_F32, 2, (int64_t[]){2, 3});
        nnc_node *b = nnc_input(g, "b", NNC_F32, 2, (int64_t[]){1, 3});
        nnc_node *y = nnc_concat(g, 2, (nnc_node *[]){a, b});
        T_CHECK(y != NULL);
        if (y) check_shape(y, 3, (int64_t[]){1, 3, 3});
        T_CHECK(nnc_concat_axis(g, 2, (nnc_node *[]){a, b}, 2) == NULL && nnc_graph_status(g) == NNC_ERR_SHAPE);
        T_CHECKF(strstr(nnc_graph_error(g), "outside axis 2"), "message: %s", nnc_graph_error(g));
        nnc_graph_free(g);
        g = nnc_graph_new();
        a = nnc_input(g, "a", NNC_F32, 2, (int64_t[]){2, 3});
        T_CHECK(nnc_concat_axis(g, 2, (nnc_node *[]){a, a}, 0) == NULL && nnc_graph_status(g) == NNC_ERR_ARG);
        nnc_graph_free(g);
    }
}

/* -------------------------------------------------------------- seq_pool */

/* x [2, 3, 2]: sample 0 steps (1,-1) (3,5) (2,5); sample 1 steps (0,4) (-2,1) (6,4);
 * lengths {2, 3}. dy = (1, 2), (3, 4). */
static const float sp_x[12] = {1, -1, 3, 5, 2, 5, 0, 4, -2, 1, 6, 4};
static void seq_pool_case(nnc_seq_pool_mode mode, int with_lengths, const float *want_y, const float *want_dx) {
    nnc_graph *g = nnc_graph_new();
    nnc_node *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){3, 2});
    nnc_node *len = with_lengths ? nnc_input(g, "len", NNC_I32, 0, NULL) : NULL;
    nnc_input_requires_grad(x);
    nnc_node *y = nnc_seq_pool(g, x, len, mode);
    nnc_node *t = with_loss(g, y);
    T_OK(nnc_graph_compile(g, 2, 1));
    if (!nnc_graph_status(g)) {
        memcpy(val(x), sp_x, sizeof sp_x);
        if (len) set_ids32(len, (const int32_t[]){2, 3}, 2);
        T_OK(nnc_graph_forward(g));
        check_shape(y, 2, (int64_t[]){2, 2});
        t_close("y", val(y), want_y, 4, 1e-6, 1e-6);
        set_dy(y, t, (const float[]){1, 2, 3, 4});
        T_OK(nnc_graph_backward(g));
        t_close("dx", grad(x), want_dx, 12, 1e-5, 1e-5);
    }
    nnc_graph_free(g);
}

static void test_seq_pool(void) {
    T_CASE("seq_pool last with lengths {2, 3}") {
        seq_pool_case(NNC_SEQ_LAST, 1, (const float[]){3, 5, 6, 4}, (const float[]){0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 3, 4});
    }
    T_CASE("seq_pool last without lengths is step T-1") {
        seq_pool_case(NNC_SEQ_LAST, 0, (const float[]){2, 5, 6, 4}, (const float[]){0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 3, 4});
    }
    T_CASE("seq_pool first") {
        seq_pool_case(NNC_SEQ_FIRST, 1, (const float[]){1, -1, 0, 4}, (const float[]){1, 2, 0, 0, 0, 0, 3, 4, 0, 0, 0, 0});
    }
    T_CASE("seq_pool mean over the first len steps") {
        seq_pool_case(NNC_SEQ_MEAN, 1, (const float[]){2, 2, 4.0f / 3, 3},
                      (const float[]){0.5f, 1, 0.5f, 1, 0, 0, 1, 4.0f / 3, 1, 4.0f / 3, 1, 4.0f / 3});
    }
    T_CASE("seq_pool max: steps past the length ignored, ties go to the first step") {
        /* sample 0 feature 1: 5 at steps 1 and 2, but step 2 is past length 2;
         * sample 1 feature 1: 4 at steps 0 and 2 (a tie): step 0 wins */
        seq_pool_case(NNC_SEQ_MAX, 1, (const float[]){3, 5, 6, 4}, (const float[]){0, 0, 1, 2, 0, 0, 0, 4, 0, 0, 3, 0});
        /* without lengths, sample 0 feature 1 ties at steps 1 and 2: step 1 */
        seq_pool_case(NNC_SEQ_MAX, 0, (const float[]){3, 5, 6, 4}, (const float[]){0, 0, 1, 2, 0, 0, 0, 4, 0, 0, 3, 0});
    }
    T_CASE("seq_pool: lengths outside [1, T] stop the run; bad shapes are refused at build time") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){3, 2});
        nnc_node *len = nnc_input(g, "len", NNC_I32, 0, NULL);
        nnc_node *y = nnc_seq_pool(g, x, len, NNC_SEQ_MEAN);
        nnc_node_set_name(y, "pool");
        nnc_graph_output(g, y);
        T_OK(nnc_graph_compile(g, 2, 0));
        if (!nnc_graph_status(g)) {
            memcpy(val(x), sp_x, sizeof sp_x);
            set_ids32(len, (const int32_t[]){3, 0}, 2);
            T_CHECK(nnc_graph_forward(g) == NNC_ERR_ARG);
            T_CHECKF(strstr(nnc_last_error(), "'pool'") && strstr(nnc_last_error(), "length 0 of sequence 1"), "message: %s", nnc_last_error());
            set_ids32(len, (const int32_t[]){4, 1}, 2);
            T_CHECK(nnc_graph_forward(g) == NNC_ERR_ARG);
            set_ids32(len, (const int32_t[]){3, 1}, 2);
            T_OK(nnc_graph_forward(g));
            t_close("y", val(y), (const float[]){2, 3, 0, 4}, 4, 1e-6, 1e-6);
        }
        nnc_graph_free(g);
        g = nnc_graph_new();
        x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){3, 2});
        len = nnc_input(g, "len", NNC_I32, 1, (int64_t[]){3});
        T_CHECK(nnc_seq_pool(g, x, len, NNC_SEQ_LAST) == NULL && nnc_graph_status(g) == NNC_ERR_SHAPE);
        nnc_graph_free(g);
        g = nnc_graph_new();
        x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){3});
        T_CHECK(nnc_seq_pool(g, x, NULL, NNC_SEQ_LAST) == NULL && nnc_graph_status(g) == NNC_ERR_SHAPE);
        T_CHECK(nnc_seq_pool(g, x, NULL, (nnc_seq_pool_mode)7) == NULL);
        nnc_graph_free(g);
    }
}

/* ------------------------------------------------------------ linear_seq */

static void test_linear_seq(void) {
    T_CASE("linear_seq: [1, 2, 3] x W[2, 3]^T + b -> [1, 2, 2]; dW sums over steps") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){2, 3});
        nnc_input_requires_grad(x);
        nnc_node *w = zeros_param(g, "w", 2, (int64_t[]){2, 3});
        nnc_node *b = zeros_param(g, "b", 1, (int64_t[]){2});
        nnc_node *y = nnc_linear_seq(g, x, w, b);
        nnc_node *t = with_loss(g, y);
        T_OK(nnc_graph_compile(g, 1, 1));
        if (!nnc_graph_status(g)) {
            memcpy(val(x), (const float[]){1, 2, 3, 4, 5, 6}, 6 * sizeof(float));
            memcpy(val(w), (const float[]){1, 0, -1, 0.5f, 1, 2}, 6 * sizeof(float));
            memcpy(val(b), (const float[]){10, 20}, 2 * sizeof(float));
            T_OK(nnc_graph_forward(g));
            check_shape(y, 3, (int64_t[]){1, 2, 2});
            /* step 0: (1-3)+10, (0.5+2+6)+20; step 1: (4-6)+10, (2+5+12)+20 */
            t_close("y", val(y), (const float[]){8, 28.5f, 8, 39}, 4, 1e-6, 1e-5);
            set_dy(y, t, (const float[]){1, 2, 3, 4});
            T_OK(nnc_graph_backward(g));
            /* dx[t] = dy[t] W; dW = sum_t dy[t]^T x[t]; db = sum_t dy[t] */
            t_close("dx", grad(x), (const float[]){2, 2, 3, 5, 4, 5}, 6, 1e-4, 1e-3);
            t_close("dW", grad(w), (const float[]){13, 17, 21, 18, 24, 30}, 6, 1e-4, 1e-3);
            t_close("db", grad(b), (const float[]){4, 6}, 2, 1e-4, 1e-3);
        }
        nnc_graph_free(g);
    }
    T_CASE("linear_seq_layer: parameters [out, last dim]; plain linear still flattens") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *x = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){5, 3});
        nnc_node *y = nnc_linear_seq_layer(g, x, "proj", 4, 1);
        nnc_node *z = nnc_linear_layer(g, x, "fc", 4, 0);
        nnc_graph_output(g, y);
        nnc_graph_output(g, z);
        T_OK(nnc_graph_compile(g, 2, 0));
        nnc_node *w = nnc_graph_find(g, "proj.weight"), *b = nnc_graph_find(g, "proj.bias"), *fw = nnc_graph_find(g, "fc.weight");
        T_CHECK(w && b && fw);
        if (w && b && fw) {
            check_shape(w, 2, (int64_t[]){4, 3});
            check_shape(b, 1, (int64_t[]){4});
            check_shape(fw, 2, (int64_t[]){4, 15});
            check_shape(y, 3, (int64_t[]){2, 5, 4});
            check_shape(z, 2, (int64_t[]){2, 4});
            float bound = 1.0f / sqrtf(3.0f), mx = 0;
            for (int i = 0; i < 12; i++) mx = fmaxf(mx, fabsf(val(w)[i]));
            T_CHECKF(mx <= bound && mx > 0, "max |w| %g, bound %g", mx, bound);
        }
        nnc_graph_free(g);
    }
}

/* -------------------------------------------------------- cross-entropy */

static double lse3(const float *x) { return log(exp(x[0]) + exp(x[1]) + exp(x[2])); }

static void test_cross_entropy_seq(void) {
    /* logits [1, 3 steps, 3 classes], labels {2, -100, 0} */
    const float x[9] = {1, 2, 3, 0, 0, 0, 2, -1, 0.5f};
    double l0 = lse3(x) - 3, l2 = lse3(x + 6) - 2;
    T_CASE("cross_entropy_seq over [N, T, C]: ignored steps drop out of the loss, the mean and the gradient") {
        for (int r = 0; r < 2; r++) {
            nnc_graph *g = nnc_graph_new();
            nnc_node *xn = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){3, 3});
            nnc_node *yn = nnc_input(g, "y", NNC_I64, 1, (int64_t[]){3});
            nnc_input_requires_grad(xn);
            nnc_node *l = nnc_cross_entropy_seq(g, xn, yn, r ? NNC_SUM : NNC_MEAN, -100);
            nnc_graph_loss(g, l, 1.0f);
            T_OK(nnc_graph_compile(g, 1, 1));
            if (nnc_graph_status(g)) { nnc_graph_free(g); continue; }
            memcpy(val(xn), x, sizeof x);
            set_ids64(yn, (const int64_t[]){2, -100, 0}, 3);
            T_OK(nnc_graph_forward(g));
            double want = r ? l0 + l2 : (l0 + l2) / 2, sc = r ? 1 : 0.5;
            T_CHECKF(fabs(val(l)[0] - want) < 1e-5, "loss %g, want %g", val(l)[0], want);
            T_OK(nnc_graph_backward(g));
            float dx[9] = {0};
            for (int c = 0; c < 3; c++) {
                dx[c] = (float)((exp(x[c] - lse3(x)) - (c == 2)) * sc);
                dx[6 + c] = (float)((exp(x[6 + c] - lse3(x + 6)) - (c == 0)) * sc);
            }
            t_close("dx", grad(xn), dx, 9, 1e-4, 1e-6);
            /* every label ignored: loss 0 and a zero gradient, not NaN */
            set_ids64(yn, (const int64_t[]){-100, -100, -100}, 3);
            T_OK(nnc_graph_forward(g));
            T_CHECKF(val(l)[0] == 0, "loss %g", val(l)[0]);
            T_OK(nnc_graph_backward(g));
            const float z[9] = {0};
            t_close("dx (all ignored)", grad(xn), z, 9, 0, 0);
            nnc_graph_free(g);
        }
    }
    T_CASE("cross_entropy_seq on [N, C] with ignore index; plain cross_entropy unchanged") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *xn = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){3});
        nnc_node *yn = nnc_input(g, "y", NNC_I32, 0, NULL);
        nnc_node *a = nnc_cross_entropy_seq(g, xn, yn, NNC_MEAN, 1);
        nnc_node *b = nnc_cross_entropy(g, xn, yn, NNC_MEAN);
        nnc_graph_output(g, a);
        nnc_graph_output(g, b);
        T_OK(nnc_graph_compile(g, 3, 0));
        if (!nnc_graph_status(g)) {
            memcpy(val(xn), x, sizeof x);
            set_ids32(yn, (const int32_t[]){2, 1, 0}, 3); /* sample 1 has the ignored class 1 */
            T_OK(nnc_graph_forward(g));
            T_CHECKF(fabs(val(a)[0] - (l0 + l2) / 2) < 1e-5, "ignore 1: loss %g, want %g", val(a)[0], (l0 + l2) / 2);
            double all = (l0 + (lse3(x + 3) - 0) + l2) / 3;
            T_CHECKF(fabs(val(b)[0] - all) < 1e-5, "plain: loss %g, want %g", val(b)[0], all);
        }
        nnc_graph_free(g);
    }
    T_CASE("cross_entropy_seq: a label out of range names the sample and step; shapes checked") {
        nnc_graph *g = nnc_graph_new();
        nnc_node *xn = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){3, 3});
        nnc_node *yn = nnc_input(g, "y", NNC_I64, 1, (int64_t[]){3});
        nnc_node *l = nnc_cross_entropy_seq(g, xn, yn, NNC_MEAN, -100);
        nnc_graph_loss(g, l, 1.0f);
        T_OK(nnc_graph_compile(g, 2, 0));
        if (!nnc_graph_status(g)) {
            memset(val(xn), 0, 18 * sizeof(float));
            set_ids64(yn, (const int64_t[]){0, 1, 2, 0, 3, -100}, 6);
            T_CHECK(nnc_graph_forward(g) == NNC_ERR_ARG);
            T_CHECKF(strstr(nnc_last_error(), "label 3 of sample 1, step 1"), "message: %s", nnc_last_error());
        }
        nnc_graph_free(g);
        g = nnc_graph_new();
        xn = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){3, 3});
        yn = nnc_input(g, "y", NNC_I64, 1, (int64_t[]){4});
        T_CHECK(nnc_cross_entropy_seq(g, xn, yn, NNC_MEAN, -100) == NULL && nnc_graph_status(g) == NNC_ERR_SHAPE);
        nnc_graph_free(g);
        g = nnc_graph_new();
        xn = nnc_input(g, "x", NNC_F32, 2, (int64_t[]){3, 3});
        yn = nnc_input(g, "y", NNC_I64, 1, (int64_t[]){3});
        T_CHECK(nnc_multi_margin_loss(g, xn, yn, NNC_MEAN, 1, 0) == NULL && nnc_graph_status(g) == NNC_ERR_SHAPE);
        T_CHECKF(strstr(nnc_graph_error(g), "cross_entropy only"), "message: %s", nnc_graph_error(g));
        nnc_graph_free(g);
    }
}

/* ------------------------------------------------------- a tiny tagger */

static void test_tagger(void) {
    T_CASE("embedding -> linear_seq -> cross_entropy_seq learns tag = token % 3") {
        nnc_graph *g = nnc_graph_new();
        nnc_graph_set_seed(g, 3);
        nnc_node *ids = nnc_input(g, "ids", NNC_I32, 1, (int64_t[]){5});
        nnc_node *tags = nnc_input(g, "tags", NNC_I32, 1, (int64_t[]){5});
        nnc_node *h = nnc_embedding_layer(g, ids, "emb", 9, 8);
        nnc_node *logits = nnc_linear_seq_layer(g, nnc_tanh(g, h), "out", 3, 1);
        nnc_node *loss = nnc_cross_entropy_seq(g, logits, tags, NNC_MEAN, -100);
        nnc_graph_loss(g, loss, 1.0f);
        nnc_optim o = nnc_optim_sgd(0.5f, 0.9f, 0);
        T_OK(nnc_graph_set_optimizer(g, &o));
        T_OK(nnc_graph_compile(g, 4, 1));
        if (!nnc_graph_status(g)) {
            int32_t *iv = nnc_node_value(ids)->data, *tv = nnc_node_value(tags)->data;
            for (int i = 0; i < 20; i++) {
                iv[i] = (i * 7) % 9;
                tv[i] = i % 5 == 4 ? -100 : iv[i] % 3; /* every 5th step unlabelled */
            }
            float first = 0, last = 0;
            for (int s = 0; s < 60; s++) {
                T_OK(nnc_graph_train_step(g, &last));
                if (s == 0) first = last;
            }
            T_CHECKF(last < 0.1f * first && last < 0.05f, "loss %g -> %g", first, last);
        }
        nnc_graph_free(g);
    }
}

/* ------------------------------------------------- PyTorch references */

static void ref_compare(const char *what, const nnc_tensor *got, const nnc_tensor *want) {
    if (!want) { T_CHECKF(0, "reference lacks %s", what); return; }
    if (!got || !got->data) { T_CHECKF(0, "%s: nnc has no data", what); return; }
    T_CHECKF(nnc_tensor_numel(got) == nnc_tensor_numel(want), "%s: %lld elements, reference %lld", what,
             (long long)nnc_tensor_numel(got), (long long)nnc_tensor_numel(want));
    if (nnc_tensor_numel(got) == nnc_tensor_numel(want)) t_close(what, got->data, want->data, nnc_tensor_numel(want), 1e-4, 1e-5);
}
static void ref_copy(nnc_node *n, const nnc_tensor *t) {
    nnc_tensor *v = nnc_node_value(n);
    T_CHECKF(t && nnc_tensor_bytes(v) == nnc_tensor_bytes(t), "value size mismatch");
    if (t && nnc_tensor_bytes(v) == nnc_tensor_bytes(t)) memcpy(v->data, t->data, nnc_tensor_bytes(t));
}
static nnc_node *ref_input(nnc_graph *g, const nnc_tensor *t, const char *name) {
    return nnc_input(g, name, t->dtype, t->ndim - 1, t->shape + 1);
}
static nnc_node *ref_param(nnc_graph *g, const nnc_tensor *t, const char *name) {
    return t ? nnc_param(g, name, t->ndim, t->shape, (nnc_init){NNC_INIT_ZEROS, 0, 0}) : NULL;
}

static void ref_case(const char *name) {
    char rel[160];
    snprintf(rel, sizeof rel, "ref/seq_%s.safetensors", name);
    nnc_safetensors *f = NULL;
    nnc_status s = nnc_safetensors_open(t_path(rel), &f);
    T_CHECKF(s == NNC_OK, "open %s: %s", rel, nnc_last_error());
    if (s) return;
    const char *builder = nnc_safetensors_meta(f, "builder"), *red = nnc_safetensors_meta(f, "reduction");
    const char *pad = nnc_safetensors_meta(f, "padding_idx"), *ign = nnc_safetensors_meta(f, "ignore_index");
    const nnc_tensor *ids_t = nnc_safetensors_get(f, "ids"), *x_t = nnc_safetensors_get(f, "x"), *w_t = nnc_safetensors_get(f, "w");
    const nnc_tensor *b_t = nnc_safetensors_get(f, "b"), *lab_t = nnc_safetensors_get(f, "labels");
    const nnc_tensor *y_t = nnc_safetensors_get(f, "y"), *dy_t = nnc_safetensors_get(f, "dy");
    nnc_graph *g = nnc_graph_new();
    nnc_node *x = NULL, *w = NULL, *b = NULL, *lab = NULL, *y = NULL;
    int is_loss = 0;
    if (!builder || !y_t || !dy_t) T_CHECKF(0, "reference lacks builder, y or dy");
    else if (!strcmp(builder, "embedding") && ids_t && pad) {
        x = ref_input(g, ids_t, "ids");
        w = ref_param(g, w_t, "w");
        y = nnc_embedding(g, x, w, strtoll(pad, NULL, 10));
    } else if (!strcmp(builder, "cross_entropy_seq") && x_t && lab_t && ign && red) {
        x = ref_input(g, x_t, "x");
        nnc_input_requires_grad(x);
        lab = ref_input(g, lab_t, "labels");
        y = nnc_cross_entropy_seq(g, x, lab, strcmp(red, "sum") ? NNC_MEAN : NNC_SUM, strtoll(ign, NULL, 10));
        is_loss = 1;
    } else if (!strcmp(builder, "linear_seq") && x_t) {
        x = ref_input(g, x_t, "x");
        nnc_input_requires_grad(x);
        w = ref_param(g, w_t, "w");
        b = ref_param(g, b_t, "b");
        y = nnc_linear_seq(g, x, w, b);
    } else T_CHECKF(0, "unknown builder or missing tensors in %s", rel);
    s = nnc_graph_status(g);
    T_CHECKF(!s, "build: %s", nnc_graph_error(g));
    if (s || !y) goto out;
    nnc_graph_output(g, y);
    if (is_loss) nnc_graph_loss(g, y, ((const float *)dy_t->data)[0]);
    else g->seed_outputs = 1;
    s = nnc_graph_compile(g, (ids_t ? ids_t : x_t)->shape[0], 1);
    T_CHECKF(!s, "compile: %s", nnc_last_error());
    if (s) goto out;
    ref_copy(x, ids_t ? ids_t : x_t);
    if (lab) ref_copy(lab, lab_t);
    if (w) ref_copy(w, w_t);
    if (b) ref_copy(b, b_t);
    s = nnc_graph_forward(g);
    T_CHECKF(!s, "forward: %s", nnc_last_error());
    if (s) goto out;
    ref_compare("y", nnc_node_value(y), y_t);
    if (!is_loss) y->seed = dy_t->data;
    s = nnc_graph_backward(g);
    T_CHECKF(!s, "backward: %s", nnc_last_error());
    if (s) goto out;
    if (x_t) ref_compare("dx", nnc_node_grad(x), nnc_safetensors_get(f, "dx"));
    if (w) ref_compare("dw", nnc_node_grad(w), nnc_safetensors_get(f, "dw"));
    if (b) ref_compare("db", nnc_node_grad(b), nnc_safetensors_get(f, "db"));
out:
    if (y) y->seed = NULL;
    nnc_graph_free(g);
    nnc_safetensors_close(f);
}

static void test_refs(void) {
    static const char *const cases[] = {"embedding", "embedding_padding2", "cross_entropy_seq_mean", "cross_entropy_seq_sum",
                                        "cross_entropy_seq_ignore_class1_mean", "cross_entropy_2d_ignore_mean", "linear_seq"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[160];
        snprintf(name, sizeof name, "PyTorch reference seq_%s", cases[i]);
        T_CASE(name) ref_case(cases[i]);
    }
}

int main(void) {
    test_embedding();
    test_one_hot();
    test_slice();
    test_concat();
    test_seq_pool();
    test_linear_seq();
    test_cross_entropy_seq();
    test_tagger();
    test_refs();
    return t_finish();
}
