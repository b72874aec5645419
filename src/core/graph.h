/* graph.h -- the engine's internal data model (not part of the public API).
 *
 * A graph is a list of nodes in creation order; builders only reference
 * existing nodes, so creation order is a topological order. Compiling
 * selects the nodes that outputs and losses depend on, infers shapes, marks
 * what needs a gradient, decides per backward contribution whether it
 * overwrites or accumulates, and plans one arena by liveness (plan.c). */
#ifndef NNC_CORE_GRAPH_H
#define NNC_CORE_GRAPH_H
#include "nnc.h"
#include <stdio.h>
#include <stdlib.h>

#define NNC_MAX_ATTRS 96
#define NNC_MAX_PLANS 8

enum {
    NNC_NODE_INPUT = 1u << 0,
    NNC_NODE_PARAM = 1u << 1,
    NNC_NODE_STATE = 1u << 2,
    NNC_NODE_OUTPUT = 1u << 3,
    NNC_NODE_LOSS = 1u << 4,
    NNC_NODE_NEEDS_GRAD = 1u << 5, /* set at compile: a gradient flows here */
    NNC_NODE_FROZEN = 1u << 6,     /* parameter excluded from training */
    NNC_NODE_WANTS_GRAD = 1u << 7, /* input whose gradient the user asked for */
    NNC_NODE_ACTIVE = 1u << 8,     /* set at compile: outputs/losses depend on it */
    /* Set at compile (per plan) by the ReLU fusion (compile.c): */
    NNC_NODE_ELIDED = 1u << 9,     /* a ReLU done by a neighbour: no kernel runs, its tensor and gradient
                                      share the memory of its input's */
    NNC_NODE_RELU_IN = 1u << 10,   /* this op applies the elided ReLU between it and its input 0 (the
                                      ReLU commutes with the op: max pooling) */
    NNC_NODE_RELU_OUT = 1u << 11,  /* this op applies the elided ReLU that follows it to its output
                                      (batch norm); its backward applies the ReLU's derivative */
    NNC_NODE_RECOMPUTE_IN = 1u << 12, /* this convolution's backward recomputes its input 0 (a batch
                                      norm's output, + ReLU) instead of keeping it (compile.c) */
    NNC_NODE_REMAT = 1u << 13,     /* a channel concatenation rebuilt for its backward readers from
                                      its (kept) inputs instead of kept from forward (compile.c) */
    NNC_NODE_NORM_IN = 1u << 14,   /* with RECOMPUTE_IN: this convolution also computes its input in
                                      forward (with the ReLU's mask), straight into oneDNN's layout */
    NNC_NODE_STATS_ONLY = 1u << 15, /* a batch norm whose training forward writes statistics but no output:
                                      its NORM_IN consumer computes it (compile.c) */
    NNC_NODE_GRAD_BLOCKED = 1u << 16, /* the gradient (not the output) is blocked, channels padded to 16:
                                      a folded batch norm's (and its elided ReLU's), which its NORM_IN
                                      convolution's backward-data writes in oneDNN's layout (compile.c) */
};
#define NNC_NODE_PLAN_FLAGS                                                                                               \
    (NNC_NODE_ACTIVE | NNC_NODE_NEEDS_GRAD | NNC_NODE_ELIDED | NNC_NODE_RELU_IN | NNC_NODE_RELU_OUT | NNC_NODE_RECOMPUTE_IN | \
     NNC_NODE_REMAT | NNC_NODE_NORM_IN | NNC_NODE_STATS_ONLY | NNC_NODE_GRAD_BLOCKED)

/* What an op's backward reads besides the output gradient: bit i = input i,
 * NNC_READS_OUT = its own output. The planner frees everything else after
 * its last forward use. */
#define NNC_READS_IN(i) (1u << (i))
#define NNC_READS_ALL_IN 0x7fffffffu
#define NNC_READS_OUT (1u << 31)

/* Passed to every kernel. */
typedef struct nnc_exec {
    int training;
    uint64_t seed;      /* graph seed */
    uint64_t step;      /* training step counter (random streams) */
    void *ws;           /* the shared workspace */
    size_t ws_bytes;
    int *fault;         /* a kernel that meets bad data (a label out of range)
                           sets *fault = status after nnc_error(); the run stops */
} nnc_exec;

/* Kernel-private state an op keeps across steps (oneDNN primitives of its
 * plans); the op creates it, the graph calls release when freeing the node. */
typedef struct nnc_kcache { void (*release)(struct nnc_kcache *k); } nnc_kcache;

struct nnc_node {
    int id;              /* creation index */
    int op;              /* nnc_op_id; -1 for leaves */
    int n_in;
    nnc_node **in;
    uint8_t *accum;      /* per input: backward adds (1) or overwrites (0) in[i]->grad */
    nnc_tensor out, grad;
    void *saved;         /* op-private buffer kept from forward to backward */
    uint32_t flags;
    _Alignas(16) unsigned char attrs[NNC_MAX_ATTRS];
    char *name;
    nnc_init init;       /* parameters */
    double state_value;  /* state: initial value */
    float loss_weight;
    int64_t block_off;   /* parameters: element offset in the flat block; state: byte offset */
    int order;           /* position in the current plan's order, -1 if inactive */
    const float *seed;   /* gradcheck: gradient seeded into this output */
    int n_consumers;     /* within the current plan (set at compile) */
    nnc_kcache *kcache;  /* op-private cache, NULL until the op makes one */
    int remat_done;      /* NNC_NODE_REMAT: rebuilt in this backward pass (run.c) */
    const struct nnc_node *stats_src; /* batch norm: an earlier one whose input's first stats_count channels */
    int64_t stats_count;              /* are this one's (the same window of a buffer): its batch statistics are reused */
};

