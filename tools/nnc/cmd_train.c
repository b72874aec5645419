/* cmd_train.c -- `nnc train MODEL`: load data, normalize it by the training
 * set's mean and std, train, print one key=value line per epoch, save. */
#include "cli.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void help_train(FILE *f) {
    fprintf(f,
            "usage: nnc train [MODEL] [flags]      (MODEL: a zoo name, default lenet5 (see nnc models),\n"
            "                                      or a Darknet-style .cfg model file)\n"
            "       nnc train charrnn|seq2seq-add [flags]   sequence tasks with their own data\n"
            "                                      (nnc train charrnn --help, nnc train seq2seq-add --help)\n\n"
            "Trains on an IDX data set (Fashion-MNIST by default) and evaluates on its test set after\n"
            "every epoch, printing one line per epoch:\n"
            "  epoch=E train_loss=.. train_acc=.. test_loss=.. test_acc=.. time_s=.. img_per_s=..\n\n"
            "The default recipe is workload W1's: SGD, lr 0.05, momentum 0.9 (PyTorch's form), weight\n"
            "decay 5e-4 on all parameters, batch 64, PyTorch's default initialization, inputs normalized\n"
            "by the training set's scalar mean and std, the last partial batch kept; for longer runs the\n"
            "rate is divided by 10 at the start of epochs 8 and 12 (up to 7 epochs it is exactly W1).\n\n"
            "flags:\n"
            "  --data DIR         IDX files train-/t10k-images/labels (default %s)\n"
            "  --epochs N         epochs (default 5; 0 with --save writes the initialized model)\n"
            "  --batch N          mini-batch size (default 64)\n"
            "  --eval-batch N     evaluation batch size (default 1000)\n"
            "  --optimizer NAME   sgd, adam, adamw, rmsprop or adagrad (default sgd; models with their own\n"
            "                     recipe say so in 'nnc models': seqmnist*, autoencoders adam 0.001,\n"
            "                     lenet5-1998 sgd 0.003)\n"
            "  --lr X             learning rate (default 0.05 sgd, 0.001 adam/adamw, 0.01 rmsprop/adagrad)\n"
            "  --momentum X       SGD / RMSProp momentum (default 0.9 for sgd, 0 for rmsprop)\n"
            "  --momentum-form F  SGD momentum: pytorch (v = mu v + g; w -= lr v; default) or alexnet\n"
            "                     (v = mu v - lr g; w += v); they differ once the rate changes\n"
            "  --nesterov         SGD Nesterov momentum (PyTorch's form)\n"
            "  --centered         RMSProp: centered variant\n"
            "  --wd X             weight decay: L2 added to the gradient, decoupled for adamw\n"
            "                     (default 5e-4 sgd/adam, 0.01 adamw, 0 rmsprop/adagrad)\n"
            "  --no-decay-bias-norm  no weight decay / l1 on biases ('.bias') and 1-D (norm) parameters\n"
            "  --l1 X             L1 penalty: adds X sign(w) to the gradient (default 0)\n"
            "  --clip-value X     clamp every gradient element to [-X, X] (default off)\n"
            "  --clip-norm X      rescale gradients to global L2 norm <= X (default off)\n"
            "  --max-norm X       after each step rescale each output row/filter to L2 norm <= X\n"
            "  --freeze LIST      comma-separated name prefixes of parameters not to train\n"
            "  --schedule NAME    per-epoch rate schedule: none, step, multistep (default), exp,\n"
            "                     poly or cosine\n"
            "  --lr-steps LIST    multistep: epochs (1-based, comma-separated) at whose start the rate\n"
            "                     is multiplied by --lr-gamma (default 8,12; 'none' keeps it constant)\n"
            "  --lr-gamma X       step/multistep/exp factor (default 0.1; 0.9 for exp)\n"
            "  --step-size N      step: epochs between drops (default 5)\n"
            "  --power X          poly: (1 - k/T)^X over the run (default 1)\n"
            "  --min-lr X         cosine: final rate (default 0)\n"
            "  --warmup N         linear warm-up over the first N epochs, then the schedule (default 0)\n"
            "  --val-split F      hold out a seeded random fraction F of the training set for\n"
            "                     validation (adds val_loss/val_acc to the epoch line)\n"
            "  --early-stop N     stop after N epochs without a lower validation loss and keep the\n"
            "                     best-by-validation weights (needs --val-split)\n"
            "  --dropout P        dropout before the hidden fully connected layers (default none)\n"
            "  --model-options S  model-specific key=value,... (e.g. shortcut=A, hidden=256,bidir=1)\n"
            "  --seed N           seed of initialization, shuffling and dropout (default 0)\n"
            "  --threads N        OpenMP threads (default: all cores)\n"
            "  --limit N          train on the first N training samples only\n"
            "  --input CxHxW      build the model for this input and fit the data to it (channels\n"
            "                     replicated, zero padding around the centre, or bilinear resizing);\n"
            "                     default: the data's own shape (1x28x28 for Fashion-MNIST)\n"
            "  --strict           .cfg models: unknown keys are errors, not warnings\n"
            "                     (a .cfg's [net] batch, learning_rate, momentum, decay, adam, policy,\n"
            "                     max_batches and burn_in apply where no flag sets them; see cfg_recipe.c)\n"
            "  --save FILE        write the trained weights (safetensors, PyTorch names)\n"
            "  --checkpoint DIR   keep weights + training state in DIR (after every epoch, see --save-every);\n"
            "                     each file is written to a temporary, fsync'd and renamed, so a kill at any\n"
            "                     moment leaves the previous checkpoint loadable\n"
            "  --save-every N     checkpoint every N epochs (default 1); 'Ns' (e.g. 500s): every N steps;\n"
            "                     the last epoch is always saved\n"
            "  --resume DIR       continue from a checkpoint directory exactly as if never stopped (same\n"
            "                     parameters, optimizer state, schedule position, shuffles and dropout masks;\n"
            "                     the seed is the checkpoint's)\n"
            "  --deterministic    exact thread count and oneDNN kernels capped at AVX2, so results do not\n"
            "                     depend on AVX-512 (runs are bit-identical for one seed and thread count;\n"
            "                     see docs/RELIABILITY.md)\n"
            "  --detect-anomaly   check every op's output and gradient for NaN/Inf each step and stop at\n"
            "                     the first, naming the op (the loss itself is always checked)\n"
            "  --max-memory B     refuse to start when training needs more than B bytes (suffix K, M or G,\n"
            "                     powers of 1024; default: the machine's physical memory)\n"
            "  --quiet            no progress bar\n",
            NNC_FASHION_MNIST_DIR);
}

