/* cmd_bench.c -- `nnc bench`: the workloads W1..W7 of
 * shared/bench/pytorch/bench.py (and any zoo model) for training, inference
 * and single-image latency. One random batch is reused every step (data
 * loading is not timed, as in the peer); after a warm-up (>= 3 steps and
 * --warmup s), --repeat timed runs of --time s each give the median and the
 * spread of images/s (tokens/s for W6), plus peak resident memory and the
 * GFLOP/s achieved on the counted MACs (x2 per image, x3 more in training).
 * One measurement prints one key=value line. A table (`nnc bench all`,
 * --mode all, --vs-pytorch) runs every measurement in its own child process,
 * so each peak memory is its own; --vs-pytorch alternates nnc and the
 * PyTorch peer run by run (bench_peer.c). --profile: bench_profile.c. */
#include "bench.h"
#include "cli.h"
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

void help_bench(FILE *f) {
    fprintf(f,
            "usage: nnc bench WORKLOAD|all [--mode train|infer|latency|all] [--time S] [--warmup S] [--repeat N]\n"
            "                 [--threads N] [--batch N] [--vs-pytorch [--peer-script PATH] [--torch2 PYTHON]] [--profile]\n"
            "       nnc bench --model NAME [--options K=V,..] [--batch N] ...   (any zoo model or .cfg file)\n\n"
            "workloads (shared/bench/pytorch/bench.py):\n"
            "  W1     LeNet-5 1x28x28: train batch 64, infer batch 256, latency batch 1\n"
            "  W2     MLP 784-1024-1024-10: train batch 128\n"
            "  W3     ResNet-20 (CIFAR, projection shortcuts) 3x32x32: train 128, infer 256, latency 1\n"
            "  W4     DenseNet-BC-100 (k=12): train batch 64\n"
            "  W4d40  DenseNet-BC-40 (k=12): train batch 64\n"
            "  W5     VGG-11-BN for 32x32 (fc 512->10): train batch 128\n"
            "  W6     char-RNN tanh 256 units, T=64, B=32, Adam: train (tokens/s)\n"
            "  W6bi   the same, 2 layers bidirectional\n"
            "  W7     small AlexNet-style CNN 3x32x32 (optional in the peer): train batch 128\n"
            "  all    every workload and mode above, as a table\n\n"
            "--time S      seconds per timed run (default 10)        --warmup S   warm-up seconds (default 2, and >= 3 steps)\n"
            "--repeat N    timed runs; median and min-max (default 3) --threads N  OpenMP threads (default: all cores)\n"
            "--vs-pytorch  run the PyTorch peer in the same invocation, alternating run by run, in config A\n"
            "              (env -u OPENBLAS_CORETYPE LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3\n"
            "              bench.py); prints both numbers and the ratios. Skipped with a note when torch or the OpenMP\n"
            "              OpenBLAS (libopenblas0-openmp) is missing.\n"
            "--peer-script PATH  the peer's bench.py (default ../shared/bench/pytorch/bench.py)\n"
            "--peer-python PATH  the interpreter of config A (default /usr/bin/python3)\n"
            "--torch2 PYTHON     also a column for a Python whose torch is 2.x (e.g. a venv with PyPI's torch)\n"
            "--profile     time and GFLOP/s per op type and per layer of one workload's training step\n\n"
            "One measurement prints e.g.\n"
            "  workload=W1 model=lenet5 mode=train batch=64 img_per_s=40000.0 min=39000.0 max=41000.0 repeats=3\n"
            "  macs_per_img=416520 params=61706 gflops=100.0 peak_rss_mb=40.0 threads=2\n"
            "(tokens_per_s/macs_per_token for W6; median_us/min_us/max_us per call for latency.)\n");
}

