/* cmd_bench.c -- `nnc bench W1|W2|W3`: the workloads of shared/bench/pytorch/bench.py
 * on one random batch reused every step (data loading is not timed), after a
 * warm-up; prints one key=value line per mode. The full benchmark suite
 * (W4..W6, --vs-pytorch, repeats, profiles) belongs to the performance work. */
#include "cli.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

void help_bench(FILE *f) {
    fprintf(f, "usage: nnc bench WORKLOAD [--mode train|infer|latency|all] [--time S] [--warmup S] [--threads N]\n\n"
               "WORKLOAD: W1 (LeNet-5, train batch 64, infer batch 256, latency batch 1) or\n"
               "          W2 (MLP 784-1024-1024-10, train batch 128) or\n"
               "          W3 (CIFAR ResNet-20, 3x32x32, train batch 128, infer batch 256, latency batch 1).\n"
               "Prints e.g.  workload=W1 mode=train batch=64 img_per_s=.. peak_rss_mb=..\n"
               "Default: --mode train --time 10 --warmup 2, threads = all cores.\n");
}

typedef struct workload { const char *name, *model; int64_t train_batch; float lr, momentum, wd; } workload;
static const workload workloads[] = {
    {"W1", "lenet5", 64, 0.05f, 0.9f, 5e-4f},
    {"W2", "mlp", 128, 0.05f, 0.9f, 0.0f},
    {"W3", "resnet20", 128, 0.1f, 0.9f, 5e-4f}, /* projection shortcuts (option B), as bench.py */
};

static double peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

static void fill_batch(nnc_model *m) {
    float *x = nnc_node_value(m->input)->data;
    int64_t *y = nnc_node_value(m->labels)->data;
    int64_t n = nnc_tensor_numel(nnc_node_value(m->input)), b = nnc_node_value(m->labels)->shape[0];
    for (int64_t i = 0; i < n; i++) x[i] = nnc_rand_normal(1, 1, (uint64_t)i);
    for (int64_t i = 0; i < b; i++) y[i] = (int64_t)(nnc_rand_u64(1, 2, (uint64_t)i) % (uint64_t)m->num_classes);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static nnc_status run_mode(const workload *w, nnc_model *m, const char *mode, double tmin, double warm) {
    int train = !strcmp(mode, "train"), latency = !strcmp(mode, "latency");
    int64_t batch = train ? w->train_batch : latency ? 1 : 256;
    nnc_status s = nnc_graph_compile(m->g, batch, train);
    if (s) return s;
    fill_batch(m);
    long iters = 0;
    double t0 = omp_get_wtime();
    while (iters < 3 || omp_get_wtime() - t0 < warm) {
        s = train ? nnc_graph_train_step(m->g, NULL) : nnc_graph_forward(m->g);
        if (s) return s;
        iters++;
    }
    if (latency) {
        size_t cap = 1 << 16, n = 0;
        double *t = malloc(cap * sizeof *t);
        if (!t) return nnc_error(NNC_ERR_OOM, "out of memory");
        double start = omp_get_wtime();
        while (omp_get_wtime() - start < tmin) {
            double a = omp_get_wtime();
            if ((s = nnc_graph_forward(m->g))) { free(t); return s; }
            double d = omp_get_wtime() - a;
            if (n == cap) { double *nt = realloc(t, 2 * cap * sizeof *t); if (!nt) break; t = nt; cap *= 2; }
            t[n++] = d;
        }
        qsort(t, n, sizeof *t, cmp_double);
        printf("workload=%s mode=latency batch=1 median_us=%.1f p10_us=%.1f p90_us=%.1f calls=%zu peak_rss_mb=%.0f\n", w->name,
               t[n / 2] * 1e6, t[n / 10] * 1e6, t[n * 9 / 10] * 1e6, n, peak_rss_mb());
        free(t);
        return NNC_OK;
    }
    iters = 0;
    t0 = omp_get_wtime();
    double el;
    do {
        s = train ? nnc_graph_train_step(m->g, NULL) : nnc_graph_forward(m->g);
        if (s) return s;
        iters++;
    } while ((el = omp_get_wtime() - t0) < tmin);
    printf("workload=%s mode=%s batch=%lld img_per_s=%.0f iters=%ld time_s=%.2f threads=%d peak_rss_mb=%.0f\n", w->name, mode,
           (long long)batch, (double)iters * (double)batch / el, iters, el, nnc_get_threads(), peak_rss_mb());
    fflush(stdout);
    return NNC_OK;
}

int cmd_bench(int argc, char **argv) {
    cli_args a;
    if (!cli_args_init(&a, argc, argv)) return 1;
    const char *mode = cli_str(&a, "mode", "train");
    double tmin = cli_num(&a, "time", 10, 0.01, 3600);
    double warm = cli_num(&a, "warmup", 2, 0, 3600);
    int threads = (int)cli_int(&a, "threads", 0, 0, 1024);
    const char *pos[1] = {NULL};
    int npos = cli_positionals(&a, pos, 1);
    int bad = a.bad;
    cli_args_free(&a);
    if (bad) return 2;
    if (npos != 1) return cli_usage_error("bench", "give one WORKLOAD (W1, W2 or W3)");
    const workload *w = NULL;
    for (size_t i = 0; i < sizeof workloads / sizeof *workloads; i++)
        if (!strcmp(pos[0], workloads[i].name)) w = &workloads[i];
    if (!w) return cli_usage_error("bench", "unknown workload '%s' (W1, W2 or W3 for now)", pos[0]);
    int all = !strcmp(mode, "all");
    if (!all && strcmp(mode, "train") && strcmp(mode, "infer") && strcmp(mode, "latency"))
        return cli_usage_error("bench", "unknown mode '%s' (train, infer, latency or all)", mode);
    if (threads) nnc_set_threads(threads);
    nnc_model *m = NULL;
    nnc_status s = nnc_model_build(w->model, NULL, &m);
    nnc_optim opt = nnc_optim_sgd(w->lr, w->momentum, w->wd);
    if (!s) nnc_graph_set_seed(m->g, 0);
    if (!s) s = nnc_graph_set_optimizer(m->g, &opt);
    const char *modes[] = {"train", "infer", "latency"};
    for (int i = 0; !s && i < 3; i++)
        if (all || !strcmp(mode, modes[i])) s = run_mode(w, m, modes[i], tmin, warm);
    nnc_model_free(m);
    return s ? cli_fail("bench", s) : 0;
}
