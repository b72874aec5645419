/* test_torch_ref.c -- nnc's ops against PyTorch 1.13.
 *
 * Each case reads tests/ref/<case>.safetensors, written by tools/gen_refs.py
 * (PyTorch computes in float64 from float32 inputs; expected values rounded
 * to float32), builds the same op with the public API, copies the file's
 * inputs, parameters and state into the compiled graph, runs forward and
 * compares y, then runs backward seeded with the file's upstream gradient dy
 * and compares the gradient of every input and parameter (and the updated
 * batch-norm running statistics). PyTorch is not needed to run this.
 *
 * Seeding: ops that are not losses have no public "seed an output" call, so
 * the test uses the engine's gradient-checker hook (core/graph.h): with
 * g->seed_outputs set before compiling, backward copies node->seed into the
 * output's gradient. Losses are seeded through nnc_graph_loss with the
 * weight dy.
 *
 * Tolerance: |got - want| <= ATOL + RTOL |want| with RTOL 1e-4, ATOL 1e-5
 * (float32 kernels against float64 references); no case loosens it. */
#include "testlib.h"
#include "core/graph.h"
#include <stdlib.h>
#include <string.h>

#define RTOL 1e-4
#define ATOL 1e-5

/* ------------------------------------------------------------ case state */
#define MAX_BIND 12
typedef struct {
    nnc_node *n;
    char val[32];   /* file tensor copied into the node's value after compile */
    char grad[32];  /* file tensor its gradient is compared with ("" none) */
    char after[32]; /* state: file tensor its value must equal after the step */
} bind;

typedef struct {
    nnc_safetensors *f;
    nnc_graph *g;
    int64_t batch;
    nnc_node *y;      /* the op's output (or the loss) */
    int is_loss;
    int training;     /* compile mode; eval cases check forward only */
    bind b[MAX_BIND];
    int n_bind;
    int bad;          /* a builder problem (missing tensor, bad metadata) */
} ref_ctx;

static const nnc_tensor *tensor(ref_ctx *c, const char *name) {
    const nnc_tensor *t = nnc_safetensors_get(c->f, name);
    if (!t) { T_CHECKF(0, "reference file lacks tensor \"%s\"", name); c->bad = 1; }
    return t;
}

static const char *meta(ref_ctx *c, const char *key) {
    const char *v = nnc_safetensors_meta(c->f, key);
    if (!v) { T_CHECKF(0, "reference file lacks metadata \"%s\"", key); c->bad = 1; }
    return v ? v : "";
}

static int meta_int(ref_ctx *c, const char *key) { return atoi(meta(c, key)); }

/* "h,w" (or one number for both) */
static void meta_pair(ref_ctx *c, const char *key, int out[2]) {
    const char *s = meta(c, key);
    char *end;
    out[0] = (int)strtol(s, &end, 10);
    out[1] = *end == ',' ? (int)strtol(end + 1, NULL, 10) : out[0];
}

static void expect_op(ref_ctx *c, const char *op) {
    const char *m = meta(c, "op");
    if (strcmp(m, op)) { T_CHECKF(0, "file is for op \"%s\", builder for \"%s\"", m, op); c->bad = 1; }
}

static bind *add_bind(ref_ctx *c, nnc_node *n, const char *val, int with_grad) {
    if (!n || c->n_bind == MAX_BIND) { c->bad = 1; return NULL; }
    bind *b = &c->b[c->n_bind++];
    memset(b, 0, sizeof *b);
    b->n = n;
    snprintf(b->val, sizeof b->val, "%s", val);
    if (with_grad) snprintf(b->grad, sizeof b->grad, "d%s", val);
    return b;
}

/* An input shaped like file tensor `name` (its dim 0 is the batch). */
static nnc_node *in(ref_ctx *c, const char *name, int requires_grad) {
    const nnc_tensor *t = tensor(c, name);
    if (!t || t->ndim < 1) { c->bad = 1; return NULL; }
    if (c->batch && t->shape[0] != c->batch) { T_CHECKF(0, "%s: batch %lld != %lld", name, (long long)t->shape[0], (long long)c->batch); c->bad = 1; }
    c->batch = t->shape[0];
    nnc_node *n = nnc_input(c->g, name, t->dtype, t->ndim - 1, t->shape + 1);
    if (n && requires_grad) nnc_input_requires_grad(n);
    add_bind(c, n, name, requires_grad);
    return n;
}