enum { M_TRAIN = 1, M_INFER = 2, M_LAT = 4 };
enum { K_MODEL, K_W6, K_W6BI };
typedef struct workload {
    const char *name, *model, *options, *title;
    int64_t train_batch;
    float lr, momentum, wd;
    unsigned modes;
    int kind;
} workload;
static const workload workloads[] = {
    {"W1", "lenet5", NULL, "LeNet-5", 64, 0.05f, 0.9f, 5e-4f, M_TRAIN | M_INFER | M_LAT, K_MODEL},
    {"W2", "mlp", NULL, "MLP 784-1024-1024-10", 128, 0.05f, 0.9f, 0.0f, M_TRAIN, K_MODEL},
    {"W3", "resnet20", NULL, "ResNet-20", 128, 0.1f, 0.9f, 5e-4f, M_TRAIN | M_INFER | M_LAT, K_MODEL},
    {"W4", "densenet-bc100", NULL, "DenseNet-BC-100 (k=12)", 64, 0.1f, 0.9f, 5e-4f, M_TRAIN, K_MODEL},
    {"W4d40", "densenet-bc", "depth=40", "DenseNet-BC-40 (k=12)", 64, 0.1f, 0.9f, 5e-4f, M_TRAIN, K_MODEL},
    {"W5", BENCH_W5_MODEL, NULL, "VGG-11-BN (32x32)", 128, 0.05f, 0.9f, 5e-4f, M_TRAIN, K_MODEL},
    {"W6", "char-rnn", NULL, "char-RNN tanh, 1 layer, H=256", 32, 2e-3f, 0, 0, M_TRAIN, K_W6},
    {"W6bi", "char-rnn-bi", NULL, "char-RNN, 2-layer bidirectional", 32, 2e-3f, 0, 0, M_TRAIN, K_W6BI},
    {"W7", BENCH_W7_MODEL, NULL, "small AlexNet (32x32)", 128, 0.05f, 0.9f, 5e-4f, M_TRAIN, K_MODEL},
};
#define N_WORKLOADS ((int)(sizeof workloads / sizeof workloads[0]))
static const char *const mode_names[] = {"train", "infer", "latency"};

/* ------------------------------------------------------------ small helpers */
double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double bench_peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void bench_stats(double *v, int n, double *med, double *min, double *max) {
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    *min = v[0];
    *max = v[n - 1];
    *med = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void bench_print(const bench_result *r) {
    int lat = !strcmp(r->mode, "latency");
    const char *unit = lat ? "median_us" : r->tokens ? "tokens_per_s" : "img_per_s";
    printf("workload=%s model=%s mode=%s batch=%lld %s=%.1f %s=%.1f %s=%.1f repeats=%d %s=%lld params=%lld gflops=%.2f "
           "peak_rss_mb=%.1f threads=%d\n",
           r->workload, r->model, r->mode, (long long)r->batch, unit, r->median, lat ? "min_us" : "min", r->min,
           lat ? "max_us" : "max", r->max, r->repeats, r->tokens ? "macs_per_token" : "macs_per_img", (long long)r->macs,
           (long long)r->params, r->gflops, r->peak_rss_mb, r->threads);
    fflush(stdout);
}

int bench_parse(const char *line, bench_result *r) {
    memset(r, 0, sizeof *r);
    int have = 0;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", line);
    for (char *save = NULL, *tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) continue;
        *eq = 0;
        const char *k = tok, *v = eq + 1;
        double d = strtod(v, NULL);
        if (!strcmp(k, "workload")) snprintf(r->workload, sizeof r->workload, "%s", v);
        else if (!strcmp(k, "model")) snprintf(r->model, sizeof r->model, "%s", v);
        else if (!strcmp(k, "mode")) snprintf(r->mode, sizeof r->mode, "%s", v);
        else if (!strcmp(k, "batch")) r->batch = (int64_t)d;
        else if (!strcmp(k, "img_per_s") || !strcmp(k, "median_us") || !strcmp(k, "tokens_per_s")) {
            r->median = d;
            r->tokens = !strcmp(k, "tokens_per_s");
            have = 1;
        } else if (!strcmp(k, "min") || !strcmp(k, "min_us")) r->min = d;
        else if (!strcmp(k, "max") || !strcmp(k, "max_us")) r->max = d;
        else if (!strcmp(k, "repeats")) r->repeats = (int)d;
        else if (!strcmp(k, "macs_per_img") || !strcmp(k, "macs_per_token")) r->macs = (int64_t)d;
        else if (!strcmp(k, "params")) r->params = (int64_t)d;
        else if (!strcmp(k, "gflops")) r->gflops = d;
        else if (!strcmp(k, "peak_rss_mb")) r->peak_rss_mb = d;
        else if (!strcmp(k, "threads")) r->threads = (int)d;
    }
    return have && r->workload[0] && r->mode[0];
}

