/* model_io.c -- a model's weights file: every parameter and state tensor
 * under its PyTorch name, plus metadata (nnc.model, nnc.input, nnc.classes,
 * nnc.norm_mean, nnc.norm_std) so eval and predict use the same input
 * normalization. The file loads in PyTorch with load_state_dict(strict=True). */
#include "nnc.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

nnc_status nnc_model_save(nnc_model *m, const char *path) {
    if (!m || !path) return nnc_error(NNC_ERR_ARG, "nnc_model_save: NULL argument");
    char shape[64], classes[16], mean[32], std[32];
    snprintf(shape, sizeof shape, "%lld,%lld,%lld", (long long)m->in_shape[0], (long long)m->in_shape[1], (long long)m->in_shape[2]);
    snprintf(classes, sizeof classes, "%d", m->num_classes);
    snprintf(mean, sizeof mean, "%.9g", (double)m->norm_mean);
    snprintf(std, sizeof std, "%.9g", (double)m->norm_std);
    const char *keys[] = {"nnc.model", "nnc.input", "nnc.classes", "nnc.norm_mean", "nnc.norm_std"};
    const char *vals[] = {m->name, shape, classes, mean, std};
    return nnc_graph_save_meta(m->g, path, 5, keys, vals);
}

nnc_status nnc_model_load(nnc_model *m, const char *path) {
    if (!m || !path) return nnc_error(NNC_ERR_ARG, "nnc_model_load: NULL argument");
    nnc_safetensors *f = NULL;
    nnc_status s = nnc_safetensors_open(path, &f);
    if (s) return s;
    const char *model = nnc_safetensors_meta(f, "nnc.model");
    const char *mean = nnc_safetensors_meta(f, "nnc.norm_mean"), *std = nnc_safetensors_meta(f, "nnc.norm_std");
    float fm = 0, fs = 1;
    if (mean && std) {
        char *e1, *e2;
        fm = strtof(mean, &e1);
        fs = strtof(std, &e2);
        if (*e1 || *e2 || !(fs > 0)) { /* the message first: mean and std live in f */
            s = nnc_error(NNC_ERR_FORMAT, "%s: bad normalization metadata (mean '%s', std '%s')", path, mean, std);
            nnc_safetensors_close(f);
            return s;
        }
    }
    char model_name[64] = "";
    if (model) snprintf(model_name, sizeof model_name, "%s", model);
    nnc_safetensors_close(f);
    s = nnc_graph_load(m->g, path);
    if (s) {
        if (model_name[0] && strcmp(model_name, m->name) != 0)
            return nnc_error(s, "%s (the file holds a '%s' model, not '%s')", nnc_last_error(), model_name, m->name);
        return s;
    }
    m->norm_mean = fm;
    m->norm_std = fs;
    return NNC_OK;
}