typedef struct progress { int tty, quiet; int64_t last_shown; } progress;

static void on_step(int epoch, int64_t step, int64_t steps, float loss, void *user) {
    progress *p = user;
    if (!p->tty || p->quiet) return;
    if (step != steps && step - p->last_shown < steps / 50 + 1) return;
    p->last_shown = step;
    int w = 30, done = (int)(w * step / steps);
    fprintf(stderr, "\repoch %d [", epoch);
    for (int i = 0; i < w; i++) fputc(i < done ? '=' : i == done ? '>' : ' ', stderr);
    fprintf(stderr, "] %lld/%lld loss %.4f", (long long)step, (long long)steps, (double)loss);
    if (step == steps) { fprintf(stderr, "\r%*s\r", 80, ""); p->last_shown = 0; }
    fflush(stderr);
}

static void on_epoch(const nnc_epoch_stats *s, void *user) {
    (void)user;
    /* reconstruction models (autoencoders) have losses but no accuracy */
    printf("epoch=%d train_loss=%.4f", s->epoch, s->train_loss);
    if (!isnan(s->train_acc)) printf(" train_acc=%.4f", s->train_acc);
    if (!isnan(s->val_loss)) printf(" val_loss=%.4f", s->val_loss);
    if (!isnan(s->val_acc)) printf(" val_acc=%.4f", s->val_acc);
    printf(" test_loss=%.4f", s->test_loss);
    if (!isnan(s->test_acc)) printf(" test_acc=%.4f", s->test_acc);
    printf(" time_s=%.2f img_per_s=%.0f\n", s->time_s, s->img_per_s);
    fflush(stdout);
}