/* ------------------------------------------------------- one measurement */
static nnc_status build_net(const workload *w, bench_net *n) {
    if (w->kind != K_MODEL) return bench_w6_net(w->kind == K_W6BI, n);
    nnc_optim opt = nnc_optim_sgd(w->lr, w->momentum, w->wd);
    return bench_model_net(w->model, w->options, &opt, n);
}

static int64_t mode_batch(const workload *w, const char *mode, const bench_cfg *c) {
    if (!strcmp(mode, "latency")) return 1;
    if (c->batch > 0) return c->batch;
    return !strcmp(mode, "train") ? w->train_batch : 256;
}

/* Warm-up, then c->repeat timed runs; the net is compiled for the mode here
 * (W6's graph is compiled for training only). */
static nnc_status measure(const workload *w, bench_net *n, const char *mode, const bench_cfg *c, bench_result *r) {
    int train = !strcmp(mode, "train"), lat = !strcmp(mode, "latency");
    int64_t batch = w->kind == K_MODEL ? mode_batch(w, mode, c) : nnc_graph_batch(n->g);
    nnc_status s = w->kind == K_MODEL ? nnc_graph_compile(n->g, batch, train) : NNC_OK;
    if (s) return s;
    if (w->kind == K_MODEL) bench_net_fill(n);
    double t0 = bench_now();
    for (long it = 0; !s && (it < 3 || bench_now() - t0 < c->warmup); it++)
        s = train ? nnc_graph_train_step(n->g, NULL) : nnc_graph_forward(n->g);
    double v[64];
    int reps = c->repeat < 64 ? c->repeat : 64;
    size_t cap = lat ? 1u << 16 : 0, cnt = 0;
    double *calls = lat ? malloc(cap * sizeof *calls) : NULL;
    if (lat && !calls) return nnc_error(NNC_ERR_OOM, "out of memory");
    for (int rep = 0; rep < reps && !s; rep++) {
        long it = 0;
        double el = 0;
        cnt = 0;
        t0 = bench_now();
        do {
            double a = bench_now();
            s = train ? nnc_graph_train_step(n->g, NULL) : nnc_graph_forward(n->g);
            double b = bench_now();
            if (lat) {
                if (cnt == cap) {
                    double *nc = realloc(calls, 2 * cap * sizeof *calls);
                    if (!nc) { s = nnc_error(NNC_ERR_OOM, "out of memory"); break; }
                    calls = nc;
                    cap *= 2;
                }
                calls[cnt++] = b - a;
            }
            it++;
            el = b - t0;
        } while (!s && el < c->time);
        if (lat && cnt) {
            double med, mn, mx;
            bench_stats(calls, (int)cnt, &med, &mn, &mx);
            v[rep] = med * 1e6;
        } else v[rep] = (double)it * (double)batch * (double)n->units_per_sample / el;
    }
    free(calls);
    if (s) return s;
    memset(r, 0, sizeof *r);
    snprintf(r->workload, sizeof r->workload, "%s", w->name);
    snprintf(r->model, sizeof r->model, "%s", w->model);
    snprintf(r->mode, sizeof r->mode, "%s", mode);
    r->batch = batch;
    r->repeats = reps;
    bench_stats(v, reps, &r->median, &r->min, &r->max);
    r->tokens = n->units_per_sample > 1;
    r->macs = n->macs;
    r->params = nnc_graph_n_param_elems(n->g);
    r->gflops = lat ? 2.0 * (double)n->macs / (r->median * 1e-6) / 1e9 : r->median * (double)n->macs * (train ? 6 : 2) / 1e9;
    r->peak_rss_mb = bench_peak_rss_mb();
    r->threads = nnc_get_threads();
    return NNC_OK;
}

