/* test_resume.c -- exact resume and determinism. A small CNN with batch norm
 * (state buffers) and dropout trains on synthetic 1x8x8 data with shuffling,
 * a partial last batch and a non-constant rate schedule; training 2 epochs
 * straight must give bit-identical parameters and state (memcmp) to 1 epoch +
 * checkpoint + resume + 1 epoch, to a resume from the middle of an epoch, and
 * to a resume from a checkpoint whose weights file is one save ahead of its
 * training state (a kill between the two renames). Two runs of 300 steps with
 * one seed and thread count are bit-identical; another seed differs.
 * Deterministic mode chosen too late (after oneDNN ran) is refused. */
#include "testlib.h"
#include <dnnl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *CFG =
    "[net]\nwidth=8\nheight=8\nchannels=1\n\n"
    "[convolutional]\nfilters=6\nsize=3\nstride=1\npad=1\nbatch_normalize=1\nactivation=relu\n\n"
    "[maxpool]\nsize=2\nstride=2\n\n"
    "[dropout]\nprobability=0.3\n\n"
    "[connected]\noutput=16\nactivation=relu\n\n"
    "[dropout]\nprobability=0.2\n\n"
    "[connected]\noutput=10\nactivation=linear\n\n"
    "[softmax]\n";

static char cfg_path[128], tmpdir[64];

/* n samples of 1x8x8 uniform noise; the label is a class of the mean of a quadrant, so there is something to learn. */
static void make_data(nnc_dataset *ds, int64_t n, uint64_t seed) {
    memset(ds, 0, sizeof *ds);
    T_OK(nnc_tensor_alloc(&ds->x, NNC_F32, 4, (int64_t[]){n, 1, 8, 8}));
    T_OK(nnc_tensor_alloc(&ds->y, NNC_I64, 1, (int64_t[]){n}));
    float *x = ds->x.data;
    int64_t *y = ds->y.data;
    for (int64_t i = 0; i < n; i++) {
        double q = 0;
        for (int k = 0; k < 64; k++) {
            x[i * 64 + k] = nnc_rand_uniform(seed, 77, (uint64_t)(i * 64 + k));
            if (k % 8 < 4 && k < 32) q += x[i * 64 + k];
        }
        y[i] = (int64_t)(q / 16 * 10) % 10;
    }
    ds->n = n;
    ds->n_classes = 10;
}

/* Parameters then state buffers, concatenated (caller frees). */
static unsigned char *snapshot(nnc_model *m, size_t *bytes) {
    size_t b = 0;
    for (int i = 0; i < nnc_graph_n_params(m->g); i++) b += nnc_tensor_bytes(nnc_node_value(nnc_graph_param_at(m->g, i)));
    for (int i = 0; i < nnc_graph_n_state(m->g); i++) b += nnc_tensor_bytes(nnc_node_value(nnc_graph_state_at(m->g, i)));
    unsigned char *p = malloc(b ? b : 1), *q = p;
    for (int i = 0; i < nnc_graph_n_params(m->g); i++) {
        nnc_tensor *t = nnc_node_value(nnc_graph_param_at(m->g, i));
        memcpy(q, t->data, nnc_tensor_bytes(t));
        q += nnc_tensor_bytes(t);
    }
    for (int i = 0; i < nnc_graph_n_state(m->g); i++) {
        nnc_tensor *t = nnc_node_value(nnc_graph_state_at(m->g, i));
        memcpy(q, t->data, nnc_tensor_bytes(t));
        q += nnc_tensor_bytes(t);
    }
    *bytes = b;
    return p;
}

static int copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = a ? fopen(to, "wb") : NULL;
    int ok = a && b;
    char buf[65536];
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, a)) > 0) ok = fwrite(buf, 1, n, b) == n;
    if (a) fclose(a);
    if (b && fclose(b)) ok = 0;
    return ok;
}

static void copy_ckpt(const char *from, const char *to) {
    char a[256], b[256];
    const char *files[] = {"model.safetensors", "train_state.safetensors"};
    char cmd[300];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", to);
    T_CHECK(system(cmd) == 0);
    for (int i = 0; i < 2; i++) {
        snprintf(a, sizeof a, "%s/%s", from, files[i]);
        snprintf(b, sizeof b, "%s/%s", to, files[i]);
        T_CHECKF(copy_file(a, b), "copy %s -> %s", a, b);
    }
}

