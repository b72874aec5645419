/* determinism.h -- what the compute engine can do for bit-reproducible runs. */
#ifndef NNC_KERNELS_DETERMINISM_H
#define NNC_KERNELS_DETERMINISM_H
#include "nnc.h"
/* Fixes the OpenMP team size (no dynamic adjustment) and caps oneDNN's
 * instruction set at AVX2, so machines with and without AVX-512 choose the
 * same GEMM kernels. oneDNN accepts the cap only before its first use:
 * NNC_ERR_STATE when it is too late and a wider ISA is already in use. */
nnc_status nnc_kernels_deterministic(void);
#endif