/* "123", "64K", "512M", "2G" (powers of 1024) -> bytes; 0 when malformed. */
static uint64_t parse_bytes(const char *txt) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(txt, &end, 10);
    if (end == txt || errno || *txt == '-') return 0;
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k') shift = 10;
    else if (*end == 'M' || *end == 'm') shift = 20;
    else if (*end == 'G' || *end == 'g') shift = 30;
    if (shift) end++;
    if (*end == 'B' || *end == 'b') end++;
    if (*end || v > (~0ull >> shift)) return 0;
    return (uint64_t)v << shift;
}

static int parse_list(const char *txt, int *out, int max) {
    int k = 0;
    const char *p = txt;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 100000 || k == max || (*end && *end != ',')) return -1;
        out[k++] = (int)v;
        p = *end ? end + 1 : end;
    }
    return k;
}

int cmd_train(int argc, char **argv) {
    cli_args a;
    if (!cli_args_init(&a, argc, argv)) return 1;
    nnc_train_opts o = nnc_train_defaults();
    const char *data = cli_str(&a, "data", NNC_FASHION_MNIST_DIR);
    o.epochs = (int)cli_int(&a, "epochs", 5, 0, 100000);
    o.batch = cli_int(&a, "batch", 64, 1, 1 << 20);
    o.eval_batch = cli_int(&a, "eval-batch", 1000, 1, 1 << 20);
    static const char *const optnames[] = {"sgd", "adam", "adamw", "rmsprop", "adagrad"};
    /* a zoo model's documented recipe (nnc_model_recipe) changes the defaults */
    nnc_optim_kind rkind = NNC_OPTIM_SGD;
    float rlr = 0;
    for (int i = 1; i < argc; i++)
        if (argv[i][0] != '-' && nnc_model_recipe(argv[i], &rkind, &rlr)) break;
    const char *optname = cli_str(&a, "optimizer", optnames[rkind]);
    int ok = -1;
    for (int i = 0; i < 5; i++) if (!strcmp(optname, optnames[i])) ok = i;
    nnc_optim_kind kind = ok < 0 ? NNC_OPTIM_SGD : (nnc_optim_kind)ok;
    static const double def_lr[] = {0.05, 1e-3, 1e-3, 1e-2, 1e-2}, def_wd[] = {5e-4, 5e-4, 1e-2, 0, 0};
    double lr = cli_num(&a, "lr", rlr > 0 && kind == rkind ? rlr : def_lr[kind], 1e-12, 1e6);
    double mom = cli_num(&a, "momentum", kind == NNC_OPTIM_SGD ? 0.9 : 0, 0, 0.999999);
    double wd = cli_num(&a, "wd", def_wd[kind], 0, 1e3);
    const char *form = cli_str(&a, "momentum-form", "pytorch");
    int nesterov = cli_flag(&a, "nesterov"), centered = cli_flag(&a, "centered");
    int no_decay = cli_flag(&a, "no-decay-bias-norm");
    double l1 = cli_num(&a, "l1", 0, 0, 1e3);
    double clipv = cli_num(&a, "clip-value", 0, 0, 1e12);
    double clipn = cli_num(&a, "clip-norm", 0, 0, 1e12);
    double maxn = cli_num(&a, "max-norm", 0, 0, 1e12);
    const char *freeze = cli_str(&a, "freeze", NULL);
    const char *sched = cli_str(&a, "schedule", NULL);
    double dropout = cli_num(&a, "dropout", 0, 0, 0.99);
    const char *model_options = cli_str(&a, "model-options", NULL);
    o.seed = (uint64_t)cli_int(&a, "seed", 0, 0, (long long)(~0ull >> 1));
    int threads = (int)cli_int(&a, "threads", 0, 0, 1024);
    long long limit = cli_int(&a, "limit", 0, 0, 1ll << 40);
    const char *input = cli_str(&a, "input", NULL);
    int strict = cli_flag(&a, "strict");
    const char *save = cli_str(&a, "save", NULL);
    const char *steps = cli_str(&a, "lr-steps", NULL);
    int is_exp = sched && !strcmp(sched, "exp");
    o.schedule.gamma = (float)cli_num(&a, "lr-gamma", is_exp ? 0.9 : 0.1, 1e-9, 1e9);
    o.schedule.step_size = (int)cli_int(&a, "step-size", 5, 1, 100000);
    o.schedule.power = (float)cli_num(&a, "power", 1, 0, 1e3);
    o.schedule.min_lr = (float)cli_num(&a, "min-lr", 0, 0, 1e6);
    o.schedule.warmup = (int)cli_int(&a, "warmup", 0, 0, 100000);
    o.val_split = (float)cli_num(&a, "val-split", 0, 0, 0.99);
    o.early_stop = (int)cli_int(&a, "early-stop", 0, 0, 100000);
    o.checkpoint_dir = cli_str(&a, "checkpoint", NULL);
    o.resume_dir = cli_str(&a, "resume", NULL);
    const char *save_every = cli_str(&a, "save-every", NULL);
    const char *max_mem = cli_str(&a, "max-memory", NULL);
    o.deterministic = cli_flag(&a, "deterministic");
    o.detect_anomaly = cli_flag(&a, "detect-anomaly");
    progress pr = {isatty(2), cli_flag(&a, "quiet"), 0};
    const char *pos[1] = {"lenet5"};
    int npos = cli_positionals(&a, pos, 1);
    int bad = a.bad;
    cli_args_free(&a);
    if (bad || npos > 1) return 2;
    if (ok < 0) return cli_usage_error("train", "unknown optimizer '%s' (sgd, adam, adamw, rmsprop or adagrad)", optname);
    nnc_momentum_form mform = NNC_MOMENTUM_PYTORCH;
    if (!strcmp(form, "alexnet")) mform = NNC_MOMENTUM_ALEXNET;
    else if (strcmp(form, "pytorch")) return cli_usage_error("train", "--momentum-form '%s' must be pytorch or alexnet", form);
    if (sched) {
        static const char *const sn[] = {"none", "step", "multistep", "exp", "poly", "cosine"};
        int k = -1;
        for (int i = 0; i < 6; i++) if (!strcmp(sched, sn[i])) k = i;
        if (k < 0) return cli_usage_error("train", "unknown --schedule '%s' (none, step, multistep, exp, poly or cosine)", sched);
        o.schedule.kind = (nnc_schedule_kind)k;
    }
    if (steps) {
        memset(o.schedule.milestones, 0, sizeof o.schedule.milestones);
        if (!strcmp(steps, "none")) {
            if (!sched) o.schedule.kind = NNC_SCHED_NONE;
        } else if (parse_list(steps, o.schedule.milestones, 8) < 0) {
            return cli_usage_error("train", "--lr-steps '%s' must be up to 8 comma-separated epochs >= 1, or none", steps);
        }
    }
    if (o.early_stop && o.val_split == 0) return cli_usage_error("train", "--early-stop needs --val-split");
    if (save_every) {
        char *end;
        errno = 0;
        long long n = strtoll(save_every, &end, 10);
        int steps = *end == 's' && end[1] == 0;
        if (end == save_every || errno || n < 1 || n > (1ll << 40) || (*end && !steps))
            return cli_usage_error("train", "--save-every '%s' must be N (epochs) or Ns (steps), N >= 1", save_every);
        if (!o.checkpoint_dir) return cli_usage_error("train", "--save-every needs --checkpoint DIR");
        o.save_every = steps ? 0 : (int)(n > 100000 ? 100000 : n);
        o.save_every_steps = steps ? n : 0;
    }
    if (max_mem && !(o.max_memory = parse_bytes(max_mem)))
        return cli_usage_error("train", "--max-memory '%s' must be a positive number of bytes, optionally with K, M or G", max_mem);
    if (threads) nnc_set_threads(threads);
    switch (kind) {
    case NNC_OPTIM_SGD: o.optim = nnc_optim_sgd((float)lr, (float)mom, (float)wd); break;
    case NNC_OPTIM_ADAM: o.optim = nnc_optim_adam((float)lr, (float)wd); break;
    case NNC_OPTIM_ADAMW: o.optim = nnc_optim_adamw((float)lr, (float)wd); break;
    case NNC_OPTIM_RMSPROP: o.optim = nnc_optim_rmsprop((float)lr, (float)mom, (float)wd); break;
    case NNC_OPTIM_ADAGRAD: o.optim = nnc_optim_adagrad((float)lr, (float)wd); break;
    }
    o.optim.momentum_form = mform;
    o.optim.nesterov = nesterov;
    o.optim.centered = centered;
    o.optim.no_decay_bias_norm = no_decay;
    o.optim.l1 = (float)l1;
    o.optim.clip_value = (float)clipv;
    o.optim.clip_norm = (float)clipn;
    o.optim.max_norm = (float)maxn;
    o.on_step = on_step;
    o.on_epoch = on_epoch;
    o.user = &pr;

    nnc_model_opts mo = nnc_model_defaults();
    mo.dropout = (float)dropout;
    mo.options = model_options;
    int64_t in_c = 0, in_h = 0, in_w = 0;
    if (input && !cli_parse_input(input, &in_c, &in_h, &in_w))
        return cli_usage_error("train", "--input '%s' must be CxHxW with positive sizes", input);
    nnc_model *m = NULL;
    nnc_dataset train = {0}, test = {0};
    nnc_cfg_net net = {0};
    /* data first: without --input the model is built for the data's own shape */
    nnc_status s = nnc_dataset_load_mnist_dir(data, &train, &test);
    if (!s) {
        mo.in_channels = (int)(in_c ? in_c : train.x.shape[1]);
        mo.height = (int)(in_h ? in_h : train.x.shape[2]);
        mo.width = (int)(in_w ? in_w : train.x.shape[3]);
        if (cli_is_cfg(pos[0])) {
            nnc_cfg_opts co = {0};
            co.strict = strict;
            co.net = &net;
            s = nnc_model_from_cfg(pos[0], input ? &mo : NULL, &co, &m);
        } else {
            if (strict) s = nnc_error(NNC_ERR_ARG, "--strict applies to .cfg model files");
            else s = nnc_model_build(pos[0], &mo, &m);
        }
    }
    if (!s && freeze) { /* comma-separated prefixes; each must match something */
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", freeze);
        for (char *tok = strtok(buf, ","); tok && !s; tok = strtok(NULL, ","))
            if (nnc_graph_freeze(m->g, tok) == 0)
                s = nnc_error(NNC_ERR_ARG, "--freeze: no parameter of model '%s' is named '%s...'", m->name, tok);
    }
    if (!s && limit && limit < train.n) {
        nnc_dataset sub = {0};
        s = nnc_dataset_take(&train, 0, limit, &sub);
        if (!s) { nnc_dataset_free(&train); train = sub; }
    }
    if (!s && cli_is_cfg(pos[0])) s = cli_cfg_recipe(argc, argv, &net, train.n, &o); /* [net]'s options */
    if (!s) s = nnc_model_normalize_data(m, &train, &test);
    if (!s) s = cli_fit_data(m, &train);
    if (!s) s = cli_fit_data(m, &test);
    if (!s) {
        printf("model=%s params=%lld train=%lld test=%lld batch=%lld epochs=%d threads=%d norm_mean=%.4f norm_std=%.4f\n", m->name,
               (long long)nnc_graph_n_param_elems(m->g), (long long)train.n, (long long)test.n, (long long)o.batch, o.epochs,
               nnc_get_threads(), (double)m->norm_mean, (double)m->norm_std);
        fflush(stdout);
        s = nnc_train(m, &train, &test, &o);
    }
    if (!s && save) {
        s = nnc_model_save(m, save);
        if (!s) printf("saved=%s\n", save);
    }
    int rc = s ? cli_fail("train", s) : 0;
    nnc_dataset_free(&train);
    nnc_dataset_free(&test);
    nnc_model_free(m);
    return rc;
}
