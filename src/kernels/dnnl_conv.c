/* dnnl_conv.c -- convolution passes through oneDNN 2.x primitives (see
 * dnnl_conv.h). A pass is one convolution primitive with three edges
 * (two inputs, one output). Each edge pairs the caller's plain tensor with
 * the layout the primitive chose (format `any`); where they differ, a
 * reorder moves the data through a buffer in the workspace. oneDNN's
 * primitives overwrite their outputs, so an output that must be added goes
 * through a buffer and a reorder with a sum post-op. Scratchpads are
 * user-managed and placed at the start of the workspace; the primitives of
 * one pass run one after another and share that region. */
#include "kernels/dnnl_conv.h"
#include <dnnl.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static dnnl_engine_t engine;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;
static void engine_init(void) {
    if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success) engine = NULL;
}

/* A primitive and its scratchpad memory (NULL when it needs none). */
typedef struct { dnnl_primitive_t p; dnnl_memory_t scratch; size_t scratch_bytes; } prim;

/* A tensor at a primitive's edge: user is the caller's plain tensor, buf
 * the primitive's layout in the workspace. Inputs go through buf only when
 * the layouts differ; outputs also when they are added. */
typedef struct {
    dnnl_memory_t user, buf;
    int same;                  /* the primitive's layout is the plain one */
    prim to_buf;               /* inputs: user -> buf (when !same) */
    prim to_user, add_to_user; /* outputs: buf -> user, overwriting (when !same) or adding */
    size_t bytes;              /* of buf */
} edge;

/* One pass: edges 0, 1 are inputs, edge 2 the output; arg: oneDNN's
 * argument ids; bias: forward's bias or backward-weights' bias gradient. */
typedef struct {
    prim conv;
    edge e[3];
    int arg[3];
    dnnl_memory_t bias;
    int bias_arg;
    char impl[48];
} pass;

struct nnc_dnnl_conv {
    nnc_conv_geom g;
    int bias, training, threads, ok;
    int blocked; /* NNC_DNNL_CONV_X_BLOCKED | NNC_DNNL_CONV_Y_BLOCKED */
    int share_dy; /* both backward passes want diff_dst in the same non-plain layout */
    dnnl_stream_t stream;
    pass fwd, bwd_data, bwd_weights;
};

/* ---- building */

/* Attributes: user-managed scratchpad; add = a sum post-op (dst += result). */
static dnnl_primitive_attr_t make_attr(int add) {
    dnnl_primitive_attr_t a = NULL;
    dnnl_post_ops_t po = NULL;
    if (dnnl_primitive_attr_create(&a)) return NULL;
    int ok = dnnl_primitive_attr_set_scratchpad_mode(a, dnnl_scratchpad_mode_user) == dnnl_success;
    if (ok && add)
        ok = dnnl_post_ops_create(&po) == dnnl_success && dnnl_post_ops_append_sum(po, 1.0f) == dnnl_success &&
             dnnl_primitive_attr_set_post_ops(a, po) == dnnl_success;
    if (po) dnnl_post_ops_destroy(po);
    if (!ok) { dnnl_primitive_attr_destroy(a); return NULL; }
    return a;
}

static int make_prim(prim *p, const_dnnl_primitive_desc_t pd) {
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    p->scratch_bytes = smd ? dnnl_memory_desc_get_size(smd) : 0;
    if (dnnl_primitive_create(&p->p, pd)) { p->p = NULL; return 0; }
    if (p->scratch_bytes && dnnl_memory_create(&p->scratch, smd, engine, DNNL_MEMORY_NONE)) { p->scratch = NULL; return 0; }
    return 1;
}
static void free_prim(prim *p) {
    if (p->p) dnnl_primitive_destroy(p->p);
    if (p->scratch) dnnl_memory_destroy(p->scratch);
}

