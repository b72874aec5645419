/* gemm.h -- row-major single-precision GEMM: C = alpha op(A) op(B) + beta C,
 * op(X) = X or X^T ('N'/'T'). M x N result, K inner; lda/ldb/ldc are row
 * strides. Backed by oneDNN's dnnl_sgemm (fast, OpenMP-threaded). */
#ifndef NNC_KERNELS_GEMM_H
#define NNC_KERNELS_GEMM_H
#include <stdint.h>
void nnc_sgemm(char ta, char tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
               const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
/* The readable reference (tests compare the fast path against it). */
void nnc_sgemm_ref(char ta, char tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                   const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
#endif
