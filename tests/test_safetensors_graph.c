/* test_safetensors_graph.c -- model weights through safetensors: a graph's
 * parameters and state saved under their PyTorch names and loaded into a fresh
 * identical graph bit for bit; strict loading that refuses another
 * architecture (missing, unexpected, reshaped or retyped keys) or a damaged
 * file, naming the key and leaving the model untouched. */
#include "testlib.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[64];

static const char *tp(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

/* Shapes of the little test model; variants change one thing each. */
typedef struct arch { int64_t hidden; int extra_layer; int with_bn; nnc_dtype nbt_dtype; } arch;
static const arch base = {3, 0, 1, NNC_I64};

/* x[4] -> fc1 (hidden) -> bn1 (affine + running stats) -> relu -> fc2 (2) [-> fc3 (2)] */
static nnc_graph *build(arch a, uint64_t seed) {
    nnc_graph *g = nnc_graph_new();
    nnc_graph_set_seed(g, seed);
    nnc_node *x = nnc_input(g, "x", NNC_F32, 1, (int64_t[]){4});
    nnc_node *h = nnc_linear_layer(g, x, "fc1", a.hidden, 1);
    if (a.with_bn) {
        /* the parameters and state nnc_batchnorm_layer creates, PyTorch's BatchNorm1d names */
        int64_t c[1] = {a.hidden};
        nnc_scope_push(g, "bn1");
        nnc_param(g, "weight", 1, c, (nnc_init){NNC_INIT_UNIFORM, 0.5f, 1.5f});
        nnc_param(g, "bias", 1, c, (nnc_init){NNC_INIT_UNIFORM, -1.f, 1.f});
        nnc_state(g, "running_mean", NNC_F32, 1, c, 0.0);
        nnc_state(g, "running_var", NNC_F32, 1, c, 1.0);
        nnc_state(g, "num_batches_tracked", a.nbt_dtype, 0, NULL, 0.0);
        nnc_scope_pop(g);
    }
    h = nnc_linear_layer(g, nnc_relu(g, h), "fc2", 2, 1);
    if (a.extra_layer) h = nnc_linear_layer(g, h, "fc3", 2, 1);
    nnc_graph_output(g, h);
    return g;
}

/* All parameter and state bytes of g, concatenated (a snapshot to compare). */
static unsigned char *snapshot(nnc_graph *g, size_t *n) {
    size_t total = 0;
    int np = nnc_graph_n_params(g), ns = nnc_graph_n_state(g);
    for (int i = 0; i < np + ns; i++)
        total += nnc_tensor_bytes(nnc_node_value(i < np ? nnc_graph_param_at(g, i) : nnc_graph_state_at(g, i - np)));
    unsigned char *p = malloc(total + 1), *q = p;
    for (int i = 0; i < np + ns; i++) {
        nnc_tensor *t = nnc_node_value(i < np ? nnc_graph_param_at(g, i) : nnc_graph_state_at(g, i - np));
        memcpy(q, t->data, nnc_tensor_bytes(t));
        q += nnc_tensor_bytes(t);
    }
    *n = total;
    return p;
}

/* Loads path into a graph of architecture a and expects refusal with needle in the message,
 * the model's values unchanged. */
static void expect_refused(const char *label, arch a, const char *path, nnc_status want, const char *needle) {
    nnc_graph *g = build(a, 77);
    T_OK(nnc_graph_status(g));
    T_OK(nnc_graph_init_params(g));
    size_t n0, n1;
    unsigned char *before = snapshot(g, &n0);
    nnc_status s = nnc_graph_load(g, path);
    const char *msg = nnc_last_error();
    if (getenv("NNC_TEST_VERBOSE")) printf("  %-16s %s\n", label, msg);
    T_CHECKF(s == want, "%s: got %s (%s), want %s", label, nnc_status_name(s), msg, nnc_status_name(want));
    T_CHECKF(strstr(msg, path) && strstr(msg, needle), "%s: message lacks the file or '%s': %s", label, needle, msg);
    unsigned char *after = snapshot(g, &n1);
    T_CHECKF(n0 == n1 && !memcmp(before, after, n0), "%s: the model changed on a failed load", label);
    free(before);
    free(after);
    nnc_graph_free(g);
}

int main(void) {
    strcpy(tmpdir, "/tmp/nnc_stg_XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    char wpath[512];
    snprintf(wpath, sizeof wpath, "%s", tp("model.safetensors"));

    T_CASE("weights: save, then load into a fresh identical graph") {
        nnc_graph *g1 = build(base, 1);
        T_OK(nnc_graph_status(g1));
        T_OK(nnc_graph_init_params(g1));
        /* state that initialization would not reproduce */
        float *rm = nnc_node_value(nnc_graph_find(g1, "bn1.running_mean"))->data;
        rm[0] = 0.25f; rm[1] = -3.f; rm[2] = 1e-3f;
        *(int64_t *)nnc_node_value(nnc_graph_find(g1, "bn1.num_batches_tracked"))->data = 1234567890123LL;
        T_OK(nnc_graph_save(g1, wpath));

        nnc_safetensors *f = NULL;
        T_OK(nnc_safetensors_open(wpath, &f));
        if (f) {
            static const char *const names[] = {"bn1.bias", "bn1.num_batches_tracked", "bn1.running_mean",
                                                "bn1.running_var", "bn1.weight", "fc1.bias", "fc1.weight",
                                                "fc2.bias", "fc2.weight"};
            T_CHECKF(nnc_safetensors_count(f) == 9, "%d tensors in the file", nnc_safetensors_count(f));
            for (int i = 0; i < 9; i++)
                T_CHECKF(nnc_safetensors_name(f, i) && !strcmp(nnc_safetensors_name(f, i), names[i]), "name %d: %s",
                         i, nnc_safetensors_name(f, i));
            const nnc_tensor *t = nnc_safetensors_get(f, "bn1.num_batches_tracked");
            T_CHECK(t && t->dtype == NNC_I64 && t->ndim == 0);
            t = nnc_safetensors_get(f, "fc1.weight");
            T_CHECK(t && t->dtype == NNC_F32 && t->ndim == 2 && t->shape[0] == 3 && t->shape[1] == 4);
            const char *fmt = nnc_safetensors_meta(f, "format");
            T_CHECK(fmt && !strcmp(fmt, "pt"));
            nnc_safetensors_close(f);
        }

        nnc_graph *g2 = build(base, 2);
        T_OK(nnc_graph_status(g2));
        size_t n1, n2;
        T_OK(nnc_graph_init_params(g2));
        unsigned char *a = snapshot(g1, &n1), *b = snapshot(g2, &n2);
        T_CHECK(n1 == n2 && memcmp(a, b, n1) != 0); /* different seeds: different weights before loading */
        free(b);
        T_OK(nnc_graph_load(g2, wpath));
        b = snapshot(g2, &n2);
        T_CHECKF(n1 == n2 && !memcmp(a, b, n1), "loaded values differ from the saved ones");
        free(a);
        free(b);
        /* Saving the loaded graph gives the same file, byte for byte. */
        T_OK(nnc_graph_save(g2, tp("again.safetensors")));
        FILE *fa = fopen(wpath, "rb"), *fb = fopen(tp("again.safetensors"), "rb");
        int same = fa && fb;
        for (int ca = 0, cb = 0; same && ca != EOF;) {
            ca = fgetc(fa);
            cb = fgetc(fb);
            same = ca == cb;
        }
        T_CHECK(same);
        if (fa) fclose(fa);
        if (fb) fclose(fb);
        nnc_graph_free(g1);
        nnc_graph_free(g2);
    }

    T_CASE("weights: loading refuses another architecture and leaves the model untouched") {
        arch wider = base, deeper = base, no_bn = base, f32_count = base;
        wider.hidden = 5;
        deeper.extra_layer = 1;
        no_bn.with_bn = 0;
        f32_count.nbt_dtype = NNC_F32;
        expect_refused("wider", wider, wpath, NNC_ERR_FORMAT,
                       "tensor 'bn1.bias' has shape [3], the model expects [5]");
        expect_refused("deeper", deeper, wpath, NNC_ERR_FORMAT, "missing key 'fc3.bias'");
        expect_refused("deeper", deeper, wpath, NNC_ERR_FORMAT, "another architecture");
        expect_refused("no_bn", no_bn, wpath, NNC_ERR_FORMAT, "unexpected key 'bn1.bias'");
        expect_refused("f32_count", f32_count, wpath, NNC_ERR_FORMAT,
                       "'bn1.num_batches_tracked' has dtype i64, the model expects f32");
        expect_refused("missing_file", base, tp("nope.safetensors"), NNC_ERR_IO, "No such file");
    }

    T_CASE("weights: a damaged weights file is refused") {
        FILE *in = fopen(wpath, "rb");
        unsigned char buf[4096];
        size_t n = in ? fread(buf, 1, sizeof buf, in) : 0;
        if (in) fclose(in);
        T_CHECK(n > 100 && n < sizeof buf);
        FILE *out = fopen(tp("truncated.safetensors"), "wb");
        if (out) { fwrite(buf, 1, n - 4, out); fclose(out); }
        expect_refused("truncated", base, tp("truncated.safetensors"), NNC_ERR_FORMAT, "truncated");
        out = fopen(tp("header_only.safetensors"), "wb");
        if (out) { fwrite(buf, 1, 40, out); fclose(out); }
        expect_refused("header_only", base, tp("header_only.safetensors"), NNC_ERR_FORMAT, "header length");
    }

    T_CASE("weights: save with metadata") {
        nnc_graph *g = build(base, 4);
        const char *k[2] = {"nnc.model", "nnc.classes"}, *v[2] = {"tiny", "2"};
        T_OK(nnc_graph_save_meta(g, tp("meta.safetensors"), 2, k, v));
        nnc_safetensors *f = NULL;
        T_OK(nnc_safetensors_open(tp("meta.safetensors"), &f));
        const char *m = nnc_safetensors_meta(f, "nnc.model"), *fmt = nnc_safetensors_meta(f, "format");
        T_CHECK(m && !strcmp(m, "tiny") && fmt && !strcmp(fmt, "pt") && nnc_safetensors_meta_count(f) == 3);
        nnc_safetensors_close(f);
        T_OK(nnc_graph_load(g, tp("meta.safetensors"))); /* metadata does not disturb a strict load */
        nnc_graph_free(g);
        unlink(tp("meta.safetensors"));
    }

    T_CASE("weights: saving into a missing directory fails cleanly") {
        nnc_graph *g = build(base, 3);
        nnc_status s = nnc_graph_save(g, tp("no/such/dir/w.safetensors"));
        T_CHECKF(s == NNC_ERR_IO, "got %s: %s", nnc_status_name(s), nnc_last_error());
        nnc_graph_free(g);
    }

    unlink(tp("model.safetensors"));
    unlink(tp("again.safetensors"));
    unlink(tp("truncated.safetensors"));
    unlink(tp("header_only.safetensors"));
    rmdir(tmpdir);
    return t_finish();
}