/* A parameter shaped like file tensor `name`; its gradient is "d<name>". */
static nnc_node *param(ref_ctx *c, const char *name) {
    const nnc_tensor *t = tensor(c, name);
    if (!t) return NULL;
    nnc_node *n = nnc_param(c->g, name, t->ndim, t->shape, (nnc_init){NNC_INIT_ZEROS, 0, 0});
    add_bind(c, n, name, 1);
    return n;
}

/* State shaped like file tensor `name`; after a training step it must equal
 * "<name>_out", in eval mode its value before. */
static nnc_node *state(ref_ctx *c, const char *name) {
    const nnc_tensor *t = tensor(c, name);
    if (!t) return NULL;
    nnc_node *n = nnc_state(c->g, name, t->dtype, t->ndim, t->shape, 0.0);
    bind *b = add_bind(c, n, name, 0);
    if (b) snprintf(b->after, sizeof b->after, c->training ? "%s_out" : "%s", name);
    return n;
}

/* ------------------------------------------------------------- builders */
static void b_linear(ref_ctx *c) {
    expect_op(c, "linear");
    nnc_node *x = in(c, "x", 1), *w = param(c, "w");
    nnc_node *b = meta_int(c, "bias") ? param(c, "b") : NULL;
    c->y = nnc_linear(c->g, x, w, b);
}

static void b_conv2d(ref_ctx *c) {
    expect_op(c, "conv2d");
    nnc_conv2d_opts o;
    memset(&o, 0, sizeof o);
    meta_pair(c, "stride", o.stride);
    meta_pair(c, "pad", o.pad);
    meta_pair(c, "dilation", o.dilation);
    o.groups = meta_int(c, "groups");
    nnc_node *x = in(c, "x", 1), *w = param(c, "w");
    nnc_node *b = meta_int(c, "bias") ? param(c, "b") : NULL;
    c->y = nnc_conv2d(c->g, x, w, b, &o);
}

static nnc_pool2d_opts pool_opts(ref_ctx *c) {
    nnc_pool2d_opts o;
    memset(&o, 0, sizeof o);
    meta_pair(c, "kernel", o.kernel);
    meta_pair(c, "stride", o.stride);
    meta_pair(c, "pad", o.pad);
    o.ceil_mode = meta_int(c, "ceil_mode");
    return o;
}

static void b_maxpool2d(ref_ctx *c) {
    expect_op(c, "maxpool2d");
    nnc_pool2d_opts o = pool_opts(c);
    c->y = nnc_maxpool2d(c->g, in(c, "x", 1), &o);
}

static void b_avgpool2d(ref_ctx *c) {
    expect_op(c, "avgpool2d");
    nnc_pool2d_opts o = pool_opts(c);
    o.count_include_pad = meta_int(c, "count_include_pad");
    c->y = nnc_avgpool2d(c->g, in(c, "x", 1), &o);
}

static void b_global_avgpool(ref_ctx *c) {
    expect_op(c, "global_avgpool");
    c->y = nnc_global_avgpool(c->g, in(c, "x", 1));
}

static void b_flatten(ref_ctx *c) {
    expect_op(c, "flatten");
    c->y = nnc_flatten(c->g, in(c, "x", 1));
}

static void b_reshape(ref_ctx *c) {
    expect_op(c, "reshape");
    int64_t shape[NNC_MAX_DIMS];
    int nd = 0;
    const char *s = meta(c, "shape");
    char *end;
    while (nd < NNC_MAX_DIMS) {
        long long v = strtoll(s, &end, 10);
        if (end == s) break;
        shape[nd++] = v;
        if (*end != ',') break;
        s = end + 1;
    }
    c->y = nnc_reshape(c->g, in(c, "x", 1), nd, shape);
}

static void b_add(ref_ctx *c) {
    expect_op(c, "add");
    nnc_node *a = in(c, "x0", 1), *b = in(c, "x1", 1);
    c->y = nnc_add(c->g, a, b);
}

static void b_concat(ref_ctx *c) {
    expect_op(c, "concat");
    int n = meta_int(c, "n");
    nnc_node *xs[8];
    if (n < 1 || n > 8) { c->bad = 1; return; }
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "x%d", i);
        xs[i] = in(c, name, 1);
    }
    c->y = nnc_concat(c->g, n, xs);
}

static void b_relu(ref_ctx *c) { expect_op(c, "relu"); c->y = nnc_relu(c->g, in(c, "x", 1)); }
static void b_sigmoid(ref_ctx *c) { expect_op(c, "sigmoid"); c->y = nnc_sigmoid(c->g, in(c, "x", 1)); }
static void b_tanh(ref_ctx *c) { expect_op(c, "tanh"); c->y = nnc_tanh(c->g, in(c, "x", 1)); }
static void b_softmax(ref_ctx *c) { expect_op(c, "softmax"); c->y = nnc_softmax(c->g, in(c, "x", 1)); }
static void b_log_softmax(ref_ctx *c) { expect_op(c, "log_softmax"); c->y = nnc_log_softmax(c->g, in(c, "x", 1)); }