static int make_reorder(prim *p, const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to, int add) {
    dnnl_primitive_attr_t a = make_attr(add);
    dnnl_primitive_desc_t pd = NULL;
    if (!a) return 0;
    int ok = dnnl_reorder_primitive_desc_create(&pd, from, engine, to, engine, a) == dnnl_success && make_prim(p, pd);
    if (pd) dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(a);
    return ok;
}

static int make_edge(edge *e, const dnnl_memory_desc_t *plain, const dnnl_memory_desc_t *want, int output) {
    if (!want) return 0;
    e->same = dnnl_memory_desc_equal(plain, want);
    e->bytes = dnnl_memory_desc_get_size(want);
    if (dnnl_memory_create(&e->user, plain, engine, DNNL_MEMORY_NONE)) { e->user = NULL; return 0; }
    if (dnnl_memory_create(&e->buf, want, engine, DNNL_MEMORY_NONE)) { e->buf = NULL; return 0; }
    if (!output) return e->same || make_reorder(&e->to_buf, plain, want, 0);
    return (e->same || make_reorder(&e->to_user, want, plain, 0)) && make_reorder(&e->add_to_user, want, plain, 1);
}
static void free_edge(edge *e) {
    if (e->user) dnnl_memory_destroy(e->user);
    if (e->buf) dnnl_memory_destroy(e->buf);
    free_prim(&e->to_buf);
    free_prim(&e->to_user);
    free_prim(&e->add_to_user);
}

/* Builds pass ps from the op descriptor d; returns its primitive descriptor
 * (the caller destroys it; forward's is the hint of the backward passes),
 * or NULL. plain: the caller's layouts of the edges, q: which of the
 * primitive's memory descriptors each edge is. */
static dnnl_primitive_desc_t make_pass(pass *ps, const dnnl_convolution_desc_t *d, const_dnnl_primitive_desc_t hint,
                                       const dnnl_memory_desc_t *const plain[3], const dnnl_query_t q[3], const int arg[3],
                                       const dnnl_memory_desc_t *bias, int bias_arg) {
    dnnl_primitive_attr_t a = make_attr(0);
    dnnl_primitive_desc_t pd = NULL;
    if (!a) return NULL;
    dnnl_status_t st = dnnl_primitive_desc_create(&pd, d, a, engine, hint);
    dnnl_primitive_attr_destroy(a);
    if (st != dnnl_success) return NULL;
    const char *impl = "";
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success || !impl) impl = "";
    snprintf(ps->impl, sizeof ps->impl, "%s", impl);
    int ok = make_prim(&ps->conv, pd);
    for (int i = 0; i < 3 && ok; i++) {
        ps->arg[i] = arg[i];
        ok = make_edge(&ps->e[i], plain[i], dnnl_primitive_desc_query_md(pd, q[i], 0), i == 2);
    }
    if (ok && bias) {
        ps->bias_arg = bias_arg;
        if (dnnl_memory_create(&ps->bias, bias, engine, DNNL_MEMORY_NONE)) { ps->bias = NULL; ok = 0; }
    }
    if (!ok) { dnnl_primitive_desc_destroy(pd); return NULL; }
    return pd;
}
static void free_pass(pass *ps) {
    free_prim(&ps->conv);
    for (int i = 0; i < 3; i++) free_edge(&ps->e[i]);
    if (ps->bias) dnnl_memory_destroy(ps->bias);
}

/* oneDNN's reference implementations ("ref:any") are slower than our im2col path. */
static int fast(const pass *ps) { return strncmp(ps->impl, "ref", 3) != 0; }

enum { FWD, BWD_DATA, BWD_WEIGHTS };

