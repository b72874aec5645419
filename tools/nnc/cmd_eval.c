/* cmd_eval.c -- `nnc eval` (test-set loss and accuracy of saved weights) and
 * `nnc predict` (top classes of one image). Both normalize inputs with the
 * mean and std stored in the weights file. */
#include "cli.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

void help_eval(FILE *f) {
    fprintf(f, "usage: nnc eval MODEL --weights FILE [--data DIR] [--batch N] [--threads N] [--predictions FILE]\n\n"
               "Evaluates saved weights on the test set of DIR (default %s) and prints\n"
               "  test_loss=.. test_acc=.. n=..\n"
               "--predictions FILE writes one line per test sample: index, predicted class, label.\n",
            NNC_FASHION_MNIST_DIR);
}

void help_predict(FILE *f) {
    fprintf(f, "usage: nnc predict MODEL --weights FILE [--top K] IMAGE\n\n"
               "Classifies one image (PGM/PPM, or PNG) whose size matches the model input; pixel values\n"
               "are scaled to [0,1] and normalized as in training. Prints the top K (default 3) classes:\n"
               "  rank=1 class=9 prob=0.9712 name=Ankle boot\n");
}

static nnc_status load_model(const char *name, const char *weights, nnc_model **m) { return cli_load_model(name, weights, m); }

int cmd_eval(int argc, char **argv) {
    cli_args a;
    if (!cli_args_init(&a, argc, argv)) return 1;
    const char *weights = cli_str(&a, "weights", NULL);
    const char *data = cli_str(&a, "data", NNC_FASHION_MNIST_DIR);
    const char *predf = cli_str(&a, "predictions", NULL);
    long long batch = cli_int(&a, "batch", 1000, 1, 1 << 20);
    int threads = (int)cli_int(&a, "threads", 0, 0, 1024);
    const char *pos[1] = {NULL};
    int npos = cli_positionals(&a, pos, 1);
    int bad = a.bad;
    cli_args_free(&a);
    if (bad) return 2;
    if (npos != 1) return cli_usage_error("eval", "give one MODEL name");
    if (!weights) return cli_usage_error("eval", "--weights FILE is required");
    if (threads) nnc_set_threads(threads);
    nnc_model *m = NULL;
    nnc_dataset train = {0}, test = {0};
    int64_t *pred = NULL;
    nnc_status s = load_model(pos[0], weights, &m);
    if (!s) s = nnc_dataset_load_mnist_dir(data, &train, &test);
    nnc_dataset_free(&train);
    if (!s) {
        nnc_dataset_normalize(&test, m->norm_mean, m->norm_std);
        s = cli_fit_data(m, &test);
    }
    if (!s) {
        pred = malloc((size_t)test.n * sizeof *pred);
        if (!pred) s = nnc_error(NNC_ERR_OOM, "out of memory");
    }
    double loss = 0, acc = 0;
    if (!s) s = nnc_evaluate(m, &test, batch, &loss, &acc, pred);
    if (!s) {
        if (m->num_classes > 0) printf("test_loss=%.4f test_acc=%.4f n=%lld\n", loss, acc, (long long)test.n);
        else printf("test_loss=%.4f n=%lld (reconstruction loss; the model has no classes)\n", loss, (long long)test.n);
        if (predf && m->num_classes <= 0) s = nnc_error(NNC_ERR_ARG, "--predictions: model '%s' has no classes to predict", m->name);
        else if (predf) {
            FILE *f = fopen(predf, "w");
            if (!f) s = nnc_error(NNC_ERR_IO, "cannot write '%s'", predf);
            for (int64_t i = 0; f && i < test.n; i++) fprintf(f, "%lld %lld %lld\n", (long long)i, (long long)pred[i], (long long)((int64_t *)test.y.data)[i]);
            if (f && fclose(f)) s = nnc_error(NNC_ERR_IO, "cannot write '%s'", predf);
        }
    }
    int rc = s ? cli_fail("eval", s) : 0;
    free(pred);
    nnc_dataset_free(&test);
    nnc_model_free(m);
    return rc;
}

int cmd_predict(int argc, char **argv) {
    cli_args a;
    if (!cli_args_init(&a, argc, argv)) return 1;
    const char *weights = cli_str(&a, "weights", NULL);
    long long top = cli_int(&a, "top", 3, 1, 1000);
    const char *pos[2] = {NULL, NULL};
    int npos = cli_positionals(&a, pos, 2);
    int bad = a.bad;
    cli_args_free(&a);
    if (bad) return 2;
    if (npos != 2) return cli_usage_error("predict", "give a MODEL name and an IMAGE file");
    if (!weights) return cli_usage_error("predict", "--weights FILE is required");
    nnc_model *m = NULL;
    nnc_tensor img = {0};
    nnc_status s = load_model(pos[0], weights, &m);
    if (!s && m->num_classes <= 0)
        s = nnc_error(NNC_ERR_ARG, "model '%s' reconstructs its input and has no classes to predict (use nnc eval for its loss)", m->name);
    if (!s) s = nnc_image_read(pos[1], &img);
    if (!s && (img.ndim != 3 || img.shape[0] != m->in_shape[0] || img.shape[1] != m->in_shape[1] || img.shape[2] != m->in_shape[2]))
        s = nnc_error(NNC_ERR_SHAPE, "%s: image is %lldx%lldx%lld (channels x height x width), model '%s' expects %lldx%lldx%lld", pos[1],
                      (long long)img.shape[0], (long long)img.shape[1], (long long)img.shape[2], m->name, (long long)m->in_shape[0],
                      (long long)m->in_shape[1], (long long)m->in_shape[2]);
    if (!s) s = nnc_graph_compile(m->g, 1, 0);
    if (!s) {
        float *x = nnc_node_value(m->input)->data;
        const float *p = img.data;
        for (int64_t i = 0; i < nnc_tensor_numel(&img); i++) x[i] = (p[i] - m->norm_mean) / m->norm_std;
        ((int64_t *)nnc_node_value(m->labels)->data)[0] = 0;
        s = nnc_graph_forward(m->g);
    }
    if (!s) {
        const float *lo = nnc_node_value(m->logits)->data;
        int C = m->num_classes;
        double mx = -INFINITY, sum = 0;
        for (int c = 0; c < C; c++) mx = fmax(mx, lo[c]);
        for (int c = 0; c < C; c++) sum += exp(lo[c] - mx);
        unsigned char *taken = C > 0 ? calloc((size_t)C, 1) : NULL;
        for (int r = 0; taken && r < top && r < C; r++) {
            int best = -1;
            for (int c = 0; c < C; c++) if (!taken[c] && (best < 0 || lo[c] > lo[best])) best = c;
            taken[best] = 1;
            printf("rank=%d class=%d prob=%.4f name=%s\n", r + 1, best, exp(lo[best] - mx) / sum, cli_class_name(C, best));
        }
        free(taken);
    }
    int rc = s ? cli_fail("predict", s) : 0;
    nnc_tensor_free(&img);
    nnc_model_free(m);
    return rc;
}
