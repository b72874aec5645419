/* dnnl_prim.h -- the small oneDNN 2.x plumbing shared by the batch-norm,
 * pooling and matmul kernels (dnnl_bn.c, dnnl_pool.c, dnnl_matmul.c): the CPU engine, primitives with
 * a user-managed scratchpad (placed by the caller in its workspace, so a
 * step allocates nothing), binding plain buffers to memory objects, and
 * running a primitive. dnnl_conv.c keeps its own copy of the same ideas. */
#ifndef NNC_KERNELS_DNNL_PRIM_H
#define NNC_KERNELS_DNNL_PRIM_H
#include <dnnl.h>
#include <stddef.h>

/* 1 when NNC_DNNL=0 is set: batch norm and pooling take their plain
 * kernels (to compare the two paths). */
int nnc_dnnl_disabled(void);
/* oneDNN has jit kernels for nChw16c here (AVX2 or wider): blocked layouts
 * are worth choosing (elsewhere their primitives may be reference code). */
int nnc_dnnl_blocked_ok(void);

/* The process's CPU engine, made once; NULL when oneDNN cannot make one. */
dnnl_engine_t nnc_dnnl_engine(void);

/* A primitive, its scratchpad memory (NULL when it needs none) and its
 * implementation name ("jit:avx512_core", "ncsp_bnorm:any", ...). */
typedef struct nnc_dnnl_prim {
    dnnl_primitive_t p;
    dnnl_memory_t scratch;
    size_t scratch_bytes;
    char impl[48];
} nnc_dnnl_prim;

/* Primitive descriptor for the op descriptor d (hint: forward's, for
 * backward passes) with a user-managed scratchpad; NULL on failure. */
dnnl_primitive_desc_t nnc_dnnl_pd(const void *d, const_dnnl_primitive_desc_t hint);
/* Makes p from pd; 0 on failure (free p anyway). */
int nnc_dnnl_prim_make(nnc_dnnl_prim *p, const_dnnl_primitive_desc_t pd);
void nnc_dnnl_prim_free(nnc_dnnl_prim *p);
/* 1 unless oneDNN chose one of its slow reference implementations. */
int nnc_dnnl_prim_fast(const nnc_dnnl_prim *p);

/* A memory object of descriptor md with no buffer (bound at run time). */
dnnl_memory_t nnc_dnnl_mem(const dnnl_memory_desc_t *md);
/* Points m at buf (skipped when unchanged: oneDNN would zero-pad again). */
void nnc_dnnl_bind(dnnl_memory_t m, const void *buf, dnnl_stream_t s);
/* Binds m to buf and appends it as argument dnnl_arg to a[*n]. */
void nnc_dnnl_arg(dnnl_exec_arg_t *a, int *n, int dnnl_arg, dnnl_memory_t m, const void *buf, dnnl_stream_t s);
/* Runs p with n arguments (at most 10) and its scratchpad at ws, then waits. */
dnnl_status_t nnc_dnnl_run(const nnc_dnnl_prim *p, dnnl_stream_t s, int n, const dnnl_exec_arg_t *args, void *ws);
#endif
