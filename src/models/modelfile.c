/* modelfile.c -- the text model format: Darknet's .cfg dialect, read into a
 * model graph (nnc_model_from_cfg; nnc_model_build("path/net.cfg") calls it)
 * and written back (nnc_model_write_cfg, `nnc export-cfg`).
 *
 * File: sections "[type]" each followed by "key=value" lines. Whitespace is
 * ignored (Darknet strips it), CRLF endings are accepted, lines starting
 * with '#' or ';' are comments and so is anything after a '#'. The first
 * section must be [net]. Layers are numbered from 0 after [net] (Darknet's
 * indices); references (route's layers=, shortcut's from=) are relative
 * when negative, absolute otherwise, or the name= of an earlier section.
 *
 * Sections (Darknet semantics and defaults unless noted):
 *   [net]            width, height, channels (required > 0); training options
 *                    batch, subdivisions, learning_rate, momentum, decay, policy
 *                    (constant, steps, step, poly, exp, sigmoid, random, sgdr),
 *                    steps, scales, step, gamma, power, max_batches, burn_in,
 *                    adam (0) with B1 (.9), B2 (.999), eps (1e-7), returned in
 *                    nnc_cfg_net with a mask (set) of the keys present; the
 *                    model ignores them, `nnc train` applies the present ones
 *                    (tools/nnc/cfg_recipe.c); augmentation keys (angle,
 *                    saturation, exposure, hue, aspect, jitter, flip, ...) are
 *                    accepted and ignored with one note.
 *   [convolutional]  filters (1), size (1), stride (1) / stride_x, stride_y,
 *                    pad (0; 1 means size/2), padding (explicit, overrides pad),
 *                    groups (1), dilation (1), batch_normalize (0: then the
 *                    conv has no bias and a batch norm follows), activation.
 *   [connected]      output (1), activation, batch_normalize. A spatial input
 *                    is read flattened (nnc_linear flattens it: no reshape).
 *   [maxpool]        size (stride), stride (1), padding (size-1, total): the
 *                    output is (H + padding - size)/stride + 1 with the window
 *                    starting at -padding/2, exactly Darknet. nnc's maxpool2d
 *                    pads symmetrically: an even padding maps exactly; an odd
 *                    one maps exactly through ceil_mode where that gives
 *                    Darknet's size (every stride-2 pooling); the other cases
 *                    (e.g. size=2 stride=1) are refused as unsupported.
 *   [avgpool]        global average pooling.
 *   [dropout]        probability (0.5).
 *   [softmax], [cost] mark the end: the logits are the layer before. The
 *                    loss is softmax cross-entropy over the labels unless
 *                    [cost] says otherwise (nnc's reading of Darknet's type=):
 *                    type=sse target=input is the MSE reconstruction of the
 *                    input (the output, C*H*W values, is reshaped to [C,H,W];
 *                    the model has 0 classes, as the zoo's autoencoders);
 *                    type=map (j=1) is LeNet-1998's MAP criterion over the
 *                    penalties of the [rbf] right before. target= is labels
 *                    (default) or input. groups, temperature, scale and any
 *                    other type are accepted and ignored.
 *   [lstm], [gru], [rnn] nnc_rnn_layer: torch.nn.LSTM/GRU/RNN, batch-first.
 *                    output (1; Darknet's name for the hidden units), layers
 *                    (1), bidirectional (0; outputs concatenated, 2*output),
 *                    dropout (0; between layers), bias (1), activation ([rnn]
 *                    only: tanh (default) or relu), pool (none: the sequence
 *                    [T, output] goes on; last, first, mean, max: nnc_seq_pool
 *                    over time, many-to-one). The input sequence: an image
 *                    [C,H,W] is read as H steps of C*W features (a plain
 *                    reshape, as the zoo's seqmnist), a vector [F] as one
 *                    step, a sequence as it is. Darknet's [rnn] is another
 *                    construct (three connected layers per step, logistic by
 *                    default, with hidden= and batch_normalize=); its keys that
 *                    map (output, activation) are read, the others (hidden,
 *                    batch_normalize, shortcut, ...) warn (fail when strict),
 *                    and so does an activation other than tanh/relu (Darknet's
 *                    rnn.cfg has leaky: tanh cells are used), so Darknet's
 *                    cfg/rnn.cfg loads. Darknet's [lstm]/[gru] keys other than
 *                    output likewise.
 *   [route]          layers= list; concat along channels (one: identity).
 *   [shortcut]       from=, activation (linear): out = prev + from. A `from`
 *                    larger by an integer stride s is sampled every s pixels
 *                    (Darknet's shortcut; a 1x1 max pooling with stride s
 *                    here); a smaller one is refused. When channels differ Darknet adds the
 *                    overlapping channels: a smaller `from` is zero-padded (a
 *                    1x1 conv with a zero weight *state* makes the zeros); a
 *                    larger `from` is refused as unsupported.
 *   [batchnorm]      batch norm (eps 1e-5, PyTorch momentum 0.1).
 *   [normalization]  LRN as Darknet: x / (kappa + alpha sum x^2)^beta over
 *                    size channels (alpha .0001, beta .75, kappa 1, size 5).
 *   [local]          locally connected: filters, size, stride, pad (1: size/2),
 *                    activation.
 *   [crop]           crop_height, crop_width: only as the first layer, where it
 *                    sets the network's input size (Darknet crops the [net]
 *                    size image at random when training, at the centre when
 *                    testing; nnc's data pipeline does the cropping or padding,
 *                    and flip/angle/saturation/exposure are ignored with a note).
 *   Extensions: [convolutional]/[connected] bias=0|1 (default: no bias with
 *   batch_normalize) and bn_name= (the batch norm's scope);
 *   [convolutional]/[connected]/[conv_table] init=default|lecun98 (LeCun 1998
 *   appendix A: weights and biases U(+-2.4/F), F the unit's fan-in; for a
 *   table the mean over its output maps); [maxpool]
 *   ceil_mode=1 (PyTorch's, with an even padding); [avgpool] size= (then a
 *   windowed average pool: stride, padding (total, even), ceil_mode,
 *   count_include_pad [1]); [flatten]; [lrn] (PyTorch LocalResponseNorm: size, alpha, beta, k),
 *   [groupnorm] (groups, eps), [layernorm] (eps; over C,H,W),
 *   [subsampling] (size; LeNet's trainable average pool; activation linear),
 *   [conv_table] (filters, size, table=lenet5|full, activation linear),
 *   [rbf] (output, prototypes=zeros|lenet5: fixed, a state; lenet5 is the
 *   7x12 digit bitmaps of lenet5-1998, 84 inputs and at most 10 outputs; the
 *   section's output is minus the penalties, so the nearest prototype is the
 *   predicted class), [activation] (activation= alone), and name= on any
 *   section.
 *
 * Activations: logistic (the default), relu, relu6, leaky (slope 0.1),
 * linear, tanh, elu, selu, softplus, hardtan (clamp to [-1,1]), softsign, ramp
 * (Darknet's x>0 ? 1.1x : 0.1x, as 1.1 leaky(x, 1/11) with the 1.1 in a state
 * "<scope>.ramp_scale"); nnc's rrelu, prelu and scaled_tanh (LeCun 1998's
 * 1.7159 tanh(2x/3)).
 *
 * Parameter names: "<scope>.weight", "<scope>.bias" where the scope is the
 * section's name= or "<index>_<kind>" with kind conv, fc, local, bn, gn, ln,
 * sub, table, rbf, lstm, gru, rnn (recurrent: torch's "<scope>.weight_ih_l0",
 * ..., "_reverse"); the batch norm of a batch_normalize=1 section is
 * "<scope>_bn" ("0_conv.weight", "0_bn.running_mean" for an unnamed first
 * section; "conv1.weight", "conv1_bn.weight" for name=conv1).
 *
 * Errors: NNC_ERR_IO for a file that cannot be read; NNC_ERR_FORMAT with
 * "file:line: what was expected" for everything else (unknown section,
 * missing [net], a key outside a section, a bad or out-of-range value, a
 * reference to a layer that does not exist, binary data, a truncated
 * section header); NNC_ERR_UNSUPPORTED for Darknet sections nnc lacks.
 * Unknown keys warn (the callback, or stderr) and fail when strict.
 *
 * The writer prints every key explicitly (canonical form) from the resolved
 * layers (max_batches only when > 0: 0 leaves the epochs to nnc train); a
 * zoo model's [net] is its nnc train recipe (net_recipe), so parse -> write -> parse gives the identical graph. Zoo models:
 * lenet5 and mlp are written as Darknet sections (and a [flatten] before the
 * first [connected], as the zoo has); any other model, or a built one given
 * to nnc_cfg_write_model, is written by walking its graph (graph_desc: conv2d [+ batchnorm] [+ activation]
 * -> [convolutional], linear -> [connected], add -> [shortcut], concat ->
 * [route], pools, dropout, flatten, LRN, standalone batch norms and
 * activations, avgpool + channel_affine -> [subsampling], conv2d_table ->
 * [conv_table], rbf + negation -> [rbf], the rnn/concat/dropout nodes of an
 * nnc_rnn_layer [+ seq_pool] -> [lstm]/[gru]/[rnn], the loss -> [softmax] or
 * [cost]), with [route] inserted where a layer does not read the previous
 * one; the reshapes a recurrent section or target=input imply are dropped.
 * Parameter scopes become name=/bn_name=, so the rebuilt graph has the same
 * ops, shapes and parameter names as the zoo's (weights files load into
 * either, and give the same outputs). Every zoo model is written. Ops
 * without a section (another reshape, a concat along an axis other than
 * channels, an rnn with lengths or initial states, ...) are refused with
 * NNC_ERR_UNSUPPORTED naming the op. Initializers are not written, except
 * init=lecun98 where the graph has it (lenet5-1998: the same seed then draws
 * the same initial weights); the zoo's other custom initializers (Kaiming,
 * normal) become the layers' defaults. */
#include "nnc.h"
#include "core/graph.h"
#include "ops/op.h"
#include "models/zoo.h"
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ file parser */
typedef struct kv { char *key, *val; int line, used; } kv;
typedef struct sec { char *type; int line; kv *kv; int n_kv, cap; } sec;
typedef struct cfgfile { const char *path, *base; char *buf; sec *s; int n, cap; } cfgfile;

static void cfgfile_free(cfgfile *f) {
    for (int i = 0; i < f->n; i++) free(f->s[i].kv);
    free(f->s);
    free(f->buf);
}

static nnc_status ferr(const cfgfile *f, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static nnc_status ferr(const cfgfile *f, int line, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return nnc_error(NNC_ERR_FORMAT, "%s:%d: %s", f->path, line, msg);
}

/* Parses f->buf (n bytes, NUL-terminated copy) in place. */
static nnc_status cfg_parse(cfgfile *f, size_t n) {
    int line = 1;
    for (size_t i = 0; i < n; i++) {
        if (f->buf[i] == 0) return ferr(f, line, "binary data (a NUL byte): expected a text model file");
        if (f->buf[i] == '\n') line++;
    }
    char *p = f->buf;
    line = 0;
    while (*p) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        line++;
        char orig[72];
        snprintf(orig, sizeof orig, "%s", p);
        for (char *c = orig; *c; c++)
            if (*c == '\r' || *c == '\t') *c = ' ';
        /* strip comments after '#', then every whitespace character */
        char *h = strchr(p, '#');
        if (h) *h = 0;
        char *w = p;
        for (char *r = p; *r; r++)
            if (!isspace((unsigned char)*r)) *w++ = *r;
        *w = 0;
        if (*p && *p != ';') {
            if (*p == '[') {
                size_t len = strlen(p);
                if (p[len - 1] != ']' || len < 3)
                    return ferr(f, line, "section header '%s' is truncated: expected '[name]'", orig);
                p[len - 1] = 0;
                for (char *c = p + 1; *c; c++) {
                    if (!isalnum((unsigned char)*c) && *c != '_')
                        return ferr(f, line, "bad section name '%s': expected letters, digits or '_'", p + 1);
                    *c = (char)tolower((unsigned char)*c);
                }
                if (f->n == f->cap) {
                    int cap = f->cap ? 2 * f->cap : 16;
                    sec *ns = realloc(f->s, (size_t)cap * sizeof *ns);
                    if (!ns) return nnc_error(NNC_ERR_OOM, "out of memory");
                    f->s = ns;
                    f->cap = cap;
                }
                f->s[f->n++] = (sec){p + 1, line, NULL, 0, 0};
            } else {
                char *eq = strchr(p, '=');
                if (!f->n) return ferr(f, line, "'%s' before any section: expected a section header, [net] first", orig);
                if (!eq || eq == p) return ferr(f, line, "'%s': expected key=value", orig);
                if (!eq[1]) return ferr(f, line, "key '%.*s' has no value: expected key=value", (int)(eq - p), p);
                *eq = 0;
                for (char *c = p; *c; c++) *c = (char)tolower((unsigned char)*c);
                sec *s = &f->s[f->n - 1];
                for (int k = 0; k < s->n_kv; k++)
                    if (!strcmp(s->kv[k].key, p))
                        return ferr(f, line, "duplicate key '%s' in [%s] (first at line %d)", p, s->type, s->kv[k].line);
                if (s->n_kv == s->cap) {
                    int cap = s->cap ? 2 * s->cap : 8;
                    kv *nk = realloc(s->kv, (size_t)cap * sizeof *nk);
                    if (!nk) return nnc_error(NNC_ERR_OOM, "out of memory");
                    s->kv = nk;
                    s->cap = cap;
                }
                s->kv[s->n_kv++] = (kv){p, eq + 1, line, 0};
            }
        }
        if (!nl) break;
        p = nl + 1;
    }
    if (!f->n) return ferr(f, line ? line : 1, "no sections: expected [net] first");
    if (strcmp(f->s[0].type, "net") && strcmp(f->s[0].type, "network"))
        return ferr(f, f->s[0].line, "[%s] comes first: expected [net] first", f->s[0].type);
    return NNC_OK;
}

