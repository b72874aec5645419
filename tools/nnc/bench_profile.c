/* bench_profile.c -- `nnc bench W --profile`: where a training step's time
 * goes. Forward, backward and the optimizer update are timed apart, each op
 * node's kernels through nnc_graph_set_timing, and the rows are summed per op
 * type and listed per layer with their share and achieved GFLOP/s (counted
 * MACs x 2 per forward, x 4 per backward: the x3 rule of the peer). The
 * time spent waiting for data is reported as 0: the workloads reuse one
 * synthetic batch that stays in place, as the peer's do. */
#include "bench.h"
#include <stdlib.h>
#include <string.h>

typedef struct op_sum { const char *op; int nodes; double fwd, bwd, flops; } op_sum;

static int cmp_op(const void *a, const void *b) {
    double x = ((const op_sum *)a)->fwd + ((const op_sum *)a)->bwd, y = ((const op_sum *)b)->fwd + ((const op_sum *)b)->bwd;
    return x < y ? 1 : x > y ? -1 : 0;
}

static double gf(double flops, double s) { return s > 0 ? flops / s / 1e9 : 0; }

nnc_status bench_profile(bench_net *n, const char *workload, int64_t batch, double seconds, double warmup, FILE *f) {
    nnc_graph *g = n->g;
    int nn = nnc_graph_n_nodes(g), nl = nnc_graph_layers(g, NULL, 0);
    nnc_node_time *rows = calloc((size_t)nn, sizeof *rows);
    nnc_layer_info *li = calloc((size_t)(nl > 0 ? nl : 1), sizeof *li);
    op_sum *ops = calloc((size_t)(nl > 0 ? nl : 1), sizeof *ops);
    if (!rows || !li || !ops) { free(rows); free(li); free(ops); return nnc_error(NNC_ERR_OOM, "out of memory"); }
    nnc_graph_layers(g, li, nl);
    nnc_status s = NNC_OK;
    double t0 = bench_now();
    for (long it = 0; !s && (it < 3 || bench_now() - t0 < warmup); it++) s = nnc_graph_train_step(g, NULL);
    if (!s) s = nnc_graph_set_timing(g, rows, nn);
    double tf = 0, tb = 0, tu = 0, td = 0; /* td: data wait, 0 (see above) */
    long steps = 0;
    t0 = bench_now();
    while (!s && (steps < 3 || bench_now() - t0 < seconds)) {
        double b = bench_now(); /* no data wait: the synthetic batch stays in place */
        s = nnc_graph_forward(g);
        double c = bench_now();
        if (!s) s = nnc_graph_backward(g);
        double d = bench_now();
        if (!s) s = nnc_graph_update(g);
        double e = bench_now();
        tf += c - b; tb += d - c; tu += e - d;
        steps++;
    }
    double wall = bench_now() - t0;
    nnc_graph_set_timing(g, NULL, 0);
    if (s) { free(rows); free(li); free(ops); return s; }

    const double per = 1e3 / (double)steps; /* ms per step */
    const double units = (double)batch * (double)n->units_per_sample;
    double kern = 0;
    for (int i = 0; i < nn; i++) kern += rows[i].forward_s + rows[i].backward_s;
    fprintf(f, "profile workload=%s mode=train batch=%lld steps=%ld step_ms=%.3f forward_ms=%.3f backward_ms=%.3f update_ms=%.3f "
               "data_wait_ms=%.3f kernels_ms=%.3f threads=%d\n",
            workload, (long long)batch, steps, wall * per, tf * per, tb * per, tu * per, td * per, kern * per, nnc_get_threads());
    fprintf(f, "note: data_wait is 0 by construction: one synthetic batch is reused every step (no loader), as in the peer\n");

    /* per op type; k walks the op rows in nnc_graph_layers' order */
    int nops = 0, k = 0;
    for (int i = 0; i < nn; i++) {
        if (!rows[i].op) continue;
        double macs = k < nl ? (double)li[k].macs * (double)batch : 0;
        k++;
        int j = 0;
        while (j < nops && strcmp(ops[j].op, rows[i].op)) j++;
        if (j == nops) { ops[nops].op = rows[i].op; nops++; }
        ops[j].nodes++;
        ops[j].fwd += rows[i].forward_s;
        ops[j].bwd += rows[i].backward_s;
        ops[j].flops += macs * (2.0 * (double)rows[i].forward_calls + 4.0 * (double)rows[i].backward_calls);
    }
    qsort(ops, (size_t)nops, sizeof *ops, cmp_op);
    fprintf(f, "\nby op type (ms per step; share of the step)\n%-18s %6s %10s %10s %10s %7s %9s\n", "op", "nodes", "fwd_ms",
            "bwd_ms", "total_ms", "share", "GFLOP/s");
    for (int j = 0; j < nops; j++)
        fprintf(f, "%-18s %6d %10.3f %10.3f %10.3f %6.1f%% %9.1f\n", ops[j].op, ops[j].nodes, ops[j].fwd * per, ops[j].bwd * per,
                (ops[j].fwd + ops[j].bwd) * per, 100 * (ops[j].fwd + ops[j].bwd) / wall, gf(ops[j].flops, ops[j].fwd + ops[j].bwd));
    fprintf(f, "%-18s %6s %10s %10s %10.3f %6.1f%%\n", "(optimizer update)", "", "", "", tu * per, 100 * tu / wall);
    fprintf(f, "%-18s %6s %10s %10s %10.3f %6.1f%%\n", "(engine overhead)", "", "", "", (tf + tb - kern) * per,
            100 * (tf + tb - kern) / wall);

    fprintf(f, "\nby layer, in graph order (ms per step)\n%-4s %-34s %-14s %10s %10s %7s %12s %9s\n", "#", "layer", "op", "fwd_ms",
            "bwd_ms", "share", "MMACs/step", "GFLOP/s");
    k = 0;
    for (int i = 0; i < nn; i++) {
        if (!rows[i].op) continue;
        double macs = k < nl ? (double)li[k].macs * (double)batch : 0;
        double flops = macs * (2.0 * (double)rows[i].forward_calls + 4.0 * (double)rows[i].backward_calls);
        char lname[128]; /* the layer's scope from its first parameter ("layer1.0.conv1.weight"), else the node's name */
        size_t pl = strlen(rows[i].param);
        if (pl > 7 && !strcmp(rows[i].param + pl - 7, ".weight")) snprintf(lname, sizeof lname, "%.*s", (int)(pl - 7), rows[i].param);
        else snprintf(lname, sizeof lname, "%s", pl ? rows[i].param : rows[i].name[0] ? rows[i].name : "-");
        fprintf(f, "%-4d %-34s %-14s %10.3f %10.3f %6.1f%% %12.2f %9.1f\n", k, lname, rows[i].op,
                rows[i].forward_s * per, rows[i].backward_s * per, 100 * (rows[i].forward_s + rows[i].backward_s) / wall, macs / 1e6,
                gf(flops, rows[i].forward_s + rows[i].backward_s));
        k++;
    }
    fprintf(f, "\nthroughput while profiled: %.1f %s/s (timing adds two clock reads per kernel)\n", units * (double)steps / wall,
            n->units_per_sample > 1 ? "tokens" : "img");
    free(rows);
    free(li);
    free(ops);
    return NNC_OK;
}
