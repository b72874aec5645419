/* task_charrnn.c -- `nnc train charrnn` and `nnc sample`: a character-level
 * language model trained by truncated back-propagation through time.
 *
 * Data: the corpus (a file, or the fortune files of Debian's `fortunes`
 * packages, concatenated in sorted order) as byte ids; the first 90% trains,
 * the last 10% is held out. The training text is cut into B contiguous
 * streams; each step takes the next window of T characters of every stream
 * and predicts each next character. The hidden (and cell) state is carried
 * from window to window (truncated BPTT: the values flow on, the gradient
 * stops at the window's start) and reset at every epoch.
 * Model: ids -> embedding (or one-hot with --embed 0) -> RNN/LSTM/GRU
 * layers -> time-distributed fc -> cross-entropy at every step; Adam with
 * gradient-norm clipping. Bits per character on the held-out tail are the
 * summed cross-entropy (nats) / characters / ln 2, every held-out character
 * counted once (streams of unequal length, the gaps ignored by the loss).
 * The saved weights carry the vocabulary and the architecture in metadata,
 * so `nnc sample` rebuilds the network with T = 1 and generates with
 * temperature sampling. */
#include "cli.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FORTUNES_DIR "/usr/share/games/fortunes"
#define IGNORE (-100)

typedef struct charrnn_cfg {
    nnc_rnn_cell cell;
    int64_t hidden, embed, T;
    int layers, vocab;
    float dropout, out_dropout;
} charrnn_cfg;

typedef struct charrnn_net {
    nnc_graph *g;
    nnc_node *ids, *targets, *h0, *c0, *logits, *loss;
    nnc_rnn_out r;
} charrnn_net;

static const char *const cell_names[] = {"rnn", "rnn-relu", "lstm", "gru"};

static int parse_cell(const char *s, nnc_rnn_cell *c) {
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, cell_names[i])) { *c = (nnc_rnn_cell)i; return 1; }
    return 0;
}

static nnc_status charrnn_build(const charrnn_cfg *c, charrnn_net *n) {
    memset(n, 0, sizeof *n);
    nnc_graph *g = n->g = nnc_graph_new();
    if (!g) return nnc_error(NNC_ERR_OOM, "out of memory");
    nnc_graph_set_seed(g, 1);
    n->ids = nnc_input(g, "ids", NNC_I32, 1, (int64_t[]){c->T});
    n->targets = nnc_input(g, "targets", NNC_I32, 1, (int64_t[]){c->T});
    nnc_node *x = c->embed > 0 ? nnc_embedding_layer(g, n->ids, "embed", c->vocab, c->embed) : nnc_one_hot(g, n->ids, c->vocab);
    n->h0 = nnc_input(g, "h0", NNC_F32, 2, (int64_t[]){c->layers, c->hidden});
    if (c->cell == NNC_LSTM) n->c0 = nnc_input(g, "c0", NNC_F32, 2, (int64_t[]){c->layers, c->hidden});
    nnc_rnn_opts o = {.cell = c->cell, .hidden = c->hidden, .layers = c->layers, .dropout = c->dropout,
                      .h0 = n->h0, .c0 = n->c0, .want_state = 1};
    n->r = nnc_rnn_layer(g, x, "rnn", &o);
    /* dropout on the recurrent output before the classifier (Zaremba et al.) */
    nnc_node *y = c->out_dropout > 0 ? nnc_dropout(g, n->r.y, c->out_dropout) : n->r.y;
    n->logits = nnc_linear_seq_layer(g, y, "fc", c->vocab, 1);
    n->loss = nnc_cross_entropy_seq(g, n->logits, n->targets, NNC_MEAN, IGNORE);
    nnc_graph_output(g, n->logits);
    nnc_graph_output(g, n->r.h_n);
    if (n->r.c_n) nnc_graph_output(g, n->r.c_n);
    nnc_graph_loss(g, n->loss, 1.0f);
    return nnc_graph_status(g);
}

static void zero_state(charrnn_net *n) {
    nnc_tensor *h = nnc_node_value(n->h0);
    memset(h->data, 0, nnc_tensor_bytes(h));
    if (n->c0) { nnc_tensor *c = nnc_node_value(n->c0); memset(c->data, 0, nnc_tensor_bytes(c)); }
}
static void carry_state(charrnn_net *n) {
    nnc_tensor *h = nnc_node_value(n->h0);
    memcpy(h->data, nnc_node_value(n->r.h_n)->data, nnc_tensor_bytes(h));
    if (n->c0) { nnc_tensor *c = nnc_node_value(n->c0); memcpy(c->data, nnc_node_value(n->r.c_n)->data, nnc_tensor_bytes(c)); }
}

