/* cmd_train.c -- `nnc train MODEL`: load data, normalize it by the training
 * set's mean and std, train, print one key=value line per epoch, save. */
#include "cli.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void help_train(FILE *f) {
    fprintf(f,
            "usage: nnc train [MODEL] [flags]      (MODEL: a zoo name, default lenet5; see nnc models)\n\n"
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
            "  --lr X             learning rate (default 0.05 for sgd, 0.001 for adam)\n"
            "  --momentum X       SGD momentum (default 0.9)\n"
            "  --wd X             weight decay, L2 added to the gradient (default 5e-4)\n"
            "  --optimizer NAME   sgd or adam (default sgd)\n"
            "  --lr-steps LIST    epochs (1-based, comma-separated) at whose start the rate is\n"
            "                     multiplied by --lr-gamma (default 8,12; 'none' keeps it constant)\n"
            "  --lr-gamma X       the factor (default 0.1)\n"
            "  --dropout P        dropout before the hidden fully connected layers (default none)\n"
            "  --seed N           seed of initialization, shuffling and dropout (default 0)\n"
            "  --threads N        OpenMP threads (default: all cores)\n"
            "  --limit N          train on the first N training samples only\n"
            "  --save FILE        write the trained weights (safetensors, PyTorch names)\n"
            "  --checkpoint DIR   after every epoch keep weights + training state in DIR\n"
            "  --resume DIR       continue from a checkpoint directory\n"
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
    printf("epoch=%d train_loss=%.4f train_acc=%.4f test_loss=%.4f test_acc=%.4f time_s=%.2f img_per_s=%.0f\n", s->epoch,
           s->train_loss, s->train_acc, s->test_loss, s->test_acc, s->time_s, s->img_per_s);
    fflush(stdout);
}

int cmd_train(int argc, char **argv) {
    cli_args a;
    if (!cli_args_init(&a, argc, argv)) return 1;
    nnc_train_opts o = nnc_train_defaults();
    const char *data = cli_str(&a, "data", NNC_FASHION_MNIST_DIR);
    o.epochs = (int)cli_int(&a, "epochs", 5, 0, 100000);
    o.batch = cli_int(&a, "batch", 64, 1, 1 << 20);
    o.eval_batch = cli_int(&a, "eval-batch", 1000, 1, 1 << 20);
    const char *optname = cli_str(&a, "optimizer", "sgd");
    int adam = !strcmp(optname, "adam");
    double lr = cli_num(&a, "lr", adam ? 1e-3 : 0.05, 1e-12, 1e6);
    double mom = cli_num(&a, "momentum", 0.9, 0, 0.999999);
    double wd = cli_num(&a, "wd", 5e-4, 0, 1e3);
    double dropout = cli_num(&a, "dropout", 0, 0, 0.99);
    o.seed = (uint64_t)cli_int(&a, "seed", 0, 0, (long long)(~0ull >> 1));
    int threads = (int)cli_int(&a, "threads", 0, 0, 1024);
    long long limit = cli_int(&a, "limit", 0, 0, 1ll << 40);
    const char *save = cli_str(&a, "save", NULL);
    const char *steps = cli_str(&a, "lr-steps", NULL);
    o.lr_gamma = (float)cli_num(&a, "lr-gamma", 0.1, 1e-9, 1e9);
    o.checkpoint_dir = cli_str(&a, "checkpoint", NULL);
    o.resume_dir = cli_str(&a, "resume", NULL);
    progress pr = {isatty(2), cli_flag(&a, "quiet"), 0};
    const char *pos[1] = {"lenet5"};
    int npos = cli_positionals(&a, pos, 1);
    int bad = a.bad;
    cli_args_free(&a);
    if (bad || npos > 1) return 2;
    if (!adam && strcmp(optname, "sgd")) return cli_usage_error("train", "unknown optimizer '%s' (sgd or adam)", optname);
    if (steps) {
        memset(o.lr_steps, 0, sizeof o.lr_steps);
        if (strcmp(steps, "none")) {
            int k = 0;
            const char *p = steps;
            while (*p) {
                char *end;
                long v = strtol(p, &end, 10);
                if (end == p || v < 1 || v > 100000 || k == 8 || (*end && *end != ','))
                    return cli_usage_error("train", "--lr-steps '%s' must be up to 8 comma-separated epochs >= 1, or none", steps);
                o.lr_steps[k++] = (int)v;
                p = *end ? end + 1 : end;
            }
        }
    }
    if (threads) nnc_set_threads(threads);
    o.optim = adam ? nnc_optim_adam((float)lr, (float)wd) : nnc_optim_sgd((float)lr, (float)mom, (float)wd);
    o.on_step = on_step;
    o.on_epoch = on_epoch;
    o.user = &pr;

    nnc_model_opts mo = nnc_model_defaults();
    mo.dropout = (float)dropout;
    nnc_model *m = NULL;
    nnc_dataset train = {0}, test = {0};
    nnc_status s = nnc_model_build(pos[0], &mo, &m);
    if (!s) s = nnc_dataset_load_mnist_dir(data, &train, &test);
    if (!s && limit && limit < train.n) {
        nnc_dataset sub = {0};
        s = nnc_dataset_take(&train, 0, limit, &sub);
        if (!s) { nnc_dataset_free(&train); train = sub; }
    }
    if (!s) s = nnc_model_normalize_data(m, &train, &test);
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
