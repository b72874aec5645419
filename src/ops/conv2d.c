/* conv2d.c -- 2-D convolution (cross-correlation, as in PyTorch).
 *   forward:  y[n,k] = sum_{c in group(k), r, s} w[k,c,r,s] x[n,c,oh sh - ph + r dh, ow sw - pw + s dw] + b[k]
 *   backward: dx = transposed convolution of dy with w, dw = sum over images and positions of dy x,
 *             db = sum dy. Backward reads x and w.
 * Fast path: oneDNN's convolution primitives (kernels/dnnl_conv.c, bias
 * fused), made once per plan (batch, mode, thread count) by the workspace
 * hook at compile time and kept in the node's kcache. x and y are plain
 * NCHW, or blocked (nChw16c) where the compiler put them in a chain of
 * oneDNN ops (then only the oneDNN path runs; the weights stay OIHW).
 * Bitwise repeatable at a fixed thread count (oneDNN splits the
 * weight-gradient sums by thread).
 * im2col path -- where oneDNN only has its slow reference code, when the
 * workspace is too small for oneDNN (threads changed after compiling), or
 * with NNC_CONV=im2col:
 *   forward per image and group: y_g[Kg, OH*OW] = w_g[Kg, Cg*R*S] cols_g[Cg*R*S, OH*OW]  (im2col + GEMM)
 *   backward in chunks of images side by side: dw_g = sum over chunks (in order) of dy_g cols_g^T,
 *             dx = col2im(w_g^T dy_g)
 * Forward runs images in parallel, backward chunks of images (a fixed
 * number per chunk, ~512 columns), each with its slot of workspace; every
 * GEMM then runs on one thread and the weight gradient is summed in chunk
 * order, so results do not depend on the thread count. 1x1 convolutions
 * with stride 1 and no padding use x as its own column matrix.
 * Reference: nnc_conv2d_ref (kernels/conv.c). */
#include "ops/op.h"
#include "ops/plan_cache.h"
#include "kernels/conv.h"
#include "kernels/conv_small.h"
#include "kernels/dnnl_conv.h"
#include "kernels/dnnl_prim.h"
#include "kernels/gemm.h"
#include <math.h>
#include <omp.h>
#include <stdlib.h>

typedef struct { int stride[2], pad[2], dil[2], groups; } conv_attrs;

static nnc_conv_geom geom_of(const nnc_node *n) {
    const conv_attrs *a = NNC_ATTRS(n, conv_attrs);
    const nnc_tensor *x = &n->in[0]->out, *w = &n->in[1]->out;
    nnc_conv_geom g;
    g.N = x->shape[0]; g.C = x->shape[1]; g.H = x->shape[2]; g.W = x->shape[3];
    g.K = w->shape[0]; g.R = w->shape[2]; g.S = w->shape[3];
    g.sh = a->stride[0]; g.sw = a->stride[1];
    g.ph = a->pad[0]; g.pw = a->pad[1];
    g.dh = a->dil[0]; g.dw = a->dil[1];
    g.groups = a->groups;
    g.OH = nnc_conv_out_size(g.H, g.R, g.sh, g.ph, g.dh);
    g.OW = nnc_conv_out_size(g.W, g.S, g.sw, g.pw, g.dw);
    g.ybs = n->out.bstride;
    return g;
}

/* 1x1, stride 1, no padding: the column matrix of an image is the image. */
static int is_direct(const nnc_conv_geom *g) {
    return g->R == 1 && g->S == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0;
}

static size_t round16(size_t f) { return (f + 15) / 16 * 16; }

/* Images per backward chunk: enough columns (about 512) for an efficient
 * GEMM, at most ~4 MB of matrices per chunk. It depends on the geometry
 * only, so the order in which the weight gradient is summed never depends
 * on the thread count. */
static int64_t chunk_images(const nnc_conv_geom *g) {
    int64_t P = g->OH * g->OW, CRS = g->C * g->R * g->S;
    int64_t B = (512 + P - 1) / P, per_image = (2 * CRS + g->K) * P;
    int64_t cap = ((int64_t)1 << 20) / (per_image > 0 ? per_image : 1);
    if (B > cap) B = cap;
    if (B > g->N) B = g->N;
    return B < 1 ? 1 : B;
}

/* A backward slot, in floats: columns of x and of w^T dy for the chunk's
 * images side by side, the chunk's dy gathered to [K, B*OH*OW], and the
 * chunk's partial weight gradient. */