static kv *find(sec *s, const char *key) {
    for (int i = 0; i < s->n_kv; i++)
        if (!strcmp(s->kv[i].key, key)) { s->kv[i].used = 1; return &s->kv[i]; }
    return NULL;
}

/* Integer in [lo, hi]; *ok cleared (with the error set) on a bad value. */
static int get_int(const cfgfile *f, sec *s, const char *key, int def, int lo, int hi, nnc_status *st) {
    kv *k = find(s, key);
    if (!k || *st) return def;
    char *e;
    long v = strtol(k->val, &e, 10);
    if (*e || e == k->val) { *st = ferr(f, k->line, "%s=%s: expected an integer", key, k->val); return def; }
    if (v < lo || v > hi) { *st = ferr(f, k->line, "%s=%ld is out of range: expected %d..%d", key, v, lo, hi); return def; }
    return (int)v;
}

static float get_float(const cfgfile *f, sec *s, const char *key, float def, double lo, double hi, nnc_status *st) {
    kv *k = find(s, key);
    if (!k || *st) return def;
    char *e;
    double v = strtod(k->val, &e);
    if (*e || e == k->val) { *st = ferr(f, k->line, "%s=%s: expected a number", key, k->val); return def; }
    if (!(v >= lo && v <= hi)) { *st = ferr(f, k->line, "%s=%s is out of range: expected %g..%g", key, k->val, lo, hi); return def; }
    return (float)v;
}

/* ---------------------------------------------------------- resolved layers */
enum { L_CONV, L_FC, L_MAXPOOL, L_AVGPOOL, L_DROPOUT, L_SOFTMAX, L_COST, L_ROUTE, L_SHORTCUT, L_BN, L_NORMALIZATION,
       L_LRN, L_LOCAL, L_GN, L_LN, L_SUB, L_TABLE, L_RBF, L_ACT, L_CROP, L_FLATTEN, L_LSTM, L_GRU, L_RNN, L_COUNT };
static const char *const sec_names[L_COUNT] = {"convolutional", "connected", "maxpool", "avgpool", "dropout", "softmax",
                                               "cost", "route", "shortcut", "batchnorm", "normalization", "lrn", "local",
                                               "groupnorm", "layernorm", "subsampling", "conv_table", "rbf", "activation", "crop", "flatten",
                                               "lstm", "gru", "rnn"};
static const char *const scope_kind[L_COUNT] = {"conv", "fc", NULL, NULL, NULL, NULL, NULL, NULL, "shortcut", "bn", NULL,
                                                NULL, "local", "gn", "ln", "sub", "table", "rbf", "act", NULL, NULL,
                                                "lstm", "gru", "rnn"};
/* Darknet sections nnc cannot build. */
static const char *const darknet_unsupported[] = {"crnn", "conv_lstm", "history",
                                                  "deconvolutional", "deconv", "yolo", "region", "detection", "reorg",
                                                  "reorg3d", "upsample", "sam", "scale_channels", "gaussian_yolo",
                                                  "iseg", "l2norm", "logistic", "contrastive", "implicit_add",
                                                  "implicit_mul", "empty", "silence", "dropblock", NULL};

enum { A_LOGISTIC, A_RELU, A_RELU6, A_LEAKY, A_LINEAR, A_TANH, A_ELU, A_SELU, A_SOFTPLUS, A_HARDTAN, A_SOFTSIGN, A_RAMP, A_RRELU, A_PRELU,
       A_STANH, A_COUNT };
static const char *const act_names[A_COUNT] = {"logistic", "relu", "relu6", "leaky", "linear", "tanh",
                                               "elu", "selu", "softplus", "hardtan", "softsign", "ramp",
                                               "rrelu", "prelu", "scaled_tanh"};

#define MAX_REFS 16
/* recurrent pool= (P_NONE keeps the sequence; the others are nnc_seq_pool's modes + 1) */
enum { P_NONE, P_LAST, P_FIRST, P_MEAN, P_MAX, P_COUNT };
static const char *const pool_names[P_COUNT] = {"none", "last", "first", "mean", "max"};
/* the model's loss: softmax cross-entropy over labels, MSE reconstruction of
 * the input ([cost] type=sse target=input), LeNet-1998's MAP criterion */
enum { LOSS_CE, LOSS_MSE_INPUT, LOSS_MAP };
typedef struct layer {
    int type, line;
    char name[96];
    int filters, size, stride[2], padding, groups, dilation, bn, act;
    float p, alpha, beta, kappa, eps;
    int refs[MAX_REFS], n_refs; /* absolute layer indices */
    char table[16];
    int bias;             /* conv/connected: -1 = default (!bn) */
    char bn_name[96];     /* conv/connected: scope of the batch norm ("" = "<scope>_bn") */
    int ceil_mode, count_include_pad, avg_sized; /* pooling extensions */
    int layers, bidir, pool; /* recurrent: stacked layers, 2 directions, pool (P_*); p = dropout; filters = output */
    int protos;              /* rbf: prototypes, 0 zeros, 1 lenet5 */
    int init98;              /* conv/connected/conv_table: init=lecun98 */
} layer;

typedef struct desc {
    int c, h, w;
    int loss, loss_line; /* LOSS_*, and the [cost] line that chose it (0: none) */
    float loss_j;        /* LOSS_MAP's constant j */
    nnc_cfg_net net;
    layer *l;
    int n, cap;
} desc;

static layer *desc_add(desc *d, int type) {
    if (d->n == d->cap) {
        int cap = d->cap ? 2 * d->cap : 16;
        layer *nl = realloc(d->l, (size_t)cap * sizeof *nl);
        if (!nl) return NULL;
        d->l = nl;
        d->cap = cap;
    }
    layer *l = &d->l[d->n++];
    memset(l, 0, sizeof *l);
    l->type = type;
    l->size = 1;
    l->stride[0] = l->stride[1] = 1;
    l->groups = l->dilation = 1;
    l->act = A_LINEAR;
    l->bias = -1;
    return l;
}

static int get_act(const cfgfile *f, sec *s, int def, nnc_status *st) {
    kv *k = find(s, "activation");
    if (!k || *st) return def;
    for (int i = 0; i < A_COUNT; i++)
        if (!strcmp(k->val, act_names[i])) return i;
    char list[256] = "";
    for (int i = 0; i < A_COUNT; i++) {
        strcat(list, i ? ", " : "");
        strcat(list, act_names[i]);
    }
    *st = ferr(f, k->line, "activation=%s is unknown: expected one of %s", k->val, list);
    return def;
}

/* A reference: a (relative if negative) index or the name of an earlier layer. */
static int resolve_ref(const cfgfile *f, const desc *d, int self, const char *tok, int line, nnc_status *st) {
    char *e;
    long v = strtol(tok, &e, 10);
    if (*tok && !*e) {
        long a = v < 0 ? self + v : v;
        if (a < 0 || a >= self) {
            *st = ferr(f, line, "reference %s from layer %d: expected an earlier layer (0..%d or -1..-%d)", tok, self,
                       self - 1, self);
            return -1;
        }
        return (int)a;
    }
    for (int i = self - 1; i >= 0; i--)
        if (d->l[i].name[0] && !strcmp(d->l[i].name, tok)) return i;
    *st = ferr(f, line, "reference '%s': expected the index or name= of an earlier layer", tok);
    return -1;
}

static const char *const net_keys[] = {"batch", "subdivisions", "learning_rate", "momentum", "decay", "policy",
                                       "steps", "scales", "step", "gamma", "power", "max_batches", "burn_in",
                                       "adam", "b1", "b2", "eps", "width", "height", "channels", "inputs", "name", NULL};
static const char *const aug_keys[] = {"angle", "saturation", "exposure", "hue", "aspect", "jitter", "flip",
                                       "min_crop", "max_crop", "mosaic", "mixup", "cutmix", "blur",
                                       "time_steps", "max_chart_loss", "letter_box",
                                       "label_smooth_eps", "random", "seed", NULL};

static nnc_status parse_net(const cfgfile *f, sec *s, desc *d, void (*warn)(const char *, void *), void *user) {
    nnc_status st = NNC_OK;
    nnc_cfg_net *n = &d->net;
    memset(n, 0, sizeof *n);
    n->batch = get_int(f, s, "batch", 1, 1, 1 << 20, &st);
    n->subdivisions = get_int(f, s, "subdivisions", 1, 1, 1 << 20, &st);
    n->learning_rate = get_float(f, s, "learning_rate", 0.001f, 0, 1e3, &st);
    n->momentum = get_float(f, s, "momentum", 0.9f, 0, 1, &st);
    n->decay = get_float(f, s, "decay", 0.0001f, 0, 1, &st);
    n->max_batches = get_int(f, s, "max_batches", 0, 0, 1 << 30, &st);
    n->burn_in = get_int(f, s, "burn_in", 0, 0, 1 << 30, &st);
    n->step = get_int(f, s, "step", 1, 1, 1 << 30, &st);
    n->gamma = get_float(f, s, "gamma", 1, 0, 1e3, &st);
    n->power = get_float(f, s, "power", 4, 0, 1e3, &st);
    n->adam = get_int(f, s, "adam", 0, 0, 1, &st);
    n->b1 = get_float(f, s, "b1", 0.9f, 0, 0.999999, &st);
    n->b2 = get_float(f, s, "b2", 0.999f, 0, 0.999999, &st);
    n->eps = get_float(f, s, "eps", 1e-7f, 1e-30, 1, &st);
    static const struct { const char *key; unsigned bit; } present[] = {
        {"batch", NNC_CFG_NET_BATCH}, {"subdivisions", NNC_CFG_NET_SUBDIVISIONS}, {"learning_rate", NNC_CFG_NET_LR},
        {"momentum", NNC_CFG_NET_MOMENTUM}, {"decay", NNC_CFG_NET_DECAY}, {"policy", NNC_CFG_NET_POLICY},
        {"max_batches", NNC_CFG_NET_MAX_BATCHES}, {"burn_in", NNC_CFG_NET_BURN_IN}, {"adam", NNC_CFG_NET_ADAM}};
    for (size_t i = 0; i < sizeof present / sizeof present[0]; i++)
        if (find(s, present[i].key)) n->set |= present[i].bit;
    snprintf(n->policy, sizeof n->policy, "constant");
    kv *k = find(s, "policy");
    if (k && !st) {
        static const char *const pol[] = {"constant", "steps", "step", "poly", "exp", "sigmoid", "random", "sgdr", NULL};
        int ok = 0;
        for (int i = 0; pol[i]; i++) ok |= !strcmp(pol[i], k->val);
        if (!ok) st = ferr(f, k->line, "policy=%s is unknown: expected constant, steps, step, poly, exp, sigmoid, random or sgdr", k->val);
        else snprintf(n->policy, sizeof n->policy, "%s", k->val);
    }
    const char *lists[2] = {"steps", "scales"};
    for (int li = 0; li < 2 && !st; li++) {
        kv *lk = find(s, lists[li]);
        if (!lk) continue;
        int cnt = 0;
        char *p = lk->val;
        while (*p && !st) {
            char *e;
            double v = strtod(p, &e);
            if (e == p || (*e && *e != ',')) { st = ferr(f, lk->line, "%s=%s: expected comma-separated numbers", lists[li], lk->val); break; }
            if (cnt == 8) { st = ferr(f, lk->line, "%s: more than 8 values", lists[li]); break; }
            /* range first: converting an out-of-range double is undefined */
            if (li == 0 && !(v >= -1 && v <= INT_MAX && v == (double)(long long)v)) {
                st = ferr(f, lk->line, "steps value %d ('%.*s') is not a batch number: expected an integer in -1..%d", cnt + 1,
                          (int)(e - p), p, INT_MAX);
                break;
            }
            if (li == 1 && !(v >= 0 && v <= 1e6)) {
                st = ferr(f, lk->line, "scales value %d ('%.*s') is out of range: expected 0..1e6", cnt + 1, (int)(e - p), p);
                break;
            }
            if (li == 0) n->steps[cnt] = (int)v; else n->scales[cnt] = (float)v;
            cnt++;
            p = *e ? e + 1 : e;
        }
        if (li == 0) n->n_steps = cnt;
        else if (!st && cnt != n->n_steps) st = ferr(f, lk->line, "scales has %d values: expected one per step (%d)", cnt, n->n_steps);
    }
    int inputs = get_int(f, s, "inputs", 0, 0, 1 << 28, &st);
    d->w = get_int(f, s, "width", 0, 0, 65536, &st);
    d->h = get_int(f, s, "height", 0, 0, 65536, &st);
    d->c = get_int(f, s, "channels", 0, 0, 65536, &st);
    if (st) return st;
    if (!d->w && !d->h && !d->c && inputs) { d->c = inputs; d->h = d->w = 1; }
    if (d->w <= 0 || d->h <= 0 || d->c <= 0)
        return ferr(f, s->line, "[net] needs width, height and channels > 0 (or inputs=)");
    int noted = 0;
    for (int i = 0; i < s->n_kv; i++)
        for (int a = 0; aug_keys[a]; a++)
            if (!strcmp(s->kv[i].key, aug_keys[a])) {
                s->kv[i].used = 1;
                if (!noted++ && warn) {
                    char msg[300];
                    snprintf(msg, sizeof msg, "%s:%d: note: augmentation/solver key '%s' in [net] is ignored (nnc train has its own flags)",
                             f->path, s->kv[i].line, s->kv[i].key);
                    warn(msg, user);
                }
            }
    find(s, "name");
    return NNC_OK;
}

static void warn_stderr(const char *msg, void *user) {
    (void)user;
    fprintf(stderr, "%s\n", msg);
}

