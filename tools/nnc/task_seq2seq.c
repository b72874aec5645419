/* task_seq2seq.c -- `nnc train seq2seq-add`: an encoder-decoder that learns
 * to add two integers written as digit sequences.
 *
 * Data (generated, seeded): a, b uniform in [0, 10^D); the source is
 * "a+b", of variable length, padded to 2D+1 and given with its length so the
 * encoder stops at the real end; the target is the digits of a+b then EOS,
 * padded to D+2 with positions the loss ignores. Numbers are written least
 * significant digit first by default (--order lsb: the order in which one
 * adds by hand, so each output digit needs only the carry) or as usual
 * (--order msb: the decoder must work out the carries ahead). A fixed 2% of all pairs (by a hash of (a, b)) is held out: the
 * training stream never draws them and the exact-match accuracy is measured
 * on them.
 * Model: embedding -> LSTM encoder (lengths masked); its final (h, c) starts
 * an LSTM decoder fed GO y0 y1 ... (teacher forcing) -> fc -> cross-entropy
 * per step. Evaluation decodes greedily: the decoder input grows by the
 * argmax of the previous step, one forward per output position. */
#include "cli.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { PLUS = 10, PAD = 11, GO = 12, EOS = 13, VOCAB = 14 };
#define IGNORE (-100)
#define STREAM_PAIRS 0x7061697273ULL

typedef struct s2s_net {
    nnc_graph *g;
    nnc_node *src, *len, *dec_in, *target, *logits, *loss;
    int64_t Tin, Tout;
} s2s_net;

static nnc_status s2s_build(s2s_net *n, int digits, int64_t hidden, int64_t embed, nnc_rnn_cell cell) {
    memset(n, 0, sizeof *n);
    n->Tin = 2 * digits + 1;
    n->Tout = digits + 2;
    nnc_graph *g = n->g = nnc_graph_new();
    if (!g) return nnc_error(NNC_ERR_OOM, "out of memory");
    n->src = nnc_input(g, "src", NNC_I32, 1, (int64_t[]){n->Tin});
    n->len = nnc_input(g, "src_len", NNC_I32, 0, NULL);
    n->dec_in = nnc_input(g, "dec_in", NNC_I32, 1, (int64_t[]){n->Tout});
    n->target = nnc_input(g, "target", NNC_I32, 1, (int64_t[]){n->Tout});
    nnc_rnn_opts eo = {.cell = cell, .hidden = hidden, .lengths = n->len, .want_state = 1};
    nnc_rnn_out enc = nnc_rnn_layer(g, nnc_embedding_layer(g, n->src, "enc_embed", VOCAB, embed), "encoder", &eo);
    nnc_rnn_opts dopt = {.cell = cell, .hidden = hidden, .h0 = enc.h_n, .c0 = enc.c_n};
    nnc_rnn_out dec = nnc_rnn_layer(g, nnc_embedding_layer(g, n->dec_in, "dec_embed", VOCAB, embed), "decoder", &dopt);
    n->logits = nnc_linear_seq_layer(g, dec.y, "fc", VOCAB, 1);
    n->loss = nnc_cross_entropy_seq(g, n->logits, n->target, NNC_MEAN, IGNORE);
    nnc_graph_output(g, n->logits);
    nnc_graph_loss(g, n->loss, 1.0f);
    return nnc_graph_status(g);
}

static int held_out(int64_t a, int64_t b) { return nnc_rand_u64(7, 0x68656c64ULL, (uint64_t)(a * 1000003 + b)) % 50 == 0; }

static int put_number(int32_t *dst, int64_t v, int lsb_first) {
    char buf[24];
    int k = snprintf(buf, sizeof buf, "%lld", (long long)v);
    for (int i = 0; i < k; i++) dst[i] = buf[lsb_first ? k - 1 - i : i] - '0';
    return k;
}

/* Writes sample i of the batch for the pair (a, b). */
static void encode(s2s_net *n, int64_t i, int64_t a, int64_t b, int lsb) {
    int32_t *src = (int32_t *)nnc_node_value(n->src)->data + i * n->Tin;
    int32_t *din = (int32_t *)nnc_node_value(n->dec_in)->data + i * n->Tout;
    int32_t *tgt = (int32_t *)nnc_node_value(n->target)->data + i * n->Tout;
    int32_t tmp[64];
    int k = put_number(tmp, a, lsb);
    tmp[k++] = PLUS;
    k += put_number(tmp + k, b, lsb);
    for (int t = 0; t < n->Tin; t++) src[t] = t < k ? tmp[t] : PAD;
    ((int32_t *)nnc_node_value(n->len)->data)[i] = k;
    int m = put_number(tmp, a + b, lsb);
    tmp[m++] = EOS;
    for (int t = 0; t < n->Tout; t++) {
        tgt[t] = t < m ? tmp[t] : IGNORE;
        din[t] = t == 0 ? GO : (t - 1 < m ? tmp[t - 1] : PAD);
    }
}