typedef struct { size_t colx, dy, dcol, part, total; } bwd_slot;
static bwd_slot bwd_layout(const nnc_conv_geom *g) {
    bwd_slot L = {0, 0, 0, 0, 0};
    int64_t LD = chunk_images(g) * g->OH * g->OW, CRS = g->C * g->R * g->S;
    L.part = round16((size_t)(g->K * CRS / g->groups));
    if (!is_direct(g)) {
        L.colx = L.dcol = round16((size_t)(CRS * LD));
        L.dy = round16((size_t)(g->K * LD));
    }
    L.total = L.colx + L.dy + L.dcol + L.part;
    return L;
}
/* Forward slot: the columns of one image. */
static size_t fwd_slot(const nnc_conv_geom *g) {
    return is_direct(g) ? 0 : round16((size_t)(g->C * g->R * g->S * g->OH * g->OW));
}

/* Slots that run at once: bounded by the threads, the work items and the
 * planned workspace. */
static int64_t n_slots(int64_t items, size_t slot_bytes, size_t ws_bytes) {
    int64_t t = omp_get_max_threads();
    if (slot_bytes) {
        int64_t fit = (int64_t)(ws_bytes / slot_bytes);
        if (t > fit) t = fit;
    }
    if (t > items) t = items;
    return t < 1 ? 1 : t;
}

static nnc_status conv_infer(nnc_node *n) {
    const conv_attrs *a = NNC_ATTRS(n, conv_attrs);
    const nnc_tensor *x = &n->in[0]->out, *w = &n->in[1]->out;
    char d[160], s1[64], s2[64];
    if (x->dtype != NNC_F32 || x->ndim != 4)
        return nnc_error(NNC_ERR_SHAPE, "%s: input must be f32 [N, C, H, W], got %s %s", nnc_node_desc(n, d, sizeof d),
                         nnc_dtype_name(x->dtype), nnc_shape_str(x, s1, sizeof s1));
    if (w->dtype != NNC_F32 || w->ndim != 4)
        return nnc_error(NNC_ERR_SHAPE, "%s: weight must be f32 [K, C/groups, R, S], got %s %s", nnc_node_desc(n, d, sizeof d),
                         nnc_dtype_name(w->dtype), nnc_shape_str(w, s1, sizeof s1));
    int64_t G = a->groups, C = x->shape[1], K = w->shape[0];
    if (C % G)
        return nnc_error(NNC_ERR_SHAPE, "%s: input %s has %lld channels, not divisible by groups=%lld", nnc_node_desc(n, d, sizeof d),
                         nnc_shape_str(x, s1, sizeof s1), (long long)C, (long long)G);
    if (K % G)
        return nnc_error(NNC_ERR_SHAPE, "%s: weight %s has %lld output channels, not divisible by groups=%lld",
                         nnc_node_desc(n, d, sizeof d), nnc_shape_str(w, s1, sizeof s1), (long long)K, (long long)G);
    if (w->shape[1] != C / G)
        return nnc_error(NNC_ERR_SHAPE, "%s: weight %s expects %lld input channels per group, input %s has %lld (%lld channels, groups=%lld)",
                         nnc_node_desc(n, d, sizeof d), nnc_shape_str(w, s1, sizeof s1), (long long)w->shape[1],
                         nnc_shape_str(x, s2, sizeof s2), (long long)(C / G), (long long)C, (long long)G);
    if (n->n_in == 3) {
        const nnc_tensor *b = &n->in[2]->out;
        if (b->dtype != NNC_F32 || b->ndim != 1 || b->shape[0] != K)
            return nnc_error(NNC_ERR_SHAPE, "%s: bias %s must be f32 [%lld]", nnc_node_desc(n, d, sizeof d),
                             nnc_shape_str(b, s1, sizeof s1), (long long)K);
    }
    nnc_conv_geom g = geom_of(n);
    int64_t eh = g.dh * (g.R - 1) + 1, ew = g.dw * (g.S - 1) + 1;
    if (eh > g.H + 2 * g.ph || ew > g.W + 2 * g.pw)
        return nnc_error(NNC_ERR_SHAPE, "%s: kernel %lldx%lld (dilation %lld,%lld: extent %lldx%lld) is larger than the padded input %lldx%lld (input %s, padding %lld,%lld)",
                         nnc_node_desc(n, d, sizeof d), (long long)g.R, (long long)g.S, (long long)g.dh, (long long)g.dw,
                         (long long)eh, (long long)ew, (long long)(g.H + 2 * g.ph), (long long)(g.W + 2 * g.pw),
                         nnc_shape_str(x, s1, sizeof s1), (long long)g.ph, (long long)g.pw);
    n->out.dtype = NNC_F32;
    n->out.ndim = 4;
    n->out.shape[0] = g.N;
    n->out.shape[1] = K;
    n->out.shape[2] = g.OH;
    n->out.shape[3] = g.OW;
    return NNC_OK;
}


/* ---- the oneDNN path: the node's primitives, one set per plan */
static void free_conv(void *e) { nnc_dnnl_conv_free(e); }

/* NNC_CONV=im2col selects the im2col path everywhere, to compare the two. */
static int im2col_forced(void) {
    const char *s = getenv("NNC_CONV");
    return s && !strcmp(s, "im2col");
}