/* ------------------------------------------------ tables of child processes */
typedef struct row {
    const workload *w;
    const char *mode;
    bench_result nnc, peer[2];
    int ok, peer_ok[2];
} row;

/* One measurement in a child `nnc bench` with `repeat` timed runs. */
static int child_measure(const workload *w, const char *mode, const bench_cfg *c, int repeat, bench_result *r) {
    char t[32], wu[32], rp[16], th[16], bt[32];
    snprintf(t, sizeof t, "%g", c->time);
    snprintf(wu, sizeof wu, "%g", c->warmup);
    snprintf(rp, sizeof rp, "%d", repeat);
    snprintf(th, sizeof th, "%d", c->threads);
    snprintf(bt, sizeof bt, "%lld", (long long)c->batch);
    char *argv[24];
    int a = 0;
    argv[a++] = "/proc/self/exe";
    argv[a++] = "bench";
    if (w->title) argv[a++] = (char *)w->name;
    else { argv[a++] = "--model"; argv[a++] = (char *)w->model; }
    if (!w->title && w->options) { argv[a++] = "--options"; argv[a++] = (char *)w->options; }
    argv[a++] = "--mode"; argv[a++] = (char *)mode;
    argv[a++] = "--time"; argv[a++] = t;
    argv[a++] = "--warmup"; argv[a++] = wu;
    argv[a++] = "--repeat"; argv[a++] = rp;
    if (c->threads) { argv[a++] = "--threads"; argv[a++] = th; }
    if (c->batch) { argv[a++] = "--batch"; argv[a++] = bt; }
    argv[a] = NULL;
    static char out[1 << 16];
    char line[1024];
    int rc = bench_spawn(argv, out, sizeof out);
    if (rc == 0 && bench_find_line(out, "workload=", line, sizeof line) && bench_parse(line, r)) return 1;
    fprintf(stderr, "nnc bench: %s %s failed (exit %d):\n%s", w->name, mode, rc, out);
    return 0;
}

static const char *metric(const row *r, char *buf, size_t n) {
    if (!strcmp(r->mode, "latency")) snprintf(buf, n, "latency batch 1, median us");
    else if (r->nnc.tokens) snprintf(buf, n, "train tokens/s (T=64, B=%lld)", (long long)r->nnc.batch);
    else snprintf(buf, n, "%s img/s, batch %lld", !strcmp(r->mode, "train") ? "train" : "inference", (long long)r->nnc.batch);
    return buf;
}

static void fmt_num(char *buf, size_t n, double v) {
    if (v >= 1000) snprintf(buf, n, "%.0f", v);
    else if (v >= 100) snprintf(buf, n, "%.1f", v);
    else snprintf(buf, n, "%.2f", v);
}