/* Winograd F(4x4, 3x3) (oneDNN's jit_wino_4x3) does 4x fewer multiplies
 * than direct convolution on 3x3 kernels with stride 1, no dilation and no
 * groups, but its input/output transforms cost memory passes that only pay
 * from enough channels and tiles. Measured at batch 128 on Zen 4: ResNet-20's
 * 32- and 64-channel layers run 1.6-1.9x faster in every pass, its
 * 16-channel ones slower in forward and backward-data and 1.15x faster in
 * backward-weights; VGG's 512-channel 2x2 maps 1.2-1.8x slower (one tile,
 * mostly padding). Forward also pays with few output channels when the
 * input has 32 or more and the maps are large: DenseNet's 48 -> 12 layers
 * take 59 instead of 94 ms per step of 64 at 32x32 (16 layers), 14.6
 * instead of 16.7 at 16x16, the same at 8x8. Its scratchpad holds
 * transformed weights and tiles (up to 140 MB on VGG-11's 512-channel
 * layers), so a pass takes Winograd only when
 * that stays under max(48 MB, the bytes of x and y): peak memory is part of
 * the contract too. The results differ from direct convolution by rounding
 * only (tests/test_dnnl_conv.c). NNC_CONV_WINOGRAD=0 turns it off, =1 uses it
 * wherever oneDNN accepts it (experiments). */
static int use_winograd(const nnc_conv_geom *g, int which) {
    if (!(g->R == 3 && g->S == 3 && g->sh == 1 && g->sw == 1 && g->dh == 1 && g->dw == 1 && g->groups == 1)) return 0;
    const char *e = getenv("NNC_CONV_WINOGRAD");
    if (e && *e) return atoi(e) != 0 ? 2 : 0;
    int64_t least = which == BWD_WEIGHTS ? 16 : 32;
    int64_t least_k = which == FWD && g->OH >= 16 && g->OW >= 16 ? 8 : least;
    return g->C >= least && g->K >= least_k && g->OH >= 4 && g->OW >= 4;
}
static size_t winograd_scratch_cap(const nnc_conv_geom *g) {
    size_t xy = (size_t)(g->N * g->H * g->W * g->C + g->N * g->OH * g->OW * g->K) * sizeof(float);
    size_t floor = (size_t)48 << 20;
    return xy > floor ? xy : floor;
}

/* Builds pass `which` with algorithm alg; returns its primitive descriptor or NULL. */
static dnnl_primitive_desc_t try_pass(nnc_dnnl_conv *c, int which, dnnl_alg_kind_t alg, const_dnnl_primitive_desc_t hint,
                                      const dnnl_memory_desc_t *x, const dnnl_memory_desc_t *w, const dnnl_memory_desc_t *y,
                                      const dnnl_memory_desc_t *xa, const dnnl_memory_desc_t *wa, const dnnl_memory_desc_t *ya,
                                      const dnnl_memory_desc_t *bias) {
    const nnc_conv_geom *g = &c->g;
    dnnl_dims_t st = {g->sh, g->sw}, dil = {g->dh - 1, g->dw - 1}, pad = {g->ph, g->pw};
    dnnl_convolution_desc_t d;
    dnnl_primitive_desc_t pd = NULL;
    pass *ps = which == FWD ? &c->fwd : which == BWD_DATA ? &c->bwd_data : &c->bwd_weights;
    memset(ps, 0, sizeof *ps);
    /* oneDNN's right padding is what the output size implies; nnc's output
     * size rounds down exactly like oneDNN's check with pad_r = pad_l */
    if (which == FWD) {
        if (dnnl_dilated_convolution_forward_desc_init(&d, c->training ? dnnl_forward_training : dnnl_forward_inference, alg, xa, wa, bias,
                                                       ya, st, dil, pad, pad) == dnnl_success)
            pd = make_pass(ps, &d, NULL, (const dnnl_memory_desc_t *const[3]){x, w, y},
                           (const dnnl_query_t[3]){dnnl_query_src_md, dnnl_query_weights_md, dnnl_query_dst_md},
                           (const int[3]){DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST}, bias, DNNL_ARG_BIAS);
    } else if (which == BWD_DATA) {
        if (dnnl_dilated_convolution_backward_data_desc_init(&d, alg, xa, wa, ya, st, dil, pad, pad) == dnnl_success)
            pd = make_pass(ps, &d, hint, (const dnnl_memory_desc_t *const[3]){y, w, x},
                           (const dnnl_query_t[3]){dnnl_query_diff_dst_md, dnnl_query_weights_md, dnnl_query_diff_src_md},
                           (const int[3]){DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC}, NULL, 0);
    } else {
        if (dnnl_dilated_convolution_backward_weights_desc_init(&d, alg, xa, wa, bias, ya, st, dil, pad, pad) == dnnl_success)
            pd = make_pass(ps, &d, hint, (const dnnl_memory_desc_t *const[3]){x, y, w},
                           (const dnnl_query_t[3]){dnnl_query_src_md, dnnl_query_diff_dst_md, dnnl_query_diff_weights_md},
                           (const int[3]){DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS}, bias, DNNL_ARG_DIFF_BIAS);
    }
    if (pd && !fast(ps)) {
        dnnl_primitive_desc_destroy(pd);
        pd = NULL;
    }
    if (!pd) {
        free_pass(ps);
        memset(ps, 0, sizeof *ps);
    }
    return pd;
}