/* on_step hook: snapshot the checkpoint directory right after global step `at` */
typedef struct snap { int epoch; int64_t step; const char *from, *to; int done; } snap;
static void on_step_snap(int epoch, int64_t step, int64_t steps, float loss, void *user) {
    (void)steps; (void)loss;
    snap *s = user;
    if (epoch == s->epoch && step == s->step) { copy_ckpt(s->from, s->to); s->done = 1; }
}

static nnc_train_opts recipe(int optimizer) {
    nnc_train_opts o = nnc_train_defaults();
    o.batch = 16; /* 100 samples: 6 full batches and one of 4 */
    o.eval_batch = 50;
    o.seed = 11;
    o.epochs = 2;
    if (optimizer == 0) {
        o.optim = nnc_optim_sgd(0.1f, 0.9f, 5e-4f);
        o.optim.nesterov = 1;
        o.schedule.kind = NNC_SCHED_COSINE; /* epoch 2 runs at another rate */
        o.schedule.total_epochs = 3;
    } else {
        o.optim = nnc_optim_adam(0.01f, 1e-4f);
        o.schedule.kind = NNC_SCHED_MULTISTEP;
        o.schedule.milestones[0] = 2;
        o.schedule.milestones[1] = 0;
        o.schedule.gamma = 0.3f;
    }
    return o;
}

/* Trains a fresh model with o; returns its parameters and state. */
static unsigned char *run(nnc_train_opts o, const nnc_dataset *tr, const nnc_dataset *te, size_t *bytes) {
    nnc_model *m = NULL;
    unsigned char *p = NULL;
    T_OK(nnc_model_build(cfg_path, NULL, &m));
    if (!m) return NULL;
    T_OK(nnc_train(m, tr, te, &o));
    p = snapshot(m, bytes);
    nnc_model_free(m);
    return p;
}

