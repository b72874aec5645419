/* train.c -- the training loop: epochs of shuffled mini-batches (the last
 * partial batch kept, with its own precompiled plan so nothing is allocated
 * mid-epoch), train loss/accuracy, a per-epoch learning-rate schedule
 * (nnc_lr_at), an optional seeded validation split with early stopping
 * (best-by-validation weights restored; the test set is never used for
 * selection), evaluation after each epoch, callbacks, and checkpoints every
 * N epochs or steps from which a resumed run continues bit-identically (also
 * from the middle of an epoch). Reliability: the loss is checked every step,
 * optional per-op anomaly detection, a memory limit checked before anything
 * is allocated, and a deterministic mode (docs/RELIABILITY.md). */
#include "core/graph.h"
#include "kernels/determinism.h"
#include <math.h>
#include <omp.h>
#include <string.h>
#include <sys/stat.h>
#include <errno.h>
#include <unistd.h>

nnc_train_opts nnc_train_defaults(void) {
    nnc_train_opts o;
    memset(&o, 0, sizeof o);
    o.epochs = 5;
    o.batch = 64;
    o.eval_batch = 1000;
    o.optim = nnc_optim_sgd(0.05f, 0.9f, 5e-4f);
    o.seed = 0;
    o.shuffle = 1;
    o.schedule.kind = NNC_SCHED_MULTISTEP;
    o.schedule.milestones[0] = 8;
    o.schedule.milestones[1] = 12;
    o.schedule.gamma = 0.1f;
    o.schedule.step_size = 1;
    o.schedule.power = 1;
    o.save_every = 1;
    return o;
}

#define VALSPLIT_STREAM 0x76616c73706c6974ull /* "valsplit" */

static nnc_status gather(const nnc_dataset *src, const uint8_t *pick, uint8_t want, int64_t n, nnc_dataset *dst) {
    nnc_dataset d = {0};
    int64_t shape[NNC_MAX_DIMS];
    memcpy(shape, src->x.shape, sizeof shape);
    shape[0] = n;
    nnc_status s = nnc_tensor_alloc(&d.x, src->x.dtype, src->x.ndim, shape);
    if (s) return s;
    if ((s = nnc_tensor_alloc(&d.y, src->y.dtype, 1, (int64_t[]){n}))) { nnc_tensor_free(&d.x); return s; }
    size_t xs = nnc_tensor_bytes(&src->x) / (size_t)src->n, ys = nnc_dtype_size(src->y.dtype);
    int64_t k = 0;
    for (int64_t i = 0; i < src->n; i++) {
        if (pick[i] != want) continue;
        memcpy((char *)d.x.data + (size_t)k * xs, (const char *)src->x.data + (size_t)i * xs, xs);
        memcpy((char *)d.y.data + (size_t)k * ys, (const char *)src->y.data + (size_t)i * ys, ys);
        k++;
    }
    d.n = n;
    d.n_classes = src->n_classes;
    *dst = d;
    return NNC_OK;
}

nnc_status nnc_dataset_split(const nnc_dataset *ds, float frac, uint64_t seed, nnc_dataset *train_out, nnc_dataset *val) {
    if (!ds || !train_out || !val || !ds->x.data || !ds->y.data) return nnc_error(NNC_ERR_ARG, "nnc_dataset_split: NULL argument");
    if (!(frac > 0 && frac < 1)) return nnc_error(NNC_ERR_ARG, "validation split %g must be in (0, 1)", (double)frac);
    if (ds->n < 2) return nnc_error(NNC_ERR_ARG, "validation split: %lld samples cannot be split", (long long)ds->n);
    int64_t nv = (int64_t)llround((double)frac * (double)ds->n);
    if (nv < 1) nv = 1;
    if (nv > ds->n - 1) nv = ds->n - 1;
    int64_t *perm = malloc((size_t)ds->n * sizeof *perm);
    uint8_t *pick = calloc((size_t)ds->n, 1);
    if (!perm || !pick) { free(perm); free(pick); return nnc_error(NNC_ERR_OOM, "validation split: out of memory"); }
    /* the first nv entries of a seeded Fisher-Yates shuffle */
    for (int64_t i = 0; i < ds->n; i++) perm[i] = i;
    for (int64_t i = 0; i < nv; i++) {
        int64_t j = i + (int64_t)(nnc_rand_uniform(seed, VALSPLIT_STREAM, (uint64_t)i) * (double)(ds->n - i));
        if (j >= ds->n) j = ds->n - 1;
        int64_t t = perm[i]; perm[i] = perm[j]; perm[j] = t;
        pick[perm[i]] = 1;
    }
    free(perm);
    nnc_status s = gather(ds, pick, 1, nv, val);
    if (!s && (s = gather(ds, pick, 0, ds->n - nv, train_out))) nnc_dataset_free(val);
    free(pick);
    return s;
}

