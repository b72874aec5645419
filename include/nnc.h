/*
 * nnc.h -- the one public header of nnc, a deep-learning framework in C.
 *
 * A five-minute tour:
 *
 *   nnc_graph *g = nnc_graph_new();
 *   nnc_node *x = nnc_input(g, "x", NNC_F32, 3, (int64_t[]){1, 28, 28});
 *   nnc_node *y = nnc_input(g, "y", NNC_I64, 0, NULL);     // one label per sample
 *   nnc_node *h = nnc_flatten(g, x);
 *   h = nnc_relu(g, nnc_linear_layer(g, h, "fc1", 128, 1));
 *   nnc_node *logits = nnc_linear_layer(g, h, "fc2", 10, 1);
 *   nnc_graph_output(g, logits);
 *   nnc_graph_loss(g, nnc_cross_entropy(g, logits, y, NNC_MEAN), 1.0f);
 *   if (nnc_graph_status(g)) puts(nnc_last_error());        // builders keep a sticky error
 *
 *   nnc_optim opt = nnc_optim_sgd(0.05f, 0.9f, 5e-4f);
 *   nnc_graph_set_optimizer(g, &opt);
 *   nnc_graph_compile(g, 64, 1);                           // batch 64, training mode
 *   ... copy a batch into nnc_node_value(x)->data and nnc_node_value(y)->data ...
 *   nnc_graph_train_step(g);                                // forward, backward, update
 *
 * Every input node has an implicit leading batch dimension, fixed by
 * nnc_graph_compile(). Parameters and state are allocated once, on the first
 * compile, and kept when the graph is compiled again for another batch size or
 * mode. Everything a caller can get wrong returns an nnc_status, with
 * nnc_last_error() naming the problem. The library never exits.
 */
#ifndef NNC_H
#define NNC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NNC_VERSION "0.1.0"

/* ------------------------------------------------------------------ status */
typedef enum nnc_status {
    NNC_OK = 0,
    NNC_ERR_ARG,         /* a bad argument: NULL, negative size, unknown name */
    NNC_ERR_SHAPE,       /* shapes that do not fit together */
    NNC_ERR_IO,          /* a file could not be opened, read or written */
    NNC_ERR_FORMAT,      /* a file's content is malformed */
    NNC_ERR_OOM,         /* out of memory, or over a memory limit */
    NNC_ERR_STATE,       /* a call out of order (e.g. forward before compile) */
    NNC_ERR_NUMERIC,     /* NaN/Inf, or a gradient check failure */
    NNC_ERR_UNSUPPORTED  /* valid, but not implemented */
} nnc_status;

/* The message of the last error raised on this thread. */
const char *nnc_last_error(void);
const char *nnc_status_name(nnc_status s);
/* Raises an error (used by the library, available to extensions): sets the
 * thread's message and returns s. */