static void draw_pair(uint64_t seed, uint64_t *ctr, int64_t maxv, int want_heldout, int64_t *a, int64_t *b) {
    for (;;) {
        *a = (int64_t)(nnc_rand_u64(seed, STREAM_PAIRS, (*ctr)++) % (uint64_t)maxv);
        *b = (int64_t)(nnc_rand_u64(seed, STREAM_PAIRS, (*ctr)++) % (uint64_t)maxv);
        if (held_out(*a, *b) == want_heldout) return;
    }
}

/* Greedy decoding of a batch; returns the number of exact matches. */
static nnc_status greedy_batch(s2s_net *n, int64_t B, const int64_t *a, const int64_t *b, int lsb, int64_t *correct) {
    for (int64_t i = 0; i < B; i++) encode(n, i, a[i], b[i], lsb);
    int32_t *din = nnc_node_value(n->dec_in)->data;
    for (int64_t i = 0; i < B; i++)
        for (int64_t t = 1; t < n->Tout; t++) din[i * n->Tout + t] = PAD;
    int32_t pred[4096][16];
    for (int64_t t = 0; t < n->Tout; t++) {
        nnc_status s = nnc_graph_forward(n->g);
        if (s) return s;
        const float *lg = nnc_node_value(n->logits)->data;
        for (int64_t i = 0; i < B; i++) {
            const float *row = lg + (i * n->Tout + t) * VOCAB;
            int best = 0;
            for (int v = 1; v < VOCAB; v++) if (row[v] > row[best]) best = v;
            pred[i][t] = best;
            if (t + 1 < n->Tout) din[i * n->Tout + t + 1] = best;
        }
    }
    const int32_t *tgt = nnc_node_value(n->target)->data;
    for (int64_t i = 0; i < B; i++) {
        int ok = 1;
        for (int64_t t = 0; t < n->Tout && ok; t++) {
            int32_t want = tgt[i * n->Tout + t];
            if (want == IGNORE) break;
            ok = pred[i][t] == want;
        }
        *correct += ok;
    }
    return NNC_OK;
}

static nnc_status evaluate(s2s_net *n, int64_t B, int digits, int64_t count, int lsb, double *acc) {
    nnc_status s = nnc_graph_compile(n->g, B, 0);
    if (s) return s;
    int64_t maxv = 1;
    for (int d = 0; d < digits; d++) maxv *= 10;
    uint64_t ctr = 0;
    int64_t correct = 0, done = 0, a[4096], b[4096];
    while (done < count) {
        for (int64_t i = 0; i < B; i++) draw_pair(99, &ctr, maxv, 1, &a[i], &b[i]);
        if ((s = greedy_batch(n, B, a, b, lsb, &correct))) return s;
        done += B;
    }
    *acc = (double)correct / (double)done;
    return NNC_OK;
}

void help_train_seq2seq(FILE *f) {
    fprintf(f, "usage: nnc train seq2seq-add [options]\n\n"
               "Encoder-decoder (LSTM) learning a+b from digit sequences, teacher forcing;\n"
               "reports the exact-match accuracy of greedy decoding on held-out pairs.\n\n"
               "  --digits D         operands below 10^D (default 3)\n"
               "  --order lsb|msb    digits least significant first (default) or as usual\n"
               "  --cell NAME        lstm (default) or gru\n"
               "  --hidden N         units (default 128)   --embed N   (default 32)\n"
               "  --batch B          default 128\n"
               "  --steps N          training steps per epoch (default 500)\n"
               "  --epochs N         default 40\n"
               "  --minutes M        stop after M minutes of training\n"
               "  --target-acc A     stop once held-out exact match >= A (default 1.0: never)\n"
               "  --eval-pairs N     held-out pairs per evaluation (default 2048)\n"
               "  --lr LR            Adam learning rate (default 0.002)\n"
               "  --save FILE, --threads N, --seed S\n");
}

