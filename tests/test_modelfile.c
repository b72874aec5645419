/* test_modelfile.c -- the text model format (Darknet .cfg dialect):
 * good files build with the expected parameters and shapes and train;
 * parse -> write -> parse gives the identical graph (cfg files and every zoo
 * model, recurrent, LeNet-1998 and autoencoders included, with options; the
 * same outputs for the same weights); recurrent sections and [cost] losses;
 * every malformed file under tests/cfg/bad/ is refused with its name and
 * line ("# expect: line N" on its first line); CRLF and comments; unknown
 * keys (and Darknet's recurrent keys nnc lacks) warn, and fail when strict;
 * the writer refuses what has no section (a concat off the channel axis). */
#include "testlib.h"
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *path_of(const char *rel) {
    const char *p = t_path(rel);
    char *s = malloc(strlen(p) + 1);
    strcpy(s, p);
    return s;
}

static void quiet(const char *msg, void *user);
static nnc_status load(const char *path, int strict, nnc_model **m) {
    static int notes;
    nnc_cfg_opts co = {strict, quiet, &notes, NULL};
    return nnc_model_from_cfg(path, NULL, &co, m);
}

static void quiet(const char *msg, void *user) {
    int *n = user;
    (*n)++;
    (void)msg;
}

/* Identical graphs: same rows (op, shape, parameters), same parameter names. */
static int same_graph(nnc_graph *a, nnc_graph *b, int names) {
    int na = nnc_graph_layers(a, NULL, 0), nb = nnc_graph_layers(b, NULL, 0);
    if (na != nb) { t_fail(__FILE__, __LINE__, "layers %d vs %d", na, nb); return 0; }
    nnc_layer_info *ra = calloc((size_t)na, sizeof *ra), *rb = calloc((size_t)nb, sizeof *rb);
    nnc_graph_layers(a, ra, na);
    nnc_graph_layers(b, rb, nb);
    int ok = 1;
    for (int i = 0; i < na && ok; i++) {
        if (strcmp(ra[i].op, rb[i].op) || ra[i].ndim != rb[i].ndim || ra[i].params != rb[i].params ||
            memcmp(ra[i].shape, rb[i].shape, sizeof ra[i].shape) || ra[i].macs != rb[i].macs || ra[i].out_bytes != rb[i].out_bytes) {
            t_fail(__FILE__, __LINE__, "row %d: %s vs %s", i, ra[i].op, rb[i].op);
            ok = 0;
        }
    }
    free(ra);
    free(rb);
    if (nnc_graph_n_param_elems(a) != nnc_graph_n_param_elems(b)) ok = 0;
    if (nnc_graph_n_params(a) != nnc_graph_n_params(b) || nnc_graph_n_state(a) != nnc_graph_n_state(b)) ok = 0;
    for (int i = 0; ok && names && i < nnc_graph_n_params(a); i++)
        if (strcmp(nnc_node_name(nnc_graph_param_at(a, i)), nnc_node_name(nnc_graph_param_at(b, i)))) {
            t_fail(__FILE__, __LINE__, "param %d: %s vs %s", i, nnc_node_name(nnc_graph_param_at(a, i)),
                   nnc_node_name(nnc_graph_param_at(b, i)));
            ok = 0;
        }
    return ok;
}

/* Writes model (a zoo name or a cfg path) to a temporary file; returns its path. */
static char *write_tmp(const char *model, const nnc_model_opts *o, char **text) {
    char *p = malloc(64);
    strcpy(p, "/tmp/nnc_cfg_XXXXXX.cfg");
    int fd = mkstemps(p, 4);
    FILE *f = fd >= 0 ? fdopen(fd, "w+") : NULL;
    if (!f) { free(p); return NULL; }
    T_OK(nnc_model_write_cfg(model, o, f));
    long n = ftell(f);
    rewind(f);
    *text = calloc((size_t)n + 1, 1);
    if (fread(*text, 1, (size_t)n, f) != (size_t)n) T_CHECK(0);
    fclose(f);
    return p;
}

