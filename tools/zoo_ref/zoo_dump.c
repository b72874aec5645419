/* zoo_dump.c -- cross-checks a zoo model against PyTorch (with torch_ref.py).
 * Build:  cc -O1 -fopenmp -Iinclude tools/zoo_ref/zoo_dump.c build/libnnc.a \
 *            -ldnnl -ljansson -lpng -lz -lm -o /tmp/zoo_dump
 *   zoo_dump MODEL [OPTIONS]              "name [shape]" of every parameter and state
 *   zoo_dump MODEL SIZE FILE [OPTIONS]    writes the f32 parameters and state (BN
 *       statistics and biases randomized), a random 2x3xSIZExSIZE input and the
 *       eval-mode logits to FILE, for `torch_ref.py compare`. */
#include "nnc.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float urand(void) { return (float)rand() / (float)RAND_MAX; }

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: zoo_dump MODEL [OPTIONS] | MODEL SIZE FILE [OPTIONS]\n"); return 2; }
    int dump = argc >= 4;
    nnc_model_opts o = nnc_model_defaults();
    if (dump) o.height = o.width = atoi(argv[2]);
    o.options = dump ? (argc > 4 ? argv[4] : NULL) : (argc > 2 ? argv[2] : NULL);
    nnc_model *m;
    if (nnc_model_build(argv[1], &o, &m)) { fprintf(stderr, "%s\n", nnc_last_error()); return 1; }
    if (!dump) {
        printf("#params %lld\n", (long long)nnc_graph_n_param_elems(m->g));
        for (int k = 0; k < 2; k++) {
            int n = k ? nnc_graph_n_state(m->g) : nnc_graph_n_params(m->g);
            for (int i = 0; i < n; i++) {
                nnc_node *p = k ? nnc_graph_state_at(m->g, i) : nnc_graph_param_at(m->g, i);
                nnc_tensor *t = nnc_node_value(p);
                printf("%s [", nnc_node_name(p));
                for (int d = 0; d < t->ndim; d++) printf("%s%lld", d ? ", " : "", (long long)t->shape[d]);
                printf("]\n");
            }
        }
        nnc_model_free(m);
        return 0;
    }
    if (nnc_graph_init_params(m->g)) { fprintf(stderr, "%s\n", nnc_last_error()); return 1; }
    srand(1);
    FILE *f = fopen(argv[3], "w");
    if (!f) { perror(argv[3]); return 1; }
    for (int k = 0; k < 2; k++) {
        int n = k ? nnc_graph_n_state(m->g) : nnc_graph_n_params(m->g);
        for (int i = 0; i < n; i++) {
            nnc_node *p = k ? nnc_graph_state_at(m->g, i) : nnc_graph_param_at(m->g, i);
            nnc_tensor *t = nnc_node_value(p);
            if (t->dtype != NNC_F32) continue;
            float *d = t->data;
            const char *nm = nnc_node_name(p);
            int64_t ne = nnc_tensor_numel(t);
            int bias = strstr(nm, ".bias") != NULL && (strstr(nm, "bn") || strstr(nm, "norm"));
            for (int64_t j = 0; j < ne; j++) {
                if (strstr(nm, "running_mean")) d[j] = 0.2f * (urand() - 0.5f);
                if (strstr(nm, "running_var")) d[j] = 0.5f + urand();
                if (bias) d[j] = 0.1f * (urand() - 0.5f);
            }
            fprintf(f, "%s %lld", nm, (long long)ne);
            for (int64_t j = 0; j < ne; j++) fprintf(f, " %.9g", d[j]);
            fprintf(f, "\n");
        }
    }
    if (nnc_graph_compile(m->g, 2, 0)) { fprintf(stderr, "%s\n", nnc_last_error()); return 1; }
    nnc_tensor *x = nnc_node_value(m->input), *y = nnc_node_value(m->labels), *l;
    for (int64_t j = 0; j < nnc_tensor_numel(x); j++) ((float *)x->data)[j] = urand();
    if (y->data) memset(y->data, 0, nnc_tensor_bytes(y));
    if (nnc_graph_forward(m->g)) { fprintf(stderr, "%s\n", nnc_last_error()); return 1; }
    l = nnc_node_value(m->logits);
    fprintf(f, "@input %lld", (long long)nnc_tensor_numel(x));
    for (int64_t j = 0; j < nnc_tensor_numel(x); j++) fprintf(f, " %.9g", ((float *)x->data)[j]);
    fprintf(f, "\n@logits %lld", (long long)nnc_tensor_numel(l));
    for (int64_t j = 0; j < nnc_tensor_numel(l); j++) fprintf(f, " %.9g", ((float *)l->data)[j]);
    fprintf(f, "\n");
    fclose(f);
    nnc_model_free(m);
    return 0;
}
