/* test_kernels.c -- the fast GEMM (oneDNN sgemm) against the readable
 * reference, for every transpose combination, odd sizes, alpha and beta;
 * the in-register 16x16 tile transposition (AVX-512 builds); batch norm's
 * tile kernels against plain loops (rows ending inside a 16-position group,
 * rows past one 4096-position chunk, partial tiles, with and without the
 * ReLU and its mask, dx written and added). */
#include "testlib.h"
#include "kernels/bn_tile.h"
#include "kernels/gemm.h"
#include "kernels/tile16.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void check_bn_tile(int64_t L, int nc, int relu, int with_mask) {
    char name[160];
    snprintf(name, sizeof name, "bn_tile: L=%lld, %d channels, %s, %s: normalize, sums and dx against plain loops", (long long)L, nc,
             relu ? "ReLU" : "no ReLU", with_mask ? "mask" : "no mask");
    T_CASE(name) {
        const int64_t rb = (L + 7) / 8, NB = (L + NNC_BN_BLOCK - 1) / NNC_BN_BLOCK;
        float *x = malloc((size_t)(16 * L) * 4), *blk = malloc((size_t)(16 * L) * 4), *dy = malloc((size_t)(16 * L) * 4);
        float *dx = malloc((size_t)(16 * L) * 4), *want = malloc((size_t)(16 * L) * 4);
        uint8_t *mask = calloc((size_t)(16 * rb), 1);
        double *s1 = calloc((size_t)(NB * 16), sizeof(double)), *s2 = calloc((size_t)(NB * 16), sizeof(double));
        float fm[16], sc[16], sh[16], fa[16], fb[16], fk[16];
        for (int k = 0; k < 16; k++) {
            fm[k] = 0.1f * (float)k - 0.5f; sc[k] = 0.5f + 0.1f * (float)k; sh[k] = 0.2f - 0.05f * (float)k;
            fa[k] = 1.0f + 0.01f * (float)k; fb[k] = -0.02f * (float)k; fk[k] = 0.03f - 0.005f * (float)k;
        }
        for (int64_t i = 0; i < 16 * L; i++) {
            x[i] = nnc_rand_normal(7, 1, (uint64_t)i);
            dy[i] = nnc_rand_normal(7, 2, (uint64_t)i);
            dx[i] = nnc_rand_normal(7, 3, (uint64_t)i);
        }
        nnc_bn_tile t = {x, L, nc, with_mask ? mask : NULL, rb};
        /* normalize: [L][16] with zeros past nc, and the mask bits */
        nnc_bn_tile_normalize(&t, fm, sc, sh, relu, blk);
        int bad = 0, bad_bits = 0;
        for (int64_t l = 0; l < L; l++)
            for (int k = 0; k < 16; k++) {
                float v = 0.0f;
                if (k < nc) {
                    v = (x[k * L + l] - fm[k]) * sc[k] + sh[k];
                    if (relu) v = v > 0 ? v : 0.0f;
                    if (relu && with_mask) bad_bits += ((mask[k * rb + l / 8] >> (l % 8)) & 1) != (v > 0);
                }
                bad += fabsf(blk[l * 16 + k] - v) > 1e-6f * (1.0f + fabsf(v));
            }
        T_CHECKF(bad == 0 && bad_bits == 0, "%d values and %d mask bits differ", bad, bad_bits);
        /* sums per 4096-position chunk, of dy (through the mask) and dy (x - mean); dy from the blocked tile */
        for (int64_t l = 0; l < L; l++)
            for (int k = 0; k < 16; k++) blk[l * 16 + k] = k < nc ? dy[k * L + l] : 1e30f; /* padding must not be read */
        nnc_bn_tile_sums(&t, blk, fm, s1, s2, 16);
        bad = 0;
        for (int64_t b = 0; b < NB; b++)
            for (int k = 0; k < nc; k++) {
                double r1 = 0, r2 = 0;
                for (int64_t l = b * NNC_BN_BLOCK; l < L && l < (b + 1) * NNC_BN_BLOCK; l++) {
                    int on = !(relu && with_mask) || ((mask[k * rb + l / 8] >> (l % 8)) & 1);
                    double d = on ? dy[k * L + l] : 0.0;
                    r1 += d;
                    r2 += d * ((double)x[k * L + l] - fm[k]);
                }
                bad += fabs(s1[b * 16 + k] - r1) > 1e-4 * (1 + fabs(r1)) || fabs(s2[b * 16 + k] - r2) > 1e-4 * (1 + fabs(r2));
            }
        T_CHECKF(bad == 0, "%d channel sums differ", bad);
        /* dx, added to what is there and then overwritten */
        for (int acc = 1; acc >= 0; acc--) {
            for (int64_t i = 0; i < 16 * L; i++) want[i] = dx[i];
            for (int k = 0; k < nc; k++)
                for (int64_t l = 0; l < L; l++) {
                    int on = !(relu && with_mask) || ((mask[k * rb + l / 8] >> (l % 8)) & 1);
                    float v = fa[k] * (on ? dy[k * L + l] : 0.0f) + fb[k] + fk[k] * (x[k * L + l] - fm[k]);
                    want[k * L + l] = acc ? want[k * L + l] + v : v;
                }
            nnc_bn_tile_dx(&t, blk, dx, acc, fa, fb, fk, fm);
            t_close(acc ? "dx added" : "dx written", dx, want, 16 * L, 1e-5, 1e-6); /* rows past nc untouched */
        }
        free(x); free(blk); free(dy); free(dx); free(want); free(mask); free(s1); free(s2);
    }
}

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
    check_bn_tile(64, 16, 1, 1);
    check_bn_tile(37, 5, 1, 1);
    check_bn_tile(1024, 12, 0, 0);
    check_bn_tile(4100, 16, 1, 1);
    check_bn_tile(50, 16, 1, 0);
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