/* The writer passes on warnings but not notes. */
static void warn_no_notes(const char *msg, void *user) {
    if (!strstr(msg, ": note: ")) warn_stderr(msg, user);
}

/* Reads the file into a NUL-terminated buffer (*n bytes before the NUL). */
static nnc_status cfg_load(const char *path, char **out, size_t *n_out) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return nnc_error(NNC_ERR_IO, "%s: cannot open the model file", path);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, fp);
        n += r;
        if (n < cap) break;
        if (cap > (64u << 20)) { fclose(fp); free(buf); return nnc_error(NNC_ERR_FORMAT, "%s:1: over 64 MiB: expected a text model file", path); }
        cap *= 2;
        char *nb = realloc(buf, cap + 1);
        if (!nb) { free(buf); buf = NULL; break; }
        buf = nb;
    }
    int rerr = ferror(fp);
    fclose(fp);
    if (!buf) return nnc_error(NNC_ERR_OOM, "out of memory");
    if (rerr) { free(buf); return nnc_error(NNC_ERR_IO, "%s: read error", path); }
    buf[n] = 0;
    *out = buf;
    *n_out = n;
    return NNC_OK;
}

/* [cost] (nnc's reading; Darknet's type= is otherwise ignored): the default
 * target=labels is the classifier's softmax cross-entropy; type=sse with
 * target=input is the MSE reconstruction of the input (autoencoders);
 * type=map is LeNet-1998's MAP criterion over the [rbf] penalties (j=). */
static nnc_status parse_cost(const cfgfile *f, sec *s, desc *d) {
    nnc_status st = NNC_OK;
    kv *t = find(s, "type"), *tg = find(s, "target");
    get_float(f, s, "scale", 1, 0, 1e6, &st);
    if (st) return st;
    if (tg && strcmp(tg->val, "labels") && strcmp(tg->val, "input"))
        return ferr(f, tg->line, "target=%s: expected labels or input", tg->val);
    int input = tg && !strcmp(tg->val, "input");
    d->loss = LOSS_CE;
    d->loss_j = 1;
    if (t && !strcmp(t->val, "map")) {
        if (input) return ferr(f, tg->line, "type=map compares penalties with the labels: expected target=labels");
        d->loss = LOSS_MAP;
        d->loss_j = get_float(f, s, "j", 1, 1e-6, 1e6, &st);
    } else if (input) {
        if (t && strcmp(t->val, "sse")) return ferr(f, t->line, "type=%s with target=input: expected type=sse (MSE reconstruction)", t->val);
        d->loss = LOSS_MSE_INPUT;
    }
    d->loss_line = s->line;
    return st;
}

/* init=default|lecun98 (nnc extension) on [convolutional], [connected],
 * [conv_table]: lecun98 draws weights and biases from U(+-2.4/F), F the
 * unit's fan-in (LeCun et al. 1998, appendix A; the zoo's lenet5-1998). */
static nnc_status parse_init(const cfgfile *f, sec *s, layer *l) {
    kv *k = find(s, "init");
    if (!k) return NNC_OK;
    if (!strcmp(k->val, "lecun98")) l->init98 = 1;
    else if (strcmp(k->val, "default")) return ferr(f, k->line, "init=%s: expected default or lecun98", k->val);
    return NNC_OK;
}

/* [rbf] prototypes=zeros|lenet5 (nnc extension). */
static nnc_status parse_rbf(const cfgfile *f, sec *s, layer *l) {
    nnc_status st = NNC_OK;
    l->filters = get_int(f, s, "output", 10, 1, 1 << 20, &st);
    kv *k = find(s, "prototypes");
    if (!st && k) {
        if (!strcmp(k->val, "lenet5")) l->protos = 1;
        else if (strcmp(k->val, "zeros")) st = ferr(f, k->line, "prototypes=%s: expected zeros or lenet5", k->val);
    }
    return st;
}

/* [lstm], [gru], [rnn]: nnc_rnn_layer (torch.nn.LSTM/GRU/RNN, batch-first).
 * Darknet's keys without an equivalent warn (fail when strict). */
static nnc_status parse_recurrent(const cfgfile *f, sec *s, layer *l, int strict, void (*warn)(const char *, void *),
                                  void *user) {
    nnc_status st = NNC_OK;
    l->filters = get_int(f, s, "output", 1, 1, 65536, &st); /* as seqmnist's hidden= */
    l->layers = get_int(f, s, "layers", 1, 1, 64, &st);
    l->bidir = get_int(f, s, "bidirectional", 0, 0, 1, &st);
    l->p = get_float(f, s, "dropout", 0, 0, 0.999, &st);
    l->bias = get_int(f, s, "bias", 1, 0, 1, &st);
    l->act = A_TANH;
    if (l->type == L_RNN) {
        kv *a = find(s, "activation");
        l->act = get_act(f, s, A_TANH, &st);
        if (!st && l->act != A_TANH && l->act != A_RELU) { /* a Darknet activation torch.nn.RNN lacks (its rnn.cfg: leaky) */
            char msg[300];
            snprintf(msg, sizeof msg, "%s:%d: activation=%s in [rnn]: nnc's [rnn] (torch.nn.RNN) has tanh or relu cells%s", f->path,
                     a->line, a->val, strict ? "" : "; using tanh");
            l->act = A_TANH;
            if (strict) st = nnc_error(NNC_ERR_FORMAT, "%s (strict)", msg);
            else if (warn) warn(msg, user);
        }
    }
    kv *pk = find(s, "pool");
    l->pool = P_NONE;
    if (pk && !st) {
        l->pool = -1;
        for (int i = 0; i < P_COUNT; i++)
            if (!strcmp(pk->val, pool_names[i])) l->pool = i;
        if (l->pool < 0) st = ferr(f, pk->line, "pool=%s: expected none, last, first, mean or max", pk->val);
    }
    static const char *const darknet_only[] = {"hidden", "batch_normalize", "shortcut", "logistic", "tanh", "xnor",
                                               "state_constrain", "peephole", "bottleneck", NULL};
    for (int i = 0; darknet_only[i] && !st; i++) {
        kv *k = find(s, darknet_only[i]);
        if (!k) continue;
        char msg[300];
        snprintf(msg, sizeof msg, "%s:%d: Darknet's key '%s' in [%s] has no equivalent in nnc's recurrent layer%s", f->path,
                 k->line, k->key, s->type, strict ? "" : " (ignored)");
        if (strict) st = nnc_error(NNC_ERR_FORMAT, "%s (strict)", msg);
        else if (warn) warn(msg, user);
    }
    return st;
}

/* Parses buf (n bytes plus a NUL, owned: freed here) into the resolved
 * description d (no graph yet); path names the text in messages. */
static nnc_status cfg_read(const char *path, char *buf, size_t n, const nnc_cfg_opts *co, desc *d) {
    memset(d, 0, sizeof *d);
    cfgfile f = {path, path, buf, NULL, 0, 0};
    void (*warn)(const char *, void *) = co && co->warn ? co->warn : warn_stderr;
    void *user = co ? co->user : NULL;
    int strict = co ? co->strict : 0;
    nnc_status st = cfg_parse(&f, n);
    if (!st) st = parse_net(&f, &f.s[0], d, warn, user);
    if (!st) {
        sec *s = &f.s[0];
        for (int i = 0; i < s->n_kv && !st; i++) {
            if (s->kv[i].used) continue;
            int known = 0;
            for (int k = 0; net_keys[k]; k++) known |= !strcmp(net_keys[k], s->kv[i].key);
            if (known) continue;
            char msg[300];
            snprintf(msg, sizeof msg, "%s:%d: unknown key '%s' in [net]%s", path, s->kv[i].line, s->kv[i].key, strict ? "" : " (ignored)");
            if (strict) st = nnc_error(NNC_ERR_FORMAT, "%s (strict)", msg);
            else warn(msg, user);
        }
    }
    for (int si = 1; si < f.n && !st; si++) {
        sec *s = &f.s[si];
        int type = -1;
        for (int t = 0; t < L_COUNT; t++)
            if (!strcmp(s->type, sec_names[t])) type = t;
        if (!strcmp(s->type, "conv")) type = L_CONV;
        if (!strcmp(s->type, "network") || !strcmp(s->type, "net")) { st = ferr(&f, s->line, "a second [net]: expected a layer section"); break; }
        if (type < 0) {
            for (int u = 0; darknet_unsupported[u]; u++)
                if (!strcmp(s->type, darknet_unsupported[u])) {
                    st = nnc_error(NNC_ERR_UNSUPPORTED, "%s:%d: Darknet's [%s] is not supported by nnc", path, s->line, s->type);
                    break;
                }
            if (!st) {
                char list[400] = "";
                for (int t = 0; t < L_COUNT; t++) { strcat(list, t ? ", " : ""); strcat(list, sec_names[t]); }
                st = ferr(&f, s->line, "unknown section [%s]: expected one of %s", s->type, list);
            }
            break;
        }
        layer *l = desc_add(d, type);
        if (!l) { st = nnc_error(NNC_ERR_OOM, "out of memory"); break; }
        int self = d->n - 1;
        l->line = s->line;
        kv *nk = find(s, "name");
        if (nk) {
            if (strlen(nk->val) >= sizeof l->name || isdigit((unsigned char)nk->val[0]) || nk->val[0] == '-') {
                st = ferr(&f, nk->line, "name=%s: expected a name not starting with a digit or '-', under 96 characters", nk->val);
                break;
            }
            for (int i = 0; i < self; i++)
                if (!strcmp(d->l[i].name, nk->val)) { st = ferr(&f, nk->line, "name=%s is already used by layer %d", nk->val, i); break; }
            snprintf(l->name, sizeof l->name, "%s", nk->val);
        }
        switch (type) {
        case L_CONV: case L_LOCAL: case L_TABLE: {
            l->filters = get_int(&f, s, "filters", 1, 1, 65536, &st);
            l->size = get_int(&f, s, "size", 1, 1, 1024, &st);
            int stride = get_int(&f, s, "stride", 1, 1, 1024, &st);
            l->stride[0] = get_int(&f, s, "stride_y", stride, 1, 1024, &st);
            l->stride[1] = get_int(&f, s, "stride_x", stride, 1, 1024, &st);
            int pad = get_int(&f, s, "pad", 0, 0, 1, &st);
            l->padding = get_int(&f, s, "padding", pad ? l->size / 2 : 0, 0, 1024, &st);
            if (type == L_CONV) {
                l->groups = get_int(&f, s, "groups", 1, 1, 65536, &st);
                l->dilation = get_int(&f, s, "dilation", 1, 1, 1024, &st);
                l->bn = get_int(&f, s, "batch_normalize", 0, 0, 1, &st);
                l->bias = get_int(&f, s, "bias", -1, 0, 1, &st);
                kv *bk = find(s, "bn_name");
                if (bk) snprintf(l->bn_name, sizeof l->bn_name, "%s", bk->val);
                if (!st && l->filters % l->groups)
                    st = ferr(&f, s->line, "filters=%d is not a multiple of groups=%d", l->filters, l->groups);
            }
            if (type == L_TABLE) {
                kv *t = find(s, "table");
                snprintf(l->table, sizeof l->table, "%s", t ? t->val : "full");
                if (!st && strcmp(l->table, "lenet5") && strcmp(l->table, "full"))
                    st = ferr(&f, t->line, "table=%s: expected lenet5 or full", t->val);
                if (!st && (l->stride[0] != 1 || l->stride[1] != 1 || l->padding))
                    st = ferr(&f, s->line, "[conv_table] has stride 1 and no padding");
            }
            l->act = get_act(&f, s, type == L_TABLE ? A_LINEAR : A_LOGISTIC, &st);
            if (type != L_LOCAL && !st) st = parse_init(&f, s, l);
            break;
        }
        case L_FC:
            l->filters = get_int(&f, s, "output", 1, 1, 1 << 24, &st);
            l->bn = get_int(&f, s, "batch_normalize", 0, 0, 1, &st);
            l->bias = get_int(&f, s, "bias", -1, 0, 1, &st);
            {
                kv *bk = find(s, "bn_name");
                if (bk) snprintf(l->bn_name, sizeof l->bn_name, "%s", bk->val);
            }
            l->act = get_act(&f, s, A_LOGISTIC, &st);
            if (!st) st = parse_init(&f, s, l);
            break;
        case L_MAXPOOL: {
            int stride = get_int(&f, s, "stride", 1, 1, 1024, &st);
            l->stride[0] = get_int(&f, s, "stride_y", stride, 1, 1024, &st);
            l->stride[1] = get_int(&f, s, "stride_x", stride, 1, 1024, &st);
            l->size = get_int(&f, s, "size", stride, 1, 1024, &st);
            l->padding = get_int(&f, s, "padding", l->size - 1, 0, 2048, &st);
            l->ceil_mode = get_int(&f, s, "ceil_mode", 0, 0, 1, &st);
            if (!st && l->ceil_mode && l->padding % 2)
                st = ferr(&f, s->line, "ceil_mode=1 needs an even padding (nnc extension)");
            break;
        }
        case L_AVGPOOL: /* nnc extension: with size=, a windowed average pooling */
            if (find(s, "size")) {
                l->avg_sized = 1;
                l->size = get_int(&f, s, "size", 1, 1, 1024, &st);
                int stride = get_int(&f, s, "stride", l->size, 1, 1024, &st);
                l->stride[0] = get_int(&f, s, "stride_y", stride, 1, 1024, &st);
                l->stride[1] = get_int(&f, s, "stride_x", stride, 1, 1024, &st);
                l->padding = get_int(&f, s, "padding", 0, 0, 2048, &st);
                l->ceil_mode = get_int(&f, s, "ceil_mode", 0, 0, 1, &st);
                l->count_include_pad = get_int(&f, s, "count_include_pad", 1, 0, 1, &st);
                if (!st && l->padding % 2) st = ferr(&f, s->line, "[avgpool] padding=%d: expected an even total padding", l->padding);
            }
            break;
        case L_DROPOUT:
            l->p = get_float(&f, s, "probability", 0.5f, 0, 0.999, &st);
            break;
        case L_SOFTMAX:
            get_int(&f, s, "groups", 1, 1, 1, &st);
            get_float(&f, s, "temperature", 1, 1, 1, &st);
            break;
        case L_COST: if (!st) st = parse_cost(&f, s, d); break;
        case L_LSTM: case L_GRU: case L_RNN: if (!st) st = parse_recurrent(&f, s, l, strict, warn, user); break;
        case L_ROUTE: case L_SHORTCUT: {
            kv *k = find(s, type == L_ROUTE ? "layers" : "from");
            if (!k) { st = ferr(&f, s->line, "[%s] needs %s=", s->type, type == L_ROUTE ? "layers" : "from"); break; }
            char buf[512];
            snprintf(buf, sizeof buf, "%s", k->val);
            for (char *tok = strtok(buf, ","); tok && !st; tok = strtok(NULL, ",")) {
                if (l->n_refs == (type == L_ROUTE ? MAX_REFS : 1)) { st = ferr(&f, k->line, "too many references (at most %d)", type == L_ROUTE ? MAX_REFS : 1); break; }
                l->refs[l->n_refs++] = resolve_ref(&f, d, self, tok, k->line, &st);
            }
            if (!st && !l->n_refs) st = ferr(&f, k->line, "expected at least one layer reference");
            if (type == L_ROUTE) get_int(&f, s, "groups", 1, 1, 1, &st);
            else {
                l->act = get_act(&f, s, A_LINEAR, &st);
                get_float(&f, s, "alpha", 1, 1, 1, &st);
                get_float(&f, s, "beta", 1, 1, 1, &st);
            }
            break;
        }
        case L_NORMALIZATION: case L_LRN:
            l->size = get_int(&f, s, "size", 5, 1, 1024, &st);
            l->alpha = get_float(&f, s, "alpha", 0.0001f, 0, 1e6, &st);
            l->beta = get_float(&f, s, "beta", 0.75f, 0, 1e3, &st);
            l->kappa = get_float(&f, s, type == L_LRN ? "k" : "kappa", type == L_LRN ? 1.0f : 1.0f, 0, 1e6, &st);
            break;
        case L_GN:
            l->groups = get_int(&f, s, "groups", 32, 1, 65536, &st);
            l->eps = get_float(&f, s, "eps", 1e-5f, 1e-12, 1, &st);
            break;
        case L_LN:
            l->eps = get_float(&f, s, "eps", 1e-5f, 1e-12, 1, &st);
            break;
        case L_SUB:
            l->size = get_int(&f, s, "size", 2, 1, 1024, &st);
            l->act = get_act(&f, s, A_LINEAR, &st);
            break;
        case L_RBF: if (!st) st = parse_rbf(&f, s, l); break;
        case L_CROP: {
            if (self != 0) {
                st = nnc_error(NNC_ERR_UNSUPPORTED, "%s:%d: [crop] after other layers is not supported: expected it first", path, s->line);
                break;
            }
            l->size = get_int(&f, s, "crop_height", 1, 1, 65536, &st);   /* crop height */
            l->filters = get_int(&f, s, "crop_width", 1, 1, 65536, &st); /* crop width */
            if (!st && (!find(s, "crop_height") || !find(s, "crop_width")))
                st = ferr(&f, s->line, "[crop] needs crop_height= and crop_width=");
            if (!st && (l->size > d->h || l->filters > d->w))
                st = ferr(&f, s->line, "crop %dx%d is larger than the [net] input %dx%d", l->size, l->filters, d->h, d->w);
            static const char *const aug[] = {"flip", "angle", "saturation", "exposure", "shift", "noadjust", NULL};
            for (int a = 0; aug[a]; a++) find(s, aug[a]);
            if (!st && warn) {
                char msg[300];
                snprintf(msg, sizeof msg, "%s:%d: note: [crop] makes the network's input %dx%d (nnc's data pipeline crops or pads; "
                         "the random crop, flip and colour options are ignored)", path, s->line, l->size, l->filters);
                warn(msg, user);
            }
            break;
        }
        case L_ACT:
            if (!find(s, "activation")) { st = ferr(&f, s->line, "[activation] needs activation="); break; }
            l->act = get_act(&f, s, A_LINEAR, &st);
            break;
        default: break;
        }
        /* common Darknet keys that change nothing here */
        find(s, "stopbackward");
        find(s, "dontload");
        find(s, "dontloadscales");
        for (int i = 0; i < s->n_kv && !st; i++) {
            if (s->kv[i].used) continue;
            char msg[300];
            snprintf(msg, sizeof msg, "%s:%d: unknown key '%s' in [%s]%s", path, s->kv[i].line, s->kv[i].key, s->type,
                     strict ? "" : " (ignored)");
            if (strict) st = nnc_error(NNC_ERR_FORMAT, "%s (strict)", msg);
            else warn(msg, user);
        }
    }
    if (!st && d->n == 0) st = ferr(&f, f.s[0].line, "no layer sections after [net]: expected at least one layer");
    cfgfile_free(&f);
    if (st) { free(d->l); d->l = NULL; d->n = 0; }
    return st;
}

