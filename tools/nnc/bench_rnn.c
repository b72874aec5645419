/* bench_rnn.c -- workloads W6 and W6bi of shared/bench/pytorch/bench.py:
 * a character RNN (vocabulary 96, tanh RNN 256 units, T = 64, B = 32),
 * one-hot input (a pre-computed float tensor in the peer; here the ids and
 * nnc's one_hot op), fc 256 -> 96 at every step, cross-entropy over all
 * T*B predictions, full BPTT, Adam lr 2e-3, h0 = 0 every batch. W6bi: two
 * stacked bidirectional layers (layer 2 input 512, fc 512 -> 96).
 * Prints tokens/s = T*B*steps/seconds after a warm-up, the median of
 * --repeat timed runs, and the peak resident memory. */
#include "cli.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

nnc_status bench_w6(int bidir, double tmin, double warm, int repeat) {
    const int64_t V = 96, H = 256, T = 64, B = 32;
    nnc_graph *g = nnc_graph_new();
    nnc_node *ids = nnc_input(g, "ids", NNC_I32, 1, (int64_t[]){T});
    nnc_node *tgt = nnc_input(g, "targets", NNC_I32, 1, (int64_t[]){T});
    nnc_rnn_opts o = {.cell = NNC_RNN_TANH, .hidden = H, .layers = bidir ? 2 : 1, .bidirectional = bidir};
    nnc_rnn_out r = nnc_rnn_layer(g, nnc_one_hot(g, ids, V), "rnn", &o);
    nnc_node *logits = nnc_linear_seq_layer(g, r.y, "fc", V, 1);
    nnc_graph_loss(g, nnc_cross_entropy_seq(g, logits, tgt, NNC_MEAN, -100), 1.0f);
    nnc_optim opt = nnc_optim_adam(2e-3f, 0);
    nnc_status s = nnc_graph_status(g);
    if (!s) s = nnc_graph_set_optimizer(g, &opt);
    if (!s) s = nnc_graph_compile(g, B, 1);
    if (s) { nnc_graph_free(g); return s; }
    int32_t *x = nnc_node_value(ids)->data, *y = nnc_node_value(tgt)->data;
    for (int64_t i = 0; i < B * T; i++) {
        x[i] = (int32_t)(nnc_rand_u64(3, 1, (uint64_t)i) % (uint64_t)V);
        y[i] = (int32_t)(nnc_rand_u64(3, 2, (uint64_t)i) % (uint64_t)V);
    }
    double t0 = omp_get_wtime();
    long it = 0;
    while ((it < 3 || omp_get_wtime() - t0 < warm) && !s) { s = nnc_graph_train_step(g, NULL); it++; }
    double rates[64];
    if (repeat > 64) repeat = 64;
    for (int rep = 0; rep < repeat && !s; rep++) {
        long n = 0;
        t0 = omp_get_wtime();
        double el = 0;
        do {
            if ((s = nnc_graph_train_step(g, NULL))) break;
            n++;
            el = omp_get_wtime() - t0;
        } while (el < tmin);
        rates[rep] = (double)(n * T * B) / el;
    }
    if (!s) {
        qsort(rates, (size_t)repeat, sizeof rates[0], cmp_d);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        const int D = bidir ? 2 : 1;
        int64_t macs = 0, in = V;
        for (int l = 0; l < (bidir ? 2 : 1); l++) { macs += D * (in * H + H * H); in = H * D; }
        macs += in * V;
        const double med = rates[repeat / 2];
        printf("workload=%s mode=train batch=%lld seq_len=%lld tokens_per_s=%.0f min=%.0f max=%.0f repeats=%d params=%lld "
               "macs_per_token=%lld approx_gflops=%.1f peak_rss_mb=%.1f threads=%d\n",
               bidir ? "W6bi" : "W6", (long long)B, (long long)T, med, rates[0], rates[repeat - 1], repeat,
               (long long)nnc_graph_n_param_elems(g), (long long)macs, med * (double)macs * 6 / 1e9, ru.ru_maxrss / 1024.0,
               nnc_get_threads());
    }
    nnc_graph_free(g);
    return s;
}
