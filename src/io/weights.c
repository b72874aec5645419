/* weights.c -- a graph's parameters and state as a safetensors file.
 * Names are the graph's hierarchical PyTorch names, so the file is a PyTorch
 * state_dict. Loading is strict like load_state_dict(strict=True) and
 * transactional: the whole file is checked against the model (names, dtypes,
 * shapes, nothing missing, nothing extra) before one byte is copied. Only the
 * public graph API is used. */
#include "nnc.h"
#include <stdlib.h>
#include <string.h>

typedef struct w_item { const char *name; nnc_tensor *t; } w_item;

static int w_cmp_name(const void *a, const void *b) {
    return strcmp(((const w_item *)a)->name, ((const w_item *)b)->name);
}

/* All parameters then all state of g, with their values; *n_out items.
 * Fails on unnamed nodes, missing storage and duplicate names. */
static nnc_status w_collect(nnc_graph *g, const char *path, w_item **out, int *n_out) {
    *out = NULL;
    *n_out = 0;
    nnc_status s = nnc_graph_init_params(g);
    if (s) return s;
    int np = nnc_graph_n_params(g), ns = nnc_graph_n_state(g);
    if (np < 0 || ns < 0) return nnc_error(NNC_ERR_STATE, "%s: the graph reports negative counts", path);
    w_item *it = malloc(((size_t)np + (size_t)ns + 1) * sizeof *it);
    if (!it) return nnc_error(NNC_ERR_OOM, "%s: out of memory", path);
    int n = 0;
    for (int i = 0; i < np + ns; i++) {
        nnc_node *nd = i < np ? nnc_graph_param_at(g, i) : nnc_graph_state_at(g, i - np);
        const char *name = nd ? nnc_node_name(nd) : NULL;
        nnc_tensor *t = nd ? nnc_node_value(nd) : NULL;
        const char *kind = i < np ? "parameter" : "state";
        if (!name || !*name) {
            free(it);
            return nnc_error(NNC_ERR_STATE, "%s: %s %d of the model has no name", path, kind, i < np ? i : i - np);
        }
        if (!t || (!t->data && nnc_tensor_numel(t) > 0)) {
            free(it);
            return nnc_error(NNC_ERR_STATE, "%s: %s '%s' of the model has no storage", path, kind, name);
        }
        if (t->layout != NNC_LAYOUT_PLAIN) {
            free(it);
            return nnc_error(NNC_ERR_UNSUPPORTED, "%s: %s '%s' is in a blocked layout", path, kind, name);
        }
        it[n++] = (w_item){name, t};
    }
    qsort(it, (size_t)n, sizeof *it, w_cmp_name);
    for (int i = 1; i < n; i++)
        if (!strcmp(it[i - 1].name, it[i].name)) {
            const char *dup = it[i].name;
            free(it);
            return nnc_error(NNC_ERR_STATE, "%s: the model has two tensors named '%s'", path, dup);
        }
    *out = it;
    *n_out = n;
    return NNC_OK;
}

nnc_status nnc_graph_save_meta(nnc_graph *g, const char *path, int n_meta, const char *const *meta_keys,
                               const char *const *meta_values) {
    if (!g || !path) return nnc_error(NNC_ERR_ARG, "nnc_graph_save: graph or path is NULL");
    if (n_meta < 0 || (n_meta > 0 && (!meta_keys || !meta_values)))
        return nnc_error(NNC_ERR_ARG, "%s: %d metadata entries without keys or values", path, n_meta);
    w_item *it;
    int n;
    nnc_status s = w_collect(g, path, &it, &n);
    if (s) return s;
    const char **names = malloc(((size_t)n + 1) * sizeof *names);
    nnc_tensor *ts = malloc(((size_t)n + 1) * sizeof *ts);
    const char **mk = malloc(((size_t)n_meta + 1) * sizeof *mk), **mv = malloc(((size_t)n_meta + 1) * sizeof *mv);
    if (!names || !ts || !mk || !mv) s = nnc_error(NNC_ERR_OOM, "%s: out of memory", path);
    else {
        for (int i = 0; i < n; i++) { names[i] = it[i].name; ts[i] = *it[i].t; }
        /* "format": "pt" tells Hugging Face loaders this is a PyTorch state_dict, unless the caller says otherwise */
        int m = 0, has_format = 0;
        for (int i = 0; i < n_meta; i++) {
            mk[m] = meta_keys[i];
            mv[m++] = meta_values[i];
            if (meta_keys[i] && !strcmp(meta_keys[i], "format")) has_format = 1;
        }
        if (!has_format) { mk[m] = "format"; mv[m++] = "pt"; }
        s = nnc_safetensors_write(path, n, names, ts, m, mk, mv);
    }
    free(names);
    free(ts);
    free(mk);
    free(mv);
    free(it);
    return s;
}

nnc_status nnc_graph_save(nnc_graph *g, const char *path) { return nnc_graph_save_meta(g, path, 0, NULL, NULL); }

static int w_same_shape(const nnc_tensor *a, const nnc_tensor *b) {
    if (a->ndim != b->ndim) return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return 0;
    return 1;
}

/* Checks every model tensor against the file, then every file tensor against the model. */
static nnc_status w_validate(const char *path, const nnc_safetensors *f, const w_item *it, int n) {
    int nf = nnc_safetensors_count(f);
    for (int i = 0; i < n; i++) {
        const nnc_tensor *ft = nnc_safetensors_get(f, it[i].name);
        if (!ft)
            return nnc_error(NNC_ERR_FORMAT,
                             "%s: missing key '%s' (the model has %d tensors, the file %d; the file looks like "
                             "another architecture)", path, it[i].name, n, nf);
        if (ft->dtype != it[i].t->dtype)
            return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s' has dtype %s, the model expects %s", path, it[i].name,
                             nnc_dtype_name(ft->dtype), nnc_dtype_name(it[i].t->dtype));
        if (!w_same_shape(ft, it[i].t)) {
            char a[128], b[128];
            return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s' has shape %s, the model expects %s", path, it[i].name,
                             nnc_shape_str(ft, a, sizeof a), nnc_shape_str(it[i].t, b, sizeof b));
        }
    }
    /* All n distinct model names are in the file; anything more is unexpected. */
    for (int i = 0; i < nf && nf != n; i++) {
        w_item key = {nnc_safetensors_name(f, i), NULL};
        if (!bsearch(&key, it, (size_t)n, sizeof *it, w_cmp_name))
            return nnc_error(NNC_ERR_FORMAT,
                             "%s: unexpected key '%s', not a parameter or state of the model (the model has %d "
                             "tensors, the file %d; the file looks like another architecture)",
                             path, key.name, n, nf);
    }
    return NNC_OK;
}

nnc_status nnc_graph_load(nnc_graph *g, const char *path) {
    if (!g || !path) return nnc_error(NNC_ERR_ARG, "nnc_graph_load: graph or path is NULL");
    w_item *it;
    int n;
    nnc_status s = w_collect(g, path, &it, &n);
    if (s) return s;
    nnc_safetensors *f = NULL;
    if (!(s = nnc_safetensors_open(path, &f)) && !(s = w_validate(path, f, it, n)))
        for (int i = 0; i < n; i++) {
            size_t bytes = nnc_tensor_bytes(it[i].t);
            if (bytes) memcpy(it[i].t->data, nnc_safetensors_get(f, it[i].name)->data, bytes);
        }
    nnc_safetensors_close(f);
    free(it);
    return s;
}