/* ------------------------------------------------------------ graph build */
static void chw(const nnc_node *x, int64_t *c, int64_t *h, int64_t *w) {
    if (x->out.ndim == 4) { *c = x->out.shape[1]; *h = x->out.shape[2]; *w = x->out.shape[3]; }
    else { *c = nnc_static_features(x); *h = *w = 1; }
}

static nnc_node *spatial(nnc_graph *g, nnc_node *x) {
    if (x->out.ndim == 4) return x;
    int64_t shape[3] = {nnc_static_features(x), 1, 1};
    return nnc_reshape(g, x, 3, shape);
}

/* LeCun 1998's squashing f(a) = A tanh(S a) (appendix A), as the zoo's lenet5-1998 */
#define STANH_A 1.7159f
#define STANH_S (2.0f / 3.0f)
extern const float nnc_lenet5_1998_prototypes[10][84];

static nnc_node *apply_act_s(nnc_graph *g, nnc_node *x, int act, const char *scope) {
    if (act == A_RAMP) { /* Darknet's ramp: x (x > 0) + 0.1 x = 1.1 leaky(x, 1/11); the 1.1 is a state */
        char sn[160];
        snprintf(sn, sizeof sn, "%s.ramp_scale", scope);
        int64_t c = x->out.ndim >= 2 ? x->out.shape[1] : 1;
        nnc_node *sc = nnc_state(g, sn, NNC_F32, 1, &c, 1.1);
        return nnc_channel_affine(g, nnc_leaky_relu(g, x, 1.0f / 11.0f), sc, NULL);
    }
    switch (act) {
    case A_LOGISTIC: return nnc_sigmoid(g, x);
    case A_RELU: return nnc_relu(g, x);
    case A_RELU6: return nnc_hardtanh(g, x, 0, 6);
    case A_LEAKY: return nnc_leaky_relu(g, x, 0.1f);
    case A_TANH: return nnc_tanh(g, x);
    case A_ELU: return nnc_elu(g, x, 1);
    case A_SELU: return nnc_selu(g, x);
    case A_SOFTPLUS: return nnc_softplus(g, x, 1, 20);
    case A_HARDTAN: return nnc_hardtanh(g, x, -1, 1);
    case A_SOFTSIGN: return nnc_softsign(g, x);
    case A_RRELU: return nnc_rrelu(g, x, 1.0f / 8, 1.0f / 3); /* PyTorch's bounds */
    case A_STANH: return nnc_scaled_tanh(g, x, STANH_A, STANH_S);
    case A_PRELU: { /* one learned slope per channel, "<scope>.prelu.weight" */
        char sn[160];
        snprintf(sn, sizeof sn, "%s.prelu", scope);
        return nnc_prelu_layer(g, x, sn, x->out.ndim >= 2 ? x->out.shape[1] : 1);
    }
    default: return x;
    }
}
#define apply_act(g, x, act) apply_act_s(g, x, act, scope)

static int64_t pool_out_ceil(int64_t in, int k, int s, int p) {
    int64_t o = (in + 2 * p - k + s - 1) / s + 1;
    if ((o - 1) * s >= in + p) o--;
    return o;
}

/* init=lecun98: U(+-2.4/F) for "<scope>.weight" and "<scope>.bias" (as lenet5_1998.c). */
static nnc_init lecun98(double fan_in) {
    float b = (float)(2.4 / fan_in);
    return (nnc_init){.kind = NNC_INIT_UNIFORM, .a = -b, .b = b};
}

static void set_lecun98(nnc_graph *g, const char *scope, double fan_in) {
    static const char *const part[2] = {"weight", "bias"};
    for (int i = 0; i < 2; i++) {
        char pn[160];
        snprintf(pn, sizeof pn, "%s.%s", scope, part[i]);
        nnc_node *p = nnc_graph_find(g, pn);
        if (p) nnc_param_set_init(p, lecun98(fan_in));
    }
}

/* Whether w (and b, if any) have init=lecun98's initializer for fan_in. */
static int is_lecun98(const nnc_node *w, const nnc_node *b, double fan_in) {
    nnc_init i = lecun98(fan_in);
    for (int k = 0; k < 2; k++) {
        const nnc_node *p = k ? b : w;
        if (p && (p->init.kind != i.kind || p->init.a != i.a || p->init.b != i.b)) return 0;
    }
    return 1;
}

/* [rbf]: the penalties y_i = |x - w_i|^2 (node <scope>), logits = -y
 * (<scope>.logits): the nearest prototype is the predicted class. */
static nnc_node *rbf_build(nnc_graph *g, nnc_node *x, const layer *l, const char *scope, const char *path, nnc_status *st) {
    const float *proto = NULL;
    if (l->protos) {
        int64_t D = nnc_static_features(x);
        if (D != 84 || l->filters > 10) {
            if (D != 84)
                *st = nnc_error(NNC_ERR_FORMAT, "%s:%d: [rbf] prototypes=lenet5 are 7x12 bitmaps: expected 84 input features, got %lld",
                                path, l->line, (long long)D);
            else
                *st = nnc_error(NNC_ERR_FORMAT, "%s:%d: [rbf] prototypes=lenet5 are the 10 digits: expected output <= 10, got %d", path,
                                l->line, l->filters);
            return NULL;
        }
        proto = &nnc_lenet5_1998_prototypes[0][0];
    }
    nnc_node *y = nnc_rbf_layer(g, x, scope, l->filters, proto);
    nnc_node *logits = nnc_scalar_affine(g, y, -1.0f, 0.0f);
    char nm[160];
    snprintf(nm, sizeof nm, "%s.logits", scope);
    if (logits) nnc_node_set_name(logits, nm);
    return logits;
}

/* [lstm]/[gru]/[rnn]: an image [C,H,W] is read as H steps of C*W features
 * (a plain reshape, as the zoo's seqmnist), a vector [F] as one step. */
static nnc_node *recurrent_build(nnc_graph *g, nnc_node *x, const layer *l, const char *scope) {
    nnc_node *seq = x;
    if (x->out.ndim == 4) seq = nnc_reshape(g, x, 2, (int64_t[]){x->out.shape[2], x->out.shape[1] * x->out.shape[3]});
    else if (x->out.ndim == 2) seq = nnc_reshape(g, x, 2, (int64_t[]){1, x->out.shape[1]});
    nnc_rnn_opts ro = {.cell = l->type == L_LSTM ? NNC_LSTM : l->type == L_GRU ? NNC_GRU : l->act == A_RELU ? NNC_RNN_RELU : NNC_RNN_TANH,
                       .hidden = l->filters, .layers = l->layers, .bidirectional = l->bidir, .no_bias = !l->bias,
                       .dropout = l->p};
    nnc_rnn_out r = nnc_rnn_layer(g, seq, scope, &ro);
    if (!r.y || l->pool == P_NONE) return r.y;
    return nnc_seq_pool(g, r.y, NULL, (nnc_seq_pool_mode)(l->pool - 1));
}

