/* train.c -- the training loop: epochs of shuffled mini-batches (the last
 * partial batch kept, with its own precompiled plan so nothing is allocated
 * mid-epoch), train loss/accuracy, evaluation after each epoch, callbacks,
 * and checkpoints. */
#include "core/graph.h"
#include <math.h>
#include <omp.h>
#include <string.h>
#include <sys/stat.h>
#include <errno.h>

nnc_train_opts nnc_train_defaults(void) {
    nnc_train_opts o;
    memset(&o, 0, sizeof o);
    o.epochs = 5;
    o.batch = 64;
    o.eval_batch = 1000;
    o.optim = nnc_optim_sgd(0.05f, 0.9f, 5e-4f);
    o.seed = 0;
    o.shuffle = 1;
    o.lr_steps[0] = 8;
    o.lr_steps[1] = 12;
    o.lr_gamma = 0.1f;
    return o;
}

nnc_status nnc_model_normalize_data(nnc_model *m, nnc_dataset *train, nnc_dataset *test) {
    if (!m || !train) return nnc_error(NNC_ERR_ARG, "nnc_model_normalize_data: NULL argument");
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
    if (ds->n_classes > m->num_classes)
        return nnc_error(NNC_ERR_SHAPE, "%s data has %d classes, but model '%s' has %d outputs", what, ds->n_classes, m->name, m->num_classes);
    return NNC_OK;
}

static int64_t count_correct(const nnc_model *m, int64_t nb, int64_t *pred_out) {
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
        int64_t *y = m->labels->out.data;
        for (int64_t j = 0; j < nb; j++)
            y[j] = ds->y.dtype == NNC_I64 ? ((const int64_t *)ds->y.data)[i + j] : ((const int32_t *)ds->y.data)[i + j];
        if ((s = nnc_graph_forward(m->g))) return s;
        tot += (double)nnc_graph_loss_value(m->g) * (double)nb;
        correct += count_correct(m, nb, pred ? pred + i : NULL);
    }
    if (loss) *loss = ds->n ? tot / (double)ds->n : 0;
    if (acc) *acc = ds->n ? (double)correct / (double)ds->n : 0;
    return NNC_OK;
}

nnc_status nnc_train(nnc_model *m, const nnc_dataset *train, const nnc_dataset *test, const nnc_train_opts *opts) {
    if (!m || !train) return nnc_error(NNC_ERR_ARG, "nnc_train: NULL model or training data");
    nnc_train_opts o = opts ? *opts : nnc_train_defaults();
    if (o.epochs < 0) return nnc_error(NNC_ERR_ARG, "nnc_train: %d epochs", o.epochs);
    if (o.batch <= 0 || o.eval_batch <= 0) return nnc_error(NNC_ERR_ARG, "nnc_train: batch sizes must be positive");
    if (!(o.lr_gamma > 0 && isfinite(o.lr_gamma))) return nnc_error(NNC_ERR_ARG, "nnc_train: lr_gamma %g must be positive", (double)o.lr_gamma);
    if (train->n <= 0) return nnc_error(NNC_ERR_ARG, "nnc_train: the training set is empty");
    nnc_status s;
    if ((s = check_data(m, train, "training")) || (s = check_data(m, test, "test"))) return s;
    nnc_graph *g = m->g;
    int first_epoch = 0;
    if (!g->params_ready) nnc_graph_set_seed(g, o.seed);
    if ((s = nnc_graph_set_optimizer(g, &o.optim))) return s;
    if ((s = nnc_graph_init_params(g))) return s;
    if (o.resume_dir && (s = nnc_checkpoint_load(m, o.resume_dir, &first_epoch))) return s;

    nnc_loader *ld = NULL;
    if ((s = nnc_loader_new(train, o.batch, o.shuffle, o.seed, &ld))) return s;
    int64_t steps = nnc_loader_batches_per_epoch(ld), last = train->n - (steps - 1) * o.batch;
    /* both training plans exist before the first step */
    if ((s = nnc_graph_compile(g, last, 1)) || (s = nnc_graph_compile(g, o.batch, 1))) { nnc_loader_free(ld); return s; }

    for (int e = first_epoch; e < o.epochs; e++) {
        float lr = o.optim.lr;
        for (int i = 0; i < 8 && o.lr_steps[i] > 0; i++)
            if (e + 1 >= o.lr_steps[i]) lr *= o.lr_gamma;
        nnc_graph_set_lr(g, lr);
        nnc_loader_start_epoch(ld, (uint64_t)e);
        double t0 = omp_get_wtime(), tot = 0;
        int64_t correct = 0, seen = 0;
        for (int64_t st = 0; st < steps; st++) {
            int64_t nb = st == steps - 1 ? last : o.batch;
            if ((s = nnc_graph_compile(g, nb, 1))) break;
            int64_t got = nnc_loader_next(ld, m->input->out.data, m->labels->out.data, NNC_I64);
            if (got != nb) { s = nnc_error(NNC_ERR_STATE, "loader returned %lld samples, expected %lld", (long long)got, (long long)nb); break; }
            float loss;
            if ((s = nnc_graph_train_step(g, &loss))) break;
            if (!isfinite(loss)) {
                s = nnc_error(NNC_ERR_NUMERIC, "training diverged: loss is %g at epoch %d step %lld (try a lower learning rate)", (double)loss, e + 1, (long long)st + 1);
                break;
            }
            tot += (double)loss * (double)nb;
            correct += count_correct(m, nb, NULL);
            seen += nb;
            if (o.on_step) o.on_step(e + 1, st + 1, steps, loss, o.user);
        }
        if (s) break;
        nnc_epoch_stats es = {0};
        es.epoch = e + 1;
        es.time_s = omp_get_wtime() - t0;
        es.train_loss = tot / (double)seen;
        es.train_acc = (double)correct / (double)seen;
        es.img_per_s = (double)seen / es.time_s;
        es.test_loss = es.test_acc = NAN;
        if (test && (s = nnc_evaluate(m, test, o.eval_batch, &es.test_loss, &es.test_acc, NULL))) break;
        if (o.checkpoint_dir && (s = nnc_checkpoint_save(m, o.checkpoint_dir, e + 1))) break;
        if (o.on_epoch) o.on_epoch(&es, o.user);
    }
    nnc_loader_free(ld);
    return s;
}
