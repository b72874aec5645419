/* dnnl_prim.c -- oneDNN plumbing shared by dnnl_bn.c, dnnl_pool.c and dnnl_matmul.c (see
 * dnnl_prim.h). */
#include "kernels/dnnl_prim.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int nnc_dnnl_disabled(void) {
    const char *s = getenv("NNC_DNNL");
    return s && !strcmp(s, "0");
}

int nnc_dnnl_blocked_ok(void) {
    const unsigned isa = (unsigned)dnnl_get_effective_cpu_isa(), avx2 = (unsigned)dnnl_cpu_isa_avx2;
    return !nnc_dnnl_disabled() && (isa & avx2) == avx2;
}

static dnnl_engine_t engine;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;
static void engine_init(void) {
    if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success) engine = NULL;
}
dnnl_engine_t nnc_dnnl_engine(void) {
    pthread_once(&engine_once, engine_init);
    return engine;
}

dnnl_primitive_desc_t nnc_dnnl_pd(const void *d, const_dnnl_primitive_desc_t hint) {
    dnnl_primitive_attr_t a = NULL;
    dnnl_primitive_desc_t pd = NULL;
    if (!nnc_dnnl_engine() || dnnl_primitive_attr_create(&a) != dnnl_success) return NULL;
    if (dnnl_primitive_attr_set_scratchpad_mode(a, dnnl_scratchpad_mode_user) != dnnl_success ||
        dnnl_primitive_desc_create(&pd, d, a, engine, hint) != dnnl_success)
        pd = NULL;
    dnnl_primitive_attr_destroy(a);
    return pd;
}

int nnc_dnnl_prim_make(nnc_dnnl_prim *p, const_dnnl_primitive_desc_t pd) {
    const char *impl = "";
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success || !impl) impl = "";
    snprintf(p->impl, sizeof p->impl, "%s", impl);
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    p->scratch_bytes = smd ? dnnl_memory_desc_get_size(smd) : 0;
    if (dnnl_primitive_create(&p->p, pd) != dnnl_success) { p->p = NULL; return 0; }
    if (p->scratch_bytes && dnnl_memory_create(&p->scratch, smd, engine, DNNL_MEMORY_NONE) != dnnl_success) {
        p->scratch = NULL;
        return 0;
    }
    return 1;
}

void nnc_dnnl_prim_free(nnc_dnnl_prim *p) {
    if (p->p) dnnl_primitive_destroy(p->p);
    if (p->scratch) dnnl_memory_destroy(p->scratch);
    p->p = NULL;
    p->scratch = NULL;
}

int nnc_dnnl_prim_fast(const nnc_dnnl_prim *p) { return p->p && strncmp(p->impl, "ref", 3) != 0; }

dnnl_memory_t nnc_dnnl_mem(const dnnl_memory_desc_t *md) {
    dnnl_memory_t m = NULL;
    if (!nnc_dnnl_engine() || dnnl_memory_create(&m, md, engine, DNNL_MEMORY_NONE) != dnnl_success) return NULL;
    return m;
}

void nnc_dnnl_bind(dnnl_memory_t m, const void *buf, dnnl_stream_t s) {
    void *h = NULL;
    dnnl_memory_get_data_handle(m, &h);
    if (h != buf) dnnl_memory_set_data_handle_v2(m, (void *)buf, s);
}

void nnc_dnnl_arg(dnnl_exec_arg_t *a, int *n, int dnnl_arg, dnnl_memory_t m, const void *buf, dnnl_stream_t s) {
    nnc_dnnl_bind(m, buf, s);
    a[(*n)++] = (dnnl_exec_arg_t){dnnl_arg, m};
}

dnnl_status_t nnc_dnnl_run(const nnc_dnnl_prim *p, dnnl_stream_t s, int n, const dnnl_exec_arg_t *args, void *ws) {
    dnnl_exec_arg_t a[11];
    if (n > 10) return dnnl_invalid_arguments;
    memcpy(a, args, (size_t)n * sizeof *a);
    if (p->scratch) {
        nnc_dnnl_bind(p->scratch, ws, s);
        a[n++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, p->scratch};
    }
    dnnl_status_t st = dnnl_primitive_execute(p->p, s, n, a);
    return st == dnnl_success ? dnnl_stream_wait(s) : st;
}