/* Builds the layers of d on input x; returns the logits ([N, classes]). */
static nnc_node *desc_build(nnc_graph *g, nnc_node *x, const desc *d, const char *path, nnc_status *st) {
    nnc_node **out = calloc((size_t)d->n, sizeof *out);
    if (!out) { *st = nnc_error(NNC_ERR_OOM, "out of memory"); return NULL; }
    nnc_node *cur = x;
    for (int i = 0; i < d->n && !*st; i++) {
        const layer *l = &d->l[i];
        char scope[112], bnscope[128];
        if (l->name[0]) snprintf(scope, sizeof scope, "%s", l->name);
        else snprintf(scope, sizeof scope, "%d_%s", i, scope_kind[l->type] ? scope_kind[l->type] : sec_names[l->type]);
        if (l->bn_name[0]) snprintf(bnscope, sizeof bnscope, "%s", l->bn_name);
        else if (l->name[0]) snprintf(bnscope, sizeof bnscope, "%s_bn", l->name);
        else snprintf(bnscope, sizeof bnscope, "%d_bn", i);
        int64_t C, H, W;
        chw(cur, &C, &H, &W);
#define LFAIL(...) do { char m_[300]; snprintf(m_, sizeof m_, __VA_ARGS__); \
        *st = nnc_error(NNC_ERR_FORMAT, "%s:%d: [%s] %s", path, l->line, sec_names[l->type], m_); } while (0)
        nnc_node *y = NULL;
        switch (l->type) {
        case L_CONV: {
            if (C % l->groups) { LFAIL("input channels %lld are not a multiple of groups=%d", (long long)C, l->groups); break; }
            int64_t ek = (int64_t)l->dilation * (l->size - 1) + 1;
            if (H + 2 * l->padding < ek || W + 2 * l->padding < ek) {
                LFAIL("size=%d does not fit the %lldx%lld input with padding %d: expected a smaller size or more padding", l->size,
                      (long long)H, (long long)W, l->padding);
                break;
            }
            nnc_conv2d_opts o = {{l->stride[0], l->stride[1]}, {l->padding, l->padding}, {l->dilation, l->dilation}, l->groups};
            y = nnc_conv2d_layer(g, spatial(g, cur), scope, l->filters, l->size, l->size, &o, l->bias >= 0 ? l->bias : !l->bn);
            if (y && l->init98) set_lecun98(g, scope, (double)(C / l->groups * l->size * l->size));
            if (l->bn) y = nnc_batchnorm_layer(g, y, bnscope, 1e-5f, 0.1f);
            y = apply_act(g, y, l->act);
            break;
        }
        case L_LOCAL: {
            if (H + 2 * l->padding < l->size || W + 2 * l->padding < l->size) { LFAIL("size=%d does not fit the %lldx%lld input", l->size, (long long)H, (long long)W); break; }
            int stride[2] = {l->stride[0], l->stride[1]}, pad[2] = {l->padding, l->padding};
            y = nnc_locally_connected2d_layer(g, spatial(g, cur), scope, l->filters, l->size, l->size, stride, pad, 1);
            y = apply_act(g, y, l->act);
            break;
        }
        case L_TABLE: {
            if (H < l->size || W < l->size) { LFAIL("size=%d does not fit the %lldx%lld input", l->size, (long long)H, (long long)W); break; }
            unsigned char *t = malloc((size_t)(l->filters * C));
            if (!t) { *st = nnc_error(NNC_ERR_OOM, "out of memory"); break; }
            if (!strcmp(l->table, "lenet5")) {
                if (C != 6 || l->filters != 16) { free(t); LFAIL("table=lenet5 maps 6 maps to filters=16 (input has %lld)", (long long)C); break; }
                memcpy(t, nnc_lenet5_c3_table, 96);
            } else memset(t, 1, (size_t)(l->filters * C));
            y = nnc_conv2d_table_layer(g, spatial(g, cur), scope, l->filters, l->size, l->size, t);
            int64_t conns = 0;
            for (int64_t q = 0; q < l->filters * C; q++) conns += t[q] != 0;
            free(t);
            if (y && l->init98) set_lecun98(g, scope, (double)conns * l->size * l->size / l->filters); /* the mean fan-in */
            y = apply_act(g, y, l->act);
            break;
        }
        case L_FC: /* nnc_linear flattens a spatial input itself */
            y = nnc_linear_layer(g, cur, scope, l->filters, l->bias >= 0 ? l->bias : !l->bn);
            if (y && l->init98) set_lecun98(g, scope, (double)nnc_static_features(cur));
            if (l->bn) y = nnc_batchnorm_layer(g, y, bnscope, 1e-5f, 0.1f);
            y = apply_act(g, y, l->act);
            break;
        case L_MAXPOOL: {
            int k = l->size, P = l->padding, L = P / 2;
            int64_t oh = (H + P - k) / l->stride[0] + 1, ow = (W + P - k) / l->stride[1] + 1;
            if (H + P < k || W + P < k) { LFAIL("size=%d does not fit the %lldx%lld input", k, (long long)H, (long long)W); break; }
            if (L > k / 2) { LFAIL("padding=%d is over size-1+1: unsupported (nnc pads at most size/2 per side)", P); break; }
            nnc_pool2d_opts o = {{k, k}, {l->stride[0], l->stride[1]}, {L, L}, l->ceil_mode, 0};
            if (l->ceil_mode) { /* nnc extension: PyTorch's ceil mode */
                oh = pool_out_ceil(H, k, l->stride[0], L);
                ow = pool_out_ceil(W, k, l->stride[1], L);
            }
            if (P % 2) {
                if (pool_out_ceil(H, k, l->stride[0], L) != oh || pool_out_ceil(W, k, l->stride[1], L) != ow) {
                    *st = nnc_error(NNC_ERR_UNSUPPORTED, "%s:%d: [maxpool] size=%d stride=%d padding=%d (asymmetric) on %lldx%lld "
                                    "cannot be expressed by nnc's maxpool2d: use an even padding", path, l->line, k,
                                    l->stride[0], P, (long long)H, (long long)W);
                    break;
                }
                o.ceil_mode = 1;
            }
            y = nnc_maxpool2d(g, spatial(g, cur), &o);
            break;
        }
        case L_AVGPOOL:
            if (l->avg_sized) {
                int k = l->size, L = l->padding / 2;
                if (H + 2 * L < k || W + 2 * L < k || L > k / 2) { LFAIL("size=%d padding=%d does not fit the %lldx%lld input", k, l->padding, (long long)H, (long long)W); break; }
                nnc_pool2d_opts o = {{k, k}, {l->stride[0], l->stride[1]}, {L, L}, l->ceil_mode, l->count_include_pad};
                y = nnc_avgpool2d(g, spatial(g, cur), &o);
            } else y = nnc_global_avgpool(g, spatial(g, cur));
            break;
        case L_FLATTEN: y = cur->out.ndim > 2 ? nnc_flatten(g, cur) : cur; break;
        case L_DROPOUT: y = l->p > 0 ? nnc_dropout(g, cur, l->p) : cur; break;
        case L_SOFTMAX: case L_COST: y = cur; break;
        case L_ROUTE: {
            nnc_node *xs[MAX_REFS];
            int64_t c0, h0, w0;
            chw(out[l->refs[0]], &c0, &h0, &w0);
            for (int r = 0; r < l->n_refs; r++) {
                int64_t c1, h1, w1;
                chw(out[l->refs[r]], &c1, &h1, &w1);
                if (h1 != h0 || w1 != w0) {
                    LFAIL("layers %d (%lldx%lld) and %d (%lldx%lld) differ in size: expected equal spatial sizes", l->refs[0],
                          (long long)h0, (long long)w0, l->refs[r], (long long)h1, (long long)w1);
                    break;
                }
                xs[r] = out[l->refs[r]];
                if (l->n_refs > 1) xs[r] = spatial(g, xs[r]);
            }
            if (*st) break;
            y = l->n_refs == 1 ? xs[0] : nnc_concat(g, l->n_refs, xs);
            break;
        }
        case L_SHORTCUT: {
            nnc_node *fr = out[l->refs[0]];
            int64_t c1, h1, w1;
            chw(fr, &c1, &h1, &w1);
            if (h1 != H || w1 != W) { /* Darknet samples a larger `from` with stride w1/W */
                int sh = (int)(h1 / H), sw = (int)(w1 / W);
                if (sh < 2 || sw < 2 || (h1 - 1) / sh + 1 != H || (w1 - 1) / sw + 1 != W) {
                    LFAIL("from=%d is %lldx%lld, the previous layer %lldx%lld: expected equal sizes or `from` larger by an integer "
                          "stride", l->refs[0], (long long)h1, (long long)w1, (long long)H, (long long)W);
                    break;
                }
                nnc_pool2d_opts po = {{1, 1}, {sh, sw}, {0, 0}, 0, 0};
                fr = nnc_maxpool2d(g, spatial(g, fr), &po);
            }
            if (c1 > C) {
                *st = nnc_error(NNC_ERR_UNSUPPORTED, "%s:%d: [shortcut] from=%d has %lld channels, more than the previous layer's %lld "
                                "(Darknet adds the first %lld): unsupported", path, l->line, l->refs[0], (long long)c1, (long long)C, (long long)C);
                break;
            }
            nnc_node *a = cur, *b = fr;
            if (c1 < C) { /* zero-pad b's channels: concat with a 1x1 conv by a zero state */
                a = spatial(g, a);
                b = spatial(g, b);
                char zn[160];
                snprintf(zn, sizeof zn, "%s.zeros", scope);
                int64_t zs[4] = {C - c1, c1, 1, 1};
                nnc_node *zw = nnc_state(g, zn, NNC_F32, 4, zs, 0.0);
                nnc_conv2d_opts o = {{1, 1}, {0, 0}, {1, 1}, 1};
                nnc_node *parts[2] = {b, nnc_conv2d(g, b, zw, NULL, &o)};
                b = nnc_concat(g, 2, parts);
            } else if (a->out.ndim != b->out.ndim) {
                a = spatial(g, a);
                b = spatial(g, b);
            }
            y = apply_act(g, nnc_add(g, a, b), l->act);
            break;
        }
        case L_BN: y = nnc_batchnorm_layer(g, cur, scope, 1e-5f, 0.1f); break;
        case L_NORMALIZATION: y = nnc_lrn(g, spatial(g, cur), l->size, l->alpha, l->beta, l->kappa, 1); break;
        case L_LRN: y = nnc_lrn(g, spatial(g, cur), l->size, l->alpha, l->beta, l->kappa, 0); break;
        case L_GN:
            if (C % l->groups) { LFAIL("groups=%d does not divide the %lld channels", l->groups, (long long)C); break; }
            y = nnc_group_norm_layer(g, spatial(g, cur), scope, l->groups, l->eps, 1);
            break;
        case L_LN: y = nnc_layer_norm_layer(g, cur, scope, cur->out.ndim - 1, l->eps, 1); break;
        case L_SUB:
            if (H < l->size || W < l->size) { LFAIL("size=%d does not fit the %lldx%lld input", l->size, (long long)H, (long long)W); break; }
            y = apply_act(g, nnc_subsampling_layer(g, spatial(g, cur), scope, l->size), l->act);
            break;
        case L_RBF: y = rbf_build(g, cur, l, scope, path, st); break;
        case L_LSTM: case L_GRU: case L_RNN: y = recurrent_build(g, cur, l, scope); break;
        case L_ACT: y = apply_act(g, cur, l->act); break;
        case L_CROP: y = cur; break;
        default: break;
        }
#undef LFAIL
        if (*st) break;
        if (!y || nnc_graph_status(g)) {
            *st = nnc_error(nnc_graph_status(g) ? nnc_graph_status(g) : NNC_ERR_FORMAT, "%s:%d: [%s]: %s", path, l->line,
                            sec_names[l->type], nnc_graph_error(g));
            break;
        }
        if (y != cur && y->op >= 0 && !y->name) nnc_node_set_name(y, scope);
        out[i] = cur = y;
    }
    free(out);
    if (*st) return NULL;
    if (cur->out.ndim > 2 && d->loss != LOSS_MSE_INPUT) cur = nnc_flatten(g, cur);
    return cur;
}

/* The loss the [cost] section chose, on m->logits (see parse_cost); classes
 * (0: any) must match a classifier's outputs. A reconstruction has no
 * classes (num_classes 0, as the zoo's autoencoders) and its output is
 * reshaped to the input's [C, H, W]. */
static nnc_status desc_loss(nnc_model *m, const desc *d, const char *path, int classes) {
    nnc_graph *g = m->g;
    if (d->loss == LOSS_MSE_INPUT) {
        int64_t n = nnc_static_features(m->logits), want = m->in_shape[0] * m->in_shape[1] * m->in_shape[2];
        if (n != want)
            return nnc_error(NNC_ERR_FORMAT, "%s:%d: [cost] target=input: the last layer has %lld outputs, expected %lld (C*H*W of "
                             "the input) to reconstruct it", path, d->loss_line, (long long)n, (long long)want);
        if (m->logits->out.ndim != 4 || memcmp(m->logits->out.shape + 1, m->in_shape, sizeof m->in_shape))
            m->logits = nnc_reshape(g, m->logits, 3, m->in_shape);
        m->num_classes = 0;
    } else {
        m->num_classes = (int)nnc_static_features(m->logits);
        if (classes && classes != m->num_classes)
            return nnc_error(NNC_ERR_ARG, "%s: the file's last layer has %d outputs, not the %d classes asked for", path,
                             m->num_classes, classes);
    }
    nnc_graph_output(g, m->logits);
    if (d->loss == LOSS_MSE_INPUT) m->loss = nnc_mse(g, m->logits, m->input, NNC_MEAN);
    else if (d->loss == LOSS_MAP) {
        nnc_node *pen = m->logits->op == NNC_OP_SCALAR_AFFINE ? m->logits->in[0] : NULL;
        if (!pen || pen->op != NNC_OP_RBF)
            return nnc_error(NNC_ERR_FORMAT, "%s:%d: [cost] type=map: expected an [rbf] layer right before it (the MAP "
                             "criterion reads its penalties)", path, d->loss_line);
        m->loss = nnc_rbf_map_loss(g, pen, m->labels, d->loss_j, NNC_MEAN);
    } else
        m->loss = nnc_cross_entropy(g, m->logits, m->labels, NNC_MEAN);
    nnc_graph_loss(g, m->loss, 1.0f);
    nnc_status s = nnc_graph_status(g);
    return s ? nnc_error(s, "%s: %s", path, nnc_graph_error(g)) : NNC_OK;
}

static nnc_status desc_model(const desc *d, const char *path, const char *name, const nnc_model_opts *opts, nnc_model **out) {
    nnc_model_opts o = opts ? *opts : nnc_model_defaults();
    if (o.num_classes < 0 || o.in_channels < 0 || o.height < 0 || o.width < 0)
        return nnc_error(NNC_ERR_ARG, "model '%s': negative classes, channels or input size", path);
    nnc_model *m = calloc(1, sizeof *m);
    if (!m) return nnc_error(NNC_ERR_OOM, "out of memory");
    m->g = nnc_graph_new();
    if (!m->g) { free(m); return nnc_error(NNC_ERR_OOM, "out of memory"); }
    snprintf(m->name, sizeof m->name, "%s", name);
    m->in_shape[0] = o.in_channels ? o.in_channels : d->c;
    int crop = d->n && d->l[0].type == L_CROP;
    m->in_shape[1] = o.height ? o.height : crop ? d->l[0].size : d->h;
    m->in_shape[2] = o.width ? o.width : crop ? d->l[0].filters : d->w;
    m->norm_mean = 0;
    m->norm_std = 1;
    m->input = nnc_input(m->g, "input", NNC_F32, 3, m->in_shape);
    m->labels = nnc_input(m->g, "labels", NNC_I64, 0, NULL);
    nnc_status s = NNC_OK;
    m->logits = desc_build(m->g, m->input, d, path, &s);
    if (!s) s = desc_loss(m, d, path, o.num_classes);
    if (s) { nnc_model_free(m); return s; }
    *out = m;
    return NNC_OK;
}