static void print_table(const row *rows, int nrows, int npeer, const char *const *peer_names) {
    printf("\n| workload | metric | nnc median | nnc min-max | nnc peak MB | nnc GFLOP/s |");
    for (int p = 0; p < npeer; p++)
        printf(" %s median | %s min-max | %s peak MB | nnc/%s | memory nnc/%s |", peer_names[p], peer_names[p], peer_names[p],
               peer_names[p], peer_names[p]);
    printf("\n|---|---|---:|---:|---:|---:|");
    for (int p = 0; p < npeer; p++) printf("---:|---:|---:|---:|---:|");
    printf("\n");
    for (int i = 0; i < nrows; i++) {
        const row *r = &rows[i];
        char m[64], a[32], b[32], c[32];
        const char *title = r->w->title ? r->w->title : r->w->model;
        if (!r->ok) { printf("| %s %s | %s | failed | | | |", r->w->name, title, r->mode); }
        else {
            fmt_num(a, sizeof a, r->nnc.median);
            fmt_num(b, sizeof b, r->nnc.min);
            fmt_num(c, sizeof c, r->nnc.max);
            printf("| %s %s | %s | **%s** | %s-%s | %.0f | %.1f |", r->w->name, title, metric(r, m, sizeof m), a, b, c,
                   r->nnc.peak_rss_mb, r->nnc.gflops);
        }
        for (int p = 0; p < npeer; p++) {
            const bench_result *q = &r->peer[p];
            if (!r->peer_ok[p]) { printf(" - | - | - | - | - |"); continue; }
            fmt_num(a, sizeof a, q->median);
            fmt_num(b, sizeof b, q->min);
            fmt_num(c, sizeof c, q->max);
            printf(" %s | %s-%s | %.0f |", a, b, c, q->peak_rss_mb);
            if (r->ok) printf(" %.2fx | %.2fx |", r->nnc.median / q->median, r->nnc.peak_rss_mb / q->peak_rss_mb);
            else printf(" - | - |");
        }
        printf("\n");
    }
    if (npeer)
        printf("\nnnc/PyTorch is the ratio of the metric (throughput: higher is better; latency: lower is better); "
               "memory is peak resident memory, each measurement in its own process.\n");
    fflush(stdout);
}