static size_t state_bytes(const nnc_graph *g) {
    size_t b = 0;
    for (int i = 0; i < g->n_states; i++) {
        size_t e = (size_t)g->states[i]->block_off + nnc_tensor_bytes(&g->states[i]->out);
        if (e > b) b = e;
    }
    return b;
}

nnc_status nnc_model_normalize_data(nnc_model *m, nnc_dataset *train, nnc_dataset *test) {
    if (!m || !train) return nnc_error(NNC_ERR_ARG, "nnc_model_normalize_data: NULL argument");
    if (m->num_classes <= 0) { /* reconstruction models: their sigmoid output reproduces pixels in [0, 1] as loaded */
        m->norm_mean = 0.0f;
        m->norm_std = 1.0f;
        return NNC_OK;
    }
    double mean, std;
    nnc_dataset_stats(train, &mean, &std);
    if (!(std > 0)) return nnc_error(NNC_ERR_ARG, "training data has zero variance; cannot normalize");
    nnc_dataset_normalize(train, (float)mean, (float)std);
    if (test) nnc_dataset_normalize(test, (float)mean, (float)std);
    m->norm_mean = (float)mean;
    m->norm_std = (float)std;
    return NNC_OK;
}

static nnc_status check_data(const nnc_model *m, const nnc_dataset *ds, const char *what) {
    if (!ds) return NNC_OK;
    const nnc_tensor *x = &ds->x;
    int ok = x->ndim == 4 && x->shape[1] == m->in_shape[0] && x->shape[2] == m->in_shape[1] && x->shape[3] == m->in_shape[2];
    if (!ok) {
        char b[64];
        return nnc_error(NNC_ERR_SHAPE, "%s data has samples of shape %s, but model '%s' expects [N, %lld, %lld, %lld]", what,
                         nnc_shape_str(x, b, sizeof b), m->name, (long long)m->in_shape[0], (long long)m->in_shape[1], (long long)m->in_shape[2]);
    }
    if (m->num_classes > 0 && ds->n_classes > m->num_classes) /* 0: a reconstruction model ignores labels */
        return nnc_error(NNC_ERR_SHAPE, "%s data has %d classes, but model '%s' has %d outputs", what, ds->n_classes, m->name, m->num_classes);
    return NNC_OK;
}

/* Labels buffer of a classifier; NULL for reconstruction models (no classes). */
static void *labels_of(const nnc_model *m) { return m->num_classes > 0 ? m->labels->out.data : NULL; }

static int64_t count_correct(const nnc_model *m, int64_t nb, int64_t *pred_out) {
    if (m->num_classes <= 0) return 0;
    const float *lo = m->logits->out.data;
    const int64_t *y = m->labels->out.data;
    int64_t C = m->logits->out.shape[1], correct = 0;
    for (int64_t i = 0; i < nb; i++) {
        int64_t best = 0;
        for (int64_t c = 1; c < C; c++) if (lo[i * C + c] > lo[i * C + best]) best = c;
        if (pred_out) pred_out[i] = best;
        correct += best == y[i];
    }
    return correct;
}