/* Which of x and y are blocked in the current plan (NNC_DNNL_CONV_*). */
static int blocked_of(const nnc_node *n) {
    return (nnc_is_blocked(&n->in[0]->out) ? NNC_DNNL_CONV_X_BLOCKED : 0) | (nnc_is_blocked(&n->out) ? NNC_DNNL_CONV_Y_BLOCKED : 0) |
           (n->in[0]->flags & NNC_NODE_GRAD_BLOCKED ? NNC_DNNL_CONV_DX_BLOCKED : 0);
}

/* The direct kernels of kernels/conv_small.c: few input channels, y dense. */
static int small_ok(const nnc_conv_geom *g) { return !g->ybs && nnc_conv_small_ok(g); }

/* The node's oneDNN primitives for g and this mode at the current thread
 * count, made on first use; NULL: take the im2col path. */
static nnc_dnnl_conv *dnnl_for(nnc_node *n, const nnc_conv_geom *g, int training) {
    int blocked = blocked_of(n);
    if (!blocked && (im2col_forced() || small_ok(g))) return NULL;
    int bias = n->n_in == 3;
    nnc_plan_cache *c = nnc_plan_cache_get(n, free_conv);
    if (!c) return NULL;
    for (int i = 0; i < c->n; i++)
        if (nnc_dnnl_conv_matches(c->e[i], g, bias, training, blocked)) return nnc_dnnl_conv_ok(c->e[i]) ? c->e[i] : NULL;
    nnc_dnnl_conv *e = nnc_dnnl_conv_new(g, bias, training, blocked);
    if (!e) return NULL;
    nnc_plan_cache_add(c, e);
    return nnc_dnnl_conv_ok(e) ? e : NULL;
}

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

/* Few input channels: the direct kernels of kernels/conv_small.c (plain only). */
static int small_path(const nnc_node *n, const nnc_conv_geom *g) {
    return !blocked_of(n) && !im2col_forced() && small_ok(g);
}

/* x and y may be blocked (independently) where oneDNN runs the node. */
static uint32_t conv_layouts(const nnc_node *n) {
    const conv_attrs *a = NNC_ATTRS(n, conv_attrs);
    if (a->groups != 1 || im2col_forced() || !nnc_dnnl_blocked_ok()) return 0;
    return NNC_BLOCKS_IN(0) | NNC_BLOCKS_OUT;
}

/* The input gradient may be blocked (compile.c's blocked gradient of a
 * folded batch norm) where x may be and oneDNN has fast primitives for the
 * node that way (made now, kept for the plan): nothing else could write it. */
int nnc_conv2d_blocks_dx(nnc_node *n) {
    if (n->op != NNC_OP_CONV2D || !(conv_layouts(n) & NNC_BLOCKS_IN(0))) return 0;
    const uint32_t had = n->in[0]->flags & NNC_NODE_GRAD_BLOCKED;
    n->in[0]->flags |= NNC_NODE_GRAD_BLOCKED;
    nnc_conv_geom g = geom_of(n);
    int ok = dnnl_for(n, &g, 1) != NULL;
    if (!had) n->in[0]->flags &= ~(uint32_t)NNC_NODE_GRAD_BLOCKED;
    return ok;
}

/* y (and dy) may be a window of a wider buffer (in-place concatenation):
 * oneDNN reorders from or to it, the im2col path steps images by g.ybs. */
static uint32_t conv_strided(const nnc_node *n) { return nnc_is_blocked(&n->out) ? 0 : NNC_STRIDED_OUT; }

/* Workspace of the oneDNN passes this node runs in a plan. */
static size_t dnnl_ws(const nnc_dnnl_conv *c, const nnc_node *n, int training) {
    size_t w = nnc_dnnl_conv_ws_forward(c);
    if (training && nnc_needs_grad(n))
        w = max_size(w, nnc_dnnl_conv_ws_backward(c, nnc_needs_grad(n->in[0]), n->accum[0], nnc_needs_grad(n->in[1]), n->accum[1]));
    return w;
}

/* oneDNN: its passes, and one im2col slot so the fallback always fits.
 * im2col: forward runs images in parallel (one slot each); backward runs
 * chunks of images in parallel (one slot each). The hook makes the node's
 * oneDNN primitives (at compile time, so that steps allocate nothing). */
static size_t conv_workspace_own(const nnc_node *cn, int training);
/* With NNC_NODE_RECOMPUTE_IN, backward puts the recomputed input after
 * everything else it uses in the workspace -- unless the node is folded
 * (NNC_NODE_NORM_IN) and oneDNN takes its input in a slot of its own
 * workspace in forward and in backward-weights: then no pass needs the
 * plain input. */