static int run_table(const workload *const *ws, int nw, const char *mode, const bench_cfg *c, int vs, const char *script,
                     const char *python, const char *torch2) {
    bench_peer peers[2];
    const char *names[2];
    int npeer = 0;
    if (vs) {
        peers[0] = (bench_peer){.script = script, .python = python, .config_a = 1};
        const char *wp = getenv("OMP_WAIT_POLICY");
        if (wp) printf("note: OMP_WAIT_POLICY=%s is set here and both nnc and the peer inherit it (config A was measured without it)\n", wp);
        if (bench_peer_check(&peers[0], stdout)) {
            printf("peer: PyTorch %s, config A (%s)\n", peers[0].version, script);
            names[npeer++] = "PyTorch";
        }
        if (torch2) {
            bench_peer p2 = {.script = script, .python = torch2, .config_a = 0};
            if (bench_peer_check(&p2, stdout)) {
                if (p2.version[0] >= '2' && p2.version[1] == '.') {
                    peers[npeer] = p2;
                    names[npeer++] = "PyTorch2";
                    printf("peer: PyTorch %s (%s)\n", p2.version, torch2);
                } else printf("note: %s has torch %s, not 2.x; its column is skipped\n", torch2, p2.version);
            }
        } else if (npeer)
            printf("note: no PyTorch 2.x column: %s has torch %s (give --torch2 PYTHON for a Python with PyPI's torch 2.x)\n",
                   peers[0].python, peers[0].version);
        if (!npeer) printf("note: --vs-pytorch: no PyTorch peer could run; nnc numbers only\n");
    }
    double load;
    if (getloadavg(&load, 1) == 1 && load > 1.5)
        printf("note: load average %.1f: other processes share the CPU, so these numbers are not meaningful\n", load);
    int cap = nw * 3, nrows = 0, failed = 0;
    row *rows = calloc((size_t)cap, sizeof *rows);
    if (!rows) return cli_fail("bench", nnc_error(NNC_ERR_OOM, "out of memory"));
    for (int i = 0; i < nw; i++)
        for (int k = 0; k < 3; k++) {
            if (!(ws[i]->modes & (1u << k)) || (strcmp(mode, "all") && strcmp(mode, mode_names[k]))) continue;
            row *r = &rows[nrows++];
            r->w = ws[i];
            r->mode = mode_names[k];
            if (!npeer) { /* the repeats inside one child */
                r->ok = child_measure(r->w, r->mode, c, c->repeat, &r->nnc);
                if (r->ok) bench_print(&r->nnc);
                failed += !r->ok;
                continue;
            }
            /* alternate nnc and the peers run by run; one child per run */
            double v[3][64], mem[3] = {0};
            int n[3] = {0};
            bench_result last[3], tmp;
            for (int rep = 0; rep < c->repeat && rep < 64; rep++) {
                if (child_measure(r->w, r->mode, c, 1, &tmp)) {
                    last[0] = tmp;
                    bench_print(&last[0]);
                    v[0][n[0]++] = last[0].median;
                    if (last[0].peak_rss_mb > mem[0]) mem[0] = last[0].peak_rss_mb;
                }
                for (int p = 0; p < npeer; p++) {
                    int64_t pb = c->batch && strcmp(r->mode, "latency") ? c->batch : 0;
                    if (!r->w->title || !bench_peer_run(&peers[p], r->w->name, r->mode, c->time, c->threads ? c->threads : nnc_get_threads(),
                                                        pb, &tmp, stdout))
                        continue;
                    last[p + 1] = tmp;
                    printf("peer=%s workload=%s mode=%s value=%.1f peak_rss_mb=%.1f\n", names[p], r->w->name, r->mode,
                           last[p + 1].median, last[p + 1].peak_rss_mb);
                    fflush(stdout);
                    v[p + 1][n[p + 1]++] = last[p + 1].median;
                    if (last[p + 1].peak_rss_mb > mem[p + 1]) mem[p + 1] = last[p + 1].peak_rss_mb;
                }
            }
            for (int s = 0; s < 1 + npeer; s++) {
                if (!n[s]) continue;
                bench_result *d = s ? &r->peer[s - 1] : &r->nnc;
                *d = last[s];
                bench_stats(v[s], n[s], &d->median, &d->min, &d->max);
                d->repeats = n[s];
                d->peak_rss_mb = mem[s];
                if (s == 0) {
                    int lat = !strcmp(r->mode, "latency");
                    d->gflops = lat ? 2.0 * (double)d->macs / (d->median * 1e-6) / 1e9
                                    : d->median * (double)d->macs * (!strcmp(r->mode, "train") ? 6 : 2) / 1e9;
                }
            }
            r->ok = n[0] > 0;
            failed += !r->ok;
            for (int p = 0; p < npeer; p++) r->peer_ok[p] = n[p + 1] > 0;
        }
    print_table(rows, nrows, npeer, names);
    free(rows);
    return failed ? 1 : 0;
}

