/* determinism.c -- the engine's side of deterministic mode: an exact OpenMP
 * thread count and oneDNN's instruction set capped at AVX2 (oneDNN picks its
 * kernels, and so its summation order, by ISA). See docs/RELIABILITY.md. */
#include "kernels/determinism.h"
#include <dnnl.h>
#include <omp.h>

nnc_status nnc_kernels_deterministic(void) {
    omp_set_dynamic(0);
    const dnnl_cpu_isa_t cap = dnnl_cpu_isa_avx2;
    if (dnnl_set_max_cpu_isa(cap) == dnnl_success) return NNC_OK;
    /* too late to set: fine if what oneDNN uses is already within the cap */
    if (((unsigned)dnnl_get_effective_cpu_isa() & ~(unsigned)cap) == 0) return NNC_OK;
    return nnc_error(NNC_ERR_STATE, "deterministic mode must be chosen before the first computation of the process "
                                    "(oneDNN already uses a wider instruction set than AVX2)");
}
