/* test_norm_ref.c -- LRN (PyTorch form), group norm and layer norm against
 * PyTorch 1.13: reads tests/ref/norm_<case>.safetensors (tools/gen_refs_norm.py:
 * float64 math from float32 inputs, rounded once), builds the op with the
 * public API, copies x (and the affine weight/bias), runs forward and
 * compares y, then runs backward seeded with the file's dy through the
 * gradient checker's hook (g->seed_outputs, node->seed; see test_torch_ref.c)
 * and compares dx, dw, db.
 * Tolerance: |got - want| <= 1e-5 + 1e-4 |want|, as in test_torch_ref.c. */
#include "testlib.h"
#include "core/graph.h"
#include <stdlib.h>
#include <string.h>

#define RTOL 1e-4
#define ATOL 1e-5

typedef struct {
    nnc_safetensors *f;
    int bad;
} ref;

static const nnc_tensor *get(ref *r, const char *name) {
    const nnc_tensor *t = nnc_safetensors_get(r->f, name);
    if (!t) { T_CHECKF(0, "reference file lacks tensor \"%s\"", name); r->bad = 1; }
    return t;
}
static const char *meta(ref *r, const char *key) {
    const char *v = nnc_safetensors_meta(r->f, key);
    if (!v) { T_CHECKF(0, "reference file lacks metadata \"%s\"", key); r->bad = 1; }
    return v ? v : "0";
}

static int same_shape(const char *what, const nnc_tensor *got, const nnc_tensor *want) {
    int ok = got->ndim == want->ndim && got->dtype == want->dtype;
    for (int i = 0; ok && i < got->ndim; i++) ok = got->shape[i] == want->shape[i];
    if (!ok) {
        char a[64], b[64];
        T_CHECKF(0, "%s: nnc has %s, reference %s", what, nnc_shape_str(got, a, sizeof a), nnc_shape_str(want, b, sizeof b));
    }
    return ok;
}
static void compare(const char *what, const nnc_tensor *got, const nnc_tensor *want) {
    if (!got || !got->data) { T_CHECKF(0, "%s: nnc has no data", what); return; }
    if (same_shape(what, got, want)) t_close(what, got->data, want->data, nnc_tensor_numel(want), RTOL, ATOL);
}
static void load(const char *what, nnc_node *n, const nnc_tensor *v) {
    nnc_tensor *t = nnc_node_value(n);
    if (same_shape(what, t, v)) memcpy(t->data, v->data, nnc_tensor_bytes(v));
}

static void run_case(const char *name) {
    char rel[128];
    snprintf(rel, sizeof rel, "ref/%s.safetensors", name);
    ref r = {0};
    nnc_status s = nnc_safetensors_open(t_path(rel), &r.f);
    T_CHECKF(s == NNC_OK, "open %s: %s", rel, nnc_last_error());
    if (s) return;
    const nnc_tensor *xt = get(&r, "x"), *dy = get(&r, "dy"), *yw = get(&r, "y"), *dxw = get(&r, "dx");
    const char *op = meta(&r, "op");
    if (r.bad) { nnc_safetensors_close(r.f); return; }
    nnc_graph *g = nnc_graph_new();
    nnc_node *x = nnc_input(g, "x", NNC_F32, xt->ndim - 1, xt->shape + 1), *w = NULL, *b = NULL, *y = NULL;
    nnc_input_requires_grad(x);
    int affine = atoi(nnc_safetensors_meta(r.f, "affine") ? meta(&r, "affine") : "0");
    const nnc_tensor *wt = affine ? get(&r, "w") : NULL, *bt = affine ? get(&r, "b") : NULL;
    if (affine && wt && bt) {
        w = nnc_param(g, "w", wt->ndim, wt->shape, (nnc_init){.kind = NNC_INIT_ZEROS});
        b = nnc_param(g, "b", bt->ndim, bt->shape, (nnc_init){.kind = NNC_INIT_ZEROS});
    }
    if (!strcmp(op, "lrn")) {
        y = nnc_lrn(g, x, atoi(meta(&r, "size")), strtof(meta(&r, "alpha"), NULL), strtof(meta(&r, "beta"), NULL),
                    strtof(meta(&r, "k"), NULL), 0);
    } else if (!strcmp(op, "group_norm")) {
        y = nnc_group_norm(g, x, w, b, atoi(meta(&r, "groups")), strtof(meta(&r, "eps"), NULL));
    } else if (!strcmp(op, "layer_norm")) {
        y = nnc_layer_norm(g, x, w, b, atoi(meta(&r, "ndims")), strtof(meta(&r, "eps"), NULL));
    } else {
        T_CHECKF(0, "unknown op \"%s\"", op);
    }
    s = nnc_graph_status(g);
    T_CHECKF(s == NNC_OK && y, "build: %s", nnc_graph_error(g));
    if (s || !y || r.bad) goto out;
    nnc_graph_output(g, y);
    g->seed_outputs = 1; /* backward seeds y's gradient with y->seed */
    s = nnc_graph_compile(g, xt->shape[0], 1);
    T_CHECKF(s == NNC_OK, "compile: %s", nnc_last_error());
    if (s) goto out;
    load("x", x, xt);
    if (w) { load("w", w, wt); load("b", b, bt); }
    T_OK(nnc_graph_forward(g));
    compare("y", nnc_node_value(y), yw);
    if (!same_shape("dy", nnc_node_value(y), dy)) goto out;
    y->seed = dy->data;
    T_OK(nnc_graph_backward(g));
    compare("dx", nnc_node_grad(x), dxw);
    if (w) {
        const nnc_tensor *dw = get(&r, "dw"), *db = get(&r, "db");
        if (dw) compare("dw", nnc_node_grad(w), dw);
        if (db) compare("db", nnc_node_grad(b), db);
    }
    y->seed = NULL;
out:
    nnc_graph_free(g);
    nnc_safetensors_close(r.f);
}

int main(void) {
    static const char *const cases[] = {
        "norm_lrn_size5",        "norm_lrn_size3_k2",           "norm_lrn_size4_3d",
        "norm_group_norm_g3",    "norm_group_norm_g1_noaffine", "norm_group_norm_gc_3d",
        "norm_layer_norm_last1", "norm_layer_norm_last2",       "norm_layer_norm_noaffine",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[160];
        snprintf(name, sizeof name, "torch reference %s", cases[i]);
        T_CASE(name) run_case(cases[i]);
    }
    return t_finish();
}