/* Pass `which`, Winograd first where it applies and is wanted, else direct. */
static dnnl_primitive_desc_t build_pass(nnc_dnnl_conv *c, int which, const_dnnl_primitive_desc_t hint, const dnnl_memory_desc_t *x,
                                        const dnnl_memory_desc_t *w, const dnnl_memory_desc_t *y, const dnnl_memory_desc_t *xa,
                                        const dnnl_memory_desc_t *wa, const dnnl_memory_desc_t *ya, const dnnl_memory_desc_t *bias) {
    dnnl_primitive_desc_t pd = NULL;
    int wino = use_winograd(&c->g, which);
    if (wino) {
        pd = try_pass(c, which, dnnl_convolution_winograd, hint, x, w, y, xa, wa, ya, bias);
        pass *ps = which == FWD ? &c->fwd : which == BWD_DATA ? &c->bwd_data : &c->bwd_weights;
        if (pd && wino == 1 && ps->conv.scratch_bytes > winograd_scratch_cap(&c->g)) {
            dnnl_primitive_desc_destroy(pd);
            free_pass(ps);
            pd = NULL;
        }
    }
    if (!pd) pd = try_pass(c, which, dnnl_convolution_direct, hint, x, w, y, xa, wa, ya, bias);
    return pd;
}