static void check_same(const char *what, const unsigned char *a, size_t na, const unsigned char *b, size_t nb) {
    T_CHECKF(a && b && na == nb && na > 0, "%s: sizes %zu vs %zu", what, na, nb);
    if (a && b && na == nb) {
        size_t i = 0;
        while (i < na && a[i] == b[i]) i++;
        T_CHECKF(i == na, "%s: first differing byte %zu of %zu", what, i, na);
    }
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/nnc_resume_XXXXXX");
    if (!mkdtemp(tmpdir)) { printf("FAIL: mkdtemp\n"); return 1; }
    snprintf(cfg_path, sizeof cfg_path, "%s/net.cfg", tmpdir);
    FILE *f = fopen(cfg_path, "w");
    if (!f) { printf("FAIL: cannot write %s\n", cfg_path); return 1; }
    fputs(CFG, f);
    fclose(f);
    nnc_dataset tr, te;
    make_data(&tr, 100, 1);
    make_data(&te, 50, 2);
    char d1[128], d2[128], d3[128], d4[128];

    for (int opt = 0; opt < 2; opt++) {
        char name[160];
        snprintf(name, sizeof name, "%s: 2 epochs straight == 1 epoch + checkpoint + resume + 1 epoch (bitwise)",
                 opt ? "Adam, multistep" : "SGD Nesterov, cosine");
        T_CASE(name) {
            snprintf(d1, sizeof d1, "%s/ck%d", tmpdir, opt);
            size_t na = 0, nb = 0;
            unsigned char *a = run(recipe(opt), &tr, &te, &na);
            nnc_train_opts o = recipe(opt);
            o.epochs = 1;
            o.checkpoint_dir = d1;
            free(run(o, &tr, &te, &nb));
            o = recipe(opt);
            o.seed = 999; /* ignored: the checkpoint's seeds rule */
            o.resume_dir = d1;
            unsigned char *b = run(o, &tr, &te, &nb);
            check_same("resumed vs straight", a, na, b, nb);
            /* a different run really differs, so the comparison can fail */
            o = recipe(opt);
            o.seed = 12;
            size_t nc = 0;
            unsigned char *c = run(o, &tr, &te, &nc);
            T_CHECK(c && nc == na && memcmp(a, c, na) != 0);
            free(a); free(b); free(c);
        }
    }

    T_CASE("resume from the middle of an epoch (save_every_steps) is bitwise identical") {
        size_t na = 0, nb = 0;
        unsigned char *a = run(recipe(0), &tr, &te, &na);
        snprintf(d2, sizeof d2, "%s/steps", tmpdir);
        snprintf(d3, sizeof d3, "%s/snap", tmpdir);
        nnc_train_opts o = recipe(0);
        o.checkpoint_dir = d2;
        o.save_every = 0;
        o.save_every_steps = 5; /* global steps 5 (epoch 1 batch 5) and 10 (epoch 2 batch 3) */
        snap s = {2, 3, d2, d3, 0};
        o.on_step = on_step_snap;
        o.user = &s;
        unsigned char *b = run(o, &tr, &te, &nb);
        T_CHECK(s.done);
        check_same("a run that saves every 5 steps vs straight", a, na, b, nb);
        free(b);
        nnc_model *m = NULL;
        T_OK(nnc_model_build(cfg_path, NULL, &m));
        nnc_optim opt = recipe(0).optim;
        T_OK(nnc_graph_set_optimizer(m->g, &opt));
        nnc_train_pos pos;
        T_OK(nnc_checkpoint_load_pos(m, d3, &pos));
        T_CHECKF(pos.epoch == 1 && pos.batch == 3 && pos.seen == 48 && pos.batch_size == 16 && pos.train_samples == 100,
                 "position epoch %d batch %lld seen %lld", pos.epoch, (long long)pos.batch, (long long)pos.seen);
        nnc_model_free(m);
        o = recipe(0);
        o.resume_dir = d3;
        b = run(o, &tr, &te, &nb);
        check_same("resumed at epoch 2 batch 3 vs straight", a, na, b, nb);
        free(b);
        /* the position fixes the batch size: another one is refused */
        o.batch = 20;
        T_OK(nnc_model_build(cfg_path, NULL, &m));
        T_CHECK(nnc_train(m, &tr, &te, &o) == NNC_ERR_ARG);
        T_CHECKF(strstr(nnc_last_error(), "middle of an epoch") && strstr(nnc_last_error(), "batch 16"), "message: %s", nnc_last_error());
        nnc_model_free(m);
        free(a);
    }

    T_CASE("a kill between the two renames (new weights file, old training state) still resumes exactly") {
        size_t na = 0, nb = 0;
        unsigned char *a = run(recipe(1), &tr, &te, &na);
        snprintf(d4, sizeof d4, "%s/torn", tmpdir);
        nnc_train_opts o = recipe(1);
        o.epochs = 1;
        o.checkpoint_dir = d4;
        free(run(o, &tr, &te, &nb));
        o = recipe(1);
        o.checkpoint_dir = d1; /* the full run's epoch-2 weights */
        free(run(o, &tr, &te, &nb));
        char from[256], to[256];
        snprintf(from, sizeof from, "%s/model.safetensors", d1);
        snprintf(to, sizeof to, "%s/model.safetensors", d4);
        T_CHECK(copy_file(from, to));
        o = recipe(1);
        o.resume_dir = d4;
        unsigned char *b = run(o, &tr, &te, &nb);
        check_same("resumed from a torn checkpoint vs straight", a, na, b, nb);
        free(a); free(b);
    }

    T_CASE("determinism: two runs of 300 steps with one seed and thread count are bitwise identical") {
        nnc_train_opts o = recipe(0);
        o.epochs = 43; /* 7 steps an epoch */
        o.schedule.total_epochs = 43;
        o.optim.lr = 0.02f;
        size_t na = 0, nb = 0;
        unsigned char *a = run(o, &tr, NULL, &na);
        unsigned char *b = run(o, &tr, NULL, &nb);
        check_same("run 1 vs run 2", a, na, b, nb);
        free(a); free(b);
    }

    T_CASE("deterministic mode after oneDNN's first use: refused with a message where the ISA is wider than AVX2") {
        int wide = ((unsigned)dnnl_get_effective_cpu_isa() & ~(unsigned)dnnl_cpu_isa_avx2) != 0;
        nnc_train_opts o = recipe(0);
        o.epochs = 1;
        o.deterministic = 1;
        nnc_model *m = NULL;
        T_OK(nnc_model_build(cfg_path, NULL, &m));
        nnc_status s = nnc_train(m, &tr, NULL, &o);
        if (wide) T_CHECKF(s == NNC_ERR_STATE && strstr(nnc_last_error(), "before the first computation"), "status %s: %s",
                           nnc_status_name(s), nnc_last_error());
        else T_OK(s);
        nnc_model_free(m);
    }

    nnc_dataset_free(&tr);
    nnc_dataset_free(&te);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) printf("note: could not remove %s\n", tmpdir);
    return t_finish();
}