/* The text (owned) to a model: options, parse, build. */
static nnc_status cfg_model(const char *path, char *buf, size_t n, const nnc_model_opts *opts, const nnc_cfg_opts *co,
                            nnc_model **out) {
    static const char *const allowed[] = {"strict", NULL};
    double strict = 0;
    if (opts && !nnc_model_options_only(opts, allowed)) {
        free(buf);
        return nnc_error(NNC_ERR_ARG, "%s: %s", path, nnc_last_error());
    }
    if (nnc_model_option(opts, "strict", &strict) < 0) { free(buf); return NNC_ERR_ARG; }
    nnc_cfg_opts c2 = co ? *co : (nnc_cfg_opts){0, NULL, NULL, NULL};
    if (strict != 0) c2.strict = 1; /* model option "strict=1" (for callers that only pass nnc_model_opts) */
    desc d;
    nnc_status s = cfg_read(path, buf, n, &c2, &d);
    if (s) return s;
    if (co && co->net) *co->net = d.net;
    s = desc_model(&d, path, path, opts, out);
    free(d.l);
    return s;
}

nnc_status nnc_model_from_cfg(const char *path, const nnc_model_opts *opts, const nnc_cfg_opts *co, nnc_model **out) {
    if (!path || !out) return nnc_error(NNC_ERR_ARG, "nnc_model_from_cfg: NULL argument");
    *out = NULL;
    char *buf;
    size_t n;
    nnc_status s = cfg_load(path, &buf, &n);
    return s ? s : cfg_model(path, buf, n, opts, co, out);
}

nnc_status nnc_model_from_cfg_mem(const char *text, size_t n, const char *name, const nnc_model_opts *opts,
                                  const nnc_cfg_opts *co, nnc_model **out) {
    if (!out) return nnc_error(NNC_ERR_ARG, "nnc_model_from_cfg_mem: out is NULL");
    *out = NULL;
    if (!name) name = "<memory>";
    if (!text && n) return nnc_error(NNC_ERR_ARG, "%s: text is NULL with n = %zu", name, n);
    if (n > (64u << 20)) return nnc_error(NNC_ERR_FORMAT, "%s:1: over 64 MiB: expected a text model file", name);
    char *buf = malloc(n + 1);
    if (!buf) return nnc_error(NNC_ERR_OOM, "%s: out of memory", name);
    if (n) memcpy(buf, text, n);
    buf[n] = 0;
    return cfg_model(name, buf, n, opts, co, out);
}

/* ----------------------------------------------------------------- writer */
static void write_ref(FILE *f, const desc *d, int self, int ref) {
    if (d->l[ref].name[0]) fprintf(f, "%s", d->l[ref].name);
    else fprintf(f, "%d", ref - self);
}

static void desc_write(const desc *d, FILE *f, const char *title) {
    const nnc_cfg_net *n = &d->net;
    fprintf(f, "# %s -- written by nnc export-cfg (Darknet .cfg dialect; see src/models/modelfile.c)\n", title);
    fprintf(f, "[net]\nwidth=%d\nheight=%d\nchannels=%d\nbatch=%d\nsubdivisions=%d\n", d->w, d->h, d->c, n->batch,
            n->subdivisions);
    fprintf(f, "learning_rate=%g\nmomentum=%g\ndecay=%g\n", n->learning_rate, n->momentum, n->decay);
    if (n->adam) fprintf(f, "adam=1\nB1=%g\nB2=%g\neps=%g\n", n->b1, n->b2, n->eps);
    if (n->max_batches) fprintf(f, "max_batches=%d\n", n->max_batches);
    fprintf(f, "policy=%s\n", n->policy);
    if (n->burn_in) fprintf(f, "burn_in=%d\n", n->burn_in);
    if (!strcmp(n->policy, "step")) fprintf(f, "step=%d\ngamma=%g\n", n->step, n->gamma);
    if (!strcmp(n->policy, "exp")) fprintf(f, "gamma=%g\n", n->gamma);
    if (!strcmp(n->policy, "poly")) fprintf(f, "power=%g\n", n->power);
    if (n->n_steps) {
        fprintf(f, "steps=");
        for (int i = 0; i < n->n_steps; i++) fprintf(f, "%s%d", i ? "," : "", n->steps[i]);
        fprintf(f, "\nscales=");
        for (int i = 0; i < n->n_steps; i++) fprintf(f, "%s%g", i ? "," : "", n->scales[i]);
        fprintf(f, "\n");
    }
    for (int i = 0; i < d->n; i++) {
        const layer *l = &d->l[i];
        fprintf(f, "\n# layer %d\n[%s]\n", i, sec_names[l->type]);
        if (l->name[0]) fprintf(f, "name=%s\n", l->name);
        switch (l->type) {
        case L_CONV: case L_LOCAL: case L_TABLE:
            fprintf(f, "filters=%d\nsize=%d\n", l->filters, l->size);
            if (l->stride[0] == l->stride[1]) fprintf(f, "stride=%d\n", l->stride[0]);
            else fprintf(f, "stride_y=%d\nstride_x=%d\n", l->stride[0], l->stride[1]);
            if (l->type != L_TABLE) fprintf(f, "padding=%d\n", l->padding);
            if (l->type == L_CONV) {
                if (l->groups != 1) fprintf(f, "groups=%d\n", l->groups);
                if (l->dilation != 1) fprintf(f, "dilation=%d\n", l->dilation);
                fprintf(f, "batch_normalize=%d\n", l->bn);
                if (l->bias >= 0 && l->bias != !l->bn) fprintf(f, "bias=%d\n", l->bias);
                if (l->bn && l->bn_name[0]) fprintf(f, "bn_name=%s\n", l->bn_name);
            }
            if (l->type == L_TABLE) fprintf(f, "table=%s\n", l->table);
            if (l->init98) fprintf(f, "init=lecun98\n");
            fprintf(f, "activation=%s\n", act_names[l->act]);
            break;
        case L_FC:
            fprintf(f, "output=%d\nbatch_normalize=%d\n", l->filters, l->bn);
            if (l->bias >= 0 && l->bias != !l->bn) fprintf(f, "bias=%d\n", l->bias);
            if (l->bn && l->bn_name[0]) fprintf(f, "bn_name=%s\n", l->bn_name);
            if (l->init98) fprintf(f, "init=lecun98\n");
            fprintf(f, "activation=%s\n", act_names[l->act]);
            break;
        case L_MAXPOOL:
            if (l->stride[0] == l->stride[1]) fprintf(f, "size=%d\nstride=%d\npadding=%d\n", l->size, l->stride[0], l->padding);
            else fprintf(f, "size=%d\nstride_y=%d\nstride_x=%d\npadding=%d\n", l->size, l->stride[0], l->stride[1], l->padding);
            if (l->ceil_mode) fprintf(f, "ceil_mode=1\n");
            break;
        case L_AVGPOOL:
            if (l->avg_sized)
                fprintf(f, "size=%d\nstride_y=%d\nstride_x=%d\npadding=%d\nceil_mode=%d\ncount_include_pad=%d\n", l->size,
                        l->stride[0], l->stride[1], l->padding, l->ceil_mode, l->count_include_pad);
            break;
        case L_DROPOUT: fprintf(f, "probability=%g\n", l->p); break;
        case L_ROUTE: case L_SHORTCUT:
            fprintf(f, "%s=", l->type == L_ROUTE ? "layers" : "from");
            for (int r = 0; r < l->n_refs; r++) {
                if (r) fprintf(f, ",");
                write_ref(f, d, i, l->refs[r]);
            }
            fprintf(f, "\n");
            if (l->type == L_SHORTCUT) fprintf(f, "activation=%s\n", act_names[l->act]);
            break;
        case L_NORMALIZATION: fprintf(f, "size=%d\nalpha=%.9g\nbeta=%.9g\nkappa=%.9g\n", l->size, l->alpha, l->beta, l->kappa); break;
        case L_LRN: fprintf(f, "size=%d\nalpha=%.9g\nbeta=%.9g\nk=%.9g\n", l->size, l->alpha, l->beta, l->kappa); break;
        case L_GN: fprintf(f, "groups=%d\neps=%.9g\n", l->groups, l->eps); break;
        case L_LN: fprintf(f, "eps=%.9g\n", l->eps); break;
        case L_SUB: fprintf(f, "size=%d\nactivation=%s\n", l->size, act_names[l->act]); break;
        case L_RBF: fprintf(f, "output=%d\nprototypes=%s\n", l->filters, l->protos ? "lenet5" : "zeros"); break;
        case L_LSTM: case L_GRU: case L_RNN:
            fprintf(f, "output=%d\nlayers=%d\nbidirectional=%d\ndropout=%g\npool=%s\n", l->filters, l->layers, l->bidir,
                    l->p, pool_names[l->pool]);
            if (!l->bias) fprintf(f, "bias=0\n");
            if (l->type == L_RNN) fprintf(f, "activation=%s\n", act_names[l->act]);
            break;
        case L_COST:
            if (d->loss == LOSS_MSE_INPUT) fprintf(f, "type=sse\ntarget=input\n");
            if (d->loss == LOSS_MAP) fprintf(f, "type=map\nj=%.9g\n", d->loss_j);
            break;
        case L_ACT: fprintf(f, "activation=%s\n", act_names[l->act]); break;
        case L_CROP: fprintf(f, "crop_height=%d\ncrop_width=%d\n", l->size, l->filters); break;
        default: break;
        }
    }
}

/* The zoo models the writer knows, as descriptions. */
/* [net] of a written zoo model: nnc train's recipe for it, so that `nnc train
 * FILE.cfg` trains as `nnc train NAME` (up to 7 epochs: the file's policy is
 * constant, nnc's default multistep drops the rate at epochs 8 and 12). The
 * default is W1's (batch 64, SGD lr 0.05 momentum 0.9 decay 5e-4); a model
 * with its own recipe (nnc_model_recipe) gets its rate, and Adam becomes
 * adam=1 with PyTorch's betas and eps. */
static void net_recipe(nnc_cfg_net *n, const char *model) {
    memset(n, 0, sizeof *n);
    n->batch = 64;
    n->subdivisions = 1;
    n->learning_rate = 0.05f;
    n->momentum = 0.9f;
    n->decay = 0.0005f;
    n->step = 1;
    n->gamma = 1;
    n->power = 4;
    snprintf(n->policy, sizeof n->policy, "constant");
    nnc_optim_kind kind;
    float lr;
    if (!nnc_model_recipe(model, &kind, &lr)) return;
    n->learning_rate = lr;
    if (kind == NNC_OPTIM_ADAM) {
        n->adam = 1;
        n->b1 = 0.9f;
        n->b2 = 0.999f;
        n->eps = 1e-8f;
    }
}

static int zoo_desc(const char *name, const nnc_model_opts *opts, desc *d) {
    nnc_model_opts o = opts ? *opts : nnc_model_defaults();
    memset(d, 0, sizeof *d);
    int lenet = !strcmp(name, "lenet5");
    if (!lenet && strcmp(name, "mlp")) return 0;
    d->c = o.in_channels ? o.in_channels : 1;
    d->h = o.height ? o.height : 28;
    d->w = o.width ? o.width : 28;
    int classes = o.num_classes ? o.num_classes : 10;
    net_recipe(&d->net, name);
    layer *l;
#define ADD(t) do { if (!(l = desc_add(d, t))) return -1; } while (0)
    if (lenet) {
        for (int k = 0; k < 2; k++) {
            ADD(L_CONV);
            snprintf(l->name, sizeof l->name, "conv%d", k + 1);
            l->filters = k ? 16 : 6;
            l->size = 5;
            l->padding = k ? 0 : 2;
            l->act = A_RELU;
            ADD(L_MAXPOOL);
            l->size = 2;
            l->stride[0] = l->stride[1] = 2;
            l->padding = 0;
        }
    }
    const int fc[3] = {lenet ? 120 : 1024, lenet ? 84 : 1024, classes};
    ADD(L_FLATTEN); /* the zoo flattens before fc1 ([connected] alone reads the spatial input directly) */
    for (int k = 0; k < 3; k++) {
        ADD(L_FC);
        snprintf(l->name, sizeof l->name, "fc%d", k + 1);
        l->filters = fc[k];
        l->act = k < 2 ? A_RELU : A_LINEAR;
        if (k < 2 && o.dropout > 0) {
            ADD(L_DROPOUT);
            l->p = o.dropout;
        }
    }
    ADD(L_SOFTMAX);
#undef ADD
    return 1;
}

typedef struct { int size, paper_form; float alpha, beta, k; } lrn_attrs_w; /* = src/ops/lrn.c's attrs */
/* Any other built model: walks the graph the logits depend on and maps each
 * op to a section (conv2d [+ batchnorm] [+ activation] fused into one
 * [convolutional], linear likewise into [connected], add into [shortcut],
 * concat into [route], flatten into [flatten], ...); parameter scopes become
 * name= (and bn_name=) so the parameter names survive. 0 with *why set when
 * an op has no section. */
static const char *param_scope(const nnc_node *p, char *buf, size_t n) {
    const char *nm = p ? nnc_node_name(p) : NULL;
    size_t len = nm ? strlen(nm) : 0;
    const char *dot = nm ? strrchr(nm, '.') : NULL;
    if (!dot || dot == nm || (size_t)(dot - nm) >= n || len >= 200) { buf[0] = 0; return buf; } /* too long: unnamed */
    snprintf(buf, n, "%.*s", (int)(dot - nm), nm);
    return buf;
}