static void b_batchnorm(ref_ctx *c) {
    expect_op(c, "batchnorm");
    c->training = meta_int(c, "training");
    float eps = strtof(meta(c, "eps"), NULL), momentum = strtof(meta(c, "momentum"), NULL);
    nnc_node *x = in(c, "x", c->training);
    nnc_node *gamma = param(c, "gamma"), *beta = param(c, "beta");
    nnc_node *rm = state(c, "running_mean"), *rv = state(c, "running_var");
    nnc_node *nbt = state(c, "num_batches_tracked");
    c->y = nnc_batchnorm(c->g, x, gamma, beta, rm, rv, nbt, eps, momentum);
}

static nnc_reduction reduction(ref_ctx *c) {
    const char *r = meta(c, "reduction");
    if (!strcmp(r, "sum")) return NNC_SUM;
    if (strcmp(r, "mean")) { T_CHECKF(0, "unknown reduction \"%s\"", r); c->bad = 1; }
    return NNC_MEAN;
}

static void b_cross_entropy(ref_ctx *c) {
    expect_op(c, "cross_entropy");
    nnc_node *x = in(c, "x", 1), *labels = in(c, "labels", 0);
    c->y = nnc_cross_entropy(c->g, x, labels, reduction(c));
    c->is_loss = 1;
}

static void b_mse(ref_ctx *c) {
    expect_op(c, "mse");
    nnc_node *x = in(c, "x", 1), *t = in(c, "target", 1);
    c->y = nnc_mse(c->g, x, t, reduction(c));
    c->is_loss = 1;
}

/* --------------------------------------------------------------- cases */
typedef struct { const char *name; void (*build)(ref_ctx *); } ref_case;
static const ref_case cases[] = {
    {"linear", b_linear},
    {"linear_nobias", b_linear},
    {"linear_4d", b_linear},
    {"conv2d_3x3", b_conv2d},
    {"conv2d_3x3_nobias", b_conv2d},
    {"conv2d_stride2_pad10", b_conv2d},
    {"conv2d_dilation2", b_conv2d},
    {"conv2d_groups2", b_conv2d},
    {"conv2d_depthwise", b_conv2d},
    {"conv2d_lenet5x5", b_conv2d},
    {"conv2d_lenet5x5_nobias", b_conv2d},
    {"maxpool2d_2x2s2", b_maxpool2d},
    {"maxpool2d_3x3s2", b_maxpool2d},
    {"maxpool2d_3x3s1p1", b_maxpool2d},
    {"maxpool2d_2x2s2_ceil", b_maxpool2d},
    {"maxpool2d_3x3s2p1_ceil", b_maxpool2d},
    {"avgpool2d_2x2s2", b_avgpool2d},
    {"avgpool2d_3x3s2p1_cip", b_avgpool2d},
    {"avgpool2d_3x3s2p1_nocip", b_avgpool2d},
    {"avgpool2d_3x3s2p1_ceil_cip", b_avgpool2d},
    {"avgpool2d_3x3s2p1_ceil_nocip", b_avgpool2d},
    {"global_avgpool", b_global_avgpool},
    {"flatten", b_flatten},
    {"reshape", b_reshape},
    {"add", b_add},
    {"concat3", b_concat},
    {"relu", b_relu},
    {"sigmoid", b_sigmoid},
    {"tanh", b_tanh},
    {"softmax_2d", b_softmax},
    {"softmax_4d", b_softmax},
    {"log_softmax_2d", b_log_softmax},
    {"log_softmax_4d", b_log_softmax},
    {"batchnorm1d_train", b_batchnorm},
    {"batchnorm2d_train", b_batchnorm},
    {"batchnorm2d_eval", b_batchnorm},
    {"cross_entropy_mean", b_cross_entropy},
    {"cross_entropy_sum", b_cross_entropy},
    {"mse_mean", b_mse},
    {"mse_sum", b_mse},
};

