/* print.c -- a per-layer listing of a graph: op, name, output shape per
 * sample, and the parameters each op node owns (its parameter inputs, each
 * counted once, at its first use). */
#include "core/graph.h"
#include "ops/op.h"
#include <string.h>

int nnc_graph_layers(const nnc_graph *g, nnc_layer_info *rows, int max) {
    if (!g) return 0;
    unsigned char *counted = calloc((size_t)g->n_nodes + 1, 1);
    if (!counted) return 0;
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const nnc_node *n = g->nodes[i];
        if (n->op < 0) continue;
        if (k < max && rows) {
            nnc_layer_info *r = &rows[k];
            memset(r, 0, sizeof *r);
            r->name = n->name ? n->name : "";
            r->op = nnc_ops[n->op].name;
            r->ndim = n->out.ndim > 0 ? n->out.ndim - 1 : 0;
            for (int d = 1; d < n->out.ndim; d++) r->shape[d - 1] = n->out.shape[d];
            int64_t batch = n->out.ndim > 0 && n->out.shape[0] > 0 ? n->out.shape[0] : 1;
            for (int j = 0; j < n->n_in; j++) {
                const nnc_node *p = n->in[j];
                if ((p->flags & NNC_NODE_PARAM) && !(p->flags & NNC_NODE_FROZEN) && !counted[p->id]) {
                    counted[p->id] = 1;
                    r->params += nnc_tensor_numel(&p->out);
                }
            }
            r->macs = nnc_ops[n->op].macs ? nnc_ops[n->op].macs(n) / batch : 0;
            r->out_bytes = (int64_t)nnc_tensor_bytes(&n->out) / batch;
        }
        k++;
    }
    free(counted);
    return k;
}

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