static int act_of(const nnc_node *n) {
    const float *pa = (const float *)(const void *)n->attrs;
    switch (n->op) {
    case NNC_OP_RELU: return A_RELU;
    case NNC_OP_SIGMOID: return A_LOGISTIC;
    case NNC_OP_TANH: return A_TANH;
    case NNC_OP_SELU: return A_SELU;
    case NNC_OP_SOFTSIGN: return A_SOFTSIGN;
    case NNC_OP_RRELU: return pa[0] == 1.0f / 8 && pa[1] == 1.0f / 3 ? A_RRELU : -1;
    case NNC_OP_LEAKY_RELU: return pa[0] == 0.1f ? A_LEAKY : -1;
    case NNC_OP_ELU: return pa[0] == 1.0f ? A_ELU : -1;
    case NNC_OP_HARDTANH: return pa[0] == -1.0f && pa[1] == 1.0f ? A_HARDTAN : pa[0] == 0.0f && pa[1] == 6.0f ? A_RELU6 : -1;
    case NNC_OP_SOFTPLUS: return pa[0] == 1.0f && pa[1] == 20.0f ? A_SOFTPLUS : -1;
    case NNC_OP_SCALED_TANH: return pa[0] == STANH_A && pa[1] == STANH_S ? A_STANH : -1;
    default: return -1;
    }
}

/* The one active node reading y as its first input, when y has one use. */
static nnc_node *sole_user(nnc_graph *g, const char *active, const int *uses, const nnc_node *y) {
    if (uses[y->id] != 1) return NULL;
    for (int j = y->id + 1; j < g->n_nodes; j++)
        if (active[j] && g->nodes[j]->n_in && g->nodes[j]->in[0] == y) return g->nodes[j];
    return NULL;
}

/* l->name from a parameter scope, dropped (default scope) when taken or not a valid name. */
static void scope_name(desc *d, layer *l, const char *sc) {
    snprintf(l->name, sizeof l->name, "%s", sc);
    for (int q = 0; l->name[0] && q < d->n - 1; q++)
        if (!strcmp(d->l[q].name, l->name)) l->name[0] = 0;
    if (isdigit((unsigned char)l->name[0]) || l->name[0] == '-') l->name[0] = 0;
}

typedef struct { int cell, reverse, emit, bias, len, h0, c0; } rnn_attrs_w;        /* = src/ops/rnn.c's attrs */
typedef struct { int16_t stride[2], pad[2], K, C; uint8_t bits[84]; } table_attrs_w; /* = src/ops/conv2d_table.c's */
typedef struct { const float *proto; int applied; } rbf_attrs_w;                    /* = src/ops/rbf.c's */
typedef struct { int reduction; float j; } map_attrs_w;                            /* = src/ops/rbf_map_loss.c's */
typedef struct { int reduction; float smoothing; int has_ignore; } ce_attrs_w;     /* first fields of cross_entropy.c's */

/* The rnn node of scope sc, layer k, direction rev reading in (NULL if none). */
static nnc_node *rnn_node_of(nnc_graph *g, const char *active, const nnc_node *in, const char *sc, int k, int rev) {
    char want[160];
    snprintf(want, sizeof want, "%s.weight_ih_l%d%s", sc, k, rev ? "_reverse" : "");
    for (int j = in->id + 1; j < g->n_nodes; j++) {
        nnc_node *r = g->nodes[j];
        if (active[j] && r->op == NNC_OP_RNN && r->in[0] == in && r->in[1]->name && !strcmp(nnc_node_name(r->in[1]), want)) return r;
    }
    return NULL;
}

/* A block built by nnc_rnn_layer from its first rnn node x (layer 0,
 * forward): the rnn nodes of its scope (layers x directions), the concats of
 * two directions and the dropouts between layers, each read only inside the
 * block. Fills l and marks the nodes done; returns the block's output, or
 * NULL with why set. */
static nnc_node *rnn_block(nnc_graph *g, nnc_node *x, const char *active, const int *uses, char *done, layer *l, char *why,
                           size_t nwhy) {
    const rnn_attrs_w *a0 = (const rnn_attrs_w *)(const void *)x->attrs;
    const char *wn = x->in[1]->name ? nnc_node_name(x->in[1]) : "";
    size_t wl = strlen(wn), sl = strlen(".weight_ih_l0");
    if (wl <= sl || wl - sl >= 96 || strcmp(wn + wl - sl, ".weight_ih_l0") || a0->reverse) {
        snprintf(why, nwhy, "an rnn node (weights '%s') not built by nnc_rnn_layer has no recurrent section", wn);
        return NULL;
    }
    char sc[96];
    snprintf(sc, sizeof sc, "%.*s", (int)(wl - sl), wn);
    l->type = a0->cell == NNC_LSTM ? L_LSTM : a0->cell == NNC_GRU ? L_GRU : L_RNN;
    l->act = a0->cell == NNC_RNN_RELU ? A_RELU : A_TANH;
    l->filters = (int)x->in[2]->out.shape[1];
    l->bias = a0->bias;
    l->p = -1;
    snprintf(l->name, sizeof l->name, "%s", sc);
    nnc_node *in = x->in[0], *out = NULL;
    for (int k = 0;; k++) {
        nnc_node *f = rnn_node_of(g, active, in, sc, k, 0), *r = rnn_node_of(g, active, in, sc, k, 1);
        if (!f) break;
        if (k == 0) l->bidir = r != NULL;
        if ((r != NULL) != l->bidir) { snprintf(why, nwhy, "rnn '%s': layers differ in direction", sc); return NULL; }
        nnc_node *dirs[2] = {f, r};
        for (int dd = 0; dd <= l->bidir; dd++) {
            const rnn_attrs_w *a = (const rnn_attrs_w *)(const void *)dirs[dd]->attrs;
            if (a->cell != a0->cell || a->reverse != dd || a->emit != NNC_RNN_EMIT_SEQ || a->bias != a0->bias || a->len >= 0 ||
                a->h0 >= 0 || a->c0 >= 0 || dirs[dd]->in[2]->out.shape[1] != l->filters) {
                snprintf(why, nwhy, "rnn '%s': lengths, initial or final states, or mixed cells have no recurrent section", sc);
                return NULL;
            }
            done[dirs[dd]->id] = 1;
        }
        out = f;
        if (l->bidir) {
            nnc_node *c = sole_user(g, active, uses, f);
            if (!c || c->op != NNC_OP_CONCAT || c->n_in != 2 || c->in[1] != r || uses[r->id] != 1 ||
                ((const int *)(const void *)c->attrs)[0] != 2) {
                snprintf(why, nwhy, "rnn '%s': the two directions are not concatenated as nnc_rnn_layer does", sc);
                return NULL;
            }
            done[c->id] = 1;
            out = c;
        }
        l->layers = k + 1;
        /* the next layer reads out, or a dropout of it */
        nnc_node *next = out, *u = sole_user(g, active, uses, out);
        float p = 0;
        if (u && u->op == NNC_OP_DROPOUT && rnn_node_of(g, active, u, sc, k + 1, 0)) {
            next = u;
            p = ((const float *)(const void *)u->attrs)[0];
        }
        if (!rnn_node_of(g, active, next, sc, k + 1, 0)) break;
        if (uses[next->id] != 1 + l->bidir || (l->p >= 0 && p != l->p)) {
            snprintf(why, nwhy, "rnn '%s': a layer's output is read outside the block, or the dropout differs between layers", sc);
            return NULL;
        }
        l->p = p;
        if (next != out) done[next->id] = 1;
        in = next;
    }
    if (l->p < 0) l->p = 0;
    return out;
}

/* A reshape the builder makes itself: an image [C,H,W] (or a vector [F])
 * into the [T, F] sequence of the recurrent section that alone reads it, or
 * the logits into the input's shape for [cost] target=input. */
static int reshape_implied(nnc_graph *g, const nnc_model *m, const desc *d, const char *active, const nnc_node *x) {
    const nnc_node *in = x->in[0];
    if (x == m->logits)
        return d->loss == LOSS_MSE_INPUT && x->out.ndim == 4 && !memcmp(x->out.shape + 1, m->in_shape, sizeof m->in_shape) &&
               !(in->out.ndim == 4 && !memcmp(in->out.shape + 1, m->in_shape, sizeof m->in_shape));
    if (x->out.ndim != 3 || (in->out.ndim != 4 && in->out.ndim != 2)) return 0;
    int64_t t = in->out.ndim == 4 ? in->out.shape[2] : 1, f = in->out.ndim == 4 ? in->out.shape[1] * in->out.shape[3] : in->out.shape[1];
    if (x->out.shape[1] != t || x->out.shape[2] != f) return 0;
    int users = 0;
    for (int j = x->id + 1; j < g->n_nodes; j++) {
        if (!active[j]) continue;
        for (int k = 0; k < g->nodes[j]->n_in; k++)
            if (g->nodes[j]->in[k] == x) {
                if (g->nodes[j]->op != NNC_OP_RNN || k) return 0;
                users++;
            }
    }
    return users > 0;
}

static int graph_desc(nnc_model *m, desc *d, char *why, size_t nwhy) {
    nnc_graph *g = m->g;
    int N = g->n_nodes, ok = 1;
    memset(d, 0, sizeof *d);
    d->c = (int)m->in_shape[0];
    d->h = (int)m->in_shape[1];
    d->w = (int)m->in_shape[2];
    net_recipe(&d->net, m->name);
    char *active = calloc((size_t)N, 1), *done = calloc((size_t)N, 1);
    int *uses = calloc((size_t)N, sizeof *uses), *at = malloc((size_t)N * sizeof *at);
    if (!active || !done || !uses || !at) { free(active); free(done); free(uses); free(at); snprintf(why, nwhy, "out of memory"); return -1; }
    for (int i = 0; i < N; i++) at[i] = -2;
    at[m->input->id] = -1;
    active[m->logits->id] = 1;
    for (int i = N - 1; i >= 0; i--) {
        nnc_node *x = g->nodes[i];
        if (!active[i]) continue;
        for (int k = 0; k < x->n_in; k++) active[x->in[k]->id] = 1;
    }
    for (int i = 0; i < N; i++)
        if (active[i])
            for (int k = 0; k < g->nodes[i]->n_in; k++) uses[g->nodes[i]->in[k]->id]++;
    int last = -1;
    layer *l = NULL;
#define GFAIL(...) do { snprintf(why, nwhy, __VA_ARGS__); ok = 0; goto out; } while (0)
#define NEED_INPUT(x) do { int r_ = at[(x)->id]; if (r_ < -1) GFAIL("node %d has no section", (x)->id); \
        if (r_ != last) { if (r_ == -1) GFAIL("a layer reads the model input after other layers (Darknet cannot refer to the input)"); \
            layer *rt_ = desc_add(d, L_ROUTE); if (!rt_) GFAIL("out of memory"); rt_->refs[0] = r_; rt_->n_refs = 1; last = d->n - 1; } } while (0)
