/* checkpoint.c -- a training checkpoint directory:
 *   DIR/model.safetensors        the weights (nnc_model_save; loads in PyTorch)
 *   DIR/train_state.safetensors  everything an exact resume needs: "params"
 *                                (the flat parameter block), "optimizer.slotK",
 *                                "state" (the state block's bytes), and as
 *                                metadata the position (epoch, batch in epoch,
 *                                step counters, seeds, the epoch's running sums)
 * Each file is written to a temporary, fsync'd and renamed (safetensors.c),
 * the model first and the training state last. A resume takes parameters from
 * the training state, so a kill between the two renames (new weights, old
 * state) still resumes exactly from the older position; model.safetensors is
 * read only for the architecture check and the normalization. Temporaries of
 * writers that were killed are removed by the next save. */
#include "core/graph.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define N_META 15

/* Creates dir if needed, and syncs its parent so the new entry survives a power cut. */
static nnc_status ensure_dir(const char *dir) {
    struct stat st;
    if (stat(dir, &st) == 0) return S_ISDIR(st.st_mode) ? NNC_OK : nnc_error(NNC_ERR_IO, "checkpoint: '%s' exists and is not a directory", dir);
    if (mkdir(dir, 0777) != 0) return nnc_error(NNC_ERR_IO, "checkpoint: cannot create directory '%s': %s", dir, strerror(errno));
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", dir);
    size_t n = strlen(parent);
    while (n > 1 && parent[n - 1] == '/') parent[--n] = 0; /* "a/b/" -> "a/b" */
    char *slash = strrchr(parent, '/');
    if (!slash) snprintf(parent, sizeof parent, ".");
    else slash[slash == parent ? 1 : 0] = 0;
    int fd = open(parent, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        if (fsync(fd) != 0 && errno != EINVAL) {
            int e = errno;
            close(fd);
            return nnc_error(NNC_ERR_IO, "checkpoint: cannot sync directory '%s': %s", parent, strerror(e));
        }
        close(fd);
    }
    return NNC_OK;
}

/* Removes "model.safetensors.tmp.<pid>" and "train_state.safetensors.tmp.<pid>"
 * whose writer no longer runs; a live writer's temporary is left alone. */
