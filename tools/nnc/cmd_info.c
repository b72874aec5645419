/* cmd_info.c -- `nnc summary`, `nnc models`, `nnc ops`: what a model is made
 * of and what the library offers. */
#include "cli.h"
#include <string.h>

void help_summary(FILE *f) {
    fprintf(f, "usage: nnc summary MODEL\n\nPrints each layer's output shape (per sample) and parameter count, the total\n"
               "number of trainable parameters and the planned training memory at batch 64.\n");
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

int cmd_summary(int argc, char **argv) {
    if (argc != 2 || argv[1][0] == '-') return cli_usage_error("summary", "give one MODEL name");
    nnc_model *m = NULL;
    nnc_status s = nnc_model_build(argv[1], NULL, &m);
    if (s) return cli_fail("summary", s);
    printf("model %s, input %lldx%lldx%lld, %d classes\n", m->name, (long long)m->in_shape[0], (long long)m->in_shape[1],
           (long long)m->in_shape[2], m->num_classes);
    nnc_graph_print(m->g, stdout);
    char c[32];
    commas(nnc_graph_n_param_elems(m->g), c, sizeof c);
    printf("total parameters: %s\n", c);
    s = nnc_graph_compile(m->g, 64, 1);
    if (!s) {
        nnc_mem_info mi = nnc_graph_mem_info(m->g);
        printf("training memory at batch 64: activations+gradients %.2f MB planned (%.2f MB without reuse), workspace %.2f MB, parameter block %.2f MB\n",
               mi.arena_bytes / 1e6, mi.unplanned_bytes / 1e6, mi.workspace_bytes / 1e6, mi.param_block_bytes / 1e6);
    }
    nnc_model_free(m);
    return s ? cli_fail("summary", s) : 0;
}

int cmd_models(int argc, char **argv) {
    (void)argv;
    if (argc != 1) return cli_usage_error("models", "takes no arguments");
    printf("%-10s %12s  %-10s %s\n", "name", "parameters", "input", "description");
    for (int i = 0; i < nnc_zoo_count(); i++) {
        nnc_model *m = NULL;
        if (nnc_model_build(nnc_zoo_name(i), NULL, &m)) return cli_fail("models", NNC_ERR_STATE);
        char c[32], in[32];
        commas(nnc_graph_n_param_elems(m->g), c, sizeof c);
        snprintf(in, sizeof in, "%lldx%lldx%lld", (long long)m->in_shape[0], (long long)m->in_shape[1], (long long)m->in_shape[2]);
        printf("%-10s %12s  %-10s %s\n", nnc_zoo_name(i), c, in, nnc_zoo_doc(i));
        nnc_model_free(m);
    }
    return 0;
}