#define ADD(t) do { if (!(l = desc_add(d, t))) GFAIL("out of memory"); } while (0)
    { /* the loss: [softmax] (cross-entropy), [cost] type=sse target=input or type=map */
        const nnc_node *ls = m->loss;
        const int red = ls ? *(const int *)(const void *)ls->attrs : -1; /* every loss's attrs start with the reduction */
        if (!ls || red != NNC_MEAN) GFAIL("a model without a mean-reduced loss has no [cost] form");
        if (ls->op == NNC_OP_CROSS_ENTROPY && ls->in[0] == m->logits) {
            const ce_attrs_w *ca = (const ce_attrs_w *)(const void *)ls->attrs;
            if (ca->smoothing != 0 || ca->has_ignore) GFAIL("a cross-entropy with label smoothing or an ignore index has no [cost] form");
            d->loss = LOSS_CE;
        } else if (ls->op == NNC_OP_MSE && ls->in[0] == m->logits && ls->in[1] == m->input) {
            d->loss = LOSS_MSE_INPUT;
        } else if (ls->op == NNC_OP_RBF_MAP_LOSS && m->logits->op == NNC_OP_SCALAR_AFFINE && ls->in[0] == m->logits->in[0]) {
            d->loss = LOSS_MAP;
            d->loss_j = ((const map_attrs_w *)(const void *)ls->attrs)->j;
        } else GFAIL("the loss '%s' has no [cost] form", nnc_node_op(ls));
    }
    for (int i = 0; i < N; i++) {
        nnc_node *x = g->nodes[i];
        if (!active[i] || done[i] || x->op < 0) continue;
        nnc_node *y = x; /* the node the section's output is */
        char sc[96];
        switch (x->op) {
        case NNC_OP_CONV2D: case NNC_OP_LINEAR: {
            int conv = x->op == NNC_OP_CONV2D;
            nnc_node *w = x->in[1];
            NEED_INPUT(x->in[0]);
            if (conv) {
                const int *ca = (const int *)(const void *)x->attrs; /* stride[2], pad[2], dil[2], groups */
                if (w->out.shape[2] != w->out.shape[3] || ca[2] != ca[3] || ca[4] != ca[5])
                    GFAIL("conv2d '%s': a non-square kernel, padding or dilation has no [convolutional] form", nnc_node_name(w));
                ADD(L_CONV);
                l->size = (int)w->out.shape[2];
                l->stride[0] = ca[0]; l->stride[1] = ca[1];
                l->padding = ca[2];
                l->dilation = ca[4];
                l->groups = ca[6] ? ca[6] : 1;
            } else {
                ADD(L_FC);
            }
            l->filters = (int)w->out.shape[0];
            l->bias = x->n_in > 2;
            l->init98 = is_lecun98(w, l->bias ? x->in[2] : NULL,
                                   conv ? (double)(w->out.shape[1] * w->out.shape[2] * w->out.shape[3]) : (double)w->out.shape[1]);
            snprintf(l->name, sizeof l->name, "%s", param_scope(w, sc, sizeof sc));
            for (int q = 0; l->name[0] && q < d->n - 1; q++)
                if (!strcmp(d->l[q].name, l->name)) l->name[0] = 0;
            if (l->name[0] && (isdigit((unsigned char)l->name[0]) || l->name[0] == '-')) l->name[0] = 0;
            /* fuse a following batch norm and activation used only here */
            nnc_node *nx = NULL;
            for (int j = i + 1; j < N && uses[y->id] == 1; j++)
                if (active[j] && g->nodes[j]->n_in && g->nodes[j]->in[0] == y) { nx = g->nodes[j]; break; }
            if (nx && nx->op == NNC_OP_BATCHNORM && nx->n_in == 6 && uses[y->id] == 1) {
                l->bn = 1;
                param_scope(nx->in[1], sc, sizeof sc);
                char def[112];
                snprintf(def, sizeof def, "%s_bn", l->name);
                if (strcmp(sc, def)) snprintf(l->bn_name, sizeof l->bn_name, "%s", sc);
                done[nx->id] = 1;
                y = nx;
                nx = NULL;
                for (int j = y->id + 1; j < N && uses[y->id] == 1; j++)
                    if (active[j] && g->nodes[j]->n_in && g->nodes[j]->in[0] == y) { nx = g->nodes[j]; break; }
            }
            l->act = A_LINEAR;
            if (nx && uses[y->id] == 1 && act_of(nx) >= 0) {
                l->act = act_of(nx);
                done[nx->id] = 1;
                y = nx;
            }
            break;
        }
        case NNC_OP_BATCHNORM:
            if (x->n_in != 6) GFAIL("batchnorm without affine parameters or running statistics has no section");
            NEED_INPUT(x->in[0]);
            ADD(L_BN);
            snprintf(l->name, sizeof l->name, "%s", param_scope(x->in[1], sc, sizeof sc));
            break;
        case NNC_OP_MAXPOOL2D: case NNC_OP_AVGPOOL2D: {
            const nnc_pool2d_opts *po = (const nnc_pool2d_opts *)(const void *)x->attrs;
            nnc_node *ca = x->op == NNC_OP_AVGPOOL2D ? sole_user(g, active, uses, x) : NULL;
            if (ca && ca->op == NNC_OP_CHANNEL_AFFINE && ca->n_in == 3 && po->kernel[0] == po->kernel[1] &&
                po->stride[0] == po->kernel[0] && po->stride[1] == po->kernel[0] && !po->pad[0] && !po->pad[1] &&
                !po->ceil_mode && po->count_include_pad) { /* nnc_subsampling_layer: [subsampling] */
                char bn[112];
                param_scope(ca->in[1], sc, sizeof sc);
                snprintf(bn, sizeof bn, "%s.bias", sc);
                if (sc[0] && !strcmp(nnc_node_name(ca->in[1]) + strlen(sc), ".weight") && ca->in[2]->name &&
                    !strcmp(nnc_node_name(ca->in[2]), bn)) {
                    NEED_INPUT(x->in[0]);
                    ADD(L_SUB);
                    l->size = po->kernel[0];
                    scope_name(d, l, sc);
                    done[ca->id] = 1;
                    y = ca;
                    nnc_node *nx = sole_user(g, active, uses, y);
                    if (nx && act_of(nx) >= 0) { l->act = act_of(nx); done[nx->id] = 1; y = nx; }
                    break;
                }
            }
            if (po->kernel[0] != po->kernel[1] || po->pad[0] != po->pad[1])
                GFAIL("%s: a non-square window or padding has no section", nnc_node_op(x));
            NEED_INPUT(x->in[0]);
            ADD(x->op == NNC_OP_MAXPOOL2D ? L_MAXPOOL : L_AVGPOOL);
            l->size = po->kernel[0];
            l->stride[0] = po->stride[0]; l->stride[1] = po->stride[1];
            l->padding = 2 * po->pad[0];
            l->ceil_mode = po->ceil_mode;
            l->count_include_pad = po->count_include_pad;
            l->avg_sized = x->op == NNC_OP_AVGPOOL2D;
            break;
        }
        case NNC_OP_GLOBAL_AVGPOOL: NEED_INPUT(x->in[0]); ADD(L_AVGPOOL); break;
        case NNC_OP_DROPOUT:
            NEED_INPUT(x->in[0]);
            ADD(L_DROPOUT);
            l->p = ((const float *)(const void *)x->attrs)[0];
            break;
        case NNC_OP_RESHAPE:
            if (reshape_implied(g, m, d, active, x)) { /* by a recurrent section or [cost] target=input */
                if (at[x->in[0]->id] < -1) GFAIL("node %d has no section", x->in[0]->id);
                at[x->id] = at[x->in[0]->id];
                done[i] = 1;
                continue;
            }
            if (x->out.ndim != 2) GFAIL("a reshape other than a flatten or the ones a recurrent section or [cost] target=input imply has no section");
            NEED_INPUT(x->in[0]);
            ADD(L_FLATTEN);
            break;
        case NNC_OP_ADD: {
            nnc_node *a = x->in[0], *b = x->in[1];
            if (at[b->id] == last && at[a->id] != last) { nnc_node *t = a; a = b; b = t; }
            NEED_INPUT(a);
            if (at[b->id] < 0) GFAIL("a residual add from the model input has no [shortcut] form");
            ADD(L_SHORTCUT);
            l->refs[0] = at[b->id];
            l->n_refs = 1;
            l->act = A_LINEAR;
            nnc_node *nx = NULL;
            for (int j = i + 1; j < N && uses[x->id] == 1; j++)
                if (active[j] && g->nodes[j]->n_in && g->nodes[j]->in[0] == x) { nx = g->nodes[j]; break; }
            if (nx && act_of(nx) >= 0) { l->act = act_of(nx); done[nx->id] = 1; y = nx; }
            break;
        }
        case NNC_OP_CONCAT:
            if (((const int *)(const void *)x->attrs)[0] != 1)
                GFAIL("concat along axis %d has no [route] form (a route concatenates channels, axis 1)",
                      ((const int *)(const void *)x->attrs)[0]);
            if (x->n_in > MAX_REFS) GFAIL("concat of %d inputs (at most %d)", x->n_in, MAX_REFS);
            ADD(L_ROUTE);
            for (int k = 0; k < x->n_in; k++) {
                if (at[x->in[k]->id] < 0) GFAIL("a concat of the model input has no [route] form");
                l->refs[l->n_refs++] = at[x->in[k]->id];
            }
            break;
        case NNC_OP_LRN: {
            const lrn_attrs_w *la = (const lrn_attrs_w *)(const void *)x->attrs;
            NEED_INPUT(x->in[0]);
            ADD(la->paper_form ? L_NORMALIZATION : L_LRN);
            l->size = la->size;
            l->alpha = la->alpha;
            l->beta = la->beta;
            l->kappa = la->k;
            break;
        }
        case NNC_OP_CONV2D_TABLE: {
            const table_attrs_w *ta = (const table_attrs_w *)(const void *)x->attrs;
            nnc_node *w = x->in[1];
            if (ta->stride[0] != 1 || ta->stride[1] != 1 || ta->pad[0] || ta->pad[1] || x->n_in != 3 || w->out.shape[1] != w->out.shape[2])
                GFAIL("conv2d_table '%s': a stride, padding, non-square kernel or no bias has no [conv_table] form", nnc_node_name(w));
            int full = 1, lenet = ta->K == 16 && ta->C == 6;
            for (int k = 0; k < ta->K; k++)
                for (int c = 0; c < ta->C; c++) {
                    int64_t b = (int64_t)k * ta->C + c;
                    int on = (ta->bits[b >> 3] >> (b & 7)) & 1;
                    full &= on;
                    if (lenet) lenet &= on == (nnc_lenet5_c3_table[k][c] != 0);
                }
            if (!full && !lenet) GFAIL("conv2d_table '%s': a table other than full or LeNet-5's C3 has no [conv_table] form", nnc_node_name(w));
            NEED_INPUT(x->in[0]);
            ADD(L_TABLE);
            l->filters = ta->K;
            l->size = (int)w->out.shape[1];
            snprintf(l->table, sizeof l->table, "%s", full ? "full" : "lenet5");
            int64_t conns = 0;
            for (int64_t b = 0; b < (int64_t)ta->K * ta->C; b++) conns += (ta->bits[b >> 3] >> (b & 7)) & 1;
            l->init98 = is_lecun98(w, x->in[2], (double)conns * w->out.shape[1] * w->out.shape[2] / ta->K);
            scope_name(d, l, param_scope(w, sc, sizeof sc));
            nnc_node *nx = sole_user(g, active, uses, x);
            if (nx && act_of(nx) >= 0) { l->act = act_of(nx); done[nx->id] = 1; y = nx; }
            break;
        }
        case NNC_OP_RBF: {
            const rbf_attrs_w *ra = (const rbf_attrs_w *)(const void *)x->attrs;
            nnc_node *neg = sole_user(g, active, uses, x);
            const float *pa = neg ? (const float *)(const void *)neg->attrs : NULL;
            if (!neg || neg->op != NNC_OP_SCALAR_AFFINE || pa[0] != -1.0f || pa[1] != 0.0f)
                GFAIL("an rbf whose penalties are not negated into logits has no [rbf] form");
            if (ra->proto && ra->proto != &nnc_lenet5_1998_prototypes[0][0])
                GFAIL("rbf prototypes other than zeros or LeNet-5's bitmaps have no [rbf] form");
            NEED_INPUT(x->in[0]);
            ADD(L_RBF);
            l->filters = (int)x->in[1]->out.shape[0];
            l->protos = ra->proto != NULL;
            scope_name(d, l, param_scope(x->in[1], sc, sizeof sc));
            done[neg->id] = 1;
            y = neg;
            break;
        }
        case NNC_OP_RNN: {
            NEED_INPUT(x->in[0]);
            ADD(L_RNN);
            y = rnn_block(g, x, active, uses, done, l, why, nwhy);
            if (!y) { ok = 0; goto out; }
            char nm[96];
            snprintf(nm, sizeof nm, "%s", l->name);
            scope_name(d, l, nm);
            l->pool = P_NONE;
            nnc_node *sp = sole_user(g, active, uses, y);
            if (sp && sp->op == NNC_OP_SEQ_POOL && sp->n_in == 1) { /* fused as pool= */
                l->pool = *(const int *)(const void *)sp->attrs + 1;
                done[sp->id] = 1;
                y = sp;
            }
            break;
        }
        default:
            if (act_of(x) >= 0) {
                NEED_INPUT(x->in[0]);
                ADD(L_ACT);
                l->act = act_of(x);
                break;
            }
            GFAIL("op '%s' (node %d) has no .cfg section yet", nnc_node_op(x), x->id);
        }
        done[i] = 1;
        last = d->n - 1;
        at[y->id] = last;
        if (y != x) at[x->id] = -2;
    }
    if (at[m->logits->id] != last) GFAIL("the logits are not the last section");
    if (d->loss == LOSS_CE) ADD(L_SOFTMAX);
    else ADD(L_COST);
out:
#undef GFAIL
#undef NEED_INPUT
#undef ADD
    free(active);
    free(done);
    free(uses);
    free(at);
    return ok;
}

/* Writes a built model (its graph, walked by graph_desc) as a .cfg; title
 * names it in the first line and in errors. */
nnc_status nnc_cfg_write_model(nnc_model *m, const char *title, void *file) {
    if (!m || !m->g || !m->input || !m->logits || !title || !file) return nnc_error(NNC_ERR_ARG, "nnc_cfg_write_model: NULL argument");
    desc d;
    char why[300] = "";
    int r = graph_desc(m, &d, why, sizeof why);
    if (r <= 0) {
        free(d.l);
        return nnc_error(r < 0 ? NNC_ERR_OOM : NNC_ERR_UNSUPPORTED, "export-cfg: model '%s' cannot be written as a .cfg: %s", title,
                         why);
    }
    desc_write(&d, (FILE *)file, title);
    free(d.l);
    return fflush((FILE *)file) || ferror((FILE *)file) ? nnc_error(NNC_ERR_IO, "export-cfg: write error") : NNC_OK;
}

nnc_status nnc_model_write_cfg(const char *model, const nnc_model_opts *opts, void *file) {
    if (!model || !file) return nnc_error(NNC_ERR_ARG, "nnc_model_write_cfg: NULL argument");
    desc d;
    size_t len = strlen(model);
    if (strchr(model, '/') || (len > 4 && !strcmp(model + len - 4, ".cfg"))) {
        nnc_cfg_opts co = {0, warn_no_notes, NULL, NULL};
        char *buf;
        size_t n;
        nnc_status s = cfg_load(model, &buf, &n);
        if (!s) s = cfg_read(model, buf, n, &co, &d);
        if (s) return s;
        if (opts && (opts->in_channels || opts->height || opts->width)) {
            if (opts->in_channels) d.c = opts->in_channels;
            if (opts->height) d.h = opts->height;
            if (opts->width) d.w = opts->width;
        }
    } else {
        int r = zoo_desc(model, opts, &d);
        if (r < 0) { free(d.l); return nnc_error(NNC_ERR_OOM, "out of memory"); }
        if (!r) { /* any other zoo model: from its graph */
            free(d.l);
            nnc_model *m = NULL;
            nnc_status s = nnc_model_build(model, opts, &m);
            if (!s) s = nnc_cfg_write_model(m, model, file);
            nnc_model_free(m);
            return s;
        }
    }
    desc_write(&d, (FILE *)file, model);
    free(d.l);
    return fflush((FILE *)file) || ferror((FILE *)file) ? nnc_error(NNC_ERR_IO, "export-cfg: write error") : NNC_OK;
}