static int build(nnc_dnnl_conv *c) {
    const nnc_conv_geom *g = &c->g;
    dnnl_memory_desc_t x, dx, w, y, b, xa, wa, ya;
    dnnl_dims_t xd = {g->N, g->C, g->H, g->W}, yd = {g->N, g->K, g->OH, g->OW}, bd = {g->K};
    dnnl_dims_t wd = {g->groups, g->K / g->groups, g->C / g->groups, g->R, g->S};
    int wn = 5;
    dnnl_format_tag_t wtag = dnnl_goihw;
    if (g->groups == 1) {
        wd[0] = g->K; wd[1] = g->C; wd[2] = g->R; wd[3] = g->S;
        wn = 4;
        wtag = dnnl_oihw;
    }
    dnnl_format_tag_t xtag = c->blocked & NNC_DNNL_CONV_X_BLOCKED ? dnnl_nChw16c : dnnl_nchw;
    dnnl_format_tag_t dxtag = c->blocked & (NNC_DNNL_CONV_X_BLOCKED | NNC_DNNL_CONV_DX_BLOCKED) ? dnnl_nChw16c : dnnl_nchw;
    dnnl_format_tag_t ytag = c->blocked & NNC_DNNL_CONV_Y_BLOCKED ? dnnl_nChw16c : dnnl_nchw;
    if (dnnl_memory_desc_init_by_tag(&x, 4, xd, dnnl_f32, xtag) || dnnl_memory_desc_init_by_tag(&dx, 4, xd, dnnl_f32, dxtag) ||
        dnnl_memory_desc_init_by_tag(&xa, 4, xd, dnnl_f32, dnnl_format_tag_any) ||
        dnnl_memory_desc_init_by_tag(&w, wn, wd, dnnl_f32, wtag) || dnnl_memory_desc_init_by_tag(&wa, wn, wd, dnnl_f32, dnnl_format_tag_any) ||
        (g->ybs ? dnnl_memory_desc_init_by_strides(&y, 4, yd, dnnl_f32, (dnnl_dims_t){g->ybs, g->OH * g->OW, g->OW, 1})
                : dnnl_memory_desc_init_by_tag(&y, 4, yd, dnnl_f32, ytag)) ||
        dnnl_memory_desc_init_by_tag(&ya, 4, yd, dnnl_f32, dnnl_format_tag_any) ||
        dnnl_memory_desc_init_by_tag(&b, 1, bd, dnnl_f32, dnnl_x))
        return 0;
    const dnnl_memory_desc_t *bias = c->bias ? &b : NULL;
    dnnl_primitive_desc_t fwd = build_pass(c, FWD, NULL, &x, &w, &y, &xa, &wa, &ya, bias);
    if (!fwd) return 0;
    int ok = 1;
    if (c->training) {
        dnnl_primitive_desc_t pd = build_pass(c, BWD_DATA, fwd, &dx, &w, &y, &xa, &wa, &ya, NULL);
        ok = pd != NULL;
        if (pd) dnnl_primitive_desc_destroy(pd);
        pd = ok ? build_pass(c, BWD_WEIGHTS, fwd, &x, &w, &y, &xa, &wa, &ya, bias) : NULL;
        ok = pd != NULL;
        if (pd) dnnl_primitive_desc_destroy(pd);
        if (ok) {
            const dnnl_memory_desc_t *a = NULL, *b = NULL;
            c->share_dy = !c->bwd_data.e[0].same && !c->bwd_weights.e[1].same &&
                          dnnl_memory_get_memory_desc(c->bwd_data.e[0].buf, &a) == dnnl_success &&
                          dnnl_memory_get_memory_desc(c->bwd_weights.e[1].buf, &b) == dnnl_success && dnnl_memory_desc_equal(a, b);
        }
    }
    dnnl_primitive_desc_destroy(fwd);
    return ok && dnnl_stream_create(&c->stream, engine, dnnl_stream_default_flags) == dnnl_success;
}

nnc_dnnl_conv *nnc_dnnl_conv_new(const nnc_conv_geom *g, int bias, int training, int blocked) {
    nnc_dnnl_conv *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->g = *g;
    c->bias = bias != 0;
    c->training = training != 0;
    c->blocked = blocked;
    c->threads = omp_get_max_threads(); /* oneDNN sizes scratchpads and splits work for this count */
    pthread_once(&engine_once, engine_init);
    c->ok = engine && build(c);
    return c;
}

void nnc_dnnl_conv_free(nnc_dnnl_conv *c) {
    if (!c) return;
    free_pass(&c->fwd);
    free_pass(&c->bwd_data);
    free_pass(&c->bwd_weights);
    if (c->stream) dnnl_stream_destroy(c->stream);
    free(c);
}

int nnc_dnnl_conv_ok(const nnc_dnnl_conv *c) { return c && c->ok; }

int nnc_dnnl_conv_matches(const nnc_dnnl_conv *c, const nnc_conv_geom *g, int bias, int training, int blocked) {
    return c && !memcmp(&c->g, g, sizeof *g) && c->bias == (bias != 0) && c->training == (training != 0) && c->blocked == blocked &&
           c->threads == omp_get_max_threads();
}

