/* cmd_info.c -- `nnc summary`, `nnc models`, `nnc ops`: what a model is made
 * of and what the library offers. */
#include "cli.h"
#include <stdlib.h>
#include <string.h>

void help_summary(FILE *f) {
    fprintf(f, "usage: nnc summary MODEL [--input CxHxW] [--classes N] [--batch N] [--model-options K=V,..]\n\n"
               "Prints each layer's output shape (per sample), trainable parameters, multiply-accumulates\n"
               "and output (activation) memory per sample; the totals; and the memory the engine plans for\n"
               "training and inference at --batch (default 64), without allocating it.\n");
}
void help_models(FILE *f) { fprintf(f, "usage: nnc models\n\nLists the zoo: name, parameters, default input, description.\n"); }
void help_ops(FILE *f) { fprintf(f, "usage: nnc ops\n\nLists every op with a one-line description and its attributes.\n"); }

static void commas(long long v, char *buf, size_t n) {
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%lld", v);
    size_t len = strlen(tmp), k = 0;
    for (size_t i = 0; i < len && k + 1 < n; i++) {
        if (i && (len - i) % 3 == 0 && k + 1 < n) buf[k++] = ',';
        buf[k++] = tmp[i];
    }
    buf[k] = 0;
}

static void human(double v, char *buf, size_t n) {
    const char *u[] = {"", "K", "M", "G", "T"};
    int i = 0;
    while (v >= 1000 && i < 4) { v /= 1000; i++; }
    snprintf(buf, n, i ? "%.2f%s" : "%.0f%s", v, u[i]);
}

int cmd_summary(int argc, char **argv) {
    cli_args a;
    if (!cli_args_init(&a, argc, argv)) return 1;
    const char *input = cli_str(&a, "input", NULL);
    long long classes = cli_int(&a, "classes", 0, 1, 1000000);
    long long batch = cli_int(&a, "batch", 64, 1, 1 << 20);
    const char *model_options = cli_str(&a, "model-options", NULL);
    const char *pos[1] = {NULL};
    int npos = cli_positionals(&a, pos, 1);
    int bad = a.bad;
    cli_args_free(&a);
    if (bad) return 2;
    if (npos != 1) return cli_usage_error("summary", "give one MODEL name");
    nnc_model_opts mo = nnc_model_defaults();
    mo.num_classes = (int)classes;
    mo.options = model_options;
    if (input) {
        int c, h, w;
        char tail;
        if (sscanf(input, "%dx%dx%d%c", &c, &h, &w, &tail) != 3 || c < 1 || h < 1 || w < 1 || c > 65536 || h > 65536 || w > 65536)
            return cli_usage_error("summary", "--input '%s' must be CxHxW with positive sizes", input);
        mo.in_channels = c;
        mo.height = h;
        mo.width = w;
    }
    nnc_model *m = NULL;
    nnc_status s = nnc_model_build(pos[0], &mo, &m);
    if (s) return cli_fail("summary", s);
    int n = nnc_graph_layers(m->g, NULL, 0);
    nnc_layer_info *rows = calloc((size_t)(n ? n : 1), sizeof *rows);
    if (!rows) { nnc_model_free(m); return cli_fail("summary", NNC_ERR_OOM); }
    nnc_graph_layers(m->g, rows, n);
    printf("model %s, input %lldx%lldx%lld, %d classes\n", m->name, (long long)m->in_shape[0], (long long)m->in_shape[1],
           (long long)m->in_shape[2], m->num_classes);
    printf("%-4s %-36s %-14s %-18s %12s %12s %10s\n", "#", "layer", "op", "output", "params", "MACs", "act bytes");
    long long tp = 0, tm = 0, ta = 0;
    for (int i = 0; i < n; i++) {
        char shape[64] = "[", c1[32], c2[32], c3[32];
        size_t k = 1;
        for (int d = 0; d < rows[i].ndim && k < sizeof shape; d++)
            k += (size_t)snprintf(shape + k, sizeof shape - k, d ? ", %lld" : "%lld", (long long)rows[i].shape[d]);
        if (k < sizeof shape) snprintf(shape + k, sizeof shape - k, "]");
        commas(rows[i].params, c1, sizeof c1);
        human((double)rows[i].macs, c2, sizeof c2);
        human((double)rows[i].out_bytes, c3, sizeof c3);
        printf("%-4d %-36s %-14s %-18s %12s %12s %10s\n", i, rows[i].name[0] ? rows[i].name : "-", rows[i].op, shape, c1, c2, c3);
        tp += rows[i].params;
        tm += rows[i].macs;
        ta += rows[i].out_bytes;
    }
    char c1[32], c2[32], c3[32];
    commas(nnc_graph_n_param_elems(m->g), c1, sizeof c1);
    commas(tm, c2, sizeof c2);
    human((double)ta, c3, sizeof c3);
    printf("total parameters: %s\n", c1);
    printf("total MACs per sample: %s\n", c2);
    printf("total activation bytes per sample: %s\n", c3);
    nnc_mem_info tr, in;
    s = nnc_graph_plan_info(m->g, batch, 1, &tr);
    if (!s) s = nnc_graph_plan_info(m->g, batch, 0, &in);
    if (!s)
        printf("planned memory at batch %lld: training %.2f MB (%.2f MB without reuse), inference %.2f MB, workspace %.2f MB, "
               "parameter block %.2f MB\n",
               batch, tr.arena_bytes / 1e6, tr.unplanned_bytes / 1e6, in.arena_bytes / 1e6, tr.workspace_bytes / 1e6,
               tr.param_block_bytes / 1e6);
    free(rows);
    nnc_model_free(m);
    return s ? cli_fail("summary", s) : 0;
}

int cmd_models(int argc, char **argv) {
    (void)argv;
    if (argc != 1) return cli_usage_error("models", "takes no arguments");
    printf("%-16s %12s  %-10s %s\n", "name", "parameters", "input", "description");
    for (int i = 0; i < nnc_zoo_count(); i++) {
        nnc_model *m = NULL;
        if (nnc_model_build(nnc_zoo_name(i), NULL, &m)) return cli_fail("models", NNC_ERR_STATE);
        char c[32], in[32];
        commas(nnc_graph_n_param_elems(m->g), c, sizeof c);
        snprintf(in, sizeof in, "%lldx%lldx%lld", (long long)m->in_shape[0], (long long)m->in_shape[1], (long long)m->in_shape[2]);
        printf("%-16s %12s  %-10s %s\n", nnc_zoo_name(i), c, in, nnc_zoo_doc(i));
        nnc_model_free(m);
    }
    return 0;
}
