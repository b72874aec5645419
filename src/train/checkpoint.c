/* checkpoint.c -- a training checkpoint directory:
 *   DIR/model.safetensors        the weights (nnc_model_save; loads in PyTorch)
 *   DIR/train_state.safetensors  optimizer buffers ("optimizer.slot0", ...)
 *                                and metadata: epoch, step, optimizer steps,
 *                                seed, parameter count
 * Each file is written to a temporary and renamed, so a crash leaves the
 * previous checkpoint intact. */
#include "core/graph.h"
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

static nnc_status ensure_dir(const char *dir) {
    struct stat st;
    if (stat(dir, &st) == 0) return S_ISDIR(st.st_mode) ? NNC_OK : nnc_error(NNC_ERR_IO, "checkpoint: '%s' exists and is not a directory", dir);
    if (mkdir(dir, 0777) != 0) return nnc_error(NNC_ERR_IO, "checkpoint: cannot create directory '%s': %s", dir, strerror(errno));
    return NNC_OK;
}

nnc_status nnc_checkpoint_save(nnc_model *m, const char *dir, int epoch) {
    if (!m || !dir) return nnc_error(NNC_ERR_ARG, "nnc_checkpoint_save: NULL argument");
    nnc_status s = ensure_dir(dir);
    if (s) return s;
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if ((s = nnc_model_save(m, path))) return s;
    nnc_graph *g = m->g;
    char names[4][32];
    const char *np[4];
    nnc_tensor ts[4];
    int n = g->n_opt_slots;
    for (int i = 0; i < n; i++) {
        snprintf(names[i], sizeof names[i], "optimizer.slot%d", i);
        np[i] = names[i];
        memset(&ts[i], 0, sizeof ts[i]);
        ts[i].dtype = NNC_F32;
        ts[i].ndim = 1;
        ts[i].shape[0] = g->n_param_elems;
        ts[i].data = g->block + (2 + i) * g->n_param_elems;
    }
    char ep[24], step[24], osteps[24], seed[24], pe[24], kind[8];
    snprintf(ep, sizeof ep, "%d", epoch);
    snprintf(step, sizeof step, "%" PRIu64, g->step);
    snprintf(osteps, sizeof osteps, "%" PRId64, g->opt_steps);
    snprintf(seed, sizeof seed, "%" PRIu64, g->seed);
    snprintf(pe, sizeof pe, "%" PRId64, g->n_param_elems);
    snprintf(kind, sizeof kind, "%d", (int)g->optim.kind);
    const char *keys[] = {"nnc.epoch", "nnc.step", "nnc.optimizer_steps", "nnc.seed", "nnc.param_elems", "nnc.optimizer"};
    const char *vals[] = {ep, step, osteps, seed, pe, kind};
    snprintf(path, sizeof path, "%s/train_state.safetensors", dir);
    return nnc_safetensors_write(path, n, np, ts, 6, keys, vals);
}

static int meta_i64(const nnc_safetensors *f, const char *key, int64_t *v) {
    const char *s = nnc_safetensors_meta(f, key);
    if (!s || !*s) return 0;
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (*end || errno) return 0;
    *v = x;
    return 1;
}

nnc_status nnc_checkpoint_load(nnc_model *m, const char *dir, int *epoch) {
    if (!m || !dir) return nnc_error(NNC_ERR_ARG, "nnc_checkpoint_load: NULL argument");
    nnc_status s = nnc_graph_init_params(m->g);
    if (s) return s;
    char path[4096];
    snprintf(path, sizeof path, "%s/train_state.safetensors", dir);
    nnc_safetensors *f = NULL;
    if ((s = nnc_safetensors_open(path, &f))) return s;
    nnc_graph *g = m->g;
    int64_t ep, step, osteps, seed, pe, kind;
    if (!meta_i64(f, "nnc.epoch", &ep) || !meta_i64(f, "nnc.step", &step) || !meta_i64(f, "nnc.optimizer_steps", &osteps) ||
        !meta_i64(f, "nnc.seed", &seed) || !meta_i64(f, "nnc.param_elems", &pe) || !meta_i64(f, "nnc.optimizer", &kind)) {
        nnc_safetensors_close(f);
        return nnc_error(NNC_ERR_FORMAT, "%s: missing or malformed training-state metadata", path);
    }
    if (pe != g->n_param_elems || ep < 0 || step < 0 || osteps < 0) {
        nnc_safetensors_close(f);
        return nnc_error(NNC_ERR_FORMAT, "%s: holds %lld parameter elements, the model has %lld", path, (long long)pe, (long long)g->n_param_elems);
    }
    if (kind != (int64_t)g->optim.kind || nnc_safetensors_count(f) != g->n_opt_slots) {
        nnc_safetensors_close(f);
        return nnc_error(NNC_ERR_FORMAT, "%s: saved with another optimizer (%lld buffers, this run uses %d)", path,
                         (long long)nnc_safetensors_count(f), g->n_opt_slots);
    }
    for (int i = 0; i < g->n_opt_slots; i++) {
        char name[32];
        snprintf(name, sizeof name, "optimizer.slot%d", i);
        const nnc_tensor *t = nnc_safetensors_get(f, name);
        if (!t || t->dtype != NNC_F32 || t->ndim != 1 || t->shape[0] != g->n_param_elems) {
            nnc_safetensors_close(f);
            return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s' missing or of the wrong shape", path, name);
        }
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if ((s = nnc_model_load(m, path))) { nnc_safetensors_close(f); return s; }
    for (int i = 0; i < g->n_opt_slots; i++) {
        char name[32];
        snprintf(name, sizeof name, "optimizer.slot%d", i);
        memcpy(g->block + (2 + i) * g->n_param_elems, nnc_safetensors_get(f, name)->data, (size_t)g->n_param_elems * sizeof(float));
    }
    nnc_safetensors_close(f);
    g->step = (uint64_t)step;
    g->opt_steps = osteps;
    g->seed = (uint64_t)seed;
    if (epoch) *epoch = (int)ep;
    return NNC_OK;
}