/* ------------------------------------------------------------------- main */
int cmd_bench(int argc, char **argv) {
    cli_args a;
    if (!cli_args_init(&a, argc, argv)) return 1;
    bench_cfg c = {0};
    const char *mode = cli_str(&a, "mode", NULL);
    c.time = cli_num(&a, "time", 10, 0.001, 3600);
    c.warmup = cli_num(&a, "warmup", 2, 0, 3600);
    c.repeat = (int)cli_int(&a, "repeat", 3, 1, 64);
    c.threads = (int)cli_int(&a, "threads", 0, 0, 1024);
    c.batch = cli_int(&a, "batch", 0, 0, 1 << 20);
    const char *model = cli_str(&a, "model", NULL), *options = cli_str(&a, "options", NULL);
    int vs = cli_flag(&a, "vs-pytorch"), profile = cli_flag(&a, "profile");
    char def_script[4096];
    const char *script = cli_str(&a, "peer-script", NULL), *torch2 = cli_str(&a, "torch2", NULL);
    const char *python = cli_str(&a, "peer-python", "/usr/bin/python3");
    const char *pos[1] = {NULL};
    int npos = cli_positionals(&a, pos, 1);
    int bad = a.bad;
    cli_args_free(&a);
    if (bad) return 2;
    if (!script) script = bench_default_peer_script(def_script, sizeof def_script);
    if ((npos == 1) == (model != NULL))
        return cli_usage_error("bench", "give one WORKLOAD (W1 W2 W3 W4 W4d40 W5 W6 W6bi W7, or all) or --model NAME");
    if (options && !model) return cli_usage_error("bench", "--options goes with --model");
    if (mode && strcmp(mode, "all") && strcmp(mode, "train") && strcmp(mode, "infer") && strcmp(mode, "latency"))
        return cli_usage_error("bench", "unknown mode '%s' (train, infer, latency or all)", mode);
    if (c.threads) nnc_set_threads(c.threads);

    workload custom = {"model", model, options, NULL, 64, 0.05f, 0.9f, 5e-4f, M_TRAIN | M_INFER | M_LAT, K_MODEL};
    const workload *list[N_WORKLOADS];
    int nw = 0;
    if (model) list[nw++] = &custom;
    else if (!strcmp(pos[0], "all"))
        for (int i = 0; i < N_WORKLOADS; i++) list[nw++] = &workloads[i];
    else {
        for (int i = 0; i < N_WORKLOADS; i++)
            if (!strcmp(pos[0], workloads[i].name)) list[nw++] = &workloads[i];
        if (!nw) return cli_usage_error("bench", "unknown workload '%s' (W1 W2 W3 W4 W4d40 W5 W6 W6bi W7, or all)", pos[0]);
    }
    if (!mode) mode = nw > 1 ? "all" : "train";
    if (nw == 1 && strcmp(mode, "all")) {
        unsigned bit = !strcmp(mode, "train") ? M_TRAIN : !strcmp(mode, "infer") ? M_INFER : M_LAT;
        if (!(list[0]->modes & bit))
            return cli_usage_error("bench", "%s has no mode '%s' (it is a training workload: --mode train)", list[0]->name, mode);
    }
    if (nw == 1 && c.batch && list[0]->kind != K_MODEL)
        return cli_usage_error("bench", "%s's batch is fixed (B=32, T=64, as bench.py); drop --batch", list[0]->name);
    if (vs && model) printf("note: the peer has no --model; PyTorch columns are for the workloads W1..W7 only\n");
    if (profile) {
        if (nw != 1 || vs) return cli_usage_error("bench", "--profile takes one workload (or --model), without --vs-pytorch");
        if (strcmp(mode, "train")) return cli_usage_error("bench", "--profile profiles the training step (--mode train)");
        bench_net n;
        nnc_status s = build_net(list[0], &n);
        int64_t batch = list[0]->kind == K_MODEL ? mode_batch(list[0], "train", &c) : 0;
        if (!s && list[0]->kind == K_MODEL && !(s = nnc_graph_compile(n.g, batch, 1))) bench_net_fill(&n);
        if (!s && !batch) batch = nnc_graph_batch(n.g);
        if (!s) s = bench_profile(&n, list[0]->name, batch, c.time, c.warmup, stdout);
        if (n.g) bench_net_free(&n);
        return s ? cli_fail("bench", s) : 0;
    }
    /* one measurement: here, in this process */
    if (nw == 1 && !vs && strcmp(mode, "all")) {
        bench_net n;
        bench_result r;
        nnc_status s = build_net(list[0], &n);
        if (!s) s = measure(list[0], &n, mode, &c, &r);
        if (n.g) bench_net_free(&n);
        if (s) return cli_fail("bench", s);
        bench_print(&r);
        return 0;
    }
    return run_table(list, nw, mode, &c, vs, script, python, torch2);
}
