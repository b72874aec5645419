/* zoo.c -- models by name. Each entry says its default input and classes
 * and has a builder that maps an input node to logits using only public
 * builders; nnc_model_build adds labels and the loss. */
#include "models/zoo.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

nnc_node *nnc_zoo_mlp(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
nnc_node *nnc_zoo_lenet5(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
/* @@zoo-decl-cnn@@ */
/* @@zoo-decl-resnet@@ */

typedef struct zoo_entry {
    const char *name, *doc;
    int c, h, w, classes;
    nnc_node *(*build)(nnc_graph *g, nnc_node *x, const nnc_model_opts *o);
} zoo_entry;

static const zoo_entry zoo[] = {
    {"mlp", "multilayer perceptron 784-1024-1024-10 with ReLU (workload W2)", 1, 28, 28, 10, nnc_zoo_mlp},
    {"lenet5", "LeNet-5, modern form: conv5x5(6,pad 2) ReLU maxpool conv5x5(16) ReLU maxpool fc120 fc84 fc10 (W1)", 1, 28, 28, 10, nnc_zoo_lenet5},
    /* @@zoo-entries-cnn@@ */
    /* @@zoo-entries-resnet@@ */
};
#define N_ZOO ((int)(sizeof zoo / sizeof zoo[0]))

int nnc_zoo_count(void) { return N_ZOO; }
const char *nnc_zoo_name(int i) { return i >= 0 && i < N_ZOO ? zoo[i].name : NULL; }
const char *nnc_zoo_doc(int i) { return i >= 0 && i < N_ZOO ? zoo[i].doc : NULL; }

nnc_model_opts nnc_model_defaults(void) {
    nnc_model_opts o = {0, 0, 0, 0, -1.0f, 0.0f, NULL};
    return o;
}

nnc_status nnc_model_build(const char *name, const nnc_model_opts *opts, nnc_model **out) {
    if (!name || !out) return nnc_error(NNC_ERR_ARG, "nnc_model_build: NULL argument");
    *out = NULL;
    const zoo_entry *e = NULL;
    for (int i = 0; i < N_ZOO; i++)
        if (strcmp(zoo[i].name, name) == 0) e = &zoo[i];
    if (!e) {
        char known[512] = "";
        for (int i = 0; i < N_ZOO; i++) {
            strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
            strncat(known, zoo[i].name, sizeof known - strlen(known) - 1);
        }
        return nnc_error(NNC_ERR_ARG, "unknown model '%s' (known: %s)", name, known);
    }
    nnc_model_opts o = opts ? *opts : nnc_model_defaults();
    if (o.num_classes < 0 || o.in_channels < 0 || o.height < 0 || o.width < 0)
        return nnc_error(NNC_ERR_ARG, "model '%s': negative classes, channels or input size", name);
    if (!o.num_classes) o.num_classes = e->classes;
    if (!o.in_channels) o.in_channels = e->c;
    if (!o.height) o.height = e->h;
    if (!o.width) o.width = e->w;
    nnc_model *m = calloc(1, sizeof *m);
    if (!m) return nnc_error(NNC_ERR_OOM, "out of memory");
    m->g = nnc_graph_new();
    if (!m->g) { free(m); return NNC_ERR_OOM; }
    snprintf(m->name, sizeof m->name, "%s", name);
    m->in_shape[0] = o.in_channels;
    m->in_shape[1] = o.height;
    m->in_shape[2] = o.width;
    m->num_classes = o.num_classes;
    m->norm_mean = 0;
    m->norm_std = 1;
    m->input = nnc_input(m->g, "input", NNC_F32, 3, m->in_shape);
    m->labels = nnc_input(m->g, "labels", NNC_I64, 0, NULL);
    m->logits = e->build(m->g, m->input, &o);
    if (!m->logits && !nnc_graph_status(m->g)) { /* a builder refused its options */
        nnc_status s = nnc_error(NNC_ERR_ARG, "model '%s': %s", name, nnc_last_error());
        nnc_model_free(m);
        return s;
    }
    nnc_graph_output(m->g, m->logits);
    m->loss = nnc_cross_entropy(m->g, m->logits, m->labels, NNC_MEAN);
    nnc_graph_loss(m->g, m->loss, 1.0f);
    nnc_status s = nnc_graph_status(m->g);
    if (s) {
        s = nnc_error(s, "model '%s': %s", name, nnc_graph_error(m->g));
        nnc_model_free(m);
        return s;
    }
    *out = m;
    return NNC_OK;
}

void nnc_model_free(nnc_model *m) {
    if (!m) return;
    nnc_graph_free(m->g);
    free(m);
}

int nnc_model_option(const nnc_model_opts *opts, const char *key, double *value) {
    if (!opts || !opts->options || !key) return 0;
    size_t klen = strlen(key);
    const char *p = opts->options;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            char buf[64];
            size_t vlen = len - klen - 1;
            if (vlen == 0 || vlen >= sizeof buf) { nnc_error(NNC_ERR_ARG, "model option '%s': bad value", key); return -1; }
            memcpy(buf, p + klen + 1, vlen);
            buf[vlen] = 0;
            char *e;
            double v = strtod(buf, &e);
            if (*e) {
                /* letters: A/B style switches map to their character code */
                if (vlen == 1) v = (double)(unsigned char)buf[0];
                else { nnc_error(NNC_ERR_ARG, "model option '%s=%s': not a number", key, buf); return -1; }
            }
            if (value) *value = v;
            return 1;
        }
        p += len + (end ? 1 : 0);
    }
    return 0;
}

int nnc_model_options_only(const nnc_model_opts *o, const char *const *allowed) {
    if (!o || !o->options) return 1;
    const char *p = o->options;
    while (*p) {
        const char *eq = strchr(p, '='), *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        if (!eq || eq > end) { nnc_error(NNC_ERR_ARG, "model options: '%.*s' is not key=value", (int)(end - p), p); return 0; }
        int ok = 0;
        for (int i = 0; allowed && allowed[i]; i++)
            if ((size_t)(eq - p) == strlen(allowed[i]) && strncmp(p, allowed[i], (size_t)(eq - p)) == 0) ok = 1;
        if (!ok) {
            char list[256] = "";
            for (int i = 0; allowed && allowed[i]; i++) {
                strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
                strncat(list, allowed[i], sizeof list - strlen(list) - 1);
            }
            nnc_error(NNC_ERR_ARG, "model option '%.*s' is unknown here (known: %s)", (int)(eq - p), p, list[0] ? list : "none");
            return 0;
        }
        p = *end ? end + 1 : end;
    }
    return 1;
}

int64_t nnc_model_width(const nnc_model_opts *o, int64_t c) {
    double m = o && o->width_mult > 0 ? o->width_mult : 1.0;
    int64_t r = (int64_t)(c * m + 0.5);
    return r < 1 ? 1 : r;
}