/* One compiled plan: per node shapes and arena offsets for a batch size and mode. */
typedef struct nnc_plan_node {
    int64_t shape[NNC_MAX_DIMS];
    int ndim;
    size_t out_off, grad_off, saved_off, remat_off; /* SIZE_MAX = none */
    /* In-place concatenation (compile.c): the node whose buffer holds this
     * tensor (itself for the buffer's owner; -1: its own buffer), where in
     * that buffer's batch item it starts (elements), and its bstride. */
    int view_of;
    int64_t view_off, bstride;
    int stats_from;        /* batch norm: node id of stats_src (-1: none), and stats_count */
    int64_t stats_count;
    uint32_t flags;
    nnc_layout layout;                   /* of the output and its gradient */
} nnc_plan_node;

typedef struct nnc_plan {
    int64_t batch;
    int training;
    int seed_outputs;
    int plain_only;        /* blocked layouts were off when planned (part of the key) */
    int no_fuse;           /* ReLU fusion was off when planned (part of the key) */
    int no_recompute;      /* recomputation was off when planned (part of the key) */
    int no_inplace;        /* in-place concatenation was off when planned (part of the key) */
    int no_fold;           /* batch norms folded into convolutions were off when planned (part of the key) */
    int no_blocked_grad;   /* folded batch norms' blocked gradients were off when planned (part of the key) */
    int n_order;
    nnc_node **order;      /* active nodes, topological */
    nnc_plan_node *pn;     /* indexed by node id */
    int n_nodes;           /* graph size when planned */
    uint8_t *accum;        /* flattened per-node accum flags, same layout as nodes' */
    size_t arena_bytes, unplanned_bytes, ws_bytes;
    int threads;           /* 1: small plan, run on one thread (plan.c); 0: the current setting */
} nnc_plan;

struct nnc_graph {
    nnc_node **nodes;
    int n_nodes, cap;
    nnc_status err;
    char errmsg[512];
    char scope[512];
    int scope_len[32];
    int scope_depth;
    uint64_t seed;

    /* leaves by kind, in creation order */
    nnc_node **params, **states, **inputs, **outputs, **losses;
    int n_params, n_states, n_inputs, n_outputs, n_losses;

    /* flat block: params | grads | optimizer slots (each n_param_elems floats) */
    float *block;
    int64_t n_param_elems;
    int n_opt_slots;
    unsigned char *state_block;
    size_t state_bytes;
    int params_ready;

    nnc_optim optim;
    int has_optim;
    int64_t opt_steps;   /* optimizer steps taken (Adam bias correction) */
    uint64_t step;       /* training steps (random streams) */

    nnc_plan *plans[NNC_MAX_PLANS];
    int n_plans;
    nnc_plan *cur;
    void *arena;
    size_t arena_cap;
    void *ws;
    size_t ws_cap;
    float loss_value;
    int seed_outputs;    /* gradcheck: outputs get seeded gradients (part of the plan key) */
    int plain_only;      /* nnc_graph_set_plain_intermediates: no blocked or fused intermediate tensors */
    int detect_anomaly;  /* run.c: NaN/Inf check after every op (nnc_graph_set_detect_anomaly) */
    nnc_node_time *timing; /* run.c: per-node kernel seconds (nnc_graph_set_timing); NULL: off */
    int timing_n;
};

/* An input's declared per-sample shape, kept in its attrs. */
typedef struct nnc_input_decl { int ndim; int64_t shape[NNC_MAX_DIMS]; } nnc_input_decl;
#define NNC_INPUT_DECL(n) ((nnc_input_decl *)(void *)(n)->attrs)

/* Sets the graph's sticky error (first one wins) and returns NULL. */
nnc_node *nnc_graph_fail(nnc_graph *g, nnc_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Creates an op node; attrs (size bytes) are copied. NULL if g has an error. */
nnc_node *nnc_node_new(nnc_graph *g, int op, int n_in, nnc_node *const *in, const void *attrs, size_t size);
/* Full name "<scope>.<name>" into buf. */
const char *nnc_scoped_name(const nnc_graph *g, const char *name, char *buf, size_t n);
/* Elements per sample of x's build-time shape (0 if unknown). */
int64_t nnc_static_features(const nnc_node *x);
nnc_status nnc_plan_build(nnc_graph *g, nnc_plan *p);
void nnc_plan_free(nnc_plan *p);
void nnc_plan_bind(nnc_graph *g, nnc_plan *p);
nnc_status nnc_optim_update(nnc_graph *g);
/* Enter/leave the current plan's thread count (run.c, plan.c): returns what to restore. */
int nnc_plan_threads_enter(const nnc_plan *p);
void nnc_plan_threads_leave(int saved);

static inline int nnc_needs_grad(const nnc_node *n) { return (n->flags & NNC_NODE_NEEDS_GRAD) != 0; }
/* The node whose memory n's tensor uses: n itself, or the input of an elided ReLU. */
static inline const nnc_node *nnc_storage_of(const nnc_node *n) { return (n->flags & NNC_NODE_ELIDED) ? n->in[0] : n; }
/* The layout of n's gradient in the current plan: its tensor's, or blocked (NNC_NODE_GRAD_BLOCKED). */
static inline nnc_layout nnc_grad_layout(const nnc_node *n) {
    return (n->flags & NNC_NODE_GRAD_BLOCKED) ? NNC_LAYOUT_BLOCKED16 : n->out.layout;
}
#endif