const char *nnc_dnnl_conv_impl(const nnc_dnnl_conv *c, int pass) {
    if (!c) return "";
    return pass == 0 ? c->fwd.impl : pass == 1 ? c->bwd_data.impl : pass == 2 ? c->bwd_weights.impl : "";
}

/* ---- workspace: [scratchpad | shared diff_dst | edge buffers | bias gradient]
 * Every primitive of a call puts its scratchpad at offset 0 (they run one
 * after another). Backward reorders diff_dst once when both of its passes
 * want it in the same non-plain layout. */

typedef struct { size_t buf[3], bias, end; } layout;
static size_t up64(size_t b) { return (b + 63) / 64 * 64; }
static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

static size_t pass_scratch(const pass *ps) {
    size_t s = ps->conv.scratch_bytes;
    for (int i = 0; i < 3; i++)
        s = max_sz(s, max_sz(ps->e[i].to_buf.scratch_bytes, max_sz(ps->e[i].to_user.scratch_bytes, ps->e[i].add_to_user.scratch_bytes)));
    return s;
}
/* Buffers of ps from offset off: inputs that differ from plain (unless
 * ready: bit i = input i comes already reordered), the output when it
 * differs or is added, then bias_bytes. */
static layout pass_layout(const pass *ps, int acc, int ready, size_t off, size_t bias_bytes) {
    layout L;
    for (int i = 0; i < 3; i++) {
        int need = i < 2 ? !ps->e[i].same && !(ready >> i & 1) : !ps->e[i].same || acc;
        L.buf[i] = need ? off : 0;
        if (need) off += up64(ps->e[i].bytes);
    }
    L.bias = off;
    L.end = off + up64(bias_bytes);
    return L;
}
static size_t bias_bytes(const nnc_dnnl_conv *c) { return c->bias ? (size_t)c->g.K * sizeof(float) : 0; }

static layout forward_layout(const nnc_dnnl_conv *c) { return pass_layout(&c->fwd, 0, 0, up64(pass_scratch(&c->fwd)), 0); }
size_t nnc_dnnl_conv_ws_forward(const nnc_dnnl_conv *c) { return forward_layout(c).end; }

typedef struct { layout d, w; size_t dy, total; int share; } bwd_layout;
static bwd_layout backward_layout(const nnc_dnnl_conv *c, int need_dx, int acc_x, int need_dw, int acc_w) {
    bwd_layout B;
    size_t s = max_sz(need_dx ? pass_scratch(&c->bwd_data) : 0, need_dw ? pass_scratch(&c->bwd_weights) : 0);
    size_t off = up64(s);
    B.share = need_dx && need_dw && c->share_dy;
    B.dy = off;
    if (B.share) off += up64(c->bwd_data.e[0].bytes);
    B.d = pass_layout(&c->bwd_data, acc_x, B.share ? 1 : 0, off, 0);
    B.w = pass_layout(&c->bwd_weights, acc_w, B.share ? 2 : 0, off, bias_bytes(c));
    B.total = max_sz(need_dx ? B.d.end : 0, need_dw ? B.w.end : 0);
    return B;
}
size_t nnc_dnnl_conv_ws_backward(const nnc_dnnl_conv *c, int need_dx, int acc_x, int need_dw, int acc_w) {
    return c->training ? backward_layout(c, need_dx, acc_x, need_dw, acc_w).total : 0;
}

/* ---- running */

/* Points m at p; oneDNN's set_data_handle also zero-pads blocked layouts
 * (on stream s), so skip it when the pointer did not change. */
static void bind(dnnl_memory_t m, const void *p, dnnl_stream_t s) {
    void *h = NULL;
    dnnl_memory_get_data_handle(m, &h);
    if (h != p) dnnl_memory_set_data_handle_v2(m, (void *)p, s);
}

