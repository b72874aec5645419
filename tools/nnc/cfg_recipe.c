/* cfg_recipe.c -- `nnc train FILE.cfg`: applies the training options of the
 * file's [net] section (nnc_cfg_net) to nnc's training options, with
 * Darknet's meaning where nnc has the concept. Only keys the file has apply,
 * and a command-line flag always wins over its key.
 *
 * Darknet counts in batches (updates of `batch` images), nnc in epochs: a
 * count of B batches is B * batch / n_train epochs, rounded up, where batch
 * is the file's (the training batch when the file has none) and n_train the
 * training samples of an epoch (after --limit and --val-split):
 *   batch, learning_rate, momentum (SGD, PyTorch's form: Darknet's update is
 *   w += lr v, v = momentum v + g), decay (weight decay), adam=1 (Adam with
 *   B1, B2, eps);
 *   subdivisions: Darknet accumulates gradients over batch/subdivisions images
 *   per pass; nnc has no accumulation and trains on the whole batch (the same
 *   update but for batch norm statistics; a warning says so);
 *   policy constant: no schedule; steps (+ scales, all equal): multistep, the
 *   drop after ceil(step * batch / n_train) epochs (a step <= 0 scales the
 *   base rate); step: step schedule with step_size = ceil(step * batch /
 *   n_train) epochs; exp: gamma^(n_train / batch) per epoch; poly: poly with
 *   power over the run's epochs; sigmoid, random and sgdr are refused;
 *   max_batches: the epochs, when --epochs is not given;
 *   burn_in: linear warm-up epochs (Darknet's is (k/burn_in)^4; after it nnc's
 *   schedule restarts from its own epoch 0, Darknet's counts from batch 0). */
#include "cli.h"
#include <math.h>
#include <stdarg.h>
#include <string.h>

/* Whether the user gave --name (as "--name", "--name v" or "--name=v"). */
static int given(int argc, char **argv, const char *name) {
    size_t n = strlen(name);
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], "--", 2) && !strncmp(argv[i] + 2, name, n) && (argv[i][2 + n] == 0 || argv[i][2 + n] == '='))
            return 1;
    return 0;
}

/* ceil(batches * batch / n) epochs, at least 1 and at most 100000. */
static int to_epochs(double batches, double batch, double n) {
    double e = ceil(batches * batch / n - 1e-9);
    return e < 1 ? 1 : e > 100000 ? 100000 : (int)e;
}