/* B streams over ids[0..len): stream b starts at start[b] and has cnt[b]
 * predictions (ids[start+k] -> ids[start+k+1]), lengths differing by at most 1. */
typedef struct streams { int64_t B, start[1024], cnt[1024], maxcnt; } streams;
static void make_streams(streams *s, int64_t B, int64_t len) {
    int64_t preds = len - 1, base = preds / B, rem = preds % B, pos = 0;
    s->B = B;
    s->maxcnt = base + (rem > 0);
    for (int64_t b = 0; b < B; b++) {
        s->start[b] = pos;
        s->cnt[b] = base + (b < rem);
        pos += s->cnt[b];
    }
}
/* Fills ids/targets for window w (positions w*T ..) of every stream; returns the number of real targets. */
static int64_t fill_window(charrnn_net *n, const uint8_t *ids, const streams *s, int64_t T, int64_t w) {
    int32_t *x = nnc_node_value(n->ids)->data, *y = nnc_node_value(n->targets)->data;
    int64_t real = 0;
    for (int64_t b = 0; b < s->B; b++)
        for (int64_t t = 0; t < T; t++) {
            int64_t k = w * T + t;
            if (k < s->cnt[b]) {
                x[b * T + t] = ids[s->start[b] + k];
                y[b * T + t] = ids[s->start[b] + k + 1];
                real++;
            } else {
                x[b * T + t] = 0;
                y[b * T + t] = IGNORE;
            }
        }
    return real;
}

/* Held-out bits per character: eval plan, state carried across windows. */
static nnc_status heldout_bpc(charrnn_net *n, const uint8_t *ids, int64_t len, int64_t B, int64_t T, double *bpc) {
    nnc_status s = nnc_graph_compile(n->g, B, 0);
    if (s) return s;
    streams st;
    make_streams(&st, B, len);
    zero_state(n);
    double nats = 0;
    int64_t count = 0;
    for (int64_t w = 0; w * T < st.maxcnt; w++) {
        int64_t real = fill_window(n, ids, &st, T, w);
        if ((s = nnc_graph_forward(n->g))) return s;
        nats += (double)nnc_graph_loss_value(n->g) * (double)real;
        count += real;
        carry_state(n);
    }
    *bpc = nats / (double)count / log(2.0);
    return NNC_OK;
}

static void vocab_hex(const nnc_text *t, char *out) {
    for (int i = 0; i < t->vocab; i++) sprintf(out + 2 * i, "%02x", t->byte_of[i]);
}

static nnc_status save_model(charrnn_net *n, const charrnn_cfg *c, const nnc_text *t, const char *path) {
    char vocab[513], hidden[24], layers[24], embed[24];
    vocab_hex(t, vocab);
    snprintf(hidden, sizeof hidden, "%lld", (long long)c->hidden);
    snprintf(layers, sizeof layers, "%d", c->layers);
    snprintf(embed, sizeof embed, "%lld", (long long)c->embed);
    const char *keys[] = {"nnc.task", "charrnn.cell", "charrnn.hidden", "charrnn.layers", "charrnn.embed", "charrnn.vocab"};
    const char *vals[] = {"charrnn", cell_names[c->cell], hidden, layers, embed, vocab};
    return nnc_graph_save_meta(n->g, path, 6, keys, vals);
}