static size_t recompute_at(const nnc_node *n, int training) { return (conv_workspace_own(n, training) + 63) / 64 * 64; }
static int folds_into_slots(nnc_node *n) {
    if (!(n->flags & NNC_NODE_NORM_IN) || !nnc_needs_grad(n->in[1])) return 0;
    nnc_conv_geom g = geom_of(n);
    nnc_dnnl_conv *c = dnnl_for(n, &g, 1);
    return nnc_dnnl_conv_has_x_slot(c, 0) && nnc_dnnl_conv_has_x_slot(c, 2);
}
static size_t conv_workspace(const nnc_node *n, int training) {
    if (training && (n->flags & NNC_NODE_RECOMPUTE_IN) && !folds_into_slots((nnc_node *)n))
        return recompute_at(n, training) + nnc_tensor_bytes(&n->in[0]->out);
    return conv_workspace_own(n, training);
}
/* Where a recomputed (or folded) plain input goes: past the passes'
 * workspace, which *exr then ends before; NULL after a fault (the
 * workspace is too small for a thread count changed after compiling). */
static float *recompute_area(nnc_node *n, const nnc_exec *ex0, nnc_exec *exr, const char *need) {
    size_t at = recompute_at(n, 1);
    if (at + nnc_tensor_bytes(&n->in[0]->out) > ex0->ws_bytes) {
        nnc_fault_replan(n, ex0, need);
        return NULL;
    }
    *exr = *ex0;
    exr->ws_bytes = at;
    return (float *)((char *)ex0->ws + at);
}
static size_t conv_workspace_own(const nnc_node *cn, int training) {
    nnc_node *n = (nnc_node *)cn;
    nnc_conv_geom g = geom_of(n);
    nnc_dnnl_conv *c = dnnl_for(n, &g, training);
    if (c) {
        size_t one = fwd_slot(&g);
        if (training) one = max_size(one, bwd_layout(&g).total);
        return max_size(dnnl_ws(c, n, training), one * sizeof(float));
    }
    size_t fwd = fwd_slot(&g) * (size_t)n_slots(g.N, 0, 0), bwd = 0;
    if (training) {
        int64_t B = chunk_images(&g);
        bwd = bwd_layout(&g).total * (size_t)n_slots((g.N + B - 1) / B, 0, 0);
    }
    size_t small = small_path(n, &g) ? nnc_conv_small_ws(&g, omp_get_max_threads()) : 0;
    return max_size((fwd > bwd ? fwd : bwd) * sizeof(float), small);
}

static void forward_image(const nnc_conv_geom *g, const float *x, const float *w, const float *b, float *y, float *cols) {
    const int64_t G = g->groups, Kg = g->K / G, CRS = g->C / G * g->R * g->S, P = g->OH * g->OW;
    const float *src = x;
    if (!is_direct(g)) {
        nnc_im2col(g, g->C, x, cols, P);
        src = cols;
    }
    for (int64_t grp = 0; grp < G; grp++) {
        float *yg = y + grp * Kg * P;
        if (b)
            for (int64_t k = 0; k < Kg; k++) {
                float bk = b[grp * Kg + k];
                for (int64_t p = 0; p < P; p++) yg[k * P + p] = bk;
            }
        nnc_sgemm('N', 'N', Kg, P, CRS, 1.0f, w + grp * Kg * CRS, CRS, src + grp * CRS * P, P, b ? 1.0f : 0.0f, yg, P);
    }
}

static void conv_forward(nnc_node *n, const nnc_exec *ex0) {
    nnc_conv_geom g = geom_of(n);
    const float *x = n->in[0]->out.data, *w = n->in[1]->out.data;
    const float *b = n->n_in == 3 ? n->in[2]->out.data : NULL;
    float *y = n->out.data;
    nnc_exec exr = *ex0;
    const nnc_exec *ex = ex0;
    if (ex0->training && (n->flags & NNC_NODE_NORM_IN)) { /* compute the batch norm's output here (it wrote none) */
        const nnc_node *bn = nnc_storage_of(n->in[0]);
        nnc_dnnl_conv *c = dnnl_for(n, &g, 1);
        float *slot = c && nnc_dnnl_conv_ws_forward(c) <= ex0->ws_bytes ? nnc_dnnl_conv_x_slot(c, ex0->ws) : NULL;
        if (slot) { /* straight into oneDNN's layout */
            nnc_batchnorm_recompute(bn, slot, 1, 1);
            nnc_status s = nnc_dnnl_conv_forward(c, NULL, w, b, y, ex0->ws);
            if (s && ex0->fault) *ex0->fault = s;
            return;
        }
        float *xr = recompute_area(n, ex0, &exr, "its folded batch norm and its passes");
        if (!xr) return;
        nnc_batchnorm_recompute(bn, xr, 0, 1); /* else plain, past the passes' workspace */
        x = xr;
        ex = &exr;
    }
    float *ws = ex->ws;
    if (small_path(n, &g) && nnc_conv_small_ws(&g, 1) <= ex->ws_bytes) {
        nnc_conv_small_forward(&g, x, w, b, y, ws, ex->ws_bytes);
        return;
    }
    nnc_dnnl_conv *c = dnnl_for(n, &g, ex->training);
    if (c && nnc_dnnl_conv_ws_forward(c) <= ex->ws_bytes) {
        nnc_status s = nnc_dnnl_conv_forward(c, x, w, b, y, ws);
        if (s && ex->fault) *ex->fault = s;
        return;
    }
    if (blocked_of(n)) {
        nnc_fault_replan(n, ex, "its blocked tensors need oneDNN's primitives");
        return;
    }
    size_t slot = fwd_slot(&g);
    int64_t nt = n_slots(g.N, slot * sizeof(float), ex->ws_bytes);
    const int64_t xs = g.C * g.H * g.W, ys = g.ybs ? g.ybs : g.K * g.OH * g.OW;
    /* a single image leaves the GEMM its own threads */
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t i = 0; i < g.N; i++)
        forward_image(&g, x + i * xs, w, b, y + i * ys, ws + (size_t)omp_get_thread_num() * slot);
}