/* The printed line: appended to, cut (never overrun) when too long. */
enum { LINE = 1024 };
static void addf(char *line, size_t *len, const char *fmt, ...) {
    if (*len >= LINE - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(line + *len, LINE - *len, fmt, ap);
    va_end(ap);
    if (k > 0) *len = *len + (size_t)k < LINE - 1 ? *len + (size_t)k : LINE - 1;
}
#define ADD(...) addf(line, &len, __VA_ARGS__)

nnc_status cli_cfg_recipe(int argc, char **argv, const nnc_cfg_net *net, int64_t n_samples, nnc_train_opts *o) {
    unsigned set = net->set;
    if (!set) return NNC_OK;
    char line[LINE];
    size_t len = 0;
    ADD("cfg [net]:");
    /* the epoch's samples: nnc_train holds out round(frac * n) (1..n-1) for validation */
    double n = (double)n_samples;
    if (o->val_split > 0 && n_samples > 1) {
        double v = floor(o->val_split * n + 0.5);
        n -= v < 1 ? 1 : v > n - 1 ? n - 1 : v;
    }
    if (n < 1) n = 1;
    if (set & NNC_CFG_NET_BATCH) {
        if (given(argc, argv, "batch")) ADD(" batch=%d (--batch wins)", net->batch);
        else { o->batch = net->batch; ADD(" batch=%d", net->batch); }
    }
    double nb = set & NNC_CFG_NET_BATCH ? net->batch : (double)o->batch; /* Darknet's batch: the unit of its counts */
    if ((set & NNC_CFG_NET_SUBDIVISIONS) && net->subdivisions > 1)
        fprintf(stderr, "nnc train: note: subdivisions=%d: nnc has no gradient accumulation; it trains on whole batches of %lld "
                        "(Darknet: %d passes per update), the same update up to batch norm statistics\n",
                net->subdivisions, (long long)o->batch, net->subdivisions);

    /* optimizer: adam=1 switches to Adam unless --optimizer names one */
    int user_opt = given(argc, argv, "optimizer");
    int file_adam = (set & NNC_CFG_NET_ADAM) && net->adam;
    int same_kind = file_adam ? o->optim.kind == NNC_OPTIM_ADAM : o->optim.kind == NNC_OPTIM_SGD;
    if (file_adam && !user_opt && o->optim.kind != NNC_OPTIM_ADAM) {
        nnc_optim a = nnc_optim_adam(given(argc, argv, "lr") ? o->optim.lr : 1e-3f, o->optim.weight_decay);
        a.l1 = o->optim.l1;
        a.clip_value = o->optim.clip_value;
        a.clip_norm = o->optim.clip_norm;
        a.max_norm = o->optim.max_norm;
        a.no_decay_bias_norm = o->optim.no_decay_bias_norm;
        o->optim = a;
        same_kind = 1;
    }
    if (file_adam && o->optim.kind == NNC_OPTIM_ADAM) {
        o->optim.beta1 = net->b1;
        o->optim.beta2 = net->b2;
        o->optim.eps = net->eps;
        ADD(" adam B1=%g B2=%g eps=%g", (double)net->b1, (double)net->b2, (double)net->eps);
    } else if (file_adam) {
        ADD(" adam=1 (--optimizer wins)");
    }
    /* the file's rate, momentum and decay are for its own optimizer */
    const char *why = !same_kind ? " (--optimizer wins)" : NULL;
    if (set & NNC_CFG_NET_LR) {
        int keep = why || given(argc, argv, "lr");
        if (!keep) o->optim.lr = net->learning_rate;
        ADD(" lr=%g%s", (double)net->learning_rate, why ? why : keep ? " (--lr wins)" : "");
    }
    if ((set & NNC_CFG_NET_MOMENTUM) && !file_adam) {
        int keep = why || given(argc, argv, "momentum");
        if (!keep) o->optim.momentum = net->momentum;
        ADD(" momentum=%g%s", (double)net->momentum, why ? why : keep ? " (--momentum wins)" : "");
    }
    if (set & NNC_CFG_NET_DECAY) {
        int keep = why || given(argc, argv, "wd");
        if (!keep) o->optim.weight_decay = net->decay;
        ADD(" decay=%g%s", (double)net->decay, why ? why : keep ? " (--wd wins)" : "");
    }

    /* epochs first: poly decays over the run */
    if ((set & NNC_CFG_NET_MAX_BATCHES) && net->max_batches > 0) {
        if (given(argc, argv, "epochs")) ADD(" max_batches=%d (--epochs wins)", net->max_batches);
        else {
            o->epochs = to_epochs(net->max_batches, nb, n);
            ADD(" max_batches=%d -> %d epochs", net->max_batches, o->epochs);
        }
    }
    if ((set & NNC_CFG_NET_BURN_IN) && net->burn_in > 0) {
        if (given(argc, argv, "warmup")) ADD(" burn_in=%d (--warmup wins)", net->burn_in);
        else {
            o->schedule.warmup = to_epochs(net->burn_in, nb, n);
            ADD(" burn_in=%d -> %d linear warm-up epochs", net->burn_in, o->schedule.warmup);
        }
    }
    if (set & NNC_CFG_NET_POLICY) {
        static const char *const sflags[] = {"schedule", "lr-steps", "lr-gamma", "step-size", "power"};
        const char *flag = NULL;
        for (int i = 0; i < 5 && !flag; i++)
            if (given(argc, argv, sflags[i])) flag = sflags[i];
        const char *p = net->policy;
        nnc_schedule *sc = &o->schedule;
        if (flag) {
            ADD(" policy=%s (--%s wins)", p, flag);
        } else if (!strcmp(p, "constant")) {
            sc->kind = NNC_SCHED_NONE;
            ADD(" policy=constant -> no schedule");
        } else if (!strcmp(p, "steps")) {
            sc->kind = NNC_SCHED_MULTISTEP;
            memset(sc->milestones, 0, sizeof sc->milestones);
            float gamma = 0;
            int k = 0;
            for (int i = 0; i < net->n_steps; i++) {
                if (i && net->scales[i] != net->scales[0])
                    return nnc_error(NNC_ERR_UNSUPPORTED,
                                     "[net] policy=steps with different scales (%g, then %g): nnc's multistep schedule has one "
                                     "factor (give --lr-steps and --lr-gamma instead)", (double)net->scales[0], (double)net->scales[i]);
                if (net->steps[i] <= 0) { o->optim.lr *= net->scales[i]; continue; } /* Darknet: in force from batch 0 */
                sc->milestones[k++] = to_epochs(net->steps[i], nb, n) + 1; /* the rate drops at the start of the next epoch */
                gamma = net->scales[i];
            }
            if (!k) sc->kind = NNC_SCHED_NONE;
            else sc->gamma = gamma;
            if (!(o->optim.lr > 0) || (k && !(sc->gamma > 0)))
                return nnc_error(NNC_ERR_UNSUPPORTED, "[net] scales=0 would stop training: expected positive scales");
            ADD(" policy=steps ->");
            if (!k) ADD(" no schedule");
            else {
                ADD(" multistep --lr-steps ");
                for (int i = 0; i < k; i++) ADD("%s%d", i ? "," : "", sc->milestones[i]);
                ADD(" x%g", (double)sc->gamma);
            }
            if (k < net->n_steps) ADD(" (base lr scaled to %g)", (double)o->optim.lr);
        } else if (!strcmp(p, "step")) {
            sc->kind = NNC_SCHED_STEP;
            sc->step_size = to_epochs(net->step, nb, n);
            sc->gamma = net->gamma;
            if (!(sc->gamma > 0)) return nnc_error(NNC_ERR_UNSUPPORTED, "[net] policy=step with gamma=0 would stop training: expected gamma > 0");
            ADD(" policy=step -> step every %d epochs x%g", sc->step_size, (double)sc->gamma);
        } else if (!strcmp(p, "exp")) {
            sc->kind = NNC_SCHED_EXP;
            double g = pow(net->gamma, n / nb);
            if (!(g > 0 && isfinite(g)))
                return nnc_error(NNC_ERR_UNSUPPORTED, "[net] policy=exp gamma=%g over %.0f batches an epoch gives a per-epoch factor of %g: "
                                 "expected a positive finite factor", (double)net->gamma, n / nb, g);
            sc->gamma = (float)g;
            ADD(" policy=exp -> exp x%g per epoch", g);
        } else if (!strcmp(p, "poly")) {
            sc->kind = NNC_SCHED_POLY;
            sc->power = net->power;
            ADD(" policy=poly -> poly power %g over %d epochs", (double)net->power, o->epochs);
        } else {
            return nnc_error(NNC_ERR_UNSUPPORTED, "[net] policy=%s is not supported by nnc train (constant, steps, step, exp or "
                             "poly; or give --schedule)", p);
        }
    }
    printf("%s\n", line);
    fflush(stdout);
    return NNC_OK;
}