nnc_status nnc_evaluate(nnc_model *m, const nnc_dataset *ds, int64_t batch, double *loss, double *acc, int64_t *pred) {
    if (!m || !ds) return nnc_error(NNC_ERR_ARG, "nnc_evaluate: NULL argument");
    if (batch <= 0) return nnc_error(NNC_ERR_ARG, "nnc_evaluate: batch %lld must be positive", (long long)batch);
    nnc_status s = check_data(m, ds, "evaluation");
    if (s) return s;
    int64_t per = nnc_static_features(m->input);
    double tot = 0;
    int64_t correct = 0;
    for (int64_t i = 0; i < ds->n; i += batch) {
        int64_t nb = ds->n - i < batch ? ds->n - i : batch;
        if ((s = nnc_graph_compile(m->g, nb, 0))) return s;
        memcpy(m->input->out.data, (const float *)ds->x.data + i * per, (size_t)(nb * per) * sizeof(float));
        int64_t *y = labels_of(m);
        for (int64_t j = 0; y && j < nb; j++)
            y[j] = ds->y.dtype == NNC_I64 ? ((const int64_t *)ds->y.data)[i + j] : ((const int32_t *)ds->y.data)[i + j];
        if ((s = nnc_graph_forward(m->g))) return s;
        tot += (double)nnc_graph_loss_value(m->g) * (double)nb;
        correct += count_correct(m, nb, pred ? pred + i : NULL);
    }
    if (loss) *loss = ds->n ? tot / (double)ds->n : 0;
    if (acc) *acc = m->num_classes <= 0 ? NAN : ds->n ? (double)correct / (double)ds->n : 0;
    return NNC_OK;
}

uint64_t nnc_physical_memory(void) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* What a run allocates: the parameter block, state, the larger of the
 * training and evaluation arenas and workspaces, the loader's order and the
 * early-stopping copies. */
typedef struct mem_need { nnc_mem_info tr, ev; int64_t eval_batch; uint64_t total; } mem_need;

static nnc_status memory_need(nnc_model *m, const nnc_dataset *train, const nnc_dataset *test, const nnc_train_opts *o, mem_need *r) {
    memset(r, 0, sizeof *r);
    nnc_status s = nnc_graph_plan_info(m->g, min64(o->batch, train->n > 0 ? train->n : 1), 1, &r->tr);
    if (s) return s;
    int64_t en = test ? test->n : 0;
    if (o->val_split > 0 && train->n > en) en = train->n;
    r->eval_batch = en > 0 ? min64(o->eval_batch, en) : 0;
    if (r->eval_batch && (s = nnc_graph_plan_info(m->g, r->eval_batch, 0, &r->ev))) return s;
    uint64_t b = r->tr.param_block_bytes + r->tr.state_bytes;
    b += r->tr.arena_bytes > r->ev.arena_bytes ? r->tr.arena_bytes : r->ev.arena_bytes;
    b += r->tr.workspace_bytes > r->ev.workspace_bytes ? r->tr.workspace_bytes : r->ev.workspace_bytes;
    b += (uint64_t)train->n * sizeof(int64_t); /* the loader's order */
    if (o->early_stop > 0) b += r->tr.param_block_bytes / (uint64_t)(2 + m->g->n_opt_slots) + r->tr.state_bytes;
    r->total = b;
    return NNC_OK;
}

nnc_status nnc_train_memory(nnc_model *m, const nnc_dataset *train, const nnc_dataset *test, const nnc_train_opts *o, uint64_t *bytes) {
    if (!m || !train || !o || !bytes) return nnc_error(NNC_ERR_ARG, "nnc_train_memory: NULL argument");
    if (o->batch <= 0 || o->eval_batch <= 0) return nnc_error(NNC_ERR_ARG, "nnc_train_memory: batch sizes must be positive");
    mem_need r;
    nnc_status s = memory_need(m, train, test, o, &r);
    if (!s) *bytes = r.total;
    return s;
}