/* Backward of images [n0, n0+bc): dx of each image (written or added) and
 * the chunk's partial weight gradient in the slot. */
static void backward_chunk(const nnc_conv_geom *g, const bwd_slot *L, float *slot, int64_t n0, int64_t bc,
                           const float *x, const float *w, const float *dy, float *dx, int acc_x, int need_dw) {
    const int64_t G = g->groups, Kg = g->K / G, CRS = g->C / G * g->R * g->S, P = g->OH * g->OW;
    const int64_t xs = g->C * g->H * g->W, ys = g->ybs ? g->ybs : g->K * P, LD = bc * P;
    float *colx = slot, *dyc = colx + L->colx, *dcol = dyc + L->dy, *part = dcol + L->dcol;
    if (is_direct(g)) { /* x is the column matrix: image by image */
        for (int64_t b = 0; b < bc; b++) {
            const float *xi = x + (n0 + b) * xs, *dyi = dy + (n0 + b) * ys;
            for (int64_t grp = 0; grp < G; grp++) {
                const float *dyg = dyi + grp * Kg * P;
                if (need_dw)
                    nnc_sgemm('N', 'T', Kg, CRS, P, 1.0f, dyg, P, xi + grp * CRS * P, P, b ? 1.0f : 0.0f, part + grp * Kg * CRS, CRS);
                if (dx)
                    nnc_sgemm('T', 'N', CRS, P, Kg, 1.0f, w + grp * Kg * CRS, CRS, dyg, P, acc_x ? 1.0f : 0.0f,
                              dx + (n0 + b) * xs + grp * CRS * P, P);
            }
        }
        return;
    }
    for (int64_t b = 0; b < bc; b++) {
        if (need_dw) nnc_im2col(g, g->C, x + (n0 + b) * xs, colx + b * P, LD);
        const float *dyi = dy + (n0 + b) * ys;
        for (int64_t k = 0; k < g->K; k++) memcpy(dyc + k * LD + b * P, dyi + k * P, (size_t)P * sizeof(float));
    }
    for (int64_t grp = 0; grp < G; grp++) {
        const float *dyg = dyc + grp * Kg * LD;
        if (need_dw) nnc_sgemm('N', 'T', Kg, CRS, LD, 1.0f, dyg, LD, colx + grp * CRS * LD, LD, 0.0f, part + grp * Kg * CRS, CRS);
        if (dx) nnc_sgemm('T', 'N', CRS, LD, Kg, 1.0f, w + grp * Kg * CRS, CRS, dyg, LD, 0.0f, dcol + grp * CRS * LD, LD);
    }
    if (dx)
        for (int64_t b = 0; b < bc; b++) {
            float *dxi = dx + (n0 + b) * xs;
            if (!acc_x) memset(dxi, 0, (size_t)xs * sizeof(float));
            nnc_col2im_add(g, g->C, dcol + b * P, LD, dxi);
        }
}

/* The folded batch norm's output, into backward-weights' slot (no mask: forward wrote it). */
static void recompute_into(void *bn, float *slot) { nnc_batchnorm_recompute(bn, slot, 1, 0); }