static void remove_stale_temps(const char *dir) {
    static const char *const prefix[] = {"model.safetensors.tmp.", "train_state.safetensors.tmp."};
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        for (int k = 0; k < 2; k++) {
            size_t pl = strlen(prefix[k]);
            if (strncmp(e->d_name, prefix[k], pl)) continue;
            char *end;
            long pid = strtol(e->d_name + pl, &end, 10);
            if (*end || pid <= 0 || pid == (long)getpid()) continue;
            if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
}

static size_t state_block_bytes(const nnc_graph *g) {
    size_t b = 0;
    for (int i = 0; i < g->n_states; i++) {
        size_t e = (size_t)g->states[i]->block_off + nnc_tensor_bytes(&g->states[i]->out);
        if (e > b) b = e;
    }
    return b;
}

static nnc_tensor flat(nnc_dtype dt, int64_t n, void *data) {
    nnc_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = dt;
    t.ndim = 1;
    t.shape[0] = n;
    t.data = data;
    return t;
}

nnc_status nnc_checkpoint_save_pos(nnc_model *m, const char *dir, const nnc_train_pos *pos) {
    if (!m || !dir || !pos) return nnc_error(NNC_ERR_ARG, "nnc_checkpoint_save_pos: NULL argument");
    nnc_graph *g = m->g;
    if (!g->params_ready) return nnc_error(NNC_ERR_STATE, "checkpoint: the model's parameters are not allocated yet");
    nnc_status s = ensure_dir(dir);
    if (s) return s;
    remove_stale_temps(dir);
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if ((s = nnc_model_save(m, path))) return s;

    char names[4][32];
    const char *np[6];
    nnc_tensor ts[6];
    if (g->n_opt_slots > 4) return nnc_error(NNC_ERR_STATE, "checkpoint: %d optimizer buffers (at most 4)", g->n_opt_slots);
    int n = 0;
    np[n] = "params";
    ts[n++] = flat(NNC_F32, g->n_param_elems, g->block);
    for (int i = 0; i < g->n_opt_slots; i++) {
        snprintf(names[i], sizeof names[i], "optimizer.slot%d", i);
        np[n] = names[i];
        ts[n++] = flat(NNC_F32, g->n_param_elems, g->block + (2 + i) * g->n_param_elems);
    }
    size_t sb = state_block_bytes(g);
    if (sb) {
        np[n] = "state";
        ts[n++] = flat(NNC_U8, (int64_t)sb, g->state_block);
    }
    char v[N_META][32];
    int k = 0;
    snprintf(v[k++], 32, "%d", pos->epoch);
    snprintf(v[k++], 32, "%" PRIu64, g->step);
    snprintf(v[k++], 32, "%" PRId64, g->opt_steps);
    snprintf(v[k++], 32, "%" PRIu64, g->seed);
    snprintf(v[k++], 32, "%" PRId64, g->n_param_elems);
    snprintf(v[k++], 32, "%d", (int)g->optim.kind);
    snprintf(v[k++], 32, "%" PRId64, pos->batch);
    snprintf(v[k++], 32, "%" PRId64, pos->batch_size);
    snprintf(v[k++], 32, "%" PRId64, pos->train_samples);
    snprintf(v[k++], 32, "%" PRIu64, pos->data_seed);
    snprintf(v[k++], 32, "%.17g", pos->loss_sum); /* round-trips exactly */
    snprintf(v[k++], 32, "%" PRId64, pos->correct);
    snprintf(v[k++], 32, "%" PRId64, pos->seen);
    snprintf(v[k++], 32, "%zu", sb);
    snprintf(v[k++], 32, "2");
    const char *keys[N_META] = {"nnc.epoch", "nnc.step", "nnc.optimizer_steps", "nnc.seed", "nnc.param_elems", "nnc.optimizer",
                                "nnc.epoch_batch", "nnc.batch_size", "nnc.train_samples", "nnc.data_seed", "nnc.epoch_loss_sum",
                                "nnc.epoch_correct", "nnc.epoch_seen", "nnc.state_bytes", "nnc.checkpoint_version"};
    const char *vals[N_META];
    for (int i = 0; i < N_META; i++) vals[i] = v[i];
    snprintf(path, sizeof path, "%s/train_state.safetensors", dir);
    return nnc_safetensors_write(path, n, np, ts, N_META, keys, vals);
}

nnc_status nnc_checkpoint_save(nnc_model *m, const char *dir, int epoch) {
    if (!m) return nnc_error(NNC_ERR_ARG, "nnc_checkpoint_save: NULL argument");
    nnc_train_pos pos = {0};
    pos.epoch = epoch;
    pos.data_seed = m->g->seed;
    return nnc_checkpoint_save_pos(m, dir, &pos);
}

/* 1 and *v set when key holds an integer in [lo, hi]; 0 when absent or malformed. */
static int meta_i64(const nnc_safetensors *f, const char *key, int64_t lo, int64_t hi, int64_t *v) {
    const char *s = nnc_safetensors_meta(f, key);
    if (!s || !*s) return 0;
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (*end || errno || x < lo || x > hi) return 0;
    *v = x;
    return 1;
}
static int meta_u64(const nnc_safetensors *f, const char *key, uint64_t *v) {
    const char *s = nnc_safetensors_meta(f, key);
    if (!s || *s < '0' || *s > '9') return 0;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (*end || errno) return 0;
    *v = x;
    return 1;
}

/* The tensor `name` as F32/U8 [n], or NULL. */
static const nnc_tensor *get_flat(const nnc_safetensors *f, const char *name, nnc_dtype dt, int64_t n) {
    const nnc_tensor *t = nnc_safetensors_get(f, name);
    return t && t->dtype == dt && t->ndim == 1 && t->shape[0] == n ? t : NULL;
}

static nnc_status load_state(nnc_model *m, const char *dir, nnc_safetensors *f, const char *path, nnc_train_pos *pos) {
    nnc_graph *g = m->g;
    const int64_t BIG = INT64_MAX / 2;
    int64_t ep, osteps, pe, kind, version = 1;
    uint64_t step, seed;
    if (!meta_i64(f, "nnc.epoch", 0, 1 << 30, &ep) || !meta_u64(f, "nnc.step", &step) || !meta_i64(f, "nnc.optimizer_steps", 0, BIG, &osteps) ||
        !meta_u64(f, "nnc.seed", &seed) || !meta_i64(f, "nnc.param_elems", 0, BIG, &pe) || !meta_i64(f, "nnc.optimizer", 0, 64, &kind))
        return nnc_error(NNC_ERR_FORMAT, "%s: missing or malformed training-state metadata (epoch, step, optimizer_steps, seed, param_elems, optimizer)", path);
    if (pe != g->n_param_elems)
        return nnc_error(NNC_ERR_FORMAT, "%s: holds %lld parameter elements, the model has %lld", path, (long long)pe, (long long)g->n_param_elems);
    nnc_train_pos p = {0};
    p.epoch = (int)ep;
    p.data_seed = seed;
    const nnc_tensor *params = NULL, *state = NULL;
    size_t sb = state_block_bytes(g);
    int n_expect = g->n_opt_slots;
    if (meta_i64(f, "nnc.checkpoint_version", 1, 1000, &version) && version >= 2) {
        /* version 2: exact position and the parameter/state blocks */
        int64_t sbytes;
        if (!meta_i64(f, "nnc.epoch_batch", 0, BIG, &p.batch) || !meta_i64(f, "nnc.batch_size", 0, BIG, &p.batch_size) ||
            !meta_i64(f, "nnc.train_samples", 0, BIG, &p.train_samples) || !meta_u64(f, "nnc.data_seed", &p.data_seed) ||
            !meta_i64(f, "nnc.epoch_correct", 0, BIG, &p.correct) || !meta_i64(f, "nnc.epoch_seen", 0, BIG, &p.seen) ||
            !meta_i64(f, "nnc.state_bytes", 0, BIG, &sbytes))
            return nnc_error(NNC_ERR_FORMAT, "%s: missing or malformed training position metadata", path);
        const char *ls = nnc_safetensors_meta(f, "nnc.epoch_loss_sum");
        char *end = NULL;
        p.loss_sum = ls ? strtod(ls, &end) : 0;
        if (!ls || !*ls || *end) return nnc_error(NNC_ERR_FORMAT, "%s: malformed nnc.epoch_loss_sum", path);
        if ((size_t)sbytes != sb)
            return nnc_error(NNC_ERR_FORMAT, "%s: holds %lld bytes of state buffers, the model has %zu", path, (long long)sbytes, sb);
        if (!(params = get_flat(f, "params", NNC_F32, pe)))
            return nnc_error(NNC_ERR_FORMAT, "%s: tensor 'params' missing or not F32 [%lld]", path, (long long)pe);
        if (sb && !(state = get_flat(f, "state", NNC_U8, (int64_t)sb)))
            return nnc_error(NNC_ERR_FORMAT, "%s: tensor 'state' missing or not U8 [%zu]", path, sb);
        n_expect += 1 + (sb ? 1 : 0);
    }
    if (kind != (int64_t)g->optim.kind || nnc_safetensors_count(f) != n_expect)
        return nnc_error(NNC_ERR_FORMAT, "%s: saved with another optimizer (kind %lld, %d tensors; this run uses kind %d with %d buffers)", path,
                         (long long)kind, nnc_safetensors_count(f), (int)g->optim.kind, g->n_opt_slots);
    for (int i = 0; i < g->n_opt_slots; i++) {
        char name[32];
        snprintf(name, sizeof name, "optimizer.slot%d", i);
        if (!get_flat(f, name, NNC_F32, pe)) return nnc_error(NNC_ERR_FORMAT, "%s: tensor '%s' missing or of the wrong shape", path, name);
    }
    /* everything validated: the weights file checks the architecture and
     * brings the normalization; the training state then sets the exact values */
    char mpath[4096];
    snprintf(mpath, sizeof mpath, "%s/model.safetensors", dir);
    nnc_status s = nnc_model_load(m, mpath);
    if (s) return s;
    if (params) memcpy(g->block, params->data, (size_t)pe * sizeof(float));
    if (state) memcpy(g->state_block, state->data, sb);
    for (int i = 0; i < g->n_opt_slots; i++) {
        char name[32];
        snprintf(name, sizeof name, "optimizer.slot%d", i);
        memcpy(g->block + (2 + i) * pe, nnc_safetensors_get(f, name)->data, (size_t)pe * sizeof(float));
    }
    g->step = step;
    g->opt_steps = osteps;
    g->seed = seed;
    if (pos) *pos = p;
    return NNC_OK;
}

nnc_status nnc_checkpoint_load_pos(nnc_model *m, const char *dir, nnc_train_pos *pos) {
    if (!m || !dir) return nnc_error(NNC_ERR_ARG, "nnc_checkpoint_load: NULL argument");
    nnc_status s = nnc_graph_init_params(m->g);
    if (s) return s;
    char path[4096];
    snprintf(path, sizeof path, "%s/train_state.safetensors", dir);
    nnc_safetensors *f = NULL;
    if ((s = nnc_safetensors_open(path, &f))) return s;
    s = load_state(m, dir, f, path, pos);
    nnc_safetensors_close(f);
    return s;
}

nnc_status nnc_checkpoint_load(nnc_model *m, const char *dir, int *epoch) {
    nnc_train_pos pos;
    nnc_status s = nnc_checkpoint_load_pos(m, dir, &pos);
    if (!s && epoch) *epoch = pos.epoch;
    return s;
}