/* A few SGD steps on one fixed random batch: the loss must go down. (at rate lr) */
static void train_steps_lr(nnc_model *m, int steps, float lr) {
    int64_t B = 8;
    nnc_graph_set_seed(m->g, 7);
    nnc_optim o = nnc_optim_sgd(lr, 0.9f, 0);
    T_OK(nnc_graph_set_optimizer(m->g, &o));
    T_OK(nnc_graph_compile(m->g, B, 1));
    float *x = nnc_node_value(m->input)->data;
    int64_t *y = nnc_node_value(m->labels)->data;
    int64_t per = m->in_shape[0] * m->in_shape[1] * m->in_shape[2];
    for (int64_t i = 0; i < B * per; i++) x[i] = nnc_rand_normal(1, 2, (uint64_t)i);
    for (int64_t i = 0; i < B; i++) y[i] = i % m->num_classes;
    float first = 0, last = 0;
    for (int s = 0; s < steps; s++) {
        float l;
        T_OK(nnc_graph_train_step(m->g, &l));
        if (!s) first = l;
        last = l;
    }
    T_CHECKF(last < first && isfinite(last), "%s: loss %g -> %g", m->name, first, last);
}

/* The same initializers (the same seed draws the same values), and the same
 * weights give the same outputs: b's parameters are set to a's (by name),
 * then both run forward on one random batch. */
static void same_outputs(nnc_model *a, nnc_model *b, const char *what) {
    const int64_t B = 2;
    nnc_graph_set_seed(a->g, 11);
    nnc_graph_set_seed(b->g, 11);
    T_OK(nnc_graph_compile(a->g, B, 0));
    T_OK(nnc_graph_compile(b->g, B, 0));
    for (int i = 0; i < nnc_graph_n_params(a->g); i++) {
        nnc_node *pa = nnc_graph_param_at(a->g, i), *pb = nnc_graph_find(b->g, nnc_node_name(pa));
        T_CHECKF(pb != NULL, "%s: no parameter %s", what, nnc_node_name(pa));
        if (!pb) continue;
        size_t bytes = nnc_tensor_bytes(nnc_node_value(pa));
        T_CHECKF(!memcmp(nnc_node_value(pb)->data, nnc_node_value(pa)->data, bytes), "%s: %s initialized differently", what,
                 nnc_node_name(pa));
        memcpy(nnc_node_value(pb)->data, nnc_node_value(pa)->data, bytes);
    }
    nnc_model *ms[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        float *x = nnc_node_value(ms[k]->input)->data;
        int64_t per = ms[k]->in_shape[0] * ms[k]->in_shape[1] * ms[k]->in_shape[2];
        for (int64_t i = 0; i < B * per; i++) x[i] = nnc_rand_uniform(3, 1, (uint64_t)i);
        int64_t *y = nnc_node_value(ms[k]->labels)->data;
        for (int64_t i = 0; y && i < B; i++) y[i] = i;
        T_OK(nnc_graph_forward(ms[k]->g));
    }
    const nnc_tensor *ya = nnc_node_value(a->logits), *yb = nnc_node_value(b->logits);
    int64_t n = nnc_tensor_numel(ya);
    T_CHECKF(n == nnc_tensor_numel(yb) && n > 0, "%s: outputs of %lld and %lld", what, (long long)n, (long long)nnc_tensor_numel(yb));
    double worst = 0;
    for (int64_t i = 0; i < n && n == nnc_tensor_numel(yb); i++) {
        double d = fabs((double)((float *)ya->data)[i] - ((float *)yb->data)[i]);
        if (d > worst) worst = d;
    }
    T_CHECKF(worst <= 1e-6, "%s: outputs differ by %g", what, worst);
}

/* A temporary .cfg holding text; returns its path (malloc'd). */
static char *tmp_cfg(const char *text) {
    char *p = malloc(64);
    strcpy(p, "/tmp/nnc_cfg_t_XXXXXX.cfg");
    int fd = mkstemps(p, 4);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) { free(p); return NULL; }
    fputs(text, f);
    fclose(f);
    return p;
}

/* src/models/modelfile.c: writes a built model's graph (internal, not in nnc.h). */
nnc_status nnc_cfg_write_model(nnc_model *m, const char *title, void *file);

static void train_steps(nnc_model *m, int steps) { train_steps_lr(m, steps, 0.05f); }