static void conv_backward(nnc_node *n, const nnc_exec *ex0) {
    nnc_conv_geom g = geom_of(n);
    const float *x = n->in[0]->out.data, *w = n->in[1]->out.data, *dy = n->grad.data;
    nnc_exec exr = *ex0;
    const nnc_exec *ex = ex0;
    const int64_t P = g.OH * g.OW, ys = g.ybs ? g.ybs : g.K * P;
    int need_dx = nnc_needs_grad(n->in[0]), need_dw = nnc_needs_grad(n->in[1]);
    int need_db = n->n_in == 3 && nnc_needs_grad(n->in[2]);
    int acc_x = n->accum[0], acc_w = need_dw && n->accum[1];
    if (n->flags & NNC_NODE_RECOMPUTE_IN) { /* x was freed after forward: rebuild it */
        const nnc_node *bn = nnc_storage_of(n->in[0]);
        nnc_dnnl_conv *c = (n->flags & NNC_NODE_NORM_IN) && need_dw ? dnnl_for(n, &g, 1) : NULL;
        if (c && nnc_dnnl_conv_has_x_slot(c, 2) && nnc_dnnl_conv_ws_backward(c, need_dx, acc_x, need_dw, acc_w) <= ex0->ws_bytes) {
            /* backward-data, then x straight into oneDNN's layout for backward-weights */
            float *dx = need_dx ? n->in[0]->grad.data : NULL, *db = need_db ? n->in[2]->grad.data : NULL;
            nnc_status s = nnc_dnnl_conv_backward_fill(c, recompute_into, (void *)bn, w, dy, dx, acc_x, n->in[1]->grad.data, acc_w, db,
                                                       need_db && n->accum[2], ex0->ws);
            if (s && ex0->fault) *ex0->fault = s;
            return;
        }
        float *xr = recompute_area(n, ex0, &exr, "its recomputed input and its passes"); /* else plain, past our workspace */
        if (!xr) return;
        nnc_batchnorm_recompute(bn, xr, 0, 0);
        x = xr;
        ex = &exr;
    }
    nnc_dnnl_conv *c = need_dx || need_dw ? dnnl_for(n, &g, 1) : NULL;
    int use_dnnl = c && nnc_dnnl_conv_ws_backward(c, need_dx, acc_x, need_dw, acc_w) <= ex->ws_bytes;
    if (use_dnnl) {
        nnc_status s = nnc_dnnl_conv_backward(c, x, w, dy, need_dx ? n->in[0]->grad.data : NULL, acc_x,
                                              need_dw ? n->in[1]->grad.data : NULL, acc_w,
                                              need_db ? n->in[2]->grad.data : NULL, need_db && n->accum[2], ex->ws);
        if (s && ex->fault) *ex->fault = s;
        if (s || need_dw) return; /* backward-weights summed the bias gradient too */
    } else if ((need_dx || need_dw) && blocked_of(n)) {
        nnc_fault_replan(n, ex, "its blocked tensors need oneDNN's primitives");
        return;
    }

    if (need_db) {
        float *db = n->in[2]->grad.data;
        int acc = n->accum[2];
#pragma omp parallel for schedule(static) if (g.K * g.N * P > 65536)
        for (int64_t k = 0; k < g.K; k++) {
            double s = 0;
            for (int64_t i = 0; i < g.N; i++) {
                const float *d = dy + i * ys + k * P;
                float lane[16] = {0}; /* 16 independent sums: they vectorize */
                int64_t p = 0;
                for (; p + 16 <= P; p += 16)
                    for (int j = 0; j < 16; j++) lane[j] += d[p + j];
                float part = 0;
                for (; p < P; p++) part += d[p];
                for (int j = 0; j < 16; j++) part += lane[j];
                s += part;
            }
            db[k] = acc ? db[k] + (float)s : (float)s;
        }
    }
    if (!use_dnnl && need_dw && small_path(n, &g) && nnc_conv_small_ws(&g, 1) <= ex->ws_bytes) {
        nnc_conv_small_backward_weights(&g, x, dy, n->in[1]->grad.data, acc_w, ex->ws, ex->ws_bytes);
        need_dw = 0; /* the input gradient, if wanted, takes the im2col path */
    }
    if (use_dnnl || (!need_dx && !need_dw)) return;

    float *dx = need_dx ? n->in[0]->grad.data : NULL, *dw = need_dw ? n->in[1]->grad.data : NULL, *ws = ex->ws;
    const int64_t B = chunk_images(&g), n_chunks = (g.N + B - 1) / B, wsize = nnc_numel(&n->in[1]->out);
    bwd_slot L = bwd_layout(&g);
    int64_t nt = n_slots(n_chunks, L.total * sizeof(float), ex->ws_bytes);
    /* At least two threads whenever there are two, so every GEMM runs on one
     * thread inside the team and the partial sums do not depend on the count. */
    int team = (int)nt, maxt = omp_get_max_threads();
    if (team < 2 && maxt >= 2) team = 2;
    for (int64_t c0 = 0; c0 < n_chunks; c0 += nt) {
        int64_t cnt = n_chunks - c0 < nt ? n_chunks - c0 : nt;
#pragma omp parallel for num_threads(team) schedule(static, 1) if (team > 1)
        for (int64_t i = 0; i < cnt; i++) {
            int64_t n0 = (c0 + i) * B, bc = g.N - n0 < B ? g.N - n0 : B;
            backward_chunk(&g, &L, ws + (size_t)i * L.total, n0, bc, x, w, dy, dx, acc_x, need_dw);
        }
        if (!need_dw) continue;
        /* partial weight gradients, added in chunk order */
        for (int64_t i = 0; i < cnt; i++) {
            const float *part = ws + (size_t)i * L.total + L.colx + L.dy + L.dcol;
            if (c0 + i == 0 && !acc_w)
                memcpy(dw, part, (size_t)wsize * sizeof(float));
            else
                for (int64_t j = 0; j < wsize; j++) dw[j] += part[j];
        }
    }
}

