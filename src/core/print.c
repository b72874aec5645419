/* print.c -- a per-layer listing of a graph: op, name, output shape per
 * sample, and the parameters each op node owns (its parameter inputs, each
 * counted once, at its first use). */
#include "core/graph.h"
#include "ops/op.h"
#include <string.h>

void nnc_graph_print(const nnc_graph *g, void *file) {
    FILE *f = file ? file : stdout;
    if (!g) return;
    unsigned char *counted = calloc((size_t)g->n_nodes + 1, 1);
    if (!counted) return;
    fprintf(f, "%-4s %-16s %-14s %-20s %12s\n", "#", "layer", "op", "output (per sample)", "parameters");
    int row = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const nnc_node *n = g->nodes[i];
        if (n->op < 0) continue;
        long long params = 0;
        for (int j = 0; j < n->n_in; j++) {
            const nnc_node *p = n->in[j];
            if ((p->flags & NNC_NODE_PARAM) && !counted[p->id]) { counted[p->id] = 1; params += nnc_tensor_numel(&p->out); }
        }
        char shape[96] = "[";
        size_t k = 1;
        for (int d = 1; d < n->out.ndim && k < sizeof shape; d++)
            k += (size_t)snprintf(shape + k, sizeof shape - k, d > 1 ? ", %lld" : "%lld", (long long)n->out.shape[d]);
        if (k < sizeof shape) snprintf(shape + k, sizeof shape - k, "]");
        fprintf(f, "%-4d %-16s %-14s %-20s %12lld\n", row++, n->name ? n->name : "-", nnc_ops[n->op].name, shape, params);
    }
    free(counted);
}