static dnnl_status_t exec(const prim *p, dnnl_stream_t s, int n, const dnnl_exec_arg_t *args, void *ws) {
    dnnl_exec_arg_t a[8];
    memcpy(a, args, (size_t)n * sizeof *a);
    if (p->scratch) {
        bind(p->scratch, ws, s);
        a[n++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, p->scratch};
    }
    return dnnl_primitive_execute(p->p, s, n, a);
}
static dnnl_status_t reorder(const prim *p, dnnl_stream_t s, dnnl_memory_t from, dnnl_memory_t to, void *ws) {
    return exec(p, s, 2, (dnnl_exec_arg_t[2]){{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}}, ws);
}

/* out (+)= pass(in0, in1); bias: a plain [K] buffer for the bias argument;
 * ready[i]: input i already in the pass's layout there (NULL: reorder it). */
static nnc_status run_pass(nnc_dnnl_conv *c, pass *ps, const char *what, const void *in0, const void *in1, void *out, int acc,
                           void *bias, void *ws, const layout *L, void *const ready[2]) {
    char *w = ws;
    const void *in[2] = {in0, in1};
    dnnl_exec_arg_t a[4];
    int n = 0;
    dnnl_status_t st = dnnl_success;
    for (int i = 0; i < 2 && st == dnnl_success; i++) {
        edge *e = &ps->e[i];
        if (e->same) {
            bind(e->user, in[i], c->stream);
            a[n++] = (dnnl_exec_arg_t){ps->arg[i], e->user};
        } else if (ready && ready[i]) {
            bind(e->buf, ready[i], c->stream);
            a[n++] = (dnnl_exec_arg_t){ps->arg[i], e->buf};
        } else {
            bind(e->user, in[i], c->stream);
            bind(e->buf, w + L->buf[i], c->stream);
            st = reorder(&e->to_buf, c->stream, e->user, e->buf, ws);
            a[n++] = (dnnl_exec_arg_t){ps->arg[i], e->buf};
        }
    }
    edge *o = &ps->e[2];
    int direct = o->same && !acc;
    bind(o->user, out, c->stream);
    if (!direct) bind(o->buf, w + L->buf[2], c->stream);
    a[n++] = (dnnl_exec_arg_t){ps->arg[2], direct ? o->user : o->buf};
    if (bias) {
        bind(ps->bias, bias, c->stream);
        a[n++] = (dnnl_exec_arg_t){ps->bias_arg, ps->bias};
    }
    if (st == dnnl_success) st = exec(&ps->conv, c->stream, n, a, ws);
    if (st == dnnl_success && !direct) st = reorder(acc ? &o->add_to_user : &o->to_user, c->stream, o->buf, o->user, ws);
    if (st == dnnl_success) st = dnnl_stream_wait(c->stream);
    if (st == dnnl_success) return NNC_OK;
    return nnc_error(st == dnnl_out_of_memory ? NNC_ERR_OOM : NNC_ERR_UNSUPPORTED, "conv2d: oneDNN %s (%s) failed with status %d",
                     what, ps->impl, (int)st);
}

nnc_status nnc_dnnl_conv_forward(nnc_dnnl_conv *c, const float *x, const float *w, const float *b, float *y, void *ws) {
    layout L = forward_layout(c);
    void *ready[2] = {x ? NULL : (char *)ws + L.buf[0], NULL};
    return run_pass(c, &c->fwd, "forward", x, w, y, 0, c->bias ? (void *)b : NULL, ws, &L, ready);
}

int nnc_dnnl_conv_has_x_slot(const nnc_dnnl_conv *c, int which) {
    if (!c || !c->ok || (c->blocked & NNC_DNNL_CONV_X_BLOCKED) || (which != 0 && which != 2) || (which == 2 && !c->training)) return 0;
    const pass *ps = which == 0 ? &c->fwd : &c->bwd_weights;
    const dnnl_memory_desc_t *have = NULL;
    dnnl_memory_desc_t want;
    const nnc_conv_geom *g = &c->g;
    return !ps->e[0].same && ps->e[0].buf && dnnl_memory_get_memory_desc(ps->e[0].buf, &have) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&want, 4, (dnnl_dims_t){g->N, g->C, g->H, g->W}, dnnl_f32, dnnl_nChw16c) == dnnl_success &&
           dnnl_memory_desc_equal(have, &want);
}