/* Validates and normalizes the options (zero stride/dilation/groups = 1). */
static int attrs_from(nnc_graph *g, const char *who, const nnc_conv2d_opts *o, conv_attrs *a) {
    nnc_conv2d_opts d = {{1, 1}, {0, 0}, {1, 1}, 1};
    if (!o) o = &d;
    for (int i = 0; i < 2; i++) {
        if (o->stride[i] < 0 || o->pad[i] < 0 || o->dilation[i] < 0) {
            nnc_graph_fail(g, NNC_ERR_ARG, "%s: stride %d,%d, padding %d,%d, dilation %d,%d must not be negative", who,
                           o->stride[0], o->stride[1], o->pad[0], o->pad[1], o->dilation[0], o->dilation[1]);
            return 0;
        }
        a->stride[i] = o->stride[i] ? o->stride[i] : 1;
        a->pad[i] = o->pad[i];
        a->dil[i] = o->dilation[i] ? o->dilation[i] : 1;
    }
    if (o->groups < 0) { nnc_graph_fail(g, NNC_ERR_ARG, "%s: groups %d must not be negative", who, o->groups); return 0; }
    a->groups = o->groups ? o->groups : 1;
    return 1;
}

nnc_node *nnc_conv2d(nnc_graph *g, nnc_node *x, nnc_node *w, nnc_node *b, const nnc_conv2d_opts *o) {
    if (!g || g->err) return NULL;
    conv_attrs a;
    if (!attrs_from(g, "conv2d", o, &a)) return NULL;
    nnc_node *in[3] = {x, w, b};
    return nnc_node_new(g, NNC_OP_CONV2D, b ? 3 : 2, in, &a, sizeof a);
}

nnc_node *nnc_conv2d_layer(nnc_graph *g, nnc_node *x, const char *name, int64_t out_channels, int kh, int kw,
                           const nnc_conv2d_opts *o, int bias) {
    if (!g || g->err) return NULL;
    if (!name || !*name) return nnc_graph_fail(g, NNC_ERR_ARG, "conv2d layer: name is empty");
    if (!x) return nnc_graph_fail(g, NNC_ERR_ARG, "conv2d layer '%s': input is NULL", name);
    if (out_channels <= 0 || kh <= 0 || kw <= 0)
        return nnc_graph_fail(g, NNC_ERR_ARG, "conv2d layer '%s': %lld output channels, kernel %dx%d (must be positive)", name,
                              (long long)out_channels, kh, kw);
    char who[160], s1[64];
    snprintf(who, sizeof who, "conv2d layer '%s'", name);
    conv_attrs a;
    if (!attrs_from(g, who, o, &a)) return NULL;
    if (x->out.ndim != 4)
        return nnc_graph_fail(g, NNC_ERR_SHAPE, "%s: input must be [N, C, H, W], got %s", who, nnc_shape_str(&x->out, s1, sizeof s1));
    int64_t C = x->out.shape[1];
    if (C % a.groups || out_channels % a.groups)
        return nnc_graph_fail(g, NNC_ERR_SHAPE, "%s: %lld input and %lld output channels must both be divisible by groups=%d", who,
                              (long long)C, (long long)out_channels, a.groups);
    int64_t fan_in = C / a.groups * kh * kw;
    float bound = 1.0f / sqrtf((float)fan_in); /* PyTorch: kaiming_uniform(a=sqrt(5)) and its bias rule */
    nnc_scope_push(g, name);
    nnc_node *w = nnc_param(g, "weight", 4, (int64_t[]){out_channels, C / a.groups, kh, kw}, (nnc_init){NNC_INIT_UNIFORM, -bound, bound});
    nnc_node *b = bias ? nnc_param(g, "bias", 1, (int64_t[]){out_channels}, (nnc_init){NNC_INIT_UNIFORM, -bound, bound}) : NULL;
    nnc_scope_pop(g);
    if (g->err) return NULL;
    nnc_node *in[3] = {x, w, b};
    nnc_node *y = nnc_node_new(g, NNC_OP_CONV2D, b ? 3 : 2, in, &a, sizeof a);
    if (y) nnc_node_set_name(y, name);
    return y;
}

