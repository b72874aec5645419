/* bench.h -- the pieces of `nnc bench` shared by cmd_bench.c (workloads,
 * timing, tables), bench_rnn.c (W6), bench_peer.c (child processes and the
 * PyTorch peer) and bench_profile.c (--profile). */
#ifndef NNC_BENCH_H
#define NNC_BENCH_H
#include "nnc.h"
#include <stddef.h>
#include <stdio.h>

/* How one measurement runs. */
typedef struct bench_cfg {
    double time, warmup; /* seconds per timed run; warm-up seconds (and >= 3 steps) */
    int repeat;          /* timed runs; the median is the headline */
    int threads;         /* 0: nnc's default */
    int64_t batch;       /* 0: the workload's batch for the mode */
} bench_cfg;

/* A compiled network ready to step: inputs x and y are refilled after every
 * compile (the planned arena moves them). x_range/y_range: integer inputs
 * are drawn from [0, range); x_range 0 means f32 normal values. */
typedef struct bench_net {
    nnc_graph *g;
    nnc_model *m;        /* owns g when non-NULL */
    nnc_node *x, *y;
    int64_t x_range, y_range;
    int64_t units_per_sample; /* 1 for images, T for token sequences */
    int64_t macs;        /* counted forward MACs per unit (nnc_graph_layers) */
} bench_net;
void bench_net_free(bench_net *n);
void bench_net_fill(bench_net *n);
/* Sum of the ops' counted forward MACs per sample. */
int64_t bench_graph_macs(const nnc_graph *g);

/* One measurement's result, printed as one key=value line. */
typedef struct bench_result {
    char workload[48], model[48], mode[16];
    int64_t batch;
    double median, min, max; /* units/s over the timed runs; latency mode: microseconds per call */
    int repeats;
    int tokens;              /* units are tokens (W6) rather than images */
    int64_t macs, params;    /* forward MACs per unit; trainable elements */
    double gflops;           /* median * macs * 2 (x3 in training) / 1e9; latency: per call */
    double peak_rss_mb;
    int threads;
} bench_result;
void bench_print(const bench_result *r);
/* Parses a line bench_print wrote; 1 on success. */
int bench_parse(const char *line, bench_result *r);
double bench_peak_rss_mb(void);
double bench_now(void);
/* Median, min and max of v[0..n) (sorted in place). */
void bench_stats(double *v, int n, double *med, double *min, double *max);

/* A zoo model (nnc_model_build with options), BENCH_W5_MODEL or
 * BENCH_W7_MODEL (W5's and W7's networks, bench_net.c), seeded 0, with the optimizer set; not compiled. */
#define BENCH_W5_MODEL "vgg11-bn-32"
#define BENCH_W7_MODEL "alexnet-small-32"
nnc_status bench_model_net(const char *model, const char *options, const nnc_optim *opt, bench_net *n);

/* W6 / W6bi (bench_rnn.c): the char-RNN graph, compiled for training at
 * batch 32 with its sequences filled. */
nnc_status bench_w6_net(int bidir, bench_net *n);

/* Runs argv (argv[0] a path) with stdout and stderr captured into out
 * (NUL-terminated, truncated at cap); returns the exit status, -1 if it
 * could not be started. */
int bench_spawn(char *const argv[], char *out, size_t cap);
/* The first line of text starting with prefix, copied into line; 1 if found. */
int bench_find_line(const char *text, const char *prefix, char *line, size_t cap);

/* The PyTorch peer (bench_peer.c). */
typedef struct bench_peer {
    const char *script;   /* bench.py */
    const char *python;   /* interpreter */
    int config_a;         /* run under config A's environment */
    char version[32];     /* torch.__version__ */
} bench_peer;
/* Checks what a peer column needs; 1 ready, 0 not (a note printed to f). */
int bench_peer_check(bench_peer *p, FILE *f);
/* One peer run of workload/mode for `seconds`; 1 on success. */
int bench_peer_run(const bench_peer *p, const char *workload, const char *mode, double seconds, int threads,
                   int64_t batch, bench_result *r, FILE *err);
/* The default peer script: ../shared/bench/pytorch/bench.py relative to the
 * current directory or to the repository that holds this executable. */
const char *bench_default_peer_script(char *buf, size_t cap);

/* --profile (bench_profile.c): per op type and per layer timing of the
 * training step of a compiled net, for `seconds` (at least 3 steps). */
nnc_status bench_profile(bench_net *n, const char *workload, int64_t batch, double seconds, double warmup, FILE *f);
#endif