int main(void) {
    static const struct { const char *file; int64_t params; int classes; int64_t c, h, w; float lr; } good[] = {
        {"cfg/good/lenet.cfg", 61706, 10, 1, 28, 28, 0},
        {"cfg/good/mlp.cfg", 52650, 10, 1, 28, 28, 0},
        {"cfg/good/routes.cfg", 1733, 5, 2, 12, 12, 0},
        {"cfg/good/darknet_small.cfg", 24058, 10, 1, 28, 28, 0},
        {"cfg/good/crlf.cfg", 235, 3, 1, 8, 8, 0},
        {"cfg/good/alexnet_style.cfg", 9930, 10, 1, 32, 32, 0},
        {"cfg/good/resnet_style.cfg", 3778, 10, 1, 16, 16, 0},
        /* GRU 2 layers x 2 directions: 2 (3*8*10 + 3*8*8 + 48) + 2 (3*8*16 + 3*8*8 + 48) = 2208;
         * LSTM over 16: 4*6*16 + 4*6*6 + 48 = 576; fc 6*5 + 5 */
        {"cfg/good/recurrent.cfg", 2208 + 576 + 35, 5, 1, 12, 10, 0},
        /* relu RNN over 8: 5*8 + 5*5 + 10; fc 5*4 + 4; RNN over 4, no bias: 3*4 + 3*3; fc 3*3 + 3 */
        {"cfg/good/rnn_relu.cfg", 75 + 24 + 21 + 12, 3, 2, 3, 4, 0},
        {"cfg/good/lenet1998.cfg", 60000, 10, 1, 28, 28, 0.003f}, /* the paper's count; the MAP loss needs a small rate */
    };
    const int n_good = (int)(sizeof good / sizeof good[0]);

    T_CASE("good cfgs: parameters, shapes, [net] options, training steps") {
        for (int i = 0; i < n_good; i++) {
            char *p = path_of(good[i].file);
            nnc_model *m = NULL;
            int warnings = 0;
            nnc_cfg_net net;
            nnc_cfg_opts co = {0, quiet, &warnings, &net};
            T_OK(nnc_model_from_cfg(p, NULL, &co, &m));
            if (m) {
                T_CHECKF(nnc_graph_n_param_elems(m->g) == good[i].params, "%s: %lld parameters, want %lld", p,
                         (long long)nnc_graph_n_param_elems(m->g), (long long)good[i].params);
                T_CHECK(m->num_classes == good[i].classes);
                T_CHECK(m->in_shape[0] == good[i].c && m->in_shape[1] == good[i].h && m->in_shape[2] == good[i].w);
                train_steps_lr(m, 12, good[i].lr > 0 ? good[i].lr : 0.05f);
            }
            if (i == 0) {
                T_CHECK(!strcmp(net.policy, "steps") && net.n_steps == 2 && net.steps[1] == 800);
                T_CHECK(fabsf(net.scales[0] - 0.1f) < 1e-6f && net.batch == 64 && net.max_batches == 1000);
                T_CHECK(fabsf(net.learning_rate - 0.05f) < 1e-7f && fabsf(net.decay - 0.0005f) < 1e-9f);
            }
            if (i == 3) T_CHECKF(warnings == 1, "darknet_small: %d notes, want 1 (augmentation keys)", warnings);
            nnc_model_free(m);
            free(p);
        }
    }

    T_CASE("Darknet geometry: pad=1, maxpool's default padding, global avgpool, parameter names") {
        char *p = path_of("cfg/good/darknet_small.cfg");
        nnc_model *m = NULL;
        T_OK(load(p, 0, &m));
        if (m) {
            int n = nnc_graph_layers(m->g, NULL, 0);
            nnc_layer_info *r = calloc((size_t)n, sizeof *r);
            nnc_graph_layers(m->g, r, n);
            int pools = 0;
            for (int i = 0; i < n; i++)
                if (!strcmp(r[i].op, "maxpool2d")) {
                    /* Darknet: (H + size-1 - size)/stride + 1 = 14, then 7 */
                    T_CHECK(r[i].shape[1] == (pools ? 7 : 14) && r[i].shape[2] == r[i].shape[1]);
                    pools++;
                }
            T_CHECK(pools == 2);
            T_CHECK(!strcmp(r[n - 2].op, "reshape") && r[n - 2].shape[0] == 10);
            free(r);
            T_CHECK(nnc_graph_find(m->g, "0_conv.weight") != NULL);
            T_CHECK(nnc_graph_find(m->g, "0_bn.running_mean") != NULL);
            T_CHECK(nnc_graph_find(m->g, "0_conv.bias") == NULL); /* batch_normalize: no conv bias */
            T_CHECK(nnc_graph_find(m->g, "7_conv.bias") != NULL);
        }
        nnc_model_free(m);
        free(p);
        p = path_of("cfg/good/routes.cfg");
        T_OK(load(p, 0, &m));
        if (m) {
            T_CHECK(nnc_graph_find(m->g, "stem.weight") != NULL && nnc_graph_find(m->g, "stem_bn.weight") != NULL);
            T_CHECK(nnc_graph_find(m->g, "6_gn.weight") != NULL);
        }
        nnc_model_free(m);
        free(p);
    }

    T_CASE("nnc_model_build reads .cfg paths; input size override; class mismatch refused") {
        char *p = path_of("cfg/good/mlp.cfg");
        nnc_model *m = NULL;
        T_OK(nnc_model_build(p, NULL, &m));
        T_CHECK(m && m->num_classes == 10);
        nnc_model_free(m);
        m = NULL;
        nnc_model_opts o = nnc_model_defaults();
        o.height = o.width = 14;
        T_OK(nnc_model_build(p, &o, &m));
        T_CHECK(m && nnc_graph_n_param_elems(m->g) == 196 * 64 + 64 + 64 * 32 + 32 + 330);
        nnc_model_free(m);
        m = NULL;
        o = nnc_model_defaults();
        o.num_classes = 7;
        T_CHECK(nnc_model_build(p, &o, &m) == NNC_ERR_ARG && !m);
        free(p);
    }

    T_CASE("round trip: cfg files parse -> write -> parse into the identical graph") {
        for (int i = 0; i < n_good; i++) {
            char *p = path_of(good[i].file), *t1 = NULL, *t2 = NULL;
            char *w1 = write_tmp(p, NULL, &t1);
            char *w2 = w1 ? write_tmp(w1, NULL, &t2) : NULL;
            nnc_model *a = NULL, *b = NULL;
            T_OK(load(p, 1, &a));
            if (w1) T_OK(load(w1, 1, &b)); /* the writer's output passes strict */
            if (a && b) T_CHECKF(same_graph(a->g, b->g, 1), "%s", p);
            /* the canonical form is a fixed point (apart from the title line) */
            if (t1 && t2) T_CHECKF(!strcmp(strchr(t1, '\n'), strchr(t2, '\n')), "%s: canonical forms differ", p);
            nnc_model_free(a);
            nnc_model_free(b);
            if (w1) unlink(w1);
            if (w2) unlink(w2);
            free(w1);
            free(w2);
            free(t1);
            free(t2);
            free(p);
        }
    }

    T_CASE("round trip: zoo lenet5 and mlp -> cfg -> the same graph and parameter names") {
        const char *zoo[] = {"lenet5", "mlp"};
        for (int z = 0; z < 2; z++)
            for (int v = 0; v < 2; v++) {
                nnc_model_opts o = nnc_model_defaults();
                if (v) { o.num_classes = 7; o.dropout = 0.25f; o.in_channels = 3; o.height = o.width = 32; }
                char *text = NULL;
                char *w = write_tmp(zoo[z], &o, &text);
                nnc_model *a = NULL, *b = NULL;
                T_OK(nnc_model_build(zoo[z], &o, &a));
                if (w) T_OK(load(w, 1, &b));
                if (a && b) {
                    T_CHECKF(same_graph(a->g, b->g, 1), "%s variant %d", zoo[z], v);
                    T_CHECK(a->num_classes == b->num_classes);
                    T_CHECK(!memcmp(a->in_shape, b->in_shape, sizeof a->in_shape));
                }
                if (b && v == 0) train_steps(b, 8);
                nnc_model_free(a);
                nnc_model_free(b);
                if (w) unlink(w);
                free(w);
                free(text);
            }
        FILE *f = tmpfile();
        T_CHECK(nnc_model_write_cfg("no-such-model", NULL, f) == NNC_ERR_ARG);
        fclose(f);
    }

    T_CASE("round trip: every zoo model export-cfg can write builds back identically (names included)") {
        int written = 0, refused = 0;
        for (int z = 0; z < nnc_zoo_count(); z++) {
            const char *name = nnc_zoo_name(z);
            char p[] = "/tmp/nnc_cfg_zoo_XXXXXX.cfg";
            int fd = mkstemps(p, 4);
            FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
            if (!f) { T_CHECK(0); continue; }
            nnc_status s = nnc_model_write_cfg(name, NULL, f);
            fclose(f);
            if (s == NNC_ERR_UNSUPPORTED) {
                refused++;
                T_CHECKF(strstr(nnc_last_error(), name) != NULL, "%s: %s", name, nnc_last_error());
                unlink(p);
                continue;
            }
            T_OK(s);
            nnc_model *a = NULL, *b = NULL;
            T_OK(nnc_model_build(name, NULL, &a));
            T_OK(load(p, 1, &b));
            if (a && b) {
                T_CHECKF(same_graph(a->g, b->g, 1), "%s", name);
                T_CHECK(a->num_classes == b->num_classes && !memcmp(a->in_shape, b->in_shape, sizeof a->in_shape));
            }
            nnc_model_free(a);
            nnc_model_free(b);
            unlink(p);
            written++;
        }
        printf("  zoo export-cfg: %d written and rebuilt identically, %d refused\n", written, refused);
        T_CHECKF(refused == 0 && written == nnc_zoo_count(), "%d of %d zoo models refused", refused, nnc_zoo_count());
    }

    T_CASE("malformed files are refused with file name and line") {
        char *dir = path_of("cfg/bad");
        DIR *d = opendir(dir);
        T_CHECK(d != NULL);
        int n = 0;
        struct dirent *e;
        while (d && (e = readdir(d))) {
            size_t len = strlen(e->d_name);
            if (len < 5 || strcmp(e->d_name + len - 4, ".cfg")) continue;
            char p[4096], first[128] = "";
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            FILE *f = fopen(p, "rb");
            if (!f || !fgets(first, sizeof first, f)) { T_CHECKF(0, "%s unreadable", p); if (f) fclose(f); continue; }
            fclose(f);
            int line = 0;
            T_CHECKF(sscanf(first, "# expect: line %d", &line) == 1, "%s: no '# expect: line N'", e->d_name);
            nnc_model *m = NULL;
            int warnings = 0;
            nnc_cfg_opts co = {0, quiet, &warnings, NULL};
            nnc_status s = nnc_model_from_cfg(p, NULL, &co, &m);
            char want[300];
            snprintf(want, sizeof want, "%s:%d: ", e->d_name, line);
            T_CHECKF(s == NNC_ERR_FORMAT || s == NNC_ERR_UNSUPPORTED, "%s: status %s", e->d_name, nnc_status_name(s));
            T_CHECKF(!m, "%s: a model was returned", e->d_name);
            T_CHECKF(strstr(nnc_last_error(), want) != NULL, "%s: message '%s' lacks '%s'", e->d_name, nnc_last_error(), want);
            nnc_model_free(m);
            n++;
        }
        if (d) closedir(d);
        T_CHECKF(n >= 20, "only %d malformed files", n);
        free(dir);
        nnc_model *m = NULL;
        T_CHECK(load("/nonexistent/dir/net.cfg", 0, &m) == NNC_ERR_IO && !m);
        T_CHECK(strstr(nnc_last_error(), "/nonexistent/dir/net.cfg") != NULL);
        T_CHECK(nnc_model_build("no/such/file.cfg", NULL, &m) == NNC_ERR_IO);
    }

    T_CASE("unknown keys warn, and fail under strict") {
        char p[] = "/tmp/nnc_cfg_warn_XXXXXX.cfg";
        int fd = mkstemps(p, 4);
        FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
        T_CHECK(f != NULL);
        if (f) {
            fprintf(f, "[net]\nwidth=4\nheight=4\nchannels=1\nfancy=1\n[connected]\noutput=2\nactivation=linear\nsparkle=3\n");
            fclose(f);
            nnc_model *m = NULL;
            int warnings = 0;
            nnc_cfg_opts co = {0, quiet, &warnings, NULL};
            T_OK(nnc_model_from_cfg(p, NULL, &co, &m));
            T_CHECK(warnings == 2);
            nnc_model_free(m);
            m = NULL;
            co.strict = 1;
            T_CHECK(nnc_model_from_cfg(p, NULL, &co, &m) == NNC_ERR_FORMAT && !m);
            T_CHECK(strstr(nnc_last_error(), ":5: unknown key 'fancy'") != NULL);
            nnc_model_opts mo = nnc_model_defaults();
            mo.options = "strict=1";
            T_CHECK(nnc_model_build(p, &mo, &m) == NNC_ERR_FORMAT && !m);
            mo.options = "bogus=1";
            T_CHECK(nnc_model_build(p, &mo, &m) == NNC_ERR_ARG && !m);
            unlink(p);
        }
    }

    T_CASE("Darknet maxpool formula and extensions build") {
        char p[] = "/tmp/nnc_cfg_ext_XXXXXX.cfg";
        int fd = mkstemps(p, 4);
        FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
        T_CHECK(f != NULL);
        if (f) {
            fprintf(f, "[net]\nwidth=32\nheight=32\nchannels=1\n"
                       "[convolutional]\nfilters=6\nsize=5\nactivation=tanh\n"      /* 0: 28 */
                       "[subsampling]\nsize=2\nactivation=logistic\n"                /* 1: 14 */
                       "[conv_table]\nfilters=16\nsize=5\ntable=lenet5\n"            /* 2: 10 */
                       "[maxpool]\nsize=3\nstride=1\n"                               /* 3: (10+2-3)/1+1 = 10 */
                       "[maxpool]\nsize=3\nstride=2\n"                               /* 4: (10+2-3)/2+1 = 5 */
                       "[lrn]\nsize=3\n[local]\nfilters=4\nsize=3\npad=1\nactivation=relu\n" /* 6: 5x5 */
                       "[normalization]\n[batchnorm]\n[activation]\nactivation=elu\n"
                       "[connected]\noutput=12\nbatch_normalize=1\nactivation=selu\n"
                       "[rbf]\noutput=10\n");
            fclose(f);
            nnc_model *m = NULL;
            T_OK(load(p, 1, &m));
            if (m) {
                int n = nnc_graph_layers(m->g, NULL, 0);
                nnc_layer_info *r = calloc((size_t)n, sizeof *r);
                nnc_graph_layers(m->g, r, n);
                int k = 0;
                for (int i = 0; i < n; i++)
                    if (!strcmp(r[i].op, "maxpool2d")) T_CHECK(r[i].shape[1] == (k++ ? 5 : 10));
                T_CHECK(k == 2);
                free(r);
                T_CHECK(m->num_classes == 10);
                T_CHECK(nnc_graph_find(m->g, "2_table.weight") != NULL && nnc_graph_find(m->g, "1_sub.weight") != NULL);
                char *text = NULL, *w = write_tmp(p, NULL, &text);
                nnc_model *b = NULL;
                if (w) T_OK(load(w, 1, &b));
                if (b) T_CHECK(same_graph(m->g, b->g, 1));
                nnc_model_free(b);
                if (w) unlink(w);
                free(w);
                free(text);
            }
            nnc_model_free(m);
            unlink(p);
        }
    }
    T_CASE("round trip with options: recurrent, LeNet-1998 and autoencoder zoo models, same outputs for the same weights") {
        static const struct { const char *name, *options; float dropout; int classes, c, h, w; const char *keys[4]; } zc[] = {
            {"seqmnist", "hidden=16,layers=2,bidir=1,pool=M", 0.2f, 0, 0, 0, 0, {"[lstm]", "layers=2\nbidirectional=1\ndropout=0.2\npool=mean", NULL}},
            {"seqmnist-gru", "hidden=8,layers=3,pool=X", 0.3f, 0, 0, 0, 0, {"[gru]", "layers=3", "pool=max", NULL}},
            {"seqmnist-rnn", "hidden=12,bidir=1", -1, 4, 3, 8, 6, {"[rnn]", "activation=tanh", "pool=last", NULL}},
            {"seqmnist", NULL, -1, 0, 0, 0, 0, {"name=rnn\noutput=128\nlayers=1\nbidirectional=0\ndropout=0\npool=last", NULL}},
            {"lenet5-1998", "j=0.5", -1, 7, 1, 32, 32, {"table=lenet5\ninit=lecun98\nactivation=scaled_tanh", "prototypes=lenet5", "[cost]\ntype=map\nj=0.5", NULL}},
            {"autoencoder", NULL, 0.25f, 0, 3, 16, 16, {"[cost]\ntype=sse\ntarget=input", "name=decoder.2", NULL}},
            {"conv-autoencoder", NULL, -1, 0, 3, 16, 16, {"[flatten]", "target=input", NULL}},
        };
        for (size_t z = 0; z < sizeof zc / sizeof zc[0]; z++) {
            nnc_model_opts o = nnc_model_defaults();
            o.options = zc[z].options;
            o.dropout = zc[z].dropout;
            o.num_classes = zc[z].classes;
            o.in_channels = zc[z].c;
            o.height = zc[z].h;
            o.width = zc[z].w;
            char *text = NULL, *w = write_tmp(zc[z].name, &o, &text);
            for (int k = 0; text && zc[z].keys[k]; k++)
                T_CHECKF(strstr(text, zc[z].keys[k]) != NULL, "%s: the written file lacks '%s'", zc[z].name, zc[z].keys[k]);
            nnc_model *a = NULL, *b = NULL;
            T_OK(nnc_model_build(zc[z].name, &o, &a));
            if (w) T_OK(load(w, 1, &b));
            if (a && b) {
                T_CHECKF(same_graph(a->g, b->g, 1), "%s variant %zu", zc[z].name, z);
                T_CHECK(a->num_classes == b->num_classes && !memcmp(a->in_shape, b->in_shape, sizeof a->in_shape));
                same_outputs(a, b, zc[z].name);
            }
            nnc_model_free(a);
            nnc_model_free(b);
            if (w) unlink(w);
            free(w);
            free(text);
        }
    }

    T_CASE("recurrent sections: torch names, pools, image rows as steps; Darknet's keys warn, strict fails") {
        char *p = path_of("cfg/good/recurrent.cfg");
        nnc_model *m = NULL;
        T_OK(load(p, 1, &m));
        if (m) {
            static const char *const names[] = {"enc.weight_ih_l0", "enc.weight_hh_l1_reverse", "enc.bias_hh_l1", "1_lstm.weight_ih_l0", NULL};
            for (int i = 0; names[i]; i++) T_CHECKF(nnc_graph_find(m->g, names[i]) != NULL, "no %s", names[i]);
            nnc_node *wih = nnc_graph_find(m->g, "enc.weight_ih_l1");
            nnc_node *lw = nnc_graph_find(m->g, "1_lstm.weight_ih_l0");
            /* layer 1 reads both directions (16); the LSTM reads the GRU's sequence [12, 16] */
            T_CHECK(wih && nnc_node_value(wih)->shape[0] == 24 && nnc_node_value(wih)->shape[1] == 16);
            T_CHECK(lw && nnc_node_value(lw)->shape[0] == 24 && nnc_node_value(lw)->shape[1] == 16);
            int n = nnc_graph_layers(m->g, NULL, 0), pools = 0, rnns = 0;
            nnc_layer_info *r = calloc((size_t)n, sizeof *r);
            nnc_graph_layers(m->g, r, n);
            T_CHECK(!strcmp(r[0].op, "reshape") && r[0].shape[0] == 12 && r[0].shape[1] == 10); /* 12 steps of 10 */
            for (int i = 0; i < n; i++) {
                pools += !strcmp(r[i].op, "seq_pool");
                rnns += !strcmp(r[i].op, "rnn");
            }
            T_CHECK(pools == 1 && rnns == 5);
            free(r);
        }
        nnc_model_free(m);
        free(p);
        char *t = tmp_cfg("[net]\nwidth=3\nheight=2\nchannels=1\n[rnn]\noutput=4\nhidden=8\nbatch_normalize=1\n[connected]\noutput=2\n");
        if (t) {
            int warnings = 0;
            nnc_cfg_opts co = {0, quiet, &warnings, NULL};
            m = NULL;
            T_OK(nnc_model_from_cfg(t, NULL, &co, &m));
            T_CHECKF(warnings == 2, "%d warnings, want 2 (hidden, batch_normalize)", warnings);
            nnc_model_free(m);
            m = NULL;
            co.strict = 1;
            T_CHECK(nnc_model_from_cfg(t, NULL, &co, &m) == NNC_ERR_FORMAT && !m);
            T_CHECKF(strstr(nnc_last_error(), ":7: Darknet's key 'hidden' in [rnn]") != NULL, "%s", nnc_last_error());
            unlink(t);
            free(t);
        }
        /* Darknet's own rnn.cfg loads: 256 one-hot inputs (one step), three [rnn] of 1024, fc 256 */
        p = path_of("cfg/good/darknet_rnn.cfg");
        int warnings = 0;
        nnc_cfg_net net;
        nnc_cfg_opts dco = {0, quiet, &warnings, &net};
        m = NULL;
        T_OK(nnc_model_from_cfg(p, NULL, &dco, &m));
        if (m) {
            int64_t want = (1024 * 256 + 1024 * 1024 + 2048) + 2 * (2 * 1024 * 1024 + 2048) + 1024 * 256 + 256;
            T_CHECKF(nnc_graph_n_param_elems(m->g) == want, "%lld parameters, want %lld", (long long)nnc_graph_n_param_elems(m->g),
                     (long long)want);
            T_CHECK(m->num_classes == 256 && m->in_shape[0] == 256 && !strcmp(nnc_node_op(m->loss), "cross_entropy"));
            T_CHECK(net.n_steps == 2 && net.steps[1] == 1500 && fabsf(net.learning_rate - 0.1f) < 1e-7f);
        }
        /* per [rnn]: batch_normalize, hidden, activation=leaky; one note for time_steps */
        T_CHECKF(warnings == 3 * 3 + 1, "%d warnings, want 10", warnings);
        nnc_model_free(m);
        m = NULL;
        dco.strict = 1;
        T_CHECK(nnc_model_from_cfg(p, NULL, &dco, &m) == NNC_ERR_FORMAT && !m);
        free(p);
        t = tmp_cfg("[net]\nwidth=3\nheight=2\nchannels=1\n[lstm]\noutput=4\nactivation=tanh\n");
        if (t) { /* activation= is [rnn]'s only */
            m = NULL;
            nnc_cfg_opts co = {1, quiet, NULL, NULL};
            int dummy = 0;
            co.user = &dummy;
            T_CHECK(nnc_model_from_cfg(t, NULL, &co, &m) == NNC_ERR_FORMAT && !m);
            T_CHECK(strstr(nnc_last_error(), ":7: unknown key 'activation' in [lstm]") != NULL);
            unlink(t);
            free(t);
        }
    }

    T_CASE("a hand-written LeNet-1998 file is the zoo's lenet5-1998: graph, initializers, outputs") {
        char *p = path_of("cfg/good/lenet1998.cfg");
        nnc_model *a = NULL, *b = NULL;
        T_OK(nnc_model_build("lenet5-1998", NULL, &a));
        T_OK(load(p, 1, &b));
        if (a && b) {
            T_CHECK(same_graph(a->g, b->g, 1));
            T_CHECK(!strcmp(nnc_node_op(b->loss), "rbf_map_loss") && b->num_classes == 10);
            same_outputs(a, b, "lenet1998.cfg");
        }
        nnc_model_free(a);
        nnc_model_free(b);
        free(p);
    }

    T_CASE("[cost] type=sse target=input: an MSE reconstruction that trains; round trip") {
        char *p = path_of("cfg/good/autoencoder.cfg");
        nnc_model *m = NULL;
        T_OK(load(p, 1, &m));
        if (m) {
            T_CHECK(m->num_classes == 0 && !strcmp(nnc_node_op(m->loss), "mse") && nnc_node_value(m->logits)->ndim == 4);
            T_CHECK(nnc_graph_n_param_elems(m->g) == 36 * 8 + 8 + 8 * 36 + 36);
            char *text = NULL, *w = write_tmp(p, NULL, &text);
            nnc_model *b = NULL;
            if (w) T_OK(load(w, 1, &b));
            if (b) T_CHECK(same_graph(m->g, b->g, 1) && b->num_classes == 0);
            nnc_model_free(b);
            if (w) unlink(w);
            free(w);
            free(text);
            int64_t B = 8;
            nnc_graph_set_seed(m->g, 5);
            nnc_optim o = nnc_optim_sgd(0.5f, 0.9f, 0);
            T_OK(nnc_graph_set_optimizer(m->g, &o));
            T_OK(nnc_graph_compile(m->g, B, 1));
            float *x = nnc_node_value(m->input)->data, first = 0, last = 0;
            for (int64_t i = 0; i < B * 36; i++) x[i] = nnc_rand_uniform(9, 0, (uint64_t)i);
            for (int s = 0; s < 20; s++) {
                float l;
                T_OK(nnc_graph_train_step(m->g, &l));
                if (!s) first = l;
                last = l;
            }
            T_CHECKF(last < first && isfinite(last), "reconstruction loss %g -> %g", first, last);
        }
        nnc_model_free(m);
        free(p);
    }

    T_CASE("the writer refuses a concat off the channel axis, with the op and axis named") {
        for (int axis = 1; axis <= 2; axis++) {
            nnc_model *m = calloc(1, sizeof *m);
            m->g = nnc_graph_new();
            m->in_shape[0] = 2;
            m->in_shape[1] = m->in_shape[2] = 4;
            m->input = nnc_input(m->g, "input", NNC_F32, 3, m->in_shape);
            m->labels = nnc_input(m->g, "labels", NNC_I64, 0, NULL);
            nnc_conv2d_opts co = {{1, 1}, {1, 1}, {1, 1}, 1};
            nnc_node *h = nnc_conv2d_layer(m->g, m->input, "conv", 3, 3, 3, &co, 1);
            nnc_node *xs[2] = {nnc_relu(m->g, h), nnc_sigmoid(m->g, h)};
            nnc_node *c = nnc_concat_axis(m->g, 2, xs, axis);
            m->logits = nnc_linear_layer(m->g, nnc_flatten(m->g, c), "fc", 5, 1);
            m->loss = nnc_cross_entropy(m->g, m->logits, m->labels, NNC_MEAN);
            m->num_classes = 5;
            T_OK(nnc_graph_status(m->g));
            FILE *f = tmpfile();
            nnc_status s = f ? nnc_cfg_write_model(m, "two-branch", f) : NNC_ERR_IO;
            if (axis == 1) T_OK(s);
            else {
                T_CHECK(s == NNC_ERR_UNSUPPORTED);
                T_CHECKF(strstr(nnc_last_error(), "'two-branch'") && strstr(nnc_last_error(), "concat along axis 2 has no [route] form"),
                         "%s", nnc_last_error());
            }
            if (f) fclose(f);
            nnc_model_free(m);
        }
    }
    return t_finish();
}