/* ---- gradient-check cases: conv is linear in x and w, so eps 1e-2 is exact up to rounding */
static nnc_node *case_conv(nnc_graph *g, int64_t C, int64_t H, int64_t W, int64_t K, int kh, int kw, nnc_conv2d_opts o,
                           int bias, int x_grad) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){C, H, W});
    if (x_grad) nnc_input_requires_grad(x);
    nnc_node *y = nnc_conv2d_layer(g, x, "conv", K, kh, kw, &o, bias);
    nnc_graph_output(g, y);
    return y;
}
static nnc_node *case_c3k5(nnc_graph *g) { return case_conv(g, 3, 6, 6, 5, 3, 3, (nnc_conv2d_opts){{1, 1}, {1, 1}, {1, 1}, 1}, 1, 1); }
static nnc_node *case_s2p2d2(nnc_graph *g) { return case_conv(g, 4, 9, 8, 3, 3, 3, (nnc_conv2d_opts){{2, 2}, {2, 2}, {2, 2}, 1}, 0, 1); }
static nnc_node *case_rect(nnc_graph *g) { return case_conv(g, 2, 7, 8, 3, 2, 3, (nnc_conv2d_opts){{2, 1}, {1, 0}, {1, 2}, 1}, 1, 1); }
static nnc_node *case_groups2(nnc_graph *g) { return case_conv(g, 6, 5, 5, 10, 3, 3, (nnc_conv2d_opts){{1, 1}, {1, 1}, {1, 1}, 2}, 1, 1); }
static nnc_node *case_depthwise(nnc_graph *g) { return case_conv(g, 4, 6, 7, 8, 3, 3, (nnc_conv2d_opts){{2, 2}, {1, 1}, {1, 1}, 4}, 1, 1); }
static nnc_node *case_1x1(nnc_graph *g) { return case_conv(g, 5, 4, 3, 7, 1, 1, (nnc_conv2d_opts){{0, 0}, {0, 0}, {0, 0}, 0}, 1, 1); }
static nnc_node *case_weights_only(nnc_graph *g) { return case_conv(g, 3, 5, 5, 4, 3, 3, (nnc_conv2d_opts){{1, 1}, {0, 0}, {1, 1}, 1}, 0, 0); }
static nnc_node *case_lenet(nnc_graph *g) { return case_conv(g, 1, 8, 8, 6, 5, 5, (nnc_conv2d_opts){{1, 1}, {2, 2}, {1, 1}, 1}, 1, 1); }
/* fan-out: the same input feeds two convolutions, so the second dx accumulates */
static nnc_node *case_fanout(nnc_graph *g) {
    nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){3, 5, 5});
    nnc_input_requires_grad(x);
    nnc_conv2d_opts o = {{1, 1}, {1, 1}, {1, 1}, 1}, o1 = {{1, 1}, {0, 0}, {1, 1}, 1};
    nnc_node *a = nnc_conv2d_layer(g, x, "a", 4, 3, 3, &o, 1);
    nnc_node *b = nnc_conv2d_layer(g, x, "b", 4, 1, 1, &o1, 0);
    nnc_graph_output(g, a);
    nnc_graph_output(g, b);
    return a;
}
static const nnc_op_case cases[] = {
    {"conv2d_c3k5_3x3_p1_bias", 2, 1e-2, 2e-3, 1e-4, 0, case_c3k5},
    {"conv2d_c4k3_3x3_s2_p2_d2_nobias", 2, 1e-2, 2e-3, 1e-4, 0, case_s2p2d2},
    {"conv2d_2x3_s21_p10_d12_rect", 3, 1e-2, 2e-3, 1e-4, 0, case_rect},
    {"conv2d_c6k10_groups2", 2, 1e-2, 2e-3, 1e-4, 0, case_groups2},
    {"conv2d_depthwise_c4k8_s2", 3, 1e-2, 2e-3, 1e-4, 0, case_depthwise},
    {"conv2d_1x1_c5k7_direct", 3, 1e-2, 2e-3, 1e-4, 0, case_1x1},
    {"conv2d_weights_only_nopad", 2, 1e-2, 2e-3, 1e-4, 0, case_weights_only},
    {"conv2d_lenet_5x5_p2", 2, 1e-2, 2e-3, 1e-4, 0, case_lenet},
    {"conv2d_fanout_accumulate", 2, 1e-2, 2e-3, 1e-4, 0, case_fanout},
};

static int64_t conv_macs(const nnc_node *n) {
    const nnc_tensor *w = &n->in[1]->out;
    return nnc_numel(&n->out) * w->shape[1] * w->shape[2] * w->shape[3]; /* per output: (C/groups) R S */
}

const nnc_op_desc nnc_op_conv2d = {"conv2d", "2-D convolution (oneDNN; im2col + GEMM fallback): stride, padding, dilation, groups",
                                   "weight [K,C/groups,R,S], bias [K] optional; stride, pad, dilation, groups",
                                   conv_infer, conv_forward, conv_backward, conv_workspace, NULL,
                                   NNC_READS_IN(0) | NNC_READS_IN(1), cases, (int)(sizeof cases / sizeof cases[0]), conv_macs,
                                   conv_layouts, 0, conv_strided};