float *nnc_dnnl_conv_x_slot(const nnc_dnnl_conv *c, void *ws) {
    return nnc_dnnl_conv_has_x_slot(c, 0) ? (float *)((char *)ws + forward_layout(c).buf[0]) : NULL;
}

static nnc_status backward(nnc_dnnl_conv *c, const float *x, void (*fill)(void *ctx, float *slot), void *ctx, const float *w,
                           const float *dy, float *dx, int acc_x, float *dw, int acc_w, float *db, int acc_b, void *ws) {
    if (!c->training) return nnc_error(NNC_ERR_STATE, "conv2d: oneDNN primitives were made for inference, not for backward");
    bwd_layout B = backward_layout(c, dx != NULL, acc_x, dw != NULL, acc_w);
    char *base = ws;
    void *ready[2] = {NULL, NULL};
    nnc_status s = NNC_OK;
    if (B.share) { /* diff_dst into the shared buffer, with backward-data's reorder */
        edge *e = &c->bwd_data.e[0];
        bind(e->user, dy, c->stream);
        bind(e->buf, base + B.dy, c->stream);
        dnnl_status_t st = reorder(&e->to_buf, c->stream, e->user, e->buf, ws);
        if (st != dnnl_success)
            return nnc_error(st == dnnl_out_of_memory ? NNC_ERR_OOM : NNC_ERR_UNSUPPORTED,
                             "conv2d: oneDNN reorder of the output gradient failed with status %d", (int)st);
        ready[0] = ready[1] = base + B.dy;
    }
    if (dx) s = run_pass(c, &c->bwd_data, "backward-data", dy, w, dx, acc_x, NULL, ws, &B.d, (void *const[2]){ready[0], NULL});
    if (s || !dw) return s;
    /* the bias gradient goes straight to db when it overwrites, else through the workspace */
    float *tmp = (float *)(base + B.w.bias), *bout = NULL;
    if (c->bias) bout = db && !acc_b ? db : tmp;
    float *slot = fill ? (float *)(base + B.w.buf[0]) : NULL;
    if (fill) fill(ctx, slot); /* after backward-data, whose buffers may overlap the slot */
    s = run_pass(c, &c->bwd_weights, "backward-weights", x, dy, dw, acc_w, bout, ws, &B.w, (void *const[2]){slot, ready[1]});
    if (!s && db && acc_b && c->bias)
        for (int64_t k = 0; k < c->g.K; k++) db[k] += tmp[k];
    return s;
}

nnc_status nnc_dnnl_conv_backward(nnc_dnnl_conv *c, const float *x, const float *w, const float *dy, float *dx, int acc_x,
                                  float *dw, int acc_w, float *db, int acc_b, void *ws) {
    return backward(c, x, NULL, NULL, w, dy, dx, acc_x, dw, acc_w, db, acc_b, ws);
}

nnc_status nnc_dnnl_conv_backward_fill(nnc_dnnl_conv *c, void (*fill)(void *ctx, float *slot), void *ctx, const float *w,
                                       const float *dy, float *dx, int acc_x, float *dw, int acc_w, float *db, int acc_b, void *ws) {
    if (!dw || !nnc_dnnl_conv_has_x_slot(c, 2))
        return nnc_error(NNC_ERR_STATE, "conv2d: backward with the input written into oneDNN's slot needs the weight gradient and a slot");
    return backward(c, NULL, fill, ctx, w, dy, dx, acc_x, dw, acc_w, db, acc_b, ws);
}