/* ----------------------------------------------------------- comparing */
static int same_shape(const char *what, const nnc_tensor *got, const nnc_tensor *want) {
    int ok = got->ndim == want->ndim && got->dtype == want->dtype;
    for (int i = 0; ok && i < got->ndim; i++) ok = got->shape[i] == want->shape[i];
    if (!ok) {
        char a[64], b[64];
        T_CHECKF(0, "%s: nnc has %s %s, reference %s %s", what, nnc_dtype_name(got->dtype), nnc_shape_str(got, a, sizeof a),
                 nnc_dtype_name(want->dtype), nnc_shape_str(want, b, sizeof b));
    }
    return ok;
}

static void compare(const char *what, const nnc_tensor *got, const nnc_tensor *want) {
    if (!got->data) { T_CHECKF(0, "%s: nnc has no data (no gradient?)", what); return; }
    if (got->layout != NNC_LAYOUT_PLAIN) { T_CHECKF(0, "%s: not in the plain layout", what); return; }
    if (!same_shape(what, got, want)) return;
    int64_t n = nnc_tensor_numel(want);
    if (want->dtype == NNC_F32) {
        t_close(what, got->data, want->data, n, RTOL, ATOL);
    } else if (want->dtype == NNC_I64) {
        const int64_t *a = got->data, *b = want->data;
        for (int64_t i = 0; i < n; i++)
            T_CHECKF(a[i] == b[i], "%s[%lld]: got %lld want %lld", what, (long long)i, (long long)a[i], (long long)b[i]);
    }
}

static void run_case(const ref_case *rc) {
    char rel[128];
    snprintf(rel, sizeof rel, "ref/%s.safetensors", rc->name);
    ref_ctx c = {0};
    c.training = 1;
    nnc_status s = nnc_safetensors_open(t_path(rel), &c.f);
    T_CHECKF(s == NNC_OK, "open %s: %s", rel, nnc_last_error());
    if (s) return;
    c.g = nnc_graph_new();
    nnc_graph_set_seed(c.g, 1);
    rc->build(&c);
    s = nnc_graph_status(c.g);
    T_CHECKF(s == NNC_OK, "build: %s: %s", nnc_status_name(s), nnc_graph_error(c.g));
    const nnc_tensor *dy = c.training ? tensor(&c, "dy") : NULL;
    const nnc_tensor *y_want = tensor(&c, "y");
    if (s || c.bad || !c.y || !y_want || (c.training && !dy)) goto out;

    if (c.is_loss) {
        nnc_graph_output(c.g, c.y);
        nnc_graph_loss(c.g, c.y, ((const float *)dy->data)[0]);
    } else {
        nnc_graph_output(c.g, c.y);
        c.g->seed_outputs = c.training; /* backward seeds y's gradient with c.y->seed */
    }
    s = nnc_graph_compile(c.g, c.batch, c.training);
    T_CHECKF(s == NNC_OK, "compile: %s: %s", nnc_status_name(s), nnc_last_error());
    if (s) goto out;
    for (int i = 0; i < c.n_bind; i++) {
        const nnc_tensor *v = tensor(&c, c.b[i].val);
        nnc_tensor *t = nnc_node_value(c.b[i].n);
        if (!v || !same_shape(c.b[i].val, t, v)) goto out;
        memcpy(t->data, v->data, nnc_tensor_bytes(v));
    }

    s = nnc_graph_forward(c.g);
    T_CHECKF(s == NNC_OK, "forward: %s: %s", nnc_status_name(s), nnc_last_error());
    if (s) goto out;
    compare("y", nnc_node_value(c.y), y_want);

    if (c.training) {
        if (!c.is_loss) {
            if (!same_shape("dy", nnc_node_value(c.y), dy)) goto out;
            c.y->seed = dy->data;
        }
        s = nnc_graph_backward(c.g);
        T_CHECKF(s == NNC_OK, "backward: %s: %s", nnc_status_name(s), nnc_last_error());
        if (s) goto out;
        for (int i = 0; i < c.n_bind; i++) {
            if (!c.b[i].grad[0]) continue;
            const nnc_tensor *want = tensor(&c, c.b[i].grad);
            if (want) compare(c.b[i].grad, nnc_node_grad(c.b[i].n), want);
        }
    }
    for (int i = 0; i < c.n_bind; i++) {
        if (!c.b[i].after[0]) continue;
        const nnc_tensor *want = tensor(&c, c.b[i].after);
        if (want) compare(c.b[i].after, nnc_node_value(c.b[i].n), want);
    }
out:
    if (c.y) c.y->seed = NULL;
    nnc_graph_free(c.g);
    nnc_safetensors_close(c.f);
}

int main(void) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[160];
        snprintf(name, sizeof name, "torch reference %s", cases[i].name);
        T_CASE(name) run_case(&cases[i]);
    }
    return t_finish();
}