void help_train_charrnn(FILE *f) {
    fprintf(f, "usage: nnc train charrnn [--text PATH] [options]\n\n"
               "Character-level language model, truncated BPTT; reports held-out bits per character\n"
               "(the last 10%% of the text) after every epoch.\n\n"
               "  --text PATH        a text file or a directory of them (default %s,\n"
               "                     Debian's fortunes: apt-get install fortunes)\n"
               "  --cell NAME        lstm (default), gru, rnn, rnn-relu\n"
               "  --hidden N         units per layer (default 256)\n"
               "  --layers N         stacked layers (default 1)\n"
               "  --embed N          embedding size; 0 = one-hot input (default 64)\n"
               "  --seq-len T        BPTT window (default 64)\n"
               "  --batch B          parallel streams (default 32)\n"
               "  --epochs N         passes over the training text (default 5)\n"
               "  --minutes M        stop training after M minutes (then evaluate)\n"
               "  --lr LR            Adam learning rate (default 0.005)\n"
               "  --lr-decay G       multiply the rate by G after every epoch (default 0.9)\n"
               "  --clip-norm C      gradient global-norm clip (default 5)\n"
               "  --dropout P        between stacked layers (default 0)\n"
               "  --out-dropout P    on the last layer's output, before the classifier (default 0)\n"
               "  --limit N          use only the first N bytes of the text\n"
               "  --save FILE        weights + vocabulary (for nnc sample)\n"
               "  --threads N, --seed S, --quiet\n", FORTUNES_DIR);
}

int task_charrnn_train(int argc, char **argv) {
    cli_args a;
    if (!cli_args_init(&a, argc, argv)) return 1;
    const char *text = cli_str(&a, "text", FORTUNES_DIR);
    const char *cellname = cli_str(&a, "cell", "lstm");
    charrnn_cfg c = {NNC_LSTM, cli_int(&a, "hidden", 256, 1, 65536), cli_int(&a, "embed", 64, 0, 65536),
                     cli_int(&a, "seq-len", 64, 1, 100000), (int)cli_int(&a, "layers", 1, 1, 16), 0,
                     (float)cli_num(&a, "dropout", 0, 0, 0.99), (float)cli_num(&a, "out-dropout", 0, 0, 0.99)};
    int64_t B = cli_int(&a, "batch", 32, 1, 1024);
    int epochs = (int)cli_int(&a, "epochs", 5, 0, 100000);
    double minutes = cli_num(&a, "minutes", 0, 0, 1e6);
    double lr = cli_num(&a, "lr", 5e-3, 1e-9, 10), clip = cli_num(&a, "clip-norm", 5, 0, 1e9);
    double decay = cli_num(&a, "lr-decay", 0.9, 1e-6, 1);
    int64_t limit = cli_int(&a, "limit", 0, 0, (long long)1 << 40);
    const char *save = cli_str(&a, "save", NULL);
    int threads = (int)cli_int(&a, "threads", 0, 0, 1024);
    long long seed = cli_int(&a, "seed", 1, 0, (long long)1 << 62);
    int quiet = cli_flag(&a, "quiet");
    const char *pos[3];
    int np = cli_positionals(&a, pos, 3);
    int bad = a.bad || np < 0;
    cli_args_free(&a);
    if (bad) return 2;
    if (np != 1) return cli_usage_error("train", "expected one model name (charrnn)");
    if (!parse_cell(cellname, &c.cell)) return cli_usage_error("train", "--cell '%s' must be lstm, gru, rnn or rnn-relu", cellname);
    if (threads) nnc_set_threads(threads);

    nnc_text *t = NULL;
    nnc_status s = nnc_text_load(text, &t);
    if (s) {
        if (!strcmp(text, FORTUNES_DIR)) fprintf(stderr, "nnc train: the default corpus needs Debian's fortunes package (apt-get install fortunes)\n");
        return cli_fail("train", s);
    }
    if (limit > 0 && limit < t->n) t->n = limit;
    const int64_t n_train = t->n - t->n / 10, n_test = t->n - n_train;
    if (n_train < 2 || n_test < 2 || n_train - 1 < B) {
        nnc_text_free(t);
        return cli_usage_error("train", "the text (%lld bytes) is too short for %lld streams", (long long)t->n, (long long)B);
    }
    c.vocab = t->vocab;
    charrnn_net n;
    s = charrnn_build(&c, &n);
    nnc_graph_set_seed(n.g, (uint64_t)seed);
    nnc_optim opt = nnc_optim_adam((float)lr, 0);
    opt.clip_norm = (float)clip;
    if (!s) s = nnc_graph_set_optimizer(n.g, &opt);
    if (!s) s = nnc_graph_compile(n.g, B, 1);
    if (s) { nnc_graph_free(n.g); nnc_text_free(t); return cli_fail("train", s); }
    const int64_t params = nnc_graph_n_param_elems(n.g);
    printf("model=charrnn cell=%s hidden=%lld layers=%d embed=%lld vocab=%d params=%lld text=%s bytes=%lld train=%lld heldout=%lld "
           "seq_len=%lld batch=%lld threads=%d\n",
           cell_names[c.cell], (long long)c.hidden, c.layers, (long long)c.embed, c.vocab, (long long)params, text, (long long)t->n,
           (long long)n_train, (long long)n_test, (long long)c.T, (long long)B, nnc_get_threads());
    fflush(stdout);
    streams st;
    make_streams(&st, B, n_train);
    const int64_t windows = (st.maxcnt + c.T - 1) / c.T;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    double elapsed = 0;
    int stop = 0;
    for (int ep = 1; ep <= epochs && !stop && !s; ep++) {
        if ((s = nnc_graph_compile(n.g, B, 1))) break;
        nnc_graph_set_lr(n.g, (float)(lr * pow(decay, ep - 1)));
        zero_state(&n);
        double nats = 0;
        int64_t count = 0, chars = 0;
        struct timespec e0;
        clock_gettime(CLOCK_MONOTONIC, &e0);
        for (int64_t w = 0; w < windows && !s; w++) {
            int64_t real = fill_window(&n, t->ids, &st, c.T, w);
            float loss;
            if ((s = nnc_graph_train_step(n.g, &loss))) break;
            if (!isfinite(loss)) { s = nnc_error(NNC_ERR_NUMERIC, "loss became %g at epoch %d window %lld", (double)loss, ep, (long long)w); break; }
            nats += (double)loss * (double)real;
            count += real;
            chars += B * c.T;
            carry_state(&n);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            elapsed = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
            if (!quiet && isatty(2) && (w % 20 == 0 || w + 1 == windows))
                fprintf(stderr, "\repoch %d  window %lld/%lld  train_bpc %.3f  %.0f s   ", ep, (long long)w + 1, (long long)windows,
                        nats / (double)count / log(2.0), elapsed);
            if (minutes > 0 && elapsed >= minutes * 60) { stop = 1; break; }
        }
        if (s) break;
        if (!quiet && isatty(2)) fprintf(stderr, "\n");
        struct timespec e1;
        clock_gettime(CLOCK_MONOTONIC, &e1);
        double ep_s = (double)(e1.tv_sec - e0.tv_sec) + 1e-9 * (double)(e1.tv_nsec - e0.tv_nsec);
        double bpc;
        if ((s = heldout_bpc(&n, t->ids + n_train, n_test, B, c.T, &bpc))) break;
        printf("epoch=%d%s train_bpc=%.4f heldout_bpc=%.4f time_s=%.1f tokens_per_s=%.0f elapsed_s=%.1f\n", ep, stop ? "(stopped)" : "",
               nats / (double)count / log(2.0), bpc, ep_s, (double)chars / ep_s, elapsed);
        fflush(stdout);
    }
    if (!s && save) s = save_model(&n, &c, t, save);
    nnc_graph_free(n.g);
    nnc_text_free(t);
    if (s) return cli_fail("train", s);
    if (save) printf("saved %s\n", save);
    return 0;
}

