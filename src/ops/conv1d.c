/* conv1d.c -- 1-D convolution as a composite over conv2d (no op of its own):
 *   x [N,C,L] -> reshape [N,C,1,L] -> conv2d with kernel 1 x k (stride 1,s;
 *   padding 0,p; dilation 1,d; groups) -> [N,K,1,OL] -> reshape [N,K,OL].
 * The weight keeps PyTorch's Conv1d shape [K, C/groups, k] and is reshaped to
 * [K, C/groups, 1, k] inside the graph (reshape keeps dim 0, which for a
 * parameter is K), so "<name>.weight" loads from a PyTorch state_dict as is.
 * Gradients flow through the reshapes. */
#include "ops/op.h"
#include <math.h>

static nnc_conv2d_opts to_2d(const nnc_conv1d_opts *o) {
    nnc_conv2d_opts c;
    memset(&c, 0, sizeof c);
    c.stride[0] = 1; c.pad[0] = 0; c.dilation[0] = 1;
    if (o) {
        c.stride[1] = o->stride;
        c.pad[1] = o->pad;
        c.dilation[1] = o->dilation;
        c.groups = o->groups;
    }
    return c;
}

nnc_node *nnc_conv1d(nnc_graph *g, nnc_node *x, nnc_node *w, nnc_node *b, const nnc_conv1d_opts *o) {
    if (!g || g->err) return NULL;
    char s1[64], s2[64];
    if (!x || !w) return nnc_graph_fail(g, NNC_ERR_ARG, "conv1d: input or weight is NULL");
    if (x->out.ndim != 3)
        return nnc_graph_fail(g, NNC_ERR_SHAPE, "conv1d: input must be [N, C, L], got %s", nnc_shape_str(&x->out, s1, sizeof s1));
    if (w->out.ndim != 3)
        return nnc_graph_fail(g, NNC_ERR_SHAPE, "conv1d: weight must be [K, C/groups, k], got %s (input %s)",
                              nnc_shape_str(&w->out, s1, sizeof s1), nnc_shape_str(&x->out, s2, sizeof s2));
    nnc_conv2d_opts c = to_2d(o);
    nnc_node *x4 = nnc_reshape(g, x, 3, (int64_t[]){x->out.shape[1], 1, x->out.shape[2]});
    nnc_node *w4 = nnc_reshape(g, w, 3, (int64_t[]){w->out.shape[1], 1, w->out.shape[2]});
    nnc_node *y4 = nnc_conv2d(g, x4, w4, b, &c);
    if (!y4) return NULL;
    return nnc_reshape(g, y4, 2, (int64_t[]){y4->out.shape[1], y4->out.shape[3]});
}

nnc_node *nnc_conv1d_layer(nnc_graph *g, nnc_node *x, const char *name, int64_t out_channels, int k, const nnc_conv1d_opts *o,
                           int bias) {
    if (!g || g->err) return NULL;
    if (!name || !*name) return nnc_graph_fail(g, NNC_ERR_ARG, "conv1d layer: name is empty");
    if (!x) return nnc_graph_fail(g, NNC_ERR_ARG, "conv1d layer '%s': input is NULL", name);
    char s1[64];
    if (out_channels <= 0 || k <= 0)
        return nnc_graph_fail(g, NNC_ERR_ARG, "conv1d layer '%s': %lld output channels, kernel %d (must be positive)", name,
                              (long long)out_channels, k);
    if (x->out.ndim != 3)
        return nnc_graph_fail(g, NNC_ERR_SHAPE, "conv1d layer '%s': input must be [N, C, L], got %s", name,
                              nnc_shape_str(&x->out, s1, sizeof s1));
    int groups = o && o->groups > 0 ? o->groups : 1;
    int64_t C = x->out.shape[1];
    if (C % groups || out_channels % groups)
        return nnc_graph_fail(g, NNC_ERR_SHAPE, "conv1d layer '%s': %lld input and %lld output channels must both be divisible by groups=%d",
                              name, (long long)C, (long long)out_channels, groups);
    float bound = 1.0f / sqrtf((float)(C / groups * k)); /* PyTorch: kaiming_uniform(a=sqrt(5)) and its bias rule */
    nnc_scope_push(g, name);
    nnc_node *w = nnc_param(g, "weight", 3, (int64_t[]){out_channels, C / groups, k}, (nnc_init){.kind = NNC_INIT_UNIFORM, .a = -bound, .b = bound});
    nnc_node *b = bias ? nnc_param(g, "bias", 1, (int64_t[]){out_channels}, (nnc_init){.kind = NNC_INIT_UNIFORM, .a = -bound, .b = bound}) : NULL;
    nnc_scope_pop(g);
    nnc_node *y = nnc_conv1d(g, x, w, b, o);
    if (y) nnc_node_set_name(y, name);
    return y;
}
