/* test_kernels.c -- the fast GEMM (oneDNN sgemm) against the readable
 * reference, for every transpose combination, odd sizes, alpha and beta;
 * the in-register 16x16 tile transposition (AVX-512 builds). */
#include "testlib.h"
#include "kernels/gemm.h"
#include "kernels/tile16.h"
#include <stdlib.h>

static void check_tile16(void) {
#if defined(__AVX512F__)
    T_CASE("tile16: a 16x16 transposition in registers moves element (k, j) to (j, k)") {
        float in[256], out[256];
        for (int i = 0; i < 256; i++) in[i] = (float)i;
        __m512 r[16];
        for (int k = 0; k < 16; k++) r[k] = _mm512_loadu_ps(in + 16 * k);
        nnc_tile16_transpose(r);
        for (int k = 0; k < 16; k++) _mm512_storeu_ps(out + 16 * k, r[k]);
        int bad = 0;
        for (int k = 0; k < 16; k++)
            for (int j = 0; j < 16; j++) bad += out[16 * j + k] != in[16 * k + j];
        T_CHECKF(bad == 0, "%d elements misplaced", bad);
    }
#endif
}

int main(void) {
    check_tile16();
    const int64_t shapes[][3] = {{1, 1, 1}, {7, 5, 3}, {17, 33, 65}, {64, 10, 84}, {128, 31, 1}};
    const char tr[] = {'N', 'T'};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 2; b++) {
                int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
                char name[96];
                snprintf(name, sizeof name, "sgemm %c%c M=%lld N=%lld K=%lld vs reference", tr[a], tr[b], (long long)M, (long long)N, (long long)K);
                T_CASE(name) {
                    float *A = malloc((size_t)(M * K) * 4), *B = malloc((size_t)(K * N) * 4);
                    float *C1 = malloc((size_t)(M * N) * 4), *C2 = malloc((size_t)(M * N) * 4);
                    for (int64_t i = 0; i < M * K; i++) A[i] = nnc_rand_normal(1, 1, (uint64_t)i);
                    for (int64_t i = 0; i < K * N; i++) B[i] = nnc_rand_normal(1, 2, (uint64_t)i);
                    for (int64_t i = 0; i < M * N; i++) C1[i] = C2[i] = nnc_rand_normal(1, 3, (uint64_t)i);
                    int64_t lda = tr[a] == 'N' ? K : M, ldb = tr[b] == 'N' ? N : K;
                    nnc_sgemm(tr[a], tr[b], M, N, K, 0.5f, A, lda, B, ldb, 0.75f, C1, N);
                    nnc_sgemm_ref(tr[a], tr[b], M, N, K, 0.5f, A, lda, B, ldb, 0.75f, C2, N);
                    t_close("C", C1, C2, M * N, 1e-5, 1e-5);
                    free(A); free(B); free(C1); free(C2);
                }
            }
    return t_finish();
}