static nnc_status check_memory(nnc_model *m, const nnc_dataset *train, const nnc_dataset *test, const nnc_train_opts *o) {
    uint64_t limit = o->max_memory ? o->max_memory : nnc_physical_memory();
    mem_need r;
    nnc_status s = memory_need(m, train, test, o, &r);
    if (s || !limit || r.total <= limit) return s;
    return nnc_error(NNC_ERR_OOM,
                     "training '%s' needs %llu bytes (%.2f MB: parameters, gradients and optimizer state %.2f MB, activations "
                     "%.2f MB at batch %lld, evaluation %.2f MB at batch %lld, workspace %.2f MB) but the memory limit is %llu "
                     "bytes (%.2f MB, %s); lower the batch sizes or raise the limit",
                     m->name, (unsigned long long)r.total, r.total / 1e6, r.tr.param_block_bytes / 1e6, r.tr.arena_bytes / 1e6,
                     (long long)o->batch, r.ev.arena_bytes / 1e6, (long long)r.eval_batch,
                     (r.tr.workspace_bytes > r.ev.workspace_bytes ? r.tr.workspace_bytes : r.ev.workspace_bytes) / 1e6,
                     (unsigned long long)limit, limit / 1e6, o->max_memory ? "max_memory" : "the machine's physical memory");
}

/* Adds "epoch E step S: " to a run-time error (anomaly, bad label, ...). */
static nnc_status at_step(nnc_status s, int e, int64_t st) {
    char msg[768];
    snprintf(msg, sizeof msg, "%s", nnc_last_error());
    return nnc_error(s, "epoch %d step %lld: %s", e + 1, (long long)st + 1, msg);
}