/* ------------------------------------------------------------------ sample */
void help_sample(FILE *f) {
    fprintf(f, "usage: nnc sample --model FILE [--length N] [--temperature T] [--prime TEXT] [--seed S]\n\n"
               "Generates text from a character model saved by 'nnc train charrnn --save FILE':\n"
               "feeds --prime (default: a newline), then samples each next character from\n"
               "softmax(logits / T) (T -> 0: greedy) and feeds it back.\n"
               "  --length N         characters to generate (default 300)\n"
               "  --temperature T    default 0.8\n");
}

static int meta_int(nnc_safetensors *f, const char *k, long long lo, long long hi, long long *v) {
    const char *s = nnc_safetensors_meta(f, k);
    char *e;
    if (!s) return 0;
    *v = strtoll(s, &e, 10);
    return *s && !*e && *v >= lo && *v <= hi;
}

int cmd_sample(int argc, char **argv) {
    cli_args a;
    if (!cli_args_init(&a, argc, argv)) return 1;
    const char *model = cli_str(&a, "model", NULL);
    int64_t length = cli_int(&a, "length", 300, 0, 100000000);
    double temp = cli_num(&a, "temperature", 0.8, 0, 100);
    const char *prime = cli_str(&a, "prime", "\n");
    long long seed = cli_int(&a, "seed", 1, 0, (long long)1 << 62);
    const char *pos[2];
    int np = cli_positionals(&a, pos, 2);
    int bad = a.bad || np < 0;
    cli_args_free(&a);
    if (bad) return 2;
    if (np) return cli_usage_error("sample", "unexpected argument '%s'", pos[0]);
    if (!model) return cli_usage_error("sample", "--model FILE is required");
    nnc_safetensors *f;
    nnc_status s = nnc_safetensors_open(model, &f);
    if (s) return cli_fail("sample", s);
    const char *task = nnc_safetensors_meta(f, "nnc.task"), *cell = nnc_safetensors_meta(f, "charrnn.cell"),
               *vocab = nnc_safetensors_meta(f, "charrnn.vocab");
    long long hidden, layers, embed;
    charrnn_cfg c = {NNC_LSTM, 0, 0, 1, 0, 0, 0, 0};
    uint8_t bytes[256];
    int ok = task && !strcmp(task, "charrnn") && cell && parse_cell(cell, &c.cell) && vocab && meta_int(f, "charrnn.hidden", 1, 65536, &hidden) &&
             meta_int(f, "charrnn.layers", 1, 16, &layers) && meta_int(f, "charrnn.embed", 0, 65536, &embed);
    size_t vl = vocab ? strlen(vocab) : 0;
    ok = ok && vl >= 2 && vl <= 512 && vl % 2 == 0;
    for (size_t i = 0; ok && i < vl / 2; i++) {
        unsigned v;
        ok = sscanf(vocab + 2 * i, "%2x", &v) == 1;
        bytes[i] = (uint8_t)v;
    }
    nnc_safetensors_close(f);
    if (!ok) {
        fprintf(stderr, "nnc sample: %s: not a character model (metadata nnc.task=charrnn, charrnn.cell/hidden/layers/embed/vocab expected)\n", model);
        return 1;
    }
    c.hidden = hidden;
    c.layers = (int)layers;
    c.embed = embed;
    c.vocab = (int)(vl / 2);
    int16_t id_of[256];
    for (int i = 0; i < 256; i++) id_of[i] = -1;
    for (int i = 0; i < c.vocab; i++) id_of[bytes[i]] = (int16_t)i;
    for (const char *p = prime; *p; p++)
        if (id_of[(uint8_t)*p] < 0) return cli_usage_error("sample", "--prime: character '%c' (byte %d) is not in the model's vocabulary", *p, (uint8_t)*p);
    charrnn_net n;
    s = charrnn_build(&c, &n);
    if (!s) s = nnc_graph_compile(n.g, 1, 0);
    if (!s) s = nnc_graph_load(n.g, model);
    if (s) { nnc_graph_free(n.g); return cli_fail("sample", s); }
    zero_state(&n);
    int32_t *x = nnc_node_value(n.ids)->data;
    *(int32_t *)nnc_node_value(n.targets)->data = IGNORE;
    fputs(prime, stdout);
    int32_t next = id_of[(uint8_t)prime[0]];
    double *p = malloc((size_t)c.vocab * sizeof *p);
    if (!p) { nnc_graph_free(n.g); return cli_fail("sample", nnc_error(NNC_ERR_OOM, "out of memory")); }
    size_t np_ = strlen(prime);
    for (int64_t k = 0; length > 0 && k < (int64_t)np_ + length - 1 && !s; k++) {
        *x = k < (int64_t)np_ ? id_of[(uint8_t)prime[k]] : next;
        if ((s = nnc_graph_forward(n.g))) break;
        carry_state(&n);
        if (k + 1 < (int64_t)np_) continue;
        const float *lg = nnc_node_value(n.logits)->data;
        int best = 0;
        for (int i = 1; i < c.vocab; i++) if (lg[i] > lg[best]) best = i;
        if (temp < 1e-6) {
            next = best;
        } else {
            double z = 0;
            for (int i = 0; i < c.vocab; i++) z += p[i] = exp((lg[i] - lg[best]) / temp);
            double u = nnc_rand_uniform((uint64_t)seed, 0x73616d706c65ULL, (uint64_t)k) * z;
            next = c.vocab - 1;
            for (int i = 0; i < c.vocab; i++) {
                if (u < p[i]) { next = i; break; }
                u -= p[i];
            }
        }
        putchar(bytes[next]);
    }
    putchar('\n');
    free(p);
    nnc_graph_free(n.g);
    return s ? cli_fail("sample", s) : 0;
}