nnc_status nnc_error(nnc_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ----------------------------------------------------------------- tensors */
typedef enum nnc_dtype { NNC_F32 = 0, NNC_I32, NNC_I64, NNC_U8, NNC_F64 } nnc_dtype;
typedef enum nnc_layout {
    NNC_LAYOUT_PLAIN = 0, /* row-major, NCHW for images */
    NNC_LAYOUT_BLOCKED16  /* oneDNN nChw16c, only inside chains of oneDNN ops: [N, ceil(C/16), H, W, 16],
                             channels past C (padding) zero */
} nnc_layout;

#define NNC_MAX_DIMS 6
typedef struct nnc_tensor {
    nnc_dtype dtype;
    int ndim;
    int64_t shape[NNC_MAX_DIMS];
    nnc_layout layout;
    void *data;
    /* Elements from one batch item to the next when the tensor is a window
     * of a wider one (an intermediate tensor the compiler placed inside a
     * channel concatenation's buffer); 0: dense, shape[1..] apart. */
    int64_t bstride;
} nnc_tensor;

size_t nnc_dtype_size(nnc_dtype dt);
const char *nnc_dtype_name(nnc_dtype dt);
int64_t nnc_tensor_numel(const nnc_tensor *t);
/* Bytes of storage: numel elements, or with the blocked layout the
 * channels padded to a multiple of 16. */
size_t nnc_tensor_bytes(const nnc_tensor *t);
/* Sets dtype and shape and allocates zeroed data owned by the caller
 * (release with nnc_tensor_free). Refuses negative sizes and overflow. */
nnc_status nnc_tensor_alloc(nnc_tensor *t, nnc_dtype dt, int ndim, const int64_t *shape);
void nnc_tensor_free(nnc_tensor *t);
/* "[64, 1, 28, 28]" into buf. */
const char *nnc_shape_str(const nnc_tensor *t, char *buf, size_t n);

/* ------------------------------------------------------------------- graph */
typedef struct nnc_graph nnc_graph;
typedef struct nnc_node nnc_node;

nnc_graph *nnc_graph_new(void);
void nnc_graph_free(nnc_graph *g);
/* The first error any builder met (sticky; later builders return NULL). */
nnc_status nnc_graph_status(const nnc_graph *g);
const char *nnc_graph_error(const nnc_graph *g);
/* Seed of every random stream of the graph: initialization, dropout. */
void nnc_graph_set_seed(nnc_graph *g, uint64_t seed);
uint64_t nnc_graph_seed(const nnc_graph *g);

/* Hierarchical names: parameters created inside push("layer1")/push("0")
 * are named "layer1.0.<name>". */
void nnc_scope_push(nnc_graph *g, const char *name);
void nnc_scope_pop(nnc_graph *g);

/* Initializers. PyTorch's default for Linear/Conv is uniform(+-1/sqrt(fan_in)). */
/* The shape-based kinds use PyTorch's fans: fan_in = shape[1]*prod(shape[2:]),
 * fan_out = shape[0]*prod(shape[2:]) (a 1-D parameter: both = its length). */
typedef enum nnc_init_kind {
    NNC_INIT_ZEROS = 0,
    NNC_INIT_CONST,   /* a */
    NNC_INIT_UNIFORM, /* U(a, b) */
    NNC_INIT_NORMAL,  /* N(mean a, std b) */
    NNC_INIT_XAVIER_UNIFORM, /* U(+-gain sqrt(6/(fan_in+fan_out))), gain a (0 means 1) */
    NNC_INIT_XAVIER_NORMAL,  /* N(0, gain sqrt(2/(fan_in+fan_out))), gain a (0 means 1) */
    NNC_INIT_KAIMING_UNIFORM,/* U(+-gain sqrt(3/fan)), gain sqrt(2/(1+a^2)), a = leaky slope (0: relu),
                                fan = fan_in if b == NNC_FAN_IN (0), fan_out if b == NNC_FAN_OUT (1) */
    NNC_INIT_KAIMING_NORMAL, /* N(0, gain/sqrt(fan)), same a and b */
    NNC_INIT_LECUN_NORMAL,   /* N(0, 1/sqrt(fan_in)) */
    NNC_INIT_ORTHOGONAL      /* QR of a normal [shape[0], numel/shape[0]] matrix (PyTorch's), times gain a (0 means 1) */
} nnc_init_kind;
enum { NNC_FAN_IN = 0, NNC_FAN_OUT = 1 };
typedef struct nnc_init { nnc_init_kind kind; float a, b; } nnc_init;

/* Leaves. Inputs get a leading batch dimension at compile time (shape
 * excludes it; ndim 0 means one scalar per sample, e.g. a label). */
nnc_node *nnc_input(nnc_graph *g, const char *name, nnc_dtype dt, int ndim, const int64_t *shape);
/* A trainable f32 parameter, named inside the current scope. */
nnc_node *nnc_param(nnc_graph *g, const char *name, int ndim, const int64_t *shape, nnc_init init);
/* State: saved and loaded with the parameters, never trained (BN running stats). */
nnc_node *nnc_state(nnc_graph *g, const char *name, nnc_dtype dt, int ndim, const int64_t *shape, double value);
/* Ask for d(loss)/d(input) (gradient checking, adversarial inputs...). */
void nnc_input_requires_grad(nnc_node *input);
/* Exclude a parameter from training (no gradient, no update). */
void nnc_param_freeze(nnc_node *param, int frozen);

/* Outputs are kept readable after forward; losses are summed with weights. */
void nnc_graph_output(nnc_graph *g, nnc_node *n);
void nnc_graph_loss(nnc_graph *g, nnc_node *loss, float weight);

/* --------------------------------------------------------------------- ops */
typedef enum nnc_reduction { NNC_MEAN = 0, NNC_SUM } nnc_reduction;

/* y[N,out] = x[N,in] w[out,in]^T + b[out]; x is flattened after dim 0; b may be NULL. */
nnc_node *nnc_linear(nnc_graph *g, nnc_node *x, nnc_node *w, nnc_node *b);

/* Geometry of a 2-D convolution; zero stride/dilation/groups mean 1. */
typedef struct nnc_conv2d_opts {
    int stride[2], pad[2], dilation[2], groups;
} nnc_conv2d_opts;
/* y[N,K,OH,OW] = conv(x[N,C,H,W], w[K,C/groups,R,S]) + b[K]; b may be NULL. */
nnc_node *nnc_conv2d(nnc_graph *g, nnc_node *x, nnc_node *w, nnc_node *b, const nnc_conv2d_opts *o);

/* Pooling windows; zero stride means stride = kernel (PyTorch's default). */
typedef struct nnc_pool2d_opts {
    int kernel[2], stride[2], pad[2];
    int ceil_mode;
    int count_include_pad; /* average pooling: divide by the full window (PyTorch default 1) */
} nnc_pool2d_opts;
nnc_node *nnc_maxpool2d(nnc_graph *g, nnc_node *x, const nnc_pool2d_opts *o);
nnc_node *nnc_avgpool2d(nnc_graph *g, nnc_node *x, const nnc_pool2d_opts *o);
/* [N,C,H,W] -> [N,C,1,1] */
nnc_node *nnc_global_avgpool(nnc_graph *g, nnc_node *x);

/* Shape: ndim/shape exclude the batch dim; one entry may be -1. */
nnc_node *nnc_reshape(nnc_graph *g, nnc_node *x, int ndim, const int64_t *shape);
nnc_node *nnc_flatten(nnc_graph *g, nnc_node *x); /* [N, ...] -> [N, prod] */
nnc_node *nnc_add(nnc_graph *g, nnc_node *a, nnc_node *b);
nnc_node *nnc_concat(nnc_graph *g, int n, nnc_node *const *xs); /* along axis 1 */

nnc_node *nnc_relu(nnc_graph *g, nnc_node *x);
nnc_node *nnc_sigmoid(nnc_graph *g, nnc_node *x);
nnc_node *nnc_tanh(nnc_graph *g, nnc_node *x);
nnc_node *nnc_softmax(nnc_graph *g, nnc_node *x);     /* over axis 1 */
nnc_node *nnc_log_softmax(nnc_graph *g, nnc_node *x); /* over axis 1 */
/* Inverted dropout: zero with probability p and scale by 1/(1-p) in training;
 * identity in eval. */
nnc_node *nnc_dropout(nnc_graph *g, nnc_node *x, float p);
/* Batch norm over axis 1 of [N,C] or [N,C,H,W]. gamma/beta may be NULL
 * (affine=False); running_mean/var are f32 state [C], num_batches_tracked i64
 * state [] (may be NULL). PyTorch's momentum (new = (1-m) old + m batch) and
 * unbiased running variance. */
nnc_node *nnc_batchnorm(nnc_graph *g, nnc_node *x, nnc_node *gamma, nnc_node *beta,
                        nnc_node *running_mean, nnc_node *running_var,
                        nnc_node *num_batches_tracked, float eps, float momentum);

/* Losses produce a scalar. nnc_cross_entropy: softmax cross-entropy over
 * logits [N, C] with labels [N], or per step over logits [N, T, C] with
 * labels [N, T] (the mean is over all N*T rows); labels are i32 or i64 class
 * ids in [0, C). For padded sequences use nnc_cross_entropy_seq (an ignore
 * index). nnc_mse: mean (or sum) of (pred - target)^2, equal shapes. */
nnc_node *nnc_cross_entropy(nnc_graph *g, nnc_node *logits, nnc_node *labels, nnc_reduction r);
nnc_node *nnc_mse(nnc_graph *g, nnc_node *pred, nnc_node *target, nnc_reduction r);

/* ---- more activations and losses (issue 3) */
/* @@SECTION ops-act-loss@@ */
/* Elementwise activations with PyTorch's definitions and defaults (in brackets). */
nnc_node *nnc_leaky_relu(nnc_graph *g, nnc_node *x, float negative_slope); /* x > 0 ? x : slope x [0.01] */
nnc_node *nnc_elu(nnc_graph *g, nnc_node *x, float alpha);                 /* x > 0 ? x : alpha (e^x - 1) [1] */
nnc_node *nnc_selu(nnc_graph *g, nnc_node *x);       /* scale * elu(x, alpha), PyTorch's constants */
nnc_node *nnc_hardtanh(nnc_graph *g, nnc_node *x, float min_val, float max_val); /* clamp [-1, 1] */
nnc_node *nnc_softsign(nnc_graph *g, nnc_node *x);   /* x / (1 + |x|) */
/* log(1 + exp(beta x)) / beta, and x itself where beta x > threshold [1, 20]. */
nnc_node *nnc_softplus(nnc_graph *g, nnc_node *x, float beta, float threshold);
/* Randomized leaky ReLU [1/8, 1/3]: in training each negative element gets a
 * slope ~ U(lower, upper) from the graph's counter-based stream (seed, node,
 * step, element); in eval the slope is (lower + upper) / 2, as PyTorch. */
nnc_node *nnc_rrelu(nnc_graph *g, nnc_node *x, float lower, float upper);
/* Parametric ReLU: x > 0 ? x : w_c x; weight [C] (channel = axis 1) or [1]. */
nnc_node *nnc_prelu(nnc_graph *g, nnc_node *x, nnc_node *weight);
/* Creates "<name>.weight" [num_parameters] = 0.25 (PyTorch's init); num_parameters
 * is 1 (shared) or the channel count. */
nnc_node *nnc_prelu_layer(nnc_graph *g, nnc_node *x, const char *name, int64_t num_parameters);

/* More losses (scalar output; r = mean over elements / samples, or sum). pred
 * and target: f32 with the same number of elements. */
nnc_node *nnc_l1_loss(nnc_graph *g, nnc_node *pred, nnc_node *target, nnc_reduction r); /* |p - t| */
/* PyTorch HuberLoss: d = p - t; 0.5 d^2 if |d| < delta else delta (|d| - 0.5 delta) [delta 1]. */
nnc_node *nnc_huber_loss(nnc_graph *g, nnc_node *pred, nnc_node *target, nnc_reduction r, float delta);
/* PyTorch SmoothL1Loss = HuberLoss(delta = beta) / beta [beta 1]. */
nnc_node *nnc_smooth_l1_loss(nnc_graph *g, nnc_node *pred, nnc_node *target, nnc_reduction r, float beta);
/* Multi-class hinge on logits [N, C] and labels [N] (i32/i64). paper_form 0:
 * PyTorch MultiMarginLoss (p=1): sum_{i != y} max(0, margin - x_y + x_i) / C
 * [margin 1]; paper_form 1: the Weston-Watkins form, without the / C. */
nnc_node *nnc_multi_margin_loss(nnc_graph *g, nnc_node *logits, nnc_node *labels, nnc_reduction r, float margin,
                                int paper_form);
/* Binary hinge: max(0, 1 - t x) with targets t in {-1, +1} as f32 (no PyTorch equivalent). */
nnc_node *nnc_hinge_loss(nnc_graph *g, nnc_node *scores, nnc_node *targets, nnc_reduction r);
/* PyTorch BCEWithLogitsLoss (no weights): max(x, 0) - x t + log(1 + exp(-|x|)), t in [0, 1]. */
nnc_node *nnc_bce_with_logits(nnc_graph *g, nnc_node *logits, nnc_node *targets, nnc_reduction r);
/* nnc_cross_entropy with PyTorch's label_smoothing eps in [0, 1]:
 * (1 - eps) nll + eps mean_c(-log p_c). */
nnc_node *nnc_cross_entropy_ls(nnc_graph *g, nnc_node *logits, nnc_node *labels, nnc_reduction r, float label_smoothing);

/* LeCun 1998's squashing f(a) = amplitude tanh(slope a) (1.7159, 2/3). */
nnc_node *nnc_scaled_tanh(nnc_graph *g, nnc_node *x, float amplitude, float slope);
/* y = a x + b with constant scalars (no parameters). */
nnc_node *nnc_scalar_affine(nnc_graph *g, nnc_node *x, float a, float b);
/* LeNet-5's MAP loss on RBF penalties y [N, classes] (LeCun 1998, eq. 9):
 * E = y_label + log(exp(-j) + sum_i exp(-y_i)), mean or sum over samples. */
nnc_node *nnc_rbf_map_loss(nnc_graph *g, nnc_node *penalties, nnc_node *labels, float j, nnc_reduction r);

/* ---- convolution relatives (issue 3) */
/* @@SECTION ops-conv@@ */
/* Geometry of a 1-D convolution; zero stride/dilation/groups mean 1. */
typedef struct nnc_conv1d_opts { int stride, pad, dilation, groups; } nnc_conv1d_opts;
/* y[N,K,OL] = conv(x[N,C,L], w[K,C/groups,k]) + b[K]; b may be NULL. A
 * composite: reshapes around conv2d with a 1 x k kernel. */
nnc_node *nnc_conv1d(nnc_graph *g, nnc_node *x, nnc_node *w, nnc_node *b, const nnc_conv1d_opts *o);
/* PyTorch Conv1d: "<name>.weight" [K,C/groups,k], "<name>.bias" [K], U(+-1/sqrt(fan_in)). */
nnc_node *nnc_conv1d_layer(nnc_graph *g, nnc_node *x, const char *name, int64_t out_channels, int k, const nnc_conv1d_opts *o,
                           int bias);
/* Convolution with a connection table: output map k sees input map c only
 * where table[k*in_channels + c] is 1. Weights packed: w [n_connections, R, S],
 * connections in row-major table order; b [K] may be NULL. Stride and padding
 * from o (dilation and groups must be unset). At most 672 table entries. */
nnc_node *nnc_conv2d_table(nnc_graph *g, nnc_node *x, nnc_node *w, nnc_node *b, int64_t out_channels, int64_t in_channels,
                           const unsigned char *table, const nnc_conv2d_opts *o);
/* Layer (stride 1, no padding): "<name>.weight" [connections,kh,kw] and
 * "<name>.bias" [K], U(+-1/sqrt(mean fan-in)); table is [out_channels][C]. */
nnc_node *nnc_conv2d_table_layer(nnc_graph *g, nnc_node *x, const char *name, int64_t out_channels, int kh, int kw,
                                 const unsigned char *table);
/* LeNet-5's C3 table (LeCun et al. 1998, Table I): [output map][input map]. */
extern const unsigned char nnc_lenet5_c3_table[16][6];
/* Fills table [out_channels][in_channels] with 1 at each (out, in) pair, 0 elsewhere. */
nnc_status nnc_conv_table_from_pairs(unsigned char *table, int64_t out_channels, int64_t in_channels, int n_pairs,
                                     const int (*pairs)[2]);
/* Unshared-weight convolution: y[n,k,oh,ow] = b[k,oh,ow] + sum_{c,r,s}
 * w[oh*OW+ow, k, (c*kh+r)*kw+s] x[n,c,oh*sh-ph+r, ow*sw-pw+s]. w [OH*OW, K, C*kh*kw],
 * b [K,OH,OW] may be NULL; stride/pad may be NULL (1 and 0; zero stride = 1). */
nnc_node *nnc_locally_connected2d(nnc_graph *g, nnc_node *x, nnc_node *w, nnc_node *b, int kh, int kw, const int stride[2],
                                  const int pad[2]);
/* Layer: "<name>.weight" and "<name>.bias" shaped as above, U(+-1/sqrt(C*kh*kw)). */
nnc_node *nnc_locally_connected2d_layer(nnc_graph *g, nnc_node *x, const char *name, int64_t out_channels, int kh, int kw,
                                        const int stride[2], const int pad[2], int bias);
/* Euclidean RBF units: y[n,i] = sum_j (x[n,j] - w[i,j])^2, x flattened after dim 0, w [out,in]. */
nnc_node *nnc_rbf(nnc_graph *g, nnc_node *x, nnc_node *w);
/* LeNet-5's output layer: "<name>.weight" [out,in] is a state (saved with the
 * model, never trained) filled from prototypes (out*in floats, row-major;
 * NULL: zeros). The values are copied at the first compile, so prototypes
 * must stay valid until then. LeNet-5's prototypes (7x12 bitmaps) come with
 * the model zoo. */
nnc_node *nnc_rbf_layer(nnc_graph *g, nnc_node *x, const char *name, int64_t out, const float *prototypes);
/* y[n,c,...] = x[n,c,...] scale[c] + shift[c] over axis 1; shift may be NULL. */
nnc_node *nnc_channel_affine(nnc_graph *g, nnc_node *x, nnc_node *scale, nnc_node *shift);
/* LeNet-style subsampling: average pooling (kernel x kernel, stride kernel),
 * then a trainable per-map coefficient "<name>.weight" [C] (init 1) and bias
 * "<name>.bias" [C] (init 0). LeCun 1998 sums the window (nnc averages: the
 * coefficient absorbs the factor kernel^2) and then applies a sigmoid (not
 * included here). */
nnc_node *nnc_subsampling_layer(nnc_graph *g, nnc_node *x, const char *name, int kernel);
/* Geometry of a 3-D convolution; zero stride/dilation/groups mean 1. */
typedef struct nnc_conv3d_opts {
    int stride[3], pad[3], dilation[3], groups; /* (depth, height, width) */
} nnc_conv3d_opts;
/* y[N,K,OD,OH,OW] = conv(x[N,C,D,H,W], w[K,C/groups,T,R,S]) + b[K]; b may be NULL. */
nnc_node *nnc_conv3d(nnc_graph *g, nnc_node *x, nnc_node *w, nnc_node *b, const nnc_conv3d_opts *o);
/* PyTorch Conv3d: "<name>.weight" [K,C/groups,kt,kh,kw], "<name>.bias" [K], U(+-1/sqrt(fan_in)). */
nnc_node *nnc_conv3d_layer(nnc_graph *g, nnc_node *x, const char *name, int64_t out_channels, int kt, int kh, int kw,
                           const nnc_conv3d_opts *o, int bias);

/* ---- normalization (issue 3) */
/* @@SECTION ops-norm@@ */
/* Local response normalization across channels of [N,C,...]:
 * y_c = x_c / (k + a * sum_{c' = c-size/2 .. c+(size-1)/2} x_c'^2)^beta (zero-padded),
 * a = alpha/size (PyTorch LocalResponseNorm, paper_form 0) or a = alpha
 * (AlexNet, paper_form 1). AlexNet: size 5, alpha 1e-4, beta 0.75, k 2. */
nnc_node *nnc_lrn(nnc_graph *g, nnc_node *x, int size, float alpha, float beta, float k, int paper_form);
/* Group norm of [N,C,...] over (C/groups channels x spatial) per sample;
 * weight/bias [C] may be NULL. The layer creates "<name>.weight" (1) and
 * "<name>.bias" (0) when affine (PyTorch GroupNorm, eps 1e-5). */
nnc_node *nnc_group_norm(nnc_graph *g, nnc_node *x, nnc_node *weight, nnc_node *bias, int groups, float eps);
nnc_node *nnc_group_norm_layer(nnc_graph *g, nnc_node *x, const char *name, int groups, float eps, int affine);
/* Layer norm over the last ndims dimensions of x (never the batch dim);
 * weight/bias shaped like those dimensions, may be NULL. The layer creates
 * "<name>.weight" (1) and "<name>.bias" (0) when affine (PyTorch LayerNorm). */
nnc_node *nnc_layer_norm(nnc_graph *g, nnc_node *x, nnc_node *weight, nnc_node *bias, int ndims, float eps);
nnc_node *nnc_layer_norm_layer(nnc_graph *g, nnc_node *x, const char *name, int ndims, float eps, int affine);

/* Layers: create named parameters with PyTorch's default initialization
 * ("<scope>.<name>.weight", ".bias") and apply the op. */
nnc_node *nnc_linear_layer(nnc_graph *g, nnc_node *x, const char *name, int64_t out, int bias);
nnc_node *nnc_conv2d_layer(nnc_graph *g, nnc_node *x, const char *name, int64_t out_channels,
                           int kh, int kw, const nnc_conv2d_opts *o, int bias);
/* Creates weight/bias (affine), running_mean/var and num_batches_tracked. */
nnc_node *nnc_batchnorm_layer(nnc_graph *g, nnc_node *x, const char *name, float eps, float momentum);

/* The op table: names, one-line descriptions, attributes. */
int nnc_op_count(void);
const char *nnc_op_name(int i);
const char *nnc_op_doc(int i);
const char *nnc_op_attrs(int i);

/* ------------------------------------------------------------- node access */
nnc_tensor *nnc_node_value(nnc_node *n); /* shape from build (batch 1); data after compile */
nnc_tensor *nnc_node_grad(nnc_node *n);  /* NULL data unless it has a gradient */
/* Inputs, parameters, states, outputs and losses are always plain and hold
 * exactly their values. Intermediate tensors are the compiler's: one between
 * oneDNN ops (conv -> batch norm -> ReLU -> conv, with C a multiple of 16)
 * may be stored blocked after compiling (layout NNC_LAYOUT_BLOCKED16:
 * [N, C/16, H, W, 16]; so may the gradient of a batch norm computed inside
 * the convolution after it, with C padded to 16; read them with
 * nnc_tensor_read_plain), and a ReLU may be fused into its neighbour (a
 * ReLU feeding max pooling is applied after the pooling; its own tensor
 * then shares its input's memory and holds the values before the ReLU), and
 * in training a batch norm's output or a concatenation may be freed after
 * its forward readers and rebuilt for backward (or, for a batch norm before
 * a convolution, never written: the convolution computes it in its own
 * layout), and a concatenation's input
 * may be a window of the concatenation's buffer (bstride != 0: batch items
 * bstride elements apart; nnc_tensor_read_plain reads it). To read an intermediate
 * tensor, mark it an output (nnc_graph_output), or turn all of this off for
 * the graph before compiling with nnc_graph_set_plain_intermediates (in the
 * environment, NNC_LAYOUT=plain turns off blocked layouts, NNC_FUSE=0
 * fusion, recomputation and in-place concatenation, NNC_RECOMPUTE=0
 * recomputation, NNC_FOLD_BN=0 batch norms computed inside the convolution
 * after them, NNC_BN_BLOCKED_DY=0 their blocked gradients,
 * NNC_CONCAT_INPLACE=0 in-place concatenation). */
void nnc_graph_set_plain_intermediates(nnc_graph *g, int on);
/* Copies t's values into dst (numel floats) in plain row-major order,
 * whatever t's layout. */
nnc_status nnc_tensor_read_plain(const nnc_tensor *t, float *dst);
const char *nnc_node_name(const nnc_node *n);
const char *nnc_node_op(const nnc_node *n);
/* Names an op node ("fc1"): used in messages, summaries and nnc_graph_find. */
void nnc_node_set_name(nnc_node *n, const char *name);
nnc_node *nnc_graph_find(nnc_graph *g, const char *name);
int nnc_graph_n_params(const nnc_graph *g);
nnc_node *nnc_graph_param_at(nnc_graph *g, int i);
int nnc_graph_n_state(const nnc_graph *g);
nnc_node *nnc_graph_state_at(nnc_graph *g, int i);
int64_t nnc_graph_n_param_elems(const nnc_graph *g); /* trainable elements */

/* --------------------------------------------------------------- optimizer */
typedef enum nnc_optim_kind {
    NNC_OPTIM_SGD = 0, NNC_OPTIM_ADAM, NNC_OPTIM_ADAMW, NNC_OPTIM_RMSPROP, NNC_OPTIM_ADAGRAD
} nnc_optim_kind;
/* SGD momentum: PyTorch's v = mu v + g'; w -= lr v (default), or AlexNet's
 * v = mu v - lr g'; w += v (lr inside the buffer). Identical at a constant
 * rate, different after the rate changes. */
typedef enum nnc_momentum_form { NNC_MOMENTUM_PYTORCH = 0, NNC_MOMENTUM_ALEXNET } nnc_momentum_form;
typedef struct nnc_optim {
    nnc_optim_kind kind;
    float lr;
    float momentum;     /* SGD, RMSProp */
    float dampening;    /* SGD (PyTorch form) */
    int nesterov;       /* SGD (PyTorch form) */
    nnc_momentum_form momentum_form; /* SGD */
    float beta1, beta2, eps; /* Adam/AdamW; eps also RMSProp (1e-8) and Adagrad (1e-10) */
    float alpha;        /* RMSProp smoothing (0.99) */
    int centered;       /* RMSProp: divide by the centered (variance) estimate */
    float lr_decay, initial_accumulator; /* Adagrad */
    float weight_decay; /* L2 added to the gradient; AdamW: decoupled w -= lr wd w */
    /* Regularization, applied in the update (see optim.c):
     * l1:          adds l1 * sign(w) to the gradient
     * clip_value:  gradients clamped to [-c, c] (0: off), before any decay
     * clip_norm:   gradients scaled so their global L2 norm over all trainable
     *              parameters is <= c (0: off), after clip_value
     * max_norm:    after the step, each output row/filter (dim 0) of every
     *              parameter with >= 2 dims is rescaled to L2 norm <= c (0: off)
     * no_decay_bias_norm: weight decay and l1 skip biases and normalization
     *              parameters: names ending in ".bias"/equal to "bias", and
     *              every 1-D parameter (BatchNorm/LayerNorm weight and bias). */
    float l1, clip_value, clip_norm, max_norm;
    int no_decay_bias_norm;
} nnc_optim;
nnc_optim nnc_optim_sgd(float lr, float momentum, float weight_decay);
nnc_optim nnc_optim_adam(float lr, float weight_decay);
/* PyTorch defaults: AdamW betas (0.9, 0.999), eps 1e-8 (PyTorch's default wd is 0.01);
 * RMSProp alpha 0.99, eps 1e-8, not centered; Adagrad lr_decay 0, eps 1e-10, accumulator 0. */
nnc_optim nnc_optim_adamw(float lr, float weight_decay);
nnc_optim nnc_optim_rmsprop(float lr, float momentum, float weight_decay);
nnc_optim nnc_optim_adagrad(float lr, float weight_decay);
nnc_status nnc_graph_set_optimizer(nnc_graph *g, const nnc_optim *o);
void nnc_graph_set_lr(nnc_graph *g, float lr);

/* Allocates parameter and state storage and initializes it (idempotent;
 * compile calls it). After it, parameter values can be read and written. */
nnc_status nnc_graph_init_params(nnc_graph *g);
/* Re-draws every parameter from its initializer with the graph's seed. */
nnc_status nnc_graph_reset_params(nnc_graph *g);

/* @@SECTION ops-seq@@ */
/* ---- sequence ops (issue 5). Sequences are batch-first: x f32 [N, T, F];
 * token ids i32/i64 [N, T]; lengths i32 [N] with values in 1..T. */
/* Lookup table (PyTorch nn.Embedding): ids [N, ...] and weight [V, E] give
 * f32 [N, ..., E]. Rows of padding_idx get no gradient (-1: none). An id
 * outside [0, V) stops the run (NNC_ERR_ARG naming the node and position). */
nnc_node *nnc_embedding(nnc_graph *g, nnc_node *ids, nnc_node *weight, int64_t padding_idx);
/* Creates "<name>.weight" [vocab, dim] ~ N(0, 1) (PyTorch's init). */
nnc_node *nnc_embedding_layer(nnc_graph *g, nnc_node *ids, const char *name, int64_t vocab, int64_t dim);
/* ids [N, ...] -> f32 [N, ..., classes] one-hot vectors (no gradient). */
nnc_node *nnc_one_hot(nnc_graph *g, nnc_node *ids, int64_t classes);
/* x.narrow(axis, start, length): axis >= 1 (never the batch), negative
 * counts from the end; the range must lie inside the axis. */
nnc_node *nnc_slice(nnc_graph *g, nnc_node *x, int axis, int64_t start, int64_t length);
/* torch.cat along any non-batch axis (negative counts from the end);
 * nnc_concat is axis 1. */
nnc_node *nnc_concat_axis(nnc_graph *g, int n, nnc_node *const *xs, int axis);
/* One vector per sequence: x [N, T, F] -> [N, F]. The step len-1 (LAST),
 * step 0 (FIRST), the mean or the max (gradient to the first argmax) over the
 * first len steps. lengths i32/i64 [N] in 1..T, or NULL (every length T). */
typedef enum nnc_seq_pool_mode { NNC_SEQ_LAST = 0, NNC_SEQ_FIRST, NNC_SEQ_MEAN, NNC_SEQ_MAX } nnc_seq_pool_mode;
nnc_node *nnc_seq_pool(nnc_graph *g, nnc_node *x, nnc_node *lengths, nnc_seq_pool_mode mode);
/* Time-distributed linear (PyTorch nn.Linear on [N, T, I]): over the last
 * dim only, [N, ..., I] -> [N, ..., O]. The layer's parameters and init are
 * nnc_linear_layer's. */
nnc_node *nnc_linear_seq(nnc_graph *g, nnc_node *x, nnc_node *w, nnc_node *b);
nnc_node *nnc_linear_seq_layer(nnc_graph *g, nnc_node *x, const char *name, int64_t out, int bias);
/* Cross-entropy over [N, C] scores with labels [N], or per step over
 * [N, T, C] with labels [N, T]. Labels equal to ignore_index (PyTorch's
 * default -100) contribute nothing; the mean divides by the number of the
 * other labels (all ignored: loss 0, zero gradient). */
nnc_node *nnc_cross_entropy_seq(nnc_graph *g, nnc_node *logits, nnc_node *labels, nnc_reduction r, int64_t ignore_index);

/* ---- optimizers, schedules, regularization, initialization (issue 3) */
/* @@SECTION optim@@ */
/* Changes a parameter's initializer; before the first compile/init_params
 * (NNC_ERR_STATE after), NNC_ERR_ARG for an unknown kind. */
nnc_status nnc_param_set_init(nnc_node *param, nnc_init init);
/* Freezes every parameter whose name starts with prefix; returns how many. */
int nnc_graph_freeze(nnc_graph *g, const char *prefix);
/* Per-epoch learning-rate schedules (PyTorch's schedulers stepped once per
 * epoch). epoch is 0-based. With warmup W > 0 the rate is base*(e+1)/W for
 * e < W, and the schedule then runs from its own epoch 0 at epoch W (like
 * SequentialLR); total_epochs of poly/cosine counts the whole run, warm-up
 * included, so they decay over total_epochs - W epochs.
 *   none:      base
 *   step:      base * gamma^floor(k / step_size)
 *   multistep: base * gamma^(number of milestones m <= k+1); milestones are
 *              1-based epochs at whose start the rate drops (PyTorch's
 *              MultiStepLR milestone m-1); 0 ends the list
 *   exp:       base * gamma^k
 *   poly:      base * (1 - k/T)^power,                T = total - W
 *   cosine:    min_lr + (base - min_lr)(1 + cos(pi k/T))/2   (CosineAnnealingLR) */
typedef enum nnc_schedule_kind {
    NNC_SCHED_NONE = 0, NNC_SCHED_STEP, NNC_SCHED_MULTISTEP, NNC_SCHED_EXP, NNC_SCHED_POLY, NNC_SCHED_COSINE
} nnc_schedule_kind;
typedef struct nnc_schedule {
    nnc_schedule_kind kind;
    int warmup;          /* linear warm-up epochs (0: none) */
    int step_size;       /* step */
    int milestones[8];   /* multistep */
    float gamma;         /* step, multistep, exp */
    float power;         /* poly */
    float min_lr;        /* cosine */
    int total_epochs;    /* poly, cosine */
} nnc_schedule;
/* The rate at 0-based epoch `epoch`. */
float nnc_lr_at(const nnc_schedule *s, float base_lr, int epoch);
/* NNC_ERR_ARG with a message for a schedule that makes no sense. */
nnc_status nnc_schedule_check(const nnc_schedule *s);

/* ------------------------------------------------------------------- run */
/* Topological order, shape inference, gradient marking, memory planning for
 * this batch size and mode. Plans are cached: switching back is free.
 * Inputs live in the planned arena, so after a compile that switches plan
 * fetch nnc_node_value(input)->data again and refill it. */
nnc_status nnc_graph_compile(nnc_graph *g, int64_t batch, int training);
int64_t nnc_graph_batch(const nnc_graph *g);
nnc_status nnc_graph_forward(nnc_graph *g);
nnc_status nnc_graph_backward(nnc_graph *g); /* training plans only */
nnc_status nnc_graph_update(nnc_graph *g);   /* one optimizer step */
/* forward + backward + update; returns the status, loss in *loss if non-NULL. */
nnc_status nnc_graph_train_step(nnc_graph *g, float *loss);
/* The weighted sum of the losses after forward. */
float nnc_graph_loss_value(const nnc_graph *g);
/* Bytes of the current plan: planned activations/gradients/saved buffers,
 * workspace, and the sum of their sizes without reuse. */
typedef struct nnc_mem_info {
    size_t arena_bytes, unplanned_bytes, workspace_bytes, param_block_bytes, state_bytes;
} nnc_mem_info;
nnc_mem_info nnc_graph_mem_info(const nnc_graph *g);
/* Plans memory for (batch, training) without allocating anything -- not even
 * the parameters -- so a summary of a large model is cheap. */
nnc_status nnc_graph_plan_info(nnc_graph *g, int64_t batch, int training, nnc_mem_info *out);
/* Per-layer rows of a summary, for the op nodes the outputs depend on. */
typedef struct nnc_layer_info {
    const char *name, *op;
    int ndim;
    int64_t shape[NNC_MAX_DIMS]; /* per sample (batch excluded) */
    int64_t params;              /* trainable elements first used by this node */
    int64_t macs;                /* multiply-accumulates per sample */
    int64_t out_bytes;           /* output bytes per sample */
} nnc_layer_info;
/* Fills up to max rows (the graph's build-time shapes, batch 1); returns the count. */
int nnc_graph_layers(const nnc_graph *g, nnc_layer_info *rows, int max);
/* One line per node: op, name, output shape, parameter count (to FILE*). */
void nnc_graph_print(const nnc_graph *g, void *file);

/* ----------------------------------------------------------------- threads */
void nnc_set_threads(int n); /* OpenMP threads for nnc and oneDNN */
/* Plans whose forward pass has fewer multiply-accumulates than this (default
 * 2,000,000, e.g. batch-1 LeNet-5) run single-threaded: fork/join would cost
 * more than the work. 0 turns it off. Takes effect for plans compiled after. */
void nnc_set_small_plan_macs(int64_t macs);
int64_t nnc_get_small_plan_macs(void);
int nnc_get_threads(void);

/* ------------------------------------------------------ gradient checking */
typedef struct nnc_gradcheck_opts {
    int directions;      /* random directions (default 8) */
    double eps;          /* finite-difference step (default 1e-3) */
    double rtol, atol;   /* |num - ana| <= atol + rtol * max(|num|, |ana|) */
    int full_jacobian;   /* also compare every element (tiny graphs) */
    uint64_t seed;
} nnc_gradcheck_opts;
typedef struct nnc_gradcheck_result {
    double max_rel_err;  /* worst directional mismatch */
    double max_abs_err;
    int n_checked, n_failed;
    char worst[160];     /* which direction or element was worst */
} nnc_gradcheck_result;
nnc_gradcheck_opts nnc_gradcheck_defaults(void);
/* Checks the backward of a compiled training graph against central
 * differences of S = sum_k r_k . out_k (random projection of every output
 * and loss) with respect to every parameter and every input that requires a
 * gradient. Inputs must already hold values. Returns NNC_ERR_NUMERIC on a
 * mismatch (details in *res and nnc_last_error()). */
nnc_status nnc_gradcheck(nnc_graph *g, const nnc_gradcheck_opts *o, nnc_gradcheck_result *res);

/* ------------------------------------------------------------ random */
/* Counter-based random numbers: the same (seed, stream, counter) always gives
 * the same value, whatever the thread count. */
uint64_t nnc_rand_u64(uint64_t seed, uint64_t stream, uint64_t counter);
float nnc_rand_uniform(uint64_t seed, uint64_t stream, uint64_t counter); /* [0,1) */
float nnc_rand_normal(uint64_t seed, uint64_t stream, uint64_t counter);

/* ------------------------------------------------ safetensors (src/io) */
/* @@SECTION bench@@ */
/* ------------------------------------------------------- per-node timing
 * For profiles (`nnc bench --profile`): with timing on, forward and backward
 * add the wall-clock seconds of every op node's kernel into a caller-owned
 * row. rows[i] belongs to the node created i-th (leaves included, with op
 * NULL), so the rows whose op is non-NULL follow nnc_graph_layers' order.
 * Off (the default) it costs one branch per node. */
typedef struct nnc_node_time {
    const char *name, *op;         /* the node's name ("" if unnamed); op name, NULL for leaves */
    const char *param;             /* its first parameter input's name ("layer1.0.conv1.weight"), "" if none */
    double forward_s, backward_s;  /* seconds summed since timing was turned on */
    int64_t forward_calls, backward_calls;
} nnc_node_time;
/* Nodes created so far (leaves and ops). */
int nnc_graph_n_nodes(const nnc_graph *g);
/* rows non-NULL: zeroes rows[0..n), sets name/op and turns timing on; n must
 * be at least nnc_graph_n_nodes(g) (NNC_ERR_ARG otherwise). Nodes created
 * afterwards are not timed. rows NULL: off. The caller keeps rows alive
 * while timing is on. */
nnc_status nnc_graph_set_timing(nnc_graph *g, nnc_node_time *rows, int n);

/* @@SECTION rnn@@ */
/* ----------------------------------------------------------- recurrent layers
 * Sequences are batch-first: x f32 [N, T, features]. Cells follow PyTorch's
 * equations, gate order (LSTM i f g o, GRU r z n with a separate b_hn) and
 * parameter shapes. lengths: i32/i64 [N] in 1..T (NULL: all T); at steps
 * t >= length the state is carried and the output is zero, as with
 * PyTorch's packed sequences. */
typedef enum nnc_rnn_cell { NNC_RNN_TANH = 0, NNC_RNN_RELU, NNC_LSTM, NNC_GRU } nnc_rnn_cell;
enum { NNC_RNN_EMIT_SEQ = 1, NNC_RNN_EMIT_STATE = 2 };
/* One layer, one direction, fused (one GEMM for all input projections, the
 * time loop inside). Output along axis 1: the sequence [N, T, H] if emit has
 * NNC_RNN_EMIT_SEQ, then h_n (and c_n for LSTM) [N, 1, H] each if it has
 * NNC_RNN_EMIT_STATE. b_ih/b_hh both or neither; lengths, h0 [N, H] and
 * c0 [N, H] (LSTM) may be NULL. */
nnc_node *nnc_rnn(nnc_graph *g, nnc_rnn_cell cell, nnc_node *x, nnc_node *w_ih, nnc_node *w_hh, nnc_node *b_ih, nnc_node *b_hh,
                  nnc_node *lengths, nnc_node *h0, nnc_node *c0, int reverse, int emit);

typedef struct nnc_rnn_opts {
    nnc_rnn_cell cell;
    int64_t hidden;
    int layers;          /* stacked layers; 0 means 1 */
    int bidirectional;   /* outputs of both directions concatenated: [N, T, 2H] */
    int no_bias;
    float dropout;       /* on the outputs of every layer but the last, in training */
    nnc_node *lengths;   /* or NULL */
    nnc_node *h0, *c0;   /* f32 [N, layers * directions, H] (PyTorch's h0 batch-first), or NULL */
    int want_state;      /* also return h_n (and c_n) [N, layers * directions, H] */
} nnc_rnn_opts;
typedef struct nnc_rnn_out { nnc_node *y, *h_n, *c_n; } nnc_rnn_out;
/* torch.nn.RNN/LSTM/GRU(batch_first=True): parameters "<name>.weight_ih_l0",
 * "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "..._l0_reverse", ... so a
 * PyTorch state dict loads unchanged; initialized U(+-1/sqrt(hidden)). */
nnc_rnn_out nnc_rnn_layer(nnc_graph *g, nnc_node *x, const char *name, const nnc_rnn_opts *o);

/* A character (byte) corpus for language models (src/data/text.c): a file,
 * or a directory whose regular files (not hidden, not *.dat / *.u8) are
 * concatenated in sorted name order, e.g. /usr/share/games/fortunes.
 * ids[i] < vocab; byte_of maps ids back, id_of bytes to ids (-1: absent). */
typedef struct nnc_text {
    uint8_t *ids;
    int64_t n;
    int vocab;
    uint8_t byte_of[256];
    int16_t id_of[256];
} nnc_text;
nnc_status nnc_text_load(const char *path, nnc_text **out);
/* Re-maps t to a given vocabulary (a trained model's); a byte outside it is
 * an error naming its offset. */
nnc_status nnc_text_set_vocab(nnc_text *t, const uint8_t *bytes, int vocab);
void nnc_text_free(nnc_text *t);

/* @@SECTION io@@ */
/* Writes tensors to a safetensors file (the Hugging Face format): an 8-byte
 * little-endian header length N, then N bytes of compact JSON
 *   {"__metadata__":{"k":"v",...},"name":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},...}
 * (dtype F32|I32|I64|U8|F64; __metadata__ only when n_meta > 0; metadata keys
 * and tensor names each sorted), padded with spaces so N is a multiple of 8,
 * then the tensors' bytes in header order, contiguous. Tensors must be in the
 * plain layout; names must be distinct valid UTF-8 and not "__metadata__".
 * Atomic: written to "<path>.tmp.<pid>" in the same directory, fsync'd, renamed
 * over path, then the directory is fsync'd; on failure the temporary is removed
 * and an existing file at path is untouched. metadata may be 0/NULL. */
nnc_status nnc_safetensors_write(const char *path, int n, const char *const *names, const nnc_tensor *tensors,
                                 int n_meta, const char *const *meta_keys, const char *const *meta_values);
/* A safetensors file loaded and validated in memory. */
typedef struct nnc_safetensors nnc_safetensors;
/* Reads the whole file and validates it: at least 8 bytes; header length at
 * most the bytes that follow and at most 100 MB; the header a valid UTF-8 JSON
 * object without duplicate keys; each entry exactly dtype, shape (non-negative
 * integers, at most NNC_MAX_DIMS, size not overflowing) and data_offsets (two
 * integers, begin <= end, end - begin = the shape's byte size); the entries'
 * byte ranges tile the data region exactly (no gap, overlap or trailing byte);
 * __metadata__, if present, an object of strings. A violation is
 * NNC_ERR_FORMAT with a message naming the file and the key; a dtype that the
 * format knows but nnc lacks (F16, BF16, ...) or more than NNC_MAX_DIMS
 * dimensions is NNC_ERR_UNSUPPORTED; a missing or unreadable file NNC_ERR_IO. */
nnc_status nnc_safetensors_open(const char *path, nnc_safetensors **out);
int nnc_safetensors_count(const nnc_safetensors *f);
/* The i-th tensor name in sorted order, NULL when i is out of range. */
const char *nnc_safetensors_name(const nnc_safetensors *f, int i);
/* NULL if absent. The tensor's data points into the loaded file image (valid
 * until close); its data is aligned for its dtype. */
const nnc_tensor *nnc_safetensors_get(const nnc_safetensors *f, const char *name);
int nnc_safetensors_meta_count(const nnc_safetensors *f);
const char *nnc_safetensors_meta_key(const nnc_safetensors *f, int i); /* sorted; NULL out of range */
const char *nnc_safetensors_meta(const nnc_safetensors *f, const char *key); /* NULL if absent */
void nnc_safetensors_close(nnc_safetensors *f);

/* Model weights: every parameter and state buffer of a graph under its
 * hierarchical PyTorch name ("conv1.weight", "bn1.running_mean",
 * "bn1.num_batches_tracked" as I64), with metadata {"format": "pt"}, so the
 * file loads with PyTorch's load_state_dict(strict=True). */
nnc_status nnc_graph_save(nnc_graph *g, const char *path);
/* The same with extra metadata (string pairs; "format" defaults to "pt"). */
nnc_status nnc_graph_save_meta(nnc_graph *g, const char *path, int n_meta, const char *const *meta_keys,
                               const char *const *meta_values);
/* Strict load, like load_state_dict(strict=True): every parameter and state of
 * the model must be in the file with the same dtype and shape, and the file
 * must hold nothing else. The error (NNC_ERR_FORMAT) names the first missing,
 * unexpected or mismatched key. Nothing in the model changes unless the whole
 * file validates. */
nnc_status nnc_graph_load(nnc_graph *g, const char *path);

/* -------------------------------------------------------- data (src/data) */
/* @@SECTION data@@ */
/* A labelled dataset held in memory. x: f32 [N, C, H, W] scaled to [0,1]; y: i64 [N]. */
typedef struct nnc_dataset {
    nnc_tensor x, y;
    int64_t n;
    int n_classes;
} nnc_dataset;

#ifndef NNC_FASHION_MNIST_DIR
#define NNC_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"
#endif
/* Random stream of the loader's shuffles (the tag "shuffle" in ASCII). */
#define NNC_STREAM_SHUFFLE 0x73687566666c65ULL

/* Reads an IDX file (gzip or plain, detected by content) into a U8 tensor with
 * the file's dims. Validates the magic (0x0000, type 0x08 = u8, the only one
 * supported, ndim 1..4), every dimension > 0, at most 2^31 elements, and a data
 * length exactly equal to their product (truncated or trailing bytes refused).
 * Sizes are checked before allocation (plain files) or while reading (gzip). */
nnc_status nnc_idx_read(const char *path, nnc_tensor *out);
/* images: IDX u8 [N,H,W]; labels: IDX u8 [N], every label < n_classes (1..256).
 * x becomes f32 [N,1,H,W] = pixel/255 (torchvision's ToTensor), y i64 [N]. */
nnc_status nnc_dataset_load_idx(nnc_dataset *ds, const char *images_path, const char *labels_path, int n_classes);
/* dir (NULL: NNC_FASHION_MNIST_DIR) holds {train,t10k}-{images-idx3,labels-idx1}-ubyte,
 * each plain or .gz (the .gz is preferred when both exist); 10 classes.
 * A missing directory or file is NNC_ERR_IO naming it. */
nnc_status nnc_dataset_load_mnist_dir(const char *dir, nnc_dataset *train, nnc_dataset *test);
/* Scalar mean and std (unbiased, like torch.Tensor.std()) of all x values, in double. */
void nnc_dataset_stats(const nnc_dataset *ds, double *mean, double *std);
void nnc_dataset_normalize(nnc_dataset *ds, float mean, float std); /* x = (x-mean)/std */
/* Copies samples [start, start+n) into a new dataset dst. */
nnc_status nnc_dataset_take(const nnc_dataset *src, int64_t start, int64_t n, nnc_dataset *dst);
void nnc_dataset_free(nnc_dataset *ds);
/* A copy of src fitted to C x H x W: channels replicated (1 -> C) or
 * averaged (C -> 1); zero padding around the centre when the target is at
 * least as large, bilinear resizing otherwise. Use after normalization, so
 * padding means "the data's mean". */
nnc_status nnc_dataset_adapt(const nnc_dataset *src, int64_t C, int64_t H, int64_t W, nnc_dataset *dst);

/* Batches in a seeded random order. Epoch e is the Fisher-Yates shuffle of the
 * identity, for i = n-1 down to 1 swapping i with j = (r * (i+1)) >> 64 where
 * r = nnc_rand_u64(seed, NNC_STREAM_SHUFFLE, e * 2^32 + i): the order depends
 * only on (seed, e), so resumed runs replay it. shuffle 0 keeps file order.
 * The last partial batch is kept (PyTorch's default). The loader keeps a
 * pointer to ds, which must outlive it. A new loader is at epoch 0. */
typedef struct nnc_loader nnc_loader;
nnc_status nnc_loader_new(const nnc_dataset *ds, int64_t batch, int shuffle, uint64_t seed, nnc_loader **out);
void nnc_loader_start_epoch(nnc_loader *l, uint64_t epoch);
/* Copies the next batch: x_out gets up to batch samples of floats, y_out the
 * labels as ydt (NNC_I32 or NNC_I64). Returns the number of samples copied
 * (<= batch), 0 at the end of the epoch, -1 on a bad argument (message set).
 * Does not allocate. */
int64_t nnc_loader_next(nnc_loader *l, float *x_out, void *y_out, nnc_dtype ydt);
int64_t nnc_loader_batches_per_epoch(const nnc_loader *l);
void nnc_loader_free(nnc_loader *l);

/* Reads a grayscale or RGB image into f32 [C,H,W] in [0,1], C = 1 or 3:
 * binary or ASCII PGM/PPM (P5/P2, P6/P3; maxval <= 65535) and PNG (palettes
 * expanded, 16-bit scaled to 8, alpha dropped). Header fields are validated;
 * dimensions > 65536 and truncated pixel data are refused (NNC_ERR_FORMAT). */
nnc_status nnc_image_read(const char *path, nnc_tensor *out);

/* ---------------------------------------------------- models (src/models) */
/* @@SECTION models@@ */
/* A model: a graph with one image input, integer labels, logits and a
 * softmax cross-entropy loss, built by name from the zoo. */
typedef struct nnc_model_opts {
    int num_classes;     /* 0: the model's default */
    int in_channels;     /* 0: default */
    int height, width;   /* 0: default */
    float dropout;       /* models with dropout layers; < 0: default */
    float width_mult;    /* width multiplier where meaningful; 0: 1 */
    const char *options; /* model-specific "key=value,key=value" (e.g. "shortcut=A", "aux=1",
                            "growth=12,depth=100,compression=0.5"); NULL: defaults. Unknown keys are errors. */
} nnc_model_opts;
/* Reads a model option from opts->options: returns 1 and sets *value when
 * key is present; 0 when absent; -1 (with nnc_error) when malformed. */
int nnc_model_option(const nnc_model_opts *opts, const char *key, double *value);
typedef struct nnc_model {
    nnc_graph *g;
    nnc_node *input;     /* f32 [N, C, H, W] */
    nnc_node *labels;    /* i64 [N] */
    nnc_node *logits;    /* f32 [N, classes] */
    nnc_node *loss;      /* mean cross-entropy */
    char name[64];
    int64_t in_shape[3]; /* C, H, W */
    int num_classes;
    float norm_mean, norm_std; /* input normalization the weights were trained with */
} nnc_model;
nnc_model_opts nnc_model_defaults(void);
/* Builds a zoo model ("mlp", "lenet5"); unknown names list the known ones. */
nnc_status nnc_model_build(const char *name, const nnc_model_opts *opts, nnc_model **out);
void nnc_model_free(nnc_model *m);
/* A zoo model's own default optimizer and learning rate, where its documented
 * recipe differs from the default W1 one: returns 1 and fills them, else 0. */
int nnc_model_recipe(const char *name, nnc_optim_kind *kind, float *lr);
int nnc_zoo_count(void);
const char *nnc_zoo_name(int i);
const char *nnc_zoo_doc(int i);
/* Weights (safetensors, PyTorch names) plus metadata: model name, input
 * shape, classes and normalization. Written atomically. */
nnc_status nnc_model_save(nnc_model *m, const char *path);
/* Strict load; refuses a file of another architecture with the key at fault. */
nnc_status nnc_model_load(nnc_model *m, const char *path);
/* Text model files: Darknet's .cfg dialect plus extensions (the sections, keys,
 * defaults and parameter names are described in src/models/modelfile.c).
 * nnc_model_build(name) reads a file when name ends in ".cfg" or holds a '/'. */
typedef struct nnc_cfg_net {    /* [net]'s training options, as written */
    int batch, subdivisions, max_batches, burn_in;
    float learning_rate, momentum, decay;
    char policy[16];            /* constant, steps, step, poly, exp, sigmoid, random, sgdr */
    int n_steps, steps[8];      /* policy=steps: batch numbers and their scales */
    float scales[8];
    int step;                   /* policy=step */
    float gamma, power;
    int adam;                   /* adam=1: Adam with b1, b2, eps (Darknet's B1, B2, eps) */
    float b1, b2, eps;
    unsigned set;               /* NNC_CFG_NET_* bits: the keys the file has (the rest are Darknet's defaults) */
} nnc_cfg_net;
enum {
    NNC_CFG_NET_BATCH = 1, NNC_CFG_NET_SUBDIVISIONS = 2, NNC_CFG_NET_LR = 4, NNC_CFG_NET_MOMENTUM = 8,
    NNC_CFG_NET_DECAY = 16, NNC_CFG_NET_POLICY = 32, NNC_CFG_NET_MAX_BATCHES = 64, NNC_CFG_NET_BURN_IN = 128,
    NNC_CFG_NET_ADAM = 256
};
typedef struct nnc_cfg_opts {
    int strict;                 /* unknown keys are errors instead of warnings */
    void (*warn)(const char *msg, void *user); /* warnings and notes; NULL: printed to stderr */
    void *user;
    nnc_cfg_net *net;           /* receives [net]'s options; may be NULL */
} nnc_cfg_opts;
/* Builds a model from a .cfg file; opts may override the input size (not the
 * classes: a different num_classes than the file's last layer is an error).
 * Errors: NNC_ERR_IO (unreadable), NNC_ERR_FORMAT "file:line: what was
 * expected", NNC_ERR_UNSUPPORTED (a Darknet section or geometry nnc lacks). */
nnc_status nnc_model_from_cfg(const char *path, const nnc_model_opts *opts, const nnc_cfg_opts *co, nnc_model **out);
/* The same from n bytes of text in memory (need not be NUL-terminated);
 * name (NULL: "<memory>") stands for the file in messages. */
nnc_status nnc_model_from_cfg_mem(const char *text, size_t n, const char *name, const nnc_model_opts *opts,
                                  const nnc_cfg_opts *co, nnc_model **out);
/* Writes a .cfg (to a FILE *) for a zoo model or a .cfg file (canonical
 * form, every key explicit); [net] carries the zoo model's own recipe
 * (nnc_model_recipe). A model with an op that has no section is
 * NNC_ERR_UNSUPPORTED naming the op. */
nnc_status nnc_model_write_cfg(const char *model, const nnc_model_opts *opts, void *file);
/* The same for a built model (its graph is walked); title names it in the
 * file's first line and in errors. */
nnc_status nnc_cfg_write_model(nnc_model *m, const char *title, void *file);

/* ------------------------------------------------- training (src/train) */
/* @@SECTION train@@ */
typedef struct nnc_epoch_stats {
    int epoch;           /* 1-based */
    double train_loss, train_acc, test_loss, test_acc; /* accuracies as fractions */
    double val_loss, val_acc; /* NAN without a validation split */
    double time_s;       /* training steps only */
    double img_per_s;
} nnc_epoch_stats;
typedef struct nnc_train_opts {
    int epochs;
    int64_t batch, eval_batch;
    nnc_optim optim;
    uint64_t seed;           /* initialization, shuffling, dropout */
    int shuffle;
    const char *checkpoint_dir; /* model.safetensors + train_state.safetensors, see save_every */
    const char *resume_dir;     /* continue from a checkpoint directory, exactly (see nnc_checkpoint_save_pos) */
    /* Checkpoints (with checkpoint_dir): after every save_every epochs (default 1;
     * 0: none by epoch) and every save_every_steps training steps (0: none), and
     * always after the last epoch. A save is atomic; a kill at any moment leaves
     * the previous checkpoint loadable. */
    int save_every;
    int64_t save_every_steps;
    /* Reliability (docs/RELIABILITY.md). deterministic: exact OpenMP thread
     * count (no dynamic teams) and oneDNN kernels capped at AVX2, so runs on
     * machines with and without AVX-512 choose the same kernels; must be set
     * before the process's first computation (NNC_ERR_STATE otherwise).
     * detect_anomaly: after every op of every step, forward outputs and
     * gradients are checked for NaN/Inf (nnc_graph_set_detect_anomaly).
     * max_memory: refuse to start (NNC_ERR_OOM) when parameters, gradients,
     * optimizer state, activations and workspace need more bytes than this
     * (0: the machine's physical memory). */
    int deterministic;
    int detect_anomaly;
    uint64_t max_memory;
    /* Per-epoch learning-rate schedule (nnc_lr_at) of optim.lr. Default:
     * multistep, milestones {8, 12} (1-based epochs), gamma 0.1: runs of up
     * to 7 epochs are exactly W1's constant-rate recipe. */
    nnc_schedule schedule;
    /* Validation: a seeded random fraction val_split in (0,1) of the training
     * set (drawn once from seed) is held out and evaluated after each epoch
     * (0: none). early_stop N > 0 (needs val_split): stop after N epochs
     * without a lower validation loss, and at the end of training restore
     * the weights and state of the epoch with the lowest validation loss
     * (checkpoints still hold each epoch's own weights; the early-stopping
     * record itself is not checkpointed, so a resumed run starts it afresh). */
    float val_split;
    int early_stop;
    void (*on_step)(int epoch, int64_t step, int64_t steps, float loss, void *user);
    void (*on_epoch)(const nnc_epoch_stats *s, void *user);
    void *user;
} nnc_train_opts;
/* The default recipe: W1's (5 epochs, batch 64, SGD lr 0.05 momentum 0.9,
 * wd 5e-4, seed 0), with the rate divided by 10 at epochs 8 and 12. */
nnc_train_opts nnc_train_defaults(void);
/* Computes the training set's scalar mean/std, normalizes both sets in place
 * (test may be NULL) and records them in the model for eval and predict. */
nnc_status nnc_model_normalize_data(nnc_model *m, nnc_dataset *train, nnc_dataset *test);
/* Trains with the options; evaluates on test (may be NULL) after each epoch.
 * The last partial batch of an epoch is kept. */
nnc_status nnc_train(nnc_model *m, const nnc_dataset *train, const nnc_dataset *test, const nnc_train_opts *o);
/* The validation split nnc_train uses: a seeded random subset of
 * round(frac * n) samples (at least 1, at most n-1) into val, the rest (in
 * their original order) into train_out. Release both with nnc_dataset_free. */
nnc_status nnc_dataset_split(const nnc_dataset *ds, float frac, uint64_t seed, nnc_dataset *train_out, nnc_dataset *val);
/* Mean loss and accuracy over a dataset in eval mode; predictions (optional,
 * ds->n entries) receive each sample's arg-max class. */
nnc_status nnc_evaluate(nnc_model *m, const nnc_dataset *ds, int64_t batch, double *loss, double *acc, int64_t *predictions);
/* Checkpoint directory: weights + optimizer buffers, epoch, step, counters. */
nnc_status nnc_checkpoint_save(nnc_model *m, const char *dir, int epoch);
nnc_status nnc_checkpoint_load(nnc_model *m, const char *dir, int *epoch);
/* Where a training run stands, so a resumed run continues as if never
 * stopped. Randomness is counter-based, so its whole state is (graph seed,
 * step counter) for dropout and (data_seed, epoch) for shuffling. */
typedef struct nnc_train_pos {
    int epoch;           /* completed epochs */
    int64_t batch;       /* batches done in the current epoch (0 at an epoch boundary) */
    int64_t batch_size, train_samples; /* a mid-epoch resume must see the same */
    uint64_t data_seed;  /* shuffling and the validation split */
    double loss_sum;     /* the current epoch's running sums, for its report */
    int64_t correct, seen;
} nnc_train_pos;
/* DIR/model.safetensors (weights, loads in PyTorch) and
 * DIR/train_state.safetensors (the flat parameter block, optimizer buffers,
 * state buffers, and pos as metadata), each written atomically, the training
 * state last. Resuming reads parameters from the training state, so a kill
 * between the two renames still resumes exactly. Stale temporary files of
 * killed writers are removed. */
nnc_status nnc_checkpoint_save_pos(nnc_model *m, const char *dir, const nnc_train_pos *pos);
nnc_status nnc_checkpoint_load_pos(nnc_model *m, const char *dir, nnc_train_pos *pos);
/* Checks every op's forward output and every gradient its backward writes for
 * NaN/Inf, stopping at the first with NNC_ERR_NUMERIC naming the node, its op,
 * the direction and the step (and graph inputs before the forward). Off by
 * default; when off it costs one branch per node. */
void nnc_graph_set_detect_anomaly(nnc_graph *g, int on);
/* Bytes a training run of this model would allocate (parameter block, state,
 * the largest planned arena and workspace of the training and evaluation
 * plans, early-stopping copies); no allocation. */
nnc_status nnc_train_memory(nnc_model *m, const nnc_dataset *train, const nnc_dataset *test, const nnc_train_opts *o,
                            uint64_t *bytes);
/* The machine's physical memory in bytes (sysconf), 0 if unknown. */
uint64_t nnc_physical_memory(void);

#ifdef __cplusplus
}
#endif
#endif