int task_seq2seq_train(int argc, char **argv) {
    cli_args a;
    if (!cli_args_init(&a, argc, argv)) return 1;
    int digits = (int)cli_int(&a, "digits", 3, 1, 6);
    const char *order = cli_str(&a, "order", "lsb");
    const char *cellname = cli_str(&a, "cell", "lstm");
    int64_t hidden = cli_int(&a, "hidden", 128, 1, 65536), embed = cli_int(&a, "embed", 32, 1, 65536);
    int64_t B = cli_int(&a, "batch", 128, 1, 4096), steps = cli_int(&a, "steps", 500, 1, 1 << 30);
    int epochs = (int)cli_int(&a, "epochs", 40, 0, 1 << 20);
    double minutes = cli_num(&a, "minutes", 0, 0, 1e6), target = cli_num(&a, "target-acc", 1.0, 0, 1);
    int64_t eval_pairs = cli_int(&a, "eval-pairs", 2048, 1, 1 << 24);
    double lr = cli_num(&a, "lr", 2e-3, 1e-9, 10);
    const char *save = cli_str(&a, "save", NULL);
    int threads = (int)cli_int(&a, "threads", 0, 0, 1024);
    long long seed = cli_int(&a, "seed", 1, 0, (long long)1 << 62);
    const char *pos[3];
    int np = cli_positionals(&a, pos, 3);
    int bad = a.bad || np < 0;
    cli_args_free(&a);
    if (bad) return 2;
    if (np != 1) return cli_usage_error("train", "expected one model name (seq2seq-add)");
    int lsb = !strcmp(order, "lsb");
    if (!lsb && strcmp(order, "msb")) return cli_usage_error("train", "--order '%s' must be lsb or msb", order);
    nnc_rnn_cell cell;
    if (!strcmp(cellname, "lstm")) cell = NNC_LSTM;
    else if (!strcmp(cellname, "gru")) cell = NNC_GRU;
    else return cli_usage_error("train", "--cell '%s' must be lstm or gru", cellname);
    if (threads) nnc_set_threads(threads);
    s2s_net n;
    nnc_status s = s2s_build(&n, digits, hidden, embed, cell);
    nnc_graph_set_seed(n.g, (uint64_t)seed);
    nnc_optim opt = nnc_optim_adam((float)lr, 0);
    opt.clip_norm = 5.0f;
    if (!s) s = nnc_graph_set_optimizer(n.g, &opt);
    if (s) { nnc_graph_free(n.g); return cli_fail("train", s); }
    printf("model=seq2seq-add cell=%s digits=%d order=%s hidden=%lld embed=%lld params=%lld batch=%lld steps_per_epoch=%lld threads=%d\n",
           cellname, digits, order, (long long)hidden, (long long)embed, (long long)nnc_graph_n_param_elems(n.g), (long long)B,
           (long long)steps, nnc_get_threads());
    fflush(stdout);
    int64_t maxv = 1;
    for (int d = 0; d < digits; d++) maxv *= 10;
    uint64_t ctr = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    double train_s = 0;
    int stop = 0;
    for (int ep = 1; ep <= epochs && !stop && !s; ep++) {
        struct timespec e0;
        clock_gettime(CLOCK_MONOTONIC, &e0);
        if ((s = nnc_graph_compile(n.g, B, 1))) break;
        double loss_sum = 0;
        int64_t k;
        for (k = 0; k < steps && !s; k++) {
            for (int64_t i = 0; i < B; i++) {
                int64_t x, y;
                draw_pair((uint64_t)seed, &ctr, maxv, 0, &x, &y);
                encode(&n, i, x, y, lsb);
            }
            float loss;
            if ((s = nnc_graph_train_step(n.g, &loss))) break;
            if (!isfinite(loss)) { s = nnc_error(NNC_ERR_NUMERIC, "loss became %g at epoch %d step %lld", (double)loss, ep, (long long)k); break; }
            loss_sum += loss;
            clock_gettime(CLOCK_MONOTONIC, &t1);
            if (minutes > 0 && train_s + (double)(t1.tv_sec - e0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - e0.tv_nsec) >= minutes * 60) { stop = 1; k++; break; }
        }
        if (s) break;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ep_s = (double)(t1.tv_sec - e0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - e0.tv_nsec);
        train_s += ep_s;
        double acc;
        if ((s = evaluate(&n, B, digits, eval_pairs, lsb, &acc))) break;
        printf("epoch=%d%s train_loss=%.4f heldout_exact=%.4f steps=%lld time_s=%.1f train_s=%.1f pairs_per_s=%.0f\n", ep,
               stop ? "(stopped)" : "", loss_sum / (double)k, acc, (long long)k, ep_s, train_s, (double)(k * B) / ep_s);
        fflush(stdout);
        if (acc >= target) stop = 1;
    }
    if (!s && save) s = nnc_graph_save(n.g, save);
    nnc_graph_free(n.g);
    if (s) return cli_fail("train", s);
    return 0;
}