nnc_status nnc_train(nnc_model *m, const nnc_dataset *train_in, const nnc_dataset *test, const nnc_train_opts *opts) {
    if (!m || !train_in) return nnc_error(NNC_ERR_ARG, "nnc_train: NULL model or training data");
    nnc_train_opts o = opts ? *opts : nnc_train_defaults();
    if (o.epochs < 0) return nnc_error(NNC_ERR_ARG, "nnc_train: %d epochs", o.epochs);
    if (o.batch <= 0 || o.eval_batch <= 0) return nnc_error(NNC_ERR_ARG, "nnc_train: batch sizes must be positive");
    if (o.save_every < 0 || o.save_every_steps < 0)
        return nnc_error(NNC_ERR_ARG, "nnc_train: save_every %d and save_every_steps %lld must be >= 0", o.save_every, (long long)o.save_every_steps);
    if (o.schedule.total_epochs == 0) o.schedule.total_epochs = o.epochs;
    nnc_status s;
    if ((o.schedule.kind == NNC_SCHED_POLY || o.schedule.kind == NNC_SCHED_COSINE) && o.epochs == 0) o.schedule.kind = NNC_SCHED_NONE;
    if ((s = nnc_schedule_check(&o.schedule))) return s;
    if ((o.schedule.kind == NNC_SCHED_POLY || o.schedule.kind == NNC_SCHED_COSINE) && o.schedule.total_epochs < o.epochs)
        return nnc_error(NNC_ERR_ARG, "nnc_train: the schedule's total epochs %d are fewer than the %d training epochs", o.schedule.total_epochs, o.epochs);
    if (train_in->n <= 0) return nnc_error(NNC_ERR_ARG, "nnc_train: the training set is empty");
    if (o.val_split != 0 && !(o.val_split > 0 && o.val_split < 1))
        return nnc_error(NNC_ERR_ARG, "nnc_train: validation split %g must be in (0, 1) (0: none)", (double)o.val_split);
    if (o.early_stop < 0) return nnc_error(NNC_ERR_ARG, "nnc_train: early stop %d must be >= 0", o.early_stop);
    if (o.early_stop > 0 && o.val_split == 0) return nnc_error(NNC_ERR_ARG, "nnc_train: early stopping needs a validation split (val_split)");
    if ((s = check_data(m, train_in, "training")) || (s = check_data(m, test, "test"))) return s;
    if (o.deterministic && (s = nnc_kernels_deterministic())) return s;
    nnc_graph *g = m->g;
    if ((s = nnc_graph_set_optimizer(g, &o.optim))) return s;
    if ((s = check_memory(m, train_in, test, &o))) return s; /* before the parameters are allocated */
    if (!g->params_ready) nnc_graph_set_seed(g, o.seed);
    if ((s = nnc_graph_init_params(g))) return s;
    if (o.detect_anomaly) nnc_graph_set_detect_anomaly(g, 1);
    nnc_train_pos pos = {0};
    pos.data_seed = o.seed;
    if (o.resume_dir) {
        if ((s = nnc_checkpoint_load_pos(m, o.resume_dir, &pos))) return s;
        o.seed = pos.data_seed; /* the run's shuffles and split, whatever this call's seed */
        if (pos.batch > 0 && (pos.batch_size != o.batch || pos.train_samples != train_in->n))
            return nnc_error(NNC_ERR_ARG, "resume from '%s': the checkpoint was taken in the middle of an epoch with batch %lld and %lld "
                             "training samples; this run has batch %lld and %lld samples", o.resume_dir, (long long)pos.batch_size,
                             (long long)pos.train_samples, (long long)o.batch, (long long)train_in->n);
    }
    int save_every = o.save_every == 0 && o.save_every_steps == 0 ? 1 : o.save_every;

    nnc_dataset tr_split = {0}, val = {0};
    const nnc_dataset *train = train_in;
    if (o.val_split > 0) {
        if ((s = nnc_dataset_split(train_in, o.val_split, o.seed, &tr_split, &val))) return s;
        train = &tr_split;
    }
    /* early stopping: the best weights + state, allocated once here */
    float *best = NULL;
    unsigned char *best_state = NULL;
    size_t sb = state_bytes(g);
    size_t pb = (size_t)g->n_param_elems * sizeof(float);
    double best_loss = INFINITY;
    int since_best = 0, have_best = 0;
    if (o.early_stop > 0) {
        best = malloc(pb ? pb : 1);
        best_state = malloc(sb ? sb : 1);
        if (!best || !best_state) {
            free(best); free(best_state);
            nnc_dataset_free(&tr_split); nnc_dataset_free(&val);
            return nnc_error(NNC_ERR_OOM, "early stopping: cannot allocate a copy of %lld parameters", (long long)g->n_param_elems);
        }
    }

    nnc_loader *ld = NULL;
    if ((s = nnc_loader_new(train, o.batch, o.shuffle, o.seed, &ld))) goto done;
    int64_t steps = nnc_loader_batches_per_epoch(ld), last = train->n - (steps - 1) * o.batch;
    if (pos.batch >= steps) {
        s = nnc_error(NNC_ERR_FORMAT, "resume from '%s': the checkpoint is at batch %lld of an epoch of %lld batches", o.resume_dir,
                      (long long)pos.batch, (long long)steps);
        goto done;
    }
    /* both training plans exist before the first step */
    if ((s = nnc_graph_compile(g, last, 1)) || (s = nnc_graph_compile(g, o.batch, 1))) goto done;

    pos.batch_size = o.batch;
    pos.train_samples = train_in->n;
    pos.data_seed = o.seed;
    for (int e = pos.epoch; e < o.epochs; e++) {
        nnc_graph_set_lr(g, nnc_lr_at(&o.schedule, o.optim.lr, e));
        nnc_loader_start_epoch(ld, (uint64_t)e);
        double t0 = omp_get_wtime(), tot = 0;
        int64_t correct = 0, seen = 0, first = 0, fresh = 0;
        if (pos.epoch == e && pos.batch > 0) { /* resumed mid-epoch: replay the loader, keep the sums */
            first = pos.batch;
            if ((s = nnc_graph_compile(g, o.batch, 1))) break;
            for (int64_t k = 0; k < first; k++) nnc_loader_next(ld, m->input->out.data, labels_of(m), NNC_I64);
            tot = pos.loss_sum;
            correct = pos.correct;
            seen = pos.seen;
        }
        for (int64_t st = first; st < steps; st++) {
            int64_t nb = st == steps - 1 ? last : o.batch;
            if ((s = nnc_graph_compile(g, nb, 1))) break;
            int64_t got = nnc_loader_next(ld, m->input->out.data, labels_of(m), NNC_I64);
            if (got != nb) { s = nnc_error(NNC_ERR_STATE, "loader returned %lld samples, expected %lld", (long long)got, (long long)nb); break; }
            float loss;
            if ((s = nnc_graph_train_step(g, &loss))) { s = at_step(s, e, st); break; }
            if (!isfinite(loss)) { /* every step: one comparison */
                s = nnc_error(NNC_ERR_NUMERIC, "training diverged: loss is %g at epoch %d step %lld (try a lower learning rate, "
                              "or --detect-anomaly to find the op)", (double)loss, e + 1, (long long)st + 1);
                break;
            }
            tot += (double)loss * (double)nb;
            correct += count_correct(m, nb, NULL);
            seen += nb;
            fresh += nb;
            if (o.checkpoint_dir && o.save_every_steps && g->step % (uint64_t)o.save_every_steps == 0 && st + 1 < steps) {
                nnc_train_pos p = pos;
                p.epoch = e;
                p.batch = st + 1;
                p.loss_sum = tot;
                p.correct = correct;
                p.seen = seen;
                if ((s = nnc_checkpoint_save_pos(m, o.checkpoint_dir, &p))) break;
            }
            if (o.on_step) o.on_step(e + 1, st + 1, steps, loss, o.user);
        }
        if (s) break;
        nnc_epoch_stats es = {0};
        es.epoch = e + 1;
        es.time_s = omp_get_wtime() - t0;
        es.train_loss = tot / (double)seen;
        es.train_acc = m->num_classes > 0 ? (double)correct / (double)seen : NAN;
        es.img_per_s = (double)fresh / es.time_s;
        es.test_loss = es.test_acc = NAN;
        es.val_loss = es.val_acc = NAN;
        if (val.n && (s = nnc_evaluate(m, &val, o.eval_batch, &es.val_loss, &es.val_acc, NULL))) break;
        if (test && (s = nnc_evaluate(m, test, o.eval_batch, &es.test_loss, &es.test_acc, NULL))) break;
        int due = (save_every > 0 && (e + 1) % save_every == 0) || e + 1 == o.epochs ||
                  (o.save_every_steps && g->step % (uint64_t)o.save_every_steps == 0);
        if (o.checkpoint_dir && due) {
            nnc_train_pos p = pos;
            p.epoch = e + 1;
            p.batch = 0;
            p.loss_sum = 0;
            p.correct = p.seen = 0;
            if ((s = nnc_checkpoint_save_pos(m, o.checkpoint_dir, &p))) break;
        }
        if (o.on_epoch) o.on_epoch(&es, o.user);
        if (best) {
            if (es.val_loss < best_loss) {
                best_loss = es.val_loss;
                since_best = 0;
                have_best = 1;
                memcpy(best, g->block, pb);
                if (sb) memcpy(best_state, g->state_block, sb);
            } else if (++since_best >= o.early_stop) {
                break;
            }
        }
    }
    if (!s && have_best) { /* the best-by-validation weights and state */
        memcpy(g->block, best, pb);
        if (sb) memcpy(g->state_block, best_state, sb);
    }
done:
    nnc_loader_free(ld);
    free(best);
    free(best_state);
    nnc_dataset_free(&tr_split);
    nnc_dataset_free(&val);
    return s;
}
